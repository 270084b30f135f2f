#include "data/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/rng.h"

#include <cblas.h>

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

/* LAPACK's symmetric eigensolver (divide and conquer) from OpenBLAS: Debian's
 * libopenblas-dev ships cblas.h but no lapack.h, so the Fortran symbol is
 * declared here, with gfortran's hidden string lengths. */
extern void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
                    float *w, float *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

void ml_transform_free(ml_transform *t)
{
    if (!t)
        return;
    ml_free(t->kind);
    ml_tensor_free(t->mean);
    ml_tensor_free(t->std);
    ml_tensor_free(t->W);
    ml_tensor_free(t->W_inv);
    ml_tensor_free(t->eigenvalues);
    for (int i = 0; i < t->n_items; i++)
        ml_transform_free(t->items[i]);
    ml_free(t->items);
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
    return ml_append_line(&t->provenance, line) == 0 ? ML_OK : ML_ENOMEM;
}

void ml_gcn_opts_default(ml_gcn_opts *o)
{
    o->scale = 1;
    o->subtract_mean = 1;
    o->use_std = 0;
    o->sqrt_bias = 0;
    o->min_divisor = ML_GCN_MIN_DIVISOR;
}

/* GCN's parameters from o (NULL: the defaults). */
static void set_gcn(ml_transform *t, const ml_gcn_opts *o)
{
    ml_gcn_opts def;
    if (!o) {
        ml_gcn_opts_default(&def);
        o = &def;
    }
    t->scale = o->scale;
    t->subtract_mean = o->subtract_mean != 0;
    t->use_std = o->use_std != 0;
    t->sqrt_bias = o->sqrt_bias;
    t->min_divisor = o->min_divisor;
}

/* A transform of kind `kind` on d features with a zeroed mean [d] (when
 * with_mean) and the defaults of every parameter. */
static ml_transform *transform_new_kind(const char *kind, int64_t d, int with_mean)
{
    ml_transform *t = ml_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->kind = ml_strdup(kind);
    t->n_features = t->n_outputs = d;
    set_gcn(t, NULL);
    t->filter_bias = ML_ZCA_FILTER_BIAS;
    if (with_mean)
        t->mean = ml_tensor_new(ML_F32, 1, &d, ML_CPU);
    if (!t->kind || (with_mean && !t->mean) || ml_transform_set_name(t, kind) != ML_OK) {
        ml_transform_free(t);
        return NULL;
    }
    return t;
}

static ml_transform *transform_new(const char *kind, int64_t d)
{
    return transform_new_kind(kind, d, 1);
}

static ml_status fit_finish(ml_transform *t, const ml_dataset *ds, ml_transform **out)
{
    t->n_examples = ml_dataset_n_examples(ds);
    if (ds->provenance && ds->provenance[0] &&
        ml_transform_add_provenance(t, ds->provenance) != ML_OK) {
        ml_transform_free(t);
        return ML_ENOMEM;
    }
    *out = t;
    return ML_OK;
}

/* The per-feature mean of X in double, stored into mean (float [d]). */
static ml_status column_mean(const ml_dataset *ds, const char *what, float *mean)
{
    int64_t n = ml_dataset_n_examples(ds), d = ml_dataset_n_features(ds);
    if (n == 0)
        return ml_error(ML_EINVAL, "%s: cannot fit %s on no rows", ds->name, what);
    ML_TRY(ml_dataset_require_memory(ds, what));
    double *sum = ml_calloc((size_t)(d > 0 ? d : 1), sizeof *sum);
    if (!sum)
        return ML_ENOMEM;
    const float *x = ml_tensor_f32(ds->X);
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * d;
        for (int64_t j = 0; j < d; j++)
            sum[j] += row[j];
    }
    ml_status s = ML_OK;
    for (int64_t j = 0; j < d; j++) {
        double m = sum[j] / (double)n;
        if (!isfinite(m)) {
            s = ml_error(ML_ENUMERIC, "%s:/X: column %lld has a %s mean", ds->name, (long long)j,
                         isnan(m) ? "NaN" : "infinite");
            break;
        }
        mean[j] = (float)m;
    }
    ml_free(sum);
    return s;
}

ml_status ml_preprocess_remove_mean_fit(const ml_dataset *ds, ml_transform **out)
{
    *out = NULL;
    ml_transform *t = transform_new("remove-mean", ml_dataset_n_features(ds));
    if (!t)
        return ML_ENOMEM;
    ml_status s = column_mean(ds, "remove-mean", ml_tensor_f32(t->mean));
    if (s != ML_OK) {
        ml_transform_free(t);
        return s;
    }
    return fit_finish(t, ds, out);
}

ml_status ml_preprocess_gcn_fit(const ml_dataset *ds, const ml_gcn_opts *o, ml_transform **out)
{
    *out = NULL;
    ml_gcn_opts def;
    if (!o) {
        ml_gcn_opts_default(&def);
        o = &def;
    }
    if (!isfinite(o->scale) || !(o->scale > 0))
        return ml_error(ML_EINVAL, "gcn: scale %g must be positive", o->scale);
    if (!isfinite(o->sqrt_bias) || o->sqrt_bias < 0)
        return ml_error(ML_EINVAL, "gcn: sqrt_bias %g must be >= 0", o->sqrt_bias);
    if (!isfinite(o->min_divisor) || o->min_divisor < 0)
        return ml_error(ML_EINVAL, "gcn: min_divisor %g must be >= 0", o->min_divisor);
    ml_transform *t = transform_new_kind("gcn", ml_dataset_n_features(ds), 0);
    if (!t)
        return ML_ENOMEM;
    set_gcn(t, o);
    return fit_finish(t, ds, out);
}

