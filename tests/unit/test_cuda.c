/* The CUDA backend against the CPU backend (the reference): every op of the
 * CPU's table run through both kernel tables on the same random inputs (fixed
 * seeds; batch 1, sizes that are not multiples of 32, broadcasts, every
 * transpose), then whole training epochs through ml_fn on both devices.
 *
 * Without a GPU (or in a build without CUDA) the test reports one skipped check.
 *
 * An element passes when |cuda - cpu| <= atol + rtol * |cpu| (NaN matches NaN,
 * an infinity only itself).  The tolerances, by kind of result:
 *  - elementwise results: the CUDA kernels use the CPU's own polynomials and
 *    roundings, so they should agree bit for bit; TOL_ELEM allows an ulp;
 *  - sums (reductions, softmax, losses, matrix products, convolutions) add
 *    in another order: atol = TOL_TERM per summed term of magnitude up to 1,
 *    rtol = TOL_SUM_REL;
 *  - indices (argmax, pooling), dropout masks and copies must be identical.
 * Each check reports the worst element: its absolute difference, and the
 * ratio of the difference to its tolerance (1 = at the limit). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "host_tensors.h"
#include "ml.h"

#define TOL_ELEM_ABS 1e-6
#define TOL_ELEM_REL 1e-6
#define TOL_TERM 2.5e-7 /* absolute slack per summed term of magnitude <= 1 (one float epsilon) */
#define TOL_SUM_REL 1e-5
/* Parameters after an epoch of momentum SGD on both devices. */
#define TOL_PARAM_ABS 1e-4
#define TOL_PARAM_REL 1e-3
/* Per-step training losses on both devices. */
#define TOL_LOSS_REL 1e-4

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define NDIM(...) ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
#define S(...) NDIM(__VA_ARGS__), SHAPE(__VA_ARGS__)

#ifndef ML_WITH_CUDA
/* Never reached without CUDA (the test skips), but it must link. */
static uint64_t ml_cuda_alloc_count(void)
{
    return 0;
}
#endif

static const ml_backend *cpu, *gpu;
static const ml_device_memory *gmem;

/* ---- Worst errors per op, printed at the end ---- */

typedef struct {
    const char *op;
    int cases;
    double max_abs, max_ratio;
} op_stat;

static op_stat stats[64];
static int n_stats;

static void stat_add(const char *op, double abs_err, double ratio)
{
    int i = 0;
    while (i < n_stats && strcmp(stats[i].op, op) != 0)
        i++;
    if (i == n_stats) {
        if (n_stats == 64)
            return;
        stats[n_stats++] = (op_stat){op, 0, 0.0, 0.0};
    }
    stats[i].cases++;
    if (abs_err > stats[i].max_abs)
        stats[i].max_abs = abs_err;
    if (ratio > stats[i].max_ratio)
        stats[i].max_ratio = ratio;
}

/* ---- Host tensors ---- */

/* Small integers: many ties, for the argmax conventions. */
static ml_tensor *tties(int nd, const int64_t *shape, int levels)
{
    ml_tensor *t = tnew(ML_F32, nd, shape);
    float *p = ml_tensor_f32(t);
    for (int64_t i = 0; i < ml_tensor_numel(t); i++)
        p[i] = (float)ml_rng_below(&rng, (uint32_t)levels);
    return t;
}

static ml_tensor *tlabels(int64_t B, int64_t K)
{
    ml_tensor *t = tnew(ML_I32, 1, SHAPE(B));
    for (int64_t i = 0; i < B; i++)
        ml_tensor_i32(t)[i] = (int32_t)ml_rng_below(&rng, (uint32_t)K);
    return t;
}

static ml_tensor *tscalar(float v)
{
    ml_tensor *t = tnew(ML_F32, 0, SHAPE(1));
    ml_tensor_f32(t)[0] = v;
    return t;
}

static char *fmt(const ml_tensor *t, char *buf)
{
    return ml_shape_format(t->ndim, t->shape, buf, 64);
}

/* ---- A kernel call on both devices ---- */

typedef struct {
    ml_kernel_args c, g; /* the CPU's and the GPU's arguments */
    ml_tensor *cin[ML_MAX_INPUTS], *gin[ML_MAX_INPUTS];
    ml_tensor *cout, *gout;
    void *caux, *gaux;
    size_t aux_bytes;
    int aux_borrowed;
    void *cws, *gws;
    int n_scalars;
} pair;

static void pair_init(pair *p, ml_op op)
{
    memset(p, 0, sizeof *p);
    p->c.op = p->g.op = op;
}

/* Takes the host tensor; its copy goes to the GPU. */
static void pair_in(pair *p, ml_tensor *host)
{
    int k = p->c.n_in++;
    p->g.n_in++;
    p->cin[k] = host;
    p->gin[k] = ml_tensor_to(host, ML_CUDA);
    if (!p->gin[k]) {
        printf("Bail out! cannot copy to the GPU: %s\n", ml_last_error());
        exit(1);
    }
    p->c.in[k] = *host;
    p->g.in[k] = *p->gin[k];
}

/* A SCALAR input: no data, its value in scalar[]. */
static void pair_scalar(pair *p, float v)
{
    int k = p->c.n_in++;
    p->g.n_in++;
    memset(&p->c.in[k], 0, sizeof p->c.in[k]);
    memset(&p->g.in[k], 0, sizeof p->g.in[k]);
    p->c.scalar[p->n_scalars] = p->g.scalar[p->n_scalars] = v;
    p->n_scalars++;
}

/* Fills device memory with 0xFF bytes (NaN, or -1 as int32), so unwritten output shows. */
static void gpu_poison(void *ptr, size_t bytes)
{
    if (!bytes)
        return;
    void *h = malloc(bytes);
    memset(h, 0xFF, bytes);
    gmem->copy_host(ptr, h, bytes, 1);
    free(h);
}

static void pair_out(pair *p, ml_dtype dtype, int nd, const int64_t *shape)
{
    p->cout = tnew(dtype, nd, shape);
    p->gout = ml_tensor_new(dtype, nd, shape, ML_CUDA);
    if (!p->gout) {
        printf("Bail out! cannot allocate on the GPU: %s\n", ml_last_error());
        exit(1);
    }
    gpu_poison(ml_tensor_data(p->gout), ml_tensor_nbytes(p->gout));
    p->c.out = *p->cout;
    p->g.out = *p->gout;
}

static void pair_params(pair *p, const int *ip, int n_ip, const float *fp, int n_fp)
{
    for (int i = 0; i < n_ip; i++)
        p->c.p.ip[i] = p->g.p.ip[i] = ip[i];
    for (int i = 0; i < n_fp; i++)
        p->c.p.fp[i] = p->g.p.fp[i] = fp[i];
}

/* The aux state of a forward call, for its backward op. */
static void pair_borrow_aux(pair *p, const pair *fwd)
{
    p->c.aux = fwd->caux;
    p->g.aux = fwd->gaux;
    p->aux_bytes = fwd->aux_bytes;
    p->aux_borrowed = 1;
}

/* Runs the CPU kernel, then the CUDA kernel, and waits for it. */
static int pair_run(pair *p, const char *what)
{
    if (!p->aux_borrowed) {
        p->aux_bytes = ml_op_aux_bytes(&p->c);
        if (p->aux_bytes) {
            p->caux = ml_malloc(p->aux_bytes);
            p->gaux = gmem->alloc(p->aux_bytes);
            gpu_poison(p->gaux, p->aux_bytes);
            p->c.aux = p->caux;
            p->g.aux = p->gaux;
        }
    }
    size_t cws = cpu->workspace_bytes ? cpu->workspace_bytes(&p->c) : 0;
    size_t gws = gpu->workspace_bytes ? gpu->workspace_bytes(&p->g) : 0;
    if (cws) {
        p->cws = ml_malloc(cws);
        p->c.workspace = p->cws;
        p->c.workspace_bytes = cws;
    }
    if (gws) {
        p->gws = gmem->alloc(gws);
        p->g.workspace = p->gws;
        p->g.workspace_bytes = gws;
    }
    ml_status sc = cpu->kernel[p->c.op](&p->c);
    char cmsg[512];
    snprintf(cmsg, sizeof cmsg, "%s", ml_last_error());
    ml_status sg = gpu->kernel[p->g.op](&p->g);
    if (sg == ML_OK)
        sg = gpu->sync();
    if (sc != ML_OK || sg != ML_OK) {
        CHECK(0, "%s: runs on both devices", what);
        printf("#   cpu: %s\n#   cuda: %s\n", sc ? cmsg : "ok", sg ? ml_last_error() : "ok");
        return 0;
    }
    return 1;
}

static void pair_free(pair *p)
{
    for (int k = 0; k < p->c.n_in; k++) {
        ml_tensor_free(p->cin[k]);
        ml_tensor_free(p->gin[k]);
    }
    ml_tensor_free(p->cout);
    ml_tensor_free(p->gout);
    if (!p->aux_borrowed) {
        ml_free(p->caux);
        if (p->gaux)
            gmem->free(p->gaux);
    }
    ml_free(p->cws);
    if (p->gws)
        gmem->free(p->gws);
}

/* ---- Comparisons ---- */

