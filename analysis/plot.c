/* plot.c - the plumbing every figure kind uses (plot.h): data files, the gnuplot script around a plot
 * body and running gnuplot, gnuplot string literals, and the run and spectra a figure draws from. */
#include "plot.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "stats.h"

/* gnuplot is always run through an argument vector (run_argv), never a shell: figure names and
 * output directories reach it unchanged whatever characters they hold. */
int gnuplot_available(void) {
    char *argv[] = {"gnuplot", "--version", NULL};
    return run_argv(argv, NULL, NULL, NULL, 0, NULL) == 0;
}

int gnuplot_has_cairo(void) {
    static char out[65536];
    char *argv[] = {"gnuplot", "-e", "set terminal", NULL};
    if (run_argv(argv, NULL, NULL, out, sizeof out, NULL) < 0) return 0;
    return strstr(out, "pngcairo") && strstr(out, "pdfcairo");
}

/* The text of a single-quoted gnuplot string literal without its quotes. gnuplot expands nothing
 * inside single quotes (no backticks, no backslash escapes, no macros), and a quote is written twice:
 * so no text from a spec or a run directory can run a command (double quotes expand `...`). A control
 * character (a newline would end the command) becomes a space; the enhanced-text specials get a
 * backslash, so "lr_max" prints as itself instead of a subscript. */
static void gp_esc(StrBuf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\'') sb_printf(b, "''");
        else if (c < 0x20 || c == 0x7f) sb_printf(b, " ");
        else if (strchr("_^{}@&~", c)) sb_printf(b, "\\%c", c);
        else sb_printf(b, "%c", c);
    }
}

void gp_str(StrBuf *b, const char *s) {
    sb_printf(b, "'");
    gp_esc(b, s);
    sb_printf(b, "'");
}

void gp_title(StrBuf *b, const char *main, const char *sub) {
    gp_str(b, main);
    if (sub && sub[0]) { /* our line break is the only double-quoted piece: 'main' . "\n" . 'sub' */
        sb_printf(b, ".\"\\n\".'{/*0.8 ");
        gp_esc(b, sub);
        sb_printf(b, "}'");
    }
}

void gp_dat_str(StrBuf *b, const char *s) {
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f) sb_printf(b, " ");
        else if (c == '"') sb_printf(b, "'");
        else if (strchr("_^{}@&~\\", c)) sb_printf(b, "\\%c", c);
        else sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

const char *const FIG_COLORS[8] = {"#4477aa", "#ee6677", "#228833", "#ccbb44",
                                   "#66ccee", "#aa3377", "#555555", "#ee7733"};

void key_add(Key *k, const char *style, const char *title) {
    sb_printf(&k->clauses, "%sNaN with %s title ", k->n ? ", " : "", style);
    gp_str(&k->clauses, title);
    int len = (int)strlen(title);
    if (len > k->maxlen) k->maxlen = len;
    k->n++;
}

void key_free(Key *k) { sb_free(&k->clauses); }

/* Layout estimates in pixels of the PNG: an average character of its 11 pt font is about 7 px
 * (a little more is assumed, for the PDF's relatively larger font). */
static double char_px(const Grid *g) { return 0.0068 * g->width; }
static const double LINE_PX = 22;

static int key_cols(const Grid *g, const Key *k, int span) {
    double avail = (double)g->width * span / g->cols - 20, col = (k->maxlen + 8) * char_px(g);
    int c = (int)(avail / col);
    return c < 1 ? 1 : c > k->n ? k->n : c;
}

void gp_grid_begin(const Fig *f, StrBuf *b, const char *title, const char *sub, int rows, int cols,
                   const Key *const *keys, const int *span, int nkeys, Grid *g) {
    *g = (Grid){rows, cols, f->width, f->height, 1, 0};
    int lines = 0;
    for (int i = 0; i < nkeys; i++)
        if (keys[i] && keys[i]->n) {
            int c = key_cols(g, keys[i], span[i]), l = (keys[i]->n + c - 1) / c;
            if (l > lines) lines = l;
        }
    g->bottom = lines ? (lines * LINE_PX + 16) / f->height : 0;
    g->top = 1 - ((sub && sub[0] ? 2 : 1) * LINE_PX + 8) / f->height;
    sb_printf(b, "set multiplot title ");
    gp_title(b, title, sub);
    sb_printf(b, "\nunset key\n");
}

void gp_grid_panel(StrBuf *b, const Grid *g, int i) {
    double w = 1.0 / g->cols, h = (g->top - g->bottom) / g->rows;
    sb_printf(b, "set origin %.4f,%.4f\nset size %.4f,%.4f\n", (i % g->cols) * w, g->top - (i / g->cols + 1) * h, w, h);
}

