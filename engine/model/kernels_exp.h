/* kernels_exp.h - the vectorisable exp shared by the kernels (softmax, sigmoid, cross-entropy).
 *
 * exp(x) = 2^n * e^r with n = round(x / ln2), |r| <= ln2/2; e^r by its degree-7 Taylor polynomial
 * (truncation < 6e-9 relative, total error a few float ulps). Inputs are clamped to [-87, 88], so
 * exp of a very negative number is ~1.6e-38 rather than 0; no caller can tell the difference.
 * Branch-free, so `omp simd` loops calling it vectorise (glibc's expf would not without -ffast-math). */
#ifndef KERNELS_EXP_H
#define KERNELS_EXP_H

#include <stdint.h>

static inline float exp_fast(float xin) {
    float x = xin < -87.0f ? -87.0f : xin;
    x = x > 88.0f ? 88.0f : x;
    /* NaN passes both clamps; converting it to int is undefined, so compute on 0 and return the NaN
     * (a diverged run must still see NaN, not a finite value) */
    int is_nan = x != x;
    x = is_nan ? 0.0f : x;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest integer */
    float r = x - n * 0.693145751953125f;                             /* ln2 split hi + lo */
    r = r - n * 1.428606820309417232e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } s;
    s.i = ((int32_t)n + 127) << 23;
    return is_nan ? xin : p * s.f;
}

#endif
