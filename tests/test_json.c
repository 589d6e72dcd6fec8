/* test_json.c - the strict JSON parser on valid documents (values, escapes, exact integers) and on
 * malformed ones (each must fail, at the right byte offset), plus the writer helpers' round trips. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "json.h"

static Json *parse(const char *s, Err *e) {
    Json *j = NULL;
    if (json_parse(s, strlen(s), "t.json", &j, e)) return NULL;
    return j;
}

static void test_valid(void) {
    Err e = {{0}};
    Json *j = parse(" {\"a\": 1.5, \"b\": [true, false, null, -0.25e2, 0, 12345678901234567890],"
                    " \"c\": {\"d\": \"x\\ty\"}, \"e\": [], \"f\": {}} \n",
                    &e);
    CHECK(j != NULL, "json_parse_valid", "%s", e.msg);
    if (!j) return;
    double a = 0;
    CHECK(json_num(j, "a", &a) == 0 && a == 1.5, "json_num", "a = %g", a);
    const Json *b = json_get(j, "b");
    CHECK(json_len(b) == 6, "json_array_len", "len %d", json_len(b));
    CHECK(json_at(b, 0)->type == JSON_BOOL && json_at(b, 0)->boolean == 1 && json_at(b, 1)->boolean == 0, "json_bools",
          "wrong booleans");
    CHECK(json_at(b, 2)->type == JSON_NULL, "json_null", "type %s", json_type_name(json_at(b, 2)->type));
    CHECK(json_at(b, 3)->num == -25.0, "json_exponent", "got %g", json_at(b, 3)->num);
    uint64_t u = 0;
    CHECK(json_u64(json_at(b, 5), &u) == 0 && u == 12345678901234567890ULL, "json_u64_exact_beyond_2^53", "got %llu",
          (unsigned long long)u);
    int64_t i = 0;
    CHECK(json_i64(json_at(b, 5), &i) == -1, "json_i64_overflow_rejected", "accepted %lld", (long long)i);
    CHECK(json_i64(json_at(b, 3), &i) == -1, "json_i64_rejects_fraction_exponent", "accepted");
    const char *d = json_str(json_get(j, "c"), "d");
    CHECK(d && !strcmp(d, "x\ty"), "json_nested_string_escape", "got %s", d ? d : "(null)");
    CHECK(json_get(j, "zz") == NULL && json_str(j, "a") == NULL && json_num(j, "c", &a) == -1,
          "json_missing_and_wrong_type", "lookup should fail");
    CHECK(json_len(json_get(j, "e")) == 0 && json_get(j, "f")->type == JSON_OBJ, "json_empty_containers", "bad");
    CHECK(!strcmp(j->kids[0].key, "a") && !strcmp(j->kids[4].key, "f"), "json_object_order", "order lost");
    json_free(j);

    j = parse("\"\\u00e9\\u20ac\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\"", &e);
    const char want[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\\/\b\f\n\r";
    CHECK(j && j->type == JSON_STR && j->len == strlen(want) && !memcmp(j->str, want, j->len),
          "json_unicode_escapes_and_surrogates", "%s", j ? j->str : e.msg);
    json_free(j);
    j = parse("\"a\\u0000b\"", &e);
    CHECK(j && j->len == 3 && j->str[1] == 0 && j->str[2] == 'b', "json_embedded_nul", "len %zu", j ? j->len : 0);
    json_free(j);
    j = parse("\"\xc3\xa9\xf0\x9f\x98\x80\"", &e);
    CHECK(j && j->len == 6, "json_raw_utf8", "%s", j ? "wrong length" : e.msg);
    json_free(j);
    j = parse("-0", &e);
    CHECK(j && j->num == 0 && signbit(j->num), "json_negative_zero", "bad");
    json_free(j);
    j = parse("{\"n\": \"-9223372036854775808\"}", &e);
    CHECK(j && json_i64(json_get(j, "n"), &i) == 0 && i == INT64_MIN, "json_i64_min_from_string", "got %lld",
          (long long)i);
    json_free(j);
}

/* Each malformed document must fail, and the error must name the byte offset where it went wrong. */
static void test_malformed(void) {
    struct {
        const char *text;
        size_t offset;
        const char *name;
    } cases[] = {
        {"", 0, "json_bad_empty"},
        {"{\"a\":1,}", 7, "json_bad_trailing_comma_object"},
        {"[1,2,]", 5, "json_bad_trailing_comma_array"},
        {"[01]", 2, "json_bad_leading_zero"},
        {"[1.]", 3, "json_bad_fraction"},
        {"[1e]", 3, "json_bad_exponent"},
        {"[-]", 2, "json_bad_minus"},
        {"[NaN]", 1, "json_bad_nan"},
        {"[tru]", 1, "json_bad_literal"},
        {"{\"a\" 1}", 5, "json_bad_missing_colon"},
        {"{a:1}", 1, "json_bad_unquoted_key"},
        {"\"abc", 4, "json_bad_unterminated_string"},
        {"\"a\tb\"", 2, "json_bad_control_char"},
        {"\"\\x\"", 2, "json_bad_escape"},
        {"\"\\u12g4\"", 5, "json_bad_hex"},
        {"\"\\udc00\"", 1, "json_bad_lone_low_surrogate"},
        {"\"\\ud800x\"", 7, "json_bad_lone_high_surrogate"},
        {"\"\xff\"", 1, "json_bad_utf8"},
        {"\"\xc0\xaf\"", 1, "json_bad_overlong_utf8"},
        {"{\"a\":1,\"a\":2}", 7, "json_bad_duplicate_key"},
        {"[1] 2", 4, "json_bad_trailing_data"},
        {"[1 2]", 3, "json_bad_missing_comma"},
        {"{\"a\":[1,2}", 9, "json_bad_mismatched_bracket"},
        {"[", 1, "json_bad_unterminated_array"},
        {"// c\n1", 0, "json_bad_comment"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Err e = {{0}};
        Json *j = NULL;
        int rc = json_parse(cases[c].text, strlen(cases[c].text), "bad.json", &j, &e);
        char want[64];
        snprintf(want, sizeof want, "bad.json: byte %zu ", cases[c].offset);
        CHECK(rc == -1 && j == NULL && strncmp(e.msg, want, strlen(want)) == 0, cases[c].name,
              "rc %d, message '%s', wanted prefix '%s'", rc, e.msg, want);
        if (rc == 0) json_free(j);
    }
    /* line/column: the error on line 3, column 5 */
    Err e = {{0}};
    Json *j = NULL;
    json_parse("{\n \"a\": 1,\n \"b\" 2}", 18, "lc.json", &j, &e);
    CHECK(strstr(e.msg, "(line 3, column 6)") != NULL, "json_error_line_column", "%s", e.msg);
    /* deep nesting is refused rather than overflowing the stack */
    size_t n = 100000;
    char *deep = malloc(n);
    memset(deep, '[', n);
    CHECK(json_parse(deep, n, "deep.json", &j, &e) == -1 && strstr(e.msg, "nesting too deep"), "json_bad_deep_nesting",
          "%s", e.msg);
    free(deep);
    /* a buffer that is not NUL-terminated is read only up to len */
    char nonul[3] = {'[', '1', ']'};
    CHECK(json_parse(nonul, 3, "n.json", &j, &e) == 0 && json_len(j) == 1, "json_len_bounded_input", "%s", e.msg);
    json_free(j);
}

static void test_writer(void) {
    double xs[] = {0.1, 1e-5, 5e-6, 1.0 / 3.0, 2.5e-308, 4.9e-324, 1.7976931348623157e308, -123456.789, 0};
    int all = 1;
    char buf[32];
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        json_fmt_double(buf, xs[i]);
        if (strtod(buf, NULL) != xs[i]) all = 0;
    }
    CHECK(all, "json_fmt_double_round_trip", "a value did not round-trip");
    CHECK(!strcmp(json_fmt_double(buf, 0.1), "0.1"), "json_fmt_double_shortest", "got %s", buf);
    CHECK(!strcmp(json_fmt_double(buf, NAN), "null") && !strcmp(json_fmt_double(buf, -INFINITY), "null"),
          "json_fmt_double_nonfinite", "got %s", buf);

    StrBuf b = {0};
    const char *nasty = "q\"b\\s/n\nt\tc\x01\x1f\xc3\xa9";
    sb_printf(&b, "{\"k\": ");
    sb_json_str(&b, nasty);
    sb_printf(&b, ", \"x\": ");
    sb_json_num(&b, 1.0 / 3.0);
    sb_printf(&b, "}");
    Err e = {{0}};
    Json *j = NULL;
    int ok = json_parse(b.p, b.len, "sb", &j, &e) == 0;
    double x = 0;
    CHECK(ok && !strcmp(json_str(j, "k"), nasty) && json_num(j, "x", &x) == 0 && x == 1.0 / 3.0,
          "json_writer_round_trip", "%s / %s", ok ? "values differ" : e.msg, b.p);
    json_free(j);
    sb_free(&b);
}

