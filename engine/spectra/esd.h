/* esd.h - empirical spectral densities of weight matrices and the per-module metrics of METHOD.md
 * section 3.
 *
 * Spectrum: for W (rows x cols, row-major fp32) the N = min(rows, cols) eigenvalues of W^T W (the
 * squared singular values), ascending, not normalised. ESD_GRAM (default) forms the smaller Gram
 * matrix in double with our own kernel (gram.c, straight from the fp32 weights), reduces it to
 * tridiagonal form and takes the tridiagonal's eigenvalues (both in tridiag.c: dsytrd's blocked
 * algorithm with our own panel, AVX-512 symmetric matrix-vector kernel and the Gram kernel for the
 * trailing rank-2k update; dsterf's algorithm, bit for bit, with four modules' iterations interleaved in
 * one thread to hide the divider latency), column-major on the lower triangle (no LAPACKE
 * transposes); agrees with dgesdd's squared singular values to ~1e-14 of lam_max. Tiny negative
 * round-off eigenvalues are clamped to 0 (squared singular values are >= 0). ESD_SVD runs dgesdd on a
 * double copy of W (a cross-check: 3-3.5x slower per module at 512 and 768 on this machine). ESD_GRAM_F32 does
 * the same as ESD_GRAM in single precision with LAPACK ssyevd (about 1.2-1.3x faster, eigenvalues accurate
 * to ~1e-6 of lam_max: fine for the upper half used by the median fit, not for the smallest
 * eigenvalues).
 * Cost of one 768-order module on one core (Zen 5): Gram 3.8 ms (768 x 768 W) or 10.1-10.3 ms
 * (2048 x 768 either way round; float->double copy + OpenBLAS 0.3.21 dsyrk, Cooperlake kernel: 5.1 and
 * 13-14 ms), reduction 10.9-11.2 ms (LAPACK dsytrd: 13.4 ms), eigenvalues 2.1 ms (LAPACK dsterf: 5.9 ms).
 * Measured and rejected for the default (per 512/768-wide module): the two-stage reductions
 * dsyev_2stage / dsyevd_2stage / dsyevr_2stage (1.5-2x slower: the band-to-tridiagonal bulge chase
 * dominates), dsyevr / dstemr / dqds instead of dsterf (no faster), dgemm instead of dsyrk for the Gram
 * (slower: twice the flops; a 2 x 2 blocked syrk + dgemm: no faster), panel widths 8-32 (16 best by a
 * hair), software prefetch in the symv (slower), huge pages for the Gram (no change).
 *
 * Parallelism: esd_many runs one module per OpenMP thread, largest modules first (each thread holds its
 * modules' tridiagonals until it has four, then finishes them together), with OpenBLAS set
 * to one thread for the duration (restored afterwards; measured faster than threaded LAPACK per
 * module on 2 cores); each thread reuses its scratch (Gram packing, Gram, reduction workspace)
 * across modules.
 *
 * Spectra file (esd_write_spectra; the ESD histograms of the report are plotted from it), little endian:
 *   char   magic[8] = "ADSPEC01"
 *   int64  step                     (-1 when not from a training run)
 *   uint32 n_modules
 *   per module:
 *     uint16 name_len, char name[name_len]   HF module name without ".weight", no NUL
 *     int32  layer (-1 for lm_head), int32 type (model.h ModuleType), int32 rows, int32 cols
 *     double alpha, double xmin              (the fit of this update; alpha = -1 if it failed)
 *     uint32 N, double lam[N]                ascending eigenvalues of W^T W
 */
#ifndef ESD_H
#define ESD_H

#include "common.h"
#include "plfit.h"

typedef enum { ESD_GRAM = 0, ESD_SVD = 1, ESD_GRAM_F32 = 2 } EsdSolver;

/* One module of an ESD pass. Inputs: name (for errors), w, rows, cols, grad (may be NULL).
 * Outputs: lam (malloc'd, N values, owned by the job: esd_job_clear frees it), the fit, metrics. */
typedef struct {
    const char *name;
    const float *w;
    const float *grad;
    int rows, cols;
    int N;
    double *lam;
    PlFitResult fit;
    double fnorm;          /* sum lam  (squared Frobenius norm) */
    double spectral_norm;  /* lam_max  (squared largest singular value) */
    double stable_rank;    /* fnorm / spectral_norm */
    double alpha_weighted; /* alpha * log10(lam_max) */
    double alphahat;       /* softplus(alpha * log10 lam_max), the code's variant */
    double entropy;        /* normalised matrix entropy, eps 6e-5 */
    double gradnorm;       /* ||grad||_F, or 10 when grad is NULL */
    double seconds;        /* wall time of this module's eigenvalues + fit (esd_many: an equal share of
                            * the interleaved tridiagonal stage it ran in) */
} EsdJob;

/* Eigenvalues of W^T W into lam (N = min(rows, cols) doubles, ascending). NaN/Inf in W is an error
 * naming `name`. */
int esd_eigs(const float *w, int rows, int cols, EsdSolver s, const char *name, double *lam, Err *e);
/* Metrics of a spectrum (METHOD.md section 3) given the fitted alpha (-1 if failed: alpha_weighted
 * and alphahat are then -1 too). */
void esd_metrics(const double *lam, int N, double alpha, EsdJob *j);
double esd_gradnorm(const float *g, size_t n); /* 10 when g is NULL, the code's placeholder */
/* Run eigenvalues + fit + metrics for every job, `threads` modules at a time (<= 0: all cores).
 * On error (first failing module in job order) returns -1; jobs already done keep their results. */
int esd_many(EsdJob *jobs, int n, EsdSolver s, const PlFitOpts *fit, int threads, Err *e);
void esd_job_clear(EsdJob *j);

/* Spectra file: see the format above. */
typedef struct {
    const char *name;
    int layer, type, rows, cols;
    double alpha, xmin;
    int N;
    const double *lam;
} SpectrumRec;
int esd_write_spectra(const char *path, long step, const SpectrumRec *recs, int n, Err *e);
/* Reader for analysis and tests: fills malloc'd records whose name and lam are malloc'd too;
 * free with esd_free_spectra. */
int esd_read_spectra(const char *path, long *step, SpectrumRec **recs, int *n, Err *e);
void esd_free_spectra(SpectrumRec *recs, int n);

/* Benchmark hook: one full pass (random N(0, 0.02) matrices of the given shapes, eigenvalues + median
 * fit + metrics) `reps` times; returns the best wall seconds of one pass, or -1 on error, and the
 * median in *median (may be NULL). */
double esd_bench_pass(const int *rows, const int *cols, int count, EsdSolver s, int threads, int reps,
                      double *median);

#endif
