/* test_checkpoint.c - safetensors, config.json and checkpoints:
 *   bit-exact safetensors round trip and the header's layout (shapes as PyTorch, padding, metadata);
 *   a foreign file built byte by byte here (other key order, extra tensors, BF16/F16 with hand-computed
 *   half-precision bit patterns, unpadded header) loaded by name and by safetensors_read_all;
 *   rejection of truncated files, wrong shapes, missing tensors, bad headers (messages name the file);
 *   config.json round trip, a Hugging Face-written fixture, and rejected configs;
 *   checkpoint round trip of every field, keep-N pruning, incomplete/.tmp directories ignored and
 *   removed, the same step saved twice, corrupt and mismatched checkpoints. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "checkpoint.h"
#include "crc32c.h"
#include "hf_config.h"
#include "json.h"
#include "safetensors.h"
#include "testutil.h"

static char tmpdir[256];

/* Random bit patterns, including NaN payloads, denormals and -0: a round trip must keep every bit. */
static void fill_bits(float *x, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) {
        uint32_t b = (uint32_t)rng_u64(r);
        memcpy(&x[i], &b, 4);
    }
}

static int build(Model *m, ModelConfig c, int train) {
    Err e;
    if (model_build(m, &c, &e)) {
        CHECK(0, "model_build", "%s", e.msg);
        return -1;
    }
    if (train && model_alloc_train(m, &e)) {
        CHECK(0, "model_alloc_train", "%s", e.msg);
        return -1;
    }
    return 0;
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

/* ------------------------------------------------------------------ safetensors ---- */

static Json *read_header(const char *path, uint64_t *hlen) {
    char *buf;
    size_t len;
    Err e;
    Json *j = NULL;
    if (read_file(path, &buf, &len, &e)) return NULL;
    *hlen = 0;
    for (int i = 7; i >= 0; i--) *hlen = (*hlen << 8) | (unsigned char)buf[i];
    if (8 + *hlen <= len) json_parse(buf + 8, *hlen, path, &j, &e);
    free(buf);
    return j;
}

static int shape_is(const Json *h, const char *name, long a, long b) {
    const Json *s = json_get(json_get(h, name), "shape");
    int64_t x, y;
    if (b < 0) return json_len(s) == 1 && !json_i64(json_at(s, 0), &x) && x == a;
    return json_len(s) == 2 && !json_i64(json_at(s, 0), &x) && !json_i64(json_at(s, 1), &y) && x == a && y == b;
}

static void test_round_trip(void) {
    Model a, b;
    Err e = {{0}};
    if (build(&a, tiny_model_config(), 0) || build(&b, tiny_model_config(), 0)) return;
    Rng r;
    rng_seed(&r, 7);
    fill_bits(a.params, a.n_params, &r);
    char path[512];
    path_in(path, sizeof path, "rt.safetensors");
    int rc = safetensors_save_model(path, &a, &e);
    CHECK(rc == 0, "st_save", "%s", e.msg);
    rc = safetensors_load_model(path, &b, &e);
    CHECK(rc == 0 && memcmp(a.params, b.params, a.n_params * 4) == 0, "st_round_trip_bit_exact", "%s",
          rc ? e.msg : "bits differ");

    uint64_t hlen = 0;
    Json *h = read_header(path, &hlen);
    CHECK(h != NULL && hlen % 8 == 0, "st_header_padded_to_8", "header length %llu", (unsigned long long)hlen);
    const char *fmt = json_str(json_get(h, "__metadata__"), "format");
    CHECK(fmt && !strcmp(fmt, "pt"), "st_metadata_format_pt", "format %s", fmt ? fmt : "(missing)");
    CHECK(shape_is(h, "model.embed_tokens.weight", 16, 8) && shape_is(h, "lm_head.weight", 16, 8) &&
              shape_is(h, "model.layers.1.mlp.gate_proj.weight", 12, 8) &&
              shape_is(h, "model.layers.1.mlp.down_proj.weight", 8, 12) &&
              shape_is(h, "model.layers.0.self_attn.k_proj.weight", 8, 8) &&
              shape_is(h, "model.layers.0.input_layernorm.weight", 8, -1) && shape_is(h, "model.norm.weight", 8, -1),
          "st_shapes_as_pytorch", "a shape differs from PyTorch's");
    /* data_offsets of down_proj in layer 1 point at its bytes: compare with the params directly */
    const Json *off = json_get(json_get(h, "model.layers.1.mlp.down_proj.weight"), "data_offsets");
    int64_t o0 = -1, o1 = -1;
    json_i64(json_at(off, 0), &o0);
    json_i64(json_at(off, 1), &o1);
    int ti = model_find_tensor(&a, "model.layers.1.mlp.down_proj.weight");
    char *raw;
    size_t rawlen;
    int ok = o1 - o0 == 8 * 12 * 4 && read_file(path, &raw, &rawlen, &e) == 0;
    if (ok) {
        ok = memcmp(raw + 8 + hlen + o0, a.params + a.tensors[ti].offset, 8 * 12 * 4) == 0 &&
             rawlen == 8 + hlen + a.n_params * 4;
        free(raw);
    }
    CHECK(ok, "st_data_offsets_point_at_tensor", "offsets [%lld, %lld]", (long long)o0, (long long)o1);
    json_free(h);

    /* generic reader */
    StFile f;
    rc = safetensors_read_all(path, &f, &e);
    ok = rc == 0 && f.n == a.n_tensors;
    for (int i = 0; ok && i < f.n; i++) {
        int k = model_find_tensor(&a, f.t[i].name);
        ok = k >= 0 && memcmp(f.t[i].data, a.params + a.tensors[k].offset, a.tensors[k].size * 4) == 0;
    }
    CHECK(ok, "st_read_all_matches", "%s", rc ? e.msg : "tensor mismatch");
    if (rc == 0) safetensors_free(&f);

    /* truncated file: rejected, message names the file and a tensor */
    char trunc[512];
    path_in(trunc, sizeof trunc, "trunc.safetensors");
    if (read_file(path, &raw, &rawlen, &e) == 0) {
        FILE *fp = fopen(trunc, "wb");
        fwrite(raw, 1, rawlen - 5, fp);
        fclose(fp);
        free(raw);
    }
    rc = safetensors_load_model(trunc, &b, &e);
    CHECK(rc == -1 && strstr(e.msg, trunc) && strstr(e.msg, "lm_head.weight") && strstr(e.msg, "truncated"),
          "st_truncated_rejected", "rc %d: %s", rc, e.msg);
    rc = safetensors_read_all(trunc, &f, &e);
    CHECK(rc == -1 && strstr(e.msg, trunc), "st_read_all_truncated_rejected", "rc %d: %s", rc, e.msg);

    /* wrong shape: a model with another intermediate size */
    Model c;
    ModelConfig cc = tiny_model_config();
    cc.intermediate_size = 16;
    if (build(&c, cc, 0) == 0) {
        rc = safetensors_load_model(path, &c, &e);
        CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, "model.layers.0.mlp.gate_proj.weight") &&
                  strstr(e.msg, "[12, 8]") && strstr(e.msg, "[16, 8]"),
              "st_wrong_shape_rejected", "rc %d: %s", rc, e.msg);
        model_free(&c);
    }
    /* missing tensors: a model with one more layer */
    cc = tiny_model_config();
    cc.num_hidden_layers = 3;
    if (build(&c, cc, 0) == 0) {
        rc = safetensors_load_model(path, &c, &e);
        CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, "model.layers.2.input_layernorm.weight") &&
                  strstr(e.msg, "missing"),
              "st_missing_tensor_rejected", "rc %d: %s", rc, e.msg);
        model_free(&c);
    }
    model_free(&a);
    model_free(&b);
}

