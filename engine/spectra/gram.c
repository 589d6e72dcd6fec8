/* gram.c - the Gram matrix of a float32 weight matrix, in double, and the rank-2k update of the
 * tridiagonal reduction, on one micro-kernel; see gram.h.
 *
 * G[i][j] = sum_k a(i, k) a(j, k), where a(i, k) = W[k][i] for a tall W (G = W^T W) and W[i][k] for a
 * wide one (G = W W^T). The layout is a GEMM's, with one packing serving both operands because both are
 * the same matrix:
 *   - the k range is cut into slabs of GR_KC; each slab of a is converted to double and packed into
 *     panels of GR_MR rows, stored k-major (GR_MR consecutive doubles per k). At order 768 a slab is
 *     768 KB and stays in L2 while it is used;
 *   - a micro-kernel accumulates a GR_MR x GR_NR tile of G in 24 registers: per k, three row vectors of
 *     the panel times eight broadcast entries of a column block. The column block is read from the
 *     same packed slab, at stride GR_MR, so no second copy is made;
 *   - only tiles that reach the lower triangle are computed (the diagonal tiles in full).
 * The packing also tests every value for Inf/NaN (x * 0 is NaN exactly for those), so the weights are
 * read once. The rank-2k update C -= V W^T + W V^T packs [V | W] the same way and runs the kernel with
 * the two halves of the column block swapped. */
#include "gram.h"

#include <math.h>
#include <stdint.h>
#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#define GRAM_AVX512 1
#endif

/* tile rows (3 vectors of 8), tile columns, slab depth (64-384 measured within 2% at order 768) */
enum { GR_MR = 24, GR_NR = 8, GR_KC = 128 };

size_t gram_pack_doubles(int rows, int cols) {
    int N = rows < cols ? rows : cols;
    if (N < 1) N = 1;
    return (size_t)(N + GR_MR - 1) / GR_MR * GR_MR * GR_KC + 8; /* + 8: room to align to 64 bytes */
}

static int imin(int a, int b) { return a < b ? a : b; }

#ifdef GRAM_AVX512
/* lanes 0 .. v-1 of 8 */
static __mmask8 lanes(int v) { return v >= 8 ? (__mmask8)0xff : v <= 0 ? (__mmask8)0 : (__mmask8)((1u << v) - 1); }

/* C[0:m, 0:n] (column-major, ldc; m <= GR_MR, n <= GR_NR) = (mode 0), += (mode 1) or -= (mode -1)
 * a^T b: a is a packed panel (GR_MR per k) read for k1 + k2 steps; b points at GR_NR entries of a packed
 * panel (stride GR_MR per k), taken from b1 for the first k1 steps and from b2 for the next k2 (the
 * rank-2k update pairs each half of a with the other half of b). */
static void kernel(const double *a, const double *b1, int k1, const double *b2, int k2, double *c, int ldc, int m,
                   int n, int mode) {
    __m512d c0[GR_NR], c1[GR_NR], c2[GR_NR];
    for (int j = 0; j < GR_NR; j++) c0[j] = c1[j] = c2[j] = _mm512_setzero_pd();
    for (int h = 0; h < 2; h++) {
        const double *b = h ? b2 : b1;
        for (int k = h ? k2 : k1; k > 0; k--, a += GR_MR, b += GR_MR) {
            __m512d a0 = _mm512_load_pd(a), a1 = _mm512_load_pd(a + 8), a2 = _mm512_load_pd(a + 16);
            for (int j = 0; j < GR_NR; j++) {
                __m512d bj = _mm512_set1_pd(b[j]);
                c0[j] = _mm512_fmadd_pd(a0, bj, c0[j]);
                c1[j] = _mm512_fmadd_pd(a1, bj, c1[j]);
                c2[j] = _mm512_fmadd_pd(a2, bj, c2[j]);
            }
        }
    }
    __mmask8 k0 = lanes(m), k1m = lanes(m - 8), k2m = lanes(m - 16);
    for (int j = 0; j < n; j++) {
        double *cj = c + (size_t)j * ldc;
        if (mode) {
            __m512d o0 = _mm512_maskz_loadu_pd(k0, cj), o1 = _mm512_maskz_loadu_pd(k1m, cj + 8),
                    o2 = _mm512_maskz_loadu_pd(k2m, cj + 16);
            c0[j] = mode > 0 ? _mm512_add_pd(o0, c0[j]) : _mm512_sub_pd(o0, c0[j]);
            c1[j] = mode > 0 ? _mm512_add_pd(o1, c1[j]) : _mm512_sub_pd(o1, c1[j]);
            c2[j] = mode > 0 ? _mm512_add_pd(o2, c2[j]) : _mm512_sub_pd(o2, c2[j]);
        }
        _mm512_mask_storeu_pd(cj, k0, c0[j]);
        _mm512_mask_storeu_pd(cj + 8, k1m, c1[j]);
        _mm512_mask_storeu_pd(cj + 16, k2m, c2[j]);
    }
}
#else
static void kernel(const double *a, const double *b1, int k1, const double *b2, int k2, double *c, int ldc, int m,
                   int n, int mode) {
    double t[GR_NR][GR_MR] = {{0}};
    for (int h = 0; h < 2; h++) {
        const double *b = h ? b2 : b1;
        for (int k = h ? k2 : k1; k > 0; k--, a += GR_MR, b += GR_MR)
            for (int j = 0; j < GR_NR; j++)
                for (int i = 0; i < GR_MR; i++) t[j][i] += a[i] * b[j];
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double *o = c + (size_t)j * ldc + i;
            *o = mode == 0 ? t[j][i] : mode > 0 ? *o + t[j][i] : *o - t[j][i];
        }
}
#endif

