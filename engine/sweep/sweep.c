/* sweep.c - `alphadecay sweep list|status|run|exec SWEEP.yaml [options]` (schema: sweep.h,
 * sweeps/README.md). list and run --dry-run show the expanded runs; status reads the run directories;
 * run executes pending runs locally (-j N) or on Slurm; exec is the per-task entry of the Slurm
 * script. Exit status: 0 ok, 1 a run failed / bad sweep file, 2 bad usage, 130 interrupted. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#include "cli.h"
#include "sweep.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: alphadecay sweep list   SWEEP.yaml [-v] [--results DIR]\n"
            "       alphadecay sweep status SWEEP.yaml [--results DIR]\n"
            "       alphadecay sweep run    SWEEP.yaml [-j N] [--dry-run] [--retry-failed] [--results DIR] [--detach]\n"
            "                               [--backend local|slurm] [--partition P] [--max-parallel K] [--time T]\n"
            "                               [--cpus-per-task C] [--no-wait]\n"
            "  Expands a grid of runs (schema: sweeps/README.md) into results/<sweep name>/<run name>/.\n"
            "  list        the runs, their directories and the keys that differ between them (-v: full commands)\n"
            "  status      one line per run: state, step/total (an interrupted run's newest checkpoint), last loss,\n"
            "              val ppl, training time; then totals, and an ETA from the completed runs' seconds per update\n"
            "  run         run pending runs as child `alphadecay train` processes, N at a time (cores split\n"
            "              between them); completed runs are skipped, interrupted ones resume from their last\n"
            "              checkpoint, failed ones rerun only with --retry-failed. --dry-run shows what would run.\n"
            "              Everything it prints also goes to RESULTS/<sweep>/sweep.log. Ctrl-C (SIGINT/SIGTERM): every\n"
            "              running train checkpoints and exits, nothing new starts, the summary counts the runs as\n"
            "              status does; the same command again resumes. --detach: keeps running after the terminal\n"
            "              closes (output to sweep.log only; stop it with kill -INT PID).\n"
            "  --backend slurm  submits one sbatch job array (one task per pending run, throttled to K at once\n"
            "              with --max-parallel) and follows it with squeue and the run directories.\n"
            "  AD_TRAIN_CMD=PROG replaces `alphadecay train` (same arguments; for tests).\n"
            "  Exit status: 0 all runs completed (or diverged), 1 a run failed or is unfinished / bad sweep\n"
            "  file, 2 bad usage, 130 interrupted.\n");
}

static int bad(const char *msg, const char *arg) {
    fprintf(stderr, "alphadecay sweep: %s%s%s (try --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

static int parse_int(const char *s, int lo, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int cmd_list(const Sweep *s, int verbose, const char *results) {
    char dir[AD_PATH_MAX];
    sweep_dir(s, results, dir, sizeof dir);
    for (int i = 0; i < s->n_runs; i++) {
        const SweepRun *r = &s->runs[i];
        printf("%-48s %s\n", r->name, r->label);
        if (verbose) {
            char rd[AD_PATH_MAX + 300];
            snprintf(rd, sizeof rd, "%s/%s", dir, r->name);
            char **argv = sweep_run_argv(r, rd, 0);
            printf("    ");
            for (char **a = argv; *a; a++) printf("%s%s", *a, a[1] ? " " : "\n");
            sweep_argv_free(argv);
        }
    }
    printf("%d runs in %s/ (sweep %s, grid %016llx)\n", s->n_runs, dir, s->name, (unsigned long long)s->fingerprint);
    return 0;
}

/* "2 h 05 min", "3 min 20 s", "12 s" */
static void fmt_dur(double secs, char *out, size_t n) {
    long t = (long)(secs + 0.5);
    if (t >= 3600) snprintf(out, n, "%ld h %02ld min", t / 3600, t % 3600 / 60);
    else if (t >= 60) snprintf(out, n, "%ld min %02ld s", t / 60, t % 60);
    else snprintf(out, n, "%ld s", t);
}

/* The launcher's launcher.json (sweep_local.c): its pid when that process is alive, and its -j. */
static void launcher_info(const char *dir, long *pid, int *jobs, double *started) {
    char path[AD_PATH_MAX + 32];
    Json *j = NULL;
    Err e;
    double v;
    *pid = 0;
    *jobs = 1;
    *started = NAN;
    snprintf(path, sizeof path, "%s/launcher.json", dir);
    if (!file_exists(path) || json_parse_file(path, &j, &e)) return;
    if (json_num(j, "jobs", &v) == 0 && v >= 1) *jobs = (int)v;
    if (json_num(j, "started", &v) == 0) *started = v;
    if (json_num(j, "pid", &v) == 0 && v > 0 && kill((pid_t)v, 0) == 0) *pid = (long)v;
    json_free(j);
}

