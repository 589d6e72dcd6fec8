/* test_gram.c - the ESD solver's Gram kernel (gram_lower) against a plain double loop: tall, wide and
 * square shapes around every tile and slab boundary; exact equality on small-integer weights (every
 * product and partial sum is then exact in double, whatever the summation order); the non-finite
 * detection wherever the bad value sits. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "gram.h"

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
    static const int shapes[][2] = {{1, 1},     {1, 5},     {5, 1},     {7, 3},     {3, 7},     {8, 8},
                                    {9, 9},     {24, 24},   {25, 23},   {23, 25},   {100, 8},   {8, 100},
                                    {129, 37},  {37, 129},  {128, 47},  {47, 128},  {257, 49},  {49, 257},
                                    {200, 130}, {130, 200}, {300, 48},  {48, 300},  {127, 127}, {136, 136}};
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
        CHECK(rc == 0 && err < 1e-14, name, "rc %d, worst relative error %g", rc, err);
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

int main(void) {
    test_shapes();
    test_nonfinite();
    return check_summary();
}
