/* kernels.c - elementwise and row-wise kernels (see kernels.h): exp, embedding, RMSNorm, residual,
 * RoPE, SwiGLU, cross-entropy. GEMM-based kernels (linear, attention) live in kernels_gemm.c.
 *
 * Every parallel loop splits work by rows (or fixed column/row chunks) so each output element is
 * written by exactly one thread, in an order that does not depend on the thread count. Within a row,
 * `omp simd reduction` sums are fixed by the compiled code (same binary -> same bits). */
#include "kernels.h"
#include "bf16_vec.h"
#include "common.h"
#include "kernels_exp.h"
#include "prof.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Loops with less work than this run on the calling thread: waking the team costs more than it saves,
 * and a team that is never woken does not spin beside OpenBLAS afterwards. */
#define PAR(work) ((work) >= 32768)

/* ---------------------------------------------------------------- exp */

float kn_expf(float x) { return exp_fast(x); }

/* ---------------------------------------------------------------- embedding */

void embedding_forward(float *out, const int *tokens, const float *wte, int N, int C) {
#pragma omp parallel for schedule(static) if (PAR((long)N * C))
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, wte + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
}

/* Rows sharing a token add into the same dwte row, so threads split the columns instead of the rows;
 * each column block walks the rows in order. */
void embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C) {
    const int CB = 64;
    int nblocks = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (PAR((long)N * C))
    for (int blk = 0; blk < nblocks; blk++) {
        int j0 = blk * CB, j1 = j0 + CB < C ? j0 + CB : C;
        for (int n = 0; n < N; n++) {
            float *d = dwte + (size_t)tokens[n] * C;
            const float *g = dout + (size_t)n * C;
            for (int j = j0; j < j1; j++) d[j] += g[j];
        }
    }
}

/* Compact rows rather than the rows' places in a V x C fp32 block: scattered first touches of such a block cost a
 * page fault each (about 1700 per 60M micro-step while its pages were fresh), and it would hold V x C floats. Each
 * row takes the same additions in the same order as in embedding_backward, so the result is the same. */
void embedding_backward_bf16(bf16_t *dwte, float *acc, const float *dout, const int *tokens, int N, int C, int V) {
    int *slot = xcalloc((size_t)V, sizeof(int)); /* token -> compact row + 1 (0: not seen yet) */
    int *rows = xcalloc((size_t)(N > 0 ? N : 1), sizeof(int)), *pos = xcalloc((size_t)(N > 0 ? N : 1), sizeof(int));
    int nr = 0;
    for (int n = 0; n < N; n++) {
        int t = tokens[n];
        if (!slot[t]) slot[t] = ++nr, rows[nr - 1] = t;
        pos[n] = slot[t] - 1;
    }
    Phase o = prof_push(PH_CONVERT);
#pragma omp parallel for schedule(static) if (PAR((long)nr * C))
    for (int r = 0; r < nr; r++) bf16_widen_row(acc + (size_t)r * C, dwte + (size_t)rows[r] * C, (size_t)C);
    prof_pop(o);
    embedding_backward(acc, dout, pos, N, C);
    o = prof_push(PH_CONVERT);
#pragma omp parallel for schedule(static) if (PAR((long)nr * C))
    for (int r = 0; r < nr; r++) bf16_round_row(dwte + (size_t)rows[r] * C, acc + (size_t)r * C, (size_t)C);
    prof_pop(o);
    free(slot);
    free(rows);
    free(pos);
}

/* ---------------------------------------------------------------- RMSNorm */

/* 1 / sqrt(mean(x^2) + eps) of one row: the scale both RMSNorm forwards apply. */
static inline float rms_rstd(const float *xr, int C, float eps) {
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int j = 0; j < C; j++) ss += xr[j] * xr[j];
    return 1.0f / sqrtf(ss / (float)C + eps);
}

void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if (PAR((long)N * C))
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float r = rms_rstd(xr, C, eps);
        rstd[n] = r;
#pragma omp simd
        for (int j = 0; j < C; j++) o[j] = w[j] * (xr[j] * r);
    }
}

/* rmsnorm_forward with the output rounded to bf16 as it is written; quant_in first rounds each row of x to bf16 in
 * place (bf16_pure's residual stream) while it is in cache. */
