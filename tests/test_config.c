/* test_config.c - experiment YAML: defaults, every section, every error with its file:line:col,
 * --set overrides, cross-field validation, derived defaults (s2) and the write/load round trip. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "testutil.h"

static char dir[256];

/* Write text to DIR/name and return the path (static buffer, one at a time). */
static const char *put(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return path;
    fputs(text, f);
    fclose(f);
    return path;
}

/* Load text; expect failure whose message contains want (e.g. "bad.yaml:3:9:"). */
static void expect_error(const BadInput *b) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    const char *p = put("bad.yaml", b->text);
    check_bad_input(b, config_load(&c, p, &e), e.msg);
}

static void test_defaults(void) {
    Config c;
    config_defaults(&c);
    CHECK(c.model.hidden_size == 64 && c.model.intermediate_size == 172 && c.model.num_attention_heads == 4 &&
              c.model.num_hidden_layers == 2 && c.model.vocab_size == 512 && c.model.max_position_embeddings == 1024,
          "defaults_model", "model defaults wrong");
    CHECK_CLOSE(c.model.rms_norm_eps, 1e-6, 0, 0, "defaults_rms_eps");
    CHECK_CLOSE(c.model.rope_theta, 10000, 0, 0, "defaults_rope_theta");
    CHECK(c.data.seq_len == 256 && c.data.mode == DATA_PACK && c.data.shuffle == 1, "defaults_data", "data defaults");
    CHECK(c.train.optimizer == OPT_ADAM && c.train.lr == 1e-3 && c.train.beta1 == 0.9 && c.train.beta2 == 0.999 &&
              c.train.eps == 1e-8 && c.train.batch_size == 512 && c.train.schedule == SCHED_COSINE &&
              c.train.min_lr_ratio == 0.1 && c.train.grad_clip == 0 && c.train.threads == 0,
          "defaults_train", "train defaults");
    CHECK(c.decay.method == DECAY_UNIFORM && c.decay.update_every == 500 && c.decay.s1 == 0.6666 &&
              c.decay.metric == METRIC_ALPHA && c.decay.assign == ASSIGN_LINEAR && c.decay.pl_fit == FIT_MEDIAN &&
              c.decay.xmin_pos == 2 && c.decay.eigs_thresh == 50 && c.decay.awd_scale == 100 && !c.decay.s2_set,
          "defaults_decay", "decay defaults");
    CHECK(c.decay.n_exclude == 2 && !strcmp(c.decay.exclude[0], "model.layers.0.self_attn.q_proj") &&
              !strcmp(c.decay.exclude[1], "lm_head"),
          "defaults_exclude", "n_exclude %d", c.decay.n_exclude);
    CHECK(c.eval.every == 1000 && c.eval.tokens == 10000000 && c.checkpoint.every == 1000 && c.checkpoint.keep == 2 &&
              c.log.every == 1,
          "defaults_eval_ckpt_log", "eval/checkpoint/log defaults");
}

static const char *FULL =
    "# every section\n"
    "name: full test\n"
    "version: 0.0.1\n"
    "model:\n"
    "  hidden_size: 128\n"
    "  intermediate_size: 344\n"
    "  num_attention_heads: 4\n"
    "  num_hidden_layers: 3\n"
    "  vocab_size: 4096\n"
    "  max_position_embeddings: 512\n"
    "  rms_norm_eps: 1e-5\n"
    "  rope_theta: 500000\n"
    "  initializer_range: 0.01\n"
    "data: {train: data/x/train.bin, val: \"data/x/val.bin\", seq_len: 128, mode: pad, shuffle: false}\n"
    "train:\n"
    "  optimizer: adamw\n"
    "  lr: 6e-4\n"
    "  betas: [0.85, 0.95]\n"
    "  eps: 1e-6\n"
    "  batch_size: 16\n"
    "  micro_batch_size: 4\n"
    "  steps: 300\n"
    "  warmup_steps: 30\n"
    "  schedule: linear\n"
    "  min_lr_ratio: 0.0\n"
    "  grad_clip: 1.0\n"
    "  seed: 18446744073709551615\n"
    "  threads: 2\n"
    "  init: ckpt/dir\n"
    "decay:\n"
    "  method: alphadecay\n"
    "  weight_decay: 5e-6\n"
    "  update_every: 50\n"
    "  s1: 0.5\n"
    "  s2: 4\n"
    "  metric: spectral_norm\n"
    "  assign: sigmoid\n"
    "  pl_fit: goodness-of-fit\n"
    "  xmin_pos: 3\n"
    "  eigs_thresh: 10\n"
    "  filter_zeros: true\n"
    "  zero_thresh: 1e-7\n"
    "  paper_form: yes\n"
    "  fix_finger_corrected: true\n"
    "  exclude: [lm_head, model.layers.1.mlp.up_proj, model.layers.0.self_attn.k_proj]\n"
    "  awd_scale: 50\n"
    "eval: {every: 100, tokens: 1e6}\n"
    "checkpoint: {every: 50, keep: 3}\n"
    "log: {every: 10}\n";

