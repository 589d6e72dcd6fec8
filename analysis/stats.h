/* stats.h - the statistics of the tables, on GSL.
 *   mean, sample standard deviation (n - 1 in the denominator; NaN when n < 2),
 *   paired two-sided t-test: d_i = a_i - b_i, t = mean(d) / (sd(d) / sqrt(n)), df = n - 1,
 *   p = 2 * P(T_df > |t|) from GSL's t distribution. */
#ifndef STATS_H
#define STATS_H

void stats_mean_sd(const double *x, int n, double *mean, double *sd);
double stats_min(const double *x, int n);
double stats_max(const double *x, int n);
/* 0 with *t, *p set; -1 when the test is undefined (n < 2 or all differences equal). */
int stats_paired_t(const double *a, const double *b, int n, double *t, double *p);

#endif
