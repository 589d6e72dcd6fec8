/* test_bf16.c - bf16 rounding and the bf16 matrix product (matmul_bf16.h) against double-precision
 * references, on both back ends (oneDNN where it has a bf16 matmul, the widening fallback always), and
 * oneDNN's fp32 product.
 *
 * Error bound of the products, valid for every summation order (oneDNN and OpenBLAS block the K loop
 * differently on AVX2, AVX-512 and AMX, so no one order may be assumed). A product computes
 *     C = sum_k a_k b_k + beta C0 (beta 0 or 1, the sum post-op)
 * in fp32, u = 2^-24. Treat beta C0 as a (K+1)-th term: whatever the order (a tree of K additions,
 * FMAs or not) each term passes through at most one rounding for its product and K for the additions
 * above it, so (Higham, Accuracy and Stability, thm 3.1 and section 3.1)
 *     |C - C_exact| <= gamma_{K+1} S,  S = sum_k |a_k b_k| + |beta C0|,  gamma_n = n u / (1 - n u).
 * Two small terms are added: (K+1) 2^-126 for products or partial sums flushed to zero (vdpbf16ps and
 * AMX run with flush-to-zero; each flush loses less than 2^-126), and the double reference's own error,
 * at most gamma_{K+1} in double (2^-53) times S. Both are negligible here; they keep the bound rigorous.
 *  - oneDNN's fp32 product: C_exact is the product of the fp32 inputs.
 *  - the bf16 product: C_exact is the product of the bf16 inputs, widened (a bf16 times a bf16, 8-bit
 *    significands, is exact in fp32; the bound still allows a rounding per product).
 * Small-integer inputs have every product and partial sum exact in fp32 in any order: bound 0.
 * gamma_{K+1} S is a worst case: it grows like K while real rounding errors grow like sqrt(K), so it
 * catches errors of relative size K u or more. The negative cases below show it is tight enough to
 * fail a wrong computation: a dropped block of 8 K-terms, and (at K = 77) fp32 inputs rounded to
 * bf16 before an fp32 product. */
#include "check.h"
#include "checkpoint.h"
#include "common.h"
#include "config.h"
#include "kernels.h"
#include "matmul_bf16.h"
#include "model.h"
#include "optim.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- rounding ---- */

/* Reference rounding through double: the two bf16 neighbours of x, the nearer, ties to the even one. */
static bf16_t ref_round(float x) {
    if (isnan(x)) return 0x7FC0;
    uint32_t u;
    memcpy(&u, &x, 4);
    bf16_t lo = (bf16_t)(u >> 16), hi = (bf16_t)(lo + 1); /* toward zero, and one step away from zero */
    if ((u & 0xFFFF) == 0) return lo;
    double dl = fabs((double)bf16_widen(lo) - x), dh = fabs((double)bf16_widen(hi) - x); /* callers keep hi finite */
    if (dl < dh) return lo;
    if (dh < dl) return hi;
    return (lo & 1) ? hi : lo;
}

static void test_rounding(void) {
    struct {
        float x;
        bf16_t want;
        const char *what;
    } cases[] = {
        {1.0f, 0x3F80, "1"},
        {1.0f + 0x1p-8f, 0x3F80, "1 + 2^-8 (tie) rounds to even 1"},
        {1.0f + 3 * 0x1p-8f, 0x3F82, "1 + 3 2^-8 (tie) rounds to even 1 + 2^-6"},
        {1.0f + 0x1p-8f + 0x1p-20f, 0x3F81, "just above the tie rounds up"},
        {-2.5f, 0xC020, "-2.5 exact"},
        {-0.0f, 0x8000, "-0 keeps its sign"},
        {INFINITY, 0x7F80, "inf"},
        {3.4028235e38f, 0x7F80, "FLT_MAX rounds to inf, as PyTorch"},
        {NAN, 0x7FC0, "NaN -> 0x7FC0"},
        {0x1p-130f, 0x0008, "denormal 2^-130 = 8 x 2^-133"},
    };
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(name, sizeof name, "bf16 round: %s", cases[i].what);
        CHECK(bf16_round(cases[i].x) == cases[i].want, name, "got 0x%04X, want 0x%04X", bf16_round(cases[i].x),
              cases[i].want);
    }
    /* random floats of every magnitude against the double reference */
    Rng r;
    rng_seed(&r, 3);
    int bad = 0;
    uint32_t first = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rng_u64(&r);
        if ((u & 0x7F800000u) == 0x7F800000u) continue; /* inf / NaN covered above */
        if ((u & 0x7FFFFFFFu) >= 0x7F7F8000u) continue; /* rounds to inf: covered above */
        float x;
        memcpy(&x, &u, 4);
        if (bf16_round(x) != ref_round(x) && !bad++) first = u;
    }
    CHECK(bad == 0, "bf16 round: 200000 random floats match the nearest-even reference", "%d differ, first 0x%08X", bad,
          first);
    float v[5] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -7.0f, 1e-3f, 3.0e38f}, w[5];
    bf16_t h[5];
    memcpy(w, v, sizeof v);
    bf16_round_vec(h, v, 5);
    bf16_quantize_vec(w, 5);
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= h[i] == bf16_round(v[i]) && w[i] == bf16_widen(h[i]);
    CHECK(ok, "bf16 vector round / quantize equal the scalar rounding", "mismatch");
}

