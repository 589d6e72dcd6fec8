/* test_bf16_kernels.c - the vectorised bf16 kernels (issue 28) against their definitions, on whichever path
 * this build compiled (AVX-512, or the portable branch-free loops: the Makefile builds this file a second
 * time with -mno-avx512f):
 *  - bf16_vec.h's rounding equals bf16_round / bf16_quantize bit for bit, NaN, infinities, ties and
 *    subnormals included;
 *  - bf16_pure's Adam / AdamW update equals, bit for bit, the element-wise definition (each torch op
 *    rounded to bf16, as before vectorising), on tensors whose sizes leave tails of every length; and it
 *    is within an error bound of the update computed in double, derived from its roundings (no sums, so
 *    no summation order enters);
 *  - fp32 and bf16 mode's Adam (optim.c, compiled with -fno-math-errno so that it vectorises) equal the element-wise
 *    definition compiled here, bit for bit, and bf16's weight copy rounded in the update equals rounding the weights;
 *  - the fused kernels that write or read bf16 (RMSNorm both ways, with and without rounding the residual stream
 *    or its gradient; SwiGLU both ways; cross-entropy both ways, reading the logits rounded or not; attention
 *    both ways; RoPE both ways; the embedding gradient) equal the fp32 kernel composed with the conversions it replaced, bit for bit
 *    (the fp32 kernels are tested against double in test_kernels.c; rounding adds at most 2^-8 relative);
 *  - mm_bf16_acc equals mm_bf16 into the widened output followed by rounding, bit for bit, on both back ends,
 *    and is within gamma_K sum|a b| (any summation order) plus one bf16 rounding of the double result. */
#include "bf16_vec.h"
#include "check.h"
#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static void test_rounding(void) {
    Rng r;
    rng_seed(&r, 4);
    int bad = 0;
    long n = 0;
    enum { NV = 1 << 16 };
    static float xs[NV];
    for (int i = 0; i < NV; i++) {
        uint32_t u = (uint32_t)rng_below(&r, 1ull << 32);
        if (i % 7 == 0) u = (u & 0xFFFF0000u) | 0x8000u; /* ties */
        if (i % 11 == 0) u &= 0x807FFFFFu;               /* subnormals */
        xs[i] = from_bits(u);
    }
    xs[0] = INFINITY, xs[1] = -INFINITY, xs[2] = NAN, xs[3] = from_bits(0x7F7FFFFFu), xs[4] = from_bits(0xFFC12345u);
    for (int i = 0; i < NV; i++, n++) bad += bits(bf16q(xs[i])) != bits(bf16_quantize(xs[i]));
    CHECK(bad == 0, "bf16q (branch-free) == bf16_quantize, ties, subnormals, NaN, inf", "%d of %ld differ", bad, n);
#ifdef BF16_VEC_AVX512
    bad = 0;
    for (int i = 0; i < NV; i += 16) {
        float out[16];
        bf16_t h[16], back[16];
        _mm512_storeu_ps(out, bf16q_512(_mm512_loadu_ps(xs + i)));
        bf16_store16(h, _mm512_loadu_ps(out));
        for (int k = 0; k < 16; k++) back[k] = h[k];
        float wid[16];
        _mm512_storeu_ps(wid, bf16_load16(back));
        for (int k = 0; k < 16; k++)
            bad += bits(out[k]) != bits(bf16_quantize(xs[i + k])) || h[k] != bf16_round(xs[i + k]) ||
                   bits(wid[k]) != bits(bf16_widen(h[k]));
    }
    CHECK(bad == 0, "AVX-512 bf16q_512 / bf16_store16 / bf16_load16 == bf16_quantize / bf16_round / bf16_widen",
          "%d differ", bad);
#else
    SKIP("AVX-512 rounding", "built without AVX-512 (the portable path is the one tested here)");
#endif
}

/* The element-wise definition of bf16_pure's update (optim.c's before vectorising). */
static void ref_update(bf16_t *w, const bf16_t *g, bf16_t *mo, bf16_t *ve, size_t n, OptimizerKind kind, float wd,
                       float lr, float b1, float b2, float eps, float bc1, float bc2_sqrt) {
    float step_size = lr / bc1, decoupled = 1.0f - lr * wd;
    for (size_t i = 0; i < n; i++) {
        float grad = bf16_widen(g[i]), wi = bf16_widen(w[i]), m0 = bf16_widen(mo[i]), v0 = bf16_widen(ve[i]);
        if (wd != 0.0f) {
            if (kind == OPT_ADAM) grad = bf16_quantize(grad + wd * wi);
            else wi = bf16_quantize(wi * decoupled);
        }
        float mi = bf16_quantize(m0 + (1.0f - b1) * (grad - m0));
        float vi = bf16_quantize(bf16_quantize(b2 * v0) + (1.0f - b2) * grad * grad);
        float denom = bf16_quantize(bf16_quantize(bf16_quantize(sqrtf(vi)) / bc2_sqrt) + eps);
        mo[i] = bf16_round(mi);
        ve[i] = bf16_round(vi);
        w[i] = bf16_round(wi - step_size * mi / denom);
    }
}

