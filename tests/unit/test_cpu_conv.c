/* The CPU convolution and pooling kernels against direct double-precision loops,
 * and the backward kernels as exact adjoints of the forward ones. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_conv.h"
#include "backend/ops.h"
#include "core/error.h"
#include "core/rng.h"
#include "harness.h"

/* |kernel - reference| <= TOL * sum of |terms| of the reference (+ TINY). */
#define CONV_TOL 1e-5
#define ADJOINT_TOL 1e-5
#define MEAN_POOL_TOL 1e-6
#define TINY 1e-30

/* ------------------------------------------------------------------------- */
/* Small helpers                                                             */

static ml_tensor tensor4(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                         ml_tensor **keep)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    *keep = ml_tensor_wrap(ML_F32, 4, shape, data);
    return **keep;
}

static float *random_floats(ml_rng *rng, int64_t n, int relu_like)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        p[i] = ml_rng_uniform_range(rng, -1.0f, 1.0f);
        if (relu_like && p[i] < 0)
            p[i] = 0.0f; /* many ties, as after a ReLU */
    }
    return p;
}

static double dot(const float *a, const float *b, int64_t n, double *abs_sum)
{
    double s = 0, as = 0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        as += fabs((double)a[i] * b[i]);
    }
    if (abs_sum)
        *abs_sum = as;
    return s;
}

/* Largest |got - ref| / (abs + TINY), the error relative to each element's scale. */
static double worst_error(const float *got, const double *ref, const double *abs, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - ref[i]) / (abs[i] + TINY);
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* ------------------------------------------------------------------------- */
/* Convolution                                                               */

typedef struct {
    int B, C, H, W, O, KH, KW, sh, sw, ph, pw;
} conv_case;

static int conv_oh(const conv_case *t)
{
    return (t->H + 2 * t->ph - t->KH) / t->sh + 1;
}

static int conv_ow(const conv_case *t)
{
    return (t->W + 2 * t->pw - t->KW) / t->sw + 1;
}

/* Direct loops: y, dx, dw (and the sums of |terms| of each). */
static void ref_conv_all(const conv_case *t, const float *x, const float *w, const float *g,
                         double *y, double *ya, double *dx, double *dxa, double *dw, double *dwa)
{
    const int OH = conv_oh(t), OW = conv_ow(t);
    memset(y, 0, sizeof(double) * (size_t)t->B * t->O * OH * OW);
    memset(ya, 0, sizeof(double) * (size_t)t->B * t->O * OH * OW);
    memset(dx, 0, sizeof(double) * (size_t)t->B * t->C * t->H * t->W);
    memset(dxa, 0, sizeof(double) * (size_t)t->B * t->C * t->H * t->W);
    memset(dw, 0, sizeof(double) * (size_t)t->O * t->C * t->KH * t->KW);
    memset(dwa, 0, sizeof(double) * (size_t)t->O * t->C * t->KH * t->KW);
    for (int b = 0; b < t->B; b++)
        for (int o = 0; o < t->O; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    size_t yi = (((size_t)b * t->O + o) * OH + oh) * OW + ow;
                    for (int c = 0; c < t->C; c++)
                        for (int kh = 0; kh < t->KH; kh++)
                            for (int kw = 0; kw < t->KW; kw++) {
                                int ih = oh * t->sh - t->ph + kh, iw = ow * t->sw - t->pw + kw;
                                if (ih < 0 || ih >= t->H || iw < 0 || iw >= t->W)
                                    continue;
                                size_t xi = (((size_t)b * t->C + c) * t->H + ih) * t->W + iw;
                                size_t wi = (((size_t)o * t->C + c) * t->KH + kh) * t->KW + kw;
                                double xw = (double)x[xi] * w[wi];
                                y[yi] += xw;
                                ya[yi] += fabs(xw);
                                double gw = (double)g[yi] * w[wi];
                                dx[xi] += gw;
                                dxa[xi] += fabs(gw);
                                double gx = (double)g[yi] * x[xi];
                                dw[wi] += gx;
                                dwa[wi] += fabs(gx);
                            }
                }
}

