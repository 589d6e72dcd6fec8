/* test_tridiag.c - the tridiagonal reduction of the ESD solver: the symmetric matrix-vector kernel
 * (both walking orders, every block remainder, padded leading dimension) against a plain double loop
 * over the full matrix, and trd_reduce_lower against LAPACK dsytrd (same diagonal, same off-diagonal
 * up to sign) and against dsyev's eigenvalues. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "tridiag.h"

/* random symmetric n x n with leading dimension lda, both triangles filled; the upper triangle is then
 * poisoned with NaN so that a kernel reading it fails the test */
static double *random_sym(int n, int lda, uint64_t seed, double **full) {
    Rng r;
    rng_seed(&r, seed);
    double *A = malloc(sizeof(double) * (size_t)lda * n), *F = malloc(sizeof(double) * (size_t)n * n);
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) {
            double v = rng_normal(&r);
            F[i + (size_t)j * n] = F[j + (size_t)i * n] = v;
        }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < lda; i++) A[i + (size_t)j * lda] = i >= j && i < n ? F[i + (size_t)j * n] : NAN;
    *full = F;
    return A;
}

static void test_symv(void) {
    int sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 63, 64, 65, 100, 201};
    double worst = 0;
    int finite = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int pad = 0; pad <= 5; pad += 5)
            for (int rev = 0; rev < 2; rev++) {
                int m = sizes[s], lda = m + pad;
                double *F, *A = random_sym(m, lda, 100 + s, &F), *x = malloc(sizeof(double) * m),
                           *y = malloc(sizeof(double) * m);
                for (int i = 0; i < m; i++) x[i] = sin(1.0 + i);
                trd_symv_lower(m, A, lda, x, y, rev);
                for (int i = 0; i < m; i++) {
                    double ref = 0, mag = 0;
                    for (int j = 0; j < m; j++) {
                        ref += F[i + (size_t)j * m] * x[j];
                        mag += fabs(F[i + (size_t)j * m] * x[j]);
                    }
                    finite &= isfinite(y[i]);
                    double err = fabs(y[i] - ref) / (mag > 0 ? mag : 1);
                    if (err > worst) worst = err;
                }
                free(A);
                free(F);
                free(x);
                free(y);
            }
    CHECK(finite && worst <= 1e-14, "symv_lower_vs_full_loop", "finite %d, worst error %g of sum |a x|", finite,
          worst);
}

static void test_reduce(void) {
    int sizes[] = {1, 2, 40, 64, 65, 81, 100, 160, 257};
    double worst_de = 0, worst_eig = 0;
    int ok = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int n = sizes[s];
        double *F, *A = random_sym(n, n, 7 + s, &F);
        for (int j = 0; j < n; j++) /* trd_reduce_lower needs lda == n; NaN only above the diagonal */
            for (int i = 0; i < j; i++) A[i + (size_t)j * n] = NAN;
        double *B = malloc(sizeof(double) * n * n), *d = malloc(sizeof(double) * n), *e = malloc(sizeof(double) * n),
               *tau = malloc(sizeof(double) * n), *work = malloc(sizeof(double) * n * TRD_NB),
               *d2 = malloc(sizeof(double) * n), *e2 = malloc(sizeof(double) * n), *ev = malloc(sizeof(double) * n);
        memcpy(B, F, sizeof(double) * n * n);
        ok &= trd_reduce_lower(n, A, d, e, tau, work) == 0;
        ok &= LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, B, n, d2, e2, tau) == 0;
        double scale = 0;
        for (int i = 0; i < n; i++) scale = fmax(scale, fabs(d2[i]) + (i < n - 1 ? fabs(e2[i]) : 0));
        for (int i = 0; i < n; i++) {
            worst_de = fmax(worst_de, fabs(d[i] - d2[i]) / scale);
            if (i < n - 1) worst_de = fmax(worst_de, fabs(fabs(e[i]) - fabs(e2[i])) / scale);
        }
        memcpy(B, F, sizeof(double) * n * n);
        ok &= LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'L', n, B, n, ev) == 0;
        ok &= LAPACKE_dsterf(n, d, e) == 0;
        for (int i = 0; i < n; i++) worst_eig = fmax(worst_eig, fabs(d[i] - ev[i]) / scale);
        free(A); free(F); free(B); free(d); free(e); free(tau); free(work); free(d2); free(e2); free(ev);
    }
    CHECK(ok && worst_de <= 1e-12, "reduce_lower_vs_dsytrd", "ok %d, worst |d|,|e| difference %g of the norm", ok,
          worst_de);
    CHECK(ok && worst_eig <= 1e-13, "reduce_lower_eigenvalues_vs_dsyev", "ok %d, worst difference %g of the norm",
          ok, worst_eig);
}

int main(void) {
    test_symv();
    test_reduce();
    return check_summary();
}
