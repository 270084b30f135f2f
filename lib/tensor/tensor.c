#include "tensor/tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

static void *cpu_alloc(size_t bytes)
{
    return ml_malloc(bytes);
}

static ml_status cpu_copy_host(void *device_ptr, void *host_ptr, size_t bytes, int to_device)
{
    if (to_device)
        memcpy(device_ptr, host_ptr, bytes);
    else
        memcpy(host_ptr, device_ptr, bytes);
    return ML_OK;
}

static ml_status cpu_copy_same(void *dst, const void *src, size_t bytes)
{
    memmove(dst, src, bytes);
    return ML_OK;
}

static ml_status cpu_fill_zero(void *ptr, size_t bytes)
{
    memset(ptr, 0, bytes);
    return ML_OK;
}

static const ml_device_memory cpu_memory = {.name = "cpu",
                                            .alloc = cpu_alloc,
                                            .free = ml_free,
                                            .copy_host = cpu_copy_host,
                                            .copy_same = cpu_copy_same,
                                            .fill_zero = cpu_fill_zero};

static const ml_device_memory *device_memory[ML_N_DEVICES] = {&cpu_memory, NULL};

void ml_device_memory_register(ml_device device, const ml_device_memory *memory)
{
    device_memory[device] = memory;
}

const ml_device_memory *ml_device_memory_get(ml_device device)
{
    return device_memory[device];
}

const char *ml_device_name(ml_device device)
{
    return device == ML_CUDA ? "cuda" : "cpu";
}

ml_status ml_device_parse(const char *name, ml_device *device)
{
    if (strcmp(name, "cpu") == 0)
        *device = ML_CPU;
    else if (strcmp(name, "cuda") == 0 || strcmp(name, "gpu") == 0)
        *device = ML_CUDA;
    else
        return ml_error(ML_EINVAL, "unknown device '%s' (expected 'cpu' or 'cuda')", name);
    return ML_OK;
}

size_t ml_dtype_size(ml_dtype dtype)
{
    (void)dtype;
    return 4; /* float32 and int32 */
}

const char *ml_dtype_name(ml_dtype dtype)
{
    return dtype == ML_F32 ? "float32" : "int32";
}

int64_t ml_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

