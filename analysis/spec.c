/* spec.c - parse table/figure specs (spec.h) with libyaml's document API, strictly: every key is
 * checked against the keys its context allows, and errors point at FILE:LINE:COL. */
#include "spec.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kv.h"
#include "runs.h"
#include "strbuf.h"
#include "yaml_err.h"

typedef struct {
    yaml_document_t *doc;
    const char *path;
    Err *e;
} Ctx;

static int fail(Ctx *c, yaml_node_t *n, const char *fmt, const char *arg) {
    char msg[512];
    kv_strfmt(msg, sizeof msg, fmt, arg);
    return yamlerr_node(c->e, c->path, n, "%s", msg);
}

double paper_model_params(const char *name) {
    char *end;
    double v = strtod(name, &end);
    double mult = !strcmp(end, "K") ? 1e3 : !strcmp(end, "M") ? 1e6 : !strcmp(end, "B") ? 1e9 : 0;
    return end == name || !(v > 0) ? 0 : v * mult;
}

static yaml_node_t *node(Ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

static int scalar(Ctx *c, yaml_node_t *n, char *dst, size_t cap, const char *what) {
    if (n->type != YAML_SCALAR_NODE) return fail(c, n, "%s must be a plain value", what);
    if (strlen((const char *)n->data.scalar.value) >= cap) return fail(c, n, "%s is too long", what);
    kv_strfmt(dst, cap, "%s", (const char *)n->data.scalar.value);
    return 0;
}

static int key_in(const char *k, const char *const *allowed) {
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(k, allowed[i])) return 1;
    return 0;
}

/* Every key of a mapping must be one of `allowed`. */
static int check_keys(Ctx *c, yaml_node_t *map, const char *const *allowed, const char *where) {
    if (map->type != YAML_MAPPING_NODE) return fail(c, map, "%s must be a mapping", where);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, "%s: keys must be plain", where);
        if (!key_in((const char *)k->data.scalar.value, allowed)) {
            char msg[256];
            kv_strfmt(msg, sizeof msg, "unknown key \"%s\" in %s", (const char *)k->data.scalar.value, where);
            return fail(c, k, "%s", msg);
        }
    }
    return 0;
}

static yaml_node_t *get(Ctx *c, yaml_node_t *map, const char *key) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key)) return node(c, p->value);
    }
    return NULL;
}

static int get_str(Ctx *c, yaml_node_t *map, const char *key, char *dst, size_t cap) {
    yaml_node_t *n = get(c, map, key);
    return n ? scalar(c, n, dst, cap, key) : 0;
}

static int get_int(Ctx *c, yaml_node_t *map, const char *key, int *dst) {
    yaml_node_t *n = get(c, map, key);
    if (!n) return 0;
    char b[32];
    double v;
    if (scalar(c, n, b, sizeof b, key) || kv_parse_number(b, &v) || v != (int)v)
        return fail(c, n, "%s must be an integer", key);
    *dst = (int)v;
    return 0;
}

static int get_better(Ctx *c, yaml_node_t *map, int *dst) {
    yaml_node_t *n = get(c, map, "better");
    if (!n) return 0;
    char b[16];
    if (scalar(c, n, b, sizeof b, "better")) return -1;
    if (!strcmp(b, "lower")) *dst = -1;
    else if (!strcmp(b, "higher")) *dst = 1;
    else if (!strcmp(b, "none")) *dst = BETTER_NONE;
    else return fail(c, n, "better must be lower, higher or none, not \"%s\"", b);
    return 0;
}

static int get_metric(Ctx *c, yaml_node_t *map, const char *key, char *dst, size_t cap) {
    yaml_node_t *n = get(c, map, key);
    if (!n) return 0;
    if (scalar(c, n, dst, cap, key)) return -1;
    if (!metric_known(dst)) {
        StrBuf msg = {0};
        sb_printf(&msg, "unknown metric \"%s\" (known: ", dst);
        for (int i = 0; METRICS[i].name; i++) sb_printf(&msg, "%s%s", i ? ", " : "", METRICS[i].name);
        sb_printf(&msg, ")");
        int rc = fail(c, n, "%s", sb_str(&msg));
        sb_free(&msg);
        return rc;
    }
    return 0;
}

