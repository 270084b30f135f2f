#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/alloc.h"
#include "core/log.h"

#include "core/version.h"

/* ---- building and freeing ---------------------------------------------- */

ml_dataset *ml_dataset_new(const char *name)
{
    ml_dataset *ds = ml_calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    if (ml_dataset_set_name(ds, name) != ML_OK) {
        ml_free(ds);
        return NULL;
    }
    return ds;
}

static void free_strings(char **list, int64_t n)
{
    if (!list)
        return;
    for (int64_t i = 0; i < n; i++)
        ml_free(list[i]);
    ml_free(list);
}

static void stream_free(ml_dataset_stream *st)
{
    if (!st)
        return;
    ml_free(st->path);
    ml_free(st->x_path);
    ml_free(st);
}

static ml_dataset_stream *stream_new(const char *path, const char *x_path, int64_t n, int64_t features)
{
    ml_dataset_stream *st = ml_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->path = ml_strdup(path);
    st->x_path = ml_strdup(x_path);
    st->n = n;
    st->features = features;
    if (!st->path || !st->x_path) {
        stream_free(st);
        return NULL;
    }
    return st;
}

void ml_dataset_free(ml_dataset *ds)
{
    if (!ds)
        return;
    ml_tensor_free(ds->X);
    ml_tensor_free(ds->y);
    stream_free(ds->stream);
    free_strings(ds->y_labels, ds->n_y_labels);
    ml_free(ds->provenance);
    ml_free(ds->name);
    ml_free(ds);
}

int64_t ml_dataset_n_examples(const ml_dataset *ds)
{
    if (!ds->X && ds->stream)
        return ds->stream->n;
    return ds->X && ds->X->ndim > 0 ? ds->X->shape[0] : 0;
}

int64_t ml_dataset_n_features(const ml_dataset *ds)
{
    if (!ds->X && ds->stream)
        return ds->stream->features;
    return ds->X && ds->X->ndim > 0 ? ml_shape_numel(ds->X->ndim - 1, ds->X->shape + 1) : 0;
}

ml_status ml_dataset_require_memory(const ml_dataset *ds, const char *what)
{
    if (ds->X || !ds->stream)
        return ML_OK;
    return ml_error(ML_EINVAL, "%s: %s needs the data in memory; the file is streamed (storage: memory forces loading it)",
                    ds->name, what);
}

int ml_storage_parse(const char *name)
{
    static const char *const names[] = {"memory", "auto", "stream"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* A "Key:   123 kB" line of a /proc file (meminfo, self/status) in bytes, or -1. */
static int64_t proc_kb_line(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            v = strtoll(line + k + 1, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

/* The first number in a one-line file ("max" and absent files: -1). */
static int64_t file_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[64] = "";
    int64_t v = -1;
    if (fgets(buf, sizeof buf, f) && buf[0] >= '0' && buf[0] <= '9')
        v = strtoll(buf, NULL, 10);
    fclose(f);
    return v;
}

/* The memory limit and usage of this process's cgroup (v2 "0::/path", or v1's
 * memory controller), -1 when unknown or unlimited. */
static void cgroup_memory(int64_t *max, int64_t *cur)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return;
    char line[1024], path[1200];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *v1 = strstr(line, ":memory:"), *v2 = strncmp(line, "0::", 3) == 0 ? line + 3 : NULL;
        if (v1) {
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", v1 + 8);
            *max = file_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", v1 + 8);
            *cur = file_number(path);
        } else if (v2 && *max < 0) {
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", v2);
            *max = file_number(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", v2);
            *cur = file_number(path);
        }
    }
    fclose(f);
    if (*max >= ((int64_t)1 << 60)) /* v1's "unlimited" */
        *max = -1;
}

int64_t ml_memory_available(void)
{
    const char *env = getenv("ML_MEMORY_AVAILABLE");
    if (env && *env)
        return strtoll(env, NULL, 10);
    int64_t avail = proc_kb_line("/proc/meminfo", "MemAvailable");
    if (avail < 0)
        avail = INT64_MAX;
    int64_t max = -1, cur = -1;
    cgroup_memory(&max, &cur);
    if (max > 0 && cur >= 0 && max - cur < avail)
        avail = max - cur > 0 ? max - cur : 0;
    struct rlimit rl;
    int64_t used = proc_kb_line("/proc/self/status", "VmSize"); /* address space in use */
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && used >= 0) {
        int64_t left = (int64_t)rl.rlim_cur - used;
        if (left < avail)
            avail = left > 0 ? left : 0;
    }
    return avail;
}

ml_status ml_dataset_set_name(ml_dataset *ds, const char *name)
{
    char *copy = ml_strdup(name ? name : "dataset");
    if (!copy)
        return ML_ENOMEM;
    ml_free(ds->name);
    ds->name = copy;
    return ML_OK;
}

ml_status ml_dataset_set_y_labels(ml_dataset *ds, const char *const *labels, int64_t n)
{
    char **copy = NULL;
    if (labels && n > 0) {
        copy = ml_calloc((size_t)n + 1, sizeof *copy);
        if (!copy)
            return ML_ENOMEM;
        for (int64_t i = 0; i < n; i++) {
            copy[i] = ml_strdup(labels[i] ? labels[i] : "");
            if (!copy[i]) {
                free_strings(copy, i);
                return ML_ENOMEM;
            }
        }
    }
    free_strings(ds->y_labels, ds->n_y_labels);
    ds->y_labels = copy;
    ds->n_y_labels = copy ? n : 0;
    return ML_OK;
}

ml_status ml_dataset_add_provenance(ml_dataset *ds, const char *line)
{
    return ml_append_line(&ds->provenance, line) == 0 ? ML_OK : ML_ENOMEM;
}

static int shell_safe(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_@%+=:,./-", c)))
            return 0;
    }
    return 1;
}

