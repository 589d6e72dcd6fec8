/* rundir.h - the run directory: its file names, its lock, its JSON records (writers and readers).
 * Every program that writes into a run directory (train, the sweep launcher) or reads what a run says
 * about itself (sweep status, the analysis index) goes through here; formats in docs/formats.md.
 *
 *   config.yaml    resolved config + version (written once; a resume must match it)
 *   metrics.jsonl  per logged update: step (updates done), tokens, loss, lr, grad_norm, wd_mean,
 *                  awd_lambda, tok_per_s, elapsed_s
 *   eval.jsonl     step, loss, ppl, tokens
 *   decay.jsonl    per tuned module per decay update (decay.c builds the records)
 *   spectra/       spectra_step<N>.bin (esd.h format)
 *   summary.json   status completed|failed|diverged, final_val_loss, final_val_ppl, steps, tokens,
 *                  wall_seconds, peak_rss_mb, tok_per_s, method, weight_decay, seed, dtype, version,
 *                  build {commit, flags}, machine {cpu, isa, amx_bf16, blas, bf16_products} (provenance.h),
 *                  [message]; written atomically at the end only, so "completed" means finished
 *   checkpoint/    checkpoint.h
 *   .lock          flock()ed by the one process that writes the directory; its text is that pid
 *   failed, train.log   written by the sweep launcher (no summary after a non-zero exit; the output)
 *
 * Records are JSON objects on one line, built with the Rec helpers below, which write non-finite
 * numbers as null (JSON has no inf/nan). A JSONL line is written with one write and flushed; any
 * failed write, flush or close is an error naming the file, and the caller stops the run without a
 * "completed" summary. On resume each log is cut back to the lines of the checkpoint's step, so a
 * partial line a crash or a full disk left behind disappears and the resumed run's files equal an
 * uninterrupted run's. */
#ifndef RUNDIR_H
#define RUNDIR_H

#include <stdio.h>

#include "common.h"
#include "json.h"

#define RUNDIR_CONFIG "config.yaml"
#define RUNDIR_METRICS "metrics.jsonl"
#define RUNDIR_EVAL "eval.jsonl"
#define RUNDIR_DECAY "decay.jsonl"
#define RUNDIR_SUMMARY "summary.json"
#define RUNDIR_SUMMARY_FAILED "summary.failed.json" /* a failed run's summary, kept by sweep --retry-failed */
#define RUNDIR_SPECTRA "spectra"
#define RUNDIR_CHECKPOINTS "checkpoint"
#define RUNDIR_LOCK ".lock"
#define RUNDIR_FAILED_MARKER "failed"
#define RUNDIR_TRAIN_LOG "train.log"

/* The run directory's own entries are never followed through a symbolic link: the lock and the logs
 * are opened O_NOFOLLOW, checkpoint/ is handled relative to its fd (checkpoint.h), files are replaced by
 * rename (which replaces a link, never its target), and train refuses a run directory where any of the
 * names above is a link. The directory given as --out is taken as given (it may itself be a link). */
#define RUNDIR_LINK_REFUSED "is a symbolic link; alphadecay never follows a link among the files it writes (remove it)"
/* -1 naming the first of the names above that is a symbolic link in run_dir; 0 when none is (or run_dir
 * does not exist yet). */
int rundir_check_links(const char *run_dir, Err *e);
/* Remove the temp files (tmp_name's NAME.tmp.PID.N) that killed writers left in run_dir and spectra/.
 * Only the holder of the lock calls it: no other process writes there then. */
int rundir_clean_tmp(const char *run_dir, Err *e);

/* The longest run directory path: its files add up to about 200 bytes to it (checkpoint/step_N.tmp/
 * optimizer.safetensors.tmp.PID.N) within AD_PATH_MAX. A longer --out is refused whole, before anything
 * is created, never cut short. */
#define RUNDIR_PATH_MAX (AD_PATH_MAX - 200)
int rundir_check_path(const char *run_dir, Err *e);

/* run_dir/name into out (n bytes); returns out. */
char *rundir_path(char *out, size_t n, const char *run_dir, const char *name);

