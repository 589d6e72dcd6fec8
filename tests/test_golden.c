/* test_golden.c - the engine against PyTorch, in the manner of llm.c's test_gpt2.c.
 *
 * tests/golden/ holds a tiny LLaMA (config.json, model.safetensors under the Hugging Face names) and
 * golden.safetensors: a batch, the logits, the loss, every gradient and the weights after two Adam
 * and two AdamW updates, all computed by tests/golden/make_golden.py with Hugging Face's
 * LlamaForCausalLM math in PyTorch float32 and torch.optim's own optimizers (regeneration command in
 * that script). This test loads the same model through the engine's own loaders, runs its forward,
 * backward and optimizer, and compares. It needs no Python.
 *
 * Tolerances. Both sides compute in float32 and differ only in rounding order (OpenBLAS vs. PyTorch
 * GEMM summation, our double-precision RoPE angles vs. PyTorch's float32 ones). Each bound is about
 * 10x the largest difference measured when the fixture was made (printed on the "#" lines):
 *  - loss: relative 1e-6 (measured 0).
 *  - logits: max |diff| <= 1e-5 x max |logit| (measured 5.4e-7).
 *  - gradients, per tensor: max |diff| <= 1e-5 x max |grad| of that tensor (measured 1.2e-6): the
 *    backward chains twice the products of the forward and divides by RMS norms.
 *  - weights after two updates, per tensor: max |diff| <= 1e-3 x lr (measured 6.8e-5 x lr). Adam
 *    passes a gradient error e into the weight as about lr * e / (sqrt(v) + eps); for gradients near
 *    0 that is lr * e / eps, which is why the fixture uses eps = 1e-3 (see make_golden.py). The bound
 *    is far below what a wrong optimizer changes: a decay applied wrongly moves a weight by wd * |w|
 *    * lr ~ 2e-2 x lr per update, a wrong bias correction by ~lr. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "checkpoint.h"
#include "hf_config.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"

#define GOLDEN_DIR "tests/golden"

static const StTensor *golden(const StFile *f, const char *name, size_t n) {
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->t[i].name, name)) continue;
        size_t k = 1;
        for (int d = 0; d < f->t[i].ndim; d++) k *= (size_t)f->t[i].shape[d];
        if (n && k != n) return NULL;
        return &f->t[i];
    }
    return NULL;
}

static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

/* Every tensor of `got` (params layout) against `want` (same layout): max |diff| <= tol * scale(t),
 * scale = max |want| of the tensor when scale_by_tensor, else 1. One check per tensor. */
static double compare_tensors(const Model *m, const float *got, const float *want, double tol, int scale_by_tensor,
                              const char *what) {
    double worst = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        double d = max_diff(got + t->offset, want + t->offset, t->size);
        double scale = scale_by_tensor ? max_abs(want + t->offset, t->size) : 1.0;
        double rel = scale > 0 ? d / scale : d;
        worst = fmax(worst, rel);
        char name[192];
        snprintf(name, sizeof name, "golden_%s_%s", what, t->name);
        CHECK(rel <= tol, name, "max |diff| %.3g = %.3g of scale %.3g (limit %.3g)", d, rel, scale, tol);
    }
    return worst;
}

typedef struct {
    int B, T;
    int *inputs, *targets;
    const StTensor *logits, *loss, *wd, *hparams;
} Batch;

static int load_batch(const StFile *g, int V, int n_tensors, Batch *b) {
    const StTensor *in = golden(g, "golden.inputs", 0), *tg = golden(g, "golden.targets", 0);
    if (!in || !tg || in->ndim != 2 || tg->ndim != 2 || in->shape[0] != tg->shape[0] || in->shape[1] != tg->shape[1])
        return -1;
    b->B = (int)in->shape[0];
    b->T = (int)in->shape[1];
    size_t N = (size_t)b->B * b->T;
    b->logits = golden(g, "golden.logits", N * V);
    b->loss = golden(g, "golden.loss", 1);
    b->wd = golden(g, "golden.wd", (size_t)n_tensors);
    b->hparams = golden(g, "golden.hparams", 4);
    if (!b->logits || !b->loss || !b->wd || !b->hparams) return -1;
    b->inputs = malloc(N * sizeof(int));
    b->targets = malloc(N * sizeof(int));
    for (size_t i = 0; i < N; i++) {
        b->inputs[i] = (int)in->data[i];
        b->targets[i] = (int)tg->data[i];
    }
    return 0;
}

