/* Costs: Pylearn2's objectives.  A cost builds a scalar expression of the
 * model's output on a batch (x, y); costs add up (SumOfCosts). */
#ifndef ML_MODEL_COST_H
#define ML_MODEL_COST_H

#include "model/model.h"

typedef enum {
    ML_COST_DEFAULT,      /* the model's own: NLL of the Softmax, squared error otherwise */
    ML_COST_DROPOUT,      /* the default cost of a forward pass with dropout */
    ML_COST_WEIGHT_DECAY, /* sum over layers of coeff * sum(W^2) */
    ML_COST_L1_DECAY,     /* sum over layers of coeff * sum(|W|) */
    ML_COST_SUM,          /* sum of coeff_i * cost_i */
} ml_cost_kind;

typedef struct ml_cost ml_cost;
struct ml_cost {
    ml_cost_kind kind;
    /* DROPOUT */
    ml_dropout_spec dropout;
    /* WEIGHT_DECAY, L1_DECAY: coefficients by layer name, or in layer order when names are NULL */
    int n_coeffs;
    char **coeff_layers;
    float *coeffs;
    /* SUM */
    int n_terms;
    ml_cost **terms;   /* borrowed: owned by whoever built them */
    float *term_coeffs;
};

/* Builds the cost of the model on x [batch, D] and y (int32 labels [batch], or
 * float targets) in g; the model must be bound to g.  `output`, when not NULL,
 * is the model's deterministic output on x already built, which the default
 * cost reuses rather than building a second forward pass.  NULL with the error set. */
ml_node *ml_cost_build(const ml_cost *c, ml_model *m, ml_graph *g, ml_node *x, ml_node *y,
                       ml_node *output);

/* The model's default cost of an output already computed: for a Softmax, the
 * negative log-likelihood of int32 labels [batch], or with float32 targets t
 * [batch, n_classes] (one-hot) the cross-entropy -mean(sum(t * log_softmax(z)));
 * else the squared error. */
ml_node *ml_cost_default_of(ml_model *m, ml_graph *g, ml_node *output, ml_node *y);

#endif
