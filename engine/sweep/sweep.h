/* sweep.h - YAML grids of training runs: parse + expand (sweep_grid.c), run directories, locks and
 * states (sweep_state.c), the local executor (sweep_local.c), the Slurm backend (sweep_slurm.c) and
 * the CLI (sweep.c). The schema is documented in docs/schemas.md, "Sweep files"; the state files in
 * docs/formats.md, "Sweep state".
 *
 * Sweep file schema (every key optional except base or an `experiment` axis):
 *
 *   name: table2            # results/<name>/; default = the file's name without .yaml
 *   base: experiments/llama_60m.yaml   # experiment file of every run (relative paths: to the cwd)
 *   set:                    # overrides applied to every run (section.key: value)
 *     train.steps: 300
 *   grid:                   # cartesian product; the first axis varies slowest
 *     experiment: [experiments/llama_60m.yaml, experiments/llama_135m.yaml]   # the file itself
 *     decay.weight_decay: [1e-5, 5e-6, 1e-6]
 *     decay.method: [uniform, awd, adadecay, alphadecay]
 *     s1_s2:                # a bundle axis: any label, each value a mapping of several keys
 *       - {decay.s1: 0.6666, decay.s2: 3}
 *       - {decay.s1: 0.5, decay.s2: 5}
 *   exclude:                # drop product points that match every key of one entry
 *     - {decay.method: awd, decay.weight_decay: 1e-6}
 *   extra:                  # points outside the product (not subject to exclude)
 *     - {experiment: experiments/llama_60m.yaml, decay.method: none}
 *   when:                   # conditional overrides, checked in order for every point
 *     - if: {decay.weight_decay: 1e-5}        # a value or a list of values (any of)
 *       set: {decay.s2: 3}
 *       else: {decay.s2: 5}
 *   seeds: [5, 6, 7]        # every point (product and extra) once per seed (train.seed)
 *   max_runs: 20000         # refuse grids larger than this before expanding them (default 10000)
 *
 * Semantics. A point is the ordered list of key=value pairs its axes / extra entry give, plus
 * train.seed from seeds. `if` compares against the point's own keys (axes, extra, set, earlier when
 * results); a key the point does not give never matches. A key the point gives itself (axis or extra)
 * wins over `when`, which wins over `set`. Values are compared canonically (numbers by value: 1e-5 ==
 * 0.00001). Each run is checked before anything starts: keys must exist (config_key_exists), values
 * must parse (config_set), the resolved config must validate, the experiment files must exist, and no
 * two points may be equal.
 *
 * Run names: the point's pairs in axis order joined by '-': the experiment file's base name and the
 * decay method appear bare, other keys as short=value (weight_decay -> wd, train.seed -> seed, other
 * keys by their last component, or the whole dotted key when two keys share it). Characters outside
 * [A-Za-z0-9._+-=] become '_' and then a hash of the point is appended; so is it when two names would
 * still coincide. The same point always maps to the same name within a grid.
 *
 * Results: results/<name>/sweep.json records the grid's fingerprint (a hash of every run's name,
 * experiment and overrides); a results directory holding a different grid is an error. Each run
 * directory holds the train outputs plus: train.log (the child's stdout/stderr), .lock (flock'ed for
 * the whole life of the train process, text "pid"), failed (written by the launcher when train exits
 * non-zero without a summary). */
#ifndef SWEEP_H
#define SWEEP_H

#include "common.h"
#include "strbuf.h"

#define SWEEP_MAX_KV 32
#define SWEEP_MAX_RUNS 10000 /* default cap on a grid's size (product x seeds + extra); max_runs: N overrides */
#define SWEEP_VAL_MAX 256

typedef struct {
    char key[96];              /* section.key (never "experiment": that is SweepRun.experiment) */
    char value[SWEEP_VAL_MAX]; /* canonical text handed to --set key=value */
    int line, col;             /* 1-based position in the sweep file of the value, 0 if none */
} SweepKV;

typedef struct {
    char name[256];               /* run directory name */
    char experiment[AD_PATH_MAX]; /* experiment file */
    SweepKV kv[SWEEP_MAX_KV];     /* --set overrides in application order */
    int n_kv;
    char label[512]; /* "key=value ..." of the point's own pairs, for list output */
    long steps;      /* resolved train.steps (for status) */
    int line;        /* line of the grid / extra entry the point came from */
} SweepRun;

typedef struct {
    char name[128];         /* sweep name */
    char file[AD_PATH_MAX]; /* the sweep file */
    SweepRun *runs;
    int n_runs;
    uint64_t fingerprint;
    /* slurm: mapping of the file: resources of each run's job (not part of the fingerprint: a run may
     * resume with other resources). ntasks > 1 runs train as one MPI job step `srun --mpi=MPI train ...` */
    int slurm_ntasks;        /* 0 = one task */
    int slurm_nodes;         /* 0 = Slurm's choice */
    int slurm_cpus_per_task; /* 0 = --cpus-per-task of the command line, else the cluster default */
    char slurm_mpi[32];      /* srun --mpi= plugin, default "pmix" */
} Sweep;

/* Parse, expand and check a sweep file. Errors: "FILE:LINE:COL: message". */
int sweep_load(Sweep *s, const char *path, Err *e);
/* The same from text in memory; path names it in errors and becomes Sweep.file. */
int sweep_load_text(Sweep *s, const char *path, const char *text, size_t len, Err *e);