/* got (CUDA) against want (CPU), n floats: CHECKs and records the worst element. */
static int compare_f32(const char *op, const char *what, const float *got, const float *want, int64_t n,
                       double atol, double rtol)
{
    double max_abs = 0.0, max_ratio = 0.0;
    int64_t worst = -1, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double err, ratio;
        if (isnan(w) || isnan(g) || isinf(w) || isinf(g)) {
            int same = (isnan(w) && isnan(g)) || g == w;
            err = same ? 0.0 : INFINITY;
            ratio = same ? 0.0 : INFINITY;
        } else {
            err = fabs(g - w);
            double tol = atol + rtol * fabs(w);
            ratio = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0.0);
        }
        if (ratio > 1.0) {
            if (bad < 5)
                printf("#   [%lld] cuda %.9g cpu %.9g\n", (long long)i, g, w);
            bad++;
        }
        if (worst < 0 || ratio > max_ratio) {
            max_ratio = ratio;
            worst = i;
        }
        if (err > max_abs)
            max_abs = err;
    }
    stat_add(op, max_abs, max_ratio);
    CHECK(bad == 0, "%s: worst |d| %.3g (%.3f of tolerance) at %lld of %lld%s", what, max_abs, max_ratio,
          (long long)worst, (long long)n, bad ? " MISMATCH" : "");
    if (bad)
        printf("#   %lld elements outside atol %.3g rtol %.3g\n", (long long)bad, atol, rtol);
    return bad == 0;
}

static int compare_bytes(const char *op, const char *what, const void *got, const void *want, size_t bytes,
                         size_t elem)
{
    size_t bad = 0, first = (size_t)-1;
    const unsigned char *g = got, *w = want;
    for (size_t i = 0; i < bytes; i += elem)
        if (memcmp(g + i, w + i, elem) != 0) {
            if (first == (size_t)-1)
                first = i / elem;
            bad++;
        }
    stat_add(op, bad ? INFINITY : 0.0, bad ? INFINITY : 0.0);
    CHECK(bad == 0, "%s: identical (%zu elements)%s", what, bytes / elem, bad ? " MISMATCH" : "");
    if (bad) {
        int32_t gi = 0, wi = 0;
        if (elem == 4) {
            memcpy(&gi, g + first * 4, 4);
            memcpy(&wi, w + first * 4, 4);
        } else {
            gi = g[first];
            wi = w[first];
        }
        printf("#   %zu differ, first at %zu: cuda %d cpu %d\n", bad, first, (int)gi, (int)wi);
    }
    return bad == 0;
}

static ml_tensor *download(const ml_tensor *t)
{
    ml_tensor *h = ml_tensor_to(t, ML_CPU);
    if (!h) {
        printf("Bail out! cannot copy from the GPU: %s\n", ml_last_error());
        exit(1);
    }
    return h;
}

/* The output of both devices; float within tolerance, int32 identical. */
static int pair_check_out(pair *p, const char *what, double atol, double rtol)
{
    ml_tensor *h = download(p->gout);
    int ok;
    if (p->cout->dtype == ML_F32)
        ok = compare_f32(ml_op_name(p->c.op), what, ml_tensor_f32(h), ml_tensor_f32(p->cout),
                         ml_tensor_numel(h), atol, rtol);
    else
        ok = compare_bytes(ml_op_name(p->c.op), what, ml_tensor_data(h), ml_tensor_data(p->cout),
                           ml_tensor_nbytes(h), 4);
    ml_tensor_free(h);
    return ok;
}

/* Input k after an in-place op. */
static int pair_check_in(pair *p, int k, const char *what, double atol, double rtol)
{
    ml_tensor *h = download(p->gin[k]);
    int ok = compare_f32(ml_op_name(p->c.op), what, ml_tensor_f32(h), ml_tensor_f32(p->cin[k]),
                         ml_tensor_numel(h), atol, rtol);
    ml_tensor_free(h);
    return ok;
}

static void *aux_download(const pair *p)
{
    void *h = malloc(p->aux_bytes);
    gmem->copy_host(p->gaux, h, p->aux_bytes, 0);
    return h;
}

static int pair_check_aux_exact(pair *p, const char *what, size_t elem)
{
    void *h = aux_download(p);
    int ok = compare_bytes(ml_op_name(p->c.op), what, h, p->caux, p->aux_bytes, elem);
    free(h);
    return ok;
}

static int pair_check_aux_f32(pair *p, const char *what, double atol, double rtol)
{
    float *h = aux_download(p);
    int ok = compare_f32(ml_op_name(p->c.op), what, h, p->caux, (int64_t)(p->aux_bytes / 4), atol, rtol);
    free(h);
    return ok;
}

/* ---- The table ---- */

static void test_table(void)
{
    int missing = 0;
    for (int op = 0; op < ML_OP_COUNT; op++)
        if (cpu->kernel[op] && !gpu->kernel[op]) {
            printf("#   no CUDA kernel for %s\n", ml_op_name((ml_op)op));
            missing++;
        }
    CHECK(missing == 0, "every op of the CPU's table has a CUDA kernel");
    CHECK(gpu->device == ML_CUDA && strcmp(gpu->name, "cuda") == 0 && gpu->sync && gpu->workspace_bytes,
          "the CUDA backend names itself and has sync and workspace_bytes");
}

/* ---- Matrix products ---- */

static void test_matmul(void)
{
    const int64_t mkn[][3] = {{1, 1, 1}, {1, 7, 5}, {33, 65, 17}, {100, 784, 500}, {257, 129, 300}, {3, 0, 4}, {64, 1, 33}};
    char what[160];
    for (size_t c = 0; c < sizeof mkn / sizeof mkn[0]; c++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t M = mkn[c][0], K = mkn[c][1], N = mkn[c][2];
                pair p;
                pair_init(&p, ML_OP_MATMUL);
                pair_in(&p, ta ? tuniform(S(K, M), -1, 1) : tuniform(S(M, K), -1, 1));
                pair_in(&p, tb ? tuniform(S(N, K), -1, 1) : tuniform(S(K, N), -1, 1));
                pair_out(&p, ML_F32, S(M, N));
                pair_params(&p, (int[]){ta, tb}, 2, NULL, 0);
                snprintf(what, sizeof what, "matmul M=%lld K=%lld N=%lld ta=%d tb=%d", (long long)M,
                         (long long)K, (long long)N, ta, tb);
                if (pair_run(&p, what))
                    pair_check_out(&p, what, TOL_TERM * (double)(K ? K : 1), TOL_SUM_REL);
                pair_free(&p);
            }
}

/* ---- Elementwise ---- */

typedef struct {
    int nd_out, nd_x, nd_y;
    int64_t out[4], x[4], y[4];
    const char *name;
} bcast_case;

static void test_binary(void)
{
    const bcast_case cases[] = {
        {2, 2, 2, {37, 53}, {37, 53}, {37, 53}, "equal shapes"},
        {2, 2, 1, {64, 500}, {64, 500}, {500}, "row vector"},
        {2, 1, 2, {64, 500}, {500}, {64, 500}, "row vector on the left"},
        {2, 2, 2, {64, 500}, {64, 500}, {64, 1}, "column"},
        {2, 2, 2, {64, 500}, {64, 1}, {64, 500}, "column on the left"},
        {2, 2, 0, {100, 10}, {100, 10}, {0}, "0-d scalar"},
        {2, 1, 2, {100, 10}, {1}, {100, 10}, "[1] scalar on the left"},
        {3, 3, 2, {3, 4, 5}, {3, 1, 5}, {4, 1}, "both broadcast"},
        {4, 4, 3, {2, 3, 4, 5}, {2, 3, 4, 5}, {3, 1, 5}, "middle axis"},
        {4, 4, 3, {7, 8, 13, 13}, {7, 8, 13, 13}, {8, 1, 1}, "conv bias"},
        {1, 1, 1, {1}, {1}, {1}, "one element"},
        {1, 1, 1, {5}, {1}, {1}, "two scalars to a vector"},
        {2, 2, 2, {1, 33}, {1, 33}, {1, 1}, "batch 1"},
    };
    const ml_op ops[] = {ML_OP_ADD, ML_OP_SUB, ML_OP_MUL, ML_OP_DIV};
    char what[200], so[64];
    for (size_t o = 0; o < 4; o++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const bcast_case *b = &cases[c];
            pair p;
            pair_init(&p, ops[o]);
            pair_in(&p, tnormal(b->nd_x, b->x, 2.0f));
            ml_tensor *y = tuniform(b->nd_y, b->y, 0.5f, 2.0f);
            for (int64_t i = 0; i < ml_tensor_numel(y); i += 2)
                ml_tensor_f32(y)[i] = -ml_tensor_f32(y)[i];
            pair_in(&p, y);
            pair_out(&p, ML_F32, b->nd_out, b->out);
            snprintf(what, sizeof what, "%s %s (%s)", ml_op_name(ops[o]), fmt(p.cout, so), b->name);
            if (pair_run(&p, what))
                pair_check_out(&p, what, TOL_ELEM_ABS, TOL_ELEM_REL);
            pair_free(&p);
        }
}

static void test_affine_scalar(void)
{
    char what[160];
    for (int with_scalar = 0; with_scalar < 2; with_scalar++) {
        pair p;
        pair_init(&p, ML_OP_AFFINE_SCALAR);
        pair_in(&p, tnormal(S(1000, 33), 3.0f));
        if (with_scalar)
            pair_scalar(&p, 3.0f);
        pair_out(&p, ML_F32, S(1000, 33));
        pair_params(&p, NULL, 0, (float[]){with_scalar ? -0.7f : 1.5f, with_scalar ? 0.25f : 0.0f}, 2);
        snprintf(what, sizeof what, "affine_scalar [1000, 33] %s", with_scalar ? "* 3 (SCALAR) * -0.7 + 0.25" : "* 1.5");
        if (pair_run(&p, what))
            pair_check_out(&p, what, TOL_ELEM_ABS, TOL_ELEM_REL);
        pair_free(&p);
    }
}