/* Rows per block when centering and multiplying. */
#define BLOCK_ROWS 4096

/* The covariance Xc^T Xc / N of the centered rows (upper triangle, row-major,
 * float [d, d]) by cblas_ssyrk over blocks of rows. */
static ml_status covariance(const ml_dataset *ds, const float *mean, float *cov)
{
    int64_t n = ml_dataset_n_examples(ds), d = ml_dataset_n_features(ds);
    int64_t rows = n < BLOCK_ROWS ? n : BLOCK_ROWS;
    float *buf = ml_malloc((size_t)(rows * d > 0 ? rows * d : 1) * sizeof *buf);
    if (!buf)
        return ML_ENOMEM;
    const float *x = ml_tensor_f32(ds->X);
    for (int64_t start = 0; start < n; start += rows) {
        int64_t nb = n - start < rows ? n - start : rows;
        for (int64_t i = 0; i < nb; i++)
            for (int64_t j = 0; j < d; j++)
                buf[i * d + j] = x[(start + i) * d + j] - mean[j];
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d, (blasint)nb,
                    (float)(1.0 / (double)n), buf, (blasint)d, start == 0 ? 0.0f : 1.0f, cov,
                    (blasint)d);
    }
    ml_free(buf);
    return ML_OK;
}

/* Eigendecomposition of the symmetric cov (upper triangle, row-major [d, d]):
 * on return row j of cov is the eigenvector of eigenvalue w[j], ascending. */
static ml_status eigh(float *cov, int64_t d, float *w)
{
    if (d > INT32_MAX / 4)
        return ml_error(ML_EINVAL, "eigendecomposition of %lld features is too large",
                        (long long)d);
    int n = (int)d, lwork = -1, liwork = -1, info = 0, iwq = 0;
    float wq = 0;
    /* Row-major upper is column-major lower. */
    ssyevd_("V", "L", &n, cov, &n, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
    if (info != 0)
        return ml_error(ML_ENUMERIC, "ssyevd workspace query failed (info %d)", info);
    lwork = (int)wq + 1;
    liwork = iwq;
    float *work = ml_malloc((size_t)lwork * sizeof *work);
    int *iwork = ml_malloc((size_t)(liwork > 0 ? liwork : 1) * sizeof *iwork);
    if (!work || !iwork) {
        ml_free(work);
        ml_free(iwork);
        return ML_ENOMEM;
    }
    ssyevd_("V", "L", &n, cov, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    ml_free(work);
    ml_free(iwork);
    if (info != 0)
        return ml_error(ML_ENUMERIC, "the eigendecomposition of the covariance failed "
                        "(ssyevd info %d)", info);
    return ML_OK;
}

/* Fits zca (zca = 1) or pca: mean, covariance, eigenvectors, then W. */
static ml_status fit_eig(const ml_dataset *ds, int zca, int64_t k, double filter_bias, int flag,
                         ml_transform **out)
{
    *out = NULL;
    const char *kind = zca ? "zca" : "pca";
    int64_t d = ml_dataset_n_features(ds);
    if (d == 0)
        return ml_error(ML_EINVAL, "%s: cannot fit %s on rows of no features", ds->name, kind);
    if (k <= 0)
        k = d;
    if (k > d)
        return ml_error(ML_EINVAL, "%s: %s asks for %lld components, the data has %lld features",
                        ds->name, kind, (long long)k, (long long)d);
    if (zca && (!isfinite(filter_bias) || filter_bias < 0))
        return ml_error(ML_EINVAL, "zca: filter_bias %g must be >= 0", filter_bias);
    ml_transform *t = transform_new(kind, d);
    float *cov = ml_malloc((size_t)(d * d) * sizeof *cov);
    float *w = ml_malloc((size_t)d * sizeof *w);
    float *scaled = ml_malloc((size_t)(k * d) * sizeof *scaled);
    ml_status s = (!t || !cov || !w || !scaled) ? ML_ENOMEM : ML_OK;
    if (s == ML_OK)
        s = column_mean(ds, kind, ml_tensor_f32(t->mean));
    if (s == ML_OK)
        s = covariance(ds, ml_tensor_f32(t->mean), cov);
    if (s == ML_OK)
        s = eigh(cov, d, w);
    int64_t wshape[2] = {d, zca ? d : k};
    if (s == ML_OK) {
        t->n_components = k;
        t->n_outputs = wshape[1];
        t->filter_bias = zca ? filter_bias : 0;
        t->whiten = zca ? 0 : flag != 0;
        t->store_inverse = zca ? flag != 0 : 0;
        t->W = ml_tensor_new(ML_F32, 2, wshape, ML_CPU);
        t->eigenvalues = ml_tensor_new(ML_F32, 1, &k, ML_CPU);
        if (zca && flag) {
            int64_t sq[2] = {d, d};
            t->W_inv = ml_tensor_new(ML_F32, 2, sq, ML_CPU);
        }
        if (!t->W || !t->eigenvalues || (zca && flag && !t->W_inv))
            s = ML_ENOMEM;
    }
    if (s == ML_OK) {
        float *ev = ml_tensor_f32(t->eigenvalues), *W = ml_tensor_f32(t->W);
        /* Component c (descending) is row d-1-c of cov. */
        for (int64_t c = 0; c < k; c++) {
            int64_t r = d - 1 - c;
            double l = w[r];
            ev[c] = (float)l;
            if (!isfinite(l)) {
                s = ml_error(ML_ENUMERIC, "%s: the covariance has a non-finite eigenvalue",
                             ds->name);
                break;
            }
            const float *v = cov + r * d;
            if (zca) {
                double f = 1.0 / sqrt((l > 0 ? l : 0) + filter_bias);
                if (!isfinite(f)) {
                    s = ml_error(ML_ENUMERIC,
                                 "%s: zca: eigenvalue %g with filter_bias %g cannot be whitened"
                                 " (use a positive filter_bias)",
                                 ds->name, l, filter_bias);
                    break;
                }
                for (int64_t j = 0; j < d; j++)
                    scaled[c * d + j] = (float)(v[j] * f);
            } else {
                double f = flag ? 1.0 / sqrt(l > 1e-8 ? l : 1e-8) : 1.0;
                for (int64_t j = 0; j < d; j++)
                    W[j * k + c] = (float)(v[j] * f);
            }
        }
        if (s == ML_OK && zca) {
            /* V_k: rows d-k..d-1 of cov; W = V_k^T (diag(f) V_k). */
            const float *vk = cov + (d - k) * d;
            /* scaled holds components in descending order: reverse to match vk. */
            for (int64_t a = 0, b = k - 1; a < b; a++, b--)
                for (int64_t j = 0; j < d; j++) {
                    float tmp = scaled[a * d + j];
                    scaled[a * d + j] = scaled[b * d + j];
                    scaled[b * d + j] = tmp;
                }
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)d, (blasint)d,
                        (blasint)k, 1.0f, vk, (blasint)d, scaled, (blasint)d, 0.0f, W,
                        (blasint)d);
            if (flag) {
                for (int64_t c = 0; c < k; c++) {
                    double l = w[d - k + c];
                    double g = sqrt((l > 0 ? l : 0) + filter_bias);
                    for (int64_t j = 0; j < d; j++)
                        scaled[c * d + j] = (float)(vk[c * d + j] * g);
                }
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)d, (blasint)d,
                            (blasint)k, 1.0f, vk, (blasint)d, scaled, (blasint)d, 0.0f,
                            ml_tensor_f32(t->W_inv), (blasint)d);
            }
        }
    }
    ml_free(cov);
    ml_free(w);
    ml_free(scaled);
    if (s != ML_OK) {
        ml_transform_free(t);
        return s;
    }
    return fit_finish(t, ds, out);
}

