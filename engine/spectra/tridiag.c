/* tridiag.c - Householder reduction of a symmetric matrix to tridiagonal form, and the tridiagonal's
 * eigenvalues; see tridiag.h.
 *
 * The reduction is LAPACK dsytrd's algorithm (lower triangle): panels of TRD_NB columns reduced by the
 * dlatrd recurrence, each followed by one rank-2k update of the trailing block (gram_syr2k_lower, the
 * Gram's kernel), and the unblocked dsytd2 for the last TRD_NX columns. Two more things are our own,
 * both for memory traffic: the panel (trd_panel) runs the symmetric matrix-vector product of every
 * column with its own kernel (symv_lower), and that kernel walks the trailing block left to right and
 * right to left on alternate columns, so each call starts on the part of the triangle the previous one
 * left in cache. Measurements: docs/performance.md, "Tridiagonal reduction". */
#include "tridiag.h"
#include "gram.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* LAPACK auxiliary that lapack.h does not declare (reference signature; gfortran's hidden string length
 * last, as lapack.h does for the drivers). */
/* An #ifdef inside the parameter list has no stable clang-format layout. */
// clang-format off
void LAPACK_GLOBAL(dsytd2, DSYTD2)(const char *uplo, const lapack_int *n, double *a, const lapack_int *lda,
                                   double *d, double *e, double *tau, lapack_int *info
#ifdef LAPACK_FORTRAN_STRLEN_END
                                   , size_t uplo_len
#endif
);
// clang-format on
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
/* rows r..r+7 (mask mk) of the 8 columns at a0: y[r..] += A x[j..j+7], t_k += A[., k] x[r..]. The
 * accumulators are eight named variables, not an array: with an array GCC stored all eight to the
 * stack on every iteration (measured 12-20% slower). */
/* The macro rows of the unrolled kernel keep their hand layout. */
// clang-format off
#define SYMV_Y(acc, k) acc = _mm512_fmadd_pd(a##k##_, xc##k, acc);
#define SYMV_T(k) t##k = _mm512_fmadd_pd(a##k##_, xv_, t##k);
#define SYMV_CHUNK(LOAD_A, mk)                                                                         \
    do {                                                                                               \
        __m512d a0_ = LOAD_A(0), a1_ = LOAD_A(1), a2_ = LOAD_A(2), a3_ = LOAD_A(3), a4_ = LOAD_A(4),    \
                a5_ = LOAD_A(5), a6_ = LOAD_A(6), a7_ = LOAD_A(7);                                     \
        __m512d xv_ = _mm512_maskz_loadu_pd(mk, x + r), y1_ = _mm512_maskz_loadu_pd(mk, y + r);        \
        __m512d y2_ = _mm512_mul_pd(a1_, xc1); /* two partial sums: half the dependent chain */        \
        SYMV_Y(y1_, 0) SYMV_Y(y1_, 2) SYMV_Y(y2_, 3) SYMV_Y(y1_, 4) SYMV_Y(y2_, 5) SYMV_Y(y1_, 6)       \
        SYMV_Y(y2_, 7)                                                                                 \
        _mm512_mask_storeu_pd(y + r, mk, _mm512_add_pd(y1_, y2_));                                     \
        SYMV_T(0) SYMV_T(1) SYMV_T(2) SYMV_T(3) SYMV_T(4) SYMV_T(5) SYMV_T(6) SYMV_T(7)                \
    } while (0)

