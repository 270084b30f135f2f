/* The CPU backend's kernels against straightforward double-precision
 * references, on random inputs (fixed seeds) of several shapes: batch 1, sizes
 * that are not multiples of 8, broadcasting from either side, extreme values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/alloc.h"
#include "core/rng.h"
#include "harness.h"
#include "host_tensors.h"

/* An element passes when |got - ref| <= ABS_TOL + REL_TOL * mag, where mag is
 * |ref| for elementwise results and the sum of the magnitudes of the terms for
 * sums, dot products and matrix products (float accumulation). */
#define REL_TOL 1e-5
#define ABS_TOL 1e-6
/* Looser for float32 results of long reductions compared term by term. */
#define RED_REL_TOL 2e-5

#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})
#define MAXN 200000

static const ml_backend *be;
static double ref[MAXN], mag[MAXN];

/* ---- helpers ---- */

static ml_tensor *tlabels(int64_t B, int64_t K)
{
    ml_tensor *t = tnew(ML_I32, 1, SHAPE(B));
    int32_t *p = ml_tensor_i32(t);
    for (int64_t i = 0; i < B; i++)
        p[i] = (int32_t)ml_rng_below(&rng, (uint32_t)K);
    return t;
}

static ml_kernel_args kargs(ml_op op, const ml_tensor *out)
{
    ml_kernel_args a;
    memset(&a, 0, sizeof a);
    a.op = op;
    if (out)
        a.out = *out;
    return a;
}

static void add_in(ml_kernel_args *a, const ml_tensor *t)
{
    a->in[a->n_in++] = *t;
}

static ml_status run(ml_kernel_args *a)
{
    return be->kernel[a->op](a);
}

static char *fmt_shape(const ml_tensor *t, char *buf)
{
    return ml_shape_format(t->ndim, t->shape, buf, 64);
}

/* Compares n floats with ref[] (tolerance from mag[] when use_mag, else |ref|). */
static int compare(const float *got, int64_t n, double rel, int use_mag, double *worst)
{
    int ok = 1;
    *worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double r = ref[i], g = got[i];
        if (isinf(r) || isinf(g)) {
            if (g != r)
                ok = 0;
            continue;
        }
        double m = use_mag ? mag[i] : fabs(r);
        double err = fabs(g - r);
        double scaled = err / (ABS_TOL + rel * m);
        if (!(scaled <= 1.0))
            ok = 0;
        if (!(scaled <= *worst))
            *worst = scaled;
    }
    return ok;
}

/* Flat index into a tensor of shape (nd, shape) broadcast to out (ond, oshape)
 * for out's flat index i. */
static int64_t bcast_index(int64_t i, int ond, const int64_t *oshape, int nd, const int64_t *shape)
{
    int64_t idx[ML_MAX_DIMS];
    for (int d = ond - 1; d >= 0; d--) {
        idx[d] = i % oshape[d];
        i /= oshape[d];
    }
    int64_t k = 0;
    for (int d = 0; d < nd; d++) {
        int od = d + ond - nd;
        k = k * shape[d] + (shape[d] == 1 ? 0 : idx[od]);
    }
    return k;
}

/* ---- ops.c, backend.c ---- */

static void test_names_and_table(void)
{
    int named = 1;
    for (int op = 0; op < ML_OP_COUNT; op++)
        if (strstr(ml_op_name((ml_op)op), "unknown"))
            named = 0;
    CHECK(named && strcmp(ml_op_name(ML_OP_SUM_TO), "sum_to") == 0, "every op has a name");
    int unames = 1;
    for (int f = 0; f < ML_UNARY_COUNT; f++)
        if (strstr(ml_unary_name((ml_unary_kind)f), "unknown"))
            unames = 0;
    CHECK(unames && strcmp(ml_unary_name(ML_UNARY_SOFTPLUS), "softplus") == 0,
          "every unary function has a name");
    CHECK(strstr(ml_op_name(ML_OP_COUNT), "unknown") != NULL, "an out-of-range op is 'unknown'");

    CHECK(be && be->device == ML_CPU && strcmp(be->name, "cpu") == 0, "ml_backend_get(ML_CPU)");
    int complete = 1;
    for (int op = ML_OP_CONST; op < ML_OP_COUNT; op++)
        if (!be->kernel[op]) {
            complete = 0;
            printf("# no kernel for %s\n", ml_op_name((ml_op)op));
        }
    CHECK(complete, "the CPU table has a kernel for every non-leaf op");
    CHECK(be->sync && be->sync() == ML_OK, "sync is a no-op");
#ifndef ML_WITH_CUDA
    CHECK(ml_backend_get(ML_CUDA) == NULL, "no CUDA backend in a build without CUDA");
#endif

    ml_tensor *x = tnew(ML_F32, 2, SHAPE(5, 7));
    ml_tensor *y = tnew(ML_F32, 1, SHAPE(5));
    ml_kernel_args a = kargs(ML_OP_MAX, y);
    add_in(&a, x);
    a.p.ip[0] = 1;
    CHECK(ml_op_aux_bytes(&a) == 5 * 4, "aux of MAX: an int32 per output element");
    CHECK(be->workspace_bytes(&a) == 0, "no workspace for MAX");
    a = kargs(ML_OP_DROPOUT, x);
    add_in(&a, x);
    CHECK(ml_op_aux_bytes(&a) == 35, "aux of DROPOUT: a byte per element");
    a = kargs(ML_OP_NLL_LOGSOFTMAX, y);
    add_in(&a, x);
    CHECK(ml_op_aux_bytes(&a) == 35 * 4, "aux of NLL_LOGSOFTMAX: a float per logit");
    a = kargs(ML_OP_POOL, y);
    a.p.ip[0] = ML_POOL_MAX;
    CHECK(ml_op_aux_bytes(&a) == 5 * 4, "aux of max POOL: an int32 per output element");
    a.p.ip[0] = ML_POOL_MEAN;
    CHECK(ml_op_aux_bytes(&a) == 0, "no aux for mean POOL");
    a = kargs(ML_OP_ADD, x);
    add_in(&a, x);
    add_in(&a, x);
    CHECK(ml_op_aux_bytes(&a) == 0 && be->workspace_bytes(&a) == 0, "no aux or workspace for ADD");
    ml_tensor_free(x);
    ml_tensor_free(y);

    ml_set_threads(1);
    CHECK(ml_get_threads() == 1, "ml_set_threads(1)");
    const char *old = getenv("ML_THREADS");
    char saved[32] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);
    setenv("ML_THREADS", "1", 1);
    ml_set_threads(0);
    CHECK(ml_get_threads() == 1, "ml_set_threads(0) takes ML_THREADS");
    if (old)
        setenv("ML_THREADS", saved, 1);
    else
        unsetenv("ML_THREADS");
    ml_set_threads(0);
    CHECK(ml_get_threads() >= 1, "ml_set_threads(0) restores a default (%d)", ml_get_threads());
}

/* ---- MATMUL ---- */

static void test_matmul(void)
{
    const int64_t dims[][3] = {{1, 1, 1}, {1, 7, 5}, {13, 9, 17}, {100, 37, 10}, {3, 100, 1}};
    for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
        int64_t M = dims[c][0], K = dims[c][1], N = dims[c][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                ml_tensor *A = ta ? tnormal(2, SHAPE(K, M), 1) : tnormal(2, SHAPE(M, K), 1);
                ml_tensor *B = tb ? tnormal(2, SHAPE(N, K), 1) : tnormal(2, SHAPE(K, N), 1);
                ml_tensor *C = tnew(ML_F32, 2, SHAPE(M, N));
                const float *pa = ml_tensor_f32(A), *pb = ml_tensor_f32(B);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0, m = 0;
                        for (int64_t k = 0; k < K; k++) {
                            double x = ta ? pa[k * M + i] : pa[i * K + k];
                            double y = tb ? pb[j * K + k] : pb[k * N + j];
                            s += x * y;
                            m += fabs(x * y);
                        }
                        ref[i * N + j] = s;
                        mag[i * N + j] = m;
                    }
                ml_kernel_args a = kargs(ML_OP_MATMUL, C);
                add_in(&a, A);
                add_in(&a, B);
                a.p.ip[0] = ta;
                a.p.ip[1] = tb;
                ml_status s = run(&a);
                double w = 0;
                int ok = s == ML_OK && compare(ml_tensor_f32(C), M * N, REL_TOL, 1, &w);
                CHECK(ok, "matmul M=%lld K=%lld N=%lld trans %d%d (worst %.2f of tolerance)",
                      (long long)M, (long long)K, (long long)N, ta, tb, w);
                ml_tensor_free(A);
                ml_tensor_free(B);
                ml_tensor_free(C);
            }
    }
    ml_tensor *A = tnew(ML_F32, 2, SHAPE(3, 4)), *B = tnew(ML_F32, 2, SHAPE(5, 6));
    ml_tensor *C = tnew(ML_F32, 2, SHAPE(3, 6));
    ml_kernel_args a = kargs(ML_OP_MATMUL, C);
    add_in(&a, A);
    add_in(&a, B);
    CHECK(run(&a) == ML_ESHAPE, "matmul with mismatched inner dimensions is ML_ESHAPE");
    ml_tensor_free(A);
    ml_tensor_free(B);
    ml_tensor_free(C);
}

