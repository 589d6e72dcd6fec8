/* kernels_gemm.c - the matrix-product kernels (see kernels.h): linear layers and causal attention.
 *
 * Thread model: one pool. Every product runs as single-threaded OpenBLAS calls, and the cores are
 * shared out by OpenMP: a large linear-layer product is cut into one slab of output rows (or columns)
 * per OpenMP thread, attention into its (batch, head) pairs. OpenBLAS's own pthread pool is then never
 * woken, so its workers do not spin and yield beside our OpenMP loops (measured ~9% of CPU time when
 * OpenBLAS threaded the GEMMs itself), and the slabs need no synchronisation inside a product, which
 * matters on a loaded machine. OpenBLAS's thread count is set to 1 around these calls and restored.
 *
 * Determinism: how a product is cut depends on its shape and on OpenBLAS's thread setting (the same
 * knob that decided how OpenBLAS itself cut it before), never on the OpenMP thread count: with fewer
 * OpenMP threads than slabs, a thread computes several slabs, with the same calls. So results are
 * bit-identical for any OpenMP thread count, as the row-chunked elementwise kernels are. (Cutting is
 * not invisible to the bits: some OpenBLAS kernels, e.g. Haswell's sgemm, round element (i, j)
 * differently when the slab edges move.)
 *
 * Attention works per (batch, head) directly on column slices of the fused qkv buffer (leading
 * dimension = its width), so no head is ever copied out; one thread does all products of a pair, so
 * its T x T block stays in cache between the GEMMs and the softmax. */
#include "bf16_vec.h"
#include "kernels.h"
#include "kernels_exp.h"
#include "prof.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* ---------------------------------------------------------------- threaded product */

/* Products with fewer flops than this run as one call on the calling thread. */
#define GEMM_PAR_FLOPS (1 << 22)

/* Slab edges are rounded to multiples of this, so slabs are mostly whole kernel tiles (the sgemm
 * kernels unroll by 4 to 32) while the two halves of a product stay within a few percent. */
#define GEMM_ALIGN 32

/* OpenBLAS single-threaded for the duration of a kernel; returns the setting to restore. */
static int blas_single_begin(void) {
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}

static void blas_single_end(int saved) {
    if (saved != 1) openblas_set_num_threads(saved);
}

static int slab_edge(int n, int part, int parts) {
    if (part >= parts) return n;
    int e = (int)((long)n * part / parts);
    e = (e + GEMM_ALIGN / 2) / GEMM_ALIGN * GEMM_ALIGN;
    return e < n ? e : n;
}

/* C (M x N, row-major, ldc) = alpha op(A) op(B) + beta C, cut into as many slabs as OpenBLAS has
 * threads: rows of C when N <= M (each slab packs all of B, the smaller operand), else columns (each
 * packs all of A). Must be called outside any OpenMP parallel region. */
static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    int saved = blas_single_begin();
    int parts = saved;
    int split_rows = N <= M, len = split_rows ? M : N;
    if (2.0 * M * N * K < GEMM_PAR_FLOPS) parts = 1;
    if (parts > len / GEMM_ALIGN) parts = len / GEMM_ALIGN;
    if (parts <= 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        int nt = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nt < parts ? nt : parts)
        for (int p = 0; p < parts; p++) {
            int s0 = slab_edge(len, p, parts), s1 = slab_edge(len, p + 1, parts);
            if (s1 <= s0) continue;
            if (split_rows) {
                const float *Ap = ta == CblasNoTrans ? A + (size_t)s0 * lda : A + s0;
                cblas_sgemm(CblasRowMajor, ta, tb, s1 - s0, N, K, alpha, Ap, lda, B, ldb, beta, C + (size_t)s0 * ldc,
                            ldc);
            } else {
                const float *Bp = tb == CblasNoTrans ? B + s0 : B + (size_t)s0 * ldb;
                cblas_sgemm(CblasRowMajor, ta, tb, M, s1 - s0, K, alpha, A, lda, Bp, ldb, beta, C + s0, ldc);
            }
        }
    }
    blas_single_end(saved);
}

/* ---------------------------------------------------------------- linear */

void linear_forward(float *out, const float *x, const float *w, int N, int in, int out_dim, float beta) {
    gemm(CblasNoTrans, CblasTrans, N, out_dim, in, 1.0f, x, in, w, in, beta, out, out_dim);
}

void linear_backward(float *dx, float *dw, const float *dout, const float *x, const float *w, int N, int in,
                     int out_dim, float beta_dx) {
    /* dW (out, in) += dout^T (out, N) x (N, in) */
    Phase o = prof_push(PH_MM_BWDW_F32);
    gemm(CblasTrans, CblasNoTrans, out_dim, in, N, 1.0f, dout, out_dim, x, in, 1.0f, dw, in);
    /* dx (N, in) = dout (N, out) W (out, in) */
    prof_at(PH_MM_BWDD_F32);
    if (dx) gemm(CblasNoTrans, CblasNoTrans, N, in, out_dim, 1.0f, dout, out_dim, w, in, beta_dx, dx, in);
    prof_pop(o);
}

