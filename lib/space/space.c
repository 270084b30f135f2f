#include "space/space.h"

#include <stdio.h>
#include <string.h>

ml_space ml_vector_space(int64_t dim)
{
    return (ml_space){.kind = ML_SPACE_VECTOR, .dim = dim};
}

ml_space ml_conv2d_space(int64_t channels, int64_t rows, int64_t cols)
{
    return ml_conv2d_space_axes(channels, rows, cols, ML_AXES_BC01);
}

ml_space ml_conv2d_space_axes(int64_t channels, int64_t rows, int64_t cols, ml_axes axes)
{
    return (ml_space){.kind = ML_SPACE_CONV2D, .channels = channels, .rows = rows, .cols = cols, .axes = axes};
}

ml_space ml_index_space(int64_t dim, int64_t max_labels)
{
    return (ml_space){.kind = ML_SPACE_INDEX, .dim = dim, .max_labels = max_labels};
}

ml_space ml_composite_space(int n, const ml_space *components)
{
    return (ml_space){.kind = ML_SPACE_COMPOSITE, .n_components = n, .components = components};
}

int64_t ml_space_size(const ml_space *s)
{
    switch (s->kind) {
    case ML_SPACE_VECTOR:
    case ML_SPACE_INDEX: return s->dim;
    case ML_SPACE_CONV2D: return s->channels * s->rows * s->cols;
    case ML_SPACE_COMPOSITE: {
        int64_t n = 0;
        for (int i = 0; i < s->n_components; i++)
            n += ml_space_size(&s->components[i]);
        return n;
    }
    }
    return 0;
}

int64_t ml_space_vector_size(const ml_space *s)
{
    if (s->kind == ML_SPACE_INDEX)
        return s->dim * s->max_labels;
    if (s->kind == ML_SPACE_COMPOSITE) {
        int64_t n = 0;
        for (int i = 0; i < s->n_components; i++)
            n += ml_space_vector_size(&s->components[i]);
        return n;
    }
    return ml_space_size(s);
}

const char *ml_axes_name(ml_axes axes)
{
    switch (axes) {
    case ML_AXES_B01C: return "('b', 0, 1, 'c')";
    case ML_AXES_C01B: return "('c', 0, 1, 'b')";
    default: return "('b', 'c', 0, 1)";
    }
}

void ml_axes_from_bc01(ml_axes axes, int perm[4])
{
    static const int p[3][4] = {{0, 1, 2, 3}, {0, 2, 3, 1}, {1, 2, 3, 0}};
    memcpy(perm, p[axes <= ML_AXES_C01B ? axes : 0], sizeof p[0]);
}

char *ml_space_describe(const ml_space *s, char *buf, size_t size)
{
    switch (s->kind) {
    case ML_SPACE_VECTOR: snprintf(buf, size, "VectorSpace(%lld)", (long long)s->dim); break;
    case ML_SPACE_CONV2D:
        if (s->axes == ML_AXES_BC01)
            snprintf(buf, size, "Conv2DSpace(shape=[%lld, %lld], num_channels=%lld)", (long long)s->rows,
                     (long long)s->cols, (long long)s->channels);
        else
            snprintf(buf, size, "Conv2DSpace(shape=[%lld, %lld], num_channels=%lld, axes=%s)", (long long)s->rows,
                     (long long)s->cols, (long long)s->channels, ml_axes_name(s->axes));
        break;
    case ML_SPACE_INDEX:
        snprintf(buf, size, "IndexSpace(dim=%lld, max_labels=%lld)", (long long)s->dim, (long long)s->max_labels);
        break;
    case ML_SPACE_COMPOSITE: {
        size_t used = (size_t)snprintf(buf, size, "CompositeSpace(");
        for (int i = 0; i < s->n_components && used < size; i++) {
            if (i)
                used += (size_t)snprintf(buf + used, size - used, ", ");
            if (used < size)
                ml_space_describe(&s->components[i], buf + used, size - used);
            used += strlen(buf + used);
        }
        if (used < size)
            snprintf(buf + used, size - used, ")");
        break;
    }
    }
    return buf;
}

