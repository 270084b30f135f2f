/* Learning rules against hand-computed steps, their state (names, restore),
 * termination criteria and extensions on scripted monitor values, and
 * PolyakAveraging's mean in a training run. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ml.h"

static ml_rng rng;

/* A Linear layer h: 1 -> 2, W = [1, -2] with W_lr_scale 0.5, b = [0.5, 0.25]. */
static ml_model *tiny_model(void)
{
    ml_model *m = ml_model_new();
    ml_layer *h = ml_layer_new(ML_LAYER_LINEAR, "h");
    h->dim = 2;
    h->irange = 0.1f;
    h->W_lr_scale = 0.5f;
    ml_model_add_layer(m, h);
    ml_space space = ml_vector_space(1);
    if (ml_model_setup(m, &space, &rng) != ML_OK) {
        ml_model_free(m);
        return NULL;
    }
    memcpy(ml_tensor_f32(h->W), (float[]){1.0f, -2.0f}, 2 * sizeof(float));
    memcpy(ml_tensor_f32(h->b), (float[]){0.5f, 0.25f}, 2 * sizeof(float));
    return m;
}

/* The gradients of W and b at steps 1, 2 and 3. */
static const float grads[3][2][2] = {
    {{0.2f, -0.4f}, {1.0f, -0.5f}},
    {{-0.1f, 0.3f}, {0.5f, 0.5f}},
    {{0.4f, 0.1f}, {-1.0f, 2.0f}},
};

/* A rule on tiny_model with the gradients fed as inputs. */
typedef struct {
    ml_model *m;
    ml_graph *g;
    ml_rule *r;
    ml_fn *fn;
    ml_tensor *gw, *gb;
} rig;

static ml_status rig_new(const ml_learning_rule *spec, rig *x)
{
    memset(x, 0, sizeof *x);
    if (!(x->m = tiny_model()) || !(x->g = ml_graph_new()))
        return ML_ENOMEM;
    ML_TRY(ml_model_bind(x->m, x->g));
    ml_node *in[2] = {ml_input(x->g, "gW", ML_F32, 2, (int64_t[]){1, 2}), ml_input(x->g, "gb", ML_F32, 1, (int64_t[]){2})};
    ML_TRY(ml_rule_new(spec, x->m, ML_CPU, 0.1, &x->r));
    ml_rule_step step;
    ML_TRY(ml_rule_build(x->r, x->g, x->m, in, &step));
    ml_fn_spec fs = {.n_inputs = 2, .inputs = in, .n_updates = step.n_updates, .updates = step.updates,
                     .n_effects = step.n_effects, .effects = step.effects, .max_batch = 1, .device = ML_CPU};
    ML_TRY(ml_fn_compile(x->g, &fs, &x->fn));
    x->gw = ml_tensor_new(ML_F32, 2, (int64_t[]){1, 2}, ML_CPU);
    x->gb = ml_tensor_new(ML_F32, 1, (int64_t[]){2}, ML_CPU);
    return x->gw && x->gb ? ML_OK : ML_ENOMEM;
}

static ml_status rig_step(rig *x, int k)
{
    memcpy(ml_tensor_f32(x->gw), grads[k][0], sizeof grads[k][0]);
    memcpy(ml_tensor_f32(x->gb), grads[k][1], sizeof grads[k][1]);
    ml_rule_begin_step(x->r);
    return ml_fn_call(x->fn, (ml_tensor *[]){x->gw, x->gb});
}

static void rig_free(rig *x)
{
    ml_fn_free(x->fn);
    ml_rule_free(x->r);
    ml_graph_free(x->g);
    ml_model_free(x->m);
    ml_tensor_free(x->gw);
    ml_tensor_free(x->gb);
}

/* W then b after the steps; within 2e-6 of the parameters' scale (float32 over three steps). */
static int params_match(const ml_model *m, const double *want, char *got, size_t size)
{
    const float *w = ml_tensor_f32(m->layers[0]->W), *b = ml_tensor_f32(m->layers[0]->b);
    double v[4] = {w[0], w[1], b[0], b[1]};
    int ok = 1;
    for (int i = 0; i < 4; i++)
        ok &= fabs(v[i] - want[i]) <= 2e-6 * fmax(1.0, fabs(want[i]));
    snprintf(got, size, "%.9g %.9g %.9g %.9g", v[0], v[1], v[2], v[3]);
    return ok;
}

