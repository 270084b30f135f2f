/* Elementwise kernels: broadcasting arithmetic, unary functions and their
 * gradients, clipping, dropout.
 *
 * The pragma lets gcc vectorise loops whose body has selects next to
 * arithmetic (if-conversion computes both arms, which it does only when FP
 * operations may not trap: the library never reads the FP exception flags)
 * and loops calling sqrtf (no errno to set).  Values are unchanged.  Without
 * it, these loops run one element at a time. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno")
#endif

#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_math.h"
#include "core/rng.h"

/* ---- Broadcasting binary arithmetic ---- */

/* Inner loops: operand a and b each either a vector (v) or a repeated scalar (s). */
typedef void (*binary_row_fn)(float *restrict o, const float *restrict x,
                              const float *restrict y, int64_t n);

#define BINARY_ROWS(NAME, EXPR)                                                               \
    static void NAME##_vv(float *restrict o, const float *restrict xp,                         \
                          const float *restrict yp, int64_t n)                                 \
    {                                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                      \
            float x = xp[i], y = yp[i];                                                        \
            o[i] = (EXPR);                                                                     \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_vs(float *restrict o, const float *restrict xp,                         \
                          const float *restrict yp, int64_t n)                                 \
    {                                                                                          \
        const float y = yp[0];                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                      \
            float x = xp[i];                                                                   \
            o[i] = (EXPR);                                                                     \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_sv(float *restrict o, const float *restrict xp,                         \
                          const float *restrict yp, int64_t n)                                 \
    {                                                                                          \
        const float x = xp[0];                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                      \
            float y = yp[i];                                                                   \
            o[i] = (EXPR);                                                                     \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_ss(float *restrict o, const float *restrict xp,                         \
                          const float *restrict yp, int64_t n)                                 \
    {                                                                                          \
        const float x = xp[0], y = yp[0];                                                      \
        const float v = (EXPR);                                                                \
        for (int64_t i = 0; i < n; i++)                                                        \
            o[i] = v;                                                                          \
    }

BINARY_ROWS(add, x + y)
BINARY_ROWS(sub, x - y)
BINARY_ROWS(mul, x * y)
BINARY_ROWS(div, x / y)

/* [op][x is scalar * 2 + y is scalar] */
static const binary_row_fn binary_rows[4][4] = {
    {add_vv, add_vs, add_sv, add_ss},
    {sub_vv, sub_vs, sub_sv, sub_ss},
    {mul_vv, mul_vs, mul_sv, mul_ss},
    {div_vv, div_vs, div_sv, div_ss},
};

ml_status ml_cpu_binary(const ml_kernel_args *a)
{
    if (a->op < ML_OP_ADD || a->op > ML_OP_DIV)
        return ml_error(ML_EINVAL, "cpu: %s is not a binary arithmetic op", ml_op_name(a->op));
    if (a->n_in != 2)
        return ml_cpu_shape_error(a, "needs two operands");
    ml_bcast_plan p;
    if (ml_bcast_plan_make(&a->out, &a->in[0], &a->in[1], &p) != 0)
        return ml_cpu_shape_error(a, "operands do not broadcast to the output");
    float *o = ml_tensor_f32(&a->out);
    const float *x = ml_tensor_f32(&a->in[0]), *y = ml_tensor_f32(&a->in[1]);
    if (ml_tensor_numel(&a->out) == 0)
        return ML_OK;
    const binary_row_fn *rows = binary_rows[a->op - ML_OP_ADD];

    if (p.nd == 0) { /* one element */
        rows[3](o, x, y, 1);
        return ML_OK;
    }
    int last = p.nd - 1;
    int64_t len = p.n[last];
    binary_row_fn row = rows[(p.sx[last] == 0) * 2 + (p.sy[last] == 0)];
    if (p.nd == 1) {
        row(o, x, y, len);
        return ML_OK;
    }
    if (p.nd == 2) {
        for (int64_t r = 0; r < p.n[0]; r++)
            row(o + r * len, x + r * p.sx[0], y + r * p.sy[0], len);
        return ML_OK;
    }
    /* General: an odometer over the outer dimensions. */
    int64_t idx[ML_MAX_DIMS] = {0};
    int64_t ox = 0, oy = 0, rows_total = 1;
    for (int i = 0; i < last; i++)
        rows_total *= p.n[i];
    for (int64_t r = 0; r < rows_total; r++) {
        row(o + r * len, x + ox, y + oy, len);
        for (int i = last - 1; i >= 0; i--) {
            ox += p.sx[i];
            oy += p.sy[i];
            if (++idx[i] < p.n[i])
                break;
            ox -= p.sx[i] * p.n[i];
            oy -= p.sy[i] * p.n[i];
            idx[i] = 0;
        }
    }
    return ML_OK;
}

/* ---- Same-shape elementwise ---- */

ml_status ml_cpu_affine_scalar(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cpu_shape_error(a, "input and output sizes differ");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict x = ml_tensor_f32(&a->in[0]);
    int64_t n = ml_tensor_numel(&a->out);
    const float c = a->p.fp[0] * (a->n_in >= 2 ? a->scalar[0] : 1.0f);
    const float d = a->p.fp[1];
    if (d == 0.0f) {
        for (int64_t i = 0; i < n; i++)
            o[i] = x[i] * c;
    } else {
        for (int64_t i = 0; i < n; i++)
            o[i] = x[i] * c + d;
    }
    return ML_OK;
}

#define MAP1(EXPR)                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                          \
        float x = xp[i];                                                                       \
        o[i] = (EXPR);                                                                         \
    }                                                                                          \
    break

ml_status ml_cpu_unary(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cpu_shape_error(a, "input and output sizes differ");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict xp = ml_tensor_f32(&a->in[0]);
    int64_t n = ml_tensor_numel(&a->out);
    const float alpha = a->p.fp[0];
    switch ((ml_unary_kind)a->p.ip[0]) {
    case ML_UNARY_NEG: MAP1(-x);
    case ML_UNARY_EXP: MAP1(ml_expf(x));
    case ML_UNARY_LOG: MAP1(ml_logf(x));
    case ML_UNARY_SQRT: MAP1(sqrtf(x));
    case ML_UNARY_SQUARE: MAP1(x * x);
    case ML_UNARY_ABS: MAP1(fabsf(x));
    case ML_UNARY_RELU: MAP1(x > 0.0f ? x : 0.0f);
    case ML_UNARY_SIGMOID: MAP1(ml_sigmoidf(x));
    case ML_UNARY_TANH: MAP1(ml_tanhf(x));
    case ML_UNARY_SOFTPLUS: MAP1(ml_softplusf(x));
    case ML_UNARY_ELU: MAP1(x > 0.0f ? x : alpha * ml_expm1f(x));
    default:
        return ml_error(ML_EINVAL, "cpu unary: unknown function %d", a->p.ip[0]);
    }
    return ML_OK;
}

#define MAP3(EXPR)                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                          \
        float g = gp[i], x = xp[i], y = yp[i];                                                 \
        (void)x;                                                                               \
        (void)y;                                                                               \
        o[i] = (EXPR);                                                                         \
    }                                                                                          \
    break

ml_status ml_cpu_unary_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 3))
        return ml_cpu_shape_error(a, "needs g, x, y of the output's size");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict gp = ml_tensor_f32(&a->in[0]);
    const float *restrict xp = ml_tensor_f32(&a->in[1]);
    const float *restrict yp = ml_tensor_f32(&a->in[2]);
    int64_t n = ml_tensor_numel(&a->out);
    const float alpha = a->p.fp[0];
    switch ((ml_unary_kind)a->p.ip[0]) {
    case ML_UNARY_NEG: MAP3(-g);
    case ML_UNARY_EXP: MAP3(g * y);
    case ML_UNARY_LOG: MAP3(g / x);
    case ML_UNARY_SQRT: MAP3(g * 0.5f / y);
    case ML_UNARY_SQUARE: MAP3(2.0f * x * g);
    case ML_UNARY_ABS: MAP3(x > 0.0f ? g : (x < 0.0f ? -g : 0.0f));
    case ML_UNARY_RELU: MAP3(y > 0.0f ? g : 0.0f);
    case ML_UNARY_SIGMOID: MAP3(g * y * (1.0f - y));
    case ML_UNARY_TANH: MAP3(g * (1.0f - y * y));
    case ML_UNARY_SOFTPLUS: MAP3(g * ml_sigmoidf(x));
    case ML_UNARY_ELU: MAP3(x > 0.0f ? g : g * (y + alpha));
    default:
        return ml_error(ML_EINVAL, "cpu unary_back: unknown function %d", a->p.ip[0]);
    }
    return ML_OK;
}

