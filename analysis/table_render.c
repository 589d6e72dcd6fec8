/* table_render.c - a built Table (table.h) as Markdown, LaTeX (booktabs) and long-format CSV.
 * All three are deterministic functions of the cells, so committed results regenerate them
 * byte for byte. A missing cell is "–"; a cell whose runs all failed shows their status. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "table.h"

enum { FMT_MD, FMT_TEX };

/* The words a table's notes use for a metric: its label in the one metric table (runs.h METRICS). */
static const char *metric_words(const char *m) {
    const MetricInfo *mi = metric_info(m);
    return mi ? mi->label : m;
}

/* "2 diverged, 1 failed" for runs that produced no value. */
static void status_text(const Cell *c, StrBuf *b, int with_counts) {
    const int counts[6] = {c->nfailed, c->ndiverged, c->ncollapsed, c->npartial, c->nunreadable, c->nna};
    static const char *const words[6] = {"failed", "diverged", "collapsed", "partial", "unreadable", "n/a"};
    int any = 0;
    for (int k = 0; k < 6; k++) {
        if (!counts[k]) continue;
        if (with_counts) sb_printf(b, "%s%d %s", any ? ", " : "", counts[k], words[k]);
        else sb_printf(b, "%s%s", any ? "/" : "", words[k]);
        any = 1;
    }
}

static void cell_text(const Cell *c, int fmt, StrBuf *b) {
    if (!c->nruns) {
        sb_printf(b, "%s", fmt == FMT_TEX ? "--" : "–");
        return;
    }
    if (!c->n) {
        /* "n/a" alone when the metric does not apply to any run; otherwise counts when several */
        status_text(c, b, c->nruns > 1 && c->nna < c->nruns);
        return;
    }
    const char *pm = fmt == FMT_TEX ? " $\\pm$ " : " ± ";
    if (c->best) sb_printf(b, "%s", fmt == FMT_TEX ? "\\textbf{" : "**");
    sb_printf(b, "%.*f", c->digits, c->mean);
    if (c->n > 1) sb_printf(b, "%s%.*f", pm, c->digits, c->sd);
    if (c->best) sb_printf(b, "%s", fmt == FMT_TEX ? "}" : "**");
    if (c->n > 1) sb_printf(b, " (n=%d)", c->n);
    if (c->from) {
        sb_printf(b, " at ");
        if (fmt == FMT_TEX) tex_escape(c->from, b);
        else sb_printf(b, "%s", c->from);
        if (c->chosen_by) { /* chosen on another metric than the one shown: say which */
            sb_printf(b, " by ");
            if (fmt == FMT_TEX) tex_escape(c->chosen_by, b);
            else sb_printf(b, "%s", c->chosen_by);
        }
    }
    if (c->nruns > c->n) {
        sb_printf(b, " (+");
        status_text(c, b, 1);
        sb_printf(b, ")");
    }
}

static void p_text(const Cell *c, int fmt, StrBuf *b) {
    if (!c->has_p) sb_printf(b, "%s", fmt == FMT_TEX ? "--" : "–");
    else if (c->p < 1e-3) sb_printf(b, fmt == FMT_TEX ? "$%.2e$" : "%.2e", c->p);
    else sb_printf(b, "%.3f", c->p);
}

/* A printed number of the paper as it was printed: the fewest decimals (at least `digits`, at most 2 of
 * them required) that give back the value, so 32.166 stays 32.166 in a 2-decimal table and A100
 * seconds stay 24.86 in a 4-decimal column of ours. */
static void paper_num(StrBuf *b, double v, int digits) {
    char txt[64];
    int d = digits < 2 ? digits : 2;
    for (; d < 8; d++) {
        snprintf(txt, sizeof txt, "%.*f", d, v);
        if (fabs(atof(txt) - v) <= 1e-9 * fmax(1.0, fabs(v))) break;
    }
    sb_printf(b, "%.*f", d, v);
}

static void paper_text(const Table *t, const Cell *c, int fmt, StrBuf *b) {
    const char *dash = fmt == FMT_TEX ? "--" : "–";
    if (!c->has_paper) sb_printf(b, "%s", dash);
    else if (t->spec->rep_mode == 1 || !c->nruns) {
        paper_num(b, c->paper, c->digits);
        if (c->has_paper_sd) {
            sb_printf(b, "%s", fmt == FMT_TEX ? " $\\pm$ " : " ± ");
            paper_num(b, c->paper_sd, c->digits);
        }
    } else if (!c->n) sb_printf(b, "%s", dash);
    else sb_printf(b, "%+.*f", c->digits, c->mean - c->paper);
}

static void paper_p_text(const Cell *c, int fmt, StrBuf *b) {
    Cell q = {0};
    q.has_p = c->has_paper_p;
    q.p = c->paper_p;
    p_text(&q, fmt, b);
}

/* The sub-columns of a data column: ours, then a p-value column when the spec asks for t-tests and
 * some cell of that column has one (a single-seed sweep has none), a paper column when the spec
 * reports paper values and some cell of that column has one (`reported: false` columns have none),
 * and the paper's own p-values when it printed any. A paper_only column has no "ours" and no p. */
