/* sweep_grid.c - parse a sweep file (schema in sweep.h) and expand it into runs.
 *
 * Steps: read the YAML tree (libyaml document API, so every node keeps its line/column); turn each
 * axis value, exclude entry, extra entry and when-clause into small key=value lists with canonical
 * values; take the product, drop excluded points, add extras, replicate over seeds; apply set/when;
 * name the runs; refuse duplicates; finally check every run's config by loading its experiment and
 * applying its overrides exactly as `train` will. Nothing here runs anything. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"
#include "strbuf.h"
#include "sweep.h"
#include "yaml_err.h"

#define MAX_AXES 32
#define MAX_VALUES 256
#define MAX_COND 8 /* keys in one when.if */
#define MAX_ALT 16 /* alternatives of one when.if key */

/* A set of key=value pairs (an axis value, an exclude entry, an extra point, a when branch...). */
typedef struct {
    SweepKV kv[SWEEP_MAX_KV];
    int n;
    char experiment[AD_PATH_MAX]; /* "" = not given */
    int exp_line, exp_col;
    int line;
} Pairs;

typedef struct {
    char label[96];
    Pairs *vals;
    int n;
} Axis;

typedef struct {
    Pairs cond; /* the keys; a list value ("any of") is spread into alts */
    char alts[MAX_COND][MAX_ALT][SWEEP_VAL_MAX];
    int n_alts[MAX_COND];
    Pairs then, otherwise;
} When;

typedef struct {
    const char *file;
    yaml_document_t *doc;
    Err *e;
} P;

static int perr(P *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(P *p, const yaml_node_t *n, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return yamlerr_node(p->e, p->file, n, "%s", msg);
}

static yaml_node_t *node(P *p, int id) { return yaml_document_get_node(p->doc, id); }
static const char *sv(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static int col_of(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }

/* ---- canonical values ---- */

static int numeric_text(const char *s, double *v) {
    if (!*s) return 0;
    for (const char *q = s; *q; q++)
        if (!strchr("0123456789+-.eE", *q)) return 0;
    char *end;
    *v = strtod(s, &end);
    return !*end && isfinite(*v);
}

/* Shortest %g spelling that reads back to the same double: 1e-05, 0.6666, 300. */
static void fmt_number(double v, char *out, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) { /* integers as integers: 300, not 3e+02 */
        snprintf(out, n, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v) return;
    }
}

static int plain_safe(const char *s) {
    if (!*s || strchr("-?:,[]{}#&*!|>'\"%@`~ ", s[0])) return 0;
    for (const char *q = s; *q; q++)
        if (!isalnum((unsigned char)*q) && !strchr("._/+-", *q)) return 0;
    return 1;
}

/* One scalar as --set text: numbers canonical, plain words as they are, anything else double-quoted. */
static int canon_scalar(P *p, const yaml_node_t *n, char *out, size_t size) {
    const char *s = sv(n);
    double v;
    int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (plain && (!*s || !strcmp(s, "~") || !strcmp(s, "null"))) {
        out[0] = 0;
        return 0;
    }
    if (plain && numeric_text(s, &v)) {
        fmt_number(v, out, size);
        return 0;
    }
    if (plain_safe(s) && (plain || !numeric_text(s, &v))) {
        if (strlen(s) >= size) return perr(p, n, "value too long");
        snprintf(out, size, "%s", s);
        return 0;
    }
    size_t k = 0;
    out[k++] = '"';
    for (; *s; s++) {
        if (k + 6 >= size) return perr(p, n, "value too long");
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = 0;
    return 0;
}

/* A value for key: a scalar or a flow sequence of scalars ("[a, b]"). */
static int canon_value(P *p, const yaml_node_t *n, char *out, size_t size) {
    if (n->type == YAML_SCALAR_NODE) return canon_scalar(p, n, out, size);
    if (n->type == YAML_MAPPING_NODE) return perr(p, n, "expected a value, got a mapping");
    StrBuf v = {0};
    sb_putc(&v, '[');
    int rc = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && !rc; it++) {
        yaml_node_t *c = node(p, *it);
        char one[SWEEP_VAL_MAX];
        if (c->type != YAML_SCALAR_NODE) rc = perr(p, c, "expected a scalar inside a list value");
        else if (canon_scalar(p, c, one, sizeof one)) rc = -1;
        else sb_printf(&v, "%s%s", it > n->data.sequence.items.start ? ", " : "", one);
    }
    sb_putc(&v, ']');
    if (!rc && sb_copy(&v, out, size)) rc = perr(p, n, "value too long");
    sb_free(&v);
    return rc;
}

/* ---- pairs ---- */

static int pairs_find(const Pairs *ps, const char *key) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->kv[i].key, key)) return i;
    return -1;
}

/* Put key=value (replacing an existing key). */
static int pairs_put(Pairs *ps, const SweepKV *kv, Err *e) {
    int i = pairs_find(ps, kv->key);
    if (i >= 0) {
        ps->kv[i] = *kv;
        return 0;
    }
    if (ps->n >= SWEEP_MAX_KV) return err_set(e, "more than %d keys in one point", SWEEP_MAX_KV);
    ps->kv[ps->n++] = *kv;
    return 0;
}

