/* optim.c - see optim.h. */
#include "optim.h"

#include "bf16_vec.h"
#include "prof.h"

#include <math.h>
#include <stdlib.h>

double lr_multiplier(ScheduleKind kind, long step, long warmup, long total, double min_ratio) {
    if (step < warmup) return (double)step / (double)warmup;
    if (kind == SCHED_CONSTANT) return 1.0;
    long span = total - warmup;
    double progress = span > 0 ? (double)(step - warmup) / (double)span : 1.0;
    if (progress > 1.0) progress = 1.0;
    if (kind == SCHED_LINEAR) return min_ratio + (1.0 - min_ratio) * (1.0 - progress);
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + cos(M_PI * progress));
}

double lr_at(const Config *c, long step) {
    return c->train.lr *
           lr_multiplier(c->train.schedule, step, c->train.warmup_steps, c->train.steps, c->train.min_lr_ratio);
}

double grad_global_norm(const Model *m) {
    return sqrt(m->hg ? bf16_sumsq(m->hg, m->n_params) : sumsq_f32(m->grads, m->n_params));
}

double grad_norm_index_order(const Model *m) { return sqrt(sumsq_blocked(m->grads, m->hg, m->n_params, 0)); }

void grad_clip(Model *m, double max_norm, double norm) {
    if (max_norm <= 0 || norm <= max_norm) return;
    float scale = (float)(max_norm / (norm + 1e-6));
    if (m->hg) { /* bf16_pure: the scaled gradient rounded, as PyTorch's mul_ on a bf16 tensor */
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < m->n_params; i++) m->hg[i] = bf16_top(bf16q(bf16_widen(m->hg[i]) * scale));
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= scale;
}

/* One element's update (fp32 and bf16 modes); returns the new weight. */
static inline float adam_elem(float w, float grad, float *mo, float *ve, OptimizerKind kind, float wd, float decoupled,
                              float b1, float b2, float eps, float step_size, float bc2_sqrt) {
    if (kind == OPT_ADAM) grad += wd * w; /* coupled L2, not scaled by the schedule */
    else w *= decoupled;                  /* AdamW: decay scaled by the scheduled lr */
    *mo = b1 * *mo + (1.0f - b1) * grad;
    *ve = b2 * *ve + (1.0f - b2) * grad * grad;
    float denom = sqrtf(*ve) / bc2_sqrt + eps;
    return w - step_size * *mo / denom;
}

/* The update of one tensor; wd is that tensor's decay. Elementwise, so any threading is deterministic. wh (bf16
 * mode, else NULL): the bf16 copy of the weights the products read, rounded from each new weight in the same loop
 * (the same values as bf16_round_vec over the updated weights, without a pass of its own). The loops vectorise
 * (optim.c is compiled with -fno-math-errno, so sqrtf is the vector square root: correctly rounded either way,
 * the same bits as the scalar one; tests/test_bf16_kernels.c). */
static void adam_tensor(float *w, float *g, float *mo, float *ve, bf16_t *wh, size_t n, OptimizerKind kind, float wd,
                        float lr, float b1, float b2, float eps, float bc1, float bc2_sqrt) {
    float step_size = lr / bc1;
    float decoupled = 1.0f - lr * wd;
    if (wh) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float wn = adam_elem(w[i], g[i], mo + i, ve + i, kind, wd, decoupled, b1, b2, eps, step_size, bc2_sqrt);
            w[i] = wn;
            wh[i] = bf16_top(bf16q(wn));
        }
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            w[i] = adam_elem(w[i], g[i], mo + i, ve + i, kind, wd, decoupled, b1, b2, eps, step_size, bc2_sqrt);
    }
}

/* Elements per block of the bf16 update: a multiple of 16 (whole AVX-512 vectors), about 12 KB of state. */
#define ADAM_BLOCK 1024

/* bf16_pure: the same update as PyTorch's Adam computes on bf16 tensors. Each tensor operation of
 * torch.optim.Adam's step computes in fp32 and rounds its result to bf16 (q below), so we round at the same
 * points: the L2 term added to the gradient (or AdamW's decay), exp_avg.lerp_, exp_avg_sq.mul_ then
 * .addcmul_, the denominator's sqrt, division and + eps, and param.addcdiv_. An update smaller than half a
 * bf16 step of the weight (2^-9 relative) is lost, as it is in PyTorch.
 * Vectorised: AVX-512 where the build has it, else a branch-free loop the compiler vectorises; both round
 * with bf16_vec.h's rule, so every CPU gives the same bits (tests/test_bf16_kernels.c). */