char *ml_command_line(int argc, char *const *argv)
{
    size_t size = 1;
    for (int i = 0; i < argc; i++)
        size += 4 * strlen(argv[i]) + 3;
    char *line = ml_malloc(size);
    if (!line)
        return NULL;
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        if (i)
            line[n++] = ' ';
        const char *a = argv[i];
        if (shell_safe(a)) {
            memcpy(line + n, a, strlen(a));
            n += strlen(a);
            continue;
        }
        line[n++] = '\'';
        for (; *a; a++) {
            if (*a == '\'') {
                memcpy(line + n, "'\\''", 4);
                n += 4;
            } else {
                line[n++] = *a;
            }
        }
        line[n++] = '\'';
    }
    line[n] = '\0';
    return line;
}

ml_status ml_dataset_add_command(ml_dataset *ds, int argc, char *const *argv)
{
    char *line = ml_command_line(argc, argv);
    if (!line)
        return ML_ENOMEM;
    ml_status s = ml_dataset_add_provenance(ds, line);
    ml_free(line);
    return s;
}

/* ---- checks ------------------------------------------------------------ */

ml_status ml_dataset_check_labels(const ml_dataset *ds)
{
    const char *name = ds->name ? ds->name : "dataset";
    if ((!ds->X || ds->X->ndim < 1) && !ds->stream)
        return ml_error(ML_EINVAL, "%s: the dataset has no X", name);
    if (ds->X && ds->X->dtype != ML_F32)
        return ml_error(ML_EFORMAT, "%s:/X: expected float32 data, found %s", name,
                        ml_dtype_name(ds->X->dtype));
    int64_t n = ml_dataset_n_examples(ds), d = ml_dataset_n_features(ds);
    if (ds->n_classes < 0)
        return ml_error(ML_EFORMAT, "%s: n_classes %d is negative", name, ds->n_classes);
    int64_t img = ds->image_shape[0] * ds->image_shape[1] * ds->image_shape[2];
    int any_img = ds->image_shape[0] || ds->image_shape[1] || ds->image_shape[2];
    if (any_img && (img <= 0 || img != d))
        return ml_error(ML_EFORMAT,
                        "%s:/X: image shape [%lld, %lld, %lld] does not fit rows of %lld values",
                        name, (long long)ds->image_shape[0], (long long)ds->image_shape[1],
                        (long long)ds->image_shape[2], (long long)d);
    if (ds->X && ds->X->ndim == 4 && any_img && !ml_shape_equal(3, ds->X->shape + 1, 3, ds->image_shape))
        return ml_error(ML_EFORMAT, "%s:/X: image shape [%lld, %lld, %lld] is not that of X", name,
                        (long long)ds->image_shape[0], (long long)ds->image_shape[1],
                        (long long)ds->image_shape[2]);
    if (ds->y_labels && ds->n_classes > 0 && ds->n_y_labels != ds->n_classes)
        return ml_error(ML_EFORMAT, "%s:/y: %lld class names for %d classes", name,
                        (long long)ds->n_y_labels, ds->n_classes);
    if (!ds->y)
        return ML_OK;
    const ml_tensor *y = ds->y;
    if (y->ndim < 1 || y->shape[0] != n)
        return ml_error(ML_EFORMAT, "%s: /y has %lld rows, /X has %lld", name,
                        (long long)(y->ndim ? y->shape[0] : 0), (long long)n);
    if (y->dtype == ML_F32) {
        if (y->ndim != 2)
            return ml_error(
                ML_EFORMAT,
                "%s:/y: expected int32 [N] or float32 [N, K], found float32 with %d dimensions",
                name, y->ndim);
        if (ds->n_classes > 0 && y->shape[1] != ds->n_classes)
            return ml_error(ML_EFORMAT, "%s:/y: %lld target columns for %d classes", name,
                            (long long)y->shape[1], ds->n_classes);
        return ML_OK;
    }
    if (y->ndim != 1)
        return ml_error(
            ML_EFORMAT,
            "%s:/y: expected int32 [N] or float32 [N, K], found int32 with %d dimensions", name,
            y->ndim);
    const int32_t *labels = ml_tensor_i32(y);
    for (int64_t i = 0; i < n; i++) {
        int32_t c = labels[i];
        if (c < 0 || (ds->n_classes > 0 && c >= ds->n_classes)) {
            if (ds->n_classes > 0)
                return ml_error(ML_EFORMAT, "%s:/y: row %lld has label %d, outside 0..%d", name,
                                (long long)(ds->first_row + i), (int)c, ds->n_classes - 1);
            return ml_error(ML_EFORMAT, "%s:/y: row %lld has the negative label %d", name,
                            (long long)(ds->first_row + i), (int)c);
        }
    }
    return ML_OK;
}

