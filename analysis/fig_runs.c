/* fig_runs.c - figures made from run-level numbers: training / validation curves (kind curves),
 * bars per setting with the difference to the leftmost bar (kind bars: Figures 5-8), and the
 * weight-decay sweep (kind wd_sweep: Figure 4, perplexity and mean alpha per module group). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h" /* this file's kinds */
#include "plot.h"
#include "model.h"
#include "kv.h"
#include "rundir.h"
#include "stats.h"

/* ---- curves ---- */

/* Mean of `key` over the given runs at the steps every one of them logged. */
static int mean_curve(const Fig *f, const int *idx, int n, const char *file, const char *key, StrBuf *out,
                      int *points, Err *e) {
    double **xs = xcalloc((size_t)n, sizeof *xs), **ys = xcalloc((size_t)n, sizeof *ys);
    int *ns = xcalloc((size_t)n, sizeof *ns), *pos = xcalloc((size_t)n, sizeof *pos), used = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        const Run *r = &f->rs->runs[idx[i]];
        if (!strcmp(r->status, "unreadable")) continue;
        if (run_series(r, file, "step", key, &xs[used], &ys[used], &ns[used], e)) {
            sb_printf(f->warn, "%s: %s\n", f->spec->name, e->msg);
            free(xs[used]);
            free(ys[used]);
            continue;
        }
        used++;
    }
    *points = 0;
    for (int k = 0; used && k < ns[0]; k++) {
        double x = xs[0][k], sum = ys[0][k];
        int all = 1;
        for (int j = 1; j < used && all; j++) {
            while (pos[j] < ns[j] && xs[j][pos[j]] < x) pos[j]++;
            all = pos[j] < ns[j] && xs[j][pos[j]] == x;
            if (all) sum += ys[j][pos[j]];
        }
        if (!all) continue;
        sb_printf(out, "%.10g %.10g\n", x, sum / used);
        (*points)++;
    }
    for (int i = 0; i < used; i++) {
        free(xs[i]);
        free(ys[i]);
    }
    free(xs);
    free(ys);
    free(ns);
    free(pos);
    return rc;
}

int fig_curves(const Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    StrBuf plot_l = {0}, plot_r = {0};
    for (int i = 0; i < s->nrows; i++) {
        int *idx, n;
        if (select_runs(s, f->rs, &s->rows[i], NULL, &idx, &n, e)) return -1;
        if (!n) {
            sb_printf(f->warn, "%s: series %s: no runs\n", s->name, s->rows[i].label);
            free(idx);
            continue;
        }
        for (int side = 0; side < 2; side++) {
            StrBuf d = {0};
            int pts;
            mean_curve(f, idx, n, side ? RUNDIR_EVAL : RUNDIR_METRICS, side ? "ppl" : "loss", &d, &pts, e);
            char suffix[32], rel[AD_PATH_MAX];
            snprintf(suffix, sizeof suffix, "%s%d", side ? "val" : "train", i);
            if (pts && fig_data(f, suffix, &d, rel, sizeof rel, e)) {
                sb_free(&d);
                free(idx);
                return -1;
            }
            sb_free(&d);
            if (!pts) continue;
            StrBuf *p = side ? &plot_r : &plot_l;
            sb_printf(p, "%s\"%s\" using 1:2 with lines lw 2 title ", p->len ? ", " : "plot ", rel);
            char title[160];
            if (n > 1) strfmt(title, sizeof title, "%s (mean of %d runs)", s->rows[i].label, n);
            else strfmt(title, sizeof title, "%s", s->rows[i].label);
            gp_str(p, title);
        }
        free(idx);
    }
    if (!plot_l.len && !plot_r.len) return err_set(e, "%s: no curve data in any run", s->path);
    sb_printf(body, "set multiplot layout 1,2 title ");
    gp_str(body, s->title[0] ? s->title : s->name);
    sb_printf(body, "\nset xlabel \"update\"\nset ylabel \"training loss\"\nset key top right\n");
    if (plot_l.len) sb_printf(body, "%s\n", plot_l.p);
    else gp_empty_panel(body, "no training logs");
    sb_printf(body, "set ylabel \"validation perplexity\"\n");
    if (plot_r.len) sb_printf(body, "set logscale y\n%s\nunset logscale y\n", plot_r.p);
    else gp_empty_panel(body, "no evaluations");
    sb_free(&plot_l);
    sb_free(&plot_r);
    return 0;
}

