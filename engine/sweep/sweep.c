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

#include "args.h"
#include "json.h"

#include "sweep.h"

static void usage(FILE *f) {
    fprintf(
        f, "usage: alphadecay sweep list   SWEEP.yaml [-v] [--results DIR]\n"
           "       alphadecay sweep status SWEEP.yaml [--results DIR]\n"
           "  multirun: in place of SWEEP.yaml, --base EXP.yaml -m KEY=V1,V2 ... [--set KEY=V ...]\n"
           "            [--extra KEY=V ...]... [--seeds A-B|A,B,C] [--name NAME]\n"
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
           "  multirun    builds the sweep file from the command line (Hydra's -m): each -m key with comma-separated\n"
           "              values is a grid axis (the first varies slowest), a single value and --set fix a key for\n"
           "              every run, each --extra adds one point outside the grid (e.g. --extra decay.method=none),\n"
           "              --seeds runs every point once per seed. The name defaults to multirun-<base>-<hash of\n"
           "              the grid>, so the same command names the same sweep; run writes the file to\n"
           "              RESULTS/<name>/sweep.yaml, which reruns, resumes or cites it.\n"
           "  AD_TRAIN_CMD=PROG replaces `alphadecay train` (same arguments; for tests).\n"
           "  Exit status: 0 all runs completed (or diverged), 1 a run failed or is unfinished / bad sweep\n"
           "  file, 2 bad usage, 130 interrupted.\n");
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
    } else printf("eta: unknown until a run completes (%ld updates left)\n", c.left_steps);
    return 0;
}

/* Multirun: the command line's sweep file, loaded as RESULTS/<name>/sweep.yaml (written by `run`). */
static int load_multirun(Sweep *s, const Multirun *m, const SweepOpts *o, int write, Err *e) {
    StrBuf y = {0};
    char dir[AD_PATH_MAX], path[AD_PATH_MAX + 16];
    if (multirun_yaml(m, &y, e)) return 2;
    /* the name first (the file's path holds it), then the whole text */
    Sweep probe;
    memset(&probe, 0, sizeof probe);
    const char *nl = strchr(y.p, '\n');
    snprintf(probe.name, sizeof probe.name, "%.*s", (int)(nl - y.p - 6), y.p + 6);
    sweep_dir(&probe, o->results, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sweep.yaml", dir);
    int rc = sweep_load_text(s, path, y.p, y.len, e);
    if (rc) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e->msg);
        err_set(e, "%s\n(the sweep file the command line expands to; not written:)\n%s", why, y.p);
        sb_free(&y);
        return 1;
    }
    if (write) {
        StrBuf f = {0};
        sb_printf(&f,
                  "# written by `alphadecay sweep run` from its command line (multirun); run it again with\n"
                  "#   alphadecay sweep run %s\n%s",
                  path, y.p);
        rc = sweep_check_results(s, dir, 1, e) || write_file_atomic(path, f.p, f.len, e) ? 1 : 0;
        sb_free(&f);
        if (rc) sweep_free(s);
        else
            printf("multirun: %d runs as sweep %s; its sweep file: %s (rerun, resume or cite it)\n", s->n_runs, s->name,
                   path);
    }
    sb_free(&y);
    return rc;
}

/* Every value of -m / --set / --extra is KEY=VALUE. */
static int all_pairs(const char *cmd, const char *opt, const ArgList *l) {
    for (int i = 0; i < l->n; i++)
        if (!strchr(l->v[i], '=')) return args_usage_error(cmd, "%s needs KEY=VALUE arguments, got '%s'", opt, l->v[i]);
    return 0;
}

