/* Data benchmarks: importing the 60000 Fashion-MNIST training images and labels
 * from their gzip-compressed IDX files (median of 3), then standardize
 * fitting and applying on them, and ZCA (all 784 components, filter_bias 0.1)
 * fitting and applying, with the share of the fit spent in the covariance
 * GEMM (cblas_ssyrk of the centered [60000, 784] matrix, timed alone in the
 * same run).  Skipped when the files are absent
 * (Debian package dataset-fashion-mnist). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "ml.h"

#define DIR "/usr/share/datasets/fashion-mnist"
#define REPS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(void)
{
    fprintf(stderr, "bench_data: %s\n", ml_last_error());
    exit(1);
}

int main(void)
{
    const char *images = DIR "/train-images-idx3-ubyte.gz";
    const char *labels = DIR "/train-labels-idx1-ubyte.gz";
    if (access(images, R_OK) != 0 || access(labels, R_OK) != 0) {
        printf("bench_data: skipped: %s not found (install dataset-fashion-mnist)\n", images);
        return 0;
    }
    double t_import[REPS], c_import[REPS], t_fit[REPS], t_apply[REPS];
    int64_t n = 0;
    for (int r = 0; r < REPS; r++) {
        ml_dataset *ds = NULL;
        ml_transform *t = NULL;
        double c0 = cpu_now(), t0 = now();
        if (ml_idx_import(images, labels, NULL, &ds) != ML_OK)
            die();
        double t1 = now();
        c_import[r] = cpu_now() - c0;
        if (ml_preprocess_standardize_fit(ds, 0, &t) != ML_OK)
            die();
        double t2 = now();
        if (ml_transform_apply(t, ds) != ML_OK)
            die();
        double t3 = now();
        t_import[r] = t1 - t0;
        t_fit[r] = t2 - t1;
        t_apply[r] = t3 - t2;
        n = ml_dataset_n_examples(ds);
        ml_transform_free(t);
        ml_dataset_free(ds);
    }
    qsort(t_import, REPS, sizeof *t_import, cmp_double);
    qsort(c_import, REPS, sizeof *c_import, cmp_double);
    qsort(t_fit, REPS, sizeof *t_fit, cmp_double);
    qsort(t_apply, REPS, sizeof *t_apply, cmp_double);
    printf("bench_data: import idx fashion-mnist train (%lld images + labels): %.3f s "
           "(cpu %.3f s; median of %d)\n",
           (long long)n, t_import[REPS / 2], c_import[REPS / 2], REPS);
    printf("bench_data: standardize fit [%lld, 784]: %.3f s, apply: %.3f s (median of %d)\n",
           (long long)n, t_fit[REPS / 2], t_apply[REPS / 2], REPS);

    /* ZCA: median of REPS fits and applies, and the covariance GEMM alone. */
    double t_zfit[REPS], t_zapply[REPS], t_gemm[REPS];
    ml_dataset *ds = NULL;
    if (ml_idx_import(images, labels, NULL, &ds) != ML_OK)
        die();
    int64_t d = ml_dataset_n_features(ds);
    float *xc = malloc((size_t)(n * d) * sizeof *xc), *cov = malloc((size_t)(d * d) * sizeof *cov);
    double *mean = calloc((size_t)d, sizeof *mean);
    if (!xc || !cov || !mean)
        return 1;
    const float *x = ml_tensor_f32(ds->X);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            mean[j] += x[i * d + j];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            xc[i * d + j] = (float)(x[i * d + j] - mean[j] / (double)n);
    for (int r = 0; r < REPS; r++) {
        ml_dataset *copy = NULL;
        ml_transform *t = NULL;
        if (ml_dataset_view_rows(ds, 0, n, &copy) != ML_OK)
            die();
        double t0 = now();
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d, (blasint)n,
                    1.0f / (float)n, xc, (blasint)d, 0.0f, cov, (blasint)d);
        double t1 = now();
        if (ml_preprocess_zca_fit(ds, 0, 0.1, 0, &t) != ML_OK)
            die();
        double t2 = now();
        if (ml_transform_apply(t, copy) != ML_OK) /* in place: ds holds whitened rows after */
            die();
        double t3 = now();
        t_gemm[r] = t1 - t0;
        t_zfit[r] = t2 - t1;
        t_zapply[r] = t3 - t2;
        ml_transform_free(t);
        ml_dataset_free(copy);
        /* Re-import so every fit sees the raw pixels. */
        ml_dataset_free(ds);
        if (ml_idx_import(images, labels, NULL, &ds) != ML_OK)
            die();
    }
    qsort(t_gemm, REPS, sizeof *t_gemm, cmp_double);
    qsort(t_zfit, REPS, sizeof *t_zfit, cmp_double);
    qsort(t_zapply, REPS, sizeof *t_zapply, cmp_double);
    double gflop = 2.0 * (double)n * (double)d * (double)d * 1e-9;
    printf("bench_data: zca fit [%lld, %lld]: %.3f s (covariance GEMM alone %.3f s, %.0f%% of the "
           "fit, %.0f GFLOP/s), apply: %.3f s (%.0f GFLOP/s) (median of %d)\n",
           (long long)n, (long long)d, t_zfit[REPS / 2], t_gemm[REPS / 2],
           100.0 * t_gemm[REPS / 2] / t_zfit[REPS / 2], gflop / 2 / t_gemm[REPS / 2],
           t_zapply[REPS / 2], gflop / t_zapply[REPS / 2], REPS);
    free(xc);
    free(cov);
    free(mean);
    ml_dataset_free(ds);
    return 0;
}
