/* bench_scaling.c - see bench_scaling.h.
 *
 * Measured row: each measurement is a child process (this binary, `bench --child-dist`), started
 * directly for 1 rank and through `mpirun --oversubscribe -np 2` for 2 ranks, so each rank's VmHWM is
 * its own. A child builds the configuration's model with random tokens and times `reps` updates of
 * `micro` micro-batches (each rank computing micro / ranks of them) exactly as train does them:
 * forward + backward, the gradient all-reduce, Adam (under zero: this rank's slice, then the weight
 * all-gather). tok/s = micro x B x T / update seconds; the communication share is the seconds inside
 * the collectives over the update seconds. The recipe accumulates many more micro-batches per update
 * (64 at 60M), over which the same all-reduce is amortised: the table also gives the share projected
 * to the recipe's accumulation.
 *
 * Scaling model: per update on N nodes, t(N) = t_fb / N + t_adam + 2 (N - 1) / N x gradient bytes /
 * bandwidth + 2 (N - 1) x latency (a ring all-reduce: reduce-scatter then all-gather, each N - 1
 * steps of 1/N of the buffer). t_fb is the forward + backward time of the whole global batch on one
 * node: measured for the 60M model (or given with --node-tok-s) and scaled to the other sizes by model
 * FLOPs per token (the same fraction of peak assumed); t_adam scales with the parameter count.
 * Parallel efficiency = t(1) / (N t(N)). */
#include "bench_scaling.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "dist.h"
#include "json.h"
#include "optim.h"

void openblas_set_num_threads(int num_threads);

/* ---------------------------------------------------------------- one rank of a measurement ---- */

static void child_usage(FILE *f) {
    fprintf(f, "usage: alphadecay bench --child-dist CONFIG.yaml [--micro K] [--threads T] [--reps R] [--zero]\n"
               "  (internal) one rank of a measured scaling row, started by `bench`; rank 0 prints one JSON line.\n"
               "  Defaults: K 4 (a multiple of the ranks), T 1, R 2.\n");
}

