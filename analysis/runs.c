/* runs.c - see runs.h. */
#include "runs.h"
#include "rundir.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"
#include "model.h"

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void base_names(Run *r) {
    char tmp[AD_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", r->dir);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    char *s = strrchr(tmp, '/');
    kv_strfmt(r->name, sizeof r->name, "%s", s ? s + 1 : tmp);
    if (s) {
        *s = 0;
        char *t = strrchr(tmp, '/');
        kv_strfmt(r->sweep, sizeof r->sweep, "%s", t ? t + 1 : tmp);
    } else {
        r->sweep[0] = 0;
    }
}

/* Last record of a JSON-lines file: 0 with *last filled (caller frees), 1 when the file is absent
 * or empty, -1 when it is malformed. */
static int last_record(const char *path, KVList *last, Err *e) {
    if (!file_exists(path)) return 1;
    KVList *recs;
    int n;
    if (jsonl_read(path, &recs, &n, e)) return -1;
    if (n == 0) {
        jsonl_free(recs, n);
        return 1;
    }
    *last = recs[n - 1];
    kv_init(&recs[n - 1]);
    jsonl_free(recs, n);
    return 0;
}

static double num_or_nan(const KVList *l, const char *key) {
    double v;
    return kv_num(l, key, &v) == 0 ? v : NAN;
}

static double json_num_or_nan(const Json *o, const char *key) {
    double v;
    return json_num(o, key, &v) == 0 ? v : NAN;
}

/* summary.json's optional obj.key (a string) into out; -1 when obj is there but is no object of strings
 * where key is concerned, with the reason in why. */
static int provenance_str(const Json *sum, const char *obj, const char *key, char *out, size_t cap, char *why,
                          size_t n) {
    const Json *o = json_get(sum, obj);
    out[0] = 0;
    if (!o) return 0;
    const Json *v = json_get(o, key);
    if (o->type != JSON_OBJ || (v && v->type != JSON_STR)) {
        snprintf(why, n, "summary.json: %s%s%s is not %s", obj, o->type == JSON_OBJ ? "." : "",
                 o->type == JSON_OBJ ? key : "", o->type == JSON_OBJ ? "a string" : "an object");
        return -1;
    }
    if (v) kv_strfmt(out, cap, "%s", v->str);
    return 0;
}

static void set_problem(Run *r, const char *msg) {
    if (!r->problem[0]) kv_strfmt(r->problem, sizeof r->problem, "%s", msg);
}

static void set_unreadable(Run *r, const char *msg) {
    snprintf(r->status, sizeof r->status, "unreadable");
    set_problem(r, msg);
}

/* last_record of the run's log NAME (rundir.h); a malformed log marks the run unreadable. */
static int last_log_record(Run *r, const char *name, KVList *last) {
    char path[AD_PATH_MAX + 32];
    Err e = {{0}};
    rundir_path(path, sizeof path, r->dir, name);
    int rc = last_record(path, last, &e);
    if (rc < 0) set_unreadable(r, e.msg);
    return rc;
}

void run_load(Run *r, const char *dir) {
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    base_names(r);
    kv_init(&r->cfg);
    r->val_loss = r->val_ppl = r->steps = r->tokens = NAN;
    r->wall_seconds = r->peak_rss_mb = r->tok_per_s = NAN;
    char path[AD_PATH_MAX + 32];
    Err e = {{0}};

    rundir_path(path, sizeof path, dir, RUNDIR_CONFIG);
    if (kv_yaml_flatten(path, &r->cfg, &e)) {
        set_unreadable(r, e.msg);
        return;
    }
    Json *sum = NULL;
    char why[sizeof r->problem];
    RundirStatus rs = rundir_status(dir, &sum, why, sizeof why);
    if (rs == RUNDIR_UNREADABLE) {
        set_unreadable(r, why);
        return;
    }
    if (sum) {
        if (provenance_str(sum, "build", "commit", r->commit, sizeof r->commit, why, sizeof why) ||
            provenance_str(sum, "machine", "isa", r->isa, sizeof r->isa, why, sizeof why) ||
            provenance_str(sum, "machine", "blas", r->blas, sizeof r->blas, why, sizeof why)) {
            json_free(sum);
            set_unreadable(r, why);
            return;
        }
        snprintf(r->status, sizeof r->status, "%s", rundir_status_name(rs));
        r->val_loss = json_num_or_nan(sum, "final_val_loss");
        r->val_ppl = json_num_or_nan(sum, "final_val_ppl");
        r->steps = json_num_or_nan(sum, "steps");
        r->tokens = json_num_or_nan(sum, "tokens");
        r->wall_seconds = json_num_or_nan(sum, "wall_seconds");
        r->peak_rss_mb = json_num_or_nan(sum, "peak_rss_mb");
        r->tok_per_s = json_num_or_nan(sum, "tok_per_s");
        const char *msg = json_str(sum, "message");
        if (msg) set_problem(r, msg);
        if (rs == RUNDIR_COMPLETED && isnan(r->val_ppl))
            set_problem(r, "summary.json: completed but final_val_ppl is missing");
        json_free(sum);
        return;
    }
    /* no summary: a run in progress or killed; report how far its logs got. The sweep launcher
     * writes RUN/failed when train exited non-zero without a summary. */
    snprintf(r->status, sizeof r->status, "%s", rs == RUNDIR_FAILED ? "failed" : "partial");
    if (rs == RUNDIR_FAILED) kv_strfmt(r->problem, sizeof r->problem, "failed (sweep launcher): %s", why);
    KVList last;
    int rc = last_log_record(r, RUNDIR_METRICS, &last);
    if (rc < 0) return;
    if (rc == 0) {
        r->steps = num_or_nan(&last, "step");
        r->tokens = num_or_nan(&last, "tokens");
        r->wall_seconds = num_or_nan(&last, "elapsed_s");
        r->tok_per_s = num_or_nan(&last, "tok_per_s");
        kv_free(&last);
    }
    rc = last_log_record(r, RUNDIR_EVAL, &last);
    if (rc < 0) return;
    if (rc == 0) {
        r->val_loss = num_or_nan(&last, "loss");
        r->val_ppl = num_or_nan(&last, "ppl");
        kv_free(&last);
    }
    set_problem(r, "no summary.json (running or killed)");
}

void run_free(Run *r) { kv_free(&r->cfg); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void push_run(RunSet *rs, const char *dir) {
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 32;
        Run *nr = xcalloc((size_t)cap, sizeof *nr);
        if (rs->n) memcpy(nr, rs->runs, (size_t)rs->n * sizeof *nr);
        free(rs->runs);
        rs->runs = nr;
        rs->cap = cap;
    }
    run_load(&rs->runs[rs->n++], dir);
}

/* The directories a scan has entered, by device and inode: a link back to an ancestor (a loop) or a
 * second link to one run is entered once. */
typedef struct {
    dev_t *dev;
    ino_t *ino;
    int n, cap;
} Seen;

static int seen_before(Seen *v, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return 1;
    for (int i = 0; i < v->n; i++)
        if (v->dev[i] == st.st_dev && v->ino[i] == st.st_ino) return 1;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        dev_t *nd = xcalloc((size_t)v->cap, sizeof *nd);
        ino_t *ni = xcalloc((size_t)v->cap, sizeof *ni);
        if (v->n) memcpy(nd, v->dev, (size_t)v->n * sizeof *nd), memcpy(ni, v->ino, (size_t)v->n * sizeof *ni);
        free(v->dev);
        free(v->ino);
        v->dev = nd;
        v->ino = ni;
    }
    v->dev[v->n] = st.st_dev;
    v->ino[v->n++] = st.st_ino;
    return 0;
}

