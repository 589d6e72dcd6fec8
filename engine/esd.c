/* esd.c - eigenvalues of W^T W per module, metrics, parallel passes, spectra files; see esd.h. */
#include "esd.h"
#include "tridiag.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int check_finite(const float *w, size_t n, const char *name, Err *e) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i]))
            return err_set(e, "esd: tensor %s has a non-finite value (%g) at flat index %zu",
                           name ? name : "?", (double)w[i], i);
    return 0;
}

/* Per-thread scratch, grown on demand and reused across modules: no allocation, page faults or
 * LAPACKE transposes per module. */
typedef struct {
    double *W, *G, *work, *off[2]; /* off: tridiagonal off-diagonals (+ fallback copies), 2 in flight */
    float *Gf, *workf;
    int *iwork;
    size_t capW, capG, capwork, capoff[2], capGf, capworkf, capiwork; /* bytes */
} EsdScratch;

static int grow(void **p, size_t *cap, size_t bytes) {
    if (bytes <= *cap) return 0;
    void *q = malloc(bytes);
    if (!q) return -1;
    free(*p);
    *p = q;
    *cap = bytes;
    return 0;
}

static void scratch_free(EsdScratch *s) {
    free(s->W);
    free(s->G);
    free(s->work);
    free(s->off[0]);
    free(s->off[1]);
    free(s->Gf);
    free(s->workf);
    free(s->iwork);
    memset(s, 0, sizeof *s);
}

/* Workspace of ?syevd (jobz 'N') for order N: the LAPACK query's optimum (lets dsytrd run blocked). */
static int syevd_work(EsdScratch *s, int N, int single, lapack_int *lwork, lapack_int *liwork) {
    lapack_int n = N, info = 0, qi = 0, m1 = -1;
    if (single) {
        float qw = 0, dummy = 0;
        LAPACK_ssyevd("N", "L", &n, &dummy, &n, &dummy, &qw, &m1, &qi, &m1, &info);
        *lwork = (lapack_int)qw;
    } else {
        double qw = 0, dummy = 0;
        LAPACK_dsyevd("N", "L", &n, &dummy, &n, &dummy, &qw, &m1, &qi, &m1, &info);
        *lwork = (lapack_int)qw;
    }
    if (info != 0) return -1;
    if (*lwork < 2 * n + 1) *lwork = 2 * n + 1;
    *liwork = qi > 1 ? qi : 1;
    if (grow((void **)&s->iwork, &s->capiwork, sizeof(int) * (size_t)*liwork)) return -1;
    if (single) return grow((void **)&s->workf, &s->capworkf, sizeof(float) * (size_t)*lwork);
    return grow((void **)&s->work, &s->capwork, sizeof(double) * (size_t)*lwork);
}

