#include "model/cost.h"

#include <string.h>

ml_node *ml_cost_default_of(ml_model *m, ml_graph *g, ml_node *output, ml_node *y)
{
    if (ml_model_outputs_logits(m)) {
        if (y->dtype == ML_F32 && y->ndim == 2 && output->ndim == 2 && y->shape[1] == output->shape[1])
            /* one-hot (or soft) targets: -mean(sum(t * log_softmax(z))) */
            return ml_neg(g, ml_mean(g, ml_sum(g, ml_mul(g, y, ml_log_softmax(g, output)), 1), ML_ALL_AXES));
        if (y->dtype != ML_I32) {
            ml_error(ML_EINVAL, "the Softmax's cost needs class labels or float targets of one column per class");
            return NULL;
        }
        return ml_nll_logsoftmax(g, output, y);
    }
    return ml_squared_error(g, output, y);
}

/* The decay coefficient of layer i: by name when the cost names layers, else by position. */
static int decay_coeff(const ml_cost *c, const ml_model *m, int i, float *coeff)
{
    if (c->coeff_layers) {
        for (int k = 0; k < c->n_coeffs; k++)
            if (strcmp(c->coeff_layers[k], m->layers[i]->name) == 0) {
                *coeff = c->coeffs[k];
                return 1;
            }
        return 0;
    }
    if (i >= c->n_coeffs)
        return 0;
    *coeff = c->coeffs[i];
    return 1;
}

static ml_node *decay(const ml_cost *c, ml_model *m, ml_graph *g)
{
    if (c->coeff_layers)
        for (int k = 0; k < c->n_coeffs; k++)
            if (!ml_model_find_layer(m, c->coeff_layers[k])) {
                ml_error(ML_EINVAL, "%s: no layer '%s' in the model",
                         c->kind == ML_COST_WEIGHT_DECAY ? "WeightDecay" : "L1WeightDecay", c->coeff_layers[k]);
                return NULL;
            }
    if (!c->coeff_layers && c->n_coeffs != m->n_layers) {
        ml_error(ML_EINVAL, "%s has %d coefficients for a model of %d layers",
                 c->kind == ML_COST_WEIGHT_DECAY ? "WeightDecay" : "L1WeightDecay", c->n_coeffs, m->n_layers);
        return NULL;
    }
    ml_node *total = NULL;
    for (int i = 0; i < m->n_layers; i++) {
        float coeff;
        if (!decay_coeff(c, m, i, &coeff) || coeff == 0.0f)
            continue;
        ml_node *w = m->layers[i]->W_node;
        ml_node *term = c->kind == ML_COST_WEIGHT_DECAY ? ml_square(g, w) : ml_abs(g, w);
        term = ml_scale(g, ml_sum(g, term, ML_ALL_AXES), coeff);
        total = total ? ml_add(g, total, term) : term;
    }
    return total ? total : ml_const(g, 0.0f, 0, NULL);
}

ml_node *ml_cost_build(const ml_cost *c, ml_model *m, ml_graph *g, ml_node *x, ml_node *y,
                       ml_node *output)
{
    switch (c->kind) {
    case ML_COST_DEFAULT:
        return ml_cost_default_of(m, g, output ? output : ml_model_fprop(m, g, x, NULL), y);
    case ML_COST_DROPOUT:
        return ml_cost_default_of(m, g, ml_model_fprop(m, g, x, &c->dropout), y);
    case ML_COST_WEIGHT_DECAY:
    case ML_COST_L1_DECAY:
        return decay(c, m, g);
    case ML_COST_SUM: {
        ml_node *total = NULL;
        for (int i = 0; i < c->n_terms; i++) {
            ml_node *term = ml_cost_build(c->terms[i], m, g, x, y, output);
            if (!term)
                return NULL;
            if (c->term_coeffs && c->term_coeffs[i] != 1.0f)
                term = ml_scale(g, term, c->term_coeffs[i]);
            total = total ? ml_add(g, total, term) : term;
        }
        if (!total)
            ml_error(ML_EINVAL, "SumOfCosts has no costs");
        return total;
    }
    }
    return NULL;
}