enum { PART_OURS, PART_P, PART_PAPER, PART_PAPER_P };
static int has_p(const Table *t) { return t->spec->ttest_vs[0] != 0; }
static int has_paper(const Table *t) { return t->spec->rep_mode != 0; }
static int col_any(const Table *t, int c, int part) {
    for (int r = 0; r < t->nrows; r++) {
        const Cell *x = table_cell(t, r, c);
        if ((part == PART_P && has_p(t) && x->has_p) || (part == PART_PAPER && has_paper(t) && x->has_paper) ||
            (part == PART_PAPER_P && has_paper(t) && x->has_paper_p))
            return 1;
    }
    return 0;
}
static int col_parts(const Table *t, int c, int parts[4]) {
    int n = 0, only = t->spec->cols[c].paper_only;
    if (!only) parts[n++] = PART_OURS;
    if (!only && col_any(t, c, PART_P)) parts[n++] = PART_P;
    if (only || col_any(t, c, PART_PAPER)) parts[n++] = PART_PAPER;
    if (col_any(t, c, PART_PAPER_P)) parts[n++] = PART_PAPER_P;
    return n;
}
static int col_width(const Table *t, int c) {
    int parts[4];
    return col_parts(t, c, parts);
}
static int any_col(const Table *t, int part) {
    for (int c = 0; c < t->ncols; c++)
        if ((part == PART_OURS && t->spec->cols[c].paper_only) || (part != PART_OURS && col_any(t, c, part))) return 1;
    return 0;
}
static const char *part_head(const Table *t, int part, int fmt) {
    switch (part) {
        case PART_P: return fmt == FMT_TEX ? "$p$" : "p";
        case PART_PAPER: return t->spec->rep_mode == 1 ? "paper" : fmt == FMT_TEX ? "$\\Delta$ paper" : "Δ paper";
        case PART_PAPER_P: return fmt == FMT_TEX ? "paper $p$" : "paper p";
        default: return "";
    }
}
static void part_text(const Table *t, const Cell *c, int part, int fmt, StrBuf *b) {
    switch (part) {
        case PART_OURS: cell_text(c, fmt, b); break;
        case PART_P: p_text(c, fmt, b); break;
        case PART_PAPER: paper_text(t, c, fmt, b); break;
        default: paper_p_text(c, fmt, b);
    }
}

/* The cells of body row r: every shown part of every column, each between pre and post. */
static void row_cells(const Table *t, int r, int c0, int c1, int fmt, const char *pre, const char *post, StrBuf *b) {
    for (int c = c0; c < c1; c++) {
        const Cell *cell = table_cell(t, r, c);
        int parts[4], np = col_parts(t, c, parts);
        for (int k = 0; k < np; k++) {
            sb_printf(b, "%s", pre);
            part_text(t, cell, parts[k], fmt, b);
            sb_printf(b, "%s", post);
        }
    }
}

void tex_escape(const char *s, StrBuf *b) {
    for (; *s; s++) {
        switch (*s) {
            case '_':
            case '%':
            case '&':
            case '#':
            case '$':
            case '{':
            case '}': sb_printf(b, "\\%c", *s); break;
            case '~': sb_printf(b, "%s", "\\textasciitilde{}"); break;
            case '^': sb_printf(b, "%s", "\\textasciicircum{}"); break;
            case '\\': sb_printf(b, "%s", "\\textbackslash{}"); break;
            default: sb_printf(b, "%c", *s);
        }
    }
}

/* printf in the table's format fmt. For LaTeX only %s and %% are read: the format is TeX markup and
 * each %s a name from the spec, escaped; so one line of text serves both formats. */
static void __attribute__((format(printf, 3, 4))) fmt_printf(int fmt, StrBuf *b, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    if (fmt != FMT_TEX) sb_vprintf(b, f, ap);
    else
        for (const char *p = f; *p; p++) {
            if (p[0] == '%' && p[1] == 's') {
                tex_escape(va_arg(ap, const char *), b);
                p++;
            } else {
                sb_printf(b, "%c", *p);
                if (p[0] == '%' && p[1] == '%') p++;
            }
        }
    va_end(ap);
}

/* A \label name is read as a control-sequence name, not typeset: escapes like "\\_" there break the
 * build ("Missing \\endcsname"). Letters, digits, '_', '-' and '.' are safe as they are; anything else
 * becomes '-', so tab:NAME is the spec's name whenever that name is a plain identifier. */
static void tex_label(const char *s, StrBuf *b) {
    for (; *s; s++) sb_printf(b, "%c", isalnum((unsigned char)*s) || strchr("_-.", *s) ? *s : '-');
}

