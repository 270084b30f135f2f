/* lib/data preprocessors: GlobalContrastNormalization, RemoveMean, ZCA, PCA and
 * Pipeline against values computed here in double precision (GCN and the mean
 * directly; ZCA through W (C + bI) W = I and W = W^T; PCA through C v = l v,
 * orthonormal components and, whitened, W^T C W = I, with C the covariance
 * computed here), LeCunLCN against Pylearn2's lecun_lcn written out here,
 * ExtractPatches (each patch found in its image),
 * save/load round trips, and the refusal of another D. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "scratch.h"
#include "ml.h"

enum { N = 400, D = 6 };

/* Correlated features: X = Z A + offset, Z uniform in [-1, 1). */
static ml_dataset *make_data(int64_t n, int64_t d, unsigned seed)
{
    ml_dataset *ds = ml_dataset_new("data.h5");
    int64_t shape[2] = {n, d};
    ds->X = ml_tensor_new(ML_F32, 2, shape, ML_CPU);
    float *x = ml_tensor_f32(ds->X);
    srand(seed);
    double *z = malloc((size_t)d * sizeof *z);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++)
            z[j] = 2.0 * rand() / ((double)RAND_MAX + 1) - 1;
        for (int64_t j = 0; j < d; j++) {
            double v = 3.0 + j;
            for (int64_t m = 0; m <= j; m++)
                v += z[m] * (1.0 + 0.5 * (double)((m * 7 + j * 3) % 5)) / (1 + m);
            x[i * d + j] = (float)v;
        }
    }
    free(z);
    return ds;
}

static ml_dataset *copy_data(const ml_dataset *ds)
{
    int64_t n = ml_dataset_n_examples(ds);
    int32_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++)
        idx[i] = (int32_t)i;
    ml_dataset *out = NULL;
    ml_dataset_take_rows(ds, idx, n, &out);
    free(idx);
    return out;
}

/* mean[d] and cov[d*d] (population) of X in double. */
static void moments(const ml_dataset *ds, double *mean, double *cov)
{
    int64_t n = ml_dataset_n_examples(ds), d = ml_dataset_n_features(ds);
    const float *x = ml_tensor_f32(ds->X);
    for (int64_t j = 0; j < d; j++) {
        mean[j] = 0;
        for (int64_t i = 0; i < n; i++)
            mean[j] += x[i * d + j];
        mean[j] /= (double)n;
    }
    for (int64_t a = 0; a < d; a++)
        for (int64_t b = 0; b < d; b++) {
            double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]);
            cov[a * d + b] = s / (double)n;
        }
}

static double max_diff(const ml_dataset *a, const ml_dataset *b)
{
    int64_t n = ml_tensor_numel(a->X);
    if (n != ml_tensor_numel(b->X))
        return INFINITY;
    const float *x = ml_tensor_f32(a->X), *y = ml_tensor_f32(b->X);
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i] - y[i]));
    return m;
}

/* Saves t, loads it back, and checks the loaded one gives the same output on ds. */
static void round_trip(const ml_transform *t, const ml_dataset *ds, const char *file)
{
    ml_transform *back = NULL;
    CHECK_OK(ml_transform_save(t, tmp(file)), "%s: save", t->kind);
    CHECK_OK(ml_transform_load(tmp(file), &back), "%s: load", t->kind);
    if (!back)
        return;
    CHECK(strcmp(back->kind, t->kind) == 0 && back->n_features == t->n_features &&
              back->n_outputs == t->n_outputs,
          "%s: kind and sizes survive the round trip", t->kind);
    ml_dataset *a = copy_data(ds), *b = copy_data(ds);
    CHECK_OK(ml_transform_apply(t, a), "%s: apply the fitted one", t->kind);
    CHECK_OK(ml_transform_apply(back, b), "%s: apply the loaded one", t->kind);
    CHECK(max_diff(a, b) == 0, "%s: the loaded transform gives the same numbers", t->kind);
    /* Wrong D: refused with both sizes named. */
    ml_dataset *wrong = make_data(5, t->n_features + 1, 3);
    ml_status s = ml_transform_apply(back, wrong);
    char want[64];
    snprintf(want, sizeof want, "fitted on %lld features, the data has %lld",
             (long long)t->n_features, (long long)t->n_features + 1);
    CHECK(s == ML_ESHAPE && strstr(ml_last_error(), want), "%s: another D refused: %s", t->kind,
          ml_last_error());
    ml_dataset_free(wrong);
    ml_dataset_free(a);
    ml_dataset_free(b);
    ml_transform_free(back);
}