static void unary_inputs(int f, float *x, int64_t n)
{
    static const float special[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 1e-30f, -1e-30f, 0.3f, -0.3f, 0.62f,
                                    -0.62f, 0.63f, -0.63f, 1.0f, -1.0f, 5.0f, -5.0f, 20.0f, -20.0f,
                                    50.0f, -50.0f, 85.0f, -85.0f, 88.8f, -88.0f, 100.0f, -100.0f,
                                    1e-40f, INFINITY, -INFINITY};
    const int64_t k = (int64_t)(sizeof special / sizeof special[0]);
    for (int64_t i = 0; i < n; i++) {
        float v = i < k && n > k ? special[i] : ml_rng_normal(&rng, 0.0f, 4.0f);
        if (f == ML_UNARY_LOG || f == ML_UNARY_SQRT)
            v = fabsf(v);
        x[i] = v;
    }
}

static void test_unary(void)
{
    const float alpha = 1.3f;
    const int64_t shapes[][2] = {{1, 1}, {257, 129}};
    char what[160];
    for (int f = 0; f < ML_UNARY_COUNT; f++)
        for (int c = 0; c < 2; c++) {
            const int64_t *s = shapes[c];
            ml_tensor *x = tnew(ML_F32, 2, s);
            unary_inputs(f, ml_tensor_f32(x), ml_tensor_numel(x));
            /* y = f(x) from the CPU, the same on both devices for the gradient */
            ml_tensor *y = tnew(ML_F32, 2, s);
            ml_kernel_args a;
            memset(&a, 0, sizeof a);
            a.op = ML_OP_UNARY;
            a.out = *y;
            a.n_in = 1;
            a.in[0] = *x;
            a.p.ip[0] = f;
            a.p.fp[0] = alpha;
            cpu->kernel[ML_OP_UNARY](&a);

            pair p;
            pair_init(&p, ML_OP_UNARY);
            pair_in(&p, ml_tensor_to(x, ML_CPU));
            pair_out(&p, ML_F32, 2, s);
            pair_params(&p, &f, 1, &alpha, 1);
            snprintf(what, sizeof what, "unary %s [%lld, %lld]", ml_unary_name((ml_unary_kind)f),
                     (long long)s[0], (long long)s[1]);
            if (pair_run(&p, what))
                pair_check_out(&p, what, TOL_ELEM_ABS, TOL_ELEM_REL);
            pair_free(&p);

            pair_init(&p, ML_OP_UNARY_BACK);
            pair_in(&p, tnormal(2, s, 1.0f));
            pair_in(&p, x);
            pair_in(&p, y);
            pair_out(&p, ML_F32, 2, s);
            pair_params(&p, &f, 1, &alpha, 1);
            snprintf(what, sizeof what, "unary_back %s [%lld, %lld]", ml_unary_name((ml_unary_kind)f),
                     (long long)s[0], (long long)s[1]);
            if (pair_run(&p, what))
                pair_check_out(&p, what, TOL_ELEM_ABS, TOL_ELEM_REL);
            pair_free(&p);
        }
}

static void test_clip(void)
{
    char what[160];
    const float lh[2] = {-0.5f, 0.7f};
    for (int c = 0; c < 2; c++) {
        int64_t n = c ? 100003 : 7;
        ml_tensor *x = tuniform(S(n), -1.5f, 1.5f);
        ml_tensor_f32(x)[0] = -0.5f;
        ml_tensor_f32(x)[1] = 0.7f;
        ml_tensor_f32(x)[2] = NAN;
        pair p;
        pair_init(&p, ML_OP_CLIP);
        pair_in(&p, ml_tensor_to(x, ML_CPU));
        pair_out(&p, ML_F32, S(n));
        pair_params(&p, NULL, 0, lh, 2);
        snprintf(what, sizeof what, "clip [%lld] to [-0.5, 0.7]", (long long)n);
        if (pair_run(&p, what))
            pair_check_out(&p, what, 0, 0);
        pair_free(&p);
        pair_init(&p, ML_OP_CLIP_BACK);
        pair_in(&p, tnormal(S(n), 1.0f));
        pair_in(&p, x);
        pair_out(&p, ML_F32, S(n));
        pair_params(&p, NULL, 0, lh, 2);
        snprintf(what, sizeof what, "clip_back [%lld]", (long long)n);
        if (pair_run(&p, what))
            pair_check_out(&p, what, 0, 0);
        pair_free(&p);
    }
}

/* The rows of a shuffled batch: float images and int labels, a row repeated. */
static void test_gather_rows(void)
{
    char what[160];
    const int64_t N = 1000, B = 100;
    for (int c = 0; c < 2; c++) {
        ml_tensor *index = tnew(ML_I32, S(B));
        for (int64_t i = 0; i < B; i++)
            ml_tensor_i32(index)[i] = (int32_t)ml_rng_below(&rng, (uint32_t)N);
        ml_tensor_i32(index)[1] = ml_tensor_i32(index)[0];
        pair p;
        pair_init(&p, ML_OP_GATHER_ROWS);
        if (c == 0) {
            pair_in(&p, tuniform(S(N, 1, 28, 28), 0, 1));
            pair_in(&p, index);
            pair_out(&p, ML_F32, S(B, 784));
            snprintf(what, sizeof what, "gather_rows of [%lld, 1, 28, 28] into [%lld, 784]", (long long)N,
                     (long long)B);
        } else {
            pair_in(&p, tlabels(N, 10));
            pair_in(&p, index);
            pair_out(&p, ML_I32, S(B));
            snprintf(what, sizeof what, "gather_rows of int32 [%lld]", (long long)N);
        }
        if (pair_run(&p, what))
            pair_check_out(&p, what, 0, 0);
        pair_free(&p);
    }
}

/* The watch of a diverging objective: the first non-finite value's batch and kind. */
static void test_nonfinite_watch(void)
{
    const float values[4] = {1.5f, INFINITY, NAN, 2.0f};
    int ok = 1;
    for (int round = 0; round < 2; round++) {
        ml_tensor *flag_c = tnew(ML_F32, S(2)), *flag_g = NULL;
        ml_tensor_fill(flag_c, 0);
        flag_g = ml_tensor_to(flag_c, ML_CUDA);
        for (int b = 0; b < 4; b++) {
            float v = values[round ? 3 - b : b];
            ml_tensor *vc = tscalar(v), *vg = ml_tensor_to(vc, ML_CUDA);
            ml_kernel_args a = {.op = ML_OP_NONFINITE_WATCH, .n_in = 3};
            a.in[0] = *vc;
            a.in[1] = *flag_c;
            a.scalar[0] = (float)(b + 1);
            ok &= cpu->kernel[ML_OP_NONFINITE_WATCH](&a) == ML_OK;
            a.in[0] = *vg;
            a.in[1] = *flag_g;
            ok &= gpu->kernel[ML_OP_NONFINITE_WATCH](&a) == ML_OK;
            ml_tensor_free(vc);
            ml_tensor_free(vg);
        }
        ml_tensor *back = download(flag_g);
        const float *c = ml_tensor_f32(flag_c), *g = ml_tensor_f32(back);
        float want_batch = round ? 2.0f : 2.0f, want_kind = round ? 1.0f : 2.0f;
        ok &= c[0] == want_batch && c[1] == want_kind && g[0] == c[0] && g[1] == c[1];
        ml_tensor_free(back);
        ml_tensor_free(flag_c);
        ml_tensor_free(flag_g);
    }
    CHECK(ok, "nonfinite_watch: the first non-finite batch and its kind, alike on both devices");
}

static void test_dropout(void)
{
    const int64_t sizes[] = {1, 3, 4, 5, 1000, 33153, 1000003};
    const uint32_t counters[][4] = {{0, 0, 0, 0},
                                    {0xFFFFFFF0u, 0xFFFFFFFFu, 0xFFFFFFFFu, 7}, /* carries into words 2 and 3 */
                                    {123, 456, 789, 10}};
    const float probs[][2] = {{0.5f, 2.0f}, {0.8f, 1.25f}};
    char what[200];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int c = 0; c < 3; c++) {
            int pr = (int)((s + c) % 2);
            int64_t n = sizes[s];
            pair f;
            pair_init(&f, ML_OP_DROPOUT);
            pair_in(&f, tnormal(S(n), 1.0f));
            pair_out(&f, ML_F32, S(n));
            pair_params(&f, NULL, 0, probs[pr], 2);
            f.c.rng_key[0] = f.g.rng_key[0] = 0x12345678u + (uint32_t)s;
            f.c.rng_key[1] = f.g.rng_key[1] = 0x9abcdef0u;
            memcpy(f.c.rng_counter, counters[c], sizeof f.c.rng_counter);
            memcpy(f.g.rng_counter, counters[c], sizeof f.g.rng_counter);
            snprintf(what, sizeof what, "dropout [%lld] p=%.1f counter %08x:%08x:%08x:%08x", (long long)n,
                     probs[pr][0], counters[c][3], counters[c][2], counters[c][1], counters[c][0]);
            if (pair_run(&f, what)) {
                char w2[240];
                snprintf(w2, sizeof w2, "%s mask", what);
                pair_check_aux_exact(&f, w2, 1);
                snprintf(w2, sizeof w2, "%s output", what);
                pair_check_out(&f, w2, 0, 0);
                pair b;
                pair_init(&b, ML_OP_DROPOUT_BACK);
                pair_in(&b, tnormal(S(n), 1.0f));
                pair_out(&b, ML_F32, S(n));
                pair_params(&b, NULL, 0, probs[pr], 2);
                pair_borrow_aux(&b, &f);
                snprintf(w2, sizeof w2, "dropout_back [%lld]", (long long)n);
                if (pair_run(&b, w2))
                    pair_check_out(&b, w2, 0, 0);
                pair_free(&b);
            }
            pair_free(&f);
        }
}

