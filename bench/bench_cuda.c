/* CUDA benchmarks: the library's matmul against cublasSgemm called directly,
 * and training steps (forward, gradient, momentum update) of the 784-500-500-10
 * ReLU MLP and of a small conv net on the GPU, beside the same steps on the CPU.
 * Without a GPU (or without CUDA in the build) it says so and exits 0. */
#include <string.h>
#include <time.h>

#include "ml.h"

#ifdef ML_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

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

/* Median seconds per call of fn(ctx) over `reps` samples of at least min_s
 * each; sync(ctx) waits for the device at the end of each sample. */
static double time_median(void (*fn)(void *), void (*sync)(void *), void *ctx, int reps, double min_s)
{
    double samples[32];
    for (int w = 0; w < 3; w++)
        fn(ctx);
    sync(ctx);
    for (int r = 0; r < reps; r++) {
        int calls = 0;
        double start = now(), t;
        do {
            for (int k = 0; k < 5; k++)
                fn(ctx);
            calls += 5;
            sync(ctx);
            t = now() - start;
        } while (t < min_s);
        samples[r] = t / calls;
    }
    qsort(samples, (size_t)reps, sizeof *samples, cmp_double);
    return samples[reps / 2];
}

static ml_rng rng;
static const ml_backend *gpu;

static void sync_gpu(void *ctx)
{
    (void)ctx;
    gpu->sync();
    cudaDeviceSynchronize();
}

static void sync_none(void *ctx)
{
    (void)ctx;
}

static ml_tensor *random_tensor(int ndim, const int64_t *shape, float scale, ml_device dev)
{
    ml_tensor *t = ml_tensor_new(ML_F32, ndim, shape, ML_CPU);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        ml_tensor_f32(t)[i] = ml_rng_uniform_range(&rng, -scale, scale);
    if (dev == ML_CPU)
        return t;
    ml_tensor *d = ml_tensor_to(t, dev);
    ml_tensor_free(t);
    return d;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_cuda: %s: %s\n", what, ml_last_error());
    exit(1);
}

/* ---- matmul ---- */

typedef struct {
    int m, k, n;
    const float *a, *b;
    float *c;
    cublasHandle_t h;
    ml_fn *fn;
} gemm_case;

static void run_cublas(void *p)
{
    gemm_case *g = p;
    const float one = 1.0f, zero = 0.0f;
    cublasSgemm(g->h, CUBLAS_OP_N, CUBLAS_OP_N, g->n, g->m, g->k, &one, g->b, g->n, g->a, g->k, &zero, g->c, g->n);
}

static void run_fn(void *p)
{
    gemm_case *g = p;
    ml_fn_call(g->fn, NULL);
}

static void bench_matmul(cublasHandle_t h, int m, int k, int n)
{
    ml_graph *g = ml_graph_new();
    ml_tensor *a = random_tensor(2, (int64_t[]){m, k}, 1, ML_CUDA), *b = random_tensor(2, (int64_t[]){k, n}, 1, ML_CUDA);
    ml_node *prod = ml_matmul(g, ml_shared(g, "a", a), ml_shared(g, "b", b), 0, 0);
    ml_tensor *c = ml_tensor_new(ML_F32, 2, (int64_t[]){m, n}, ML_CUDA);
    gemm_case gc = {m, k, n, ml_tensor_f32(a), ml_tensor_f32(b), ml_tensor_f32(c), h, NULL};
    ml_fn_spec spec = {.n_outputs = 1, .outputs = &prod, .max_batch = 1, .device = ML_CUDA};
    if (ml_fn_compile(g, &spec, &gc.fn) != ML_OK)
        die("compile matmul");
    double t_blas = 1e30, t_lib = 1e30;
    for (int round = 0; round < 3; round++) {
        double tb = time_median(run_cublas, sync_gpu, &gc, 5, 0.05), tl = time_median(run_fn, sync_gpu, &gc, 5, 0.05);
        t_blas = tb < t_blas ? tb : t_blas;
        t_lib = tl < t_lib ? tl : t_lib;
    }
    double flop = 2.0 * m * k * n;
    printf("matmul %4dx%4dx%4d  cublasSgemm %8.1f GFLOP/s (%.3f ms)  ml_fn %8.1f GFLOP/s (%.3f ms)  overhead %+5.1f%%\n",
           m, k, n, flop / t_blas * 1e-9, t_blas * 1e3, flop / t_lib * 1e-9, t_lib * 1e3, (t_lib / t_blas - 1) * 100);
    ml_fn_free(gc.fn);
    ml_tensor_free(a);
    ml_tensor_free(b);
    ml_tensor_free(c);
    ml_graph_free(g);
}