/* Which evaluation each column's perplexities (or losses) used: eval.convention of its runs. */
static int is_eval_metric(const char *m) {
    return !strcmp(m, "val_ppl") || !strcmp(m, "val_loss") || !strcmp(m, "best_val_ppl") || !strcmp(m, "test_ppl") ||
           !strcmp(m, "test_ppl_at_best");
}
static int col_conv(const Table *t, int c) {
    int conv = 0;
    for (int r = 0; r < t->nrows; r++) {
        const Cell *x = table_cell(t, r, c);
        if (x->n && is_eval_metric(x->metric)) conv |= x->conv;
    }
    return conv;
}
static const char *conv_words(int conv) {
    return conv == 1   ? "token-weighted mean loss over the validation tokens (eval.convention token)"
           : conv == 2 ? "the authors' convention, sum of batch-mean losses / (batches + 1) (eval.convention authors)"
                       : "a mix of eval.convention token and authors runs";
}
static void convention_note(const Table *t, int fmt, StrBuf *b) {
    int all = 0, uniform = 1, first = -1;
    for (int c = 0; c < t->ncols; c++) {
        int v = col_conv(t, c);
        if (!v) continue;
        if (first < 0) first = v;
        uniform &= v == first;
        all |= v;
    }
    if (!all) return;
    const char *us = fmt == FMT_TEX ? "\\_" : "_";
    StrBuf w = {0};
    sb_printf(&w, "%s", "");
    if (uniform) sb_printf(&w, "Evaluation: ours %s", conv_words(all));
    else {
        sb_printf(&w, "Evaluation per column:");
        for (int c = 0, k = 0; c < t->ncols; c++) {
            int v = col_conv(t, c);
            if (!v) continue;
            sb_printf(&w, "%s %s%s%s %s", k++ ? ";" : "", t->spec->cols[c].group, t->spec->cols[c].group[0] ? " " : "",
                      t->spec->cols[c].label,
                      v == 1   ? "token"
                      : v == 2 ? "authors"
                               : "mixed");
        }
    }
    if (any_col(t, PART_PAPER))
        sb_printf(&w, "; the paper's numbers come from the authors' convention (about 1%% lower loss than the token "
                      "mean)");
    sb_printf(&w, ". ");
    /* the words name config keys with underscores: escape them for LaTeX */
    for (const char *p = w.p; *p; p++) {
        if (*p == '_') sb_printf(b, "%s", us);
        else if (*p == '%' && fmt == FMT_TEX) sb_printf(b, "\\%%");
        else sb_printf(b, "%c", *p);
    }
    sb_free(&w);
}

/* A best_of column picks each row's best column on the very seeds its comparisons then use: say so.
 * With select_by it picks on another metric of those runs (the selection set), not on the values shown. */
static void best_of_note(const Table *t, int fmt, StrBuf *b) {
    const Spec *s = t->spec;
    for (int ci = 0; ci < s->ncols; ci++) {
        const Sel *col = &s->cols[ci];
        if (!col->nbest_of) continue;
        if (fmt == FMT_TEX) tex_escape(col->label, b);
        else sb_printf(b, "%s", col->label);
        sb_printf(b, ": each row at its best mean");
        if (col->select_by[0]) {
            sb_printf(b, " ");
            if (fmt == FMT_TEX) tex_escape(col->select_by, b);
            else sb_printf(b, "%s", col->select_by);
            sb_printf(b, " (%s)", metric_words(col->select_by));
        }
        sb_printf(b, " among ");
        for (int k = 0; k < col->nbest_of; k++) {
            sb_printf(b, "%s", k ? (k == col->nbest_of - 1 ? " and " : ", ") : "");
            if (fmt == FMT_TEX) tex_escape(s->cols[col->best_of[k]].label, b);
            else sb_printf(b, "%s", s->cols[col->best_of[k]].label);
        }
        if (col->select_by[0])
            sb_printf(b, " (named in the cell), chosen on that metric of the same runs, not on the values shown: no "
                         "selection on the reported data (the seeds are the same, so noise the two share still "
                         "enters). ");
        else
            sb_printf(b, " (named in the cell), chosen on the same seeds its comparisons use, so its differences "
                         "lean in the row's favour. ");
    }
}

/* The seed counts the cells actually use, from the data (so a caption cannot claim more), and what
 * "collapsed" and "diverged" mean when a cell holds such runs. */
static void seeds_note(const Table *t, int fmt, StrBuf *b) {
    int lo = 0, hi = 0, collapsed = 0, diverged = 0;
    for (int i = 0; i < t->nrows * t->ncols; i++) {
        const Cell *c = &t->cells[i];
        collapsed |= c->ncollapsed > 0;
        diverged |= c->ndiverged > 0;
        if (!c->n || c->from) continue;
        if (!lo || c->n < lo) lo = c->n;
        if (c->n > hi) hi = c->n;
    }
    if (hi) {
        sb_printf(b, "Seeds used per cell: %d", lo);
        if (hi > lo) sb_printf(b, "%s%d", fmt == FMT_TEX ? "--" : "–", hi);
        sb_printf(b, "%s. ", hi == lo && t->nrows * t->ncols > 1 ? " in every cell with runs" : "");
    }
    const char *ge = fmt == FMT_TEX ? "$\\geq$" : "≥";
    if (collapsed)
        sb_printf(b,
                  "collapsed: the run completed but its final validation perplexity is %s half the vocabulary "
                  "size (the uniform guess), so it learned nothing; not averaged, not tested. ",
                  ge);
    if (diverged)
        sb_printf(b, "diverged: stopped by training (non-finite loss, or validation loss above ln(vocabulary) + 1); "
                     "not averaged, not tested. ");
}