/* ---- bars ---- */

/* A copy of the spec with `metric` and at least one column (one matching everything). */
static Spec *spec_variant(const Spec *s, const char *metric) {
    Spec *c = xcalloc(1, sizeof *c);
    *c = *s;
    if (metric && metric[0]) strfmt(c->metric, sizeof c->metric, "%s", metric);
    for (int i = 0; i < c->ncols; i++) c->cols[i].metric[0] = 0;
    if (!c->ncols) {
        c->ncols = 1;
        memset(&c->cols[0], 0, sizeof c->cols[0]);
        c->cols[0].digits = -1;
    }
    c->rep_mode = 0;
    c->ttest_vs[0] = 0;
    return c;
}

static const char *metric_label(const char *m) {
    if (!strcmp(m, "val_ppl")) return "validation perplexity";
    if (!strcmp(m, "val_loss")) return "validation loss";
    if (!strcmp(m, "fit_seconds_per_call")) return "seconds per decay update";
    if (!strcmp(m, "wall_hours")) return "total hours";
    if (!strcmp(m, "wall_seconds")) return "total seconds";
    return m;
}

int fig_bars(const Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    Spec *sm = spec_variant(s, s->metric), *s2 = s->y2_metric[0] ? spec_variant(s, s->y2_metric) : NULL;
    Table t = {0}, t2 = {0};
    int rc = -1;
    if (table_build(&t, sm, f->rs, NULL, e) || (s2 && table_build(&t2, s2, f->rs, NULL, e))) goto done;
    if (t.warn.p) sb_printf(f->warn, "%s", t.warn.p);
    sb_printf(body, "set multiplot layout 1,%d title ", t.ncols);
    gp_str(body, s->title[0] ? s->title : s->name);
    sb_printf(body, "\nset style fill solid 0.75 border -1\nset boxwidth 0.6\nset xtics rotate by -25 nomirror\n");
    sb_printf(body, "set ylabel \"%s\"\nset key below\n", metric_label(sm->metric));
    if (s2) sb_printf(body, "set y2label \"%s\"\nset y2tics\nset ytics nomirror\nset format y2 \"%%.3g\"\n",
                      metric_label(s2->metric));
    for (int c = 0; c < t.ncols; c++) {
        StrBuf d = {0};
        double lo = INFINITY, hi = -INFINITY, base = NAN;
        for (int r = 0; r < t.nrows; r++) {
            const Cell *cell = table_cell(&t, r, c);
            if (cell->n) {
                lo = fmin(lo, cell->mean - (cell->n > 1 ? cell->sd : 0));
                hi = fmax(hi, cell->mean + (cell->n > 1 ? cell->sd : 0));
            }
            if (r == 0) base = cell->n ? cell->mean : NAN;
        }
        int any_val = 0, any_y2 = 0;
        for (int r = 0; r < t.nrows; r++) {
            const Cell *cell = table_cell(&t, r, c);
            any_val |= cell->n > 0;
            any_y2 |= s2 && table_cell(&t2, r, c)->n > 0;
            char lab[64];
            int dg = cell->digits;
            if (!cell->n) strfmt(lab, sizeof lab, "%s", cell->nruns ? "failed" : "–");
            else if (r == 0 || isnan(base)) strfmt(lab, sizeof lab, "%.*f", dg, cell->mean);
            else strfmt(lab, sizeof lab, "%+.*f", dg, cell->mean - base);
            double y2 = NAN;
            if (s2 && table_cell(&t2, r, c)->n) y2 = table_cell(&t2, r, c)->mean;
            double ylab = cell->n ? cell->mean + (cell->n > 1 ? cell->sd : 0) : (isfinite(lo) ? lo : 0);
            sb_printf(&d, "%d %.10g %.10g %.10g %.10g ", r, cell->n ? cell->mean : NAN, cell->n > 1 ? cell->sd : 0, ylab,
                      y2);
            gp_str(&d, s->rows[r].label);
            sb_printf(&d, " ");
            gp_str(&d, lab);
            sb_printf(&d, "\n");
        }
        char suffix[32], rel[AD_PATH_MAX];
        snprintf(suffix, sizeof suffix, "panel%d", c);
        int wrc = fig_data(f, suffix, &d, rel, sizeof rel, e);
        sb_free(&d);
        if (wrc) goto done;
        const Sel *col = &s->cols[c < s->ncols ? c : 0];
        sb_printf(body, "set title ");
        gp_str(body, s->ncols ? col->label : "");
        if (isfinite(lo)) {
            double pad = (hi - lo) > 0 ? (hi - lo) : fmax(fabs(hi) * 0.05, 1e-3);
            sb_printf(body, "\nset yrange [%.10g:%.10g]\n", lo - 0.5 * pad, hi + 0.6 * pad);
        } else {
            sb_printf(body, "\nset yrange [*:*]\n");
        }
        if (!any_val) {
            sb_printf(f->warn, "%s: panel %s: no completed runs\n", s->name, s->ncols ? col->label : "");
            gp_empty_panel(body, "no completed runs");
            continue;
        }
        sb_printf(body, "set xrange [-0.6:%d.6]\n", t.nrows - 1);
        sb_printf(body, "plot \"%s\" using 1:2:xtic(6) with boxes lc rgb \"#4477aa\" title \"%s (mean over seeds)\", "
                        "\"%s\" using 1:2:3 with yerrorbars lc rgb \"black\" pt -1 notitle, "
                        "\"%s\" using 1:4:7 with labels offset 0,0.8 notitle",
                  rel, metric_label(sm->metric), rel, rel);
        if (any_y2) sb_printf(body, ", \"%s\" using 1:5 axes x1y2 with linespoints pt 7 lc rgb \"#cc3311\" title \"%s\"", rel,
                          metric_label(s2->metric));
        sb_printf(body, "\n");
    }
    rc = 0;
done:
    table_free(&t);
    table_free(&t2);
    free(sm);
    free(s2);
    return rc;
}

