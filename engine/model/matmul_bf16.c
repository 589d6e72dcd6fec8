/* matmul_bf16.c - bf16 conversions and products (see matmul_bf16.h): oneDNN matmul primitives cached by
 * shape, and the widen-to-fp32 fallback for CPUs where oneDNN has no bf16 matmul. */
#include "matmul_bf16.h"

#include "bf16_vec.h"
#include "common.h"
#include "kernels.h"
#include "prof.h"

#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>

/* Conversions longer than this are split over the OpenMP team, in chunks of CONV_CHUNK values (a multiple of 16). */
#define CONV_PAR 65536
#define CONV_CHUNK ((size_t)16384)

#define CONV_CHUNKS(n) ((long)(((n) + CONV_CHUNK - 1) / CONV_CHUNK))
#define CONV_LEN(n, c) ((n) - (size_t)(c)*CONV_CHUNK < CONV_CHUNK ? (n) - (size_t)(c)*CONV_CHUNK : CONV_CHUNK)

/* The frame of the conversions below: the row operation ROW (an expression of the chunk's start off and length
 * len) over the chunks of [0, n), split over the OpenMP team when n is large, timed as PH_CONVERT. */
#define CONV_CHUNKED(n, ROW)                                                                                           \
    do {                                                                                                               \
        Phase o_ = prof_push(PH_CONVERT);                                                                              \
        _Pragma("omp parallel for schedule(static) if (n > CONV_PAR)") for (long c = 0; c < CONV_CHUNKS(n); c++) {     \
            size_t off = (size_t)c * CONV_CHUNK, len = CONV_LEN(n, c);                                                 \
            ROW;                                                                                                       \
        }                                                                                                              \
        prof_pop(o_);                                                                                                  \
    } while (0)

void bf16_round_vec(bf16_t *dst, const float *src, size_t n) {
    CONV_CHUNKED(n, bf16_round_row(dst + off, src + off, len));
}

void bf16_widen_vec(float *dst, const bf16_t *src, size_t n) {
    CONV_CHUNKED(n, bf16_widen_row(dst + off, src + off, len));
}

void bf16_quantize_vec(float *x, size_t n) { CONV_CHUNKED(n, bf16_quantize_row(x + off, len)); }

void bf16_keep_vec(bf16_t *h, float *f, size_t n) { CONV_CHUNKED(n, bf16_keep_row(h + off, f + off, len)); }

/* the one sum-of-squares helper (common.h) in sumsq_f32's blocks, so the two sums agree bit for bit */
double bf16_sumsq(const bf16_t *x, size_t n) { return sumsq_blocked(NULL, x, n, SUMSQ_BLOCK); }

/* ---------------------------------------------------------------- oneDNN primitives */

typedef struct {
    int dt, ta, tb, M, N, K, lda, ldb, ldc, beta; /* the key; dt is dnnl_bf16 or dnnl_f32 */
    int dst_bf16;                                 /* the output is bf16 (rounded from the fp32 sum), not fp32 */
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
} MmEntry;

#define MM_CACHE_MAX 256

static struct {
    int state; /* 0 undecided, 1 oneDNN bf16, 2 fallback */
    char why[160];
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    int have_engine;
    MmEntry cache[MM_CACHE_MAX];
    int n_cache;
    float *wa, *wb, *wc; /* fallback scratch (widened inputs; mm_bf16_acc's widened output) */
    size_t wa_n, wb_n, wc_n;
} g;

static int engine_up(void) {
    if (g.have_engine) return 0;
    if (dnnl_engine_create(&g.eng, dnnl_cpu, 0) != dnnl_success) return -1;
    if (dnnl_stream_create(&g.stream, g.eng, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(g.eng);
        return -1;
    }
    g.have_engine = 1;
    return 0;
}

/* op(X) of a row-major matrix with leading dimension ld as a rows x cols oneDNN descriptor: the
 * transpose is the same memory read with swapped strides. */
static dnnl_status_t desc(dnnl_memory_desc_t *d, int rows, int cols, int trans, int ld, dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(d, 2, dims, dt, strides);
}

static void entry_free(MmEntry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->wei) dnnl_memory_destroy(e->wei);
    if (e->dst) dnnl_memory_destroy(e->dst);
    memset(e, 0, sizeof *e);
}

