/* Models: Pylearn2's MLP, a stack of layers that owns its parameters and
 * builds expressions.  A layer is configured (from YAML, by the config layer),
 * then ml_model_setup infers every layer's input and output space from the
 * model's input space and draws the initial parameters. */
#ifndef ML_MODEL_MODEL_H
#define ML_MODEL_MODEL_H

#include "core/rng.h"
#include "graph/graph.h"
#include "space/space.h"
#include "tensor/tensor.h"

typedef enum {
    ML_LAYER_LINEAR,
    ML_LAYER_SIGMOID,
    ML_LAYER_TANH,
    ML_LAYER_RELU,
    ML_LAYER_SOFTMAX,
    ML_LAYER_CONV_RELU,
} ml_layer_kind;

typedef enum { ML_BORDER_VALID, ML_BORDER_FULL, ML_BORDER_SAME } ml_border_mode;

typedef struct {
    ml_layer_kind kind;
    char *name;
    /* Dense layers (dim is n_classes for Softmax). */
    int64_t dim;
    float irange, istdev;   /* 0 = not given */
    int sparse_init;        /* non-zero weights per unit; 0 = not given */
    float sparse_stdev;
    float init_bias;
    float W_lr_scale, b_lr_scale;
    float max_col_norm;     /* 0 = unconstrained */
    /* ConvRectifiedLinear. */
    int64_t output_channels;
    int kernel_shape[2];
    int pool_shape[2];      /* 0 = no pooling */
    int pool_stride[2];
    ml_pool_kind pool_type;
    ml_border_mode border_mode;
    float max_kernel_norm;
    int tied_b;
    /* Set up by ml_model_setup. */
    ml_space input, output;
    ml_tensor *W, *b;
    ml_node *W_node, *b_node; /* bound by ml_model_bind */
} ml_layer;

typedef struct {
    int n_layers;
    ml_layer **layers;
    ml_space input_space;
    int has_input_space;    /* given as input_space or nvis */
    ml_device device;
} ml_model;

/* One parameter of a model, as learning rules and files see it. */
typedef struct {
    ml_layer *layer;
    const char *name;      /* "W" or "b" */
    ml_tensor *value;
    ml_node *node;
    float lr_scale;
    float max_norm;        /* 0 = none */
    int norm_per_slice;    /* max_norm over kernels [O, ...] rather than columns */
    int is_weight;         /* weights decay; biases do not */
} ml_param;

/* Layers are created with Pylearn2's defaults and owned by the model once added. */
ml_layer *ml_layer_new(ml_layer_kind kind, const char *name);
void ml_layer_free(ml_layer *l);
const char *ml_layer_kind_name(ml_layer_kind kind);

ml_model *ml_model_new(void);
void ml_model_free(ml_model *m);
ml_status ml_model_add_layer(ml_model *m, ml_layer *l);

/* Infers spaces and draws initial parameters (on the CPU), given the data's
 * space when the model did not fix one.  Errors name the layer. */
ml_status ml_model_setup(ml_model *m, const ml_space *data_space, ml_rng *rng);
/* Moves every parameter to a device. */
ml_status ml_model_to_device(ml_model *m, ml_device device);

int ml_model_n_params(const ml_model *m);
ml_param ml_model_param(const ml_model *m, int i);
int64_t ml_model_n_classes(const ml_model *m); /* the Softmax's classes, or 0 */
ml_layer *ml_model_find_layer(const ml_model *m, const char *name);

/* Creates the SHARED nodes of the parameters in a graph; fprop uses them. */
ml_status ml_model_bind(ml_model *m, ml_graph *g);

/* Dropout on each layer's input, Pylearn2's Dropout cost. */
typedef struct {
    float default_include_prob, default_scale;
    int n;                       /* per-layer overrides */
    const char *const *layers;
    const float *include_probs;  /* NaN = default */
    const float *scales;         /* NaN = default */
} ml_dropout_spec;

/* The expression of the model's output for rows x [batch, D]: the pre-softmax
 * logits when the last layer is Softmax (the costs fuse the softmax), else the
 * last layer's output. */
ml_node *ml_model_fprop(ml_model *m, ml_graph *g, ml_node *x, const ml_dropout_spec *dropout);
int ml_model_outputs_logits(const ml_model *m);

/* Parameters into and out of an HDF5 model file (/params/<layer>/<W|b>). */
struct ml_h5_file;
ml_status ml_model_write_params(const ml_model *m, struct ml_h5_file *f);
ml_status ml_model_read_params(ml_model *m, struct ml_h5_file *f);
/* The same for tensors shaped like the parameters, one per parameter in the
 * model's order (Polyak means), under group/<layer>/<W|b>; set NULL: the
 * parameters themselves. */
ml_status ml_model_write_param_set(const ml_model *m, struct ml_h5_file *f, const char *group,
                                   ml_tensor *const *set);
ml_status ml_model_read_param_set(ml_model *m, struct ml_h5_file *f, const char *group, ml_tensor *const *set);

#endif
