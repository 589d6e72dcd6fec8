/* model.c - the LLaMA decoder of model.h: module table, parameter buffers, init, activations,
 * forward and backward.
 *
 * Fusions that rely on the table order (model.h): q, k, v of a layer are consecutive, so they form one
 * (3C, C) weight and one GEMM writes a (N, 3C) qkv buffer; gate and up are consecutive, one (2I, C)
 * weight writing (N, 2I). The residual adds are folded into o_proj and down_proj (GEMM with beta = 1
 * on a copy of the residual stream).
 *
 * Memory: the activations saved for backward and the backward scratch are sized once by acts_layout,
 * which both model_alloc_acts and model_estimate_bytes use, so the estimate is what gets allocated. */
#include "model.h"

#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ModelActs {
    int B, T;            /* capacity */
    float *mem;          /* one block holding every float buffer below */
    size_t mem_floats;
    /* saved by the forward pass; per-layer buffers are [L][capacity] */
    float *res;          /* (L+1, N, C) residual stream entering each layer; res[L] enters the final norm */
    float *res_mid;      /* (L, N, C) after the attention block */
    float *ln1, *ln2;    /* (L, N, C) normed inputs of attention and MLP */
    float *rstd1, *rstd2;/* (L, N) */
    float *qkv;          /* (L, N, 3C) q, k after RoPE; v */
    float *att;          /* (L, B, H, T, T) softmax probabilities */
    float *atty;         /* (L, N, C) attention output before o_proj */
    float *gu;           /* (L, N, 2I) gate, up pre-activations */
    float *hmlp;         /* (L, N, I) silu(gate) * up */
    float *lnf, *rstdf;  /* (N, C), (N) */
    float *logits;       /* (N, V); dlogits after backward */
    float *lse, *losses; /* (N) */
    float *rope_cos, *rope_sin; /* (T, D/2) */
    /* backward scratch, allocated with the activations when grads exist, else on first backward */
    float *bmem;
    float *d_res, *d_tmp, *d_qkv, *d_gu, *d_h, *d_att, *d_norm;
    int *inputs, *targets; /* (N) copies of the last forward's ids */
    int fwd_B, fwd_T, have_targets, n_valid;
};

/* ---------------------------------------------------------------- table */

const char *module_type_name(ModuleType t) {
    static const char *names[] = {"embed", "attn_norm", "q", "k", "v", "o", "mlp_norm",
                                  "gate", "up", "down", "norm", "lm_head"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void model_add_tensor(Model *m, const char *name, int rows, int cols, TensorKind kind, int layer, ModuleType type) {
    TensorInfo *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->offset = m->n_params;
    t->size = (size_t)rows * cols;
    t->kind = kind;
    t->layer = layer;
    t->type = type;
    m->n_params += t->size;
}

static int check_config(const ModelConfig *c, Err *e) {
    if (c->hidden_size <= 0 || c->intermediate_size <= 0 || c->num_attention_heads <= 0 ||
        c->num_hidden_layers <= 0 || c->vocab_size <= 0 || c->max_position_embeddings <= 0)
        return err_set(e, "model config: sizes must be positive (hidden %d, intermediate %d, heads %d, "
                          "layers %d, vocab %d, max positions %d)",
                       c->hidden_size, c->intermediate_size, c->num_attention_heads, c->num_hidden_layers,
                       c->vocab_size, c->max_position_embeddings);
    if (c->hidden_size % c->num_attention_heads)
        return err_set(e, "model config: num_attention_heads %d does not divide hidden_size %d",
                       c->num_attention_heads, c->hidden_size);
    if ((c->hidden_size / c->num_attention_heads) % 2)
        return err_set(e, "model config: head dim %d must be even for RoPE",
                       c->hidden_size / c->num_attention_heads);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0) || !(c->initializer_range >= 0))
        return err_set(e, "model config: rms_norm_eps and rope_theta must be > 0, initializer_range >= 0");
    if (c->hidden_size > 1 << 20 || c->intermediate_size > 1 << 20 || c->vocab_size > 1 << 24 ||
        c->num_hidden_layers > 4096 || c->max_position_embeddings > 1 << 20)
        return err_set(e, "model config: a size is implausibly large");
    return 0;
}