/* ---- eigenvalues of a symmetric tridiagonal: LAPACK dsterf's algorithm, two matrices interleaved ----
 *
 * dsterf (Pal-Walker-Kahan root-free QL/QR with implicit Wilkinson shifts) spends its time in the inner
 * sweep, a chain of dependent divisions: one matrix keeps the divider's latency exposed. Here the same
 * algorithm is a resumable state machine per matrix, and the sweeps of two independent matrices run in
 * one loop, so their chains overlap. Every arithmetic operation of each matrix is the one dsterf does,
 * in the same order, so the result of a matrix does not depend on its partner (nor on whether it had
 * one). Blocks that dsterf would rescale (max entry outside [sqrt(safmin)/eps^2, sqrt(safmax)/3]) and
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
#define PWK_STEP(pe, pdr, pdw, dir, p, c, s, g, sg)                                                       \
    do {                                                                                              \
        double bb_ = *(pe), r_ = (p) + bb_, oc_ = (c), og_ = (g), al_ = *(pdr);                         \
        (pe)[-(dir)] = (s) * r_;                                                                      \
        (c) = (p) / r_;                                                                               \
        (s) = bb_ / r_;                                                                               \
        (g) = (c) * (al_ - (sg)) - (s) * og_;                                                         \
        *(pdw) = og_ + (al_ - (g));                                                                   \
        (p) = (c) != 0 ? ((g) * (g)) / (c) : oc_ * bb_;                                               \
        (pe) += (dir);                                                                                \
        (pdr) += (dir);                                                                               \
        (pdw) += (dir);                                                                               \
    } while (0)

static void sterf_run(Sterf *t, int k) {
    double *pe = t->pe, *pdr = t->pdr, *pdw = t->pdw, p = t->p, c = t->c, s = t->s, g = t->gamma,
           sg = t->sigma;
    int dir = t->dir;
    for (int q = 0; q < k; q++) PWK_STEP(pe, pdr, pdw, dir, p, c, s, g, sg);
    t->pe = pe, t->pdr = pdr, t->pdw = pdw, t->p = p, t->c = c, t->s = s, t->gamma = g;
    t->len -= k;
}

static void sterf_run2(Sterf *a, Sterf *b, int k) {
    double *pea = a->pe, *pdra = a->pdr, *pdwa = a->pdw, pa = a->p, ca = a->c, sa = a->s, ga = a->gamma,
           sga = a->sigma;
    double *peb = b->pe, *pdrb = b->pdr, *pdwb = b->pdw, pb = b->p, cb = b->c, sb = b->s, gb = b->gamma,
           sgb = b->sigma;
    int da = a->dir, db = b->dir;
    for (int q = 0; q < k; q++) {
        PWK_STEP(pea, pdra, pdwa, da, pa, ca, sa, ga, sga);
        PWK_STEP(peb, pdrb, pdwb, db, pb, cb, sb, gb, sgb);
    }
    a->pe = pea, a->pdr = pdra, a->pdw = pdwa, a->p = pa, a->c = ca, a->s = sa, a->gamma = ga;
    b->pe = peb, b->pdr = pdrb, b->pdw = pdwb, b->p = pb, b->c = cb, b->s = sb, b->gamma = gb;
    a->len -= k;
    b->len -= k;
}

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
        case ST_DONE:
            return 0;
        default:
            return -1;
        }
    }
}

/* Eigenvalues (ascending, into d) of up to two symmetric tridiagonals (n1 = 0: one). Each e holds n - 1
 * values. Returns for each matrix 0, or -1 if it needs LAPACK dsterf (d, e are then scrambled). */
static void tridiag_eigs2(int n0, double *d0, double *e0, int n1, double *d1, double *e1, int rc[2]) {
    Sterf t[2];
    sterf_init(&t[0], n0, d0, e0);
    sterf_init(&t[1], n1, d1, e1);
    int act[2] = {sterf_next(&t[0]), sterf_next(&t[1])};
    while (act[0] == 1 && act[1] == 1) {
        sterf_run2(&t[0], &t[1], t[0].len < t[1].len ? t[0].len : t[1].len);
        for (int j = 0; j < 2; j++)
            if (t[j].len == 0) act[j] = sterf_next(&t[j]);
    }
    for (int j = 0; j < 2; j++)
        while (act[j] == 1) {
            sterf_run(&t[j], t[j].len);
            act[j] = sterf_next(&t[j]);
        }
    rc[0] = act[0];
    rc[1] = act[1];
}

int esd_tridiag_eigs2(int n0, double *d0, double *e0, int n1, double *d1, double *e1) {
    int rc[2];
    tridiag_eigs2(n0, d0, e0, n1, d1, e1, rc);
    return rc[0] || rc[1] ? -1 : 0;
}

/* Stage 1 of the default solver: the Gram matrix of the smaller side in double (dsyrk) and its
 * tridiagonal form (tridiag_lower), diagonal into lam, off-diagonal into off (N values). Matrices whose
 * largest entry is outside dsyevd's safe range (it would rescale them; from fp32 weights only the
 * all-zero matrix) go to dsyevd itself: *done = 1, lam holds the eigenvalues. W is row-major rows x cols,
 * i.e. column-major cols x rows with leading dimension cols, and the Gram matrix is symmetric, so
 * everything runs column-major on the lower triangle without transposes. The conversion to double also
 * detects non-finite values (x * 0 is NaN exactly for them). */
