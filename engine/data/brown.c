/* brown.c - Brown word/TAG text to plain text (brown.h). */
#include "brown.h"

#include <stdlib.h>
#include <string.h>

typedef enum { SP_NORMAL, SP_NO_BEFORE, SP_NO_AFTER } Spacing;

/* The word's text (what to write) and how it attaches to its neighbours; *squote toggles lone single quotes. */
static Spacing classify(const char *w, size_t n, const char **text, size_t *tn, int *squote) {
    *text = w;
    *tn = n;
    if (n == 2 && !memcmp(w, "``", 2)) {
        *text = "\"";
        *tn = 1;
        return SP_NO_AFTER;
    }
    if (n == 2 && !memcmp(w, "''", 2)) {
        *text = "\"";
        *tn = 1;
        return SP_NO_BEFORE;
    }
    if (n == 1 && w[0] == '\'') {
        *squote = !*squote;
        return *squote ? SP_NO_AFTER : SP_NO_BEFORE;
    }
    if (n == 1 && strchr(",.;:?!)]", w[0])) return SP_NO_BEFORE;
    if (n == 1 && strchr("([", w[0])) return SP_NO_AFTER;
    return SP_NORMAL;
}

int brown_to_text(const char *in, size_t len, StrBuf *out, Err *e) {
    size_t i = 0;
    long line = 1;
    int in_para = 0, paras = 0, squote = 0, glue = 1; /* glue: the next word attaches without a space */
    while (i < len) {
        size_t s = i;
        while (i < len && in[i] != '\n') i++;
        size_t end = i;
        if (i < len) i++; /* the newline */
        /* the tokens of this line */
        int any = 0;
        for (size_t p = s; p < end;) {
            while (p < end && (in[p] == ' ' || in[p] == '\t' || in[p] == '\r')) p++;
            if (p >= end) break;
            size_t q = p;
            while (q < end && in[q] != ' ' && in[q] != '\t' && in[q] != '\r') q++;
            const char *slash = NULL;
            for (size_t k = p; k < q; k++)
                if (in[k] == '/') slash = in + k;
            if (!slash || slash == in + p)
                return err_set(e, "line %ld: '%.*s' is not Brown word/TAG text", line, (int)(q - p), in + p);
            if (!any && !in_para) { /* a paragraph starts */
                if (paras++) sb_append(out, "\n\n", 2);
                in_para = 1;
                squote = 0;
                glue = 1;
            }
            any = 1;
            const char *text;
            size_t tn;
            Spacing sp = classify(in + p, (size_t)(slash - (in + p)), &text, &tn, &squote);
            if (!glue && sp != SP_NO_BEFORE) sb_putc(out, ' ');
            sb_append(out, text, tn);
            glue = sp == SP_NO_AFTER;
            p = q;
        }
        if (!any) in_para = 0; /* a blank line ends the paragraph */
        line++;
    }
    return sb_failed(out) ? err_set(e, "out of memory") : 0;
}

int brown_convert_tail(Corpus *c, size_t first, const char *name, Err *e) {
    if (first >= c->n_docs) return 0;
    size_t from = c->off[first], n = c->n_docs - first;
    /* the tail's documents, copied out before the corpus is cut back to `first` documents */
    size_t bytes = c->len - from;
    char *tail = malloc(bytes ? bytes : 1);
    size_t *off = malloc((n + 1) * sizeof *off);
    if (!tail || !off) {
        free(tail);
        free(off);
        return err_set(e, "%s: out of memory", name);
    }
    memcpy(tail, c->buf + from, bytes);
    for (size_t k = 0; k <= n; k++) off[k] = c->off[first + k] - from;
    c->len = from;
    c->n_docs = first;
    StrBuf b = {0};
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        Err le;
        b.len = 0;
        if (brown_to_text(tail + off[k], off[k + 1] - off[k], &b, &le)) rc = err_set(e, "%s: %s", name, le.msg);
        else rc = corpus_add_doc(c, b.p ? b.p : "", b.len, e);
    }
    sb_free(&b);
    free(tail);
    free(off);
    return rc;
}
