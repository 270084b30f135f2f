/* Philox-4x32-10 counter-based random numbers (Salmon et al., SC'11).
 *
 * A stream is a key (the seed) and a 128-bit counter; each counter value gives
 * four 32-bit words.  Because any word can be computed from (key, counter)
 * alone, a GPU kernel computes the same numbers as the CPU for the same seed
 * and counter: dropout masks and shuffles are identical on both devices. */
#ifndef ML_CORE_RNG_H
#define ML_CORE_RNG_H

#include <stdint.h>

#include "core/error.h"

#define ML_RNG_STATE_WORDS 8

typedef struct {
    uint32_t key[2];
    uint32_t counter[4];
    uint32_t block[4]; /* words of the current counter value */
    uint32_t used;     /* how many of block[] have been handed out (4 = none left) */
} ml_rng;

/* The Philox-4x32-10 bijection: four words from a counter and a key. */
static inline void ml_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* A float in [0, 1) from the top 24 bits of a word. */
static inline float ml_uint_to_unit_float(uint32_t x)
{
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}

void ml_rng_seed(ml_rng *rng, uint64_t seed);
uint32_t ml_rng_next_u32(ml_rng *rng);
float ml_rng_uniform(ml_rng *rng);                 /* [0, 1) */
float ml_rng_uniform_range(ml_rng *rng, float lo, float hi);
float ml_rng_normal(ml_rng *rng, float mean, float stdev); /* Box-Muller */
int ml_rng_bernoulli(ml_rng *rng, float p);        /* 1 with probability p */
uint32_t ml_rng_below(ml_rng *rng, uint32_t n);    /* uniform in [0, n), unbiased */
void ml_rng_permutation(ml_rng *rng, int32_t *perm, int64_t n); /* a uniform shuffle of 0..n-1 */

/* Claims `n_blocks` consecutive counter values for a kernel that draws them in
 * parallel (dropout); returns the first.  The stream continues after them. */
void ml_rng_claim_blocks(ml_rng *rng, uint64_t n_blocks, uint32_t first_counter[4]);

/* The whole state as ML_RNG_STATE_WORDS words, to save in a model file and restore. */
void ml_rng_get_state(const ml_rng *rng, uint32_t state[ML_RNG_STATE_WORDS]);
ml_status ml_rng_set_state(ml_rng *rng, const uint32_t state[ML_RNG_STATE_WORDS]);

#endif
