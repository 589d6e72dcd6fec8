/* fig_wd.c - the decay a run applied against the update (kind wd_steps): one line per series, the mean over
 * its completed runs (collapsed ones left out, as a table leaves them) with a +- std band (fig_band, as
 * curves), in two panels.
 *
 * Left, the whole model: metrics.jsonl's wd_mean at each logged update, the decay of every tensor (embedding,
 * norms, lm_head and untuned modules at eta included) weighted by its size. It is the quantity the metric
 * mean_wd averages (runs.c: the plain mean over the logged updates), read from the same file, so the mean
 * over its points of a run's curve is that run's mean_wd, and the mean of a series' curve the mean of its
 * runs' mean_wd when they logged the same updates. Uniform, WD=0 and AWD are drawn from it as they are (AWD's
 * lam_bar moves every update).
 *
 * Right, the tuned matrices: per assignment of decay.jsonl (AdaDecay, AlphaDecay) the size-weighted mean of
 * the wd of the modules it lists, sizes from the run's model (config.yaml's model.*, model_table), drawn as
 * the step function it is (held from its step to the next assignment, the last to the run's final update).
 * A method that assigns no module-wise decay gives every tensor the same decay, so its right curve is its
 * left one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "figure.h" /* this file's kind */
#include "kv.h"
#include "model.h"
#include "plot.h"
#include "rundir.h"
#include "table.h"

static const char *const PANEL[2] = {"whole model (every tensor; its mean over training is mean_wd)",
                                     "tuned matrices (the modules of decay.jsonl)"};

/* One run's curves, per panel: x (update), y (decay), n points. */
typedef struct {
    double *x[2], *y[2];
    int n[2];
} RunWd;

static void rw_free(RunWd *w) {
    for (int p = 0; p < 2; p++) free(w->x[p]), free(w->y[p]);
    memset(w, 0, sizeof *w);
}

/* The tuned matrices' size-weighted mean decay per assignment of decay.jsonl, step-expanded: each value at
 * its step and again at the next assignment's step (the run's last update, `last`, for the final one), so a
 * line through the points draws the step function. 1 without decay.jsonl; -1 on a record lacking step,
 * module or wd, a module the run's model does not have, or steps going back (Err names FILE:LINE). An empty
 * decay.jsonl (what Uniform, WD=0 and AWD leave) counts as none. */
static int tuned_curve(const Run *r, double last, RunWd *w, Err *e) {
    KVList *recs;
    int *lines, n, rc = run_decay(r, &recs, &lines, &n, e);
    if (rc || !n) { /* absent, or empty as the methods without module-wise decay leave it */
        jsonl_free(recs, n);
        free(lines);
        return rc ? rc : 1;
    }
    char path[AD_PATH_MAX + 32];
    rundir_path(path, sizeof path, r->dir, RUNDIR_DECAY);
    ModelConfig mc;
    Model m = {0};
    if (run_model_config(r, &mc, e) || model_table(&m, &mc, e)) {
        jsonl_free(recs, n);
        free(lines);
        return -1;
    }
    double *st = xcalloc((size_t)n + 1, sizeof *st), *sw = xcalloc((size_t)n + 1, sizeof *sw);
    double *ss = xcalloc((size_t)n + 1, sizeof *ss);
    int k = 0;
    for (int i = 0; i < n && !rc; i++) {
        double step, wd;
        const char *mod = kv_get(&recs[i], "module");
        char tname[160];
        kv_strfmt(tname, sizeof tname, "%s.weight", mod ? mod : "");
        int t = mod ? model_find_tensor(&m, tname) : -1;
        if (kv_num(&recs[i], "step", &step) || kv_num(&recs[i], "wd", &wd) || !mod || !isfinite(wd))
            rc = err_set(e, "%s:%d: a decay record needs a numeric step, a module and a finite wd", path, lines[i]);
        else if (t < 0)
            rc =
                err_set(e, "%s:%d: module %s is not a tensor of the model config.yaml describes (hidden %d, %d layers)",
                        path, lines[i], mod, mc.hidden_size, mc.num_hidden_layers);
        else if (k && step < st[k - 1])
            rc = err_set(e, "%s:%d: step %g after step %g (decay.jsonl is written in update order)", path, lines[i],
                         step, st[k - 1]);
        else {
            if (!k || step > st[k - 1]) st[k] = step, sw[k] = ss[k] = 0, k++;
            sw[k - 1] += wd * (double)m.tensors[t].size;
            ss[k - 1] += (double)m.tensors[t].size;
        }
    }
    if (!rc) {
        w->x[1] = xcalloc((size_t)2 * k + 1, sizeof(double));
        w->y[1] = xcalloc((size_t)2 * k + 1, sizeof(double));
        for (int j = 0; j < k; j++) {
            double v = sw[j] / ss[j], end = j + 1 < k ? st[j + 1] : last;
            w->x[1][w->n[1]] = st[j], w->y[1][w->n[1]++] = v;
            if (end > st[j]) w->x[1][w->n[1]] = end, w->y[1][w->n[1]++] = v;
        }
    }
    free(st);
    free(sw);
    free(ss);
    model_free(&m);
    jsonl_free(recs, n);
    free(lines);
    return rc;
}

