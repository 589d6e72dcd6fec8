/* bench.c - `alphadecay bench`: the machine's sgemm peak, training throughput and its fraction of that
 * peak per experiment configuration, seconds per ESD pass at the 60M and 135M shapes, peak memory per
 * configuration, and the OpenBLAS kernel; a table on stdout and a JSON file (definitions in
 * docs/performance.md, "Benchmark definitions").
 *
 * Processes: OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it is loaded, so unless
 * --keep-env is given the command removes them and re-executes itself once, letting OpenBLAS choose its
 * kernel. Each training configuration is measured in a child process (this binary with the hidden
 * --child-train option) so that its VmHWM is its own; the child prints one JSON line on a pipe.
 *
 * Training measurement: random tokens, the model API (model_forward + model_backward) for `steps` timed
 * micro-steps after one warm-up micro-step, and adam_update timed separately. tok/s counts the Adam
 * update amortised over the configuration's micro-steps per update (batch_size / micro_batch_size), as
 * the training loop runs it; fwd+bwd tok/s alone is reported too. */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "bench_scaling.h"
#include "cli.h"
#include "config.h"
#include "esd.h"
#include "json.h"
#include "matmul_bf16.h"
#include "model.h"
#include "optim.h"
#include "prof.h"

#define MAX_CONFIGS 16

typedef struct {
    const char *configs[MAX_CONFIGS];
    int n_configs;
    int steps;   /* timed micro-steps per configuration; 0 = by size */
    int threads; /* -1 = each configuration's train.threads; 0 = all cores */
    int esd_reps;
    int quick; /* small sgemm sizes, no ESD, one timed step: for tests */
    int keep_env;
    const char *out;
    const char *child;   /* --child-train CONFIG */
    Precision dtypes[3]; /* --dtype: the precisions measured per configuration */
    int n_dtypes;
} BenchArgs;

/* The 1B configuration's memory at micro-batch 4 by the engine's accounting (model_estimate_mem): whether it
 * trains in 24 GiB, without training it. */
#define MEM_CONFIG "experiments/llama_1b.yaml"
#define MEM_MICRO_BATCH 4
#define MEM_BUDGET_GIB 24.0
typedef struct {
    Precision prec;
    int ok, T;
    size_t n_params;
    double state_bpp, state_gib, acts_gib, scratch_gib, total_gib;
} MemCheck;

typedef struct {
    char name[128];
    Precision prec;
    double state_bpp; /* bytes per parameter of weights, bf16 copy, gradients and moments (memory accounting) */
    double act_mb;    /* saved activations (memory accounting) */
    size_t n_params;
    int B, T, accum, threads;
    double flops_per_token, fb_s, adam_s, tok_s, tok_s_fb, frac, peak_mb, est_mb;
    double peak_used; /* GFLOP/s the fraction is taken against: sgemm (fp32) or bf16 matmul peak */
    int capped;       /* the fraction came out above 1 against every probe and was capped at 1 */
    double us[PH_N];  /* per-phase breakdown: microseconds per token of one update (Adam amortised) */
    int n_shapes;     /* bf16 rows: the product shapes, the path each took, GFLOP/s over the timed steps */
    struct {
        int M, N, K, ta, tb, acc, path;
        double gflops;
    } shape[32];
    int ok;
    char err[512];
} TrainResult;

static void usage(FILE *f) {
    fprintf(f,
            "usage: alphadecay bench [--config FILE.yaml]... [--dtype LIST] [--steps N] [--threads N] [--esd-reps N]\n"
            "                        [--out bench.json] [--quick] [--keep-env]\n\n"
            "Measures the sgemm peak (best of several large square cblas_sgemm), training throughput and its\n"
            "fraction of that peak for each experiment configuration (default: experiments/llama_60m.yaml,\n"
            "tiny.yaml, tiny_test.yaml; model shape, seq_len and micro_batch_size from the file), seconds per\n"
            "ESD pass over the tuned modules at the 60M and 135M shapes, peak memory (VmHWM) per configuration\n"
            "in its own process, and the OpenBLAS kernel. Each configuration is measured in every train.dtype of\n"
            "--dtype; bf16 rows report their fraction of the bf16 matmul peak (the same measurement with the\n"
            "bf16 product the engine uses). Prints a table, writes the JSON file.\n\n"
            "  --config FILE   experiment YAML to measure (repeatable; replaces the default list)\n"
            "  --dtype LIST    comma-separated train.dtype values to measure (default fp32,bf16,bf16_pure)\n"
            "  --steps N       timed micro-steps per configuration (default 0: 3 for >10M parameters, else 20)\n"
            "  --threads N     threads for OpenBLAS and OpenMP, 0 = all cores (default: each configuration's\n"
            "                  train.threads for its training run, all cores for the ESD passes)\n"
            "  --esd-reps N    ESD passes per shape; the best and the median are reported (default 5)\n"
            "  --out FILE      JSON output (default bench.json)\n"
            "  --quick         small sgemm, one step, no ESD (a smoke test; numbers not meaningful)\n"
            "  --keep-env      keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (default: unset them for this run)\n\n"
            "The scaling row trains the first configuration with 1 rank x 2 threads, 1 x 1 and (through mpirun)\n"
            "2 ranks x 1 thread, replicated and with train.zero: tok/s, communication share, memory per rank.\n"
            "`alphadecay bench --scaling-model --help`: the predicted multi-node table (ring all-reduce model).\n");
}