/* key: value with key checked; "experiment" fills ps->experiment. */
static int pairs_add_node(P *p, Pairs *ps, const yaml_node_t *kn, const yaml_node_t *vn) {
    if (kn->type != YAML_SCALAR_NODE) return perr(p, kn, "keys must be scalars");
    const char *key = sv(kn);
    if (!strcmp(key, "experiment")) {
        if (vn->type != YAML_SCALAR_NODE || !*sv(vn)) return perr(p, vn, "experiment: expected a file path");
        if (ps->experiment[0]) return perr(p, kn, "duplicate key 'experiment'");
        if (strlen(sv(vn)) >= sizeof ps->experiment) return perr(p, vn, "experiment: path too long");
        snprintf(ps->experiment, sizeof ps->experiment, "%s", sv(vn));
        if (!file_exists(ps->experiment)) return perr(p, vn, "unknown experiment file '%s' (no such file)", sv(vn));
        ps->exp_line = line_of(vn);
        ps->exp_col = col_of(vn);
        return 0;
    }
    if (!config_key_exists(key) || !strcmp(key, "name"))
        return perr(p, kn, "unknown key '%s' (expected section.key of an experiment file, or experiment)", key);
    if (pairs_find(ps, key) >= 0) return perr(p, kn, "duplicate key '%s'", key);
    SweepKV kv = {.line = line_of(vn), .col = col_of(vn)};
    snprintf(kv.key, sizeof kv.key, "%s", key);
    if (canon_value(p, vn, kv.value, sizeof kv.value)) return -1;
    if (ps->n >= SWEEP_MAX_KV) return perr(p, kn, "more than %d keys", SWEEP_MAX_KV);
    ps->kv[ps->n++] = kv;
    return 0;
}

static int pairs_from_mapping(P *p, Pairs *ps, const yaml_node_t *map, const char *what) {
    memset(ps, 0, sizeof *ps);
    ps->line = line_of(map);
    if (map->type != YAML_MAPPING_NODE) return perr(p, map, "%s: expected a mapping of key: value", what);
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < map->data.mapping.pairs.top; q++)
        if (pairs_add_node(p, ps, node(p, q->key), node(p, q->value))) return -1;
    return 0;
}

/* ---- sections ---- */

static int parse_axis(P *p, Axis *a, const yaml_node_t *kn, const yaml_node_t *vn) {
    const char *label = sv(kn);
    snprintf(a->label, sizeof a->label, "%s", label);
    if (vn->type != YAML_SEQUENCE_NODE) return perr(p, vn, "grid.%s: expected a list of values", label);
    int n = (int)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    if (n == 0) return perr(p, vn, "grid.%s: the axis has no values", label);
    if (n > MAX_VALUES) return perr(p, vn, "grid.%s: more than %d values", label, MAX_VALUES);
    a->vals = xcalloc((size_t)n, sizeof(Pairs));
    a->n = n;
    int bundle = node(p, vn->data.sequence.items.start[0])->type == YAML_MAPPING_NODE;
    if (!bundle && strcmp(label, "experiment") && (!config_key_exists(label) || !strcmp(label, "name")))
        return perr(p, kn,
                    "unknown key '%s' (an axis is a section.key, experiment, or a label whose values "
                    "are mappings)",
                    label);
    for (int i = 0; i < n; i++) {
        yaml_node_t *v = node(p, vn->data.sequence.items.start[i]);
        if (bundle) {
            if (v->type != YAML_MAPPING_NODE)
                return perr(p, v, "grid.%s: every value of a bundle axis must be a mapping", label);
            if (pairs_from_mapping(p, &a->vals[i], v, label)) return -1;
            if (a->vals[i].n == 0 && !a->vals[i].experiment[0]) return perr(p, v, "grid.%s: empty mapping", label);
        } else {
            if (v->type == YAML_MAPPING_NODE) return perr(p, v, "grid.%s: mixes mappings and values", label);
            a->vals[i].line = line_of(v);
            if (pairs_add_node(p, &a->vals[i], kn, v)) return -1;
        }
    }
    return 0;
}

static int parse_list_of_mappings(P *p, const yaml_node_t *vn, const char *what, Pairs **out, int *n_out) {
    if (vn->type != YAML_SEQUENCE_NODE) return perr(p, vn, "%s: expected a list of mappings", what);
    int n = (int)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    *out = xcalloc((size_t)(n ? n : 1), sizeof(Pairs));
    *n_out = n;
    for (int i = 0; i < n; i++) {
        yaml_node_t *m = node(p, vn->data.sequence.items.start[i]);
        if (pairs_from_mapping(p, &(*out)[i], m, what)) return -1;
        if ((*out)[i].n == 0 && !(*out)[i].experiment[0]) return perr(p, m, "%s: empty entry", what);
    }
    return 0;
}

