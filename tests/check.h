/* check.h - the tiny test harness of the C unit tests. Each check prints one line:
 *   ok NAME            |  FAIL NAME: why          |  skipped NAME: why
 * tests/run_all.sh counts those lines across every test program. A test main ends with
 * `return check_summary();` which exits non-zero when any check failed. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed_, check_failed_;

#define CHECK(cond, name, ...)                                                                                         \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            check_passed_++;                                                                                           \
            printf("ok %s\n", name);                                                                                   \
        } else {                                                                                                       \
            check_failed_++;                                                                                           \
            printf("FAIL %s: ", name);                                                                                 \
            printf(__VA_ARGS__);                                                                                       \
            printf("  (%s:%d)\n", __FILE__, __LINE__);                                                                 \
        }                                                                                                              \
        fflush(stdout);                                                                                                \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol, name)                                                                            \
    do {                                                                                                               \
        double a_ = (a), b_ = (b);                                                                                     \
        CHECK(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_), name, "got %.9g, expected %.9g", a_, b_);                     \
    } while (0)

#define SKIP(name, ...)                                                                                                \
    do {                                                                                                               \
        printf("skipped %s: ", name);                                                                                  \
        printf(__VA_ARGS__);                                                                                           \
        printf("\n");                                                                                                  \
        fflush(stdout);                                                                                                \
    } while (0)

static inline int check_summary(void) { return check_failed_ ? 1 : 0; }

#endif
