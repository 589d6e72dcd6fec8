/* test_plfit.c - power-law fits against hand-computed values (docs/method.md, "Reference values the tests use"), seeded Pareto
 * samples (GSL RNG), the fast goodness-of-fit scan against the naive one, and failure cases. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "esd.h"
#include "plfit.h"

static const double E = 2.718281828459045;

static void opts(PlFitOpts *o, PlFit m) {
    plfit_defaults(o);
    o->method = m;
}

static void test_hand_tail(void) {
    PlFitOpts o;
    PlFitResult r;
    opts(&o, FIT_MEDIAN);
    /* N = 5, i = floor(5/2) = 2: tail {1, e, e^2}, xmin 1 -> alpha = 1 + 3/3 = 2. */
    double lam[5] = {0.1, 0.5, 1.0, E, E * E};
    int rc = plfit(lam, 5, &o, &r);
    CHECK(rc == 0 && r.status == PL_OK, "median_hand_ok", "rc %d", rc);
    CHECK_CLOSE(r.alpha, 2.0, 1e-12, 0, "median_hand_alpha");
    CHECK_CLOSE(r.sigma, 0.577350, 1e-6, 0, "median_hand_sigma");
    CHECK_CLOSE(r.D, 0.298787, 1e-6, 0, "median_hand_D");
    CHECK_CLOSE(r.xmin, 1.0, 0, 0, "median_hand_xmin");
    CHECK(r.n_tail == 3, "median_hand_ntail", "n_tail %d", r.n_tail);

    /* Paper form on {0.5, 1, e, e^2}: k = 2 largest {e, e^2}, threshold lam[1] = 1:
     * alpha = 1 + 2/(1 + 2) = 5/3, D = max(1 - e^(-2/3), |1 - e^(-4/3) - 1/2|) = 1 - e^(-2/3). */
    double lam4[4] = {0.5, 1.0, E, E * E};
    o.paper_form = 1;
    plfit(lam4, 4, &o, &r);
    CHECK_CLOSE(r.alpha, 5.0 / 3.0, 1e-12, 0, "paper_form_alpha");
    CHECK_CLOSE(r.D, 1.0 - exp(-2.0 / 3.0), 1e-12, 0, "paper_form_D");
    CHECK(r.n_tail == 2 && r.xmin == 1.0, "paper_form_tail", "n %d xmin %g", r.n_tail, r.xmin);
    /* Code form on the same: i = 2, tail {e, e^2}, xmin e: alpha = 1 + 2/(3 - 2) = 3. */
    o.paper_form = 0;
    plfit(lam4, 4, &o, &r);
    CHECK_CLOSE(r.alpha, 3.0, 1e-12, 0, "code_form_alpha");

    /* Goodness-of-fit on {1, e, e^2}: candidate 0 gives alpha 2, D 0.298787; candidate 1 gives
     * alpha 3, D = |1 - e^-2 - 1/2| = 0.364665; min D -> candidate 0. */
    double lam3[3] = {1.0, E, E * E};
    opts(&o, FIT_GOODNESS);
    plfit(lam3, 3, &o, &r);
    CHECK_CLOSE(r.alpha, 2.0, 1e-12, 0, "gof_hand_alpha");
    CHECK_CLOSE(r.D, 0.298787, 1e-6, 0, "gof_hand_D");
    CHECK(r.n_tail == 3 && r.xmin == 1.0, "gof_hand_tail", "n %d xmin %g", r.n_tail, r.xmin);
}

static void test_filter_zeros(void) {
    PlFitOpts o;
    PlFitResult r;
    opts(&o, FIT_MEDIAN);
    double lam[6] = {0, 1e-7, 1e-6, 1.0, E, E * E};
    /* No filtering: N = 6, i = 3: tail {1, e, e^2}, alpha 2. */
    plfit(lam, 6, &o, &r);
    CHECK_CLOSE(r.alpha, 2.0, 1e-12, 0, "filter_off_alpha");
    /* Filtering lam <= 1e-5: {1, e, e^2}, i = 1: tail {e, e^2}, alpha 3. */
    o.filter_zeros = 1;
    plfit(lam, 6, &o, &r);
    CHECK_CLOSE(r.alpha, 3.0, 1e-12, 0, "filter_on_alpha");
    /* Nothing above the threshold: the code keeps all values; the median xmin lam[2] is 0 -> failed. */
    double z[4] = {0, 0, 0, 1e-6};
    int rc = plfit(z, 4, &o, &r);
    CHECK(rc == -1 && r.status == PL_FAILED && r.alpha == -1, "filter_all_zero_fails", "rc %d alpha %g", rc, r.alpha);
}

