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
 *    or its gradient; SwiGLU both ways; cross-entropy both ways, on fp32 or bf16 logits; attention
 *    both ways; RoPE both ways; the embedding gradient) equal the fp32 kernel composed with the conversions it replaced, bit for bit
 *    (the fp32 kernels are tested against double in test_kernels.c; rounding adds at most 2^-8 relative);
 *  - mm_bf16_acc equals mm_bf16 into the widened output followed by rounding (mm_bf16_round: with beta 0), bit for bit, on both back ends,
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

/* bf16_pure's update on any bits: the weights, gradients and moments random bf16 patterns (NaN, infinities,
 * subnormals, negative second moments) mixed with ordinary values, on tensors of every even length from 2 to 80,
 * five and three times that and its square (tails of every even length after whole vectors and pairs of vectors;
 * a model's tensors are multiples of the hidden size, which RoPE makes even), and with constants that are
 * infinite or NaN (the AVX-512 path leaves a NaN constant to the element-wise loop); bit for bit against the
 * element-wise definition. */
static void test_adam_any_bits(void) {
    /* a NaN decay whose float has payload bits in its low half (0x7FFFFFFF), which rounding must not carry */
    uint64_t nan_bits = 0x7FFFFFFFE0000000ull;
    double nan_payload;
    memcpy(&nan_payload, &nan_bits, 8);
    const double lrs[4] = {3e-3, 3e-3, 3e-3, NAN}, wds[4] = {0.1, INFINITY, nan_payload, 0.1};
    int bad = 0, runs = 0;
    for (int h = 2; h <= 80; h += 2)
        for (int kk = 0; kk < 2; kk++)
            for (int c = 0; c < 4; c++) {
                ModelConfig cfg = test_model_config(h, 3, 1, 1, 5, 8);
                Model m;
                Err e;
                if (model_build(&m, &cfg, &e) || model_set_precision(&m, PREC_BF16_PURE, &e) ||
                    model_alloc_train(&m, &e)) {
                    CHECK(0, "build", "%s", e.msg);
                    return;
                }
                size_t n = m.n_params, bytes = n * sizeof(bf16_t);
                Rng r;
                rng_seed(&r, (uint64_t)(1000 * h + 10 * kk + c));
                bf16_t *arr[4] = {m.hw, m.hg, m.hm, m.hv};
                for (int a = 0; a < 4; a++)
                    for (size_t i = 0; i < n; i++) {
                        double sd = a == 0 ? 0.05 : a == 1 ? 1e-2 : a == 2 ? 1e-3 : 1e-6;
                        float x = (float)(sd * rng_normal(&r));
                        arr[a][i] =
                            rng_below(&r, 2) ? (bf16_t)rng_below(&r, 1u << 16) : bf16_round(a == 3 ? fabsf(x) : x);
                    }
                for (int i = 0; i < m.n_tensors; i++) m.wd[i] = i % 2 ? wds[c] : 0.0;
                bf16_t *rw = malloc(bytes), *rg = malloc(bytes), *rm = malloc(bytes), *rv = malloc(bytes);
                memcpy(rw, m.hw, bytes), memcpy(rg, m.hg, bytes), memcpy(rm, m.hm, bytes), memcpy(rv, m.hv, bytes);
                const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
                float bc1 = (float)(1.0 - pow(b1, 5.0)), bc2s = (float)sqrt(1.0 - pow(b2, 5.0));
                OptimizerKind kind = kk ? OPT_ADAMW : OPT_ADAM;
                for (int i = 0; i < m.n_tensors; i++) {
                    size_t o = m.tensors[i].offset;
                    ref_update(rw + o, rg + o, rm + o, rv + o, m.tensors[i].size, kind, (float)m.wd[i], (float)lrs[c],
                               (float)b1, (float)b2, (float)eps, bc1, bc2s);
                }
                adam_update(&m, kind, lrs[c], b1, b2, eps, 5);
                bad += memcmp(rw, m.hw, bytes) || memcmp(rm, m.hm, bytes) || memcmp(rv, m.hv, bytes);
                runs++;
                free(rw), free(rg), free(rm), free(rv);
                model_free(&m);
            }
    CHECK(bad == 0,
          "bf16_pure Adam / AdamW on any bits (NaN, inf, subnormals; inf and NaN constants; every tail length) "
          "equals the element-wise definition bit for bit",
          "%d of %d runs differ", bad, runs);
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
    /* cross-entropy on bf16 logits (bf16_pure's, rounded by the lm_head product) against the fp32 loss on their
     * widened values; the bf16 backward from fp32 logits (bf16) and from bf16 ones (bf16_pure) against the fp32
     * backward, rounded. lg2 keeps the unrounded logits, lg3 a copy that must stay as it was. */
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
    bf16_t *lh = malloc(sizeof(bf16_t) * N * V), *dl = malloc(sizeof(bf16_t) * N * V);
    bf16_round_vec(lh, lg, (size_t)N * V);
    bf16_quantize_vec(lg, (size_t)N * V);
    float l1 = crossentropy_forward(lse, ls, lg, tg, N, V, &nv);
    float l2 = crossentropy_forward_h(lse2, ls2, lh, tg, N, V, &nv2);
    CHECK(same_bits(&l1, &l2, 1) && nv == nv2 && same_bits(lse, lse2, N) && same_bits(ls, ls2, N),
          "crossentropy_forward_h(bf16 logits) == crossentropy_forward(their widened values)", "loss %g vs %g", l1, l2);
    for (int in_h = 0; in_h < 2; in_h++) {
        float *ref = malloc(sizeof(float) * N * V);
        crossentropy_backward_bf16(dl, in_h ? NULL : lg3, in_h ? lh : NULL, lse, tg, N, V, 0.37f);
        crossentropy_backward(ref, in_h ? lg : lg3, lse, tg, N, V, 0.37f);
        char name[120];
        snprintf(name, sizeof name, "crossentropy_backward_bf16 (%s logits) == round(crossentropy_backward(%s))",
                 in_h ? "bf16" : "fp32", in_h ? "widened bf16 logits" : "logits");
        CHECK(same_h(dl, ref, (size_t)N * V) && !memcmp(lg2, lg3, sizeof(float) * N * V), name, "differs");
        free(ref);
    }
    free(lh);
    int ld = 3 * H * D;
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
}