/* The frame of both attention kernels: OpenBLAS single-threaded (the (b, h) pairs share the OpenMP team) and
 * the call profiled (prof.h). Products and softmax share one parallel loop, so each thread sums the time of
 * its products (mm) and of its whole share (all); att_end splits the call's wall time, charged to the
 * softmax phase, in that proportion. */
typedef struct {
    int saved; /* OpenBLAS's threads, restored at the end */
    Phase po;
    double t_in;
} AttFrame;

static AttFrame att_begin(void) {
    AttFrame f;
    f.saved = blas_single_begin();
    f.po = prof_push(PH_ATT_GLUE);
    f.t_in = prof_now();
    return f;
}

static void att_end(AttFrame f, double mm, double all) {
    prof_pop(f.po);
    if (all > 0) prof_move(PH_ATT_GLUE, PH_ATT_MM, (prof_now() - f.t_in) * (mm / all));
    blas_single_end(f.saved);
}

/* ---------------------------------------------------------------- attention */

/* Causal block size: query rows [r0, r1) only need keys [0, r1), and key rows [c0, c1) only receive
 * gradient from queries [c0, T); the products skip the blocks that are entirely masked. */
#define ATT_BLOCK 64

/* Pairs (b, h) are shared between threads when the whole attention is worth a parallel region. */
#define ATT_PAR(B, H, T, D) ((double)(B) * (H) * (T) * (T) * (D) >= (double)(1 << 20))

static inline size_t bh_off(int b, int h, int H, int T) { return ((size_t)b * H + h) * (size_t)T * T; }

static inline int blk_end(int r0, int T) { return r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T; }

/* att_h, y_h (bf16 modes, else NULL): the probabilities and the output also written rounded to bf16, row block
 * by row block while they are in cache (the saved probabilities; the o_proj product's input). att is then only a
 * working buffer: each thread computes all its pairs' probabilities in the slot of its first pair, which stays in
 * cache from one pair to the next (writing each pair's T x T block to its own slot went to memory: B H T T floats
 * a layer), with the same operations. */
static void att_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v, int ldqkv, int B,
                        int T, int H, int D, bf16_t *att_h, bf16_t *y_h) {
    float scale = 1.0f / sqrtf((float)D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    {
        float *slot = NULL; /* bf16 modes: this thread's working block */
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            double t0 = prof_now(), t1;
            int b = bh / H, h = bh % H;
            size_t col = (size_t)h * D;
            const float *qb = q + (size_t)b * T * ldqkv + col, *kb = k + (size_t)b * T * ldqkv + col;
            const float *vb = v + (size_t)b * T * ldqkv + col;
            if (!att_h || !slot) slot = att + bh_off(b, h, H, T);
            float *S = slot, *yb = y + (size_t)b * T * ldy + col;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = blk_end(r0, T);
                /* scores S = scale Q K^T for the row block, keys [0, r1) */
                t1 = prof_now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale, qb + (size_t)r0 * ldqkv,
                            ldqkv, kb, ldqkv, 0.0f, S + (size_t)r0 * T, T);
                t_mm += prof_now() - t1;
                /* causal softmax per row; entries above the diagonal become exact zeros */
                for (int t = r0; t < r1; t++) {
                    float *p = S + (size_t)t * T;
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
                /* Y = P V for the row block */
                t1 = prof_now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, 1.0f, S + (size_t)r0 * T, T, vb,
                            ldqkv, 0.0f, yb + (size_t)r0 * ldy, ldy);
                t_mm += prof_now() - t1;
                if (att_h)
                    bf16_round_row(att_h + bh_off(b, h, H, T) + (size_t)r0 * T, S + (size_t)r0 * T,
                                   (size_t)(r1 - r0) * T);
                for (int t = r0; y_h && t < r1; t++)
                    bf16_round_row(y_h + ((size_t)b * T + t) * ldy + col, yb + (size_t)t * ldy, (size_t)D);
            }
            t_all += prof_now() - t0;
        }
    }
    att_end(frame, t_mm, t_all);
}

/* With P the probabilities and dP = dY V^T:  dS = P * (dP - rowsum(P * dP)),
 * dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dY. */
/* att_h (bf16 modes, else NULL): the saved bf16 probabilities, widened pair by pair into att (then a working
 * buffer: each thread widens all its pairs into the slot of its first pair, which stays in cache, as att_forward)
 * just before the pair's products read them. */
