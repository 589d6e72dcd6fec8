/* report.c - `alphadecay report index|table|plot|all`: the CLI over the analysis library.
 *
 *   report index RESULTS_DIR [--out FILE]        a CSV row per run (stdout, or FILE)
 *   report table SPEC... [common options]        NAME.md / NAME.tex / NAME.csv, Markdown also to stdout
 *   report plot SPEC...  [common options]        NAME.png / NAME.pdf (+ NAME.gp and data) via gnuplot
 *   report all [--specs DIR] [common options]    every *.yaml spec in DIR (default analysis/specs)
 * common: --root DIR (spec `results:` paths are relative to it, default .), --out-dir DIR (default
 * ROOT/paper/generated for the paper's specs, those in ROOT/analysis/specs/; for any other spec the
 * directory of the runs it reads + /report, so a user's spec never writes into the paper), --reported CSV (default ROOT/analysis/reported/paper_tables.csv), --quiet,
 * --results DIR (read runs from DIR instead of the spec's `results:`, e.g. a fresh results/quick).
 * Warnings (failed runs, missing spectra, gnuplot absent) go to stderr as "warning: ..." lines. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "facts.h"
#include "figure.h"
#include "kv.h"
#include "report.h"
#include "report_index.h"
#include "reported.h"
#include "table.h"

typedef struct {
    const char *root, *out_dir, *reported, *specs, *out, *results, *claims;
    int quiet;
} Opts;

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: alphadecay report index RESULTS_DIR [--out FILE]\n"
        "       alphadecay report table SPEC.yaml... [--root DIR] [--out-dir DIR] [--reported CSV] [--results DIR] "
        "[--quiet]\n"
        "                               [--claims FILE]\n"
        "       alphadecay report plot SPEC.yaml... [--root DIR] [--out-dir DIR] [--results DIR]\n"
        "       alphadecay report all [--specs DIR] [--root DIR] [--out-dir DIR] [--reported CSV] [--quiet]\n"
        "       alphadecay report compare RESULTS_DIR --by KEY --baseline VALUE [--metric M] [--pair-by KEY]\n"
        "                                 [--where KEY=VALUE]... [--out FILE.csv]\n"
        "       alphadecay report curves RUN_DIR... [--metric val_ppl|loss] --out FIG.png\n\n"
        "index: scan a results tree, one CSV row per run (grid coordinates, status, final val loss/ppl,\n"
        "       steps, tokens, wall seconds); partial, failed and unreadable runs are listed as such.\n"
        "table: a table spec -> OUT_DIR/NAME.md, NAME.tex (booktabs), NAME.csv; Markdown also on stdout;\n"
        "       exits 1 when a spec's claim does not hold; --claims FILE writes the specs' claims (claims.md's form).\n"
        "plot:  a figure spec -> OUT_DIR/NAME.png and NAME.pdf through gnuplot (NAME.gp kept).\n"
        "all:   every *.yaml in --specs (default ROOT/analysis/specs); specs whose results directory\n"
        "       does not exist are skipped with a message; writes the prose's numbers.tex/.md and\n"
        "       claims.tex/.md and exits 1 when a spec's claim does not hold (docs/analysis.md).\n"
        "compare: the runs' metric (default val_ppl) per value of KEY against the baseline value, as a\n"
        "       spec's compare table: mean +- std (n), paired difference with 95%% interval, t / Holm /\n"
        "       Wilcoxon / sign p, MDE; pairs by train.seed unless --pair-by; --out writes the CSV.\n"
        "curves: training loss and validation perplexity (or one, --metric) of any runs, one series each.\n"
        "Spec `results:` paths are relative to --root (default .). --out-dir defaults to ROOT/paper/generated\n"
        "for the paper's specs (those in ROOT/analysis/specs/) and to RESULTS/report/ for any other spec\n"
        "(RESULTS: the runs it reads, --results or its results:), so your own specs stay out of the paper;\n"
        "--reported defaults to ROOT/analysis/reported/paper_tables.csv. --results DIR reads the runs from\n"
        "DIR instead of the spec's results: (e.g. make run's fresh results/quick). Spec format: analysis/spec.h.\n");
}

static void path_join(char *dst, size_t cap, const char *root, const char *p) {
    if (p[0] == '/' || !strcmp(root, ".")) kv_strfmt(dst, cap, "%s", p);
    else kv_strfmt(dst, cap, "%s/%s", root, p);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void print_warnings(const char *text) {
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        if (len) fprintf(stderr, "warning: %.*s\n", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

static int write_out(const char *dir, const char *name, const char *ext, const StrBuf *b, Err *e) {
    char path[AD_PATH_MAX];
    kv_strfmt(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return write_file_atomic(path, b->p ? b->p : "", b->len, e);
}

/* The default output directory of one spec: the paper's own specs (in ROOT/analysis/specs/) write to
 * ROOT/paper/generated, every other spec beside the runs it reads, in RESULTS/report. */
