#include "model/model.h"

#include <math.h>
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "io/h5.h"

static const char *const kind_names[] = {
    [ML_LAYER_LINEAR] = "Linear",   [ML_LAYER_SIGMOID] = "Sigmoid", [ML_LAYER_TANH] = "Tanh",
    [ML_LAYER_RELU] = "RectifiedLinear", [ML_LAYER_SOFTMAX] = "Softmax",
    [ML_LAYER_CONV_RELU] = "ConvRectifiedLinear",
};

const char *ml_layer_kind_name(ml_layer_kind kind)
{
    return kind_names[kind];
}

ml_layer *ml_layer_new(ml_layer_kind kind, const char *name)
{
    ml_layer *l = ml_calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->kind = kind;
    l->name = ml_strdup(name ? name : "");
    l->sparse_stdev = 1.0f;
    l->W_lr_scale = 1.0f;
    l->b_lr_scale = 1.0f;
    l->pool_type = ML_POOL_MAX;
    if (!l->name) {
        ml_free(l);
        return NULL;
    }
    return l;
}

void ml_layer_free(ml_layer *l)
{
    if (!l)
        return;
    ml_tensor_free(l->W);
    ml_tensor_free(l->b);
    ml_free(l->name);
    ml_free(l);
}

ml_model *ml_model_new(void)
{
    return ml_calloc(1, sizeof(ml_model));
}

void ml_model_free(ml_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_layers; i++)
        ml_layer_free(m->layers[i]);
    ml_free(m->layers);
    ml_free(m);
}

ml_status ml_model_add_layer(ml_model *m, ml_layer *l)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i]->name, l->name) == 0)
            return ml_error(ML_EINVAL, "two layers are named '%s'", l->name);
    ml_layer **layers = ml_realloc(m->layers, (size_t)(m->n_layers + 1) * sizeof *layers);
    if (!layers)
        return ML_ENOMEM;
    m->layers = layers;
    m->layers[m->n_layers++] = l;
    return ML_OK;
}

ml_layer *ml_model_find_layer(const ml_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i]->name, name) == 0)
            return m->layers[i];
    return NULL;
}

static int is_dense(const ml_layer *l)
{
    return l->kind != ML_LAYER_CONV_RELU;
}

/* Pylearn2's initialisations: uniform(-irange, irange), normal(0, istdev), or
 * sparse_init non-zero normal(0, sparse_stdev) weights per unit. */
static ml_status init_weights(ml_layer *l, float *w, int64_t n_in, int64_t n_units, int per_column,
                              ml_rng *rng)
{
    int64_t n = n_in * n_units;
    int given = (l->irange > 0) + (l->istdev > 0) + (l->sparse_init > 0);
    if (given > 1)
        return ml_error(ML_EINVAL, "layer '%s': give only one of irange, istdev and sparse_init", l->name);
    if (given == 0) {
        if (l->kind == ML_LAYER_SOFTMAX)
            return ML_OK; /* Pylearn2's Softmax starts from zero weights */
        return ml_error(ML_EINVAL, "layer '%s': give one of irange, istdev and sparse_init", l->name);
    }
    if (l->irange > 0)
        for (int64_t i = 0; i < n; i++)
            w[i] = ml_rng_uniform_range(rng, -l->irange, l->irange);
    else if (l->istdev > 0)
        for (int64_t i = 0; i < n; i++)
            w[i] = ml_rng_normal(rng, 0.0f, l->istdev);
    else {
        if (l->sparse_init > n_in)
            return ml_error(ML_EINVAL, "layer '%s': sparse_init %d exceeds the %lld inputs", l->name,
                            l->sparse_init, (long long)n_in);
        int32_t *chosen = ml_malloc((size_t)n_in * sizeof *chosen);
        if (!chosen)
            return ML_ENOMEM;
        for (int64_t u = 0; u < n_units; u++) {
            ml_rng_permutation(rng, chosen, n_in);
            for (int k = 0; k < l->sparse_init; k++) {
                int64_t i = chosen[k];
                w[per_column ? i * n_units + u : u * n_in + i] = ml_rng_normal(rng, 0.0f, l->sparse_stdev);
            }
        }
        ml_free(chosen);
    }
    return ML_OK;
}

static int64_t conv_out(int64_t size, int kernel, int pad)
{
    return size + 2 * pad - kernel + 1;
}

static int64_t pool_out(int64_t size, int window, int stride)
{
    return (size - window + stride - 1) / stride + 1; /* a partial window at the border is kept */
}

