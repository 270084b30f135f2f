/* Batch gradient descent (train/bgd.h): line searches never raise the
 * objective, conjugate directions beat steepest descent on an ill-conditioned
 * least-squares problem, accumulated minibatches equal one big batch, the
 * training loop runs BGD with the monitor, and a run's saved state resumes it
 * exactly. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ml.h"

#define N 40
#define D 8

/* y = X w* + noise, feature j scaled by 1 + j: a condition number in the hundreds. */
static ml_dataset *least_squares(void)
{
    ml_rng rng;
    ml_rng_seed(&rng, 7);
    ml_dataset *ds = ml_dataset_new("lsq");
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){N, D}, ML_CPU);
    ds->y = ml_tensor_new(ML_F32, 2, (int64_t[]){N, 1}, ML_CPU);
    float *x = ml_tensor_f32(ds->X), *y = ml_tensor_f32(ds->y);
    float w[D];
    for (int j = 0; j < D; j++)
        w[j] = ml_rng_normal(&rng, 0, 1);
    for (int i = 0; i < N; i++) {
        double t = 0;
        for (int j = 0; j < D; j++) {
            x[i * D + j] = ml_rng_normal(&rng, 0, 1) * (float)(1 + j);
            t += x[i * D + j] * w[j] / (1 + j);
        }
        y[i] = (float)t + ml_rng_normal(&rng, 0, 0.1f);
    }
    return ds;
}

static ml_model *linear_model(ml_layer_kind kind, int64_t dim, int64_t d)
{
    ml_rng rng;
    ml_rng_seed(&rng, 11);
    ml_model *m = ml_model_new();
    ml_layer *l = ml_layer_new(kind, "y");
    l->dim = dim;
    l->irange = 0.05f;
    ml_model_add_layer(m, l);
    ml_space space = ml_vector_space(d);
    ml_model_setup(m, &space, &rng);
    return m;
}

/* `searches` epochs of one full-batch update each (conjugacy carried between
 * them), recording the objective after each; returns the last.  *monotone:
 * no update raised the objective, and each epoch starts where the last ended. */
static double descend(const ml_dataset *ds, int conjugate, ml_line_search_mode mode, int64_t batch_size,
                      int64_t batches_per_iter, int searches, double *trace, int *monotone, ml_bgd_stats *out)
{
    ml_model *m = linear_model(ML_LAYER_LINEAR, 1, D);
    ml_bgd cfg;
    ml_bgd_init(&cfg);
    cfg.base.batch_size = batch_size;
    cfg.base.iteration = ML_ITER_SEQUENTIAL;
    cfg.batches_per_iter = batches_per_iter;
    cfg.updates_per_batch = 1;
    cfg.conjugate = conjugate;
    cfg.reset_conjugate = 0;
    cfg.reset_alpha = 0;
    cfg.line_search = mode;
    ml_bgd_run *r = NULL;
    ml_status st = ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r);
    double last = INFINITY, prev = INFINITY;
    *monotone = st == ML_OK;
    for (int k = 0; st == ML_OK && k < searches; k++) {
        int64_t batches = 0, examples = 0;
        st = ml_bgd_epoch(r, k + 1, NULL, &batches, &examples);
        const ml_bgd_stats *s = ml_bgd_run_stats(r);
        if (st != ML_OK || batches != batches_per_iter || examples != N)
            *monotone = 0;
        if (!(s->objective <= s->start_objective))
            *monotone = 0;
        if (k > 0 && fabs(s->start_objective - prev) > 1e-5 * fabs(prev) + 1e-7)
            *monotone = 0;
        prev = last = s->objective;
        if (trace)
            trace[k] = last;
    }
    if (st != ML_OK)
        printf("#   %s\n", ml_last_error());
    if (r && out)
        *out = *ml_bgd_run_stats(r);
    ml_bgd_run_free(r);
    ml_model_free(m);
    return st == ML_OK ? last : NAN;
}

