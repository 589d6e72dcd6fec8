/* test_sweep.c - sweep files: expansion (product, bundles, extras, excludes, when, seeds) against
 * hand-listed runs, name stability and uniqueness, the grid fingerprint guard, and every bad-input
 * case with its file:line. The executor is tested end to end by tests/e2e_sweep.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sweep.h"
#include "testutil.h"

static char dir[256];

static const char *put(const char *name, const char *text) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

/* Value of key in run r, or NULL. */
static const char *val(const SweepRun *r, const char *key) {
    for (int i = 0; i < r->n_kv; i++)
        if (!strcmp(r->kv[i].key, key)) return r->kv[i].value;
    return NULL;
}

static int load(Sweep *s, const char *name, const char *text, Err *e) {
    char buf[8192];
    /* @EXP@ stands for the temp experiment file's path */
    const char *src = text;
    char *o = buf;
    char exp[512];
    snprintf(exp, sizeof exp, "%s/exp.yaml", dir);
    while (*src && o < buf + sizeof buf - 600) {
        if (!strncmp(src, "@EXP@", 5)) {
            o += sprintf(o, "%s", exp);
            src += 5;
        } else if (!strncmp(src, "@EXP2@", 6)) {
            o += sprintf(o, "%s/exp2.yaml", dir);
            src += 6;
        } else *o++ = *src++;
    }
    *o = 0;
    return sweep_load(s, put(name, buf), e);
}

/* Loads text as the sweep file NAME, a counted check TEST that it loads; returns its status. */
static int load_ok(Sweep *s, const char *name, const char *text, const char *test) {
    Err e = {{0}};
    int rc = load(s, name, text, &e);
    CHECK(rc == 0, test, "%s", e.msg);
    return rc;
}

static void expect_names(const Sweep *s, const char *const *names, int n, const char *test) {
    int ok = s->n_runs == n;
    for (int i = 0; ok && i < n; i++) ok = !strcmp(s->runs[i].name, names[i]);
    CHECK(ok, test, "got %d runs, first mismatch: '%s'", s->n_runs, s->n_runs ? s->runs[0].name : "(none)");
    if (!ok)
        for (int i = 0; i < s->n_runs; i++) printf("    run %d: %s\n", i, s->runs[i].name);
}

static void test_product(void) {
    Sweep s;
    Err e = {{0}};
    if (load_ok(&s, "p.yaml",
                "base: @EXP@\n"
                "grid:\n"
                "  decay.method: [uniform, alphadecay]\n"
                "  decay.weight_decay: [1e-5, 0.000005, 1.0e-6]\n",
                "product_load"))
        return;
    const char *want[] = {"uniform-wd=1e-05",    "uniform-wd=5e-06",    "uniform-wd=1e-06",
                          "alphadecay-wd=1e-05", "alphadecay-wd=5e-06", "alphadecay-wd=1e-06"};
    expect_names(&s, want, 6, "product_names_in_order");
    CHECK(!strcmp(s.name, "p"), "sweep_name_from_file", "name '%s'", s.name);
    CHECK(s.runs[4].n_kv == 2 && !strcmp(val(&s.runs[4], "decay.method"), "alphadecay") &&
              !strcmp(val(&s.runs[4], "decay.weight_decay"), "5e-06"),
          "product_values_canonical", "run 4 kv");
    CHECK(s.runs[0].steps == 40, "resolved_steps", "steps %ld", s.runs[0].steps);
    CHECK(!strcmp(s.runs[4].label, "decay.method=alphadecay decay.weight_decay=5e-06"), "label_own_pairs", "'%s'",
          s.runs[4].label);
    uint64_t fp = s.fingerprint;
    sweep_free(&s);
    /* same file again: same names, same fingerprint */
    load(&s, "p.yaml",
         "base: @EXP@\ngrid:\n  decay.method: [uniform, alphadecay]\n  decay.weight_decay: [1e-5, 0.000005, 1.0e-6]\n",
         &e);
    CHECK(s.fingerprint == fp && !strcmp(s.runs[5].name, "alphadecay-wd=1e-06"), "names_stable", "differs");
    sweep_free(&s);
    /* one more value: a different grid, but the existing points keep their names */
    load(&s, "p.yaml",
         "base: @EXP@\ngrid:\n  decay.method: [uniform, alphadecay, awd]\n  decay.weight_decay: [1e-5, 0.000005, "
         "1.0e-6]\n",
         &e);
    CHECK(s.n_runs == 9 && s.fingerprint != fp && !strcmp(s.runs[4].name, "alphadecay-wd=5e-06"),
          "grid_change_changes_fingerprint_not_names", "n %d", s.n_runs);
    sweep_free(&s);
}