void rmsnorm_forward_bf16(bf16_t *out, float *rstd, float *x, const float *w, int N, int C, float eps, int quant_in) {
#pragma omp parallel for schedule(static) if (PAR((long)N * C))
    for (int n = 0; n < N; n++) {
        float *xr = x + (size_t)n * C;
        bf16_t *o = out + (size_t)n * C;
        if (quant_in) bf16_quantize_row(xr, (size_t)C);
        float r = rms_rstd(xr, C, eps);
        rstd[n] = r;
#pragma omp simd
        for (int j = 0; j < C; j++) o[j] = bf16_top(bf16q(w[j] * (xr[j] * r)));
    }
}

/* Fixed number of row chunks for the dw partial sums: independent of the thread count. */
static int rms_chunks(int N) { return N < 32 ? (N > 0 ? N : 1) : 32; }

size_t rmsnorm_scratch_floats(int N, int C) { return (size_t)rms_chunks(N) * (size_t)C; }

/* xhat = x * rstd, g = dout * w:  dx = rstd * (g - xhat * mean(g * xhat)),  dw = sum_rows dout * xhat.
 * dx_h, quant (rmsnorm_backward_bf16): each finished row of dx rounded to bf16 while it is in cache. */
static inline void rms_backward(float *dx, bf16_t *dx_h, int quant, float *dw, float *scratch, const float *dout,
                                const float *x, const float *w, const float *rstd, int N, int C) {
    int nch = rms_chunks(N);
#pragma omp parallel for schedule(static) if (PAR((long)N * C))
    for (int c = 0; c < nch; c++) {
        int n0 = (int)((long)N * c / nch), n1 = (int)((long)N * (c + 1) / nch);
        float *part = scratch + (size_t)c * C;
        memset(part, 0, (size_t)C * sizeof(float));
        for (int n = n0; n < n1; n++) {
            const float *xr = x + (size_t)n * C, *g = dout + (size_t)n * C;
            float *d = dx + (size_t)n * C;
            float r = rstd[n], dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int j = 0; j < C; j++) dot += g[j] * w[j] * xr[j];
            float m = dot * r * r / (float)C; /* mean(g*w * xhat) / rstd, folded */
#pragma omp simd
            for (int j = 0; j < C; j++) {
                d[j] += r * (g[j] * w[j] - xr[j] * m);
                part[j] += g[j] * xr[j] * r;
            }
            if (dx_h && quant) bf16_keep_row(dx_h + (size_t)n * C, d, (size_t)C);
            else if (dx_h) bf16_round_row(dx_h + (size_t)n * C, d, (size_t)C);
            else if (quant) bf16_quantize_row(d, (size_t)C);
        }
    }
#pragma omp parallel for schedule(static) if (PAR((long)C * nch))
    for (int j = 0; j < C; j++) {
        float s = 0.0f;
        for (int c = 0; c < nch; c++) s += scratch[(size_t)c * C + j];
        dw[j] += s;
    }
}

void rmsnorm_backward(float *dx, float *dw, float *scratch, const float *dout, const float *x, const float *w,
                      const float *rstd, int N, int C) {
    rms_backward(dx, NULL, 0, dw, scratch, dout, x, w, rstd, N, C);
}

void rmsnorm_backward_bf16(float *dx, bf16_t *dx_h, int quant, float *dw, float *scratch, const float *dout,
                           const float *x, const float *w, const float *rstd, int N, int C) {
    rms_backward(dx, dx_h, quant, dw, scratch, dout, x, w, rstd, N, C);
}

/* ---------------------------------------------------------------- residual */

/* Fixed 256 KB chunks: big enough to stream, enough of them to share. */
#define VEC_CHUNK ((size_t)65536)

void vec_copy(float *dst, const float *src, size_t n) {
    long nch = (long)((n + VEC_CHUNK - 1) / VEC_CHUNK);
#pragma omp parallel for schedule(static) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t j0 = (size_t)c * VEC_CHUNK, len = n - j0 < VEC_CHUNK ? n - j0 : VEC_CHUNK;
        memcpy(dst + j0, src + j0, len * sizeof(float));
    }
}