void gp_grid_key(StrBuf *b, const Grid *g, const Key *k, int c0, int c1) {
    if (!k->n) return;
    double x = (c0 + c1) / 2.0 / g->cols;
    sb_printf(b,
              "# the key: an invisible plot whose only visible part is its key\n"
              "unset title\nunset xlabel\nunset ylabel\nunset y2label\nunset tics\nunset border\nunset grid\n"
              "unset logscale\nunset arrow\nunset label\nunset object\nset xrange [0:1]\nset yrange [0:1]\n"
              "set origin 0,0\nset size 1,%.4f\nset margins 0,0,0,0\n",
              g->bottom > 0.01 ? g->bottom : 0.01);
    sb_printf(b, "set key at screen %.4f,%.4f center bottom horizontal maxcols %d box opaque samplen 3 Left reverse\n",
              x, 6.0 / g->height, key_cols(g, k, c1 - c0));
    sb_printf(b, "plot %s\nset key default\nunset key\nset margins -1,-1,-1,-1\nset border\nset tics\nset grid\n",
              k->clauses.p);
}

void gp_log_tics(StrBuf *b, const char *axis, double lo, double hi) {
    static const double M[4] = {1, 2, 3, 5};
    int n = 0;
    sb_printf(b, "set %stics (", axis);
    for (double dec = pow(10, floor(log10(lo))); dec <= hi; dec *= 10)
        for (int i = 0; i < 4; i++)
            if (M[i] * dec >= lo && M[i] * dec <= hi)
                sb_printf(b, "%s\"%g\" %g", n++ ? ", " : "", M[i] * dec, M[i] * dec);
    sb_printf(b, ")\n");
}

void fig_n_text(char *dst, size_t cap, int nmin, int nmax) {
    if (nmin == nmax) kv_strfmt(dst, cap, "n = %d", nmin);
    else kv_strfmt(dst, cap, "n = %d-%d", nmin, nmax);
}

int fig_band(double *const *xs, double *const *ys, const int *ns, int nruns, StrBuf *out, double *lo, double *hi,
             double *sum) {
    double *v = xcalloc((size_t)(nruns ? nruns : 1), sizeof *v);
    int *pos = xcalloc((size_t)(nruns ? nruns : 1), sizeof *pos), points = 0;
    for (int k = 0; nruns && k < ns[0]; k++) {
        double x = xs[0][k];
        int all = 1;
        v[0] = ys[0][k];
        for (int j = 1; j < nruns && all; j++) {
            while (pos[j] < ns[j] && xs[j][pos[j]] < x) pos[j]++;
            all = pos[j] < ns[j] && xs[j][pos[j]] == x;
            if (all) v[j] = ys[j][pos[j]++]; /* used: a repeated x (a step function's jump) takes the next */
        }
        if (!all) continue;
        double m, sd;
        stats_mean_sd(v, nruns, &m, &sd);
        if (nruns < 2) sd = 0;
        sb_printf(out, "%.10g %.10g %.10g\n", x, m, sd);
        *lo = fmin(*lo, m - sd);
        *hi = fmax(*hi, m + sd);
        if (sum) *sum += m;
        points++;
    }
    free(v);
    free(pos);
    return points;
}

void fig_curve_style(char *dst, size_t cap, const char *color, int i, int points, double lw) {
    kv_strfmt(dst, cap, "%s lw %.3g dt %d lc rgb \"%s\"", points ? "linespoints" : "lines", lw, i % 5 + 1, color);
    if (points) {
        size_t l = strlen(dst);
        kv_strfmt(dst + l, cap - l, " pt %d ps 0.9", (int[]){7, 5, 9, 13, 11, 4, 6, 8}[i % 8]);
    }
}

void fig_curve_clauses(StrBuf *p, const char *rel, const char *color, int nruns, int i, int points, double lw) {
    char style[128];
    if (nruns > 1)
        sb_printf(p,
                  "%s\"%s\" using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.2 noborder lc rgb \"%s\" "
                  "notitle",
                  p->len ? ", " : "plot ", rel, color);
    fig_curve_style(style, sizeof style, color, i, points, lw);
    sb_printf(p, "%s\"%s\" using 1:2 with %s notitle", p->len ? ", " : "plot ", rel, style);
}

void gp_empty_panel(StrBuf *b, const char *msg) {
    sb_printf(b, "set label 99 ");
    gp_str(b, msg);
    sb_printf(b, " at graph 0.5,0.5 center\nunset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
                 "plot NaN notitle\nunset label 99\nset autoscale\n");
}

int fig_data(const Fig *f, const char *suffix, const StrBuf *text, char *rel, size_t cap, Err *e) {
    char path[AD_PATH_MAX];
    kv_strfmt(rel, cap, "%s_%s.dat", f->spec->name, suffix);
    kv_strfmt(path, sizeof path, "%s/%s", f->out_dir, rel);
    return write_file_atomic(path, text->p ? text->p : "", text->len, e);
}

