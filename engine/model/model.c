/* model.c - the LLaMA decoder of model.h: module table, parameter buffers, init, activations,
 * forward and backward.
 *
 * The passes reach tensors only through their offsets m->at (model_offsets), built once from the table,
 * in whichever buffer holds them (fp32 params/grads, the bf16 copy wbf, or bf16_pure's hw/hg). Fusions
 * that rely on the table order (model.h): q, k, v of a layer are consecutive, so they form one (3C, C)
 * weight and one GEMM writes a (N, 3C) qkv buffer; gate and up are consecutive, one (2I, C) weight
 * writing (N, 2I); model_offsets checks the adjacency. The residual adds are folded into
 * o_proj and down_proj (GEMM with beta = 1 on a copy of the residual stream).
 *
 * Memory: the activations saved for backward and the backward scratch are laid out by carve_forward
 * and carve_backward, which both size the blocks (counting mode) and assign the pointers; the memory
 * estimate runs the same functions and the same table, so it is what gets allocated.
 *
 * Precision (model.h): in the bf16 modes the Linear products run through mm_bf16 (matmul_bf16.h) on the
 * bf16 weight copy m->wbf, and the activations that only feed those products (ln1, ln2, atty, hmlp, lnf)
 * are saved in bf16 (a second block, ModelActs.hmem), written rounded by their producers (the _bf16 forms of
 * RMSNorm, attention and SwiGLU in kernels.h) rather than converted in a pass of their own. q/k/v, the
 * attention probabilities and the gate/up values are computed in one-layer fp32 working buffers and saved in
 * bf16: the attention kernel rounds its probabilities and widens them back pair by pair, SwiGLU's forward
 * rounds and saves the gate/up values and its backward reads them, q/k/v are rounded and kept by the RoPE pass
 * and widened back by the attention backward pair by pair. bf16_pure's roundings of the residual stream happen
 * inside the RMSNorm that reads it (forward) or writes its gradient (backward), and its logits are written rounded
 * by the lm_head product itself (a bf16 destination, mm_bf16_round) and read in bf16 by the loss. Output gradients
 * reach the products in bf16, written rounded by their producers (douth_ready): the loss, SwiGLU's backward,
 * RMSNorm's backward (d_res, for o_proj and down_proj) and RoPE's backward (dq, dk, dv); lin_bwd rounds any other
 * itself. bf16_pure's weight gradients are accumulated by the
 * product itself into the bf16 gradients (mm_bf16_acc).
 * Every fusion computes the same numbers as the separate passes did (tests/test_bf16_kernels.c; issue 28).
 * The residual stream, the RMSNorm scales and (but for bf16_pure) the logits stay fp32. bf16_pure reads its bf16
 * weights and accumulates into its bf16 gradients through norm_w and grad_acc / grad_store. */
#include "model.h"

#include "bf16_vec.h"
#include "kernels.h"
#include "prof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One layer's activations saved by the forward pass: pointers into ModelActs.mem, each of the
 * micro-batch capacity (N = B*T rows). */
typedef struct {
    float *res;                          /* (N, C) residual stream entering the layer */
    float *res_mid;                      /* (N, C) after the attention block */
    float *res_out;                      /* (N, C) leaving the layer: the next layer's res, or ModelActs.res_final */
    float *ln1, *ln2;                    /* (N, C) normed inputs of attention and MLP */
    bf16_t *ln1h, *ln2h, *attyh, *hmlph; /* bf16 modes: these four in bf16 (the fp32 ones are then NULL) */
    float *rstd1, *rstd2;                /* (N) */
    float *qkv;                          /* (N, 3C) q, k after RoPE; v */
    float *att;                          /* (B, H, T, T) softmax probabilities */
    float *atty;                         /* (N, C) attention output before o_proj */
    float *gu;                           /* (N, 2I) gate, up pre-activations */
    bf16_t *qkvh, *atth, *guh; /* bf16 modes: qkv, att, gu saved in bf16; the fp32 pointers above then all point
                                * to ModelActs' one-layer working buffers (take_saved) */
    float *hmlp;               /* (N, I) silu(gate) * up */
} LayerActs;

struct ModelActs {
    int B, T;                   /* capacity */
    Precision prec;             /* what the blocks were carved for */
    float *mem;                 /* one block holding every float buffer below (carve_forward) */
    bf16_t *hmem;               /* bf16 modes: the block of the bf16 buffers (ln1h ... lnfh, douth: carve_*) */
    LayerActs *layer;           /* num_hidden_layers */
    float *res_final;           /* (N, C) residual stream entering the final norm */
    float *lnf, *rstdf;         /* (N, C), (N) */
    bf16_t *lnfh;               /* bf16 modes: lnf in bf16 */
    float *xf;                  /* bf16 modes: (N, max(C, I)) a product input in fp32 before it is rounded */
    float *wvec;                /* bf16_pure: (C) a norm weight widened to fp32 for its kernel */
    float *logits;              /* (N, V); dlogits after backward (fp32 mode). bf16_pure: allocated by the first
                                 * model_logits, which widens logitsh into it */
    bf16_t *logitsh;            /* bf16_pure: (N, V) the logits, rounded by the lm_head product */
    int logits_stale;           /* bf16_pure: logits (if allocated) not yet widened from this forward's logitsh */
    float *lse, *losses;        /* (N) */
    float *rope_cos, *rope_sin; /* (T, D/2) */
    /* backward scratch (carve_backward), allocated with the activations when grads exist, else on
     * the first backward */
    float *bmem;
    float *d_res, *d_tmp, *d_qkv, *d_gu, *d_h, *d_att, *d_norm;
    bf16_t *bhmem;         /* bf16 modes: the backward's bf16 block */
    bf16_t *douth;         /* (N, max(3C, 2I, V)) a product's output gradient rounded to bf16 */
    int douth_ready;       /* its producer wrote the next lin_bwd's output gradient there already (fused rounding) */
    float *gacc;           /* bf16_pure: (N x C) a norm weight's gradient (C), or the embedding gradient's rows of
                          * the micro-batch's tokens, widened to fp32, accumulated into by the backward kernel,
                          * then rounded back */
    int *inputs, *targets; /* (N) copies of the last forward's ids */
    int fwd_B, fwd_T, have_targets, n_valid;
};

/* ---------------------------------------------------------------- table */

