/* spec.h - the YAML specs of tables and figures (analysis/specs/NAME.yaml); documented with examples in
 * docs/schemas.md, "Table and figure specs".
 *
 * A spec selects runs by their config coordinates and arranges them. Selection ("where") is a
 * mapping from a coordinate (a dotted config.yaml key, or run.name / run.sweep) to a value or a
 * list of accepted values; values compare numerically when both sides are numbers (1e-5 == 1e-05).
 *
 *   table: NAME | figure: NAME   output base name
 *   kind:      table (default for `table:`) | curves | module_wd | esd | wd_sweep | bars | alpha_steps | scaling |
 *              wd_steps
 *   title, caption:  text
 *   results:   directory scanned for run directories (relative to the report's --root), or a list of up to
 *              SPEC_MAX_RESULTS directories whose runs are read as one set (two grids a comparison spans)
 *   metric, better (lower|higher), digits:   the value shown (see runs.h METRICS)
 *   where:     applied to every cell;   allow_differ: [keys allowed to differ within a cell]
 *   ttest: {vs: ROW_LABEL}               paired t-test p-values against that row, per column
 *   compare: {vs: ROW_LABEL, family: NAME}   a second table of paired comparisons against that row:
 *              mean difference with 95% interval, t-test p, Holm-adjusted p, exact Wilcoxon and sign
 *              test p, minimum detectable effect at 80% power (docs/analysis.md); Holm runs over the
 *              table's distinct comparisons, or with family over those of every spec in the same
 *              directory that names the same family (the claims that stand together)
 *   compare: {vs: ROW_LABEL, at: METRIC, along: KEY}   the same comparisons against the baseline row
 *              INTERPOLATED at each compared run's value of METRIC (e.g. mean_wd, the decay applied):
 *              the baseline's runs of the same seed at the two values of KEY (e.g. decay.weight_decay)
 *              that bracket it, linearly in KEY; every baseline run must have METRIC equal to its KEY
 *              (Uniform applies its eta). A run outside the baseline's grid, or whose seed lacks a
 *              bracketing run, is not paired (counted and named). docs/analysis.md, "Matched strength"
 *   reported: {mode: beside|diff, table, model, optimizer, metric, ...}   paper_tables.csv keys;
 *              a cell's lookup merges the top level's, its column's, then its row's keys (row wins);
 *              std_metric / p_metric name the paper's std and p-value metrics printed beside the mean
 *   rows:      [{label, where, any: [keys of the column selection this row ignores], reported: {...}|false}]
 *   columns:   [{label, where, reported, metric, better, digits, paper_only, best_of}
 *               | {group, where, reported, paper_only, columns: [...]}]     column groups (one level);
 *              paper_only: true = a column of the paper's values only (a model size we have no twin of)
 *              best_of: [LABEL, ...] = per row, the best of those earlier columns (no where);
 *              select_by: METRIC = ... the best by that metric's mean over the same runs
 * Figures use rows as series / bars (key `series:` or `bars:`) and columns as panels (`panels:`),
 * plus: x (coordinate on the x axis), x_metric (wd_sweep: points at a metric's mean instead of at x), interval (wd_sweep: std | ci95),
 * logx, logy, y2_metric, layer, step (first|final), types.
 * scaling (fig_scaling.c): each results: directory is one grid (a model size on a corpus, both read from its runs'
 *   config.yaml), and one that does not exist yet is skipped with a note; every series other than compare.vs is
 *   compared with it by seed at the same cell (nominal strength) and, with compare.at / along, at matched
 *   strength; paper_models: [60M, ...] and paper_series: [{label, reported}] (the paper's differences, series
 *   minus compare.vs through each row's reported: selection) draw the paper's panel beside ours.
 * Tables may also declare what the report's prose cites (facts.h, docs/analysis.md):
 *   numbers:   {NAME: {row|rows, col|cols, stat, agg, digits}}     cited as \val{SPECNAME.NAME}
 *   claims:    {NAME: {row|rows, col|cols, holds: "diff < 0 and p_holm < 0.05", says: TEXT}}
 * Unknown keys are errors naming FILE:LINE:COL, as are unknown metrics. */
#ifndef SPEC_H
#define SPEC_H

#include "common.h"

#define SPEC_MAX_COND 12
#define SPEC_MAX_RESULTS 8
#define SPEC_MAX_VALS 8
#define SPEC_MAX_SEL 48
#define SPEC_MAX_KEYS 12
#define BETTER_NONE 2
#define SPEC_MAX_FACTS 48

typedef struct {
    char key[96];
    char vals[SPEC_MAX_VALS][48];
    int nvals;
} Cond;

typedef struct {
    Cond c[SPEC_MAX_COND];
    int n;
} Where;