/* ---- broadcasting arithmetic ---- */

typedef struct {
    int nd;
    int64_t shape[ML_MAX_DIMS];
} shp;

static void binary_case(ml_op op, shp out, shp sa, shp sb, const char *what)
{
    ml_tensor *A = tuniform(sa.nd, sa.shape, -2, 2);
    ml_tensor *B = tuniform(sb.nd, sb.shape, 0.5f, 2);
    float *pb = ml_tensor_f32(B);
    for (int64_t i = 0; i < ml_tensor_numel(B); i++)
        if (ml_rng_uniform(&rng) < 0.5f)
            pb[i] = -pb[i]; /* away from 0, for DIV */
    ml_tensor *O = tnew(ML_F32, out.nd, out.shape);
    const float *pa = ml_tensor_f32(A);
    int64_t n = ml_tensor_numel(O);
    for (int64_t i = 0; i < n; i++) {
        double x = pa[bcast_index(i, out.nd, out.shape, sa.nd, sa.shape)];
        double y = pb[bcast_index(i, out.nd, out.shape, sb.nd, sb.shape)];
        ref[i] = op == ML_OP_ADD ? x + y : op == ML_OP_SUB ? x - y : op == ML_OP_MUL ? x * y : x / y;
    }
    ml_kernel_args a = kargs(op, O);
    add_in(&a, A);
    add_in(&a, B);
    ml_status s = run(&a);
    double w = 0;
    char b1[64], b2[64], b3[64];
    CHECK(s == ML_OK && compare(ml_tensor_f32(O), n, REL_TOL, 0, &w), "%s %s %s -> %s (%s)",
          ml_op_name(op), fmt_shape(A, b1), fmt_shape(B, b2), fmt_shape(O, b3), what);
    ml_tensor_free(A);
    ml_tensor_free(B);
    ml_tensor_free(O);
}

#define S(...) ((shp){sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}})
#define S0 ((shp){0, {0}})

static void test_binary(void)
{
    const ml_op ops[] = {ML_OP_ADD, ML_OP_SUB, ML_OP_MUL, ML_OP_DIV};
    const int64_t Bs[] = {1, 3, 100};
    const int64_t Ds[] = {1, 7, 500};
    for (int o = 0; o < 4; o++) {
        ml_op op = ops[o];
        for (int bi = 0; bi < 3; bi++)
            for (int di = 0; di < 3; di++) {
                int64_t B = Bs[bi], D = Ds[di];
                if (op != ML_OP_ADD && (bi + di) % 2) /* fewer cases for the others */
                    continue;
                binary_case(op, S(B, D), S(B, D), S(B, D), "equal shapes");
                binary_case(op, S(B, D), S(B, D), S(D), "row vector on the right");
                binary_case(op, S(B, D), S(D), S(B, D), "row vector on the left");
                binary_case(op, S(B, D), S(B, 1), S(B, D), "column on the left");
                binary_case(op, S(B, D), S(B, D), S(B, 1), "column on the right");
                binary_case(op, S(B, D), S(B, D), S0, "scalar on the right");
                binary_case(op, S(B, D), S0, S(B, D), "scalar on the left");
                binary_case(op, S(B, D), S(1, D), S(B, 1), "outer sum of row and column");
            }
        binary_case(op, S(2, 3, 5), S(2, 3, 5), S(5), "row over 3-D");
        binary_case(op, S(2, 3, 5), S(3, 5), S(2, 3, 5), "matrix over 3-D on the left");
        binary_case(op, S(4, 3, 5), S(4, 1, 5), S(3, 1), "middle and trailing broadcast");
        binary_case(op, S(2, 3, 4, 5), S(2, 3, 1, 5), S(1, 3, 4, 1), "4-D both sides");
        binary_case(op, S(2, 3, 4, 5), S(2, 1, 4, 5), S(2, 3, 4, 5), "4-D channel broadcast");
        binary_case(op, S(3, 1, 2, 1, 2, 3), S(1, 2, 1, 2, 1), S(3, 1, 2, 1, 1, 3), "6-D");
        binary_case(op, S0, S0, S0, "scalars");
        binary_case(op, S(1, 1), S(1), S0, "one element");
        binary_case(op, S(13), S(1), S(13), "[1] over [13]");
    }
    ml_tensor *A = tnew(ML_F32, 2, SHAPE(2, 4)), *B = tnew(ML_F32, 1, SHAPE(3));
    ml_kernel_args a = kargs(ML_OP_ADD, A);
    add_in(&a, A);
    add_in(&a, B);
    CHECK(run(&a) == ML_ESHAPE, "add of [2, 4] and [3] is ML_ESHAPE");
    ml_tensor_free(A);
    ml_tensor_free(B);

    /* In place: out is in[0]. */
    A = tuniform(2, SHAPE(10, 9), -1, 1);
    B = tuniform(1, SHAPE(9), -1, 1);
    for (int64_t i = 0; i < 90; i++)
        ref[i] = (double)ml_tensor_f32(A)[i] + ml_tensor_f32(B)[i % 9];
    a = kargs(ML_OP_ADD, A);
    add_in(&a, A);
    add_in(&a, B);
    double w = 0;
    CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(A), 90, REL_TOL, 0, &w),
          "bias add in place (out = in[0])");
    ml_tensor_free(A);
    ml_tensor_free(B);
}

static void test_affine_scalar(void)
{
    const int64_t ns[] = {1, 13, 1000};
    for (int c = 0; c < 3; c++) {
        for (int with_scalar = 0; with_scalar < 2; with_scalar++) {
            ml_tensor *X = tnormal(1, SHAPE(ns[c]), 1);
            ml_tensor *O = tnew(ML_F32, 1, SHAPE(ns[c]));
            ml_tensor *Sc = tnew(ML_F32, 0, SHAPE(1));
            ml_tensor_f32(Sc)[0] = NAN; /* a SCALAR's data is never read */
            ml_kernel_args a = kargs(ML_OP_AFFINE_SCALAR, O);
            add_in(&a, X);
            a.p.fp[0] = 2.5f;
            a.p.fp[1] = with_scalar ? 0.0f : -1.25f;
            double s = 1.0;
            if (with_scalar) {
                add_in(&a, Sc);
                a.scalar[0] = 0.3f;
                s = 0.3f;
            }
            for (int64_t i = 0; i < ns[c]; i++)
                ref[i] = ml_tensor_f32(X)[i] * (2.5 * s) + a.p.fp[1];
            double w = 0;
            CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), ns[c], REL_TOL, 0, &w),
                  "affine_scalar n=%lld %s", (long long)ns[c],
                  with_scalar ? "with a SCALAR input" : "without a SCALAR input");
            ml_tensor_free(X);
            ml_tensor_free(O);
            ml_tensor_free(Sc);
        }
    }
}

/* ---- unary functions ---- */

