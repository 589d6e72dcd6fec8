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
 * its T x T block stays in cache between the GEMMs and the softmax. The bf16 modes' attention (at the end of
 * this file) keeps that structure with its own bf16 product kernel instead of OpenBLAS. */
#include "bf16_vec.h"
#include "kernels.h"
#include "kernels_exp.h"
#include "prof.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Row t of a causal softmax over T scores, in place: entries 0..t normalised (max subtracted first), entries above
 * the diagonal exact zeros. The one row kernel of both attention forwards (fp32 and the bf16 modes). */
static inline void softmax_causal_row(float *p, int t, int T) {
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

static void att_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v, int ldqkv, int B,
                        int T, int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel for schedule(static) if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    for (int bh = 0; bh < B * H; bh++) {
        double t0 = prof_now(), t1;
        int b = bh / H, h = bh % H;
        size_t col = (size_t)h * D;
        const float *qb = q + (size_t)b * T * ldqkv + col, *kb = k + (size_t)b * T * ldqkv + col;
        const float *vb = v + (size_t)b * T * ldqkv + col;
        float *S = att + bh_off(b, h, H, T), *yb = y + (size_t)b * T * ldy + col;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = blk_end(r0, T);
            /* scores S = scale Q K^T for the row block, keys [0, r1) */
            t1 = prof_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale, qb + (size_t)r0 * ldqkv, ldqkv,
                        kb, ldqkv, 0.0f, S + (size_t)r0 * T, T);
            t_mm += prof_now() - t1;
            /* causal softmax per row; entries above the diagonal become exact zeros */
            for (int t = r0; t < r1; t++) { softmax_causal_row(S + (size_t)t * T, t, T); }
            /* Y = P V for the row block */
            t1 = prof_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, 1.0f, S + (size_t)r0 * T, T, vb,
                        ldqkv, 0.0f, yb + (size_t)r0 * ldy, ldy);
            t_mm += prof_now() - t1;
        }
        t_all += prof_now() - t0;
    }
    att_end(frame, t_mm, t_all);
}

/* With P the probabilities and dP = dY V^T:  dS = P * (dP - rowsum(P * dP)),
 * dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dY. */
static void att_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                         const float *att, const float *q, const float *k, const float *v, int ldqkv, int B, int T,
                         int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel for schedule(static) if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    for (int bh = 0; bh < B * H; bh++) {
        double t0 = prof_now(), t1 = t0;
        int b = bh / H, h = bh % H;
        size_t col = (size_t)h * D, off = (size_t)b * T * ldqkv + col, doff = (size_t)b * T * lddqkv + col;
        const float *P = att + bh_off(b, h, H, T), *dyb = dy + (size_t)b * T * lddy + col;
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, 1.0f, dyb + (size_t)r0 * lddy, lddy,
                        vb, ldqkv, 0.0f, dS + (size_t)r0 * T, T);
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
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, scale, dS + (size_t)r0 * T, T, kb,
                        ldqkv, 0.0f, dqb + (size_t)r0 * lddqkv, lddqkv);
            t_mm += prof_now() - t1;
        }
        t1 = prof_now();
        /* dK[c0, c1) = scale dS[c0.., c0..c1)^T Q[c0..] */
        for (int c0 = 0; c0 < T; c0 += ATT_BLOCK)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blk_end(c0, T) - c0, D, T - c0, scale,
                        dS + (size_t)c0 * T + c0, T, qb + (size_t)c0 * ldqkv, ldqkv, 0.0f, dkb + (size_t)c0 * lddqkv,
                        lddqkv);
        t_mm += prof_now() - t1;
        t_all += prof_now() - t0;
    }
    att_end(frame, t_mm, t_all);
}

void attention_forward(float *y, int ldy, float *att, const float *q, const float *k, const float *v, int ldqkv, int B,
                       int T, int H, int D) {
    att_forward(y, ldy, att, q, k, v, ldqkv, B, T, H, D);
}

void attention_backward(float *dq, float *dk, float *dv, int lddqkv, float *datt, const float *dy, int lddy,
                        const float *att, const float *q, const float *k, const float *v, int ldqkv, int B, int T,
                        int H, int D) {
    att_backward(dq, dk, dv, lddqkv, datt, dy, lddy, att, q, k, v, ldqkv, B, T, H, D);
}

