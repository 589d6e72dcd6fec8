/* table.h - a table spec applied to a set of runs: one Cell per (row, column).
 *
 * A cell's runs are those matching the spec's where, the row's and the column's (minus the column
 * keys the row lists in `any`). Before anything is averaged the cell's runs must agree on every
 * config key except the seed and bookkeeping keys (version, source, train.threads, checkpoint.*,
 * log.*) and the spec's allow_differ; two runs with the same seed in one cell are also an error.
 * Only completed runs that did not collapse contribute values; failed / diverged / partial /
 * unreadable and collapsed runs (run_collapsed below) are counted and shown. Mean and sample std over
 * seeds (stats.h), the best mean per column at the printed precision, paired t-test p-values against
 * the ttest row (paired by train.seed), and the paper's value when the spec asks for it (reported.h).
 * Holm's adjustment runs over the table's distinct comparisons, or over a declared family of tables
 * (spec key family; family.c gathers the other tables' comparisons). */
#ifndef TABLE_H
#define TABLE_H

#include "json.h"
#include "reported.h"
#include "runs.h"
#include "spec.h"

typedef struct {
    int nruns;    /* runs selected, any status */
    int n;        /* completed runs with a value */
    double *vals; /* n values and their seeds (train.seed text) */
    char (*seeds)[32];
    double mean, sd, min, max;
    int nfailed, ndiverged, npartial, nunreadable;
    int ncollapsed; /* completed runs that ended at the uniform guess (run_collapsed) */
    int nna;        /* completed runs for which the metric does not apply */
    int has_p;
    double p;
    int has_paper;
    double paper;
    int has_paper_sd, has_paper_p; /* the paper's std and p-value beside its mean (reported std_metric, p_metric) */
    double paper_sd, paper_p;
    int conv; /* eval.convention of the cell's runs: bit 1 token (or unset), bit 2 authors */
    int best;
    const char *from;      /* best_of columns: the label of the column this row's value comes from */
    const char *chosen_by; /* best_of with select_by: the metric that chose it (NULL: the cell's own) */
    double chosen_mean;    /* ... its mean over the chosen column's runs */
    int *ridx;             /* run columns: indices in the RunSet of the runs whose values are used */
    /* compare: this row against the spec's compare.vs row over the seeds both have (docs/analysis.md) */
    int has_cmp, npairs;           /* has_cmp: >= 2 pairs */
    double diff, diff_lo, diff_hi; /* mean of (this - baseline) and its 95% t interval */
    double p_t, p_holm;            /* paired t-test; Holm-adjusted over the table's distinct comparisons */
    int repeats;                   /* 1: the same runs on both sides as an earlier cell's comparison (WD=0's runs
                             against one baseline in several columns, a best_of copy): one test, counted
                             once in the Holm family, sharing its adjusted p */
    int has_w;
    double p_w; /* exact Wilcoxon signed-rank (has_w: some difference is nonzero) */
    int has_s;
    double p_s; /* exact sign test (has_s: some difference is nonzero) */
    double mde; /* minimum detectable difference at 80% power, alpha 0.05, metric units */
    /* compare.at (matched strength): each value's position (the spec's compare.at metric of its run,
     * parallel to vals), and over the pairs made: the mean position, the mean of the baseline
     * interpolated there, the mean difference (defined from one pair, unlike diff); the runs left
     * unpaired because their position is outside the baseline's grid, or because the seed lacks a
     * baseline run at one of the two grid values that bracket it */
    double *at;
    double at_mean, base_mean, diff_any;
    int nout, nmiss;
    char *runs; /* run names joined by ';' */
    char *used; /* directories of the runs whose values are used, joined by ';' */
    char *key;  /* a comparison's identity in a Holm family: metric, this cell's and the
                           * baseline's used runs; the same test in two columns or tables counts once */
    const char *metric;
    int better, digits;
} Cell;

typedef struct {
    const Spec *spec;
    int nrows, ncols;
    Cell *cells;            /* row-major */
    StrBuf warn;            /* one line per problem worth telling the reader (runs named) */
    int holm_m;             /* distinct comparisons Holm adjusted over (the table's, or its family's) */
    StrBuf holm_tables;     /* with a family: the names of its tables that hold comparisons, ", " joined */
    unsigned char *counted; /* per run of the RunSet: 1 when the table averages or compares its value */
    StrBuf prov;            /* the note on where the counted runs came from when they mix builds or CPU kinds
                           (summary.json's provenance, table.c provenance_note); "" otherwise */
} Table;

/* A completed run collapsed when its final validation loss is infinite or at least ln(V) - ln 2 with V
 * = model.vocab_size: its perplexity is at least V / 2, no better than guessing uniformly among half the
 * vocabulary (train's own divergence check stops a run above ln(V) + 1: status "diverged"). Its numbers
 * measure a failure, not the method's quality: it is counted and shown as collapsed, never averaged or
 * tested, in every column. docs/analysis.md. */
int run_collapsed(const Run *r);

/* One comparison as a member of a Holm family: its key (Cell.key) and raw t-test p-value. */
typedef struct {
    char *key;
    double p;
} FamTest;
/* The table's comparisons with a defined t-test, as family members (keys copied); returns the count. */
int table_family_tests(const Table *t, FamTest **out);
/* Holm over the distinct tests among the table's own and `others` (a key seen twice counts once, with
 * its first p): sets every comparison's p_holm and holm_m; `tables` names the family's tables. */
void table_family_holm(Table *t, const FamTest *others, int nothers, const char *tables);
void famtests_free(FamTest *f, int n);
/* Family resolution (family.c): when the spec declares `family: NAME`, builds every other table spec
 * in the spec's directory with the same family (their results read under root) and applies
 * table_family_holm. A no-op without a family. */
int family_apply(Table *t, const char *root, Err *e);

/* rep may be NULL when the spec has no `reported:`. */
int table_build(Table *t, const Spec *s, const RunSet *rs, const Reported *rep, Err *e);
void table_free(Table *t);
static inline Cell *table_cell(const Table *t, int r, int c) { return &t->cells[r * t->ncols + c]; }

/* Renderings (table_render.c), appended to b. */
void table_markdown(const Table *t, StrBuf *b);
void table_latex(const Table *t, StrBuf *b);
void table_csv(const Table *t, StrBuf *b);
/* Text as LaTeX prints it (_ % & # $ { } ~ ^ \ escaped), appended to b: every generated .tex uses it. */
void tex_escape(const char *s, StrBuf *b);

/* Shared cell selection for figures: indices of runs matching the spec's where and the selections
 * given (either may be NULL); checks the same consistency rules as a table cell. *idx is malloc'd. */
int select_runs(const Spec *s, const RunSet *rs, const Sel *row, const Sel *col, int **idx, int *n, Err *e);

#endif
