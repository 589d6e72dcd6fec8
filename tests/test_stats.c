/* test_stats.c - analysis statistics and tables against hand-computed values on synthetic run
 * directories: mean, sample std, paired t-test p-values (closed forms of the t distribution for
 * df = 1 and 2), cell selection, failed / partial / missing runs, and the refusals (mixed configs,
 * duplicate seeds, unknown metric or coordinate, truncated JSON), collapsed runs kept out of means and
 * tests, the sign test and the tests that reject, and Holm over distinct comparisons and families. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../analysis/kv.h"
#include "../analysis/reported.h"
#include "../analysis/runs.h"
#include "../analysis/spec.h"
#include "../analysis/stats.h"
#include "../analysis/table.h"
#include "check.h"
#include "tabletest.h"

static int VOCAB; /* model.vocab_size written into the runs' configs; 0 = none */

/* A run as train writes it (only the keys analysis reads, plus a few). status NULL = no summary. */
static void run(const char *name, const char *method, const char *wd, int seed, const char *status, double ppl) {
    char dir[256], config[1024];
    snprintf(dir, sizeof dir, "res/%s", name);
    char vocab[64] = "";
    if (VOCAB) snprintf(vocab, sizeof vocab, "  vocab_size: %d\n", VOCAB);
    snprintf(config, sizeof config,
             "# fully resolved\nversion: \"0.1.0\"\nmodel:\n  hidden_size: 64\n%strain:\n  optimizer: adam\n"
             "  betas: [0.9, 0.999]\n  seed: %d\n  threads: 1\ndecay:\n  method: %s\n  weight_decay: %s\n",
             vocab, seed, method, wd);
    put_run(dir, config,
            "{\"step\": 1, \"tokens\": 256, \"loss\": 5.5, \"elapsed_s\": 0.5}\n"
            "{\"step\": 2, \"tokens\": 512, \"loss\": 5.0, \"elapsed_s\": 1.0}\n",
            status, ppl, 7200);
}

/* Completed runs NAME_s1 .. NAME_sN of method at wd: seed k + 1 with final perplexity ppl[k]. */
static void seeds(const char *name, const char *method, const char *wd, const double *ppl, int n) {
    char dir[64];
    for (int k = 0; k < n; k++) {
        snprintf(dir, sizeof dir, "%s_s%d", name, k + 1);
        run(dir, method, wd, k + 1, "completed", ppl[k]);
    }
}

static const char *SPEC = "table: t\n"
                          "results: res\n"
                          "metric: val_ppl\n"
                          "ttest: {vs: AlphaDecay}\n"
                          "rows:\n"
                          "  - {label: WD=0, where: {decay.method: none}, any: [decay.weight_decay]}\n"
                          "  - {label: Uniform, where: {decay.method: uniform}}\n"
                          "  - {label: AlphaDecay, where: {decay.method: alphadecay}}\n"
                          "columns:\n"
                          "  - {label: 1e-5, where: {decay.weight_decay: 1e-5}}\n"
                          "  - {label: 5e-6, where: {decay.weight_decay: 5.0e-06}}\n"
                          "  - {label: 1e-6, where: {decay.weight_decay: [1e-6, 2e-6]}}\n"
                          "  - {label: hours, where: {decay.weight_decay: 1e-5}, metric: wall_hours}\n";

static void test_formulas(void) {
    double a[3] = {10.0, 10.2, 10.4}, b[3] = {10.3, 10.4, 10.8}, m, sd, t, p;
    stats_mean_sd(a, 3, &m, &sd);
    CHECK_CLOSE(m, 10.2, 1e-12, 0, "mean of 10, 10.2, 10.4");
    CHECK_CLOSE(sd, 0.2, 1e-12, 0, "sample std of 10, 10.2, 10.4 (n - 1)");
    stats_mean_sd(a, 1, &m, &sd);
    CHECK(isnan(sd), "std of one value is undefined", "got %g", sd);
    /* the mean's 95% interval half-width: t_{0.975, 3} = 3.182446305284263 (tables), sd 2, n 4 -> 3.1824463 */
    CHECK_CLOSE(stats_mean_ci_half(2.0, 4, 0.95), 3.182446305284263, 1e-9, 0, "mean 95% half-width, n 4, sd 2");
    CHECK(stats_mean_ci_half(2.0, 1, 0.95) == 0, "mean interval of one value: no bar", "got %g",
          stats_mean_ci_half(2.0, 1, 0.95));
    /* d = -0.3, -0.2, -0.4: mean -0.3, sd 0.1, t = -0.3 / (0.1 / sqrt 3) = -3 sqrt 3;
     * df = 2: P(|T| > t) = 1 - t / sqrt(t^2 + 2) = 1 - sqrt(27 / 29) */
    CHECK(stats_paired_t(a, b, 3, &t, &p) == 0, "paired t defined for 3 pairs", "rc != 0");
    CHECK_CLOSE(t, -3 * sqrt(3.0), 1e-9, 0, "paired t statistic, df 2");
    CHECK_CLOSE(p, 1 - sqrt(27.0 / 29.0), 1e-10, 0, "paired t p-value, df 2 closed form");
    /* d = 0.6, 0.4: t = 0.5 / (sqrt(0.02) / sqrt 2) = 5; df = 1 (Cauchy): p = 1 - 2 atan(5) / pi */
    double c[2] = {35.1, 35.3}, d[2] = {34.5, 34.9};
    CHECK(stats_paired_t(c, d, 2, &t, &p) == 0, "paired t defined for 2 pairs", "rc != 0");
    CHECK_CLOSE(t, 5.0, 1e-9, 0, "paired t statistic, df 1");
    CHECK_CLOSE(p, 1 - 2 * atan(5.0) / M_PI, 1e-10, 0, "paired t p-value, df 1 closed form");
    double e1[2] = {1, 2}, e2[2] = {0, 1};
    CHECK(stats_paired_t(e1, e2, 2, &t, &p) < 0, "paired t undefined for constant differences", "rc 0");
    CHECK(stats_paired_t(a, b, 1, &t, &p) < 0, "paired t undefined for one pair", "rc 0");
}

