/* fig_scaling.c - the scaling figure (kind scaling): a method's paired difference to the baseline against the
 * model's non-embedding parameters, one point per grid, one series per corpus and strength, and beside it the
 * paper's differences at its named model sizes.
 *
 * Each `results:` directory is one grid, read on its own: its model size comes from its runs' config.yaml
 * (model.*, counted by model_count_params, the one formula) and its corpus from the directory of data.train
 * (data/sotu/train.bin: sotu). A directory that does not exist yet is a grid not committed yet: it is named in
 * the figure's subtitle, the tables and NAME_note.tex (the report's caption reads it), never an error. Within a
 * grid the differences are the table machinery's (table.c): every series other than compare.vs against it by
 * seed at the same cell (nominal strength: the spec's where, e.g. the same eta) and, when the spec has
 * compare.at / along, against it interpolated at each run's own applied decay (matched strength); the interval
 * is the paired mean's 95% t interval (docs/analysis.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "figure.h" /* this file's kind */
#include "kv.h"
#include "model.h"
#include "plot.h"

#define SC_MAX_PTS 256

static const char *const STRENGTH[2] = {"nominal", "matched"};

/* One plotted difference of ours: a grid's compared series at one strength. */
typedef struct {
    char grid[96], corpus[64], model[32]; /* model: "h128 x 4" (hidden x layers) */
    double params;                        /* non-embedding parameters */
    int row, strength;                    /* the spec's series index; 0 nominal, 1 matched */
    int npairs;                           /* pairs used (0: none, no point) */
    double diff, lo, hi, p_t;             /* lo / hi NAN with one pair */
    double at, base;                      /* matched: mean applied decay of the pairs, the baseline there */
} ScPt;

/* One of the paper's differences: series col, compared row, model m. */
typedef struct {
    int col, row, model;
    double diff;
} PaperPt;

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The last component of a path, without trailing slashes, into dst. */
static void base_name(const char *path, char *dst, size_t cap) {
    char tmp[AD_PATH_MAX];
    kv_strfmt(tmp, sizeof tmp, "%s", path);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
    const char *sl = strrchr(tmp, '/');
    kv_strfmt(dst, cap, "%s", sl ? sl + 1 : tmp);
}

/* A run's non-embedding parameters (from its model.* keys), "hHIDDEN x LAYERS" and its corpus (the directory
 * holding data.train). */
static int run_size_corpus(const Spec *s, const Run *r, double *params, char *model, size_t mcap, char *corpus,
                           size_t ccap, Err *e) {
    ModelConfig mc;
    Err ce = {{0}};
    if (run_model_config(r, &mc, &ce)) return err_set(e, "%s: %s (the model size the figure plots)", s->path, ce.msg);
    size_t non;
    Err me = {{0}};
    if (model_count_params(&mc, NULL, &non, &me)) return err_set(e, "%s: run %s: %s", s->path, r->dir, me.msg);
    *params = (double)non;
    kv_strfmt(model, mcap, "h%d x %d", mc.hidden_size, mc.num_hidden_layers);
    const char *train = run_coord(r, "data.train");
    char dir[AD_PATH_MAX];
    kv_strfmt(dir, sizeof dir, "%s", train ? train : "");
    char *sl = strrchr(dir, '/');
    if (!sl) return err_set(e, "%s: run %s: data.train \"%s\" names no corpus directory", s->path, r->dir, dir);
    *sl = 0;
    base_name(dir, corpus, ccap);
    return 0;
}

/* The spec as a one-column table comparing its series with compare.vs: nominal (paired at the same cell) or
 * matched (compare.at / along kept). Heap-allocated. */
static Spec *sc_table_spec(const Spec *s, int strength) {
    Spec *c = xcalloc(1, sizeof *c);
    *c = *s;
    kv_strfmt(c->kind, sizeof c->kind, "table");
    c->is_figure = 0;
    c->rep_mode = 0;
    c->family[0] = 0;
    c->nnumbers = c->nclaims = 0;
    if (!strength) c->compare_at[0] = c->compare_along[0] = 0;
    c->ncols = 1;
    memset(&c->cols[0], 0, sizeof c->cols[0]);
    kv_strfmt(c->cols[0].label, sizeof c->cols[0].label, "%s", STRENGTH[strength]);
    c->cols[0].digits = -1;
    return c;
}

static int row_index(const Spec *s, const char *label) {
    for (int i = 0; i < s->nrows; i++)
        if (!strcmp(s->rows[i].label, label)) return i;
    return -1;
}

