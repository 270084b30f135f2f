/* Host-side planning that every backend's kernels share: how an op's shapes
 * become loops.  What runs on a device differs; how the shapes are read does not. */
#ifndef ML_BACKEND_PLAN_H
#define ML_BACKEND_PLAN_H

#include "backend/ops.h"

/* "[100, 784]" for a tensor, into buf, for messages. */
static inline const char *ml_plan_shape(const ml_tensor *t, char *buf, size_t size)
{
    return ml_shape_format(t->ndim, t->shape, buf, size);
}

/* ML_ESHAPE "<backend> <op>: <why> (out [..], in [..], [..])", naming the op
 * and its output's and first two inputs' shapes. */
ml_status ml_plan_shape_error(const char *backend, const ml_kernel_args *a, const char *why);

/* An axis counted from the end when negative, checked: the axis, or -1. */
static inline int ml_plan_axis(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return axis >= 0 && axis < ndim ? axis : -1;
}

/* The shape seen as [outer, len, inner] around `axis`. */
static inline void ml_plan_split(const ml_tensor *t, int axis, int64_t *outer, int64_t *len,
                                 int64_t *inner)
{
    int64_t o = 1, n = 1;
    for (int i = 0; i < axis; i++)
        o *= t->shape[i];
    for (int i = axis + 1; i < t->ndim; i++)
        n *= t->shape[i];
    *outer = o;
    *len = t->shape[axis];
    *inner = n;
}

/* A tensor as rows of its last axis: 0, or -1 for a 0-d tensor. */
static inline int ml_plan_rows_cols(const ml_tensor *t, int64_t *rows, int64_t *cols)
{
    if (t->ndim < 1)
        return -1;
    *cols = t->shape[t->ndim - 1];
    *rows = *cols ? ml_tensor_numel(t) / *cols : 0;
    return 0;
}

static inline int ml_plan_same_shape(const ml_tensor *x, const ml_tensor *y)
{
    return ml_shape_equal(x->ndim, x->shape, y->ndim, y->shape);
}

/* A loss's batch: the first dimension (1 for a 0-d tensor). */
static inline int64_t ml_plan_batch(const ml_tensor *t)
{
    return t->ndim ? t->shape[0] : 1;
}

/* Logits in[0] [B, K] (any leading shape: rows of the last axis) and int32
 * labels in[1] [B]: 0, or -1 when they do not fit. */
static inline int ml_plan_logits_labels(const ml_kernel_args *a, int64_t *rows, int64_t *cols)
{
    if (a->n_in < 2 || ml_plan_rows_cols(&a->in[0], rows, cols) || a->in[1].dtype != ML_I32)
        return -1;
    return ml_tensor_numel(&a->in[1]) == *rows ? 0 : -1;
}

/* A broadcast as a loop nest: out's dimensions of size 1 dropped, adjacent
 * dimensions merged where both operands step through them alike, so that an
 * equal shape becomes one loop, a row vector [D] over [B, D] becomes B rows with
 * y a vector, a column [B, 1] B rows with y a scalar, a scalar one loop. */
typedef struct {
    int nd;
    int64_t n[ML_MAX_DIMS];
    int64_t sx[ML_MAX_DIMS], sy[ML_MAX_DIMS]; /* element strides; 0 = repeated */
} ml_bcast_plan;

/* 0, or -1 when x and y do not broadcast to out's shape. */
int ml_bcast_plan_make(const ml_tensor *out, const ml_tensor *x, const ml_tensor *y, ml_bcast_plan *p);

/* Whether less is full's shape with `axis` removed. */
int ml_plan_shape_minus_axis(const ml_tensor *full, int axis, const ml_tensor *less);

/* The geometry of a convolution op (CONV2D or either of its gradients), read
 * from its tensors: x [B, C, H, W], w [O, C, KH, KW], y [B, O, OH, OW]. */
typedef struct {
    int64_t B, C, H, W;   /* input x */
    int64_t O, KH, KW;    /* weights w */
    int64_t OH, OW;       /* output y */
    int64_t sh, sw, ph, pw;
    int64_t Hp, Wp;       /* padded input plane */
    int64_t K;            /* C*KH*KW: rows of the column matrix */
    int64_t P;            /* OH*OW: columns per image */
    int identity;         /* 1x1, stride 1, no padding: an image is its own column matrix */
} ml_conv_plan;

