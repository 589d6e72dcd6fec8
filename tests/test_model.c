/* test_model.c - the whole model on tiny configurations:
 *  - the float forward against an independent double-precision reference of docs/method.md, "The model";
 *  - every tensor's gradient (sampled entries) against central finite differences of that reference;
 *  - ignored targets (-1) contribute nothing; no valid target -> loss 0, zero gradients;
 *  - two forward+backward passes are bit-identical; init does not depend on the thread count;
 *  - causality: changing a later token leaves earlier logits unchanged;
 *  - init statistics; the module table (names, order, offsets, shapes); the views over params and
 *    grads, and their refusal of a broken table; memory estimate. */
#include "check.h"
#include "model.h"
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- double reference */

typedef struct {
    ModelConfig c;
    const TensorInfo *tab;
    int nt;
    double *p; /* all parameters, same offsets as the float model */
} Ref;

static const double *W(const Ref *r, const char *name) {
    for (int i = 0; i < r->nt; i++)
        if (strcmp(r->tab[i].name, name) == 0) return r->p + r->tab[i].offset;
    fprintf(stderr, "no tensor %s\n", name);
    abort();
}

static void rms(double *out, const double *x, const double *w, int C, double eps) {
    double ss = 0;
    for (int j = 0; j < C; j++) ss += x[j] * x[j];
    double r = 1.0 / sqrt(ss / C + eps);
    for (int j = 0; j < C; j++) out[j] = w[j] * x[j] * r;
}