static int gram_tridiag(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam,
                        double *off, int *done, Err *e) {
    int N = rows < cols ? rows : cols;
    size_t sz = (size_t)rows * cols;
    *done = 0;
    if (grow((void **)&s->W, &s->capW, sizeof(double) * sz) ||
        grow((void **)&s->G, &s->capG, sizeof(double) * (size_t)N * N) ||
        grow((void **)&s->work, &s->capwork, sizeof(double) * (size_t)N * (TRD_NB + 2)))
        return err_set(e, "esd: out of memory for %s", name);
    double *W = s->W, *G = s->G;
    unsigned nonfinite = 0;
    for (size_t i = 0; i < sz; i++) { /* exponent bits all ones: Inf or NaN */
        uint32_t u;
        memcpy(&u, &w[i], sizeof u);
        nonfinite |= (u & 0x7f800000u) == 0x7f800000u;
        W[i] = w[i];
    }
    if (nonfinite && check_finite(w, sz, name, e)) return -1;
    /* cols <= rows: G = W^T W (cols x cols); else G = W W^T (rows x rows): same nonzero spectrum. */
    if (cols <= rows)
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, cols, rows, 1.0, W, cols, 0.0, G, N);
    else
        cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, rows, cols, 1.0, W, cols, 0.0, G, N);
    /* largest |G_ij|: G is positive semidefinite, so |G_ij| <= sqrt(G_ii G_jj) and the diagonal has it */
    double anrm = 0;
    for (int j = 0; j < N; j++) anrm = fmax(anrm, G[j + (size_t)j * N]);
    const double rmin = sqrt(DBL_MIN / DBL_EPSILON), rmax = sqrt(DBL_EPSILON / DBL_MIN);
    lapack_int n = N, info = 0;
    if (anrm >= rmin && anrm <= rmax) {
        double *tau = s->work, *pw = tau + N;
        info = trd_reduce_lower(N, G, lam, off, tau, pw);
        if (info != 0) return err_set(e, "esd: tridiagonal reduction failed for %s (info %d)", name, (int)info);
        return 0;
    }
    lapack_int lwork = 0, liwork = 0;
    if (syevd_work(s, N, 0, &lwork, &liwork)) return err_set(e, "esd: out of memory for %s", name);
    LAPACK_dsyevd("N", "L", &n, G, &n, lam, s->work, &lwork, s->iwork, &liwork, &info);
    if (info != 0) return err_set(e, "esd: dsyevd failed for %s (info %d)", name, (int)info);
    *done = 1;
    return 0;
}

/* Stage 2: eigenvalues of one or two tridiagonals from gram_tridiag (d = lam, e = off with room for
 * 3N values: the off-diagonal and a copy of both for the LAPACK fallback). n1 = 0: one matrix. */
static int gram_eigs2(int n0, double *d0, double *e0, int n1, double *d1, double *e1, int info[2]) {
    int n[2] = {n0, n1}, rc[2];
    double *d[2] = {d0, d1}, *e[2] = {e0, e1};
    for (int j = 0; j < 2; j++)
        if (n[j] > 0) {
            memcpy(e[j] + n[j], d[j], sizeof(double) * (size_t)n[j]);
            memcpy(e[j] + 2 * (size_t)n[j], e[j], sizeof(double) * (size_t)n[j]);
        }
    tridiag_eigs2(n0, d0, e0, n1, d1, e1, rc);
    int bad = 0;
    for (int j = 0; j < 2; j++) {
        info[j] = 0;
        if (rc[j] == 0 || n[j] == 0) continue;
        lapack_int nn = n[j], inf = 0;
        memcpy(d[j], e[j] + n[j], sizeof(double) * (size_t)n[j]);
        memcpy(e[j], e[j] + 2 * (size_t)n[j], sizeof(double) * (size_t)n[j]);
        LAPACK_dsterf(&nn, d[j], e[j], &inf);
        info[j] = (int)inf;
        bad |= inf != 0;
    }
    return bad ? -1 : 0;
}

/* The default solver for one module: stages 1 and 2. */
static int eigs_gram(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam,
                     Err *e) {
    int N = rows < cols ? rows : cols, done = 0, info[2];
    if (grow((void **)&s->off[0], &s->capoff[0], sizeof(double) * 3 * (size_t)N))
        return err_set(e, "esd: out of memory for %s", name);
    if (gram_tridiag(s, w, rows, cols, name, lam, s->off[0], &done, e)) return -1;
    if (!done && gram_eigs2(N, lam, s->off[0], 0, NULL, NULL, info))
        return err_set(e, "esd: tridiagonal eigenvalues failed for %s (info %d)", name, info[0]);
    return 0;
}