/* Expected values: tests/unit/rules_reference.py (numpy, float64), lr 0.1,
 * W_lr_scale 0.5, the gradients above. */
static void test_rule(const char *what, const ml_learning_rule *spec, const double want[4])
{
    rig x;
    ml_status st = rig_new(spec, &x);
    for (int k = 0; st == ML_OK && k < 3; k++)
        st = rig_step(&x, k);
    CHECK_OK(st, "%s: three steps run", what);
    char got[160] = "";
    CHECK(st == ML_OK && params_match(x.m, want, got, sizeof got), "%s: W, b after three steps (%s)", what, got);
    rig_free(&x);
}

static void test_rules(void)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, ML_RULE_PLAIN);
    test_rule("plain steps", &r, (double[]){0.975, -2, 0.45, 0.05});
    ml_learning_rule_init(&r, ML_RULE_MOMENTUM);
    r.init_momentum = 0.5f;
    test_rule("Momentum 0.5", &r, (double[]){0.97, -1.9925, 0.35, 0.0625});
    r.nesterov = 1;
    test_rule("Nesterov momentum 0.5", &r, (double[]){0.96, -1.99625, 0.375, -0.04375});
    ml_learning_rule_init(&r, ML_RULE_ADAGRAD);
    test_rule("AdaGrad", &r, (double[]){0.928717607, -1.98980588, 0.42194536, 0.185008299});
    r.max_scaling = 3.0f;
    test_rule("AdaGrad, max_scaling 3", &r, (double[]){0.941356422, -1.98980581, 0.421945307, 0.185008418});
    ml_learning_rule_init(&r, ML_RULE_RMSPROP);
    test_rule("RMSProp", &r, (double[]){0.77467813, -1.9736083, 0.258005827, 0.0362385167});
    r.decay = 0.5f;
    r.max_scaling = 2.0f;
    test_rule("RMSProp, decay 0.5, max_scaling 2", &r, (double[]){0.95, -2, 0.397533524, 0.111781052});
    ml_learning_rule_init(&r, ML_RULE_ADADELTA);
    test_rule("AdaDelta", &r, (double[]){0.530764053, -2.01469507, 0.0555562855, -0.978648041});
    ml_learning_rule_init(&r, ML_RULE_ADAM);
    test_rule("Adam", &r, (double[]){0.903777689, -1.94841754, 0.295703789, 0.283148608});
    ml_learning_rule_init(&r, ML_RULE_ADAMAX);
    test_rule("Adamax", &r, (double[]){0.917691933, -1.9481747, 0.316647937, 0.307006213});
    ml_learning_rule_init(&r, ML_RULE_NADAM);
    test_rule("Nadam", &r, (double[]){0.917827795, -1.98665916, 0.410407544, 0.179608106});
}

/* Two steps, the state copied out by name, a new rule built from scratch with
 * the state and parameters copied in, the third step: as three steps in one. */
