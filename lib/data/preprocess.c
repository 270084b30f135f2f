#include "data/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"

#include "core/version.h"

/* ---- split and shuffle ------------------------------------------------- */

ml_status ml_preprocess_split(const ml_dataset *ds, const int64_t *counts, int n_parts,
                              ml_dataset **parts)
{
    int64_t n = ml_dataset_n_examples(ds), total = 0;
    for (int i = 0; i < n_parts; i++) {
        parts[i] = NULL;
        if (counts[i] < 0)
            return ml_error(ML_EINVAL, "%s: count %lld is negative", ds->name,
                            (long long)counts[i]);
        total += counts[i];
    }
    if (total > n)
        return ml_error(ML_EINVAL, "%s: the counts add up to %lld, the data has %lld rows",
                        ds->name, (long long)total, (long long)n);
    int64_t start = 0;
    for (int i = 0; i < n_parts; i++) {
        ml_status s = ml_dataset_view_rows(ds, start, counts[i], &parts[i]);
        if (s != ML_OK) {
            for (int j = 0; j < i; j++) {
                ml_dataset_free(parts[j]);
                parts[j] = NULL;
            }
            return s;
        }
        start += counts[i];
    }
    return ML_OK;
}

ml_status ml_preprocess_permutation(uint64_t seed, int64_t n, int32_t **perm)
{
    *perm = NULL;
    if (n < 0 || n > INT32_MAX)
        return ml_error(ML_EINVAL, "cannot shuffle %lld rows (at most %d)", (long long)n,
                        INT32_MAX);
    int32_t *p = ml_malloc((size_t)(n ? n : 1) * sizeof *p);
    if (!p)
        return ML_ENOMEM;
    ml_rng rng;
    ml_rng_seed(&rng, seed);
    ml_rng_permutation(&rng, p, n);
    *perm = p;
    return ML_OK;
}

ml_status ml_preprocess_shuffle(const ml_dataset *ds, uint64_t seed, ml_dataset **out)
{
    *out = NULL;
    int32_t *perm = NULL;
    ML_TRY(ml_preprocess_permutation(seed, ml_dataset_n_examples(ds), &perm));
    ml_status s = ml_dataset_take_rows(ds, perm, ml_dataset_n_examples(ds), out);
    ml_free(perm);
    return s;
}

/* ---- transforms -------------------------------------------------------- */

void ml_transform_free(ml_transform *t)
{
    if (!t)
        return;
    ml_free(t->kind);
    ml_tensor_free(t->mean);
    ml_tensor_free(t->std);
    ml_free(t->provenance);
    ml_free(t->name);
    ml_free(t);
}

ml_status ml_transform_set_name(ml_transform *t, const char *name)
{
    char *copy = ml_strdup(name ? name : "transform");
    if (!copy)
        return ML_ENOMEM;
    ml_free(t->name);
    t->name = copy;
    return ML_OK;
}

ml_status ml_transform_add_provenance(ml_transform *t, const char *line)
{
    size_t old = t->provenance ? strlen(t->provenance) : 0;
    size_t add = strlen(line);
    int newline = add == 0 || line[add - 1] != '\n';
    char *p = ml_realloc(t->provenance, old + add + (size_t)newline + 1);
    if (!p)
        return ML_ENOMEM;
    if (old == 0)
        p[0] = '\0';
    memcpy(p + old, line, add);
    if (newline)
        p[old + add++] = '\n';
    p[old + add] = '\0';
    t->provenance = p;
    return ML_OK;
}

static ml_transform *transform_new(const char *name, int64_t d)
{
    ml_transform *t = ml_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = ml_strdup("standardize");
    t->mean = ml_tensor_new(ML_F32, 1, &d, ML_CPU);
    t->std = ml_tensor_new(ML_F32, 1, &d, ML_CPU);
    if (!t->kind || !t->mean || !t->std || ml_transform_set_name(t, name) != ML_OK) {
        ml_transform_free(t);
        return NULL;
    }
    return t;
}

