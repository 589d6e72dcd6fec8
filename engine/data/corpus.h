/* corpus.h - reading a text corpus into memory as a list of documents, and the train/val split.
 *
 * Inputs (corpus_expand resolves each command-line PATH into files, in order):
 *   - a file: taken as is;
 *   - a directory: walked recursively in byte-wise sorted name order, taking files named *.txt,
 *     *.jsonl, *.json and their *.gz forms (corpus_expand_walk: the caller's extensions, or every
 *     file), skipping names that start with '.';
 *   - a glob pattern (when no such path exists): its matches in sorted order; no match is an error.
 * File kinds by name (an optional ".gz" is stripped first and means gzip, read with zlib):
 *   - *.jsonl / *.json: one JSON object per line; its "text" string is the document (other fields are
 *     ignored; if "text" repeats, the last wins); blank lines are skipped; a line that does not
 *     parse, is not an object, or has no string "text" is an error "FILE:LINE: ..." unless
 *     skip_bad is set, in which case it is counted in n_bad_lines and skipped;
 *     a *.json file whose first non-blank byte is '[' is instead one JSON array whose elements are
 *     documents: strings, or objects with a "text" string (errors are "FILE:LINE: column C: ...";
 *     skip_bad skips elements of another kind but not syntax errors);
 *   - anything else: the whole file is one document (plain text, bytes kept exactly).
 * Empty documents are dropped and counted in n_empty. */
#ifndef CORPUS_H
#define CORPUS_H

#include "common.h"

typedef struct {
    char *buf; /* every document's bytes back to back */
    size_t len, cap;
    size_t *off; /* document i is buf[off[i] .. off[i+1]); n_docs + 1 entries */
    size_t n_docs, cap_off;
    size_t n_files;     /* files read */
    size_t n_bad_lines; /* JSON lines skipped (skip_bad) */
    size_t n_empty;     /* empty documents dropped */
    size_t bytes_in;    /* bytes read from disk after decompression */
} Corpus;

typedef struct {
    char **v;
    size_t n, cap;
} PathList;

int pathlist_add(PathList *p, const char *s, Err *e); /* appends a copy of s */
void pathlist_free(PathList *p);
/* Resolves the inputs into files as described above, appending to out. */
int corpus_expand(char *const *inputs, int n_inputs, PathList *out, Err *e);
/* What a directory walk left out (regular files of other extensions), for the caller's messages. */
typedef struct {
    size_t n_skipped;
    char first_skipped[AD_PATH_MAX];
} CorpusWalk;
#define CORPUS_EXTS ".txt, .jsonl, .json (each also .gz)"
/* The same, the walk taking files whose name ends in ".EXT" or ".EXT.gz" for an EXT of exts
 * ("md,txt"; "*" = every file; NULL = the default list above); w (may be NULL) counts the rest. */
int corpus_expand_walk(char *const *inputs, int n_inputs, const char *exts, PathList *out, CorpusWalk *w, Err *e);

/* Drops every document whose bytes equal an earlier one's (exact duplicates, found by hash and
 * confirmed byte by byte), keeping first occurrences in order. *n_dropped: documents dropped;
 * *n_groups: distinct texts that occurred more than once. */
int corpus_dedup(Corpus *c, size_t *n_dropped, size_t *n_groups, Err *e);

/* Reads one file's documents into c. */
int corpus_add_file(Corpus *c, const char *path, int skip_bad, Err *e);
/* Appends one document (empty ones are counted and dropped). */
int corpus_add_doc(Corpus *c, const char *text, size_t len, Err *e);
void corpus_free(Corpus *c);

/* The "text" string of one JSON object line, decoded to bytes (escapes, \uXXXX and surrogate pairs
 * to UTF-8), appended to c as a document. On a bad line returns -1 with e = "what is wrong"
 * (column included, no file name: the caller adds FILE:LINE). */
int corpus_add_json_line(Corpus *c, const char *line, size_t len, Err *e);

/* Marks round(val_fraction * n_docs) documents as validation (at least one when the fraction is
 * positive and n_docs >= 2), chosen by a seeded Fisher-Yates shuffle: is_val[i] = 1 or 0. The same
 * (n_docs, val_fraction, seed) always gives the same split. Fails when no training document would be
 * left or the fraction is outside [0, 1). */
int corpus_split(size_t n_docs, double val_fraction, uint64_t seed, unsigned char *is_val, size_t *n_val, Err *e);

#endif