/* ---- products ---- */

typedef struct {
    int M, N, K, ta, tb, pad;
    float beta;
    int kind;
} Case; /* kind 0 normal, 1 positive, 2 integers */

static float draw(Rng *r, int kind) {
    if (kind == 1) return (float)rng_uniform(r);
    if (kind == 2) return (float)((int)rng_below(r, 9) - 4);
    return (float)rng_normal(r);
}

/* What run_case feeds the product: the inputs as drawn, or (negative cases) a wrong computation. */
enum { RIGHT = 0, DROP_K_BLOCK = 1, F32_OF_BF16 = 2 };
#define DROPPED 8 /* K-terms a DROP_K_BLOCK product leaves out */

/* gamma_n = n u / (1 - n u), the bound on n roundings of unit roundoff u (any order). */
static double gamma_n(double n, double u) { return n * u / (1 - n * u); }

/* One product: fp32 inputs through oneDNN's fp32 path (f32 set), or rounded to bf16 through mm_bf16,
 * compared element-wise with the exact product (in double) of the inputs the product was given, under
 * the bound of the header. wrong: DROP_K_BLOCK leaves out the last DROPPED K-terms; F32_OF_BF16 (f32 only)
 * gives oneDNN's fp32 path the bf16-rounded inputs while the reference keeps the fp32 ones. Returns the
 * worst ratio of the error to the bound (INFINITY if padding was written), or -1 if oneDNN's fp32 path
 * refused. *max_err_out: the largest error against the product of the unrounded fp32 inputs. */
