/* test_decay.c - the weight-decay methods: every assignment function against hand values (including
 * equal metrics), AWD's EMA over three updates and AdaDecay's per-layer z-score/sigmoid through the
 * hook on a hand-built model, AlphaDecay's tuned set (exclusion list, eigenvalue-count filter, untuned
 * tensors at eta), its update schedule, its decay.jsonl lines (wd follows from the logged alpha), and
 * the state a checkpoint carries (decay_save / decay_restore). Config values are checked by config.c
 * (test_config.c), not here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "decay.h"
#include "optim.h"
#include "testutil.h"

/* ---- a hand-built model: embed, per layer {norm, q, k, up (N = 32 < 50)}, final norm, lm_head ---- */

#define D 64
static void build(Model *m) {
    memset(m, 0, sizeof *m);
    m->tensors = calloc(16, sizeof(TensorInfo));
    model_add_tensor(m, "model.embed_tokens.weight", 10, D, KIND_EMBEDDING, -1, MT_EMBED);
    char n[96];
    for (int l = 0; l < 2; l++) {
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", l);
        model_add_tensor(m, n, 1, D, KIND_NORM, l, MT_ATTN_NORM);
        snprintf(n, sizeof n, "model.layers.%d.self_attn.q_proj.weight", l);
        model_add_tensor(m, n, D, D, KIND_LINEAR, l, MT_Q);
        snprintf(n, sizeof n, "model.layers.%d.self_attn.k_proj.weight", l);
        model_add_tensor(m, n, D, D, KIND_LINEAR, l, MT_K);
        snprintf(n, sizeof n, "model.layers.%d.mlp.up_proj.weight", l);
        model_add_tensor(m, n, 32, D, KIND_LINEAR, l, MT_UP);
    }
    model_add_tensor(m, "model.norm.weight", 1, D, KIND_NORM, -1, MT_FINAL_NORM);
    model_add_tensor(m, "lm_head.weight", 10, D, KIND_LM_HEAD, -1, MT_LM_HEAD);
    m->params = calloc(m->n_params, sizeof(float));
    m->grads = calloc(m->n_params, sizeof(float));
    m->wd = calloc((size_t)m->n_tensors, sizeof(double));
    /* Linear weights: diagonal with singular values s_j = (j+1)^(p) for a per-tensor p, so every
     * module has a different, exactly known spectrum {s_j^2}. Others: ones. */
    for (int i = 0; i < m->n_tensors; i++) {
        TensorInfo *t = &m->tensors[i];
        float *w = m->params + t->offset;
        if (t->kind == KIND_LINEAR || t->kind == KIND_LM_HEAD) {
            double p = 0.3 + 0.15 * i;
            int N = t->rows < t->cols ? t->rows : t->cols;
            for (int j = 0; j < N; j++) w[(size_t)j * t->cols + j] = (float)(0.01 * pow(j + 1, p));
        } else {
            for (size_t j = 0; j < t->size; j++) w[j] = 1.0f;
        }
    }
}

/* The norm the training loop hands to the hook: the gradients' index-order norm (optim.h's
 * grad_norm_index_order, here without linking the optimizer in; only AWD reads it). */
static double norm_of(const Model *m) { return sqrt(sumsq_blocked(m->grads, m->hg, m->n_params, 0)); }

static void unbuild(Model *m) {
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->wd);
}

/* Median-Hill alpha of a diagonal tensor, computed here from the definition (independent of plfit). */
static double hand_alpha(const Model *m, int i) {
    const TensorInfo *t = &m->tensors[i];
    int N = t->rows < t->cols ? t->rows : t->cols;
    double lam[D];
    for (int j = 0; j < N; j++) {
        double s = m->params[t->offset + (size_t)j * t->cols + j];
        lam[j] = s * s; /* ascending already: p > 0 */
    }
    int k = N / 2, n = N - k;
    double s = 0;
    for (int j = k; j < N; j++) s += log(lam[j] / lam[k]);
    return 1 + n / s;
}

static void config(Config *c, DecayMethod method) {
    config_defaults(c); /* decay section: s1 0.6666, s2 3, alpha, linear, median, exclusions, awd_scale 100 */
    c->train.threads = 2;
    c->decay.method = method;
    c->decay.weight_decay = 1e-5;
    c->decay.update_every = 3;
}

/* ---- pure assignment functions ---- */

