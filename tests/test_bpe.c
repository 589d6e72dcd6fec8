/* test_bpe.c - the tokenizer, corpus reading and `prep`, on generated data only:
 * pre-split by hand; merges on hand-checkable inputs; training against a brute-force reference
 * (recount every pair after every merge); encode/decode round trips on random bytes, invalid UTF-8
 * and generated text; the tokenizer file and its bad headers; JSON lines (escapes, surrogates, bad
 * lines with file:line); gzip (written here with zlib), corrupt gzip; directory walks and globs;
 * the document split; cmd_prep end to end with shard_read and the data loader on its output. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bpe.h"
#include "check.h"
#include "corpus.h"
#include "dataloader.h"
#include "prep.h"
#include "shard.h"
#include "testutil.h"

static char tmpdir[256];

static void tpath(char *dst, const char *name) { snprintf(dst, AD_PATH_MAX, "%s/%s", tmpdir, name); }

static void write_str(const char *name, const char *s, size_t n) {
    char p[AD_PATH_MAX];
    tpath(p, name);
    FILE *f = fopen(p, "wb");
    fwrite(s, 1, n, f);
    fclose(f);
}

/* Writes n bytes as NAME in the scratch directory and adds that file to the corpus. */
static int add_written(Corpus *c, const char *name, const char *bytes, size_t n, int skip_bad, Err *e) {
    char path[AD_PATH_MAX];
    write_str(name, bytes, n);
    tpath(path, name);
    return corpus_add_file(c, path, skip_bad, e);
}

static void write_gz(const char *name, const char *s, size_t n) {
    char p[AD_PATH_MAX];
    tpath(p, name);
    gzFile g = gzopen(p, "wb");
    gzwrite(g, s, (unsigned)n);
    gzclose(g);
}

/* Generated English-like text: words built from 1-3 syllables plus a few fixed tokens (digits, UTF-8,
 * punctuation), drawn with a skewed distribution so that pair counts are uneven. */
static char *gen_text(uint64_t seed, size_t n_words, size_t *len) {
    static const char *const syl[] = {"the", "of",   "an", "to", "in", "re", "con", "pro", "ment", "tion", "er", "ing",
                                      "al",  "ex",   "st", "ab", "ov", "gr", "ity", "ous", "pl",   "qu",   "ch", "sh",
                                      "br",  "ight", "un", "is", "ed", "or", "ca",  "fe",  "lo",   "mi",   "ny"};
    static const char *const extra[] = {"1790",       "42",   "caf\xc3\xa9", "na\xc3\xafve", "--",
                                        "\"quoted\"", "it's", "(year)",      "U.S."};
    const size_t ns = sizeof syl / sizeof syl[0], ne = sizeof extra / sizeof extra[0];
    Rng r;
    rng_seed(&r, seed);
    size_t cap = n_words * 40 + 16, n = 0;
    char *s = malloc(cap);
    for (size_t i = 0; i < n_words; i++) {
        const char *sep = i == 0 ? "" : rng_below(&r, 12) == 0 ? ".\n" : rng_below(&r, 8) == 0 ? ", " : " ";
        n += (size_t)snprintf(s + n, cap - n, "%s", sep);
        if (rng_below(&r, 10) == 0) {
            n += (size_t)snprintf(s + n, cap - n, "%s", extra[rng_below(&r, ne)]);
            continue;
        }
        int k = 1 + (int)rng_below(&r, 3);
        for (int j = 0; j < k; j++) {
            double u = rng_uniform(&r);
            n += (size_t)snprintf(s + n, cap - n, "%s", syl[(size_t)(u * u * (double)ns)]);
        }
    }
    *len = n;
    return s;
}

/* ------------------------------------------------------------------ pre-split */

static int chunks_are(const char *s, const char *const *want, int n_want) {
    size_t n = strlen(s), i = 0;
    int k = 0;
    while (i < n) {
        size_t j = bpe_next_chunk((const uint8_t *)s, n, i);
        if (k >= n_want || strlen(want[k]) != j - i || memcmp(want[k], s + i, j - i) != 0) {
            printf("    chunk %d of \"%s\" is \"%.*s\"\n", k, s, (int)(j - i), s + i);
            return 0;
        }
        k++;
        i = j;
    }
    return k == n_want;
}

static void test_split_chunks(void) {
    const char *a[] = {"Hello", " world"};
    CHECK(chunks_are("Hello world", a, 2), "chunk_words", "wrong chunks");
    const char *b[] = {"a", "\n", " b", "  ", " c", "  "};
    CHECK(chunks_are("a\n b   c  ", b, 6), "chunk_spaces_newlines", "wrong chunks");
    const char *c[] = {"x", " 12", ".", "5", "!!", " ?"};
    CHECK(chunks_are("x 12.5!! ?", c, 6), "chunk_digits_punct", "wrong chunks");
    const char *d[] = {"caf\xc3\xa9", " au", " lait"};
    CHECK(chunks_are("caf\xc3\xa9 au lait", d, 3), "chunk_utf8_letters", "wrong chunks");
    char longw[101];
    memset(longw, 'q', 100);
    longw[100] = 0;
    size_t j = bpe_next_chunk((const uint8_t *)longw, 100, 0);
    CHECK(j == BPE_MAX_CHUNK && bpe_next_chunk((const uint8_t *)longw, 100, j) == 100, "chunk_max_length", "cut at %zu",
          j);
    const char *e[] = {" "};
    CHECK(chunks_are(" ", e, 1), "chunk_single_space", "wrong chunks");
}