int model_build(Model *m, const ModelConfig *c, Err *e) {
    memset(m, 0, sizeof *m);
    if (check_config(c, e)) return -1;
    m->cfg = *c;
    int L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    m->tensors = xcalloc((size_t)9 * L + 3, sizeof(TensorInfo));
    char nm[96];
    model_add_tensor(m, "model.embed_tokens.weight", V, C, KIND_EMBEDDING, -1, MT_EMBED);
    for (int l = 0; l < L; l++) {
        static const char *attn[] = {"q", "k", "v", "o"};
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", l);
        model_add_tensor(m, nm, 1, C, KIND_NORM, l, MT_ATTN_NORM);
        for (int i = 0; i < 4; i++) {
            snprintf(nm, sizeof nm, "model.layers.%d.self_attn.%s_proj.weight", l, attn[i]);
            model_add_tensor(m, nm, C, C, KIND_LINEAR, l, (ModuleType)(MT_Q + i));
        }
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", l);
        model_add_tensor(m, nm, 1, C, KIND_NORM, l, MT_MLP_NORM);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.gate_proj.weight", l);
        model_add_tensor(m, nm, I, C, KIND_LINEAR, l, MT_GATE);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.up_proj.weight", l);
        model_add_tensor(m, nm, I, C, KIND_LINEAR, l, MT_UP);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.down_proj.weight", l);
        model_add_tensor(m, nm, C, I, KIND_LINEAR, l, MT_DOWN);
    }
    model_add_tensor(m, "model.norm.weight", 1, C, KIND_NORM, -1, MT_FINAL_NORM);
    model_add_tensor(m, "lm_head.weight", V, C, KIND_LM_HEAD, -1, MT_LM_HEAD);
    m->params = calloc(m->n_params, sizeof(float));
    m->wd = calloc((size_t)m->n_tensors, sizeof(double));
    if (!m->params || !m->wd) {
        size_t np = m->n_params;
        model_free(m);
        return err_set(e, "model: cannot allocate %.1f MB of parameters", np * 4.0 / 1e6);
    }
    return 0;
}

static void free_acts(ModelActs *a) {
    if (!a) return;
    free(a->mem);
    free(a->bmem);
    free(a->inputs);
    free(a->targets);
    free(a);
}

void model_free(Model *m) {
    if (!m) return;
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    free(m->wd);
    free_acts(m->acts);
    memset(m, 0, sizeof *m);
}

int model_find_tensor(const Model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

/* ---------------------------------------------------------------- init */

/* Each tensor is filled in chunks of INIT_CHUNK values, chunk j of tensor i from its own RNG stream
 * seeded by (seed, i, j): the weights do not depend on the thread count, and init runs in parallel. */
#define INIT_CHUNK 65536

void model_init_weights(Model *m, uint64_t seed) {
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (t->kind == KIND_NORM) {
            for (size_t j = 0; j < t->size; j++) p[j] = 1.0f;
            continue;
        }
        double sd = m->cfg.initializer_range;
        long nch = (long)((t->size + INIT_CHUNK - 1) / INIT_CHUNK);
#pragma omp parallel for schedule(static)
        for (long c = 0; c < nch; c++) {
            Rng r;
            rng_seed(&r, seed * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)i << 40) ^ (uint64_t)c);
            size_t j0 = (size_t)c * INIT_CHUNK, j1 = j0 + INIT_CHUNK < t->size ? j0 + INIT_CHUNK : t->size;
            for (size_t j = j0; j < j1; j++) p[j] = (float)(sd * rng_normal(&r));
        }
    }
}

