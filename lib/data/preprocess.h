/* Preprocessing of datasets: split, shuffle, and preprocessors that are fitted
 * on one dataset and applied to others (Pylearn2's preprocessing.py).
 *
 * A fitted preprocessor is an ml_transform, kept in a transform file
 * (ml-files(5), TRANSFORM FILES).  Standardize:
 * per feature, x' = (x - mean) / std, where mean and std (the population
 * standard deviation, as NumPy's X.std(axis=0)) are computed over the rows of
 * the fitting dataset in double precision, and std is floored at std_eps
 * (default 1e-4, Pylearn2's Standardize std_eps; Pylearn2 divides by
 * std + std_eps instead).  The floored std is what the file stores, so
 * (X - mean) / std with h5py gives the same numbers.
 *
 * Applying a transform, and fitting one that reads X (standardize,
 * remove-mean, zca, pca), needs X in memory: a streamed dataset fails with the
 * message of ml_dataset_require_memory (ML_EINVAL). */
#ifndef ML_DATA_PREPROCESS_H
#define ML_DATA_PREPROCESS_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "io/h5.h"
#include "tensor/tensor.h"

#define ML_TRANSFORM_FORMAT "ml-transform"
#define ML_TRANSFORM_FORMAT_VERSION 1
#define ML_STANDARDIZE_STD_EPS 1e-4

/* ---- split and shuffle ------------------------------------------------- */

/* Consecutive parts: the first counts[0] rows, the next counts[1] rows, ...
 * (the counts may add up to fewer rows than the dataset has; the rest is left
 * out; more is ML_EINVAL: "train.h5: the counts add up to 70000, the data has
 * 60000 rows").  parts[i] share the rows of ds (ml_dataset_view_rows). */
ml_status ml_preprocess_split(const ml_dataset *ds, const int64_t *counts, int n_parts,
                              ml_dataset **parts);

/* The permutation of 0..n-1 that ml_preprocess_shuffle applies for seed: a
 * Fisher-Yates shuffle drawn from the Philox-4x32-10 stream of ml_rng_seed(seed),
 * so a seed gives the same order on every machine.  *perm is ml_malloc'ed. */
ml_status ml_preprocess_permutation(uint64_t seed, int64_t n, int32_t **perm);

/* The rows of ds in the order of ml_preprocess_permutation(seed, N) (a copy;
 * row i of the result is row perm[i] of ds). */
ml_status ml_preprocess_shuffle(const ml_dataset *ds, uint64_t seed, ml_dataset **out);

/* ---- transforms -------------------------------------------------------- */

#define ML_GCN_MIN_DIVISOR 1e-8
#define ML_ZCA_FILTER_BIAS 0.1

typedef struct ml_transform ml_transform;
struct ml_transform {
    char *kind;         /* "standardize", "gcn", "remove-mean", "zca", "pca", "lcn", "patches",
                         * "pipeline" */
    int64_t n_features; /* D of the rows it takes */
    int64_t n_outputs;  /* D of the rows it gives (pca: num_components; else n_features) */
    ml_tensor *mean;    /* float32 [D]: standardize, remove-mean, zca, pca */
    ml_tensor *std;     /* float32 [D], every value >= (float)std_eps: standardize */
    double std_eps;
    /* gcn (Pylearn2's global_contrast_normalize) */
    double scale, sqrt_bias, min_divisor;
    int subtract_mean, use_std;
    /* zca and pca: x' = (x - mean) W */
    ml_tensor *W;           /* float32 [D, K] */
    ml_tensor *W_inv;       /* zca with store_inverse: float32 [D, D], or NULL */
    ml_tensor *eigenvalues; /* float32 [K]: the covariance eigenvalues used, descending */
    double filter_bias;     /* zca */
    int64_t n_components;   /* zca, pca: K (zca: eigenvectors kept, W stays [D, D]) */
    int whiten, store_inverse;
    /* lcn */
    int64_t kernel_size;
    double threshold;
    int64_t image_shape[3]; /* lcn, patches: C, H, W of the images it takes */
    /* patches */
    int64_t patch_shape[2]; /* rows, columns */
    int64_t num_patches;
    uint64_t seed;
    /* pipeline: items applied in order */
    ml_transform **items;
    int n_items;
    int64_t n_examples; /* rows it was fitted on */
    char *provenance;   /* commands that made the fitting data, and the fit ("" if none) */
    char *name;         /* file name for messages */
};

/* Fits standardize on the rows of ds (std_eps <= 0: the default 1e-4).  An empty
 * dataset, or a feature whose mean or std is not finite, is an error. */
ml_status ml_preprocess_standardize_fit(const ml_dataset *ds, double std_eps, ml_transform **out);

/* RemoveMean: x' = x - mean, the per-feature mean over the rows (double sums). */
ml_status ml_preprocess_remove_mean_fit(const ml_dataset *ds, ml_transform **out);

typedef struct {
    double scale;        /* default 1 */
    int subtract_mean;   /* default 1 */
    int use_std;         /* default 0 */
    double sqrt_bias;    /* default 0 */
    double min_divisor;  /* default 1e-8 */
} ml_gcn_opts;
void ml_gcn_opts_default(ml_gcn_opts *o);
/* GlobalContrastNormalization, per example (Pylearn2's global_contrast_normalize):
 * x -= mean(x) when subtract_mean; n = sqrt(sqrt_bias + var(x, ddof=1 (0 when D
 * is 1))) / scale when use_std, else sqrt(sqrt_bias + sum(x^2)) / scale; n < min_divisor
 * becomes 1; x /= n.  Nothing to fit: the transform keeps the parameters and D. */
