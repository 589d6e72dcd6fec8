/* test_fuzz.c - bounded mutation fuzzing of every reader of outside input.
 *
 * For each reader (safetensors, token shard, BPE tokenizer, training state.json, checkpoint COMPLETE
 * marker, Hugging Face config.json, prep.json, experiment YAML, sweep YAML, analysis spec YAML,
 * results JSONL) a valid seed file is written, then mutated FUZZ_ITERS times with a fixed seed: bit
 * flips, "interesting" bytes (quotes, brackets, digits, 0x00, 0xff), inserted and deleted ranges,
 * duplicated chunks, truncation, long runs. Every mutated file must give success or a clean error:
 * return 0 or -1, and on -1 a non-empty one-line message that names the file. A crash, a hang or a
 * sanitizer report (make _test SAN=1) ends the program, which run_all.sh counts as a failure.
 * Every reader gets all FUZZ_ITERS inputs, the same fixed sequence every time: no clock decides how many
 * (the whole program takes about 4 s on a loaded 2-core machine). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe.h"
#include "check.h"
#include "checkpoint.h"
#include "config.h"
#include "dataloader.h"
#include "hf_config.h"
#include "kv.h"
#include "safetensors.h"
#include "shard.h"
#include "spec.h"
#include "sweep.h"
#include "testutil.h"

#define FUZZ_ITERS 400

static char tmpdir[256];

typedef struct {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void buf_reserve(Buf *b, size_t n) {
    if (n <= b->cap) return;
    b->cap = n * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static int read_bytes(const char *path, Buf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    b->n = 0;
    unsigned char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        buf_reserve(b, b->n + k);
        memcpy(b->p + b->n, tmp, k);
        b->n += k;
    }
    fclose(f);
    return 0;
}

/* One to four mutations of src into dst. */
static void mutate(const Buf *src, Buf *dst, Rng *r) {
    static const unsigned char interesting[] = {0,   0xff, 0x7f, 0x80, '"', '\\', '{', '}',  '[', ']', ':', ',', '\n',
                                                '-', '0',  '9',  'e',  '.', ' ',  '#', '\'', '&', '*', '!', '|', 0xc3};
    buf_reserve(dst, src->n + 1);
    memcpy(dst->p, src->p, src->n);
    dst->n = src->n;
    int ops = 1 + (int)rng_below(r, 4);
    for (int o = 0; o < ops; o++) {
        size_t n = dst->n, at = n ? (size_t)rng_below(r, n) : 0;
        switch (rng_below(r, 8)) {
            case 0: /* flip a bit */
                if (n) dst->p[at] ^= (unsigned char)(1u << rng_below(r, 8));
                break;
            case 1: /* an interesting byte */
                if (n) dst->p[at] = interesting[rng_below(r, sizeof interesting)];
                break;
            case 2: { /* insert 1-8 random or interesting bytes */
                size_t k = 1 + (size_t)rng_below(r, 8);
                buf_reserve(dst, n + k);
                memmove(dst->p + at + k, dst->p + at, n - at);
                for (size_t i = 0; i < k; i++)
                    dst->p[at + i] =
                        rng_below(r, 2) ? (unsigned char)rng_u64(r) : interesting[rng_below(r, sizeof interesting)];
                dst->n += k;
                break;
            }
            case 3: { /* delete a range */
                size_t k = n ? 1 + (size_t)rng_below(r, n - at < 64 ? n - at : 64) : 0;
                memmove(dst->p + at, dst->p + at + k, n - at - k);
                dst->n -= k;
                break;
            }
            case 4: { /* duplicate a chunk in place */
                size_t k = n ? 1 + (size_t)rng_below(r, n - at < 128 ? n - at : 128) : 0;
                buf_reserve(dst, n + k);
                memmove(dst->p + at + k, dst->p + at, n - at);
                dst->n += k;
                break;
            }
            case 5: /* truncate */ dst->n = at; break;
            case 6: /* overwrite 8 bytes with a large or negative little-endian number */
                if (n >= 8 && at + 8 <= n) {
                    uint64_t v = rng_below(r, 2) ? ~(uint64_t)0 >> rng_below(r, 64) : (uint64_t)1 << rng_below(r, 64);
                    memcpy(dst->p + at, &v, 8);
                }
                break;
            default: { /* a long run of one byte (deep nesting, long names, huge numbers) */
                size_t k = 64 + (size_t)rng_below(r, 4096);
                unsigned char c = interesting[rng_below(r, sizeof interesting)];
                buf_reserve(dst, n + k);
                memmove(dst->p + at + k, dst->p + at, n - at);
                memset(dst->p + at, c, k);
                dst->n += k;
                break;
            }
        }
    }
}

