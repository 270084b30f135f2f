/* Host-side planning that every backend's kernels share: how an op's shapes
 * become loops.  What runs on a device differs; how the shapes are read does not. */
#ifndef ML_BACKEND_PLAN_H
#define ML_BACKEND_PLAN_H

#include "backend/ops.h"

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

#endif
