#include "backend/plan.h"

#include <stdio.h>
#include <string.h>

ml_status ml_plan_shape_error(const char *backend, const ml_kernel_args *a, const char *why)
{
    char o[96], i0[96], i1[96];
    ml_shape_format(a->out.ndim, a->out.shape, o, sizeof o);
    if (a->n_in > 0)
        ml_shape_format(a->in[0].ndim, a->in[0].shape, i0, sizeof i0);
    else
        strcpy(i0, "-");
    if (a->n_in > 1)
        ml_shape_format(a->in[1].ndim, a->in[1].shape, i1, sizeof i1);
    else
        strcpy(i1, "-");
    return ml_error(ML_ESHAPE, "%s %s: %s (out %s, in %s, %s)", backend, ml_op_name(a->op), why, o, i0, i1);
}

int ml_bcast_plan_make(const ml_tensor *o, const ml_tensor *x, const ml_tensor *y, ml_bcast_plan *p)
{
    int nd = o->ndim;
    if (x->ndim > nd || y->ndim > nd)
        return -1;
    int64_t n[ML_MAX_DIMS], ax[ML_MAX_DIMS], ay[ML_MAX_DIMS];
    int64_t stride_x = 1, stride_y = 1;
    int k = 0;
    for (int i = nd - 1; i >= 0; i--) {
        int64_t d = o->shape[i];
        int ix = i - (nd - x->ndim), iy = i - (nd - y->ndim);
        int64_t dx = ix >= 0 ? x->shape[ix] : 1, dy = iy >= 0 ? y->shape[iy] : 1;
        if ((dx != d && dx != 1) || (dy != d && dy != 1))
            return -1;
        int64_t tx = dx == 1 ? 0 : stride_x, ty = dy == 1 ? 0 : stride_y;
        stride_x *= dx;
        stride_y *= dy;
        if (d == 1)
            continue;
        if (k > 0 && tx == ax[k - 1] * n[k - 1] && ty == ay[k - 1] * n[k - 1]) {
            n[k - 1] *= d;
            continue;
        }
        n[k] = d;
        ax[k] = tx;
        ay[k] = ty;
        k++;
    }
    p->nd = k;
    for (int i = 0; i < k; i++) {
        p->n[i] = n[k - 1 - i];
        p->sx[i] = ax[k - 1 - i];
        p->sy[i] = ay[k - 1 - i];
    }
    return 0;
}

int ml_plan_shape_minus_axis(const ml_tensor *full, int axis, const ml_tensor *less)
{
    if (less->ndim != full->ndim - 1)
        return 0;
    for (int i = 0, j = 0; i < full->ndim; i++) {
        if (i == axis)
            continue;
        if (full->shape[i] != less->shape[j++])
            return 0;
    }
    return 1;
}

ml_status ml_conv_plan_make(const ml_kernel_args *a, ml_conv_plan *g)
{
    const ml_tensor *x, *w, *y;
    switch (a->op) {
    case ML_OP_CONV2D:
        x = &a->in[0], w = &a->in[1], y = &a->out;
        break;
    case ML_OP_CONV2D_BACK_INPUT:
        y = &a->in[0], w = &a->in[1], x = &a->out;
        break;
    case ML_OP_CONV2D_BACK_WEIGHT:
        x = &a->in[0], y = &a->in[1], w = &a->out;
        break;
    default:
        return ml_error(ML_EINVAL, "conv2d: kernel called for op %d", (int)a->op);
    }
    if (a->n_in < 2)
        return ml_error(ML_EINVAL, "%s: 2 inputs needed, %d given", ml_op_name(a->op), a->n_in);
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4 || x->dtype != ML_F32 || w->dtype != ML_F32 ||
        y->dtype != ML_F32)
        return ml_error(ML_ESHAPE, "%s: 4-D float32 input, weights and output needed",
                        ml_op_name(a->op));
    const int *ip = a->p.ip;
    if (ip[0] < 1 || ip[1] < 1 || ip[2] < 0 || ip[3] < 0)
        return ml_error(ML_EINVAL, "%s: stride %dx%d must be >= 1 and padding %dx%d >= 0",
                        ml_op_name(a->op), ip[0], ip[1], ip[2], ip[3]);
    g->B = x->shape[0], g->C = x->shape[1], g->H = x->shape[2], g->W = x->shape[3];
    g->O = w->shape[0], g->KH = w->shape[2], g->KW = w->shape[3];
    g->sh = ip[0], g->sw = ip[1], g->ph = ip[2], g->pw = ip[3];
    g->Hp = g->H + 2 * g->ph, g->Wp = g->W + 2 * g->pw;
    g->OH = y->shape[2], g->OW = y->shape[3];
    int64_t oh = g->Hp >= g->KH ? (g->Hp - g->KH) / g->sh + 1 : 0;
    int64_t ow = g->Wp >= g->KW ? (g->Wp - g->KW) / g->sw + 1 : 0;
    if (w->shape[1] != g->C || y->shape[0] != g->B || y->shape[1] != g->O || g->OH != oh ||
        g->OW != ow || g->KH < 1 || g->KW < 1 || oh < 1 || ow < 1 || g->C < 1 || g->O < 1) {
        char sx[96], sw[96], sy[96];
        return ml_error(ML_ESHAPE,
                        "%s: shapes do not fit: x %s, w %s, y %s (stride %dx%d, padding %dx%d)",
                        ml_op_name(a->op), ml_plan_shape(x, sx, sizeof sx),
                        ml_plan_shape(w, sw, sizeof sw), ml_plan_shape(y, sy, sizeof sy), ip[0],
                        ip[1], ip[2], ip[3]);
    }
    g->K = g->C * g->KH * g->KW;
    g->P = g->OH * g->OW;
    g->identity = g->KH == 1 && g->KW == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
    return ML_OK;
}

