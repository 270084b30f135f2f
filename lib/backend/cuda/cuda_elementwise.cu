/* Elementwise kernels: broadcasting arithmetic, unary functions and their
 * gradients, clipping, dropout, learning-rule steps and max-norm constraints.
 *
 * Broadcasting is planned on the host exactly as cpu_elementwise.c plans it
 * (dimensions of 1 dropped, neighbours stepping alike merged); the plan then
 * picks a kernel: equal shapes, a scalar operand, a row vector over a matrix, a
 * column over a matrix, or the general odometer.  Products that feed a sum are
 * written with __fmul_rn/__fadd_rn so nvcc cannot fuse them into an FMA the
 * CPU does not do: elementwise results equal the CPU's bit for bit. */
#include "backend/cuda/cuda_impl.h"

/* ---- Fill (CONST) ---- */

__global__ void k_fill(float *p, int64_t n, float v)
{
    ML_GRID_STRIDE(i, n)
    p[i] = v;
}

ml_status ml_cuda_fill(float *p, int64_t n, float v)
{
    if (n <= 0)
        return ML_OK;
    k_fill<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(p, n, v);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Broadcasting binary arithmetic ---- */

template <int OP> __device__ __forceinline__ float binop(float x, float y)
{
    if (OP == 0)
        return x + y;
    if (OP == 1)
        return x - y;
    if (OP == 2)
        return x * y;
    return x / y;
}

/* Operand access patterns. */
enum { B_VV, B_VS, B_SV, B_ROW_Y, B_ROW_X, B_COL_Y, B_COL_X, B_GENERAL };

template <int OP, int MODE>
__global__ void k_binary(float *__restrict__ o, const float *__restrict__ x,
                         const float *__restrict__ y, int64_t total, int64_t len, ml_bcast_plan p)
{
    ML_GRID_STRIDE(i, total)
    {
        float a, b;
        if (MODE == B_VV) {
            a = x[i], b = y[i];
        } else if (MODE == B_VS) {
            a = x[i], b = y[0];
        } else if (MODE == B_SV) {
            a = x[0], b = y[i];
        } else if (MODE == B_ROW_Y) {
            a = x[i], b = y[i % len];
        } else if (MODE == B_ROW_X) {
            a = x[i % len], b = y[i];
        } else if (MODE == B_COL_Y) {
            a = x[i], b = y[i / len];
        } else if (MODE == B_COL_X) {
            a = x[i / len], b = y[i];
        } else {
            int64_t r = i, ox = 0, oy = 0;
            for (int d = p.nd - 1; d >= 0; d--) {
                int64_t c = r % p.n[d];
                r /= p.n[d];
                ox += c * p.sx[d];
                oy += c * p.sy[d];
            }
            a = x[ox], b = y[oy];
        }
        o[i] = binop<OP>(a, b);
    }
}

template <int OP>
static void launch_binary(int mode, float *o, const float *x, const float *y, int64_t total,
                          int64_t len, const ml_bcast_plan &p)
{
    unsigned blocks = ml_cuda_blocks(total);
    cudaStream_t s = ml_cuda_stream();
    switch (mode) {
    case B_VV: k_binary<OP, B_VV><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_VS: k_binary<OP, B_VS><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_SV: k_binary<OP, B_SV><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_ROW_Y: k_binary<OP, B_ROW_Y><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_ROW_X: k_binary<OP, B_ROW_X><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_COL_Y: k_binary<OP, B_COL_Y><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    case B_COL_X: k_binary<OP, B_COL_X><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    default: k_binary<OP, B_GENERAL><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, y, total, len, p); break;
    }
}

