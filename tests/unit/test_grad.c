/* Finite-difference gradient checks for every differentiable op.
 *
 * Each case builds out = op(vars) from SHARED variables, and the scalar
 * cost = sum(out * R) for a fixed random R (or the op itself when it is a
 * scalar loss).  The analytic gradient comes from ml_grad; the numeric one
 * from central differences of the same compiled forward function, with the
 * cost summed in double.  A case fails when, for any checked element,
 *     |analytic - numeric| / max(|analytic|, |numeric|, 1) > GRAD_TOLERANCE.
 * Inputs are drawn away from kinks (ReLU and |x| at 0, clip bounds, ties of a
 * max) by more than GRAD_EPS so a difference never straddles one. */
#include <string.h>

#include "harness.h"
#include "ml.h"

#define GRAD_EPS 1e-2f        /* float32 central differences: error O(eps^2) + O(ulp/eps) */
#define GRAD_TOLERANCE 5e-3   /* the relative error allowed, as defined above */
#define GRAD_MAX_CHECKED 48   /* elements checked per variable (spread evenly) */

typedef enum { FILL_UNIFORM, FILL_POSITIVE, FILL_AWAY_FROM_ZERO, FILL_DISTINCT } fill_kind;

typedef struct {
    int ndim;
    int64_t shape[4];
    fill_kind fill;
} var_spec;

typedef ml_node *(*build_fn)(ml_graph *g, ml_node **v, ml_node *labels, const int *arg);

static ml_rng rng;

static void fill(ml_tensor *t, fill_kind kind)
{
    float *p = ml_tensor_f32(t);
    int64_t n = ml_tensor_numel(t);
    if (kind == FILL_DISTINCT) {
        /* A shuffled ramp: neighbours differ by 0.05 > 2 * GRAD_EPS, so no ties flip. */
        int32_t *perm = ml_malloc((size_t)n * sizeof *perm);
        ml_rng_permutation(&rng, perm, n);
        for (int64_t i = 0; i < n; i++)
            p[i] = 0.05f * (float)perm[i] - 0.025f * (float)n;
        ml_free(perm);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float u = ml_rng_uniform_range(&rng, -1.0f, 1.0f);
        if (kind == FILL_POSITIVE)
            u = 0.2f + fabsf(u);
        else if (kind == FILL_AWAY_FROM_ZERO)
            u = u < 0 ? u - 0.1f : u + 0.1f;
        p[i] = u;
    }
}

static double weighted_sum(const ml_tensor *out, const ml_tensor *r)
{
    const float *o = ml_tensor_f32(out);
    if (!r)
        return o[0];
    const float *w = ml_tensor_f32(r);
    double s = 0;
    for (int64_t i = 0; i < ml_tensor_numel(out); i++)
        s += (double)o[i] * w[i];
    return s;
}

