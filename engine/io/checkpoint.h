/* checkpoint.h - run checkpoints and Hugging Face model files.
 *
 * A checkpoint is RUNDIR/checkpoint/step_XXXXXXXX/ holding
 *   model.safetensors  fp32 weights, HF LLaMA names, __metadata__ {"format":"pt"}
 *   config.json        a LlamaConfig (model_type llama, architectures [LlamaForCausalLM], ...)
 *   optimizer.safetensors  Adam moments under the same names ("m." / "v." prefixed)
 *   state.json         step, tokens, data position, decay state, per-tensor wd, elapsed
 *   COMPLETE           written last; a directory without it is never loaded. Text: "step N", then
 *                      one line per file "NAME SIZE crc32c=XXXXXXXX" (bytes, CRC-32C in hex)
 * It is written under a temporary name and renamed into place; only the newest `keep` are kept (the
 * one just written, verified, is always among them). */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "common.h"
#include "model.h"

typedef struct {
    long step;            /* updates completed */
    long tokens;          /* training tokens consumed (non-pad targets) */
    double elapsed_s;     /* wall seconds of training before this checkpoint */
    uint64_t data_epoch;  /* data loader position */
    uint64_t data_pos;
    double awd_lambda;    /* decay state */
    long decay_last_update;
} TrainState;

int checkpoint_save(const char *run_dir, const Model *m, const TrainState *s, int keep, Err *e);
/* Loads the newest intact checkpoint of run_dir into m (which must already be built with the same
 * shapes, with train buffers allocated) and s. Returns 1 if loaded, 0 if there is none, -1 on an error
 * (also when every checkpoint is damaged). A newer checkpoint whose files fail their checksums is
 * skipped; warn (may be NULL) then names each skipped file and why, else warn->msg is empty. */
int checkpoint_load_latest(const char *run_dir, Model *m, TrainState *s, Err *warn, Err *e);
/* Check the files of checkpoint directory dir against the sizes and CRC-32Cs in its COMPLETE: every
 * listed file, or only those named in the NULL-terminated list `only`. Returns 1 when verified, 0 when
 * there is nothing to check (no COMPLETE: a Hugging Face directory; or a COMPLETE without checksums,
 * from an older version), -1 when a file is missing, of another size or corrupt (e names it). */
int checkpoint_verify(const char *dir, const char *const *only, Err *e);
/* The same for the two files a model is loaded from (config.json, model.safetensors): eval, sample,
 * esd and train.init call it before loading a directory. */
int checkpoint_verify_model(const char *dir, Err *e);

/* Hugging Face files. */
int safetensors_save_model(const char *path, const Model *m, Err *e);
/* Loads every table tensor by name; missing tensors, wrong shapes and weights (*.weight) the table has
 * no place for (more layers than the config declares) are errors naming the file. */
int safetensors_load_model(const char *path, Model *m, Err *e);
/* The table's tensors taken from n buffers of the params layout (params, adam_m, adam_v), buffer k's
 * tensors named prefixes[k] + HF name (e.g. "m." for optimizer.safetensors). Load checks every
 * prefixed table tensor exists with the table's shape, fills the buffers, ignores other tensors. */
int safetensors_save_table(const char *path, const Model *m, int n, const float *const *bufs,
                           const char *const *prefixes, Err *e);
int safetensors_load_table(const char *path, const Model *m, int n, float *const *bufs,
                           const char *const *prefixes, Err *e);
int hf_config_write(const char *path, const ModelConfig *c, Err *e);
int hf_config_read(const char *path, ModelConfig *c, Err *e);

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
