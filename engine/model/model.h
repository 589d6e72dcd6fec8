/* model.h - the LLaMA decoder (docs/method.md, "The model"): one contiguous parameter buffer described
 * by one module table, forward and backward passes over a micro-batch.
 *
 * Layout: every tensor lives in m->params at t->offset, row-major with PyTorch's shape, so a Linear
 * weight is (out, in) and y = x W^T. Gradients (m->grads) and Adam moments (m->adam_m, m->adam_v) use
 * the same offsets, as do bf16_pure's bf16 arrays (m->hw, hg, hm, hv) that replace those four buffers. The table is in Hugging Face state_dict order:
 *   model.embed_tokens.weight
 *   per layer l: model.layers.l.input_layernorm.weight, .self_attn.{q,k,v,o}_proj.weight,
 *                model.layers.l.post_attention_layernorm.weight, .mlp.{gate,up,down}_proj.weight
 *   model.norm.weight, lm_head.weight
 */
#ifndef MODEL_H
#define MODEL_H

#include "common.h"
#include "matmul_bf16.h"

typedef struct {
    int hidden_size;
    int intermediate_size;
    int num_attention_heads;
    int num_hidden_layers;
    int vocab_size;
    int max_position_embeddings; /* maximum seq_len; 1024 unless a loaded config.json says otherwise */
    double rms_norm_eps;         /* 1e-6 */
    double rope_theta;           /* 10000 */
    double initializer_range;    /* 0.02 */
} ModelConfig;

/* Training precision (train.dtype):
 *  PREC_FP32       everything fp32 (OpenBLAS products).
 *  PREC_BF16       mixed precision: Linear and lm_head products take bf16 inputs (weights rounded from the
 *                  fp32 masters once per update into wbf; the saved activations that only feed those products,
 *                  i.e. the normed inputs, the attention output and the SwiGLU output, stored in bf16) with
 *                  fp32 accumulation and output, attention's products too (bf16 q/k/v, probabilities, dY, dS);
 *                  RMSNorm, RoPE, the softmax, SiLU and the loss in fp32; fp32 master weights, gradients and
 *                  Adam moments.
 *  PREC_BF16_PURE  what a bf16 model in PyTorch computes: as PREC_BF16, and every tensor PyTorch would store
 *                  in bf16 is rounded to bf16 where it is produced: weights after each update, gradients after
 *                  each backward, both Adam moments, the residual stream, q/k/v, the product outputs, logits.
 *                  Weights, gradients and moments are STORED in bf16 (Model.hw, hg, hm, hv: 8 bytes per
 *                  parameter; params, grads, adam_m, adam_v are NULL). Kernels still compute in fp32: a norm
 *                  weight is widened into a C-float scratch before its kernel, a gradient into an fp32
 *                  accumulator before its backward kernel adds to it (then rounded back), the products read
 *                  the bf16 weights directly; spectra and checkpoints widen tensor by tensor. */
typedef enum { PREC_FP32, PREC_BF16, PREC_BF16_PURE } Precision;
const char *precision_name(Precision p); /* "fp32", "bf16", "bf16_pure" */

typedef enum { KIND_EMBEDDING, KIND_NORM, KIND_LINEAR, KIND_LM_HEAD } TensorKind;

/* Module type, as decay.jsonl spells it (module_type_name). */
typedef enum {
    MT_EMBED,
    MT_ATTN_NORM,
    MT_Q,
    MT_K,
    MT_V,
    MT_O,
    MT_MLP_NORM,
    MT_GATE,
    MT_UP,
    MT_DOWN,
    MT_FINAL_NORM,
    MT_LM_HEAD
} ModuleType;

typedef struct {
    char name[96];  /* Hugging Face tensor name, e.g. "model.layers.3.mlp.up_proj.weight" */
    int rows, cols; /* PyTorch shape (out, in); a 1-D norm weight has rows = 1 */
    size_t offset;  /* in floats, into params / grads / adam_m / adam_v */
    size_t size;    /* rows * cols */
    TensorKind kind;
    int layer; /* transformer layer, -1 for embedding, final norm, lm_head */
    ModuleType type;
} TensorInfo;

/* Offsets (in elements) of one layer's tensors in any buffer laid out by the table, fp32 or bf16; the
 * fused pairs as in LayerView below. */
typedef struct {
    size_t ln1, qkv, o, ln2, gate_up, down;
} LayerAt;

/* The whole model's tensor offsets (model_offsets): what the forward and backward passes index every
 * buffer with, whatever its element type. */
typedef struct {
    size_t embed, norm, lm_head;
    LayerAt *layer; /* num_hidden_layers entries */
} ModelAt;