static void test_full_features(void) {
    Sweep s;
    Err e = {{0}};
    if (load_ok(&s, "f.yaml",
                "name: feat\n"
                "base: @EXP@\n"
                "set: {train.steps: 4}\n"
                "grid:\n"
                "  decay.weight_decay: [1e-5, 5e-6]\n"
                "  decay.method: [uniform, alphadecay]\n"
                "extra:\n"
                "  - {decay.method: none}\n"
                "exclude:\n"
                "  - {decay.method: uniform, decay.weight_decay: 5e-6}\n"
                "when:\n"
                "  - if: {decay.weight_decay: 1e-5}\n"
                "    set: {decay.s2: 3}\n"
                "    else: {decay.s2: 5}\n"
                "  - if: {decay.method: [uniform, none]}\n"
                "    set: {decay.update_every: 7}\n"
                "seeds: [0, 1]\n",
                "features_load"))
        return;
    const char *want[] = {"wd=1e-05-uniform-seed=0",
                          "wd=1e-05-uniform-seed=1",
                          "wd=1e-05-alphadecay-seed=0",
                          "wd=1e-05-alphadecay-seed=1",
                          "wd=5e-06-alphadecay-seed=0",
                          "wd=5e-06-alphadecay-seed=1",
                          "none-seed=0",
                          "none-seed=1"};
    expect_names(&s, want, 8, "features_names");
    /* hand-listed overrides: s2 by weight decay, update_every for uniform/none, steps everywhere */
    const char *s2[] = {"3", "3", "3", "3", "5", "5", "5", "5"};
    const char *ue[] = {"7", "7", NULL, NULL, NULL, NULL, "7", "7"};
    int ok = s.n_runs == 8;
    for (int i = 0; ok && i < 8; i++) {
        const char *a = val(&s.runs[i], "decay.s2"), *b = val(&s.runs[i], "decay.update_every");
        ok = a && !strcmp(a, s2[i]) && ((!b && !ue[i]) || (b && ue[i] && !strcmp(b, ue[i]))) &&
             !strcmp(val(&s.runs[i], "train.steps"), "4") && val(&s.runs[i], "train.seed");
        if (!ok) printf("    run %d: s2 %s update_every %s\n", i, a ? a : "-", b ? b : "-");
    }
    CHECK(ok, "features_conditional_overrides", "see above");
    CHECK(!strcmp(val(&s.runs[7], "train.seed"), "1") && !val(&s.runs[7], "decay.weight_decay"), "extra_point_keys",
          "extra point");
    /* own keys come last on the command line so they win over set/when */
    CHECK(!strcmp(s.runs[0].kv[s.runs[0].n_kv - 1].key, "train.seed"), "own_keys_last", "last key %s",
          s.runs[0].kv[s.runs[0].n_kv - 1].key);
    sweep_free(&s);

    /* when does not override a key the point gives itself */
    int rc = load(
        &s, "w.yaml",
        "base: @EXP@\ngrid:\n  decay.s2: [4, 6]\nwhen:\n  - if: {decay.s2: 4}\n    set: {decay.s2: 9, decay.s1: 0.5}\n",
        &e);
    CHECK(rc == 0 && !strcmp(val(&s.runs[0], "decay.s2"), "4") && !strcmp(val(&s.runs[0], "decay.s1"), "0.5") &&
              !val(&s.runs[1], "decay.s1"),
          "when_keeps_own_keys", "%s", rc ? e.msg : "wrong values");
    if (!rc) sweep_free(&s);
}