ml_status ml_check_finite_rows(const float *x, int64_t n, int64_t d, int64_t first_row,
                               const char *file, const char *dataset)
{
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        float acc = 0.0f; /* x * 0 is NaN exactly when x is NaN or infinite */
        for (int64_t j = 0; j < d; j++)
            acc += row[j] * 0.0f;
        if (acc == acc)
            continue;
        for (int64_t j = 0; j < d; j++) {
            if (!isfinite(row[j]))
                return ml_error(ML_ENUMERIC, "%s:%s: row %lld column %lld is %s", file, dataset,
                                (long long)(first_row + i), (long long)j,
                                isnan(row[j]) ? "NaN"
                                : row[j] > 0  ? "+Inf"
                                              : "-Inf");
        }
    }
    return ML_OK;
}

ml_status ml_dataset_check_finite(const ml_dataset *ds)
{
    if (!ds->X || ds->X->dtype != ML_F32)
        return ML_OK;
    return ml_check_finite_rows(ml_tensor_f32(ds->X), ml_dataset_n_examples(ds),
                                ml_dataset_n_features(ds), ds->first_row,
                                ds->name ? ds->name : "dataset", "/X");
}

/* ---- summaries -------------------------------------------------------- */

void ml_dataset_value_stats(const ml_dataset *ds, ml_dataset_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!ds->X || ds->X->dtype != ML_F32)
        return;
    const float *x = ml_tensor_f32(ds->X);
    int64_t n = ml_tensor_numel(ds->X);
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) {
            st->n_nonfinite++;
            continue;
        }
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    st->n_values = n - st->n_nonfinite;
    if (st->n_values == 0)
        return;
    st->min = lo;
    st->max = hi;
    st->mean = sum / (double)st->n_values;
    double sq = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(x[i])) {
            double c = x[i] - st->mean;
            sq += c * c;
        }
    }
    st->std = sqrt(sq / (double)st->n_values);
}