static void test_momentum(void)
{
    const int64_t sizes[] = {1, 1000, 250007};
    char what[160];
    for (int s = 0; s < 3; s++)
        for (int nesterov = 0; nesterov < 2; nesterov++) {
            int64_t n = sizes[s];
            pair p;
            pair_init(&p, ML_OP_MOMENTUM_STEP);
            pair_in(&p, tnormal(S(n), 1.0f));
            pair_in(&p, tnormal(S(n), 0.1f));
            pair_in(&p, tnormal(S(n), 1.0f));
            pair_scalar(&p, 0.05f);
            pair_scalar(&p, 0.9f);
            pair_params(&p, &nesterov, 1, (float[]){0.5f}, 1);
            snprintf(what, sizeof what, "momentum_step [%lld]%s", (long long)n, nesterov ? " nesterov" : "");
            if (pair_run(&p, what)) {
                char w2[200];
                snprintf(w2, sizeof w2, "%s param", what);
                pair_check_in(&p, 0, w2, TOL_ELEM_ABS, TOL_ELEM_REL);
                snprintf(w2, sizeof w2, "%s velocity", what);
                pair_check_in(&p, 1, w2, TOL_ELEM_ABS, TOL_ELEM_REL);
            }
            pair_free(&p);
        }
}

static void test_max_norm(void)
{
    char what[160];
    {
        pair p;
        pair_init(&p, ML_OP_MAX_NORM);
        ml_tensor *w = tuniform(S(784, 500), -0.2f, 0.2f);
        for (int64_t i = 0; i < 784; i++) /* some columns well inside the limit */
            for (int64_t j = 0; j < 500; j += 7)
                ml_tensor_f32(w)[i * 500 + j] *= 0.01f;
        pair_in(&p, w);
        pair_params(&p, (int[]){0}, 1, (float[]){1.0f}, 1);
        snprintf(what, sizeof what, "max_norm columns of [784, 500] to 1");
        if (pair_run(&p, what))
            pair_check_in(&p, 0, what, TOL_TERM * 784, TOL_SUM_REL);
        pair_free(&p);
    }
    {
        pair p;
        pair_init(&p, ML_OP_MAX_NORM);
        ml_tensor *k = tuniform(S(8, 3, 5, 5), -0.5f, 0.5f);
        for (int64_t i = 0; i < 75; i++)
            ml_tensor_f32(k)[3 * 75 + i] *= 0.01f;
        pair_in(&p, k);
        pair_params(&p, (int[]){1}, 1, (float[]){1.0f}, 1);
        snprintf(what, sizeof what, "max_norm kernels of [8, 3, 5, 5] to 1");
        if (pair_run(&p, what))
            pair_check_in(&p, 0, what, TOL_TERM * 75, TOL_SUM_REL);
        pair_free(&p);
    }
}

static void test_const(void)
{
    pair p;
    pair_init(&p, ML_OP_CONST);
    pair_out(&p, ML_F32, S(13, 7));
    pair_params(&p, NULL, 0, (float[]){0.37f}, 1);
    if (pair_run(&p, "const [13, 7]"))
        pair_check_out(&p, "const [13, 7] = 0.37", 0, 0);
    pair_free(&p);
}

/* ---- Softmax family ---- */

static void test_softmax(void)
{
    const struct {
        int nd;
        int64_t s[3];
    } shapes[] = {{2, {1, 10}}, {2, {100, 10}}, {2, {37, 1000}}, {2, {3, 5000}}, {3, {2, 3, 7}}, {2, {5, 1}}, {2, {1, 33}}};
    char what[160], so[64];
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        int nd = shapes[c].nd;
        const int64_t *s = shapes[c].s;
        int64_t cols = s[nd - 1];
        for (int log = 0; log < 2; log++) {
            ml_op op = log ? ML_OP_LOG_SOFTMAX : ML_OP_SOFTMAX;
            ml_tensor *x = tnormal(nd, s, 3.0f);
            pair p;
            pair_init(&p, op);
            pair_in(&p, x);
            pair_out(&p, ML_F32, nd, s);
            snprintf(what, sizeof what, "%s %s", ml_op_name(op), fmt(x, so));
            /* outputs of magnitude <= 1 (softmax) or ~|x| (log-softmax) */
            if (pair_run(&p, what))
                pair_check_out(&p, what, TOL_TERM * (double)cols, TOL_SUM_REL);
            /* The gradient, given the CPU's y. */
            ml_tensor *y = ml_tensor_to(p.cout, ML_CPU);
            pair_free(&p);
            ml_op back = log ? ML_OP_LOG_SOFTMAX_BACK : ML_OP_SOFTMAX_BACK;
            pair_init(&p, back);
            pair_in(&p, tnormal(nd, s, 1.0f));
            pair_in(&p, y);
            pair_out(&p, ML_F32, nd, s);
            snprintf(what, sizeof what, "%s %s", ml_op_name(back), fmt(y, so));
            if (pair_run(&p, what))
                pair_check_out(&p, what, TOL_TERM * (double)cols * 3.0, TOL_SUM_REL);
            pair_free(&p);
        }
    }
}

/* ---- Reductions ---- */

typedef struct {
    int nd;
    int64_t s[4];
} shp;

static int remove_axis(const shp *in, int axis, int64_t *out)
{
    int k = 0;
    for (int i = 0; i < in->nd; i++)
        if (i != axis)
            out[k++] = in->s[i];
    return k;
}

static void test_sum_mean_expand(void)
{
    const shp shapes[] = {{2, {100, 500}}, {3, {7, 33, 5}}, {2, {1, 1}}, {4, {4, 1, 6, 3}}, {2, {1000, 1000}},
                          {2, {3, 70000}}, {2, {70000, 3}}, {3, {2, 5000, 3}}, {3, {64, 3, 50}}, {1, {1}}, {1, {37}}};
    char what[200], so[64];
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const shp *s = &shapes[c];
        for (int axis = -1; axis < s->nd; axis++) { /* -1 stands for every axis here */
            int ax = axis < 0 ? ML_ALL_AXES : axis;
            int64_t oshape[4];
            int ond = axis < 0 ? 0 : remove_axis(s, axis, oshape);
            int64_t count = axis < 0 ? ml_shape_numel(s->nd, s->s) : s->s[axis];
            if (ml_shape_numel(s->nd, s->s) > 2000000 && axis >= 0)
                continue;
            for (int mean = 0; mean < 2; mean++) {
                ml_op op = mean ? ML_OP_MEAN : ML_OP_SUM;
                pair p;
                pair_init(&p, op);
                ml_tensor *x = tuniform(s->nd, s->s, -1.0f, 1.0f);
                pair_in(&p, x);
                pair_out(&p, ML_F32, ond, oshape);
                pair_params(&p, &ax, 1, NULL, 0);
                snprintf(what, sizeof what, "%s %s over %s", ml_op_name(op), fmt(x, so),
                         axis < 0 ? "all axes" : (char[]){(char)('0' + axis), 0});
                if (pair_run(&p, what))
                    pair_check_out(&p, what, TOL_TERM * (double)count / (mean ? (double)count : 1.0),
                                   TOL_SUM_REL);
                pair_free(&p);
            }
            /* EXPAND, the gradient of each */
            for (int mean = 0; mean < 2; mean++) {
                pair p;
                pair_init(&p, ML_OP_EXPAND);
                pair_in(&p, tnormal(ond, oshape, 1.0f));
                pair_out(&p, ML_F32, s->nd, s->s);
                pair_params(&p, (int[]){ax, mean}, 2, NULL, 0);
                snprintf(what, sizeof what, "expand to %s over %s%s", fmt(p.cout, so),
                         axis < 0 ? "all axes" : (char[]){(char)('0' + axis), 0}, mean ? " (mean)" : "");
                if (pair_run(&p, what))
                    pair_check_out(&p, what, TOL_ELEM_ABS, TOL_ELEM_REL);
                pair_free(&p);
            }
        }
    }
}

static void test_sum_to(void)
{
    const struct {
        shp in, out;
    } cases[] = {
        {{2, {100, 500}}, {1, {500}}},       {{2, {100, 500}}, {2, {1, 500}}},
        {{2, {100, 500}}, {2, {100, 1}}},    {{2, {100, 500}}, {1, {1}}},
        {{2, {100, 500}}, {0, {0}}},         {{4, {7, 8, 13, 13}}, {3, {8, 1, 1}}},
        {{3, {6, 5, 4}}, {2, {5, 1}}},       {{3, {6, 5, 4}}, {3, {6, 1, 4}}},
        {{4, {100, 8, 28, 28}}, {3, {8, 1, 1}}}, {{2, {60000, 10}}, {1, {10}}},
        {{2, {1, 33}}, {1, {33}}},
    };
    char what[200], si[64], so[64];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pair p;
        pair_init(&p, ML_OP_SUM_TO);
        ml_tensor *x = tuniform(cases[c].in.nd, cases[c].in.s, -1.0f, 1.0f);
        pair_in(&p, x);
        pair_out(&p, ML_F32, cases[c].out.nd, cases[c].out.s);
        int64_t terms = ml_tensor_numel(x) / ml_tensor_numel(p.cout);
        snprintf(what, sizeof what, "sum_to %s -> %s", fmt(x, si), fmt(p.cout, so));
        if (pair_run(&p, what))
            pair_check_out(&p, what, TOL_TERM * (double)terms, TOL_SUM_REL);
        pair_free(&p);
    }
}

