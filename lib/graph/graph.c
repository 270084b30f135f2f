/* Building expressions: node creation and shape inference. */
#include "graph/graph.h"

#include <string.h>

#include "core/alloc.h"
#include "graph/graph_impl.h"

ml_graph *ml_graph_new(void)
{
    return ml_calloc(1, sizeof(ml_graph));
}

void ml_graph_free(ml_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        ml_node *n = g->nodes[i];
        ml_free(n->in);
        ml_free((char *)n->name);
        ml_free(n);
    }
    ml_free(g->nodes);
    ml_free(g);
}

int ml_graph_size(const ml_graph *g)
{
    return g->n_nodes;
}

ml_node *ml_graph_node(const ml_graph *g, int id)
{
    return id >= 0 && id < g->n_nodes ? g->nodes[id] : NULL;
}

char *ml_node_describe(const ml_node *n, char *buf, size_t size)
{
    char shape[128];
    size_t used = 0;
    shape[0] = '\0';
    used += (size_t)snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < n->ndim && used < sizeof shape; i++) {
        if (n->shape[i] == ML_BATCH)
            used += (size_t)snprintf(shape + used, sizeof shape - used, i ? ", batch" : "batch");
        else
            used += (size_t)snprintf(shape + used, sizeof shape - used, i ? ", %lld" : "%lld",
                                     (long long)n->shape[i]);
    }
    if (used < sizeof shape)
        snprintf(shape + used, sizeof shape - used, "]");
    const char *what = n->op == ML_OP_UNARY ? ml_unary_name((ml_unary_kind)n->p.ip[0]) : ml_op_name(n->op);
    if (n->name)
        snprintf(buf, size, "%s '%s' %s", what, n->name, shape);
    else
        snprintf(buf, size, "%s %s", what, shape);
    return buf;
}

ml_node *graph_add_node(ml_graph *g, ml_op op, ml_dtype dtype, int ndim, const int64_t *shape,
                        int n_in, ml_node *const *in)
{
    if (g->n_nodes == g->capacity) {
        int capacity = g->capacity ? 2 * g->capacity : 64;
        ml_node **nodes = ml_realloc(g->nodes, (size_t)capacity * sizeof *nodes);
        if (!nodes)
            return NULL;
        g->nodes = nodes;
        g->capacity = capacity;
    }
    ml_node *n = ml_calloc(1, sizeof *n);
    if (!n)
        return NULL;
    if (n_in > 0) {
        n->in = ml_malloc((size_t)n_in * sizeof *n->in);
        if (!n->in) {
            ml_free(n);
            return NULL;
        }
        memcpy(n->in, in, (size_t)n_in * sizeof *in);
    }
    n->id = g->n_nodes;
    n->op = op;
    n->dtype = dtype;
    n->ndim = ndim;
    if (ndim > 0)
        memcpy(n->shape, shape, (size_t)ndim * sizeof *shape);
    n->n_in = n_in;
    n->graph = g;
    g->nodes[g->n_nodes++] = n;
    return n;
}

static int batch_axis(const ml_node *n)
{
    for (int i = 0; i < n->ndim; i++)
        if (n->shape[i] == ML_BATCH)
            return i;
    return -1;
}

static ml_node *shape_error(const char *what, const ml_node *a, const ml_node *b)
{
    char da[160], db[160];
    if (b)
        ml_error(ML_ESHAPE, "%s: operands %s and %s do not fit", what,
                 ml_node_describe(a, da, sizeof da), ml_node_describe(b, db, sizeof db));
    else
        ml_error(ML_ESHAPE, "%s: operand %s does not fit", what, ml_node_describe(a, da, sizeof da));
    return NULL;
}

static int check_shape(int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > ML_MAX_DIMS) {
        ml_error(ML_ESHAPE, "a tensor has at most %d dimensions, not %d", ML_MAX_DIMS, ndim);
        return 0;
    }
    int batches = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == ML_BATCH)
            batches++;
        else if (shape[i] < 0) {
            ml_error(ML_ESHAPE, "negative size %lld in dimension %d", (long long)shape[i], i);
            return 0;
        }
    }
    if (batches > 1) {
        ml_error(ML_ESHAPE, "a shape has at most one batch dimension");
        return 0;
    }
    return 1;
}