static void default_out_dir(const char *spec_path, const char *root, const char *results, char *out, size_t cap) {
    char specs[AD_PATH_MAX], dir[AD_PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    path_join(specs, sizeof specs, root, "analysis/specs");
    kv_strfmt(dir, sizeof dir, "%s", spec_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else kv_strfmt(dir, sizeof dir, ".");
    if (realpath(specs, a) && realpath(dir, b) && !strcmp(a, b)) path_join(out, cap, root, "paper/generated");
    else kv_strfmt(out, cap, "%s/report", results);
}

/* 0 done, 1 failed (message printed), 2 skipped because the results directory is absent. A table's
 * numbers and claims (facts.h) are appended to *facts when given. */
static int do_spec(const char *spec_path, const Opts *o, int want_table, int want_fig, int skip_missing, Facts *facts) {
    Err e = {{0}};
    Spec *s = xcalloc(1, sizeof *s);
    int rc = 1;
    RunSet rs = {0};
    Reported rep = {0};
    Table t = {0};
    if (spec_load(s, spec_path, &e)) goto fail;
    if ((s->is_figure && !want_fig) || (!s->is_figure && !want_table)) {
        fprintf(stderr, "alphadecay report: %s is a %s spec; use `report %s`\n", spec_path,
                s->is_figure ? "figure" : "table", s->is_figure ? "plot" : "table");
        free(s);
        return 1;
    }
    /* the spec's results: directories (--results replaces them all); the first names the default output */
    char dirs[SPEC_MAX_RESULTS][AD_PATH_MAX];
    int ndirs = o->results ? 1 : s->nresults, missing = -1, nmissing = 0;
    for (int k = 0; k < ndirs; k++) {
        path_join(dirs[k], sizeof dirs[k], o->root, o->results ? o->results : s->results[k]);
        if (!is_dir(dirs[k])) nmissing++, missing = missing < 0 ? k : missing;
    }
    /* a scaling figure's directories are separate grids (fig_scaling.c reads each), and a wd_steps figure draws
     * the runs of the directories there (fig_wd.c): both name the directories not committed yet and are skipped
     * only when none is */
    int scaling = !strcmp(s->kind, "scaling"), partial = scaling || !strcmp(s->kind, "wd_steps");
    if (partial && nmissing < ndirs) missing = -1;
    const char *results = dirs[0];
    /* a table with columns of the paper's numbers is shown without runs (ours "no run"): the paper's
     * Tables 3-5 are on file even where nothing of ours exists */
    int paper_cols = 0;
    for (int i = 0; i < s->ncols; i++) paper_cols |= s->cols[i].paper_only;
    if (missing >= 0 && skip_missing && !paper_cols) {
        fprintf(stderr, "skipped %s: no results at %s\n", spec_path, dirs[missing]);
        free(s);
        return 2;
    }
    if (!scaling && (missing < 0 || !paper_cols)) {
        char there[SPEC_MAX_RESULTS][AD_PATH_MAX];
        int nthere = 0;
        for (int k = 0; k < ndirs; k++)
            if (!partial || is_dir(dirs[k])) memcpy(there[nthere++], dirs[k], AD_PATH_MAX);
        if (runs_scan_list((const char(*)[AD_PATH_MAX])there, nthere, &rs, &e)) goto fail;
        if (rs.warn.p) fputs(rs.warn.p, stderr);
        if (!rs.n) fprintf(stderr, "warning: %s: no run directories under %s\n", spec_path, results);
    }
    char out_dir[AD_PATH_MAX];
    if (o->out_dir) kv_strfmt(out_dir, sizeof out_dir, "%s", o->out_dir);
    else default_out_dir(spec_path, o->root, results, out_dir, sizeof out_dir);
    if (mkdir_p(out_dir, &e)) goto fail;
    if (s->is_figure) {
        StrBuf warn = {0};
        if (s->rep_mode && reported_load(&rep, o->reported, &e)) goto fail;
        FigGrids grids = {(const char(*)[AD_PATH_MAX])dirs, ndirs, s->rep_mode ? &rep : NULL, facts};
        int frc = figure_make(s, &rs, partial ? &grids : NULL, out_dir, &warn, &e);
        if (warn.p) print_warnings(warn.p);
        sb_free(&warn);
        if (frc) goto fail;
        if (!o->quiet) printf("%s/%s.png\n%s/%s.pdf\n", out_dir, s->name, out_dir, s->name);
    } else {
        if (s->rep_mode && reported_load(&rep, o->reported, &e)) goto fail;
        if (table_build(&t, s, &rs, s->rep_mode ? &rep : NULL, &e) || family_apply(&t, o->root, &e)) goto fail;
        print_warnings(t.warn.p);
        StrBuf md = {0}, tex = {0}, csv = {0};
        table_markdown(&t, &md);
        table_latex(&t, &tex);
        table_csv(&t, &csv);
        int wrc = write_out(out_dir, s->name, "md", &md, &e) || write_out(out_dir, s->name, "tex", &tex, &e) ||
                  write_out(out_dir, s->name, "csv", &csv, &e);
        if (!wrc && !o->quiet) printf("%s\n", md.p);
        if (!wrc && !o->quiet && !o->out_dir) fprintf(stderr, "report: wrote %s/%s.md, .tex, .csv\n", out_dir, s->name);
        if (!wrc && facts) facts_eval(&t, facts, &e);
        sb_free(&md);
        sb_free(&tex);
        sb_free(&csv);
        if (wrc) goto fail;
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "alphadecay report: %s\n", e.msg[0] ? e.msg : "failed");
    table_free(&t);
    reported_free(&rep);
    runs_free(&rs);
    free(s);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int do_all(const Opts *o) {
    char dir[AD_PATH_MAX];
    if (o->specs) kv_strfmt(dir, sizeof dir, "%s", o->specs);
    else path_join(dir, sizeof dir, o->root, "analysis/specs");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "alphadecay report: %s: cannot open spec directory\n", dir);
        return 1;
    }
    char *names[512];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".yaml")) {
            names[n] = xcalloc(l + 1, 1);
            memcpy(names[n++], de->d_name, l);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int failed = 0, done = 0, skipped = 0;
    Facts facts = {0};
    facts_begin(&facts);
    for (int i = 0; i < n; i++) {
        char path[AD_PATH_MAX];
        kv_strfmt(path, sizeof path, "%s/%s", dir, names[i]);
        int rc = do_spec(path, o, 1, 1, 1, &facts);
        failed += rc == 1;
        skipped += rc == 2;
        done += rc == 0;
        free(names[i]);
    }
    fprintf(stderr, "report all: %d specs done, %d skipped (no results), %d failed\n", done, skipped, failed);
    /* the prose's numbers and claims: written even when some fail, so the reader sees which */
    Err e = {{0}};
    char fdir[AD_PATH_MAX]; /* --out-dir, else the paper's (where the specs of analysis/specs write) */
    if (o->out_dir) kv_strfmt(fdir, sizeof fdir, "%s", o->out_dir);
    else path_join(fdir, sizeof fdir, o->root, "paper/generated");
    if (mkdir_p(fdir, &e) || write_out(fdir, "numbers", "tex", &facts.num_tex, &e) ||
        write_out(fdir, "numbers", "md", &facts.num_md, &e) || write_out(fdir, "claims", "tex", &facts.claim_tex, &e) ||
        write_out(fdir, "claims", "md", &facts.claim_md, &e)) {
        fprintf(stderr, "alphadecay report: %s\n", e.msg);
        failed++;
    }
    if (facts.nfailed) {
        fprintf(stderr, "%s", facts.failures.p);
        fprintf(stderr, "report all: %d numbers or claims do not hold or cannot be evaluated\n", facts.nfailed);
        failed++;
    } else {
        fprintf(stderr, "report all: %d numbers and %d claims, every claim holds\n", facts.nnumbers, facts.nclaims);
    }
    facts_free(&facts);
    return failed ? 1 : 0;
}

