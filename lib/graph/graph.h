/* Symbolic expressions, reverse-mode differentiation and compiled functions:
 * the part of Theano that Pylearn2 stands on.
 *
 * A model builds an expression of ml_nodes in an ml_graph; ml_grad adds the
 * nodes of the gradient of a scalar cost; ml_fn_compile plans a buffer for
 * every intermediate once, for the largest batch, so that ml_fn_call runs a
 * batch without allocating.
 *
 * The batch dimension is symbolic: ML_BATCH in a shape stands for the number
 * of rows of this call's inputs (any number up to the compiled maximum), so
 * the last, smaller batch of an epoch runs through the same function.
 *
 * Builders return NULL with the error set (ML_ESHAPE, naming the shapes) when
 * their operands do not fit, and return NULL at once when given a NULL
 * operand, so a chain of calls can be checked once at its end. */
#ifndef ML_GRAPH_GRAPH_H
#define ML_GRAPH_GRAPH_H

#include "backend/ops.h"
#include "core/rng.h"
#include "tensor/tensor.h"

#define ML_BATCH (-1)

typedef struct ml_graph ml_graph;
typedef struct ml_node ml_node;

struct ml_node {
    int id;          /* creation order, which is a topological order */
    ml_op op;
    ml_dtype dtype;
    int ndim;
    int64_t shape[ML_MAX_DIMS]; /* ML_BATCH marks the (at most one) batch dimension */
    int n_in;
    ml_node **in;
    ml_op_params p;
    const char *name;      /* may be NULL */
    ml_tensor *value;      /* SHARED: the bound tensor (borrowed) */
    const float *scalar;   /* SCALAR: the host value, read at every call (borrowed) */
    const ml_node *saved;  /* a backward op reading a forward node's aux state */
    ml_graph *graph;
};

ml_graph *ml_graph_new(void);
void ml_graph_free(ml_graph *g);
int ml_graph_size(const ml_graph *g);
ml_node *ml_graph_node(const ml_graph *g, int id);

/* Leaves. */
ml_node *ml_input(ml_graph *g, const char *name, ml_dtype dtype, int ndim, const int64_t *shape);
ml_node *ml_shared(ml_graph *g, const char *name, ml_tensor *value);
ml_node *ml_scalar(ml_graph *g, const char *name, const float *value);
ml_node *ml_const(ml_graph *g, float value, int ndim, const int64_t *shape);

/* Matrix product of 2-D operands, optionally transposed. */
ml_node *ml_matmul(ml_graph *g, ml_node *a, ml_node *b, int transpose_a, int transpose_b);

/* Elementwise with NumPy broadcasting. */
ml_node *ml_add(ml_graph *g, ml_node *a, ml_node *b);
ml_node *ml_sub(ml_graph *g, ml_node *a, ml_node *b);
ml_node *ml_mul(ml_graph *g, ml_node *a, ml_node *b);
ml_node *ml_div(ml_graph *g, ml_node *a, ml_node *b);
ml_node *ml_scale(ml_graph *g, ml_node *x, float c);       /* x * c */
ml_node *ml_add_scalar(ml_graph *g, ml_node *x, float c);  /* x + c */
/* x * c * s where s is a SCALAR node's value at call time. */
ml_node *ml_scale_by(ml_graph *g, ml_node *x, ml_node *s, float c);

ml_node *ml_unary(ml_graph *g, ml_unary_kind f, ml_node *x);
ml_node *ml_neg(ml_graph *g, ml_node *x);
ml_node *ml_exp(ml_graph *g, ml_node *x);
ml_node *ml_log(ml_graph *g, ml_node *x);
ml_node *ml_sqrt(ml_graph *g, ml_node *x);
ml_node *ml_square(ml_graph *g, ml_node *x);
ml_node *ml_abs(ml_graph *g, ml_node *x);
ml_node *ml_relu(ml_graph *g, ml_node *x);
ml_node *ml_sigmoid(ml_graph *g, ml_node *x);
ml_node *ml_tanh(ml_graph *g, ml_node *x);
ml_node *ml_softplus(ml_graph *g, ml_node *x);
ml_node *ml_elu(ml_graph *g, ml_node *x, float alpha);

/* Over the last axis. */
ml_node *ml_softmax(ml_graph *g, ml_node *x);
ml_node *ml_log_softmax(ml_graph *g, ml_node *x);

/* Reductions over `axis` (negative counts from the end) or ML_ALL_AXES. */
ml_node *ml_sum(ml_graph *g, ml_node *x, int axis);
ml_node *ml_mean(ml_graph *g, ml_node *x, int axis);
ml_node *ml_max(ml_graph *g, ml_node *x, int axis);
ml_node *ml_argmax(ml_graph *g, ml_node *x); /* int32, over the last axis */