static void symv_block8(int m, int j, const double *A, int lda, const double *x, double *y) {
    const double *a0 = A + (size_t)j * lda;
    int nb = m - j < 8 ? m - j : 8;
#define SYMV_INIT(k) __m512d xc##k = _mm512_set1_pd(k < nb ? x[j + k] : 0.0), t##k = _mm512_setzero_pd();
    SYMV_INIT(0) SYMV_INIT(1) SYMV_INIT(2) SYMV_INIT(3) SYMV_INIT(4) SYMV_INIT(5) SYMV_INIT(6) SYMV_INIT(7)
#undef SYMV_INIT
        // clang-format on
        for (int k = 0; k < nb; k++) y[j + k] += a0[(size_t)k * lda + j + k] * x[j + k]; /* the diagonal */
    /* the diagonal block: column k takes the rows below its diagonal only */
    int r = j;
    __mmask8 mk = (__mmask8)((1u << nb) - 1), mc[8];
    for (int k = 0; k < 8; k++) mc[k] = (__mmask8)(k < nb ? (0xffu << (k + 1)) & mk : 0);
#define LOAD_DIAG(k) _mm512_maskz_loadu_pd(mc[k], a0 + (size_t)(k)*lda + r)
    SYMV_CHUNK(LOAD_DIAG, mk);
    /* full chunks below it, then a masked tail */
#define LOAD_FULL(k) _mm512_loadu_pd(a0 + (size_t)(k)*lda + r)
#pragma GCC unroll 2
    for (r = j + 8; r + 8 <= m; r += 8) SYMV_CHUNK(LOAD_FULL, (__mmask8)0xff);
    if (r < m) {
        mk = (__mmask8)((1u << (m - r)) - 1);
#define LOAD_TAIL(k) _mm512_maskz_loadu_pd(mk, a0 + (size_t)(k)*lda + r)
        SYMV_CHUNK(LOAD_TAIL, mk);
    }
#undef LOAD_DIAG
#undef LOAD_FULL
#undef LOAD_TAIL
    const double ts[8] = {_mm512_reduce_add_pd(t0), _mm512_reduce_add_pd(t1), _mm512_reduce_add_pd(t2),
                          _mm512_reduce_add_pd(t3), _mm512_reduce_add_pd(t4), _mm512_reduce_add_pd(t5),
                          _mm512_reduce_add_pd(t6), _mm512_reduce_add_pd(t7)};
    for (int k = 0; k < nb; k++) y[j + k] += ts[k];
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
 * The small products around each column's symv (m x i, i < TRD_NB) are plain loops here: as BLAS
 * calls, ten per column, their call overhead cost more than their arithmetic (1.5 of 12 ms per
 * 768-order reduction). */

/* sum a[r] b[r] */
static double dot(int n, const double *a, const double *b) {
#ifdef __AVX512F__
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    int r = 0;
    for (; r + 16 <= n; r += 16) {
        s0 = _mm512_fmadd_pd(_mm512_loadu_pd(a + r), _mm512_loadu_pd(b + r), s0);
        s1 = _mm512_fmadd_pd(_mm512_loadu_pd(a + r + 8), _mm512_loadu_pd(b + r + 8), s1);
    }
    for (; r < n; r += 8) {
        __mmask8 mk = n - r >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - r)) - 1);
        s0 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(mk, a + r), _mm512_maskz_loadu_pd(mk, b + r), s0);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
#else
    double s = 0;
    for (int r = 0; r < n; r++) s += a[r] * b[r];
    return s;
#endif
}

/* y[0:M] -= A[0:M, 0:K] x (x with stride incx) */
static void gemv_sub(int M, int K, const double *A, int lda, const double *x, int incx, double *y) {
    for (int k = 0; k < K; k++) {
        const double *a = A + (size_t)k * lda, xk = x[(size_t)k * incx];
        for (int r = 0; r < M; r++) y[r] -= a[r] * xk;
    }
}

/* Reduces the first TRD_NB columns of A; e, tau get their TRD_NB values, W (m x TRD_NB, leading
 * dimension m) the matrix with which the caller updates the trailing block: A22 -= V W^T + W V^T.
 * The symv alternates direction from column to column (which direction comes first after the dsyr2k
 * measured the same). */
