/* Pylearn2's Train.main_loop with SGD: compile the training step and the
 * monitor once, then run epochs of batches with no allocation per batch. */
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/version.h"
#include "data/feed.h"
#include "train/bgd.h"
#include "train/train.h"

#define ML_MODEL_FORMAT "ml-model"
#define ML_MODEL_FORMAT_VERSION 1

void ml_sgd_init(ml_sgd *sgd)
{
    memset(sgd, 0, sizeof *sgd);
    sgd->iteration = ML_ITER_SHUFFLED_SEQUENTIAL;
    sgd->seed = 20121005; /* Pylearn2's default [2012, 10, 5] */
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ml_status ml_termination_continue(ml_termination *t, const ml_monitor *mon, int64_t epoch, int *go_on)
{
    switch (t->kind) {
    case ML_TERM_EPOCH_COUNTER:
        *go_on = epoch < t->max_epochs;
        return ML_OK;
    case ML_TERM_AND:
    case ML_TERM_OR: {
        int all = 1, any = 0;
        for (int i = 0; i < t->n_criteria; i++) {
            int go = 1;
            ML_TRY(ml_termination_continue(t->criteria[i], mon, epoch, &go));
            all &= go != 0;
            any |= go != 0;
        }
        *go_on = t->kind == ML_TERM_AND ? all : any;
        return ML_OK;
    }
    case ML_TERM_CHANNEL_TARGET:
    case ML_TERM_MONITOR_BASED:
        break;
    }
    const char *what = t->kind == ML_TERM_CHANNEL_TARGET ? "ChannelTarget" : "MonitorBased";
    int c = ml_monitor_find(mon, t->channel_name);
    if (c < 0 || mon->n_records == 0)
        return ml_error(ML_ENOTFOUND, "%s: no channel '%s'", what, t->channel_name);
    double v = ml_monitor_value(mon, mon->n_records - 1, c);
    if (t->kind == ML_TERM_CHANNEL_TARGET) {
        *go_on = !(v <= t->target);
        return ML_OK;
    }
    if (epoch == 0) {
        t->best = INFINITY;
        t->countdown = t->N;
    }
    /* Pylearn2: only an improvement by more than prop_decrease restarts the countdown. */
    if (v < (1.0 - t->prop_decrease) * t->best)
        t->countdown = t->N;
    else
        t->countdown--;
    if (v < t->best)
        t->best = v;
    *go_on = t->countdown > 0;
    return ML_OK;
}

ml_status ml_extension_on_monitor(ml_extension *e, ml_rule *rule)
{
    if (e->kind == ML_EXT_MOMENTUM_ADJUSTOR) {
        if (!ml_rule_has_momentum(rule))
            return ml_error(ML_EINVAL, "MomentumAdjustor: the learning rule is %s, not Momentum",
                            ml_rule_kind_name(ml_rule_spec(rule)->kind));
        if (!e->initialized) {
            e->init_value = ml_rule_momentum(rule);
            e->initialized = 1;
        }
        e->count++;
        double m;
        int64_t w = e->saturate - e->start;
        if (w == 0) {
            m = e->count >= e->start ? e->final_momentum : e->init_value;
        } else {
            double alpha = (double)(e->count - e->start) / (double)w;
            alpha = alpha < 0 ? 0 : alpha > 1 ? 1 : alpha;
            m = e->init_value * (1 - alpha) + alpha * e->final_momentum;
        }
        ml_rule_set_momentum(rule, (float)m);
    } else if (e->kind == ML_EXT_LINEAR_DECAY_OVER_EPOCH) {
        if (!e->initialized) {
            e->init_value = ml_rule_learning_rate(rule);
            e->step = (e->init_value - e->init_value * e->decay_factor) / (double)(e->saturate - e->start + 1);
            e->initialized = 1;
        }
        e->count++;
        double lr = e->init_value;
        if (e->count >= e->start)
            lr = e->count < e->saturate ? e->init_value - e->step * (double)(e->count - e->start + 1)
                                        : e->init_value * e->decay_factor;
        ml_rule_set_learning_rate(rule, (float)lr);
    }
    return ML_OK;
}

void ml_extension_on_batch(ml_extension *e, ml_rule *rule)
{
    if (e->kind != ML_EXT_EXPONENTIAL_DECAY)
        return;
    if (e->count == 0)
        e->init_value = ml_rule_learning_rate(rule);
    e->count++;
    double lr = e->min_lr;
    if (!e->min_reached) {
        lr = e->init_value / pow(e->decay_factor, (double)e->count);
        if (lr <= e->min_lr) {
            e->min_reached = 1;
            lr = e->min_lr;
        }
    }
    ml_rule_set_learning_rate(rule, (float)lr);
}

/* Polyak averages of the parameters, in the model's parameter order. */
typedef struct {
    ml_tensor **params;
    int64_t start, steps; /* the epoch averaging started after, the batches averaged */
} averaged_params;

typedef ml_status (*state_writer)(const void *state, ml_h5_file *f);

static ml_status model_save(const char *path, const ml_model *m, const ml_model_meta *meta, const ml_monitor *mon,
                            const averaged_params *avg, state_writer write_state, const void *state)
{
    ml_h5_file *f;
    ML_TRY(ml_h5_create(path, &f));
    ml_status st = ml_h5_attr_write_str(f, "/", "ml_format", ML_MODEL_FORMAT);
    if (st == ML_OK)
        st = ml_h5_attr_write_i64(f, "/", "ml_format_version", ML_MODEL_FORMAT_VERSION);
    if (st == ML_OK)
        st = ml_h5_attr_write_str(f, "/", "ml_version", ML_VERSION);
    const char **names = ml_malloc((size_t)(m->n_layers + 1) * sizeof *names);
    if (!names)
        st = ML_ENOMEM;
    for (int i = 0; st == ML_OK && i < m->n_layers; i++)
        names[i] = m->layers[i]->name;
    if (st == ML_OK)
        st = ml_h5_attr_write_str_array(f, "/", "layer_names", names, m->n_layers);
    ml_free(names);
    const ml_space *in = &m->input_space;
    int64_t shape[3] = {in->channels, in->rows, in->cols};
    if (in->kind == ML_SPACE_VECTOR)
        shape[0] = in->dim;
    if (st == ML_OK)
        st = ml_h5_attr_write_i64_array(f, "/", "input_shape", shape, in->kind == ML_SPACE_VECTOR ? 1 : 3);
    if (st == ML_OK)
        st = ml_h5_attr_write_i64(f, "/", "n_classes", ml_model_n_classes(m));
    if (st == ML_OK && meta && meta->model_spec)
        st = ml_h5_write_text(f, "/model_spec", meta->model_spec);
    if (st == ML_OK && meta && meta->experiment)
        st = ml_h5_write_text(f, "/experiment", meta->experiment);
    if (st == ML_OK && meta && meta->command)
        st = ml_h5_attr_write_str(f, "/", "command", meta->command);
    if (st == ML_OK)
        st = ml_model_write_params(m, f);
    if (st == ML_OK && mon)
        st = ml_monitor_write(mon, f);
    if (st == ML_OK && avg)
        st = ml_model_write_param_set(m, f, "/params_averaged", avg->params);
    if (st == ML_OK && avg)
        st = ml_h5_attr_write_i64(f, "/params_averaged", "start_epoch", avg->start);
    if (st == ML_OK && avg)
        st = ml_h5_attr_write_i64(f, "/params_averaged", "steps", avg->steps);
    if (st == ML_OK && write_state)
        st = write_state(state, f);
    if (st == ML_OK)
        st = ml_h5_commit(f);
    ml_h5_close(f);
    return st;
}

ml_status ml_model_save(const char *path, const ml_model *m, const ml_model_meta *meta, const ml_monitor *mon)
{
    return model_save(path, m, meta, mon, NULL, NULL, NULL);
}

ml_status ml_model_file_info(ml_h5_file *f, char **model_spec, ml_space *input_space)
{
    char *format = NULL;
    ml_status st = ml_h5_attr_read_str(f, "/", "ml_format", &format);
    if (st != ML_OK || strcmp(format, ML_MODEL_FORMAT) != 0) {
        st = ml_error(ML_EFORMAT, "%s: not an ml model file (ml_format is '%s')", ml_h5_file_name(f),
                      format ? format : "absent");
        ml_free(format);
        return st;
    }
    ml_free(format);
    int64_t version = 0;
    ML_TRY(ml_h5_attr_read_i64(f, "/", "ml_format_version", &version));
    if (version > ML_MODEL_FORMAT_VERSION)
        return ml_error(ML_EFORMAT, "%s: model format version %lld is newer than this program's %d",
                        ml_h5_file_name(f), (long long)version, ML_MODEL_FORMAT_VERSION);
    int64_t *shape = NULL, n = 0;
    ML_TRY(ml_h5_attr_read_i64_array(f, "/", "input_shape", &shape, &n));
    if (n == 1)
        *input_space = ml_vector_space(shape[0]);
    else if (n == 3)
        *input_space = ml_conv2d_space(shape[0], shape[1], shape[2]);
    ml_free(shape);
    if (n != 1 && n != 3)
        return ml_error(ML_EFORMAT, "%s: input_shape has %lld entries, expected 1 or 3", ml_h5_file_name(f),
                        (long long)n);
    return ml_h5_read_text(f, "/model_spec", model_spec);
}

/* ---- the training run ---- */

typedef struct {
    ml_train *t;
    const ml_train_opts *opts;
    ml_model *m;
    ml_sgd *sgd;
    ml_graph *g;
    ml_fn *train_fn, *monitor_fn;
    /* The monitor function sums each monitored mean times its batch's rows on
     * its own device, so a monitoring pass reads three numbers once, not per batch. */
    ml_tensor *monitor_sums[3];
    float monitor_batch_rows;
    ml_bgd_run *bgd; /* BGD's functions and buffers (bgd.c); NULL with SGD */
    int in_epoch;    /* an epoch is under way (saved by a signal between its batches) */
    ml_tensor *nonfinite; /* off the CPU: the watch's flag (batch, 1 NaN / 2 Inf) */
    float batch_number;   /* of the batch being trained, for the watch */
    ml_fn *constrain_fn;  /* max-norm constraints after a step made of updates */
    ml_fn *average_fn;    /* PolyakAveraging's running mean, after the constraints */
    ml_rule *rule;
    averaged_params avg;
    int averaging;        /* PolyakAveraging has started */
    float avg_rate;       /* 1/t of the running mean */
    int classification;
    ml_dataset *train_data; /* on the training device */
    ml_dataset **monitor_data;
    ml_feed *feed;          /* the training batches */
    ml_feed **monitor_feed; /* each monitoring dataset's, sequential */
    ml_monitor *mon;
    int64_t epoch, batches, examples;
    double train_seconds, epoch_seconds, epoch_train_seconds;
} run_state;

static ml_status build_functions(run_state *s)
{
    ml_model *m = s->m;
    ml_sgd *sgd = s->sgd;
    ml_graph *g = s->g = ml_graph_new();
    if (!g)
        return ML_ENOMEM;
    ML_TRY(ml_model_bind(m, g));
    const ml_dataset *d = s->t->dataset;
    int64_t d_in = ml_dataset_n_features(d);
    ml_node *x = ml_input(g, "X", ML_F32, 2, (int64_t[]){ML_BATCH, d_in});
    ml_node *y = s->classification && d->y->dtype == ML_I32 ? ml_input(g, "y", ML_I32, 1, (int64_t[]){ML_BATCH})
                                   : ml_input(g, "y", ML_F32, 2, (int64_t[]){ML_BATCH, d->y->shape[1]});
    ml_node *output = ml_model_fprop(m, g, x, NULL);
    if (!output)
        return ML_ESHAPE;
    ml_cost default_cost = {.kind = ML_COST_DEFAULT};
    ml_node *cost = ml_cost_build(sgd->cost ? sgd->cost : &default_cost, m, g, x, y, output);
    if (!cost)
        return ML_EINVAL;
    int n_params = ml_model_n_params(m);
    ml_node **params = ml_calloc((size_t)n_params * 5 + 2, sizeof *params);
    if (!params)
        return ML_ENOMEM;
    ml_node **grads = params + n_params, **effects = params + 2 * n_params, **constraints = params + 4 * n_params + 1;
    int n_effects = 0;
    for (int i = 0; i < n_params; i++)
        params[i] = ml_model_param(m, i).node;
    ml_status st = ml_grad(g, cost, n_params, params, grads);
    ml_rule_step step = {0};
    if (st == ML_OK)
        st = ml_rule_new(&sgd->rule, m, s->opts->device, sgd->learning_rate, &s->rule);
    if (st == ML_OK)
        st = ml_rule_build(s->rule, g, m, grads, &step);
    for (int i = 0; st == ML_OK && i < step.n_effects; i++)
        effects[n_effects++] = step.effects[i];
    /* Constraints: in the step's function after in-place steps, else in a
     * function of their own called after it (updates are assigned last). */
    int in_place = st == ML_OK && ml_rule_in_place(s->rule), n_constraints = 0;
    for (int i = 0; st == ML_OK && i < n_params; i++) {
        ml_param p = ml_model_param(m, i);
        if (p.max_norm <= 0)
            continue;
        ml_node *c = ml_max_norm(g, p.node, p.max_norm, p.norm_per_slice);
        if (!c)
            st = ML_EINVAL;
        else if (in_place)
            effects[n_effects++] = c;
        else
            constraints[n_constraints++] = c;
    }
    /* Off the CPU the objective stays on the device: a watch records the first
     * batch whose objective is not finite, read once an epoch. */
    if (st == ML_OK && s->opts->device != ML_CPU) {
        if (!(s->nonfinite = ml_tensor_new(ML_F32, 1, (int64_t[]){2}, s->opts->device)) ||
            ml_tensor_zero(s->nonfinite) != ML_OK)
            st = ML_ENOMEM;
        ml_node *watch = st == ML_OK ? ml_nonfinite_watch(g, cost, ml_shared(g, "nonfinite", s->nonfinite),
                                                          ml_scalar(g, "batch_number", &s->batch_number))
                                     : NULL;
        if (st == ML_OK && !watch)
            st = ML_EINVAL;
        if (st == ML_OK)
            effects[n_effects++] = watch;
    }
    ml_node *inputs[2] = {x, y};
    ml_node *monitored[3] = {cost, NULL, NULL};
    int n_monitored = 1;
    if (s->classification) {
        monitored[n_monitored++] = ml_cost_default_of(m, g, output, y);
        monitored[n_monitored++] = ml_misclass(g, output, y);
    }
    if (st == ML_OK && !s->t->bgd) {
        ml_fn_spec train = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &cost,
                            .n_updates = step.n_updates, .updates = step.updates, .n_effects = n_effects,
                            .effects = effects, .max_batch = sgd->batch_size, .device = s->opts->device,
                            .seed = sgd->seed};
        st = ml_fn_compile(g, &train, &s->train_fn);
    }
    if (st == ML_OK && n_constraints > 0) {
        ml_fn_spec constrain = {.n_effects = n_constraints, .effects = constraints, .max_batch = 1,
                                .device = s->opts->device};
        st = ml_fn_compile(g, &constrain, &s->constrain_fn);
    }
    if (st == ML_OK && s->avg.params) {
        /* mean -= (mean - param) / t, Pylearn2's _PolyakWorker */
        ml_update *avg = ml_calloc((size_t)n_params + 1, sizeof *avg);
        ml_node *rate = ml_scalar(g, "polyak_rate", &s->avg_rate);
        st = avg && rate ? ML_OK : ML_ENOMEM;
        for (int i = 0; st == ML_OK && i < n_params; i++) {
            ml_node *mean = ml_shared(g, "polyak_mean", s->avg.params[i]);
            avg[i] = (ml_update){mean, ml_sub(g, mean, ml_scale_by(g, ml_sub(g, mean, params[i]), rate, 1.0f))};
            if (!avg[i].value)
                st = ML_EINVAL;
        }
        if (st == ML_OK) {
            ml_fn_spec average = {.n_updates = n_params, .updates = avg, .max_batch = 1, .device = s->opts->device};
            st = ml_fn_compile(g, &average, &s->average_fn);
        }
        ml_free(avg);
    }
    if (st == ML_OK) {
        int64_t mb = sgd->monitoring_batch_size > 0 ? sgd->monitoring_batch_size : sgd->batch_size;
        ml_node *rows = ml_scalar(g, "monitor_batch_rows", &s->monitor_batch_rows);
        ml_update sums[3];
        for (int k = 0; st == ML_OK && k < n_monitored; k++) {
            ml_node *sum = NULL;
            if ((s->monitor_sums[k] = ml_tensor_new(ML_F32, monitored[k]->ndim, monitored[k]->shape, s->opts->device)))
                sum = ml_shared(g, "monitor_sum", s->monitor_sums[k]);
            sums[k] = (ml_update){sum, sum && rows ? ml_add(g, sum, ml_scale_by(g, monitored[k], rows, 1.0f)) : NULL};
            if (!sums[k].value)
                st = ML_ENOMEM;
        }
        ml_fn_spec monitor = {.n_inputs = 2, .inputs = inputs, .n_updates = n_monitored, .updates = sums,
                              .max_batch = mb, .device = s->opts->device, .seed = sgd->seed + 1};
        if (st == ML_OK)
            st = ml_fn_compile(g, &monitor, &s->monitor_fn);
    }
    ml_free(params);
    return st;
}