void vec_zero(float *dst, size_t n) {
    long nch = (long)((n + VEC_CHUNK - 1) / VEC_CHUNK);
#pragma omp parallel for schedule(static) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t j0 = (size_t)c * VEC_CHUNK, len = n - j0 < VEC_CHUNK ? n - j0 : VEC_CHUNK;
        memset(dst + j0, 0, len * sizeof(float));
    }
}

/* ---------------------------------------------------------------- RoPE */

/* Angles in double so long positions keep full float accuracy in the tables. */
void rope_tables(float *cos_t, float *sin_t, int T, int D, double theta) {
    int half = D / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double a = (double)t * pow(theta, -2.0 * i / (double)D);
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
}

/* sign = +1: forward rotation; sign = -1: its transpose (the backward). */
static void rope_apply(float *x, int ld, const float *cos_t, const float *sin_t, int B, int T, int H, int D,
                       float sign) {
    int half = D / 2;
#pragma omp parallel for schedule(static) if (PAR((long)B * T * H * D))
    for (int row = 0; row < B * T; row++) {
        int t = row % T;
        const float *cs = cos_t + (size_t)t * half, *sn = sin_t + (size_t)t * half;
        for (int h = 0; h < H; h++) {
            float *a = x + (size_t)row * ld + (size_t)h * D, *b = a + half;
#pragma omp simd
            for (int i = 0; i < half; i++) {
                float x1 = a[i], x2 = b[i], s = sign * sn[i];
                a[i] = x1 * cs[i] - x2 * s;
                b[i] = x2 * cs[i] + x1 * s;
            }
        }
    }
}

/* The bf16 modes' q/k/v step after the fused product, in one pass: each row's H rotated heads (q, k) and Hk kept
 * heads after them (v); inputs first rounded to bf16 when quant_in (bf16_pure's product output), outputs rounded
 * to bf16 into x and xh (keep): the same operations as bf16_quantize_vec, rope_forward and keep in turn. */
void rope_forward_bf16(float *x, bf16_t *xh, int ld, const float *cos_t, const float *sin_t, int B, int T, int H,
                       int Hk, int D, int quant_in) {
    int half = D / 2;
#pragma omp parallel for schedule(static) if (PAR((long)B * T * (H + Hk) * D))
    for (int row = 0; row < B * T; row++) {
        int t = row % T;
        const float *cs = cos_t + (size_t)t * half, *sn = sin_t + (size_t)t * half;
        float *xr = x + (size_t)row * ld;
        bf16_t *hr = xh + (size_t)row * ld;
        for (int h = 0; h < H; h++) {
            float *a = xr + (size_t)h * D, *b = a + half;
            bf16_t *ah = hr + (size_t)h * D, *bh = ah + half;
#pragma omp simd
            for (int i = 0; i < half; i++) {
                float x1 = quant_in ? bf16q(a[i]) : a[i], x2 = quant_in ? bf16q(b[i]) : b[i], s = 1.0f * sn[i];
                float y1 = bf16q(x1 * cs[i] - x2 * s), y2 = bf16q(x2 * cs[i] + x1 * s);
                a[i] = y1, b[i] = y2;
                ah[i] = bf16_top(y1), bh[i] = bf16_top(y2);
            }
        }
        bf16_keep_row(hr + (size_t)H * D, xr + (size_t)H * D, (size_t)Hk * D);
    }
}

void rope_forward(float *x, int ld, const float *cos_t, const float *sin_t, int B, int T, int H, int D) {
    rope_apply(x, ld, cos_t, sin_t, B, T, H, D, 1.0f);
}

void rope_backward(float *dx, int ld, const float *cos_t, const float *sin_t, int B, int T, int H, int D) {
    rope_apply(dx, ld, cos_t, sin_t, B, T, H, D, -1.0f);
}

/* The bf16 modes' dq/dk/dv step before the qkv product's backward, in one pass: rope_backward's rotation of each
 * row's H heads (dq, dk) and the Hk heads after them (dv), all written rounded to bf16 into dxh (dx is not
 * written): the same operations as rope_backward and rounding the whole rows in turn. */