static void test_adam(void) {
    /* hidden 40, intermediate 100, vocab 50: tensor sizes 40, 1600, 4000, 2000 leave tails of 8, 0, 0, 0 elements
     * after whole vectors; the norms (40) are shorter than a block */
    ModelConfig c = test_model_config(40, 100, 4, 2, 53, 16);
    const OptimizerKind kinds[2] = {OPT_ADAM, OPT_ADAMW};
    const double lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int kk = 0; kk < 2; kk++)
        for (int t = 1; t <= 3; t += 2) {
            Model m;
            Err e;
            if (model_build(&m, &c, &e) || model_set_precision(&m, PREC_BF16_PURE, &e) || model_alloc_train(&m, &e)) {
                CHECK(0, "build", "%s", e.msg);
                return;
            }
            size_t n = m.n_params;
            Rng r;
            rng_seed(&r, 77 + t + kk);
            for (size_t i = 0; i < n; i++) {
                m.hw[i] = bf16_round((float)(0.05 * rng_normal(&r)));
                float gi = (float)(1e-2 * rng_normal(&r) * (i % 13 == 0 ? 100 : 1));
                m.hg[i] = bf16_round(i % 97 == 0 ? 0.0f : gi);
                m.hm[i] = t == 1 ? 0 : bf16_round((float)(1e-3 * rng_normal(&r)));
                m.hv[i] = t == 1 ? 0 : bf16_round((float)(1e-6 * fabs(rng_normal(&r))));
            }
            for (int i = 0; i < m.n_tensors; i++) m.wd[i] = i % 3 == 0 ? 0.0 : 0.1 * (i % 5);
            size_t bytes = n * sizeof(bf16_t);
            bf16_t *w0 = malloc(bytes), *g0 = malloc(bytes), *m0 = malloc(bytes), *v0 = malloc(bytes);
            memcpy(w0, m.hw, bytes), memcpy(g0, m.hg, bytes), memcpy(m0, m.hm, bytes), memcpy(v0, m.hv, bytes);
            bf16_t *rw = malloc(bytes), *rm = malloc(bytes), *rv = malloc(bytes);
            memcpy(rw, w0, bytes), memcpy(rm, m0, bytes), memcpy(rv, v0, bytes);
            float bc1 = (float)(1.0 - pow(b1, (double)t)), bc2s = (float)sqrt(1.0 - pow(b2, (double)t));
            for (int i = 0; i < m.n_tensors; i++) {
                size_t o = m.tensors[i].offset;
                ref_update(rw + o, g0 + o, rm + o, rv + o, m.tensors[i].size, kinds[kk], (float)m.wd[i], (float)lr,
                           (float)b1, (float)b2, (float)eps, bc1, bc2s);
            }
            adam_update(&m, kinds[kk], lr, b1, b2, eps, t);
            char name[160];
            snprintf(name, sizeof name,
                     "bf16_pure %s update %d: weights and moments equal the element-wise definition bit for bit",
                     kinds[kk] == OPT_ADAM ? "Adam" : "AdamW", t);
            CHECK(!memcmp(rw, m.hw, bytes) && !memcmp(rm, m.hm, bytes) && !memcmp(rv, m.hv, bytes), name,
                  "weights %d, m %d, v %d differ", memcmp(rw, m.hw, bytes) != 0, memcmp(rm, m.hm, bytes) != 0,
                  memcmp(rv, m.hv, bytes) != 0);
            /* against double: u = 2^-8 per bf16 rounding (plus 2^-23 for the fp32 operation under it). gd, m, v, the
             * denominator and the step then carry at most 1, 2, 5 and 7 roundings' relative error of their terms;
             * the bound below doubles the first-order sum for the higher-order terms. */
            const double u = 0x1p-8 + 0x1p-23;
            double worst = 0;
            for (int i = 0; i < m.n_tensors; i++) {
                double wd = (double)(float)m.wd[i], dec = 1.0 - (double)(float)lr * wd;
                for (size_t j = m.tensors[i].offset; j < m.tensors[i].offset + m.tensors[i].size; j++) {
                    double w = bf16_widen(w0[j]), g = bf16_widen(g0[j]), mm = bf16_widen(m0[j]), v = bf16_widen(v0[j]);
                    double gd = kinds[kk] == OPT_ADAM ? g + wd * w : g, wx = kinds[kk] == OPT_ADAM ? w : w * dec;
                    double mn = b1 * mm + (1 - b1) * gd, vn = b2 * v + (1 - b2) * gd * gd;
                    double den = sqrt(vn) / sqrt(1.0 - pow(b2, t)) + eps, s = lr / (1.0 - pow(b1, t));
                    double wn = wx - s * mn / den;
                    double em = 2 * u * (b1 * fabs(mm) + (1 - b1) * fabs(gd)) + u * fabs(mn);
                    double bound = 2 * (u * fabs(wn) + u * fabs(wx) + s / den * (em + 8 * u * fabs(mn)));
                    double err = fabs(bf16_widen(m.hw[j]) - wn);
                    double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
                    if (ratio > worst) worst = ratio;
                }
            }
            snprintf(name, sizeof name, "bf16_pure %s update %d within the rounding bound of the double update",
                     kinds[kk] == OPT_ADAM ? "Adam" : "AdamW", t);
            CHECK(worst <= 1, name, "worst error / bound %.3g", worst);
            printf("# %s update %d: worst error / bound %.3g\n", kinds[kk] == OPT_ADAM ? "Adam" : "AdamW", t, worst);
            free(w0), free(g0), free(m0), free(v0), free(rw), free(rm), free(rv);
            model_free(&m);
        }
}