/* Mean of each monitored value over a whole dataset, batch by batch. */
static ml_status monitor_dataset(run_state *s, const ml_monitoring_dataset *set, ml_feed *feed)
{
    int n_out = s->classification ? 3 : 1;
    int64_t n = 0;
    for (int k = 0; k < n_out; k++)
        ML_TRY(ml_tensor_zero(s->monitor_sums[k]));
    ML_TRY(ml_feed_begin_epoch(feed));
    for (;;) {
        ml_tensor *in[2];
        int more;
        ML_TRY(ml_feed_next(feed, &in[0], &in[1], &more));
        if (!more)
            break;
        s->monitor_batch_rows = (float)in[0]->shape[0];
        ML_TRY(ml_fn_call(s->monitor_fn, in));
        n += in[0]->shape[0];
    }
    double sums[3];
    for (int k = 0; k < n_out; k++) {
        float v;
        ML_TRY(ml_tensor_read_f32(s->monitor_sums[k], 0, &v));
        sums[k] = v;
    }
    const char *suffix[3] = {"objective", "y_nll", "y_misclass"};
    for (int k = 0; k < n_out; k++) {
        char name[256];
        /* One unnamed monitoring dataset gives channels without a prefix, as in Pylearn2. */
        snprintf(name, sizeof name, "%s%s%s", set->name, set->name[0] ? "_" : "", suffix[k]);
        int c = ml_monitor_channel(s->mon, name);
        if (c < 0)
            return ML_ENOMEM;
        ml_monitor_set(s->mon, c, n > 0 ? sums[k] / (double)n : NAN);
    }
    return ML_OK;
}

