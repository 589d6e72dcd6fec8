/* evaluate.h - validation loss: mean token loss over the first `max_tokens` non-ignored targets of a
 * shard, rows taken in file order (METHOD.md: the first 10M non-pad validation tokens), in
 * micro-batches of B rows. Whole micro-batches are used, so the count may overshoot max_tokens by
 * less than one batch; the exact count is returned. */
#ifndef EVALUATE_H
#define EVALUATE_H

#include "dataloader.h"
#include "model.h"

typedef struct {
    double loss, ppl;
    long tokens;
} EvalResult;

/* B must not exceed the model's allocated activation rows; T = dl->T. */
EvalResult evaluate(Model *m, const DataLoader *dl, int B, long max_tokens);

#endif