static int is_dense(const ml_space *s)
{
    return s->kind == ML_SPACE_VECTOR || s->kind == ML_SPACE_CONV2D;
}

static int same_space(const ml_space *a, const ml_space *b)
{
    if (a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case ML_SPACE_VECTOR: return a->dim == b->dim;
    case ML_SPACE_CONV2D:
        return a->channels == b->channels && a->rows == b->rows && a->cols == b->cols && a->axes == b->axes;
    case ML_SPACE_INDEX: return a->dim == b->dim && a->max_labels == b->max_labels;
    case ML_SPACE_COMPOSITE:
        if (a->n_components != b->n_components)
            return 0;
        for (int i = 0; i < a->n_components; i++)
            if (!same_space(&a->components[i], &b->components[i]))
                return 0;
        return 1;
    }
    return 0;
}

/* "FROM cannot be converted to TO: component I: WHY" (the message of the last error). */
static ml_status component_error(const ml_space *from, const ml_space *to, int i)
{
    char a[160], b[160], why[400];
    snprintf(why, sizeof why, "%s", ml_last_error());
    return ml_error(ML_ESHAPE, "%s cannot be converted to %s: component %d: %s", ml_space_describe(from, a, sizeof a),
                    ml_space_describe(to, b, sizeof b), i, why);
}

ml_status ml_space_check_convert(const ml_space *from, const ml_space *to)
{
    char a[160], b[160];
    if (same_space(from, to))
        return ML_OK;
    if (from->kind == ML_SPACE_COMPOSITE && to->kind == ML_SPACE_COMPOSITE) {
        if (from->n_components != to->n_components)
            return ml_error(ML_ESHAPE, "%s cannot be converted to %s: %d components, not %d",
                            ml_space_describe(from, a, sizeof a), ml_space_describe(to, b, sizeof b),
                            from->n_components, to->n_components);
        for (int i = 0; i < from->n_components; i++)
            if (ml_space_check_convert(&from->components[i], &to->components[i]) != ML_OK)
                return component_error(from, to, i);
        return ML_OK;
    }
    if (from->kind == ML_SPACE_COMPOSITE && to->kind == ML_SPACE_VECTOR) {
        /* the concatenation of the components as vectors (index components one-hot) */
        for (int i = 0; i < from->n_components; i++) {
            ml_space part = ml_vector_space(ml_space_vector_size(&from->components[i]));
            if (ml_space_check_convert(&from->components[i], &part) != ML_OK)
                return component_error(from, to, i);
        }
        if (ml_space_vector_size(from) != to->dim)
            return ml_error(ML_ESHAPE, "%s cannot be converted to %s: its components make %lld values as vectors",
                            ml_space_describe(from, a, sizeof a), ml_space_describe(to, b, sizeof b),
                            (long long)ml_space_vector_size(from));
        return ML_OK;
    }
    if (from->kind == ML_SPACE_COMPOSITE || to->kind == ML_SPACE_COMPOSITE)
        return ml_error(ML_ESHAPE, "%s cannot be converted to %s: a CompositeSpace converts only to a "
                        "CompositeSpace of as many components or to a VectorSpace",
                        ml_space_describe(from, a, sizeof a), ml_space_describe(to, b, sizeof b));
    if (is_dense(from) && is_dense(to) && ml_space_size(from) == ml_space_size(to))
        return ML_OK;
    if (from->kind == ML_SPACE_INDEX && to->kind == ML_SPACE_VECTOR && ml_space_vector_size(from) == to->dim)
        return ML_OK;
    return ml_error(ML_ESHAPE, "%s cannot be converted to %s", ml_space_describe(from, a, sizeof a),
                    ml_space_describe(to, b, sizeof b));
}