static void gcn_reference(const float *in, double *out, int64_t d, const ml_gcn_opts *o)
{
    double mean = 0;
    for (int64_t j = 0; j < d; j++)
        mean += in[j];
    mean /= (double)d;
    for (int64_t j = 0; j < d; j++)
        out[j] = o->subtract_mean ? in[j] - mean : in[j];
    double norm;
    if (o->use_std) {
        double ss = 0;
        for (int64_t j = 0; j < d; j++)
            ss += (in[j] - mean) * (in[j] - mean);
        norm = sqrt(o->sqrt_bias + ss / (double)(d > 1 ? d - 1 : 1)) / o->scale;
    } else {
        double ss = 0;
        for (int64_t j = 0; j < d; j++)
            ss += out[j] * out[j];
        norm = sqrt(o->sqrt_bias + ss) / o->scale;
    }
    if (norm < o->min_divisor)
        norm = 1;
    for (int64_t j = 0; j < d; j++)
        out[j] /= norm;
}

static void test_gcn(void)
{
    ml_dataset *ds = make_data(N, D, 1);
    float *x0 = ml_tensor_f32(ds->X);
    for (int j = 0; j < D; j++)
        x0[j] = 2.5f; /* a constant row: norm 0 < min_divisor, divided by 1 */
    for (int variant = 0; variant < 4; variant++) {
        ml_gcn_opts o;
        ml_gcn_opts_default(&o);
        if (variant == 1) {
            o.use_std = 1;
            o.scale = 55;
            o.sqrt_bias = 10;
        } else if (variant == 2) {
            o.subtract_mean = 0;
            o.scale = 2;
        } else if (variant == 3) {
            o.use_std = 1;
            o.subtract_mean = 0;
            o.min_divisor = 1e3;
        }
        ml_transform *t = NULL;
        CHECK_OK(ml_preprocess_gcn_fit(ds, &o, &t), "gcn %d: fit", variant);
        if (!t)
            continue;
        ml_dataset *out = copy_data(ds);
        CHECK_OK(ml_transform_apply(t, out), "gcn %d: apply", variant);
        const float *x = ml_tensor_f32(ds->X), *y = ml_tensor_f32(out->X);
        double err = 0, ref[D];
        for (int64_t i = 0; i < N; i++) {
            gcn_reference(x + i * D, ref, D, &o);
            for (int j = 0; j < D; j++)
                err = fmax(err, fabs(ref[j] - y[i * D + j]) / fmax(1, fabs(ref[j])));
        }
        CHECK(err < 1e-5, "gcn %d (scale %g, subtract_mean %d, use_std %d, sqrt_bias %g): "
              "matches double precision (max rel err %.2g)", variant, o.scale, o.subtract_mean,
              o.use_std, o.sqrt_bias, err);
        if (variant == 0) {
            double norm = 0;
            for (int j = 0; j < D; j++)
                norm += (double)y[D + j] * y[D + j];
            CHECK(fabs(sqrt(norm) - 1) < 1e-5, "gcn: a row has norm scale (%.7f)", sqrt(norm));
            CHECK(y[0] == 0, "gcn: a constant row becomes zeros");
        }
        round_trip(t, ds, "gcn.h5");
        ml_dataset_free(out);
        ml_transform_free(t);
    }
    ml_gcn_opts bad;
    ml_gcn_opts_default(&bad);
    bad.scale = 0;
    ml_transform *t = NULL;
    CHECK(ml_preprocess_gcn_fit(ds, &bad, &t) == ML_EINVAL && !t, "gcn: scale 0 refused");
    ml_dataset_free(ds);
}

