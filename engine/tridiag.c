/* tridiag.c - Householder reduction of a symmetric matrix to tridiagonal form; see tridiag.h.
 *
 * The algorithm is LAPACK dsytrd's (lower triangle): panels of TRD_NB columns reduced by the dlatrd
 * recurrence, each followed by one dsyr2k update of the trailing block, and the unblocked dsytd2 for
 * the last TRD_NX columns. Two things are our own, both for memory traffic: the panel (trd_panel) runs
 * the symmetric matrix-vector product of every column with its own kernel (symv_lower), and that
 * kernel walks the trailing block left to right and right to left on alternate columns. The product
 * streams the whole trailing lower triangle (2.4 MB at order 768, more than this machine's 1 MB L2),
 * so a fixed direction starts every call where the previous one evicted the data; alternating starts
 * it on the ~1 MB the previous call left in L2 (measured 13% less time in the products at order 768). */
#include "tridiag.h"

#include <cblas.h>
#include <lapacke.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* LAPACK auxiliary that lapack.h does not declare (reference signature; gfortran's hidden string length
 * last, as lapack.h does for the drivers). */
void LAPACK_GLOBAL(dsytd2, DSYTD2)(const char *uplo, const lapack_int *n, double *a, const lapack_int *lda,
                                   double *d, double *e, double *tau, lapack_int *info
#ifdef LAPACK_FORTRAN_STRLEN_END
                                   , size_t uplo_len
#endif
);
#ifdef LAPACK_FORTRAN_STRLEN_END
#define TRD_STRLEN , (size_t)1
#else
#define TRD_STRLEN
#endif

/* ---- y = A x for the symmetric A (m x m, lower triangle, column-major) ----
 *
 * Column blocks of 8, each in one pass down its rows that does both halves of the symmetric product,
 * y[r] += A[r, j..j+7] x[j..j+7] and t[k] += A[r, j+k] x[r], so each element of A is read once; in the
 * first 8 rows (the diagonal block) column k takes only the rows below its diagonal. `reverse` visits
 * the blocks right to left; the two orders sum y differently (each in a fixed order, so results stay
 * deterministic). */
#ifdef __AVX512F__
/* rows r..r+7 (mask mk) of the 8 columns at a0: y[r..] += A x[j..j+7], t[k] += A[., k] x[r..] */
#define SYMV_CHUNK(LOAD_A, mk)                                                                         \
    do {                                                                                               \
        __m512d a_[8];                                                                                 \
        for (int k = 0; k < 8; k++) a_[k] = LOAD_A(k);                                                 \
        __m512d xv_ = _mm512_maskz_loadu_pd(mk, x + r), y1_ = _mm512_maskz_loadu_pd(mk, y + r);        \
        __m512d y2_ = _mm512_mul_pd(a_[1], xc[1]); /* two partial sums: half the dependent chain */    \
        y1_ = _mm512_fmadd_pd(a_[0], xc[0], y1_);                                                      \
        for (int k = 2; k < 8; k += 2) {                                                               \
            y1_ = _mm512_fmadd_pd(a_[k], xc[k], y1_);                                                  \
            y2_ = _mm512_fmadd_pd(a_[k + 1], xc[k + 1], y2_);                                          \
        }                                                                                              \
        _mm512_mask_storeu_pd(y + r, mk, _mm512_add_pd(y1_, y2_));                                     \
        for (int k = 0; k < 8; k++) t[k] = _mm512_fmadd_pd(a_[k], xv_, t[k]);                         \
    } while (0)

static void symv_block8(int m, int j, const double *A, int lda, const double *x, double *y) {
    const double *a0 = A + (size_t)j * lda;
    int nb = m - j < 8 ? m - j : 8;
    __m512d xc[8], t[8];
    for (int k = 0; k < 8; k++) {
        xc[k] = _mm512_set1_pd(k < nb ? x[j + k] : 0.0);
        t[k] = _mm512_setzero_pd();
    }
    for (int k = 0; k < nb; k++) y[j + k] += a0[(size_t)k * lda + j + k] * x[j + k]; /* the diagonal */
    /* the diagonal block: column k takes the rows below its diagonal only */
    int r = j;
    __mmask8 mk = (__mmask8)((1u << nb) - 1), mc[8];
    for (int k = 0; k < 8; k++) mc[k] = (__mmask8)(k < nb ? (0xffu << (k + 1)) & mk : 0);
#define LOAD_DIAG(k) _mm512_maskz_loadu_pd(mc[k], a0 + (size_t)(k) * lda + r)
    SYMV_CHUNK(LOAD_DIAG, mk);
    /* full chunks below it, then a masked tail */
#define LOAD_FULL(k) _mm512_loadu_pd(a0 + (size_t)(k) * lda + r)
#pragma GCC unroll 2
    for (r = j + 8; r + 8 <= m; r += 8) SYMV_CHUNK(LOAD_FULL, (__mmask8)0xff);
    if (r < m) {
        mk = (__mmask8)((1u << (m - r)) - 1);
#define LOAD_TAIL(k) _mm512_maskz_loadu_pd(mk, a0 + (size_t)(k) * lda + r)
        SYMV_CHUNK(LOAD_TAIL, mk);
    }
#undef LOAD_DIAG
#undef LOAD_FULL
#undef LOAD_TAIL
    for (int k = 0; k < nb; k++) y[j + k] += _mm512_reduce_add_pd(t[k]);
}
#else
static void symv_block8(int m, int j, const double *A, int lda, const double *x, double *y) {
    const double *a0 = A + (size_t)j * lda;
    int nb = m - j < 8 ? m - j : 8;
    double t[8] = {0};
    for (int k = 0; k < nb; k++) y[j + k] += a0[(size_t)k * lda + j + k] * x[j + k];
    for (int r = j + 1; r < m; r++) {
        double acc = y[r];
        for (int k = 0; k < nb && j + k < r; k++) {
            double a = a0[(size_t)k * lda + r];
            acc += a * x[j + k];
            t[k] += a * x[r];
        }
        y[r] = acc;
    }
    for (int k = 0; k < nb; k++) y[j + k] += t[k];
}
#endif

