/* tridiag.h - the symmetric eigenvalue stages of the ESD solver: reduction to tridiagonal form, and the
 * tridiagonal's eigenvalues.
 *
 * trd_reduce_lower is LAPACK dsytrd('L')'s blocked algorithm with our own panel and symmetric
 * matrix-vector kernel (why and how fast: docs/performance.md); it agrees with dsytrd to rounding, not bit
 * for bit. Single-threaded, reentrant. */
#ifndef TRIDIAG_H
#define TRIDIAG_H

#include <stddef.h>

/* panel width (16, not LAPACK's 32: docs/performance.md, "Tridiagonal reduction") and the order
 * below which the unblocked dsytd2 finishes */
enum { TRD_NB = 16, TRD_NX = 32 };

/* Reduces the symmetric A (n x n, column-major, leading dimension n, lower triangle referenced and
 * overwritten) to tridiagonal form: d gets the n diagonal values, e the n - 1 off-diagonal ones, tau the
 * reflectors' scalars (n). work: trd_work_doubles(n) doubles. Returns 0, or dsytd2's nonzero info. */
size_t trd_work_doubles(int n);
int trd_reduce_lower(int n, double *A, double *d, double *e, double *tau, double *work);

/* Eigenvalues (ascending, into d[j]) of cnt <= TRD_GROUP symmetric tridiagonals (d[j], e[j]) of orders
 * n[j] (e[j] holds n[j] - 1 values; overwritten): LAPACK dsterf's algorithm, bit for bit, with the
 * matrices' sweeps interleaved. rc[j] is 0, or -1 if matrix j needs what is left to LAPACK (a block
 * outside dsterf's unscaled range, or no convergence; d[j], e[j] are then undefined). Returns 0 when
 * every rc is 0, else -1. */
enum { TRD_GROUP = 4 };
int trd_eigs(int cnt, const int *n, double *const *d, double *const *e, int *rc);

/* y = A x for the symmetric A (m x m, lower triangle, column-major, leading dimension lda); `reverse`
 * walks the columns right to left (a different, fixed summation order). Exposed for its test. */
void trd_symv_lower(int m, const double *A, int lda, const double *x, double *y, int reverse);

#endif
