/* fig_alpha.c - mean alpha per module type against the training step (kind alpha_steps): one panel
 * per series, one line per module type (q, k, v, o, gate, up, down), the mean over the series' seeds
 * with a +- std band.
 *
 * A run's alpha at a step is the mean over its layers of the module type's fitted alpha (failed fits,
 * alpha <= 0 or null, left out). AdaDecay and AlphaDecay log every decay update in decay.jsonl; the
 * other methods fit no spectra while training, so their alphas come from the spectra files saved at
 * the first and final update (two points), and the panel title says so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h"
#include "kv.h"
#include "model.h"
#include "stats.h"

#define AT_TYPES 7
#define AT_MAX_STEPS 4096
static const char *const AT_NAMES[AT_TYPES] = {"q", "k", "v", "o", "gate", "up", "down"};

/* One run's mean alpha per (step, type); NaN where the type had no valid fit. */
typedef struct {
    long steps[AT_MAX_STEPS];
    double a[AT_MAX_STEPS][AT_TYPES];
    int cnt[AT_MAX_STEPS][AT_TYPES];
    int n;
    int from_spectra;
} RunAlpha;

static int type_index(const char *t) {
    for (int i = 0; i < AT_TYPES; i++)
        if (!strcmp(t, AT_NAMES[i])) return i;
    return -1;
}

/* Add one module's alpha at step to the run's sums (steps kept in the order first seen). */
static void ra_add(RunAlpha *ra, long step, int type, double alpha) {
    int k = 0;
    while (k < ra->n && ra->steps[k] != step) k++;
    if (k == ra->n) {
        if (ra->n == AT_MAX_STEPS) return;
        ra->steps[ra->n++] = step;
    }
    if (type < 0 || !(alpha > 0)) return;
    ra->a[k][type] += alpha;
    ra->cnt[k][type]++;
}

static int cmp_step(const void *x, const void *y) {
    long a = *(const long *)x, b = *(const long *)y;
    return (a > b) - (a < b);
}

/* Sums -> means, steps sorted (each step's row moves with it). */
static void ra_finish(RunAlpha *ra) {
    for (int k = 0; k < ra->n; k++)
        for (int t = 0; t < AT_TYPES; t++) ra->a[k][t] = ra->cnt[k][t] ? ra->a[k][t] / ra->cnt[k][t] : NAN;
    for (int i = 1; i < ra->n; i++) /* insertion sort: few steps, rows too big to qsort cheaply */
        for (int j = i; j > 0 && cmp_step(&ra->steps[j - 1], &ra->steps[j]) > 0; j--) {
            long s = ra->steps[j];
            ra->steps[j] = ra->steps[j - 1];
            ra->steps[j - 1] = s;
            for (int t = 0; t < AT_TYPES; t++) {
                double v = ra->a[j][t];
                ra->a[j][t] = ra->a[j - 1][t];
                ra->a[j - 1][t] = v;
            }
        }
}

/* From decay.jsonl; 1 when the run logged no decay update (the method fits nothing while training). */
static int ra_from_decay(const Run *r, RunAlpha *ra, Err *e) {
    KVList *recs;
    int n, rc = run_decay(r, &recs, NULL, &n, e);
    if (rc) return rc;
    for (int i = 0; i < n; i++) {
        double st, alpha = NAN;
        const char *type = kv_get(&recs[i], "type");
        if (kv_num(&recs[i], "step", &st) || !type) continue;
        kv_num(&recs[i], "alpha", &alpha);
        ra_add(ra, (long)st, type_index(type), alpha);
    }
    jsonl_free(recs, n);
    return ra->n ? 0 : 1;
}