static void test_remove_mean(void)
{
    ml_dataset *ds = make_data(N, D, 2);
    double mean[D], cov[D * D];
    moments(ds, mean, cov);
    ml_transform *t = NULL;
    CHECK_OK(ml_preprocess_remove_mean_fit(ds, &t), "remove-mean: fit");
    if (!t)
        return;
    ml_dataset *out = copy_data(ds);
    CHECK_OK(ml_transform_apply(t, out), "remove-mean: apply");
    const float *x = ml_tensor_f32(ds->X), *y = ml_tensor_f32(out->X);
    double err = 0;
    for (int64_t i = 0; i < N * D; i++)
        err = fmax(err, fabs((x[i] - mean[i % D]) - y[i]));
    CHECK(err < 1e-5, "remove-mean: x - mean in double (max err %.2g)", err);
    round_trip(t, ds, "rm.h5");
    ml_dataset_free(out);
    ml_transform_free(t);
    ml_dataset *empty = NULL;
    ml_dataset_view_rows(ds, 0, 0, &empty);
    CHECK(ml_preprocess_remove_mean_fit(empty, &t) == ML_EINVAL, "remove-mean: no rows refused");
    ml_dataset_free(empty);
    ml_dataset_free(ds);
}

static void test_zca(void)
{
    ml_dataset *ds = make_data(N, D, 3);
    double mean[D], cov[D * D];
    moments(ds, mean, cov);
    const double bias = 0.1;
    ml_transform *t = NULL;
    CHECK_OK(ml_preprocess_zca_fit(ds, 0, bias, 1, &t), "zca: fit (all components, inverse)");
    if (!t)
        return;
    CHECK(t->W->shape[0] == D && t->W->shape[1] == D && t->n_components == D && t->W_inv,
          "zca: W [D, D], D components, W_inv stored");
    const float *W = ml_tensor_f32(t->W), *Wi = ml_tensor_f32(t->W_inv);
    const float *m = ml_tensor_f32(t->mean);
    double e_mean = 0, e_sym = 0, e_id = 0, e_inv = 0;
    for (int j = 0; j < D; j++)
        e_mean = fmax(e_mean, fabs(m[j] - mean[j]));
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            e_sym = fmax(e_sym, fabs(W[a * D + b] - W[b * D + a]));
            /* (W (C + bI) W)[a][b] */
            double s = 0, p = 0;
            for (int i = 0; i < D; i++)
                for (int k = 0; k < D; k++)
                    s += W[a * D + i] * (cov[i * D + k] + (i == k ? bias : 0)) * W[k * D + b];
            for (int i = 0; i < D; i++)
                p += (double)W[a * D + i] * Wi[i * D + b];
            e_id = fmax(e_id, fabs(s - (a == b)));
            e_inv = fmax(e_inv, fabs(p - (a == b)));
        }
    CHECK(e_mean < 1e-4, "zca: mean matches double (err %.2g)", e_mean);
    CHECK(e_sym < 1e-5, "zca: W is symmetric (err %.2g)", e_sym);
    CHECK(e_id < 1e-3, "zca: W (C + filter_bias I) W = I (err %.2g)", e_id);
    CHECK(e_inv < 1e-3, "zca: W W_inv = I (err %.2g)", e_inv);
    const float *ev = ml_tensor_f32(t->eigenvalues);
    double tr = 0, sum = 0;
    int desc = 1;
    for (int j = 0; j < D; j++) {
        tr += cov[j * D + j];
        sum += ev[j];
        if (j && ev[j] > ev[j - 1])
            desc = 0;
    }
    CHECK(desc && fabs(tr - sum) < 1e-4 * tr, "zca: eigenvalues descending, summing to the "
          "trace (%.6f vs %.6f)", sum, tr);
    /* Whitened covariance: C_w = W C W, computed from the applied data in double. */
    ml_dataset *out = copy_data(ds);
    CHECK_OK(ml_transform_apply(t, out), "zca: apply");
    double m2[D], c2[D * D], e_c = 0;
    moments(out, m2, c2);
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int i = 0; i < D; i++)
                for (int k = 0; k < D; k++)
                    s += W[a * D + i] * cov[i * D + k] * W[k * D + b];
            e_c = fmax(e_c, fabs(c2[a * D + b] - s));
        }
    CHECK(e_c < 1e-3, "zca: covariance of the output = W C W (err %.2g)", e_c);
    round_trip(t, ds, "zca.h5");
    ml_dataset_free(out);
    ml_transform_free(t);

    /* Fewer components: W = V_k diag V_k^T has rank k; W (C+bI) W is the
     * projection onto the top k eigenvectors, whose trace is k. */
    CHECK_OK(ml_preprocess_zca_fit(ds, 3, bias, 0, &t), "zca: fit 3 components");
    if (t) {
        W = ml_tensor_f32(t->W);
        double trace = 0;
        for (int a = 0; a < D; a++)
            for (int i = 0; i < D; i++)
                for (int k = 0; k < D; k++)
                    trace += W[a * D + i] * (cov[i * D + k] + (i == k ? bias : 0)) * W[k * D + a];
        CHECK(fabs(trace - 3) < 1e-3 && !t->W_inv, "zca: 3 components: trace of W (C+bI) W is 3 "
              "(%.5f)", trace);
        round_trip(t, ds, "zca3.h5");
        ml_transform_free(t);
    }
    CHECK(ml_preprocess_zca_fit(ds, D + 1, bias, 0, &t) == ML_EINVAL && !t,
          "zca: more components than features refused");
    ml_dataset_free(ds);
}

