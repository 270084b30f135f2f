/* Reductions and their inverses, softmax over the last axis, max and argmax.
 *
 * Row kernels (softmax and its gradients, sums of contiguous rows, max/argmax
 * over the last axis) give each row one warp when it has at most ROW_WARP_MAX
 * elements and one block otherwise; partial results meet through warp shuffles
 * and shared memory.  Sums over a leading or middle axis ([A, R, K] summed over
 * R) use 32x8 blocks: 32 threads along K for coalesced loads, 8 along R, folded
 * in shared memory.  Any other set of axes gets a warp (or a block, for long
 * reductions) per output element.  A sum over every axis is two passes through
 * the backend's partials.  Sums accumulate in float per thread and combine in
 * float (double for the two-pass total), so they differ from the CPU's only in
 * the order of additions. */
#include "backend/cuda/cuda_impl.h"

#define ROW_WARP_MAX 1024
#define WARPS_PER_BLOCK (ML_CUDA_THREADS / 32)

/* ---- Row groups: a warp per row, or a block per row ---- */

template <bool BLOCK> struct grp {
    static __device__ __forceinline__ int lane() { return BLOCK ? threadIdx.x : (threadIdx.x & 31); }
    static __device__ __forceinline__ int size() { return BLOCK ? blockDim.x : 32; }
    static __device__ __forceinline__ int64_t row()
    {
        return BLOCK ? (int64_t)blockIdx.x
                     : (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    }
    template <typename T> static __device__ __forceinline__ T sum(T v, T *sm)
    {
        return BLOCK ? ml_block_sum(v, sm) : ml_warp_sum(v);
    }
    static __device__ __forceinline__ float max(float v, float *sm)
    {
        return BLOCK ? ml_block_max(v, sm) : ml_warp_max(v);
    }
    static __device__ __forceinline__ void argmax(float &m, int64_t &im, float *smv, int64_t *smi)
    {
        if (BLOCK)
            ml_block_argmax(m, im, smv, smi);
        else
            ml_warp_argmax(m, im);
    }
};

static inline bool rows_use_block(int64_t cols)
{
    return cols > ROW_WARP_MAX;
}

static inline unsigned row_blocks(int64_t rows, bool block)
{
    return block ? (unsigned)rows : (unsigned)((rows + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK);
}

/* ---- Softmax family ---- */

template <bool B>
__global__ void k_softmax(float *__restrict__ o, const float *__restrict__ x, int64_t rows, int64_t cols)
{
    __shared__ float sm[32];
    int64_t r = grp<B>::row();
    if (r >= rows)
        return;
    const float *xr = x + r * cols;
    float *orow = o + r * cols;
    int lane = grp<B>::lane(), step = grp<B>::size();
    float s = ml_row_max_sumexp<B, true>(xr, orow, cols, lane, step, sm).s;
    float inv = (float)(1.0 / (double)s);
    for (int64_t j = lane; j < cols; j += step)
        orow[j] *= inv;
}

template <bool B>
__global__ void k_log_softmax(float *__restrict__ o, const float *__restrict__ x, int64_t rows,
                              int64_t cols)
{
    __shared__ float sm[32];
    int64_t r = grp<B>::row();
    if (r >= rows)
        return;
    const float *xr = x + r * cols;
    float *orow = o + r * cols;
    int lane = grp<B>::lane(), step = grp<B>::size();
    ml_row_exp e = ml_row_max_sumexp<B, false>(xr, NULL, cols, lane, step, sm);
    float lse = (float)log((double)e.s);
    for (int64_t j = lane; j < cols; j += step)
        orow[j] = (xr[j] - e.m) - lse;
}

/* LOG = 0: out = y * (g - sum(g*y));  LOG = 1: out = g - exp(y) * sum(g). */
template <bool B, int LOG>
__global__ void k_softmax_back(float *__restrict__ o, const float *__restrict__ g,
                               const float *__restrict__ y, int64_t rows, int64_t cols)
{
    __shared__ float sm[32];
    int64_t r = grp<B>::row();
    if (r >= rows)
        return;
    const float *gr = g + r * cols, *yr = y + r * cols;
    float *orow = o + r * cols;
    int lane = grp<B>::lane(), step = grp<B>::size();
    float s = 0.0f;
    for (int64_t j = lane; j < cols; j += step)
        s = LOG ? s + gr[j] : fmaf(gr[j], yr[j], s);
    s = grp<B>::sum(s, sm);
    for (int64_t j = lane; j < cols; j += step)
        orow[j] = LOG ? __fsub_rn(gr[j], __fmul_rn(ml_d_expf(yr[j]), s))
                      : __fmul_rn(yr[j], __fsub_rn(gr[j], s));
}

/* KERNEL<true, T...> with a block per row when `block`, else KERNEL<false, T...>
 * with a warp per row, called with ARGS (in parentheses); T: the kernel's other
 * template arguments, if any. */
#define ROW_ARGS(...) __VA_ARGS__
#define LAUNCH_ROWS(KERNEL, block, rows, ARGS, ...)                                                      \
    do {                                                                                                 \
        cudaStream_t launch_st_ = ml_cuda_stream();                                                      \
        if (block)                                                                                       \
            KERNEL<true, ##__VA_ARGS__><<<row_blocks(rows, true), ML_CUDA_THREADS, 0, launch_st_>>>(ROW_ARGS ARGS); \
        else                                                                                             \
            KERNEL<false, ##__VA_ARGS__><<<row_blocks(rows, false), ML_CUDA_THREADS, 0, launch_st_>>>(ROW_ARGS ARGS); \
        ML_CUDA_LAUNCHED();                                                                              \
    } while (0)

ml_status ml_cuda_softmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || !ml_plan_same_shape(&a->out, &a->in[0]) || ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cuda_shape_error(a, "input and output shapes differ");
    if (rows * cols == 0)
        return ML_OK;
    LAUNCH_ROWS(k_softmax, rows_use_block(cols), rows, (ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), rows, cols));
    return ML_OK;
}