int figure_render(const Fig *f, const StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    int cairo = gnuplot_available() && gnuplot_has_cairo();
    StrBuf gp = {0};
    sb_printf(&gp, "# generated by `alphadecay report plot %s`; renders %s.png and %s.pdf\n", s->path, s->name,
              s->name);
    sb_printf(&gp, "# run from this directory: gnuplot %s.gp\n", s->name);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0 && cairo)
            sb_printf(&gp, "set terminal pngcairo size %d,%d enhanced font \"Sans,11\" linewidth 1.5\n", f->width,
                      f->height);
        else if (pass == 0) sb_printf(&gp, "set terminal png size %d,%d\n", f->width, f->height);
        else if (cairo)
            /* 170 px per inch: a 1200 px figure becomes 7 in, about the report's text width, so the
             * 9 pt font stays near 9 pt when LaTeX scales it to \linewidth */
            sb_printf(&gp, "set terminal pdfcairo size %.2fin,%.2fin enhanced font \"Sans,8\" linewidth 1.2\n",
                      f->width / 170.0, f->height / 170.0);
        else break; /* no PDF without cairo */
        sb_printf(&gp, "set output \"%s.%s\"\nreset session\n", s->name, pass ? "pdf" : "png");
        sb_printf(&gp, "set encoding utf8\nset key box opaque\nset grid lc rgb \"#dddddd\"\n");
        sb_printf(&gp, "%s\nunset multiplot\nset output\n", body->p ? body->p : "");
    }
    char path[AD_PATH_MAX];
    kv_strfmt(path, sizeof path, "%s/%s.gp", f->out_dir, s->name);
    int rc = write_file_atomic(path, gp.p, gp.len, e);
    sb_free(&gp);
    if (rc) return -1;
    if (!gnuplot_available()) {
        sb_printf(f->warn, "%s: gnuplot not found: wrote %s but no PNG/PDF (install the Debian package gnuplot-nox)\n",
                  s->name, path);
        return 0;
    }
    if (!cairo)
        sb_printf(f->warn,
                  "%s: gnuplot lacks the cairo terminals: PNG from the plain png terminal, no PDF "
                  "(install gnuplot-nox or gnuplot-qt with cairo)\n",
                  s->name);
    /* "reset session" needs gnuplot >= 5.2; the terminal is set before it and survives it */
    char gp_name[AD_PATH_MAX], log_name[AD_PATH_MAX];
    kv_strfmt(gp_name, sizeof gp_name, "%s.gp", s->name);
    kv_strfmt(log_name, sizeof log_name, "%s.gnuplot.log", s->name);
    char *argv[] = {"gnuplot", gp_name, NULL};
    if (run_argv(argv, f->out_dir, log_name, NULL, 0, NULL) != 0) {
        char log[AD_PATH_MAX], *text = NULL;
        size_t len;
        kv_strfmt(log, sizeof log, "%s/%s.gnuplot.log", f->out_dir, s->name);
        Err e2;
        const char *tail = "";
        if (read_file(log, &text, &len, &e2) == 0) {
            /* the last line with text: gnuplot ends its message with the offending line */
            for (char *q = text; *q; q++)
                if (*q == '\n') *q = 0;
            for (char *q = text; q < text + len; q += strlen(q) + 1)
                if (*q && *q != ' ') tail = q;
        }
        err_set(e, "%s: gnuplot failed on %s.gp: %s (see %s)", s->path, s->name, tail, log);
        free(text);
        return -1;
    }
    kv_strfmt(path, sizeof path, "%s/%s.gnuplot.log", f->out_dir, s->name);
    remove(path);
    return 0;
}

int fig_pick_run(const Fig *f, const Sel *sel, Err *e) {
    int *idx, n;
    if (select_runs(f->spec, f->rs, sel, NULL, &idx, &n, e)) return -1;
    int best = -1;
    double best_seed = 0;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < n; i++) {
            const Run *r = &f->rs->runs[idx[i]];
            if (pass == 0 && strcmp(r->status, "completed")) continue;
            double sd = 0;
            kv_num(&r->cfg, "train.seed", &sd);
            if (best < 0 || sd < best_seed) {
                best = idx[i];
                best_seed = sd;
            }
        }
    if (best < 0) {
        free(idx);
        err_set(e, "%s: no run under %s matches %s%s", f->spec->path, f->spec->results[0],
                sel ? "series " : "the spec's where", sel ? sel->label : "");
        return -1;
    }
    if (n > 1)
        sb_printf(f->warn, "%s: %d runs match %s; plotting %s (smallest seed%s)\n", f->spec->name, n,
                  sel ? sel->label : "the spec", f->rs->runs[best].dir,
                  strcmp(f->rs->runs[best].status, "completed") ? ", not completed" : "");
    else if (strcmp(f->rs->runs[best].status, "completed"))
        sb_printf(f->warn, "%s: plotting %s, which is %s\n", f->spec->name, f->rs->runs[best].dir,
                  f->rs->runs[best].status);
    free(idx);
    return best;
}
