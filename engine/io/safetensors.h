/* safetensors.h - the safetensors format (Hugging Face): model weights and optimizer moments by
 * tensor-table name, and a generic reader for tools. Format and limits: docs/formats.md, "Model
 * files". Every function returns 0 or -1 with an Err naming the file. */
#ifndef SAFETENSORS_H
#define SAFETENSORS_H

#include "common.h"
#include "model.h"

/* The table's weights (m->params, or bf16_pure's m->hw widened) under their Hugging Face names (F32). */
int safetensors_save_model(const char *path, const Model *m, Err *e);
/* The weights as BF16 tensors (rounded to nearest even), what Hugging Face bf16 checkpoints hold. */
int safetensors_save_model_bf16(const char *path, const Model *m, Err *e);
/* 1 if the file has a tensor of that name, 0 if not, -1 (error) if the file is unreadable. */
int safetensors_has_tensor(const char *path, const char *name, Err *e);
/* Loads every table tensor by name; missing tensors, wrong shapes and weights (*.weight) the table has
 * no place for (more layers than the config declares) are errors naming the file. */
int safetensors_load_model(const char *path, Model *m, Err *e);
/* The table's tensors taken from n buffers of the params layout (params, adam_m, adam_v), buffer k's
 * tensors named prefixes[k] + HF name (e.g. "m." for optimizer.safetensors). Load checks every
 * prefixed table tensor exists with the table's shape, fills the buffers, ignores other tensors. */
int safetensors_save_table(const char *path, const Model *m, int n, const float *const *bufs,
                           const char *const *prefixes, Err *e);
int safetensors_load_table(const char *path, const Model *m, int n, float *const *bufs, const char *const *prefixes,
                           Err *e);
/* The same for buffers in fp32 or bf16 storage (bf16_pure's weights and moments): a bf16 buffer is written
 * widened to F32 (exact) or as BF16, and loads rounded to nearest even. bf16 != 0 writes BF16 tensors. */
int safetensors_save_bufs(const char *path, const Model *m, int n, const TableBuf *bufs, const char *const *prefixes,
                          int bf16, Err *e);
int safetensors_load_bufs(const char *path, const Model *m, int n, const TableBuf *bufs, const char *const *prefixes,
                          Err *e);

/* Generic safetensors reading for tools (esd): every F32/F16/BF16 tensor converted to float. */
typedef struct {
    char *name; /* malloc'd, any length */
    int ndim;
    long shape[4];
    float *data;
} StTensor;
typedef struct {
    StTensor *t;
    int n;
} StFile;
int safetensors_read_all(const char *path, StFile *f, Err *e);
void safetensors_free(StFile *f);

#endif