static void test_values_and_json(void) {
    CHECK(kv_value_equal("1e-5", "1e-05") && kv_value_equal("0.00001", "1e-5"), "1e-5 == 1e-05 == 0.00001", "no");
    CHECK(!kv_value_equal("1e-5", "1e-6") && !kv_value_equal("adam", "adamw") && kv_value_equal("adam", "adam"),
          "different values differ", "no");
    KVList l;
    Err e = {{0}};
    CHECK(flatjson_parse("{\"a\": {\"b\": 1}}", &l, "x.json", &e) < 0 && strstr(e.msg, "nested"),
          "nested JSON object refused", "%s", e.msg);
    CHECK(flatjson_parse("{\"step\": 1, \"loss\"", &l, "x.json", &e) < 0 && strstr(e.msg, "x.json"),
          "truncated JSON object refused, file named", "%s", e.msg);
    CHECK(flatjson_parse("{\"status\": \"completed\", \"v\": null, \"x\": 2.5e-3}", &l, "x", &e) == 0,
          "flat JSON object parsed", "%s", e.msg);
    double v;
    CHECK(kv_num(&l, "x", &v) == 0 && v == 2.5e-3 && kv_num(&l, "v", &v) < 0 &&
              !strcmp(kv_get(&l, "status"), "completed"),
          "flat JSON values", "wrong");
    kv_free(&l);
    put("trunc.jsonl", "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"lo");
    char p[512];
    snprintf(p, sizeof p, "%s/trunc.jsonl", ROOT);
    KVList *recs;
    int n;
    CHECK(jsonl_read(p, &recs, &n, &e) < 0 && strstr(e.msg, "trunc.jsonl:2"), "truncated JSONL line named FILE:2", "%s",
          e.msg);
}

static void test_runs(void) {
    run("none_s1", "none", "0", 1, "completed", 40.0);
    run("uni_1e-5_s1", "uniform", "1e-05", 1, "completed", 35.1);
    run("uni_1e-5_s2", "uniform", "1e-05", 2, "completed", 35.3);
    run("alpha_1e-5_s1", "alphadecay", "1e-05", 1, "completed", 34.5);
    run("alpha_1e-5_s2", "alphadecay", "1e-05", 2, "completed", 34.9);
    run("alpha_5e-6_s1", "alphadecay", "5e-06", 1, "failed", 99.0);
    run("alpha_5e-6_s2", "alphadecay", "5e-06", 2, "completed", 34.8);
    run("uni_5e-6_s1", "uniform", "5e-06", 1, NULL, 0); /* still running: no summary */
    run("bad_summary", "awd", "1e-05", 1, "completed", 1);
    put("res/bad_summary/summary.json", "{\"status\": \"completed\", \"final_val_ppl\": 3");

    Err e = {{0}};
    RunSet rs;
    char rp[512];
    snprintf(rp, sizeof rp, "%s/res", ROOT);
    CHECK(runs_scan(rp, &rs, &e) == 0 && rs.n == 9, "scan finds 9 run directories", "%d runs: %s", rs.n, e.msg);
    int seen = 0;
    for (int i = 0; i < rs.n; i++) {
        Run *r = &rs.runs[i];
        if (!strcmp(r->name, "uni_5e-6_s1")) {
            CHECK(!strcmp(r->status, "partial") && r->steps == 2 && r->tokens == 512, "run without summary is partial",
                  "%s steps %g", r->status, r->steps);
            seen++;
        }
        if (!strcmp(r->name, "bad_summary")) {
            CHECK(!strcmp(r->status, "unreadable") && strstr(r->problem, "summary.json"),
                  "truncated summary.json makes the run unreadable, file named", "%s: %s", r->status, r->problem);
            seen++;
        }
        if (!strcmp(r->name, "alpha_5e-6_s1")) {
            CHECK(!strcmp(r->status, "failed"), "failed run keeps its status", "%s", r->status);
            seen++;
        }
        if (!strcmp(r->name, "uni_1e-5_s2")) {
            CHECK(!strcmp(run_coord(r, "decay.weight_decay"), "1e-05") &&
                      !strcmp(run_coord(r, "train.betas"), "[0.9, 0.999]") && !strcmp(run_coord(r, "run.sweep"), "res"),
                  "config coordinates flattened", "wd %s", run_coord(r, "decay.weight_decay"));
            double h;
            CHECK(run_metric(r, "wall_hours", &h, &e) == 0 && h == 2.0, "wall_hours = 7200 s / 3600", "%g", h);
            seen++;
        }
    }
    CHECK(seen == 4, "expected runs found", "%d", seen);
    runs_free(&rs);
}

static void test_table(void) {
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    if (!build_ok(SPEC, &t, s, &rs, "table builds from synthetic runs")) return;
    Cell *u = table_cell(&t, 1, 0), *a = table_cell(&t, 2, 0), *z = table_cell(&t, 0, 0);
    CHECK(u->n == 2 && a->n == 2, "two seeds per cell at 1e-5", "%d %d", u->n, a->n);
    CHECK_CLOSE(u->mean, 35.2, 1e-9, 0, "Uniform 1e-5 mean");
    CHECK_CLOSE(u->sd, sqrt(0.02), 1e-9, 0, "Uniform 1e-5 std");
    CHECK_CLOSE(a->mean, 34.7, 1e-9, 0, "AlphaDecay 1e-5 mean");
    CHECK(u->has_p, "Uniform 1e-5 has a p-value", "no p");
    CHECK_CLOSE(u->p, 1 - 2 * atan(5.0) / M_PI, 1e-9, 0, "Uniform vs AlphaDecay p (df 1, t = 5)");
    CHECK(a->best && !u->best, "lowest mean is bold", "best %d %d", a->best, u->best);
    CHECK(z->n == 1 && z->mean == 40.0 && table_cell(&t, 0, 2)->n == 1, "WD=0 spans every wd column (any:)", "n %d",
          z->n);
    CHECK(!z->has_p, "no p-value from a single pair", "p %g", z->p);
    Cell *a5 = table_cell(&t, 2, 1), *u5 = table_cell(&t, 1, 1), *u6 = table_cell(&t, 1, 2);
    CHECK(a5->nruns == 2 && a5->n == 1 && a5->nfailed == 1 && a5->mean == 34.8, "failed run counted, not averaged",
          "nruns %d n %d failed %d", a5->nruns, a5->n, a5->nfailed);
    CHECK(u5->nruns == 1 && u5->n == 0 && u5->npartial == 1, "partial run shown as partial", "n %d partial %d", u5->n,
          u5->npartial);
    CHECK(u6->nruns == 0, "missing cell has no runs", "%d", u6->nruns);
    CHECK(t.warn.p && strstr(t.warn.p, "alpha_5e-6_s1") && strstr(t.warn.p, "failed"), "failed run named in warnings",
          "%s", t.warn.p ? t.warn.p : "");
    CHECK_CLOSE(table_cell(&t, 1, 3)->mean, 2.0, 1e-12, 0, "per-column metric (wall_hours)");
    StrBuf md = {0};
    table_markdown(&t, &md);
    /* p columns only where a cell has a p-value: 5e-6 and 1e-6 have none */
    CHECK(strstr(md.p, "| Uniform | 35.20 ± 0.14 (n=2) | 0.126 | partial | – |") != NULL &&
              strstr(md.p, "| | 1e-5 | p | 5e-6 | 1e-6 | hours |") != NULL,
          "Markdown row: mean ± std (n), p, partial, missing", "%s", md.p);
    CHECK(strstr(md.p, "**34.80** (+1 failed)") != NULL, "Markdown: failed run noted beside the value", "%s", md.p);
    sb_free(&md);
    unbuild(&t, &rs);

    /* one column without a wd condition mixes 1e-5 and 5e-6 runs: refused, runs named */
    const char *mixed = "table: m\nresults: res\nrows:\n  - {label: U, where: {decay.method: alphadecay}}\n"
                        "columns:\n  - {label: all}\n";
    refused(mixed, "differ in decay.weight_decay", "alpha_", "runs of different configs in one cell refused");

    const char *typo =
        "table: m\nresults: res\nrows:\n  - {label: U, where: {decay.methd: uniform}}\ncolumns:\n  - {label: all}\n";
    refused(typo, "decay.methd", NULL, "unknown coordinate refused");

    const char *badmetric =
        "table: m\nresults: res\nmetric: val_pppl\nrows:\n  - {label: U}\ncolumns:\n  - {label: a}\n";
    refused(badmetric, "spec.yaml:3:9", "unknown metric", "unknown metric refused with line:column");
    const char *badkey = "table: m\nresults: res\nrows:\n  - {label: U, wher: {a: 1}}\ncolumns:\n  - {label: a}\n";
    refused(badkey, "spec.yaml:4:", "wher", "unknown spec key refused with line");

    /* the same run copied: the same seed twice in one cell */
    run("uni_1e-5_s1_copy", "uniform", "1e-05", 1, "completed", 35.1);
    refused(SPEC, "same seed", NULL, "duplicate seed in a cell refused");
    free(s);
}

/* compare: paired differences, intervals, Holm and Wilcoxon wired to the right cells, by hand. */
static void test_compare(void) {
    const double base[4] = {40, 41, 42, 43}, awd[4] = {39, 39.5, 41, 41.5}, ada[4] = {40.5, 40, 42.5, 42};
    seeds("cmp_none", "none", "0.5", base, 4);
    seeds("cmp_awd", "awd", "0.5", awd, 4);
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "cmp_ada_s%d", 4 - i); /* seeds listed in another order: pairing is by seed */
        run(name, "adadecay", "0.5", i + 1, "completed", ada[i]);
    }
    const char *spec = "table: c\nresults: res\nwhere: {decay.weight_decay: 0.5}\ncompare: {vs: WD=0}\nrows:\n"
                       "  - {label: WD=0, where: {decay.method: none}}\n  - {label: AWD, where: {decay.method: awd}}\n"
                       "  - {label: AdaDecay, where: {decay.method: adadecay}}\ncolumns:\n  - {label: ppl}\n";
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    if (!build_ok(spec, &t, s, &rs, "compare table builds")) return;
    const Cell *a = table_cell(&t, 1, 0), *d = table_cell(&t, 2, 0), *b = table_cell(&t, 0, 0);
    /* AWD - WD=0 = -1, -1.5, -1, -1.5: mean -1.25, sd sqrt(1/12), t_{0.975,3} = 3.182446 */
    double half = 3.182446305284263 * sqrt(1.0 / 12) / 2;
    CHECK(a->has_cmp && a->npairs == 4 && !b->has_cmp, "AWD compared on 4 pairs, baseline not", "pairs %d", a->npairs);
    CHECK_CLOSE(a->diff, -1.25, 1e-12, 0, "AWD mean difference -1.25");
    CHECK_CLOSE(a->diff_lo, -1.25 - half, 1e-9, 0, "AWD 95% interval lower");
    CHECK_CLOSE(a->diff_hi, -1.25 + half, 1e-9, 0, "AWD 95% interval upper");
    CHECK_CLOSE(a->p_w, 2.0 / 16, 1e-15, 0, "AWD Wilcoxon: 4 negative pairs, p = 2/16");
    CHECK(a->has_s, "AWD sign test defined", "has_s 0");
    CHECK_CLOSE(a->p_s, 2.0 / 16, 1e-15, 0, "AWD sign test: 0 positive of 4, p = 2/16");
    /* AdaDecay - WD=0 = 0.5, -1, 0.5, -1 (paired by seed, not by listing order): mean -0.25 */
    CHECK_CLOSE(d->diff, -0.25, 1e-12, 0, "AdaDecay mean difference paired by seed");
    CHECK_CLOSE(d->p_s, 1.0, 0, 0, "AdaDecay sign test: 2 positive of 4, p = 1");
    double lo = fmin(a->p_t, d->p_t), hi = fmax(a->p_t, d->p_t);
    const Cell *first = a->p_t < d->p_t ? a : d, *second = a->p_t < d->p_t ? d : a;
    CHECK_CLOSE(first->p_holm, fmin(1, 2 * lo), 1e-15, 0, "Holm: smaller p doubled");
    CHECK_CLOSE(second->p_holm, fmax(fmin(1, 2 * lo), hi), 1e-15, 0, "Holm: larger p at least the smaller's");
    CHECK_CLOSE(a->mde, stats_paired_mde(4, 0.05, 0.8) * sqrt(1.0 / 12), 1e-12, 0, "AWD MDE = e(4) x sd");
    StrBuf md = {0};
    table_markdown(&t, &md);
    /* AWD: t p 0.0032 and Holm 0.0065 reject, Wilcoxon and sign (2/16 each) cannot with 4 pairs */
    CHECK(strstr(md.p, "#### Paired comparisons against WD=0") && strstr(md.p, "| AWD | ppl | 4 | -1.25 [") &&
              strstr(md.p, " | 0.125 | 0.125 | t, Holm |") && strstr(md.p, " | 0.500 | 1.000 | none |") &&
              strstr(md.p, "over the table's 2 comparisons;") && strstr(md.p, "Seeds used per cell: 4 in every"),
          "Markdown comparison table: sign test and the tests that reject", "%s", md.p);
    StrBuf csv = {0};
    table_csv(&t, &csv);
    CHECK(strstr(csv.p, ",pairs,diff,diff_lo,diff_hi,p_t,p_holm,p_wilcoxon,mde,p_sign,holds_under\n") &&
              strstr(csv.p, ",4,-1.25,") && strstr(csv.p, ",0.125,\"t, Holm\"\n") && strstr(csv.p, ",1,none\n"),
          "CSV comparison columns", "%s", csv.p);
    sb_free(&md);
    sb_free(&csv);
    unbuild(&t, &rs);
    const char *bad =
        "table: c\nresults: res\ncompare: {vs: Nobody}\nrows:\n  - {label: A}\ncolumns:\n  - {label: x}\n";
    refused(bad, "compare.vs names no row", NULL, "compare.vs must name a row");
    free(s);
}