/* Layout. A reshape shares its operand's buffer; shape may hold ML_BATCH once. */
ml_node *ml_reshape(ml_graph *g, ml_node *x, int ndim, const int64_t *shape);
ml_node *ml_flatten(ml_graph *g, ml_node *x); /* [B, ...] -> [B, rest] */
/* Output dimension i is x's dimension perm[i]; perm NULL swaps the two axes of a matrix. */
ml_node *ml_transpose(ml_graph *g, ml_node *x, const int *perm);
ml_node *ml_concat(ml_graph *g, int n, ml_node *const *xs, int axis);
ml_node *ml_slice(ml_graph *g, ml_node *x, int axis, int64_t start, int64_t length);

ml_node *ml_clip(ml_graph *g, ml_node *x, float lo, float hi);
/* Keeps each element with probability include_prob and multiplies kept ones by scale
 * (Pylearn2's Dropout: include_prob 0.5, scale 2).  The mask is new at every call. */
ml_node *ml_dropout(ml_graph *g, ml_node *x, float include_prob, float scale);

/* x [B, C, H, W], w [O, C, KH, KW] -> [B, O, OH, OW]. */
ml_node *ml_conv2d(ml_graph *g, ml_node *x, ml_node *w, int stride_h, int stride_w, int pad_h,
                   int pad_w);
ml_node *ml_pool(ml_graph *g, ml_node *x, ml_pool_kind kind, int size_h, int size_w, int stride_h,
                 int stride_w, int keep_partial);

/* Losses: scalars, means over the batch. */
ml_node *ml_nll_logsoftmax(ml_graph *g, ml_node *logits, ml_node *labels);
ml_node *ml_bce_logits(ml_graph *g, ml_node *logits, ml_node *targets);
ml_node *ml_squared_error(ml_graph *g, ml_node *a, ml_node *b);
/* labels: int32 [B] class indices, or float32 [B, K] one-hot targets (their argmax). */
ml_node *ml_misclass(ml_graph *g, ml_node *scores, ml_node *labels);

/* An in-place learning-rule step on SHARED param and velocity (no value), with
 * lr' = lr * lr_scale: v = mu*v - lr'*grad; param += v (Nesterov: param += mu*v - lr'*grad). */
ml_node *ml_momentum_step(ml_graph *g, ml_node *param, ml_node *velocity, ml_node *grad,
                          ml_node *lr, ml_node *momentum, float lr_scale, int nesterov);
/* An in-place constraint on a SHARED weight: each unit's weights (the columns of a
 * [in, out] matrix, or the kernels of a [O, ...] tensor when per_slice) get an L2 norm
 * of at most max_norm. */
ml_node *ml_max_norm(ml_graph *g, ml_node *param, float max_norm, int per_slice);

/* An in-place watch on a SHARED float32 [2] flag (no value): the first call
 * whose value (a scalar) is NaN or infinite sets flag to {batch, 1 NaN / 2 Inf},
 * batch being a SCALAR node's value; later calls leave it.  Zero the flag to
 * watch anew. */
ml_node *ml_nonfinite_watch(ml_graph *g, ml_node *value, ml_node *flag, ml_node *batch);

/* Reverse-mode differentiation: grads[i] = d cost / d wrt[i], cost a scalar.
 * A variable the cost does not depend on gets a zero gradient. */
ml_status ml_grad(ml_graph *g, ml_node *cost, int n, ml_node *const *wrt, ml_node **grads);

/* "relu [B, 500]" for messages. */
char *ml_node_describe(const ml_node *n, char *buf, size_t size);

/* ---- Compiled functions (theano.function) ---- */

typedef struct ml_fn ml_fn;

typedef struct {
    ml_node *var;   /* a SHARED node */
    ml_node *value; /* its new value, assigned after every output is computed */
} ml_update;

typedef struct {
    int n_inputs;
    ml_node *const *inputs;   /* INPUT nodes, in the order ml_fn_call takes tensors */
    int n_outputs;
    ml_node *const *outputs;
    int n_updates;
    const ml_update *updates;
    int n_effects;
    ml_node *const *effects;  /* in-place steps (ml_momentum_step), run last */
    int64_t max_batch;        /* the largest batch a call may pass */
    ml_device device;
    uint64_t seed;            /* of the dropout masks' random stream */
} ml_fn_spec;

ml_status ml_fn_compile(ml_graph *g, const ml_fn_spec *spec, ml_fn **fn);
/* Runs one batch; inputs[i] binds spec.inputs[i] (same device; no copy is made). */
ml_status ml_fn_call(ml_fn *fn, ml_tensor *const *inputs);
/* Output i of the latest call, on the function's device (borrowed; valid until the next call). */
const ml_tensor *ml_fn_output(const ml_fn *fn, int i);
/* The dropout stream, to save and restore with training state. */
ml_rng *ml_fn_rng(ml_fn *fn);
/* Bytes of planned buffers, for reports. */
size_t ml_fn_arena_bytes(const ml_fn *fn);
void ml_fn_free(ml_fn *fn);

#endif
