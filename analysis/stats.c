/* stats.c - see stats.h; formulas in docs/analysis.md. */
#include "stats.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_roots.h>
#include <gsl/gsl_sort.h>
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

/* d = a - b into a fresh buffer; its mean and sd. */
static double *differences(const double *a, const double *b, int n, double *m, double *s) {
    double *d = xcalloc((size_t)n, sizeof *d);
    for (int i = 0; i < n; i++) d[i] = a[i] - b[i];
    *m = gsl_stats_mean(d, 1, (size_t)n);
    *s = gsl_stats_sd_m(d, 1, (size_t)n, *m);
    return d;
}

int stats_paired_t(const double *a, const double *b, int n, double *t, double *p) {
    if (n < 2) return -1;
    double m, s;
    free(differences(a, b, n, &m, &s));
    if (!(s > 0)) return -1; /* identical differences: t is infinite or undefined */
    *t = m / (s / sqrt((double)n));
    *p = 2.0 * gsl_cdf_tdist_Q(fabs(*t), (double)(n - 1));
    return 0;
}

int stats_paired_ci(const double *a, const double *b, int n, double level, double *mean, double *lo, double *hi) {
    if (n < 2 || !(level > 0 && level < 1)) return -1;
    double m, s;
    free(differences(a, b, n, &m, &s));
    double half = stats_mean_ci_half(s, n, level);
    *mean = m;
    *lo = m - half;
    *hi = m + half;
    return 0;
}

double stats_mean_ci_half(double sd, int n, double level) {
    if (n < 2) return 0;
    return gsl_cdf_tdist_Pinv(0.5 + level / 2, (double)(n - 1)) * sd / sqrt((double)n);
}

void stats_holm(const double *p, int m, double *adj) {
    double *valid = xcalloc((size_t)m + 1, sizeof *valid), *vadj = xcalloc((size_t)m + 1, sizeof *vadj);
    size_t *order = xcalloc((size_t)m + 1, sizeof *order);
    int k = 0;
    for (int i = 0; i < m; i++)
        if (!isnan(p[i])) valid[k++] = p[i];
    gsl_sort_index(order, valid, 1, (size_t)k);
    double run = 0; /* the running maximum keeps the adjusted values in the order of the raw ones */
    for (int j = 0; j < k; j++) {
        run = fmax(run, fmin(1.0, (double)(k - j) * valid[order[j]]));
        vadj[order[j]] = run;
    }
    for (int i = 0, j = 0; i < m; i++) adj[i] = isnan(p[i]) ? NAN : vadj[j++];
    free(valid);
    free(vadj);
    free(order);
}

/* Number of sign patterns with W+ = s for each doubled rank sum s (ranks r_i doubled so mid-ranks of
 * ties are integers): the counts of the subset sums of r2[0..n-1], in doubles (2^1000 fits). */
static double *signed_rank_counts(const int *r2, int n, int total) {
    double *c = xcalloc((size_t)total + 1, sizeof *c);
    c[0] = 1;
    for (int i = 0, reach = 0; i < n; i++) {
        reach += r2[i];
        for (int s = reach; s >= r2[i]; s--) c[s] += c[s - r2[i]];
    }
    return c;
}

/* Doubled mid-ranks of |d| (d without zeros), in d's order. */
static void doubled_ranks(const double *d, int n, int *r2) {
    double *ad = xcalloc((size_t)n, sizeof *ad);
    size_t *ord = xcalloc((size_t)n, sizeof *ord);
    for (int i = 0; i < n; i++) ad[i] = fabs(d[i]);
    gsl_sort_index(ord, ad, 1, (size_t)n);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && ad[ord[j + 1]] == ad[ord[i]]) j++;
        for (int k = i; k <= j; k++) r2[ord[k]] = i + j + 2; /* 2 x mean of ranks i+1 .. j+1 */
        i = j + 1;
    }
    free(ad);
    free(ord);
}

