#include "core/rng.h"

#include <math.h>
#include <string.h>

static void counter_add(uint32_t counter[4], uint64_t n)
{
    uint64_t low = ((uint64_t)counter[1] << 32 | counter[0]);
    uint64_t sum = low + n;
    counter[0] = (uint32_t)sum;
    counter[1] = (uint32_t)(sum >> 32);
    if (sum < low && ++counter[2] == 0)
        counter[3]++;
}

void ml_rng_seed(ml_rng *rng, uint64_t seed)
{
    memset(rng, 0, sizeof *rng);
    rng->key[0] = (uint32_t)seed;
    rng->key[1] = (uint32_t)(seed >> 32);
    rng->used = 4;
}

uint32_t ml_rng_next_u32(ml_rng *rng)
{
    if (rng->used == 4) {
        ml_philox4x32(rng->counter, rng->key, rng->block);
        counter_add(rng->counter, 1);
        rng->used = 0;
    }
    return rng->block[rng->used++];
}

float ml_rng_uniform(ml_rng *rng)
{
    return ml_uint_to_unit_float(ml_rng_next_u32(rng));
}

float ml_rng_uniform_range(ml_rng *rng, float lo, float hi)
{
    return lo + (hi - lo) * ml_rng_uniform(rng);
}

float ml_rng_normal(ml_rng *rng, float mean, float stdev)
{
    /* u1 in (0, 1] so the logarithm is finite. */
    float u1 = 1.0f - ml_rng_uniform(rng);
    float u2 = ml_rng_uniform(rng);
    float r = sqrtf(-2.0f * logf(u1));
    return mean + stdev * r * cosf(6.28318530717958647692f * u2);
}

int ml_rng_bernoulli(ml_rng *rng, float p)
{
    return ml_rng_uniform(rng) < p;
}

uint32_t ml_rng_below(ml_rng *rng, uint32_t n)
{
    /* Lemire's multiply-and-reject: unbiased without a division per draw. */
    uint64_t m = (uint64_t)ml_rng_next_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)ml_rng_next_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void ml_rng_permutation(ml_rng *rng, int32_t *perm, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = ml_rng_below(rng, (uint32_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void ml_rng_claim_blocks(ml_rng *rng, uint64_t n_blocks, uint32_t first_counter[4])
{
    memcpy(first_counter, rng->counter, sizeof rng->counter);
    counter_add(rng->counter, n_blocks);
    rng->used = 4;
}

void ml_rng_get_state(const ml_rng *rng, uint32_t state[ML_RNG_STATE_WORDS])
{
    state[0] = rng->key[0];
    state[1] = rng->key[1];
    memcpy(state + 2, rng->counter, sizeof rng->counter);
    state[6] = rng->used;
    state[7] = 0;
}

ml_status ml_rng_set_state(ml_rng *rng, const uint32_t state[ML_RNG_STATE_WORDS])
{
    if (state[6] > 4)
        return ml_error(ML_EFORMAT, "RNG state has %u words used of a block of 4", state[6]);
    rng->key[0] = state[0];
    rng->key[1] = state[1];
    memcpy(rng->counter, state + 2, sizeof rng->counter);
    rng->used = state[6];
    /* The block in use is the one before the current counter: recompute it. */
    if (rng->used < 4) {
        uint32_t previous[4];
        memcpy(previous, rng->counter, sizeof previous);
        uint64_t low = ((uint64_t)previous[1] << 32 | previous[0]);
        if (low == 0) {
            if (previous[2]-- == 0)
                previous[3]--;
        }
        low--;
        previous[0] = (uint32_t)low;
        previous[1] = (uint32_t)(low >> 32);
        ml_philox4x32(previous, rng->key, rng->block);
    }
    return ML_OK;
}
