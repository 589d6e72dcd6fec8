/* test_tridiag.c - the tridiagonal reduction of the ESD solver: the symmetric matrix-vector kernel
 * (both walking orders, every block remainder, padded leading dimension) against a plain double loop
 * over the full matrix, and trd_reduce_lower against LAPACK dsytrd (same diagonal, same off-diagonal
 * up to sign) and against dsyev's eigenvalues; the interleaved tridiagonal eigenvalues against LAPACK
 * dsterf.
 * Tolerances, for every summation order (LAPACK's blocked dsytrd and dsyev run OpenBLAS kernels that
 * block differently per CPU): the symv against the loop, m-long double dot products, 2 gamma_m of
 * sum |a x| (gamma_n = n u / (1 - n u), u = 2^-53; kernel and loop each gamma_m). Eigenvalues: both
 * routes are backward stable, exact eigenvalues of A + E with ||E||_2 <= p(n) u ||A||_2 (Householder
 * tridiagonalization and the QL/QR iteration; Golub & Van Loan 8.3, p(n) a modest polynomial); by Weyl
 * two routes differ by at most 2 p(n) u ||A||_2. We take p(n) = n^2, far above what is seen (about 1e-15
 * relative at n = 257) and far below what a wrong reflector or shift gives (order 1). ||A||_2 <= max row
 * sum of T, the scale used. The diagonal and off-diagonal of T against dsytrd's: no bound of this kind
 * exists in general (T's sensitivity to E grows as an off-diagonal shrinks); these random matrices have
 * none tiny, and T differs from dsytrd's by at most 0.48 of the eigenvalue bound on OpenBLAS's Prescott,
 * Sandybridge, Haswell and SkylakeX kernels, portable and AVX-512 builds: the check allows 10 times it,
 * still orders of magnitude below a wrong reflector. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "tridiag.h"

static double gamma_d(int n) { return n * 0x1p-53 / (1 - n * 0x1p-53); }

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
    CHECK(finite && worst <= 2 * gamma_d(201), "symv_lower_vs_full_loop", "finite %d, worst error %g of sum |a x|",
          finite, worst);
}

static void test_reduce(void) {
    int sizes[] = {1, 2, 40, 64, 65, 81, 100, 160, 257};
    double worst_de = 0, worst_eig = 0;
    int ok = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int n = sizes[s];
        double *F, *A = random_sym(n, n, 7 + s, &F); /* trd_reduce_lower needs lda == n */
        double *B = malloc(sizeof(double) * n * n), *d = malloc(sizeof(double) * n), *e = malloc(sizeof(double) * n),
               *tau = malloc(sizeof(double) * n), *work = malloc(sizeof(double) * trd_work_doubles(n)),
               *d2 = malloc(sizeof(double) * n), *e2 = malloc(sizeof(double) * n), *ev = malloc(sizeof(double) * n);
        memcpy(B, F, sizeof(double) * n * n);
        ok &= trd_reduce_lower(n, A, d, e, tau, work) == 0;
        ok &= LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, B, n, d2, e2, tau) == 0;
        double scale = 0, bound = 2.0 * n * n * 0x1p-53; /* 2 p(n) u, p(n) = n^2 (header) */
        for (int i = 0; i < n; i++) scale = fmax(scale, fabs(d2[i]) + (i < n - 1 ? fabs(e2[i]) : 0));
        scale *= bound; /* differences below are in units of the bound */
        for (int i = 0; i < n; i++) {
            worst_de = fmax(worst_de, fabs(d[i] - d2[i]) / scale);
            if (i < n - 1) worst_de = fmax(worst_de, fabs(fabs(e[i]) - fabs(e2[i])) / scale);
        }
        memcpy(B, F, sizeof(double) * n * n);
        ok &= LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'L', n, B, n, ev) == 0;
        ok &= LAPACKE_dsterf(n, d, e) == 0;
        for (int i = 0; i < n; i++) worst_eig = fmax(worst_eig, fabs(d[i] - ev[i]) / scale);
        free(A);
        free(F);
        free(B);
        free(d);
        free(e);
        free(tau);
        free(work);
        free(d2);
        free(e2);
        free(ev);
    }
    CHECK(ok && worst_de <= 10, "reduce_lower_vs_dsytrd", "ok %d, worst |d|,|e| difference %g of the bound", ok,
          worst_de);
    CHECK(ok && worst_eig <= 1, "reduce_lower_eigenvalues_vs_dsyev", "ok %d, worst difference %g of the bound", ok,
          worst_eig);
    printf("# tridiagonal reduction vs dsytrd / dsyev: worst difference %.2g / %.2g of the bound 2 n^2 u ||A||\n",
           worst_de, worst_eig);
}

/* The interleaved tridiagonal eigenvalue code against LAPACK dsterf: random, graded (both QL and QR
 * directions), split (zero off-diagonals), 2 x 2 blocks, constant (immediate deflation), indefinite,
 * tiny orders; each matrix alone, paired with every other, and in groups of three and four of
 * different orders. Bitwise equality is expected (same operations in the same order) and reported;
 * the check allows 1e-13 of max |lambda|. dsterf calls no BLAS kernel, so its order of operations is the
 * same on every CPU: this tolerance does not stand in for a summation-order bound. */
