/* Copies with a new layout: transpose, concatenation, slices, reshapes.
 * Elements move as 32-bit words, so float32 and int32 alike.
 *
 * A transpose is planned in plan.c for both backends (dimensions of 1 dropped,
 * output axes consecutive in the input merged); a plain or batched 2-D swap
 * then goes through 32x32 shared-memory tiles (coalesced on both sides), any
 * other permutation through a gather with one thread per output element. */
#include "backend/cuda/cuda_impl.h"

typedef uint32_t word;

#define TILE 32
#define TILE_ROWS 8

/* out[b, j, i] = in[b, i, j] for in [nb, R, C] (so out [nb, C, R]). */
__global__ void k_transpose_tiles(word *__restrict__ o, const word *__restrict__ x, int64_t R,
                                  int64_t C, int64_t b0)
{
    __shared__ word tile[TILE][TILE + 1];
    int64_t b = b0 + blockIdx.z;
    const word *xb = x + b * R * C;
    word *ob = o + b * R * C;
    int64_t c0 = (int64_t)blockIdx.x * TILE, r0 = (int64_t)blockIdx.y * TILE;
    for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
        int64_t r = r0 + k, c = c0 + threadIdx.x;
        if (r < R && c < C)
            tile[k][threadIdx.x] = xb[r * C + c];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < TILE; k += TILE_ROWS) {
        int64_t c = c0 + k, r = r0 + threadIdx.x;
        if (r < R && c < C)
            ob[c * R + r] = tile[threadIdx.x][k];
    }
}

__global__ void k_transpose_gather(word *__restrict__ o, const word *__restrict__ x, int64_t total,
                                   ml_transpose_plan p)
{
    ML_GRID_STRIDE(i, total)
    {
        int64_t t = i, off = 0;
        for (int d = p.k - 1; d >= 0; d--) {
            off += (t % p.n[d]) * p.st[d];
            t /= p.n[d];
        }
        o[i] = x[off];
    }
}