static void test_max(void)
{
    const shp shapes[] = {{2, {100, 500}}, {3, {7, 33, 5}}, {2, {3, 5000}}, {4, {4, 1, 6, 3}}, {2, {1, 1}}, {2, {1, 37}}};
    char what[200], so[64];
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const shp *s = &shapes[c];
        for (int ties = 0; ties < 3; ties++) /* 0: distinct values, 1: ties, 2: ties and NaNs */
            for (int axis = -1; axis < s->nd; axis++) {
                int ax = axis < 0 ? ML_ALL_AXES : axis;
                int64_t oshape[4];
                int ond = axis < 0 ? 0 : remove_axis(s, axis, oshape);
                pair f;
                pair_init(&f, ML_OP_MAX);
                ml_tensor *x = ties ? tties(s->nd, s->s, 4) : tnormal(s->nd, s->s, 1.0f);
                if (ties == 2)
                    for (int64_t i = 0; i < ml_tensor_numel(x); i += 7)
                        ml_tensor_f32(x)[i] = NAN;
                pair_in(&f, x);
                pair_out(&f, ML_F32, ond, oshape);
                pair_params(&f, &ax, 1, NULL, 0);
                snprintf(what, sizeof what, "max %s over %s%s", fmt(x, so),
                         axis < 0 ? "all axes" : (char[]){(char)('0' + axis), 0},
                         ties == 2 ? " (ties, NaNs)" : ties ? " (ties)" : "");
                if (pair_run(&f, what)) {
                    pair_check_out(&f, what, 0, 0);
                    char w2[240];
                    snprintf(w2, sizeof w2, "%s argmax", what);
                    pair_check_aux_exact(&f, w2, 4);
                    pair b;
                    pair_init(&b, ML_OP_MAX_BACK);
                    pair_in(&b, tnormal(ond, oshape, 1.0f));
                    pair_out(&b, ML_F32, s->nd, s->s);
                    pair_params(&b, &ax, 1, NULL, 0);
                    pair_borrow_aux(&b, &f);
                    snprintf(w2, sizeof w2, "max_back to %s over %s", fmt(x, so),
                             axis < 0 ? "all axes" : (char[]){(char)('0' + axis), 0});
                    if (pair_run(&b, w2))
                        pair_check_out(&b, w2, 0, 0);
                    pair_free(&b);
                }
                pair_free(&f);
            }
    }
    const shp am[] = {{2, {100, 10}}, {2, {37, 1000}}, {2, {3, 5000}}, {3, {2, 3, 7}}, {1, {9}}};
    for (size_t c = 0; c < sizeof am / sizeof am[0]; c++)
        for (int ties = 0; ties < 3; ties++) {
            const shp *s = &am[c];
            int64_t oshape[4];
            int ond = remove_axis(s, s->nd - 1, oshape);
            pair p;
            pair_init(&p, ML_OP_ARGMAX);
            ml_tensor *x = ties ? tties(s->nd, s->s, 3) : tnormal(s->nd, s->s, 1.0f);
            if (ties == 2)
                for (int64_t i = 3; i < ml_tensor_numel(x); i += 5)
                    ml_tensor_f32(x)[i] = NAN;
            pair_in(&p, x);
            pair_out(&p, ML_I32, ond, oshape);
            snprintf(what, sizeof what, "argmax %s%s", fmt(x, so), ties == 2 ? " (ties, NaNs)" : ties ? " (ties)" : "");
            if (pair_run(&p, what))
                pair_check_out(&p, what, 0, 0);
            pair_free(&p);
        }
}

/* ---- Layout ---- */

static void test_layout(void)
{
    const struct {
        shp s;
        int perm[4];
    } tr[] = {
        {{2, {37, 53}}, {1, 0}},          {{3, {5, 37, 53}}, {0, 2, 1}},    {{3, {5, 37, 53}}, {2, 1, 0}},
        {{3, {5, 37, 53}}, {1, 0, 2}},    {{3, {5, 37, 53}}, {1, 2, 0}},    {{4, {3, 4, 5, 6}}, {0, 2, 3, 1}},
        {{4, {3, 4, 5, 6}}, {3, 2, 1, 0}}, {{4, {3, 4, 5, 6}}, {0, 1, 3, 2}}, {{2, {1, 64}}, {1, 0}},
        {{2, {784, 500}}, {1, 0}},        {{4, {100, 8, 14, 14}}, {0, 2, 3, 1}},
    };
    char what[200], so[64];
    for (size_t c = 0; c < sizeof tr / sizeof tr[0]; c++)
        for (int as_int = 0; as_int < 2; as_int++) {
            const shp *s = &tr[c].s;
            int64_t oshape[4];
            for (int i = 0; i < s->nd; i++)
                oshape[i] = s->s[tr[c].perm[i]];
            ml_tensor *x;
            if (as_int) {
                x = tnew(ML_I32, s->nd, s->s);
                for (int64_t i = 0; i < ml_tensor_numel(x); i++)
                    ml_tensor_i32(x)[i] = (int32_t)(i * 7 - 3);
            } else {
                x = tnormal(s->nd, s->s, 1.0f);
            }
            pair p;
            pair_init(&p, ML_OP_TRANSPOSE);
            pair_in(&p, x);
            pair_out(&p, as_int ? ML_I32 : ML_F32, s->nd, oshape);
            pair_params(&p, tr[c].perm, s->nd, NULL, 0);
            snprintf(what, sizeof what, "transpose %s by (%d %d %d %d)[:%d]%s", fmt(x, so), tr[c].perm[0],
                     tr[c].perm[1], tr[c].perm[2], tr[c].perm[3], s->nd, as_int ? " int32" : "");
            if (pair_run(&p, what))
                pair_check_out(&p, what, 0, 0);
            pair_free(&p);
        }

    /* Concatenation along each axis of [2, 3, 4]-like inputs, and slices back. */
    for (int axis = 0; axis < 3; axis++) {
        int64_t lens[3] = {2, 5, 1}, total = 8;
        pair p;
        pair_init(&p, ML_OP_CONCAT);
        int64_t base[3] = {3, 4, 6};
        for (int i = 0; i < 3; i++) {
            int64_t sh[3] = {base[0], base[1], base[2]};
            sh[axis] = lens[i];
            pair_in(&p, tnormal(3, sh, 1.0f));
        }
        int64_t osh[3] = {base[0], base[1], base[2]};
        osh[axis] = total;
        pair_out(&p, ML_F32, 3, osh);
        pair_params(&p, &axis, 1, NULL, 0);
        snprintf(what, sizeof what, "concat of 3 along axis %d to %s", axis, fmt(p.cout, so));
        if (pair_run(&p, what))
            pair_check_out(&p, what, 0, 0);
        ml_tensor *whole = ml_tensor_to(p.cout, ML_CPU);
        pair_free(&p);
        for (int start = 0; start < 8; start += 3) {
            int64_t ssh[3] = {base[0], base[1], base[2]};
            ssh[axis] = start == 6 ? 2 : 3;
            pair q;
            pair_init(&q, ML_OP_SLICE);
            pair_in(&q, ml_tensor_to(whole, ML_CPU));
            pair_out(&q, ML_F32, 3, ssh);
            pair_params(&q, (int[]){axis, start}, 2, NULL, 0);
            snprintf(what, sizeof what, "slice [%d, %lld) along axis %d of %s", start, (long long)(start + ssh[axis]),
                     axis, fmt(whole, so));
            if (pair_run(&q, what))
                pair_check_out(&q, what, 0, 0);
            pair_free(&q);
        }
        ml_tensor_free(whole);
    }
    {
        pair p;
        pair_init(&p, ML_OP_CONCAT);
        ml_tensor *a = tnew(ML_I32, 2, SHAPE(4, 3)), *b = tnew(ML_I32, 2, SHAPE(4, 2));
        for (int i = 0; i < 12; i++)
            ml_tensor_i32(a)[i] = i;
        for (int i = 0; i < 8; i++)
            ml_tensor_i32(b)[i] = 100 + i;
        pair_in(&p, a);
        pair_in(&p, b);
        pair_out(&p, ML_I32, S(4, 5));
        pair_params(&p, (int[]){-1}, 1, NULL, 0);
        if (pair_run(&p, "concat int32 along axis -1"))
            pair_check_out(&p, "concat int32 [4, 3] + [4, 2] along axis -1", 0, 0);
        pair_free(&p);
    }
    {
        pair p;
        pair_init(&p, ML_OP_COPY);
        pair_in(&p, tnormal(S(6, 7), 1.0f));
        pair_out(&p, ML_F32, S(42));
        if (pair_run(&p, "copy [6, 7] to [42]"))
            pair_check_out(&p, "copy [6, 7] to [42]", 0, 0);
        pair_free(&p);
    }
}

/* ---- Convolution and pooling ---- */