static ml_kernel_args conv_args(ml_op op, const conv_case *t)
{
    ml_kernel_args a;
    memset(&a, 0, sizeof a);
    a.op = op;
    a.n_in = 2;
    a.p.ip[0] = t->sh, a.p.ip[1] = t->sw, a.p.ip[2] = t->ph, a.p.ip[3] = t->pw;
    return a;
}

/* The workspace the three kernels ask for, for the case's batch or for one image. */
static size_t conv_workspace(const ml_kernel_args *f, const ml_kernel_args *bi,
                             const ml_kernel_args *bw, int one_image)
{
    ml_kernel_args a[3] = {*f, *bi, *bw};
    size_t ws = 0;
    for (int i = 0; i < 3; i++) {
        if (one_image) { /* only shapes are read */
            a[i].in[0].shape[0] = 1;
            if (i == 2)
                a[i].in[1].shape[0] = 1;
            else
                a[i].out.shape[0] = 1;
        }
        size_t s = ml_cpu_conv_workspace_bytes(&a[i]);
        ws = s > ws ? s : ws;
    }
    return ws;
}

/* Runs the three kernels on one case.  small_workspace > 0 gives them that many
 * times the workspace of one image instead of what they ask for (smaller chunks). */
static void check_conv(const conv_case *t, uint64_t seed, int small_workspace)
{
    const int OH = conv_oh(t), OW = conv_ow(t);
    const int64_t nx = (int64_t)t->B * t->C * t->H * t->W, nw = (int64_t)t->O * t->C * t->KH * t->KW,
                  ny = (int64_t)t->B * t->O * OH * OW;
    ml_rng rng;
    ml_rng_seed(&rng, seed);
    float *x = random_floats(&rng, nx, 0), *w = random_floats(&rng, nw, 0),
          *g = random_floats(&rng, ny, 0);
    float *y = malloc(sizeof(float) * (size_t)ny), *dx = malloc(sizeof(float) * (size_t)nx),
          *dw = malloc(sizeof(float) * (size_t)nw);
    /* Garbage in the outputs: kernels must overwrite them. */
    for (int64_t i = 0; i < ny; i++)
        y[i] = NAN;
    for (int64_t i = 0; i < nx; i++)
        dx[i] = NAN;
    for (int64_t i = 0; i < nw; i++)
        dw[i] = 1e30f;
    double *ry = malloc(sizeof(double) * (size_t)ny), *rya = malloc(sizeof(double) * (size_t)ny);
    double *rdx = malloc(sizeof(double) * (size_t)nx), *rdxa = malloc(sizeof(double) * (size_t)nx);
    double *rdw = malloc(sizeof(double) * (size_t)nw), *rdwa = malloc(sizeof(double) * (size_t)nw);
    ref_conv_all(t, x, w, g, ry, rya, rdx, rdxa, rdw, rdwa);

    ml_tensor *kx, *kw, *ky, *kdx, *kdw, *kg;
    ml_tensor tx = tensor4(x, t->B, t->C, t->H, t->W, &kx);
    ml_tensor tw = tensor4(w, t->O, t->C, t->KH, t->KW, &kw);
    ml_tensor ty = tensor4(y, t->B, t->O, OH, OW, &ky);
    ml_tensor tg = tensor4(g, t->B, t->O, OH, OW, &kg);
    ml_tensor tdx = tensor4(dx, t->B, t->C, t->H, t->W, &kdx);
    ml_tensor tdw = tensor4(dw, t->O, t->C, t->KH, t->KW, &kdw);

    char name[160];
    snprintf(name, sizeof name, "B%d C%d %dx%d O%d k%dx%d s%d,%d p%d,%d%s", t->B, t->C, t->H, t->W,
             t->O, t->KH, t->KW, t->sh, t->sw, t->ph, t->pw,
             small_workspace > 0 ? " (small workspace)" : "");

    ml_kernel_args f = conv_args(ML_OP_CONV2D, t);
    f.in[0] = tx, f.in[1] = tw, f.out = ty;
    ml_kernel_args bi = conv_args(ML_OP_CONV2D_BACK_INPUT, t);
    bi.in[0] = tg, bi.in[1] = tw, bi.out = tdx;
    ml_kernel_args bw = conv_args(ML_OP_CONV2D_BACK_WEIGHT, t);
    bw.in[0] = tx, bw.in[1] = tg, bw.out = tdw;

    size_t ws = conv_workspace(&f, &bi, &bw, 0);
    if (small_workspace > 0) {
        size_t one = conv_workspace(&f, &bi, &bw, 1);
        CHECK(one > 0 && one <= ws, "conv2d %s: one image needs %zu bytes, the batch %zu", name,
              one, ws);
        ws = one * (size_t)small_workspace;
    }
    void *work = malloc(ws > 0 ? ws : 1);
    f.workspace = bi.workspace = bw.workspace = work;
    f.workspace_bytes = bi.workspace_bytes = bw.workspace_bytes = ws;

    CHECK_OK(ml_cpu_conv2d(&f), "conv2d %s runs", name);
    CHECK_OK(ml_cpu_conv2d_back_input(&bi), "conv2d_back_input %s runs", name);
    CHECK_OK(ml_cpu_conv2d_back_weight(&bw), "conv2d_back_weight %s runs", name);
    double e;
    e = worst_error(y, ry, rya, ny);
    CHECK(e <= CONV_TOL, "conv2d %s matches direct loops (rel. error %.2g)", name, e);
    e = worst_error(dx, rdx, rdxa, nx);
    CHECK(e <= CONV_TOL, "conv2d_back_input %s matches direct loops (rel. error %.2g)", name, e);
    e = worst_error(dw, rdw, rdwa, nw);
    CHECK(e <= CONV_TOL, "conv2d_back_weight %s matches direct loops (rel. error %.2g)", name, e);

    /* <conv(x, w), g> == <x, back_input(g, w)> == <w, back_weight(x, g)>. */
    double a1, a2, a3, s1, s2, s3;
    a1 = dot(y, g, ny, &s1);
    a2 = dot(x, dx, nx, &s2);
    a3 = dot(w, dw, nw, &s3);
    double scale = fmax(s1, fmax(s2, s3)) + TINY;
    CHECK(fabs(a1 - a2) <= ADJOINT_TOL * scale && fabs(a1 - a3) <= ADJOINT_TOL * scale,
          "conv2d %s: back_input and back_weight are its adjoints (%.9g, %.9g, %.9g)", name, a1,
          a2, a3);

    ml_tensor_free(kx), ml_tensor_free(kw), ml_tensor_free(ky), ml_tensor_free(kg);
    ml_tensor_free(kdx), ml_tensor_free(kdw);
    free(work);
    free(x), free(w), free(g), free(y), free(dx), free(dw);
    free(ry), free(rya), free(rdx), free(rdxa), free(rdw), free(rdwa);
}