static void test_state_restore(ml_rule_kind kind, const double want[4])
{
    ml_learning_rule spec;
    ml_learning_rule_init(&spec, kind);
    rig a, b;
    ml_status st = rig_new(&spec, &a);
    for (int k = 0; st == ML_OK && k < 2; k++)
        st = rig_step(&a, k);
    if (st == ML_OK)
        st = rig_new(&spec, &b);
    int names_match = st == ML_OK && ml_rule_n_slots(a.r) == ml_rule_n_slots(b.r) &&
                      ml_rule_n_vars(a.r) == ml_rule_n_vars(b.r);
    for (int i = 0; names_match && i < ml_rule_n_slots(a.r); i++) {
        ml_rule_slot from = ml_rule_slot_at(a.r, i), to = ml_rule_slot_at(b.r, i);
        names_match &= strcmp(from.name, to.name) == 0;
        if (names_match && ml_tensor_copy(to.tensor, from.tensor) != ML_OK)
            st = ML_EINVAL;
    }
    for (int i = 0; names_match && i < ml_rule_n_vars(a.r); i++) {
        ml_rule_var from = ml_rule_var_at(a.r, i), to = ml_rule_var_at(b.r, i);
        names_match &= strcmp(from.name, to.name) == 0;
        *to.value = *from.value;
    }
    for (int i = 0; names_match && st == ML_OK && i < ml_model_n_params(a.m); i++)
        st = ml_tensor_copy(ml_model_param(b.m, i).value, ml_model_param(a.m, i).value);
    if (st == ML_OK && names_match)
        st = rig_step(&b, 2);
    char got[160] = "";
    CHECK(st == ML_OK && names_match && params_match(b.m, want, got, sizeof got) && ml_rule_steps(b.r) == 3,
          "%s: restoring the named state after two steps gives the third step exactly (%s)",
          ml_rule_kind_name(kind), got);
    rig_free(&a);
    if (st == ML_OK || b.m)
        rig_free(&b);
}

static void test_state_names(void)
{
    ml_learning_rule spec;
    ml_learning_rule_init(&spec, ML_RULE_ADAM);
    rig x;
    CHECK_OK(rig_new(&spec, &x), "an Adam rule builds");
    int n = ml_rule_n_slots(x.r);
    char names[512] = "";
    for (int i = 0; i < n; i++) {
        strcat(names, ml_rule_slot_at(x.r, i).name);
        strcat(names, " ");
    }
    CHECK(strcmp(names, "h/W/adam_m h/W/adam_v h/b/adam_m h/b/adam_v ") == 0, "Adam's slots: %s", names);
    char vars[256] = "";
    for (int i = 0; i < ml_rule_n_vars(x.r); i++) {
        strcat(vars, ml_rule_var_at(x.r, i).name);
        strcat(vars, " ");
    }
    CHECK(strcmp(vars, "learning_rate momentum t ") == 0, "Adam's vars: %s", vars);
    rig_free(&x);
    ml_learning_rule_init(&spec, ML_RULE_NADAM);
    CHECK_OK(rig_new(&spec, &x), "a Nadam rule builds");
    CHECK(ml_rule_n_vars(x.r) == 4 && strcmp(ml_rule_var_at(x.r, 3).name, "nadam_schedule") == 0,
          "Nadam also keeps its momentum schedule product");
    rig_free(&x);
    test_state_restore(ML_RULE_ADAM, (double[]){0.903777689, -1.94841754, 0.295703789, 0.283148608});
    test_state_restore(ML_RULE_NADAM, (double[]){0.917827795, -1.98665916, 0.410407544, 0.179608106});
    test_state_restore(ML_RULE_ADADELTA, (double[]){0.530764053, -2.01469507, 0.0555562855, -0.978648041});
}

/* ---- termination criteria on scripted values ---- */

static int run_criterion(ml_termination *t, ml_monitor *mon, const double *values, int n, int *go)
{
    int c = ml_monitor_channel(mon, "v");
    for (int e = 0; e < n; e++) {
        ml_monitor_begin_record(mon, e, 0, 0, 0);
        ml_monitor_set(mon, c, values[e]);
        if (ml_termination_continue(t, mon, e, &go[e]) != ML_OK)
            return 0;
    }
    return 1;
}

static int same(const int *a, const int *b, int n)
{
    for (int i = 0; i < n; i++)
        if (!a[i] != !b[i])
            return 0;
    return 1;
}