/* The shape of a batch of B examples of a dense space. */
static int batch_shape(const ml_space *s, int64_t B, int64_t shape[4])
{
    if (s->kind == ML_SPACE_VECTOR) {
        shape[0] = B;
        shape[1] = s->dim;
        return 2;
    }
    int64_t bc01[4] = {B, s->channels, s->rows, s->cols};
    int perm[4];
    ml_axes_from_bc01(s->axes, perm);
    for (int i = 0; i < 4; i++)
        shape[i] = bc01[perm[i]];
    return 4;
}

/* Examples in a batch x of dense space s (the batch axis is last for c,0,1,b). */
static int64_t batch_count(const ml_space *s, const ml_tensor *x)
{
    if (s->kind == ML_SPACE_CONV2D && s->axes == ML_AXES_C01B)
        return x->ndim == 4 ? x->shape[3] : -1;
    return x->ndim >= 1 ? x->shape[0] : -1;
}

ml_status ml_space_convert_tuple(const ml_space *from, const ml_tensor *const *xs, const ml_space *to,
                                 ml_tensor **outs)
{
    if (from->kind != ML_SPACE_COMPOSITE)
        return ml_space_convert(from, xs[0], to, outs);
    ML_TRY(ml_space_check_convert(from, to));
    int n = from->n_components;
    if (to->kind == ML_SPACE_COMPOSITE) {
        for (int i = 0; i < n; i++)
            outs[i] = NULL;
        for (int i = 0; i < n; i++) {
            ml_status st = ml_space_convert_tuple(&from->components[i], xs + i, &to->components[i], outs + i);
            if (st == ML_OK && from->components[i].kind == ML_SPACE_COMPOSITE)
                st = ml_error(ML_EINVAL, "ml_space_convert_tuple: nested CompositeSpaces convert only to a VectorSpace");
            if (st != ML_OK) {
                for (int k = 0; k <= i; k++) {
                    ml_tensor_free(outs[k]);
                    outs[k] = NULL;
                }
                return st;
            }
        }
        return ML_OK;
    }
    /* -> VectorSpace: each component as a vector, side by side */
    ml_tensor *parts[ML_SPACE_MAX_COMPONENTS] = {0};
    ml_status st = n > ML_SPACE_MAX_COMPONENTS
                       ? ml_error(ML_EINVAL, "a CompositeSpace has at most %d components", ML_SPACE_MAX_COMPONENTS)
                       : ML_OK;
    int64_t B = -1;
    for (int i = 0; st == ML_OK && i < n; i++) {
        const ml_space *c = &from->components[i];
        ml_space part = ml_vector_space(ml_space_vector_size(c));
        st = c->kind == ML_SPACE_COMPOSITE ? ml_space_convert_tuple(c, xs + i, &part, &parts[i])
                                           : ml_space_convert(c, xs[i], &part, &parts[i]);
        if (st == ML_OK && B >= 0 && parts[i]->shape[0] != B)
            st = ml_error(ML_ESHAPE, "component %d of the batch has %lld examples, component 0 %lld", i,
                          (long long)parts[i]->shape[0], (long long)B);
        if (st == ML_OK)
            B = parts[i]->shape[0];
    }
    ml_tensor *t = NULL;
    if (st == ML_OK && !(t = ml_tensor_new(ML_F32, 2, (int64_t[]){B < 0 ? 0 : B, to->dim}, ML_CPU)))
        st = ML_ENOMEM;
    for (int64_t b = 0; st == ML_OK && b < B; b++) {
        float *o = ml_tensor_f32(t) + b * to->dim;
        for (int i = 0; i < n; i++) {
            int64_t d = parts[i]->shape[1];
            memcpy(o, ml_tensor_f32(parts[i]) + b * d, (size_t)d * sizeof *o);
            o += d;
        }
    }
    for (int i = 0; i < n && i < ML_SPACE_MAX_COMPONENTS; i++)
        ml_tensor_free(parts[i]);
    if (st != ML_OK) {
        ml_tensor_free(t);
        return st;
    }
    outs[0] = t;
    return ML_OK;
}