static int eigs_gram_f32(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam,
                         Err *e) {
    int N = rows < cols ? rows : cols;
    lapack_int lwork = 0, liwork = 0;
    /* the float eigenvalues go to the front of the (otherwise unused) double Gram buffer */
    if (grow((void **)&s->Gf, &s->capGf, sizeof(float) * (size_t)N * N) ||
        grow((void **)&s->G, &s->capG, sizeof(float) * (size_t)N) || syevd_work(s, N, 1, &lwork, &liwork))
        return err_set(e, "esd: out of memory for %s", name);
    float *G = s->Gf, *ev = (float *)s->G;
    if (cols <= rows)
        cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, cols, rows, 1.0f, w, cols, 0.0f, G, N);
    else
        cblas_ssyrk(CblasColMajor, CblasLower, CblasTrans, rows, cols, 1.0f, w, cols, 0.0f, G, N);
    lapack_int n = N, info = 0;
    LAPACK_ssyevd("N", "L", &n, G, &n, ev, s->workf, &lwork, s->iwork, &liwork, &info);
    if (info != 0) return err_set(e, "esd: ssyevd failed for %s (info %d)", name, (int)info);
    for (int i = 0; i < N; i++) lam[i] = ev[i];
    return 0;
}

/* Singular values by dgesdd (descending), squared and reversed to ascending. */
static int eigs_svd(const float *w, int rows, int cols, const char *name, double *lam, Err *e) {
    int N = rows < cols ? rows : cols;
    size_t sz = (size_t)rows * cols;
    double *W = malloc(sizeof(double) * sz), *s = malloc(sizeof(double) * (size_t)N);
    if (!W || !s) { free(W); free(s); return err_set(e, "esd: out of memory for %s", name); }
    for (size_t i = 0; i < sz; i++) W[i] = w[i];
    double dummy = 0;
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', rows, cols, W, cols, s, &dummy, cols,
                                     &dummy, cols);
    free(W);
    if (info == 0)
        for (int i = 0; i < N; i++) lam[i] = s[N - 1 - i] * s[N - 1 - i];
    free(s);
    if (info != 0) return err_set(e, "esd: dgesdd failed for %s (info %d)", name, (int)info);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* LAPACK returns ascending order already; check it (O(N)) and sort only if it ever is not. */
static void eigs_finish(double *lam, int N) {
    for (int i = 1; i < N; i++)
        if (lam[i] < lam[i - 1]) { qsort(lam, (size_t)N, sizeof(double), cmp_double); break; }
    for (int i = 0; i < N; i++)
        if (lam[i] < 0) lam[i] = 0; /* round-off below zero on rank-deficient matrices */
}

static int eigs_with(EsdScratch *sc, const float *w, int rows, int cols, EsdSolver s, const char *name,
                     double *lam, Err *e) {
    if (!w || rows < 1 || cols < 1) return err_set(e, "esd: tensor %s has an empty shape", name);
    /* (the default solver checks for non-finite values while converting W to double) */
    if (s != ESD_GRAM && check_finite(w, (size_t)rows * cols, name, e)) return -1;
    int rc;
    if (s == ESD_SVD) rc = eigs_svd(w, rows, cols, name, lam, e);
    else if (s == ESD_GRAM_F32) rc = eigs_gram_f32(sc, w, rows, cols, name, lam, e);
    else rc = eigs_gram(sc, w, rows, cols, name, lam, e);
    if (rc) return -1;
    eigs_finish(lam, rows < cols ? rows : cols);
    return 0;
}

