/* strbuf.h - the one string builder: growable, NUL-terminated text built by appends.
 *
 *   StrBuf b = sb_alloc(4096);      (or StrBuf b = {0}: the same with no room yet, nothing allocated)
 *   sb_printf(&b, "%s: %d\n", key, v);
 *   if (sb_failed(&b)) ...          the text is incomplete: an append could not be formatted
 *   write(..., b.p, b.len);
 *   sb_free(&b);                    releases the text; b is an empty builder again
 *
 * Appends grow the buffer, so nothing is cut at a fixed size. An append that cannot be formatted
 * (vsnprintf reports an error, e.g. a wide string with no encoding in the locale) leaves the text as it
 * was and sets the error flag, which stays set: callers check it once when the text is done, instead of
 * getting a silently shorter text. Out of memory aborts after one line on stderr, like xcalloc
 * (common.h). sb_copy puts a finished text into a fixed array and says when it does not fit. */
#ifndef STRBUF_H
#define STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *p;         /* the text, NUL-terminated once anything was appended; NULL before */
    size_t len, cap; /* bytes of text (without the NUL), bytes allocated */
    int failed;      /* 1 after an append that could not be formatted */
} StrBuf;

StrBuf sb_alloc(size_t cap); /* an empty builder with room for cap bytes of text */
void sb_free(StrBuf *b);
void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(StrBuf *b, const char *fmt, va_list ap);
void sb_append(StrBuf *b, const char *s, size_t n); /* n bytes of s (may contain NUL) */
void sb_putc(StrBuf *b, char c);
void sb_reserve(StrBuf *b, size_t extra); /* room for extra more bytes (and the NUL) */
const char *sb_str(const StrBuf *b);      /* the text; "" before the first append */
int sb_failed(const StrBuf *b);
/* The whole text into dst[0..cap): 0, or -1 (dst "") when it does not fit or an append failed. */
int sb_copy(const StrBuf *b, char *dst, size_t cap);

#endif