static ml_status set_channel(ml_monitor *mon, const char *name, double value)
{
    int c = ml_monitor_channel(mon, name);
    if (c < 0)
        return ML_ENOMEM;
    ml_monitor_set(mon, c, value);
    return ML_OK;
}

/* Norms of each unit's weights: columns of dense layers, kernels of convolutions. */
static ml_status weight_norm_channels(run_state *s)
{
    for (int i = 0; i < s->m->n_layers; i++) {
        ml_layer *l = s->m->layers[i];
        ml_tensor *w = l->W->device == ML_CPU ? l->W : ml_tensor_to(l->W, ML_CPU);
        if (!w)
            return ML_EDEVICE;
        const float *p = ml_tensor_f32(w);
        int dense = l->kind != ML_LAYER_CONV_RELU;
        int64_t units = dense ? w->shape[1] : w->shape[0];
        int64_t size = ml_tensor_numel(w) / (units ? units : 1);
        double lo = INFINITY, hi = 0, sum = 0;
        for (int64_t u = 0; u < units; u++) {
            double sq = 0;
            for (int64_t k = 0; k < size; k++) {
                double v = dense ? p[k * units + u] : p[u * size + k];
                sq += v * v;
            }
            double norm = sqrt(sq);
            lo = norm < lo ? norm : lo;
            hi = norm > hi ? norm : hi;
            sum += norm;
        }
        if (w != l->W)
            ml_tensor_free(w);
        const char *what = dense ? "col_norms" : "kernel_norms";
        char name[256];
        snprintf(name, sizeof name, "%s_%s_min", l->name, what);
        ML_TRY(set_channel(s->mon, name, lo));
        snprintf(name, sizeof name, "%s_%s_mean", l->name, what);
        ML_TRY(set_channel(s->mon, name, units ? sum / (double)units : 0));
        snprintf(name, sizeof name, "%s_%s_max", l->name, what);
        ML_TRY(set_channel(s->mon, name, hi));
    }
    return ML_OK;
}

