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

/* Elements per block of the bf16 update: a multiple of 32 (whole pairs of AVX-512 vectors), about 12 KB of state. */
#define ADAM_BLOCK 1024

#ifdef BF16_VEC_AVX512
/* bf16q_512 without its NaN fix-up, for the update's intermediate roundings: the same bits except that a NaN keeps
 * its own bits, provided its low 16 bits are zero (adding at most 0x8000 then carries nothing into the top half).
 * Every NaN the update's arithmetic makes is such a NaN when its constants are not NaN: its operands are widened
 * bf16 numbers, x86's default NaN is 0xFFC00000, and a NaN operand's payload is kept (quieting sets bit 22). Such a
 * NaN makes every stored result computed from it NaN, and those are rounded with the fix-up (0x7FC0), so the
 * stored bits are the same as with the fix-up everywhere. */
static inline __m512 bf16q_512_keepnan(__m512 x) {
    __m512i r = bf16q_512_bias(_mm512_castps_si512(x));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xFFFF0000u)));
}

typedef struct {
    __m512 wd, dec, c1, b2, c2, bc2, eps, step;
    int l2, decay;
} AdamVec;

/* One vector's update: gr, wi, m0, v0 widened; the new m, v and weight (bf16 numbers) in *mi, *vi, *wn. */
static inline void adam_vec(const AdamVec *k, __m512 gr, __m512 wi, __m512 m0, __m512 v0, __m512 *mi, __m512 *vi,
                            __m512 *wn) {
    if (k->l2) gr = bf16q_512_keepnan(_mm512_add_ps(gr, _mm512_mul_ps(k->wd, wi)));
    if (k->decay) wi = bf16q_512_keepnan(_mm512_mul_ps(wi, k->dec));
    *mi = bf16q_512(_mm512_add_ps(m0, _mm512_mul_ps(k->c1, _mm512_sub_ps(gr, m0))));
    *vi = bf16q_512(
        _mm512_add_ps(bf16q_512_keepnan(_mm512_mul_ps(k->b2, v0)), _mm512_mul_ps(_mm512_mul_ps(k->c2, gr), gr)));
    __m512 den = bf16q_512_keepnan(_mm512_div_ps(bf16q_512_keepnan(_mm512_sqrt_ps(*vi)), k->bc2));
    den = bf16q_512_keepnan(_mm512_add_ps(den, k->eps));
    *wn = bf16q_512(_mm512_sub_ps(wi, _mm512_div_ps(_mm512_mul_ps(k->step, *mi), den)));
}

/* 32 bf16 values as two vectors of exact widenings: the even-indexed ones (shifted up) and the odd-indexed ones
 * (already in the top halves). The update is element-wise, so the lanes' order does not matter. */
static inline void bf16_load32(const bf16_t *p, __m512 *even, __m512 *odd) {
    __m512i x = _mm512_loadu_si512(p);
    *even = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    *odd = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xFFFF0000u)));
}

/* bf16_load32's inverse for bf16 numbers (low halves zero). */
static inline void bf16_store32(bf16_t *p, __m512 even, __m512 odd) {
    _mm512_storeu_si512(p, _mm512_or_si512(_mm512_castps_si512(odd), _mm512_srli_epi32(_mm512_castps_si512(even), 16)));
}
#endif

/* bf16_pure: the same update as PyTorch's Adam computes on bf16 tensors. Each tensor operation of
 * torch.optim.Adam's step computes in fp32 and rounds its result to bf16 (q below), so we round at the same
 * points: the L2 term added to the gradient (or AdamW's decay), exp_avg.lerp_, exp_avg_sq.mul_ then
 * .addcmul_, the denominator's sqrt, division and + eps, and param.addcdiv_. An update smaller than half a
 * bf16 step of the weight (2^-9 relative) is lost, as it is in PyTorch.
 * Vectorised: AVX-512 where the build has it (32 elements a step, unless a constant is NaN), else a branch-free
 * loop the compiler vectorises; both round with bf16_vec.h's rule, so every CPU gives the same bits
 * (tests/test_bf16_kernels.c). */
static void adam_tensor_bf16(bf16_t *w, const bf16_t *g, bf16_t *mo, bf16_t *ve, size_t n, OptimizerKind kind, float wd,
                             float lr, float b1, float b2, float eps, float bc1, float bc2_sqrt) {
    float step_size = lr / bc1;
    float decoupled = 1.0f - lr * wd;
    int l2 = wd != 0.0f && kind == OPT_ADAM, dec = wd != 0.0f && kind != OPT_ADAM;
#ifdef BF16_VEC_AVX512
    /* bf16q_512_keepnan's condition; a NaN constant leaves it all to the element-wise loop */
    int vec = !isnan(wd) && !isnan(decoupled) && !isnan(b1) && !isnan(b2) && !isnan(bc2_sqrt) && !isnan(eps) &&
              !isnan(step_size);
    const AdamVec k = {_mm512_set1_ps(wd),
                       _mm512_set1_ps(decoupled),
                       _mm512_set1_ps(1.0f - b1),
                       _mm512_set1_ps(b2),
                       _mm512_set1_ps(1.0f - b2),
                       _mm512_set1_ps(bc2_sqrt),
                       _mm512_set1_ps(eps),
                       _mm512_set1_ps(step_size),
                       l2,
                       dec};
#endif
    /* blocks of ADAM_BLOCK elements shared over the team */
    long nb = (long)((n + ADAM_BLOCK - 1) / ADAM_BLOCK);
#pragma omp parallel for schedule(static) if (n > 32768)
    for (long bi = 0; bi < nb; bi++) {
        size_t i = (size_t)bi * ADAM_BLOCK, end = i + ADAM_BLOCK < n ? i + ADAM_BLOCK : n;
#ifdef BF16_VEC_AVX512
        for (; vec && i + 32 <= end; i += 32) {
            __m512 ge, go, we, wo, me, mo_, ve_, vo, mie, mio, vie, vio, wne, wno;
            bf16_load32(g + i, &ge, &go), bf16_load32(w + i, &we, &wo);
            bf16_load32(mo + i, &me, &mo_), bf16_load32(ve + i, &ve_, &vo);
            adam_vec(&k, ge, we, me, ve_, &mie, &vie, &wne);
            adam_vec(&k, go, wo, mo_, vo, &mio, &vio, &wno);
            bf16_store32(mo + i, mie, mio), bf16_store32(ve + i, vie, vio), bf16_store32(w + i, wne, wno);
        }
        for (; vec && i + 16 <= end; i += 16) {
            __m512 mi, vi, wn;
            adam_vec(&k, bf16_load16(g + i), bf16_load16(w + i), bf16_load16(mo + i), bf16_load16(ve + i), &mi, &vi,
                     &wn);
            bf16_store16(mo + i, mi), bf16_store16(ve + i, vi), bf16_store16(w + i, wn);
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
