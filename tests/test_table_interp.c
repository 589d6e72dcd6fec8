/* test_table_interp.c - comparisons at matched strength (spec compare: {vs, at, along}; docs/analysis.md,
 * "Matched strength") on synthetic run directories, against values worked out by hand: the baseline
 * interpolated linearly in its grid key at each compared run's applied decay (mean_wd, the mean of the
 * logged wd_mean), per seed; a run outside the grid and a run whose seed lacks a bracketing baseline run
 * left unpaired and counted; the paired statistics on what remains; one pair shown without an interval;
 * the facts the prose cites; and the refusals (malformed specs, a baseline that does not apply its grid
 * value, a compared run without mean_wd). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/facts.h"
#include "../analysis/runs.h"
#include "../analysis/spec.h"
#include "../analysis/table.h"
#include "check.h"
#include "tabletest.h"

/* A run under RES/NAME: config, two logged updates whose wd_mean values are wd1 and wd2 (NAN: no wd_mean
 * logged), and a summary with final perplexity ppl. */
static void run(const char *res, const char *method, const char *eta, int seed, const char *status, double ppl,
                double wd1, double wd2) {
    char name[128], config[1024], metrics[512];
    snprintf(name, sizeof name, "%s/s%d-%s-%s", res, seed, method, eta);
    snprintf(config, sizeof config,
             "version: \"0.1.0\"\nmodel:\n  hidden_size: 64\ntrain:\n  optimizer: adamw\n  seed: %d\n"
             "decay:\n  method: %s\n  weight_decay: %s\n",
             seed, method, eta);
    if (isnan(wd1))
        snprintf(metrics, sizeof metrics, "%s",
                 "{\"step\": 1, \"tokens\": 256, \"loss\": 5.5}\n{\"step\": 2, \"tokens\": 512, \"loss\": 5.0}\n");
    else
        snprintf(metrics, sizeof metrics,
                 "{\"step\": 1, \"tokens\": 256, \"loss\": 5.5, \"wd_mean\": %.17g}\n"
                 "{\"step\": 2, \"tokens\": 512, \"loss\": 5.0, \"wd_mean\": %.17g}\n",
                 wd1, wd2);
    put_run(name, config, metrics, status, ppl, 10);
}

/* Uniform applies its eta at every update. */
static void uniform(const char *res, const char *eta, int seed, const char *status, double ppl) {
    run(res, "uniform", eta, seed, status, ppl, atof(eta), atof(eta));
}

#define SPEC_HEAD "table: m\nresults: res\nmetric: val_ppl\ndigits: 2\n"
#define SPEC_ROWS                                                                                                      \
    "rows:\n  - {label: Uniform, where: {decay.method: uniform}}\n"                                                    \
    "  - {label: AlphaDecay, where: {decay.method: alphadecay}}\ncolumns:\n  - {label: ppl}\n"
/* AlphaDecay at eta 2 against Uniform at matched strength, over the runs under RES */
#define MATCHED(RES)                                                                                                   \
    "table: m\nresults: " RES "\nmetric: val_ppl\nwhere: {decay.weight_decay: 2}\n"                                    \
    "compare: {vs: Uniform, at: mean_wd, along: decay.weight_decay}\n" SPEC_ROWS

/* Uniform on the grid eta 2, 3, 4; AlphaDecay at eta 2 applying more. Per seed (Uniform at 2 / 3 -> AlphaDecay
 * applied d, its perplexity, Uniform interpolated at d, the difference):
 *   seed 1: 10 / 20;  d = 2.25 (logged 2.0 and 2.5): 12, 10 + 0.25 * 10 = 12.5, -0.5
 *   seed 2: 12 / 18;  d = 2.5:                       14, 12 + 0.5 * 6   = 15,   -1
 *   seed 3: 11 / 25;  d = 3 (a grid value):          24, 25 exactly,           -1
 *   seed 4: 10 / 20 / 30; d = 4.5: outside [2, 4], not paired
 *   seed 5: 10 / (eta 3 failed); d = 2.5: unbracketed, not paired
 * Differences -0.5, -1, -1: mean -5/6, sd sqrt(1/12), t = -5 (df 2), p = 1 - 5 / sqrt(27);
 * interval -5/6 -/+ t_{0.975,2} sqrt(1/12) / sqrt(3) = -5/6 -/+ 4.302652729911275 / 6. */