static void test_conv_shapes(void)
{
    static const int sizes[2][2] = {{7, 9}, {28, 28}};
    static const int kernels[3] = {1, 3, 5};
    static const int batches[2] = {1, 3};
    static const int channels[3] = {1, 3, 5};
    uint64_t seed = 1000;
    for (int si = 0; si < 2; si++)
        for (int ki = 0; ki < 3; ki++)
            for (int stride = 1; stride <= 2; stride++)
                for (int pad = 0; pad <= 2; pad++)
                    for (int bi = 0; bi < 2; bi++) {
                        /* Every batch and channel count over the loop, not all pairs. */
                        int C = channels[(si + ki + stride + pad + bi) % 3];
                        conv_case t = {batches[bi], C, sizes[si][0], sizes[si][1],
                                       ki == 2 ? 4 : 3, kernels[ki], kernels[ki], stride,
                                       stride, pad, pad};
                        check_conv(&t, seed++, 0);
                    }
    /* Every channel count with the net's 'same' 5x5 and 3x3. */
    for (int ci = 0; ci < 3; ci++) {
        conv_case t5 = {3, channels[ci], 28, 28, 8, 5, 5, 1, 1, 2, 2};
        conv_case t3 = {3, channels[ci], 7, 9, 5, 3, 3, 1, 1, 1, 1};
        check_conv(&t5, seed++, 0);
        check_conv(&t3, seed++, 0);
    }
    /* Asymmetric kernels, strides and padding. */
    conv_case asym[] = {
        {3, 3, 7, 9, 4, 3, 5, 1, 2, 2, 1},
        {1, 5, 28, 28, 6, 5, 3, 2, 1, 0, 2},
        {3, 1, 9, 7, 2, 1, 3, 2, 1, 1, 0},
        {2, 2, 7, 9, 3, 3, 3, 3, 2, 4, 0}, /* padding wider than the kernel */
    };
    for (size_t i = 0; i < sizeof asym / sizeof asym[0]; i++)
        check_conv(&asym[i], seed++, 0);
    /* A batch split into several chunks, the last one partial; then less
     * workspace than asked for (smaller chunks, down to one image). */
    conv_case big = {7, 3, 28, 28, 4, 5, 5, 1, 1, 2, 2};
    check_conv(&big, seed++, 0);
    check_conv(&big, seed++, 1);
    conv_case net2 = {5, 32, 14, 14, 16, 5, 5, 1, 1, 2, 2};
    check_conv(&net2, seed++, 0);
    check_conv(&net2, seed++, 1);
    check_conv(&net2, seed++, 3);
    conv_case small = {40, 2, 7, 9, 3, 3, 3, 1, 1, 1, 1};
    check_conv(&small, seed++, 0);
    check_conv(&small, seed++, 4);
    conv_case one = {4, 5, 7, 9, 6, 1, 1, 1, 1, 0, 0}; /* 1x1: images are their own columns */
    check_conv(&one, seed++, 0);
    check_conv(&one, seed++, 1);
}

