/* Preprocessing of datasets: split, shuffle, and preprocessors that are fitted
 * on one dataset and applied to others (Pylearn2's preprocessing.py).
 *
 * A fitted preprocessor is an ml_transform, kept in a transform file
 * (ml-files(5), TRANSFORM FILES).  The one preprocessor so far is standardize:
 * per feature, x' = (x - mean) / std, where mean and std (the population
 * standard deviation, as NumPy's X.std(axis=0)) are computed over the rows of
 * the fitting dataset in double precision, and std is floored at std_eps
 * (default 1e-4, Pylearn2's Standardize std_eps; Pylearn2 divides by
 * std + std_eps instead).  The floored std is what the file stores, so
 * (X - mean) / std with h5py gives the same numbers. */
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

typedef struct {
    char *kind;      /* "standardize" */
    ml_tensor *mean; /* float32 [D] */
    ml_tensor *std;  /* float32 [D], every value >= (float)std_eps */
    double std_eps;
    int64_t n_examples; /* rows it was fitted on */
    char *provenance;   /* commands that made the fitting data, and the fit ("" if none) */
    char *name;         /* file name for messages */
} ml_transform;

/* Fits standardize on the rows of ds (std_eps <= 0: the default 1e-4).  An empty
 * dataset, or a feature whose mean or std is not finite, is an error. */
ml_status ml_preprocess_standardize_fit(const ml_dataset *ds, double std_eps, ml_transform **out);

/* Applies t to X in place (every dataset sharing these rows sees the change).
 * A transform fitted on another number of features: ML_ESHAPE,
 * "valid.h5: transform std.h5 was fitted on 784 features, the data has 100". */
ml_status ml_transform_apply(const ml_transform *t, ml_dataset *ds);

void ml_transform_free(ml_transform *t);
ml_status ml_transform_set_name(ml_transform *t, const char *name);
/* Appends one line to the provenance (as ml_dataset_add_provenance). */
ml_status ml_transform_add_provenance(ml_transform *t, const char *line);

/* Transform files.  Reading checks ml_format "ml-transform", ml_format_version
 * at most 1, a known transform, /mean and /std float [D] with std > 0. */
ml_status ml_transform_load(const char *path, ml_transform **out);
ml_status ml_transform_read(ml_h5_file *f, ml_transform **out);
ml_status ml_transform_write(ml_h5_file *f, const ml_transform *t);
/* Creates path ("-": standard output), writes and commits (atomically). */
ml_status ml_transform_save(const ml_transform *t, const char *path);

#endif