static double ref_unary(ml_unary_kind f, double x, double alpha)
{
    switch (f) {
    case ML_UNARY_NEG: return -x;
    case ML_UNARY_EXP: return exp(x);
    case ML_UNARY_LOG: return log(x);
    case ML_UNARY_SQRT: return sqrt(x);
    case ML_UNARY_SQUARE: return x * x;
    case ML_UNARY_ABS: return fabs(x);
    case ML_UNARY_RELU: return x > 0 ? x : 0;
    case ML_UNARY_SIGMOID: return 1 / (1 + exp(-x));
    case ML_UNARY_TANH: return tanh(x);
    case ML_UNARY_SOFTPLUS: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
    case ML_UNARY_ELU: return x > 0 ? x : alpha * expm1(x);
    default: return NAN;
    }
}

static double ref_unary_back(ml_unary_kind f, double g, double x, double y, double alpha)
{
    switch (f) {
    case ML_UNARY_NEG: return -g;
    case ML_UNARY_EXP: return g * y;
    case ML_UNARY_LOG: return g / x;
    case ML_UNARY_SQRT: return g * 0.5 / y;
    case ML_UNARY_SQUARE: return 2 * x * g;
    case ML_UNARY_ABS: return x > 0 ? g : x < 0 ? -g : 0;
    case ML_UNARY_RELU: return x > 0 ? g : 0;
    case ML_UNARY_SIGMOID: return g * y * (1 - y);
    case ML_UNARY_TANH: return g * (1 - y * y);
    case ML_UNARY_SOFTPLUS: return g / (1 + exp(-x));
    case ML_UNARY_ELU: return x > 0 ? g : g * (y + alpha);
    default: return NAN;
    }
}

/* Inputs for f: random over its domain, then values that stress it. */
static void unary_inputs(ml_unary_kind f, float *x, int64_t n)
{
    static const float special[] = {0.0f,  1e-6f, -1e-6f, 1e-4f, -1e-4f, 0.3f,   -0.3f, 0.62f,
                                    -0.62f, 0.63f, -0.63f, 1.0f,  -1.0f,  5.0f,   -5.0f, 20.0f,
                                    -20.0f, 50.0f, -50.0f, 85.0f, -85.0f, 100.0f, -100.0f};
    int positive = f == ML_UNARY_LOG || f == ML_UNARY_SQRT;
    for (int64_t i = 0; i < n; i++) {
        float v = ml_rng_normal(&rng, 0.0f, 4.0f);
        int64_t k = (int64_t)(sizeof special / sizeof special[0]);
        if (i < k && n > k)
            v = special[i];
        if (positive)
            v = fabsf(v) + (f == ML_UNARY_LOG ? 1e-30f : 0.0f);
        if (f == ML_UNARY_EXP && fabsf(v) > 85.0f)
            v = v > 0 ? 85.0f : -85.0f;
        if (f == ML_UNARY_SQUARE && fabsf(v) > 1e18f)
            v = 1.0f;
        x[i] = v;
    }
}

static void test_unary(void)
{
    const float alpha = 1.3f;
    const int64_t ns[] = {1, 13, 1000};
    for (int f = 0; f < ML_UNARY_COUNT; f++) {
        for (int c = 0; c < 3; c++) {
            int64_t n = ns[c];
            ml_tensor *X = tnew(ML_F32, 2, SHAPE(1, n)), *Y = tnew(ML_F32, 2, SHAPE(1, n));
            ml_tensor *G = tnormal(2, SHAPE(1, n), 1), *D = tnew(ML_F32, 2, SHAPE(1, n));
            float *x = ml_tensor_f32(X), *g = ml_tensor_f32(G);
            unary_inputs((ml_unary_kind)f, x, n);
            for (int64_t i = 0; i < n; i++)
                ref[i] = ref_unary((ml_unary_kind)f, x[i], alpha);
            ml_kernel_args a = kargs(ML_OP_UNARY, Y);
            add_in(&a, X);
            a.p.ip[0] = f;
            a.p.fp[0] = alpha;
            double w = 0;
            CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(Y), n, REL_TOL, 0, &w),
                  "unary %s n=%lld (worst %.3f of tolerance)", ml_unary_name((ml_unary_kind)f),
                  (long long)n, w);
            /* The gradient, given y = f(x) rounded to float. */
            float *y = ml_tensor_f32(Y);
            for (int64_t i = 0; i < n; i++) {
                y[i] = (float)ref_unary((ml_unary_kind)f, x[i], alpha);
                ref[i] = ref_unary_back((ml_unary_kind)f, g[i], x[i], y[i], alpha);
            }
            a = kargs(ML_OP_UNARY_BACK, D);
            add_in(&a, G);
            add_in(&a, X);
            add_in(&a, Y);
            a.p.ip[0] = f;
            a.p.fp[0] = alpha;
            CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, REL_TOL, 0, &w),
                  "unary_back %s n=%lld (worst %.3f of tolerance)", ml_unary_name((ml_unary_kind)f),
                  (long long)n, w);
            ml_tensor_free(X);
            ml_tensor_free(Y);
            ml_tensor_free(G);
            ml_tensor_free(D);
        }
    }

    /* Dense sweeps of the transcendental functions over their whole range. */
    enum { SWEEP = 20001 };
    ml_tensor *X = tnew(ML_F32, 1, SHAPE(SWEEP)), *Y = tnew(ML_F32, 1, SHAPE(SWEEP));
    const struct {
        ml_unary_kind f;
        float lo, hi;
    } sweeps[] = {{ML_UNARY_EXP, -103.0f, 88.7f},    {ML_UNARY_LOG, 1e-3f, 1e4f},
                  {ML_UNARY_SIGMOID, -100.0f, 100.0f}, {ML_UNARY_TANH, -12.0f, 12.0f},
                  {ML_UNARY_TANH, -1.0f, 1.0f},        {ML_UNARY_SOFTPLUS, -100.0f, 100.0f},
                  {ML_UNARY_ELU, -30.0f, 1.0f},        {ML_UNARY_ELU, -0.01f, 0.01f},
                  {ML_UNARY_SQRT, 0.0f, 1e6f}};
    for (size_t c = 0; c < sizeof sweeps / sizeof sweeps[0]; c++) {
        float *x = ml_tensor_f32(X);
        for (int64_t i = 0; i < SWEEP; i++) {
            x[i] = sweeps[c].lo + (sweeps[c].hi - sweeps[c].lo) * (float)i / (SWEEP - 1);
            ref[i] = ref_unary(sweeps[c].f, x[i], 1.0);
        }
        ml_kernel_args a = kargs(ML_OP_UNARY, Y);
        add_in(&a, X);
        a.p.ip[0] = sweeps[c].f;
        a.p.fp[0] = 1.0f;
        double w = 0;
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(Y), SWEEP, REL_TOL, 0, &w),
              "unary %s swept over [%g, %g] (worst %.3f of tolerance)", ml_unary_name(sweeps[c].f),
              sweeps[c].lo, sweeps[c].hi, w);
    }
    /* Limits. */
    const float lim_x[] = {100.0f, -200.0f, INFINITY, -INFINITY, 0.0f, -1.0f, 1e-40f};
    const ml_unary_kind lim_f[] = {ML_UNARY_EXP, ML_UNARY_EXP, ML_UNARY_EXP, ML_UNARY_EXP,
                                   ML_UNARY_LOG, ML_UNARY_LOG, ML_UNARY_LOG};
    for (int c = 0; c < 7; c++) {
        ml_tensor *x1 = tnew(ML_F32, 0, SHAPE(1)), *y1 = tnew(ML_F32, 0, SHAPE(1));
        ml_tensor_f32(x1)[0] = lim_x[c];
        ml_kernel_args a = kargs(ML_OP_UNARY, y1);
        add_in(&a, x1);
        a.p.ip[0] = lim_f[c];
        run(&a);
        double r = (float)ref_unary(lim_f[c], lim_x[c], 1.0); /* inf and 0 beyond float's range */
        float got = ml_tensor_f32(y1)[0];
        int ok = isnan(r) ? isnan(got) : isinf(r) ? got == r : fabs(got - r) <= REL_TOL * fabs(r);
        CHECK(ok, "%s(%g) = %g (expected %g)", ml_unary_name(lim_f[c]), lim_x[c], got, r);
        ml_tensor_free(x1);
        ml_tensor_free(y1);
    }
    ml_tensor_free(X);
    ml_tensor_free(Y);
}