static double run_case(const Case *c, int f32, int wrong, double *max_err_out) {
    int ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K, br = c->tb ? c->N : c->K, bc = c->tb ? c->K : c->N;
    int lda = ac + c->pad, ldb = bc + c->pad, ldc = c->N + c->pad;
    size_t na = (size_t)ar * lda, nb = (size_t)br * ldb;
    float *A = calloc(na, sizeof(float)), *B = calloc(nb, sizeof(float)), *Aq = calloc(na, sizeof(float)),
          *Bq = calloc(nb, sizeof(float));
    float *C = calloc((size_t)c->M * ldc, sizeof(float)), *C0 = calloc((size_t)c->M * ldc, sizeof(float));
    bf16_t *Ah = calloc(na, sizeof(bf16_t)), *Bh = calloc(nb, sizeof(bf16_t));
    Rng r;
    rng_seed(&r, (uint64_t)(c->M * 7919 + c->N * 31 + c->K + c->ta * 2 + c->tb + c->kind * 1000003));
    for (size_t i = 0; i < na; i++) A[i] = draw(&r, c->kind);
    for (size_t i = 0; i < nb; i++) B[i] = draw(&r, c->kind);
    for (size_t i = 0; i < (size_t)c->M * ldc; i++) C[i] = C0[i] = draw(&r, c->kind == 2 ? 2 : 0);
    bf16_round_vec(Ah, A, na);
    bf16_round_vec(Bh, B, nb);
    bf16_widen_vec(Aq, Ah, na);
    bf16_widen_vec(Bq, Bh, nb);
    /* a prefix of the K-terms keeps every leading dimension (op(A)'s first columns, op(B)'s first rows) */
    int K = wrong == DROP_K_BLOCK ? c->K - DROPPED : c->K;
    double worst = 0, max_err = 0;
    if (f32) {
        const float *a = wrong == F32_OF_BF16 ? Aq : A, *b = wrong == F32_OF_BF16 ? Bq : B;
        if (mm_onednn_f32(c->ta, c->tb, c->M, c->N, K, a, lda, b, ldb, c->beta, C, ldc)) worst = -1;
    } else {
        mm_bf16(c->ta, c->tb, c->M, c->N, K, Ah, lda, Bh, ldb, c->beta, C, ldc);
    }
    /* the inputs the product should have multiplied: fp32 ones for the fp32 path, widened bf16 ones for
     * the bf16 path */
    const float *ra = f32 ? A : Aq, *rb = f32 ? B : Bq;
    double g = gamma_n(c->K + 1, 0x1p-24) + gamma_n(c->K + 1, 0x1p-53), eta = (c->K + 1) * 0x1p-126;
    for (int i = 0; i < c->M && worst >= 0; i++)
        for (int j = 0; j < c->N; j++) {
            double s = 0, sa = 0, s32 = 0;
            for (int k = 0; k < c->K; k++) {
                size_t ia = c->ta ? (size_t)k * lda + i : (size_t)i * lda + k;
                size_t ib = c->tb ? (size_t)j * ldb + k : (size_t)k * ldb + j;
                double p = (double)ra[ia] * rb[ib]; /* exact in double: 24 + 24 significand bits */
                s += p;
                sa += fabs(p);
                s32 += (double)A[ia] * B[ib];
            }
            double c0 = c->beta != 0 ? C0[(size_t)i * ldc + j] : 0, got = C[(size_t)i * ldc + j];
            double err = fabs(got - (s + c0));
            double bound = c->kind == 2 ? 0 : g * (sa + fabs(c0)) + eta;
            double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
            if (ratio > worst) worst = ratio;
            if (fabs(got - (s32 + c0)) > max_err) max_err = fabs(got - (s32 + c0));
        }
    /* columns beyond N (the padding) must be untouched */
    for (int i = 0; i < c->M && worst >= 0; i++)
        for (int j = c->N; j < ldc; j++)
            if (C[(size_t)i * ldc + j] != C0[(size_t)i * ldc + j]) worst = INFINITY;
    if (max_err_out) *max_err_out = max_err;
    free(A);
    free(B);
    free(Aq);
    free(Bq);
    free(C);
    free(C0);
    free(Ah);
    free(Bh);
    return worst;
}

static const Case CASES[] = {
    {1, 1, 1, 0, 0, 0, 0, 0},       {7, 13, 5, 0, 1, 0, 0, 0},      {33, 17, 129, 0, 1, 3, 0, 0},
    {33, 17, 129, 1, 0, 1, 1, 0},   {64, 96, 257, 0, 0, 0, 1, 0},   {65, 31, 200, 1, 1, 2, 0, 0},
    {128, 192, 512, 0, 1, 0, 0, 0}, {256, 64, 1000, 1, 0, 0, 0, 0}, {31, 47, 1000, 0, 1, 5, 0, 1},
    {48, 40, 333, 1, 1, 0, 1, 1},   {19, 23, 77, 0, 1, 4, 0, 2},    {40, 24, 300, 1, 0, 0, 1, 2},
};

/* A wrong computation must fail the bound, and not by a hair: its exact error is at least its measured
 * error minus one bound (the fp32 evaluation of the wrong product is itself within one bound), so a
 * measured worst ratio above 4 fails the bound (ratio > 3 - 1) in any summation order. */
#define WRONG_MARGIN 4.0