/* Creates the primitive of key k; returns 0, or -1 when oneDNN has no implementation (or fails). */
static int entry_create(MmEntry *k) {
    dnnl_data_type_t dt = (dnnl_data_type_t)k->dt;
    dnnl_memory_desc_t ds, dw, dd;
    if (desc(&ds, k->M, k->K, k->ta, k->lda, dt) || desc(&dw, k->K, k->N, k->tb, k->ldb, dt) ||
        desc(&dd, k->M, k->N, 0, k->ldc, k->dst_bf16 ? dnnl_bf16 : dnnl_f32))
        return -1;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &ds, &dw, NULL, &dd) != dnnl_success) return -1;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    int rc = -1;
    dnnl_primitive_desc_t pd = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return -1;
    if (k->beta) { /* C += product: oneDNN's sum post-op reads dst before writing it */
        if (dnnl_post_ops_create(&po) != dnnl_success || dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success ||
            dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
            goto done;
    }
    if (dnnl_primitive_desc_create(&pd, &md, attr, g.eng, NULL) != dnnl_success) goto done;
    if (dnnl_primitive_create(&k->prim, pd) != dnnl_success) goto done;
    if (dnnl_memory_create(&k->src, &ds, g.eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&k->wei, &dw, g.eng, DNNL_MEMORY_NONE) != dnnl_success ||
        dnnl_memory_create(&k->dst, &dd, g.eng, DNNL_MEMORY_NONE) != dnnl_success)
        goto done;
    rc = 0;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    if (rc) entry_free(k);
    return rc;
}

/* The cached primitive of this key, created on first use; NULL if oneDNN cannot make it. */
static MmEntry *entry_get(const MmEntry *key) {
    for (int i = 0; i < g.n_cache; i++) {
        MmEntry *e = &g.cache[i];
        if (e->dt == key->dt && e->ta == key->ta && e->tb == key->tb && e->M == key->M && e->N == key->N &&
            e->K == key->K && e->lda == key->lda && e->ldb == key->ldb && e->ldc == key->ldc && e->beta == key->beta &&
            e->dst_bf16 == key->dst_bf16)
            return e;
    }
    if (engine_up()) return NULL;
    if (g.n_cache == MM_CACHE_MAX) { /* a model has a few dozen shapes; start over rather than grow */
        for (int i = 0; i < g.n_cache; i++) entry_free(&g.cache[i]);
        g.n_cache = 0;
    }
    MmEntry *e = &g.cache[g.n_cache];
    *e = *key;
    e->prim = NULL;
    e->src = e->wei = e->dst = NULL;
    if (entry_create(e)) return NULL;
    g.n_cache++;
    return e;
}

static int run_onednn(int dt, int ta, int tb, int M, int N, int K, const void *A, int lda, const void *B, int ldb,
                      float beta, void *C, int ldc, int dst_bf16) {
    MmEntry key = {.dt = dt,
                   .ta = !!ta,
                   .tb = !!tb,
                   .M = M,
                   .N = N,
                   .K = K,
                   .lda = lda,
                   .ldb = ldb,
                   .ldc = ldc,
                   .beta = beta != 0.0f,
                   .dst_bf16 = dst_bf16};
    MmEntry *e = entry_get(&key);
    if (!e) return -1;
    if (dnnl_memory_set_data_handle(e->src, (void *)A) != dnnl_success ||
        dnnl_memory_set_data_handle(e->wei, (void *)B) != dnnl_success ||
        dnnl_memory_set_data_handle(e->dst, C) != dnnl_success)
        return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_WEIGHTS, e->wei}, {DNNL_ARG_DST, e->dst}};
    if (dnnl_primitive_execute(e->prim, g.stream, 3, args) != dnnl_success) return -1;
    return dnnl_stream_wait(g.stream) == dnnl_success ? 0 : -1;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
        case dnnl_cpu_isa_avx512_core_amx: return "AMX";
        case dnnl_cpu_isa_avx512_core_bf16: return "AVX512-BF16";
        case dnnl_cpu_isa_avx512_core_vnni: return "AVX512-VNNI, bf16 emulated";
        case dnnl_cpu_isa_avx512_core: return "AVX512, bf16 emulated";
        case dnnl_cpu_isa_avx2_vnni: return "AVX2-VNNI";
        case dnnl_cpu_isa_avx2: return "AVX2";
        default: return "older than AVX2";
    }
}