static void test_assign(void) {
    double wd[5], eta = 1e-5;
    Err e;
    double v[3] = {2, 3, 4};
    decay_assign(ASSIGN_LINEAR, v, NULL, NULL, 3, eta, 0.5, 1.5, wd, &e);
    CHECK(fabs(wd[0] - 0.5e-5) < 1e-18 && fabs(wd[1] - 1e-5) < 1e-18 && fabs(wd[2] - 1.5e-5) < 1e-18, "assign_linear",
          "%g %g %g", wd[0], wd[1], wd[2]);
    double eq[2] = {2.2, 2.2};
    decay_assign(ASSIGN_LINEAR, eq, NULL, NULL, 2, eta, 0.5, 3, wd, &e);
    CHECK(wd[0] == 3 * eta && wd[1] == 3 * eta, "assign_linear_equal_metrics_get_s2", "%g %g", wd[0], wd[1]);
    double sq[2] = {1, 4};
    decay_assign(ASSIGN_SQRT, sq, NULL, NULL, 2, eta, 0, 0, wd, &e);
    CHECK_CLOSE(wd[0], eta * 2 * 1 / (3 + 2e-8), 1e-20, 1e-12, "assign_sqrt_0");
    CHECK_CLOSE(wd[1], eta * 2 * 2 / (3 + 2e-8), 1e-20, 1e-12, "assign_sqrt_1");
    double lg[2] = {2, 8};
    decay_assign(ASSIGN_LOG2, lg, NULL, NULL, 2, eta, 0, 0, wd, &e);
    CHECK_CLOSE(wd[0], eta * 2 * 1 / (4 + 2e-8), 1e-20, 1e-12, "assign_log2_0");
    CHECK_CLOSE(wd[1], eta * 2 * 3 / (4 + 2e-8), 1e-20, 1e-12, "assign_log2_1");
    double neg[2] = {0.5, 4};
    const char *names[2] = {"mod_a", "mod_b"};
    int rc = decay_assign(ASSIGN_LOG2, neg, NULL, names, 2, eta, 0, 0, wd, &e);
    CHECK(rc == -1 && strstr(e.msg, "mod_a"), "assign_log2_negative_rejected", "rc %d %s", rc, e.msg);
    /* sigmoid: layer 0 {1,2,3}: mean 2, population std sqrt(2/3); layer 1 {5,5}: std 0 -> z 0 -> eta. */
    double sg[5] = {1, 2, 3, 5, 5};
    int layer[5] = {0, 0, 0, 1, 1};
    decay_assign(ASSIGN_SIGMOID, sg, layer, NULL, 5, eta, 0, 0, wd, &e);
    double z = 1 / (sqrt(2.0 / 3.0) + 1e-8);
    CHECK_CLOSE(wd[0], eta * 2 / (1 + exp(4 * z)), 1e-20, 1e-12, "assign_sigmoid_low");
    CHECK_CLOSE(wd[1], eta, 1e-20, 1e-12, "assign_sigmoid_mean");
    CHECK_CLOSE(wd[2], eta * 2 / (1 + exp(-4 * z)), 1e-20, 1e-12, "assign_sigmoid_high");
    CHECK_CLOSE(wd[3], eta, 1e-20, 1e-12, "assign_sigmoid_flat_layer");
}

/* decay.mean_preserving: wd {1, 2, 3} with sizes {1, 1, 2} and eta 1: sum(wd x size) = 9 over a size of 4, so
 * the factor is 4/9 and the decays become {4/9, 8/9, 12/9}, whose size-weighted mean is (4 + 8 + 24) / 36 = 1. */
static void test_mean_preserve(void) {
    Err e;
    double wd[3] = {1, 2, 3}, size[3] = {1, 1, 2};
    int rc = decay_mean_preserve(wd, size, 3, 1.0, &e);
    CHECK(rc == 0, "mean_preserve_ok", "rc %d %s", rc, e.msg);
    CHECK_CLOSE(wd[0], 4.0 / 9, 0, 1e-15, "mean_preserve_0");
    CHECK_CLOSE(wd[1], 8.0 / 9, 0, 1e-15, "mean_preserve_1");
    CHECK_CLOSE(wd[2], 12.0 / 9, 0, 1e-15, "mean_preserve_2");
    double w2[2] = {0.5, 0.5}, s2[2] = {3, 1};
    decay_mean_preserve(w2, s2, 2, 2.0, &e);
    CHECK(w2[0] == 2.0 && w2[1] == 2.0, "mean_preserve_equal_decays_become_eta", "%g %g", w2[0], w2[1]);
    double z[2] = {0, 0};
    rc = decay_mean_preserve(z, s2, 2, 1.0, &e);
    CHECK(rc == -1 && strstr(e.msg, "mean_preserving"), "mean_preserve_zero_refused", "rc %d %s", rc, e.msg);
}

