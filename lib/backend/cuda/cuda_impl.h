/* The CUDA backend's internals, shared by its .cu files (never included by C code).
 *
 * Every kernel of backend/ops.h has a CUDA version here with the CPU's semantics
 * (lib/backend/cpu/ is the reference): the same argmax and NaN conventions, the
 * same Philox dropout mask, the same polynomial exp/log/tanh (cuda_math below is
 * a copy of cpu/cpu_math.h), so that elementwise results match the CPU's bit for
 * bit and sums differ only by the order of their additions.
 *
 * Kernels are launched on the backend's one stream and return at once; a
 * failing CUDA or cuBLAS call becomes ML_EDEVICE with "file:line: call: message"
 * and the kernel returns it (nothing here exits or prints).  Scalar results stay
 * on the device.  Partial sums of reductions go to the call's workspace. */
#ifndef ML_BACKEND_CUDA_IMPL_H
#define ML_BACKEND_CUDA_IMPL_H

/* The C headers below include these; included first, outside extern "C". */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "backend/backend.h"
#include "backend/plan.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/rng.h"
#include "tensor/tensor.h"
}

/* ---- Error checks: a failure becomes ML_EDEVICE naming the call, and returns ---- */

#define ML_CUDA_CHECK(expr)                                                                     \
    do {                                                                                        \
        cudaError_t ml_cuda_e_ = (expr);                                                        \
        if (ml_cuda_e_ != cudaSuccess) {                                                        \
            (void)cudaGetLastError();                                                           \
            return ml_error(ML_EDEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #expr,             \
                            cudaGetErrorString(ml_cuda_e_));                                    \
        }                                                                                       \
    } while (0)

#define ML_CUBLAS_CHECK(expr)                                                                   \
    do {                                                                                        \
        cublasStatus_t ml_cublas_s_ = (expr);                                                   \
        if (ml_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                              \
            return ml_error(ML_EDEVICE, "%s:%d: %s: %s", __FILE__, __LINE__, #expr,             \
                            cublasGetStatusString(ml_cublas_s_));                               \
    } while (0)

/* After a kernel launch: a bad configuration is reported here, a fault at the next sync. */
#define ML_CUDA_LAUNCHED() ML_CUDA_CHECK(cudaGetLastError())

/* ---- The backend's state (cuda_backend.cu) ---- */

cudaStream_t ml_cuda_stream(void);
cublasHandle_t ml_cuda_cublas(void);
/* ML_CUDA_PARTIALS doubles of scratch for the partial sums of two-pass
 * reductions: the call's workspace (workspace_bytes asks for it), or the
 * backend's own when a caller gave none. */
#define ML_CUDA_PARTIALS 1024
double *ml_cuda_partials(const ml_kernel_args *a);

static inline ml_status ml_cuda_shape_error(const ml_kernel_args *a, const char *why)
{
    return ml_plan_shape_error("cuda", a, why);
}

/* ---- Launch geometry ---- */

#define ML_CUDA_THREADS 256
#ifndef ML_CUDA_MAX_BLOCKS
#define ML_CUDA_MAX_BLOCKS 4096 /* grid-stride loops cover the rest */
#endif

static inline unsigned ml_cuda_blocks(int64_t n, int threads = ML_CUDA_THREADS)
{
    int64_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    return (unsigned)(b < ML_CUDA_MAX_BLOCKS ? b : ML_CUDA_MAX_BLOCKS);
}

#define ML_GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                   \
         i += (int64_t)gridDim.x * blockDim.x)

static inline float *ml_cuda_f32(const ml_tensor *t)
{
    return (float *)ml_tensor_data(t);
}

/* ---- Warp and block reductions ---- */

template <typename T> __device__ __forceinline__ T ml_warp_sum(T v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float ml_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* Sum over the block (every thread gets it); sm holds 32 T. */
template <typename T> __device__ T ml_block_sum(T v, T *sm)
{
    v = ml_warp_sum(v);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0)
        sm[wid] = v;
    __syncthreads();
    if (wid == 0) {
        v = lane < nw ? sm[lane] : T(0);
        v = ml_warp_sum(v);
        if (lane == 0)
            sm[0] = v;
    }
    __syncthreads();
    return sm[0];
}