ml_status ml_cuda_transpose(const ml_kernel_args *a)
{
    ml_transpose_plan p;
    const char *why = ml_transpose_plan_make(a, &p);
    if (why)
        return ml_cuda_shape_error(a, why);
    word *o = (word *)ml_tensor_data(&a->out);
    const word *x = (const word *)ml_tensor_data(&a->in[0]);
    int64_t total = ml_tensor_numel(&a->out);
    if (total == 0)
        return ML_OK;
    cudaStream_t st = ml_cuda_stream();
    int k = p.k;
    if (k <= 1) {
        if (o != x)
            ML_CUDA_CHECK(cudaMemcpyAsync(o, x, (size_t)total * sizeof(word), cudaMemcpyDeviceToDevice, st));
        return ML_OK;
    }
    /* Out [nb, C, R] from in [nb, R, C]: out axes (batch, C, R) with input
     * strides (R*C, 1, C). */
    int64_t nb = 0, R = 0, C = 0;
    if (k == 2 && p.st[0] == 1 && p.st[1] == p.n[0]) {
        nb = 1, C = p.n[0], R = p.n[1];
    } else if (k == 3 && p.st[1] == 1 && p.st[2] == p.n[1] && p.st[0] == p.n[1] * p.n[2]) {
        nb = p.n[0], C = p.n[1], R = p.n[2];
    }
    if (nb > 0) {
        for (int64_t b0 = 0; b0 < nb; b0 += 65535) {
            dim3 grid((unsigned)((C + TILE - 1) / TILE), (unsigned)((R + TILE - 1) / TILE),
                      (unsigned)(nb - b0 < 65535 ? nb - b0 : 65535));
            k_transpose_tiles<<<grid, dim3(TILE, TILE_ROWS), 0, st>>>(o, x, R, C, b0);
            ML_CUDA_LAUNCHED();
        }
        return ML_OK;
    }
    k_transpose_gather<<<ml_cuda_blocks(total), ML_CUDA_THREADS, 0, st>>>(o, x, total, p);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* rows x width words from src (row pitch sp) to dst (row pitch dp). */
__global__ void k_copy_rows(word *__restrict__ d, int64_t dp, const word *__restrict__ s, int64_t sp,
                            int64_t rows, int64_t width)
{
    ML_GRID_STRIDE(i, rows * width)
    {
        int64_t r = i / width, c = i % width;
        d[r * dp + c] = s[r * sp + c];
    }
}

static ml_status copy_rows(word *d, int64_t dp, const word *s, int64_t sp, int64_t rows, int64_t width)
{
    if (rows * width == 0)
        return ML_OK;
    cudaStream_t st = ml_cuda_stream();
    if (rows == 1 || (dp == width && sp == width)) {
        ML_CUDA_CHECK(cudaMemcpyAsync(d, s, (size_t)(rows * width) * sizeof(word),
                                      cudaMemcpyDeviceToDevice, st));
        return ML_OK;
    }
    k_copy_rows<<<ml_cuda_blocks(rows * width), ML_CUDA_THREADS, 0, st>>>(d, dp, s, sp, rows, width);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}


ml_status ml_cuda_concat(const ml_kernel_args *a)
{
    const ml_tensor *out = &a->out;
    int axis;
    const char *why = ml_concat_check(a, &axis);
    if (why)
        return ml_cuda_shape_error(a, why);
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    word *o = (word *)ml_tensor_data(out);
    int64_t col = 0;
    for (int i = 0; i < a->n_in; i++) {
        int64_t chunk = a->in[i].shape[axis] * inner;
        ML_TRY(copy_rows(o + col, len * inner, (const word *)ml_tensor_data(&a->in[i]), chunk, outer, chunk));
        col += chunk;
    }
    return ML_OK;
}

ml_status ml_cuda_slice(const ml_kernel_args *a)
{
    const ml_tensor *out = &a->out, *in = &a->in[0];
    int axis;
    const char *why = ml_slice_check(a, &axis);
    if (why)
        return ml_cuda_shape_error(a, why);
    int64_t start = a->p.ip[1], len_out = out->shape[axis], len_in = in->shape[axis];
    int64_t outer, len, inner;
    ml_plan_split(out, axis, &outer, &len, &inner);
    return copy_rows((word *)ml_tensor_data(out), len_out * inner,
                     (const word *)ml_tensor_data(in) + start * inner, len_in * inner, outer,
                     len_out * inner);
}

ml_status ml_cuda_copy(const ml_kernel_args *a)
{
    if (a->n_in < 1 || ml_tensor_numel(&a->in[0]) != ml_tensor_numel(&a->out) ||
        a->in[0].dtype != a->out.dtype)
        return ml_cuda_shape_error(a, "input and output sizes differ");
    return ml_device_memory_get(ML_CUDA)->copy_same(ml_tensor_data(&a->out), ml_tensor_data(&a->in[0]),
                                                    ml_tensor_nbytes(&a->out));
}

/* out row i = x row index[i]; an index outside the rows gives a zero row (the
 * host checked the indices it drew; a kernel cannot return an error). */
__global__ void k_gather_rows(word *__restrict__ o, const word *__restrict__ x, const int32_t *__restrict__ index,
                              int64_t total, int64_t words, int64_t rows)
{
    ML_GRID_STRIDE(i, total)
    {
        int64_t r = i / words, w = i - r * words;
        int32_t k = index[r];
        o[i] = k >= 0 && k < rows ? x[(int64_t)k * words + w] : 0;
    }
}

ml_status ml_cuda_gather_rows(const ml_kernel_args *a)
{
    int64_t rows, words;
    ML_TRY(ml_gather_plan_make(a, &rows, &words));
    int64_t total = a->out.shape[0] * words;
    if (total == 0)
        return ML_OK;
    k_gather_rows<<<ml_cuda_blocks(total), ML_CUDA_THREADS, 0, ml_cuda_stream()>>>(
        (word *)ml_tensor_data(&a->out), (const word *)ml_tensor_data(&a->in[0]),
        (const int32_t *)ml_tensor_data(&a->in[1]), total, words, rows);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}