static ml_node *leaf(ml_graph *g, ml_op op, const char *name, ml_dtype dtype, int ndim,
                     const int64_t *shape)
{
    if (!g || !check_shape(ndim, shape))
        return NULL;
    ml_node *n = graph_add_node(g, op, dtype, ndim, shape, 0, NULL);
    if (n && name && !(n->name = ml_strdup(name)))
        return NULL;
    return n;
}

ml_node *ml_input(ml_graph *g, const char *name, ml_dtype dtype, int ndim, const int64_t *shape)
{
    return leaf(g, ML_OP_INPUT, name, dtype, ndim, shape);
}

ml_node *ml_shared(ml_graph *g, const char *name, ml_tensor *value)
{
    if (!value)
        return NULL;
    ml_node *n = leaf(g, ML_OP_SHARED, name, value->dtype, value->ndim, value->shape);
    if (n)
        n->value = value;
    return n;
}

ml_node *ml_scalar(ml_graph *g, const char *name, const float *value)
{
    ml_node *n = leaf(g, ML_OP_SCALAR, name, ML_F32, 0, NULL);
    if (n)
        n->scalar = value;
    return n;
}

ml_node *ml_const(ml_graph *g, float value, int ndim, const int64_t *shape)
{
    ml_node *n = leaf(g, ML_OP_CONST, NULL, ML_F32, ndim, shape);
    if (n)
        n->p.fp[0] = value;
    return n;
}

int graph_is_effect(const ml_node *n)
{
    return n->op == ML_OP_MOMENTUM_STEP || n->op == ML_OP_MOMENTUM_MATMUL_STEP || n->op == ML_OP_MAX_NORM ||
           n->op == ML_OP_NONFINITE_WATCH;
}

static int is_f32(const char *what, const ml_node *x)
{
    if (x->dtype != ML_F32) {
        char d[160];
        ml_error(ML_EINVAL, "%s: operand %s is int32, expected float32", what,
                 ml_node_describe(x, d, sizeof d));
        return 0;
    }
    if (x->op == ML_OP_SCALAR || graph_is_effect(x)) {
        char d[160];
        ml_error(ML_EINVAL, "%s: %s is not a tensor value", what, ml_node_describe(x, d, sizeof d));
        return 0;
    }
    return 1;
}

ml_node *ml_matmul(ml_graph *g, ml_node *a, ml_node *b, int transpose_a, int transpose_b)
{
    if (!a || !b || !is_f32("matmul", a) || !is_f32("matmul", b))
        return NULL;
    if (a->ndim != 2 || b->ndim != 2)
        return shape_error("matmul needs matrices", a, b);
    int64_t m = transpose_a ? a->shape[1] : a->shape[0];
    int64_t ka = transpose_a ? a->shape[0] : a->shape[1];
    int64_t kb = transpose_b ? b->shape[1] : b->shape[0];
    int64_t n = transpose_b ? b->shape[0] : b->shape[1];
    if (ka != kb)
        return shape_error("matmul: inner dimensions differ", a, b);
    int64_t shape[2] = {m, n};
    if (!check_shape(2, shape))
        return shape_error("matmul", a, b);
    ml_node *out = graph_add_node(g, ML_OP_MATMUL, ML_F32, 2, shape, 2, (ml_node *[]){a, b});
    if (out) {
        out->p.ip[0] = transpose_a;
        out->p.ip[1] = transpose_b;
    }
    return out;
}

