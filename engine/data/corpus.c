/* corpus.c - input expansion (files, sorted directory walks, globs), .txt / .jsonl / .json / .gz
 * reading with a small strict JSON scanner, and the seeded document split. Contract in corpus.h. */
#include "corpus.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* ---------------------------------------------------------------- path lists */

int pathlist_add(PathList *p, const char *s, Err *e) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 16;
        char **nv = realloc(p->v, nc * sizeof *nv);
        if (!nv) return err_set(e, "out of memory listing inputs");
        p->v = nv;
        p->cap = nc;
    }
    p->v[p->n] = strdup(s);
    if (!p->v[p->n]) return err_set(e, "out of memory listing inputs");
    p->n++;
    return 0;
}

void pathlist_free(PathList *p) {
    for (size_t i = 0; i < p->n; i++) free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* A directory walk takes only the corpus extensions (CORPUS_EXTS, or the caller's list), so README
 * files and the like are left out; the ones left out are counted for the "no input files" message. */
typedef struct {
    const char *exts; /* comma-separated suffixes without the dot ("txt,md"), "*" = every file, NULL = default */
    CorpusWalk *w;
} Walk;

static int ext_match(const char *name, const char *exts) {
    if (!exts) {
        static const char *const ext[] = {".txt", ".jsonl", ".json", ".txt.gz", ".jsonl.gz", ".json.gz"};
        for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
            if (ends_with(name, ext[i])) return 1;
        return 0;
    }
    if (!strcmp(exts, "*")) return 1;
    size_t n = strlen(name);
    for (const char *q = exts; *q;) {
        size_t m = strcspn(q, ",");
        /* ".EXT" and ".EXT.gz" */
        for (int gz = 0; gz < 2; gz++) {
            size_t tail = gz ? 3 : 0;
            if (m && n > m + 1 + tail && name[n - m - 1 - tail] == '.' && !strncmp(name + n - m - tail, q, m) &&
                (!gz || !strcmp(name + n - 3, ".gz")))
                return 1;
        }
        q += m + (q[m] == ',');
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int walk_dir(const char *dir, PathList *out, int depth, const Walk *wk, Err *e) {
    if (depth > 64) return err_set(e, "%s: directories nested deeper than 64 levels (a symlink loop?)", dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open directory: %s", dir, strerror(errno));
    PathList names = {0};
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') rc = pathlist_add(&names, de->d_name, e);
    closedir(d);
    if (rc == 0 && names.n) qsort(names.v, names.n, sizeof *names.v, cmp_str);
    char path[AD_PATH_MAX];
    for (size_t i = 0; i < names.n && rc == 0; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names.v[i]) >= sizeof path) {
            rc = err_set(e, "%s/%s: path too long", dir, names.v[i]);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) rc = err_set(e, "%s: cannot stat: %s", path, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk_dir(path, out, depth + 1, wk, e);
        else if (S_ISREG(st.st_mode) && ext_match(names.v[i], wk->exts)) rc = pathlist_add(out, path, e);
        else if (S_ISREG(st.st_mode) && wk->w) {
            if (!wk->w->n_skipped++) snprintf(wk->w->first_skipped, sizeof wk->w->first_skipped, "%s", path);
        }
    }
    pathlist_free(&names);
    return rc;
}

static int expand_one(const char *in, PathList *out, const Walk *wk, Err *e) {
    struct stat st;
    if (stat(in, &st) == 0) {
        if (S_ISDIR(st.st_mode)) return walk_dir(in, out, 0, wk, e);
        return pathlist_add(out, in, e);
    }
    if (!strpbrk(in, "*?[")) return err_set(e, "%s: cannot open input: %s", in, strerror(errno));
    glob_t g;
    int r = glob(in, 0, NULL, &g); /* glob sorts its matches */
    if (r == GLOB_NOMATCH) return err_set(e, "%s: no file matches this pattern", in);
    if (r != 0) {
        globfree(&g);
        return err_set(e, "%s: cannot expand pattern", in);
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISDIR(st.st_mode)) rc = walk_dir(g.gl_pathv[i], out, 0, wk, e);
        else rc = pathlist_add(out, g.gl_pathv[i], e);
    }
    globfree(&g);
    return rc;
}

int corpus_expand(char *const *inputs, int n_inputs, PathList *out, Err *e) {
    return corpus_expand_walk(inputs, n_inputs, NULL, out, NULL, e);
}

int corpus_expand_walk(char *const *inputs, int n_inputs, const char *exts, PathList *out, CorpusWalk *w, Err *e) {
    Walk wk = {exts, w};
    if (w) memset(w, 0, sizeof *w);
    for (int i = 0; i < n_inputs; i++)
        if (expand_one(inputs[i], out, &wk, e) != 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- documents */

static int buf_reserve(Corpus *c, size_t extra, Err *e) {
    if (c->len + extra + 1 <= c->cap) return 0;
    size_t nc = c->cap ? c->cap : 1 << 20;
    while (nc < c->len + extra + 1) nc *= 2;
    char *nb = realloc(c->buf, nc);
    if (!nb) return err_set(e, "out of memory holding %zu bytes of text", c->len + extra);
    c->buf = nb;
    c->cap = nc;
    return 0;
}

/* Closes the document that starts at off[n_docs] and ends at c->len. */
static int close_doc(Corpus *c, Err *e) {
    if (c->cap_off < c->n_docs + 2) {
        size_t nc = c->cap_off ? 2 * c->cap_off : 1024;
        size_t *no = realloc(c->off, nc * sizeof *no);
        if (!no) return err_set(e, "out of memory indexing documents");
        if (!c->off) no[0] = 0;
        c->off = no;
        c->cap_off = nc;
    }
    if (c->len == c->off[c->n_docs]) {
        c->n_empty++;
        return 0;
    }
    c->off[++c->n_docs] = c->len;
    return 0;
}

/* Makes sure off[n_docs] (the start of the next document) exists. */
static int doc_begin(Corpus *c, Err *e) {
    if (c->off) return 0;
    c->off = malloc(1024 * sizeof *c->off);
    if (!c->off) return err_set(e, "out of memory indexing documents");
    c->cap_off = 1024;
    c->off[0] = 0;
    return 0;
}

int corpus_add_doc(Corpus *c, const char *text, size_t len, Err *e) {
    if (doc_begin(c, e) != 0 || buf_reserve(c, len, e) != 0) return -1;
    memcpy(c->buf + c->len, text, len);
    c->len += len;
    return close_doc(c, e);
}

void corpus_free(Corpus *c) {
    free(c->buf);
    free(c->off);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- JSON lines */

typedef struct {
    const char *s, *p, *end;
    Corpus *c; /* decoded "text" goes to c->buf from c->len on */
    int have_text;
    size_t text_len;
    Err *e;
    int multiline; /* a whole-file array: errors name the line */
} Scan;

/* "column C: what"; for a whole-file array, "L: column C: what" so that "FILE:" in front reads as FILE:L. */
static int scan_err(Scan *sc, const char *what) {
    const char *ls = sc->s;
    size_t line = 1;
    for (const char *q = sc->s; q < sc->p && q < sc->end; q++)
        if (*q == '\n') {
            line++;
            ls = q + 1;
        }
    if (!sc->multiline) return err_set(sc->e, "column %zu: %s", (size_t)(sc->p - ls) + 1, what);
    return err_set(sc->e, "%zu: column %zu: %s", line, (size_t)(sc->p - ls) + 1, what);
}

static void skip_ws(Scan *sc) {
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\r' || *sc->p == '\n')) sc->p++;
}

/* Skips white space, then consumes c if it comes next: 1 if it did, 0 if not. */
static int eat(Scan *sc, char c) {
    skip_ws(sc);
    if (sc->p >= sc->end || *sc->p != c) return 0;
    sc->p++;
    return 1;
}

/* After an array element or an object member: 1 on ',' (another follows), 0 on the closing bracket
 * close, -1 (with the error what) on anything else. */
static int next_item(Scan *sc, char close, const char *what) {
    if (eat(sc, ',')) return 1;
    if (eat(sc, close)) return 0;
    return scan_err(sc, what);
}

static int hex4(Scan *sc, unsigned *v) {
    if (sc->end - sc->p < 4) return scan_err(sc, "\\u needs four hex digits");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = sc->p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0) return scan_err(sc, "\\u needs four hex digits");
        *v = *v * 16 + (unsigned)d;
    }
    sc->p += 4;
    return 0;
}

/* Appends byte x to the output when decoding (out != 0). */
static int put(Scan *sc, int out, unsigned char x) {
    if (!out) return 0;
    if (buf_reserve(sc->c, sc->text_len + 1, sc->e) != 0) return -1;
    sc->c->buf[sc->c->len + sc->text_len++] = (char)x;
    return 0;
}

static int put_utf8(Scan *sc, int out, unsigned cp) {
    if (cp < 0x80) return put(sc, out, (unsigned char)cp);
    if (cp < 0x800)
        return put(sc, out, (unsigned char)(0xC0 | cp >> 6)) || put(sc, out, (unsigned char)(0x80 | (cp & 0x3F)));
    if (cp < 0x10000)
        return put(sc, out, (unsigned char)(0xE0 | cp >> 12)) ||
               put(sc, out, (unsigned char)(0x80 | ((cp >> 6) & 0x3F))) ||
               put(sc, out, (unsigned char)(0x80 | (cp & 0x3F)));
    return put(sc, out, (unsigned char)(0xF0 | cp >> 18)) ||
           put(sc, out, (unsigned char)(0x80 | ((cp >> 12) & 0x3F))) ||
           put(sc, out, (unsigned char)(0x80 | ((cp >> 6) & 0x3F))) ||
           put(sc, out, (unsigned char)(0x80 | (cp & 0x3F)));
}

/* A string at sc->p (which is '"'); decoded into the corpus buffer when out, else only checked.
 * key (if non-NULL) receives whether the string equals "text". */
static int scan_string(Scan *sc, int out, int *is_text) {
    const char *start = ++sc->p;
    if (out) sc->text_len = 0;
    for (;;) {
        if (sc->p >= sc->end) return scan_err(sc, "unterminated string");
        unsigned char ch = (unsigned char)*sc->p;
        if (ch == '"') break;
        if (ch < 0x20) return scan_err(sc, "raw control character in a string");
        if (ch != '\\') {
            if (put(sc, out, ch)) return -1;
            sc->p++;
            continue;
        }
        if (++sc->p >= sc->end) return scan_err(sc, "unterminated string");
        char esc = *sc->p++;
        int rc;
        switch (esc) {
            case '"': rc = put(sc, out, '"'); break;
            case '\\': rc = put(sc, out, '\\'); break;
            case '/': rc = put(sc, out, '/'); break;
            case 'b': rc = put(sc, out, '\b'); break;
            case 'f': rc = put(sc, out, '\f'); break;
            case 'n': rc = put(sc, out, '\n'); break;
            case 'r': rc = put(sc, out, '\r'); break;
            case 't': rc = put(sc, out, '\t'); break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(sc, &cp)) return -1;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return scan_err(sc, "lone low surrogate in \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (sc->end - sc->p < 2 || sc->p[0] != '\\' || sc->p[1] != 'u')
                        return scan_err(sc, "high surrogate \\u escape not followed by a low surrogate");
                    sc->p += 2;
                    if (hex4(sc, &lo)) return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return scan_err(sc, "high surrogate \\u escape not followed by a low surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                rc = put_utf8(sc, out, cp);
                break;
            }
            default: sc->p--; return scan_err(sc, "invalid escape in a string");
        }
        if (rc) return -1;
    }
    if (is_text) *is_text = sc->p - start == 4 && memcmp(start, "text", 4) == 0;
    sc->p++;
    return 0;
}

static int scan_value(Scan *sc, int depth, int out);

static int scan_number(Scan *sc) {
    const char *p = sc->p;
    if (p < sc->end && *p == '-') p++;
    if (p >= sc->end || *p < '0' || *p > '9') return scan_err(sc, "invalid value");
    if (*p == '0') p++;
    else
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
    if (p < sc->end && *p == '.') {
        p++;
        if (p >= sc->end || *p < '0' || *p > '9') {
            sc->p = p;
            return scan_err(sc, "digit expected after '.'");
        }
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < sc->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < sc->end && (*p == '+' || *p == '-')) p++;
        if (p >= sc->end || *p < '0' || *p > '9') {
            sc->p = p;
            return scan_err(sc, "digit expected in exponent");
        }
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
    }
    sc->p = p;
    return 0;
}

/* An object; at depth 0 it is the line's object, whose "text" member is decoded. */
static int scan_object(Scan *sc, int depth) {
    sc->p++;
    if (eat(sc, '}')) return 0;
    for (;;) {
        skip_ws(sc);
        if (sc->p >= sc->end || *sc->p != '"') return scan_err(sc, "object key (a string) expected");
        int is_text = 0;
        if (scan_string(sc, 0, &is_text)) return -1;
        if (!eat(sc, ':')) return scan_err(sc, "':' expected after an object key");
        skip_ws(sc);
        if (depth == 0 && is_text) {
            if (sc->p >= sc->end || *sc->p != '"') return scan_err(sc, "\"text\" is not a string");
            if (scan_string(sc, 1, NULL)) return -1;
            sc->have_text = 1; /* a repeated "text" overwrites: the last one wins */
        } else if (scan_value(sc, depth + 1, 0)) return -1;
        int more = next_item(sc, '}', "',' or '}' expected in an object");
        if (more <= 0) return more;
    }
}

static int scan_value(Scan *sc, int depth, int out) {
    if (depth > 128) return scan_err(sc, "nesting deeper than 128");
    skip_ws(sc);
    if (sc->p >= sc->end) return scan_err(sc, "value expected");
    switch (*sc->p) {
        case '"': return scan_string(sc, out, NULL);
        case '{': return scan_object(sc, depth);
        case '[':
            sc->p++;
            if (eat(sc, ']')) return 0;
            for (;;) {
                if (scan_value(sc, depth + 1, 0)) return -1;
                int more = next_item(sc, ']', "',' or ']' expected in an array");
                if (more <= 0) return more;
            }
        case 't':
        case 'f':
        case 'n': {
            static const char *const lit[] = {"true", "false", "null"};
            for (int i = 0; i < 3; i++) {
                size_t l = strlen(lit[i]);
                if ((size_t)(sc->end - sc->p) >= l && memcmp(sc->p, lit[i], l) == 0) {
                    sc->p += l;
                    return 0;
                }
            }
            return scan_err(sc, "invalid value");
        }
        default: return scan_number(sc);
    }
}

int corpus_add_json_line(Corpus *c, const char *line, size_t len, Err *e) {
    if (doc_begin(c, e) != 0) return -1;
    Scan sc = {line, line, line + len, c, 0, 0, e, 0};
    skip_ws(&sc);
    if (sc.p >= sc.end || *sc.p != '{') return scan_err(&sc, "a JSON object expected");
    if (scan_object(&sc, 0)) return -1;
    skip_ws(&sc);
    if (sc.p != sc.end) return scan_err(&sc, "unexpected text after the JSON object");
    if (!sc.have_text) return err_set(e, "no \"text\" field");
    c->len += sc.text_len;
    return close_doc(c, e);
}

/* A whole .json file holding one array: each string element, or each object's "text", is a document. */
static int add_json_array(Corpus *c, const char *data, size_t n, const char *path, int skip_bad, Err *e) {
    Err le;
    Scan sc = {data, data, data + n, c, 0, 0, &le, 1};
    skip_ws(&sc);
    sc.p++; /* the '[' */
    skip_ws(&sc);
    int rc = 0;
    if (sc.p < sc.end && *sc.p == ']') sc.p++;
    else
        for (;;) {
            skip_ws(&sc);
            if (sc.p >= sc.end) {
                rc = scan_err(&sc, "unterminated array");
                break;
            }
            const char *elem = sc.p;
            sc.have_text = 0;
            if (*sc.p == '"') {
                rc = scan_string(&sc, 1, NULL);
                sc.have_text = rc == 0;
            } else if (*sc.p == '{') rc = scan_object(&sc, 0);
            else rc = scan_value(&sc, 1, 0);
            if (rc) break;
            if (sc.have_text) {
                c->len += sc.text_len;
                if (close_doc(c, e) != 0) return -1;
            } else {
                const char *after = sc.p;
                sc.p = elem;
                scan_err(&sc, *elem == '{' ? "no \"text\" field" : "array element is not a string or an object");
                sc.p = after;
                if (!skip_bad) {
                    rc = -1;
                    break;
                }
                c->n_bad_lines++;
            }
            skip_ws(&sc);
            if (sc.p < sc.end && *sc.p == ',') {
                sc.p++;
                continue;
            }
            if (sc.p < sc.end && *sc.p == ']') {
                sc.p++;
                break;
            }
            rc = scan_err(&sc, "',' or ']' expected in an array");
            break;
        }
    if (rc == 0) {
        skip_ws(&sc);
        if (sc.p != sc.end) rc = scan_err(&sc, "unexpected text after the JSON array");
    }
    if (rc) return err_set(e, "%s:%s", path, le.msg);
    return 0;
}

/* ---------------------------------------------------------------- files */

/* Reads a whole (possibly gzip) file into a malloc'd buffer. */
static int read_input(const char *path, int gz, char **out, size_t *len, Err *e) {
    if (!gz) return read_file(path, out, len, e);
    gzFile f = gzopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(f, 1 << 17);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int r = 0;
    while (buf) {
        if (cap - n < (1 << 16) + 1 && buf_double(&buf, &cap)) break;
        r = gzread(f, buf + n, 1 << 16);
        if (r <= 0) break;
        n += (size_t)r;
        if (n == (size_t)r && gzdirect(f)) break; /* not gzip at all: reported below */
    }
    int errnum = Z_OK;
    const char *msg = gzerror(f, &errnum);
    char why[200];
    snprintf(why, sizeof why, "%s", msg ? msg : "");
    int direct = gzdirect(f);
    int cr = gzclose_r(f);
    if (!buf) return err_set(e, "%s: out of memory decompressing", path);
    if (direct) {
        free(buf);
        return err_set(e, "%s: not a gzip file (bad magic bytes)", path);
    }
    if (r < 0 || errnum != Z_OK || cr != Z_OK) {
        free(buf);
        return err_set(e, "%s: corrupt gzip data: %s", path,
                       why[0]              ? why
                       : cr == Z_BUF_ERROR ? "unexpected end of file (truncated?)"
                                           : "read error");
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int corpus_add_file(Corpus *c, const char *path, int skip_bad, Err *e) {
    char name[AD_PATH_MAX];
    snprintf(name, sizeof name, "%s", path);
    int gz = ends_with(name, ".gz");
    if (gz) name[strlen(name) - 3] = 0;
    int json = ends_with(name, ".jsonl") || ends_with(name, ".json");
    char *data;
    size_t n;
    if (read_input(path, gz, &data, &n, e) != 0) return -1;
    c->n_files++;
    c->bytes_in += n;
    int rc = 0;
    size_t first = 0;
    while (first < n && (data[first] == ' ' || data[first] == '\t' || data[first] == '\r' || data[first] == '\n'))
        first++;
    if (!json) rc = corpus_add_doc(c, data, n, e);
    else if (first < n && data[first] == '[') {
        rc = doc_begin(c, e) == 0 ? add_json_array(c, data, n, path, skip_bad, e) : -1;
        if (rc) c->len = c->off ? c->off[c->n_docs] : 0; /* drop a half-decoded element */
    } else {
        size_t lineno = 0;
        for (size_t i = 0; i < n && rc == 0;) {
            size_t j = i;
            while (j < n && data[j] != '\n') j++;
            lineno++;
            size_t k = i;
            while (k < j && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r')) k++;
            if (k < j) {
                Err le;
                size_t before = c->len;
                if (corpus_add_json_line(c, data + i, j - i, &le) != 0) {
                    c->len = before;
                    if (skip_bad) c->n_bad_lines++;
                    else rc = err_set(e, "%s:%zu: %s", path, lineno, le.msg);
                }
            }
            i = j + 1;
        }
    }
    free(data);
    return rc;
}

/* ---------------------------------------------------------------- split */

int corpus_split(size_t n_docs, double val_fraction, uint64_t seed, unsigned char *is_val, size_t *n_val, Err *e) {
    if (!(val_fraction >= 0 && val_fraction < 1))
        return err_set(e, "validation fraction %g is outside [0, 1)", val_fraction);
    size_t nv = (size_t)llround(val_fraction * (double)n_docs);
    if (val_fraction > 0 && nv == 0 && n_docs >= 2) nv = 1;
    if (nv >= n_docs)
        return err_set(e, "%zu documents cannot give %zu validation documents and at least one for training", n_docs,
                       nv);
    size_t *perm = malloc((n_docs ? n_docs : 1) * sizeof *perm);
    if (!perm) return err_set(e, "out of memory splitting %zu documents", n_docs);
    for (size_t i = 0; i < n_docs; i++) perm[i] = i;
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = n_docs; i > 1; i--) { /* Fisher-Yates from the top */
        size_t j = (size_t)rng_below(&r, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    memset(is_val, 0, n_docs);
    for (size_t i = 0; i < nv; i++) is_val[perm[i]] = 1;
    free(perm);
    *n_val = nv;
    return 0;
}

/* ---------------------------------------------------------------- exact duplicates */

static uint64_t doc_hash(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h ^ (uint64_t)n;
}

int corpus_dedup(Corpus *c, size_t *n_dropped, size_t *n_groups, Err *e) {
    *n_dropped = *n_groups = 0;
    if (c->n_docs < 2) return 0;
    size_t cap = 16;
    while (cap < 2 * c->n_docs) cap *= 2;
    /* open addressing: slot = kept document index + 1, 0 = empty; a group counts once, at its first repeat */
    size_t *slot = calloc(cap, sizeof *slot);
    unsigned char *repeated = calloc(c->n_docs, 1);
    if (!slot || !repeated) {
        free(slot);
        free(repeated);
        return err_set(e, "out of memory finding duplicate documents");
    }
    size_t kept = 0, w = 0; /* kept documents so far; write position in buf */
    for (size_t d = 0; d < c->n_docs; d++) {
        size_t start = c->off[d], len = c->off[d + 1] - start;
        uint64_t h = doc_hash(c->buf + start, len);
        size_t i = (size_t)h & (cap - 1), dup = 0;
        for (; slot[i]; i = (i + 1) & (cap - 1)) {
            size_t k = slot[i] - 1, klen = c->off[k + 1] - c->off[k];
            if (klen == len && !memcmp(c->buf + c->off[k], c->buf + start, len)) {
                dup = slot[i];
                break;
            }
        }
        if (dup) {
            if (!repeated[dup - 1]) {
                repeated[dup - 1] = 1;
                (*n_groups)++;
            }
            (*n_dropped)++;
            continue;
        }
        /* keep: move the document down to w (kept documents stay in order; w <= start) */
        memmove(c->buf + w, c->buf + start, len);
        c->off[kept] = w;
        slot[i] = kept + 1;
        w += len;
        kept++;
        /* off[kept], the end of the last kept document for later probes: when kept <= d it is the start of
         * a document already read; otherwise nothing was dropped yet and it already equals w */
        if (kept <= d) c->off[kept] = w;
    }
    c->off[kept] = w;
    c->n_docs = kept;
    c->len = w;
    free(slot);
    free(repeated);
    return 0;
}