/* Named pointers to one layer's tensors inside one buffer laid out by the table (params, grads, or
 * an Adam moment). q, k, v are adjacent in the table, so qkv is the fused (3C, C) weight: q at qkv,
 * k at qkv + C*C, v at qkv + 2*C*C; likewise gate_up is gate (I, C) followed by up (I, C). */
typedef struct {
    float *ln1;     /* (C) input_layernorm */
    float *qkv;     /* (3C, C) q_proj, k_proj, v_proj */
    float *o;       /* (C, C) o_proj */
    float *ln2;     /* (C) post_attention_layernorm */
    float *gate_up; /* (2I, C) gate_proj, up_proj */
    float *down;    /* (C, I) down_proj */
} LayerView;

/* The whole model as named pointers into one buffer (llm.c's ParameterTensors). */
typedef struct {
    float *embed;     /* (V, C) */
    LayerView *layer; /* num_hidden_layers entries */
    float *norm;      /* (C) final norm */
    float *lm_head;   /* (V, C) */
} ModelView;

/* Activations saved by the forward pass for the backward pass (allocated by model_alloc_acts). */
typedef struct ModelActs ModelActs;

typedef struct {
    ModelConfig cfg;
    TensorInfo *tensors;
    int n_tensors;
    size_t n_params;
    float *params;        /* n_params (NULL in bf16_pure) */
    float *grads;         /* n_params, NULL until model_alloc_train (and in bf16_pure) */
    float *adam_m;        /* n_params, NULL until model_alloc_train (and in bf16_pure) */
    float *adam_v;        /* n_params, NULL until model_alloc_train (and in bf16_pure) */
    bf16_t *hw;           /* bf16_pure: the weights, n_params bf16 (model_set_precision) */
    bf16_t *hg, *hm, *hv; /* bf16_pure: gradients, Adam moments: one block of 3 * n_params (model_alloc_train) */
    double *wd;           /* per tensor weight decay, n_tensors, set by the decay method */
    ModelAt at;           /* tensor offsets (model_build) */
    ModelView w;          /* views of params (model_build; empty in bf16_pure) */
    ModelView g;          /* views of grads (model_alloc_train; empty in bf16_pure) */
    ModelActs *acts;      /* NULL until model_alloc_acts */
    int B, T;             /* micro-batch shape the activations were allocated for */
    Precision prec;       /* PREC_FP32 unless model_set_precision */
    bf16_t *wbf;          /* bf16 modes: params rounded to bf16 (same offsets), refreshed when wbf_stale */
    int wbf_stale;        /* set by whatever changes params (loads, init, a ZeRO slice's update); cleared by the next
                           * forward, which rounds wbf, or by adam_update, which rounds it in its loop */
} Model;

/* One buffer laid out by the table, in fp32 (f) or bf16 (h) storage: exactly one is non-NULL. Checkpoints
 * read and write the weights and moments through it, whatever the precision. */
typedef struct {
    float *f;
    bf16_t *h;
} TableBuf;
static inline TableBuf model_weights_buf(const Model *m) { return (TableBuf){m->params, m->hw}; }
static inline TableBuf model_moment1_buf(const Model *m) { return (TableBuf){m->adam_m, m->hm}; }
static inline TableBuf model_moment2_buf(const Model *m) { return (TableBuf){m->adam_v, m->hv}; }

const char *
module_type_name(ModuleType t); /* "embed","attn_norm","q","k","v","o","mlp_norm","gate","up","down","norm","lm_head" */

/* Check the config (heads divide hidden, positive sizes, ...) and build the table; allocates params
 * and wd only. */
int model_build(Model *m, const ModelConfig *c, Err *e);
/* The tensor table alone (names, kinds, shapes, sizes; nothing allocated for parameters), for code that needs
 * a config's tensors without a model (the analysis' size weights). -1 (Err) for an invalid config; model_free
 * releases it. */
int model_table(Model *m, const ModelConfig *c, Err *e);
void model_free(Model *m);
/* N(0, initializer_range) for every Linear and the embedding, 1 for norm weights; deterministic. */
void model_init_weights(Model *m, uint64_t seed);
/* Parameters of config c counted from its tensor table (no memory allocated): all of them, and the
 * non-embedding ones (every tensor but the token embedding and lm_head: the attention and MLP weights and
 * the norms), the size measure of scaling plots. -1 (Err) for an invalid config. Either pointer may be NULL. */
int model_count_params(const ModelConfig *c, size_t *total, size_t *nonembedding, Err *e);
/* Training FLOPs per token of sequences of T tokens (docs/performance.md, "Benchmark definitions"):
 * 6 x (every Linear weight and lm_head, not the embedding lookup) + 6 x 2 x L x T x hidden (scores and
 * weighted sum, forward and backward, the full T x T product although half is masked). */