int esd_eigs(const float *w, int rows, int cols, EsdSolver s, const char *name, double *lam, Err *e) {
    EsdScratch sc;
    memset(&sc, 0, sizeof sc);
    int rc = eigs_with(&sc, w, rows, cols, s, name, lam, e);
    scratch_free(&sc);
    return rc;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

void esd_metrics(const double *lam, int N, double alpha, EsdJob *j) {
    const double eps = 6e-5;
    double sum = 0, mx = N > 0 ? lam[N - 1] : 0;
    int rank = 0;
    for (int i = 0; i < N; i++) {
        sum += lam[i];
        if (sqrt(lam[i]) > eps) rank++; /* the code counts singular values above eps */
    }
    j->fnorm = sum;
    j->spectral_norm = mx;
    j->stable_rank = mx > 0 ? sum / mx : 0;
    double lg = mx > 0 ? log10(mx) : -10.0; /* the code's safe_log10 */
    j->alpha_weighted = alpha > 0 ? alpha * lg : -1.0;
    j->alphahat = alpha > 0 ? softplus(alpha * lg) : -1.0;
    double h = 0;
    if (sum > 0 && rank > 0) {
        for (int i = 0; i < N; i++) {
            double p = lam[i] / sum + eps;
            h -= p * log(p);
        }
        h /= log(rank + eps);
    }
    j->entropy = isfinite(h) ? h : 0;
}

double esd_gradnorm(const float *g, size_t n) {
    if (!g) return 10.0;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

void esd_job_clear(EsdJob *j) {
    free(j->lam);
    j->lam = NULL;
}

/* Start of a job in esd_many: lam, and for the default solver stage 1 (Gram + tridiagonal) with the
 * off-diagonal in scratch slot `slot`, leaving stage 2 pending (*pending = 1); other solvers compute
 * their eigenvalues here. */
static int job_begin(EsdScratch *sc, int slot, EsdJob *j, EsdSolver s, int *pending, Err *e) {
    j->N = j->rows < j->cols ? j->rows : j->cols;
    *pending = 0;
    free(j->lam);
    j->lam = malloc(sizeof(double) * (size_t)(j->N > 0 ? j->N : 1));
    if (!j->lam) return err_set(e, "esd: out of memory for %s", j->name);
    if (s != ESD_GRAM || !j->w || j->rows < 1 || j->cols < 1)
        return eigs_with(sc, j->w, j->rows, j->cols, s, j->name, j->lam, e);
    int done = 0;
    if (grow((void **)&sc->off[slot], &sc->capoff[slot], sizeof(double) * 3 * (size_t)j->N))
        return err_set(e, "esd: out of memory for %s", j->name);
    if (gram_tridiag(sc, j->w, j->rows, j->cols, j->name, j->lam, sc->off[slot], &done, e)) return -1;
    if (done) eigs_finish(j->lam, j->N);
    *pending = !done;
    return 0;
}

/* End of a job: the fit and the metrics. */
static void job_end(EsdJob *j, const PlFitOpts *fit) {
    plfit(j->lam, j->N, fit, &j->fit);
    esd_metrics(j->lam, j->N, j->fit.status == PL_OK ? j->fit.alpha : -1.0, j);
    j->gradnorm = esd_gradnorm(j->grad, (size_t)j->rows * j->cols);
}

/* Stage 2 of jobs a and b (b < 0: a alone), interleaved, then their ends. seconds: each job's own
 * stages plus its share of the common stage 2. */
static void jobs_finish(EsdScratch *sc, EsdJob *jobs, int a, int slot_a, double ta, int b, int slot_b,
                        double tb, const PlFitOpts *fit, int *rc, Err *errs) {
    double t0 = now_seconds();
    int info[2];
    EsdJob *ja = &jobs[a], *jb = b >= 0 ? &jobs[b] : NULL;
    gram_eigs2(ja->N, ja->lam, sc->off[slot_a], jb ? jb->N : 0, jb ? jb->lam : NULL, jb ? sc->off[slot_b] : NULL,
               info);
    double share = (now_seconds() - t0) / (jb ? 2 : 1);
    int idx[2] = {a, b};
    double own[2] = {ta, tb};
    for (int k = 0; k < (jb ? 2 : 1); k++) {
        EsdJob *j = &jobs[idx[k]];
        if (info[k]) {
            rc[idx[k]] = err_set(&errs[idx[k]], "esd: tridiagonal eigenvalues failed for %s (info %d)", j->name,
                                 info[k]);
            continue;
        }
        double t1 = now_seconds();
        eigs_finish(j->lam, j->N);
        job_end(j, fit);
        j->seconds = own[k] + share + (now_seconds() - t1);
    }
}

typedef struct {
    double cost;
    int idx;
} JobOrder;

static int cmp_cost_desc(const void *a, const void *b) {
    const JobOrder *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return x->idx - y->idx;
}

int esd_many(EsdJob *jobs, int n, EsdSolver s, const PlFitOpts *fit, int threads, Err *e) {
    if (n <= 0) return 0;
    if (threads <= 0) threads = omp_get_max_threads();
    if (threads > n) threads = n;
    Err *errs = calloc((size_t)n, sizeof *errs);
    int *rc = calloc((size_t)n, sizeof *rc);
    JobOrder *order = calloc((size_t)n, sizeof *order);
    EsdScratch *sc = calloc((size_t)threads, sizeof *sc);
    if (!errs || !rc || !order || !sc) {
        free(errs); free(rc); free(order); free(sc);
        return err_set(e, "esd: out of memory");
    }
    /* Largest modules first (Gram rows*N^2 plus tridiagonalisation ~N^3): the dynamic schedule then
     * ends with small modules and the cores finish together. */
    for (int i = 0; i < n; i++) {
        double r = jobs[i].rows > 0 ? jobs[i].rows : 0, c = jobs[i].cols > 0 ? jobs[i].cols : 0;
        double N = r < c ? r : c, M = r < c ? c : r;
        order[i] = (JobOrder){M * N * N + 2.0 * N * N * N, i};
    }
    qsort(order, (size_t)n, sizeof *order, cmp_cost_desc);
    int blas_threads = openblas_get_num_threads();
    /* One module per core with BLAS/LAPACK single-threaded: faster than threaded LAPACK per module on
     * this machine, and the spectra do not depend on the thread count (same summation order). Each
     * thread reuses its own scratch buffers across modules. */
    openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads)
    {
        /* Default solver: each thread keeps one module's tridiagonal pending until it has a second, then
         * computes both spectra in one interleaved pass (tridiag_eigs2); results do not depend on the
         * pairing. */
        EsdScratch *S = &sc[omp_get_thread_num()];
        int pend = -1, slot = 0;
        double pend_t = 0;
#pragma omp for schedule(dynamic, 1) nowait
        for (int k = 0; k < n; k++) {
            int i = order[k].idx, waiting = 0;
            double t0 = now_seconds();
            rc[i] = job_begin(S, slot, &jobs[i], s, &waiting, &errs[i]);
            if (rc[i]) continue;
            if (!waiting) {
                job_end(&jobs[i], fit);
                jobs[i].seconds = now_seconds() - t0;
            } else if (pend < 0) {
                pend = i;
                pend_t = now_seconds() - t0;
                slot ^= 1;
            } else {
                jobs_finish(S, jobs, pend, slot ^ 1, pend_t, i, slot, now_seconds() - t0, fit, rc, errs);
                pend = -1;
            }
        }
        if (pend >= 0) jobs_finish(S, jobs, pend, slot ^ 1, pend_t, -1, 0, 0, fit, rc, errs);
    }
    openblas_set_num_threads(blas_threads);
    for (int t = 0; t < threads; t++) scratch_free(&sc[t]);
    int ret = 0;
    for (int i = 0; i < n && !ret; i++)
        if (rc[i]) ret = err_set(e, "%s", errs[i].msg);
    free(errs);
    free(rc);
    free(order);
    free(sc);
    return ret;
}

/* ---- spectra files ---- */

typedef struct {
    unsigned char *p;
    size_t len, cap;
} Buf;

static int buf_put(Buf *b, const void *x, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, x, n);
    b->len += n;
    return 0;
}

