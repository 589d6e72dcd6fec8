/* config.c - experiment YAML -> Config (see config.h; every key is documented in docs/schemas.md).
 *
 * One table (KEYS) lists every key: section, name, type, where it lives in Config, its allowed range
 * and, for enums, its names. Loading, --set overrides and writing the resolved file all walk that
 * table, so a key added to the table is parsed, checked and written everywhere at once.
 *
 * Parsing uses libyaml's document API: the whole file becomes a node tree whose nodes keep their
 * start marks, so every semantic error can name FILE:LINE:COL (libyaml marks are 0-based; we print
 * 1-based). Scalars are typed strictly: a quoted scalar is a string, never a number; an integer key
 * rejects 2.5; a number key rejects "abc"; a mapping or sequence where a scalar belongs is an error. */
#include "config.h"
#include "strbuf.h"
#include "yaml_err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- enum names (index = enum value) ---- */
static const char *const OPT_NAMES[] = {"adam", "adamw", NULL};
static const char *const SCHED_NAMES[] = {"cosine", "linear", "constant", NULL};
static const char *const MODE_NAMES[] = {"pack", "pad", NULL};
static const char *const METHOD_NAMES[] = {"none", "uniform", "awd", "adadecay", "alphadecay", NULL};
static const char *const METRIC_NAMES[] = {"alpha", "gradnorm", "fnorm", "spectral_norm", NULL};
static const char *const ASSIGN_NAMES[] = {"linear", "sqrt", "log2", "sigmoid", NULL};
static const char *const FIT_NAMES[] = {"median", "goodness-of-fit", "fix-finger", NULL};
static const char *const EVAL_CONV_NAMES[] = {"token", "authors", NULL};
static const char *const DTYPE_NAMES[] = {"fp32", "bf16", "bf16_pure", NULL}; /* Precision */
static const char *const CKPT_DTYPE_NAMES[] = {"f32", "bf16", NULL};          /* checkpoint.bf16 */

/* names[v] of a NULL-terminated list, "?" past its end: a new enum value needs only its name in the list */
static const char *enum_name(const char *const *names, int v) {
    for (int i = 0; names[i]; i++)
        if (i == v) return names[i];
    return "?";
}
const char *decay_method_name(DecayMethod m) { return enum_name(METHOD_NAMES, (int)m); }
const char *eval_convention_name(EvalConvention v) { return enum_name(EVAL_CONV_NAMES, (int)v); }

/* ---- the key table ---- */
typedef enum { K_INT, K_LONG, K_U64, K_DOUBLE, K_BOOL, K_STR, K_ENUM, K_BETAS, K_EXCLUDE } KeyType;

typedef struct {
    const char *section, *key;
    KeyType type;
    size_t off;               /* offsetof(Config, ...) */
    size_t size;              /* buffer size for K_STR */
    double lo, hi;            /* allowed range for numbers */
    int lo_open;              /* 1: value must be > lo (not >=) */
    const char *const *names; /* K_ENUM */
} KeyDef;

#define OFF(m) offsetof(Config, m)
#define BIG 1e300
/* A row by type: the section and key, which are also the Config member's names, then what the type
 * needs: an inclusive range [lo, hi] for numbers (REAL_KEY_GT: lo < value <= hi), the value names of
 * an enum. The three keys stored under another name or parsed by hand are written out in full. */