static void test_termination(void)
{
    double values[] = {1.0, 0.8, 0.6, 0.59, 0.58, 0.57, 0.3};
    int go[7];
    ml_monitor *mon = ml_monitor_new();
    ml_termination target = {.kind = ML_TERM_CHANNEL_TARGET, .channel_name = "v", .target = 0.6};
    CHECK(run_criterion(&target, mon, values, 4, go) && same(go, (int[]){1, 1, 0, 0}, 4),
          "ChannelTarget stops once the channel is at most the target (0.6 reached at epoch 2)");
    ml_monitor_free(mon);

    /* patience: MonitorBased N 2, prop_decrease 0.1: 0.6 improves on 0.8 by more than 10%; 0.59, 0.58 do not */
    ml_termination patience = {.kind = ML_TERM_MONITOR_BASED, .channel_name = "v", .prop_decrease = 0.1, .N = 2};
    ml_termination epochs = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 3};
    ml_termination *both[2] = {&patience, &epochs};
    ml_termination and_t = {.kind = ML_TERM_AND, .n_criteria = 2, .criteria = both};
    ml_termination or_t = {.kind = ML_TERM_OR, .n_criteria = 2, .criteria = both};
    mon = ml_monitor_new();
    CHECK(run_criterion(&patience, mon, values, 6, go) && same(go, (int[]){1, 1, 1, 1, 0, 0}, 6),
          "MonitorBased N=2 alone: stops at epoch 4, after two epochs without a 10%% improvement");
    ml_monitor_free(mon);
    mon = ml_monitor_new();
    CHECK(run_criterion(&and_t, mon, values, 6, go) && same(go, (int[]){1, 1, 1, 0, 0, 0}, 6),
          "And(MonitorBased, EpochCounter 3): stops when the first says stop (epoch 3)");
    ml_monitor_free(mon);
    mon = ml_monitor_new();
    CHECK(run_criterion(&or_t, mon, values, 6, go) && same(go, (int[]){1, 1, 1, 1, 0, 0}, 6),
          "Or(MonitorBased, EpochCounter 3): stops only when both say stop (epoch 4)");
    ml_monitor_free(mon);
    /* nested: Or(And(target 0.3, epochs 6), epochs 2) */
    ml_termination target3 = {.kind = ML_TERM_CHANNEL_TARGET, .channel_name = "v", .target = 0.3};
    ml_termination six = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 6};
    ml_termination two = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 2};
    ml_termination *inner_c[2] = {&target3, &six};
    ml_termination inner = {.kind = ML_TERM_AND, .n_criteria = 2, .criteria = inner_c};
    ml_termination *outer_c[2] = {&inner, &two};
    ml_termination outer = {.kind = ML_TERM_OR, .n_criteria = 2, .criteria = outer_c};
    mon = ml_monitor_new();
    CHECK(run_criterion(&outer, mon, values, 7, go) && same(go, (int[]){1, 1, 1, 1, 1, 1, 0}, 7),
          "Or(And(ChannelTarget 0.3, EpochCounter 6), EpochCounter 2) nests: stops at epoch 6");
    ml_monitor_free(mon);
    mon = ml_monitor_new();
    ml_termination missing = {.kind = ML_TERM_CHANNEL_TARGET, .channel_name = "nope", .target = 0};
    ml_monitor_channel(mon, "v");
    ml_monitor_begin_record(mon, 0, 0, 0, 0);
    int g1;
    ml_status st = ml_termination_continue(&missing, mon, 0, &g1);
    CHECK(st == ML_ENOTFOUND && strcmp(ml_last_error(), "ChannelTarget: no channel 'nope'") == 0,
          "ChannelTarget of an absent channel: %s", ml_last_error());
    ml_monitor_free(mon);
}

/* ---- extensions ---- */

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-6 * fmax(1.0, fabs(b));
}

