/* sweep_state.c - what a run directory says about its run, the per-run lock, the results directory's
 * grid fingerprint (sweep.json), and the train command line of a run.
 *
 * Lock: RUNDIR/.lock (rundir.h) is flock()ed by the launcher and inherited by the train process across
 * exec, which finds the inherited descriptor and holds the same lock, so it is held exactly as long as
 * some process works on the run. The kernel drops it when the last holder dies (SIGKILL included), so
 * a stale lock never blocks anything; the file's text is the pid of the train process, for humans and
 * `status`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "rundir.h"
#include "sweep.h"

const char *run_state_name(RunState s) {
    static const char *const n[] = {"pending", "interrupted", "running", "completed", "failed", "diverged"};
    return (s >= RS_PENDING && s <= RS_DIVERGED) ? n[s] : "?";
}

static double num_or_nan(const Json *o, const char *key) {
    double v;
    return json_num(o, key, &v) == 0 ? v : NAN;
}

void run_status(const char *run_dir, RunStatus *st) {
    long pid = 0;
    run_status_files(run_dir, st);
    /* a held lock means some process is working on the run, whatever the files say */
    if (rundir_lock_holder(run_dir, &pid)) {
        st->state = RS_RUNNING;
        st->pid = pid;
    }
}

/* Step of the newest checkpoint/step_N/ holding COMPLETE (checkpoint.h), -1 if none: where a resume
 * starts, which is not the last logged step when the run stopped between two log lines. */
static long newest_checkpoint(const char *run_dir) {
    char ck[AD_PATH_MAX + 400], marker[AD_PATH_MAX + 700];
    rundir_path(ck, sizeof ck, run_dir, RUNDIR_CHECKPOINTS);
    DIR *d = opendir(ck);
    if (!d) return -1;
    long best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end;
        if (strncmp(de->d_name, "step_", 5)) continue;
        long step = strtol(de->d_name + 5, &end, 10);
        if (*end || end == de->d_name + 5 || step <= best) continue;
        snprintf(marker, sizeof marker, "%s/%s/COMPLETE", ck, de->d_name);
        if (file_exists(marker)) best = step;
    }
    closedir(d);
    return best;
}

void run_status_files(const char *run_dir, RunStatus *st) {
    char path[AD_PATH_MAX + 400];
    st->state = RS_PENDING;
    st->step = -1;
    st->loss = st->val_ppl = st->seconds = NAN;
    st->pid = 0;
    st->ckpt_step = newest_checkpoint(run_dir);

    Json *m = rundir_last_record(run_dir, RUNDIR_METRICS);
    if (m) {
        double v = num_or_nan(m, "step");
        st->step = isnan(v) ? -1 : (long)v;
        st->loss = num_or_nan(m, "loss");
        st->seconds = num_or_nan(m, "elapsed_s");
        json_free(m);
    }
    Json *ev = rundir_last_record(run_dir, RUNDIR_EVAL);
    if (ev) {
        st->val_ppl = num_or_nan(ev, "ppl");
        json_free(ev);
    }
    int started = st->step >= 0;
    started |= file_exists(rundir_path(path, sizeof path, run_dir, RUNDIR_CHECKPOINTS));

    Json *s = NULL;
    switch (rundir_status(run_dir, &s, NULL, 0)) {
        case RUNDIR_NO_SUMMARY: st->state = started ? RS_INTERRUPTED : RS_PENDING; return;
        case RUNDIR_COMPLETED: st->state = RS_COMPLETED; break;
        case RUNDIR_DIVERGED: st->state = RS_DIVERGED; break;
        default: st->state = RS_FAILED; break; /* failed, or a summary nobody can read */
    }
    double ppl = num_or_nan(s, "final_val_ppl"), steps = num_or_nan(s, "steps"), wall = num_or_nan(s, "wall_seconds");
    if (!isnan(ppl)) st->val_ppl = ppl;
    if (!isnan(wall)) st->seconds = wall;
    if (!isnan(steps)) st->step = (long)steps;
    json_free(s);
}

void sweep_count(const Sweep *s, const char *dir, SweepCount *c) {
    char rd[AD_PATH_MAX + 300];
    memset(c, 0, sizeof *c);
    for (int i = 0; i < s->n_runs; i++) {
        RunStatus st;
        snprintf(rd, sizeof rd, "%s/%s", dir, s->runs[i].name);
        run_status(rd, &st);
        c->count[st.state]++;
        if (!isnan(st.seconds)) c->run_seconds += st.seconds;
        if (st.state == RS_COMPLETED && !isnan(st.seconds) && st.step > 0) {
            c->done_seconds += st.seconds;
            c->done_steps += (double)st.step;
        }
        if (st.state == RS_PENDING || st.state == RS_INTERRUPTED || st.state == RS_RUNNING) {
            long from = st.state == RS_RUNNING ? (st.step > st.ckpt_step ? st.step : st.ckpt_step) : st.ckpt_step;
            long left = s->runs[i].steps - (from > 0 ? from : 0);
            c->left_steps += left > 0 ? left : 0;
        }
    }
}