static int parse_when(P *p, const yaml_node_t *vn, When **out, int *n_out) {
    if (vn->type != YAML_SEQUENCE_NODE) return perr(p, vn, "when: expected a list of {if, set, else} entries");
    int n = (int)(vn->data.sequence.items.top - vn->data.sequence.items.start);
    *out = xcalloc((size_t)(n ? n : 1), sizeof(When));
    *n_out = n;
    for (int i = 0; i < n; i++) {
        When *w = &(*out)[i];
        yaml_node_t *m = node(p, vn->data.sequence.items.start[i]);
        if (m->type != YAML_MAPPING_NODE) return perr(p, m, "when: expected a mapping with if, set and optional else");
        int have_if = 0, have_set = 0;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
            yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
            const char *ks = k->type == YAML_SCALAR_NODE ? sv(k) : "";
            if (!strcmp(ks, "set")) {
                if (pairs_from_mapping(p, &w->then, v, "when.set")) return -1;
                have_set = 1;
            } else if (!strcmp(ks, "else")) {
                if (pairs_from_mapping(p, &w->otherwise, v, "when.else")) return -1;
            } else if (!strcmp(ks, "if")) {
                have_if = 1;
                if (v->type != YAML_MAPPING_NODE) return perr(p, v, "when.if: expected a mapping of key: value");
                memset(&w->cond, 0, sizeof w->cond);
                for (yaml_node_pair_t *c = v->data.mapping.pairs.start; c < v->data.mapping.pairs.top; c++) {
                    yaml_node_t *ck = node(p, c->key), *cv = node(p, c->value);
                    /* a list is "any of": store each alternative canonically */
                    int j = w->cond.n;
                    if (j == MAX_COND) return perr(p, ck, "when.if: more than %d keys", MAX_COND);
                    if (cv->type == YAML_SEQUENCE_NODE) {
                        int na = (int)(cv->data.sequence.items.top - cv->data.sequence.items.start);
                        if (na == 0 || na > MAX_ALT) return perr(p, cv, "when.if: 1 to %d alternatives", MAX_ALT);
                        yaml_node_t *first = node(p, cv->data.sequence.items.start[0]);
                        if (pairs_add_node(p, &w->cond, ck, first)) return -1;
                        for (int a = 0; a < na; a++) {
                            yaml_node_t *av = node(p, cv->data.sequence.items.start[a]);
                            if (av->type != YAML_SCALAR_NODE) return perr(p, av, "when.if: expected a scalar");
                            if (canon_scalar(p, av, w->alts[j][a], sizeof w->alts[j][a])) return -1;
                        }
                        w->n_alts[j] = na;
                    } else {
                        if (pairs_add_node(p, &w->cond, ck, cv)) return -1;
                        if (w->cond.n == j) continue; /* the experiment: compared as a path */
                        memcpy(w->alts[j][0], w->cond.kv[j].value, sizeof w->alts[j][0]); /* same size */
                        w->n_alts[j] = 1;
                    }
                }
                if (w->cond.n == 0 && !w->cond.experiment[0]) return perr(p, v, "when.if: no condition");
            } else {
                return perr(p, k, "when: unknown key '%s' (expected if, set, else)", ks);
            }
        }
        if (!have_if || !have_set) return perr(p, m, "when: each entry needs if and set");
        if (w->then.experiment[0] || w->otherwise.experiment[0]) return perr(p, m, "when: cannot set the experiment");
    }
    return 0;
}

/* ---- expansion ---- */

typedef struct {
    Pairs *v;
    int n, cap;
} PointList;

static void plist_push(PointList *l, const Pairs *pt) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        Pairs *nv = realloc(l->v, (size_t)l->cap * sizeof(Pairs));
        if (!nv) abort();
        l->v = nv;
    }
    l->v[l->n++] = *pt;
}

static int merge_into(Pairs *dst, const Pairs *src, Err *e) {
    if (src->experiment[0]) {
        snprintf(dst->experiment, sizeof dst->experiment, "%s", src->experiment);
        dst->exp_line = src->exp_line;
        dst->exp_col = src->exp_col;
    }
    for (int i = 0; i < src->n; i++)
        if (pairs_put(dst, &src->kv[i], e)) return -1;
    return 0;
}

static int matches(const Pairs *pt, const Pairs *pattern) {
    if (pattern->experiment[0] && strcmp(pattern->experiment, pt->experiment)) return 0;
    for (int i = 0; i < pattern->n; i++) {
        int j = pairs_find(pt, pattern->kv[i].key);
        if (j < 0 || strcmp(pt->kv[j].value, pattern->kv[i].value)) return 0;
    }
    return 1;
}

static int when_matches(const When *w, const Pairs *cur) {
    if (w->cond.experiment[0] && strcmp(w->cond.experiment, cur->experiment)) return 0;
    for (int i = 0; i < w->cond.n; i++) {
        int j = pairs_find(cur, w->cond.kv[i].key), hit = 0;
        if (j < 0) return 0;
        for (int a = 0; a < w->n_alts[i]; a++)
            if (!strcmp(cur->kv[j].value, w->alts[i][a])) hit = 1;
        if (!hit) return 0;
    }
    return 1;
}

