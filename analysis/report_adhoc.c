/* report_adhoc.c - `alphadecay report compare` and `report curves`: the spec machinery without a spec
 * file, for comparing runs by hand before writing one (docs/analysis.md, "Comparing runs by hand").
 *
 *   report compare RESULTS_DIR --by KEY --baseline VALUE [--metric M] [--pair-by KEY]
 *                  [--where KEY=VALUE]... [--out FILE.csv]
 *       One row per value of KEY among the runs, one column (the metric), compared with the baseline
 *       row: the same Spec and Table a spec file would give (table.c, stats.c), so the console shows
 *       mean ± std and n, the paired difference with its 95% interval, t and Holm p, exact Wilcoxon and
 *       sign p and the MDE; --out writes the table's long CSV.
 *   report curves RUN_DIR... [--metric val_ppl|loss] --out FIG.png
 *       A curves figure with one series per run directory (fig_runs.c), written as FIG.png, FIG.pdf and
 *       FIG.gp with its data files beside it. */
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "figure.h"
#include "kv.h"
#include "report.h"
#include "table.h"

static int bad_usage(const char *verb, const char *msg) {
    char cmd[32];
    snprintf(cmd, sizeof cmd, "report %s", verb);
    return args_usage_error(cmd, "%s", msg);
}

static int cmp_vals(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    double u, v;
    if (!kv_parse_number(x, &u) && !kv_parse_number(y, &v)) return (u > v) - (u < v);
    return strcmp(x, y);
}

/* Adds `KEY: VALUE` to a selection. */
static int where_add(Where *w, const char *key, const char *val) {
    if (w->n == SPEC_MAX_COND || strlen(key) >= sizeof w->c[0].key || strlen(val) >= sizeof w->c[0].vals[0]) return -1;
    kv_strfmt(w->c[w->n].key, sizeof w->c[0].key, "%s", key);
    kv_strfmt(w->c[w->n].vals[0], sizeof w->c[0].vals[0], "%s", val);
    w->c[w->n++].nvals = 1;
    return 0;
}

