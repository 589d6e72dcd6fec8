/* runs.h - run directories (docs/formats.md, "Run directory") as analysis sees them.
 *
 * A run directory is any directory holding config.yaml. Loading one never fails as a whole: a run
 * whose files cannot be read is kept with status "unreadable" and a message in `problem`, so the
 * index and the tables can show it instead of silently dropping it. Status is
 *   completed | failed | diverged  (from summary.json),
 *   failed      also when the sweep launcher left RUN/failed (train died without a summary),
 *   partial     (no summary.json yet: still running, or killed; numbers from the logs so far),
 *   unreadable  (config.yaml or summary.json missing pieces or malformed; see problem).
 * A summary's "build" and "machine" (which build and machine made the run) are optional: runs from
 * before them are "unrecorded" (empty commit / isa / blas); present but not objects of strings, the
 * summary is malformed (unreadable).
 * Grid coordinates are the dotted keys of config.yaml ("decay.weight_decay"), plus "run.name"
 * (directory name), "run.sweep" (parent directory name) and "run.status". */
#ifndef RUNS_H
#define RUNS_H

#include "common.h"
#include "esd.h"
#include "kv.h"
#include "model.h"
#include "strbuf.h"

typedef struct {
    char dir[AD_PATH_MAX];
    char name[256];
    char sweep[256];
    KVList cfg; /* config.yaml, flattened */
    char status[16];
    double val_loss, val_ppl;                                   /* final evaluation; NAN when none */
    double steps, tokens, wall_seconds, peak_rss_mb, tok_per_s; /* NAN when unknown */
    char problem[1024];                                         /* "" when the run read cleanly */
    /* provenance (summary.json "build" and "machine"): "" when unrecorded (runs from before them) */
    char commit[64], isa[32], blas[64];
} Run;

typedef struct {
    Run *runs;
    int n, cap;
    StrBuf warn; /* one line per directory skipped by runs_scan; the caller prints it */
} RunSet;

/* Load every run directory under root (root itself may be one), sorted by path. -1 only when root
 * cannot be read at all. A directory reached twice (a symbolic link loop, two links to one run) is
 * loaded once; a subdirectory whose name breaks the run-name rule (path_name_problem) is skipped with a
 * line in rs->warn. */
int runs_scan(const char *root, RunSet *rs, Err *e);
/* runs_scan of each of dirs[0..n-1] (a spec's results: list), appended in that order into one set; -1 when one
 * cannot be read. */
int runs_scan_list(const char (*dirs)[AD_PATH_MAX], int n, RunSet *rs, Err *e);
void runs_free(RunSet *rs);
void run_load(Run *r, const char *dir);
void run_free(Run *r);

/* A coordinate: config key or run.name / run.sweep / run.status; NULL when absent. */
const char *run_coord(const Run *r, const char *key);
/* The run's model shape from config.yaml's model.* (hidden, MLP, heads, layers, vocabulary, positions; the
 * norm epsilon, RoPE base and init range, which no size depends on, at their defaults): -1 (Err naming the run
 * and the key) when a key is absent or not an integer. */
int run_model_config(const Run *r, ModelConfig *mc, Err *e);

/* The per-run metrics, in one table that tables, figures, the index and specs read: name, label (the
 * words tables and figures print), unit, better (-1 lower, +1 higher, 0 neither: report compare's
 * default), index_col (its column in `report index`, NULL = not there). Families end in ".*":
 * task.NAME.acc / task.NAME.acc_norm (zero-shot accuracy from RUNDIR/tasks.json, eval-tasks --out);
 * alpha.TYPE / alpha_first.TYPE (a module type's mean Hill alpha in the final / first spectra file);
 * wd_factor.TYPE (its decay at the final decay update over decay.weight_decay, from decay.jsonl).
 * NULL-terminated. */
typedef struct {
    const char *name, *label, *unit;
    int better;
    const char *index_col;
} MetricInfo;
extern const MetricInfo METRICS[];
/* The entry of a metric name (a family's entry for task.arc_easy.acc), or NULL when unknown. */
const MetricInfo *metric_info(const char *name);
int metric_known(const char *name);
/* A metric of one run: 0 and *out; 1 when it does not apply to this run (no decay updates logged,
 * e.g. fit_seconds_per_call of a Uniform run; Err says why); -1 when the run's files lack what they
 * should have or are malformed (Err names the run). */
int run_metric(const Run *r, const char *metric, double *out, Err *e);

/* Spectra file of a run (esd.h format) at its first or final saved step: RUN/spectra/
 * spectra_step<S>.bin with the smallest / largest S. 1 (Err says why) when the run has none. */
int run_spectra(const Run *r, const char *which, SpectrumRec **recs, int *n, long *step, Err *e);

/* Column `ykey` against `xkey` from RUNDIR/file (a JSON-lines file); rows lacking either or with a
 * non-number are skipped. Arrays are malloc'd. */
int run_series(const Run *r, const char *file, const char *xkey, const char *ykey, double **x, double **y, int *n,
               Err *e);
/* The records of RUNDIR/decay.jsonl: 0, or 1 when the file does not exist, -1 when malformed. lines (may be
 * NULL): each record's line in the file (jsonl_read_lines), for messages naming FILE:LINE. */
int run_decay(const Run *r, KVList **recs, int **lines, int *n, Err *e);

#endif
