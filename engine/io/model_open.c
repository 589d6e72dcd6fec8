/* model_open.c - find, verify, read config.json, build, load (see model_open.h). */
#include "model_open.h"
#include "checkpoint.h"
#include "hf_config.h"
#include "safetensors.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define FORMS "a run directory, a checkpoint/step_N directory or a .safetensors file"

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int set_dir(ModelFiles *f, const char *dir, const char *path, Err *e) {
    if ((size_t)snprintf(f->dir, sizeof f->dir, "%s", dir) >= sizeof f->dir)
        return err_set(e, "%s: path too long", path);
    snprintf(f->weights, sizeof f->weights, "%s/model.safetensors", f->dir);
    return 0;
}

/* The directory (or file) PATH names: f->dir and f->weights. */
static int locate(const char *path, ModelFiles *f, Err *e) {
    struct stat sb;
    if (stat(path, &sb) != 0) return err_set(e, "%s: %s (expected %s)", path, strerror(errno), FORMS);
    if (!S_ISDIR(sb.st_mode)) { /* a file: the weights themselves, config.json beside them */
        if (!S_ISREG(sb.st_mode)) return err_set(e, "%s: not a regular file or a directory (expected %s)", path, FORMS);
        if ((size_t)snprintf(f->weights, sizeof f->weights, "%s", path) >= sizeof f->weights)
            return err_set(e, "%s: path too long", path);
        const char *slash = strrchr(path, '/');
        if (!slash) snprintf(f->dir, sizeof f->dir, ".");
        else if (slash == path) snprintf(f->dir, sizeof f->dir, "/");
        else snprintf(f->dir, sizeof f->dir, "%.*s", (int)(slash - path), path);
        return 0;
    }
    char p[AD_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/model.safetensors", path);
    if (file_exists(p)) return set_dir(f, path, path, e);
    /* a run directory (its checkpoint/ folder) or that folder itself: the newest complete step_N */
    const char *bases[2] = {"%s/checkpoint", "%s"};
    for (int k = 0; k < 2; k++) {
        char base[AD_PATH_MAX + 16], step[AD_PATH_MAX + 64];
        snprintf(base, sizeof base, bases[k], path);
        if (!is_dir(base)) continue;
        int got = checkpoint_newest(base, step, sizeof step, e);
        if (got < 0) return -1;
        if (got) return set_dir(f, step, path, e);
    }
    return err_set(e, "%s: no model.safetensors and no complete checkpoint (step_*/COMPLETE) under it (expected %s)",
                   path, FORMS);
}

int model_open_find(const char *path, ModelFiles *f, ModelConfig *c, Err *e) {
    memset(f, 0, sizeof *f);
    if (locate(path, f, e)) return -1;
    snprintf(f->config, sizeof f->config, "%s/config.json", f->dir);
    /* the files this open reads, checked against COMPLETE (a no-op without one) */
    const char *name = strrchr(f->weights, '/');
    const char *only[3] = {name ? name + 1 : f->weights, c ? "config.json" : NULL, NULL};
    if (checkpoint_verify(f->dir, only, e) < 0) return -1;
    return c ? hf_config_read(f->config, c, e) : 0;
}

int model_open_load(const ModelFiles *f, const ModelConfig *c, Model *m, Err *e) {
    if (model_build(m, c, e)) return -1;
    return safetensors_load_model(f->weights, m, e);
}

int model_open(const char *path, Model *m, ModelFiles *f, Err *e) {
    ModelFiles own;
    ModelConfig c;
    if (!f) f = &own;
    if (model_open_find(path, f, &c, e)) return -1;
    return model_open_load(f, &c, m, e);
}