#define KEY_ROW(sec, key, type, size, lo, hi, lo_open, names)                                                          \
    { #sec, #key, type, OFF(sec.key), size, lo, hi, lo_open, names }
#define INT_KEY(sec, key, lo, hi) KEY_ROW(sec, key, K_INT, 0, lo, hi, 0, NULL)
#define LONG_KEY(sec, key, lo, hi) KEY_ROW(sec, key, K_LONG, 0, lo, hi, 0, NULL)
#define U64_KEY(sec, key) KEY_ROW(sec, key, K_U64, 0, 0, 0, 0, NULL)
#define REAL_KEY(sec, key, lo, hi) KEY_ROW(sec, key, K_DOUBLE, 0, lo, hi, 0, NULL)
#define REAL_KEY_GT(sec, key, lo, hi) KEY_ROW(sec, key, K_DOUBLE, 0, lo, hi, 1, NULL)
#define BOOL_KEY(sec, key) KEY_ROW(sec, key, K_BOOL, 0, 0, 0, 0, NULL)
#define PATH_KEY(sec, key) KEY_ROW(sec, key, K_STR, AD_PATH_MAX, 0, 0, 0, NULL)
#define ENUM_KEY(sec, key, names) KEY_ROW(sec, key, K_ENUM, 0, 0, 0, 0, names)
static const KeyDef KEYS[] = {
    INT_KEY(model, hidden_size, 1, 1 << 20),
    INT_KEY(model, intermediate_size, 1, 1 << 22),
    INT_KEY(model, num_attention_heads, 1, 4096),
    INT_KEY(model, num_hidden_layers, 1, 4096),
    INT_KEY(model, vocab_size, 2, 2147483647.0),
    INT_KEY(model, max_position_embeddings, 1, 1 << 20),
    REAL_KEY_GT(model, rms_norm_eps, 0, 1),
    REAL_KEY_GT(model, rope_theta, 0, BIG),
    REAL_KEY(model, initializer_range, 0, BIG),

    PATH_KEY(data, dir),
    PATH_KEY(data, train),
    PATH_KEY(data, val),
    INT_KEY(data, seq_len, 1, 1 << 20),
    ENUM_KEY(data, mode, MODE_NAMES),
    BOOL_KEY(data, shuffle),
    LONG_KEY(data, train_tokens, 0, 1e15),
    U64_KEY(data, seed),
    BOOL_KEY(data, follow_train_seed),

    ENUM_KEY(train, optimizer, OPT_NAMES),
    REAL_KEY(train, lr, 0, 10),
    {"train", "betas", K_BETAS, OFF(train.beta1), 0, 0, 1, 0, NULL},
    REAL_KEY_GT(train, eps, 0, 1),
    INT_KEY(train, batch_size, 1, 1 << 24),
    INT_KEY(train, micro_batch_size, 0, 1 << 24),
    LONG_KEY(train, steps, 1, 1e15),
    LONG_KEY(train, warmup_steps, 0, 1e15),
    ENUM_KEY(train, schedule, SCHED_NAMES),
    REAL_KEY(train, min_lr_ratio, 0, 1),
    REAL_KEY(train, grad_clip, 0, BIG),
    U64_KEY(train, seed),
    INT_KEY(train, threads, 0, 4096),
    BOOL_KEY(train, zero),
    PATH_KEY(train, init),
    ENUM_KEY(train, dtype, DTYPE_NAMES),

    ENUM_KEY(decay, method, METHOD_NAMES),
    REAL_KEY(decay, weight_decay, 0, BIG),
    INT_KEY(decay, update_every, 1, 2147483647.0),
    REAL_KEY(decay, s1, 0, BIG),
    REAL_KEY(decay, s2, 0, BIG),
    ENUM_KEY(decay, metric, METRIC_NAMES),
    ENUM_KEY(decay, assign, ASSIGN_NAMES),
    ENUM_KEY(decay, pl_fit, FIT_NAMES),
    REAL_KEY_GT(decay, xmin_pos, 1, BIG),
    REAL_KEY(decay, eigs_thresh, 0, BIG),
    BOOL_KEY(decay, filter_zeros),
    REAL_KEY(decay, zero_thresh, 0, BIG),
    BOOL_KEY(decay, paper_form),
    BOOL_KEY(decay, fix_finger_corrected),
    {"decay", "exclude", K_EXCLUDE, OFF(decay.exclude), 0, 0, 0, 0, NULL},
    REAL_KEY(decay, awd_scale, 0, BIG),
    BOOL_KEY(decay, mean_preserving),
    BOOL_KEY(decay, flat),

    LONG_KEY(eval, every, 0, 1e15),
    LONG_KEY(eval, tokens, 1, 1e15),
    LONG_KEY(eval, test_tokens, 0, 1e15),
    ENUM_KEY(eval, convention, EVAL_CONV_NAMES),
    LONG_KEY(checkpoint, every, 0, 1e15),
    INT_KEY(checkpoint, keep, 1, 1000000),
    {"checkpoint", "dtype", K_ENUM, OFF(checkpoint.bf16), 0, 0, 0, 0, CKPT_DTYPE_NAMES},
    LONG_KEY(log, every, 1, 1e15),
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
static const char *const SECTIONS[] = {"model", "data", "train", "decay", "eval", "checkpoint", "log", NULL};

static const KeyDef *find_key(const char *section, const char *key) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].section, section) && !strcmp(KEYS[i].key, key)) return &KEYS[i];
    return NULL;
}

static int is_section(const char *s) {
    for (int i = 0; SECTIONS[i]; i++)
        if (!strcmp(SECTIONS[i], s)) return 1;
    return 0;
}

int config_key_exists(const char *dotted) {
    char sec[64];
    const char *dot = strchr(dotted, '.');
    if (!dot || (size_t)(dot - dotted) >= sizeof sec) return !strcmp(dotted, "name");
    memcpy(sec, dotted, (size_t)(dot - dotted));
    sec[dot - dotted] = 0;
    return find_key(sec, dot + 1) != NULL;
}