static void trd_panel(int m, double *A, int lda, double *e, double *tau, double *W) {
    const int ldw = m;
    for (int i = 0; i < TRD_NB; i++) {
        double *ai = A + i + (size_t)i * lda; /* A(i, i) */
        /* A(i:m, i) -= A(i:m, 0:i) W(i, 0:i)^T + W(i:m, 0:i) A(i, 0:i)^T */
        gemv_sub(m - i, i, A + i, lda, W + i, ldw, ai);
        gemv_sub(m - i, i, W + i, ldw, A + i, lda, ai);
        /* reflector H(i) annihilating A(i+2:m, i); v = A(i+1:m, i) with v[0] = 1 */
        lapack_int mv = m - i - 1, one = 1;
        double *v = ai + 1;
        LAPACK_dlarfg(&mv, v, v + (mv > 1 ? 1 : 0), &one, &tau[i]);
        e[i] = v[0];
        v[0] = 1.0;
        /* W(i+1:m, i) = tau (A22 v - V (W^T v) - W (V^T v)), then -= tau/2 (w.v) v */
        double *wi = W + i + 1 + (size_t)i * ldw, wv[TRD_NB], vv[TRD_NB];
        trd_symv_lower((int)mv, ai + 1 + lda, lda, v, wi, i & 1);
        for (int k = 0; k < i; k++) {
            wv[k] = dot((int)mv, W + i + 1 + (size_t)k * ldw, v);
            vv[k] = dot((int)mv, A + i + 1 + (size_t)k * lda, v);
        }
        gemv_sub((int)mv, i, A + i + 1, lda, wv, 1, wi);
        gemv_sub((int)mv, i, W + i + 1, ldw, vv, 1, wi);
        double t = tau[i];
        for (int r = 0; r < mv; r++) wi[r] *= t;
        double alpha = -0.5 * t * dot((int)mv, wi, v);
        for (int r = 0; r < mv; r++) wi[r] += alpha * v[r];
    }
}

/* the panel's W (n x TRD_NB), then the trailing update's packing */
size_t trd_work_doubles(int n) { return (size_t)n * TRD_NB + gram_syr2k_pack_doubles(n, TRD_NB); }

int trd_reduce_lower(int n, double *A, double *d, double *e, double *tau, double *work) {
    lapack_int lda = n, info = 0;
    int i = 0;
    for (; n - i > TRD_NX; i += TRD_NB) {
        int m = n - i;
        double *Aii = A + i + (size_t)i * lda;
        trd_panel(m, Aii, (int)lda, e + i, tau + i, work);
        /* A22 -= V W^T + W V^T on the trailing block */
        gram_syr2k_lower(m - TRD_NB, TRD_NB, Aii + TRD_NB, (int)lda, work + TRD_NB, m,
                         Aii + TRD_NB + (size_t)TRD_NB * lda, (int)lda, work + (size_t)n * TRD_NB);
        for (int j = i; j < i + TRD_NB; j++) {
            A[j + 1 + (size_t)j * lda] = e[j];
            d[j] = A[j + (size_t)j * lda];
        }
    }
    lapack_int m = n - i;
    LAPACK_GLOBAL(dsytd2, DSYTD2)("L", &m, A + i + (size_t)i * lda, &lda, d + i, e + i, tau + i, &info TRD_STRLEN);
    return (int)info;
}

/* ---- eigenvalues of a symmetric tridiagonal: LAPACK dsterf's algorithm, up to four matrices interleaved ----
 *
 * dsterf (Pal-Walker-Kahan root-free QL/QR with implicit Wilkinson shifts) spends its time in the inner
 * sweep, a chain of dependent divisions: one matrix keeps the divider's latency exposed. Here the same
 * algorithm is a resumable state machine per matrix, and the sweeps of up to four independent matrices
 * run in one loop, so their chains overlap (timings: docs/performance.md). Every arithmetic operation
 * of each matrix is the one dsterf does, in the same order, so the result of a matrix does not depend
 * on its partners (nor on whether it had any). Blocks that dsterf would rescale (max entry outside [sqrt(safmin)/eps^2, sqrt(safmax)/3]) and
 * non-convergence are handed back: the caller reruns LAPACK dsterf on a saved copy. */