void rope_backward_bf16(bf16_t *dxh, const float *dx, int ld, const float *cos_t, const float *sin_t, int B, int T,
                        int H, int Hk, int D) {
    int half = D / 2;
    const float sign = -1.0f; /* rope_apply's backward */
#pragma omp parallel for schedule(static) if (PAR((long)B * T * (H + Hk) * D))
    for (int row = 0; row < B * T; row++) {
        int t = row % T;
        const float *cs = cos_t + (size_t)t * half, *sn = sin_t + (size_t)t * half;
        const float *xr = dx + (size_t)row * ld;
        bf16_t *hr = dxh + (size_t)row * ld;
        for (int h = 0; h < H; h++) {
            const float *a = xr + (size_t)h * D, *b = a + half;
            bf16_t *ah = hr + (size_t)h * D, *bh = ah + half;
#pragma omp simd
            for (int i = 0; i < half; i++) {
                float x1 = a[i], x2 = b[i], s = sign * sn[i];
                ah[i] = bf16_top(bf16q(x1 * cs[i] - x2 * s));
                bh[i] = bf16_top(bf16q(x2 * cs[i] + x1 * s));
            }
        }
        bf16_round_row(hr + (size_t)H * D, xr + (size_t)H * D, (size_t)Hk * D);
    }
}

/* ---------------------------------------------------------------- SwiGLU */

void swiglu_forward(float *h, const float *gu, int N, int I) {
#pragma omp parallel for schedule(static) if (PAR((long)N * I))
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * I, *u = g + I;
        float *o = h + (size_t)n * I;
#pragma omp simd
        for (int j = 0; j < I; j++) o[j] = g[j] / (1.0f + exp_fast(-g[j])) * u[j];
    }
}

/* The bf16 modes' step after the gate/up product, in one pass: gate and up rounded to bf16 and saved (gu_h), and
 * swiglu_forward of the rounded values rounded to bf16 as it is written: the same operations as keep (model.c) and
 * swiglu_forward in turn, without writing the rounded fp32 values back. */
void swiglu_forward_bf16(bf16_t *h, bf16_t *gu_h, const float *gu, int N, int I) {
#pragma omp parallel for schedule(static) if (PAR((long)N * I))
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * I, *u = g + I;
        bf16_t *gh = gu_h + (size_t)n * 2 * I, *uh = gh + I;
        bf16_t *o = h + (size_t)n * I;
#pragma omp simd
        for (int j = 0; j < I; j++) {
            float gj = bf16q(g[j]), uj = bf16q(u[j]);
            gh[j] = bf16_top(gj), uh[j] = bf16_top(uj);
            o[j] = bf16_top(bf16q(gj / (1.0f + exp_fast(-gj)) * uj));
        }
    }
}

/* silu(g) = g s, s = sigmoid(g); silu'(g) = s (1 + g (1 - s)). */
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int I) {
#pragma omp parallel for schedule(static) if (PAR((long)N * I))
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * I, *u = g + I, *d = dh + (size_t)n * I;
        float *dg = dgu + (size_t)n * 2 * I, *du = dg + I;
#pragma omp simd
        for (int j = 0; j < I; j++) {
            float s = 1.0f / (1.0f + exp_fast(-g[j]));
            du[j] = d[j] * g[j] * s;
            dg[j] = d[j] * u[j] * s * (1.0f + g[j] * (1.0f - s));
        }
    }
}

/* swiglu_backward reading the saved bf16 gate/up values (widened in registers) and writing the gradient rounded
 * to bf16: the same operations as widening, swiglu_backward and rounding its output. */
void swiglu_backward_bf16(bf16_t *dgu, const float *dh, const bf16_t *gu, int N, int I) {
#pragma omp parallel for schedule(static) if (PAR((long)N * I))
    for (int n = 0; n < N; n++) {
        const bf16_t *g = gu + (size_t)n * 2 * I, *u = g + I;
        const float *d = dh + (size_t)n * I;
        bf16_t *dg = dgu + (size_t)n * 2 * I, *du = dg + I;
#pragma omp simd
        for (int j = 0; j < I; j++) {
            float gj = bf16_widen(g[j]), uj = bf16_widen(u[j]);
            float s = 1.0f / (1.0f + exp_fast(-gj));
            du[j] = bf16_top(bf16q(d[j] * gj * s));
            dg[j] = bf16_top(bf16q(d[j] * uj * s * (1.0f + gj * (1.0f - s))));
        }
    }
}