int bench_dist_child(int argc, char **argv) {
    const char *cfg_path = NULL;
    int micro = 4, threads = 1, zero = 0, reps = 2;
    char msg[256];
    Err e;
    Config c;
    Model m = {0};
    int ranks = dist_init(&argc, &argv, msg, sizeof msg);
    if (ranks < 0) {
        printf("{\"error\": \"%s\"}\n", msg);
        return 1;
    }
    int me = dist_rank();
    /* parsed after MPI is up, so that only rank 0 reports a bad argument (as train does) */
    const ArgSpec specs[] = {
        {"--child-dist", NULL, ARG_STR, &cfg_path, 0, 0},
        {"--micro", NULL, ARG_INT, &micro, 1, INT_MAX},
        {"--threads", NULL, ARG_INT, &threads, 1, INT_MAX},
        {"--reps", NULL, ARG_INT, &reps, 1, INT_MAX},
        {"--zero", NULL, ARG_FLAG, &zero, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse(me == 0 ? "bench --child-dist" : NULL, argc, argv, specs, NULL, child_usage);
    if (u || !cfg_path || micro % ranks) { /* micro >= 1: micro % ranks also refuses micro < ranks */
        if (me == 0 && u != 1) printf("{\"error\": \"bad --child-dist arguments\"}\n");
        dist_finalize();
        return u == 1 ? 0 : 1;
    }
    if (config_load_resolved(&c, cfg_path, NULL, 0, NULL, &e) || model_build(&m, &c.model, &e) ||
        model_alloc_train(&m, &e) || model_alloc_acts(&m, c.train.micro_batch_size, c.data.seq_len, &e)) {
        if (me == 0) {
            printf("{\"error\": ");
            json_write_str(stdout, e.msg);
            printf("}\n");
        }
        model_free(&m);
        dist_finalize();
        return 1;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    model_init_weights(&m, 0);
    for (int i = 0; i < m.n_tensors; i++) m.wd[i] = 1e-5;
    size_t lo = 0, hi = m.n_params;
    float *mo = m.adam_m, *ve = m.adam_v;
    if (zero && ranks > 1) { /* as train.zero: only this rank's slice of the moments */
        dist_range(m.n_params, me, ranks, &lo, &hi);
        free(m.adam_m);
        free(m.adam_v);
        m.adam_m = m.adam_v = NULL;
        mo = xcalloc(hi - lo + 1, sizeof(float));
        ve = xcalloc(hi - lo + 1, sizeof(float));
    }
    int B = c.train.micro_batch_size, T = c.data.seq_len, per = micro / ranks;
    int *in = xcalloc((size_t)B * T, sizeof *in), *tg = xcalloc((size_t)B * T, sizeof *tg);
    Rng r;
    rng_seed(&r, 11 + (uint64_t)me);
    double fb = 0, comm = 0, adam = 0, upd = 0;
    for (int s = 0; s <= reps; s++) { /* update 0 warms up */
        dist_barrier();
        double t0 = now_seconds(), c0 = dist_comm_seconds(), f = 0;
        model_zero_grad(&m);
        for (int k = 0; k < per; k++) {
            for (int i = 0; i < B * T; i++) {
                in[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
                tg[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
            }
            double t1 = now_seconds();
            model_forward(&m, in, tg, B, T, NULL);
            model_backward(&m, 1.0f / (float)micro);
            f += now_seconds() - t1;
        }
        dist_sum_floats(m.grads, m.n_params);
        double t2 = now_seconds();
        adam_update_slice(&m, c.train.optimizer, 1e-4, 0.9, 0.999, 1e-8, s + 1, lo, hi, mo, ve);
        double a = now_seconds() - t2;
        if (zero && ranks > 1) dist_allgather_floats(m.params, m.n_params);
        if (s == 0) continue;
        upd += now_seconds() - t0;
        fb += f / per;
        adam += a;
        comm += dist_comm_seconds() - c0;
    }
    /* every rank's peak memory, gathered to rank 0 */
    double *peaks = xcalloc((size_t)ranks, sizeof *peaks), peak = 0;
    peaks[me] = peak_rss_mb();
    dist_sum_doubles(peaks, (size_t)ranks);
    for (int k = 0; k < ranks; k++)
        if (peaks[k] > peak) peak = peaks[k];
    if (me == 0)
        printf("{\"ranks\": %d, \"threads\": %d, \"zero\": %d, \"micro\": %d, \"tok_s\": %.6g, \"update_s\": %.6g, "
               "\"comm_s\": %.6g, \"fb_s\": %.6g, \"adam_s\": %.6g, \"peak_mb\": %.1f, \"grad_mb\": %.2f}\n",
               ranks, threads, zero, micro, (double)micro * B * T / (upd / reps), upd / reps, comm / reps, fb / reps,
               adam / reps, peak, m.n_params * 4.0 / 1048576.0);
    fflush(stdout);
    free(peaks);
    free(in);
    free(tg);
    if (mo != m.adam_m) {
        free(mo);
        free(ve);
    }
    model_free(&m);
    dist_finalize();
    return 0;
}

/* ---------------------------------------------------------------- the measured row ---- */

static void run_one(const char *cfg, int ranks, int threads, int zero, int micro, ScalingRow *row) {
    memset(row, 0, sizeof *row);
    row->ranks = ranks;
    row->threads = threads;
    row->zero = zero;
    row->micro = micro;
    char self[AD_PATH_MAX], micro_s[16], threads_s[16];
    if (self_exe_path(self, sizeof self) <= 0) {
        snprintf(row->err, sizeof row->err, "cannot find this binary");
        return;
    }
    snprintf(micro_s, sizeof micro_s, "%d", micro);
    snprintf(threads_s, sizeof threads_s, "%d", threads);
    /* an argument vector, never a shell string: the config path may hold any character */
    char *argv[20];
    int a = 0;
    if (ranks > 1) {
        char *probe[] = {"mpirun", "--version", NULL};
        if (run_argv(probe, NULL, NULL, NULL, 0, NULL) != 0) {
            snprintf(row->err, sizeof row->err, "mpirun not found");
            return;
        }
        /* Open MPI refuses root unless told; a waiting rank yields its core to the other */
        argv[a++] = "mpirun";
        argv[a++] = "--oversubscribe";
        if (geteuid() == 0) argv[a++] = "--allow-run-as-root";
        argv[a++] = "--mca";
        argv[a++] = "mpi_yield_when_idle";
        argv[a++] = "1";
        argv[a++] = "-np";
        argv[a++] = "2";
    }
    char *rest[] = {self, "bench", "--child-dist", (char *)cfg, "--micro", micro_s, "--threads", threads_s};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) argv[a++] = rest[i];
    if (zero) argv[a++] = "--zero";
    argv[a] = NULL;
    size_t cap = 1 << 20;
    char *out = malloc(cap), last[4096] = "";
    if (!out) {
        snprintf(row->err, sizeof row->err, "out of memory");
        return;
    }
    int st = run_argv(argv, NULL, NULL, out, cap, NULL);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
    free(out);
    Json *j = NULL;
    Err e;
    if (!last[0] || json_parse(last, strlen(last), "child", &j, &e)) {
        snprintf(row->err, sizeof row->err, "no result (status %d) from the %s measurement child", st,
                 ranks > 1 ? "mpirun" : "bench");
        return;
    }
    const char *msg = json_str(j, "error");
    if (msg) snprintf(row->err, sizeof row->err, "%s", msg);
    else
        row->ok = !json_num(j, "tok_s", &row->tok_s) && !json_num(j, "update_s", &row->update_s) &&
                  !json_num(j, "comm_s", &row->comm_s) && !json_num(j, "fb_s", &row->fb_s) &&
                  !json_num(j, "adam_s", &row->adam_s) && !json_num(j, "peak_mb", &row->peak_mb) &&
                  !json_num(j, "grad_mb", &row->grad_mb);
    if (!msg && !row->ok) snprintf(row->err, sizeof row->err, "incomplete result");
    json_free(j);
}

void bench_scaling_measure(const char *cfg, int quick, ScalingRow rows[SCALING_ROWS]) {
    int micro = quick ? 2 : 4;
    run_one(cfg, 1, 2, 0, micro, &rows[0]);
    run_one(cfg, 1, 1, 0, micro, &rows[1]);
    run_one(cfg, 2, 1, 0, micro, &rows[2]);
    run_one(cfg, 2, 1, 1, micro, &rows[3]);
}

/* The communication share once the all-reduce is amortised over `accum` micro-batches per update
 * (the recipe's) instead of the measured few: compute and Adam scale, the communication does not. */
static double projected_share(const ScalingRow *r, int accum) {
    double t = (double)accum / r->ranks * r->fb_s + r->adam_s + r->comm_s;
    return t > 0 ? r->comm_s / t : 0;
}

static int recipe_accum(const char *cfg) {
    Config c;
    Err e;
    return config_load_resolved(&c, cfg, NULL, 0, NULL, &e) ? 0 : c.train.batch_size / c.train.micro_batch_size;
}

void bench_scaling_print(const char *cfg, const ScalingRow rows[SCALING_ROWS]) {
    int accum = recipe_accum(cfg);
    printf("scaling %s (%d micro-batches per measured update; the recipe has %d):\n", cfg, rows[0].micro, accum);
    printf("  %-22s %10s %10s %9s %12s %14s %10s\n", "ranks x threads", "tok/s", "update s", "comm s", "comm share",
           "share @recipe", "MB/rank");
    for (int i = 0; i < SCALING_ROWS; i++) {
        const ScalingRow *r = &rows[i];
        char label[64];
        snprintf(label, sizeof label, "%d x %d%s", r->ranks, r->threads, r->zero ? " (zero)" : "");
        if (!r->ok) {
            printf("  %-22s skipped: %s\n", label, r->err);
            continue;
        }
        printf("  %-22s %10.1f %10.3f %9.4f %11.1f%% %13.2f%% %10.0f\n", label, r->tok_s, r->update_s, r->comm_s,
               100 * r->comm_s / r->update_s, 100 * projected_share(r, accum), r->peak_mb);
    }
    if (rows[0].ok && rows[2].ok)
        printf("  2 ranks x 1 thread / 1 rank x 2 threads: %.2f\n", rows[2].tok_s / rows[0].tok_s);
    if (rows[1].ok && rows[2].ok)
        printf("  parallel efficiency, 2 ranks x 1 thread / (2 x 1 rank x 1 thread): %.2f\n",
               rows[2].tok_s / (2 * rows[1].tok_s));
}

void bench_scaling_json(StrBuf *b, const char *cfg, const ScalingRow rows[SCALING_ROWS]) {
    int accum = recipe_accum(cfg);
    sb_printf(b, "{\"config\": ");
    sb_json_str(b, cfg);
    sb_printf(b, ", \"recipe_accum\": %d, \"rows\": [", accum);
    for (int i = 0; i < SCALING_ROWS; i++) {
        const ScalingRow *r = &rows[i];
        sb_printf(b, "%s{\"ranks\": %d, \"threads\": %d, \"zero\": %s, \"micro\": %d", i ? ", " : "", r->ranks,
                  r->threads, r->zero ? "true" : "false", r->micro);
        if (!r->ok) {
            sb_printf(b, ", \"error\": ");
            sb_json_str(b, r->err);
            sb_printf(b, "}");
            continue;
        }
        sb_printf(
            b,
            ", \"tok_s\": %.2f, \"update_s\": %.5f, \"comm_s\": %.5f, \"comm_share\": %.4f, "
            "\"comm_share_at_recipe\": %.5f, \"fwd_bwd_s\": %.5f, \"adam_s\": %.5f, \"peak_rss_mb_per_rank\": %.1f}",
            r->tok_s, r->update_s, r->comm_s, r->comm_s / r->update_s, projected_share(r, accum), r->fb_s, r->adam_s,
            r->peak_mb);
    }
    sb_printf(b, "]");
    if (rows[1].ok && rows[2].ok) sb_printf(b, ", \"parallel_efficiency\": %.4f", rows[2].tok_s / (2 * rows[1].tok_s));
    sb_printf(b, "}");
}

/* ---------------------------------------------------------------- the scaling model ---- */

typedef struct {
    const char *path;
    char name[64];
    double params, flops, tokens_per_update, steps;
} ModelCase;

static int model_case(const char *path, ModelCase *mc, Err *e) {
    Config c;
    Model m = {0};
    if (config_load_resolved(&c, path, NULL, 0, NULL, e) || model_build(&m, &c.model, e))
        return -1; /* params untouched: no memory */
    mc->path = path;
    const char *base = strrchr(path, '/');
    snprintf(mc->name, sizeof mc->name, "%s", base ? base + 1 : path);
    char *dot = strrchr(mc->name, '.');
    if (dot) *dot = 0;
    mc->params = (double)m.n_params;
    mc->flops = model_flops_per_token(&m, c.data.seq_len);
    mc->tokens_per_update = (double)c.train.batch_size * c.data.seq_len;
    mc->steps = (double)c.train.steps;
    model_free(&m);
    return 0;
}

/* Forward + backward tok/s and Adam seconds per update of cfg on this machine (all cores), from two
 * timed micro-steps after a warm-up. */
static int measure_node(const char *cfg, double *tok_s, double *adam_s, Err *e) {
    Config c;
    Model m = {0};
    if (config_load_resolved(&c, cfg, NULL, 0, NULL, e) || model_build(&m, &c.model, e) || model_alloc_train(&m, e) ||
        model_alloc_acts(&m, c.train.micro_batch_size, c.data.seq_len, e)) {
        model_free(&m);
        return -1;
    }
    model_init_weights(&m, 0);
    int B = c.train.micro_batch_size, T = c.data.seq_len;
    int *in = xcalloc((size_t)B * T, sizeof *in), *tg = xcalloc((size_t)B * T, sizeof *tg);
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < B * T; i++) {
        in[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
        tg[i] = (int)rng_below(&r, (uint64_t)c.model.vocab_size);
    }
    double fb = 0, ad = 0, warm_fb = 0, warm_ad = 0;
    for (int s = 0; s < 3; s++) /* step 0 is a warm-up */
        bench_time_step(&m, in, tg, B, T, c.train.optimizer, s + 1, s ? &fb : &warm_fb, s ? &ad : &warm_ad);
    *tok_s = 2.0 * B * T / fb;
    *adam_s = ad / 2;
    free(in);
    free(tg);
    model_free(&m);
    return 0;
}

static void model_usage(FILE *f) {
    fprintf(f,
            "usage: alphadecay bench --scaling-model [--config FILE.yaml]... [--node-tok-s X] [--adam-s S]\n"
            "                        [--latency-us U] [--out FILE.md]\n\n"
            "Predicted data-parallel throughput over N = 2..64 nodes at 10, 25 and 100 Gb/s for each configuration\n"
            "(default: experiments/llama_{60m,135m,350m,1b}.yaml): per update t(N) = t_fb / N + t_adam\n"
            "+ 2 (N-1)/N x gradient bytes / bandwidth + 2 (N-1) x latency (ring all-reduce), tok/s, parallel\n"
            "efficiency t(1) / (N t(N)) and days for the configuration's run (steps x batch x seq_len tokens).\n"
            "t_fb and t_adam are measured on this machine for the first configuration (two micro-steps, all\n"
            "cores) and scaled to the others by FLOPs per token and parameter count.\n\n"
            "  --node-tok-s X  forward+backward tok/s of the first configuration on one node (skips the measurement)\n"
            "  --adam-s S      its Adam seconds per update (with --node-tok-s; default 0)\n"
            "  --latency-us U  per-message latency of the network (default 20)\n"
            "  --out FILE      also write the table (Markdown) to FILE\n");
}

int bench_scaling_model(int argc, char **argv) {
    const char *cfgs[8], *out = NULL;
    double node_tok_s = 0, adam_s = 0, lat_us = 20;
    int model_flag = 0;
    ArgList cfg_list = {.v = cfgs, .cap = 8};
    const ArgSpec specs[] = {
        {"--scaling-model", NULL, ARG_FLAG, &model_flag, 0, 0},
        {"--config", NULL, ARG_EACH, &cfg_list, 0, 0},
        {"--out", NULL, ARG_STR, &out, 0, 0},
        {"--node-tok-s", NULL, ARG_DOUBLE, &node_tok_s, 0, DBL_MAX},
        {"--adam-s", NULL, ARG_DOUBLE, &adam_s, 0, DBL_MAX},
        {"--latency-us", NULL, ARG_DOUBLE, &lat_us, 0, DBL_MAX},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("bench --scaling-model", argc, argv, specs, NULL, model_usage);
    if (u) return u == 1 ? 0 : 2;
    int n_cfg = cfg_list.n;
    if (n_cfg == 0) {
        cfgs[n_cfg++] = "experiments/llama_60m.yaml";
        cfgs[n_cfg++] = "experiments/llama_135m.yaml";
        cfgs[n_cfg++] = "experiments/llama_350m.yaml";
        cfgs[n_cfg++] = "experiments/llama_1b.yaml";
    }
    Err e;
    ModelCase mc[8];
    for (int k = 0; k < n_cfg; k++)
        if (model_case(cfgs[k], &mc[k], &e)) {
            fprintf(stderr, "alphadecay bench: %s\n", e.msg);
            return 1;
        }
    const char *how = "given";
    if (node_tok_s <= 0) {
        how = "measured on this machine";
        fprintf(stderr, "bench: measuring %s forward+backward and Adam on this node ...\n", cfgs[0]);
        if (measure_node(cfgs[0], &node_tok_s, &adam_s, &e)) {
            fprintf(stderr, "alphadecay bench: %s\n", e.msg);
            return 1;
        }
    }
    static const double gbps[3] = {10, 25, 100};
    static const int nodes[6] = {2, 4, 8, 16, 32, 64};
    StrBuf b = {0};
    sb_printf(&b,
              "Ring all-reduce model: %s forward+backward %.0f tok/s on one node (%s), Adam %.3f s per update, "
              "latency %g us; other sizes scaled by FLOPs per token and parameters.\n\n",
              mc[0].name, node_tok_s, how, adam_s, lat_us);
    sb_printf(&b, "| config | nodes | 10 Gb/s tok/s | eff. | days | 25 Gb/s tok/s | eff. | days | 100 Gb/s tok/s | "
                  "eff. | days |\n");
    sb_printf(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < n_cfg; k++) {
        const ModelCase *c = &mc[k];
        double fb1 = c->tokens_per_update / node_tok_s * (c->flops / mc[0].flops);
        double ad = adam_s * c->params / mc[0].params, t1 = fb1 + ad, bytes = 4.0 * c->params;
        double tok1 = c->tokens_per_update / t1;
        sb_printf(&b, "| %s (%.0fM) | 1 | %.0f | 1 | %.0f | | | | | | |\n", c->name, c->params / 1e6, tok1,
                  c->steps * c->tokens_per_update / tok1 / 86400.0);
        for (int ni = 0; ni < 6; ni++) {
            double N = nodes[ni];
            sb_printf(&b, "| %s | %d", c->name, nodes[ni]);
            for (int g = 0; g < 3; g++) {
                double comm = 2.0 * (N - 1) / N * bytes / (gbps[g] * 1e9 / 8.0) + 2.0 * (N - 1) * lat_us * 1e-6;
                double tN = fb1 / N + ad + comm, tok = c->tokens_per_update / tN;
                sb_printf(&b, " | %.0f | %.2f | %.1f", tok, t1 / (N * tN),
                          c->steps * c->tokens_per_update / tok / 86400.0);
            }
            sb_printf(&b, " |\n");
        }
    }
    fputs(b.p, stdout);
    int rc = 0;
    if (out && write_file_atomic(out, b.p, b.len, &e)) {
        fprintf(stderr, "alphadecay bench: %s\n", e.msg);
        rc = 1;
    }
    sb_free(&b);
    return rc;
}

void bench_time_step(Model *m, const int *in, const int *tg, int B, int T, OptimizerKind opt, long step, double *fb,
                     double *adam) {
    double t0 = now_seconds();
    model_zero_grad(m);
    model_forward(m, in, tg, B, T, NULL);
    model_backward(m, 1.0f);
    double t1 = now_seconds();
    adam_update(m, opt, 1e-4, 0.9, 0.999, 1e-8, step);
    *fb += t1 - t0;
    *adam += now_seconds() - t1;
}
