/* table.c - build the cells of a table (table.h): selection, consistency checks, statistics. */
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "stats.h"

static int cond_match(const Run *r, const Cond *c) {
    const char *v = run_coord(r, c->key);
    if (!v) return 0;
    for (int i = 0; i < c->nvals; i++)
        if (kv_value_equal(v, c->vals[i])) return 1;
    return 0;
}

static int listed(const char *key, const char (*list)[96], int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(key, list[i])) return 1;
    return 0;
}

static int where_match(const Run *r, const Where *w, const char (*skip)[96], int nskip) {
    for (int i = 0; i < w->n; i++)
        if (!listed(w->c[i].key, skip, nskip) && !cond_match(r, &w->c[i])) return 0;
    return 1;
}

/* Keys that may differ between the seeds of one cell without making them different experiments. */
static int bookkeeping(const char *k) {
    return !strcmp(k, "train.seed") || !strcmp(k, "version") || !strcmp(k, "name") || !strcmp(k, "program_version") ||
           !strcmp(k, "source") || !strcmp(k, "train.threads") || !strncmp(k, "checkpoint.", 11) ||
           !strncmp(k, "log.", 4);
}

/* Runs a and b must be the same experiment up to the seed; else an error naming both and the key. */
static int same_experiment(const Spec *s, const Run *a, const Run *b, const char *cell, Err *e) {
    const KVList *la = &a->cfg, *lb = &b->cfg;
    for (int pass = 0; pass < 2; pass++) {
        const KVList *x = pass ? lb : la, *y = pass ? la : lb;
        for (int i = 0; i < x->n; i++) {
            const char *k = x->items[i].key;
            if (bookkeeping(k) || listed(k, s->allow_differ, s->nallow)) continue;
            const char *vy = kv_get(y, k);
            if (!vy || !kv_value_equal(x->items[i].val, vy))
                return err_set(e,
                               "%s: %s: runs %s and %s differ in %s (%s vs %s); refusing to average different "
                               "experiments (narrow the where, or list the key in allow_differ)",
                               s->path, cell, a->dir, b->dir, k, kv_get(la, k) ? kv_get(la, k) : "absent",
                               kv_get(lb, k) ? kv_get(lb, k) : "absent");
        }
    }
    /* two runs that differ in an allowed key (a figure's x axis, say) are not the same run twice */
    for (int k = 0; k < s->nallow; k++) {
        const char *va = run_coord(a, s->allow_differ[k]), *vb = run_coord(b, s->allow_differ[k]);
        if (va && vb && !kv_value_equal(va, vb)) return 0;
    }
    const char *sa = run_coord(a, "train.seed"), *sb = run_coord(b, "train.seed");
    if (sa && sb && kv_value_equal(sa, sb))
        return err_set(e, "%s: %s: runs %s and %s have the same seed %s (the same run twice?)", s->path, cell, a->dir,
                       b->dir, sa);
    return 0;
}

int select_runs(const Spec *s, const RunSet *rs, const Sel *row, const Sel *col, int **idx, int *n, Err *e) {
    *idx = xcalloc((size_t)rs->n + 1, sizeof **idx);
    *n = 0;
    static const char none[1][96] = {""};
    for (int i = 0; i < rs->n; i++) {
        const Run *r = &rs->runs[i];
        if (!r->cfg.n) continue; /* config unreadable: cannot be placed (warned about by the caller) */
        if (!where_match(r, &s->where, none, 0)) continue;
        if (row && !where_match(r, &row->where, none, 0)) continue;
        if (col && !where_match(r, &col->where, row ? (const char(*)[96])row->any : none, row ? row->nany : 0))
            continue;
        (*idx)[(*n)++] = i;
    }
    char cell[256];
    kv_strfmt(cell, sizeof cell, "cell (%s%s%s%s%s)", row ? row->label : "", row && col ? ", " : "",
              col ? col->group : "", col && col->group[0] ? " " : "", col ? col->label : "");
    for (int i = 1; i < *n; i++)
        for (int j = 0; j < i; j++)
            if (same_experiment(s, &rs->runs[(*idx)[j]], &rs->runs[(*idx)[i]], cell, e)) {
                free(*idx);
                *idx = NULL;
                return -1;
            }
    return 0;
}

/* A where key that no run has is almost always a typo; say so instead of printing empty cells. */
static int check_keys_exist(const Spec *s, const RunSet *rs, const Where *w, Err *e) {
    int any_cfg = 0;
    for (int i = 0; i < rs->n; i++) any_cfg |= rs->runs[i].cfg.n > 0;
    if (!any_cfg) return 0;
    for (int k = 0; k < w->n; k++) {
        int seen = 0;
        for (int i = 0; i < rs->n && !seen; i++) seen = run_coord(&rs->runs[i], w->c[k].key) != NULL;
        if (!seen)
            return err_set(e, "%s: coordinate \"%s\" is in no run's config.yaml under %s (unknown column/key?)",
                           s->path, w->c[k].key, s->results[0]);
    }
    return 0;
}