/* ------------------------------------------------------------------ training on hand-checkable input */

static void test_hand_merges(void) {
    /* one chunk "aaabdaaabac": pair counts (overlapping) aa:4 ab:2 bd da ba ac:1 -> merge (a,a)=256;
     * then [256 a b d 256 a b a c]: (256,a):2 and (a,b):2 tie, the smaller pair (97,98) wins -> 257;
     * then [256 257 d 256 257 a c]: (256,257):2 -> 258; then every pair occurs once: no more merges. */
    const char *s = "aaabdaaabac";
    const uint8_t *docs[1] = {(const uint8_t *)s};
    size_t lens[1] = {strlen(s)};
    Bpe b;
    Err e;
    int rc = bpe_train(&b, docs, lens, 1, 260, NULL, NULL, &e);
    CHECK(rc == 0, "hand_train_ok", "%s", e.msg);
    if (rc) return;
    uint32_t want[6] = {97, 97, 97, 98, 256, 257};
    CHECK(b.n_merges == 3 && memcmp(b.merges, want, sizeof want) == 0, "hand_merges_expected",
          "merges (%u,%u) (%u,%u) (%u,%u)", b.merges[0], b.merges[1], b.merges[2], b.merges[3], b.merges[4],
          b.merges[5]);
    size_t l;
    const uint8_t *p = bpe_token_bytes(&b, 258, &l);
    CHECK(l == 4 && memcmp(p, "aaab", 4) == 0, "hand_token_bytes", "token 258 is %.*s", (int)l, p);
    bpe_token_bytes(&b, 259, &l);
    CHECK(b.eot == 259 && b.vocab_size == 260 && l == 0, "hand_eot_last", "eot %d", b.eot);
    TokVec t = {0};
    bpe_encode(&b, (const uint8_t *)s, lens[0], &t, &e);
    uint32_t enc[5] = {258, 'd', 258, 'a', 'c'};
    CHECK(t.n == 5 && memcmp(t.v, enc, sizeof enc) == 0, "hand_encode", "%zu tokens", t.n);
    tokvec_free(&t);
    bpe_free(&b);

    rc = bpe_train(&b, docs, lens, 1, 261, NULL, NULL, &e);
    CHECK(rc != 0 && strstr(e.msg, "supplies only 3") && strstr(e.msg, "260"), "hand_vocab_too_large", "rc %d: %s", rc,
          e.msg);
    if (!rc) bpe_free(&b);
    rc = bpe_train(&b, docs, lens, 1, 256, NULL, NULL, &e);
    CHECK(rc != 0 && strstr(e.msg, "257"), "vocab_below_257", "rc %d: %s", rc, e.msg);
    if (!rc) bpe_free(&b);
    rc = bpe_train(&b, docs, lens, 1, 257, NULL, NULL, &e);
    CHECK(rc == 0 && b.n_merges == 0 && b.eot == 256, "vocab_257_bytes_only", "rc %d", rc);
    if (!rc) bpe_free(&b);

    /* chunk counts weight pairs: "ab ab ab cd" = "ab" + 2 x " ab" + " cd": (a,b):3 -> 256, then (' ',256):2 */
    const char *s2 = "ab ab ab cd";
    docs[0] = (const uint8_t *)s2;
    lens[0] = strlen(s2);
    rc = bpe_train(&b, docs, lens, 1, 259, NULL, NULL, &e);
    uint32_t want2[4] = {97, 98, 32, 256};
    CHECK(rc == 0 && memcmp(b.merges, want2, sizeof want2) == 0, "hand_merges_chunk_counts", "rc %d", rc);
    if (!rc) bpe_free(&b);
}

/* ------------------------------------------------------------------ brute-force reference */

typedef struct {
    uint32_t *s;
    size_t n;
} Seq;