/* y (out) = W (out, in) x */
static void matvec(double *y, const double *Wm, const double *x, int out, int in) {
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += Wm[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void rope1(double *x, int t, int H, int D, double theta) {
    for (int h = 0; h < H; h++)
        for (int i = 0; i < D / 2; i++) {
            double a = t * pow(theta, -2.0 * i / D), c = cos(a), s = sin(a);
            double x1 = x[h * D + i], x2 = x[h * D + i + D / 2];
            x[h * D + i] = x1 * c - x2 * s;
            x[h * D + i + D / 2] = x2 * c + x1 * s;
        }
}

/* Mean cross-entropy over valid targets; logits_out (B*T*V) if non-NULL. */
static double ref_forward(const Ref *r, const int *in, const int *tg, int B, int T, double *logits_out) {
    int C = r->c.hidden_size, I = r->c.intermediate_size, V = r->c.vocab_size, H = r->c.num_attention_heads;
    int D = C / H, L = r->c.num_hidden_layers;
    double eps = r->c.rms_norm_eps;
    double *x = calloc((size_t)T * C, sizeof(double)), *hn = calloc(C, sizeof(double));
    double *q = calloc((size_t)T * C, sizeof(double)), *k = calloc((size_t)T * C, sizeof(double));
    double *v = calloc((size_t)T * C, sizeof(double)), *y = calloc(C, sizeof(double));
    double *o = calloc(C, sizeof(double)), *g = calloc(I, sizeof(double)), *u = calloc(I, sizeof(double));
    double *lg = calloc(V, sizeof(double)), *pr = calloc(T, sizeof(double));
    double *ao = calloc((size_t)T * C, sizeof(double)); /* attention block output o_proj(y), per position */
    double total = 0;
    int cnt = 0;
    char nm[128];
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++)
            memcpy(x + (size_t)t * C, W(r, "model.embed_tokens.weight") + (size_t)in[b * T + t] * C,
                   C * sizeof(double));
        for (int l = 0; l < L; l++) {
#define NM(s) (snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, s), W(r, nm))
            for (int t = 0; t < T; t++) {
                rms(hn, x + (size_t)t * C, NM("input_layernorm"), C, eps);
                matvec(q + (size_t)t * C, NM("self_attn.q_proj"), hn, C, C);
                matvec(k + (size_t)t * C, NM("self_attn.k_proj"), hn, C, C);
                matvec(v + (size_t)t * C, NM("self_attn.v_proj"), hn, C, C);
                rope1(q + (size_t)t * C, t, H, D, r->c.rope_theta);
                rope1(k + (size_t)t * C, t, H, D, r->c.rope_theta);
            }
            for (int t = 0; t < T; t++) { /* keys/values of positions <= t only: causal */
                for (int h = 0; h < H; h++) {
                    double mx = -1e300, s = 0;
                    for (int j = 0; j <= t; j++) {
                        double d = 0;
                        for (int i = 0; i < D; i++) d += q[(size_t)t * C + h * D + i] * k[(size_t)j * C + h * D + i];
                        pr[j] = d / sqrt((double)D);
                        if (pr[j] > mx) mx = pr[j];
                    }
                    for (int j = 0; j <= t; j++) s += (pr[j] = exp(pr[j] - mx));
                    for (int i = 0; i < D; i++) {
                        double acc = 0;
                        for (int j = 0; j <= t; j++) acc += pr[j] / s * v[(size_t)j * C + h * D + i];
                        y[h * D + i] = acc;
                    }
                }
                matvec(ao + (size_t)t * C, NM("self_attn.o_proj"), y, C, C);
            }
            for (int t = 0; t < T; t++) {
                double *xt = x + (size_t)t * C;
                for (int j = 0; j < C; j++) xt[j] += ao[(size_t)t * C + j];
                rms(hn, xt, NM("post_attention_layernorm"), C, eps);
                matvec(g, NM("mlp.gate_proj"), hn, I, C);
                matvec(u, NM("mlp.up_proj"), hn, I, C);
                for (int j = 0; j < I; j++) g[j] = g[j] / (1 + exp(-g[j])) * u[j];
                matvec(o, NM("mlp.down_proj"), g, C, I);
                for (int j = 0; j < C; j++) xt[j] += o[j];
            }
#undef NM
        }
        for (int t = 0; t < T; t++) {
            rms(hn, x + (size_t)t * C, W(r, "model.norm.weight"), C, eps);
            matvec(lg, W(r, "lm_head.weight"), hn, V, C);
            if (logits_out) memcpy(logits_out + ((size_t)b * T + t) * V, lg, V * sizeof(double));
            int target = tg ? tg[b * T + t] : -1;
            if (target < 0) continue;
            double mx = lg[0], s = 0;
            for (int j = 1; j < V; j++) mx = lg[j] > mx ? lg[j] : mx;
            for (int j = 0; j < V; j++) s += exp(lg[j] - mx);
            total += mx + log(s) - lg[target];
            cnt++;
        }
    }
    free(x), free(hn), free(q), free(k), free(v), free(y), free(o), free(g), free(u), free(lg), free(pr), free(ao);
    return cnt ? total / cnt : 0;
}

/* ---------------------------------------------------------------- helpers */

static ModelConfig tiny_config(void) { return test_model_config(16, 24, 2, 2, 32, 16); }

static int build(Model *m, ModelConfig c, uint64_t seed, int B, int T) {
    Err e = {{0}};
    if (model_build(m, &c, &e) || model_alloc_train(m, &e) || model_alloc_acts(m, B, T, &e)) {
        CHECK(0, "build", "%s", e.msg);
        return -1;
    }
    model_init_weights(m, seed);
    return 0;
}

/* Forward and backward from zero gradients: the loss; the gradients stay in m->grads. */
static float one_pass(Model *m, const int *in, const int *tg, int B, int T) {
    model_zero_grad(m);
    float loss = model_forward(m, in, tg, B, T, NULL);
    model_backward(m, 1.0f);
    return loss;
}

/* A copy of the gradients (malloc'd), to compare a later pass with. */
static float *grads_copy(const Model *m) {
    float *g = malloc(m->n_params * sizeof(float));
    memcpy(g, m->grads, m->n_params * sizeof(float));
    return g;
}

