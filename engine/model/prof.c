/* prof.c - see prof.h. */
#include "prof.h"

#include "common.h"

#include <string.h>

int prof_on;
double prof_sec[PH_N];
static Phase cur = PH_OTHER;
static double t_last;

static const char *names[PH_N] = {"mm_fwd_fp32",
                                  "mm_bwd_data_fp32",
                                  "mm_bwd_weights_fp32",
                                  "mm_fwd_bf16",
                                  "mm_bwd_data_bf16",
                                  "mm_bwd_weights_bf16",
                                  "attention_products",
                                  "attention_softmax",
                                  "convert",
                                  "rmsnorm",
                                  "rope",
                                  "swiglu",
                                  "cross_entropy",
                                  "embedding",
                                  "optimizer",
                                  "other"};

const char *prof_name(Phase p) { return p >= 0 && p < PH_N ? names[p] : "?"; }

void prof_enable(int on) {
    if (on) memset(prof_sec, 0, sizeof prof_sec);
    cur = PH_OTHER;
    t_last = now_seconds();
    prof_on = on;
}

static void charge(Phase next) {
    double t = now_seconds();
    prof_sec[cur] += t - t_last;
    t_last = t;
    cur = next;
}

void prof_push_(Phase p, Phase *prev) {
    *prev = cur;
    charge(p);
}

void prof_pop_(Phase prev) { charge(prev); }

void prof_at_(Phase p) { charge(p); }

void prof_flush(void) {
    if (prof_on) charge(cur);
}

double prof_now(void) { return prof_on ? now_seconds() : 0.0; }