static int border_pad(const ml_layer *l, int axis)
{
    int k = l->kernel_shape[axis];
    switch (l->border_mode) {
    case ML_BORDER_FULL: return k - 1;
    case ML_BORDER_SAME: return (k - 1) / 2;
    default: return 0;
    }
}

static ml_status setup_layer(ml_layer *l, const ml_space *in, ml_rng *rng)
{
    char desc[96];
    l->input = *in;
    ml_tensor_free(l->W);
    ml_tensor_free(l->b);
    l->W = l->b = NULL;
    if (is_dense(l)) {
        if (l->dim < 1)
            return ml_error(ML_EINVAL, "layer '%s': %s needs a positive %s", l->name, kind_names[l->kind],
                            l->kind == ML_LAYER_SOFTMAX ? "n_classes" : "dim");
        int64_t n_in = ml_space_size(in);
        l->output = ml_vector_space(l->dim);
        l->W = ml_tensor_new(ML_F32, 2, (int64_t[]){n_in, l->dim}, ML_CPU);
        l->b = ml_tensor_new(ML_F32, 1, (int64_t[]){l->dim}, ML_CPU);
        if (!l->W || !l->b)
            return ML_ENOMEM;
        ML_TRY(init_weights(l, ml_tensor_f32(l->W), n_in, l->dim, 1, rng));
    } else {
        if (in->kind != ML_SPACE_CONV2D)
            return ml_error(ML_ESHAPE, "layer '%s': a convolution needs images, its input is %s", l->name,
                            ml_space_describe(in, desc, sizeof desc));
        if (l->output_channels < 1 || l->kernel_shape[0] < 1 || l->kernel_shape[1] < 1)
            return ml_error(ML_EINVAL, "layer '%s': needs output_channels and kernel_shape", l->name);
        if (l->border_mode == ML_BORDER_SAME && (l->kernel_shape[0] % 2 == 0 || l->kernel_shape[1] % 2 == 0))
            return ml_error(ML_EINVAL, "layer '%s': border_mode 'same' needs odd kernel sizes", l->name);
        int64_t oh = conv_out(in->rows, l->kernel_shape[0], border_pad(l, 0));
        int64_t ow = conv_out(in->cols, l->kernel_shape[1], border_pad(l, 1));
        if (oh < 1 || ow < 1)
            return ml_error(ML_ESHAPE, "layer '%s': kernel %dx%d is larger than its input %s", l->name,
                            l->kernel_shape[0], l->kernel_shape[1], ml_space_describe(in, desc, sizeof desc));
        l->W = ml_tensor_new(ML_F32, 4,
                             (int64_t[]){l->output_channels, in->channels, l->kernel_shape[0], l->kernel_shape[1]},
                             ML_CPU);
        l->b = l->tied_b ? ml_tensor_new(ML_F32, 1, (int64_t[]){l->output_channels}, ML_CPU)
                         : ml_tensor_new(ML_F32, 3, (int64_t[]){l->output_channels, oh, ow}, ML_CPU);
        if (!l->W || !l->b)
            return ML_ENOMEM;
        ML_TRY(init_weights(l, ml_tensor_f32(l->W), in->channels * l->kernel_shape[0] * l->kernel_shape[1],
                            l->output_channels, 0, rng));
        if (l->pool_shape[0] > 0) {
            int sh = l->pool_stride[0] > 0 ? l->pool_stride[0] : l->pool_shape[0];
            int sw = l->pool_stride[1] > 0 ? l->pool_stride[1] : l->pool_shape[1];
            if (l->pool_shape[0] > oh || l->pool_shape[1] > ow)
                return ml_error(ML_ESHAPE, "layer '%s': pool %dx%d is larger than the %lldx%lld convolution output",
                                l->name, l->pool_shape[0], l->pool_shape[1], (long long)oh, (long long)ow);
            oh = pool_out(oh, l->pool_shape[0], sh);
            ow = pool_out(ow, l->pool_shape[1], sw);
        }
        l->output = ml_conv2d_space(l->output_channels, oh, ow);
    }
    ml_tensor_fill(l->b, l->init_bias);
    return ML_OK;
}

