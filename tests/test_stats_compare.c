/* test_stats_compare.c - the comparison statistics of stats.h against textbook results and hand
 * counts: Student's sleep data (paired t, its 95% interval), the Hollander-Wolfe example of the
 * signed-rank test, exact tail counts with ties against a brute-force enumeration of sign patterns,
 * Holm's adjustment on a hand-worked family, the exact sign test against binomial tails counted by
 * hand, and the power / minimum detectable effect of the paired
 * t-test against its limits, against Monte Carlo and against the inverse relation. */
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>

#include "../analysis/stats.h"
#include "check.h"

/* Student (1908) / Cushny-Peebles: extra hours of sleep with two drugs, the same 10 patients. */
static const double SLEEP1[10] = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
static const double SLEEP2[10] = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};

static void test_paired_t_and_ci(void) {
    double t, p, m, lo, hi;
    CHECK(stats_paired_t(SLEEP1, SLEEP2, 10, &t, &p) == 0, "sleep: paired t defined", "rc");
    CHECK_CLOSE(t, -4.062128, 1e-6, 0, "sleep: t = -4.0621 (df 9)");
    CHECK_CLOSE(p, 0.002832890, 1e-8, 0, "sleep: two-sided p = 0.00283");
    CHECK(stats_paired_ci(SLEEP1, SLEEP2, 10, 0.95, &m, &lo, &hi) == 0, "sleep: interval defined", "rc");
    CHECK_CLOSE(m, -1.58, 1e-12, 0, "sleep: mean difference -1.58");
    CHECK_CLOSE(lo, -2.4598858, 1e-6, 0, "sleep: 95% interval lower -2.45989");
    CHECK_CLOSE(hi, -0.7001142, 1e-6, 0, "sleep: 95% interval upper -0.70011");
    /* the interval excludes 0 exactly when p < 0.05, and a 99% interval is wider */
    double lo99, hi99;
    stats_paired_ci(SLEEP1, SLEEP2, 10, 0.99, &m, &lo99, &hi99);
    CHECK(lo99 < lo && hi99 > hi, "99% interval contains the 95% one", "%g %g", lo99, hi99);
    CHECK(stats_paired_ci(SLEEP1, SLEEP2, 1, 0.95, &m, &lo, &hi) < 0, "interval undefined for n = 1", "rc");
}

/* Independent reference: every sign pattern enumerated, mid-ranks by counting. */
static double brute_wilcoxon(const double *d, int n, double *w) {
    double r[32];
    for (int i = 0; i < n; i++) {
        int less = 0, eq = 0;
        for (int j = 0; j < n; j++) {
            less += fabs(d[j]) < fabs(d[i]);
            eq += fabs(d[j]) == fabs(d[i]);
        }
        r[i] = less + (eq + 1) / 2.0;
    }
    double obs = 0;
    for (int i = 0; i < n; i++) obs += d[i] > 0 ? r[i] : 0;
    long le = 0, ge = 0;
    for (long s = 0; s < (1L << n); s++) {
        double ws = 0;
        for (int i = 0; i < n; i++) ws += (s >> i & 1) ? r[i] : 0;
        le += ws <= obs + 1e-9;
        ge += ws >= obs - 1e-9;
    }
    *w = obs;
    return fmin(1.0, 2.0 * (double)(le < ge ? le : ge) / (double)(1L << n));
}

static void test_wilcoxon(void) {
    /* Hollander & Wolfe (1973), p. 29: depression scores before/after; W+ = 40, one-sided P = 10/512. */
    const double x[9] = {1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30};
    const double y[9] = {0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29};
    double w, p;
    CHECK(stats_wilcoxon_exact(x, y, 9, &w, &p) == 0, "Hollander-Wolfe: test defined", "rc");
    CHECK_CLOSE(w, 40, 0, 0, "Hollander-Wolfe: W+ = 40");
    CHECK_CLOSE(p, 20.0 / 512, 1e-15, 0, "Hollander-Wolfe: two-sided exact p = 20/512");
    /* sleep: one zero difference dropped, the other nine all negative (two tied): W+ = 0 and only the
     * all-negative pattern reaches it, p = 2 / 2^9 */
    CHECK(stats_wilcoxon_exact(SLEEP1, SLEEP2, 10, &w, &p) == 0, "sleep: test defined", "rc");
    CHECK(w == 0 && fabs(p - 2.0 / 512) < 1e-15, "sleep: zero dropped, ties kept exact: p = 2/512", "W+ %g p %g", w, p);
    /* ties and mixed signs against brute force */
    const double z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const double d1[8] = {1, 1, -2, 3, 3, 3, -0.5, 2};
    const double d2[7] = {-1.5, 2.5, -1.5, 4, 0.25, -4, 6};
    double bw, bp = brute_wilcoxon(d1, 8, &bw);
    stats_wilcoxon_exact(d1, z, 8, &w, &p);
    CHECK(w == bw && fabs(p - bp) < 1e-15, "ties, mixed signs (n 8) = brute force", "W+ %g/%g p %g/%g", w, bw, p, bp);
    bp = brute_wilcoxon(d2, 7, &bw);
    stats_wilcoxon_exact(d2, z, 7, &w, &p);
    CHECK(w == bw && fabs(p - bp) < 1e-15, "ties, mixed signs (n 7) = brute force", "W+ %g/%g p %g/%g", w, bw, p, bp);
    /* symmetric: swapping a and b keeps p, W+ becomes the rank total minus W+ */
    double w2, p2;
    stats_wilcoxon_exact(y, x, 9, &w2, &p2);
    CHECK(w2 == 45 - 40 && p2 == p * 0 + 20.0 / 512, "swapped samples: W+ = 45 - 40, same p", "%g %g", w2, p2);
    CHECK(stats_wilcoxon_exact(x, x, 9, &w, &p) < 0, "all differences zero: undefined", "rc");
}