static void make_grid(void) {
    uniform("res", "2", 1, "completed", 10), uniform("res", "3", 1, "completed", 20);
    uniform("res", "2", 2, "completed", 12), uniform("res", "3", 2, "completed", 18);
    uniform("res", "2", 3, "completed", 11), uniform("res", "3", 3, "completed", 25);
    uniform("res", "2", 4, "completed", 10), uniform("res", "3", 4, "completed", 20);
    uniform("res", "4", 4, "completed", 30);
    uniform("res", "2", 5, "completed", 10), uniform("res", "3", 5, "failed", 99);
    run("res", "alphadecay", "2", 1, "completed", 12, 2.0, 2.5);
    run("res", "alphadecay", "2", 2, "completed", 14, 2.5, 2.5);
    run("res", "alphadecay", "2", 3, "completed", 24, 3.0, 3.0);
    run("res", "alphadecay", "2", 4, "completed", 40, 4.5, 4.5);
    run("res", "alphadecay", "2", 5, "completed", 11, 2.5, 2.5);
}

static void test_hand_values(void) {
    const char *spec =
        SPEC_HEAD "where: {decay.weight_decay: 2}\n"
                  "compare: {vs: Uniform, at: mean_wd, along: decay.weight_decay}\n" SPEC_ROWS "numbers:\n"
                  "  d: {row: AlphaDecay, col: ppl, stat: diff_ci}\n"
                  "  base: {row: AlphaDecay, col: ppl, stat: base}\n"
                  "  at: {row: AlphaDecay, col: ppl, stat: at, digits: 3}\n"
                  "  un: {row: AlphaDecay, col: ppl, stat: unpaired}\n"
                  "claims:\n"
                  "  below: {row: AlphaDecay, col: ppl, holds: \"hi < 0 and npairs >= 3\", says: x}\n";
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    if (!build_ok(spec, &t, s, &rs, "matched-strength table builds")) {
        free(s);
        return;
    }
    const Cell *a = table_cell(&t, 1, 0), *u = table_cell(&t, 0, 0);
    CHECK(a->npairs == 3 && a->nout == 1 && a->nmiss == 1 && a->has_cmp && !u->has_cmp,
          "3 pairs, 1 outside the grid, 1 unbracketed", "pairs %d out %d miss %d", a->npairs, a->nout, a->nmiss);
    CHECK_CLOSE(a->base_mean, (12.5 + 15 + 25) / 3, 1e-12, 0, "Uniform interpolated: 12.5, 15, 25");
    CHECK_CLOSE(a->at_mean, (2.25 + 2.5 + 3) / 3, 1e-12, 0, "mean applied decay of the pairs");
    CHECK_CLOSE(a->diff, -5.0 / 6, 1e-12, 0, "mean difference -5/6");
    CHECK_CLOSE(a->diff_any, -5.0 / 6, 1e-12, 0, "diff_any = diff with several pairs");
    double half = 4.302652729911275 / 6;
    CHECK_CLOSE(a->diff_lo, -5.0 / 6 - half, 1e-9, 0, "95% interval lower");
    CHECK_CLOSE(a->diff_hi, -5.0 / 6 + half, 1e-9, 0, "95% interval upper");
    CHECK_CLOSE(a->p_t, 1 - 5 / sqrt(27.0), 1e-10, 0, "paired t p, df 2 closed form");
    CHECK_CLOSE(a->p_holm, a->p_t, 1e-15, 0, "Holm over one comparison = p");
    CHECK_CLOSE(a->p_s, 2.0 / 8, 1e-15, 0, "sign test: 0 of 3 positive, p = 2/8");
    CHECK(strstr(t.warn.p, "seed 4's run has mean_wd 4.5, outside Uniform's grid [2, 4]") &&
              strstr(t.warn.p, "seed 5's run has mean_wd 2.5, but the seed has no counted Uniform run at "
                               "decay.weight_decay 3"),
          "warnings name the unpaired runs and why", "%s", t.warn.p);
    StrBuf md = {0};
    table_markdown(&t, &md);
    CHECK(strstr(md.p, "#### Paired comparisons against Uniform at the same mean_wd (interpolated along "
                       "decay.weight_decay)") &&
              strstr(md.p, "| pairs | mean_wd | Uniform there | Δ mean [95% CI] |") &&
              strstr(md.p, "| AlphaDecay | ppl | 3 (+1 out) (+1 unbr.) | 2.583 | 17.50 | -0.83 "
                           "[-1.55, -0.12] |"),
          "Markdown: the matched comparison's line", "%s", md.p);
    StrBuf tex = {0};
    table_latex(&t, &tex);
    CHECK(strstr(tex.p, "\\begin{tabular}{llrrrrrrrrrl}") &&
              strstr(tex.p, "mean\\_wd & \\shortstack[r]{Uniform\\\\there}"),
          "LaTeX: two more columns", "%s", tex.p);
    StrBuf csv = {0};
    table_csv(&t, &csv);
    CHECK(strstr(csv.p, ",at_mean,baseline_there,diff_any,unpaired_outside,unpaired_unbracketed\n") &&
              strstr(csv.p, ",1,1\n"),
          "CSV: the matched comparison's columns", "%s", csv.p);
    Facts f = {0};
    Err e = {{0}};
    facts_begin(&f);
    facts_eval(&t, &f, &e);
    CHECK(f.nfailed == 0 && strstr(f.num_md.p, "| `m.d` | -0.83 [-1.55, -0.12] |") &&
              strstr(f.num_md.p, "| `m.base` | 17.50 |") && strstr(f.num_md.p, "| `m.at` | 2.583 |") &&
              strstr(f.num_md.p, "| `m.un` | 2 |") && strstr(f.claim_md.p, "| `m.below` | yes |"),
          "facts: the matched difference, its baseline, position and unpaired count", "%s%s%s", f.num_md.p,
          f.claim_md.p, f.failures.p ? f.failures.p : "");
    facts_free(&f);
    sb_free(&md);
    sb_free(&tex);
    sb_free(&csv);
    unbuild(&t, &rs);

    /* one seed: one pair, no interval, the difference shown as such; the statistics that need two pairs are
     * undefined for the facts as well */
    const char *one = SPEC_HEAD "where: {decay.weight_decay: 2, train.seed: 1}\n"
                                "compare: {vs: Uniform, at: mean_wd, along: decay.weight_decay}\n" SPEC_ROWS
                                "numbers:\n  d: {row: AlphaDecay, col: ppl, stat: diff}\n";
    if (build_ok(one, &t, s, &rs, "one-seed table builds")) {
        a = table_cell(&t, 1, 0);
        CHECK(a->npairs == 1 && !a->has_cmp && a->diff_any == -0.5 && a->base_mean == 12.5,
              "one pair: difference -0.5 against 12.5, no test", "pairs %d diff %g base %g", a->npairs, a->diff_any,
              a->base_mean);
        table_markdown(&t, &md);
        CHECK(strstr(md.p, "| AlphaDecay | ppl | 1 | 2.250 | 12.50 | -0.50 (n=1, no interval) | – | – | – |"),
              "Markdown: one pair shown without an interval", "%s", md.p);
        facts_begin(&f);
        facts_eval(&t, &f, &e);
        CHECK(f.nfailed == 1 && strstr(f.failures.p, "number m.d (line 13) selects 0 cells with a diff"),
              "a diff needs two pairs: the number fails, naming itself", "%s", f.failures.p ? f.failures.p : "");
        facts_free(&f);
        sb_free(&md);
    }
    unbuild(&t, &rs);
    free(s);
}