static void random_tokens(int *ids, int n, int V, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) ids[i] = (int)rng_below(&r, (uint64_t)V);
}

/* A batch of n random inputs and targets: the inputs from seed, the targets from seed + 1. */
static void random_batch(int *in, int *tg, int n, int V, uint64_t seed) {
    random_tokens(in, n, V, seed);
    random_tokens(tg, n, V, seed + 1);
}

/* ---------------------------------------------------------------- tests */

static void test_table(void) {
    Model m;
    ModelConfig c = tiny_config();
    Err e = {{0}};
    CHECK(model_build(&m, &c, &e) == 0, "table_build", "%s", e.msg);
    /* embedding, 2 layers of {2 norms, q, k, v, o, gate, up, down}, final norm, lm_head */
    CHECK(m.n_tensors == 21, "table_count", "%d tensors", m.n_tensors);
    static const char *expect[] = {"model.embed_tokens.weight",
                                   "model.layers.0.input_layernorm.weight",
                                   "model.layers.0.self_attn.q_proj.weight",
                                   "model.layers.0.self_attn.k_proj.weight",
                                   "model.layers.0.self_attn.v_proj.weight",
                                   "model.layers.0.self_attn.o_proj.weight",
                                   "model.layers.0.post_attention_layernorm.weight",
                                   "model.layers.0.mlp.gate_proj.weight",
                                   "model.layers.0.mlp.up_proj.weight",
                                   "model.layers.0.mlp.down_proj.weight"};
    int ok = 1;
    for (int i = 0; i < 10; i++) ok &= strcmp(m.tensors[i].name, expect[i]) == 0;
    CHECK(ok, "table_hf_order", "first names differ from the HF state_dict order");
    CHECK(strcmp(m.tensors[m.n_tensors - 2].name, "model.norm.weight") == 0 &&
              strcmp(m.tensors[m.n_tensors - 1].name, "lm_head.weight") == 0,
          "table_tail", "last two are %s, %s", m.tensors[m.n_tensors - 2].name, m.tensors[m.n_tensors - 1].name);
    size_t off = 0;
    ok = 1;
    for (int i = 0; i < m.n_tensors; i++) {
        ok &= m.tensors[i].offset == off && m.tensors[i].size == (size_t)m.tensors[i].rows * m.tensors[i].cols;
        off += m.tensors[i].size;
    }
    CHECK(ok && off == m.n_params, "table_contiguous", "offsets not contiguous");
    /* 2*V*C + L*(4C^2 + 3CI + 2C) + C = 2*512 + 2*(1024+1152+32) + 16 = 5456 */
    CHECK(m.n_params == 5456, "table_nparams", "%zu", m.n_params);
    int id = model_find_tensor(&m, "model.layers.1.mlp.down_proj.weight");
    CHECK(id >= 0 && m.tensors[id].rows == 16 && m.tensors[id].cols == 24 && m.tensors[id].layer == 1 &&
              m.tensors[id].type == MT_DOWN && m.tensors[id].kind == KIND_LINEAR,
          "table_down_shape", "id %d", id);
    CHECK(model_find_tensor(&m, "nope") == -1, "table_find_missing", "found a missing name");
    CHECK(strcmp(module_type_name(MT_UP), "up") == 0 && strcmp(module_type_name(MT_FINAL_NORM), "norm") == 0 &&
              strcmp(module_type_name(MT_LM_HEAD), "lm_head") == 0,
          "module_type_names", "wrong names");
    model_free(&m);

    ModelConfig bad = c;
    bad.num_attention_heads = 3;
    CHECK(model_build(&m, &bad, &e) == -1 && strstr(e.msg, "divide"), "config_heads_divide", "%s", e.msg);
    bad = c;
    bad.vocab_size = 0;
    CHECK(model_build(&m, &bad, &e) == -1, "config_zero_vocab", "accepted vocab 0");
    bad = c;
    bad.hidden_size = 18, bad.num_attention_heads = 2, bad.intermediate_size = 8; /* head dim 9: odd */
    CHECK(model_build(&m, &bad, &e) == -1, "config_odd_head_dim", "accepted odd head dim");
    CHECK(model_build(&m, &c, &e) == 0 && model_alloc_acts(&m, 1, 17, &e) == -1, "acts_seq_too_long",
          "accepted T above max positions");
    model_free(&m);

    /* the count the scaling figure plots: all 5456 above, and without the embedding and lm_head (2 V C = 1024)
     * L (4C^2 + 3CI + 2C) + C = 4432; the tiny experiment's shape (h128, I 344, 4 layers):
     * 4 (65536 + 132096 + 256) + 128 = 791680 */
    size_t total = 0, non = 0;
    CHECK(model_count_params(&c, &total, &non, &e) == 0 && total == 5456 && non == 4432, "count_params",
          "total %zu, non-embedding %zu", total, non);
    ModelConfig t = c;
    t.hidden_size = 128, t.intermediate_size = 344, t.num_hidden_layers = 4, t.num_attention_heads = 4;
    CHECK(model_count_params(&t, NULL, &non, &e) == 0 && non == 791680, "count_params_tiny", "%zu", non);
    bad = c;
    bad.num_attention_heads = 3;
    CHECK(model_count_params(&bad, &total, &non, &e) == -1 && strstr(e.msg, "divide"), "count_params_bad_config", "%s",
          e.msg);
}