int model_alloc_train(Model *m, Err *e) {
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    m->grads = calloc(m->n_params, sizeof(float));
    m->adam_m = calloc(m->n_params, sizeof(float));
    m->adam_v = calloc(m->n_params, sizeof(float));
    if (!m->grads || !m->adam_m || !m->adam_v) {
        free(m->grads);
        free(m->adam_m);
        free(m->adam_v);
        m->grads = m->adam_m = m->adam_v = NULL;
        return err_set(e, "model: cannot allocate %.1f MB for gradients and Adam moments",
                       m->n_params * 12.0 / 1e6);
    }
    return 0;
}

/* ---------------------------------------------------------------- activation layout */

typedef struct {
    size_t fwd;  /* floats saved by the forward pass */
    size_t bwd;  /* floats of backward scratch */
    size_t ints; /* ints (inputs, targets) */
} ActSizes;

static ActSizes acts_layout(const ModelConfig *c, int B, int T) {
    size_t L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    size_t H = c->num_attention_heads, D = C / H, N = (size_t)B * T, TT = (size_t)T * T;
    ActSizes s;
    s.fwd = (L + 1) * N * C               /* res */
            + L * N * C * 4               /* res_mid, ln1, ln2, atty */
            + L * N * 2                   /* rstd1, rstd2 */
            + L * N * 3 * C               /* qkv */
            + L * B * H * TT              /* att */
            + L * N * 3 * I               /* gu, hmlp */
            + N * C + N                   /* lnf, rstdf */
            + N * V + 2 * N               /* logits, lse, losses */
            + (size_t)T * D;              /* rope cos + sin */
    s.bwd = N * C * 2 + N * 3 * C + N * 3 * I + B * H * TT + rmsnorm_scratch_floats((int)N, (int)C);
    s.ints = 2 * N;
    return s;
}

static float *carve(float **p, size_t n) {
    float *r = *p;
    *p += n;
    return r;
}

/* must_succeed: called lazily from model_backward, which cannot report errors: xcalloc aborts on OOM. */
static int alloc_backward_scratch(Model *m, int must_succeed) {
    ModelActs *a = m->acts;
    const ModelConfig *c = &m->cfg;
    size_t C = c->hidden_size, I = c->intermediate_size, H = c->num_attention_heads;
    size_t N = (size_t)a->B * a->T;
    ActSizes s = acts_layout(c, a->B, a->T);
    a->bmem = must_succeed ? xcalloc(s.bwd, sizeof(float)) : malloc(s.bwd * sizeof(float));
    if (!a->bmem) return -1;
    float *p = a->bmem;
    a->d_res = carve(&p, N * C);
    a->d_tmp = carve(&p, N * C);
    a->d_qkv = carve(&p, N * 3 * C);
    a->d_gu = carve(&p, N * 2 * I);
    a->d_h = carve(&p, N * I);
    a->d_att = carve(&p, (size_t)a->B * H * a->T * a->T);
    a->d_norm = carve(&p, rmsnorm_scratch_floats((int)N, (int)C));
    return 0;
}