static void check_full(const Config *c, const char *tag) {
    char n[96];
#define NM(s) (snprintf(n, sizeof n, "%s_%s", tag, s), n)
    CHECK(!strcmp(c->name, "full test"), NM("name"), "name '%s'", c->name);
    CHECK(c->model.hidden_size == 128 && c->model.intermediate_size == 344 && c->model.num_attention_heads == 4 &&
              c->model.num_hidden_layers == 3 && c->model.vocab_size == 4096 &&
              c->model.max_position_embeddings == 512 && c->model.rms_norm_eps == 1e-5 &&
              c->model.rope_theta == 500000 && c->model.initializer_range == 0.01,
          NM("model"), "model section");
    CHECK(!strcmp(c->data.train, "data/x/train.bin") && !strcmp(c->data.val, "data/x/val.bin") &&
              c->data.seq_len == 128 && c->data.mode == DATA_PAD && c->data.shuffle == 0,
          NM("data"), "data section: train '%s' val '%s'", c->data.train, c->data.val);
    CHECK(c->train.optimizer == OPT_ADAMW && c->train.lr == 6e-4 && c->train.beta1 == 0.85 && c->train.beta2 == 0.95 &&
              c->train.eps == 1e-6 && c->train.batch_size == 16 && c->train.micro_batch_size == 4 &&
              c->train.steps == 300 && c->train.warmup_steps == 30 && c->train.schedule == SCHED_LINEAR &&
              c->train.min_lr_ratio == 0 && c->train.grad_clip == 1.0 && c->train.seed == 18446744073709551615ULL &&
              c->train.threads == 2 && !strcmp(c->train.init, "ckpt/dir"),
          NM("train"), "train section");
    CHECK(c->decay.method == DECAY_ALPHADECAY && c->decay.weight_decay == 5e-6 && c->decay.update_every == 50 &&
              c->decay.s1 == 0.5 && c->decay.s2 == 4 && c->decay.s2_set && c->decay.metric == METRIC_SPECTRAL_NORM &&
              c->decay.assign == ASSIGN_SIGMOID && c->decay.pl_fit == FIT_GOODNESS && c->decay.xmin_pos == 3 &&
              c->decay.eigs_thresh == 10 && c->decay.filter_zeros == 1 && c->decay.zero_thresh == 1e-7 &&
              c->decay.paper_form == 1 && c->decay.fix_finger_corrected == 1 && c->decay.awd_scale == 50,
          NM("decay"), "decay section");
    CHECK(c->decay.n_exclude == 3 && !strcmp(c->decay.exclude[0], "lm_head") &&
              !strcmp(c->decay.exclude[2], "model.layers.0.self_attn.k_proj"),
          NM("exclude"), "n_exclude %d", c->decay.n_exclude);
    CHECK(c->eval.every == 100 && c->eval.tokens == 1000000 && c->checkpoint.every == 50 && c->checkpoint.keep == 3 &&
              c->log.every == 10,
          NM("eval_ckpt_log"), "eval/checkpoint/log");
#undef NM
}