static void test_wrong_fails(const char *label, int f32) {
    char name[200];
    const Case drop[2] = {{33, 17, 129, 1, 0, 1, 1, 0}, {31, 47, 1000, 0, 1, 5, 0, 1}};
    for (int i = 0; i < 2; i++) {
        double w = run_case(&drop[i], f32, DROP_K_BLOCK, NULL);
        if (w < 0) return; /* oneDNN refused: test_onednn_f32 says so */
        snprintf(name, sizeof name, "%s: dropping %d of %d K-terms fails the bound (worst error / bound > %g)", label,
                 DROPPED, drop[i].K, WRONG_MARGIN);
        CHECK(w > WRONG_MARGIN, name, "worst error / bound %.3g: the bound would pass a wrong product", w);
        printf("# %s, %d of %d K-terms dropped: worst error / bound %.3g\n", label, DROPPED, drop[i].K, w);
    }
    if (!f32) return;
    const Case q = {19, 23, 77, 0, 1, 4, 0, 0};
    double w = run_case(&q, 1, F32_OF_BF16, NULL);
    snprintf(name, sizeof name, "%s: inputs rounded to bf16 fail the fp32 bound at K = %d (worst error / bound > %g)",
             label, q.K, WRONG_MARGIN);
    CHECK(w > WRONG_MARGIN, name, "worst error / bound %.3g: the bound would pass bf16-rounded inputs", w);
    printf("# %s, inputs rounded to bf16 at K = %d: worst error / bound %.3g\n", label, q.K, w);
}

static void test_products(const char *label) {
    char name[200];
    double most = 0;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const Case *c = &CASES[i];
        double max_err;
        double w = run_case(c, 0, RIGHT, &max_err);
        if (w > most) most = w;
        snprintf(name, sizeof name, "%s: %dx%dx%d %s%s ld+%d beta %g %s within bound", label, c->M, c->N, c->K,
                 c->ta ? "A^T" : "A", c->tb ? "B^T" : "B", c->pad, c->beta,
                 c->kind == 2   ? "integers exact"
                 : c->kind == 1 ? "positive"
                                : "normal");
        CHECK(w <= 1.0, name, "worst error / bound %.3g (max abs error %.3g)", w, max_err);
    }
    printf("# %s: worst error / bound over the cases %.3g\n", label, most);
    /* the product multiplied the bf16 inputs, not fp32 ones: it is off the unrounded product by far more
     * than fp32 rounding */
    Case c = {31, 47, 1000, 0, 1, 0, 0, 1};
    double max_err;
    run_case(&c, 0, RIGHT, &max_err);
    snprintf(name, sizeof name, "%s: bf16 inputs do change the result (the product is not fp32)", label);
    CHECK(max_err > 0x1p-16, name, "max error %.3g: inputs were not rounded to bf16", max_err);
    test_wrong_fails(label, 0);
}

static void test_onednn_f32(void) {
    int refused = 0;
    char name[200];
    double most = 0;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const Case *c = &CASES[i];
        double w = run_case(c, 1, RIGHT, NULL);
        if (w < 0) {
            refused = 1;
            break;
        }
        if (w > most) most = w;
        snprintf(name, sizeof name, "oneDNN f32 path: %dx%dx%d ta %d tb %d ld+%d beta %g matches double", c->M, c->N,
                 c->K, c->ta, c->tb, c->pad, c->beta);
        CHECK(w <= 1.0, name, "worst error / bound %.3g", w);
    }
    if (refused) SKIP("oneDNN f32 path", "oneDNN refused an fp32 matmul");
    else {
        printf("# oneDNN f32 path: worst error / bound over the cases %.3g\n", most);
        test_wrong_fails("oneDNN f32 path", 1);
    }
    int n0 = mm_bf16_cache_size();
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
    for (int k = 0; k < 3; k++) mm_onednn_f32(0, 0, 2, 2, 3, A, 3, B, 2, 0, C, 2);
    CHECK(mm_bf16_cache_size() == n0 + 1, "primitive cache: one primitive per shape, reused",
          "cache grew from %d to %d", n0, mm_bf16_cache_size());
    CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11, "oneDNN f32 path: 2x3 by 3x2 by hand", "got %g %g %g %g",
          C[0], C[1], C[2], C[3]);
}

/* ---- the whole model in bf16 against fp32 ---- */

static ModelConfig small_config(void) { return test_model_config(64, 172, 4, 2, 97, 32); }

static int build_prec(Model *m, Precision p, int B, int T) {
    Err e = {{0}};
    ModelConfig c = small_config();
    if (model_build(m, &c, &e) || model_set_precision(m, p, &e) || model_alloc_train(m, &e) ||
        model_alloc_acts(m, B, T, &e)) {
        printf("FAIL build %s: %s\n", precision_name(p), e.msg);
        return -1;
    }
    model_init_weights(m, 11);
    return 0;
}

