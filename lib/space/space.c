#include "space/space.h"

#include <stdio.h>

ml_space ml_vector_space(int64_t dim)
{
    return (ml_space){.kind = ML_SPACE_VECTOR, .dim = dim};
}

ml_space ml_conv2d_space(int64_t channels, int64_t rows, int64_t cols)
{
    return (ml_space){.kind = ML_SPACE_CONV2D, .channels = channels, .rows = rows, .cols = cols};
}

int64_t ml_space_size(const ml_space *s)
{
    return s->kind == ML_SPACE_VECTOR ? s->dim : s->channels * s->rows * s->cols;
}

char *ml_space_describe(const ml_space *s, char *buf, size_t size)
{
    if (s->kind == ML_SPACE_VECTOR)
        snprintf(buf, size, "VectorSpace(%lld)", (long long)s->dim);
    else
        snprintf(buf, size, "Conv2DSpace(shape=[%lld, %lld], num_channels=%lld)", (long long)s->rows,
                 (long long)s->cols, (long long)s->channels);
    return buf;
}