static void test_full_and_roundtrip(void) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    const char *p = put("full.yaml", FULL);
    int rc = config_load(&c, p, &e);
    CHECK(rc == 0, "load_full", "%s", e.msg);
    if (rc) return;
    check_full(&c, "load");
    CHECK(config_validate(&c, &e) == 0, "validate_full", "%s", e.msg);

    /* round trip: write the resolved config, load it over fresh defaults, compare field by field */
    config_resolve(&c);
    char out[512];
    snprintf(out, sizeof out, "%s/resolved.yaml", dir);
    CHECK(config_write_yaml(&c, out, &e) == 0, "write_yaml", "%s", e.msg);
    Config d;
    config_defaults(&d);
    rc = config_load(&d, out, &e);
    CHECK(rc == 0, "reload_written", "%s", e.msg);
    check_full(&d, "reload");
    memcpy(d.source, c.source, sizeof d.source);
    CHECK(memcmp(&c, &d, sizeof c) == 0, "roundtrip_identical", "written+reloaded config differs");

    /* the written file carries the version */
    char *text;
    size_t len;
    read_file(out, &text, &len, &e);
    CHECK(text && strstr(text, "version: \"" AD_VERSION "\""), "write_has_version", "no version line");
    free(text);

    /* defaults round-trip too (s2 resolved and then explicit) */
    Config a, b;
    config_defaults(&a);
    strcpy(a.data.train, "t.bin");
    config_resolve(&a);
    config_write_yaml(&a, out, &e);
    config_defaults(&b);
    rc = config_load(&b, out, &e);
    memcpy(b.source, a.source, sizeof b.source);
    b.decay.s2_set = a.decay.s2_set;
    b.layer = a.layer; /* which layer set a key: the written file sets them all (layer 0) */
    CHECK(rc == 0 && memcmp(&a, &b, sizeof a) == 0, "roundtrip_defaults", "%s", rc ? e.msg : "differs");

    /* awkward strings survive the quoting */
    config_defaults(&a);
    strcpy(a.data.train, "dir with \"quotes\" and \\ and: colon #hash");
    config_write_yaml(&a, out, &e);
    config_defaults(&b);
    rc = config_load(&b, out, &e);
    CHECK(rc == 0 && !strcmp(a.data.train, b.data.train), "roundtrip_string_escapes", "got '%s'", b.data.train);
}