/* ---- a file the engine did not write, assembled byte by byte ---- */

typedef struct {
    char *p;
    size_t len;
} Bytes;

static void put(Bytes *b, const void *src, size_t n) {
    b->p = realloc(b->p, b->len + n);
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u16(Bytes *b, uint16_t v) {
    unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, x, 2);
}

static void put_f32(Bytes *b, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, x, 4);
}

/* Value of the i-th element of tensor t in the foreign file (exact in bf16: few mantissa bits). */
static float foreign_value(int t, size_t i) { return (float)((int)((t * 31 + i * 7) % 64) - 32) * 0.125f; }

/* Half-precision bit patterns and their values, computed by hand:
 * 0x3C00 = 1, 0xC000 = -2, 0x3800 = 0.5, 0x7BFF = 65504 (largest half), 0x0001 = 2^-24 (smallest
 * subnormal), 0x0200 = 512 * 2^-24 = 2^-15 (subnormal), 0x8000 = -0, 0x3555 = 1 + 341/1024 * 2^-2... */
static const uint16_t F16_BITS[8] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0200, 0x8000, 0x3555};
static float f16_expected(int i) {
    switch (i) {
        case 0: return 1.0f;
        case 1: return -2.0f;
        case 2: return 0.5f;
        case 3: return 65504.0f;
        case 4: return 0x1p-24f;
        case 5: return 0x1p-15f;
        case 6: return -0.0f;
        default: return (1.0f + 341.0f / 1024.0f) * 0.25f; /* exponent 0b01101 = 13 -> 2^(13-15) */
    }
}

