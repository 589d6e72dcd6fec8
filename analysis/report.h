/* report.h - the pieces of `alphadecay report` that other analysis files share.
 *   index_csv:   one CSV row per run of a RunSet (report_index.c)
 *   figure_make: render one figure spec with gnuplot (figure.c) */
#ifndef REPORT_H
#define REPORT_H

#include "json.h"
#include "runs.h"
#include "spec.h"

/* Columns: dir (relative to root), sweep, name, status, the fixed coordinates, then every other
 * config key whose value differs between runs, then final_val_loss, final_val_ppl, steps, tokens,
 * wall_seconds, peak_rss_mb, problem. */
void index_csv(const RunSet *rs, const char *root, StrBuf *b);

/* Writes OUT_DIR/NAME.gp, NAME.dat files, NAME.png and NAME.pdf. *warn gets visible warnings
 * (gnuplot missing, runs absent, spectra absent). -1 on a real error (bad spec, mixed runs). */
int figure_make(const Spec *s, const RunSet *rs, const char *out_dir, StrBuf *warn, Err *e);

/* `alphadecay report index | table | plot ...` (report.c): the command layer's entry point
 * (engine/cli/main.c); argv[0] is "report", the return value the exit status (0, 1, 2 bad usage). */
int cmd_report(int argc, char **argv);

#endif