static void gradcheck(const char *what, int n_vars, const var_spec *specs, build_fn build,
                      const int *arg, const ml_tensor *labels)
{
    ml_graph *g = ml_graph_new();
    ml_tensor *vals[4], *r = NULL, *label_copy = NULL;
    ml_node *vars[4], *grads[4], *label_node = NULL;
    for (int i = 0; i < n_vars; i++) {
        vals[i] = ml_tensor_new(ML_F32, specs[i].ndim, specs[i].shape, ML_CPU);
        fill(vals[i], specs[i].fill);
        vars[i] = ml_shared(g, "v", vals[i]);
    }
    if (labels) {
        label_copy = ml_tensor_to(labels, ML_CPU);
        label_node = ml_shared(g, "labels", label_copy);
    }
    ml_node *out = build(g, vars, label_node, arg);
    if (!out) {
        CHECK(0, "%s: builds (%s)", what, ml_last_error());
        goto done;
    }
    ml_node *cost = out;
    if (out->ndim > 0) {
        r = ml_tensor_new(ML_F32, out->ndim, out->shape, ML_CPU);
        fill(r, FILL_UNIFORM);
        cost = ml_sum(g, ml_mul(g, out, ml_shared(g, "r", r)), ML_ALL_AXES);
    }
    ml_status st = ml_grad(g, cost, n_vars, vars, grads);
    if (st != ML_OK) {
        CHECK(0, "%s: differentiates (%s)", what, ml_last_error());
        goto done;
    }
    ml_fn *fwd = NULL, *bwd = NULL;
    ml_fn_spec fs = {.n_outputs = 1, .outputs = &out, .max_batch = 1, .device = ML_CPU, .seed = 7};
    ml_fn_spec bs = {.n_outputs = n_vars, .outputs = grads, .max_batch = 1, .device = ML_CPU, .seed = 7};
    if (ml_fn_compile(g, &fs, &fwd) != ML_OK || ml_fn_compile(g, &bs, &bwd) != ML_OK) {
        CHECK(0, "%s: compiles (%s)", what, ml_last_error());
        ml_fn_free(fwd);
        goto done;
    }
    /* Dropout draws a new mask per call: replay the first call's stream each time. */
    uint32_t rng_state[ML_RNG_STATE_WORDS];
    ml_rng_get_state(ml_fn_rng(fwd), rng_state);
    st = ml_fn_call(bwd, NULL);
    double worst = 0;
    int worst_var = 0;
    int64_t worst_index = 0;
    double worst_a = 0, worst_n = 0;
    for (int i = 0; i < n_vars && st == ML_OK; i++) {
        const float *analytic = ml_tensor_f32(ml_fn_output(bwd, i));
        float *x = ml_tensor_f32(vals[i]);
        int64_t n = ml_tensor_numel(vals[i]);
        int64_t step = n > GRAD_MAX_CHECKED ? n / GRAD_MAX_CHECKED : 1;
        for (int64_t j = (step > 1 ? (int64_t)ml_rng_below(&rng, (uint32_t)step) : 0); j < n; j += step) {
            float keep = x[j];
            x[j] = keep + GRAD_EPS;
            ml_rng_set_state(ml_fn_rng(fwd), rng_state);
            st = ml_fn_call(fwd, NULL);
            double plus = weighted_sum(ml_fn_output(fwd, 0), r);
            x[j] = keep - GRAD_EPS;
            ml_rng_set_state(ml_fn_rng(fwd), rng_state);
            st = st ? st : ml_fn_call(fwd, NULL);
            double minus = weighted_sum(ml_fn_output(fwd, 0), r);
            x[j] = keep;
            double numeric = (plus - minus) / (2.0 * GRAD_EPS);
            double a = analytic[j];
            double scale = fmax(fmax(fabs(a), fabs(numeric)), 1.0);
            double err = fabs(a - numeric) / scale;
            if (err > worst || isnan(err)) {
                worst = isnan(err) ? INFINITY : err;
                worst_var = i;
                worst_index = j;
                worst_a = a;
                worst_n = numeric;
            }
        }
    }
    if (st != ML_OK)
        CHECK(0, "%s: runs (%s)", what, ml_last_error());
    else
        CHECK(worst <= GRAD_TOLERANCE, "%s: gradient matches finite differences (worst %.2e at var %d [%lld]: %g vs %g)",
              what, worst, worst_var, (long long)worst_index, worst_a, worst_n);
    ml_fn_free(fwd);
    ml_fn_free(bwd);
done:
    for (int i = 0; i < n_vars; i++)
        ml_tensor_free(vals[i]);
    ml_tensor_free(r);
    ml_tensor_free(label_copy);
    ml_graph_free(g);
}

#define V2(a, b, f) {2, {a, b}, f}
#define V1(a, f) {1, {a}, f}
#define V0(f) {0, {0}, f}
#define V3(a, b, c, f) {3, {a, b, c}, f}
#define V4(a, b, c, d, f) {4, {a, b, c, d}, f}