/* Writes a foreign file for the tiny model: tensors in reverse table order, header keys in another
 * order again, an extra rotary inv_freq tensor and an I64 tensor, the embedding in BF16, the final
 * norm in F16, header not padded, metadata with extra keys. omit: a tensor name to leave out. */
static void write_foreign(const char *path, const Model *m, const char *omit, int corrupt_offsets) {
    Bytes data = {0};
    char hdr[16384];
    size_t hl = (size_t)snprintf(hdr, sizeof hdr, "{\"__metadata__\": {\"format\": \"pt\", \"source\": \"hand\"}");
    for (int t = m->n_tensors - 1; t >= -2; t--) {
        char name[128];
        const char *dtype = "F32";
        char shape[64];
        size_t begin = data.len;
        if (t == -1) {
            snprintf(name, sizeof name, "model.layers.0.self_attn.rotary_emb.inv_freq");
            snprintf(shape, sizeof shape, "[2]");
            put_f32(&data, 1.0f);
            put_f32(&data, 0.01f);
        } else if (t == -2) {
            snprintf(name, sizeof name, "step_counter");
            dtype = "I64";
            snprintf(shape, sizeof shape, "[]");
            uint64_t z = 42;
            put(&data, &z, 8);
        } else {
            const TensorInfo *ti = &m->tensors[t];
            if (omit && !strcmp(omit, ti->name)) continue;
            snprintf(name, sizeof name, "%s", ti->name);
            if (ti->kind == KIND_NORM) snprintf(shape, sizeof shape, "[%d]", ti->cols);
            else snprintf(shape, sizeof shape, "[%d,%d]", ti->rows, ti->cols);
            if (ti->kind == KIND_EMBEDDING) {
                dtype = "BF16";
                for (size_t i = 0; i < ti->size; i++) {
                    float v = foreign_value(t, i);
                    uint32_t bits;
                    memcpy(&bits, &v, 4);
                    put_u16(&data, (uint16_t)(bits >> 16));
                }
            } else if (!strcmp(ti->name, "model.norm.weight")) {
                dtype = "F16";
                for (int i = 0; i < 8; i++) put_u16(&data, F16_BITS[i]);
            } else {
                for (size_t i = 0; i < ti->size; i++) put_f32(&data, foreign_value(t, i));
            }
        }
        size_t end = data.len + (corrupt_offsets && t == 3 ? 4 : 0);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl,
                               ", \"%s\": {\"data_offsets\": [%zu, %zu], \"shape\": %s, \"dtype\": \"%s\"}", name,
                               begin, end, shape, dtype);
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    FILE *f = fopen(path, "wb");
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    fwrite(lenb, 1, 8, f);
    fwrite(hdr, 1, hl, f);
    fwrite(data.p, 1, data.len, f);
    fclose(f);
    free(data.p);
}

