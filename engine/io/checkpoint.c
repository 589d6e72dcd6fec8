/* checkpoint.c - run checkpoints (see checkpoint.h for the directory layout).
 *
 * Save: everything is written into checkpoint/step_XXXXXXXX.tmp/ (each file fsync'd), then every file is
 * read back and its size and CRC-32C go into COMPLETE, written last; then the directory is renamed to
 * step_XXXXXXXX and the parent fsync'd. A kill at any moment leaves either a complete checkpoint or a
 * directory that load never reads and the next save/load removes. Re-saving a step that exists moves
 * the old directory to step_XXXXXXXX.old first; a kill between the two renames leaves .old, which the
 * next list puts back (so the newest intact checkpoint is never lost, also with keep 1).
 * Load verifies the checksums newest first and falls back past a damaged checkpoint (with a warning).
 * The fixed .tmp/.old names are safe because one process saves: train, holding the run directory's
 * lock (rundir.h). 
 * Exactness: weights and moments are raw float bytes (safetensors); doubles are printed with %.17g
 * (which strtod reads back to the same bits); 64-bit words (the data position) are decimal strings
 * because a JSON number is a double and cannot hold them. */
#include "checkpoint.h"
#include "crc32c.h"
#include "hf_config.h"
#include "json.h"
#include "rundir.h"
#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- state.json ---- */

/* A double exactly: %.17g when finite; JSON has no NaN/Inf, so those are the strings "nan", "inf", "-inf". */
static void sb_exact_double(StrBuf *b, double x) {
    if (isnan(x)) sb_printf(b, "\"nan\"");
    else if (isinf(x)) sb_printf(b, x > 0 ? "\"inf\"" : "\"-inf\"");
    else sb_printf(b, "%.17g", x);
}

static int get_exact_double(const Json *v, double *out) {
    if (!v) return -1;
    if (v->type == JSON_NUM) {
        *out = v->num;
        return 0;
    }
    if (v->type != JSON_STR) return -1;
    if (!strcmp(v->str, "nan")) *out = NAN;
    else if (!strcmp(v->str, "inf")) *out = INFINITY;
    else if (!strcmp(v->str, "-inf")) *out = -INFINITY;
    else return -1;
    return 0;
}

static int state_write(const char *path, const Model *m, const TrainState *s, Err *e) {
    StrBuf b = {0};
    sb_printf(&b, "{\n  \"format\": \"alphadecay-train-state\",\n  \"version\": \"%s\",\n", AD_VERSION);
    sb_printf(&b, "  \"step\": %ld,\n  \"tokens\": %ld,\n  \"elapsed_s\": ", s->step, s->tokens);
    sb_exact_double(&b, s->elapsed_s);
    sb_printf(&b, ",\n  \"data_epoch\": \"%" PRIu64 "\",\n  \"data_pos\": \"%" PRIu64 "\",\n", s->data_epoch,
              s->data_pos);
    sb_printf(&b, "  \"awd_lambda\": ");
    sb_exact_double(&b, s->decay.awd_lambda);
    sb_printf(&b, ",\n  \"decay_last_update\": %ld,\n  \"wd\": {", s->decay.last_update_step);
    for (int i = 0; i < m->n_tensors; i++) {
        sb_printf(&b, "%s\n    ", i ? "," : "");
        sb_json_str(&b, m->tensors[i].name);
        sb_printf(&b, ": ");
        sb_exact_double(&b, m->wd[i]);
    }
    sb_printf(&b, "\n  }\n}\n");
    int rc = write_file_atomic(path, b.p, b.len, e);
    sb_free(&b);
    return rc;
}

static int state_long(const Json *j, const char *path, const char *key, long *out, Err *e) {
    int64_t v;
    if (json_i64(json_get(j, key), &v)) return err_set(e, "%s: \"%s\" missing or not an integer", path, key);
    *out = (long)v;
    return 0;
}

static int state_u64(const Json *v, const char *path, const char *key, uint64_t *out, Err *e) {
    if (!v || v->type != JSON_STR || json_u64(v, out))
        return err_set(e, "%s: \"%s\" missing or not a decimal uint64 string", path, key);
    return 0;
}