static void test_extensions(void)
{
    ml_learning_rule spec;
    ml_learning_rule_init(&spec, ML_RULE_MOMENTUM);
    spec.init_momentum = 0.5f;
    ml_model *m = tiny_model();
    ml_rule *r = NULL;
    CHECK_OK(ml_rule_new(&spec, m, ML_CPU, 0.1, &r), "a Momentum rule for the schedules");
    /* Pylearn2: after the record of epoch k (k = 0, 1, ...) the value for epoch k+1. */
    ml_extension adj = {.kind = ML_EXT_MOMENTUM_ADJUSTOR, .start = 1, .saturate = 4, .final_momentum = 0.9};
    ml_extension lin = {.kind = ML_EXT_LINEAR_DECAY_OVER_EPOCH, .start = 2, .saturate = 4, .decay_factor = 0.1};
    double want_m[] = {0.5, 0.5, 0.5 + 0.4 / 3, 0.5 + 0.8 / 3, 0.9, 0.9};
    double want_lr[] = {0.1, 0.1, 0.07, 0.04, 0.01, 0.01};
    int ok_m = 1, ok_lr = 1;
    for (int k = 0; k < 6; k++) {
        ok_m &= near(ml_rule_momentum(r), want_m[k]);
        ok_lr &= near(ml_rule_learning_rate(r), want_lr[k]);
        ml_extension_on_monitor(&adj, r);
        ml_extension_on_monitor(&lin, r);
    }
    CHECK(ok_m, "MomentumAdjustor start 1, saturate 4: 0.5 0.5 0.633 0.767 0.9 0.9 over epochs 0..5");
    CHECK(ok_lr, "LinearDecayOverEpoch start 2, saturate 4, factor 0.1: 0.1 0.1 0.07 0.04 0.01 0.01");

    ml_rule_set_learning_rate(r, 0.1);
    ml_extension exp_d = {.kind = ML_EXT_EXPONENTIAL_DECAY, .decay_factor = 2, .min_lr = 0.02};
    double want_e[] = {0.05, 0.025, 0.02, 0.02};
    int ok_e = 1;
    for (int k = 0; k < 4; k++) {
        ml_extension_on_batch(&exp_d, r);
        ok_e &= near(ml_rule_learning_rate(r), want_e[k]);
    }
    CHECK(ok_e, "ExponentialDecay 2, min_lr 0.02: 0.05 0.025 0.02 0.02 after batches 1..4");
    ml_rule_free(r);

    ml_learning_rule_init(&spec, ML_RULE_ADAM);
    CHECK_OK(ml_rule_new(&spec, m, ML_CPU, 0.1, &r), "an Adam rule");
    ml_extension adj2 = {.kind = ML_EXT_MOMENTUM_ADJUSTOR, .start = 1, .saturate = 2, .final_momentum = 0.9};
    ml_status st = ml_extension_on_monitor(&adj2, r);
    CHECK(st == ML_EINVAL && strcmp(ml_last_error(), "MomentumAdjustor: the learning rule is Adam, not Momentum") == 0,
          "MomentumAdjustor with Adam: %s", ml_last_error());
    ml_rule_free(r);
    ml_model_free(m);
}

/* ---- PolyakAveraging (and max_col_norm with an update-based rule) in a training run ---- */

typedef struct {
    ml_model *m;
    int64_t start;
    double sum[4];
    int n;
    double max_abs_w, w1_epoch1; /* max_col_norm's check */
} polyak_check;

/* One batch per epoch: the parameters at each record are those after that epoch's batch. */
static void sum_params(const ml_monitor *mon, void *user)
{
    polyak_check *p = user;
    int64_t epoch = (int64_t)mon->records[(mon->n_records - 1) * (ML_MONITOR_FIXED_COLUMNS + mon->n_channels)];
    const float *w = ml_tensor_f32(p->m->layers[0]->W), *b = ml_tensor_f32(p->m->layers[0]->b);
    if (epoch == 1)
        p->w1_epoch1 = w[1];
    for (int j = 0; epoch > 0 && j < 2; j++)
        p->max_abs_w = fmax(p->max_abs_w, fabs(w[j]));
    if (epoch <= p->start)
        return;
    double v[4] = {w[0], w[1], b[0], b[1]};
    for (int i = 0; i < 4; i++)
        p->sum[i] += v[i];
    p->n++;
}

