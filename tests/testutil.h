/* testutil.h - what several C unit tests share: a scratch directory of their own (made at the start
 * of main, removed at its end), the tiny model configuration the checkpoint and fuzz tests write
 * their files for, and the bad-input cases (BadInput) the config and sweep error tables list. Static inline, so a test that uses only part of it compiles without warnings. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "model.h"

/* Makes base/NAME.XXXXXX into dir (base NULL: $AD_TMP, else /tmp). Returns 1, or prints a counted
 * FAIL setup line and returns 0: a test that cannot set up must not pass by running nothing. */
static inline int scratch_dir(char *dir, size_t n, const char *base, const char *name) {
    if (!base) base = getenv("AD_TMP") ? getenv("AD_TMP") : "/tmp";
    snprintf(dir, n, "%s/%s.XXXXXX", base, name);
    if (mkdtemp(dir)) return 1;
    CHECK(0, "setup", "cannot create a temporary directory under %s", base);
    return 0;
}

/* Removes the scratch directory and all in it: rm -rf, run without a shell. */
static inline void scratch_remove(const char *dir) {
    char *argv[] = {"rm", "-rf", (char *)dir, NULL};
    if (run_argv(argv, NULL, NULL, NULL, 0, NULL) != 0) printf("note: could not remove %s\n", dir);
}

/* Writes text to the file rel under root, making the directories on its way (a run directory's files). A
 * file that cannot be written is left missing: the checks that read it then fail. */
static inline void put_under(const char *root, const char *rel, const char *text) {
    char path[1024], dir[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    Err e;
    mkdir_p(dir, &e);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

/* Bytes the C heap has handed out (glibc's mallinfo2): allocations are measured as the difference
 * around them. ASan's allocator is not seen, so a test skips when the difference is implausibly small. */
static inline size_t heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* A Llama configuration of the given shape with the usual constants (eps 1e-6, RoPE theta 10000,
 * init std 0.02): what the unit tests build their small models from. */
static inline ModelConfig test_model_config(int hidden, int inter, int heads, int layers, int vocab, int max_pos) {
    ModelConfig c = {.hidden_size = hidden,
                     .intermediate_size = inter,
                     .num_attention_heads = heads,
                     .num_hidden_layers = layers,
                     .vocab_size = vocab,
                     .max_position_embeddings = max_pos,
                     .rms_norm_eps = 1e-6,
                     .rope_theta = 10000.0,
                     .initializer_range = 0.02};
    return c;
}

/* A bad input file's text and the one-line error its load must give: where (the location, such as
 * "bad.yaml:3:1:") and, unless NULL, what (a word of the message). The error tests list these as tables. */
typedef struct {
    const char *name, *text, *where, *what;
} BadInput;

/* The check of a BadInput's load: it failed (rc -1) with a message holding where and what. */
static inline void check_bad_input(const BadInput *b, int rc, const char *msg) {
    CHECK(rc == -1 && strstr(msg, b->where) && (!b->what || strstr(msg, b->what)), b->name,
          "rc %d, message '%s', wanted '%s'", rc, msg, b->where);
}

/* Two layers of width 8: every tensor kind, files of a few kilobytes. */
static inline ModelConfig tiny_model_config(void) { return test_model_config(8, 12, 2, 2, 16, 32); }

#endif
