#include "backend/backend.h"

#include <cblas.h>
#include <stdlib.h>

/* OpenBLAS's own thread count before this library first changed it: what
 * "the default" restores.  -1 until captured. */
static int openblas_default_threads = -1;
static int threads_configured; /* ml_set_threads has run (explicitly or at start) */

void ml_set_threads(int n)
{
    if (openblas_default_threads < 0)
        openblas_default_threads = openblas_get_num_threads();
    if (n <= 0) {
        const char *env = getenv("ML_THREADS");
        if (env && *env) {
            char *end;
            long v = strtol(env, &end, 10);
            if (*end == '\0' && v > 0 && v <= 4096)
                n = (int)v;
        }
    }
    if (n <= 0)
        n = openblas_default_threads;
    threads_configured = 1;
    openblas_set_num_threads(n);
}

int ml_get_threads(void)
{
    return openblas_get_num_threads();
}

const ml_backend *ml_backend_get(ml_device device)
{
    switch (device) {
    case ML_CPU:
        /* Starting the CPU backend applies ML_THREADS unless a thread count was set. */
        if (!threads_configured)
            ml_set_threads(0);
        return ml_backend_cpu();
    case ML_CUDA:
#ifdef ML_WITH_CUDA
        return ml_backend_cuda();
#else
        ml_error(ML_EDEVICE, "device 'cuda' is not available: libml was built without CUDA");
        return NULL;
#endif
    default:
        break;
    }
    ml_error(ML_EINVAL, "unknown device %d", (int)device);
    return NULL;
}

ml_status ml_gather_rows(ml_tensor *out, const ml_tensor *x, const ml_tensor *index)
{
    if (x->device != out->device || index->device != out->device)
        return ml_error(ML_EDEVICE, "gather_rows: the rows, the indices and the output are not on one device");
    const ml_backend *b = ml_backend_get(out->device);
    if (!b)
        return ML_EDEVICE;
    ml_kernel_args a = {.op = ML_OP_GATHER_ROWS, .n_in = 2};
    a.out = *out;
    a.in[0] = *x;
    a.in[1] = *index;
    return b->kernel[ML_OP_GATHER_ROWS](&a);
}