static void fill(float *x, size_t n, double sd, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(sd * rng_normal(r));
}

static int same_h(const bf16_t *h, const float *f, size_t n) { /* h == bf16_round(f) everywhere */
    for (size_t i = 0; i < n; i++)
        if (h[i] != bf16_round(f[i])) return 0;
    return 1;
}

static int same_bits(const float *a, const float *b, size_t n) { /* equal as bits (NaN == the same NaN) */
    return !memcmp(a, b, n * sizeof(float));
}

/* fp32 and bf16 mode's Adam (optim.c, vectorised with -fno-math-errno), against the element-wise definition compiled
 * here (scalar sqrtf), bit for bit; in bf16 mode the bf16 weight copy is rounded in the update's loop, and must equal
 * rounding the updated weights (bf16_round, ties to even, NaN -> 0x7FC0) and be marked current. Weights with zero
 * gradient and moments stay put (the step is 0 / eps), so ties placed there reach the rounding; NaN and infinite
 * gradients and weights go through. Sizes as test_adam (tails of every length after whole vectors). */
static void test_adam_fp32(void) {
    ModelConfig c = test_model_config(40, 100, 4, 2, 53, 16);
    const double lr = 3e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    for (int mode = 0; mode < 2; mode++)
        for (int kk = 0; kk < 2; kk++) {
            OptimizerKind kind = kk ? OPT_ADAMW : OPT_ADAM;
            Model m;
            Err e;
            if (model_build(&m, &c, &e) || (mode && model_set_precision(&m, PREC_BF16, &e)) ||
                model_alloc_train(&m, &e)) {
                CHECK(0, "build", "%s", e.msg);
                return;
            }
            size_t n = m.n_params;
            Rng r;
            rng_seed(&r, 91 + kk + 2 * mode);
            for (size_t i = 0; i < n; i++) {
                m.params[i] = (float)(0.05 * rng_normal(&r));
                m.grads[i] = (float)(1e-2 * rng_normal(&r));
                m.adam_m[i] = (float)(1e-3 * rng_normal(&r));
                m.adam_v[i] = (float)(1e-6 * fabs(rng_normal(&r)));
                if (i % 17 == 0) { /* a tie that stays one: no gradient, no moments */
                    m.params[i] = from_bits((bits(m.params[i]) & 0xFFFF0000u) | 0x8000u | ((i / 17 % 2) << 16));
                    m.grads[i] = m.adam_m[i] = m.adam_v[i] = 0.0f;
                }
            }
            m.grads[5] = NAN, m.grads[50] = INFINITY, m.params[70] = -INFINITY, m.params[90] = NAN;
            for (int i = 0; i < m.n_tensors; i++) m.wd[i] = i % 3 == 0 ? 0.0 : 0.1 * (i % 5);
            for (int i = 0; i < m.n_tensors; i++) /* the ties need no decay to stay put */
                for (size_t j = m.tensors[i].offset; m.wd[i] != 0.0 && j < m.tensors[i].offset + m.tensors[i].size; j++)
                    if (j % 17 == 0) m.params[j] = 0.0f;
            size_t bytes = n * sizeof(float);
            float *rw = malloc(bytes), *rm = malloc(bytes), *rv = malloc(bytes);
            memcpy(rw, m.params, bytes), memcpy(rm, m.adam_m, bytes), memcpy(rv, m.adam_v, bytes);
            long t = 2;
            float bc1 = (float)(1.0 - pow(b1, (double)t)), bc2s = (float)sqrt(1.0 - pow(b2, (double)t));
            float fl = (float)lr, fb1 = (float)b1, fb2 = (float)b2, fe = (float)eps, step = fl / bc1;
            for (int i = 0; i < m.n_tensors; i++) {
                float wd = (float)m.wd[i], dec = 1.0f - fl * wd;
                for (size_t j = m.tensors[i].offset; j < m.tensors[i].offset + m.tensors[i].size; j++) {
                    float grad = m.grads[j];
                    if (kind == OPT_ADAM) grad += wd * rw[j];
                    else rw[j] *= dec;
                    rm[j] = fb1 * rm[j] + (1.0f - fb1) * grad;
                    rv[j] = fb2 * rv[j] + (1.0f - fb2) * grad * grad;
                    float denom = sqrtf(rv[j]) / bc2s + fe;
                    rw[j] -= step * rm[j] / denom;
                }
            }
            adam_update(&m, kind, lr, b1, b2, eps, t);
            char name[160];
            snprintf(name, sizeof name,
                     "%s %s update: weights and moments equal the element-wise definition bit for bit",
                     mode ? "bf16" : "fp32", kind == OPT_ADAM ? "Adam" : "AdamW");
            CHECK(same_bits(rw, m.params, n) && same_bits(rm, m.adam_m, n) && same_bits(rv, m.adam_v, n), name,
                  "differs");
            if (mode) {
                int ties = 0;
                for (size_t i = 0; i < n; i += 17) ties += (bits(m.params[i]) & 0xFFFFu) == 0x8000u;
                snprintf(name, sizeof name, "bf16 %s: the weight copy rounded in the update == bf16_round(weights)",
                         kind == OPT_ADAM ? "Adam" : "AdamW");
                CHECK(same_h(m.wbf, m.params, n) && !m.wbf_stale && ties > 100 && isnan(m.params[5]) &&
                          m.wbf[5] == 0x7FC0 && isnan(m.params[90]),
                      name, "differs, stale %d, %d ties", m.wbf_stale, ties);
            }
            free(rw), free(rm), free(rv);
            model_free(&m);
        }
}