ml_status ml_dataset_class_counts(const ml_dataset *ds, int64_t **counts)
{
    *counts = NULL;
    if (!ds->y || ds->y->dtype != ML_I32 || ds->n_classes <= 0)
        return ml_error(ML_EINVAL, "%s: the dataset has no class labels", ds->name);
    int64_t *c = ml_calloc((size_t)ds->n_classes, sizeof *c);
    if (!c)
        return ML_ENOMEM;
    const int32_t *y = ml_tensor_i32(ds->y);
    int64_t n = ds->y->shape[0];
    for (int64_t i = 0; i < n; i++)
        if (y[i] >= 0 && y[i] < ds->n_classes)
            c[y[i]]++;
    *counts = c;
    return ML_OK;
}

/* ---- rows -------------------------------------------------------------- */

/* A dataset with the metadata of ds (no X, no y). */
static ml_dataset *copy_meta(const ml_dataset *ds)
{
    ml_dataset *out = ml_dataset_new(ds->name);
    if (!out)
        return NULL;
    out->n_classes = ds->n_classes;
    memcpy(out->image_shape, ds->image_shape, sizeof out->image_shape);
    out->first_row = ds->first_row;
    if (ml_dataset_set_y_labels(out, (const char *const *)ds->y_labels, ds->n_y_labels) != ML_OK ||
        (ds->provenance && !(out->provenance = ml_strdup(ds->provenance)))) {
        ml_dataset_free(out);
        return NULL;
    }
    return out;
}

ml_status ml_dataset_view_rows(const ml_dataset *ds, int64_t start, int64_t count, ml_dataset **out)
{
    *out = NULL;
    int64_t n = ml_dataset_n_examples(ds);
    if (start < 0 || count < 0 || start > n || count > n - start)
        return ml_error(ML_EINVAL, "%s: rows [%lld, %lld) are outside the %lld rows of the dataset",
                        ds->name, (long long)start, (long long)(start + count), (long long)n);
    ml_dataset *v = copy_meta(ds);
    if (!v)
        return ML_ENOMEM;
    v->first_row = ds->first_row + start;
    if (ds->X)
        v->X = ml_tensor_view_rows(ds->X, start, count);
    else
        v->stream = stream_new(ds->stream->path, ds->stream->x_path, count, ds->stream->features);
    if ((!v->X && !v->stream) || (ds->y && !(v->y = ml_tensor_view_rows(ds->y, start, count)))) {
        ml_dataset_free(v);
        return ML_ENOMEM;
    }
    *out = v;
    return ML_OK;
}