void trd_symv_lower(int m, const double *A, int lda, const double *x, double *y, int reverse) {
    memset(y, 0, sizeof(double) * (size_t)m);
    int nblk = (m + 7) / 8;
    for (int q = 0; q < nblk; q++) symv_block8(m, 8 * (reverse ? nblk - 1 - q : q), A, lda, x, y);
}

/* ---- one panel: dlatrd's recurrence (lower) on the m x m block A ----
 * Reduces the first TRD_NB columns; e, tau get their TRD_NB values, W (m x TRD_NB, leading dimension m)
 * the matrix with which the caller updates the trailing block: A22 -= V W^T + W V^T. `flip` sets the
 * direction of the first product; the rest alternate. */
static void trd_panel(int m, double *A, int lda, double *e, double *tau, double *W, int flip) {
    const int ldw = m;
    for (int i = 0; i < TRD_NB; i++) {
        double *ai = A + i + (size_t)i * lda; /* A(i, i) */
        if (i > 0) { /* A(i:m, i) -= A(i:m, 0:i) W(i, 0:i)^T + W(i:m, 0:i) A(i, 0:i)^T */
            cblas_dgemv(CblasColMajor, CblasNoTrans, m - i, i, -1.0, A + i, lda, W + i, ldw, 1.0, ai, 1);
            cblas_dgemv(CblasColMajor, CblasNoTrans, m - i, i, -1.0, W + i, ldw, A + i, lda, 1.0, ai, 1);
        }
        /* reflector H(i) annihilating A(i+2:m, i); v = A(i+1:m, i) with v[0] = 1 */
        lapack_int mv = m - i - 1, one = 1;
        double *v = ai + 1;
        LAPACK_dlarfg(&mv, v, v + (mv > 1 ? 1 : 0), &one, &tau[i]);
        e[i] = v[0];
        v[0] = 1.0;
        double *wi = W + i + 1 + (size_t)i * ldw, *wtmp = W + (size_t)i * ldw; /* W(i+1:m, i), W(0:i, i) */
        trd_symv_lower((int)mv, ai + 1 + lda, lda, v, wi, (i + flip) & 1);
        if (i > 0) {
            cblas_dgemv(CblasColMajor, CblasTrans, (int)mv, i, 1.0, W + i + 1, ldw, v, 1, 0.0, wtmp, 1);
            cblas_dgemv(CblasColMajor, CblasNoTrans, (int)mv, i, -1.0, A + i + 1, lda, wtmp, 1, 1.0, wi, 1);
            cblas_dgemv(CblasColMajor, CblasTrans, (int)mv, i, 1.0, A + i + 1, lda, v, 1, 0.0, wtmp, 1);
            cblas_dgemv(CblasColMajor, CblasNoTrans, (int)mv, i, -1.0, W + i + 1, ldw, wtmp, 1, 1.0, wi, 1);
        }
        cblas_dscal((int)mv, tau[i], wi, 1);
        double alpha = -0.5 * tau[i] * cblas_ddot((int)mv, wi, 1, v, 1);
        cblas_daxpy((int)mv, alpha, v, 1, wi, 1);
    }
}

int trd_reduce_lower(int n, double *A, double *d, double *e, double *tau, double *work) {
    lapack_int lda = n, info = 0;
    int i = 0;
    for (; n - i > TRD_NX; i += TRD_NB) {
        int m = n - i;
        double *Aii = A + i + (size_t)i * lda;
        trd_panel(m, Aii, (int)lda, e + i, tau + i, work, 0);
        /* A22 -= V W^T + W V^T on the trailing block */
        cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, m - TRD_NB, TRD_NB, -1.0, Aii + TRD_NB, (int)lda,
                     work + TRD_NB, m, 1.0, Aii + TRD_NB + (size_t)TRD_NB * lda, (int)lda);
        for (int j = i; j < i + TRD_NB; j++) {
            A[j + 1 + (size_t)j * lda] = e[j];
            d[j] = A[j + (size_t)j * lda];
        }
    }
    lapack_int m = n - i;
    LAPACK_GLOBAL(dsytd2, DSYTD2)("L", &m, A + i + (size_t)i * lda, &lda, d + i, e + i, tau + i, &info TRD_STRLEN);
    return (int)info;
}