/* ---------------------------------------------------------------- attention, bf16 modes
 *
 * The bf16 modes run attention's four kinds of product (scores Q K^T, P V; in the backward dY V^T, P^T dY, dS K,
 * dS^T Q) with bf16 inputs and fp32 accumulation and output, as PyTorch's autocast runs these batched products
 * in bf16 (its outputs are bf16; ours stay fp32, as the Linear products' do). The inputs are the saved bf16 q, k,
 * v (qkv_h), the probabilities rounded to bf16 (saved as before, and now also what P V reads), and in the
 * backward dY and dS rounded to bf16; the softmax and its backward stay fp32. Products are the engine's own
 * (the pairs' blocks are small, 64 x T x D: oneDNN's per-call overhead would dominate and its primitives are not
 * shareable between the threads of one parallel loop): on CPUs with AVX512-BF16 a register-blocked kernel on
 * vdpbf16ps, elsewhere the packed operands widened (exactly) into a per-thread buffer and one single-threaded sgemm
 * (the same inputs, fp32 accumulation; summation order and denormal handling differ: vdpbf16ps flushes denormals).
 *
 * Operands: A (M x K) is read in pairs along K: the bf16 pair (A[i][2p], A[i][2p+1]) at a + i*sa + p*sk (bf16
 * units): rows of a row-major matrix (sa = lda, sk = 2) or a pair-interleaved one (pack_pairs below: sa = 2,
 * sk = 2 * its row length), so P^T and dS^T need no transposition. B is packed (K/2 rounded up) x ldb 32-bit words,
 * word (p, j) = (B[2p][j], B[2p+1][j]), a missing odd row 0: vdpbf16ps's layout. An odd K's last A pair is read
 * as its first element only. */

/* Columns of packed B are padded to this multiple (the kernel's register block is 4 rows x 64 columns). */
#define PK_COLS 64

static inline size_t pk_ld(int n) { return (size_t)(n + PK_COLS - 1) / PK_COLS * PK_COLS; }

/* Packed operands are bf16 arrays whose element pairs are the words above: word (p, j) at 2 (p ldo + j).
 * out word (p, j) = (x[2p][j], x[2p+1][j]) for the n rows of m of x (leading dimension ldx), p < ceil(n/2): as B
 * of a product over the rows of x, or as A (sa = 2, sk = 2 ldo) of one over x^T. */
static void pack_pairs(bf16_t *out, size_t ldo, const bf16_t *x, size_t ldx, int n, int m) {
    for (int p = 0; p < (n + 1) / 2; p++) {
        const bf16_t *r0 = x + (size_t)(2 * p) * ldx, *r1 = 2 * p + 1 < n ? r0 + ldx : NULL;
        bf16_t *o = out + 2 * (size_t)p * ldo;
#pragma omp simd
        for (int j = 0; j < m; j++) o[2 * j] = r0[j], o[2 * j + 1] = r1 ? r1[j] : 0;
    }
}

/* out word (p, j) = (x[j][2p], x[j][2p+1]): x^T as B of a product over the m (even) columns of x. */
static void pack_words_t(bf16_t *out, size_t ldo, const bf16_t *x, size_t ldx, int n, int m) {
    /* rows of out written in order (the strided reads stay in L1: m/2 passes over the same n lines) */
    for (int p = 0; p < m / 2; p++) {
        bf16_t *o = out + 2 * (size_t)p * ldo;
        const bf16_t *c = x + 2 * p;
#pragma omp simd
        for (int j = 0; j < n; j++) o[2 * j] = c[(size_t)j * ldx], o[2 * j + 1] = c[(size_t)j * ldx + 1];
    }
}

static inline uint32_t ld32(const bf16_t *p) {
    uint32_t u;
    memcpy(&u, p, 4);
    return u;
}

/* C (M x N, ldc) = alpha A B, fp32 accumulation (operands above); ws: mm_pk_ws floats (the path without
 * AVX512-BF16 widens into it). */