ml_status ml_cuda_binary(const ml_kernel_args *a)
{
    if (a->op < ML_OP_ADD || a->op > ML_OP_DIV)
        return ml_error(ML_EINVAL, "cuda: %s is not a binary arithmetic op", ml_op_name(a->op));
    if (a->n_in != 2)
        return ml_cuda_shape_error(a, "needs two operands");
    ml_bcast_plan p;
    if (ml_bcast_plan_make(&a->out, &a->in[0], &a->in[1], &p) != 0)
        return ml_cuda_shape_error(a, "operands do not broadcast to the output");
    float *o = ml_cuda_f32(&a->out);
    const float *x = ml_cuda_f32(&a->in[0]), *y = ml_cuda_f32(&a->in[1]);
    int64_t total = ml_tensor_numel(&a->out);
    if (total == 0)
        return ML_OK;
    int mode = B_GENERAL;
    int64_t len = 1;
    if (p.nd == 1) {
        int xs = p.sx[0] == 0, ys = p.sy[0] == 0;
        mode = xs ? (ys ? B_GENERAL : B_SV) : (ys ? B_VS : B_VV);
    } else if (p.nd == 2) {
        int64_t L = p.n[1];
        len = L;
        if (p.sx[0] == L && p.sx[1] == 1 && p.sy[0] == 0 && p.sy[1] == 1)
            mode = B_ROW_Y;
        else if (p.sy[0] == L && p.sy[1] == 1 && p.sx[0] == 0 && p.sx[1] == 1)
            mode = B_ROW_X;
        else if (p.sx[0] == L && p.sx[1] == 1 && p.sy[0] == 1 && p.sy[1] == 0)
            mode = B_COL_Y;
        else if (p.sy[0] == L && p.sy[1] == 1 && p.sx[0] == 1 && p.sx[1] == 0)
            mode = B_COL_X;
    }
    switch (a->op) {
    case ML_OP_ADD: launch_binary<0>(mode, o, x, y, total, len, p); break;
    case ML_OP_SUB: launch_binary<1>(mode, o, x, y, total, len, p); break;
    case ML_OP_MUL: launch_binary<2>(mode, o, x, y, total, len, p); break;
    default: launch_binary<3>(mode, o, x, y, total, len, p); break;
    }
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Same-size elementwise ---- */

__global__ void k_affine(float *__restrict__ o, const float *__restrict__ x, int64_t n, float c, float d)
{
    ML_GRID_STRIDE(i, n)
    o[i] = d == 0.0f ? __fmul_rn(x[i], c) : __fadd_rn(__fmul_rn(x[i], c), d);
}

ml_status ml_cuda_affine_scalar(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cuda_shape_error(a, "input and output sizes differ");
    int64_t n = ml_tensor_numel(&a->out);
    if (n == 0)
        return ML_OK;
    const float c = a->p.fp[0] * (a->n_in >= 2 ? a->scalar[0] : 1.0f);
    k_affine<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), n, c, a->p.fp[1]);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

template <int F> __device__ __forceinline__ float unary_f(float x, float alpha)
{
    switch (F) {
    case ML_UNARY_NEG: return -x;
    case ML_UNARY_EXP: return ml_d_expf(x);
    case ML_UNARY_LOG: return ml_d_logf(x);
    case ML_UNARY_SQRT: return __fsqrt_rn(x);
    case ML_UNARY_SQUARE: return __fmul_rn(x, x);
    case ML_UNARY_ABS: return fabsf(x);
    case ML_UNARY_RELU: return x > 0.0f ? x : 0.0f;
    case ML_UNARY_SIGMOID: return ml_d_sigmoidf(x);
    case ML_UNARY_TANH: return ml_d_tanhf(x);
    case ML_UNARY_SOFTPLUS: return ml_d_softplusf(x);
    default: return x > 0.0f ? x : __fmul_rn(alpha, ml_d_expm1f(x)); /* ELU */
    }
}

template <int F>
__global__ void k_unary(float *__restrict__ o, const float *__restrict__ x, int64_t n, float alpha)
{
    ML_GRID_STRIDE(i, n)
    o[i] = unary_f<F>(x[i], alpha);
}

template <int F> __device__ __forceinline__ float unary_back_f(float g, float x, float y, float alpha)
{
    switch (F) {
    case ML_UNARY_NEG: return -g;
    case ML_UNARY_EXP: return __fmul_rn(g, y);
    case ML_UNARY_LOG: return __fdiv_rn(g, x);
    case ML_UNARY_SQRT: return __fdiv_rn(__fmul_rn(g, 0.5f), y);
    case ML_UNARY_SQUARE: return __fmul_rn(__fmul_rn(2.0f, x), g);
    case ML_UNARY_ABS: return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    case ML_UNARY_RELU: return y > 0.0f ? g : 0.0f;
    case ML_UNARY_SIGMOID: return __fmul_rn(__fmul_rn(g, y), 1.0f - y);
    case ML_UNARY_TANH: return __fmul_rn(g, __fsub_rn(1.0f, __fmul_rn(y, y)));
    case ML_UNARY_SOFTPLUS: return __fmul_rn(g, ml_d_sigmoidf(x));
    default: return x > 0.0f ? g : __fmul_rn(g, y + alpha); /* ELU */
    }
}

