/* Learning rules: in-place updates of SHARED tensors. */
#include <math.h>

#include "backend/cpu/cpu_kernels.h"

/* in: param, velocity, grad (updated in place: param and velocity), lr, momentum
 * (SCALAR: scalar[0], scalar[1]).  v = mu*v - lr*g; p += v, or with Nesterov
 * (ip[0] = 1) p += mu*v - lr*g with the updated v.  One pass over the three. */
ml_status ml_cpu_momentum_step(const ml_kernel_args *a)
{
    if (a->n_in < 3)
        return ml_cpu_shape_error(a, "needs param, velocity and grad");
    int64_t n = ml_tensor_numel(&a->in[0]);
    if (ml_tensor_numel(&a->in[1]) != n || ml_tensor_numel(&a->in[2]) != n)
        return ml_cpu_shape_error(a, "param, velocity and grad sizes differ");
    float *restrict p = ml_tensor_f32(&a->in[0]);
    float *restrict v = ml_tensor_f32(&a->in[1]);
    const float *restrict g = ml_tensor_f32(&a->in[2]);
    const float lr = a->scalar[0] * a->p.fp[0], mu = a->scalar[1];
    if (a->p.ip[0]) {
        for (int64_t i = 0; i < n; i++) {
            float step = -lr * g[i];
            float vi = mu * v[i] + step;
            v[i] = vi;
            p[i] += mu * vi + step;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float vi = mu * v[i] - lr * g[i];
            v[i] = vi;
            p[i] += vi;
        }
    }
    return ML_OK;
}

ml_status ml_cpu_nonfinite_watch(const ml_kernel_args *a)
{
    if (a->n_in != 3 || ml_tensor_numel(&a->in[0]) < 1 || ml_tensor_numel(&a->in[1]) != 2)
        return ml_cpu_shape_error(a, "a value and a flag of 2 elements");
    float v = ml_tensor_f32(&a->in[0])[0], *flag = ml_tensor_f32(&a->in[1]);
    if (flag[0] == 0.0f && !isfinite(v)) {
        flag[0] = a->scalar[0];
        flag[1] = isnan(v) ? 1.0f : 2.0f;
    }
    return ML_OK;
}

ml_status ml_cpu_max_norm(const ml_kernel_args *a)
{
    const ml_tensor *t = &a->in[0];
    float *restrict w = ml_tensor_f32(t);
    const float limit = a->p.fp[0];
    if (a->p.ip[0] == 0) {
        if (t->ndim != 2)
            return ml_cpu_shape_error(a, "column norms need a matrix");
        int64_t rows = t->shape[0], cols = t->shape[1];
        /* Column norms accumulate row by row so the inner loop runs along memory. */
        float *restrict norms = a->workspace;
        for (int64_t j = 0; j < cols; j++)
            norms[j] = 0.0f;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                norms[j] += w[i * cols + j] * w[i * cols + j];
        for (int64_t j = 0; j < cols; j++) {
            float norm = sqrtf(norms[j]);
            norms[j] = norm > limit ? limit / (1e-7f + norm) : 1.0f;
        }
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++)
                w[i * cols + j] *= norms[j];
        return ML_OK;
    }
    int64_t units = t->shape[0], size = ml_tensor_numel(t) / (units ? units : 1);
    for (int64_t u = 0; u < units; u++) {
        float *restrict k = w + u * size;
        float sum = 0.0f;
        for (int64_t i = 0; i < size; i++)
            sum += k[i] * k[i];
        float norm = sqrtf(sum);
        if (norm > limit) {
            float scale = limit / (1e-7f + norm);
            for (int64_t i = 0; i < size; i++)
                k[i] *= scale;
        }
    }
    return ML_OK;
}