/* decay.flat: wd {1, 2, 3} with sizes {1, 1, 2}: sum(wd x size) = 9 over a size of 4, every decay becomes 9/4 (exact
 * in binary); no tuned module leaves nothing to do. */
static void test_flatten(void) {
    double wd[3] = {1, 2, 3}, size[3] = {1, 1, 2};
    decay_flatten(wd, size, 3);
    CHECK(wd[0] == 2.25 && wd[1] == 2.25 && wd[2] == 2.25, "flatten_size_weighted_mean", "%.17g %.17g %.17g", wd[0],
          wd[1], wd[2]);
    double one[1] = {7}, s1[1] = {5};
    decay_flatten(one, s1, 0);
    CHECK(one[0] == 7, "flatten_none_unchanged", "%g", one[0]);
}

/* ---- methods through the hook ---- */

/* The test model, and a decay state of the method initialised on it (no log, no spectra directory). */
static int start(Model *m, Config *c, DecayState *st, DecayMethod method, Err *e) {
    build(m);
    config(c, method);
    memset(st, 0, sizeof *st);
    return decay_init(st, c, m, NULL, "", 1, e);
}

static void test_none_uniform_bad(void) {
    Model m;
    Config c;
    DecayState st;
    Err e;
    int rc = start(&m, &c, &st, DECAY_NONE, &e) | decay_before_update(&st, &m, 0, norm_of(&m), &e);
    int zero = 1;
    for (int i = 0; i < m.n_tensors; i++) zero &= m.wd[i] == 0;
    CHECK(rc == 0 && zero, "method_none_zero", "rc %d", rc);
    decay_free(&st);
    config(&c, DECAY_UNIFORM);
    rc = decay_init(&st, &c, &m, NULL, "", 1, &e) | decay_before_update(&st, &m, 5, norm_of(&m), &e);
    int all = 1;
    for (int i = 0; i < m.n_tensors; i++) all &= m.wd[i] == 1e-5;
    CHECK(rc == 0 && all, "method_uniform_eta", "rc %d", rc);
    CHECK_CLOSE(decay_wd_mean(&m), 1e-5, 1e-20, 1e-12, "wd_mean_uniform");
    decay_free(&st);

    unbuild(&m);
}

static void test_awd(void) {
    Model m;
    Config c;
    DecayState st;
    Err e;
    start(&m, &c, &st, DECAY_AWD, &e);
    /* Scale weights and grads so that ||w|| and ||g|| over all tensors take chosen values. */
    double w2 = 0;
    for (size_t i = 0; i < m.n_params; i++) w2 += (double)m.params[i] * m.params[i];
    double gs[3] = {2, 1, 3}, ws[3] = {4, 4, 2}, lam = 0;
    int ok = 1;
    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < m.n_params; i++) m.grads[i] = 0;
        m.grads[0] = (float)gs[s];
        double f = ws[s] / sqrt(w2);
        for (size_t i = 0; i < m.n_params; i++) m.params[i] = (float)(m.params[i] * f);
        w2 = 0;
        for (size_t i = 0; i < m.n_params; i++) w2 += (double)m.params[i] * m.params[i];
        decay_before_update(&st, &m, s, norm_of(&m), &e);
        /* by hand: lam_t = 100 * 1e-5 * G / W; lam_bar = 0.1 lam_bar + 0.9 lam_t */
        lam = 0.1 * lam + 0.9 * (100 * 1e-5 * gs[s] / (sqrt(w2) + 1e-8));
        for (int i = 0; i < m.n_tensors; i++) ok &= fabs(m.wd[i] - lam) <= 1e-9 * lam;
    }
    /* the three values by hand with W exactly 4, 4, 2: 4.5e-4, 2.7e-4, 1.377e-3 */
    CHECK_CLOSE(st.awd_lambda, 1.377e-3, 0, 1e-5, "awd_ema_three_steps");
    CHECK(ok, "awd_every_tensor_gets_lambda", "wd differs from lam_bar");
    decay_free(&st);
    unbuild(&m);
}

static int count_lines(const char *path, long step) {
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        long s;
        if (sscanf(line, "{\"step\": %ld", &s) == 1 && s == step) n++;
    }
    if (f) fclose(f);
    return n;
}

/* A scratch directory NAME and its decay.jsonl open for writing as a RunLog; 0 when no scratch directory can be
 * made (scratch_dir says why). */
static int scratch_log(char *dir, size_t ndir, const char *name, char *logp, size_t nlogp, RunLog *log) {
    if (!scratch_dir(dir, ndir, NULL, name)) return 0;
    snprintf(logp, nlogp, "%s/decay.jsonl", dir);
    memset(log, 0, sizeof *log);
    log->f = fopen(logp, "w");
    snprintf(log->path, sizeof log->path, "%s", logp);
    return 1;
}