ml_status ml_space_convert(const ml_space *from, const ml_tensor *x, const ml_space *to, ml_tensor **out)
{
    if (from->kind == ML_SPACE_COMPOSITE)
        return ml_error(ML_EINVAL, "a batch of a CompositeSpace is a tuple of tensors: use ml_space_convert_tuple");
    ML_TRY(ml_space_check_convert(from, to));
    if (x->device != ML_CPU)
        return ml_error(ML_EDEVICE, "ml_space_convert: the batch is not on the CPU");
    *out = NULL;
    if (from->kind == ML_SPACE_INDEX) {
        if (x->dtype != ML_I32 || !((x->ndim == 2 && x->shape[1] == from->dim) || (x->ndim == 1 && from->dim == 1)))
            return ml_error(ML_ESHAPE, "a batch of IndexSpace(dim=%lld) is int32 [B, %lld]", (long long)from->dim,
                            (long long)from->dim);
        if (to->kind == ML_SPACE_INDEX) {
            *out = ml_tensor_new(ML_I32, x->ndim, x->shape, ML_CPU);
            if (!*out)
                return ML_ENOMEM;
            memcpy(ml_tensor_data(*out), ml_tensor_data(x), (size_t)ml_tensor_numel(x) * 4);
            return ML_OK;
        }
        int64_t B = x->shape[0], K = from->max_labels, D = from->dim;
        ml_tensor *t = ml_tensor_new(ML_F32, 2, (int64_t[]){B, D * K}, ML_CPU);
        if (!t)
            return ML_ENOMEM;
        float *o = ml_tensor_f32(t);
        const int32_t *idx = ml_tensor_i32(x);
        for (int64_t i = 0; i < B * D; i++) {
            if (idx[i] < 0 || idx[i] >= K) {
                ml_tensor_free(t);
                return ml_error(ML_EINVAL, "example %lld has index %d, outside 0..%lld", (long long)(i / D), idx[i],
                                (long long)K - 1);
            }
            o[i * K + idx[i]] = 1.0f;
        }
        *out = t;
        return ML_OK;
    }
    if (!is_dense(from) || x->dtype != ML_F32)
        return ml_error(ML_EINVAL, "ml_space_convert: only float batches of vector and image spaces convert");
    int64_t B = batch_count(from, x), want[4], shape[4];
    int nd = batch_shape(from, B, want);
    if (B < 0 || ml_tensor_numel(x) != B * ml_space_size(from) || (x->ndim == 4 && nd == 4 &&
                                                                    memcmp(x->shape, want, sizeof want) != 0))
        return ml_error(ML_ESHAPE, "the batch's shape does not fit its space");
    /* Into b,c,0,1 order (a flat row of a vector space is one already), then out. */
    int to_nd = batch_shape(to, B, shape);
    ml_tensor *t = ml_tensor_new(ML_F32, to_nd, shape, ML_CPU);
    if (!t)
        return ML_ENOMEM;
    const float *in = ml_tensor_f32(x);
    float *o = ml_tensor_f32(t);
    int64_t n = ml_space_size(from);
    /* The flat b,c,0,1 offset of element (b, f) of `from` and `to`; vector
     * spaces and b,c,0,1 images are the identity, the others are permuted. */
    const ml_space *sp[2] = {from, to};
    int64_t C = 1, H = 1, W = n;
    if (from->kind == ML_SPACE_CONV2D) {
        C = from->channels, H = from->rows, W = from->cols;
    } else if (to->kind == ML_SPACE_CONV2D) {
        C = to->channels, H = to->rows, W = to->cols;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    int64_t off[2];
                    for (int k = 0; k < 2; k++) {
                        const ml_space *s = sp[k];
                        if (s->kind == ML_SPACE_VECTOR || s->axes == ML_AXES_BC01)
                            off[k] = b * n + (c * H + h) * W + w;
                        else if (s->axes == ML_AXES_B01C)
                            off[k] = b * n + (h * W + w) * C + c;
                        else
                            off[k] = ((c * H + h) * W + w) * B + b;
                    }
                    o[off[1]] = in[off[0]];
                }
    *out = t;
    return ML_OK;
}