/* The double composition of attention's backward from probabilities P (B, H, T, T): dP = dY V^T,
 * dS = P (dP - rowsum(P dP)), dQ = s dS K, dK = s dS^T Q, dV = P^T dY (ld of q/k/v and dq/dk/dv: ld, of dy: HD). */
static void att_ref_backward(double *dq, double *dk, double *dv, const double *P, const double *q, const double *k,
                             const double *v, const double *dy, int ld, int B, int T, int H, int D) {
    int HD = H * D;
    double sc = 1.0 / sqrt((double)D), *dS = malloc(sizeof(double) * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const double *Pb = P + ((size_t)b * H + h) * T * T;
            size_t o = (size_t)b * T * ld + (size_t)h * D, oy = (size_t)b * T * HD + (size_t)h * D;
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                    dq[o + (size_t)t * ld + d] = dk[o + (size_t)t * ld + d] = dv[o + (size_t)t * ld + d] = 0;
            for (int t = 0; t < T; t++) {
                double dot = 0;
                for (int j = 0; j <= t; j++) {
                    double dp = 0;
                    for (int d = 0; d < D; d++) dp += dy[oy + (size_t)t * HD + d] * v[o + (size_t)j * ld + d];
                    dS[j] = dp;
                    dot += Pb[(size_t)t * T + j] * dp;
                }
                for (int j = 0; j <= t; j++) {
                    double ds = Pb[(size_t)t * T + j] * (dS[j] - dot);
                    for (int d = 0; d < D; d++) {
                        dq[o + (size_t)t * ld + d] += sc * ds * k[o + (size_t)j * ld + d];
                        dk[o + (size_t)j * ld + d] += sc * ds * q[o + (size_t)t * ld + d];
                        dv[o + (size_t)j * ld + d] += Pb[(size_t)t * T + j] * dy[oy + (size_t)t * HD + d];
                    }
                }
            }
        }
    free(dS);
}

/* The double forward: P (B, H, T, T) and y (ld HD) of q, k, v (ld ld). */
static void att_ref_forward(double *P, double *y, const double *q, const double *k, const double *v, int ld, int B,
                            int T, int H, int D) {
    int HD = H * D;
    double sc = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            double *Pb = P + ((size_t)b * H + h) * T * T;
            size_t o = (size_t)b * T * ld + (size_t)h * D, oy = (size_t)b * T * HD + (size_t)h * D;
            for (int t = 0; t < T; t++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double sv = 0;
                    for (int d = 0; d < D; d++) sv += q[o + (size_t)t * ld + d] * k[o + (size_t)j * ld + d];
                    Pb[(size_t)t * T + j] = j <= t ? sv * sc : -INFINITY;
                    if (j <= t && sv * sc > mx) mx = sv * sc;
                }
                for (int j = 0; j < T; j++) sum += Pb[(size_t)t * T + j] = j <= t ? exp(Pb[(size_t)t * T + j] - mx) : 0;
                for (int j = 0; j < T; j++) Pb[(size_t)t * T + j] /= sum;
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j <= t; j++) acc += Pb[(size_t)t * T + j] * v[o + (size_t)j * ld + d];
                    y[oy + (size_t)t * HD + d] = acc;
                }
            }
        }
}