static void mm_pk(int M, int N, int K, float alpha, const bf16_t *a, size_t sa, size_t sk, const bf16_t *bp, size_t ldb,
                  float *C, size_t ldc, float *ws) {
    int kf = K / 2, odd = K & 1;
#if defined(__AVX512BF16__)
    (void)ws;
    const __m512 va = _mm512_set1_ps(alpha);
    for (int i0 = 0; i0 < M; i0 += 4) {
        const bf16_t *ar[4]; /* rows past M repeat row i0 (computed, not stored) */
        for (int r = 0; r < 4; r++) ar[r] = a + (size_t)(i0 + (i0 + r < M ? r : 0)) * sa;
        for (int j0 = 0; j0 < N; j0 += PK_COLS) {
            __m512 acc[4][4];
            for (int r = 0; r < 4; r++)
                for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
            const bf16_t *b = bp + 2 * (size_t)j0;
            for (int p = 0; p <= kf; p++) {
                if (p == kf && !odd) break;
                __m512i bv[4];
                for (int v = 0; v < 4; v++)
                    bv[v] = _mm512_loadu_si512((const void *)(b + 2 * ((size_t)p * ldb + 16 * v)));
                for (int r = 0; r < 4; r++) {
                    uint32_t w = p < kf ? ld32(ar[r] + p * sk) : ar[r][p * sk];
                    __m512bh av = (__m512bh)_mm512_set1_epi32((int)w);
                    for (int v = 0; v < 4; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, (__m512bh)bv[v]);
                }
            }
            for (int r = 0; r < 4 && i0 + r < M; r++)
                for (int v = 0; v < 4 && j0 + 16 * v < N; v++) {
                    int n = N - j0 - 16 * v;
                    __mmask16 mk = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
                    _mm512_mask_storeu_ps(C + (size_t)(i0 + r) * ldc + j0 + 16 * v, mk, _mm512_mul_ps(va, acc[r][v]));
                }
        }
    }
#else
    /* without AVX512-BF16: both operands widened (exactly) into ws and one sgemm, the speed of the fp32 products */
    float *fa = ws, *fb = ws + (size_t)M * K;
    for (int i = 0; i < M; i++) {
        const bf16_t *ai = a + (size_t)i * sa;
        float *o = fa + (size_t)i * K;
        for (int p = 0; p < kf + odd; p++) {
            o[2 * p] = bf16_widen(ai[p * sk]);
            if (p < kf) o[2 * p + 1] = bf16_widen(ai[p * sk + 1]);
        }
    }
    for (int p = 0; p < kf + odd; p++) {
        const bf16_t *b = bp + 2 * (size_t)p * ldb;
        float *o0 = fb + (size_t)(2 * p) * N, *o1 = o0 + N;
#pragma omp simd
        for (int j = 0; j < N; j++) o0[j] = bf16_widen(b[2 * j]);
        if (p < kf) {
#pragma omp simd
            for (int j = 0; j < N; j++) o1[j] = bf16_widen(b[2 * j + 1]);
        }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, alpha, fa, K, fb, N, 0.0f, C, ldc);
#endif
}

/* Per-thread working memory of the bf16 attention kernels (32-bit words), zeroed: the kernel reads a packed
 * operand's padding. kt, vt: K^T and V^T packed (D/2 x ldT); kp, qp, yp: K, Q and dY pair-packed (ceil(T/2) x
 * ldD); pp, sp: P and dS pair-packed (ceil(T/2) x ldT); S: a row block of fp32 scores or dP; dyh, dsh: dY and
 * dS rounded to bf16 (T x D, T x T). The forward needs kt, kp (V), S. */
typedef struct {
    bf16_t *w, *kt, *vt, *kp, *qp, *yp, *pp, *sp;
    float *S, *f; /* f: mm_pk's widened operands (builds without AVX512-BF16) */
    bf16_t *dyh, *dsh;
} AttWork;