static void test_errors(void) {
    static const BadInput cases[] = {
        {"err_yaml_syntax", "model:\n  hidden_size: [1, 2\n", "bad.yaml:3:1:", "syntax"},
        {"err_unknown_section", "model:\n  hidden_size: 64\nmodle:\n  x: 1\n", "bad.yaml:3:1:", "unknown section"},
        {"err_unknown_key", "train:\n  lr: 1e-3\n  learning_rate: 2\n", "bad.yaml:3:3:", "train.learning_rate"},
        {"err_string_for_number", "train:\n  lr: fast\n", "bad.yaml:2:7:", "expected a number"},
        {"err_quoted_number", "train:\n  lr: \"1e-3\"\n", "bad.yaml:2:7:", "expected a number"},
        {"err_float_for_int", "model:\n  num_hidden_layers: 2.5\n", "bad.yaml:2:22:", "expected an integer"},
        {"err_mapping_for_scalar", "decay:\n  weight_decay: {a: 1}\n", "bad.yaml:2:17:", "got a mapping"},
        {"err_sequence_for_scalar", "decay:\n  method: [uniform]\n", "bad.yaml:2:11:", "got a sequence"},
        {"err_section_not_mapping", "eval: 5\n", "bad.yaml:1:7:", "expected a mapping"},
        {"err_negative_lr", "train:\n  lr: -1e-3\n", "bad.yaml:2:7:", "out of range"},
        {"err_zero_heads", "model:\n  num_attention_heads: 0\n", "bad.yaml:2:24:", "out of range"},
        {"err_negative_wd", "decay:\n  weight_decay: -1e-5\n", "bad.yaml:2:17:", "out of range"},
        {"err_zero_update_every", "decay: {update_every: 0}\n", "bad.yaml:1:23:", "out of range"},
        {"err_negative_s1", "decay:\n  s1: -0.5\n", "bad.yaml:2:7:", "out of range"},
        {"err_negative_s2", "decay:\n  s2: -1\n", "bad.yaml:2:7:", "out of range"},
        {"err_negative_awd_scale", "decay:\n  awd_scale: -100\n", "bad.yaml:2:14:", "out of range"},
        {"err_xmin_pos_1", "decay:\n  xmin_pos: 1\n", "bad.yaml:2:13:", "must be > 1"},
        {"err_unknown_method", "decay:\n  method: alphadeacy\n",
         "bad.yaml:2:11:", "none|uniform|awd|adadecay|alphadecay"},
        {"err_unknown_pl_fit", "decay:\n  pl_fit: hill\n", "bad.yaml:2:11:", "median|goodness-of-fit|fix-finger"},
        {"err_unknown_assign", "decay:\n  assign: cubic\n", "bad.yaml:2:11:", "unknown value 'cubic'"},
        {"err_unknown_metric", "decay:\n  metric: alhpa\n", "bad.yaml:2:11:", "unknown value"},
        {"err_unknown_optimizer", "train:\n  optimizer: sgd\n", "bad.yaml:2:14:", "adam|adamw"},
        {"err_unknown_schedule", "train:\n  schedule: step\n", "bad.yaml:2:13:", "cosine|linear|constant"},
        {"err_unknown_mode", "data:\n  mode: stream\n", "bad.yaml:2:9:", "pack|pad"},
        {"err_bad_bool", "data:\n  shuffle: maybe\n", "bad.yaml:2:12:", "true or false"},
        {"err_betas_length", "train:\n  betas: [0.9]\n", "bad.yaml:2:10:", "two numbers"},
        {"err_betas_value", "train:\n  betas: [0.9, x]\n", "bad.yaml:2:16:", "expected a number"},
        {"err_betas_range", "train:\n  betas: [0.9, 1.5]\n", "bad.yaml:2:16:", "out of range"},
        {"err_exclude_scalar", "decay:\n  exclude: lm_head\n", "bad.yaml:2:12:", "sequence"},
        {"err_duplicate_key", "train:\n  lr: 1\n  lr: 2\n", "bad.yaml:3:3:", "duplicate"},
        {"err_top_not_mapping", "- a\n- b\n", "bad.yaml:1:1:", "top level"},
        {"err_seed_negative", "train: {seed: -1}\n", "bad.yaml:1:15:", "non-negative integer"},
        {"err_nan", "train: {lr: .nan}\n", "bad.yaml:1:13:", "expected a number"},
        {"err_two_documents", "train: {lr: 1e-3}\n---\ntrain: {lr: 2e-3}\n", "bad.yaml:3:1:", "more than one"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect_error(&cases[i]);

    Config c;
    config_defaults(&c);
    Err e = {{0}};
    CHECK(config_load(&c, "/nonexistent/x.yaml", &e) == -1 && strstr(e.msg, "/nonexistent/x.yaml"), "err_missing_file",
          "%s", e.msg);
    /* a failed load names the file and leaves no partial source */
    config_defaults(&c);
    expect_error(
        &(BadInput){"err_int_exponent_fraction", "eval: {tokens: 1e-3}\n", "bad.yaml:1:16:", "expected an integer"});
    /* accepted forms */
    const char *p = put("ok.yaml", "eval: {tokens: 1e7}\ndata:\n  val:\n");
    int rc = config_load(&c, p, &e);
    CHECK(rc == 0 && c.eval.tokens == 10000000 && c.data.val[0] == 0, "accept_int_exponent_and_null_string", "%s",
          e.msg);
    p = put("empty.yaml", "# nothing\n");
    config_defaults(&c);
    CHECK(config_load(&c, p, &e) == 0 && c.train.batch_size == 512, "accept_empty_file", "%s", e.msg);
}

static void test_set(void) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    CHECK(config_set(&c, "decay.weight_decay=5e-6", &e) == 0 && c.decay.weight_decay == 5e-6, "set_double", "%s",
          e.msg);
    CHECK(config_set(&c, "decay.method=alphadecay", &e) == 0 && c.decay.method == DECAY_ALPHADECAY, "set_enum", "%s",
          e.msg);
    CHECK(config_set(&c, "train.betas=[0.8, 0.99]", &e) == 0 && c.train.beta1 == 0.8 && c.train.beta2 == 0.99,
          "set_betas", "%s", e.msg);
    CHECK(config_set(&c, "decay.exclude=[lm_head]", &e) == 0 && c.decay.n_exclude == 1, "set_exclude", "%s", e.msg);
    CHECK(config_set(&c, "decay.exclude=[]", &e) == 0 && c.decay.n_exclude == 0, "set_exclude_empty", "%s", e.msg);
    CHECK(config_set(&c, "data.val=", &e) == 0 && c.data.val[0] == 0, "set_empty_string", "%s", e.msg);
    CHECK(config_set(&c, "data.train=a=b.bin", &e) == 0 && !strcmp(c.data.train, "a=b.bin"), "set_value_with_equals",
          "%s", e.msg);
    CHECK(config_set(&c, "train.threads=3", &e) == 0 && c.train.threads == 3, "set_int", "%s", e.msg);
    CHECK(config_set(&c, "name=run one", &e) == 0 && !strcmp(c.name, "run one"), "set_name", "%s", e.msg);
    CHECK(config_set(&c, "decay.s2=7", &e) == 0 && c.decay.s2 == 7 && c.decay.s2_set, "set_s2_marks_set", "%s", e.msg);

    /* refused assignments: the message says what is wrong and, where it can, names the --set */
    static const struct {
        const char *test, *assign, *want, *want2;
    } bad[] = {
        {"set_err_type", "decay.weight_decay=abc", "--set decay.weight_decay=abc", "expected a number"},
        {"set_err_unknown_key", "decay.wd=1", "--set decay.wd=1", "unknown key"},
        {"set_err_no_section", "lr=1", "unknown key", NULL},
        {"set_err_no_equals", "train.lr", "key=value", NULL},
        {"set_err_range", "train.lr=-1", "out of range", NULL},
        {"set_err_float_for_int", "model.num_hidden_layers=2.5", "expected an integer", NULL},
        {"set_err_enum", "decay.pl_fit=hill", "unknown value 'hill'", NULL},
        {"set_err_syntax", "train.betas=[0.9", "syntax", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = config_set(&c, bad[i].assign, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].want) && (!bad[i].want2 || strstr(e.msg, bad[i].want2)), bad[i].test,
              "%s", e.msg);
    }
    CHECK(config_key_exists("decay.s2") && config_key_exists("name") && !config_key_exists("decay.s3") &&
              !config_key_exists("foo"),
          "key_exists", "config_key_exists wrong");
}