/* The grids without a plotted point, and why: "not committed yet" (no directory), "no runs", "no completed runs",
 * "no seed pairs yet" (committed, but no compared run has its baseline's seed yet: a grid whose first runs are in),
 * "one seed pair so far" (a difference without an interval: its table row shows it, the figure does not draw it). */
typedef struct {
    char name[SPEC_MAX_RESULTS][96];
    const char *why[SPEC_MAX_RESULTS];
    int n;
} Missing;

/* A point is drawn only with an interval: a paired mean over at least this many seed pairs. */
#define SC_MIN_PAIRS 2

static void missing_add(Missing *m, const char *grid, const char *why) {
    if (m->n >= SPEC_MAX_RESULTS) return;
    kv_strfmt(m->name[m->n], sizeof m->name[0], "%s", grid);
    m->why[m->n++] = why;
}

static void missing_list(const Missing *m, StrBuf *b) {
    for (int i = 0; i < m->n; i++) sb_printf(b, "%s%s (%s)", i ? ", " : "", m->name[i], m->why[i]);
}

/* One grid: its points (appended to pts), or an entry in *missing saying why it has none. */
static int sc_grid(Fig *f, int k, ScPt *pts, int *npts, Missing *missing, Err *e) {
    const Spec *s = f->spec;
    char grid[96];
    base_name(f->grids->dirs[k], grid, sizeof grid);
    if (!is_dir(f->grids->dirs[k])) {
        missing_add(missing, grid, "not committed yet");
        return 0;
    }
    RunSet rs = {0};
    if (runs_scan(f->grids->dirs[k], &rs, e)) return -1;
    if (rs.warn.p) sb_printf(f->warn, "%s", rs.warn.p);
    int vs = row_index(s, s->compare_vs), rc = 0;
    Table t[2] = {{0}, {0}};
    Spec *ts[2] = {NULL, NULL};
    if (!rs.n) {
        missing_add(missing, grid, "no runs");
        goto done;
    }
    for (int st = 0; st < (s->compare_at[0] ? 2 : 1) && !rc; st++) {
        ts[st] = sc_table_spec(s, st);
        rc = table_build(&t[st], ts[st], &rs, NULL, e);
        if (!rc && t[st].warn.p && t[st].warn.len) sb_printf(f->warn, "%s", t[st].warn.p);
    }
    if (rc) goto done;
    /* the size and corpus of the grid: the baseline's runs and each compared series' must share them */
    double params = 0;
    char model[32] = "", corpus[64] = "", first[AD_PATH_MAX] = "";
    for (int r = 0; r < s->nrows && !rc; r++) {
        const Cell *c = table_cell(&t[0], r, 0);
        for (int i = 0; i < c->n && !rc; i++) {
            const Run *run = &rs.runs[c->ridx[i]];
            double p = 0;
            char m[32], cp[64];
            if ((rc = run_size_corpus(s, run, &p, m, sizeof m, cp, sizeof cp, e))) break;
            if (!first[0]) {
                params = p;
                kv_strfmt(model, sizeof model, "%s", m);
                kv_strfmt(corpus, sizeof corpus, "%s", cp);
                kv_strfmt(first, sizeof first, "%s", run->dir);
            } else if (p != params || strcmp(cp, corpus))
                rc = err_set(e,
                             "%s: grid %s mixes model sizes or corpora (%s: %s on %s; %s: %s on %s): one grid is one "
                             "point, give each size its own results: directory",
                             s->path, grid, first, model, corpus, run->dir, m, cp);
        }
    }
    if (rc) goto done;
    if (!first[0]) {
        missing_add(missing, grid, "no completed runs");
        goto done;
    }
    int first_pt = *npts, maxpairs = 0;
    for (int r = 0; r < s->nrows; r++) {
        if (r == vs) continue;
        for (int st = 0; st < 2 && ts[st]; st++) {
            const Cell *c = table_cell(&t[st], r, 0);
            if (*npts == SC_MAX_PTS) {
                rc = err_set(e, "%s: more than %d points", s->path, SC_MAX_PTS);
                goto done;
            }
            ScPt *p = &pts[(*npts)++];
            memset(p, 0, sizeof *p);
            kv_strfmt(p->grid, sizeof p->grid, "%s", grid);
            kv_strfmt(p->corpus, sizeof p->corpus, "%s", corpus);
            kv_strfmt(p->model, sizeof p->model, "%s", model);
            p->params = params, p->row = r, p->strength = st;
            p->npairs = c->npairs;
            /* with one pair the difference has no interval: the table keeps it in diff_any (matched) */
            p->diff = c->has_cmp ? c->diff : c->npairs == 1 && st ? c->diff_any : NAN;
            p->lo = c->has_cmp ? c->diff_lo : NAN;
            p->hi = c->has_cmp ? c->diff_hi : NAN;
            p->p_t = c->has_cmp ? c->p_t : NAN;
            p->at = c->at && c->npairs ? c->at_mean : NAN;
            p->base = c->at && c->npairs ? c->base_mean : NAN;
            maxpairs = c->npairs > maxpairs ? c->npairs : maxpairs;
            if (c->npairs < SC_MIN_PAIRS)
                sb_printf(f->warn, "%s: grid %s, %s at %s strength: %d seed pair%s with %s: no interval\n", s->name,
                          grid, s->rows[r].label, STRENGTH[st], c->npairs, c->npairs == 1 ? "" : "s", s->compare_vs);
        }
    }
    if (*npts > first_pt && maxpairs < SC_MIN_PAIRS)
        missing_add(missing, grid, maxpairs ? "one seed pair so far" : "no seed pairs yet");
done:
    for (int st = 0; st < 2; st++) {
        table_free(&t[st]);
        free(ts[st]);
    }
    runs_free(&rs);
    return rc;
}