static ml_tensor *gather_rows(const ml_tensor *t, const int32_t *index, int64_t count)
{
    int64_t shape[ML_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    ml_tensor *g = ml_tensor_new(t->dtype, t->ndim, shape, ML_CPU);
    if (!g)
        return NULL;
    size_t row = (size_t)ml_shape_numel(t->ndim - 1, t->shape + 1) * ml_dtype_size(t->dtype);
    const char *src = ml_tensor_data(t);
    char *dst = ml_tensor_data(g);
    for (int64_t i = 0; i < count; i++)
        memcpy(dst + (size_t)i * row, src + (size_t)index[i] * row, row);
    return g;
}

ml_status ml_dataset_take_rows(const ml_dataset *ds, const int32_t *index, int64_t count,
                               ml_dataset **out)
{
    *out = NULL;
    int64_t n = ml_dataset_n_examples(ds);
    for (int64_t i = 0; i < count; i++)
        if (index[i] < 0 || index[i] >= n)
            return ml_error(ML_EINVAL, "%s: row %d is outside the %lld rows of the dataset",
                            ds->name, (int)index[i], (long long)n);
    ML_TRY(ml_dataset_require_memory(ds, "taking rows"));
    ml_dataset *t = copy_meta(ds);
    if (!t)
        return ML_ENOMEM;
    t->first_row = 0;
    t->X = gather_rows(ds->X, index, count);
    if (!t->X || (ds->y && !(t->y = gather_rows(ds->y, index, count)))) {
        ml_dataset_free(t);
        return ML_ENOMEM;
    }
    *out = t;
    return ML_OK;
}

ml_status ml_dataset_flat(const ml_dataset *ds, ml_dataset **out)
{
    *out = NULL;
    ML_TRY(ml_dataset_require_memory(ds, "flattening"));
    ml_dataset *v = copy_meta(ds);
    if (!v)
        return ML_ENOMEM;
    int64_t shape[2] = {ml_dataset_n_examples(ds), ml_dataset_n_features(ds)};
    v->X = ml_tensor_view_reshape(ds->X, 2, shape);
    if (!v->X || (ds->y && !(v->y = ml_tensor_view_rows(ds->y, 0, ds->y->shape[0])))) {
        ml_dataset_free(v);
        return ML_ENOMEM;
    }
    *out = v;
    return ML_OK;
}

ml_status ml_dataset_one_hot(ml_dataset *ds)
{
    if (!ds->y || ds->y->dtype != ML_I32 || ds->n_classes <= 0)
        return ml_error(ML_EINVAL, "%s: one_hot needs class labels (int /y with a number of classes)",
                        ds->name ? ds->name : "dataset");
    int64_t n = ds->y->shape[0], k = ds->n_classes;
    ml_tensor *t = ml_tensor_new(ML_F32, 2, (int64_t[]){n, k}, ML_CPU);
    if (!t)
        return ML_ENOMEM;
    float *o = ml_tensor_f32(t);
    const int32_t *y = ml_tensor_i32(ds->y);
    for (int64_t i = 0; i < n; i++)
        if (y[i] >= 0 && y[i] < k)
            o[i * k + y[i]] = 1.0f;
    ml_tensor_free(ds->y);
    ds->y = t;
    return ML_OK;
}

/* ---- reading ----------------------------------------------------------- */

static const char *obj_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", name[0] == '/' ? "" : "/", name);
    return buf;
}

static ml_status read_header(ml_h5_file *f, const char *fname, int *has_format)
{
    *has_format = 0;
    if (!ml_h5_attr_exists(f, "/", "ml_format"))
        return ML_OK;
    *has_format = 1;
    char *format = NULL;
    ML_TRY(ml_h5_attr_read_str(f, "/", "ml_format", &format));
    int ok = strcmp(format, ML_DATASET_FORMAT) == 0;
    ml_status s = ML_OK;
    if (!ok)
        s = ml_error(ML_EFORMAT, "%s: not a dataset file (ml_format is '%s', expected '%s')", fname,
                     format, ML_DATASET_FORMAT);
    ml_free(format);
    if (s != ML_OK)
        return s;
    if (!ml_h5_attr_exists(f, "/", "ml_format_version"))
        return ml_error(ML_EFORMAT, "%s: the attribute 'ml_format_version' is missing", fname);
    int64_t version = 0;
    ML_TRY(ml_h5_attr_read_i64(f, "/", "ml_format_version", &version));
    if (version < 1 || version > ML_DATASET_FORMAT_VERSION)
        return ml_error(ML_EFORMAT,
                        "%s: unsupported ml_format_version %lld (this version of ml reads %d)",
                        fname, (long long)version, ML_DATASET_FORMAT_VERSION);
    return ML_OK;
}

/* Reads rows [start, start+count) of a dataset into a new tensor of dtype (2-D when flat). */
static ml_status read_part(ml_h5_file *f, const char *path, ml_dtype dtype, int ndim,
                           const int64_t *shape, int64_t start, int64_t count, int flat,
                           ml_tensor **out)
{
    int64_t s2[ML_MAX_DIMS];
    memcpy(s2, shape, (size_t)ndim * sizeof *shape);
    s2[0] = count;
    if (flat && ndim > 2) {
        s2[1] = ml_shape_numel(ndim - 1, shape + 1);
        ndim = 2;
    }
    ml_tensor *t = NULL;
    ml_status s;
    if (start == 0 && count == shape[0] && ml_shape_numel(ndim, s2) > 0) {
        /* The whole dataset in one read with the file's own selection: much
         * faster than a row hyperslab into a memory space of another rank. */
        ml_tensor *whole = NULL;
        int fnd = 0;
        int64_t fshape[ML_MAX_DIMS];
        s = ml_h5_dataset_shape(f, path, &fnd, fshape, NULL);
        if (s == ML_OK)
            s = ml_h5_read_tensor_expect(f, path, dtype, fnd, fshape, &whole);
        if (s != ML_OK)
            return s;
        if (ml_shape_equal(fnd, fshape, ndim, s2)) {
            t = whole;
        } else {
            t = ml_tensor_view_reshape(whole, ndim, s2);
            ml_tensor_free(whole);
            if (!t)
                return ml_error_prefix(ML_ESHAPE, "%s:%s: ", ml_h5_file_name(f), path);
        }
        *out = t;
        return ML_OK;
    }
    t = ml_tensor_new(dtype, ndim, s2, ML_CPU);
    if (!t)
        return ML_ENOMEM;
    s = ml_h5_read_rows(f, path, start, count, t);
    if (s != ML_OK) {
        ml_tensor_free(t);
        return s;
    }
    *out = t;
    return ML_OK;
}

