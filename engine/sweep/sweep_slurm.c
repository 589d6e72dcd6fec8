/* sweep_slurm.c - the Slurm backend: one sbatch job array per submission, one task per pending run.
 *
 * Files under results/<sweep>/slurm/: submit-N.sbatch (the script), jobs (one job id per line, in
 * submission order) and %A_%a.log (one log per task). Each task runs `alphadecay sweep exec SWEEP
 * --run NAME`, which takes the run's lock and runs train exactly as the local executor does, so
 * completed runs are skipped and interrupted ones resume across submissions. Progress comes from
 * squeue (is the job still there?) and the run directories (what state is each run in?): clusters
 * often have no accounting, so sacct is never used. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep.h"

/* A Slurm job id as sbatch --parsable prints it and the jobs file stores it: decimal digits only (it is
 * passed to squeue / named in messages, so nothing else may get through). */
static int is_job_id(const char *s) { return *s && strlen(s) < 32 && strspn(s, "0123456789") == strlen(s); }

/* An #SBATCH option value: letters, digits and ._,:+- only (partition lists, D-HH:MM:SS times), so it can
 * neither end the line nor be read as another option. */
static int sbatch_value_ok(const char *v) {
    if (!*v || strlen(v) > 128) return 0;
    for (const char *c = v; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("._,:+-", *c)) return 0;
    return 1;
}

/* Single-quote s for the shell. */
static void shq(char *out, size_t n, const char *s) {
    size_t k = 0;
    out[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else out[k++] = *s;
    }
    out[k++] = '\'';
    out[k] = 0;
}

