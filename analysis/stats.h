/* stats.h - the statistics of the tables, on GSL. Every formula is written out in docs/analysis.md.
 *   mean, sample standard deviation (n - 1 in the denominator; NaN when n < 2),
 *   paired two-sided t-test: d_i = a_i - b_i, t = mean(d) / (sd(d) / sqrt(n)), df = n - 1,
 *   p = 2 * P(T_df > |t|) from GSL's t distribution;
 *   the paired mean difference with its t confidence interval;
 *   Holm-Bonferroni adjusted p-values of a family of tests;
 *   the exact Wilcoxon signed-rank test of paired samples (ties by mid-ranks, zeros dropped);
 *   the exact sign test of paired samples (zeros dropped, binomial with p = 1/2);
 *   the minimum detectable effect of a two-sided paired t-test (noncentral t power). */
#ifndef STATS_H
#define STATS_H

void stats_mean_sd(const double *x, int n, double *mean, double *sd);
double stats_min(const double *x, int n);
double stats_max(const double *x, int n);
/* 0 with *t, *p set; -1 when the test is undefined (n < 2 or all differences equal). */
int stats_paired_t(const double *a, const double *b, int n, double *t, double *p);

/* Mean of d_i = a_i - b_i and its two-sided confidence interval at `level` (e.g. 0.95):
 * mean(d) -/+ t_{(1+level)/2, n-1} * sd(d) / sqrt(n). -1 when n < 2. A zero sd gives lo = hi = mean. */
int stats_paired_ci(const double *a, const double *b, int n, double level, double *mean, double *lo, double *hi);
/* Half-width of the two-sided `level` t interval of a mean of n values with sample std sd:
 * t_{(1+level)/2, n-1} * sd / sqrt(n). 0 when n < 2. */
double stats_mean_ci_half(double sd, int n, double level);

/* Holm's step-down adjustment of m p-values: with p sorted ascending p_(1) <= ... <= p_(m),
 * adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)); written back in the input order. NaN entries
 * (tests that could not be run) stay NaN and do not count in m. */
void stats_holm(const double *p, int m, double *adj);

/* Exact two-sided Wilcoxon signed-rank test of d_i = a_i - b_i. Zero differences are dropped; tied
 * |d| share their mid-rank; the null distribution of W+ (sum of the ranks of positive differences)
 * is enumerated exactly over the 2^n' sign patterns of the n' remaining differences (by dynamic
 * programming on doubled ranks, so ties stay exact). p = min(1, 2 min(P(W+ >= w), P(W+ <= w))).
 * Returns 0 with *w (W+) and *p, -1 when no nonzero difference is left or n' > 1000. */
int stats_wilcoxon_exact(const double *a, const double *b, int n, double *w, double *p);

/* Exact two-sided sign test of d_i = a_i - b_i: zero differences are dropped (n' remain), k of them are
 * positive; under the null each sign is + or - with probability 1/2, so k ~ Binomial(n', 1/2) and
 * p = min(1, 2 min(P(K <= k), P(K >= k))). It uses only the signs, so it assumes neither normality (as
 * the t-test does) nor symmetry (as Wilcoxon does). Returns 0 with *k and *p, -1 when no nonzero
 * difference is left or n' > 1000. */
int stats_sign_exact(const double *a, const double *b, int n, int *k, double *p);

/* Power of the two-sided level-alpha one-sample (paired) t-test with n pairs when the true mean
 * difference is `effect` standard deviations of d: P(|T'| > t_{1-alpha/2, n-1}) with T' noncentral
 * t (df n - 1, noncentrality effect * sqrt(n)), integrated numerically over the chi-square law of
 * the sample variance. NaN when n < 2. */
double stats_paired_power(int n, double effect, double alpha);
/* The smallest effect (in units of sd(d)) that the test above detects with probability `power`:
 * solves stats_paired_power(n, e, alpha) = power for e. NaN when n < 2. Multiply by sd(d) for the
 * minimum detectable difference in the metric's units. */
double stats_paired_mde(int n, double alpha, double power);

#endif