__device__ __forceinline__ float ml_block_max(float v, float *sm)
{
    v = ml_warp_max(v);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0)
        sm[wid] = v;
    __syncthreads();
    if (wid == 0) {
        v = lane < nw ? sm[lane] : -INFINITY;
        v = ml_warp_max(v);
        if (lane == 0)
            sm[0] = v;
    }
    __syncthreads();
    return sm[0];
}

/* The CPU's maximum rule (cpu_reduce.c max_takes), made order-free for parallel
 * reduction: does candidate (v, iv) beat (m, im)?  A NaN beats any number, the
 * smaller index wins among NaNs and among equal values, else the larger value.
 * A sequential scan keeping the first maximum or first NaN gives the same pick.
 * im < 0 marks an empty accumulator. */
__device__ __forceinline__ bool ml_max_beats(float v, int64_t iv, float m, int64_t im)
{
    if (im < 0)
        return iv >= 0;
    if (iv < 0)
        return false;
    bool vn = v != v, mn = m != m;
    if (vn || mn)
        return vn && mn ? iv < im : vn;
    if (v != m)
        return v > m;
    return iv < im;
}

__device__ __forceinline__ void ml_warp_argmax(float &m, int64_t &im)
{
    for (int o = 16; o > 0; o >>= 1) {
        float v = __shfl_xor_sync(0xffffffffu, m, o);
        long long iv = __shfl_xor_sync(0xffffffffu, (long long)im, o);
        if (ml_max_beats(v, iv, m, im)) {
            m = v;
            im = iv;
        }
    }
}

/* Argmax over the block (every thread gets it); smv/smi hold 32 entries. */
__device__ __forceinline__ void ml_block_argmax(float &m, int64_t &im, float *smv, int64_t *smi)
{
    ml_warp_argmax(m, im);
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) {
        smv[wid] = m;
        smi[wid] = im;
    }
    __syncthreads();
    if (wid == 0) {
        m = lane < nw ? smv[lane] : 0.0f;
        im = lane < nw ? smi[lane] : -1;
        ml_warp_argmax(m, im);
        if (lane == 0) {
            smv[0] = m;
            smi[0] = im;
        }
    }
    __syncthreads();
    m = smv[0];
    im = smi[0];
}

/* ---- cpu_math.h on the device: the same polynomials, so the same floats ----
 * Explicit fmaf where the CPU has ML_FMA; no other a*b+c is written in a
 * form nvcc could contract. */

#define ML_D_EXP_HI 88.7228394f
#define ML_D_EXP_LO -87.3365479f

__device__ __forceinline__ float ml_d_exp_core(float x)
{
    float t = fmaf(x, 1.44269504088896341f, 12582912.0f);
    float n = t - 12582912.0f;
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float z = __fmul_rn(r, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, z, r) + 1.0f;
    int32_t ni = (int32_t)n;
    return __uint_as_float(__float_as_uint(p) + ((uint32_t)ni << 23));
}

__device__ __forceinline__ float ml_d_expf(float x)
{
    float xc = x > ML_D_EXP_HI ? ML_D_EXP_HI : x;
    xc = xc < ML_D_EXP_LO ? ML_D_EXP_LO : xc;
    float y = ml_d_exp_core(xc);
    y = x > ML_D_EXP_HI ? INFINITY : y;
    return x < ML_D_EXP_LO ? 0.0f : y;
}

__device__ __forceinline__ float ml_d_exp_nonpos(float x)
{
    return ml_d_exp_core(x < ML_D_EXP_LO ? ML_D_EXP_LO : x);
}

