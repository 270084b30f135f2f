/* Models, costs and the training loop on small synthetic problems. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ml.h"

static ml_rng rng;

/* Points in D dimensions whose class is the index of the largest of the first K coordinates. */
static ml_dataset *argmax_problem(int64_t n, int64_t d, int k)
{
    ml_dataset *ds = ml_dataset_new("synthetic");
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){n, d}, ML_CPU);
    ds->y = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    ds->n_classes = k;
    float *x = ml_tensor_f32(ds->X);
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int64_t j = 0; j < d; j++)
            x[i * d + j] = ml_rng_uniform_range(&rng, -1, 1);
        for (int c = 1; c < k; c++)
            if (x[i * d + c] > x[i * d + best])
                best = c;
        ml_tensor_i32(ds->y)[i] = best;
    }
    return ds;
}

static int64_t records_seen;
static void count_record(const ml_monitor *mon, void *user)
{
    records_seen = mon->n_records;
}

static void test_mlp_learns(void)
{
    ml_dataset *train = argmax_problem(600, 8, 3), *valid = argmax_problem(300, 8, 3);
    ml_model *m = ml_model_new();
    ml_layer *h0 = ml_layer_new(ML_LAYER_RELU, "h0"), *y = ml_layer_new(ML_LAYER_SOFTMAX, "y");
    h0->dim = 32;
    h0->irange = 0.3f;
    h0->max_col_norm = 1.9365f;
    y->dim = 3;
    y->irange = 0.05f;
    ml_model_add_layer(m, h0);
    ml_model_add_layer(m, y);
    ml_space space = ml_vector_space(8);
    CHECK_OK(ml_model_setup(m, &space, &rng), "an MLP of ReLU and Softmax sets up");
    ml_termination stop = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 20};
    ml_sgd sgd;
    ml_sgd_init(&sgd);
    sgd.learning_rate = 0.1f;
    sgd.batch_size = 20;
    ml_learning_rule_init(&sgd.rule, ML_RULE_MOMENTUM);
    sgd.rule.init_momentum = 0.5f;
    ml_monitoring_dataset sets[2] = {{"train", train}, {"valid", valid}};
    sgd.n_monitor = 2;
    sgd.monitor = sets;
    sgd.termination = &stop;
    ml_cost decay = {.kind = ML_COST_WEIGHT_DECAY, .n_coeffs = 2, .coeffs = (float[]){1e-4f, 1e-4f}};
    ml_cost nll = {.kind = ML_COST_DEFAULT};
    ml_cost sum = {.kind = ML_COST_SUM, .n_terms = 2, .terms = (ml_cost *[]){&nll, &decay}};
    sgd.cost = &sum;
    char dir[] = "/tmp/ml-test-train-XXXXXX";
    mkdtemp(dir);
    char path[256];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    ml_train t = {.dataset = train, .model = m, .algorithm = &sgd, .save_path = path, .save_freq = 5,
                  .allow_overwrite = 1};
    ml_train_opts opts = {.device = ML_CPU, .meta = {.model_spec = "!obj:MLP {}"}, .on_record = count_record};
    ml_monitor *mon = NULL;
    CHECK_OK(ml_train_run(&t, &opts, &mon), "20 epochs of momentum SGD run");
    CHECK(mon && mon->n_records == 21 && records_seen == 21, "21 records: epoch 0 and one per epoch");
    int c = mon ? ml_monitor_find(mon, "valid_y_misclass") : -1;
    double first = c >= 0 ? ml_monitor_value(mon, 0, c) : 1, last = c >= 0 ? ml_monitor_value(mon, 20, c) : 1;
    CHECK(c >= 0 && last < 0.15 && last < first, "valid_y_misclass falls from %.3f to %.3f", first, last);
    int norms = mon ? ml_monitor_find(mon, "h0_col_norms_max") : -1;
    CHECK(norms >= 0 && ml_monitor_value(mon, 20, norms) <= 1.9366, "max_col_norm holds (%.4f)",
          norms >= 0 ? ml_monitor_value(mon, 20, norms) : -1);
    CHECK(mon && ml_monitor_find(mon, "train_objective") >= 0 && ml_monitor_find(mon, "learning_rate") >= 0 &&
              ml_monitor_find(mon, "momentum") >= 0 && ml_monitor_find(mon, "valid_y_nll") >= 0,
          "Pylearn2's channels are there");

    /* The saved file reads back: same parameters, same monitor. */
    ml_h5_file *f;
    CHECK_OK(ml_h5_open(path, &f), "the model file opens");
    char *spec = NULL;
    ml_space in;
    CHECK_OK(ml_model_file_info(f, &spec, &in), "it is a model file");
    CHECK(spec && strcmp(spec, "!obj:MLP {}") == 0 && in.kind == ML_SPACE_VECTOR && in.dim == 8,
          "spec and input shape recorded");
    ml_model *m2 = ml_model_new();
    ml_layer *a = ml_layer_new(ML_LAYER_RELU, "h0"), *b = ml_layer_new(ML_LAYER_SOFTMAX, "y");
    a->dim = 32;
    a->irange = 1;
    b->dim = 3;
    ml_model_add_layer(m2, a);
    ml_model_add_layer(m2, b);
    ml_model_setup(m2, &in, &rng);
    CHECK_OK(ml_model_read_params(m2, f), "parameters read back");
    CHECK(memcmp(ml_tensor_data(m->layers[0]->W), ml_tensor_data(m2->layers[0]->W), ml_tensor_nbytes(m->layers[0]->W)) == 0,
          "weights equal");
    ml_monitor *mon2 = NULL;
    CHECK_OK(ml_monitor_read(f, &mon2), "monitor read back");
    CHECK(mon2 && mon2->n_records == 21 && ml_monitor_find(mon2, "valid_y_misclass") >= 0 &&
              ml_monitor_value(mon2, 20, ml_monitor_find(mon2, "valid_y_misclass")) == last,
          "records equal");
    ml_eval_result *r = NULL;
    CHECK_OK(ml_evaluate(m2, valid, 64, ML_CPU, &r, NULL), "evaluation runs");
    CHECK(r && fabs(r->misclass - last) < 1e-9, "evaluation agrees with the monitor (%.4f vs %.4f)",
          r ? r->misclass : -1, last);
    ml_eval_result_free(r);
    ml_monitor_free(mon2);
    ml_free(spec);
    ml_h5_close(f);
    ml_model_free(m2);

    /* A layer that does not fit is reported by name. */
    ml_layer *bad = ml_layer_new(ML_LAYER_CONV_RELU, "c0");
    ml_model *m3 = ml_model_new();
    bad->output_channels = 4;
    bad->kernel_shape[0] = bad->kernel_shape[1] = 3;
    bad->irange = 0.1f;
    ml_model_add_layer(m3, bad);
    CHECK(ml_model_setup(m3, &space, &rng) == ML_ESHAPE && strstr(ml_last_error(), "'c0'"),
          "a convolution over vectors is refused: %s", ml_last_error());
    ml_model_free(m3);
    unlink(path);
    rmdir(dir);
    ml_monitor_free(mon);
    ml_model_free(m);
    ml_dataset_free(train);
    ml_dataset_free(valid);
}