/* The paper's difference for series col, compared row, model m: the row's reported value minus the
 * baseline's, each looked up with the top level's, the series' and the row's reported: keys and the model. */
static void rep_set(RepSel *m, const char *key, const char *val) {
    int j = 0;
    while (j < m->n && strcmp(m->key[j], key)) j++;
    if (j == m->n) {
        if (m->n == SPEC_MAX_KEYS) return;
        m->n++;
    }
    kv_strfmt(m->key[j], sizeof m->key[0], "%s", key);
    kv_strfmt(m->val[j], sizeof m->val[0], "%s", val);
}

static int paper_value(const Fig *f, int col, int row, int model, double *out, Err *e) {
    const Spec *s = f->spec;
    RepSel m = {0};
    const RepSel *parts[3] = {&s->rep, &s->cols[col].rep, &s->rows[row].rep};
    for (int p = 0; p < 3; p++)
        for (int k = 0; k < parts[p]->n; k++) rep_set(&m, parts[p]->key[k], parts[p]->val[k]);
    rep_set(&m, "model", s->paper_models[model]);
    Err me = {{0}};
    int rc = reported_lookup(f->grids->rep, &m, out, &me);
    if (rc < 0)
        return err_set(e, "%s: paper series %s, %s at %s: %s", s->path, s->cols[col].label, s->rows[row].label,
                       s->paper_models[model], me.msg);
    return rc; /* 1: the paper prints no such number */
}

static int sc_paper(const Fig *f, PaperPt *pp, int *npp, Err *e) {
    const Spec *s = f->spec;
    int vs = row_index(s, s->compare_vs);
    *npp = 0;
    if (!s->ncols) return 0;
    if (!f->grids->rep) return err_set(e, "%s: paper_series need the paper's numbers (reported:)", s->path);
    for (int c = 0; c < s->ncols; c++)
        for (int r = 0; r < s->nrows; r++) {
            if (r == vs) continue;
            for (int m = 0; m < s->npaper_models; m++) {
                double a, b;
                int ra = paper_value(f, c, r, m, &a, e), rb = ra ? ra : paper_value(f, c, vs, m, &b, e);
                if (ra < 0 || rb < 0) return -1;
                if (ra || rb) {
                    sb_printf(f->warn, "%s: the paper prints no %s or %s for series %s at %s: no point\n", s->name,
                              s->rows[r].label, s->compare_vs, s->cols[c].label, s->paper_models[m]);
                    continue;
                }
                pp[(*npp)++] = (PaperPt){c, r, m, a - b};
            }
        }
    return 0;
}

/* The corpora in order of first appearance. */
static int corpora(const ScPt *pts, int n, char (*names)[64]) {
    int nc = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < nc && strcmp(names[j], pts[i].corpus)) j++;
        if (j == nc && nc < 8) kv_strfmt(names[nc++], sizeof names[0], "%s", pts[i].corpus);
    }
    return nc;
}

static const char *metric_words(const char *m) {
    const MetricInfo *mi = metric_info(m);
    return mi ? mi->label : m;
}