/* ---- defaults ---- */
void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    c->model = (ModelConfig){.hidden_size = 64,
                             .intermediate_size = 172,
                             .num_attention_heads = 4,
                             .num_hidden_layers = 2,
                             .vocab_size = 512,
                             .max_position_embeddings = 1024,
                             .rms_norm_eps = 1e-6,
                             .rope_theta = 10000.0,
                             .initializer_range = 0.02};
    c->layer.dir = c->layer.train = c->layer.val = c->layer.vocab = -1;
    c->data.seq_len = 256;
    c->data.mode = DATA_PACK;
    c->data.shuffle = 1;
    c->data.seed = 42;
    c->train.optimizer = OPT_ADAM;
    c->train.lr = 1e-3;
    c->train.beta1 = 0.9;
    c->train.beta2 = 0.999;
    c->train.eps = 1e-8;
    c->train.batch_size = 512;
    c->train.micro_batch_size = 0; /* = batch_size, resolved by config_resolve */
    c->train.steps = 10000;
    c->train.warmup_steps = 1000;
    c->train.schedule = SCHED_COSINE;
    c->train.min_lr_ratio = 0.1;
    c->train.grad_clip = 0.0;
    c->train.seed = 0;
    c->train.threads = 0;
    c->decay.method = DECAY_UNIFORM;
    c->decay.weight_decay = 0.0;
    c->decay.update_every = 500;
    c->decay.s1 = 0.6666;
    c->decay.s2 = 3.0;
    c->decay.metric = METRIC_ALPHA;
    c->decay.assign = ASSIGN_LINEAR;
    c->decay.pl_fit = FIT_MEDIAN;
    c->decay.xmin_pos = 2.0;
    c->decay.eigs_thresh = 50.0;
    c->decay.zero_thresh = 1e-5;
    snprintf(c->decay.exclude[0], sizeof c->decay.exclude[0], "model.layers.0.self_attn.q_proj");
    snprintf(c->decay.exclude[1], sizeof c->decay.exclude[1], "lm_head");
    c->decay.n_exclude = 2;
    c->decay.awd_scale = 100.0;
    c->eval.every = 1000;
    c->eval.tokens = 10000000;
    c->checkpoint.every = 1000;
    c->checkpoint.keep = 2;
    c->log.every = 1;
}

/* ---- scalar parsing ---- */

/* Where an error happened: "FILE:LINE:COL" for a file, "--set ASSIGNMENT" for an override. */
typedef struct {
    const char *file;   /* NULL for --set */
    const char *assign; /* the --set text */
} Ctx;

static int node_err(const Ctx *x, const yaml_node_t *n, Err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int node_err(const Ctx *x, const yaml_node_t *n, Err *e, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->file) {
        if (!n) return err_set(e, "%s:1:1: %s", x->file, msg); /* no node: the document's start */
        return yamlerr_node(e, x->file, n, "%s", msg);
    }
    return err_set(e, "--set %s: %s", x->assign, msg);
}

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static int is_plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static int is_null_scalar(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || !is_plain(n)) return 0;
    const char *s = sval(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *node_kind(const yaml_node_t *n) {
    return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a sequence" : "a scalar";
}

/* A finite real written as a plain YAML scalar. */
static int parse_real(const yaml_node_t *n, double *out) {
    if (n->type != YAML_SCALAR_NODE || !is_plain(n)) return -1;
    const char *s = sval(n);
    if (!*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    /* strtod also takes hex floats and "infinity"; YAML numbers are decimal */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p)) return -1;
    *out = v;
    return 0;
}

/* An integer: digits with an optional sign and optional non-negative exponent (1e7), no '.'. */
static int parse_integer(const yaml_node_t *n, double *out) {
    if (parse_real(n, out) != 0) return -1;
    if (strchr(sval(n), '.') || floor(*out) != *out) return -1;
    return 0;
}

static int check_range(const Ctx *x, const KeyDef *k, const yaml_node_t *n, double v, Err *e) {
    int below = k->lo_open ? !(v > k->lo) : !(v >= k->lo);
    if (!below && v <= k->hi) return 0;
    if (k->hi >= BIG && below)
        return node_err(x, n, e, "%s.%s: %s out of range (must be %s %g)", k->section, k->key, sval(n),
                        k->lo_open ? ">" : ">=", k->lo);
    if (k->hi >= BIG) /* the bound that keeps arithmetic on the value finite */
        return node_err(x, n, e, "%s.%s: %s out of range (must be at most %g)", k->section, k->key, sval(n), k->hi);
    return node_err(x, n, e, "%s.%s: %s out of range (must be in %c%.15g, %.15g])", k->section, k->key, sval(n),
                    k->lo_open ? '(' : '[', k->lo, k->hi);
}

static int set_number(Config *c, const KeyDef *k, const Ctx *x, const yaml_node_t *n, Err *e) {
    char *base = (char *)c + k->off;
    if (n->type != YAML_SCALAR_NODE)
        return node_err(x, n, e, "%s.%s: expected a number, got %s", k->section, k->key, node_kind(n));
    double v;
    if (k->type == K_DOUBLE) {
        if (parse_real(n, &v) != 0)
            return node_err(x, n, e, "%s.%s: expected a number, got '%s'", k->section, k->key, sval(n));
        if (check_range(x, k, n, v, e)) return -1;
        *(double *)base = v;
        if (!strcmp(k->section, "decay") && !strcmp(k->key, "s2")) c->decay.s2_set = 1;
        return 0;
    }
    if (k->type == K_U64) {
        const char *s = sval(n);
        if (!is_plain(n) || !*s || !isdigit((unsigned char)*s))
            return node_err(x, n, e, "%s.%s: expected a non-negative integer, got '%s'", k->section, k->key, s);
        char *end;
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (*end || errno == ERANGE)
            return node_err(x, n, e, "%s.%s: expected a non-negative integer, got '%s'", k->section, k->key, s);
        *(uint64_t *)base = (uint64_t)u;
        return 0;
    }
    if (parse_integer(n, &v) != 0)
        return node_err(x, n, e, "%s.%s: expected an integer, got '%s'", k->section, k->key, sval(n));
    if (check_range(x, k, n, v, e)) return -1;
    if (k->type == K_INT) *(int *)base = (int)v;
    else *(long *)base = (long)v;
    return 0;
}