__device__ __forceinline__ float ml_d_log_core(float x)
{
    uint32_t bits = __float_as_uint(x);
    int32_t e = (int32_t)(bits >> 23) - 126;
    float m = __uint_as_float((bits & 0x007fffffu) | 0x3f000000u);
    int small = m < 0.707106781186547524f;
    e = small ? e - 1 : e;
    float f = (small ? m + m : m) - 1.0f;
    float fe = (float)e;
    float z = __fmul_rn(f, f);
    float y = 7.0376836292e-2f;
    y = fmaf(y, f, -1.1514610310e-1f);
    y = fmaf(y, f, 1.1676998740e-1f);
    y = fmaf(y, f, -1.2420140846e-1f);
    y = fmaf(y, f, 1.4249322787e-1f);
    y = fmaf(y, f, -1.6668057665e-1f);
    y = fmaf(y, f, 2.0000714765e-1f);
    y = fmaf(y, f, -2.4999993993e-1f);
    y = fmaf(y, f, 3.3333331174e-1f);
    y = __fmul_rn(__fmul_rn(y, f), z);
    y = fmaf(fe, -2.12194440e-4f, y);
    y = fmaf(z, -0.5f, y);
    return fmaf(fe, 0.693359375f, f + y);
}

__device__ __forceinline__ float ml_d_logf(float x)
{
    int denormal = x < 1.17549435e-38f;
    float r = ml_d_log_core(denormal ? __fmul_rn(x, 8388608.0f) : x);
    r = denormal ? r - 15.9423851528787f : r;
    r = x == INFINITY ? x : r;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    return x != x ? x : r;
}

__device__ __forceinline__ float ml_d_log1p_unit(float y)
{
    float u = 1.0f + y;
    float d = u - 1.0f;
    float r = __fmul_rn(ml_d_log_core(u), __fdiv_rn(y, d == 0.0f ? 1.0f : d));
    return d == 0.0f ? y : r;
}

__device__ __forceinline__ float ml_d_expm1f(float x)
{
    float ax = fabsf(x);
    float p = 1.0f / 40320.0f;
    p = fmaf(p, x, 1.0f / 5040.0f);
    p = fmaf(p, x, 1.0f / 720.0f);
    p = fmaf(p, x, 1.0f / 120.0f);
    p = fmaf(p, x, 1.0f / 24.0f);
    p = fmaf(p, x, 1.0f / 6.0f);
    p = fmaf(p, x, 0.5f);
    p = fmaf(__fmul_rn(p, x), x, x);
    float e = ml_d_expf(x) - 1.0f;
    return ax < 0.5f ? p : e;
}

__device__ __forceinline__ float ml_d_sigmoidf(float x)
{
    float e = ml_d_exp_nonpos(-fabsf(x));
    float r = __fdiv_rn(1.0f, 1.0f + e);
    return x >= 0.0f ? r : __fmul_rn(e, r);
}

__device__ __forceinline__ float ml_d_softplusf(float x)
{
    float m = x > 0.0f ? x : 0.0f;
    return m + ml_d_log1p_unit(ml_d_exp_nonpos(-fabsf(x)));
}

__device__ __forceinline__ float ml_d_tanhf(float x)
{
    float ax = fabsf(x);
    float s = __fmul_rn(x, x);
    float p = -5.70498872745e-3f;
    p = fmaf(p, s, 2.06390887954e-2f);
    p = fmaf(p, s, -5.37397155531e-2f);
    p = fmaf(p, s, 1.33314422036e-1f);
    p = fmaf(p, s, -3.33332819422e-1f);
    p = fmaf(__fmul_rn(p, s), x, x);
    float e = ml_d_exp_nonpos(__fmul_rn(-2.0f, ax));
    float t = __fdiv_rn(1.0f - e, 1.0f + e);
    t = copysignf(t, x);
    return ax < 0.625f ? p : t;
}

/* ---- Softmax's first passes (k_softmax, k_log_softmax, k_nll) ---- */

struct ml_row_exp {
    float m, s;
};

/* A row x[0, n)'s maximum m and the sum s of exp(x[j] - m), over a warp, or
 * the block when BLOCK (sm: 32 floats); lane and step are the thread's place
 * in the group and the group's size.  Each exp is also stored in e[j] when
 * STORE. */
template <bool BLOCK, bool STORE>
__device__ __forceinline__ ml_row_exp ml_row_max_sumexp(const float *__restrict__ x, float *__restrict__ e,
                                                        int64_t n, int lane, int step, float *sm)
{
    float m = -INFINITY;
    for (int64_t j = lane; j < n; j += step)
        m = fmaxf(m, x[j]);
    m = BLOCK ? ml_block_max(m, sm) : ml_warp_max(m);
    float s = 0.0f;
    for (int64_t j = lane; j < n; j += step) {
        float v = ml_d_expf(x[j] - m);
        if (STORE)
            e[j] = v;
        s += v;
    }
    s = BLOCK ? ml_block_sum(s, sm) : ml_warp_sum(s);
    return {m, s};
}

