/* The CPU backend's kernels (one per op of backend/ops.h) and helpers they share.
 *
 * Every kernel takes the op's ml_kernel_args, never allocates and never prints;
 * elementwise loops are single-threaded (OpenBLAS owns the threads) and written
 * as plain loops over restrict pointers for gcc's vectoriser. */
#ifndef ML_BACKEND_CPU_KERNELS_H
#define ML_BACKEND_CPU_KERNELS_H

#include <stdint.h>

#include "backend/ops.h"
#include "backend/plan.h"

/* cpu_backend.c */
ml_status ml_cpu_matmul(const ml_kernel_args *a);
ml_status ml_cpu_const(const ml_kernel_args *a);

/* cpu_elementwise.c */
ml_status ml_cpu_binary(const ml_kernel_args *a); /* ADD, SUB, MUL, DIV */
ml_status ml_cpu_affine_scalar(const ml_kernel_args *a);
ml_status ml_cpu_unary(const ml_kernel_args *a);
ml_status ml_cpu_unary_back(const ml_kernel_args *a);
ml_status ml_cpu_clip(const ml_kernel_args *a);
ml_status ml_cpu_clip_back(const ml_kernel_args *a);
ml_status ml_cpu_dropout(const ml_kernel_args *a);
ml_status ml_cpu_dropout_back(const ml_kernel_args *a);

/* cpu_reduce.c */
ml_status ml_cpu_softmax(const ml_kernel_args *a);
ml_status ml_cpu_log_softmax(const ml_kernel_args *a);
ml_status ml_cpu_softmax_back(const ml_kernel_args *a);
ml_status ml_cpu_log_softmax_back(const ml_kernel_args *a);
ml_status ml_cpu_sum(const ml_kernel_args *a); /* SUM and MEAN */
ml_status ml_cpu_expand(const ml_kernel_args *a);
ml_status ml_cpu_sum_to(const ml_kernel_args *a);
ml_status ml_cpu_max(const ml_kernel_args *a);
ml_status ml_cpu_max_back(const ml_kernel_args *a);
ml_status ml_cpu_argmax(const ml_kernel_args *a);

/* cpu_layout.c */
ml_status ml_cpu_transpose(const ml_kernel_args *a);
ml_status ml_cpu_concat(const ml_kernel_args *a);
ml_status ml_cpu_slice(const ml_kernel_args *a);
ml_status ml_cpu_copy(const ml_kernel_args *a);
ml_status ml_cpu_gather_rows(const ml_kernel_args *a);

/* cpu_loss.c */
ml_status ml_cpu_nll_logsoftmax(const ml_kernel_args *a);
ml_status ml_cpu_nll_logsoftmax_back(const ml_kernel_args *a);
ml_status ml_cpu_bce_logits(const ml_kernel_args *a);
ml_status ml_cpu_bce_logits_back(const ml_kernel_args *a);
ml_status ml_cpu_squared_error(const ml_kernel_args *a);
ml_status ml_cpu_squared_error_back(const ml_kernel_args *a);
ml_status ml_cpu_misclass(const ml_kernel_args *a);

/* cpu_optim.c */
ml_status ml_cpu_momentum_step(const ml_kernel_args *a);
ml_status ml_cpu_momentum_matmul_step(const ml_kernel_args *a);
ml_status ml_cpu_max_norm(const ml_kernel_args *a);
ml_status ml_cpu_nonfinite_watch(const ml_kernel_args *a);

/* ---- helpers (cpu_reduce.c) ---- */

/* Sum of n floats: eight lanes (vectorised), blocks folded into a double. */
double ml_cpu_sum_f32(const float *x, int64_t n);

/* ML_ESHAPE naming the op and its output and first inputs' shapes. */
static inline ml_status ml_cpu_shape_error(const ml_kernel_args *a, const char *why)
{
    return ml_plan_shape_error("cpu", a, why);
}

#endif