/* The plotted numbers as CSV, Markdown and LaTeX (NAME.csv / .md / .tex) and the caption's note. */
static int sc_tables(const Fig *f, const ScPt *pts, int n, const PaperPt *pp, int npp, const Missing *missing, Err *e) {
    const Spec *s = f->spec;
    StrBuf csv = {0}, md = {0}, tex = {0}, note = {0};
    sb_printf(&csv, "source,grid,corpus,model,nonembedding_params,strength,series,baseline,npairs,diff,lo,hi,p_t,"
                    "applied,baseline_there,status\n");
    sb_printf(&md, "**%s**\n\n", s->title[0] ? s->title : s->name);
    sb_printf(&md,
              "| grid | corpus | model | non-emb. params | series | strength | pairs | difference [95%% CI] | p (t) "
              "| applied | %s there |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
              s->compare_vs);
    sb_printf(&tex,
              "%% generated by `alphadecay report plot %s`; do not edit\n\\begin{table}[htbp]\n\\centering\n"
              "\\small\n\\caption{",
              s->path);
    tex_escape(s->title[0] ? s->title : s->name, &tex);
    sb_printf(&tex,
              ": the plotted numbers}\n\\label{tab:%s}\n\\adfit{%s}{%%\n\\begin{tabular}{llllrrrrr}\n\\toprule\n"
              "grid & corpus & model & series, strength & non-emb. params & pairs & $\\Delta$ [95\\%% CI] & "
              "$p$ ($t$) & applied \\\\\n\\midrule\n",
              s->name, s->name);
    for (int i = 0; i < n; i++) {
        const ScPt *p = &pts[i];
        const char *row = s->rows[p->row].label;
        sb_printf(&csv, "ours,%s,%s,%s,%.0f,%s,", p->grid, p->corpus, p->model, p->params, STRENGTH[p->strength]);
        sb_csv_field(&csv, row);
        sb_printf(&csv, ",");
        sb_csv_field(&csv, s->compare_vs);
        sb_printf(&csv, ",%d", p->npairs);
        const double nums[6] = {p->diff, p->lo, p->hi, p->p_t, p->at, p->base};
        for (int k = 0; k < 6; k++) /* an undefined number is an empty field */
            if (isfinite(nums[k])) sb_printf(&csv, ",%.6g", nums[k]);
            else sb_printf(&csv, ",");
        sb_printf(&csv, ",%s\n", p->npairs >= SC_MIN_PAIRS ? "ok" : p->npairs ? "one pair" : "no pairs");
        char d[96];
        int dg = s->digits; /* the spec's digits, as every table prints a difference */
        if (isfinite(p->lo)) kv_strfmt(d, sizeof d, "%+.*f [%+.*f, %+.*f]", dg, p->diff, dg, p->lo, dg, p->hi);
        else if (isfinite(p->diff)) kv_strfmt(d, sizeof d, "%+.*f (one pair)", dg, p->diff);
        else kv_strfmt(d, sizeof d, "-");
        char pt[32], at[32], base[32];
        kv_strfmt(pt, sizeof pt, isfinite(p->p_t) ? "%.2g" : "-", p->p_t);
        kv_strfmt(at, sizeof at, isfinite(p->at) ? "%.3f" : "-", p->at);
        kv_strfmt(base, sizeof base, isfinite(p->base) ? "%.2f" : "-", p->base);
        sb_printf(&md, "| %s | %s | %s | %.3gM | %s | %s | %d | %s | %s | %s | %s |\n", p->grid, p->corpus, p->model,
                  p->params / 1e6, row, STRENGTH[p->strength], p->npairs, d, pt, at, base);
        tex_escape(p->grid, &tex);
        sb_printf(&tex, " & ");
        tex_escape(p->corpus, &tex);
        sb_printf(&tex, " & %s & ", p->model);
        tex_escape(row, &tex);
        sb_printf(&tex, ", %s & %.3gM & %d & %s & %s & %s \\\\\n", STRENGTH[p->strength], p->params / 1e6, p->npairs, d,
                  pt, at);
    }
    if (npp) {
        sb_printf(&md, "\nThe paper (%s minus %s, one run each):\n\n| series | model | difference |\n|---|---|---|\n",
                  s->nrows > 2 ? "each series" : s->rows[pp[0].row].label, s->compare_vs);
        sb_printf(&tex, "\\midrule\n\\multicolumn{9}{l}{The paper (one run each):} \\\\\n");
    }
    for (int i = 0; i < npp; i++) {
        const PaperPt *q = &pp[i];
        const char *row = s->rows[q->row].label, *sl = s->cols[q->col].label, *mn = s->paper_models[q->model];
        sb_printf(&csv, "paper,");
        sb_csv_field(&csv, sl);
        sb_printf(&csv, ",,%s,%.0f,nominal,", mn, paper_model_params(mn));
        sb_csv_field(&csv, row);
        sb_printf(&csv, ",");
        sb_csv_field(&csv, s->compare_vs);
        sb_printf(&csv, ",,%.6g,,,,,,ok\n", q->diff);
        sb_printf(&md, "| %s | %s | %+.2f |\n", sl, mn, q->diff);
        sb_printf(&tex, "paper & & %s & ", mn);
        tex_escape(row, &tex);
        sb_printf(&tex, ", ");
        tex_escape(sl, &tex);
        sb_printf(&tex, " & & & %+.2f & & \\\\\n", q->diff);
    }
    sb_printf(&tex, "\\bottomrule\n\\end{tabular}}\n\\par\\smallskip\\footnotesize $\\Delta$: ");
    tex_escape(metric_words(s->metric), &tex);
    sb_printf(&tex, ", each series minus ");
    tex_escape(s->compare_vs, &tex);
    sb_printf(&tex, " paired by seed; nominal: at the same setting, matched: ");
    tex_escape(s->compare_vs, &tex);
    sb_printf(&tex, " interpolated at the run's own applied decay (applied: its mean); interval: the paired mean's "
                    "95\\%% $t$ interval. Non-embedding parameters from each grid's model config.");
    if (missing->n) {
        StrBuf list = {0};
        missing_list(missing, &list);
        for (int i = 0; i < missing->n; i++) {
            int has_rows = 0; /* a grid with too few pairs has its rows above */
            for (int k = 0; k < n && !has_rows; k++) has_rows = !strcmp(pts[k].grid, missing->name[i]);
            if (has_rows) continue;
            sb_printf(&csv, "ours,");
            sb_csv_field(&csv, missing->name[i]);
            sb_printf(&csv, ",,,,,,,,,,,,,,skipped\n");
        }
        sb_printf(&md, "\nNot plotted: %s.\n", list.p);
        sb_printf(&tex, " Not plotted: ");
        tex_escape(list.p, &tex);
        sb_printf(&tex, ".");
        sb_printf(&note, "Grids not plotted: ");
        tex_escape(list.p, &note);
        sb_printf(&note, ".");
        sb_free(&list);
    } else {
        sb_printf(&note, "Every grid the figure lists is plotted.");
    }
    sb_printf(&tex, "\n\\end{table}\n");
    sb_printf(&note, "\n");
    const StrBuf *bufs[4] = {&csv, &md, &tex, &note};
    static const char *const EXT[4] = {".csv", ".md", ".tex", "_note.tex"};
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        char path[AD_PATH_MAX];
        kv_strfmt(path, sizeof path, "%s/%s%s", f->out_dir, s->name, EXT[i]);
        rc = write_file_atomic(path, bufs[i]->p, bufs[i]->len, e);
    }
    sb_free(&csv);
    sb_free(&md);
    sb_free(&tex);
    sb_free(&note);
    return rc;
}

