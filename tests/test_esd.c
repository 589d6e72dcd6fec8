/* test_esd.c - spectra of W^T W: hand matrices, Gram vs SVD vs float, Marchenko-Pastur edges, the
 * median-Hill alpha of Gaussian matrices vs aspect ratio (docs/method.md, "Reference values the tests use"), metrics against hand
 * formulas, NaN rejection, parallel == serial, esd_many (reused scratch) == esd_eigs, structured
 * matrices vs dgesdd, spectra file round trip and corruption. (The tridiagonal stages: test_tridiag.c.) */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "esd.h"
#include "model.h"

static float *gaussian(int rows, int cols, double sd, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    float *w = malloc(sizeof(float) * rows * cols);
    for (int i = 0; i < rows * cols; i++) w[i] = (float)(sd * rng_normal(&r));
    return w;
}

static void test_hand(void) {
    /* W = [[3,0],[0,4],[0,0]] (3 x 2): W^T W = diag(9, 16). Its transpose (2 x 3) has the same. */
    float w[6] = {3, 0, 0, 4, 0, 0}, wt[6] = {3, 0, 0, 0, 4, 0};
    double lam[2];
    Err e;
    for (int s = 0; s < 3; s++) {
        char name[48];
        int rc = esd_eigs(w, 3, 2, (EsdSolver)s, "hand", lam, &e);
        snprintf(name, sizeof name, "hand_tall_solver%d", s);
        CHECK(rc == 0 && fabs(lam[0] - 9) < 1e-5 && fabs(lam[1] - 16) < 1e-5, name, "%g %g", lam[0], lam[1]);
        rc = esd_eigs(wt, 2, 3, (EsdSolver)s, "hand", lam, &e);
        snprintf(name, sizeof name, "hand_wide_solver%d", s);
        CHECK(rc == 0 && fabs(lam[0] - 9) < 1e-5 && fabs(lam[1] - 16) < 1e-5, name, "%g %g", lam[0], lam[1]);
    }
    /* Rank one: W = u v^T with u = (1,2), v = (2,0,1): eigenvalues {0, |u|^2 |v|^2 = 25}, clamped >= 0. */
    float r1[6] = {2, 0, 1, 4, 0, 2};
    esd_eigs(r1, 2, 3, ESD_GRAM, "rank1", lam, &e);
    CHECK(lam[0] >= 0 && lam[0] < 1e-9 && fabs(lam[1] - 25) < 1e-9, "rank_one", "%g %g", lam[0], lam[1]);
}

/* Gram route against dgesdd's squared singular values, for every summation order (the Gram kernel's tiles,
 * LAPACK's blocked OpenBLAS kernels): the Gram matrix of the N x K side, summed in double, is within
 * gamma_K ||w_i|| ||w_j|| entrywise (gamma_n = n u / (1 - n u), u = 2^-53; the float products are exact),
 * so ||E||_2 <= gamma_K ||W||_F^2 <= gamma_K N lam_max; each eigensolver (tridiagonal reduction + QL/QR,
 * and the SVD) adds at most p(N) u lam_max, p(N) = N^2 (see test_tridiag.c). By Weyl:
 *   |lam_gram - sigma^2| <= (gamma_K N + 2 N^2 u) lam_max  (double), and with the Gram in fp32 (u = 2^-24
 *   for the sum) gamma_K^(f32) N + 2 N^2 2^-53. */
static double solver_bound(int N, int K, double u_gram) {
    return K * u_gram / (1 - K * u_gram) * N + 2.0 * N * N * 0x1p-53;
}

