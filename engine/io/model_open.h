/* model_open.h - the one way a command opens a trained model: eval, eval-tasks, sample, esd and
 * train.init all go through it.
 *
 * PATH may be
 *   a run directory            its newest complete checkpoint (checkpoint/step_N with COMPLETE)
 *   a checkpoint/step_N directory, or any directory holding model.safetensors (ours or Hugging Face's)
 *   a .safetensors file        (config.json is read from the same directory)
 * (the checkpoint/ folder of a run works as the run directory does). Anything else is an error that
 * names these three forms. The files read are verified first against the checkpoint's COMPLETE (size
 * and CRC-32C; checkpoint.h): a damaged file is an error naming it, never a silently wrong model. A
 * directory without COMPLETE (Hugging Face's) is read as it is. */
#ifndef MODEL_OPEN_H
#define MODEL_OPEN_H

#include "common.h"
#include "model.h"

typedef struct {
    char dir[AD_PATH_MAX];          /* the directory holding the model's files */
    char weights[AD_PATH_MAX + 32]; /* the safetensors file */
    char config[AD_PATH_MAX + 32];  /* dir/config.json */
} ModelFiles;

/* Finds and verifies the files of PATH; with c, also reads config.json into it (the model's shape). */
int model_open_find(const char *path, ModelFiles *f, ModelConfig *c, Err *e);
/* Builds m with shape c and loads the weights of f (found by model_open_find) into it. */
int model_open_load(const ModelFiles *f, const ModelConfig *c, Model *m, Err *e);
/* Both: find, verify, read config.json, build, load. f may be NULL. */
int model_open(const char *path, Model *m, ModelFiles *f, Err *e);

#endif