int ml_shape_equal(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
    if (ndim_a != ndim_b)
        return 0;
    for (int i = 0; i < ndim_a; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

char *ml_shape_format(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

static ml_tensor *tensor_header(ml_dtype dtype, int ndim, const int64_t *shape, ml_device device)
{
    if (ndim < 0 || ndim > ML_MAX_DIMS) {
        ml_error(ML_ESHAPE, "a tensor has at most %d dimensions, not %d", ML_MAX_DIMS, ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            ml_error(ML_ESHAPE, "negative size %lld in dimension %d", (long long)shape[i], i);
            return NULL;
        }
    }
    ml_tensor *t = ml_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0)
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->device = device;
    return t;
}

/* A zero-filled tensor whose storage comes from alloc and goes back to release. */
static ml_tensor *tensor_allocated(ml_dtype dtype, int ndim, const int64_t *shape, ml_device device,
                                   void *(*alloc)(size_t), void (*release)(void *))
{
    ml_tensor *t = tensor_header(dtype, ndim, shape, device);
    if (!t)
        return NULL;
    ml_storage *s = ml_calloc(1, sizeof *s);
    if (!s) {
        ml_free(t);
        return NULL;
    }
    s->bytes = (size_t)ml_shape_numel(ndim, shape) * ml_dtype_size(dtype);
    s->data = alloc(s->bytes ? s->bytes : 1);
    if (!s->data || device_memory[device]->fill_zero(s->data, s->bytes) != ML_OK) {
        if (s->data)
            release(s->data);
        ml_free(s);
        ml_free(t);
        return NULL;
    }
    s->refcount = 1;
    s->device = device;
    s->release = release;
    t->storage = s;
    return t;
}

ml_tensor *ml_tensor_new(ml_dtype dtype, int ndim, const int64_t *shape, ml_device device)
{
    const ml_device_memory *memory = device_memory[device];
    if (!memory) {
        ml_error(ML_EDEVICE, "device '%s' is not available in this build or on this machine",
                 ml_device_name(device));
        return NULL;
    }
    return tensor_allocated(dtype, ndim, shape, device, memory->alloc, memory->free);
}

ml_tensor *ml_tensor_new_pinned(ml_dtype dtype, int ndim, const int64_t *shape, ml_device for_device)
{
    const ml_device_memory *memory = device_memory[for_device];
    if (!memory || !memory->host_alloc)
        return ml_tensor_new(dtype, ndim, shape, ML_CPU);
    ml_tensor *t = tensor_allocated(dtype, ndim, shape, ML_CPU, memory->host_alloc, memory->host_free);
    if (t)
        return t;
    /* Page-locked memory only speeds the copies up: without it they are staged. */
    ml_error_clear();
    return ml_tensor_new(dtype, ndim, shape, ML_CPU);
}

ml_tensor *ml_tensor_wrap(ml_dtype dtype, int ndim, const int64_t *shape, void *data)
{
    ml_tensor *t = tensor_header(dtype, ndim, shape, ML_CPU);
    if (!t)
        return NULL;
    ml_storage *s = ml_calloc(1, sizeof *s);
    if (!s) {
        ml_free(t);
        return NULL;
    }
    s->data = data;
    s->bytes = (size_t)ml_shape_numel(ndim, shape) * ml_dtype_size(dtype);
    s->refcount = 1;
    s->device = ML_CPU;
    t->storage = s;
    return t;
}

void ml_tensor_free(ml_tensor *t)
{
    if (!t)
        return;
    ml_storage *s = t->storage;
    if (s && --s->refcount == 0) {
        if (s->release)
            s->release(s->data);
        ml_free(s);
    }
    ml_free(t);
}

static ml_tensor *tensor_share(const ml_tensor *t)
{
    ml_tensor *v = ml_malloc(sizeof *v);
    if (!v)
        return NULL;
    *v = *t;
    v->storage->refcount++;
    return v;
}

void ml_tensor_point_rows(ml_tensor *view, const ml_tensor *t, int64_t start, int64_t count)
{
    ML_ASSERT(t->ndim >= 1 && start >= 0 && count >= 0 && start + count <= t->shape[0]);
    int64_t row = ml_shape_numel(t->ndim - 1, t->shape + 1);
    *view = *t;
    view->shape[0] = count;
    view->offset = t->offset + (size_t)(start * row) * ml_dtype_size(t->dtype);
}

ml_tensor *ml_tensor_view_rows(const ml_tensor *t, int64_t start, int64_t count)
{
    if (t->ndim < 1 || start < 0 || count < 0 || start + count > t->shape[0]) {
        ml_error(ML_ESHAPE, "rows [%lld, %lld) are outside a tensor of %lld rows",
                 (long long)start, (long long)(start + count),
                 (long long)(t->ndim ? t->shape[0] : 0));
        return NULL;
    }
    ml_tensor *v = tensor_share(t);
    if (v)
        ml_tensor_point_rows(v, t, start, count);
    return v;
}

ml_tensor *ml_tensor_view_reshape(const ml_tensor *t, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > ML_MAX_DIMS ||
        ml_shape_numel(ndim, shape) != ml_tensor_numel(t)) {
        char a[96], b[96];
        ml_error(ML_ESHAPE, "cannot reshape %s to %s", ml_shape_format(t->ndim, t->shape, a, sizeof a),
                 ml_shape_format(ndim, shape, b, sizeof b));
        return NULL;
    }
    ml_tensor *v = tensor_share(t);
    if (!v)
        return NULL;
    v->ndim = ndim;
    memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
    return v;
}

int64_t ml_tensor_numel(const ml_tensor *t)
{
    return ml_shape_numel(t->ndim, t->shape);
}

size_t ml_tensor_nbytes(const ml_tensor *t)
{
    return (size_t)ml_tensor_numel(t) * ml_dtype_size(t->dtype);
}

void *ml_tensor_data(const ml_tensor *t)
{
    return (char *)t->storage->data + t->offset;
}

float *ml_tensor_f32(const ml_tensor *t)
{
    ML_ASSERT(t->dtype == ML_F32);
    return ml_tensor_data(t);
}

int32_t *ml_tensor_i32(const ml_tensor *t)
{
    ML_ASSERT(t->dtype == ML_I32);
    return ml_tensor_data(t);
}

ml_status ml_tensor_copy(ml_tensor *dst, const ml_tensor *src)
{
    if (dst->dtype != src->dtype || ml_tensor_numel(dst) != ml_tensor_numel(src)) {
        char a[96], b[96];
        return ml_error(ML_ESHAPE, "cannot copy %s %s into %s %s", ml_dtype_name(src->dtype),
                        ml_shape_format(src->ndim, src->shape, a, sizeof a),
                        ml_dtype_name(dst->dtype), ml_shape_format(dst->ndim, dst->shape, b, sizeof b));
    }
    size_t bytes = ml_tensor_nbytes(src);
    void *d = ml_tensor_data(dst), *s = ml_tensor_data(src);
    if (dst->device == src->device)
        return device_memory[dst->device]->copy_same(d, s, bytes);
    if (src->device == ML_CPU)
        return device_memory[dst->device]->copy_host(d, s, bytes, 1);
    if (dst->device == ML_CPU)
        return device_memory[src->device]->copy_host(s, d, bytes, 0);
    return ml_error(ML_EDEVICE, "no copy between devices '%s' and '%s'", ml_device_name(src->device),
                    ml_device_name(dst->device));
}

struct ml_uploader {
    const ml_device_memory *memory;
    void *queue; /* the device's; NULL: copies are made at once */
};

ml_status ml_uploader_new(ml_device device, ml_uploader **out)
{
    *out = NULL;
    const ml_device_memory *memory = device_memory[device];
    if (!memory)
        return ml_error(ML_EDEVICE, "device '%s' is not available in this build or on this machine",
                        ml_device_name(device));
    ml_uploader *u = ml_calloc(1, sizeof *u);
    if (!u)
        return ML_ENOMEM;
    u->memory = memory;
    if (memory->uploader_new && !(u->queue = memory->uploader_new())) {
        ml_free(u);
        return ML_EDEVICE; /* the device said why */
    }
    *out = u;
    return ML_OK;
}

void ml_uploader_free(ml_uploader *u)
{
    if (!u)
        return;
    if (u->queue)
        u->memory->uploader_free(u->queue);
    ml_free(u);
}

#define UPLOAD_MAX_TENSORS 4

ml_status ml_uploader_send(ml_uploader *u, int buffer, int n, ml_tensor *const *dst, const ml_tensor *const *src)
{
    if (n > UPLOAD_MAX_TENSORS || (buffer != 0 && buffer != 1))
        return ml_error(ML_EINVAL, "ml_uploader_send: %d tensors into buffer %d (at most %d, into 0 or 1)", n,
                        buffer, UPLOAD_MAX_TENSORS);
    void *to[UPLOAD_MAX_TENSORS];
    const void *from[UPLOAD_MAX_TENSORS];
    size_t bytes[UPLOAD_MAX_TENSORS];
    for (int i = 0; i < n; i++) {
        if (src[i]->device != ML_CPU || u->memory != device_memory[dst[i]->device] || dst[i]->dtype != src[i]->dtype ||
            ml_tensor_numel(dst[i]) != ml_tensor_numel(src[i]))
            return ml_error(ML_EINVAL, "ml_uploader_send: tensor %d is not a host tensor the size of its destination", i);
        if (!u->queue)
            ML_TRY(ml_tensor_copy(dst[i], src[i]));
        to[i] = ml_tensor_data(dst[i]);
        from[i] = ml_tensor_data(src[i]);
        bytes[i] = ml_tensor_nbytes(src[i]);
    }
    return u->queue ? u->memory->uploader_send(u->queue, buffer, n, to, from, bytes) : ML_OK;
}

ml_status ml_uploader_wait_host(ml_uploader *u, int buffer)
{
    return u->queue ? u->memory->uploader_wait_host(u->queue, buffer) : ML_OK;
}

ml_tensor *ml_tensor_to(const ml_tensor *t, ml_device device)
{
    ml_tensor *c = ml_tensor_new(t->dtype, t->ndim, t->shape, device);
    if (c && ml_tensor_copy(c, t) != ML_OK) {
        ml_tensor_free(c);
        return NULL;
    }
    return c;
}

ml_status ml_tensor_zero(ml_tensor *t)
{
    return device_memory[t->device]->fill_zero(ml_tensor_data(t), ml_tensor_nbytes(t));
}

void ml_tensor_fill(ml_tensor *t, float value)
{
    ML_ASSERT(t->device == ML_CPU);
    float *p = ml_tensor_f32(t);
    int64_t n = ml_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        p[i] = value;
}

ml_status ml_tensor_read_f32(const ml_tensor *t, int64_t i, float *value)
{
    ML_ASSERT(t->dtype == ML_F32 && i >= 0 && i < ml_tensor_numel(t));
    float *p = (float *)ml_tensor_data(t) + i;
    if (t->device == ML_CPU) {
        *value = *p;
        return ML_OK;
    }
    return device_memory[t->device]->copy_host(p, value, sizeof *value, 0);
}