/* ---- softmax ---- */

static void test_softmax(void)
{
    const shp shapes[] = {S(1, 10), S(7, 13), S(100, 10), S(3, 4, 5), S(2, 1), S(1, 1000)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        shp s = shapes[c];
        ml_tensor *X = tnormal(s.nd, s.shape, 3);
        ml_tensor *Y = tnew(ML_F32, s.nd, s.shape), *L = tnew(ML_F32, s.nd, s.shape);
        ml_tensor *G = tnormal(s.nd, s.shape, 1), *D = tnew(ML_F32, s.nd, s.shape);
        int64_t n = ml_tensor_numel(X), K = s.shape[s.nd - 1], R = n / K;
        float *x = ml_tensor_f32(X);
        if (c == 1) { /* a row of huge logits */
            x[0] = 1000.0f;
            x[1] = 999.0f;
            x[2] = -1000.0f;
            x[K] = -1000.0f;
        }
        char b[64];
        fmt_shape(X, b);
        double lse[1000];
        for (int64_t r = 0; r < R; r++) {
            double m = -INFINITY, s2 = 0;
            for (int64_t j = 0; j < K; j++)
                m = fmax(m, x[r * K + j]);
            for (int64_t j = 0; j < K; j++)
                s2 += exp(x[r * K + j] - m);
            lse[r] = m + log(s2);
        }
        for (int64_t i = 0; i < n; i++)
            ref[i] = exp(x[i] - lse[i / K]);
        ml_kernel_args a = kargs(ML_OP_SOFTMAX, Y);
        add_in(&a, X);
        double w = 0;
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(Y), n, REL_TOL, 0, &w), "softmax %s", b);
        for (int64_t i = 0; i < n; i++)
            ref[i] = x[i] - lse[i / K];
        a = kargs(ML_OP_LOG_SOFTMAX, L);
        add_in(&a, X);
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(L), n, REL_TOL, 0, &w),
              "log_softmax %s", b);

        const float *y = ml_tensor_f32(Y), *l = ml_tensor_f32(L), *g = ml_tensor_f32(G);
        for (int64_t r = 0; r < R; r++) {
            double dot = 0, sg = 0, mdot = 0;
            for (int64_t j = 0; j < K; j++) {
                dot += (double)g[r * K + j] * y[r * K + j];
                mdot += fabs((double)g[r * K + j] * y[r * K + j]);
                sg += g[r * K + j];
            }
            for (int64_t j = 0; j < K; j++) {
                int64_t i = r * K + j;
                ref[i] = y[i] * (g[i] - dot);
                mag[i] = fabs(y[i]) * (fabs(g[i]) + mdot);
            }
            (void)sg;
        }
        a = kargs(ML_OP_SOFTMAX_BACK, D);
        add_in(&a, G);
        add_in(&a, Y);
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, REL_TOL, 1, &w),
              "softmax_back %s", b);
        for (int64_t r = 0; r < R; r++) {
            double sg = 0, msg = 0;
            for (int64_t j = 0; j < K; j++) {
                sg += g[r * K + j];
                msg += fabs(g[r * K + j]);
            }
            for (int64_t j = 0; j < K; j++) {
                int64_t i = r * K + j;
                ref[i] = g[i] - exp((double)l[i]) * sg;
                mag[i] = fabs(g[i]) + exp((double)l[i]) * msg;
            }
        }
        a = kargs(ML_OP_LOG_SOFTMAX_BACK, D);
        add_in(&a, G);
        add_in(&a, L);
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, REL_TOL, 1, &w),
              "log_softmax_back %s", b);
        ml_tensor_free(X);
        ml_tensor_free(Y);
        ml_tensor_free(L);
        ml_tensor_free(G);
        ml_tensor_free(D);
    }
}

/* ---- reductions ---- */

/* Reference sum of x over the axes flagged in red (shape s); out in kept order. */
static void ref_reduce(const float *x, shp s, const int *red, double scale)
{
    int64_t n = ml_shape_numel(s.nd, s.shape);
    int64_t out_n = 1;
    for (int d = 0; d < s.nd; d++)
        if (!red[d])
            out_n *= s.shape[d];
    for (int64_t j = 0; j < out_n; j++)
        ref[j] = mag[j] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, idx[ML_MAX_DIMS];
        for (int d = s.nd - 1; d >= 0; d--) {
            idx[d] = rem % s.shape[d];
            rem /= s.shape[d];
        }
        int64_t j = 0;
        for (int d = 0; d < s.nd; d++)
            if (!red[d])
                j = j * s.shape[d] + idx[d];
        ref[j] += x[i] * scale;
        mag[j] += fabs(x[i] * scale);
    }
}

static void test_sum_mean_expand(void)
{
    const shp shapes[] = {S(1, 7), S(13, 9), S(100, 500), S(2, 3, 4, 5), S(17), S(1, 1, 3)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        shp s = shapes[c];
        ml_tensor *X = tnormal(s.nd, s.shape, 1);
        char b[64];
        fmt_shape(X, b);
        for (int axis = -1; axis < s.nd; axis++) { /* -1: all axes */
            int red[ML_MAX_DIMS] = {0};
            shp os = {0, {0}};
            int64_t count = 1;
            for (int d = 0; d < s.nd; d++) {
                red[d] = axis < 0 || d == axis;
                if (red[d])
                    count *= s.shape[d];
                else
                    os.shape[os.nd++] = s.shape[d];
            }
            ml_tensor *O = tnew(ML_F32, os.nd, os.shape);
            int64_t on = ml_tensor_numel(O);
            for (int mean = 0; mean < 2; mean++) {
                ref_reduce(ml_tensor_f32(X), s, red, mean ? 1.0 / count : 1.0);
                ml_kernel_args a = kargs(mean ? ML_OP_MEAN : ML_OP_SUM, O);
                add_in(&a, X);
                a.p.ip[0] = axis < 0 ? ML_ALL_AXES : axis;
                double w = 0;
                CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), on, RED_REL_TOL, 1, &w),
                      "%s %s over %s%d", mean ? "mean" : "sum", b, axis < 0 ? "all axes" : "axis ",
                      axis < 0 ? 0 : axis);
            }
            /* EXPAND back, with and without the division. */
            ml_tensor *E = tnew(ML_F32, s.nd, s.shape);
            const float *o = ml_tensor_f32(O);
            for (int divide = 0; divide < 2; divide++) {
                int64_t n = ml_tensor_numel(X);
                for (int64_t i = 0; i < n; i++) {
                    int64_t rem = i, idx[ML_MAX_DIMS], j = 0;
                    for (int d = s.nd - 1; d >= 0; d--) {
                        idx[d] = rem % s.shape[d];
                        rem /= s.shape[d];
                    }
                    for (int d = 0; d < s.nd; d++)
                        if (!red[d])
                            j = j * s.shape[d] + idx[d];
                    ref[i] = divide ? (double)o[j] / count : o[j];
                }
                ml_kernel_args a = kargs(ML_OP_EXPAND, E);
                add_in(&a, O);
                a.p.ip[0] = axis < 0 ? ML_ALL_AXES : axis;
                a.p.ip[1] = divide;
                double w = 0;
                CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(E), n, REL_TOL, 0, &w),
                      "expand to %s over %s%d %s", b, axis < 0 ? "all axes" : "axis ",
                      axis < 0 ? 0 : axis, divide ? "dividing" : "copying");
            }
            ml_tensor_free(E);
            ml_tensor_free(O);
        }
        ml_tensor_free(X);
    }
    /* A negative axis counts from the end. */
    ml_tensor *X = tnormal(2, SHAPE(5, 6), 1), *O = tnew(ML_F32, 1, SHAPE(5));
    ref_reduce(ml_tensor_f32(X), S(5, 6), (int[]){0, 1}, 1.0);
    ml_kernel_args a = kargs(ML_OP_SUM, O);
    add_in(&a, X);
    a.p.ip[0] = -1;
    double w = 0;
    CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), 5, RED_REL_TOL, 1, &w), "sum over axis -1");
    ml_tensor_free(X);
    ml_tensor_free(O);
}

