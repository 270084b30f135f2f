/* Losses (means over the batch axis, left on the device as one float) and
 * their gradients.
 *
 * Forward losses are two passes: blocks of warps, a warp per row (softmax NLL,
 * misclassification) or a grid-stride loop (BCE, squared error), each block
 * leaving one double in the backend's partials; then one block adds those and
 * divides by the batch.  Gradients read the scalar g from the device.
 *
 * A label outside [0, K) is the caller's error (ops.h): it cannot be reported
 * from inside a kernel, so it makes the loss NaN (and its gradient row NaN)
 * rather than reading outside the row. */
#include "backend/cuda/cuda_impl.h"

#define LOSS_BLOCKS_MAX ML_CUDA_PARTIALS
#define WARPS (ML_CUDA_THREADS / 32)

static unsigned row_loss_blocks(int64_t rows)
{
    int64_t b = (rows + WARPS - 1) / WARPS;
    if (b < 1)
        b = 1;
    return (unsigned)(b < LOSS_BLOCKS_MAX ? b : LOSS_BLOCKS_MAX);
}

/* ---- Softmax + negative log-likelihood ---- */

__global__ void k_nll(double *__restrict__ parts, float *__restrict__ prob, const float *__restrict__ x,
                      const int32_t *__restrict__ label, int64_t rows, int64_t K)
{
    __shared__ double sm[32];
    int lane = threadIdx.x & 31;
    int64_t warp = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    int64_t n_warps = (int64_t)gridDim.x * WARPS;
    double total = 0.0;
    for (int64_t r = warp; r < rows; r += n_warps) {
        const float *xr = x + r * K;
        float *pr = prob + r * K;
        ml_row_exp e = ml_row_max_sumexp<false, true>(xr, pr, K, lane, 32, NULL);
        float m = e.m, s = e.s;
        float inv = (float)(1.0 / (double)s);
        for (int64_t j = lane; j < K; j += 32)
            pr[j] *= inv;
        if (lane == 0) {
            int32_t y = label[r];
            /* -log_softmax(x)[y] = log(s) + m - x[y] */
            total += (y >= 0 && y < K) ? log((double)s) + ((double)m - (double)xr[y]) : (double)NAN;
        }
    }
    total = ml_block_sum(total, sm);
    if (threadIdx.x == 0)
        parts[blockIdx.x] = total;
}

ml_status ml_cuda_nll_logsoftmax(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (ml_plan_logits_labels(a, &rows, &K) || ml_tensor_numel(&a->out) != 1)
        return ml_cuda_shape_error(a, "needs logits [B, K], labels [B] and a scalar output");
    if (!a->aux && rows * K > 0)
        return ml_error(ML_EINVAL, "cuda nll_logsoftmax: no aux buffer for the probabilities");
    cudaStream_t st = ml_cuda_stream();
    double *parts = ml_cuda_partials(a);
    unsigned blocks = row_loss_blocks(rows);
    if (rows * K > 0) {
        k_nll<<<blocks, ML_CUDA_THREADS, 0, st>>>(parts, (float *)a->aux, ml_cuda_f32(&a->in[0]),
                                                   (const int32_t *)ml_tensor_data(&a->in[1]), rows, K);
        ML_CUDA_LAUNCHED();
    } else {
        blocks = 0;
    }
    k_finish<<<1, ML_CUDA_THREADS, 0, st>>>(ml_cuda_f32(&a->out), parts, (int)blocks, 1.0, (double)rows);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* out[r, j] = (p[r, j] - [j == label]) * g / rows */
__global__ void k_nll_back(float *__restrict__ o, const float *__restrict__ prob, const float *__restrict__ g,
                           const int32_t *__restrict__ label, int64_t rows, int64_t K)
{
    const float c = __fdiv_rn(g[0], (float)rows);
    ML_GRID_STRIDE(i, rows * K)
    {
        int64_t r = i / K, j = i % K;
        int32_t y = label[r];
        float p = prob[i];
        float v = j == y ? __fmul_rn(p - 1.0f, c) : __fmul_rn(p, c);
        o[i] = (y >= 0 && y < K) ? v : NAN;
    }
}

ml_status ml_cuda_nll_logsoftmax_back(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (a->n_in < 2 || ml_tensor_numel(&a->in[0]) != 1 || a->in[1].dtype != ML_I32 || a->out.ndim < 1)
        return ml_cuda_shape_error(a, "needs g (scalar), labels [B] and an output [B, K]");
    K = a->out.shape[a->out.ndim - 1];
    rows = K ? ml_tensor_numel(&a->out) / K : 0;
    if (ml_tensor_numel(&a->in[1]) != rows)
        return ml_cuda_shape_error(a, "labels are not one per row");
    if (rows * K == 0)
        return ML_OK;
    if (!a->aux)
        return ml_error(ML_EINVAL, "cuda nll_logsoftmax_back: no aux probabilities");
    k_nll_back<<<ml_cuda_blocks(rows * K), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), (const float *)a->aux, ml_cuda_f32(&a->in[0]),
        (const int32_t *)ml_tensor_data(&a->in[1]), rows, K);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Misclassification rate ---- */