template <int F>
__global__ void k_unary_back(float *__restrict__ o, const float *__restrict__ g,
                             const float *__restrict__ x, const float *__restrict__ y, int64_t n,
                             float alpha)
{
    ML_GRID_STRIDE(i, n)
    o[i] = unary_back_f<F>(g[i], x[i], y[i], alpha);
}

#define UNARY_CASES(X)                                                                          \
    X(ML_UNARY_NEG) X(ML_UNARY_EXP) X(ML_UNARY_LOG) X(ML_UNARY_SQRT) X(ML_UNARY_SQUARE)         \
    X(ML_UNARY_ABS) X(ML_UNARY_RELU) X(ML_UNARY_SIGMOID) X(ML_UNARY_TANH)                       \
    X(ML_UNARY_SOFTPLUS) X(ML_UNARY_ELU)

ml_status ml_cuda_unary(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cuda_shape_error(a, "input and output sizes differ");
    int64_t n = ml_tensor_numel(&a->out);
    if (a->p.ip[0] < 0 || a->p.ip[0] >= ML_UNARY_COUNT)
        return ml_error(ML_EINVAL, "cuda unary: unknown function %d", a->p.ip[0]);
    if (n == 0)
        return ML_OK;
    float *o = ml_cuda_f32(&a->out);
    const float *x = ml_cuda_f32(&a->in[0]);
    unsigned blocks = ml_cuda_blocks(n);
    cudaStream_t s = ml_cuda_stream();
    switch (a->p.ip[0]) {
#define X(F)                                                                                    \
    case F:                                                                                     \
        k_unary<F><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, x, n, a->p.fp[0]);                     \
        break;
        UNARY_CASES(X)
#undef X
    }
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_unary_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 3))
        return ml_cuda_shape_error(a, "needs g, x, y of the output's size");
    int64_t n = ml_tensor_numel(&a->out);
    if (a->p.ip[0] < 0 || a->p.ip[0] >= ML_UNARY_COUNT)
        return ml_error(ML_EINVAL, "cuda unary_back: unknown function %d", a->p.ip[0]);
    if (n == 0)
        return ML_OK;
    float *o = ml_cuda_f32(&a->out);
    const float *g = ml_cuda_f32(&a->in[0]), *x = ml_cuda_f32(&a->in[1]), *y = ml_cuda_f32(&a->in[2]);
    unsigned blocks = ml_cuda_blocks(n);
    cudaStream_t s = ml_cuda_stream();
    switch (a->p.ip[0]) {
#define X(F)                                                                                    \
    case F:                                                                                     \
        k_unary_back<F><<<blocks, ML_CUDA_THREADS, 0, s>>>(o, g, x, y, n, a->p.fp[0]);          \
        break;
        UNARY_CASES(X)
#undef X
    }
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Clipping ---- */

__global__ void k_clip(float *__restrict__ o, const float *__restrict__ x, int64_t n, float lo, float hi)
{
    ML_GRID_STRIDE(i, n)
    {
        float v = x[i] < lo ? lo : x[i];
        o[i] = v > hi ? hi : v;
    }
}

__global__ void k_clip_back(float *__restrict__ o, const float *__restrict__ g,
                            const float *__restrict__ x, int64_t n, float lo, float hi)
{
    ML_GRID_STRIDE(i, n)
    o[i] = (x[i] > lo && x[i] < hi) ? g[i] : 0.0f;
}

ml_status ml_cuda_clip(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cuda_shape_error(a, "input and output sizes differ");
    int64_t n = ml_tensor_numel(&a->out);
    if (n == 0)
        return ML_OK;
    k_clip<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), n, a->p.fp[0], a->p.fp[1]);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_clip_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 2))
        return ml_cuda_shape_error(a, "needs g and x of the output's size");
    int64_t n = ml_tensor_numel(&a->out);
    if (n == 0)
        return ML_OK;
    k_clip_back<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), ml_cuda_f32(&a->in[1]), n, a->p.fp[0],
        a->p.fp[1]);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Dropout ----
 * One thread per Philox block: counter rng_counter + b (a 128-bit sum carried
 * from word 0, as the CPU does), words 0..3 for elements 4b..4b+3, element kept
 * when (float)(w >> 8) < p * 2^24.  The same mask as the CPU's, bit for bit. */

