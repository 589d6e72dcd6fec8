/* safetensors.c - reading and writing the safetensors format (Hugging Face).
 *
 * File layout: u64 little-endian N, then N bytes of JSON header
 *   {"__metadata__": {"format": "pt"}, NAME: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...}
 * then the data buffer; offsets are relative to the buffer start. We write F32 (or BF16, rounded to nearest
 * even, for checkpoint.dtype: bf16), tensors in table order, contiguous, header padded with spaces so the data starts 8-byte aligned. We read F32, F16 and
 * BF16 (converted to float), any key order, extra tensors ignored. Every offset is checked against the
 * file size when the header is read, so a truncated file is rejected before any data is touched.
 * Floats are stored as their raw bytes, so a save/load round trip is bit-exact. */
#include "safetensors.h"
#include "json.h"
#include "matmul_bf16.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the format is little-endian)"
#endif

#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define ST_MAX_DIMS 8

typedef enum { DT_OTHER, DT_F32, DT_F16, DT_BF16 } DType;

typedef struct {
    const char *name; /* points into the parsed header */
    const char *dtype_name;
    DType dtype;
    int ndim;
    long shape[ST_MAX_DIMS];
    uint64_t begin, end; /* byte offsets into the data buffer */
} StEntry;

typedef struct {
    FILE *f;
    const char *path;
    Json *header;
    StEntry *ents;
    int n;
    uint64_t data_start; /* 8 + header length */
} StReader;

/* ---- dtypes ---- */

static size_t dtype_size(const char *d) {
    static const struct {
        const char *name;
        size_t size;
    } tab[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},  {"I32", 4},     {"I16", 2},     {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (!strcmp(d, tab[i].name)) return tab[i].size;
    return 0;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13); /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13); /* rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign; /* +-0 */
    } else {
        /* subnormal half: value = man * 2^-24; normalise into a float */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- reading ---- */

static void st_close(StReader *r) {
    if (r->f) fclose(r->f);
    json_free(r->header);
    free(r->ents);
    memset(r, 0, sizeof *r);
}

static int entry_from_json(StReader *r, const Json *v, StEntry *t, uint64_t data_len, Err *e) {
    const char *path = r->path;
    t->name = v->key;
    t->dtype_name = json_str(v, "dtype");
    const Json *shape = json_get(v, "shape"), *offs = json_get(v, "data_offsets");
    if (v->type != JSON_OBJ || !t->dtype_name || !shape || shape->type != JSON_ARR || json_len(offs) != 2 ||
        offs->type != JSON_ARR)
        return err_set(e, "%s: tensor '%s': header entry needs dtype, shape and data_offsets [begin, end]", path,
                       t->name);
    t->dtype = !strcmp(t->dtype_name, "F32")    ? DT_F32
               : !strcmp(t->dtype_name, "F16")  ? DT_F16
               : !strcmp(t->dtype_name, "BF16") ? DT_BF16
                                                : DT_OTHER;
    t->ndim = json_len(shape);
    if (t->ndim > ST_MAX_DIMS)
        return err_set(e, "%s: tensor '%s': %d dimensions, at most %d supported", path, t->name, t->ndim, ST_MAX_DIMS);
    uint64_t nelem = 1;
    for (int d = 0; d < t->ndim; d++) {
        int64_t s;
        if (json_i64(json_at(shape, d), &s) || s < 0 || s > (int64_t)1 << 40)
            return err_set(e, "%s: tensor '%s': shape entries must be non-negative integers", path, t->name);
        t->shape[d] = (long)s;
        nelem *= (uint64_t)s;
    }
    int64_t b, en;
    if (json_i64(json_at(offs, 0), &b) || json_i64(json_at(offs, 1), &en) || b < 0 || en < b)
        return err_set(e, "%s: tensor '%s': data_offsets must be integers 0 <= begin <= end", path, t->name);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)en;
    if (t->end > data_len)
        return err_set(e, "%s: tensor '%s': data ends at byte %llu of a %llu-byte data section (file truncated?)", path,
                       t->name, (unsigned long long)t->end, (unsigned long long)data_len);
    size_t ds = dtype_size(t->dtype_name);
    if (ds && (t->end - t->begin) != nelem * ds)
        return err_set(e, "%s: tensor '%s': %llu data bytes for %llu elements of %s", path, t->name,
                       (unsigned long long)(t->end - t->begin), (unsigned long long)nelem, t->dtype_name);
    return 0;
}