static void test_conv_errors(void)
{
    float buf[4096] = {0};
    ml_tensor *k1, *k2, *k3;
    conv_case t = {1, 2, 7, 7, 3, 3, 3, 1, 1, 0, 0};
    ml_kernel_args f = conv_args(ML_OP_CONV2D, &t);
    f.in[0] = tensor4(buf, 1, 2, 7, 7, &k1);
    f.in[1] = tensor4(buf + 1000, 3, 2, 3, 3, &k2);
    f.out = tensor4(buf + 2000, 1, 3, 6, 5, &k3); /* should be 5x5 */
    char work[1 << 16];
    f.workspace = work;
    f.workspace_bytes = sizeof work;
    CHECK(ml_cpu_conv2d(&f) == ML_ESHAPE, "conv2d rejects a wrong output shape: %s",
          ml_last_error());
    ml_tensor_free(k3);
    f.out = tensor4(buf + 2000, 1, 3, 5, 5, &k3);
    CHECK(ml_cpu_conv_workspace_bytes(&f) > 0, "conv2d asks for workspace");
    f.workspace_bytes = 16;
    CHECK(ml_cpu_conv2d(&f) == ML_EINVAL, "conv2d rejects a too small workspace: %s",
          ml_last_error());
    f.workspace_bytes = sizeof work;
    f.p.ip[0] = 0;
    CHECK(ml_cpu_conv2d(&f) == ML_EINVAL, "conv2d rejects stride 0: %s", ml_last_error());
    ml_kernel_args p;
    memset(&p, 0, sizeof p);
    p.op = ML_OP_POOL;
    CHECK(ml_cpu_conv_workspace_bytes(&p) == 0, "pooling needs no workspace");
    ml_tensor_free(k1), ml_tensor_free(k2), ml_tensor_free(k3);
}

