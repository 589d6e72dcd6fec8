/* test_prof.c - the per-phase timers of prof.h (what `alphadecay bench` reports as "where the time goes"):
 *  - they change no result: a training step with the timers on gives bit-identical loss, weights,
 *    gradients and moments to one with them off, in every precision;
 *  - phases are charged where the precision says: an fp32 step has no conversions and no bf16 products,
 *    a bf16 step no fp32 Linear products; products, the optimizer and the element-wise kernels are seen;
 *  - off, nothing is charged.
 * No check depends on how long anything takes, only on which phases the clock was read in. */
#include "check.h"
#include "model.h"
#include "optim.h"
#include "prof.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static ModelConfig cfg(void) { return test_model_config(64, 172, 4, 2, 96, 64); }

/* One update (two micro-steps and Adam) on a fresh model; the loss, and every state buffer's bytes appended to
 * *state (malloc'd, *len bytes). */
static double step(Precision p, int timers, unsigned char **state, size_t *len) {
    const int B = 2, T = 16;
    ModelConfig c = cfg();
    Model m;
    Err e;
    if (model_build(&m, &c, &e) || model_set_precision(&m, p, &e) || model_alloc_train(&m, &e) ||
        model_alloc_acts(&m, B, T, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    model_init_weights(&m, 3);
    for (int i = 0; i < m.n_tensors; i++) m.wd[i] = 0.1;
    int in[2 * 2 * 16], tg[2 * 2 * 16];
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < 2 * B * T; i++) in[i] = (int)rng_below(&r, 96), tg[i] = (int)rng_below(&r, 96);
    prof_enable(timers);
    double loss = 0;
    model_zero_grad(&m);
    for (int mb = 0; mb < 2; mb++) {
        loss += model_forward(&m, in + mb * B * T, tg + mb * B * T, B, T, NULL);
        model_backward(&m, 0.5f);
    }
    adam_update(&m, OPT_ADAMW, 1e-3, 0.9, 0.999, 1e-8, 1);
    loss += model_forward(&m, in, tg, B, T, NULL); /* with the updated weights */
    prof_flush();
    prof_enable(0);
    size_t n = m.n_params, es = p == PREC_BF16_PURE ? sizeof(bf16_t) : sizeof(float);
    *len = 4 * n * es;
    *state = malloc(*len);
    const void *buf[4] = {m.params ? (void *)m.params : m.hw, m.grads ? (void *)m.grads : m.hg,
                          m.adam_m ? (void *)m.adam_m : m.hm, m.adam_v ? (void *)m.adam_v : m.hv};
    for (int k = 0; k < 4; k++) memcpy(*state + k * n * es, buf[k], n * es);
    model_free(&m);
    return loss;
}

int main(void) {
    const Precision precs[3] = {PREC_FP32, PREC_BF16, PREC_BF16_PURE};
    char name[160];
    for (int k = 0; k < 3; k++) {
        const char *pn = precision_name(precs[k]);
        unsigned char *s0, *s1;
        size_t n0, n1;
        prof_enable(1); /* zeroes the timers */
        prof_enable(0);
        double l0 = step(precs[k], 0, &s0, &n0);
        double off[PH_N];
        memcpy(off, prof_sec, sizeof off);
        double l1 = step(precs[k], 1, &s1, &n1);
        double on[PH_N];
        memcpy(on, prof_sec, sizeof on);
        snprintf(name, sizeof name, "%s: timers on give the same loss, weights, gradients and moments, bit for bit",
                 pn);
        CHECK(l0 == l1 && n0 == n1 && !memcmp(s0, s1, n0), name, "loss %.9g vs %.9g", l0, l1);
        free(s0);
        free(s1);
        int zero = 1;
        for (int p = 0; p < PH_N; p++) zero &= off[p] == 0;
        snprintf(name, sizeof name, "%s: timers off charge nothing", pn);
        CHECK(zero, name, "a phase was charged with the timers off");
        int f32 = precs[k] == PREC_FP32;
        snprintf(name, sizeof name, "%s: products charged to the %s phases, none to the other precision's", pn,
                 f32 ? "fp32" : "bf16");
        int mine = f32 ? PH_MM_FWD_F32 : PH_MM_FWD_BF16, other = f32 ? PH_MM_FWD_BF16 : PH_MM_FWD_F32;
        CHECK(on[mine] > 0 && on[mine + 1] > 0 && on[mine + 2] > 0 && on[other] == 0 && on[other + 1] == 0 &&
                  on[other + 2] == 0,
              name, "fwd %g bwd-data %g bwd-weights %g; other precision %g %g %g", on[mine], on[mine + 1], on[mine + 2],
              on[other], on[other + 1], on[other + 2]);
        snprintf(name, sizeof name, "%s: conversions charged %s", pn, f32 ? "never" : "(bf16 rounding and widening)");
        CHECK(f32 ? on[PH_CONVERT] == 0 : on[PH_CONVERT] > 0, name, "convert %g", on[PH_CONVERT]);
        snprintf(name, sizeof name, "%s: attention, norm, rope, swiglu, cross-entropy, embedding and Adam are charged",
                 pn);
        CHECK(on[PH_ATT_MM] > 0 && on[PH_ATT_GLUE] > 0 && on[PH_NORM] > 0 && on[PH_ROPE] > 0 && on[PH_SWIGLU] > 0 &&
                  on[PH_CE] > 0 && on[PH_EMBED] > 0 && on[PH_ADAM] > 0,
              name, "att %g/%g norm %g rope %g swiglu %g ce %g embed %g adam %g", on[PH_ATT_MM], on[PH_ATT_GLUE],
              on[PH_NORM], on[PH_ROPE], on[PH_SWIGLU], on[PH_CE], on[PH_EMBED], on[PH_ADAM]);
    }
    return check_summary();
}