/* Product of the axes in axis order (first axis slowest), minus excluded points. */
static int expand_product(P *p, Axis *ax, int n_ax, const Pairs *excl, int n_excl, int grid_line, PointList *out) {
    int idx[MAX_AXES] = {0};
    for (;;) {
        Pairs pt;
        memset(&pt, 0, sizeof pt);
        pt.line = grid_line;
        for (int a = 0; a < n_ax; a++)
            if (merge_into(&pt, &ax[a].vals[idx[a]], p->e)) return -1;
        int dropped = 0;
        for (int x = 0; x < n_excl && !dropped; x++) dropped = matches(&pt, &excl[x]);
        if (!dropped) plist_push(out, &pt);
        int a = n_ax - 1;
        while (a >= 0 && ++idx[a] == ax[a].n) idx[a--] = 0;
        if (a < 0) return 0;
    }
}

/* ---- names ---- */

static const char *short_key(const char *key) {
    if (!strcmp(key, "decay.weight_decay")) return "wd";
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

static uint64_t fnv1a(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* separator so "ab","c" != "a","bc" */
}

/* Append text to a name, mapping characters outside [A-Za-z0-9._+-=] to '_' (sets *lossy). */
static void name_append(char *name, size_t size, const char *text, int *lossy) {
    size_t k = strlen(name);
    for (; *text && k + 1 < size; text++) {
        char ch = *text;
        if (!isalnum((unsigned char)ch) && !strchr("._+-=", ch)) {
            ch = '_';
            *lossy = 1;
        }
        name[k++] = ch;
    }
    if (*text) *lossy = 1; /* truncated */
    name[k] = 0;
}

/* The text inside a double-quoted canonical value (escapes dropped), else the value itself. */
static void unquote(const char *v, char *out, size_t n) {
    size_t k = 0;
    if (v[0] != '"') {
        snprintf(out, n, "%s", v);
        return;
    }
    for (v++; *v && *v != '"' && k + 1 < n; v++) {
        if (*v == '\\' && v[1]) v++;
        out[k++] = *v;
    }
    out[k] = 0;
}

static void exp_base(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = 0;
}

/* own: the point's own pairs (axes/extra/seed) in name order. */
static void make_name(const Pairs *own, int key_full[], char all_keys[][96], int n_all, char *name, size_t size,
                      int *lossy) {
    name[0] = 0;
    *lossy = 0;
    if (own->experiment[0]) {
        char b[256];
        exp_base(own->experiment, b, sizeof b);
        name_append(name, size, b, lossy);
    }
    for (int i = 0; i < own->n; i++) {
        const SweepKV *kv = &own->kv[i];
        if (name[0]) name_append(name, size, "-", lossy);
        if (!strcmp(kv->key, "decay.method")) {
            name_append(name, size, kv->value, lossy);
            continue;
        }
        int full = 0;
        for (int k = 0; k < n_all; k++)
            if (!strcmp(all_keys[k], kv->key)) full = key_full[k];
        name_append(name, size, full ? kv->key : short_key(kv->key), lossy);
        name_append(name, size, "=", lossy);
        char plain[SWEEP_VAL_MAX];
        unquote(kv->value, plain, sizeof plain);
        name_append(name, size, plain[0] ? plain : "none", lossy);
    }
    if (!name[0]) name_append(name, size, "base", lossy);
}

/* Put the point's pairs in axis order, then the rest as given, then train.seed. */
static void order_like_axes(Pairs *pt, const Axis *ax, int n_ax) {
    Pairs o = *pt;
    o.n = 0;
    int used[SWEEP_MAX_KV] = {0};
    for (int a = 0; a < n_ax; a++)
        for (int v = 0; v < ax[a].n && v < 1; v++) /* an axis's keys are those of its first value */
            for (int k = 0; k < ax[a].vals[v].n; k++) {
                int j = pairs_find(pt, ax[a].vals[v].kv[k].key);
                if (j >= 0 && !used[j] && strcmp(pt->kv[j].key, "train.seed")) {
                    o.kv[o.n++] = pt->kv[j];
                    used[j] = 1;
                }
            }
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < pt->n; j++)
            if (!used[j] && (pass == 1) == !strcmp(pt->kv[j].key, "train.seed")) {
                o.kv[o.n++] = pt->kv[j];
                used[j] = 1;
            }
    *pt = o;
}

/* ---- checking a run's config ---- */