/* The bf16 modes' attention (bf16 products, fp32 accumulation, on whichever path this build has) against double,
 * within bounds from an error analysis. u = 2^-8 (one bf16 rounding), g(n) = n 2^-24 / (1 - n 2^-24) (fp32
 * accumulation of n terms, any order). Forward: a score carries ds <= s g(D) sum|q k| + 2^-24 |score|; the fp32
 * softmax perturbs p relatively by <= 2 max ds + 2e-7 (exp) + g(T + 3) + 2^-24 max|score - max|; rounding p adds
 * u: e_p. y then errs by <= (e_p + g(T)) sum p |v|. Backward (from the kernel's saved probabilities P, so the
 * reference uses them too): dY rounded (u) and dP accumulated over D: e = (u + g(D)) sum |dy v|; the row dot
 * sum P dP errs by <= sum P e + g(T) sum P |dP|; dS = P (dP - dot) by <= P (e + that + 2^-24 (|dP| + |dot|)),
 * then rounded (u |dS|); dQ, dK err by s (sum |dS err| |k or q| + g(T) sum |dS k or q|), dV by (u + g(T)) sum
 * P |dy|. Each bound is doubled for the higher-order terms. The double backward is itself checked against
 * central finite differences of the double forward. NaN: a NaN in V reaches that column of y and no other. */