static ml_status run_monitor(run_state *s)
{
    ML_TRY(ml_monitor_begin_record(s->mon, s->epoch, s->batches, s->examples, s->train_seconds));
    for (int i = 0; i < s->sgd->n_monitor; i++)
        ML_TRY(monitor_dataset(s, &s->sgd->monitor[i], s->monitor_feed[i]));
    if (s->bgd)
        ML_TRY(set_channel(s->mon, "alpha", ml_bgd_run_stats(s->bgd)->alpha));
    else
        ML_TRY(set_channel(s->mon, "learning_rate", ml_rule_learning_rate(s->rule)));
    if (!s->bgd && ml_rule_has_momentum(s->rule))
        ML_TRY(set_channel(s->mon, "momentum", ml_rule_momentum(s->rule)));
    ML_TRY(set_channel(s->mon, "total_seconds_last_epoch", s->epoch_seconds));
    ML_TRY(set_channel(s->mon, "training_seconds_this_epoch", s->epoch_train_seconds));
    ML_TRY(weight_norm_channels(s));
    if (s->opts->on_record)
        s->opts->on_record(s->mon, s->opts->user);
    return ML_OK;
}

static ml_status write_train_state(const void *state, ml_h5_file *f);

static ml_status save_model(run_state *s, const char *path)
{
    double t0 = seconds_now();
    ml_status st = model_save(path, s->m, &s->opts->meta, s->mon, s->averaging ? &s->avg : NULL,
                              write_train_state, s);
    if (st == ML_OK)
        ml_info("%s: saved after epoch %lld in %.1f ms", path, (long long)s->epoch, (seconds_now() - t0) * 1e3);
    if (st != ML_OK)
        return ml_error_prefix(st, "saving after epoch %lld: ", (long long)s->epoch);
    return ML_OK;
}

/* PolyakAveraging starts: the running mean from the current parameters. */
static ml_status start_averaging(run_state *s, int64_t start)
{
    for (int i = 0; i < ml_model_n_params(s->m); i++)
        ML_TRY(ml_tensor_copy(s->avg.params[i], ml_model_param(s->m, i).value));
    s->averaging = 1;
    s->avg.start = start;
    s->avg.steps = 0;
    return ML_OK;
}

/* After each monitor record, in the order the experiment lists them (Pylearn2's on_monitor). */
static ml_status run_extensions(run_state *s)
{
    for (int i = 0; i < s->t->n_extensions; i++) {
        ml_extension *e = s->t->extensions[i];
        if (e->kind == ML_EXT_SAVE_BEST) {
            int c = ml_monitor_find(s->mon, e->channel_name);
            if (c < 0)
                return ml_error(ML_ENOTFOUND, "MonitorBasedSaveBest: no channel '%s'", e->channel_name);
            double v = ml_monitor_value(s->mon, s->mon->n_records - 1, c);
            if (s->epoch == 0 || v < e->best) {
                e->best = v;
                ML_TRY(save_model(s, e->save_path));
            }
        } else if (e->kind == ML_EXT_POLYAK_AVERAGING) {
            if (e->count == e->start && !s->averaging)
                ML_TRY(start_averaging(s, s->epoch));
            e->count++;
        } else {
            ML_TRY(ml_extension_on_monitor(e, s->rule));
        }
    }
    return ML_OK;
}

/* After each batch: constraints, the Polyak mean, then the update callbacks. */
static ml_status after_batch(run_state *s)
{
    if (s->constrain_fn)
        ML_TRY(ml_fn_call(s->constrain_fn, NULL));
    if (s->averaging) {
        s->avg.steps++;
        s->avg_rate = (float)(1.0 / (double)s->avg.steps);
        ML_TRY(ml_fn_call(s->average_fn, NULL));
    }
    for (int i = 0; i < s->sgd->n_update_callbacks; i++)
        ml_extension_on_batch(s->sgd->update_callbacks[i], s->rule);
    for (int i = 0; i < s->t->n_extensions; i++)
        ml_extension_on_batch(s->t->extensions[i], s->rule);
    return ML_OK;
}