ml_status ml_model_setup(ml_model *m, const ml_space *data_space, ml_rng *rng)
{
    if (m->n_layers == 0)
        return ml_error(ML_EINVAL, "the model has no layers");
    if (!m->has_input_space) {
        if (!data_space)
            return ml_error(ML_EINVAL, "the model gives neither nvis nor input_space");
        m->input_space = *data_space;
        m->has_input_space = 1;
    } else if (data_space && ml_space_size(data_space) != ml_space_size(&m->input_space)) {
        char a[96], b[96];
        return ml_error(ML_ESHAPE, "the model's input is %s, the data's rows are %s",
                        ml_space_describe(&m->input_space, a, sizeof a), ml_space_describe(data_space, b, sizeof b));
    }
    ml_space space = m->input_space;
    for (int i = 0; i < m->n_layers; i++) {
        ml_layer *l = m->layers[i];
        if (l->kind == ML_LAYER_SOFTMAX && i != m->n_layers - 1)
            return ml_error(ML_EINVAL, "layer '%s': Softmax must be the last layer", l->name);
        ML_TRY(setup_layer(l, &space, rng));
        space = l->output;
    }
    m->device = ML_CPU;
    return ML_OK;
}

ml_status ml_model_to_device(ml_model *m, ml_device device)
{
    /* Starting the device's backend registers its memory (and says why it cannot). */
    if (!ml_backend_get(device))
        return ML_EDEVICE;
    for (int i = 0; i < m->n_layers; i++) {
        ml_layer *l = m->layers[i];
        ml_tensor *parts[2] = {l->W, l->b};
        for (int k = 0; k < 2; k++) {
            if (!parts[k] || parts[k]->device == device)
                continue;
            ml_tensor *moved = ml_tensor_to(parts[k], device);
            if (!moved)
                return ML_EDEVICE;
            ml_tensor_free(parts[k]);
            parts[k] = moved;
        }
        l->W = parts[0];
        l->b = parts[1];
    }
    m->device = device;
    return ML_OK;
}

int ml_model_n_params(const ml_model *m)
{
    return 2 * m->n_layers;
}

ml_param ml_model_param(const ml_model *m, int i)
{
    ml_layer *l = m->layers[i / 2];
    int weight = i % 2 == 0;
    ml_param p = {
        .layer = l,
        .name = weight ? "W" : "b",
        .value = weight ? l->W : l->b,
        .node = weight ? l->W_node : l->b_node,
        .lr_scale = weight ? l->W_lr_scale : l->b_lr_scale,
        .max_norm = weight ? (is_dense(l) ? l->max_col_norm : l->max_kernel_norm) : 0.0f,
        .norm_per_slice = !is_dense(l),
        .is_weight = weight,
    };
    return p;
}

int64_t ml_model_n_classes(const ml_model *m)
{
    if (m->n_layers == 0)
        return 0;
    const ml_layer *last = m->layers[m->n_layers - 1];
    return last->kind == ML_LAYER_SOFTMAX ? last->dim : 0;
}

int ml_model_outputs_logits(const ml_model *m)
{
    return ml_model_n_classes(m) > 0;
}

ml_status ml_model_bind(ml_model *m, ml_graph *g)
{
    for (int i = 0; i < m->n_layers; i++) {
        ml_layer *l = m->layers[i];
        if (!l->W)
            return ml_error(ML_EINVAL, "layer '%s' is not set up", l->name);
        l->W_node = ml_shared(g, l->name, l->W);
        l->b_node = ml_shared(g, l->name, l->b);
        if (!l->W_node || !l->b_node)
            return ML_ENOMEM;
    }
    return ML_OK;
}

static void dropout_for(const ml_dropout_spec *d, const char *layer, float *prob, float *scale)
{
    *prob = d->default_include_prob;
    *scale = d->default_scale;
    for (int i = 0; i < d->n; i++) {
        if (strcmp(d->layers[i], layer) != 0)
            continue;
        if (d->include_probs && !isnan(d->include_probs[i]))
            *prob = d->include_probs[i];
        if (d->scales && !isnan(d->scales[i]))
            *scale = d->scales[i];
    }
}

/* A layer's input x (rows [batch, D], or a batch of the layer's input space s)
 * in the layout a layer computes with: flat rows, or b,c,0,1 images (a
 * Conv2DSpace of another axis order is transposed, data/space.h). */
