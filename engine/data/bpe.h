/* bpe.h - byte-level BPE tokenizer: training, encoding, decoding, the tokenizer file.
 *
 * Vocabulary: ids 0..255 are the raw bytes; merge i (0-based) creates id 256 + i, whose bytes are
 * those of its left then right token; the last id, vocab_size - 1 = 256 + n_merges, is the
 * end-of-text token (it has no bytes: decoding skips it). So vocab_size = 257 + n_merges >= 257.
 *
 * Pre-split: text is cut into chunks and merges never cross a chunk boundary (bpe_next_chunk):
 *   byte classes: letter (A-Z, a-z and every byte >= 0x80, so UTF-8 sequences stay whole), digit,
 *   whitespace (space \t \n \v \f \r), other (punctuation);
 *   a chunk is an optional single leading ' ' plus a run of one class of letter/digit/other, or a
 *   run of whitespace (whose final ' ' goes to the next chunk when a non-space follows);
 *   no chunk is longer than BPE_MAX_CHUNK bytes (longer runs are cut).
 * Every byte belongs to exactly one chunk, so encode/decode are exact inverses on any byte string,
 * invalid UTF-8 included.
 *
 * Training counts every distinct chunk, then repeatedly merges the adjacent pair with the largest
 * count (overlapping occurrences counted, occurrences weighted by chunk count), ties broken by the
 * smallest (left id, right id); a pair must occur at least BPE_MIN_PAIR_COUNT times. Merging is
 * left to right within a chunk. Encoding applies merges in rank order per chunk, which reproduces
 * training's segmentation. Encoding caches chunk encodings, so a Bpe is not safe to share between
 * threads while encoding.
 *
 * File format (little-endian), written by bpe_save, validated by bpe_load:
 *   offset 0   8 bytes  magic "ADBPETOK"
 *   offset 8   uint32   version (1)
 *   offset 12  uint32   vocab_size
 *   offset 16  uint32   n_merges (= vocab_size - 257)
 *   offset 20  uint32   end-of-text id (= vocab_size - 1)
 *   offset 24  uint32   pre-split rule version (1, the rule above)
 *   offset 28  uint32   reserved (0)
 *   offset 32  n_merges x (uint32 left, uint32 right), merge i needs left, right < 256 + i
 * and nothing after. */
#ifndef BPE_H
#define BPE_H

#include "common.h"

#define BPE_MAGIC "ADBPETOK"
#define BPE_VERSION 1
#define BPE_SPLIT_RULE 1
#define BPE_MAX_CHUNK 64
#define BPE_MIN_PAIR_COUNT 2
#define BPE_HEADER_BYTES 32

typedef struct BpeCache BpeCache;

typedef struct {
    int vocab_size;
    int n_merges;
    int eot;          /* vocab_size - 1 */
    uint32_t *merges; /* 2 * n_merges: left, right of merge i */
    /* derived by bpe_finish (load and train call it) */
    uint32_t *tok_off; /* vocab_size + 1 offsets into tok_bytes; the eot token is empty */
    uint8_t *tok_bytes;
    uint64_t *rank_keys; /* open-addressing map (left, right) -> merge index */
    int32_t *rank_vals;
    size_t rank_cap;
    BpeCache *cache; /* chunk -> token ids */
} Bpe;

typedef struct {
    uint32_t *v;
    size_t n, cap;
} TokVec;

int tokvec_push(TokVec *t, uint32_t x, Err *e);
void tokvec_free(TokVec *t);

/* Called every few hundred merges during training (and once at the end); ctx is the caller's. */
typedef void (*BpeProgress)(void *ctx, int merges_done, int merges_total);

/* End (exclusive) of the chunk that starts at s[i], i < n. */
size_t bpe_next_chunk(const uint8_t *s, size_t n, size_t i);

/* Trains a tokenizer of vocab_size tokens on docs[0..n_docs) (lens[i] bytes each). Fails if
 * vocab_size < 257 or the text has too few repeated pairs to supply vocab_size - 257 merges. */
int bpe_train(Bpe *b, const uint8_t *const *docs, const size_t *lens, size_t n_docs, int vocab_size,
              BpeProgress progress, void *ctx, Err *e);
void bpe_free(Bpe *b);

int bpe_save(const Bpe *b, const char *path, Err *e);
int bpe_load(Bpe *b, const char *path, Err *e);

/* Appends the tokens of s[0..n) (no end-of-text) to out. */
int bpe_encode(Bpe *b, const uint8_t *s, size_t n, TokVec *out, Err *e);
/* Bytes of one token (NULL, 0 for ids out of range; length 0 for the end-of-text token). */
const uint8_t *bpe_token_bytes(const Bpe *b, uint32_t id, size_t *len);
/* Decodes tokens into a malloc'd buffer (NUL-terminated for convenience); ids >= vocab_size fail. */
int bpe_decode(const Bpe *b, const uint32_t *toks, size_t n, uint8_t **out, size_t *len, Err *e);

#endif