static void pareto_quantiles(double *x, int n, double alpha) {
    for (int k = 0; k < n; k++) x[k] = pow(1.0 - (k + 0.5) / n, -1.0 / (alpha - 1.0));
}

static void test_pareto_quantiles(void) {
    static const int ns[3] = {100, 1000, 10000};
    static const double full[3] = {2.512820, 2.501271, 2.500127};
    static const double Ds[3] = {0.00673, 0.00067, 0.000067};
    static const double med[3] = {2.525887, 2.502545, 2.500254};
    PlFitOpts o;
    opts(&o, FIT_MEDIAN);
    for (int t = 0; t < 3; t++) {
        int n = ns[t];
        double *x = malloc(sizeof(double) * n);
        pareto_quantiles(x, n, 2.5);
        char name[64];
        double a = plfit_hill(x, n, x[0], n);
        snprintf(name, sizeof name, "pareto_quantiles_full_alpha_n%d", n);
        CHECK_CLOSE(a, full[t], 2e-6, 0, name);
        snprintf(name, sizeof name, "pareto_quantiles_full_D_n%d", n);
        CHECK_CLOSE(plfit_ks(x, n, x[0], a), Ds[t], 0, 0.01, name);
        PlFitResult r;
        plfit(x, n, &o, &r);
        snprintf(name, sizeof name, "pareto_quantiles_median_n%d", n);
        CHECK_CLOSE(r.alpha, med[t], 2e-6, 0, name);
        free(x);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_pareto_random(void) {
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    static const double alphas[3] = {1.5, 2.0, 3.5};
    static const int ns[3] = {200, 2000, 20000};
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 3; t++) {
            gsl_rng_set(g, 1000 + 10 * s + t);
            int n = ns[t];
            double alpha = alphas[s], xmin = 0.3;
            double *x = malloc(sizeof(double) * n);
            /* gsl_ran_pareto(a, b): density a b^a / x^(a+1), so the pdf exponent is a + 1. */
            for (int k = 0; k < n; k++) x[k] = gsl_ran_pareto(g, alpha - 1.0, xmin);
            qsort(x, n, sizeof(double), cmp);
            double a = plfit_hill(x, n, xmin, n);
            char name[64];
            snprintf(name, sizeof name, "pareto_random_a%.1f_n%d", alpha, n);
            CHECK(fabs(a - alpha) <= 4 * (alpha - 1) / sqrt(n), name, "alpha %g vs %g (tol %g)", a, alpha,
                  4 * (alpha - 1) / sqrt(n));
            free(x);
        }
    gsl_rng_free(g);
}

/* Fast scan == naive scan on Gaussian-matrix spectra, Pareto samples and a mixture. */
static void test_fast_equals_naive(void) {
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 7);
    int shapes[4][2] = {{120, 120}, {300, 100}, {80, 200}, {257, 64}};
    int agree = 0, total = 0;
    double worst = 0;
    for (int c = 0; c < 6; c++) {
        int N;
        double *lam;
        if (c < 4) {
            int r = shapes[c][0], k = shapes[c][1];
            float *w = malloc(sizeof(float) * r * k);
            for (int i = 0; i < r * k; i++) w[i] = (float)gsl_ran_gaussian(g, 0.02);
            N = r < k ? r : k;
            lam = malloc(sizeof(double) * N);
            Err e;
            esd_eigs(w, r, k, ESD_GRAM, "t", lam, &e);
            free(w);
        } else {
            N = c == 4 ? 400 : 333;
            lam = malloc(sizeof(double) * N);
            for (int i = 0; i < N; i++) lam[i] = c == 4 ? gsl_ran_pareto(g, 1.2, 0.01) : gsl_ran_lognormal(g, 0, 1.5);
            qsort(lam, N, sizeof(double), cmp);
        }
        for (int m = 0; m < 3; m++) {
            PlFitOpts o;
            opts(&o, m == 0 ? FIT_GOODNESS : FIT_FIX_FINGER);
            o.fix_finger_corrected = m == 2;
            PlFitResult a, b;
            int ra = plfit(lam, N, &o, &a), rb = plfit_naive_scan(lam, N, &o, &b);
            total++;
            double d = fabs(a.alpha - b.alpha);
            if (d > worst) worst = d;
            if (ra == rb && d <= 1e-9 * fabs(b.alpha) && a.xmin == b.xmin && a.n_tail == b.n_tail &&
                fabs(a.D - b.D) <= 1e-12)
                agree++;
        }
        free(lam);
    }
    CHECK(agree == total, "gof_fast_equals_naive", "%d of %d agree, worst alpha diff %g", agree, total, worst);
    gsl_rng_free(g);
}