static void expect_invalid(const char *name, const char *sets, const char *want) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    strcpy(c.data.train, "t.bin");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", sets);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        if (config_set(&c, tok, &e)) {
            CHECK(0, name, "set failed: %s", e.msg);
            return;
        }
    int rc = config_validate(&c, &e);
    CHECK(rc == -1 && strstr(e.msg, want), name, "rc %d msg '%s'", rc, e.msg);
}

static void test_validate_resolve(void) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    strcpy(c.data.train, "t.bin");
    CHECK(config_validate(&c, &e) == 0, "validate_defaults", "%s", e.msg);
    expect_invalid("invalid_micro_batch", "train.batch_size=16 train.micro_batch_size=5", "multiple of");
    expect_invalid("invalid_micro_gt_batch", "train.batch_size=4 train.micro_batch_size=8", "multiple of");
    expect_invalid("invalid_heads_divide", "model.hidden_size=64 model.num_attention_heads=6", "must divide");
    expect_invalid("invalid_head_dim_odd", "model.hidden_size=36 model.num_attention_heads=4", "even");
    expect_invalid("invalid_seq_len", "data.seq_len=2048", "max_position_embeddings");
    expect_invalid("invalid_s1_gt_s2", "decay.s1=4 decay.s2=3", "s1");
    expect_invalid("invalid_warmup", "train.steps=10 train.warmup_steps=20", "warmup");
    expect_invalid("invalid_no_train", "data.train=", "data.train");
    /* the same ranges as the key table, for a Config set in code (the decay module checks none of them) */
    struct {
        const char *name;
        double *field;
        double bad;
        const char *want;
    } ranges[] = {{"invalid_code_negative_wd", &c.decay.weight_decay, -1e-5, "non-negative"},
                  {"invalid_code_negative_s1", &c.decay.s1, -0.1, "non-negative"},
                  {"invalid_code_negative_awd_scale", &c.decay.awd_scale, -1, "non-negative"},
                  {"invalid_code_xmin_pos_1", &c.decay.xmin_pos, 1, "xmin_pos must be > 1"}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        config_defaults(&c);
        strcpy(c.data.train, "t.bin");
        *ranges[i].field = ranges[i].bad;
        int rc = config_validate(&c, &e);
        CHECK(rc == -1 && strstr(e.msg, ranges[i].want), ranges[i].name, "rc %d msg '%s'", rc, e.msg);
    }
    config_defaults(&c);
    strcpy(c.data.train, "t.bin");
    c.decay.update_every = 0;
    CHECK(config_validate(&c, &e) == -1 && strstr(e.msg, "update_every"), "invalid_code_update_every_0", "%s", e.msg);

    /* s2 as docs/method.md "s1 and s2" states */
    struct {
        const char *opt;
        double wd;
        double s2;
    } cases[] = {{"adam", 1e-5, 3}, {"adam", 5e-6, 5},  {"adam", 1e-6, 5},
                 {"adamw", 0.1, 5}, {"adamw", 0.01, 5}, {"adam", 2e-5, 3}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_defaults(&c);
        char a[64];
        snprintf(a, sizeof a, "train.optimizer=%s", cases[i].opt);
        config_set(&c, a, &e);
        c.decay.weight_decay = cases[i].wd;
        config_resolve(&c);
        char nm[64];
        snprintf(nm, sizeof nm, "resolve_s2_%s_%g", cases[i].opt, cases[i].wd);
        CHECK(c.decay.s2 == cases[i].s2, nm, "s2 %g expected %g", c.decay.s2, cases[i].s2);
    }
    config_defaults(&c);
    config_set(&c, "decay.s2=4", &e);
    config_set(&c, "decay.weight_decay=1e-6", &e);
    config_resolve(&c);
    CHECK(c.decay.s2 == 4, "resolve_keeps_explicit_s2", "s2 %g", c.decay.s2);
    config_defaults(&c);
    config_set(&c, "train.batch_size=32", &e);
    config_resolve(&c);
    CHECK(c.train.micro_batch_size == 32, "resolve_micro_default", "micro %d", c.train.micro_batch_size);
}