/* Collapsed runs (final perplexity >= vocab / 2) are counted, shown and kept out of means and tests;
 * a comparison repeated in a best_of column counts once in Holm. Vocabulary 1000: threshold 500. */
static void test_collapse_and_dedup(void) {
    VOCAB = 1000;
    const double uni[4] = {40, 41, 42, 43}, awd[4] = {39, 39.5, 600, 41.5};
    double uni9[4], awd9[4];
    for (int i = 0; i < 4; i++) uni9[i] = uni[i] + 10, awd9[i] = awd[i] == 600 ? 52.5 : awd[i] + 12;
    seeds("col_uni", "uniform", "0.7", uni, 4);
    seeds("col_awd", "awd", "0.7", awd, 4);
    seeds("col_uni9", "uniform", "0.9", uni9, 4);
    seeds("col_awd9", "awd", "0.9", awd9, 4);
    run("col_ada_s1", "adadecay", "0.7", 1, "completed", 500.5); /* just above vocab / 2: collapsed */
    run("col_ada_s2", "adadecay", "0.7", 2, "completed", 4000);
    run("col_alpha_s1", "alphadecay", "0.7", 1, "completed", 499.5); /* just below: a (bad) value */
    run("col_alpha_s2", "alphadecay", "0.7", 2, "completed", 38);
    VOCAB = 0;
    const char *spec =
        "table: k\nresults: res\ncompare: {vs: Uniform}\nrows:\n"
        "  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AWD, where: {decay.method: awd}}\n"
        "  - {label: AdaDecay, where: {decay.method: adadecay}}\n"
        "  - {label: AlphaDecay, where: {decay.method: alphadecay}}\ncolumns:\n"
        "  - {label: x, where: {decay.weight_decay: 0.7}}\n  - {label: y, where: {decay.weight_decay: 0.9}}\n"
        "  - {label: best, best_of: [x, y]}\n";
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    Err e = {{0}};
    if (!build_ok(spec, &t, s, &rs, "collapse table builds")) return;
    const Cell *a = table_cell(&t, 1, 0), *ada = table_cell(&t, 2, 0), *al = table_cell(&t, 3, 0);
    CHECK(a->n == 3 && a->ncollapsed == 1 && a->nruns == 4, "AWD x: 3 used, 1 collapsed", "n %d collapsed %d", a->n,
          a->ncollapsed);
    CHECK_CLOSE(a->mean, 40.0, 1e-12, 0, "AWD x: mean of 39, 39.5, 41.5 without the collapsed 600");
    CHECK_CLOSE(a->sd, sqrt(1.75), 1e-12, 0, "AWD x: sd sqrt(3.5 / 2)");
    /* pairs seeds 1, 2, 4: 39 - 40, 39.5 - 41, 41.5 - 43 */
    CHECK(a->npairs == 3, "AWD x: 3 pairs", "%d", a->npairs);
    CHECK_CLOSE(a->diff, -4.0 / 3, 1e-12, 0, "AWD x: mean difference -4/3 over the 3 pairs");
    CHECK(ada->n == 0 && ada->ncollapsed == 2 && !ada->has_cmp, "AdaDecay x: both collapsed (500.5, 4000), untested",
          "n %d collapsed %d", ada->n, ada->ncollapsed);
    CHECK(al->n == 2 && al->ncollapsed == 0, "AlphaDecay x: 499.5 is below vocab / 2, kept", "n %d", al->n);
    CHECK(strstr(t.warn.p, "col_awd_s3 collapsed") != NULL, "collapsed run named in the warnings", "%s", t.warn.p);
    /* AWD best = x (40 < 52.5), Uniform best = x (41.5 < 51.5): the same test as column x, counted once.
     * Distinct: AWD x, AlphaDecay x, AWD y, AlphaDecay has no y runs: 3 of 4 comparisons shown */
    const Cell *ab = table_cell(&t, 1, 2), *ay = table_cell(&t, 1, 1), *alx = table_cell(&t, 3, 0);
    CHECK(ab->has_cmp && !strcmp(ab->from, "x"), "AWD best from x", "%s", ab->from ? ab->from : "-");
    CHECK(t.holm_m == 3, "Holm over 3 distinct comparisons (the best_of copy counts once)", "m %d", t.holm_m);
    double p[3] = {a->p_t, ay->p_t, alx->p_t}, adj[3];
    stats_holm(p, 3, adj);
    CHECK_CLOSE(a->p_holm, adj[0], 1e-15, 0, "Holm of AWD x over the 3 distinct tests");
    CHECK_CLOSE(ab->p_holm, adj[0], 1e-15, 0, "the best_of copy gets the same adjusted p");
    CHECK_CLOSE(ay->p_holm, adj[1], 1e-15, 0, "Holm of AWD y");
    StrBuf md = {0};
    table_markdown(&t, &md);
    CHECK(strstr(md.p, "| **40.00 ± 1.32** (n=3) (+1 collapsed) |") && strstr(md.p, "| 2 collapsed |") &&
              strstr(md.p, "| AdaDecay | x | 0 | not tested (2 collapsed) | – |") &&
              strstr(md.p, "Seeds used per cell: 2–4.") && strstr(md.p, "collapsed: the run completed") &&
              strstr(md.p, "the table's 3 comparisons (distinct tests: 2 more repeat one of them on the same runs and "
                           "share its p)"),
          "Markdown: collapsed runs shown, n used, seeds from the data, distinct Holm count", "%s", md.p);
    StrBuf csv = {0};
    table_csv(&t, &csv);
    CHECK(strstr(csv.p, "\nAdaDecay,,x,val_ppl,2,0,,,,,2 collapsed,") != NULL, "CSV status: 2 collapsed", "%s", csv.p);
    sb_free(&md);
    sb_free(&csv);

    /* a family across two specs in one directory: the same AWD x test in both counts once; a spec of
     * another family stays out */
    put("fam/f1.yaml",
        "table: f1\nresults: res\ncompare: {vs: Uniform, family: claims}\nrows:\n"
        "  - {label: Uniform, where: {decay.method: uniform}}\n  - {label: AWD, where: {decay.method: awd}}\n"
        "columns:\n  - {label: x, where: {decay.weight_decay: 0.7}}\n");
    put("fam/f2.yaml", "table: f2\nresults: res\ncompare: {vs: U, family: claims}\nrows:\n"
                       "  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: awd}}\n"
                       "columns:\n  - {label: x7, where: {decay.weight_decay: 0.7}}\n  - {label: x9, where: "
                       "{decay.weight_decay: 0.9}}\n");
    put("fam/g.yaml",
        "table: g\nresults: res\ncompare: {vs: U, family: other}\nrows:\n"
        "  - {label: U, where: {decay.method: uniform}}\n  - {label: A, where: {decay.method: alphadecay}}\n"
        "columns:\n  - {label: x, where: {decay.weight_decay: 0.7}}\n");
    Spec *f = xcalloc(1, sizeof *f);
    Table ft;
    char fp[512];
    snprintf(fp, sizeof fp, "%s/fam/f1.yaml", ROOT);
    CHECK(spec_load(f, fp, &e) == 0 && table_build(&ft, f, &rs, NULL, &e) == 0 && family_apply(&ft, ROOT, &e) == 0,
          "family table builds", "%s", e.msg);
    const Cell *fa = table_cell(&ft, 1, 0);
    double fpv[2] = {a->p_t, ay->p_t}, fadj[2];
    stats_holm(fpv, 2, fadj);
    CHECK(ft.holm_m == 2 && !strcmp(ft.holm_tables.p, "f1, f2"), "family claims: 2 distinct tests from f1 and f2",
          "m %d tables %s", ft.holm_m, ft.holm_tables.p ? ft.holm_tables.p : "-");
    CHECK_CLOSE(fa->p_holm, fadj[0], 1e-15, 0, "family Holm of AWD x over f1's and f2's distinct tests");
    StrBuf fmd = {0};
    table_markdown(&ft, &fmd);
    CHECK(strstr(fmd.p, "Holm-Bonferroni over the family claims's 2 distinct comparisons (tables f1, f2)") != NULL,
          "family named in the note with its tables", "%s", fmd.p);
    sb_free(&fmd);
    table_free(&ft);
    put("fam/bad.yaml", "table: bad\nresults: nowhere\ncompare: {vs: U, family: claims}\nrows:\n  - {label: U}\n"
                        "columns:\n  - {label: x}\n");
    CHECK(table_build(&ft, f, &rs, NULL, &e) == 0 && family_apply(&ft, ROOT, &e) < 0 && strstr(e.msg, "bad.yaml"),
          "a family member that cannot be built is an error naming it", "%s", e.msg);
    table_free(&ft);
    free(f);
    unbuild(&t, &rs);
    free(s);
}

