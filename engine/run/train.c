/* train.c - `alphadecay train CONFIG.yaml [--set key=value]... [--out RUNDIR]`: the training loop.
 *
 * One update = batch_size / micro_batch_size micro-steps of forward + backward (gradients averaged),
 * then optional clipping, then the decay method sets each tensor's wd from the (clipped) gradients
 * (decay.h), then Adam/AdamW at the scheduled lr. After the update: log, evaluate, checkpoint when due. Running the command again on
 * the same RUNDIR resumes from its newest complete checkpoint and reproduces an uninterrupted run
 * bit for bit (same config, seed and thread count). SIGINT/SIGTERM finish the current update, write a
 * checkpoint and exit with status 130. `--stop-after N` does the same after update N, deterministically
 * (tests stop runs at chosen updates with it; a signal lands wherever the run happens to be).
 *
 * Data parallel (`mpirun -np N alphadecay train ...`, or srun; dist.h): each update's micro-batches are
 * split into N consecutive blocks, rank r computing block r, so the job sees the micro-batches of a
 * single process in the same order; every rank reads every micro-batch from the shard (a copy of
 * tokens) so the loader positions stay equal. One all-reduce sums the gradient buffer (each rank's
 * part already scaled by 1/micro), another the losses and the stop requests; every rank then applies
 * the same update, so the weights stay identical. With train.zero each rank keeps the Adam moments of
 * its slice of the flat parameter buffer only, updates that slice and all-gathers the weights. The
 * decay statistics are computed once per update for the job (decay.c shards the spectra), validation
 * is split by batches and reduced, and rank 0 alone writes the run directory.
 *
 * The run directory (rundir.h) is locked by rank 0 for the whole run: a second process on it fails at
 * once. A failed log write stops the run with status "failed" (a resume redoes the lost part from the
 * last checkpoint). Divergence: a non-finite training loss, or a validation loss above ln(vocab_size)
 * + DIVERGE_MARGIN nats (uniform guessing scores ln(vocab_size)), ends the run as "diverged". */
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h> /* OpenBLAS's: also openblas_set_num_threads, openblas_get_corename */

#include "args.h"
#include "checkpoint.h"
#include "config.h"
#include "dataloader.h"
#include "decay.h"
#include "dist.h"
#include "evaluate.h"
#include "model.h"
#include "model_open.h"
#include "optim.h"
#include "provenance.h"
#include "run.h"
#include "rundir.h"

/* A validation loss this many nats above uniform guessing (ln vocab_size) is divergence: a model
 * that learns anything stays below ln V, and an exploding one passes it by hundreds of nats. */
#define DIVERGE_MARGIN 1.0

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { g_stop = sig; }

typedef struct {
    Config cfg;
    char run_dir[AD_PATH_MAX];
    Model model;
    ModelFiles init; /* train.init's files (model_open.h), found and verified before the config resolves */
    DataLoader train, val;
    int have_val;
    DecayState decay;
    TrainState st;
    RunLog metrics, evals, decay_log; /* open on rank 0 only */
    int lock_fd;                      /* rank 0: rundir_lock's fd, held until exit; else -1 */
    long resumed_step;                /* step of the checkpoint resumed from, -1 on a fresh start */
    int *inputs, *targets;
    double start_time; /* now_seconds() when this process started training */
    double last_val_loss, last_val_ppl;
    size_t test_row; /* eval.test_tokens: the test set's first row of the val shard (after the selection set) */
    double last_test_loss, last_test_ppl;
    char diverged[160]; /* why the run diverged, "" while it has not (the same on every rank) */
    CpuId cpu;          /* the machine (rank 0's), for summary.json's provenance */
    /* data parallel (dist.h): rank of ranks; 1 rank without an MPI launcher */
    int rank, ranks;
    int stop;               /* the job's stop request of this update (a signal on any rank) */
    long stop_after;        /* --stop-after N: stop as if signalled once update N is done; 0 = never */
    float *zero_m, *zero_v; /* train.zero: Adam moments of this rank's slice [zero_lo, zero_hi) only */
    size_t zero_lo, zero_hi;
} Run;

static void usage(FILE *f) {
    fprintf(f,
            "usage: alphadecay train CONFIG.yaml [--set section.key=value]... [--out RUNDIR] [--stop-after N]\n"
            "  Pre-trains the model the experiment file describes. RUNDIR (default results/<config name>)\n"
            "  receives config.yaml, metrics.jsonl, eval.jsonl, decay.jsonl, summary.json, spectra/ and\n"
            "  checkpoint/. If RUNDIR already holds a checkpoint the run resumes from it.\n"
            "  --stop-after N: after update N (or the first update, if resumed past N) stop as SIGINT does:\n"
            "  write a checkpoint and exit 130. A run that reaches train.steps first completes as usual.\n"
            "  Exit status: 0 completed, 1 failed or diverged, 2 bad usage, 130 interrupted (checkpoint written).\n");
}