ml_status ml_cuda_log_softmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || !ml_plan_same_shape(&a->out, &a->in[0]) || ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cuda_shape_error(a, "input and output shapes differ");
    if (rows * cols == 0)
        return ML_OK;
    LAUNCH_ROWS(k_log_softmax, rows_use_block(cols), rows, (ml_cuda_f32(&a->out), ml_cuda_f32(&a->in[0]), rows, cols));
    return ML_OK;
}

static ml_status softmax_back_common(const ml_kernel_args *a, int log)
{
    int64_t rows, cols;
    if (a->n_in < 2 || !ml_plan_same_shape(&a->out, &a->in[0]) || !ml_plan_same_shape(&a->out, &a->in[1]) ||
        ml_plan_rows_cols(&a->out, &rows, &cols))
        return ml_cuda_shape_error(a, "g, y and output shapes differ");
    if (rows * cols == 0)
        return ML_OK;
    float *o = ml_cuda_f32(&a->out);
    const float *g = ml_cuda_f32(&a->in[0]), *y = ml_cuda_f32(&a->in[1]);
    if (log)
        LAUNCH_ROWS(k_softmax_back, rows_use_block(cols), rows, (o, g, y, rows, cols), 1);
    else
        LAUNCH_ROWS(k_softmax_back, rows_use_block(cols), rows, (o, g, y, rows, cols), 0);
    return ML_OK;
}

ml_status ml_cuda_softmax_back(const ml_kernel_args *a)
{
    return softmax_back_common(a, 0);
}

ml_status ml_cuda_log_softmax_back(const ml_kernel_args *a)
{
    return softmax_back_common(a, 1);
}

/* ---- Sums over sets of axes (SUM, MEAN, SUM_TO) ---- */