/* Load text, resolve, validate: expect the cross-field error at want ("bad.yaml:L:C:") with want2 in it. */
static void expect_cross(const char *name, const char *text, const char *set, const char *want, const char *want2) {
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    int rc = config_load(&c, put("bad.yaml", text), &e);
    if (rc == 0 && set) rc = config_set(&c, set, &e);
    if (rc == 0) {
        config_resolve(&c);
        rc = config_validate(&c, &e) == -1 ? 1 : 0;
    }
    CHECK(rc == 1 && strstr(e.msg, want) && strstr(e.msg, want2), name, "rc %d message '%s', wanted '%s'", rc, e.msg,
          want);
}

/* Cross-field errors name the line of the value in the file, like the parser's. */
static void test_cross_field_lines(void) {
    const char *d = "data:\n  train: t.bin\n";
    char t[512];
    snprintf(t, sizeof t, "%sdecay:\n  weight_decay: 1e-5\n  s1: 4\n  s2: 3\n", d);
    expect_cross("cross_s1_gt_s2_line", t, NULL, "bad.yaml:5:7:", "decay.s1 (4) must not exceed decay.s2 (3)");
    snprintf(t, sizeof t, "%sdecay:\n  s2: 3\n", d);
    expect_cross("cross_s1_gt_s2_other_key", t, "decay.s1=4", "bad.yaml:4:7:", "must not exceed");
    snprintf(t, sizeof t, "%smodel:\n  hidden_size: 64\n  num_attention_heads: 6\n", d);
    expect_cross("cross_heads_line", t, NULL, "bad.yaml:5:24:", "must divide");
    snprintf(t, sizeof t, "%strain:\n  steps: 10\n  warmup_steps: 20\n", d);
    expect_cross("cross_warmup_line", t, NULL, "bad.yaml:5:17:", "warmup");
    snprintf(t, sizeof t, "%strain: {optimizer: adamw, lr: 1e-3}\ndecay: {weight_decay: 1000}\n", d);
    expect_cross("cross_adamw_flip_line", t, NULL, "bad.yaml:4:23:", "flip the sign");
    snprintf(t, sizeof t, "%sdecay:\n  method: awd\n  mean_preserving: true\n", d);
    expect_cross("cross_mean_preserving_awd_refused", t, NULL, "bad.yaml:5:20:", "module-wise methods");
    snprintf(t, sizeof t, "%sdecay:\n  method: alphadecay\n  mean_preserving: true\n", d);
    Config ok;
    config_defaults(&ok);
    Err oe = {{0}};
    int orc = config_load(&ok, put("good.yaml", t), &oe);
    config_resolve(&ok);
    orc = orc || config_validate(&ok, &oe);
    CHECK(orc == 0 && ok.decay.mean_preserving == 1, "mean_preserving_alphadecay_accepted", "rc %d %s", orc, oe.msg);
    /* decay.flat: the module-wise methods only, and not with mean_preserving */
    static const char *const no_alloc[] = {"uniform", "awd", "none"};
    for (int i = 0; i < 3; i++) {
        char nm[64];
        snprintf(t, sizeof t, "%sdecay:\n  method: %s\n  flat: true\n", d, no_alloc[i]);
        snprintf(nm, sizeof nm, "cross_flat_%s_refused", no_alloc[i]);
        expect_cross(nm, t, NULL, "bad.yaml:5:9:", "decay.flat applies to the module-wise methods");
    }
    snprintf(t, sizeof t, "%sdecay:\n  method: adadecay\n  mean_preserving: true\n", d);
    expect_cross("cross_flat_mean_preserving_refused", t, "decay.flat=true", "bad.yaml:", "exclude each other");
    snprintf(t, sizeof t, "%sdecay:\n  method: alphadecay\n  flat: true\n", d);
    config_defaults(&ok);
    orc = config_load(&ok, put("good.yaml", t), &oe);
    config_resolve(&ok);
    orc = orc || config_validate(&ok, &oe);
    char *y = config_to_yaml(&ok);
    CHECK(orc == 0 && ok.decay.flat == 1 && strstr(y, "  flat: true\n"), "flat_alphadecay_accepted_written", "rc %d %s",
          orc, oe.msg);
    free(y);
    /* written only when true: a default config's config.yaml has the lines it had before the key existed */
    config_defaults(&ok);
    y = config_to_yaml(&ok);
    CHECK(!strstr(y, "flat:"), "flat_false_not_written", "config.yaml names flat");
    free(y);
    /* a key the file does not set: the message names the file alone */
    expect_cross("cross_without_line", d, "decay.s1=9", "bad.yaml: decay.s1 (9)", "must not exceed");
}

