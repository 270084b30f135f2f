/* Reductions and their inverses, softmax over the last axis, max and argmax.
 * (The pragma: see cpu_elementwise.c.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno")
#endif

#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_math.h"

#define SUM_CHUNK 2048 /* elements summed in float lanes before folding into a double */

double ml_cpu_sum_f32(const float *x, int64_t n)
{
    double total = 0.0;
    for (int64_t c = 0; c < n; c += SUM_CHUNK) {
        int64_t m = n - c < SUM_CHUNK ? n - c : SUM_CHUNK;
        const float *restrict p = x + c;
        float acc[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= m; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += p[j + l];
        float s = 0.0f;
        for (; j < m; j++)
            s += p[j];
        total += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                          ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + (double)s;
    }
    return total;
}

static double dot_f32(const float *x, const float *y, int64_t n)
{
    double total = 0.0;
    for (int64_t c = 0; c < n; c += SUM_CHUNK) {
        int64_t m = n - c < SUM_CHUNK ? n - c : SUM_CHUNK;
        const float *restrict p = x + c, *restrict q = y + c;
        float acc[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= m; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += p[j + l] * q[j + l];
        float s = 0.0f;
        for (; j < m; j++)
            s += p[j] * q[j];
        total += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) +
                          ((acc[4] + acc[5]) + (acc[6] + acc[7]))) + (double)s;
    }
    return total;
}

/* Largest element of a row (n >= 1); a NaN anywhere makes the softmax NaN anyway. */
static float row_max(const float *restrict x, int64_t n)
{
    float acc[8];
    int64_t j = 0;
    for (int l = 0; l < 8; l++)
        acc[l] = x[0];
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[l] = x[j + l] > acc[l] ? x[j + l] : acc[l];
    float m = acc[0];
    for (int l = 1; l < 8; l++)
        m = acc[l] > m ? acc[l] : m;
    for (; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* Sum of e^(x - m) over a row, without writing anything. */
static double row_sum_exp(const float *restrict x, int64_t n, float m)
{
    float acc[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += ml_expf(x[j + l] - m);
    double s = 0.0;
    for (; j < n; j++)
        s += (double)ml_expf(x[j] - m);
    for (int l = 0; l < 8; l++)
        s += (double)acc[l];
    return s;
}

ml_status ml_cpu_softmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || !ml_plan_same_shape(&a->out, &a->in[0]) || ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cpu_shape_error(a, "input and output shapes differ");
    float *o = ml_tensor_f32(&a->out);
    const float *x = ml_tensor_f32(&a->in[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * cols;
        float *restrict orow = o + r * cols;
        float m = row_max(xr, cols);
        for (int64_t j = 0; j < cols; j++)
            orow[j] = ml_expf(xr[j] - m);
        float inv = (float)(1.0 / ml_cpu_sum_f32(orow, cols));
        for (int64_t j = 0; j < cols; j++)
            orow[j] *= inv;
    }
    return ML_OK;
}

ml_status ml_cpu_log_softmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || !ml_plan_same_shape(&a->out, &a->in[0]) || ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cpu_shape_error(a, "input and output shapes differ");
    float *o = ml_tensor_f32(&a->out);
    const float *x = ml_tensor_f32(&a->in[0]);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *orow = o + r * cols;
        float m = row_max(xr, cols);
        float lse = (float)log(row_sum_exp(xr, cols, m));
        for (int64_t j = 0; j < cols; j++)
            orow[j] = (xr[j] - m) - lse;
    }
    return ML_OK;
}

ml_status ml_cpu_softmax_back(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 2 || !ml_plan_same_shape(&a->out, &a->in[0]) || !ml_plan_same_shape(&a->out, &a->in[1]) ||
        ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cpu_shape_error(a, "g, y and output shapes differ");
    float *o = ml_tensor_f32(&a->out);
    const float *g = ml_tensor_f32(&a->in[0]), *y = ml_tensor_f32(&a->in[1]);
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict gr = g + r * cols, *restrict yr = y + r * cols;
        float *restrict orow = o + r * cols;
        float d = (float)dot_f32(gr, yr, cols);
        for (int64_t j = 0; j < cols; j++)
            orow[j] = yr[j] * (gr[j] - d);
    }
    return ML_OK;
}

ml_status ml_cpu_log_softmax_back(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 2 || !ml_plan_same_shape(&a->out, &a->in[0]) || !ml_plan_same_shape(&a->out, &a->in[1]) ||
        ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cpu_shape_error(a, "g, y and output shapes differ");
    float *o = ml_tensor_f32(&a->out);
    const float *g = ml_tensor_f32(&a->in[0]), *y = ml_tensor_f32(&a->in[1]);
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict gr = g + r * cols, *restrict yr = y + r * cols;
        float *restrict orow = o + r * cols;
        float sg = (float)ml_cpu_sum_f32(gr, cols);
        for (int64_t j = 0; j < cols; j++)
            orow[j] = gr[j] - ml_expf(yr[j]) * sg;
    }
    return ML_OK;
}

