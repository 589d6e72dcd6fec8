/* test_gram.c - the ESD solver's Gram kernel (gram_lower) against a plain double loop: tall, wide and
 * square shapes around every tile and slab boundary; exact equality on small-integer weights (every
 * product and partial sum is then exact in double, whatever the summation order); the non-finite
 * detection wherever the bad value sits; the rank-2k update of the tridiagonal reduction against a
 * loop.
 * Tolerances hold for every summation order (the kernel's tiles and slabs, and the reference loop, sum in
 * different orders): a sum of n products of floats in double, any order, is within gamma_n sum |p| of the
 * exact sum, gamma_n = n u / (1 - n u), u = 2^-53 (every product of two floats is exact in double, each
 * term then passes through at most n - 1 additions). The kernel and the reference loop each: 2 gamma_n. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "gram.h"

static double gamma_d(int n) { return n * 0x1p-53 / (1 - n * 0x1p-53); }

/* a(i, k) of the smaller side's Gram: W^T W for tall (cols <= rows), W W^T for wide */
static double at(const float *w, int rows, int cols, int i, int k) {
    return cols <= rows ? w[(size_t)k * cols + i] : w[(size_t)i * cols + k];
}

/* runs gram_lower on G pre-filled with NaN; returns its return value, G in *out */
static int run(const float *w, int rows, int cols, double **out) {
    int N = rows < cols ? rows : cols;
    double *G = malloc(sizeof(double) * (size_t)N * N), *pack = malloc(sizeof(double) * gram_pack_doubles(rows, cols));
    for (size_t i = 0; i < (size_t)N * N; i++) G[i] = NAN;
    int rc = gram_lower(w, rows, cols, G, pack);
    free(pack);
    *out = G;
    return rc;
}

/* worst |G - ref| / sum_k |a_ik a_jk| over the lower triangle (NaN-safe: a NaN gives +inf) */
static double worst_error(const float *w, int rows, int cols, const double *G) {
    int N = rows < cols ? rows : cols, K = rows < cols ? cols : rows;
    double worst = 0;
    for (int j = 0; j < N; j++)
        for (int i = j; i < N; i++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double p = at(w, rows, cols, i, k) * at(w, rows, cols, j, k);
                ref += p;
                mag += fabs(p);
            }
            double g = G[i + (size_t)j * N], err = fabs(g - ref) / (mag > 0 ? mag : 1);
            if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
        }
    return worst;
}

static void test_shapes(void) {
    /* N around the 8 / 24 tile sizes, K around the 128 slab depth, both orientations */
    static const int shapes[][2] = {{1, 1},     {1, 5},     {5, 1},    {7, 3},    {3, 7},     {8, 8},
                                    {9, 9},     {24, 24},   {25, 23},  {23, 25},  {100, 8},   {8, 100},
                                    {129, 37},  {37, 129},  {128, 47}, {47, 128}, {257, 49},  {49, 257},
                                    {200, 130}, {130, 200}, {300, 48}, {48, 300}, {127, 127}, {136, 136}};
    Rng r;
    rng_seed(&r, 11);
    double worst_real = 0;
    int exact = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int rows = shapes[s][0], cols = shapes[s][1], N = rows < cols ? rows : cols;
        size_t sz = (size_t)rows * cols;
        float *w = malloc(sizeof(float) * sz);
        /* real-valued weights: agreement to rounding */
        for (size_t i = 0; i < sz; i++) w[i] = (float)rng_normal(&r);
        double *G;
        int rc = run(w, rows, cols, &G);
        double err = worst_error(w, rows, cols, G);
        char name[96];
        snprintf(name, sizeof name, "gram %dx%d: lower triangle matches a double loop (rel err %.1e)", rows, cols, err);
        CHECK(rc == 0 && err <= 2 * gamma_d(rows < cols ? cols : rows), name, "rc %d, worst relative error %g", rc,
              err);
        if (err > worst_real) worst_real = err;
        free(G);
        /* small integers: every sum exact, so G must equal the loop exactly */
        for (size_t i = 0; i < sz; i++) w[i] = (float)((int)(rng_uniform(&r) * 7) - 3);
        run(w, rows, cols, &G);
        for (int j = 0; j < N; j++)
            for (int i = j; i < N; i++) {
                double ref = 0;
                for (int k = 0; k < (rows < cols ? cols : rows); k++)
                    ref += at(w, rows, cols, i, k) * at(w, rows, cols, j, k);
                if (G[i + (size_t)j * N] != ref) exact = 0;
            }
        free(G);
        free(w);
    }
    CHECK(exact, "gram: integer weights give the exact Gram matrix in every shape", "an entry differs");
}