ml_status ml_preprocess_gcn_fit(const ml_dataset *ds, const ml_gcn_opts *o, ml_transform **out);

/* ZCA (Pylearn2's ZCA): mean, covariance C = Xc^T Xc / N (cblas_ssyrk), its
 * eigendecomposition C = V diag(l) V^T (LAPACK ssyevd), and
 * W = V_k diag(1 / sqrt(l_k + filter_bias)) V_k^T over the n_components largest
 * eigenvalues (n_components <= 0: all D); filter_bias < 0: the default 0.1.
 * store_inverse: also W_inv = V_k diag(sqrt(l_k + filter_bias)) V_k^T. */
ml_status ml_preprocess_zca_fit(const ml_dataset *ds, int64_t n_components, double filter_bias,
                                int store_inverse, ml_transform **out);
/* PCA: the num_components (<= 0: all D) eigenvectors of the covariance with the
 * largest eigenvalues as the columns of W [D, K]; whiten divides column k by
 * sqrt(max(l_k, 1e-8)).  Applying gives [N, K] rows (the image shape is dropped). */
ml_status ml_preprocess_pca_fit(const ml_dataset *ds, int64_t num_components, int whiten,
                                ml_transform **out);

/* LeCunLCN (Pylearn2's lecun_lcn on each channel of each image): with g the
 * kernel_size x kernel_size Gaussian (sigma 2, normalized to sum 1) and *
 * a zero-padded "same" convolution, x' = (x - g*x) / max(max(d, mean(d)), 1e-4)
 * where d = sqrt(g*(x^2)) and mean(d) is over the pixels of that image and
 * channel.  Needs rows that are images (ds->image_shape); kernel_size <= 0:
 * 7; it must be odd.  Nothing is fitted but the image shape. */
#define ML_LCN_KERNEL_SIZE 7
#define ML_LCN_THRESHOLD 1e-4
ml_status ml_preprocess_lcn_fit(const ml_dataset *ds, int64_t kernel_size, ml_transform **out);

/* ExtractPatches: num_patches patches of patch_shape (rows, columns), all
 * channels, each from an image, a row and a column drawn in that order with
 * ml_rng_below from the Philox stream of seed; the result has num_patches rows
 * of C * rows * columns features (image shape C, rows, columns) and the
 * int label of each patch's image (float targets are dropped).  Applying it
 * replaces X (and y) of the dataset; nothing else is fitted. */
ml_status ml_preprocess_patches_fit(const ml_dataset *ds, const int64_t patch_shape[2],
                                    int64_t num_patches, uint64_t seed, ml_transform **out);

/* A fit of any of the kinds above with its settings: what ml-preprocess's
 * options and an experiment's preprocessors describe. */
typedef enum {
    ML_PREPROCESS_STANDARDIZE,
    ML_PREPROCESS_GCN,
    ML_PREPROCESS_ZCA,
    ML_PREPROCESS_PCA,
    ML_PREPROCESS_LCN,
    ML_PREPROCESS_REMOVE_MEAN,
    ML_PREPROCESS_PATCHES
} ml_preprocess_kind;

typedef struct {
    ml_preprocess_kind kind;
    double std_eps;                      /* standardize */
    ml_gcn_opts gcn;                     /* gcn */
    int64_t n_components;                /* zca, pca */
    double filter_bias;                  /* zca */
    int store_inverse;                   /* zca */
    int whiten;                          /* pca */
    int64_t kernel_size;                 /* lcn */
    int64_t patch_shape[2], num_patches; /* patches */
    uint64_t seed;                       /* patches */
} ml_preprocess_spec;

/* The fit function of spec's kind with spec's settings. */
ml_status ml_preprocess_fit(const ml_dataset *ds, const ml_preprocess_spec *spec, ml_transform **out);

/* A pipeline of n items (taking ownership of them, freed on failure too); each
 * item's n_features must equal the previous item's n_outputs. */
ml_status ml_transform_pipeline(ml_transform **items, int n, ml_transform **out);

/* Applies t to X (every dataset sharing these rows sees the change, except for
 * pca, which replaces X by a new [N, K] tensor, and patches, which replaces X
 * and y by the patches and their labels; a pipeline applies its items in order).  A transform fitted on another
 * number of features: ML_ESHAPE,
 * "valid.h5: transform std.h5 was fitted on 784 features, the data has 100". */
ml_status ml_transform_apply(const ml_transform *t, ml_dataset *ds);

void ml_transform_free(ml_transform *t);
ml_status ml_transform_set_name(ml_transform *t, const char *name);
/* Appends one line to the provenance (as ml_dataset_add_provenance). */
ml_status ml_transform_add_provenance(ml_transform *t, const char *line);

/* Transform files (ml-files(5), TRANSFORM FILES).  Reading checks ml_format
 * "ml-transform", ml_format_version at most 1, a known transform and the shapes
 * of its arrays (standardize: /mean and /std float [D] with std > 0).  A
 * pipeline keeps its items in groups /0, /1, ... laid out as a root would be. */
ml_status ml_transform_load(const char *path, ml_transform **out);
ml_status ml_transform_read(ml_h5_file *f, ml_transform **out);
ml_status ml_transform_write(ml_h5_file *f, const ml_transform *t);
/* Creates path ("-": standard output), writes and commits (atomically). */
ml_status ml_transform_save(const ml_transform *t, const char *path);

#endif