static int do_compare(const char *dir, const char *by, const char *base, const char *metric, const char *pair_by,
                      char **wheres, int nwhere, const char *out) {
    Err e = {{0}};
    RunSet rs = {0};
    if (runs_scan(dir, &rs, &e)) {
        fprintf(stderr, "alphadecay report compare: %s\n", e.msg);
        return 1;
    }
    Spec *s = xcalloc(1, sizeof *s);
    kv_strfmt(s->path, sizeof s->path, "%s", dir);
    kv_strfmt(s->name, sizeof s->name, "compare");
    kv_strfmt(s->kind, sizeof s->kind, "table");
    kv_strfmt(s->metric, sizeof s->metric, "%s", metric);
    kv_strfmt(s->results[0], sizeof s->results[0], "%s", dir);
    s->nresults = 1;
    kv_strfmt(s->pair_by, sizeof s->pair_by, "%s", pair_by);
    if (strcmp(pair_by, "train.seed")) { /* the pairing key differs between a cell's runs by design */
        kv_strfmt(s->allow_differ[0], sizeof s->allow_differ[0], "%s", pair_by);
        s->nallow = 1;
    }
    kv_strfmt(s->title, sizeof s->title, "%s by %s against %s = %s (%s)", metric, by, by, base, dir);
    const MetricInfo *mi = metric_info(metric); /* its better direction from the one metric table */
    s->better = mi && mi->better > 0 ? 1 : -1;  /* (every metric is compared here, so no "none") */
    s->digits = strstr(metric, "loss") || strstr(metric, "alpha") ? 3 : 2;
    s->layer = -1;
    int rc = 1;
    for (int i = 0; i < nwhere; i++) {
        char key[96];
        const char *eq = strchr(wheres[i], '=');
        kv_strfmt(key, sizeof key, "%.*s", eq ? (int)(eq - wheres[i]) : 0, wheres[i]);
        if (!eq || !key[0] || where_add(&s->where, key, eq + 1)) {
            rc = bad_usage("compare", "--where takes KEY=VALUE");
            goto done;
        }
    }
    if (!metric_known(metric)) {
        fprintf(stderr, "alphadecay report compare: unknown metric \"%s\"\n", metric);
        goto done;
    }
    /* the rows: every value of KEY among the selected runs, the baseline's first */
    const char *vals[SPEC_MAX_SEL];
    int nv = 0, have_base = 0;
    for (int i = 0; i < rs.n; i++) {
        const char *v = run_coord(&rs.runs[i], by);
        int seen = 0, match = 1;
        for (int k = 0; k < s->where.n && match; k++) { /* values among the --where runs only */
            const char *w = run_coord(&rs.runs[i], s->where.c[k].key);
            match = w && kv_value_equal(w, s->where.c[k].vals[0]);
        }
        if (!v || !match) continue;
        for (int k = 0; k < nv && !seen; k++) seen = kv_value_equal(vals[k], v);
        if (seen) continue;
        if (nv == SPEC_MAX_SEL) {
            fprintf(stderr, "alphadecay report compare: %s takes more than %d values under %s\n", by, SPEC_MAX_SEL,
                    dir);
            goto done;
        }
        vals[nv++] = v;
        have_base |= kv_value_equal(v, base);
    }
    if (!nv) {
        fprintf(stderr, "alphadecay report compare: no run under %s has %s in its config\n", dir, by);
        goto done;
    }
    if (!have_base) {
        fprintf(stderr, "alphadecay report compare: no run under %s has %s = %s (values:", dir, by, base);
        for (int k = 0; k < nv; k++) fprintf(stderr, " %s", vals[k]);
        fprintf(stderr, ")\n");
        goto done;
    }
    qsort(vals, (size_t)nv, sizeof *vals, cmp_vals);
    for (int k = 0; k < nv; k++) {
        Sel *r = &s->rows[s->nrows++];
        r->digits = -1;
        kv_strfmt(r->label, sizeof r->label, "%s", vals[k]);
        if (where_add(&r->where, by, vals[k])) {
            fprintf(stderr,
                    "alphadecay report compare: %s = %s: the value is too long to select by (at most %zu "
                    "characters)\n",
                    by, vals[k], sizeof r->where.c[0].vals[0] - 1);
            goto done;
        }
        if (kv_value_equal(vals[k], base)) kv_strfmt(s->compare_vs, sizeof s->compare_vs, "%s", vals[k]);
    }
    Sel *c = &s->cols[s->ncols++];
    c->digits = -1;
    kv_strfmt(c->label, sizeof c->label, "%s", metric);
    Table t = {0};
    if (table_build(&t, s, &rs, NULL, &e)) {
        fprintf(stderr, "alphadecay report compare: %s\n  (narrow the runs with --where KEY=VALUE)\n", e.msg);
        table_free(&t);
        goto done;
    }
    if (t.warn.p && t.warn.p[0]) fprintf(stderr, "%s", t.warn.p);
    StrBuf md = {0}, csv = {0};
    table_markdown(&t, &md);
    fputs(md.p, stdout);
    rc = 0;
    if (out) {
        table_csv(&t, &csv);
        if (write_file_atomic(out, csv.p, csv.len, &e)) {
            fprintf(stderr, "alphadecay report compare: %s\n", e.msg);
            rc = 1;
        } else {
            fprintf(stderr, "report compare: wrote %s\n", out);
        }
    }
    sb_free(&md);
    sb_free(&csv);
    table_free(&t);
done:
    runs_free(&rs);
    free(s);
    return rc;
}

