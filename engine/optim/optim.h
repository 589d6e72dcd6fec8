/* optim.h - learning-rate schedules, gradient norm / clipping, and the Adam / AdamW update with a
 * weight decay per tensor (m->wd), exactly as torch.optim.Adam (coupled L2: g += wd * w) and
 * torch.optim.AdamW (decoupled: w *= 1 - lr_t * wd) compute them. docs/method.md, "Training recipe". */
#ifndef OPTIM_H
#define OPTIM_H

#include "config.h"
#include "model.h"

/* Learning rate of the update with 0-based index `step` (the scheduler is stepped after each update,
 * so update 0 uses multiplier(0), which is 0 during warmup as in the authors' LambdaLR). */
double lr_multiplier(ScheduleKind kind, long step, long warmup, long total, double min_ratio);
double lr_at(const Config *c, long step);

/* sqrt(sum of squared gradients) over every tensor, accumulated in double in fixed-size chunks
 * combined in a fixed order: deterministic for any thread count. */
double grad_global_norm(const Model *m);
/* The same norm summed in index order (sumsq_blocked with one block): the norm of the gradients an
 * update applies (after clipping) that the loop hands to the decay hook for AWD, whose published numbers
 * were computed in this order. */
double grad_norm_index_order(const Model *m);
/* Scale every gradient by max_norm / norm when norm > max_norm (torch clip_grad_norm_). */
void grad_clip(Model *m, double max_norm, double norm);

/* One optimizer update. t = 1-based update count for bias correction, lr = scheduled rate. */
void adam_update(Model *m, OptimizerKind kind, double lr, double beta1, double beta2, double eps, long t);
/* The same update restricted to the flat parameter range [lo, hi), with that range's moments in
 * mo[0 .. hi-lo) and ve (a rank's shard under train.zero). Bit-identical, element for element, to
 * adam_update. fp32 buffers only (fp32 and bf16 modes): bf16_pure updates its bf16 storage in adam_update. */
void adam_update_slice(Model *m, OptimizerKind kind, double lr, double beta1, double beta2, double eps, long t,
                       size_t lo, size_t hi, float *mo, float *ve);

#endif