static int set_scalar_key(Config *c, const KeyDef *k, const Ctx *x, const yaml_node_t *n, Err *e) {
    char *base = (char *)c + k->off;
    if (n->type != YAML_SCALAR_NODE)
        return node_err(x, n, e, "%s.%s: expected a scalar, got %s", k->section, k->key, node_kind(n));
    const char *s = sval(n);
    if (k->type == K_BOOL) {
        if (is_plain(n) && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes"))) *(int *)base = 1;
        else if (is_plain(n) && (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no"))) *(int *)base = 0;
        else return node_err(x, n, e, "%s.%s: expected true or false, got '%s'", k->section, k->key, s);
        return 0;
    }
    if (k->type == K_STR) {
        if (is_null_scalar(n)) s = "";
        if (strlen(s) >= k->size) return node_err(x, n, e, "%s.%s: string too long", k->section, k->key);
        snprintf(base, k->size, "%s", s);
        return 0;
    }
    /* K_ENUM */
    for (int i = 0; k->names[i]; i++)
        if (!strcmp(k->names[i], s)) {
            *(int *)base = i;
            return 0;
        }
    StrBuf list = {0};
    for (int i = 0; k->names[i]; i++) sb_printf(&list, "%s%s", i ? "|" : "", k->names[i]);
    int rc = node_err(x, n, e, "%s.%s: unknown value '%s' (expected %s)", k->section, k->key, s, sb_str(&list));
    sb_free(&list);
    return rc;
}

static int set_betas(Config *c, const KeyDef *k, const Ctx *x, yaml_document_t *d, const yaml_node_t *n, Err *e) {
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top - n->data.sequence.items.start != 2)
        return node_err(x, n, e, "train.betas: expected a sequence of two numbers [beta1, beta2]");
    double b[2];
    for (int i = 0; i < 2; i++) {
        yaml_node_t *it = yaml_document_get_node(d, n->data.sequence.items.start[i]);
        if (!it || parse_real(it, &b[i]) != 0)
            return node_err(x, it ? it : n, e, "train.betas: expected a number, got %s",
                            it && it->type == YAML_SCALAR_NODE ? sval(it) : "a collection");
        if (b[i] < 0 || b[i] >= 1)
            return node_err(x, it, e, "train.betas: %s out of range (must be in [0, 1))", sval(it));
    }
    (void)k;
    c->train.beta1 = b[0];
    c->train.beta2 = b[1];
    return 0;
}

static int set_exclude(Config *c, const Ctx *x, yaml_document_t *d, const yaml_node_t *n, Err *e) {
    if (n->type != YAML_SEQUENCE_NODE)
        return node_err(x, n, e, "decay.exclude: expected a sequence of module names, got %s", node_kind(n));
    int cnt = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_EXCLUDE) return node_err(x, n, e, "decay.exclude: more than %d names", MAX_EXCLUDE);
    char names[MAX_EXCLUDE][96];
    memset(names, 0, sizeof names); /* keeps Config comparable with memcmp */
    for (int i = 0; i < cnt; i++) {
        yaml_node_t *it = yaml_document_get_node(d, n->data.sequence.items.start[i]);
        if (!it || it->type != YAML_SCALAR_NODE || !*sval(it))
            return node_err(x, it ? it : n, e, "decay.exclude: expected a module name");
        if (strlen(sval(it)) >= sizeof names[0]) return node_err(x, it, e, "decay.exclude: name too long");
        snprintf(names[i], sizeof names[i], "%s", sval(it));
    }
    memcpy(c->decay.exclude, names, sizeof names[0] * (size_t)cnt);
    c->decay.n_exclude = cnt;
    return 0;
}

/* Record the layer of the keys data.dir stands for (Config.layer). */
static void note_layer(Config *c, const KeyDef *k) {
    int *at = !strcmp(k->section, "data")                                     ? (!strcmp(k->key, "dir")     ? &c->layer.dir
                                                                                 : !strcmp(k->key, "train") ? &c->layer.train
                                                                                 : !strcmp(k->key, "val")   ? &c->layer.val
                                                                                                            : NULL)
              : !strcmp(k->section, "model") && !strcmp(k->key, "vocab_size") ? &c->layer.vocab
                                                                              : NULL;
    if (at) *at = c->layer.n;
}

static int set_key(Config *c, const KeyDef *k, const Ctx *x, yaml_document_t *d, const yaml_node_t *n, Err *e) {
    note_layer(c, k);
    switch (k->type) {
        case K_INT:
        case K_LONG:
        case K_U64:
        case K_DOUBLE: return set_number(c, k, x, n, e);
        case K_BOOL:
        case K_STR:
        case K_ENUM: return set_scalar_key(c, k, x, n, e);
        case K_BETAS: return set_betas(c, k, x, d, n, e);
        case K_EXCLUDE: return set_exclude(c, x, d, n, e);
    }
    return node_err(x, n, e, "internal: bad key type");
}

/* ---- documents ---- */

static int set_name(Config *c, const Ctx *x, const yaml_node_t *n, Err *e) {
    if (n->type != YAML_SCALAR_NODE) return node_err(x, n, e, "name: expected a string, got %s", node_kind(n));
    if (strlen(sval(n)) >= sizeof c->name) return node_err(x, n, e, "name: too long");
    snprintf(c->name, sizeof c->name, "%s", sval(n));
    return 0;
}

static int load_section(Config *c, const Ctx *x, yaml_document_t *d, const char *sec, const yaml_node_t *map, Err *e) {
    if (map->type != YAML_MAPPING_NODE) {
        if (is_null_scalar(map)) return 0; /* "eval:" with nothing under it */
        return node_err(x, map, e, "%s: expected a mapping of keys, got %s", sec, node_kind(map));
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(d, p->key), *vn = yaml_document_get_node(d, p->value);
        if (kn->type != YAML_SCALAR_NODE) return node_err(x, kn, e, "%s: keys must be scalars", sec);
        const KeyDef *k = find_key(sec, sval(kn));
        if (!k) return node_err(x, kn, e, "unknown key '%s.%s'", sec, sval(kn));
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = yaml_document_get_node(d, q->key);
            if (qk->type == YAML_SCALAR_NODE && !strcmp(sval(qk), sval(kn)))
                return node_err(x, kn, e, "duplicate key '%s.%s'", sec, sval(kn));
        }
        if (set_key(c, k, x, d, vn, e)) return -1;
    }
    return 0;
}

