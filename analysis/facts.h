/* facts.h - the numbers and claims a table spec declares for the report's prose (spec `numbers:` and
 * `claims:`, docs/analysis.md "Numbers and claims in prose"), evaluated on the built table.
 *
 * A number is one statistic of one cell (or of several, reduced by agg: min, max, span), formatted
 * as the table prints it; the prose cites it by name, \val{SPEC.NAME} in LaTeX and in the README's
 * template, so no result is typed by hand. A claim is a condition every selected cell must satisfy
 * ("diff < 0 and p_holm < 0.05", "hi < 0", "p_holm >= 0.05", "mean < mean[Uniform]"); the sentence
 * that states it carries \claimed{SPEC.NAME}, and `report all` fails when the data no longer support it.
 *
 * Condition grammar: TERM [and TERM]...;  TERM = STAT OP RHS;  OP = < <= > >=;
 * RHS = a number | STAT[ROW] | STAT[ROW|COLUMN] | STAT[|COLUMN]  (this cell's own row or column when
 * none is named). Conjunctions may be joined by "or".
 * STAT: mean sd n min max p (ttest) diff lo hi p_t p_holm p_w mde paper npairs; with compare.at also at (the
 * mean position of the paired runs), base (the baseline interpolated there) and unpaired. A cell for which a statistic is
 * undefined (the baseline's diff, a cell without runs) is skipped; a claim no cell could test fails. */
#ifndef FACTS_H
#define FACTS_H

#include "strbuf.h"
#include "table.h"

typedef struct {
    StrBuf num_tex, num_md;     /* numbers.tex: \expandafter\def\csname adval@SPEC.NAME\endcsname{...};
                                   numbers.md: | `SPEC.NAME` | value | source | */
    StrBuf claim_tex, claim_md; /* claims.tex: \adclaim{SPEC.NAME}{holds|FAILS}{says}; claims.md: one row each */
    int nnumbers, nclaims, nfailed;
    StrBuf failures; /* one line per failed claim or number that could not be evaluated */
} Facts;

/* Evaluates every number and claim of t's spec into f (appends). -1 only on an internal error. */
int facts_eval(const Table *t, Facts *f, Err *e);
/* A number computed outside a table's cells (a scaling figure's points, fig_scaling.c), cited as \val{SPEC.NAME}:
 * stat "diff_ci" prints "v [lo, hi]" (signed; lo NAN: v alone), any other stat as format_value prints it
 * ("signed", "n", "mean"); source says where it comes from (numbers.md). */
void facts_add(Facts *f, const char *spec, const char *name, const char *stat, double v, double lo, double hi,
               int digits, const char *source);
/* Headers of the four files (call once before the first facts_eval). */
void facts_begin(Facts *f);
void facts_free(Facts *f);

#endif