/* NumPy broadcasting; the batch dimension only matches itself or 1. */
static ml_node *binary(ml_graph *g, ml_op op, const char *what, ml_node *a, ml_node *b)
{
    if (!a || !b || !is_f32(what, a) || !is_f32(what, b))
        return NULL;
    int ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[ML_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int ia = i - (ndim - a->ndim), ib = i - (ndim - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da == db || db == 1)
            shape[i] = da;
        else if (da == 1)
            shape[i] = db;
        else
            return shape_error(what, a, b);
    }
    if (!check_shape(ndim, shape))
        return shape_error(what, a, b);
    return graph_add_node(g, op, ML_F32, ndim, shape, 2, (ml_node *[]){a, b});
}

ml_node *ml_add(ml_graph *g, ml_node *a, ml_node *b) { return binary(g, ML_OP_ADD, "add", a, b); }
ml_node *ml_sub(ml_graph *g, ml_node *a, ml_node *b) { return binary(g, ML_OP_SUB, "sub", a, b); }
ml_node *ml_mul(ml_graph *g, ml_node *a, ml_node *b) { return binary(g, ML_OP_MUL, "mul", a, b); }
ml_node *ml_div(ml_graph *g, ml_node *a, ml_node *b) { return binary(g, ML_OP_DIV, "div", a, b); }

static ml_node *affine(ml_graph *g, ml_node *x, ml_node *s, float scale, float shift)
{
    if (!x || !is_f32("scale", x))
        return NULL;
    if (s && s->op != ML_OP_SCALAR) {
        char d[160];
        ml_error(ML_EINVAL, "scale_by: %s is not a SCALAR node", ml_node_describe(s, d, sizeof d));
        return NULL;
    }
    ml_node *n = graph_add_node(g, ML_OP_AFFINE_SCALAR, ML_F32, x->ndim, x->shape, s ? 2 : 1,
                                (ml_node *[]){x, s});
    if (n) {
        n->p.fp[0] = scale;
        n->p.fp[1] = shift;
    }
    return n;
}

ml_node *ml_scale(ml_graph *g, ml_node *x, float c) { return affine(g, x, NULL, c, 0.0f); }
ml_node *ml_add_scalar(ml_graph *g, ml_node *x, float c) { return affine(g, x, NULL, 1.0f, c); }
ml_node *ml_scale_by(ml_graph *g, ml_node *x, ml_node *s, float c)
{
    return s ? affine(g, x, s, c, 0.0f) : NULL;
}

ml_node *ml_unary(ml_graph *g, ml_unary_kind f, ml_node *x)
{
    if (!x || !is_f32(ml_unary_name(f), x))
        return NULL;
    ml_node *n = graph_add_node(g, ML_OP_UNARY, ML_F32, x->ndim, x->shape, 1, &x);
    if (n) {
        n->p.ip[0] = f;
        n->p.fp[0] = 1.0f;
    }
    return n;
}

ml_node *ml_neg(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_NEG, x); }
ml_node *ml_exp(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_EXP, x); }
ml_node *ml_log(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_LOG, x); }
ml_node *ml_sqrt(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_SQRT, x); }
ml_node *ml_square(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_SQUARE, x); }
ml_node *ml_abs(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_ABS, x); }
ml_node *ml_relu(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_RELU, x); }
ml_node *ml_sigmoid(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_SIGMOID, x); }
ml_node *ml_tanh(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_TANH, x); }
ml_node *ml_softplus(ml_graph *g, ml_node *x) { return ml_unary(g, ML_UNARY_SOFTPLUS, x); }
ml_node *ml_elu(ml_graph *g, ml_node *x, float alpha)
{
    ml_node *n = ml_unary(g, ML_UNARY_ELU, x);
    if (n)
        n->p.fp[0] = alpha;
    return n;
}

static ml_node *same_shape_op(ml_graph *g, ml_op op, const char *what, ml_node *x, int min_ndim)
{
    if (!x || !is_f32(what, x))
        return NULL;
    if (x->ndim < min_ndim)
        return shape_error(what, x, NULL);
    return graph_add_node(g, op, ML_F32, x->ndim, x->shape, 1, &x);
}

ml_node *ml_softmax(ml_graph *g, ml_node *x) { return same_shape_op(g, ML_OP_SOFTMAX, "softmax", x, 1); }
ml_node *ml_log_softmax(ml_graph *g, ml_node *x)
{
    return same_shape_op(g, ML_OP_LOG_SOFTMAX, "log_softmax", x, 1);
}