int cmd_sweep(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    if (argc < 3)
        return args_usage_error("sweep",
                                "expected an action (list, status, run) and a sweep file (or --base EXP -m KEY=V1,V2)");
    const char *action = argv[1], *file = NULL, *backend = "local", *run_name = NULL;
    if (strcmp(action, "list") && strcmp(action, "status") && strcmp(action, "run") && strcmp(action, "exec"))
        return args_usage_error("sweep", "unknown action '%s' (list, status, run)", action);
    char cmd[32];
    snprintf(cmd, sizeof cmd, "sweep %s", action);
    SweepOpts o = {.jobs = 1, .results = "results"};
    Multirun m = {0};
    int verbose = 0, threads = 0;
    ArgList pos = {.v = &file, .cap = 1}, ms = {.v = m.m, .cap = SWEEP_MAX_KV},
            sets = {.v = m.set, .cap = SWEEP_MAX_KV};
    ArgList extras = {.v = m.extra, .cap = SWEEP_MAX_KV, .occ = m.extra_group};
    const ArgSpec specs[] = {
        {"--verbose", "-v", ARG_FLAG, &verbose, 0, 0},
        {"--dry-run", NULL, ARG_FLAG, &o.dry_run, 0, 0},
        {"--retry-failed", NULL, ARG_FLAG, &o.retry_failed, 0, 0},
        {"--no-wait", NULL, ARG_FLAG, &o.no_wait, 0, 0},
        {"--detach", NULL, ARG_FLAG, &o.detach, 0, 0},
        {"--jobs", "-j", ARG_INT, &o.jobs, 1, 1000000},
        {"--max-parallel", NULL, ARG_INT, &o.max_parallel, 1, 1000000},
        {"--cpus-per-task", NULL, ARG_INT, &o.cpus_per_task, 1, 1000000},
        {"--threads", NULL, ARG_INT, &threads, 0, 1000000},
        {"--multirun", "-m", ARG_LIST, &ms, 0, 0},
        {"--set", NULL, ARG_LIST, &sets, 0, 0},
        {"--extra", NULL, ARG_LIST, &extras, 0, 0},
        {"--base", NULL, ARG_STR, &m.base, 0, 0},
        {"--name", NULL, ARG_STR, &m.name, 0, 0},
        {"--seeds", NULL, ARG_STR, &m.seeds, 0, 0},
        {"--backend", NULL, ARG_STR, &backend, 0, 0},
        {"--partition", NULL, ARG_STR, &o.partition, 0, 0},
        {"--time", NULL, ARG_STR, &o.time, 0, 0},
        {"--results", NULL, ARG_STR, &o.results, 0, 0},
        {"--run", NULL, ARG_STR, &run_name, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse(cmd, argc - 1, argv + 1, specs, &pos, usage);
    if (u) return u == 1 ? 0 : 2;
    if (all_pairs(cmd, "-m", &ms) || all_pairs(cmd, "--set", &sets) || all_pairs(cmd, "--extra", &extras)) return 2;
    m.n_m = ms.n;
    m.n_set = sets.n;
    m.n_extra = extras.n;
    int multi = m.base || m.n_m || m.n_set || m.n_extra || m.seeds || m.name;
    if (multi && file) return args_usage_error(cmd, "give a sweep file or --base ... -m ..., not both (got %s)", file);
    if (!multi && !file) return args_usage_error(cmd, "expected a sweep file (or --base EXP -m KEY=V1,V2)");
    if (multi && !strcmp(action, "exec")) return args_usage_error(cmd, "exec takes the sweep file multirun wrote");
    if (strcmp(backend, "local") && strcmp(backend, "slurm"))
        return args_usage_error(cmd, "--backend must be local or slurm, got '%s'", backend);
    if (!strcmp(action, "exec") && !run_name) return args_usage_error(cmd, "exec needs --run NAME");

    Sweep s;
    Err e;
    if (multi) {
        int rc = load_multirun(&s, &m, &o, !strcmp(action, "run") && !o.dry_run, &e);
        if (rc == 2) return args_usage_error(cmd, "%s", e.msg);
        if (rc) {
            fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
            return 1;
        }
    } else if (sweep_load(&s, file, &e)) {
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