static void test_foreign(void) {
    Model m;
    Err e = {{0}};
    if (build(&m, tiny_model_config(), 0)) return;
    char path[512];
    path_in(path, sizeof path, "foreign.safetensors");
    write_foreign(path, &m, NULL, 0);
    int rc = safetensors_load_model(path, &m, &e);
    CHECK(rc == 0, "st_foreign_loads", "%s", e.msg);
    int ok_f32 = 1, ok_bf16 = 1, ok_f16 = 1;
    for (int t = 0; t < m.n_tensors; t++) {
        const TensorInfo *ti = &m.tensors[t];
        const float *p = m.params + ti->offset;
        if (!strcmp(ti->name, "model.norm.weight")) {
            for (int i = 0; i < 8; i++) {
                float want = f16_expected(i);
                if (memcmp(&p[i], &want, 4)) ok_f16 = 0; /* bitwise: -0 must stay -0 */
            }
        } else {
            for (size_t i = 0; i < ti->size; i++)
                if (p[i] != foreign_value(t, i)) *(ti->kind == KIND_EMBEDDING ? &ok_bf16 : &ok_f32) = 0;
        }
    }
    CHECK(rc == 0 && ok_f32, "st_foreign_f32_by_name", "values differ (tensor order ignored?)");
    CHECK(rc == 0 && ok_bf16, "st_foreign_bf16_converted", "bf16 values differ");
    CHECK(rc == 0 && ok_f16, "st_foreign_f16_converted", "f16 values differ from the hand-computed ones");

    StFile f;
    rc = safetensors_read_all(path, &f, &e);
    int found_inv = 0, found_i64 = 0;
    for (int i = 0; rc == 0 && i < f.n; i++) {
        if (!strcmp(f.t[i].name, "model.layers.0.self_attn.rotary_emb.inv_freq"))
            found_inv = f.t[i].ndim == 1 && f.t[i].shape[0] == 2 && f.t[i].data[1] == 0.01f;
        if (!strcmp(f.t[i].name, "step_counter")) found_i64 = 1;
    }
    CHECK(rc == 0 && f.n == m.n_tensors + 1 && found_inv && !found_i64, "st_read_all_foreign", "%s n=%d inv %d i64 %d",
          rc ? e.msg : "", rc ? 0 : f.n, found_inv, found_i64);
    if (rc == 0) safetensors_free(&f);

    write_foreign(path, &m, "lm_head.weight", 0);
    rc = safetensors_load_model(path, &m, &e);
    CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, "'lm_head.weight' is missing"), "st_foreign_missing_lm_head",
          "rc %d: %s", rc, e.msg);
    write_foreign(path, &m, NULL, 1);
    rc = safetensors_load_model(path, &m, &e);
    CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, m.tensors[3].name), "st_foreign_bad_offsets", "rc %d: %s",
          rc, e.msg);

    /* malformed headers */
    struct {
        const char *bytes;
        size_t n;
        const char *want;
        const char *name;
    } bad[] = {
        {"\x05\0\0\0\0\0\0\0{\"a\"", 13, "safetensors header: byte", "st_bad_header_json"},
        {"\xff\xff\0\0\0\0\0\0{}", 10, "invalid safetensors header length", "st_bad_header_length"},
        {"\x02\0\0", 3, "too short", "st_bad_too_short"},
        {"\x02\0\0\0\0\0\0\0[]", 10, "not a JSON object", "st_bad_header_not_object"},
        {"\x29\0\0\0\0\0\0\0{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}        ", 49, "'x'",
         "st_bad_entry_missing_offsets"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *fp = fopen(path, "wb");
        fwrite(bad[i].bytes, 1, bad[i].n, fp);
        fclose(fp);
        rc = safetensors_read_all(path, &f, &e);
        CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, bad[i].want), bad[i].name, "rc %d: %s", rc, e.msg);
        if (rc == 0) safetensors_free(&f);
    }
    model_free(&m);
}

/* ------------------------------------------------------------------ config.json ---- */

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    fputs(s, f);
    fclose(f);
}