/* ---- Sums over sets of axes (SUM, MEAN, SUM_TO) ---- */

/* out[k] = scale * sum over r of x[r, k], four rows at a time. */
static void sum_rows_into(const float *restrict x, int64_t R, int64_t K, float *restrict out,
                          float scale)
{
    memcpy(out, x, (size_t)K * sizeof *out);
    int64_t r = 1;
    for (; r + 4 <= R; r += 4) {
        const float *restrict x0 = x + r * K, *restrict x1 = x0 + K, *restrict x2 = x1 + K,
                              *restrict x3 = x2 + K;
        for (int64_t k = 0; k < K; k++)
            out[k] += (x0[k] + x1[k]) + (x2[k] + x3[k]);
    }
    for (; r < R; r++) {
        const float *restrict xr = x + r * K;
        for (int64_t k = 0; k < K; k++)
            out[k] += xr[k];
    }
    if (scale != 1.0f)
        for (int64_t k = 0; k < K; k++)
            out[k] *= scale;
}

/* Sums x (shape[nd]) over the axes flagged in `reduced`; out holds the kept axes
 * in order.  Dimensions of 1 are dropped and neighbours of a kind merged, so the
 * common cases are single loops: all axes, [R, K] (a bias gradient: sum over
 * the batch) and [K, R] (row sums). */
static void reduce_sum(const float *x, int nd, const int64_t *shape, const int *reduced,
                       float *out, float scale)
{
    ml_reduce_plan plan;
    ml_reduce_plan_make(nd, shape, reduced, &plan);
    const int64_t *n = plan.n, total = plan.total, out_n = plan.out_n;
    const int *r = plan.r;
    int k = plan.k;
    if (total == 0) {
        memset(out, 0, (size_t)out_n * sizeof *out);
        return;
    }
    if (k == 0) {
        out[0] = x[0] * scale;
        return;
    }
    if (k == 1) {
        if (r[0]) {
            out[0] = (float)(ml_cpu_sum_f32(x, n[0]) * scale);
        } else {
            for (int64_t i = 0; i < n[0]; i++)
                out[i] = x[i] * scale;
        }
        return;
    }
    if (k == 2 && r[0]) {
        sum_rows_into(x, n[0], n[1], out, scale);
        return;
    }
    if (k == 2) {
        for (int64_t i = 0; i < n[0]; i++)
            out[i] = (float)(ml_cpu_sum_f32(x + i * n[1], n[1]) * scale);
        return;
    }
    /* General: rows of the last (merged) dimension, an odometer over the rest. */
    int64_t so[ML_MAX_DIMS], s = 1;
    for (int i = k - 1; i >= 0; i--) {
        so[i] = r[i] ? 0 : s;
        if (!r[i])
            s *= n[i];
    }
    memset(out, 0, (size_t)out_n * sizeof *out);
    int last = k - 1;
    int64_t len = n[last], rows = total / len, oo = 0;
    int64_t idx[ML_MAX_DIMS] = {0};
    for (int64_t row = 0; row < rows; row++) {
        const float *restrict xr = x + row * len;
        if (r[last]) {
            out[oo] += (float)ml_cpu_sum_f32(xr, len);
        } else {
            float *restrict op = out + oo;
            for (int64_t j = 0; j < len; j++)
                op[j] += xr[j];
        }
        for (int i = last - 1; i >= 0; i--) {
            oo += so[i];
            if (++idx[i] < n[i])
                break;
            oo -= so[i] * n[i];
            idx[i] = 0;
        }
    }
    if (scale != 1.0f)
        for (int64_t i = 0; i < out_n; i++)
            out[i] *= scale;
}

ml_status ml_cpu_sum(const ml_kernel_args *a)
{
    int reduced[ML_MAX_DIMS];
    float scale;
    const char *why = ml_sum_plan(a, reduced, &scale);
    if (why)
        return ml_cpu_shape_error(a, why);
    const ml_tensor *in = &a->in[0];
    reduce_sum(ml_tensor_f32(in), in->ndim, in->shape, reduced, ml_tensor_f32(&a->out), scale);
    return ML_OK;
}

ml_status ml_cpu_sum_to(const ml_kernel_args *a)
{
    int reduced[ML_MAX_DIMS];
    const char *why = ml_sum_to_plan(a, reduced);
    if (why)
        return ml_cpu_shape_error(a, why);
    const ml_tensor *in = &a->in[0], *out = &a->out;
    reduce_sum(ml_tensor_f32(in), in->ndim, in->shape, reduced, ml_tensor_f32(out), 1.0f);
    return ML_OK;
}

