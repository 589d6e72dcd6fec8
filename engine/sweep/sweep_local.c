/* sweep_local.c - the local executor: pending runs become child `train` processes, N at a time.
 *
 * Each child gets its run's lock fd (flock, inherited across exec, so the lock lives exactly as long
 * as the train process, even if this launcher is SIGKILLed), stdout/stderr appended to
 * RUNDIR/train.log and train.threads = cores / N. When a child ends, its summary.json decides the
 * outcome; a non-zero exit without a summary is a failure, recorded in RUNDIR/failed so the next
 * invocation knows (and reruns it only with --retry-failed). Runs locked by another process (an
 * orphaned train of a killed launcher, another launcher) are waited for, then re-examined.
 * SIGINT/SIGTERM: forwarded to the children (train checkpoints and exits 130), nothing new starts; the
 * summary then counts the runs from their directories exactly as `sweep status` does (sweep_count).
 * Everything the launcher says also goes, time-stamped, to RESULTS/<sweep>/sweep.log; its pid and -j
 * go to RESULTS/<sweep>/launcher.json (for status's ETA). --detach: the launcher leaves the terminal's
 * session (setsid) and writes only to sweep.log, so closing the terminal does not stop it. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rundir.h"
#include "sweep.h"

static volatile sig_atomic_t g_stop;
static void on_stop(int sig) { g_stop = sig; }

/* The sweep log: g_log (appended, line-buffered) receives every line the launcher prints, with a UTC
 * time stamp; g_stamp: stdout/stderr are the log themselves (--detach), so stamp them instead. */
static FILE *g_log;
static int g_stamp;

static void stamp(FILE *f) {
    time_t t = time(NULL);
    struct tm tm;
    char b[32];
    gmtime_r(&t, &tm);
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    fputs(b, f);
}

__attribute__((format(printf, 2, 3))) static void say(FILE *to, const char *fmt, ...) {
    va_list ap;
    if (g_stamp) stamp(to);
    va_start(ap, fmt);
    vfprintf(to, fmt, ap);
    va_end(ap);
    if (g_log) {
        stamp(g_log);
        va_start(ap, fmt);
        vfprintf(g_log, fmt, ap);
        va_end(ap);
    }
}

typedef struct {
    pid_t pid;
    int run;
    double start;
} Child;

typedef struct {
    int completed, failed, diverged, interrupted, skipped;
} Tally;

static void rundir(const char *dir, const SweepRun *r, char *out, size_t n) { snprintf(out, n, "%s/%s", dir, r->name); }

static void print_log_tail(const char *run_dir) {
    char path[AD_PATH_MAX + 400], line[512];
    rundir_path(path, sizeof path, run_dir, RUNDIR_TRAIN_LOG);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return;
    }
    char last[3][512] = {{0}};
    int n = 0;
    while (fgets(line, sizeof line, f)) snprintf(last[n++ % 3], sizeof last[0], "%s", line);
    fclose(f);
    for (int i = n > 3 ? n - 3 : 0; i < n; i++) say(stderr, "    | %s", last[i % 3]);
}

/* fork + exec one run; returns the child's pid or -1. The lock fd is closed here in the parent. */
/* argv with `srun --mpi=PLUGIN --ntasks=N` in front: the run as one MPI job step of the allocation
 * (sweep exec inside a Slurm job whose sweep asks for slurm.ntasks > 1). */
