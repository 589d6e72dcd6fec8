/* sample.c - `alphadecay sample`: generate text from a checkpoint, to see what a run learned.
 *
 * Opens the model with model_open.h (a run directory: its newest complete checkpoint; a checkpoint
 * directory; or a .safetensors file) and a tokenizer whose
 * vocabulary must match the model's. The context starts with the end-of-text token (documents in
 * the shards end with it, so it marks "a document starts here") followed by the prompt's tokens.
 * Each step runs the forward pass over the whole context (at most max_position_embeddings tokens,
 * the oldest dropped beyond that): quadratic, fine for the small models trained here. Sampling is
 * from softmax(logits / temperature) with the seeded RNG; temperature 0 is greedy. The prompt and
 * the generated text go to stdout as they are produced; a generated end-of-text token prints as
 * "<|endoftext|>" on its own line. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bpe.h"
#include "model.h"
#include "model_open.h"
#include "run.h"

static void usage(FILE *f) {
    fprintf(f, "usage: alphadecay sample --checkpoint PATH --tokenizer FILE [--prompt TEXT] [--tokens N]\n"
               "                         [--temperature T] [--seed S]\n\n"
               "Generates text from a trained model.\n"
               "  --checkpoint PATH   a run directory (its newest complete checkpoint is used), a checkpoint/step_N\n"
               "                      directory (config.json + model.safetensors) or a .safetensors file\n"
               "  --tokenizer FILE    the tokenizer.bin the training shards were made with\n"
               "  --prompt TEXT       text to continue (default: none, start a new document)\n"
               "  --tokens N          tokens to generate (default 100)\n"
               "  --temperature T     softmax temperature, 0 = greedy (default 0.8)\n"
               "  --seed S            sampling seed (default 0)\n");
}

/* Index drawn from softmax(logits / temp), or the argmax when temp == 0. */
static int sample_token(const float *logits, int V, double temp, Rng *r, double *prob) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (temp <= 0) return best;
    double z = 0;
    for (int i = 0; i < V; i++) z += prob[i] = exp(((double)logits[i] - logits[best]) / temp);
    double u = rng_uniform(r) * z, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += prob[i];
        if (u < acc) return i;
    }
    return best; /* only reached through rounding at the very top */
}

static void emit(const Bpe *b, uint32_t id) {
    if (id == (uint32_t)b->eot) fputs("\n<|endoftext|>\n", stdout);
    else {
        size_t l;
        const uint8_t *p = bpe_token_bytes(b, id, &l);
        fwrite(p, 1, l, stdout);
    }
    fflush(stdout);
}

int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *tok = NULL, *prompt = "";
    long n_new = 100;
    double temp = 0.8;
    uint64_t seed = 0;
    const char *seed_s = "0";
    const ArgSpec specs[] = {
        {"--checkpoint", NULL, ARG_STR, &ckpt, 0, 0},
        {"--tokenizer", NULL, ARG_STR, &tok, 0, 0},
        {"--prompt", NULL, ARG_STR, &prompt, 0, 0},
        {"--tokens", NULL, ARG_LONG, &n_new, 0, LONG_MAX},
        {"--temperature", NULL, ARG_DOUBLE, &temp, 0, DBL_MAX},
        {"--seed", NULL, ARG_STR, &seed_s, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("sample", argc, argv, specs, NULL, usage);
    if (u) return u == 1 ? 0 : 2;
    char *end = NULL;
    seed = strtoull(seed_s, &end, 10);
    if (*end || !*seed_s || seed_s[0] == '-')
        return args_usage_error("sample", "--seed '%s' must be an integer >= 0", seed_s);
    if (!ckpt || !tok) return args_usage_error("sample", "--checkpoint and --tokenizer are required");

    Err e;
    Bpe b = {0};
    Model m = {0};
    ModelConfig mc;
    TokVec ctx = {0};
    int *inputs = NULL;
    double *prob = NULL;
    ModelFiles mf;
    const char *dir = mf.dir;
    if (bpe_load(&b, tok, &e) != 0 || model_open_find(ckpt, &mf, &mc, &e) != 0) goto fail;
    if (mc.vocab_size != b.vocab_size) {
        err_set(&e, "%s has vocab size %d but the model in %s has %d: use the tokenizer the shards were made with", tok,
                b.vocab_size, dir, mc.vocab_size);
        goto fail;
    }
    if (model_open_load(&mf, &mc, &m, &e) != 0) goto fail;
    if (tokvec_push(&ctx, (uint32_t)b.eot, &e) != 0) goto fail;
    if (bpe_encode(&b, (const uint8_t *)prompt, strlen(prompt), &ctx, &e) != 0) goto fail;
    int Tmax = mc.max_position_embeddings;
    long want = (long)ctx.n + n_new;
    int Talloc = want < Tmax ? (int)want : Tmax;
    if (model_alloc_acts(&m, 1, Talloc, &e) != 0) goto fail;
    int V = mc.vocab_size;
    inputs = malloc((size_t)Talloc * sizeof *inputs);
    prob = malloc((size_t)V * sizeof *prob);
    if (!inputs || !prob) {
        err_set(&e, "out of memory");
        goto fail;
    }
    fputs(prompt, stdout);
    fflush(stdout);
    Rng r;
    rng_seed(&r, seed);
    for (long k = 0; k < n_new; k++) {
        size_t T = ctx.n < (size_t)Talloc ? ctx.n : (size_t)Talloc, start = ctx.n - T;
        for (size_t t = 0; t < T; t++) inputs[t] = (int)ctx.v[start + t];
        model_forward(&m, inputs, NULL, 1, (int)T, NULL);
        const float *lg = model_logits(&m) + (T - 1) * (size_t)V;
        if (!isfinite(lg[0])) {
            err_set(&e, "%s: the model produced non-finite logits", dir);
            goto fail;
        }
        int id = sample_token(lg, V, temp, &r, prob);
        if (tokvec_push(&ctx, (uint32_t)id, &e) != 0) goto fail;
        emit(&b, (uint32_t)id);
    }
    fputc('\n', stdout);
    free(inputs);
    free(prob);
    tokvec_free(&ctx);
    model_free(&m);
    bpe_free(&b);
    return 0;
fail:
    fflush(stdout);
    fprintf(stderr, "alphadecay sample: %s\n", e.msg);
    free(inputs);
    free(prob);
    tokvec_free(&ctx);
    model_free(&m);
    bpe_free(&b);
    return 1;
}
