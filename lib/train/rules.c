/* Learning rules built from graph ops as updates on shared state (rules.h). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "train/rules.h"

#define MAX_SLOTS 2 /* per parameter */
#define NAME_SIZE 160

enum { VAR_LR, VAR_MOMENTUM, VAR_T, VAR_NADAM_SCHEDULE, N_VARS };
static const char *const var_names[N_VARS] = {"learning_rate", "momentum", "t", "nadam_schedule"};

struct ml_rule {
    ml_learning_rule spec;
    int n_params, slots_per_param;
    ml_tensor **slots;     /* [n_params * slots_per_param] */
    char (*slot_names)[NAME_SIZE];
    double vars[N_VARS];
    /* Floats the graph's SCALAR nodes read, set by ml_rule_begin_step. */
    float lr_f, momentum_f, c[4];
    ml_update *updates;
    ml_node **effects;
};

void ml_learning_rule_init(ml_learning_rule *r, ml_rule_kind kind)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    switch (kind) {
    case ML_RULE_ADAGRAD:
        r->epsilon = 1e-6f;
        break;
    case ML_RULE_RMSPROP:
        r->decay = 0.9f;
        r->max_scaling = 1e5f;
        break;
    case ML_RULE_ADADELTA:
        r->decay = 0.95f;
        break;
    case ML_RULE_ADAM:
    case ML_RULE_ADAMAX:
    case ML_RULE_NADAM:
        r->beta1 = 0.9f;
        r->beta2 = 0.999f;
        r->epsilon = 1e-8f;
        r->schedule_decay = 0.004f;
        break;
    default:
        break;
    }
}

