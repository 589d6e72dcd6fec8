/* bf16_vec.h - bf16 rounding and widening for vector loops: 16 lanes at a time with AVX-512, and a
 * branch-free scalar form that `omp simd` loops vectorise on any CPU. Both give bit for bit what
 * bf16_round / bf16_widen / bf16_quantize (matmul_bf16.h) give: round to nearest even, NaN -> 0x7FC0.
 * (AVX512-BF16's vcvtneps2bf16 rounds the same way but keeps a NaN's payload, so it is not used: a
 * result must not depend on which CPU computed it.) */
#ifndef BF16_VEC_H
#define BF16_VEC_H

#include "matmul_bf16.h"

#include <stdint.h>
#include <string.h>

/* The bits of bf16_quantize(x) as a float's bits: rounding that a vectoriser can see through. */
static inline uint32_t bf16q_bits(uint32_t u) {
    uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    return (u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC00000u : r;
}

static inline float bf16q(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u = bf16q_bits(u);
    memcpy(&x, &u, 4);
    return x;
}

/* A float that is already a bf16 number, as its bf16. */
static inline bf16_t bf16_top(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (bf16_t)(u >> 16);
}

#if defined(__AVX512F__)
#include <immintrin.h>
#define BF16_VEC_AVX512 1

/* u + 0x7FFF + (bit 16 of u), masked to the top half, as bf16q_bits: the odd case is a masked add (one op fewer than
 * shifting the bit down); the NaN test is x unordered with itself (one compare, the same lanes as
 * |u| > 0x7F800000), and the masked and writes the canonical NaN into those lanes in the same instruction. Checked
 * against the former shift-and-compare form on all 2^32 inputs when it was changed; tests/test_bf16_kernels.c
 * checks it against bf16_quantize. */
static inline __m512i bf16q_512_bias(__m512i u) {
    __m512i r = _mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF));
    return _mm512_mask_add_epi32(r, _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x10000)), r, _mm512_set1_epi32(1));
}

static inline __m512 bf16q_512(__m512 x) {
    __m512i r = bf16q_512_bias(_mm512_castps_si512(x));
    __mmask16 num = _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q);
    return _mm512_castsi512_ps(
        _mm512_mask_and_epi32(_mm512_set1_epi32(0x7FC00000), num, r, _mm512_set1_epi32((int)0xFFFF0000u)));
}

/* 16 bf16 values widened (exact). */
static inline __m512 bf16_load16(const bf16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* 16 floats that are bf16 numbers (bf16q_512's results) stored as bf16. */
static inline void bf16_store16(bf16_t *p, __m512 q) {
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(q), 16)));
}
#endif

/* Rows of any length: whole vectors, then the branch-free loop for the tail (or all of it without AVX-512). */

/* dst = bf16_round(src) */
static inline void bf16_round_row(bf16_t *dst, const float *src, size_t n) {
    size_t i = 0;
#ifdef BF16_VEC_AVX512
    for (; i + 16 <= n; i += 16) bf16_store16(dst + i, bf16q_512(_mm512_loadu_ps(src + i)));
#endif
#pragma omp simd
    for (size_t j = i; j < n; j++) dst[j] = bf16_top(bf16q(src[j]));
}

/* dst = bf16_widen(src) */
static inline void bf16_widen_row(float *dst, const bf16_t *src, size_t n) {
    size_t i = 0;
#ifdef BF16_VEC_AVX512
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, bf16_load16(src + i));
#endif
#pragma omp simd
    for (size_t j = i; j < n; j++) dst[j] = bf16_widen(src[j]);
}

/* x = bf16_quantize(x) */
static inline void bf16_quantize_row(float *x, size_t n) {
    size_t i = 0;
#ifdef BF16_VEC_AVX512
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, bf16q_512(_mm512_loadu_ps(x + i)));
#endif
#pragma omp simd
    for (size_t j = i; j < n; j++) x[j] = bf16q(x[j]);
}

/* h = bf16_round(f) and f = the rounded values (model.c's keep) */
static inline void bf16_keep_row(bf16_t *h, float *f, size_t n) {
    size_t i = 0;
#ifdef BF16_VEC_AVX512
    for (; i + 16 <= n; i += 16) {
        __m512 q = bf16q_512(_mm512_loadu_ps(f + i));
        _mm512_storeu_ps(f + i, q);
        bf16_store16(h + i, q);
    }
#endif
#pragma omp simd
    for (size_t j = i; j < n; j++) {
        float q = bf16q(f[j]);
        f[j] = q;
        h[j] = bf16_top(q);
    }
}

#endif