static void test_conv(void)
{
    /* B, C, H, W, O, KH, KW, sh, sw, ph, pw */
    const int cases[][11] = {
        {1, 1, 28, 28, 8, 5, 5, 1, 1, 2, 2},    {7, 3, 13, 11, 5, 3, 3, 1, 1, 1, 1},
        {4, 2, 9, 10, 3, 3, 2, 2, 2, 0, 1},     {3, 4, 8, 8, 6, 1, 1, 1, 1, 0, 0},
        {5, 3, 7, 7, 4, 7, 7, 1, 1, 0, 0},      {2, 3, 10, 10, 4, 1, 1, 2, 2, 0, 0},
        {100, 1, 28, 28, 8, 5, 5, 1, 1, 2, 2},  {16, 8, 14, 14, 16, 5, 5, 1, 1, 2, 2},
        {2, 5, 12, 9, 7, 4, 3, 3, 2, 2, 1},     {1, 3, 33, 35, 2, 3, 3, 1, 1, 0, 0},
    };
    char what[240];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int *k = cases[c];
        int64_t B = k[0], C = k[1], H = k[2], W = k[3], O = k[4], KH = k[5], KW = k[6];
        int sh = k[7], sw = k[8], ph = k[9], pw = k[10];
        int64_t OH = (H + 2 * ph - KH) / sh + 1, OW = (W + 2 * pw - KW) / sw + 1;
        int ip[4] = {sh, sw, ph, pw};
        char geo[160];
        snprintf(geo, sizeof geo, "x [%lld, %lld, %lld, %lld] w [%lld, %lld, %lld, %lld] stride %dx%d pad %dx%d",
                 (long long)B, (long long)C, (long long)H, (long long)W, (long long)O, (long long)C,
                 (long long)KH, (long long)KW, sh, sw, ph, pw);
        ml_tensor *x = tuniform(S(B, C, H, W), -1, 1), *w = tuniform(S(O, C, KH, KW), -1, 1);
        ml_tensor *gy = tuniform(S(B, O, OH, OW), -1, 1);

        pair p;
        pair_init(&p, ML_OP_CONV2D);
        pair_in(&p, ml_tensor_to(x, ML_CPU));
        pair_in(&p, ml_tensor_to(w, ML_CPU));
        pair_out(&p, ML_F32, S(B, O, OH, OW));
        pair_params(&p, ip, 4, NULL, 0);
        snprintf(what, sizeof what, "conv2d %s", geo);
        if (pair_run(&p, what))
            pair_check_out(&p, what, TOL_TERM * (double)(C * KH * KW), TOL_SUM_REL);
        pair_free(&p);

        pair_init(&p, ML_OP_CONV2D_BACK_INPUT);
        pair_in(&p, ml_tensor_to(gy, ML_CPU));
        pair_in(&p, ml_tensor_to(w, ML_CPU));
        pair_out(&p, ML_F32, S(B, C, H, W));
        pair_params(&p, ip, 4, NULL, 0);
        snprintf(what, sizeof what, "conv2d_back_input %s", geo);
        if (pair_run(&p, what))
            pair_check_out(&p, what, TOL_TERM * (double)(O * KH * KW), TOL_SUM_REL);
        pair_free(&p);

        pair_init(&p, ML_OP_CONV2D_BACK_WEIGHT);
        pair_in(&p, x);
        pair_in(&p, gy);
        pair_out(&p, ML_F32, S(O, C, KH, KW));
        pair_params(&p, ip, 4, NULL, 0);
        snprintf(what, sizeof what, "conv2d_back_weight %s", geo);
        if (pair_run(&p, what))
            pair_check_out(&p, what, TOL_TERM * (double)(B * OH * OW), TOL_SUM_REL);
        ml_tensor_free(w);
        pair_free(&p);
    }
}

static int64_t pool_out(int64_t n, int k, int s, int keep)
{
    if (keep) {
        int64_t d = n - k;
        return (d <= 0 ? 0 : (d + s - 1) / s) + 1;
    }
    return (n - k) / s + 1;
}

static void test_pool(void)
{
    /* B, C, H, W, kh, kw, sh, sw, keep_partial */
    const int cases[][9] = {
        {2, 3, 28, 28, 2, 2, 2, 2, 1}, {2, 3, 27, 27, 2, 2, 2, 2, 1}, {2, 3, 27, 27, 2, 2, 2, 2, 0},
        {1, 2, 10, 11, 3, 3, 2, 2, 1}, {1, 2, 10, 11, 3, 3, 1, 1, 0}, {1, 2, 5, 5, 1, 1, 3, 3, 1},
        {1, 1, 4, 4, 3, 3, 2, 2, 1},   {100, 8, 28, 28, 2, 2, 2, 2, 1}, {3, 2, 9, 7, 4, 2, 3, 1, 1},
    };
    char what[240];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int kind = 0; kind < 2; kind++)
            for (int ties = 0; ties < 2; ties++) {
                const int *k = cases[c];
                int64_t B = k[0], C = k[1], H = k[2], W = k[3];
                int64_t OH = pool_out(H, k[4], k[6], k[8]), OW = pool_out(W, k[5], k[7], k[8]);
                int ip[6] = {kind, k[4], k[5], k[6], k[7], k[8]};
                char geo[160];
                snprintf(geo, sizeof geo, "%s [%lld, %lld, %lld, %lld] %dx%d stride %dx%d%s%s",
                         kind ? "mean" : "max", (long long)B, (long long)C, (long long)H, (long long)W, k[4],
                         k[5], k[6], k[7], k[8] ? " partial" : "", ties ? " (ties)" : "");
                ml_tensor *x = ties ? tties(S(B, C, H, W), 3) : tnormal(S(B, C, H, W), 1.0f);
                pair f;
                pair_init(&f, ML_OP_POOL);
                pair_in(&f, ml_tensor_to(x, ML_CPU));
                pair_out(&f, ML_F32, S(B, C, OH, OW));
                pair_params(&f, ip, 6, NULL, 0);
                snprintf(what, sizeof what, "pool %s", geo);
                if (pair_run(&f, what)) {
                    pair_check_out(&f, what, kind ? TOL_ELEM_ABS : 0, kind ? TOL_ELEM_REL : 0);
                    if (kind == ML_POOL_MAX) {
                        char w2[260];
                        snprintf(w2, sizeof w2, "%s argmax", what);
                        pair_check_aux_exact(&f, w2, 4);
                    }
                    pair b;
                    pair_init(&b, ML_OP_POOL_BACK);
                    pair_in(&b, tnormal(S(B, C, OH, OW), 1.0f));
                    pair_in(&b, x);
                    x = NULL;
                    pair_out(&b, ML_F32, S(B, C, H, W));
                    pair_params(&b, ip, 6, NULL, 0);
                    pair_borrow_aux(&b, &f);
                    snprintf(what, sizeof what, "pool_back %s", geo);
                    int terms = (k[4] + k[6] - 1) / k[6] * ((k[5] + k[7] - 1) / k[7]);
                    if (pair_run(&b, what))
                        pair_check_out(&b, what, TOL_TERM * terms, TOL_ELEM_REL);
                    pair_free(&b);
                }
                ml_tensor_free(x);
                pair_free(&f);
            }
}

/* ---- Losses ---- */

static void test_losses(void)
{
    char what[200], so[64];
    const int64_t nll[][2] = {{1, 10}, {100, 10}, {37, 1000}, {5, 3000}, {1000, 10}};
    for (size_t c = 0; c < sizeof nll / sizeof nll[0]; c++) {
        int64_t B = nll[c][0], K = nll[c][1];
        pair f;
        pair_init(&f, ML_OP_NLL_LOGSOFTMAX);
        pair_in(&f, tnormal(S(B, K), 3.0f));
        pair_in(&f, tlabels(B, K));
        pair_out(&f, ML_F32, 0, SHAPE(1));
        snprintf(what, sizeof what, "nll_logsoftmax [%lld, %lld]", (long long)B, (long long)K);
        if (pair_run(&f, what)) {
            pair_check_out(&f, what, TOL_TERM * (double)K, TOL_SUM_REL);
            char w2[240];
            snprintf(w2, sizeof w2, "%s probabilities", what);
            pair_check_aux_f32(&f, w2, TOL_TERM * (double)K, TOL_SUM_REL);
            pair b;
            pair_init(&b, ML_OP_NLL_LOGSOFTMAX_BACK);
            pair_in(&b, tscalar(0.7f));
            pair_in(&b, ml_tensor_to(f.cin[1], ML_CPU));
            pair_out(&b, ML_F32, S(B, K));
            pair_borrow_aux(&b, &f);
            snprintf(w2, sizeof w2, "nll_logsoftmax_back [%lld, %lld]", (long long)B, (long long)K);
            if (pair_run(&b, w2))
                pair_check_out(&b, w2, TOL_TERM * (double)K / (double)B, TOL_SUM_REL);
            pair_free(&b);
        }
        pair_free(&f);

        pair m;
        pair_init(&m, ML_OP_MISCLASS);
        ml_tensor *s = c % 2 ? tties(S(B, K), 3) : tnormal(S(B, K), 1.0f);
        if (c == 1)
            for (int64_t i = 2; i < B * K; i += 9)
                ml_tensor_f32(s)[i] = NAN;
        pair_in(&m, s);
        pair_in(&m, tlabels(B, K));
        pair_out(&m, ML_F32, 0, SHAPE(1));
        snprintf(what, sizeof what, "misclass [%lld, %lld]%s", (long long)B, (long long)K,
                 c == 1 ? " (ties, NaNs)" : c % 2 ? " (ties)" : "");
        if (pair_run(&m, what))
            pair_check_out(&m, what, 0, 0);
        pair_free(&m);
    }
    const shp shapes[] = {{2, {100, 10}}, {2, {1, 1}}, {3, {33, 7, 3}}, {2, {500, 784}}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int se = 0; se < 2; se++) {
            const shp *s = &shapes[c];
            ml_op op = se ? ML_OP_SQUARED_ERROR : ML_OP_BCE_LOGITS;
            ml_op back = se ? ML_OP_SQUARED_ERROR_BACK : ML_OP_BCE_LOGITS_BACK;
            ml_tensor *z = tnormal(s->nd, s->s, 3.0f), *t = tuniform(s->nd, s->s, 0.0f, 1.0f);
            int64_t per_row = ml_tensor_numel(z) / s->s[0];
            pair f;
            pair_init(&f, op);
            pair_in(&f, ml_tensor_to(z, ML_CPU));
            pair_in(&f, ml_tensor_to(t, ML_CPU));
            pair_out(&f, ML_F32, 0, SHAPE(1));
            snprintf(what, sizeof what, "%s %s", ml_op_name(op), fmt(z, so));
            /* terms up to ~10 (3-sigma logits, squared differences) */
            if (pair_run(&f, what))
                pair_check_out(&f, what, TOL_TERM * 10.0 * (double)per_row, TOL_SUM_REL);
            pair_free(&f);
            pair b;
            pair_init(&b, back);
            pair_in(&b, tscalar(1.3f));
            pair_in(&b, z);
            pair_in(&b, t);
            pair_out(&b, ML_F32, s->nd, s->s);
            snprintf(what, sizeof what, "%s %s", ml_op_name(back), fmt(z, so));
            if (pair_run(&b, what))
                pair_check_out(&b, what, TOL_ELEM_ABS, TOL_ELEM_REL);
            pair_free(&b);
        }
}

