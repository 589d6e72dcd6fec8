/* common.h - error values, deterministic RNG, timing, small helpers shared by every file.
 *
 * Contract: library code never prints and never exits. A function that can fail returns 0 on
 * success and -1 on failure after filling an Err with a one-line message that names the file
 * (and line/column where it makes sense). Only the command layer prints and decides the exit status:
 * main.c, the cmd_* entry points of cli.h (in train.c, eval.c, sample.c, prep.c, esd_cmd.c, bench.c,
 * sweep.c, analysis/report.c) and the code that serves one command alone and reports its progress
 * (the sweep executors sweep_local.c and sweep_slurm.c, the report's table and figure writers). They
 * return the status to main rather than calling exit().
 * Out of memory is not an error value: xcalloc and the growable buffers (strbuf.h's string builder,
 * the sweep grid's point list, the bf16 product's scratch) abort, some after
 * printing one line. A forked child whose exec failed leaves with _exit(127). */
#ifndef COMMON_H
#define COMMON_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AD_VERSION "0.1.0"
#define AD_PATH_MAX 1024

typedef struct {
    char msg[1024];
} Err;

/* printf-style; always returns -1 so callers can write `return err_set(e, ...)`. e may be NULL. */
int err_set(Err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- deterministic RNG (splitmix64 seeding + xoshiro256**), state is 4 words, serialisable ---- */
typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
double rng_uniform(Rng *r);             /* in [0, 1) */
double rng_normal(Rng *r);              /* standard normal, Box-Muller without caching */
uint64_t rng_below(Rng *r, uint64_t n); /* uniform integer in [0, n) without modulo bias */

/* ---- time and memory ---- */
/* Sum of squares in double of n values: the floats f[], or, when f is NULL, the bf16 bit patterns h[]
 * widened exactly to float (a model's fp32 or bf16_pure storage). Blocks of `block` values, each summed in
 * index order, then the block sums added in block order; block 0 (or >= n) is one block, the plain
 * index-order sum. The rounding never depends on the thread count. The one place a buffer's sum of squares
 * is taken: the gradient norm that logs and clips (blocks of SUMSQ_BLOCK, so threads share the work:
 * sumsq_f32, bf16_sumsq), AWD's gradient and weight norms and AdaDecay's per-module gradient norms (index
 * order, the order their published numbers were computed in). */
#define SUMSQ_BLOCK 65536
double sumsq_blocked(const float *f, const uint16_t *h, size_t n, size_t block);
double sumsq_f32(const float *x, size_t n); /* sumsq_blocked(x, NULL, n, SUMSQ_BLOCK) */

double now_seconds(void);       /* monotonic clock */
double peak_rss_mb(void);       /* VmHWM of this process, MiB */
double machine_memory_mb(void); /* MemTotal, MiB */

/* ---- files ---- */
int mkdir_p(const char *path, Err *e);
int file_exists(const char *path);
/* A listing of the directory open as dfd, from its first entry, that leaves dfd itself open (readdir
 * over a dup of it): NULL with "WHERE: cannot list: REASON" in e. closedir() it when done. */
DIR *dir_listing(int dfd, const char *where, Err *e);
/* The one rule for every name that becomes a file or directory name (sweep, run, table and figure
 * names, also when derived from a file name): 1-255 bytes, no '/' or '\\', no leading '.' (so
 * neither "." nor ".." nor hidden files), no control character (bytes < 0x20 and 0x7f), no quote
 * (' " `). Returns NULL when name fits, else a short reason ("contains '/'", ...). */
const char *path_name_problem(const char *name);
/* The one atomic write: a temp file beside path (tmp_name, created O_EXCL so never through a link),
 * then fflush, fsync and close, each checked, then rename over path and fsync of the directory. Any
 * failure is an error naming the file and the step, and leaves path as it was (or, when only the
 * directory sync failed, absent): never a file that looks whole but may not be. Two processes writing
 * the same path at once both succeed; the file holds one whole text.
 *   AtomicFile a; atomic_begin(&a, path, e); fwrite(..., a.f); atomic_commit(&a, e);
 * atomic_abort drops the temp file (after a failed write of the caller's own). */
typedef struct {
    FILE *f;
    char path[AD_PATH_MAX];
    char tmp[AD_PATH_MAX + 48];
} AtomicFile;
int atomic_begin(AtomicFile *a, const char *path, Err *e);
int atomic_commit(AtomicFile *a, Err *e);
void atomic_abort(AtomicFile *a);
int write_file_atomic(const char *path, const void *data, size_t len, Err *e); /* begin, one fwrite, commit */
/* fsync a directory (after a rename or unlink in it); EINVAL/EROFS (cannot sync here) are not errors. */
int fsync_dir(const char *dir, Err *e);
/* A temp name for path unique to this process and call: "PATH.tmp.PID.N". A process killed
 * mid-write leaves such a file behind; it is never read. */
void tmp_name(char *out, size_t n, const char *path);
/* Doubles the malloc'd *buf (of *cap bytes) keeping its contents; on failure frees it, sets *buf to
 * NULL and returns -1. The growth step of the loops that read a file of unknown size. */
int buf_double(char **buf, size_t *cap);
/* Read a whole file into a malloc'd, NUL-terminated buffer. */
int read_file(const char *path, char **out, size_t *len, Err *e);
/* A parser of a whole file's text (text[len] is NUL); ctx is the caller's (the object parsed into). */
typedef int (*TextParse)(const char *path, const char *text, size_t len, void *ctx, Err *e);
/* read_file, parse, free: what parse returns, or -1 (with e) when the file cannot be read. The one
 * place the loaders that parse a file whole (JSON, YAML, sweep, tokenizer) read it. */
int parse_file(const char *path, TextParse parse, void *ctx, Err *e);

/* Run a program without a shell: fork, chdir(cwd) when cwd is not NULL, exec argv[0] (searched in
 * PATH) with the argument vector argv (NULL-terminated). Its stdout and stderr go to the file
 * out_path (created/truncated, never through a symbolic link; relative to cwd) or, when out_path is NULL, into out[0..n-1]
 * (NUL-terminated, the rest discarded; out may be NULL to discard everything). stdin is /dev/null.
 * Returns the exit status, 127 when the program cannot be run, -1 (with e) when fork/pipe fail. No
 * argument is ever interpreted by a shell, so names and paths with quotes or spaces pass unchanged. */
int run_argv(char *const argv[], const char *cwd, const char *out_path, char *out, size_t n, Err *e);

/* Path of the running executable. When the binary was rebuilt while we run, the kernel reports the
 * old file as "PATH (deleted)": the new file at PATH is what a relaunch wants, so the suffix is cut.
 * Returns the length, or -1. */
long self_exe_path(char *buf, size_t size);

void *xcalloc(size_t n, size_t size); /* calloc that aborts on OOM (see the contract above) */

#endif
