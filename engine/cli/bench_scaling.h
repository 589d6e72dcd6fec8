/* bench_scaling.h - the data-parallel parts of `alphadecay bench` (bench_scaling.c): the measured
 * scaling row (one configuration trained with 1 rank x 2 threads, 1 rank x 1 thread and 2 ranks x 1
 * thread, with and without train.zero: tok/s, seconds in communication per update, peak memory per
 * rank, parallel efficiency) and the
 * `--scaling-model` table (ring all-reduce cost model over N nodes). */
#ifndef BENCH_SCALING_H
#define BENCH_SCALING_H

#include "common.h"
#include "config.h"
#include "json.h"
#include "model.h"

typedef struct {
    int ok, ranks, threads, zero, micro;
    double tok_s, update_s, comm_s, fb_s, adam_s, peak_mb, grad_mb;
    char err[256];
} ScalingRow;

#define SCALING_ROWS                                                                                                   \
    4 /* 1 rank x 2 threads; 1 x 1 (for the efficiency); 2 ranks x 1 thread; the same with train.zero */

/* Runs the four measurements of cfg in child processes (`mpirun -np 2 ... bench --child-dist` for
 * the 2-rank ones); a row whose launcher is missing or fails has ok = 0 and err set. */
void bench_scaling_measure(const char *cfg, int quick, ScalingRow rows[SCALING_ROWS]);
void bench_scaling_print(const char *cfg, const ScalingRow rows[SCALING_ROWS]);
void bench_scaling_json(StrBuf *b, const char *cfg, const ScalingRow rows[SCALING_ROWS]);

/* Hidden `bench --child-dist CFG [--micro K] [--threads T] [--reps R] [--zero]` (args.h): one rank of the measurement, rank 0
 * prints one JSON line. */
int bench_dist_child(int argc, char **argv);
/* `bench --scaling-model [...]`: the predicted table. */
int bench_scaling_model(int argc, char **argv);

/* One timed training micro-step of m on (in, tg): zero the gradients, forward + backward, then an
 * Adam update at step `step`; adds the seconds of each part to *fb and *adam. Shared by the training
 * rows (bench.c) and the scaling rows so both time the same thing. */
void bench_time_step(Model *m, const int *in, const int *tg, int B, int T, OptimizerKind opt, long step, double *fb,
                     double *adam);

#endif