/* Trains by recounting every adjacent pair over every chunk occurrence after each merge. */
static int ref_train(const uint8_t *text, size_t len, int n_merges, uint32_t *merges, Seq **out, size_t *n_out) {
    size_t cap = 1024, n = 0;
    Seq *seqs = malloc(cap * sizeof *seqs);
    for (size_t i = 0; i < len;) {
        size_t j = bpe_next_chunk(text, len, i);
        if (n == cap) seqs = realloc(seqs, (cap *= 2) * sizeof *seqs);
        seqs[n].s = malloc((j - i) * sizeof(uint32_t));
        seqs[n].n = j - i;
        for (size_t k = i; k < j; k++) seqs[n].s[k - i] = text[k];
        n++;
        i = j;
    }
    int done = 0;
    size_t V = 256 + (size_t)n_merges;
    long *cnt = malloc(V * V * sizeof *cnt);
    for (; done < n_merges; done++) {
        memset(cnt, 0, V * V * sizeof *cnt);
        for (size_t q = 0; q < n; q++)
            for (size_t k = 0; k + 1 < seqs[q].n; k++) cnt[seqs[q].s[k] * V + seqs[q].s[k + 1]]++;
        size_t best = 0;
        for (size_t x = 1; x < V * V; x++)
            if (cnt[x] > cnt[best]) best = x; /* strict: the first (smallest (a,b)) among ties */
        if (cnt[best] < BPE_MIN_PAIR_COUNT) break;
        uint32_t a = (uint32_t)(best / V), b = (uint32_t)(best % V), c = 256u + (uint32_t)done;
        merges[2 * done] = a;
        merges[2 * done + 1] = b;
        for (size_t q = 0; q < n; q++) {
            size_t m = 0;
            for (size_t k = 0; k < seqs[q].n; k++) {
                if (k + 1 < seqs[q].n && seqs[q].s[k] == a && seqs[q].s[k + 1] == b) {
                    seqs[q].s[m++] = c;
                    k++;
                } else seqs[q].s[m++] = seqs[q].s[k];
            }
            seqs[q].n = m;
        }
    }
    free(cnt);
    *out = seqs;
    *n_out = n;
    return done;
}

static void test_against_reference(void) {
    size_t len;
    char *text = gen_text(7, 3000, &len);
    int nm = 150;
    uint32_t *ref = malloc(2 * (size_t)nm * sizeof *ref);
    Seq *seqs;
    size_t n_seqs;
    int got = ref_train((const uint8_t *)text, len, nm, ref, &seqs, &n_seqs);
    CHECK(got == nm, "reference_has_enough_pairs", "reference made only %d merges", got);
    /* the same text split in two documents at a chunk boundary trains the same tokenizer */
    size_t cut = 0;
    while (cut < len / 2) cut = bpe_next_chunk((const uint8_t *)text, len, cut);
    const uint8_t *docs[2] = {(const uint8_t *)text, (const uint8_t *)text + cut};
    size_t lens[2] = {cut, len - cut};
    Bpe b;
    Err e;
    int rc = bpe_train(&b, docs, lens, 2, 257 + got, NULL, NULL, &e);
    CHECK(rc == 0, "train_generated_ok", "%s", e.msg);
    if (rc == 0) {
        int first_diff = -1;
        for (int i = 0; i < got && first_diff < 0; i++)
            if (b.merges[2 * i] != ref[2 * i] || b.merges[2 * i + 1] != ref[2 * i + 1]) first_diff = i;
        CHECK(first_diff < 0, "merges_match_bruteforce", "first difference at merge %d: (%u,%u) vs reference (%u,%u)",
              first_diff, b.merges[2 * first_diff], b.merges[2 * first_diff + 1], ref[2 * first_diff],
              ref[2 * first_diff + 1]);
        /* encoding the training text by merge rank reproduces the training segmentation */
        TokVec t = {0};
        bpe_encode(&b, (const uint8_t *)text, len, &t, &e);
        size_t k = 0;
        int same = 1;
        for (size_t q = 0; q < n_seqs && same; q++)
            for (size_t i = 0; i < seqs[q].n && same; i++) same = k < t.n && t.v[k++] == seqs[q].s[i];
        CHECK(same && k == t.n, "encode_matches_training_segmentation", "differs near token %zu", k);
        CHECK(t.n < len / 2, "encode_compresses", "%zu tokens for %zu bytes", t.n, len);
        tokvec_free(&t);
        bpe_free(&b);
    }
    for (size_t q = 0; q < n_seqs; q++) free(seqs[q].s);
    free(seqs);
    free(ref);
    free(text);
}

/* ------------------------------------------------------------------ round trips, file format */

static int roundtrip(Bpe *b, const uint8_t *s, size_t n) {
    TokVec t = {0};
    Err e;
    if (bpe_encode(b, s, n, &t, &e) != 0) return 0;
    uint8_t *out;
    size_t ol;
    int ok = bpe_decode(b, t.v, t.n, &out, &ol, &e) == 0 && ol == n && memcmp(out, s, n) == 0;
    for (size_t i = 0; i < t.n; i++) ok &= t.v[i] < (uint32_t)b->eot;
    if (ok) free(out);
    tokvec_free(&t);
    return ok;
}