/* Decide once: try a small bf16 primitive. */
static void decide(void) {
    if (g.state) return;
    const char *force = getenv("ALPHADECAY_BF16_BACKEND");
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (force && !strcmp(force, "fallback")) {
        g.state = 2;
        snprintf(g.why, sizeof g.why, "fallback: forced by ALPHADECAY_BF16_BACKEND (bf16 widened to fp32, sgemm)");
        return;
    }
    MmEntry probe = {.dt = dnnl_bf16, .M = 16, .N = 16, .K = 16, .lda = 16, .ldb = 16, .ldc = 16};
    if (entry_get(&probe)) {
        g.state = 1;
        snprintf(g.why, sizeof g.why, "oneDNN %d.%d matmul (%s)", dnnl_version()->major, dnnl_version()->minor,
                 isa_name(isa));
    } else {
        g.state = 2;
        snprintf(g.why, sizeof g.why,
                 "fallback: oneDNN %d.%d has no bf16 matmul on this CPU (%s); bf16 widened to fp32, sgemm",
                 dnnl_version()->major, dnnl_version()->minor, isa_name(isa));
    }
}

const char *mm_bf16_backend(void) {
    decide();
    return g.why;
}

const char *mm_bf16_kind(void) {
    decide();
    return g.state == 1 ? "onednn" : "fallback";
}

int mm_bf16_native(void) {
    decide();
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return g.state == 1 && (isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx);
}

/* ---------------------------------------------------------------- per-shape record */

/* Which path each product shape took, how often, and (with prof.h's timers on) its time: bench reports it. */
#define MM_SHAPES_MAX 128
static MmShape shapes[MM_SHAPES_MAX];
static int n_shapes;

static MmShape *shape_rec(int ta, int tb, int M, int N, int K, int acc) {
    for (int i = 0; i < n_shapes; i++) {
        MmShape *r = &shapes[i];
        if (r->ta == ta && r->tb == tb && r->M == M && r->N == N && r->K == K && r->acc == acc) return r;
    }
    if (n_shapes == MM_SHAPES_MAX) return NULL;
    shapes[n_shapes] = (MmShape){.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .acc = acc};
    return &shapes[n_shapes++];
}

static void shape_note(MmShape *r, int onednn, double t0) {
    if (!r) return;
    r->calls++;
    r->path = onednn ? 1 : 2;
    if (prof_on) r->seconds += prof_now() - t0;
}

int mm_bf16_shapes(const MmShape **out) {
    *out = shapes;
    return n_shapes;
}

void mm_bf16_shapes_reset(void) { n_shapes = 0; }

/* ---------------------------------------------------------------- fallback */

/* op(X) (rows x cols of the product) widened into a compact buffer, stored as X is (transposed or not). */
static float *widen_operand(float **buf, size_t *cap, const bf16_t *X, int ld, int trans, int rows, int cols) {
    int r = trans ? cols : rows, c = trans ? rows : cols; /* X's stored shape */
    size_t need = (size_t)r * c;
    if (need > *cap) {
        free(*buf);
        *buf = malloc((need ? need : 1) * sizeof(float));
        *cap = *buf ? need : 0;
        if (!*buf) {
            fprintf(stderr, "alphadecay: out of memory in the bf16 product fallback\n");
            abort();
        }
    }
    float *out = *buf;
    Phase o = prof_push(PH_CONVERT);
#pragma omp parallel for schedule(static) if (need > CONV_PAR)
    for (int i = 0; i < r; i++) bf16_widen_row(out + (size_t)i * c, X + (size_t)i * ld, (size_t)c);
    prof_pop(o);
    return out;
}