const char *module_type_name(ModuleType t) {
    static const char *names[] = {"embed",    "attn_norm", "q",  "k",    "v",    "o",
                                  "mlp_norm", "gate",      "up", "down", "norm", "lm_head"};
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

/* One layer's tensors in Hugging Face state_dict order; shapes in units of the config's sizes. */
enum { DIM_ONE, DIM_HIDDEN, DIM_INTER };
static const struct {
    const char *name; /* between "model.layers.<l>." and ".weight" */
    TensorKind kind;
    ModuleType type;
    int rows, cols; /* DIM_* */
} LAYER_TENSORS[] = {
    {"input_layernorm", KIND_NORM, MT_ATTN_NORM, DIM_ONE, DIM_HIDDEN},
    {"self_attn.q_proj", KIND_LINEAR, MT_Q, DIM_HIDDEN, DIM_HIDDEN},
    {"self_attn.k_proj", KIND_LINEAR, MT_K, DIM_HIDDEN, DIM_HIDDEN},
    {"self_attn.v_proj", KIND_LINEAR, MT_V, DIM_HIDDEN, DIM_HIDDEN},
    {"self_attn.o_proj", KIND_LINEAR, MT_O, DIM_HIDDEN, DIM_HIDDEN},
    {"post_attention_layernorm", KIND_NORM, MT_MLP_NORM, DIM_ONE, DIM_HIDDEN},
    {"mlp.gate_proj", KIND_LINEAR, MT_GATE, DIM_INTER, DIM_HIDDEN},
    {"mlp.up_proj", KIND_LINEAR, MT_UP, DIM_INTER, DIM_HIDDEN},
    {"mlp.down_proj", KIND_LINEAR, MT_DOWN, DIM_HIDDEN, DIM_INTER},
};
#define N_LAYER_TENSORS ((int)(sizeof LAYER_TENSORS / sizeof LAYER_TENSORS[0]))

/* Not a second validation of the experiment file: model_build also takes the config.json of a checkpoint or
 * Hugging Face directory (eval, sample, esd, train.init), which config.c never sees, and every size below
 * sizes a buffer or an index (a zero head count or an odd head dimension would write out of bounds). */
static int check_config(const ModelConfig *c, Err *e) {
    if (c->hidden_size <= 0 || c->intermediate_size <= 0 || c->num_attention_heads <= 0 || c->num_hidden_layers <= 0 ||
        c->vocab_size <= 0 || c->max_position_embeddings <= 0)
        return err_set(e,
                       "model config: sizes must be positive (hidden %d, intermediate %d, heads %d, "
                       "layers %d, vocab %d, max positions %d)",
                       c->hidden_size, c->intermediate_size, c->num_attention_heads, c->num_hidden_layers,
                       c->vocab_size, c->max_position_embeddings);
    if (c->hidden_size % c->num_attention_heads)
        return err_set(e, "model config: num_attention_heads %d does not divide hidden_size %d", c->num_attention_heads,
                       c->hidden_size);
    if ((c->hidden_size / c->num_attention_heads) % 2)
        return err_set(e, "model config: head dim %d must be even for RoPE", c->hidden_size / c->num_attention_heads);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0) || !(c->initializer_range >= 0))
        return err_set(e, "model config: rms_norm_eps and rope_theta must be > 0, initializer_range >= 0");
    if (c->hidden_size > 1 << 20 || c->intermediate_size > 1 << 20 || c->vocab_size > 1 << 24 ||
        c->num_hidden_layers > 4096 || c->max_position_embeddings > 1 << 20)
        return err_set(e, "model config: a size is implausibly large");
    return 0;
}

static int dim(const ModelConfig *c, int d) {
    return d == DIM_HIDDEN ? c->hidden_size : d == DIM_INTER ? c->intermediate_size : 1;
}

/* The tensor table of config c (m->tensors, m->n_tensors, m->n_params); no parameter memory. */
static int build_table(Model *m, const ModelConfig *c, Err *e) {
    memset(m, 0, sizeof *m);
    if (check_config(c, e)) return -1;
    m->cfg = *c;
    int L = c->num_hidden_layers, C = c->hidden_size, V = c->vocab_size;
    m->tensors = xcalloc((size_t)L * N_LAYER_TENSORS + 3, sizeof(TensorInfo)); /* + embed, norm, lm_head */
    char nm[96];
    model_add_tensor(m, "model.embed_tokens.weight", V, C, KIND_EMBEDDING, -1, MT_EMBED);
    for (int l = 0; l < L; l++)
        for (int i = 0; i < N_LAYER_TENSORS; i++) {
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, LAYER_TENSORS[i].name);
            model_add_tensor(m, nm, dim(c, LAYER_TENSORS[i].rows), dim(c, LAYER_TENSORS[i].cols), LAYER_TENSORS[i].kind,
                             l, LAYER_TENSORS[i].type);
        }
    model_add_tensor(m, "model.norm.weight", 1, C, KIND_NORM, -1, MT_FINAL_NORM);
    model_add_tensor(m, "lm_head.weight", V, C, KIND_LM_HEAD, -1, MT_LM_HEAD);
    return 0;
}

int model_table(Model *m, const ModelConfig *c, Err *e) { return build_table(m, c, e); }

int model_count_params(const ModelConfig *c, size_t *total, size_t *nonembedding, Err *e) {
    Model m;
    if (build_table(&m, c, e)) return -1;
    size_t non = 0;
    for (int i = 0; i < m.n_tensors; i++)
        if (m.tensors[i].kind != KIND_EMBEDDING && m.tensors[i].kind != KIND_LM_HEAD) non += m.tensors[i].size;
    if (total) *total = m.n_params;
    if (nonembedding) *nonembedding = non;
    free(m.tensors);
    return 0;
}

double model_flops_per_token(const Model *m, int T) {
    double mm = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].kind == KIND_LINEAR || m->tensors[i].kind == KIND_LM_HEAD) mm += (double)m->tensors[i].size;
    return 6.0 * mm + 6.0 * 2.0 * m->cfg.num_hidden_layers * (double)T * m->cfg.hidden_size;
}