const char *ml_transpose_plan_make(const ml_kernel_args *a, ml_transpose_plan *p)
{
    const ml_tensor *in = &a->in[0], *out = &a->out;
    int nd = out->ndim;
    if (a->n_in < 1 || in->ndim != nd || in->dtype != out->dtype)
        return "input and output ranks differ";
    int seen[ML_MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        int d = a->p.ip[i];
        if (d < 0 || d >= nd || seen[d] || out->shape[i] != in->shape[d])
            return "not a permutation of the input's axes";
        seen[d] = 1;
    }
    int64_t in_stride[ML_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) {
        in_stride[d] = s;
        s *= in->shape[d];
    }
    memset(p, 0, sizeof *p);
    int k = 0;
    for (int i = 0; i < nd; i++) {
        int64_t len = out->shape[i], stride = in_stride[a->p.ip[i]];
        if (len == 1)
            continue;
        if (k > 0 && p->st[k - 1] == stride * len) {
            p->n[k - 1] *= len;
            p->st[k - 1] = stride;
            continue;
        }
        p->n[k] = len;
        p->st[k] = stride;
        k++;
    }
    p->k = k;
    return NULL;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

ml_status ml_pool_plan_make(const ml_kernel_args *a, int int32_planes, ml_pool_plan *p)
{
    const ml_tensor *x, *y;
    if (a->op == ML_OP_POOL_BACK) {
        if (a->n_in < 2)
            return ml_error(ML_EINVAL, "pool_back: inputs g and x are needed");
        y = &a->in[0], x = &a->in[1];
        if (!ml_shape_equal(a->out.ndim, a->out.shape, x->ndim, x->shape)) {
            char so[96], sx[96];
            return ml_error(ML_ESHAPE, "pool_back: output %s is not the pool's input shape %s",
                            ml_plan_shape(&a->out, so, sizeof so), ml_plan_shape(x, sx, sizeof sx));
        }
    } else {
        if (a->n_in < 1)
            return ml_error(ML_EINVAL, "pool: an input is needed");
        x = &a->in[0], y = &a->out;
    }
    const int *ip = a->p.ip;
    if (ip[0] != ML_POOL_MAX && ip[0] != ML_POOL_MEAN)
        return ml_error(ML_EINVAL, "%s: unknown pooling kind %d", ml_op_name(a->op), ip[0]);
    if (ip[1] < 1 || ip[2] < 1 || ip[3] < 1 || ip[4] < 1 || (ip[5] != 0 && ip[5] != 1))
        return ml_error(ML_EINVAL, "%s: pool %dx%d stride %dx%d keep_partial %d out of range",
                        ml_op_name(a->op), ip[1], ip[2], ip[3], ip[4], ip[5]);
    if (x->ndim != 4 || y->ndim != 4 || x->dtype != ML_F32 || y->dtype != ML_F32)
        return ml_error(ML_ESHAPE, "%s: 4-D float32 tensors needed", ml_op_name(a->op));
    p->kind = ip[0], p->kh = ip[1], p->kw = ip[2], p->sh = ip[3], p->sw = ip[4];
    p->planes = x->shape[0] * x->shape[1];
    p->H = x->shape[2], p->W = x->shape[3];
    p->OH = y->shape[2], p->OW = y->shape[3];
    int64_t oh, ow;
    if (ip[5]) { /* ceil((H - size) / stride) + 1 */
        oh = -floor_div(-(p->H - p->kh), p->sh) + 1;
        ow = -floor_div(-(p->W - p->kw), p->sw) + 1;
    } else {
        oh = floor_div(p->H - p->kh, p->sh) + 1;
        ow = floor_div(p->W - p->kw, p->sw) + 1;
    }
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || p->OH != oh || p->OW != ow ||
        oh < 1 || ow < 1 || p->H < 1 || p->W < 1) {
        char sx[96], sy[96];
        return ml_error(ML_ESHAPE, "%s: input %s and output %s do not fit pool %dx%d stride %dx%d%s",
                        ml_op_name(a->op), ml_plan_shape(x, sx, sizeof sx),
                        ml_plan_shape(y, sy, sizeof sy), ip[1], ip[2], ip[3], ip[4],
                        ip[5] ? " (partial windows kept)" : "");
    }
    if (int32_planes && p->H * p->W > INT32_MAX)
        return ml_error(ML_ESHAPE, "%s: planes of more than 2^31 pixels", ml_op_name(a->op));
    if (p->kind == ML_POOL_MAX && !a->aux)
        return ml_error(ML_EINVAL, "%s: max pooling needs its argmax state (aux)",
                        ml_op_name(a->op));
    return ML_OK;
}