/* Checks the op's shapes, strides and padding against each other (ML_ESHAPE or
 * ML_EINVAL naming the shapes) and fills the plan. */
ml_status ml_conv_plan_make(const ml_kernel_args *a, ml_conv_plan *g);

/* The geometry of POOL (x = in[0], y = out) or POOL_BACK (y's gradient in[0],
 * x = in[1], out of x's shape): B*C planes of H x W pooled to OH x OW. */
typedef struct {
    int64_t planes;
    int64_t H, W, OH, OW; /* input and output planes */
    int kind, kh, kw, sh, sw;
} ml_pool_plan;

/* Checks the op's inputs, kind, window, shapes and argmax state against each
 * other (ML_EINVAL or ML_ESHAPE naming them; with int32_planes, planes of more
 * than 2^31 pixels too, for a backend indexing them with int) and fills the plan. */
ml_status ml_pool_plan_make(const ml_kernel_args *a, int int32_planes, ml_pool_plan *p);

/* TRANSPOSE as a gather: out's axes with dimensions of 1 dropped and axes
 * consecutive in the input merged, k of them, n[i] long with input strides st[i]
 * (elements; zero past k). */
typedef struct {
    int k;
    int64_t n[ML_MAX_DIMS], st[ML_MAX_DIMS];
} ml_transpose_plan;

/* NULL when the op's permutation ip[] takes its input to its output, else why not. */
const char *ml_transpose_plan_make(const ml_kernel_args *a, ml_transpose_plan *p);

/* C = op(A) op(B) for 2-D row-major operands, op a transpose when ta / tb:
 * *M, *N, *K of the product; NULL when the shapes fit, else why not. */
const char *ml_gemm_plan(const ml_tensor *A, const ml_tensor *B, const ml_tensor *C, int ta, int tb, int64_t *M,
                         int64_t *N, int64_t *K);

/* Whether the op has at least n_in inputs, each of as many elements as its output. */
int ml_plan_same_numel(const ml_kernel_args *a, int n_in);

/* SUM and MEAN: the axes reduced (reduced[i] = 1) and the factor of the result
 * (1/count for MEAN); NULL when the output fits, else why not. */
const char *ml_sum_plan(const ml_kernel_args *a, int reduced[ML_MAX_DIMS], float *scale);

/* SUM_TO: the input's axes summed to give the output, a broadcast source of it
 * (reduced[i] = 1); NULL when the output is one, else why not. */
const char *ml_sum_to_plan(const ml_kernel_args *a, int reduced[ML_MAX_DIMS]);

/* A sum over the axes flagged in reduced, with dimensions of 1 dropped and
 * neighbours of a kind merged: k runs of n[i] elements, r[i] whether run i is
 * summed; total and out_n the elements of the input and of the output. */
typedef struct {
    int k;
    int64_t n[ML_MAX_DIMS];
    int r[ML_MAX_DIMS];
    int64_t total, out_n;
} ml_reduce_plan;
void ml_reduce_plan_make(int nd, const int64_t *shape, const int *reduced, ml_reduce_plan *p);

/* MAX: the input as [outer, len, inner] with len the axis reduced (all of it
 * for ML_ALL_AXES); NULL when the output fits and the axis is not empty. */
const char *ml_max_plan(const ml_kernel_args *a, int64_t *outer, int64_t *len, int64_t *inner);

/* CONCAT and SLICE: checks the inputs against the output along the op's axis,
 * which *axis receives; NULL when they fit, else why not (for the backend's
 * shape error). */
const char *ml_concat_check(const ml_kernel_args *a, int *axis);
const char *ml_slice_check(const ml_kernel_args *a, int *axis);

/* GATHER_ROWS: checks x, index and out against each other (ML_ESHAPE naming the
 * shapes); *rows receives x's rows, *row_words the 32-bit words of one row. */
ml_status ml_gather_plan_make(const ml_kernel_args *a, int64_t *rows, int64_t *row_words);

#endif
