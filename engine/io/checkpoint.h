/* checkpoint.h - run checkpoints (the model files in them: safetensors.h, hf_config.h).
 *
 * A checkpoint is RUNDIR/checkpoint/step_XXXXXXXX/ holding
 *   model.safetensors  fp32 (or bf16, checkpoint.dtype) weights, HF LLaMA names, __metadata__ {"format":"pt"}
 *   config.json        a LlamaConfig (model_type llama, architectures [LlamaForCausalLM], ...)
 *   optimizer.safetensors  Adam moments under the same names ("m." / "v." prefixed); with BF16 weights
 *                      (checkpoint.dtype: bf16) also the exact fp32 weights ("master." prefixed)
 *   state.json         step, tokens, data position, decay state, per-tensor wd, elapsed
 *   COMPLETE           written last; a directory without it is never loaded. Text: "step N", then
 *                      one line per file "NAME SIZE crc32c=XXXXXXXX" (bytes, CRC-32C in hex)
 * It is written under a temporary name and renamed into place; only the newest `keep` are kept (the
 * one just written, verified, is always among them). Pruning deletes COMPLETE first. Nothing under
 * checkpoint/ is followed through a symbolic link: a link there is an error naming it. */
#ifndef CHECKPOINT_H
#define CHECKPOINT_H

#include "common.h"
#include "model.h"

/* What a checkpoint holds of the decay method's state besides the per-tensor wd (state.json's
 * "awd_lambda" and "decay_last_update"). Only the decay module fills and reads it (decay_save /
 * decay_restore, decay.h): a new piece of decay state goes here and into those two functions. */
typedef struct {
    double awd_lambda;     /* AWD's lam_bar */
    long last_update_step; /* step of the last module-wise update, -1 = none yet */
} DecayCkpt;

typedef struct {
    long step;           /* updates completed */
    long tokens;         /* training tokens consumed (non-pad targets) */
    double elapsed_s;    /* wall seconds of training before this checkpoint */
    uint64_t data_epoch; /* data loader position */
    uint64_t data_pos;
    DecayCkpt decay; /* decay state */
} TrainState;

int checkpoint_save(const char *run_dir, const Model *m, const TrainState *s, int keep, Err *e);
/* The same with model.safetensors in BF16 when bf16 is set (checkpoint.dtype: bf16). Weights that are not
 * all bf16 numbers (fp32 and mixed-precision masters) are then also kept exactly, as F32 "master."
 * tensors in optimizer.safetensors, which load prefers: resume stays exact. */
int checkpoint_save_dtype(const char *run_dir, const Model *m, const TrainState *s, int keep, int bf16, Err *e);
/* Removes the oldest complete checkpoints of a step below `below` while more than `keep` remain (keep <= 0:
 * none), and the leftovers of killed saves and prunes. A resumed run calls it with the step it resumed
 * from and a completed run with its last step, so a kill between the final save and its pruning never
 * leaves a checkpoint too many. Returns 0, or -1 (with e) on a failed removal or a symbolic link. */
int checkpoint_prune(const char *run_dir, int keep, long below, Err *e);
/* Loads the newest intact checkpoint of run_dir into m (which must already be built with the same
 * shapes, with train buffers allocated) and s. Returns 1 if loaded, 0 if there is none, -1 on an error
 * (also when every checkpoint is damaged). A newer checkpoint whose files fail their checksums is
 * skipped; warn (may be NULL) then names each skipped file and why, else warn->msg is empty. */
int checkpoint_load_latest(const char *run_dir, Model *m, TrainState *s, Err *warn, Err *e);
/* The newest complete checkpoint directory (step_N with COMPLETE) in ckdir (a run's checkpoint/) into out,
 * without changing anything on disk (load's clean-up is train's). Returns 1 found, 0 none, -1 error. */
int checkpoint_newest(const char *ckdir, char *out, size_t n, Err *e);
/* Check the files of checkpoint directory dir against the sizes and CRC-32Cs in its COMPLETE: every
 * listed file, or only those named in the NULL-terminated list `only`. Returns 1 when verified, 0 when
 * there is nothing to check (no COMPLETE: a Hugging Face directory; or a COMPLETE without checksums,
 * from an older version), -1 when a file is missing, of another size or corrupt (e names it). */
int checkpoint_verify(const char *dir, const char *const *only, Err *e);
/* The same for the two files a model is loaded from (config.json, model.safetensors). Commands open a
 * model through model_open.h, which checks the files it reads this way. */
int checkpoint_verify_model(const char *dir, Err *e);

#endif