__global__ void k_misclass(double *__restrict__ parts, const float *__restrict__ x,
                           const int32_t *__restrict__ label, int64_t rows, int64_t K)
{
    __shared__ double sm[32];
    int lane = threadIdx.x & 31;
    int64_t warp = (int64_t)blockIdx.x * WARPS + (threadIdx.x >> 5);
    int64_t n_warps = (int64_t)gridDim.x * WARPS;
    double wrong = 0.0;
    for (int64_t r = warp; r < rows; r += n_warps) {
        const float *xr = x + r * K;
        float m = 0.0f;
        int64_t im = -1;
        for (int64_t j = lane; j < K; j += 32)
            if (ml_max_beats(xr[j], j, m, im)) {
                m = xr[j];
                im = j;
            }
        ml_warp_argmax(m, im);
        if (lane == 0)
            wrong += im != (int64_t)label[r];
    }
    wrong = ml_block_sum(wrong, sm);
    if (threadIdx.x == 0)
        parts[blockIdx.x] = wrong;
}

ml_status ml_cuda_misclass(const ml_kernel_args *a)
{
    int64_t rows, K;
    if (ml_plan_logits_labels(a, &rows, &K) || ml_tensor_numel(&a->out) != 1)
        return ml_cuda_shape_error(a, "needs scores [B, K], labels [B] and a scalar output");
    cudaStream_t st = ml_cuda_stream();
    double *parts = ml_cuda_partials(a);
    unsigned blocks = 0;
    if (rows > 0 && K > 0) {
        blocks = row_loss_blocks(rows);
        k_misclass<<<blocks, ML_CUDA_THREADS, 0, st>>>(parts, ml_cuda_f32(&a->in[0]),
                                                        (const int32_t *)ml_tensor_data(&a->in[1]), rows, K);
        ML_CUDA_LAUNCHED();
    }
    k_finish<<<1, ML_CUDA_THREADS, 0, st>>>(ml_cuda_f32(&a->out), parts, (int)blocks, 1.0, (double)rows);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Elementwise losses: BCE with logits, squared error ---- */

template <int KIND> /* 0: softplus(z) - z*t;  1: (a - b)^2 */
__global__ void k_elem_loss(double *__restrict__ parts, const float *__restrict__ x,
                            const float *__restrict__ y, int64_t n)
{
    __shared__ double sm[32];
    float s = 0.0f;
    ML_GRID_STRIDE(i, n)
    {
        float term;
        if (KIND == 0) {
            term = __fsub_rn(ml_d_softplusf(x[i]), __fmul_rn(x[i], y[i]));
        } else {
            float d = x[i] - y[i];
            term = __fmul_rn(d, d);
        }
        s += term;
    }
    double t = ml_block_sum((double)s, sm);
    if (threadIdx.x == 0)
        parts[blockIdx.x] = t;
}

static ml_status elem_loss(const ml_kernel_args *a, int kind)
{
    if (a->n_in < 2 || ml_tensor_numel(&a->in[0]) != ml_tensor_numel(&a->in[1]) ||
        ml_tensor_numel(&a->out) != 1)
        return ml_cuda_shape_error(a, "needs two operands of one shape and a scalar output");
    int64_t n = ml_tensor_numel(&a->in[0]), B = ml_plan_batch(&a->in[0]);
    cudaStream_t st = ml_cuda_stream();
    double *parts = ml_cuda_partials(a);
    unsigned blocks = 0;
    if (n > 0) {
        blocks = ml_cuda_blocks(n, ML_CUDA_THREADS * 4);
        if (blocks > LOSS_BLOCKS_MAX)
            blocks = LOSS_BLOCKS_MAX;
        const float *x = ml_cuda_f32(&a->in[0]), *y = ml_cuda_f32(&a->in[1]);
        if (kind == 0)
            k_elem_loss<0><<<blocks, ML_CUDA_THREADS, 0, st>>>(parts, x, y, n);
        else
            k_elem_loss<1><<<blocks, ML_CUDA_THREADS, 0, st>>>(parts, x, y, n);
        ML_CUDA_LAUNCHED();
    }
    k_finish<<<1, ML_CUDA_THREADS, 0, st>>>(ml_cuda_f32(&a->out), parts, (int)blocks, 1.0, (double)B);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_bce_logits(const ml_kernel_args *a)
{
    return elem_loss(a, 0);
}

ml_status ml_cuda_squared_error(const ml_kernel_args *a)
{
    return elem_loss(a, 1);
}

/* KIND 0: (sigmoid(z) - t) * g / B;  1: (a - b) * 2g / B. */
template <int KIND>
__global__ void k_elem_loss_back(float *__restrict__ o, const float *__restrict__ g,
                                 const float *__restrict__ x, const float *__restrict__ y, int64_t n,
                                 int64_t B)
{
    const float c = B ? (KIND == 0 ? __fdiv_rn(g[0], (float)B) : __fdiv_rn(__fmul_rn(2.0f, g[0]), (float)B))
                      : 0.0f;
    ML_GRID_STRIDE(i, n)
    o[i] = KIND == 0 ? __fmul_rn(ml_d_sigmoidf(x[i]) - y[i], c) : __fmul_rn(x[i] - y[i], c);
}

static ml_status elem_loss_back(const ml_kernel_args *a, int kind)
{
    int64_t n = ml_tensor_numel(&a->out);
    if (a->n_in < 3 || ml_tensor_numel(&a->in[0]) != 1 || ml_tensor_numel(&a->in[1]) != n ||
        ml_tensor_numel(&a->in[2]) != n)
        return ml_cuda_shape_error(a, "needs g (scalar) and two operands of the output's size");
    if (n == 0)
        return ML_OK;
    int64_t B = ml_plan_batch(&a->in[1]);
    float *o = ml_cuda_f32(&a->out);
    const float *g = ml_cuda_f32(&a->in[0]), *x = ml_cuda_f32(&a->in[1]), *y = ml_cuda_f32(&a->in[2]);
    unsigned blocks = ml_cuda_blocks(n);
    if (kind == 0)
        k_elem_loss_back<0><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(o, g, x, y, n, B);
    else
        k_elem_loss_back<1><<<blocks, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(o, g, x, y, n, B);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_bce_logits_back(const ml_kernel_args *a)
{
    return elem_loss_back(a, 0);
}

ml_status ml_cuda_squared_error_back(const ml_kernel_args *a)
{
    return elem_loss_back(a, 1);
}