static ml_status diverged(const run_state *s, int64_t batch, int nan)
{
    return ml_error(ML_ENUMERIC, "epoch %lld, batch %lld: the objective is %s", (long long)s->epoch + 1,
                    (long long)batch, nan ? "NaN" : "infinite");
}

/* One epoch of batches, as the feed delivers them (data/feed.h). */
static ml_status train_epoch(run_state *s)
{
    ML_TRY(ml_feed_begin_epoch(s->feed));
    ml_feed_position at; /* a resumed epoch starts after the batches it had trained */
    ml_feed_position_get(s->feed, &at);
    for (int64_t k = at.batch + 1;; k++) {
        ml_tensor *in[2];
        int more;
        ML_TRY(ml_feed_next(s->feed, &in[0], &in[1], &more));
        if (!more)
            break;
        int64_t count = in[0]->shape[0];
        ml_rule_begin_step(s->rule);
        s->batch_number = (float)k;
        ML_TRY(ml_fn_call(s->train_fn, in));
        ML_TRY(after_batch(s));
        s->batches++;
        s->examples += count;
        if (!s->nonfinite) { /* on the CPU the objective is at hand: stop at once */
            float cost;
            ML_TRY(ml_tensor_read_f32(ml_fn_output(s->train_fn, 0), 0, &cost));
            if (!isfinite(cost))
                return diverged(s, k, isnan(cost));
        }
        if (s->opts->stop && *s->opts->stop)
            break;
    }
    if (s->nonfinite) {
        float batch, kind;
        ML_TRY(ml_tensor_read_f32(s->nonfinite, 0, &batch));
        ML_TRY(ml_tensor_read_f32(s->nonfinite, 1, &kind));
        if (batch != 0)
            return diverged(s, (int64_t)batch, kind == 1);
    }
    return s->opts->stop && *s->opts->stop ? ML_EINTR : ML_OK;
}

static ml_status check_data(const ml_train *t, const ml_dataset *d, const char *role)
{
    if (!d->y)
        return ml_error(ML_EINVAL, "%s: the %s dataset has no targets y", d->name, role);
    int64_t classes = ml_model_n_classes(t->model);
    const ml_tensor *ty = t->dataset->y;
    if (classes > 0 && d != t->dataset && ty && ty->dtype != d->y->dtype)
        return ml_error(ML_EINVAL, "%s: the %s targets are %s, the training targets %s: give one_hot to every "
                        "dataset or to none", d->name, role, d->y->dtype == ML_F32 ? "one-hot" : "class labels",
                        ty->dtype == ML_F32 ? "one-hot" : "class labels");
    if (classes > 0 && d->y->dtype == ML_F32) {
        /* one-hot targets (MNIST's one_hot): one column per class of the Softmax */
        if (d->y->ndim != 2 || d->y->shape[1] != classes)
            return ml_error(ML_ESHAPE, "%s: the model is a classifier of %lld classes, the %s targets are neither "
                            "class labels nor float rows of %lld values (one-hot)", d->name, (long long)classes,
                            role, (long long)classes);
    } else if (classes > 0) {
        if (d->y->dtype != ML_I32)
            return ml_error(ML_EINVAL, "%s: the model is a classifier, the %s targets are not class labels",
                            d->name, role);
        if (d->n_classes > classes)
            return ml_error(ML_ESHAPE, "%s: the %s data has %d classes, the model's Softmax %lld", d->name, role,
                            d->n_classes, (long long)classes);
        const int32_t *y = ml_tensor_i32(d->y);
        for (int64_t i = 0; i < d->y->shape[0]; i++)
            if (y[i] < 0 || y[i] >= classes)
                return ml_error(ML_ESHAPE, "%s:/y: row %lld has label %d, outside the model's 0..%lld", d->name,
                                (long long)i, y[i], (long long)classes - 1);
    }
    if (ml_dataset_n_features(d) != ml_space_size(&t->model->input_space)) {
        char sp[96];
        return ml_error(ML_ESHAPE, "%s: rows of %lld values do not fit the model's input %s", d->name,
                        (long long)ml_dataset_n_features(d),
                        ml_space_describe(&t->model->input_space, sp, sizeof sp));
    }
    return ML_OK;
}

static ml_dataset *on_device(const ml_dataset *d, ml_device device, ml_status *st)
{
    ml_dataset *view = NULL;
    *st = ml_dataset_view_rows(d, 0, ml_dataset_n_examples(d), &view);
    if (*st != ML_OK || device == ML_CPU || !view->X)
        return view; /* a streamed X comes to the device batch by batch */
    ml_tensor *x = ml_tensor_to(view->X, device), *y = ml_tensor_to(view->y, device);
    if (!x || !y) {
        ml_tensor_free(x);
        ml_tensor_free(y);
        ml_dataset_free(view);
        *st = ML_EDEVICE;
        return NULL;
    }
    ml_tensor_free(view->X);
    ml_tensor_free(view->y);
    view->X = x;
    view->y = y;
    return view;
}

/* ---- the training state: what ml-train --resume needs (ml-files(5), /train_state) ---- */

#define TRAIN_STATE "/train_state"

/* The criteria of a tree (And, Or) in depth-first order. */
static int flatten_criteria(ml_termination *t, ml_termination **out, int n, int max)
{
    if (!t || n >= max)
        return n;
    out[n++] = t;
    for (int i = 0; i < t->n_criteria; i++)
        n = flatten_criteria(t->criteria[i], out, n, max);
    return n;
}

#define MAX_CRITERIA 64
#define EXTENSION_STATE 6 /* best, count, initialized, init_value, step, min_reached */

