/* Internals shared by graph.c, autodiff.c and fn.c. */
#ifndef ML_GRAPH_IMPL_H
#define ML_GRAPH_IMPL_H

#include "graph/graph.h"

struct ml_graph {
    ml_node **nodes;
    int n_nodes;
    int capacity;
};

ml_node *graph_add_node(ml_graph *g, ml_op op, ml_dtype dtype, int ndim, const int64_t *shape,
                        int n_in, ml_node *const *in);
/* An in-place step (learning rule, constraint, watch): it has no value to
 * read, and ml_fn_compile runs it after the outputs. */
int graph_is_effect(const ml_node *n);
/* The index of the ML_BATCH dimension, or -1. */
int graph_batch_axis(const ml_node *n);

#endif
