/* rundir.c - see rundir.h. */
#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

char *rundir_path(char *out, size_t n, const char *run_dir, const char *name) {
    snprintf(out, n, "%s/%s", run_dir, name);
    return out;
}

/* ---- the lock ---- */

/* A descriptor inherited across exec that is open on the lock file (same device and inode), or -1.
 * The launcher clears close-on-exec on the one it hands over; every descriptor we open ourselves is
 * close-on-exec, so a second rundir_lock in one process finds none and fails like any other. */
static int inherited_fd(const char *path) {
    struct stat want, have;
    if (lstat(path, &want) != 0 || !S_ISREG(want.st_mode)) return -1;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 4096) max = 4096;
    for (int fd = 3; fd < max; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || (flags & FD_CLOEXEC)) continue;
        if (fstat(fd, &have) == 0 && have.st_dev == want.st_dev && have.st_ino == want.st_ino) return fd;
    }
    return -1;
}

static long read_pid(int fd) {
    char t[32] = {0};
    if (pread(fd, t, sizeof t - 1, 0) <= 0) return 0;
    return atol(t);
}

int rundir_lock(const char *run_dir, Err *e) {
    char path[AD_PATH_MAX + 32];
    if (mkdir_p(run_dir, e)) return -2;
    rundir_path(path, sizeof path, run_dir, RUNDIR_LOCK);
    int fd = inherited_fd(path);
    if (fd >= 0) {
        /* the same open file description as the holder's: flock succeeds when it is ours */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
        else fd = -1; /* inherited but not locked by us: lock through our own descriptor below */
    }
    /* O_NOFOLLOW: a link planted as .lock would have us truncate and write whatever it points at;
     * O_NONBLOCK: a FIFO planted there cannot hang us (it is refused below as not a regular file) */
    if (fd < 0) fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0666);
    if (fd < 0) {
        if (errno == ELOOP) err_set(e, "%s: %s", path, RUNDIR_LINK_REFUSED);
        else err_set(e, "%s: cannot open: %s", path, strerror(errno));
        return -2;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        err_set(e, "%s: not a regular file; remove it", path);
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        long pid = read_pid(fd);
        close(fd);
        if (busy) {
            err_set(e, "%s: already running (pid %ld holds %s); wait for it or stop it", run_dir, pid, path);
            return -1;
        }
        err_set(e, "%s: cannot lock: %s", path, strerror(errno));
        return -2;
    }
    char t[32];
    int n = snprintf(t, sizeof t, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, t, (size_t)n, 0) != n) {
        close(fd);
        err_set(e, "%s: cannot write: %s", path, strerror(errno));
        return -2;
    }
    return fd;
}

int rundir_lock_holder(const char *run_dir, long *pid) {
    char path[AD_PATH_MAX + 32];
    rundir_path(path, sizeof path, run_dir, RUNDIR_LOCK);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), held = 0;
    *pid = 0;
    if (fd < 0) return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        *pid = read_pid(fd);
        held = 1;
    }
    close(fd);
    return held;
}

int rundir_check_path(const char *run_dir, Err *e) {
    size_t n = strlen(run_dir);
    if (n == 0) return err_set(e, "the run directory path is empty");
    if (n > RUNDIR_PATH_MAX)
        return err_set(e,
                       "%.60s...: the run directory path is %zu bytes, over the limit of %d (its files add up to 200 "
                       "bytes within the %d-byte path limit); use a shorter --out (train) or --results (sweep)",
                       run_dir, n, RUNDIR_PATH_MAX, AD_PATH_MAX);
    return 0;
}

/* ---- links and leftovers ---- */

int rundir_check_links(const char *run_dir, Err *e) {
    static const char *const names[] = {RUNDIR_CONFIG,  RUNDIR_METRICS,        RUNDIR_EVAL,     RUNDIR_DECAY,
                                        RUNDIR_SUMMARY, RUNDIR_SUMMARY_FAILED, RUNDIR_SPECTRA,  RUNDIR_CHECKPOINTS,
                                        RUNDIR_LOCK,    RUNDIR_FAILED_MARKER,  RUNDIR_TRAIN_LOG};
    int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : err_set(e, "%s: cannot open the run directory: %s", run_dir, strerror(errno));
    int rc = 0;
    struct stat st;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++)
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
            rc = err_set(e, "%s/%s: %s", run_dir, names[i], RUNDIR_LINK_REFUSED);
    close(dfd);
    return rc;
}

/* "NAME.tmp.PID.N" (tmp_name's pattern) */
static int is_tmp_name(const char *name) {
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t || t == name) return 0;
    const char *p = t + 5;
    size_t a = strspn(p, "0123456789");
    if (!a || p[a] != '.') return 0;
    p += a + 1;
    size_t b = strspn(p, "0123456789");
    return b && !p[b];
}