ml_status ml_space_convert_nodes(ml_graph *g, const ml_space *from, ml_node *const *xs, const ml_space *to,
                                 ml_node **outs)
{
    if (from->kind != ML_SPACE_COMPOSITE)
        return (outs[0] = ml_space_convert_node(g, from, xs[0], to)) ? ML_OK : ML_EINVAL;
    ML_TRY(ml_space_check_convert(from, to));
    int n = from->n_components;
    if (n > ML_SPACE_MAX_COMPONENTS)
        return ml_error(ML_EINVAL, "a CompositeSpace has at most %d components", ML_SPACE_MAX_COMPONENTS);
    if (to->kind == ML_SPACE_COMPOSITE) {
        for (int i = 0; i < n; i++)
            if (from->components[i].kind == ML_SPACE_COMPOSITE)
                return ml_error(ML_EINVAL, "nested CompositeSpaces convert only to a VectorSpace");
            else if (!(outs[i] = ml_space_convert_node(g, &from->components[i], xs[i], &to->components[i])))
                return ML_EINVAL;
        return ML_OK;
    }
    ml_node *parts[ML_SPACE_MAX_COMPONENTS];
    for (int i = 0; i < n; i++) {
        const ml_space *c = &from->components[i];
        ml_space part = ml_vector_space(ml_space_vector_size(c));
        if (c->kind == ML_SPACE_COMPOSITE)
            return ml_error(ML_EINVAL, "nested CompositeSpaces do not convert in graphs");
        if (!(parts[i] = ml_space_convert_node(g, c, xs[i], &part)))
            return ML_EINVAL;
    }
    return (outs[0] = n == 1 ? parts[0] : ml_concat(g, n, parts, 1)) ? ML_OK : ML_EINVAL;
}

ml_node *ml_space_convert_node(ml_graph *g, const ml_space *from, ml_node *x, const ml_space *to)
{
    if (from->kind == ML_SPACE_COMPOSITE) {
        ml_error(ML_EINVAL, "a batch of a CompositeSpace is a tuple of nodes: use ml_space_convert_nodes");
        return NULL;
    }
    if (ml_space_check_convert(from, to) != ML_OK)
        return NULL;
    if (!is_dense(from)) {
        if (same_space(from, to))
            return x;
        ml_error(ML_EINVAL, "index to one-hot conversion is not available in graphs");
        return NULL;
    }
    if (same_space(from, to) && (to->kind != ML_SPACE_CONV2D || x->ndim == 4))
        return x;
    int64_t shape[4];
    int perm[4], inv[4];
    /* from -> b,c,0,1 (or flat rows). */
    if (from->kind == ML_SPACE_CONV2D && from->axes != ML_AXES_BC01) {
        if (x->ndim != 4)
            x = ml_reshape(g, x, 4, (batch_shape(from, ML_BATCH, shape), shape));
        ml_axes_from_bc01(from->axes, perm);
        for (int i = 0; i < 4; i++)
            inv[perm[i]] = i;
        x = ml_transpose(g, x, inv);
    }
    if (!x)
        return NULL;
    if (to->kind == ML_SPACE_VECTOR)
        return x->ndim == 2 ? x : ml_flatten(g, x);
    if (x->ndim != 4)
        x = ml_reshape(g, x, 4, (int64_t[]){ML_BATCH, to->channels, to->rows, to->cols});
    if (x && to->axes != ML_AXES_BC01) {
        ml_axes_from_bc01(to->axes, perm);
        x = ml_transpose(g, x, perm);
    }
    return x;
}