/* ---------------------------------------------------------------- cross-entropy */

static float row_lse(const float *l, int V) {
    float mx = l[0];
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < V; j++) mx = l[j] > mx ? l[j] : mx;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < V; j++) s += exp_fast(l[j] - mx);
    return mx + logf(s);
}

/* The mean of the valid rows' losses, in a fixed order and in double: bit-identical for any thread count. */
static float ce_mean(const float *losses, const int *targets, int N, int *n_valid) {
    double sum = 0.0;
    int cnt = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) {
            sum += losses[n];
            cnt++;
        }
    if (n_valid) *n_valid = cnt;
    return cnt ? (float)(sum / cnt) : 0.0f;
}

float crossentropy_forward(float *lse, float *losses, const float *logits, const int *targets, int N, int V,
                           int *n_valid) {
#pragma omp parallel for schedule(static) if (PAR((long)N * V))
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        lse[n] = row_lse(l, V);
        losses[n] = targets[n] >= 0 ? lse[n] - l[targets[n]] : 0.0f;
    }
    return ce_mean(losses, targets, N, n_valid);
}

void crossentropy_backward(float *dlogits, const float *logits, const float *lse, const int *targets, int N, int V,
                           float dscale) {
#pragma omp parallel for schedule(static) if (PAR((long)N * V))
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        int t = targets[n];
        if (t < 0) {
            memset(d, 0, (size_t)V * sizeof(float));
            continue;
        }
        float m = lse[n];
#pragma omp simd
        for (int j = 0; j < V; j++) d[j] = dscale * exp_fast(l[j] - m);
        d[t] -= dscale;
    }
}

/* One row of crossentropy_backward_bf16, from fp32 logits l or (l NULL) bf16 logits lh. Two loops, not a select
 * inside one: the vectorised loop then reads one kind. */
static inline void ce_row_grad_bf16(bf16_t *d, const float *l, const bf16_t *lh, float m, int t, int V, float dscale) {
    if (l) {
#pragma omp simd
        for (int j = 0; j < V; j++) d[j] = bf16_top(bf16q(dscale * exp_fast(l[j] - m)));
    } else {
#pragma omp simd
        for (int j = 0; j < V; j++) d[j] = bf16_top(bf16q(dscale * exp_fast(bf16_widen(lh[j]) - m)));
    }
    /* crossentropy_backward's d[t] -= dscale, on the same float value computed again */
    d[t] = bf16_top(bf16q(dscale * exp_fast((l ? l[t] : bf16_widen(lh[t])) - m) - dscale));
}

void crossentropy_backward_bf16(bf16_t *dlogits, const float *logits, const bf16_t *logits_h, const float *lse,
                                const int *targets, int N, int V, float dscale) {
#pragma omp parallel for schedule(static) if (PAR((long)N * V))
    for (int n = 0; n < N; n++) {
        bf16_t *d = dlogits + (size_t)n * V;
        if (targets[n] < 0) memset(d, 0, (size_t)V * sizeof(bf16_t));
        else
            ce_row_grad_bf16(d, logits ? logits + (size_t)n * V : NULL, logits ? NULL : logits_h + (size_t)n * V,
                             lse[n], targets[n], V, dscale);
    }
}

/* The row is widened into a per-thread fp32 row and summed by row_lse itself: the sum's grouping is the compiler's
 * choice for that loop (a loop over bf16 values vectorises with other partial sums), and this keeps the loss bit
 * for bit crossentropy_forward's on the fp32 logits these values round. The widened row stays in
 * cache; the logits come from memory in half the bytes and are rounded nowhere. */
float crossentropy_forward_h(float *lse, float *losses, const bf16_t *logits, const int *targets, int N, int V,
                             int *n_valid) {
#pragma omp parallel if (PAR((long)N * V))
    {
        float *row = xcalloc((size_t)V, sizeof(float));
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            bf16_widen_row(row, logits + (size_t)n * V, (size_t)V);
            lse[n] = row_lse(row, V);
            losses[n] = targets[n] >= 0 ? lse[n] - row[targets[n]] : 0.0f;
        }
        free(row);
    }
    return ce_mean(losses, targets, N, n_valid);
}