/* From the spectra files at the first and final update. */
static int ra_from_spectra(const Run *r, RunAlpha *ra, Err *e) {
    static const char *const which[2] = {"first", "final"};
    long prev = -1;
    for (int w = 0; w < 2; w++) {
        SpectrumRec *recs;
        int nr;
        long step;
        int rc = run_spectra(r, which[w], &recs, &nr, &step, e);
        if (rc) return rc;
        if (step != prev)
            for (int m = 0; m < nr; m++)
                ra_add(ra, step, type_index(module_type_name((ModuleType)recs[m].type)), recs[m].alpha);
        prev = step;
        esd_free_spectra(recs, nr);
    }
    ra->from_spectra = 1;
    return 0;
}

/* The series' data file "step (mean std) x 7 types n" over the steps every run has; [lo, hi] widen
 * to the bands, *xmax to the last step. *nused runs went in, *spectra of them from spectra files. */
static int series_alpha(const Fig *f, const Sel *sel, StrBuf *d, int *nused, int *spectra, double *lo, double *hi,
                        double *xmax, Err *e) {
    int *idx, n;
    if (select_runs(f->spec, f->rs, sel, NULL, &idx, &n, e)) return -1;
    RunAlpha *ra = xcalloc((size_t)(n ? n : 1), sizeof *ra);
    int used = 0;
    for (int i = 0; i < n; i++) {
        const Run *r = &f->rs->runs[idx[i]];
        if (strcmp(r->status, "completed")) continue;
        Err e2 = {{0}};
        int rc = ra_from_decay(r, &ra[used], &e2);
        if (rc == 1) {
            memset(&ra[used], 0, sizeof ra[used]);
            rc = ra_from_spectra(r, &ra[used], &e2);
        }
        if (rc) {
            sb_printf(f->warn, "%s: series %s: %s\n", f->spec->name, sel->label, e2.msg);
            memset(&ra[used], 0, sizeof ra[used]);
            continue;
        }
        ra_finish(&ra[used]);
        *spectra += ra[used].from_spectra;
        used++;
    }
    free(idx);
    sb_printf(d, "# step, then mean and std over runs of each type's mean alpha: q k v o gate up down; then n\n");
    double *v = xcalloc((size_t)(used ? used : 1), sizeof *v);
    int *pos = xcalloc((size_t)(used ? used : 1), sizeof *pos);
    for (int k = 0; used && k < ra[0].n; k++) {
        long st = ra[0].steps[k];
        int all = 1;
        for (int j = 0; j < used && all; j++) {
            int p = 0;
            while (p < ra[j].n && ra[j].steps[p] != st) p++;
            all = p < ra[j].n;
            pos[j] = p;
        }
        if (!all) continue;
        sb_printf(d, "%ld", st);
        for (int t = 0; t < AT_TYPES; t++) {
            int m = 0;
            for (int j = 0; j < used; j++)
                if (!isnan(ra[j].a[pos[j]][t])) v[m++] = ra[j].a[pos[j]][t];
            double mean, sd;
            stats_mean_sd(v, m, &mean, &sd);
            if (m < 2) sd = 0;
            if (m) sb_printf(d, " %.10g %.10g", mean, sd), *lo = fmin(*lo, mean - sd), *hi = fmax(*hi, mean + sd);
            else sb_printf(d, " NaN NaN");
        }
        sb_printf(d, " %d\n", used);
        *xmax = fmax(*xmax, (double)st);
    }
    free(v);
    free(pos);
    free(ra);
    *nused = used;
    return 0;
}

