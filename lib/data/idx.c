#include "data/idx.h"

#include "core/alloc.h"
#include "data/gzin.h"

#define IDX_UBYTE 0x08
#define GROW_FROM ((size_t)1 << 30) /* payloads read in one piece up to this size */

/* Reads the header of an unsigned-byte IDX file of `ndim` dimensions. */
static ml_status idx_header(ml_gzin *f, int ndim, const char *what, int64_t *dims)
{
    unsigned char magic[4], raw[16];
    size_t got = 0;
    ML_TRY(ml_gzin_read(f, magic, 4, &got));
    if (got == 0)
        return ml_error(ML_EFORMAT, "%s: not an IDX file (empty)", f->name);
    if (got < 4)
        return ml_error(ML_EFORMAT, "%s: not an IDX file (%zu bytes)", f->name, got);
    uint32_t m =
        (uint32_t)magic[0] << 24 | (uint32_t)magic[1] << 16 | (uint32_t)magic[2] << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0 || magic[3] == 0 || magic[3] > 4)
        return ml_error(ML_EFORMAT, "%s: not an IDX file (bad magic 0x%08x, expected 0x%08x)",
                        f->name, m, (unsigned)(IDX_UBYTE << 8 | ndim));
    if (magic[2] != IDX_UBYTE)
        return ml_error(ML_EFORMAT,
                        "%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)",
                        f->name, magic[2]);
    if (magic[3] != ndim)
        return ml_error(ML_EFORMAT,
                        "%s: expected IDX %s of %d dimension%s, found %d (magic 0x%08x)", f->name,
                        what, ndim, ndim == 1 ? "" : "s", magic[3], m);
    ML_TRY(ml_gzin_read(f, raw, (size_t)ndim * 4, &got));
    if (got < (size_t)ndim * 4)
        return ml_error(ML_EFORMAT, "%s: truncated: expected %d bytes of header, found %zu",
                        f->name, 4 + ndim * 4, 4 + got);
    for (int i = 0; i < ndim; i++)
        dims[i] = (int64_t)((uint32_t)raw[4 * i] << 24 | (uint32_t)raw[4 * i + 1] << 16 |
                            (uint32_t)raw[4 * i + 2] << 8 | raw[4 * i + 3]);
    return ML_OK;
}

/* Reads the n payload bytes into a new ml_malloc'ed buffer. */
static ml_status idx_payload(ml_gzin *f, size_t n, const char *what, unsigned char **out)
{
    *out = NULL;
    /* Up to GROW_FROM bytes: one buffer and one read.  Beyond, the buffer grows
     * with the data, so a damaged header that announces terabytes gives
     * "truncated", not "out of memory". */
    size_t cap = n <= GROW_FROM ? n : GROW_FROM;
    unsigned char *buf = ml_malloc(cap ? cap : 1);
    if (!buf)
        return ML_ENOMEM;
    size_t got = 0;
    ml_status s = ML_OK;
    for (;;) {
        size_t step = 0;
        s = ml_gzin_read(f, buf + got, cap - got, &step);
        got += step;
        if (s != ML_OK || got < cap || cap == n)
            break;
        size_t next = cap > n / 2 ? n : 2 * cap;
        unsigned char *grown = ml_realloc(buf, next);
        if (!grown) {
            s = ML_ENOMEM;
            break;
        }
        buf = grown;
        cap = next;
    }
    if (s == ML_OK && got < n)
        s = ml_error(ML_EFORMAT, "%s: truncated: expected %zu bytes of %s, found %zu", f->name, n,
                     what, got);
    if (s != ML_OK) {
        ml_free(buf);
        return s;
    }
    *out = buf;
    return ML_OK;
}

/* A tight loop the compiler vectorizes; the division is exact, as x / 255 in float32. */
static void pixels_to_float(float *restrict out, const unsigned char *restrict in, size_t n,
                            int raw)
{
    if (raw) {
        for (size_t i = 0; i < n; i++)
            out[i] = (float)in[i];
    } else {
        for (size_t i = 0; i < n; i++)
            out[i] = (float)in[i] / 255.0f;
    }
}