static int st_open(StReader *r, const char *path, Err *e) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->f = fopen(path, "rb");
    if (!r->f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(r->f), &st) != 0) {
        st_close(r);
        return err_set(e, "%s: cannot stat", path);
    }
    uint64_t fsize = (uint64_t)st.st_size;
    unsigned char lenb[8];
    if (fsize < 8 || fread(lenb, 1, 8, r->f) != 8) {
        st_close(r);
        return err_set(e, "%s: too short for a safetensors file", path);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | lenb[i];
    if (hlen < 2 || hlen > ST_MAX_HEADER || hlen > fsize - 8) {
        st_close(r);
        return err_set(e, "%s: invalid safetensors header length %llu for a %llu-byte file", path,
                       (unsigned long long)hlen, (unsigned long long)fsize);
    }
    char *text = malloc(hlen);
    if (!text) {
        st_close(r);
        return err_set(e, "%s: out of memory", path);
    }
    if (fread(text, 1, hlen, r->f) != hlen) {
        free(text);
        st_close(r);
        return err_set(e, "%s: cannot read header", path);
    }
    char label[AD_PATH_MAX + 32];
    snprintf(label, sizeof label, "%s: safetensors header", path);
    int rc = json_parse(text, hlen, label, &r->header, e);
    free(text);
    if (rc) {
        st_close(r);
        return -1;
    }
    if (r->header->type != JSON_OBJ) {
        st_close(r);
        return err_set(e, "%s: safetensors header is not a JSON object", path);
    }
    r->data_start = 8 + hlen;
    r->ents = calloc((size_t)r->header->n + 1, sizeof *r->ents);
    if (!r->ents) {
        st_close(r);
        return err_set(e, "%s: out of memory", path);
    }
    for (int i = 0; i < r->header->n; i++) {
        const Json *v = &r->header->kids[i];
        if (!strcmp(v->key, "__metadata__")) continue;
        if (entry_from_json(r, v, &r->ents[r->n], fsize - r->data_start, e)) {
            st_close(r);
            return -1;
        }
        r->n++;
    }
    return 0;
}

static const StEntry *st_find(const StReader *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->ents[i].name, name)) return &r->ents[i];
    return NULL;
}