static double round_to(double v, int digits) {
    char b[64];
    snprintf(b, sizeof b, "%.*f", digits, v);
    return atof(b);
}

static void merge_rep(RepSel *dst, const RepSel *src) {
    for (int k = 0; k < src->n; k++) {
        int j = 0;
        while (j < dst->n && strcmp(dst->key[j], src->key[k])) j++;
        if (j == dst->n) {
            if (dst->n == SPEC_MAX_KEYS) continue;
            dst->n++;
        }
        kv_strfmt(dst->key[j], sizeof dst->key[j], "%s", src->key[k]);
        kv_strfmt(dst->val[j], sizeof dst->val[j], "%s", src->val[k]);
    }
}

int run_collapsed(const Run *r) {
    if (strcmp(r->status, "completed") || isnan(r->val_loss)) return 0;
    if (isinf(r->val_loss)) return 1;
    const char *v = run_coord(r, "model.vocab_size");
    double vocab = v ? atof(v) : 0;
    return vocab > 2 && r->val_loss >= log(vocab) - log(2.0);
}

/* A run's position for compare.at (the decay it applied): its value of the spec's compare.at metric. */
static int run_position(const Table *t, const Run *r, double *out, Err *e) {
    const Spec *s = t->spec;
    Err me = {{0}};
    int rc = run_metric(r, s->compare_at, out, &me);
    if (rc == 0 && isfinite(*out)) return 0;
    return err_set(e, "%s: compare.at: run %s has no %s (%s): it cannot be placed on %s's grid", s->path, r->dir,
                   s->compare_at, me.msg[0] ? me.msg : "not finite", s->compare_vs);
}

static int fill_cell(Table *t, const RunSet *rs, int ri, int ci, Err *e) {
    const Spec *s = t->spec;
    const Sel *row = &s->rows[ri], *col = &s->cols[ci];
    Cell *c = table_cell(t, ri, ci);
    c->metric = col->metric[0] ? col->metric : s->metric;
    c->better = col->better ? col->better : s->better;
    c->digits = col->digits >= 0 ? col->digits : s->digits;
    c->mean = c->sd = c->min = c->max = NAN;
    int *idx, n;
    /* paper_only: the paper's value alone; best_of: filled from other columns by fill_best_of */
    if (col->paper_only || col->nbest_of) {
        c->runs = xcalloc(1, 1);
        return 0;
    }
    if (select_runs(s, rs, row, col, &idx, &n, e)) return -1;
    c->nruns = n;
    c->vals = xcalloc((size_t)n + 1, sizeof *c->vals);
    c->seeds = xcalloc((size_t)n + 1, sizeof *c->seeds);
    c->ridx = xcalloc((size_t)n + 1, sizeof *c->ridx);
    /* compare.at: the compared rows' runs are placed on the baseline's grid (the baseline's own runs
     * are checked where its curve is built) */
    if (s->compare_at[0] && strcmp(row->label, s->compare_vs) && c->better != BETTER_NONE)
        c->at = xcalloc((size_t)n + 1, sizeof *c->at);
    StrBuf names = {0}, used = {0};
    sb_printf(&names, "%s", "");
    sb_printf(&used, "%s", "");
    for (int i = 0; i < n; i++) {
        const Run *r = &rs->runs[idx[i]];
        sb_printf(&names, "%s%s", i ? ";" : "", r->name);
        if (run_collapsed(r)) {
            c->ncollapsed++;
            sb_printf(&t->warn,
                      "%s (%s, %s): run %s collapsed (final validation perplexity %.1f, vocabulary %s): "
                      "not averaged, not tested\n",
                      s->name, row->label, col->label, r->dir, r->val_ppl,
                      run_coord(r, "model.vocab_size") ? run_coord(r, "model.vocab_size") : "?");
            continue;
        }
        if (strcmp(r->status, "completed")) {
            if (!strcmp(r->status, "failed")) c->nfailed++;
            else if (!strcmp(r->status, "diverged")) c->ndiverged++;
            else if (!strcmp(r->status, "partial")) c->npartial++;
            else c->nunreadable++;
            sb_printf(&t->warn, "%s (%s, %s): run %s is %s%s%s\n", s->name, row->label, col->label, r->dir, r->status,
                      r->problem[0] ? ": " : "", r->problem);
            continue;
        }
        double v;
        int mrc = run_metric(r, c->metric, &v, e);
        if (mrc > 0) {
            c->nna++;
            continue;
        }
        if (mrc < 0) {
            free(idx);
            sb_free(&names);
            sb_free(&used);
            return -1;
        }
        if (c->at && run_position(t, r, &c->at[c->n], e)) {
            free(idx);
            sb_free(&names);
            sb_free(&used);
            return -1;
        }
        const char *conv = run_coord(r, "eval.convention");
        c->conv |= conv && !strcmp(conv, "authors") ? 2 : 1; /* runs from before the key used the token mean */
        const char *seed = run_coord(r, s->pair_by[0] ? s->pair_by : "train.seed"); /* what pairs runs */
        kv_strfmt(c->seeds[c->n], sizeof c->seeds[0], "%s", seed ? seed : "?");
        c->ridx[c->n] = idx[i];
        t->counted[idx[i]] = 1;
        c->vals[c->n++] = v;
        sb_printf(&used, "%s%s", c->n > 1 ? ";" : "", r->dir);
    }
    free(idx);
    c->runs = names.p;
    c->used = used.p;
    stats_mean_sd(c->vals, c->n, &c->mean, &c->sd);
    c->min = stats_min(c->vals, c->n);
    c->max = stats_max(c->vals, c->n);
    return 0;
}