/* 1 + the largest label of the whole y dataset (0 when empty). */
static ml_status infer_classes(ml_h5_file *f, const char *fname, const char *path, int64_t n,
                               int *n_classes)
{
    ml_tensor *all = NULL;
    int64_t shape[1] = {n};
    ML_TRY(read_part(f, path, ML_I32, 1, shape, 0, n, 0, &all));
    const int32_t *y = ml_tensor_i32(all);
    int32_t max = -1;
    for (int64_t i = 0; i < n; i++)
        if (y[i] > max)
            max = y[i];
    ml_tensor_free(all);
    if (max >= (1 << 24))
        return ml_error(ML_EFORMAT, "%s:%s: the label %d is too large for a class index", fname,
                        path, (int)max);
    *n_classes = (int)max + 1;
    return ML_OK;
}

/* stream_path: the file f was opened from, when it can be streamed (NULL for a pipe). */
static ml_status read_dataset(ml_h5_file *f, const ml_dataset_load_opts *opts, const char *stream_path,
                              ml_dataset **out)
{
    *out = NULL;
    ml_dataset_load_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    const char *fname = ml_h5_file_name(f);
    char xpath[512], ypath[512];
    obj_path(opts->x_name ? opts->x_name : "X", xpath, sizeof xpath);
    obj_path(opts->y_name ? opts->y_name : "y", ypath, sizeof ypath);

    int has_format = 0;
    ML_TRY(read_header(f, fname, &has_format));

    int xnd = 0;
    int64_t xshape[ML_MAX_DIMS];
    ml_dtype xtype;
    ML_TRY(ml_h5_dataset_shape(f, xpath, &xnd, xshape, &xtype));
    if (xtype != ML_F32)
        return ml_error(ML_EFORMAT, "%s:%s: expected float data, found integers", fname, xpath);
    if (xnd != 2 && xnd != 4) {
        char buf[128];
        return ml_error(ML_EFORMAT, "%s:%s: expected [N, D] or [N, C, H, W], found %s", fname,
                        xpath, ml_shape_format(xnd, xshape, buf, sizeof buf));
    }
    int64_t n_file = xshape[0];
    int64_t start = opts->start, stop = opts->stop > 0 ? opts->stop : n_file;
    if (start < 0 || start > stop || stop > n_file)
        return ml_error(ML_EINVAL, "%s: rows [%lld, %lld) are outside the %lld rows of %s", fname,
                        (long long)start, (long long)stop, (long long)n_file, xpath);
    int64_t count = stop - start;

    if (has_format && ml_h5_attr_exists(f, "/", "n_examples")) {
        int64_t n_attr = 0;
        ML_TRY(ml_h5_attr_read_i64(f, "/", "n_examples", &n_attr));
        if (n_attr != n_file)
            return ml_error(ML_EFORMAT, "%s: n_examples is %lld, %s has %lld rows", fname,
                            (long long)n_attr, xpath, (long long)n_file);
    }

    int64_t features = ml_shape_numel(xnd - 1, xshape + 1);
    int stream = opts->storage == ML_STORAGE_STREAM;
    int64_t bytes = count * features * (int64_t)sizeof(float);
    if (opts->storage == ML_STORAGE_AUTO && stream_path) {
        int64_t available = ml_memory_available();
        stream = bytes > available / 2;
        if (stream)
            ml_info("%s:%s: streamed from the file (%lld MiB, %lld MiB of memory available)", fname, xpath,
                    (long long)(bytes >> 20), (long long)(available >> 20));
    }
    if (stream && !stream_path)
        return ml_error(ML_EINVAL, "%s: a dataset read from a pipe cannot be streamed; give its file", fname);

    ml_dataset *ds = ml_dataset_new(fname);
    if (!ds)
        return ML_ENOMEM;
    ds->first_row = start;
    ml_status s = ML_OK;
    if (stream) {
        if (!(ds->stream = stream_new(stream_path, xpath, count, features)))
            s = ML_ENOMEM;
    } else {
        s = read_part(f, xpath, ML_F32, xnd, xshape, start, count, opts->flatten, &ds->X);
    }
    if (s != ML_OK)
        goto fail;

    /* image shape: from a 4-D X, or from the attribute */
    if (xnd == 4) {
        memcpy(ds->image_shape, xshape + 1, sizeof ds->image_shape);
    } else if (ml_h5_attr_exists(f, xpath, "image_shape")) {
        int64_t *img = NULL, k = 0;
        s = ml_h5_attr_read_i64_array(f, xpath, "image_shape", &img, &k);
        if (s != ML_OK)
            goto fail;
        if (k == 3) {
            memcpy(ds->image_shape, img, sizeof ds->image_shape);
        } else if (k == 2) {
            ds->image_shape[0] = 1;
            ds->image_shape[1] = img[0];
            ds->image_shape[2] = img[1];
        } else {
            s = ml_error(ML_EFORMAT,
                         "%s:%s: attribute 'image_shape' has %lld values, expected 3 (C, H, W)",
                         fname, xpath, (long long)k);
        }
        ml_free(img);
        if (s != ML_OK)
            goto fail;
    }

    /* y */
    int explicit_y = opts->y_name != NULL;
    ml_h5_kind ykind = opts->no_y ? ML_H5_NONE : ml_h5_exists(f, ypath);
    if (!opts->no_y && ykind == ML_H5_NONE && explicit_y) {
        s = ml_error(ML_ENOTFOUND, "%s:%s: not found", fname, ypath);
        goto fail;
    }
    int has_n_classes = 0;
    if (has_format && ml_h5_attr_exists(f, "/", "n_classes")) {
        int64_t nc = 0;
        s = ml_h5_attr_read_i64(f, "/", "n_classes", &nc);
        if (s != ML_OK)
            goto fail;
        if (nc < 0 || nc > (1 << 24)) {
            s = ml_error(ML_EFORMAT, "%s: n_classes %lld is not valid", fname, (long long)nc);
            goto fail;
        }
        ds->n_classes = (int)nc;
        has_n_classes = nc > 0;
    }
    if (ykind != ML_H5_NONE) {
        int ynd = 0;
        int64_t yshape[ML_MAX_DIMS];
        ml_dtype ytype;
        s = ml_h5_dataset_shape(f, ypath, &ynd, yshape, &ytype);
        if (s != ML_OK)
            goto fail;
        int ok = ynd >= 1 && (ytype == ML_I32 ? ynd == 1 || (ynd == 2 && yshape[1] == 1)
                                              : ynd == 1 || ynd == 2);
        if (!ok) {
            char buf[128];
            s = ml_error(ML_EFORMAT, "%s:%s: expected int32 [N] or float32 [N, K], found %s %s",
                         fname, ypath, ml_dtype_name(ytype),
                         ml_shape_format(ynd, yshape, buf, sizeof buf));
            goto fail;
        }
        if (yshape[0] != n_file) {
            s = ml_error(ML_EFORMAT, "%s: %s has %lld rows, %s has %lld", fname, ypath,
                         (long long)yshape[0], xpath, (long long)n_file);
            goto fail;
        }
        /* int [N, 1] reads as [N]; float [N] as [N, 1] */
        int64_t want[2] = {yshape[0], ytype == ML_I32 ? 1 : (ynd == 2 ? yshape[1] : 1)};
        s = read_part(f, ypath, ytype, ytype == ML_I32 ? 1 : 2, want, start, count, 0, &ds->y);
        if (s != ML_OK)
            goto fail;
        if (ml_h5_attr_exists(f, ypath, "y_labels")) {
            s = ml_h5_attr_read_str_array(f, ypath, "y_labels", &ds->y_labels, &ds->n_y_labels);
            if (s != ML_OK)
                goto fail;
            if (ds->n_y_labels == 0) {
                ml_h5_names_free(ds->y_labels);
                ds->y_labels = NULL;
            }
        }
        if (ytype == ML_I32 && !has_n_classes) {
            if (ds->y_labels)
                ds->n_classes = (int)ds->n_y_labels;
            else if ((s = infer_classes(f, fname, ypath, n_file, &ds->n_classes)) != ML_OK)
                goto fail;
        }
    }

    if (!ds->y)
        ds->n_classes = 0; /* no targets read: no classes */

    char *prov = NULL;
    if (ml_h5_attr_exists(f, "/", "provenance")) {
        s = ml_h5_attr_read_str(f, "/", "provenance", &prov);
        if (s != ML_OK)
            goto fail;
        ds->provenance = prov;
    }

    if ((s = ml_dataset_check_labels(ds)) != ML_OK)
        goto fail;
    if (!opts->allow_nonfinite && ds->X && (s = ml_dataset_check_finite(ds)) != ML_OK)
        goto fail;
    *out = ds;
    return ML_OK;
fail:
    ml_dataset_free(ds);
    return s;
}