/* A list of plain values (or one value) into dst[k][cap]. */
static int get_list(Ctx *c, yaml_node_t *n, char *dst, size_t cap, int max, int *count, const char *what) {
    *count = 0;
    if (n->type == YAML_SCALAR_NODE) return scalar(c, n, dst, cap, what) ? -1 : (*count = 1, 0);
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "%s must be a value or a list of values", what);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (*count == max) return fail(c, n, "%s: too many entries", what);
        if (scalar(c, node(c, *it), dst + (size_t)*count * cap, cap, what)) return -1;
        (*count)++;
    }
    return 0;
}

static int get_where(Ctx *c, yaml_node_t *map, Where *w) {
    yaml_node_t *n = get(c, map, "where");
    if (!n) return 0;
    if (n->type != YAML_MAPPING_NODE) return fail(c, n, "%s must be a mapping of coordinate: value(s)", "where");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        if (w->n == SPEC_MAX_COND) return fail(c, n, "%s: too many conditions", "where");
        Cond *cd = &w->c[w->n];
        if (scalar(c, node(c, p->key), cd->key, sizeof cd->key, "where key")) return -1;
        if (get_list(c, node(c, p->value), cd->vals[0], sizeof cd->vals[0], SPEC_MAX_VALS, &cd->nvals, cd->key))
            return -1;
        w->n++;
    }
    return 0;
}

static const char *const REP_KEYS[] = {"mode",         "table",  "model",   "optimizer",
                                       "weight_decay", "method", "variant", "std_metric",
                                       "p_metric",     "metric", NULL};

static int get_rep(Ctx *c, yaml_node_t *map, RepSel *r, int *mode) {
    yaml_node_t *n = get(c, map, "reported");
    if (!n) return 0;
    if (n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, "false")) {
        r->off = 1;
        return 0;
    }
    if (check_keys(c, n, REP_KEYS, "reported")) return -1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = (const char *)node(c, p->key)->data.scalar.value;
        char v[64];
        if (scalar(c, node(c, p->value), v, sizeof v, k)) return -1;
        if (!strcmp(k, "mode")) {
            if (!mode) return fail(c, node(c, p->key), "%s is only allowed at the top level", "reported.mode");
            if (!strcmp(v, "beside")) *mode = 1;
            else if (!strcmp(v, "diff")) *mode = 2;
            else return fail(c, node(c, p->value), "reported.mode must be beside or diff, not \"%s\"", v);
            continue;
        }
        if (r->n == SPEC_MAX_KEYS) return fail(c, n, "%s: too many keys", "reported");
        kv_strfmt(r->key[r->n], sizeof r->key[0], "%s", k);
        kv_strfmt(r->val[r->n], sizeof r->val[0], "%s", v);
        r->n++;
    }
    if (mode && !*mode) *mode = 1;
    return 0;
}

static const char *const ROW_KEYS[] = {"label", "where", "any", "reported", NULL};
static const char *const COL_KEYS[] = {"label",  "where",      "reported", "metric",    "better",
                                       "digits", "paper_only", "best_of",  "select_by", NULL};
static const char *const GROUP_KEYS[] = {"group", "where", "reported", "paper_only", "columns", NULL};

static int get_bool(Ctx *c, yaml_node_t *map, const char *key, int *dst) {
    yaml_node_t *n = get(c, map, key);
    if (!n) return 0;
    char b[16];
    if (scalar(c, n, b, sizeof b, key)) return -1;
    if (!strcmp(b, "true")) *dst = 1;
    else if (!strcmp(b, "false")) *dst = 0;
    else return fail(c, n, "paper_only must be true or false, not \"%s\"", b);
    return 0;
}