static char **with_srun(char **argv, const Sweep *s) {
    int n = 0;
    while (argv[n]) n++;
    char **v = xcalloc((size_t)n + 5, sizeof(char *));
    char mpi[64], nt[32];
    snprintf(mpi, sizeof mpi, "--mpi=%s", s->slurm_mpi[0] ? s->slurm_mpi : "pmix");
    snprintf(nt, sizeof nt, "--ntasks=%d", s->slurm_ntasks);
    int k = 0;
    v[k++] = strcpy(xcalloc(5, 1), "srun");
    v[k++] = strcpy(xcalloc(strlen(mpi) + 1, 1), mpi);
    v[k++] = strcpy(xcalloc(strlen(nt) + 1, 1), nt);
    /* srun does not take the job's cpus-per-task from the environment (Slurm >= 22.05): say it */
    const char *cpt = getenv("SLURM_CPUS_PER_TASK");
    if (cpt && *cpt && strlen(cpt) < 16) {
        char c[48];
        snprintf(c, sizeof c, "--cpus-per-task=%s", cpt);
        v[k++] = strcpy(xcalloc(strlen(c) + 1, 1), c);
    }
    for (int i = 0; i < n; i++) v[k + i] = argv[i];
    free(argv); /* the strings now belong to v */
    return v;
}

static pid_t launch(const SweepRun *r, const char *run_dir, int lock_fd, int threads, const Sweep *srun_for) {
    char **argv = sweep_run_argv(r, run_dir, threads);
    if (srun_for) argv = with_srun(argv, srun_for);
    char logp[AD_PATH_MAX + 400];
    rundir_path(logp, sizeof logp, run_dir, RUNDIR_TRAIN_LOG);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* never through a link planted as train.log (it would append to whatever it points at) */
        int log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK, 0666);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0);
        if (log < 0) {
            dprintf(2, "sweep: %s: %s\n", logp, errno == ELOOP ? RUNDIR_LINK_REFUSED : strerror(errno));
            _exit(127);
        }
        dup2(log, 1);
        dup2(log, 2);
        /* keep the lock across exec, and make the file name the train process */
        fcntl(lock_fd, F_SETFD, 0);
        char t[32];
        int n = snprintf(t, sizeof t, "%ld\n", (long)getpid());
        if (ftruncate(lock_fd, 0) != 0 || pwrite(lock_fd, t, (size_t)n, 0) != n) _exit(127);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        /* srun's ranks do not inherit the lock: they find its holder (this pid, srun) named here */
        if (srun_for) {
            t[n - 1] = 0; /* the pid without its newline */
            setenv("AD_LOCK_HELD_BY", t, 1);
        }
        execvp(argv[0], argv); /* a path, or srun found on PATH */
        dprintf(2, "sweep: cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(lock_fd);
    sweep_argv_free(argv);
    return pid;
}

/* Turn a finished child into an outcome; writes RUNDIR/failed when train left no summary. */
static RunState finish(const SweepRun *r, const char *run_dir, int wstatus, int stopping, double secs) {
    RunStatus st;
    run_status(run_dir, &st);
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    int sig = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    if (st.state == RS_COMPLETED || st.state == RS_DIVERGED || st.state == RS_FAILED) {
        if (st.state == RS_COMPLETED)
            say(stdout, "done     %-40s completed in %.1f s, val ppl %.4g\n", r->name, secs, st.val_ppl);
        else {
            say(stderr, "%s %-40s %s (exit %d); log: %s/train.log\n", st.state == RS_FAILED ? "FAILED  " : "DIVERGED",
                r->name, run_state_name(st.state), code, run_dir);
            if (st.state == RS_FAILED) print_log_tail(run_dir);
        }
        return st.state;
    }
    if (code == 130 || ((sig == SIGINT || sig == SIGTERM) && stopping) || (stopping && code != 0)) {
        if (st.ckpt_step >= 0)
            say(stdout, "stopped  %-40s interrupted; resumes from its checkpoint at step %ld\n", r->name, st.ckpt_step);
        else say(stdout, "stopped  %-40s interrupted before its first checkpoint (restarts from step 0)\n", r->name);
        return RS_INTERRUPTED;
    }
    if (code == 0) { /* exited 0 without a summary: not a finished run */
        say(stderr, "FAILED   %-40s train exited 0 without summary.json\n", r->name);
    } else {
        say(stderr, "FAILED   %-40s %s %d; log: %s/train.log\n", r->name, sig ? "killed by signal" : "exit status",
            sig ? sig : code, run_dir);
        print_log_tail(run_dir);
    }
    /* the marker is written under the run's lock; if another process holds it by now, that one
     * works on the run and decides its outcome */
    char path[AD_PATH_MAX + 400], msg[96];
    int n = snprintf(msg, sizeof msg, "%s %d\n", sig ? "signal" : "exit", sig ? sig : code);
    Err e;
    int fd = rundir_lock(run_dir, &e);
    if (fd >= 0) {
        rundir_path(path, sizeof path, run_dir, RUNDIR_FAILED_MARKER);
        if (write_file_atomic(path, msg, (size_t)n, &e)) say(stderr, "sweep: %s\n", e.msg);
        close(fd);
    }
    return RS_FAILED;
}

