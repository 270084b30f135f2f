/* Core benchmarks: the library's matmul against cblas_sgemm called directly,
 * and one training step of a 784-500-500-10 ReLU MLP (forward, gradient,
 * momentum update) against the same GEMMs called directly, in one run. */
#include <cblas.h>
#include <string.h>
#include <time.h>

#include "ml.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds per call of fn(ctx) over `reps` samples of at least min_s each. */
static double time_median(void (*fn)(void *), void *ctx, int reps, double min_s)
{
    double samples[64];
    fn(ctx);
    for (int r = 0; r < reps; r++) {
        int calls = 0;
        double start = now(), t;
        do {
            fn(ctx);
            calls++;
            t = now() - start;
        } while (t < min_s);
        samples[r] = t / calls;
    }
    qsort(samples, (size_t)reps, sizeof *samples, cmp_double);
    return samples[reps / 2];
}

static ml_rng rng;

static ml_tensor *random_tensor(int ndim, const int64_t *shape, float scale)
{
    ml_tensor *t = ml_tensor_new(ML_F32, ndim, shape, ML_CPU);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        ml_tensor_f32(t)[i] = ml_rng_uniform_range(&rng, -scale, scale);
    return t;
}

typedef struct {
    int m, k, n;
    float *a, *b, *c;
    ml_fn *fn;
} gemm_case;

static void run_sgemm(void *p)
{
    gemm_case *g = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b,
                g->n, 0.0f, g->c, g->n);
}

static void run_fn(void *p)
{
    gemm_case *g = p;
    ml_fn_call(g->fn, NULL);
}

static void bench_matmul(int m, int k, int n)
{
    ml_graph *g = ml_graph_new();
    ml_tensor *a = random_tensor(2, (int64_t[]){m, k}, 1), *b = random_tensor(2, (int64_t[]){k, n}, 1);
    ml_node *prod = ml_matmul(g, ml_shared(g, "a", a), ml_shared(g, "b", b), 0, 0);
    gemm_case c = {m, k, n, ml_tensor_f32(a), ml_tensor_f32(b), ml_malloc((size_t)m * n * 4), NULL};
    ml_fn_spec spec = {.n_outputs = 1, .outputs = &prod, .max_batch = 1, .device = ML_CPU};
    if (ml_fn_compile(g, &spec, &c.fn) != ML_OK) {
        fprintf(stderr, "bench: %s\n", ml_last_error());
        exit(1);
    }
    double min_s = m * (double)k * n > 1e9 ? 0.3 : 0.05;
    /* Interleave the two so that both see the same machine load. */
    double t_blas = 0, t_lib = 0;
    for (int round = 0; round < 3; round++) {
        double tb = time_median(run_sgemm, &c, 5, min_s), tl = time_median(run_fn, &c, 5, min_s);
        t_blas = round == 0 || tb < t_blas ? tb : t_blas;
        t_lib = round == 0 || tl < t_lib ? tl : t_lib;
    }
    double flop = 2.0 * m * k * n;
    printf("matmul %4dx%4dx%4d  cblas_sgemm %7.1f GFLOP/s  ml_fn %7.1f GFLOP/s  overhead %+5.1f%%\n", m, k,
           n, flop / t_blas * 1e-9, flop / t_lib * 1e-9, (t_lib / t_blas - 1) * 100);
    ml_fn_free(c.fn);
    ml_free(c.c);
    ml_tensor_free(a);
    ml_tensor_free(b);
    ml_graph_free(g);
}

/* ---- The MLP step ---- */

typedef struct {
    int batch;
    ml_fn *fn;
    ml_tensor *x, *y;
    /* Direct GEMMs of the same step: forward, weight gradients, input gradients. */
    float *buf[16];
} mlp_case;

static const int dims[4] = {784, 500, 500, 10};

static void run_step(void *p)
{
    mlp_case *c = p;
    ml_tensor *in[2] = {c->x, c->y};
    ml_fn_call(c->fn, in);
}

/* The GEMMs one step needs, called directly: the bound the library is measured against. */
static void run_step_gemms(void *p)
{
    mlp_case *c = p;
    int B = c->batch;
    float **h = c->buf, **w = c->buf + 4, **dw = c->buf + 8, **dh = c->buf + 12;
    for (int l = 0; l < 3; l++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, dims[l + 1], dims[l], 1.0f, h[l], dims[l],
                    w[l], dims[l + 1], 0.0f, h[l + 1], dims[l + 1]);
    for (int l = 2; l >= 0; l--) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dims[l], dims[l + 1], B, 1.0f, h[l], dims[l],
                    dh[l + 1], dims[l + 1], 0.0f, dw[l], dims[l + 1]);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, dims[l], dims[l + 1], 1.0f, dh[l + 1],
                        dims[l + 1], w[l], dims[l + 1], 0.0f, dh[l], dims[l]);
    }
}

static double mlp_step_flop(int batch)
{
    double macs = 0;
    for (int l = 0; l < 3; l++)
        macs += 2.0 * batch * dims[l] * dims[l + 1] + (l > 0 ? (double)batch * dims[l] * dims[l + 1] : 0);
    return 2 * macs;
}