/* Read tensor t as floats into dst (which holds every element). */
static int st_read_floats(StReader *r, const StEntry *t, float *dst, Err *e) {
    if (t->dtype == DT_OTHER)
        return err_set(e, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", r->path, t->name, t->dtype_name);
    if (fseeko(r->f, (off_t)(r->data_start + t->begin), SEEK_SET) != 0)
        return err_set(e, "%s: tensor '%s': seek failed", r->path, t->name);
    size_t bytes = (size_t)(t->end - t->begin);
    if (t->dtype == DT_F32) {
        if (fread(dst, 1, bytes, r->f) != bytes) return err_set(e, "%s: tensor '%s': short read", r->path, t->name);
        return 0;
    }
    /* half types: convert in chunks so no second full-size buffer is needed */
    size_t n = bytes / 2, done = 0;
    uint16_t chunk[4096];
    while (done < n) {
        size_t k = n - done < 4096 ? n - done : 4096;
        if (fread(chunk, 2, k, r->f) != k) return err_set(e, "%s: tensor '%s': short read", r->path, t->name);
        for (size_t i = 0; i < k; i++)
            dst[done + i] = t->dtype == DT_BF16 ? bf16_to_f32(chunk[i]) : f16_to_f32(chunk[i]);
        done += k;
    }
    return 0;
}

/* PyTorch shape of a table tensor: norms are 1-D [hidden], everything else (rows, cols). */
static int table_shape(const TensorInfo *t, long shape[2]) {
    if (t->kind == KIND_NORM) {
        shape[0] = t->cols;
        return 1;
    }
    shape[0] = t->rows;
    shape[1] = t->cols;
    return 2;
}

static void sb_shape(StrBuf *b, int ndim, const long *shape) {
    sb_putc(b, '[');
    for (int d = 0; d < ndim; d++) sb_printf(b, d ? ", %ld" : "%ld", shape[d]);
    sb_putc(b, ']');
}

/* Tensor t into a bf16 destination: read as floats into scratch (its size), rounded to nearest even. */
static int st_read_bf16(StReader *r, const StEntry *t, bf16_t *dst, float *scratch, size_t n, Err *e) {
    if (st_read_floats(r, t, scratch, e)) return -1;
    bf16_round_vec(dst, scratch, n);
    return 0;
}

int safetensors_load_bufs(const char *path, const Model *m, int nbuf, const TableBuf *bufs, const char *const *prefixes,
                          Err *e) {
    StReader r;
    if (st_open(&r, path, e)) return -1;
    size_t big = 1; /* bf16 destinations go through a scratch of the largest tensor */
    for (int i = 0; i < m->n_tensors; i++) big = m->tensors[i].size > big ? m->tensors[i].size : big;
    float *scratch = NULL;
    for (int b = 0; b < nbuf && !scratch; b++)
        if (!bufs[b].f) scratch = xcalloc(big, sizeof(float));
    int rc = 0;
    for (int b = 0; b < nbuf && !rc; b++) {
        for (int i = 0; i < m->n_tensors; i++) {
            const TensorInfo *ti = &m->tensors[i];
            char name[256];
            snprintf(name, sizeof name, "%s%s", prefixes[b], ti->name);
            const StEntry *t = st_find(&r, name);
            if (!t) {
                rc = err_set(e, "%s: tensor '%s' is missing", path, name);
                break;
            }
            long want[2];
            int wd = table_shape(ti, want);
            if (t->ndim != wd || memcmp(t->shape, want, (size_t)wd * sizeof(long)) != 0) {
                StrBuf got_s = {0}, want_s = {0};
                sb_shape(&got_s, t->ndim, t->shape);
                sb_shape(&want_s, wd, want);
                rc = err_set(e, "%s: tensor '%s' has shape %s, expected %s", path, name, sb_str(&got_s),
                             sb_str(&want_s));
                sb_free(&got_s);
                sb_free(&want_s);
                break;
            }
            rc = bufs[b].f ? st_read_floats(&r, t, bufs[b].f + ti->offset, e)
                           : st_read_bf16(&r, t, bufs[b].h + ti->offset, scratch, ti->size, e);
            if (rc) break;
        }
    }
    free(scratch);
    st_close(&r);
    return rc ? -1 : 0;
}

int safetensors_load_table(const char *path, const Model *m, int nbuf, float *const *bufs, const char *const *prefixes,
                           Err *e) {
    TableBuf tb[8];
    if (nbuf > 8) return err_set(e, "%s: at most 8 buffers per file", path);
    for (int b = 0; b < nbuf; b++) tb[b] = (TableBuf){bufs[b], NULL};
    return safetensors_load_bufs(path, m, nbuf, tb, prefixes, e);
}

/* A weight in the file that the model has no place for: config.json declares fewer layers (or a
 * smaller model) than the file holds. Loading would silently evaluate a truncated model. Buffers that
 * are not weights (rotary inv_freq, counters) are not named *.weight and stay ignored. */
static int check_no_extra_weights(const StReader *r, const Model *m, Err *e) {
    for (int k = 0; k < r->n; k++) {
        const char *nm = r->ents[k].name;
        size_t l = strlen(nm);
        if (l < 7 || strcmp(nm + l - 7, ".weight")) continue;
        int known = 0;
        for (int i = 0; i < m->n_tensors && !known; i++) known = !strcmp(m->tensors[i].name, nm);
        if (!known)
            return err_set(e,
                           "%s: tensor '%s' has no place in the model config.json describes (%d layers): config.json "
                           "and the weights disagree",
                           r->path, nm, m->cfg.num_hidden_layers);
    }
    return 0;
}

int safetensors_load_model(const char *path, Model *m, Err *e) {
    StReader r;
    if (st_open(&r, path, e)) return -1;
    int rc = check_no_extra_weights(&r, m, e);
    st_close(&r);
    if (rc) return -1;
    TableBuf bufs[1] = {model_weights_buf(m)};
    const char *prefixes[1] = {""};
    model_params_changed(m);
    return safetensors_load_bufs(path, m, 1, bufs, prefixes, e);
}

int safetensors_has_tensor(const char *path, const char *name, Err *e) {
    StReader r;
    if (st_open(&r, path, e)) return -1;
    int found = st_find(&r, name) != NULL;
    st_close(&r);
    return found;
}

int safetensors_read_all(const char *path, StFile *f, Err *e) {
    memset(f, 0, sizeof *f);
    StReader r;
    if (st_open(&r, path, e)) return -1;
    f->t = calloc((size_t)r.n + 1, sizeof *f->t);
    if (!f->t) {
        st_close(&r);
        return err_set(e, "%s: out of memory", path);
    }
    for (int i = 0; i < r.n; i++) {
        const StEntry *t = &r.ents[i];
        /* Only floating tensors of up to 4 dimensions are weights a tool can analyse. */
        if (t->dtype == DT_OTHER || t->ndim > 4) continue;
        StTensor *o = &f->t[f->n];
        /* The name is copied out of the header before anything can free it (an error message that
         * quoted the header's own string after st_close was a use-after-free). */
        o->name = strdup(t->name);
        if (!o->name) {
            err_set(e, "%s: out of memory", path);
            st_close(&r);
            safetensors_free(f);
            return -1;
        }
        f->n++;
        o->ndim = t->ndim;
        size_t nelem = 1;
        for (int d = 0; d < t->ndim; d++) {
            o->shape[d] = t->shape[d];
            nelem *= (size_t)t->shape[d];
        }
        o->data = malloc((nelem ? nelem : 1) * sizeof(float));
        if (!o->data) {
            err_set(e, "%s: out of memory for tensor '%s'", path, o->name);
            st_close(&r);
            safetensors_free(f);
            return -1;
        }
        if (st_read_floats(&r, t, o->data, e)) {
            st_close(&r);
            safetensors_free(f);
            return -1;
        }
    }
    st_close(&r);
    return 0;
}

void safetensors_free(StFile *f) {
    if (!f->t) return;
    for (int i = 0; i < f->n; i++) {
        free(f->t[i].name);
        free(f->t[i].data);
    }
    free(f->t);
    f->t = NULL;
    f->n = 0;
}

/* ---- writing ---- */

/* BF16 tensors are written through this many elements of rounding at a time. */
#define ST_BF16_CHUNK 8192

/* n values in the other type, a chunk at a time: fp32 xf as BF16 (rounded to nearest even), or bf16 xh
 * as F32 (widened exactly). */
static int write_converted(FILE *f, const float *xf, const bf16_t *xh, size_t n) {
    bf16_t h[ST_BF16_CHUNK];
    float w[ST_BF16_CHUNK];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < ST_BF16_CHUNK ? n - done : ST_BF16_CHUNK;
        for (size_t i = 0; i < k; i++) {
            if (xf) h[i] = bf16_round(xf[done + i]);
            else w[i] = bf16_widen(xh[done + i]);
        }
        if ((xf ? fwrite(h, sizeof *h, k, f) : fwrite(w, sizeof *w, k, f)) != k) return 0;
        done += k;
    }
    return 1;
}