static void test_pca(void)
{
    ml_dataset *ds = make_data(N, D, 4);
    double mean[D], cov[D * D];
    moments(ds, mean, cov);
    for (int whiten = 0; whiten < 2; whiten++) {
        const int K = 4;
        ml_transform *t = NULL;
        CHECK_OK(ml_preprocess_pca_fit(ds, K, whiten, &t), "pca whiten=%d: fit", whiten);
        if (!t)
            continue;
        CHECK(t->W->shape[0] == D && t->W->shape[1] == K && t->n_outputs == K,
              "pca: W is [D, K]");
        const float *W = ml_tensor_f32(t->W), *ev = ml_tensor_f32(t->eigenvalues);
        double e_orth = 0, e_eig = 0, e_wc = 0;
        for (int a = 0; a < K; a++) {
            double scale_a = whiten ? sqrt(ev[a]) : 1;
            for (int b = 0; b < K; b++) {
                double scale_b = whiten ? sqrt(ev[b]) : 1;
                double dot = 0, wcw = 0;
                for (int i = 0; i < D; i++) {
                    dot += W[i * K + a] * scale_a * W[i * K + b] * scale_b;
                    for (int k = 0; k < D; k++)
                        wcw += W[i * K + a] * cov[i * D + k] * W[k * K + b];
                }
                e_orth = fmax(e_orth, fabs(dot - (a == b)));
                double want = a == b ? (whiten ? 1 : ev[a]) : 0;
                e_wc = fmax(e_wc, fabs(wcw - want) / (whiten ? 1 : ev[0]));
            }
            for (int i = 0; i < D; i++) {
                double cv = 0;
                for (int k = 0; k < D; k++)
                    cv += cov[i * D + k] * W[k * K + a];
                e_eig = fmax(e_eig, fabs(cv - ev[a] * W[i * K + a]) / ev[0] * scale_a);
            }
        }
        CHECK(e_orth < 1e-4, "pca whiten=%d: components orthonormal (err %.2g)", whiten, e_orth);
        CHECK(e_eig < 1e-4, "pca whiten=%d: C v = l v in double (err %.2g)", whiten, e_eig);
        CHECK(e_wc < 1e-4, "pca whiten=%d: W^T C W = %s (err %.2g)", whiten,
              whiten ? "I" : "diag(l)", e_wc);
        CHECK(ev[0] >= ev[1] && ev[1] >= ev[2] && ev[2] >= ev[3],
              "pca: eigenvalues descending");
        ml_dataset *out = copy_data(ds);
        CHECK_OK(ml_transform_apply(t, out), "pca: apply");
        CHECK(out->X->ndim == 2 && out->X->shape[0] == N && out->X->shape[1] == K,
              "pca: output is [N, K]");
        round_trip(t, ds, "pca.h5");
        ml_dataset_free(out);
        ml_transform_free(t);
    }
    ml_dataset_free(ds);
}

