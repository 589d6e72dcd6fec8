/* prep.c - `alphadecay prep`: a corpus (text / JSONL / gzip files, directories, globs) to a byte-level
 * BPE tokenizer (or a given one: our tokenizer.bin, or a SentencePiece model as spm:PATH) and llm.c
 * token shards.
 *
 * Writes DIR/tokenizer.bin (bpe.h format; DIR/spiece.model, a copy, for SentencePiece), DIR/train.bin
 * and DIR/val.bin (shard.h; each document's tokens followed by the EOS token: our BPE's end-of-text,
 * id vocab_size - 1, or the SentencePiece model's EOS, 1 for T5; uint16 tokens, uint32 when the
 * vocabulary exceeds 65536) and DIR/prep.json, last, as the mark of a complete preparation. prep.json's
 * eos_id, pad_id and keep_eos_on_truncate tell train and eval how to build pad-mode rows (dataloader.h).
 * Documents whose bytes repeat an earlier document's are dropped before the split (--keep-duplicates
 * keeps them), so no text is in both train and val; prep.json counts them.
 * Everything is computed in memory before the first file is written; every file is written
 * atomically (tmp + rename) and a stale prep.json is removed first, so a failure never leaves a
 * partial shard under its final name nor a prep.json describing files that were not written. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bpe.h"
#include "brown.h"
#include "corpus.h"
#include "json.h"
#include "prep.h"
#include "shard.h"
#include "tokenizer.h"

typedef struct {
    PathList inputs; /* as given */
    const char *out;
    int vocab_size; /* 0 = default (or the tokenizer file's) */
    double val_fraction;
    const char *tokenizer;
    uint64_t seed;
    int skip_bad;
    int quiet;
    const char *exts;    /* --ext: the directory walk's extensions ("md,txt", "*" = all); NULL = default */
    int keep_duplicates; /* --keep-duplicates: no exact-duplicate removal */
    int brown;           /* --brown: every input file is Brown word/TAG text (brown.h) */
} PrepArgs;

#define DEFAULT_VOCAB 8192
#define DEFAULT_VAL_FRACTION 0.05
#define DEFAULT_SEED 1

static void usage(FILE *f) {
    fprintf(f,
            "usage: alphadecay prep --input PATH... --out DIR [--vocab-size N] [--val-fraction F]\n"
            "                       [--tokenizer FILE|spm:MODEL] [--seed S] [--skip-bad-lines] [--quiet] [--brown]\n"
            "                       [--ext EXT,...|'*'] [--keep-duplicates]\n\n"
            "Reads a corpus, trains a byte-level BPE tokenizer on its training documents (unless --tokenizer\n"
            "gives one) and writes DIR/tokenizer.bin, DIR/train.bin, DIR/val.bin (llm.c token shards, each\n"
            "document followed by the end-of-text token id vocab_size-1) and DIR/prep.json.\n\n"
            "  --input PATH...     files, directories (walked in sorted order, *.txt *.jsonl *.json [.gz]) or\n"
            "                      glob patterns; may repeat. *.jsonl/*.json[.gz]: one JSON object per line,\n"
            "                      its \"text\" field is a document; any other file is one document.\n"
            "  --ext EXT,...       directories: take files named *.EXT (and *.EXT.gz) instead; '*' takes every\n"
            "                      file (files other than *.jsonl/*.json are one document each)\n"
            "  --keep-duplicates   keep exact-duplicate documents (by default every repeat of an earlier\n"
            "                      document's exact bytes is dropped before the split, and counted)\n"
            "  --out DIR           output directory (created)\n"
            "  --vocab-size N      tokens incl. 256 bytes and end-of-text, >= 257 (default %d)\n"
            "  --val-fraction F    fraction of documents held out for validation, in [0,1) (default %g)\n"
            "  --tokenizer FILE    use this tokenizer.bin instead of training one (copied to DIR)\n"
            "  --tokenizer spm:MODEL  a SentencePiece model (e.g. T5's spiece.model, copied to DIR/spiece.model):\n"
            "                      its ids, EOS after each document, its pad id recorded for pad mode\n"
            "  --seed S            seed of the document split (default %d)\n"
            "  --skip-bad-lines    skip and count JSON lines that do not parse or lack \"text\"\n"
            "  --quiet             no progress on stderr\n"
            "  --brown             the input files are the Brown corpus's word/TAG text: tags stripped, words\n"
            "                      joined with English spacing (each file one document)\n",
            DEFAULT_VOCAB, DEFAULT_VAL_FRACTION, DEFAULT_SEED);
}