/* The committed experiment files load and validate (run from the repo root by make test). */
static void test_experiment_files(void) {
    const char *files[] = {"experiments/llama_60m.yaml", "experiments/llama_135m.yaml", "experiments/llama_350m.yaml",
                           "experiments/llama_1b.yaml",  "experiments/tiny.yaml",       "experiments/tiny_test.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char nm[96];
        snprintf(nm, sizeof nm, "experiment_%s", strrchr(files[i], '/') + 1);
        if (!file_exists(files[i])) {
            CHECK(0, nm, "%s not found (make test runs this from the repository root)", files[i]);
            continue;
        }
        Config c;
        config_defaults(&c);
        Err e = {{0}};
        int rc = config_load(&c, files[i], &e);
        if (rc == 0) config_resolve(&c);
        if (rc == 0) rc = config_validate(&c, &e);
        CHECK(rc == 0, nm, "%s", e.msg);
    }
    Config c;
    config_defaults(&c);
    Err e = {{0}};
    if (config_load(&c, "experiments/llama_60m.yaml", &e) == 0) {
        config_resolve(&c);
        CHECK(c.model.hidden_size == 512 && c.model.intermediate_size == 1376 && c.model.num_attention_heads == 8 &&
                  c.model.num_hidden_layers == 8 && c.model.vocab_size == 32000 && c.train.steps == 10000 &&
                  c.train.warmup_steps == 1000 && c.train.lr == 1e-3 && c.train.batch_size == 512 &&
                  c.data.seq_len == 256 && c.decay.method == DECAY_ALPHADECAY && c.decay.weight_decay == 1e-5 &&
                  c.decay.s2 == 3 && c.data.mode == DATA_PAD,
              "experiment_60m_recipe", "60m recipe differs from docs/method.md");
    }
}

int main(void) {
    if (!scratch_dir(dir, sizeof dir, NULL, "test_config")) return check_summary();
    test_defaults();
    test_full_and_roundtrip();
    test_errors();
    test_set();
    test_validate_resolve();
    test_cross_field_lines();
    test_experiment_files();
    scratch_remove(dir);
    return check_summary();
}
