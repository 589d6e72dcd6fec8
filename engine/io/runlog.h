/* runlog.h - the files of a run directory (docs/formats.md, "Run directory"):
 *   config.yaml    resolved config + version (written once; a resume must match it)
 *   metrics.jsonl  per logged update: step (updates done), tokens, loss, lr, grad_norm, wd_mean,
 *                  awd_lambda, tok_per_s, elapsed_s
 *   eval.jsonl     step, loss, ppl, tokens
 *   decay.jsonl    written by decay.c
 *   summary.json   status completed|failed|diverged, final_val_loss, final_val_ppl, steps, tokens,
 *                  wall_seconds, peak_rss_mb, tok_per_s, method, weight_decay, seed, dtype (float32: the paper trained in bf16); written atomically
 *                  at the end only, so its presence with "completed" means the run finished.
 * Every JSONL line is written with one fprintf and flushed, so a crash never leaves half a line; on
 * resume each log is cut back to the lines of the checkpoint's step, so a resumed run's logs equal an
 * uninterrupted run's. */
#ifndef RUNLOG_H
#define RUNLOG_H

#include "common.h"

/* Open RUNDIR/name for appending after dropping lines whose "step" > keep_max_step (and any partial
 * last line). keep_max_step < 0 truncates the file. */
FILE *runlog_open(const char *run_dir, const char *name, long keep_max_step, Err *e);

typedef struct {
    const char *status;
    double val_loss, val_ppl; /* NAN when there was no evaluation */
    long steps, tokens;
    double wall_seconds, peak_rss_mb, tok_per_s;
    const char *method;
    double weight_decay;
    uint64_t seed;
    const char *message;      /* failure reason or NULL */
} RunSummary;

int runlog_write_summary(const char *run_dir, const RunSummary *s, Err *e);

#endif