/* The default AlphaDecay's step-0 decays by hand for the three modules config() tunes at step 0 (layer-1 q,
 * layer-0/1 k): the linear map of the hand-fitted alphas onto eta * [s1, s2] (eta 1e-5, s1 0.6666, s2 3). */
static void hand_step0_decays(Model *m, int tuned[3], double wd[3]) {
    tuned[0] = model_find_tensor(m, "model.layers.1.self_attn.q_proj.weight");
    tuned[1] = model_find_tensor(m, "model.layers.0.self_attn.k_proj.weight");
    tuned[2] = model_find_tensor(m, "model.layers.1.self_attn.k_proj.weight");
    double a[3], lo = 1e9, hi = -1;
    for (int t = 0; t < 3; t++) {
        a[t] = hand_alpha(m, tuned[t]);
        lo = fmin(lo, a[t]);
        hi = fmax(hi, a[t]);
    }
    for (int t = 0; t < 3; t++) wd[t] = 1e-5 * ((a[t] - lo) / (hi - lo) * (3 - 0.6666) + 0.6666);
}

static void test_alphadecay(void) {
    Model m;
    build(&m);
    Config c;
    config(&c, DECAY_ALPHADECAY);
    DecayState st;
    memset(&st, 0, sizeof st);
    Err e = {{0}};
    char dir[256], logp[300];
    RunLog log;
    if (!scratch_log(dir, sizeof dir, "test_decay", logp, sizeof logp, &log)) {
        unbuild(&m);
        return;
    }
    int rc = decay_init(&st, &c, &m, &log, dir, 1, &e);
    CHECK(rc == 0, "alphadecay_init", "%s", e.msg);
    /* Tuned at step 0: layer-1 q, layer-0/1 k (64 x 64). Not tuned: layer-0 q (excluded), up_proj
     * (N = 32 < 50), lm_head (excluded), embedding, norms. */
    int tuned[3];
    double hand[3];
    hand_step0_decays(&m, tuned, hand);
    int q1 = tuned[0], k0 = tuned[1], k1 = tuned[2];
    int okt = 1;
    for (int t = 0; t < 3; t++) okt &= fabs(m.wd[tuned[t]] - hand[t]) <= 1e-9 * hand[t];
    CHECK(okt, "alphadecay_tuned_linear_map", "wd %g %g %g", m.wd[q1], m.wd[k0], m.wd[k1]);
    int oku = 1;
    for (int i = 0; i < m.n_tensors; i++)
        if (i != q1 && i != k0 && i != k1) oku &= m.wd[i] == 1e-5;
    CHECK(oku, "alphadecay_untuned_get_eta", "an untuned tensor is not at eta");
    CHECK(count_lines(logp, 0) == 3, "alphadecay_log_step0_lines", "%d lines", count_lines(logp, 0));
    char sp[300];
    snprintf(sp, sizeof sp, "%s/spectra_step0.bin", dir);
    CHECK(access(sp, F_OK) == 0, "alphadecay_spectra_step0", "missing %s", sp);

    /* update_every 3: steps 0..5 update at 2 and 5 only */
    for (long s = 0; s < 6; s++) decay_before_update(&st, &m, s, norm_of(&m), &e);
    CHECK(count_lines(logp, 2) == 3 && count_lines(logp, 5) == 3 && count_lines(logp, 1) == 0 &&
              count_lines(logp, 3) == 0 && st.last_update_step == 5,
          "alphadecay_schedule", "lines at 2: %d, 5: %d, last %ld", count_lines(logp, 2), count_lines(logp, 5),
          st.last_update_step);
    /* every logged wd follows from the logged alphas by the linear formula */
    fclose(log.f);
    FILE *f = fopen(logp, "r");
    char line[1024];
    double la[3], lw[3];
    int n = 0, good = 1;
    while (fgets(line, sizeof line, f)) {
        char *pa = strstr(line, "\"alpha\": "), *pw = strstr(line, "\"wd\": ");
        la[n] = atof(pa + 9);
        lw[n] = atof(pw + 6);
        if (++n == 3) {
            double l = fmin(la[0], fmin(la[1], la[2])), h = fmax(la[0], fmax(la[1], la[2]));
            for (int t = 0; t < 3; t++) {
                double want = 1e-5 * ((la[t] - l) / (h - l) * (3 - 0.6666) + 0.6666);
                good &= fabs(lw[t] - want) <= 1e-6 * want;
            }
            n = 0;
        }
    }
    fclose(f);
    CHECK(good, "alphadecay_log_wd_from_alpha", "a logged wd does not follow from the logged alphas");
    rc = decay_finish(&st, &m, 6, &e);
    snprintf(sp, sizeof sp, "%s/spectra_step6.bin", dir);
    CHECK(rc == 0 && access(sp, F_OK) == 0, "alphadecay_spectra_final", "missing %s", sp);
    decay_free(&st);

    /* A NaN weight stops the update with an error naming the tensor, never a NaN decay. */
    m.params[m.tensors[k1].offset + 5] = NAN;
    memset(&st, 0, sizeof st);
    rc = decay_init(&st, &c, &m, NULL, "", 1, &e);
    CHECK(rc == -1 && strstr(e.msg, "layers.1.self_attn.k_proj"), "alphadecay_nan_weight", "rc %d %s", rc, e.msg);
    decay_free(&st);
    scratch_remove(dir);
    unbuild(&m);
}

