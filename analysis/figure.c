/* figure.c - figure_make (figure.h): a figure spec's kind chooses the function that writes its plot
 * body (figure.h), plot.c renders it. */
#include "figure.h"

#include <string.h>

int figure_make(const Spec *s, const RunSet *rs, const FigGrids *grids, const char *out_dir, StrBuf *warn, Err *e) {
    Fig f = {s, rs, out_dir, warn, 1200, 500, grids};
    StrBuf body = {0};
    int rc;
    if (!strcmp(s->kind, "curves")) rc = fig_curves(&f, &body, e);
    else if (!strcmp(s->kind, "bars")) rc = fig_bars(&f, &body, e);
    else if (!strcmp(s->kind, "wd_sweep")) rc = fig_wd_sweep(&f, &body, e);
    else if (!strcmp(s->kind, "module_wd")) rc = fig_module_wd(&f, &body, e);
    else if (!strcmp(s->kind, "alpha_steps")) rc = fig_alpha_steps(&f, &body, e);
    else if (!strcmp(s->kind, "wd_steps")) rc = fig_wd_steps(&f, &body, e);
    else if (!strcmp(s->kind, "scaling")) rc = fig_scaling(&f, &body, e);
    else if (!strcmp(s->kind, "esd")) {
        f.height = 700;
        rc = fig_esd(&f, &body, e);
    } else rc = err_set(e, "%s: unknown figure kind %s", s->path, s->kind);
    if (!rc) rc = figure_render(&f, &body, e);
    sb_free(&body);
    return rc;
}
