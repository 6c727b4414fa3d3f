/*
 * test.h -- the unit test harness: one binary per test file, each test a
 * function run in order, a closing line "N passed, N failed".
 *
 *     TEST(route_literal) { CHECK(route_compile("a", e, sizeof e)); }
 *     int main(void) { RUN(route_literal); return TEST_REPORT(); }
 *
 * Under SANITIZE=1, LeakSanitizer reports whatever a test leaked.
 */
#ifndef STRATUS_TEST_H
#define STRATUS_TEST_H

#include <stdio.h>
#include <string.h>

static int test_passed_, test_failed_, test_cur_failed_;

#define TEST(name) static void name(void)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_cur_failed_ = 1;                                                    \
        }                                                                            \
    } while (0)

#define CHECK_INT(a, b)                                                                  \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        if (a_ != b_) {                                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
                    a_, b_);                                                             \
            test_cur_failed_ = 1;                                                        \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *a_ = (a), *b_ = (b);                                                  \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                          \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                    #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                          \
            test_cur_failed_ = 1;                                                         \
        }                                                                                 \
    } while (0)

/* CHECK that string s contains needle. */
#define CHECK_CONTAINS(s, needle)                                                       \
    do {                                                                                \
        const char *s_ = (s), *n_ = (needle);                                           \
        if (!s_ || !strstr(s_, n_)) {                                                   \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
                    s_ ? s_ : "(null)", n_);                                            \
            test_cur_failed_ = 1;                                                       \
        }                                                                               \
    } while (0)

#define RUN(fn)                                            \
    do {                                                   \
        test_cur_failed_ = 0;                              \
        fn();                                              \
        if (test_cur_failed_) {                            \
            test_failed_++;                                \
            fprintf(stderr, "FAIL %s\n", #fn);             \
        } else {                                           \
            test_passed_++;                                \
        }                                                  \
    } while (0)

#define TEST_REPORT()                                                                  \
    (printf("unit: %d passed, %d failed (%s)\n", test_passed_, test_failed_, __FILE__), \
     test_failed_ ? 1 : 0)

#endif