static void test_conjugate_beats_steepest(void)
{
    ml_dataset *ds = least_squares();
    enum { K = 12 };
    double cg[K], sd[K];
    int mono_cg, mono_sd;
    ml_bgd_stats st_cg, st_sd;
    double f_cg = descend(ds, 1, ML_LINE_SEARCH_EXHAUSTIVE, N, 1, K, cg, &mono_cg, &st_cg);
    double f_sd = descend(ds, 0, ML_LINE_SEARCH_EXHAUSTIVE, N, 1, K, sd, &mono_sd, &st_sd);
    printf("# objective after each of %d line searches\n#   conjugate: ", K);
    for (int k = 0; k < K; k++)
        printf(" %.6g", cg[k]);
    printf("\n#   steepest: ");
    for (int k = 0; k < K; k++)
        printf(" %.6g", sd[k]);
    printf("\n#   evaluations: conjugate %lld, steepest %lld\n", (long long)st_cg.evaluations,
           (long long)st_sd.evaluations);
    CHECK(mono_cg && mono_sd, "no line search raises the objective (conjugate and steepest)");
    CHECK(st_cg.line_searches == K && st_sd.line_searches == K, "%d line searches each (%lld, %lld)", K,
          (long long)st_cg.line_searches, (long long)st_sd.line_searches);
    CHECK(f_cg < f_sd, "conjugate gradients reach a lower objective than steepest descent (%.6g < %.6g)", f_cg,
          f_sd);
    CHECK(f_cg < 0.5 * f_sd, "... by a wide margin on an ill-conditioned problem");

    /* Four accumulated minibatches of 10 are the batch of 40. */
    double acc[K];
    int mono_acc;
    double f_acc = descend(ds, 1, ML_LINE_SEARCH_EXHAUSTIVE, 10, 4, K, acc, &mono_acc, NULL);
    int same = mono_acc;
    for (int k = 0; k < K; k++)
        same = same && fabs(acc[k] - cg[k]) <= 1e-3 * fabs(cg[k]) + 1e-6;
    CHECK(same, "4 accumulated minibatches of 10 follow the batch of 40 (%.6g vs %.6g)", f_acc, f_cg);

    /* Backtracking: never up, and down. */
    double bt[K];
    int mono_bt;
    double f_bt = descend(ds, 0, ML_LINE_SEARCH_BACKTRACKING, N, 1, K, bt, &mono_bt, NULL);
    CHECK(mono_bt && f_bt < bt[0], "backtracking searches never raise the objective (%.6g after 1, %.6g after %d)",
          bt[0], f_bt, K);
    ml_dataset_free(ds);
}

static void test_bad_settings(void)
{
    ml_dataset *ds = least_squares();
    ml_model *m = linear_model(ML_LAYER_LINEAR, 1, D);
    ml_bgd cfg;
    ml_bgd_init(&cfg);
    ml_bgd_run *r = NULL;
    CHECK(ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r) == ML_EINVAL && !r &&
              strcmp(ml_last_error(), "BGD: batch_size must be at least 1") == 0,
          "batch_size 0 is refused: %s", ml_last_error());
    cfg.base.batch_size = 10;
    cfg.updates_per_batch = 0;
    CHECK(ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r) == ML_EINVAL && !r, "updates_per_batch 0 is refused: %s",
          ml_last_error());
    cfg.updates_per_batch = 1;
    cfg.base.iteration = ML_ITER_RANDOM_UNIFORM;
    CHECK(ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r) == ML_EINVAL && !r, "random_uniform is refused: %s",
          ml_last_error());
    CHECK(ml_line_search_mode_parse("exhaustive") == ML_LINE_SEARCH_EXHAUSTIVE &&
              ml_line_search_mode_parse("backtracking") == ML_LINE_SEARCH_BACKTRACKING &&
              ml_line_search_mode_parse("golden") == -1,
          "line search modes parse");
    ml_model_free(m);
    ml_dataset_free(ds);
}

