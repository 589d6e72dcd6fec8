/* spm.h - a SentencePiece model (libsentencepiece) behind a C interface, for `prep --tokenizer spm:PATH`.
 *
 * The library is C++; spm_shim.cc wraps its SentencePieceProcessor in these few functions, so the
 * rest of the engine stays C11. Errors come back as text in err[0..cap) (NUL-terminated) with a
 * non-zero return; nothing here prints or exits. */
#ifndef SPM_H
#define SPM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct SpmModel SpmModel;

/* Loads a serialized model (e.g. T5's spiece.model); NULL on failure (message in err). */
SpmModel *spm_load(const char *path, char *err, size_t cap);
void spm_free(SpmModel *m);
/* Pieces in the model; the special ids (-1 when the model defines none). T5: eos 1, pad 0, unk 2. */
int spm_vocab_size(const SpmModel *m);
int spm_eos_id(const SpmModel *m);
int spm_pad_id(const SpmModel *m);
int spm_unk_id(const SpmModel *m);
/* Encodes text[0..len) into ids as spm_encode --output_format=id does: *ids is malloc'd (*n ids;
 * the caller frees). 0 on success. */
int spm_encode_ids(SpmModel *m, const char *text, size_t len, uint32_t **ids, size_t *n, char *err, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
