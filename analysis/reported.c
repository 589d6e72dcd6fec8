/* reported.c - see reported.h. */
#include "reported.h"
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "kv.h"

static const char *const COLS[REP_NCOLS] = {"table",  "model",   "optimizer", "weight_decay",
                                            "method", "variant", "metric"};

static int col_index(const char *name) {
    for (int i = 0; i < REP_NCOLS; i++)
        if (!strcmp(COLS[i], name)) return i;
    return -1;
}

int reported_load(Reported *r, const char *path, Err *e) {
    memset(r, 0, sizeof *r);
    char *buf;
    size_t len;
    if (read_file(path, &buf, &len, e)) return -1;
    int cap = 0, lineno = 0;
    char *line = buf;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = 0;
        if (lineno == 1) {
            if (strcmp(line, "table,model,optimizer,weight_decay,method,variant,metric,value")) {
                free(buf);
                reported_free(r);
                return err_set(
                    e,
                    "%s:1: unexpected header (expected table,model,optimizer,weight_decay,method,variant,metric,value)",
                    path);
            }
        } else if (ll) {
            if (r->n == cap) {
                cap = cap ? cap * 2 : 256;
                RepRow *nr = xcalloc((size_t)cap, sizeof *nr);
                if (r->n) memcpy(nr, r->rows, (size_t)r->n * sizeof *nr);
                free(r->rows);
                r->rows = nr;
            }
            RepRow *row = &r->rows[r->n];
            char *p = line;
            for (int k = 0; k <= REP_NCOLS; k++) {
                char *comma = strchr(p, ',');
                if ((k < REP_NCOLS) != (comma != NULL)) {
                    free(buf);
                    reported_free(r);
                    return err_set(e, "%s:%d: expected 8 comma-separated fields", path, lineno);
                }
                if (comma) *comma = 0;
                if (k < REP_NCOLS) kv_strfmt(row->f[k], sizeof row->f[k], "%s", p);
                else if (kv_parse_number(p, &row->value)) {
                    free(buf);
                    reported_free(r);
                    return err_set(e, "%s:%d: value \"%s\" is not a number", path, lineno, p);
                }
                p = comma ? comma + 1 : p;
            }
            r->n++;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return 0;
}

void reported_free(Reported *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* "a=1;*" matches "a=1" and "a=1;anything": a variant named by its first keys only. */
static int field_match(int col, const char *have, const char *want) {
    if (col == 3) return kv_value_equal(have, want);
    size_t n = strlen(want);
    if (n >= 2 && !strcmp(want + n - 2, ";*"))
        return !strncmp(have, want, n - 2) && (have[n - 2] == 0 || have[n - 2] == ';');
    return !strcmp(have, want);
}

int reported_lookup(const Reported *r, const RepSel *sel, double *out, Err *e) {
    int idx[SPEC_MAX_KEYS];
    for (int k = 0; k < sel->n; k++)
        if ((idx[k] = col_index(sel->key[k])) < 0)
            return err_set(e, "reported: \"%s\" is not a column of paper_tables.csv", sel->key[k]);
    int found = -1;
    for (int i = 0; i < r->n; i++) {
        int ok = 1;
        for (int k = 0; k < sel->n && ok; k++) { ok = field_match(idx[k], r->rows[i].f[idx[k]], sel->val[k]); }
        if (!ok) continue;
        if (found >= 0) {
            StrBuf sel_text = {0};
            for (int k = 0; k < sel->n; k++) sb_printf(&sel_text, "%s%s=%s", k ? ", " : "", sel->key[k], sel->val[k]);
            err_set(e, "reported: selection {%s} matches several rows of paper_tables.csv (add variant/metric)",
                    sb_str(&sel_text));
            sb_free(&sel_text);
            return -1;
        }
        found = i;
    }
    if (found < 0) return 1;
    *out = r->rows[found].value;
    return 0;
}