static void test_fused(void) {
    Rng r;
    rng_seed(&r, 12);
    const int N = 37, C = 40, I = 53, V = 71, B = 2, T = 19, H = 2, D = 20; /* tails after whole vectors everywhere */
    float *x = malloc(sizeof(float) * N * 2 * I * 4), *f = malloc(sizeof(float) * N * 2 * I * 4),
          *w = malloc(sizeof(float) * C);
    bf16_t *h = malloc(sizeof(bf16_t) * N * 2 * I * 4);
    float rstd[64], rstd2[64];
    fill(x, (size_t)N * C, 1.0, &r);
    for (int j = 0; j < C; j++) w[j] = (float)(1 + 0.1 * rng_normal(&r));
    /* RMSNorm forward, the input first rounded in place or not (bf16_pure's residual stream) */
    for (int quant = 0; quant < 2; quant++) {
        float *x2 = malloc(sizeof(float) * N * C), *x1 = malloc(sizeof(float) * N * C);
        fill(x2, (size_t)N * C, 1.0, &r);
        x2[3] = 0x1.00808p0f, x2[C + 2] = -0x1.01808p-3f; /* ties rounding to even, down and up */
        memcpy(x1, x2, sizeof(float) * N * C);
        if (quant) bf16_quantize_vec(x1, (size_t)N * C);
        rmsnorm_forward(f, rstd, x1, w, N, C, 1e-6f);
        rmsnorm_forward_bf16(h, rstd2, x2, w, N, C, 1e-6f, quant);
        char name[100];
        snprintf(name, sizeof name, "rmsnorm_forward_bf16 (quant_in %d) == round(rmsnorm_forward([quantized] x))",
                 quant);
        CHECK(same_h(h, f, (size_t)N * C) && same_bits(rstd, rstd2, N) && same_bits(x1, x2, (size_t)N * C), name,
              "differs");
        free(x1), free(x2);
    }
    /* RMSNorm backward, dx (accumulated into) then rounded in place and/or into a bf16 copy */
    for (int mode = 0; mode < 4; mode++) {
        int quant = mode & 1, to_h = mode >> 1;
        size_t nc = (size_t)N * C;
        float *dy = malloc(sizeof(float) * nc), *dx1 = malloc(sizeof(float) * nc), *dx2 = malloc(sizeof(float) * nc);
        float *dw1 = calloc(C, sizeof(float)), *dw2 = calloc(C, sizeof(float));
        float *sc = malloc(sizeof(float) * rmsnorm_scratch_floats(N, C));
        bf16_t *dh = malloc(sizeof(bf16_t) * nc), *dh1 = malloc(sizeof(bf16_t) * nc);
        fill(dy, nc, 1.0, &r);
        fill(dx1, nc, 0.5, &r);
        memcpy(dx2, dx1, sizeof(float) * nc);
        rmsnorm_forward(f, rstd, x, w, N, C, 1e-6f);
        rmsnorm_backward(dx1, dw1, sc, dy, x, w, rstd, N, C);
        if (quant) bf16_quantize_vec(dx1, nc);
        if (to_h) bf16_round_vec(dh1, dx1, nc);
        rmsnorm_backward_bf16(dx2, to_h ? dh : NULL, quant, dw2, sc, dy, x, w, rstd, N, C);
        char name[120];
        snprintf(name, sizeof name, "rmsnorm_backward_bf16 (quant %d, bf16 copy %d) == rmsnorm_backward, %s", quant,
                 to_h,
                 quant && to_h ? "quantize, round"
                 : quant       ? "quantize"
                 : to_h        ? "round"
                               : "nothing");
        CHECK(same_bits(dx1, dx2, nc) && same_bits(dw1, dw2, C) && (!to_h || !memcmp(dh, dh1, sizeof(bf16_t) * nc)),
              name, "differs");
        free(dy), free(dx1), free(dx2), free(dw1), free(dw2), free(sc), free(dh), free(dh1);
    }
    /* SwiGLU forward and backward (the backward from bf16 gate/up values) */
    float *gu = malloc(sizeof(float) * N * 2 * I), *dh = malloc(sizeof(float) * N * I),
          *dgu = malloc(sizeof(float) * N * 2 * I);
    bf16_t *guh = malloc(sizeof(bf16_t) * N * 2 * I);
    fill(gu, (size_t)N * 2 * I, 2.0, &r);
    fill(dh, (size_t)N * I, 1.0, &r);
    gu[3] = NAN, gu[I + 4] = -INFINITY, gu[2 * I + 5] = 0x1.00808p0f; /* a NaN, an inf, a tie rounding to even */
    float *gu0 = malloc(sizeof(float) * N * 2 * I);
    bf16_t *guh1 = malloc(sizeof(bf16_t) * N * 2 * I);
    memcpy(gu0, gu, sizeof(float) * N * 2 * I);
    swiglu_forward_bf16(h, guh, gu, N, I);
    int untouched = !memcmp(gu0, gu, sizeof(float) * N * 2 * I);
    bf16_keep_vec(guh1, gu, (size_t)N * 2 * I); /* the composition: keep (round and save), fp32 kernel, round */
    swiglu_forward(f, gu, N, I);
    CHECK(untouched && same_h(h, f, (size_t)N * I) && !memcmp(guh, guh1, sizeof(bf16_t) * N * 2 * I),
          "swiglu_forward_bf16 == keep(gu), swiglu_forward, round; gu left as it was", "differs");
    free(gu0), free(guh1);
    swiglu_backward(dgu, dh, gu, N, I);
    swiglu_backward_bf16(h, dh, guh, N, I);
    CHECK(same_h(h, dgu, (size_t)N * 2 * I), "swiglu_backward_bf16(bf16 gu) == round(swiglu_backward(widened gu))",
          "differs");
    /* cross-entropy: the forward reading the logits rounded (not writing them), the backward writing bf16 from
     * logits read as they are (bf16) or rounded (bf16_pure) */
    float *lg = malloc(sizeof(float) * N * V), *lg2 = malloc(sizeof(float) * N * V),
          *lg3 = malloc(sizeof(float) * N * V);
    float lse[64], lse2[64], ls[64], ls2[64];
    int tg[64], nv, nv2;
    fill(lg, (size_t)N * V, 3.0, &r);
    lg[5] = NAN, lg[V + 7] = INFINITY, lg[2 * V + 1] = 0x1.00808p0f;        /* a NaN, an inf, a tie rounding to even */
    lg[3 * V] = NAN;                                                        /* a NaN where the maximum starts */
    for (int j = 0; j < V; j++) lg[4 * V + j] = j % 3 ? -0x1p-140f : -0.0f; /* maximum 0 after rounding, -0 before */
    lg[6 * V + 9] = 0x1.00008p3f, lg[6 * V + 10] = 0x1.0001p3f; /* two raw maxima rounding to the same value */
    for (int n = 0; n < N; n++) tg[n] = n % 5 == 0 ? -1 : (int)rng_below(&r, V);
    tg[1] = 7, tg[2] = 1;
    memcpy(lg2, lg, sizeof(float) * N * V);
    memcpy(lg3, lg, sizeof(float) * N * V);
    bf16_quantize_vec(lg, (size_t)N * V);
    float l1 = crossentropy_forward(lse, ls, lg, tg, N, V, &nv);
    float l2 = crossentropy_forward_bf16(lse2, ls2, lg2, tg, N, V, &nv2);
    CHECK(same_bits(&l1, &l2, 1) && nv == nv2 && !memcmp(lg2, lg3, sizeof(float) * N * V) && same_bits(lse, lse2, N) &&
              same_bits(ls, ls2, N),
          "crossentropy_forward_bf16 == crossentropy_forward(quantized logits), logits left as they were",
          "loss %g vs %g", l1, l2);
    bf16_t *dl = malloc(sizeof(bf16_t) * N * V);
    for (int quant = 0; quant < 2; quant++) {
        float *ref = malloc(sizeof(float) * N * V);
        crossentropy_backward_bf16(dl, lg3, lse, tg, N, V, 0.37f, quant);
        crossentropy_backward(ref, quant ? lg : lg3, lse, tg, N, V, 0.37f);
        char name[120];
        snprintf(name, sizeof name, "crossentropy_backward_bf16 (quant_in %d) == round(crossentropy_backward(%s))",
                 quant, quant ? "quantized logits" : "logits");
        CHECK(same_h(dl, ref, (size_t)N * V) && !memcmp(lg2, lg3, sizeof(float) * N * V), name, "differs");
        free(ref);
    }
    /* attention: bf16 q/k/v values as the model has them; probabilities and output rounded by the kernel, the
     * backward from the bf16 probabilities */
    int ld = 3 * H * D, Cq = H * D;
    float *qkv = malloc(sizeof(float) * B * T * ld), *y = malloc(sizeof(float) * B * T * Cq),
          *y2 = malloc(sizeof(float) * B * T * Cq);
    float *att = malloc(sizeof(float) * B * H * T * T), *att2 = malloc(sizeof(float) * B * H * T * T);
    float *datt = malloc(sizeof(float) * B * H * T * T), *dy = malloc(sizeof(float) * B * T * Cq);
    float *dq = malloc(sizeof(float) * B * T * ld), *dq2 = malloc(sizeof(float) * B * T * ld);
    bf16_t *atth = malloc(sizeof(bf16_t) * B * H * T * T), *yh = malloc(sizeof(bf16_t) * B * T * Cq);
    fill(qkv, (size_t)B * T * ld, 1.0, &r);
    bf16_quantize_vec(qkv, (size_t)B * T * ld);
    fill(dy, (size_t)B * T * Cq, 1.0, &r);
    attention_forward(y, Cq, att, qkv, qkv + Cq, qkv + 2 * Cq, ld, B, T, H, D);
    attention_forward_bf16(y2, Cq, yh, att2, atth, qkv, qkv + Cq, qkv + 2 * Cq, ld, B, T, H, D);
    CHECK(!memcmp(y, y2, sizeof(float) * B * T * Cq) && same_h(yh, y, (size_t)B * T * Cq) &&
              same_h(atth, att, (size_t)B * H * T * T),
          "attention_forward_bf16: same output, and output and probabilities rounded", "differs");
    bf16_quantize_vec(att, (size_t)B * H * T * T); /* what the backward reads: the saved bf16 probabilities */
    attention_backward(dq, dq + Cq, dq + 2 * Cq, ld, datt, dy, Cq, att, qkv, qkv + Cq, qkv + 2 * Cq, ld, B, T, H, D);
    memset(att2, 0x55, sizeof(float) * B * H * T * T); /* working buffers: the kernel must widen into them */
    bf16_t *qkvh = malloc(sizeof(bf16_t) * B * T * ld);
    float *qkvw = malloc(sizeof(float) * B * T * ld);
    bf16_round_vec(qkvh, qkv, (size_t)B * T * ld);
    memset(qkvw, 0x55, sizeof(float) * B * T * ld);
    attention_backward_bf16(dq2, dq2 + Cq, dq2 + 2 * Cq, ld, datt, dy, Cq, att2, atth, qkvw, qkvw + Cq, qkvw + 2 * Cq,
                            qkvh, ld, B, T, H, D);
    free(qkvh), free(qkvw);
    CHECK(!memcmp(dq, dq2, sizeof(float) * B * T * ld),
          "attention_backward_bf16(bf16 probabilities) == attention_backward(widened)", "differs");
    /* RoPE + rounding + keep in one pass, with and without rounding the input first */
    for (int quant = 0; quant < 2; quant++) {
        float *cs = malloc(sizeof(float) * T * D / 2), *sn = malloc(sizeof(float) * T * D / 2);
        rope_tables(cs, sn, T, D, 10000.0);
        float *r1 = malloc(sizeof(float) * B * T * ld), *r2 = malloc(sizeof(float) * B * T * ld);
        bf16_t *rh = malloc(sizeof(bf16_t) * B * T * ld), *rh1 = malloc(sizeof(bf16_t) * B * T * ld);
        fill(r1, (size_t)B * T * ld, 1.0, &r);
        memcpy(r2, r1, sizeof(float) * B * T * ld);
        if (quant) bf16_quantize_vec(r1, (size_t)B * T * ld);
        rope_forward(r1, ld, cs, sn, B, T, 2 * H, D);
        bf16_keep_vec(rh1, r1, (size_t)B * T * ld);
        rope_forward_bf16(r2, rh, ld, cs, sn, B, T, 2 * H, H, D, quant);
        char name[100];
        snprintf(name, sizeof name, "rope_forward_bf16 (quant_in %d) == [quantize,] rope_forward, keep", quant);
        CHECK(!memcmp(r1, r2, sizeof(float) * B * T * ld) && !memcmp(rh, rh1, sizeof(bf16_t) * B * T * ld), name,
              "differs");
        free(cs), free(sn), free(r1), free(r2), free(rh), free(rh1);
    }
    /* RoPE backward + rounding of dq, dk, dv in one pass */
    {
        float *cs = malloc(sizeof(float) * T * D / 2), *sn = malloc(sizeof(float) * T * D / 2);
        rope_tables(cs, sn, T, D, 10000.0);
        size_t n = (size_t)B * T * ld;
        float *d1 = malloc(sizeof(float) * n), *d2 = malloc(sizeof(float) * n);
        bf16_t *dh = malloc(sizeof(bf16_t) * n), *dh1 = malloc(sizeof(bf16_t) * n);
        fill(d1, n, 1.0, &r);
        d1[1] = NAN, d1[2 * D + 3] = 0x1.00808p0f, d1[ld - 1] = 0x1.01808p0f; /* a NaN; ties in dq and dv */
        memcpy(d2, d1, sizeof(float) * n);
        rope_backward(d1, ld, cs, sn, B, T, 2 * H, D);
        bf16_round_vec(dh1, d1, n);
        memcpy(d1, d2, sizeof(float) * n);
        rope_backward_bf16(dh, d2, ld, cs, sn, B, T, 2 * H, H, D);
        CHECK(!memcmp(dh, dh1, sizeof(bf16_t) * n) && same_bits(d1, d2, n),
              "rope_backward_bf16 == round(rope_backward), dx left as it was", "differs");
        free(cs), free(sn), free(d1), free(d2), free(dh), free(dh1);
    }
    free(x), free(f), free(w), free(h), free(gu), free(dh), free(dgu), free(guh), free(lg), free(lg2), free(lg3),
        free(dl);
    free(qkv), free(y), free(y2), free(att), free(att2), free(datt), free(dy), free(dq), free(dq2), free(atth),
        free(yh);
}