static void test_roundtrip_and_file(void) {
    size_t len;
    char *text = gen_text(11, 20000, &len);
    const uint8_t *docs[1] = {(const uint8_t *)text};
    Bpe b;
    Err e;
    int rc = bpe_train(&b, docs, &len, 1, 700, NULL, NULL, &e);
    CHECK(rc == 0, "train_700_ok", "%s", e.msg);
    if (rc) {
        free(text);
        return;
    }
    char *other = gen_text(12, 5000, &len);
    CHECK(roundtrip(&b, (const uint8_t *)other, len), "roundtrip_generated_text", "mismatch");
    Rng r;
    rng_seed(&r, 99);
    uint8_t *rnd = malloc(100000);
    for (int i = 0; i < 100000; i++) rnd[i] = (uint8_t)rng_below(&r, 256);
    CHECK(roundtrip(&b, rnd, 100000), "roundtrip_random_bytes", "mismatch");
    /* random bytes drawn from the text's own alphabet plus spaces exercise many merges */
    for (int i = 0; i < 100000; i++) rnd[i] = (uint8_t) " theofandUS\n\xc3\xa9"[rng_below(&r, 15)];
    CHECK(roundtrip(&b, rnd, 100000), "roundtrip_random_alphabet", "mismatch");
    static const char bad_utf8[] = "\xff\xfe the \xc3 caf\xc3\xa9\x80\x80 \xed\xa0\x80 \x00 end \xc3";
    CHECK(roundtrip(&b, (const uint8_t *)bad_utf8, sizeof bad_utf8 - 1), "roundtrip_invalid_utf8_and_nul", "mismatch");
    CHECK(roundtrip(&b, (const uint8_t *)"", 0), "roundtrip_empty", "mismatch");
    uint32_t oob = 700;
    uint8_t *dummy;
    size_t dl;
    CHECK(bpe_decode(&b, &oob, 1, &dummy, &dl, &e) != 0 && strstr(e.msg, "700"), "decode_rejects_out_of_range", "%s",
          e.msg);

    /* file round trip */
    char p[AD_PATH_MAX];
    tpath(p, "tok.bin");
    CHECK(bpe_save(&b, p, &e) == 0, "tokenizer_save", "%s", e.msg);
    Bpe c;
    rc = bpe_load(&c, p, &e);
    CHECK(rc == 0 && c.vocab_size == 700 && c.eot == 699 &&
              memcmp(c.merges, b.merges, 2 * sizeof(uint32_t) * (size_t)b.n_merges) == 0,
          "tokenizer_load_same", "%s", rc ? e.msg : "merges differ");
    if (rc == 0) {
        TokVec t1 = {0}, t2 = {0};
        bpe_encode(&b, (const uint8_t *)other, len, &t1, &e);
        bpe_encode(&c, (const uint8_t *)other, len, &t2, &e);
        CHECK(t1.n == t2.n && memcmp(t1.v, t2.v, t1.n * 4) == 0, "tokenizer_load_same_encoding", "differ");
        tokvec_free(&t1);
        tokvec_free(&t2);
        bpe_free(&c);
    }
    /* bad files: each is rejected with the path and the reason */
    char *raw;
    size_t n;
    read_file(p, &raw, &n, &e);
    struct {
        const char *name, *expect;
        size_t off;
        uint32_t val;
        size_t len;
    } cases[] = {
        {"bad_magic", "magic", 0, 0x41414141, 0},
        {"bad_version", "version", 8, 2, 0},
        {"bad_vocab", "out of range", 12, 100, 0},
        {"bad_merge_count", "inconsistent", 16, 5, 0},
        {"bad_eot", "inconsistent", 20, 3, 0},
        {"bad_split_rule", "pre-split", 24, 9, 0},
        {"bad_future_merge", "not yet defined", BPE_HEADER_BYTES, 300, 0}, /* merge 0 may only use bytes */
        {"bad_duplicate_merge", "repeats", BPE_HEADER_BYTES + 8, 0, 0},    /* set below */
        {"truncated", "truncated", 0, 0, 1},
        {"empty", "not a tokenizer", 0, 0, 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *m = malloc(n);
        memcpy(m, raw, n);
        size_t mlen = n;
        if (cases[k].len == 1) mlen = n - 3;
        else if (cases[k].len == 2) mlen = 0;
        else if (k == 7) memcpy(m + BPE_HEADER_BYTES + 8, m + BPE_HEADER_BYTES, 8); /* merge 1 = merge 0 */
        else memcpy(m + cases[k].off, &cases[k].val, 4);
        char name[64];
        snprintf(name, sizeof name, "%s.bin", cases[k].name);
        write_str(name, m, mlen);
        tpath(p, name);
        rc = bpe_load(&c, p, &e);
        char cname[80];
        snprintf(cname, sizeof cname, "tokenizer_rejects_%s", cases[k].name);
        CHECK(rc != 0 && strstr(e.msg, cases[k].expect) && strstr(e.msg, name), cname, "rc %d: %s", rc,
              rc ? e.msg : "accepted");
        if (rc == 0) bpe_free(&c);
        free(m);
    }
    tpath(p, "missing.bin");
    CHECK(bpe_load(&c, p, &e) != 0 && strstr(e.msg, "missing.bin"), "tokenizer_missing_file", "%s", e.msg);
    free(raw);
    free(rnd);
    free(other);
    free(text);
    bpe_free(&b);
}

/* ------------------------------------------------------------------ JSON lines */

static int json_doc(const char *line, const char *want, size_t want_len) {
    Corpus c = {0};
    Err e;
    int ok = corpus_add_json_line(&c, line, strlen(line), &e) == 0 && c.n_docs == 1 &&
             c.off[1] - c.off[0] == want_len && memcmp(c.buf, want, want_len) == 0;
    if (!ok) printf("    %s -> %s\n", line, c.n_docs ? "wrong text" : e.msg);
    corpus_free(&c);
    return ok;
}

/* Checks (as test name) that line is rejected with a message containing expect, and adds no document. */
static void json_bad(const char *line, const char *expect, const char *name) {
    Corpus c = {0};
    Err e;
    int rc = corpus_add_json_line(&c, line, strlen(line), &e);
    int ok = rc != 0 && strstr(e.msg, expect) && c.n_docs == 0;
    if (!ok) printf("    %s -> %s\n", line, rc ? e.msg : "accepted");
    corpus_free(&c);
    CHECK(ok, name, "%s", "rejected wrongly or accepted");
}

static void test_json(void) {
    CHECK(json_doc("{\"text\": \"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\", \"id\": [1, {\"x\": null}], "
                   "\"n\": -1.5e3, \"ok\": true}",
                   "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80", 15),
          "json_escapes_and_surrogate_pair", "%s", "wrong text");
    CHECK(json_doc("{\"meta\": {\"text\": \"inner\"}, \"text\": \"outer\"}", "outer", 5), "json_nested_text_ignored",
          "%s", "wrong text");
    CHECK(json_doc("{\"text\": \"x\", \"text\": \"yy\"}", "yy", 2), "json_last_text_wins", "%s", "wrong text");
    CHECK(json_doc("  {\"text\":\"\\u0000\\u20ac\"}\r", "\0\xe2\x82\xac", 4), "json_nul_and_3byte", "%s", "wrong text");
    json_bad("{\"text\": 5}", "not a string", "json_bad_text_type");
    json_bad("{\"id\": 1}", "no \"text\"", "json_missing_text");
    json_bad("{\"text\": \"abc", "unterminated", "json_unterminated");
    json_bad("[1, 2]", "object expected", "json_not_object");
    json_bad("{\"text\": \"\\ud800\"}", "surrogate", "json_lone_high_surrogate");
    json_bad("{\"text\": \"\\ud800\\u0041\"}", "surrogate", "json_bad_low_surrogate");
    json_bad("{\"text\": \"\\udc00\"}", "surrogate", "json_lone_low_surrogate");
    json_bad("{\"text\": \"\\u12g4\"}", "hex", "json_bad_hex");
    json_bad("{\"text\": \"\\q\"}", "invalid escape", "json_bad_escape");
    json_bad("{\"text\": \"a\"} x", "after the JSON object", "json_trailing_garbage");
    json_bad("{\"a\": tru, \"text\": \"a\"}", "invalid value", "json_bad_literal");
    json_bad("{\"a\": 01, \"text\": \"a\"}", "expected", "json_leading_zero");
    json_bad("{\"a\": 1,}", "key", "json_trailing_comma");
    json_bad("{\"text\": \"a\tb\"}", "control", "json_raw_control_char");
    json_bad("{\"text\" \"a\"}", "':'", "json_missing_colon");
    json_bad("{\"text\": \"a\", \"b\": [1, 2}", "column 25", "json_error_column");
}

/* ------------------------------------------------------------------ files, gzip, directories */

static void test_files(void) {
    Err e;
    char p[AD_PATH_MAX], q[AD_PATH_MAX];
    const char *jl = "{\"text\": \"first doc\"}\n\n{\"text\": \"second\", \"url\": \"x\"}\n{\"url\": \"y\"}\n"
                     "{\"text\": \"\"}\n{\"text\": \"fourth\\nline\"}\n";
    write_str("a.jsonl", jl, strlen(jl));
    Corpus c = {0};
    tpath(p, "a.jsonl");
    int rc = corpus_add_file(&c, p, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "a.jsonl:4:") && strstr(e.msg, "text"), "jsonl_bad_line_file_line", "%s",
          rc ? e.msg : "accepted");
    corpus_free(&c);
    rc = corpus_add_file(&c, p, 1, &e);
    CHECK(rc == 0 && c.n_docs == 3 && c.n_bad_lines == 1 && c.n_empty == 1, "jsonl_skip_bad_lines",
          "rc %d docs %zu bad %zu empty %zu", rc, c.n_docs, c.n_bad_lines, c.n_empty);
    CHECK(c.n_docs == 3 && c.off[3] - c.off[2] == 11 && memcmp(c.buf + c.off[2], "fourth\nline", 11) == 0,
          "jsonl_doc_text", "wrong text");
    corpus_free(&c);

    /* a .json file holding one array: strings and objects with "text" are documents */
    const char *arr = "[\n  \"one \\u00e9\",\n  {\"text\": \"two\", \"id\": 2},\n  \"\",\n  \"three\"\n]\n";
    write_str("arr.json", arr, strlen(arr));
    tpath(p, "arr.json");
    rc = corpus_add_file(&c, p, 0, &e);
    CHECK(rc == 0 && c.n_docs == 3 && c.n_empty == 1 && c.off[1] == 6 && memcmp(c.buf, "one \xc3\xa9twothree", 14) == 0,
          "json_array_file", "rc %d docs %zu: %s", rc, c.n_docs, rc ? e.msg : "");
    corpus_free(&c);
    const char *arr_bad = "[\n  \"ok\",\n  5,\n  \"x\"\n]";
    write_str("arr_bad.json", arr_bad, strlen(arr_bad));
    tpath(p, "arr_bad.json");
    rc = corpus_add_file(&c, p, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "arr_bad.json:3: column 3"), "json_array_bad_element_line", "%s",
          rc ? e.msg : "accepted");
    corpus_free(&c);
    rc = corpus_add_file(&c, p, 1, &e);
    CHECK(rc == 0 && c.n_docs == 2 && c.n_bad_lines == 1, "json_array_skip_bad", "rc %d docs %zu", rc, c.n_docs);
    corpus_free(&c);
    write_str("arr_syntax.json", "[\"a\",\n \"b\" \"c\"]", 15);
    tpath(p, "arr_syntax.json");
    rc = corpus_add_file(&c, p, 1, &e);
    CHECK(rc != 0 && strstr(e.msg, "arr_syntax.json:2: column 6"), "json_array_syntax_error", "%s",
          rc ? e.msg : "accepted");
    corpus_free(&c);

    /* gzip: the same lines compressed, read back identically; .txt.gz is one document */
    const char *good = "{\"text\": \"first doc\"}\n{\"text\": \"second\"}\n";
    write_gz("b.jsonl.gz", good, strlen(good));
    tpath(p, "b.jsonl.gz");
    rc = corpus_add_file(&c, p, 0, &e);
    CHECK(rc == 0 && c.n_docs == 2 && c.off[1] == 9 && memcmp(c.buf, "first docsecond", 15) == 0, "gzip_jsonl_read",
          "rc %d %s", rc, rc ? e.msg : "");
    write_gz("c.txt.gz", "plain text\nfile", 15);
    tpath(q, "c.txt.gz");
    rc = corpus_add_file(&c, q, 0, &e);
    CHECK(rc == 0 && c.n_docs == 3 && c.off[3] - c.off[2] == 15, "gzip_txt_one_document", "rc %d", rc);
    corpus_free(&c);

    /* corrupt gzip: truncated, flipped byte, not gzip at all */
    char *raw;
    size_t n;
    read_file(p, &raw, &n, &e);
    rc = add_written(&c, "trunc.jsonl.gz", raw, n / 2, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "trunc.jsonl.gz") && strstr(e.msg, "gzip"), "gzip_truncated", "%s",
          rc ? e.msg : "accepted");
    corpus_free(&c);
    raw[n / 2] ^= 0x55;
    raw[n / 2 + 1] ^= 0x55;
    rc = add_written(&c, "flip.jsonl.gz", raw, n, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "flip.jsonl.gz"), "gzip_corrupt_bytes", "%s", rc ? e.msg : "accepted");
    corpus_free(&c);
    raw[n - 1] ^= 0x01; /* restore the body, break the trailer's size field */
    raw[n / 2] ^= 0x55;
    raw[n / 2 + 1] ^= 0x55;
    rc = add_written(&c, "crc.jsonl.gz", raw, n, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "crc.jsonl.gz"), "gzip_bad_trailer", "%s", rc ? e.msg : "accepted");
    corpus_free(&c);
    free(raw);
    rc = add_written(&c, "plain.jsonl.gz", good, strlen(good), 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "not a gzip"), "gzip_not_gzip", "%s", rc ? e.msg : "accepted");
    corpus_free(&c);

    /* directory walk: sorted, recursive, corpus extensions only, dotfiles skipped; globs; missing */
    tpath(p, "dir/sub");
    mkdir_p(p, &e);
    write_str("dir/b.txt", "bee", 3);
    write_str("dir/a.jsonl", "{\"text\": \"ay\"}\n", 15);
    write_str("dir/sub/c.txt", "sea", 3);
    write_str("dir/README.md", "not corpus", 10);
    write_str("dir/.hidden.txt", "hidden", 6);
    write_str("dir/B.txt", "upper", 5);
    PathList pl = {0};
    tpath(p, "dir");
    char *in[1] = {p};
    rc = corpus_expand(in, 1, &pl, &e);
    int order = rc == 0 && pl.n == 4 && strstr(pl.v[0], "dir/B.txt") && strstr(pl.v[1], "dir/a.jsonl") &&
                strstr(pl.v[2], "dir/b.txt") && strstr(pl.v[3], "dir/sub/c.txt");
    CHECK(order, "dir_walk_sorted_filtered", "rc %d, %zu files, first %s", rc, pl.n, pl.n ? pl.v[0] : "-");
    pathlist_free(&pl);
    tpath(p, "dir/*.txt");
    rc = corpus_expand(in, 1, &pl, &e);
    CHECK(rc == 0 && pl.n == 2 && strstr(pl.v[0], "B.txt") && strstr(pl.v[1], "b.txt"), "glob_sorted", "rc %d n %zu",
          rc, pl.n);
    pathlist_free(&pl);
    tpath(p, "dir/*.nothing");
    rc = corpus_expand(in, 1, &pl, &e);
    CHECK(rc != 0 && strstr(e.msg, "no file matches"), "glob_no_match", "%s", rc ? e.msg : "accepted");
    pathlist_free(&pl);
    tpath(p, "no_such_file.txt");
    rc = corpus_expand(in, 1, &pl, &e);
    CHECK(rc != 0 && strstr(e.msg, "no_such_file.txt"), "missing_input", "%s", rc ? e.msg : "accepted");
    pathlist_free(&pl);
    tpath(p, "no_such.jsonl");
    rc = corpus_add_file(&c, p, 0, &e);
    CHECK(rc != 0 && strstr(e.msg, "no_such.jsonl"), "missing_file_read", "%s", rc ? e.msg : "accepted");
    corpus_free(&c);
}