static int parse_sel(Ctx *c, yaml_node_t *n, Sel *s, int is_col, const char *what) {
    memset(s, 0, sizeof *s);
    s->digits = -1;
    s->line = (int)n->start_mark.line + 1;
    if (check_keys(c, n, is_col ? COL_KEYS : ROW_KEYS, what)) return -1;
    if (!get(c, n, "label")) return fail(c, n, "%s needs a label", what);
    if (get_str(c, n, "label", s->label, sizeof s->label) || get_where(c, n, &s->where) || get_rep(c, n, &s->rep, NULL))
        return -1;
    if (!is_col) {
        yaml_node_t *a = get(c, n, "any");
        if (a && get_list(c, a, s->any[0], sizeof s->any[0], 4, &s->nany, "any")) return -1;
        return 0;
    }
    return get_metric(c, n, "metric", s->metric, sizeof s->metric) || get_better(c, n, &s->better) ||
                   get_int(c, n, "digits", &s->digits) || get_bool(c, n, "paper_only", &s->paper_only)
               ? -1
               : 0;
}

/* best_of: [LABEL, ...] names earlier run columns of the same metric; resolved to their indices.
 * select_by: METRIC chooses among them by another metric of the same runs (eta chosen on the selection
 * set's val_ppl, the test set's test_ppl reported), in that metric's own better direction. */
static int parse_best_of(Ctx *c, yaml_node_t *n, Spec *s, int ci) {
    yaml_node_t *b = get(c, n, "best_of"), *sb = get(c, n, "select_by");
    Sel *col = &s->cols[ci];
    if (sb && !b) return fail(c, sb, "%s", "select_by chooses a best_of column's source: it needs best_of");
    if (!b) return 0;
    if (sb) {
        if (get_metric(c, n, "select_by", col->select_by, sizeof col->select_by)) return -1;
        const MetricInfo *mi = metric_info(col->select_by);
        if (!mi || !mi->better)
            return fail(c, sb, "select_by: \"%s\" has no better direction to choose by", col->select_by);
        if (!strcmp(col->select_by, col->metric[0] ? col->metric : s->metric))
            return fail(c, sb, "select_by: \"%s\" is the column's own metric (drop select_by)", col->select_by);
    }
    char labels[SPEC_MAX_SEL][96];
    if (get_list(c, b, labels[0], sizeof labels[0], SPEC_MAX_SEL, &col->nbest_of, "best_of")) return -1;
    if (col->nbest_of < 2) return fail(c, b, "%s", "best_of needs at least two columns to choose from");
    if ((col->better ? col->better : s->better) == BETTER_NONE)
        return fail(c, b, "%s", "best_of needs better: lower or higher");
    if (col->where.n || col->paper_only)
        return fail(c, n, "%s", "a best_of column takes its runs from the columns it names: no where or paper_only");
    for (int k = 0; k < col->nbest_of; k++) {
        int j = 0;
        while (j < ci && strcmp(s->cols[j].label, labels[k])) j++;
        if (j == ci) return fail(c, b, "best_of: \"%s\" is not a column defined before this one", labels[k]);
        if (s->cols[j].nbest_of || s->cols[j].paper_only || strcmp(s->cols[j].metric, col->metric))
            return fail(c, b, "best_of: \"%s\" must be a column of runs with this column's metric", labels[k]);
        col->best_of[k] = j;
    }
    return 0;
}

static int parse_rows(Ctx *c, yaml_node_t *n, Spec *s, const char *what) {
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "%s must be a list", what);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        if (s->nrows == SPEC_MAX_SEL) return fail(c, n, "%s: too many entries", what);
        if (parse_sel(c, node(c, *it), &s->rows[s->nrows++], 0, what)) return -1;
    }
    return 0;
}

