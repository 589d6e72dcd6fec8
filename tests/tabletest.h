/* tabletest.h - what the analysis table tests (test_stats, test_table_interp) share: synthetic run
 * directories under the test's scratch directory ROOT, written as train writes them, the table a spec
 * text builds over them, and the checks that it builds (build_ok) or is refused (refused). Static
 * inline, so a test that uses only part of it compiles without warnings. */
#ifndef TABLETEST_H
#define TABLETEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../analysis/runs.h"
#include "../analysis/spec.h"
#include "../analysis/table.h"
#include "testutil.h"

static char ROOT[256]; /* the test's scratch directory, made in main */

static inline void put(const char *rel, const char *text) { put_under(ROOT, rel, text); }

/* The run directory dir (under ROOT): config.yaml and metrics.jsonl as given and, unless status is NULL
 * (a run still going), summary.json with the status, the final perplexity ppl (loss log ppl), 2 steps
 * of 256 tokens and wall_seconds. */
static inline void put_run(const char *dir, const char *config, const char *metrics, const char *status, double ppl,
                           int wall_seconds) {
    char rel[512], text[512];
    snprintf(rel, sizeof rel, "%s/config.yaml", dir);
    put(rel, config);
    snprintf(rel, sizeof rel, "%s/metrics.jsonl", dir);
    put(rel, metrics);
    if (!status) return;
    snprintf(rel, sizeof rel, "%s/summary.json", dir);
    snprintf(text, sizeof text,
             "{\"status\": \"%s\", \"final_val_loss\": %.17g, \"final_val_ppl\": %.17g, \"steps\": 2, "
             "\"tokens\": 512, \"wall_seconds\": %d, \"peak_rss_mb\": 12}\n",
             status, log(ppl), ppl, wall_seconds);
    put(rel, text);
}

/* The table of spec_text (written to ROOT/spec.yaml) over the runs under ROOT/RESULTS, RESULTS the spec's
 * results key; t and rs start empty, so unbuild after a failure is safe. */
static inline int build(const char *spec_text, Table *t, Spec *s, RunSet *rs, Err *e) {
    char sp[512], rp[sizeof s->results[0] + 300];
    put("spec.yaml", spec_text);
    snprintf(sp, sizeof sp, "%s/spec.yaml", ROOT);
    memset(t, 0, sizeof *t);
    memset(rs, 0, sizeof *rs);
    if (spec_load(s, sp, e)) return -1;
    snprintf(rp, sizeof rp, "%s/%s", ROOT, s->results[0]);
    if (runs_scan(rp, rs, e)) return -1;
    return table_build(t, s, rs, NULL, e);
}

/* build, checked as the test named test: 1 when the table is there to inspect. */
static inline int build_ok(const char *spec_text, Table *t, Spec *s, RunSet *rs, const char *test) {
    Err e = {{0}};
    int rc = build(spec_text, t, s, rs, &e);
    CHECK(rc == 0, test, "%s", e.msg);
    return rc == 0 && t->cells;
}

/* Undoes build (the spec stays the caller's). */
static inline void unbuild(Table *t, RunSet *rs) {
    table_free(t);
    runs_free(rs);
}

/* The check that the table of spec_text is refused, with an error that says want and, unless NULL, also. */
static inline void refused(const char *spec_text, const char *want, const char *also, const char *what) {
    Spec *s = xcalloc(1, sizeof *s);
    Table t;
    RunSet rs;
    Err e = {{0}};
    CHECK(build(spec_text, &t, s, &rs, &e) < 0 && strstr(e.msg, want) && (!also || strstr(e.msg, also)), what, "%s",
          e.msg);
    unbuild(&t, &rs);
    free(s);
}

#endif