static void test_attention(int B, int T, int H, int D, unsigned seed) {
    Rng r;
    rng_seed(&r, seed);
    int HD = H * D, ld = 3 * HD;
    size_t nq = (size_t)B * T * ld, ny = (size_t)B * T * HD, nP = (size_t)B * H * T * T;
    bf16_t *qkvh = malloc(sizeof(bf16_t) * nq), *atth = malloc(sizeof(bf16_t) * nP), *yh = malloc(sizeof(bf16_t) * ny);
    float *y = malloc(sizeof(float) * ny), *dy = malloc(sizeof(float) * ny), *dqkv = malloc(sizeof(float) * nq);
    double *qd = malloc(sizeof(double) * nq), *Pd = malloc(sizeof(double) * nP), *Ph = malloc(sizeof(double) * nP);
    double *yd = malloc(sizeof(double) * ny), *dyd = malloc(sizeof(double) * ny), *gd = malloc(sizeof(double) * nq);
    for (size_t i = 0; i < nq; i++) qd[i] = bf16_widen(qkvh[i] = bf16_round((float)(1.5 * rng_normal(&r))));
    for (size_t i = 0; i < ny; i++) dyd[i] = dy[i] = (float)rng_normal(&r);
    attention_forward_bf16(y, HD, yh, atth, qkvh, ld, B, T, H, D);
    att_ref_forward(Pd, yd, qd, qd + HD, qd + 2 * HD, ld, B, T, H, D);
    const double u = 0x1p-8, e24 = 0x1p-24, sc = 1.0 / sqrt((double)D);
#define G(n) ((n)*e24 / (1 - (n)*e24))
    double worst_p = 0, worst_y = 0, worst_dq = 0, worst_dk = 0, worst_dv = 0;
    int y_rounded = same_h(yh, y, ny);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t o = (size_t)b * T * ld + (size_t)h * D, oy = (size_t)b * T * HD + (size_t)h * D;
            const double *q = qd + o, *k = q + HD, *v = q + 2 * HD, *P = Pd + ((size_t)b * H + h) * T * T;
            const bf16_t *Ps = atth + ((size_t)b * H + h) * T * T;
            for (int t = 0; t < T; t++) {
                double ds = 0, mx = -INFINITY, spread = 0, *sv = malloc(sizeof(double) * (t + 1));
                for (int j = 0; j <= t; j++) {
                    double s = 0, sa = 0;
                    for (int d = 0; d < D; d++)
                        s += q[(size_t)t * ld + d] * k[(size_t)j * ld + d],
                            sa += fabs(q[(size_t)t * ld + d] * k[(size_t)j * ld + d]);
                    sv[j] = s * sc;
                    double e = sc * G(D) * sa + e24 * fabs(sv[j]);
                    ds = e > ds ? e : ds, mx = sv[j] > mx ? sv[j] : mx;
                }
                for (int j = 0; j <= t; j++) spread = mx - sv[j] > spread ? mx - sv[j] : spread;
                free(sv);
                double ep = u + 2 * ds + 2e-7 + G(T + 3) + e24 * spread;
                for (int j = 0; j < T; j++) {
                    double err = fabs(bf16_widen(Ps[(size_t)t * T + j]) - P[(size_t)t * T + j]);
                    double bound = 2 * ep * P[(size_t)t * T + j];
                    double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
                    worst_p = ratio > worst_p ? ratio : worst_p;
                }
                for (int d = 0; d < D; d++) {
                    double pv = 0;
                    for (int j = 0; j <= t; j++) pv += P[(size_t)t * T + j] * fabs(v[(size_t)j * ld + d]);
                    double err = fabs(y[oy + (size_t)t * HD + d] - yd[oy + (size_t)t * HD + d]);
                    double ratio = err / (2 * (ep + G(T)) * pv + 1e-30);
                    worst_y = ratio > worst_y ? ratio : worst_y;
                }
            }
        }
    /* backward, from the saved probabilities */
    for (size_t i = 0; i < nP; i++) Ph[i] = bf16_widen(atth[i]);
    attention_backward_bf16(dqkv, dqkv + HD, dqkv + 2 * HD, ld, dy, HD, atth, qkvh, ld, B, T, H, D);
    att_ref_backward(gd, gd + HD, gd + 2 * HD, Ph, qd, qd + HD, qd + 2 * HD, dyd, ld, B, T, H, D);
    double *edS = malloc(sizeof(double) * T * T), *aS = malloc(sizeof(double) * T * T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t o = (size_t)b * T * ld + (size_t)h * D, oy = (size_t)b * T * HD + (size_t)h * D;
            const double *q = qd + o, *k = q + HD, *v = q + 2 * HD, *P = Ph + ((size_t)b * H + h) * T * T;
            const double *g = dyd + oy;
            for (int t = 0; t < T; t++) {
                double dot = 0, edot = 0, *dp = malloc(sizeof(double) * (t + 1)), *e = malloc(sizeof(double) * (t + 1));
                for (int j = 0; j <= t; j++) {
                    double s = 0, sa = 0;
                    for (int d = 0; d < D; d++)
                        s += g[(size_t)t * HD + d] * v[(size_t)j * ld + d],
                            sa += fabs(g[(size_t)t * HD + d] * v[(size_t)j * ld + d]);
                    dp[j] = s, e[j] = (u + G(D)) * sa;
                    dot += P[(size_t)t * T + j] * s;
                    edot += P[(size_t)t * T + j] * (e[j] + G(T) * fabs(s));
                }
                for (int j = 0; j < T; j++) {
                    double pj = P[(size_t)t * T + j];
                    double dsv = j <= t ? pj * (dp[j] - dot) : 0;
                    aS[(size_t)t * T + j] = fabs(dsv);
                    edS[(size_t)t * T + j] =
                        j <= t ? pj * (e[j] + edot + e24 * (fabs(dp[j]) + fabs(dot))) + u * fabs(dsv) : 0;
                }
                free(dp), free(e);
            }
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++) {
                    double bq = 0, bk = 0, bv = 0;
                    for (int j = 0; j < T; j++) {
                        bq += edS[(size_t)t * T + j] * fabs(k[(size_t)j * ld + d]) +
                              G(T) * aS[(size_t)t * T + j] * fabs(k[(size_t)j * ld + d]);
                        bk += edS[(size_t)j * T + t] * fabs(q[(size_t)j * ld + d]) +
                              G(T) * aS[(size_t)j * T + t] * fabs(q[(size_t)j * ld + d]);
                        bv += (u + G(T)) * P[(size_t)j * T + t] * fabs(g[(size_t)j * HD + d]);
                    }
                    size_t i = o + (size_t)t * ld + d;
                    double rq = fabs(dqkv[i] - gd[i]) / (2 * sc * bq + 1e-30);
                    double rk = fabs(dqkv[i + HD] - gd[i + HD]) / (2 * sc * bk + 1e-30);
                    double rv = fabs(dqkv[i + 2 * HD] - gd[i + 2 * HD]) / (2 * bv + 1e-30);
                    worst_dq = rq > worst_dq ? rq : worst_dq, worst_dk = rk > worst_dk ? rk : worst_dk;
                    worst_dv = rv > worst_dv ? rv : worst_dv;
                }
        }
    free(edS), free(aS);
    char name[160];
    snprintf(name, sizeof name, "attention bf16 (B %d T %d H %d D %d): forward within the bound of double", B, T, H, D);
    CHECK(worst_p <= 1 && worst_y <= 1 && y_rounded, name, "probabilities %.3g, y %.3g of the bound, y_h rounded %d",
          worst_p, worst_y, y_rounded);
    snprintf(name, sizeof name, "attention bf16 (B %d T %d H %d D %d): dq, dk, dv within the bound of double", B, T, H,
             D);
    CHECK(worst_dq <= 1 && worst_dk <= 1 && worst_dv <= 1, name, "dq %.3g, dk %.3g, dv %.3g of the bound", worst_dq,
          worst_dk, worst_dv);
    printf("# attention T %d D %d: worst error / bound: p %.3g, y %.3g, dq %.3g, dk %.3g, dv %.3g\n", T, D, worst_p,
           worst_y, worst_dq, worst_dk, worst_dv);
    /* the double backward against central differences of the double forward (L = sum dy y), a few coordinates */
    att_ref_backward(gd, gd + HD, gd + 2 * HD, Pd, qd, qd + HD, qd + 2 * HD, dyd, ld, B, T, H, D);
    double worst_fd = 0;
    for (int c = 0; c < 12; c++) {
        size_t i = (size_t)rng_below(&r, (uint64_t)nq);
        double x0 = qd[i], h = 1e-5, lp = 0, lm = 0;
        qd[i] = x0 + h;
        att_ref_forward(Pd, yd, qd, qd + HD, qd + 2 * HD, ld, B, T, H, D);
        for (size_t j = 0; j < ny; j++) lp += dyd[j] * yd[j];
        qd[i] = x0 - h;
        att_ref_forward(Pd, yd, qd, qd + HD, qd + 2 * HD, ld, B, T, H, D);
        for (size_t j = 0; j < ny; j++) lm += dyd[j] * yd[j];
        qd[i] = x0;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - gd[i]) / (1e-6 * (1 + fabs(gd[i])));
        worst_fd = err > worst_fd ? err : worst_fd;
    }
    snprintf(name, sizeof name, "attention (T %d D %d): the double backward == central differences (1e-6)", T, D);
    CHECK(worst_fd <= 1, name, "worst error / tolerance %.3g", worst_fd);
    /* a NaN in V (batch 0, head 0, key 5, column 3) reaches y's column 3 and no other column */
    qkvh[(size_t)5 * ld + 2 * HD + 3] = 0x7FC0;
    attention_forward_bf16(y, HD, yh, atth, qkvh, ld, B, T, H, D);
    int nan_ok = 1;
    for (int t = 0; t < T; t++)
        for (int d = 0; d < HD; d++) {
            float x = y[(size_t)t * HD + d];
            if (d == 3 && t >= 5) nan_ok &= isnan(x);
            if (d != 3) nan_ok &= isfinite(x);
        }
    snprintf(name, sizeof name, "attention bf16 (T %d D %d): a NaN in V reaches its column of y only", T, D);
    CHECK(nan_ok, name, "wrong spread");
