/* dataloader.c - see dataloader.h. */
#include "dataloader.h"

#include "json.h"

#include <stdlib.h>
#include <string.h>

static int index_documents(DataLoader *dl, Err *e) {
    size_t n = 0, cap = 1024;
    dl->doc_start = malloc(cap * sizeof(size_t));
    if (!dl->doc_start) return err_set(e, "%s: out of memory indexing documents", dl->shard.path);
    size_t start = 0;
    for (size_t i = 0; i < dl->shard.n_tokens; i++) {
        if ((int)dl->shard.tokens[i] != dl->eot && i + 1 != dl->shard.n_tokens) continue;
        if (n + 2 > cap) {
            size_t *p = realloc(dl->doc_start, 2 * cap * sizeof(size_t));
            if (!p) return err_set(e, "%s: out of memory indexing documents", dl->shard.path);
            dl->doc_start = p;
            cap *= 2;
        }
        dl->doc_start[n++] = start;
        start = i + 1;
    }
    dl->doc_start[n] = dl->shard.n_tokens;
    dl->n_rows = n;
    return 0;
}

int loader_open(DataLoader *dl, const char *path, DataMode mode, int T, int vocab_size, int shuffle, uint64_t seed,
                Err *e) {
    TokenIds ids = {vocab_size - 1, vocab_size - 1, 0, 0};
    return loader_open_ids(dl, path, mode, T, vocab_size, shuffle, seed, ids, e);
}

int loader_open_ids(DataLoader *dl, const char *path, DataMode mode, int T, int vocab_size, int shuffle, uint64_t seed,
                    TokenIds ids, Err *e) {
    memset(dl, 0, sizeof *dl);
    if (ids.eos < 0 || ids.eos >= vocab_size || ids.pad < 0 || ids.pad >= vocab_size)
        return err_set(e, "%s: EOS id %d / pad id %d outside the model's vocabulary of %d", path, ids.eos, ids.pad,
                       vocab_size);
    if (shard_read(&dl->shard, path, e)) return -1;
    for (size_t i = 0; i < dl->shard.n_tokens; i++)
        if (dl->shard.tokens[i] >= (uint32_t)vocab_size) {
            err_set(e, "%s: token %u at position %zu is outside the model's vocabulary of %d", path,
                    dl->shard.tokens[i], i, vocab_size);
            loader_close(dl);
            return -1;
        }
    dl->mode = mode;
    dl->T = T;
    dl->eot = ids.eos;
    dl->pad = ids.pad;
    dl->keep_eos = ids.keep_eos;
    dl->shuffle = shuffle;
    dl->seed = seed;
    if (mode == DATA_PACK) {
        dl->n_rows = dl->shard.n_tokens > 0 ? (dl->shard.n_tokens - 1) / (size_t)T : 0;
    } else if (index_documents(dl, e)) {
        loader_close(dl);
        return -1;
    }
    if (dl->n_rows == 0) {
        err_set(e, "%s: %zu tokens is too few for one row of %d tokens", path, dl->shard.n_tokens, T + 1);
        loader_close(dl);
        return -1;
    }
    if (mode == DATA_PAD) { /* a row predicts min(document, T) - 1 tokens: all one-token documents give 0 */
        size_t targets = 0;
        for (size_t r = 0; r < dl->n_rows && !targets; r++) targets += dl->doc_start[r + 1] - dl->doc_start[r] > 1;
        if (!targets) {
            err_set(e, "%s: pad mode: every one of the %zu documents is a single token, so there is nothing to predict",
                    path, dl->n_rows);
            loader_close(dl);
            return -1;
        }
    }
    dl->perm = malloc(dl->n_rows * sizeof(size_t));
    if (!dl->perm) {
        loader_close(dl);
        return err_set(e, "%s: out of memory", path);
    }
    dl->perm_epoch = UINT64_MAX;
    return 0;
}

void loader_close(DataLoader *dl) {
    shard_free(&dl->shard);
    free(dl->doc_start);
    free(dl->perm);
    dl->doc_start = NULL;
    dl->perm = NULL;
}