static void notes(const Table *t, int fmt, StrBuf *b) {
    const Spec *s = t->spec;
    int any_other = 0, all_paper = 1;
    for (int i = 0; i < s->ncols; i++) all_paper &= s->cols[i].paper_only;
    if (all_paper) { /* nothing of ours: say only what the numbers are */
        sb_printf(b, "Values: the numbers printed in the paper (its models, data and scale), not reproduced here.");
        return;
    }
    for (int i = 0; i < s->ncols; i++) any_other |= s->cols[i].metric[0] && strcmp(s->cols[i].metric, s->metric);
    sb_printf(b, "Values: %s%s; mean%s sample std over seeds, n shown when n > 1; ", metric_words(s->metric),
              any_other ? " (other columns as labelled)" : "", fmt == FMT_TEX ? " $\\pm$" : " ±");
    if (s->better != BETTER_NONE)
        sb_printf(b, "%s = best per column (%s is better); ", fmt == FMT_TEX ? "bold" : "**bold**",
                  s->better < 0 ? "lower" : "higher");
    sb_printf(b, "%s = no run. ", fmt == FMT_TEX ? "--" : "–");
    seeds_note(t, fmt, b);
    if (fmt == FMT_TEX) tex_escape(sb_str(&t->prov), b); /* builds and CPU kinds, when mixed (table.c) */
    else sb_printf(b, "%s", sb_str(&t->prov));
    if (any_col(t, PART_P)) {
        sb_printf(b, "p: two-sided paired t-test by seed against ");
        if (fmt == FMT_TEX) tex_escape(s->ttest_vs, b);
        else sb_printf(b, "%s", s->ttest_vs);
        sb_printf(b, ". ");
    }
    if (any_col(t, PART_PAPER))
        sb_printf(b, "%s",
                  s->rep_mode == 1 ? "paper: the value printed in the paper (its scale, not ours). "
                                   : "Δ paper: ours minus the paper's value. ");
    if (any_col(t, PART_PAPER_P)) sb_printf(b, "paper p: the paper's paired t-test p-value. ");
    if (any_col(t, PART_OURS))
        sb_printf(b, "(paper) columns: the paper's values where we have no run of that model size. ");
    best_of_note(t, fmt, b);
    convention_note(t, fmt, b);
    if (b->len && b->p[b->len - 1] == ' ') b->p[--b->len] = 0; /* no trailing blank in committed files */
}

/* ---- the comparison table (spec key compare): one line per (row, column) against the baseline ---- */
static void pval(StrBuf *b, double p, int ok, int fmt) {
    if (!ok || isnan(p)) sb_printf(b, "%s", fmt == FMT_TEX ? "--" : "–");
    else if (p < 1e-3) sb_printf(b, fmt == FMT_TEX ? "$%.1e$" : "%.1e", p);
    else sb_printf(b, "%.3f", p);
}

/* Which tests put the comparison below 0.05: "t, Holm, W, S" (t-test, Holm-adjusted t, Wilcoxon,
 * sign), or "none", where only the interval and the MDE may be cited (never "no difference"). */
static void holds_text(const Cell *c, StrBuf *b) {
    const int ok[4] = {c->has_cmp && c->p_t < 0.05, c->has_cmp && c->p_holm < 0.05, c->has_w && c->p_w < 0.05,
                       c->has_s && c->p_s < 0.05};
    static const char *const name[4] = {"t", "Holm", "W", "S"};
    int any = 0;
    for (int k = 0; k < 4; k++)
        if (ok[k]) sb_printf(b, "%s%s", any++ ? ", " : "", name[k]);
    if (!any) sb_printf(b, "none");
}

/* A cell whose runs all collapsed or diverged while the baseline has values: listed in the paired table
 * as not tested, so a reader sees why the comparison is missing. */
static int untested(const Table *t, int r, int c) {
    const Cell *x = table_cell(t, r, c);
    return !x->n && (x->ncollapsed || x->ndiverged) && x->better != BETTER_NONE;
}

/* The cells of one comparison line, separated by sep. interp: the table compares at compare.at, with
 * two more fields after the pairs (the mean position, the baseline interpolated there). */
static void compare_fields(const Cell *c, int interp, int fmt, const char *sep, StrBuf *b) {
    const char *dash = fmt == FMT_TEX ? "--" : "–";
    if (!c->n) {
        sb_printf(b, "0%snot tested (", sep);
        status_text(c, b, 1);
        sb_printf(b, ")");
        for (int k = 0; k < 6 + 2 * interp; k++) sb_printf(b, "%s%s", sep, dash);
        return;
    }
    sb_printf(b, "%d", c->npairs);
    if (c->nout) sb_printf(b, " (+%d out)", c->nout); /* short: the cell sets the compare table's width */
    if (c->nmiss) sb_printf(b, " (+%d unbr.)", c->nmiss);
    sb_printf(b, "%s", sep);
    if (interp && c->npairs) sb_printf(b, "%.3f%s%.*f%s", c->at_mean, sep, c->digits, c->base_mean, sep);
    else if (interp) sb_printf(b, "%s%s%s%s", dash, sep, dash, sep);
    if (c->has_cmp)
        sb_printf(b, "%+.*f [%+.*f, %+.*f]%s%.*f", c->digits, c->diff, c->digits, c->diff_lo, c->digits, c->diff_hi,
                  sep, c->digits, c->mde);
    else if (interp && c->npairs == 1) /* the one difference there is, which no test can weigh */
        sb_printf(b, "%+.*f (n=1, no interval)%s%s", c->digits, c->diff_any, sep, dash);
    else sb_printf(b, "%s%s%s", dash, sep, dash);
    sb_printf(b, "%s", sep);
    pval(b, c->p_t, c->has_cmp, fmt);
    sb_printf(b, "%s", sep);
    pval(b, c->p_holm, c->has_cmp, fmt);
    sb_printf(b, "%s", sep);
    pval(b, c->p_w, c->has_w, fmt);
    sb_printf(b, "%s", sep);
    pval(b, c->p_s, c->has_s, fmt);
    sb_printf(b, "%s", sep);
    holds_text(c, b);
}