static ml_node *b_matmul(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_matmul(g, v[0], v[1], a[0], a[1]);
}
static ml_node *b_add(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_add(g, v[0], v[1]); }
static ml_node *b_sub(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_sub(g, v[0], v[1]); }
static ml_node *b_mul(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_mul(g, v[0], v[1]); }
static ml_node *b_div(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_div(g, v[0], v[1]); }
static ml_node *b_scale(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_scale(g, v[0], -1.7f); }
static ml_node *b_add_scalar(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_add_scalar(g, v[0], 0.3f);
}
static float scalar_value = 0.25f;
static ml_node *b_scale_by(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_scale_by(g, v[0], ml_scalar(g, "s", &scalar_value), 3.0f);
}
static ml_node *b_unary(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    ml_node *n = ml_unary(g, (ml_unary_kind)a[0], v[0]);
    if (n && a[0] == ML_UNARY_ELU)
        n->p.fp[0] = 0.7f;
    return n;
}
static ml_node *b_softmax(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_softmax(g, v[0]); }
static ml_node *b_log_softmax(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_log_softmax(g, v[0]);
}
static ml_node *b_sum(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_sum(g, v[0], a[0]); }
static ml_node *b_mean(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_mean(g, v[0], a[0]); }
static ml_node *b_max(ml_graph *g, ml_node **v, ml_node *l, const int *a) { return ml_max(g, v[0], a[0]); }
static ml_node *b_reshape(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    /* Reshape, then an op that cares about the layout, so a wrong view would show. */
    return ml_softmax(g, ml_reshape(g, v[0], 2, (int64_t[]){a[0], a[1]}));
}
static ml_node *b_flatten(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_log_softmax(g, ml_flatten(g, v[0]));
}
static ml_node *b_transpose(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_transpose(g, v[0], a[0] < 0 ? NULL : a);
}
static ml_node *b_concat(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_concat(g, 3, v, a[0]);
}
static ml_node *b_slice(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_slice(g, v[0], a[0], a[1], a[2]);
}
static ml_node *b_clip(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    /* The values are multiples of 0.05: the bounds lie 0.025 from the nearest. */
    return ml_clip(g, v[0], -0.175f, 0.325f);
}
static ml_node *b_dropout(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_dropout(g, v[0], 0.6f, 1.0f / 0.6f);
}
static ml_node *b_conv(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_conv2d(g, v[0], v[1], a[0], a[1], a[2], a[3]);
}
static ml_node *b_pool(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_pool(g, v[0], (ml_pool_kind)a[0], a[1], a[2], a[3], a[4], a[5]);
}
static ml_node *b_nll(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_nll_logsoftmax(g, v[0], l);
}
static ml_node *b_bce(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_bce_logits(g, v[0], ml_sigmoid(g, v[1]));
}
static ml_node *b_sqerr(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    return ml_squared_error(g, v[0], v[1]);
}
/* A two-layer MLP: shared weights used twice, bias broadcasts, ReLU, NLL. */
static ml_node *b_mlp(ml_graph *g, ml_node **v, ml_node *l, const int *a)
{
    ml_node *h = ml_relu(g, ml_add(g, ml_matmul(g, v[0], v[1], 0, 0), v[2]));
    ml_node *logits = ml_matmul(g, h, v[3], 0, 0);
    ml_node *nll = ml_nll_logsoftmax(g, logits, l);
    /* L2 weight decay on the first layer's weights. */
    return ml_add(g, nll, ml_scale(g, ml_sum(g, ml_square(g, v[1]), ML_ALL_AXES), 1e-3f));
}

static ml_tensor *random_labels(int64_t n, int k)
{
    ml_tensor *t = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    for (int64_t i = 0; i < n; i++)
        ml_tensor_i32(t)[i] = (int32_t)ml_rng_below(&rng, (uint32_t)k);
    return t;
}