/* A name part from a label: letters, digits and _, the rest _ (numbers are cited as \val{SPEC.NAME}). */
static void name_part(const char *s, char *dst, size_t cap) {
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) {
        char c = s[i];
        dst[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '_';
    }
    dst[i] = 0;
}

/* The numbers the prose may cite, one set per point: SPEC.GRID_nominal and SPEC.GRID_matched (the difference with
 * its interval, as the tables print it), SPEC.GRID_npairs, SPEC.GRID_params (millions), SPEC.GRID_applied; with
 * several compared series the series' label follows the grid. The paper's: SPEC.paper_min and SPEC.paper_max (its
 * differences' range). */
static void sc_facts(const Fig *f, const ScPt *pts, int n, const PaperPt *pp, int npp) {
    const Spec *s = f->spec;
    Facts *fx = f->grids->facts;
    if (!fx) return;
    int ncompared = s->nrows - 1;
    for (int i = 0; i < n; i++) {
        const ScPt *p = &pts[i];
        char g[96], r[96], base[200], name[240], src[400];
        name_part(p->grid, g, sizeof g);
        name_part(s->rows[p->row].label, r, sizeof r);
        kv_strfmt(base, sizeof base, "%s%s%s", g, ncompared > 1 ? "_" : "", ncompared > 1 ? r : "");
        kv_strfmt(name, sizeof name, "%s_%s", base, STRENGTH[p->strength]);
        kv_strfmt(src, sizeof src, "grid %s (%s, %s), %s - %s, %s strength, mean paired difference [95%% interval]",
                  p->grid, p->corpus, p->model, s->rows[p->row].label, s->compare_vs, STRENGTH[p->strength]);
        if (isfinite(p->diff)) facts_add(fx, s->name, name, "diff_ci", p->diff, p->lo, p->hi, s->digits, src);
        if (p->strength == 1 && isfinite(p->at)) {
            kv_strfmt(name, sizeof name, "%s_applied", base);
            kv_strfmt(src, sizeof src, "grid %s, %s: mean applied decay (mean_wd) over the matched pairs", p->grid,
                      s->rows[p->row].label);
            facts_add(fx, s->name, name, "mean", p->at, NAN, NAN, 2, src);
        }
        if (p->strength) continue;
        kv_strfmt(name, sizeof name, "%s_npairs", base);
        kv_strfmt(src, sizeof src, "grid %s, %s: seed pairs at nominal strength", p->grid, s->rows[p->row].label);
        facts_add(fx, s->name, name, "n", p->npairs, NAN, NAN, 0, src);
        if (i && !strcmp(pts[i - 1].grid, p->grid)) continue; /* one size per grid (its points are adjacent) */
        kv_strfmt(name, sizeof name, "%s_params", g);
        kv_strfmt(src, sizeof src, "grid %s: non-embedding parameters (millions) of %s", p->grid, p->model);
        facts_add(fx, s->name, name, "mean", p->params / 1e6, NAN, NAN, 2, src);
    }
    if (!npp) return;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < npp; i++) lo = fmin(lo, pp[i].diff), hi = fmax(hi, pp[i].diff);
    char src[200];
    kv_strfmt(src, sizeof src, "the paper's differences (paper_series, %d points): smallest", npp);
    facts_add(fx, s->name, "paper_min", "signed", lo, NAN, NAN, 2, src);
    kv_strfmt(src, sizeof src, "the paper's differences (paper_series, %d points): largest", npp);
    facts_add(fx, s->name, "paper_max", "signed", hi, NAN, NAN, 2, src);
}

