/* The CPU convolution and pooling kernels at the MNIST conv net's shapes
 * (batch 100: conv 5x5x32 'same' -> maxpool 2x2 -> conv 5x5x64 'same' -> maxpool 2x2),
 * each next to a plain cblas_sgemm of the equivalent M, N, K measured in the same
 * run (the two alternated, so both see the same load on the machine).  Times are
 * medians of REPS runs after WARMUP runs. */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_conv.h"
#include "core/alloc.h"
#include "core/rng.h"

#define WARMUP 3
#define REPS 15
#define BATCH 100
#define BATCHES_PER_EPOCH 600

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *random_buffer(ml_rng *rng, int64_t n)
{
    float *p = ml_malloc((size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < n; i++)
        p[i] = ml_rng_uniform_range(rng, -1.0f, 1.0f);
    return p;
}

static void run_kernel(ml_kernel_fn fn, const ml_kernel_args *a)
{
    ml_status s = fn(a);
    if (s != ML_OK) {
        fprintf(stderr, "bench_conv: %s failed: %s\n", ml_op_name(a->op), ml_last_error());
        exit(1);
    }
}

/* Median seconds of a kernel call. */
static double time_kernel(ml_kernel_fn fn, const ml_kernel_args *a)
{
    double t[REPS];
    for (int r = 0; r < WARMUP + REPS; r++) {
        double t0 = now();
        run_kernel(fn, a);
        double dt = now() - t0;
        if (r >= WARMUP)
            t[r - WARMUP] = dt;
    }
    return median(t, REPS);
}

/* Median seconds of a kernel call and of C[M,N] = op(A) op(B) on fresh buffers,
 * the two alternated so that both see the same load on the machine. */
static void time_kernel_and_sgemm(ml_kernel_fn fn, const ml_kernel_args *a, ml_rng *rng, int ta,
                                  int tb, int M, int N, int K, double *t_kernel, double *t_sgemm)
{
    float *A = random_buffer(rng, (int64_t)M * K), *B = random_buffer(rng, (int64_t)K * N);
    float *C = random_buffer(rng, (int64_t)M * N);
    double tk[REPS], tg[REPS];
    for (int r = 0; r < WARMUP + REPS; r++) {
        double t0 = now();
        run_kernel(fn, a);
        double t1 = now();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C, N);
        double t2 = now();
        if (r >= WARMUP)
            tk[r - WARMUP] = t1 - t0, tg[r - WARMUP] = t2 - t1;
    }
    ml_free(A), ml_free(B), ml_free(C);
    *t_kernel = median(tk, REPS);
    *t_sgemm = median(tg, REPS);
}

static ml_tensor tensor4(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                         ml_tensor **keep)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    *keep = ml_tensor_wrap(ML_F32, 4, shape, data);
    return **keep;
}

/* Benchmarks one convolution layer; returns the seconds of forward, back input
 * and back weight in t[0..2]. */