typedef int (*Reader)(const char *path, Err *e);

/* Mutate the seed file `path` again and again, calling rd on each; count outcomes. An error message
 * must contain `names` (the path itself, or the directory for readers of several files). */
static void fuzz_named(const char *name, const char *path, const char *names, Reader rd, uint64_t seed) {
    Buf orig = {0}, cur = {0};
    if (read_bytes(path, &orig)) {
        CHECK(0, name, "cannot read the seed file %s", path);
        return;
    }
    Err e = {{0}};
    int rc0 = rd(path, &e);
    CHECK(rc0 == 0, name, "the unmutated seed file fails: %s", e.msg); /* the seed itself must be valid */
    Rng r;
    rng_seed(&r, seed);
    int n = 0, ok = 0, clean = 0, bad = 0;
    char first_bad[1200] = "";
    for (; n < FUZZ_ITERS; n++) {
        mutate(&orig, &cur, &r);
        write_bytes(path, cur.p, cur.n);
        memset(&e, 0, sizeof e);
        int rc = rd(path, &e);
        if (rc == 0) ok++;
        else if (rc == -1 && e.msg[0] && !strchr(e.msg, '\n') && strstr(e.msg, names)) clean++;
        else {
            if (!bad++) snprintf(first_bad, sizeof first_bad, "input %d: rc %d, message '%s'", n, rc, e.msg);
        }
    }
    write_bytes(path, orig.p, orig.n);
    memset(&e, 0, sizeof e);
    int rc1 = rd(path, &e); /* the reader left nothing behind that breaks a good input (a deleted checkpoint) */
    char label[128];
    snprintf(label, sizeof label, "fuzz_%s", name);
    CHECK(bad == 0 && n > 0 && rc1 == 0, label, "%d of %d inputs gave no clean error; first: %s; seed afterwards: %s",
          bad, n, first_bad, rc1 ? e.msg : "ok");
    printf("    %s: %d inputs, %d accepted, %d clean errors\n", name, n, ok, clean);
    free(orig.p);
    free(cur.p);
}

static void fuzz(const char *name, const char *path, Reader rd, uint64_t seed) {
    fuzz_named(name, path, path, rd, seed);
}

/* ---- readers: each returns 0 / -1 like the library ---- */

static Model g_model; /* built once: the shapes every checkpoint reader checks against */

static int rd_safetensors(const char *path, Err *e) {
    StFile f;
    if (safetensors_read_all(path, &f, e)) return -1;
    safetensors_free(&f);
    return safetensors_load_model(path, &g_model, e);
}

static int rd_shard(const char *path, Err *e) {
    Shard s;
    if (shard_read(&s, path, e)) return -1;
    shard_free(&s);
    return 0;
}

static int rd_bpe(const char *path, Err *e) {
    Bpe b;
    memset(&b, 0, sizeof b);
    if (bpe_load(&b, path, e)) return -1;
    /* a loaded tokenizer must also work: encode and decode a little text */
    TokVec t = {0};
    const char *text = "the quick brown fox, 123!";
    int rc = bpe_encode(&b, (const uint8_t *)text, strlen(text), &t, e);
    uint8_t *out = NULL;
    size_t len;
    if (!rc) rc = bpe_decode(&b, t.v, t.n, &out, &len, e);
    if (!rc && (len != strlen(text) || memcmp(out, text, len)))
        rc = err_set(e, "%s: the loaded tokenizer does not round-trip text", path);
    free(out);
    tokvec_free(&t);
    bpe_free(&b);
    return rc;
}