static void sum_to_case(shp in, shp out, const char *what)
{
    ml_tensor *X = tnormal(in.nd, in.shape, 1), *O = tnew(ML_F32, out.nd, out.shape);
    int red[ML_MAX_DIMS] = {0};
    int lead = in.nd - out.nd;
    for (int d = 0; d < in.nd; d++) {
        int64_t od = d >= lead ? out.shape[d - lead] : 1;
        red[d] = od != in.shape[d];
    }
    ref_reduce(ml_tensor_f32(X), in, red, 1.0);
    ml_kernel_args a = kargs(ML_OP_SUM_TO, O);
    add_in(&a, X);
    double w = 0;
    char b1[64], b2[64];
    CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), ml_tensor_numel(O), RED_REL_TOL, 1, &w),
          "sum_to %s -> %s (%s)", fmt_shape(X, b1), fmt_shape(O, b2), what);
    ml_tensor_free(X);
    ml_tensor_free(O);
}

static void test_sum_to(void)
{
    const int64_t Bs[] = {1, 3, 100};
    const int64_t Ds[] = {1, 7, 500};
    for (int bi = 0; bi < 3; bi++)
        for (int di = 0; di < 3; di++) {
            int64_t B = Bs[bi], D = Ds[di];
            sum_to_case(S(B, D), S(D), "bias gradient: over the batch");
            sum_to_case(S(B, D), S(1, D), "to a [1, D] row");
            sum_to_case(S(B, D), S(B, 1), "to a column");
            sum_to_case(S(B, D), S0, "to a scalar");
            sum_to_case(S(B, D), S(1, 1), "to [1, 1]");
            sum_to_case(S(B, D), S(B, D), "no reduction");
        }
    sum_to_case(S(2, 3, 4, 5), S(3, 1, 1), "per channel");
    sum_to_case(S(2, 3, 4, 5), S(1, 4, 1), "middle axis");
    sum_to_case(S(2, 3, 4, 5), S(2, 1, 4, 1), "alternating");
    sum_to_case(S(2, 3, 4, 5), S(4, 5), "leading axes removed");
    sum_to_case(S(2, 3, 4, 5), S(5), "to a row");
    sum_to_case(S(2, 3, 4, 5), S0, "to a scalar");
    sum_to_case(S(3, 1, 2, 1, 2, 3), S(1, 1, 3), "6-D");
    sum_to_case(S(300, 700), S(700), "long batch");
}

/* ---- max, argmax ---- */

static void test_max(void)
{
    const shp shapes[] = {S(7, 13), S(1, 9), S(2, 3, 4, 5), S(100, 10), S(1)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        shp s = shapes[c];
        ml_tensor *X = tnormal(s.nd, s.shape, 1);
        const float *x = ml_tensor_f32(X);
        int64_t n = ml_tensor_numel(X);
        char b[64];
        fmt_shape(X, b);
        for (int axis = -1; axis < s.nd; axis++) {
            shp os = {0, {0}};
            int64_t outer = 1, len = n, inner = 1;
            if (axis >= 0) {
                len = s.shape[axis];
                for (int d = 0; d < s.nd; d++) {
                    if (d < axis)
                        outer *= s.shape[d];
                    if (d > axis)
                        inner *= s.shape[d];
                    if (d != axis)
                        os.shape[os.nd++] = s.shape[d];
                }
            }
            ml_tensor *O = tnew(ML_F32, os.nd, os.shape), *G = tnormal(os.nd, os.shape, 1);
            ml_tensor *D = tnew(ML_F32, s.nd, s.shape);
            int64_t on = ml_tensor_numel(O);
            int32_t *aux = malloc((size_t)on * sizeof *aux);
            static double back[MAXN];
            for (int64_t i = 0; i < n; i++)
                back[i] = 0;
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < inner; j++) {
                    int64_t best = o * len * inner + j;
                    for (int64_t l = 0; l < len; l++)
                        if (x[o * len * inner + l * inner + j] > x[best])
                            best = o * len * inner + l * inner + j;
                    ref[o * inner + j] = x[best];
                    back[best] = ml_tensor_f32(G)[o * inner + j];
                }
            ml_kernel_args a = kargs(ML_OP_MAX, O);
            add_in(&a, X);
            a.p.ip[0] = axis < 0 ? ML_ALL_AXES : axis;
            a.aux = aux;
            double w = 0;
            CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), on, 0, 0, &w), "max %s over %s%d",
                  b, axis < 0 ? "all axes" : "axis ", axis < 0 ? 0 : axis);
            a = kargs(ML_OP_MAX_BACK, D);
            add_in(&a, G);
            a.p.ip[0] = axis < 0 ? ML_ALL_AXES : axis;
            a.aux = aux;
            memcpy(ref, back, (size_t)n * sizeof *ref);
            CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, 0, 0, &w),
                  "max_back %s over %s%d: g at the argmax", b, axis < 0 ? "all axes" : "axis ",
                  axis < 0 ? 0 : axis);
            free(aux);
            ml_tensor_free(O);
            ml_tensor_free(G);
            ml_tensor_free(D);
        }
        /* ARGMAX over the last axis. */
        int64_t K = s.shape[s.nd - 1], R = n / K;
        ml_tensor *I = tnew(ML_I32, s.nd - 1, s.shape);
        ml_kernel_args a = kargs(ML_OP_ARGMAX, I);
        add_in(&a, X);
        int ok = run(&a) == ML_OK;
        for (int64_t r = 0; r < R; r++) {
            int64_t best = 0;
            for (int64_t j = 1; j < K; j++)
                if (x[r * K + j] > x[r * K + best])
                    best = j;
            ok &= ml_tensor_i32(I)[r] == best;
        }
        CHECK(ok, "argmax %s", b);
        ml_tensor_free(I);
        ml_tensor_free(X);
    }
    /* Ties: the first maximum, as NumPy. */
    ml_tensor *X = tnew(ML_F32, 2, SHAPE(1, 5)), *I = tnew(ML_I32, 1, SHAPE(1));
    float *x = ml_tensor_f32(X);
    x[0] = 1, x[1] = 3, x[2] = 2, x[3] = 3, x[4] = 0;
    ml_kernel_args a = kargs(ML_OP_ARGMAX, I);
    add_in(&a, X);
    CHECK(run(&a) == ML_OK && ml_tensor_i32(I)[0] == 1, "argmax of a tie is the first");
    ml_tensor_free(X);
    ml_tensor_free(I);
}

/* ---- layout ---- */

static void transpose_case(shp s, const int *perm, ml_dtype dtype)
{
    ml_tensor *X = tnew(dtype, s.nd, s.shape);
    int64_t n = ml_tensor_numel(X);
    uint32_t *x = ml_tensor_data(X);
    for (int64_t i = 0; i < n; i++)
        x[i] = ml_rng_next_u32(&rng);
    shp os = {s.nd, {0}};
    for (int i = 0; i < s.nd; i++)
        os.shape[i] = s.shape[perm[i]];
    ml_tensor *O = tnew(dtype, os.nd, os.shape);
    ml_kernel_args a = kargs(ML_OP_TRANSPOSE, O);
    add_in(&a, X);
    for (int i = 0; i < s.nd; i++)
        a.p.ip[i] = perm[i];
    int ok = run(&a) == ML_OK;
    const uint32_t *o = ml_tensor_data(O);
    int64_t in_stride[ML_MAX_DIMS], st = 1;
    for (int d = s.nd - 1; d >= 0; d--) {
        in_stride[d] = st;
        st *= s.shape[d];
    }
    for (int64_t i = 0; i < n && ok; i++) {
        int64_t rem = i, k = 0;
        for (int d = os.nd - 1; d >= 0; d--) {
            k += (rem % os.shape[d]) * in_stride[perm[d]];
            rem /= os.shape[d];
        }
        ok = o[i] == x[k];
    }
    char b1[64], b2[64];
    CHECK(ok, "transpose %s %s -> %s (perm %d%d%d%d%d%d)", ml_dtype_name(dtype), fmt_shape(X, b1),
          fmt_shape(O, b2), perm[0], s.nd > 1 ? perm[1] : 0, s.nd > 2 ? perm[2] : 0,
          s.nd > 3 ? perm[3] : 0, s.nd > 4 ? perm[4] : 0, s.nd > 5 ? perm[5] : 0);
    ml_tensor_free(X);
    ml_tensor_free(O);
}

