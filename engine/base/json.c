/* json.c - see json.h. A recursive-descent parser over a byte range; every node and string is
 * malloc'd and freed by json_free. Errors record the byte offset where parsing stopped. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t len, pos;
    const char *name;
    Err *e;
    int depth;
} Parser;

static int fail(Parser *p, const char *what) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else col++;
    }
    return err_set(p->e, "%s: byte %zu (line %zu, column %zu): %s", p->name, p->pos, line, col, what);
}

static void skip_ws(Parser *p) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int peek(Parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

/* Skips white space, then consumes c if it comes next: 1 if it did, 0 if not. */
static int eat(Parser *p, int c) {
    skip_ws(p);
    if (peek(p) != c) return 0;
    p->pos++;
    return 1;
}

/* After an array element or an object member: 1 on ',' (another follows), 0 on the closing bracket
 * close, -1 (with the error) on anything else; both are consumed. */
static int next_item(Parser *p, int close, const char *unterminated, const char *expected) {
    skip_ws(p);
    int c = peek(p);
    if (c != ',' && c != close) return fail(p, c < 0 ? unterminated : expected);
    p->pos++;
    return c == ',';
}

static int parse_value(Parser *p, Json *out);

static int literal(Parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return fail(p, "invalid literal");
    p->pos += n;
    return 0;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(Parser *p, Json *out) {
    size_t start = p->pos;
    if (peek(p) == '-') p->pos++;
    if (peek(p) == '0') {
        p->pos++;
        if (is_digit(peek(p))) return fail(p, "leading zero in number");
    } else if (is_digit(peek(p))) {
        while (is_digit(peek(p))) p->pos++;
    } else {
        return fail(p, "invalid number");
    }
    if (peek(p) == '.') {
        p->pos++;
        if (!is_digit(peek(p))) return fail(p, "digit expected after decimal point");
        while (is_digit(peek(p))) p->pos++;
    }
    if (peek(p) == 'e' || peek(p) == 'E') {
        p->pos++;
        if (peek(p) == '+' || peek(p) == '-') p->pos++;
        if (!is_digit(peek(p))) return fail(p, "digit expected in exponent");
        while (is_digit(peek(p))) p->pos++;
    }
    size_t n = p->pos - start;
    out->type = JSON_NUM;
    out->str = malloc(n + 1);
    if (!out->str) return fail(p, "out of memory");
    memcpy(out->str, p->s + start, n);
    out->str[n] = 0;
    out->len = n;
    /* strtod gives the correctly rounded double; overflow to +-HUGE_VAL is accepted as +-inf. */
    out->num = strtod(out->str, NULL);
    return 0;
}

static int hex4(Parser *p, unsigned *v) {
    if (p->len - p->pos < 4) return fail(p, "truncated \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos];
        unsigned d;
        if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
        else return fail(p, "invalid hex digit in \\u escape");
        *v = *v * 16 + d;
        p->pos++;
    }
    return 0;
}

static size_t put_utf8(char *dst, unsigned cp) {
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the well-formed UTF-8 sequence at s[0..avail), or 0 if it is malformed (overlong
 * forms, surrogates and code points above U+10FFFF are malformed). */
static size_t utf8_seq(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else return 0;
    if (avail < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Parses a string starting at the opening quote into a malloc'd buffer. The decoded text is never
 * longer than the source text, so one allocation of the source length suffices. */
static int parse_string_raw(Parser *p, char **out, size_t *out_len) {
    p->pos++; /* opening quote */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    size_t cap = (end > p->len ? p->len : end) - p->pos + 1;
    char *buf = malloc(cap);
    if (!buf) return fail(p, "out of memory");
    size_t n = 0;
    for (;;) {
        int c = peek(p);
        if (c < 0) {
            free(buf);
            return fail(p, "unterminated string");
        }
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            return fail(p, "control character in string");
        }
        if (c == '\\') {
            p->pos++;
            int esc = peek(p);
            p->pos++;
            unsigned cp;
            switch (esc) {
                case '"': buf[n++] = '"'; break;
                case '\\': buf[n++] = '\\'; break;
                case '/': buf[n++] = '/'; break;
                case 'b': buf[n++] = '\b'; break;
                case 'f': buf[n++] = '\f'; break;
                case 'n': buf[n++] = '\n'; break;
                case 'r': buf[n++] = '\r'; break;
                case 't': buf[n++] = '\t'; break;
                case 'u':
                    if (hex4(p, &cp)) {
                        free(buf);
                        return -1;
                    }
                    if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        p->pos -= 6;
                        free(buf);
                        return fail(p, "lone low surrogate in \\u escape");
                    }
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo;
                        if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                            free(buf);
                            return fail(p, "high surrogate not followed by a low surrogate");
                        }
                        p->pos += 2;
                        if (hex4(p, &lo)) {
                            free(buf);
                            return -1;
                        }
                        if (lo < 0xDC00 || lo > 0xDFFF) {
                            p->pos -= 6;
                            free(buf);
                            return fail(p, "high surrogate not followed by a low surrogate");
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    n += put_utf8(buf + n, cp);
                    break;
                default:
                    p->pos--;
                    free(buf);
                    return fail(p, "invalid escape in string");
            }
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
        if (k == 0) {
            free(buf);
            return fail(p, "invalid UTF-8 in string");
        }
        memcpy(buf + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    buf[n] = 0;
    *out = buf;
    *out_len = n;
    return 0;
}

static int push_kid(Parser *p, Json *parent, int *cap) {
    if (parent->n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        Json *k = realloc(parent->kids, (size_t)nc * sizeof *k);
        if (!k) return fail(p, "out of memory");
        parent->kids = k;
        *cap = nc;
    }
    memset(&parent->kids[parent->n], 0, sizeof(Json));
    parent->n++;
    return 0;
}

static int parse_array(Parser *p, Json *out) {
    out->type = JSON_ARR;
    p->pos++;
    if (eat(p, ']')) return 0;
    int cap = 0;
    for (;;) {
        skip_ws(p);
        if (push_kid(p, out, &cap)) return -1;
        if (parse_value(p, &out->kids[out->n - 1])) return -1;
        int more = next_item(p, ']', "unterminated array", "expected ',' or ']' in array");
        if (more <= 0) return more;
    }
}

/* ---- duplicate keys: an open-addressing set of member indices, so an object of n members costs O(n)
 * (a safetensors header holds one member per tensor; comparing each key with all earlier ones was
 * quadratic: 4 s at 40k tensors). Keys compare as C strings, the way json_get finds them. */

typedef struct {
    int *slot; /* member index + 1, 0 = empty */
    size_t mask;
} KeySet;

static uint64_t key_hash(const char *s) { /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds member i of obj; 1 if an earlier member has the same key, 0 if added, -1 out of memory. */
static int keyset_add(KeySet *ks, const Json *obj, int i) {
    if ((size_t)obj->n * 2 > ks->mask) { /* keep the load at most 1/2: grow and re-insert */
        size_t cap = ks->mask ? 2 * (ks->mask + 1) : 16;
        while ((size_t)obj->n * 2 > cap - 1) cap *= 2;
        int *slot = calloc(cap, sizeof *slot);
        if (!slot) return -1;
        free(ks->slot);
        ks->slot = slot;
        ks->mask = cap - 1;
        for (int k = 0; k < i; k++) {
            size_t h = (size_t)key_hash(obj->kids[k].key) & ks->mask;
            while (ks->slot[h]) h = (h + 1) & ks->mask;
            ks->slot[h] = k + 1;
        }
    }
    size_t h = (size_t)key_hash(obj->kids[i].key) & ks->mask;
    for (; ks->slot[h]; h = (h + 1) & ks->mask)
        if (!strcmp(obj->kids[ks->slot[h] - 1].key, obj->kids[i].key)) return 1;
    ks->slot[h] = i + 1;
    return 0;
}

static int parse_members(Parser *p, Json *out, KeySet *ks) {
    int cap = 0;
    for (;;) {
        skip_ws(p);
        if (peek(p) != '"') return fail(p, peek(p) < 0 ? "unterminated object" : "expected a string key in object");
        size_t key_pos = p->pos;
        if (push_kid(p, out, &cap)) return -1;
        Json *kid = &out->kids[out->n - 1];
        size_t klen;
        if (parse_string_raw(p, &kid->key, &klen)) return -1;
        int dup = keyset_add(ks, out, out->n - 1);
        if (dup < 0) return fail(p, "out of memory");
        if (dup) {
            p->pos = key_pos;
            return fail(p, "duplicate key in object");
        }
        if (!eat(p, ':')) return fail(p, "expected ':' after object key");
        skip_ws(p);
        if (parse_value(p, kid)) return -1;
        int more = next_item(p, '}', "unterminated object", "expected ',' or '}' in object");
        if (more <= 0) return more;
    }
}

static int parse_object(Parser *p, Json *out) {
    out->type = JSON_OBJ;
    p->pos++;
    if (eat(p, '}')) return 0;
    KeySet ks = {0};
    int rc = parse_members(p, out, &ks);
    free(ks.slot);
    return rc;
}

static int parse_value(Parser *p, Json *out) {
    if (++p->depth > JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    int rc;
    switch (peek(p)) {
        case '{': rc = parse_object(p, out); break;
        case '[': rc = parse_array(p, out); break;
        case '"':
            out->type = JSON_STR;
            rc = parse_string_raw(p, &out->str, &out->len);
            break;
        case 't':
            out->type = JSON_BOOL;
            out->boolean = 1;
            rc = literal(p, "true");
            break;
        case 'f':
            out->type = JSON_BOOL;
            out->boolean = 0;
            rc = literal(p, "false");
            break;
        case 'n':
            out->type = JSON_NULL;
            rc = literal(p, "null");
            break;
        case -1: rc = fail(p, "unexpected end of input"); break;
        default: rc = (peek(p) == '-' || is_digit(peek(p))) ? parse_number(p, out) : fail(p, "unexpected character");
    }
    p->depth--;
    return rc;
}

static void free_node(Json *j) {
    for (int i = 0; i < j->n; i++) free_node(&j->kids[i]);
    free(j->kids);
    free(j->key);
    free(j->str);
}

void json_free(Json *j) {
    if (!j) return;
    free_node(j);
    free(j);
}

int json_parse(const char *text, size_t len, const char *name, Json **out, Err *e) {
    Parser p = {text, len, 0, name ? name : "json", e, 0};
    Json *root = calloc(1, sizeof *root);
    if (!root) return err_set(e, "%s: out of memory", p.name);
    skip_ws(&p);
    int rc = parse_value(&p, root);
    if (rc == 0) {
        skip_ws(&p);
        if (p.pos != p.len) rc = fail(&p, "unexpected data after the JSON value");
    }
    if (rc) {
        json_free(root);
        return -1;
    }
    *out = root;
    return 0;
}

static int parse_text(const char *path, const char *text, size_t len, void *out, Err *e) {
    return json_parse(text, len, path, (Json **)out, e);
}

int json_parse_file(const char *path, Json **out, Err *e) { return parse_file(path, parse_text, out, e); }

/* ---- lookups ---- */

const Json *json_get(const Json *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJ) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->kids[i].key, key)) return &obj->kids[i];
    return NULL;
}

const Json *json_at(const Json *arr, int i) {
    if (!arr || (arr->type != JSON_ARR && arr->type != JSON_OBJ) || i < 0 || i >= arr->n) return NULL;
    return &arr->kids[i];
}

int json_len(const Json *j) { return j && (j->type == JSON_ARR || j->type == JSON_OBJ) ? j->n : 0; }

const char *json_type_name(JsonType t) {
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < 6 ? names[t] : "?";
}

int json_num(const Json *obj, const char *key, double *out) {
    const Json *v = json_get(obj, key);
    if (!v || v->type != JSON_NUM) return -1;
    *out = v->num;
    return 0;
}

int json_bool(const Json *obj, const char *key, int *out) {
    const Json *v = json_get(obj, key);
    if (!v || v->type != JSON_BOOL) return -1;
    *out = v->boolean;
    return 0;
}

const char *json_str(const Json *obj, const char *key) {
    const Json *v = json_get(obj, key);
    return v && v->type == JSON_STR ? v->str : NULL;
}

/* Digits-only text (optionally with one leading '-') to a magnitude; -1 on anything else/overflow. */
static int parse_int_text(const char *s, int *neg, uint64_t *mag) {
    *neg = 0;
    if (*s == '-') {
        *neg = 1;
        s++;
    }
    if (!is_digit((unsigned char)*s)) return -1;
    uint64_t v = 0;
    for (; *s; s++) {
        if (!is_digit((unsigned char)*s)) return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *mag = v;
    return 0;
}

int json_i64(const Json *v, int64_t *out) {
    if (!v || (v->type != JSON_NUM && v->type != JSON_STR)) return -1;
    int neg;
    uint64_t mag;
    if (parse_int_text(v->str, &neg, &mag)) return -1;
    if (!neg && mag > (uint64_t)INT64_MAX) return -1;
    if (neg && mag > (uint64_t)INT64_MAX + 1) return -1;
    *out = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    return 0;
}

int json_u64(const Json *v, uint64_t *out) {
    if (!v || (v->type != JSON_NUM && v->type != JSON_STR)) return -1;
    int neg;
    uint64_t mag;
    if (parse_int_text(v->str, &neg, &mag) || neg) return -1;
    *out = mag;
    return 0;
}

/* ---- writing ---- */

char *json_fmt_double(char buf[32], double x) {
    if (!isfinite(x)) {
        strcpy(buf, "null");
        return buf;
    }
    /* The shortest of %.15g..%.17g that reads back exactly; %.17g always does. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, x);
        if (prec == 17 || strtod(buf, NULL) == x) break;
    }
    return buf;
}

static const char *escape_of(unsigned char c, char tmp[8]) {
    switch (c) {
        case '"': return "\\\"";
        case '\\': return "\\\\";
        case '\b': return "\\b";
        case '\f': return "\\f";
        case '\n': return "\\n";
        case '\r': return "\\r";
        case '\t': return "\\t";
        default:
            if (c < 0x20) {
                snprintf(tmp, 8, "\\u%04x", c);
                return tmp;
            }
            return NULL;
    }
}

void json_write_str(FILE *f, const char *s) {
    char tmp[8];
    fputc('"', f);
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        const char *esc = escape_of(*q, tmp);
        if (esc) fputs(esc, f);
        else fputc(*q, f);
    }
    fputc('"', f);
}

void sb_json_str(StrBuf *b, const char *s) {
    char tmp[8];
    sb_reserve(b, strlen(s) + 2);
    sb_putc(b, '"');
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        const char *esc = escape_of(*q, tmp);
        if (esc) sb_printf(b, "%s", esc);
        else sb_putc(b, (char)*q);
    }
    sb_putc(b, '"');
}

void sb_json_num(StrBuf *b, double x) {
    char buf[32];
    sb_printf(b, "%s", json_fmt_double(buf, x));
}

void sb_csv_field(StrBuf *b, const char *s) {
    if (!strpbrk(s, ",\"\n")) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (; *s; s++) sb_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    sb_printf(b, "\"");
}