/* The views name the tensors the table names, in both buffers; a table out of the LLaMA layout (a
 * missing tensor, q/k/v not adjacent, a duplicate) is refused. */
static void test_views(void) {
    Model m;
    ModelConfig c = tiny_config();
    Err e = {{0}};
    if (model_build(&m, &c, &e) || model_alloc_train(&m, &e)) {
        CHECK(0, "views_build", "%s", e.msg);
        return;
    }
    struct {
        const char *name;
        float *w, *g;
    } want[] = {
        {"model.embed_tokens.weight", m.w.embed, m.g.embed},
        {"model.layers.0.input_layernorm.weight", m.w.layer[0].ln1, m.g.layer[0].ln1},
        {"model.layers.1.self_attn.q_proj.weight", m.w.layer[1].qkv, m.g.layer[1].qkv},
        {"model.layers.1.self_attn.o_proj.weight", m.w.layer[1].o, m.g.layer[1].o},
        {"model.layers.0.post_attention_layernorm.weight", m.w.layer[0].ln2, m.g.layer[0].ln2},
        {"model.layers.1.mlp.gate_proj.weight", m.w.layer[1].gate_up, m.g.layer[1].gate_up},
        {"model.layers.0.mlp.down_proj.weight", m.w.layer[0].down, m.g.layer[0].down},
        {"model.norm.weight", m.w.norm, m.g.norm},
        {"lm_head.weight", m.w.lm_head, m.g.lm_head},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int id = model_find_tensor(&m, want[i].name);
        ok &= id >= 0 && want[i].w == m.params + m.tensors[id].offset && want[i].g == m.grads + m.tensors[id].offset;
    }
    CHECK(ok, "views_name_table_tensors", "a view points elsewhere than its tensor");
    /* the fused views: k and v follow q, up follows gate */
    int k1 = model_find_tensor(&m, "model.layers.1.self_attn.k_proj.weight");
    int v1 = model_find_tensor(&m, "model.layers.1.self_attn.v_proj.weight");
    int u0 = model_find_tensor(&m, "model.layers.0.mlp.up_proj.weight");
    size_t C = c.hidden_size, I = c.intermediate_size;
    CHECK(m.w.layer[1].qkv + C * C == m.params + m.tensors[k1].offset &&
              m.w.layer[1].qkv + 2 * C * C == m.params + m.tensors[v1].offset &&
              m.w.layer[0].gate_up + I * C == m.params + m.tensors[u0].offset,
          "views_fused_adjacent", "k, v or up not where the fused view expects them");

    ModelView v;
    TensorInfo saved = m.tensors[k1];
    m.tensors[k1].offset += 1; /* k no longer starts where q ends */
    CHECK(model_view(&m, m.params, &v, &e) == -1 && strstr(e.msg, "adjacent"), "views_reject_split_qkv", "%s", e.msg);
    m.tensors[k1] = saved;
    m.tensors[v1].type = MT_K; /* two k tensors in layer 1, no v */
    CHECK(model_view(&m, m.params, &v, &e) == -1 && strstr(e.msg, "taken"), "views_reject_duplicate", "%s", e.msg);
    m.tensors[v1].type = MT_V;
    m.n_tensors--; /* no lm_head */
    CHECK(model_view(&m, m.params, &v, &e) == -1 && strstr(e.msg, "lm_head"), "views_reject_missing", "%s", e.msg);
    m.n_tensors++;
    CHECK(model_view(&m, m.params, &v, &e) == 0 && v.layer[1].down == m.w.layer[1].down, "views_rebuild", "%s", e.msg);
    model_view_free(&v);
    model_free(&m);
}