/* ---- training steps ---- */

typedef struct {
    ml_fn *fn;
    ml_tensor *x, *y;
    ml_graph *g;
    ml_tensor *params[8], *vel[8];
    int n_params;
    float lr, mom;
} step_case;

static void run_step(void *p)
{
    step_case *c = p;
    ml_tensor *in[2] = {c->x, c->y};
    if (ml_fn_call(c->fn, in) != ML_OK)
        die("step");
}

static void step_free(step_case *c)
{
    ml_fn_free(c->fn);
    for (int i = 0; i < c->n_params; i++) {
        ml_tensor_free(c->params[i]);
        ml_tensor_free(c->vel[i]);
    }
    ml_tensor_free(c->x);
    ml_tensor_free(c->y);
    ml_graph_free(c->g);
}

static ml_node *param(step_case *c, ml_node **p, ml_node **v, int nd, const int64_t *shape, float scale,
                      ml_device dev)
{
    int i = c->n_params++;
    c->params[i] = random_tensor(nd, shape, scale, dev);
    c->vel[i] = ml_tensor_new(ML_F32, nd, shape, dev);
    p[i] = ml_shared(c->g, "p", c->params[i]);
    v[i] = ml_shared(c->g, "v", c->vel[i]);
    return p[i];
}

static void step_compile(step_case *c, ml_node *x, ml_node *y, ml_node *logits, ml_node **p, ml_node **v,
                         int batch, ml_device dev)
{
    ml_node *grads[8], *steps[8];
    ml_node *cost = ml_nll_logsoftmax(c->g, logits, y);
    if (ml_grad(c->g, cost, c->n_params, p, grads) != ML_OK)
        die("grad");
    c->lr = 0.01f;
    c->mom = 0.9f;
    ml_node *nlr = ml_scalar(c->g, "lr", &c->lr), *nmom = ml_scalar(c->g, "momentum", &c->mom);
    for (int i = 0; i < c->n_params; i++)
        steps[i] = ml_momentum_step(c->g, p[i], v[i], grads[i], nlr, nmom, 1.0f, 0);
    ml_node *inputs[2] = {x, y};
    ml_fn_spec spec = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &cost,
                       .n_effects = c->n_params, .effects = steps, .max_batch = batch, .device = dev};
    if (ml_fn_compile(c->g, &spec, &c->fn) != ML_OK)
        die("compile");
    ml_tensor *yl = ml_tensor_new(ML_I32, 1, (int64_t[]){batch}, ML_CPU);
    for (int i = 0; i < batch; i++)
        ml_tensor_i32(yl)[i] = i % 10;
    c->y = dev == ML_CPU ? yl : ml_tensor_to(yl, dev);
    if (c->y != yl)
        ml_tensor_free(yl);
}

static void build_mlp(step_case *c, int batch, ml_device dev)
{
    static const int dims[4] = {784, 500, 500, 10};
    memset(c, 0, sizeof *c);
    c->g = ml_graph_new();
    ml_node *p[8], *v[8];
    ml_node *x = ml_input(c->g, "x", ML_F32, 2, (int64_t[]){ML_BATCH, 784});
    ml_node *y = ml_input(c->g, "y", ML_I32, 1, (int64_t[]){ML_BATCH});
    ml_node *h = x;
    for (int l = 0; l < 3; l++) {
        ml_node *w = param(c, p, v, 2, (int64_t[]){dims[l], dims[l + 1]}, 0.05f, dev);
        ml_node *b = param(c, p, v, 1, (int64_t[]){dims[l + 1]}, 0.0f, dev);
        h = ml_add(c->g, ml_matmul(c->g, h, w, 0, 0), b);
        if (l < 2)
            h = ml_relu(c->g, h);
    }
    step_compile(c, x, y, h, p, v, batch, dev);
    c->x = random_tensor(2, (int64_t[]){batch, 784}, 1.0f, dev);
}