static int do_index(const char *results, const Opts *o) {
    Err e = {{0}};
    RunSet rs;
    if (runs_scan(results, &rs, &e)) {
        fprintf(stderr, "alphadecay report index: %s\n", e.msg);
        return 1;
    }
    if (rs.warn.p) fputs(rs.warn.p, stderr);
    StrBuf b = {0};
    char root[AD_PATH_MAX];
    kv_strfmt(root, sizeof root, "%s", results);
    size_t l = strlen(root);
    while (l > 1 && root[l - 1] == '/') root[--l] = 0;
    index_csv(&rs, root, &b);
    int bad = 0;
    for (int i = 0; i < rs.n; i++)
        if (strcmp(rs.runs[i].status, "completed")) {
            fprintf(stderr, "warning: %s: %s%s%s\n", rs.runs[i].dir, rs.runs[i].status,
                    rs.runs[i].problem[0] ? ": " : "", rs.runs[i].problem);
            bad++;
        }
    int rc = 0;
    if (o->out) {
        if (write_file_atomic(o->out, b.p, b.len, &e)) {
            fprintf(stderr, "alphadecay report index: %s\n", e.msg);
            rc = 1;
        }
    } else {
        fwrite(b.p, 1, b.len, stdout);
    }
    fprintf(stderr, "index: %d runs, %d not completed\n", rs.n, bad);
    sb_free(&b);
    runs_free(&rs);
    return rc;
}

