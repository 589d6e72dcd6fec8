/* stats.c - see stats.h. */
#include "stats.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>

#include "common.h"

void stats_mean_sd(const double *x, int n, double *mean, double *sd) {
    *mean = n > 0 ? gsl_stats_mean(x, 1, (size_t)n) : NAN;
    *sd = n > 1 ? gsl_stats_sd(x, 1, (size_t)n) : NAN;
}

double stats_min(const double *x, int n) { return n > 0 ? gsl_stats_min(x, 1, (size_t)n) : NAN; }
double stats_max(const double *x, int n) { return n > 0 ? gsl_stats_max(x, 1, (size_t)n) : NAN; }

int stats_paired_t(const double *a, const double *b, int n, double *t, double *p) {
    if (n < 2) return -1;
    double *d = xcalloc((size_t)n, sizeof *d);
    for (int i = 0; i < n; i++) d[i] = a[i] - b[i];
    double m = gsl_stats_mean(d, 1, (size_t)n), s = gsl_stats_sd_m(d, 1, (size_t)n, m);
    free(d);
    if (!(s > 0)) return -1; /* identical differences: t is infinite or undefined */
    *t = m / (s / sqrt((double)n));
    *p = 2.0 * gsl_cdf_tdist_Q(fabs(*t), (double)(n - 1));
    return 0;
}
