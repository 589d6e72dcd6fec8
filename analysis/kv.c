/* kv.c - flat key/value lists, number parsing, and the JSON-lines reader of kv.h (parsing itself is
 * engine/base/json.h's). The run-directory contract only writes flat objects, so anything nested is
 * rejected rather than half-understood. */
#include "kv.h"
#include "json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void kv_init(KVList *l) { memset(l, 0, sizeof *l); }

void kv_free(KVList *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].val);
    }
    free(l->items);
    kv_init(l);
}

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xcalloc(n, 1);
    memcpy(d, s, n);
    return d;
}

void kv_set(KVList *l, const char *key, const char *val) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].key, key)) {
            free(l->items[i].val);
            l->items[i].val = dupstr(val);
            return;
        }
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        KV *it = xcalloc((size_t)cap, sizeof *it);
        if (l->n) memcpy(it, l->items, (size_t)l->n * sizeof *it);
        free(l->items);
        l->items = it;
        l->cap = cap;
    }
    l->items[l->n].key = dupstr(key);
    l->items[l->n].val = dupstr(val);
    l->n++;
}

const char *kv_get(const KVList *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].key, key)) return l->items[i].val;
    return NULL;
}

int kv_num(const KVList *l, const char *key, double *out) {
    const char *v = kv_get(l, key);
    return v ? kv_parse_number(v, out) : -1;
}

void kv_strfmt(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

int kv_parse_number(const char *s, double *out) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    /* the spellings Python's json and C's printf use for non-finite values */
    const char *p = (*s == '-' || *s == '+') ? s + 1 : s;
    double sign = (*s == '-') ? -1.0 : 1.0;
    if (!strcasecmp(p, "nan")) {
        *out = NAN;
        return 0;
    }
    if (!strcasecmp(p, "inf") || !strcasecmp(p, "infinity")) {
        *out = sign * INFINITY;
        return 0;
    }
    if (!isdigit((unsigned char)*p) && *p != '.') return -1; /* strtod would take "0x", "  ", ... */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || end == s) return -1;
    *out = v;
    return 0;
}

int kv_value_equal(const char *a, const char *b) {
    double x, y;
    if (kv_parse_number(a, &x) == 0 && kv_parse_number(b, &y) == 0) {
        if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
        double s = fmax(fabs(x), fabs(y));
        return fabs(x - y) <= 1e-9 * s;
    }
    return strcmp(a, b) == 0;
}

/* ---- flat JSON, on engine/base/json.h's strict parser ---- */

int flatjson_parse(const char *text, KVList *out, const char *where, Err *e) {
    Json *j;
    kv_init(out);
    if (json_parse(text, strlen(text), where, &j, e)) return -1;
    if (j->type != JSON_OBJ) {
        err_set(e, "%s: expected a JSON object, found a %s", where, json_type_name(j->type));
        json_free(j);
        return -1;
    }
    for (int i = 0; i < j->n; i++) {
        const Json *m = &j->kids[i];
        switch (m->type) {
            case JSON_NUM:
            case JSON_STR: kv_set(out, m->key, m->str); break;
            case JSON_BOOL: kv_set(out, m->key, m->boolean ? "true" : "false"); break;
            case JSON_NULL: kv_set(out, m->key, "null"); break;
            default:
                err_set(e, "%s: key \"%s\" holds a nested %s; a flat object was expected", where, m->key,
                        json_type_name(m->type));
                kv_free(out);
                json_free(j);
                return -1;
        }
    }
    json_free(j);
    return 0;
}

int jsonl_read(const char *path, KVList **out, int *n, Err *e) { return jsonl_read_lines(path, out, NULL, n, e); }

int jsonl_read_lines(const char *path, KVList **out, int **lines, int *n, Err *e) {
    char *buf;
    size_t len;
    *out = NULL;
    *n = 0;
    if (lines) *lines = NULL;
    if (read_file(path, &buf, &len, e)) return -1;
    int cap = 0, cnt = 0, lineno = 0, *at = NULL;
    KVList *recs = NULL;
    char *line = buf;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        const char *q = line;
        while (isspace((unsigned char)*q)) q++;
        if (*q) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 64;
                KVList *nr = xcalloc((size_t)cap, sizeof *nr);
                int *na = xcalloc((size_t)cap, sizeof *na);
                if (cnt) memcpy(nr, recs, (size_t)cnt * sizeof *nr), memcpy(na, at, (size_t)cnt * sizeof *na);
                free(recs);
                free(at);
                recs = nr;
                at = na;
            }
            at[cnt] = lineno;
            char where[AD_PATH_MAX + 32];
            snprintf(where, sizeof where, "%s:%d", path, lineno);
            if (flatjson_parse(line, &recs[cnt], where, e)) {
                jsonl_free(recs, cnt);
                free(at);
                free(buf);
                return -1;
            }
            cnt++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    *out = recs;
    *n = cnt;
    if (lines) *lines = at;
    else free(at);
    return 0;
}

void jsonl_free(KVList *recs, int n) {
    for (int i = 0; i < n; i++) kv_free(&recs[i]);
    free(recs);
}