ml_status ml_preprocess_zca_fit(const ml_dataset *ds, int64_t n_components, double filter_bias,
                                int store_inverse, ml_transform **out)
{
    if (filter_bias < 0)
        filter_bias = ML_ZCA_FILTER_BIAS;
    return fit_eig(ds, 1, n_components, filter_bias, store_inverse, out);
}

ml_status ml_preprocess_pca_fit(const ml_dataset *ds, int64_t num_components, int whiten,
                                ml_transform **out)
{
    return fit_eig(ds, 0, num_components, 0, whiten, out);
}

ml_status ml_preprocess_lcn_fit(const ml_dataset *ds, int64_t kernel_size, ml_transform **out)
{
    *out = NULL;
    if (kernel_size <= 0)
        kernel_size = ML_LCN_KERNEL_SIZE;
    if (kernel_size % 2 == 0 || kernel_size > 99)
        return ml_error(ML_EINVAL, "lcn: kernel_size %lld must be odd and at most 99",
                        (long long)kernel_size);
    if (ds->image_shape[0] <= 0)
        return ml_error(ML_EINVAL, "%s: lcn needs images (the file has no image shape)",
                        ds->name);
    ml_transform *t = transform_new_kind("lcn", ml_dataset_n_features(ds), 0);
    if (!t)
        return ML_ENOMEM;
    t->kernel_size = kernel_size;
    t->threshold = ML_LCN_THRESHOLD;
    for (int i = 0; i < 3; i++)
        t->image_shape[i] = ds->image_shape[i];
    return fit_finish(t, ds, out);
}

/* Pylearn2's gaussian_filter(k): sigma 2, normalized to sum 1. */
static void lcn_kernel(int64_t k, double *g)
{
    double mid = (double)(k / 2), sum = 0;
    for (int64_t a = 0; a < k; a++)
        for (int64_t b = 0; b < k; b++) {
            double x = (double)a - mid, y = (double)b - mid;
            g[a * k + b] = exp(-(x * x + y * y) / 8.0) / (8.0 * M_PI);
            sum += g[a * k + b];
        }
    for (int64_t i = 0; i < k * k; i++)
        g[i] /= sum;
}

/* "same" convolution of one h x w plane with g (k x k), zero padding. */
static void lcn_conv(const double *in, double *out, int64_t h, int64_t w, const double *g,
                     int64_t k)
{
    int64_t mid = k / 2;
    for (int64_t i = 0; i < h; i++)
        for (int64_t j = 0; j < w; j++) {
            double s = 0;
            for (int64_t a = 0; a < k; a++) {
                int64_t y = i + a - mid;
                if (y < 0 || y >= h)
                    continue;
                for (int64_t b = 0; b < k; b++) {
                    int64_t x = j + b - mid;
                    if (x >= 0 && x < w)
                        s += g[a * k + b] * in[y * w + x];
                }
            }
            out[i * w + j] = s;
        }
}