static void test_gradients(void) {
    ModelConfig c = tiny_config();
    c.initializer_range = 0.3; /* large weights: non-uniform attention, every path exercised */
    int B = 2, T = 8, N = B * T;
    Model m;
    if (build(&m, c, 7, B, T)) return;
    int in[16], tg[16];
    random_batch(in, tg, N, c.vocab_size, 1);
    tg[3] = -1, tg[12] = -1; /* some ignored positions */
    Ref r = {c, m.tensors, m.n_tensors, malloc(m.n_params * sizeof(double))};
    for (size_t i = 0; i < m.n_params; i++) r.p[i] = m.params[i];

    int nv = 0;
    model_zero_grad(&m);
    float loss = model_forward(&m, in, tg, B, T, &nv);
    double *ref_logits = malloc((size_t)N * c.vocab_size * sizeof(double));
    double rl = ref_forward(&r, in, tg, B, T, ref_logits);
    CHECK(nv == N - 2, "fwd_n_valid", "%d", nv);
    CHECK_CLOSE(loss, rl, 1e-6, 1e-5, "fwd_loss_vs_double");
    double maxd = 0;
    float *lg = model_logits(&m);
    for (int i = 0; i < N * c.vocab_size; i++) maxd = fmax(maxd, fabs(lg[i] - ref_logits[i]));
    CHECK(maxd < 2e-5, "fwd_logits_vs_double", "max |diff| %g", maxd);
    model_backward(&m, 1.0f);

    /* every tensor: 6 sampled entries, float analytic vs double central difference */
    Rng rng;
    rng_seed(&rng, 99);
    double h = 1e-5;
    for (int ti = 0; ti < m.n_tensors; ti++) {
        const TensorInfo *t = &m.tensors[ti];
        double worst = 0, gmax = 0;
        for (int s = 0; s < 6; s++) {
            size_t j = t->offset + rng_below(&rng, t->size);
            if (t->kind == KIND_EMBEDDING && s == 0) j = t->offset + (size_t)in[5] * t->cols + 3; /* a used row */
            double p0 = r.p[j];
            r.p[j] = p0 + h;
            double lp = ref_forward(&r, in, tg, B, T, NULL);
            r.p[j] = p0 - h;
            double lm = ref_forward(&r, in, tg, B, T, NULL);
            r.p[j] = p0;
            double fd = (lp - lm) / (2 * h), an = m.grads[j];
            double err = fabs(an - fd) / (1e-4 + fabs(fd));
            worst = fmax(worst, err);
            gmax = fmax(gmax, fabs(fd));
        }
        char name[160];
        snprintf(name, sizeof name, "grad_fd_%s", t->name);
        CHECK(worst < 5e-4, name, "worst relative error %g (max |fd| %g)", worst, gmax);
    }
    /* scale: backward(scale) accumulates scale * grad */
    float *g1 = grads_copy(&m);
    model_forward(&m, in, tg, B, T, NULL);
    model_backward(&m, 0.5f);
    double maxrel = 0;
    for (size_t i = 0; i < m.n_params; i++)
        maxrel = fmax(maxrel, fabs(m.grads[i] - 1.5f * g1[i]) / (1e-6 + fabs(1.5f * g1[i])));
    CHECK(maxrel < 1e-5, "grad_accumulates_scaled", "max rel %g", maxrel);
    free(g1);
    free(ref_logits);
    free(r.p);
    model_free(&m);
}