static int parse_cols(Ctx *c, yaml_node_t *n, Spec *s, const char *what) {
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "%s must be a list", what);
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
        yaml_node_t *g = node(c, *it);
        if (g->type == YAML_MAPPING_NODE && get(c, g, "columns")) {
            /* a group: its where / reported apply to each of its columns */
            Sel base;
            memset(&base, 0, sizeof base);
            if (check_keys(c, g, GROUP_KEYS, "a column group") ||
                get_str(c, g, "group", base.group, sizeof base.group) || get_where(c, g, &base.where) ||
                get_rep(c, g, &base.rep, NULL) || get_bool(c, g, "paper_only", &base.paper_only))
                return -1;
            yaml_node_t *cl = get(c, g, "columns");
            if (cl->type != YAML_SEQUENCE_NODE) return fail(c, cl, "%s must be a list", "columns");
            for (yaml_node_item_t *ci = cl->data.sequence.items.start; ci < cl->data.sequence.items.top; ci++) {
                if (s->ncols == SPEC_MAX_SEL) return fail(c, n, "%s: too many entries", what);
                Sel *col = &s->cols[s->ncols++];
                if (parse_sel(c, node(c, *ci), col, 1, "a column")) return -1;
                kv_strfmt(col->group, sizeof col->group, "%s", base.group);
                col->paper_only |= base.paper_only;
                for (int k = 0; k < base.where.n; k++) {
                    if (col->where.n == SPEC_MAX_COND) return fail(c, g, "%s: too many conditions", "where");
                    col->where.c[col->where.n++] = base.where.c[k];
                }
                for (int k = 0; k < base.rep.n && col->rep.n < SPEC_MAX_KEYS; k++) {
                    kv_strfmt(col->rep.key[col->rep.n], sizeof col->rep.key[0], "%s", base.rep.key[k]);
                    kv_strfmt(col->rep.val[col->rep.n], sizeof col->rep.val[0], "%s", base.rep.val[k]);
                    col->rep.n++;
                }
                col->rep.off |= base.rep.off;
                if (parse_best_of(c, node(c, *ci), s, s->ncols - 1)) return -1;
            }
            continue;
        }
        if (s->ncols == SPEC_MAX_SEL) return fail(c, n, "%s: too many entries", what);
        if (parse_sel(c, g, &s->cols[s->ncols++], 1, what) || parse_best_of(c, g, s, s->ncols - 1)) return -1;
    }
    return 0;
}

/* numbers: / claims: a mapping NAME -> {row|rows, col|cols, ...}; checked against the table's labels
 * once rows and columns are parsed. */
static const char *const NUM_KEYS[] = {"row", "rows", "col", "cols", "stat", "agg", "digits", NULL};
static const char *const CLAIM_KEYS[] = {"row", "rows", "col", "cols", "holds", "says", NULL};
static const char *const STATS[] = {"mean", "mean_sd",   "diff_ci", "p",        "sd",     "n",        "min",
                                    "max",  "diff",      "lo",      "hi",       "p_t",    "p_holm",   "p_w",
                                    "p_s",  "collapsed", "mde",     "paper",    "npairs", "distinct", "holm_m",
                                    "from", "base",      "at",      "unpaired", NULL};

static int label_known(const Spec *s, const char *l, int col) {
    for (int i = 0; i < (col ? s->ncols : s->nrows); i++) {
        const Sel *x = col ? &s->cols[i] : &s->rows[i];
        char full[200];
        kv_strfmt(full, sizeof full, "%s%s%s", x->group, x->group[0] ? " " : "", x->label);
        if (!strcmp(x->label, l) || !strcmp(full, l)) return 1;
    }
    return 0;
}

static int get_labels(Ctx *c, yaml_node_t *m, const Spec *s, const char *one, const char *many, char (*dst)[96], int *n,
                      int col) {
    yaml_node_t *a = get(c, m, one), *b = get(c, m, many);
    if (a && b) return fail(c, m, "give %s or its list, not both", one);
    if (!a && !b) return 0;
    if (get_list(c, a ? a : b, dst[0], sizeof dst[0], 16, n, many)) return -1;
    if (*n == 1 && !strcmp(dst[0], "all")) *n = 0;
    for (int i = 0; i < *n; i++)
        if (!label_known(s, dst[i], col))
            return fail(c, a ? a : b,
                        col ? "\"%s\" is no column label of this table" : "\"%s\" is no row label of this table",
                        dst[i]);
    return 0;
}