static void test_layout(void)
{
    const int p2[] = {1, 0};
    transpose_case(S(1, 1), p2, ML_F32);
    transpose_case(S(1, 9), p2, ML_F32);
    transpose_case(S(7, 13), p2, ML_F32);
    transpose_case(S(100, 37), p2, ML_F32);
    transpose_case(S(64, 64), p2, ML_I32);
    transpose_case(S(784, 500), p2, ML_F32);
    const int p4[][4] = {{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 2, 3},
                         {0, 1, 3, 2}, {0, 1, 2, 3}, {2, 0, 3, 1}, {1, 3, 0, 2}};
    for (int c = 0; c < 8; c++) {
        transpose_case(S(2, 3, 4, 5), p4[c], ML_F32);
        transpose_case(S(1, 7, 33, 2), p4[c], c % 2 ? ML_I32 : ML_F32);
        transpose_case(S(3, 1, 40, 35), p4[c], ML_F32);
    }
    transpose_case(S(2, 3, 4, 5, 2, 3), (const int[]){5, 3, 1, 0, 2, 4}, ML_F32);
    transpose_case(S(9), (const int[]){0}, ML_F32);

    /* CONCAT along each axis, three inputs, and SLICE back out. */
    const shp base = S(3, 4, 5);
    for (int axis = 0; axis < 3; axis++) {
        const int64_t lens[3] = {1, 2, 4};
        ml_tensor *ins[3];
        shp os = base;
        os.shape[axis] = 7;
        ml_tensor *O = tnew(ML_F32, 3, os.shape);
        ml_kernel_args a = kargs(ML_OP_CONCAT, O);
        a.p.ip[0] = axis;
        for (int k = 0; k < 3; k++) {
            shp is = base;
            is.shape[axis] = lens[k];
            ins[k] = tnormal(3, is.shape, 1);
            add_in(&a, ins[k]);
        }
        int ok = run(&a) == ML_OK;
        const float *o = ml_tensor_f32(O);
        int64_t n = ml_tensor_numel(O);
        for (int64_t i = 0; i < n && ok; i++) {
            int64_t idx[3], rem = i;
            for (int d = 2; d >= 0; d--) {
                idx[d] = rem % os.shape[d];
                rem /= os.shape[d];
            }
            int k = 0;
            int64_t pos = idx[axis];
            while (pos >= lens[k])
                pos -= lens[k++];
            idx[axis] = pos;
            const ml_tensor *t = ins[k];
            ok = o[i] == ml_tensor_f32(t)[(idx[0] * t->shape[1] + idx[1]) * t->shape[2] + idx[2]];
        }
        CHECK(ok, "concat of three along axis %d", axis);

        /* The middle piece again. */
        shp ss = base;
        ss.shape[axis] = 2;
        ml_tensor *Sl = tnew(ML_F32, 3, ss.shape);
        a = kargs(ML_OP_SLICE, Sl);
        add_in(&a, O);
        a.p.ip[0] = axis;
        a.p.ip[1] = 1;
        ok = run(&a) == ML_OK &&
             memcmp(ml_tensor_f32(Sl), ml_tensor_f32(ins[1]), ml_tensor_nbytes(Sl)) == 0;
        CHECK(ok, "slice [1, 3) along axis %d", axis);
        a.p.ip[1] = 6;
        CHECK(run(&a) == ML_ESHAPE, "slice past the end along axis %d is ML_ESHAPE", axis);
        ml_tensor_free(Sl);
        for (int k = 0; k < 3; k++)
            ml_tensor_free(ins[k]);
        ml_tensor_free(O);
    }
    /* Batch 1 slice of rows, and COPY as a reshape. */
    ml_tensor *X = tnormal(2, SHAPE(1, 10), 1), *Y = tnew(ML_F32, 2, SHAPE(1, 3));
    ml_kernel_args a = kargs(ML_OP_SLICE, Y);
    add_in(&a, X);
    a.p.ip[0] = 1;
    a.p.ip[1] = 7;
    CHECK(run(&a) == ML_OK && memcmp(ml_tensor_f32(Y), ml_tensor_f32(X) + 7, 12) == 0,
          "slice of the last three columns of a batch of 1");
    ml_tensor *C = tnew(ML_F32, 3, SHAPE(2, 5, 1));
    a = kargs(ML_OP_COPY, C);
    add_in(&a, X);
    CHECK(run(&a) == ML_OK && memcmp(ml_tensor_f32(C), ml_tensor_f32(X), 40) == 0,
          "copy [1, 10] -> [2, 5, 1]");
    ml_tensor_free(X);
    ml_tensor_free(Y);
    ml_tensor_free(C);
}

/* ---- clip, dropout ---- */

static void test_clip(void)
{
    const int64_t ns[] = {1, 13, 1000};
    for (int c = 0; c < 3; c++) {
        int64_t n = ns[c];
        ml_tensor *X = tnormal(1, SHAPE(n), 2), *G = tnormal(1, SHAPE(n), 1);
        ml_tensor *O = tnew(ML_F32, 1, SHAPE(n));
        const float *x = ml_tensor_f32(X), *g = ml_tensor_f32(G);
        for (int64_t i = 0; i < n; i++)
            ref[i] = fmin(fmax(x[i], -1.0), 0.5);
        ml_kernel_args a = kargs(ML_OP_CLIP, O);
        add_in(&a, X);
        a.p.fp[0] = -1.0f;
        a.p.fp[1] = 0.5f;
        double w = 0;
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), n, 0, 0, &w), "clip n=%lld",
              (long long)n);
        for (int64_t i = 0; i < n; i++)
            ref[i] = (x[i] > -1.0f && x[i] < 0.5f) ? g[i] : 0.0;
        a = kargs(ML_OP_CLIP_BACK, O);
        add_in(&a, G);
        add_in(&a, X);
        a.p.fp[0] = -1.0f;
        a.p.fp[1] = 0.5f;
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(O), n, 0, 0, &w), "clip_back n=%lld",
              (long long)n);
        ml_tensor_free(X);
        ml_tensor_free(G);
        ml_tensor_free(O);
    }
}

/* counter + k as a 128-bit number, word 0 least significant, carried word by word. */
static void counter_plus(const uint32_t c[4], uint64_t k, uint32_t r[4])
{
    uint64_t carry = k;
    for (int w = 0; w < 4; w++) {
        uint64_t s = (uint64_t)c[w] + (carry & 0xffffffffu);
        r[w] = (uint32_t)s;
        carry = (carry >> 32) + (s >> 32);
    }
}