static void adam_tensor_bf16(bf16_t *w, const bf16_t *g, bf16_t *mo, bf16_t *ve, size_t n, OptimizerKind kind, float wd,
                             float lr, float b1, float b2, float eps, float bc1, float bc2_sqrt) {
    float step_size = lr / bc1;
    float decoupled = 1.0f - lr * wd;
    int l2 = wd != 0.0f && kind == OPT_ADAM, dec = wd != 0.0f && kind != OPT_ADAM;
    /* blocks of ADAM_BLOCK elements shared over the team (a multiple of 16: whole AVX-512 vectors) */
    long nb = (long)((n + ADAM_BLOCK - 1) / ADAM_BLOCK);
#pragma omp parallel for schedule(static) if (n > 32768)
    for (long bi = 0; bi < nb; bi++) {
        size_t i = (size_t)bi * ADAM_BLOCK, end = i + ADAM_BLOCK < n ? i + ADAM_BLOCK : n;
#ifdef BF16_VEC_AVX512
        const __m512 vwd = _mm512_set1_ps(wd), vdec = _mm512_set1_ps(decoupled), c1 = _mm512_set1_ps(1.0f - b1);
        const __m512 vb2 = _mm512_set1_ps(b2), c2 = _mm512_set1_ps(1.0f - b2), vbc2 = _mm512_set1_ps(bc2_sqrt);
        const __m512 veps = _mm512_set1_ps(eps), vstep = _mm512_set1_ps(step_size);
        for (; i + 16 <= end; i += 16) {
            __m512 grad = bf16_load16(g + i), wi = bf16_load16(w + i), m0 = bf16_load16(mo + i),
                   v0 = bf16_load16(ve + i);
            if (l2) grad = bf16q_512(_mm512_add_ps(grad, _mm512_mul_ps(vwd, wi)));
            if (dec) wi = bf16q_512(_mm512_mul_ps(wi, vdec));
            __m512 mi = bf16q_512(_mm512_add_ps(m0, _mm512_mul_ps(c1, _mm512_sub_ps(grad, m0))));
            __m512 vi = bf16q_512(
                _mm512_add_ps(bf16q_512(_mm512_mul_ps(vb2, v0)), _mm512_mul_ps(_mm512_mul_ps(c2, grad), grad)));
            __m512 den = bf16q_512(_mm512_div_ps(bf16q_512(_mm512_sqrt_ps(vi)), vbc2));
            den = bf16q_512(_mm512_add_ps(den, veps));
            __m512 wn = bf16q_512(_mm512_sub_ps(wi, _mm512_div_ps(_mm512_mul_ps(vstep, mi), den)));
            bf16_store16(mo + i, mi);
            bf16_store16(ve + i, vi);
            bf16_store16(w + i, wn);
        }
#endif
        /* the portable path (and the AVX-512 path's tail): the same operations, branch-free, vectorised */
#pragma omp simd
        for (size_t j = i; j < end; j++) {
            float grad = bf16_widen(g[j]), wi = bf16_widen(w[j]), m0 = bf16_widen(mo[j]), v0 = bf16_widen(ve[j]);
            grad = l2 ? bf16q(grad + wd * wi) : grad;
            wi = dec ? bf16q(wi * decoupled) : wi;
            float mi = bf16q(m0 + (1.0f - b1) * (grad - m0));
            float vi = bf16q(bf16q(b2 * v0) + (1.0f - b2) * grad * grad);
            float denom = bf16q(bf16q(bf16q(sqrtf(vi)) / bc2_sqrt) + eps);
            mo[j] = bf16_top(mi);
            ve[j] = bf16_top(vi);
            w[j] = bf16_top(bf16q(wi - step_size * mi / denom));
        }
    }
}

/* Bias corrections of update t (1-based). */
static void bias_corrections(double beta1, double beta2, long t, float *bc1, float *bc2_sqrt) {
    *bc1 = (float)(1.0 - pow(beta1, (double)t));
    *bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)t));
}

/* The fp32 buffers' update over [lo, hi) (moments mo, ve of that slice); wh: as adam_tensor. */
static void adam_fp32(Model *m, OptimizerKind kind, double lr, double beta1, double beta2, double eps, long t,
                      size_t lo, size_t hi, float *mo, float *ve, bf16_t *wh) {
    float bc1, bc2_sqrt;
    bias_corrections(beta1, beta2, t, &bc1, &bc2_sqrt);
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *ti = &m->tensors[i];
        /* the part of this tensor inside [lo, hi); each element's update is the same whatever the slice */
        size_t a = ti->offset > lo ? ti->offset : lo, b = ti->offset + ti->size < hi ? ti->offset + ti->size : hi;
        if (a >= b) continue;
        adam_tensor(m->params + a, m->grads + a, mo + (a - lo), ve + (a - lo), wh ? wh + a : NULL, b - a, kind,
                    (float)m->wd[i], (float)lr, (float)beta1, (float)beta2, (float)eps, bc1, bc2_sqrt);
    }
}

void adam_update(Model *m, OptimizerKind kind, double lr, double beta1, double beta2, double eps, long t) {
    Phase po = prof_push(PH_ADAM);
    if (m->prec != PREC_BF16_PURE) {
        /* bf16: every weight is updated here, so the bf16 copy is rounded in the same loop and is current */
        bf16_t *wh = m->prec == PREC_BF16 ? m->wbf : NULL;
        adam_fp32(m, kind, lr, beta1, beta2, eps, t, 0, m->n_params, m->adam_m, m->adam_v, wh);
        model_params_changed(m);
        if (wh) m->wbf_stale = 0;
        prof_pop(po);
        return;
    }
    float bc1, bc2_sqrt; /* bf16_pure: weights, gradients and moments in bf16 storage (hw, hg, hm, hv) */
    bias_corrections(beta1, beta2, t, &bc1, &bc2_sqrt);
    for (int i = 0; i < m->n_tensors; i++) {
        size_t o = m->tensors[i].offset;
        adam_tensor_bf16(m->hw + o, m->hg + o, m->hm + o, m->hv + o, m->tensors[i].size, kind, (float)m->wd[i],
                         (float)lr, (float)beta1, (float)beta2, (float)eps, bc1, bc2_sqrt);
    }
    model_params_changed(m);
    prof_pop(po);
}

void adam_update_slice(Model *m, OptimizerKind kind, double lr, double beta1, double beta2, double eps, long t,
                       size_t lo, size_t hi, float *mo, float *ve) {
    /* a slice: the other ranks' weights arrive later (all-gather), so the bf16 copy is rounded when next read */
    adam_fp32(m, kind, lr, beta1, beta2, eps, t, lo, hi, mo, ve, NULL);
    model_params_changed(m);
}
