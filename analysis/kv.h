/* kv.h - flat key/value records: the common shape of everything analysis reads.
 *
 * A run's config.yaml becomes dotted keys ("decay.weight_decay" -> "1e-05"); a JSON line of
 * metrics.jsonl / eval.jsonl / decay.jsonl / summary.json is a flat object of numbers and strings.
 * Values are kept as text exactly as written (strings unquoted), so the index can print them back
 * unchanged and comparisons can choose numeric or textual equality.
 *
 * Contract: parsers return 0 or -1 with an Err naming the file (and line / column). Nothing prints. */
#ifndef KV_H
#define KV_H

#include "common.h"

#include <yaml.h>

typedef struct {
    char *key;
    char *val;
} KV;

typedef struct {
    KV *items;
    int n, cap;
} KVList;

void kv_init(KVList *l);
void kv_free(KVList *l);
void kv_set(KVList *l, const char *key, const char *val); /* replaces an existing key */
const char *kv_get(const KVList *l, const char *key);     /* NULL when absent */
/* Numeric value of key: 0 and *out set when present and a number (nan/inf accepted), else -1. */
int kv_num(const KVList *l, const char *key, double *out);

/* snprintf into a fixed buffer, truncating quietly (labels and messages, never data). */
void kv_strfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Text -> double, whole string must be a number (leading/trailing blanks allowed). */
int kv_parse_number(const char *s, double *out);
/* Equality the way a grid coordinate is meant: both numbers -> |a-b| <= 1e-9 max(|a|,|b|),
 * otherwise exact text. So "1e-5", "1e-05" and "0.00001" are equal. */
int kv_value_equal(const char *a, const char *b);

/* One flat JSON object (numbers and strings as their text, true/false/null as words) from text;
 * nested objects or arrays are an error. `where` names the source for messages. "null" is what the
 * engine writes for a NaN, and kv_num treats it as "not a number" (-1). */
int flatjson_parse(const char *text, KVList *out, const char *where, Err *e);
/* A JSON-lines file -> array of records (malloc'd, *n entries). A truncated or malformed line is
 * an error naming FILE:LINE; blank lines are skipped. */
int jsonl_read(const char *path, KVList **out, int *n, Err *e);
/* jsonl_read, and when lines is not NULL the file's line number of each record (malloc'd, *n entries), so a
 * reader that finds a record lacking what it needs can name FILE:LINE. */
int jsonl_read_lines(const char *path, KVList **out, int **lines, int *n, Err *e);
void jsonl_free(KVList *recs, int n);

/* A YAML file of nested mappings -> dotted keys; a sequence of scalars becomes "[a, b]" and a
 * sequence of mappings "key.0.sub", "key.1.sub". Errors name FILE:LINE:COL. */
int kv_yaml_flatten(const char *path, KVList *out, Err *e);

/* Loads the YAML file into *doc (the caller deletes it); -1 with "PATH: cannot open" or
 * "PATH:LINE:COL: problem". */
int kv_yaml_load(const char *path, yaml_document_t *doc, Err *e);

#endif
