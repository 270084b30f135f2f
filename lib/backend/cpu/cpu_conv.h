/* CPU kernels for 2-D convolution and pooling (im2col + OpenBLAS sgemm).
 * Semantics are those of ML_OP_CONV2D, ML_OP_CONV2D_BACK_INPUT,
 * ML_OP_CONV2D_BACK_WEIGHT, ML_OP_POOL and ML_OP_POOL_BACK in backend/ops.h. */
#ifndef ML_BACKEND_CPU_CPU_CONV_H
#define ML_BACKEND_CPU_CPU_CONV_H

#include <stddef.h>

#include "backend/ops.h"

ml_status ml_cpu_conv2d(const ml_kernel_args *a);
ml_status ml_cpu_conv2d_back_input(const ml_kernel_args *a);
ml_status ml_cpu_conv2d_back_weight(const ml_kernel_args *a);
ml_status ml_cpu_pool(const ml_kernel_args *a);
ml_status ml_cpu_pool_back(const ml_kernel_args *a);

/* Scratch bytes the three convolution kernels need for these shapes (0 for any
 * other op).  Kernels given less fall back to smaller chunks of the batch. */
size_t ml_cpu_conv_workspace_bytes(const ml_kernel_args *a);

#endif