void LAPACK_GLOBAL(dlae2, DLAE2)(const double *a, const double *b, const double *c, double *rt1, double *rt2);

enum { ST_BLOCK, ST_QL, ST_QR, ST_DONE, ST_FALLBACK };

typedef struct {
    double *d, *e; /* diagonal (n), off-diagonal (n - 1; squared in place while iterating) */
    int n, state, l1, l, lend, lsv, jtot, nmaxit;
    double eps, eps2, ssfmin, ssfmax;
    /* the sweep in flight: `len` steps left at e position pe, direction dir (-1 QL, +1 QR) */
    int len, dir;
    double *pe, *pdr, *pdw;
    double p, c, s, gamma, sigma;
} Sterf;

static void sterf_init(Sterf *t, int n, double *d, double *e) {
    memset(t, 0, sizeof *t);
    t->d = d;
    t->e = e;
    t->n = n;
    t->state = n > 0 ? ST_BLOCK : ST_DONE;
    t->nmaxit = 30 * n;
    t->eps = LAPACK_dlamch("E");
    t->eps2 = t->eps * t->eps;
    double safmin = LAPACK_dlamch("S");
    t->ssfmax = sqrt(1.0 / safmin) / 3.0;
    t->ssfmin = sqrt(safmin) / t->eps2;
}

/* Starts a sweep from row m (QL: i = m-1 down to l; QR: i = m up to l-1) with the shift computed from
 * rows l and l+dir, doing its first step (the one without an e store) here. */
static void sterf_sweep(Sterf *t, int m, int dir) {
    double *d = t->d, *e = t->e;
    int l = t->l;
    double p = d[l], rte = sqrt(dir < 0 ? e[l] : e[l - 1]), one = 1.0;
    double sigma = ((dir < 0 ? d[l + 1] : d[l - 1]) - p) / (2.0 * rte);
    double r = LAPACK_dlapy2(&sigma, &one);
    sigma = p - (rte / (sigma + copysign(r, sigma)));
    double gamma = d[m] - sigma;
    p = gamma * gamma;
    /* QL: reads e[i], d[i], writes d[i+1], e[i+1]; QR: reads e[i], d[i+1], writes d[i], e[i-1] */
    int i = dir < 0 ? m - 1 : m;
    double *pe = e + i, *pdr = d + i + (dir > 0), *pdw = d + i + (dir < 0);
    double bb = *pe, rr = p + bb, c = p / rr, s = bb / rr, og = gamma, al = *pdr;
    gamma = c * (al - sigma) - s * og;
    *pdw = og + (al - gamma);
    p = c != 0 ? (gamma * gamma) / c : 1.0 * bb;
    t->len = dir < 0 ? m - l - 1 : l - m - 1;
    t->dir = dir;
    t->pe = pe + dir;
    t->pdr = pdr + dir;
    t->pdw = pdw + dir;
    t->p = p;
    t->c = c;
    t->s = s;
    t->gamma = gamma;
    t->sigma = sigma;
}

/* One inner step of a sweep on local copies of its state (dsterf loops 80 and 130). */
#define PWK_STEP(pe, pdr, pdw, dir, p, c, s, g, sg)                                                                    \
    do {                                                                                                               \
        double bb_ = *(pe), r_ = (p) + bb_, oc_ = (c), og_ = (g), al_ = *(pdr);                                        \
        (pe)[-(dir)] = (s)*r_;                                                                                         \
        (c) = (p) / r_;                                                                                                \
        (s) = bb_ / r_;                                                                                                \
        (g) = (c) * (al_ - (sg)) - (s)*og_;                                                                            \
        *(pdw) = og_ + (al_ - (g));                                                                                    \
        (p) = (c) != 0 ? ((g) * (g)) / (c) : oc_ * bb_;                                                                \
        (pe) += (dir);                                                                                                 \
        (pdr) += (dir);                                                                                                \
        (pdw) += (dir);                                                                                                \
    } while (0)