static ml_status apply_lcn(const ml_transform *t, float *x, int64_t n)
{
    int64_t c = t->image_shape[0], h = t->image_shape[1], w = t->image_shape[2];
    int64_t k = t->kernel_size, hw = h * w;
    double *g = ml_malloc((size_t)(k * k) * sizeof *g);
    double *buf = ml_malloc((size_t)(4 * hw > 0 ? 4 * hw : 1) * sizeof *buf);
    if (!g || !buf) {
        ml_free(g);
        ml_free(buf);
        return ML_ENOMEM;
    }
    lcn_kernel(k, g);
    double *p = buf, *sq = buf + hw, *mean = buf + 2 * hw, *den = buf + 3 * hw;
    for (int64_t i = 0; i < n * c; i++) {
        float *plane = x + i * hw;
        for (int64_t j = 0; j < hw; j++) {
            p[j] = plane[j];
            sq[j] = p[j] * p[j];
        }
        lcn_conv(p, mean, h, w, g, k);
        lcn_conv(sq, den, h, w, g, k);
        double avg = 0;
        for (int64_t j = 0; j < hw; j++) {
            den[j] = sqrt(den[j] > 0 ? den[j] : 0);
            avg += den[j];
        }
        avg /= (double)(hw > 0 ? hw : 1);
        for (int64_t j = 0; j < hw; j++) {
            double d = den[j] > avg ? den[j] : avg;
            if (d < t->threshold)
                d = t->threshold;
            plane[j] = (float)((p[j] - mean[j]) / d);
        }
    }
    ml_free(g);
    ml_free(buf);
    return ML_OK;
}

ml_status ml_preprocess_patches_fit(const ml_dataset *ds, const int64_t patch_shape[2],
                                    int64_t num_patches, uint64_t seed, ml_transform **out)
{
    *out = NULL;
    if (ds->image_shape[0] <= 0)
        return ml_error(ML_EINVAL, "%s: patches needs images (the file has no image shape)",
                        ds->name);
    if (patch_shape[0] < 1 || patch_shape[1] < 1 || patch_shape[0] > ds->image_shape[1] ||
        patch_shape[1] > ds->image_shape[2])
        return ml_error(ML_EINVAL, "%s: patches of %lld x %lld do not fit images of %lld x %lld",
                        ds->name, (long long)patch_shape[0], (long long)patch_shape[1],
                        (long long)ds->image_shape[1], (long long)ds->image_shape[2]);
    if (num_patches < 1 || num_patches > INT32_MAX)
        return ml_error(ML_EINVAL, "patches: num_patches %lld must be from 1 to %d",
                        (long long)num_patches, INT32_MAX);
    ml_transform *t = transform_new_kind("patches", ml_dataset_n_features(ds), 0);
    if (!t)
        return ML_ENOMEM;
    for (int i = 0; i < 3; i++)
        t->image_shape[i] = ds->image_shape[i];
    t->patch_shape[0] = patch_shape[0];
    t->patch_shape[1] = patch_shape[1];
    t->num_patches = num_patches;
    t->seed = seed;
    t->n_outputs = ds->image_shape[0] * patch_shape[0] * patch_shape[1];
    return fit_finish(t, ds, out);
}

static ml_status apply_patches(const ml_transform *t, ml_dataset *ds)
{
    int64_t n = ml_dataset_n_examples(ds);
    if (n < 1 || n > UINT32_MAX)
        return ml_error(ML_EINVAL, "%s: patches needs 1 to %u images, the data has %lld",
                        ds->name, UINT32_MAX, (long long)n);
    int64_t c = t->image_shape[0], h = t->image_shape[1], w = t->image_shape[2];
    int64_t ph = t->patch_shape[0], pw = t->patch_shape[1], m = t->num_patches;
    int64_t xs[2] = {m, c * ph * pw};
    ml_tensor *X = ml_tensor_new(ML_F32, 2, xs, ML_CPU), *y = NULL;
    int int_y = ds->y && ds->y->dtype == ML_I32;
    if (X && int_y)
        y = ml_tensor_new(ML_I32, 1, &m, ML_CPU);
    if (!X || (int_y && !y)) {
        ml_tensor_free(X);
        return ML_ENOMEM;
    }
    ml_rng rng;
    ml_rng_seed(&rng, t->seed);
    const float *src = ml_tensor_f32(ds->X);
    float *dst = ml_tensor_f32(X);
    for (int64_t i = 0; i < m; i++) {
        int64_t img = ml_rng_below(&rng, (uint32_t)n);
        int64_t r0 = ml_rng_below(&rng, (uint32_t)(h - ph + 1));
        int64_t c0 = ml_rng_below(&rng, (uint32_t)(w - pw + 1));
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t r = 0; r < ph; r++)
                memcpy(dst + ((i * c + ch) * ph + r) * pw,
                       src + ((img * c + ch) * h + r0 + r) * w + c0, (size_t)pw * sizeof *dst);
        if (y)
            ml_tensor_i32(y)[i] = ml_tensor_i32(ds->y)[img];
    }
    ml_tensor_free(ds->X);
    ml_tensor_free(ds->y);
    ds->X = X;
    ds->y = y;
    if (!y)
        ds->n_classes = 0;
    ds->image_shape[0] = c;
    ds->image_shape[1] = ph;
    ds->image_shape[2] = pw;
    ds->first_row = 0;
    return ML_OK;
}