static void test_solvers_agree(void) {
    int shapes[2][2] = {{300, 120}, {120, 300}};
    for (int s = 0; s < 2; s++) {
        int r = shapes[s][0], c = shapes[s][1], N = 120;
        float *w = gaussian(r, c, 0.05, 11 + s);
        double a[120], b[120], f[120];
        Err e;
        esd_eigs(w, r, c, ESD_GRAM, "g", a, &e);
        esd_eigs(w, r, c, ESD_SVD, "s", b, &e);
        esd_eigs(w, r, c, ESD_GRAM_F32, "f", f, &e);
        double d = 0, df = 0;
        int sorted = 1;
        for (int i = 0; i < N; i++) {
            d = fmax(d, fabs(a[i] - b[i]) / b[N - 1]);
            df = fmax(df, fabs(f[i] - b[i]) / b[N - 1]);
            if (i && a[i] < a[i - 1]) sorted = 0;
        }
        char name[48];
        snprintf(name, sizeof name, "gram_vs_svd_%dx%d", r, c);
        int K = r > c ? r : c;
        CHECK(d <= solver_bound(N, K, 0x1p-53), name, "max rel diff %g (bound %g)", d, solver_bound(N, K, 0x1p-53));
        snprintf(name, sizeof name, "gram_f32_vs_svd_%dx%d", r, c);
        CHECK(df <= solver_bound(N, K, 0x1p-24), name, "max rel diff %g (bound %g)", df, solver_bound(N, K, 0x1p-24));
        snprintf(name, sizeof name, "ascending_%dx%d", r, c);
        CHECK(sorted, name, "not ascending");
        free(w);
    }
}

static void test_solvers_agree_model_shapes(void) {
    /* The 60M model's MLP shapes, tall (gate/up) and wide (down): the default double solver must
     * agree with dgesdd's squared singular values within solver_bound (~1e-10 of lam_max; it reaches ~1e-14). */
    int shapes[2][2] = {{1376, 512}, {512, 1376}};
    for (int s = 0; s < 2; s++) {
        int r = shapes[s][0], c = shapes[s][1], N = 512;
        float *w = gaussian(r, c, 0.02, 71 + s);
        double *a = malloc(sizeof(double) * N), *b = malloc(sizeof(double) * N);
        Err e;
        int rc = esd_eigs(w, r, c, ESD_GRAM, "g", a, &e) | esd_eigs(w, r, c, ESD_SVD, "s", b, &e);
        double d = 0;
        for (int i = 0; i < N; i++) d = fmax(d, fabs(a[i] - b[i]) / b[N - 1]);
        char name[48];
        snprintf(name, sizeof name, "gram_vs_svd_%dx%d", r, c);
        CHECK(rc == 0 && d <= solver_bound(N, 1376, 0x1p-53), name, "rc %d max rel diff %g", rc, d);
        free(w);
        free(a);
        free(b);
    }
}

static void test_extreme_scales(void) {
    /* An all-zero matrix (the Gram matrix's norm is outside the tridiagonal path's safe range, so this
     * goes through the dsyevd fallback) gives zeros; a matrix scaled by 1e-30 (Gram entries ~1e-62)
     * gives the unscaled spectrum times 1e-60 to full relative precision (no underflow): scaling rounds each
     * weight once (relative 2^-24), moving eigenvalues by at most about 4 2^-24 of lam_max (2.4e-7), any
     * summation order; the check allows 1e-6. */
    float z[20 * 30];
    memset(z, 0, sizeof z);
    double lam[20], ref[20];
    Err e;
    int rc = esd_eigs(z, 20, 30, ESD_GRAM, "zero", lam, &e), allzero = rc == 0;
    for (int i = 0; i < 20 && allzero; i++) allzero = lam[i] == 0;
    CHECK(allzero, "zero_matrix_zero_spectrum", "rc %d lam[19] %g", rc, lam[19]);
    float *w = gaussian(30, 20, 1.0, 91), *ws = malloc(sizeof(float) * 600);
    for (int i = 0; i < 600; i++) ws[i] = w[i] * 1e-30f;
    rc = esd_eigs(w, 30, 20, ESD_GRAM, "w", ref, &e) | esd_eigs(ws, 30, 20, ESD_GRAM, "ws", lam, &e);
    double d = 0;
    for (int i = 0; i < 20; i++) d = fmax(d, fabs(lam[i] / 1e-60 - ref[i]) / ref[19]);
    CHECK(rc == 0 && d < 1e-6, "tiny_scale_spectrum", "rc %d max rel diff %g", rc, d);
    free(w);
    free(ws);
}

/* Structured matrices (block diagonal: the Gram splits; rank deficient; equal singular values; graded
 * columns) through the default solver against dgesdd. */