static void test_refusals(void) {
    static const struct {
        const char *compare, *msg, *what;
    } bad[] = {
        {"compare: {vs: Uniform, at: mean_wd}\n", "compare.at and compare.along go together", "at without along"},
        {"compare: {vs: Uniform, along: decay.weight_decay}\n", "compare.at and compare.along go together",
         "along without at"},
        {"compare: {vs: Uniform, at: applied, along: decay.weight_decay}\n", "unknown metric \"applied\"",
         "at names an unknown metric"},
        {"compare: {vs: Uniform, at: mean_wd, along: decay.weight_decay, by: eta}\n", "unknown key \"by\" in compare",
         "an unknown key in compare"},
        {"compare: {at: mean_wd, along: decay.weight_decay}\n", "compare needs vs", "compare without vs"},
    };
    const char *tuned =
        SPEC_HEAD "compare: {vs: Uniform, at: mean_wd, along: decay.weight_decay}\n"
                  "rows:\n  - {label: Uniform, where: {decay.method: uniform}}\ncolumns:\n"
                  "  - {label: a, where: {decay.weight_decay: 2}}\n"
                  "  - {label: b, where: {decay.weight_decay: 3}}\n  - {label: best, best_of: [a, b]}\n";
    refused(tuned, "compare.at does not take best_of columns (\"best\")", NULL,
            "compare.at with a best_of column is refused");
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char spec[1024];
        snprintf(spec, sizeof spec, "%swhere: {decay.weight_decay: 2}\n%s%s", SPEC_HEAD, bad[k].compare, SPEC_ROWS);
        refused(spec, bad[k].msg, "spec.yaml:", bad[k].what);
    }

    /* a baseline run that does not apply its grid value cannot stand for equal applied decay */
    uniform("res2", "2", 1, "completed", 10);
    run("res2", "uniform", "3", 1, "completed", 20, 3.0, 2.0);
    run("res2", "alphadecay", "2", 1, "completed", 12, 2.5, 2.5);
    refused(MATCHED("res2"), "spec.yaml: compare.at: baseline run", "has mean_wd 2.5 but decay.weight_decay 3",
            "a baseline applying other than its grid value is refused");

    /* a compared run without a logged wd_mean cannot be placed */
    uniform("res3", "2", 1, "completed", 10), uniform("res3", "3", 1, "completed", 20);
    run("res3", "alphadecay", "2", 1, "completed", 12, NAN, NAN);
    refused(MATCHED("res3"), "spec.yaml: compare.at: run", "has no mean_wd",
            "a compared run without mean_wd is refused");
}