/* unlinkat every temp file in dir (relative to the open directory dfd); a link is removed as a link. */
static int clean_dir(int dfd, const char *where, Err *e) {
    DIR *d = dir_listing(dfd, where, e);
    if (!d) return -1;
    struct dirent *de;
    struct stat st;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!is_tmp_name(de->d_name) || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode))
            continue;
        if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT)
            rc = err_set(e, "%s/%s: cannot remove a leftover temp file: %s", where, de->d_name, strerror(errno));
    }
    closedir(d);
    return rc;
}

int rundir_clean_tmp(const char *run_dir, Err *e) {
    int dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : err_set(e, "%s: cannot open the run directory: %s", run_dir, strerror(errno));
    int rc = clean_dir(dfd, run_dir, e);
    int sfd = rc ? -1 : openat(dfd, RUNDIR_SPECTRA, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (sfd >= 0) {
        char where[AD_PATH_MAX + 32];
        rc = clean_dir(sfd, rundir_path(where, sizeof where, run_dir, RUNDIR_SPECTRA), e);
        close(sfd);
    }
    close(dfd);
    return rc;
}

/* ---- JSONL logs ---- */

/* "step" of one line, -1 if the line is not a JSON object with an integer step. */
static long line_step(const char *line, size_t len) {
    Json *j = NULL;
    Err e;
    int64_t s = -1;
    if (json_parse(line, len, "line", &j, &e)) return -1;
    if (json_i64(json_get(j, "step"), &s)) s = -1;
    json_free(j);
    return (long)s;
}

int runlog_open(RunLog *l, const char *run_dir, const char *name, long keep_max_step, Err *e) {
    rundir_path(l->path, sizeof l->path, run_dir, name);
    l->f = NULL;
    char *text = NULL;
    size_t len = 0;
    if (keep_max_step >= 0 && file_exists(l->path) && read_file(l->path, &text, &len, e)) return -1;
    /* Keep complete lines (ending in '\n') of steps <= keep_max_step, in order. */
    size_t out = 0;
    for (size_t i = 0; text && i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        if (!nl) break;
        size_t n = (size_t)(nl - (text + i)) + 1;
        long s = line_step(text + i, n - 1);
        if (s >= 0 && s <= keep_max_step) {
            memmove(text + out, text + i, n);
            out += n;
        }
        i += n;
    }
    int rc = write_file_atomic(l->path, text ? text : "", out, e);
    free(text);
    if (rc) return -1;
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || !(l->f = fdopen(fd, "a"))) {
        int err = errno;
        if (fd >= 0) close(fd);
        return err_set(e, "%s: cannot open for appending: %s", l->path,
                       err == ELOOP ? RUNDIR_LINK_REFUSED : strerror(err));
    }
    return 0;
}

int runlog_append(RunLog *l, const StrBuf *rec, Err *e) {
    if (!l->f) return err_set(e, "%s: log is not open", l->path);
    errno = 0;
    int ok = fwrite(rec->p, 1, rec->len, l->f) == rec->len && fputc('\n', l->f) != EOF;
    ok = fflush(l->f) == 0 && ok && !ferror(l->f);
    if (!ok) return err_set(e, "%s: write failed: %s", l->path, errno ? strerror(errno) : "I/O error");
    return 0;
}

int runlog_close(RunLog *l, Err *e) {
    if (!l->f) return 0;
    int bad = ferror(l->f);
    errno = 0;
    bad |= fclose(l->f) != 0;
    l->f = NULL;
    if (bad) return err_set(e, "%s: write failed on close: %s", l->path, errno ? strerror(errno) : "I/O error");
    return 0;
}

/* ---- records ---- */

void rec_begin(StrBuf *b) {
    b->len = 0;
    sb_printf(b, "{");
}

static void rec_key(StrBuf *b, const char *key) {
    if (b->len > 1) sb_printf(b, ", ");
    sb_json_str(b, key);
    sb_printf(b, ": ");
}