static void test_mask(void) {
    ModelConfig c = tiny_config();
    c.initializer_range = 0.2;
    int B = 2, T = 8, N = B * T, V = c.vocab_size;
    Model m;
    if (build(&m, c, 3, B, T)) return;
    int in[16], tg[16], one[16];
    random_batch(in, tg, N, V, 11);
    int masked[] = {0, 5, 9, 15};
    for (int i = 0; i < 4; i++) tg[masked[i]] = -1;
    /* per-position losses from single-valid-target passes, then their mean over the valid set */
    double sum = 0;
    for (int p = 0; p < N; p++) {
        if (tg[p] < 0) continue;
        for (int i = 0; i < N; i++) one[i] = i == p ? tg[p] : -1;
        int nv;
        sum += model_forward(&m, in, one, B, T, &nv);
    }
    int nv;
    float loss = model_forward(&m, in, tg, B, T, &nv);
    CHECK(nv == N - 4, "mask_n_valid", "%d", nv);
    CHECK_CLOSE(loss, sum / (N - 4), 1e-6, 1e-5, "mask_loss_is_mean_over_valid");
    model_zero_grad(&m);
    model_backward(&m, 1.0f);
    float *dl = model_logits(&m);
    int zero = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < V; j++) zero &= dl[(size_t)masked[i] * V + j] == 0.0f;
    CHECK(zero, "mask_dlogits_zero", "a masked row has a nonzero gradient");
    /* valid rows of dlogits sum to 0 (softmax - onehot) */
    double rs = 0;
    for (int j = 0; j < V; j++) rs += dl[(size_t)1 * V + j];
    CHECK(fabs(rs) < 1e-7, "dlogits_row_sums_zero", "%g", rs);
    /* a masked target's value does not matter */
    float *g1 = grads_copy(&m);
    int tg2[16];
    memcpy(tg2, tg, sizeof tg);
    for (int i = 0; i < 4; i++) tg2[masked[i]] = -1; /* same mask; */
    float loss2 = one_pass(&m, in, tg2, B, T);
    CHECK(loss2 == loss && memcmp(g1, m.grads, m.n_params * sizeof(float)) == 0, "mask_repeatable", "loss %g vs %g",
          loss2, loss);
    /* no valid targets: loss 0, zero gradients */
    for (int i = 0; i < N; i++) one[i] = -1;
    model_zero_grad(&m);
    float l0 = model_forward(&m, in, one, B, T, &nv);
    model_backward(&m, 1.0f);
    int allz = 1;
    for (size_t i = 0; i < m.n_params; i++) allz &= m.grads[i] == 0.0f;
    CHECK(l0 == 0.0f && nv == 0 && allz, "mask_all_ignored", "loss %g n_valid %d zero grads %d", l0, nv, allz);
    /* ids out of range are refused */
    in[2] = V;
    CHECK(isnan(model_forward(&m, in, tg, B, T, NULL)), "bad_input_id_nan", "accepted id == vocab");
    in[2] = 0, tg[2] = -2;
    CHECK(isnan(model_forward(&m, in, tg, B, T, NULL)), "bad_target_id_nan", "accepted target -2");
    free(g1);
    model_free(&m);
}