int stats_wilcoxon_exact(const double *a, const double *b, int n, double *w, double *p) {
    double *d = xcalloc((size_t)n + 1, sizeof *d);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) d[m++] = a[i] - b[i];
    if (m == 0 || m > 1000) {
        free(d);
        return -1;
    }
    int *r2 = xcalloc((size_t)m, sizeof *r2), total = 0, obs = 0;
    doubled_ranks(d, m, r2);
    for (int i = 0; i < m; i++) {
        total += r2[i];
        if (d[i] > 0) obs += r2[i];
    }
    double *c = signed_rank_counts(r2, m, total), all = ldexp(1.0, m), le = 0, ge = 0;
    for (int s = 0; s <= total; s++) {
        if (s <= obs) le += c[s];
        if (s >= obs) ge += c[s];
    }
    *w = obs / 2.0;
    *p = fmin(1.0, 2.0 * fmin(le, ge) / all);
    free(c);
    free(r2);
    free(d);
    return 0;
}

int stats_sign_exact(const double *a, const double *b, int n, int *k, double *p) {
    int m = 0, pos = 0;
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) m++, pos += a[i] > b[i];
    if (m == 0 || m > 1000) return -1;
    /* P(K <= pos) and P(K >= pos) from the binomial coefficients C(m, j), built up in doubles (C(1000,
     * 500) ~ 2.7e299 fits), each divided by 2^m at the end */
    double c = 1, le = 0, ge = 0;
    for (int j = 0; j <= m; j++) {
        if (j <= pos) le += c;
        if (j >= pos) ge += c;
        c = c * (m - j) / (j + 1);
    }
    *k = pos;
    *p = fmin(1.0, 2.0 * fmin(le, ge) / ldexp(1.0, m));
    return 0;
}

/* ---- power of the paired t-test ---- */
typedef struct {
    double df, crit, ncp;
} PowerArgs;

/* Given the sample variance's chi-square value v (df degrees), the probability that |Z + ncp| exceeds
 * crit * sqrt(v / df), weighted by v's density. */
static double power_integrand(double v, void *params) {
    const PowerArgs *a = params;
    double c = a->crit * sqrt(v / a->df);
    double tail = gsl_cdf_ugaussian_Q(c - a->ncp) + gsl_cdf_ugaussian_P(-c - a->ncp);
    return tail * gsl_ran_chisq_pdf(v, a->df);
}

double stats_paired_power(int n, double effect, double alpha) {
    if (n < 2 || !(alpha > 0 && alpha < 1)) return NAN;
    PowerArgs a = {(double)(n - 1), gsl_cdf_tdist_Qinv(alpha / 2, (double)(n - 1)), effect * sqrt((double)n)};
    gsl_function f = {power_integrand, &a};
    /* the chi-square mass lies within mean +- 40 sd (df +- 40 sqrt(2 df)); qags copes with the
     * integrable singularity at 0 when df = 1 */
    double lo = fmax(0.0, a.df - 40 * sqrt(2 * a.df)), hi = a.df + 40 * sqrt(2 * a.df) + 40;
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(200);
    double res = NAN, abserr;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    if (gsl_integration_qags(&f, lo, hi, 1e-13, 1e-10, 200, ws, &res, &abserr)) res = NAN;
    gsl_set_error_handler(old);
    gsl_integration_workspace_free(ws);
    return res;
}

typedef struct {
    int n;
    double alpha, power;
} MdeArgs;

static double mde_gap(double e, void *params) {
    const MdeArgs *m = params;
    return stats_paired_power(m->n, e, m->alpha) - m->power;
}

double stats_paired_mde(int n, double alpha, double power) {
    if (n < 2 || !(power > alpha && power < 1)) return NAN;
    MdeArgs m = {n, alpha, power};
    gsl_function f = {mde_gap, &m};
    double lo = 0, hi = 1;
    while (mde_gap(hi, &m) < 0 && hi < 1e6) hi *= 2; /* power rises with the effect: bracket the root */
    if (!(mde_gap(hi, &m) > 0)) return NAN;
    gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    gsl_root_fsolver_set(s, &f, lo, hi);
    double root = NAN;
    for (int it = 0; it < 200; it++) {
        if (gsl_root_fsolver_iterate(s)) break;
        root = gsl_root_fsolver_root(s);
        lo = gsl_root_fsolver_x_lower(s);
        hi = gsl_root_fsolver_x_upper(s);
        if (gsl_root_test_interval(lo, hi, 1e-10, 1e-10) == GSL_SUCCESS) break;
    }
    gsl_set_error_handler(old);
    gsl_root_fsolver_free(s);
    return root;
}