/* ---- weight-decay sweep ---- */

static int cmp_num(const void *a, const void *b) {
    double x = atof(*(char *const *)a), y = atof(*(char *const *)b);
    return (x > y) - (x < y);
}

/* Mean alpha and its min / max over the modules (and seeds) of three module groups. */
static const char *const GROUP_NAMES[3] = {"att.q/k", "att.v/o", "mlp"};
static int group_of(const char *type) {
    if (!strcmp(type, "q") || !strcmp(type, "k")) return 0;
    if (!strcmp(type, "v") || !strcmp(type, "o")) return 1;
    if (!strcmp(type, "gate") || !strcmp(type, "up") || !strcmp(type, "down")) return 2;
    return -1;
}

/* The x values: the distinct values of key xk among the runs of any series, in numeric order (each
 * a malloc'd copy). Mixing is checked per (series, x) cell by the table; a series spans x. */
static int wd_x_values(const Fig *f, const char *xk, char **xs, Err *e) {
    const Spec *s = f->spec;
    int nx = 0;
    for (int r = 0; r < s->nrows; r++) {
        int *idx, n;
        if (select_runs(s, f->rs, &s->rows[r], NULL, &idx, &n, e) != 0) continue;
        for (int i = 0; i < n; i++) {
            const char *v = run_coord(&f->rs->runs[idx[i]], xk);
            int seen = !v;
            for (int j = 0; j < nx && !seen; j++) seen = value_equal(xs[j], v);
            if (!seen && nx < SPEC_MAX_SEL) {
                xs[nx] = xcalloc(strlen(v) + 1, 1);
                strcpy(xs[nx++], v);
            }
        }
        free(idx);
    }
    qsort(xs, (size_t)nx, sizeof *xs, cmp_num);
    return nx;
}