int model_alloc_acts(Model *m, int B, int T, Err *e) {
    const ModelConfig *c = &m->cfg;
    if (B <= 0 || T <= 0) return err_set(e, "model: micro-batch shape %d x %d must be positive", B, T);
    if (T > c->max_position_embeddings)
        return err_set(e, "model: seq_len %d exceeds max_position_embeddings %d", T, c->max_position_embeddings);
    free_acts(m->acts);
    m->acts = NULL;
    ModelActs *a = calloc(1, sizeof *a);
    if (!a) return err_set(e, "model: out of memory");
    size_t L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    size_t H = c->num_attention_heads, D = C / H, N = (size_t)B * T;
    ActSizes s = acts_layout(c, B, T);
    a->B = B;
    a->T = T;
    a->mem = malloc(s.fwd * sizeof(float));
    a->inputs = malloc(N * sizeof(int));
    a->targets = malloc(N * sizeof(int));
    m->acts = a;
    if (!a->mem || !a->inputs || !a->targets || (m->grads && alloc_backward_scratch(m, 0))) {
        free_acts(a);
        m->acts = NULL;
        return err_set(e, "model: cannot allocate %.1f MB of activations for micro-batch %d x %d",
                       (s.fwd + (m->grads ? s.bwd : 0)) * 4.0 / 1e6, B, T);
    }
    float *p = a->mem;
    a->res = carve(&p, (L + 1) * N * C);
    a->res_mid = carve(&p, L * N * C);
    a->ln1 = carve(&p, L * N * C);
    a->ln2 = carve(&p, L * N * C);
    a->atty = carve(&p, L * N * C);
    a->rstd1 = carve(&p, L * N);
    a->rstd2 = carve(&p, L * N);
    a->qkv = carve(&p, L * N * 3 * C);
    a->att = carve(&p, L * (size_t)B * H * T * T);
    a->gu = carve(&p, L * N * 2 * I);
    a->hmlp = carve(&p, L * N * I);
    a->lnf = carve(&p, N * C);
    a->rstdf = carve(&p, N);
    a->logits = carve(&p, N * V);
    a->lse = carve(&p, N);
    a->losses = carve(&p, N);
    a->rope_cos = carve(&p, (size_t)T * D / 2);
    a->rope_sin = carve(&p, (size_t)T * D / 2);
    rope_tables(a->rope_cos, a->rope_sin, T, (int)D, c->rope_theta);
    m->B = B;
    m->T = T;
    return 0;
}

size_t model_estimate_bytes(const ModelConfig *c, int B, int T, int training) {
    size_t L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    size_t n_params = 2 * V * C + L * (4 * C * C + 3 * C * I + 2 * C) + C;
    ActSizes s = acts_layout(c, B, T);
    size_t bytes = n_params * sizeof(float) * (training ? 4 : 1);
    bytes += (9 * L + 3) * (sizeof(TensorInfo) + sizeof(double));
    bytes += (s.fwd + (training ? s.bwd : 0)) * sizeof(float) + s.ints * sizeof(int);
    return bytes;
}

/* ---------------------------------------------------------------- profiling (off by default) */

/* Built with -DMODEL_PROFILE, every kernel call is timed into model_prof[] (seconds per category):
 * a development aid for finding where a step's time goes; the normal build compiles it away. */
#ifdef MODEL_PROFILE
enum { P_LINEAR, P_ATTN, P_NORM, P_ROPE, P_SWIGLU, P_CE, P_EMBED, P_COPY, P_N };
double model_prof[P_N];
static double prof_t;
#define PROF_START() (prof_t = now_seconds())
#define PROF(k) (model_prof[k] += now_seconds() - prof_t, prof_t = now_seconds())
#else
#define PROF_START() ((void)0)
#define PROF(k) ((void)0)
#endif

/* ---------------------------------------------------------------- forward */

/* Offset of layer l's first tensor (input_layernorm). The layer's tensors follow contiguously in table
 * order: ln1 (C), q, k, v, o (C x C each), ln2 (C), gate, up (I x C each), down (C x I). */
static size_t layer_base(const Model *m, int l) { return m->tensors[1 + 9 * l].offset; }