/* ---- Whole graphs: an epoch of momentum SGD on both devices ---- */

typedef struct {
    ml_graph *g;
    int n_params;
    ml_tensor *params[6], *vel[6];
    ml_node *x, *y, *cost;
    ml_fn *train;
    float lr, mom;
} net;

static void net_free(net *n)
{
    ml_fn_free(n->train);
    for (int i = 0; i < n->n_params; i++) {
        ml_tensor_free(n->params[i]);
        ml_tensor_free(n->vel[i]);
    }
    ml_graph_free(n->g);
}

/* Parameters (copies of init) on dev, the gradient graph and the training function. */
static int net_finish(net *n, ml_device dev, ml_node *logits, int64_t max_batch)
{
    ml_node *p[6], *v[6], *grads[6], *steps[6];
    n->cost = ml_nll_logsoftmax(n->g, logits, n->y);
    for (int i = 0; i < n->n_params; i++) {
        p[i] = ml_graph_node(n->g, i * 2);
        v[i] = ml_graph_node(n->g, i * 2 + 1);
    }
    if (ml_grad(n->g, n->cost, n->n_params, p, grads) != ML_OK)
        return 0;
    ml_node *lr = ml_scalar(n->g, "lr", &n->lr), *mom = ml_scalar(n->g, "momentum", &n->mom);
    for (int i = 0; i < n->n_params; i++)
        steps[i] = ml_momentum_step(n->g, p[i], v[i], grads[i], lr, mom, 1.0f, 0);
    ml_node *inputs[2] = {n->x, n->y};
    ml_fn_spec spec = {.n_inputs = 2, .inputs = inputs, .n_outputs = 1, .outputs = &n->cost,
                       .n_effects = n->n_params, .effects = steps, .max_batch = max_batch, .device = dev};
    return ml_fn_compile(n->g, &spec, &n->train) == ML_OK;
}

/* The shared leaves first, in order (param i is node 2i, its velocity 2i+1). */
static void net_params(net *n, ml_device dev, ml_tensor *const *init, int count)
{
    n->g = ml_graph_new();
    n->n_params = count;
    n->lr = 0.05f;
    n->mom = 0.9f;
    for (int i = 0; i < count; i++) {
        n->params[i] = ml_tensor_to(init[i], dev);
        n->vel[i] = ml_tensor_new(ML_F32, init[i]->ndim, init[i]->shape, dev);
        ml_shared(n->g, "p", n->params[i]);
        ml_shared(n->g, "v", n->vel[i]);
    }
}

static int mlp_build(net *n, ml_device dev, ml_tensor *const *init, int64_t max_batch)
{
    net_params(n, dev, init, 6);
    n->x = ml_input(n->g, "x", ML_F32, 2, SHAPE(ML_BATCH, 784));
    n->y = ml_input(n->g, "y", ML_I32, 1, SHAPE(ML_BATCH));
    ml_node *h = n->x;
    for (int l = 0; l < 3; l++) {
        h = ml_add(n->g, ml_matmul(n->g, h, ml_graph_node(n->g, 4 * l), 0, 0), ml_graph_node(n->g, 4 * l + 2));
        if (l < 2)
            h = ml_relu(n->g, h);
    }
    return net_finish(n, dev, h, max_batch);
}

static int convnet_build(net *n, ml_device dev, ml_tensor *const *init, int64_t max_batch)
{
    net_params(n, dev, init, 4);
    n->x = ml_input(n->g, "x", ML_F32, 4, SHAPE(ML_BATCH, 1, 28, 28));
    n->y = ml_input(n->g, "y", ML_I32, 1, SHAPE(ML_BATCH));
    ml_node *h = ml_conv2d(n->g, n->x, ml_graph_node(n->g, 0), 1, 1, 2, 2);
    h = ml_relu(n->g, ml_add(n->g, h, ml_graph_node(n->g, 2)));
    h = ml_pool(n->g, h, ML_POOL_MAX, 2, 2, 2, 2, 1);
    h = ml_flatten(n->g, h);
    h = ml_add(n->g, ml_matmul(n->g, h, ml_graph_node(n->g, 4), 0, 0), ml_graph_node(n->g, 6));
    return net_finish(n, dev, h, max_batch);
}

/* Trains one epoch on both devices and compares every step's loss and the final parameters. */
static void epoch_compare(const char *name, int (*build)(net *, ml_device, ml_tensor *const *, int64_t),
                          ml_tensor *const *init, ml_tensor *X, ml_tensor *Y, int64_t batch)
{
    net nc, ng;
    memset(&nc, 0, sizeof nc);
    memset(&ng, 0, sizeof ng);
    int ok = build(&nc, ML_CPU, init, batch) && build(&ng, ML_CUDA, init, batch);
    CHECK(ok, "%s: graphs compile on both devices", name);
    if (!ok) {
        printf("#   %s\n", ml_last_error());
        net_free(&nc);
        net_free(&ng);
        return;
    }
    ml_tensor *Xg = ml_tensor_to(X, ML_CUDA), *Yg = ml_tensor_to(Y, ML_CUDA);
    int64_t N = X->shape[0];
    ml_tensor xc, yc, xg, yg;
    ml_tensor *inc[2] = {&xc, &yc}, *ing[2] = {&xg, &yg};
    ml_status st = ML_OK;
    double worst_loss = 0.0, first_loss = 0.0, last_loss = 0.0;
    ml_alloc_stats before = {0, 0, 0};
    uint64_t dev_before = 0;
    int steps = 0;
    for (int64_t s = 0; s < N && st == ML_OK; s += batch) {
        int64_t count = N - s < batch ? N - s : batch;
        ml_tensor_point_rows(&xc, X, s, count);
        ml_tensor_point_rows(&yc, Y, s, count);
        ml_tensor_point_rows(&xg, Xg, s, count);
        ml_tensor_point_rows(&yg, Yg, s, count);
        st = ml_fn_call(nc.train, inc);
        if (st == ML_OK)
            st = ml_fn_call(ng.train, ing);
        float lc = ml_tensor_f32(ml_fn_output(nc.train, 0))[0], lg = NAN;
        if (st == ML_OK)
            st = ml_tensor_read_f32(ml_fn_output(ng.train, 0), 0, &lg);
        double d = fabs((double)lg - lc) / (fabs(lc) + 1e-6);
        if (!(d <= worst_loss))
            worst_loss = d;
        if (steps == 0) {
            first_loss = lc;
            before = ml_alloc_stats_get();
            dev_before = ml_cuda_alloc_count();
        }
        last_loss = lc;
        steps++;
    }
    ml_alloc_stats after = ml_alloc_stats_get();
    uint64_t dev_after = ml_cuda_alloc_count();
    CHECK(st == ML_OK, "%s: %d training steps of batch %lld run on both devices%s%s", name, steps,
          (long long)batch, st ? ": " : "", st ? ml_last_error() : "");
    printf("# %s: loss %.5f -> %.5f over the epoch (cpu)\n", name, first_loss, last_loss);
    CHECK(worst_loss <= TOL_LOSS_REL, "%s: per-step losses agree (worst relative difference %.3g)", name,
          worst_loss);
    CHECK(after.allocations == before.allocations && after.frees == before.frees,
          "%s: CUDA calls after the first allocate no host memory (%llu allocations, %llu frees; "
          "the CPU calls beside them none either)",
          name, (unsigned long long)(after.allocations - before.allocations),
          (unsigned long long)(after.frees - before.frees));
    CHECK(dev_after == dev_before, "%s: and no device memory (%llu cudaMalloc calls)", name,
          (unsigned long long)(dev_after - dev_before));
    double worst_abs = 0.0, worst_rel = 0.0;
    int bad = 0;
    for (int i = 0; i < nc.n_params; i++) {
        ml_tensor *h = download(ng.params[i]);
        const float *a = ml_tensor_f32(h), *b = ml_tensor_f32(nc.params[i]);
        for (int64_t j = 0; j < ml_tensor_numel(h); j++) {
            double e = fabs((double)a[j] - b[j]);
            if (e > worst_abs)
                worst_abs = e;
            double r = e / (fabs(b[j]) + 1e-3);
            if (r > worst_rel)
                worst_rel = r;
            if (!(e <= TOL_PARAM_ABS + TOL_PARAM_REL * fabs(b[j])))
                bad++;
        }
        ml_tensor_free(h);
    }
    stat_add(name, worst_abs, worst_abs / TOL_PARAM_ABS);
    CHECK(bad == 0, "%s: parameters after the epoch agree (worst |d| %.3g, worst |d|/(|p|+1e-3) %.3g; "
          "tolerance %.0e + %.0e|p|)", name, worst_abs, worst_rel, TOL_PARAM_ABS, TOL_PARAM_REL);
    ml_tensor_free(Xg);
    ml_tensor_free(Yg);
    net_free(&nc);
    net_free(&ng);
}

/* Images with a learnable class: the argmax of a fixed random linear map. */
static void synthetic(int64_t N, int64_t D, int64_t K, ml_tensor **X, ml_tensor **Y)
{
    *X = tuniform(S(N, D), 0.0f, 1.0f);
    *Y = tnew(ML_I32, 1, SHAPE(N));
    ml_tensor *T = tnormal(S(D, K), 1.0f);
    for (int64_t i = 0; i < N; i++) {
        int best = 0;
        double bv = -1e300;
        for (int64_t k = 0; k < K; k++) {
            double s = 0;
            for (int64_t d = 0; d < D; d++)
                s += ml_tensor_f32(*X)[i * D + d] * ml_tensor_f32(T)[d * K + k];
            if (s > bv)
                bv = s, best = (int)k;
        }
        ml_tensor_i32(*Y)[i] = best;
    }
    ml_tensor_free(T);
}

