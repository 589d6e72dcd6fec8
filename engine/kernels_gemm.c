/* kernels_gemm.c - the matrix-product kernels (see kernels.h): linear layers and causal attention.
 *
 * All products go through cblas_sgemm, called from the main thread so OpenBLAS owns the cores while
 * it runs; the per-row softmax between the GEMM phases is an OpenMP loop. Attention works per
 * (batch, head) directly on column slices of the fused qkv buffer (leading dimension = its width),
 * so no head is ever copied out. */
#include "kernels.h"
#include "kernels_exp.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- linear */

void linear_forward(float *out, const float *x, const float *w, int N, int in, int out_dim, float beta) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out_dim, in, 1.0f, x, in, w, in, beta, out,
                out_dim);
}

void linear_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int N,
                     int in, int out_dim, float beta_dx) {
    /* dW (out, in) += dout^T (out, N) x (N, in) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in, N, 1.0f, dout, out_dim, x, in, 1.0f, dw,
                in);
    /* dx (N, in) = dout (N, out) W (out, in) */
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, out_dim, 1.0f, dout, out_dim, w, in,
                    beta_dx, dx, in);
}

/* ---------------------------------------------------------------- attention */

/* Row-block size for the causal products: row block [r0, r1) of the scores only needs keys [0, r1),
 * which skips most of the masked upper triangle while keeping each GEMM large enough to be efficient. */
#define ATT_BLOCK 128

static inline size_t bh_off(int b, int h, int H, int T) { return ((size_t)b * H + h) * (size_t)T * T; }

void attention_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v,
                       int ldqkv, int B, int T, int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    /* phase 1: scores S = scale Q K^T, lower block-triangle only */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *qb = q + (size_t)b * T * ldqkv + (size_t)h * D;
            const float *kb = k + (size_t)b * T * ldqkv + (size_t)h * D;
            float *S = att + bh_off(b, h, H, T);
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale,
                            qb + (size_t)r0 * ldqkv, ldqkv, kb, ldqkv, 0.0f, S + (size_t)r0 * T, T);
            }
        }
    /* phase 2: causal softmax per row; entries above the diagonal become exact zeros */
    long rows = (long)B * H * T;
#pragma omp parallel for schedule(static) if ((long)rows * T >= 65536)
    for (long r = 0; r < rows; r++) {
        int t = (int)(r % T);
        float *p = att + (size_t)r * T;
        float mx = p[0], s = 0.0f;
#pragma omp simd reduction(max : mx)
        for (int j = 0; j <= t; j++) mx = p[j] > mx ? p[j] : mx;
#pragma omp simd
        for (int j = 0; j <= t; j++) p[j] = exp_fast(p[j] - mx);
#pragma omp simd reduction(+ : s)
        for (int j = 0; j <= t; j++) s += p[j];
        float inv = 1.0f / s;
#pragma omp simd
        for (int j = 0; j <= t; j++) p[j] *= inv;
        memset(p + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
    /* phase 3: Y = P V, again skipping the zero upper blocks */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *vb = v + (size_t)b * T * ldqkv + (size_t)h * D;
            const float *P = att + bh_off(b, h, H, T);
            float *yb = y + (size_t)b * T * ldy + (size_t)h * D;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, 1.0f, P + (size_t)r0 * T,
                            T, vb, ldqkv, 0.0f, yb + (size_t)r0 * ldy, ldy);
            }
        }
}

/* With P the probabilities and dP = dY V^T:  dS = P * (dP - rowsum(P * dP)),
 * dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dY. */
void attention_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                        const float *att, const float *q, const float *k, const float *v, int ldqkv,
                        int B, int T, int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t col = (size_t)h * D;
            const float *P = att + bh_off(b, h, H, T);
            const float *dyb = dy + (size_t)b * T * lddy + col;
            const float *vb = v + (size_t)b * T * ldqkv + col;
            float *dP = datt + bh_off(b, h, H, T);
            /* dV = P^T dY: P is lower triangular, so the full product is exact (zeros add nothing) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, P, T, dyb, lddy, 0.0f,
                        dv + (size_t)b * T * lddqkv + col, lddqkv);
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, 1.0f,
                            dyb + (size_t)r0 * lddy, lddy, vb, ldqkv, 0.0f, dP + (size_t)r0 * T, T);
            }
        }
    long rows = (long)B * H * T;
#pragma omp parallel for schedule(static) if ((long)rows * T >= 65536)
    for (long r = 0; r < rows; r++) {
        int t = (int)(r % T);
        const float *p = att + (size_t)r * T;
        float *d = datt + (size_t)r * T;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int j = 0; j <= t; j++) dot += p[j] * d[j];
#pragma omp simd
        for (int j = 0; j <= t; j++) d[j] = p[j] * (d[j] - dot);
        memset(d + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t col = (size_t)h * D;
            const float *dS = datt + bh_off(b, h, H, T);
            const float *qb = q + (size_t)b * T * ldqkv + col, *kb = k + (size_t)b * T * ldqkv + col;
            float *dqb = dq + (size_t)b * T * lddqkv + col, *dkb = dk + (size_t)b * T * lddqkv + col;
            /* dQ rows r0..r1 need keys 0..r1 only */
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, scale, dS + (size_t)r0 * T,
                            T, kb, ldqkv, 0.0f, dqb + (size_t)r0 * lddqkv, lddqkv);
            }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, dS, T, qb, ldqkv, 0.0f, dkb,
                        lddqkv);
        }
}