/* The values of cells a and b paired by seed into x and y (each of a->n entries); returns the pairs. */
static int pair_by_seed(const Cell *a, const Cell *b, double *x, double *y) {
    int m = 0;
    for (int i = 0; i < a->n; i++)
        for (int j = 0; j < b->n; j++)
            if (!strcmp(a->seeds[i], b->seeds[j])) {
                x[m] = a->vals[i];
                y[m++] = b->vals[j];
            }
    return m;
}

/* Calls fn for every (row, column) cell with completed runs other than the baseline row vs, with
 * its values paired by seed against the baseline's; warns once per cell when seeds are missing. A
 * cell with no better direction (a cost, the decay applied) is described, not tested: it stays out of
 * the comparisons and so out of the Holm family. */
typedef void (*PairFn)(Cell *a, const Cell *b, const double *x, const double *y, int m);
static void for_each_pair(Table *t, int vs, const char *what, PairFn fn) {
    for (int ci = 0; ci < t->ncols; ci++) {
        const Cell *b = table_cell(t, vs, ci);
        for (int ri = 0; ri < t->nrows; ri++) {
            Cell *a = table_cell(t, ri, ci);
            if (ri == vs || !a->n || !b->n || a->better == BETTER_NONE) continue;
            double *x = xcalloc((size_t)a->n, sizeof *x), *y = xcalloc((size_t)a->n, sizeof *y);
            int m = pair_by_seed(a, b, x, y);
            if (m != a->n || m != b->n)
                sb_printf(&t->warn, "%s (%s, %s): %s pairs %d seeds (%d vs %d completed runs)\n", t->spec->name,
                          t->spec->rows[ri].label, t->spec->cols[ci].label, what, m, a->n, b->n);
            fn(a, b, x, y, m);
            free(x);
            free(y);
        }
    }
}

static void ttest_cell(Cell *a, const Cell *b, const double *x, const double *y, int m) {
    (void)b;
    double tt;
    a->has_p = stats_paired_t(x, y, m, &tt, &a->p) == 0;
}

/* The statistics of the m pairs (x_i, y_i) of cell a against a baseline whose runs are base_used. */
static void paired_stats(Cell *a, const char *base_used, const double *x, const double *y, int m) {
    a->npairs = m;
    StrBuf key = {0};
    sb_printf(&key, "%s|%s|%s", a->metric, a->used, base_used);
    free(a->key);
    a->key = key.p;
    a->has_cmp = stats_paired_ci(x, y, m, 0.95, &a->diff, &a->diff_lo, &a->diff_hi) == 0;
    double tt, md, sd;
    if (!a->has_cmp || stats_paired_t(x, y, m, &tt, &a->p_t)) a->p_t = NAN;
    double *d = xcalloc((size_t)m + 1, sizeof *d);
    for (int i = 0; i < m; i++) d[i] = x[i] - y[i];
    stats_mean_sd(d, m, &md, &sd);
    free(d);
    a->mde = a->has_cmp ? stats_paired_mde(m, 0.05, 0.8) * sd : NAN;
    a->has_w = stats_wilcoxon_exact(x, y, m, &tt, &a->p_w) == 0;
    int k;
    a->has_s = stats_sign_exact(x, y, m, &k, &a->p_s) == 0;
}

static void compare_cell(Cell *a, const Cell *b, const double *x, const double *y, int m) {
    paired_stats(a, b->used, x, y, m);
}