ml_status ml_preprocess_fit(const ml_dataset *ds, const ml_preprocess_spec *spec, ml_transform **out)
{
    switch (spec->kind) {
    case ML_PREPROCESS_STANDARDIZE: return ml_preprocess_standardize_fit(ds, spec->std_eps, out);
    case ML_PREPROCESS_GCN: return ml_preprocess_gcn_fit(ds, &spec->gcn, out);
    case ML_PREPROCESS_ZCA:
        return ml_preprocess_zca_fit(ds, spec->n_components, spec->filter_bias, spec->store_inverse, out);
    case ML_PREPROCESS_PCA: return ml_preprocess_pca_fit(ds, spec->n_components, spec->whiten, out);
    case ML_PREPROCESS_LCN: return ml_preprocess_lcn_fit(ds, spec->kernel_size, out);
    case ML_PREPROCESS_REMOVE_MEAN: return ml_preprocess_remove_mean_fit(ds, out);
    case ML_PREPROCESS_PATCHES:
        return ml_preprocess_patches_fit(ds, spec->patch_shape, spec->num_patches, spec->seed, out);
    }
    return ml_error(ML_EINVAL, "no preprocessing of kind %d", (int)spec->kind);
}

ml_status ml_transform_pipeline(ml_transform **items, int n, ml_transform **out)
{
    *out = NULL;
    ml_status s = ML_OK;
    if (n < 1)
        s = ml_error(ML_EINVAL, "a pipeline needs at least one item");
    for (int i = 1; s == ML_OK && i < n; i++)
        if (items[i]->n_features != items[i - 1]->n_outputs)
            s = ml_error(ML_ESHAPE, "pipeline item %d (%s) takes %lld features, item %d (%s) "
                         "gives %lld", i, items[i]->kind, (long long)items[i]->n_features,
                         i - 1, items[i - 1]->kind, (long long)items[i - 1]->n_outputs);
    ml_transform *t = NULL;
    if (s == ML_OK) {
        t = transform_new_kind("pipeline", items[0]->n_features, 0);
        if (t)
            t->items = ml_calloc((size_t)n, sizeof *t->items);
        if (!t || !t->items)
            s = ML_ENOMEM;
    }
    if (s != ML_OK) {
        for (int i = 0; i < n; i++)
            ml_transform_free(items[i]);
        ml_transform_free(t);
        return s;
    }
    for (int i = 0; i < n; i++) {
        t->items[i] = items[i];
        items[i] = NULL;
    }
    t->n_items = n;
    t->n_outputs = t->items[n - 1]->n_outputs;
    t->n_examples = t->items[0]->n_examples;
    *out = t;
    return ML_OK;
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
    ML_TRY(ml_dataset_require_memory(ds, "standardize"));
    double *acc = ml_calloc((size_t)(2 * d > 0 ? 2 * d : 1), sizeof *acc);
    ml_transform *t = transform_new("standardize", d);
    if (t)
        t->std = ml_tensor_new(ML_F32, 1, &d, ML_CPU);
    if (t && !t->std) {
        ml_transform_free(t);
        t = NULL;
    }
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
    return fit_finish(t, ds, out);
}

static void apply_gcn(const ml_transform *t, float *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * d;
        double mean = 0;
        for (int64_t j = 0; j < d; j++)
            mean += row[j];
        mean /= (double)(d > 0 ? d : 1);
        if (t->subtract_mean)
            for (int64_t j = 0; j < d; j++)
                row[j] = (float)(row[j] - mean);
        double norm;
        if (t->use_std) {
            double ss = 0;
            for (int64_t j = 0; j < d; j++) {
                double c = row[j] - (t->subtract_mean ? 0.0 : mean);
                ss += c * c;
            }
            int64_t ddof = d == 1 ? 0 : 1;
            norm = sqrt(t->sqrt_bias + ss / (double)(d - ddof > 0 ? d - ddof : 1)) / t->scale;
        } else {
            double ss = 0;
            for (int64_t j = 0; j < d; j++)
                ss += (double)row[j] * row[j];
            norm = sqrt(t->sqrt_bias + ss) / t->scale;
        }
        if (norm < t->min_divisor)
            norm = 1;
        for (int64_t j = 0; j < d; j++)
            row[j] = (float)(row[j] / norm);
    }
}

/* out [n, k] = (x - mean) W, by blocks of rows; out may be x when k == d. */
static ml_status apply_linear(const ml_transform *t, float *x, float *out, int64_t n, int64_t d)
{
    int64_t k = t->n_outputs;
    int64_t rows = n < BLOCK_ROWS ? n : BLOCK_ROWS;
    float *buf = ml_malloc((size_t)(rows * d > 0 ? rows * d : 1) * sizeof *buf);
    if (!buf)
        return ML_ENOMEM;
    const float *mean = ml_tensor_f32(t->mean), *W = ml_tensor_f32(t->W);
    for (int64_t start = 0; start < n; start += rows) {
        int64_t nb = n - start < rows ? n - start : rows;
        for (int64_t i = 0; i < nb; i++)
            for (int64_t j = 0; j < d; j++)
                buf[i * d + j] = x[(start + i) * d + j] - mean[j];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)nb, (blasint)k,
                    (blasint)d, 1.0f, buf, (blasint)d, W, (blasint)k, 0.0f, out + start * k,
                    (blasint)k);
    }
    ml_free(buf);
    return ML_OK;
}