/* A small conv net with dropout on an image problem: brightness of the left or right half. */
static void test_convnet_with_dropout(void)
{
    int64_t n = 400;
    ml_dataset *d = ml_dataset_new("halves");
    d->X = ml_tensor_new(ML_F32, 2, (int64_t[]){n, 64}, ML_CPU);
    d->y = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    d->n_classes = 2;
    d->image_shape[0] = 1;
    d->image_shape[1] = d->image_shape[2] = 8;
    for (int64_t i = 0; i < n; i++) {
        int side = (int)ml_rng_below(&rng, 2);
        ml_tensor_i32(d->y)[i] = side;
        for (int r = 0; r < 8; r++)
            for (int c = 0; c < 8; c++)
                ml_tensor_f32(d->X)[i * 64 + r * 8 + c] = ml_rng_uniform(&rng) + ((c < 4) == side ? 0.5f : 0.0f);
    }
    ml_model *m = ml_model_new();
    ml_layer *c0 = ml_layer_new(ML_LAYER_CONV_RELU, "c0"), *y = ml_layer_new(ML_LAYER_SOFTMAX, "y");
    c0->output_channels = 4;
    c0->kernel_shape[0] = c0->kernel_shape[1] = 3;
    c0->pool_shape[0] = c0->pool_shape[1] = 2;
    c0->pool_stride[0] = c0->pool_stride[1] = 2;
    c0->border_mode = ML_BORDER_SAME;
    c0->irange = 0.1f;
    c0->max_kernel_norm = 1.0f;
    y->dim = 2;
    y->irange = 0.05f;
    ml_model_add_layer(m, c0);
    ml_model_add_layer(m, y);
    ml_space space = ml_conv2d_space(1, 8, 8);
    CHECK_OK(ml_model_setup(m, &space, &rng), "a conv net sets up");
    CHECK(c0->output.kind == ML_SPACE_CONV2D && c0->output.rows == 4 && c0->b->ndim == 3,
          "'same' 3x3 then 2x2 pooling gives 4x4, untied biases");
    ml_termination stop = {.kind = ML_TERM_MONITOR_BASED, .channel_name = "train_y_misclass", .prop_decrease = 0.01,
                           .N = 3};
    ml_sgd sgd;
    ml_sgd_init(&sgd);
    sgd.learning_rate = 0.05f;
    sgd.batch_size = 25;
    ml_monitoring_dataset set = {"train", d};
    sgd.n_monitor = 1;
    sgd.monitor = &set;
    sgd.termination = &stop;
    ml_cost dropout = {.kind = ML_COST_DROPOUT, .dropout = {.default_include_prob = 0.8f, .default_scale = 1.25f}};
    sgd.cost = &dropout;
    ml_train t = {.dataset = d, .model = m, .algorithm = &sgd};
    ml_train_opts opts = {.device = ML_CPU};
    ml_monitor *mon = NULL;
    CHECK_OK(ml_train_run(&t, &opts, &mon), "trains until MonitorBased stops it");
    int c = mon ? ml_monitor_find(mon, "train_y_misclass") : -1;
    double best = 1;
    for (int64_t r = 0; c >= 0 && r < mon->n_records; r++)
        best = fmin(best, ml_monitor_value(mon, r, c));
    CHECK(c >= 0 && best < 0.1, "the conv net separates the halves (best misclass %.3f after %lld epochs)", best,
          mon ? (long long)mon->n_records - 1 : -1LL);
    ml_monitor_free(mon);
    ml_model_free(m);
    ml_dataset_free(d);
}

static void test_termination(void)
{
    ml_monitor *mon = ml_monitor_new();
    int c = ml_monitor_channel(mon, "v");
    ml_termination t = {.kind = ML_TERM_MONITOR_BASED, .channel_name = "v", .prop_decrease = 0.1, .N = 2};
    double values[] = {1.0, 0.95, 0.85, 0.84, 0.83, 0.5};
    int expect[] = {1, 1, 1, 1, 0, 0};
    int ok = 1;
    for (int e = 0; e < 5; e++) {
        ml_monitor_begin_record(mon, e, 0, 0, 0);
        ml_monitor_set(mon, c, values[e]);
        int go;
        ml_termination_continue(&t, mon, e, &go);
        ok &= go == expect[e];
    }
    CHECK(ok, "MonitorBased restarts its countdown only on a decrease of more than prop_decrease");
    ml_monitor_free(mon);
}

int main(void)
{
    ml_rng_seed(&rng, 11);
    ml_set_threads(1);
    test_termination();
    test_mlp_learns();
    test_convnet_with_dropout();
    return harness_done();
}