/* ---- the lock ----
 * rundir_lock creates run_dir and takes an exclusive flock on run_dir/.lock without waiting, then
 * writes getpid() as the file's text. A descriptor of that file inherited across exec (the sweep
 * launcher hands its lock to train) is found and used, so launcher and train hold one lock together.
 * Returns the fd (close-on-exec; the lock lives until the process exits or closes it), -1 when
 * another process holds it ("already running (pid N ...)"), -2 on any other error. */
int rundir_lock(const char *run_dir, Err *e);
/* 1 and *pid (0 if unknown) when some process holds the lock, else 0. */
int rundir_lock_holder(const char *run_dir, long *pid);

/* ---- JSONL logs ---- */
typedef struct {
    FILE *f;
    char path[AD_PATH_MAX + 32];
} RunLog;

/* Open run_dir/name for appending after dropping lines whose "step" > keep_max_step and any partial
 * last line (keep_max_step < 0 empties the file). */
int runlog_open(RunLog *l, const char *run_dir, const char *name, long keep_max_step, Err *e);
/* Append rec (one JSON object, no newline) and a newline, flush; -1 naming the file on failure. */
int runlog_append(RunLog *l, const StrBuf *rec, Err *e);
/* Close (no-op when not open); -1 if the close reports a write error. */
int runlog_close(RunLog *l, Err *e);

/* ---- records: {"key": value, ...} built in a StrBuf ---- */
void rec_begin(StrBuf *b);                                           /* clears b, writes "{" */
void rec_num(StrBuf *b, const char *key, const char *fmt, double v); /* printf fmt; null if not finite */
void rec_int(StrBuf *b, const char *key, long long v);
void rec_str(StrBuf *b, const char *key, const char *v); /* escaped; null if v is NULL */
void rec_end(StrBuf *b);                                 /* "}" */

/* ---- summary ---- */
typedef struct {
    const char *status;       /* "completed", "failed", "diverged" */
    double val_loss, val_ppl; /* NAN when there was no evaluation */
    int has_test;             /* eval.test_tokens > 0: final_test_loss / final_test_ppl are written */
    double test_loss, test_ppl;
    long steps, tokens;
    double wall_seconds, peak_rss_mb, tok_per_s;
    const char *method;
    double weight_decay;
    uint64_t seed;
    const char *message; /* failure reason or NULL */
    const char *dtype;   /* train.dtype: NULL = "float32" (fp32), else "bf16" / "bf16_pure" */
    /* provenance (provenance.h): "build" {commit, flags} and "machine" {cpu, isa, amx_bf16, blas,
     * bf16_products}; commit NULL writes neither (bf16 NULL: no bf16 products, written as null) */
    const char *commit, *flags, *cpu, *isa, *blas, *bf16;
    int amx_bf16;
} RunSummary;

int rundir_write_summary(const char *run_dir, const RunSummary *s, Err *e);

/* What summary.json (and the launcher's failed marker) say. RUNDIR_NO_SUMMARY covers a fresh
 * directory as well as a run in progress or killed; callers look at the logs and the lock for more. */
typedef enum {
    RUNDIR_NO_SUMMARY,
    RUNDIR_COMPLETED,
    RUNDIR_FAILED, /* summary says failed, or the launcher's failed marker exists */
    RUNDIR_DIVERGED,
    RUNDIR_UNREADABLE, /* summary.json exists but is not JSON or has no known status */
} RundirStatus;
const char *rundir_status_name(RundirStatus s); /* "none", "completed", "failed", "diverged", "unreadable" */
/* Reads summary.json (strict JSON) and the failed marker. *summary (if non-NULL) receives the parsed
 * summary object when there is one (caller json_free's it, else NULL); why (if non-NULL, n bytes)
 * receives the reason for UNREADABLE / the launcher's failed marker text. */
RundirStatus rundir_status(const char *run_dir, Json **summary, char *why, size_t n);

/* The last complete line of run_dir/name, parsed; NULL if there is none or it is not JSON. */
Json *rundir_last_record(const char *run_dir, const char *name);

#endif