ml_status ml_gather_plan_make(const ml_kernel_args *a, int64_t *rows, int64_t *row_words)
{
    const ml_tensor *x = &a->in[0], *index = &a->in[1], *out = &a->out;
    char xs[64], is[64], os[64];
    if (a->n_in != 2 || x->ndim < 1 || index->ndim != 1 || index->dtype != ML_I32 || out->ndim < 1 ||
        out->dtype != x->dtype || out->shape[0] != index->shape[0] ||
        ml_shape_numel(x->ndim - 1, x->shape + 1) != ml_shape_numel(out->ndim - 1, out->shape + 1))
        return ml_error(ML_ESHAPE, "gather_rows: rows of %s at int32 indices %s do not make %s",
                        ml_plan_shape(x, xs, sizeof xs), ml_plan_shape(index, is, sizeof is),
                        ml_plan_shape(out, os, sizeof os));
    *rows = x->shape[0];
    *row_words = ml_shape_numel(x->ndim - 1, x->shape + 1);
    return ML_OK;
}

/* x and y agree on every axis but `axis`. */
static int same_but_axis(const ml_tensor *x, const ml_tensor *y, int axis)
{
    if (x->ndim != y->ndim || x->dtype != y->dtype)
        return 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != axis && x->shape[i] != y->shape[i])
            return 0;
    return 1;
}

const char *ml_concat_check(const ml_kernel_args *a, int *axis)
{
    const ml_tensor *out = &a->out;
    *axis = ml_plan_axis(a->p.ip[0], out->ndim);
    if (*axis < 0 || a->n_in < 1)
        return "axis outside the output";
    int64_t sum = 0;
    for (int i = 0; i < a->n_in; i++) {
        if (!same_but_axis(out, &a->in[i], *axis))
            return "inputs differ from the output off the axis";
        sum += a->in[i].shape[*axis];
    }
    return sum == out->shape[*axis] ? NULL : "input lengths do not add up to the output's";
}

const char *ml_slice_check(const ml_kernel_args *a, int *axis)
{
    const ml_tensor *out = &a->out, *in = &a->in[0];
    *axis = ml_plan_axis(a->p.ip[0], out->ndim);
    if (*axis < 0 || a->n_in < 1 || !same_but_axis(out, in, *axis))
        return "input differs from the output off the axis";
    int64_t start = a->p.ip[1];
    return start >= 0 && start + out->shape[*axis] <= in->shape[*axis] ? NULL : "slice outside the input";
}