ml_status ml_cpu_clip(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cpu_shape_error(a, "input and output sizes differ");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict x = ml_tensor_f32(&a->in[0]);
    int64_t n = ml_tensor_numel(&a->out);
    const float lo = a->p.fp[0], hi = a->p.fp[1];
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] < lo ? lo : x[i];
        o[i] = v > hi ? hi : v;
    }
    return ML_OK;
}

ml_status ml_cpu_clip_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 2))
        return ml_cpu_shape_error(a, "needs g and x of the output's size");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict g = ml_tensor_f32(&a->in[0]);
    const float *restrict x = ml_tensor_f32(&a->in[1]);
    int64_t n = ml_tensor_numel(&a->out);
    const float lo = a->p.fp[0], hi = a->p.fp[1];
    for (int64_t i = 0; i < n; i++)
        o[i] = (x[i] > lo && x[i] < hi) ? g[i] : 0.0f;
    return ML_OK;
}

/* ---- Dropout ---- */

#define DROP_BLOCKS 64 /* Philox blocks per chunk: 256 elements */

static inline uint32_t mulhi32(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)a * b) >> 32);
}

/* ml_philox4x32 of DROP_BLOCKS counters (c0..c3 by lane) at once, vectorised
 * across lanes; block l's four words go to words[4l .. 4l + 3]. */