__device__ __forceinline__ void philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                           uint32_t k0, uint32_t k1, uint32_t out[4])
{
    for (int round = 0; round < 10; round++) {
        uint32_t h0 = __umulhi(0xD2511F53u, c0), l0 = 0xD2511F53u * c0;
        uint32_t h1 = __umulhi(0xCD9E8D57u, c2), l1 = 0xCD9E8D57u * c2;
        c0 = h1 ^ c1 ^ k0;
        c1 = l1;
        c2 = h0 ^ c3 ^ k1;
        c3 = l0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

struct philox_args {
    uint32_t key[2];
    uint32_t counter[4];
};

__global__ void k_dropout(float *__restrict__ o, const float *__restrict__ x, uint8_t *__restrict__ mask,
                          int64_t n, float p24, float scale, philox_args r)
{
    const uint64_t base = (uint64_t)r.counter[1] << 32 | r.counter[0];
    const int64_t blocks = (n + 3) / 4;
    ML_GRID_STRIDE(b, blocks)
    {
        uint64_t low = base + (uint64_t)b;
        uint32_t carry = low < base;
        uint32_t w2 = r.counter[2] + carry;
        uint32_t w3 = r.counter[3] + (carry & (w2 == 0));
        uint32_t words[4];
        philox4x32((uint32_t)low, (uint32_t)(low >> 32), w2, w3, r.key[0], r.key[1], words);
        for (int j = 0; j < 4; j++) {
            int64_t i = 4 * b + j;
            if (i < n) {
                float u24 = (float)(int32_t)(words[j] >> 8);
                int keep = u24 < p24;
                mask[i] = (uint8_t)keep;
                o[i] = __fmul_rn(__fmul_rn(x[i], keep ? 1.0f : 0.0f), scale);
            }
        }
    }
}

__global__ void k_dropout_back(float *__restrict__ o, const float *__restrict__ g,
                               const uint8_t *__restrict__ mask, int64_t n, float scale)
{
    ML_GRID_STRIDE(i, n)
    o[i] = __fmul_rn(__fmul_rn(g[i], (float)mask[i]), scale);
}

ml_status ml_cuda_dropout(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cuda_shape_error(a, "input and output sizes differ");
    int64_t n = ml_tensor_numel(&a->out);
    if (n == 0)
        return ML_OK;
    if (!a->aux)
        return ml_error(ML_EINVAL, "cuda dropout: no aux buffer for the mask");
    philox_args r;
    memcpy(r.key, a->rng_key, sizeof r.key);
    memcpy(r.counter, a->rng_counter, sizeof r.counter);
    k_dropout<<<ml_cuda_blocks((n + 3) / 4), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), (uint8_t *)a->aux, n,
        a->p.fp[0] * 16777216.0f, a->p.fp[1], r);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_dropout_back(const ml_kernel_args *a)
{
    if (!ml_plan_same_numel(a, 1))
        return ml_cuda_shape_error(a, "gradient and output sizes differ");
    int64_t n = ml_tensor_numel(&a->out);
    if (n == 0)
        return ML_OK;
    if (!a->aux)
        return ml_error(ML_EINVAL, "cuda dropout_back: no aux mask");
    k_dropout_back<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), (const uint8_t *)a->aux, n, a->p.fp[1]);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Learning rules ---- */

__global__ void k_momentum(float *__restrict__ p, float *__restrict__ v, const float *__restrict__ g,
                           int64_t n, float lr, float mu, int nesterov)
{
    ML_GRID_STRIDE(i, n)
    {
        if (nesterov) {
            float step = __fmul_rn(-lr, g[i]);
            float vi = __fadd_rn(__fmul_rn(mu, v[i]), step);
            v[i] = vi;
            p[i] = __fadd_rn(p[i], __fadd_rn(__fmul_rn(mu, vi), step));
        } else {
            float vi = __fsub_rn(__fmul_rn(mu, v[i]), __fmul_rn(lr, g[i]));
            v[i] = vi;
            p[i] = __fadd_rn(p[i], vi);
        }
    }
}