static void bench_conv_layer(ml_rng *rng, const char *name, int C, int H, int W, int O, int KH,
                             int KW, int pad, double t[3])
{
    const int B = BATCH, OH = H + 2 * pad - KH + 1, OW = W + 2 * pad - KW + 1;
    const int K = C * KH * KW, N = B * OH * OW;
    float *x = random_buffer(rng, (int64_t)B * C * H * W), *w = random_buffer(rng, (int64_t)O * K);
    float *y = random_buffer(rng, (int64_t)B * O * OH * OW), *g = random_buffer(rng, (int64_t)B * O * OH * OW);
    float *dx = random_buffer(rng, (int64_t)B * C * H * W), *dw = random_buffer(rng, (int64_t)O * K);
    ml_tensor *k[6];
    ml_kernel_args a[3];
    memset(a, 0, sizeof a);
    static const ml_op ops[3] = {ML_OP_CONV2D, ML_OP_CONV2D_BACK_INPUT, ML_OP_CONV2D_BACK_WEIGHT};
    for (int i = 0; i < 3; i++) {
        a[i].op = ops[i];
        a[i].n_in = 2;
        a[i].p.ip[0] = 1, a[i].p.ip[1] = 1, a[i].p.ip[2] = pad, a[i].p.ip[3] = pad;
    }
    a[0].in[0] = tensor4(x, B, C, H, W, &k[0]);
    a[0].in[1] = tensor4(w, O, C, KH, KW, &k[1]);
    a[0].out = tensor4(y, B, O, OH, OW, &k[2]);
    a[1].in[0] = tensor4(g, B, O, OH, OW, &k[3]);
    a[1].in[1] = a[0].in[1];
    a[1].out = tensor4(dx, B, C, H, W, &k[4]);
    a[2].in[0] = a[0].in[0];
    a[2].in[1] = a[1].in[0];
    a[2].out = tensor4(dw, O, C, KH, KW, &k[5]);
    size_t ws = 0;
    for (int i = 0; i < 3; i++) {
        size_t s = ml_cpu_conv_workspace_bytes(&a[i]);
        ws = s > ws ? s : ws;
    }
    void *work = ml_malloc(ws);
    if (!work) {
        fprintf(stderr, "bench_conv: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 3; i++)
        a[i].workspace = work, a[i].workspace_bytes = ws;

    static const ml_kernel_fn fns[3] = {ml_cpu_conv2d, ml_cpu_conv2d_back_input,
                                        ml_cpu_conv2d_back_weight};
    static const char *what[3] = {"forward", "back_input", "back_weight"};
    /* The single GEMM each would be over the whole batch. */
    const int gm[3][5] = {{0, 0, O, N, K}, {1, 0, K, N, O}, {0, 1, O, K, N}};
    const double flops = 2.0 * O * (double)N * K;
    for (int i = 0; i < 3; i++) {
        double tg;
        time_kernel_and_sgemm(fns[i], &a[i], rng, gm[i][0], gm[i][1], gm[i][2], gm[i][3],
                              gm[i][4], &t[i], &tg);
        printf("%s %-11s x[%d,%d,%d,%d] w[%d,%d,%d,%d] pad %d: %8.3f ms %6.1f GFLOP/s | "
               "sgemm %s%s M=%d N=%d K=%d: %8.3f ms %6.1f GFLOP/s | ratio %.2f (workspace %.1f MiB)\n",
               name, what[i], B, C, H, W, O, C, KH, KW, pad, t[i] * 1e3, flops / t[i] * 1e-9,
               gm[i][0] ? "T" : "N", gm[i][1] ? "T" : "N", gm[i][2], gm[i][3], gm[i][4], tg * 1e3,
               flops / tg * 1e-9, tg / t[i], (double)ws / (1 << 20));
    }
    ml_free(work);
    for (int i = 0; i < 6; i++)
        ml_tensor_free(k[i]);
    ml_free(x), ml_free(w), ml_free(y), ml_free(g), ml_free(dx), ml_free(dw);
}

/* Max pooling 2x2 stride 2 forward and backward; returns their seconds. */
static void bench_pool(ml_rng *rng, const char *name, int C, int H, int W, double t[2])
{
    const int B = BATCH, OH = H / 2, OW = W / 2;
    float *x = random_buffer(rng, (int64_t)B * C * H * W), *y = random_buffer(rng, (int64_t)B * C * OH * OW);
    float *g = random_buffer(rng, (int64_t)B * C * OH * OW), *dx = random_buffer(rng, (int64_t)B * C * H * W);
    int32_t *arg = ml_malloc((size_t)B * C * OH * OW * sizeof(int32_t));
    ml_tensor *k[4];
    ml_kernel_args f, b;
    memset(&f, 0, sizeof f);
    f.op = ML_OP_POOL;
    f.n_in = 1;
    f.p.ip[0] = ML_POOL_MAX, f.p.ip[1] = 2, f.p.ip[2] = 2, f.p.ip[3] = 2, f.p.ip[4] = 2;
    f.in[0] = tensor4(x, B, C, H, W, &k[0]);
    f.out = tensor4(y, B, C, OH, OW, &k[1]);
    f.aux = arg;
    b = f;
    b.op = ML_OP_POOL_BACK;
    b.n_in = 2;
    b.in[0] = tensor4(g, B, C, OH, OW, &k[2]);
    b.in[1] = f.in[0];
    b.out = tensor4(dx, B, C, H, W, &k[3]);
    t[0] = time_kernel(ml_cpu_pool, &f);
    t[1] = time_kernel(ml_cpu_pool_back, &b);
    /* Bytes each moves: x or dx, y or g, and the argmax. */
    double bytes = 4.0 * B * C * ((double)H * W + 2.0 * OH * OW);
    printf("%s maxpool 2x2 forward  x[%d,%d,%d,%d]: %8.3f ms %6.1f GB/s\n", name, B, C, H, W,
           t[0] * 1e3, bytes / t[0] * 1e-9);
    printf("%s maxpool 2x2 backward x[%d,%d,%d,%d]: %8.3f ms %6.1f GB/s\n", name, B, C, H, W,
           t[1] * 1e3, bytes / t[1] * 1e-9);
    for (int i = 0; i < 4; i++)
        ml_tensor_free(k[i]);
    ml_free(x), ml_free(y), ml_free(g), ml_free(dx), ml_free(arg);
}

int main(void)
{
    ml_set_threads(0);
    printf("# bench_conv: OpenBLAS %s, %d threads, median of %d runs\n", openblas_get_corename(),
           openblas_get_num_threads(), REPS);
    ml_rng rng;
    ml_rng_seed(&rng, 42);
    double c1[3], c2[3], p1[2], p2[2];
    bench_conv_layer(&rng, "conv1", 1, 28, 28, 32, 5, 5, 2, c1);
    bench_conv_layer(&rng, "conv2", 32, 14, 14, 64, 5, 5, 2, c2);
    bench_pool(&rng, "pool1", 32, 28, 28, p1);
    bench_pool(&rng, "pool2", 64, 14, 14, p2);
    /* A training step needs no gradient for the images (conv1's back_input). */
    double step = c1[0] + c1[2] + c2[0] + c2[1] + c2[2] + p1[0] + p1[1] + p2[0] + p2[1];
    printf("conv+pool per batch of %d: %.3f ms; per epoch of %d batches: %.2f s\n", BATCH,
           step * 1e3, BATCHES_PER_EPOCH, step * BATCHES_PER_EPOCH);
    return 0;
}
