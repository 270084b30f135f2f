/* Losses (means over the batch axis) and their gradients.
 * (The pragma: see cpu_elementwise.c.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno")
#endif

#include <math.h>

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/cpu_math.h"

#define LOSS_CHUNK 1024

ml_status ml_cpu_nll_logsoftmax(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (ml_plan_logits_labels(a, &rows, &K) || ml_tensor_numel(&a->out) != 1)
        return ml_cpu_shape_error(a, "needs logits [B, K], labels [B] and a scalar output");
    if (!a->aux && rows * K > 0)
        return ml_error(ML_EINVAL, "cpu nll_logsoftmax: no aux buffer for the probabilities");
    const float *x = ml_tensor_f32(&a->in[0]);
    const int32_t *label = ml_tensor_i32(&a->in[1]);
    float *prob = a->aux;
    double total = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * K;
        float *restrict pr = prob + r * K;
        int32_t y = label[r];
        if (y < 0 || y >= K)
            return ml_error(ML_EINVAL, "cpu nll_logsoftmax: label %d of row %lld outside [0, %lld)",
                            (int)y, (long long)r, (long long)K);
        float m = xr[0];
        for (int64_t j = 1; j < K; j++)
            m = xr[j] > m ? xr[j] : m;
        for (int64_t j = 0; j < K; j++)
            pr[j] = ml_expf(xr[j] - m);
        double s = ml_cpu_sum_f32(pr, K);
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < K; j++)
            pr[j] *= inv;
        /* -log_softmax(x)[y] = log(s) + m - x[y]: finite for any finite logits. */
        total += log(s) + ((double)m - (double)xr[y]);
    }
    ml_tensor_f32(&a->out)[0] = rows ? (float)(total / (double)rows) : 0.0f;
    return ML_OK;
}

ml_status ml_cpu_nll_logsoftmax_back(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (a->n_in < 2 || ml_tensor_numel(&a->in[0]) != 1 || a->in[1].dtype != ML_I32 ||
        a->out.ndim < 1)
        return ml_cpu_shape_error(a, "needs g (scalar), labels [B] and an output [B, K]");
    K = a->out.shape[a->out.ndim - 1];
    rows = K ? ml_tensor_numel(&a->out) / K : 0;
    if (ml_tensor_numel(&a->in[1]) != rows)
        return ml_cpu_shape_error(a, "labels are not one per row");
    if (!a->aux && rows * K > 0)
        return ml_error(ML_EINVAL, "cpu nll_logsoftmax_back: no aux probabilities");
    const float *prob = a->aux;
    const int32_t *label = ml_tensor_i32(&a->in[1]);
    float *o = ml_tensor_f32(&a->out);
    const float c = rows ? ml_tensor_f32(&a->in[0])[0] / (float)rows : 0.0f;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict pr = prob + r * K;
        float *restrict orow = o + r * K;
        int32_t y = label[r];
        if (y < 0 || y >= K)
            return ml_error(ML_EINVAL,
                            "cpu nll_logsoftmax_back: label %d of row %lld outside [0, %lld)",
                            (int)y, (long long)r, (long long)K);
        for (int64_t j = 0; j < K; j++)
            orow[j] = pr[j] * c;
        orow[y] = (pr[y] - 1.0f) * c;
    }
    return ML_OK;
}