/* Fix-finger: a spectrum whose fullest log10 bin sits near 100. The quirk's lower bound is
 * log10(95) = 1.98 on the eigenvalue scale, so candidates from 2 upward are scanned; the corrected
 * bound scans only [95, 150]. */
static void test_fix_finger_window(void) {
    int N = 300;
    double lam[300];
    for (int i = 0; i < 100; i++) lam[i] = 1.0 + i * 0.5;              /* 1 .. 50.5, spread out */
    for (int i = 100; i < 250; i++) lam[i] = 100.0 + (i - 100) * 0.01; /* a pile at 100 .. 101.5 */
    for (int i = 250; i < 300; i++) lam[i] = 200.0 * pow(1.1, i - 250);
    PlFitOpts o;
    PlFitResult q, c;
    opts(&o, FIT_FIX_FINGER);
    plfit(lam, N, &o, &q);
    o.fix_finger_corrected = 1;
    plfit(lam, N, &o, &c);
    CHECK(c.status == PL_OK && c.xmin >= 95.0 && c.xmin <= 150.0, "fix_finger_corrected_window", "xmin %g", c.xmin);
    CHECK(q.status == PL_OK && q.xmin >= 2.0 && q.xmin <= 150.0, "fix_finger_quirk_window", "xmin %g", q.xmin);
    /* The quirk scans a superset of candidates, so its D can only be smaller or equal. */
    CHECK(q.D <= c.D, "fix_finger_quirk_superset", "quirk D %g corrected D %g", q.D, c.D);
}

static void test_failures(void) {
    PlFitOpts o;
    PlFitResult r;
    opts(&o, FIT_MEDIAN);
    double one[1] = {2.0};
    CHECK(plfit(one, 1, &o, &r) == -1 && r.alpha == -1 && r.status == PL_FAILED, "fail_N1", "alpha %g", r.alpha);
    double eq[6] = {3, 3, 3, 3, 3, 3};
    for (int m = 0; m < 3; m++) {
        opts(&o, (PlFit)m);
        int rc = plfit(eq, 6, &o, &r);
        char name[48];
        snprintf(name, sizeof name, "fail_all_equal_fit%d", m);
        CHECK(rc == -1 && r.alpha == -1 && !isnan(r.D), name, "rc %d alpha %g", rc, r.alpha);
    }
    opts(&o, FIT_MEDIAN);
    o.xmin_pos = 1.0;
    double lam[4] = {1, 2, 3, 4};
    CHECK(plfit(lam, 4, &o, &r) == -1, "fail_xmin_pos_1", "alpha %g", r.alpha);
    opts(&o, FIT_MEDIAN);
    double zeros[4] = {0, 0, 0, 0};
    CHECK(plfit(zeros, 4, &o, &r) == -1 && r.alpha == -1, "fail_all_zero", "alpha %g", r.alpha);
    opts(&o, FIT_GOODNESS);
    CHECK(plfit(zeros, 4, &o, &r) == -1 && r.alpha == -1, "fail_all_zero_gof", "alpha %g", r.alpha);
    /* xmin_pos = 4 on 8 values: i = 2, n = 6. */
    double l8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    opts(&o, FIT_MEDIAN);
    o.xmin_pos = 4;
    plfit(l8, 8, &o, &r);
    double s = 0;
    for (int j = 2; j < 8; j++) s += log(l8[j] / 3.0);
    CHECK_CLOSE(r.alpha, 1 + 6 / s, 1e-12, 0, "xmin_pos_4_alpha");
}

int main(void) {
    test_hand_tail();
    test_filter_zeros();
    test_pareto_quantiles();
    test_pareto_random();
    test_fast_equals_naive();
    test_fix_finger_window();
    test_failures();
    return check_summary();
}
