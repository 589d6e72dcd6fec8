/* report_index.h - `alphadecay report index`: one CSV row per run of a RunSet (report_index.c). */
#ifndef REPORT_INDEX_H
#define REPORT_INDEX_H

#include "runs.h"
#include "strbuf.h"

/* Columns: dir (relative to root), sweep, name, status, the fixed coordinates, then every other
 * config key whose value differs between runs, then final_val_loss, final_val_ppl, steps, tokens,
 * wall_seconds, peak_rss_mb (the metric columns), build_commit, cpu_isa, blas_core (summary.json's
 * provenance, empty when unrecorded), problem. */
void index_csv(const RunSet *rs, const char *root, StrBuf *b);

#endif
