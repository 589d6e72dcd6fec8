/* fig_runs.c - figures made from run-level numbers: training / validation curves (kind curves),
 * bars per setting with the difference to the leftmost bar (kind bars: Figures 5-8), and the
 * weight-decay sweep (kind wd_sweep: Figure 4, perplexity and mean alpha per module group). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h" /* this file's kinds */
#include "kv.h"
#include "model.h"
#include "plot.h"
#include "rundir.h"
#include "stats.h"

/* ---- curves ---- */

/* The runs' `key` from `file` (those readable), and their mean +- std band at the steps every one logged
 * (fig_band): lines "step mean std" into out. *used = runs read; [*lo, *hi] the band's range. */
static int mean_curve(const Fig *f, const int *idx, int n, const char *file, const char *key, StrBuf *out, int *points,
                      int *used_out, double *lo, double *hi, Err *e) {
    double **xs = xcalloc((size_t)n, sizeof *xs), **ys = xcalloc((size_t)n, sizeof *ys);
    int *ns = xcalloc((size_t)n, sizeof *ns), used = 0;
    for (int i = 0; i < n; i++) {
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
    *points = fig_band(xs, ys, ns, used, out, lo, hi, NULL);
    for (int i = 0; i < used; i++) {
        free(xs[i]);
        free(ys[i]);
    }
    *used_out = used;
    free(xs);
    free(ys);
    free(ns);
    return 0;
}

int fig_curves(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    StrBuf plot[2] = {{0}};
    Key key = {0};
    int nmin = 1 << 30, nmax = 0;
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < s->nrows; i++) {
        int *idx, n, drawn = 0, used = 0;
        if (select_runs(s, f->rs, &s->rows[i], NULL, &idx, &n, e)) return -1;
        if (!n) {
            sb_printf(f->warn, "%s: series %s: no runs\n", s->name, s->rows[i].label);
            free(idx);
            continue;
        }
        const char *color = FIG_COLORS[i % 8];
        for (int side = 0; side < 2; side++) {
            StrBuf d = {0};
            int pts;
            mean_curve(f, idx, n, side ? RUNDIR_EVAL : RUNDIR_METRICS, side ? "ppl" : "loss", &d, &pts, &used,
                       &lo[side], &hi[side], e);
            char suffix[32], rel[AD_PATH_MAX];
            snprintf(suffix, sizeof suffix, "%s%d", side ? "val" : "train", i);
            if (pts && fig_data(f, suffix, &d, rel, sizeof rel, e)) {
                sb_free(&d);
                free(idx);
                return -1;
            }
            sb_free(&d);
            if (!pts) continue;
            fig_curve_clauses(&plot[side], rel, color, used, i, side, 2);
            drawn = 1;
        }
        free(idx);
        if (!drawn) continue;
        char style[128], title[160], nt[32];
        fig_n_text(nt, sizeof nt, used, used);
        if (used > 1) kv_strfmt(title, sizeof title, "%s (mean, %s)", s->rows[i].label, nt);
        else kv_strfmt(title, sizeof title, "%s (%s)", s->rows[i].label, nt);
        fig_curve_style(style, sizeof style, color, i, 1, 2);
        key_add(&key, style, title);
        nmin = used < nmin ? used : nmin;
        nmax = used > nmax ? used : nmax;
    }
    if (!plot[0].len && !plot[1].len) {
        key_free(&key);
        return err_set(e, "%s: no curve data in any run", s->path);
    }
    if (nmax > 1)
        key_add(&key, "filledcurves fs transparent solid 0.2 noborder lc rgb \"#777777\"",
                "band: mean +- std over seeds");
    /* curves_panel (report curves --metric): one of the two panels alone */
    int show[2] = {s->curves_panel != 2, s->curves_panel != 1}, np = show[0] + show[1], pi = 0;
    const Key *keys[1] = {&key};
    int span[1] = {np};
    Grid g;
    gp_grid_begin(f, body, s->title[0] ? s->title : s->name, NULL, 1, np, keys, span, 1, &g);
    sb_printf(body, "set xlabel \"update\"\nset ylabel \"training loss\"\n");
    if (show[0]) {
        gp_grid_panel(body, &g, pi++);
        if (plot[0].len) sb_printf(body, "%s\n", plot[0].p);
        else gp_empty_panel(body, "no training logs");
    }
    if (show[1]) {
        sb_printf(body, "set ylabel \"validation perplexity\"\n");
        gp_grid_panel(body, &g, pi++);
        /* a log axis only when the curves span a wide range (an overfitting run's climb); its range
         * is the data's, since gnuplot would widen a log axis to whole decades */
        if (plot[1].len && lo[1] > 0 && hi[1] / lo[1] > 3) {
            sb_printf(body, "set logscale y\nset yrange [%.6g:%.6g]\n", lo[1] / 1.08, hi[1] * 1.08);
            gp_log_tics(body, "y", lo[1] / 1.08, hi[1] * 1.08);
            sb_printf(body, "%s\nunset logscale y\nset yrange [*:*]\nset ytics auto\n", plot[1].p);
        } else if (plot[1].len) {
            sb_printf(body, "%s\n", plot[1].p);
        } else {
            gp_empty_panel(body, "no evaluations");
        }
    }
    gp_grid_key(body, &g, &key, 0, np);
    sb_free(&plot[0]);
    sb_free(&plot[1]);
    key_free(&key);
    return 0;
}