static void test_config(void) {
    Err e = {{0}};
    char path[512];
    path_in(path, sizeof path, "config.json");
    ModelConfig c = tiny_model_config(), r;
    c.max_position_embeddings = 1024;
    c.rms_norm_eps = 1e-5 / 3; /* not a short decimal: must still round-trip exactly */
    int rc = hf_config_write(path, &c, &e) || hf_config_read(path, &r, &e);
    CHECK(rc == 0 && !memcmp(&c, &r, sizeof c), "hf_config_round_trip", "%s", rc ? e.msg : "fields differ");
    Json *j = NULL;
    rc = json_parse_file(path, &j, &e);
    const char *mt = json_str(j, "model_type"), *act = json_str(j, "hidden_act"), *dt = json_str(j, "torch_dtype");
    const Json *arch = json_get(j, "architectures");
    int tie = 1;
    double kv = 0;
    CHECK(rc == 0 && mt && !strcmp(mt, "llama") && act && !strcmp(act, "silu") && dt && !strcmp(dt, "float32") &&
              json_len(arch) == 1 && !strcmp(json_at(arch, 0)->str, "LlamaForCausalLM") &&
              json_bool(j, "tie_word_embeddings", &tie) == 0 && !tie && json_num(j, "num_key_value_heads", &kv) == 0 &&
              kv == 2,
          "hf_config_llama_keys", "config.json lacks a LlamaConfig key");
    json_free(j);

    /* written by transformers (hand copy of LlamaConfig.save_pretrained output) */
    rc = hf_config_read("tests/fixtures/hf_llama_config.json", &r, &e);
    ModelConfig want = tiny_model_config();
    CHECK(rc == 0 && !memcmp(&r, &want, sizeof r), "hf_config_read_transformers_fixture", "%s",
          rc ? e.msg : "fields differ");

    struct {
        const char *text;
        const char *want;
        const char *name;
    } bad[] = {
        {"{\"hidden_size\": 8, \"intermediate_size\": 12, \"num_attention_heads\": 2, \"num_key_value_heads\": 1,"
         " \"num_hidden_layers\": 2, \"vocab_size\": 16}",
         "num_key_value_heads 1", "hf_config_rejects_gqa"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 12, \"num_attention_heads\": 2, \"num_hidden_layers\": 2,"
         " \"vocab_size\": 16, \"tie_word_embeddings\": true}",
         "tie_word_embeddings", "hf_config_rejects_tied"},
        {"{\"intermediate_size\": 12, \"num_attention_heads\": 2, \"num_hidden_layers\": 2, \"vocab_size\": 16}",
         "missing key \"hidden_size\"", "hf_config_rejects_missing_key"},
        {"{\"hidden_size\": 8.5, \"intermediate_size\": 12, \"num_attention_heads\": 2, \"num_hidden_layers\": 2, "
         "\"vocab_size\": 16}",
         "\"hidden_size\" must be a positive integer", "hf_config_rejects_fractional_size"},
        {"{\"model_type\": \"mistral\", \"hidden_size\": 8}", "model_type \"mistral\"", "hf_config_rejects_model_type"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 12, \"num_attention_heads\": 3, \"num_hidden_layers\": 2, "
         "\"vocab_size\": 16}",
         "does not divide", "hf_config_rejects_heads_not_dividing"},
        {"{\"hidden_size\": 8,}", "byte 18", "hf_config_rejects_bad_json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        rc = hf_config_read(path, &r, &e);
        CHECK(rc == -1 && strstr(e.msg, path) && strstr(e.msg, bad[i].want), bad[i].name, "rc %d: %s", rc, e.msg);
    }
}

/* ------------------------------------------------------------------ checkpoints ---- */

static void fill_model(Model *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    fill_bits(m->params, m->n_params, &r);
    fill_bits(m->adam_m, m->n_params, &r);
    fill_bits(m->adam_v, m->n_params, &r);
    for (int i = 0; i < m->n_tensors; i++) m->wd[i] = rng_uniform(&r) * 1e-5 + (i % 3 ? 0 : 1.0 / 3.0);
}

static TrainState make_state(long step) {
    TrainState s = {0};
    s.step = step;
    s.tokens = step * 123456789L + 7;
    s.elapsed_s = 1.0 / 7.0 * (double)step;
    s.data_epoch = 0xFFFFFFFFFFFFFFFFULL;
    s.data_pos = (1ULL << 53) + 1; /* not representable as a double */
    s.decay.awd_lambda = 0.1 + 1e-17 * (double)step;
    s.decay.last_update_step = -1;
    return s;
}

static int same_state(const TrainState *a, const TrainState *b) {
    return a->step == b->step && a->tokens == b->tokens && !memcmp(&a->elapsed_s, &b->elapsed_s, 8) &&
           a->data_epoch == b->data_epoch && a->data_pos == b->data_pos &&
           !memcmp(&a->decay.awd_lambda, &b->decay.awd_lambda, 8) &&
           a->decay.last_update_step == b->decay.last_update_step;
}

static int same_model(const Model *a, const Model *b) {
    size_t n = a->n_params * 4;
    return !memcmp(a->params, b->params, n) && !memcmp(a->adam_m, b->adam_m, n) && !memcmp(a->adam_v, b->adam_v, n) &&
           !memcmp(a->wd, b->wd, (size_t)a->n_tensors * sizeof(double));
}

static int dir_exists(const char *run, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/checkpoint/%s", run, name);
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void flip_byte(const char *path, long off) {
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
}

/* COMPLETE: "step N", then "NAME SIZE crc32c=HEX" for the four files, each matching the file. */
static void test_marker(const char *dir) {
    char p[1100], *text = NULL;
    size_t len;
    Err e;
    snprintf(p, sizeof p, "%s/COMPLETE", dir);
    int ok = read_file(p, &text, &len, &e) == 0 && !strncmp(text, "step ", 5), lines = 0;
    for (char *q = text ? strchr(text, '\n') : NULL; ok && q && q[1]; q = strchr(q + 1, '\n')) {
        char name[64], f[1200];
        unsigned long long size;
        unsigned crc;
        uint32_t got;
        uint64_t gsize;
        ok = sscanf(q + 1, "%63s %llu crc32c=%x", name, &size, &crc) == 3;
        snprintf(f, sizeof f, "%s/%s", dir, name);
        ok = ok && crc32c_file(f, &got, &gsize, &e) == 0 && got == crc && gsize == size;
        lines++;
    }
    CHECK(ok && lines == 4, "ckpt_marker_lists_checksums", "%d lines: %s", lines, text ? text : e.msg);
    free(text);
}

static void test_checkpoints(void) {
    Err e = {{0}};
    Model a, b;
    if (build(&a, tiny_model_config(), 1) || build(&b, tiny_model_config(), 1)) return;
    char run[512];
    path_in(run, sizeof run, "run");
    TrainState s, got;
    int rc = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == 0, "ckpt_none_returns_0", "rc %d: %s", rc, e.msg);

    fill_model(&a, 3);
    s = make_state(5);
    rc = checkpoint_save(run, &a, &s, 3, &e);
    CHECK(rc == 0, "ckpt_save", "%s", e.msg);
    char p[1000];
    snprintf(p, sizeof p, "%s/checkpoint/step_00000005/COMPLETE", run);
    CHECK(file_exists(p) && !dir_exists(run, "step_00000005.tmp"), "ckpt_layout_complete_marker", "no %s", p);
    rc = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == 1 && same_model(&a, &b) && same_state(&s, &got), "ckpt_round_trip_every_field", "rc %d %s", rc,
          rc == 1 ? "field differs" : e.msg);
    /* the checkpoint's model is a plain HF model directory */
    Model c;
    ModelConfig hc;
    snprintf(p, sizeof p, "%s/checkpoint/step_00000005/config.json", run);
    if (hf_config_read(p, &hc, &e) == 0 && build(&c, hc, 0) == 0) {
        snprintf(p, sizeof p, "%s/checkpoint/step_00000005/model.safetensors", run);
        rc = safetensors_load_model(p, &c, &e);
        CHECK(rc == 0 && !memcmp(c.params, a.params, a.n_params * 4), "ckpt_model_dir_loads_as_hf", "%s", e.msg);
        model_free(&c);
    }

    /* keep-N: steps 6..9 with keep 2 leave 8 and 9 */
    for (long st = 6; st <= 9; st++) {
        fill_model(&a, (uint64_t)st);
        s = make_state(st);
        if (checkpoint_save(run, &a, &s, 2, &e)) break;
    }
    CHECK(!dir_exists(run, "step_00000005") && !dir_exists(run, "step_00000007") && dir_exists(run, "step_00000008") &&
              dir_exists(run, "step_00000009"),
          "ckpt_keep_n_pruning", "wrong set of checkpoint directories");

    /* a newer directory without COMPLETE and a .tmp one: ignored and removed */
    char inc[800];
    snprintf(inc, sizeof inc, "%s/checkpoint/step_00000012", run);
    mkdir(inc, 0777);
    snprintf(p, sizeof p, "%s/state.json", inc);
    write_text(p, "{\"step\": 12}");
    snprintf(inc, sizeof inc, "%s/checkpoint/step_00000013.tmp", run);
    mkdir(inc, 0777);
    snprintf(p, sizeof p, "%s/COMPLETE", inc);
    write_text(p, "step 13\n");
    rc = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == 1 && got.step == 9 && same_model(&a, &b), "ckpt_incomplete_ignored", "rc %d step %ld %s", rc, got.step,
          e.msg);
    CHECK(!dir_exists(run, "step_00000012") && !dir_exists(run, "step_00000013.tmp"), "ckpt_incomplete_cleaned_up",
          "leftover directories remain");

    /* the same step saved twice (a signal right after a periodic save) replaces it */
    fill_model(&a, 99);
    s = make_state(9);
    s.elapsed_s = 123.5;
    rc = checkpoint_save(run, &a, &s, 2, &e);
    int rc2 = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == 0 && rc2 == 1 && same_model(&a, &b) && got.elapsed_s == 123.5 && dir_exists(run, "step_00000008") &&
              !dir_exists(run, "step_00000009.old"),
          "ckpt_same_step_replaced", "rc %d/%d: %s", rc, rc2, e.msg);

    /* the marker records every file's size and CRC-32C, as read back from disk */
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009", run);
    test_marker(p);

    /* damaged newest checkpoint (truncated optimizer state): step 8 is loaded, the warning names the file */
    char *raw;
    size_t len;
    Err warn;
    Model keep8;
    int have8 = build(&keep8, tiny_model_config(), 1) == 0;
    fill_model(&a, 8); /* what step 8 holds */
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009/optimizer.safetensors", run);
    if (read_file(p, &raw, &len, &e) == 0) {
        FILE *f = fopen(p, "wb");
        fwrite(raw, 1, len / 2, f);
        fclose(f);
        free(raw);
    }
    rc = checkpoint_load_latest(run, &b, &got, &warn, &e);
    CHECK(rc == 1 && got.step == 8 && same_model(&a, &b) && strstr(warn.msg, p) && strstr(warn.msg, "truncated") &&
              !strchr(warn.msg, '\n'),
          "ckpt_truncated_newest_falls_back", "rc %d step %ld warn '%s' err '%s'", rc, got.step, warn.msg, e.msg);
    /* one flipped byte in the newest model: found by its checksum, step 8 loaded */
    if (checkpoint_save(run, &a, &s, 2, &e) == 0 && have8) { /* a good step 9 again */
        snprintf(p, sizeof p, "%s/checkpoint/step_00000009/model.safetensors", run);
        flip_byte(p, 200);
        fill_model(&keep8, 8);
        rc = checkpoint_load_latest(run, &b, &got, &warn, &e);
        CHECK(rc == 1 && got.step == 8 && same_model(&keep8, &b) && strstr(warn.msg, p) && strstr(warn.msg, "corrupt"),
              "ckpt_flipped_byte_falls_back", "rc %d step %ld warn '%s' err '%s'", rc, got.step, warn.msg, e.msg);
        snprintf(p, sizeof p, "%s/checkpoint/step_00000009", run);
        rc = checkpoint_verify_model(p, &e);
        CHECK(rc == -1 && strstr(e.msg, "step_00000009/model.safetensors") && strstr(e.msg, "corrupt"),
              "ckpt_verify_model_flipped_byte", "rc %d: %s", rc, e.msg);
        /* every checkpoint damaged: an error, never a silent start from step 0 */
        snprintf(p, sizeof p, "%s/checkpoint/step_00000008/state.json", run);
        flip_byte(p, 5);
        rc = checkpoint_load_latest(run, &b, &got, &warn, &e);
        CHECK(rc == -1 && strstr(e.msg, "no intact checkpoint") && strstr(warn.msg, p), "ckpt_all_damaged_is_error",
              "rc %d: %s / %s", rc, e.msg, warn.msg);
        flip_byte(p, 5); /* restore step 8 */
    }
    if (have8) model_free(&keep8);
    /* an older checkpoint (COMPLETE without checksums) is loaded unverified; errors still name the file */
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009/COMPLETE", run);
    write_text(p, "step 9\n");
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009", run);
    rc = checkpoint_verify(p, NULL, &e);
    CHECK(rc == 0, "ckpt_legacy_marker_unverified", "rc %d: %s", rc, e.msg);
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009/state.json", run);
    write_text(p, "{\"format\": \"alphadecay-train-state\", \"step\": 9,");
    rc = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == -1 && strstr(e.msg, p) && strstr(e.msg, "unterminated object"), "ckpt_bad_state_json_rejected",
          "rc %d: %s", rc, e.msg);

    /* a model of another shape refuses the (good) step 8 checkpoint, naming config.json */
    snprintf(p, sizeof p, "%s/checkpoint/step_00000009", run);
    char mk[1100];
    snprintf(mk, sizeof mk, "%s/COMPLETE", p);
    unlink(mk); /* step 9 now incomplete: step 8 is the newest */
    ModelConfig other = tiny_model_config();
    other.intermediate_size = 16;
    if (build(&c, other, 1) == 0) {
        rc = checkpoint_load_latest(run, &c, &got, NULL, &e);
        CHECK(rc == -1 && strstr(e.msg, "step_00000008/config.json") && strstr(e.msg, "intermediate_size 12"),
              "ckpt_mismatched_model_rejected", "rc %d: %s", rc, e.msg);
        model_free(&c);
    }
    rc = checkpoint_load_latest(run, &b, &got, NULL, &e);
    CHECK(rc == 1 && got.step == 8 && !dir_exists(run, "step_00000009"), "ckpt_falls_back_after_incomplete",
          "rc %d step %ld: %s", rc, got.step, e.msg);
    /* keep 1 and a re-save of the same step killed between its two renames (step_N moved to .old, the
     * new one not yet in place): the old copy is put back, never deleted with the leftovers */
    char run2[512];
    path_in(run2, sizeof run2, "run_keep1");
    fill_model(&a, 31);
    s = make_state(3);
    if (checkpoint_save(run2, &a, &s, 1, &e) == 0) {
        char fin[800], old[800], tmp[800];
        snprintf(fin, sizeof fin, "%s/checkpoint/step_00000003", run2);
        snprintf(old, sizeof old, "%s/checkpoint/step_00000003.old", run2);
        snprintf(tmp, sizeof tmp, "%s/checkpoint/step_00000003.tmp", run2);
        rename(fin, old);
        mkdir(tmp, 0777); /* the new copy, half written */
        rc = checkpoint_load_latest(run2, &b, &got, NULL, &e);
        CHECK(rc == 1 && got.step == 3 && same_model(&a, &b) && dir_exists(run2, "step_00000003") &&
                  !dir_exists(run2, "step_00000003.old") && !dir_exists(run2, "step_00000003.tmp"),
              "ckpt_interrupted_resave_keeps_old", "rc %d step %ld: %s", rc, got.step, e.msg);
        /* and a finished re-save leaves exactly one verified copy */
        fill_model(&a, 32);
        rc = checkpoint_save(run2, &a, &s, 1, &e);
        int rc2 = checkpoint_load_latest(run2, &b, &got, NULL, &e);
        CHECK(rc == 0 && rc2 == 1 && same_model(&a, &b) && checkpoint_verify(fin, NULL, &e) == 1 &&
                  !dir_exists(run2, "step_00000003.old"),
              "ckpt_resave_keep1", "rc %d/%d: %s", rc, rc2, e.msg);
    }
    model_free(&a);
    model_free(&b);
}