static void test_eigs_vs_dsterf(void) {
    enum { NT = 9, NMAX = 300 };
    int ns[NT] = {1, 2, 3, 300, 200, 150, 120, 64, 257};
    static double d[NT][NMAX], e[NT][NMAX], ref[NT][NMAX];
    Rng r;
    rng_seed(&r, 7);
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < ns[t]; i++) {
            double u = rng_normal(&r), v = rng_normal(&r);
            switch (t) {
                case 3:
                    d[t][i] = 5 + u;
                    e[t][i] = v;
                    break; /* random */
                case 4:
                    d[t][i] = pow(10.0, -6.0 * i / ns[t]);
                    e[t][i] = 0.3 * d[t][i] * v;
                    break; /* graded down */
                case 5:
                    d[t][i] = pow(10.0, 6.0 * i / ns[t] - 6);
                    e[t][i] = (i % 17 == 5 || i % 29 == 0) ? 0 : 1e-3 * v;
                    break;
                case 6:
                    d[t][i] = 2.0;
                    e[t][i] = (i % 3 == 2) ? 0 : 1e-20 * v;
                    break; /* constant, 2x2 blocks */
                case 7:
                    d[t][i] = u;
                    e[t][i] = (i % 2) ? 0 : v;
                    break; /* 2 x 2 blocks, indefinite */
                default:
                    d[t][i] = 1 + u;
                    e[t][i] = 0.5 * v;
                    break;
            }
        }
    int ref_ok = 1;
    for (int t = 0; t < NT; t++) {
        double dd[NMAX], ee[NMAX];
        memcpy(dd, d[t], sizeof dd);
        memcpy(ee, e[t], sizeof ee);
        ref_ok &= LAPACKE_dsterf(ns[t], dd, ee) == 0;
        memcpy(ref[t], dd, sizeof dd);
    }
    CHECK(ref_ok, "dsterf_reference", "LAPACK dsterf failed on a test matrix");
    /* groups: every single and pair, then triples and quadruples of distinct matrices */
    int groups[200][TRD_GROUP], sizes[200], ng = 0;
    for (int a = 0; a < NT; a++) {
        groups[ng][0] = a, sizes[ng++] = 1;
        for (int b = 0; b < NT; b++) groups[ng][0] = a, groups[ng][1] = b, sizes[ng++] = 2;
        groups[ng][0] = a, groups[ng][1] = (a + 1) % NT, groups[ng][2] = (a + 4) % NT, sizes[ng++] = 3;
        for (int q = 0; q < 4; q++) groups[ng][q] = (a + 2 * q) % NT;
        sizes[ng++] = 4;
    }
    double worst = 0;
    int all_ok = 1, bitwise = 1, counted = 0;
    for (int g = 0; g < ng; g++) {
        static double dg[TRD_GROUP][NMAX], eg[TRD_GROUP][NMAX];
        double *dp[TRD_GROUP], *ep[TRD_GROUP];
        int n[TRD_GROUP], rc[TRD_GROUP];
        for (int k = 0; k < sizes[g]; k++) {
            memcpy(dg[k], d[groups[g][k]], sizeof dg[k]);
            memcpy(eg[k], e[groups[g][k]], sizeof eg[k]);
            dp[k] = dg[k], ep[k] = eg[k], n[k] = ns[groups[g][k]];
        }
        all_ok &= trd_eigs(sizes[g], n, dp, ep, rc) == 0;
        for (int k = 0; k < sizes[g]; k++) {
            int t = groups[g][k];
            double mx = 0;
            for (int i = 0; i < ns[t]; i++) mx = fmax(mx, fabs(ref[t][i]));
            for (int i = 0; i < ns[t]; i++) {
                worst = fmax(worst, fabs(dg[k][i] - ref[t][i]) / mx);
                if (dg[k][i] != ref[t][i]) bitwise = 0;
            }
            counted++;
        }
    }
    CHECK(all_ok && worst <= 1e-13 && counted == 9 + 81 * 2 + 9 * 3 + 9 * 4, "eigs_interleaved_vs_dsterf",
          "ok %d max rel diff %g (bitwise %d) over %d matrices", all_ok, worst, bitwise, counted);
    printf("# interleaved tridiagonal eigenvalues vs LAPACK dsterf: max diff %g of max |lambda|, bitwise equal %s\n",
           worst, bitwise ? "yes" : "no");
    int n0 = 5, rcx[1];
    double dx[5] = {1, 2, 3, 4, 5}, ex[5] = {1, 1, 1, 1, 0}, *dpx = dx, *epx = ex;
    CHECK(trd_eigs(0, &n0, &dpx, &epx, rcx) == -1 && trd_eigs(TRD_GROUP + 1, &n0, &dpx, &epx, rcx) == -1,
          "eigs_group_size_checked", "a group of 0 or more than TRD_GROUP matrices was accepted");
}

int main(void) {
    test_eigs_vs_dsterf();
    test_symv();
    test_reduce();
    return check_summary();
}