ml_status ml_cpu_bce_logits(const ml_kernel_args *a)
{
    if (a->n_in < 2 || ml_tensor_numel(&a->in[0]) != ml_tensor_numel(&a->in[1]) ||
        ml_tensor_numel(&a->out) != 1)
        return ml_cpu_shape_error(a, "needs logits and targets of one shape, a scalar output");
    const float *z = ml_tensor_f32(&a->in[0]), *t = ml_tensor_f32(&a->in[1]);
    int64_t n = ml_tensor_numel(&a->in[0]), B = ml_plan_batch(&a->in[0]);
    double total = 0.0;
    for (int64_t c = 0; c < n; c += LOSS_CHUNK) {
        int64_t m = n - c < LOSS_CHUNK ? n - c : LOSS_CHUNK;
        const float *restrict zc = z + c, *restrict tc = t + c;
        float acc[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= m; j += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += ml_softplusf(zc[j + l]) - zc[j + l] * tc[j + l];
        for (; j < m; j++)
            total += (double)(ml_softplusf(zc[j]) - zc[j] * tc[j]);
        for (int l = 0; l < 8; l++)
            total += (double)acc[l];
    }
    ml_tensor_f32(&a->out)[0] = B ? (float)(total / (double)B) : 0.0f;
    return ML_OK;
}

ml_status ml_cpu_bce_logits_back(const ml_kernel_args *a)
{
    int64_t n = ml_tensor_numel(&a->out);
    if (a->n_in < 3 || ml_tensor_numel(&a->in[0]) != 1 || ml_tensor_numel(&a->in[1]) != n ||
        ml_tensor_numel(&a->in[2]) != n)
        return ml_cpu_shape_error(a, "needs g (scalar), z and t of the output's size");
    int64_t B = ml_plan_batch(&a->in[1]);
    const float c = B ? ml_tensor_f32(&a->in[0])[0] / (float)B : 0.0f;
    const float *restrict z = ml_tensor_f32(&a->in[1]), *restrict t = ml_tensor_f32(&a->in[2]);
    float *restrict o = ml_tensor_f32(&a->out);
    for (int64_t i = 0; i < n; i++)
        o[i] = (ml_sigmoidf(z[i]) - t[i]) * c;
    return ML_OK;
}

ml_status ml_cpu_squared_error(const ml_kernel_args *a)
{
    if (a->n_in < 2 || ml_tensor_numel(&a->in[0]) != ml_tensor_numel(&a->in[1]) ||
        ml_tensor_numel(&a->out) != 1)
        return ml_cpu_shape_error(a, "needs two operands of one shape and a scalar output");
    const float *x = ml_tensor_f32(&a->in[0]), *y = ml_tensor_f32(&a->in[1]);
    int64_t n = ml_tensor_numel(&a->in[0]), B = ml_plan_batch(&a->in[0]);
    double total = 0.0;
    for (int64_t c = 0; c < n; c += LOSS_CHUNK) {
        int64_t m = n - c < LOSS_CHUNK ? n - c : LOSS_CHUNK;
        const float *restrict xc = x + c, *restrict yc = y + c;
        float acc[8] = {0};
        int64_t j = 0;
        for (; j + 8 <= m; j += 8)
            for (int l = 0; l < 8; l++) {
                float d = xc[j + l] - yc[j + l];
                acc[l] += d * d;
            }
        for (; j < m; j++) {
            float d = xc[j] - yc[j];
            total += (double)(d * d);
        }
        for (int l = 0; l < 8; l++)
            total += (double)acc[l];
    }
    ml_tensor_f32(&a->out)[0] = B ? (float)(total / (double)B) : 0.0f;
    return ML_OK;
}

ml_status ml_cpu_squared_error_back(const ml_kernel_args *a)
{
    int64_t n = ml_tensor_numel(&a->out);
    if (a->n_in < 3 || ml_tensor_numel(&a->in[0]) != 1 || ml_tensor_numel(&a->in[1]) != n ||
        ml_tensor_numel(&a->in[2]) != n)
        return ml_cpu_shape_error(a, "needs g (scalar), a and b of the output's size");
    int64_t B = ml_plan_batch(&a->in[1]);
    const float c = B ? 2.0f * ml_tensor_f32(&a->in[0])[0] / (float)B : 0.0f;
    const float *restrict x = ml_tensor_f32(&a->in[1]), *restrict y = ml_tensor_f32(&a->in[2]);
    float *restrict o = ml_tensor_f32(&a->out);
    for (int64_t i = 0; i < n; i++)
        o[i] = (x[i] - y[i]) * c;
    return ML_OK;
}

ml_status ml_cpu_misclass(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (ml_plan_logits_labels(a, &rows, &K) || ml_tensor_numel(&a->out) != 1)
        return ml_cpu_shape_error(a, "needs scores [B, K], labels [B] and a scalar output");
    const float *x = ml_tensor_f32(&a->in[0]);
    const int32_t *label = ml_tensor_i32(&a->in[1]);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * K;
        float m = xr[0];
        int64_t best = 0;
        for (int64_t j = 1; j < K; j++) {
            if (xr[j] > m || (xr[j] != xr[j] && m == m)) {
                m = xr[j];
                best = j;
            }
        }
        wrong += best != label[r];
    }
    ml_tensor_f32(&a->out)[0] = rows ? (float)((double)wrong / (double)rows) : 0.0f;
    return ML_OK;
}