static void run_fallback(int ta, int tb, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                         float beta, float *C, int ldc) {
    const float *a = widen_operand(&g.wa, &g.wa_n, A, lda, ta, M, K);
    const float *b = widen_operand(&g.wb, &g.wb_n, B, ldb, tb, K, N);
    sgemm_threaded(ta, tb, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, beta, C, ldc);
}

/* ---------------------------------------------------------------- entry points */

void mm_bf16(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
             float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* an empty sum: C = beta C */
        if (beta == 0.0f)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    decide();
    MmShape *rec = shape_rec(!!trans_a, !!trans_b, M, N, K, 0);
    double t0 = prof_now();
    if (g.state == 1 && run_onednn(dnnl_bf16, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, 0) == 0) {
        shape_note(rec, 1, t0);
        return;
    }
    run_fallback(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
    shape_note(rec, 0, t0);
}

int mm_onednn_f32(int trans_a, int trans_b, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc) {
    return run_onednn(dnnl_f32, trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, 0);
}

/* C (bf16) = round(op(A) op(B) [+ widened C when acc]): mm_bf16_acc (acc 1) and mm_bf16_round (acc 0). */
static void mm_bf16_to_bf16(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B,
                            int ldb, bf16_t *C, int ldc, int acc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* an empty sum: C + 0 is C; the rounded zero product is +0 */
        if (!acc)
            for (int i = 0; i < M; i++) memset(C + (size_t)i * ldc, 0, (size_t)N * sizeof(bf16_t));
        return;
    }
    decide();
    MmShape *rec = shape_rec(!!trans_a, !!trans_b, M, N, K, acc ? 1 : 2);
    double t0 = prof_now();
    if (g.state == 1 &&
        run_onednn(dnnl_bf16, trans_a, trans_b, M, N, K, A, lda, B, ldb, acc ? 1.0f : 0.0f, C, ldc, 1) == 0) {
        shape_note(rec, 1, t0);
        return;
    }
    /* fallback: the product (plus C widened, when acc) in a compact fp32 scratch, rounded into C */
    size_t need = (size_t)M * N;
    if (need > g.wc_n) {
        free(g.wc);
        g.wc = malloc(need * sizeof(float));
        g.wc_n = g.wc ? need : 0;
        if (!g.wc) {
            fprintf(stderr, "alphadecay: out of memory in the bf16 product fallback\n");
            abort();
        }
    }
    Phase o;
    if (acc) {
        o = prof_push(PH_CONVERT);
#pragma omp parallel for schedule(static) if (need > CONV_PAR)
        for (int i = 0; i < M; i++) bf16_widen_row(g.wc + (size_t)i * N, C + (size_t)i * ldc, (size_t)N);
        prof_pop(o);
    }
    run_fallback(trans_a, trans_b, M, N, K, A, lda, B, ldb, acc ? 1.0f : 0.0f, g.wc, N);
    o = prof_push(PH_CONVERT);
#pragma omp parallel for schedule(static) if (need > CONV_PAR)
    for (int i = 0; i < M; i++) bf16_round_row(C + (size_t)i * ldc, g.wc + (size_t)i * N, (size_t)N);
    prof_pop(o);
    shape_note(rec, 0, t0);
}

void mm_bf16_acc(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                 bf16_t *C, int ldc) {
    mm_bf16_to_bf16(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, 1);
}

void mm_bf16_round(int trans_a, int trans_b, int M, int N, int K, const bf16_t *A, int lda, const bf16_t *B, int ldb,
                   bf16_t *C, int ldc) {
    mm_bf16_to_bf16(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc, 0);
}

int mm_bf16_cache_size(void) { return g.n_cache; }

void mm_bf16_release(void) {
    for (int i = 0; i < g.n_cache; i++) entry_free(&g.cache[i]);
    g.n_cache = 0;
    if (g.have_engine) {
        dnnl_stream_destroy(g.stream);
        dnnl_engine_destroy(g.eng);
        g.have_engine = 0;
    }
    free(g.wa);
    free(g.wb);
    free(g.wc);
    g.wa = g.wb = g.wc = NULL;
    g.wa_n = g.wb_n = g.wc_n = 0;
    g.state = 0;
}