static void philox_lanes(const uint32_t *restrict c0v, const uint32_t *restrict c1v,
                         const uint32_t *restrict c2v, const uint32_t *restrict c3v,
                         const uint32_t key[2], uint32_t *restrict words)
{
    const uint32_t key0 = key[0], key1 = key[1];
    for (int l = 0; l < DROP_BLOCKS; l++) {
        uint32_t c0 = c0v[l], c1 = c1v[l], c2 = c2v[l], c3 = c3v[l];
        uint32_t k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++) {
            uint32_t h0 = mulhi32(0xD2511F53u, c0), l0 = 0xD2511F53u * c0;
            uint32_t h1 = mulhi32(0xCD9E8D57u, c2), l1 = 0xCD9E8D57u * c2;
            c0 = h1 ^ c1 ^ k0;
            c1 = l1;
            c2 = h0 ^ c3 ^ k1;
            c3 = l0;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        words[4 * l] = c0;
        words[4 * l + 1] = c1;
        words[4 * l + 2] = c2;
        words[4 * l + 3] = c3;
    }
}

/* mask[i] = (u_i < p) with u_i = ml_uint_to_unit_float(word i) = (w >> 8) * 2^-24,
 * tested exactly as (float)(w >> 8) < p * 2^24 (both sides scaled by a power of 2). */
ml_status ml_cpu_dropout(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cpu_shape_error(a, "input and output sizes differ");
    if (!a->aux && ml_tensor_numel(&a->out) > 0)
        return ml_error(ML_EINVAL, "cpu dropout: no aux buffer for the mask");
    float *o = ml_tensor_f32(&a->out);
    const float *x = ml_tensor_f32(&a->in[0]);
    uint8_t *mask = a->aux;
    int64_t n = ml_tensor_numel(&a->out);
    const float p24 = a->p.fp[0] * 16777216.0f, scale = a->p.fp[1];
    const uint64_t base = (uint64_t)a->rng_counter[1] << 32 | a->rng_counter[0];
    uint64_t n_blocks = (uint64_t)(n + 3) / 4;
    uint32_t c0[DROP_BLOCKS], c1[DROP_BLOCKS], c2[DROP_BLOCKS], c3[DROP_BLOCKS];
    uint32_t words[4 * DROP_BLOCKS];

    for (uint64_t b0 = 0; b0 < n_blocks; b0 += DROP_BLOCKS) {
        /* Counters rng_counter + b0 + l, a 128-bit sum carried from word 0 up. */
        for (int l = 0; l < DROP_BLOCKS; l++) {
            uint64_t low = base + b0 + (uint64_t)l;
            uint32_t carry = low < base;
            uint32_t w2 = a->rng_counter[2] + carry;
            c0[l] = (uint32_t)low;
            c1[l] = (uint32_t)(low >> 32);
            c2[l] = w2;
            c3[l] = a->rng_counter[3] + (carry & (w2 == 0));
        }
        philox_lanes(c0, c1, c2, c3, a->rng_key, words);
        int64_t start = (int64_t)b0 * 4;
        int64_t len = n - start < 4 * DROP_BLOCKS ? n - start : 4 * DROP_BLOCKS;
        float *restrict oc = o + start;
        const float *restrict xc = x + start;
        uint8_t *restrict mc = mask + start;
        for (int64_t j = 0; j < len; j++) {
            float u24 = (float)(int32_t)(words[j] >> 8);
            float m = u24 < p24 ? 1.0f : 0.0f;
            mc[j] = (uint8_t)(u24 < p24);
            oc[j] = xc[j] * m * scale;
        }
    }
    return ML_OK;
}

ml_status ml_cpu_dropout_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cpu_shape_error(a, "gradient and output sizes differ");
    if (!a->aux && ml_tensor_numel(&a->out) > 0)
        return ml_error(ML_EINVAL, "cpu dropout_back: no aux mask");
    float *restrict o = ml_tensor_f32(&a->out);
    const float *restrict g = ml_tensor_f32(&a->in[0]);
    const uint8_t *restrict mask = a->aux;
    int64_t n = ml_tensor_numel(&a->out);
    const float scale = a->p.fp[1];
    for (int64_t i = 0; i < n; i++)
        o[i] = g[i] * (float)mask[i] * scale;
    return ML_OK;
}
