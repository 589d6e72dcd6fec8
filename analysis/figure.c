/* figure.c - placeholder; figures land next. */
#include "report.h"
int gnuplot_available(void) { return 0; }
int gnuplot_has_cairo(void) { return 0; }
int figure_make(const Spec *s, const RunSet *rs, const char *out_dir, StrBuf *warn, Err *e) {
    (void)rs; (void)out_dir; (void)warn;
    return err_set(e, "%s: figures are not implemented yet", s->path);
}