int loader_limit(DataLoader *dl, size_t max_tokens, Err *e) {
    if (max_tokens >= dl->shard.n_tokens) return 0;
    if (dl->mode == DATA_PACK) {
        dl->n_rows = max_tokens > 0 ? (max_tokens - 1) / (size_t)dl->T : 0;
    } else {
        size_t n = 0;
        while (n < dl->n_rows && dl->doc_start[n + 1] <= max_tokens) n++;
        dl->n_rows = n;
    }
    if (dl->n_rows == 0)
        return err_set(e, "%s: data.train_tokens = %zu leaves no row of %d tokens", dl->shard.path, max_tokens,
                       dl->T + 1);
    return 0;
}

/* Fisher-Yates with an RNG seeded from (seed, epoch): any epoch's order can be rebuilt on resume.
 * The stream is keyed by seed XOR 42 so that the default data.seed 42 draws exactly the order that
 * runs made before data.seed existed drew with their train.seed 0 (committed results stay valid). */
static void build_perm(DataLoader *dl) {
    for (size_t i = 0; i < dl->n_rows; i++) dl->perm[i] = i;
    if (dl->shuffle) {
        Rng r;
        rng_seed(&r, (dl->seed ^ 42u) * 0x9E3779B97F4A7C15ULL + dl->epoch + 1);
        for (size_t i = dl->n_rows - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(&r, i + 1), t = dl->perm[i];
            dl->perm[i] = dl->perm[j];
            dl->perm[j] = t;
        }
    }
    dl->perm_epoch = dl->epoch;
}

int loader_row(const DataLoader *dl, size_t r, int *in, int *tg) {
    int T = dl->T, valid = 0;
    const uint32_t *tok = dl->shard.tokens;
    if (dl->mode == DATA_PACK) {
        const uint32_t *w = tok + r * (size_t)T;
        for (int t = 0; t < T; t++) {
            in[t] = (int)w[t];
            tg[t] = (int)w[t + 1];
        }
        return T;
    }
    size_t s = dl->doc_start[r], len = dl->doc_start[r + 1] - s; /* includes the end-of-text token */
    int cut = len > (size_t)T;
    if (cut) len = (size_t)T;
    for (int t = 0; t < T; t++) in[t] = (size_t)t < len ? (int)tok[s + t] : dl->pad;
    if (cut && dl->keep_eos) in[T - 1] = dl->eot;
    for (int t = 0; t < T; t++) {
        tg[t] = (size_t)(t + 1) < len ? in[t + 1] : -1;
        valid += tg[t] >= 0;
    }
    return valid;
}

int loader_next(DataLoader *dl, int *inputs, int *targets, int B) {
    int valid = 0;
    for (int b = 0; b < B; b++) {
        if (dl->pos >= dl->n_rows) {
            dl->epoch++;
            dl->pos = 0;
        }
        if (dl->perm_epoch != dl->epoch) build_perm(dl);
        size_t r = dl->perm[dl->pos++];
        valid += loader_row(dl, r, inputs + (size_t)b * dl->T, targets + (size_t)b * dl->T);
    }
    return valid;
}

int prep_read_ids(const char *shard_path, TokenIds *ids, Err *e) {
    char path[AD_PATH_MAX + 16];
    const char *slash = strrchr(shard_path, '/');
    int dir = slash ? (int)(slash - shard_path) : 1;
    snprintf(path, sizeof path, "%.*s/prep.json", dir, slash ? shard_path : ".");
    if (!file_exists(path)) return 1;
    Json *j = NULL;
    if (json_parse_file(path, &j, e)) return -1;
    double eos, pad, vocab;
    int keep = 0, rc = 1;
    if (json_num(j, "vocab_size", &vocab) == 0) {
        if (vocab != (int)vocab || vocab < 1) {
            json_free(j);
            return err_set(e, "%s: vocab_size %g must be a positive integer", path, vocab);
        }
        ids->vocab = (int)vocab;
    }
    if (json_num(j, "eos_id", &eos) == 0 && json_num(j, "pad_id", &pad) == 0) {
        if (eos != (int)eos || pad != (int)pad || eos < 0 || pad < 0)
            rc = err_set(e, "%s: eos_id %g / pad_id %g must be non-negative integers", path, eos, pad);
        else {
            json_bool(j, "keep_eos_on_truncate", &keep);
            *ids = (TokenIds){(int)eos, (int)pad, keep, ids->vocab};
            rc = 0;
        }
    }
    json_free(j);
    return rc;
}