/* ------------------------------------------------------------------------- */
/* Pooling                                                                   */

typedef struct {
    int B, C, H, W, kind, kh, kw, sh, sw, keep;
} pool_case;

static int pool_out(int n, int k, int s, int keep)
{
    if (keep) /* ceil((n - k) / s) + 1, n >= k here */
        return (n - k + s - 1) / s + 1;
    return (n - k) / s + 1;
}

static void check_pool(const pool_case *t, uint64_t seed, int relu_like)
{
    const int OH = pool_out(t->H, t->kh, t->sh, t->keep), OW = pool_out(t->W, t->kw, t->sw, t->keep);
    const int64_t planes = (int64_t)t->B * t->C, nx = planes * t->H * t->W, ny = planes * OH * OW;
    ml_rng rng;
    ml_rng_seed(&rng, seed);
    float *x = random_floats(&rng, nx, relu_like), *g = random_floats(&rng, ny, 0);
    float *y = malloc(sizeof(float) * (size_t)ny), *dx = malloc(sizeof(float) * (size_t)nx);
    int32_t *arg = malloc(sizeof(int32_t) * (size_t)ny);
    double *ry = malloc(sizeof(double) * (size_t)ny), *rdx = calloc((size_t)nx, sizeof(double));
    int32_t *rarg = malloc(sizeof(int32_t) * (size_t)ny);
    for (int64_t i = 0; i < ny; i++)
        y[i] = NAN, arg[i] = -7;
    for (int64_t i = 0; i < nx; i++)
        dx[i] = NAN;

    /* Reference: clipped windows scanned row by row, the first maximum kept. */
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * t->sh, w0 = ow * t->sw;
                int h1 = h0 + t->kh < t->H ? h0 + t->kh : t->H;
                int w1 = w0 + t->kw < t->W ? w0 + t->kw : t->W;
                size_t yi = ((size_t)pl * OH + oh) * OW + ow;
                double s = 0, best = -INFINITY;
                int bi = -1;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        double v = x[((size_t)pl * t->H + h) * t->W + w];
                        s += v;
                        if (bi < 0 || v > best)
                            best = v, bi = h * t->W + w;
                    }
                int n = (h1 - h0) * (w1 - w0);
                if (t->kind == ML_POOL_MAX) {
                    ry[yi] = best, rarg[yi] = bi;
                    rdx[(size_t)pl * t->H * t->W + bi] += g[yi];
                } else {
                    ry[yi] = s / n;
                    for (int h = h0; h < h1; h++)
                        for (int w = w0; w < w1; w++)
                            rdx[((size_t)pl * t->H + h) * t->W + w] += (double)g[yi] / n;
                }
            }

    ml_tensor *kx, *ky, *kg, *kdx;
    ml_kernel_args f;
    memset(&f, 0, sizeof f);
    f.op = ML_OP_POOL;
    f.n_in = 1;
    f.p.ip[0] = t->kind, f.p.ip[1] = t->kh, f.p.ip[2] = t->kw, f.p.ip[3] = t->sh;
    f.p.ip[4] = t->sw, f.p.ip[5] = t->keep;
    f.in[0] = tensor4(x, t->B, t->C, t->H, t->W, &kx);
    f.out = tensor4(y, t->B, t->C, OH, OW, &ky);
    f.aux = t->kind == ML_POOL_MAX ? arg : NULL;
    ml_kernel_args b = f;
    b.op = ML_OP_POOL_BACK;
    b.n_in = 2;
    b.in[0] = tensor4(g, t->B, t->C, OH, OW, &kg);
    b.in[1] = f.in[0];
    b.out = tensor4(dx, t->B, t->C, t->H, t->W, &kdx);

    char name[160];
    snprintf(name, sizeof name, "%s B%d C%d %dx%d size %dx%d stride %dx%d %s%s",
             t->kind == ML_POOL_MAX ? "max" : "mean", t->B, t->C, t->H, t->W, t->kh, t->kw,
             t->sh, t->sw, t->keep ? "partial kept" : "partial dropped",
             relu_like ? " (ties)" : "");
    CHECK_OK(ml_cpu_pool(&f), "pool %s runs", name);
    CHECK_OK(ml_cpu_pool_back(&b), "pool_back %s runs", name);

    int same = 1;
    double worst = 0;
    for (int64_t i = 0; i < ny; i++) {
        if (t->kind == ML_POOL_MAX) {
            if (y[i] != (float)ry[i] || arg[i] != rarg[i])
                same = 0;
        } else {
            double e = fabs(y[i] - ry[i]);
            if (!(e <= worst))
                worst = isnan(e) ? INFINITY : e;
        }
    }
    if (t->kind == ML_POOL_MAX)
        CHECK(same, "pool %s: maxima and argmax match direct loops", name);
    else
        CHECK(worst <= MEAN_POOL_TOL, "pool %s matches direct loops (error %.2g)", name, worst);
    worst = 0;
    for (int64_t i = 0; i < nx; i++) {
        double e = fabs(dx[i] - rdx[i]);
        if (!(e <= worst))
            worst = isnan(e) ? INFINITY : e;
    }
    CHECK(worst <= MEAN_POOL_TOL, "pool_back %s matches direct loops (error %.2g)", name, worst);

    /* <pool(x), g> == <x, pool_back(g)> (max: the selection by the stored argmax). */
    double s1, s2, a1 = dot(y, g, ny, &s1), a2 = dot(x, dx, nx, &s2);
    CHECK(fabs(a1 - a2) <= ADJOINT_TOL * (fmax(s1, s2) + TINY),
          "pool_back %s is the adjoint of pool (%.9g, %.9g)", name, a1, a2);

    ml_tensor_free(kx), ml_tensor_free(ky), ml_tensor_free(kg), ml_tensor_free(kdx);
    free(x), free(g), free(y), free(dx), free(arg), free(ry), free(rdx), free(rarg);
}

