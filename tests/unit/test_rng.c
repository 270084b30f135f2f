/* Philox-4x32-10: known-answer vectors, fixed streams from fixed seeds,
 * save and restore, and the distributions' basic statistics. */
#include <string.h>

#include "harness.h"
#include "ml.h"

static int equal4(const uint32_t *a, const uint32_t *b)
{
    return memcmp(a, b, 4 * sizeof *a) == 0;
}

int main(void)
{
    /* Known-answer vectors of Random123's philox4x32_10 (kat_vectors). */
    uint32_t out[4];
    ml_philox4x32((uint32_t[]){0, 0, 0, 0}, (uint32_t[]){0, 0}, out);
    CHECK(equal4(out, (uint32_t[]){0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}),
          "philox KAT zero counter, zero key");
    ml_philox4x32((uint32_t[]){0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
                  (uint32_t[]){0xffffffff, 0xffffffff}, out);
    CHECK(equal4(out, (uint32_t[]){0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}),
          "philox KAT all-ones counter and key");
    ml_philox4x32((uint32_t[]){0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                  (uint32_t[]){0xa4093822, 0x299f31d0}, out);
    CHECK(equal4(out, (uint32_t[]){0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}),
          "philox KAT digits of pi");

    /* The same seed gives the same stream; another seed another. */
    ml_rng a, b, c;
    ml_rng_seed(&a, 42);
    ml_rng_seed(&b, 42);
    ml_rng_seed(&c, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = ml_rng_next_u32(&a), y = ml_rng_next_u32(&b), z = ml_rng_next_u32(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same, "seed 42 twice gives one stream");
    CHECK(differ > 990, "seeds 42 and 43 give different streams (%d of 1000 differ)", differ);
    /* The stream is Philox's words in counter order. */
    ml_rng_seed(&a, 0);
    uint32_t first[4] = {ml_rng_next_u32(&a), ml_rng_next_u32(&a), ml_rng_next_u32(&a), ml_rng_next_u32(&a)};
    CHECK(equal4(first, (uint32_t[]){0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}),
          "seed 0 starts with Philox(counter 0, key 0)");

    /* Save and restore at every position inside a block continues the stream. */
    for (int skip = 0; skip < 6; skip++) {
        ml_rng_seed(&a, 1234);
        for (int i = 0; i < skip; i++)
            ml_rng_next_u32(&a);
        uint32_t state[ML_RNG_STATE_WORDS];
        ml_rng_get_state(&a, state);
        uint32_t expect[9];
        for (int i = 0; i < 9; i++)
            expect[i] = ml_rng_next_u32(&a);
        ml_rng r;
        ml_rng_seed(&r, 999);
        ml_status st = ml_rng_set_state(&r, state);
        int ok = st == ML_OK;
        for (int i = 0; i < 9; i++)
            ok &= ml_rng_next_u32(&r) == expect[i];
        CHECK(ok, "restored state after %d words continues the stream", skip);
    }
    uint32_t bad[ML_RNG_STATE_WORDS] = {0, 0, 0, 0, 0, 0, 9, 0};
    CHECK(ml_rng_set_state(&a, bad) == ML_EFORMAT, "a corrupt state is refused");

    /* Claimed blocks are skipped by the sequential stream. */
    ml_rng_seed(&a, 5);
    uint32_t counter[4];
    ml_rng_claim_blocks(&a, 10, counter);
    uint32_t next = ml_rng_next_u32(&a);
    uint32_t key[2] = {5, 0}, direct[4];
    ml_philox4x32((uint32_t[]){10, 0, 0, 0}, key, direct);
    CHECK(counter[0] == 0 && next == direct[0], "claiming 10 blocks moves the stream past them");

    /* Distributions. */
    ml_rng_seed(&a, 77);
    double sum = 0, sumsq = 0;
    int n = 200000, in_range = 1;
    for (int i = 0; i < n; i++) {
        float u = ml_rng_uniform(&a);
        in_range &= u >= 0.0f && u < 1.0f;
        sum += u;
    }
    CHECK(in_range && fabs(sum / n - 0.5) < 0.005, "uniform in [0,1) with mean %.4f", sum / n);
    sum = 0;
    for (int i = 0; i < n; i++) {
        float z = ml_rng_normal(&a, 1.0f, 2.0f);
        sum += z;
        sumsq += (double)z * z;
    }
    double mean = sum / n, var = sumsq / n - mean * mean;
    CHECK(fabs(mean - 1.0) < 0.02 && fabs(var - 4.0) < 0.08, "normal(1, 2): mean %.3f variance %.3f", mean, var);
    int ones = 0;
    for (int i = 0; i < n; i++)
        ones += ml_rng_bernoulli(&a, 0.3f);
    CHECK(fabs((double)ones / n - 0.3) < 0.005, "bernoulli(0.3): %.4f", (double)ones / n);
    int32_t perm[1000];
    ml_rng_permutation(&a, perm, 1000);
    int seen[1000] = {0}, valid = 1, fixed = 0;
    for (int i = 0; i < 1000; i++) {
        valid &= perm[i] >= 0 && perm[i] < 1000 && !seen[perm[i]]++;
        fixed += perm[i] == i;
    }
    CHECK(valid && fixed < 10, "permutation of 1000 is a permutation (%d fixed points)", fixed);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++)
        counts[ml_rng_below(&a, 7)]++;
    int flat = 1;
    for (int i = 0; i < 7; i++)
        flat &= abs(counts[i] - 10000) < 400;
    CHECK(flat, "below(7) is uniform");
    return harness_done();
}
