/* Learning rules: how SGD turns gradients into parameter updates (Pylearn2's
 * training_algorithms.learning_rule, with yadll's Adam family).
 *
 * A rule is built once into a graph as Theano-style ml_updates on SHARED
 * state tensors allocated once (and, for Momentum and plain steps, the fused
 * in-place ml_momentum_step), so a batch allocates nothing and the same graph
 * runs on every backend.  Host-side values that change between batches (the
 * learning rate, the momentum, Adam's bias corrections, which depend on the
 * step count t) reach the graph through ml_scalar nodes whose floats
 * ml_rule_begin_step() sets before each batch.
 *
 * With lr' = learning_rate * lr_scale of the parameter (W_lr_scale, b_lr_scale),
 * g the gradient, and every state slot starting at zero:
 *
 *   plain      p -= lr' g
 *   Momentum   v = mu v - lr' g;  p += v  (Nesterov: p += mu v - lr' g)
 *   AdaGrad    a += g^2;  p -= lr' g / sqrt(a + epsilon)
 *              (with max_scaling > 0, Pylearn2's form: p -= lr' g / max(sqrt(a), 1/max_scaling))
 *   RMSProp    s = decay s + (1-decay) g^2;  p -= lr' g / max(sqrt(s), 1/max_scaling)
 *   AdaDelta   with eps = lr' (Pylearn2 uses the learning rate as epsilon):
 *              s = decay s + (1-decay) g^2;  d = -sqrt(x + eps) / sqrt(s + eps) g;
 *              x = decay x + (1-decay) d^2;  p += d
 *   Adam       m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *              p -= lr' sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + epsilon)
 *   Adamax     m = b1 m + (1-b1) g;  u = max(b2 u, |g|);  p -= lr'/(1-b1^t) m / (u + epsilon)
 *   Nadam      (Keras's and yadll's form, schedule_decay 0.004)
 *              c_t = b1 (1 - 0.96^(t sd)/2),  c_t1 = b1 (1 - 0.96^((t+1) sd)/2),
 *              S_t = S_{t-1} c_t (S_0 = 1);  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *              mbar = (1-c_t)/(1-S_t) g + c_t1/(1-S_t c_t1) m;
 *              p -= lr' mbar / (sqrt(v/(1-b2^t)) + epsilon)
 *
 * t counts the steps taken (1 at the first batch).
 *
 * State, for saving and restoring training exactly: every tensor the rule
 * keeps is a "slot", named "<layer>/<param>/<slot>" ("h0/W/velocity",
 * "y/b/adam_m"), on the training device; every host value is a "var", a
 * double named "learning_rate", "momentum", "t", "nadam_schedule".  Writing
 * the slots' elements and the vars' values and reading them back into a rule
 * built the same way (same spec, same model) resumes it exactly: a var is read
 * only through ml_rule_begin_step, which derives the graph's floats from them.
 * Slots and vars keep their order and names between builds. */
#ifndef ML_TRAIN_RULES_H
#define ML_TRAIN_RULES_H

#include "graph/graph.h"
#include "model/model.h"

typedef enum {
    ML_RULE_PLAIN = 0, /* no learning_rule: p -= lr' g */
    ML_RULE_MOMENTUM,
    ML_RULE_ADAGRAD,
    ML_RULE_RMSPROP,
    ML_RULE_ADADELTA,
    ML_RULE_ADAM,
    ML_RULE_ADAMAX,
    ML_RULE_NADAM,
} ml_rule_kind;

/* What a learning_rule: component says. */
typedef struct {
    ml_rule_kind kind;
    float init_momentum;  /* Momentum */
    int nesterov;         /* Momentum */
    float decay;          /* RMSProp (0.9), AdaDelta (0.95) */
    float max_scaling;    /* RMSProp (1e5); AdaGrad: 0 = use epsilon */
    float epsilon;        /* AdaGrad (1e-6), Adam, Adamax, Nadam (1e-8) */
    float beta1, beta2;   /* Adam family (0.9, 0.999) */
    float schedule_decay; /* Nadam (0.004) */
} ml_learning_rule;

/* A rule of this kind with its defaults. */
void ml_learning_rule_init(ml_learning_rule *r, ml_rule_kind kind);
const char *ml_rule_kind_name(ml_rule_kind kind); /* "Adam" */

typedef struct ml_rule ml_rule;

/* Allocates the state slots (zero) of every parameter of m on device. */
ml_status ml_rule_new(const ml_learning_rule *spec, const ml_model *m, ml_device device, double learning_rate,
                      ml_rule **out);
void ml_rule_free(ml_rule *r);

/* What one training step does, to pass to ml_fn_spec: the updates of the
 * parameters and slots, and in-place effects (Momentum and plain steps).
 * The arrays belong to the rule (valid until the next build or the free). */
typedef struct {
    int n_updates;
    ml_update *updates;
    int n_effects;
    ml_node **effects;
} ml_rule_step;

/* Adds the step to g, whose parameters m has bound (ml_model_bind), given
 * grads[i] of parameter i.  Max-norm constraints are not part of it; where
 * ml_rule_in_place() is 0, the parameters change by updates, which a function
 * assigns after its effects, so constraints must run in a function called
 * after the step. */
ml_status ml_rule_build(ml_rule *r, ml_graph *g, const ml_model *m, ml_node *const *grads, ml_rule_step *step);
int ml_rule_in_place(const ml_rule *r);

/* Before each batch: t += 1, and the graph's floats from the vars. */
void ml_rule_begin_step(ml_rule *r);

const ml_learning_rule *ml_rule_spec(const ml_rule *r);
int ml_rule_has_momentum(const ml_rule *r); /* Momentum: has a momentum coefficient */
double ml_rule_learning_rate(const ml_rule *r);
void ml_rule_set_learning_rate(ml_rule *r, double lr);
double ml_rule_momentum(const ml_rule *r);
void ml_rule_set_momentum(ml_rule *r, double momentum);
int64_t ml_rule_steps(const ml_rule *r); /* t */

/* ---- state, for saving and restoring (see above) ---- */

typedef struct {
    const char *name;  /* "h0/W/adam_m" */
    ml_tensor *tensor; /* same shape as the parameter, on the training device */
} ml_rule_slot;

typedef struct {
    const char *name; /* "learning_rate", "momentum", "t", "nadam_schedule" */
    double *value;    /* read and write: the rule's own double */
} ml_rule_var;

int ml_rule_n_slots(const ml_rule *r);
ml_rule_slot ml_rule_slot_at(const ml_rule *r, int i);
int ml_rule_n_vars(const ml_rule *r);
ml_rule_var ml_rule_var_at(ml_rule *r, int i);

#endif