/* Number of the job's array tasks squeue still lists as not finished; -1 if squeue fails. */
static int active_tasks(const char *job) {
    static char out[65536];
    char jb[32];
    snprintf(jb, sizeof jb, "%s", job);
    char *argv[] = {"squeue", "-h", "-r", "-j", jb, "-o", "%T", NULL};
    int rc = run_argv(argv, NULL, NULL, out, sizeof out, NULL);
    if (rc != 0) return rc < 0 ? -1 : 0; /* "Invalid job id": purged, i.e. finished long ago */
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(
                "PENDING RUNNING CONFIGURING COMPLETING SUSPENDED REQUEUED REQUEUE_HOLD RESIZING SIGNALING STAGE_OUT",
                line) &&
            *line)
            n++;
    return n;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static int abs_path(const char *p, char *out, size_t n) {
    if (p[0] == '/') return snprintf(out, n, "%s", p) < (int)n ? 0 : -1;
    char cwd[AD_PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    return snprintf(out, n, "%s/%s", cwd, p) < (int)n ? 0 : -1;
}

/* Submissions so far (lines of the jobs file); -1 when one of them is still active, which would race
 * with a new one. */
static int previous_submissions(const Sweep *s, const SweepOpts *o, const char *jobs_path) {
    int n_sub = 0;
    FILE *jf = fopen(jobs_path, "r");
    if (!jf) return 0;
    char id[64];
    while (fscanf(jf, "%63s", id) == 1) {
        n_sub++;
        if (!is_job_id(id)) {
            fclose(jf);
            fprintf(stderr, "alphadecay sweep: %s: '%s' is not a Slurm job id (digits only); fix or remove the file\n",
                    jobs_path, id);
            return -1;
        }
        if (!o->dry_run && active_tasks(id) > 0) {
            fclose(jf);
            fprintf(stderr,
                    "alphadecay sweep: %s: Slurm job %s of this sweep is still active; wait for it or "
                    "scancel %s\n",
                    s->file, id, id);
            return -1;
        }
    }
    fclose(jf);
    return n_sub;
}

/* Write the sbatch script (atomically): one array task per pending run, each running `sweep exec`. */
static int write_script(const Sweep *s, const SweepOpts *o, const char *script, const char *sdir_abs, const char *cwd,
                        const char *self, const char *file_abs, const char *res_abs, const int *pend, int n) {
    char q1[AD_PATH_MAX * 2], q2[AD_PATH_MAX * 2], q3[AD_PATH_MAX * 2];
    StrBuf f = {0};
    sb_printf(&f, "#!/bin/bash\n# Written by alphadecay sweep run --backend slurm for %s (%d runs).\n", s->file, n);
    sb_printf(&f, "#SBATCH --job-name=ad-%s\n", s->name);
    if (o->max_parallel > 0) sb_printf(&f, "#SBATCH --array=0-%d%%%d\n", n - 1, o->max_parallel);
    else sb_printf(&f, "#SBATCH --array=0-%d\n", n - 1);
    sb_printf(&f, "#SBATCH --output=%s/%%A_%%a.log\n#SBATCH --chdir=%s\n", sdir_abs, cwd);
    if (o->partition) sb_printf(&f, "#SBATCH --partition=%s\n", o->partition);
    if (o->time) sb_printf(&f, "#SBATCH --time=%s\n", o->time);
    int cpus = o->cpus_per_task > 0 ? o->cpus_per_task : s->slurm_cpus_per_task;
    if (cpus > 0) sb_printf(&f, "#SBATCH --cpus-per-task=%d\n", cpus);
    /* slurm.ntasks > 1: each array task is an allocation of N tasks; sweep exec runs train in it as one
     * MPI job step (srun) */
    if (s->slurm_ntasks > 1) sb_printf(&f, "#SBATCH --ntasks=%d\n", s->slurm_ntasks);
    if (s->slurm_nodes > 0) sb_printf(&f, "#SBATCH --nodes=%d\n", s->slurm_nodes);
    sb_printf(&f, "RUNS=(\n");
    for (int i = 0; i < n; i++) {
        shq(q1, sizeof q1, s->runs[pend[i]].name);
        sb_printf(&f, "  %s\n", q1);
    }
    shq(q1, sizeof q1, self);
    shq(q2, sizeof q2, file_abs);
    shq(q3, sizeof q3, res_abs);
    sb_printf(&f,
              ")\nexec %s sweep exec %s --run \"${RUNS[$SLURM_ARRAY_TASK_ID]}\" --results %s --threads "
              "\"${SLURM_CPUS_PER_TASK:-1}\"%s\n",
              q1, q2, q3, o->retry_failed ? " --retry-failed" : "");
    /* whole or absent, every write checked (a full disk must not give sbatch an empty script) */
    Err e;
    int rc = write_file_atomic(script, f.p, f.len, &e);
    sb_free(&f);
    if (rc) fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
    return rc;
}

/* sbatch the script; the job id into job[64]. */
static int submit(const char *script, char *job) {
    char out[4096];
    char *sb_argv[] = {"sbatch", "--parsable", (char *)script, NULL};
    int rc = run_argv(sb_argv, NULL, NULL, out, sizeof out, NULL);
    char *semi = strpbrk(out, ";\n");
    if (semi) *semi = 0;
    if (rc != 0 || !is_job_id(out)) {
        fprintf(stderr, "alphadecay sweep: sbatch failed (status %d): %s\n", rc, out);
        return -1;
    }
    snprintf(job, 64, "%.63s", out);
    return 0;
}

/* Track: squeue says whether the job lives; the run directories say how each run ended. Prints each
 * change of state, then the totals; returns the exit code (1 when a run failed or did not finish). */
static int track(const Sweep *s, const char *dir, const char *job, const int *pend, int n, int skipped) {
    char rd[AD_PATH_MAX + 300];
    RunState *last = xcalloc((size_t)n, sizeof(RunState));
    for (int i = 0; i < n; i++) last[i] = RS_PENDING;
    double poll = getenv("AD_SLURM_POLL") ? atof(getenv("AD_SLURM_POLL")) : 5.0;
    int gone_polls = 0;
    for (;;) {
        int act = active_tasks(job);
        for (int i = 0; i < n; i++) {
            RunStatus st;
            snprintf(rd, sizeof rd, "%s/%s", dir, s->runs[pend[i]].name);
            run_status(rd, &st);
            if (st.state != last[i] && st.state != RS_PENDING) {
                printf("%-9s %s\n", run_state_name(st.state), s->runs[pend[i]].name);
                fflush(stdout);
            }
            last[i] = st.state;
        }
        if (act == 0 && ++gone_polls >= 2) break; /* twice, so a task's last files are in place */
        if (act != 0) gone_polls = 0;
        sleep_s(poll > 0.05 ? poll : 0.05);
    }
    int c = 0, fl = 0, dv = 0, other = 0;
    for (int i = 0; i < n; i++) {
        if (last[i] == RS_COMPLETED) c++;
        else if (last[i] == RS_FAILED) fl++;
        else if (last[i] == RS_DIVERGED) dv++;
        else other++;
    }
    printf("sweep %s: Slurm job %s finished: %d completed, %d failed, %d diverged, %d not finished, %d skipped\n",
           s->name, job, c, fl, dv, other, skipped);
    free(last);
    return (fl || other) ? 1 : 0;
}

/* Append the job id to the jobs file (one write, synced, never through a link); a failure is an error
 * that names the job, which is submitted but would be unknown to the next `sweep run`. */
static int record_job(const char *jobs_path, const char *job) {
    char line[72];
    int n = snprintf(line, sizeof line, "%s\n", job);
    int fd = open(jobs_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666), err = 0;
    if (fd < 0) err = errno;
    else {
        ssize_t w = write(fd, line, (size_t)n);
        if (w != n) err = w < 0 ? errno : ENOSPC;
        if (!err && fsync(fd) != 0) err = errno;
        if (close(fd) != 0 && !err) err = errno;
    }
    if (!err) return 0;
    fprintf(stderr,
            "alphadecay sweep: %s: cannot record submitted Slurm job %s: %s; add the line '%s' to it by hand "
            "(or scancel %s) before the next sweep run\n",
            jobs_path, job, strerror(err), job, job);
    return -1;
}

/* Submit the pending runs as one job array (and, unless --no-wait, track it); 0/1 exit code. */
static int submit_and_track(const Sweep *s, const SweepOpts *o, const char *dir, const char *sdir,
                            const char *jobs_path, int n_sub, const int *pend, int n, int skipped) {
    char self[AD_PATH_MAX], file_abs[AD_PATH_MAX], res_abs[AD_PATH_MAX], sdir_abs[AD_PATH_MAX + 16], cwd[AD_PATH_MAX];
    Err e;
    long k = self_exe_path(self, sizeof self);
    if (k <= 0 || abs_path(s->file, file_abs, sizeof file_abs) ||
        abs_path(o->results ? o->results : "results", res_abs, sizeof res_abs) ||
        abs_path(sdir, sdir_abs, sizeof sdir_abs) || !getcwd(cwd, sizeof cwd)) {
        fprintf(stderr, "alphadecay sweep: cannot resolve absolute paths\n");
        return 1;
    }
    /* --chdir and --output go into #SBATCH lines unquoted: a newline would start another directive */
    for (const char *q = cwd; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            fprintf(stderr,
                    "alphadecay sweep: the current directory holds a control character; Slurm cannot be given it\n");
            return 1;
        }
    for (const char *q = sdir_abs; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            fprintf(stderr,
                    "alphadecay sweep: %s: the results path holds a control character; Slurm cannot be given it\n",
                    sdir);
            return 1;
        }
    if (mkdir_p(sdir, &e)) {
        fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
        return 1;
    }
    char script[AD_PATH_MAX + 64], job[64];
    snprintf(script, sizeof script, "%s/submit-%d.sbatch", sdir, n_sub + 1);
    if (write_script(s, o, script, sdir_abs, cwd, self, file_abs, res_abs, pend, n)) return 1;
    if (submit(script, job)) return 1;
    if (record_job(jobs_path, job)) return 1;
    printf("submitted Slurm job %s: %d task%s%s; script %s, logs %s/%s_*.log\n", job, n, n == 1 ? "" : "s",
           o->max_parallel > 0 ? " (throttled)" : "", script, sdir, job);
    fflush(stdout);
    if (o->no_wait) return 0;
    return track(s, dir, job, pend, n, skipped);
}

int sweep_run_slurm(const Sweep *s, const SweepOpts *o) {
    char dir[AD_PATH_MAX], rd[AD_PATH_MAX + 300], sdir[AD_PATH_MAX + 16], jobs_path[AD_PATH_MAX + 32];
    Err e;
    sweep_dir(s, o->results, dir, sizeof dir);
    if (sweep_check_results(s, dir, !o->dry_run, &e)) {
        fprintf(stderr, "alphadecay sweep: %s\n", e.msg);
        return 1;
    }
    if ((o->partition && !sbatch_value_ok(o->partition)) || (o->time && !sbatch_value_ok(o->time))) {
        fprintf(stderr,
                "alphadecay sweep: --%s '%s': use only letters, digits and ._,:+- (it becomes an #SBATCH line)\n",
                o->partition && !sbatch_value_ok(o->partition) ? "partition" : "time",
                o->partition && !sbatch_value_ok(o->partition) ? o->partition : o->time);
        return 1;
    }
    snprintf(sdir, sizeof sdir, "%s/slurm", dir);
    snprintf(jobs_path, sizeof jobs_path, "%s/jobs", sdir);
    int n_sub = previous_submissions(s, o, jobs_path);
    if (n_sub < 0) return 1;

    /* plan: the runs to submit, in grid order */
    int *pend = xcalloc((size_t)s->n_runs + 1, sizeof(int));
    int n = 0, skipped = 0;
    for (int i = 0; i < s->n_runs; i++) {
        RunStatus st;
        snprintf(rd, sizeof rd, "%s/%s", dir, s->runs[i].name);
        run_status(rd, &st);
        if (st.state == RS_PENDING || st.state == RS_INTERRUPTED || (st.state == RS_FAILED && o->retry_failed))
            pend[n++] = i;
        else skipped++;
    }
    printf("sweep %s: %d runs, %d to submit, %d skipped (final or running)\n", s->name, s->n_runs, n, skipped);
    int rc = 0;
    if (n == 0 || o->dry_run) {
        for (int k = 0; k < n; k++) printf("would submit %s\n", s->runs[pend[k]].name);
    } else {
        rc = submit_and_track(s, o, dir, sdir, jobs_path, n_sub, pend, n, skipped);
    }
    free(pend);
    return rc;
}