/* A tensor name of 300 characters (a 160+-character name was a use-after-free in read_all's error path). */
static void test_long_name(void) {
    char name[301], hdr[512], path[600];
    memset(name, 'x', 300);
    memcpy(name, "model.", 6);
    name[300] = 0;
    int hl = snprintf(hdr, sizeof hdr, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", name);
    uint64_t len = (uint64_t)hl;
    float data[4] = {1, 2, 3, 4};
    path_in(path, sizeof path, "longname.safetensors");
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(&len, 8, 1, f);
    fwrite(hdr, 1, (size_t)hl, f);
    fwrite(data, 4, 4, f);
    fclose(f);
    StFile st;
    Err e = {{0}};
    int rc = safetensors_read_all(path, &st, &e);
    CHECK(rc == 0 && st.n == 1 && !strcmp(st.t[0].name, name) && st.t[0].data[3] == 4, "st_read_all_long_name",
          "rc %d: %s", rc, e.msg);
    if (rc == 0) safetensors_free(&st);
}

/* CRC-32C: the standard check value, and pieces give the value of the whole. */
static void test_crc32c(void) {
    uint32_t c = crc32c_update(0, "123456789", 9);
    CHECK(c == 0xE3069283u, "crc32c_check_value", "got %08x", c);
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++) buf[i] = (unsigned char)(i * 131 + 7);
    uint32_t whole = crc32c_update(0, buf, 1000),
             parts = crc32c_update(crc32c_update(crc32c_update(0, buf, 3), buf + 3, 500), buf + 503, 497);
    CHECK(whole == parts, "crc32c_incremental", "%08x vs %08x", whole, parts);
    /* a bitwise reference (no table, no instruction) */
    uint32_t r = 0xFFFFFFFFu;
    for (int i = 0; i < 1000; i++) {
        r ^= buf[i];
        for (int k = 0; k < 8; k++) r = r & 1 ? (r >> 1) ^ 0x82F63B78u : r >> 1;
    }
    CHECK(whole == ~r, "crc32c_matches_bitwise_reference", "%08x vs %08x", whole, ~r);
}