static int cmp_params(const void *a, const void *b) {
    double x = (*(const ScPt *const *)a)->params, y = (*(const ScPt *const *)b)->params;
    return (x > y) - (x < y);
}

/* A reported: key of the spec's top level ("" when absent): the paper panel's title names its table. */
static const char *rep_key(const Spec *s, const char *key) {
    for (int k = 0; k < s->rep.n; k++)
        if (!strcmp(s->rep.key[k], key)) return s->rep.val[k];
    return "";
}

/* Our panel: one series per corpus, compared row and strength, across the grids' sizes (x in millions of
 * non-embedding parameters; the matched points nudged right and the nominal left, so that their intervals
 * stay apart). *nmin / *nmax: the pairs behind a point. */
static int sc_ours(const Fig *f, const ScPt *pts, int n, StrBuf *plot, StrBuf *labels, Key *key, double *xlo,
                   double *xhi, int *nmin, int *nmax, Err *e) {
    const Spec *s = f->spec;
    char corp[8][64];
    int nc = corpora(pts, n, corp), vs = row_index(s, s->compare_vs), color = 0;
    const ScPt **sel = xcalloc((size_t)n + 1, sizeof *sel);
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < s->nrows; r++) {
            if (r == vs) continue;
            const char *col = FIG_COLORS[color++ % 8];
            for (int st = 0; st < 2; st++) {
                int m = 0;
                for (int i = 0; i < n; i++)
                    if (!strcmp(pts[i].corpus, corp[c]) && pts[i].row == r && pts[i].strength == st &&
                        isfinite(pts[i].diff) && pts[i].npairs >= SC_MIN_PAIRS)
                        sel[m++] = &pts[i];
                if (!m) continue;
                qsort(sel, (size_t)m, sizeof *sel, cmp_params);
                StrBuf d = {0};
                for (int i = 0; i < m; i++) {
                    const ScPt *p = sel[i];
                    double x = p->params / 1e6 * (st ? 1.04 : 1 / 1.04);
                    double lo = isfinite(p->lo) ? p->lo : p->diff, hi = isfinite(p->hi) ? p->hi : p->diff;
                    sb_printf(&d, "%.8g %.8g %.8g %.8g %d\n", x, p->diff, lo, hi, p->npairs);
                    if (!st) { /* which model the point is, beside the nominal point */
                        sb_printf(labels, "set label ");
                        gp_str(labels, p->model);
                        sb_printf(labels, " at %.8g, first %.8g right offset -1.8, 0 font \",9\"\n", x, p->diff);
                    }
                    *xlo = fmin(*xlo, x), *xhi = fmax(*xhi, x);
                    *nmin = p->npairs < *nmin ? p->npairs : *nmin;
                    *nmax = p->npairs > *nmax ? p->npairs : *nmax;
                }
                char suffix[48], rel[AD_PATH_MAX];
                snprintf(suffix, sizeof suffix, "ours%d_%d_%s", c, r, STRENGTH[st]);
                int rc = fig_data(f, suffix, &d, rel, sizeof rel, e);
                sb_free(&d);
                if (rc) {
                    free(sel);
                    return -1;
                }
                /* nominal: filled circles on a solid line; matched: open squares on a dashed one */
                sb_printf(plot,
                          "%s'%s' using 1:2:3:4 with yerrorbars pt %d lw 1.5 lc rgb \"%s\" notitle, "
                          "'%s' using 1:2 with lines lw 2 dt %d lc rgb \"%s\" notitle",
                          plot->len ? ", " : "plot ", rel, st ? 4 : 7, col, rel, st ? 2 : 1, col);
                char style[128], title[256];
                kv_strfmt(style, sizeof style, "linespoints pt %d lw 2 dt %d lc rgb \"%s\"", st ? 4 : 7, st ? 2 : 1,
                          col);
                kv_strfmt(title, sizeof title, "%s: %s, %s", corp[c], s->rows[r].label,
                          st ? "matched (at its applied decay)" : "nominal (same setting)");
                key_add(key, style, title);
            }
        }
    free(sel);
    return 0;
}

