/* dataloader.h - micro-batches of (inputs, targets) from a token shard.
 *
 * pack mode: the shard is cut into windows of T+1 tokens starting at multiples of T (the llm.c
 *   convention): inputs tok[w*T .. w*T+T), targets tok[w*T+1 .. w*T+T+1).
 * pad mode:  one document per row (documents end with the end-of-text token, by default id
 *   vocab_size - 1), the document and its end-of-text token truncated or padded (with the pad id) to
 *   T tokens; targets are the inputs shifted by one, -1 (ignored by the loss) at pad positions and
 *   the last position, as a Hugging Face causal LM with labels = input_ids and pads set to -100
 *   computes it.
 * Order: with shuffle, each epoch visits the rows in a permutation drawn from (seed, epoch), so the
 * position (epoch, pos) is the whole loader state and resume needs nothing else. Training passes
 * data.seed (default 42, as the authors' fixed shuffle seed), never train.seed: runs that differ only
 * in train.seed see the same data in the same order. */
#ifndef DATALOADER_H
#define DATALOADER_H

#include "shard.h"

typedef enum { DATA_PACK, DATA_PAD } DataMode;

typedef struct {
    Shard shard;
    DataMode mode;
    int T;
    int eot;      /* end-of-text (EOS) token id: ends every document */
    int pad;      /* pad mode: fills a row after its document (ignored by the loss) */
    int keep_eos; /* pad mode: a truncated document still ends with EOS (T5 tokenizer convention) */
    int shuffle;
    uint64_t seed;
    size_t n_rows;       /* windows (pack) or documents (pad) */
    size_t *doc_start;   /* pad mode: start offset of each document, n_rows + 1 entries */
    size_t *perm;        /* current epoch's order */
    uint64_t epoch, pos; /* state: next row is perm[pos] of epoch `epoch` */
    uint64_t perm_epoch; /* epoch perm was built for */
} DataLoader;

/* Opens the shard, checks every token id < vocab_size, indexes rows. EOS and pad are both
 * vocab_size - 1 (the ids `prep` writes with its own BPE). */
int loader_open(DataLoader *dl, const char *path, DataMode mode, int T, int vocab_size, int shuffle, uint64_t seed,
                Err *e);
/* The same with the special ids given (prep.json's eos_id / pad_id, see prep_read_ids): T5's
 * SentencePiece ids are EOS 1, pad 0, and a truncated document keeps its EOS as the last token. */
typedef struct {
    int eos, pad, keep_eos;
    int vocab; /* prep.json's vocab_size, 0 when not recorded (filled by prep_read_ids) */
} TokenIds;
int loader_open_ids(DataLoader *dl, const char *path, DataMode mode, int T, int vocab_size, int shuffle, uint64_t seed,
                    TokenIds ids, Err *e);
/* Reads eos_id / pad_id / keep_eos_on_truncate of the prep.json in the shard's directory into *ids; leaves them
 * unchanged (returns 1) when there is no prep.json or it predates these keys; -1 on a bad file. Its
 * vocab_size (the vocabulary the shard was encoded with) goes to ids->vocab whenever present. */
int prep_read_ids(const char *shard_path, TokenIds *ids, Err *e);
void loader_close(DataLoader *dl);
/* Keeps only the shard's first max_tokens tokens (pack: the windows that lie inside them; pad: the
 * documents that end inside them) for a data-constrained subset. Call right after loader_open; an
 * error when no row is left. max_tokens >= the shard's size changes nothing. */
int loader_limit(DataLoader *dl, size_t max_tokens, Err *e);
/* Fills B rows of inputs / targets (B*T each) and advances; returns the number of non-ignored targets. */
int loader_next(DataLoader *dl, int *inputs, int *targets, int B);
/* Row r of the shard in file order (no shuffling, no state): for evaluation. */
int loader_row(const DataLoader *dl, size_t r, int *inputs, int *targets);

#endif