int esd_write_spectra(const char *path, long step, const SpectrumRec *recs, int n, Err *e) {
    Buf b = {0};
    int64_t st = step;
    uint32_t nm = (uint32_t)n;
    int bad = buf_put(&b, "ADSPEC01", 8) | buf_put(&b, &st, 8) | buf_put(&b, &nm, 4);
    for (int i = 0; i < n && !bad; i++) {
        const SpectrumRec *r = &recs[i];
        size_t nl = strlen(r->name);
        uint16_t l16 = (uint16_t)(nl > 65535 ? 65535 : nl);
        int32_t ints[4] = {r->layer, r->type, r->rows, r->cols};
        double fit[2] = {r->alpha, r->xmin};
        uint32_t N = (uint32_t)r->N;
        bad |= buf_put(&b, &l16, 2) | buf_put(&b, r->name, l16) | buf_put(&b, ints, sizeof ints) |
               buf_put(&b, fit, sizeof fit) | buf_put(&b, &N, 4) |
               buf_put(&b, r->lam, sizeof(double) * N);
    }
    if (bad) { free(b.p); return err_set(e, "%s: out of memory building the spectra file", path); }
    int rc = write_file_atomic(path, b.p, b.len, e);
    free(b.p);
    return rc;
}

void esd_free_spectra(SpectrumRec *recs, int n) {
    if (!recs) return;
    for (int i = 0; i < n; i++) {
        free((char *)recs[i].name);
        free((double *)recs[i].lam);
    }
    free(recs);
}