ml_status ml_transform_apply(const ml_transform *t, ml_dataset *ds)
{
    int64_t d = t->n_features;
    int64_t n = ml_dataset_n_examples(ds), dd = ml_dataset_n_features(ds);
    if (dd != d)
        return ml_error(ML_ESHAPE,
                        "%s: transform %s was fitted on %lld features, the data has %lld", ds->name,
                        t->name, (long long)d, (long long)dd);
    ML_TRY(ml_dataset_require_memory(ds, t->kind));
    const char *k = t->kind;
    float *x = ml_tensor_f32(ds->X);
    if (strcmp(k, "pipeline") == 0) {
        for (int i = 0; i < t->n_items; i++)
            ML_TRY(ml_transform_apply(t->items[i], ds));
    } else if (strcmp(k, "standardize") == 0) {
        const float *mean = ml_tensor_f32(t->mean), *std = ml_tensor_f32(t->std);
        for (int64_t i = 0; i < n; i++) {
            float *row = x + i * d;
            for (int64_t j = 0; j < d; j++)
                row[j] = (row[j] - mean[j]) / std[j];
        }
    } else if (strcmp(k, "remove-mean") == 0) {
        const float *mean = ml_tensor_f32(t->mean);
        for (int64_t i = 0; i < n; i++) {
            float *row = x + i * d;
            for (int64_t j = 0; j < d; j++)
                row[j] -= mean[j];
        }
    } else if (strcmp(k, "gcn") == 0) {
        apply_gcn(t, x, n, d);
    } else if (strcmp(k, "zca") == 0) {
        ML_TRY(apply_linear(t, x, x, n, d));
    } else if (strcmp(k, "lcn") == 0) {
        ML_TRY(apply_lcn(t, x, n));
    } else if (strcmp(k, "patches") == 0) {
        ML_TRY(apply_patches(t, ds));
    } else if (strcmp(k, "pca") == 0) {
        int64_t shape[2] = {n, t->n_outputs};
        ml_tensor *y = ml_tensor_new(ML_F32, 2, shape, ML_CPU);
        if (!y)
            return ML_ENOMEM;
        ml_status s = apply_linear(t, x, ml_tensor_f32(y), n, d);
        if (s != ML_OK) {
            ml_tensor_free(y);
            return s;
        }
        ml_tensor_free(ds->X);
        ds->X = y;
        ds->image_shape[0] = ds->image_shape[1] = ds->image_shape[2] = 0;
    } else {
        return ml_error(ML_EINVAL, "transform %s: unknown kind '%s'", t->name, k);
    }
    return ML_OK;
}

/* ---- transform files --------------------------------------------------- */

/* "/" + name, or group + "/" + name. */
static void join(char *buf, size_t size, const char *group, const char *name)
{
    snprintf(buf, size, "%s/%s", strcmp(group, "/") == 0 ? "" : group, name);
}

static ml_status write_one(ml_h5_file *f, const char *g, const ml_transform *t)
{
    char path[256];
    ML_TRY(ml_h5_attr_write_str(f, g, "transform", t->kind));
    ML_TRY(ml_h5_attr_write_i64(f, g, "n_examples", t->n_examples));
    ML_TRY(ml_h5_attr_write_i64(f, g, "n_features", t->n_features));
    ML_TRY(ml_h5_attr_write_i64(f, g, "n_outputs", t->n_outputs));
    const char *k = t->kind;
    if (strcmp(k, "standardize") == 0)
        ML_TRY(ml_h5_attr_write_f64(f, g, "std_eps", t->std_eps));
    if (strcmp(k, "gcn") == 0) {
        ML_TRY(ml_h5_attr_write_f64(f, g, "scale", t->scale));
        ML_TRY(ml_h5_attr_write_i64(f, g, "subtract_mean", t->subtract_mean));
        ML_TRY(ml_h5_attr_write_i64(f, g, "use_std", t->use_std));
        ML_TRY(ml_h5_attr_write_f64(f, g, "sqrt_bias", t->sqrt_bias));
        ML_TRY(ml_h5_attr_write_f64(f, g, "min_divisor", t->min_divisor));
    }
    if (strcmp(k, "zca") == 0) {
        ML_TRY(ml_h5_attr_write_f64(f, g, "filter_bias", t->filter_bias));
        ML_TRY(ml_h5_attr_write_i64(f, g, "n_components", t->n_components));
        ML_TRY(ml_h5_attr_write_i64(f, g, "store_inverse", t->store_inverse));
    }
    if (strcmp(k, "pca") == 0) {
        ML_TRY(ml_h5_attr_write_i64(f, g, "num_components", t->n_components));
        ML_TRY(ml_h5_attr_write_i64(f, g, "whiten", t->whiten));
    }
    if (strcmp(k, "lcn") == 0) {
        ML_TRY(ml_h5_attr_write_i64(f, g, "kernel_size", t->kernel_size));
        ML_TRY(ml_h5_attr_write_f64(f, g, "threshold", t->threshold));
        ML_TRY(ml_h5_attr_write_i64_array(f, g, "image_shape", t->image_shape, 3));
    }
    if (strcmp(k, "patches") == 0) {
        ML_TRY(ml_h5_attr_write_i64_array(f, g, "patch_shape", t->patch_shape, 2));
        ML_TRY(ml_h5_attr_write_i64(f, g, "num_patches", t->num_patches));
        ML_TRY(ml_h5_attr_write_i64(f, g, "seed", (int64_t)t->seed));
        ML_TRY(ml_h5_attr_write_i64_array(f, g, "image_shape", t->image_shape, 3));
    }
    if (strcmp(k, "pipeline") == 0) {
        ML_TRY(ml_h5_attr_write_i64(f, g, "n_items", t->n_items));
        for (int i = 0; i < t->n_items; i++) {
            char sub[256], item[16];
            snprintf(item, sizeof item, "%d", i);
            join(sub, sizeof sub, g, item);
            ML_TRY(ml_h5_create_group(f, sub));
            ML_TRY(write_one(f, sub, t->items[i]));
        }
    }
    const struct {
        const char *name;
        const ml_tensor *value;
    } fitted[] = {{"mean", t->mean}, {"std", t->std}, {"W", t->W}, {"W_inv", t->W_inv}, {"eigenvalues", t->eigenvalues}};
    for (size_t i = 0; i < sizeof fitted / sizeof *fitted; i++) {
        if (!fitted[i].value)
            continue;
        join(path, sizeof path, g, fitted[i].name);
        ML_TRY(ml_h5_write_tensor(f, path, fitted[i].value, NULL));
    }
    return ML_OK;
}

