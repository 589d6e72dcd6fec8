/* plot.h - the plumbing every figure kind (fig_runs.c, fig_spectra.c) uses; implemented in plot.c,
 * which knows nothing of the kinds (figure.c dispatches to them).
 *
 * A figure is OUT_DIR/NAME.gp (a complete gnuplot script rendering NAME.png with pngcairo and
 * NAME.pdf with pdfcairo) plus its data files NAME_*.dat, so the figure can be re-rendered or
 * restyled by hand. Kinds write the plot body once; figure_render wraps it for both terminals. */
#ifndef PLOT_H
#define PLOT_H

#include "esd.h"
#include "json.h"
#include "report.h"
#include "table.h"

typedef struct {
    const Spec *spec;
    const RunSet *rs;
    const char *out_dir;
    StrBuf *warn;
    int width, height; /* pixels of the PNG; the PDF gets the same aspect at 100 px per inch */
} Fig;

/* Write OUT_DIR/NAME_suffix.dat from text; the file name relative to OUT_DIR goes into rel. */
int fig_data(const Fig *f, const char *suffix, const StrBuf *text, char *rel, size_t cap, Err *e);
/* Write NAME.gp from a plot body and run gnuplot in OUT_DIR (warns and returns 0 without gnuplot). */
int figure_render(const Fig *f, const StrBuf *body, Err *e);
/* An empty panel saying why (gnuplot refuses to plot nothing, so: fixed ranges and a NaN). Leaves
 * autoscaling on and logscale off. */
void gp_empty_panel(StrBuf *b, const char *msg);
/* gnuplot string literal: quotes escaped. */
void gp_str(StrBuf *b, const char *s);
/* Is gnuplot runnable, and does it have the cairo terminals? */
int gnuplot_available(void);
int gnuplot_has_cairo(void);

/* The run a single-run figure uses: among the runs matching where + sel (sel may be NULL), the
 * completed (else any) one with the smallest seed; warns when it had to choose. -1 if none. */
int fig_pick_run(const Fig *f, const Sel *sel, Err *e);

/* Spectra file of a run (esd.h format) at its first or final saved step: RUN/spectra/
 * spectra_step<S>.bin with the smallest / largest S. 1 (Err says why) when the run has none. */
int fig_run_spectra(const Run *r, const char *which, SpectrumRec **recs, int *n, long *step, Err *e);
#endif