static int parse_facts(Ctx *c, yaml_node_t *root, Spec *s, int claims) {
    yaml_node_t *n = get(c, root, claims ? "claims" : "numbers");
    if (!n) return 0;
    if (s->is_figure) return fail(c, n, "%s belong to table specs", claims ? "claims" : "numbers");
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "%s must be a mapping NAME: {...}", claims ? "claims" : "numbers");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        int *cnt = claims ? &s->nclaims : &s->nnumbers;
        if (*cnt == SPEC_MAX_FACTS) return fail(c, n, "%s: too many entries", claims ? "claims" : "numbers");
        Fact *f = claims ? &s->claims[*cnt] : &s->numbers[*cnt];
        memset(f, 0, sizeof *f);
        f->digits = -1;
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        f->line = (int)k->start_mark.line + 1;
        if (scalar(c, k, f->name, sizeof f->name, "a name")) return -1;
        for (const char *q = f->name; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_'))
                return fail(c, k, "\"%s\": names are letters, digits and _", f->name);
        for (int i = 0; i < *cnt; i++)
            if (!strcmp((claims ? s->claims : s->numbers)[i].name, f->name))
                return fail(c, k, "\"%s\" is defined twice", f->name);
        if (check_keys(c, v, claims ? CLAIM_KEYS : NUM_KEYS, claims ? "a claim" : "a number") ||
            get_labels(c, v, s, "row", "rows", f->rows, &f->nrows, 0) ||
            get_labels(c, v, s, "col", "cols", f->cols, &f->ncols, 1))
            return -1;
        if (claims) {
            if (!get(c, v, "holds") || !get(c, v, "says"))
                return fail(c, v, "%s", "a claim needs holds: CONDITION and says: TEXT");
            if (get_str(c, v, "holds", f->holds, sizeof f->holds) || get_str(c, v, "says", f->says, sizeof f->says))
                return -1;
        } else {
            kv_strfmt(f->stat, sizeof f->stat, "mean");
            if (get_str(c, v, "stat", f->stat, sizeof f->stat) || get_str(c, v, "agg", f->agg, sizeof f->agg) ||
                get_int(c, v, "digits", &f->digits))
                return -1;
            if (!key_in(f->stat, STATS)) return fail(c, get(c, v, "stat"), "unknown stat \"%s\"", f->stat);
            if (f->agg[0] && strcmp(f->agg, "min") && strcmp(f->agg, "max") && strcmp(f->agg, "span") &&
                strcmp(f->agg, "count"))
                return fail(c, get(c, v, "agg"), "agg must be min, max, span or count, not \"%s\"", f->agg);
        }
        (*cnt)++;
    }
    return 0;
}

static const char *const TOP_KEYS[] = {
    "table",   "figure",  "kind",         "title",        "caption", "results", "metric",
    "better",  "digits",  "where",        "allow_differ", "ttest",   "compare", "reported",
    "rows",    "columns", "series",       "bars",         "panels",  "x",       "x_metric",
    "logx",    "logy",    "y2_metric",    "layer",        "step",    "types",   "interval",
    "numbers", "claims",  "paper_models", "paper_series", NULL};
static const char *const KINDS[] = {"table", "curves",      "module_wd", "esd",      "wd_sweep",
                                    "bars",  "alpha_steps", "scaling",   "wd_steps", NULL};