static void test_nonfinite(void) {
    static const int shapes[][2] = {{130, 37}, {37, 130}, {64, 64}};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    int caught = 1, clean = 1;
    for (size_t s = 0; s < 3; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        size_t sz = (size_t)rows * cols;
        float *w = malloc(sizeof(float) * sz);
        for (size_t i = 0; i < sz; i++) w[i] = (float)(i % 13) - 6.0f;
        w[5] = FLT_MAX; /* large but finite: not flagged */
        double *G;
        if (run(w, rows, cols, &G) != 0) clean = 0;
        free(G);
        /* first, last, and positions in partial tiles and slabs */
        size_t pos[] = {0, sz - 1, sz / 2, (size_t)(rows - 1) * cols, (size_t)cols - 1, 129};
        for (size_t p = 0; p < sizeof pos / sizeof *pos; p++)
            for (int b = 0; b < 3; b++) {
                float keep = w[pos[p]];
                w[pos[p]] = bad[b];
                if (run(w, rows, cols, &G) != 1) caught = 0;
                free(G);
                w[pos[p]] = keep;
            }
        free(w);
    }
    CHECK(clean, "gram: finite weights (with FLT_MAX) are not flagged", "flagged");
    CHECK(caught, "gram: NaN, +Inf and -Inf are flagged at every tested position, tall and wide", "one missed");
}

/* C -= V W^T + W V^T (lower) against a plain loop; C's upper triangle and padding start as NaN, and
 * the lower triangle must not pick any of it up */
static void test_syr2k(void) {
    static const int ms[] = {1, 7, 8, 9, 23, 24, 25, 50, 100}, ks[] = {1, 3, 16};
    Rng r;
    rng_seed(&r, 12);
    double worst = 0;
    for (size_t a = 0; a < sizeof ms / sizeof *ms; a++)
        for (size_t b = 0; b < sizeof ks / sizeof *ks; b++) {
            int m = ms[a], k = ks[b], ldc = m + 3, ldv = m + 1, ldw = m + 5;
            double *C = malloc(sizeof(double) * (size_t)ldc * m), *C0 = malloc(sizeof(double) * (size_t)ldc * m);
            double *V = malloc(sizeof(double) * (size_t)ldv * k), *W = malloc(sizeof(double) * (size_t)ldw * k);
            double *pack = malloc(sizeof(double) * gram_syr2k_pack_doubles(m, k));
            for (int j = 0; j < m; j++)
                for (int i = 0; i < ldc; i++) C[i + (size_t)j * ldc] = i >= j && i < m ? rng_normal(&r) : NAN;
            memcpy(C0, C, sizeof(double) * (size_t)ldc * m);
            for (size_t i = 0; i < (size_t)ldv * k; i++) V[i] = rng_normal(&r);
            for (size_t i = 0; i < (size_t)ldw * k; i++) W[i] = rng_normal(&r);
            gram_syr2k_lower(m, k, V, ldv, W, ldw, C, ldc, pack);
            for (int j = 0; j < m; j++)
                for (int i = j; i < m; i++) {
                    double ref = C0[i + (size_t)j * ldc], mag = fabs(ref);
                    for (int q = 0; q < k; q++) {
                        double p = V[i + (size_t)q * ldv] * W[j + (size_t)q * ldw] +
                                   W[i + (size_t)q * ldw] * V[j + (size_t)q * ldv];
                        ref -= p;
                        mag += fabs(V[i + (size_t)q * ldv] * W[j + (size_t)q * ldw]) +
                               fabs(W[i + (size_t)q * ldw] * V[j + (size_t)q * ldv]);
                    }
                    double err = fabs(C[i + (size_t)j * ldc] - ref) / mag;
                    if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
                }
            free(C);
            free(C0);
            free(V);
            free(W);
            free(pack);
        }
    char name[96];
    snprintf(name, sizeof name, "gram_syr2k_lower: C -= V W^T + W V^T matches a loop, 27 shapes (rel err %.1e)", worst);
    CHECK(worst <= 2 * gamma_d(2 * 16 + 1), name, "worst relative error %g (bound 2 gamma_{2k+1}, k <= 16)", worst);
}

int main(void) {
    test_shapes();
    test_syr2k();
    test_nonfinite();
    return check_summary();
}