static void att_work(AttWork *w, int T, int D, int backward) {
    size_t ldT = pk_ld(T), ldD = pk_ld(D), T2 = (size_t)(T + 1) / 2, slack = PK_COLS;
    size_t nt = (size_t)D / 2 * ldT + slack, np = T2 * ldD + slack, ntt = T2 * ldT + slack;
    size_t nS = (size_t)ATT_BLOCK * T, ndy = ((size_t)T * D + 1) / 2, nds = ((size_t)T * T + 1) / 2;
    size_t tot = nt + np + nS + (backward ? nt + 2 * np + 2 * ntt + ndy + nds : 0);
#if !defined(__AVX512BF16__)
    size_t mx = (size_t)(T > D ? T : D) + 1;
    size_t nf = (size_t)ATT_BLOCK * mx + mx * (size_t)(T > D ? T : D); /* A: <= ATT_BLOCK x K, B: K x N */
    tot += nf;
#endif
    memset(w, 0, sizeof *w);
    w->w = calloc(2 * tot, sizeof(bf16_t));
    if (!w->w) {
        fprintf(stderr, "alphadecay: out of memory in the bf16 attention kernel\n");
        abort();
    }
    w->S = (float *)w->w; /* first: float-aligned */
    bf16_t *p = w->w + 2 * nS;
#if !defined(__AVX512BF16__)
    w->f = (float *)p, p += 2 * nf;
#endif
    w->kt = p, p += 2 * nt;
    w->kp = p, p += 2 * np;
    if (!backward) return;
    w->vt = p, p += 2 * nt;
    w->qp = p, p += 2 * np;
    w->yp = p, p += 2 * np;
    w->pp = p, p += 2 * ntt;
    w->sp = p, p += 2 * ntt;
    w->dyh = p, p += 2 * ndy;
    w->dsh = p;
}

void attention_forward_bf16(float *y, int ldy, bf16_t *y_h, bf16_t *att_h, const bf16_t *qkv_h, int ldqkv, int B, int T,
                            int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    size_t ldT = pk_ld(T), ldD = pk_ld(D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    {
        AttWork w;
        att_work(&w, T, D, 0);
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            double t0 = prof_now(), t1 = t0;
            int b = bh / H, h = bh % H;
            size_t col = (size_t)h * D, HD = (size_t)H * D;
            const bf16_t *qb = qkv_h + (size_t)b * T * ldqkv + col, *kb = qb + HD, *vb = qb + 2 * HD;
            bf16_t *P = att_h + bh_off(b, h, H, T);
            float *yb = y + (size_t)b * T * ldy + col, *S = w.S;
            pack_words_t(w.kt, ldT, kb, ldqkv, T, D); /* K^T */
            pack_pairs(w.kp, ldD, vb, ldqkv, T, D);   /* V */
            t_mm += prof_now() - t1;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = blk_end(r0, T);
                /* scores S = scale Q K^T for the row block, keys [0, r1) */
                t1 = prof_now();
                mm_pk(r1 - r0, r1, D, scale, qb + (size_t)r0 * ldqkv, ldqkv, 2, w.kt, ldT, S, T, w.f);
                t_mm += prof_now() - t1;
                /* causal softmax per row (fp32, as att_forward), rounded to bf16 into the saved probabilities */
                for (int t = r0; t < r1; t++) {
                    float *p = S + (size_t)(t - r0) * T;
                    softmax_causal_row(p, t, T);
                    bf16_round_row(P + (size_t)t * T, p, (size_t)T);
                }
                /* Y = P V for the row block, from the rounded probabilities */
                t1 = prof_now();
                mm_pk(r1 - r0, D, r1, 1.0f, P + (size_t)r0 * T, T, 2, w.kp, ldD, yb + (size_t)r0 * ldy, ldy, w.f);
                for (int t = r0; t < r1; t++)
                    bf16_round_row(y_h + ((size_t)b * T + t) * ldy + col, yb + (size_t)t * ldy, (size_t)D);
                t_mm += prof_now() - t1;
            }
            t_all += prof_now() - t0;
        }
        free(w.w);
    }
    att_end(frame, t_mm, t_all);
}

/* With P the (bf16) probabilities and dP = dY V^T:  dS = P * (dP - rowsum(P * dP)),
 * dQ = scale dS K,  dK = scale dS^T Q,  dV = P^T dY (att_backward's algebra and blocking). */
