/* tridiag.h - reduction of a symmetric matrix to tridiagonal form (the first stage of the ESD solver).
 *
 * trd_reduce_lower is LAPACK dsytrd('L')'s blocked algorithm with our own panel and symmetric
 * matrix-vector kernel (see tridiag.c for why); it agrees with dsytrd to rounding, not bit for bit. */
#ifndef TRIDIAG_H
#define TRIDIAG_H

/* panel width (ILAENV's 32 measured ~7% slower here at n = 512 and 768: less BLAS-2 panel work) and the
 * order below which the unblocked dsytd2 finishes */
enum { TRD_NB = 16, TRD_NX = 64 };

/* Reduces the symmetric A (n x n, column-major, leading dimension n, lower triangle referenced and
 * overwritten) to tridiagonal form: d gets the n diagonal values, e the n - 1 off-diagonal ones, tau the
 * reflectors' scalars (n). work: n * TRD_NB doubles. Returns 0, or dsytd2's nonzero info. */
int trd_reduce_lower(int n, double *A, double *d, double *e, double *tau, double *work);

/* y = A x for the symmetric A (m x m, lower triangle, column-major, leading dimension lda); `reverse`
 * walks the columns right to left (a different, fixed summation order). Exposed for its test. */
void trd_symv_lower(int m, const double *A, int lda, const double *x, double *y, int reverse);

#endif
