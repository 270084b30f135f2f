/* ml_tensor: an n-dimensional array of float32 or int32 owned by a device.
 *
 * Shapes are row-major, OUTERMOST FIRST, as in NumPy, h5py and HDF5 dataspaces:
 * a batch of images is shape {N, C, H, W} and element (n, c, h, w) sits at
 * ((n*C + c)*H + h)*W + w.  Tensors are always contiguous.  Storage is
 * reference-counted: a view along the first (batch) axis shares it without
 * copying, and the storage lives until its last tensor is freed. */
#ifndef ML_TENSOR_TENSOR_H
#define ML_TENSOR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define ML_MAX_DIMS 6

typedef enum { ML_F32 = 0, ML_I32 = 1 } ml_dtype;
typedef enum { ML_CPU = 0, ML_CUDA = 1, ML_N_DEVICES } ml_device;

/* How a device allocates and copies memory.  The CPU's is built in; the CUDA
 * backend registers its own when it starts, so this layer needs no CUDA. */
typedef struct {
    const char *name;
    void *(*alloc)(size_t bytes);   /* NULL with the error set on failure */
    void (*free)(void *ptr);
    /* Copies bytes between this device and the host (to_device selects the direction). */
    ml_status (*copy_host)(void *device_ptr, void *host_ptr, size_t bytes, int to_device);
    ml_status (*copy_same)(void *dst, const void *src, size_t bytes);
    ml_status (*fill_zero)(void *ptr, size_t bytes);
    /* Page-locked host memory, which the device copies from without staging, so
     * the host goes on while the copy runs.  NULL: the device has none. */
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *ptr);
    /* A copy queue beside the kernels, for ml_uploader below.  NULL: the
     * device has none, and an uploader copies at once. */
    void *(*uploader_new)(void);
    void (*uploader_free)(void *queue);
    ml_status (*uploader_send)(void *queue, int buffer, int n, void *const *device_ptrs, const void *const *host_ptrs,
                               const size_t *bytes);
    ml_status (*uploader_wait_host)(void *queue, int buffer);
} ml_device_memory;

void ml_device_memory_register(ml_device device, const ml_device_memory *memory);
const ml_device_memory *ml_device_memory_get(ml_device device); /* NULL if absent */
const char *ml_device_name(ml_device device);
ml_status ml_device_parse(const char *name, ml_device *device);

typedef struct {
    void *data;
    size_t bytes;
    int refcount;
    ml_device device;
    /* Frees data: the device's free, a device's host_free for page-locked
     * memory (ml_tensor_new_pinned), NULL when data belongs to the caller (ml_tensor_wrap). */
    void (*release)(void *ptr);
} ml_storage;

typedef struct {
    ml_dtype dtype;
    int ndim;
    int64_t shape[ML_MAX_DIMS];
    ml_device device;
    ml_storage *storage;
    size_t offset; /* bytes from storage->data to element 0 */
} ml_tensor;

size_t ml_dtype_size(ml_dtype dtype);
const char *ml_dtype_name(ml_dtype dtype);

/* A zero-filled tensor. NULL with the error set if the device has no memory. */
ml_tensor *ml_tensor_new(ml_dtype dtype, int ndim, const int64_t *shape, ml_device device);
/* A zero-filled CPU tensor in memory page-locked by `for_device` (plain host
 * memory when that device has none or can give no more): what that device
 * uploads from while its kernels run. */
ml_tensor *ml_tensor_new_pinned(ml_dtype dtype, int ndim, const int64_t *shape, ml_device for_device);
/* A CPU tensor over memory the caller keeps alive and frees. */
ml_tensor *ml_tensor_wrap(ml_dtype dtype, int ndim, const int64_t *shape, void *data);
void ml_tensor_free(ml_tensor *t);

/* Rows [start, start+count) along the first axis, sharing storage. */
ml_tensor *ml_tensor_view_rows(const ml_tensor *t, int64_t start, int64_t count);
/* The same storage seen with another shape of equal element count. */
ml_tensor *ml_tensor_view_reshape(const ml_tensor *t, int ndim, const int64_t *shape);
/* Points an existing tensor struct at rows of another, without allocating (for per-batch loops). */
void ml_tensor_point_rows(ml_tensor *view, const ml_tensor *t, int64_t start, int64_t count);

int64_t ml_tensor_numel(const ml_tensor *t);
size_t ml_tensor_nbytes(const ml_tensor *t);
void *ml_tensor_data(const ml_tensor *t);
float *ml_tensor_f32(const ml_tensor *t);   /* asserts dtype F32 */
int32_t *ml_tensor_i32(const ml_tensor *t); /* asserts dtype I32 */
int64_t ml_shape_numel(int ndim, const int64_t *shape);
int ml_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b);
/* "[100, 784]" into buf; returns buf. */
char *ml_shape_format(int ndim, const int64_t *shape, char *buf, size_t size);

/* Copies contents (same dtype and element count; any devices). */
ml_status ml_tensor_copy(ml_tensor *dst, const ml_tensor *src);

/* Batches sent to a device while its kernels run (a streamed dataset on a
 * GPU), through two device buffers used in turn.  The copies into buffer b wait
 * only for the kernels queued before the previous send (those that read b, two
 * batches ago), and the kernels queued after the send wait for the copies: the
 * next batch is copied while the current step computes, and the host never
 * waits for the device.  The host tensors must stay as they are until
 * ml_uploader_wait_host for their buffer; page-locked ones (ml_tensor_new_pinned)
 * are copied without staging.  On a device without a copy queue (the CPU) a
 * send is a plain copy. */
typedef struct ml_uploader ml_uploader;
ml_status ml_uploader_new(ml_device device, ml_uploader **out);
/* Waits for the copies under way. */
void ml_uploader_free(ml_uploader *u);
/* dst[i] (on the device, in buffer `buffer`: 0 or 1) gets src[i] (host). */
ml_status ml_uploader_send(ml_uploader *u, int buffer, int n, ml_tensor *const *dst, const ml_tensor *const *src);
/* Returns once the host tensors of buffer's latest send may be changed. */
ml_status ml_uploader_wait_host(ml_uploader *u, int buffer);
/* A new tensor with the same contents on `device`. */
ml_tensor *ml_tensor_to(const ml_tensor *t, ml_device device);
ml_status ml_tensor_zero(ml_tensor *t);
/* Element i of a float32 tensor on any device (a copy to the host for a device). */
ml_status ml_tensor_read_f32(const ml_tensor *t, int64_t i, float *value);
/* CPU only: sets every element (F32). */
void ml_tensor_fill(ml_tensor *t, float value);

#endif