/* SGD's part: the feed's position, the dropout stream, the learning rule. */
static ml_status write_sgd_state(const run_state *s, ml_h5_file *f)
{
    ml_feed_position pos;
    ml_feed_position_get(s->feed, &pos);
    ML_TRY(ml_h5_write_rng_state(f, TRAIN_STATE "/order_rng", pos.rng));
    ML_TRY(ml_h5_attr_write_i64(f, TRAIN_STATE, "epoch_batches_done", pos.batch));
    ML_TRY(ml_h5_write_rng(f, TRAIN_STATE "/dropout_rng", ml_fn_rng(s->train_fn)));
    ML_TRY(ml_h5_create_group(f, TRAIN_STATE "/rule"));
    for (int i = 0; i < ml_rule_n_slots(s->rule); i++) {
        ml_rule_slot slot = ml_rule_slot_at(s->rule, i);
        char path[512];
        snprintf(path, sizeof path, TRAIN_STATE "/rule/%s", slot.name);
        ML_TRY(ml_h5_write_tensor(f, path, slot.tensor, NULL));
    }
    for (int i = 0; i < ml_rule_n_vars(s->rule); i++) {
        ml_rule_var v = ml_rule_var_at((ml_rule *)s->rule, i);
        ML_TRY(ml_h5_attr_write_f64(f, TRAIN_STATE "/rule", v.name, *v.value));
    }
    /* The experiment's rate, to tell on resume whether the experiment now gives another. */
    return ml_h5_attr_write_f64(f, TRAIN_STATE "/rule", "configured_learning_rate", s->sgd->learning_rate);
}

static ml_status write_train_state(const void *state, ml_h5_file *f)
{
    const run_state *s = state;
    ML_TRY(ml_h5_create_group(f, TRAIN_STATE));
    ML_TRY(ml_h5_attr_write_i64(f, TRAIN_STATE, "epoch", s->epoch));
    ML_TRY(ml_h5_attr_write_i64(f, TRAIN_STATE, "batches", s->batches));
    ML_TRY(ml_h5_attr_write_i64(f, TRAIN_STATE, "examples", s->examples));
    ML_TRY(ml_h5_attr_write_i64(f, TRAIN_STATE, "in_epoch", s->in_epoch));
    ML_TRY(ml_h5_attr_write_f64(f, TRAIN_STATE, "train_seconds", s->train_seconds));
    ML_TRY(s->bgd ? ml_bgd_write_state(s->bgd, f, TRAIN_STATE "/bgd") : write_sgd_state(s, f));
    ML_TRY(ml_h5_write_rng(f, TRAIN_STATE "/monitor_rng", ml_fn_rng(s->monitor_fn)));
    ml_termination *crit[MAX_CRITERIA];
    int n_crit = flatten_criteria(s->sgd->termination, crit, 0, MAX_CRITERIA);
    double tstate[2 * MAX_CRITERIA];
    for (int i = 0; i < n_crit; i++) {
        tstate[2 * i] = crit[i]->best;
        tstate[2 * i + 1] = (double)crit[i]->countdown;
    }
    if (n_crit > 0)
        ML_TRY(ml_h5_write_array(f, TRAIN_STATE "/termination", ML_H5_F64, 2, (int64_t[]){n_crit, 2}, tstate, NULL));
    int n_ext = s->t->n_extensions + s->sgd->n_update_callbacks;
    if (n_ext > 0) {
        double *ext = ml_malloc((size_t)n_ext * EXTENSION_STATE * sizeof *ext);
        if (!ext)
            return ML_ENOMEM;
        for (int i = 0; i < n_ext; i++) {
            const ml_extension *e = i < s->t->n_extensions ? s->t->extensions[i]
                                                           : s->sgd->update_callbacks[i - s->t->n_extensions];
            double row[EXTENSION_STATE] = {e->best, (double)e->count, e->initialized, e->init_value, e->step,
                                           e->min_reached};
            memcpy(ext + i * EXTENSION_STATE, row, sizeof row);
        }
        ml_status st = ml_h5_write_array(f, TRAIN_STATE "/extensions", ML_H5_F64, 2,
                                         (int64_t[]){n_ext, EXTENSION_STATE}, ext, NULL);
        ml_free(ext);
        ML_TRY(st);
    }
    return ML_OK;
}

/* Reads an f64 array of exactly rows x cols into out. */
static ml_status read_table(ml_h5_file *f, const char *path, int64_t rows, int64_t cols, double *out)
{
    int nd = 0;
    int64_t shape[ML_MAX_DIMS];
    double *data = NULL;
    ML_TRY(ml_h5_read_array(f, path, ML_H5_F64, &nd, shape, (void **)&data));
    ml_status st = nd == 2 && shape[0] == rows && shape[1] == cols
                       ? ML_OK
                       : ml_error(ML_EFORMAT, "%s:%s: the saved state does not fit this experiment (%lld entries)",
                                  ml_h5_file_name(f), path, (long long)rows);
    if (st == ML_OK)
        memcpy(out, data, (size_t)(rows * cols) * sizeof *out);
    ml_free(data);
    return st;
}

/* The counters and, with SGD, the position of the batches, read before the
 * feed is made (BGD keeps its own, read by ml_bgd_read_state). */
static ml_status read_train_position(run_state *s, ml_h5_file *f, ml_feed_position *pos)
{
    const char *name = ml_h5_file_name(f);
    if (ml_h5_exists(f, TRAIN_STATE) != ML_H5_GROUP)
        return ml_error(ML_ENOTFOUND, "%s: no training state to resume from (%s is written by ml-train)", name,
                        TRAIN_STATE);
    int bgd = s->t->bgd != NULL;
    if ((ml_h5_exists(f, TRAIN_STATE "/bgd") == ML_H5_GROUP) != bgd)
        return ml_error(ML_EFORMAT, "%s:%s: the file was trained with %s, the experiment says %s", name, TRAIN_STATE,
                        bgd ? "SGD" : "BGD", bgd ? "BGD" : "SGD");
    int64_t in_epoch = 0;
    ML_TRY(ml_h5_attr_read_i64(f, TRAIN_STATE, "epoch", &s->epoch));
    ML_TRY(ml_h5_attr_read_i64(f, TRAIN_STATE, "batches", &s->batches));
    ML_TRY(ml_h5_attr_read_i64(f, TRAIN_STATE, "examples", &s->examples));
    ML_TRY(ml_h5_attr_read_i64(f, TRAIN_STATE, "in_epoch", &in_epoch));
    ML_TRY(ml_h5_attr_read_f64(f, TRAIN_STATE, "train_seconds", &s->train_seconds));
    s->in_epoch = in_epoch != 0;
    if (bgd)
        return ML_OK;
    ML_TRY(ml_h5_attr_read_i64(f, TRAIN_STATE, "epoch_batches_done", &pos->batch));
    ML_TRY(ml_h5_read_rng_state(f, TRAIN_STATE "/order_rng", pos->rng));
    return ML_OK;
}

/* SGD's part: the dropout stream and the learning rule (the feed's position
 * was read by read_train_position). */