static void test_structured_vs_svd(void) {
    enum { R = 160, C = 96 };
    Rng rng;
    rng_seed(&rng, 99);
    for (int kind = 0; kind < 4; kind++) {
        float *w = calloc(R * C, sizeof(float));
        for (int i = 0; i < R; i++)
            for (int j = 0; j < C; j++) {
                double g = rng_normal(&rng);
                if (kind == 0) w[i * C + j] = (i / 40 == j / 24) ? (float)g : 0.0f;      /* 4 blocks */
                if (kind == 1) w[i * C + j] = j < 30 ? (float)g : w[i * C + j - 30];     /* rank 30 */
                if (kind == 2) w[i * C + j] = i == j ? 0.5f : 0.0f;                      /* all equal */
                if (kind == 3) w[i * C + j] = (float)(g * pow(10.0, 3.0 * j / C - 1.5)); /* graded */
            }
        double a[C], b[C];
        Err e;
        int rc = esd_eigs(w, R, C, ESD_GRAM, "s", a, &e) | esd_eigs(w, R, C, ESD_SVD, "s", b, &e);
        double d = 0;
        for (int i = 0; i < C; i++) d = fmax(d, fabs(a[i] - b[i]) / b[C - 1]);
        char name[48];
        snprintf(name, sizeof name, "structured%d_gram_vs_svd", kind);
        CHECK(rc == 0 && d <= solver_bound(C, R, 0x1p-53), name, "rc %d max rel diff %g", rc, d);
        free(w);
    }
}

static void test_many_matches_single(void) {
    /* esd_many reuses per-thread scratch buffers across modules of different sizes (growing and
     * shrinking, tall and wide) and runs them largest first: every module's spectrum must equal the
     * one-off esd_eigs result bit for bit, for both Gram solvers and 1 or 2 threads. esd_many runs
     * OpenBLAS single-threaded, so the reference does too (threaded BLAS sums in another order). */
    enum { NJ = 7 };
    int rows[NJ] = {30, 200, 90, 50, 300, 10, 64}, cols[NJ] = {40, 90, 200, 50, 120, 10, 256};
    float *w[NJ];
    for (int i = 0; i < NJ; i++) w[i] = gaussian(rows[i], cols[i], 0.05, 81 + i);
    PlFitOpts o;
    plfit_defaults(&o);
    EsdSolver solvers[2] = {ESD_GRAM, ESD_GRAM_F32};
    for (int si = 0; si < 2; si++)
        for (int threads = 1; threads <= 2; threads++) {
            EsdJob jobs[NJ];
            memset(jobs, 0, sizeof jobs);
            for (int i = 0; i < NJ; i++) jobs[i] = (EsdJob){.name = "m", .w = w[i], .rows = rows[i], .cols = cols[i]};
            Err e;
            int rc = esd_many(jobs, NJ, solvers[si], &o, threads, &e), same = rc == 0;
            int blas_threads = openblas_get_num_threads();
            openblas_set_num_threads(1);
            for (int i = 0; same && i < NJ; i++) {
                int N = rows[i] < cols[i] ? rows[i] : cols[i];
                double *lam = malloc(sizeof(double) * N);
                same = jobs[i].N == N && esd_eigs(w[i], rows[i], cols[i], solvers[si], "m", lam, &e) == 0 &&
                       !memcmp(lam, jobs[i].lam, sizeof(double) * N);
                free(lam);
            }
            openblas_set_num_threads(blas_threads);
            char name[48];
            snprintf(name, sizeof name, "many_equals_single_solver%d_threads%d", (int)solvers[si], threads);
            CHECK(same, name, "rc %d", rc);
            for (int i = 0; i < NJ; i++) esd_job_clear(&jobs[i]);
        }
    for (int i = 0; i < NJ; i++) free(w[i]);
}

