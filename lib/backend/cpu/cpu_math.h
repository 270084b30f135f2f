/* Single-precision transcendental functions written so that gcc vectorises a
 * loop calling them (-O3 -march=x86-64-v3 without -ffast-math would otherwise
 * call libm once per element).  Branch-free: every special case is a select.
 *
 * The polynomials are Cephes's (S. L. Moshier).  Measured against double
 * precision libm over their normal-result ranges: exp and log within 1 ulp,
 * tanh and expm1 within 2, sigmoid and softplus within 3 (with FMA);
 * tests/unit/test_cpu_kernels.c checks them to a relative 1e-5.
 *
 * A file using them in loops should start with
 * #pragma GCC optimize("no-trapping-math", "no-math-errno") (see
 * cpu_elementwise.c): without it gcc will not if-convert the selects. */
#ifndef ML_BACKEND_CPU_MATH_H
#define ML_BACKEND_CPU_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float ml_bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t ml_f32_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* a * b + c, fused where the target has FMA (x86-64-v3 does): ISO C mode
 * does not contract a * b + c by itself. */
#ifdef __FMA__
#define ML_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define ML_FMA(a, b, c) ((a) * (b) + (c))
#endif

#define ML_EXP_HI 88.7228394f  /* log(FLT_MAX), rounded up: e^x overflows above */
#define ML_EXP_LO -87.3365479f /* log(FLT_MIN): e^x is denormal below */

/* e^x for x in [ML_EXP_LO, ML_EXP_HI] (NaN gives NaN). */
static inline float ml_exp_core(float x)
{
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22). */
    float t = ML_FMA(x, 1.44269504088896341f, 12582912.0f);
    float n = t - 12582912.0f;
    float r = ML_FMA(n, -0.693359375f, x);
    r = ML_FMA(n, 2.12194440e-4f, r);
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = ML_FMA(p, r, 1.3981999507e-3f);
    p = ML_FMA(p, r, 8.3334519073e-3f);
    p = ML_FMA(p, r, 4.1665795894e-2f);
    p = ML_FMA(p, r, 1.6666665459e-1f);
    p = ML_FMA(p, r, 5.0000001201e-1f);
    p = ML_FMA(p, z, r) + 1.0f;
    /* p * 2^n by adding n to p's exponent: n is in [-126, 128] and p in
     * (0.7, 1.42), with p >= 1 when n = -126 and p <= 1 when n = 128, so the
     * sum is a normal float's exponent.  For NaN, n's bits are 0x80000000 and
     * the shift drops them. */
    int32_t ni = (int32_t)n;
    return ml_bits_to_f32(ml_f32_to_bits(p) + ((uint32_t)ni << 23));
}

/* e^x: +inf above ML_EXP_HI, 0 below ML_EXP_LO (denormal results are
 * flushed), NaN kept. */
static inline float ml_expf(float x)
{
    float xc = x > ML_EXP_HI ? ML_EXP_HI : x;
    xc = xc < ML_EXP_LO ? ML_EXP_LO : xc;
    float y = ml_exp_core(xc);
    y = x > ML_EXP_HI ? INFINITY : y;
    return x < ML_EXP_LO ? 0.0f : y;
}

/* e^x for x <= 0, with e^x of x below ML_EXP_LO given as FLT_MIN rather than a
 * denormal or 0: for sums with 1, where the difference is below any ulp. */
static inline float ml_exp_nonpos(float x)
{
    return ml_exp_core(x < ML_EXP_LO ? ML_EXP_LO : x);
}

/* log x for finite normal x > 0. */
static inline float ml_log_core(float x)
{
    uint32_t bits = ml_f32_to_bits(x);
    int32_t e = (int32_t)(bits >> 23) - 126;
    float m = ml_bits_to_f32((bits & 0x007fffffu) | 0x3f000000u); /* [0.5, 1) */
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    float f = (small ? m + m : m) - 1.0f;
    float fe = (float)e;
    float z = f * f;
    float y = 7.0376836292e-2f;
    y = ML_FMA(y, f, -1.1514610310e-1f);
    y = ML_FMA(y, f, 1.1676998740e-1f);
    y = ML_FMA(y, f, -1.2420140846e-1f);
    y = ML_FMA(y, f, 1.4249322787e-1f);
    y = ML_FMA(y, f, -1.6668057665e-1f);
    y = ML_FMA(y, f, 2.0000714765e-1f);
    y = ML_FMA(y, f, -2.4999993993e-1f);
    y = ML_FMA(y, f, 3.3333331174e-1f);
    y = y * f * z;
    y = ML_FMA(fe, -2.12194440e-4f, y);
    y = ML_FMA(z, -0.5f, y);
    return ML_FMA(fe, 0.693359375f, f + y);
}

/* Natural logarithm; -inf at 0, NaN below 0 and for NaN, +inf at +inf. */
static inline float ml_logf(float x)
{
    /* Denormals: scaled by 2^23 into the normal range, 23 taken off after. */
    int denormal = x < 1.17549435e-38f;
    float r = ml_log_core(denormal ? x * 8388608.0f : x);
    r = denormal ? r - 15.9423851528787f : r; /* 23 log 2 */
    r = x == INFINITY ? x : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    return x != x ? x : r;
}

/* log(1 + y) for y in [0, 1] (the rounding of 1 + y is undone for tiny y). */
static inline float ml_log1p_unit(float y)
{
    float u = 1.0f + y;
    float d = u - 1.0f;
    float r = ml_log_core(u) * (y / (d == 0.0f ? 1.0f : d));
    return d == 0.0f ? y : r;
}

/* e^x - 1, precise near 0. */
static inline float ml_expm1f(float x)
{
    float ax = fabsf(x);
    float p = 1.0f / 40320.0f;
    p = ML_FMA(p, x, 1.0f / 5040.0f);
    p = ML_FMA(p, x, 1.0f / 720.0f);
    p = ML_FMA(p, x, 1.0f / 120.0f);
    p = ML_FMA(p, x, 1.0f / 24.0f);
    p = ML_FMA(p, x, 1.0f / 6.0f);
    p = ML_FMA(p, x, 0.5f);
    p = ML_FMA(p * x, x, x);
    float e = ml_expf(x) - 1.0f;
    return ax < 0.5f ? p : e;
}

/* 1 / (1 + e^-x), without overflow and with relative precision for x << 0. */
static inline float ml_sigmoidf(float x)
{
    float e = ml_exp_nonpos(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    return x >= 0.0f ? r : e * r;
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|). */
static inline float ml_softplusf(float x)
{
    float m = x > 0.0f ? x : 0.0f;
    return m + ml_log1p_unit(ml_exp_nonpos(-fabsf(x)));
}

static inline float ml_tanhf(float x)
{
    float ax = fabsf(x);
    /* |x| < 0.625: an odd polynomial. */
    float s = x * x;
    float p = -5.70498872745e-3f;
    p = ML_FMA(p, s, 2.06390887954e-2f);
    p = ML_FMA(p, s, -5.37397155531e-2f);
    p = ML_FMA(p, s, 1.33314422036e-1f);
    p = ML_FMA(p, s, -3.33332819422e-1f);
    p = ML_FMA(p * s, x, x);
    /* Else (1 - e^-2|x|) / (1 + e^-2|x|) with x's sign. */
    float e = ml_exp_nonpos(-2.0f * ax);
    float t = (1.0f - e) / (1.0f + e);
    t = copysignf(t, x);
    return ax < 0.625f ? p : t;
}

#endif