static int load_root(Config *c, const Ctx *x, yaml_document_t *d, Err *e) {
    yaml_node_t *root = yaml_document_get_root_node(d);
    if (!root) return 0; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) return node_err(x, root, e, "expected a mapping of sections at the top level");
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(d, p->key), *vn = yaml_document_get_node(d, p->value);
        if (kn->type != YAML_SCALAR_NODE) return node_err(x, kn, e, "section names must be scalars");
        const char *s = sval(kn);
        for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = yaml_document_get_node(d, q->key);
            if (qk->type == YAML_SCALAR_NODE && !strcmp(sval(qk), s))
                return node_err(x, kn, e, "duplicate section '%s'", s);
        }
        if (!strcmp(s, "version")) continue; /* written by config_write_yaml; informative only */
        if (!strcmp(s, "name")) {
            if (set_name(c, x, vn, e)) return -1;
            continue;
        }
        if (!is_section(s))
            return node_err(x, kn, e,
                            "unknown section '%s' (expected model, data, train, decay, eval, checkpoint, log)", s);
        if (load_section(c, x, d, s, vn, e)) return -1;
    }
    return 0;
}

static int parser_err(const char *file, yaml_parser_t *p, Err *e) {
    const char *what = p->problem ? p->problem : "malformed YAML";
    if (file) return yamlerr_parser(e, file, p);
    return err_set(e, "YAML syntax error: %s", what);
}

int config_load(Config *c, const char *path, Err *e) {
    char *text;
    size_t len;
    if (read_file(path, &text, &len, e)) return -1;
    if (yamlerr_check_bounds(text, len, path, e)) {
        free(text);
        return -1;
    }
    yaml_parser_t p;
    yaml_document_t d;
    if (!yaml_parser_initialize(&p)) {
        free(text);
        return err_set(e, "%s: cannot initialise the YAML parser", path);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&p, &d)) {
        rc = parser_err(path, &p, e);
    } else {
        Ctx x = {path, NULL};
        rc = load_root(c, &x, &d, e);
        yaml_document_delete(&d);
        if (rc == 0) { /* a second document would be silently ignored otherwise */
            if (!yaml_parser_load(&p, &d)) rc = parser_err(path, &p, e);
            else {
                yaml_node_t *r2 = yaml_document_get_root_node(&d);
                if (r2) rc = node_err(&x, r2, e, "more than one YAML document in an experiment file");
                yaml_document_delete(&d);
            }
        }
    }
    yaml_parser_delete(&p);
    free(text);
    if (rc == 0) snprintf(c->source, sizeof c->source, "%s", path);
    return rc;
}