/* state.json and COMPLETE are read through checkpoint_load_latest on the run directory around them. */
static char g_run[512];
static int rd_checkpoint(const char *path, Err *e) {
    TrainState s;
    Err warn;
    (void)path; /* the error names whichever file of the run failed: checked against g_run */
    int rc = checkpoint_load_latest(g_run, &g_model, &s, &warn, e);
    return rc < 0 ? -1 : rc == 1 ? 0 : err_set(e, "%s: the checkpoint was not found (rc %d)", g_run, rc);
}

static int rd_hf_config(const char *path, Err *e) {
    ModelConfig c;
    return hf_config_read(path, &c, e);
}

static int rd_prep_json(const char *path, Err *e) {
    /* prep_read_ids takes the shard's path and reads prep.json beside it */
    char shard[300];
    snprintf(shard, sizeof shard, "%.*s/train.bin", (int)(strrchr(path, '/') - path), path);
    TokenIds ids = {0, 0, 0, 0};
    return prep_read_ids(shard, &ids, e) < 0 ? -1 : 0;
}

static int rd_config(const char *path, Err *e) {
    Config c;
    config_defaults(&c);
    if (config_load(&c, path, e)) return -1;
    config_resolve(&c);
    return config_validate(&c, e) ? (strstr(e->msg, path) ? -1 : -2) : 0;
}

static int rd_sweep(const char *path, Err *e) {
    Sweep s;
    if (sweep_load(&s, path, e)) return -1;
    sweep_free(&s);
    return 0;
}

static int rd_spec(const char *path, Err *e) {
    Spec *s = calloc(1, sizeof *s);
    int rc = spec_load(s, path, e);
    free(s);
    return rc;
}

static int rd_jsonl(const char *path, Err *e) {
    KVList *recs;
    int n;
    if (jsonl_read(path, &recs, &n, e)) return -1;
    jsonl_free(recs, n);
    return 0;
}

/* ---- seed files ---- */

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* Writes text to FILE in the scratch directory and fuzzes its reader there. */
static void fuzz_text(const char *name, const char *file, const char *text, Reader rd, uint64_t seed) {
    char p[600];
    path_in(p, sizeof p, file);
    write_text(p, text);
    fuzz(name, p, rd, seed);
}