static ml_node *as_space(ml_graph *g, ml_node *x, const ml_space *s, int want_images)
{
    if (want_images) {
        if (x->ndim == 4 && s->kind == ML_SPACE_CONV2D && s->axes != ML_AXES_BC01) {
            ml_space bc01 = ml_conv2d_space(s->channels, s->rows, s->cols);
            return ml_space_convert_node(g, s, x, &bc01);
        }
        return x->ndim == 4 ? x : ml_reshape(g, x, 4, (int64_t[]){ML_BATCH, s->channels, s->rows, s->cols});
    }
    if (x->ndim == 4 && s->kind == ML_SPACE_CONV2D && s->axes != ML_AXES_BC01) {
        ml_space flat = ml_vector_space(ml_space_size(s));
        return ml_space_convert_node(g, s, x, &flat);
    }
    return x->ndim == 2 ? x : ml_flatten(g, x);
}

static ml_node *layer_fprop(ml_layer *l, ml_graph *g, ml_node *x)
{
    if (is_dense(l)) {
        ml_node *z = ml_add(g, ml_matmul(g, as_space(g, x, &l->input, 0), l->W_node, 0, 0),
                            l->b_node);
        switch (l->kind) {
        case ML_LAYER_SIGMOID: return ml_sigmoid(g, z);
        case ML_LAYER_TANH: return ml_tanh(g, z);
        case ML_LAYER_RELU: return ml_relu(g, z);
        default: return z; /* Linear, and Softmax's logits */
        }
    }
    ml_node *b = l->tied_b ? ml_reshape(g, l->b_node, 3, (int64_t[]){l->output_channels, 1, 1}) : l->b_node;
    ml_node *z = ml_conv2d(g, as_space(g, x, &l->input, 1), l->W_node, 1, 1, border_pad(l, 0), border_pad(l, 1));
    ml_node *h = ml_relu(g, ml_add(g, z, b));
    if (l->pool_shape[0] > 0) {
        int sh = l->pool_stride[0] > 0 ? l->pool_stride[0] : l->pool_shape[0];
        int sw = l->pool_stride[1] > 0 ? l->pool_stride[1] : l->pool_shape[1];
        h = ml_pool(g, h, l->pool_type, l->pool_shape[0], l->pool_shape[1], sh, sw, 1);
    }
    return h;
}

ml_node *ml_model_fprop(ml_model *m, ml_graph *g, ml_node *x, const ml_dropout_spec *dropout)
{
    ml_node *h = x;
    /* Rows of dataset files are b,c,0,1 images: a model asking for another
     * axis order gets them transposed (issue 4, data/space.h). */
    const ml_space *in = &m->input_space;
    if (h && h->ndim == 2 && in->kind == ML_SPACE_CONV2D && in->axes != ML_AXES_BC01) {
        ml_space rows = ml_conv2d_space(in->channels, in->rows, in->cols);
        h = ml_space_convert_node(g, &rows, h, in);
    }
    for (int i = 0; i < m->n_layers && h; i++) {
        ml_layer *l = m->layers[i];
        if (dropout) {
            float prob, scale;
            dropout_for(dropout, l->name, &prob, &scale);
            if (prob < 1.0f || scale != 1.0f)
                h = ml_dropout(g, h, prob, scale);
        }
        h = layer_fprop(l, g, h);
    }
    if (!h)
        ml_error_prefix(ML_ESHAPE, "building the model: ");
    return h;
}

ml_status ml_model_write_param_set(const ml_model *m, ml_h5_file *f, const char *group, ml_tensor *const *set)
{
    for (int i = 0; i < ml_model_n_params(m); i++) {
        ml_param p = ml_model_param(m, i);
        char path[256];
        snprintf(path, sizeof path, "%s/%s/%s", group, p.layer->name, p.name);
        ML_TRY(ml_h5_write_tensor(f, path, set ? set[i] : p.value, NULL));
    }
    return ML_OK;
}

ml_status ml_model_read_param_set(ml_model *m, ml_h5_file *f, const char *group, ml_tensor *const *set)
{
    for (int i = 0; i < ml_model_n_params(m); i++) {
        ml_param p = ml_model_param(m, i);
        char path[256];
        snprintf(path, sizeof path, "%s/%s/%s", group, p.layer->name, p.name);
        ML_TRY(ml_h5_read_tensor_into(f, path, set ? set[i] : p.value));
    }
    return ML_OK;
}

ml_status ml_model_write_params(const ml_model *m, ml_h5_file *f)
{
    return ml_model_write_param_set(m, f, "/params", NULL);
}

ml_status ml_model_read_params(ml_model *m, ml_h5_file *f)
{
    return ml_model_read_param_set(m, f, "/params", NULL);
}