ml_status ml_transform_write(ml_h5_file *f, const ml_transform *t)
{
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_format", ML_TRANSFORM_FORMAT));
    ML_TRY(ml_h5_attr_write_i64(f, "/", "ml_format_version", ML_TRANSFORM_FORMAT_VERSION));
    ML_TRY(ml_h5_attr_write_str(f, "/", "ml_version", ML_VERSION));
    ML_TRY(ml_h5_attr_write_str(f, "/", "provenance", t->provenance ? t->provenance : ""));
    return write_one(f, "/", t);
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

static ml_status read_f64(ml_h5_file *f, const char *g, const char *name, double *v)
{
    if (ml_h5_attr_exists(f, g, name))
        ML_TRY(ml_h5_attr_read_f64(f, g, name, v));
    return ML_OK;
}

static ml_status read_int(ml_h5_file *f, const char *g, const char *name, int *v)
{
    if (ml_h5_attr_exists(f, g, name)) {
        int64_t x = 0;
        ML_TRY(ml_h5_attr_read_i64(f, g, name, &x));
        *v = x != 0;
    }
    return ML_OK;
}

static ml_status read_finite(ml_h5_file *f, const char *fname, const char *path, int ndim,
                             int64_t *shape, ml_tensor **out)
{
    ML_TRY(ml_h5_read_tensor_expect(f, path, ML_F32, ndim, shape, out));
    const float *v = ml_tensor_f32(*out);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (*out)->shape[i];
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(v[j]))
            return ml_error(ML_EFORMAT, "%s:%s: element %lld is not finite", fname, path,
                            (long long)j);
    return ML_OK;
}

/* The attribute image_shape of group g into shape; *ok is 0 unless it has 3
 * dimensions, each from 1 to 2^20 - 1. */
static ml_status read_image_shape(ml_h5_file *f, const char *g, int64_t shape[3], int *ok)
{
    int64_t *v = NULL, nv = 0;
    ML_TRY(ml_h5_attr_read_i64_array(f, g, "image_shape", &v, &nv));
    *ok = nv == 3;
    for (int i = 0; *ok && i < 3; i++) {
        *ok = v[i] > 0 && v[i] < (1 << 20);
        shape[i] = v[i];
    }
    ml_free(v);
    return ML_OK;
}