/* ---- compare.at: the baseline interpolated at each compared run's position ---- */

/* A counted run of the baseline's curve: its grid value (compare.along), metric value, seed and directory. */
typedef struct {
    double x, y;
    const char *seed, *dir;
    int ridx; /* the run's index in the RunSet */
} CurvePt;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void drop_along(Where *w, const char *along) {
    int k = 0;
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->c[i].key, along)) w->c[k++] = w->c[i];
    w->n = k;
}

/* The baseline row's runs in column ci along the grid: the spec's, the row's and the column's selection
 * without their conditions on compare.along, the runs agreeing on every other key. *grid gets the
 * distinct grid values of all of them (any status: a failed run still marks a grid point its seed then
 * lacks), *pts the counted runs (completed, not collapsed, with a value), each checked to apply what
 * its grid value says (its compare.at metric equals it), so interpolating in the grid key is
 * interpolating at equal applied decay. */
static int baseline_curve(Table *t, const RunSet *rs, int vs, int ci, double **grid, int *ngrid, CurvePt **pts,
                          int *npts, Err *e) {
    const Spec *s = t->spec;
    Spec *tmp = xcalloc(1, sizeof *tmp);
    *tmp = *s;
    drop_along(&tmp->where, s->compare_along);
    if (tmp->nallow < 16)
        kv_strfmt(tmp->allow_differ[tmp->nallow++], sizeof tmp->allow_differ[0], "%s", s->compare_along);
    Sel row = s->rows[vs], col = s->cols[ci];
    drop_along(&row.where, s->compare_along);
    drop_along(&col.where, s->compare_along);
    int *idx, n, rc = 0;
    *grid = NULL, *pts = NULL, *ngrid = *npts = 0;
    if (select_runs(tmp, rs, &row, &col, &idx, &n, e)) {
        free(tmp);
        return -1;
    }
    *grid = xcalloc((size_t)n + 1, sizeof **grid);
    *pts = xcalloc((size_t)n + 1, sizeof **pts);
    const char *metric = table_cell(t, vs, ci)->metric;
    for (int i = 0; i < n && !rc; i++) {
        const Run *r = &rs->runs[idx[i]];
        const char *xs = run_coord(r, s->compare_along);
        double x, y, at;
        if (!xs || kv_parse_number(xs, &x)) {
            rc = err_set(e, "%s: compare.along: baseline run %s has %s %s, not a number", s->path, r->dir,
                         s->compare_along, xs ? xs : "absent");
            break;
        }
        int k = 0;
        while (k < *ngrid && (*grid)[k] != x) k++;
        if (k == *ngrid) (*grid)[(*ngrid)++] = x;
        if (strcmp(r->status, "completed") || run_collapsed(r)) continue; /* a missing point for its seed */
        int mrc = run_metric(r, metric, &y, e);
        if (mrc > 0) continue;
        if (mrc < 0 || run_position(t, r, &at, e)) {
            rc = -1;
            break;
        }
        if (fabs(at - x) > 1e-6 * fmax(1.0, fabs(x))) {
            rc = err_set(e,
                         "%s: compare.at: baseline run %s has %s %.6g but %s %.6g: only a baseline that applies "
                         "its grid value can be interpolated at equal %s",
                         s->path, r->dir, s->compare_at, at, s->compare_along, x, s->compare_at);
            break;
        }
        const char *seed = run_coord(r, s->pair_by[0] ? s->pair_by : "train.seed");
        (*pts)[(*npts)++] = (CurvePt){x, y, seed ? seed : "?", r->dir, idx[i]};
    }
    free(idx);
    free(tmp);
    if (rc) {
        free(*grid), free(*pts);
        *grid = NULL, *pts = NULL;
        return -1;
    }
    qsort(*grid, (size_t)*ngrid, sizeof **grid, cmp_double);
    return 0;
}

static const CurvePt *curve_at(const CurvePt *pts, int n, const char *seed, double x) {
    for (int i = 0; i < n; i++)
        if (pts[i].x == x && !strcmp(pts[i].seed, seed)) return &pts[i];
    return NULL;
}

/* Every compared cell against the baseline row vs interpolated at its runs' positions: for the run of
 * seed s at position d, the grid values g_lo <= d <= g_hi next to it and seed s's baseline values y_lo,
 * y_hi there give y = y_lo + (d - g_lo) / (g_hi - g_lo) (y_hi - y_lo) (y_lo when d is a grid value);
 * the pair is (the run's value, y). */
