/* Compiled functions: batches of any size up to the compiled maximum, updates
 * and learning-rule steps, buffer reuse, bad calls, and no allocation per call. */
#include <string.h>

#include "harness.h"
#include "ml.h"

static ml_rng rng;

static ml_tensor *random_tensor(int ndim, const int64_t *shape, float scale)
{
    ml_tensor *t = ml_tensor_new(ML_F32, ndim, shape, ML_CPU);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        ml_tensor_f32(t)[i] = ml_rng_uniform_range(&rng, -scale, scale);
    return t;
}

/* A 784-500-500-10 style MLP (smaller) trained with momentum. */
typedef struct {
    ml_graph *g;
    ml_node *x, *y, *cost, *misclass;
    ml_tensor *params[6], *vel[6];
    float lr, mom;
    ml_fn *train, *eval;
} mlp;

static void mlp_build(mlp *m, int64_t d_in, int64_t hidden, int64_t classes, int64_t max_batch)
{
    m->g = ml_graph_new();
    m->lr = 0.05f;
    m->mom = 0.9f;
    int64_t shapes[6][2] = {{d_in, hidden}, {hidden, 0}, {hidden, hidden}, {hidden, 0}, {hidden, classes}, {classes, 0}};
    ml_node *p[6], *v[6], *grads[6];
    for (int i = 0; i < 6; i++) {
        int nd = shapes[i][1] ? 2 : 1;
        m->params[i] = random_tensor(nd, shapes[i], i % 2 ? 0.0f : 0.1f);
        m->vel[i] = ml_tensor_new(ML_F32, nd, shapes[i], ML_CPU);
        p[i] = ml_shared(m->g, "p", m->params[i]);
        v[i] = ml_shared(m->g, "v", m->vel[i]);
    }
    m->x = ml_input(m->g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, d_in});
    m->y = ml_input(m->g, "y", ML_I32, 1, (int64_t[]){ML_BATCH});
    ml_node *h = m->x;
    for (int l = 0; l < 3; l++) {
        h = ml_add(m->g, ml_matmul(m->g, h, p[2 * l], 0, 0), p[2 * l + 1]);
        if (l < 2)
            h = ml_relu(m->g, h);
    }
    m->cost = ml_nll_logsoftmax(m->g, h, m->y);
    m->misclass = ml_misclass(m->g, h, m->y);
    CHECK_OK(ml_grad(m->g, m->cost, 6, p, grads), "mlp: gradient graph");
    ml_node *lr = ml_scalar(m->g, "lr", &m->lr), *mom = ml_scalar(m->g, "momentum", &m->mom);
    ml_node *steps[6];
    for (int i = 0; i < 6; i++)
        steps[i] = ml_momentum_step(m->g, p[i], v[i], grads[i], lr, mom, 1.0f, 0);
    ml_node *inputs[2] = {m->x, m->y};
    ml_node *outs[2] = {m->cost, m->misclass};
    ml_fn_spec train = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = outs,
                        .n_effects = 6, .effects = steps, .max_batch = max_batch, .device = ML_CPU};
    ml_fn_spec eval = {.n_inputs = 2, .inputs = inputs, .n_outputs = 2, .outputs = outs,
                       .max_batch = max_batch, .device = ML_CPU};
    CHECK_OK(ml_fn_compile(m->g, &train, &m->train), "mlp: training function compiles");
    CHECK_OK(ml_fn_compile(m->g, &eval, &m->eval), "mlp: evaluation function compiles");
}

static void mlp_free(mlp *m)
{
    ml_fn_free(m->train);
    ml_fn_free(m->eval);
    for (int i = 0; i < 6; i++) {
        ml_tensor_free(m->params[i]);
        ml_tensor_free(m->vel[i]);
    }
    ml_graph_free(m->g);
}

