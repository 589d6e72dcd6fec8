/* figure.h - the figure kinds figure_make (figure.c) dispatches to, one per spec `kind`: each writes
 * the plot body of its figure and its data files through plot.h.
 *   fig_runs.c:    curves, bars, wd_sweep
 *   fig_spectra.c: module_wd, esd */
#ifndef FIGURE_H
#define FIGURE_H

#include "plot.h"

int fig_curves(const Fig *f, StrBuf *body, Err *e);
int fig_bars(const Fig *f, StrBuf *body, Err *e);
int fig_wd_sweep(const Fig *f, StrBuf *body, Err *e);
int fig_module_wd(const Fig *f, StrBuf *body, Err *e);
int fig_esd(const Fig *f, StrBuf *body, Err *e);
#endif
