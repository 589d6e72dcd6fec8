/* common.c - see common.h. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int err_set(Err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_below(Rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do x = rng_u64(r);
    while (x >= limit);
    return x % n;
}

/* One block, in index order. Two loops, not a test per value, so the float loop stays as plain as before. */
static double block_sumsq(const float *f, const uint16_t *h, size_t lo, size_t hi) {
    double s = 0.0;
    if (f)
        for (size_t i = lo; i < hi; i++) s += (double)f[i] * (double)f[i];
    else
        for (size_t i = lo; i < hi; i++) {
            uint32_t u = (uint32_t)h[i] << 16; /* bf16 -> float: the high half of the float's bits */
            float x;
            memcpy(&x, &u, sizeof x);
            s += (double)x * (double)x;
        }
    return s;
}

double sumsq_blocked(const float *f, const uint16_t *h, size_t n, size_t block) {
    if (block == 0 || block >= n) return block_sumsq(f, h, 0, n); /* no scratch, no threads (callers may be threads) */
    size_t n_blocks = (n + block - 1) / block;
    double *part = malloc(n_blocks * sizeof(double));
    if (!part) return NAN;
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < n_blocks; c++)
        part[c] = block_sumsq(f, h, c * block, c * block + block < n ? c * block + block : n);
    double total = 0.0;
    for (size_t c = 0; c < n_blocks; c++) total += part[c];
    free(part);
    return total;
}

double sumsq_f32(const float *x, size_t n) { return sumsq_blocked(x, NULL, n, SUMSQ_BLOCK); }

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double proc_kb(const char *file, const char *key) {
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char line[256];
    double v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = atof(line + kl);
            break;
        }
    fclose(f);
    return v;
}

double peak_rss_mb(void) { return proc_kb("/proc/self/status", "VmHWM:") / 1024.0; }
double machine_memory_mb(void) { return proc_kb("/proc/meminfo", "MemTotal:") / 1024.0; }