static void test_no_allocation_per_call(void)
{
    mlp m;
    mlp_build(&m, 40, 24, 5, 32);
    int64_t n = 200;
    ml_tensor *x = random_tensor(2, (int64_t[]){n, 40}, 1.0f);
    ml_tensor *y = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    for (int64_t i = 0; i < n; i++) /* a learnable rule: the class of the largest of 5 features */
    {
        int best = 0;
        for (int k = 1; k < 5; k++)
            if (ml_tensor_f32(x)[i * 40 + k] > ml_tensor_f32(x)[i * 40 + best])
                best = k;
        ml_tensor_i32(y)[i] = best;
    }
    ml_tensor xb, yb;
    ml_tensor *in[2] = {&xb, &yb};
    ml_tensor_point_rows(&xb, x, 0, 32);
    ml_tensor_point_rows(&yb, y, 0, 32);
    CHECK_OK(ml_fn_call(m.train, in), "first call runs");
    ml_alloc_stats before = ml_alloc_stats_get();
    ml_status st = ML_OK;
    float first_cost = NAN, last_cost = NAN;
    for (int epoch = 0; epoch < 30 && st == ML_OK; epoch++)
        for (int64_t start = 0; start < n && st == ML_OK; start += 32) {
            int64_t count = n - start < 32 ? n - start : 32; /* the last batch has 8 rows */
            ml_tensor_point_rows(&xb, x, start, count);
            ml_tensor_point_rows(&yb, y, start, count);
            st = ml_fn_call(m.train, in);
            float c = ml_tensor_f32(ml_fn_output(m.train, 0))[0];
            if (epoch == 0 && start == 0)
                first_cost = c;
            last_cost = c;
        }
    ml_alloc_stats after = ml_alloc_stats_get();
    CHECK(st == ML_OK, "210 training calls with batches of 32 and 8 run (%s)", ml_last_error());
    CHECK(after.allocations == before.allocations && after.frees == before.frees,
          "no allocation after the first call (%llu allocations, %llu frees)",
          (unsigned long long)(after.allocations - before.allocations),
          (unsigned long long)(after.frees - before.frees));
    CHECK(last_cost < 0.5f * first_cost, "momentum SGD lowers the cost (%.3f -> %.3f)", first_cost, last_cost);
    ml_tensor_point_rows(&xb, x, 0, 32);
    ml_tensor_point_rows(&yb, y, 0, 32);
    CHECK_OK(ml_fn_call(m.eval, in), "evaluation runs");
    float err = ml_tensor_f32(ml_fn_output(m.eval, 1))[0];
    CHECK(err < 0.25f, "the trained net classifies the training batch (misclass %.3f)", err);
    ml_tensor_free(x);
    ml_tensor_free(y);
    mlp_free(&m);
}

/* A batch of n rows through a function compiled for more gives the same rows
 * as the full batch (no row depends on another). */
static void test_variable_batch(void)
{
    ml_graph *g = ml_graph_new();
    ml_tensor *w = random_tensor(2, (int64_t[]){6, 4}, 1.0f);
    ml_node *x = ml_input(g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, 6});
    ml_node *y = ml_softmax(g, ml_tanh(g, ml_matmul(g, x, ml_shared(g, "w", w), 0, 0)));
    ml_node *col_mean = ml_mean(g, y, 0);
    ml_fn *f;
    ml_node *outs[2] = {y, col_mean};
    ml_fn_spec spec = {.n_inputs = 1, .inputs = &x, .n_outputs = 2, .outputs = outs, .max_batch = 10,
                       .device = ML_CPU};
    CHECK_OK(ml_fn_compile(g, &spec, &f), "compiles for batches up to 10");
    ml_tensor *data = random_tensor(2, (int64_t[]){10, 6}, 1.0f);
    ml_fn_call(f, &data);
    float full[40];
    memcpy(full, ml_tensor_f32(ml_fn_output(f, 0)), sizeof full);
    ml_tensor *part = ml_tensor_view_rows(data, 0, 3);
    CHECK_OK(ml_fn_call(f, &part), "a batch of 3 runs");
    const ml_tensor *o = ml_fn_output(f, 0);
    CHECK(o->shape[0] == 3 && o->shape[1] == 4, "output has 3 rows");
    CHECK(memcmp(full, ml_tensor_f32(o), 12 * sizeof(float)) == 0, "the 3 rows equal the full batch's");
    double mean0 = 0;
    for (int i = 0; i < 3; i++)
        mean0 += full[i * 4] / 3.0;
    CHECK(fabs(ml_tensor_f32(ml_fn_output(f, 1))[0] - mean0) < 1e-6, "mean over the batch divides by 3");
    ml_tensor *too_big = random_tensor(2, (int64_t[]){11, 6}, 1.0f);
    CHECK(ml_fn_call(f, &too_big) == ML_ESHAPE && strstr(ml_last_error(), "[10, 6]"),
          "a batch larger than compiled is refused: %s", ml_last_error());
    ml_tensor *wrong = random_tensor(2, (int64_t[]){4, 5}, 1.0f);
    CHECK(ml_fn_call(f, &wrong) == ML_ESHAPE, "a wrong feature count is refused: %s", ml_last_error());
    ml_tensor_free(wrong);
    ml_tensor_free(too_big);
    ml_tensor_free(part);
    ml_tensor_free(data);
    ml_tensor_free(w);
    ml_fn_free(f);
    ml_graph_free(g);
}

/* Updates are assigned after all outputs are computed, from the old values. */
static void test_updates(void)
{
    ml_graph *g = ml_graph_new();
    ml_tensor *a = ml_tensor_new(ML_F32, 1, (int64_t[]){3}, ML_CPU);
    ml_tensor *b = ml_tensor_new(ML_F32, 1, (int64_t[]){3}, ML_CPU);
    ml_tensor_fill(a, 1.0f);
    ml_tensor_fill(b, 10.0f);
    ml_node *na = ml_shared(g, "a", a), *nb = ml_shared(g, "b", b);
    ml_update up[2] = {{na, ml_add(g, na, nb)}, {nb, ml_scale(g, na, 2.0f)}};
    ml_node *out = ml_sum(g, na, ML_ALL_AXES);
    ml_fn *f;
    ml_fn_spec spec = {.n_outputs = 1, .outputs = &out, .n_updates = 2, .updates = up, .max_batch = 1};
    CHECK_OK(ml_fn_compile(g, &spec, &f), "updates compile");
    ml_fn_call(f, NULL);
    CHECK(ml_tensor_f32(ml_fn_output(f, 0))[0] == 3.0f, "output computed before the updates");
    CHECK(ml_tensor_f32(a)[0] == 11.0f && ml_tensor_f32(b)[0] == 2.0f, "a := a + b and b := 2a use old values");
    ml_fn_call(f, NULL);
    CHECK(ml_tensor_f32(a)[0] == 13.0f && ml_tensor_f32(b)[0] == 22.0f, "and again");
    ml_fn_free(f);
    ml_tensor_free(a);
    ml_tensor_free(b);
    ml_graph_free(g);
}

