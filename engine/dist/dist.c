/* dist.c - see dist.h. */
#include "dist.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Largest element count of one MPI call: counts are ints; 2^26 floats (256 MiB) keeps each call's
 * buffer modest and far from INT_MAX whatever the element size. */
#define DIST_CHUNK ((size_t)1 << 26)

static int g_active = 0, g_rank = 0, g_size = 1;
static double g_comm_s = 0.0;

static int env_int(const char *name) {
    const char *v = getenv(name);
    return v && *v ? atoi(v) : 0;
}

/* The job size the launcher announced, or 1. srun exports SLURM_STEP_NUM_TASKS in every step (and
 * a batch script inherits job variables), so it counts only together with an MPI wire-up variable. */
static int launcher_size(void) {
    int n = env_int("OMPI_COMM_WORLD_SIZE");
    if (n < 1) n = env_int("PMI_SIZE");
    if (n < 1 && (getenv("PMIX_RANK") || getenv("PMI_RANK"))) n = env_int("SLURM_STEP_NUM_TASKS");
    return n > 1 ? n : 1;
}

int dist_init(int *argc, char ***argv, char *msg, size_t msg_len) {
    if (g_active) return g_size;
    int want = launcher_size();
    if (want <= 1) return 1;
    int provided = 0;
    /* FUNNELED: OpenMP threads compute, only the main thread calls MPI */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        snprintf(msg, msg_len, "MPI_Init failed (the launcher announced %d processes)", want);
        return -1;
    }
    g_active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size != want) {
        snprintf(msg, msg_len,
                 "the launcher announced %d processes but MPI sees %d (a launcher/MPI mismatch: "
                 "with srun try --mpi=pmix)",
                 want, g_size);
        return -1;
    }
    return g_size;
}

void dist_finalize(void) {
    if (!g_active) return;
    MPI_Finalize();
    g_active = 0;
    g_rank = 0;
    g_size = 1;
}

int dist_rank(void) { return g_rank; }
int dist_size(void) { return g_size; }
int dist_active(void) { return g_active; }

int dist_local_size(void) {
    int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (n < 1) n = env_int("MPI_LOCALNRANKS");
    if (n < 1) n = env_int("SLURM_NTASKS_PER_NODE");
    return n > 0 ? n : 1;
}

void dist_abort(int code) {
    fflush(NULL);
    if (g_active) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

void dist_barrier(void) {
    if (!g_active) return;
    double t0 = now_seconds();
    MPI_Barrier(MPI_COMM_WORLD);
    g_comm_s += now_seconds() - t0;
}

static void allreduce_chunked(void *buf, size_t n, size_t elem, MPI_Datatype type, MPI_Op op) {
    if (!g_active || n == 0) return;
    double t0 = now_seconds();
    for (size_t off = 0; off < n; off += DIST_CHUNK) {
        size_t k = n - off < DIST_CHUNK ? n - off : DIST_CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + off * elem, (int)k, type, op, MPI_COMM_WORLD);
    }
    g_comm_s += now_seconds() - t0;
}

void dist_sum_floats(float *buf, size_t n) { allreduce_chunked(buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM); }
void dist_sum_doubles(double *buf, size_t n) { allreduce_chunked(buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM); }
void dist_or_bytes(void *buf, size_t n) { allreduce_chunked(buf, n, 1, MPI_BYTE, MPI_BOR); }

void dist_range(size_t n, int rank, int size, size_t *lo, size_t *hi) {
    size_t q = n / (size_t)size, r = n % (size_t)size, k = (size_t)rank;
    *lo = k * q + (k < r ? k : r);
    *hi = *lo + q + (k < r ? 1 : 0);
}

/* Gathers every rank's slice of an n-float buffer in rounds of at most DIST_CHUNK floats per rank (so
 * no count or displacement overflows an int). to_all: each slice broadcast by its owner into `full` on
 * every rank; otherwise each slice sent from `mine` to rank 0's `full`. */
static void gather_slices(const float *mine, float *full, size_t n, int to_all) {
    size_t lo, hi;
    dist_range(n, 0, g_size, &lo, &hi);
    size_t longest = hi - lo; /* rank 0's slice is never shorter than another's */
    double t0 = now_seconds();
    for (size_t off = 0; off < longest; off += DIST_CHUNK) {
        for (int r = 0; r < g_size; r++) {
            dist_range(n, r, g_size, &lo, &hi);
            size_t len = hi - lo > off ? hi - lo - off : 0;
            int cnt = (int)(len < DIST_CHUNK ? len : DIST_CHUNK);
            if (cnt == 0) continue;
            if (to_all) MPI_Bcast(full + lo + off, cnt, MPI_FLOAT, r, MPI_COMM_WORLD);
            else if (r == 0 && g_rank == 0) memcpy(full + lo + off, mine + off, (size_t)cnt * sizeof(float));
            else if (r != 0 && g_rank == r) MPI_Send(mine + off, cnt, MPI_FLOAT, 0, 77, MPI_COMM_WORLD);
            else if (r != 0 && g_rank == 0)
                MPI_Recv(full + lo + off, cnt, MPI_FLOAT, r, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
    }
    g_comm_s += now_seconds() - t0;
}

void dist_allgather_floats(float *buf, size_t n) {
    if (!g_active) return;
    if (n <= (size_t)0x7fffffff) {
        /* the common case: one Allgatherv, every slice in place */
        int *cnt = xcalloc((size_t)g_size, sizeof *cnt), *dsp = xcalloc((size_t)g_size, sizeof *dsp);
        for (int r = 0; r < g_size; r++) {
            size_t lo, hi;
            dist_range(n, r, g_size, &lo, &hi);
            cnt[r] = (int)(hi - lo);
            dsp[r] = (int)lo;
        }
        double t0 = now_seconds();
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, cnt, dsp, MPI_FLOAT, MPI_COMM_WORLD);
        g_comm_s += now_seconds() - t0;
        free(cnt);
        free(dsp);
        return;
    }
    gather_slices(NULL, buf, n, 1);
}

void dist_gather_floats(const float *mine, float *full, size_t n) {
    if (!g_active) {
        if (full && full != mine) memcpy(full, mine, n * sizeof(float));
        return;
    }
    gather_slices(mine, full, n, 0);
}

void dist_assign_balanced(const double *cost, int n, int size, int *owner) {
    int *order = xcalloc((size_t)(n > 0 ? n : 1), sizeof *order);
    double *load = xcalloc((size_t)(size > 0 ? size : 1), sizeof *load);
    for (int i = 0; i < n; i++) order[i] = i;
    /* insertion sort, descending cost, stable: n is a few hundred modules at most */
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i - 1;
        while (j >= 0 && cost[order[j]] < cost[v]) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = v;
    }
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int r = 1; r < size; r++)
            if (load[r] < load[best]) best = r;
        owner[order[k]] = best;
        load[best] += cost[order[k]];
    }
    free(order);
    free(load);
}

double dist_comm_seconds(void) { return g_comm_s; }
