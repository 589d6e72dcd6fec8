/* bpe.c - byte-level BPE: pre-split, training with incremental pair counts and a lazy max-heap,
 * rank-order encoding with a chunk cache, decoding, the tokenizer file. Contract in bpe.h. */
#include "bpe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- small containers */

int tokvec_push(TokVec *t, uint32_t x, Err *e) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 1024;
        uint32_t *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) return err_set(e, "out of memory for %zu tokens", nc);
        t->v = nv;
        t->cap = nc;
    }
    t->v[t->n++] = x;
    return 0;
}

void tokvec_free(TokVec *t) {
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Grow a malloc'd array so that it holds at least `need` elements; 0 ok, -1 out of memory. */
static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np) return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser: spreads pair keys over the table */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t hash_bytes(const uint8_t *s, size_t n) { /* FNV-1a, then mixed */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ULL;
    return mix64(h);
}

static uint64_t pair_key(uint32_t a, uint32_t b) { return (uint64_t)a << 32 | b; }
#define EMPTY_KEY UINT64_MAX

/* ---- u64 -> int32 open-addressing map (keys[i] == EMPTY_KEY means free); cap is a power of 2 */
typedef struct {
    uint64_t *keys;
    int32_t *vals;
    size_t cap, n;
} U64Map;

static int u64map_init(U64Map *m, size_t cap) {
    size_t c = 16;
    while (c < 2 * cap) c *= 2;
    m->keys = malloc(c * sizeof *m->keys);
    m->vals = malloc(c * sizeof *m->vals);
    if (!m->keys || !m->vals) return -1;
    memset(m->keys, 0xff, c * sizeof *m->keys);
    m->cap = c;
    m->n = 0;
    return 0;
}

static int32_t *u64map_slot(const U64Map *m, uint64_t k, int *found) {
    size_t mask = m->cap - 1, i = mix64(k) & mask;
    while (m->keys[i] != EMPTY_KEY && m->keys[i] != k) i = (i + 1) & mask;
    *found = m->keys[i] == k;
    return &m->vals[i];
}

static int32_t u64map_get(const U64Map *m, uint64_t k) {
    int found;
    int32_t *v = u64map_slot(m, k, &found);
    return found ? *v : -1;
}

static int u64map_put(U64Map *m, uint64_t k, int32_t v) {
    if (2 * (m->n + 1) > m->cap) { /* keep load <= 1/2 so probes stay short */
        U64Map nm;
        if (u64map_init(&nm, m->cap) != 0) {
            free(nm.keys);
            free(nm.vals);
            return -1;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != EMPTY_KEY) {
                int f;
                int32_t *s = u64map_slot(&nm, m->keys[i], &f);
                *s = m->vals[i];
                nm.keys[s - nm.vals] = m->keys[i];
                nm.n++;
            }
        free(m->keys);
        free(m->vals);
        *m = nm;
    }
    int found;
    int32_t *s = u64map_slot(m, k, &found);
    *s = v;
    if (!found) {
        m->keys[s - m->vals] = k;
        m->n++;
    }
    return 0;
}

