/* figure.h - figure_make, and the figure kinds it (figure.c) dispatches to, one per spec `kind`: each writes
 * the plot body of its figure and its data files through plot.h.
 *   fig_runs.c:    curves, bars, wd_sweep
 *   fig_spectra.c: module_wd, esd
 *   fig_alpha.c:   alpha_steps
 *   fig_wd.c:      wd_steps
 *   fig_scaling.c: scaling */
#ifndef FIGURE_H
#define FIGURE_H

#include "plot.h"

/* Writes OUT_DIR/NAME.gp, NAME.dat files, NAME.png and NAME.pdf for a figure spec (figure.c picks the
 * kind's function). *warn gets visible warnings (gnuplot missing, runs absent, spectra absent). -1 on a
 * real error (bad spec, mixed runs). grids: what the scaling and wd_steps kinds read (plot.h FigGrids); NULL for the others. */
int figure_make(const Spec *s, const RunSet *rs, const FigGrids *grids, const char *out_dir, StrBuf *warn, Err *e);

int fig_curves(Fig *f, StrBuf *body, Err *e);
int fig_bars(Fig *f, StrBuf *body, Err *e);
int fig_wd_sweep(Fig *f, StrBuf *body, Err *e);
int fig_module_wd(Fig *f, StrBuf *body, Err *e);
int fig_esd(Fig *f, StrBuf *body, Err *e);
int fig_alpha_steps(Fig *f, StrBuf *body, Err *e);
/* Also writes NAME_note.tex (the series without runs and the results: directories not there yet); reads
 * f->grids->dirs (the spec's results:, report.c scans those that exist) to name the absent ones. */
int fig_wd_steps(Fig *f, StrBuf *body, Err *e);
/* Also writes NAME.csv, NAME.md and NAME.tex (the plotted numbers) and NAME_note.tex (the grids not yet there),
 * and adds the plotted numbers to grids->facts (docs/analysis.md, "Across sizes and corpora"). */
int fig_scaling(Fig *f, StrBuf *body, Err *e);
#endif