static void test_reported(void) {
    Reported r;
    Err e = {{0}};
    if (reported_load(&r, "analysis/reported/paper_tables.csv", &e)) {
        CHECK(0, "reported_lookup", "%s (make test runs this from the repository root)", e.msg);
        return;
    }
    RepSel q = {.n = 6};
    const char *kv[6][2] = {{"table", "table2"},       {"model", "60M"},      {"optimizer", "adam"},
                            {"weight_decay", "1e-05"}, {"method", "uniform"}, {"metric", "val_ppl"}};
    for (int i = 0; i < 6; i++) {
        strcpy(q.key[i], kv[i][0]);
        strcpy(q.val[i], kv[i][1]);
    }
    double v = 0;
    CHECK(reported_lookup(&r, &q, &v, &e) == 0 && v == 32.39, "paper Table 2, 60M, 1e-5, Uniform = 32.39", "%g %s", v,
          e.msg);
    RepSel amb = {.n = 2};
    strcpy(amb.key[0], "table");
    strcpy(amb.val[0], "table10");
    strcpy(amb.key[1], "model");
    strcpy(amb.val[1], "60M");
    CHECK(reported_lookup(&r, &amb, &v, &e) < 0 && strstr(e.msg, "several"), "ambiguous paper lookup refused", "%s",
          e.msg);
    reported_free(&r);
}

