/* tokenizer.h - one interface over the two tokenizers `prep` and `eval-tasks` accept:
 *   a tokenizer.bin of our byte-level BPE (bpe.h): EOS = end-of-text (vocab_size - 1), no pad id
 *     of its own (pad mode pads with the same id);
 *   "spm:PATH" - a SentencePiece model through libsentencepiece (spm.h), e.g. T5's spiece.model:
 *     EOS and pad are the model's own ids (T5: EOS 1, pad 0), and a truncated pad-mode document keeps
 *     its EOS (the Hugging Face T5 tokenizer does).
 * Encoding never adds EOS: callers append it where a document ends. */
#ifndef TOKENIZER_H
#define TOKENIZER_H

#include "bpe.h"
#include "common.h"
#include "spm.h"

typedef struct {
    int is_spm;
    Bpe bpe;       /* !is_spm */
    SpmModel *spm; /* is_spm */
    int vocab_size, eos, pad;
    char path[AD_PATH_MAX]; /* the file, without the "spm:" prefix */
} Tokenizer;

/* spec: "spm:PATH" or the path of a tokenizer.bin. */
int tokenizer_open(Tokenizer *t, const char *spec, Err *e);
void tokenizer_close(Tokenizer *t);
/* Appends the ids of s[0..n) to out. */
int tokenizer_encode(Tokenizer *t, const char *s, size_t n, TokVec *out, Err *e);
/* 1 when spec names a SentencePiece model. */
int tokenizer_is_spm(const char *spec);

#endif
