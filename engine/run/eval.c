/* eval.c - evaluate() and `alphadecay eval --checkpoint DIR --data SHARD`: pack-mode validation loss
 * of a checkpoint (the llm.c row convention), printed as one JSON line. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "evaluate.h"
#include "model_open.h"
#include "run.h"

/* The evaluation loop over rows [first_row, ...): forward of this part's batches when m is non-NULL; returns the
 * row after the last one the evaluation reads (the same for every part). */
static size_t eval_rows(Model *m, const DataLoader *dl, int B, size_t first_row, long max_tokens, EvalConvention conv,
                        int part, int parts, double sums[4]) {
    int T = dl->T, authors = conv == EVAL_AUTHORS;
    int *in = xcalloc((size_t)B * T, sizeof(int)), *tg = xcalloc((size_t)B * T, sizeof(int));
    double sum = 0.0, batch_means = 0.0;
    long count = 0, seen = 0, batches = 0, all_valid = 0;
    size_t r = first_row;
    /* The stop rule needs only the loader's counts (valid targets, non-pad inputs), so every part walks
     * all the batches a single process would run and computes the forward of its own (k % parts). */
    for (long k = 0; r < dl->n_rows && (authors ? seen <= max_tokens : all_valid < max_tokens); k++) {
        int rows = 0;
        for (; rows < B && r < dl->n_rows; rows++, r++)
            all_valid += loader_row(dl, r, in + (size_t)rows * T, tg + (size_t)rows * T);
        for (int i = 0; i < rows * T; i++) seen += dl->mode == DATA_PACK || in[i] != dl->pad;
        if (k % parts != part || !m) continue;
        int n_valid = 0;
        float loss = model_forward(m, in, tg, rows, T, &n_valid);
        sum += (double)loss * n_valid;
        count += n_valid;
        if (n_valid > 0) batch_means += loss;
        batches++;
    }
    free(in);
    free(tg);
    sums[0] = sum;
    sums[1] = (double)count;
    sums[2] = batch_means;
    sums[3] = (double)batches;
    return r;
}

void evaluate_part(Model *m, const DataLoader *dl, int B, long max_tokens, EvalConvention conv, int part, int parts,
                   double sums[4]) {
    eval_rows(m, dl, B, 0, max_tokens, conv, part, parts, sums);
}

void evaluate_part_from(Model *m, const DataLoader *dl, int B, size_t first_row, long max_tokens, EvalConvention conv,
                        int part, int parts, double sums[4]) {
    eval_rows(m, dl, B, first_row, max_tokens, conv, part, parts, sums);
}

size_t evaluate_rows_used(const DataLoader *dl, int B, long max_tokens, EvalConvention conv) {
    double sums[4];
    return eval_rows(NULL, dl, B, 0, max_tokens, conv, 0, 1, sums);
}

EvalResult evaluate_result(const double sums[4], EvalConvention conv) {
    long count = (long)sums[1];
    EvalResult res = {NAN, NAN, count};
    if (count > 0) {
        res.loss = conv == EVAL_AUTHORS ? sums[2] / (sums[3] + 1.0) : sums[0] / (double)count;
        res.ppl = exp(res.loss);
    }
    return res;
}

EvalResult evaluate_conv(Model *m, const DataLoader *dl, int B, long max_tokens, EvalConvention conv) {
    double sums[4];
    evaluate_part(m, dl, B, max_tokens, conv, 0, 1, sums);
    return evaluate_result(sums, conv);
}

EvalResult evaluate(Model *m, const DataLoader *dl, int B, long max_tokens) {
    return evaluate_conv(m, dl, B, max_tokens, EVAL_TOKEN);
}

static void usage(FILE *f) {
    fprintf(f, "usage: alphadecay eval --checkpoint PATH --data SHARD [--seq-len T] [--batch B] [--tokens N]\n"
               "                      [--convention token|authors]\n"
               "  PATH: a run directory (its newest complete checkpoint), a checkpoint/step_N directory (ours or\n"
               "  Hugging Face's: config.json + model.safetensors) or a .safetensors file. Reads the shard in pack\n"
               "  mode from its start (row b of a batch: inputs [b*T, b*T+T), targets shifted by one) and prints\n"
               "  {\"loss\": ..., \"ppl\": ..., \"tokens\": ...} (+ \"convention\" when not token). Defaults: T 256,\n"
               "  B 8, N 10000000, convention token (mean over target tokens); authors = the sum of batch-mean\n"
               "  losses divided by n_batches + 1, as the paper's evaluation computed it.\n");
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *convention = "token";
    int T = 256, B = 8;
    long tokens = 10000000;
    EvalConvention conv = EVAL_TOKEN;
    const ArgSpec specs[] = {
        {"--checkpoint", NULL, ARG_STR, &ckpt, 0, 0},
        {"--data", NULL, ARG_STR, &data, 0, 0},
        {"--seq-len", NULL, ARG_INT, &T, 1, INT_MAX},
        {"--batch", NULL, ARG_INT, &B, 1, INT_MAX},
        {"--tokens", NULL, ARG_LONG, &tokens, 1, LONG_MAX},
        {"--convention", NULL, ARG_STR, &convention, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    int u = args_parse("eval", argc, argv, specs, NULL, usage);
    if (u) return u == 1 ? 0 : 2;
    if (!strcmp(convention, "token")) conv = EVAL_TOKEN;
    else if (!strcmp(convention, "authors")) conv = EVAL_AUTHORS;
    else return args_usage_error("eval", "--convention must be token or authors (got '%s')", convention);
    if (!ckpt || !data) return args_usage_error("eval", "--checkpoint and --data are required");
    Err e;
    ModelFiles mf;
    ModelConfig mc;
    Model m = {0};
    DataLoader dl;
    if (model_open_find(ckpt, &mf, &mc, &e)) goto fail;
    if (T > mc.max_position_embeddings) {
        fprintf(stderr, "alphadecay eval: --seq-len %d exceeds the model's max_position_embeddings %d\n", T,
                mc.max_position_embeddings);
        return 2;
    }
    if (model_open_load(&mf, &mc, &m, &e)) goto fail;
    if (model_alloc_acts(&m, B, T, &e)) goto fail;
    if (loader_open(&dl, data, DATA_PACK, T, mc.vocab_size, 0, 0, &e)) goto fail;
    EvalResult r = evaluate_conv(&m, &dl, B, tokens, conv);
    loader_close(&dl);
    model_free(&m);
    printf("{\"loss\": %.6f, \"ppl\": %.6f, \"tokens\": %ld", r.loss, r.ppl, r.tokens);
    if (conv != EVAL_TOKEN) printf(", \"convention\": \"%s\"", eval_convention_name(conv));
    printf("}\n");
    return 0;
fail:
    fprintf(stderr, "alphadecay eval: %s\n", e.msg);
    model_free(&m);
    return 1;
}