static void test_pool_shapes(void)
{
    static const int sizes[3][2] = {{7, 9}, {28, 28}, {13, 35}};
    static const int windows[4][4] = {{2, 2, 2, 2}, {3, 3, 2, 2}, {2, 2, 1, 1}, {3, 2, 3, 1}};
    static const int batches[2] = {1, 3};
    static const int channels[3] = {1, 3, 5};
    uint64_t seed = 5000;
    int n = 0;
    for (int si = 0; si < 3; si++)
        for (int wi = 0; wi < 4; wi++)
            for (int keep = 0; keep <= 1; keep++)
                for (int kind = ML_POOL_MAX; kind <= ML_POOL_MEAN; kind++) {
                    pool_case t = {batches[n % 2], channels[n % 3], sizes[si][0], sizes[si][1],
                                   kind, windows[wi][0], windows[wi][1], windows[wi][2],
                                   windows[wi][3], keep};
                    n++;
                    check_pool(&t, seed++, 0);
                    if (kind == ML_POOL_MAX)
                        check_pool(&t, seed++, 1);
                }
    /* The conv net's pooling layers. */
    pool_case net1 = {3, 32, 28, 28, ML_POOL_MAX, 2, 2, 2, 2, 0};
    pool_case net2 = {3, 64, 14, 14, ML_POOL_MAX, 2, 2, 2, 2, 1};
    check_pool(&net1, seed++, 1);
    check_pool(&net2, seed++, 0);
}

