/* report_index.c - the results index: a CSV row per run (report.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kv.h"
#include "report_index.h"

static const char *const FIXED[] = {
    "model.hidden_size", "model.num_hidden_layers",
    "train.optimizer",   "train.steps",
    "decay.method",      "decay.weight_decay",
    "decay.s1",          "decay.s2",
    "decay.assign",      "decay.metric",
    "decay.pl_fit",      "decay.update_every",
    "train.seed",        NULL,
};

static int is_fixed(const char *k) {
    for (int i = 0; FIXED[i]; i++)
        if (!strcmp(FIXED[i], k)) return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void field(StrBuf *b, const char *s, int first) {
    if (!first) sb_printf(b, ",");
    sb_csv_field(b, s);
}

static void num(StrBuf *b, double v) {
    if (isnan(v)) sb_printf(b, ",");
    else sb_printf(b, ",%.10g", v);
}

void index_csv(const RunSet *rs, const char *root, StrBuf *b) {
    /* config keys (other than the fixed ones and pure bookkeeping) whose values differ between runs */
    int cap = 64, nv = 0;
    const char **vary = xcalloc((size_t)cap, sizeof *vary);
    for (int i = 0; i < rs->n; i++)
        for (int k = 0; k < rs->runs[i].cfg.n; k++) {
            const char *key = rs->runs[i].cfg.items[k].key, *val = rs->runs[i].cfg.items[k].val;
            if (is_fixed(key) || !strcmp(key, "version") || !strcmp(key, "source")) continue;
            int seen = 0, differs = 0;
            for (int j = 0; j < nv && !seen; j++) seen = !strcmp(vary[j], key);
            if (seen) continue;
            for (int j = 0; j < rs->n && !differs; j++) {
                if (!rs->runs[j].cfg.n) continue;
                const char *o = kv_get(&rs->runs[j].cfg, key);
                differs = !o || !kv_value_equal(o, val);
            }
            if (!differs) continue;
            if (nv == cap) {
                const char **nn = xcalloc((size_t)cap * 2, sizeof *nn);
                memcpy(nn, vary, (size_t)nv * sizeof *nn);
                free(vary);
                vary = nn;
                cap *= 2;
            }
            vary[nv++] = key;
        }
    qsort(vary, (size_t)nv, sizeof *vary, cmp_str);
    size_t rl = strlen(root);
    sb_printf(b, "dir,sweep,name,status");
    for (int i = 0; FIXED[i]; i++) sb_printf(b, ",%s", FIXED[i]);
    for (int i = 0; i < nv; i++) sb_printf(b, ",%s", vary[i]);
    /* the metric columns: those the metric table (runs.h METRICS) gives an index column, in its order */
    for (int k = 0; METRICS[k].name; k++)
        if (METRICS[k].index_col) sb_printf(b, ",%s", METRICS[k].index_col);
    sb_printf(b, ",build_commit,cpu_isa,blas_core,problem\n");
    for (int i = 0; i < rs->n; i++) {
        const Run *r = &rs->runs[i];
        const char *d = r->dir;
        if (!strncmp(d, root, rl) && d[rl] == '/') d += rl + 1; /* relative to the scanned root */
        field(b, d, 1);
        field(b, r->sweep, 0);
        field(b, r->name, 0);
        field(b, r->status, 0);
        for (int k = 0; FIXED[k]; k++) field(b, kv_get(&r->cfg, FIXED[k]) ? kv_get(&r->cfg, FIXED[k]) : "", 0);
        for (int k = 0; k < nv; k++) field(b, kv_get(&r->cfg, vary[k]) ? kv_get(&r->cfg, vary[k]) : "", 0);
        for (int k = 0; METRICS[k].name; k++) {
            double v;
            Err e = {{0}};
            if (!METRICS[k].index_col) continue;
            num(b, run_metric(r, METRICS[k].name, &v, &e) ? NAN : v);
        }
        field(b, r->commit, 0); /* provenance: empty when unrecorded */
        field(b, r->isa, 0);
        field(b, r->blas, 0);
        field(b, r->problem, 0);
        sb_printf(b, "\n");
    }
    free(vary);
}
