/* The CUDA backend: start-up (device, stream, cuBLAS handle, device memory),
 * its kernel table, matrix products through cuBLAS.
 *
 * Matrix products use the row-major trick: a row-major C[M, N] = op(A) op(B) is
 * the column-major C^T[N, M] = op(B)^T op(A)^T, so cublasSgemm is called with
 * the operands swapped and the stored matrices as they are (no copies).  The
 * handle keeps cuBLAS's default math mode: plain FP32 (no TF32), so products
 * agree with OpenBLAS's to float rounding. */
#include "backend/cuda/cuda_impl.h"

static cudaStream_t g_stream;
static cublasHandle_t g_cublas;
static void *g_cublas_workspace;
static double *g_partials;
static int g_state;           /* 0: not started, 1: ready, -1: failed (g_failure says why) */
static char g_failure[320];
static uint64_t g_alloc_count; /* cudaMalloc calls, for tests */
static ml_backend g_backend;

/* cuBLAS's own scratch, given once so a matrix product never allocates
 * (32 MiB: what cuBLAS recommends for Hopper). */
#define CUBLAS_WORKSPACE_BYTES ((size_t)32 << 20)

cudaStream_t ml_cuda_stream(void)
{
    return g_stream;
}

cublasHandle_t ml_cuda_cublas(void)
{
    return g_cublas;
}

double *ml_cuda_partials(const ml_kernel_args *a)
{
    if (a->workspace && a->workspace_bytes >= ML_CUDA_PARTIALS * sizeof(double))
        return (double *)a->workspace;
    return g_partials;
}

extern "C" uint64_t ml_cuda_alloc_count(void)
{
    return g_alloc_count;
}

/* ---- Device memory ---- */

static void *cuda_alloc(size_t bytes)
{
    void *p = NULL;
    g_alloc_count++;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        ml_error(ML_ENOMEM, "out of GPU memory allocating %zu bytes", bytes);
        return NULL;
    }
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ml_error(ML_EDEVICE, "%s:%d: cudaMalloc(%zu bytes): %s", __FILE__, __LINE__, bytes,
                 cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void cuda_free(void *p)
{
    if (p)
        (void)cudaFree(p); /* nothing to report to: a fault shows at the next call */
}

/* Waits for the copy, so the host buffer may be reused or read at once. */
static ml_status cuda_copy_host(void *device_ptr, void *host_ptr, size_t bytes, int to_device)
{
    if (bytes == 0)
        return ML_OK;
    if (to_device)
        ML_CUDA_CHECK(cudaMemcpyAsync(device_ptr, host_ptr, bytes, cudaMemcpyHostToDevice, g_stream));
    else
        ML_CUDA_CHECK(cudaMemcpyAsync(host_ptr, device_ptr, bytes, cudaMemcpyDeviceToHost, g_stream));
    ML_CUDA_CHECK(cudaStreamSynchronize(g_stream));
    return ML_OK;
}

/* Ordered on the stream (no wait).  Overlapping ranges (memmove's case) are
 * copied in pieces no longer than their distance, in the safe direction. */
static ml_status cuda_copy_same(void *dst, const void *src, size_t bytes)
{
    if (bytes == 0 || dst == src)
        return ML_OK;
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t dist = d > s ? (size_t)(d - s) : (size_t)(s - d);
    if (dist >= bytes) {
        ML_CUDA_CHECK(cudaMemcpyAsync(d, s, bytes, cudaMemcpyDeviceToDevice, g_stream));
        return ML_OK;
    }
    if (d < s) {
        for (size_t off = 0; off < bytes; off += dist) {
            size_t n = bytes - off < dist ? bytes - off : dist;
            ML_CUDA_CHECK(cudaMemcpyAsync(d + off, s + off, n, cudaMemcpyDeviceToDevice, g_stream));
        }
    } else {
        for (size_t end = bytes; end > 0;) {
            size_t n = end < dist ? end : dist;
            end -= n;
            ML_CUDA_CHECK(cudaMemcpyAsync(d + end, s + end, n, cudaMemcpyDeviceToDevice, g_stream));
        }
    }
    return ML_OK;
}

static ml_status cuda_fill_zero(void *ptr, size_t bytes)
{
    if (bytes)
        ML_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, g_stream));
    return ML_OK;
}

