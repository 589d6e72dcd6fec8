/* plfit.c - power-law fits of a sorted spectrum; see plfit.h for the exact definitions. */
#include "plfit.h"

#include <math.h>
#include <stdlib.h>

void plfit_defaults(PlFitOpts *o) {
    o->method = FIT_MEDIAN;
    o->xmin_pos = 2.0;
    o->paper_form = 0;
    o->fix_finger_corrected = 0;
    o->filter_zeros = 0;
    o->zero_thresh = 1e-5;
    o->bins = 100;
}

static int fail(PlFitResult *r) {
    r->alpha = r->D = r->xmin = r->sigma = -1.0;
    r->n_tail = 0;
    r->status = PL_FAILED;
    return -1;
}

static int ok(PlFitResult *r, double alpha, double D, double xmin, int n) {
    r->alpha = alpha;
    r->D = D;
    r->xmin = xmin;
    r->n_tail = n;
    r->sigma = (alpha - 1.0) / sqrt((double)n);
    r->status = PL_OK;
    return 0;
}

double plfit_hill(const double *x, int n, double xmin, double k) {
    /* x ascending: a tail that never rises above xmin has a zero denominator (round-off would turn
     * it into a huge finite alpha, so it is caught exactly here). */
    if (n < 1 || !(xmin > 0) || !(x[n - 1] > xmin)) return -1.0;
    double s = 0;
    for (int j = 0; j < n; j++) s += log(x[j]);
    double a = 1.0 + k / (s - n * log(xmin));
    return (isfinite(a) && a > 1.0) ? a : -1.0;
}

double plfit_ks(const double *x, int n, double xmin, double alpha) {
    double D = 0;
    for (int j = 0; j < n; j++) {
        double v = fabs(1.0 - pow(x[j] / xmin, 1.0 - alpha) - (double)j / n);
        if (v > D) D = v;
    }
    return D;
}

/* Skip eigenvalues <= zero_thresh when asked (they are at the front: lam is ascending). */
static int filter_start(const double *lam, int N, const PlFitOpts *o) {
    if (!o->filter_zeros) return 0;
    int s = 0;
    while (s < N && lam[s] <= o->zero_thresh) s++;
    return s == N ? 0 : s; /* nothing above: keep everything, as the authors' code does */
}

static int fit_median(const double *lam, int N, const PlFitOpts *o, PlFitResult *r) {
    int k = (int)floor(N / o->xmin_pos);
    if (!o->paper_form) {
        int i = k;
        if (i >= N || !(lam[i] > 0)) return fail(r);
        int n = N - i;
        double a = plfit_hill(lam + i, n, lam[i], n);
        if (a < 0) return fail(r);
        return ok(r, a, plfit_ks(lam + i, n, lam[i], a), lam[i], n);
    }
    int t = N - k - 1; /* threshold just below the k largest values */
    if (k < 1 || t < 0 || !(lam[t] > 0)) return fail(r);
    double a = plfit_hill(lam + N - k, k, lam[t], k);
    if (a < 0) return fail(r);
    return ok(r, a, plfit_ks(lam + N - k, k, lam[t], a), lam[t], k);
}