static void bench_mlp(int batch, int threads)
{
    ml_set_threads(threads);
    ml_graph *g = ml_graph_new();
    float lr = 0.01f, mom = 0.9f;
    ml_node *x = ml_input(g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, 784});
    ml_node *y = ml_input(g, "y", ML_I32, 1, (int64_t[]){ML_BATCH});
    ml_tensor *params[6], *vel[6];
    ml_node *p[6], *v[6], *grads[6], *steps[6];
    ml_node *h = x;
    for (int l = 0; l < 3; l++) {
        params[2 * l] = random_tensor(2, (int64_t[]){dims[l], dims[l + 1]}, 0.05f);
        params[2 * l + 1] = ml_tensor_new(ML_F32, 1, (int64_t[]){dims[l + 1]}, ML_CPU);
        for (int k = 0; k < 2; k++) {
            p[2 * l + k] = ml_shared(g, "p", params[2 * l + k]);
            vel[2 * l + k] = ml_tensor_new(ML_F32, params[2 * l + k]->ndim, params[2 * l + k]->shape, ML_CPU);
            v[2 * l + k] = ml_shared(g, "v", vel[2 * l + k]);
        }
        h = ml_add(g, ml_matmul(g, h, p[2 * l], 0, 0), p[2 * l + 1]);
        if (l < 2)
            h = ml_relu(g, h);
    }
    ml_node *cost = ml_nll_logsoftmax(g, h, y);
    ml_grad(g, cost, 6, p, grads);
    ml_node *nlr = ml_scalar(g, "lr", &lr), *nmom = ml_scalar(g, "momentum", &mom);
    for (int i = 0; i < 6; i++)
        steps[i] = ml_momentum_step(g, p[i], v[i], grads[i], nlr, nmom, 1.0f, 0);
    mlp_case c = {.batch = batch};
    ml_node *inputs[2] = {x, y};
    ml_fn_spec spec = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &cost, .n_effects = 6,
                       .effects = steps, .max_batch = batch, .device = ML_CPU};
    if (ml_fn_compile(g, &spec, &c.fn) != ML_OK) {
        fprintf(stderr, "bench: %s\n", ml_last_error());
        exit(1);
    }
    c.x = random_tensor(2, (int64_t[]){batch, 784}, 1.0f);
    c.y = ml_tensor_new(ML_I32, 1, (int64_t[]){batch}, ML_CPU);
    for (int i = 0; i < batch; i++)
        ml_tensor_i32(c.y)[i] = i % 10;
    for (int l = 0; l < 4; l++) {
        c.buf[l] = ml_calloc((size_t)batch * dims[l], 4);
        c.buf[12 + l] = ml_calloc((size_t)batch * dims[l], 4);
    }
    for (int l = 0; l < 3; l++) {
        c.buf[4 + l] = ml_calloc((size_t)dims[l] * dims[l + 1], 4);
        c.buf[8 + l] = ml_calloc((size_t)dims[l] * dims[l + 1], 4);
    }
    double t_step = 0, t_gemm = 0;
    for (int round = 0; round < 3; round++) {
        double ts = time_median(run_step, &c, 7, 0.1), tg = time_median(run_step_gemms, &c, 7, 0.1);
        t_step = round == 0 || ts < t_step ? ts : t_step;
        t_gemm = round == 0 || tg < t_gemm ? tg : t_gemm;
    }
    double flop = mlp_step_flop(batch);
    printf("mlp 784-500-500-10 batch %3d threads %d: %.3f ms/step (%.2f s per 60000-image epoch) %6.1f GFLOP/s;"
           " its GEMMs alone %.3f ms %6.1f GFLOP/s; step reaches %.0f%% of the GEMM bound\n",
           batch, threads, t_step * 1e3, t_step * 60000.0 / batch, flop / t_step * 1e-9, t_gemm * 1e3,
           flop / t_gemm * 1e-9, t_gemm / t_step * 100);
    for (int i = 0; i < 16; i++)
        ml_free(c.buf[i]);
    for (int i = 0; i < 6; i++) {
        ml_tensor_free(params[i]);
        ml_tensor_free(vel[i]);
    }
    ml_tensor_free(c.x);
    ml_tensor_free(c.y);
    ml_fn_free(c.fn);
    ml_graph_free(g);
}

int main(int argc, char **argv)
{
    ml_rng_seed(&rng, 1);
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    printf("# libml core benchmark (OpenBLAS%s), load average at start: ", OPENBLAS_VERSION);
    FILE *f = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (f && fgets(load, sizeof load, f))
        fputs(load, stdout);
    else
        printf("?\n");
    if (f)
        fclose(f);
    ml_set_threads(2);
    bench_matmul(100, 784, 500);
    bench_matmul(500, 500, 500);
    if (!quick)
        bench_matmul(2048, 2048, 2048);
    for (int threads = 1; threads <= 2; threads++) {
        bench_mlp(100, threads);
        bench_mlp(500, threads);
    }
    return 0;
}