static int state_read(const char *path, Model *m, TrainState *out, Err *e) {
    Json *j;
    if (json_parse_file(path, &j, e)) return -1;
    TrainState s = {0};
    int rc = -1;
    const Json *wd = json_get(j, "wd");
    const char *fmt = json_str(j, "format");
    if (!fmt || strcmp(fmt, "alphadecay-train-state")) {
        err_set(e, "%s: not an alphadecay training state (\"format\")", path);
        goto done;
    }
    if (state_long(j, path, "step", &s.step, e) || state_long(j, path, "tokens", &s.tokens, e) ||
        state_long(j, path, "decay_last_update", &s.decay.last_update_step, e) ||
        state_u64(json_get(j, "data_epoch"), path, "data_epoch", &s.data_epoch, e) ||
        state_u64(json_get(j, "data_pos"), path, "data_pos", &s.data_pos, e))
        goto done;
    if (get_exact_double(json_get(j, "elapsed_s"), &s.elapsed_s)) {
        err_set(e, "%s: \"elapsed_s\" missing or not a number", path);
        goto done;
    }
    if (get_exact_double(json_get(j, "awd_lambda"), &s.decay.awd_lambda)) {
        err_set(e, "%s: \"awd_lambda\" missing or not a number", path);
        goto done;
    }
    if (!wd || wd->type != JSON_OBJ) {
        err_set(e, "%s: \"wd\" must be an object of per-tensor weight decays", path);
        goto done;
    }
    if (json_len(wd) != m->n_tensors) {
        err_set(e, "%s: \"wd\" has %d tensors, the model has %d", path, json_len(wd), m->n_tensors);
        goto done;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const Json *v = json_get(wd, m->tensors[i].name);
        if (!v) {
            err_set(e, "%s: \"wd\" has no entry for tensor '%s'", path, m->tensors[i].name);
            goto done;
        }
        if (get_exact_double(v, &m->wd[i])) {
            err_set(e, "%s: \"wd\" entry for '%s' is not a number", path, m->tensors[i].name);
            goto done;
        }
    }
    *out = s;
    rc = 0;
done:
    json_free(j);
    return rc;
}

/* ---------------------------------------------------------------- directories ----
 * Everything under checkpoint/ is opened, listed, renamed and deleted relative to the directory's fd
 * (openat, fstatat, unlinkat with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW): a symbolic link planted there (or
 * checkpoint/ itself one) is refused with an error naming it, never followed, so cleanup can never
 * delete or overwrite a file outside the run directory. */

static int link_error(const char *dir, const char *name, Err *e) {
    return err_set(e, "%s/%s: %s", dir, name, RUNDIR_LINK_REFUSED);
}

/* RUN_DIR/checkpoint as a directory fd (created when `create`): >= 0, -2 when absent, -1 on an error. */
static int open_ckdir(const char *run_dir, int create, Err *e) {
    if (create && mkdir_p(run_dir, e)) return -1;
    int rfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0) {
        if (errno == ENOENT && !create) return -2;
        return err_set(e, "%s: cannot open the run directory: %s", run_dir, strerror(errno));
    }
    if (create && mkdirat(rfd, "checkpoint", 0777) != 0 && errno != EEXIST) {
        int err = errno;
        close(rfd);
        return err_set(e, "%s/checkpoint: cannot create directory: %s", run_dir, strerror(err));
    }
    int fd = openat(rfd, "checkpoint", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), err = errno;
    struct stat st;
    int is_link = fd < 0 && fstatat(rfd, "checkpoint", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
    close(rfd);
    if (fd >= 0) return fd;
    if (is_link) return link_error(run_dir, "checkpoint", e);
    if (err == ENOENT && !create) return -2;
    return err_set(e, "%s/checkpoint: cannot open: %s", run_dir, strerror(err));
}

static int sync_fd(int fd, const char *what, Err *e) {
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        return err_set(e, "%s: cannot sync the directory: %s", what, strerror(errno));
    return 0;
}

/* Remove checkpoint/NAME, a directory of plain files (what a checkpoint holds). COMPLETE goes first and
 * that is made durable before anything else goes, so a kill midway leaves a directory that is not a
 * checkpoint (the next listing removes it), never a half-deleted one that still claims to be complete.
 * Links inside it are removed as links. An entry already gone is not an error: on resume every rank of a
 * data-parallel job lists the checkpoints, and all of them remove the same unfinished one. */