float model_forward(Model *m, const int *inputs, const int *targets, int B, int T, int *n_valid) {
    ModelActs *a = m->acts;
    const ModelConfig *c = &m->cfg;
    int L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int H = c->num_attention_heads, D = C / H, N = B * T;
    if (n_valid) *n_valid = 0;
    if (!a || B > a->B || T > a->T || B <= 0 || T <= 0) return NAN;
    /* ids outside the vocabulary would read outside the embedding: refuse them (NaN loss) */
    for (int n = 0; n < N; n++)
        if (inputs[n] < 0 || inputs[n] >= V || (targets && (targets[n] < -1 || targets[n] >= V))) return NAN;
    memcpy(a->inputs, inputs, (size_t)N * sizeof(int));
    a->fwd_B = B;
    a->fwd_T = T;
    a->have_targets = targets != NULL;
    size_t NC = (size_t)N * C, capNC = (size_t)a->B * a->T * C, capN = (size_t)a->B * a->T;
    size_t capATT = (size_t)a->B * H * a->T * a->T;
    const float *P = m->params;

    PROF_START();
    embedding_forward(a->res, inputs, P + m->tensors[0].offset, N, C);
    PROF(P_EMBED);
    for (int l = 0; l < L; l++) {
        size_t base = layer_base(m, l);
        const float *w_ln1 = P + base, *w_qkv = w_ln1 + C, *w_o = w_qkv + (size_t)3 * C * C;
        const float *w_ln2 = w_o + (size_t)C * C, *w_gu = w_ln2 + C, *w_down = w_gu + (size_t)2 * I * C;
        float *res = a->res + l * capNC, *res_mid = a->res_mid + l * capNC, *res_out = a->res + (l + 1) * capNC;
        float *ln1 = a->ln1 + l * capNC, *ln2 = a->ln2 + l * capNC, *atty = a->atty + l * capNC;
        float *qkv = a->qkv + 3 * l * capNC, *att = a->att + l * capATT;
        float *gu = a->gu + (size_t)2 * I * l * capN, *hm = a->hmlp + (size_t)I * l * capN;

        rmsnorm_forward(ln1, a->rstd1 + l * capN, res, w_ln1, N, C, (float)c->rms_norm_eps);
        PROF(P_NORM);
        linear_forward(qkv, ln1, w_qkv, N, C, 3 * C, 0.0f);
        PROF(P_LINEAR);
        rope_forward(qkv, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, D); /* q and k: 2H adjacent heads */
        PROF(P_ROPE);
        attention_forward(atty, C, att, qkv, qkv + C, qkv + 2 * C, 3 * C, B, T, H, D);
        PROF(P_ATTN);
        vec_copy(res_mid, res, NC);
        PROF(P_COPY);
        linear_forward(res_mid, atty, w_o, N, C, C, 1.0f); /* res_mid = res + o_proj(atty) */
        PROF(P_LINEAR);

        rmsnorm_forward(ln2, a->rstd2 + l * capN, res_mid, w_ln2, N, C, (float)c->rms_norm_eps);
        PROF(P_NORM);
        linear_forward(gu, ln2, w_gu, N, C, 2 * I, 0.0f);
        PROF(P_LINEAR);
        swiglu_forward(hm, gu, N, I);
        PROF(P_SWIGLU);
        vec_copy(res_out, res_mid, NC);
        PROF(P_COPY);
        linear_forward(res_out, hm, w_down, N, I, C, 1.0f); /* res_out = res_mid + down(h) */
        PROF(P_LINEAR);
    }
    const TensorInfo *tn = &m->tensors[m->n_tensors - 2], *th = &m->tensors[m->n_tensors - 1];
    rmsnorm_forward(a->lnf, a->rstdf, a->res + L * capNC, P + tn->offset, N, C, (float)c->rms_norm_eps);
    PROF(P_NORM);
    linear_forward(a->logits, a->lnf, P + th->offset, N, C, V, 0.0f);
    PROF(P_LINEAR);
    if (!targets) {
        a->n_valid = 0;
        return 0.0f;
    }
    memcpy(a->targets, targets, (size_t)N * sizeof(int));
    float loss = crossentropy_forward(a->lse, a->losses, a->logits, targets, N, V, &a->n_valid);
    PROF(P_CE);
    if (n_valid) *n_valid = a->n_valid;
    return loss;
}

float *model_logits(Model *m) { return m->acts ? m->acts->logits : NULL; }

void model_zero_grad(Model *m) {
    if (m->grads) vec_zero(m->grads, m->n_params);
}

/* ---------------------------------------------------------------- backward */

