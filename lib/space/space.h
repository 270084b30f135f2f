/* Spaces: what one example looks like (Pylearn2's VectorSpace, Conv2DSpace).
 * A model asks for its input space; data arrive as rows of a design matrix
 * and are viewed in that space without copying (axes b, c, 0, 1). */
#ifndef ML_SPACE_SPACE_H
#define ML_SPACE_SPACE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ML_SPACE_VECTOR, ML_SPACE_CONV2D } ml_space_kind;

typedef struct {
    ml_space_kind kind;
    int64_t dim;                     /* VECTOR: features */
    int64_t channels, rows, cols;    /* CONV2D: one example is [channels, rows, cols] */
} ml_space;

ml_space ml_vector_space(int64_t dim);
ml_space ml_conv2d_space(int64_t channels, int64_t rows, int64_t cols);
/* Elements of one example. */
int64_t ml_space_size(const ml_space *s);
/* "VectorSpace(784)" or "Conv2DSpace(shape=[28, 28], num_channels=1)", as in experiment files. */
char *ml_space_describe(const ml_space *s, char *buf, size_t size);

#endif