static ml_status read_sgd_state(run_state *s, ml_h5_file *f)
{
    const char *name = ml_h5_file_name(f);
    ML_TRY(ml_h5_read_rng(f, TRAIN_STATE "/dropout_rng", ml_fn_rng(s->train_fn)));
    for (int i = 0; i < ml_rule_n_slots(s->rule); i++) {
        ml_rule_slot slot = ml_rule_slot_at(s->rule, i);
        char path[512];
        snprintf(path, sizeof path, TRAIN_STATE "/rule/%s", slot.name);
        if (ml_h5_exists(f, path) != ML_H5_DATASET)
            return ml_error(ML_EFORMAT, "%s:%s: not found: the file was trained with another learning rule", name,
                            path);
        ML_TRY(ml_h5_read_tensor_into(f, path, slot.tensor));
    }
    for (int i = 0; i < ml_rule_n_vars(s->rule); i++) {
        ml_rule_var v = ml_rule_var_at(s->rule, i);
        if (ml_h5_attr_read_f64(f, TRAIN_STATE "/rule", v.name, v.value) != ML_OK)
            return ml_error(ML_EFORMAT, "%s:%s/rule: no '%s': the file was trained with another learning rule", name,
                            TRAIN_STATE, v.name);
    }
    /* A learning rate the resumed experiment changes (-s) applies from here on;
     * otherwise the rate the run had reached (schedules) goes on. */
    double configured;
    ML_TRY(ml_h5_attr_read_f64(f, TRAIN_STATE "/rule", "configured_learning_rate", &configured));
    if ((float)configured != s->sgd->learning_rate)
        ml_rule_set_learning_rate(s->rule, s->sgd->learning_rate);
    return ML_OK;
}

/* Everything else, once the functions and the rule (or BGD's run) exist. */
static ml_status read_train_state(run_state *s, ml_h5_file *f)
{
    ML_TRY(s->bgd ? ml_bgd_read_state(s->bgd, f, TRAIN_STATE "/bgd") : read_sgd_state(s, f));
    ML_TRY(ml_h5_read_rng(f, TRAIN_STATE "/monitor_rng", ml_fn_rng(s->monitor_fn)));
    ml_termination *crit[MAX_CRITERIA];
    int n_crit = flatten_criteria(s->sgd->termination, crit, 0, MAX_CRITERIA);
    if (n_crit > 0) {
        double tstate[2 * MAX_CRITERIA];
        ML_TRY(read_table(f, TRAIN_STATE "/termination", n_crit, 2, tstate));
        for (int i = 0; i < n_crit; i++) {
            crit[i]->best = tstate[2 * i];
            crit[i]->countdown = (int64_t)tstate[2 * i + 1];
        }
    }
    int n_ext = s->t->n_extensions + s->sgd->n_update_callbacks;
    if (n_ext > 0) {
        double *ext = ml_malloc((size_t)n_ext * EXTENSION_STATE * sizeof *ext);
        if (!ext)
            return ML_ENOMEM;
        ml_status st = read_table(f, TRAIN_STATE "/extensions", n_ext, EXTENSION_STATE, ext);
        for (int i = 0; st == ML_OK && i < n_ext; i++) {
            ml_extension *e = i < s->t->n_extensions ? s->t->extensions[i]
                                                     : s->sgd->update_callbacks[i - s->t->n_extensions];
            const double *row = ext + i * EXTENSION_STATE;
            e->best = row[0];
            e->count = (int64_t)row[1];
            e->initialized = (int)row[2];
            e->init_value = row[3];
            e->step = row[4];
            e->min_reached = (int)row[5];
        }
        ml_free(ext);
        ML_TRY(st);
    }
    if (s->avg.params && ml_h5_exists(f, "/params_averaged") == ML_H5_GROUP) {
        ML_TRY(ml_model_read_param_set(s->m, f, "/params_averaged", s->avg.params));
        ML_TRY(ml_h5_attr_read_i64(f, "/params_averaged", "start_epoch", &s->avg.start));
        ML_TRY(ml_h5_attr_read_i64(f, "/params_averaged", "steps", &s->avg.steps));
        s->averaging = 1;
    }
    ml_monitor *mon = NULL;
    ML_TRY(ml_monitor_read(f, &mon));
    ml_monitor_free(s->mon);
    s->mon = mon;
    return ML_OK;
}