static void tally_add(Tally *t, RunState s) {
    if (s == RS_COMPLETED) t->completed++;
    else if (s == RS_FAILED) t->failed++;
    else if (s == RS_DIVERGED) t->diverged++;
    else t->interrupted++;
}

/* Before a retry: keep the failed summary for reference, drop the marker. */
static void clear_failure(const char *run_dir) {
    char a[AD_PATH_MAX + 400], b[AD_PATH_MAX + 400];
    rundir_path(a, sizeof a, run_dir, RUNDIR_SUMMARY);
    rundir_path(b, sizeof b, run_dir, RUNDIR_SUMMARY_FAILED);
    if (file_exists(a)) rename(a, b);
    rundir_path(a, sizeof a, run_dir, RUNDIR_FAILED_MARKER);
    unlink(a);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* What the launcher does with each run of the grid. */
typedef enum {
    TODO_RUN,       /* pending, interrupted, or failed with --retry-failed: run it here */
    TODO_FINAL,     /* completed, diverged, or failed: skipped */
    TODO_ELSEWHERE, /* held by another process: waited for, then re-examined */
} Todo;

/* The state of one sweep_run_local call. */
typedef struct {
    const Sweep *s;
    const SweepOpts *o;
    char dir[AD_PATH_MAX];
    int jobs, threads;
    Todo *todo;  /* one per run */
    Child *kids; /* one slot per job; pid 0 = free */
    Tally t;
    int n_todo, n_wait, prev_failed;
    int active, next, started, said;
} Local;

/* Plan: classify every run (and print the plan under --dry-run), then the one-line summary. */
static void local_plan(Local *L) {
    const Sweep *s = L->s;
    char rd[AD_PATH_MAX + 300];
    for (int i = 0; i < s->n_runs; i++) {
        RunStatus st;
        rundir(L->dir, &s->runs[i], rd, sizeof rd);
        run_status(rd, &st);
        int run = st.state == RS_PENDING || st.state == RS_INTERRUPTED || (st.state == RS_FAILED && L->o->retry_failed);
        L->todo[i] = run ? TODO_RUN : st.state == RS_RUNNING ? TODO_ELSEWHERE : TODO_FINAL;
        if (L->todo[i] == TODO_FINAL) {
            L->t.skipped++;
            if (st.state == RS_FAILED) L->prev_failed++;
            if (st.state == RS_DIVERGED) L->t.diverged++;
        }
        L->n_todo += L->todo[i] == TODO_RUN;
        L->n_wait += L->todo[i] == TODO_ELSEWHERE;
        if (L->o->dry_run)
            say(stdout, "%-10s %-44s %s\n",
                run ? (st.state == RS_INTERRUPTED ? "resume"
                       : st.state == RS_FAILED    ? "retry"
                                                  : "run")
                    : run_state_name(st.state),
                s->runs[i].name, s->runs[i].label);
    }
    say(stdout, "sweep %s: %d runs in %s: %d to run, %d already final, %d running elsewhere; -j %d, %d thread%s each\n",
        s->name, s->n_runs, L->dir, L->n_todo, L->t.skipped, L->n_wait, L->jobs, L->threads,
        L->threads == 1 ? "" : "s");
}

/* Launch: start runs in grid order while job slots are free (and no stop was asked for). */
static void local_launch(Local *L) {
    const Sweep *s = L->s;
    char rd[AD_PATH_MAX + 300];
    Err e;
    while (!g_stop && L->active < L->jobs && L->next < s->n_runs) {
        int i = L->next++;
        if (L->todo[i] != TODO_RUN) continue;
        rundir(L->dir, &s->runs[i], rd, sizeof rd);
        int fd = run_lock(rd, &e);
        if (fd == -1) { /* someone else took it meanwhile */
            L->todo[i] = TODO_ELSEWHERE;
            L->n_wait++;
            continue;
        }
        if (fd < 0) {
            say(stderr, "FAILED   %-40s %s\n", s->runs[i].name, e.msg);
            tally_add(&L->t, RS_FAILED);
            continue;
        }
        /* re-read under the lock: another launcher may have finished it meanwhile */
        RunStatus st;
        run_status_files(rd, &st);
        if (st.state == RS_COMPLETED || st.state == RS_DIVERGED || (st.state == RS_FAILED && !L->o->retry_failed)) {
            close(fd);
            L->t.skipped++;
            L->t.diverged += st.state == RS_DIVERGED;
            L->prev_failed += st.state == RS_FAILED;
            continue;
        }
        if (st.state == RS_FAILED) clear_failure(rd);
        pid_t pid = launch(&s->runs[i], rd, fd, L->threads, NULL);
        if (pid < 0) {
            say(stderr, "FAILED   %-40s cannot fork: %s\n", s->runs[i].name, strerror(errno));
            tally_add(&L->t, RS_FAILED);
            continue;
        }
        L->started++;
        say(stdout, "start    %-40s [%d/%d] pid %ld\n", s->runs[i].name, L->started, L->n_todo, (long)pid);
        fflush(stdout);
        for (int k = 0; k < L->jobs; k++)
            if (!L->kids[k].pid) {
                L->kids[k] = (Child){pid, i, now_seconds()};
                break;
            }
        L->active++;
    }
}

/* Only runs held by other processes remain: re-examine them, sleep while any is still held. */
static void local_poll_elsewhere(Local *L) {
    const Sweep *s = L->s;
    char rd[AD_PATH_MAX + 300];
    int still = 0;
    for (int i = 0; i < s->n_runs; i++) {
        if (L->todo[i] != TODO_ELSEWHERE) continue;
        RunStatus st;
        rundir(L->dir, &s->runs[i], rd, sizeof rd);
        run_status(rd, &st);
        if (st.state == RS_RUNNING) {
            still++;
            continue;
        }
        L->n_wait--;
        if (st.state == RS_PENDING || st.state == RS_INTERRUPTED) {
            L->todo[i] = TODO_RUN; /* its process died before finishing: run it here */
            L->n_todo++;
            if (i < L->next) L->next = i;
        } else {
            L->todo[i] = TODO_FINAL;
            say(stdout, "seen     %-40s %s by another process\n", s->runs[i].name, run_state_name(st.state));
            tally_add(&L->t, st.state);
        }
    }
    if (still) {
        if (!L->said++) say(stdout, "waiting  for %d run%s held by other processes\n", still, still == 1 ? "" : "s");
        fflush(stdout);
        sleep_ms(500);
    }
}

/* Reap: wait for one child and record its outcome. Returns -1 when there is no child left to wait
 * for, 0 otherwise (also when a signal interrupted the wait). */
static int local_reap(Local *L) {
    char rd[AD_PATH_MAX + 300];
    int wst;
    pid_t pid = waitpid(-1, &wst, 0);
    if (pid < 0) return errno == EINTR ? 0 : -1; /* ECHILD: nothing left */
    for (int k = 0; k < L->jobs; k++)
        if (L->kids[k].pid == pid) {
            const SweepRun *r = &L->s->runs[L->kids[k].run];
            rundir(L->dir, r, rd, sizeof rd);
            tally_add(&L->t, finish(r, rd, wst, g_stop != 0, now_seconds() - L->kids[k].start));
            fflush(stdout);
            L->kids[k].pid = 0;
            L->active--;
        }
    return 0;
}

/* RESULTS/<sweep>/launcher.json: who runs the sweep and how many at a time (status's ETA divides by it). */
static void write_launcher_json(const char *dir, int jobs) {
    char path[AD_PATH_MAX + 32], b[160];
    Err e;
    snprintf(path, sizeof path, "%s/launcher.json", dir);
    int n = snprintf(b, sizeof b, "{\"pid\": %ld, \"jobs\": %d, \"started\": %ld}\n", (long)getpid(), jobs,
                     (long)time(NULL));
    if (write_file_atomic(path, b, (size_t)n, &e)) say(stderr, "sweep: %s\n", e.msg);
}

/* --detach: fork; the parent says where the log is and returns 1, the child (returns 0) leaves the
 * terminal's session and writes to the log only. -1 on failure. */
static int detach(const char *dir, const char *log_path) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        printf("sweep: detached, launcher pid %ld; log: %s\n"
               "  follow: tail -f %s    progress: alphadecay sweep status ...    stop: kill -INT %ld\n",
               (long)pid, log_path, log_path, (long)pid);
        (void)dir;
        return 1;
    }
    setsid(); /* no controlling terminal: closing it sends no SIGHUP here */
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0666), nul = open("/dev/null", O_RDONLY);
    if (fd < 0) _exit(1);
    if (nul >= 0) dup2(nul, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return 0;
}