/* n_obj objects of n_keys distinct keys each ({"k0": 0, "k1": 1, ...}), one bare object when n_obj
 * is 1, else an array of them; dup adds a repeated key to the last object. */
static char *wide_json(int n_obj, int n_keys, int dup, size_t *len) {
    char *t = malloc((size_t)n_obj * ((size_t)n_keys * 24 + 32) + 64);
    size_t k = 0;
    if (n_obj > 1) t[k++] = '[';
    for (int o = 0; o < n_obj; o++) {
        k += (size_t)sprintf(t + k, "%s{", o ? ", " : "");
        for (int i = 0; i < n_keys; i++) k += (size_t)sprintf(t + k, "%s\"k%d\": %d", i ? ", " : "", i, i);
        if (dup && o == n_obj - 1) k += (size_t)sprintf(t + k, ", \"k%d\": 0", n_keys / 2);
        t[k++] = '}';
    }
    if (n_obj > 1) t[k++] = ']';
    *len = k;
    return t;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: other processes' load does not count */
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of three parses, in seconds; -1 if the text does not parse. */
static double parse_time(int n_obj, int n_keys) {
    size_t len;
    char *t = wide_json(n_obj, n_keys, 0, &len);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        Json *j = NULL;
        Err e;
        double t0 = seconds();
        int rc = json_parse(t, len, "wide.json", &j, &e);
        double dt = seconds() - t0;
        json_free(j);
        if (rc) {
            best = -1;
            break;
        }
        if (dt < best) best = dt;
    }
    free(t);
    return best;
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL json_duplicate_check_linear: one 200k-key object took over 10x the time of "
                              "100 objects of 2k keys\n";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) _exit(1);
    _exit(1);
}