static void *cuda_host_alloc(size_t bytes)
{
    void *p = NULL;
    cudaError_t e = cudaHostAlloc(&p, bytes, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        ml_error(e == cudaErrorMemoryAllocation ? ML_ENOMEM : ML_EDEVICE, "%s:%d: cudaHostAlloc(%zu bytes): %s",
                 __FILE__, __LINE__, bytes, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

static void cuda_host_free(void *p)
{
    if (p)
        (void)cudaFreeHost(p);
}

/* ---- Uploads beside the kernels (ml_uploader) ----
 *
 * A stream of its own carries the copies, so they run while the kernel stream
 * computes.  Two events per buffer order the streams:
 *   kernels_done[b]  on the kernel stream after every kernel that may read b
 *                    (recorded at the send into the other buffer)
 *   copied[b]        on the copy stream after b's copies
 * An event not yet recorded stands for no work: waiting for it returns at once. */
typedef struct {
    cudaStream_t copies;
    cudaEvent_t kernels_done[2], copied[2];
} cuda_uploader;

static void cuda_uploader_free(void *queue)
{
    cuda_uploader *u = (cuda_uploader *)queue;
    if (!u)
        return;
    if (u->copies) {
        (void)cudaStreamSynchronize(u->copies);
        (void)cudaStreamDestroy(u->copies);
    }
    for (int b = 0; b < 2; b++) {
        if (u->kernels_done[b])
            (void)cudaEventDestroy(u->kernels_done[b]);
        if (u->copied[b])
            (void)cudaEventDestroy(u->copied[b]);
    }
    ml_free(u);
}

static ml_status cuda_uploader_start(cuda_uploader *u)
{
    ML_CUDA_CHECK(cudaStreamCreateWithFlags(&u->copies, cudaStreamNonBlocking));
    for (int b = 0; b < 2; b++) {
        ML_CUDA_CHECK(cudaEventCreateWithFlags(&u->kernels_done[b], cudaEventDisableTiming));
        ML_CUDA_CHECK(cudaEventCreateWithFlags(&u->copied[b], cudaEventDisableTiming));
    }
    return ML_OK;
}

static void *cuda_uploader_new(void)
{
    cuda_uploader *u = (cuda_uploader *)ml_calloc(1, sizeof *u);
    if (u && cuda_uploader_start(u) != ML_OK) {
        cuda_uploader_free(u);
        return NULL;
    }
    return u;
}

static ml_status cuda_uploader_send(void *queue, int buffer, int n, void *const *device_ptrs,
                                    const void *const *host_ptrs, const size_t *bytes)
{
    cuda_uploader *u = (cuda_uploader *)queue;
    int other = 1 - buffer;
    /* The kernels queued so far read the previous batch, in the other buffer;
     * this buffer's readers were all queued before the previous send. */
    ML_CUDA_CHECK(cudaEventRecord(u->kernels_done[other], g_stream));
    ML_CUDA_CHECK(cudaStreamWaitEvent(u->copies, u->kernels_done[buffer], 0));
    for (int i = 0; i < n; i++)
        if (bytes[i])
            ML_CUDA_CHECK(cudaMemcpyAsync(device_ptrs[i], host_ptrs[i], bytes[i], cudaMemcpyHostToDevice, u->copies));
    ML_CUDA_CHECK(cudaEventRecord(u->copied[buffer], u->copies));
    ML_CUDA_CHECK(cudaStreamWaitEvent(g_stream, u->copied[buffer], 0));
    return ML_OK;
}

static ml_status cuda_uploader_wait_host(void *queue, int buffer)
{
    ML_CUDA_CHECK(cudaEventSynchronize(((cuda_uploader *)queue)->copied[buffer]));
    return ML_OK;
}

static const ml_device_memory cuda_memory = {"cuda",           cuda_alloc,         cuda_free,
                                             cuda_copy_host,   cuda_copy_same,     cuda_fill_zero,
                                             cuda_host_alloc,  cuda_host_free,     cuda_uploader_new,
                                             cuda_uploader_free, cuda_uploader_send, cuda_uploader_wait_host};

/* ---- Matrix product ---- */

/* x[i] = x[i] * scale + y[i] * weight. */
__global__ void k_scale_add(float *__restrict__ x, const float *__restrict__ y, float scale, float weight,
                            int64_t n)
{
    ML_GRID_STRIDE(i, n)
    x[i] = x[i] * scale + (y ? y[i] * weight : 0.0f);
}

static ml_status scale_add(float *x, const float *y, float scale, float weight, int64_t n)
{
    k_scale_add<<<ml_cuda_blocks(n), ML_CUDA_THREADS, 0, g_stream>>>(x, y, scale, weight, n);
    ML_CUDA_LAUNCHED();
    return ML_OK;
}

/* C = alpha op(A) op(B) + beta C for 2-D row-major A, B and C. */
static ml_status gemm_into(const ml_kernel_args *a, const ml_tensor *A, const ml_tensor *B, const ml_tensor *Ct,
                           int ta, int tb, float alpha, float beta)
{
    int64_t M, N, K;
    const char *why = ml_gemm_plan(A, B, Ct, ta, tb, &M, &N, &K);
    if (why)
        return ml_cuda_shape_error(a, why);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ml_cuda_shape_error(a, "dimensions too large for cuBLAS");
    float *C = ml_cuda_f32(Ct);
    if (M == 0 || N == 0)
        return ML_OK;
    if (K == 0) {
        if (beta == 0.0f)
            ML_CUDA_CHECK(cudaMemsetAsync(C, 0, (size_t)(M * N) * sizeof(float), g_stream));
        else
            ML_TRY(scale_add(C, NULL, beta, 0.0f, M * N));
        return ML_OK;
    }
    int lda = (int)A->shape[1], ldb = (int)B->shape[1];
    ML_CUBLAS_CHECK(cublasSgemm(g_cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                (int)N, (int)M, (int)K, &alpha, ml_cuda_f32(B), ldb > 0 ? ldb : 1,
                                ml_cuda_f32(A), lda > 0 ? lda : 1, &beta, C, (int)N));
    return ML_OK;
}

ml_status ml_cuda_matmul(const ml_kernel_args *a)
{
    if (a->n_in != 2)
        return ml_cuda_shape_error(a, "operands must be matrices");
    return gemm_into(a, &a->in[0], &a->in[1], &a->out, a->p.ip[0] != 0, a->p.ip[1] != 0, 1.0f, 0.0f);
}

/* The gradient's GEMM accumulates straight into the velocity (beta = momentum). */
static ml_status ml_cuda_momentum_matmul_step(const ml_kernel_args *a)
{
    if (a->n_in != 6)
        return ml_cuda_shape_error(a, "needs param, velocity, A, B, lr and momentum");
    const ml_tensor *P = &a->in[0], *V = &a->in[1];
    int64_t n = ml_tensor_numel(P);
    if (n != ml_tensor_numel(V))
        return ml_cuda_shape_error(a, "param and velocity sizes differ");
    float lr = a->scalar[0] * a->p.fp[0], mu = a->scalar[1];
    ML_TRY(gemm_into(a, &a->in[2], &a->in[3], V, a->p.ip[0] != 0, a->p.ip[1] != 0, -lr, mu));
    return scale_add(ml_cuda_f32(P), ml_cuda_f32(V), 1.0f, 1.0f, n);
}

ml_status ml_cuda_const(const ml_kernel_args *a)
{
    return ml_cuda_fill(ml_cuda_f32(&a->out), ml_tensor_numel(&a->out), a->p.fp[0]);
}

/* ---- The table ---- */

static size_t cuda_workspace_bytes(const ml_kernel_args *a)
{
    switch (a->op) {
    case ML_OP_CONV2D:
    case ML_OP_CONV2D_BACK_INPUT:
    case ML_OP_CONV2D_BACK_WEIGHT:
        return ml_cuda_conv_workspace_bytes(a);
    case ML_OP_SUM: /* partial sums (ml_cuda_partials) */
    case ML_OP_MEAN:
    case ML_OP_SUM_TO:
    case ML_OP_NLL_LOGSOFTMAX:
    case ML_OP_BCE_LOGITS:
    case ML_OP_SQUARED_ERROR:
    case ML_OP_MISCLASS:
        return ML_CUDA_PARTIALS * sizeof(double);
    default:
        return 0;
    }
}

static ml_status cuda_sync(void)
{
    ML_CUDA_CHECK(cudaStreamSynchronize(g_stream));
    return ML_OK;
}

static void cuda_set_threads(int n)
{
    (void)n; /* no host threads to set */
}

static void table_fill(ml_backend *b)
{
    memset(b, 0, sizeof *b);
    b->device = ML_CUDA;
    b->name = "cuda";
    ml_kernel_fn *k = b->kernel;
    k[ML_OP_CONST] = ml_cuda_const;
    k[ML_OP_MATMUL] = ml_cuda_matmul;
    k[ML_OP_MOMENTUM_MATMUL_STEP] = ml_cuda_momentum_matmul_step;
    k[ML_OP_ADD] = ml_cuda_binary;
    k[ML_OP_SUB] = ml_cuda_binary;
    k[ML_OP_MUL] = ml_cuda_binary;
    k[ML_OP_DIV] = ml_cuda_binary;
    k[ML_OP_AFFINE_SCALAR] = ml_cuda_affine_scalar;
    k[ML_OP_UNARY] = ml_cuda_unary;
    k[ML_OP_UNARY_BACK] = ml_cuda_unary_back;
    k[ML_OP_SOFTMAX] = ml_cuda_softmax;
    k[ML_OP_LOG_SOFTMAX] = ml_cuda_log_softmax;
    k[ML_OP_SOFTMAX_BACK] = ml_cuda_softmax_back;
    k[ML_OP_LOG_SOFTMAX_BACK] = ml_cuda_log_softmax_back;
    k[ML_OP_SUM] = ml_cuda_sum;
    k[ML_OP_MEAN] = ml_cuda_sum;
    k[ML_OP_EXPAND] = ml_cuda_expand;
    k[ML_OP_SUM_TO] = ml_cuda_sum_to;
    k[ML_OP_MAX] = ml_cuda_max;
    k[ML_OP_MAX_BACK] = ml_cuda_max_back;
    k[ML_OP_ARGMAX] = ml_cuda_argmax;
    k[ML_OP_TRANSPOSE] = ml_cuda_transpose;
    k[ML_OP_CONCAT] = ml_cuda_concat;
    k[ML_OP_SLICE] = ml_cuda_slice;
    k[ML_OP_COPY] = ml_cuda_copy;
    k[ML_OP_CLIP] = ml_cuda_clip;
    k[ML_OP_CLIP_BACK] = ml_cuda_clip_back;
    k[ML_OP_DROPOUT] = ml_cuda_dropout;
    k[ML_OP_DROPOUT_BACK] = ml_cuda_dropout_back;
    k[ML_OP_CONV2D] = ml_cuda_conv2d;
    k[ML_OP_CONV2D_BACK_INPUT] = ml_cuda_conv2d_back_input;
    k[ML_OP_CONV2D_BACK_WEIGHT] = ml_cuda_conv2d_back_weight;
    k[ML_OP_POOL] = ml_cuda_pool;
    k[ML_OP_POOL_BACK] = ml_cuda_pool_back;
    k[ML_OP_NLL_LOGSOFTMAX] = ml_cuda_nll_logsoftmax;
    k[ML_OP_NLL_LOGSOFTMAX_BACK] = ml_cuda_nll_logsoftmax_back;
    k[ML_OP_BCE_LOGITS] = ml_cuda_bce_logits;
    k[ML_OP_BCE_LOGITS_BACK] = ml_cuda_bce_logits_back;
    k[ML_OP_SQUARED_ERROR] = ml_cuda_squared_error;
    k[ML_OP_SQUARED_ERROR_BACK] = ml_cuda_squared_error_back;
    k[ML_OP_MISCLASS] = ml_cuda_misclass;
    k[ML_OP_MOMENTUM_STEP] = ml_cuda_momentum_step;
    k[ML_OP_MAX_NORM] = ml_cuda_max_norm;
    k[ML_OP_GATHER_ROWS] = ml_cuda_gather_rows;
    k[ML_OP_NONFINITE_WATCH] = ml_cuda_nonfinite_watch;
    b->workspace_bytes = cuda_workspace_bytes;
    b->sync = cuda_sync;
    b->set_threads = cuda_set_threads;
}

/* Records why the backend cannot start; every later ml_backend_cuda() repeats it. */
static const ml_backend *start_failed(const char *fmt, const char *what)
{
    snprintf(g_failure, sizeof g_failure, fmt, what);
    g_state = -1;
    (void)cudaGetLastError();
    ml_error(ML_EDEVICE, "%s", g_failure);
    return NULL;
}

#define START_CUDA(expr)                                                                        \
    do {                                                                                        \
        cudaError_t e_ = (expr);                                                                \
        if (e_ != cudaSuccess)                                                                  \
            return start_failed("cuda: " #expr ": %s", cudaGetErrorString(e_));                 \
    } while (0)
#define START_CUBLAS(expr)                                                                      \
    do {                                                                                        \
        cublasStatus_t s_ = (expr);                                                             \
        if (s_ != CUBLAS_STATUS_SUCCESS)                                                        \
            return start_failed("cuda: " #expr ": %s", cublasGetStatusString(s_));              \
    } while (0)

extern "C" const ml_backend *ml_backend_cuda(void)
{
    if (g_state == 1)
        return &g_backend;
    if (g_state == -1) {
        ml_error(ML_EDEVICE, "%s", g_failure);
        return NULL;
    }
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess)
        return start_failed("no CUDA device: %s", cudaGetErrorString(e));
    if (count < 1)
        return start_failed("no CUDA device: %s", "the driver reports none");
    START_CUDA(cudaSetDevice(0));
    START_CUDA(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    START_CUBLAS(cublasCreate(&g_cublas));
    START_CUBLAS(cublasSetStream(g_cublas, g_stream));
    START_CUBLAS(cublasSetMathMode(g_cublas, CUBLAS_DEFAULT_MATH));
    START_CUBLAS(cublasSetPointerMode(g_cublas, CUBLAS_POINTER_MODE_HOST));
    START_CUDA(cudaMalloc(&g_cublas_workspace, CUBLAS_WORKSPACE_BYTES));
    START_CUBLAS(cublasSetWorkspace(g_cublas, g_cublas_workspace, CUBLAS_WORKSPACE_BYTES));
    START_CUDA(cudaMalloc((void **)&g_partials, ML_CUDA_PARTIALS * sizeof(double)));
    table_fill(&g_backend);
    ml_device_memory_register(ML_CUDA, &cuda_memory);
    g_state = 1;
    return &g_backend;
}