int sweep_run_local(const Sweep *s, const SweepOpts *o) {
    Local L = {.s = s, .o = o};
    Err e;
    sweep_dir(s, o->results, L.dir, sizeof L.dir);
    if (sweep_check_results(s, L.dir, !o->dry_run, &e)) {
        fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
        return 1;
    }
    char log_path[AD_PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s/sweep.log", L.dir);
    if (!o->dry_run && o->detach) {
        int d = detach(L.dir, log_path);
        if (d < 0) {
            fprintf(stderr, "alphadecay sweep: --detach: cannot fork: %s\n", strerror(errno));
            return 1;
        }
        if (d > 0) return 0;
        g_stamp = 1;
    } else if (!o->dry_run) {
        /* never through a link planted as sweep.log */
        int lfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666);
        g_log = lfd >= 0 ? fdopen(lfd, "a") : NULL;
        if (!g_log) {
            fprintf(stderr, "alphadecay sweep: %s: %s%s\n", log_path,
                    errno == ELOOP ? "" : "cannot open: ", errno == ELOOP ? RUNDIR_LINK_REFUSED : strerror(errno));
            if (lfd >= 0) close(lfd);
            return 1;
        }
        setvbuf(g_log, NULL, _IOLBF, 0);
    }
    L.jobs = o->jobs > 0 ? o->jobs : 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    L.threads = (int)(cores / L.jobs) > 0 ? (int)(cores / L.jobs) : 1;
    L.todo = xcalloc((size_t)s->n_runs, sizeof(Todo));
    if (!o->dry_run) write_launcher_json(L.dir, L.jobs);
    local_plan(&L);
    if (o->dry_run) {
        free(L.todo);
        return 0;
    }
    fflush(stdout);

    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int); /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGTERM, &sa, &old_term);
    g_stop = 0;

    L.kids = xcalloc((size_t)L.jobs, sizeof(Child));
    int forwarded = 0;
    double t0 = now_seconds();
    for (;;) {
        local_launch(&L);
        if (g_stop && !forwarded) {
            say(stderr,
                "sweep: stopping (signal %d): asking %d running train process%s to checkpoint and exit; "
                "nothing new starts\n",
                (int)g_stop, L.active, L.active == 1 ? "" : "es");
            for (int k = 0; k < L.jobs; k++)
                if (L.kids[k].pid) kill(L.kids[k].pid, SIGINT);
            forwarded = 1;
        }
        if (L.active == 0) {
            if (g_stop || L.n_wait == 0) break;
            local_poll_elsewhere(&L);
            continue;
        }
        if (local_reap(&L) < 0) break;
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    /* The account: every run's state from its directory, counted as `sweep status` counts it. */
    SweepCount c;
    sweep_count(s, L.dir, &c);
    int *n = c.count;
    say(stdout,
        "sweep %s: %d completed, %d failed, %d diverged, %d interrupted, %d pending, %d running elsewhere "
        "(of %d); this invocation started %d, %d skipped (already final%s)%s in %.1f s\n",
        s->name, n[RS_COMPLETED], n[RS_FAILED], n[RS_DIVERGED], n[RS_INTERRUPTED], n[RS_PENDING], n[RS_RUNNING],
        s->n_runs, L.started, L.t.skipped, L.prev_failed ? ", failed ones need --retry-failed" : "",
        g_stop ? " - stopped" : "", now_seconds() - t0);
    if (n[RS_INTERRUPTED] + n[RS_PENDING] > 0)
        say(stdout,
            "sweep %s: to resume, run the same command again (interrupted runs continue from their newest "
            "checkpoint); log: %s\n",
            s->name, log_path);
    free(L.kids);
    free(L.todo);
    if (g_log) fclose(g_log);
    g_log = NULL;
    if (g_stop) return 130;
    return (n[RS_FAILED] + n[RS_INTERRUPTED] + n[RS_PENDING] + n[RS_RUNNING]) ? 1 : 0;
}

