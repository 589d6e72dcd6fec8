/* plfit.h - power-law fits of an eigenvalue spectrum (docs/method.md, "Power-law fits").
 *
 * Input: eigenvalues lam[0..N-1] sorted ascending (the ESD of one module). Output: the tail exponent
 * alpha of p(lam) ~ lam^-alpha, the KS distance D of the fitted tail, xmin, the tail size n_tail and
 * sigma = (alpha - 1) / sqrt(n_tail).
 *
 *   median           i = floor(N / xmin_pos), xmin = lam[i], n = N - i,
 *                    alpha = 1 + n / (sum_{j>=i} ln lam[j] - n ln lam[i])   (the authors' code)
 *     paper_form=1   k = floor(N / xmin_pos) largest values, xmin = lam[N-k-1], numerator k
 *                    (the paper's typeset Hill form: threshold just below the tail)
 *   goodness-of-fit  every candidate i = 0..N-2 as above; D_i = 1 when alpha_i <= 1; min-D wins (the
 *                    first one on ties, like argmin). A candidate's KS scan stops as soon as its running
 *                    maximum exceeds the best D so far, which cannot change the winner: the result equals
 *                    the naive O(N^2) scan (plfit_naive_scan, kept for tests).
 *   fix-finger       histogram of log10(lam) into `bins` equal bins over [min, max]; xmin2 = 10^(left edge
 *                    of the fullest bin); candidates with lam[i] < log10(0.95 xmin2) are skipped (quirk of
 *                    the code: log10 value vs linear eigenvalue; fix_finger_corrected=1 compares with
 *                    0.95 xmin2), the scan stops at lam[i] > 1.5 xmin2; min-D among the scanned.
 *
 * KS distance (the code's convention, one-sided step j/n): D = max_{j<n} |1 - (x_j/xmin)^(1-alpha) - j/n|.
 * filter_zeros=1 drops lam <= zero_thresh first (all of them kept if none is above).
 * Non-positive eigenvalues can never be xmin (log undefined): such candidates count as D = 1.
 * A fit fails (status PL_FAILED, alpha = D = xmin = sigma = -1, n_tail = 0) when N < 2, when no
 * candidate gives a finite alpha > 1, or on bad options; plfit never aborts and never returns NaN. */
#ifndef PLFIT_H
#define PLFIT_H

typedef enum { FIT_MEDIAN, FIT_GOODNESS, FIT_FIX_FINGER } PlFit;
typedef enum { PL_OK = 0, PL_FAILED = 1 } PlStatus;

typedef struct {
    PlFit method;             /* FIT_MEDIAN (default), FIT_GOODNESS, FIT_FIX_FINGER */
    double xmin_pos;          /* 2; must be > 1 */
    int paper_form;           /* median only: 0 = code form, 1 = paper's k = N/xmin_pos form */
    int fix_finger_corrected; /* 0 = code's log10 quirk, 1 = corrected 0.95*xmin2 lower bound */
    int filter_zeros;         /* 0 */
    double zero_thresh;       /* 1e-5 */
    int bins;                 /* fix-finger histogram bins, 100 */
} PlFitOpts;

typedef struct {
    double alpha, D, xmin, sigma;
    int n_tail;
    PlStatus status;
} PlFitResult;

void plfit_defaults(PlFitOpts *o);
/* Fit lam (ascending, N values). Returns 0 when the fit is ok, -1 when it failed (r filled either way). */
int plfit(const double *lam, int N, const PlFitOpts *o, PlFitResult *r);

/* Hill estimate for the tail x[0..n-1] (ascending) with threshold xmin and numerator k:
 * 1 + k / (sum ln x - n ln xmin). NaN-free: returns -1 when not finite or <= 1, or when the tail
 * never rises above xmin (a flat tail: zero denominator, caught exactly rather than by round-off). */
double plfit_hill(const double *x, int n, double xmin, double k);
/* KS distance of the tail x[0..n-1] against the power law (xmin, alpha), code's convention. */
double plfit_ks(const double *x, int n, double xmin, double alpha);
/* The straightforward O(N^2) goodness-of-fit / fix-finger scan, no early exit (reference for tests). */
int plfit_naive_scan(const double *lam, int N, const PlFitOpts *o, PlFitResult *r);

#endif