static void test_dropout(void)
{
    const int64_t ns[] = {1, 5, 1000, 100003};
    const uint32_t counters[][4] = {{0, 0, 0, 0},
                                    {0xFFFFFFF0u, 0xFFFFFFFFu, 7, 0},
                                    {0xFFFFFF00u, 0xFFFFFFFFu, 0xFFFFFFFFu, 3},
                                    {12345, 678, 9, 10}};
    const float ps[] = {0.5f, 0.8f, 0.2f, 0.5f};
    for (int c = 0; c < 4; c++) {
        int64_t n = ns[c];
        float p = ps[c], scale = 1.0f / p;
        ml_tensor *X = tnormal(2, SHAPE(1, n), 1), *O = tnew(ML_F32, 2, SHAPE(1, n));
        ml_tensor *G = tnormal(2, SHAPE(1, n), 1), *D = tnew(ML_F32, 2, SHAPE(1, n));
        uint8_t *mask = malloc((size_t)n);
        ml_kernel_args a = kargs(ML_OP_DROPOUT, O);
        add_in(&a, X);
        a.p.fp[0] = p;
        a.p.fp[1] = scale;
        a.aux = mask;
        a.rng_key[0] = 0x9E3779B9u * (uint32_t)(c + 1);
        a.rng_key[1] = 42u + (uint32_t)c;
        memcpy(a.rng_counter, counters[c], sizeof a.rng_counter);
        int ok = run(&a) == ML_OK;
        const float *x = ml_tensor_f32(X), *o = ml_tensor_f32(O), *g = ml_tensor_f32(G);
        int64_t kept = 0, mask_ok = 1, out_ok = 1;
        for (int64_t i = 0; i < n; i++) {
            uint32_t ctr[4], words[4];
            counter_plus(counters[c], (uint64_t)i / 4, ctr);
            ml_philox4x32(ctr, a.rng_key, words);
            float u = (float)(words[i % 4] >> 8) * (1.0f / 16777216.0f);
            uint8_t m = u < p;
            kept += m;
            mask_ok &= mask[i] == m;
            out_ok &= o[i] == x[i] * (float)m * scale;
        }
        CHECK(ok && mask_ok, "dropout n=%lld: the mask is Philox word i%%4 at counter + i/4 "
              "(counter %08x %08x %08x %08x)", (long long)n, counters[c][0], counters[c][1],
              counters[c][2], counters[c][3]);
        CHECK(out_ok, "dropout n=%lld: out = x * mask * scale", (long long)n);
        if (n >= 1000)
            CHECK(fabs((double)kept / n - p) < (n > 10000 ? 0.01 : 0.05),
                  "dropout n=%lld keeps %.4f, p = %.2f", (long long)n, (double)kept / n, p);
        a = kargs(ML_OP_DROPOUT_BACK, D);
        add_in(&a, G);
        a.p.fp[0] = p;
        a.p.fp[1] = scale;
        a.aux = mask;
        ok = run(&a) == ML_OK;
        for (int64_t i = 0; i < n; i++)
            ok &= ml_tensor_f32(D)[i] == g[i] * (float)mask[i] * scale;
        CHECK(ok, "dropout_back n=%lld", (long long)n);
        free(mask);
        ml_tensor_free(X);
        ml_tensor_free(O);
        ml_tensor_free(G);
        ml_tensor_free(D);
    }
}

/* ---- losses ---- */

static void test_nll(void)
{
    const int64_t dims[][2] = {{1, 10}, {7, 13}, {100, 10}, {3, 1}, {2, 1000}};
    for (int c = 0; c < 6; c++) {
        int huge = c == 5;
        int64_t B = huge ? 4 : dims[c][0], K = huge ? 3 : dims[c][1];
        ml_tensor *X = tnormal(2, SHAPE(B, K), 3), *Y = tlabels(B, K);
        ml_tensor *L = tnew(ML_F32, 0, SHAPE(1)), *G = tnew(ML_F32, 0, SHAPE(1));
        ml_tensor *D = tnew(ML_F32, 2, SHAPE(B, K));
        float *x = ml_tensor_f32(X);
        const int32_t *y = ml_tensor_i32(Y);
        if (huge) {
            const float rows[4][3] = {{1000, -1000, 0}, {1000, 1000, 1000}, {-1000, 1000, 999},
                                      {-1000, -1000, -1000}};
            memcpy(x, rows, sizeof rows);
            int32_t *yy = ml_tensor_i32(Y);
            yy[0] = 1, yy[1] = 0, yy[2] = 2, yy[3] = 1;
        }
        float *prob = malloc((size_t)(B * K) * sizeof *prob);
        double total = 0;
        static double pref[MAXN];
        for (int64_t r = 0; r < B; r++) {
            double m = -INFINITY, s = 0;
            for (int64_t j = 0; j < K; j++)
                m = fmax(m, x[r * K + j]);
            for (int64_t j = 0; j < K; j++)
                s += exp(x[r * K + j] - m);
            for (int64_t j = 0; j < K; j++)
                pref[r * K + j] = exp(x[r * K + j] - m) / s;
            total += m + log(s) - x[r * K + y[r]];
        }
        ml_kernel_args a = kargs(ML_OP_NLL_LOGSOFTMAX, L);
        add_in(&a, X);
        add_in(&a, Y);
        a.aux = prob;
        int ok = run(&a) == ML_OK;
        float loss = ml_tensor_f32(L)[0];
        ref[0] = total / B;
        mag[0] = fabs(ref[0]) + 1000.0 * huge;
        double w = 0;
        CHECK(ok && isfinite(loss) && compare(&loss, 1, REL_TOL, 1, &w),
              "nll_logsoftmax [%lld, %lld]%s = %g (expected %g)", (long long)B, (long long)K,
              huge ? " with logits of +-1000" : "", loss, ref[0]);
        memcpy(ref, pref, (size_t)(B * K) * sizeof *ref);
        CHECK(compare(prob, B * K, REL_TOL, 0, &w), "nll_logsoftmax keeps the softmax in aux");

        ml_tensor_f32(G)[0] = 0.7f;
        for (int64_t r = 0; r < B; r++)
            for (int64_t j = 0; j < K; j++)
                ref[r * K + j] = (prob[r * K + j] - (j == y[r])) * 0.7 / B;
        a = kargs(ML_OP_NLL_LOGSOFTMAX_BACK, D);
        add_in(&a, G);
        add_in(&a, Y);
        a.aux = prob;
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), B * K, REL_TOL, 0, &w),
              "nll_logsoftmax_back [%lld, %lld]", (long long)B, (long long)K);

        /* MISCLASS on the same scores. */
        int64_t wrong = 0;
        for (int64_t r = 0; r < B; r++) {
            int64_t best = 0;
            for (int64_t j = 1; j < K; j++)
                if (x[r * K + j] > x[r * K + best])
                    best = j;
            wrong += best != y[r];
        }
        a = kargs(ML_OP_MISCLASS, L);
        add_in(&a, X);
        add_in(&a, Y);
        CHECK(run(&a) == ML_OK && ml_tensor_f32(L)[0] == (float)((double)wrong / B),
              "misclass [%lld, %lld] = %g (expected %lld/%lld)", (long long)B, (long long)K,
              ml_tensor_f32(L)[0], (long long)wrong, (long long)B);
        free(prob);
        ml_tensor_free(X);
        ml_tensor_free(Y);
        ml_tensor_free(L);
        ml_tensor_free(G);
        ml_tensor_free(D);
    }
    /* Labels chosen: two of four right. */
    ml_tensor *X = tnew(ML_F32, 2, SHAPE(4, 3)), *Y = tnew(ML_I32, 1, SHAPE(4));
    ml_tensor *L = tnew(ML_F32, 0, SHAPE(1));
    const float xs[12] = {0, 1, 2, 5, 1, 0, 0, 9, 1, 3, 3, -1};
    const int32_t ys[4] = {2, 1, 1, 0};
    memcpy(ml_tensor_f32(X), xs, sizeof xs);
    memcpy(ml_tensor_i32(Y), ys, sizeof ys);
    ml_kernel_args a = kargs(ML_OP_MISCLASS, L);
    add_in(&a, X);
    add_in(&a, Y);
    CHECK(run(&a) == ML_OK && ml_tensor_f32(L)[0] == 0.25f, "misclass of 1 in 4 (ties: first)");
    ml_tensor_free(X);
    ml_tensor_free(Y);
    ml_tensor_free(L);
}