int model_build(Model *m, const ModelConfig *c, Err *e) {
    if (build_table(m, c, e)) return -1;
    m->params = calloc(m->n_params, sizeof(float));
    m->wd = calloc((size_t)m->n_tensors, sizeof(double));
    if (!m->params || !m->wd) {
        size_t np = m->n_params;
        model_free(m);
        return err_set(e, "model: cannot allocate %.1f MB of parameters", np * 4.0 / 1e6);
    }
    if (model_offsets(m, &m->at, e) || model_view(m, m->params, &m->w, e)) {
        model_free(m);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- views */

/* Where each tensor of one layer sits in the table (-1: not seen yet). */
typedef struct {
    int at[MT_DOWN + 1]; /* indexed by ModuleType, MT_ATTN_NORM .. MT_DOWN */
} LayerSlots;

/* The tensor of type `after` must start where `first` ends, with first's shape: the fused GEMMs read
 * them as one weight. */
static int adjacent(const Model *m, const LayerSlots *s, ModuleType first, ModuleType after) {
    const TensorInfo *a = &m->tensors[s->at[first]], *b = &m->tensors[s->at[after]];
    return b->offset == a->offset + a->size && b->rows == a->rows && b->cols == a->cols;
}

int model_offsets(const Model *m, ModelAt *at, Err *e) {
    int L = m->cfg.num_hidden_layers;
    memset(at, 0, sizeof *at);
    if (L <= 0) return err_set(e, "model: no layers to view");
    LayerSlots *slots = xcalloc((size_t)L, sizeof *slots);
    for (int l = 0; l < L; l++)
        for (int k = 0; k <= MT_DOWN; k++) slots[l].at[k] = -1;
    int rc = 0, seen[3] = {0, 0, 0}; /* embed, final norm, lm_head */
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const TensorInfo *t = &m->tensors[i];
        int g = t->type == MT_EMBED ? 0 : t->type == MT_FINAL_NORM ? 1 : t->type == MT_LM_HEAD ? 2 : -1;
        size_t *global = g == 0 ? &at->embed : g == 1 ? &at->norm : g == 2 ? &at->lm_head : NULL;
        int in_layer = t->layer >= 0 && t->layer < L && t->type >= MT_ATTN_NORM && t->type <= MT_DOWN;
        if (t->layer < 0 && global && !seen[g]) *global = t->offset, seen[g] = 1;
        else if (in_layer && slots[t->layer].at[t->type] < 0) slots[t->layer].at[t->type] = i;
        else rc = err_set(e, "model: tensor %s has no place, or a taken one, in the LLaMA layout", t->name);
    }
    if (!rc && !(seen[0] && seen[1] && seen[2]))
        rc = err_set(e, "model: the tensor table lacks the embedding, final norm or lm_head");
    for (int l = 0; l < L && !rc; l++) {
        const LayerSlots *s = &slots[l];
        for (int k = MT_ATTN_NORM; k <= MT_DOWN && !rc; k++)
            if (s->at[k] < 0)
                rc = err_set(e, "model: layer %d lacks its %s tensor", l, module_type_name((ModuleType)k));
        if (!rc && !(adjacent(m, s, MT_Q, MT_K) && adjacent(m, s, MT_K, MT_V) && adjacent(m, s, MT_GATE, MT_UP)))
            rc = err_set(e, "model: layer %d's q, k, v or gate, up are not adjacent in the table", l);
    }
    if (!rc) {
        at->layer = xcalloc((size_t)L, sizeof(LayerAt));
        for (int l = 0; l < L; l++) {
            const LayerSlots *s = &slots[l];
            at->layer[l] = (LayerAt){m->tensors[s->at[MT_ATTN_NORM]].offset, m->tensors[s->at[MT_Q]].offset,
                                     m->tensors[s->at[MT_O]].offset,         m->tensors[s->at[MT_MLP_NORM]].offset,
                                     m->tensors[s->at[MT_GATE]].offset,      m->tensors[s->at[MT_DOWN]].offset};
        }
    }
    free(slots);
    if (rc) memset(at, 0, sizeof *at);
    return rc;
}

void model_offsets_free(ModelAt *at) {
    free(at->layer);
    memset(at, 0, sizeof *at);
}

int model_view(const Model *m, float *base, ModelView *v, Err *e) {
    ModelAt at;
    memset(v, 0, sizeof *v);
    if (model_offsets(m, &at, e)) return -1;
    int L = m->cfg.num_hidden_layers;
    v->embed = base + at.embed;
    v->norm = base + at.norm;
    v->lm_head = base + at.lm_head;
    v->layer = xcalloc((size_t)L, sizeof(LayerView));
    for (int l = 0; l < L; l++) {
        const LayerAt *a = &at.layer[l];
        v->layer[l] =
            (LayerView){base + a->ln1, base + a->qkv, base + a->o, base + a->ln2, base + a->gate_up, base + a->down};
    }
    model_offsets_free(&at);
    return 0;
}

void model_view_free(ModelView *v) {
    free(v->layer);
    memset(v, 0, sizeof *v);
}

/* fp32 mode's training buffers (gradients, Adam's two moments): freed, their pointers NULL. */
static void free_train_fp32(Model *m) {
    free(m->grads);
    free(m->adam_m);
    free(m->adam_v);
    m->grads = m->adam_m = m->adam_v = NULL;
}

static void free_acts(ModelActs *a) {
    if (!a) return;
    free(a->mem);
    free(a->bmem);
    free(a->hmem);
    free(a->bhmem);
    if (a->logitsh) free(a->logits); /* bf16_pure's is model_logits' own allocation, not part of mem */
    free(a->layer);
    free(a->inputs);
    free(a->targets);
    free(a);
}

void model_free(Model *m) {
    if (!m) return;
    model_view_free(&m->w);
    model_view_free(&m->g);
    model_offsets_free(&m->at);
    free(m->tensors);
    free(m->params);
    free_train_fp32(m);
    free(m->hw);
    free(m->hg); /* the block of hg, hm, hv */
    free(m->wd);
    free(m->wbf);
    free_acts(m->acts);
    memset(m, 0, sizeof *m);
}

int model_find_tensor(const Model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

/* Elements of the largest tensor: the size of a scratch that holds any one tensor. */
static size_t model_max_tensor(const Model *m) {
    size_t n = 1;
    for (int i = 0; i < m->n_tensors; i++) n = m->tensors[i].size > n ? m->tensors[i].size : n;
    return n;
}

const float *model_weight_f32(const Model *m, int i, float *scratch) {
    const TensorInfo *t = &m->tensors[i];
    if (m->params) return m->params + t->offset;
    bf16_widen_vec(scratch, m->hw + t->offset, t->size);
    return scratch;
}

const float *model_grad_f32(const Model *m, int i, float *scratch) {
    const TensorInfo *t = &m->tensors[i];
    if (m->grads) return m->grads + t->offset;
    if (!m->hg) return NULL;
    bf16_widen_vec(scratch, m->hg + t->offset, t->size);
    return scratch;
}

/* ---------------------------------------------------------------- init */

/* Each tensor is filled in chunks of INIT_CHUNK values, chunk j of tensor i from its own RNG stream
 * seeded by (seed, i, j): the weights do not depend on the thread count, and init runs in parallel. */
#define INIT_CHUNK 65536

/* Tensor i's initial values into p (its size floats). */
static void init_tensor(const Model *m, int i, float *p, uint64_t seed) {
    const TensorInfo *t = &m->tensors[i];
    if (t->kind == KIND_NORM) {
        for (size_t j = 0; j < t->size; j++) p[j] = 1.0f;
        return;
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

void model_init_weights(Model *m, uint64_t seed) {
    if (m->params) {
        for (int i = 0; i < m->n_tensors; i++) init_tensor(m, i, m->params + m->tensors[i].offset, seed);
    } else { /* bf16_pure: each tensor drawn in fp32 into a scratch, then rounded into hw */
        float *scratch = xcalloc(model_max_tensor(m), sizeof(float));
        for (int i = 0; i < m->n_tensors; i++) {
            init_tensor(m, i, scratch, seed);
            bf16_round_vec(m->hw + m->tensors[i].offset, scratch, m->tensors[i].size);
        }
        free(scratch);
    }
    model_params_changed(m);
}

int model_alloc_train(Model *m, Err *e) {
    if (m->prec == PREC_BF16_PURE) { /* one block: gradients, first moments, second moments */
        free(m->hg);
        m->hg = calloc(3 * m->n_params, sizeof(bf16_t));
        if (!m->hg)
            return err_set(e, "model: cannot allocate %.1f MB for bf16 gradients and Adam moments",
                           m->n_params * 6.0 / 1e6);
        m->hm = m->hg + m->n_params;
        m->hv = m->hm + m->n_params;
        return 0;
    }
    free_train_fp32(m);
    m->grads = calloc(m->n_params, sizeof(float));
    m->adam_m = calloc(m->n_params, sizeof(float));
    m->adam_v = calloc(m->n_params, sizeof(float));
    if (!m->grads || !m->adam_m || !m->adam_v) {
        free_train_fp32(m);
        return err_set(e, "model: cannot allocate %.1f MB for gradients and Adam moments", m->n_params * 12.0 / 1e6);
    }
    model_view_free(&m->g);
    return model_view(m, m->grads, &m->g, e);
}

/* ---------------------------------------------------------------- activation layout */

/* Hands out consecutive pieces of one float block. With base NULL it only counts: the same carve
 * function then sizes the block (first call) and assigns the pointers (second call), so the size and
 * the layout cannot disagree. */
typedef struct {
    float *base;
    size_t used; /* floats handed out so far */
} Carver;

static float *take(Carver *k, size_t n) {
    float *p = k->base ? k->base + k->used : NULL;
    k->used += n;
    return p;
}

/* The same for the bf16 block. */
typedef struct {
    bf16_t *base;
    size_t used;
} HCarver;

static bf16_t *take_h(HCarver *k, size_t n) {
    bf16_t *p = k->base ? k->base + k->used : NULL;
    k->used += n;
    return p;
}

/* A tensor the backward pass reads that the bf16 modes save in bf16: fp32 per layer in fp32 mode; in the bf16
 * modes bf16 per layer, and *f is the one-layer fp32 working buffer `work` the kernels compute in (the kernel after
 * the product rounds it into the layer's bf16 copy in the forward pass; the backward kernels widen or read it). */
static void take_saved(ModelActs *a, Carver *k, HCarver *kh, size_t n, float *work, float **f, bf16_t **h) {
    if (a->prec == PREC_FP32) *f = take(k, n);
    else *h = take_h(kh, n), *f = work;
}

/* A saved product input: fp32 in fp32 mode, bf16 in the bf16 modes (the other pointer stays NULL). */
static void take_input(ModelActs *a, Carver *k, HCarver *kh, size_t n, float **f, bf16_t **h) {
    if (a->prec == PREC_FP32) *f = take(k, n);
    else *h = take_h(kh, n);
}

static size_t max3(size_t a, size_t b, size_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* The forward block: per-layer buffers grouped by kind ([L][capacity]), then the head's. */
static void carve_forward(ModelActs *a, const ModelConfig *c, Carver *k, HCarver *kh) {
    int L = c->num_hidden_layers;
    size_t C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    size_t H = c->num_attention_heads, D = C / H, N = (size_t)a->B * a->T, TT = (size_t)a->T * a->T;
    for (int l = 0; l < L; l++) a->layer[l].res = take(k, N * C);
    a->res_final = take(k, N * C);
    for (int l = 0; l < L; l++) a->layer[l].res_mid = take(k, N * C);
    for (int l = 0; l < L; l++) take_input(a, k, kh, N * C, &a->layer[l].ln1, &a->layer[l].ln1h);
    for (int l = 0; l < L; l++) take_input(a, k, kh, N * C, &a->layer[l].ln2, &a->layer[l].ln2h);
    for (int l = 0; l < L; l++) take_input(a, k, kh, N * C, &a->layer[l].atty, &a->layer[l].attyh);
    for (int l = 0; l < L; l++) a->layer[l].rstd1 = take(k, N);
    for (int l = 0; l < L; l++) a->layer[l].rstd2 = take(k, N);
    int work = a->prec != PREC_FP32; /* bf16 modes: one layer's fp32 qkv and gu to compute in (take_saved); the
                                      * attention kernel computes the probabilities in per-thread row blocks */
    float *qkv_w = work ? take(k, N * 3 * C) : NULL, *att_w = NULL;
    float *gu_w = work ? take(k, N * 2 * I) : NULL;
    for (int l = 0; l < L; l++) take_saved(a, k, kh, N * 3 * C, qkv_w, &a->layer[l].qkv, &a->layer[l].qkvh);
    for (int l = 0; l < L; l++) take_saved(a, k, kh, a->B * H * TT, att_w, &a->layer[l].att, &a->layer[l].atth);
    for (int l = 0; l < L; l++) take_saved(a, k, kh, N * 2 * I, gu_w, &a->layer[l].gu, &a->layer[l].guh);
    for (int l = 0; l < L; l++) take_input(a, k, kh, N * I, &a->layer[l].hmlp, &a->layer[l].hmlph);
    for (int l = 0; l < L; l++) a->layer[l].res_out = l + 1 < L ? a->layer[l + 1].res : a->res_final;
    take_input(a, k, kh, N * C, &a->lnf, &a->lnfh);
    a->rstdf = take(k, N);
    if (a->prec == PREC_BF16_PURE) a->logitsh = take_h(kh, N * V);
    else a->logits = take(k, N * V);
    a->lse = take(k, N);
    a->losses = take(k, N);
    a->rope_cos = take(k, (size_t)a->T * D / 2);
    a->rope_sin = take(k, (size_t)a->T * D / 2);
    if (a->prec != PREC_FP32) a->xf = take(k, N * (C > I ? C : I));
    if (a->prec == PREC_BF16_PURE) a->wvec = take(k, C);
}

/* The backward scratch block: one layer's worth, reused by every layer. */
static void carve_backward(ModelActs *a, const ModelConfig *c, Carver *k, HCarver *kh) {
    size_t C = c->hidden_size, I = c->intermediate_size, H = c->num_attention_heads, V = c->vocab_size;
    size_t N = (size_t)a->B * a->T;
    a->d_res = take(k, N * C);
    a->d_tmp = take(k, N * C);
    a->d_qkv = take(k, N * 3 * C);
    a->d_gu = take(k, N * 2 * I);
    a->d_h = take(k, N * I);
    if (a->prec == PREC_FP32) a->d_att = take(k, (size_t)a->B * H * a->T * a->T); /* bf16: per-thread blocks */
    a->d_norm = take(k, rmsnorm_scratch_floats((int)N, (int)C));
    if (a->prec != PREC_FP32) a->douth = take_h(kh, N * max3(3 * C, 2 * I, V));
    if (a->prec == PREC_BF16_PURE) a->gacc = take(k, N * C); /* the embedding's rows (N >= 1: a norm's C too) */
}

typedef struct {
    size_t fwd, bwd;     /* floats of the two blocks */
    size_t fwd_h, bwd_h; /* bf16 values of the bf16 modes' two blocks */
} ActSizes;

/* Sizes of both blocks for capacity B x T: the carve functions run in counting mode on a scratch
 * ModelActs whose layer array is a.layer (L entries, contents overwritten). */
static ActSizes acts_sizes(ModelActs *a, const ModelConfig *c) {
    Carver f = {0}, b = {0};
    HCarver fh = {0}, bh = {0};
    carve_forward(a, c, &f, &fh);
    carve_backward(a, c, &b, &bh);
    return (ActSizes){f.used, b.used, fh.used, bh.used};
}

/* must_succeed: called lazily from model_backward, which cannot report errors: xcalloc aborts on OOM. */
static int alloc_backward_scratch(Model *m, int must_succeed) {
    ModelActs *a = m->acts;
    Carver count = {0}; /* counting mode only touches the d_* pointers, which are set just below */
    HCarver count_h = {0};
    carve_backward(a, &m->cfg, &count, &count_h);
    size_t n = count.used, nh = count_h.used;
    a->bmem = must_succeed ? xcalloc(n, sizeof(float)) : malloc(n * sizeof(float));
    if (!a->bmem) return -1;
    if (nh) {
        a->bhmem = must_succeed ? xcalloc(nh, sizeof(bf16_t)) : malloc(nh * sizeof(bf16_t));
        if (!a->bhmem) return -1;
    }
    Carver k = {a->bmem, 0};
    HCarver kh = {a->bhmem, 0};
    carve_backward(a, &m->cfg, &k, &kh);
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
    size_t N = (size_t)B * T;
    a->B = B;
    a->T = T;
    a->prec = m->prec;
    a->layer = calloc((size_t)c->num_hidden_layers, sizeof(LayerActs));
    m->acts = a;
    ActSizes s = a->layer ? acts_sizes(a, c) : (ActSizes){0, 0, 0, 0};
    a->mem = malloc(s.fwd * sizeof(float));
    a->hmem = s.fwd_h ? malloc(s.fwd_h * sizeof(bf16_t)) : NULL;
    a->inputs = malloc(N * sizeof(int));
    a->targets = malloc(N * sizeof(int));
    if (!a->layer || !a->mem || !a->inputs || !a->targets || (s.fwd_h && !a->hmem) ||
        ((m->grads || m->hg) && alloc_backward_scratch(m, 0))) {
        free_acts(a);
        m->acts = NULL;
        return err_set(e, "model: cannot allocate %.1f MB of activations for micro-batch %d x %d",
                       (s.fwd + (m->grads || m->hg ? s.bwd : 0)) * 4.0 / 1e6, B, T);
    }
    Carver k = {a->mem, 0};
    HCarver kh = {a->hmem, 0};
    carve_forward(a, c, &k, &kh);
    rope_tables(a->rope_cos, a->rope_sin, T, c->hidden_size / c->num_attention_heads, c->rope_theta);
    m->B = B;
    m->T = T;
    return 0;
}

size_t model_state_bytes_per_param(Precision prec, int training) {
    if (prec == PREC_BF16_PURE) return (training ? 4 : 1) * sizeof(bf16_t);               /* hw (+ hg, hm, hv) */
    return (training ? 4 : 1) * sizeof(float) + (prec == PREC_BF16 ? sizeof(bf16_t) : 0); /* + wbf */
}

/* Counts what model_build, model_set_precision, model_alloc_train and model_alloc_acts allocate, from the
 * same table and carve functions they use. */
int model_estimate_mem(const ModelConfig *c, int B, int T, int training, Precision prec, ModelMem *mm) {
    Model m;
    Err e;
    memset(mm, 0, sizeof *mm);
    if (B <= 0 || T <= 0 || build_table(&m, c, &e)) return -1;
    size_t L = c->num_hidden_layers;
    ModelActs a = {.B = B, .T = T, .prec = prec, .layer = xcalloc(L, sizeof(LayerActs))};
    ActSizes s = acts_sizes(&a, c);
    free(a.layer);
    /* offsets always; pointer views of params (and grads) unless bf16_pure, which has no fp32 buffers */
    size_t views = (prec == PREC_BF16_PURE ? 0 : training ? 2 : 1) * L * sizeof(LayerView) + L * sizeof(LayerAt);
    mm->state = m.n_params * model_state_bytes_per_param(prec, training);
    mm->acts_h = s.fwd_h * sizeof(bf16_t);
    mm->acts = s.fwd * sizeof(float) + mm->acts_h;
    mm->scratch = training ? s.bwd * sizeof(float) + s.bwd_h * sizeof(bf16_t) : 0;
    mm->other = (size_t)m.n_tensors * (sizeof(TensorInfo) + sizeof(double)) + views + L * sizeof(LayerActs) +
                2 * (size_t)B * T * sizeof(int);
    free(m.tensors);
    return 0;
}

size_t model_estimate_bytes_prec(const ModelConfig *c, int B, int T, int training, Precision prec) {
    ModelMem mm;
    return model_estimate_mem(c, B, T, training, prec, &mm) ? 0 : model_mem_total(&mm);
}

size_t model_estimate_bytes(const ModelConfig *c, int B, int T, int training) {
    return model_estimate_bytes_prec(c, B, T, training, PREC_FP32);
}

/* ---------------------------------------------------------------- precision */

const char *precision_name(Precision p) { return p == PREC_BF16 ? "bf16" : p == PREC_BF16_PURE ? "bf16_pure" : "fp32"; }

int model_set_precision(Model *m, Precision p, Err *e) {
    if (m->prec == PREC_BF16_PURE) {
        if (p == PREC_BF16_PURE) return 0;
        return err_set(e, "model: a bf16_pure model holds bf16 weights only; it cannot switch to %s",
                       precision_name(p));
    }
    free(m->wbf);
    m->wbf = NULL;
    m->prec = p;
    if (p == PREC_BF16) {
        m->wbf = malloc(m->n_params * sizeof(bf16_t));
        if (!m->wbf) return err_set(e, "model: cannot allocate %.1f MB for the bf16 weights", m->n_params * 2.0 / 1e6);
    }
    if (p == PREC_BF16_PURE) { /* the weights move to bf16 storage; fp32 gradients and moments go too */
        m->hw = malloc(m->n_params * sizeof(bf16_t));
        if (!m->hw) return err_set(e, "model: cannot allocate %.1f MB for the bf16 weights", m->n_params * 2.0 / 1e6);
        bf16_round_vec(m->hw, m->params, m->n_params);
        free(m->params);
        free(m->grads);
        free(m->adam_m);
        free(m->adam_v);
        m->params = m->grads = m->adam_m = m->adam_v = NULL;
        model_view_free(&m->w);
        model_view_free(&m->g);
    }
    model_params_changed(m);
    if (m->acts) return model_alloc_acts(m, m->acts->B, m->acts->T, e); /* carved by the precision */
    return 0;
}

/* Weights and gradients are reached by their table offset (m->at), whatever their storage. */

/* The bf16 weights a product reads: the copy wbf (bf16) or the weights themselves (bf16_pure). */
static const bf16_t *wb(const Model *m, size_t w) { return (m->prec == PREC_BF16_PURE ? m->hw : m->wbf) + w; }

/* A norm weight (C floats) for its kernel: the fp32 weights, or (bf16_pure) widened into the scratch wvec. */
static const float *norm_w(const Model *m, size_t w, int C) {
    if (m->prec != PREC_BF16_PURE) return m->params + w;
    bf16_widen_vec(m->acts->wvec, m->hw + w, (size_t)C);
    return m->acts->wvec;
}

/* The fp32 gradient a backward kernel accumulates into (n values at offset g): the gradients themselves, or
 * (bf16_pure) the bf16 gradient widened into the scratch gacc, which grad_store then rounds back. So a bf16
 * gradient takes each backward's contribution with one rounding, after fp32 accumulation inside the kernel. */
static float *grad_acc(const Model *m, size_t g, size_t n) {
    if (m->prec != PREC_BF16_PURE) return m->grads + g;
    bf16_widen_vec(m->acts->gacc, m->hg + g, n);
    return m->acts->gacc;
}

static void grad_store(const Model *m, size_t g, size_t n) {
    if (m->prec == PREC_BF16_PURE) bf16_round_vec(m->hg + g, m->acts->gacc, n);
}

/* out = beta * out + x W^T (kernels.h linear_forward), W at offset w; the input is x (fp32 mode) or xh (bf16
 * modes). */
static void lin_fwd(const Model *m, float *out, const float *x, const bf16_t *xh, size_t w, int N, int in, int out_dim,
                    float beta) {
    prof_at(m->prec == PREC_FP32 ? PH_MM_FWD_F32 : PH_MM_FWD_BF16);
    if (m->prec == PREC_FP32) linear_forward(out, x, m->params + w, N, in, out_dim, beta);
    else mm_bf16(0, 1, N, out_dim, in, xh, in, wb(m, w), in, beta, out, out_dim);
}

/* dW += dout^T x; dx = beta_dx dx + dout W (kernels.h linear_backward), W and dW at offset w; bf16 modes round
 * dout into douth first, unless its producer wrote it there rounded (douth_ready: dout is then not read). */
static void lin_bwd(const Model *m, float *dx, const float *dout, const float *x, const bf16_t *xh, size_t w, int N,
                    int in, int out_dim, float beta_dx) {
    if (m->prec == PREC_FP32) {
        linear_backward(dx, m->grads + w, dout, x, m->params + w, N, in, out_dim, beta_dx);
        return;
    }
    bf16_t *dh = m->acts->douth;
    if (!m->acts->douth_ready) bf16_round_vec(dh, dout, (size_t)N * out_dim);
    m->acts->douth_ready = 0;
    prof_at(PH_MM_BWDW_BF16);
    if (m->prec == PREC_BF16_PURE) mm_bf16_acc(1, 0, out_dim, in, N, dh, out_dim, xh, in, m->hg + w, in);
    else mm_bf16(1, 0, out_dim, in, N, dh, out_dim, xh, in, 1.0f, m->grads + w, in);
    prof_at(PH_MM_BWDD_BF16);
    if (dx) mm_bf16(0, 0, N, in, out_dim, dh, out_dim, wb(m, w), in, beta_dx, dx, in);
}

/* out[n] = wte[tokens[n]] from bf16 embeddings (kernels.h embedding_forward), widened exactly. */
static void embedding_forward_bf16(float *out, const int *tokens, const bf16_t *wte, int N, int C) {
#pragma omp parallel for schedule(static) if ((long)N * C > 65536)
    for (int n = 0; n < N; n++) {
        const bf16_t *row = wte + (size_t)tokens[n] * C;
        float *o = out + (size_t)n * C;
        bf16_widen_row(o, row, (size_t)C);
    }
}

/* RMSNorm forward (kernels.h) with the norm weight at offset w: into out (fp32 mode) or, rounded as written, into
 * out_h (bf16 modes: the product input). res_in: x is a residual stream that a product just wrote, which bf16_pure
 * rounds to bf16 (as PyTorch's bf16 model holds it) in place, row by row inside the norm. */
static void norm_fwd(const Model *m, float *out, bf16_t *out_h, float *rstd, float *x, size_t w, int N, int C,
                     float eps, int res_in) {
    if (m->prec == PREC_FP32) rmsnorm_forward(out, rstd, x, norm_w(m, w, C), N, C, eps);
    else rmsnorm_forward_bf16(out_h, rstd, x, norm_w(m, w, C), N, C, eps, res_in && m->prec == PREC_BF16_PURE);
}

/* RMSNorm backward (kernels.h) with the norm weight and its gradient at offset w; dx is the residual gradient
 * d_res, which bf16_pure rounds to bf16 in place. to_product: the next lin_bwd's output gradient is dx, written
 * rounded into douth by the kernel (douth_ready) instead of in a pass of its own. */
static void norm_bwd(const Model *m, float *dx, const float *dout, const float *x, size_t w, const float *rstd, int N,
                     int C, int to_product) {
    ModelActs *a = m->acts;
    if (m->prec == PREC_FP32) {
        rmsnorm_backward(dx, grad_acc(m, w, (size_t)C), a->d_norm, dout, x, norm_w(m, w, C), rstd, N, C);
    } else {
        rmsnorm_backward_bf16(dx, to_product ? a->douth : NULL, m->prec == PREC_BF16_PURE, grad_acc(m, w, (size_t)C),
                              a->d_norm, dout, x, norm_w(m, w, C), rstd, N, C);
        a->douth_ready = to_product;
    }
    grad_store(m, w, (size_t)C);
}

/* ---------------------------------------------------------------- forward */

float model_forward(Model *m, const int *inputs, const int *targets, int B, int T, int *n_valid) {
    ModelActs *a = m->acts;
    const ModelConfig *c = &m->cfg;
    int L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int H = c->num_attention_heads, D = C / H, N = B * T;
    float eps = (float)c->rms_norm_eps;
    if (n_valid) *n_valid = 0;
    if (!a || B > a->B || T > a->T || B <= 0 || T <= 0) return NAN;
    /* ids outside the vocabulary would read outside the embedding: refuse them (NaN loss) */
    for (int n = 0; n < N; n++)
        if (inputs[n] < 0 || inputs[n] >= V || (targets && (targets[n] < -1 || targets[n] >= V))) return NAN;
    memcpy(a->inputs, inputs, (size_t)N * sizeof(int));
    a->fwd_B = B;
    a->fwd_T = T;
    a->have_targets = targets != NULL;
    size_t NC = (size_t)N * C;
    if (m->prec == PREC_BF16 && m->wbf_stale) { /* the bf16 weights, once per update */
        bf16_round_vec(m->wbf, m->params, m->n_params);
        m->wbf_stale = 0;
    }

    prof_at(PH_EMBED);
    if (m->prec == PREC_BF16_PURE) embedding_forward_bf16(a->layer[0].res, inputs, m->hw + m->at.embed, N, C);
    else embedding_forward(a->layer[0].res, inputs, m->params + m->at.embed, N, C);
    for (int l = 0; l < L; l++) {
        const LayerAt *w = &m->at.layer[l];
        LayerActs *s = &a->layer[l];
        prof_at(PH_NORM);
        norm_fwd(m, s->ln1, s->ln1h, s->rstd1, s->res, w->ln1, N, C, eps, l > 0); /* l > 0: the down product's */
        lin_fwd(m, s->qkv, s->ln1, s->ln1h, w->qkv, N, C, 3 * C, 0.0f);
        prof_at(PH_ROPE);
        if (m->prec == PREC_FP32) /* q and k: 2H adjacent heads */
            rope_forward(s->qkv, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, D);
        else /* one pass: bf16_pure's rounding of the product output, the rotation, and the saved bf16 copy */
            rope_forward_bf16(s->qkv, s->qkvh, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, H, D,
                              m->prec == PREC_BF16_PURE);
        prof_at(PH_ATT_GLUE);
        if (m->prec == PREC_FP32)
            attention_forward(s->atty, C, s->att, s->qkv, s->qkv + C, s->qkv + 2 * C, 3 * C, B, T, H, D);
        else /* bf16 products from the saved q, k, v; the probabilities saved rounded, y = P V from them */
            attention_forward_bf16(a->xf, C, s->attyh, s->atth, s->qkvh, 3 * C, B, T, H, D);
        prof_at(PH_OTHER);
        vec_copy(s->res_mid, s->res, NC);
        lin_fwd(m, s->res_mid, s->atty, s->attyh, w->o, N, C, C, 1.0f); /* res_mid = res + o_proj(atty) */

        prof_at(PH_NORM);
        norm_fwd(m, s->ln2, s->ln2h, s->rstd2, s->res_mid, w->ln2, N, C, eps, 1);
        lin_fwd(m, s->gu, s->ln2, s->ln2h, w->gate_up, N, C, 2 * I, 0.0f);
        prof_at(PH_SWIGLU);
        if (m->prec == PREC_FP32) swiglu_forward(s->hmlp, s->gu, N, I);
        else /* one pass: gate/up rounded (bf16_pure's product output) and saved, the down product's input rounded */
            swiglu_forward_bf16(s->hmlph, s->guh, s->gu, N, I);
        prof_at(PH_OTHER);
        vec_copy(s->res_out, s->res_mid, NC);
        lin_fwd(m, s->res_out, s->hmlp, s->hmlph, w->down, N, I, C, 1.0f); /* res_out = res_mid + down(h) */
    }
    prof_at(PH_NORM);
    norm_fwd(m, a->lnf, a->lnfh, a->rstdf, a->res_final, m->at.norm, N, C, eps, 1);
    if (m->prec == PREC_BF16_PURE) { /* the product rounds its own output (no fp32 logits, no pass to round them) */
        prof_at(PH_MM_FWD_BF16);
        mm_bf16_round(0, 1, N, V, C, a->lnfh, C, wb(m, m->at.lm_head), C, a->logitsh, V);
        a->logits_stale = 1;
    } else {
        lin_fwd(m, a->logits, a->lnf, a->lnfh, m->at.lm_head, N, C, V, 0.0f);
    }
    prof_at(PH_CE);
    if (!targets) {
        a->n_valid = 0;
        prof_at(PH_OTHER);
        return 0.0f;
    }
    memcpy(a->targets, targets, (size_t)N * sizeof(int));
    float loss = m->prec == PREC_BF16_PURE
                     ? crossentropy_forward_h(a->lse, a->losses, a->logitsh, targets, N, V, &a->n_valid)
                     : crossentropy_forward(a->lse, a->losses, a->logits, targets, N, V, &a->n_valid);
    prof_at(PH_OTHER);
    if (n_valid) *n_valid = a->n_valid;
    return loss;
}

float *model_logits(Model *m) {
    ModelActs *a = m->acts;
    if (!a) return NULL;
    if (a->logitsh && a->logits_stale) { /* bf16_pure: widened into an fp32 block of its own on request */
        size_t V = (size_t)m->cfg.vocab_size;
        if (!a->logits) a->logits = xcalloc((size_t)a->B * a->T * V, sizeof(float));
        bf16_widen_vec(a->logits, a->logitsh, (size_t)a->fwd_B * a->fwd_T * V);
        a->logits_stale = 0;
    }
    return a->logits;
}

void model_zero_grad(Model *m) {
    if (m->grads) vec_zero(m->grads, m->n_params);
    if (m->hg) memset(m->hg, 0, m->n_params * sizeof(bf16_t)); /* bf16 zero is all-zero bits */
}

/* ---------------------------------------------------------------- backward */

void model_backward(Model *m, float scale) {
    ModelActs *a = m->acts;
    if (!a || !a->have_targets || !(m->grads || m->hg)) return;
    if (!a->bmem) alloc_backward_scratch(m, 1);
    const ModelConfig *c = &m->cfg;
    int L = c->num_hidden_layers, C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
    int H = c->num_attention_heads, D = C / H, B = a->fwd_B, T = a->fwd_T, N = B * T;

    float dscale = a->n_valid ? scale / (float)a->n_valid : 0.0f;
    prof_at(PH_CE);
    if (m->prec == PREC_FP32) {
        crossentropy_backward(a->logits, a->logits, a->lse, a->targets, N, V, dscale); /* dlogits in place */
    } else { /* bf16 modes: dlogits written rounded, straight into the product's bf16 input */
        crossentropy_backward_bf16(a->douth, a->logitsh ? NULL : a->logits, a->logitsh, a->lse, a->targets, N, V,
                                   dscale);
        a->douth_ready = 1;
    }
    lin_bwd(m, a->d_tmp, a->logits, a->lnf, a->lnfh, m->at.lm_head, N, C, V, 0.0f);
    prof_at(PH_OTHER);
    vec_zero(a->d_res, (size_t)N * C);
    prof_at(PH_NORM);
    norm_bwd(m, a->d_res, a->d_tmp, a->res_final, m->at.norm, a->rstdf, N, C, 1);

    for (int l = L - 1; l >= 0; l--) {
        const LayerAt *w = &m->at.layer[l];
        const LayerActs *s = &a->layer[l];
        /* MLP block: d_res is the gradient of res_out and passes through the residual unchanged */
        lin_bwd(m, a->d_h, a->d_res, s->hmlp, s->hmlph, w->down, N, I, C, 0.0f);
        prof_at(PH_SWIGLU);
        if (m->prec == PREC_FP32) {
            swiglu_backward(a->d_gu, a->d_h, s->gu, N, I);
        } else { /* reads the saved bf16 gate/up, writes the gate/up product's bf16 output gradient */
            swiglu_backward_bf16(a->douth, a->d_h, s->guh, N, I);
            a->douth_ready = 1;
        }
        lin_bwd(m, a->d_tmp, a->d_gu, s->ln2, s->ln2h, w->gate_up, N, C, 2 * I, 0.0f);
        prof_at(PH_NORM);
        norm_bwd(m, a->d_res, a->d_tmp, s->res_mid, w->ln2, s->rstd2, N, C, 1);

        /* attention block: d_tmp first holds d(atty), then d(ln1) */
        lin_bwd(m, a->d_tmp, a->d_res, s->atty, s->attyh, w->o, N, C, C, 0.0f);
        prof_at(PH_ATT_GLUE);
        if (m->prec == PREC_FP32)
            attention_backward(a->d_qkv, a->d_qkv + C, a->d_qkv + 2 * C, 3 * C, a->d_att, a->d_tmp, C, s->att, s->qkv,
                               s->qkv + C, s->qkv + 2 * C, 3 * C, B, T, H, D);
        else /* bf16 products from the saved probabilities and q, k, v */
            attention_backward_bf16(a->d_qkv, a->d_qkv + C, a->d_qkv + 2 * C, 3 * C, a->d_tmp, C, s->atth, s->qkvh,
                                    3 * C, B, T, H, D);
        prof_at(PH_ROPE);
        if (m->prec == PREC_FP32) {
            rope_backward(a->d_qkv, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, D); /* dq and dk */
        } else { /* one pass: dq, dk rotated and all of dq, dk, dv rounded into the qkv product's output gradient */
            rope_backward_bf16(a->douth, a->d_qkv, 3 * C, a->rope_cos, a->rope_sin, B, T, 2 * H, H, D);
            a->douth_ready = 1;
        }
        lin_bwd(m, a->d_tmp, a->d_qkv, s->ln1, s->ln1h, w->qkv, N, C, 3 * C, 0.0f);
        prof_at(PH_NORM);
        norm_bwd(m, a->d_res, a->d_tmp, s->res, w->ln1, s->rstd1, N, C, l > 0); /* l > 0: the down product's */
    }
    prof_at(PH_EMBED);
    if (m->prec == PREC_BF16_PURE) /* only the micro-batch's rows, accumulated in the compact scratch gacc */
        embedding_backward_bf16(m->hg + m->at.embed, a->gacc, a->d_res, a->inputs, N, C, c->vocab_size);
    else embedding_backward(m->grads + m->at.embed, a->d_res, a->inputs, N, C);
    prof_at(PH_OTHER);
    a->have_targets = 0; /* logits now hold dlogits: a second backward would be wrong */
}