/* Planned buffers are reused: a long chain needs far less than one buffer per node. */
static void test_buffer_reuse(void)
{
    ml_graph *g = ml_graph_new();
    ml_node *x = ml_input(g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, 1000});
    ml_node *h = x;
    for (int i = 0; i < 50; i++)
        h = ml_tanh(g, ml_add_scalar(g, h, 0.01f));
    ml_fn *f;
    ml_fn_spec spec = {.n_inputs = 1, .inputs = &x, .n_outputs = 1, .outputs = &h, .max_batch = 100};
    CHECK_OK(ml_fn_compile(g, &spec, &f), "a chain of 100 ops compiles");
    size_t one = 100 * 1000 * sizeof(float);
    CHECK(ml_fn_arena_bytes(f) <= 3 * one, "100 intermediates fit in %zu buffers' worth",
          ml_fn_arena_bytes(f) / one);
    ml_fn_free(f);
    ml_graph_free(g);
}

static void test_bad_graphs(void)
{
    ml_graph *g = ml_graph_new();
    ml_node *x = ml_input(g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, 5});
    ml_node *w = ml_const(g, 1.0f, 2, (int64_t[]){4, 3});
    CHECK(ml_matmul(g, x, w, 0, 0) == NULL && strstr(ml_last_error(), "inner dimensions"),
          "matmul of [batch,5] by [4,3] is refused: %s", ml_last_error());
    CHECK(ml_add(g, x, ml_const(g, 0, 1, (int64_t[]){4})) == NULL, "add of [batch,5] and [4] is refused: %s",
          ml_last_error());
    CHECK(ml_relu(g, NULL) == NULL, "a NULL operand propagates");
    ml_node *y = ml_relu(g, x);
    ml_fn *f = NULL;
    ml_fn_spec spec = {.n_outputs = 1, .outputs = &y, .max_batch = 4};
    CHECK(ml_fn_compile(g, &spec, &f) == ML_EINVAL && strstr(ml_last_error(), "'x'"),
          "an input not given is named: %s", ml_last_error());
    ml_node *s = ml_sum(g, y, ML_ALL_AXES);
    ml_node *grad;
    CHECK(ml_grad(g, y, 1, &x, &grad) == ML_ESHAPE, "grad of a non-scalar is refused: %s", ml_last_error());
    CHECK_OK(ml_grad(g, s, 1, &x, &grad), "grad of a scalar");
    ml_graph_free(g);
}

/* Max-norm constraints rescale only the units whose norm exceeds the limit. */
static void test_max_norm(void)
{
    ml_graph *g = ml_graph_new();
    float wdata[6] = {3, 0.3f, 0, 0.4f, 4, 0}; /* [3, 2]: column norms 5 and 0.5 */
    ml_tensor *w = ml_tensor_wrap(ML_F32, 2, (int64_t[]){3, 2}, wdata);
    float kdata[8] = {1, 1, 1, 1, 0.1f, 0.1f, 0.1f, 0.1f}; /* [2, 1, 2, 2]: norms 2 and 0.2 */
    ml_tensor *k = ml_tensor_wrap(ML_F32, 4, (int64_t[]){2, 1, 2, 2}, kdata);
    ml_node *effects[2] = {ml_max_norm(g, ml_shared(g, "w", w), 1.0f, 0),
                           ml_max_norm(g, ml_shared(g, "k", k), 1.0f, 1)};
    ml_fn *f;
    ml_fn_spec spec = {.n_effects = 2, .effects = effects, .max_batch = 1};
    CHECK_OK(ml_fn_compile(g, &spec, &f), "max-norm constraints compile");
    CHECK_OK(ml_fn_call(f, NULL), "and run");
    CHECK(fabsf(wdata[0] - 0.6f) < 1e-6f && fabsf(wdata[4] - 0.8f) < 1e-6f && wdata[1] == 0.3f &&
              wdata[3] == 0.4f,
          "the column of norm 5 is scaled to norm 1, the column of norm 0.5 is kept");
    CHECK(fabsf(kdata[0] - 0.5f) < 1e-6f && kdata[4] == 0.1f, "per-kernel norms likewise");
    ml_fn_free(f);
    ml_tensor_free(w);
    ml_tensor_free(k);
    ml_graph_free(g);
}

int main(void)
{
    test_max_norm();
    ml_rng_seed(&rng, 3);
    ml_set_threads(1);
    test_no_allocation_per_call();
    test_variable_batch();
    test_updates();
    test_buffer_reuse();
    test_bad_graphs();
    return harness_done();
}