static int do_curves(char **dirs, int ndirs, const char *metric, const char *out) {
    Err e = {{0}};
    size_t l = strlen(out);
    if (l < 5 || strcmp(out + l - 4, ".png")) return bad_usage("curves", "--out must name a .png file");
    RunSet rs = {0};
    rs.runs = xcalloc((size_t)ndirs, sizeof *rs.runs);
    rs.n = rs.cap = ndirs;
    Spec *s = xcalloc(1, sizeof *s);
    int rc = 1;
    for (int i = 0; i < ndirs; i++) {
        run_load(&rs.runs[i], dirs[i]);
        if (!rs.runs[i].cfg.n) {
            fprintf(stderr, "alphadecay report curves: %s: not a run directory (%s)\n", dirs[i],
                    rs.runs[i].problem[0] ? rs.runs[i].problem : "no config.yaml");
            goto done;
        }
        /* each run its own series, selected by a name only it has: its position on the command line (not
         * its path, which may be longer than a selection value holds) */
        kv_strfmt(rs.runs[i].name, sizeof rs.runs[i].name, "%d", i + 1);
        Sel *r = &s->rows[s->nrows++];
        if (s->nrows > SPEC_MAX_SEL) {
            fprintf(stderr, "alphadecay report curves: at most %d runs\n", SPEC_MAX_SEL);
            goto done;
        }
        r->digits = -1;
        /* the legend: the path, or its end (where the run's name is) when it does not fit */
        size_t dl = strlen(dirs[i]);
        if (dl < sizeof r->label) kv_strfmt(r->label, sizeof r->label, "%s", dirs[i]);
        else kv_strfmt(r->label, sizeof r->label, "...%s", dirs[i] + dl - (sizeof r->label - 4));
        if (where_add(&r->where, "run.name", rs.runs[i].name)) {
            fprintf(stderr, "alphadecay report curves: %s: cannot select the run\n", dirs[i]);
            goto done;
        }
    }
    char outdir[AD_PATH_MAX], name[96];
    const char *slash = strrchr(out, '/');
    kv_strfmt(outdir, sizeof outdir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
    kv_strfmt(name, sizeof name, "%.*s", (int)(l - 4 - (slash ? slash + 1 - out : 0)), slash ? slash + 1 : out);
    kv_strfmt(s->path, sizeof s->path, "report curves");
    kv_strfmt(s->name, sizeof s->name, "%s", name);
    kv_strfmt(s->kind, sizeof s->kind, "curves");
    kv_strfmt(s->title, sizeof s->title, "%s",
              !strcmp(metric, "loss")      ? "training loss"
              : !strcmp(metric, "val_ppl") ? "validation perplexity"
                                           : "training loss and validation perplexity");
    kv_strfmt(s->metric, sizeof s->metric, "val_ppl");
    s->curves_panel = !strcmp(metric, "loss") ? 1 : !strcmp(metric, "val_ppl") ? 2 : 0;
    s->is_figure = 1;
    s->layer = -1;
    kv_strfmt(s->step, sizeof s->step, "final");
    /* runs of different configs are the point here: nothing is averaged (one run per series) */
    if (mkdir_p(outdir, &e)) goto fail;
    StrBuf warn = {0};
    int frc = figure_make(s, &rs, NULL, outdir, &warn, &e);
    if (warn.p && warn.p[0]) fprintf(stderr, "%s", warn.p);
    sb_free(&warn);
    if (frc) goto fail;
    printf("%s/%s.png\n%s/%s.pdf\n", outdir, name, outdir, name);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "alphadecay report curves: %s\n", e.msg);
done:
    runs_free(&rs);
    free(s);
    return rc;
}

static void adhoc_usage(FILE *f) {
    fprintf(f, "usage: alphadecay report compare RESULTS_DIR --by KEY --baseline VALUE [--metric M] [--pair-by KEY]\n"
               "                                 [--where KEY=VALUE]... [--out FILE.csv]\n"
               "       alphadecay report curves RUN_DIR... [--metric val_ppl|loss] --out FIG.png\n"
               "compare: the runs' metric (default val_ppl) per value of KEY against the baseline value, as a\n"
               "       spec's compare table; curves: any runs' training loss and validation perplexity.\n"
               "Details: docs/analysis.md, \"Comparing runs by hand\".\n");
}

int report_adhoc(int argc, char **argv) {
    const char *verb = argv[1];
    const char *by = NULL, *base = NULL, *metric = NULL, *pair_by = "train.seed", *out = NULL;
    const char *posv[SPEC_MAX_SEL + 1], *wherev[SPEC_MAX_COND];
    ArgList pos = {.v = posv, .cap = SPEC_MAX_SEL + 1}, wl = {.v = wherev, .cap = SPEC_MAX_COND};
    const ArgSpec specs[] = {
        {"--by", NULL, ARG_STR, &by, 0, 0},
        {"--baseline", NULL, ARG_STR, &base, 0, 0},
        {"--metric", NULL, ARG_STR, &metric, 0, 0},
        {"--pair-by", NULL, ARG_STR, &pair_by, 0, 0},
        {"--out", NULL, ARG_STR, &out, 0, 0},
        {"--where", NULL, ARG_EACH, &wl, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    char cmd[32];
    snprintf(cmd, sizeof cmd, "report %s", verb);
    int u = args_parse(cmd, argc - 1, argv + 1, specs, &pos, adhoc_usage);
    if (u) return u == 1 ? 0 : 2;
    char **p = (char **)pos.v, **wheres = (char **)wl.v;
    int npos = pos.n, nwhere = wl.n;
    if (!strcmp(verb, "compare")) {
        if (npos != 1) return bad_usage(verb, "expected one RESULTS_DIR");
        if (!by || !base) return bad_usage(verb, "--by KEY and --baseline VALUE are required");
        return do_compare(p[0], by, base, metric ? metric : "val_ppl", pair_by, wheres, nwhere, out);
    }
    if (!npos) return bad_usage(verb, "expected at least one RUN_DIR");
    if (npos > SPEC_MAX_SEL) return bad_usage(verb, "too many RUN_DIRs");
    if (!out) return bad_usage(verb, "--out FIG.png is required");
    if (metric && strcmp(metric, "val_ppl") && strcmp(metric, "loss"))
        return bad_usage(verb, "--metric is val_ppl or loss");
    return do_curves(p, npos, metric ? metric : "", out);
}