static int normalise_axis(const char *what, const ml_node *x, int *axis)
{
    if (*axis == ML_ALL_AXES)
        return 1;
    int a = *axis < 0 ? *axis + x->ndim : *axis;
    if (a < 0 || a >= x->ndim) {
        char d[160];
        ml_error(ML_ESHAPE, "%s: axis %d is outside %s", what, *axis, ml_node_describe(x, d, sizeof d));
        return 0;
    }
    *axis = a;
    return 1;
}

static ml_node *reduce(ml_graph *g, ml_op op, const char *what, ml_node *x, int axis)
{
    if (!x || !is_f32(what, x) || !normalise_axis(what, x, &axis))
        return NULL;
    int64_t shape[ML_MAX_DIMS];
    int ndim = 0;
    if (axis != ML_ALL_AXES)
        for (int i = 0; i < x->ndim; i++)
            if (i != axis)
                shape[ndim++] = x->shape[i];
    ml_node *n = graph_add_node(g, op, ML_F32, ndim, shape, 1, &x);
    if (n)
        n->p.ip[0] = axis;
    return n;
}

ml_node *ml_sum(ml_graph *g, ml_node *x, int axis) { return reduce(g, ML_OP_SUM, "sum", x, axis); }
ml_node *ml_mean(ml_graph *g, ml_node *x, int axis) { return reduce(g, ML_OP_MEAN, "mean", x, axis); }

ml_node *ml_max(ml_graph *g, ml_node *x, int axis)
{
    if (axis == ML_ALL_AXES) {
        ml_error(ML_EINVAL, "max: over one axis only");
        return NULL;
    }
    return reduce(g, ML_OP_MAX, "max", x, axis);
}

ml_node *ml_argmax(ml_graph *g, ml_node *x)
{
    ml_node *n = reduce(g, ML_OP_ARGMAX, "argmax", x, -1);
    if (n)
        n->dtype = ML_I32;
    return n;
}

/* The shape with the batch dimension counted as 1, for element-count checks. */
static int64_t static_numel(int ndim, const int64_t *shape, int *has_batch)
{
    int64_t n = 1;
    *has_batch = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == ML_BATCH)
            *has_batch = 1;
        else
            n *= shape[i];
    }
    return n;
}

ml_node *ml_reshape(ml_graph *g, ml_node *x, int ndim, const int64_t *shape)
{
    if (!x || !check_shape(ndim, shape))
        return NULL;
    int xb, sb;
    if (static_numel(x->ndim, x->shape, &xb) != static_numel(ndim, shape, &sb) || xb != sb) {
        char d[160], s[128];
        int64_t printable[ML_MAX_DIMS];
        for (int i = 0; i < ndim; i++)
            printable[i] = shape[i] == ML_BATCH ? -1 : shape[i];
        ml_error(ML_ESHAPE, "reshape: cannot view %s as %s (-1 = batch)",
                 ml_node_describe(x, d, sizeof d), ml_shape_format(ndim, printable, s, sizeof s));
        return NULL;
    }
    return graph_add_node(g, ML_OP_COPY, x->dtype, ndim, shape, 1, &x);
}

ml_node *ml_flatten(ml_graph *g, ml_node *x)
{
    if (!x)
        return NULL;
    if (x->ndim < 1)
        return shape_error("flatten", x, NULL);
    int64_t rest = 1;
    for (int i = 1; i < x->ndim; i++) {
        if (x->shape[i] == ML_BATCH)
            return shape_error("flatten: the batch must be the first axis", x, NULL);
        rest *= x->shape[i];
    }
    return ml_reshape(g, x, 2, (int64_t[]){x->shape[0], rest});
}