/* The weights (or gradients) of m in fp32, whatever their storage: malloc'd n_params floats. */
static float *weights_f32(const Model *m) {
    float *w = xcalloc(m->n_params, sizeof(float));
    if (m->params) memcpy(w, m->params, m->n_params * sizeof(float));
    else bf16_widen_vec(w, m->hw, m->n_params);
    return w;
}

static float *grads_f32(const Model *m) {
    float *g = xcalloc(m->n_params, sizeof(float));
    if (m->grads) memcpy(g, m->grads, m->n_params * sizeof(float));
    else bf16_widen_vec(g, m->hg, m->n_params);
    return g;
}

/* bf16_pure keeps no fp32 copy of weights, gradients or moments: every one is a bf16 array. */
static int pure_storage(const Model *m) {
    return !m->params && !m->grads && !m->adam_m && !m->adam_v && !m->wbf && m->hw && m->hg && m->hm && m->hv;
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        s += (double)b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

/* Gradients of the whole model (two micro-batches accumulated) in bf16 and bf16_pure against the fp32
 * model with the same weights (for bf16_pure: the fp32 model gets the same bf16-rounded weights, so only
 * the arithmetic differs).
 * Tolerance, per tensor, on ||g - g_fp32|| / ||g_fp32||: every product input is rounded once (relative
 * 2^-9, random sign); a weight's gradient passes through about 2L + 2 = 6 rounded products forward and as
 * many backward, so the relative error is about 2^-9 sqrt(12), 0.7% (measured: 0.3-0.6%). bf16 allows
 * 2^-6 (1.6%). bf16_pure also rounds the residual stream, q/k/v, every product output, the logits and the
 * gradients, twice as many roundings on the path or more: 2^-5 (3.1%; measured 0.4-0.7%). The losses must agree to the
 * same order (the loss is a mean over 64 tokens, its rounding noise averages out): 2^-8 relative. */
static void test_model_gradients(void) {
    const int B = 2, T = 32, V = small_config().vocab_size;
    int in[2 * 2 * 32], tg[2 * 2 * 32];
    Rng r;
    rng_seed(&r, 21);
    for (int i = 0; i < 2 * B * T; i++) {
        in[i] = (int)rng_below(&r, (uint64_t)V);
        tg[i] = (int)rng_below(&r, (uint64_t)V);
    }
    Precision precs[2] = {PREC_BF16, PREC_BF16_PURE};
    double tol[2] = {0x1p-6, 0x1p-5};
    for (int k = 0; k < 2; k++) {
        Model f, h;
        if (build_prec(&f, PREC_FP32, B, T) || build_prec(&h, precs[k], B, T)) return;
        float *hw = weights_f32(&h);
        memcpy(f.params, hw, f.n_params * sizeof(float)); /* bf16_pure's rounded weights for both */
        free(hw);
        double lf = 0, lh = 0;
        model_zero_grad(&f);
        model_zero_grad(&h);
        for (int mb = 0; mb < 2; mb++) {
            lf += model_forward(&f, in + mb * B * T, tg + mb * B * T, B, T, NULL);
            model_backward(&f, 0.5f);
            lh += model_forward(&h, in + mb * B * T, tg + mb * B * T, B, T, NULL);
            model_backward(&h, 0.5f);
        }
        char name[160];
        snprintf(name, sizeof name, "%s loss within 2^-8 of fp32's", precision_name(precs[k]));
        CHECK(fabs(lh - lf) <= 0x1p-8 * fabs(lf), name, "fp32 %.6f, %s %.6f", lf / 2, precision_name(precs[k]), lh / 2);
        double worst = 0, least = INFINITY;
        const char *worst_name = "";
        float *hg = grads_f32(&h);
        for (int i = 0; i < f.n_tensors; i++) {
            const TensorInfo *t = &f.tensors[i];
            double d = rel_diff(hg + t->offset, f.grads + t->offset, t->size);
            if (d > worst) worst = d, worst_name = t->name;
            if (d < least) least = d;
        }
        snprintf(name, sizeof name, "%s gradients of every tensor within %g of fp32's (relative norm)",
                 precision_name(precs[k]), tol[k]);
        CHECK(worst <= tol[k], name, "worst %.4g at %s", worst, worst_name);
        printf("# %s: gradient relative difference to fp32 from %.3g to %.3g (%s)\n", precision_name(precs[k]), least,
               worst, worst_name);
        snprintf(name, sizeof name, "%s gradients do differ from fp32's (the products ran in bf16)",
                 precision_name(precs[k]));
        CHECK(least > 0x1p-16, name, "smallest relative difference %.3g", least);
        free(hg);
        if (precs[k] == PREC_BF16_PURE)
            CHECK(pure_storage(&h), "bf16_pure gradients are bf16 numbers (stored as bf16, no fp32 copy)",
                  "an fp32 weight, gradient or moment buffer exists");
        model_free(&f);
        model_free(&h);
    }
}

/* The bf16 weight copy follows the fp32 masters: after an update the next forward uses the new weights,
 * and bf16_pure's update leaves weights and moments on bf16 numbers. */
static void test_updates(void) {
    const int B = 2, T = 16, V = small_config().vocab_size;
    int in[2 * 16], tg[2 * 16];
    for (int i = 0; i < B * T; i++) in[i] = (i * 7) % V, tg[i] = (i * 13 + 5) % V;
    for (int k = 0; k < 2; k++) {
        Precision p = k ? PREC_BF16_PURE : PREC_BF16;
        Model m, f;
        if (build_prec(&m, p, B, T) || build_prec(&f, PREC_FP32, B, T)) return;
        for (int i = 0; i < m.n_tensors; i++) m.wd[i] = f.wd[i] = 0.1;
        for (int step = 1; step <= 3; step++) {
            model_zero_grad(&m);
            model_forward(&m, in, tg, B, T, NULL);
            model_backward(&m, 1.0f);
            adam_update(&m, OPT_ADAM, 1e-2, 0.9, 0.999, 1e-8, step);
        }
        /* the loss of m (bf16 products on its updated weights) against fp32 on the same weights */
        float *mw = weights_f32(&m);
        memcpy(f.params, mw, m.n_params * sizeof(float));
        free(mw);
        float lm = model_forward(&m, in, tg, B, T, NULL), lf = model_forward(&f, in, tg, B, T, NULL);
        char name[160];
        snprintf(name, sizeof name, "%s forward uses the updated weights (loss within 2^-8 of fp32 on them)",
                 precision_name(p));
        CHECK(fabs(lm - lf) <= 0x1p-8 * fabs(lf), name, "bf16 %.6f fp32 %.6f", lm, lf);
        if (p == PREC_BF16_PURE)
            CHECK(pure_storage(&m), "bf16_pure weights and both moments stay bf16 numbers (bf16 storage only)",
                  "an fp32 weight, gradient or moment buffer exists");
        model_free(&m);
        model_free(&f);
    }
}

/* Memory: bytes per parameter of the training state and the activations per dtype, from the engine's memory
 * accounting (model_estimate_mem), checked against what a built model really allocates (glibc's mallinfo2,
 * skipped under ASan whose allocator it cannot see); the 1B configuration with bf16_pure at micro-batch 4 fits
 * in 24 GB by that accounting. */
static void test_memory(void) {
    ModelConfig c = small_config();
    c.vocab_size = 4096; /* parameters dominate the small config's allocations */
    const Precision precs[3] = {PREC_FP32, PREC_BF16, PREC_BF16_PURE};
    const double most[3] = {16, 18, 8}; /* the budgets per parameter */
    ModelMem mm[3];
    for (int k = 0; k < 3; k++) {
        Precision p = precs[k];
        Model m;
        Err e = {{0}};
        size_t before = heap_bytes();
        if (model_build(&m, &c, &e) || model_set_precision(&m, p, &e) || model_alloc_train(&m, &e)) {
            CHECK(0, "memory build", "%s", e.msg);
            return;
        }
        size_t state = heap_bytes() - before; /* parameters' state, table and views: no activations yet */
        if (model_alloc_acts(&m, 4, 32, &e)) {
            CHECK(0, "memory build", "%s", e.msg);
            return;
        }
        size_t used = heap_bytes() - before;
        model_estimate_mem(&c, 4, 32, 1, p, &mm[k]);
        char nm[160];
        double per = (double)mm[k].state / m.n_params;
        snprintf(nm, sizeof nm, "%s state by the accounting: %g bytes per parameter (budget %s %g)", precision_name(p),
                 per, p == PREC_FP32 ? ">=" : "<=", most[k]);
        CHECK(p == PREC_FP32 ? per >= most[k] : per <= most[k], nm, "%.3f bytes per parameter", per);
        snprintf(nm, sizeof nm, "%s allocation: state within 1%% of the accounting, total within 10%%",
                 precision_name(p));
        if (used < m.n_params * model_state_bytes_per_param(p, 0)) /* ASan's allocator: mallinfo2 sees nothing */
            SKIP(nm, "this allocator does not report its usage through mallinfo2");
        else
            CHECK(fabs((double)state - (double)(mm[k].state + mm[k].other)) < 0.01 * state + 4096 &&
                      fabs((double)used - (double)model_mem_total(&mm[k])) < 0.1 * used,
                  nm, "state allocated %zu, accounted %zu; total allocated %zu, accounted %zu", state,
                  mm[k].state + mm[k].other, used, model_mem_total(&mm[k]));
        printf(
            "# %s: %.2f bytes/parameter of state (allocated: %.2f), saved activations %zu bytes (%zu of them bf16)\n",
            precision_name(p), per, (double)state / m.n_params, mm[k].acts, mm[k].acts_h);
        model_free(&m);
    }
    CHECK(mm[1].acts < mm[0].acts, "bf16 activations take less memory than fp32's", "bf16 %zu fp32 %zu", mm[1].acts,
          mm[0].acts);

    /* The 60M configuration's saved activations per layer (the difference of 8 and 7 layers, so the head's logits
     * and the bf16 modes' one-layer working buffers drop out): bf16 stores every per-layer activation but the
     * residual stream in bf16, so a layer takes 0.55 of fp32's at 60M (seq 256); the budget is 0.6 ("roughly
     * half"). */
    Config cfg;
    Err e = {{0}};
    if (config_load(&cfg, "experiments/llama_60m.yaml", &e)) {
        CHECK(0, "read experiments/llama_60m.yaml", "%s", e.msg);
        return;
    }
    int B = cfg.train.micro_batch_size, T = cfg.data.seq_len;
    double layer[3], total[3];
    for (int k = 0; k < 3; k++) {
        ModelConfig c8 = cfg.model, c7 = cfg.model;
        c7.num_hidden_layers = c8.num_hidden_layers - 1;
        ModelMem m8, m7;
        model_estimate_mem(&c8, B, T, 1, precs[k], &m8);
        model_estimate_mem(&c7, B, T, 1, precs[k], &m7);
        layer[k] = (double)(m8.acts - m7.acts);
        total[k] = (double)m8.acts;
        printf("# 60M micro-batch %d x %d, %s: saved activations %.1f MB, %.2f MB per layer\n", B, T,
               precision_name(precs[k]), total[k] / 1e6, layer[k] / 1e6);
    }
    CHECK(layer[1] <= 0.6 * layer[0] && layer[2] <= 0.6 * layer[0],
          "bf16 modes' saved activations per layer at most 0.6 of fp32's (60M)", "fp32 %.0f bf16 %.0f bf16_pure %.0f",
          layer[0], layer[1], layer[2]);

    /* experiments/llama_1b.yaml in bf16_pure at micro-batch 4 */
    if (config_load(&cfg, "experiments/llama_1b.yaml", &e)) {
        CHECK(0, "read experiments/llama_1b.yaml", "%s", e.msg);
        return;
    }
    ModelMem big;
    double gib = model_estimate_mem(&cfg.model, 4, cfg.data.seq_len, 1, PREC_BF16_PURE, &big)
                     ? -1
                     : model_mem_total(&big) / 1073741824.0;
    CHECK(gib > 0 && gib <= 24.0, "1B bf16_pure at micro-batch 4 fits in 24 GiB (memory accounting)", "%.2f GiB", gib);
    printf("# 1B bf16_pure micro-batch 4 x %d: %.2f GiB (state %.2f, activations %.2f, backward scratch %.2f)\n",
           cfg.data.seq_len, gib, big.state / 1073741824.0, big.acts / 1073741824.0, big.scratch / 1073741824.0);
}

/* bf16_pure keeps its logits in bf16 only (the lm_head product writes them rounded): model_logits widens the last
 * forward's into an fp32 block of its own. They are bf16 numbers, their fp32 loss is the forward's loss bit for bit,
 * and after another forward they are that forward's. */
static void test_pure_logits(void) {
    const int B = 2, T = 16, V = small_config().vocab_size;
    int in[2 * 16], in2[2 * 16], tg[2 * 16];
    for (int i = 0; i < B * T; i++) in[i] = (i * 7) % V, in2[i] = (i * 11 + 3) % V, tg[i] = (i * 13 + 5) % V;
    Model m;
    if (build_prec(&m, PREC_BF16_PURE, B, T)) return;
    float *lse = malloc(sizeof(float) * B * T), *ls = malloc(sizeof(float) * B * T);
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        float loss = model_forward(&m, k ? in2 : in, tg, B, T, NULL);
        const float *lg = model_logits(&m);
        for (int i = 0; i < B * T * V; i++) ok &= lg[i] == bf16_quantize(lg[i]);
        float l2 = crossentropy_forward(lse, ls, lg, tg, B * T, V, NULL);
        ok &= l2 == loss;
    }
    CHECK(ok, "bf16_pure: model_logits gives the last forward's logits, bf16 numbers whose fp32 loss is its loss",
          "differs");
    free(lse), free(ls);
    model_free(&m);
}