ml_status ml_cpu_expand(const ml_kernel_args *a)
{
    if (a->n_in < 1)
        return ml_cpu_shape_error(a, "needs an input");
    const ml_tensor *in = &a->in[0], *out = &a->out;
    float *o = ml_tensor_f32(out);
    const float *x = ml_tensor_f32(in);
    if (a->p.ip[0] == ML_ALL_AXES) {
        if (ml_tensor_numel(in) != 1)
            return ml_cpu_shape_error(a, "expanding over all axes takes one element");
        int64_t n = ml_tensor_numel(out);
        float v = a->p.ip[1] == 1 ? (float)((double)x[0] / (double)n) : x[0];
        for (int64_t i = 0; i < n; i++)
            o[i] = v;
        return ML_OK;
    }
    int axis = ml_plan_axis(a->p.ip[0], out->ndim);
    if (axis < 0 || !ml_plan_shape_minus_axis(out, axis, in))
        return ml_cpu_shape_error(a, "input is not the output less the axis");
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    float scale = a->p.ip[1] == 1 ? (float)(1.0 / (double)len) : 1.0f;
    for (int64_t i = 0; i < outer; i++) {
        float *restrict ob = o + i * len * inner;
        const float *restrict xb = x + i * inner;
        if (inner == 1) {
            float v = xb[0] * scale;
            for (int64_t l = 0; l < len; l++)
                ob[l] = v;
        } else {
            for (int64_t l = 0; l < len; l++) {
                float *restrict orow = ob + l * inner;
                for (int64_t j = 0; j < inner; j++)
                    orow[j] = xb[j] * scale;
            }
        }
    }
    return ML_OK;
}

/* ---- Max, its gradient, argmax ---- */

/* v replaces the running maximum m: larger, or the first NaN. */
static inline int max_takes(float v, float m)
{
    return v > m || (v != v && m == m);
}

/* aux[j] is the flat index into the input of output j's maximum, so MAX_BACK
 * needs no axis. */
ml_status ml_cpu_max(const ml_kernel_args *a)
{
    int64_t outer, len, inner;
    const char *why = ml_max_plan(a, &outer, &len, &inner);
    if (why)
        return ml_cpu_shape_error(a, why);
    const ml_tensor *in = &a->in[0];
    if (ml_tensor_numel(in) > INT32_MAX)
        return ml_error(ML_EINVAL, "cpu max: input of more than 2^31 elements");
    if (!a->aux && outer * inner > 0)
        return ml_error(ML_EINVAL, "cpu max: no aux buffer for the argmax");
    const float *x = ml_tensor_f32(in);
    float *o = ml_tensor_f32(&a->out);
    int32_t *arg = a->aux;
    for (int64_t i = 0; i < outer; i++) {
        const float *xb = x + i * len * inner;
        int64_t base = i * len * inner;
        if (inner == 1) {
            float m = xb[0];
            int64_t best = 0;
            for (int64_t l = 1; l < len; l++) {
                if (max_takes(xb[l], m)) {
                    m = xb[l];
                    best = l;
                }
            }
            o[i] = m;
            arg[i] = (int32_t)(base + best);
            continue;
        }
        float *restrict om = o + i * inner;
        int32_t *restrict am = arg + i * inner;
        for (int64_t j = 0; j < inner; j++) {
            om[j] = xb[j];
            am[j] = (int32_t)(base + j);
        }
        for (int64_t l = 1; l < len; l++) {
            const float *restrict xr = xb + l * inner;
            int32_t off = (int32_t)(base + l * inner);
            for (int64_t j = 0; j < inner; j++) {
                int t = max_takes(xr[j], om[j]);
                om[j] = t ? xr[j] : om[j];
                am[j] = t ? off + (int32_t)j : am[j];
            }
        }
    }
    return ML_OK;
}

ml_status ml_cpu_max_back(const ml_kernel_args *a)
{
    if (a->n_in < 1)
        return ml_cpu_shape_error(a, "needs the gradient");
    int64_t n_out = ml_tensor_numel(&a->out), n_g = ml_tensor_numel(&a->in[0]);
    if (!a->aux && n_g > 0)
        return ml_error(ML_EINVAL, "cpu max_back: no aux argmax");
    float *o = ml_tensor_f32(&a->out);
    const float *g = ml_tensor_f32(&a->in[0]);
    const int32_t *arg = a->aux;
    memset(o, 0, (size_t)n_out * sizeof *o);
    for (int64_t j = 0; j < n_g; j++) {
        int32_t k = arg[j];
        if (k < 0 || k >= n_out)
            return ml_error(ML_EINVAL, "cpu max_back: argmax %d outside the %lld elements",
                            (int)k, (long long)n_out);
        o[k] += g[j];
    }
    return ML_OK;
}

ml_status ml_cpu_argmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || ml_plan_rows_cols(&a->in[0], &rows, &cols) ||
        !ml_plan_shape_minus_axis(&a->in[0], a->in[0].ndim - 1, &a->out))
        return ml_cpu_shape_error(a, "output is not the input less its last axis");
    if (cols == 0 && ml_tensor_numel(&a->out) > 0)
        return ml_cpu_shape_error(a, "argmax over an empty axis");
    const float *x = ml_tensor_f32(&a->in[0]);
    int32_t *o = ml_tensor_i32(&a->out);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float m = xr[0];
        int64_t best = 0;
        for (int64_t j = 1; j < cols; j++) {
            if (max_takes(xr[j], m)) {
                m = xr[j];
                best = j;
            }
        }
        o[r] = (int32_t)best;
    }
    return ML_OK;
}