/* The paper's panel: one series per paper_series and compared row, at the named model sizes. */
static int sc_theirs(const Fig *f, const PaperPt *pp, int npp, StrBuf *plot, Key *key, Err *e) {
    const Spec *s = f->spec;
    int vs = row_index(s, s->compare_vs), k = 0;
    for (int c = 0; c < s->ncols; c++)
        for (int r = 0; r < s->nrows; r++) {
            if (r == vs) continue;
            StrBuf d = {0};
            for (int i = 0; i < npp; i++)
                if (pp[i].col == c && pp[i].row == r)
                    sb_printf(&d, "%.8g %.8g\n", paper_model_params(s->paper_models[pp[i].model]) / 1e6, pp[i].diff);
            if (!d.len) continue;
            char suffix[48], rel[AD_PATH_MAX];
            snprintf(suffix, sizeof suffix, "paper%d_%d", c, r);
            int rc = fig_data(f, suffix, &d, rel, sizeof rel, e);
            sb_free(&d);
            if (rc) return -1;
            const char *col = FIG_COLORS[(4 + k) % 8];
            int pt = (int[]){9, 11, 13, 5}[k % 4];
            k++;
            sb_printf(plot, "%s'%s' using 1:2 with linespoints pt %d lw 2 lc rgb \"%s\" notitle",
                      plot->len ? ", " : "plot ", rel, pt, col);
            char style[128], title[256];
            kv_strfmt(style, sizeof style, "linespoints pt %d lw 2 lc rgb \"%s\"", pt, col);
            kv_strfmt(title, sizeof title, "%s%s%s", s->nrows > 2 ? s->rows[r].label : "", s->nrows > 2 ? ", " : "",
                      s->cols[c].label);
            key_add(key, style, title);
        }
    return 0;
}

/* A log x axis in millions of parameters over [lo, hi], ticks at 1, 2, 3, 5 x 10^k (or at the given
 * named sizes), and a dotted zero line the y range always includes. */
static void sc_axes(StrBuf *b, double lo, double hi, const char *xlabel, const char *ylabel, const char *title) {
    sb_printf(b, "set logscale x\nset xrange [%.6g:%.6g]\nset autoscale y\nset offsets 0, 0, graph 0.08, graph 0.08\n",
              lo, hi);
    sb_printf(b, "set xlabel ");
    gp_str(b, xlabel);
    sb_printf(b, "\nset ylabel ");
    gp_str(b, ylabel);
    sb_printf(b, "\nset title ");
    gp_str(b, title);
    sb_printf(b, "\n");
}