void sweep_dir(const Sweep *s, const char *results_root, char *out, size_t n) {
    snprintf(out, n, "%s/%s", results_root && *results_root ? results_root : "results", s->name);
}

int sweep_check_results(const Sweep *s, const char *dir, int create, Err *e) {
    char path[AD_PATH_MAX + 32], fp[32];
    /* every run directory's path fits (train would refuse it), before anything is created */
    for (int i = 0; i < s->n_runs; i++) {
        char rd[AD_PATH_MAX + 300];
        snprintf(rd, sizeof rd, "%s/%s", dir, s->runs[i].name);
        if (rundir_check_path(rd, e)) return -1;
    }
    snprintf(path, sizeof path, "%s/sweep.json", dir);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)s->fingerprint);
    if (file_exists(path)) {
        Json *j = NULL;
        if (json_parse_file(path, &j, e)) return -1;
        char old[40] = "missing", oldfile[AD_PATH_MAX] = "?"; /* copied out before json_free */
        int same = json_str(j, "fingerprint") && !strcmp(json_str(j, "fingerprint"), fp);
        if (json_str(j, "fingerprint")) snprintf(old, sizeof old, "%s", json_str(j, "fingerprint"));
        if (json_str(j, "file")) snprintf(oldfile, sizeof oldfile, "%s", json_str(j, "file"));
        json_free(j);
        if (!same)
            return err_set(e,
                           "%s: %s holds runs of a different grid named '%s' (from %s, fingerprint %s; this "
                           "grid is %s): give the sweep another name or use --results DIR",
                           s->file, dir, s->name, oldfile, old, fp);
        return 0;
    }
    if (!create) return 0;
    if (mkdir_p(dir, e)) return -1;
    StrBuf b = {0};
    sb_printf(&b, "{\"name\": ");
    sb_json_str(&b, s->name);
    sb_printf(&b, ", \"file\": ");
    sb_json_str(&b, s->file);
    sb_printf(&b, ", \"fingerprint\": \"%s\", \"version\": \"%s\", \"n_runs\": %d, \"runs\": [", fp, AD_VERSION,
              s->n_runs);
    for (int i = 0; i < s->n_runs; i++) {
        const SweepRun *r = &s->runs[i];
        sb_printf(&b, "%s\n  {\"name\": ", i ? "," : "");
        sb_json_str(&b, r->name);
        sb_printf(&b, ", \"experiment\": ");
        sb_json_str(&b, r->experiment);
        sb_printf(&b, ", \"set\": {");
        for (int k = 0; k < r->n_kv; k++) {
            sb_printf(&b, "%s", k ? ", " : "");
            sb_json_str(&b, r->kv[k].key);
            sb_printf(&b, ": ");
            sb_json_str(&b, r->kv[k].value);
        }
        sb_printf(&b, "}}");
    }
    sb_printf(&b, "]}\n");
    int rc = write_file_atomic(path, b.p, b.len, e);
    sb_free(&b);
    return rc;
}

int run_lock(const char *run_dir, Err *e) { return rundir_lock(run_dir, e); }

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xcalloc(n, 1);
    memcpy(d, s, n);
    return d;
}

char **sweep_run_argv(const SweepRun *r, const char *run_dir, int threads) {
    char **v = xcalloc((size_t)(2 * r->n_kv + 10), sizeof(char *));
    int n = 0;
    const char *cmd = getenv("AD_TRAIN_CMD");
    if (cmd && *cmd) {
        v[n++] = dupstr(cmd);
    } else {
        char self[AD_PATH_MAX];
        long k = self_exe_path(self, sizeof self);
        v[n++] = dupstr(k > 0 ? self : "alphadecay");
        v[n++] = dupstr("train");
    }
    v[n++] = dupstr(r->experiment);
    int sets_threads = 0;
    for (int i = 0; i < r->n_kv; i++) {
        char a[sizeof r->kv[i].key + SWEEP_VAL_MAX + 2];
        snprintf(a, sizeof a, "%s=%s", r->kv[i].key, r->kv[i].value);
        v[n++] = dupstr("--set");
        v[n++] = dupstr(a);
        sets_threads |= !strcmp(r->kv[i].key, "train.threads");
    }
    if (threads > 0 && !sets_threads) {
        char a[64];
        snprintf(a, sizeof a, "train.threads=%d", threads);
        v[n++] = dupstr("--set");
        v[n++] = dupstr(a);
    }
    v[n++] = dupstr("--out");
    v[n++] = dupstr(run_dir);
    v[n] = NULL;
    return v;
}

void sweep_argv_free(char **argv) {
    if (!argv) return;
    for (char **p = argv; *p; p++) free(*p);
    free(argv);
}