static void test_graphs(void)
{
    ml_tensor *X, *Y;
    synthetic(500, 784, 10, &X, &Y);
    ml_tensor *mlp_init[6] = {tuniform(S(784, 500), -0.05f, 0.05f), tnew(ML_F32, 1, SHAPE(500)),
                              tuniform(S(500, 500), -0.05f, 0.05f), tnew(ML_F32, 1, SHAPE(500)),
                              tuniform(S(500, 10), -0.05f, 0.05f),  tnew(ML_F32, 1, SHAPE(10))};
    epoch_compare("mlp 784-500-500-10", mlp_build, mlp_init, X, Y, 50);
    for (int i = 0; i < 6; i++)
        ml_tensor_free(mlp_init[i]);

    ml_tensor *Xi = ml_tensor_view_reshape(X, 4, SHAPE(500, 1, 28, 28));
    ml_tensor *cnn_init[4] = {tuniform(S(8, 1, 5, 5), -0.2f, 0.2f), tnew(ML_F32, 3, SHAPE(8, 1, 1)),
                              tuniform(S(8 * 14 * 14, 10), -0.05f, 0.05f), tnew(ML_F32, 1, SHAPE(10))};
    epoch_compare("convnet conv5x5x8+pool2+dense", convnet_build, cnn_init, Xi, Y, 50);
    for (int i = 0; i < 4; i++)
        ml_tensor_free(cnn_init[i]);
    ml_tensor_free(Xi);
    ml_tensor_free(X);
    ml_tensor_free(Y);
}

/* ---- A streamed dataset's batches on the device ---- */

/* The batches of `on_gpu` (streamed to the GPU through the uploader's two
 * buffers and read back by kernels of the kernel stream) against those of
 * `ref` on the CPU, over two epochs. */
static void feeds_compare(const char *name, const ml_dataset *streamed, const ml_dataset *ref,
                          ml_iteration_mode mode)
{
    ml_feed_opts o = {.iter = {.mode = mode, .batch_size = 64, .seed = 7}, .window_rows = 200, .depth = 2};
    ml_feed *g = NULL, *c = NULL;
    o.device = ML_CUDA;
    CHECK_OK(ml_feed_new(streamed, &o, &g), "%s: streamed feed to the GPU", name);
    o.device = ML_CPU;
    CHECK_OK(ml_feed_new(ref, &o, &c), "%s: reference feed on the CPU", name);
    if (!g || !c) {
        ml_feed_free(g);
        ml_feed_free(c);
        return;
    }
    ml_tensor *hx = tnew(ML_F32, 2, SHAPE(64, ml_dataset_n_features(streamed)));
    ml_tensor *hy = tnew(ML_I32, 1, SHAPE(64));
    int64_t batches = 0, differ = 0;
    uint64_t mallocs = 0, allocations = 0;
    for (int epoch = 0; epoch < 2; epoch++) {
        uint64_t m0 = ml_cuda_alloc_count(), a0 = ml_alloc_stats_get().allocations;
        ml_feed_begin_epoch(g);
        ml_feed_begin_epoch(c);
        for (;;) {
            ml_tensor *gx, *gy, *cx, *cy;
            int more_g = 0, more_c = 0;
            if (ml_feed_next(g, &gx, &gy, &more_g) != ML_OK || ml_feed_next(c, &cx, &cy, &more_c) != ML_OK ||
                more_g != more_c) {
                differ++;
                break;
            }
            if (!more_g)
                break;
            /* Read on the kernel stream, as a training step would. */
            ml_tensor rx, ry;
            ml_tensor_point_rows(&rx, hx, 0, gx->shape[0]);
            ml_tensor_point_rows(&ry, hy, 0, gy->shape[0]);
            if (gx->shape[0] != cx->shape[0] || ml_tensor_copy(&rx, gx) != ML_OK || ml_tensor_copy(&ry, gy) != ML_OK ||
                memcmp(ml_tensor_data(&rx), ml_tensor_data(cx), ml_tensor_nbytes(cx)) != 0 ||
                memcmp(ml_tensor_data(&ry), ml_tensor_data(cy), ml_tensor_nbytes(cy)) != 0)
                differ++;
            batches++;
        }
        if (epoch == 1) {
            mallocs = ml_cuda_alloc_count() - m0;
            allocations = ml_alloc_stats_get().allocations - a0;
        }
    }
    CHECK(batches > 20 && differ == 0, "%s: %lld batches over 2 epochs, %lld differ from the CPU's", name,
          (long long)batches, (long long)differ);
    CHECK(mallocs == 0 && allocations == 0, "%s: the second epoch made %llu cudaMalloc calls, %llu allocations",
          name, (unsigned long long)mallocs, (unsigned long long)allocations);
    ml_tensor_free(hx);
    ml_tensor_free(hy);
    ml_feed_free(g);
    ml_feed_free(c);
}

static void test_streamed_feed(void)
{
    char dir[] = "/tmp/test_cuda.XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        CHECK(0, "a temporary directory for the streamed dataset");
        return;
    }
    snprintf(path, sizeof path, "%s/stream.h5", dir);
    ml_dataset *mem = ml_dataset_new("stream");
    mem->X = tuniform(S(1003, 13), -1, 1); /* 1003: the last batch is partial */
    mem->y = tnew(ML_I32, 1, SHAPE(1003));
    mem->n_classes = 10;
    for (int i = 0; i < 1003; i++)
        ml_tensor_i32(mem->y)[i] = (i * 7) % 10;
    ml_dataset_save_opts so = {.chunk_rows = 37};
    ml_dataset_load_opts lo = {.storage = ML_STORAGE_STREAM};
    ml_dataset *str = NULL;
    CHECK_OK(ml_dataset_save(mem, path, &so), "the streamed dataset's file is written");
    CHECK_OK(ml_dataset_load(path, &lo, &str), "the file is opened for streaming");
    if (str) {
        feeds_compare("sequential, streamed to the GPU against in memory", str, mem, ML_ITER_SEQUENTIAL);
        feeds_compare("shuffled_sequential windows, streamed to the GPU against to the CPU", str, str,
                      ML_ITER_SHUFFLED_SEQUENTIAL);
    }
    ml_dataset_free(str);
    ml_dataset_free(mem);
    remove(path);
    rmdir(dir);
}

/* ---- Errors and memory ---- */

static void test_errors(void)
{
    const ml_device_memory *m = ml_device_memory_get(ML_CUDA);
    CHECK(m && strcmp(m->name, "cuda") == 0, "the CUDA backend registers its device memory");
    void *p = m->alloc((size_t)1 << 50);
    CHECK(p == NULL && strstr(ml_last_error(), "out of GPU memory allocating"),
          "an impossible allocation fails with a message: %s", ml_last_error());
    ml_tensor *a = tnormal(S(3, 4), 1.0f);
    ml_tensor *g = ml_tensor_to(a, ML_CUDA);
    pair q;
    pair_init(&q, ML_OP_MATMUL);
    pair_in(&q, tnormal(S(3, 4), 1.0f));
    pair_in(&q, tnormal(S(5, 6), 1.0f));
    pair_out(&q, ML_F32, S(3, 6));
    CHECK(gpu->kernel[ML_OP_MATMUL](&q.g) == ML_ESHAPE && strstr(ml_last_error(), "cuda matmul"),
          "a shape error names the op: %s", ml_last_error());
    pair_free(&q);
    ml_tensor_free(a);
    ml_tensor_free(g);

    /* Reductions given no workspace use the backend's own scratch. */
    pair_init(&q, ML_OP_SUM);
    pair_in(&q, tuniform(S(3000, 7), -1, 1));
    pair_out(&q, ML_F32, 0, SHAPE(1));
    pair_params(&q, (int[]){ML_ALL_AXES}, 1, NULL, 0);
    ml_status sc = cpu->kernel[ML_OP_SUM](&q.c), sg = gpu->kernel[ML_OP_SUM](&q.g);
    if (sg == ML_OK)
        sg = gpu->sync();
    CHECK(sc == ML_OK && sg == ML_OK, "a sum over all axes runs without a workspace");
    if (sc == ML_OK && sg == ML_OK)
        pair_check_out(&q, "sum [3000, 7] over all axes without a workspace", TOL_TERM * 21000, TOL_SUM_REL);
    pair_free(&q);
    CHECK(ml_backend_get(ML_CUDA) == gpu, "the backend starts once: a second ml_backend_get gives the same table");
}

int main(void)
{
    gpu = ml_backend_get(ML_CUDA);
    if (!gpu) {
        const char *why = ml_last_error();
        const char *pre = strncmp(why, "no CUDA device", 14) == 0 ? "" : "no CUDA device: ";
        printf("# SKIP %s%s\n", pre, why);
        printf("ok 1 # SKIP %s%s\n", pre, why);
        printf("1..1\n");
        return 0;
    }
    cpu = ml_backend_get(ML_CPU);
    gmem = ml_device_memory_get(ML_CUDA);
    ml_rng_seed(&rng, 20240611);
    test_table();
    test_errors();
    test_matmul();
    test_binary();
    test_affine_scalar();
    test_unary();
    test_clip();
    test_gather_rows();
    test_nonfinite_watch();
    test_dropout();
    test_momentum();
    test_max_norm();
    test_const();
    test_softmax();
    test_sum_mean_expand();
    test_sum_to();
    test_max();
    test_layout();
    test_conv();
    test_pool();
    test_losses();
    test_graphs();
    test_streamed_feed();
    printf("# worst errors per op (cuda against cpu; ratio = |d| / tolerance):\n");
    for (int i = 0; i < n_stats; i++)
        printf("#   %-36s %4d cases  max |d| %-10.3g max ratio %.3g\n", stats[i].op, stats[i].cases,
               stats[i].max_abs, stats[i].max_ratio);
    return harness_done();
}