int config_set(Config *c, const char *assignment, Err *e) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) return err_set(e, "--set %s: expected section.key=value", assignment);
    char key[128];
    if ((size_t)(eq - assignment) >= sizeof key) return err_set(e, "--set %s: key too long", assignment);
    memcpy(key, assignment, (size_t)(eq - assignment));
    key[eq - assignment] = 0;
    const char *value = eq + 1;
    const KeyDef *k = NULL;
    int is_name = !strcmp(key, "name");
    c->layer.n++; /* each override is a layer above the file and the overrides before it */
    if (!is_name) {
        char *dot = strchr(key, '.');
        if (!dot) return err_set(e, "--set %s: unknown key '%s' (expected section.key)", assignment, key);
        *dot = 0;
        k = find_key(key, dot + 1);
        *dot = '.';
        if (!k) return err_set(e, "--set %s: unknown key '%s'", assignment, key);
    }
    char where[300];
    snprintf(where, sizeof where, "--set %.280s", assignment);
    if (yamlerr_check_bounds(value, strlen(value), where, e)) return -1;
    yaml_parser_t p;
    yaml_document_t d;
    if (!yaml_parser_initialize(&p)) return err_set(e, "--set %s: cannot initialise the YAML parser", assignment);
    yaml_parser_set_input_string(&p, (const unsigned char *)value, strlen(value));
    int rc;
    if (!yaml_parser_load(&p, &d)) {
        rc = err_set(e, "--set %s: YAML syntax error in the value: %s", assignment, p.problem ? p.problem : "?");
    } else {
        Ctx x = {NULL, assignment};
        yaml_node_t *n = yaml_document_get_root_node(&d);
        if (!n) { /* "key=" : an empty value is a null scalar */
            yaml_document_delete(&d);
            yaml_document_initialize(&d, NULL, NULL, NULL, 1, 1);
            yaml_document_add_scalar(&d, NULL, (yaml_char_t *)"", 0, YAML_PLAIN_SCALAR_STYLE);
            n = yaml_document_get_root_node(&d);
        }
        rc = is_name ? set_name(c, &x, n, e) : set_key(c, k, &x, &d, n, e);
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* ---- cross-field checks and derived defaults ---- */

/* The value node of SECTION.KEY in the loaded file, or NULL when the file does not set it. */
static const yaml_node_t *find_value(yaml_document_t *d, const char *dotted) {
    const char *dot = strchr(dotted, '.');
    yaml_node_t *map = yaml_document_get_root_node(d);
    for (int depth = 0; depth < 2 && map; depth++) {
        if (map->type != YAML_MAPPING_NODE) return NULL;
        const char *want = depth == 0 ? dotted : dot + 1;
        size_t len = depth == 0 ? (size_t)(dot - dotted) : strlen(want);
        yaml_node_t *next = NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top && !next; p++) {
            yaml_node_t *k = yaml_document_get_node(d, p->key);
            if (k && k->type == YAML_SCALAR_NODE && strlen(sval(k)) == len && !strncmp(sval(k), want, len))
                next = yaml_document_get_node(d, p->value);
        }
        map = next;
    }
    return map;
}

/* A cross-field error at the first of keys[] (NULL-terminated "section.key" names) that the source file
 * sets: "FILE:LINE:COL: message", like the per-key errors of the parser. When none is in the file (defaults,
 * --set overrides, a Config built in code) the message names the file alone. The file is read again only
 * here, on the error path, so a Config carries no positions. */
static int cross_err(const Config *c, const char *const *keys, Err *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cross_err(const Config *c, const char *const *keys, Err *e, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!c->source[0]) return err_set(e, "config: %s", msg);
    char *text;
    size_t len;
    Err ignored;
    yaml_parser_t p;
    yaml_document_t d;
    int rc = -2;
    if (read_file(c->source, &text, &len, &ignored)) return err_set(e, "%s: %s", c->source, msg);
    if (yaml_parser_initialize(&p)) {
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        if (yaml_parser_load(&p, &d)) {
            const yaml_node_t *n = NULL;
            for (int i = 0; keys[i] && !n; i++) n = find_value(&d, keys[i]);
            if (n) rc = yamlerr_node(e, c->source, n, "%s", msg);
            yaml_document_delete(&d);
        }
        yaml_parser_delete(&p);
    }
    free(text);
    return rc == -2 ? err_set(e, "%s: %s", c->source, msg) : rc;
}
#define AT(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every check of a value's meaning lives here or in the key table (ranges, types, enum names): the
 * modules that use a Config (model, decay, optimizer, train) trust a validated one and check nothing again. */