static int check_run(P *p, SweepRun *r, const char *base, int base_line) {
    Config c;
    Err e2;
    if (!file_exists(r->experiment))
        return err_set(p->e, "%s:%d: unknown experiment file '%s' (no such file)", p->file, r->line, r->experiment);
    (void)base;
    /* the run's overrides as --set would give them */
    size_t one = sizeof r->kv[0].key + SWEEP_VAL_MAX + 2;
    char *buf = xcalloc((size_t)(r->n_kv ? r->n_kv : 1), one);
    const char **sets = xcalloc((size_t)(r->n_kv ? r->n_kv : 1), sizeof *sets);
    for (int i = 0; i < r->n_kv; i++) {
        snprintf(buf + i * one, one, "%s=%s", r->kv[i].key, r->kv[i].value);
        sets[i] = buf + i * one;
    }
    ConfigAt at;
    int rc = config_load_resolved(&c, r->experiment, sets, r->n_kv, &at, &e2);
    if (rc && at.step == CONFIG_AT_LOAD)
        err_set(p->e, "%s:%d: experiment %s: %s", p->file, r->line ? r->line : base_line, r->experiment, e2.msg);
    else if (rc && at.step == CONFIG_AT_SET) { /* drop config_set's "--set k=v: " prefix: we give the position */
        const char *m = e2.msg;
        size_t pre = strlen("--set ") + strlen(sets[at.set]) + 2;
        if (!strncmp(m, "--set ", 6) && strlen(m) > pre) m += pre;
        err_set(p->e, "%s:%d:%d: %s", p->file, r->kv[at.set].line, r->kv[at.set].col, m);
    } else if (rc) err_set(p->e, "%s:%d: run %s: %s", p->file, r->line, r->name, e2.msg);
    else r->steps = c.train.steps;
    free(sets);
    free(buf);
    return rc ? -1 : 0;
}

/* ---- the whole file ---- */

typedef struct {
    char name[128];
    char base[AD_PATH_MAX];
    int base_line;
    Pairs set;
    Axis axes[MAX_AXES];
    int n_axes, grid_line, have_grid;
    Pairs *excl, *extra;
    int n_excl, n_extra;
    When *when;
    int n_when;
    char seeds[MAX_VALUES][32];
    int n_seeds, seeds_line;
    int seed_lines[MAX_VALUES], seed_cols[MAX_VALUES];
    long max_runs;                             /* cap on the number of runs (max_runs:, default SWEEP_MAX_RUNS) */
    int slurm_ntasks, slurm_nodes, slurm_cpus; /* slurm: {ntasks, nodes, cpus_per_task}, 0 = unset */
    char slurm_mpi[32];
} Spec;

static void spec_free(Spec *sp) {
    for (int a = 0; a < sp->n_axes; a++) free(sp->axes[a].vals);
    free(sp->excl);
    free(sp->extra);
    free(sp->when);
}

/* slurm: {ntasks: N, nodes: M, cpus_per_task: C, mpi: PLUGIN}: each run's Slurm job. */
static int parse_slurm(P *p, yaml_node_t *v, Spec *sp) {
    if (v->type != YAML_MAPPING_NODE)
        return perr(p, v, "slurm: expected a mapping of ntasks, nodes, cpus_per_task, mpi");
    for (yaml_node_pair_t *q = v->data.mapping.pairs.start; q < v->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *x = node(p, q->value);
        const char *ks = k->type == YAML_SCALAR_NODE ? sv(k) : "", *t = x->type == YAML_SCALAR_NODE ? sv(x) : "";
        if (!strcmp(ks, "mpi")) {
            if (!*t || strlen(t) >= sizeof sp->slurm_mpi ||
                strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(t))
                return perr(p, x, "slurm.mpi: expected a plugin name such as pmix, pmi2 or none");
            snprintf(sp->slurm_mpi, sizeof sp->slurm_mpi, "%s", t);
            continue;
        }
        int *dst = !strcmp(ks, "ntasks")          ? &sp->slurm_ntasks
                   : !strcmp(ks, "nodes")         ? &sp->slurm_nodes
                   : !strcmp(ks, "cpus_per_task") ? &sp->slurm_cpus
                                                  : NULL;
        if (!dst) return perr(p, k, "slurm: unknown key '%s' (expected ntasks, nodes, cpus_per_task, mpi)", ks);
        char *end;
        long n = strtol(t, &end, 10);
        if (!*t || *end || n < 1 || n > 100000) return perr(p, x, "slurm.%s: expected a positive integer", ks);
        *dst = (int)n;
    }
    return 0;
}