/* Softmax regression through ml_train_run: the monitor's channels, alpha, and a falling objective. */
static void test_train_loop(void)
{
    ml_rng rng;
    ml_rng_seed(&rng, 3);
    ml_dataset *ds = ml_dataset_new("blobs");
    int64_t n = 60, d = 4;
    ds->X = ml_tensor_new(ML_F32, 2, (int64_t[]){n, d}, ML_CPU);
    ds->y = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    ds->n_classes = 3;
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        ml_tensor_i32(ds->y)[i] = c;
        for (int64_t j = 0; j < d; j++)
            ml_tensor_f32(ds->X)[i * d + j] = ml_rng_normal(&rng, j == c ? 1.5f : 0.0f, 1.0f);
    }
    ml_model *m = linear_model(ML_LAYER_SOFTMAX, 3, d);
    ml_termination stop = {.kind = ML_TERM_EPOCH_COUNTER, .max_epochs = 3};
    ml_bgd cfg;
    ml_bgd_init(&cfg);
    cfg.base.batch_size = 20;
    cfg.batches_per_iter = 3;
    cfg.updates_per_batch = 4;
    cfg.conjugate = 1;
    ml_monitoring_dataset sets[1] = {{"train", ds}};
    cfg.base.n_monitor = 1;
    cfg.base.monitor = sets;
    cfg.base.termination = &stop;
    ml_train t = {.dataset = ds, .model = m, .bgd = &cfg};
    ml_train_opts opts = {.device = ML_CPU};
    ml_monitor *mon = NULL;
    CHECK_OK(ml_train_run(&t, &opts, &mon), "3 epochs of BGD run in the training loop");
    CHECK(mon && mon->n_records == 4, "4 records: epoch 0 and one per epoch");
    int obj = mon ? ml_monitor_find(mon, "train_objective") : -1, alpha = mon ? ml_monitor_find(mon, "alpha") : -1;
    CHECK(obj >= 0 && alpha >= 0 && ml_monitor_find(mon, "train_y_misclass") >= 0 &&
              ml_monitor_find(mon, "train_y_nll") >= 0 && ml_monitor_find(mon, "learning_rate") < 0,
          "channels: train_objective, train_y_nll, train_y_misclass, alpha (no learning_rate)");
    double first = obj >= 0 ? ml_monitor_value(mon, 0, obj) : 0, last = obj >= 0 ? ml_monitor_value(mon, 3, obj) : 0;
    CHECK(obj >= 0 && last < first && ml_monitor_value(mon, 3, alpha) > 0,
          "the objective falls from %.4f to %.4f; alpha %.4g", first, last,
          alpha >= 0 ? ml_monitor_value(mon, 3, alpha) : 0);
    CHECK(mon && mon->records[3 * (ML_MONITOR_FIXED_COLUMNS + mon->n_channels) + 1] == 9 &&
              mon->records[3 * (ML_MONITOR_FIXED_COLUMNS + mon->n_channels) + 2] == 180,
          "9 minibatches and 180 examples in 3 epochs");
    ml_monitor_free(mon);
    ml_model_free(m);
    ml_dataset_free(ds);
}

/* The conjugate, alpha-carrying run of test_resume on ds for `epochs` epochs.
 * With stop_at > 0 it is stopped after the first group of epoch stop_at, its
 * state written to path and, with restore, read into a new run on the same
 * parameters that finishes the epochs (without restore the new run starts
 * afresh).  *batches: the minibatches trained in all. */