int config_validate(const Config *c, Err *e) {
    const ModelConfig *m = &c->model;
    const char *heads = "model.num_attention_heads";
    if (m->hidden_size % m->num_attention_heads)
        return cross_err(c, AT(heads, "model.hidden_size"), e,
                         "model.num_attention_heads (%d) must divide model.hidden_size (%d)", m->num_attention_heads,
                         m->hidden_size);
    if ((m->hidden_size / m->num_attention_heads) % 2)
        return cross_err(c, AT(heads, "model.hidden_size"), e,
                         "head dimension hidden_size/num_attention_heads = %d must be even (RoPE)",
                         m->hidden_size / m->num_attention_heads);
    if (c->data.seq_len > m->max_position_embeddings)
        return cross_err(c, AT("data.seq_len", "model.max_position_embeddings"), e,
                         "data.seq_len (%d) exceeds model.max_position_embeddings (%d)", c->data.seq_len,
                         m->max_position_embeddings);
    int micro = c->train.micro_batch_size ? c->train.micro_batch_size : c->train.batch_size;
    if (micro > c->train.batch_size || c->train.batch_size % micro)
        return cross_err(c, AT("train.micro_batch_size", "train.batch_size"), e,
                         "train.batch_size (%d) must be a multiple of train.micro_batch_size (%d)", c->train.batch_size,
                         micro);
    if (c->train.warmup_steps > c->train.steps)
        return cross_err(c, AT("train.warmup_steps", "train.steps"), e,
                         "train.warmup_steps (%ld) exceeds train.steps (%ld)", c->train.warmup_steps, c->train.steps);
    /* ranges the key table enforces on every parsed value; repeated for a Config set in code */
    if (!(c->decay.weight_decay >= 0) || !(c->decay.s1 >= 0) || !(c->decay.s2 >= 0) || !(c->decay.awd_scale >= 0))
        return cross_err(c, AT("decay.weight_decay", "decay.s1", "decay.s2", "decay.awd_scale"), e,
                         "decay.weight_decay, s1, s2 and awd_scale must be non-negative");
    if (c->decay.s1 > c->decay.s2)
        return cross_err(c, AT("decay.s1", "decay.s2"), e, "decay.s1 (%g) must not exceed decay.s2 (%g)", c->decay.s1,
                         c->decay.s2);
    if (c->decay.update_every < 1)
        return cross_err(c, AT("decay.update_every"), e, "decay.update_every must be >= 1 (got %d)",
                         c->decay.update_every);
    if (!(c->decay.xmin_pos > 1))
        return cross_err(c, AT("decay.xmin_pos"), e, "decay.xmin_pos must be > 1 (got %g)", c->decay.xmin_pos);
    if (c->train.optimizer == OPT_ADAMW && c->decay.weight_decay * c->train.lr >= 1.0)
        return cross_err(c, AT("decay.weight_decay", "train.lr"), e,
                         "train.lr * decay.weight_decay >= 1 would flip the sign of the weights (adamw)");
    /* AWD gives every tensor the same decay: a mean-preserving AWD would be Uniform itself */
    if (c->decay.mean_preserving && c->decay.method != DECAY_ADADECAY && c->decay.method != DECAY_ALPHADECAY)
        return cross_err(c, AT("decay.mean_preserving", "decay.method"), e,
                         "decay.mean_preserving applies to the module-wise methods (adadecay, alphadecay) only: %s "
                         "gives every tensor the same decay",
                         decay_method_name(c->decay.method));
    /* flat takes the allocation away and keeps the method's strength; AWD and Uniform have no allocation */
    if (c->decay.flat && c->decay.method != DECAY_ADADECAY && c->decay.method != DECAY_ALPHADECAY)
        return cross_err(c, AT("decay.flat", "decay.method"), e,
                         "decay.flat applies to the module-wise methods (adadecay, alphadecay) only: %s "
                         "gives every tensor the same decay",
                         decay_method_name(c->decay.method));
    /* mean_preserving keeps the allocation at eta's strength, flat drops it at the method's: one or the other */
    if (c->decay.flat && c->decay.mean_preserving)
        return cross_err(c, AT("decay.flat", "decay.mean_preserving"), e,
                         "decay.flat and decay.mean_preserving exclude each other: flat with the mean fixed at eta "
                         "would be uniform decay");
    if (!c->data.train[0])
        return cross_err(c, AT("data.train"), e, "data.train is not set (path of the training shard)");
    if (m->vocab_size < 2) return cross_err(c, AT("model.vocab_size"), e, "model.vocab_size must be at least 2");
    return 0;
}
#undef AT

void config_resolve(Config *c) {
    if (c->train.micro_batch_size == 0) c->train.micro_batch_size = c->train.batch_size;
    /* docs/method.md, "s1 and s2": s2 = 3 for Adam with eta = 1e-5, 5 for smaller eta and for every AdamW eta.
     * The 1e-12 slack keeps "1e-5" written in any spelling on the 3 side. */
    if (!c->decay.s2_set)
        c->decay.s2 = (c->train.optimizer == OPT_ADAM && c->decay.weight_decay >= 1e-5 - 1e-12) ? 3.0 : 5.0;
}

int config_load_overrides(Config *c, const char *path, const char *const *sets, int n_sets, ConfigAt *at, Err *e) {
    ConfigAt own;
    if (!at) at = &own;
    config_defaults(c);
    at->step = CONFIG_AT_LOAD;
    if (config_load(c, path, e)) return -1;
    at->step = CONFIG_AT_SET;
    for (at->set = 0; at->set < n_sets; at->set++)
        if (config_set(c, sets[at->set], e)) return -1;
    return 0;
}