static int parse_spec(P *p, Spec *sp) {
    yaml_node_t *root = yaml_document_get_root_node(p->doc);
    if (!root) return perr(p, NULL, "empty sweep file");
    if (root->type != YAML_MAPPING_NODE) return perr(p, root, "expected a mapping at the top level");
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < root->data.mapping.pairs.top; q++) {
        yaml_node_t *k = node(p, q->key), *v = node(p, q->value);
        if (k->type != YAML_SCALAR_NODE) return perr(p, k, "keys must be scalars");
        const char *ks = sv(k);
        for (yaml_node_pair_t *r = root->data.mapping.pairs.start; r < q; r++)
            if (!strcmp(sv(node(p, r->key)), ks)) return perr(p, k, "duplicate key '%s'", ks);
        if (!strcmp(ks, "name")) {
            if (v->type != YAML_SCALAR_NODE || !*sv(v)) return perr(p, v, "name: expected a string");
            int lossy = 0;
            sp->name[0] = 0;
            name_append(sp->name, sizeof sp->name, sv(v), &lossy);
            if (lossy || path_name_problem(sp->name))
                return perr(p, v,
                            "name: use only letters, digits and ._+-=, not starting with '.' (it names a directory)");
        } else if (!strcmp(ks, "base")) {
            if (v->type != YAML_SCALAR_NODE || !*sv(v)) return perr(p, v, "base: expected an experiment file path");
            snprintf(sp->base, sizeof sp->base, "%s", sv(v));
            sp->base_line = line_of(v);
            if (!file_exists(sp->base)) return perr(p, v, "unknown experiment file '%s' (no such file)", sp->base);
        } else if (!strcmp(ks, "set")) {
            if (pairs_from_mapping(p, &sp->set, v, "set")) return -1;
            if (sp->set.experiment[0]) return perr(p, v, "set: use base for the experiment file");
        } else if (!strcmp(ks, "grid")) {
            sp->grid_line = line_of(k);
            sp->have_grid = 1;
            if (v->type != YAML_MAPPING_NODE) return perr(p, v, "grid: expected a mapping of axis: [values]");
            for (yaml_node_pair_t *a = v->data.mapping.pairs.start; a < v->data.mapping.pairs.top; a++) {
                yaml_node_t *ak = node(p, a->key);
                if (ak->type != YAML_SCALAR_NODE) return perr(p, ak, "axis names must be scalars");
                for (int b = 0; b < sp->n_axes; b++)
                    if (!strcmp(sp->axes[b].label, sv(ak))) return perr(p, ak, "duplicate axis '%s'", sv(ak));
                if (sp->n_axes == MAX_AXES) return perr(p, ak, "more than %d axes", MAX_AXES);
                if (parse_axis(p, &sp->axes[sp->n_axes++], ak, node(p, a->value))) return -1;
            }
        } else if (!strcmp(ks, "exclude")) {
            if (parse_list_of_mappings(p, v, "exclude", &sp->excl, &sp->n_excl)) return -1;
        } else if (!strcmp(ks, "extra")) {
            if (parse_list_of_mappings(p, v, "extra", &sp->extra, &sp->n_extra)) return -1;
        } else if (!strcmp(ks, "when")) {
            if (parse_when(p, v, &sp->when, &sp->n_when)) return -1;
        } else if (!strcmp(ks, "seeds")) {
            if (v->type != YAML_SEQUENCE_NODE) return perr(p, v, "seeds: expected a list of integers");
            sp->seeds_line = line_of(k);
            int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (n == 0) return perr(p, v, "seeds: the list has no values");
            if (n > MAX_VALUES) return perr(p, v, "seeds: more than %d", MAX_VALUES);
            for (int i = 0; i < n; i++) {
                yaml_node_t *s = node(p, v->data.sequence.items.start[i]);
                if (s->type != YAML_SCALAR_NODE) return perr(p, s, "seeds: expected an integer");
                const char *t = sv(s);
                if (!*t || strspn(t, "0123456789") != strlen(t) || strlen(t) > 20)
                    return perr(p, s, "seeds: expected a non-negative integer, got '%s'", t);
                snprintf(sp->seeds[i], sizeof sp->seeds[i], "%s", t);
                sp->seed_lines[i] = line_of(s);
                sp->seed_cols[i] = col_of(s);
            }
            sp->n_seeds = n;
        } else if (!strcmp(ks, "max_runs")) {
            const char *t = v->type == YAML_SCALAR_NODE ? sv(v) : "";
            char *end;
            long x = strtol(t, &end, 10);
            if (!*t || *end || x <= 0) return perr(p, v, "max_runs: expected a positive integer");
            sp->max_runs = x;
        } else if (!strcmp(ks, "slurm")) {
            if (parse_slurm(p, v, sp)) return -1;
        } else {
            return perr(
                p, k, "unknown key '%s' (expected name, base, set, grid, exclude, extra, when, seeds, max_runs, slurm)",
                ks);
        }
    }
    return 0;
}