/* One sweep stretch of k steps for each of N matrices, their steps interleaved: N independent chains
 * of dependent divisions in flight. (Fully unrolled over j, so the states live in registers.) */
#define STERF_RUN_N(NAME, N)                                                                                           \
    static void NAME(Sterf **t, int k) {                                                                               \
        double *pe[N], *pdr[N], *pdw[N], p[N], c[N], s[N], g[N], sg[N];                                                \
        int dir[N];                                                                                                    \
        _Pragma("GCC unroll 4") for (int j = 0; j < N; j++) {                                                          \
            pe[j] = t[j]->pe, pdr[j] = t[j]->pdr, pdw[j] = t[j]->pdw, p[j] = t[j]->p, c[j] = t[j]->c;                  \
            s[j] = t[j]->s, g[j] = t[j]->gamma, sg[j] = t[j]->sigma, dir[j] = t[j]->dir;                               \
        }                                                                                                              \
        for (int q = 0; q < k; q++)                                                                                    \
            _Pragma("GCC unroll 4") for (int j = 0; j < N; j++)                                                        \
                PWK_STEP(pe[j], pdr[j], pdw[j], dir[j], p[j], c[j], s[j], g[j], sg[j]);                                \
        _Pragma("GCC unroll 4") for (int j = 0; j < N; j++) {                                                          \
            t[j]->pe = pe[j], t[j]->pdr = pdr[j], t[j]->pdw = pdw[j], t[j]->p = p[j], t[j]->c = c[j];                  \
            t[j]->s = s[j], t[j]->gamma = g[j], t[j]->len -= k;                                                        \
        }                                                                                                              \
    }
STERF_RUN_N(sterf_run1, 1)
STERF_RUN_N(sterf_run2, 2)
STERF_RUN_N(sterf_run3, 3)
STERF_RUN_N(sterf_run4, 4)

/* Closes the finished sweep (if any) and advances the control logic of dsterf until the next sweep
 * is set up (returns 1) or the matrix is done (0) or must go to LAPACK (-1). */