/* mm_bf16_acc on the current back end: bit for bit the composition, and within the bound of the double sum. */
static void test_acc(const char *label) {
    Rng r;
    rng_seed(&r, 31);
    const int M = 45, N = 38, K = 301;
    bf16_t *A = malloc(sizeof(bf16_t) * K * M), *Bm = malloc(sizeof(bf16_t) * K * N),
           *C = malloc(sizeof(bf16_t) * M * N);
    float *Cf = malloc(sizeof(float) * M * N);
    for (int i = 0; i < K * M; i++) A[i] = bf16_round((float)rng_normal(&r));
    for (int i = 0; i < K * N; i++) Bm[i] = bf16_round((float)rng_normal(&r));
    for (int i = 0; i < M * N; i++) C[i] = bf16_round((float)(3 * rng_normal(&r)));
    bf16_widen_vec(Cf, C, (size_t)M * N);
    bf16_t *C0 = malloc(sizeof(bf16_t) * M * N);
    memcpy(C0, C, sizeof(bf16_t) * M * N);
    mm_bf16(1, 0, M, N, K, A, M, Bm, N, 1.0f, Cf, N); /* A stored (K, M), transposed: as the weight gradient */
    mm_bf16_acc(1, 0, M, N, K, A, M, Bm, N, C, N);
    char name[160];
    snprintf(name, sizeof name, "%s: mm_bf16_acc == round(mm_bf16 into the widened output)", label);
    CHECK(same_h(C, Cf, (size_t)M * N), name, "differs");
    double gk = K * 0x1p-24 / (1 - K * 0x1p-24), worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bf16_widen(C0[i * N + j]), sa = fabs(s);
            for (int k = 0; k < K; k++) {
                double p = (double)bf16_widen(A[k * M + i]) * bf16_widen(Bm[k * N + j]);
                s += p, sa += fabs(p);
            }
            double bound = (gk * sa + 0x1p-24 * sa) * (1 + 0x1p-8) + 0x1p-8 * fabs(s);
            double e = fabs(bf16_widen(C[i * N + j]) - s) / bound;
            if (e > worst) worst = e;
        }
    snprintf(name, sizeof name, "%s: mm_bf16_acc within gamma_K sum|ab| + one bf16 rounding of the double sum", label);
    CHECK(worst <= 1, name, "worst error / bound %.3g", worst);
    free(A), free(Bm), free(C), free(Cf), free(C0);
}