/* A run's two curves: 0, or -1 (Err) when its files lack them. */
static int run_wd(const Run *r, RunWd *w, Err *e) {
    memset(w, 0, sizeof *w);
    if (run_series(r, RUNDIR_METRICS, "step", "wd_mean", &w->x[0], &w->y[0], &w->n[0], e)) return -1;
    if (!w->n[0]) return err_set(e, "%s/%s: no wd_mean values", r->dir, RUNDIR_METRICS);
    int rc = tuned_curve(r, w->x[0][w->n[0] - 1], w, e);
    if (rc == 1) { /* no module-wise decay: every tensor has the decay of the whole model */
        w->n[1] = w->n[0];
        w->x[1] = xcalloc((size_t)w->n[0], sizeof(double));
        w->y[1] = xcalloc((size_t)w->n[0], sizeof(double));
        memcpy(w->x[1], w->x[0], (size_t)w->n[0] * sizeof(double));
        memcpy(w->y[1], w->y[0], (size_t)w->n[0] * sizeof(double));
        rc = 0;
    }
    return rc;
}

/* One series: its completed runs' curves, banded per panel into data files "update mean std" (rel[p]; "" when
 * nothing was drawn). *used runs went in; *avg the mean of the left curve's points; cval[p] the value when every
 * run's curve in panel p is that one constant (Uniform, a mean-preserving form), else NAN; [lo, hi] per panel
 * widen to the bands, *xmax to the last update. -1 on a malformed run file (Err names it). */