/* Comparisons that repeat an earlier cell's test on the same runs (the family's size is t->holm_m). */
static int repeat_count(const Table *t) {
    int k = 0;
    for (int i = 0; i < t->nrows * t->ncols; i++) k += t->cells[i].has_cmp && t->cells[i].repeats;
    return k;
}

static const char *const CMP_HEAD[] = {"pairs",    "Δ mean [95% CI]", "MDE (80%)", "p (t)",
                                       "p (Holm)", "p (Wilcoxon)",    "p (sign)",  "p < 0.05 under"};

/* text, LaTeX-escaped when tex */
static void put_text(const char *s, int tex, StrBuf *b) {
    if (tex) tex_escape(s, b);
    else sb_printf(b, "%s", s);
}

/* compare.at: how the baseline was placed at each run's position, and what the extra fields mean. */
static void interp_note(const Table *t, int tex, StrBuf *b) {
    const Spec *s = t->spec;
    const char *vs = s->compare_vs, *at = s->compare_at, *along = s->compare_along;
    /* the words between the names, in order: vs, at, along appear as put_text pieces */
    const char *parts[] = {" interpolated at each run's ",
                           at,
                           " (matched strength): for the run of seed s at ",
                           at,
                           " d, the same seed's runs of ",
                           vs,
                           " at the two values of ",
                           along,
                           " next to d (or at d), linearly in ",
                           along,
                           " (every ",
                           vs,
                           " run has ",
                           at,
                           " equal to its ",
                           along,
                           "); a run outside ",
                           vs,
                           "'s grid (+N out) or whose seed lacks a bracketing run (+N unbr.) is "
                           "not paired; ",
                           at,
                           ": mean d over the pairs; ",
                           vs,
                           " there: the mean interpolated baseline; with one pair the difference is shown without an "
                           "interval"};
    for (size_t k = 0; k < sizeof parts / sizeof *parts; k++) put_text(parts[k], tex, b);
}

static void compare_note(const Table *t, int fmt, StrBuf *b) {
    int tex = fmt == FMT_TEX;
    sb_printf(b, "Paired by train%sseed against ", tex ? "\\_" : ".");
    if (tex) tex_escape(t->spec->compare_vs, b);
    else sb_printf(b, "%s", t->spec->compare_vs);
    if (t->spec->compare_at[0]) interp_note(t, tex, b);
    sb_printf(b, "%s",
              tex ? ": $\\Delta$ = row minus baseline with its 95\\% $t$ interval; "
                  : ": Δ = row minus baseline with its 95% t interval; ");
    sb_printf(b,
              "MDE = the smallest true difference a two-sided paired t-test at 0.05 detects with 80%s power at "
              "this n (noncentral t, observed std of the differences); p (t): paired t-test; p (Holm): "
              "Holm-Bonferroni over ",
              tex ? "\\%" : "%");
    int m = t->holm_m, rep = repeat_count(t);
    if (t->spec->family[0] && t->holm_tables.len) {
        sb_printf(b, "the family ");
        if (tex) tex_escape(t->spec->family, b);
        else sb_printf(b, "%s", t->spec->family);
        sb_printf(b, "'s %d distinct comparison%s (tables ", m, m == 1 ? "" : "s");
        if (tex) tex_escape(t->holm_tables.p, b);
        else sb_printf(b, "%s", t->holm_tables.p);
        sb_printf(b, ")");
    } else sb_printf(b, "the table's %d comparison%s", m, m == 1 ? "" : "s");
    if (rep)
        sb_printf(b, " (distinct tests: %d more repeat%s one of them on the same runs and share%s its p)", rep,
                  rep == 1 ? "s" : "", rep == 1 ? "s" : "");
    sb_printf(b,
              "; p (Wilcoxon): exact signed-rank test (zeros dropped, ties by mid-ranks); p (sign): exact sign "
              "test (zeros dropped); neither can go below %s with n nonzero pairs; p < 0.05 under: the tests "
              "that reject at 0.05 (t, Holm, W = Wilcoxon, S = sign); with none, the interval and the MDE say "
              "what the data allow: not evidence of no difference. Formulas: docs/analysis.md.",
              tex ? "$2/2^n$" : "2/2^n");
}

/* The comparison table's rows, one a compared cell: the baseline's own row and the cells with no pair, no
 * unpaired run and no untested count are left out. */
static void compare_rows(const Table *t, int fmt, StrBuf *b) {
    const Spec *s = t->spec;
    int tex = fmt == FMT_TEX;
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const Cell *cell = table_cell(t, r, c);
            if (!strcmp(s->rows[r].label, s->compare_vs) ||
                !(cell->npairs || cell->nout || cell->nmiss || untested(t, r, c)))
                continue;
            fmt_printf(fmt, b, tex ? "%s & %s%s%s & " : "| %s | %s%s%s | ", s->rows[r].label, s->cols[c].group,
                       s->cols[c].group[0] ? " " : "", s->cols[c].label);
            compare_fields(cell, s->compare_at[0] != 0, fmt, tex ? " & " : " | ", b);
            sb_printf(b, "%s", tex ? " \\\\\n" : " |\n");
        }
}