static void test_polyak(void)
{
    ml_dataset *d = ml_dataset_new("line");
    d->X = ml_tensor_new(ML_F32, 2, (int64_t[]){4, 1}, ML_CPU);
    d->y = ml_tensor_new(ML_F32, 2, (int64_t[]){4, 2}, ML_CPU);
    memcpy(ml_tensor_f32(d->X), (float[]){-1, 0, 1, 2}, 4 * sizeof(float));
    memcpy(ml_tensor_f32(d->y), (float[]){-2, 1, 0, 0, 2, -1, 4, -2}, 8 * sizeof(float));
    ml_model *m = tiny_model();
    m->layers[0]->max_col_norm = 1.5f; /* W's second column, -2, is clipped to -1.5 by the first step */
    ml_termination stop = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 6};
    ml_sgd sgd;
    ml_sgd_init(&sgd);
    sgd.learning_rate = 0.05f;
    sgd.batch_size = 4;
    sgd.iteration = ML_ITER_SEQUENTIAL;
    sgd.termination = &stop;
    ml_learning_rule_init(&sgd.rule, ML_RULE_ADAM);
    ml_extension polyak = {.kind = ML_EXT_POLYAK_AVERAGING, .start = 2};
    ml_extension *exts[1] = {&polyak};
    char dir[] = "/tmp/ml-test-rules-XXXXXX";
    char path[256];
    if (!mkdtemp(dir))
        return;
    snprintf(path, sizeof path, "%s/model.h5", dir);
    ml_train t = {.dataset = d, .model = m, .algorithm = &sgd, .save_path = path, .allow_overwrite = 1,
                  .n_extensions = 1, .extensions = exts};
    polyak_check pc = {.m = m, .start = 2};
    ml_train_opts opts = {.device = ML_CPU, .meta = {.model_spec = "!obj:MLP {}"}, .on_record = sum_params, .user = &pc};
    ml_monitor *mon = NULL;
    CHECK_OK(ml_train_run(&t, &opts, &mon), "6 epochs of Adam with PolyakAveraging from epoch 2");
    ml_h5_file *f = NULL;
    ml_tensor *aw = NULL, *ab = NULL;
    int64_t steps = -1, start = -1;
    ml_status st = ml_h5_open(path, &f);
    if (st == ML_OK)
        st = ml_h5_read_tensor(f, "/params_averaged/h/W", &aw);
    if (st == ML_OK)
        st = ml_h5_read_tensor(f, "/params_averaged/h/b", &ab);
    if (st == ML_OK)
        st = ml_h5_attr_read_i64(f, "/params_averaged", "steps", &steps);
    if (st == ML_OK)
        st = ml_h5_attr_read_i64(f, "/params_averaged", "start_epoch", &start);
    CHECK_OK(st, "the model file has /params_averaged/h/W, h/b, steps and start_epoch");
    CHECK(steps == 4 && start == 2 && pc.n == 4, "averaged over the 4 batches of epochs 3..6 (steps %lld, start %lld)",
          (long long)steps, (long long)start);
    int ok = st == ML_OK && pc.n == 4;
    double got[4] = {0, 0, 0, 0};
    if (ok) {
        const float *w = ml_tensor_f32(aw), *b = ml_tensor_f32(ab);
        got[0] = w[0], got[1] = w[1], got[2] = b[0], got[3] = b[1];
        for (int i = 0; i < 4; i++)
            ok &= fabs(got[i] - pc.sum[i] / 4) <= 1e-6 * fmax(1.0, fabs(pc.sum[i] / 4));
        ok &= fabs(got[0] - ml_tensor_f32(m->layers[0]->W)[0]) > 1e-4; /* not just the last parameters */
    }
    CHECK(ok, "/params_averaged is the mean of the parameters after each batch (%.6g %.6g %.6g %.6g)", got[0], got[1],
          got[2], got[3]);
    CHECK(fabs(pc.w1_epoch1 + 1.5) < 1e-6 && pc.max_abs_w <= 1.5 + 1e-6,
          "max_col_norm 1.5 holds with Adam's updates (W[1] -2 - 0.05 clipped to %.7g; largest |W| %.7g)",
          pc.w1_epoch1, pc.max_abs_w);
    ml_tensor_free(aw);
    ml_tensor_free(ab);
    if (f)
        ml_h5_close(f);
    ml_monitor_free(mon);
    unlink(path);
    rmdir(dir);
    ml_model_free(m);
    ml_dataset_free(d);
}

int main(void)
{
    ml_rng_seed(&rng, 5);
    ml_set_threads(1);
    test_rules();
    test_state_names();
    test_termination();
    test_extensions();
    test_polyak();
    return harness_done();
}
