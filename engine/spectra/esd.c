/* esd.c - eigenvalues of W^T W per module, metrics, parallel passes, spectra files; see esd.h. */
#include "esd.h"
#include "gram.h"
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
            return err_set(e, "esd: tensor %s has a non-finite value (%g) at flat index %zu", name ? name : "?",
                           (double)w[i], i);
    return 0;
}

/* Per-thread scratch, grown on demand and reused across modules: no allocation, page faults or
 * LAPACKE transposes per module. */
typedef struct {
    double *pack, *G, *work,
        *off[TRD_GROUP]; /* pack: gram_lower's; off: tridiagonal off-diagonals (+ fallback copies) */
    float *Gf, *workf;
    int *iwork;
    size_t cappack, capG, capwork, capoff[TRD_GROUP], capGf, capworkf, capiwork; /* bytes */
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
    free(s->pack);
    free(s->G);
    free(s->work);
    for (int j = 0; j < TRD_GROUP; j++) free(s->off[j]);
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

/* Stage 1 of the default solver: the Gram matrix of the smaller side in double (gram_lower) and its
 * tridiagonal form (trd_reduce_lower), diagonal into lam, off-diagonal into off (N values). Matrices
 * whose largest entry is outside dsyevd's safe range (it would rescale them; from fp32 weights only the
 * all-zero matrix) go to dsyevd itself: *done = 1, lam holds the eigenvalues. G is column-major and
 * only its lower triangle is used. gram_lower flags a non-finite weight while it packs; check_finite
 * then names it. */
static int gram_tridiag(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam, double *off,
                        int *done, Err *e) {
    int N = rows < cols ? rows : cols;
    *done = 0;
    if (grow((void **)&s->pack, &s->cappack, sizeof(double) * gram_pack_doubles(rows, cols)) ||
        grow((void **)&s->G, &s->capG, sizeof(double) * (size_t)N * N) ||
        grow((void **)&s->work, &s->capwork, sizeof(double) * ((size_t)N + trd_work_doubles(N))))
        return err_set(e, "esd: out of memory for %s", name);
    double *G = s->G;
    if (gram_lower(w, rows, cols, G, s->pack) && check_finite(w, (size_t)rows * cols, name, e)) return -1;
    /* largest |G_ij|: G is positive semidefinite, so |G_ij| <= sqrt(G_ii G_jj) and the diagonal has it */
    double anrm = 0;
    for (int j = 0; j < N; j++) anrm = fmax(anrm, G[j + (size_t)j * N]);
    const double rmin = sqrt(DBL_MIN / DBL_EPSILON), rmax = sqrt(DBL_EPSILON / DBL_MIN);
    lapack_int n = N, info = 0;
    if (anrm >= rmin && anrm <= rmax) {
        double *tau = s->work, *pw = tau + N; /* N + trd_work_doubles(N), grown above */
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

/* Stage 2: eigenvalues of cnt <= TRD_GROUP tridiagonals from gram_tridiag, interleaved (d = lam,
 * e = off with room for 3N values: the off-diagonal and a copy of both for the LAPACK fallback).
 * info[j]: 0, or LAPACK dsterf's nonzero info for matrix j. */
static int gram_eigs(int cnt, const int *n, double *const *d, double *const *e, int *info) {
    int rc[TRD_GROUP], bad = 0;
    for (int j = 0; j < cnt; j++) {
        memcpy(e[j] + n[j], d[j], sizeof(double) * (size_t)n[j]);
        memcpy(e[j] + 2 * (size_t)n[j], e[j], sizeof(double) * (size_t)n[j]);
    }
    trd_eigs(cnt, n, d, e, rc);
    for (int j = 0; j < cnt; j++) {
        info[j] = 0;
        if (rc[j] == 0) continue;
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
static int eigs_gram(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam, Err *e) {
    int N = rows < cols ? rows : cols, done = 0, info[1];
    if (grow((void **)&s->off[0], &s->capoff[0], sizeof(double) * 3 * (size_t)N))
        return err_set(e, "esd: out of memory for %s", name);
    if (gram_tridiag(s, w, rows, cols, name, lam, s->off[0], &done, e)) return -1;
    if (!done && gram_eigs(1, &N, &lam, &s->off[0], info))
        return err_set(e, "esd: tridiagonal eigenvalues failed for %s (info %d)", name, info[0]);
    return 0;
}

static int eigs_gram_f32(EsdScratch *s, const float *w, int rows, int cols, const char *name, double *lam, Err *e) {
    int N = rows < cols ? rows : cols;
    lapack_int lwork = 0, liwork = 0;
    /* the float eigenvalues go to the front of the (otherwise unused) double Gram buffer */
    if (grow((void **)&s->Gf, &s->capGf, sizeof(float) * (size_t)N * N) ||
        grow((void **)&s->G, &s->capG, sizeof(float) * (size_t)N) || syevd_work(s, N, 1, &lwork, &liwork))
        return err_set(e, "esd: out of memory for %s", name);
    float *G = s->Gf, *ev = (float *)s->G;
    if (cols <= rows) cblas_ssyrk(CblasColMajor, CblasLower, CblasNoTrans, cols, rows, 1.0f, w, cols, 0.0f, G, N);
    else cblas_ssyrk(CblasColMajor, CblasLower, CblasTrans, rows, cols, 1.0f, w, cols, 0.0f, G, N);
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
    if (!W || !s) {
        free(W);
        free(s);
        return err_set(e, "esd: out of memory for %s", name);
    }
    for (size_t i = 0; i < sz; i++) W[i] = w[i];
    double dummy = 0;
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', rows, cols, W, cols, s, &dummy, cols, &dummy, cols);
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
        if (lam[i] < lam[i - 1]) {
            qsort(lam, (size_t)N, sizeof(double), cmp_double);
            break;
        }
    for (int i = 0; i < N; i++)
        if (lam[i] < 0) lam[i] = 0; /* round-off below zero on rank-deficient matrices */
}

static int eigs_with(EsdScratch *sc, const float *w, int rows, int cols, EsdSolver s, const char *name, double *lam,
                     Err *e) {
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
    return sqrt(sumsq_blocked(g, NULL, n, 0)); /* index order: jobs run on threads already */
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

/* A thread's jobs whose stage 2 is pending: job index (its off-diagonal is in scratch slot k), own
 * seconds. */
typedef struct {
    int cnt, idx[TRD_GROUP];
    double own[TRD_GROUP];
} Pending;

/* Stage 2 of the pending jobs, interleaved, then their ends. seconds: each job's own stages plus its
 * share of the common stage 2. */
static void jobs_finish(EsdScratch *sc, EsdJob *jobs, Pending *pd, const PlFitOpts *fit, int *rc, Err *errs) {
    if (pd->cnt == 0) return;
    double t0 = now_seconds();
    int n[TRD_GROUP], info[TRD_GROUP];
    double *d[TRD_GROUP];
    for (int k = 0; k < pd->cnt; k++) {
        n[k] = jobs[pd->idx[k]].N;
        d[k] = jobs[pd->idx[k]].lam;
    }
    gram_eigs(pd->cnt, n, d, sc->off, info);
    double share = (now_seconds() - t0) / pd->cnt;
    for (int k = 0; k < pd->cnt; k++) {
        EsdJob *j = &jobs[pd->idx[k]];
        if (info[k]) {
            rc[pd->idx[k]] =
                err_set(&errs[pd->idx[k]], "esd: tridiagonal eigenvalues failed for %s (info %d)", j->name, info[k]);
            continue;
        }
        double t1 = now_seconds();
        eigs_finish(j->lam, j->N);
        job_end(j, fit);
        j->seconds = pd->own[k] + share + (now_seconds() - t1);
    }
    pd->cnt = 0;
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
        free(errs);
        free(rc);
        free(order);
        free(sc);
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
        /* Default solver: each thread keeps its modules' tridiagonals pending until it has TRD_GROUP,
         * then computes their spectra in one interleaved pass (trd_eigs); results do not depend on the
         * grouping. */
        EsdScratch *S = &sc[omp_get_thread_num()];
        Pending pd = {0};
#pragma omp for schedule(dynamic, 1) nowait
        for (int k = 0; k < n; k++) {
            int i = order[k].idx, waiting = 0;
            double t0 = now_seconds();
            rc[i] = job_begin(S, pd.cnt, &jobs[i], s, &waiting, &errs[i]);
            if (rc[i]) continue;
            if (!waiting) {
                job_end(&jobs[i], fit);
                jobs[i].seconds = now_seconds() - t0;
                continue;
            }
            pd.idx[pd.cnt] = i;
            pd.own[pd.cnt++] = now_seconds() - t0;
            if (pd.cnt == TRD_GROUP) jobs_finish(S, jobs, &pd, fit, rc, errs);
        }
        jobs_finish(S, jobs, &pd, fit, rc, errs);
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
               buf_put(&b, fit, sizeof fit) | buf_put(&b, &N, 4) | buf_put(&b, r->lam, sizeof(double) * N);
    }
    if (bad) {
        free(b.p);
        return err_set(e, "%s: out of memory building the spectra file", path);
    }
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
    if (!recs) {
        free(data);
        return err_set(e, "%s: out of memory", path);
    }
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
            bad = !name || rd(&r, name, nl) || rd(&r, ints, sizeof ints) || rd(&r, fit, sizeof fit) || rd(&r, &N, 4) ||
                  (size_t)N > (r.len - r.pos) / sizeof(double);
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

double esd_bench_pass(const int *rows, const int *cols, int count, EsdSolver s, int threads, int reps, double *median) {
    float **w = calloc((size_t)count, sizeof *w);
    EsdJob *jobs = calloc((size_t)count, sizeof *jobs);
    double best = -1, *times = calloc((size_t)(reps > 0 ? reps : 1), sizeof *times);
    Rng rng;
    rng_seed(&rng, 1234);
    int ok = w && jobs && times;
    for (int i = 0; ok && i < count; i++) {
        size_t sz = (size_t)rows[i] * cols[i];
        w[i] = malloc(sizeof(float) * sz);
        if (!w[i]) {
            ok = 0;
            break;
        }
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
        times[r] = t;
        if (ok && (best < 0 || t < best)) best = t;
        for (int i = 0; i < count; i++) esd_job_clear(&jobs[i]);
    }
    for (int i = 0; w && i < count; i++) free(w[i]);
    free(w);
    free(jobs);
    if (ok && median) {
        qsort(times, (size_t)reps, sizeof *times, cmp_double);
        *median = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    }
    free(times);
    return ok ? best : -1;
}