static int interp_compare(Table *t, const RunSet *rs, int vs, Err *e) {
    const Spec *s = t->spec;
    for (int ci = 0; ci < t->ncols; ci++) {
        if (s->cols[ci].paper_only || s->cols[ci].nbest_of) continue;
        int any = 0;
        for (int ri = 0; ri < t->nrows; ri++) any |= ri != vs && table_cell(t, ri, ci)->at && table_cell(t, ri, ci)->n;
        if (!any) continue;
        double *grid;
        CurvePt *pts;
        int ng, np;
        if (baseline_curve(t, rs, vs, ci, &grid, &ng, &pts, &np, e)) return -1;
        for (int ri = 0; ri < t->nrows; ri++) {
            Cell *a = table_cell(t, ri, ci);
            if (ri == vs || !a->at || !a->n) continue;
            double *x = xcalloc((size_t)a->n, sizeof *x), *y = xcalloc((size_t)a->n, sizeof *y), sd = 0, sy = 0;
            StrBuf used = {0};
            sb_printf(&used, "%s@%s/%s:", s->compare_vs, s->compare_at, s->compare_along);
            int m = 0;
            for (int i = 0; i < a->n; i++) {
                double d = a->at[i];
                const char *where = s->rows[ri].label, *cl = s->cols[ci].label;
                if (!ng || d < grid[0] || d > grid[ng - 1]) {
                    a->nout++;
                    sb_printf(&t->warn, "%s (%s, %s): seed %s's run has %s %.4g, outside %s's grid", s->name, where, cl,
                              a->seeds[i], s->compare_at, d, s->compare_vs);
                    if (ng) sb_printf(&t->warn, " [%g, %g] of %s", grid[0], grid[ng - 1], s->compare_along);
                    sb_printf(&t->warn, ": not paired\n");
                    continue;
                }
                int k = 0;
                while (k + 1 < ng && grid[k + 1] <= d) k++;
                double glo = grid[k], ghi = glo == d ? glo : grid[k + 1];
                const CurvePt *lo = curve_at(pts, np, a->seeds[i], glo), *hi = curve_at(pts, np, a->seeds[i], ghi);
                if (!lo || !hi) {
                    a->nmiss++;
                    sb_printf(&t->warn,
                              "%s (%s, %s): seed %s's run has %s %.4g, but the seed has no counted %s run at %s %g: "
                              "not paired\n",
                              s->name, where, cl, a->seeds[i], s->compare_at, d, s->compare_vs, s->compare_along,
                              lo ? ghi : glo);
                    continue;
                }
                t->counted[lo->ridx] = t->counted[hi->ridx] = 1;
                x[m] = a->vals[i];
                y[m] = ghi == glo ? lo->y : lo->y + (d - glo) / (ghi - glo) * (hi->y - lo->y);
                sb_printf(&used, "%s%s%s%s", m ? ";" : "", lo->dir, hi != lo ? "+" : "", hi != lo ? hi->dir : "");
                sd += d, sy += y[m];
                m++;
            }
            a->at_mean = m ? sd / m : NAN;
            a->base_mean = m ? sy / m : NAN;
            double dd = 0;
            for (int i = 0; i < m; i++) dd += x[i] - y[i];
            a->diff_any = m ? dd / m : NAN;
            paired_stats(a, used.p, x, y, m);
            sb_free(&used);
            free(x);
            free(y);
        }
        free(grid);
        free(pts);
    }
    return 0;
}

/* Whether a beats b in the direction `better` (lower: < 0, higher: > 0). */
static int beats(int better, double a, double b) { return better < 0 ? a < b : a > b; }

/* The mean of metric over the runs whose values cell c uses (select_by: the metric a best_of column
 * chooses by); every one of them must have it, else the choice would rest on a subset. */
static int select_mean(const Table *t, const RunSet *rs, int ri, int ci, const char *metric, double *out, Err *e) {
    const Cell *c = table_cell(t, ri, ci);
    double sum = 0;
    for (int i = 0; i < c->n; i++) {
        const Run *r = &rs->runs[c->ridx[i]];
        double v;
        int rc = run_metric(r, metric, &v, e);
        if (rc < 0) return -1;
        if (rc > 0 || !isfinite(v))
            return err_set(e, "%s: cell (%s, %s): run %s has no %s to choose a best_of column by", t->spec->path,
                           t->spec->rows[ri].label, t->spec->cols[ci].label, r->dir, metric);
        sum += v;
    }
    *out = sum / c->n;
    return 0;
}

/* A best_of cell: a copy of the row's cell with the best mean among the named columns (the first on a
 * tie), so comparisons pair it by seed like any other cell. With select_by the best mean is that
 * metric's over the same runs, in its own better direction: the column is chosen on one metric (the
 * selection set) and reports another (the test set). */