/* A run of the select_by tests: val_ppl sel (summary.json, and the selection set's ppl in eval.jsonl),
 * test_ppl test (the held-out set, eval.jsonl), at weight decay wd. */
static void sel_run(const char *method, const char *wd, int seed, double sel, double test) {
    char dir[256], config[1024], rel[300], eval[256];
    snprintf(dir, sizeof dir, "sel/%s_%s_s%d", method, wd, seed);
    snprintf(config, sizeof config,
             "# fully resolved\nversion: \"0.1.0\"\nmodel:\n  hidden_size: 64\ntrain:\n  optimizer: adamw\n"
             "  seed: %d\n  threads: 1\ndecay:\n  method: %s\n  weight_decay: %s\n",
             seed, method, wd);
    put_run(dir, config, "{\"step\": 2, \"tokens\": 512, \"loss\": 5.0, \"elapsed_s\": 1.0}\n", "completed", sel, 60);
    snprintf(rel, sizeof rel, "%s/eval.jsonl", dir);
    snprintf(eval, sizeof eval, "{\"step\": 2, \"loss\": %.17g, \"ppl\": %.17g, \"test_ppl\": %.17g}\n", log(sel), sel,
             test);
    put(rel, eval);
}

/* best_of with select_by: the column is chosen by another metric's mean over the same runs (eta on the
 * selection set), the cell reports its own metric (the test set). Uniform's selection set prefers y while
 * its test set prefers x, so the two choices differ; AlphaDecay prefers x on both. */
