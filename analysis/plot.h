/* plot.h - the plumbing every figure kind (fig_runs.c, fig_spectra.c) uses; implemented in plot.c,
 * which knows nothing of the kinds (figure.c dispatches to them).
 *
 * A figure is OUT_DIR/NAME.gp (a complete gnuplot script rendering NAME.png with pngcairo and
 * NAME.pdf with pdfcairo) plus its data files NAME_*.dat, so the figure can be re-rendered or
 * restyled by hand. Kinds write the plot body once; figure_render wraps it for both terminals. */
#ifndef PLOT_H
#define PLOT_H

#include "esd.h"
#include "facts.h"
#include "json.h"
#include "runs.h"
#include "spec.h"
#include "table.h"

/* What a scaling figure (fig_scaling.c) reads besides the spec: it reads each grid itself, so the spec's
 * results: directories resolved against the report's root (the RunSet is then empty); the paper's numbers
 * (NULL without reported:); and where the numbers its prose may cite go (NULL: nowhere). A wd_steps figure
 * (fig_wd.c) reads only dirs, to name those not there (the RunSet holds the others' runs). */
typedef struct {
    const char (*dirs)[AD_PATH_MAX];
    int ndirs;
    const Reported *rep;
    Facts *facts;
} FigGrids;

typedef struct {
    const Spec *spec;
    const RunSet *rs;
    const char *out_dir;
    StrBuf *warn;
    int width, height;     /* pixels of the PNG; the PDF gets the same aspect at 100 px per inch */
    const FigGrids *grids; /* scaling and wd_steps figures only; NULL for the others */
} Fig;

/* Write OUT_DIR/NAME_suffix.dat from text; the file name relative to OUT_DIR goes into rel. */
int fig_data(const Fig *f, const char *suffix, const StrBuf *text, char *rel, size_t cap, Err *e);
/* Write NAME.gp from a plot body and run gnuplot in OUT_DIR (warns and returns 0 without gnuplot). */
int figure_render(const Fig *f, const StrBuf *body, Err *e);
/* An empty panel saying why (gnuplot refuses to plot nothing, so: fixed ranges and a NaN). Leaves
 * autoscaling on and logscale off. */
void gp_empty_panel(StrBuf *b, const char *msg);
/* The one way text reaches a gnuplot script: a single-quoted literal ('' for a quote), which gnuplot
 * never expands (backticks run commands only inside double quotes); control characters become spaces. */
void gp_str(StrBuf *b, const char *s);
/* A string column of a .dat file (data files know only double quotes and are never expanded): '"'
 * becomes "'", control characters spaces. */
void gp_dat_str(StrBuf *b, const char *s);
/* A two-line title literal: `main`, then `sub` in a smaller font below it (sub may be NULL or ""). */
void gp_title(StrBuf *b, const char *main, const char *sub);

/* Colour-blind-safe palette (Paul Tol's "bright" and "muted" sets) every kind draws series from. */
extern const char *const FIG_COLORS[8];

/* A key drawn below the panels. gnuplot reserves no room for a key placed in screen coordinates,
 * and a key inside a panel covers data, so the panels share a strip at the bottom of the figure
 * where each key is drawn by an invisible plot of NaN clauses that carry only styles and titles. */
typedef struct {
    StrBuf clauses; /* "NaN with ... title \"...\"" joined by ", " */
    int n, maxlen;  /* entries and the longest title in characters, to lay the key out */
} Key;
void key_add(Key *k, const char *style, const char *title);
void key_free(Key *k);

/* Panels in a rows x cols grid between the figure's title and the key strip (screen fractions). */
typedef struct {
    int rows, cols, width, height;
    double top, bottom;
} Grid;
/* Start the multiplot: title (and a smaller subtitle line), and a key strip tall enough for the
 * keys given (each laid out over `span` columns of panels; NULL keys are skipped). */
void gp_grid_begin(const Fig *f, StrBuf *b, const char *title, const char *sub, int rows, int cols,
                   const Key *const *keys, const int *span, int nkeys, Grid *g);
/* Place the next plot in panel i (row-major). */
void gp_grid_panel(StrBuf *b, const Grid *g, int i);
/* Draw key k in the strip, centred under panel columns [c0, c1). Leaves the plot state reset for
 * nothing after it: call it after the last panel. */
void gp_grid_key(StrBuf *b, const Grid *g, const Key *k, int c0, int c1);
/* Tick marks at 1, 2, 3, 5 x 10^k inside [lo, hi] on a log axis ("x" or "y"): gnuplot marks only
 * whole decades, which leaves a narrow log axis with one label or none. */
void gp_log_tics(StrBuf *b, const char *axis, double lo, double hi);
/* Mean and sample std over runs of curves (xs[j][k], ys[j][k]), k < ns[j], each in non-decreasing x, at the x
 * every one of them has (in the first run's order; an x repeated, as at a step function's jump, matches the
 * runs' repeats in turn): lines "x mean std" into out (std 0 for one run); [*lo, *hi] widen to the band, *sum
 * (NULL: not wanted) adds the means written. The points written. The one band of every per-update figure
 * (curves, wd_steps). */
int fig_band(double *const *xs, double *const *ys, const int *ns, int nruns, StrBuf *out, double *lo, double *hi,
             double *sum);
/* Series i's line style: its colour, and a dash pattern (and with points a marker) of its own, so curves
 * that lie on top of each other stay apart in print and in grey; lw its width (2 unless a curve lies under
 * others). */
void fig_curve_style(char *dst, size_t cap, const char *color, int i, int points, double lw);
/* The clauses of one curve from data file rel ("x mean std" columns): its +- std band when several runs make
 * it (nruns > 1), then its mean line; "plot " first when p is empty. */
void fig_curve_clauses(StrBuf *p, const char *rel, const char *color, int nruns, int i, int points, double lw);
/* "n = 3" or "n = 2-3": the number of runs behind each point or bar. */
void fig_n_text(char *dst, size_t cap, int nmin, int nmax);
/* Is gnuplot runnable, and does it have the cairo terminals? */
int gnuplot_available(void);
int gnuplot_has_cairo(void);

/* The run a single-run figure uses: among the runs matching where + sel (sel may be NULL), the
 * completed (else any) one with the smallest seed; warns when it had to choose. -1 if none. */
int fig_pick_run(const Fig *f, const Sel *sel, Err *e);

#endif