/* checkpoint_prune: only steps below `below` go, oldest first, while more than keep remain; a symbolic
 * link under checkpoint/ is an error naming it and its target is untouched. */
static void test_prune(void) {
    Err e = {{0}};
    Model a;
    if (build(&a, tiny_model_config(), 1)) return;
    char run[512], p[1000], victim[600];
    path_in(run, sizeof run, "prune");
    for (long st = 1; st <= 4; st++) {
        fill_model(&a, (uint64_t)st);
        TrainState s = make_state(st);
        if (checkpoint_save(run, &a, &s, 0, &e)) break;
    }
    int rc = checkpoint_prune(run, 1, 3, &e);
    CHECK(rc == 0 && !dir_exists(run, "step_00000001") && !dir_exists(run, "step_00000002") &&
              dir_exists(run, "step_00000003") && dir_exists(run, "step_00000004"),
          "ckpt_prune_below_only", "rc %d: %s", rc, e.msg);
    rc = checkpoint_prune(run, 1, 10, &e);
    CHECK(rc == 0 && !dir_exists(run, "step_00000003") && dir_exists(run, "step_00000004"), "ckpt_prune_keep",
          "rc %d: %s", rc, e.msg);
    path_in(victim, sizeof victim, "victim");
    mkdir(victim, 0777);
    snprintf(p, sizeof p, "%s/keep.txt", victim);
    write_text(p, "precious");
    snprintf(p, sizeof p, "%s/checkpoint/step_00000002.tmp", run);
    rc = symlink(victim, p) == 0 ? checkpoint_prune(run, 1, 10, &e) : 0;
    snprintf(p, sizeof p, "%s/keep.txt", victim);
    CHECK(rc == -1 && strstr(e.msg, "step_00000002.tmp: is a symbolic link") && file_exists(p), "ckpt_link_refused",
          "rc %d: %s", rc, e.msg);
    model_free(&a);
}

int main(void) {
    if (!scratch_dir(tmpdir, sizeof tmpdir, NULL, "test_checkpoint")) return check_summary();
    test_round_trip();
    test_foreign();
    test_config();
    test_checkpoints();
    test_prune();
    test_crc32c();
    test_long_name();
    scratch_remove(tmpdir);
    return check_summary();
}
