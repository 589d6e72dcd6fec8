/* matmul_bf16.h - bf16 numbers and the matrix product of bf16 inputs with fp32 accumulation and fp32
 * output, the building block of the bf16 training modes (model.h, train.dtype).
 *
 * bf16 is the top half of an IEEE float: 8 exponent bits, 7 stored mantissa bits, so rounding a float
 * to bf16 has relative error <= 2^-8. Rounding is to nearest, ties to even, NaN -> 0x7FC0: bit for bit
 * what PyTorch's c10::BFloat16 and oneDNN's converters do, so a tensor we round equals PyTorch's.
 *
 * Products: C (M x N, fp32, row-major, leading dimension ldc) = op(A) op(B) + beta C, A and B bf16
 * row-major with their leading dimensions, op = transpose when the flag is set, beta 0 or 1 (1 fuses a
 * residual add). Two back ends behind one call:
 *  - oneDNN's matmul primitive (libdnnl), one primitive per (shape, transposes, leading dimensions,
 *    beta) created on first use and kept in a small cache. oneDNN threads with the same OpenMP runtime
 *    as the engine (Debian's libdnnl links libgomp) and uses omp_get_max_threads() threads.
 *  - a fallback when oneDNN has no bf16 matmul for this CPU (oneDNN 2.6 implements it only from
 *    AVX-512 on; on an AVX2 CPU primitive creation fails): both inputs widened to fp32 (exactly: a bf16
 *    is a float) and multiplied by the engine's sgemm. Same inputs, same fp32 accumulation, so the same
 *    numbers up to summation order; no speed-up, the memory saving of bf16 storage stays.
 * The choice is made once, on the first call, by trying to create a bf16 primitive; mm_bf16_backend()
 * names it. ALPHADECAY_BF16_BACKEND=fallback forces the fallback (tests use it to cover both paths).
 *
 * Not thread-safe: call from outside OpenMP parallel regions (the products thread themselves). */
#ifndef MATMUL_BF16_H
#define MATMUL_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint16_t bf16_t;

/* float -> bf16, round to nearest even (PyTorch's rule, NaN -> 0x7FC0). */
static inline bf16_t bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

static inline float bf16_widen(bf16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* The float nearest to x that a bf16 holds: bf16_widen(bf16_round(x)). */
static inline float bf16_quantize(float x) { return bf16_widen(bf16_round(x)); }

/* Vector forms, split over the OpenMP team when long (call outside parallel regions). */
void bf16_round_vec(bf16_t *dst, const float *src, size_t n);
void bf16_widen_vec(float *dst, const bf16_t *src, size_t n);
void bf16_quantize_vec(float *x, size_t n);        /* in place */
void bf16_keep_vec(bf16_t *h, float *f, size_t n); /* h = bf16_round(f), and f = those values widened */
/* sum of x[i]^2 over the widened values, in double, in fixed chunks combined in a fixed order (sumsq_f32's
 * scheme): the same sum as sumsq_f32 of the widened vector, for any thread count. */
double bf16_sumsq(const bf16_t *x, size_t n);

/* C = op(A) op(B) + beta C (see above). beta must be 0 or 1. */
void mm_bf16(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
             float beta, float *C, int ldc);

/* C (bf16) = bf16_round(C + op(A) op(B)): the product accumulated in fp32 and added to the widened C in fp32, then
 * rounded once, as mm_bf16 with beta 1 into a widened copy of C followed by rounding (bf16_pure's gradient
 * accumulation), without the fp32 copy when oneDNN runs it (its sum post-op with a bf16 destination). */
void mm_bf16_acc(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                 bf16_t *C, int ldc);

/* C (bf16) = bf16_round(op(A) op(B)): mm_bf16 with beta 0 followed by rounding, without the fp32 output when oneDNN
 * runs it (a bf16 destination). bf16_pure's logits. */
void mm_bf16_round(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                   bf16_t *C, int ldc);

/* "oneDNN (<isa>)" or "fallback: <why>"; decides the back end if no product ran yet. */
const char *mm_bf16_backend(void);
/* The same in one word, as summary.json records it: "onednn" or "fallback". */
const char *mm_bf16_kind(void);
/* 1 when products run on oneDNN with native bf16 instructions (AVX512-BF16 or AMX), 0 otherwise. */
int mm_bf16_native(void);

/* The oneDNN path with fp32 inputs (same descriptors, strides, post-op and cache as the bf16 path): lets
 * the tests exercise the primitive code on CPUs where oneDNN has no bf16 matmul. Returns -1 if oneDNN
 * refused. */
int mm_onednn_f32(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);
/* Per product shape: the path it took (1 oneDNN, 2 the fallback), calls, and seconds when prof.h's timers were
 * on. The back end is chosen once for every shape: measured on an AVX512-BF16 CPU (Zen 5, one thread), oneDNN
 * ran every Linear shape of tiny.yaml and tiny_test.yaml (down to 256 x 64 x 64) 1.3-2.9x faster than
 * widening + sgemm, except tiny_test's lm_head forward (a tie), so no shape is sent to the fallback
 * (docs/performance.md). */
typedef struct {
    int ta, tb, M, N, K, acc; /* acc: 1 mm_bf16_acc, 2 mm_bf16_round (bf16 output), 0 mm_bf16 */
    int path;
    long calls;
    double seconds;
} MmShape;
int mm_bf16_shapes(const MmShape **out); /* returns the count */
void mm_bf16_shapes_reset(void);

/* Primitives created so far (each distinct shape once). */
int mm_bf16_cache_size(void);
/* Frees the cached primitives and scratch (the next product recreates what it needs). */
void mm_bf16_release(void);

#endif