static void compare_markdown(const Table *t, StrBuf *b) {
    const Spec *s = t->spec;
    int interp = s->compare_at[0] != 0;
    sb_printf(b, "\n#### Paired comparisons against %s", s->compare_vs);
    if (interp) sb_printf(b, " at the same %s (interpolated along %s)", s->compare_at, s->compare_along);
    sb_printf(b, "\n\n| | |");
    for (size_t k = 0; k < sizeof CMP_HEAD / sizeof *CMP_HEAD; k++) {
        sb_printf(b, " %s |", CMP_HEAD[k]);
        if (!k && interp) sb_printf(b, " %s | %s there |", s->compare_at, s->compare_vs);
    }
    sb_printf(b, "\n|---|---|---:|%s---:|---:|---:|---:|---:|---:|---|\n", interp ? "---:|---:|" : "");
    compare_rows(t, FMT_MD, b);
    sb_printf(b, "\n");
    compare_note(t, FMT_MD, b);
    sb_printf(b, "\n");
}

void table_markdown(const Table *t, StrBuf *b) {
    const Spec *s = t->spec;
    if (s->title[0]) sb_printf(b, "### %s\n\n", s->title);
    sb_printf(b, "| |");
    for (int c = 0; c < t->ncols; c++) {
        const Sel *col = &s->cols[c];
        int parts[4], np = col_parts(t, c, parts);
        for (int k = 0; k < np; k++) {
            if (k == 0)
                sb_printf(b, " %s%s%s%s |", col->group, col->group[0] ? " " : "", col->label,
                          col->paper_only ? " (paper)" : "");
            else sb_printf(b, " %s |", part_head(t, parts[k], FMT_MD));
        }
    }
    sb_printf(b, "\n|---|");
    for (int c = 0; c < t->ncols; c++)
        for (int k = 0; k < col_width(t, c); k++) sb_printf(b, "---:|");
    sb_printf(b, "\n");
    for (int r = 0; r < t->nrows; r++) {
        sb_printf(b, "| %s |", s->rows[r].label);
        row_cells(t, r, 0, t->ncols, FMT_MD, " ", " |", b);
        sb_printf(b, "\n");
    }
    sb_printf(b, "\n");
    notes(t, FMT_MD, b);
    sb_printf(b, "\n");
    if (t->spec->compare_vs[0]) compare_markdown(t, b);
}

static void compare_latex(const Table *t, StrBuf *b) {
    const Spec *s = t->spec;
    static const char *const head[] = {"pairs",       "$\\Delta$ mean [95\\% CI]",
                                       "MDE (80\\%)", "$p$ ($t$)",
                                       "$p$ (Holm)",  "$p$ (Wilcoxon)",
                                       "$p$ (sign)",  "$p<0.05$ under"};
    /* with compare.at two more columns: the headings in two lines keep the table at a legible size */
    static const char *const head2[] = {"pairs",
                                        "\\shortstack[r]{$\\Delta$ mean\\\\{}[95\\% CI]}",
                                        "\\shortstack[r]{MDE\\\\(80\\%)}",
                                        "\\shortstack[r]{$p$\\\\($t$)}",
                                        "\\shortstack[r]{$p$\\\\(Holm)}",
                                        "\\shortstack[r]{$p$\\\\(Wilcoxon)}",
                                        "\\shortstack[r]{$p$\\\\(sign)}",
                                        "\\shortstack[l]{$p<0.05$\\\\under}"};
    int interp = s->compare_at[0] != 0;
    fmt_printf(FMT_TEX, b, "\n\n\\medskip\\normalsize Paired comparisons against %s", s->compare_vs);
    if (interp) fmt_printf(FMT_TEX, b, " at the same %s (interpolated along %s)", s->compare_at, s->compare_along);
    sb_printf(b, "\n\n\\adfit{");
    tex_label(s->name, b);
    sb_printf(b, "-compare}{%%\n\\begin{tabular}{llr%srrrrrrl}\n\\toprule\n &", interp ? "rr" : "");
    for (int k = 0; k < 8; k++) {
        sb_printf(b, " & %s", interp ? head2[k] : head[k]);
        if (!k && interp) fmt_printf(FMT_TEX, b, " & %s & \\shortstack[r]{%s\\\\there}", s->compare_at, s->compare_vs);
    }
    sb_printf(b, " \\\\\n\\midrule\n");
    compare_rows(t, FMT_TEX, b);
    sb_printf(b, "\\bottomrule\n\\end{tabular}}\n\\par\\smallskip\\footnotesize ");
    compare_note(t, FMT_TEX, b);
}

/* ---- LaTeX layout: a table wider than the text is split into parts of whole column groups, each a
 * tabular with the row labels, rather than shrunk until it cannot be read. The width is estimated
 * from the widest text of each column at \small (digits are 0.5 em, 4.5 pt; plus 12 pt of column
 * separation); \adfit (paper/main.tex) scales a part that still comes out too wide and logs the
 * scale, and tests/e2e_prose.sh fails when a table's type would fall below 7 pt. */