static int cmd_status(const Sweep *s, const char *results) {
    char dir[AD_PATH_MAX], rd[AD_PATH_MAX + 300];
    Err e;
    sweep_dir(s, results, dir, sizeof dir);
    if (sweep_check_results(s, dir, 0, &e)) {
        fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
        return 1;
    }
    printf("%-12s %-15s %-10s %-10s %-12s %s\n", "state", "step/total", "loss", "val_ppl", "time", "run");
    for (int i = 0; i < s->n_runs; i++) {
        RunStatus st;
        snprintf(rd, sizeof rd, "%s/%s", dir, s->runs[i].name);
        run_status(rd, &st);
        char step[48], loss[24], ppl[24], dur[32];
        /* an interrupted run resumes from its newest checkpoint: that is its progress */
        long at = st.state == RS_INTERRUPTED ? st.ckpt_step : st.step;
        if (at >= 0) snprintf(step, sizeof step, "%ld/%ld", at, s->runs[i].steps);
        else snprintf(step, sizeof step, "-/%ld", s->runs[i].steps);
        if (isnan(st.loss)) snprintf(loss, sizeof loss, "-");
        else snprintf(loss, sizeof loss, "%.4f", st.loss);
        if (isnan(st.val_ppl)) snprintf(ppl, sizeof ppl, "-");
        else snprintf(ppl, sizeof ppl, "%.3f", st.val_ppl);
        if (isnan(st.seconds)) snprintf(dur, sizeof dur, "-");
        else fmt_dur(st.seconds, dur, sizeof dur);
        printf("%-12s %-15s %-10s %-10s %-12s %s", run_state_name(st.state), step, loss, ppl, dur, s->runs[i].name);
        if (st.pid) printf(" (pid %ld)", st.pid);
        printf("\n");
    }
    SweepCount c;
    sweep_count(s, dir, &c);
    int *n = c.count;
    printf("total %d: %d completed, %d running, %d pending, %d interrupted, %d failed, %d diverged\n", s->n_runs,
           n[RS_COMPLETED], n[RS_RUNNING], n[RS_PENDING], n[RS_INTERRUPTED], n[RS_FAILED], n[RS_DIVERGED]);
    long lpid;
    int jobs;
    double started;
    char a[32], b[32];
    launcher_info(dir, &lpid, &jobs, &started);
    fmt_dur(c.run_seconds, a, sizeof a);
    printf("time: %s of training so far (all runs)", a);
    if (lpid && !isnan(started)) {
        fmt_dur((double)time(NULL) - started, b, sizeof b);
        printf("; launcher pid %ld running for %s (-j %d), log %s/sweep.log", lpid, b, jobs, dir);
    }
    printf("\n");
    if (c.left_steps == 0) printf("eta: nothing left to run\n");
    else if (c.done_steps > 0) {
        /* seconds per update of the finished runs, times what is left, over the runs at once */
        double per = c.done_seconds / c.done_steps;
        fmt_dur(per * (double)c.left_steps / jobs, a, sizeof a);
        printf("eta: %s for %ld updates left at %.3g s per update (completed runs' mean) and -j %d\n", a, c.left_steps,
               per, jobs);
    } else
        printf("eta: unknown until a run completes (%ld updates left)\n", c.left_steps);
    return 0;
}

int cmd_sweep(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    if (argc < 3) return bad("expected an action (list, status, run) and a sweep file", NULL);
    const char *action = argv[1], *file = argv[2], *backend = "local", *run_name = NULL;
    if (strcmp(action, "list") && strcmp(action, "status") && strcmp(action, "run") && strcmp(action, "exec"))
        return bad("unknown action", action);
    SweepOpts o = {.jobs = 1, .results = "results"};
    int verbose = 0, threads = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--dry-run")) o.dry_run = 1;
        else if (!strcmp(a, "--retry-failed")) o.retry_failed = 1;
        else if (!strcmp(a, "--no-wait")) o.no_wait = 1;
        else if (!strcmp(a, "--detach")) o.detach = 1;
        else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (!has || parse_int(argv[++i], 1, &o.jobs)) return bad("-j needs a positive integer", has ? argv[i] : NULL);
        } else if (!strncmp(a, "-j", 2) && a[2]) {
            if (parse_int(a + 2, 1, &o.jobs)) return bad("-j needs a positive integer", a);
        } else if (!strcmp(a, "--max-parallel")) {
            if (!has || parse_int(argv[++i], 1, &o.max_parallel)) return bad("--max-parallel needs a positive integer", NULL);
        } else if (!strcmp(a, "--cpus-per-task")) {
            if (!has || parse_int(argv[++i], 1, &o.cpus_per_task)) return bad("--cpus-per-task needs a positive integer", NULL);
        } else if (!strcmp(a, "--threads")) {
            if (!has || parse_int(argv[++i], 0, &threads)) return bad("--threads needs a non-negative integer", NULL);
        } else if (!strcmp(a, "--backend") && has) backend = argv[++i];
        else if (!strcmp(a, "--partition") && has) o.partition = argv[++i];
        else if (!strcmp(a, "--time") && has) o.time = argv[++i];
        else if (!strcmp(a, "--results") && has) o.results = argv[++i];
        else if (!strcmp(a, "--run") && has) run_name = argv[++i];
        else return bad("unknown or incomplete option", a);
    }
    if (strcmp(backend, "local") && strcmp(backend, "slurm")) return bad("--backend must be local or slurm", backend);
    if (!strcmp(action, "exec") && !run_name) return bad("exec needs --run NAME", NULL);

    Sweep s;
    Err e;
    if (sweep_load(&s, file, &e)) {
        fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
        return 1;
    }
    int rc;
    if (!strcmp(action, "list")) rc = cmd_list(&s, verbose, o.results);
    else if (!strcmp(action, "status")) rc = cmd_status(&s, o.results);
    else if (!strcmp(action, "exec")) rc = sweep_exec_one(&s, run_name, &o, threads);
    else if (!strcmp(backend, "slurm")) rc = sweep_run_slurm(&s, &o);
    else rc = sweep_run_local(&s, &o);
    sweep_free(&s);
    return rc;
}