/* 0 parsed, 1 --help printed, 2 bad usage printed (args.h). */
static int parse_args(int argc, char **argv, BenchArgs *a) {
    memset(a, 0, sizeof *a);
    a->esd_reps = 5;
    a->threads = -1;
    a->out = "bench.json";
    const char *dtypes = NULL;
    ArgList configs = {.v = a->configs, .cap = MAX_CONFIGS};
    const ArgSpec specs[] = {
        {"--quick", NULL, ARG_FLAG, &a->quick, 0, 0},
        {"--keep-env", NULL, ARG_FLAG, &a->keep_env, 0, 0},
        {"--config", NULL, ARG_EACH, &configs, 0, 0},
        {"--steps", NULL, ARG_INT, &a->steps, 0, INT_MAX},
        {"--threads", NULL, ARG_INT, &a->threads, 0, INT_MAX},
        {"--esd-reps", NULL, ARG_INT, &a->esd_reps, 1, INT_MAX},
        {"--out", NULL, ARG_STR, &a->out, 0, 0},
        {"--child-train", NULL, ARG_STR, &a->child, 0, 0},
        {"--dtype", NULL, ARG_STR, &dtypes, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("bench", argc, argv, specs, NULL, usage);
    if (u) return u;
    a->n_configs = configs.n;
    if (dtypes) {
        char list[64];
        snprintf(list, sizeof list, "%s", dtypes);
        for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
            int k = !strcmp(t, "fp32")        ? PREC_FP32
                    : !strcmp(t, "bf16")      ? PREC_BF16
                    : !strcmp(t, "bf16_pure") ? PREC_BF16_PURE
                                              : -1;
            if (k < 0 || a->n_dtypes == 3)
                return args_usage_error("bench", "--dtype takes up to three of fp32, bf16, bf16_pure (got '%s')", t);
            a->dtypes[a->n_dtypes++] = (Precision)k;
        }
        if (a->n_dtypes == 0) return args_usage_error("bench", "--dtype needs a value");
    }
    if (a->n_dtypes == 0) {
        a->dtypes[0] = PREC_FP32;
        a->dtypes[1] = PREC_BF16;
        a->dtypes[2] = PREC_BF16_PURE;
        a->n_dtypes = 3;
    }
    if (a->n_configs == 0) {
        a->configs[a->n_configs++] = "experiments/llama_60m.yaml";
        a->configs[a->n_configs++] = "experiments/tiny.yaml";
        a->configs[a->n_configs++] = "experiments/tiny_test.yaml";
    }
    return 0;
}

static int set_threads(int threads) {
    int n = threads > 0 ? threads : omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
}

/* ---------------------------------------------------------------- sgemm peak ---- */

/* Best GFLOP/s of `reps` C = A B products of n x n matrices (2 n^3 flops each): fp32 (cblas_sgemm), or
 * with bf16 set bf16 inputs with fp32 output (mm_bf16: the product the bf16 training modes use, on
 * whichever back end matmul_bf16.h chose). The first product warms up threads and caches (and creates
 * the bf16 primitive) and is not counted. */
static double gemm_gflops(int n, int reps, int bf16) {
    size_t sz = (size_t)n * n;
    float *a = malloc(sz * sizeof *a), *b = malloc(sz * sizeof *b), *c = malloc(sz * sizeof *c);
    bf16_t *ah = bf16 ? malloc(sz * sizeof *ah) : NULL, *bh = bf16 ? malloc(sz * sizeof *bh) : NULL;
    double best = 0;
    if (a && b && c && (!bf16 || (ah && bh))) {
        Rng r;
        rng_seed(&r, 1);
        for (size_t i = 0; i < sz; i++) {
            a[i] = (float)rng_uniform(&r) - 0.5f;
            b[i] = (float)rng_uniform(&r) - 0.5f;
        }
        for (size_t i = 0; bf16 && i < sz; i++) {
            ah[i] = bf16_round(a[i]);
            bh[i] = bf16_round(b[i]);
        }
        for (int k = 0; k <= reps; k++) {
            double t0 = now_seconds();
            if (bf16) mm_bf16(0, 0, n, n, n, ah, n, bh, n, 0.0f, c, n);
            else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
            double g = 2.0 * n * n * (double)n / (now_seconds() - t0) / 1e9;
            if (k > 0 && g > best) best = g;
        }
    }
    free(a);
    free(b);
    free(c);
    free(ah);
    free(bh);
    return best;
}

/* Best over the sizes at the current thread setting; per_size gets each size's GFLOP/s. */
static double gemm_peak(int quick, double *per_size, int bf16) {
    static const int full[] = {1024, 2048, 3072, 4096}, small[] = {256};
    double peak = 0;
    for (int i = 0; i < (quick ? 1 : 4); i++) {
        per_size[i] = gemm_gflops(quick ? small[i] : full[i], quick ? 1 : 3, bf16);
        if (per_size[i] > peak) peak = per_size[i];
    }
    if (bf16) mm_bf16_release(); /* the square-size primitives and scratch are not needed again */
    return peak;
}

/* ---------------------------------------------------------------- training (child) ---- */

static int child_train(const char *cfg_path, int steps, int threads, Precision prec) {
    Config c;
    Err e;
    if (config_load_resolved(&c, cfg_path, NULL, 0, NULL, &e)) {
        printf("{\"error\": ");
        json_write_str(stdout, e.msg);
        printf("}\n");
        return 1;
    }
    int nthreads = set_threads(threads >= 0 ? threads : c.train.threads);
    int B = c.train.micro_batch_size, T = c.data.seq_len, accum = c.train.batch_size / B;
    Model m;
    if (model_build(&m, &c.model, &e) || model_set_precision(&m, prec, &e) || model_alloc_train(&m, &e) ||
        model_alloc_acts(&m, B, T, &e)) {
        printf("{\"error\": ");
        json_write_str(stdout, e.msg);
        printf("}\n");
        return 1;
    }
    model_init_weights(&m, 0);
    for (int i = 0; i < m.n_tensors; i++) m.wd[i] = 1e-5;
    int *in = xcalloc((size_t)B * T, sizeof *in), *tg = xcalloc((size_t)B * T, sizeof *tg);
    Rng r;
    rng_seed(&r, 5);
    if (steps <= 0) steps = m.n_params > 10000000 ? 3 : 20;
    double fb = 0, adam = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) prof_enable(1), mm_bf16_shapes_reset(); /* the timed steps, after the warm-up */
        for (int i = 0; i < B * T; i++) {
            in[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
            tg[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
        }
        double warm_fb = 0, warm_adam = 0; /* step 0 is a warm-up */
        bench_time_step(&m, in, tg, B, T, c.train.optimizer, s + 1, s ? &fb : &warm_fb, s ? &adam : &warm_adam);
    }
    prof_flush();
    prof_enable(0);
    fb /= steps;
    adam /= steps;
    double tokens = (double)B * T;
    /* the breakdown in microseconds per token of an update: the forward/backward phases per micro-step, the
     * optimizer amortised over the micro-steps of an update; "other" is the measured time the named phases
     * leave (so the phases add up to 1 / tok_s) */
    double us[PH_N], named = 0;
    for (int p = 0; p < PH_N; p++) us[p] = prof_sec[p] / steps / tokens * 1e6;
    us[PH_ADAM] = adam / accum / tokens * 1e6;
    for (int p = 0; p < PH_N; p++) named += p == PH_OTHER ? 0 : us[p];
    us[PH_OTHER] = (fb + adam / accum) / tokens * 1e6 - named;
    ModelMem mm; /* the engine's accounting, which test_bf16 checks against the allocator's */
    model_estimate_mem(&c.model, B, T, 1, prec, &mm);
    double state = (double)mm.state / m.n_params;
    printf("{\"dtype\": %d, \"state_bpp\": %.2f, \"act_mb\": %.1f, \"threads\": %d, \"n_params\": %zu, \"B\": %d, "
           "\"T\": %d, \"accum\": %d, \"flops_per_token\": %.6g, \"fb_s\": %.6g, "
           "\"adam_s\": %.6g, \"tok_s\": %.6g, \"tok_s_fb\": %.6g, \"peak_mb\": %.1f, \"est_mb\": %.1f, ",
           (int)prec, state, mm.acts / 1048576.0, nthreads, m.n_params, B, T, accum, model_flops_per_token(&m, T), fb,
           adam, tokens / (fb + adam / accum), tokens / fb, peak_rss_mb(),
           model_estimate_bytes_prec(&c.model, B, T, 1, prec) / 1048576.0);
    printf("\"phases_us_per_token\": {");
    for (int p = 0; p < PH_N; p++) printf("%s\"%s\": %.6g", p ? ", " : "", prof_name((Phase)p), us[p]);
    const MmShape *sh;
    int ns = prec == PREC_FP32 ? 0 : mm_bf16_shapes(&sh);
    printf("}, \"shapes\": [");
    for (int i = 0; i < ns && i < 32; i++)
        printf(
            "%s{\"M\": %d, \"N\": %d, \"K\": %d, \"ta\": %d, \"tb\": %d, \"acc\": %d, \"path\": %d, \"gflops\": %.2f}",
            i ? ", " : "", sh[i].M, sh[i].N, sh[i].K, sh[i].ta, sh[i].tb, sh[i].acc, sh[i].path,
            sh[i].seconds > 0 ? 2.0 * sh[i].M * sh[i].N * sh[i].K * sh[i].calls / sh[i].seconds / 1e9 : 0);
    printf("]}\n");
    free(in);
    free(tg);
    model_free(&m);
    return 0;
}

/* ---------------------------------------------------------------- parent ---- */

/* Runs this binary as `bench --child-train CFG ...` and reads its JSON line. */
static void run_child(const char *cfg, Precision prec, const BenchArgs *a, TrainResult *res) {
    memset(res, 0, sizeof *res);
    res->prec = prec;
    const char *base = strrchr(cfg, '/');
    snprintf(res->name, sizeof res->name, "%s", base ? base + 1 : cfg);
    char *dot = strrchr(res->name, '.');
    if (dot) *dot = 0;
    int fd[2];
    if (pipe(fd) != 0) {
        snprintf(res->err, sizeof res->err, "pipe failed");
        return;
    }
    char steps[16], threads[16], dtype[16];
    snprintf(dtype, sizeof dtype, "%s", precision_name(prec));
    snprintf(steps, sizeof steps, "%d", a->quick ? 1 : a->steps);
    snprintf(threads, sizeof threads, "%d", a->threads);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(res->err, sizeof res->err, "fork failed");
        return;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        char *argv[] = {"alphadecay", "bench", "--child-train", (char *)cfg, "--dtype", dtype,
                        "--steps",    steps,   "--threads",     threads,     NULL};
        if (a->threads < 0) argv[8] = NULL; /* the configuration's own train.threads */
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(fd[1]);
    char buf[16384];
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof buf && (k = read(fd[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    close(fd[0]);
    buf[n] = 0;
    int status = 0;
    waitpid(pid, &status, 0);
    Json *j = NULL;
    Err e;
    if (json_parse(buf, n, cfg, &j, &e)) {
        snprintf(res->err, sizeof res->err, "child exited with status %d and no result",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return;
    }
    const char *msg = json_str(j, "error");
    if (msg) {
        snprintf(res->err, sizeof res->err, "%s", msg);
    } else {
        double v;
        res->n_params = json_num(j, "n_params", &v) ? 0 : (size_t)v;
        res->B = json_num(j, "B", &v) ? 0 : (int)v;
        res->T = json_num(j, "T", &v) ? 0 : (int)v;
        res->accum = json_num(j, "accum", &v) ? 0 : (int)v;
        res->threads = json_num(j, "threads", &v) ? 0 : (int)v;
        res->state_bpp = json_num(j, "state_bpp", &v) ? 0 : v;
        res->act_mb = json_num(j, "act_mb", &v) ? 0 : v;
        res->ok = !json_num(j, "flops_per_token", &res->flops_per_token) && !json_num(j, "fb_s", &res->fb_s) &&
                  !json_num(j, "adam_s", &res->adam_s) && !json_num(j, "tok_s", &res->tok_s) &&
                  !json_num(j, "tok_s_fb", &res->tok_s_fb) && !json_num(j, "peak_mb", &res->peak_mb) &&
                  !json_num(j, "est_mb", &res->est_mb);
        const Json *ph = json_get(j, "phases_us_per_token");
        for (int p = 0; p < PH_N && res->ok; p++) res->ok = !json_num(ph, prof_name((Phase)p), &res->us[p]);
        const Json *sh = json_get(j, "shapes");
        for (int i = 0; i < json_len(sh) && i < 32; i++) {
            const Json *x = json_at(sh, i);
            double f[8];
            static const char *k[8] = {"M", "N", "K", "ta", "tb", "acc", "path", "gflops"};
            int bad = 0;
            for (int q = 0; q < 8; q++) bad |= json_num(x, k[q], &f[q]);
            if (bad) break;
            res->shape[i].M = (int)f[0], res->shape[i].N = (int)f[1], res->shape[i].K = (int)f[2];
            res->shape[i].ta = (int)f[3], res->shape[i].tb = (int)f[4], res->shape[i].acc = (int)f[5];
            res->shape[i].path = (int)f[6], res->shape[i].gflops = f[7];
            res->n_shapes = i + 1;
        }
        if (!res->ok) snprintf(res->err, sizeof res->err, "child result incomplete");
    }
    json_free(j);
}

/* Tuned-module shapes of a LLaMA (docs/method.md, "Which tensors are tuned": every layer's q,k,v,o,gate,up,down, minus
 * layer 0's q_proj; lm_head excluded). Returns the count. */
static int tuned_shapes(int C, int inter, int L, int *rows, int *cols) {
    int n = 0;
    for (int l = 0; l < L; l++) {
        for (int k = 0; k < 4; k++) {
            if (l == 0 && k == 0) continue;
            rows[n] = C;
            cols[n] = C;
            n++;
        }
        rows[n] = inter;
        cols[n] = C;
        n++; /* gate */
        rows[n] = inter;
        cols[n] = C;
        n++; /* up */
        rows[n] = C;
        cols[n] = inter;
        n++; /* down */
    }
    return n;
}

static void reexec_without_openblas_env(char **argv) {
    /* OpenBLAS reads these at load time; only a fresh process sees them gone. */
    if (!getenv("OPENBLAS_CORETYPE") && !getenv("OPENBLAS_L2_SIZE")) return;
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("OPENBLAS_L2_SIZE");
    setenv("ALPHADECAY_BENCH_ENV_CLEARED", "1", 1);
    fflush(NULL);
    char **nargv = calloc(64, sizeof *nargv);
    int k = 0;
    nargv[k++] = "alphadecay";
    for (int i = 0; argv[i] && k < 62; i++) nargv[k++] = argv[i];
    execv("/proc/self/exe", nargv);
    free(nargv); /* exec failed: continue in this process with the variables it was started with */
}

/* ESD pass timings at one paper shape. s: the default solver (ESD_GRAM, double: gram.c + tridiag.c);
 * s32: ESD_GRAM_F32 (single precision, ssyrk + ssyevd); med*: the medians. */
typedef struct {
    const char *name;
    int C, inter, L;
    double s, s32;
    int n;
    double med, med32;
} EsdResult;

/* The probes of one product's peak at one thread count (probe_peak). */
typedef struct {
    double best, worst;
    int n, size; /* probes so far; the matrix size the later probes use */
} Probe;

/* Everything one bench run measures. */
typedef struct {
    const char *ocfg, *core; /* OpenBLAS build and kernel */
    int threads, env_cleared;
    const int *sizes; /* sgemm sizes, n_sizes of them */
    int n_sizes;
    double per_size[4], peak;
    Probe probe[2][65];               /* peak probes: [0] sgemm, [1] bf16 matmul, per thread count */
    int want_bf16;                    /* a bf16 mode is measured: the bf16 matmul peak too */
    const char *backend;              /* mm_bf16_backend() */
    int native;                       /* mm_bf16_native() */
    double per16[4], peak16;          /* bf16 matmul peak: per size, best */
    TrainResult res[MAX_CONFIGS * 3]; /* configuration i, dtype d at i * n_dtypes + d */
    int n_res;
    EsdResult esd[2];
    ScalingRow scaling[SCALING_ROWS]; /* data-parallel runs of the first configuration (bench_scaling.h) */
    MemCheck mem[3];                  /* the 1B configuration at micro-batch 4, per dtype (accounting only) */
} BenchResults;

/* The opening sweep over the sizes as the first probe at the bench's thread count. */
static void probe_first(Probe *p, const BenchResults *br, const double *per, double peak) {
    p->best = p->worst = peak;
    p->n = 1;
    for (int i = 0; i < br->n_sizes; i++)
        if (per[i] == peak) p->size = br->sizes[i];
}

/* The bf16 matmul peak, when a bf16 mode is measured; says when the CPU has no native bf16. */
static void bench_bf16_peak(const BenchArgs *a, BenchResults *br) {
    for (int d = 0; d < a->n_dtypes; d++) br->want_bf16 |= a->dtypes[d] != PREC_FP32;
    if (!br->want_bf16) return;
    br->peak16 = gemm_peak(a->quick, br->per16, 1);
    probe_first(&br->probe[1][br->threads < 65 ? br->threads : 64], br, br->per16, br->peak16);
    br->backend = mm_bf16_backend();
    br->native = mm_bf16_native();
    for (int i = 0; i < br->n_sizes; i++)
        fprintf(stderr, "bench: bf16 matmul %d: %.1f GFLOP/s (%d threads)\n", br->sizes[i], br->per16[i], br->threads);
    fprintf(stderr, "bench: bf16 products: %s%s\n", br->backend,
            br->native ? ""
                       : " -- no native bf16 instructions (AVX512-BF16/AMX): bf16 rows are not faster than fp32 here");
}

/* The peak a row's fraction is taken against, robust to a shared machine: probes of the product's peak
 * (kind 0 sgemm, 1 bf16 matmul) at the row's thread count are interleaved with the training runs (one after
 * each run of that kind, the first a sweep over the sizes, the later ones at the size that won it), and the
 * peak is the best probe. The spread of the probes, (best - worst) / best, says how noisy the machine was. */
static void probe_peak(int kind, int t, const BenchArgs *a, BenchResults *br) {
    Probe *p = &br->probe[kind][t < 65 ? t : 64];
    double per[4], g;
    set_threads(t);
    if (p->n == 0) { /* a sweep; its best size is probed from now on */
        g = gemm_peak(a->quick, per, kind);
        for (int i = 0; i < br->n_sizes; i++)
            if (per[i] == g) p->size = br->sizes[i];
    } else {
        g = gemm_gflops(p->size, a->quick ? 1 : 3, kind);
        if (kind) mm_bf16_release();
    }
    set_threads(br->threads);
    p->best = p->n == 0 || g > p->best ? g : p->best;
    p->worst = p->n == 0 || g < p->worst ? g : p->worst;
    p->n++;
    fprintf(stderr, "bench: %s peak probe %d at %d threads: %.1f GFLOP/s (best so far %.1f)\n",
            kind ? "bf16 matmul" : "sgemm", p->n, t, g, p->best);
}

/* Training: one child per configuration and dtype, each followed by a peak probe of its product's kind at its
 * thread count; each row's fraction of peak against the best probe. A fraction still above 1 (the machine was
 * busier during every probe than during the run) gets up to three more probes, then is capped at 1 and
 * flagged. */
static void bench_training(const BenchArgs *a, BenchResults *br) {
    for (int i = 0; i < a->n_configs; i++)
        for (int d = 0; d < a->n_dtypes; d++) {
            TrainResult *r = &br->res[br->n_res++];
            fprintf(stderr, "bench: training %s (%s) ...\n", a->configs[i], precision_name(a->dtypes[d]));
            run_child(a->configs[i], a->dtypes[d], a, r);
            if (!r->ok) {
                fprintf(stderr, "bench: %s: %s\n", a->configs[i], r->err);
                continue;
            }
            int t = r->threads > 0 && r->threads < 65 ? r->threads : br->threads;
            probe_peak(r->prec != PREC_FP32, t, a, br);
        }
    for (int i = 0; i < br->n_res; i++) {
        TrainResult *r = &br->res[i];
        if (!r->ok) continue;
        int t = r->threads > 0 && r->threads < 65 ? r->threads : br->threads, kind = r->prec != PREC_FP32;
        const Probe *p = &br->probe[kind][t];
        for (int k = 0; k < 3 && r->flops_per_token * r->tok_s > p->best * 1e9; k++) probe_peak(kind, t, a, br);
        r->peak_used = p->best;
        r->frac = r->flops_per_token * r->tok_s / (p->best * 1e9);
        if (r->frac > 1) r->frac = 1, r->capped = 1;
    }
    /* the header's peaks: the best probe at the bench's thread count */
    if (br->probe[0][br->threads].best > br->peak) br->peak = br->probe[0][br->threads].best;
    if (br->probe[1][br->threads].best > br->peak16) br->peak16 = br->probe[1][br->threads].best;
}

/* ESD passes at the 60M and 135M shapes (not under --quick). */
static void bench_esd(const BenchArgs *a, BenchResults *br) {
    br->esd[0] = (EsdResult){"60m", 512, 1376, 8, -1, -1, 0, -1, -1};
    br->esd[1] = (EsdResult){"135m", 768, 2048, 12, -1, -1, 0, -1, -1};
    if (a->quick) return;
    for (int k = 0; k < 2; k++) {
        EsdResult *x = &br->esd[k];
        /* 7 Linear modules per layer (one fewer in layer 0): 83 at 135M */
        int *rows = xcalloc((size_t)7 * x->L, sizeof(int)), *cols = xcalloc((size_t)7 * x->L, sizeof(int));
        x->n = tuned_shapes(x->C, x->inter, x->L, rows, cols);
        x->s = esd_bench_pass(rows, cols, x->n, ESD_GRAM, br->threads, a->esd_reps, &x->med);
        x->s32 = esd_bench_pass(rows, cols, x->n, ESD_GRAM_F32, br->threads, a->esd_reps, &x->med32);
        fprintf(stderr, "bench: ESD pass %s (%d modules): gram (double, default) %.3f s, gram-f32 %.3f s\n", x->name,
                x->n, x->s, x->s32);
        free(rows);
        free(cols);
    }
}

static void bench_memory(BenchResults *br) {
    Config c;
    Err e;
    int ok = !config_load_resolved(&c, MEM_CONFIG, NULL, 0, NULL, &e);
    if (!ok) fprintf(stderr, "bench: %s\n", e.msg);
    const Precision precs[3] = {PREC_FP32, PREC_BF16, PREC_BF16_PURE};
    for (int d = 0; d < 3; d++) {
        MemCheck *x = &br->mem[d];
        ModelMem mm;
        x->prec = precs[d];
        x->T = ok ? c.data.seq_len : 0;
        x->ok = ok && !model_estimate_mem(&c.model, MEM_MICRO_BATCH, x->T, 1, x->prec, &mm);
        if (!x->ok) continue;
        x->n_params = mm.state / model_state_bytes_per_param(x->prec, 1);
        x->state_bpp = (double)model_state_bytes_per_param(x->prec, 1);
        x->state_gib = mm.state / 1073741824.0;
        x->acts_gib = mm.acts / 1073741824.0;
        x->scratch_gib = (mm.scratch + mm.other) / 1073741824.0;
        x->total_gib = model_mem_total(&mm) / 1073741824.0;
    }
}

/* How noisy the peaks were: every probe series (probe_peak). */
static void print_probes(const BenchResults *br) {
    for (int k = 0; k < 2; k++)
        for (int t = 0; t < 65; t++) {
            const Probe *p = &br->probe[k][t];
            if (p->n == 0) continue;
            printf("%s peak at %d thread%s: best %.1f GFLOP/s of %d probe%s (size %d), worst %.1f: spread %.0f%%\n",
                   k ? "bf16 matmul" : "sgemm", t, t == 1 ? "" : "s", p->best, p->n, p->n == 1 ? "" : "s", p->size,
                   p->worst, 100 * (p->best - p->worst) / p->best);
        }
    for (int i = 0; i < br->n_res; i++)
        if (br->res[i].capped)
            printf("%s %s: above the best probe even after three more; %% peak capped at 100%%\n", br->res[i].name,
                   precision_name(br->res[i].prec));
}

/* Time outside the products (microseconds per token): everything but the Linear and attention products. */
static double outside_products(const TrainResult *r) {
    double s = 0;
    for (int p = 0; p < PH_N; p++)
        if (p > PH_ATT_MM) s += r->us[p];
    return s;
}

/* Where an update's time goes, per row: microseconds per token (Adam amortised over the micro-steps of an
 * update), and each phase's share. */
static void print_breakdown(const BenchResults *br) {
    static const struct {
        const char *head;
        int a, b;
    } col[] = {{"fwd", PH_MM_FWD_F32, PH_MM_FWD_BF16},
               {"bwd-d", PH_MM_BWDD_F32, PH_MM_BWDD_BF16},
               {"bwd-w", PH_MM_BWDW_F32, PH_MM_BWDW_BF16},
               {"att-mm", PH_ATT_MM, -1},
               {"softmax", PH_ATT_GLUE, -1},
               {"convert", PH_CONVERT, -1},
               {"norm", PH_NORM, -1},
               {"rope", PH_ROPE, -1},
               {"swiglu", PH_SWIGLU, -1},
               {"CE", PH_CE, -1},
               {"embed", PH_EMBED, -1},
               {"adam", PH_ADAM, -1},
               {"other", PH_OTHER, -1}};
    int nc = (int)(sizeof col / sizeof col[0]);
    printf(
        "\nwhere the time goes, us per token of an update (share): products fwd / bwd-data / bwd-weights in the row's\n"
        "dtype, attention's products (also in the row's dtype) and softmax, fp32<->bf16 conversions, element-wise "
        "kernels, Adam "
        "(amortised)\n");
    printf("%-14s %-9s", "config", "dtype");
    for (int c = 0; c < nc; c++) printf(" %8s", col[c].head);
    printf(" %8s %13s\n", "total", "non-product");
    for (int i = 0; i < br->n_res; i++) {
        const TrainResult *r = &br->res[i];
        if (!r->ok) continue;
        double tot = 1e6 / r->tok_s;
        printf("%-14s %-9s", r->name, precision_name(r->prec));
        for (int c = 0; c < nc; c++) printf(" %8.1f", r->us[col[c].a] + (col[c].b >= 0 ? r->us[col[c].b] : 0));
        printf(" %8.1f %8.1f\n", tot, outside_products(r));
        printf("%-14s %-9s", "", "");
        for (int c = 0; c < nc; c++)
            printf(" %7.1f%%", 100 * (r->us[col[c].a] + (col[c].b >= 0 ? r->us[col[c].b] : 0)) / tot);
        printf(" %8s %7.1f%%\n", "", 100 * outside_products(r) / tot);
    }
}

/* bf16 rows: which path each product shape took (bench.json lists every shape with its GFLOP/s). */
static void print_shapes(const BenchResults *br) {
    for (int i = 0; i < br->n_res; i++) {
        const TrainResult *r = &br->res[i];
        if (!r->ok || r->prec == PREC_FP32 || r->n_shapes == 0) continue;
        int on = 0, lo = 0;
        for (int k = 0; k < r->n_shapes; k++) {
            on += r->shape[k].path == 1;
            if (r->shape[k].gflops < r->shape[lo].gflops) lo = k;
        }
        printf("%s %s: %d product shapes, %d on oneDNN, %d on the fallback; slowest %d x %d x %d%s%s at %.0f GFLOP/s\n",
               r->name, precision_name(r->prec), r->n_shapes, on, r->n_shapes - on, r->shape[lo].M, r->shape[lo].N,
               r->shape[lo].K, r->shape[lo].ta ? " (A^T)" : "", r->shape[lo].tb ? " (B^T)" : "", r->shape[lo].gflops);
    }
}

static void print_table(const BenchArgs *a, const BenchResults *br) {
    printf("OpenBLAS: %s | kernel: %s | threads: %d | sgemm peak: %.1f GFLOP/s\n", br->ocfg, br->core, br->threads,
           br->peak);
    if (br->want_bf16)
        printf("bf16 matmul peak: %.1f GFLOP/s | %s%s\n", br->peak16, br->backend,
               br->native ? "" : " | no native bf16 instructions: bf16 rows are not faster than fp32 here");
    printf("%-14s %-9s %10s %5s %5s %6s %3s %11s %10s %10s %8s %7s %8s %9s %9s\n", "config", "dtype", "params", "B",
           "T", "accum", "thr", "MFLOP/tok", "tok/s", "fb tok/s", "% peak", "B/param", "act MB", "peak MB", "est MB");
    for (int i = 0; i < br->n_res; i++) {
        const TrainResult *r = &br->res[i];
        if (!r->ok) {
            printf("%-14s %-9s failed: %s\n", r->name, precision_name(r->prec), r->err);
            continue;
        }
        printf("%-14s %-9s %10zu %5d %5d %6d %3d %11.1f %10.1f %10.1f %7.1f%% %7.1f %8.1f %9.0f %9.0f\n", r->name,
               precision_name(r->prec), r->n_params, r->B, r->T, r->accum, r->threads, r->flops_per_token / 1e6,
               r->tok_s, r->tok_s_fb, 100 * r->frac, r->state_bpp, r->act_mb, r->peak_mb, r->est_mb);
    }
    print_probes(br);
    print_breakdown(br);
    print_shapes(br);
    printf(
        "%% peak: of the sgemm peak (fp32 rows) or of the bf16 matmul peak (bf16 rows). B/param: weights, gradients,\n"
        "Adam moments and (bf16) the bf16 weight copy, by the engine's memory accounting (bf16_pure stores all four "
        "in\n"
        "bf16); act MB: the saved activations by the same accounting; peak MB: the process's peak RSS; est MB: the\n"
        "accounting's total (state, activations, backward scratch)\n");
    for (int d = 0; d < 3; d++) {
        const MemCheck *x = &br->mem[d];
        if (!x->ok) {
            printf("memory %s: %s could not be read\n", precision_name(x->prec), MEM_CONFIG);
            continue;
        }
        printf("memory %-9s %s (%.0fM params) micro-batch %d x %d: %.1f GiB = state %.1f (%.0f B/param) + activations "
               "%.1f + scratch %.1f: %s %.0f GiB\n",
               precision_name(x->prec), MEM_CONFIG, x->n_params / 1e6, MEM_MICRO_BATCH, x->T, x->total_gib,
               x->state_gib, x->state_bpp, x->acts_gib, x->scratch_gib,
               x->total_gib <= MEM_BUDGET_GIB ? "fits in" : "exceeds", MEM_BUDGET_GIB);
    }
    for (int k = 0; k < 2 && !a->quick; k++)
        printf("ESD pass %-5s %3d modules: %.3f s best, %.3f s median of %d (gram, double, default) | %.3f s best "
               "(gram-f32)\n",
               br->esd[k].name, br->esd[k].n, br->esd[k].s, br->esd[k].med, a->esd_reps, br->esd[k].s32);
    bench_scaling_print(a->configs[0], br->scaling);
}

/* bench.json, written atomically. */
static int write_json(const BenchArgs *a, const BenchResults *br) {
    StrBuf b = {0};
    sb_printf(&b, "{\n  \"openblas_config\": ");
    sb_json_str(&b, br->ocfg);
    sb_printf(&b, ",\n  \"openblas_kernel\": ");
    sb_json_str(&b, br->core);
    sb_printf(&b, ",\n  \"openblas_env_unset\": %s,\n  \"threads\": %d,\n  \"quick\": %s,\n",
              br->env_cleared ? "true" : "false", br->threads, a->quick ? "true" : "false");
    sb_printf(&b, "  \"sgemm\": {\"peak_gflops\": %.2f, \"sizes\": [", br->peak);
    for (int i = 0; i < br->n_sizes; i++)
        sb_printf(&b, "%s{\"n\": %d, \"gflops\": %.2f}", i ? ", " : "", br->sizes[i], br->per_size[i]);
    sb_printf(&b, "]},\n  \"bf16\": {\"backend\": ");
    sb_json_str(&b, br->want_bf16 ? br->backend : "not measured");
    sb_printf(&b, ", \"native\": %s, \"peak_gflops\": %.2f, \"sizes\": [", br->native ? "true" : "false", br->peak16);
    for (int i = 0; i < br->n_sizes && br->want_bf16; i++)
        sb_printf(&b, "%s{\"n\": %d, \"gflops\": %.2f}", i ? ", " : "", br->sizes[i], br->per16[i]);
    sb_printf(&b, "]},\n  \"peak_probes\": [");
    for (int k = 0, first = 1; k < 2; k++)
        for (int t = 0; t < 65; t++) {
            const Probe *p = &br->probe[k][t];
            if (p->n == 0) continue;
            sb_printf(&b,
                      "%s{\"product\": \"%s\", \"threads\": %d, \"probes\": %d, \"size\": %d, \"best_gflops\": %.2f, "
                      "\"worst_gflops\": %.2f, \"spread\": %.4f}",
                      first ? "" : ", ", k ? "bf16" : "sgemm", t, p->n, p->size, p->best, p->worst,
                      (p->best - p->worst) / p->best);
            first = 0;
        }
    sb_printf(&b, "],\n  \"flops_note\": \"6 x (Linear + lm_head params) + 6*2*L*T*hidden; full T x T attention "
                  "counted although half is masked\",\n");
    sb_printf(&b, "  \"training\": [");
    for (int i = 0; i < br->n_res; i++) {
        const TrainResult *r = &br->res[i];
        sb_printf(&b, "%s\n    {\"config\": ", i ? "," : "");
        sb_json_str(&b, a->configs[i / a->n_dtypes]);
        sb_printf(&b, ", \"dtype\": \"%s\"", precision_name(r->prec));
        if (!r->ok) {
            sb_printf(&b, ", \"error\": ");
            sb_json_str(&b, r->err);
            sb_printf(&b, "}");
            continue;
        }
        sb_printf(&b, ", \"name\": ");
        sb_json_str(&b, r->name);
        sb_printf(&b,
                  ", \"threads\": %d, \"peak_gflops_at_threads\": %.2f, \"state_bytes_per_param\": %.2f, "
                  "\"activations_mb\": %.1f",
                  r->threads, r->peak_used, r->state_bpp, r->act_mb);
        sb_printf(
            &b,
            ", \"n_params\": %zu, \"micro_batch\": %d, \"seq_len\": %d, \"accum\": %d, \"flops_per_token\": %.6g, "
            "\"fwd_bwd_s\": %.6g, \"adam_s\": %.6g, \"tok_s\": %.2f, \"tok_s_fwd_bwd\": %.2f, \"fraction_of_peak\": "
            "%.4f, "
            "\"peak_rss_mb\": %.1f, \"estimated_mb\": %.1f",
            r->n_params, r->B, r->T, r->accum, r->flops_per_token, r->fb_s, r->adam_s, r->tok_s, r->tok_s_fb, r->frac,
            r->peak_mb, r->est_mb);
        sb_printf(&b, ", \"fraction_capped\": %s, \"non_product_us_per_token\": %.3f, \"phases\": {",
                  r->capped ? "true" : "false", outside_products(r));
        for (int p = 0; p < PH_N; p++)
            sb_printf(&b, "%s\"%s\": {\"us_per_token\": %.3f, \"share\": %.4f}", p ? ", " : "", prof_name((Phase)p),
                      r->us[p], r->us[p] * r->tok_s / 1e6);
        sb_printf(&b, "}, \"shapes\": [");
        for (int k = 0; k < r->n_shapes; k++)
            sb_printf(&b,
                      "%s{\"M\": %d, \"N\": %d, \"K\": %d, \"trans_a\": %d, \"trans_b\": %d, \"bf16_output\": %d, "
                      "\"path\": \"%s\", \"gflops\": %.2f}",
                      k ? ", " : "", r->shape[k].M, r->shape[k].N, r->shape[k].K, r->shape[k].ta, r->shape[k].tb,
                      r->shape[k].acc != 0, r->shape[k].path == 1 ? "oneDNN" : "fallback", r->shape[k].gflops);
        sb_printf(&b, "]}");
    }
    sb_printf(&b, "\n  ],\n  \"esd\": [");
    for (int k = 0; k < 2 && !a->quick; k++) {
        const EsdResult *x = &br->esd[k];
        sb_printf(&b,
                  "%s{\"shape\": \"%s\", \"modules\": %d, \"solver\": \"gram\", \"seconds_per_pass\": %.4f, "
                  "\"seconds_per_pass_median\": %.4f, \"passes\": %d, \"seconds_per_pass_gram_f32\": %.4f, "
                  "\"seconds_per_pass_gram_f32_median\": %.4f}",
                  k ? ", " : "", x->name, x->n, x->s, x->med, a->esd_reps, x->s32, x->med32);
    }
    sb_printf(&b, "],\n  \"memory_1b\": {\"config\": \"%s\", \"micro_batch\": %d, \"budget_gib\": %.0f, \"dtypes\": [",
              MEM_CONFIG, MEM_MICRO_BATCH, MEM_BUDGET_GIB);
    for (int d = 0, first = 1; d < 3; d++) {
        const MemCheck *x = &br->mem[d];
        if (!x->ok) continue;
        sb_printf(&b,
                  "%s{\"dtype\": \"%s\", \"seq_len\": %d, \"state_bytes_per_param\": %.1f, \"state_gib\": %.3f, "
                  "\"activations_gib\": %.3f, \"scratch_gib\": %.3f, \"total_gib\": %.3f, \"fits\": %s}",
                  first ? "" : ", ", precision_name(x->prec), x->T, x->state_bpp, x->state_gib, x->acts_gib,
                  x->scratch_gib, x->total_gib, x->total_gib <= MEM_BUDGET_GIB ? "true" : "false");
        first = 0;
    }
    sb_printf(&b, "]},\n  \"scaling\": ");
    bench_scaling_json(&b, a->configs[0], br->scaling);
    sb_printf(&b, "\n}\n");
    Err e;
    int rc = write_file_atomic(a->out, b.p, b.len, &e);
    sb_free(&b);
    if (rc) {
        fprintf(stderr, "alphadecay bench: %s\n", e.msg);
        return -1;
    }
    fprintf(stderr, "bench: wrote %s\n", a->out);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++) { /* the two other modes parse their own arguments (and --help) */
        if (!strcmp(argv[i], "--scaling-model")) return bench_scaling_model(argc, argv);
        if (!strcmp(argv[i], "--child-dist")) return bench_dist_child(argc, argv);
    }
    BenchArgs a;
    int u = parse_args(argc, argv, &a);
    if (u) return u == 1 ? 0 : 2;
    if (a.child) return child_train(a.child, a.steps, a.threads, a.dtypes[0]);
    /* the environment as this command was started, before any re-exec */
    const char *was_cleared = getenv("ALPHADECAY_BENCH_ENV_CLEARED");
    if (!a.keep_env && !was_cleared) reexec_without_openblas_env(argv);

    static BenchResults br; /* MAX_CONFIGS results with their messages: not for the stack */
    memset(&br, 0, sizeof br);
    br.env_cleared = was_cleared != NULL;
    br.threads = set_threads(a.threads > 0 ? a.threads : 0);
    br.core = openblas_get_corename();
    br.ocfg = openblas_get_config();
    fprintf(stderr, "bench: OpenBLAS %s, kernel %s, %d threads%s\n", br.ocfg, br.core, br.threads,
            was_cleared ? " (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for this run)" : "");

    /* sgemm peak */
    static const int sizes_full[] = {1024, 2048, 3072, 4096}, sizes_quick[] = {256};
    br.sizes = a.quick ? sizes_quick : sizes_full;
    br.n_sizes = a.quick ? 1 : 4;
    br.peak = gemm_peak(a.quick, br.per_size, 0);
    for (int i = 0; i < br.n_sizes; i++)
        fprintf(stderr, "bench: sgemm %d: %.1f GFLOP/s (%d threads)\n", br.sizes[i], br.per_size[i], br.threads);
    probe_first(&br.probe[0][br.threads < 65 ? br.threads : 64], &br, br.per_size, br.peak);

    bench_bf16_peak(&a, &br);
    bench_training(&a, &br);
    bench_esd(&a, &br);
    bench_memory(&br);
    fprintf(stderr, "bench: scaling %s: 1 rank x 2 threads, 1 x 1, 2 ranks x 1 thread (replicated, zero) ...\n",
            a.configs[0]);
    bench_scaling_measure(a.configs[0], a.quick, br.scaling);
    print_table(&a, &br);
    if (write_json(&a, &br)) return 1;
    int failed = 0;
    for (int i = 0; i < br.n_res; i++) failed |= !br.res[i].ok;
    for (int k = 0; k < 2 && !a.quick; k++) failed |= br.esd[k].s < 0 || br.esd[k].s32 < 0;
    return failed ? 1 : 0;
}