static void test_bundles_and_experiments(void) {
    Sweep s;
    Err e = {{0}};
    if (load_ok(&s, "b.yaml",
                "grid:\n"
                "  experiment: [@EXP@, @EXP2@]\n"
                "  s1_s2:\n"
                "    - {decay.s1: 0.6666, decay.s2: 3}\n"
                "    - {decay.s1: 0.5, decay.s2: 5}\n",
                "bundle_load"))
        return;
    const char *want[] = {"exp-s1=0.6666-s2=3", "exp-s1=0.5-s2=5", "exp2-s1=0.6666-s2=3", "exp2-s1=0.5-s2=5"};
    expect_names(&s, want, 4, "bundle_and_experiment_names");
    CHECK(strstr(s.runs[2].experiment, "exp2.yaml") && s.runs[2].steps == 12, "experiment_axis_file", "%s steps %ld",
          s.runs[2].experiment, s.runs[2].steps);
    sweep_free(&s);

    /* values that sanitise to the same text get a hash suffix and stay distinct */
    int rc = load(&s, "h.yaml", "base: @EXP@\ngrid:\n  data.val: [\"v a.bin\", \"v_a.bin\"]\n", &e);
    CHECK(rc == 0 && s.n_runs == 2 && strcmp(s.runs[0].name, s.runs[1].name) && strstr(s.runs[0].name, "val=v_a.bin-"),
          "sanitised_names_unique", "%s / %s", rc ? e.msg : s.runs[0].name, rc ? "" : s.runs[1].name);
    if (!rc) sweep_free(&s);
    /* two keys with the same last component use their dotted names */
    rc = load(&s, "k.yaml", "base: @EXP@\ngrid:\n  eval.every: [10, 20]\n  checkpoint.every: [10]\n", &e);
    CHECK(rc == 0 && !strcmp(s.runs[1].name, "eval.every=20-checkpoint.every=10"), "ambiguous_short_keys", "%s",
          rc ? e.msg : s.runs[1].name);
    if (!rc) sweep_free(&s);
    /* no grid at all: the base itself */
    rc = load(&s, "one.yaml", "base: @EXP@\n", &e);
    CHECK(rc == 0 && s.n_runs == 1 && !strcmp(s.runs[0].name, "base"), "no_grid_single_run", "%s", e.msg);
    if (!rc) sweep_free(&s);
}

static void expect_err(const BadInput *b) {
    Sweep s;
    Err e = {{0}};
    int rc = load(&s, "bad.yaml", b->text, &e);
    check_bad_input(b, rc, e.msg);
    if (rc == 0) sweep_free(&s);
}