static void test_pipeline(void)
{
    ml_dataset *ds = make_data(N, D, 5);
    ml_transform *items[3] = {NULL, NULL, NULL};
    CHECK_OK(ml_preprocess_remove_mean_fit(ds, &items[0]), "pipeline: remove-mean");
    ml_dataset *mid = copy_data(ds);
    ml_transform_apply(items[0], mid);
    CHECK_OK(ml_preprocess_pca_fit(mid, 3, 1, &items[1]), "pipeline: pca on its output");
    ml_transform_apply(items[1], mid);
    CHECK_OK(ml_preprocess_gcn_fit(mid, NULL, &items[2]), "pipeline: gcn on its output");
    ml_transform_apply(items[2], mid);
    ml_transform *p = NULL;
    CHECK_OK(ml_transform_pipeline(items, 3, &p), "pipeline: built");
    if (!p) {
        ml_dataset_free(mid);
        ml_dataset_free(ds);
        return;
    }
    CHECK(p->n_features == D && p->n_outputs == 3 && p->n_items == 3, "pipeline: D in 6, out 3");
    ml_dataset *out = copy_data(ds);
    CHECK_OK(ml_transform_apply(p, out), "pipeline: apply");
    CHECK(max_diff(out, mid) == 0, "pipeline: same as the items one after another");
    round_trip(p, ds, "pipe.h5");
    /* Nested: a pipeline inside a pipeline. */
    ml_transform *rm = NULL, *outer = NULL;
    ml_preprocess_remove_mean_fit(ds, &rm);
    ml_transform *two[2] = {rm, p};
    CHECK_OK(ml_transform_pipeline(two, 2, &outer), "pipeline: nested");
    if (outer)
        round_trip(outer, ds, "nested.h5");
    ml_transform_free(outer);
    /* Mismatched items refused. */
    ml_transform *a = NULL, *b = NULL, *bad = NULL;
    ml_preprocess_pca_fit(ds, 2, 0, &a);
    ml_preprocess_remove_mean_fit(ds, &b);
    ml_transform *mis[2] = {a, b};
    CHECK(ml_transform_pipeline(mis, 2, &bad) == ML_ESHAPE && !bad,
          "pipeline: item 1 taking 6 features after one giving 2 refused: %s", ml_last_error());
    ml_dataset_free(out);
    ml_dataset_free(mid);
    ml_dataset_free(ds);
}

/* Pylearn2's lecun_lcn written out directly: the Gaussian filter, a "full"
 * convolution cut to the middle, then the divisive step. */
