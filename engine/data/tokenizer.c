/* tokenizer.c - see tokenizer.h. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

int tokenizer_is_spm(const char *spec) { return !strncmp(spec, "spm:", 4); }

int tokenizer_open(Tokenizer *t, const char *spec, Err *e) {
    memset(t, 0, sizeof *t);
    t->is_spm = tokenizer_is_spm(spec);
    const char *path = t->is_spm ? spec + 4 : spec;
    if (!*path) return err_set(e, "tokenizer '%s': no file named", spec);
    snprintf(t->path, sizeof t->path, "%s", path);
    if (!t->is_spm) {
        if (bpe_load(&t->bpe, path, e)) return -1;
        t->vocab_size = t->bpe.vocab_size;
        t->eos = t->pad = t->bpe.eot;
        return 0;
    }
    char msg[512];
    if (!(t->spm = spm_load(path, msg, sizeof msg))) return err_set(e, "%s", msg);
    t->vocab_size = spm_vocab_size(t->spm);
    t->eos = spm_eos_id(t->spm);
    t->pad = spm_pad_id(t->spm);
    if (t->eos < 0) {
        tokenizer_close(t);
        return err_set(e, "%s: the SentencePiece model defines no EOS id (train it with --eos_id)", path);
    }
    if (t->pad < 0) t->pad = t->eos; /* no pad piece: pad with EOS, as our BPE does */
    return 0;
}

void tokenizer_close(Tokenizer *t) {
    if (t->is_spm) spm_free(t->spm);
    else bpe_free(&t->bpe);
    t->spm = NULL;
}

int tokenizer_encode(Tokenizer *t, const char *s, size_t n, TokVec *out, Err *e) {
    if (!t->is_spm) return bpe_encode(&t->bpe, (const uint8_t *)s, n, out, e);
    uint32_t *ids;
    size_t k;
    char msg[512];
    if (spm_encode_ids(t->spm, s, n, &ids, &k, msg, sizeof msg)) return err_set(e, "%s: %s", t->path, msg);
    int rc = 0;
    for (size_t i = 0; i < k && !rc; i++) rc = tokvec_push(out, ids[i], e);
    free(ids);
    return rc;
}