/* Expand into own-pair points (before set/when), in final order. */
static int expand_points(P *p, Spec *sp, PointList *pts) {
    /* Count before allocating anything: each point costs ~25 KB and naming compares every pair, so a
     * mistyped grid (six axes of ten values) must be refused here, not die in malloc. */
    double n_points = sp->n_axes > 0 || sp->n_extra == 0 ? 1 : 0;
    for (int a = 0; a < sp->n_axes; a++) n_points *= sp->axes[a].n;
    n_points = (n_points + sp->n_extra) * (sp->n_seeds ? sp->n_seeds : 1);
    long cap = sp->max_runs > 0 ? sp->max_runs : SWEEP_MAX_RUNS;
    if (n_points > (double)cap)
        return err_set(p->e,
                       "%s: the grid has %.0f points (before exclude), more than max_runs %ld; set max_runs: N in the "
                       "sweep file to allow more",
                       p->file, n_points, cap);
    PointList base = {0};
    if (sp->n_axes > 0 || sp->n_extra == 0) {
        if (expand_product(p, sp->axes, sp->n_axes, sp->excl, sp->n_excl, sp->grid_line ? sp->grid_line : 1, &base)) {
            free(base.v);
            return -1;
        }
    }
    for (int i = 0; i < sp->n_extra; i++) {
        Pairs pt = sp->extra[i];
        order_like_axes(&pt, sp->axes, sp->n_axes);
        plist_push(&base, &pt);
    }
    if (sp->n_seeds == 0) {
        *pts = base;
        return 0;
    }
    for (int i = 0; i < base.n; i++)
        for (int s = 0; s < sp->n_seeds; s++) {
            Pairs pt = base.v[i];
            if (pairs_find(&pt, "train.seed") >= 0) {
                free(base.v);
                return err_set(p->e, "%s:%d: a point sets train.seed and the file also has seeds:", p->file, pt.line);
            }
            SweepKV kv = {.line = sp->seed_lines[s], .col = sp->seed_cols[s]};
            snprintf(kv.key, sizeof kv.key, "train.seed");
            snprintf(kv.value, sizeof kv.value, "%s", sp->seeds[s]);
            if (pairs_put(&pt, &kv, p->e)) {
                free(base.v);
                return -1;
            }
            plist_push(pts, &pt);
        }
    free(base.v);
    return 0;
}

/* The point's own pairs as "key=value ..." for list output. The label is for people only (the run's
 * identity is its name and keys), so a label longer than the field ends in "..." instead of failing,
 * but never stops short without saying so. */
static void run_label(SweepRun *r, const Pairs *own) {
    StrBuf b = {0};
    if (own->experiment[0]) sb_printf(&b, "experiment=%s", own->experiment);
    for (int i = 0; i < own->n; i++) sb_printf(&b, "%s%s=%s", b.len ? " " : "", own->kv[i].key, own->kv[i].value);
    if (sb_copy(&b, r->label, sizeof r->label) != 0)
        snprintf(r->label, sizeof r->label, "%.*s...", (int)(sizeof r->label - 4), sb_str(&b));
    sb_free(&b);
}

/* set, then when (in order), then the point's own pairs: later wins, but when never overrides own. */
static int build_run(P *p, Spec *sp, const Pairs *own, SweepRun *r) {
    Pairs all = sp->set;
    all.experiment[0] = 0;
    if (merge_into(&all, own, p->e)) return -1;
    for (int w = 0; w < sp->n_when; w++) {
        const Pairs *br = when_matches(&sp->when[w], &all) ? &sp->when[w].then : &sp->when[w].otherwise;
        for (int i = 0; i < br->n; i++)
            if (pairs_find(own, br->kv[i].key) < 0 && pairs_put(&all, &br->kv[i], p->e)) return -1;
    }
    snprintf(r->experiment, sizeof r->experiment, "%s", own->experiment[0] ? own->experiment : sp->base);
    if (!r->experiment[0])
        return err_set(p->e, "%s:%d: no experiment file: give base: or an experiment axis", p->file, own->line);
    /* application order: set keys, when keys, own keys (own last so it wins on the command line too) */
    r->n_kv = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < all.n; i++)
            if ((pairs_find(own, all.kv[i].key) >= 0) == (pass == 1)) r->kv[r->n_kv++] = all.kv[i];
    r->line = own->line;
    run_label(r, own);
    return 0;
}

