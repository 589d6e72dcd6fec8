/* prof.h - where a training step's time goes: wall-clock seconds per phase (products by precision and
 * direction, conversions, the element-wise kernels, the optimizer), for `alphadecay bench`.
 *
 * Compiled in, off unless prof_enable(1): then every entry point below is one predictable branch and no
 * clock is read, so training is unaffected. On, each phase change reads the monotonic clock once (a few
 * hundred reads per step, microseconds against a step of milliseconds). The timers only read the clock;
 * they never touch data, so results are the same on or off.
 *
 * Phases nest: prof_push(P) charges the time since the last change to the phase running so far and makes
 * P current; prof_pop(prev) charges the time since to P and makes prev current again. Whatever no kernel
 * claims is charged to PH_OTHER. Call from outside OpenMP parallel regions (the kernels thread
 * themselves); attention, which interleaves products and softmax inside one parallel loop, measures the
 * split per thread and moves the products' share with prof_move. */
#ifndef PROF_H
#define PROF_H

typedef enum {
    PH_MM_FWD_F32,  /* fp32 Linear / lm_head products (sgemm): forward */
    PH_MM_BWDD_F32, /*   backward, input gradient dx = dout W */
    PH_MM_BWDW_F32, /*   backward, weight gradient dW += dout^T x */
    PH_MM_FWD_BF16, /* the same with bf16 inputs (mm_bf16) */
    PH_MM_BWDD_BF16,
    PH_MM_BWDW_BF16,
    PH_ATT_MM,   /* attention's products (scores, P V and their gradients; bf16 inputs in the bf16 modes) */
    PH_ATT_GLUE, /* attention's softmax, its backward, masking */
    PH_CONVERT,  /* fp32 <-> bf16 conversions (rounding, widening) */
    PH_NORM,     /* RMSNorm forward and backward */
    PH_ROPE,
    PH_SWIGLU, /* SiLU(gate) * up, forward and backward */
    PH_CE,     /* cross-entropy forward and backward */
    PH_EMBED,  /* embedding lookup and its gradient */
    PH_ADAM,   /* the optimizer update */
    PH_OTHER,  /* everything else (residual copies, zeroing gradients, ...) */
    PH_N
} Phase;

extern int prof_on;
extern double prof_sec[PH_N];

const char *prof_name(Phase p); /* "mm_fwd_fp32", ... (bench.json keys) */
/* Turns the timers on (zeroing them) or off (keeping what they measured). */
void prof_enable(int on);
void prof_push_(Phase p, Phase *prev);
void prof_pop_(Phase prev);

/* Enter phase p; returns the phase to give prof_pop. */
static inline Phase prof_push(Phase p) {
    Phase prev = PH_OTHER;
    if (prof_on) prof_push_(p, &prev);
    return prev;
}
static inline void prof_pop(Phase prev) {
    if (prof_on) prof_pop_(prev);
}
/* Makes p the current phase (the passes mark each section with it; nested calls push and pop). */
void prof_at_(Phase p);
static inline void prof_at(Phase p) {
    if (prof_on) prof_at_(p);
}
/* Moves `sec` seconds already charged to `from` to `to` (attention's per-thread split). */
static inline void prof_move(Phase from, Phase to, double sec) {
    if (prof_on) prof_sec[from] -= sec, prof_sec[to] += sec;
}
/* Charges the time since the last change to the current phase (before reading prof_sec). */
void prof_flush(void);
/* The monotonic clock when the timers are on, 0 when off (per-thread timing inside kernels). */
double prof_now(void);

#endif