/* bf16_pure checkpoints: its bf16 weights and moments saved (F32 widened, or BF16 with checkpoint.dtype bf16) and
 * loaded into another bf16_pure model come back bit for bit. */
static void test_pure_checkpoint(void) {
    char dir[512];
    if (!scratch_dir(dir, sizeof dir, NULL, "bf16_ckpt")) return;
    Model a, b;
    if (build_prec(&a, PREC_BF16_PURE, 2, 8) || build_prec(&b, PREC_BF16_PURE, 2, 8)) return;
    Rng r;
    rng_seed(&r, 31);
    for (size_t i = 0; i < a.n_params; i++) { /* finite values of the magnitudes weights and moments take */
        a.hw[i] = bf16_round((float)rng_normal(&r) * 0.02f);
        a.hm[i] = bf16_round((float)rng_normal(&r) * 1e-4f);
        a.hv[i] = bf16_round((float)(rng_uniform(&r) * 1e-9));
    }
    size_t n = a.n_params * sizeof(bf16_t);
    for (int bf16 = 0; bf16 <= 1; bf16++) {
        TrainState st = {.step = 3 + bf16}, got;
        st.decay.last_update_step = -1;
        Err e = {{0}}, warn;
        memset(b.hw, 0, n);
        memset(b.hm, 0, n);
        memset(b.hv, 0, n);
        int rc =
            checkpoint_save_dtype(dir, &a, &st, 0, bf16, &e) || checkpoint_load_latest(dir, &b, &got, &warn, &e) != 1;
        char name[128];
        snprintf(name, sizeof name,
                 "bf16_pure checkpoint (%s weights) reloads its bf16 weights and moments bit for bit",
                 bf16 ? "BF16" : "F32");
        CHECK(!rc && got.step == st.step && !memcmp(a.hw, b.hw, n) && !memcmp(a.hm, b.hm, n) && !memcmp(a.hv, b.hv, n),
              name, "%s", rc ? e.msg : "values differ");
    }
    model_free(&a);
    model_free(&b);
    scratch_remove(dir);
}

int main(void) {
    test_rounding();
    printf("# bf16 product back end: %s\n", mm_bf16_backend());
    test_products("bf16 product");
    test_onednn_f32();
    if (strncmp(mm_bf16_backend(), "fallback", 8)) {
        setenv("ALPHADECAY_BF16_BACKEND", "fallback", 1);
        mm_bf16_release();
        printf("# bf16 product back end: %s\n", mm_bf16_backend());
        test_products("bf16 product (fallback)");
    } else {
        SKIP("bf16 product on oneDNN", "%s", mm_bf16_backend());
    }
    unsetenv("ALPHADECAY_BF16_BACKEND");
    mm_bf16_release();
    test_model_gradients();
    test_pure_checkpoint();
    test_pure_logits();
    test_updates();
    test_memory();
    mm_bf16_release();
    return check_summary();
}