int fig_scaling(Fig *f, StrBuf *body, Err *e) {
    const Spec *s = f->spec;
    if (!f->grids || !f->grids->ndirs)
        return err_set(e, "%s: a scaling figure reads its grids itself (report plot)", s->path);
    int vs = row_index(s, s->compare_vs), n = 0, npp = 0, rc = 0, nmin = 1 << 30, nmax = 0;
    ScPt *pts = xcalloc(SC_MAX_PTS, sizeof *pts);
    PaperPt *pp = xcalloc((size_t)(s->ncols * s->nrows * (s->npaper_models ? s->npaper_models : 1)) + 1, sizeof *pp);
    Missing missing = {0};
    StrBuf left = {0}, right = {0}, mlist = {0}, labels = {0};
    Key kl = {0}, kr = {0};
    double xlo = INFINITY, xhi = -INFINITY;
    for (int k = 0; k < f->grids->ndirs && !rc; k++) rc = sc_grid(f, k, pts, &n, &missing, e);
    if (!rc) rc = sc_paper(f, pp, &npp, e);
    if (!rc) rc = sc_tables(f, pts, n, pp, npp, &missing, e);
    if (!rc) sc_facts(f, pts, n, pp, npp);
    if (!rc) rc = sc_ours(f, pts, n, &left, &labels, &kl, &xlo, &xhi, &nmin, &nmax, e);
    if (!rc) rc = sc_theirs(f, pp, npp, &right, &kr, e);
    if (rc) goto done;
    missing_list(&missing, &mlist);
    if (!left.len && !right.len) {
        rc = err_set(e, "%s: no grid has a point and no paper series is drawn (grids skipped: %s)", s->path,
                     mlist.p ? mlist.p : "none");
        goto done;
    }
    int panels = s->ncols ? 2 : 1;
    char sub[512], nt[32];
    fig_n_text(nt, sizeof nt, nmin, nmax);
    kv_strfmt(sub, sizeof sub, "ours: mean difference over seed pairs with its 95%% interval (%s pairs per point)%s%s",
              nmax ? nt : "no pairs", mlist.len ? "; not plotted: " : "", mlist.len ? mlist.p : "");
    f->height = 600;
    const Key *keys[2] = {&kl, &kr};
    int span[2] = {1, 1};
    Grid g;
    gp_grid_begin(f, body, s->title[0] ? s->title : s->name, sub, 1, panels, keys, span, panels, &g);
    char ylabel[256], title[256];
    kv_strfmt(ylabel, sizeof ylabel, "%s - %s, %s", s->nrows == 2 ? s->rows[!vs].label : "series", s->compare_vs,
              metric_words(s->metric));
    gp_grid_panel(body, &g, 0);
    if (left.len) {
        /* at least a factor 4 wide, so that one grid's point has room, and its ticks */
        double c = sqrt(xlo * xhi), w = fmax(2.0, sqrt(xhi / xlo) * 2.0); /* room for the labels left of the points */
        sc_axes(body, c / w, c * w, "non-embedding parameters (millions, log scale)", ylabel,
                "ours: each grid's model size and corpus");
        gp_log_tics(body, "x", c / w, c * w);
        sb_printf(body, "%s%s, 0 with lines lw 1 dt 3 lc rgb \"#333333\" notitle\nunset label\n",
                  labels.p ? labels.p : "", left.p);
    } else {
        gp_empty_panel(body, "no grid committed yet");
    }
    if (panels == 2) {
        gp_grid_panel(body, &g, 1);
        double lo = INFINITY, hi = -INFINITY;
        for (int m = 0; m < s->npaper_models; m++) {
            double x = paper_model_params(s->paper_models[m]) / 1e6;
            lo = fmin(lo, x), hi = fmax(hi, x);
        }
        kv_strfmt(ylabel, sizeof ylabel, "%s - %s, %s (the paper)", s->nrows == 2 ? s->rows[!vs].label : "series",
                  s->compare_vs, rep_key(s, "metric")[0] ? metric_words(rep_key(s, "metric")) : "its metric");
        const char *tb = rep_key(s, "table"); /* paper_tables.csv's "table2" is the paper's Table 2 */
        if (!strncmp(tb, "table", 5) && tb[5])
            kv_strfmt(title, sizeof title, "the paper's Table %s: its named model sizes, one run each", tb + 5);
        else
            kv_strfmt(title, sizeof title, "the paper (%s): its named model sizes, one run each",
                      tb[0] ? tb : "reported");
        sc_axes(body, lo / 1.5, hi * 1.5, "the paper's model (its named parameter count, millions, log scale)", ylabel,
                title);
        sb_printf(body, "set xtics (");
        for (int m = 0; m < s->npaper_models; m++) {
            sb_printf(body, "%s", m ? ", " : "");
            gp_str(body, s->paper_models[m]);
            sb_printf(body, " %.8g", paper_model_params(s->paper_models[m]) / 1e6);
        }
        sb_printf(body, ")\n");
        if (right.len) sb_printf(body, "%s, 0 with lines lw 1 dt 3 lc rgb \"#333333\" notitle\n", right.p);
        else gp_empty_panel(body, "the paper prints none of these numbers");
    }
    gp_grid_key(body, &g, &kl, 0, 1);
    if (panels == 2) gp_grid_key(body, &g, &kr, 1, 2);
done:
    free(pts);
    free(pp);
    sb_free(&left);
    sb_free(&right);
    sb_free(&mlist);
    sb_free(&labels);
    key_free(&kl);
    key_free(&kr);
    return rc;
}