static void test_mp_edges(void) {
    /* W (N x M), variance 1/N: eigenvalues fill [(1 - 1/sqrt(Q))^2, (1 + 1/sqrt(Q))^2], Q = N/M. */
    int shapes[2][2] = {{2048, 512}, {1376, 512}};
    for (int s = 0; s < 2; s++) {
        int n = shapes[s][0], m = shapes[s][1];
        float *w = gaussian(n, m, 1.0 / sqrt(n), 21 + s);
        double *lam = malloc(sizeof(double) * m);
        Err e;
        esd_eigs(w, n, m, ESD_GRAM, "mp", lam, &e);
        double q = (double)n / m, lo = pow(1 - 1 / sqrt(q), 2), hi = pow(1 + 1 / sqrt(q), 2);
        char name[48];
        snprintf(name, sizeof name, "mp_upper_edge_%dx%d", n, m);
        CHECK(fabs(lam[m - 1] - hi) <= 0.03 * hi, name, "lam_max %g vs edge %g", lam[m - 1], hi);
        snprintf(name, sizeof name, "mp_lower_edge_%dx%d", n, m);
        CHECK(fabs(lam[0] - lo) <= 0.03, name, "lam_min %g vs edge %g", lam[0], lo);
        free(w);
        free(lam);
    }
}

static void test_gaussian_alpha(void) {
    /* Median-Hill alpha depends on the aspect ratio only (docs/method.md, "Reference values the tests use"). */
    static const double q[4] = {1, 2, 2.6875, 4}, want[4] = {2.12, 2.71, 2.99, 3.47};
    PlFitOpts o;
    plfit_defaults(&o);
    for (int t = 0; t < 4; t++) {
        int m = 512, n = (int)(q[t] * m);
        float *w = gaussian(n, m, 0.02, 31 + t);
        double *lam = malloc(sizeof(double) * m);
        Err e;
        esd_eigs(w, n, m, ESD_GRAM, "g", lam, &e);
        PlFitResult r;
        plfit(lam, m, &o, &r);
        char name[48];
        snprintf(name, sizeof name, "gaussian_alpha_Q%.2f", q[t]);
        CHECK(fabs(r.alpha - want[t]) <= 0.06, name, "alpha %g vs %g", r.alpha, want[t]);
        free(w);
        free(lam);
    }
}

static void test_metrics(void) {
    double lam[3] = {0, 1, 3}; /* the zero eigenvalue: singular value 0 < 6e-5, not in the rank */
    EsdJob j;
    memset(&j, 0, sizeof j);
    esd_metrics(lam, 3, 2.5, &j);
    CHECK_CLOSE(j.fnorm, 4.0, 1e-15, 0, "metric_fnorm");
    CHECK_CLOSE(j.spectral_norm, 3.0, 1e-15, 0, "metric_spectral_norm");
    CHECK_CLOSE(j.stable_rank, 4.0 / 3.0, 1e-15, 0, "metric_stable_rank");
    CHECK_CLOSE(j.alpha_weighted, 2.5 * log10(3.0), 1e-15, 0, "metric_alpha_weighted");
    CHECK_CLOSE(j.alphahat, log(1 + exp(2.5 * log10(3.0))), 1e-14, 0, "metric_alphahat");
    double eps = 6e-5, p0 = eps, p1 = 0.25 + eps, p2 = 0.75 + eps;
    double h = -(p0 * log(p0) + p1 * log(p1) + p2 * log(p2)) / log(2 + eps);
    CHECK_CLOSE(j.entropy, h, 1e-14, 0, "metric_entropy");
    esd_metrics(lam, 3, -1, &j);
    CHECK(j.alpha_weighted == -1 && j.alphahat == -1, "metric_failed_fit", "%g %g", j.alpha_weighted, j.alphahat);
    double z[2] = {0, 0};
    esd_metrics(z, 2, -1, &j);
    CHECK(j.entropy == 0 && j.stable_rank == 0 && !isnan(j.entropy), "metric_zero_matrix", "entropy %g", j.entropy);
    float g[2] = {3, 4};
    CHECK_CLOSE(esd_gradnorm(g, 2), 5.0, 1e-15, 0, "gradnorm_value");
    CHECK_CLOSE(esd_gradnorm(NULL, 2), 10.0, 0, 0, "gradnorm_missing_is_10");
}

