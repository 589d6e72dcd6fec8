/* kernels.h - the model's compute kernels in forward/backward pairs (fp32).
 *
 * Conventions:
 *  - N = rows (B*T positions), C = hidden, I = intermediate, V = vocab, H heads of D = C/H dims.
 *  - Activations are row-major (N, width); a Linear weight is (out, in) row-major, y = x W^T.
 *  - "ld" arguments are leading dimensions in floats, so a kernel can read a column slice of a wider
 *    buffer (e.g. q, k, v inside one fused (N, 3C) qkv buffer) without copies.
 *  - Backward kernels ACCUMULATE (+=) into parameter gradients. For activation gradients each
 *    function says whether it overwrites or accumulates.
 *  - Threading: one pool, OpenMP's. Elementwise kernels use `parallel for` over rows or fixed chunks;
 *    GEMM kernels call cblas_sgemm single-threaded from an OpenMP loop over output slabs (linear) or
 *    (batch, head) pairs (attention; the bf16 modes' attention with the engine's own bf16 kernel on the same
 *    pairs), see kernels_gemm.c. Call every kernel outside parallel regions.
 *  - Determinism: no float is reduced across threads in an unspecified order; products are cut by
 *    shape and OpenBLAS's thread setting, not by the OpenMP thread count. Reductions over rows
 *    (norm-weight gradients, embedding gradients, the loss) use fixed chunks combined in a fixed order,
 *    so results are bit-identical for any thread count.
 */
#ifndef KERNELS_H
#define KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef uint16_t bf16_t; /* as matmul_bf16.h */

/* exp for softmax / sigmoid: vectorisable, relative error < 2e-7 for x in [-87, 88]; inputs are
 * clamped to that range (exp(-inf) -> ~1e-38, not 0, which no caller distinguishes from 0). */
float kn_expf(float x);

/* ---- embedding: out[n] = wte[tokens[n]] ---- */
void embedding_forward(float *out, const int *tokens, const float *wte, int N, int C);
/* dwte[tokens[n]] += dout[n]; parallel over columns, rows in order (deterministic, race-free). */
void embedding_backward(float *dwte, const float *dout, const int *tokens, int N, int C);
/* The same into bf16 gradients (V x C): the rows of the tokens present widened into acc (at least N x C floats),
 * one compact row per distinct token, accumulated there as embedding_backward does, rounded back; bit for bit
 * widening all of dwte, embedding_backward and rounding it back (the other rows come back unchanged). */
void embedding_backward_bf16(bf16_t *dwte, float *acc, const float *dout, const int *tokens, int N, int C, int V);

/* ---- RMSNorm: out = w * x * rstd, rstd = 1/sqrt(mean(x^2) + eps) (rstd saved, N floats) ---- */
void rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int N, int C, float eps);
/* The same with the output rounded to bf16 (bf16 modes: the product input, written once); quant_in first rounds x
 * to bf16 in place (bf16_pure's residual stream), row by row. */
void rmsnorm_forward_bf16(bf16_t *out, float *rstd, float *x, const float *w, int N, int C, float eps, int quant_in);
/* dx += d/dx, dw += d/dw. scratch: rmsnorm_scratch_floats(N, C) floats for the deterministic dw. */
void rmsnorm_backward(float *dx, float *dw, float *scratch, const float *dout, const float *x, const float *w,
                      const float *rstd, int N, int C);
/* The same, then each row of dx (once complete) rounded: quant rounds dx to bf16 in place (bf16_pure's residual
 * gradient), dx_h (if not NULL) receives it rounded to bf16 (the next product's output gradient). */
void rmsnorm_backward_bf16(float *dx, bf16_t *dx_h, int quant, float *dw, float *scratch, const float *dout,
                           const float *x, const float *w, const float *rstd, int N, int C);
size_t rmsnorm_scratch_floats(int N, int C);

/* ---- linear (cblas_sgemm): out = beta * out + x W^T, x (N, in), W (out_dim, in), out (N, out_dim).
 * beta = 1 fuses a residual add: out already holds the residual stream. ---- */
void linear_forward(float *out, const float *x, const float *w, int N, int in, int out_dim, float beta);
/* dw += dout^T x; dx = beta_dx * dx + dout W (dx may be NULL to skip). */
void linear_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int N, int in,
                     int out_dim, float beta_dx);

/* C (M x N, ldc) = alpha op(A) op(B) + beta C, row-major, op = transpose when the flag is set: the
 * slab-threaded OpenBLAS product the linear kernels use (for the bf16 fallback, matmul_bf16.h). */
void sgemm_threaded(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);

/* dst = src (n floats, no overlap), split over the OpenMP team when large; set: dst = 0. */
void vec_copy(float *dst, const float *src, size_t n);
void vec_zero(float *dst, size_t n);

/* ---- RoPE, Hugging Face rotate_half form. Tables (T, D/2): cos/sin of t * theta^(-2i/D).
 * x rows (b, t) at x + (b*T + t) * ld, head h at column h*D; rotated in place:
 *   x'[i] = x[i] cos - x[i+D/2] sin,  x'[i+D/2] = x[i+D/2] cos + x[i] sin  (i < D/2). ---- */
