/* decay.h - the five weight-decay methods (docs/method.md, "The five methods") behind one hook.
 *
 * The training loop calls decay_init once (fresh start: sets m->wd for step 0, and for alphadecay
 * fits the initial random weights and logs them as step 0), then decay_before_update after every
 * backward pass and before every optimizer step, with `step` = the 0-based index of the update about
 * to be applied. The method writes m->wd[i] for every tensor i (n_tensors entries). */
#ifndef DECAY_H
#define DECAY_H

#include "checkpoint.h"
#include "common.h"
#include "config.h"
#include "model.h"
#include "rundir.h"

typedef struct {
    const Config *cfg;
    RunLog *log;                   /* decay.jsonl, or NULL: one JSON line per tuned module per decay update;
                               a failed write makes the update fail */
    char spectra_dir[AD_PATH_MAX]; /* where full spectra of the first / final update go; "" = don't save */
    /* state that a checkpoint saves and restores (with m->wd): decay_save / decay_restore */
    double awd_lambda;     /* AWD's lam_bar, starts at 0 */
    long last_update_step; /* step of the last spectral/adadecay update, -1 = none yet */
    /* private scratch owned by decay.c */
    void *priv;
} DecayState;

/* cfg must have passed config_validate (config.h): the decay module checks no config value again
 * (s1 <= s2, update_every >= 1, xmin_pos > 1, known enum values are its preconditions). What it does
 * check is the config against the model: every decay.exclude name must be a Linear module of it. */
int decay_init(DecayState *st, const Config *cfg, Model *m, RunLog *log, const char *spectra_dir, int fresh, Err *e);
/* What a checkpoint must hold of st (with m->wd, which the checkpoint keeps per tensor), and its return
 * after decay_init(..., fresh = 0, ...) on resume: the next update is then the one the saved run would
 * have applied, bit for bit. */
void decay_save(const DecayState *st, DecayCkpt *out);
void decay_restore(DecayState *st, const DecayCkpt *in);
/* grads of this update are in m->grads (averaged over micro-steps, then clipped). grad_norm is their norm,
 * as the update applies them (after clipping), summed in index order (grad_norm_index_order, optim.h):
 * AWD's ||g||, which the loop computes so that the decay module takes no second pass over the gradients.
 * Only AWD reads it (decay_needs_grad_norm); the others ignore it (pass NAN). */
int decay_before_update(DecayState *st, Model *m, long step, double grad_norm, Err *e);
int decay_needs_grad_norm(const DecayState *st);
/* Called once after the final update: saves the final spectra when spectra_dir is set. */
int decay_finish(DecayState *st, Model *m, long step, Err *e);
void decay_free(DecayState *st);
/* Mean wd over tensors weighted by size (metrics.jsonl's wd_mean). */
double decay_wd_mean(const Model *m);

/* The pure pieces of the methods (decay.c), exposed for tests.
 * decay_assign: metric values v[0..n-1] of the tuned modules -> wd[0..n-1] with eta, s1, s2;
 * layer[] groups modules for ASSIGN_SIGMOID (per-layer z-score); names[] (may be NULL) only label
 * errors. Returns -1 (naming the module) if a decay would be negative or not finite (e.g. log2 of a
 * metric below 1), so a run never trains with a silent NaN decay. */
int decay_assign(DecayAssign how, const double *v, const int *layer, const char *const *names, int n, double eta,
                 double s1, double s2, double *wd, Err *e);
/* decay.mean_preserving: scales wd[0..n-1] by one factor so that sum(wd * size) / sum(size) = eta (the ratios
 * between modules are kept). -1 when the decays sum to zero or are not finite (nothing to rescale); eta 0 or
 * n 0 changes nothing. */
int decay_mean_preserve(double *wd, const double *size, int n, double eta, Err *e);
/* decay.flat: sets every wd[0..n-1] to their size-weighted mean sum(wd * size) / sum(size), the same weighting
 * as decay_mean_preserve (the strength is kept, the ratios between modules become 1); n 0 changes nothing. */
void decay_flatten(double *wd, const double *size, int n);
/* One AWD step: lam_t = awd_scale * eta * gnorm / (wnorm + 1e-8); returns 0.1 lam_bar + 0.9 lam_t. */
double decay_awd_step(double lam_bar, double eta, double awd_scale, double gnorm, double wnorm);

#endif