static void test_select_by(void) {
    const double ux_t[3] = {100, 101, 102}, ux_v[3] = {110, 111, 112};   /* Uniform x: test mean 101, sel 111 */
    const double uy_t[3] = {103, 104, 105}, uy_v[3] = {105, 106, 107};   /* Uniform y: test 104, sel 106 */
    const double ax_t[3] = {99, 100, 100.5}, ax_v[3] = {100, 101, 102};  /* AlphaDecay x: sel 101 */
    const double ay_t[3] = {102, 102.5, 104}, ay_v[3] = {104, 105, 106}; /* AlphaDecay y: sel 105 */
    for (int i = 0; i < 3; i++) {
        sel_run("uniform", "1", i + 1, ux_v[i], ux_t[i]);
        sel_run("uniform", "2", i + 1, uy_v[i], uy_t[i]);
        sel_run("alphadecay", "1", i + 1, ax_v[i], ax_t[i]);
        sel_run("alphadecay", "2", i + 1, ay_v[i], ay_t[i]);
    }
    const char *head = "table: sb\nresults: sel\nmetric: test_ppl\ncompare: {vs: U}\nrows:\n"
                       "  - {label: U, where: {decay.method: uniform}}\n"
                       "  - {label: A, where: {decay.method: alphadecay}}\ncolumns:\n"
                       "  - {label: x, where: {decay.weight_decay: 1}}\n"
                       "  - {label: y, where: {decay.weight_decay: 2}}\n";
    char spec[1024];
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    /* without select_by: chosen on the reported test_ppl itself, both rows at x (the column x test repeats) */
    snprintf(spec, sizeof spec, "%s  - {label: best, best_of: [x, y]}\n", head);
    if (!build_ok(spec, &t, s, &rs, "best_of on the reported metric builds")) return;
    CHECK(!strcmp(table_cell(&t, 0, 2)->from, "x") && !strcmp(table_cell(&t, 1, 2)->from, "x") &&
              !table_cell(&t, 0, 2)->chosen_by,
          "on its own metric, both rows' best is x", "%s %s", table_cell(&t, 0, 2)->from, table_cell(&t, 1, 2)->from);
    CHECK(t.holm_m == 2, "the best column repeats column x: 2 distinct tests", "m %d", t.holm_m);
    unbuild(&t, &rs);

    snprintf(spec, sizeof spec, "%s  - {label: best, best_of: [x, y], select_by: val_ppl}\n", head);
    if (!build_ok(spec, &t, s, &rs, "best_of with select_by builds")) return;
    const Cell *ub = table_cell(&t, 0, 2), *ab = table_cell(&t, 1, 2), *ax = table_cell(&t, 1, 0);
    CHECK(!strcmp(ub->from, "y") && ub->chosen_by && !strcmp(ub->chosen_by, "val_ppl"),
          "Uniform chosen on val_ppl: y (106 < 111), though its test_ppl is lower at x", "%s", ub->from);
    CHECK_CLOSE(ub->mean, 104.0, 1e-12, 0, "Uniform's best reports y's test_ppl mean");
    CHECK_CLOSE(ub->chosen_mean, 106.0, 1e-12, 0, "the selection mean it was chosen by");
    CHECK(!strcmp(ab->from, "x"), "AlphaDecay chosen on val_ppl: x (101 < 105)", "%s", ab->from);
    CHECK_CLOSE(ab->mean, (99 + 100 + 100.5) / 3, 1e-12, 0, "AlphaDecay's best reports x's test_ppl mean");
    /* A at x against U at y, by seed: 99 - 103, 100 - 104, 100.5 - 105 */
    CHECK(ab->has_cmp && ab->npairs == 3, "the tuned comparison pairs 3 seeds", "%d", ab->npairs);
    CHECK_CLOSE(ab->diff, -12.5 / 3, 1e-12, 0, "tuned difference: A at x minus U at y");
    CHECK(t.holm_m == 3 && !ab->repeats, "a new distinct test (A x against U y): Holm over 3", "m %d", t.holm_m);
    CHECK(ax->has_cmp && fabs(ax->diff - ab->diff) > 1, "column x compares A x with U x, not U y", "%g", ax->diff);
    StrBuf md = {0}, csv = {0}, tex = {0};
    table_markdown(&t, &md);
    table_csv(&t, &csv);
    table_latex(&t, &tex);
    CHECK(strstr(md.p, "(n=3) at y by val_ppl |") && strstr(md.p, "best: each row at its best mean val_ppl") &&
              strstr(md.p, "no selection on the reported data"),
          "Markdown: the cell names the column and the metric that chose it; the note says so", "%s", md.p);
    CHECK(strstr(csv.p, ",from_column,chosen_by,chosen_by_mean\n") && strstr(csv.p, ",y,val_ppl,106\n") &&
              strstr(csv.p, ",x,val_ppl,101\n"),
          "CSV: from_column, chosen_by and its mean", "%s", csv.p);
    CHECK(strstr(tex.p, "at y by val\\_ppl") != NULL, "LaTeX: the metric escaped", "%s", tex.p);
    sb_free(&md);
    sb_free(&csv);
    sb_free(&tex);
    unbuild(&t, &rs);

    /* malformed select_by: FILE:LINE:COL of the offending node (line 11, the best_of column) */
    static const struct {
        const char *col, *pos, *msg;
    } BAD[] = {
        {"{label: best, select_by: val_ppl}", "spec.yaml:11:30", "needs best_of"},
        {"{label: best, best_of: [x, y], select_by: bogus}", "spec.yaml:11:47", "unknown metric \"bogus\""},
        {"{label: best, best_of: [x, y], select_by: [val_ppl]}", "spec.yaml:11:47", "select_by must be a plain value"},
        {"{label: best, best_of: [x, y], select_by: wall_seconds}", "spec.yaml:11:47", "no better direction"},
        {"{label: best, best_of: [x, y], select_by: test_ppl}", "spec.yaml:11:47", "the column's own metric"},
    };
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        snprintf(spec, sizeof spec, "%s  - %s\n", head, BAD[k].col);
        refused(spec, BAD[k].pos, BAD[k].msg, BAD[k].col);
    }
    /* a run without the selection metric: refused, naming it (best_val_step needs test_ppl in eval.jsonl) */
    put("sel/uniform_1_s1/eval.jsonl", "{\"step\": 2, \"loss\": 4.7, \"ppl\": 110}\n");
    snprintf(spec, sizeof spec,
             "table: sb\nresults: sel\nmetric: val_ppl\ncompare: {vs: U}\nrows:\n"
             "  - {label: U, where: {decay.method: uniform}}\ncolumns:\n"
             "  - {label: x, where: {decay.weight_decay: 1}}\n  - {label: y, where: {decay.weight_decay: 2}}\n"
             "  - {label: best, best_of: [x, y], select_by: test_ppl}\n");
    refused(spec, "uniform_1_s1", "test_ppl", "a run lacking the selection metric is refused, named");
    free(s);
}

int main(void) {
    if (!scratch_dir(ROOT, sizeof ROOT, NULL, "test_stats")) return check_summary();
    test_formulas();
    test_values_and_json();
    test_runs();
    test_table();
    test_reported();
    test_compare();
    test_collapse_and_dedup();
    test_select_by();
    scratch_remove(ROOT);
    return check_summary();
}