/* Every compared run outside the grid: no pair, the cell still listed with its count, no test in Holm. */
static void test_all_outside(void) {
    uniform("res4", "2", 1, "completed", 10), uniform("res4", "3", 1, "completed", 20);
    uniform("res4", "2", 2, "completed", 11), uniform("res4", "3", 2, "completed", 21);
    run("res4", "alphadecay", "2", 1, "completed", 12, 1.5, 1.5);
    run("res4", "alphadecay", "2", 2, "completed", 12, 3.5, 3.5);
    const char *spec = MATCHED("res4");
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    if (build_ok(spec, &t, s, &rs, "all-outside table builds")) {
        const Cell *a = table_cell(&t, 1, 0);
        CHECK(a->npairs == 0 && a->nout == 2 && !a->has_cmp && t.holm_m == 0, "no pair, 2 outside, nothing tested",
              "pairs %d out %d m %d", a->npairs, a->nout, t.holm_m);
        StrBuf md = {0};
        table_markdown(&t, &md);
        CHECK(strstr(md.p, "| AlphaDecay | ppl | 0 (+2 out) | – | – | – |"),
              "Markdown: the unpaired cell is listed with its count", "%s", md.p);
        sb_free(&md);
    }
    unbuild(&t, &rs);
    free(s);
}

int main(void) {
    if (!scratch_dir(ROOT, sizeof ROOT, NULL, "test_table_interp")) return check_summary();
    make_grid();
    test_hand_values();
    test_refusals();
    test_all_outside();
    scratch_remove(ROOT);
    return check_summary();
}