static int series_wd(const Fig *f, int i, char rel[2][AD_PATH_MAX], int *used, double *avg, double *cval, double *lo,
                     double *hi, double *xmax, Err *e) {
    const Sel *sel = &f->spec->rows[i];
    int *idx, n;
    if (select_runs(f->spec, f->rs, sel, NULL, &idx, &n, e)) return -1;
    RunWd *w = xcalloc((size_t)(n ? n : 1), sizeof *w);
    int u = 0, rc = 0;
    for (int j = 0; j < n && !rc; j++) {
        const Run *r = &f->rs->runs[idx[j]];
        if (strcmp(r->status, "completed")) continue;
        if (run_collapsed(r)) { /* as in a table: a failure, not the method's decay (table.h) */
            sb_printf(f->warn, "%s: series %s: run %s collapsed: not drawn\n", f->spec->name, sel->label, r->dir);
            continue;
        }
        if (!(rc = run_wd(r, &w[u], e))) u++;
        else rw_free(&w[u]);
    }
    free(idx);
    *used = u;
    *avg = NAN;
    static const char *const HEAD[2] = {
        "# update, mean and std over runs of metrics.jsonl's wd_mean (size-weighted over every tensor)\n",
        "# update, mean and std over runs of the tuned matrices' size-weighted decay; each assignment's value at its "
        "update and again where the next begins (a step function)\n"};
    for (int p = 0; p < 2; p++) {
        cval[p] = u ? w[0].y[p][0] : NAN;
        for (int j = 0; j < u; j++)
            for (int k = 0; k < w[j].n[p]; k++)
                if (fabs(w[j].y[p][k] - cval[p]) > 1e-9 * fmax(1, fabs(cval[p]))) cval[p] = NAN;
    }
    for (int p = 0; p < 2 && !rc && u; p++) {
        double *xs[u], *ys[u];
        int ns[u];
        for (int j = 0; j < u; j++) xs[j] = w[j].x[p], ys[j] = w[j].y[p], ns[j] = w[j].n[p];
        StrBuf d = {0};
        sb_printf(&d, "%s", HEAD[p]);
        double sum = 0;
        int pts = fig_band(xs, ys, ns, u, &d, &lo[p], &hi[p], &sum);
        char suffix[32];
        kv_strfmt(suffix, sizeof suffix, "s%d_%s", i, p ? "tuned" : "all");
        rel[p][0] = 0;
        if (!pts) sb_printf(f->warn, "%s: series %s: its runs share no logged update\n", f->spec->name, sel->label);
        else if ((rc = fig_data(f, suffix, &d, rel[p], AD_PATH_MAX, e)) == 0 && !p) *avg = sum / pts;
        for (int j = 0; j < u && pts; j++) *xmax = fmax(*xmax, xs[j][ns[j] - 1]);
        sb_free(&d);
    }
    for (int j = 0; j < u; j++) rw_free(&w[j]);
    free(w);
    return rc;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int fig_wd_steps(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    int ns = s->nrows, nmax = 0;
    if (!ns) return err_set(e, "%s: wd_steps needs series: (one line each)", s->path);
    StrBuf plot[2] = {{0}}, missing = {0}, absent = {0};
    Key key = {0};
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY}, xmax = 0;
    int rc = 0;
    /* results: directories not there yet (report.c reads the others): named, never an error */
    for (int k = 0; f->grids && k < f->grids->ndirs; k++)
        if (!is_dir(f->grids->dirs[k])) sb_printf(&absent, "%s%s", absent.len ? "; " : "", s->results[k]);
    char(*rel)[2][AD_PATH_MAX] = xcalloc((size_t)ns, sizeof *rel);
    double(*cval)[2] = xcalloc((size_t)ns, sizeof *cval), *avg = xcalloc((size_t)ns, sizeof *avg);
    int *used = xcalloc((size_t)ns, sizeof *used), nested = 0;
    for (int i = 0; i < ns && !rc; i++) {
        if ((rc = series_wd(f, i, rel[i], &used[i], &avg[i], cval[i], lo, hi, &xmax, e))) break;
        if (!used[i] || !rel[i][0][0]) {
            sb_printf(f->warn, "%s: series %s: no completed runs\n", s->name, s->rows[i].label);
            sb_printf(&missing, "%s%s", missing.len ? "; " : "", s->rows[i].label);
            used[i] = 0;
        }
    }
    for (int i = 0; i < ns && !rc; i++) {
        if (!used[i]) continue;
        const char *color = FIG_COLORS[i % 8];
        double lw[2];
        for (int p = 0; p < 2; p++) { /* a constant that later series repeat lies wider under them, so each shows */
            int later = 0;
            for (int j = i + 1; j < ns; j++)
                later += used[j] && !isnan(cval[i][p]) && fabs(cval[j][p] - cval[i][p]) <= 1e-9 * fmax(1, cval[i][p]);
            lw[p] = 2 + 2.5 * later;
            nested |= later > 0;
            if (rel[i][p][0]) fig_curve_clauses(&plot[p], rel[i][p], color, used[i], i, 0, lw[p]);
        }
        char style[128], title[200], nt[32];
        fig_n_text(nt, sizeof nt, used[i], used[i]);
        kv_strfmt(title, sizeof title, "%s (%s; mean over training %.2f)", s->rows[i].label, nt, avg[i]);
        fig_curve_style(style, sizeof style, color, i, 0, lw[0]); /* as drawn, so a nested line is found */
        key_add(&key, style, title);
        nmax = used[i] > nmax ? used[i] : nmax;
    }
    free(rel);
    free(cval);
    free(avg);
    free(used);
    if (!rc && !plot[0].len) rc = err_set(e, "%s: no series has a completed run with metrics.jsonl", s->path);
    /* the caption's note (the report reads it with \gennote{NAME}): what the figure could not draw yet */
    StrBuf note = {0};
    if (!rc) {
        if (missing.len) {
            sb_printf(&note, "Series without completed runs, not drawn: ");
            tex_escape(missing.p, &note);
            sb_printf(&note, absent.len ? " (not committed yet: " : ".");
            if (absent.len) tex_escape(absent.p, &note), sb_printf(&note, ").");
        } else sb_printf(&note, "Every series has completed runs.");
        sb_printf(&note, "\n");
        char path[AD_PATH_MAX];
        kv_strfmt(path, sizeof path, "%s/%s_note.tex", f->out_dir, s->name);
        rc = write_file_atomic(path, note.p, note.len, e);
    }
    if (!rc) {
        if (nmax > 1)
            key_add(&key, "filledcurves fs transparent solid 0.2 noborder lc rgb \"#777777\"",
                    "band: mean +- std over seeds");
        char sub[600];
        kv_strfmt(sub, sizeof sub, "mean over seeds of the size-weighted decay at each update%s%s%s%s%s%s",
                  nested ? "; equal constants drawn nested" : "", missing.len ? "; no runs yet: " : "",
                  missing.len ? missing.p : "", absent.len ? " (not committed yet: " : "", absent.len ? absent.p : "",
                  absent.len ? ")" : "");
        const Key *keys[1] = {&key};
        int span[1] = {2};
        Grid g;
        f->height = 560;
        gp_grid_begin(f, body, s->title[0] ? s->title : s->name, sub, 1, 2, keys, span, 1, &g);
        for (int p = 0; p < 2; p++) {
            double pad = hi[p] > lo[p] ? 0.06 * (hi[p] - lo[p]) : 0.1;
            gp_grid_panel(body, &g, p);
            sb_printf(body, "set title ");
            gp_str(body, PANEL[p]);
            sb_printf(body, "\nset xlabel \"update\"\nset ylabel \"weight decay applied\"\n");
            sb_printf(body, "set xrange [0:%.6g]\nset yrange [%.6g:%.6g]\n", xmax > 0 ? xmax : 1, lo[p] - pad,
                      hi[p] + pad);
            sb_printf(body, "%s\n", plot[p].len ? plot[p].p : "plot NaN notitle");
        }
        gp_grid_key(body, &g, &key, 0, 2);
    }
    for (int p = 0; p < 2; p++) sb_free(&plot[p]);
    sb_free(&missing);
    sb_free(&absent);
    sb_free(&note);
    key_free(&key);
    return rc;
}