#undef G
    free(qkvh), free(atth), free(yh), free(y), free(dy), free(dqkv), free(qd), free(Pd), free(Ph), free(yd), free(dyd),
        free(gd);
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
    /* mm_bf16_round: the same without C's old values (bf16_pure's logits), an ld wider than N left untouched */
    const int ldc = N + 3;
    bf16_t *Cr = malloc(sizeof(bf16_t) * M * ldc);
    for (int i = 0; i < M * ldc; i++) Cr[i] = 0x7F81; /* a signalling NaN: padding must keep it, outputs replace it */
    mm_bf16(1, 0, M, N, K, A, M, Bm, N, 0.0f, Cf, N);
    mm_bf16_round(1, 0, M, N, K, A, M, Bm, N, Cr, ldc);
    int same = 1;
    for (int i = 0; i < M; i++) {
        same &= same_h(Cr + (size_t)i * ldc, Cf + (size_t)i * N, (size_t)N);
        for (int j = N; j < ldc; j++) same &= Cr[(size_t)i * ldc + j] == 0x7F81;
    }
    snprintf(name, sizeof name, "%s: mm_bf16_round == round(mm_bf16, beta 0), padding untouched", label);
    CHECK(same, name, "differs");
    free(Cr);
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
    test_adam_any_bits();
    test_adam_fp32();
    test_fused();
    test_attention(2, 67, 2, 16, 5);  /* odd T: an odd last pair; D < a register block */
    test_attention(1, 130, 2, 64, 6); /* three row blocks, D a whole block */
    test_embedding();
    test_acc(mm_bf16_backend());
    mm_bf16_release();
    setenv("ALPHADECAY_BF16_BACKEND", "fallback", 1);
    test_acc("fallback");
    return check_summary();
}
