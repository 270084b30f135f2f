#include "data/npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "data/gzin.h"

/* The value text after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    for (int q = 0; q < 2; q++) {
        snprintf(pat, sizeof pat, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(h, pat);
        if (p) {
            p += strlen(pat);
            while (*p == ' ')
                p++;
            if (*p != ':')
                return NULL;
            p++;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

typedef enum { NPY_U1, NPY_I4, NPY_I8, NPY_F4, NPY_F8 } npy_type;

static ml_status parse_header(const char *name, const char *h, npy_type *type, int *ndim,
                              int64_t *shape)
{
    const char *d = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"),
               *sh = dict_value(h, "shape");
    if (!d || !fo || !sh || (*d != '\'' && *d != '"') || *sh != '(')
        return ml_error(ML_EFORMAT, "%s: damaged .npy header", name);
    char descr[32];
    size_t k = 0;
    char quote = *d++;
    while (*d && *d != quote && k + 1 < sizeof descr)
        descr[k++] = *d++;
    descr[k] = '\0';
    if (*d != quote)
        return ml_error(ML_EFORMAT, "%s: dtype '%.20s...' is not supported (uint8, int32, int64, "
                                    "float32, float64)",
                        name, descr);
    if (strncmp(fo, "True", 4) == 0)
        return ml_error(ML_EFORMAT, "%s: Fortran-order arrays are not supported", name);
    if (strncmp(fo, "False", 5) != 0)
        return ml_error(ML_EFORMAT, "%s: damaged .npy header (fortran_order)", name);
    static const struct {
        const char *descr;
        npy_type type;
    } types[] = {{"|u1", NPY_U1}, {"<u1", NPY_U1}, {"u1", NPY_U1},  {"<i4", NPY_I4},
                 {"<i8", NPY_I8}, {"<f4", NPY_F4}, {"<f8", NPY_F8}};
    int found = 0;
    for (size_t i = 0; i < sizeof types / sizeof *types && !found; i++)
        if (strcmp(descr, types[i].descr) == 0) {
            *type = types[i].type;
            found = 1;
        }
    if (!found)
        return ml_error(ML_EFORMAT,
                        "%s: dtype '%s' is not supported (uint8, int32, int64, float32, float64; "
                        "little-endian)",
                        name, descr);
    const char *p = sh + 1;
    *ndim = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || errno)
            return ml_error(ML_EFORMAT, "%s: damaged .npy header (shape)", name);
        if (*ndim == ML_MAX_DIMS)
            return ml_error(ML_EFORMAT, "%s: arrays of more than %d dimensions are not supported",
                            name, ML_MAX_DIMS);
        shape[(*ndim)++] = v;
        p = end;
        while (*p == 'L')
            p++;
    }
    if (*ndim == 0)
        return ml_error(ML_EFORMAT, "%s: a scalar (shape ()), expected an array", name);
    return ML_OK;
}

ml_status ml_npy_read(const char *path, ml_tensor **out)
{
    *out = NULL;
    ml_gzin f;
    ML_TRY(ml_gzin_open(path, 1 << 20, &f));
    const char *name = f.name;
    unsigned char pre[12];
    char *header = NULL;
    void *raw = NULL;
    ml_tensor *t = NULL;
    size_t got = 0;
    ml_status s = ml_gzin_read(&f, pre, 8, &got);
    if (s == ML_OK && (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0))
        s = ml_error(ML_EFORMAT, "%s: not a .npy file", name);
    size_t hlen = 0;
    if (s == ML_OK) {
        int major = pre[6];
        if (major == 1) {
            s = ml_gzin_read(&f, pre + 8, 2, &got);
            if (s == ML_OK && got < 2)
                s = ml_error(ML_EFORMAT, "%s: truncated .npy header", name);
            hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        } else if (major == 2 || major == 3) {
            s = ml_gzin_read(&f, pre + 8, 4, &got);
            if (s == ML_OK && got < 4)
                s = ml_error(ML_EFORMAT, "%s: truncated .npy header", name);
            hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                   (size_t)pre[11] << 24;
            if (s == ML_OK && hlen > (1u << 24))
                s = ml_error(ML_EFORMAT, "%s: damaged .npy header (%zu bytes)", name, hlen);
        } else {
            s = ml_error(ML_EFORMAT, "%s: .npy format version %d is not supported", name, major);
        }
    }
    if (s == ML_OK && !(header = ml_malloc(hlen + 1)))
        s = ML_ENOMEM;
    if (s == ML_OK) {
        s = ml_gzin_read(&f, header, hlen, &got);
        if (s == ML_OK && got < hlen)
            s = ml_error(ML_EFORMAT, "%s: truncated .npy header", name);
    }
    npy_type type = NPY_F4;
    int ndim = 0;
    int64_t shape[ML_MAX_DIMS];
    if (s == ML_OK) {
        header[hlen] = '\0';
        s = parse_header(name, header, &type, &ndim, shape);
    }
    static const size_t sizes[] = {1, 4, 8, 4, 8};
    int64_t numel = 1;
    for (int i = 0; s == ML_OK && i < ndim; i++)
        if (__builtin_mul_overflow(numel, shape[i], &numel) || numel > (INT64_MAX >> 4))
            s = ml_error(ML_EFORMAT, "%s: the header announces too many elements", name);
    size_t bytes = (size_t)numel * (s == ML_OK ? sizes[type] : 0);
    ml_dtype dt = type == NPY_F4 || type == NPY_F8 ? ML_F32 : ML_I32;
    if (s == ML_OK && !(t = ml_tensor_new(dt, ndim, shape, ML_CPU)))
        s = ML_ENOMEM;
    int direct = type == NPY_F4 || type == NPY_I4;
    if (s == ML_OK && !direct && !(raw = ml_malloc(bytes ? bytes : 1)))
        s = ML_ENOMEM;
    if (s == ML_OK) {
        void *dst = direct ? ml_tensor_data(t) : raw;
        s = ml_gzin_read(&f, dst, bytes, &got);
        if (s == ML_OK && got < bytes)
            s = ml_error(ML_EFORMAT, "%s: truncated: expected %zu bytes of data, found %zu", name,
                         bytes, got);
    }
    if (s == ML_OK && !direct) {
        if (type == NPY_U1) {
            const uint8_t *in = raw;
            int32_t *o = ml_tensor_i32(t);
            for (int64_t i = 0; i < numel; i++)
                o[i] = in[i];
        } else if (type == NPY_F8) {
            const double *in = raw;
            float *o = ml_tensor_f32(t);
            for (int64_t i = 0; i < numel; i++)
                o[i] = (float)in[i];
        } else {
            const int64_t *in = raw;
            int32_t *o = ml_tensor_i32(t);
            for (int64_t i = 0; i < numel && s == ML_OK; i++) {
                if (in[i] < INT32_MIN || in[i] > INT32_MAX)
                    s = ml_error(ML_EFORMAT, "%s: element %lld is %lld, outside the int32 range",
                                 name, (long long)i, (long long)in[i]);
                o[i] = (int32_t)in[i];
            }
        }
    }
    ml_free(raw);
    ml_free(header);
    ml_gzin_close(&f);
    if (s != ML_OK) {
        ml_tensor_free(t);
        return s;
    }
    *out = t;
    return ML_OK;
}

/* The same data as a tensor of another shape (t is freed). */
static ml_tensor *reshaped(ml_tensor *t, int ndim, const int64_t *shape)
{
    ml_tensor *v = ml_tensor_view_reshape(t, ndim, shape);
    ml_tensor_free(t);
    return v;
}