/* ---- Kernels launched from more than one file ---- */

/* out[0] = (float)(sum of parts * mul / div), 0 when div is 0; one block
 * (cuda_reduce.cu). */
__global__ void k_finish(float *out, const double *__restrict__ parts, int n_parts, double mul, double div);

/* o[i] = x[i] * c, plus d unless d is 0 (cuda_elementwise.cu). */
__global__ void k_affine(float *__restrict__ o, const float *__restrict__ x, int64_t n, float c, float d);

/* ---- Kernels (one per op; each file's header comment says how) ---- */

/* cuda_backend.cu */
ml_status ml_cuda_matmul(const ml_kernel_args *a);
ml_status ml_cuda_const(const ml_kernel_args *a);

/* cuda_elementwise.cu */
ml_status ml_cuda_binary(const ml_kernel_args *a);
ml_status ml_cuda_affine_scalar(const ml_kernel_args *a);
ml_status ml_cuda_unary(const ml_kernel_args *a);
ml_status ml_cuda_unary_back(const ml_kernel_args *a);
ml_status ml_cuda_clip(const ml_kernel_args *a);
ml_status ml_cuda_clip_back(const ml_kernel_args *a);
ml_status ml_cuda_dropout(const ml_kernel_args *a);
ml_status ml_cuda_dropout_back(const ml_kernel_args *a);
ml_status ml_cuda_momentum_step(const ml_kernel_args *a);
ml_status ml_cuda_max_norm(const ml_kernel_args *a);
ml_status ml_cuda_nonfinite_watch(const ml_kernel_args *a);
ml_status ml_cuda_fill(float *p, int64_t n, float v);

/* cuda_reduce.cu */
ml_status ml_cuda_softmax(const ml_kernel_args *a);
ml_status ml_cuda_log_softmax(const ml_kernel_args *a);
ml_status ml_cuda_softmax_back(const ml_kernel_args *a);
ml_status ml_cuda_log_softmax_back(const ml_kernel_args *a);
ml_status ml_cuda_sum(const ml_kernel_args *a); /* SUM and MEAN */
ml_status ml_cuda_expand(const ml_kernel_args *a);
ml_status ml_cuda_sum_to(const ml_kernel_args *a);
ml_status ml_cuda_max(const ml_kernel_args *a);
ml_status ml_cuda_max_back(const ml_kernel_args *a);
ml_status ml_cuda_argmax(const ml_kernel_args *a);

/* cuda_layout.cu */
ml_status ml_cuda_transpose(const ml_kernel_args *a);
ml_status ml_cuda_concat(const ml_kernel_args *a);
ml_status ml_cuda_slice(const ml_kernel_args *a);
ml_status ml_cuda_copy(const ml_kernel_args *a);
ml_status ml_cuda_gather_rows(const ml_kernel_args *a);

/* cuda_loss.cu */
ml_status ml_cuda_nll_logsoftmax(const ml_kernel_args *a);
ml_status ml_cuda_nll_logsoftmax_back(const ml_kernel_args *a);
ml_status ml_cuda_bce_logits(const ml_kernel_args *a);
ml_status ml_cuda_bce_logits_back(const ml_kernel_args *a);
ml_status ml_cuda_squared_error(const ml_kernel_args *a);
ml_status ml_cuda_squared_error_back(const ml_kernel_args *a);
ml_status ml_cuda_misclass(const ml_kernel_args *a);

/* cuda_conv.cu */
ml_status ml_cuda_conv2d(const ml_kernel_args *a);
ml_status ml_cuda_conv2d_back_input(const ml_kernel_args *a);
ml_status ml_cuda_conv2d_back_weight(const ml_kernel_args *a);
ml_status ml_cuda_pool(const ml_kernel_args *a);
ml_status ml_cuda_pool_back(const ml_kernel_args *a);
size_t ml_cuda_conv_workspace_bytes(const ml_kernel_args *a);

#endif