/* Tall W (rows x N, row-major): slab rows k0 .. k0+kc-1; a(i, k) = W[k0 + k][i] is contiguous in i, so
 * each k copies 24-value runs. Returns the sum of x * 0 over the values (NaN iff one is not finite). */
static double pack_tall(const float *w, int N, int k0, int kc, int np, double *dst) {
#ifdef GRAM_AVX512
    __m512d nf = _mm512_setzero_pd(), zero = _mm512_setzero_pd();
    for (int k = 0; k < kc; k++) {
        const float *src = w + (size_t)(k0 + k) * N;
        for (int p = 0; p < np; p++)
            for (int q = 0; q < 3; q++) {
                int i = p * GR_MR + 8 * q;
                __m512d x = i < N ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes(N - i), src + i)) : zero;
                nf = _mm512_fmadd_pd(x, zero, nf);
                _mm512_store_pd(dst + ((size_t)p * kc + k) * GR_MR + 8 * q, x);
            }
    }
    return _mm512_reduce_add_pd(nf);
#else
    double nf = 0;
    for (int k = 0; k < kc; k++)
        for (int i = 0; i < np * GR_MR; i++) {
            double x = i < N ? w[(size_t)(k0 + k) * N + i] : 0.0;
            nf += x * 0.0;
            dst[((size_t)(i / GR_MR) * kc + k) * GR_MR + i % GR_MR] = x;
        }
    return nf;
#endif
}

#ifdef GRAM_AVX512
/* 8 rows x 8 columns of float (row stride ld) to double, transposed: d[q * GR_MR + t] = s[t * ld + q] */
static __m512d transpose8(const float *s, int ld, double *d, __m512d nf) {
    __m512d r[8], u[8], v[8], zero = _mm512_setzero_pd();
    for (int t = 0; t < 8; t++) {
        r[t] = _mm512_cvtps_pd(_mm256_loadu_ps(s + (size_t)t * ld));
        nf = _mm512_fmadd_pd(r[t], zero, nf);
    }
    for (int t = 0; t < 8; t += 2) { /* pairs of rows interleaved: u[t] = (r_t0 r_t+1,0 r_t2 r_t+1,2 ...) */
        u[t] = _mm512_unpacklo_pd(r[t], r[t + 1]);
        u[t + 1] = _mm512_unpackhi_pd(r[t], r[t + 1]);
    }
    for (int t = 0; t < 8; t += 4) /* 128-bit lanes of row pairs t, t+2: four rows, two columns each */
        for (int h = 0; h < 2; h++) {
            v[t + h] = _mm512_shuffle_f64x2(u[t + h], u[t + 2 + h], 0x88);
            v[t + 2 + h] = _mm512_shuffle_f64x2(u[t + h], u[t + 2 + h], 0xdd);
        }
    for (int h = 0; h < 4; h++) { /* rows 0-3 with rows 4-7: r[q] is column q */
        r[h] = _mm512_shuffle_f64x2(v[h], v[4 + h], 0x88);
        r[4 + h] = _mm512_shuffle_f64x2(v[h], v[4 + h], 0xdd);
    }
    for (int q = 0; q < 8; q++) _mm512_store_pd(d + (size_t)q * GR_MR, r[q]);
    return nf;
}
#endif

/* Wide W (N x ld, row-major): slab columns k0 .. k0+kc-1; a(i, k) = W[i][k0 + k] is contiguous in k,
 * so 8 x 8 blocks are transposed on the way in. Returns as pack_tall. */