int fig_alpha_steps(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    int ns = s->nrows, cols = ns < 3 ? (ns ? ns : 1) : 3, rows = (ns + cols - 1) / cols, any = 0, nmax = 0;
    if (!ns) return err_set(e, "%s: alpha_steps needs series: (one panel each)", s->path);
    if (rows > 1) f->height = 360 * rows + 80;
    StrBuf *pan = xcalloc((size_t)ns, sizeof *pan);
    double lo = INFINITY, hi = -INFINITY, xmax = 0;
    int rc = 0;
    for (int i = 0; i < ns && !rc; i++) {
        StrBuf d = {0};
        int used = 0, spectra = 0;
        if ((rc = series_alpha(f, &s->rows[i], &d, &used, &spectra, &lo, &hi, &xmax, e))) {
            sb_free(&d);
            break;
        }
        char suffix[32], rel[AD_PATH_MAX], sub[160];
        snprintf(suffix, sizeof suffix, "s%d", i);
        if (used && (rc = fig_data(f, suffix, &d, rel, sizeof rel, e))) {
            sb_free(&d);
            break;
        }
        sb_free(&d);
        nmax = used > nmax ? used : nmax;
        if (!used) kv_strfmt(sub, sizeof sub, "no completed run with alphas");
        else
            kv_strfmt(sub, sizeof sub, "n = %d%s", used,
                      spectra ? "; first and final spectra only (dashed)" : "; decay.jsonl");
        sb_printf(&pan[i], "set title ");
        gp_title(&pan[i], s->rows[i].label, sub);
        sb_printf(&pan[i], "\n");
        if (!used) {
            sb_printf(f->warn, "%s: series %s: no completed runs with alphas\n", s->name, s->rows[i].label);
            gp_empty_panel(&pan[i], "no runs");
            continue;
        }
        any = 1;
        for (int t = 0; t < AT_TYPES; t++) {
            const char *c = FIG_COLORS[t];
            if (used > 1)
                sb_printf(&pan[i],
                          "%s\"%s\" using 1:($%d-$%d):($%d+$%d) with filledcurves fs transparent solid 0.15 noborder "
                          "lc rgb \"%s\" notitle",
                          t ? ", " : "plot ", rel, 2 + 2 * t, 3 + 2 * t, 2 + 2 * t, 3 + 2 * t, c);
            /* two saved spectra joined by a dashed line: nothing was measured in between */
            sb_printf(&pan[i], "%s\"%s\" using 1:%d with linespoints lw 2 pt 7 ps 0.6 dt %d lc rgb \"%s\" notitle",
                      (used > 1 || t) ? ", " : "plot ", rel, 2 + 2 * t, spectra ? 2 : 1, c);
        }
        sb_printf(&pan[i], "\n");
    }
    if (!rc && !any)
        rc = err_set(e, "%s: no completed run of any series has alphas (decay.jsonl or spectra files)", s->path);
    if (rc) {
        for (int i = 0; i < ns; i++) sb_free(&pan[i]);
        free(pan);
        return -1;
    }
    Key key = {0};
    for (int t = 0; t < AT_TYPES; t++) {
        char style[64];
        kv_strfmt(style, sizeof style, "linespoints lw 2 pt 7 ps 0.6 lc rgb \"%s\"", FIG_COLORS[t]);
        key_add(&key, style, AT_NAMES[t]);
    }
    if (nmax > 1)
        key_add(&key, "filledcurves fs transparent solid 0.15 noborder lc rgb \"#777777\"", "band: +- std over seeds");
    const Key *keys[1] = {&key};
    int span[1] = {cols};
    Grid g;
    gp_grid_begin(f, body, s->title[0] ? s->title : s->name,
                  "mean alpha of each module type over the layers, mean over seeds", rows, cols, keys, span, 1, &g);
    /* one x and y range for every panel, so the methods compare at a glance */
    double pad = hi > lo ? 0.05 * (hi - lo) : 0.1;
    sb_printf(body, "set xlabel \"update\"\nset ylabel \"alpha\"\nset xrange [0:%.6g]\nset yrange [%.6g:%.6g]\n",
              xmax > 0 ? xmax : 1, lo - pad, hi + pad);
    for (int i = 0; i < ns; i++) {
        gp_grid_panel(body, &g, i);
        sb_printf(body, "%s", pan[i].p);
        sb_printf(body, "set xrange [0:%.6g]\nset yrange [%.6g:%.6g]\n", xmax > 0 ? xmax : 1, lo - pad, hi + pad);
        sb_free(&pan[i]);
    }
    gp_grid_key(body, &g, &key, 0, cols);
    key_free(&key);
    free(pan);
    return 0;
}