static void lcn_reference(const float *img, double *out, int h, int w, int k)
{
    double g[15][15], sum = 0;
    int mid = k / 2;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double x = a - mid, y = b - mid;
            g[a][b] = 1.0 / (2 * M_PI * 4) * exp(-(x * x + y * y) / (2 * 4.0));
            sum += g[a][b];
        }
    double conv[32][32], den[32][32], avg = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double s = 0, s2 = 0;
            /* full convolution output (i + mid, j + mid) */
            for (int p = 0; p < h; p++)
                for (int q = 0; q < w; q++) {
                    int a = i + mid - p, b = j + mid - q;
                    if (a < 0 || a >= k || b < 0 || b >= k)
                        continue;
                    s += g[a][b] / sum * img[p * w + q];
                    s2 += g[a][b] / sum * img[p * w + q] * img[p * w + q];
                }
            conv[i][j] = s;
            den[i][j] = sqrt(s2);
            avg += den[i][j];
        }
    avg /= h * w;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double d = fmax(fmax(avg, den[i][j]), 1e-4);
            out[i * w + j] = (img[i * w + j] - conv[i][j]) / d;
        }
}

static void test_lcn(void)
{
    const int n = 4, c = 2, h = 9, w = 11;
    ml_dataset *ds = make_data(n, c * h * w, 7);
    ds->image_shape[0] = c;
    ds->image_shape[1] = h;
    ds->image_shape[2] = w;
    float *x = ml_tensor_f32(ds->X);
    for (int j = 0; j < h * w; j++)
        x[j] = 0; /* a blank plane: divided by the threshold, stays 0 */
    for (int k = 3; k <= 7; k += 4) {
        ml_transform *t = NULL;
        CHECK_OK(ml_preprocess_lcn_fit(ds, k, &t), "lcn %d: fit", k);
        if (!t)
            continue;
        ml_dataset *out = copy_data(ds);
        CHECK_OK(ml_transform_apply(t, out), "lcn %d: apply", k);
        const float *y = ml_tensor_f32(out->X);
        double err = 0, ref[9 * 11];
        for (int i = 0; i < n * c; i++) {
            lcn_reference(x + i * h * w, ref, h, w, k);
            for (int j = 0; j < h * w; j++)
                err = fmax(err, fabs(ref[j] - y[i * h * w + j]));
        }
        CHECK(err < 1e-5, "lcn kernel %d: matches lecun_lcn in double (max err %.2g)", k, err);
        CHECK(y[0] == 0 && y[h * w - 1] == 0, "lcn: a blank plane stays 0");
        round_trip(t, ds, "lcn.h5");
        ml_dataset_free(out);
        ml_transform_free(t);
    }
    ml_transform *t = NULL;
    CHECK(ml_preprocess_lcn_fit(ds, 4, &t) == ML_EINVAL && !t, "lcn: an even kernel refused");
    ds->image_shape[0] = 0;
    CHECK(ml_preprocess_lcn_fit(ds, 7, &t) == ML_EINVAL && !t, "lcn: rows without an image shape"
          " refused: %s", ml_last_error());
    ml_dataset_free(ds);
}