static void test_forward_backward(Model *m, const Batch *b, const char *golden_path) {
    size_t NV = (size_t)b->B * b->T * m->cfg.vocab_size;
    int n_valid = 0;
    model_zero_grad(m);
    float loss = model_forward(m, b->inputs, b->targets, b->B, b->T, &n_valid);
    double ref = b->loss->data[0];
    printf("# loss %.9g, PyTorch %.9g, relative diff %.3g (limit 1e-6)\n", loss, ref, fabs(loss - ref) / fabs(ref));
    CHECK_CLOSE(loss, ref, 0, 1e-6, "golden_loss");
    double d = max_diff(model_logits(m), b->logits->data, NV), scale = max_abs(b->logits->data, NV);
    printf("# logits: max |diff| %.3g, max |logit| %.3g, ratio %.3g (limit 1e-5)\n", d, scale, d / scale);
    CHECK(d <= 1e-5 * scale, "golden_logits", "max |diff| %.3g > 1e-5 x %.3g", d, scale);
    model_backward(m, 1.0f);
    float *want = xcalloc(m->n_params, sizeof(float));
    const char *prefix[1] = {"grad."};
    Err e = {{0}};
    if (safetensors_load_table(golden_path, m, 1, &want, prefix, &e)) CHECK(0, "golden_grads_load", "%s", e.msg);
    else
        printf("# gradients: worst per-tensor max |diff| / max |grad| %.3g (limit 1e-5)\n",
               compare_tensors(m, m->grads, want, 1e-5, 1, "grad"));
    free(want);
}

/* Two updates from the fixture's weights with zeroed moments, each on a fresh gradient of the same
 * batch, the decay of every tensor from golden.wd, at the fixture's fixed lr. */
static void test_optimizer(Model *m, const Batch *b, const float *w0, OptimizerKind kind, const char *golden_path) {
    const char *nm = kind == OPT_ADAM ? "adam2" : "adamw2";
    const float *hp = b->hparams->data;
    memcpy(m->params, w0, m->n_params * sizeof(float));
    memset(m->adam_m, 0, m->n_params * sizeof(float));
    memset(m->adam_v, 0, m->n_params * sizeof(float));
    for (int i = 0; i < m->n_tensors; i++) m->wd[i] = b->wd->data[i];
    for (long t = 1; t <= 2; t++) {
        model_zero_grad(m);
        model_forward(m, b->inputs, b->targets, b->B, b->T, NULL);
        model_backward(m, 1.0f);
        adam_update(m, kind, hp[0], hp[1], hp[2], hp[3], t);
    }
    float *want = xcalloc(m->n_params, sizeof(float));
    char prefix_s[16];
    snprintf(prefix_s, sizeof prefix_s, "%s.", nm);
    const char *prefix[1] = {prefix_s};
    Err e = {{0}};
    if (safetensors_load_table(golden_path, m, 1, &want, prefix, &e)) CHECK(0, "golden_optimizer_load", "%s", e.msg);
    else
        printf("# %s weights: worst max |diff| %.3g x lr (limit 1e-3 x lr)\n", nm,
               compare_tensors(m, m->params, want, 1e-3 * hp[0], 0, nm) / hp[0]);
    free(want);
}

int main(void) {
    const char *golden_path = GOLDEN_DIR "/golden.safetensors";
    ModelConfig c;
    Model m;
    StFile g = {0};
    Batch b = {0};
    Err e = {{0}};
    if (hf_config_read(GOLDEN_DIR "/config.json", &c, &e) || model_build(&m, &c, &e) || model_alloc_train(&m, &e) ||
        safetensors_load_model(GOLDEN_DIR "/model.safetensors", &m, &e) || safetensors_read_all(golden_path, &g, &e)) {
        CHECK(0, "golden_load", "%s (run from the repository root)", e.msg);
        return check_summary();
    }
    if (load_batch(&g, c.vocab_size, m.n_tensors, &b) || model_alloc_acts(&m, b.B, b.T, &e)) {
        CHECK(0, "golden_batch", "%s: golden.* tensors missing or misshapen %s", golden_path, e.msg);
        return check_summary();
    }
    float *w0 = xcalloc(m.n_params, sizeof(float));
    memcpy(w0, m.params, m.n_params * sizeof(float));
    test_forward_backward(&m, &b, golden_path);
    test_optimizer(&m, &b, w0, OPT_ADAM, golden_path);
    test_optimizer(&m, &b, w0, OPT_ADAMW, golden_path);
    free(w0);
    free(b.inputs);
    free(b.targets);
    safetensors_free(&g);
    model_free(&m);
    return check_summary();
}