void attention_backward_bf16(float *dq, float *dk, float *dv, int lddqkv, const float *dy, int lddy,
                             const bf16_t *att_h, const bf16_t *qkv_h, int ldqkv, int B, int T, int H, int D) {
    float scale = 1.0f / sqrtf((float)D);
    size_t ldT = pk_ld(T), ldD = pk_ld(D);
    AttFrame frame = att_begin();
    double t_mm = 0, t_all = 0;
#pragma omp parallel if (ATT_PAR(B, H, T, D)) reduction(+ : t_mm, t_all)
    {
        AttWork w;
        att_work(&w, T, D, 1);
#pragma omp for schedule(static)
        for (int bh = 0; bh < B * H; bh++) {
            double t0 = prof_now(), t1 = t0;
            int b = bh / H, h = bh % H;
            size_t col = (size_t)h * D, HD = (size_t)H * D, doff = (size_t)b * T * lddqkv + col;
            const bf16_t *qb = qkv_h + (size_t)b * T * ldqkv + col, *kb = qb + HD, *vb = qb + 2 * HD;
            const bf16_t *P = att_h + bh_off(b, h, H, T);
            const float *dyb = dy + (size_t)b * T * lddy + col;
            float *dqb = dq + doff, *dkb = dk + doff, *dvb = dv + doff, *S = w.S;
            for (int t = 0; t < T; t++) bf16_round_row(w.dyh + (size_t)t * D, dyb + (size_t)t * lddy, (size_t)D);
            pack_words_t(w.vt, ldT, vb, ldqkv, T, D); /* V^T */
            pack_pairs(w.kp, ldD, kb, ldqkv, T, D);   /* K */
            pack_pairs(w.qp, ldD, qb, ldqkv, T, D);   /* Q */
            pack_pairs(w.yp, ldD, w.dyh, D, T, D);    /* dY */
            pack_pairs(w.pp, ldT, P, T, T, T);        /* P, read as P^T */
            /* dV[c0, c1) = P[c0.., c0..c1)^T dY[c0..]: queries before c0 have exact zeros there */
            for (int c0 = 0; c0 < T; c0 += ATT_BLOCK)
                mm_pk(blk_end(c0, T) - c0, D, T - c0, 1.0f, w.pp + 2 * ((size_t)c0 / 2 * ldT + c0), 2, 2 * ldT,
                      w.yp + 2 * ((size_t)c0 / 2 * ldD), ldD, dvb + (size_t)c0 * lddqkv, lddqkv, w.f);
            t_mm += prof_now() - t1;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = blk_end(r0, T);
                /* dP = dY V^T for the row block, keys [0, r1) */
                t1 = prof_now();
                mm_pk(r1 - r0, r1, D, 1.0f, w.dyh + (size_t)r0 * D, D, 2, w.vt, ldT, S, T, w.f);
                t_mm += prof_now() - t1;
                /* softmax backward (fp32); zeros above the diagonal up to the block end (all the products read);
                 * dS rounded to bf16 */
                for (int t = r0; t < r1; t++) {
                    const bf16_t *p = P + (size_t)t * T;
                    float *d = S + (size_t)(t - r0) * T;
                    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                    for (int j = 0; j <= t; j++) dot += bf16_widen(p[j]) * d[j];
#pragma omp simd
                    for (int j = 0; j <= t; j++) d[j] = bf16_widen(p[j]) * (d[j] - dot);
                    memset(d + t + 1, 0, (size_t)(r1 - t - 1) * sizeof(float));
                    bf16_round_row(w.dsh + (size_t)t * T, d, (size_t)r1);
                }
                /* dQ rows [r0, r1) need keys [0, r1) only */
                t1 = prof_now();
                mm_pk(r1 - r0, D, r1, scale, w.dsh + (size_t)r0 * T, T, 2, w.kp, ldD, dqb + (size_t)r0 * lddqkv, lddqkv,
                      w.f);
                t_mm += prof_now() - t1;
            }
            t1 = prof_now();
            /* dK[c0, c1) = scale dS[c0.., c0..c1)^T Q[c0..] (dS row t is written up to its block's end >= c1) */
            pack_pairs(w.sp, ldT, w.dsh, T, T, T);
            for (int c0 = 0; c0 < T; c0 += ATT_BLOCK)
                mm_pk(blk_end(c0, T) - c0, D, T - c0, scale, w.sp + 2 * ((size_t)c0 / 2 * ldT + c0), 2, 2 * ldT,
                      w.qp + 2 * ((size_t)c0 / 2 * ldD), ldD, dkb + (size_t)c0 * lddqkv, lddqkv, w.f);
            t_mm += prof_now() - t1;
            t_all += prof_now() - t0;
        }
        free(w.w);
    }
    att_end(frame, t_mm, t_all);
}

/* ---------------------------------------------------------------- exported product */

void sgemm_threaded(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta,
         C, ldc);
}