/* ---- set-up ---- */

/* Reads the arguments (returns args.h's 1 for --help, 2 for bad usage, printed by rank 0 only), then the
 * config: -1 with e set when that fails. */
static int parse_args(Run *r, int argc, char **argv, Err *e) {
    const char *cfg_path = NULL, *out = NULL, *sets[argc > 0 ? argc : 1]; /* the --set values, in order */
    const char *cmd = r->rank == 0 ? "train" : NULL, *stop_after = NULL;
    ArgList set_list = {.v = sets, .cap = argc > 0 ? argc : 1}, pos = {.v = &cfg_path, .cap = 1};
    const ArgSpec specs[] = {
        {"--set", NULL, ARG_EACH, &set_list, 0, 0}, /* applied after loading the file */
        {"--out", NULL, ARG_STR, &out, 0, 0},
        {"--stop-after", NULL, ARG_STR, &stop_after, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse(cmd, argc, argv, specs, &pos, usage);
    if (u) return u;
    if (!cfg_path) return args_usage_error(cmd, "missing CONFIG.yaml");
    if (stop_after) {
        char *end;
        r->stop_after = strtol(stop_after, &end, 10);
        if (*end || end == stop_after || r->stop_after < 1)
            return args_usage_error(cmd, "--stop-after needs an update number >= 1, not '%s'", stop_after);
    }
    if (out && rundir_check_path(out, e)) { /* whole or refused: never cut short */
        if (cmd) fprintf(stderr, "alphadecay train: %s\n", e->msg);
        return 2;
    }
    int n_sets = set_list.n;
    if (config_load_overrides(&r->cfg, cfg_path, sets, n_sets, NULL, e)) return -1;
    if (r->cfg.train.init[0] && model_open_find(r->cfg.train.init, &r->init, &r->cfg.model, e))
        return -1; /* the checkpoint's shape wins */
    if (config_finish(&r->cfg, NULL, e)) return -1;
    if (out) snprintf(r->run_dir, sizeof r->run_dir, "%s", out);
    else {
        const char *base = strrchr(cfg_path, '/');
        base = base ? base + 1 : cfg_path;
        int n = (int)strcspn(base, ".");
        snprintf(r->run_dir, sizeof r->run_dir, "results/%.*s", n, base);
    }
    return 0;
}

static int set_threads(const Config *c) {
    int local = dist_local_size(), n = c->train.threads > 0 ? c->train.threads : omp_get_num_procs() / local;
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
}

static int check_memory(const Config *c, Err *e) {
    double need =
        (double)model_estimate_bytes_prec(&c->model, c->train.micro_batch_size, c->data.seq_len, 1, c->train.dtype) /
        1048576.0;
    double have = machine_memory_mb();
    if (dist_rank() == 0)
        fprintf(stderr, "train: estimated peak memory %.0f MiB per rank (machine has %.0f MiB)\n", need, have);
    if (have > 0 && need > 0.95 * have)
        return err_set(e,
                       "estimated peak memory %.0f MiB exceeds this machine's %.0f MiB; lower "
                       "train.micro_batch_size or the model size",
                       need, have);
    return 0;
}

/* config.yaml is written on a fresh start; a resume must find the same resolved config (the thread
 * count may differ: it changes speed, and the guarantee of identical numbers holds per thread count;
 * so may train.zero, whose checkpoints are the same files). */
static int same_config_file(const char *a, const char *b) {
    const char *la = a, *lb = b;
    while (*la || *lb) {
        const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
        size_t na = ea ? (size_t)(ea - la) : strlen(la), nb = eb ? (size_t)(eb - lb) : strlen(lb);
        const char *th = strstr(la, "threads:"), *z = strstr(la, "zero:");
        int skip = (th && th < la + na) || (z && z < la + na);
        if (!skip && (na != nb || memcmp(la, lb, na))) return 0;
        la += na + (ea != NULL);
        lb += nb + (eb != NULL);
    }
    return 1;
}

static int write_or_check_config(Run *r, int resuming, Err *e) {
    char path[AD_PATH_MAX + 32];
    if (r->rank != 0) return 0; /* rank 0 writes the run directory */
    rundir_path(path, sizeof path, r->run_dir, RUNDIR_CONFIG);
    if (!resuming || !file_exists(path)) return config_write_yaml(&r->cfg, path, e);
    char *old = NULL, *now = config_to_yaml(&r->cfg);
    int rc = read_file(path, &old, NULL, e);
    if (!rc && !same_config_file(old, now))
        rc = err_set(e, "%s: the run directory was made with a different config; use another --out", path);
    free(old);
    free(now);
    return rc;
}

/* EOS and pad ids: prep.json beside the train shard when it records them (SentencePiece: T5's
 * EOS 1 and pad 0), else both vocab_size - 1 (our BPE's end-of-text). */
static int open_data(Run *r, Err *e) {
    const Config *c = &r->cfg;
    TokenIds ids = {c->model.vocab_size - 1, c->model.vocab_size - 1, 0, 0};
    int got = prep_read_ids(c->data.train, &ids, e);
    if (got < 0) return -1;
    /* The ids of a shard depend on its vocabulary (our end-of-text is vocab_size - 1): another model
     * vocabulary would train with the wrong end and pad ids. */
    if (ids.vocab && ids.vocab != c->model.vocab_size)
        return err_set(e,
                       "%s: model.vocab_size is %d but %s was prepared with a vocabulary of %d (prep.json): set "
                       "model.vocab_size: %d",
                       c->source[0] ? c->source : "config", c->model.vocab_size, c->data.train, ids.vocab, ids.vocab);
    if (got == 0) fprintf(stderr, "train: EOS id %d, pad id %d (prep.json)\n", ids.eos, ids.pad);
    /* data.follow_train_seed: each train.seed draws its own data order (seed 0 keeps data.seed's) */
    uint64_t order_seed = c->data.seed + (c->data.follow_train_seed ? c->train.seed : 0);
    if (loader_open_ids(&r->train, c->data.train, c->data.mode, c->data.seq_len, c->model.vocab_size, c->data.shuffle,
                        order_seed, ids, e))
        return -1;
    if (c->data.train_tokens > 0 && loader_limit(&r->train, (size_t)c->data.train_tokens, e)) return -1;
    r->have_val = c->data.val[0] != 0;
    if (r->have_val &&
        loader_open_ids(&r->val, c->data.val, c->data.mode, c->data.seq_len, c->model.vocab_size, 0, 0, ids, e))
        return -1;
    if (r->have_val && c->eval.test_tokens > 0) {
        r->test_row = evaluate_rows_used(&r->val, c->train.micro_batch_size, c->eval.tokens, c->eval.convention);
        if (r->test_row >= r->val.n_rows)
            return err_set(e,
                           "%s: eval.test_tokens: the selection set (eval.tokens %ld) uses all %zu rows of %s, leaving "
                           "none for the test set: lower eval.tokens",
                           c->source[0] ? c->source : "config", c->eval.tokens, r->val.n_rows, c->data.val);
    }
    return 0;
}

static int build_model(Run *r, Err *e) {
    const Config *c = &r->cfg;
    if (c->train.init[0]) {
        if (model_open_load(&r->init, &c->model, &r->model, e)) return -1;
    } else {
        if (model_build(&r->model, &c->model, e)) return -1;
        model_init_weights(&r->model, c->train.seed);
    }
    if (model_set_precision(&r->model, c->train.dtype, e)) return -1;
    if (model_alloc_train(&r->model, e)) return -1;
    if (model_alloc_acts(&r->model, c->train.micro_batch_size, c->data.seq_len, e)) return -1;
    size_t n = (size_t)c->train.micro_batch_size * c->data.seq_len;
    r->inputs = xcalloc(n, sizeof(int));
    r->targets = xcalloc(n, sizeof(int));
    return 0;
}

/* Loads the newest checkpoint if there is one; returns 1 when resuming, 0 fresh, -1 error. */
static int maybe_resume(Run *r, Err *e) {
    Err warn;
    int got = checkpoint_load_latest(r->run_dir, &r->model, &r->st, &warn, e);
    if (warn.msg[0]) fprintf(stderr, "alphadecay train: warning: %s\n", warn.msg);
    if (got <= 0) return got;
    /* a kill between a save and its pruning left one too many: prune the ones older than ours */
    if (r->rank == 0 && checkpoint_prune(r->run_dir, r->cfg.checkpoint.keep, r->st.step, e)) return -1;
    r->resumed_step = r->st.step;
    r->train.epoch = r->st.data_epoch;
    r->train.pos = r->st.data_pos;
    return 1;
}

static int open_logs(Run *r, int resuming, Err *e) {
    long keep = resuming ? r->st.step : -1;
    /* resumed from the final checkpoint (killed before summary.json): the final evaluation runs again,
     * so its line goes; the evaluations inside the loop stop before the final step */
    long keep_eval = resuming && r->st.step == r->cfg.train.steps ? keep - 1 : keep;
    char spectra[AD_PATH_MAX + 16];
    if (r->rank != 0) return 0; /* rank 0 writes the run directory */
    if (runlog_open(&r->metrics, r->run_dir, RUNDIR_METRICS, keep, e)) return -1;
    if (runlog_open(&r->evals, r->run_dir, RUNDIR_EVAL, keep_eval, e)) return -1;
    /* decay.jsonl's step is the index of the update about to be applied: keep those before ours */
    if (runlog_open(&r->decay_log, r->run_dir, RUNDIR_DECAY, resuming ? r->st.step - 1 : -1, e)) return -1;
    return mkdir_p(rundir_path(spectra, sizeof spectra, r->run_dir, RUNDIR_SPECTRA), e);
}

/* The decay method's state; on a fresh start its step-0 pass, a collective under MPI (every rank
 * takes part, decay.c writes from rank 0 only). */
static int start_decay(Run *r, int resuming, Err *e) {
    char spectra[AD_PATH_MAX + 16];
    rundir_path(spectra, sizeof spectra, r->run_dir, RUNDIR_SPECTRA);
    if (decay_init(&r->decay, &r->cfg, &r->model, r->rank == 0 ? &r->decay_log : NULL, spectra, !resuming, e))
        return -1;
    if (resuming) decay_restore(&r->decay, &r->st.decay);
    return 0;
}

/* ---- the loop ---- */

/* Forward + backward over every micro-batch of one update; returns the mean micro-batch loss. */
static double accumulate_gradients(Run *r, long *tokens) {
    const Config *c = &r->cfg;
    int B = c->train.micro_batch_size, T = c->data.seq_len, micro = c->train.batch_size / B;
    int per = micro / r->ranks, first = r->rank * per;
    double loss_sum = 0.0;
    model_zero_grad(&r->model);
    for (int k = 0; k < micro; k++) {
        *tokens += loader_next(&r->train, r->inputs, r->targets, B);
        if (k < first || k >= first + per) continue; /* another rank's micro-batch */
        int n_valid = 0;
        float loss = model_forward(&r->model, r->inputs, r->targets, B, T, &n_valid);
        loss_sum += loss;
        if (n_valid > 0) model_backward(&r->model, 1.0f / (float)micro);
    }
    if (r->ranks > 1) {
        /* the gradient sum over ranks is the mean over all micro-batches; the stop request travels
         * with the losses so every rank stops after the same update */
        double sums[2] = {loss_sum, g_stop != 0};
        dist_sum_floats(r->model.grads, r->model.n_params);
        dist_sum_doubles(sums, 2);
        loss_sum = sums[0];
        r->stop = sums[1] > 0;
    }
    return loss_sum / micro;
}

/* Adam/AdamW on every parameter, or (train.zero) on this rank's slice followed by an all-gather. */
static void apply_update(Run *r, double lr, long t) {
    const Config *c = &r->cfg;
    if (!r->zero_m) {
        adam_update(&r->model, c->train.optimizer, lr, c->train.beta1, c->train.beta2, c->train.eps, t);
        return;
    }
    adam_update_slice(&r->model, c->train.optimizer, lr, c->train.beta1, c->train.beta2, c->train.eps, t, r->zero_lo,
                      r->zero_hi, r->zero_m, r->zero_v);
    dist_allgather_floats(r->model.params, r->model.n_params);
}

/* train.zero on two or more ranks: keep only this rank's slice of the (loaded or zero) moments. */
static int shard_moments(Run *r, Err *e) {
    Model *m = &r->model;
    if (!r->cfg.train.zero || r->ranks < 2) return 0;
    dist_range(m->n_params, r->rank, r->ranks, &r->zero_lo, &r->zero_hi);
    size_t n = r->zero_hi - r->zero_lo;
    r->zero_m = malloc((n ? n : 1) * sizeof(float));
    r->zero_v = malloc((n ? n : 1) * sizeof(float));
    if (!r->zero_m || !r->zero_v) return err_set(e, "train: cannot allocate this rank's Adam moments (%zu floats)", n);
    memcpy(r->zero_m, m->adam_m + r->zero_lo, n * sizeof(float));
    memcpy(r->zero_v, m->adam_v + r->zero_lo, n * sizeof(float));
    free(m->adam_m);
    free(m->adam_v);
    m->adam_m = m->adam_v = NULL;
    return 0;
}

/* Set-up must fail on every rank or on none (a rank left waiting in a collective would hang): returns
 * -1 when any rank failed. Only rank 0 reports an error that rank 0 also had (all ranks saw it). */
static int all_ranks_ok(Run *r, int failed, int *quiet, Err *e) {
    *quiet = 0;
    if (r->ranks == 1) return failed ? -1 : 0;
    double f[2] = {failed != 0, r->rank == 0 && failed};
    dist_sum_doubles(f, 2);
    if (failed) {
        *quiet = r->rank != 0 && f[1] > 0;
        return -1;
    }
    if (f[0] > 0) {
        *quiet = 1;
        return err_set(e, "another rank failed during set-up");
    }
    return 0;
}

/* Evaluates (a collective), checks for divergence on every rank (sets r->diverged), logs on rank 0.
 * -1 when the log write fails. */
static int do_eval(Run *r, Err *e) {
    if (!r->have_val) return 0;
    double sums[4];
    evaluate_part(&r->model, &r->val, r->cfg.train.micro_batch_size, r->cfg.eval.tokens, r->cfg.eval.convention,
                  r->rank, r->ranks, sums);
    dist_sum_doubles(sums, 4);
    EvalResult ev = evaluate_result(sums, r->cfg.eval.convention);
    r->last_val_loss = ev.loss;
    /* the held-out test set: evaluated and logged beside the selection set, never used to decide anything */
    EvalResult te = {NAN, NAN, 0};
    if (r->cfg.eval.test_tokens > 0) {
        evaluate_part_from(&r->model, &r->val, r->cfg.train.micro_batch_size, r->test_row, r->cfg.eval.test_tokens,
                           r->cfg.eval.convention, r->rank, r->ranks, sums);
        dist_sum_doubles(sums, 4);
        te = evaluate_result(sums, r->cfg.eval.convention);
        r->last_test_loss = te.loss;
        r->last_test_ppl = te.ppl;
    }
    double limit = log((double)r->cfg.model.vocab_size) + DIVERGE_MARGIN;
    if (!(ev.loss <= limit))
        snprintf(r->diverged, sizeof r->diverged, "validation loss %g at step %ld exceeds ln(vocab_size) + %g = %.4g",
                 ev.loss, r->st.step, DIVERGE_MARGIN, limit);
    if (r->rank != 0) return 0;
    r->last_val_ppl = ev.ppl;
    StrBuf b = {0};
    rec_begin(&b);
    rec_int(&b, "step", r->st.step);
    rec_num(&b, "loss", "%.6f", ev.loss);
    rec_num(&b, "ppl", "%.6f", ev.ppl);
    rec_int(&b, "tokens", ev.tokens);
    if (r->cfg.eval.test_tokens > 0) {
        rec_num(&b, "test_loss", "%.6f", te.loss);
        rec_num(&b, "test_ppl", "%.6f", te.ppl);
        rec_int(&b, "test_tokens", te.tokens);
    }
    rec_end(&b);
    int rc = runlog_append(&r->evals, &b, e);
    sb_free(&b);
    fprintf(stderr, "eval step %ld: val loss %.4f ppl %.2f (%ld tokens)\n", r->st.step, ev.loss, ev.ppl, ev.tokens);
    return rc;
}

/* One metrics.jsonl record (rank 0). Data-parallel runs add ranks and rank 0's seconds in collectives
 * this update (comm_s). */
static int log_metrics(Run *r, double loss, double lr, double gnorm, double tok_s, double elapsed, double comm_s,
                       Err *e) {
    StrBuf b = {0};
    rec_begin(&b);
    rec_int(&b, "step", r->st.step);
    rec_int(&b, "tokens", r->st.tokens);
    rec_num(&b, "loss", "%.6f", loss);
    rec_num(&b, "lr", "%.9g", lr);
    rec_num(&b, "grad_norm", "%.6g", gnorm);
    rec_num(&b, "wd_mean", "%.9g", decay_wd_mean(&r->model));
    rec_num(&b, "awd_lambda", "%.9g", r->decay.awd_lambda);
    rec_num(&b, "tok_per_s", "%.1f", tok_s);
    rec_num(&b, "elapsed_s", "%.3f", elapsed);
    if (r->ranks > 1) {
        rec_int(&b, "ranks", r->ranks);
        rec_num(&b, "comm_s", "%.4f", comm_s);
    }
    rec_end(&b);
    int rc = runlog_append(&r->metrics, &b, e);
    sb_free(&b);
    return rc;
}

static int save_checkpoint(Run *r, Err *e) {
    r->st.data_epoch = r->train.epoch;
    r->st.data_pos = r->train.pos;
    decay_save(&r->decay, &r->st.decay);
    r->st.elapsed_s += now_seconds() - r->start_time;
    r->start_time = now_seconds();
    int bf16 = r->cfg.checkpoint.bf16;
    if (!r->zero_m)
        return r->rank == 0 ? checkpoint_save_dtype(r->run_dir, &r->model, &r->st, r->cfg.checkpoint.keep, bf16, e) : 0;
    /* train.zero: rank 0 gathers the full moments for the checkpoint (the same file as without zero) */
    Model *m = &r->model;
    size_t n = r->rank == 0 ? m->n_params : 0;
    float *full_m = r->rank == 0 ? malloc((n ? n : 1) * sizeof(float)) : NULL;
    float *full_v = r->rank == 0 ? malloc((n ? n : 1) * sizeof(float)) : NULL;
    if (r->rank == 0 && (!full_m || !full_v)) {
        free(full_m);
        free(full_v);
        return err_set(e, "train: cannot allocate the full Adam moments for the checkpoint");
    }
    dist_gather_floats(r->zero_m, full_m, m->n_params);
    dist_gather_floats(r->zero_v, full_v, m->n_params);
    int rc = 0;
    if (r->rank == 0) {
        m->adam_m = full_m;
        m->adam_v = full_v;
        rc = checkpoint_save_dtype(r->run_dir, m, &r->st, r->cfg.checkpoint.keep, bf16, e);
        m->adam_m = m->adam_v = NULL;
    }
    free(full_m);
    free(full_v);
    return rc;
}

static void progress(const Run *r, double loss, double tok_s, double elapsed) {
    long total = r->cfg.train.steps, done = r->st.step;
    if (r->rank != 0) return;
    double eta = done > 0 ? elapsed / done * (total - done) : 0;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\rstep %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs   ", done, total, loss, tok_s, eta);
    else if (done % r->cfg.log.every == 0 || done == total)
        fprintf(stderr, "step %ld/%ld loss %.4f tok/s %.0f eta %.0fs\n", done, total, loss, tok_s, eta);
}

static int is_due(long every, long step) { return every > 0 && step % every == 0; }

/* Returns 0 completed, 1 diverged, 130 interrupted, -1 error. */
static int train_loop(Run *r, Err *e) {
    Config *c = &r->cfg;
    double t_run = now_seconds();
    while (r->st.step < c->train.steps) {
        double t0 = now_seconds(), comm0 = dist_comm_seconds();
        long tokens = 0, step = r->st.step;
        double loss = accumulate_gradients(r, &tokens);
        if (!isfinite(loss)) { /* the job's loss: every rank sees it */
            snprintf(r->diverged, sizeof r->diverged, "non-finite training loss at update %ld", step + 1);
            return 1;
        }
        /* clip first, as the authors' code does: AWD and AdaDecay then see the clipped gradients. gnorm (logged,
         * decides the clip) is the blocked sum; AWD's norm of the clipped gradients is the index-order sum */
        double gnorm = grad_global_norm(&r->model);
        grad_clip(&r->model, c->train.grad_clip, gnorm);
        double applied_norm = decay_needs_grad_norm(&r->decay) ? grad_norm_index_order(&r->model) : NAN;
        if (decay_before_update(&r->decay, &r->model, step, applied_norm, e)) return -1;
        double lr = lr_at(c, step);
        apply_update(r, lr, step + 1);
        r->st.step = step + 1;
        r->st.tokens += tokens;
        double dt = now_seconds() - t0, elapsed = r->st.elapsed_s + now_seconds() - r->start_time;
        if (r->rank == 0 && (is_due(c->log.every, r->st.step) || r->st.step == c->train.steps) &&
            log_metrics(r, loss, lr, gnorm, tokens / dt, elapsed, dist_comm_seconds() - comm0, e))
            return -1;
        progress(r, loss, tokens / dt, now_seconds() - t_run);
        if (is_due(c->eval.every, r->st.step) && r->st.step < c->train.steps && do_eval(r, e)) return -1;
        if (r->diverged[0]) return 1;
        if (r->st.step == c->train.steps) break;
        /* data parallel: the request every rank agreed on; --stop-after is the same on every rank */
        int stop = (r->ranks > 1 ? r->stop : g_stop != 0) || (r->stop_after > 0 && r->st.step >= r->stop_after);
        if (is_due(c->checkpoint.every, r->st.step) || stop) {
            if (save_checkpoint(r, e)) return -1;
            if (stop) {
                if (r->rank == 0 && (g_stop || (r->ranks > 1 && r->stop)))
                    fprintf(stderr,
                            "\ntrain: stopped by signal %d after update %ld; checkpoint written, rerun to resume\n",
                            g_stop ? (int)g_stop : SIGTERM, r->st.step);
                else if (r->rank == 0)
                    fprintf(stderr,
                            "\ntrain: stopped by --stop-after after update %ld; checkpoint written, rerun to resume\n",
                            r->st.step);
                return 130;
            }
        }
    }
    if (isatty(STDERR_FILENO) && r->rank == 0) fputc('\n', stderr);
    if (do_eval(r, e)) return -1;
    if (r->diverged[0]) return 1;
    if (decay_finish(&r->decay, &r->model, r->st.step, e)) return -1;
    if (r->st.step == r->resumed_step) return 0; /* resumed from the final checkpoint: it is on disk */
    return save_checkpoint(r, e) ? -1 : 0;
}

/* Writes summary.json (rank 0); -1 (reported) when it cannot be written. */
/* The bf16 products' backend ("onednn" / "fallback") of a bf16 run, NULL for fp32 (summary.json and the log). */
static const char *bf16_kind(const Run *r) { return r->cfg.train.dtype == PREC_FP32 ? NULL : mm_bf16_kind(); }

static int finish(Run *r, const char *status, const char *message) {
    Err e;
    if (r->start_time > 0) r->st.elapsed_s += now_seconds() - r->start_time;
    r->start_time = 0;
    if (r->rank != 0) return 0; /* rank 0 writes the run directory */
    RunSummary s = {.status = status,
                    .val_loss = r->last_val_loss,
                    .val_ppl = r->last_val_ppl,
                    .has_test = r->cfg.eval.test_tokens > 0 && r->have_val,
                    .test_loss = r->last_test_loss,
                    .test_ppl = r->last_test_ppl,
                    .steps = r->st.step,
                    .tokens = r->st.tokens,
                    .wall_seconds = r->st.elapsed_s,
                    .peak_rss_mb = peak_rss_mb(),
                    .tok_per_s = r->st.elapsed_s > 0 ? r->st.tokens / r->st.elapsed_s : 0,
                    .method = decay_method_name(r->cfg.decay.method),
                    .weight_decay = r->cfg.decay.weight_decay,
                    .seed = r->cfg.train.seed,
                    .message = message,
                    .dtype = r->cfg.train.dtype == PREC_FP32 ? NULL : precision_name(r->cfg.train.dtype),
                    .commit = build_commit(),
                    .flags = build_flags(),
                    .cpu = r->cpu.cpu,
                    .isa = r->cpu.isa,
                    .amx_bf16 = r->cpu.amx_bf16,
                    .blas = openblas_get_corename(),
                    .bf16 = bf16_kind(r)};
    if (rundir_write_summary(r->run_dir, &s, &e) == 0) return 0;
    fprintf(stderr, "alphadecay train: %s\n", e.msg);
    return -1;
}

/* Closes the logs; -1 (with e) if a close reports a lost write. */
static int close_logs(Run *r, Err *e) {
    Err ignored;
    int rc = runlog_close(&r->metrics, e ? e : &ignored);
    rc |= runlog_close(&r->evals, rc || !e ? &ignored : e);
    rc |= runlog_close(&r->decay_log, rc || !e ? &ignored : e);
    return rc ? -1 : 0;
}

static void cleanup(Run *r) {
    close_logs(r, NULL);
    if (r->lock_fd >= 0) close(r->lock_fd);
    decay_free(&r->decay);
    loader_close(&r->train);
    if (r->have_val) loader_close(&r->val);
    model_free(&r->model);
    free(r->inputs);
    free(r->targets);
}

/* A completed directory: 1 when this config is the one it ran (nothing to do), -1 (with e) when it
 * differs (rank 0 compares), 0 when the directory is not completed. */
static int completed_before(Run *r, Err *e) {
    /* rank 0, holding the lock: no planted links, no temp files of killed writers */
    if (r->rank == 0 && (rundir_check_links(r->run_dir, e) || rundir_clean_tmp(r->run_dir, e))) return -1;
    if (rundir_status(r->run_dir, NULL, NULL, 0) != RUNDIR_COMPLETED) return 0;
    if (write_or_check_config(r, 1, e)) return -1;
    /* killed between the final checkpoint and its pruning: finish the pruning */
    if (r->rank == 0 && checkpoint_prune(r->run_dir, r->cfg.checkpoint.keep, r->cfg.train.steps, e)) return -1;
    if (r->rank == 0)
        fprintf(stderr, "train: %s is already completed (delete summary.json and checkpoint/ to rerun)\n", r->run_dir);
    return 1;
}

/* A sweep that starts the run as a Slurm job step (srun) keeps holding the run's lock in srun, which
 * the ranks do not inherit: it names itself in AD_LOCK_HELD_BY, and the lock counts as ours when that
 * process holds it. */
static int held_for_us(const char *run_dir) {
    const char *by = getenv("AD_LOCK_HELD_BY");
    long pid = 0;
    return by && *by && rundir_lock_holder(run_dir, &pid) && pid > 0 && pid == atol(by);
}

/* batch_size / micro_batch_size micro-batches per update are split evenly over the ranks. */
static int check_ranks(const Run *r, Err *e) {
    int micro = r->cfg.train.batch_size / r->cfg.train.micro_batch_size;
    if (micro % r->ranks)
        return err_set(e,
                       "train.batch_size / train.micro_batch_size = %d micro-batches per update cannot be "
                       "divided among %d ranks: use a rank count that divides %d, or another micro_batch_size",
                       micro, r->ranks, micro);
    /* its gradients and moments are bf16 arrays, which the all-reduce and the train.zero shards (fp32) do not
     * carry */
    if (r->ranks > 1 && r->cfg.train.dtype == PREC_BF16_PURE)
        return err_set(e,
                       "train.dtype bf16_pure trains in one process (its weights, gradients and moments are bf16 "
                       "arrays the MPI exchange does not carry): use bf16 or fp32 with %d ranks",
                       r->ranks);
    return 0;
}

static void cleanup_all(Run *r) {
    cleanup(r);
    free(r->zero_m);
    free(r->zero_v);
    free(r);
    dist_finalize();
}

int cmd_train(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* before MPI starts */
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    Run *r = xcalloc(1, sizeof(Run));
    r->last_val_loss = r->last_val_ppl = r->last_test_loss = r->last_test_ppl = NAN;
    r->lock_fd = -1;
    r->resumed_step = -1;
    Err e;
    int rc = 1, started = 0, quiet = 0;
    char msg[256];
    r->ranks = dist_init(&argc, &argv, msg, sizeof msg); /* 1 without an MPI launcher: MPI untouched */
    if (r->ranks < 0) {
        fprintf(stderr, "alphadecay train: %s\n", msg);
        free(r);
        dist_abort(1);
    }
    r->rank = dist_rank();
    int u = parse_args(r, argc, argv, &e);
    if (u || check_ranks(r, &e)) {
        if (u != 2 && r->rank == 0) fprintf(stderr, "alphadecay train: %s\n", e.msg);
        free(r);
        dist_finalize();
        return u == 2 ? 2 : 1;
    }
    /* one writer per run directory (rank 0), from before the first read of it to exit */
    int locked = 1;
    if (r->rank == 0) {
        r->lock_fd = rundir_lock(r->run_dir, &e);
        locked = r->lock_fd >= 0 || held_for_us(r->run_dir);
    }
    int done = locked ? completed_before(r, &e) : -1;
    if (all_ranks_ok(r, done < 0, &quiet, &e)) goto fail;
    if (done > 0) {
        cleanup_all(r);
        return 0;
    }
    int threads = set_threads(&r->cfg), resuming = 0;
    int bad = check_memory(&r->cfg, &e) || open_data(r, &e) || build_model(r, &e);
    if (!bad) {
        resuming = maybe_resume(r, &e);
        bad = resuming < 0 || write_or_check_config(r, resuming, &e) || open_logs(r, resuming, &e) ||
              shard_moments(r, &e);
    }
    if (all_ranks_ok(r, bad, &quiet, &e) || start_decay(r, resuming, &e)) goto fail;
    if (r->rank == 0) {
        /* which build and machine: runs of one config agree bit for bit only within one kind */
        cpu_identify(&r->cpu);
        fprintf(stderr, "train: build %s (%s), cpu %s (%s%s), blas %s%s%s\n", build_commit(), build_flags(), r->cpu.cpu,
                r->cpu.isa, r->cpu.amx_bf16 ? ", amx_bf16" : "", openblas_get_corename(),
                bf16_kind(r) ? ", bf16 products " : "", bf16_kind(r) ? bf16_kind(r) : "");
        char par[64] = "";
        if (r->ranks > 1) snprintf(par, sizeof par, " x %d ranks%s", r->ranks, r->zero_m ? " (zero)" : "");
        fprintf(stderr, "train: %s, %zu parameters, %d threads%s, %s, %s at step %ld of %ld\n", r->run_dir,
                r->model.n_params, threads, par, precision_name(r->cfg.train.dtype), resuming ? "resuming" : "starting",
                r->st.step, r->cfg.train.steps);
        if (r->cfg.train.dtype != PREC_FP32) fprintf(stderr, "train: bf16 products: %s\n", mm_bf16_backend());
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    started = 1;
    r->start_time = now_seconds();
    int res = train_loop(r, &e);
    if (res == 130) {
        rc = 130;
    } else if (res == 0 || res == 1) {
        if (close_logs(r, &e)) goto fail; /* a write lost at close: not a finished run */
        if (res == 1 && r->rank == 0) fprintf(stderr, "\ntrain: diverged: %s\n", r->diverged);
        rc = finish(r, res == 0 ? "completed" : "diverged", res == 0 ? NULL : r->diverged) || res;
    } else goto fail;
    cleanup_all(r);
    return rc;
fail:
    if (!quiet && r->rank) fprintf(stderr, "alphadecay train (rank %d): %s\n", r->rank, e.msg);
    else if (!quiet) fprintf(stderr, "alphadecay train: %s\n", e.msg);
    if (started) finish(r, "failed", e.msg);
    /* a failure inside the loop may be this rank's alone (a checkpoint write): the others would wait
     * in the next collective, so the whole job ends here */
    if (started && r->ranks > 1) dist_abort(1);
    cleanup_all(r);
    return 1;
}