double model_flops_per_token(const Model *m, int T);
/* Allocate grads and Adam moments (zeroed). */
int model_alloc_train(Model *m, Err *e);
/* Allocate activation buffers for micro-batches of B sequences of T tokens (T <= max positions). */
int model_alloc_acts(Model *m, int B, int T, Err *e);
/* The engine's memory accounting, in bytes. state: weights, gradients, Adam moments and the bf16 weight
 * copy (what scales with the parameter count: state / n_params is the "bytes per parameter" of a dtype);
 * acts: the forward block (activations saved for backward) in both its fp32 and bf16 parts; scratch: the
 * backward block; other: the table, views, id copies. */
typedef struct {
    size_t state, acts, acts_h, scratch, other; /* acts_h: the part of acts held in bf16 */
} ModelMem;
static inline size_t model_mem_total(const ModelMem *mm) { return mm->state + mm->acts + mm->scratch + mm->other; }
/* What model_build (+ model_set_precision) + model_alloc_train + model_alloc_acts(B, T) allocate, counted from
 * the same table and carve functions, without allocating; -1 if the config or shape is invalid. */
int model_estimate_mem(const ModelConfig *c, int B, int T, int training, Precision prec, ModelMem *mm);
/* The total of model_estimate_mem (0 if the config is invalid), fp32 or a given precision. */
size_t model_estimate_bytes(const ModelConfig *c, int B, int T, int training);
size_t model_estimate_bytes_prec(const ModelConfig *c, int B, int T, int training, Precision prec);
/* Bytes of parameter state per parameter (weights, grads, moments, bf16 copy) of a precision, for training
 * (model_alloc_train) or inference: fp32 16 / 4, bf16 18 / 6, bf16_pure 8 / 2. */
size_t model_state_bytes_per_param(Precision prec, int training);
int model_find_tensor(const Model *m, const char *name); /* index or -1 */
/* Views of `base` (a buffer with the table's offsets), built by walking the table once: each tensor
 * lands in the slot of its (layer, type); fails unless every slot is filled exactly once and the fused
 * pairs are adjacent. model_build and model_alloc_train make m->w and m->g with it. */
int model_view(const Model *m, float *base, ModelView *v, Err *e);
void model_view_free(ModelView *v);
/* The offsets behind model_view (the same checks), for buffers of any element type. */
int model_offsets(const Model *m, ModelAt *at, Err *e);
void model_offsets_free(ModelAt *at);
/* fp32 copy of tensor i's weights: in fp32 and bf16 modes a pointer into params (scratch unused), in
 * bf16_pure the bf16 weights widened into scratch (tensor size floats). Likewise for its gradient (NULL
 * without gradients). The spectra and the decay methods read weights through these. */
const float *model_weight_f32(const Model *m, int i, float *scratch);
const float *model_grad_f32(const Model *m, int i, float *scratch);
/* Switch to a precision before training (after model_build and loading or initialising the weights; before
 * model_alloc_train and model_alloc_acts, which size their buffers by it). bf16 allocates wbf; bf16_pure
 * rounds the weights into hw and frees the fp32 params (so it is one-way: switching a bf16_pure model back
 * is an error). */
int model_set_precision(Model *m, Precision p, Err *e);
/* The parameters changed (optimizer update, load): the bf16 copy is refreshed before the next forward. */
static inline void model_params_changed(Model *m) { m->wbf_stale = 1; }
/* Appends a tensor to the layout (offset = parameters so far); model_build uses it, tests build
 * hand-made layouts with it. */
void model_add_tensor(Model *m, const char *name, int rows, int cols, TensorKind kind, int layer, ModuleType type);

/* Forward over inputs (B*T token ids). If targets is non-NULL (B*T ids, -1 = ignore / pad), returns the
 * mean cross-entropy over non-ignored positions and stores their count in *n_valid (may be NULL);
 * with no valid target it returns 0. If targets is NULL, returns 0 and only computes logits.
 * B, T must not exceed the allocated activation shape. */
float model_forward(Model *m, const int *inputs, const int *targets, int B, int T, int *n_valid);
/* Logits (B, T, vocab) of the last forward; overwritten by model_backward. */
float *model_logits(Model *m);
/* Backward of the last forward (which must have had targets). Accumulates into m->grads
 * d(scale * mean_loss)/d(params); gradient accumulation passes scale = 1 / micro_steps. */
void model_backward(Model *m, float scale);
void model_zero_grad(Model *m);

#endif