int mkdir_p(const char *path, Err *e) {
    char buf[AD_PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return err_set(e, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return err_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return err_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
    return 0;
}

DIR *dir_listing(int dfd, const char *where, Err *e) {
    int fd = dup(dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        err_set(e, "%s: cannot list: %s", where, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    rewinddir(d); /* the dup shares the offset of any earlier listing */
    return d;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

const char *path_name_problem(const char *name) {
    size_t n = strlen(name);
    if (n == 0) return "is empty";
    if (n > 255) return "is longer than 255 bytes";
    if (name[0] == '.') return "starts with '.'";
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '/' || *c == '\\') return "contains a path separator ('/' or '\\')";
        if (*c < 0x20 || *c == 0x7f) return "contains a control character";
        if (*c == '\'' || *c == '"' || *c == '`') return "contains a quote";
    }
    return NULL;
}

int run_argv(char *const argv[], const char *cwd, const char *out_path, char *out, size_t n, Err *e) {
    int fds[2] = {-1, -1};
    if (!out_path && pipe(fds) != 0) return err_set(e, "%s: cannot create a pipe: %s", argv[0], strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        if (fds[0] >= 0) {
            close(fds[0]);
            close(fds[1]);
        }
        return err_set(e, "%s: cannot fork: %s", argv[0], strerror(errno));
    }
    if (pid == 0) { /* child: only async-signal-safe calls until exec */
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        if (cwd && chdir(cwd) != 0) _exit(127);
        int o = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666) : fds[1];
        if (o < 0) _exit(127);
        dup2(o, 1);
        dup2(o, 2);
        if (fds[0] >= 0) close(fds[0]);
        execvp(argv[0], argv);
        _exit(127);
    }
    size_t k = 0;
    if (!out_path) {
        close(fds[1]);
        char buf[4096];
        ssize_t r;
        while ((r = read(fds[0], buf, sizeof buf)) != 0) {
            if (r < 0) {
                if (errno == EINTR) continue;
                break;
            }
            for (ssize_t i = 0; i < r && out && k + 1 < n; i++) out[k++] = buf[i];
        }
        close(fds[0]);
    }
    if (out && n) out[k] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return err_set(e, "%s: waitpid failed: %s", argv[0], strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void tmp_name(char *out, size_t n, const char *path) {
    static unsigned counter; /* several temp files of one process at once (threads do not write files) */
    snprintf(out, n, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
}

/* fsync the directory holding path, so a rename in it survives a power loss. A file system that cannot
 * sync a directory says EINVAL (or EROFS when nothing was written): nothing to do there. */
static int fsync_parent(const char *path, Err *e) {
    char dir[AD_PATH_MAX + 64];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return fsync_dir(dir, e);
}

int fsync_dir(const char *dir, Err *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_set(e, "%s: cannot open the directory to sync it: %s", dir, strerror(errno));
    int rc = fsync(fd) != 0 && errno != EINVAL && errno != EROFS ? -1 : 0, err = errno;
    if (close(fd) != 0 && !rc) rc = -1, err = errno;
    if (rc) return err_set(e, "%s: cannot sync the directory: %s", dir, strerror(err));
    return 0;
}

int atomic_begin(AtomicFile *a, const char *path, Err *e) {
    a->f = NULL;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return err_set(e, "%.200s...: path longer than %d bytes", path, AD_PATH_MAX);
    tmp_name(a->tmp, sizeof a->tmp, path);
    /* O_EXCL: never through a link or into a file someone else made under our temp name */
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) return err_set(e, "%s: cannot write: %s", a->tmp, strerror(errno));
    if (!(a->f = fdopen(fd, "wb"))) {
        int err = errno;
        close(fd);
        unlink(a->tmp);
        return err_set(e, "%s: cannot write: %s", a->tmp, strerror(err));
    }
    return 0;
}

void atomic_abort(AtomicFile *a) {
    if (!a->f) return;
    fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}

/* Every step is checked: a lost write shows up at fflush, fsync or close (NFS, quotas, a failing disk),
 * and only a file that got through all three is renamed into place. A failed directory sync leaves the
 * rename possibly undone by a crash: the file is removed again so the caller's error is the whole truth. */
int atomic_commit(AtomicFile *a, Err *e) {
    if (!a->f) return err_set(e, "%s: not open for writing", a->path);
    errno = 0;
    const char *step = "write failed";
    int ok = !ferror(a->f);
    if (ok && fflush(a->f) != 0) ok = 0;
    if (ok && fsync(fileno(a->f)) != 0) ok = 0, step = "fsync failed";
    int err = errno;
    if (fclose(a->f) != 0 && ok) ok = 0, step = "close failed", err = errno;
    a->f = NULL;
    if (!ok) {
        unlink(a->tmp);
        return err_set(e, "%s: %s: %s", a->tmp, step, err ? strerror(err) : "I/O error");
    }
    if (rename(a->tmp, a->path) != 0) {
        err = errno;
        unlink(a->tmp);
        return err_set(e, "%s: cannot rename into place: %s", a->path, strerror(err));
    }
    if (fsync_parent(a->path, e)) {
        unlink(a->path);
        return -1;
    }
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, Err *e) {
    AtomicFile a;
    if (atomic_begin(&a, path, e)) return -1;
    if (len && fwrite(data, 1, len, a.f) != len) {
        int err = errno;
        atomic_abort(&a);
        return err_set(e, "%s: write failed: %s", a.tmp, strerror(err));
    }
    return atomic_commit(&a, e);
}

int buf_double(char **buf, size_t *cap) {
    char *nb = realloc(*buf, *cap * 2);
    if (!nb) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    *buf = nb;
    *cap *= 2;
    return 0;
}

int read_file(const char *path, char **out, size_t *len, Err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0 && buf_double(&buf, &cap)) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) return err_set(e, "%s: out of memory reading file", path);
    if (bad) {
        free(buf);
        return err_set(e, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int parse_file(const char *path, TextParse parse, void *ctx, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    int rc = parse(path, text, len, ctx, e);
    free(text);
    return rc;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "alphadecay: out of memory allocating %zu x %zu bytes\n", n, size);
        abort();
    }
    return p;
}

long self_exe_path(char *buf, size_t size) {
    ssize_t k = readlink("/proc/self/exe", buf, size - 1);
    if (k <= 0) {
        buf[0] = 0;
        return -1;
    }
    buf[k] = 0;
    const char *suffix = " (deleted)";
    size_t sl = strlen(suffix);
    if ((size_t)k > sl && !strcmp(buf + k - sl, suffix)) {
        k -= (ssize_t)sl;
        buf[k] = 0;
    }
    return (long)k;
}