static int fill_best_of(Table *t, const RunSet *rs, Err *e) {
    const Spec *s = t->spec;
    for (int ci = 0; ci < t->ncols; ci++)
        for (int ri = 0; ri < t->nrows && s->cols[ci].nbest_of; ri++) {
            const char *by = s->cols[ci].select_by[0] ? s->cols[ci].select_by : NULL;
            const Cell *src = NULL;
            int from = -1;
            double best = NAN;
            for (int k = 0; k < s->cols[ci].nbest_of; k++) {
                int cj = s->cols[ci].best_of[k];
                const Cell *c = table_cell(t, ri, cj);
                if (!c->n) continue;
                double m = c->mean;
                if (by && select_mean(t, rs, ri, cj, by, &m, e)) return -1;
                if (!src || beats(by ? metric_info(by)->better : c->better, m, best)) src = c, from = cj, best = m;
            }
            if (!src) continue;
            Cell *d = table_cell(t, ri, ci);
            free(d->vals), free(d->seeds), free(d->runs), free(d->used), free(d->key), free(d->at), free(d->ridx);
            *d = *src;
            d->at = NULL;
            d->ridx = NULL; /* a best_of cell is never a candidate of another (spec.c refuses it) */
            if (src->at) {
                d->at = xcalloc((size_t)src->n + 1, sizeof *d->at);
                memcpy(d->at, src->at, (size_t)src->n * sizeof *d->at);
            }
            d->vals = xcalloc((size_t)src->n + 1, sizeof *d->vals);
            d->seeds = xcalloc((size_t)src->n + 1, sizeof *d->seeds);
            memcpy(d->vals, src->vals, (size_t)src->n * sizeof *d->vals);
            memcpy(d->seeds, src->seeds, (size_t)src->n * sizeof *d->seeds);
            d->runs = xcalloc(strlen(src->runs) + 1, 1);
            memcpy(d->runs, src->runs, strlen(src->runs));
            d->used = xcalloc(strlen(src->used) + 1, 1);
            memcpy(d->used, src->used, strlen(src->used));
            d->key = NULL;
            d->from = s->cols[from].label;
            d->chosen_by = by;
            d->chosen_mean = best;
        }
    return 0;
}

int table_family_tests(const Table *t, FamTest **out) {
    int n = 0;
    *out = xcalloc((size_t)(t->nrows * t->ncols) + 1, sizeof **out);
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        const Cell *c = &t->cells[i];
        if (!c->has_cmp || isnan(c->p_t) || !c->key) continue;
        (*out)[n].key = xcalloc(strlen(c->key) + 1, 1);
        memcpy((*out)[n].key, c->key, strlen(c->key));
        (*out)[n++].p = c->p_t;
    }
    return n;
}

void famtests_free(FamTest *f, int n) {
    for (int i = 0; i < n && f; i++) free(f[i].key);
    free(f);
}

/* Holm over the distinct tests: the same comparison (same metric, same runs on both sides) in two
 * columns (a best_of copy, a row and a baseline that both span the columns) or two tables is one
 * hypothesis, counted once; its adjusted p is written to every cell that holds it. */
void table_family_holm(Table *t, const FamTest *others, int nothers, const char *tables) {
    FamTest *own;
    int nown = table_family_tests(t, &own), cap = nown + nothers + 1, m = 0;
    const char **keys = xcalloc((size_t)cap, sizeof *keys);
    double *p = xcalloc((size_t)cap, sizeof *p), *adj = xcalloc((size_t)cap, sizeof *adj);
    for (int k = 0; k < nown + nothers; k++) {
        const FamTest *f = k < nown ? &own[k] : &others[k - nown];
        int j = 0;
        while (j < m && strcmp(keys[j], f->key)) j++;
        if (j < m) continue;
        keys[m] = f->key;
        p[m++] = f->p;
    }
    stats_holm(p, m, adj);
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        Cell *c = &t->cells[i];
        c->p_holm = NAN;
        c->repeats = 0; /* the same test as an earlier cell of this table (shares its p) */
        for (int j = 0; j < i && c->key && c->has_cmp; j++)
            if (t->cells[j].key && t->cells[j].has_cmp && !strcmp(t->cells[j].key, c->key)) c->repeats = 1;
        for (int j = 0; j < m && c->key && c->has_cmp && !isnan(c->p_t); j++)
            if (!strcmp(keys[j], c->key)) c->p_holm = adj[j];
    }
    t->holm_m = m;
    sb_free(&t->holm_tables);
    sb_printf(&t->holm_tables, "%s", tables ? tables : "");
    famtests_free(own, nown);
    free(keys);
    free(p);
    free(adj);
}