static void test_errors(void) {
    static const BadInput cases[] = {
        {"err_yaml_syntax", "base: @EXP@\ngrid:\n  decay.method: [uniform\n", "bad.yaml:4:1:", "syntax"},
        {"err_unknown_top_key", "base: @EXP@\ngird:\n  decay.method: [uniform]\n",
         "bad.yaml:2:1:", "unknown key 'gird'"},
        {"err_unknown_axis_key", "base: @EXP@\ngrid:\n  decay.methd: [uniform]\n",
         "bad.yaml:3:3:", "unknown key 'decay.methd'"},
        {"err_unknown_set_key", "base: @EXP@\nset: {train.lrr: 1}\n", "bad.yaml:2:7:", "unknown key"},
        {"err_empty_axis", "base: @EXP@\ngrid:\n  decay.method: []\n", "bad.yaml:3:17:", "no values"},
        {"err_unknown_experiment", "base: @EXP@\ngrid:\n  experiment: [@EXP@, nowhere/x.yaml]\n",
         "bad.yaml:3:", "unknown experiment file 'nowhere/x.yaml'"},
        {"err_unknown_base", "base: nowhere.yaml\n", "bad.yaml:1:7:", "unknown experiment file"},
        {"err_no_experiment", "grid:\n  decay.method: [uniform]\n", "bad.yaml:1:", "no experiment file"},
        {"err_duplicate_extra",
         "base: @EXP@\ngrid:\n  decay.method: [uniform, none]\nextra:\n  - {decay.method: none}\n",
         "bad.yaml:5:", "duplicate point"},
        {"err_duplicate_values", "base: @EXP@\ngrid:\n  decay.weight_decay: [1e-5, 0.00001]\n",
         "bad.yaml:", "duplicate point"},
        {"err_bad_value", "base: @EXP@\ngrid:\n  decay.weight_decay: [1e-5, abc]\n",
         "bad.yaml:3:30:", "decay.weight_decay: expected a number"},
        {"err_bad_enum", "base: @EXP@\ngrid:\n  decay.method: [uniform, alphadeacy]\n",
         "bad.yaml:3:27:", "unknown value 'alphadeacy'"},
        {"err_invalid_run", "base: @EXP@\ngrid:\n  train.micro_batch_size: [4, 5]\n", "bad.yaml:", "multiple of"},
        {"err_seeds_not_int", "base: @EXP@\nseeds: [1, x]\n", "bad.yaml:2:12:", "non-negative integer"},
        {"err_seeds_empty", "base: @EXP@\nseeds: []\n", "bad.yaml:2:8:", "no values"},
        {"err_when_unknown", "base: @EXP@\nwhen:\n  - if: {decay.wd: 1}\n    set: {decay.s2: 3}\n",
         "bad.yaml:3:10:", "unknown key"},
        {"err_when_no_set", "base: @EXP@\nwhen:\n  - if: {decay.s2: 1}\n", "bad.yaml:3:5:", "needs if and set"},
        {"err_all_excluded", "base: @EXP@\ngrid:\n  decay.method: [none]\nexclude:\n  - {decay.method: none}\n",
         "bad.yaml", "no points"},
        {"err_axis_not_list", "base: @EXP@\ngrid:\n  decay.method: uniform\n", "bad.yaml:3:17:", "list of values"},
        {"err_bad_name", "name: a/b\nbase: @EXP@\n", "bad.yaml:1:7:", "name"},
        {"err_seed_axis_and_seeds", "base: @EXP@\ngrid:\n  train.seed: [1]\nseeds: [2]\n", "bad.yaml", "train.seed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) expect_err(&cases[i]);
}

static void test_results_guard(void) {
    Sweep a, b;
    Err e = {{0}};
    char rdir[512];
    snprintf(rdir, sizeof rdir, "%s/results/g", dir);
    if (load_ok(&a, "g.yaml", "name: g\nbase: @EXP@\ngrid:\n  decay.method: [uniform, none]\n", "guard_load")) return;
    CHECK(sweep_check_results(&a, rdir, 1, &e) == 0, "guard_create", "%s", e.msg);
    CHECK(sweep_check_results(&a, rdir, 0, &e) == 0, "guard_same_grid_ok", "%s", e.msg);
    int rc = load(&b, "g.yaml", "name: g\nbase: @EXP@\ngrid:\n  decay.method: [uniform, awd]\n", &e);
    CHECK(rc == 0 && sweep_check_results(&b, rdir, 1, &e) == -1 && strstr(e.msg, "different grid"),
          "guard_different_grid", "%s", e.msg);
    if (!rc) sweep_free(&b);
    /* argv of a run: experiment, every --set, threads, --out */
    setenv("AD_TRAIN_CMD", "/bin/true", 1);
    char **v = sweep_run_argv(&a.runs[1], "R/none", 3);
    int n = 0;
    while (v[n]) n++;
    CHECK(n == 8 && !strcmp(v[0], "/bin/true") && !strcmp(v[1], a.runs[1].experiment) &&
              !strcmp(v[3], "decay.method=none") && !strcmp(v[5], "train.threads=3") && !strcmp(v[6], "--out") &&
              !strcmp(v[7], "R/none"),
          "run_argv", "n %d", n);
    sweep_argv_free(v);
    sweep_free(&a);
}

static void test_lock_and_status(void) {
    char rd[512];
    snprintf(rd, sizeof rd, "%s/results/lk", dir);
    Err e;
    int fd = run_lock(rd, &e);
    CHECK(fd >= 0, "lock_take", "%s", e.msg);
    int fd2 = run_lock(rd, &e);
    CHECK(fd2 == -1 && strstr(e.msg, "already running"), "lock_exclusive", "fd2 %d %s", fd2, e.msg);
    RunStatus st;
    run_status(rd, &st);
    CHECK(st.state == RS_RUNNING && st.pid == (long)getpid(), "status_running_while_locked", "%s pid %ld",
          run_state_name(st.state), st.pid);
    close(fd);
    run_status(rd, &st);
    CHECK(st.state == RS_PENDING, "status_pending_after_unlock", "%s", run_state_name(st.state));
    put("results/lk/metrics.jsonl", "{\"step\": 1, \"loss\": 5.5}\n{\"step\": 2, \"loss\": 4.25}\n{\"step\": 3, \"lo");
    run_status(rd, &st);
    CHECK(st.state == RS_INTERRUPTED && st.step == 2 && st.loss == 4.25, "status_interrupted_last_full_line",
          "%s step %ld loss %g", run_state_name(st.state), st.step, st.loss);
    put("results/lk/summary.json", "{\"status\": \"diverged\", \"final_val_ppl\": null, \"steps\": 2}\n");
    run_status(rd, &st);
    CHECK(st.state == RS_DIVERGED, "status_diverged", "%s", run_state_name(st.state));
    put("results/lk/summary.json", "{\"status\": \"completed\", \"final_val_ppl\": 12.5, \"steps\": 3}\n");
    run_status(rd, &st);
    CHECK(st.state == RS_COMPLETED && st.val_ppl == 12.5 && st.step == 3, "status_completed", "%s ppl %g",
          run_state_name(st.state), st.val_ppl);
}

/* A label longer than its field says so ("..." at the end) instead of stopping short silently. */
static void test_long_label(void) {
    char text[2048], path[240];
    memset(path, 'p', 230);
    path[230] = 0; /* three values of 230 characters, each under its field's limit: a 700-character label */
    snprintf(text, sizeof text, "base: @EXP@\ngrid:\n  train.init: [%s]\n  data.val: [%s]\n  data.train: [%s]\n", path,
             path, path);
    Sweep s;
    if (load_ok(&s, "l.yaml", text, "long_label_load")) return;
    size_t n = strlen(s.runs[0].label);
    CHECK(n == sizeof s.runs[0].label - 1 && !strcmp(s.runs[0].label + n - 3, "...") &&
              !strncmp(s.runs[0].label, "train.init=ppp", 14),
          "long_label_marked_cut", "len %zu, '%s'", n, s.runs[0].label + (n > 10 ? n - 10 : 0));
    sweep_free(&s);
}

int main(void) {
    if (!scratch_dir(dir, sizeof dir, NULL, "test_sweep")) return check_summary();
    char sub[600];
    snprintf(sub, sizeof sub, "%s/results", dir);
    Err e;
    mkdir_p(sub, &e);
    put("exp.yaml", "data: {train: t.bin, seq_len: 64}\ntrain: {batch_size: 12, micro_batch_size: 4, steps: 40, "
                    "warmup_steps: 4}\n");
    put("exp2.yaml", "data: {train: t.bin, seq_len: 64}\ntrain: {batch_size: 12, micro_batch_size: 4, steps: 12, "
                     "warmup_steps: 2}\n");
    test_product();
    test_long_label();
    test_full_features();
    test_bundles_and_experiments();
    test_errors();
    test_results_guard();
    test_lock_and_status();
    scratch_remove(dir);
    return check_summary();
}