const char *ml_sum_plan(const ml_kernel_args *a, int reduced[ML_MAX_DIMS], float *scale)
{
    if (a->n_in < 1)
        return "needs an input";
    const ml_tensor *in = &a->in[0];
    int64_t count;
    for (int i = 0; i < ML_MAX_DIMS; i++)
        reduced[i] = 0;
    if (a->p.ip[0] == ML_ALL_AXES) {
        if (ml_tensor_numel(&a->out) != 1)
            return "a reduction over all axes gives one element";
        for (int i = 0; i < in->ndim; i++)
            reduced[i] = 1;
        count = ml_tensor_numel(in);
    } else {
        int axis = ml_plan_axis(a->p.ip[0], in->ndim);
        if (axis < 0 || !ml_plan_shape_minus_axis(in, axis, &a->out))
            return "output is not the input less the axis";
        reduced[axis] = 1;
        count = in->shape[axis];
    }
    *scale = a->op == ML_OP_MEAN ? (float)(1.0 / (double)count) : 1.0f;
    return NULL;
}

const char *ml_sum_to_plan(const ml_kernel_args *a, int reduced[ML_MAX_DIMS])
{
    if (a->n_in < 1)
        return "needs an input";
    const ml_tensor *in = &a->in[0], *out = &a->out;
    if (out->ndim > in->ndim)
        return "output has more dimensions than the input";
    for (int i = 0; i < ML_MAX_DIMS; i++)
        reduced[i] = 0;
    int lead = in->ndim - out->ndim;
    for (int i = 0; i < in->ndim; i++) {
        int64_t od = i >= lead ? out->shape[i - lead] : 1;
        if (od == in->shape[i])
            reduced[i] = 0;
        else if (od == 1)
            reduced[i] = 1;
        else
            return "output is not a broadcast source of the input";
    }
    return NULL;
}

const char *ml_max_plan(const ml_kernel_args *a, int64_t *outer, int64_t *len, int64_t *inner)
{
    if (a->n_in < 1)
        return "needs an input";
    const ml_tensor *in = &a->in[0];
    if (a->p.ip[0] == ML_ALL_AXES) {
        if (ml_tensor_numel(&a->out) != 1)
            return "a reduction over all axes gives one element";
        *outer = *inner = 1;
        *len = ml_tensor_numel(in);
    } else {
        int axis = ml_plan_axis(a->p.ip[0], in->ndim);
        if (axis < 0 || !ml_plan_shape_minus_axis(in, axis, &a->out))
            return "output is not the input less the axis";
        ml_plan_split(in, axis, outer, len, inner);
    }
    return *len == 0 && *outer * *inner > 0 ? "maximum over an empty axis" : NULL;
}

const char *ml_gemm_plan(const ml_tensor *A, const ml_tensor *B, const ml_tensor *C, int ta, int tb, int64_t *M,
                         int64_t *N, int64_t *K)
{
    if (A->ndim != 2 || B->ndim != 2 || C->ndim != 2)
        return "operands must be matrices";
    *M = ta ? A->shape[1] : A->shape[0];
    *K = ta ? A->shape[0] : A->shape[1];
    int64_t KB = tb ? B->shape[1] : B->shape[0];
    *N = tb ? B->shape[0] : B->shape[1];
    return *K == KB && C->shape[0] == *M && C->shape[1] == *N ? NULL : "inner dimensions or output shape differ";
}

int ml_plan_same_numel(const ml_kernel_args *a, int n_in)
{
    if (a->n_in < n_in)
        return 0;
    int64_t n = ml_tensor_numel(&a->out);
    for (int i = 0; i < n_in; i++)
        if (ml_tensor_numel(&a->in[i]) != n)
            return 0;
    return 1;
}

void ml_reduce_plan_make(int nd, const int64_t *shape, const int *reduced, ml_reduce_plan *p)
{
    p->k = 0;
    p->total = p->out_n = 1;
    for (int i = 0; i < nd; i++) {
        p->total *= shape[i];
        if (!reduced[i])
            p->out_n *= shape[i];
        if (shape[i] == 1)
            continue;
        if (p->k > 0 && p->r[p->k - 1] == (reduced[i] != 0)) {
            p->n[p->k - 1] *= shape[i];
            continue;
        }
        p->n[p->k] = shape[i];
        p->r[p->k] = reduced[i] != 0;
        p->k++;
    }
}