static void test_determinism_and_causality(void) {
    ModelConfig c = test_model_config(32, 40, 4, 2, 64, 16);
    c.initializer_range = 0.1;
    int B = 2, T = 8, N = B * T;
    Model m;
    if (build(&m, c, 5, B, T)) return;
    int in[16], tg[16];
    random_batch(in, tg, N, c.vocab_size, 21);
    float l1 = one_pass(&m, in, tg, B, T);
    float *g1 = grads_copy(&m);
    float l2 = one_pass(&m, in, tg, B, T);
    CHECK(l1 == l2 && memcmp(g1, m.grads, m.n_params * sizeof(float)) == 0, "bit_identical_passes",
          "two passes differ");

    /* causality: change token 5 of sequence 1; logits of positions 0..4 of that row unchanged */
    size_t V = c.vocab_size;
    float *before = malloc(N * V * sizeof(float));
    model_forward(&m, in, NULL, B, T, NULL);
    memcpy(before, model_logits(&m), N * V * sizeof(float));
    in[T + 5] = (in[T + 5] + 7) % c.vocab_size;
    model_forward(&m, in, NULL, B, T, NULL);
    float *after = model_logits(&m);
    double early = 0, late = 0, other = 0;
    for (int t = 0; t < T; t++)
        for (size_t j = 0; j < V; j++) {
            double d = fabs(after[(T + t) * V + j] - before[(T + t) * V + j]);
            if (t < 5) early = fmax(early, d);
            else late = fmax(late, d);
            other = fmax(other, fabs(after[t * V + j] - before[t * V + j]));
        }
    CHECK(early <= 1e-6 && late > 1e-4 && other <= 1e-6, "causal", "earlier %g, later %g, other row %g", early, late,
          other);

    /* a smaller forward shape than allocated gives the same result as a matching allocation */
    Model m2;
    if (build(&m2, c, 5, 1, 4)) return;
    int in1[4] = {1, 2, 3, 4}, tg1[4] = {2, 3, 4, 5};
    float a = model_forward(&m, in1, tg1, 1, 4, NULL), b = model_forward(&m2, in1, tg1, 1, 4, NULL);
    CHECK_CLOSE(a, b, 0, 1e-6, "smaller_shape");
    model_free(&m2);
    free(before);
    free(g1);
    model_free(&m);
}

/* A shape large enough for every elementwise kernel to use the OpenMP team: the gradients with 1 and
 * with 2 OpenMP threads (OpenBLAS unchanged) must be bit-identical, and so must two repeated passes. */
static void test_threads(void) {
    ModelConfig c = test_model_config(64, 128, 4, 2, 256, 64);
    int B = 8, T = 64, N = B * T;
    Model m;
    if (build(&m, c, 9, B, T)) return;
    int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
    random_batch(in, tg, N, c.vocab_size, 31);
    for (int i = 0; i < N; i += 7) tg[i] = -1;
    float *g[3];
    float loss[3];
    int nt = omp_get_max_threads();
    for (int k = 0; k < 3; k++) {
        omp_set_num_threads(k == 2 ? 1 : (nt > 1 ? nt : 2));
        loss[k] = one_pass(&m, in, tg, B, T);
        g[k] = grads_copy(&m);
    }
    omp_set_num_threads(nt);
    CHECK(loss[0] == loss[1] && memcmp(g[0], g[1], m.n_params * sizeof(float)) == 0, "bit_identical_passes_large",
          "repeated passes differ");
    CHECK(loss[0] == loss[2] && memcmp(g[0], g[2], m.n_params * sizeof(float)) == 0, "omp_thread_count_independent",
          "1 vs %d OpenMP threads differ", nt > 1 ? nt : 2);
    for (int k = 0; k < 3; k++) free(g[k]);
    free(in), free(tg);
    model_free(&m);
}