void rec_num(StrBuf *b, const char *key, const char *fmt, double v) {
    rec_key(b, key);
    if (!isfinite(v)) {
        sb_printf(b, "null");
        return;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    sb_printf(b, fmt, v);
#pragma GCC diagnostic pop
}

void rec_int(StrBuf *b, const char *key, long long v) {
    rec_key(b, key);
    sb_printf(b, "%lld", v);
}

void rec_str(StrBuf *b, const char *key, const char *v) {
    rec_key(b, key);
    if (v) sb_json_str(b, v);
    else sb_printf(b, "null");
}

void rec_end(StrBuf *b) { sb_printf(b, "}"); }

/* ---- summary ---- */

int rundir_write_summary(const char *run_dir, const RunSummary *s, Err *e) {
    StrBuf b = {0};
    rec_begin(&b);
    rec_str(&b, "status", s->status);
    rec_num(&b, "final_val_loss", "%.9g", s->val_loss);
    rec_num(&b, "final_val_ppl", "%.9g", s->val_ppl);
    if (s->has_test) {
        rec_num(&b, "final_test_loss", "%.9g", s->test_loss);
        rec_num(&b, "final_test_ppl", "%.9g", s->test_ppl);
    }
    rec_int(&b, "steps", s->steps);
    rec_int(&b, "tokens", s->tokens);
    rec_num(&b, "wall_seconds", "%.9g", s->wall_seconds);
    rec_num(&b, "peak_rss_mb", "%.9g", s->peak_rss_mb);
    rec_num(&b, "tok_per_s", "%.9g", s->tok_per_s);
    rec_str(&b, "method", s->method);
    rec_num(&b, "weight_decay", "%.9g", s->weight_decay);
    rec_key(&b, "seed");
    sb_printf(&b, "%llu", (unsigned long long)s->seed);
    rec_str(&b, "dtype", s->dtype ? s->dtype : "float32");
    rec_str(&b, "version", AD_VERSION);
    if (s->commit) {
        rec_key(&b, "build");
        sb_printf(&b, "{\"commit\": ");
        sb_json_str(&b, s->commit);
        sb_printf(&b, ", \"flags\": ");
        sb_json_str(&b, s->flags ? s->flags : "");
        sb_printf(&b, "}");
        rec_key(&b, "machine");
        sb_printf(&b, "{\"cpu\": ");
        sb_json_str(&b, s->cpu ? s->cpu : "unknown");
        sb_printf(&b, ", \"isa\": ");
        sb_json_str(&b, s->isa ? s->isa : "other");
        sb_printf(&b, ", \"amx_bf16\": %s, \"blas\": ", s->amx_bf16 ? "true" : "false");
        sb_json_str(&b, s->blas ? s->blas : "unknown");
        sb_printf(&b, ", \"bf16_products\": ");
        if (s->bf16) sb_json_str(&b, s->bf16);
        else sb_printf(&b, "null");
        sb_printf(&b, "}");
    }
    if (s->message) rec_str(&b, "message", s->message);
    rec_end(&b);
    sb_printf(&b, "\n");
    char path[AD_PATH_MAX + 32];
    int rc = write_file_atomic(rundir_path(path, sizeof path, run_dir, RUNDIR_SUMMARY), b.p, b.len, e);
    sb_free(&b);
    return rc;
}

const char *rundir_status_name(RundirStatus s) {
    static const char *const n[] = {"none", "completed", "failed", "diverged", "unreadable"};
    return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "?";
}

RundirStatus rundir_status(const char *run_dir, Json **summary, char *why, size_t n) {
    char path[AD_PATH_MAX + 32], scratch[8];
    if (!why) {
        why = scratch;
        n = sizeof scratch;
    }
    why[0] = 0;
    if (summary) *summary = NULL;
    rundir_path(path, sizeof path, run_dir, RUNDIR_SUMMARY);
    if (file_exists(path)) {
        Json *j = NULL;
        Err e;
        if (json_parse_file(path, &j, &e)) {
            snprintf(why, n, "%s", e.msg);
            return RUNDIR_UNREADABLE;
        }
        const char *st = json_str(j, "status");
        RundirStatus r = RUNDIR_UNREADABLE;
        if (st && !strcmp(st, "completed")) r = RUNDIR_COMPLETED;
        else if (st && !strcmp(st, "failed")) r = RUNDIR_FAILED;
        else if (st && !strcmp(st, "diverged")) r = RUNDIR_DIVERGED;
        if (r == RUNDIR_UNREADABLE)
            snprintf(why, n, "%s: status is %s%s%s, expected completed|failed|diverged", path, st ? "\"" : "",
                     st ? st : "missing", st ? "\"" : "");
        if (summary && r != RUNDIR_UNREADABLE) *summary = j;
        else json_free(j);
        return r;
    }
    rundir_path(path, sizeof path, run_dir, RUNDIR_FAILED_MARKER);
    if (!file_exists(path)) return RUNDIR_NO_SUMMARY;
    char *text = NULL;
    Err e;
    if (read_file(path, &text, NULL, &e) == 0) {
        text[strcspn(text, "\n")] = 0;
        snprintf(why, n, "%s", text);
    }
    free(text);
    return RUNDIR_FAILED;
}

Json *rundir_last_record(const char *run_dir, const char *name) {
    char path[AD_PATH_MAX + 32];
    rundir_path(path, sizeof path, run_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    /* the last 64 KiB hold the last line of every log we write */
    char *buf = malloc(1 << 16);
    long start = 0;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        start = sz > (1 << 16) - 1 ? sz - (1 << 16) + 1 : 0;
    }
    size_t len = fseek(f, start, SEEK_SET) == 0 ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    buf[len] = 0;
    /* drop an unterminated tail, then take the text after the previous newline */
    char *end = strrchr(buf, '\n');
    Json *j = NULL;
    if (end) {
        *end = 0;
        char *line = strrchr(buf, '\n');
        line = line ? line + 1 : buf;
        Err e;
        if (json_parse(line, strlen(line), path, &j, &e)) j = NULL;
    }
    free(buf);
    return j;
}