/* Bounds-checked sequential reader over the file bytes. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
} Rd;

static int rd(Rd *r, void *x, size_t n) {
    if (r->len - r->pos < n) return -1;
    memcpy(x, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

int esd_read_spectra(const char *path, long *step, SpectrumRec **out, int *n_out, Err *e) {
    char *data;
    size_t len;
    *out = NULL;
    *n_out = 0;
    if (read_file(path, &data, &len, e)) return -1;
    Rd r = {(const unsigned char *)data, len, 0};
    char magic[8];
    int64_t st;
    uint32_t n;
    if (rd(&r, magic, 8) || memcmp(magic, "ADSPEC01", 8) || rd(&r, &st, 8) || rd(&r, &n, 4)) {
        free(data);
        return err_set(e, "%s: not a spectra file (bad magic or header)", path);
    }
    SpectrumRec *recs = calloc(n ? n : 1, sizeof *recs);
    if (!recs) { free(data); return err_set(e, "%s: out of memory", path); }
    for (uint32_t i = 0; i < n; i++) {
        uint16_t nl;
        int32_t ints[4];
        double fit[2];
        uint32_t N;
        char *name = NULL;
        double *lam = NULL;
        int bad = rd(&r, &nl, 2);
        if (!bad) {
            name = calloc((size_t)nl + 1, 1);
            bad = !name || rd(&r, name, nl) || rd(&r, ints, sizeof ints) || rd(&r, fit, sizeof fit) ||
                  rd(&r, &N, 4) || (size_t)N > (r.len - r.pos) / sizeof(double);
        }
        if (!bad) {
            lam = malloc(sizeof(double) * (N ? N : 1));
            bad = !lam || rd(&r, lam, sizeof(double) * N);
        }
        if (bad) {
            free(name);
            free(lam);
            esd_free_spectra(recs, (int)i);
            free(data);
            return err_set(e, "%s: truncated or corrupt record %u", path, i);
        }
        recs[i] = (SpectrumRec){name, ints[0], ints[1], ints[2], ints[3], fit[0], fit[1], (int)N, lam};
    }
    free(data);
    *step = (long)st;
    *out = recs;
    *n_out = (int)n;
    return 0;
}

/* ---- benchmark hook ---- */

double esd_bench_pass(const int *rows, const int *cols, int count, EsdSolver s, int threads, int reps) {
    float **w = calloc((size_t)count, sizeof *w);
    EsdJob *jobs = calloc((size_t)count, sizeof *jobs);
    double best = -1;
    Rng rng;
    rng_seed(&rng, 1234);
    int ok = w && jobs;
    for (int i = 0; ok && i < count; i++) {
        size_t sz = (size_t)rows[i] * cols[i];
        w[i] = malloc(sizeof(float) * sz);
        if (!w[i]) { ok = 0; break; }
        for (size_t k = 0; k < sz; k++) w[i][k] = (float)(0.02 * rng_normal(&rng));
    }
    PlFitOpts fit;
    plfit_defaults(&fit);
    for (int r = 0; ok && r < reps; r++) {
        for (int i = 0; i < count; i++)
            jobs[i] = (EsdJob){.name = "bench", .w = w[i], .rows = rows[i], .cols = cols[i]};
        double t0 = now_seconds();
        Err e;
        if (esd_many(jobs, count, s, &fit, threads, &e)) ok = 0;
        double t = now_seconds() - t0;
        if (ok && (best < 0 || t < best)) best = t;
        for (int i = 0; i < count; i++) esd_job_clear(&jobs[i]);
    }
    for (int i = 0; w && i < count; i++) free(w[i]);
    free(w);
    free(jobs);
    return ok ? best : -1;
}