void model_backward(Model *m, float scale) {
    ModelActs *a = m->acts;
    if (!a || !a->have_targets || !m->grads) return;
    if (!a->bmem) alloc_backward_scratch(m, 1);
    const ModelConfig *c = &m->cfg;
    int L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int H = c->num_attention_heads, D = C / H, B = a->fwd_B, T = a->fwd_T, N = B * T;
    size_t capNC = (size_t)a->B * a->T * C, capN = (size_t)a->B * a->T;
    size_t capATT = (size_t)a->B * H * a->T * a->T;
    const float *P = m->params;
    float *G = m->grads;
    const TensorInfo *tn = &m->tensors[m->n_tensors - 2], *th = &m->tensors[m->n_tensors - 1];

    float dscale = a->n_valid ? scale / (float)a->n_valid : 0.0f;
    PROF_START();
    crossentropy_backward(a->logits, a->logits, a->lse, a->targets, N, V, dscale); /* dlogits in place */
    PROF(P_CE);
    linear_backward(a->d_tmp, G + th->offset, a->logits, a->lnf, P + th->offset, N, C, V, 0.0f);
    PROF(P_LINEAR);
    vec_zero(a->d_res, (size_t)N * C);
    rmsnorm_backward(a->d_res, G + tn->offset, a->d_norm, a->d_tmp, a->res + L * capNC, P + tn->offset,
                     a->rstdf, N, C);
    PROF(P_NORM);

    for (int l = L - 1; l >= 0; l--) {
        size_t base = layer_base(m, l);
        const float *w_ln1 = P + base, *w_qkv = w_ln1 + C, *w_o = w_qkv + (size_t)3 * C * C;
        const float *w_ln2 = w_o + (size_t)C * C, *w_gu = w_ln2 + C, *w_down = w_gu + (size_t)2 * I * C;
        float *g_ln1 = G + base, *g_qkv = g_ln1 + C, *g_o = g_qkv + (size_t)3 * C * C;
        float *g_ln2 = g_o + (size_t)C * C, *g_gu = g_ln2 + C, *g_down = g_gu + (size_t)2 * I * C;
        float *res = a->res + l * capNC, *res_mid = a->res_mid + l * capNC;
        float *ln1 = a->ln1 + l * capNC, *ln2 = a->ln2 + l * capNC, *atty = a->atty + l * capNC;
        float *qkv = a->qkv + 3 * l * capNC, *att = a->att + l * capATT;
        float *gu = a->gu + (size_t)2 * I * l * capN, *hm = a->hmlp + (size_t)I * l * capN;

        /* MLP block: d_res is the gradient of res_out and passes through the residual unchanged */
        linear_backward(a->d_h, g_down, a->d_res, hm, w_down, N, I, C, 0.0f);
        PROF(P_LINEAR);
        swiglu_backward(a->d_gu, a->d_h, gu, N, I);
        PROF(P_SWIGLU);
        linear_backward(a->d_tmp, g_gu, a->d_gu, ln2, w_gu, N, C, 2 * I, 0.0f);
        PROF(P_LINEAR);
        rmsnorm_backward(a->d_res, g_ln2, a->d_norm, a->d_tmp, res_mid, w_ln2, a->rstd2 + l * capN, N, C);
        PROF(P_NORM);

        /* attention block: d_tmp first holds d(atty), then d(ln1) */
        linear_backward(a->d_tmp, g_o, a->d_res, atty, w_o, N, C, C, 0.0f);
        PROF(P_LINEAR);
        attention_backward(a->d_qkv, a->d_qkv + C, a->d_qkv + 2 * C, 3 * C, a->d_att, a->d_tmp, C, att, qkv,
                           qkv + C, qkv + 2 * C, 3 * C, B, T, H, D);
        PROF(P_ATTN);
        rope_backward(a->d_qkv, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, D); /* dq and dk */
        PROF(P_ROPE);
        linear_backward(a->d_tmp, g_qkv, a->d_qkv, ln1, w_qkv, N, C, 3 * C, 0.0f);
        PROF(P_LINEAR);
        rmsnorm_backward(a->d_res, g_ln1, a->d_norm, a->d_tmp, res, w_ln1, a->rstd1 + l * capN, N, C);
        PROF(P_NORM);
    }
    embedding_backward(G + m->tensors[0].offset, a->d_res, a->inputs, N, C);
    PROF(P_EMBED);
    a->have_targets = 0; /* logits now hold dlogits: a second backward would be wrong */
}
