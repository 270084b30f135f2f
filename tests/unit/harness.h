/* A small TAP harness for the C unit tests: `ok N - what` per check, and the
 * exit status says whether any failed (a test never fails only by printing). */
#ifndef ML_TEST_HARNESS_H
#define ML_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int harness_checks;
static int harness_failures;

#define CHECK(cond, ...)                                                             \
    do {                                                                             \
        int harness_ok_ = (cond) ? 1 : 0; /* evaluated once */                       \
        harness_checks++;                                                            \
        if (harness_ok_) {                                                           \
            printf("ok %d - ", harness_checks);                                      \
        } else {                                                                     \
            harness_failures++;                                                      \
            printf("not ok %d - ", harness_checks);                                  \
        }                                                                            \
        printf(__VA_ARGS__);                                                         \
        printf("%s\n", harness_ok_ ? "" : "  (" __FILE__ ":" HARNESS_STR(__LINE__) ")"); \
    } while (0)
#define HARNESS_STR2(x) #x
#define HARNESS_STR(x) HARNESS_STR2(x)

/* A library call that must succeed; on failure, its message is shown. */
#define CHECK_OK(expr, ...)                                                          \
    do {                                                                             \
        ml_status harness_s_ = (expr);                                               \
        CHECK(harness_s_ == ML_OK, __VA_ARGS__);                                     \
        if (harness_s_ != ML_OK)                                                     \
            printf("#   %s: %s\n", #expr, ml_last_error());                          \
    } while (0)

static inline int harness_done(void)
{
    printf("1..%d\n", harness_checks);
    return harness_failures ? 1 : 0;
}

#endif