/* Each patch is found, by search, as a region of an image with that image's label. */
static void test_patches(void)
{
    const int n = 5, c = 2, h = 6, w = 7, ph = 3, pw = 2, m = 40;
    ml_dataset *ds = make_data(n, c * h * w, 9);
    ds->image_shape[0] = c;
    ds->image_shape[1] = h;
    ds->image_shape[2] = w;
    float *x = ml_tensor_f32(ds->X);
    for (int i = 0; i < n * c * h * w; i++)
        x[i] = (float)i; /* every value unique */
    ds->y = ml_tensor_new(ML_I32, 1, (int64_t[]){n}, ML_CPU);
    ds->n_classes = n;
    for (int i = 0; i < n; i++)
        ml_tensor_i32(ds->y)[i] = i;
    ml_transform *t = NULL;
    CHECK_OK(ml_preprocess_patches_fit(ds, (int64_t[]){ph, pw}, m, 42, &t), "patches: fit");
    if (!t) {
        ml_dataset_free(ds);
        return;
    }
    ml_dataset *out = copy_data(ds);
    CHECK_OK(ml_transform_apply(t, out), "patches: apply");
    CHECK(ml_dataset_n_examples(out) == m && ml_dataset_n_features(out) == c * ph * pw &&
              out->image_shape[0] == c && out->image_shape[1] == ph && out->image_shape[2] == pw,
          "patches: %d rows of %d x %d x %d", m, c, ph, pw);
    int found = 0, images_seen = 0;
    int seen[5] = {0};
    for (int i = 0; i < m; i++) {
        const float *p = ml_tensor_f32(out->X) + i * c * ph * pw;
        int ok = 0;
        for (int img = 0; img < n && !ok; img++)
            for (int r0 = 0; r0 + ph <= h && !ok; r0++)
                for (int c0 = 0; c0 + pw <= w && !ok; c0++) {
                    int same = 1;
                    for (int ch = 0; ch < c && same; ch++)
                        for (int r = 0; r < ph && same; r++)
                            for (int q = 0; q < pw && same; q++)
                                same = p[(ch * ph + r) * pw + q] ==
                                       x[((img * c + ch) * h + r0 + r) * w + c0 + q];
                    if (same && ml_tensor_i32(out->y)[i] == img) {
                        ok = 1;
                        seen[img] = 1;
                    }
                }
        found += ok;
    }
    for (int i = 0; i < n; i++)
        images_seen += seen[i];
    CHECK(found == m, "patches: every patch is a region of its image, with its label (%d/%d)",
          found, m);
    CHECK(images_seen == n, "patches: 40 patches come from all 5 images");
    round_trip(t, ds, "patches.h5");
    ml_transform *again = NULL;
    ml_preprocess_patches_fit(ds, (int64_t[]){ph, pw}, m, 42, &again);
    ml_dataset *out2 = copy_data(ds);
    ml_transform_apply(again, out2);
    CHECK(max_diff(out, out2) == 0, "patches: the same seed gives the same patches");
    ml_transform_free(again);
    ml_dataset_free(out2);
    CHECK(ml_preprocess_patches_fit(ds, (int64_t[]){7, 2}, m, 1, &again) == ML_EINVAL && !again,
          "patches: a patch taller than the image refused: %s", ml_last_error());
    ml_dataset_free(out);
    ml_transform_free(t);
    ml_dataset_free(ds);
}

static void test_files(void)
{
    ml_transform *t = NULL;
    FILE *fp = fopen(tmp("junk.h5"), "w");
    fputs("not hdf5", fp);
    fclose(fp);
    CHECK(ml_transform_load(tmp("junk.h5"), &t) != ML_OK && !t, "load: junk refused");
    ml_h5_file *f = NULL;
    ml_h5_create(tmp("unknown.h5"), &f);
    ml_h5_attr_write_str(f, "/", "ml_format", "ml-transform");
    ml_h5_attr_write_i64(f, "/", "ml_format_version", 1);
    ml_h5_attr_write_str(f, "/", "transform", "whiten-all");
    ml_h5_commit(f);
    ml_h5_close(f);
    ml_status s = ml_transform_load(tmp("unknown.h5"), &t);
    CHECK(s == ML_EFORMAT && strstr(ml_last_error(), "unknown transform 'whiten-all'"),
          "load: unknown transform named: %s", ml_last_error());
}

int main(void)
{
    scratch_begin("test_preprocess");
    uint64_t live = ml_alloc_stats_get().bytes_live;
    test_gcn();
    test_remove_mean();
    test_zca();
    test_pca();
    test_pipeline();
    test_lcn();
    test_patches();
    test_files();
    CHECK(ml_alloc_stats_get().bytes_live == live, "no memory leaked (%llu bytes live)",
          (unsigned long long)(ml_alloc_stats_get().bytes_live - live));
    scratch_end();
    return harness_done();
}