ml_status ml_train_run(ml_train *t, const ml_train_opts *opts, ml_monitor **monitor)
{
    *monitor = NULL;
    /* BGD's base holds the settings it shares with SGD (monitor, cost, termination). */
    ml_sgd *sgd = t->bgd ? &t->bgd->base : t->algorithm;
    if (sgd->batch_size < 1)
        return ml_error(ML_EINVAL, "%s: batch_size must be at least 1",
                        t->bgd ? "BGD" : "SGD");
    if (t->save_path && !t->allow_overwrite && access(t->save_path, F_OK) == 0)
        return ml_error(ML_EIO, "%s: exists, and allow_overwrite is false", t->save_path);
    run_state s = {.t = t, .opts = opts, .m = t->model, .sgd = sgd};
    s.classification = ml_model_n_classes(t->model) > 0;
    ml_h5_file *resume_file = NULL;
    ml_status st = check_data(t, t->dataset, "training");
    for (int i = 0; st == ML_OK && i < sgd->n_monitor; i++)
        st = check_data(t, sgd->monitor[i].data, sgd->monitor[i].name);
    if (st != ML_OK)
        return st;
    s.mon = ml_monitor_new();
    s.monitor_data = ml_calloc((size_t)sgd->n_monitor + 1, sizeof *s.monitor_data);
    s.monitor_feed = ml_calloc((size_t)sgd->n_monitor + 1, sizeof *s.monitor_feed);
    int64_t n = ml_dataset_n_examples(t->dataset);
    if (!s.mon || !s.monitor_data || !s.monitor_feed) {
        st = ML_ENOMEM;
        goto done;
    }
    if ((st = ml_model_to_device(t->model, opts->device)) != ML_OK)
        goto done;
    s.train_data = on_device(t->dataset, opts->device, &st);
    for (int i = 0; st == ML_OK && i < sgd->n_monitor; i++)
        s.monitor_data[i] = sgd->monitor[i].data == t->dataset ? NULL
                                                                : on_device(sgd->monitor[i].data, opts->device, &st);
    for (int i = 0; st == ML_OK && i < sgd->n_monitor; i++)
        if (!s.monitor_data[i])
            s.monitor_data[i] = s.train_data;
    if (st != ML_OK)
        goto done;
    ml_feed_position resume_at;
    if (opts->resume) {
        if ((st = ml_h5_open(opts->resume, &resume_file)) != ML_OK ||
            (st = read_train_position(&s, resume_file, &resume_at)) != ML_OK)
            goto done;
    }
    /* BGD's line searches need all of X: refused before a feed would start streaming it. */
    if (t->bgd && (st = ml_dataset_require_memory(s.train_data, "BGD")) != ML_OK)
        goto done;
    /* BGD keeps its own position (ml_bgd_read_state); its feed only counts the batches. */
    int feed_resumes = opts->resume && !t->bgd;
    ml_feed_opts fo = {.iter = {.mode = sgd->iteration, .batch_size = sgd->batch_size, .seed = sgd->seed},
                       .device = opts->device, .resume = feed_resumes ? &resume_at : NULL};
    if ((st = ml_feed_new(s.train_data, &fo, &s.feed)) != ML_OK)
        goto done;
    if (n > 0 && ml_feed_n_batches(s.feed) == 0) {
        st = ml_error(ML_EINVAL, "%s: %s batches of %lld need at least %lld examples, the training data has %lld",
                      t->dataset->name, ml_iteration_mode_name(sgd->iteration), (long long)sgd->batch_size,
                      (long long)sgd->batch_size, (long long)n);
        goto done;
    }
    int64_t mb = sgd->monitoring_batch_size > 0 ? sgd->monitoring_batch_size : sgd->batch_size;
    ml_feed_opts mo = {.iter = {.mode = ML_ITER_SEQUENTIAL, .batch_size = mb, .n_batches = sgd->monitoring_batches},
                       .device = opts->device};
    for (int i = 0; st == ML_OK && i < sgd->n_monitor; i++)
        st = ml_feed_new(s.monitor_data[i], &mo, &s.monitor_feed[i]);
    if (st != ML_OK)
        goto done;
    for (int i = 0; i < t->n_extensions; i++)
        if (t->extensions[i]->kind == ML_EXT_POLYAK_AVERAGING && !s.avg.params) {
            int np = ml_model_n_params(t->model);
            if (!(s.avg.params = ml_calloc((size_t)np + 1, sizeof *s.avg.params))) {
                st = ML_ENOMEM;
                goto done;
            }
            for (int k = 0; k < np; k++) {
                ml_param p = ml_model_param(t->model, k);
                if (!(s.avg.params[k] = ml_tensor_new(ML_F32, p.value->ndim, p.value->shape, opts->device))) {
                    st = ML_ENOMEM;
                    goto done;
                }
            }
        }
    if ((st = build_functions(&s)) != ML_OK)
        goto done;
    if (t->bgd && (st = ml_bgd_run_new(t->bgd, t->model, s.train_data, opts->device, &s.bgd)) != ML_OK)
        goto done;
    if (resume_file) {
        st = read_train_state(&s, resume_file);
        ml_h5_close(resume_file);
        resume_file = NULL;
        if (st != ML_OK)
            goto done;
    } else if ((st = run_monitor(&s)) != ML_OK || (st = run_extensions(&s)) != ML_OK) {
        goto done;
    }
    for (;;) {
        int go_on = 1;
        /* An epoch resumed in its middle was allowed to start before the signal. */
        if (!s.in_epoch && sgd->termination &&
            (st = ml_termination_continue(sgd->termination, s.mon, s.epoch, &go_on)) != ML_OK)
            goto done;
        if (!go_on)
            break;
        double start = seconds_now();
        s.in_epoch = 1;
        st = s.bgd ? ml_bgd_epoch(s.bgd, s.epoch + 1, opts->stop, &s.batches, &s.examples) : train_epoch(&s);
        double trained = seconds_now();
        s.epoch_train_seconds = trained - start;
        s.train_seconds += s.epoch_train_seconds;
        if (st == ML_EINTR) {
            /* Saved between two batches: a resumed run finishes this epoch. */
            if (t->save_path)
                st = save_model(&s, t->save_path) == ML_OK ? ML_EINTR : ML_EIO;
            goto done;
        }
        s.in_epoch = 0;
        s.epoch++;
        if (st != ML_OK)
            goto done;
        if ((st = run_monitor(&s)) != ML_OK)
            goto done;
        s.epoch_seconds = seconds_now() - start;
        if ((st = run_extensions(&s)) != ML_OK)
            goto done;
        if (t->save_path && t->save_freq > 0 && s.epoch % t->save_freq == 0 &&
            (st = save_model(&s, t->save_path)) != ML_OK)
            goto done;
    }
    if (t->save_path)
        st = save_model(&s, t->save_path);
done:
    ml_h5_close(resume_file);
    if (st == ML_OK || st == ML_EINTR) {
        *monitor = s.mon;
        s.mon = NULL;
    }
    ml_monitor_free(s.mon);
    ml_fn_free(s.train_fn);
    ml_fn_free(s.monitor_fn);
    ml_bgd_run_free(s.bgd);
    ml_graph_free(s.g);
    /* The feeds' threads read the datasets: stop them first. */
    for (int i = 0; s.monitor_feed && i < sgd->n_monitor; i++)
        ml_feed_free(s.monitor_feed[i]);
    ml_free(s.monitor_feed);
    ml_feed_free(s.feed);
    ml_fn_free(s.constrain_fn);
    ml_fn_free(s.average_fn);
    ml_tensor_free(s.nonfinite);
    for (int k = 0; k < 3; k++)
        ml_tensor_free(s.monitor_sums[k]);
    ml_rule_free(s.rule);
    for (int i = 0; s.avg.params && i < ml_model_n_params(t->model); i++)
        ml_tensor_free(s.avg.params[i]);
    ml_free(s.avg.params);
    for (int i = 0; s.monitor_data && i < sgd->n_monitor; i++)
        if (s.monitor_data[i] != s.train_data)
            ml_dataset_free(s.monitor_data[i]);
    ml_free(s.monitor_data);
    ml_dataset_free(s.train_data);
    if (st == ML_OK && t->model->device != ML_CPU)
        st = ml_model_to_device(t->model, ML_CPU);
    return st;
}