#define TEX_LINEWIDTH_PT 470.0
#define TEX_CHAR_PT 4.6
#define TEX_COLSEP_PT 12.0

static int text_chars(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80; /* UTF-8: count characters, not bytes */
    return n;
}

/* Points of data column c (all its parts), at least its heading's. */
static double col_pts(const Table *t, int c) {
    int parts[4], np = col_parts(t, c, parts);
    double w = 0;
    for (int k = 0; k < np; k++) {
        int mx = k ? text_chars(part_head(t, parts[k], FMT_MD))
                   : text_chars(t->spec->cols[c].label) + (t->spec->cols[c].paper_only ? 8 : 0);
        for (int r = 0; r < t->nrows; r++) {
            StrBuf x = {0};
            sb_printf(&x, "%s", "");
            part_text(t, table_cell(t, r, c), parts[k], FMT_MD, &x);
            int l = text_chars(x.p);
            mx = l > mx ? l : mx;
            sb_free(&x);
        }
        w += mx * TEX_CHAR_PT + TEX_COLSEP_PT;
    }
    return w;
}

static double label_pts(const Table *t) {
    int mx = 0;
    for (int r = 0; r < t->nrows; r++) {
        int l = text_chars(t->spec->rows[r].label);
        mx = l > mx ? l : mx;
    }
    return mx * TEX_CHAR_PT + TEX_COLSEP_PT;
}

/* Splits columns [0, ncols) into parts: cut[k] is the first column of part k, cut[nparts] = ncols.
 * Whole groups stay together unless a group alone is too wide. */
static int split_cols(const Table *t, int *cut) {
    const Spec *s = t->spec;
    double budget = TEX_LINEWIDTH_PT - label_pts(t), used = 0;
    int n = 0;
    cut[n++] = 0;
    for (int c = 0; c < t->ncols;) {
        int e = c;
        double gw = 0;
        while (e < t->ncols && !strcmp(s->cols[e].group, s->cols[c].group) && (e == c || s->cols[c].group[0]))
            gw += col_pts(t, e++);
        double head = s->cols[c].group[0] ? text_chars(s->cols[c].group) * TEX_CHAR_PT + TEX_COLSEP_PT : 0;
        gw = gw > head ? gw : head;
        if (used > 0 && used + gw > budget) cut[n++] = c, used = 0;
        if (gw > budget) { /* the group alone does not fit: its columns one by one */
            for (int k = c; k < e; k++) {
                double w = col_pts(t, k);
                if (used > 0 && used + w > budget) cut[n++] = k, used = 0;
                used += w;
            }
        } else {
            used += gw;
        }
        c = e;
    }
    cut[n] = t->ncols;
    return n;
}

/* One tabular of columns [c0, c1), in \adfit (paper/main.tex: scales it only when it is still too wide). */
static void latex_part(const Table *t, int c0, int c1, StrBuf *b) {
    const Spec *s = t->spec;
    int *start = malloc(((size_t)t->ncols + 2) * sizeof(int)); /* first tabular column of each data column */
    start[c0] = 2;
    for (int c = c0; c < c1; c++) start[c + 1] = start[c] + col_width(t, c);
    sb_printf(b, "\\adfit{");
    tex_label(s->name, b);
    sb_printf(b, "}{%%\n\\begin{tabular}{l");
    for (int c = 2; c < start[c1]; c++) sb_printf(b, "r");
    sb_printf(b, "}\n\\toprule\n");
    int any_group = 0;
    for (int c = c0; c < c1; c++) any_group |= s->cols[c].group[0] != 0;
    if (any_group) {
        StrBuf rules = {0};
        sb_printf(&rules, "%s", "");
        for (int c = c0; c < c1;) {
            int e = c;
            while (e < c1 && !strcmp(s->cols[e].group, s->cols[c].group)) e++;
            int first = start[c], last = start[e] - 1;
            sb_printf(b, " & \\multicolumn{%d}{c}{", last - first + 1);
            tex_escape(s->cols[c].group, b);
            sb_printf(b, "}");
            if (s->cols[c].group[0]) sb_printf(&rules, "\\cmidrule(lr){%d-%d}", first, last);
            c = e;
        }
        sb_printf(b, " \\\\\n%s\n", rules.p);
        sb_free(&rules);
    }
    for (int c = c0; c < c1; c++) {
        int parts[4], np = col_parts(t, c, parts);
        for (int k = 0; k < np; k++) {
            sb_printf(b, " & ");
            if (k > 0) sb_printf(b, "%s", part_head(t, parts[k], FMT_TEX));
            else {
                tex_escape(s->cols[c].label, b);
                if (s->cols[c].paper_only) sb_printf(b, " (paper)");
            }
        }
    }
    sb_printf(b, " \\\\\n\\midrule\n");
    for (int r = 0; r < t->nrows; r++) {
        tex_escape(s->rows[r].label, b);
        row_cells(t, r, c0, c1, FMT_TEX, " & ", "", b);
        sb_printf(b, " \\\\\n");
    }
    sb_printf(b, "\\bottomrule\n\\end{tabular}}\n");
    free(start);
}