static void att_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                         const float *att, const float *q, const float *k, const float *v, int ldqkv, int B, int T,
                         int H, int D, const bf16_t *att_h, const bf16_t *qkv_h) {
    float scale = 1.0f / sqrtf((float)D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    {
        const float *slot = NULL; /* bf16 modes: this thread's working block */
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            double t0 = prof_now(), t1 = t0;
            int b = bh / H, h = bh % H;
            size_t col = (size_t)h * D, off = (size_t)b * T * ldqkv + col, doff = (size_t)b * T * lddqkv + col;
            if (!att_h || !slot) slot = att + bh_off(b, h, H, T);
            const float *P = slot, *dyb = dy + (size_t)b * T * lddy + col;
            if (att_h) bf16_widen_row((float *)P, att_h + bh_off(b, h, H, T), (size_t)T * T);
            for (int t = 0; qkv_h && t < T;
                 t++) /* this pair's q, k, v columns, from the bf16 copy (q at 0, k C, v 2C) */
                for (int w = 0; w < 3; w++)
                    bf16_widen_row((float *)q + off + (size_t)t * ldqkv + (size_t)w * H * D,
                                   qkv_h + off + (size_t)t * ldqkv + (size_t)w * H * D, (size_t)D);
            const float *qb = q + off, *kb = k + off, *vb = v + off;
            float *dS = datt + bh_off(b, h, H, T), *dqb = dq + doff, *dkb = dk + doff, *dvb = dv + doff;
            /* dV[c0, c1) = P[c0.., c0..c1)^T dY[c0..]: queries before c0 have exact zeros there */
            for (int c0 = 0; c0 < T; c0 += ATT_BLOCK)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blk_end(c0, T) - c0, D, T - c0, 1.0f,
                            P + (size_t)c0 * T + c0, T, dyb + (size_t)c0 * lddy, lddy, 0.0f, dvb + (size_t)c0 * lddqkv,
                            lddqkv);
            t_mm += prof_now() - t1;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = blk_end(r0, T);
                /* dP = dY V^T for the row block, keys [0, r1) */
                t1 = prof_now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, 1.0f, dyb + (size_t)r0 * lddy,
                            lddy, vb, ldqkv, 0.0f, dS + (size_t)r0 * T, T);
                t_mm += prof_now() - t1;
                /* softmax backward; zeros above the diagonal up to the block end (all the products read) */
                for (int t = r0; t < r1; t++) {
                    const float *p = P + (size_t)t * T;
                    float *d = dS + (size_t)t * T;
                    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                    for (int j = 0; j <= t; j++) dot += p[j] * d[j];
#pragma omp simd
                    for (int j = 0; j <= t; j++) d[j] = p[j] * (d[j] - dot);
                    memset(d + t + 1, 0, (size_t)(r1 - t - 1) * sizeof(float));
                }
                /* dQ rows [r0, r1) need keys [0, r1) only */
                t1 = prof_now();
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, scale, dS + (size_t)r0 * T, T,
                            kb, ldqkv, 0.0f, dqb + (size_t)r0 * lddqkv, lddqkv);
                t_mm += prof_now() - t1;
            }
            t1 = prof_now();
            /* dK[c0, c1) = scale dS[c0.., c0..c1)^T Q[c0..] */
            for (int c0 = 0; c0 < T; c0 += ATT_BLOCK)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blk_end(c0, T) - c0, D, T - c0, scale,
                            dS + (size_t)c0 * T + c0, T, qb + (size_t)c0 * ldqkv, ldqkv, 0.0f,
                            dkb + (size_t)c0 * lddqkv, lddqkv);
            t_mm += prof_now() - t1;
            t_all += prof_now() - t0;
        }
    }
    att_end(frame, t_mm, t_all);
}

void attention_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v, int ldqkv, int B,
                       int T, int H, int D) {
    att_forward(y, ldy, att, q, k, v, ldqkv, B, T, H, D, NULL, NULL);
}

void attention_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                        const float *att, const float *q, const float *k, const float *v, int ldqkv, int B, int T,
                        int H, int D) {
    att_backward(dq, dk, dv, lddqkv, datt, dy, lddy, att, q, k, v, ldqkv, B, T, H, D, NULL, NULL);
}

void attention_forward_bf16(float *y, int ldy, bf16_t *y_h, float *att, bf16_t *att_h, const float *q, const float *k,
                            const float *v, int ldqkv, int B, int T, int H, int D) {
    att_forward(y, ldy, att, q, k, v, ldqkv, B, T, H, D, att_h, y_h);
}

void attention_backward_bf16(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                             float *att, const bf16_t *att_h, float *q, float *k, float *v, const bf16_t *qkv_h,
                             int ldqkv, int B, int T, int H, int D) {
    (void)k, (void)v; /* at q + H*D and q + 2*H*D: the pair's columns are widened through q */
    att_backward(dq, dk, dv, lddqkv, datt, dy, lddy, att, q, q + (size_t)H * D, q + 2 * (size_t)H * D, ldqkv, B, T, H,
                 D, att_h, qkv_h);
}

/* ---------------------------------------------------------------- exported product */

void sgemm_threaded(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
         C, ldc);
}