static void u64map_free(U64Map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- byte-string -> u64 map with entries in insertion order (so iteration is deterministic) */
typedef struct {
    uint64_t off; /* key bytes at arena[off .. off+len) */
    uint32_t len;
    uint64_t hash;
    uint64_t val;
} BmEntry;

typedef struct {
    uint8_t *arena;
    size_t an, acap;
    BmEntry *ent;
    size_t n, ecap;
    uint32_t *slot; /* entry index + 1, 0 = free */
    size_t scap;
} ByteMap;

static void bm_free(ByteMap *m) {
    free(m->arena);
    free(m->ent);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static int bm_rehash(ByteMap *m, size_t scap) {
    uint32_t *ns = calloc(scap, sizeof *ns);
    if (!ns) return -1;
    for (size_t j = 0; j < m->n; j++) {
        size_t i = m->ent[j].hash & (scap - 1);
        while (ns[i]) i = (i + 1) & (scap - 1);
        ns[i] = (uint32_t)(j + 1);
    }
    free(m->slot);
    m->slot = ns;
    m->scap = scap;
    return 0;
}

/* Index of key k in m->ent, adding it with val 0 if absent; -1 on out of memory. */
static long bm_find_or_add(ByteMap *m, const uint8_t *k, uint32_t len, int add, int *added) {
    if (added) *added = 0;
    uint64_t h = hash_bytes(k, len);
    if (m->scap) {
        size_t i = h & (m->scap - 1);
        while (m->slot[i]) {
            BmEntry *en = &m->ent[m->slot[i] - 1];
            if (en->hash == h && en->len == len && memcmp(m->arena + en->off, k, len) == 0) return m->slot[i] - 1;
            i = (i + 1) & (m->scap - 1);
        }
    }
    if (!add) return -2;
    if (m->n >= UINT32_MAX - 1) return -1;
    if (2 * (m->n + 1) > m->scap && bm_rehash(m, m->scap ? 2 * m->scap : 1024) != 0) return -1;
    if (grow((void **)&m->ent, &m->ecap, m->n + 1, sizeof *m->ent) != 0) return -1;
    if (grow((void **)&m->arena, &m->acap, m->an + len + 1, 1) != 0) return -1;
    memcpy(m->arena + m->an, k, len);
    m->ent[m->n] = (BmEntry){m->an, len, h, 0};
    m->an += len;
    size_t i = h & (m->scap - 1);
    while (m->slot[i]) i = (i + 1) & (m->scap - 1);
    m->slot[i] = (uint32_t)(m->n + 1);
    if (added) *added = 1;
    return (long)m->n++;
}

/* The encoding cache: chunk bytes -> (offset into toks) << 8 | token count (<= BPE_MAX_CHUNK).
 * It is dropped when it grows past CACHE_MAX_ENTRIES chunks, to bound memory on huge corpora. */
#define CACHE_MAX_ENTRIES (1u << 21)
struct BpeCache {
    ByteMap map;
    uint32_t *toks;
    size_t n, cap;
};

/* ---------------------------------------------------------------- pre-split */

enum { C_LETTER, C_DIGIT, C_SPACE, C_OTHER };

static int byte_class(uint8_t c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return C_LETTER;
    if (c >= '0' && c <= '9') return C_DIGIT;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return C_SPACE;
    return C_OTHER;
}

size_t bpe_next_chunk(const uint8_t *s, size_t n, size_t i) {
    size_t j = i, lim = n - i > BPE_MAX_CHUNK ? i + BPE_MAX_CHUNK : n;
    if (s[j] == ' ' && j + 1 < n && byte_class(s[j + 1]) != C_SPACE) j++; /* the leading space */
    int c = byte_class(s[j]);
    if (c != C_SPACE) {
        while (j < lim && byte_class(s[j]) == c) j++;
        return j;
    }
    while (j < lim && byte_class(s[j]) == C_SPACE) j++;
    /* leave a final ' ' for the word that follows, as GPT-2's pre-tokenizer does */
    if (j < n && j - i > 1 && s[j - 1] == ' ' && byte_class(s[j]) != C_SPACE) j--;
    return j;
}

/* ---------------------------------------------------------------- derived tables */

void bpe_free(Bpe *b) {
    free(b->merges);
    free(b->tok_off);
    free(b->tok_bytes);
    free(b->rank_keys);
    free(b->rank_vals);
    if (b->cache) {
        bm_free(&b->cache->map);
        free(b->cache->toks);
        free(b->cache);
    }
    memset(b, 0, sizeof *b);
}

/* Fills tok_off/tok_bytes and the rank map from merges; validates the merge list. */
static int bpe_finish(Bpe *b, const char *name, Err *e) {
    int nm = b->n_merges, V = b->vocab_size;
    b->tok_off = malloc(((size_t)V + 1) * sizeof *b->tok_off);
    size_t total = 256;
    uint32_t *len = calloc((size_t)V, sizeof *len);
    if (!b->tok_off || !len) {
        free(len);
        return err_set(e, "%s: out of memory", name);
    }
    for (int t = 0; t < 256; t++) len[t] = 1;
    for (int i = 0; i < nm; i++) {
        uint32_t l = b->merges[2 * i], r = b->merges[2 * i + 1];
        if (l >= 256u + (uint32_t)i || r >= 256u + (uint32_t)i) {
            free(len);
            return err_set(e, "%s: merge %d (%u, %u) refers to a token not yet defined (ids must be < %d)", name, i, l,
                           r, 256 + i);
        }
        len[256 + i] = len[l] + len[r];
        total += len[256 + i];
        if (total > ((size_t)1 << 34)) {
            free(len);
            return err_set(e, "%s: token strings too long", name);
        }
    }
    b->tok_bytes = malloc(total ? total : 1);
    if (!b->tok_bytes) {
        free(len);
        return err_set(e, "%s: out of memory", name);
    }
    size_t off = 0;
    for (int t = 0; t < V; t++) {
        b->tok_off[t] = (uint32_t)off;
        if (t < 256) b->tok_bytes[off] = (uint8_t)t;
        else if (t < 256 + nm) {
            uint32_t l = b->merges[2 * (t - 256)], r = b->merges[2 * (t - 256) + 1];
            memcpy(b->tok_bytes + off, b->tok_bytes + b->tok_off[l], len[l]);
            memcpy(b->tok_bytes + off + len[l], b->tok_bytes + b->tok_off[r], len[r]);
        }
        off += len[t];
    }
    b->tok_off[V] = (uint32_t)off;
    free(len);
    if (off > UINT32_MAX) return err_set(e, "%s: token strings too long", name);
    U64Map rm;
    if (u64map_init(&rm, (size_t)nm + 1) != 0) {
        u64map_free(&rm);
        return err_set(e, "%s: out of memory", name);
    }
    for (int i = 0; i < nm; i++) {
        uint64_t k = pair_key(b->merges[2 * i], b->merges[2 * i + 1]);
        if (u64map_get(&rm, k) >= 0) {
            u64map_free(&rm);
            return err_set(e, "%s: merge %d (%u, %u) repeats an earlier merge", name, i, b->merges[2 * i],
                           b->merges[2 * i + 1]);
        }
        if (u64map_put(&rm, k, i) != 0) {
            u64map_free(&rm);
            return err_set(e, "%s: out of memory", name);
        }
    }
    b->rank_keys = rm.keys;
    b->rank_vals = rm.vals;
    b->rank_cap = rm.cap;
    b->cache = calloc(1, sizeof *b->cache);
    if (!b->cache) return err_set(e, "%s: out of memory", name);
    return 0;
}

/* ---------------------------------------------------------------- training */

typedef struct {
    uint32_t start, len; /* symbols at syms[start .. start+len) */
    int64_t count;       /* how many times the chunk occurs */
    uint32_t stamp;      /* last merge that visited this word (skips duplicate where-entries) */
} Word;

typedef struct {
    uint32_t a, b;
    int64_t count;
    int64_t old; /* count before the current merge (valid when touch == current stamp) */
    uint32_t touch;
    uint32_t *where; /* words that may contain the pair (stale and repeated entries allowed) */
    uint32_t nwhere, capwhere;
} Pair;

typedef struct {
    int64_t count;
    uint32_t pair;
} HeapItem;

typedef struct {
    Word *words;
    size_t n_words;
    uint32_t *syms;
    Pair *pairs;
    size_t n_pairs, cap_pairs;
    U64Map pair_ix;
    HeapItem *heap;
    size_t n_heap, cap_heap;
    uint32_t *touched;
    size_t n_touched, cap_touched;
    uint32_t stamp;
} Trainer;

/* Heap order: larger count first, then smaller (a, b): the deterministic tie-break of bpe.h. */
static int heap_before(const Trainer *t, HeapItem x, HeapItem y) {
    if (x.count != y.count) return x.count > y.count;
    const Pair *p = &t->pairs[x.pair], *q = &t->pairs[y.pair];
    if (p->a != q->a) return p->a < q->a;
    return p->b < q->b;
}

static int heap_push(Trainer *t, int64_t count, uint32_t pair) {
    if (grow((void **)&t->heap, &t->cap_heap, t->n_heap + 1, sizeof *t->heap) != 0) return -1;
    size_t i = t->n_heap++;
    HeapItem it = {count, pair};
    while (i > 0 && heap_before(t, it, t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = it;
    return 0;
}

static HeapItem heap_pop(Trainer *t) {
    HeapItem top = t->heap[0], last = t->heap[--t->n_heap];
    size_t i = 0, n = t->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(t, t->heap[c + 1], t->heap[c])) c++;
        if (!heap_before(t, t->heap[c], last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (n) t->heap[i] = last;
    return top;
}

/* Index of pair (a, b), created with count 0 if new; -1 on out of memory. */
static long pair_get(Trainer *t, uint32_t a, uint32_t b) {
    uint64_t k = pair_key(a, b);
    int32_t ix = u64map_get(&t->pair_ix, k);
    if (ix >= 0) return ix;
    if (t->n_pairs >= INT32_MAX) return -1;
    if (grow((void **)&t->pairs, &t->cap_pairs, t->n_pairs + 1, sizeof *t->pairs) != 0) return -1;
    t->pairs[t->n_pairs] = (Pair){.a = a, .b = b};
    if (u64map_put(&t->pair_ix, k, (int32_t)t->n_pairs) != 0) return -1;
    return (long)t->n_pairs++;
}

static int where_add(Pair *p, uint32_t w) {
    if (p->nwhere && p->where[p->nwhere - 1] == w) return 0;
    size_t cap = p->capwhere;
    if (grow((void **)&p->where, &cap, (size_t)p->nwhere + 1, sizeof *p->where) != 0) return -1;
    p->capwhere = (uint32_t)cap;
    p->where[p->nwhere++] = w;
    return 0;
}

/* Adds delta to pair (a, b)'s count, remembering its count before this merge; with w != UINT32_MAX
 * also records that word w contains it. */
static int pair_add(Trainer *t, uint32_t a, uint32_t b, int64_t delta, uint32_t w) {
    long ix = pair_get(t, a, b);
    if (ix < 0) return -1;
    Pair *p = &t->pairs[ix];
    if (p->touch != t->stamp) {
        p->touch = t->stamp;
        p->old = p->count;
        if (grow((void **)&t->touched, &t->cap_touched, t->n_touched + 1, sizeof *t->touched) != 0) return -1;
        t->touched[t->n_touched++] = (uint32_t)ix;
    }
    p->count += delta;
    if (w != UINT32_MAX && where_add(p, w) != 0) return -1;
    return 0;
}

static void trainer_free(Trainer *t) {
    for (size_t i = 0; i < t->n_pairs; i++) free(t->pairs[i].where);
    free(t->pairs);
    free(t->words);
    free(t->syms);
    free(t->heap);
    free(t->touched);
    u64map_free(&t->pair_ix);
}

/* Applies merge (a, b) -> c to every word that contains it, updating pair counts. */
static int apply_merge(Trainer *t, uint32_t pix, uint32_t c) {
    uint32_t a = t->pairs[pix].a, b = t->pairs[pix].b;
    uint32_t *where = t->pairs[pix].where, nwhere = t->pairs[pix].nwhere;
    t->pairs[pix].where = NULL; /* nothing can contain (a, b) afterwards */
    t->pairs[pix].nwhere = t->pairs[pix].capwhere = 0;
    t->stamp++;
    t->n_touched = 0;
    int rc = 0;
    for (uint32_t k = 0; k < nwhere && rc == 0; k++) {
        Word *w = &t->words[where[k]];
        if (w->stamp == t->stamp) continue;
        w->stamp = t->stamp;
        uint32_t *s = t->syms + w->start, n = w->len, hit = 0;
        for (uint32_t i = 0; i + 1 < n && !hit; i++) hit = s[i] == a && s[i + 1] == b;
        if (!hit) continue;
        /* remove the word's pairs, merge left to right, add them back: words are short chunks */
        for (uint32_t i = 0; i + 1 < n && rc == 0; i++) rc = pair_add(t, s[i], s[i + 1], -w->count, UINT32_MAX);
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[m++] = c;
                i++;
            } else s[m++] = s[i];
        }
        w->len = m;
        for (uint32_t i = 0; i + 1 < m && rc == 0; i++)
            rc = pair_add(t, s[i], s[i + 1], w->count, (s[i] == c || s[i + 1] == c) ? where[k] : UINT32_MAX);
    }
    free(where);
    /* pairs whose count grew need a fresh heap entry; shrunken ones are fixed lazily on pop */
    for (size_t i = 0; i < t->n_touched && rc == 0; i++) {
        Pair *p = &t->pairs[t->touched[i]];
        if (p->count > p->old) rc = heap_push(t, p->count, t->touched[i]);
    }
    return rc;
}

/* Counts distinct chunks of the training text into words/syms. */
static int count_chunks(Trainer *t, const uint8_t *const *docs, const size_t *lens, size_t n_docs, Err *e) {
    ByteMap bm = {0};
    for (size_t d = 0; d < n_docs; d++) {
        const uint8_t *s = docs[d];
        for (size_t i = 0; i < lens[d];) {
            size_t j = bpe_next_chunk(s, lens[d], i);
            long ix = bm_find_or_add(&bm, s + i, (uint32_t)(j - i), 1, NULL);
            if (ix < 0) {
                bm_free(&bm);
                return err_set(e, "BPE training: out of memory counting chunks");
            }
            bm.ent[ix].val++;
            i = j;
        }
    }
    t->n_words = bm.n;
    t->words = malloc((bm.n ? bm.n : 1) * sizeof *t->words);
    t->syms = malloc((bm.an ? bm.an : 1) * sizeof *t->syms);
    if (!t->words || !t->syms) {
        bm_free(&bm);
        return err_set(e, "BPE training: out of memory");
    }
    for (size_t i = 0; i < bm.an; i++) t->syms[i] = bm.arena[i];
    for (size_t w = 0; w < bm.n; w++)
        t->words[w] = (Word){(uint32_t)bm.ent[w].off, bm.ent[w].len, (int64_t)bm.ent[w].val, 0};
    bm_free(&bm);
    return 0;
}

int bpe_train(Bpe *b, const uint8_t *const *docs, const size_t *lens, size_t n_docs, int vocab_size,
              BpeProgress progress, void *ctx, Err *e) {
    memset(b, 0, sizeof *b);
    if (vocab_size < 257) return err_set(e, "vocab size %d is below 257 (256 bytes + end-of-text)", vocab_size);
    size_t total = 0;
    for (size_t d = 0; d < n_docs; d++) total += lens[d];
    if (total >= UINT32_MAX)
        return err_set(e, "BPE training text of %zu bytes exceeds 4 GiB; train on a subset", total);
    int want = vocab_size - 257;
    Trainer t = {0};
    uint32_t *merges = malloc(2 * (size_t)(want ? want : 1) * sizeof *merges);
    if (!merges || u64map_init(&t.pair_ix, 1 << 16) != 0) {
        free(merges);
        trainer_free(&t);
        return err_set(e, "BPE training: out of memory");
    }
    if (count_chunks(&t, docs, lens, n_docs, e) != 0) {
        free(merges);
        trainer_free(&t);
        return -1;
    }
    int rc = 0;
    for (size_t w = 0; w < t.n_words && rc == 0; w++) {
        const uint32_t *s = t.syms + t.words[w].start;
        for (uint32_t i = 0; i + 1 < t.words[w].len && rc == 0; i++)
            rc = pair_add(&t, s[i], s[i + 1], t.words[w].count, (uint32_t)w);
    }
    for (size_t p = 0; p < t.n_pairs && rc == 0; p++) rc = heap_push(&t, t.pairs[p].count, (uint32_t)p);
    int done = 0;
    while (rc == 0 && done < want && t.n_heap > 0) {
        HeapItem top = heap_pop(&t);
        Pair *p = &t.pairs[top.pair];
        if (top.count != p->count) { /* stale entry */
            if (p->count > 0 && top.count > p->count) rc = heap_push(&t, p->count, top.pair);
            continue;
        }
        if (p->count < BPE_MIN_PAIR_COUNT) break; /* the best pair is too rare: nothing left to merge */
        merges[2 * done] = p->a;
        merges[2 * done + 1] = p->b;
        rc = apply_merge(&t, top.pair, 256u + (uint32_t)done);
        done++;
        if (progress && (done % 256 == 0 || done == want)) progress(ctx, done, want);
    }
    trainer_free(&t);
    if (rc != 0) {
        free(merges);
        return err_set(e, "BPE training: out of memory");
    }
    if (done < want) {
        free(merges);
        return err_set(e,
                       "vocab size %d needs %d merges but the training text (%zu bytes) supplies only %d pairs "
                       "occurring at least %d times; use --vocab-size %d or less, or more text",
                       vocab_size, want, total, done, BPE_MIN_PAIR_COUNT, 257 + done);
    }
    b->merges = merges;
    b->n_merges = want;
    b->vocab_size = vocab_size;
    b->eot = vocab_size - 1;
    if (bpe_finish(b, "tokenizer", e) != 0) {
        bpe_free(b);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- encoding and decoding */

static int32_t merge_rank(const Bpe *b, uint32_t l, uint32_t r) {
    uint64_t k = pair_key(l, r);
    size_t mask = b->rank_cap - 1, i = mix64(k) & mask;
    while (b->rank_keys[i] != EMPTY_KEY) {
        if (b->rank_keys[i] == k) return b->rank_vals[i];
        i = (i + 1) & mask;
    }
    return -1;
}

/* Encodes one chunk (n <= BPE_MAX_CHUNK) into sym; returns the token count. */
static uint32_t encode_chunk(const Bpe *b, const uint8_t *s, uint32_t n, uint32_t *sym) {
    for (uint32_t i = 0; i < n; i++) sym[i] = s[i];
    for (;;) {
        int32_t best = -1;
        for (uint32_t i = 0; i + 1 < n; i++) {
            int32_t r = merge_rank(b, sym[i], sym[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r;
        }
        if (best < 0) return n;
        uint32_t l = b->merges[2 * best], r = b->merges[2 * best + 1], m = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (i + 1 < n && sym[i] == l && sym[i + 1] == r) {
                sym[m++] = 256u + (uint32_t)best;
                i++;
            } else sym[m++] = sym[i];
        }
        n = m;
    }
}

int bpe_encode(Bpe *b, const uint8_t *s, size_t n, TokVec *out, Err *e) {
    BpeCache *c = b->cache;
    ByteMap *bm = &c->map;
    uint32_t sym[BPE_MAX_CHUNK];
    for (size_t i = 0; i < n;) {
        size_t j = bpe_next_chunk(s, n, i);
        uint32_t len = (uint32_t)(j - i);
        if (len == 1) { /* a single byte is its own token; no need to cache */
            if (tokvec_push(out, s[i], e) != 0) return -1;
            i = j;
            continue;
        }
        int added;
        if (bm->n >= CACHE_MAX_ENTRIES) {
            bm_free(bm);
            c->n = 0;
        }
        long ix = bm_find_or_add(bm, s + i, len, 1, &added);
        if (ix < 0) return err_set(e, "tokenizer: out of memory in the chunk cache");
        if (added) {
            uint32_t k = encode_chunk(b, s + i, len, sym);
            if (grow((void **)&c->toks, &c->cap, c->n + k, sizeof *c->toks) != 0)
                return err_set(e, "tokenizer: out of memory in the chunk cache");
            memcpy(c->toks + c->n, sym, k * sizeof *sym);
            bm->ent[ix].val = (uint64_t)c->n << 8 | k; /* offset and count (k <= 64) in one word */
            c->n += k;
        }
        uint64_t v = bm->ent[ix].val;
        for (uint32_t q = 0; q < (v & 0xff); q++)
            if (tokvec_push(out, c->toks[(v >> 8) + q], e) != 0) return -1;
        i = j;
    }
    return 0;
}

const uint8_t *bpe_token_bytes(const Bpe *b, uint32_t id, size_t *len) {
    if (id >= (uint32_t)b->vocab_size) {
        *len = 0;
        return NULL;
    }
    *len = b->tok_off[id + 1] - b->tok_off[id];
    return b->tok_bytes + b->tok_off[id];
}

int bpe_decode(const Bpe *b, const uint32_t *toks, size_t n, uint8_t **out, size_t *len, Err *e) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (toks[i] >= (uint32_t)b->vocab_size)
            return err_set(e, "token %zu: id %u is outside the vocabulary of %d", i, toks[i], b->vocab_size);
        total += b->tok_off[toks[i] + 1] - b->tok_off[toks[i]];
    }
    uint8_t *buf = malloc(total + 1);
    if (!buf) return err_set(e, "out of memory decoding %zu tokens", n);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        const uint8_t *p = bpe_token_bytes(b, toks[i], &l);
        memcpy(buf + off, p, l);
        off += l;
    }
    buf[off] = 0;
    *out = buf;
    *len = off;
    return 0;
}

/* ---------------------------------------------------------------- file */

static void put_u32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(x >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int bpe_save(const Bpe *b, const char *path, Err *e) {
    size_t bytes = BPE_HEADER_BYTES + 8 * (size_t)b->n_merges;
    uint8_t *buf = calloc(bytes, 1);
    if (!buf) return err_set(e, "%s: out of memory", path);
    memcpy(buf, BPE_MAGIC, 8);
    put_u32(buf + 8, BPE_VERSION);
    put_u32(buf + 12, (uint32_t)b->vocab_size);
    put_u32(buf + 16, (uint32_t)b->n_merges);
    put_u32(buf + 20, (uint32_t)b->eot);
    put_u32(buf + 24, BPE_SPLIT_RULE);
    for (int i = 0; i < 2 * b->n_merges; i++) put_u32(buf + BPE_HEADER_BYTES + 4 * (size_t)i, b->merges[i]);
    int rc = write_file_atomic(path, buf, bytes, e);
    free(buf);
    return rc;
}

/* Parses a tokenizer file's bytes raw[0..n) into b (a TextParse). */
static int bpe_parse(const char *path, const char *raw, size_t n, void *ctx, Err *e) {
    Bpe *b = ctx;
    const uint8_t *p = (const uint8_t *)raw;
    int rc = -1;
    if (n < BPE_HEADER_BYTES || memcmp(p, BPE_MAGIC, 8) != 0)
        err_set(e, "%s: not a tokenizer file (expected the magic \"%s\" in a %d-byte header)", path, BPE_MAGIC,
                BPE_HEADER_BYTES);
    else if (get_u32(p + 8) != BPE_VERSION)
        err_set(e, "%s: tokenizer version %u, this program reads version %d", path, get_u32(p + 8), BPE_VERSION);
    else if (get_u32(p + 24) != BPE_SPLIT_RULE)
        err_set(e, "%s: pre-split rule %u is unknown (expected %d)", path, get_u32(p + 24), BPE_SPLIT_RULE);
    else {
        uint32_t V = get_u32(p + 12), nm = get_u32(p + 16), eot = get_u32(p + 20);
        if (V < 257 || V > (1u << 24)) err_set(e, "%s: vocab size %u out of range [257, %u]", path, V, 1u << 24);
        else if (nm != V - 257 || eot != V - 1)
            err_set(e, "%s: header inconsistent: vocab %u needs %u merges and end-of-text id %u, file says %u and %u",
                    path, V, V - 257, V - 1, nm, eot);
        else if (n != BPE_HEADER_BYTES + 8 * (size_t)nm)
            err_set(e, "%s: file is %zu bytes, the header's %u merges need %zu (truncated?)", path, n, nm,
                    BPE_HEADER_BYTES + 8 * (size_t)nm);
        else {
            b->vocab_size = (int)V;
            b->n_merges = (int)nm;
            b->eot = (int)eot;
            b->merges = malloc(8 * (size_t)(nm ? nm : 1));
            if (!b->merges) err_set(e, "%s: out of memory", path);
            else {
                for (size_t i = 0; i < 2 * (size_t)nm; i++) b->merges[i] = get_u32(p + BPE_HEADER_BYTES + 4 * i);
                rc = bpe_finish(b, path, e);
            }
        }
    }
    if (rc != 0) bpe_free(b);
    return rc;
}

int bpe_load(Bpe *b, const char *path, Err *e) {
    memset(b, 0, sizeof *b);
    return parse_file(path, bpe_parse, b, e);
}
