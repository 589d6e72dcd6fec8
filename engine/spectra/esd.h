/* esd.h - empirical spectral densities of weight matrices and the per-module metrics
 * (docs/method.md, "Spectra" and "Per-module metrics").
 *
 * Spectrum: for W (rows x cols, row-major fp32) the N = min(rows, cols) eigenvalues of W^T W (the
 * squared singular values), ascending, not normalised; tiny negative round-off values are clamped to 0.
 * Solvers:
 *   ESD_GRAM (default)  the smaller Gram matrix in double (gram.h), reduced to tridiagonal form and
 *                       its eigenvalues taken (tridiag.h: dsytrd's and dsterf's algorithms); agrees
 *                       with dgesdd's squared singular values to ~1e-14 of lam_max;
 *   ESD_SVD             dgesdd on a double copy of W (a cross-check);
 *   ESD_GRAM_F32        the Gram in single precision + LAPACK ssyevd: ~1e-6 of lam_max, fine for the
 *                       upper half the median fit uses, not for the smallest eigenvalues.
 * Timings per stage and the alternatives measured and rejected: docs/performance.md, "The ESD pass".
 *
 * Threading: esd_many runs one module per OpenMP thread, largest modules first, with OpenBLAS set to
 * one thread for the duration (restored afterwards); spectra do not depend on the thread count.
 * esd_eigs and esd_metrics work in the calling thread.
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
/* Metrics of a spectrum (docs/method.md, "Per-module metrics") given the fitted alpha (-1 if failed: alpha_weighted
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
double esd_bench_pass(const int *rows, const int *cols, int count, EsdSolver s, int threads, int reps, double *median);

#endif