/* The duplicate-key check must be linear in the number of members (a safetensors header has one
 * member per tensor). The reference is the same number of members and bytes split into 100 objects
 * of 2k keys, so allocation and cache effects cancel: linear costs about the same for both, a
 * quadratic check 100x more for the single object (measured: linear 2-2.5x, from cache
 * misses on the one big member array). The bound is 10x; an alarm stops a quadratic parser
 * instead of letting it run for minutes. Both the timings and the alarm count this process's CPU time
 * (ITIMER_VIRTUAL), not the wall clock, so other processes' load does not change the verdict. */
static void test_wide_object(void) {
    size_t len;
    char *t = wide_json(1, 1000, 1, &len);
    Json *j = NULL;
    Err e = {{0}};
    CHECK(json_parse(t, len, "dup.json", &j, &e) == -1 && strstr(e.msg, "duplicate key"),
          "json_duplicate_key_among_many", "%s", e.msg);
    free(t);
    double split = parse_time(100, 2000);
    CHECK(split > 0, "json_wide_objects_parse", "100 objects of 2k keys did not parse");
    if (split <= 0) return;
    double limit = 10 * split + 0.05; /* + 50 ms: timer granularity on a busy machine */
    double guard = 4 * limit + 2;     /* CPU time for building the text and all three parses */
    struct itimerval it = {{0, 0}, {(time_t)guard, (suseconds_t)((guard - (time_t)guard) * 1e6)}};
    signal(SIGVTALRM, on_alarm);
    setitimer(ITIMER_VIRTUAL, &it, NULL);
    double one = parse_time(1, 200000);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_VIRTUAL, &off, NULL);
    CHECK(one > 0 && one <= limit, "json_duplicate_check_linear", "100 x 2k keys %.4f s, 1 x 200k keys %.4f s", split,
          one);
}

int main(void) {
    test_valid();
    test_wide_object();
    test_malformed();
    test_writer();
    return check_summary();
}
