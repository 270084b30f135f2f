/* A backend: one table of kernels for one device.  The CPU backend is always
 * present; the CUDA backend registers itself when built and a GPU is found. */
#ifndef ML_BACKEND_BACKEND_H
#define ML_BACKEND_BACKEND_H

#include "backend/ops.h"

typedef struct {
    ml_device device;
    const char *name;
    ml_kernel_fn kernel[ML_OP_COUNT];
    /* Scratch a kernel needs for this call's shapes (the largest batch is passed). */
    size_t (*workspace_bytes)(const ml_kernel_args *a);
    /* Waits for queued work (a no-op on the CPU). */
    ml_status (*sync)(void);
    /* Threads for matrix products; 0 = the library's default. */
    void (*set_threads)(int n);
} ml_backend;

/* The backend of a device, starting it on first use; NULL with the error set if absent. */
const ml_backend *ml_backend_get(ml_device device);

/* Threads for the CPU backend (OpenBLAS's pool; nothing else spawns threads).
 * n <= 0 takes ML_THREADS from the environment, else OpenBLAS's default. */
void ml_set_threads(int n);
int ml_get_threads(void);

const ml_backend *ml_backend_cpu(void);

/* out[i] = x[index[i]] for the rows of tensors on one device (GATHER_ROWS). */
ml_status ml_gather_rows(ml_tensor *out, const ml_tensor *x, const ml_tensor *index);
#ifdef ML_WITH_CUDA
const ml_backend *ml_backend_cuda(void); /* NULL with the error set if no GPU */
/* cudaMalloc calls the CUDA backend has made (tests check that calls allocate nothing). */
uint64_t ml_cuda_alloc_count(void);
#endif

#endif