/* exact duplicates: later repeats dropped, first occurrences kept in order and packed; a prefix or
 * an extension of a document is not its duplicate */
static void test_dedup(void) {
    Err e;
    Corpus c = {0};
    const char *docs[] = {"ab", "b", "ab", "a", "b", "abc", "ab", "a"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) corpus_add_doc(&c, docs[i], strlen(docs[i]), &e);
    size_t dropped = 9, groups = 9;
    int rc = corpus_dedup(&c, &dropped, &groups, &e);
    int kept = rc == 0 && c.n_docs == 4 && c.len == 7 && !memcmp(c.buf, "abbaabc", 7) && c.off[0] == 0 &&
               c.off[1] == 2 && c.off[2] == 3 && c.off[3] == 4 && c.off[4] == 7;
    CHECK(kept && dropped == 4 && groups == 3, "dedup_keeps_first_in_order",
          "rc %d, %zu docs, %zu bytes, dropped %zu, groups %zu", rc, c.n_docs, c.len, dropped, groups);
    rc = corpus_dedup(&c, &dropped, &groups, &e);
    CHECK(rc == 0 && c.n_docs == 4 && dropped == 0 && groups == 0, "dedup_idempotent", "dropped %zu", dropped);
    corpus_free(&c);
    Corpus d = {0};
    for (int i = 0; i < 1000; i++) corpus_add_doc(&d, "same", 4, &e);
    rc = corpus_dedup(&d, &dropped, &groups, &e);
    CHECK(rc == 0 && d.n_docs == 1 && d.len == 4 && dropped == 999 && groups == 1, "dedup_all_equal",
          "%zu docs, groups %zu", d.n_docs, groups);
    corpus_free(&d);
}

