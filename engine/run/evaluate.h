/* evaluate.h - validation loss: mean token loss over the first `max_tokens` non-ignored targets of a
 * shard, rows taken in file order (the paper: the first 10M non-pad validation tokens; docs/method.md, "Evaluation"), in
 * micro-batches of B rows. Whole micro-batches are used, so the count may overshoot max_tokens by
 * less than one batch; the exact count is returned. */
#ifndef EVALUATE_H
#define EVALUATE_H

#include "config.h"
#include "dataloader.h"
#include "model.h"

typedef struct {
    double loss, ppl;
    long tokens;
} EvalResult;

/* B must not exceed the model's allocated activation rows; T = dl->T. Token convention. */
EvalResult evaluate(Model *m, const DataLoader *dl, int B, long max_tokens);
/* conv EVAL_TOKEN: as evaluate(). EVAL_AUTHORS reproduces the authors' evaluation loop: before each
 * batch it stops once more than max_tokens non-pad input tokens were seen (pack mode: every input),
 * and the loss is the sum of the batches' mean losses divided by n_batches + 1 (their counter starts
 * at 1), about 1% lower than the token mean on long evaluations. tokens = target tokens evaluated. */
EvalResult evaluate_conv(Model *m, const DataLoader *dl, int B, long max_tokens, EvalConvention conv);
/* The same evaluation divided into `parts` (data-parallel validation): part p runs the forward of the
 * batches k with k % parts == p of those evaluate_conv runs and fills sums = {sum of loss x valid
 * targets, valid targets, sum of batch-mean losses, batches}. The element-wise sum of every part's
 * sums, passed to evaluate_result, gives evaluate_conv's result (to round-off in the order of the sum;
 * exactly with one part). */
void evaluate_part(Model *m, const DataLoader *dl, int B, long max_tokens, EvalConvention conv, int part, int parts,
                   double sums[4]);
EvalResult evaluate_result(const double sums[4], EvalConvention conv);
/* The held-out TEST set (eval.test_tokens) beside the SELECTION set the evaluation above reads: the rows an
 * evaluation of max_tokens from row 0 reads are [0, evaluate_rows_used(...)); the test set is evaluated by
 * evaluate_part_from with first_row = that count, so no target token of one set is a target of the other (m NULL:
 * the rows are read, nothing is computed). */
size_t evaluate_rows_used(const DataLoader *dl, int B, long max_tokens, EvalConvention conv);
void evaluate_part_from(Model *m, const DataLoader *dl, int B, size_t first_row, long max_tokens, EvalConvention conv,
                        int part, int parts, double sums[4]);

#endif
