/* test_strbuf.c - the string builder (strbuf.h): an empty builder, growth far past the first allocation
 * (against a reference text built independently), formatting calls (against snprintf into a large
 * array), appends with embedded NUL bytes, the error flag on an append that cannot be formatted, sb_copy
 * refusing a text that does not fit, and sb_free leaving an empty builder. */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "strbuf.h"

static void test_empty(void) {
    StrBuf b = {0};
    CHECK(!strcmp(sb_str(&b), "") && b.len == 0 && !sb_failed(&b), "empty_builder_is_empty_text", "len %zu", b.len);
    StrBuf a = sb_alloc(1000);
    CHECK(a.cap >= 1001 && a.p && a.p[0] == 0 && a.len == 0, "alloc_reserves_room", "cap %zu", a.cap);
    sb_free(&a);
    CHECK(a.p == NULL && a.cap == 0 && a.len == 0, "free_leaves_empty_builder", "cap %zu", a.cap);
}

/* 200000 bytes one at a time and in pieces: the builder must grow many times and keep every byte. */
static void test_growth(void) {
    size_t n = 200000;
    char *ref = malloc(n + 1);
    for (size_t i = 0; i < n; i++) ref[i] = (char)('a' + i % 26);
    ref[n] = 0;
    StrBuf b = {0};
    for (size_t i = 0; i < n / 2; i++) sb_putc(&b, ref[i]);
    for (size_t i = n / 2; i < n; i += 1000) sb_append(&b, ref + i, 1000);
    CHECK(b.len == n && b.cap > n && !strcmp(sb_str(&b), ref) && !sb_failed(&b), "long_text_grows", "len %zu cap %zu",
          b.len, b.cap);
    sb_free(&b);
    free(ref);
}

static void test_format(void) {
    StrBuf b = {0};
    sb_printf(&b, "%d-%s-%.3f", 42, "x", 1.5);
    CHECK(!strcmp(sb_str(&b), "42-x-1.500") && b.len == 10, "printf_formats", "'%s'", sb_str(&b));
    /* many formatted appends, compared with the same calls into a large fixed array */
    static char ref[1 << 17];
    size_t k = 0;
    sb_free(&b);
    for (int i = 0; i < 3000; i++) {
        sb_printf(&b, "[%05d:%g:%s]", i, i / 7.0, i % 2 ? "odd" : "even");
        k += (size_t)snprintf(ref + k, sizeof ref - k, "[%05d:%g:%s]", i, i / 7.0, i % 2 ? "odd" : "even");
    }
    CHECK(k < sizeof ref - 1 && b.len == k && !strcmp(sb_str(&b), ref), "printf_appends_match_snprintf",
          "len %zu vs %zu", b.len, k);
    /* a format longer than the first allocation in one call */
    StrBuf c = {0};
    sb_printf(&c, "%s|%0999d|", "head", 7);
    CHECK(c.len == 4 + 1 + 999 + 1 && c.p[5] == '0' && c.p[1003] == '7' && c.p[1004] == '|', "printf_one_long_call",
          "len %zu", c.len);
    sb_free(&c);
    sb_free(&b);
    StrBuf z = {0};
    sb_append(&z, "a\0b", 3);
    CHECK(z.len == 3 && z.p[1] == 0 && z.p[2] == 'b' && z.p[3] == 0, "append_keeps_nul_bytes", "len %zu", z.len);
    sb_free(&z);
}

/* In the C locale a wide character outside ASCII has no encoding: vsnprintf fails. The builder keeps
 * the text it had, raises the flag, keeps it raised, and sb_copy refuses the text. */
static void test_error_flag(void) {
    StrBuf b = {0};
    sb_printf(&b, "before");
    wchar_t w[2] = {0xE9, 0};
    sb_printf(&b, "%ls", w);
    int raised = sb_failed(&b);
    sb_printf(&b, "+after");
    CHECK(raised && sb_failed(&b) && !strcmp(sb_str(&b), "before+after"), "failed_append_raises_flag",
          "flag %d text '%s'", sb_failed(&b), sb_str(&b));
    char dst[64] = "x";
    CHECK(sb_copy(&b, dst, sizeof dst) == -1 && dst[0] == 0, "copy_refuses_failed_text", "'%s'", dst);
    sb_free(&b);
    CHECK(!sb_failed(&b), "free_clears_flag", "flag still set");
}

static void test_copy(void) {
    StrBuf b = {0};
    sb_printf(&b, "%s", "0123456789");
    char dst[16];
    CHECK(sb_copy(&b, dst, sizeof dst) == 0 && !strcmp(dst, "0123456789"), "copy_fits", "'%s'", dst);
    char small[10] = "x";
    CHECK(sb_copy(&b, small, sizeof small) == -1 && small[0] == 0, "copy_too_small_refused", "'%s'", small);
    char exact[11];
    CHECK(sb_copy(&b, exact, sizeof exact) == 0 && !strcmp(exact, "0123456789"), "copy_exact_fit", "'%s'", exact);
    sb_free(&b);
}

int main(void) {
    test_empty();
    test_growth();
    test_format();
    test_error_flag();
    test_copy();
    return check_summary();
}