/* Sum of each contiguous row of `cols` elements, times scale. */
template <bool B>
__global__ void k_row_sum(float *__restrict__ o, const float *__restrict__ x, int64_t rows,
                          int64_t cols, float scale)
{
    __shared__ float sm[32];
    int64_t r = grp<B>::row();
    if (r >= rows)
        return;
    const float *xr = x + r * cols;
    float s = 0.0f;
    for (int64_t j = grp<B>::lane(); j < cols; j += grp<B>::size())
        s += xr[j];
    s = grp<B>::sum(s, sm);
    if (grp<B>::lane() == 0)
        o[r] = s * scale;
}

/* out[a, k] = scale * sum over r of x[a, r, k]: blocks of 32 (k) x 8 (r). */
__global__ void k_col_sum(float *__restrict__ o, const float *__restrict__ x, int64_t R, int64_t K,
                          float scale, int64_t a0)
{
    __shared__ float part[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t k = (int64_t)blockIdx.x * 32 + tx, a = a0 + blockIdx.y;
    const float *xa = x + a * R * K;
    float s = 0.0f;
    if (k < K)
        for (int64_t r = ty; r < R; r += 8)
            s += xa[r * K + k];
    part[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && k < K) {
        float t = part[0][tx];
        for (int j = 1; j < 8; j++)
            t += part[j][tx];
        o[a * K + k] = t * scale;
    }
}

/* Any set of axes: merged dimensions n[] with input strides st[]; kept ones
 * index the output, reduced ones are summed by a warp or block per output. */
struct red_plan {
    int nk, nr;                       /* kept and reduced dimensions */
    int64_t kn[ML_MAX_DIMS], kst[ML_MAX_DIMS];
    int64_t rn[ML_MAX_DIMS], rst[ML_MAX_DIMS];
    int64_t out_n, red_n;
};

template <bool B>
__global__ void k_general_sum(float *__restrict__ o, const float *__restrict__ x, red_plan p, float scale)
{
    __shared__ float sm[32];
    int64_t r = grp<B>::row();
    if (r >= p.out_n)
        return;
    int64_t base = 0, t = r;
    for (int d = p.nk - 1; d >= 0; d--) {
        base += (t % p.kn[d]) * p.kst[d];
        t /= p.kn[d];
    }
    float s = 0.0f;
    for (int64_t j = grp<B>::lane(); j < p.red_n; j += grp<B>::size()) {
        int64_t off = base, u = j;
        for (int d = p.nr - 1; d >= 0; d--) {
            off += (u % p.rn[d]) * p.rst[d];
            u /= p.rn[d];
        }
        s += x[off];
    }
    s = grp<B>::sum(s, sm);
    if (grp<B>::lane() == 0)
        o[r] = s * scale;
}

/* Two passes over everything: partial sums per block, then one block. */
__global__ void k_total_partials(double *__restrict__ parts, const float *__restrict__ x, int64_t n)
{
    __shared__ double sm[32];
    float s = 0.0f;
    ML_GRID_STRIDE(i, n)
    s += x[i];
    double t = ml_block_sum((double)s, sm);
    if (threadIdx.x == 0)
        parts[blockIdx.x] = t;
}

/* Also the losses' last pass (cuda_impl.h). */
__global__ void k_finish(float *out, const double *__restrict__ parts, int n_parts, double mul, double div)
{
    __shared__ double sm[32];
    double s = 0.0;
    for (int i = threadIdx.x; i < n_parts; i += blockDim.x)
        s += parts[i];
    s = ml_block_sum(s, sm);
    if (threadIdx.x == 0)
        out[0] = div != 0.0 ? (float)(s * mul / div) : 0.0f;
}

/* Sums x (shape[nd]) over the axes flagged in `reduced` into out (the kept axes
 * in order), times scale.  Merging as cpu_reduce.c's reduce_sum does. */
static ml_status reduce_sum(const ml_kernel_args *a, const float *x, int nd, const int64_t *shape,
                            const int *reduced, float *out, float scale)
{
    cudaStream_t st = ml_cuda_stream();
    ml_reduce_plan plan;
    ml_reduce_plan_make(nd, shape, reduced, &plan);
    const int64_t *n = plan.n, total = plan.total, out_n = plan.out_n;
    const int *r = plan.r;
    int k = plan.k;
    if (out_n == 0)
        return ML_OK;
    if (total == 0) {
        ML_CUDA_CHECK(cudaMemsetAsync(out, 0, (size_t)out_n * sizeof(float), st));
        return ML_OK;
    }
    if (k == 0 || (k == 1 && !r[0])) { /* nothing summed */
        k_affine<<<ml_cuda_blocks(total), ML_CUDA_THREADS, 0, st>>>(out, x, total, scale, 0.0f);
        ML_CUDA_LAUNCHED();
        return ML_OK;
    }
    if (k == 1) { /* everything */
        double *parts = ml_cuda_partials(a);
        unsigned blocks = ml_cuda_blocks(total, ML_CUDA_THREADS * 8);
        if (blocks > ML_CUDA_PARTIALS)
            blocks = ML_CUDA_PARTIALS;
        k_total_partials<<<blocks, ML_CUDA_THREADS, 0, st>>>(parts, x, total);
        ML_CUDA_LAUNCHED();
        k_finish<<<1, ML_CUDA_THREADS, 0, st>>>(out, parts, (int)blocks, (double)scale, 1.0);
        ML_CUDA_LAUNCHED();
        return ML_OK;
    }
    if (k == 2 && !r[0]) { /* rows */
        int64_t rows = n[0], cols = n[1];
        LAUNCH_ROWS(k_row_sum, rows_use_block(cols), rows, (out, x, rows, cols, scale));
        return ML_OK;
    }
    /* [A,] R, K summed over R, when K fills the 32 lanes or R is short (else the
     * general kernel spreads each long, narrow column over a warp or block). */
    if (((k == 2 && r[0]) || (k == 3 && !r[0])) && (n[k - 1] >= 32 || n[k - 2] <= 1024)) {
        int64_t A = k == 3 ? n[0] : 1, R = n[k - 2], K = n[k - 1];
        for (int64_t a0 = 0; a0 < A; a0 += 65535) {
            dim3 grid((unsigned)((K + 31) / 32), (unsigned)(A - a0 < 65535 ? A - a0 : 65535)), block(32, 8);
            k_col_sum<<<grid, block, 0, st>>>(out, x, R, K, scale, a0);
            ML_CUDA_LAUNCHED();
        }
        return ML_OK;
    }
    red_plan p;
    memset(&p, 0, sizeof p);
    int64_t stride[ML_MAX_DIMS], s = 1;
    for (int i = k - 1; i >= 0; i--) {
        stride[i] = s;
        s *= n[i];
    }
    p.out_n = p.red_n = 1;
    for (int i = 0; i < k; i++) {
        if (r[i]) {
            p.rn[p.nr] = n[i];
            p.rst[p.nr++] = stride[i];
            p.red_n *= n[i];
        } else {
            p.kn[p.nk] = n[i];
            p.kst[p.nk++] = stride[i];
            p.out_n *= n[i];
        }
    }
    LAUNCH_ROWS(k_general_sum, p.red_n > 4096, p.out_n, (out, x, p, scale));
    return ML_OK;
}

ml_status ml_cuda_sum(const ml_kernel_args *a)
{
    int reduced[ML_MAX_DIMS];
    float scale;
    const char *why = ml_sum_plan(a, reduced, &scale);
    if (why)
        return ml_cuda_shape_error(a, why);
    const ml_tensor *in = &a->in[0];
    return reduce_sum(a, ml_cuda_f32(in), in->ndim, in->shape, reduced, ml_cuda_f32(&a->out), scale);
}

ml_status ml_cuda_sum_to(const ml_kernel_args *a)
{
    int reduced[ML_MAX_DIMS];
    const char *why = ml_sum_to_plan(a, reduced);
    if (why)
        return ml_cuda_shape_error(a, why);
    const ml_tensor *in = &a->in[0], *out = &a->out;
    return reduce_sum(a, ml_cuda_f32(in), in->ndim, in->shape, reduced, ml_cuda_f32(out), 1.0f);
}

/* out[i, l, j] = x[i, j] * scale for out seen as [outer, len, inner]. */
__global__ void k_expand(float *__restrict__ o, const float *__restrict__ x, int64_t n, int64_t len,
                         int64_t inner, float scale)
{
    ML_GRID_STRIDE(i, n)
    {
        int64_t j = i % inner, outer = i / (inner * len);
        o[i] = x[outer * inner + j] * scale;
    }
}

__global__ void k_expand_all(float *__restrict__ o, const float *__restrict__ x, int64_t n, int mean)
{
    float v = mean ? (float)((double)x[0] / (double)n) : x[0];
    ML_GRID_STRIDE(i, n)
    o[i] = v;
}

ml_status ml_cuda_expand(const ml_kernel_args *a)
{
    if (a->n_in < 1)
        return ml_cuda_shape_error(a, "needs an input");
    const ml_tensor *in = &a->in[0], *out = &a->out;
    float *o = ml_cuda_f32(out);
    const float *x = ml_cuda_f32(in);
    int64_t n = ml_tensor_numel(out);
    cudaStream_t st = ml_cuda_stream();
    if (a->p.ip[0] == ML_ALL_AXES) {
        if (ml_tensor_numel(in) != 1)
            return ml_cuda_shape_error(a, "expanding over all axes takes one element");
        if (n == 0)
            return ML_OK;
        k_expand_all<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, st>>>(o, x, n, a->p.ip[1] == 1);
        ML_CUDA_LAUNCHED();
        return ML_OK;
    }
    int axis = ml_plan_axis(a->p.ip[0], out->ndim);
    if (axis < 0 || !ml_plan_shape_minus_axis(out, axis, in))
        return ml_cuda_shape_error(a, "input is not the output less the axis");
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    if (n == 0)
        return ML_OK;
    float scale = a->p.ip[1] == 1 ? (float)(1.0 / (double)len) : 1.0f;
    k_expand<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, st>>>(o, x, n, len, inner, scale);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* ---- Max, its gradient, argmax ---- */

/* Rows of `len` contiguous elements: out[r] = max, arg[r] = flat index
 * (r * len + best) when FLAT, else the index within the row (ARGMAX, int32 out). */
template <bool B, bool FLAT>
__global__ void k_row_argmax(float *__restrict__ o, int32_t *__restrict__ arg,
                             const float *__restrict__ x, int64_t rows, int64_t len)
{
    __shared__ float smv[32];
    __shared__ int64_t smi[32];
    int64_t r = grp<B>::row();
    if (r >= rows)
        return;
    const float *xr = x + r * len;
    float m = 0.0f;
    int64_t im = -1;
    for (int64_t j = grp<B>::lane(); j < len; j += grp<B>::size())
        if (ml_max_beats(xr[j], j, m, im)) {
            m = xr[j];
            im = j;
        }
    grp<B>::argmax(m, im, smv, smi);
    if (grp<B>::lane() == 0) {
        if (FLAT) {
            o[r] = m;
            arg[r] = (int32_t)(r * len + im);
        } else {
            arg[r] = (int32_t)im;
        }
    }
}

/* [outer, len, inner] over len: blocks of 32 (inner) x 8 (len). */
__global__ void k_col_argmax(float *__restrict__ o, int32_t *__restrict__ arg,
                             const float *__restrict__ x, int64_t len, int64_t inner, int64_t i0)
{
    __shared__ float pv[8][33];
    __shared__ int64_t pi[8][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t j = (int64_t)blockIdx.x * 32 + tx, i = i0 + blockIdx.y;
    const float *xb = x + i * len * inner;
    float m = 0.0f;
    int64_t im = -1;
    if (j < inner)
        for (int64_t l = ty; l < len; l += 8) {
            float v = xb[l * inner + j];
            if (ml_max_beats(v, l, m, im)) {
                m = v;
                im = l;
            }
        }
    pv[ty][tx] = m;
    pi[ty][tx] = im;
    __syncthreads();
    if (ty == 0 && j < inner) {
        for (int k = 1; k < 8; k++)
            if (ml_max_beats(pv[k][tx], pi[k][tx], m, im)) {
                m = pv[k][tx];
                im = pi[k][tx];
            }
        o[i * inner + j] = m;
        arg[i * inner + j] = (int32_t)(i * len * inner + im * inner + j);
    }
}

ml_status ml_cuda_max(const ml_kernel_args *a)
{
    int64_t outer, len, inner;
    const char *why = ml_max_plan(a, &outer, &len, &inner);
    if (why)
        return ml_cuda_shape_error(a, why);
    const ml_tensor *in = &a->in[0];
    if (ml_tensor_numel(in) > INT32_MAX)
        return ml_error(ML_EINVAL, "cuda max: input of more than 2^31 elements");
    if (outer * inner == 0)
        return ML_OK;
    if (!a->aux)
        return ml_error(ML_EINVAL, "cuda max: no aux buffer for the argmax");
    float *o = ml_cuda_f32(&a->out);
    int32_t *arg = (int32_t *)a->aux;
    const float *x = ml_cuda_f32(in);
    cudaStream_t st = ml_cuda_stream();
    if (inner == 1) {
        LAUNCH_ROWS(k_row_argmax, rows_use_block(len), outer, (o, arg, x, outer, len), true);
    } else {
        for (int64_t i0 = 0; i0 < outer; i0 += 65535) {
            dim3 grid((unsigned)((inner + 31) / 32), (unsigned)(outer - i0 < 65535 ? outer - i0 : 65535));
            dim3 block(32, 8);
            k_col_argmax<<<grid, block, 0, st>>>(o, arg, x, len, inner, i0);
            ML_CUDA_LAUNCHED();
        }
    }
    return ML_OK;
}

__global__ void k_max_back(float *__restrict__ o, const float *__restrict__ g,
                           const int32_t *__restrict__ arg, int64_t n_g, int64_t n_out)
{
    ML_GRID_STRIDE(j, n_g)
    {
        int32_t k = arg[j];
        if (k >= 0 && k < n_out)
            atomicAdd(o + k, g[j]); /* distinct per output of a MAX: one add each */
    }
}

ml_status ml_cuda_max_back(const ml_kernel_args *a)
{
    if (a->n_in < 1)
        return ml_cuda_shape_error(a, "needs the gradient");
    int64_t n_out = ml_tensor_numel(&a->out), n_g = ml_tensor_numel(&a->in[0]);
    if (!a->aux && n_g > 0)
        return ml_error(ML_EINVAL, "cuda max_back: no aux argmax");
    float *o = ml_cuda_f32(&a->out);
    cudaStream_t st = ml_cuda_stream();
    if (n_out)
        ML_CUDA_CHECK(cudaMemsetAsync(o, 0, (size_t)n_out * sizeof(float), st));
    if (n_g == 0)
        return ML_OK;
    k_max_back<<<ml_cuda_blocks(n_g), ML_CUDA_THREADS, 0, st>>>(o, ml_cuda_f32(&a->in[0]),
                                                                (const int32_t *)a->aux, n_g, n_out);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

ml_status ml_cuda_argmax(const ml_kernel_args *a)
{
    int64_t rows, cols;
    if (a->n_in < 1 || ml_plan_rows_cols(&a->in[0], &rows, &cols) ||
        !ml_plan_shape_minus_axis(&a->in[0], a->in[0].ndim - 1, &a->out))
        return ml_cuda_shape_error(a, "output is not the input less its last axis");
    if (cols == 0 && ml_tensor_numel(&a->out) > 0)
        return ml_cuda_shape_error(a, "argmax over an empty axis");
    if (rows == 0)
        return ML_OK;
    int32_t *o = (int32_t *)ml_tensor_data(&a->out);
    const float *x = ml_cuda_f32(&a->in[0]);
    LAUNCH_ROWS(k_row_argmax, rows_use_block(cols), rows, (NULL, o, x, rows, cols), false);
    return ML_OK;
}