static void test_holm(void) {
    /* sorted 0.005, 0.01, 0.03, 0.04 -> 4x, 3x, 2x, 1x = 0.02, 0.03, 0.06, 0.04 -> running max 0.06 */
    const double p[5] = {0.01, 0.04, NAN, 0.03, 0.005};
    double adj[5];
    stats_holm(p, 5, adj);
    CHECK(fabs(adj[0] - 0.03) < 1e-15 && fabs(adj[1] - 0.06) < 1e-15 && isnan(adj[2]) && fabs(adj[3] - 0.06) < 1e-15 &&
              fabs(adj[4] - 0.02) < 1e-15,
          "Holm: hand-worked family (NaN skipped, m = 4)", "%g %g %g %g %g", adj[0], adj[1], adj[2], adj[3], adj[4]);
    const double big[2] = {0.6, 0.7};
    stats_holm(big, 2, adj);
    CHECK(adj[0] == 1 && adj[1] == 1, "Holm: capped at 1", "%g %g", adj[0], adj[1]);
}

/* The exact sign test by hand: C(n, k) / 2^n tails. */
static void test_sign(void) {
    const double z[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    const double d6[6] = {1, 2, 3, 4, 5, -6}; /* 5 of 6 positive: P(K >= 5) = (6 + 1) / 64 */
    int k;
    double p;
    CHECK(stats_sign_exact(d6, z, 6, &k, &p) == 0 && k == 5, "sign: 5 positive of 6", "k %d", k);
    CHECK_CLOSE(p, 14.0 / 64, 1e-15, 0, "sign: p = 2 x 7/64 = 0.21875");
    const double all6[6] = {-1, -2, -3, -4, -5, -6};
    stats_sign_exact(all6, z, 6, &k, &p);
    CHECK(k == 0, "sign: no positive", "k %d", k);
    CHECK_CLOSE(p, 2.0 / 64, 1e-15, 0, "sign: all 6 negative, p = 2/64 (the smallest with 6 pairs)");
    /* zeros dropped: {0, 0, +1, +2} is two positive of two, p = 2 x 1/4 */
    const double d0[4] = {0, 0, 1, 2};
    stats_sign_exact(d0, z, 4, &k, &p);
    CHECK(k == 2, "sign: zeros dropped", "k %d", k);
    CHECK_CLOSE(p, 0.5, 1e-15, 0, "sign: 2 of 2 positive, p = 1/2");
    /* balanced signs: both tails exceed 1/2, p capped at 1 */
    const double bal[4] = {1, -1, 2, -2};
    stats_sign_exact(bal, z, 4, &k, &p);
    CHECK_CLOSE(p, 1.0, 0, 0, "sign: 2 of 4 positive, p = 1");
    /* 8 pairs, 1 negative: P(K <= 1) = (1 + 8) / 256, p = 18/256; swapping a and b gives the same p */
    const double d8[8] = {-1, 2, 3, 4, 5, 6, 7, 8};
    double p2;
    stats_sign_exact(d8, z, 8, &k, &p);
    stats_sign_exact(z, d8, 8, &k, &p2);
    CHECK_CLOSE(p, 18.0 / 256, 1e-15, 0, "sign: 7 of 8 positive, p = 18/256");
    CHECK(p == p2 && k == 1, "sign: symmetric in a and b", "%g %g k %d", p, p2, k);
    CHECK(stats_sign_exact(z, z, 8, &k, &p) < 0, "sign: all differences zero, undefined", "rc");
}

static void test_power_and_mde(void) {
    CHECK_CLOSE(stats_paired_power(8, 0, 0.05), 0.05, 1e-7, 0, "power at no effect = alpha (n 8)");
    CHECK_CLOSE(stats_paired_power(3, 0, 0.10), 0.10, 1e-7, 0, "power at no effect = alpha (n 3)");
    /* large n: the t-test becomes the z-test, MDE -> (z_0.975 + z_0.8) / sqrt(n) = 2.80158 / sqrt(n) */
    CHECK_CLOSE(stats_paired_mde(4000, 0.05, 0.8) * sqrt(4000.0), 2.801585, 2e-3, 0, "MDE -> z-test limit");
    /* Monte Carlo: n = 5 pairs, true effect 1.2 sd; 40000 simulated paired t-tests (3 SE ~ 0.007) */
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(g, 12345);
    int n = 5, rej = 0, sims = 40000;
    double a[5], b[5] = {0, 0, 0, 0, 0}, t, p;
    for (int s = 0; s < sims; s++) {
        for (int i = 0; i < n; i++) a[i] = 1.2 + gsl_ran_gaussian(g, 1.0);
        rej += stats_paired_t(a, b, n, &t, &p) == 0 && p < 0.05;
    }
    gsl_rng_free(g);
    CHECK_CLOSE(stats_paired_power(n, 1.2, 0.05), (double)rej / sims, 0.008, 0, "power (n 5, 1.2 sd) = Monte Carlo");
    double e = stats_paired_mde(n, 0.05, 0.8);
    CHECK_CLOSE(stats_paired_power(n, e, 0.05), 0.8, 1e-7, 0, "power at the MDE = 0.8");
    CHECK(stats_paired_mde(10, 0.05, 0.8) < e, "more pairs, smaller MDE", "%g vs %g", stats_paired_mde(10, 0.05, 0.8),
          e);
    CHECK(isnan(stats_paired_mde(1, 0.05, 0.8)), "MDE undefined for one pair", "not NaN");
}

int main(void) {
    test_paired_t_and_ci();
    test_wilcoxon();
    test_holm();
    test_sign();
    test_power_and_mde();
    return check_summary();
}