static int parse_top(Ctx *c, yaml_node_t *root, Spec *s) {
    if (check_keys(c, root, TOP_KEYS, "the spec")) return -1;
    yaml_node_t *t = get(c, root, "table"), *f = get(c, root, "figure");
    if (!!t == !!f) return fail(c, root, "a spec names exactly one of %s", "table: NAME or figure: NAME");
    s->is_figure = f != NULL;
    if (scalar(c, t ? t : f, s->name, sizeof s->name, "name")) return -1;
    const char *bad = path_name_problem(s->name); /* the name becomes NAME.md / NAME.png in --out-dir */
    if (bad) {
        char why[128];
        kv_strfmt(why, sizeof why, "%s", bad);
        return fail(c, t ? t : f,
                    "the name %s (it names output files: no '/', no leading '.', no quotes, no control characters)",
                    why);
    }
    kv_strfmt(s->kind, sizeof s->kind, "%s", t ? "table" : "curves");
    if (get_str(c, root, "kind", s->kind, sizeof s->kind)) return -1;
    if (!key_in(s->kind, KINDS)) return fail(c, get(c, root, "kind"), "unknown kind \"%s\"", s->kind);
    if (!s->is_figure && strcmp(s->kind, "table")) return fail(c, root, "a table spec has kind table, not %s", s->kind);
    if (s->is_figure && !strcmp(s->kind, "table"))
        return fail(c, root, "a figure spec needs a figure kind, not %s", s->kind);
    if (!get(c, root, "results")) return fail(c, root, "%s", "missing results: DIRECTORY");
    if (get_str(c, root, "title", s->title, sizeof s->title) ||
        get_str(c, root, "caption", s->caption, sizeof s->caption) ||
        get_list(c, get(c, root, "results"), s->results[0], sizeof s->results[0], SPEC_MAX_RESULTS, &s->nresults,
                 "results") ||
        get_metric(c, root, "metric", s->metric, sizeof s->metric) ||
        get_metric(c, root, "y2_metric", s->y2_metric, sizeof s->y2_metric) || get_better(c, root, &s->better) ||
        get_metric(c, root, "x_metric", s->x_metric, sizeof s->x_metric) || get_int(c, root, "digits", &s->digits) ||
        get_where(c, root, &s->where) || get_rep(c, root, &s->rep, &s->rep_mode) ||
        get_str(c, root, "x", s->x_key, sizeof s->x_key) || get_int(c, root, "logx", &s->logx) ||
        get_int(c, root, "logy", &s->logy) || get_int(c, root, "layer", &s->layer) ||
        get_str(c, root, "step", s->step, sizeof s->step) ||
        get_str(c, root, "interval", s->interval, sizeof s->interval))
        return -1;
    if (s->interval[0] && strcmp(s->kind, "wd_sweep"))
        return fail(c, get(c, root, "interval"), "interval applies to wd_sweep figures, not %s", s->kind);
    if (s->interval[0] && strcmp(s->interval, "std") && strcmp(s->interval, "ci95"))
        return fail(c, get(c, root, "interval"), "interval must be std or ci95, not \"%s\"", s->interval);
    if (s->x_metric[0] && strcmp(s->kind, "wd_sweep"))
        return fail(c, get(c, root, "x_metric"), "x_metric applies to wd_sweep figures, not %s", s->kind);
    if (strcmp(s->step, "final") && strcmp(s->step, "first"))
        return fail(c, get(c, root, "step"), "step must be first or final, not \"%s\"", s->step);
    yaml_node_t *n;
    if ((n = get(c, root, "allow_differ")) &&
        get_list(c, n, s->allow_differ[0], sizeof s->allow_differ[0], 16, &s->nallow, "allow_differ"))
        return -1;
    if ((n = get(c, root, "types")) && get_list(c, n, s->types[0], sizeof s->types[0], 8, &s->ntypes, "types"))
        return -1;
    if (!s->nresults) return fail(c, get(c, root, "results"), "%s", "results: names no directory (an empty list)");
    if ((n = get(c, root, "paper_models"))) {
        if (strcmp(s->kind, "scaling")) return fail(c, n, "paper_models applies to scaling figures, not %s", s->kind);
        if (get_list(c, n, s->paper_models[0], sizeof s->paper_models[0], 8, &s->npaper_models, "paper_models"))
            return -1;
        if (!s->npaper_models)
            return fail(c, n, "%s", "paper_models: an empty list (name the paper's models, e.g. 60M)");
        for (int i = 0; i < s->npaper_models; i++)
            if (paper_model_params(s->paper_models[i]) <= 0)
                return fail(c, n, "paper_models: \"%s\" is no model size (a number with K, M or B, e.g. 60M)",
                            s->paper_models[i]);
    }
    if ((n = get(c, root, "ttest"))) {
        static const char *const TK[] = {"vs", NULL};
        if (check_keys(c, n, TK, "ttest") || get_str(c, n, "vs", s->ttest_vs, sizeof s->ttest_vs)) return -1;
    }
    if ((n = get(c, root, "compare"))) {
        static const char *const CK[] = {"vs", "family", "at", "along", NULL};
        if (check_keys(c, n, CK, "compare") || get_str(c, n, "vs", s->compare_vs, sizeof s->compare_vs) ||
            get_str(c, n, "family", s->family, sizeof s->family) ||
            get_metric(c, n, "at", s->compare_at, sizeof s->compare_at) ||
            get_str(c, n, "along", s->compare_along, sizeof s->compare_along))
            return -1;
        if (!get(c, n, "vs")) return fail(c, n, "%s", "compare needs vs: ROW_LABEL");
        /* the position (at) and the axis it is read on (along) only make sense together */
        if (!!s->compare_at[0] != !!s->compare_along[0])
            return fail(c, n, "%s",
                        "compare.at and compare.along go together (at: the metric that places each run, e.g. "
                        "mean_wd; along: the baseline's grid key, e.g. decay.weight_decay)");
        if (get(c, n, "family") && path_name_problem(s->family))
            return fail(c, get(c, n, "family"), "%s",
                        "compare.family must be a plain name (no '/', quotes or control characters)");
    }
    const char *rowkey = get(c, root, "rows") ? "rows" : get(c, root, "series") ? "series" : "bars";
    if ((n = get(c, root, rowkey)) && parse_rows(c, n, s, rowkey)) return -1;
    const char *colkey = get(c, root, "columns") ? "columns" : get(c, root, "paper_series") ? "paper_series" : "panels";
    if ((n = get(c, root, colkey)) && parse_cols(c, n, s, colkey)) return -1;
    if ((n = get(c, root, colkey)) && n->type == YAML_SEQUENCE_NODE && !s->ncols)
        return fail(c, n, "%s: an empty list", colkey);
    if ((n = get(c, root, rowkey)) && !s->nrows) return fail(c, n, "%s: an empty list", rowkey);
    if (!strcmp(s->kind, "scaling")) {
        /* the paper's series are its differences: they need the models they are read at, and reported: */
        if (get(c, root, "panels") || get(c, root, "columns"))
            return fail(c, get(c, root, "panels") ? get(c, root, "panels") : get(c, root, "columns"), "%s",
                        "a scaling figure has no panels or columns (its paper panel is paper_series)");
        if (!!s->npaper_models != !!s->ncols)
            return fail(c, root, "%s", "paper_models and paper_series go together (the paper's models and its series)");
        if (s->ncols && !s->rep_mode)
            return fail(c, root, "%s", "paper_series need reported: {table: ..., metric: ...} (paper_tables.csv keys)");
        if (!s->compare_vs[0])
            return fail(c, root, "%s",
                        "a scaling figure needs compare: {vs: ROW_LABEL} (the baseline of its differences)");
    } else if (get(c, root, "paper_series"))
        return fail(c, get(c, root, "paper_series"), "paper_series applies to scaling figures, not %s", s->kind);
    if (!s->is_figure && (!s->nrows || !s->ncols)) return fail(c, root, "%s", "a table needs rows and columns");
    if (s->is_figure && strcmp(s->kind, "module_wd") && !s->nrows)
        return fail(c, root, "%s", "this figure needs series (or bars)");
    if (parse_facts(c, root, s, 0) || parse_facts(c, root, s, 1)) return -1;
    if (s->ttest_vs[0]) {
        int found = 0;
        for (int i = 0; i < s->nrows; i++) found |= !strcmp(s->rows[i].label, s->ttest_vs);
        if (!found) return fail(c, get(c, root, "ttest"), "ttest.vs names no row label (\"%s\")", s->ttest_vs);
    }
    if (s->compare_at[0])
        for (int i = 0; i < s->ncols; i++)
            if (s->cols[i].nbest_of) /* a tuned column's baseline would need the curve of each row's own column */
                return fail(c, get(c, root, "compare"), "compare.at does not take best_of columns (\"%s\")",
                            s->cols[i].label);
    if (s->compare_vs[0]) {
        int found = 0;
        for (int i = 0; i < s->nrows; i++) found |= !strcmp(s->rows[i].label, s->compare_vs);
        if (!found) return fail(c, get(c, root, "compare"), "compare.vs names no row label (\"%s\")", s->compare_vs);
    }
    return 0;
}

int spec_load(Spec *s, const char *path, Err *e) {
    memset(s, 0, sizeof *s);
    kv_strfmt(s->path, sizeof s->path, "%s", path);
    kv_strfmt(s->metric, sizeof s->metric, "val_ppl");
    kv_strfmt(s->step, sizeof s->step, "final");
    s->better = -1;
    s->digits = 2;
    s->layer = -1;
    yaml_document_t doc;
    if (kv_yaml_load(path, &doc, e)) return -1;
    Ctx c = {&doc, path, e};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = !root ? err_set(e, "%s: empty spec", path) : parse_top(&c, root, s);
    yaml_document_delete(&doc);
    return rc;
}