static int sterf_next(Sterf *t) {
    double *d = t->d, *e = t->e;
    if (t->state == ST_QL && t->len == 0 && t->pe) { /* end of a QL sweep */
        e[t->l] = t->s * t->p;
        d[t->l] = t->sigma + t->gamma;
    } else if (t->state == ST_QR && t->len == 0 && t->pe) {
        e[t->l - 1] = t->s * t->p;
        d[t->l] = t->sigma + t->gamma;
    }
    t->pe = NULL;
    for (;;) {
        int m, l = t->l, lend = t->lend;
        switch (t->state) {
            case ST_BLOCK: {
                int n = t->n, l1 = t->l1;
                if (l1 > n - 1) {
                    LAPACK_dlasrt("I", &(lapack_int){n}, d, &(lapack_int){0});
                    t->state = ST_DONE;
                    return 0;
                }
                if (l1 > 0) e[l1 - 1] = 0;
                for (m = l1; m < n - 1; m++)
                    if (fabs(e[m]) <= (sqrt(fabs(d[m])) * sqrt(fabs(d[m + 1]))) * t->eps) {
                        e[m] = 0;
                        break;
                    }
                t->l = t->lsv = l1;
                t->lend = m;
                t->l1 = m + 1;
                if (m == l1) break;
                double anorm = 0;
                for (int i = l1; i <= m; i++) {
                    double a = fabs(d[i]);
                    if (anorm < a || isnan(a)) anorm = a;
                }
                for (int i = l1; i < m; i++) {
                    double a = fabs(e[i]);
                    if (anorm < a || isnan(a)) anorm = a;
                }
                if (anorm == 0) break;
                if (!(anorm <= t->ssfmax && anorm >= t->ssfmin)) return t->state = ST_FALLBACK, -1;
                for (int i = l1; i < m; i++) e[i] = e[i] * e[i];
                if (fabs(d[m]) < fabs(d[l1])) {
                    t->lend = l1;
                    t->l = m;
                }
                t->state = t->lend >= t->l ? ST_QL : ST_QR;
                break;
            }
            case ST_QL:
                for (m = l; m < lend; m++)
                    if (fabs(e[m]) <= t->eps2 * fabs(d[m] * d[m + 1])) break;
                if (m < lend) e[m] = 0;
                if (m == l) { /* eigenvalue found */
                    t->l = ++l;
                    if (l > lend) t->state = ST_BLOCK;
                    break;
                }
                if (m == l + 1) {
                    double rte = sqrt(e[l]), rt1, rt2;
                    LAPACK_GLOBAL(dlae2, DLAE2)(&d[l], &rte, &d[l + 1], &rt1, &rt2);
                    d[l] = rt1;
                    d[l + 1] = rt2;
                    e[l] = 0;
                    t->l = l += 2;
                    if (l > lend) t->state = ST_BLOCK;
                    break;
                }
                if (t->jtot == t->nmaxit) return t->state = ST_FALLBACK, -1;
                t->jtot++;
                sterf_sweep(t, m, -1);
                return 1;
            case ST_QR:
                for (m = l; m > lend; m--)
                    if (fabs(e[m - 1]) <= t->eps2 * fabs(d[m] * d[m - 1])) break;
                if (m > lend) e[m - 1] = 0;
                if (m == l) {
                    t->l = --l;
                    if (l < lend) t->state = ST_BLOCK;
                    break;
                }
                if (m == l - 1) {
                    double rte = sqrt(e[l - 1]), rt1, rt2;
                    LAPACK_GLOBAL(dlae2, DLAE2)(&d[l], &rte, &d[l - 1], &rt1, &rt2);
                    d[l] = rt1;
                    d[l - 1] = rt2;
                    e[l - 1] = 0;
                    t->l = l -= 2;
                    if (l < lend) t->state = ST_BLOCK;
                    break;
                }
                if (t->jtot == t->nmaxit) return t->state = ST_FALLBACK, -1;
                t->jtot++;
                sterf_sweep(t, m, 1);
                return 1;
            case ST_DONE: return 0;
            default: return -1;
        }
    }
}

int trd_eigs(int cnt, const int *n, double *const *d, double *const *e, int *rc) {
    static void (*const run[TRD_GROUP + 1])(Sterf **, int) = {NULL, sterf_run1, sterf_run2, sterf_run3, sterf_run4};
    Sterf t[TRD_GROUP];
    int act[TRD_GROUP];
    if (cnt < 1 || cnt > TRD_GROUP) return -1;
    for (int j = 0; j < cnt; j++) {
        sterf_init(&t[j], n[j], d[j], e[j]);
        act[j] = sterf_next(&t[j]);
    }
    for (;;) { /* the matrices with a sweep in flight advance together to the first sweep's end */
        Sterf *live[TRD_GROUP];
        int nl = 0, k = 0;
        for (int j = 0; j < cnt; j++)
            if (act[j] == 1) {
                if (nl == 0 || t[j].len < k) k = t[j].len;
                live[nl++] = &t[j];
            }
        if (nl == 0) break;
        run[nl](live, k);
        for (int j = 0; j < cnt; j++)
            if (act[j] == 1 && t[j].len == 0) act[j] = sterf_next(&t[j]);
    }
    int bad = 0;
    for (int j = 0; j < cnt; j++) {
        rc[j] = act[j];
        bad |= act[j] != 0;
    }
    return bad ? -1 : 0;
}