ml_status ml_dataset_read(ml_h5_file *f, const ml_dataset_load_opts *opts, ml_dataset **out)
{
    return read_dataset(f, opts, NULL, out);
}

ml_status ml_dataset_load(const char *path, const ml_dataset_load_opts *opts, ml_dataset **out)
{
    *out = NULL;
    ml_h5_file *f = NULL;
    ML_TRY(ml_h5_open(path, &f));
    ml_status s = read_dataset(f, opts, strcmp(path, "-") == 0 ? NULL : path, out);
    ml_h5_close(f);
    return s;
}

/* ---- writing ----------------------------------------------------------- */

ml_status ml_dataset_write(ml_h5_file *f, const ml_dataset *ds, const ml_dataset_save_opts *opts)
{
    ML_TRY(ml_dataset_require_memory(ds, "writing"));
    ML_TRY(ml_dataset_check_labels(ds));
    ml_h5_write_opts wo = {ML_H5_CHUNK_AUTO, 0};
    if (opts) {
        wo.deflate = opts->deflate;
        if (opts->chunk_rows > 0)
            wo.chunk_rows = opts->chunk_rows;
    }
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_format", ML_DATASET_FORMAT));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "ml_format_version", ML_DATASET_FORMAT_VERSION));
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_version", ML_VERSION));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "n_examples", ml_dataset_n_examples(ds)));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "n_classes", ds->n_classes));
    ML_TRY(ml_h5_attr_write_str(f, "/", "provenance", ds->provenance ? ds->provenance : ""));
    ML_TRY(ml_h5_write_tensor(f, "/X", ds->X, &wo));
    if (ds->image_shape[0] > 0) {
        ML_TRY(ml_h5_attr_write_i64_array(f, "/X", "image_shape", ds->image_shape, 3));
        ML_TRY(ml_h5_attr_write_str(f, "/X", "axes", "b,c,0,1"));
    }
    if (ds->y) {
        ML_TRY(ml_h5_write_tensor(f, "/y", ds->y, &wo));
        if (ds->y_labels && ds->n_y_labels > 0)
            ML_TRY(ml_h5_attr_write_str_array(f, "/y", "y_labels",
                                              (const char *const *)ds->y_labels, ds->n_y_labels));
    }
    return ML_OK;
}

ml_status ml_dataset_save(const ml_dataset *ds, const char *path, const ml_dataset_save_opts *opts)
{
    ml_h5_file *f = NULL;
    ML_TRY(ml_h5_create(path, &f));
    ml_status s = ml_dataset_write(f, ds, opts);
    if (s == ML_OK)
        s = ml_h5_commit(f);
    ml_h5_close(f);
    return s;
}