/* One run in the current process's place (a Slurm array task): lock, run train as a child holding
 * the lock, record the outcome like the local executor does. */
int sweep_exec_one(const Sweep *s, const char *run_name, const SweepOpts *o, int threads) {
    char dir[AD_PATH_MAX], rd[AD_PATH_MAX + 300];
    Err e;
    const SweepRun *r = NULL;
    for (int i = 0; i < s->n_runs; i++)
        if (!strcmp(s->runs[i].name, run_name)) r = &s->runs[i];
    if (!r) {
        say(stderr, "alphadecay sweep exec: %s: no run named '%s'\n", s->file, run_name);
        return 1;
    }
    sweep_dir(s, o->results, dir, sizeof dir);
    if (sweep_check_results(s, dir, 1, &e)) {
        say(stderr, "alphadecay sweep exec: %s\n", e.msg);
        return 1;
    }
    rundir(dir, r, rd, sizeof rd);
    int fd = run_lock(rd, &e);
    if (fd < 0) {
        say(stderr, "alphadecay sweep exec: %s\n", e.msg);
        return fd == -1 ? 0 : 1; /* held by another process: that one will finish it */
    }
    RunStatus st;
    run_status_files(rd, &st);
    if (st.state == RS_COMPLETED || st.state == RS_DIVERGED || (st.state == RS_FAILED && !o->retry_failed)) {
        say(stdout, "skip     %-40s already %s\n", r->name, run_state_name(st.state));
        close(fd);
        return st.state == RS_FAILED;
    }
    if (st.state == RS_FAILED) clear_failure(rd);
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    double t0 = now_seconds();
    /* inside a Slurm job of two or more tasks: the run is one job step over all of them */
    pid_t pid = launch(r, rd, fd, threads, s->slurm_ntasks > 1 && getenv("SLURM_JOB_ID") ? s : NULL);
    if (pid < 0) return 1;
    say(stdout, "start    %-40s pid %ld\n", r->name, (long)pid);
    fflush(stdout);
    int wst, forwarded = 0;
    while (waitpid(pid, &wst, 0) < 0) {
        if (errno != EINTR) return 1;
        if (g_stop && !forwarded++) kill(pid, SIGINT); /* scancel sends SIGTERM: let train checkpoint */
    }
    RunState out = finish(r, rd, wst, g_stop != 0, now_seconds() - t0);
    return out == RS_COMPLETED || out == RS_DIVERGED ? 0 : 1;
}