/* 0 ok, 2 bad usage (message printed), -1 --help shown. */
static int parse_args(int argc, char **argv, PrepArgs *a) {
    memset(a, 0, sizeof *a);
    a->val_fraction = DEFAULT_VAL_FRACTION;
    a->seed = DEFAULT_SEED;
    const char *inputs[argc > 0 ? argc : 1], *vocab = NULL, *fraction = NULL, *seed = NULL, *exts = NULL;
    ArgList in = {.v = inputs, .cap = argc > 0 ? argc : 1};
    const ArgSpec specs[] = {
        {"--input", NULL, ARG_LIST, &in, 0, 0}, /* every following argument up to the next option */
        {"--out", NULL, ARG_STR, &a->out, 0, 0},
        {"--vocab-size", NULL, ARG_STR, &vocab, 0, 0},
        {"--val-fraction", NULL, ARG_STR, &fraction, 0, 0},
        {"--tokenizer", NULL, ARG_STR, &a->tokenizer, 0, 0},
        {"--seed", NULL, ARG_STR, &seed, 0, 0},
        {"--skip-bad-lines", NULL, ARG_FLAG, &a->skip_bad, 0, 0},
        {"--quiet", NULL, ARG_FLAG, &a->quiet, 0, 0},
        {"--ext", NULL, ARG_STR, &exts, 0, 0},
        {"--keep-duplicates", NULL, ARG_FLAG, &a->keep_duplicates, 0, 0},
        {"--brown", NULL, ARG_FLAG, &a->brown, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("prep", argc, argv, specs, NULL, usage);
    if (u) return u == 1 ? -1 : 2;
    char *end;
    if (vocab) {
        long v = strtol(vocab, &end, 10);
        if (!*vocab || *end || v < 257 || v > (1L << 24))
            return args_usage_error("prep",
                                    "--vocab-size '%s' must be an integer in [257, %ld] (256 byte tokens + "
                                    "merges + end-of-text)",
                                    vocab, 1L << 24);
        a->vocab_size = (int)v;
    }
    if (fraction) {
        a->val_fraction = strtod(fraction, &end);
        if (!*fraction || *end || !(a->val_fraction >= 0 && a->val_fraction < 1))
            return args_usage_error("prep", "--val-fraction '%s' must be a number in [0, 1)", fraction);
    }
    if (seed) {
        a->seed = strtoull(seed, &end, 10);
        if (!*seed || *end || seed[0] == '-')
            return args_usage_error("prep", "--seed '%s' must be a non-negative integer", seed);
    }
    if (exts) {
        if (!*exts ||
            strspn(exts, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,*") != strlen(exts) ||
            (strchr(exts, '*') && strcmp(exts, "*")))
            return args_usage_error("prep",
                                    "--ext '%s': expected extensions like md,txt (no dots needed) or '*' for "
                                    "every file",
                                    exts);
        a->exts = exts[0] == '.' ? exts + 1 : exts;
    }
    if (!in.n || !a->out) return args_usage_error("prep", "--input and --out are required");
    Err e;
    for (int i = 0; i < in.n; i++)
        if (pathlist_add(&a->inputs, inputs[i], &e) != 0) {
            fprintf(stderr, "alphadecay prep: %s\n", e.msg);
            return 2;
        }
    return 0;
}

/* ---- progress: one stderr line at most every second */
typedef struct {
    int quiet;
    double last, t0;
} Progress;

static int progress_due(Progress *p) {
    if (p->quiet) return 0;
    double t = now_seconds();
    if (t - p->last < 1.0) return 0;
    p->last = t;
    return 1;
}

static void on_merges(void *ctx, int done, int total) {
    Progress *p = ctx;
    if (progress_due(p) || (done == total && !p->quiet))
        fprintf(stderr, "prep: BPE merges %d/%d (%.1fs)\n", done, total, now_seconds() - p->t0);
}

typedef struct {
    size_t docs, bytes;
    TokVec toks;
} Split;

/* Encodes the documents of one side of the split, each followed by the end-of-text token. */
static int encode_split(Tokenizer *tk, const Corpus *c, const unsigned char *is_val, int want_val, Split *s,
                        Progress *p, const char *label, Err *e) {
    for (size_t d = 0; d < c->n_docs; d++) {
        if (is_val[d] != want_val) continue;
        size_t len = c->off[d + 1] - c->off[d];
        if (tokenizer_encode(tk, c->buf + c->off[d], len, &s->toks, e) != 0) return -1;
        if (tokvec_push(&s->toks, (uint32_t)tk->eos, e) != 0) return -1;
        s->docs++;
        s->bytes += len;
        if (progress_due(p))
            fprintf(stderr, "prep: encoding %s: %zu documents, %zu tokens (%.1fs)\n", label, s->docs, s->toks.n,
                    now_seconds() - p->t0);
    }
    return 0;
}

static int join(char *dst, const char *dir, const char *name, Err *e) {
    if ((size_t)snprintf(dst, AD_PATH_MAX, "%s/%s", dir, name) >= AD_PATH_MAX)
        return err_set(e, "%s/%s: path too long", dir, name);
    return 0;
}

/* One preparation's state, from the files read to the timings reported. */
typedef struct {
    const PrepArgs *a;
    Progress pr;
    PathList files;
    Corpus c;
    Tokenizer tk;          /* BPE (trained or loaded) or SentencePiece */
    unsigned char *is_val; /* per document: 1 = validation */
    size_t n_val;
    Split tr, va;
    int trained;
    size_t n_dup, n_dup_groups; /* exact duplicates dropped; distinct texts among them */
    double t0, t_read, t_bpe, t_enc;
} Prep;

/* Read: the inputs expanded to files, every file's documents into one corpus. */
static int prep_read(Prep *p, Err *e) {
    const PrepArgs *a = p->a;
    CorpusWalk w;
    if (corpus_expand_walk(a->inputs.v, (int)a->inputs.n, a->exts, &p->files, &w, e) != 0) return -1;
    if (!p->files.n && w.n_skipped)
        return err_set(e,
                       "no input files found under the given paths: directories are walked for files named %s%s "
                       "only, and %zu other file%s %s skipped (e.g. %s); --ext md,txt names the extensions to take, "
                       "--ext '*' takes every file",
                       a->exts ? "by --ext " : "", a->exts ? a->exts : CORPUS_EXTS, w.n_skipped,
                       w.n_skipped == 1 ? "" : "s", w.n_skipped == 1 ? "was" : "were", w.first_skipped);
    if (!p->files.n)
        return err_set(e, "no input files found under the given paths (directories are walked for files named %s%s)",
                       a->exts ? "by --ext " : "", a->exts ? a->exts : CORPUS_EXTS);
    if (w.n_skipped && !a->quiet)
        fprintf(stderr, "prep: %zu file%s of other extensions skipped in directories (e.g. %s; --ext to take them)\n",
                w.n_skipped, w.n_skipped == 1 ? "" : "s", w.first_skipped);
    for (size_t i = 0; i < p->files.n; i++) {
        size_t first = p->c.n_docs;
        if (corpus_add_file(&p->c, p->files.v[i], a->skip_bad, e) != 0) return -1;
        if (a->brown && brown_convert_tail(&p->c, first, p->files.v[i], e) != 0) return -1;
        if (progress_due(&p->pr))
            fprintf(stderr, "prep: read %zu/%zu files, %zu documents, %.1f MB\n", i + 1, p->files.n, p->c.n_docs,
                    p->c.bytes_in / 1e6);
    }
    if (!p->c.n_docs)
        return err_set(e, "empty corpus: %zu input file(s) hold no non-empty document%s", p->files.n,
                       p->c.n_bad_lines ? " (all JSON lines were bad and skipped)" : "");
    /* exact duplicates (licence texts, boilerplate) would otherwise land in train and val alike */
    if (!a->keep_duplicates && corpus_dedup(&p->c, &p->n_dup, &p->n_dup_groups, e) != 0) return -1;
    if (p->n_dup && !a->quiet)
        fprintf(stderr,
                "prep: dropped %zu exact-duplicate document%s (%zu distinct text%s occurred more than once; "
                "--keep-duplicates keeps them)\n",
                p->n_dup, p->n_dup == 1 ? "" : "s", p->n_dup_groups, p->n_dup_groups == 1 ? "" : "s");
    p->t_read = now_seconds() - p->t0;
    if (!a->quiet)
        fprintf(stderr, "prep: %zu documents (%.1f MB) from %zu files in %.1fs\n", p->c.n_docs, p->c.len / 1e6,
                p->files.n, p->t_read);
    return 0;
}

/* Tokenizer: --tokenizer's file, or BPE trained on the training documents. */
static int prep_tokenizer(Prep *p, Err *e) {
    const PrepArgs *a = p->a;
    const Corpus *c = &p->c;
    if (a->tokenizer) {
        if (tokenizer_open(&p->tk, a->tokenizer, e) != 0) return -1;
        if (a->vocab_size && a->vocab_size != p->tk.vocab_size)
            return err_set(e, "%s: tokenizer has vocab size %d but --vocab-size is %d", a->tokenizer, p->tk.vocab_size,
                           a->vocab_size);
        return 0;
    }
    size_t n_tr = c->n_docs - p->n_val, k = 0;
    const uint8_t **docs = malloc(n_tr * sizeof *docs);
    size_t *lens = malloc(n_tr * sizeof *lens);
    if (!docs || !lens) {
        free(docs);
        free(lens);
        return err_set(e, "out of memory");
    }
    for (size_t d = 0; d < c->n_docs; d++)
        if (!p->is_val[d]) {
            docs[k] = (const uint8_t *)c->buf + c->off[d];
            lens[k++] = c->off[d + 1] - c->off[d];
        }
    int vs = a->vocab_size ? a->vocab_size : DEFAULT_VOCAB;
    int r = bpe_train(&p->tk.bpe, docs, lens, n_tr, vs, on_merges, &p->pr, e);
    free(docs);
    free(lens);
    if (r != 0) return -1;
    p->tk.vocab_size = p->tk.bpe.vocab_size;
    p->tk.eos = p->tk.pad = p->tk.bpe.eot;
    p->trained = 1;
    return 0;
}

/* prep.json's text (in *json, malloc'd): inputs, files, counts, timings. */
static int prep_json(const Prep *p, int wide, double total, char **json, size_t *json_len, Err *e) {
    const PrepArgs *a = p->a;
    const Split *tr = &p->tr, *va = &p->va;
    FILE *f = open_memstream(json, json_len);
    if (!f) return err_set(e, "out of memory");
    fprintf(f, "{\n  \"version\": \"%s\",\n  \"inputs\": [", AD_VERSION);
    for (size_t i = 0; i < a->inputs.n; i++) {
        fputs(i ? ", " : "", f);
        json_write_str(f, a->inputs.v[i]);
    }
    fprintf(f, "],\n  \"files\": [");
    for (size_t i = 0; i < p->files.n; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_write_str(f, p->files.v[i]);
    }
    fprintf(f, "],\n  \"n_files\": %zu,\n  \"bytes_read\": %zu,\n", p->files.n, p->c.bytes_in);
    fprintf(f,
            "  \"documents\": {\"train\": %zu, \"val\": %zu, \"empty_dropped\": %zu, \"bad_lines_skipped\": %zu, "
            "\"duplicates_dropped\": %zu, \"duplicate_groups\": %zu, \"deduplicated\": %s},\n",
            tr->docs, va->docs, p->c.n_empty, p->c.n_bad_lines, p->n_dup, p->n_dup_groups,
            a->keep_duplicates ? "false" : "true");
    fprintf(f, "  \"bytes\": {\"train\": %zu, \"val\": %zu},\n", tr->bytes, va->bytes);
    fprintf(f, "  \"tokens\": {\"train\": %zu, \"val\": %zu},\n", tr->toks.n, va->toks.n);
    fprintf(f, "  \"vocab_size\": %d,\n  \"eot_id\": %d,\n  \"token_bytes\": %d,\n", p->tk.vocab_size, p->tk.eos,
            wide ? 4 : 2);
    fprintf(f, "  \"eos_id\": %d,\n  \"pad_id\": %d,\n  \"keep_eos_on_truncate\": %s,\n", p->tk.eos, p->tk.pad,
            p->tk.is_spm ? "true" : "false");
    fprintf(f, "  \"tokenizer\": {\"kind\": \"%s\", \"file\": \"%s\", \"trained\": %s, \"source\": ",
            p->tk.is_spm ? "sentencepiece" : "bpe", p->tk.is_spm ? "spiece.model" : "tokenizer.bin",
            p->trained ? "true" : "false");
    if (a->tokenizer) json_write_str(f, a->tokenizer);
    else fputs("null", f);
    fprintf(f, "},\n  \"val_fraction\": %.6g,\n  \"seed\": %llu,\n", a->val_fraction, (unsigned long long)a->seed);
    fprintf(f, "  \"seconds\": {\"read\": %.3f, \"tokenizer\": %.3f, \"encode\": %.3f, \"total\": %.3f},\n", p->t_read,
            p->t_bpe, p->t_enc, total);
    fprintf(f,
            "  \"throughput\": {\"bpe_train_bytes_per_s\": %.0f, \"encode_bytes_per_s\": %.0f, "
            "\"encode_tokens_per_s\": %.0f}\n}\n",
            p->trained && p->t_bpe > 0 ? tr->bytes / p->t_bpe : 0.0,
            p->t_enc > 0 ? (tr->bytes + va->bytes) / p->t_enc : 0.0,
            p->t_enc > 0 ? (tr->toks.n + va->toks.n) / p->t_enc : 0.0);
    fclose(f);
    return 0;
}

/* Write: everything is in memory; a stale prep.json goes first, the new one is written last. */
static int prep_write(const Prep *p, Err *e) {
    const PrepArgs *a = p->a;
    char path[AD_PATH_MAX];
    int wide = p->tk.vocab_size > 65536;
    if (mkdir_p(a->out, e) != 0) return -1;
    if (join(path, a->out, "prep.json", e) != 0) return -1;
    unlink(path);
    if (p->tk.is_spm) { /* the model file as it is: train / eval-tasks users pass spm:DIR/spiece.model */
        char *model;
        size_t n;
        if (read_file(p->tk.path, &model, &n, e) != 0) return -1;
        int rc = join(path, a->out, "spiece.model", e) != 0 || write_file_atomic(path, model, n, e) != 0;
        free(model);
        if (rc) return -1;
    } else if (join(path, a->out, "tokenizer.bin", e) != 0 || bpe_save(&p->tk.bpe, path, e) != 0) return -1;
    if (join(path, a->out, "train.bin", e) != 0 || shard_write(path, p->tr.toks.v, p->tr.toks.n, wide, e) != 0)
        return -1;
    if (join(path, a->out, "val.bin", e) != 0 || shard_write(path, p->va.toks.v, p->va.toks.n, wide, e) != 0) return -1;

    double total = now_seconds() - p->t0;
    char *json = NULL;
    size_t json_len = 0;
    if (prep_json(p, wide, total, &json, &json_len, e) != 0) return -1;
    int rc = join(path, a->out, "prep.json", e) != 0 || write_file_atomic(path, json, json_len, e) != 0 ? -1 : 0;
    free(json);
    if (rc) return -1;
    if (!a->quiet) {
        const Split *tr = &p->tr, *va = &p->va;
        fprintf(stderr,
                "prep: vocab %d; train %zu docs %zu tokens, val %zu docs %zu tokens (%.2f bytes/token); "
                "tokenizer %.1fs, encode %.1fs, total %.1fs -> %s\n",
                p->tk.vocab_size, tr->docs, tr->toks.n, va->docs, va->toks.n,
                (double)(tr->bytes + va->bytes) / (double)(tr->toks.n + va->toks.n - tr->docs - va->docs + 1e-9),
                p->t_bpe, p->t_enc, total, a->out);
    }
    return 0;
}

/* read -> split -> tokenizer -> encode -> write. */
static int run(const PrepArgs *a, Err *e) {
    Prep p = {.a = a};
    p.t0 = now_seconds();
    p.pr = (Progress){a->quiet, p.t0, p.t0};
    int rc = -1;
    if (prep_read(&p, e) != 0) goto done;
    p.is_val = malloc(p.c.n_docs);
    if (!p.is_val) {
        err_set(e, "out of memory");
        goto done;
    }
    if (corpus_split(p.c.n_docs, a->val_fraction, a->seed, p.is_val, &p.n_val, e) != 0) goto done;

    double t1 = now_seconds();
    if (prep_tokenizer(&p, e) != 0) goto done;
    p.t_bpe = now_seconds() - t1;

    double t2 = now_seconds();
    if (encode_split(&p.tk, &p.c, p.is_val, 0, &p.tr, &p.pr, "train", e) != 0) goto done;
    if (encode_split(&p.tk, &p.c, p.is_val, 1, &p.va, &p.pr, "val", e) != 0) goto done;
    p.t_enc = now_seconds() - t2;
    rc = prep_write(&p, e);
done:
    tokvec_free(&p.tr.toks);
    tokvec_free(&p.va.toks);
    free(p.is_val);
    tokenizer_close(&p.tk);
    corpus_free(&p.c);
    pathlist_free(&p.files);
    return rc;
}

int cmd_prep(int argc, char **argv) {
    PrepArgs a;
    int r = parse_args(argc, argv, &a);
    if (r != 0) {
        pathlist_free(&a.inputs);
        return r < 0 ? 0 : r;
    }
    Err e = {{0}};
    int rc = run(&a, &e);
    if (rc != 0) fprintf(stderr, "alphadecay prep: %s\n", e.msg);
    pathlist_free(&a.inputs);
    return rc ? 1 : 0;
}