ml_status ml_dataset_from_arrays(const char *x_name, ml_tensor *X, const char *y_name,
                                 ml_tensor *y, ml_dataset **out)
{
    *out = NULL;
    ml_dataset *ds = ml_dataset_new(x_name);
    ml_status s = ds ? ML_OK : ML_ENOMEM;
    int64_t n = X->shape[0];
    if (s == ML_OK && X->ndim < 1)
        s = ml_error(ML_EFORMAT, "%s: X is a scalar, expected an array", x_name);
    if (s == ML_OK && X->dtype == ML_I32) {
        ml_tensor *f = ml_tensor_new(ML_F32, X->ndim, X->shape, ML_CPU);
        if (!f) {
            s = ML_ENOMEM;
        } else {
            const int32_t *in = ml_tensor_i32(X);
            float *o = ml_tensor_f32(f);
            for (int64_t i = 0, m = ml_tensor_numel(X); i < m; i++)
                o[i] = (float)in[i];
            ml_tensor_free(X);
            X = f;
        }
    }
    if (s == ML_OK) {
        int64_t d = n ? ml_tensor_numel(X) / n : ml_shape_numel(X->ndim - 1, X->shape + 1);
        if (X->ndim == 3) {
            ds->image_shape[0] = 1;
            ds->image_shape[1] = X->shape[1];
            ds->image_shape[2] = X->shape[2];
            X = reshaped(X, 4, (int64_t[]){n, 1, X->shape[1], X->shape[2]});
        } else if (X->ndim == 4) {
            memcpy(ds->image_shape, X->shape + 1, 3 * sizeof *X->shape);
        } else if (X->ndim != 2) {
            X = reshaped(X, 2, (int64_t[]){n, d});
        }
        if (!X)
            s = ML_ENOMEM;
    }
    if (s == ML_OK && y) {
        if (y->shape[0] != n || y->ndim < 1)
            s = ml_error(ML_EFORMAT, "%s has %lld rows, %s has %lld", y_name,
                         (long long)(y->ndim ? y->shape[0] : 0), x_name, (long long)n);
        else if (y->dtype == ML_I32) {
            if (y->ndim > 2 || (y->ndim == 2 && y->shape[1] != 1))
                s = ml_error(ML_EFORMAT, "%s: integer labels must be [N] or [N, 1], found %d dimensions",
                             y_name, y->ndim);
            else if (y->ndim == 2 && !(y = reshaped(y, 1, &n)))
                s = ML_ENOMEM;
            int32_t max = -1;
            const int32_t *v = s == ML_OK ? ml_tensor_i32(y) : NULL;
            for (int64_t i = 0; s == ML_OK && i < n; i++) {
                if (v[i] < 0)
                    s = ml_error(ML_EFORMAT, "%s: row %lld has label %d, labels must be >= 0",
                                 y_name, (long long)i, v[i]);
                max = v[i] > max ? v[i] : max;
            }
            ds->n_classes = max + 1;
        } else {
            if (y->ndim > 2)
                s = ml_error(ML_EFORMAT, "%s: float targets must be [N] or [N, K], found %d dimensions",
                             y_name, y->ndim);
            else if (y->ndim == 1 && !(y = reshaped(y, 2, (int64_t[]){n, 1})))
                s = ML_ENOMEM;
        }
    }
    if (ds) {
        ds->X = X;
        ds->y = y;
    } else {
        ml_tensor_free(X);
        ml_tensor_free(y);
    }
    if (s != ML_OK) {
        ml_dataset_free(ds);
        return s;
    }
    *out = ds;
    return ML_OK;
}

ml_status ml_npy_import(const char *x_path, const char *y_path, ml_dataset **out)
{
    *out = NULL;
    ml_tensor *X = NULL, *y = NULL;
    ML_TRY(ml_npy_read(x_path, &X));
    if (y_path) {
        ml_status s = ml_npy_read(y_path, &y);
        if (s != ML_OK) {
            ml_tensor_free(X);
            return s;
        }
    }
    return ml_dataset_from_arrays(ml_gzin_display(x_path), X,
                                  y_path ? ml_gzin_display(y_path) : NULL, y, out);
}