/* decay.flat on AlphaDecay's init assignment (random weights, step 0): the default's decays by hand (the linear map of
 * the hand-fitted alphas), their size-weighted mean, then a flat run on the same weights gives every tuned module that
 * mean, in the model and in decay.jsonl, and untuned tensors eta. Tolerances: the hand alphas agree to 1e-9 (as in
 * test_alphadecay); decay.jsonl prints 9 significant digits. */
static void test_alphadecay_flat(void) {
    Model m;
    build(&m);
    Config c;
    config(&c, DECAY_ALPHADECAY);
    c.decay.flat = 1;
    DecayState st;
    memset(&st, 0, sizeof st);
    Err e = {{0}};
    char dir[256], logp[300];
    RunLog log;
    if (!scratch_log(dir, sizeof dir, "test_decay_flat", logp, sizeof logp, &log)) {
        unbuild(&m);
        return;
    }
    int tuned[3];
    double def[3], sw = 0, s = 0;
    hand_step0_decays(&m, tuned, def);
    for (int t = 0; t < 3; t++) {
        sw += def[t] * (double)m.tensors[tuned[t]].size;
        s += (double)m.tensors[tuned[t]].size;
    }
    double mean = sw / s;
    int rc = decay_init(&st, &c, &m, &log, "", 1, &e);
    CHECK(rc == 0, "alphadecay_flat_init", "%s", e.msg);
    int ok = 1;
    for (int t = 0; t < 3; t++) ok &= fabs(m.wd[tuned[t]] - mean) <= 1e-9 * mean;
    CHECK(ok && m.wd[tuned[0]] == m.wd[tuned[1]] && m.wd[tuned[1]] == m.wd[tuned[2]], "alphadecay_flat_tuned_mean",
          "wd %.17g %.17g %.17g, want %.17g", m.wd[tuned[0]], m.wd[tuned[1]], m.wd[tuned[2]], mean);
    int oku = 1;
    for (int i = 0; i < m.n_tensors; i++)
        if (i != tuned[0] && i != tuned[1] && i != tuned[2]) oku &= m.wd[i] == 1e-5;
    CHECK(oku, "alphadecay_flat_untuned_eta", "an untuned tensor is not at eta");
    fclose(log.f);
    FILE *f = fopen(logp, "r");
    char line[1024];
    int n = 0, logged = 1;
    while (f && fgets(line, sizeof line, f)) {
        char *pw = strstr(line, "\"wd\": ");
        logged &= pw && fabs(atof(pw + 6) - m.wd[tuned[0]]) <= 1e-8 * m.wd[tuned[0]];
        n++;
    }
    if (f) fclose(f);
    CHECK(n == 3 && logged, "alphadecay_flat_logged", "%d lines, logged wd %s", n, logged ? "ok" : "not the mean");
    decay_free(&st);
    scratch_remove(dir);
    unbuild(&m);
}