int cmd_report(int argc, char **argv) {
    if (argc < 2) return args_usage_error("report", "expected a verb: index, table, plot, all, compare or curves");
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(verb, "compare") || !strcmp(verb, "curves")) return report_adhoc(argc, argv);
    if (strcmp(verb, "index") && strcmp(verb, "table") && strcmp(verb, "plot") && strcmp(verb, "all"))
        return args_usage_error("report", "unknown verb '%s' (index, table, plot, all, compare, curves)", verb);
    Opts o = {".", NULL, NULL, NULL, NULL, NULL, NULL, 0};
    const char *pos[256];
    ArgList pl = {.v = pos, .cap = 256};
    const ArgSpec specs[] = {
        {"--root", NULL, ARG_STR, &o.root, 0, 0},
        {"--out-dir", NULL, ARG_STR, &o.out_dir, 0, 0},
        {"--reported", NULL, ARG_STR, &o.reported, 0, 0},
        {"--specs", NULL, ARG_STR, &o.specs, 0, 0},
        {"--out", NULL, ARG_STR, &o.out, 0, 0},
        {"--results", NULL, ARG_STR, &o.results, 0, 0},
        {"--quiet", NULL, ARG_FLAG, &o.quiet, 0, 0},
        {"--claims", NULL, ARG_STR, &o.claims, 0, 0},
        {NULL, NULL, 0, NULL, 0, 0},
    };
    char cmd[32];
    snprintf(cmd, sizeof cmd, "report %s", verb);
    int u = args_parse(cmd, argc - 1, argv + 1, specs, &pl, usage);
    if (u) return u == 1 ? 0 : 2;
    int npos = pl.n;
    char reported[AD_PATH_MAX]; /* no --out-dir: each spec's default (default_out_dir) */
    if (!o.reported) {
        path_join(reported, sizeof reported, o.root, "analysis/reported/paper_tables.csv");
        o.reported = reported;
    }
    if (!strcmp(verb, "index")) {
        if (npos != 1) return args_usage_error(cmd, "expected one RESULTS_DIR");
        return do_index(pos[0], &o);
    }
    if (!strcmp(verb, "all")) {
        if (npos) return args_usage_error(cmd, "takes no positional arguments (use --specs DIR)");
        return do_all(&o);
    }
    if (!npos) return args_usage_error(cmd, "expected at least one SPEC.yaml");
    if (o.claims && strcmp(verb, "table")) return args_usage_error(cmd, "--claims is for report table");
    int failed = 0;
    Facts facts = {0};
    facts_begin(&facts);
    for (int i = 0; i < npos; i++)
        failed |= do_spec(pos[i], &o, !strcmp(verb, "table"), !strcmp(verb, "plot"), 0, &facts) != 0;
    if (facts.nfailed) fprintf(stderr, "%s", facts.failures.p);
    failed |= facts.nfailed > 0;
    /* --claims: these specs' claims as claims.md lists them (make run prints what the study's tables claim) */
    Err e = {{0}};
    if (o.claims && write_file_atomic(o.claims, facts.claim_md.p, facts.claim_md.len, &e)) {
        fprintf(stderr, "alphadecay report table: %s\n", e.msg);
        failed = 1;
    }
    facts_free(&facts);
    return failed ? 1 : 0;
}