static void test_nan_and_parallel(void) {
    float *a = gaussian(80, 60, 0.02, 41), *b = gaussian(60, 90, 0.02, 42), *c = gaussian(70, 70, 0.02, 43);
    float *w[3] = {a, b, c};
    int rows[3] = {80, 60, 70}, cols[3] = {60, 90, 70};
    EsdJob s[3], p[3];
    PlFitOpts o;
    plfit_defaults(&o);
    Err e;
    memset(s, 0, sizeof s);
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++) {
        s[i] = (EsdJob){.name = "m", .w = w[i], .rows = rows[i], .cols = cols[i]};
        p[i] = s[i];
    }
    int r1 = esd_many(s, 3, ESD_GRAM, &o, 1, &e), r2 = esd_many(p, 3, ESD_GRAM, &o, 2, &e);
    int same = r1 == 0 && r2 == 0;
    for (int i = 0; same && i < 3; i++)
        same = s[i].fit.alpha == p[i].fit.alpha && s[i].N == p[i].N &&
               !memcmp(s[i].lam, p[i].lam, sizeof(double) * s[i].N);
    CHECK(same, "parallel_equals_serial", "rc %d %d", r1, r2);
    for (int i = 0; i < 3; i++) {
        esd_job_clear(&s[i]);
        esd_job_clear(&p[i]);
    }

    b[17] = NAN;
    p[0] = (EsdJob){.name = "good", .w = a, .rows = 80, .cols = 60};
    p[1] = (EsdJob){.name = "model.layers.1.mlp.up_proj", .w = b, .rows = 60, .cols = 90};
    p[2] = (EsdJob){.name = "other", .w = c, .rows = 70, .cols = 70};
    int rc = esd_many(p, 3, ESD_GRAM, &o, 2, &e);
    CHECK(rc == -1 && strstr(e.msg, "model.layers.1.mlp.up_proj"), "nan_weight_names_tensor", "rc %d msg %s", rc,
          e.msg);
    b[17] = INFINITY;
    double lam[60];
    rc = esd_eigs(b, 60, 90, ESD_SVD, "inf_tensor", lam, &e);
    CHECK(rc == -1 && strstr(e.msg, "inf_tensor"), "inf_weight_rejected", "rc %d", rc);
    for (int i = 0; i < 3; i++) esd_job_clear(&p[i]);
    free(a);
    free(b);
    free(c);
}

static void test_spectra_file(void) {
    char path[] = "/tmp/test_esd_spectraXXXXXX";
    int fd = mkstemp(path);
    close(fd);
    double l1[3] = {0.5, 1, 2}, l2[2] = {3, 4};
    SpectrumRec in[2] = {{"model.layers.0.mlp.up_proj", 0, MT_UP, 172, 64, 2.5, 1.0, 3, l1},
                         {"lm_head", -1, MT_LM_HEAD, 300, 64, -1, -1, 2, l2}};
    Err e;
    int rc = esd_write_spectra(path, 42, in, 2, &e);
    long step = 0;
    SpectrumRec *out = NULL;
    int n = 0;
    rc |= esd_read_spectra(path, &step, &out, &n, &e);
    int same = rc == 0 && n == 2 && step == 42;
    for (int i = 0; same && i < 2; i++)
        same = !strcmp(in[i].name, out[i].name) && in[i].layer == out[i].layer && in[i].type == out[i].type &&
               in[i].rows == out[i].rows && in[i].cols == out[i].cols && in[i].alpha == out[i].alpha &&
               in[i].N == out[i].N && !memcmp(in[i].lam, out[i].lam, sizeof(double) * in[i].N);
    CHECK(same, "spectra_round_trip", "rc %d n %d step %ld", rc, n, step);
    esd_free_spectra(out, n);
    /* Truncate the file in the middle of the last record: an error, not a crash. */
    FILE *f = fopen(path, "r+");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    if (truncate(path, len - 5)) perror("truncate");
    rc = esd_read_spectra(path, &step, &out, &n, &e);
    CHECK(rc == -1 && strstr(e.msg, "truncated"), "spectra_truncated_rejected", "rc %d msg %s", rc, e.msg);
    f = fopen(path, "w");
    fputs("NOTSPECT", f);
    fclose(f);
    rc = esd_read_spectra(path, &step, &out, &n, &e);
    CHECK(rc == -1, "spectra_bad_magic_rejected", "rc %d", rc);
    unlink(path);
}

int main(void) {
    test_structured_vs_svd();
    test_hand();
    test_solvers_agree();
    test_solvers_agree_model_shapes();
    test_many_matches_single();
    test_extreme_scales();
    test_mp_edges();
    test_gaussian_alpha();
    test_metrics();
    test_nan_and_parallel();
    test_spectra_file();
    return check_summary();
}