static int scan_dir(const char *dir, RunSet *rs, Seen *seen, int depth, Err *e) {
    char path[AD_PATH_MAX];
    if (seen_before(seen, dir)) return 0;
    rundir_path(path, sizeof path, dir, RUNDIR_CONFIG);
    if (file_exists(path)) {
        push_run(rs, dir);
        return 0;
    }
    if (depth > 8) return 0;
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open directory", dir);
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "checkpoint")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = xcalloc((size_t)cap, sizeof *nn);
            if (n) memcpy(nn, names, (size_t)n * sizeof *nn);
            free(names);
            names = nn;
        }
        names[n] = xcalloc(strlen(de->d_name) + 1, 1);
        strcpy(names[n++], de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str); /* deterministic order, whatever the filesystem */
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int k = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        const char *bad = path_name_problem(names[i]);
        if (!rc && is_dir(path)) {
            /* names found on disk follow the run-name rule too: they reach tables and figures */
            char shown[256];
            kv_strfmt(shown, sizeof shown, "%s", names[i]);
            for (char *c = shown; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?'; /* one line per warning */
            if (bad)
                sb_printf(&rs->warn, "warning: skipping %.300s/%s: the name %s (the run-name rule)\n", dir, shown, bad);
            else if (k >= (int)sizeof path)
                sb_printf(&rs->warn, "warning: skipping %.300s/%s: path too long\n", dir, shown);
            else rc = scan_dir(path, rs, seen, depth + 1, e);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int runs_scan(const char *root, RunSet *rs, Err *e) {
    memset(rs, 0, sizeof *rs);
    if (!is_dir(root)) return err_set(e, "%s: no such results directory", root);
    char clean[AD_PATH_MAX];
    snprintf(clean, sizeof clean, "%s", root);
    size_t n = strlen(clean);
    while (n > 1 && clean[n - 1] == '/') clean[--n] = 0;
    Seen seen = {0};
    int rc = scan_dir(clean, rs, &seen, 0, e);
    free(seen.dev);
    free(seen.ino);
    if (rc) {
        runs_free(rs);
        return -1;
    }
    return 0;
}

int runs_scan_list(const char (*dirs)[AD_PATH_MAX], int n, RunSet *rs, Err *e) {
    memset(rs, 0, sizeof *rs);
    for (int k = 0; k < n; k++) {
        RunSet one;
        if (runs_scan(dirs[k], &one, e)) {
            runs_free(rs);
            return -1;
        }
        Run *all = xcalloc((size_t)(rs->n + one.n) + 1, sizeof *all);
        if (rs->n) memcpy(all, rs->runs, (size_t)rs->n * sizeof *all);
        if (one.n) memcpy(all + rs->n, one.runs, (size_t)one.n * sizeof *all); /* the runs move, not copied */
        free(rs->runs);
        rs->runs = all;
        rs->cap = rs->n + one.n;
        rs->n += one.n;
        if (one.warn.p) sb_printf(&rs->warn, "%s", one.warn.p);
        free(one.runs);
        sb_free(&one.warn);
    }
    return 0;
}

void runs_free(RunSet *rs) {
    for (int i = 0; i < rs->n; i++) run_free(&rs->runs[i]);
    free(rs->runs);
    sb_free(&rs->warn);
    memset(rs, 0, sizeof *rs);
}

const char *run_coord(const Run *r, const char *key) {
    if (!strcmp(key, "run.name")) return r->name;
    if (!strcmp(key, "run.sweep")) return r->sweep;
    if (!strcmp(key, "run.status")) return r->status;
    return kv_get(&r->cfg, key);
}

int run_model_config(const Run *r, ModelConfig *mc, Err *e) {
    static const char *const KEYS[] = {"model.hidden_size",         "model.intermediate_size",
                                       "model.num_attention_heads", "model.num_hidden_layers",
                                       "model.vocab_size",          "model.max_position_embeddings"};
    memset(mc, 0, sizeof *mc);
    int *dst[] = {&mc->hidden_size,       &mc->intermediate_size, &mc->num_attention_heads,
                  &mc->num_hidden_layers, &mc->vocab_size,        &mc->max_position_embeddings};
    for (int k = 0; k < 6; k++) {
        double v;
        if (kv_num(&r->cfg, KEYS[k], &v) || v != (int)v)
            return err_set(e, "run %s: config.yaml has no integer %s", r->dir, KEYS[k]);
        *dst[k] = (int)v;
    }
    mc->rms_norm_eps = 1e-6, mc->rope_theta = 1e4, mc->initializer_range = 0.02;
    return 0;
}

/* The one list of metrics (runs.h MetricInfo): tables, figures, the index, specs and report compare
 * all read it. Families with a variable part (task.*, alpha.*, ...) are entries ending in ".*". */
const MetricInfo METRICS[] = {
    {"val_loss", "validation loss", "nats", -1, "final_val_loss"}, /* index columns in this order */
    {"val_ppl", "validation perplexity", "", -1, "final_val_ppl"},
    {"best_val_ppl", "best validation perplexity", "", -1, NULL},
    {"train_loss", "training loss (last update)", "nats", -1, NULL},
    {"steps", "updates", "", 0, "steps"},
    {"tokens", "training tokens", "", 0, "tokens"},
    {"wall_seconds", "wall-clock seconds", "s", 0, "wall_seconds"},
    {"wall_hours", "wall-clock hours", "h", 0, NULL},
    {"peak_rss_mb", "peak memory", "MB", 0, "peak_rss_mb"},
    {"tok_per_s", "training throughput", "tokens/s", 1, NULL},
    {"fit_seconds_per_call", "seconds per decay update (ESD + fit of every module)", "s", 0, NULL},
    {"decay_calls", "decay updates", "", 0, NULL},
    {"mean_wd", "weight decay applied (mean over training)", "", 0, NULL},
    {"test_ppl", "final test perplexity (held-out test set)", "", -1, NULL},
    {"test_ppl_at_best", "test perplexity at the update of the lowest selection-set perplexity", "", -1, NULL},
    {"best_val_step", "update of the lowest selection-set perplexity", "", 0, NULL},
    {"task.*", "zero-shot multiple-choice accuracy (alphadecay eval-tasks)", "", 1, NULL},
    {"alpha.*", "a module type's Hill alpha after training (mean over layers)", "", 0, NULL},
    {"alpha_first.*", "a module type's Hill alpha at initialisation (mean over layers)", "", 0, NULL},
    {"wd_factor.*", "a module type's decay at the last decay update / eta (mean over layers)", "", 0, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

/* task.NAME.acc | task.NAME.acc_norm: from RUNDIR/tasks.json (`alphadecay eval-tasks --out`). */
static const char *task_field(const char *name, char *task, size_t cap) {
    if (strncmp(name, "task.", 5)) return NULL;
    const char *dot = strrchr(name + 5, '.');
    if (!dot || dot == name + 5 || (strcmp(dot, ".acc") && strcmp(dot, ".acc_norm"))) return NULL;
    snprintf(task, cap, "%.*s", (int)(dot - name - 5), name + 5);
    return dot + 1;
}

int run_spectra(const Run *r, const char *which, SpectrumRec **recs, int *n, long *step, Err *e) {
    char dir[AD_PATH_MAX + 16];
    kv_strfmt(dir, sizeof dir, "%s/spectra", r->dir);
    DIR *d = opendir(dir);
    if (!d) {
        err_set(e, "%s: no spectra directory (run written before spectra were saved?)", r->dir);
        return 1;
    }
    long best = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        long s;
        char tail[8];
        if (sscanf(de->d_name, "spectra_step%ld.%7s", &s, tail) == 2 && !strcmp(tail, "bin"))
            if (best < 0 || (!strcmp(which, "first") ? s < best : s > best)) best = s;
    }
    closedir(d);
    if (best < 0) {
        err_set(e, "%s: no spectra_step*.bin files", dir);
        return 1;
    }
    char path[AD_PATH_MAX + 64];
    kv_strfmt(path, sizeof path, "%s/spectra_step%ld.bin", dir, best);
    *step = best;
    return esd_read_spectra(path, step, recs, n, e);
}

/* alpha.TYPE | alpha_first.TYPE | wd_factor.TYPE: a module type's (q k v o gate up down) mean over
 * layers of the Hill alpha at the final (first) decay update, or of the decay it was given there
 * divided by decay.weight_decay; from RUNDIR/decay.jsonl, so the prose can cite spectra by number. */
static const char *const MODULE_TYPES[] = {"q", "k", "v", "o", "gate", "up", "down", NULL};
static const char *module_field(const char *name, int *which) {
    static const char *const pre[] = {"alpha.", "alpha_first.", "wd_factor."};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(pre[k]);
        if (strncmp(name, pre[k], l)) continue;
        for (int i = 0; MODULE_TYPES[i]; i++)
            if (!strcmp(name + l, MODULE_TYPES[i])) return *which = k, MODULE_TYPES[i];
    }
    return NULL;
}

const MetricInfo *metric_info(const char *name) {
    char task[128];
    int which;
    const char *family = task_field(name, task, sizeof task) ? "task.*"
                         : !module_field(name, &which)       ? NULL
                         : which == 0                        ? "alpha.*"
                         : which == 1                        ? "alpha_first.*"
                                                             : "wd_factor.*";
    for (int i = 0; METRICS[i].name; i++)
        if (!strcmp(METRICS[i].name, family ? family : name) && (family || !strchr(METRICS[i].name, '*')))
            return &METRICS[i];
    return NULL;
}

int metric_known(const char *name) { return metric_info(name) != NULL; }

static int module_metric(const Run *r, const char *type, int which, double *out, Err *e) {
    if (which < 2) { /* alpha: from the spectra saved at the first and final decay update, as every method saves them */
        SpectrumRec *sr;
        int ns;
        long step;
        int rc = run_spectra(r, which ? "first" : "final", &sr, &ns, &step, e);
        if (rc) return rc;
        double sum = 0;
        int cnt = 0;
        for (int i = 0; i < ns; i++)
            if (!strcmp(module_type_name((ModuleType)sr[i].type), type) && sr[i].alpha > 0) sum += sr[i].alpha, cnt++;
        esd_free_spectra(sr, ns);
        if (!cnt) return err_set(e, "%s: no %s module with a fitted alpha in its spectra", r->dir, type), 1;
        *out = sum / cnt;
        return 0;
    }
    KVList *recs;
    int n, rc = run_decay(r, &recs, NULL, &n, e);
    if (rc) return rc;
    double step = NAN, s, sum = 0, v;
    int cnt = 0;
    for (int i = 0; i < n; i++) /* the first or the last logged step */
        if (!kv_num(&recs[i], "step", &s) && (isnan(step) || (which == 1 ? s < step : s > step))) step = s;
    for (int i = 0; i < n; i++) {
        const char *t = kv_get(&recs[i], "type");
        if (!t || strcmp(t, type) || kv_num(&recs[i], "step", &s) || s != step) continue;
        if (kv_num(&recs[i], which == 2 ? "wd" : "alpha", &v)) {
            jsonl_free(recs, n);
            return err_set(e, "%s/decay.jsonl: a %s record lacks %s", r->dir, type, which == 2 ? "wd" : "alpha");
        }
        sum += v, cnt++;
    }
    jsonl_free(recs, n);
    if (!cnt) return err_set(e, "%s/decay.jsonl: no %s module logged", r->dir, type), 1;
    *out = sum / cnt;
    if (which == 2) {
        const char *wd = run_coord(r, "decay.weight_decay");
        double eta;
        if (!wd || kv_parse_number(wd, &eta) || eta <= 0)
            return err_set(e, "%s: wd_factor needs decay.weight_decay > 0", r->dir), 1;
        *out /= eta;
    }
    return 0;
}

static int task_metric(const Run *r, const char *task, const char *field, double *out, Err *e) {
    char path[AD_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/tasks.json", r->dir);
    if (!file_exists(path)) {
        err_set(e, "%s: no tasks.json (run alphadecay eval-tasks --out %s)", r->dir, path);
        return 1;
    }
    Json *j;
    if (json_parse_file(path, &j, e)) return -1;
    const Json *t = json_get(json_get(j, "tasks"), task);
    int rc = 0;
    if (!t) {
        err_set(e, "%s: no task \"%s\"", path, task);
        rc = 1;
    } else if (json_num(t, field, out)) rc = err_set(e, "%s: task \"%s\" has no number %s", path, task, field);
    json_free(j);
    return rc;
}

static int have(double v, const Run *r, const char *metric, double *out, Err *e) {
    if (isnan(v)) return err_set(e, "%s: %s is missing from summary.json (status %s)", r->dir, metric, r->status);
    *out = v;
    return 0;
}

/* Seconds per decay update: decay.c writes the wall time of the whole update (ESD pass + fits +
 * assignment) as fit_seconds on each module line of that update, so take one value per distinct
 * step (the largest, should they ever differ) and average over updates; *calls = updates. */
static int decay_timing(const Run *r, double *per_call, double *calls, Err *e) {
    KVList *recs;
    int n, rc = run_decay(r, &recs, NULL, &n, e);
    if (rc) return rc;
    double total = 0, prev_step = NAN, step_max = 0;
    int ncall = 0;
    for (int i = 0; i < n; i++) {
        double s, f;
        if (kv_num(&recs[i], "step", &s) || kv_num(&recs[i], "fit_seconds", &f)) {
            jsonl_free(recs, n);
            return err_set(e, "%s/decay.jsonl: record %d lacks step or fit_seconds", r->dir, i + 1);
        }
        if (s != prev_step) {
            if (ncall) total += step_max;
            ncall++;
            step_max = f;
        } else if (f > step_max) {
            step_max = f;
        }
        prev_step = s;
    }
    if (ncall) total += step_max;
    jsonl_free(recs, n);
    if (!ncall) {
        err_set(e, "%s/decay.jsonl: no decay updates logged", r->dir);
        return 1; /* not an error: methods without module-wise updates log none */
    }
    *per_call = total / ncall;
    *calls = ncall;
    return 0;
}

static int series_extreme(const Run *r, const char *file, const char *key, int want_min, int want_last, double *out,
                          Err *e) {
    double *x, *y;
    int n;
    if (run_series(r, file, "step", key, &x, &y, &n, e)) return -1;
    if (!n) {
        free(x);
        free(y);
        return err_set(e, "%s/%s: no %s values", r->dir, file, key);
    }
    double v = y[want_last ? n - 1 : 0];
    if (!want_last)
        for (int i = 0; i < n; i++) v = want_min ? fmin(v, y[i]) : fmax(v, y[i]);
    free(x);
    free(y);
    *out = v;
    return 0;
}

/* The mean of a metrics.jsonl series over its logged updates. */
static int series_mean(const Run *r, const char *file, const char *key, double *out, Err *e) {
    double *x, *y, s = 0;
    int n;
    if (run_series(r, file, "step", key, &x, &y, &n, e)) return -1;
    for (int i = 0; i < n; i++) s += y[i];
    free(x);
    free(y);
    if (!n) return err_set(e, "%s/%s: no %s values", r->dir, file, key);
    *out = s / n;
    return 0;
}

/* The held-out test set (eval.test_tokens; docs/method.md, "Evaluation"): test_ppl at the last evaluation, or at the
 * evaluation whose SELECTION perplexity is lowest (the first such, early stopping chosen on the selection set), or
 * that evaluation's step (best_val_step). */
static int test_metric(const Run *r, const char *metric, double *out, Err *e) {
    double *x, *y, *tx, *ty;
    int n, tn;
    if (run_series(r, RUNDIR_EVAL, "step", "ppl", &x, &y, &n, e)) return -1;
    if (run_series(r, RUNDIR_EVAL, "step", "test_ppl", &tx, &ty, &tn, e)) {
        free(x);
        free(y);
        return -1;
    }
    int rc = 0, best = 0;
    for (int i = 1; i < n; i++)
        if (y[i] < y[best]) best = i;
    if (!n || !tn) rc = err_set(e, "%s/%s: no test_ppl values (eval.test_tokens was 0)", r->dir, RUNDIR_EVAL);
    else if (!strcmp(metric, "best_val_step")) *out = x[best];
    else if (!strcmp(metric, "test_ppl")) *out = ty[tn - 1];
    else {
        int k = -1;
        for (int i = 0; i < tn && k < 0; i++)
            if (tx[i] == x[best]) k = i;
        if (k < 0) rc = err_set(e, "%s/%s: no test_ppl at step %g", r->dir, RUNDIR_EVAL, x[best]);
        else *out = ty[k];
    }
    free(x);
    free(y);
    free(tx);
    free(ty);
    return rc;
}

int run_metric(const Run *r, const char *metric, double *out, Err *e) {
    if (!strcmp(r->status, "unreadable")) return err_set(e, "%s: unreadable: %s", r->dir, r->problem);
    if (!strcmp(metric, "val_ppl")) return have(r->val_ppl, r, metric, out, e);
    if (!strcmp(metric, "val_loss")) return have(r->val_loss, r, metric, out, e);
    if (!strcmp(metric, "wall_seconds")) return have(r->wall_seconds, r, metric, out, e);
    if (!strcmp(metric, "wall_hours")) {
        if (have(r->wall_seconds, r, metric, out, e)) return -1;
        *out /= 3600.0;
        return 0;
    }
    if (!strcmp(metric, "steps")) return have(r->steps, r, metric, out, e);
    if (!strcmp(metric, "tokens")) return have(r->tokens, r, metric, out, e);
    if (!strcmp(metric, "peak_rss_mb")) return have(r->peak_rss_mb, r, metric, out, e);
    if (!strcmp(metric, "tok_per_s")) return have(r->tok_per_s, r, metric, out, e);
    if (!strcmp(metric, "best_val_ppl")) return series_extreme(r, RUNDIR_EVAL, "ppl", 1, 0, out, e);
    if (!strcmp(metric, "test_ppl") || !strcmp(metric, "test_ppl_at_best")) return test_metric(r, metric, out, e);
    if (!strcmp(metric, "best_val_step")) return test_metric(r, metric, out, e);
    /* the decay a method actually applied, averaged over training (size-weighted over tensors) */
    if (!strcmp(metric, "mean_wd")) return series_mean(r, RUNDIR_METRICS, "wd_mean", out, e);
    if (!strcmp(metric, "train_loss")) return series_extreme(r, RUNDIR_METRICS, "loss", 0, 1, out, e);
    if (!strcmp(metric, "fit_seconds_per_call") || !strcmp(metric, "decay_calls")) {
        double per, calls;
        int rc = decay_timing(r, &per, &calls, e);
        if (rc) return rc;
        *out = metric[0] == 'f' ? per : calls;
        return 0;
    }
    char task[128];
    const char *field = task_field(metric, task, sizeof task);
    if (field) return task_metric(r, task, field, out, e);
    int which;
    const char *type = module_field(metric, &which);
    if (type) return module_metric(r, type, which, out, e);
    return err_set(e, "unknown metric \"%s\"", metric);
}

int run_series(const Run *r, const char *file, const char *xkey, const char *ykey, double **x, double **y, int *n,
               Err *e) {
    char path[AD_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", r->dir, file);
    *x = *y = NULL;
    *n = 0;
    if (!file_exists(path)) return err_set(e, "%s: missing", path);
    KVList *recs;
    int nr;
    if (jsonl_read(path, &recs, &nr, e)) return -1;
    *x = xcalloc((size_t)nr + 1, sizeof **x);
    *y = xcalloc((size_t)nr + 1, sizeof **y);
    for (int i = 0; i < nr; i++) {
        double a, b;
        if (kv_num(&recs[i], xkey, &a) == 0 && kv_num(&recs[i], ykey, &b) == 0 && isfinite(a) && isfinite(b)) {
            (*x)[*n] = a;
            (*y)[*n] = b;
            (*n)++;
        }
    }
    jsonl_free(recs, nr);
    return 0;
}

int run_decay(const Run *r, KVList **recs, int **lines, int *n, Err *e) {
    char path[AD_PATH_MAX + 32];
    rundir_path(path, sizeof path, r->dir, RUNDIR_DECAY);
    *recs = NULL;
    *n = 0;
    if (lines) *lines = NULL;
    if (!file_exists(path)) {
        err_set(e, "%s: missing", path);
        return 1;
    }
    return jsonl_read_lines(path, recs, lines, n, e);
}