/* embedding_backward_bf16 (bf16_pure's embedding gradient) equals widening the whole gradient, embedding_backward
 * and rounding it all back, bit for bit: repeated tokens (more than the vocabulary: every token's row takes several
 * additions, in order), a gradient already holding earlier micro-steps' sums, ties, NaN and infinities. */
static void test_embedding(void) {
    Rng r;
    rng_seed(&r, 21);
    const int V = 29, C = 37, N = 53; /* N > V: repeats; C leaves a tail after whole vectors */
    float *dout = malloc(sizeof(float) * N * C), *wide = malloc(sizeof(float) * V * C),
          *acc = malloc(sizeof(float) * N * C);
    bf16_t *g = malloc(sizeof(bf16_t) * V * C), *g0 = malloc(sizeof(bf16_t) * V * C);
    int tokens[53];
    fill(dout, (size_t)N * C, 1.0, &r);
    dout[5] = INFINITY, dout[C + 7] = NAN, dout[2 * C + 1] = 0x1.00808p0f;         /* a tie */
    for (int n = 0; n < N; n++) tokens[n] = (int)rng_below(&r, (uint64_t)(V - 3)); /* the last 3 rows unused */
    for (size_t i = 0; i < (size_t)V * C; i++) g[i] = bf16_round((float)(0.5 * rng_normal(&r)));
    memcpy(g0, g, sizeof(bf16_t) * V * C);
    for (size_t i = 0; i < (size_t)V * C; i++) wide[i] = bf16_widen(g0[i]);
    embedding_backward(wide, dout, tokens, N, C);
    embedding_backward_bf16(g, acc, dout, tokens, N, C, V);
    CHECK(same_h(g, wide, (size_t)V * C), "embedding_backward_bf16_is_composition", "rows differ");
    CHECK(!memcmp(g + (size_t)(V - 3) * C, g0 + (size_t)(V - 3) * C, sizeof(bf16_t) * 3 * C),
          "embedding_backward_bf16_unused_rows_untouched", "a row without tokens changed");
    /* one token only (the compact block's first row), and no tokens at all */
    memcpy(g, g0, sizeof(bf16_t) * V * C);
    for (size_t i = 0; i < (size_t)V * C; i++) wide[i] = bf16_widen(g0[i]);
    embedding_backward(wide, dout, tokens, 1, C);
    embedding_backward_bf16(g, acc, dout, tokens, 1, C, V);
    CHECK(same_h(g, wide, (size_t)V * C), "embedding_backward_bf16_one_token", "rows differ");
    embedding_backward_bf16(g, acc, dout, tokens, 0, C, V);
    CHECK(same_h(g, wide, (size_t)V * C), "embedding_backward_bf16_no_tokens", "rows changed");
    free(dout);
    free(wide);
    free(acc);
    free(g);
    free(g0);
}

int main(void) {
    test_rounding();
    test_adam();
    test_adam_fp32();
    test_fused();
    test_embedding();
    test_acc(mm_bf16_backend());
    mm_bf16_release();
    setenv("ALPHADECAY_BF16_BACKEND", "fallback", 1);
    test_acc("fallback");
    return check_summary();
}