/* ------------------------------------------------------------------ split */

static void test_doc_split(void) {
    Err e;
    size_t n = 1000, nv1, nv2, nv3;
    unsigned char *a = malloc(n), *b = malloc(n), *c = malloc(n);
    int rc = corpus_split(n, 0.05, 42, a, &nv1, &e) | corpus_split(n, 0.05, 42, b, &nv2, &e) |
             corpus_split(n, 0.05, 43, c, &nv3, &e);
    size_t cnt = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        cnt += a[i];
        diff += a[i] != c[i];
    }
    CHECK(rc == 0 && memcmp(a, b, n) == 0, "split_deterministic", "same seed gave different splits");
    CHECK(nv1 == 50 && cnt == 50, "split_size", "%zu val docs (%zu marked), expected 50", nv1, cnt);
    CHECK(diff > 0, "split_seed_matters", "seeds 42 and 43 gave the same split");
    size_t first = n, last = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i]) {
            if (i < first) first = i;
            last = i;
        }
    CHECK(last - first > n / 2, "split_spread", "validation docs all within [%zu, %zu]", first, last);
    rc = corpus_split(3, 0.01, 1, a, &nv1, &e);
    CHECK(rc == 0 && nv1 == 1, "split_at_least_one", "rc %d nv %zu", rc, nv1);
    rc = corpus_split(1, 0.05, 1, a, &nv1, &e);
    CHECK(rc == 0 && nv1 == 0 && a[0] == 0, "split_single_doc_trains", "rc %d", rc);
    rc = corpus_split(4, 0.9, 1, a, &nv1, &e);
    CHECK(rc != 0, "split_no_train_left", "accepted");
    rc = corpus_split(10, 1.0, 1, a, &nv1, &e);
    CHECK(rc != 0, "split_fraction_one", "accepted");
    free(a);
    free(b);
    free(c);
}