/* One tensor (n values at offset o of buffer b) as BF16 or F32, from fp32 or bf16 storage. */
static int write_tensor(FILE *f, const TableBuf *b, size_t o, size_t n, int bf16) {
    if (b->f) return bf16 ? write_converted(f, b->f + o, NULL, n) : fwrite(b->f + o, sizeof(float), n, f) == n;
    return bf16 ? fwrite(b->h + o, sizeof(bf16_t), n, f) == n : write_converted(f, NULL, b->h + o, n);
}

/* The tables of nbuf buffers; bf16 != 0 writes every tensor as BF16 (rounded to nearest even), else F32. */
int safetensors_save_bufs(const char *path, const Model *m, int nbuf, const TableBuf *bufs, const char *const *prefixes,
                          int bf16, Err *e) {
    const char *dt = bf16 ? "BF16" : "F32";
    size_t esize = bf16 ? 2 : 4;
    StrBuf h = {0};
    sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int b = 0; b < nbuf; b++) {
        for (int i = 0; i < m->n_tensors; i++) {
            const TensorInfo *ti = &m->tensors[i];
            char name[256];
            snprintf(name, sizeof name, "%s%s", prefixes[b], ti->name);
            long shape[2];
            int nd = table_shape(ti, shape);
            uint64_t bytes = (uint64_t)ti->size * esize;
            sb_printf(&h, ",");
            sb_json_str(&h, name);
            if (nd == 1) sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[%ld]", dt, shape[0]);
            else sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[%ld,%ld]", dt, shape[0], shape[1]);
            sb_printf(&h, ",\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
            off += bytes;
        }
    }
    sb_printf(&h, "}");
    while (h.len % 8) sb_printf(&h, " "); /* data starts 8-byte aligned */

    AtomicFile a;
    if (atomic_begin(&a, path, e)) {
        sb_free(&h);
        return -1;
    }
    FILE *f = a.f;
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    int ok = fwrite(lenb, 1, 8, f) == 8 && fwrite(h.p, 1, h.len, f) == h.len;
    sb_free(&h);
    for (int b = 0; ok && b < nbuf; b++)
        for (int i = 0; ok && i < m->n_tensors; i++) {
            const TensorInfo *ti = &m->tensors[i];
            ok = write_tensor(f, &bufs[b], ti->offset, ti->size, bf16);
        }
    if (!ok) {
        int err = errno;
        atomic_abort(&a);
        return err_set(e, "%s: write failed: %s", a.tmp, strerror(err));
    }
    return atomic_commit(&a, e); /* flush, fsync, close, rename, directory sync: each checked */
}

int safetensors_save_table(const char *path, const Model *m, int nbuf, const float *const *bufs,
                           const char *const *prefixes, Err *e) {
    TableBuf tb[8];
    if (nbuf > 8) return err_set(e, "%s: at most 8 buffers per file", path);
    for (int b = 0; b < nbuf; b++) tb[b] = (TableBuf){(float *)bufs[b], NULL}; /* only read */
    return safetensors_save_bufs(path, m, nbuf, tb, prefixes, 0, e);
}

int safetensors_save_model_bf16(const char *path, const Model *m, Err *e) {
    TableBuf bufs[1] = {model_weights_buf(m)};
    const char *prefixes[1] = {""};
    return safetensors_save_bufs(path, m, 1, bufs, prefixes, 1, e);
}

int safetensors_save_model(const char *path, const Model *m, Err *e) {
    TableBuf bufs[1] = {model_weights_buf(m)};
    const char *prefixes[1] = {""};
    return safetensors_save_bufs(path, m, 1, bufs, prefixes, 0, e);
}