static void test_adadecay(void) {
    Model m;
    Config c;
    DecayState st;
    Err e;
    start(&m, &c, &st, DECAY_ADADECAY, &e);
    int all = 1;
    for (int i = 0; i < m.n_tensors; i++) all &= fabs(m.wd[i] - 1e-5) < 1e-18;
    CHECK(all, "adadecay_init_all_eta", "gradnorm 10 everywhere must give eta");
    /* Gradient norms: layer 0 {k: 1, up: 3} (q excluded), layer 1 {q: 2, k: 2, up: 5}. The eigenvalue
     * filter is skipped for gradnorm, so up_proj (N = 32) is tuned. */
    const char *nm[5] = {"model.layers.0.self_attn.k_proj.weight", "model.layers.0.mlp.up_proj.weight",
                         "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                         "model.layers.1.mlp.up_proj.weight"};
    double g[5] = {1, 3, 2, 2, 5};
    int idx[5];
    for (int t = 0; t < 5; t++) {
        idx[t] = model_find_tensor(&m, nm[t]);
        m.grads[m.tensors[idx[t]].offset] = (float)g[t];
    }
    decay_before_update(&st, &m, 2, norm_of(&m), &e);
    /* layer 0: mean 2, std 1 -> z = -1, +1. layer 1: mean 3, std sqrt(2) -> z = -1/sqrt2 (x2), +2/sqrt2 */
    double z[5] = {-1 / (1 + 1e-8), 1 / (1 + 1e-8), -1 / (sqrt(2) + 1e-8), -1 / (sqrt(2) + 1e-8), 2 / (sqrt(2) + 1e-8)};
    int ok = 1;
    for (int t = 0; t < 5; t++) {
        double want = 1e-5 * 2 / (1 + exp(-4 * z[t]));
        ok &= fabs(m.wd[idx[t]] - want) <= 1e-12 * want;
    }
    CHECK(ok, "adadecay_layer_zscore_sigmoid", "wd %g %g %g %g %g", m.wd[idx[0]], m.wd[idx[1]], m.wd[idx[2]],
          m.wd[idx[3]], m.wd[idx[4]]);
    int q0 = model_find_tensor(&m, "model.layers.0.self_attn.q_proj.weight");
    CHECK(m.wd[q0] == 1e-5 && m.wd[0] == 1e-5, "adadecay_untuned_eta", "q0 %g embed %g", m.wd[q0], m.wd[0]);
    CHECK(fabs(decay_wd_mean(&m) - 1e-5) > 1e-8, "adadecay_mean_differs_from_eta", "wd_mean %.17g", decay_wd_mean(&m));
    /* the same update with decay.mean_preserving: every tuned decay times one factor, the model's size-weighted
     * mean exactly eta (to round-off: a few ulps of sums over 11 tensors), untuned tensors still at eta */
    double before[5];
    for (int t = 0; t < 5; t++) before[t] = m.wd[idx[t]];
    c.decay.mean_preserving = 1;
    decay_before_update(&st, &m, 2, norm_of(&m), &e);
    double f = m.wd[idx[0]] / before[0];
    int same_ratio = 1;
    for (int t = 1; t < 5; t++) same_ratio &= fabs(m.wd[idx[t]] / before[t] - f) <= 1e-14 * f;
    CHECK(same_ratio && f != 1.0, "adadecay_mean_preserving_one_factor", "factor %g", f);
    CHECK_CLOSE(decay_wd_mean(&m), 1e-5, 0, 1e-14, "adadecay_mean_preserving_wd_mean_is_eta");
    CHECK(m.wd[q0] == 1e-5 && m.wd[0] == 1e-5, "adadecay_mean_preserving_untuned_eta", "q0 %g embed %g", m.wd[q0],
          m.wd[0]);
    /* the same update with decay.flat: every tuned module gets the size-weighted mean of the default's decays
     * (before[], by hand with the tensor sizes: up_proj is half a k_proj), untuned tensors keep eta, and the
     * model's wd_mean is the default's (the same strength); round-off of sums of 5 terms, 1e-14 relative */
    c.decay.mean_preserving = 0;
    double def_mean = 0, sw = 0, s = 0;
    for (int t = 0; t < 5; t++) {
        sw += before[t] * (double)m.tensors[idx[t]].size;
        s += (double)m.tensors[idx[t]].size;
    }
    double hand = sw / s;
    c.decay.flat = 1;
    for (int t = 0; t < 5; t++) m.wd[idx[t]] = before[t]; /* the default's model, for its wd_mean */
    def_mean = decay_wd_mean(&m);
    decay_before_update(&st, &m, 2, norm_of(&m), &e);
    int flat = m.tensors[idx[1]].size != m.tensors[idx[0]].size; /* the weighting matters in this model */
    for (int t = 0; t < 5; t++) flat &= fabs(m.wd[idx[t]] - hand) <= 1e-14 * hand;
    CHECK(flat, "adadecay_flat_size_weighted_mean", "wd %g %g %g %g %g, want %g", m.wd[idx[0]], m.wd[idx[1]],
          m.wd[idx[2]], m.wd[idx[3]], m.wd[idx[4]], hand);
    CHECK(m.wd[q0] == 1e-5 && m.wd[0] == 1e-5, "adadecay_flat_untuned_eta", "q0 %g embed %g", m.wd[q0], m.wd[0]);
    CHECK_CLOSE(decay_wd_mean(&m), def_mean, 0, 1e-14, "adadecay_flat_wd_mean_is_default");
    decay_free(&st);
    unbuild(&m);
}

/* update_every 1: the authors' code refits at step 0 too, after the init assignment, now with the
 * gradients of update 0; AdaDecay's wd then moves off eta at step 0 already. */
static void test_refit_step0(void) {
    Model m;
    build(&m);
    Config c;
    config(&c, DECAY_ADADECAY);
    c.decay.update_every = 1;
    DecayState st;
    memset(&st, 0, sizeof st);
    Err e;
    decay_init(&st, &c, &m, NULL, "", 1, &e);
    int k0 = model_find_tensor(&m, "model.layers.0.self_attn.k_proj.weight");
    int u0 = model_find_tensor(&m, "model.layers.0.mlp.up_proj.weight");
    m.grads[m.tensors[k0].offset] = 1.0f;
    m.grads[m.tensors[u0].offset] = 3.0f;
    int rc = decay_before_update(&st, &m, 0, norm_of(&m), &e);
    double z = 1 / (1 + 1e-8), lo = 1e-5 * 2 / (1 + exp(4 * z)), hi = 1e-5 * 2 / (1 + exp(-4 * z));
    CHECK(rc == 0 && fabs(m.wd[k0] - lo) <= 1e-12 * lo && fabs(m.wd[u0] - hi) <= 1e-12 * hi && st.last_update_step == 0,
          "update_every_1_refits_at_step0", "rc %d wd k %g (want %g) up %g (want %g) last %ld", rc, m.wd[k0], lo,
          m.wd[u0], hi, st.last_update_step);
    decay_free(&st);
    unbuild(&m);
}

/* Gradients and a small weight drift that differ per update, so every update's AWD lambda differs. */
static void drift(Model *m, long s) {
    for (size_t i = 0; i < m->n_params; i++) {
        m->grads[i] = (float)(1e-3 * sin(0.37 * (double)i + (double)s));
        m->params[i] *= 1.0f + 0.01f * (float)s;
    }
}

/* decay_save / decay_restore: a state restored into a resumed hook (decay_init with fresh = 0) continues
 * exactly as the uninterrupted one, for each method with state; without the restore AWD's differs. */
static void test_save_restore(void) {
    DecayMethod methods[3] = {DECAY_AWD, DECAY_ADADECAY, DECAY_ALPHADECAY};
    const char *names[3] = {"awd", "adadecay", "alphadecay"};
    for (int k = 0; k < 3; k++) {
        Model m;
        build(&m);
        Config c;
        config(&c, methods[k]);
        c.decay.update_every = 2;
        c.decay.eigs_thresh = 8;
        DecayState a, b, cold;
        memset(&a, 0, sizeof a);
        Err e = {{0}};
        int rc = decay_init(&a, &c, &m, NULL, "", 1, &e);
        for (long s = 0; s < 3 && rc == 0; s++) {
            drift(&m, s);
            rc = decay_before_update(&a, &m, s, norm_of(&m), &e);
        }
        DecayCkpt ck;
        decay_save(&a, &ck);
        memset(&b, 0, sizeof b);
        memset(&cold, 0, sizeof cold);
        rc |= decay_init(&b, &c, &m, NULL, "", 0, &e) | decay_init(&cold, &c, &m, NULL, "", 0, &e);
        decay_restore(&b, &ck);
        int same = b.last_update_step == a.last_update_step && !memcmp(&b.awd_lambda, &a.awd_lambda, sizeof(double));
        int cold_differs = 0;
        double *wd_a = calloc((size_t)m.n_tensors, sizeof(double));
        for (long s = 3; s < 6 && rc == 0; s++) {
            drift(&m, s);
            rc |= decay_before_update(&a, &m, s, norm_of(&m), &e);
            memcpy(wd_a, m.wd, (size_t)m.n_tensors * sizeof(double));
            rc |= decay_before_update(&cold, &m, s, norm_of(&m), &e);
            cold_differs |= cold.awd_lambda != a.awd_lambda;
            rc |= decay_before_update(&b, &m, s, norm_of(&m), &e);
            same &= !memcmp(wd_a, m.wd, (size_t)m.n_tensors * sizeof(double)) &&
                    !memcmp(&b.awd_lambda, &a.awd_lambda, sizeof(double)) && b.last_update_step == a.last_update_step;
        }
        char nm[64];
        snprintf(nm, sizeof nm, "save_restore_continues_%s", names[k]);
        CHECK(rc == 0 && same && a.last_update_step == (methods[k] == DECAY_AWD ? -1 : 5), nm,
              "rc %d (%s) same %d last %ld", rc, e.msg, same, a.last_update_step);
        if (methods[k] == DECAY_AWD)
            CHECK(cold_differs, "save_restore_awd_needs_the_state",
                  "a resume without decay_restore continued the same");
        free(wd_a);
        decay_free(&a);
        decay_free(&b);
        decay_free(&cold);
        unbuild(&m);
    }
}

/* AWD in the loop's order of operations (grad_global_norm, grad_clip, grad_norm_index_order, the hook) on a
 * model of more than 65536 parameters, where the blocked norm and the index-order norm differ in their
 * last bits. AWD's lambda must equal, bit for bit, the formula as AWD computed it before the loop handed
 * it the norm: its own index-order sums of squares of the clipped gradients and of the weights, over all
 * parameters, then lam_bar = 0.1 lam_bar + 0.9 awd_scale eta ||g|| / (||w|| + 1e-8). With and without
 * clipping. (The committed AWD results were computed by that formula.) */
static void test_awd_norm_bits(void) {
    double clips[2] = {0.0, 0.05};
    int orders_differ = 0;
    for (int k = 0; k < 2; k++) {
        Model m;
        memset(&m, 0, sizeof m);
        m.tensors = calloc(4, sizeof(TensorInfo));
        model_add_tensor(&m, "model.layers.0.self_attn.q_proj.weight", 300, 300, KIND_LINEAR, 0, MT_Q);
        model_add_tensor(&m, "model.layers.0.mlp.up_proj.weight", 300, 300, KIND_LINEAR, 0, MT_UP);
        model_add_tensor(&m, "lm_head.weight", 10, 300, KIND_LM_HEAD, -1, MT_LM_HEAD);
        m.params = calloc(m.n_params, sizeof(float));
        m.grads = calloc(m.n_params, sizeof(float));
        m.wd = calloc((size_t)m.n_tensors, sizeof(double));
        Rng r;
        rng_seed(&r, 11);
        for (size_t i = 0; i < m.n_params; i++) m.params[i] = (float)(0.02 * rng_normal(&r));
        Config c;
        config(&c, DECAY_AWD);
        c.train.grad_clip = clips[k];
        DecayState st;
        memset(&st, 0, sizeof st);
        Err e = {{0}};
        int rc = decay_init(&st, &c, &m, NULL, "", 1, &e), same = 1, clipped = 0;
        double lam_ref = 0;
        for (long s = 0; s < 5 && rc == 0; s++) {
            for (size_t i = 0; i < m.n_params; i++) {
                m.grads[i] = (float)(1e-3 * (double)(s + 1) * rng_normal(&r));
                m.params[i] -= 1e-3f * m.grads[i];
            }
            double gnorm = grad_global_norm(&m);
            grad_clip(&m, c.train.grad_clip, gnorm);
            clipped |= c.train.grad_clip > 0 && gnorm > c.train.grad_clip;
            double applied = grad_norm_index_order(&m);
            orders_differ |= applied != grad_global_norm(&m);
            rc = decay_before_update(&st, &m, s, applied, &e);
            double g2 = 0, w2 = 0; /* AWD's previous sums, written out */
            for (size_t i = 0; i < m.n_params; i++) {
                g2 += (double)m.grads[i] * m.grads[i];
                w2 += (double)m.params[i] * m.params[i];
            }
            double lam_t = c.decay.awd_scale * c.decay.weight_decay * sqrt(g2) / (sqrt(w2) + 1e-8);
            lam_ref = 0.1 * lam_ref + 0.9 * lam_t;
            same &= !memcmp(&lam_ref, &st.awd_lambda, sizeof(double)) && !memcmp(&lam_ref, &m.wd[1], sizeof(double));
        }
        CHECK(rc == 0 && same && (c.train.grad_clip == 0 || clipped),
              k ? "awd_bits_as_before_clipped" : "awd_bits_as_before_unclipped",
              "rc %d (%s): lambda %.17g, the previous formula %.17g, clipped %d", rc, e.msg, st.awd_lambda, lam_ref,
              clipped);
        decay_free(&st);
        unbuild(&m);
    }
    /* the test can tell the two orders apart: handing AWD the blocked norm would change its bits */
    CHECK(orders_differ, "awd_bits_norm_orders_differ", "the blocked and index-order norms agree on every update");
}

int main(void) {
    test_assign();
    test_mean_preserve();
    test_flatten();
    test_refit_step0();
    test_none_uniform_bad();
    test_awd();
    test_save_restore();
    test_awd_norm_bits();
    test_alphadecay();
    test_adadecay();
    test_alphadecay_flat();
    return check_summary();
}
