/* dist.h - the few collective operations data-parallel training needs, over MPI when the process was
 * started by an MPI launcher, and a single-process fallback otherwise.
 *
 * dist_init looks at the launcher's environment (OMPI_COMM_WORLD_SIZE from mpirun, PMI_SIZE from
 * MPICH/hydra or Slurm's PMI-2, SLURM_STEP_NUM_TASKS with PMIX_RANK or PMI_RANK from `srun --mpi=...`)
 * before touching MPI: only a job of two or more processes calls MPI_Init. A run started any other
 * way (a plain command, `mpirun -np 1`, a one-task Slurm step) never initialises MPI and every call
 * below is then a no-op on one rank, so it behaves exactly as a build without MPI would.
 *
 * Every collective must be called by every rank in the same order (the training loop keeps them in
 * lock step). A dead peer makes the next collective fail, and MPI's default error handler ends the
 * whole job with its own message; dist_abort ends it on purpose after we printed ours.
 *
 * Communication time (seconds spent inside the collectives of this file) is accumulated in
 * dist_comm_seconds() so the training loop and the benchmark can report the share of update time. */
#ifndef DIST_H
#define DIST_H

#include <stddef.h>

/* Returns the number of ranks (1 without a launcher); msg gets a one-line reason on failure (-1). */
int dist_init(int *argc, char ***argv, char *msg, size_t msg_len);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
int dist_active(void); /* 1 when MPI was initialised (two or more ranks) */
/* Ranks of this job on this node (OMPI_COMM_WORLD_LOCAL_SIZE / SLURM_NTASKS_PER_NODE), 1 when unknown. */
int dist_local_size(void);
/* Ends every rank of the job with `code` (exit(code) without MPI). */
void dist_abort(int code);
void dist_barrier(void);

/* In-place sums over all ranks; large buffers go in chunks (MPI counts are ints). */
void dist_sum_floats(float *buf, size_t n);
void dist_sum_doubles(double *buf, size_t n);
/* Bitwise OR of n bytes over all ranks: a gather when each byte is written by one rank and zero on the
 * others, and the result is exactly the writer's bytes (no arithmetic touches them). */
void dist_or_bytes(void *buf, size_t n);
/* buf holds n floats; rank r's slice is [lo_r, hi_r) of dist_range(n, r, size): every rank receives
 * every other rank's slice. */
void dist_allgather_floats(float *buf, size_t n);
/* mine holds this rank's slice of an n-float buffer; rank 0 receives the whole buffer in full
 * (others may pass full = NULL). */
void dist_gather_floats(const float *mine, float *full, size_t n);

/* The contiguous slice [*lo, *hi) of n items owned by `rank` of `size` (the first n % size ranks get one
 * more). */
void dist_range(size_t n, int rank, int size, size_t *lo, size_t *hi);
/* Assigns n jobs of the given costs to `size` ranks: largest cost first (ties by index), each to the
 * currently least loaded rank (ties to the lowest rank). Deterministic, so every rank computes the
 * same owner[] without communicating. */
void dist_assign_balanced(const double *cost, int n, int size, int *owner);

double dist_comm_seconds(void);

#endif