/* The spec as a table with one column per x value (where xk = x). */
static Spec *wd_spec(const Spec *s, const char *xk, char *const *xs, int nx) {
    Spec *c = spec_variant(s, s->metric);
    c->ncols = nx;
    for (int i = 0; i < nx; i++) {
        memset(&c->cols[i], 0, sizeof c->cols[i]);
        c->cols[i].digits = -1;
        strfmt(c->cols[i].label, sizeof c->cols[i].label, "%s", xs[i]);
        c->cols[i].where.n = 1;
        strfmt(c->cols[i].where.c[0].key, sizeof c->cols[i].where.c[0].key, "%s", xk);
        strfmt(c->cols[i].where.c[0].vals[0], sizeof c->cols[i].where.c[0].vals[0], "%s", xs[i]);
        c->cols[i].where.c[0].nvals = 1;
    }
    return c;
}

/* One line "x mean min max" x3 groups of alpha from the final spectra of the completed runs of a
 * cell into a (nothing when no module has a fit); *points counts the lines. */
static int wd_alpha_line(const Fig *f, const Spec *c, int r, int i, const char *x, StrBuf *a, int *points, Err *e) {
    int *idx, n;
    if (select_runs(c, f->rs, &c->rows[r], &c->cols[i], &idx, &n, e)) return -1;
    double sum[3] = {0}, mn[3], mx[3];
    int cnt[3] = {0};
    for (int g = 0; g < 3; g++) mn[g] = INFINITY, mx[g] = -INFINITY;
    for (int k = 0; k < n; k++) {
        const Run *run = &f->rs->runs[idx[k]];
        if (strcmp(run->status, "completed")) continue;
        SpectrumRec *recs;
        int nr;
        long step;
        Err e2 = {{0}};
        if (fig_run_spectra(run, "final", &recs, &nr, &step, &e2)) {
            sb_printf(f->warn, "%s: %s\n", f->spec->name, e2.msg);
            continue;
        }
        for (int m = 0; m < nr; m++) {
            int g = group_of(module_type_name((ModuleType)recs[m].type));
            if (g < 0 || !(recs[m].alpha > 0)) continue; /* failed fits have alpha -1 */
            sum[g] += recs[m].alpha;
            cnt[g]++;
            mn[g] = fmin(mn[g], recs[m].alpha);
            mx[g] = fmax(mx[g], recs[m].alpha);
        }
        esd_free_spectra(recs, nr);
    }
    free(idx);
    if (cnt[0] || cnt[1] || cnt[2]) {
        sb_printf(a, "%s", x);
        for (int g = 0; g < 3; g++)
            if (cnt[g]) sb_printf(a, " %.10g %.10g %.10g", sum[g] / cnt[g], mn[g], mx[g]);
            else sb_printf(a, " NaN NaN NaN");
        sb_printf(a, "\n");
        (*points)++;
    }
    return 0;
}

/* Series r: its data files (perplexity per x, alpha per group per x) and its plot clauses in the
 * left (perplexity) and right (alpha) panels. */