static double pack_wide(const float *w, int N, int ld, int k0, int kc, int np, double *dst) {
    double nfs = 0;
#ifdef GRAM_AVX512
    __m512d nf = _mm512_setzero_pd();
#endif
    for (int p = 0; p < np; p++)
        for (int t0 = 0; t0 < GR_MR; t0 += 8) {
            int i0 = p * GR_MR + t0, k = 0;
            double *d = dst + (size_t)p * GR_MR * kc + t0;
#ifdef GRAM_AVX512
            if (i0 + 8 <= N)
                for (; k + 8 <= kc; k += 8)
                    nf = transpose8(w + (size_t)i0 * ld + k0 + k, ld, d + (size_t)k * GR_MR, nf);
#endif
            for (; k < kc; k++)
                for (int t = 0; t < 8; t++) {
                    double x = i0 + t < N ? w[(size_t)(i0 + t) * ld + k0 + k] : 0.0;
                    nfs += x * 0.0;
                    d[(size_t)k * GR_MR + t] = x;
                }
        }
#ifdef GRAM_AVX512
    nfs += _mm512_reduce_add_pd(nf);
#endif
    return nfs;
}

int gram_lower(const float *w, int rows, int cols, double *G, double *pack) {
    int tall = cols <= rows, N = tall ? cols : rows, K = tall ? rows : cols;
    int np = (N + GR_MR - 1) / GR_MR;
    pack = (double *)(((uintptr_t)pack + 63) & ~(uintptr_t)63);
    double nf = 0;
    for (int k0 = 0; k0 < K; k0 += GR_KC) {
        int kc = imin(GR_KC, K - k0);
        nf += tall ? pack_tall(w, N, k0, kc, np, pack) : pack_wide(w, N, cols, k0, kc, np, pack);
        /* column block j0 (in L1 for the whole sweep) against every row panel that reaches the lower
         * triangle, streamed from L2 */
        for (int j0 = 0; j0 < N; j0 += GR_NR) {
            const double *b = pack + (size_t)(j0 / GR_MR) * GR_MR * kc + j0 % GR_MR;
            for (int i0 = j0 / GR_MR * GR_MR; i0 < N; i0 += GR_MR)
                kernel(pack + (size_t)(i0 / GR_MR) * GR_MR * kc, b, kc, b, 0, G + (size_t)j0 * N + i0, N,
                       imin(GR_MR, N - i0), imin(GR_NR, N - j0), k0 == 0 ? 0 : 1);
        }
    }
    return isnan(nf) ? 1 : 0;
}

/* P (rows 0..m-1, k 0..2k-1) = [V | W] packed in panels of GR_MR rows, k-major */
static void pack_pair(int m, int k, const double *V, int ldv, const double *W, int ldw, double *P) {
    int np = (m + GR_MR - 1) / GR_MR;
    for (int p = 0; p < np; p++)
        for (int q = 0; q < 2 * k; q++) {
            const double *src = q < k ? V + (size_t)q * ldv : W + (size_t)(q - k) * ldw;
            double *d = P + ((size_t)p * 2 * k + q) * GR_MR;
            for (int t = 0; t < GR_MR; t++) {
                int i = p * GR_MR + t;
                d[t] = i < m ? src[i] : 0.0;
            }
        }
}

size_t gram_syr2k_pack_doubles(int m, int k) { return (size_t)(m + GR_MR - 1) / GR_MR * GR_MR * 2 * k + 8; }

void gram_syr2k_lower(int m, int k, const double *V, int ldv, const double *W, int ldw, double *C, int ldc,
                      double *pack) {
    if (m <= 0 || k <= 0) return;
    double *P = (double *)(((uintptr_t)pack + 63) & ~(uintptr_t)63);
    pack_pair(m, k, V, ldv, W, ldw, P);
    const size_t panel = (size_t)GR_MR * 2 * k; /* doubles per packed panel */
    for (int j0 = 0; j0 < m; j0 += GR_NR) {
        /* b: rows j0.. of the same packing; V's half of a meets W's half of b and vice versa */
        const double *b = P + (size_t)(j0 / GR_MR) * panel + j0 % GR_MR;
        for (int i0 = j0 / GR_MR * GR_MR; i0 < m; i0 += GR_MR)
            kernel(P + (size_t)(i0 / GR_MR) * panel, b + (size_t)k * GR_MR, k, b, k, C + (size_t)j0 * ldc + i0, ldc,
                   imin(GR_MR, m - i0), imin(GR_NR, m - j0), -1);
    }
}