/* Canonical identity of a run: experiment + sorted overrides. */
static uint64_t run_identity(const SweepRun *r) {
    int order[SWEEP_MAX_KV];
    for (int i = 0; i < r->n_kv; i++) order[i] = i;
    for (int i = 1; i < r->n_kv; i++)
        for (int j = i; j > 0 && strcmp(r->kv[order[j - 1]].key, r->kv[order[j]].key) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    uint64_t h = fnv1a(0xcbf29ce484222325ULL, r->experiment);
    for (int i = 0; i < r->n_kv; i++) {
        h = fnv1a(h, r->kv[order[i]].key);
        h = fnv1a(h, r->kv[order[i]].value);
    }
    return h;
}

static int name_runs(P *p, Sweep *s, const PointList *pts) {
    /* keys that share a short name use their full dotted name */
    static char keys[256][96];
    int full[256] = {0}, n_keys = 0;
    for (int i = 0; i < pts->n; i++)
        for (int k = 0; k < pts->v[i].n; k++) {
            int seen = 0;
            for (int j = 0; j < n_keys; j++) seen |= !strcmp(keys[j], pts->v[i].kv[k].key);
            if (!seen && n_keys < 256) snprintf(keys[n_keys++], sizeof keys[0], "%s", pts->v[i].kv[k].key);
        }
    for (int a = 0; a < n_keys; a++)
        for (int b = 0; b < n_keys; b++)
            if (a != b && !strcmp(short_key(keys[a]), short_key(keys[b]))) full[a] = 1;
    int *lossy = xcalloc((size_t)s->n_runs + 1, sizeof(int));
    uint64_t *ident = xcalloc((size_t)s->n_runs + 1, sizeof(uint64_t));
    for (int i = 0; i < s->n_runs; i++) {
        make_name(&pts->v[i], full, keys, n_keys, s->runs[i].name, sizeof s->runs[i].name - 20, &lossy[i]);
        ident[i] = run_identity(&s->runs[i]);
    }
    int rc = 0;
    for (int i = 0; i < s->n_runs && !rc; i++)
        for (int j = 0; j < i && !rc; j++)
            if (ident[i] == ident[j])
                rc =
                    err_set(p->e, "%s:%d: duplicate point %s (the same run as the point from line %d)", p->file,
                            s->runs[i].line, s->runs[i].label[0] ? s->runs[i].label : s->runs[i].name, s->runs[j].line);
    /* collisions after sanitising: append the point's hash to every colliding (or lossy) name */
    for (int i = 0; i < s->n_runs && !rc; i++)
        for (int j = 0; j < s->n_runs; j++)
            if (i != j && !strcmp(s->runs[i].name, s->runs[j].name)) lossy[i] = 1;
    for (int i = 0; i < s->n_runs && !rc; i++)
        if (lossy[i]) {
            size_t k = strlen(s->runs[i].name);
            snprintf(s->runs[i].name + k, sizeof s->runs[i].name - k, "-%08x", (unsigned)(ident[i] >> 32));
        }
    for (int i = 0; i < s->n_runs && !rc; i++)
        for (int j = 0; j < i && !rc; j++)
            if (!strcmp(s->runs[i].name, s->runs[j].name))
                rc = err_set(p->e, "%s:%d: two points map to the run name %s", p->file, s->runs[i].line,
                             s->runs[i].name);
    /* A name from an experiment file such as `..yaml` would name a directory outside the sweep's. */
    for (int i = 0; i < s->n_runs && !rc; i++) {
        const char *bad = path_name_problem(s->runs[i].name);
        if (bad)
            rc = err_set(p->e, "%s:%d: run name \"%s\" (from experiment %s) %s: rename the experiment file", p->file,
                         s->runs[i].line, s->runs[i].name, s->runs[i].experiment, bad);
    }
    free(lossy);
    free(ident);
    return rc;
}

static int load_text(const char *path, const char *text, size_t len, void *s, Err *e) {
    return sweep_load_text((Sweep *)s, path, text, len, e);
}

int sweep_load(Sweep *s, const char *path, Err *e) {
    memset(s, 0, sizeof *s);
    return parse_file(path, load_text, s, e);
}

int sweep_load_text(Sweep *s, const char *path, const char *text, size_t len, Err *e) {
    memset(s, 0, sizeof *s);
    yaml_document_t doc;
    if (yamlerr_load(path, text, len, &doc, e)) return -1;
    P p = {path, &doc, e};
    Spec *sp = xcalloc(1, sizeof(Spec));
    PointList pts = {0};
    int rc = parse_spec(&p, sp);
    if (!rc && !sp->name[0]) {
        char b[256];
        exp_base(path, b, sizeof b);
        int lossy = 0;
        name_append(sp->name, sizeof sp->name, b, &lossy);
        const char *bad = path_name_problem(sp->name);
        if (bad)
            rc = err_set(e,
                         "%s: the sweep name \"%s\" taken from the file name %s (it names the results directory): add "
                         "name: to the file",
                         path, sp->name, bad);
    }
    if (!rc) rc = expand_points(&p, sp, &pts);
    if (!rc) {
        snprintf(s->name, sizeof s->name, "%s", sp->name);
        snprintf(s->file, sizeof s->file, "%s", path);
        s->slurm_ntasks = sp->slurm_ntasks;
        s->slurm_nodes = sp->slurm_nodes;
        s->slurm_cpus_per_task = sp->slurm_cpus;
        snprintf(s->slurm_mpi, sizeof s->slurm_mpi, "%s", sp->slurm_mpi[0] ? sp->slurm_mpi : "pmix");
        s->n_runs = pts.n;
        s->runs = xcalloc((size_t)(pts.n ? pts.n : 1), sizeof(SweepRun));
        for (int i = 0; i < pts.n && !rc; i++) rc = build_run(&p, sp, &pts.v[i], &s->runs[i]);
        if (!rc && pts.n == 0) rc = err_set(e, "%s: the grid has no points (everything excluded?)", path);
    }
    if (!rc) rc = name_runs(&p, s, &pts);
    for (int i = 0; i < s->n_runs && !rc; i++) rc = check_run(&p, &s->runs[i], sp->base, sp->base_line);
    if (!rc) {
        uint64_t h = fnv1a(0xcbf29ce484222325ULL, s->name);
        for (int i = 0; i < s->n_runs; i++) {
            h = fnv1a(h, s->runs[i].name);
            h ^= run_identity(&s->runs[i]);
            h *= 0x100000001b3ULL;
        }
        s->fingerprint = h;
    }
    free(pts.v);
    spec_free(sp);
    free(sp);
    yaml_document_delete(&doc);
    if (rc) sweep_free(s);
    return rc;
}

void sweep_free(Sweep *s) {
    free(s->runs);
    s->runs = NULL;
    s->n_runs = 0;
}
