/* runlog.c - see runlog.h. */
#include "runlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static long line_step(const char *line) {
    const char *p = strstr(line, "\"step\":");
    return p ? strtol(p + 7, NULL, 10) : -1;
}

FILE *runlog_open(const char *run_dir, const char *name, long keep_max_step, Err *e) {
    char path[AD_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", run_dir, name);
    char *text = NULL;
    size_t len = 0;
    if (keep_max_step >= 0 && file_exists(path) && read_file(path, &text, &len, e)) return NULL;
    /* Keep complete lines (ending in '\n') of steps <= keep_max_step, in order. */
    size_t out = 0;
    for (size_t i = 0; text && i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        if (!nl) break;
        size_t n = (size_t)(nl - (text + i)) + 1;
        *nl = 0;
        long s = line_step(text + i);
        *nl = '\n';
        if (s >= 0 && s <= keep_max_step) {
            memmove(text + out, text + i, n);
            out += n;
        }
        i += n;
    }
    if (write_file_atomic(path, text ? text : "", out, e)) { free(text); return NULL; }
    free(text);
    FILE *f = fopen(path, "a");
    if (!f) err_set(e, "%s: cannot open for appending", path);
    return f;
}

static void json_num(FILE *f, const char *key, double v, int last) {
    if (isfinite(v)) fprintf(f, "\"%s\": %.9g%s", key, v, last ? "" : ", ");
    else fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

int runlog_write_summary(const char *run_dir, const RunSummary *s, Err *e) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return err_set(e, "%s: out of memory writing summary", run_dir);
    fprintf(f, "{\"status\": \"%s\", ", s->status);
    json_num(f, "final_val_loss", s->val_loss, 0);
    json_num(f, "final_val_ppl", s->val_ppl, 0);
    fprintf(f, "\"steps\": %ld, \"tokens\": %ld, ", s->steps, s->tokens);
    json_num(f, "wall_seconds", s->wall_seconds, 0);
    json_num(f, "peak_rss_mb", s->peak_rss_mb, 0);
    json_num(f, "tok_per_s", s->tok_per_s, 0);
    fprintf(f, "\"method\": \"%s\", ", s->method);
    json_num(f, "weight_decay", s->weight_decay, 0);
    fprintf(f, "\"seed\": %llu, \"dtype\": \"float32\", \"version\": \"%s\"", (unsigned long long)s->seed, AD_VERSION);
    if (s->message) {
        fprintf(f, ", \"message\": \"");
        for (const char *p = s->message; *p; p++) {
            if (*p == '"' || *p == '\\') fputc('\\', f);
            fputc((unsigned char)*p < 0x20 ? ' ' : *p, f);
        }
        fputc('"', f);
    }
    fprintf(f, "}\n");
    fclose(f);
    char path[AD_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/summary.json", run_dir);
    int rc = write_file_atomic(path, buf, len, e);
    free(buf);
    return rc;
}
