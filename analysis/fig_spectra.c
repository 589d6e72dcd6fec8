/* fig_spectra.c - figures from one run's modules: per-module weight decay with alpha (kind
 * module_wd, Figure 1b, from decay.jsonl) and log-log ESD histograms with the fitted power law
 * (kind esd, Figures 1a/3, from the spectra files of esd.h). */
#include <gsl/gsl_histogram.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "figure.h" /* this file's kinds */
#include "kv.h"
#include "model.h"
#include "plot.h"

static const char *const DEFAULT_TYPES[7] = {"q", "k", "v", "o", "gate", "up", "down"};

static int spec_types(const Spec *s, const char *out[8]) {
    if (!s->ntypes) {
        for (int i = 0; i < 7; i++) out[i] = DEFAULT_TYPES[i];
        return 7;
    }
    for (int i = 0; i < s->ntypes; i++) out[i] = s->types[i];
    return s->ntypes;
}

/* ---- Figure 1b: per-module weight decay per layer, alpha on the second axis ---- */

int fig_module_wd(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    int ri = fig_pick_run(f, s->nrows ? &s->rows[0] : NULL, e);
    if (ri < 0) return -1;
    const Run *r = &f->rs->runs[ri];
    KVList *recs;
    int n, rc = run_decay(r, &recs, NULL, &n, e);
    if (rc)
        return rc > 0 ? err_set(e, "%s: %s has no decay.jsonl (method %s)", s->path, r->dir,
                                run_coord(r, "decay.method") ? run_coord(r, "decay.method") : "?")
                      : -1;
    double step = NAN;
    for (int i = 0; i < n; i++) {
        double v;
        if (kv_num(&recs[i], "step", &v)) continue;
        if (isnan(step) || (!strcmp(s->step, "first") ? v < step : v > step)) step = v;
    }
    if (isnan(step)) {
        jsonl_free(recs, n);
        return err_set(e, "%s: %s/decay.jsonl has no decay updates", s->path, r->dir);
    }
    const char *types[8];
    int nt = spec_types(s, types), nl = 0, all_nl = 0;
    double wmax = 0, amin = INFINITY, amax = -INFINITY;
    StrBuf d[8] = {{0}};
    for (int i = 0; i < n; i++) {
        double st, layer, wd, alpha;
        const char *type = kv_get(&recs[i], "type");
        if (kv_num(&recs[i], "step", &st) || st != step || !type || kv_num(&recs[i], "layer", &layer) ||
            kv_num(&recs[i], "wd", &wd) || kv_num(&recs[i], "alpha", &alpha))
            continue;
        if ((int)layer + 1 > all_nl) all_nl = (int)layer + 1;
        /* layer: N draws only that layer (in the first slot); the default draws every layer */
        if (s->layer >= 0 && (int)layer != s->layer) continue;
        int slot = s->layer >= 0 ? 0 : (int)layer;
        for (int k = 0; k < nt; k++)
            if (!strcmp(type, types[k])) {
                sb_printf(&d[k], "%.10g %.10g %.10g\n", (double)slot * (nt + 1) + k, wd, alpha > 0 ? alpha : NAN);
                wmax = fmax(wmax, wd);
                if (alpha > 0) amin = fmin(amin, alpha), amax = fmax(amax, alpha);
                if (slot + 1 > nl) nl = slot + 1;
            }
    }
    jsonl_free(recs, n);
    if (s->layer >= 0 && s->layer >= all_nl) {
        for (int j = 0; j < 8; j++) sb_free(&d[j]);
        return err_set(e, "%s: layer: %d, but %s/decay.jsonl has layers 0..%d", s->path, s->layer, r->dir, all_nl - 1);
    }
    double eta = 0;
    kv_num(&r->cfg, "decay.weight_decay", &eta);
    sb_printf(body, "set title ");
    char sub[512];
    kv_strfmt(sub, sizeof sub, "run %s, update %.0f; dashed: the uniform decay", r->name, step);
    gp_title(body, s->title[0] ? s->title : s->name, sub);
    sb_printf(body,
              "\nset style fill solid 0.8 border -1\nset boxwidth 0.9\nset ylabel \"weight decay\"\n"
              "set y2label \"alpha\"\nset y2tics\nset ytics nomirror\nset format y \"%%.1e\"\n"
              "set key outside right\nset xrange [-1:%d]\nset xtics (",
              nl * (nt + 1) - 1);
    for (int l = 0; l < nl; l++)
        sb_printf(body, "%s\"layer %d\" %.1f", l ? ", " : "", s->layer >= 0 ? s->layer : l,
                  l * (nt + 1) + (nt - 1) / 2.0);
    sb_printf(body, ")\n");
    /* headroom above the tallest bar and the highest alpha, so neither touches the frame */
    if (wmax > 0) sb_printf(body, "set yrange [0:%.6g]\n", fmax(wmax, eta) * 1.08);
    else sb_printf(body, "set yrange [0:*]\n");
    double apad = 0.08 * fmax(amax - amin, 0.1);
    if (isfinite(amin)) sb_printf(body, "set y2range [%.6g:%.6g]\n", amin - apad, amax + apad);
    sb_printf(body, "set arrow 1 from graph 0, first %.10g to graph 1, first %.10g nohead dt 2 lw 2 lc rgb \"black\"\n",
              eta, eta);
    static const char *const colors[8] = {"#4477aa", "#66ccee", "#228833", "#ccbb44",
                                          "#ee6677", "#aa3377", "#bbbbbb", "#000000"};
    int plotted = 0;
    StrBuf pts = {0};
    for (int k = 0; k < nt; k++) {
        if (!d[k].len) continue;
        char rel[AD_PATH_MAX], suffix[32];
        snprintf(suffix, sizeof suffix, "%s", types[k]);
        if (fig_data(f, suffix, &d[k], rel, sizeof rel, e)) {
            for (int j = 0; j < 8; j++) sb_free(&d[j]);
            sb_free(&pts);
            return -1;
        }
        sb_printf(body, "%s\"%s\" using 1:2 with boxes lc rgb \"%s\" title \"%s wd\"", plotted ? ", " : "plot ", rel,
                  colors[k], types[k]);
        sb_printf(&pts, "%s\"%s\" using 1:3 axes x1y2 with points pt 7 ps 1.2 lc rgb \"black\" %s", pts.len ? ", " : "",
                  rel, pts.len ? "notitle" : "title \"alpha (right axis)\"");
        plotted++;
    }
    /* the alpha points after every bar: drawn on top, and last in the key */
    if (pts.len) sb_printf(body, ", %s", pts.p);
    sb_free(&pts);
    for (int j = 0; j < 8; j++) sb_free(&d[j]);
    if (!plotted) return err_set(e, "%s: %s/decay.jsonl has none of the module types asked for", s->path, r->dir);
    sb_printf(body, ", NaN with lines dt 2 lw 2 lc rgb \"black\" title \"uniform %.0e\"\n", eta);
    return 0;
}