static void test_pool_errors(void)
{
    float x[81] = {0}, y[25];
    int32_t arg[25];
    ml_tensor *kx, *ky;
    ml_kernel_args f;
    memset(&f, 0, sizeof f);
    f.op = ML_OP_POOL;
    f.n_in = 1;
    f.p.ip[0] = ML_POOL_MAX, f.p.ip[1] = 2, f.p.ip[2] = 2, f.p.ip[3] = 2, f.p.ip[4] = 2;
    f.p.ip[5] = 0;
    f.in[0] = tensor4(x, 1, 1, 9, 9, &kx);
    f.out = tensor4(y, 1, 1, 5, 5, &ky); /* 5x5 only with the partial window kept */
    f.aux = arg;
    CHECK(ml_cpu_pool(&f) == ML_ESHAPE, "pool rejects an output shape for the other mode: %s",
          ml_last_error());
    f.p.ip[5] = 1;
    CHECK_OK(ml_cpu_pool(&f), "pool with the partial window kept gives 5x5 from 9x9");
    f.aux = NULL;
    CHECK(ml_cpu_pool(&f) == ML_EINVAL, "max pool without argmax state is refused: %s",
          ml_last_error());
    f.p.ip[0] = 7;
    CHECK(ml_cpu_pool(&f) == ML_EINVAL, "unknown pool kind is refused: %s", ml_last_error());
    ml_tensor_free(kx), ml_tensor_free(ky);
}

/* Stride past the window with the partial window kept: the last window starts
 * outside the image and is empty (output 0, argmax -1, no gradient). */
static void test_pool_empty_windows(void)
{
    float x[36], y[9], g[9], dx[36];
    int32_t arg[9];
    for (int i = 0; i < 36; i++)
        x[i] = (float)(i % 7) - 3.0f;
    for (int i = 0; i < 9; i++)
        g[i] = 1.0f;
    ml_tensor *kx, *ky, *kg, *kdx;
    for (int kind = ML_POOL_MAX; kind <= ML_POOL_MEAN; kind++) {
        ml_kernel_args f;
        memset(&f, 0, sizeof f);
        f.op = ML_OP_POOL;
        f.n_in = 1;
        f.p.ip[0] = kind, f.p.ip[1] = 2, f.p.ip[2] = 2, f.p.ip[3] = 3, f.p.ip[4] = 3;
        f.p.ip[5] = 1;
        f.in[0] = tensor4(x, 1, 1, 6, 6, &kx);
        f.out = tensor4(y, 1, 1, 3, 3, &ky); /* ceil((6 - 2) / 3) + 1 = 3 */
        f.aux = arg;
        ml_kernel_args b = f;
        b.op = ML_OP_POOL_BACK;
        b.n_in = 2;
        b.in[0] = tensor4(g, 1, 1, 3, 3, &kg);
        b.in[1] = f.in[0];
        b.out = tensor4(dx, 1, 1, 6, 6, &kdx);
        CHECK_OK(ml_cpu_pool(&f), "%s pool with empty border windows runs",
                 kind == ML_POOL_MAX ? "max" : "mean");
        CHECK_OK(ml_cpu_pool_back(&b), "%s pool_back with empty border windows runs",
                 kind == ML_POOL_MAX ? "max" : "mean");
        int empty_ok = 1;
        double total = 0;
        for (int i = 0; i < 9; i++)
            if ((i / 3 == 2 || i % 3 == 2) &&
                (y[i] != 0.0f || (kind == ML_POOL_MAX && arg[i] != -1)))
                empty_ok = 0;
        for (int i = 0; i < 36; i++)
            total += dx[i];
        CHECK(empty_ok, "%s pool: empty windows give 0%s", kind == ML_POOL_MAX ? "max" : "mean",
              kind == ML_POOL_MAX ? " and argmax -1" : "");
        CHECK(fabs(total - 4.0) < MEAN_POOL_TOL, "%s pool_back: only the 4 full windows pass gradient (%g)",
              kind == ML_POOL_MAX ? "max" : "mean", total);
        ml_tensor_free(kx), ml_tensor_free(ky), ml_tensor_free(kg), ml_tensor_free(kdx);
    }
}

int main(void)
{
    test_conv_shapes();
    test_conv_errors();
    test_pool_shapes();
    test_pool_errors();
    test_pool_empty_windows();
    return harness_done();
}