int main(void) {
    /* thousands of small files written and read: tmpfs when there is one */
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : getenv("AD_TMP")                                          ? getenv("AD_TMP")
                                                                                   : "/tmp";
    if (!scratch_dir(tmpdir, sizeof tmpdir, base, "test_fuzz")) return check_summary();
    Err e;
    char p[600], q[1400];
    ModelConfig mc = tiny_model_config();
    if (model_build(&g_model, &mc, &e) || model_alloc_train(&g_model, &e)) {
        CHECK(0, "setup_model", "%s", e.msg);
        return check_summary();
    }
    Rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < g_model.n_params; i++) g_model.params[i] = (float)rng_normal(&r) * 0.02f;

    /* safetensors */
    path_in(p, sizeof p, "model.safetensors");
    if (safetensors_save_model(p, &g_model, &e) == 0) fuzz("safetensors", p, rd_safetensors, 11);

    /* token shard (uint16) */
    uint32_t toks[300];
    for (int i = 0; i < 300; i++) toks[i] = (uint32_t)(i * 7 % 16);
    path_in(p, sizeof p, "train.bin");
    if (shard_write(p, toks, 300, 0, &e) == 0) fuzz("shard", p, rd_shard, 12);

    /* BPE tokenizer trained on a little text */
    static const char *docs_text[] = {"the cat sat on the mat. the cat ate the rat.",
                                      "a dog and a cat, the dog and the cat!",
                                      "the quick brown fox jumps over the lazy dog 123 123"};
    const uint8_t *docs[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        docs[i] = (const uint8_t *)docs_text[i];
        lens[i] = strlen(docs_text[i]);
    }
    Bpe b;
    memset(&b, 0, sizeof b);
    path_in(p, sizeof p, "tokenizer.bin");
    if (bpe_train(&b, docs, lens, 3, 270, NULL, NULL, &e) == 0 && bpe_save(&b, p, &e) == 0)
        fuzz("tokenizer", p, rd_bpe, 13);
    else CHECK(0, "setup_tokenizer", "%s", e.msg);
    bpe_free(&b);

    /* a checkpoint: state.json and config.json with an old-style COMPLETE (no checksums, so the parsers
     * are reached), then COMPLETE itself with checksums */
    path_in(g_run, sizeof g_run, "run");
    TrainState st = {.step = 3, .tokens = 100, .elapsed_s = 1.5, .data_epoch = 1, .data_pos = 7, .decay = {0.25, 2}};
    if (checkpoint_save(g_run, &g_model, &st, 1, &e) == 0) {
        snprintf(q, sizeof q, "%s/checkpoint/step_00000003/COMPLETE", g_run);
        fuzz_named("complete_marker", q, g_run, rd_checkpoint, 14);
        Buf keep = {0};
        read_bytes(q, &keep);
        write_text(q, "step 3\n");
        snprintf(p, sizeof p, "%s/checkpoint/step_00000003/state.json", g_run);
        fuzz_named("state_json", p, g_run, rd_checkpoint, 15);
        snprintf(p, sizeof p, "%s/checkpoint/step_00000003/config.json", g_run);
        fuzz("hf_config_json", p, rd_hf_config, 16);
        write_bytes(q, keep.p, keep.n);
        free(keep.p);
    } else CHECK(0, "setup_checkpoint", "%s", e.msg);

    /* prep.json */
    fuzz_text("prep_json", "prep.json",
              "{\n  \"vocab_size\": 16,\n  \"eot_id\": 15,\n  \"eos_id\": 15,\n  \"pad_id\": 15,\n"
              "  \"keep_eos_on_truncate\": false,\n  \"tokens\": {\"train\": 300, \"val\": 0}\n}\n",
              rd_prep_json, 17);

    /* experiment YAML */
    char shard[600];
    path_in(shard, sizeof shard, "train.bin");
    snprintf(q, sizeof q,
             "model: {hidden_size: 32, intermediate_size: 88, num_attention_heads: 2, num_hidden_layers: 2, "
             "vocab_size: 300}\n"
             "data: {train: %s, seq_len: 32, mode: pack}\n"
             "train:\n  lr: 0.005\n  batch_size: 8\n  steps: 40\n  warmup_steps: 4\n  seed: 5\n"
             "decay:\n  method: alphadecay\n  weight_decay: 1.0e-5\n  exclude: [lm_head]\n"
             "eval: {every: 20, tokens: 2000}\ncheckpoint: {every: 10, keep: 2}\n",
             shard);
    fuzz_text("experiment_yaml", "exp.yaml", q, rd_config, 18);

    /* sweep YAML */
    char exp[300];
    path_in(exp, sizeof exp, "exp.yaml");
    snprintf(q, sizeof q,
             "name: fz\nbase: %s\nset: {train.steps: 6}\ngrid:\n  decay.method: [uniform, alphadecay]\n"
             "  decay.weight_decay: [1e-5, 5e-6]\nexclude:\n  - {decay.method: uniform, decay.weight_decay: 5e-6}\n"
             "extra:\n  - {decay.method: none}\nwhen:\n  - if: {decay.weight_decay: 1e-5}\n    set: {decay.s2: 3}\n"
             "    else: {decay.s2: 5}\nseeds: [1, 2]\n",
             exp);
    fuzz_text("sweep_yaml", "grid.yaml", q, rd_sweep, 19);

    /* analysis spec */
    fuzz_text(
        "spec_yaml", "table.yaml",
        "table: fz\ntitle: \"Fuzz\"\nresults: res/fx\nmetric: val_ppl\nbetter: lower\nttest: {vs: B}\n"
        "rows:\n  - {label: A, where: {decay.method: uniform}}\n  - {label: B, where: {decay.method: alphadecay}}\n"
        "columns:\n  - {label: 1e-5, where: {decay.weight_decay: 1e-5}}\n  - {label: all}\n",
        rd_spec, 20);

    /* a results JSONL (metrics / eval lines) */
    fuzz_text("results_jsonl", "metrics.jsonl",
              "{\"step\": 10, \"tokens\": 2560, \"loss\": 4.25, \"lr\": 0.001, \"elapsed_s\": 1.5}\n"
              "{\"step\": 20, \"tokens\": 5120, \"loss\": 3.75, \"lr\": 0.001, \"elapsed_s\": 3}\n",
              rd_jsonl, 21);

    model_free(&g_model);
    scratch_remove(tmpdir);
    return check_summary();
}