const char *ml_rule_kind_name(ml_rule_kind kind)
{
    static const char *const names[] = {"plain", "Momentum", "AdaGrad", "RMSProp", "AdaDelta", "Adam", "Adamax", "Nadam"};
    return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

static int slots_of(ml_rule_kind kind, const char *names[MAX_SLOTS])
{
    switch (kind) {
    case ML_RULE_PLAIN:
    case ML_RULE_MOMENTUM:
        names[0] = "velocity";
        return 1;
    case ML_RULE_ADAGRAD:
        names[0] = "sum_square_grad";
        return 1;
    case ML_RULE_RMSPROP:
        names[0] = "mean_square_grad";
        return 1;
    case ML_RULE_ADADELTA:
        names[0] = "mean_square_grad";
        names[1] = "mean_square_dx";
        return 2;
    case ML_RULE_ADAM:
        names[0] = "adam_m";
        names[1] = "adam_v";
        return 2;
    case ML_RULE_ADAMAX:
        names[0] = "adamax_m";
        names[1] = "adamax_u";
        return 2;
    case ML_RULE_NADAM:
        names[0] = "nadam_m";
        names[1] = "nadam_v";
        return 2;
    }
    return 0;
}

ml_status ml_rule_new(const ml_learning_rule *spec, const ml_model *m, ml_device device, double learning_rate,
                      ml_rule **out)
{
    *out = NULL;
    const char *names[MAX_SLOTS];
    int per = slots_of(spec->kind, names);
    if (per == 0)
        return ml_error(ML_EINVAL, "learning rule: unknown kind %d", (int)spec->kind);
    ml_rule *r = ml_calloc(1, sizeof *r);
    if (!r)
        return ML_ENOMEM;
    r->spec = *spec;
    r->n_params = ml_model_n_params(m);
    r->slots_per_param = per;
    int n = r->n_params * per;
    r->slots = ml_calloc((size_t)n + 1, sizeof *r->slots);
    r->slot_names = ml_calloc((size_t)n + 1, sizeof *r->slot_names);
    r->updates = ml_calloc((size_t)r->n_params * (per + 1) + 1, sizeof *r->updates);
    r->effects = ml_calloc((size_t)r->n_params + 1, sizeof *r->effects);
    ml_status st = r->slots && r->slot_names && r->updates && r->effects ? ML_OK : ML_ENOMEM;
    for (int i = 0; st == ML_OK && i < r->n_params; i++) {
        ml_param p = ml_model_param(m, i);
        for (int k = 0; st == ML_OK && k < per; k++) {
            int j = i * per + k;
            snprintf(r->slot_names[j], NAME_SIZE, "%s/%s/%s", p.layer->name, p.name, names[k]);
            r->slots[j] = ml_tensor_new(ML_F32, p.value->ndim, p.value->shape, device);
            if (!r->slots[j])
                st = ML_ENOMEM;
        }
    }
    if (st != ML_OK) {
        ml_rule_free(r);
        return st;
    }
    r->vars[VAR_LR] = learning_rate;
    r->vars[VAR_MOMENTUM] = spec->kind == ML_RULE_MOMENTUM ? spec->init_momentum : 0.0;
    r->vars[VAR_T] = 0;
    r->vars[VAR_NADAM_SCHEDULE] = 1.0;
    r->lr_f = (float)learning_rate;
    r->momentum_f = (float)r->vars[VAR_MOMENTUM];
    *out = r;
    return ML_OK;
}

void ml_rule_free(ml_rule *r)
{
    if (!r)
        return;
    for (int i = 0; r->slots && i < r->n_params * r->slots_per_param; i++)
        ml_tensor_free(r->slots[i]);
    ml_free(r->slots);
    ml_free(r->slot_names);
    ml_free(r->updates);
    ml_free(r->effects);
    ml_free(r);
}

int ml_rule_in_place(const ml_rule *r)
{
    return r->spec.kind == ML_RULE_PLAIN || r->spec.kind == ML_RULE_MOMENTUM;
}

/* b + max(a - b, 0): the elementwise maximum of a and b. */
static ml_node *maximum(ml_graph *g, ml_node *a, ml_node *b)
{
    return ml_add(g, b, ml_relu(g, ml_sub(g, a, b)));
}

/* decay * s + (1 - decay) * x */
static ml_node *moving(ml_graph *g, ml_node *s, ml_node *x, float decay)
{
    return ml_add(g, ml_scale(g, s, decay), ml_scale(g, x, 1.0f - decay));
}

ml_status ml_rule_build(ml_rule *r, ml_graph *g, const ml_model *m, ml_node *const *grads, ml_rule_step *step)
{
    const ml_learning_rule *sp = &r->spec;
    ml_node *lr = ml_scalar(g, "learning_rate", &r->lr_f);
    ml_node *mom = ml_scalar(g, "momentum", &r->momentum_f);
    ml_node *c[4];
    for (int k = 0; k < 4; k++)
        c[k] = ml_scalar(g, "rule_factor", &r->c[k]);
    ml_node *one = ml_const(g, 1.0f, 0, (int64_t[]){1}); /* a 0-d 1: its shape is not read */
    if (!lr || !mom || !c[0] || !c[1] || !c[2] || !c[3] || !one)
        return ML_ENOMEM;
    int nu = 0, ne = 0;
    int per = r->slots_per_param;
    for (int i = 0; i < r->n_params; i++) {
        ml_param p = ml_model_param(m, i);
        ml_node *gr = grads[i], *s[MAX_SLOTS] = {NULL, NULL}, *news[MAX_SLOTS] = {NULL, NULL}, *newp = NULL;
        for (int k = 0; k < per; k++)
            if (!(s[k] = ml_shared(g, r->slot_names[i * per + k], r->slots[i * per + k])))
                return ML_ENOMEM;
        float ls = p.lr_scale;
        switch (sp->kind) {
        case ML_RULE_PLAIN:
        case ML_RULE_MOMENTUM:
            r->effects[ne] = ml_momentum_step(g, p.node, s[0], gr, lr, mom, ls, sp->nesterov);
            if (!r->effects[ne++])
                return ML_EINVAL;
            continue;
        case ML_RULE_ADAGRAD: {
            news[0] = ml_add(g, s[0], ml_square(g, gr));
            ml_node *den = sp->max_scaling > 0 ? ml_clip(g, ml_sqrt(g, news[0]), 1.0f / sp->max_scaling, FLT_MAX)
                                               : ml_sqrt(g, ml_add_scalar(g, news[0], sp->epsilon));
            newp = ml_add(g, p.node, ml_scale_by(g, ml_div(g, gr, den), lr, -ls));
            break;
        }
        case ML_RULE_RMSPROP: {
            news[0] = moving(g, s[0], ml_square(g, gr), sp->decay);
            ml_node *den = ml_clip(g, ml_sqrt(g, news[0]), 1.0f / sp->max_scaling, FLT_MAX);
            newp = ml_add(g, p.node, ml_scale_by(g, ml_div(g, gr, den), lr, -ls));
            break;
        }
        case ML_RULE_ADADELTA: {
            ml_node *eps = ml_scale_by(g, one, lr, ls);
            news[0] = moving(g, s[0], ml_square(g, gr), sp->decay);
            ml_node *rms_dx = ml_sqrt(g, ml_add(g, s[1], eps));
            ml_node *rms_g = ml_sqrt(g, ml_add(g, news[0], eps));
            ml_node *dx = ml_neg(g, ml_mul(g, ml_div(g, rms_dx, rms_g), gr));
            news[1] = moving(g, s[1], ml_square(g, dx), sp->decay);
            newp = ml_add(g, p.node, dx);
            break;
        }
        case ML_RULE_ADAM: /* c[0] = lr sqrt(1-b2^t)/(1-b1^t) */
            news[0] = moving(g, s[0], gr, sp->beta1);
            news[1] = moving(g, s[1], ml_square(g, gr), sp->beta2);
            newp = ml_add(g, p.node,
                          ml_scale_by(g, ml_div(g, news[0], ml_add_scalar(g, ml_sqrt(g, news[1]), sp->epsilon)),
                                      c[0], -ls));
            break;
        case ML_RULE_ADAMAX: /* c[0] = lr/(1-b1^t) */
            news[0] = moving(g, s[0], gr, sp->beta1);
            news[1] = maximum(g, ml_scale(g, s[1], sp->beta2), ml_abs(g, gr));
            newp = ml_add(g, p.node,
                          ml_scale_by(g, ml_div(g, news[0], ml_add_scalar(g, news[1], sp->epsilon)), c[0], -ls));
            break;
        case ML_RULE_NADAM: { /* c[0], c[1]: mbar's factors of g and m; c[2] = 1/(1-b2^t) */
            news[0] = moving(g, s[0], gr, sp->beta1);
            news[1] = moving(g, s[1], ml_square(g, gr), sp->beta2);
            ml_node *mbar = ml_add(g, ml_scale_by(g, gr, c[0], 1.0f), ml_scale_by(g, news[0], c[1], 1.0f));
            ml_node *den = ml_add_scalar(g, ml_sqrt(g, ml_scale_by(g, news[1], c[2], 1.0f)), sp->epsilon);
            newp = ml_add(g, p.node, ml_scale_by(g, ml_div(g, mbar, den), lr, -ls));
            break;
        }
        }
        if (!newp)
            return ML_EINVAL;
        for (int k = 0; k < per; k++) {
            if (!news[k])
                return ML_EINVAL;
            r->updates[nu++] = (ml_update){s[k], news[k]};
        }
        r->updates[nu++] = (ml_update){p.node, newp};
    }
    step->n_updates = nu;
    step->updates = r->updates;
    step->n_effects = ne;
    step->effects = r->effects;
    return ML_OK;
}

void ml_rule_begin_step(ml_rule *r)
{
    const ml_learning_rule *sp = &r->spec;
    double t = r->vars[VAR_T] += 1, lr = r->vars[VAR_LR];
    double b1 = sp->beta1, b2 = sp->beta2;
    r->lr_f = (float)lr;
    r->momentum_f = (float)r->vars[VAR_MOMENTUM];
    switch (sp->kind) {
    case ML_RULE_ADAM:
        r->c[0] = (float)(lr * sqrt(1 - pow(b2, t)) / (1 - pow(b1, t)));
        break;
    case ML_RULE_ADAMAX:
        r->c[0] = (float)(lr / (1 - pow(b1, t)));
        break;
    case ML_RULE_NADAM: {
        double sd = sp->schedule_decay;
        double ct = b1 * (1 - 0.5 * pow(0.96, t * sd)), ct1 = b1 * (1 - 0.5 * pow(0.96, (t + 1) * sd));
        double sched = r->vars[VAR_NADAM_SCHEDULE] * ct;
        r->vars[VAR_NADAM_SCHEDULE] = sched;
        r->c[0] = (float)((1 - ct) / (1 - sched));
        r->c[1] = (float)(ct1 / (1 - sched * ct1));
        r->c[2] = (float)(1 / (1 - pow(b2, t)));
        break;
    }
    default:
        break;
    }
}

const ml_learning_rule *ml_rule_spec(const ml_rule *r) { return &r->spec; }
int ml_rule_has_momentum(const ml_rule *r) { return r->spec.kind == ML_RULE_MOMENTUM; }
double ml_rule_learning_rate(const ml_rule *r) { return r->vars[VAR_LR]; }
double ml_rule_momentum(const ml_rule *r) { return r->vars[VAR_MOMENTUM]; }
int64_t ml_rule_steps(const ml_rule *r) { return (int64_t)r->vars[VAR_T]; }

/* The floats follow at once too, so a change between batches needs no step. */
void ml_rule_set_learning_rate(ml_rule *r, double lr)
{
    r->vars[VAR_LR] = lr;
    r->lr_f = (float)lr;
}

void ml_rule_set_momentum(ml_rule *r, double momentum)
{
    r->vars[VAR_MOMENTUM] = momentum;
    r->momentum_f = (float)momentum;
}

int ml_rule_n_slots(const ml_rule *r) { return r->n_params * r->slots_per_param; }

ml_rule_slot ml_rule_slot_at(const ml_rule *r, int i)
{
    ML_ASSERT(i >= 0 && i < ml_rule_n_slots(r));
    return (ml_rule_slot){r->slot_names[i], r->slots[i]};
}

int ml_rule_n_vars(const ml_rule *r) { return r->spec.kind == ML_RULE_NADAM ? N_VARS : N_VARS - 1; }

ml_rule_var ml_rule_var_at(ml_rule *r, int i)
{
    ML_ASSERT(i >= 0 && i < ml_rule_n_vars(r));
    return (ml_rule_var){var_names[i], &r->vars[i]};
}