static ml_model *resume_run(const ml_dataset *ds, int epochs, int stop_at, int restore, const char *path,
                            int64_t *batches)
{
    ml_model *m = linear_model(ML_LAYER_LINEAR, 1, D);
    ml_bgd cfg;
    ml_bgd_init(&cfg);
    cfg.base.batch_size = 5;
    cfg.base.iteration = ML_ITER_SHUFFLED_SEQUENTIAL;
    cfg.batches_per_iter = 2; /* 4 groups an epoch */
    cfg.updates_per_batch = 2;
    cfg.conjugate = 1;
    cfg.reset_conjugate = 0;
    cfg.reset_alpha = 0;
    ml_bgd_run *r = NULL;
    ml_status st = ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r);
    volatile sig_atomic_t stop = 0;
    int64_t examples = 0;
    int resumed = 0;
    *batches = 0;
    for (int e = 1; st == ML_OK && e <= epochs; e++) {
        stop = e == stop_at;
        st = ml_bgd_epoch(r, e, &stop, batches, &examples);
        if (st != ML_EINTR)
            continue;
        ml_h5_file *f = NULL;
        st = ml_h5_create(path, &f);
        if (st == ML_OK)
            st = ml_bgd_write_state(r, f, "/train_state/bgd");
        if (st == ML_OK)
            st = ml_h5_commit(f);
        ml_h5_close(f);
        f = NULL;
        ml_bgd_run_free(r);
        r = NULL;
        if (st == ML_OK)
            st = ml_bgd_run_new(&cfg, m, ds, ML_CPU, &r);
        if (st == ML_OK && restore && (st = ml_h5_open(path, &f)) == ML_OK)
            st = ml_bgd_read_state(r, f, "/train_state/bgd");
        ml_h5_close(f);
        stop_at = 0;
        resumed = 1;
        e--; /* the epoch goes on */
    }
    CHECK(st == ML_OK, "%d epochs%s%s: %s", epochs, resumed ? ", stopped and resumed" : "",
          resumed && !restore ? " afresh" : "", st ? ml_last_error() : "ok");
    ml_bgd_run_free(r);
    return m;
}

static int same_params(ml_model *a, ml_model *b)
{
    for (int i = 0; i < ml_model_n_params(a); i++) {
        const ml_tensor *x = ml_model_param(a, i).value, *y = ml_model_param(b, i).value;
        if (memcmp(ml_tensor_f32((ml_tensor *)x), ml_tensor_f32((ml_tensor *)y),
                   (size_t)ml_tensor_numel(x) * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

/* A run stopped between two groups of an epoch, its state written with
 * ml_bgd_write_state and read into a new run with ml_bgd_read_state, ends
 * with the parameters of the run that never stopped, bit for bit; a new run
 * without the state does not. */
static void test_resume(void)
{
    ml_dataset *ds = least_squares();
    char path[] = "/tmp/ml-test-bgd-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "a temporary file");
    if (fd < 0) {
        ml_dataset_free(ds);
        return;
    }
    close(fd);
    int64_t b_straight = 0, b_resumed = 0, b_afresh = 0;
    ml_model *straight = resume_run(ds, 3, 0, 0, path, &b_straight);
    ml_model *resumed = resume_run(ds, 3, 2, 1, path, &b_resumed);
    CHECK(same_params(straight, resumed) && b_straight == 24 && b_resumed == 24,
          "stopped after the first group of epoch 2 and resumed: the parameters of the straight run, bit for bit "
          "(%lld and %lld minibatches)", (long long)b_straight, (long long)b_resumed);
    ml_model *afresh = resume_run(ds, 3, 2, 0, path, &b_afresh);
    CHECK(!same_params(straight, afresh), "resumed without the state: other parameters");
    ml_h5_file *f = NULL;
    ml_bgd_run *r = NULL;
    ml_bgd cfg;
    ml_bgd_init(&cfg);
    cfg.base.batch_size = 5;
    CHECK_OK(ml_bgd_run_new(&cfg, afresh, ds, ML_CPU, &r), "a run to read into");
    CHECK_OK(ml_h5_open(path, &f), "open the state");
    ml_status st = r && f ? ml_bgd_read_state(r, f, "/train_state/nothing") : ML_EINVAL;
    CHECK(st == ML_EFORMAT && strstr(ml_last_error(), "/train_state/nothing: not found"),
          "a missing state is named: %s", ml_last_error());
    ml_h5_close(f);
    ml_bgd_run_free(r);
    unlink(path);
    ml_model_free(straight);
    ml_model_free(resumed);
    ml_model_free(afresh);
    ml_dataset_free(ds);
}

int main(void)
{
    test_conjugate_beats_steepest();
    test_bad_settings();
    test_train_loop();
    test_resume();
    return harness_done();
}