/* ------------------------------------------------------------------ cmd_prep end to end */

static int run_prep(const char *args) {
    char buf[2048];
    snprintf(buf, sizeof buf, "prep --quiet %s", args);
    char *argv[64];
    int argc = 0;
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    fflush(stdout);
    return cmd_prep(argc, argv);
}

static void test_prep(void) {
    /* 40 documents: 20 text files and 20 JSON lines in a gzip file */
    char name[64], p[AD_PATH_MAX], dir[AD_PATH_MAX], cmd[4096];
    size_t total_docs = 40, len;
    char *texts[40];
    size_t lens[40];
    char *jl = NULL;
    size_t jl_len = 0;
    FILE *jf = open_memstream(&jl, &jl_len);
    tpath(p, "prep_in");
    Err e;
    mkdir_p(p, &e);
    for (size_t i = 0; i < total_docs; i++) {
        texts[i] = gen_text(100 + i, 200, &len);
        lens[i] = len;
        if (i < 20) {
            snprintf(name, sizeof name, "prep_in/doc%02zu.txt", i);
            write_str(name, texts[i], len);
        } else {
            fputs("{\"text\": \"", jf);
            for (size_t k = 0; k < len; k++) {
                if (texts[i][k] == '"' || texts[i][k] == '\\') fprintf(jf, "\\%c", texts[i][k]);
                else if (texts[i][k] == '\n') fputs("\\n", jf);
                else fputc(texts[i][k], jf);
            }
            fputs("\", \"id\": 1}\n", jf);
        }
    }
    fclose(jf);
    write_gz("prep_in/zz.jsonl.gz", jl, jl_len);
    free(jl);
    tpath(p, "prep_in");
    tpath(dir, "prep_out");
    snprintf(cmd, sizeof cmd, "--input %s --out %s --vocab-size 400 --val-fraction 0.1 --seed 3", p, dir);
    int rc = run_prep(cmd);
    CHECK(rc == 0, "prep_runs", "exit %d", rc);
    if (rc) return;
    Shard tr, va;
    tpath(p, "prep_out/train.bin");
    int r1 = shard_read(&tr, p, &e);
    tpath(p, "prep_out/val.bin");
    int r2 = shard_read(&va, p, &e);
    CHECK(r1 == 0 && r2 == 0 && !tr.wide, "prep_shards_load", "%s", e.msg);
    if (r1 || r2) return;
    Bpe b;
    tpath(p, "prep_out/tokenizer.bin");
    rc = bpe_load(&b, p, &e);
    CHECK(rc == 0 && b.vocab_size == 400, "prep_tokenizer_loads", "%s", e.msg);
    if (rc) return;
    /* every document appears exactly once, in one shard, followed by end-of-text */
    int found[40] = {0}, ok = 1;
    size_t n_eot = 0;
    Shard *sh[2] = {&tr, &va};
    for (int s = 0; s < 2; s++) {
        size_t start = 0;
        for (size_t i = 0; i < sh[s]->n_tokens; i++) {
            if (sh[s]->tokens[i] >= 400) ok = 0;
            if (sh[s]->tokens[i] != (uint32_t)b.eot) continue;
            n_eot++;
            uint8_t *txt;
            size_t tl;
            bpe_decode(&b, sh[s]->tokens + start, i - start, &txt, &tl, &e);
            int which = -1;
            for (int d = 0; d < 40; d++)
                if (tl == lens[d] && memcmp(txt, texts[d], tl) == 0) which = d;
            if (which < 0) ok = 0;
            else found[which] += 1 + 10 * s;
            free(txt);
            start = i + 1;
        }
        if (start != sh[s]->n_tokens) ok = 0; /* the shard ends with end-of-text */
    }
    size_t in_val = 0, once = 1;
    for (int d = 0; d < 40; d++) {
        if (found[d] != 1 && found[d] != 11) once = 0;
        in_val += found[d] == 11;
    }
    CHECK(ok && once && n_eot == 40, "prep_docs_partitioned_and_decoded", "ok %d once %zu eot %zu", ok, once, n_eot);
    CHECK(in_val == 4, "prep_val_fraction", "%zu val docs, expected 4", in_val);
    bpe_free(&b);

    /* the training loader accepts the shards, in both modes */
    DataLoader dl;
    tpath(p, "prep_out/train.bin");
    rc = loader_open(&dl, p, DATA_PAD, 32, 400, 0, 1, &e);
    CHECK(rc == 0 && dl.n_rows == 36, "prep_loader_pad_mode", "rc %d rows %zu: %s", rc, rc ? 0 : dl.n_rows,
          rc ? e.msg : "");
    if (!rc) loader_close(&dl);
    rc = loader_open(&dl, p, DATA_PACK, 32, 400, 0, 1, &e);
    CHECK(rc == 0, "prep_loader_pack_mode", "%s", e.msg);
    if (!rc) loader_close(&dl);

    /* reproducible: the same command again gives byte-identical files; a reused tokenizer too */
    char *t1, *t2;
    size_t n1, n2;
    tpath(p, "prep_out/train.bin");
    read_file(p, &t1, &n1, &e);
    tpath(p, "prep_in");
    tpath(dir, "prep_out2");
    char tokp[AD_PATH_MAX];
    tpath(tokp, "prep_out/tokenizer.bin");
    snprintf(cmd, sizeof cmd, "--input %s --out %s --tokenizer %s --val-fraction 0.1 --seed 3", p, dir, tokp);
    rc = run_prep(cmd);
    tpath(p, "prep_out2/train.bin");
    int same = rc == 0 && read_file(p, &t2, &n2, &e) == 0 && n1 == n2 && memcmp(t1, t2, n1) == 0;
    CHECK(same, "prep_reproducible_with_tokenizer", "rc %d", rc);
    if (rc == 0) free(t2);
    free(t1);
    for (size_t i = 0; i < total_docs; i++) free(texts[i]);
    shard_free(&tr);
    shard_free(&va);
}

int main(void) {
    if (!scratch_dir(tmpdir, sizeof tmpdir, NULL, "test_bpe")) return check_summary();
    test_split_chunks();
    test_hand_merges();
    test_against_reference();
    test_roundtrip_and_file();
    test_json();
    test_files();
    test_dedup();
    test_doc_split();
    test_prep();
    scratch_remove(tmpdir);
    return check_summary();
}