static int wd_series(const Fig *f, const Spec *c, const Table *t, int r, char *const *xs, int nx, StrBuf *left,
                     StrBuf *right, Err *e) {
    static const char *const colors[6] = {"#4477aa", "#cc3311", "#228833", "#aa3377", "#ee7733", "#555555"};
    const Spec *s = f->spec;
    StrBuf d = {0}, a = {0};
    int apoints = 0;
    for (int i = 0; i < nx; i++) {
        const Cell *cell = table_cell(t, r, i);
        if (cell->n) sb_printf(&d, "%s %.10g %.10g\n", xs[i], cell->mean, cell->n > 1 ? cell->sd : 0);
        if (wd_alpha_line(f, c, r, i, xs[i], &a, &apoints, e)) {
            sb_free(&d);
            sb_free(&a);
            return -1;
        }
    }
    char suffix[32], rel[AD_PATH_MAX], rela[AD_PATH_MAX];
    snprintf(suffix, sizeof suffix, "ppl%d", r);
    int w1 = d.len ? fig_data(f, suffix, &d, rel, sizeof rel, e) : 0;
    snprintf(suffix, sizeof suffix, "alpha%d", r);
    int w2 = apoints ? fig_data(f, suffix, &a, rela, sizeof rela, e) : 0;
    int has_d = d.len > 0;
    sb_free(&d);
    sb_free(&a);
    if (w1 || w2) return -1;
    if (has_d) {
        sb_printf(left, "%s\"%s\" using 1:2:3 with yerrorlines lw 2 pt 7 lc rgb \"%s\" title ", left->len ? ", " : "plot ",
                  rel, colors[r % 6]);
        gp_str(left, s->rows[r].label);
    }
    for (int g = 0; apoints && g < 3; g++) {
        const char *gc = colors[g];
        sb_printf(right, "%s\"%s\" using 1:%d:%d with filledcurves fs transparent solid 0.15 lc rgb \"%s\" notitle, ",
                  right->len ? ", " : "plot ", rela, 3 + 3 * g, 4 + 3 * g, gc);
        sb_printf(right, "\"%s\" using 1:%d with linespoints lw 2 pt %d dt %d lc rgb \"%s\" title ", rela, 2 + 3 * g,
                  r ? 6 : 7, r ? 2 : 1, gc);
        char title[160];
        strfmt(title, sizeof title, "%s, %s", s->rows[r].label, GROUP_NAMES[g]);
        gp_str(right, title);
    }
    return 0;
}

int fig_wd_sweep(const Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    const char *xk = s->x_key[0] ? s->x_key : "decay.weight_decay";
    char *xs[SPEC_MAX_SEL];
    int nx = wd_x_values(f, xk, xs, e);
    if (!nx) return err_set(e, "%s: no runs with %s", s->path, xk);
    Spec *c = wd_spec(s, xk, xs, nx);
    Table t = {0};
    int rc = -1;
    StrBuf left = {0}, right = {0};
    if (table_build(&t, c, f->rs, NULL, e)) goto done;
    if (t.warn.p) sb_printf(f->warn, "%s", t.warn.p);
    for (int r = 0; r < t.nrows; r++)
        if (wd_series(f, c, &t, r, xs, nx, &left, &right, e)) goto done;
    if (!left.len) {
        err_set(e, "%s: no completed runs to plot", s->path);
        goto done;
    }
    sb_printf(body, "set multiplot layout 1,2 title ");
    gp_str(body, s->title[0] ? s->title : s->name);
    sb_printf(body, "\nset xlabel \"weight decay\"\n%s", s->logx ? "set logscale x\n" : "");
    sb_printf(body, "set format x \"%%.0e\"\nset ylabel \"%s\"\nset key top right\n%s\n", metric_label(c->metric), left.p);
    sb_printf(body, "set ylabel \"mean alpha (band: min-max over modules)\"\n");
    if (right.len) sb_printf(body, "%s\n", right.p);
    else {
        sb_printf(f->warn, "%s: no spectra files in the selected runs: the alpha panel is empty\n", s->name);
        gp_empty_panel(body, "no spectra files");
    }
    rc = 0;
done:
    for (int i = 0; i < nx; i++) free(xs[i]);
    table_free(&t);
    sb_free(&left);
    sb_free(&right);
    free(c);
    return rc;
}
