/* The CPU backend: its kernel table, matrix products through OpenBLAS. */
#include <cblas.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu_conv.h"
#include "backend/cpu/cpu_kernels.h"

/* C = alpha op(A) op(B) + beta C for 2-D row-major A, B and C; transposes by
 * BLAS flags, so the leading dimensions are those of the stored matrices. */
static ml_status gemm_into(const ml_kernel_args *a, const ml_tensor *A, const ml_tensor *B, const ml_tensor *Ct,
                           int ta, int tb, float alpha, float beta)
{
    int64_t M, N, K;
    const char *why = ml_gemm_plan(A, B, Ct, ta, tb, &M, &N, &K);
    if (why)
        return ml_cpu_shape_error(a, why);
    float *C = ml_tensor_f32(Ct);
    if (M == 0 || N == 0)
        return ML_OK;
    if (K == 0) {
        for (int64_t i = 0; i < M * N; i++)
            C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return ML_OK;
    }
    int lda = (int)A->shape[1], ldb = (int)B->shape[1];
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, ml_tensor_f32(A), lda > 0 ? lda : 1,
                ml_tensor_f32(B), ldb > 0 ? ldb : 1, beta, C, (int)N);
    return ML_OK;
}

ml_status ml_cpu_matmul(const ml_kernel_args *a)
{
    if (a->n_in != 2)
        return ml_cpu_shape_error(a, "operands must be matrices");
    return gemm_into(a, &a->in[0], &a->in[1], &a->out, a->p.ip[0] != 0, a->p.ip[1] != 0, 1.0f, 0.0f);
}

/* The gradient's GEMM accumulates straight into the velocity (beta = momentum),
 * saving a pass that writes the gradient and one that reads it back. */
ml_status ml_cpu_momentum_matmul_step(const ml_kernel_args *a)
{
    if (a->n_in != 6)
        return ml_cpu_shape_error(a, "needs param, velocity, A, B, lr and momentum");
    const ml_tensor *P = &a->in[0], *V = &a->in[1];
    if (ml_tensor_numel(P) != ml_tensor_numel(V))
        return ml_cpu_shape_error(a, "param and velocity sizes differ");
    float lr = a->scalar[0] * a->p.fp[0], mu = a->scalar[1];
    ML_TRY(gemm_into(a, &a->in[2], &a->in[3], V, a->p.ip[0] != 0, a->p.ip[1] != 0, -lr, mu));
    float *restrict p = ml_tensor_f32(P);
    const float *restrict v = ml_tensor_f32(V);
    int64_t n = ml_tensor_numel(P);
    for (int64_t i = 0; i < n; i++)
        p[i] += v[i];
    return ML_OK;
}

/* CONST is a leaf, but materialising it is a kernel like any other. */
ml_status ml_cpu_const(const ml_kernel_args *a)
{
    float *restrict o = ml_tensor_f32(&a->out);
    int64_t n = ml_tensor_numel(&a->out);
    float v = a->p.fp[0];
    for (int64_t i = 0; i < n; i++)
        o[i] = v;
    return ML_OK;
}

static size_t cpu_workspace_bytes(const ml_kernel_args *a)
{
    switch (a->op) {
    case ML_OP_CONV2D:
    case ML_OP_CONV2D_BACK_INPUT:
    case ML_OP_CONV2D_BACK_WEIGHT:
    case ML_OP_POOL:
    case ML_OP_POOL_BACK:
        return ml_cpu_conv_workspace_bytes(a);
    case ML_OP_MAX_NORM: /* one norm per column */
        return a->in[0].ndim == 2 ? (size_t)a->in[0].shape[1] * sizeof(float) : 0;
    default:
        return 0;
    }
}

static ml_status cpu_sync(void)
{
    return ML_OK;
}

static void cpu_set_threads(int n)
{
    ml_set_threads(n);
}

static const ml_backend cpu_backend = {
    .device = ML_CPU,
    .name = "cpu",
    .kernel =
        {
            [ML_OP_CONST] = ml_cpu_const,
            [ML_OP_MATMUL] = ml_cpu_matmul,
            [ML_OP_ADD] = ml_cpu_binary,
            [ML_OP_SUB] = ml_cpu_binary,
            [ML_OP_MUL] = ml_cpu_binary,
            [ML_OP_DIV] = ml_cpu_binary,
            [ML_OP_AFFINE_SCALAR] = ml_cpu_affine_scalar,
            [ML_OP_UNARY] = ml_cpu_unary,
            [ML_OP_UNARY_BACK] = ml_cpu_unary_back,
            [ML_OP_SOFTMAX] = ml_cpu_softmax,
            [ML_OP_LOG_SOFTMAX] = ml_cpu_log_softmax,
            [ML_OP_SOFTMAX_BACK] = ml_cpu_softmax_back,
            [ML_OP_LOG_SOFTMAX_BACK] = ml_cpu_log_softmax_back,
            [ML_OP_SUM] = ml_cpu_sum,
            [ML_OP_MEAN] = ml_cpu_sum,
            [ML_OP_EXPAND] = ml_cpu_expand,
            [ML_OP_SUM_TO] = ml_cpu_sum_to,
            [ML_OP_MAX] = ml_cpu_max,
            [ML_OP_MAX_BACK] = ml_cpu_max_back,
            [ML_OP_ARGMAX] = ml_cpu_argmax,
            [ML_OP_TRANSPOSE] = ml_cpu_transpose,
            [ML_OP_CONCAT] = ml_cpu_concat,
            [ML_OP_SLICE] = ml_cpu_slice,
            [ML_OP_COPY] = ml_cpu_copy,
            [ML_OP_CLIP] = ml_cpu_clip,
            [ML_OP_CLIP_BACK] = ml_cpu_clip_back,
            [ML_OP_DROPOUT] = ml_cpu_dropout,
            [ML_OP_DROPOUT_BACK] = ml_cpu_dropout_back,
            [ML_OP_CONV2D] = ml_cpu_conv2d,
            [ML_OP_CONV2D_BACK_INPUT] = ml_cpu_conv2d_back_input,
            [ML_OP_CONV2D_BACK_WEIGHT] = ml_cpu_conv2d_back_weight,
            [ML_OP_POOL] = ml_cpu_pool,
            [ML_OP_POOL_BACK] = ml_cpu_pool_back,
            [ML_OP_NLL_LOGSOFTMAX] = ml_cpu_nll_logsoftmax,
            [ML_OP_NLL_LOGSOFTMAX_BACK] = ml_cpu_nll_logsoftmax_back,
            [ML_OP_BCE_LOGITS] = ml_cpu_bce_logits,
            [ML_OP_BCE_LOGITS_BACK] = ml_cpu_bce_logits_back,
            [ML_OP_SQUARED_ERROR] = ml_cpu_squared_error,
            [ML_OP_SQUARED_ERROR_BACK] = ml_cpu_squared_error_back,
            [ML_OP_MISCLASS] = ml_cpu_misclass,
            [ML_OP_MOMENTUM_STEP] = ml_cpu_momentum_step,
            [ML_OP_MOMENTUM_MATMUL_STEP] = ml_cpu_momentum_matmul_step,
            [ML_OP_MAX_NORM] = ml_cpu_max_norm,
            [ML_OP_GATHER_ROWS] = ml_cpu_gather_rows,
            [ML_OP_NONFINITE_WATCH] = ml_cpu_nonfinite_watch,
        },
    .workspace_bytes = cpu_workspace_bytes,
    .sync = cpu_sync,
    .set_threads = cpu_set_threads,
};

const ml_backend *ml_backend_cpu(void)
{
    return &cpu_backend;
}