/* Fix-finger candidate window [lo, hi] on the eigenvalue scale (lo carries the log10 quirk). */
static void fix_finger_window(const double *lam, int N, const PlFitOpts *o, double *lo, double *hi) {
    double mn = INFINITY, mx = -INFINITY;
    for (int j = 0; j < N; j++)
        if (lam[j] > 0) {
            double v = log10(lam[j]);
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
    if (!isfinite(mn)) {
        *lo = INFINITY;
        *hi = -INFINITY;
        return;
    } /* no positive eigenvalue */
    int bins = o->bins > 0 ? o->bins : 100;
    int *count = calloc((size_t)bins, sizeof *count);
    int best = 0;
    if (count && mx > mn) {
        for (int j = 0; j < N; j++) {
            if (!(lam[j] > 0)) continue;
            int b = (int)((log10(lam[j]) - mn) / (mx - mn) * bins);
            if (b >= bins) b = bins - 1; /* the maximum falls in the last bin, like torch.histc */
            if (b < 0) b = 0;
            count[b]++;
        }
        for (int b = 1; b < bins; b++)
            if (count[b] > count[best]) best = b;
    }
    free(count);
    double edge = mn + (mx - mn) * best / bins;
    double xmin2 = pow(10.0, edge);
    *lo = o->fix_finger_corrected ? 0.95 * xmin2 : log10(0.95 * xmin2);
    *hi = 1.5 * xmin2;
}

/* Goodness-of-fit / fix-finger scan. early=1 abandons a candidate once its KS maximum exceeds the best
 * D so far; since a candidate only wins with D strictly below the best, the winner is unchanged. */
static int fit_scan(const double *lam, int N, const PlFitOpts *o, PlFitResult *r, int early) {
    if (N < 2) return fail(r);
    double lo = -INFINITY, hi = INFINITY;
    if (o->method == FIT_FIX_FINGER) fix_finger_window(lam, N, o, &lo, &hi);
    double *L = malloc(sizeof(double) * (size_t)N), *S = malloc(sizeof(double) * (size_t)(N + 1));
    if (!L || !S) {
        free(L);
        free(S);
        return fail(r);
    }
    for (int j = 0; j < N; j++) L[j] = lam[j] > 0 ? log(lam[j]) : -INFINITY;
    S[N] = 0;
    for (int j = N - 1; j >= 0; j--) S[j] = S[j + 1] + L[j];
    double bestD = 1.0, bestA = -1.0;
    int besti = -1;
    for (int i = 0; i < N - 1; i++) {
        if (lam[i] < lo) continue;
        if (lam[i] > hi) break;
        if (!(lam[i] > 0)) continue;       /* D = 1: never below the best */
        if (!(lam[N - 1] > lam[i])) break; /* flat tail from here on: zero denominator, D = 1 */
        int n = N - i;
        double a;
        if (early) a = 1.0 + n / (S[i] - n * L[i]);
        else {
            double s = 0;
            for (int j = i; j < N; j++) s += log(lam[j]);
            a = 1.0 + n / (s - n * log(lam[i]));
        }
        if (!(isfinite(a) && a > 1.0)) continue;
        double D = 0;
        if (early) {
            for (int j = 0; j < n && D <= bestD; j++) {
                double v = fabs(1.0 - exp((1.0 - a) * (L[i + j] - L[i])) - (double)j / n);
                if (v > D) D = v;
            }
        } else {
            D = plfit_ks(lam + i, n, lam[i], a);
        }
        if (D < bestD) {
            bestD = D;
            bestA = a;
            besti = i;
        }
    }
    free(L);
    free(S);
    if (besti < 0) return fail(r);
    return ok(r, bestA, bestD, lam[besti], N - besti);
}

static int opts_bad(const PlFitOpts *o) {
    return !(o->xmin_pos > 1.0) ||
           (o->method != FIT_MEDIAN && o->method != FIT_GOODNESS && o->method != FIT_FIX_FINGER);
}

int plfit(const double *lam, int N, const PlFitOpts *o, PlFitResult *r) {
    if (!lam || N < 2 || opts_bad(o)) return fail(r);
    int s = filter_start(lam, N, o);
    lam += s;
    N -= s;
    if (N < 2) return fail(r);
    if (o->method == FIT_MEDIAN) return fit_median(lam, N, o, r);
    return fit_scan(lam, N, o, r, 1);
}

int plfit_naive_scan(const double *lam, int N, const PlFitOpts *o, PlFitResult *r) {
    if (!lam || N < 2 || opts_bad(o)) return fail(r);
    int s = filter_start(lam, N, o);
    return fit_scan(lam + s, N - s, o, r, 0);
}