static ml_status read_one(ml_h5_file *f, const char *fname, const char *g, ml_transform *t,
                          int depth)
{
    char path[256];
    ML_TRY(ml_h5_attr_read_str(f, g, "transform", &t->kind));
    const char *k = t->kind;
    static const char *known[] = {"standardize", "gcn",     "remove-mean", "zca",
                                  "pca",         "lcn",     "patches",     "pipeline"};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        ok |= strcmp(k, known[i]) == 0;
    if (!ok)
        return ml_error(ML_EFORMAT,
                        "%s: unknown transform '%s' (known: standardize, gcn, remove-mean, zca, "
                        "pca, lcn, patches, pipeline)", fname, k);
    set_gcn(t, NULL);
    ML_TRY(read_f64(f, g, "std_eps", &t->std_eps));
    ML_TRY(read_f64(f, g, "scale", &t->scale));
    ML_TRY(read_f64(f, g, "sqrt_bias", &t->sqrt_bias));
    ML_TRY(read_f64(f, g, "min_divisor", &t->min_divisor));
    ML_TRY(read_f64(f, g, "filter_bias", &t->filter_bias));
    ML_TRY(read_int(f, g, "subtract_mean", &t->subtract_mean));
    ML_TRY(read_int(f, g, "use_std", &t->use_std));
    ML_TRY(read_int(f, g, "whiten", &t->whiten));
    ML_TRY(read_int(f, g, "store_inverse", &t->store_inverse));
    if (ml_h5_attr_exists(f, g, "n_examples"))
        ML_TRY(ml_h5_attr_read_i64(f, g, "n_examples", &t->n_examples));
    if (strcmp(k, "pipeline") == 0) {
        int64_t n = 0;
        ML_TRY(ml_h5_attr_read_i64(f, g, "n_items", &n));
        if (n < 1 || n > 1000 || depth > 8)
            return ml_error(ML_EFORMAT, "%s:%s: a pipeline of %lld items", fname, g, (long long)n);
        t->items = ml_calloc((size_t)n, sizeof *t->items);
        if (!t->items)
            return ML_ENOMEM;
        for (int i = 0; i < (int)n; i++) {
            char sub[256], item[16];
            snprintf(item, sizeof item, "%d", i);
            join(sub, sizeof sub, g, item);
            t->items[i] = ml_calloc(1, sizeof **t->items);
            if (!t->items[i])
                return ML_ENOMEM;
            t->n_items = i + 1;
            ML_TRY(ml_transform_set_name(t->items[i], fname));
            ML_TRY(read_one(f, fname, sub, t->items[i], depth + 1));
            if (i > 0 && t->items[i]->n_features != t->items[i - 1]->n_outputs)
                return ml_error(ML_EFORMAT, "%s:%s: takes %lld features, the item before gives "
                                "%lld", fname, sub, (long long)t->items[i]->n_features,
                                (long long)t->items[i - 1]->n_outputs);
        }
        t->n_features = t->items[0]->n_features;
        t->n_outputs = t->items[n - 1]->n_outputs;
        return ML_OK;
    }
    if (strcmp(k, "gcn") == 0) {
        ML_TRY(ml_h5_attr_read_i64(f, g, "n_features", &t->n_features));
        t->n_outputs = t->n_features;
        if (t->n_features < 0 || !(t->scale > 0) || !isfinite(t->scale) || t->sqrt_bias < 0)
            return ml_error(ML_EFORMAT, "%s: invalid gcn parameters", fname);
        return ML_OK;
    }
    if (strcmp(k, "lcn") == 0) {
        int ok_shape = 0;
        t->threshold = ML_LCN_THRESHOLD;
        ML_TRY(read_f64(f, g, "threshold", &t->threshold));
        ML_TRY(ml_h5_attr_read_i64(f, g, "kernel_size", &t->kernel_size));
        ML_TRY(read_image_shape(f, g, t->image_shape, &ok_shape));
        if (!ok_shape || t->kernel_size < 1 || t->kernel_size % 2 == 0 || t->kernel_size > 99 ||
            !(t->threshold > 0))
            return ml_error(ML_EFORMAT, "%s: invalid lcn parameters", fname);
        t->n_features = t->n_outputs = t->image_shape[0] * t->image_shape[1] * t->image_shape[2];
        return ML_OK;
    }
    if (strcmp(k, "patches") == 0) {
        int64_t *v = NULL, nv = 0, seed = 0;
        int ok_shape = 0;
        ML_TRY(read_image_shape(f, g, t->image_shape, &ok_shape));
        ML_TRY(ml_h5_attr_read_i64_array(f, g, "patch_shape", &v, &nv));
        ok_shape = ok_shape && nv == 2;
        for (int i = 0; ok_shape && i < 2; i++) {
            t->patch_shape[i] = v[i];
            ok_shape = v[i] >= 1 && v[i] <= t->image_shape[1 + i];
        }
        ml_free(v);
        ML_TRY(ml_h5_attr_read_i64(f, g, "num_patches", &t->num_patches));
        ML_TRY(ml_h5_attr_read_i64(f, g, "seed", &seed));
        t->seed = (uint64_t)seed;
        if (!ok_shape || t->num_patches < 1 || t->num_patches > INT32_MAX)
            return ml_error(ML_EFORMAT, "%s: invalid patches parameters", fname);
        t->n_features = t->image_shape[0] * t->image_shape[1] * t->image_shape[2];
        t->n_outputs = t->image_shape[0] * t->patch_shape[0] * t->patch_shape[1];
        return ML_OK;
    }
    int64_t any = -1;
    join(path, sizeof path, g, "mean");
    ML_TRY(read_finite(f, fname, path, 1, &any, &t->mean));
    int64_t d = t->mean->shape[0];
    t->n_features = t->n_outputs = d;
    if (strcmp(k, "standardize") == 0) {
        join(path, sizeof path, g, "std");
        ML_TRY(ml_h5_read_tensor_expect(f, path, ML_F32, 1, &d, &t->std));
        const float *std = ml_tensor_f32(t->std);
        for (int64_t j = 0; j < d; j++)
            if (!(std[j] > 0) || !isfinite(std[j]))
                return ml_error(ML_EFORMAT, "%s:%s: element %lld is %g (must be positive)", fname,
                                path, (long long)j, (double)std[j]);
    }
    if (strcmp(k, "zca") == 0 || strcmp(k, "pca") == 0) {
        int zca = strcmp(k, "zca") == 0;
        int64_t ws[2] = {d, -1};
        if (zca)
            ws[1] = d;
        join(path, sizeof path, g, "W");
        ML_TRY(read_finite(f, fname, path, 2, ws, &t->W));
        t->n_outputs = t->W->shape[1];
        int64_t kk = -1;
        join(path, sizeof path, g, "eigenvalues");
        ML_TRY(read_finite(f, fname, path, 1, &kk, &t->eigenvalues));
        t->n_components = t->eigenvalues->shape[0];
        if (!zca && t->n_components != t->n_outputs)
            return ml_error(ML_EFORMAT, "%s:%s: %lld eigenvalues for %lld components", fname,
                            path, (long long)t->n_components, (long long)t->n_outputs);
        if (zca && t->store_inverse) {
            int64_t sq[2] = {d, d};
            join(path, sizeof path, g, "W_inv");
            ML_TRY(read_finite(f, fname, path, 2, sq, &t->W_inv));
        }
    }
    return ML_OK;
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
    if (ml_h5_attr_exists(f, "/", "provenance"))
        ML_TRY(ml_h5_attr_read_str(f, "/", "provenance", &t->provenance));
    return read_one(f, fname, "/", t, 0);
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