/* ---- bars ---- */

/* A copy of the spec with `metric` and at least one column (one matching everything). */
static Spec *spec_variant(const Spec *s, const char *metric) {
    Spec *c = xcalloc(1, sizeof *c);
    *c = *s;
    if (metric && metric[0]) kv_strfmt(c->metric, sizeof c->metric, "%s", metric);
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

/* A metric's axis and key label: its label in the one metric table (runs.h METRICS). */
static const char *metric_label(const char *m) {
    const MetricInfo *mi = metric_info(m);
    return mi ? mi->label : m;
}

/* One panel's data file: "row mean sd n label_y y2 xtic label" per bar (sd 0 for a single run; the
 * plot draws error bars only where n > 1). [*lo, *hi]: the bars' range with
 * their error bars; *nmin / *nmax the runs per bar. */
static int bars_panel_data(const Fig *f, const Table *t, const Table *t2, int c, char *rel, size_t cap, double *lo,
                           double *hi, int *nmin, int *nmax, int *any_y2, Err *e) {
    const Spec *s = f->spec;
    StrBuf d = {0};
    double base = t->nrows ? (table_cell(t, 0, c)->n ? table_cell(t, 0, c)->mean : NAN) : NAN;
    *lo = INFINITY, *hi = -INFINITY;
    for (int r = 0; r < t->nrows; r++) {
        const Cell *cell = table_cell(t, r, c);
        double sd = cell->n > 1 ? cell->sd : 0;
        if (cell->n) {
            *lo = fmin(*lo, cell->mean - sd);
            *hi = fmax(*hi, cell->mean + sd);
            *nmin = cell->n < *nmin ? cell->n : *nmin;
            *nmax = cell->n > *nmax ? cell->n : *nmax;
        }
    }
    for (int r = 0; r < t->nrows; r++) {
        const Cell *cell = table_cell(t, r, c);
        *any_y2 |= t2 && table_cell(t2, r, c)->n > 0;
        char lab[64];
        int dg = cell->digits;
        if (!cell->n) kv_strfmt(lab, sizeof lab, "%s", cell->nruns ? "failed" : "–");
        else if (r == 0 || isnan(base)) kv_strfmt(lab, sizeof lab, "%.*f", dg, cell->mean);
        else kv_strfmt(lab, sizeof lab, "%+.*f", dg, cell->mean - base);
        double y2 = t2 && table_cell(t2, r, c)->n ? table_cell(t2, r, c)->mean : NAN;
        double ylab = cell->n ? cell->mean + (cell->n > 1 ? cell->sd : 0) : (isfinite(*lo) ? *lo : 0);
        sb_printf(&d, "%d %.10g %.10g %d %.10g %.10g ", r, cell->n ? cell->mean : NAN, cell->n > 1 ? cell->sd : 0,
                  cell->n, ylab, y2);
        gp_dat_str(&d, s->rows[r].label);
        sb_printf(&d, " ");
        gp_dat_str(&d, lab);
        sb_printf(&d, "\n");
    }
    char suffix[32];
    snprintf(suffix, sizeof suffix, "panel%d", c);
    int rc = fig_data(f, suffix, &d, rel, cap, e);
    sb_free(&d);
    return rc;
}

/* The y range of a bar panel. Bars start at zero when the differences stay readable there (the
 * spread is at least a tenth of the top); otherwise the axis starts near the data and the panel
 * says so, since a bar's height then no longer measures its value. Returns 1 when cut. */
static int bars_yrange(StrBuf *b, double lo, double hi) {
    if (!isfinite(lo)) {
        sb_printf(b, "set yrange [*:*]\n");
        return 0;
    }
    double pad = (hi - lo) > 0 ? (hi - lo) : fmax(fabs(hi) * 0.05, 1e-3);
    if (lo >= 0 && (lo - 0.5 * pad <= 0 || (hi - lo) >= 0.1 * hi)) {
        sb_printf(b, "set yrange [0:%.10g]\n", hi + 0.6 * pad);
        return 0;
    }
    sb_printf(b, "set yrange [%.10g:%.10g]\n", lo - 0.5 * pad, hi + 0.6 * pad);
    return lo > 0;
}

int fig_bars(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    Spec *sm = spec_variant(s, s->metric), *s2 = s->y2_metric[0] ? spec_variant(s, s->y2_metric) : NULL;
    Table t = {0}, t2 = {0};
    StrBuf *pan = xcalloc(SPEC_MAX_SEL, sizeof *pan);
    Key key = {0};
    int rc = -1, nmin = 1 << 30, nmax = 0, any_y2 = 0;
    if (table_build(&t, sm, f->rs, NULL, e) || (s2 && table_build(&t2, s2, f->rs, NULL, e))) goto done;
    if (t.warn.p) sb_printf(f->warn, "%s", t.warn.p);
    /* about 55 px per bar (its value label in a 9 pt font) plus the axes of each panel */
    int want = t.ncols * (t.nrows * 55 + (s2 ? 230 : 130));
    if (want > f->width) f->width = want;
    for (int c = 0; c < t.ncols; c++) {
        char rel[AD_PATH_MAX];
        double lo, hi;
        int py2 = 0;
        if (bars_panel_data(f, &t, s2 ? &t2 : NULL, c, rel, sizeof rel, &lo, &hi, &nmin, &nmax, &py2, e)) goto done;
        any_y2 |= py2;
        const Sel *col = &s->cols[c < s->ncols ? c : 0];
        StrBuf yr = {0};
        int cut = bars_yrange(&yr, lo, hi);
        StrBuf *panel = &pan[c];
        sb_printf(panel, "set title ");
        /* every panel gets a second title line, so the panels keep one height */
        gp_title(panel, s->ncols ? col->label : "", cut ? "y axis does not start at 0" : " ");
        sb_printf(panel, "\n%s", yr.p);
        sb_free(&yr);
        if (!isfinite(lo)) {
            sb_printf(f->warn, "%s: panel %s: no completed runs\n", s->name, s->ncols ? col->label : "");
            gp_empty_panel(panel, "no completed runs");
            continue;
        }
        sb_printf(panel, "set xrange [-0.6:%d.6]\n", t.nrows - 1);
        sb_printf(panel,
                  "plot \"%s\" using 1:2:xtic(7) with boxes lc rgb \"%s\" notitle, "
                  "\"%s\" using 1:($4 > 1 ? $2 : NaN):3 with yerrorbars lc rgb \"black\" lw 1.5 pt 0 notitle, "
                  "\"%s\" using 1:5:8 with labels offset 0,0.8 font \",9\" notitle",
                  rel, FIG_COLORS[0], rel, rel);
        if (py2)
            sb_printf(panel, ", \"%s\" using 1:6 axes x1y2 with linespoints pt 7 lc rgb \"%s\" notitle", rel,
                      FIG_COLORS[1]);
        sb_printf(panel, "\n");
    }
    char title[256], nt[32];
    fig_n_text(nt, sizeof nt, nmax ? nmin : 0, nmax);
    if (nmax > 1)
        kv_strfmt(title, sizeof title, "%s: mean +- std over seeds (%s per bar)", metric_label(sm->metric), nt);
    else kv_strfmt(title, sizeof title, "%s (%s per bar: no error bars)", metric_label(sm->metric), nt);
    char style[96];
    kv_strfmt(style, sizeof style, "boxes fs solid 0.75 border -1 lc rgb \"%s\"", FIG_COLORS[0]);
    key_add(&key, style, title);
    if (any_y2) {
        kv_strfmt(style, sizeof style, "linespoints pt 7 lc rgb \"%s\"", FIG_COLORS[1]);
        key_add(&key, style, metric_label(s2->metric));
    }
    const Key *keys[1] = {&key};
    int span[1] = {t.ncols};
    Grid g;
    gp_grid_begin(f, body, s->title[0] ? s->title : s->name,
                  "label above a bar: the leftmost bar's value, the others' difference to it", 1, t.ncols, keys, span,
                  1, &g);
    sb_printf(body, "set style fill solid 0.75 border -1\nset boxwidth 0.6\nset xtics rotate by -25 nomirror\n");
    sb_printf(body, "set ylabel ");
    gp_str(body, metric_label(sm->metric));
    if (s2) {
        sb_printf(body, "\nset y2label ");
        gp_str(body, metric_label(s2->metric));
        sb_printf(body, "\nset y2tics\nset ytics nomirror\nset format y2 \"%%.4g\"");
    }
    sb_printf(body, "\n");
    for (int c = 0; c < t.ncols; c++) {
        gp_grid_panel(body, &g, c);
        sb_printf(body, "%s", pan[c].p);
    }
    gp_grid_key(body, &g, &key, 0, t.ncols);
    rc = 0;
done:
    table_free(&t);
    table_free(&t2);
    for (int c = 0; c < SPEC_MAX_SEL; c++) sb_free(&pan[c]);
    free(pan);
    key_free(&key);
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
 * a malloc'd copy); -1 when a series cannot be selected (its runs differ in a key, xk itself unless
 * allow_differ names it). Mixing is checked per (series, x) cell by the table; a series spans x. */
static int wd_x_values(const Fig *f, const char *xk, char **xs, Err *e) {
    const Spec *s = f->spec;
    int nx = 0;
    for (int r = 0; r < s->nrows; r++) {
        int *idx, n;
        if (select_runs(s, f->rs, &s->rows[r], NULL, &idx, &n, e) != 0) {
            for (int i = 0; i < nx; i++) free(xs[i]);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            const char *v = run_coord(&f->rs->runs[idx[i]], xk);
            int seen = !v;
            for (int j = 0; j < nx && !seen; j++) seen = kv_value_equal(xs[j], v);
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
        kv_strfmt(c->cols[i].label, sizeof c->cols[i].label, "%s", xs[i]);
        c->cols[i].where.n = 1;
        kv_strfmt(c->cols[i].where.c[0].key, sizeof c->cols[i].where.c[0].key, "%s", xk);
        kv_strfmt(c->cols[i].where.c[0].vals[0], sizeof c->cols[i].where.c[0].vals[0], "%s", xs[i]);
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
        if (run_spectra(run, "final", &recs, &nr, &step, &e2)) {
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

/* What the sweep's panels share: the x range drawn and, on a log axis, the x values that cannot
 * sit on it (WD=0), which are drawn as horizontal reference lines across the range instead. */
typedef struct {
    int logx;
    double xlo, xhi; /* the plotted range (padded) */
    char lo_s[32], hi_s[32];
} WdAxis;

static int wd_off_axis(const WdAxis *ax, const char *x) { return ax->logx && atof(x) <= 0; }

/* A cell's error bar: its std over seeds, or with `interval: ci95` the half-width of its mean's 95% t interval;
 * 0 for a single run. */
static double wd_bar(const Spec *s, const Cell *cell) {
    if (cell->n < 2) return 0;
    return !strcmp(s->interval, "ci95") ? stats_mean_ci_half(cell->sd, cell->n, 0.95) : cell->sd;
}
static const char *wd_bar_name(const Spec *s) {
    return !strcmp(s->interval, "ci95") ? "95% interval of the mean" : "std over seeds";
}

/* Where a (series, x) cell's point sits: at x itself, or with x_metric at the cell's mean of that
 * metric (e.g. mean_wd, the decay a method applied) with its std over seeds. "" = no value. */
typedef struct {
    char x[32];
    double sd;
} WdPos;

static int wd_positions(const Fig *f, const Spec *c, char *const *xs, int nx, WdPos *pos, Err *e) {
    const Spec *s = f->spec;
    if (!s->x_metric[0]) {
        for (int r = 0; r < c->nrows; r++)
            for (int i = 0; i < nx; i++) kv_strfmt(pos[r * nx + i].x, sizeof pos->x, "%s", xs[i]);
        return 0;
    }
    Spec *cx = spec_variant(c, s->x_metric);
    Table tx = {0};
    int rc = table_build(&tx, cx, f->rs, NULL, e);
    for (int r = 0; !rc && r < c->nrows; r++)
        for (int i = 0; i < nx; i++) {
            const Cell *cell = table_cell(&tx, r, i);
            if (cell->n) kv_strfmt(pos[r * nx + i].x, sizeof pos->x, "%.6g", cell->mean);
            pos[r * nx + i].sd = wd_bar(s, cell);
        }
    table_free(&tx);
    free(cx);
    return rc;
}

/* A reference line: the cell's value drawn at both ends of the x range ("x mean sd n" twice). */
static void wd_ref_lines(const Spec *s, const WdAxis *ax, const Cell *cell, StrBuf *d) {
    for (int k = 0; k < 2; k++)
        sb_printf(d, "%s %.10g %.10g %d\n", k ? ax->hi_s : ax->lo_s, cell->mean, wd_bar(s, cell), cell->n);
}

/* Series r: its data files (perplexity per x as "x mean sd n xsd", alpha per group per x; WD=0 on a log
 * axis as reference lines in *_ref files) and its plot clauses in the left (perplexity) and right
 * (alpha) panels, with their key entries; right NULL: no alpha panel. */
static int wd_series(const Fig *f, const Spec *c, const Table *t, int r, const WdPos *pos, int nx, const WdAxis *ax,
                     int ref_prefix, StrBuf *left, StrBuf *right, Key *kl, int *nmin, int *nmax, Err *e) {
    const Spec *s = f->spec;
    const char *color = FIG_COLORS[r % 8];
    StrBuf d = {0}, a = {0}, dref = {0}, aref = {0};
    int apoints = 0, arpoints = 0, rc = 0, refn = 0;
    for (int i = 0; i < nx && !rc; i++) {
        const Cell *cell = table_cell(t, r, i);
        const char *x = pos[i].x;
        if (cell->n && !x[0]) {
            sb_printf(f->warn, "%s: series %s: no %s for its point at %s: not drawn\n", s->name, s->rows[r].label,
                      s->x_metric, c->cols[i].label);
            continue;
        }
        int off = wd_off_axis(ax, x);
        if (cell->n && !off)
            sb_printf(&d, "%s %.10g %.10g %d %.10g\n", x, cell->mean, wd_bar(s, cell), cell->n, pos[i].sd);
        if (cell->n && off) wd_ref_lines(s, ax, cell, &dref), refn = cell->n;
        if (cell->n) {
            *nmin = cell->n < *nmin ? cell->n : *nmin;
            *nmax = cell->n > *nmax ? cell->n : *nmax;
        }
        if (!right) continue;
        if (!off) rc = wd_alpha_line(f, c, r, i, x, &a, &apoints, e);
        else if (!(rc = wd_alpha_line(f, c, r, i, ax->lo_s, &aref, &arpoints, e)))
            rc = wd_alpha_line(f, c, r, i, ax->hi_s, &aref, &arpoints, e);
    }
    char suffix[32], rel[AD_PATH_MAX] = "", rela[AD_PATH_MAX] = "", relr[AD_PATH_MAX] = "", relar[AD_PATH_MAX] = "";
    snprintf(suffix, sizeof suffix, "ppl%d", r);
    if (!rc && d.len) rc = fig_data(f, suffix, &d, rel, sizeof rel, e);
    snprintf(suffix, sizeof suffix, "alpha%d", r);
    if (!rc && apoints) rc = fig_data(f, suffix, &a, rela, sizeof rela, e);
    snprintf(suffix, sizeof suffix, "ppl%d_ref", r);
    if (!rc && dref.len) rc = fig_data(f, suffix, &dref, relr, sizeof relr, e);
    snprintf(suffix, sizeof suffix, "alpha%d_ref", r);
    if (!rc && arpoints) rc = fig_data(f, suffix, &aref, relar, sizeof relar, e);
    sb_free(&d);
    sb_free(&a);
    sb_free(&dref);
    sb_free(&aref);
    if (rc) return -1;
    char style[96], title[200];
    if (rel[0]) {
        /* with x_metric the point's x is a mean over seeds too: its std as a horizontal bar */
        sb_printf(left,
                  "%s\"%s\" using 1:2:%s lw 1.5 pt 7 lc rgb \"%s\" notitle, "
                  "\"%s\" using 1:2 with lines lw 2 lc rgb \"%s\" notitle",
                  left->len ? ", " : "plot ", rel,
                  s->x_metric[0] ? "5:($4 > 1 ? $3 : 0) with xyerrorbars" : "($4 > 1 ? $3 : NaN) with yerrorbars",
                  color, rel, color);
        kv_strfmt(style, sizeof style, "linespoints lw 2 pt 7 lc rgb \"%s\"", color);
        key_add(kl, style, s->rows[r].label);
    }
    if (relr[0]) {
        /* WD=0 has no place on a log axis: its mean as a dashed line across, its std as a band */
        sb_printf(left,
                  "%s\"%s\" using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.15 noborder lc rgb \"%s\" "
                  "notitle, \"%s\" using 1:2 with lines lw 2 dt 2 lc rgb \"%s\" notitle",
                  left->len ? ", " : "plot ", relr, color, relr, color);
        kv_strfmt(style, sizeof style, "lines lw 2 dt 2 lc rgb \"%s\"", color);
        /* one WD=0 line is the baseline of every series: no series name in front of it */
        kv_strfmt(title, sizeof title, "%s%sWD=0%s", ref_prefix ? s->rows[r].label : "", ref_prefix ? ": " : "",
                  refn > 1 ? (strcmp(s->interval, "ci95") ? " (band +- std)" : " (band: 95% interval)") : "");
        key_add(kl, style, title);
    }
    for (int g = 0; apoints && g < 3; g++) {
        const char *gc = FIG_COLORS[g];
        sb_printf(right,
                  "%s\"%s\" using 1:%d:%d with filledcurves fs transparent solid 0.15 noborder lc rgb \"%s\" notitle, ",
                  right->len ? ", " : "plot ", rela, 3 + 3 * g, 4 + 3 * g, gc);
        sb_printf(right, "\"%s\" using 1:%d with linespoints lw 2 pt %d dt %d lc rgb \"%s\" notitle", rela, 2 + 3 * g,
                  r ? 6 : 7, r ? 2 : 1, gc);
    }
    for (int g = 0; arpoints && g < 3; g++)
        sb_printf(right, "%s\"%s\" using 1:%d with lines lw 1.5 dt 3 lc rgb \"%s\" notitle",
                  right->len ? ", " : "plot ", relar, 2 + 3 * g, FIG_COLORS[g]);
    return 0;
}

/* The x axis: padded range over the points that sit on it (npos of them, "" = none), ticks at the
 * nominal values themselves, or with x_metric (points anywhere) at round values. */
static void wd_axis(const Spec *s, char *const *xs, int nx, const WdPos *pos, int npos, WdAxis *ax, StrBuf *b) {
    ax->logx = s->logx;
    ax->xlo = INFINITY, ax->xhi = -INFINITY;
    for (int i = 0; i < npos; i++) {
        if (!pos[i].x[0] || wd_off_axis(ax, pos[i].x)) continue;
        double x = atof(pos[i].x), lo = x - pos[i].sd;
        ax->xlo = fmin(ax->xlo, ax->logx && lo <= 0 ? x : lo);
        ax->xhi = fmax(ax->xhi, x + pos[i].sd);
    }
    if (!isfinite(ax->xlo)) ax->xlo = ax->logx ? 1e-6 : 0, ax->xhi = ax->logx ? 1 : 1;
    if (ax->logx) {
        /* 6% of the decades spanned on each side (at least 15%), so end points clear the frame */
        double m = fmax(1.15, pow(ax->xhi / ax->xlo, 0.06));
        ax->xlo /= m, ax->xhi *= m;
    } else {
        double pad = ax->xhi > ax->xlo ? 0.05 * (ax->xhi - ax->xlo) : 0.5;
        ax->xlo -= pad, ax->xhi += pad;
    }
    snprintf(ax->lo_s, sizeof ax->lo_s, "%.6g", ax->xlo);
    snprintf(ax->hi_s, sizeof ax->hi_s, "%.6g", ax->xhi);
    sb_printf(b, "set xlabel ");
    gp_str(b, s->x_metric[0] ? metric_label(s->x_metric) : "weight decay");
    sb_printf(b, "\n%sset xrange [%s:%s]\n", ax->logx ? "set logscale x\n" : "", ax->lo_s, ax->hi_s);
    if (s->x_metric[0]) {
        if (ax->logx) gp_log_tics(b, "x", ax->xlo, ax->xhi);
        else sb_printf(b, "set xtics autofreq\n");
        return;
    }
    sb_printf(b, "set xtics (");
    int n = 0;
    for (int i = 0; i < nx; i++)
        if (!wd_off_axis(ax, xs[i]) && isfinite(atof(xs[i]))) { /* values from config.yaml: a label and a number */
            sb_printf(b, "%s", n++ ? ", " : "");
            gp_str(b, xs[i]);
            sb_printf(b, " %.17g", atof(xs[i]));
        }
    /* more than six values crowd a panel's width: turn their labels */
    sb_printf(b, ")%s\n", n > 6 ? " rotate by -45" : "");
}

/* A log metric axis keeps the optimum readable beside a diverged end of the scan: the range hugs
 * the data (gnuplot would widen it to whole decades) and ticks sit at 1, 2, 3, 5 x 10^k. */
static void wd_logy(StrBuf *b, int on) {
    if (!on) {
        sb_printf(b, "unset logscale y\nset offsets 0, 0, 0, 0\nset autoscale y\nset ytics autofreq\n");
        return;
    }
    sb_printf(b, "set logscale y\nset autoscale yfix\nset offsets 0, 0, graph 0.06, graph 0.06\nset format y "
                 "\"%%g\"\nset ytics (");
    for (int k = -3, n = 0; k <= 7; k++)
        for (int m = 0; m < 4; m++) sb_printf(b, "%s%g", n++ ? ", " : "", (double[]){1, 2, 3, 5}[m] * pow(10, k));
    sb_printf(b, ")\n");
}

int fig_wd_sweep(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    const char *xk = s->x_key[0] ? s->x_key : "decay.weight_decay";
    char *xs[SPEC_MAX_SEL];
    int nx = wd_x_values(f, xk, xs, e);
    if (nx < 0) return -1;
    if (!nx) return err_set(e, "%s: no runs with %s", s->path, xk);
    Spec *c = wd_spec(s, xk, xs, nx);
    Table t = {0};
    int rc = -1, nmin = 1 << 30, nmax = 0;
    StrBuf left = {0}, right = {0}, axis = {0};
    Key kl = {0}, kr = {0};
    WdAxis ax;
    WdPos *pos = xcalloc((size_t)(c->nrows * nx), sizeof *pos);
    f->height = 560; /* room for the keys under the panels */
    if (wd_positions(f, c, xs, nx, pos, e)) goto done;
    wd_axis(s, xs, nx, pos, c->nrows * nx, &ax, &axis);
    if (table_build(&t, c, f->rs, NULL, e)) goto done;
    if (t.warn.p) sb_printf(f->warn, "%s", t.warn.p);
    int nref = 0; /* series with a WD=0 reference line */
    for (int r = 0; r < t.nrows; r++)
        for (int i = 0; i < nx; i++)
            if (table_cell(&t, r, i)->n && pos[r * nx + i].x[0] && wd_off_axis(&ax, pos[r * nx + i].x)) {
                nref++;
                break;
            }
    /* the alpha panel tells series apart by point and dash style: two at most */
    int alpha_panel = t.nrows <= 2;
    for (int r = 0; r < t.nrows; r++)
        if (wd_series(f, c, &t, r, pos + r * nx, nx, &ax, nref > 1, &left, alpha_panel ? &right : NULL, &kl, &nmin,
                      &nmax, e))
            goto done;
    if (!left.len) {
        err_set(e, "%s: no completed runs to plot", s->path);
        goto done;
    }
    for (int g = 0; g < 3; g++) {
        char style[64];
        kv_strfmt(style, sizeof style, "lines lw 2 lc rgb \"%s\"", FIG_COLORS[g]);
        key_add(&kr, style, GROUP_NAMES[g]);
    }
    for (int r = 0; r < t.nrows && r < 2; r++)
        key_add(&kr, r ? "linespoints lw 2 pt 6 dt 2 lc rgb \"black\"" : "linespoints lw 2 pt 7 lc rgb \"black\"",
                s->rows[r].label);
    key_add(&kr, "filledcurves fs transparent solid 0.15 noborder lc rgb \"#777777\"", "band: min-max over modules");
    if (strstr(right.p ? right.p : "", "dt 3")) key_add(&kr, "lines lw 1.5 dt 3 lc rgb \"black\"", "WD=0 (eta 0)");
    char sub[160], nt[32];
    fig_n_text(nt, sizeof nt, nmin, nmax);
    if (nmax > 1 && s->x_metric[0])
        kv_strfmt(sub, sizeof sub, "points: mean +- %s, both coordinates (%s per point)", wd_bar_name(s), nt);
    else if (nmax > 1) kv_strfmt(sub, sizeof sub, "points: mean +- %s (%s per point)", wd_bar_name(s), nt);
    else kv_strfmt(sub, sizeof sub, "one run per point (%s): no error bars", nt);
    const Key *keys[2] = {&kl, &kr};
    int span[2] = {1, 1};
    Grid g;
    gp_grid_begin(f, body, s->title[0] ? s->title : s->name, sub, 1, alpha_panel ? 2 : 1, keys, span,
                  alpha_panel ? 2 : 1, &g);
    sb_printf(body, "%sset ylabel ", axis.p);
    gp_str(body, metric_label(c->metric));
    sb_printf(body, "\n");
    gp_grid_panel(body, &g, 0);
    /* a log metric axis keeps the optimum readable beside a diverged end of the scan */
    if (s->logy) wd_logy(body, 1);
    sb_printf(body, "%s\n", left.p);
    if (s->logy) wd_logy(body, 0);
    if (!alpha_panel) {
        gp_grid_key(body, &g, &kl, 0, 1);
        rc = 0;
        goto done;
    }
    sb_printf(body, "set ylabel \"mean alpha\"\n");
    gp_grid_panel(body, &g, 1);
    if (right.len) sb_printf(body, "%s\n", right.p);
    else {
        sb_printf(f->warn, "%s: no spectra files in the selected runs: the alpha panel is empty\n", s->name);
        gp_empty_panel(body, "no spectra files");
    }
    gp_grid_key(body, &g, &kl, 0, 1);
    if (right.len) gp_grid_key(body, &g, &kr, 1, 2);
    rc = 0;
done:
    for (int i = 0; i < nx; i++) free(xs[i]);
    free(pos);
    table_free(&t);
    sb_free(&left);
    sb_free(&right);
    sb_free(&axis);
    key_free(&kl);
    key_free(&kr);
    free(c);
    return rc;
}