int main(void)
{
    ml_rng_seed(&rng, 20261122);
    ml_set_threads(1);

    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int arg[2] = {ta, tb};
            var_spec s[2] = {ta ? (var_spec)V2(13, 5, FILL_UNIFORM) : (var_spec)V2(5, 13, FILL_UNIFORM),
                             tb ? (var_spec)V2(9, 13, FILL_UNIFORM) : (var_spec)V2(13, 9, FILL_UNIFORM)};
            char name[64];
            snprintf(name, sizeof name, "matmul ta=%d tb=%d", ta, tb);
            gradcheck(name, 2, s, b_matmul, arg, NULL);
        }
    gradcheck("matmul batch 1", 2, (var_spec[]){V2(1, 7, FILL_UNIFORM), V2(7, 3, FILL_UNIFORM)},
              b_matmul, (int[]){0, 0}, NULL);

    /* Broadcasting, both sides. */
    struct { const char *name; var_spec a, b; } bcast[] = {
        {"same shape", V2(3, 7, FILL_UNIFORM), V2(3, 7, FILL_POSITIVE)},
        {"row vector", V2(5, 7, FILL_UNIFORM), V1(7, FILL_POSITIVE)},
        {"row vector on the left", V1(7, FILL_POSITIVE), V2(5, 7, FILL_POSITIVE)},
        {"column", V2(5, 7, FILL_UNIFORM), V2(5, 1, FILL_POSITIVE)},
        {"scalar", V3(2, 3, 5, FILL_UNIFORM), V0(FILL_POSITIVE)},
        {"batch of 1", V2(1, 9, FILL_UNIFORM), V1(9, FILL_POSITIVE)},
        {"4-D with channels", V4(2, 3, 4, 5, FILL_UNIFORM), V3(3, 1, 1, FILL_POSITIVE)},
    };
    build_fn binaries[] = {b_add, b_sub, b_mul, b_div};
    const char *binary_names[] = {"add", "sub", "mul", "div"};
    for (int op = 0; op < 4; op++)
        for (size_t c = 0; c < sizeof bcast / sizeof *bcast; c++) {
            char name[96];
            snprintf(name, sizeof name, "%s %s", binary_names[op], bcast[c].name);
            var_spec s[2] = {bcast[c].a, bcast[c].b};
            if (op == 3 && c == 2)
                s[1].fill = FILL_POSITIVE;
            gradcheck(name, 2, s, binaries[op], NULL, NULL);
        }
    gradcheck("scale", 1, (var_spec[]){V2(3, 11, FILL_UNIFORM)}, b_scale, NULL, NULL);
    gradcheck("add_scalar", 1, (var_spec[]){V2(3, 11, FILL_UNIFORM)}, b_add_scalar, NULL, NULL);
    gradcheck("scale_by scalar node", 1, (var_spec[]){V2(3, 11, FILL_UNIFORM)}, b_scale_by, NULL, NULL);

    for (int f = 0; f < ML_UNARY_COUNT; f++) {
        fill_kind k = (f == ML_UNARY_LOG || f == ML_UNARY_SQRT) ? FILL_POSITIVE
                      : (f == ML_UNARY_ABS || f == ML_UNARY_RELU || f == ML_UNARY_ELU) ? FILL_AWAY_FROM_ZERO
                                                                                        : FILL_UNIFORM;
        char name[64];
        snprintf(name, sizeof name, "%s", ml_unary_name((ml_unary_kind)f));
        gradcheck(name, 1, (var_spec[]){V2(5, 13, k)}, b_unary, &f, NULL);
        snprintf(name, sizeof name, "%s batch 1", ml_unary_name((ml_unary_kind)f));
        gradcheck(name, 1, (var_spec[]){V2(1, 3, k)}, b_unary, &f, NULL);
    }
    gradcheck("softmax", 1, (var_spec[]){V2(4, 10, FILL_UNIFORM)}, b_softmax, NULL, NULL);
    gradcheck("softmax batch 1", 1, (var_spec[]){V2(1, 3, FILL_UNIFORM)}, b_softmax, NULL, NULL);
    gradcheck("log_softmax", 1, (var_spec[]){V2(4, 10, FILL_UNIFORM)}, b_log_softmax, NULL, NULL);
    gradcheck("log_softmax 3-D", 1, (var_spec[]){V3(2, 3, 7, FILL_UNIFORM)}, b_log_softmax, NULL, NULL);

    int axes[] = {0, 1, 2, ML_ALL_AXES};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "sum axis %d", axes[i]);
        gradcheck(name, 1, (var_spec[]){V3(3, 5, 7, FILL_UNIFORM)}, b_sum, &axes[i], NULL);
        snprintf(name, sizeof name, "mean axis %d", axes[i]);
        gradcheck(name, 1, (var_spec[]){V3(3, 5, 7, FILL_UNIFORM)}, b_mean, &axes[i], NULL);
        if (axes[i] != ML_ALL_AXES) {
            snprintf(name, sizeof name, "max axis %d", axes[i]);
            gradcheck(name, 1, (var_spec[]){V3(3, 5, 7, FILL_DISTINCT)}, b_max, &axes[i], NULL);
        }
    }
    gradcheck("mean batch 1", 1, (var_spec[]){V2(1, 9, FILL_UNIFORM)}, b_mean, (int[]){0}, NULL);
    gradcheck("max last axis batch 1", 1, (var_spec[]){V2(1, 9, FILL_DISTINCT)}, b_max, (int[]){-1}, NULL);

    gradcheck("reshape", 1, (var_spec[]){V3(3, 4, 5, FILL_UNIFORM)}, b_reshape, (int[]){6, 10}, NULL);
    gradcheck("flatten", 1, (var_spec[]){V4(3, 2, 3, 3, FILL_UNIFORM)}, b_flatten, NULL, NULL);
    gradcheck("transpose 2-D", 1, (var_spec[]){V2(5, 9, FILL_UNIFORM)}, b_transpose, (int[]){-1}, NULL);
    gradcheck("transpose 4-D (b,0,1,c)", 1, (var_spec[]){V4(2, 3, 4, 5, FILL_UNIFORM)}, b_transpose,
              (int[]){0, 2, 3, 1}, NULL);
    gradcheck("transpose 4-D (c,0,1,b)", 1, (var_spec[]){V4(2, 3, 4, 5, FILL_UNIFORM)}, b_transpose,
              (int[]){1, 2, 3, 0}, NULL);
    gradcheck("concat axis 1", 3,
              (var_spec[]){V2(3, 4, FILL_UNIFORM), V2(3, 1, FILL_UNIFORM), V2(3, 6, FILL_UNIFORM)},
              b_concat, (int[]){1}, NULL);
    gradcheck("concat axis 0", 3,
              (var_spec[]){V2(2, 5, FILL_UNIFORM), V2(1, 5, FILL_UNIFORM), V2(3, 5, FILL_UNIFORM)},
              b_concat, (int[]){0}, NULL);
    gradcheck("slice middle", 1, (var_spec[]){V2(3, 11, FILL_UNIFORM)}, b_slice, (int[]){1, 3, 5}, NULL);
    gradcheck("slice start", 1, (var_spec[]){V3(4, 3, 2, FILL_UNIFORM)}, b_slice, (int[]){0, 0, 2}, NULL);
    gradcheck("clip", 1, (var_spec[]){V2(4, 9, FILL_DISTINCT)}, b_clip, NULL, NULL);
    gradcheck("dropout", 1, (var_spec[]){V2(6, 13, FILL_UNIFORM)}, b_dropout, NULL, NULL);
    gradcheck("dropout batch 1", 1, (var_spec[]){V2(1, 5, FILL_UNIFORM)}, b_dropout, NULL, NULL);

    struct { const char *name; var_spec x, w; int arg[4]; } convs[] = {
        {"conv2d 3x3 valid", V4(2, 3, 7, 6, FILL_UNIFORM), V4(4, 3, 3, 3, FILL_UNIFORM), {1, 1, 0, 0}},
        {"conv2d 5x5 same", V4(1, 2, 9, 9, FILL_UNIFORM), V4(3, 2, 5, 5, FILL_UNIFORM), {1, 1, 2, 2}},
        {"conv2d stride 2 pad 1", V4(3, 1, 9, 7, FILL_UNIFORM), V4(2, 1, 3, 3, FILL_UNIFORM), {2, 2, 1, 1}},
        {"conv2d 1x1", V4(2, 5, 3, 3, FILL_UNIFORM), V4(3, 5, 1, 1, FILL_UNIFORM), {1, 1, 0, 0}},
    };
    for (size_t c = 0; c < sizeof convs / sizeof *convs; c++)
        gradcheck(convs[c].name, 2, (var_spec[]){convs[c].x, convs[c].w}, b_conv, convs[c].arg, NULL);
    struct { const char *name; var_spec x; int arg[6]; } pools[] = {
        {"max pool 2x2", V4(2, 3, 6, 6, FILL_DISTINCT), {ML_POOL_MAX, 2, 2, 2, 2, 0}},
        {"max pool 2x2 partial window", V4(1, 2, 7, 5, FILL_DISTINCT), {ML_POOL_MAX, 2, 2, 2, 2, 1}},
        {"max pool 3x3 stride 2 overlapping", V4(2, 2, 7, 7, FILL_DISTINCT), {ML_POOL_MAX, 3, 3, 2, 2, 1}},
        {"mean pool 2x2", V4(2, 3, 6, 6, FILL_UNIFORM), {ML_POOL_MEAN, 2, 2, 2, 2, 0}},
        {"mean pool 3x3 stride 2 partial", V4(1, 2, 8, 7, FILL_UNIFORM), {ML_POOL_MEAN, 3, 3, 2, 2, 1}},
    };
    for (size_t c = 0; c < sizeof pools / sizeof *pools; c++)
        gradcheck(pools[c].name, 1, (var_spec[]){pools[c].x}, b_pool, pools[c].arg, NULL);

    ml_tensor *labels5 = random_labels(5, 10), *labels1 = random_labels(1, 3);
    gradcheck("nll_logsoftmax", 1, (var_spec[]){V2(5, 10, FILL_UNIFORM)}, b_nll, NULL, labels5);
    gradcheck("nll_logsoftmax batch 1", 1, (var_spec[]){V2(1, 3, FILL_UNIFORM)}, b_nll, NULL, labels1);
    gradcheck("bce_logits", 2, (var_spec[]){V2(3, 7, FILL_UNIFORM), V2(3, 7, FILL_UNIFORM)}, b_bce, NULL, NULL);
    gradcheck("bce_logits batch 1", 2, (var_spec[]){V2(1, 9, FILL_UNIFORM), V2(1, 9, FILL_UNIFORM)}, b_bce,
              NULL, NULL);
    gradcheck("squared_error", 2, (var_spec[]){V2(4, 9, FILL_UNIFORM), V2(4, 9, FILL_UNIFORM)}, b_sqerr,
              NULL, NULL);
    gradcheck("mlp with weight decay", 4,
              (var_spec[]){V2(5, 11, FILL_UNIFORM), V2(11, 13, FILL_UNIFORM), V1(13, FILL_UNIFORM),
                           V2(13, 10, FILL_UNIFORM)},
              b_mlp, NULL, labels5);
    ml_tensor_free(labels5);
    ml_tensor_free(labels1);
    return harness_done();
}