static void fill_best(Table *t) {
    for (int ci = 0; ci < t->ncols; ci++) {
        double best = NAN;
        for (int ri = 0; ri < t->nrows; ri++) {
            Cell *c = table_cell(t, ri, ci);
            if (!c->n || c->better == BETTER_NONE) continue;
            double v = round_to(c->mean, c->digits);
            if (isnan(best) || beats(c->better, v, best)) best = v;
        }
        int nwith = 0;
        for (int ri = 0; ri < t->nrows; ri++) nwith += table_cell(t, ri, ci)->n > 0;
        if (nwith < 2) continue; /* "best" of one entry says nothing */
        for (int ri = 0; ri < t->nrows; ri++) {
            Cell *c = table_cell(t, ri, ci);
            c->best = c->n && round_to(c->mean, c->digits) == best;
        }
    }
}

/* Removes key from a merged selection, copying its value to out ("" when absent). */
static void take_rep(RepSel *m, const char *key, char *out, size_t cap) {
    out[0] = 0;
    for (int k = 0; k < m->n; k++)
        if (!strcmp(m->key[k], key)) {
            kv_strfmt(out, cap, "%s", m->val[k]);
            for (int j = k + 1; j < m->n; j++) {
                kv_strfmt(m->key[j - 1], sizeof m->key[0], "%s", m->key[j]);
                kv_strfmt(m->val[j - 1], sizeof m->val[0], "%s", m->val[j]);
            }
            m->n--;
            return;
        }
}

/* The same selection with another metric (the paper's std or p-value of that mean); 0 or -1. */
static int paper_extra(const Reported *rep, const RepSel *sel, const char *metric, double *out, int *has, Err *e) {
    RepSel m = *sel;
    int k = 0;
    while (k < m.n && strcmp(m.key[k], "metric")) k++;
    if (k == m.n) {
        if (m.n == SPEC_MAX_KEYS) return err_set(e, "too many reported keys");
        m.n++;
    }
    kv_strfmt(m.key[k], sizeof m.key[0], "metric");
    kv_strfmt(m.val[k], sizeof m.val[0], "%s", metric);
    int rc = reported_lookup(rep, &m, out, e);
    *has = rc == 0;
    return rc < 0 ? -1 : 0;
}

static int fill_paper(Table *t, const Reported *rep, Err *e) {
    const Spec *s = t->spec;
    for (int ri = 0; ri < t->nrows; ri++)
        for (int ci = 0; ci < t->ncols; ci++) {
            const Sel *row = &s->rows[ri], *col = &s->cols[ci];
            if (row->rep.off || col->rep.off || s->rep.off || col->nbest_of) continue;
            RepSel m = {0};
            merge_rep(&m, &s->rep);
            merge_rep(&m, &col->rep);
            merge_rep(&m, &row->rep); /* the row wins: WD=0's weight_decay 0 spans every wd column */
            Cell *c = table_cell(t, ri, ci);
            char std_metric[64] = "", p_metric[64] = "";
            take_rep(&m, "std_metric", std_metric, sizeof std_metric);
            take_rep(&m, "p_metric", p_metric, sizeof p_metric);
            int rc = reported_lookup(rep, &m, &c->paper, e);
            c->has_paper = rc == 0;
            if (rc == 0 && std_metric[0]) rc = paper_extra(rep, &m, std_metric, &c->paper_sd, &c->has_paper_sd, e);
            if (rc == 0 && p_metric[0]) rc = paper_extra(rep, &m, p_metric, &c->paper_p, &c->has_paper_p, e);
            if (rc < 0) {
                char msg[sizeof e->msg];
                kv_strfmt(msg, sizeof msg, "%s: cell (%s, %s): %s", s->path, row->label, col->label, e->msg);
                return err_set(e, "%s", msg);
            }
        }
    return 0;
}

/* Distinct strings and how many runs have each, most frequent first (ties by text). */
typedef struct {
    const char *s;
    int n;
} Tally;

static void tally_add(Tally *t, int *n, const char *s) {
    int k = 0;
    while (k < *n && strcmp(t[k].s, s)) k++;
    if (k == *n) t[(*n)++] = (Tally){s, 0};
    t[k].n++;
}

static int cmp_tally(const void *a, const void *b) {
    const Tally *x = a, *y = b;
    return x->n != y->n ? y->n - x->n : strcmp(x->s, y->s);
}

/* "2 builds (a1b2c3: 40, d4e5f6: 12)" */
static void tally_text(StrBuf *b, Tally *t, int n, const char *what) {
    qsort(t, (size_t)n, sizeof *t, cmp_tally);
    sb_printf(b, "%d %s%s (", n, what, n == 1 ? "" : "s");
    for (int k = 0; k < n; k++) sb_printf(b, "%s%s: %d", k ? ", " : "", t[k].s, t[k].n);
    sb_printf(b, ")");
}