/* data.dir: the prepared corpus's shards and vocabulary (its prep.json) for the keys no later layer gave. */
static int resolve_data_dir(Config *c, Err *e) {
    if (!c->data.dir[0]) return 0;
    char meta[AD_PATH_MAX + 16], shard[AD_PATH_MAX + 16];
    const char *d = c->data.dir;
    snprintf(meta, sizeof meta, "%s/prep.json", d);
    if (!file_exists(meta))
        return cross_err(c, (const char *const[]){"data.dir", NULL}, e,
                         "data.dir %s: no %s (expected a directory written by alphadecay prep)", d, meta);
    int L = c->layer.dir;
    snprintf(shard, sizeof shard, "%s/train.bin", d);
    if (c->layer.train < L) {
        if (strlen(shard) >= sizeof c->data.train) return err_set(e, "data.dir %s: path too long", d);
        memcpy(c->data.train, shard, strlen(shard) + 1);
    }
    if (c->layer.val < L) {
        char val[AD_PATH_MAX + 16];
        snprintf(val, sizeof val, "%s/val.bin", d);
        if (strlen(val) >= sizeof c->data.val) return err_set(e, "data.dir %s: path too long", d);
        memcpy(c->data.val, file_exists(val) ? val : "",
               file_exists(val) ? strlen(val) + 1 : 1); /* no val shard: no evaluation */
    }
    if (c->layer.vocab < L) {
        TokenIds ids = {0};
        if (prep_read_ids(shard, &ids, e) < 0) return -1;
        if (!ids.vocab) return err_set(e, "%s: no vocab_size (data.dir needs it for model.vocab_size)", meta);
        c->model.vocab_size = ids.vocab;
    }
    return 0;
}

int config_finish(Config *c, ConfigAt *at, Err *e) {
    if (at) at->step = CONFIG_AT_VALIDATE;
    if (resolve_data_dir(c, e)) return -1;
    config_resolve(c);
    return config_validate(c, e);
}

int config_load_resolved(Config *c, const char *path, const char *const *sets, int n_sets, ConfigAt *at, Err *e) {
    return config_load_overrides(c, path, sets, n_sets, at, e) ? -1 : config_finish(c, at, e);
}

/* ---- writing ---- */

/* A YAML double-quoted string (escapes backslash, quote and control characters). */
static void sb_quoted(StrBuf *b, const char *s) {
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') sb_printf(b, "\\%c", ch);
        else if (ch < 0x20) sb_printf(b, "\\x%02x", ch);
        else sb_printf(b, "%c", ch);
    }
    sb_printf(b, "\"");
}

/* The shortest %g spelling that reads back as exactly the same double (1e-06, not 9.99...e-07). */
static void sb_double(StrBuf *b, double v) {
    char t[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, v);
        if (strtod(t, NULL) == v) break;
    }
    sb_printf(b, "%s", t);
}

static void write_key(StrBuf *b, const Config *c, const KeyDef *k) {
    const char *base = (const char *)c + k->off;
    /* only when given: a run written before data.dir existed resumes against the same lines */
    if (!strcmp(k->section, "data") && !strcmp(k->key, "dir") && !c->data.dir[0]) return;
    /* only when true: a run written before decay.flat existed resumes against the same lines, and the seeds of a
     * grid written on both sides of it are the same experiment to the analysis */
    if (!strcmp(k->section, "decay") && !strcmp(k->key, "flat") && !c->decay.flat) return;
    sb_printf(b, "  %s: ", k->key);
    switch (k->type) {
        case K_INT: sb_printf(b, "%d", *(const int *)base); break;
        case K_LONG: sb_printf(b, "%ld", *(const long *)base); break;
        case K_U64: sb_printf(b, "%llu", (unsigned long long)*(const uint64_t *)base); break;
        case K_DOUBLE: sb_double(b, *(const double *)base); break;
        case K_BOOL: sb_printf(b, "%s", *(const int *)base ? "true" : "false"); break;
        case K_STR: sb_quoted(b, base); break;
        case K_ENUM: sb_printf(b, "%s", k->names[*(const int *)base]); break;
        case K_BETAS:
            sb_printf(b, "[");
            sb_double(b, c->train.beta1);
            sb_printf(b, ", ");
            sb_double(b, c->train.beta2);
            sb_printf(b, "]");
            break;
        case K_EXCLUDE:
            sb_printf(b, "[");
            for (int i = 0; i < c->decay.n_exclude; i++) {
                if (i) sb_printf(b, ", ");
                sb_quoted(b, c->decay.exclude[i]);
            }
            sb_printf(b, "]");
            break;
    }
    sb_printf(b, "\n");
}

char *config_to_yaml(const Config *c) {
    StrBuf b = sb_alloc(4096);
    sb_printf(&b, "# fully resolved configuration written by alphadecay\nversion: \"%s\"\n", AD_VERSION);
    if (c->name[0]) {
        sb_printf(&b, "name: ");
        sb_quoted(&b, c->name);
        sb_printf(&b, "\n");
    }
    for (int s = 0; SECTIONS[s]; s++) {
        sb_printf(&b, "%s:\n", SECTIONS[s]);
        for (size_t i = 0; i < N_KEYS; i++)
            if (!strcmp(KEYS[i].section, SECTIONS[s])) write_key(&b, c, &KEYS[i]);
    }
    return b.p;
}

int config_write_yaml(const Config *c, const char *path, Err *e) {
    char *text = config_to_yaml(c);
    int rc = write_file_atomic(path, text, strlen(text), e);
    free(text);
    return rc;
}
