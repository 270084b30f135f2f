/* Spaces: what one example looks like (Pylearn2's VectorSpace, Conv2DSpace,
 * IndexSpace, CompositeSpace), and conversion of batches between them.
 *
 * A model asks for its input space; data arrive as rows of a design matrix,
 * which are examples of Conv2DSpace with axes ('b', 'c', 0, 1) when the file
 * holds images (or of a VectorSpace).  A batch of a Conv2DSpace is a tensor
 * whose axes follow the space's axes: [B, C, H, W] for b,c,0,1, [B, H, W, C]
 * for b,0,1,c, [C, H, W, B] for c,0,1,b.  A Conv2DSpace seen as a VectorSpace
 * is flattened in c,0,1 order whatever its axes, so that the flat vector is
 * always the row of a dataset file (Pylearn2 flattens in the space's own axis
 * order instead; here the axes are only a layout, never a change of meaning).
 *
 * An IndexSpace {dim, max_labels} holds dim integer indices in
 * 0..max_labels-1 per example (int32 [B, dim] or, for dim 1, [B]); as a
 * VectorSpace it is one-hot, dim * max_labels values (the one-hot codes of its
 * indices concatenated).
 *
 * Conversions exist on CPU tensors (ml_space_convert) and as graph
 * expressions (ml_space_convert_node, built of ml_reshape and ml_transpose, so
 * a model converts its input inside its compiled function). */
#ifndef ML_SPACE_SPACE_H
#define ML_SPACE_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "graph/graph.h"
#include "tensor/tensor.h"

typedef enum { ML_SPACE_VECTOR, ML_SPACE_CONV2D, ML_SPACE_INDEX, ML_SPACE_COMPOSITE } ml_space_kind;

typedef enum {
    ML_AXES_BC01, /* ('b', 'c', 0, 1): the layout of dataset files (default) */
    ML_AXES_B01C, /* ('b', 0, 1, 'c') */
    ML_AXES_C01B, /* ('c', 0, 1, 'b') */
} ml_axes;

#define ML_SPACE_MAX_COMPONENTS 8

typedef struct ml_space ml_space;
struct ml_space {
    ml_space_kind kind;
    int64_t dim;                     /* VECTOR: features; INDEX: indices per example */
    int64_t channels, rows, cols;    /* CONV2D: one example is channels x rows x cols */
    ml_axes axes;                    /* CONV2D: layout of a batch (ML_AXES_BC01 when 0) */
    int64_t max_labels;              /* INDEX: indices lie in 0..max_labels-1 */
    int n_components;                /* COMPOSITE */
    const ml_space *components;      /* COMPOSITE: borrowed array of n_components spaces */
};

ml_space ml_vector_space(int64_t dim);
ml_space ml_conv2d_space(int64_t channels, int64_t rows, int64_t cols);
ml_space ml_conv2d_space_axes(int64_t channels, int64_t rows, int64_t cols, ml_axes axes);
ml_space ml_index_space(int64_t dim, int64_t max_labels);
/* A tuple of spaces; `components` is borrowed and must outlive the space. */
ml_space ml_composite_space(int n, const ml_space *components);

/* Elements of one example (for an IndexSpace: its dim indices; for a
 * composite: the sum over its components). */
int64_t ml_space_size(const ml_space *s);
/* Elements of one example seen as a VectorSpace (an IndexSpace: dim * max_labels). */
int64_t ml_space_vector_size(const ml_space *s);
/* "VectorSpace(784)", "Conv2DSpace(shape=[28, 28], num_channels=1)" (axes added
 * when not b,c,0,1), "IndexSpace(dim=1, max_labels=10)", "CompositeSpace(...)". */
char *ml_space_describe(const ml_space *s, char *buf, size_t size);

/* "('b', 'c', 0, 1)"; and the permutation of b,c,0,1 tensor axes that gives axes:
 * out axis i is bc01 axis perm[i]. */
const char *ml_axes_name(ml_axes axes);
void ml_axes_from_bc01(ml_axes axes, int perm[4]);

/* Whether a batch of `from` can be converted to `to`: equal sizes as vectors
 * between vectors and images (any axes), index -> vector (one-hot), equal
 * spaces, composite -> composite of as many components (each converting to
 * its counterpart), and composite -> vector of the sum of the components'
 * vector sizes (each component as a vector, index components one-hot, side by
 * side in order).  Otherwise an ML_ESHAPE error saying why. */
ml_status ml_space_check_convert(const ml_space *from, const ml_space *to);

/* A batch of `from` (a CPU tensor) as a new CPU tensor of `to`. */
ml_status ml_space_convert(const ml_space *from, const ml_tensor *x, const ml_space *to,
                           ml_tensor **out);

/* The same as an expression (NULL with an error when not possible; index ->
 * one-hot is not available in graphs). */
ml_node *ml_space_convert_node(ml_graph *g, const ml_space *from, ml_node *x, const ml_space *to);

/* A batch of a CompositeSpace is a tuple: xs[i] is the batch of component i
 * (ml_space_convert and ml_space_convert_node refuse a composite `from`).
 * Into a CompositeSpace, outs receives one new tensor per component (nested
 * composites there are not supported); into a VectorSpace, outs[0] receives
 * the [B, to.dim] concatenation.  For another `from`, xs[0] converts as by
 * ml_space_convert.  On failure no tensor is left in outs. */
ml_status ml_space_convert_tuple(const ml_space *from, const ml_tensor *const *xs, const ml_space *to,
                                 ml_tensor **outs);
/* The same in a graph (ml_concat of the components' vector forms; index
 * components cannot be one-hot there, nested composites are refused). */
ml_status ml_space_convert_nodes(ml_graph *g, const ml_space *from, ml_node *const *xs, const ml_space *to,
                                 ml_node **outs);

#endif