/* The one place the provenance note is composed (docs/analysis.md): over the runs whose values the table
 * averages or compares (t->counted: the cells' counted runs and the baseline runs matched-strength
 * comparisons interpolate between), the build commits and CPU kinds (instruction-set classes) of
 * summary.json, when they are more than one, or when some runs recorded them and others did not. A
 * mix is legitimate (reruns agree to round-off across machines): it is stated, not refused. Runs that
 * recorded nothing (all committed runs before provenance) leave the table as it was. */
static void provenance_note(Table *t, const RunSet *rs) {
    Tally *builds = xcalloc((size_t)rs->n + 1, sizeof *builds), *isas = xcalloc((size_t)rs->n + 1, sizeof *isas);
    int nb = 0, ni = 0, total = 0, unrec = 0;
    for (int i = 0; i < rs->n; i++) {
        if (!t->counted[i]) continue;
        const Run *r = &rs->runs[i];
        total++;
        if (!r->commit[0] && !r->isa[0]) {
            unrec++;
            continue;
        }
        tally_add(builds, &nb, r->commit[0] ? r->commit : "?");
        tally_add(isas, &ni, r->isa[0] ? r->isa : "?");
    }
    if (nb > 1 || ni > 1 || (unrec && unrec < total)) {
        sb_printf(&t->prov, "Runs from ");
        tally_text(&t->prov, builds, nb, "build");
        sb_printf(&t->prov, " and ");
        tally_text(&t->prov, isas, ni, "CPU kind");
        if (unrec) sb_printf(&t->prov, "; %d run%s unrecorded", unrec, unrec == 1 ? "" : "s");
        sb_printf(&t->prov, ". ");
    }
    free(builds);
    free(isas);
}

int table_build(Table *t, const Spec *s, const RunSet *rs, const Reported *rep, Err *e) {
    memset(t, 0, sizeof *t);
    t->spec = s;
    t->nrows = s->nrows;
    t->ncols = s->ncols;
    t->cells = xcalloc((size_t)(s->nrows * s->ncols) + 1, sizeof *t->cells);
    sb_printf(&t->warn, "%s", "");
    t->counted = xcalloc((size_t)rs->n + 1, 1);
    if (check_keys_exist(s, rs, &s->where, e)) return -1;
    for (int i = 0; i < s->nrows; i++)
        if (check_keys_exist(s, rs, &s->rows[i].where, e)) return -1;
    for (int i = 0; i < s->ncols; i++)
        if (!s->cols[i].paper_only && check_keys_exist(s, rs, &s->cols[i].where, e)) return -1;
    for (int i = 0; i < rs->n; i++)
        if (!rs->runs[i].cfg.n)
            sb_printf(&t->warn, "%s: run %s cannot be placed in any cell: %s\n", s->name, rs->runs[i].dir,
                      rs->runs[i].problem);
    for (int ri = 0; ri < s->nrows; ri++)
        for (int ci = 0; ci < s->ncols; ci++)
            if (fill_cell(t, rs, ri, ci, e)) return -1;
    if (fill_best_of(t, rs, e)) return -1;
    for (int ri = 0; ri < s->nrows; ri++) {
        if (s->ttest_vs[0] && !strcmp(s->rows[ri].label, s->ttest_vs)) for_each_pair(t, ri, "t-test", ttest_cell);
        if (s->compare_vs[0] && !strcmp(s->rows[ri].label, s->compare_vs)) {
            if (!s->compare_at[0]) for_each_pair(t, ri, "comparison", compare_cell);
            else if (interp_compare(t, rs, ri, e)) return -1;
        }
    }
    if (s->compare_vs[0]) table_family_holm(t, NULL, 0, NULL);
    provenance_note(t, rs);
    fill_best(t);
    if (s->rep_mode) {
        if (!rep) return err_set(e, "%s: reported values requested but no paper_tables.csv loaded", s->path);
        if (fill_paper(t, rep, e)) return -1;
    }
    return 0;
}

void table_free(Table *t) {
    if (t->cells)
        for (int i = 0; i < t->nrows * t->ncols; i++) {
            free(t->cells[i].vals);
            free(t->cells[i].seeds);
            free(t->cells[i].runs);
            free(t->cells[i].used);
            free(t->cells[i].key);
            free(t->cells[i].at);
            free(t->cells[i].ridx);
        }
    free(t->cells);
    free(t->counted);
    sb_free(&t->prov);
    sb_free(&t->warn);
    sb_free(&t->holm_tables);
    memset(t, 0, sizeof *t);
}