ml_status ml_preprocess_standardize_fit(const ml_dataset *ds, double std_eps, ml_transform **out)
{
    *out = NULL;
    if (!(std_eps > 0))
        std_eps = ML_STANDARDIZE_STD_EPS;
    if (!isfinite(std_eps))
        return ml_error(ML_EINVAL, "std_eps %g is not finite", std_eps);
    int64_t n = ml_dataset_n_examples(ds), d = ml_dataset_n_features(ds);
    if (n == 0)
        return ml_error(ML_EINVAL, "%s: cannot fit standardize on no rows", ds->name);
    double *acc = ml_calloc((size_t)(2 * d > 0 ? 2 * d : 1), sizeof *acc);
    ml_transform *t = transform_new("standardize", d);
    if (!acc || !t) {
        ml_free(acc);
        ml_transform_free(t);
        return ML_ENOMEM;
    }
    double *sum = acc, *sq = acc + d;
    const float *x = ml_tensor_f32(ds->X);
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        for (int64_t j = 0; j < d; j++)
            sum[j] += row[j];
    }
    for (int64_t j = 0; j < d; j++)
        sum[j] /= (double)n; /* now the mean */
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        for (int64_t j = 0; j < d; j++) {
            double c = row[j] - sum[j];
            sq[j] += c * c;
        }
    }
    float *mean = ml_tensor_f32(t->mean), *std = ml_tensor_f32(t->std);
    ml_status s = ML_OK;
    for (int64_t j = 0; j < d; j++) {
        double sd = sqrt(sq[j] / (double)n);
        if (!isfinite(sum[j]) || !isfinite(sd)) {
            s = ml_error(ML_ENUMERIC, "%s:/X: column %lld has a %s mean or std", ds->name,
                         (long long)j, isnan(sum[j]) || isnan(sd) ? "NaN" : "infinite");
            break;
        }
        mean[j] = (float)sum[j];
        std[j] = (float)(sd > std_eps ? sd : std_eps);
    }
    ml_free(acc);
    if (s != ML_OK) {
        ml_transform_free(t);
        return s;
    }
    t->std_eps = std_eps;
    t->n_examples = n;
    if (ds->provenance && ds->provenance[0] &&
        ml_transform_add_provenance(t, ds->provenance) != ML_OK) {
        ml_transform_free(t);
        return ML_ENOMEM;
    }
    *out = t;
    return ML_OK;
}

ml_status ml_transform_apply(const ml_transform *t, ml_dataset *ds)
{
    int64_t d = t->mean->shape[0];
    int64_t n = ml_dataset_n_examples(ds), dd = ml_dataset_n_features(ds);
    if (dd != d)
        return ml_error(ML_ESHAPE,
                        "%s: transform %s was fitted on %lld features, the data has %lld", ds->name,
                        t->name, (long long)d, (long long)dd);
    float *x = ml_tensor_f32(ds->X);
    const float *mean = ml_tensor_f32(t->mean), *std = ml_tensor_f32(t->std);
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * d;
        for (int64_t j = 0; j < d; j++)
            row[j] = (row[j] - mean[j]) / std[j];
    }
    return ML_OK;
}

/* ---- transform files --------------------------------------------------- */

ml_status ml_transform_write(ml_h5_file *f, const ml_transform *t)
{
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_format", ML_TRANSFORM_FORMAT));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "ml_format_version", ML_TRANSFORM_FORMAT_VERSION));
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_version", ML_VERSION));
    ML_TRY(ml_h5_attr_write_str(f, "/", "transform", t->kind));
    ML_TRY(ml_h5_attr_write_f64(f, "/", "std_eps", t->std_eps));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "n_examples", t->n_examples));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "n_features", t->mean->shape[0]));
    ML_TRY(ml_h5_attr_write_str(f, "/", "provenance", t->provenance ? t->provenance : ""));
    ML_TRY(ml_h5_write_tensor(f, "/mean", t->mean, NULL));
    ML_TRY(ml_h5_write_tensor(f, "/std", t->std, NULL));
    return ML_OK;
}