ml_node *ml_transpose(ml_graph *g, ml_node *x, const int *perm)
{
    if (!x)
        return NULL;
    int swap[2] = {1, 0};
    if (!perm) {
        if (x->ndim != 2)
            return shape_error("transpose without a permutation needs a matrix", x, NULL);
        perm = swap;
    }
    int seen[ML_MAX_DIMS] = {0};
    int64_t shape[ML_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= x->ndim || seen[perm[i]]++)
            return shape_error("transpose: not a permutation of the axes", x, NULL);
        shape[i] = x->shape[perm[i]];
    }
    ml_node *n = graph_add_node(g, ML_OP_TRANSPOSE, x->dtype, x->ndim, shape, 1, &x);
    if (n)
        for (int i = 0; i < x->ndim; i++)
            n->p.ip[i] = perm[i];
    return n;
}

ml_node *ml_concat(ml_graph *g, int n, ml_node *const *xs, int axis)
{
    if (n < 1 || n > ML_MAX_INPUTS) {
        ml_error(ML_EINVAL, "concat: between 1 and %d operands, not %d", ML_MAX_INPUTS, n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!xs[i] || !is_f32("concat", xs[i]))
            return NULL;
    if (!normalise_axis("concat", xs[0], &axis) || axis == ML_ALL_AXES)
        return NULL;
    int64_t shape[ML_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    for (int i = 1; i < n; i++) {
        if (xs[i]->ndim != xs[0]->ndim)
            return shape_error("concat", xs[0], xs[i]);
        for (int d = 0; d < xs[0]->ndim; d++)
            if (d != axis && xs[i]->shape[d] != xs[0]->shape[d])
                return shape_error("concat", xs[0], xs[i]);
        if (xs[i]->shape[axis] == ML_BATCH || shape[axis] == ML_BATCH)
            return shape_error("concat: not along the batch axis", xs[0], xs[i]);
        shape[axis] += xs[i]->shape[axis];
    }
    ml_node *out = graph_add_node(g, ML_OP_CONCAT, ML_F32, xs[0]->ndim, shape, n, xs);
    if (out)
        out->p.ip[0] = axis;
    return out;
}

ml_node *ml_slice(ml_graph *g, ml_node *x, int axis, int64_t start, int64_t length)
{
    if (!x || !is_f32("slice", x) || !normalise_axis("slice", x, &axis) || axis == ML_ALL_AXES)
        return NULL;
    if (x->shape[axis] == ML_BATCH || start < 0 || length < 0 || start + length > x->shape[axis])
        return shape_error("slice: range outside the axis", x, NULL);
    int64_t shape[ML_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = length;
    ml_node *n = graph_add_node(g, ML_OP_SLICE, ML_F32, x->ndim, shape, 1, &x);
    if (n) {
        n->p.ip[0] = axis;
        n->p.ip[1] = (int)start;
    }
    return n;
}

ml_node *ml_clip(ml_graph *g, ml_node *x, float lo, float hi)
{
    ml_node *n = same_shape_op(g, ML_OP_CLIP, "clip", x, 0);
    if (n) {
        n->p.fp[0] = lo;
        n->p.fp[1] = hi;
    }
    return n;
}

ml_node *ml_dropout(ml_graph *g, ml_node *x, float include_prob, float scale)
{
    if (!(include_prob > 0.0f && include_prob <= 1.0f)) {
        ml_error(ML_EINVAL, "dropout: include probability %g is outside (0, 1]", include_prob);
        return NULL;
    }
    ml_node *n = same_shape_op(g, ML_OP_DROPOUT, "dropout", x, 0);
    if (n) {
        n->p.fp[0] = include_prob;
        n->p.fp[1] = scale;
    }
    return n;
}

ml_node *ml_conv2d(ml_graph *g, ml_node *x, ml_node *w, int stride_h, int stride_w, int pad_h,
                   int pad_w)
{
    if (!x || !w || !is_f32("conv2d", x) || !is_f32("conv2d", w))
        return NULL;
    if (x->ndim != 4 || w->ndim != 4 || x->shape[1] != w->shape[1] || w->shape[1] == ML_BATCH)
        return shape_error("conv2d needs x [batch, C, H, W] and w [O, C, KH, KW]", x, w);
    if (stride_h < 1 || stride_w < 1 || pad_h < 0 || pad_w < 0) {
        ml_error(ML_EINVAL, "conv2d: stride %dx%d and padding %dx%d are invalid", stride_h, stride_w,
                 pad_h, pad_w);
        return NULL;
    }
    int64_t oh = (x->shape[2] + 2 * pad_h - w->shape[2]) / stride_h + 1;
    int64_t ow = (x->shape[3] + 2 * pad_w - w->shape[3]) / stride_w + 1;
    if (x->shape[2] + 2 * pad_h < w->shape[2] || x->shape[3] + 2 * pad_w < w->shape[3])
        return shape_error("conv2d: kernel larger than the padded image", x, w);
    int64_t shape[4] = {x->shape[0], w->shape[0], oh, ow};
    ml_node *n = graph_add_node(g, ML_OP_CONV2D, ML_F32, 4, shape, 2, (ml_node *[]){x, w});
    if (n) {
        n->p.ip[0] = stride_h;
        n->p.ip[1] = stride_w;
        n->p.ip[2] = pad_h;
        n->p.ip[3] = pad_w;
    }
    return n;
}

static int64_t pooled_size(int64_t size, int window, int stride, int keep_partial)
{
    if (keep_partial)
        return (size - window + stride - 1) / stride + 1;
    return (size - window) / stride + 1;
}

ml_node *ml_pool(ml_graph *g, ml_node *x, ml_pool_kind kind, int size_h, int size_w, int stride_h,
                 int stride_w, int keep_partial)
{
    if (!x || !is_f32("pool", x))
        return NULL;
    if (x->ndim != 4)
        return shape_error("pool needs [batch, C, H, W]", x, NULL);
    if (size_h < 1 || size_w < 1 || stride_h < 1 || stride_w < 1 || size_h > x->shape[2] ||
        size_w > x->shape[3]) {
        char d[160];
        ml_error(ML_ESHAPE, "pool: window %dx%d with stride %dx%d does not fit %s", size_h, size_w,
                 stride_h, stride_w, ml_node_describe(x, d, sizeof d));
        return NULL;
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], pooled_size(x->shape[2], size_h, stride_h, keep_partial),
                        pooled_size(x->shape[3], size_w, stride_w, keep_partial)};
    ml_node *n = graph_add_node(g, ML_OP_POOL, ML_F32, 4, shape, 1, &x);
    if (n) {
        int ip[6] = {kind, size_h, size_w, stride_h, stride_w, keep_partial ? 1 : 0};
        memcpy(n->p.ip, ip, sizeof ip);
    }
    return n;
}

static ml_node *class_loss(ml_graph *g, ml_op op, const char *what, ml_node *scores,
                           ml_node *labels)
{
    if (!scores || !labels || !is_f32(what, scores))
        return NULL;
    if (scores->ndim != 2 || labels->ndim != 1 || labels->dtype != ML_I32 ||
        labels->shape[0] != scores->shape[0])
        return shape_error("expected scores [batch, K] and int32 labels [batch]", scores, labels);
    return graph_add_node(g, op, ML_F32, 0, NULL, 2, (ml_node *[]){scores, labels});
}

ml_node *ml_nll_logsoftmax(ml_graph *g, ml_node *logits, ml_node *labels)
{
    return class_loss(g, ML_OP_NLL_LOGSOFTMAX, "nll", logits, labels);
}

ml_node *ml_misclass(ml_graph *g, ml_node *scores, ml_node *labels)
{
    if (labels && labels->dtype == ML_F32 && labels->ndim == 2)
        labels = ml_argmax(g, labels); /* one-hot targets: their classes */
    return class_loss(g, ML_OP_MISCLASS, "misclass", scores, labels);
}

static ml_node *pair_loss(ml_graph *g, ml_op op, const char *what, ml_node *a, ml_node *b)
{
    if (!a || !b || !is_f32(what, a) || !is_f32(what, b))
        return NULL;
    if (!ml_shape_equal(a->ndim, a->shape, b->ndim, b->shape) || a->ndim < 1)
        return shape_error(what, a, b);
    return graph_add_node(g, op, ML_F32, 0, NULL, 2, (ml_node *[]){a, b});
}

ml_node *ml_bce_logits(ml_graph *g, ml_node *logits, ml_node *targets)
{
    return pair_loss(g, ML_OP_BCE_LOGITS, "binary cross-entropy", logits, targets);
}

ml_node *ml_squared_error(ml_graph *g, ml_node *a, ml_node *b)
{
    return pair_loss(g, ML_OP_SQUARED_ERROR, "squared error", a, b);
}

ml_node *ml_momentum_step(ml_graph *g, ml_node *param, ml_node *velocity, ml_node *grad,
                          ml_node *lr, ml_node *momentum, float lr_scale, int nesterov)
{
    if (!param || !velocity || !grad || !lr || !momentum)
        return NULL;
    if (param->op != ML_OP_SHARED || velocity->op != ML_OP_SHARED || lr->op != ML_OP_SCALAR ||
        momentum->op != ML_OP_SCALAR) {
        ml_error(ML_EINVAL, "momentum step: param and velocity must be shared, lr and momentum scalars");
        return NULL;
    }
    if (!ml_shape_equal(param->ndim, param->shape, velocity->ndim, velocity->shape) ||
        !ml_shape_equal(param->ndim, param->shape, grad->ndim, grad->shape))
        return shape_error("momentum step: param, velocity and gradient differ", param, grad);
    ml_node *n;
    if (!nesterov && grad->op == ML_OP_MATMUL) {
        /* A weight's gradient is one matrix product: fold it into the velocity's GEMM. */
        n = graph_add_node(g, ML_OP_MOMENTUM_MATMUL_STEP, ML_F32, 0, NULL, 6,
                           (ml_node *[]){param, velocity, grad->in[0], grad->in[1], lr, momentum});
        if (n) {
            n->p.ip[0] = grad->p.ip[0];
            n->p.ip[1] = grad->p.ip[1];
            n->p.fp[0] = lr_scale;
        }
        return n;
    }
    n = graph_add_node(g, ML_OP_MOMENTUM_STEP, ML_F32, 0, NULL, 5,
                       (ml_node *[]){param, velocity, grad, lr, momentum});
    if (n) {
        n->p.ip[0] = nesterov ? 1 : 0;
        n->p.fp[0] = lr_scale;
    }
    return n;
}

ml_node *ml_max_norm(ml_graph *g, ml_node *param, float max_norm, int per_slice)
{
    if (!param)
        return NULL;
    if (param->op != ML_OP_SHARED || (!per_slice && param->ndim != 2) || param->ndim < 1) {
        char d[160];
        ml_error(ML_EINVAL, "max norm: %s is not a shared weight matrix", ml_node_describe(param, d, sizeof d));
        return NULL;
    }
    ml_node *n = graph_add_node(g, ML_OP_MAX_NORM, ML_F32, 0, NULL, 1, &param);
    if (n) {
        n->p.ip[0] = per_slice ? 1 : 0;
        n->p.fp[0] = max_norm;
    }
    return n;
}

ml_node *ml_nonfinite_watch(ml_graph *g, ml_node *value, ml_node *flag, ml_node *batch)
{
    if (!value || !flag || !batch)
        return NULL;
    if (flag->op != ML_OP_SHARED || flag->dtype != ML_F32 || ml_shape_numel(flag->ndim, flag->shape) != 2 ||
        batch->op != ML_OP_SCALAR || value->dtype != ML_F32) {
        ml_error(ML_EINVAL, "nonfinite watch: needs a float value, a shared float32 flag of 2 and a scalar");
        return NULL;
    }
    ml_node *in[3] = {value, flag, batch};
    return graph_add_node(g, ML_OP_NONFINITE_WATCH, ML_F32, 0, NULL, 3, in);
}

int graph_batch_axis(const ml_node *n)
{
    return batch_axis(n);
}