typedef struct {
    char key[SPEC_MAX_KEYS][24];
    char val[SPEC_MAX_KEYS][64];
    int n;
    int off; /* `reported: false` */
} RepSel;

/* A row, a column, a series, a bar or a panel. */
typedef struct {
    char label[96];
    char group[96]; /* columns: the group's label, "" when ungrouped */
    Where where;
    char any[4][96]; /* rows: column keys this row ignores (WD=0 spans every wd column) */
    int nany;
    RepSel rep;
    char metric[48];           /* columns: "" = the table's */
    int better;                /* columns: 0 = the table's, -1 lower, +1 higher */
    int digits;                /* columns: -1 = the table's */
    int paper_only;            /* columns: no run of ours; only the paper's value is shown */
    int best_of[SPEC_MAX_SEL]; /* columns: each row's best of these earlier columns (indices) */
    int nbest_of;
    char select_by[48]; /* best_of columns: "" = choose by the column's own metric; else by this metric's mean over
                           the same runs (chosen on the selection set, reported on the test set) */
    int line;           /* where it was defined, for messages */
} Sel;

/* A number or a claim the prose cites (spec `numbers:` / `claims:`, facts.h): a statistic of one
 * cell, or of several cells reduced by agg (numbers) or all required to satisfy `holds` (claims). */
typedef struct {
    char name[64];     /* identifier; cited as SPECNAME.name */
    char rows[16][96]; /* row labels; none = every row */
    int nrows;
    char cols[16][96]; /* column labels (groups: "GROUP LABEL"); none = every column */
    int ncols;
    char stat
        [16]; /* numbers: mean (default), mean_sd ("m ± s"), diff_ci ("d [lo, hi]"), sd, p (ttest), n, min, max, diff, lo, hi, p_t, p_holm, p_w, mde, paper, npairs, from; with compare.at: at, base, unpaired */
    char agg[8];     /* numbers over several cells: min, max, span, count (of cells with the stat); "" = one cell */
    int digits;      /* -1: the cell's */
    char holds[256]; /* claims: "STAT OP RHS [and ...]" */
    char says[512];  /* claims: the sentence it backs, in words */
    int line;
} Fact;

typedef struct {
    char path[AD_PATH_MAX];
    int is_figure;
    char name[96];
    char kind[24];
    char title[256];
    char caption[1024];
    char results[SPEC_MAX_RESULTS][AD_PATH_MAX]; /* results: one directory or a list, read as one set of runs */
    int nresults;
    char metric[48];
    int better; /* -1 lower (default), +1 higher, BETTER_NONE (no best: e.g. the decay applied) */
    int digits; /* 2 */
    Where where;
    char allow_differ[16][96];
    int nallow;
    char ttest_vs[96];      /* "" = no test */
    char compare_vs[96];    /* "" = no comparison table */
    char family[96];        /* compare.family: the Holm family's name; "" = the table alone */
    char compare_at[48];    /* compare.at: the metric placing each compared run on the baseline's grid; "" = paired
                                at the same cell (the default) */
    char compare_along[96]; /* compare.along: the config key the baseline is interpolated along */
    int rep_mode;           /* 0 none, 1 beside, 2 diff */
    RepSel rep;
    Sel rows[SPEC_MAX_SEL];
    int nrows;
    Sel cols[SPEC_MAX_SEL];
    int ncols;
    /* figures */
    char x_key[96];
    int logx;
    int logy;          /* wd_sweep: logarithmic metric axis */
    char x_metric[48]; /* wd_sweep: each point at this metric's cell mean (e.g. mean_wd), not at x */
    char interval[8];  /* wd_sweep error bars: "std" (default, +- the std over seeds) | "ci95" (the mean's 95%
                                t interval, +- t_{0.975, n-1} std / sqrt(n)) */
    char y2_metric[48];
    int layer;     /* -1: esd the middle layer, module_wd every layer; N: that layer only */
    char step[16]; /* "final" (default) | "first" */
    char types[8][16];
    int ntypes;
    char paper_models[8][24]; /* scaling: the paper's model names (60M, 1B: parameters by the suffix) */
    int npaper_models;
    char pair_by[96]; /* the key comparisons pair runs by; "" = train.seed (report compare --pair-by) */
    int curves_panel; /* curves: 0 both panels, 1 training loss only, 2 validation perplexity only */
    /* tables: what the report's prose cites (facts.h) */
    Fact numbers[SPEC_MAX_FACTS];
    int nnumbers;
    Fact claims[SPEC_MAX_FACTS];
    int nclaims;
} Spec;

/* A paper model name's parameter count: "60M" 6e7, "1B" 1e9 (suffix K, M or B); 0 when it is none. */
double paper_model_params(const char *name);

/* Parse a spec; -1 with FILE:LINE:COL in the Err. The Spec is large: allocate it on the heap. */
int spec_load(Spec *s, const char *path, Err *e);

#endif