ml_status ml_transform_save(const ml_transform *t, const char *path)
{
    ml_h5_file *f = NULL;
    ML_TRY(ml_h5_create(path, &f));
    ml_status s = ml_transform_write(f, t);
    if (s == ML_OK)
        s = ml_h5_commit(f);
    ml_h5_close(f);
    return s;
}

static ml_status read_checked(ml_h5_file *f, const char *fname, ml_transform *t)
{
    if (!ml_h5_attr_exists(f, "/", "ml_format"))
        return ml_error(ML_EFORMAT, "%s: not a transform file (no attribute 'ml_format')", fname);
    char *str = NULL;
    ML_TRY(ml_h5_attr_read_str(f, "/", "ml_format", &str));
    ml_status s = ML_OK;
    if (strcmp(str, ML_TRANSFORM_FORMAT) != 0)
        s = ml_error(ML_EFORMAT, "%s: not a transform file (ml_format is '%s', expected '%s')",
                     fname, str, ML_TRANSFORM_FORMAT);
    ml_free(str);
    if (s != ML_OK)
        return s;
    int64_t version = 0;
    if (!ml_h5_attr_exists(f, "/", "ml_format_version"))
        return ml_error(ML_EFORMAT, "%s: the attribute 'ml_format_version' is missing", fname);
    ML_TRY(ml_h5_attr_read_i64(f, "/", "ml_format_version", &version));
    if (version < 1 || version > ML_TRANSFORM_FORMAT_VERSION)
        return ml_error(ML_EFORMAT,
                        "%s: unsupported ml_format_version %lld (this version of ml reads %d)",
                        fname, (long long)version, ML_TRANSFORM_FORMAT_VERSION);
    ML_TRY(ml_h5_attr_read_str(f, "/", "transform", &t->kind));
    if (strcmp(t->kind, "standardize") != 0)
        return ml_error(ML_EFORMAT, "%s: unknown transform '%s' (known: standardize)", fname,
                        t->kind);
    if (ml_h5_attr_exists(f, "/", "std_eps"))
        ML_TRY(ml_h5_attr_read_f64(f, "/", "std_eps", &t->std_eps));
    if (ml_h5_attr_exists(f, "/", "n_examples"))
        ML_TRY(ml_h5_attr_read_i64(f, "/", "n_examples", &t->n_examples));
    if (ml_h5_attr_exists(f, "/", "provenance"))
        ML_TRY(ml_h5_attr_read_str(f, "/", "provenance", &t->provenance));
    int64_t any = -1;
    ML_TRY(ml_h5_read_tensor_expect(f, "/mean", ML_F32, 1, &any, &t->mean));
    int64_t d = t->mean->shape[0];
    ML_TRY(ml_h5_read_tensor_expect(f, "/std", ML_F32, 1, &d, &t->std));
    const float *mean = ml_tensor_f32(t->mean), *std = ml_tensor_f32(t->std);
    for (int64_t j = 0; j < d; j++) {
        if (!isfinite(mean[j]))
            return ml_error(ML_EFORMAT, "%s:/mean: element %lld is not finite", fname,
                            (long long)j);
        if (!(std[j] > 0) || !isfinite(std[j]))
            return ml_error(ML_EFORMAT, "%s:/std: element %lld is %g (must be positive)", fname,
                            (long long)j, (double)std[j]);
    }
    return ML_OK;
}

ml_status ml_transform_read(ml_h5_file *f, ml_transform **out)
{
    *out = NULL;
    const char *fname = ml_h5_file_name(f);
    ml_transform *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    ml_status s = ml_transform_set_name(t, fname);
    if (s == ML_OK)
        s = read_checked(f, fname, t);
    if (s != ML_OK) {
        ml_transform_free(t);
        return s;
    }
    *out = t;
    return ML_OK;
}

ml_status ml_transform_load(const char *path, ml_transform **out)
{
    *out = NULL;
    ml_h5_file *f = NULL;
    ML_TRY(ml_h5_open(path, &f));
    ml_status s = ml_transform_read(f, out);
    ml_h5_close(f);
    return s;
}