static int remove_entry(int ckfd, const char *ckdir, const char *name, Err *e) {
    struct stat st;
    if (fstatat(ckfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : err_set(e, "%s/%s: %s", ckdir, name, strerror(errno));
    if (S_ISLNK(st.st_mode)) return link_error(ckdir, name, e);
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(ckfd, name, 0) != 0 && errno != ENOENT)
            return err_set(e, "%s/%s: cannot remove: %s", ckdir, name, strerror(errno));
        return 0;
    }
    char where[AD_PATH_MAX + 300];
    snprintf(where, sizeof where, "%s/%s", ckdir, name);
    int fd = openat(ckfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : err_set(e, "%s: cannot open: %s", where, strerror(errno));
    if (unlinkat(fd, "COMPLETE", 0) == 0) {
        if (sync_fd(fd, where, e)) {
            close(fd);
            return -1;
        }
    } else if (errno != ENOENT) {
        int err = errno;
        close(fd);
        return err_set(e, "%s/COMPLETE: cannot remove: %s", where, strerror(err));
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return err_set(e, "%s: cannot list: %s", where, strerror(errno));
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT) continue;
        /* a directory inside is not ours: removed only when empty */
        if (errno != EISDIR || unlinkat(fd, de->d_name, AT_REMOVEDIR) != 0)
            rc = err_set(e, "%s/%s: cannot remove: %s", where, de->d_name, strerror(errno));
    }
    closedir(d);
    if (rc) return -1;
    if (unlinkat(ckfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        return err_set(e, "%s: cannot remove: %s", where, strerror(errno));
    return 0;
}

/* 1 when checkpoint/NAME is a directory holding COMPLETE, 0 when it is absent or holds none, -1 when
 * it is a link. */
static int has_complete(int ckfd, const char *ckdir, const char *name, Err *e) {
    struct stat st;
    if (fstatat(ckfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return 0;
    if (S_ISLNK(st.st_mode)) return link_error(ckdir, name, e);
    if (!S_ISDIR(st.st_mode)) return 0;
    int fd = openat(ckfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    int got = fstatat(fd, "COMPLETE", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
    close(fd);
    return got;
}

/* "step_" followed by decimal digits and then `suffix` exactly; the step is returned in *step. */
static int parse_step_name(const char *name, const char *suffix, long *step) {
    if (strncmp(name, "step_", 5)) return 0;
    const char *p = name + 5;
    if (*p < '0' || *p > '9') return 0;
    long v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LONG_MAX - 9) / 10) return 0;
        v = v * 10 + (*p - '0');
    }
    if (strcmp(p, suffix)) return 0;
    *step = v;
    return 1;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* A re-save killed between its two renames leaves step_N.old (complete) and no step_N: put it back. When
 * step_N is there the re-save finished and .old is a leftover. */
static int recover_old(int ckfd, const char *ckdir, Err *e) {
    DIR *d = dir_listing(ckfd, ckdir, e);
    if (!d) return -1;
    struct dirent *de;
    char fin[64];
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        long step;
        if (!parse_step_name(de->d_name, ".old", &step)) continue;
        snprintf(fin, sizeof fin, "step_%08ld", step);
        int old_ok = has_complete(ckfd, ckdir, de->d_name, e),
            fin_ok = old_ok < 0 ? 0 : has_complete(ckfd, ckdir, fin, e);
        if (old_ok < 0 || fin_ok < 0) rc = -1;
        else if (old_ok && !fin_ok) {                       /* else the .old is a leftover, removed with the others */
            if (remove_entry(ckfd, ckdir, fin, e)) rc = -1; /* an incomplete step_N, if any */
            else if (renameat(ckfd, de->d_name, ckfd, fin) != 0)
                rc = err_set(e, "%s/%s: cannot rename back: %s", ckdir, de->d_name, strerror(errno));
            else rc = sync_fd(ckfd, ckdir, e);
        }
    }
    closedir(d);
    return rc;
}

/* Sorted steps of the complete checkpoints in checkpoint/; removes leftovers (.tmp, .old, incomplete). */
static int list_complete(int ckfd, const char *ckdir, long **steps, int *n, Err *e) {
    *steps = NULL;
    *n = 0;
    if (recover_old(ckfd, ckdir, e)) return -1;
    DIR *d = dir_listing(ckfd, ckdir, e);
    if (!d) return -1;
    int cap = 0, rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        long step;
        if (parse_step_name(de->d_name, ".tmp", &step) || parse_step_name(de->d_name, ".old", &step)) {
            rc = remove_entry(ckfd, ckdir, de->d_name, e);
            continue;
        }
        if (!parse_step_name(de->d_name, "", &step)) continue;
        int complete = has_complete(ckfd, ckdir, de->d_name, e);
        if (complete <= 0) {
            rc = complete < 0 ? -1 : remove_entry(ckfd, ckdir, de->d_name, e);
            continue;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            long *ns = realloc(*steps, (size_t)cap * sizeof *ns);
            if (!ns) {
                rc = err_set(e, "%s: out of memory listing checkpoints", ckdir);
                break;
            }
            *steps = ns;
        }
        (*steps)[(*n)++] = step;
    }
    closedir(d);
    if (rc) {
        free(*steps);
        *steps = NULL;
        *n = 0;
        return -1;
    }
    if (*n) qsort(*steps, (size_t)*n, sizeof **steps, cmp_long);
    return 0;
}

/* Keep the newest `keep` complete checkpoints (keep <= 0: all); only those of a step below `below` go,
 * oldest first. */
static int prune(int ckfd, const char *ckdir, int keep, long below, Err *e) {
    long *steps;
    int n;
    if (list_complete(ckfd, ckdir, &steps, &n, e)) return -1;
    int rc = 0;
    char name[64];
    for (int i = 0; keep > 0 && !rc && n - i > keep && steps[i] < below; i++) {
        snprintf(name, sizeof name, "step_%08ld", steps[i]);
        rc = remove_entry(ckfd, ckdir, name, e);
    }
    free(steps);
    return rc;
}

int checkpoint_prune(const char *run_dir, int keep, long below, Err *e) {
    char ckdir[AD_PATH_MAX + 16];
    snprintf(ckdir, sizeof ckdir, "%s/checkpoint", run_dir);
    int ckfd = open_ckdir(run_dir, 0, e);
    if (ckfd == -2) return 0;
    if (ckfd < 0) return -1;
    int rc = prune(ckfd, ckdir, keep, below, e);
    close(ckfd);
    return rc;
}

int checkpoint_newest(const char *ckdir, char *out, size_t n, Err *e) {
    DIR *d = opendir(ckdir);
    if (!d) return 0;
    long best = -1, step;
    struct dirent *de;
    char marker[AD_PATH_MAX + 320], name[256] = "";
    while ((de = readdir(d))) {
        if (!parse_step_name(de->d_name, "", &step) || step <= best || strlen(de->d_name) >= sizeof name) continue;
        snprintf(marker, sizeof marker, "%s/%s/COMPLETE", ckdir, de->d_name);
        if (file_exists(marker)) {
            best = step;
            snprintf(name, sizeof name, "%s", de->d_name);
        }
    }
    closedir(d);
    if (best < 0) return 0;
    if ((size_t)snprintf(out, n, "%s/%s", ckdir, name) >= n) return err_set(e, "%s: path too long", ckdir);
    return 1;
}

static void step_dir(char *buf, size_t n, const char *ckdir, long step, const char *suffix) {
    snprintf(buf, n, "%s/step_%08ld%s", ckdir, step, suffix);
}

/* ---------------------------------------------------------------- save / load ---- */

/* dir/name into out; -1 (with an error) if it does not fit. */
static int path_join(char *out, size_t n, const char *dir, const char *name, Err *e) {
    int k = snprintf(out, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) return err_set(e, "%s: path too long", dir);
    return 0;
}

/* With BF16 weights the exact weights also go to optimizer.safetensors unless they are bf16 numbers already
 * (bf16_pure rounds them after every update). */
static int keeps_masters(const Model *m, int bf16) { return bf16 && m->prec != PREC_BF16_PURE; }

static int write_checkpoint_files(const char *dir, const Model *m, const TrainState *s, int bf16, Err *e) {
    char p[AD_PATH_MAX + 128];
    if (path_join(p, sizeof p, dir, "model.safetensors", e) ||
        (bf16 ? safetensors_save_model_bf16(p, m, e) : safetensors_save_model(p, m, e)))
        return -1;
    if (path_join(p, sizeof p, dir, "config.json", e) ||
        hf_config_write_dtype(p, &m->cfg, bf16 ? "bfloat16" : "float32", e))
        return -1;
    TableBuf bufs[3] = {model_moment1_buf(m), model_moment2_buf(m), model_weights_buf(m)};
    const char *prefixes[3] = {"m.", "v.", "master."};
    if (path_join(p, sizeof p, dir, "optimizer.safetensors", e) ||
        safetensors_save_bufs(p, m, keeps_masters(m, bf16) ? 3 : 2, bufs, prefixes, 0, e))
        return -1;
    if (path_join(p, sizeof p, dir, "state.json", e) || state_write(p, m, s, e)) return -1;
    /* The checksums are of the files as read back from disk, so COMPLETE vouches for what is there. */
    static const char *const files[] = {"model.safetensors", "config.json", "optimizer.safetensors", "state.json"};
    StrBuf mk = {0};
    sb_printf(&mk, "step %ld\n", s->step);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        uint32_t crc;
        uint64_t size;
        if (path_join(p, sizeof p, dir, files[i], e) || crc32c_file(p, &crc, &size, e)) {
            sb_free(&mk);
            return -1;
        }
        sb_printf(&mk, "%s %llu crc32c=%08x\n", files[i], (unsigned long long)size, crc);
    }
    int rc = path_join(p, sizeof p, dir, "COMPLETE", e) || write_file_atomic(p, mk.p, mk.len, e) ? -1 : 0;
    sb_free(&mk);
    return rc; /* write_file_atomic synced the directory */
}

int checkpoint_verify(const char *dir, const char *const *only, Err *e) {
    char p[AD_PATH_MAX + 128], *text;
    size_t len;
    if (path_join(p, sizeof p, dir, "COMPLETE", e)) return -1;
    if (!file_exists(p)) return 0; /* not ours (a Hugging Face directory) */
    if (read_file(p, &text, &len, e)) return -1;
    int verified = 0, rc = 0, line = 1;
    for (char *q = text, *nl; q < text + len && !rc; q = nl + 1, line++) {
        nl = strchr(q, '\n');
        if (!nl) nl = text + len;
        *nl = 0;
        if (line == 1 || !*q) continue; /* "step N" */
        char name[256];
        unsigned long long want_size;
        unsigned want_crc;
        int used = 0;
        if (sscanf(q, "%255s %llu crc32c=%8x%n", name, &want_size, &want_crc, &used) != 3 || q[used] ||
            path_name_problem(name)) {
            rc = err_set(e, "%s: line %d is not \"FILE SIZE crc32c=HEX\"", p, line);
            break;
        }
        int wanted = !only;
        for (int i = 0; only && only[i]; i++) wanted |= !strcmp(only[i], name);
        if (!wanted) continue;
        char f[AD_PATH_MAX + 384];
        uint32_t crc;
        uint64_t size;
        snprintf(f, sizeof f, "%s/%s", dir, name);
        struct stat st;
        if (lstat(f, &st) != 0) rc = err_set(e, "%s: missing (COMPLETE lists it)", f);
        else if (S_ISLNK(st.st_mode)) rc = err_set(e, "%s: %s", f, RUNDIR_LINK_REFUSED);
        else if (!S_ISREG(st.st_mode))
            rc = err_set(e, "%s: not a regular file (a device or a directory is never read)", f);
        else if (crc32c_file(f, &crc, &size, e)) rc = -1;
        else if (size != want_size)
            rc = err_set(e, "%s: %llu bytes, COMPLETE records %llu (truncated or overwritten)", f,
                         (unsigned long long)size, want_size);
        else if (crc != want_crc)
            rc = err_set(e, "%s: CRC-32C %08x, COMPLETE records %08x (the file is corrupt)", f, crc, want_crc);
        else verified = 1;
    }
    free(text);
    return rc ? -1 : verified;
}

int checkpoint_save(const char *run_dir, const Model *m, const TrainState *s, int keep, Err *e) {
    return checkpoint_save_dtype(run_dir, m, s, keep, 0, e);
}

int checkpoint_save_dtype(const char *run_dir, const Model *m, const TrainState *s, int keep, int bf16, Err *e) {
    if (!(m->adam_m || m->hm) || !(m->adam_v || m->hv))
        return err_set(e, "%s: checkpoint needs the optimizer moments (model_alloc_train)", run_dir);
    if (s->step < 0) return err_set(e, "%s: checkpoint step %ld is negative", run_dir, s->step);
    char ckdir[AD_PATH_MAX], tmpdir[AD_PATH_MAX + 64], fin[64], tmp[64], old[64];
    if (snprintf(ckdir, sizeof ckdir, "%s/checkpoint", run_dir) >= (int)sizeof ckdir)
        return err_set(e, "%s: path too long", run_dir);
    int ckfd = open_ckdir(run_dir, 1, e);
    if (ckfd < 0) return -1;
    snprintf(fin, sizeof fin, "step_%08ld", s->step);
    snprintf(tmp, sizeof tmp, "step_%08ld.tmp", s->step);
    snprintf(old, sizeof old, "step_%08ld.old", s->step);
    step_dir(tmpdir, sizeof tmpdir, ckdir, s->step, ".tmp");
    int rc = -1, had_old = 0;
    struct stat st;
    if (remove_entry(ckfd, ckdir, tmp, e)) goto done; /* leftover of a killed save */
    if (mkdirat(ckfd, tmp, 0777) != 0) {
        err_set(e, "%s: cannot create directory: %s", tmpdir, strerror(errno));
        goto done;
    }
    if (write_checkpoint_files(tmpdir, m, s, bf16, e)) {
        Err ignored;
        remove_entry(ckfd, ckdir, tmp, &ignored);
        goto done;
    }
    /* Same step saved again (e.g. a signal right after a periodic save): move the old one aside first,
     * since rename() does not replace a non-empty directory. */
    if (fstatat(ckfd, fin, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            link_error(ckdir, fin, e);
            goto done;
        }
        if (remove_entry(ckfd, ckdir, old, e)) goto done;
        if (renameat(ckfd, fin, ckfd, old) != 0) {
            Err ignored;
            remove_entry(ckfd, ckdir, tmp, &ignored);
            err_set(e, "%s/%s: cannot move the previous checkpoint aside: %s", ckdir, fin, strerror(errno));
            goto done;
        }
        had_old = 1;
    }
    if (renameat(ckfd, tmp, ckfd, fin) != 0) {
        int err = errno;
        Err ignored;
        remove_entry(ckfd, ckdir, tmp, &ignored);
        if (had_old) renameat(ckfd, old, ckfd, fin);
        err_set(e, "%s/%s: cannot rename into place: %s", ckdir, fin, strerror(err));
        goto done;
    }
    if (sync_fd(ckfd, ckdir, e)) goto done;
    if (had_old && remove_entry(ckfd, ckdir, old, e)) goto done;
    /* keep only the newest `keep` complete checkpoints (keep <= 0: keep all) */
    rc = prune(ckfd, ckdir, keep, LONG_MAX, e);
done:
    close(ckfd);
    return rc;
}

static int check_config(const char *path, const ModelConfig *got, const ModelConfig *want, Err *e) {
#define SAME_INT(f)                                                                                                    \
    if (got->f != want->f) return err_set(e, "%s: " #f " %d does not match the model's %d", path, got->f, want->f)
    SAME_INT(hidden_size);
    SAME_INT(intermediate_size);
    SAME_INT(num_attention_heads);
    SAME_INT(num_hidden_layers);
    SAME_INT(vocab_size);
#undef SAME_INT
    if (got->rms_norm_eps != want->rms_norm_eps)
        return err_set(e, "%s: rms_norm_eps %g does not match the model's %g", path, got->rms_norm_eps,
                       want->rms_norm_eps);
    if (got->rope_theta != want->rope_theta)
        return err_set(e, "%s: rope_theta %g does not match the model's %g", path, got->rope_theta, want->rope_theta);
    return 0;
}

int checkpoint_verify_model(const char *dir, Err *e) {
    static const char *const model_files[] = {"config.json", "model.safetensors", NULL};
    return checkpoint_verify(dir, model_files, e);
}

/* Load the checkpoint in dir (already verified) into m and s. */
static int load_one(const char *dir, long step, Model *m, TrainState *s, Err *e) {
    char p[AD_PATH_MAX + 128];
    ModelConfig c;
    if (path_join(p, sizeof p, dir, "config.json", e) || hf_config_read(p, &c, e) || check_config(p, &c, &m->cfg, e))
        return -1;
    TrainState st;
    if (path_join(p, sizeof p, dir, "state.json", e) || state_read(p, m, &st, e)) return -1;
    if (st.step != step)
        return err_set(e, "%s: step %ld does not match the directory name (step %ld)", p, st.step, step);
    if (path_join(p, sizeof p, dir, "model.safetensors", e) || safetensors_load_model(p, m, e)) return -1;
    TableBuf bufs[3] = {model_moment1_buf(m), model_moment2_buf(m), model_weights_buf(m)};
    const char *prefixes[3] = {"m.", "v.", "master."};
    char master[256];
    snprintf(master, sizeof master, "master.%s", m->tensors[0].name);
    if (path_join(p, sizeof p, dir, "optimizer.safetensors", e)) return -1;
    int masters = safetensors_has_tensor(p, master, e); /* BF16 model.safetensors: the exact weights are here */
    if (masters < 0 || safetensors_load_bufs(p, m, masters ? 3 : 2, bufs, prefixes, e)) return -1;
    model_params_changed(m);
    *s = st;
    return 0;
}

int checkpoint_load_latest(const char *run_dir, Model *m, TrainState *s, Err *warn, Err *e) {
    char ckdir[AD_PATH_MAX], dir[AD_PATH_MAX + 64];
    if (warn) warn->msg[0] = 0;
    if (snprintf(ckdir, sizeof ckdir, "%s/checkpoint", run_dir) >= (int)sizeof ckdir)
        return err_set(e, "%s: path too long", run_dir);
    long *steps;
    int n;
    int ckfd = open_ckdir(run_dir, 0, e);
    if (ckfd == -2) return 0;
    if (ckfd < 0) return -1;
    int listed = list_complete(ckfd, ckdir, &steps, &n, e);
    close(ckfd);
    if (listed) return -1;
    if (n == 0) {
        free(steps);
        return 0;
    }
    if (!(m->adam_m || m->hm) || !(m->adam_v || m->hv)) {
        free(steps);
        return err_set(e, "%s: loading a checkpoint needs the optimizer moments (model_alloc_train)", run_dir);
    }
    /* Newest first; a checkpoint whose files fail their checksums is skipped with a warning. A
     * verified one that does not load (another model shape) is an error, not a reason to go back. */
    Err bad = {{0}}, first_bad = {{0}};
    StrBuf skipped = {0}; /* the warning: every damaged checkpoint passed over */
    int rc = 2;           /* 2: every checkpoint is damaged */
    for (int i = n - 1; i >= 0; i--) {
        step_dir(dir, sizeof dir, ckdir, steps[i], "");
        if (checkpoint_verify(dir, NULL, &bad) < 0) {
            if (!first_bad.msg[0]) first_bad = bad;
            sb_printf(&skipped, "%s%.700s; ", skipped.len ? "" : "skipping damaged checkpoint(s): ", bad.msg);
            continue;
        }
        rc = load_one(dir, steps[i], m, s, e) ? -1 : 1;
        break;
    }
    free(steps);
    if (warn && skipped.len) err_set(warn, "%s", sb_str(&skipped)); /* as much as an Err holds */
    sb_free(&skipped);
    if (rc == 2) /* never start over silently: the user decides (delete checkpoint/ to start from step 0) */
        return err_set(e, "%s: no intact checkpoint (%d damaged; the newest: %.900s)", ckdir, n, first_bad.msg);
    return rc;
}