void rope_tables(float *cos_t, float *sin_t, int T, int D, double theta);
void rope_forward(float *x, int ld, const float *cos_t, const float *sin_t, int B, int T, int H, int D);
/* bf16 modes: rope_forward on the first H heads of each row, then every value of those and of the Hk heads after
 * them rounded to bf16 into x and xh (same leading dimension); quant_in rounds the inputs first. */
void rope_forward_bf16(float *x, bf16_t *xh, int ld, const float *cos_t, const float *sin_t, int B, int T, int H,
                       int Hk, int D, int quant_in);
/* in place: dx = R^T dx */
void rope_backward(float *dx, int ld, const float *cos_t, const float *sin_t, int B, int T, int H, int D);
/* bf16 modes: rope_backward of the first H heads of each row, those and the Hk heads after them written rounded to
 * bf16 into dxh (same leading dimension; dx is left as it was). */
void rope_backward_bf16(bf16_t *dxh, const float *dx, int ld, const float *cos_t, const float *sin_t, int B, int T,
                        int H, int Hk, int D);

/* ---- causal multi-head attention, scale 1/sqrt(D).
 * q, k, v: rows with leading dimension ldqkv (head h at column h*D); y: rows with leading dim ldy.
 * att: (B, H, T, T) softmax probabilities, saved for backward (entries above the diagonal are 0). ---- */
void attention_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v, int ldqkv, int B,
                       int T, int H, int D);
/* Overwrites dq, dk, dv (leading dim lddqkv). datt: (B, H, T, T) scratch. */
void attention_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                        const float *att, const float *q, const float *k, const float *v, int ldqkv, int B, int T,
                        int H, int D);

/* The bf16 modes' forms: the four products with bf16 inputs and fp32 accumulation (as PyTorch's autocast runs
 * them in bf16; kernels_gemm.c), the softmax and its backward in fp32. q, k, v from qkv_h (bf16: q at 0, k at H*D,
 * v at 2*H*D, leading dimension ldqkv). The forward writes the probabilities rounded to bf16 to att_h (B, H, T, T),
 * and computes y = P V from those; y (fp32) and y_h (rounded) with leading dimension ldy. The backward reads the
 * probabilities from att_h and rounds dy and dS to bf16 for the products; it overwrites dq, dk, dv. */
void attention_forward_bf16(float *y, int ldy, bf16_t *y_h, bf16_t *att_h, const bf16_t *qkv_h, int ldqkv, int B, int T,
                            int H, int D);
void attention_backward_bf16(float *dq, float *dk, float *dv, int lddqkv, const float *dy, int lddy,
                             const bf16_t *att_h, const bf16_t *qkv_h, int ldqkv, int B, int T, int H, int D);

/* ---- SwiGLU: gu (N, 2I) holds gate in columns [0, I) and up in [I, 2I);
 * h (N, I) = silu(gate) * up. Backward overwrites dgu (N, 2I). ---- */
void swiglu_forward(float *h, const float *gu, int N, int I);
void swiglu_backward(float *dgu, const float *dh, const float *gu, int N, int I);
/* bf16 modes: the forward rounds gate/up to bf16, saves them in gu_h and writes h of the rounded values rounded to
 * bf16 (the same numbers as rounding gu, the fp32 kernel and rounding h; gu is not written); the backward reads the
 * saved bf16 gate/up values and writes dgu rounded to bf16 (the gate/up product's output gradient), the same
 * numbers as widening, the fp32 kernel and rounding. */
void swiglu_forward_bf16(bf16_t *h, bf16_t *gu_h, const float *gu, int N, int I);
void swiglu_backward_bf16(bf16_t *dgu, const float *dh, const bf16_t *gu, int N, int I);

/* ---- cross-entropy with ignore mask (target -1). Saves lse (N); losses (N) per-row loss (0 if
 * ignored). Returns the mean over valid rows (0 if none), *n_valid = their count. ---- */
float crossentropy_forward(float *lse, float *losses, const float *logits, const int *targets, int N, int V,
                           int *n_valid);
/* Writes dlogits = dscale * (softmax - onehot) for valid rows, 0 for ignored ones. dlogits may alias
 * logits (in-place). For the mean loss times s, dscale = s / n_valid. */
void crossentropy_backward(float *dlogits, const float *logits, const float *lse, const int *targets, int N, int V,
                           float dscale);
/* The bf16 modes (train.dtype bf16 / bf16_pure): the backward writes dlogits rounded to bf16 (the product input of
 * lm_head's backward), from fp32 logits (bf16) or, with logits NULL, from bf16 ones (bf16_pure's logits_h, which its
 * lm_head product writes rounded): the same numbers as crossentropy_backward and rounding. The forward on bf16
 * logits: crossentropy_forward's numbers on their widened values, reading half the bytes. */
void crossentropy_backward_bf16(bf16_t *dlogits, const float *logits, const bf16_t *logits_h, const float *lse,
                                const int *targets, int N, int V, float dscale);
float crossentropy_forward_h(float *lse, float *losses, const bf16_t *logits, const int *targets, int N, int V,
                             int *n_valid);

#endif