void table_latex(const Table *t, StrBuf *b) {
    const Spec *s = t->spec;
    sb_printf(b, "%% generated by `alphadecay report table %s`; do not edit\n", s->path);
    sb_printf(b, "\\begin{table}[htbp]\n\\centering\n\\small\n\\caption{");
    /* every table has a caption (its title, else its name) and the label tab:NAME */
    if (s->title[0]) tex_escape(s->title, b);
    else tex_escape(s->name, b);
    if (s->caption[0]) {
        sb_printf(b, ". ");
        tex_escape(s->caption, b);
    }
    sb_printf(b, "}\n\\label{tab:");
    tex_label(s->name, b);
    sb_printf(b, "}\n");
    int cut[SPEC_MAX_SEL + 1], np = split_cols(t, cut);
    for (int k = 0; k < np; k++) {
        if (k) sb_printf(b, "\n\\medskip\n");
        latex_part(t, cut[k], cut[k + 1], b);
    }
    sb_printf(b, "\\par\\smallskip\\footnotesize ");
    if (np > 1) sb_printf(b, "The table is split into %d parts to stay legible; each repeats the row labels. ", np);
    notes(t, FMT_TEX, b);
    if (s->compare_vs[0]) compare_latex(t, b);
    sb_printf(b, "\n\\end{table}\n");
}

static void csv_num(StrBuf *b, double v, int ok) {
    if (ok && !isnan(v)) sb_printf(b, ",%.10g", v);
    else sb_printf(b, ",");
}

void table_csv(const Table *t, StrBuf *b) {
    const Spec *s = t->spec;
    int cmp = s->compare_vs[0] != 0, extra = any_col(t, PART_PAPER_P), from = 0, interp = s->compare_at[0] != 0;
    int chosen = 0; /* the select_by fields only where a column chooses by another metric */
    for (int c = 0; c < s->ncols; c++) from |= s->cols[c].nbest_of > 0, chosen |= s->cols[c].select_by[0] != 0;
    for (int i = 0; i < t->nrows * t->ncols; i++) extra |= t->cells[i].has_paper_sd;
    sb_printf(b, "row,group,column,metric,n_runs,n,mean,std,min,max,status,best,p_value,paper,runs%s%s%s%s%s\n",
              extra ? ",paper_std,paper_p_value" : "",
              cmp ? ",pairs,diff,diff_lo,diff_hi,p_t,p_holm,p_wilcoxon,mde,p_sign,holds_under" : "",
              interp ? ",at_mean,baseline_there,diff_any,unpaired_outside,unpaired_unbracketed" : "",
              from ? ",from_column" : "", chosen ? ",chosen_by,chosen_by_mean" : "");
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            const Cell *cell = table_cell(t, r, c);
            StrBuf st = {0};
            status_text(cell, &st, 1);
            sb_csv_field(b, s->rows[r].label);
            sb_printf(b, ",");
            sb_csv_field(b, s->cols[c].group);
            sb_printf(b, ",");
            sb_csv_field(b, s->cols[c].label);
            sb_printf(b, ",%s,%d,%d", cell->metric, cell->nruns, cell->n);
            csv_num(b, cell->mean, cell->n > 0);
            csv_num(b, cell->sd, cell->n > 1);
            csv_num(b, cell->min, cell->n > 0);
            csv_num(b, cell->max, cell->n > 0);
            sb_printf(b, ",%s,%d",
                      s->cols[c].paper_only ? "paper_only"
                      : !cell->nruns        ? "missing"
                      : st.len              ? sb_str(&st)
                                            : "completed",
                      cell->best);
            sb_free(&st);
            csv_num(b, cell->p, cell->has_p);
            csv_num(b, cell->paper, cell->has_paper);
            sb_printf(b, ",");
            sb_csv_field(b, cell->runs ? cell->runs : "");
            if (extra) {
                csv_num(b, cell->paper_sd, cell->has_paper_sd);
                csv_num(b, cell->paper_p, cell->has_paper_p);
            }
            if (cmp) {
                sb_printf(b, ",%d", cell->npairs);
                csv_num(b, cell->diff, cell->has_cmp);
                csv_num(b, cell->diff_lo, cell->has_cmp);
                csv_num(b, cell->diff_hi, cell->has_cmp);
                csv_num(b, cell->p_t, cell->has_cmp);
                csv_num(b, cell->p_holm, cell->has_cmp);
                csv_num(b, cell->p_w, cell->has_w);
                csv_num(b, cell->mde, cell->has_cmp);
                csv_num(b, cell->p_s, cell->has_s);
                sb_printf(b, ",");
                if (cell->npairs) {
                    StrBuf h = {0};
                    holds_text(cell, &h);
                    sb_csv_field(b, h.p);
                    sb_free(&h);
                }
            }
            if (interp) {
                csv_num(b, cell->at_mean, cell->at && cell->npairs);
                csv_num(b, cell->base_mean, cell->at && cell->npairs);
                csv_num(b, cell->diff_any, cell->at && cell->npairs);
                sb_printf(b, ",%d,%d", cell->nout, cell->nmiss);
            }
            if (from) {
                sb_printf(b, ",");
                sb_csv_field(b, cell->from ? cell->from : "");
            }
            if (chosen) {
                sb_printf(b, ",%s", cell->chosen_by ? cell->chosen_by : "");
                csv_num(b, cell->chosen_mean, cell->chosen_by != NULL);
            }
            sb_printf(b, "\n");
        }
}