static void test_init(void) {
    ModelConfig c = test_model_config(128, 344, 4, 2, 1000, 16);
    Model m, m2;
    Err e = {{0}};
    if (model_build(&m, &c, &e) || model_build(&m2, &c, &e)) {
        CHECK(0, "init_build", "%s", e.msg);
        return;
    }
    model_init_weights(&m, 42);
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    model_init_weights(&m2, 42);
    omp_set_num_threads(nt);
    CHECK(memcmp(m.params, m2.params, m.n_params * sizeof(float)) == 0, "init_thread_independent",
          "init differs with 1 thread");
    model_init_weights(&m2, 43);
    CHECK(memcmp(m.params, m2.params, m.n_params * sizeof(float)) != 0, "init_seed_matters", "same weights");
    int norms_one = 1;
    double s = 0, s2 = 0, n = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const TensorInfo *t = &m.tensors[i];
        const float *p = m.params + t->offset;
        double ts = 0, ts2 = 0;
        for (size_t j = 0; j < t->size; j++) {
            if (t->kind == KIND_NORM) norms_one &= p[j] == 1.0f;
            else ts += p[j], ts2 += (double)p[j] * p[j];
        }
        if (t->kind != KIND_NORM) {
            s += ts, s2 += ts2, n += t->size;
            double sd = sqrt(ts2 / t->size);
            char nm[160];
            snprintf(nm, sizeof nm, "init_std_%s", t->name);
            /* std of the std estimate is 0.02/sqrt(2 size) <= 0.02 * 0.006 for these sizes; allow 5 sigma */
            CHECK(fabs(sd - 0.02) < 0.02 * 5 / sqrt(2.0 * t->size), nm, "std %g", sd);
        }
    }
    CHECK(norms_one, "init_norms_one", "a norm weight is not 1");
    CHECK(fabs(s / n) < 5 * 0.02 / sqrt(n), "init_mean_zero", "mean %g", s / n);
    model_free(&m);
    model_free(&m2);
}

/* The estimate must match what the model really allocates (glibc's own accounting, mallinfo2),
 * within 10%, for training (grads, moments, backward scratch) and for evaluation. */
static void test_estimate(void) {
    ModelConfig c = test_model_config(64, 172, 4, 2, 512, 256);
    for (int training = 1; training >= 0; training--) {
        Model m;
        Err e = {{0}};
        size_t before = heap_bytes();
        if (model_build(&m, &c, &e) || (training && model_alloc_train(&m, &e)) || model_alloc_acts(&m, 4, 128, &e)) {
            CHECK(0, "estimate_build", "%s", e.msg);
            return;
        }
        size_t used = heap_bytes() - before, est = model_estimate_bytes(&c, 4, 128, training);
        char nm[64];
        snprintf(nm, sizeof nm, "estimate_matches_allocation_%s", training ? "train" : "eval");
        if (used < m.n_params * sizeof(float)) /* e.g. under ASan, whose allocator mallinfo2 cannot see */
            SKIP(nm, "this allocator does not report its usage through mallinfo2");
        else CHECK(fabs((double)est - (double)used) < 0.1 * used, nm, "estimate %zu, allocated %zu", est, used);
        if (training) CHECK(est > m.n_params * 16, "estimate_exceeds_16B_per_param", "%zu", est);
        model_free(&m);
    }
    /* the logits term alone is 4*B*T*V bytes per extra sequence */
    size_t e1 = model_estimate_bytes(&c, 1, 128, 1), e2 = model_estimate_bytes(&c, 2, 128, 1);
    CHECK(e2 - e1 >= (size_t)4 * 128 * 512, "estimate_counts_logits", "%zu", e2 - e1);
}

int main(void) {
    test_table();
    test_views();
    test_gradients();
    test_mask();
    test_determinism_and_causality();
    test_threads();
    test_init();
    test_estimate();
    return check_summary();
}
