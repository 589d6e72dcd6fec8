/* test_dist.c - the parts of dist.h that need no second process: slices of the flat buffer (cover it
 * once, sizes differ by at most one), the balanced assignment of spectra (hand-worked example, and its
 * maximum load against a brute-force optimum bound), the single-process fallback (no MPI initialised
 * without a launcher; collectives leave buffers alone), and adam_update_slice: the shards of train.zero
 * reproduce the whole update bit for bit. The multi-rank behaviour is tests/e2e_mpi.sh's. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dist.h"
#include "optim.h"
#include "testutil.h"

static void test_range(void) {
    int good = 1;
    for (size_t n = 0; n < 40; n++)
        for (int size = 1; size <= 7; size++) {
            size_t next = 0, lo, hi, mn = (size_t)-1, mx = 0;
            for (int r = 0; r < size; r++) {
                dist_range(n, r, size, &lo, &hi);
                if (lo != next || hi < lo) good = 0;
                next = hi;
                if (hi - lo < mn) mn = hi - lo;
                if (hi - lo > mx) mx = hi - lo;
            }
            if (next != n || mx - mn > 1) good = 0;
        }
    CHECK(good, "dist_range_covers_once_balanced", "a slice gap, overlap or imbalance");
}

static void test_assign(void) {
    double c[5] = {3, 5, 3, 4, 3};
    int own[5];
    dist_assign_balanced(c, 5, 2, own);
    /* largest first, ties by index: idx1 (5) r0; idx3 (4) r1; idx0 (3) r1 -> loads 5,7; idx2 (3) r0 -> 8,7; idx4 (3) r1 -> 8,10 */
    int want[5] = {1, 0, 0, 1, 1};
    CHECK(!memcmp(own, want, sizeof own), "dist_assign_hand_example", "owners %d %d %d %d %d", own[0], own[1], own[2],
          own[3], own[4]);
    /* LPT's bound: max load <= 4/3 of the optimum; the optimum is at least max(mean, largest job) */
    Rng r;
    rng_seed(&r, 9);
    int good = 1;
    for (int t = 0; t < 200; t++) {
        int n = 1 + (int)rng_below(&r, 60), size = 1 + (int)rng_below(&r, 8), o[60];
        double cost[60], load[8] = {0}, total = 0, big = 0, mx = 0;
        for (int i = 0; i < n; i++) {
            cost[i] = 1 + (double)rng_below(&r, 1000);
            total += cost[i];
            if (cost[i] > big) big = cost[i];
        }
        dist_assign_balanced(cost, n, size, o);
        for (int i = 0; i < n; i++) {
            if (o[i] < 0 || o[i] >= size) good = 0;
            else load[o[i]] += cost[i];
        }
        for (int k = 0; k < size; k++)
            if (load[k] > mx) mx = load[k];
        double lower = total / size > big ? total / size : big;
        if (mx > 4.0 / 3.0 * lower + 1e-9 * total) good = 0;
    }
    CHECK(good, "dist_assign_within_lpt_bound", "a rank's load exceeds 4/3 of the optimum's lower bound");
}

static void test_single_process(void) {
    int argc = 1;
    char *args[] = {"test_dist", NULL}, **argv = args;
    char msg[128];
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("PMI_RANK");
    int n = dist_init(&argc, &argv, msg, sizeof msg);
    float f[3] = {1, 2, 3};
    double d[2] = {4, 5};
    unsigned char b[2] = {6, 7};
    dist_sum_floats(f, 3);
    dist_sum_doubles(d, 2);
    dist_or_bytes(b, 2);
    dist_allgather_floats(f, 3);
    float full[3];
    dist_gather_floats(f, full, 3);
    CHECK(n == 1 && !dist_active() && dist_rank() == 0 && dist_size() == 1, "dist_no_launcher_no_mpi",
          "size %d active %d", n, dist_active());
    CHECK(f[0] == 1 && f[2] == 3 && d[1] == 5 && b[1] == 7 && !memcmp(full, f, sizeof f) && dist_comm_seconds() == 0,
          "dist_single_process_collectives_identity", "a buffer changed");
    /* a one-process launch (mpirun -np 1) is a plain run too */
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    n = dist_init(&argc, &argv, msg, sizeof msg);
    CHECK(n == 1 && !dist_active(), "dist_one_rank_launch_no_mpi", "size %d", n);
    unsetenv("OMPI_COMM_WORLD_SIZE");
}

/* train.zero's shards: updating slices [lo, hi) that cut through tensors gives the full update. */
static void test_adam_slices(void) {
    Model a, b;
    Err e;
    ModelConfig mc = test_model_config(16, 24, 2, 1, 37, 16);
    if (model_build(&a, &mc, &e) || model_build(&b, &mc, &e) || model_alloc_train(&a, &e) ||
        model_alloc_train(&b, &e)) {
        CHECK(0, "adam_slices_equal_full", "%s", e.msg);
        return;
    }
    model_init_weights(&a, 3);
    model_init_weights(&b, 3);
    Rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < a.n_params; i++) a.grads[i] = b.grads[i] = (float)(rng_normal(&r) * 0.1);
    for (int i = 0; i < a.n_tensors; i++) a.wd[i] = b.wd[i] = 0.01 * (i + 1);
    int ok = 1;
    for (int kind = 0; kind < 2; kind++)
        for (long t = 1; t <= 3; t++) {
            adam_update(&a, (OptimizerKind)kind, 1e-2, 0.9, 0.999, 1e-8, t);
            for (int rk = 0; rk < 3; rk++) { /* three uneven shards */
                size_t lo, hi;
                dist_range(b.n_params, rk, 3, &lo, &hi);
                adam_update_slice(&b, (OptimizerKind)kind, 1e-2, 0.9, 0.999, 1e-8, t, lo, hi, b.adam_m + lo,
                                  b.adam_v + lo);
            }
            ok &= !memcmp(a.params, b.params, a.n_params * sizeof(float)) &&
                  !memcmp(a.adam_m, b.adam_m, a.n_params * sizeof(float)) &&
                  !memcmp(a.adam_v, b.adam_v, a.n_params * sizeof(float));
        }
    CHECK(ok, "adam_slices_equal_full_bitwise", "a sharded update differs from the full one");
    model_free(&a);
    model_free(&b);
}

int main(void) {
    test_range();
    test_assign();
    test_single_process();
    test_adam_slices();
    return check_summary();
}