/* ---- Figures 1a/3: ESD histograms per module type ---- */

static const SpectrumRec *find_module(const SpectrumRec *recs, int n, const char *type, int layer) {
    for (int i = 0; i < n; i++)
        if (recs[i].layer == layer && !strcmp(module_type_name((ModuleType)recs[i].type), type)) return &recs[i];
    return NULL;
}

int fig_esd(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    const char *types[8];
    int nt = spec_types(s, types), ns = s->nrows < 4 ? s->nrows : 4;
    SpectrumRec *recs[4] = {0};
    int nrec[4] = {0}, have[4] = {0};
    long steps[4] = {0};
    const Run *runs[4] = {0};
    for (int i = 0; i < ns; i++) {
        int ri = fig_pick_run(f, &s->rows[i], e);
        if (ri < 0) {
            sb_printf(f->warn, "%s: %s\n", s->name, e->msg);
            continue;
        }
        runs[i] = &f->rs->runs[ri];
        Err e2 = {{0}};
        int rc = run_spectra(runs[i], s->step, &recs[i], &nrec[i], &steps[i], &e2);
        if (rc) {
            sb_printf(f->warn, "%s: series %s: %s\n", s->name, s->rows[i].label, e2.msg);
            continue;
        }
        have[i] = 1;
    }
    int any = 0;
    for (int i = 0; i < ns; i++) any |= have[i];
    if (!any) return err_set(e, "%s: no spectra for any series (runs need RUN/spectra/spectra_step*.bin)", s->path);
    double layers = 2;
    for (int i = 0; i < ns; i++)
        if (runs[i]) kv_num(&runs[i]->cfg, "model.num_hidden_layers", &layers);
    int layer = s->layer >= 0 ? s->layer : (int)layers / 2;
    static const char *const colors[4] = {"#4477aa", "#cc3311", "#228833", "#aa3377"};
    /* one key for every panel (a key per panel covered the histograms); each panel's fitted alphas
     * go into its title instead, in the key's order */
    Key key = {0};
    char style[96];
    StrBuf sub = {0};
    for (int i = 0; i < ns; i++) {
        kv_strfmt(style, sizeof style, "boxes fs transparent solid 0.35 noborder lc rgb \"%s\"", colors[i]);
        key_add(&key, style, s->rows[i].label);
        kv_strfmt(style, sizeof style, "lines lw 2 dt %d lc rgb \"%s\"", i + 1, colors[i]);
        char t[160];
        kv_strfmt(t, sizeof t, "%s: power-law fit", s->rows[i].label);
        key_add(&key, style, t);
        sb_printf(&sub, "%s%s", i ? " / " : "alpha in each panel: ", s->rows[i].label);
    }
    const Key *keys[1] = {&key};
    int span[1] = {(nt + 1) / 2};
    Grid g;
    char title[512];
    kv_strfmt(title, sizeof title, "%s (layer %d, %s spectra)", s->title[0] ? s->title : s->name, layer, s->step);
    gp_grid_begin(f, body, title, sb_str(&sub), 2, (nt + 1) / 2, keys, span, 1, &g);
    sb_free(&sub);
    sb_printf(
        body,
        "set logscale xy\nset format x \"10^{%%L}\"\nset format y \"10^{%%L}\"\nset xlabel \"eigenvalue of W^TW\"\n"
        "set ylabel \"density\"\nset style fill transparent solid 0.35 noborder\n");
    int rc = 0;
    for (int k = 0; k < nt && !rc; k++) {
        /* common log-spaced bins over both series so the histograms compare */
        double lo = INFINITY, hi = -INFINITY;
        const SpectrumRec *m[4] = {0};
        for (int i = 0; i < ns; i++) {
            if (!have[i] || !(m[i] = find_module(recs[i], nrec[i], types[k], layer))) continue;
            for (int j = 0; j < m[i]->N; j++)
                if (m[i]->lam[j] > 0) lo = fmin(lo, m[i]->lam[j]), hi = fmax(hi, m[i]->lam[j]);
        }
        gp_grid_panel(body, &g, k);
        if (!(hi > lo)) {
            sb_printf(body, "set title \"%s\"\n", types[k]);
            sb_printf(f->warn, "%s: no layer-%d %s module in the spectra\n", s->name, layer, types[k]);
            gp_empty_panel(body, "module not in the spectra");
            sb_printf(body, "set logscale xy\n");
            continue;
        }
        const int nb = 30;
        double *edges = xcalloc(nb + 1, sizeof *edges);
        for (int b = 0; b <= nb; b++) edges[b] = exp(log(lo) + (log(hi) - log(lo)) * b / nb);
        edges[nb] = hi * (1 + 1e-12); /* the largest eigenvalue lands in the last bin */
        /* a label per decade crowds a narrow panel past six decades: then every second one */
        sb_printf(body, "set xtics %s\n", log10(hi / lo) > 6 ? "100" : "autofreq");
        StrBuf plot = {0}, alphas = {0};
        for (int i = 0; i < ns && !rc; i++) {
            if (!m[i]) continue;
            gsl_histogram *h = gsl_histogram_alloc(nb);
            gsl_histogram_set_ranges(h, edges, nb + 1);
            int npos = 0, ntail = 0;
            for (int j = 0; j < m[i]->N; j++)
                if (m[i]->lam[j] > 0) {
                    gsl_histogram_increment(h, m[i]->lam[j]);
                    npos++;
                }
            for (int j = 0; j < m[i]->N; j++) ntail += m[i]->lam[j] >= m[i]->xmin;
            StrBuf d = {0}, pl = {0};
            for (int b = 0; b < nb; b++) {
                double c = gsl_histogram_get(h, (size_t)b), w = edges[b + 1] - edges[b];
                sb_printf(&d, "%.10g %.10g %.10g\n", sqrt(edges[b] * edges[b + 1]), c > 0 ? c / (npos * w) : NAN, w);
            }
            gsl_histogram_free(h);
            /* the fitted power law as a density over the whole spectrum: the tail holds ntail / N of
             * the mass, p(x) = (ntail / N) (alpha - 1) / xmin (x / xmin)^-alpha for x >= xmin */
            double a = m[i]->alpha, xm = m[i]->xmin;
            if (a > 1 && xm > 0)
                for (int b = 0; b <= 20; b++) {
                    double x = exp(log(xm) + (log(hi) - log(xm)) * b / 20.0);
                    sb_printf(&pl, "%.10g %.10g\n", x, (double)ntail / m[i]->N * (a - 1) / xm * pow(x / xm, -a));
                }
            char suffix[64], rel[AD_PATH_MAX], relp[AD_PATH_MAX];
            snprintf(suffix, sizeof suffix, "%s_s%d", types[k], i);
            rc = fig_data(f, suffix, &d, rel, sizeof rel, e);
            snprintf(suffix, sizeof suffix, "%s_s%d_pl", types[k], i);
            if (!rc && pl.len) rc = fig_data(f, suffix, &pl, relp, sizeof relp, e);
            if (!rc) {
                sb_printf(&plot, "%s\"%s\" using 1:2:3 with boxes lc rgb \"%s\" notitle", plot.len ? ", " : "plot ",
                          rel, colors[i]);
                if (pl.len)
                    sb_printf(&plot, ", \"%s\" using 1:2 with lines lw 2 dt %d lc rgb \"%s\" notitle", relp, i + 1,
                              colors[i]);
                if (a > 1) sb_printf(&alphas, "%s%.2f", alphas.len ? " / " : "alpha ", a);
                else sb_printf(&alphas, "%sno fit", alphas.len ? " / " : "alpha ");
            }
            sb_free(&d);
            sb_free(&pl);
        }
        free(edges);
        sb_printf(body, "set title ");
        gp_title(body, types[k], alphas.p ? alphas.p : "");
        if (!rc) sb_printf(body, "\n%s\n", plot.p);
        sb_free(&plot);
        sb_free(&alphas);
    }
    if (!rc) gp_grid_key(body, &g, &key, 0, (nt + 1) / 2);
    key_free(&key);
    for (int i = 0; i < ns; i++)
        if (have[i]) esd_free_spectra(recs[i], nrec[i]);
    return rc;
}