static double ref_softplus(double z)
{
    return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

static void test_bce_se(void)
{
    const shp shapes[] = {S(1, 1), S(7, 13), S(100, 10), S(5), S(3, 2, 4), S(6, 2)};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        shp s = shapes[c];
        int extreme = c == 5;
        ml_tensor *Z = tnormal(s.nd, s.shape, 3), *T = tuniform(s.nd, s.shape, 0, 1);
        ml_tensor *L = tnew(ML_F32, 0, SHAPE(1)), *G = tnew(ML_F32, 0, SHAPE(1));
        ml_tensor *D = tnew(ML_F32, s.nd, s.shape);
        int64_t n = ml_tensor_numel(Z), B = s.shape[0];
        float *z = ml_tensor_f32(Z), *t = ml_tensor_f32(T);
        if (extreme) {
            const float zs[12] = {100, -100, 100, -100, 100, -100, 0, 1e-3f, -30, 30, 88, -88};
            const float ts[12] = {1, 0, 0, 1, 0.5f, 0.5f, 1, 0, 1, 0, 1, 1};
            memcpy(z, zs, sizeof zs);
            memcpy(t, ts, sizeof ts);
        }
        char b[64];
        fmt_shape(Z, b);
        double total = 0, m = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = ref_softplus(z[i]) - (double)z[i] * t[i];
            total += v;
            m += fabs(ref_softplus(z[i])) + fabs((double)z[i] * t[i]);
        }
        ref[0] = total / B;
        mag[0] = m / B;
        ml_kernel_args a = kargs(ML_OP_BCE_LOGITS, L);
        add_in(&a, Z);
        add_in(&a, T);
        double w = 0;
        float loss;
        int ok = run(&a) == ML_OK;
        loss = ml_tensor_f32(L)[0];
        CHECK(ok && isfinite(loss) && compare(&loss, 1, REL_TOL, 1, &w),
              "bce_logits %s%s = %g (expected %g)", b, extreme ? " with |z| = 100" : "", loss, ref[0]);
        ml_tensor_f32(G)[0] = 1.5f;
        for (int64_t i = 0; i < n; i++)
            ref[i] = (1 / (1 + exp(-(double)z[i])) - t[i]) * 1.5 / B;
        a = kargs(ML_OP_BCE_LOGITS_BACK, D);
        add_in(&a, G);
        add_in(&a, Z);
        add_in(&a, T);
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, REL_TOL, 0, &w), "bce_logits_back %s", b);

        /* Squared error of z and t. */
        total = m = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)z[i] - t[i];
            total += d * d;
        }
        ref[0] = mag[0] = total / B;
        a = kargs(ML_OP_SQUARED_ERROR, L);
        add_in(&a, Z);
        add_in(&a, T);
        ok = run(&a) == ML_OK;
        loss = ml_tensor_f32(L)[0];
        CHECK(ok && compare(&loss, 1, REL_TOL, 1, &w), "squared_error %s", b);
        for (int64_t i = 0; i < n; i++)
            ref[i] = 2 * ((double)z[i] - t[i]) * 1.5 / B;
        a = kargs(ML_OP_SQUARED_ERROR_BACK, D);
        add_in(&a, G);
        add_in(&a, Z);
        add_in(&a, T);
        CHECK(run(&a) == ML_OK && compare(ml_tensor_f32(D), n, REL_TOL, 0, &w),
              "squared_error_back %s", b);
        ml_tensor_free(Z);
        ml_tensor_free(T);
        ml_tensor_free(L);
        ml_tensor_free(G);
        ml_tensor_free(D);
    }
}

/* ---- learning rule, const ---- */

static void test_momentum(void)
{
    const int64_t ns[] = {1, 13, 1000};
    for (int c = 0; c < 3; c++)
        for (int nesterov = 0; nesterov < 2; nesterov++) {
            int64_t n = ns[c];
            ml_tensor *P = tnormal(1, SHAPE(n), 1), *V = tnormal(1, SHAPE(n), 0.1f);
            ml_tensor *Gr = tnormal(1, SHAPE(n), 1);
            ml_tensor *lr = tnew(ML_F32, 0, SHAPE(1)), *mu = tnew(ML_F32, 0, SHAPE(1));
            static double vref[MAXN];
            const float *p = ml_tensor_f32(P), *v = ml_tensor_f32(V), *g = ml_tensor_f32(Gr);
            const double LR = 0.05f, MU = 0.9f;
            for (int64_t i = 0; i < n; i++) {
                vref[i] = MU * v[i] - LR * g[i];
                ref[i] = p[i] + (nesterov ? MU * vref[i] - LR * g[i] : vref[i]);
                mag[i] = fabs(p[i]) + fabs(MU * v[i]) + fabs(LR * g[i]);
            }
            ml_kernel_args a = kargs(ML_OP_MOMENTUM_STEP, NULL);
            add_in(&a, P);
            add_in(&a, V);
            add_in(&a, Gr);
            add_in(&a, lr);
            add_in(&a, mu);
            a.scalar[0] = 0.1f;
            a.p.fp[0] = 0.5f; /* the lr scale: 0.1 * 0.5 = LR */
            a.scalar[1] = 0.9f;
            a.p.ip[0] = nesterov;
            double w = 0;
            int ok = run(&a) == ML_OK && compare(ml_tensor_f32(P), n, REL_TOL, 1, &w);
            memcpy(ref, vref, (size_t)n * sizeof *ref);
            ok = ok && compare(ml_tensor_f32(V), n, REL_TOL, 0, &w);
            CHECK(ok, "momentum_step n=%lld %s", (long long)n, nesterov ? "Nesterov" : "plain");
            ml_tensor_free(P);
            ml_tensor_free(V);
            ml_tensor_free(Gr);
            ml_tensor_free(lr);
            ml_tensor_free(mu);
        }
}

static void test_gather_and_watch(void)
{
    ml_tensor *X = tuniform(2, SHAPE(50, 7), -1, 1), *I = tnew(ML_I32, 1, SHAPE(4)), *O = tnew(ML_F32, 2, SHAPE(4, 7));
    const int32_t idx[4] = {49, 0, 49, 17};
    memcpy(ml_tensor_i32(I), idx, sizeof idx);
    ml_kernel_args a = kargs(ML_OP_GATHER_ROWS, O);
    add_in(&a, X);
    add_in(&a, I);
    int ok = run(&a) == ML_OK;
    for (int r = 0; r < 4; r++)
        ok &= memcmp(ml_tensor_f32(O) + r * 7, ml_tensor_f32(X) + idx[r] * 7, 7 * sizeof(float)) == 0;
    CHECK(ok, "gather_rows copies the indexed rows, repeats included");
    ml_tensor_i32(I)[2] = 50;
    CHECK(run(&a) == ML_EINVAL && strstr(ml_last_error(), "index 50 at 2 is outside 0..49"),
          "gather_rows refuses an index outside the rows: %s", ml_last_error());
    ml_tensor *Bad = tnew(ML_F32, 2, SHAPE(4, 6));
    a = kargs(ML_OP_GATHER_ROWS, Bad);
    add_in(&a, X);
    add_in(&a, I);
    CHECK(run(&a) == ML_ESHAPE, "gather_rows into rows of another size: %s", ml_last_error());

    ml_tensor *flag = tnew(ML_F32, 1, SHAPE(2)), *v = tnew(ML_F32, 0, SHAPE(1));
    ml_tensor_fill(flag, 0);
    const float values[4] = {0.5f, NAN, INFINITY, 1};
    ok = 1;
    for (int b = 0; b < 4; b++) {
        ml_tensor_f32(v)[0] = values[b];
        a = kargs(ML_OP_NONFINITE_WATCH, NULL);
        add_in(&a, v);
        add_in(&a, flag);
        add_in(&a, v);
        a.scalar[0] = (float)(b + 1);
        ok &= run(&a) == ML_OK;
    }
    CHECK(ok && ml_tensor_f32(flag)[0] == 2 && ml_tensor_f32(flag)[1] == 1,
          "nonfinite_watch keeps the first non-finite batch (2) and its kind (NaN)");
    ml_tensor_free(X);
    ml_tensor_free(I);
    ml_tensor_free(O);
    ml_tensor_free(Bad);
    ml_tensor_free(flag);
    ml_tensor_free(v);
}

static void test_const(void)
{
    ml_tensor *O = tnew(ML_F32, 2, SHAPE(3, 7));
    ml_kernel_args a = kargs(ML_OP_CONST, O);
    a.p.fp[0] = -2.5f;
    int ok = run(&a) == ML_OK;
    for (int i = 0; i < 21; i++)
        ok &= ml_tensor_f32(O)[i] == -2.5f;
    CHECK(ok, "const fills its output");
    ml_tensor_free(O);
}

int main(void)
{
    ml_rng_seed(&rng, 20240611);
    be = ml_backend_get(ML_CPU);
    if (!be) {
        printf("Bail out! no CPU backend: %s\n", ml_last_error());
        return 1;
    }
    test_names_and_table();
    test_matmul();
    test_binary();
    test_affine_scalar();
    test_unary();
    test_softmax();
    test_sum_mean_expand();
    test_sum_to();
    test_max();
    test_layout();
    test_clip();
    test_dropout();
    test_nll();
    test_bce_se();
    test_momentum();
    test_gather_and_watch();
    test_const();
    return harness_done();
}
