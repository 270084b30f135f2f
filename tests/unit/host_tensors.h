/* Random host tensors for the kernel tests, drawn from the file's `rng`; an
 * allocation failure bails out of the TAP stream. */
#ifndef ML_TEST_HOST_TENSORS_H
#define ML_TEST_HOST_TENSORS_H

#include <stdio.h>
#include <stdlib.h>

#include "ml.h"

static ml_rng rng;

static ml_tensor *tnew(ml_dtype dtype, int nd, const int64_t *shape)
{
    ml_tensor *t = ml_tensor_new(dtype, nd, shape, ML_CPU);
    if (!t) {
        printf("Bail out! cannot allocate a tensor: %s\n", ml_last_error());
        exit(1);
    }
    return t;
}

static ml_tensor *tuniform(int nd, const int64_t *shape, float lo, float hi)
{
    ml_tensor *t = tnew(ML_F32, nd, shape);
    float *p = ml_tensor_f32(t);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        p[i] = ml_rng_uniform_range(&rng, lo, hi);
    return t;
}

static ml_tensor *tnormal(int nd, const int64_t *shape, float sd)
{
    ml_tensor *t = tnew(ML_F32, nd, shape);
    float *p = ml_tensor_f32(t);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        p[i] = ml_rng_normal(&rng, 0.0f, sd);
    return t;
}

#endif
