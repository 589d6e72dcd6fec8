/* gram.h - the Gram matrix of a float32 weight matrix, in double, with our own kernel (and the
 * tridiagonal reduction's rank-2k update, on the same kernel).
 *
 * The first stage of the default ESD solver (its own kernel because it beats float->double + dsyrk:
 * docs/performance.md, "Gram kernel"). Products of two floats are exact in double, so only the
 * summation order differs from dsyrk's (results agree to ~1e-15 relative). Single-threaded,
 * reentrant. */
#ifndef GRAM_H
#define GRAM_H

#include <stddef.h>

/* Doubles of scratch gram_lower needs for a rows x cols matrix. */
size_t gram_pack_doubles(int rows, int cols);

/* G = W^T W (cols x cols) if cols <= rows, else W W^T (rows x rows), for the row-major float rows x cols
 * w; N = min(rows, cols), G column-major N x N with leading dimension N. The lower triangle is computed;
 * the upper one holds some entries of the product and others untouched (do not read it). pack:
 * gram_pack_doubles(rows, cols) doubles, any alignment. Returns 1 if w holds an Inf or NaN (G is then
 * meaningless), else 0. */
int gram_lower(const float *w, int rows, int cols, double *G, double *pack);

/* The symmetric rank-2k update C -= V W^T + W V^T on the lower triangle of the m x m C (column-major,
 * ldc; upper-triangle entries near the diagonal are updated too, the rest untouched), V and W m x k
 * (column-major, ldv, ldw): the trailing update of the tridiagonal reduction, with the Gram's kernel
 * (faster than OpenBLAS dsyr2k, docs/performance.md). pack: gram_syr2k_pack_doubles(m, k) doubles. */
size_t gram_syr2k_pack_doubles(int m, int k);
void gram_syr2k_lower(int m, int k, const double *V, int ldv, const double *W, int ldw, double *C, int ldc,
                      double *pack);

#endif