/* ---- multirun (sweep_multirun.c): a sweep file from the command line ----
 * `--base EXP -m KEY=V1,V2 ... [--set KEY=V ...] [--extra KEY=V ...]... [--seeds 0-2] [--name N]`:
 * each -m key with two or more comma-separated values is a grid axis (in command-line order, the
 * first varying slowest), a -m key with one value and every --set go to set:, each --extra starts one
 * extra point, --seeds A-B or A,B,C is seeds:. The text is an ordinary sweep file (name: included), so
 * the launcher loads, runs and records it like one and writes it to RESULTS/<name>/sweep.yaml. */
typedef struct {
    const char *base, *name, *seeds;
    const char *m[SWEEP_MAX_KV]; /* -m KEY=V[,V...] */
    int n_m;
    const char *set[SWEEP_MAX_KV]; /* --set KEY=V */
    int n_set;
    const char *extra[SWEEP_MAX_KV]; /* --extra KEY=V: the pairs of all extra points in order */
    int extra_group[SWEEP_MAX_KV];   /* the extra point each pair belongs to (0, 1, ...) */
    int n_extra;
} Multirun;
/* The sweep file's text into out (caller sb_free's it); -1 with a one-line reason for bad arguments. */
int multirun_yaml(const Multirun *m, StrBuf *out, Err *e);
void sweep_free(Sweep *s);

/* ---- run states (sweep_state.c) ---- */
typedef enum { RS_PENDING, RS_INTERRUPTED, RS_RUNNING, RS_COMPLETED, RS_FAILED, RS_DIVERGED } RunState;
const char *run_state_name(RunState s); /* pending, interrupted, running, completed, failed, diverged */

typedef struct {
    RunState state;
    long step;      /* last logged step, -1 if none */
    double loss;    /* last logged training loss, NAN if none */
    double val_ppl; /* final (summary) or last evaluated ppl, NAN if none */
    long pid;       /* lock holder's pid when running, else 0 */
    long ckpt_step; /* step of the newest complete checkpoint (where a resume starts), -1 if none */
    double seconds; /* wall seconds of training so far (summary, else the last metrics record), NAN */
} RunStatus;

/* The state of one run directory (never fails: unreadable files count as absent). */
void run_status(const char *run_dir, RunStatus *st);
/* The same from the files alone, ignoring the lock (for the process that holds it). */
void run_status_files(const char *run_dir, RunStatus *st);

/* Every run's state, tallied as `sweep status` does (count[RunState]); the launcher's summary uses the
 * same count. secs_per_step: completed runs' wall seconds per update (NAN if none has finished);
 * left_steps: updates the unfinished runs still need (from their newest checkpoint). */
typedef struct {
    int count[RS_DIVERGED + 1];
    double done_seconds, done_steps; /* completed runs: total wall seconds and updates */
    double run_seconds;              /* every run's wall seconds so far */
    long left_steps;
} SweepCount;
void sweep_count(const Sweep *s, const char *dir, SweepCount *c);

/* Results directory of the sweep: <results_root>/<sweep name>. */
void sweep_dir(const Sweep *s, const char *results_root, char *out, size_t n);
/* Create <dir>/sweep.json, or check that the one there has this grid's fingerprint. */
int sweep_check_results(const Sweep *s, const char *dir, int create, Err *e);

/* Try to take the run's lock (RUNDIR/.lock, flock). Returns the fd (close-on-exec set), -1 if another
 * process holds it (e->msg names it), -2 on an error. */
int run_lock(const char *run_dir, Err *e);

/* argv for one run: the train command (AD_TRAIN_CMD, else this binary's `train`), the experiment,
 * every --set, train.threads=threads (when threads > 0 and the point does not set it), --out run_dir.
 * Returns a NULL-terminated malloc'd array of malloc'd strings; free with sweep_argv_free. */
char **sweep_run_argv(const SweepRun *r, const char *run_dir, int threads);
void sweep_argv_free(char **argv);

/* ---- executors ---- */
typedef struct {
    int jobs; /* -j N: runs at once */
    int dry_run;
    int retry_failed;
    const char *results; /* results root, default "results" */
    int detach;          /* local: leave the terminal (setsid), write to RESULTS/<sweep>/sweep.log only */
    /* slurm */
    const char *partition; /* NULL = cluster default */
    int max_parallel;      /* %K throttle, 0 = none */
    const char *time;      /* --time, NULL = cluster default */
    int cpus_per_task;     /* 0 = cluster default (1) */
    int no_wait;           /* submit and return */
} SweepOpts;

/* Local: run every pending run, N at a time; prints progress and a summary; returns the exit status
 * (0 all completed or diverged, 1 any failed / not finished, 130 interrupted). */
int sweep_run_local(const Sweep *s, const SweepOpts *o);
/* Slurm: write and submit an sbatch array of the pending runs, then track it (squeue + run dirs). */
int sweep_run_slurm(const Sweep *s, const SweepOpts *o);
/* One run inside a Slurm task: lock, exec train (the lock fd stays open across exec). */
int sweep_exec_one(const Sweep *s, const char *run_name, const SweepOpts *o, int threads);

/* `alphadecay sweep run | status | list ...` (sweep.c): the command layer's entry point (engine/cli/main.c);
 * argv[0] is "sweep", the return value the exit status (0 ok, 1 failure, 2 bad usage). */
int cmd_sweep(int argc, char **argv);

#endif