ml_status ml_cuda_momentum_step(const ml_kernel_args *a)
{
    if (a->n_in < 3)
        return ml_cuda_shape_error(a, "needs param, velocity and grad");
    int64_t n = ml_tensor_numel(&a->in[0]);
    if (ml_tensor_numel(&a->in[1]) != n || ml_tensor_numel(&a->in[2]) != n)
        return ml_cuda_shape_error(a, "param, velocity and grad sizes differ");
    if (n == 0)
        return ML_OK;
    const float lr = a->scalar[0] * a->p.fp[0], mu = a->scalar[1];
    k_momentum<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        ml_cuda_f32(&a->in[0]), ml_cuda_f32(&a->in[1]), ml_cuda_f32(&a->in[2]), n, lr, mu,
        a->p.ip[0] != 0);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* Columns of a [rows, cols] matrix, 32 per block: 8 row groups sum the squares
 * of a column, the block combines them, then rescales its 32 columns. */
__global__ void k_max_norm_cols(float *w, int64_t rows, int64_t cols, float limit)
{
    __shared__ float part[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t j = (int64_t)blockIdx.x * 32 + tx;
    float s = 0.0f;
    if (j < cols)
        for (int64_t i = ty; i < rows; i += 8) {
            float v = w[i * cols + j];
            s = fmaf(v, v, s);
        }
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0) {
        float t = 0.0f;
        for (int k = 0; k < 8; k++)
            t += part[k][tx];
        float norm = sqrtf(t);
        part[0][tx] = norm > limit ? __fdiv_rn(limit, 1e-7f + norm) : 1.0f;
    }
    __syncthreads();
    float f = part[0][tx];
    if (j < cols && f != 1.0f)
        for (int64_t i = ty; i < rows; i += 8)
            w[i * cols + j] *= f;
}

/* One block per unit (a slice along axis 0). */
__global__ void k_max_norm_slices(float *w, int64_t size, float limit)
{
    __shared__ float sm[32];
    float *k = w + (int64_t)blockIdx.x * size;
    float s = 0.0f;
    for (int64_t i = threadIdx.x; i < size; i += blockDim.x)
        s = fmaf(k[i], k[i], s);
    s = ml_block_sum(s, sm);
    float norm = sqrtf(s);
    if (norm > limit) {
        float scale = __fdiv_rn(limit, 1e-7f + norm);
        for (int64_t i = threadIdx.x; i < size; i += blockDim.x)
            k[i] *= scale;
    }
}

ml_status ml_cuda_max_norm(const ml_kernel_args *a)
{
    if (a->n_in < 1)
        return ml_cuda_shape_error(a, "needs the parameter");
    const ml_tensor *t = &a->in[0];
    float *w = ml_cuda_f32(t);
    const float limit = a->p.fp[0];
    if (a->p.ip[0] == 0) {
        if (t->ndim != 2)
            return ml_cuda_shape_error(a, "column norms need a matrix");
        int64_t rows = t->shape[0], cols = t->shape[1];
        if (rows * cols == 0)
            return ML_OK;
        dim3 block(32, 8);
        k_max_norm_cols<<<(unsigned)((cols + 31) / 32), block, 0, ml_cuda_stream()>>>(w, rows, cols, limit);
        ML_CUDA_LAUNCHED();
        return ML_OK;
    }
    int64_t units = t->ndim ? t->shape[0] : 1;
    int64_t size = units ? ml_tensor_numel(t) / units : 0;
    if (units == 0 || size == 0)
        return ML_OK;
    k_max_norm_slices<<<(unsigned)units, ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(w, size, limit);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

__global__ void k_nonfinite_watch(const float *v, float *flag, float batch)
{
    if (flag[0] == 0.0f && !isfinite(v[0])) {
        flag[0] = batch;
        flag[1] = isnan(v[0]) ? 1.0f : 2.0f;
    }
}

ml_status ml_cuda_nonfinite_watch(const ml_kernel_args *a)
{
    if (a->n_in != 3 || ml_tensor_numel(&a->in[0]) < 1 || ml_tensor_numel(&a->in[1]) != 2)
        return ml_cuda_shape_error(a, "a value and a flag of 2 elements");
    k_nonfinite_watch<<<1, 1, 0, ml_cuda_stream()>>>((const float *)ml_tensor_data(&a->in[0]),
                                                     (float *)ml_tensor_data(&a->in[1]), a->scalar[0]);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}