static void build_convnet(step_case *c, int batch, ml_device dev)
{
    memset(c, 0, sizeof *c);
    c->g = ml_graph_new();
    ml_node *p[8], *v[8];
    ml_node *x = ml_input(c->g, "x", ML_F32, 4, (int64_t[]){ML_BATCH, 1, 28, 28});
    ml_node *y = ml_input(c->g, "y", ML_I32, 1, (int64_t[]){ML_BATCH});
    ml_node *w1 = param(c, p, v, 4, (int64_t[]){32, 1, 5, 5}, 0.2f, dev);
    ml_node *b1 = param(c, p, v, 3, (int64_t[]){32, 1, 1}, 0.0f, dev);
    ml_node *w2 = param(c, p, v, 4, (int64_t[]){64, 32, 5, 5}, 0.05f, dev);
    ml_node *b2 = param(c, p, v, 3, (int64_t[]){64, 1, 1}, 0.0f, dev);
    ml_node *w3 = param(c, p, v, 2, (int64_t[]){64 * 7 * 7, 10}, 0.02f, dev);
    ml_node *b3 = param(c, p, v, 1, (int64_t[]){10}, 0.0f, dev);
    ml_node *h = ml_relu(c->g, ml_add(c->g, ml_conv2d(c->g, x, w1, 1, 1, 2, 2), b1));
    h = ml_pool(c->g, h, ML_POOL_MAX, 2, 2, 2, 2, 1);
    h = ml_relu(c->g, ml_add(c->g, ml_conv2d(c->g, h, w2, 1, 1, 2, 2), b2));
    h = ml_pool(c->g, h, ML_POOL_MAX, 2, 2, 2, 2, 1);
    h = ml_add(c->g, ml_matmul(c->g, ml_flatten(c->g, h), w3, 0, 0), b3);
    step_compile(c, x, y, h, p, v, batch, dev);
    c->x = random_tensor(4, (int64_t[]){batch, 1, 28, 28}, 1.0f, dev);
}

static double bench_step(void (*build)(step_case *, int, ml_device), int batch, ml_device dev)
{
    step_case c;
    build(&c, batch, dev);
    double t = 1e30;
    for (int round = 0; round < (dev == ML_CPU ? 1 : 3); round++) {
        double s = time_median(run_step, dev == ML_CPU ? sync_none : sync_gpu, &c, dev == ML_CPU ? 3 : 5,
                               dev == ML_CPU ? 0.2 : 0.05);
        t = s < t ? s : t;
    }
    step_free(&c);
    return t;
}

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    gpu = ml_backend_get(ML_CUDA);
    if (!gpu) {
        printf("# bench_cuda: skipped: %s\n", ml_last_error());
        return 0;
    }
    ml_rng_seed(&rng, 1);
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    ml_set_threads(0);
    printf("# libml CUDA benchmark on %s (%d SMs); CPU steps with %d OpenBLAS threads\n", prop.name,
           prop.multiProcessorCount, ml_get_threads());
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "bench_cuda: cublasCreate failed\n");
        return 1;
    }
    bench_matmul(h, 100, 784, 500);
    bench_matmul(h, 500, 500, 500);
    bench_matmul(h, 2048, 2048, 2048);
    if (!quick)
        bench_matmul(h, 4096, 4096, 4096);
    cublasDestroy(h);
    const int batches[2] = {100, 500};
    for (int i = 0; i < 2; i++) {
        double tg = bench_step(build_mlp, batches[i], ML_CUDA), tc = bench_step(build_mlp, batches[i], ML_CPU);
        printf("mlp 784-500-500-10 step, batch %3d: cuda %7.3f ms (%5.2f s per 60000-image epoch)  cpu %7.3f ms  "
               "speedup %.1fx\n",
               batches[i], tg * 1e3, tg * 60000.0 / batches[i], tc * 1e3, tc / tg);
    }
    for (int i = 0; i < 2; i++) {
        double tg = bench_step(build_convnet, batches[i], ML_CUDA), tc = bench_step(build_convnet, batches[i], ML_CPU);
        printf("convnet conv5x5x32-pool-conv5x5x64-pool-dense step, batch %3d: cuda %7.3f ms  cpu %7.3f ms  "
               "speedup %.1fx\n",
               batches[i], tg * 1e3, tc * 1e3, tc / tg);
    }
    return 0;
}

#else

int main(void)
{
    printf("# bench_cuda: skipped: libml was built without CUDA\n");
    return 0;
}

#endif