ml_status ml_idx_read_images(const char *path, const ml_idx_opts *opts, ml_tensor **images,
                             int64_t image_shape[3])
{
    *images = NULL;
    ml_gzin f;
    ML_TRY(ml_gzin_open(path, 1 << 20, &f));
    int64_t dims[3];
    unsigned char *bytes = NULL;
    ml_tensor *x = NULL;
    ml_status s = idx_header(&f, 3, "images", dims);
    if (s != ML_OK)
        goto done;
    int64_t n = dims[0], pixels = 0, total = 0;
    if (__builtin_mul_overflow(dims[1], dims[2], &pixels) ||
        __builtin_mul_overflow(n, pixels, &total) || total > (INT64_MAX >> 3)) {
        s = ml_error(ML_EFORMAT,
                     "%s: the header announces %lld images of %lld x %lld pixels, too many", f.name,
                     (long long)n, (long long)dims[1], (long long)dims[2]);
        goto done;
    }
    if (pixels == 0) {
        s = ml_error(ML_EFORMAT, "%s: images of %lld x %lld pixels", f.name, (long long)dims[1],
                     (long long)dims[2]);
        goto done;
    }
    s = idx_payload(&f, (size_t)(n * pixels), "pixels", &bytes);
    if (s != ML_OK)
        goto done;
    x = ml_tensor_new(ML_F32, 2, (int64_t[]){n, pixels}, ML_CPU);
    if (!x) {
        s = ML_ENOMEM;
        goto done;
    }
    pixels_to_float(ml_tensor_f32(x), bytes, (size_t)(n * pixels), opts && opts->raw_pixels);
    image_shape[0] = 1;
    image_shape[1] = dims[1];
    image_shape[2] = dims[2];
    *images = x;
    x = NULL;
done:
    ml_free(bytes);
    ml_tensor_free(x);
    ml_gzin_close(&f);
    return s;
}

ml_status ml_idx_read_labels(const char *path, ml_tensor **labels, int *max_label)
{
    *labels = NULL;
    ml_gzin f;
    ML_TRY(ml_gzin_open(path, 1 << 20, &f));
    int64_t n = 0;
    unsigned char *bytes = NULL;
    ml_status s = idx_header(&f, 1, "labels", &n);
    if (s == ML_OK)
        s = idx_payload(&f, (size_t)n, "labels", &bytes);
    ml_tensor *y = NULL;
    if (s == ML_OK && !(y = ml_tensor_new(ML_I32, 1, &n, ML_CPU)))
        s = ML_ENOMEM;
    if (s == ML_OK) {
        int32_t *out = ml_tensor_i32(y);
        int max = -1;
        for (int64_t i = 0; i < n; i++) {
            out[i] = bytes[i];
            if (bytes[i] > max)
                max = bytes[i];
        }
        if (max_label)
            *max_label = max;
        *labels = y;
    }
    ml_free(bytes);
    ml_gzin_close(&f);
    return s;
}

ml_status ml_idx_import(const char *images, const char *labels, const ml_idx_opts *opts,
                        ml_dataset **out)
{
    *out = NULL;
    ml_dataset *ds = ml_dataset_new(ml_gzin_display(images));
    if (!ds)
        return ML_ENOMEM;
    ml_status s = ml_idx_read_images(images, opts, &ds->X, ds->image_shape);
    if (s == ML_OK && labels) {
        int max = -1;
        s = ml_idx_read_labels(labels, &ds->y, &max);
        if (s == ML_OK && ds->y->shape[0] != ds->X->shape[0])
            s = ml_error(ML_EFORMAT, "%s has %lld labels, %s has %lld images",
                         ml_gzin_display(labels), (long long)ds->y->shape[0],
                         ml_gzin_display(images), (long long)ds->X->shape[0]);
        ds->n_classes = max + 1;
    }
    if (s != ML_OK) {
        ml_dataset_free(ds);
        return s;
    }
    *out = ds;
    return ML_OK;
}
