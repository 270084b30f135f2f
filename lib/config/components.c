/* The components of the experiment language: one table per Pylearn2 class,
 * whose constructor fills the structures of the layers below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "config/components.h"
#include "config/experiment.h"
#include "core/alloc.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/preprocess.h"
#include "model/cost.h"
#include "model/model.h"
#include "train/bgd.h"
#include "train/evaluate.h"
#include "train/train.h"

#define ALIASES(...) ((const char *const[]){__VA_ARGS__, NULL})

static ml_status args_strdup(ml_cfg_args *a, const char *name, char **out)
{
    const char *s;
    ML_TRY(ml_cfg_args_string(a, name, &s));
    *out = ml_strdup(s);
    return *out ? ML_OK : ML_ENOMEM;
}

/* A Pylearn2 seed: an integer, or a list of integers ([2012, 10, 5]) folded into one. */
static ml_status read_seed(ml_cfg_args *a, const char *name, uint64_t *seed)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, name);
    if (!n)
        return ML_OK;
    uint64_t s = 0;
    const ml_cfg_node *const *items = n->kind == ML_CFG_SEQ ? (const ml_cfg_node *const *)n->items : &n;
    size_t count = n->kind == ML_CFG_SEQ ? n->n : 1;
    for (size_t i = 0; i < count; i++) {
        const ml_cfg_node *it = items[i];
        char *end = NULL;
        long long v = it->kind == ML_CFG_SCALAR && it->text ? strtoll(it->text, &end, 10) : 0;
        if (!end || *end || v < 0)
            return ml_cfg_args_error(a, name, ML_EINVAL, "must be a non-negative integer or a list of them");
        s = s * 1000003u + (uint64_t)v;
    }
    *seed = s;
    return ML_OK;
}

/* ==== issue 4 (data): preprocessors in YAML ==== */

/* A preprocessor of the experiment language: its parameters, and once fitted
 * (by a dataset with fit_preprocessor: true, or read from a transform file)
 * the ml_transform that every dataset given it applies.  A pipeline applies
 * its items in turn, each with the same can_fit. */
typedef struct prep_object {
    const char *what;      /* component name, for messages */
    int kind;              /* PREP_* */
    ml_preprocess_spec fit; /* PREP_FIT: what is fitted, and how */
    struct prep_object **items; /* Pipeline (borrowed from the context) */
    int n_items;
    char *filename;        /* TransformFile */
    ml_transform *fitted;  /* owned; NULL until fitted */
} prep_object;

enum { PREP_FIT, PREP_PIPELINE, PREP_FILE };

static void prep_destroy(void *p)
{
    prep_object *o = p;
    if (!o)
        return;
    ml_transform_free(o->fitted);
    ml_free(o->items);
    ml_free(o->filename);
    ml_free(o);
}

static ml_status prep_new(ml_cfg_args *a, int kind, prep_object **out)
{
    prep_object *o = ml_calloc(1, sizeof *o);
    if (!o)
        return ML_ENOMEM;
    o->what = ml_cfg_args_component(a)->name;
    o->kind = kind;
    *out = o;
    return ML_OK;
}

static ml_status prep_new_fit(ml_cfg_args *a, ml_preprocess_kind kind, prep_object **out)
{
    ML_TRY(prep_new(a, PREP_FIT, out));
    (*out)->fit.kind = kind;
    return ML_OK;
}

/* Whether the preprocessor learns nothing from the data but its shape (so a
 * dataset may apply it unfitted, as Pylearn2 does). */
static int prep_stateless(const prep_object *o)
{
    ml_preprocess_kind k = o->fit.kind;
    return o->kind == PREP_FIT &&
           (k == ML_PREPROCESS_GCN || k == ML_PREPROCESS_LCN || k == ML_PREPROCESS_PATCHES);
}

/* Pylearn2's preprocessor.apply(dataset, can_fit). */
static ml_status prep_apply(prep_object *o, ml_dataset *ds, int can_fit)
{
    if (o->kind == PREP_PIPELINE) {
        for (int i = 0; i < o->n_items; i++)
            ML_TRY(prep_apply(o->items[i], ds, can_fit));
        return ML_OK;
    }
    if (o->kind == PREP_FIT && (can_fit || (!o->fitted && prep_stateless(o)))) {
        ml_transform *t = NULL;
        ML_TRY(ml_preprocess_fit(ds, &o->fit, &t));
        char name[300];
        snprintf(name, sizeof name, "%s fitted on %s", o->what, ds->name ? ds->name : "a dataset");
        ml_status st = ml_transform_set_name(t, name);
        if (st != ML_OK) {
            ml_transform_free(t);
            return st;
        }
        if (!can_fit) { /* stateless and unfitted: fitted for this dataset alone */
            st = ml_transform_apply(t, ds);
            ml_transform_free(t);
            return st;
        }
        ml_transform_free(o->fitted);
        o->fitted = t;
    }
    if (!o->fitted)
        return ml_error(ML_EINVAL,
                        "%s: the %s preprocessor is not fitted: the dataset with fit_preprocessor: true that "
                        "fits it must be built first (the Train's dataset is built before the monitoring "
                        "datasets)",
                        ds->name ? ds->name : "dataset", o->what);
    return ml_transform_apply(o->fitted, ds);
}

static ml_status standardize_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_STANDARDIZE, &o));
    int global_mean, global_std;
    ml_status st = ml_cfg_args_double(a, "std_eps", &o->fit.std_eps);
    if (st == ML_OK && o->fit.std_eps <= 0)
        st = ml_cfg_args_error(a, "std_eps", ML_EINVAL, "must be positive");
    if (st == ML_OK && (st = ml_cfg_args_bool(a, "global_mean", &global_mean)) == ML_OK && global_mean)
        st = ml_cfg_args_error(a, "global_mean", ML_EINVAL, "is not supported: the mean is per feature");
    if (st == ML_OK && (st = ml_cfg_args_bool(a, "global_std", &global_std)) == ML_OK && global_std)
        st = ml_cfg_args_error(a, "global_std", ML_EINVAL, "is not supported: the std is per feature");
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status gcn_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_GCN, &o));
    ml_gcn_opts_default(&o->fit.gcn);
    ml_status st = ml_cfg_args_double(a, "scale", &o->fit.gcn.scale);
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "subtract_mean", &o->fit.gcn.subtract_mean);
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "use_std", &o->fit.gcn.use_std);
    if (st == ML_OK)
        st = ml_cfg_args_double(a, "sqrt_bias", &o->fit.gcn.sqrt_bias);
    if (st == ML_OK)
        st = ml_cfg_args_double(a, "min_divisor", &o->fit.gcn.min_divisor);
    if (st == ML_OK && !(o->fit.gcn.scale > 0))
        st = ml_cfg_args_error(a, "scale", ML_EINVAL, "must be positive");
    if (st == ML_OK && !(o->fit.gcn.sqrt_bias >= 0))
        st = ml_cfg_args_error(a, "sqrt_bias", ML_EINVAL, "must not be negative");
    if (st == ML_OK && !(o->fit.gcn.min_divisor >= 0))
        st = ml_cfg_args_error(a, "min_divisor", ML_EINVAL, "must not be negative");
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status zca_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_ZCA, &o));
    ml_status st = ML_OK;
    if (ml_cfg_args_has(a, "n_components") && (st = ml_cfg_args_int64(a, "n_components", &o->fit.n_components)) == ML_OK &&
        o->fit.n_components < 1)
        st = ml_cfg_args_error(a, "n_components", ML_EINVAL, "must be positive");
    if (st == ML_OK && (st = ml_cfg_args_double(a, "filter_bias", &o->fit.filter_bias)) == ML_OK && !(o->fit.filter_bias >= 0))
        st = ml_cfg_args_error(a, "filter_bias", ML_EINVAL, "must not be negative");
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "store_inverse", &o->fit.store_inverse);
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status pca_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_PCA, &o));
    ml_status st = ml_cfg_args_int64(a, "num_components", &o->fit.n_components);
    if (st == ML_OK && o->fit.n_components < 1)
        st = ml_cfg_args_error(a, "num_components", ML_EINVAL, "must be positive");
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "whiten", &o->fit.whiten);
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status lcn_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_LCN, &o));
    ml_status st = ml_cfg_args_int64(a, "kernel_size", &o->fit.kernel_size);
    if (st == ML_OK && (o->fit.kernel_size < 1 || o->fit.kernel_size % 2 == 0))
        st = ml_cfg_args_error(a, "kernel_size", ML_EINVAL, "must be a positive odd number");
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status remove_mean_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_REMOVE_MEAN, &o));
    *out = o;
    return ML_OK;
}

static ml_status patches_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    int shape[2], n;
    ML_TRY(prep_new_fit(a, ML_PREPROCESS_PATCHES, &o));
    ml_status st = ml_cfg_args_ints(a, "patch_shape", shape, 2, &n);
    if (st == ML_OK && n != 2)
        st = ml_cfg_args_error(a, "patch_shape", ML_EINVAL, "must give rows and columns");
    if (st == ML_OK && (st = ml_cfg_args_int64(a, "num_patches", &o->fit.num_patches)) == ML_OK && o->fit.num_patches < 1)
        st = ml_cfg_args_error(a, "num_patches", ML_EINVAL, "must be positive");
    if (st == ML_OK)
        st = read_seed(a, "seed", &o->fit.seed);
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    o->fit.patch_shape[0] = shape[0];
    o->fit.patch_shape[1] = shape[1];
    *out = o;
    return ML_OK;
}

static ml_status pipeline_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new(a, PREP_PIPELINE, &o));
    int n = ml_cfg_args_count(a, "items");
    ml_status st = ML_OK;
    if (n == 0)
        st = ml_cfg_args_error(a, "items", ML_EINVAL, "must list at least one preprocessor");
    if (st == ML_OK && !(o->items = ml_calloc((size_t)n, sizeof *o->items)))
        st = ML_ENOMEM;
    for (int i = 0; st == ML_OK && i < n; i++) {
        void *item;
        if ((st = ml_cfg_args_item_object(a, "items", i, &item)) == ML_OK)
            o->items[o->n_items++] = item;
    }
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static ml_status transform_file_construct(ml_cfg_args *a, void **out)
{
    prep_object *o;
    ML_TRY(prep_new(a, PREP_FILE, &o));
    ml_status st = args_strdup(a, "filename", &o->filename);
    if (st == ML_OK)
        st = ml_transform_load(o->filename, &o->fitted);
    if (st != ML_OK) {
        prep_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static const ml_cfg_param standardize_params[] = {
    {.name = "std_eps", .type = ML_CFG_T_FLOAT, .def = "1e-4", .doc = "floor of each feature's standard deviation"},
    {.name = "global_mean", .type = ML_CFG_T_BOOL, .def = "false", .doc = "accepted for Pylearn2 files; must be false (per-feature mean)"},
    {.name = "global_std", .type = ML_CFG_T_BOOL, .def = "false", .doc = "accepted for Pylearn2 files; must be false (per-feature std)"},
    {0}};
static const ml_cfg_param gcn_params[] = {
    {.name = "scale", .type = ML_CFG_T_FLOAT, .def = "1", .doc = "the norm (or std) of each example afterwards"},
    {.name = "subtract_mean", .type = ML_CFG_T_BOOL, .def = "true", .doc = "subtract each example's mean first"},
    {.name = "use_std", .type = ML_CFG_T_BOOL, .def = "false", .doc = "divide by the standard deviation rather than the norm"},
    {.name = "sqrt_bias", .type = ML_CFG_T_FLOAT, .def = "0", .doc = "added under the square root"},
    {.name = "min_divisor", .type = ML_CFG_T_FLOAT, .def = "1e-8", .doc = "divisors below it become 1"},
    {.name = "batch_size", .type = ML_CFG_T_INT, .doc = "accepted for Pylearn2 files; ignored"},
    {0}};
static const ml_cfg_param zca_params[] = {
    {.name = "n_components", .type = ML_CFG_T_INT, .doc = "eigenvectors kept (default: all)"},
    {.name = "filter_bias", .type = ML_CFG_T_FLOAT, .def = "1", .doc = "added to the eigenvalues (Pylearn2's default; ml-preprocess zca uses 0.1)"},
    {.name = "store_inverse", .type = ML_CFG_T_BOOL, .def = "true", .doc = "also keep the inverse matrix"},
    {0}};
static const ml_cfg_param pca_params[] = {
    {.name = "num_components", .type = ML_CFG_T_INT, .required = 1, .doc = "components kept: the features of the result"},
    {.name = "whiten", .type = ML_CFG_T_BOOL, .def = "false", .doc = "divide each component by its standard deviation"},
    {0}};
static const ml_cfg_param lcn_params[] = {
    {.name = "kernel_size", .type = ML_CFG_T_INT, .def = "7", .doc = "side of the Gaussian window (odd)"},
    {.name = "img_shape", .type = ML_CFG_T_ANY, .doc = "accepted for Pylearn2 files; the shape is the dataset's image shape"},
    {0}};
static const ml_cfg_param patches_params[] = {
    {.name = "patch_shape", .type = ML_CFG_T_SHAPE, .required = 1, .doc = "rows and columns of a patch"},
    {.name = "num_patches", .type = ML_CFG_T_INT, .required = 1, .doc = "patches drawn: the examples of the result"},
    {.name = "seed", .type = ML_CFG_T_ANY, .def = "0", .doc = "seed of the draws (an integer or a list of them)"},
    {0}};
static const ml_cfg_param pipeline_params[] = {
    {.name = "items", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "preprocessor", .required = 1,
     .doc = "the preprocessors, applied in order"},
    {0}};
static const ml_cfg_param transform_file_params[] = {
    {.name = "filename", .type = ML_CFG_T_STRING, .required = 1, .doc = "a transform file written by ml-preprocess --fit"},
    {0}};

static const ml_component standardize_prep = {
    "Standardize", ALIASES("pylearn2.datasets.preprocessing.Standardize"), "preprocessor", standardize_params,
    standardize_construct, prep_destroy, "per feature, (x - mean) / std, mean and std fitted on a dataset"};
static const ml_component gcn_prep = {
    "GlobalContrastNormalization", ALIASES("pylearn2.datasets.preprocessing.GlobalContrastNormalization", "GCN"),
    "preprocessor", gcn_params, gcn_construct, prep_destroy,
    "per example, subtract its mean and divide by its norm or standard deviation (nothing to fit)"};
static const ml_component zca_prep = {
    "ZCA", ALIASES("pylearn2.datasets.preprocessing.ZCA"), "preprocessor", zca_params, zca_construct, prep_destroy,
    "ZCA whitening, (x - mean) W, fitted on a dataset"};
static const ml_component pca_prep = {
    "PCA", ALIASES("pylearn2.datasets.preprocessing.PCA"), "preprocessor", pca_params, pca_construct, prep_destroy,
    "projection on the num_components principal components, fitted on a dataset"};
static const ml_component lcn_prep = {
    "LeCunLCN", ALIASES("pylearn2.datasets.preprocessing.LeCunLCN"), "preprocessor", lcn_params, lcn_construct,
    prep_destroy, "local contrast normalization of each channel of images (nothing to fit)"};
static const ml_component remove_mean_prep = {
    "RemoveMean", ALIASES("pylearn2.datasets.preprocessing.RemoveMean"), "preprocessor", NULL,
    remove_mean_construct, prep_destroy, "per feature, x - mean, the mean fitted on a dataset"};
static const ml_component patches_prep = {
    "ExtractPatches", ALIASES("pylearn2.datasets.preprocessing.ExtractPatches"), "preprocessor", patches_params,
    patches_construct, prep_destroy, "replaces the images by num_patches random patches of them"};
static const ml_component pipeline_prep = {
    "Pipeline", ALIASES("pylearn2.datasets.preprocessing.Pipeline"), "preprocessor", pipeline_params,
    pipeline_construct, prep_destroy, "preprocessors applied in turn, each fitted when the pipeline is"};
static const ml_component transform_file_prep = {
    "TransformFile", NULL, "preprocessor", transform_file_params, transform_file_construct, prep_destroy,
    "a preprocessor already fitted, read from a transform file of ml-preprocess (never refitted)"};

#define DATASET_PREP_PARAMS                                                                                       \
    {.name = "preprocessor", .type = ML_CFG_T_OBJECT, .category = "preprocessor",                                 \
     .doc = "applied to the examples once loaded (share one between datasets with an anchor)"},                   \
    {.name = "fit_preprocessor", .type = ML_CFG_T_BOOL, .def = "false",                                           \
     .doc = "fit the preprocessor on this dataset before applying it (the training set)"},

/* The dataset's preprocessor and fit_preprocessor, applied to d; errors name the key. */
static ml_status apply_dataset_preprocessor(ml_cfg_args *a, ml_dataset *d)
{
    int fit;
    ML_TRY(ml_cfg_args_bool(a, "fit_preprocessor", &fit));
    if (!ml_cfg_args_has(a, "preprocessor")) {
        if (fit)
            return ml_cfg_args_error(a, "fit_preprocessor", ML_EINVAL, "needs a 'preprocessor'");
        return ML_OK;
    }
    void *obj;
    ML_TRY(ml_cfg_args_object(a, "preprocessor", NULL, &obj));
    prep_object *o = obj;
    if (ml_dataset_require_memory(d, "a preprocessor") != ML_OK)
        return ml_cfg_args_error(a, "preprocessor", ML_EINVAL, "%s", ml_last_error());
    if (fit && o->kind == PREP_FILE)
        return ml_cfg_args_error(a, "fit_preprocessor", ML_EINVAL,
                                 "must be false with a TransformFile (%s is fitted already)", o->filename);
    ml_status st = prep_apply(o, d, fit);
    if (st != ML_OK)
        return ml_cfg_args_error(a, "preprocessor", st, "%s", ml_last_error());
    return ML_OK;
}

/* ==== end of issue 4 (data): preprocessors in YAML ==== */

/* ---- datasets ---- */

static const ml_cfg_param hdf5_dataset_params[] = {
    {.name = "filename", .type = ML_CFG_T_STRING, .required = 1, .doc = "dataset file written by ml-preprocess (- for standard input)"},
    {.name = "X", .type = ML_CFG_T_STRING, .def = "X", .doc = "name of the HDF5 dataset holding the examples"},
    {.name = "y", .type = ML_CFG_T_STRING, .def = "y", .doc = "name of the HDF5 dataset holding the targets"},
    {.name = "start", .type = ML_CFG_T_INT, .def = "0", .doc = "first row to use"},
    {.name = "stop", .type = ML_CFG_T_INT, .doc = "one past the last row to use (default: the end)"},
    {.name = "storage", .type = ML_CFG_T_STRING, .def = "auto",
     .doc = "memory; stream (X stays in the file and a thread reads the next batches while training); or auto: stream when X would take more than half of the memory available"},

    {.name = "one_hot", .type = ML_CFG_T_BOOL, .def = "false",
     .doc = "targets become float rows of n_classes values, 1 at the label's class (the file's int labels)"},
    DATASET_PREP_PARAMS
    {0}};

static ml_status hdf5_dataset_construct(ml_cfg_args *a, void **out)
{
    ml_dataset_load_opts opts = {0};
    const char *filename;
    ML_TRY(ml_cfg_args_string(a, "filename", &filename));
    ML_TRY(ml_cfg_args_string(a, "X", &opts.x_name));
    ML_TRY(ml_cfg_args_string(a, "y", &opts.y_name));
    ML_TRY(ml_cfg_args_int64(a, "start", &opts.start));
    if (ml_cfg_args_has(a, "stop"))
        ML_TRY(ml_cfg_args_int64(a, "stop", &opts.stop));
    if (opts.start < 0)
        return ml_cfg_args_error(a, "start", ML_EINVAL, "must not be negative");
    if (ml_cfg_args_has(a, "stop") && opts.stop <= opts.start)
        return ml_cfg_args_error(a, "stop", ML_EINVAL, "must be greater than start");
    const char *storage;
    ML_TRY(ml_cfg_args_string(a, "storage", &storage));
    int kind = ml_storage_parse(storage);
    if (kind < 0)
        return ml_cfg_args_error(a, "storage", ML_EINVAL, "must be auto, memory or stream, not '%s'", storage);
    opts.storage = (ml_dataset_storage)kind;
    int one_hot;
    ML_TRY(ml_cfg_args_bool(a, "one_hot", &one_hot));
    ml_dataset *d = NULL;
    ML_TRY(ml_dataset_load(filename, &opts, &d));
    ml_status st = ML_OK;
    if (one_hot && ml_dataset_one_hot(d) != ML_OK)
        st = ml_cfg_args_error(a, "one_hot", ML_EINVAL, "%s", ml_last_error());
    if (st == ML_OK)
        st = apply_dataset_preprocessor(a, d);
    if (st != ML_OK) {
        ml_dataset_free(d);
        return st;
    }
    *out = d;
    return ML_OK;
}

static void hdf5_dataset_destroy(void *p) { ml_dataset_free(p); }

static const ml_component hdf5_dataset = {
    "HDF5Dataset", ALIASES("pylearn2.datasets.hdf5.HDF5Dataset", "DenseDesignMatrix"), "dataset",
    hdf5_dataset_params, hdf5_dataset_construct, hdf5_dataset_destroy,
    "examples X and targets y of a dataset file, optionally rows start to stop"};

/* ==== issue 4 (data): MNIST ==== */

static const ml_cfg_param mnist_params[] = {
    {.name = "which_set", .type = ML_CFG_T_STRING, .required = 1, .doc = "'train' (60000 examples) or 'test' (10000)"},
    {.name = "start", .type = ML_CFG_T_INT, .def = "0", .doc = "first example to use"},
    {.name = "stop", .type = ML_CFG_T_INT, .doc = "one past the last example to use (default: the end)"},
    {.name = "center", .type = ML_CFG_T_BOOL, .def = "false",
     .doc = "subtract the mean image of the examples kept (after start/stop), as Pylearn2 does"},
    {.name = "shuffle", .type = ML_CFG_T_BOOL, .def = "false",
     .doc = "shuffle the examples (fixed seed 1), before start/stop are applied"},
    {.name = "one_hot", .type = ML_CFG_T_BOOL, .def = "false",
     .doc = "targets become float rows of 10 values, 1 at the digit's class (the Softmax's cost and misclass take them)"},
    {.name = "binarize", .type = ML_CFG_T_BOOL, .def = "false", .doc = "pixels above 0.5 become 1, the others 0"},
    {.name = "path", .type = ML_CFG_T_STRING,
     .doc = "folder of the IDX files (default: ${PYLEARN2_DATA_PATH}/mnist)"},

    DATASET_PREP_PARAMS
    {0}};

/* dir/name, or dir/name.gz when only that exists; NULL (with a message) if neither. */
static char *mnist_file(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 8;
    char *p = ml_malloc(len);
    if (!p)
        return NULL;
    snprintf(p, len, "%s/%s", dir, name);
    if (access(p, R_OK) == 0)
        return p;
    snprintf(p, len, "%s/%s.gz", dir, name);
    if (access(p, R_OK) == 0)
        return p;
    ml_error(ML_EIO, "MNIST: neither %s/%s nor %s/%s.gz can be read", dir, name, dir, name);
    ml_free(p);
    return NULL;
}

static ml_status mnist_construct(ml_cfg_args *a, void **out)
{
    const char *which, *dir;
    char dirbuf[4096];
    int64_t start, stop = 0;
    int center, shuffle, one_hot, binarize;
    ML_TRY(ml_cfg_args_string(a, "which_set", &which));
    if (strcmp(which, "train") != 0 && strcmp(which, "test") != 0)
        return ml_cfg_args_error(a, "which_set", ML_EINVAL, "must be 'train' or 'test', not '%s'", which);
    ML_TRY(ml_cfg_args_int64(a, "start", &start));
    int has_stop = ml_cfg_args_has(a, "stop");
    if (has_stop)
        ML_TRY(ml_cfg_args_int64(a, "stop", &stop));
    if (start < 0)
        return ml_cfg_args_error(a, "start", ML_EINVAL, "must not be negative");
    if (has_stop && stop <= start)
        return ml_cfg_args_error(a, "stop", ML_EINVAL, "must be greater than start");
    ML_TRY(ml_cfg_args_bool(a, "center", &center));
    ML_TRY(ml_cfg_args_bool(a, "shuffle", &shuffle));
    ML_TRY(ml_cfg_args_bool(a, "one_hot", &one_hot));
    ML_TRY(ml_cfg_args_bool(a, "binarize", &binarize));
    if (ml_cfg_args_has(a, "path")) {
        ML_TRY(ml_cfg_args_string(a, "path", &dir));
    } else {
        const char *root = getenv("PYLEARN2_DATA_PATH");
        if (!root || !*root)
            return ml_cfg_args_error(a, "which_set", ML_EINVAL,
                                     "PYLEARN2_DATA_PATH is not set (the IDX files are read from ${PYLEARN2_DATA_PATH}/mnist)");
        snprintf(dirbuf, sizeof dirbuf, "%s/mnist", root);
        dir = dirbuf;
    }
    int train_set = strcmp(which, "train") == 0;
    char *images = mnist_file(dir, train_set ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
    char *labels = images ? mnist_file(dir, train_set ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte") : NULL;
    if (!labels) {
        ml_free(images);
        return ML_EIO;
    }
    ml_dataset *all = NULL, *d = NULL;
    ml_status st = ml_idx_import(images, labels, NULL, &all);
    ml_free(images);
    ml_free(labels);
    if (st != ML_OK)
        return st;
    int64_t n = ml_dataset_n_examples(all);
    if (!has_stop)
        stop = n;
    if (stop > n || start >= stop) {
        ml_dataset_free(all);
        return ml_cfg_args_error(a, has_stop ? "stop" : "start", ML_EINVAL,
                                 "rows %lld to %lld do not lie in the %lld examples of the %s set", (long long)start,
                                 (long long)stop, (long long)n, which);
    }
    /* The rows [start, stop) of the set, or of its fixed shuffle (seed 1). */
    int32_t *order = ml_malloc((size_t)(n + 1) * sizeof *order);
    if (!order) {
        ml_dataset_free(all);
        return ML_ENOMEM;
    }
    ml_rng rng;
    ml_rng_seed(&rng, 1);
    if (shuffle)
        ml_rng_permutation(&rng, order, n);
    else
        for (int64_t i = 0; i < n; i++)
            order[i] = (int32_t)i;
    st = ml_dataset_take_rows(all, order + start, stop - start, &d);
    ml_free(order);
    ml_dataset_free(all);
    if (st != ML_OK)
        return st;
    int64_t rows = ml_dataset_n_examples(d), cols = ml_dataset_n_features(d);
    float *x = ml_tensor_f32(d->X);
    if (binarize)
        for (int64_t i = 0; i < rows * cols; i++)
            x[i] = x[i] > 0.5f ? 1.0f : 0.0f;
    ml_transform *centering = NULL;
    if (center && rows > 0 && (st = ml_preprocess_remove_mean_fit(d, &centering)) == ML_OK)
        st = ml_transform_apply(centering, d);
    ml_transform_free(centering);
    if (st == ML_OK && one_hot)
        st = ml_dataset_one_hot(d);
    if (st == ML_OK)
        st = apply_dataset_preprocessor(a, d);
    if (st != ML_OK) {
        ml_dataset_free(d);
        return st;
    }
    *out = d;
    return ML_OK;
}

static const ml_component mnist = {
    "MNIST", ALIASES("pylearn2.datasets.mnist.MNIST"), "dataset", mnist_params, mnist_construct,
    hdf5_dataset_destroy,
    "the MNIST-format IDX files of ${PYLEARN2_DATA_PATH}/mnist (raw or .gz), pixels scaled to [0, 1]"};

/* ==== end of issue 4 (data): MNIST ==== */

/* ==== issue 4 (data): TransformerDataset ==== */

static const ml_cfg_param transformer_dataset_params[] = {
    {.name = "raw", .type = ML_CFG_T_OBJECT, .category = "dataset", .required = 1, .doc = "the dataset to transform"},
    {.name = "transformer", .type = ML_CFG_T_STRING, .required = 1, .doc = "a model file written by ml-train or ml-init"},
    {.name = "layer", .type = ML_CFG_T_STRING,
     .doc = "the layer whose outputs are the new examples (default: the top layer that is not a Softmax)"},
    {0}};

/* The outputs of layer `top` (0-based) of m for every row of raw, computed
 * once on the CPU in batches. */
static ml_status transformer_dataset_construct(ml_cfg_args *a, void **out)
{
    void *obj;
    const char *path, *layer_name = NULL;
    ML_TRY(ml_cfg_args_object(a, "raw", NULL, &obj));
    const ml_dataset *raw = obj;
    if (ml_dataset_require_memory(raw, "TransformerDataset") != ML_OK)
        return ml_cfg_args_error(a, "raw", ML_EINVAL, "%s", ml_last_error());
    ML_TRY(ml_cfg_args_string(a, "transformer", &path));
    if (ml_cfg_args_has(a, "layer"))
        ML_TRY(ml_cfg_args_string(a, "layer", &layer_name));
    ml_model *m = NULL;
    ML_TRY(ml_model_load(path, &m, NULL));
    int top = -1;
    ml_status st = ML_OK;
    for (int i = 0; i < m->n_layers; i++)
        if (layer_name ? strcmp(m->layers[i]->name, layer_name) == 0 : m->layers[i]->kind != ML_LAYER_SOFTMAX)
            top = i;
    if (top < 0)
        st = layer_name ? ml_cfg_args_error(a, "layer", ML_EINVAL, "%s has no layer '%s'", path, layer_name)
                        : ml_cfg_args_error(a, "transformer", ML_EINVAL, "%s has no layer but a Softmax", path);
    if (st == ML_OK && ml_dataset_n_features(raw) != ml_space_size(&m->input_space)) {
        char sp[96];
        st = ml_cfg_args_error(a, "raw", ML_ESHAPE, "rows of %lld values do not fit the input %s of %s",
                               (long long)ml_dataset_n_features(raw), ml_space_describe(&m->input_space, sp, sizeof sp),
                               path);
    }
    ml_dataset *d = NULL;
    if (st == ML_OK && !(d = ml_dataset_new(raw->name)))
        st = ML_ENOMEM;
    if (st == ML_OK && ml_dataset_n_examples(raw) == 0)
        st = ml_error(ML_EINVAL, "%s: the dataset has no examples", raw->name);
    if (st == ML_OK)
        st = ml_model_outputs(m, raw, top, 0, 1000, ML_CPU, &d->X);
    if (st == ML_OK && raw->y) {
        if (!(d->y = ml_tensor_new(raw->y->dtype, raw->y->ndim, raw->y->shape, ML_CPU)))
            st = ML_ENOMEM;
        else
            st = ml_tensor_copy(d->y, raw->y);
        d->n_classes = raw->n_classes;
    }
    if (st == ML_OK && raw->y_labels)
        st = ml_dataset_set_y_labels(d, (const char *const *)raw->y_labels, raw->n_y_labels);
    ml_model_free(m);
    if (st != ML_OK) {
        ml_dataset_free(d);
        return st;
    }
    *out = d;
    return ML_OK;
}

static const ml_component transformer_dataset = {
    "TransformerDataset", ALIASES("pylearn2.datasets.transformer_dataset.TransformerDataset"), "dataset",
    transformer_dataset_params, transformer_dataset_construct, hdf5_dataset_destroy,
    "the examples of raw seen through a layer of a trained model (computed once, on the CPU), with raw's targets"};

/* ==== end of issue 4 (data): TransformerDataset ==== */

/* ---- spaces ---- */

static const ml_cfg_param conv2d_space_params[] = {
    {.name = "shape", .type = ML_CFG_T_SHAPE, .required = 1, .doc = "rows and columns of an image"},
    {.name = "num_channels", .type = ML_CFG_T_INT, .def = "1", .doc = "channels of an image"},
    {.name = "axes", .type = ML_CFG_T_ANY, .doc = "axis order of a batch: ['b', 'c', 0, 1] (the layout of dataset files, default), ['b', 0, 1, 'c'] or ['c', 0, 1, 'b']; "
            "rows of dataset files are converted to it"},
    {0}};

static ml_status conv2d_space_construct(ml_cfg_args *a, void **out)
{
    int shape[2], n, channels;
    ML_TRY(ml_cfg_args_ints(a, "shape", shape, 2, &n));
    if (n != 2)
        return ml_cfg_args_error(a, "shape", ML_EINVAL, "must give rows and columns");
    ML_TRY(ml_cfg_args_int(a, "num_channels", &channels));
    if (channels < 1)
        return ml_cfg_args_error(a, "num_channels", ML_EINVAL, "must be positive");
    const ml_cfg_node *axes = ml_cfg_args_node(a, "axes");
    ml_axes order = ML_AXES_BC01;
    if (axes) {
        /* issue 4 (data): the three axis orders of Pylearn2's Conv2DSpace */
        static const char *const want[3][4] = {{"b", "c", "0", "1"}, {"b", "0", "1", "c"}, {"c", "0", "1", "b"}};
        int found = -1;
        for (int k = 0; found < 0 && k < 3; k++) {
            int ok = axes->kind == ML_CFG_SEQ && axes->n == 4;
            for (size_t i = 0; ok && i < 4; i++)
                ok = axes->items[i]->kind == ML_CFG_SCALAR && axes->items[i]->text &&
                     strcmp(axes->items[i]->text, want[k][i]) == 0;
            if (ok)
                found = k;
        }
        if (found < 0)
            return ml_cfg_args_error(a, "axes", ML_EINVAL, "must be ['b', 'c', 0, 1], ['b', 0, 1, 'c'] or ['c', 0, 1, 'b']");
        order = (ml_axes)found;
    }
    ml_space *s = ml_malloc(sizeof *s);
    if (!s)
        return ML_ENOMEM;
    *s = ml_conv2d_space_axes(channels, shape[0], shape[1], order);
    *out = s;
    return ML_OK;
}

static const ml_cfg_param vector_space_params[] = {
    {.name = "dim", .type = ML_CFG_T_INT, .required = 1, .doc = "features of an example"},
    {0}};

static ml_status vector_space_construct(ml_cfg_args *a, void **out)
{
    int dim;
    ML_TRY(ml_cfg_args_int(a, "dim", &dim));
    if (dim < 1)
        return ml_cfg_args_error(a, "dim", ML_EINVAL, "must be positive");
    ml_space *s = ml_malloc(sizeof *s);
    if (!s)
        return ML_ENOMEM;
    *s = ml_vector_space(dim);
    *out = s;
    return ML_OK;
}

/* ==== issue 4 (data): IndexSpace and CompositeSpace ==== */

static const ml_cfg_param index_space_params[] = {
    {.name = "dim", .type = ML_CFG_T_INT, .required = 1, .doc = "indices per example"},
    {.name = "max_labels", .type = ML_CFG_T_INT, .required = 1, .doc = "indices lie in 0..max_labels-1"},
    {0}};

static ml_status index_space_construct(ml_cfg_args *a, void **out)
{
    int dim, max_labels;
    ML_TRY(ml_cfg_args_int(a, "dim", &dim));
    if (dim < 1)
        return ml_cfg_args_error(a, "dim", ML_EINVAL, "must be positive");
    ML_TRY(ml_cfg_args_int(a, "max_labels", &max_labels));
    if (max_labels < 1)
        return ml_cfg_args_error(a, "max_labels", ML_EINVAL, "must be positive");
    ml_space *s = ml_malloc(sizeof *s);
    if (!s)
        return ML_ENOMEM;
    *s = ml_index_space(dim, max_labels);
    *out = s;
    return ML_OK;
}

static const ml_cfg_param composite_space_params[] = {
    {.name = "components", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "space", .required = 1,
     .doc = "the spaces of the tuple, in order"},
    {0}};

/* The space and, after it in the same block, the copies of its components
 * (nested composites point into objects the context keeps). */
static ml_status composite_space_construct(ml_cfg_args *a, void **out)
{
    int n = ml_cfg_args_count(a, "components");
    if (n < 1 || n > ML_SPACE_MAX_COMPONENTS)
        return ml_cfg_args_error(a, "components", ML_EINVAL, "must list 1 to %d spaces", ML_SPACE_MAX_COMPONENTS);
    ml_space *s = ml_calloc((size_t)n + 1, sizeof *s);
    if (!s)
        return ML_ENOMEM;
    for (int i = 0; i < n; i++) {
        void *c;
        ml_status st = ml_cfg_args_item_object(a, "components", i, &c);
        if (st != ML_OK) {
            ml_free(s);
            return st;
        }
        s[i + 1] = *(const ml_space *)c;
    }
    *s = ml_composite_space(n, s + 1);
    *out = s;
    return ML_OK;
}

static const ml_component index_space = {
    "IndexSpace", ALIASES("pylearn2.space.IndexSpace"), "space", index_space_params, index_space_construct, ml_free,
    "dim integer indices in 0..max_labels-1 per example (as a vector: their one-hot codes)"};
static const ml_component composite_space = {
    "CompositeSpace", ALIASES("pylearn2.space.CompositeSpace"), "space", composite_space_params,
    composite_space_construct, ml_free,
    "a tuple of spaces (as a vector: the components' vectors side by side)"};

/* ==== end of issue 4 (data): IndexSpace and CompositeSpace ==== */

static const ml_component conv2d_space = {
    "Conv2DSpace", ALIASES("pylearn2.space.Conv2DSpace"), "space", conv2d_space_params,
    conv2d_space_construct, ml_free, "images of num_channels x shape[0] x shape[1]"};
static const ml_component vector_space = {
    "VectorSpace", ALIASES("pylearn2.space.VectorSpace"), "space", vector_space_params,
    vector_space_construct, ml_free, "vectors of dim features"};

/* ---- layers ---- */

#define INIT_PARAMS                                                                                   \
    {.name = "irange", .type = ML_CFG_T_FLOAT, .doc = "weights drawn uniformly from [-irange, irange]"},  \
    {.name = "istdev", .type = ML_CFG_T_FLOAT, .doc = "weights drawn from a normal of this deviation"},    \
    {.name = "sparse_init", .type = ML_CFG_T_INT, .doc = "this many non-zero normal weights per unit"},   \
    {.name = "sparse_stdev", .type = ML_CFG_T_FLOAT, .def = "1.0", .doc = "deviation of sparse_init's weights"}, \
    {.name = "init_bias", .type = ML_CFG_T_FLOAT, .def = "0.0", .doc = "initial value of the biases"},     \
    {.name = "W_lr_scale", .type = ML_CFG_T_FLOAT, .def = "1.0", .doc = "factor of the learning rate for the weights"}, \
    {.name = "b_lr_scale", .type = ML_CFG_T_FLOAT, .def = "1.0", .doc = "factor of the learning rate for the biases"}

static const ml_cfg_param dense_params[] = {
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the layer's name in channels and files"},
    {.name = "dim", .type = ML_CFG_T_INT, .required = 1, .doc = "number of units"},
    INIT_PARAMS,
    {.name = "max_col_norm", .type = ML_CFG_T_FLOAT, .doc = "largest L2 norm of a unit's weights, kept after each update"},
    {0}};

static const ml_cfg_param softmax_params[] = {
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the layer's name in channels and files"},
    {.name = "n_classes", .type = ML_CFG_T_INT, .required = 1, .doc = "number of classes"},
    INIT_PARAMS,
    {.name = "max_col_norm", .type = ML_CFG_T_FLOAT, .doc = "largest L2 norm of a unit's weights, kept after each update"},
    {0}};

static const ml_cfg_param conv_params[] = {
    {.name = "layer_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the layer's name in channels and files"},
    {.name = "output_channels", .type = ML_CFG_T_INT, .required = 1, .doc = "number of filters"},
    {.name = "kernel_shape", .type = ML_CFG_T_SHAPE, .required = 1, .doc = "rows and columns of a filter"},
    {.name = "pool_shape", .type = ML_CFG_T_SHAPE, .doc = "rows and columns of a pooling window (default: no pooling)"},
    {.name = "pool_stride", .type = ML_CFG_T_SHAPE, .doc = "step between pooling windows (default: pool_shape)"},
    {.name = "pool_type", .type = ML_CFG_T_STRING, .def = "max", .doc = "max or mean"},
    {.name = "border_mode", .type = ML_CFG_T_STRING, .def = "valid", .doc = "valid, full, or same (zero padding keeping the size)"},
    {.name = "tied_b", .type = ML_CFG_T_BOOL, .def = "false", .doc = "one bias per channel rather than per channel and position"},
    INIT_PARAMS,
    {.name = "max_kernel_norm", .type = ML_CFG_T_FLOAT, .doc = "largest L2 norm of a filter, kept after each update"},
    {0}};

static ml_status layer_construct(ml_cfg_args *a, ml_layer_kind kind, void **out)
{
    const char *name;
    ML_TRY(ml_cfg_args_string(a, "layer_name", &name));
    ml_layer *l = ml_layer_new(kind, name);
    if (!l)
        return ML_ENOMEM;
    ml_status st = ML_OK;
    int v;
#define OPT_FLOAT(key, field)                                                    \
    if (st == ML_OK && ml_cfg_args_has(a, key))                                  \
        st = ml_cfg_args_float(a, key, &l->field);
    OPT_FLOAT("irange", irange);
    OPT_FLOAT("istdev", istdev);
    OPT_FLOAT("sparse_stdev", sparse_stdev);
    OPT_FLOAT("init_bias", init_bias);
    OPT_FLOAT("W_lr_scale", W_lr_scale);
    OPT_FLOAT("b_lr_scale", b_lr_scale);
    if (st == ML_OK && ml_cfg_args_has(a, "sparse_init") && (st = ml_cfg_args_int(a, "sparse_init", &v)) == ML_OK)
        l->sparse_init = v;
    if (st == ML_OK && (l->irange < 0 || l->istdev < 0 || l->sparse_init < 0))
        st = ml_cfg_args_error(a, l->irange < 0 ? "irange" : l->istdev < 0 ? "istdev" : "sparse_init", ML_EINVAL,
                               "must not be negative");
    if (st == ML_OK && kind != ML_LAYER_SOFTMAX && kind != ML_LAYER_CONV_RELU &&
        !(l->irange > 0) + !(l->istdev > 0) + !(l->sparse_init > 0) == 3)
        st = ml_cfg_args_error(a, NULL, ML_EINVAL, "needs one of 'irange', 'istdev' and 'sparse_init'");
    if (st == ML_OK && (l->irange > 0) + (l->istdev > 0) + (l->sparse_init > 0) > 1)
        st = ml_cfg_args_error(a, NULL, ML_EINVAL, "takes only one of 'irange', 'istdev' and 'sparse_init'");
    if (kind == ML_LAYER_CONV_RELU) {
        int shape[2], n;
        const char *s;
        if (st == ML_OK && (st = ml_cfg_args_int(a, "output_channels", &v)) == ML_OK)
            l->output_channels = v;
        if (st == ML_OK && (st = ml_cfg_args_ints(a, "kernel_shape", shape, 2, &n)) == ML_OK) {
            if (n != 2)
                st = ml_cfg_args_error(a, "kernel_shape", ML_EINVAL, "must give rows and columns");
            l->kernel_shape[0] = shape[0];
            l->kernel_shape[1] = shape[1];
        }
        if (st == ML_OK && ml_cfg_args_has(a, "pool_shape") &&
            (st = ml_cfg_args_ints(a, "pool_shape", shape, 2, &n)) == ML_OK) {
            if (n != 2)
                st = ml_cfg_args_error(a, "pool_shape", ML_EINVAL, "must give rows and columns");
            l->pool_shape[0] = l->pool_stride[0] = shape[0];
            l->pool_shape[1] = l->pool_stride[1] = shape[1];
        }
        if (st == ML_OK && ml_cfg_args_has(a, "pool_stride") &&
            (st = ml_cfg_args_ints(a, "pool_stride", shape, 2, &n)) == ML_OK) {
            if (n != 2)
                st = ml_cfg_args_error(a, "pool_stride", ML_EINVAL, "must give rows and columns");
            l->pool_stride[0] = shape[0];
            l->pool_stride[1] = shape[1];
        }
        if (st == ML_OK && (st = ml_cfg_args_string(a, "pool_type", &s)) == ML_OK) {
            if (strcmp(s, "max") == 0)
                l->pool_type = ML_POOL_MAX;
            else if (strcmp(s, "mean") == 0)
                l->pool_type = ML_POOL_MEAN;
            else
                st = ml_cfg_args_error(a, "pool_type", ML_EINVAL, "must be 'max' or 'mean', not '%s'", s);
        }
        if (st == ML_OK && (st = ml_cfg_args_string(a, "border_mode", &s)) == ML_OK) {
            if (strcmp(s, "valid") == 0)
                l->border_mode = ML_BORDER_VALID;
            else if (strcmp(s, "full") == 0)
                l->border_mode = ML_BORDER_FULL;
            else if (strcmp(s, "same") == 0)
                l->border_mode = ML_BORDER_SAME;
            else
                st = ml_cfg_args_error(a, "border_mode", ML_EINVAL, "must be 'valid', 'full' or 'same', not '%s'", s);
        }
        if (st == ML_OK)
            st = ml_cfg_args_bool(a, "tied_b", &l->tied_b);
        OPT_FLOAT("max_kernel_norm", max_kernel_norm);
        if (st == ML_OK && !(l->irange > 0) && !(l->istdev > 0) && !(l->sparse_init > 0))
            st = ml_cfg_args_error(a, NULL, ML_EINVAL, "needs one of 'irange', 'istdev' and 'sparse_init'");
    } else {
        const char *dim_key = kind == ML_LAYER_SOFTMAX ? "n_classes" : "dim";
        if (st == ML_OK && (st = ml_cfg_args_int(a, dim_key, &v)) == ML_OK) {
            if (v < 1)
                st = ml_cfg_args_error(a, dim_key, ML_EINVAL, "must be positive");
            l->dim = v;
        }
        OPT_FLOAT("max_col_norm", max_col_norm);
    }
#undef OPT_FLOAT
    if (st != ML_OK) {
        ml_layer_free(l);
        return st;
    }
    *out = l;
    return ML_OK;
}

static ml_status linear_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_LINEAR, out); }
static ml_status sigmoid_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_SIGMOID, out); }
static ml_status tanh_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_TANH, out); }
static ml_status relu_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_RELU, out); }
static ml_status softmax_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_SOFTMAX, out); }
static ml_status conv_construct(ml_cfg_args *a, void **out) { return layer_construct(a, ML_LAYER_CONV_RELU, out); }
static void layer_destroy(void *p) { ml_layer_free(p); }

static const ml_component linear = {"Linear", ALIASES("pylearn2.models.mlp.Linear"), "layer", dense_params,
                                    linear_construct, layer_destroy, "affine units: x W + b"};
static const ml_component sigmoid = {"Sigmoid", ALIASES("pylearn2.models.mlp.Sigmoid"), "layer", dense_params,
                                     sigmoid_construct, layer_destroy, "logistic units"};
static const ml_component tanh_layer = {"Tanh", ALIASES("pylearn2.models.mlp.Tanh"), "layer", dense_params,
                                        tanh_construct, layer_destroy, "hyperbolic tangent units"};
static const ml_component relu = {"RectifiedLinear", ALIASES("pylearn2.models.mlp.RectifiedLinear"), "layer",
                                  dense_params, relu_construct, layer_destroy, "rectified linear units: max(0, x W + b)"};
static const ml_component softmax = {"Softmax", ALIASES("pylearn2.models.mlp.Softmax"), "layer", softmax_params,
                                     softmax_construct, layer_destroy,
                                     "the output layer of a classifier; weights start at zero without irange, istdev or sparse_init"};
static const ml_component conv_relu = {
    "ConvRectifiedLinear", ALIASES("pylearn2.models.mlp.ConvRectifiedLinear"), "layer", conv_params,
    conv_construct, layer_destroy,
    "convolution, rectification, then pooling that keeps a partial window at the border"};

/* ---- the model ---- */

static const ml_cfg_param mlp_params[] = {
    {.name = "layers", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "layer", .required = 1,
     .doc = "the layers, input first"},
    {.name = "nvis", .type = ML_CFG_T_INT, .doc = "features of the input (a VectorSpace)"},
    {.name = "input_space", .type = ML_CFG_T_OBJECT, .category = "space", .doc = "the input's space (e.g. Conv2DSpace)"},
    {.name = "seed", .type = ML_CFG_T_ANY, .def = "[2013, 1, 4]", .doc = "seed of the initial weights"},
    {.name = "batch_size", .type = ML_CFG_T_INT, .doc = "accepted for Pylearn2 files; the algorithm's batch_size rules"},
    {0}};

static void mlp_destroy(void *p)
{
    mlp_object *o = p;
    ml_model_free(o->model);
    ml_free(o);
}

static ml_status mlp_construct(ml_cfg_args *a, void **out)
{
    mlp_object *o = ml_calloc(1, sizeof *o);
    if (!o || !(o->model = ml_model_new())) {
        ml_free(o);
        return ML_ENOMEM;
    }
    ml_status st = read_seed(a, "seed", &o->seed);
    if (st == ML_OK && ml_cfg_args_has(a, "nvis") && ml_cfg_args_has(a, "input_space"))
        st = ml_cfg_args_error(a, NULL, ML_EINVAL, "takes 'nvis' or 'input_space', not both");
    if (st == ML_OK && ml_cfg_args_has(a, "nvis")) {
        int nvis;
        if ((st = ml_cfg_args_int(a, "nvis", &nvis)) == ML_OK && nvis < 1)
            st = ml_cfg_args_error(a, "nvis", ML_EINVAL, "must be positive");
        o->model->input_space = ml_vector_space(nvis);
        o->model->has_input_space = 1;
    }
    if (st == ML_OK && ml_cfg_args_has(a, "input_space")) {
        void *space;
        if ((st = ml_cfg_args_object(a, "input_space", NULL, &space)) == ML_OK &&
            (((ml_space *)space)->kind == ML_SPACE_INDEX || ((ml_space *)space)->kind == ML_SPACE_COMPOSITE)) {
            char sp[200];
            st = ml_cfg_args_error(a, "input_space", ML_EINVAL,
                                   "must be a VectorSpace or Conv2DSpace: the layers take no %s",
                                   ml_space_describe(space, sp, sizeof sp));
        } else if (st == ML_OK) {
            o->model->input_space = *(ml_space *)space;
            o->model->has_input_space = 1;
        }
    }
    int n = ml_cfg_args_count(a, "layers");
    if (st == ML_OK && n == 0)
        st = ml_cfg_args_error(a, "layers", ML_EINVAL, "must list at least one layer");
    for (int i = 0; st == ML_OK && i < n; i++) {
        void *layer;
        st = ml_cfg_args_item_object(a, "layers", i, &layer);
        if (st == ML_OK && (st = ml_model_add_layer(o->model, layer)) != ML_OK)
            st = ml_cfg_args_item_error(a, "layers", i, ML_EINVAL, "%s", ml_last_error());
        if (st == ML_OK)
            st = ml_cfg_ctx_take(ml_cfg_args_ctx(a), layer); /* the model owns its layers now */
    }
    if (st != ML_OK) {
        mlp_destroy(o);
        return st;
    }
    *out = o;
    return ML_OK;
}

static const ml_component mlp = {"MLP", ALIASES("pylearn2.models.mlp.MLP"), "model", mlp_params, mlp_construct,
                                 mlp_destroy, "a multilayer perceptron: a stack of layers"};

/* ---- costs ---- */

static void cost_destroy(void *p)
{
    ml_cost *c = p;
    if (!c)
        return;
    for (int i = 0; c->coeff_layers && i < c->n_coeffs; i++)
        ml_free(c->coeff_layers[i]);
    ml_free(c->coeff_layers);
    ml_free(c->coeffs);
    ml_free(c->terms);
    ml_free(c->term_coeffs);
    for (int i = 0; i < c->dropout.n; i++)
        ml_free((char *)c->dropout.layers[i]);
    ml_free((void *)c->dropout.layers);
    ml_free((void *)c->dropout.include_probs);
    ml_free((void *)c->dropout.scales);
    ml_free(c);
}

static ml_status default_cost_construct(ml_cfg_args *a, void **out)
{
    ml_cost *c = ml_calloc(1, sizeof *c);
    if (!c)
        return ML_ENOMEM;
    c->kind = ML_COST_DEFAULT;
    *out = c;
    return ML_OK;
}

static const ml_component default_cost = {
    "Default", ALIASES("pylearn2.costs.mlp.Default", "pylearn2.costs.cost.MethodCost"), "cost", NULL,
    default_cost_construct, cost_destroy,
    "the model's own cost: negative log-likelihood of a Softmax, else mean squared error"};

static const ml_cfg_param dropout_params[] = {
    {.name = "default_input_include_prob", .type = ML_CFG_T_FLOAT, .def = "0.5", .doc = "probability of keeping a layer's input unit"},
    {.name = "input_include_probs", .type = ML_CFG_T_MAP, .elem = ML_CFG_T_FLOAT, .doc = "layer name -> its include probability"},
    {.name = "default_input_scale", .type = ML_CFG_T_FLOAT, .def = "2.0", .doc = "factor of the kept inputs"},
    {.name = "input_scales", .type = ML_CFG_T_MAP, .elem = ML_CFG_T_FLOAT, .doc = "layer name -> its scale"},
    {0}};

/* The index of a layer in the dropout table, added if new; ML_ENOMEM (negative) on failure. */
static int add_dropout_layer(ml_cost *c, const char *layer)
{
    for (int i = 0; i < c->dropout.n; i++)
        if (strcmp(c->dropout.layers[i], layer) == 0)
            return i;
    int n = c->dropout.n;
    const char **layers = ml_realloc((void *)c->dropout.layers, (size_t)(n + 1) * sizeof *layers);
    float *probs = ml_realloc((void *)c->dropout.include_probs, (size_t)(n + 1) * sizeof *probs);
    float *scales = ml_realloc((void *)c->dropout.scales, (size_t)(n + 1) * sizeof *scales);
    if (layers)
        c->dropout.layers = layers;
    if (probs)
        c->dropout.include_probs = probs;
    if (scales)
        c->dropout.scales = scales;
    if (!layers || !probs || !scales || !(layers[n] = ml_strdup(layer)))
        return ML_ENOMEM;
    probs[n] = NAN;
    scales[n] = NAN;
    c->dropout.n = n + 1;
    return n;
}

static ml_status dropout_construct(ml_cfg_args *a, void **out)
{
    ml_cost *c = ml_calloc(1, sizeof *c);
    if (!c)
        return ML_ENOMEM;
    c->kind = ML_COST_DROPOUT;
    ml_status st = ml_cfg_args_float(a, "default_input_include_prob", &c->dropout.default_include_prob);
    if (st == ML_OK)
        st = ml_cfg_args_float(a, "default_input_scale", &c->dropout.default_scale);
    const char *maps[2] = {"input_include_probs", "input_scales"};
    for (int m = 0; m < 2 && st == ML_OK; m++)
        for (int i = 0; st == ML_OK && i < ml_cfg_args_count(a, maps[m]); i++) {
            float v;
            st = ml_cfg_args_item_float(a, maps[m], i, &v);
            if (st == ML_OK && m == 0 && !(v > 0 && v <= 1))
                st = ml_cfg_args_item_error(a, maps[m], i, ML_EINVAL, "must be in (0, 1]");
            int k = st == ML_OK ? add_dropout_layer(c, ml_cfg_args_key(a, maps[m], i)) : 0;
            if (k < 0)
                st = k;
            else if (st == ML_OK)
                ((float *)(m == 0 ? c->dropout.include_probs : c->dropout.scales))[k] = v;
        }
    if (st == ML_OK && !(c->dropout.default_include_prob > 0 && c->dropout.default_include_prob <= 1))
        st = ml_cfg_args_error(a, "default_input_include_prob", ML_EINVAL, "must be in (0, 1]");
    if (st != ML_OK) {
        cost_destroy(c);
        return st;
    }
    *out = c;
    return ML_OK;
}

static const ml_component dropout_cost = {
    "Dropout", ALIASES("pylearn2.costs.mlp.dropout.Dropout"), "cost", dropout_params, dropout_construct,
    cost_destroy, "the default cost of a forward pass that drops each layer's input units at random"};

static const ml_cfg_param decay_params[] = {
    {.name = "coeffs", .type = ML_CFG_T_ANY, .required = 1,
     .doc = "one coefficient per layer, as a list in layer order or a mapping from layer names"},
    {0}};

static ml_status decay_construct(ml_cfg_args *a, ml_cost_kind kind, void **out)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, "coeffs");
    if (n->kind != ML_CFG_SEQ && n->kind != ML_CFG_MAP)
        return ml_cfg_args_error(a, "coeffs", ML_EINVAL, "must be a list or a mapping of numbers");
    ml_cost *c = ml_calloc(1, sizeof *c);
    if (!c)
        return ML_ENOMEM;
    c->kind = kind;
    c->n_coeffs = (int)n->n;
    c->coeffs = ml_calloc(n->n + 1, sizeof *c->coeffs);
    if (n->kind == ML_CFG_MAP)
        c->coeff_layers = ml_calloc(n->n + 1, sizeof *c->coeff_layers);
    ml_status st = c->coeffs && (n->kind == ML_CFG_SEQ || c->coeff_layers) ? ML_OK : ML_ENOMEM;
    for (size_t i = 0; st == ML_OK && i < n->n; i++) {
        const ml_cfg_node *it = n->items[i];
        char *end = NULL;
        double v = it->kind == ML_CFG_SCALAR && it->text && !it->quoted ? strtod(it->text, &end) : NAN;
        if (!end || *end || !isfinite(v) || v < 0)
            st = ml_cfg_error_at(&it->pos, ML_EINVAL, "a coefficient of '%s' must be a non-negative number",
                                 kind == ML_COST_WEIGHT_DECAY ? "WeightDecay" : "L1WeightDecay");
        c->coeffs[i] = (float)v;
        if (st == ML_OK && c->coeff_layers && !(c->coeff_layers[i] = ml_strdup(n->keys[i])))
            st = ML_ENOMEM;
    }
    if (st != ML_OK) {
        cost_destroy(c);
        return st;
    }
    *out = c;
    return ML_OK;
}

static ml_status weight_decay_construct(ml_cfg_args *a, void **out)
{
    return decay_construct(a, ML_COST_WEIGHT_DECAY, out);
}
static ml_status l1_decay_construct(ml_cfg_args *a, void **out)
{
    return decay_construct(a, ML_COST_L1_DECAY, out);
}

static const ml_component weight_decay = {
    "WeightDecay", ALIASES("pylearn2.costs.mlp.WeightDecay"), "cost", decay_params, weight_decay_construct,
    cost_destroy, "sum over layers of coeff times the sum of squared weights"};
static const ml_component l1_decay = {
    "L1WeightDecay", ALIASES("pylearn2.costs.mlp.L1WeightDecay"), "cost", decay_params, l1_decay_construct,
    cost_destroy, "sum over layers of coeff times the sum of absolute weights"};

static const ml_cfg_param sum_params[] = {
    {.name = "costs", .type = ML_CFG_T_ANY, .required = 1,
     .doc = "the costs to add, each a cost or a pair [coefficient, cost]"},
    {0}};

static ml_status sum_construct(ml_cfg_args *a, void **out)
{
    const ml_cfg_node *n = ml_cfg_args_node(a, "costs");
    if (n->kind != ML_CFG_SEQ || n->n == 0)
        return ml_cfg_args_error(a, "costs", ML_EINVAL, "must be a non-empty list of costs");
    ml_cost *c = ml_calloc(1, sizeof *c);
    if (!c)
        return ML_ENOMEM;
    c->kind = ML_COST_SUM;
    c->n_terms = (int)n->n;
    c->terms = ml_calloc(n->n, sizeof *c->terms);
    c->term_coeffs = ml_calloc(n->n, sizeof *c->term_coeffs);
    ml_status st = c->terms && c->term_coeffs ? ML_OK : ML_ENOMEM;
    for (size_t i = 0; st == ML_OK && i < n->n; i++) {
        const ml_cfg_node *it = n->items[i];
        c->term_coeffs[i] = 1.0f;
        if (it->kind == ML_CFG_SEQ) {
            char *end = NULL;
            double v = it->n == 2 && it->items[0]->kind == ML_CFG_SCALAR && it->items[0]->text
                           ? strtod(it->items[0]->text, &end) : NAN;
            if (!end || *end || !isfinite(v))
                st = ml_cfg_error_at(&it->pos, ML_EINVAL, "a pair of SumOfCosts must be [coefficient, cost]");
            c->term_coeffs[i] = (float)v;
            it = it->n == 2 ? it->items[1] : it;
        }
        void *term = NULL;
        if (st == ML_OK)
            st = ml_cfg_instantiate(ml_cfg_args_ctx(a), it, "cost", &term);
        c->terms[i] = term;
    }
    if (st != ML_OK) {
        cost_destroy(c);
        return st;
    }
    *out = c;
    return ML_OK;
}

static const ml_component sum_of_costs = {
    "SumOfCosts", ALIASES("pylearn2.costs.cost.SumOfCosts"), "cost", sum_params, sum_construct, cost_destroy,
    "a weighted sum of costs"};

/* ---- learning rules, termination, extensions ---- */

static const ml_cfg_param momentum_params[] = {
    {.name = "init_momentum", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the momentum coefficient, in [0, 1)"},
    {.name = "nesterov_momentum", .type = ML_CFG_T_BOOL, .def = "false", .doc = "use Nesterov's accelerated gradient"},
    {0}};

static ml_status rule_out(ml_learning_rule *r, void **out)
{
    ml_learning_rule *p = ml_malloc(sizeof *p);
    if (!p)
        return ML_ENOMEM;
    *p = *r;
    *out = p;
    return ML_OK;
}

static ml_status momentum_construct(ml_cfg_args *a, void **out)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, ML_RULE_MOMENTUM);
    ML_TRY(ml_cfg_args_float(a, "init_momentum", &r.init_momentum));
    ML_TRY(ml_cfg_args_bool(a, "nesterov_momentum", &r.nesterov));
    if (!(r.init_momentum >= 0 && r.init_momentum < 1))
        return ml_cfg_args_error(a, "init_momentum", ML_EINVAL, "must be in [0, 1)");
    return rule_out(&r, out);
}

static const ml_component momentum = {
    "Momentum", ALIASES("pylearn2.training_algorithms.learning_rule.Momentum"), "learning_rule",
    momentum_params, momentum_construct, ml_free, "v = momentum v - learning_rate gradient; param += v"};

/* A coefficient of a moving average, in [0, 1). */
static ml_status read_decay(ml_cfg_args *a, const char *name, float *v)
{
    ML_TRY(ml_cfg_args_float(a, name, v));
    if (!(*v >= 0 && *v < 1))
        return ml_cfg_args_error(a, name, ML_EINVAL, "must be in [0, 1)");
    return ML_OK;
}

static ml_status read_positive(ml_cfg_args *a, const char *name, float *v)
{
    ML_TRY(ml_cfg_args_float(a, name, v));
    if (!(*v > 0) || !isfinite(*v))
        return ml_cfg_args_error(a, name, ML_EINVAL, "must be positive");
    return ML_OK;
}

static const ml_cfg_param adagrad_params[] = {
    {.name = "epsilon", .type = ML_CFG_T_FLOAT, .def = "1e-6", .doc = "added to the sum of squared gradients under the square root"},
    {.name = "max_scaling", .type = ML_CFG_T_FLOAT,
     .doc = "Pylearn2's form instead of epsilon: the root of the sum is at least 1/max_scaling"},
    {0}};

static ml_status adagrad_construct(ml_cfg_args *a, void **out)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, ML_RULE_ADAGRAD);
    ML_TRY(read_positive(a, "epsilon", &r.epsilon));
    if (ml_cfg_args_has(a, "max_scaling"))
        ML_TRY(read_positive(a, "max_scaling", &r.max_scaling));
    return rule_out(&r, out);
}

static const ml_component adagrad = {
    "AdaGrad", ALIASES("pylearn2.training_algorithms.learning_rule.AdaGrad"), "learning_rule", adagrad_params,
    adagrad_construct, ml_free,
    "s += gradient^2; param -= learning_rate gradient / sqrt(s + epsilon) (Duchi et al.; yadll's form)"};

static const ml_cfg_param rmsprop_params[] = {
    {.name = "decay", .type = ML_CFG_T_FLOAT, .def = "0.9", .doc = "of the moving average of squared gradients, in [0, 1)"},
    {.name = "max_scaling", .type = ML_CFG_T_FLOAT, .def = "1e5", .doc = "the largest factor a gradient is scaled by"},
    {0}};

static ml_status rmsprop_construct(ml_cfg_args *a, void **out)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, ML_RULE_RMSPROP);
    ML_TRY(read_decay(a, "decay", &r.decay));
    ML_TRY(read_positive(a, "max_scaling", &r.max_scaling));
    return rule_out(&r, out);
}

static const ml_component rmsprop = {
    "RMSProp", ALIASES("pylearn2.training_algorithms.learning_rule.RMSProp"), "learning_rule", rmsprop_params,
    rmsprop_construct, ml_free,
    "s = decay s + (1 - decay) gradient^2; param -= learning_rate gradient / max(sqrt(s), 1/max_scaling)"};

static const ml_cfg_param adadelta_params[] = {
    {.name = "decay", .type = ML_CFG_T_FLOAT, .def = "0.95", .doc = "of the moving averages, in [0, 1)"},
    {0}};

static ml_status adadelta_construct(ml_cfg_args *a, void **out)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, ML_RULE_ADADELTA);
    ML_TRY(read_decay(a, "decay", &r.decay));
    return rule_out(&r, out);
}

static const ml_component adadelta = {
    "AdaDelta", ALIASES("pylearn2.training_algorithms.learning_rule.AdaDelta"), "learning_rule", adadelta_params,
    adadelta_construct, ml_free,
    "the AdaDelta of Zeiler as Pylearn2 has it: the learning rate (times lr_scale) is the epsilon of both square roots, "
    "d = -sqrt(E[d^2] + lr) / sqrt(E[g^2] + lr) gradient; param += d"};

static const ml_cfg_param adam_params[] = {
    {.name = "beta1", .type = ML_CFG_T_FLOAT, .def = "0.9", .doc = "decay of the mean of the gradients, in [0, 1)"},
    {.name = "beta2", .type = ML_CFG_T_FLOAT, .def = "0.999", .doc = "decay of the mean of their squares, in [0, 1)"},
    {.name = "epsilon", .type = ML_CFG_T_FLOAT, .def = "1e-8", .doc = "added to the denominator"},
    {0}};

static ml_status adam_family(ml_cfg_args *a, ml_rule_kind kind, void **out)
{
    ml_learning_rule r;
    ml_learning_rule_init(&r, kind);
    ML_TRY(read_decay(a, "beta1", &r.beta1));
    ML_TRY(read_decay(a, "beta2", &r.beta2));
    ML_TRY(read_positive(a, "epsilon", &r.epsilon));
    return rule_out(&r, out);
}

static ml_status adam_construct(ml_cfg_args *a, void **out) { return adam_family(a, ML_RULE_ADAM, out); }
static ml_status adamax_construct(ml_cfg_args *a, void **out) { return adam_family(a, ML_RULE_ADAMAX, out); }
static ml_status nadam_construct(ml_cfg_args *a, void **out) { return adam_family(a, ML_RULE_NADAM, out); }

static const ml_component adam = {
    "Adam", ALIASES("pylearn2.training_algorithms.learning_rule.Adam"), "learning_rule", adam_params, adam_construct,
    ml_free,
    "adaptive moment estimation (Kingma and Ba): m and v the decaying means of the gradients and their squares, "
    "param -= learning_rate sqrt(1 - beta2^t) / (1 - beta1^t) m / (sqrt(v) + epsilon), t the step (learning_rate 0.001 is usual)"};
static const ml_component adamax = {
    "Adamax", NULL, "learning_rule", adam_params, adamax_construct, ml_free,
    "the infinity-norm variant of Adam: u = max(beta2 u, |gradient|), "
    "param -= learning_rate / (1 - beta1^t) m / (u + epsilon) (learning_rate 0.002 is usual)"};
static const ml_component nadam = {
    "Nadam", NULL, "learning_rule", adam_params, nadam_construct, ml_free,
    "nesterov-accelerated Adam, in the form of Keras and yadll (momentum schedule decay 0.004; "
    "learning_rate 0.002 is usual)"};

static const ml_cfg_param epoch_counter_params[] = {
    {.name = "max_epochs", .type = ML_CFG_T_INT, .required = 1, .doc = "epochs to train"},
    {0}};

static ml_status epoch_counter_construct(ml_cfg_args *a, void **out)
{
    int64_t n;
    ML_TRY(ml_cfg_args_int64(a, "max_epochs", &n));
    if (n < 0)
        return ml_cfg_args_error(a, "max_epochs", ML_EINVAL, "must not be negative");
    ml_termination *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    t->kind = ML_TERM_EPOCH_COUNTER;
    t->max_epochs = n;
    *out = t;
    return ML_OK;
}

static void termination_destroy(void *p)
{
    ml_termination *t = p;
    ml_free(t->channel_name);
    ml_free(t->criteria);
    ml_free(t);
}

static const ml_cfg_param monitor_based_params[] = {
    {.name = "channel_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the channel to watch, e.g. valid_y_misclass"},
    {.name = "prop_decrease", .type = ML_CFG_T_FLOAT, .def = "0.01", .doc = "fraction of the best value an improvement must beat it by"},
    {.name = "N", .type = ML_CFG_T_INT, .def = "5", .doc = "epochs without such an improvement before stopping: the patience of early stopping"},
    {0}};

static ml_status monitor_based_construct(ml_cfg_args *a, void **out)
{
    ml_termination *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    t->kind = ML_TERM_MONITOR_BASED;
    ml_status st = args_strdup(a, "channel_name", &t->channel_name);
    if (st == ML_OK)
        st = ml_cfg_args_double(a, "prop_decrease", &t->prop_decrease);
    if (st == ML_OK)
        st = ml_cfg_args_int64(a, "N", &t->N);
    if (st == ML_OK && t->N < 1)
        st = ml_cfg_args_error(a, "N", ML_EINVAL, "must be at least 1");
    if (st != ML_OK) {
        termination_destroy(t);
        return st;
    }
    *out = t;
    return ML_OK;
}

static const ml_component epoch_counter = {
    "EpochCounter", ALIASES("pylearn2.termination_criteria.EpochCounter"), "termination", epoch_counter_params,
    epoch_counter_construct, termination_destroy, "stop after max_epochs epochs"};
static const ml_component monitor_based = {
    "MonitorBased", ALIASES("pylearn2.termination_criteria.MonitorBased"), "termination", monitor_based_params,
    monitor_based_construct, termination_destroy,
    "stop when channel_name has not improved on its best value by prop_decrease of it for N epochs"};

static const ml_cfg_param channel_target_params[] = {
    {.name = "channel_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the channel to watch"},
    {.name = "target", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "stop once the channel's latest value is at most this"},
    {0}};

static ml_status channel_target_construct(ml_cfg_args *a, void **out)
{
    ml_termination *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    t->kind = ML_TERM_CHANNEL_TARGET;
    ml_status st = args_strdup(a, "channel_name", &t->channel_name);
    if (st == ML_OK)
        st = ml_cfg_args_double(a, "target", &t->target);
    if (st != ML_OK) {
        termination_destroy(t);
        return st;
    }
    *out = t;
    return ML_OK;
}

static const ml_component channel_target = {
    "ChannelTarget", ALIASES("pylearn2.termination_criteria.ChannelTarget"), "termination", channel_target_params,
    channel_target_construct, termination_destroy, "stop once channel_name has reached target or gone below it"};

static const ml_cfg_param criteria_params[] = {
    {.name = "criteria", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "termination", .required = 1,
     .doc = "the criteria combined (And and Or nest)"},
    {0}};

static ml_status criteria_construct(ml_cfg_args *a, ml_termination_kind kind, void **out)
{
    int n = ml_cfg_args_count(a, "criteria");
    if (n < 1)
        return ml_cfg_args_error(a, "criteria", ML_EINVAL, "must list at least one criterion");
    ml_termination *t = ml_calloc(1, sizeof *t);
    if (!t || !(t->criteria = ml_calloc((size_t)n, sizeof *t->criteria))) {
        ml_free(t);
        return ML_ENOMEM;
    }
    t->kind = kind;
    ml_status st = ML_OK;
    for (int i = 0; st == ML_OK && i < n; i++) {
        void *obj = NULL;
        if ((st = ml_cfg_args_item_object(a, "criteria", i, &obj)) == ML_OK)
            t->criteria[t->n_criteria++] = obj;
    }
    if (st != ML_OK) {
        termination_destroy(t);
        return st;
    }
    *out = t;
    return ML_OK;
}

static ml_status and_construct(ml_cfg_args *a, void **out) { return criteria_construct(a, ML_TERM_AND, out); }
static ml_status or_construct(ml_cfg_args *a, void **out) { return criteria_construct(a, ML_TERM_OR, out); }

static const ml_component and_criterion = {
    "And", ALIASES("pylearn2.termination_criteria.And"), "termination", criteria_params, and_construct,
    termination_destroy, "go on while every criterion says so: stop as soon as any of them says stop"};
static const ml_component or_criterion = {
    "Or", ALIASES("pylearn2.termination_criteria.Or"), "termination", criteria_params, or_construct,
    termination_destroy, "go on while any criterion says so: stop only when all of them say stop"};

static const ml_cfg_param save_best_params[] = {
    {.name = "channel_name", .type = ML_CFG_T_STRING, .required = 1, .doc = "the channel whose lowest value is kept"},
    {.name = "save_path", .type = ML_CFG_T_STRING, .required = 1, .doc = "model file of the best epoch so far"},
    {0}};

static void extension_destroy(void *p)
{
    ml_extension *e = p;
    ml_free(e->channel_name);
    ml_free(e->save_path);
    ml_free(e);
}

static ml_status save_best_construct(ml_cfg_args *a, void **out)
{
    ml_extension *e = ml_calloc(1, sizeof *e);
    if (!e)
        return ML_ENOMEM;
    e->kind = ML_EXT_SAVE_BEST;
    ml_status st = args_strdup(a, "channel_name", &e->channel_name);
    if (st == ML_OK)
        st = args_strdup(a, "save_path", &e->save_path);
    if (st != ML_OK) {
        extension_destroy(e);
        return st;
    }
    *out = e;
    return ML_OK;
}

static const ml_component save_best = {
    "MonitorBasedSaveBest", ALIASES("pylearn2.train_extensions.best_params.MonitorBasedSaveBest"), "extension",
    save_best_params, save_best_construct, extension_destroy,
    "save the model to save_path whenever channel_name reaches a new lowest value"};

static const ml_cfg_param momentum_adjustor_params[] = {
    {.name = "final_momentum", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the momentum reached at epoch saturate, in [0, 1)"},
    {.name = "start", .type = ML_CFG_T_INT, .required = 1, .doc = "the epoch after which the momentum starts to change"},
    {.name = "saturate", .type = ML_CFG_T_INT, .required = 1, .doc = "the epoch after which it is final_momentum"},
    {0}};

static ml_status schedule_epochs(ml_cfg_args *a, ml_extension *e, int strict)
{
    ML_TRY(ml_cfg_args_int64(a, "start", &e->start));
    ML_TRY(ml_cfg_args_int64(a, "saturate", &e->saturate));
    if (e->start < (strict ? 1 : 0))
        return ml_cfg_args_error(a, "start", ML_EINVAL, strict ? "must be at least 1" : "must not be negative");
    if (strict ? e->saturate <= e->start : e->saturate < e->start)
        return ml_cfg_args_error(a, "saturate", ML_EINVAL, strict ? "must be greater than start" : "must not be less than start");
    return ML_OK;
}

static ml_status new_extension(ml_extension_kind kind, ml_extension **out)
{
    if (!(*out = ml_calloc(1, sizeof **out)))
        return ML_ENOMEM;
    (*out)->kind = kind;
    return ML_OK;
}

static ml_status extension_done(ml_extension *e, ml_status st, void **out)
{
    if (st != ML_OK) {
        extension_destroy(e);
        return st;
    }
    *out = e;
    return ML_OK;
}

static ml_status momentum_adjustor_construct(ml_cfg_args *a, void **out)
{
    ml_extension *e;
    ML_TRY(new_extension(ML_EXT_MOMENTUM_ADJUSTOR, &e));
    ml_status st = ml_cfg_args_double(a, "final_momentum", &e->final_momentum);
    if (st == ML_OK && !(e->final_momentum >= 0 && e->final_momentum < 1))
        st = ml_cfg_args_error(a, "final_momentum", ML_EINVAL, "must be in [0, 1)");
    if (st == ML_OK)
        st = schedule_epochs(a, e, 0);
    return extension_done(e, st, out);
}

static const ml_component momentum_adjustor = {
    "MomentumAdjustor",
    ALIASES("pylearn2.training_algorithms.learning_rule.MomentumAdjustor"),
    "extension", momentum_adjustor_params, momentum_adjustor_construct, extension_destroy,
    "the Momentum rule's momentum moves linearly from init_momentum to final_momentum between epochs start and "
    "saturate: as in Pylearn2, after the record of epoch k it becomes init_momentum + (final_momentum - init_momentum) "
    "(k + 1 - start) / (saturate - start), clipped to the two, for epoch k + 1"};

static const ml_cfg_param linear_decay_params[] = {
    {.name = "start", .type = ML_CFG_T_INT, .required = 1, .doc = "the first epoch with a decayed learning rate, at least 1"},
    {.name = "saturate", .type = ML_CFG_T_INT, .required = 1, .doc = "the epoch from which it is decay_factor times the first"},
    {.name = "decay_factor", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the final learning rate over the initial one"},
    {0}};

static ml_status linear_decay_construct(ml_cfg_args *a, void **out)
{
    ml_extension *e;
    ML_TRY(new_extension(ML_EXT_LINEAR_DECAY_OVER_EPOCH, &e));
    ml_status st = ml_cfg_args_double(a, "decay_factor", &e->decay_factor);
    if (st == ML_OK && !(e->decay_factor > 0))
        st = ml_cfg_args_error(a, "decay_factor", ML_EINVAL, "must be positive");
    if (st == ML_OK)
        st = schedule_epochs(a, e, 1);
    return extension_done(e, st, out);
}

static const ml_component linear_decay = {
    "LinearDecayOverEpoch", ALIASES("pylearn2.training_algorithms.sgd.LinearDecayOverEpoch"), "extension",
    linear_decay_params, linear_decay_construct, extension_destroy,
    "the learning rate falls linearly, in saturate - start + 1 equal steps from epoch start on, "
    "to decay_factor times its initial value at epoch saturate, and stays there"};

static const ml_cfg_param exponential_decay_params[] = {
    {.name = "decay_factor", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the learning rate is divided by it after every batch"},
    {.name = "min_lr", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the learning rate never goes below this"},
    {0}};

static ml_status exponential_decay_construct(ml_cfg_args *a, void **out)
{
    ml_extension *e;
    ML_TRY(new_extension(ML_EXT_EXPONENTIAL_DECAY, &e));
    ml_status st = ml_cfg_args_double(a, "decay_factor", &e->decay_factor);
    if (st == ML_OK && !(e->decay_factor > 0))
        st = ml_cfg_args_error(a, "decay_factor", ML_EINVAL, "must be positive");
    if (st == ML_OK)
        st = ml_cfg_args_double(a, "min_lr", &e->min_lr);
    if (st == ML_OK && !(e->min_lr >= 0))
        st = ml_cfg_args_error(a, "min_lr", ML_EINVAL, "must not be negative");
    return extension_done(e, st, out);
}

static const ml_component exponential_decay = {
    "ExponentialDecay", ALIASES("pylearn2.training_algorithms.sgd.ExponentialDecay"), "update_callback extension",
    exponential_decay_params, exponential_decay_construct, extension_destroy,
    "after the k-th batch the learning rate is the initial one divided by decay_factor^k, and min_lr once that "
    "reaches min_lr; an SGD update_callbacks entry, or an extension (the same, after every batch)"};

static const ml_cfg_param polyak_params[] = {
    {.name = "start", .type = ML_CFG_T_INT, .required = 1, .doc = "the epoch after which averaging starts (0: from the first batch)"},
    {0}};

static ml_status polyak_construct(ml_cfg_args *a, void **out)
{
    ml_extension *e;
    ML_TRY(new_extension(ML_EXT_POLYAK_AVERAGING, &e));
    ml_status st = ml_cfg_args_int64(a, "start", &e->start);
    if (st == ML_OK && e->start < 0)
        st = ml_cfg_args_error(a, "start", ML_EINVAL, "must not be negative");
    return extension_done(e, st, out);
}

static const ml_component polyak = {
    "PolyakAveraging", ALIASES("pylearn2.training_algorithms.sgd.PolyakAveraging"), "extension", polyak_params,
    polyak_construct, extension_destroy,
    "from the record of epoch start on, keep the mean of the parameters after every batch; model files then hold "
    "it as /params_averaged (ml-files(5)), beside the parameters as trained"};

/* ---- the algorithm ---- */

static const ml_cfg_param sgd_params[] = {
    {.name = "learning_rate", .type = ML_CFG_T_FLOAT, .required = 1, .doc = "the step size"},
    {.name = "batch_size", .type = ML_CFG_T_INT, .required = 1, .doc = "examples per update"},
    {.name = "monitoring_dataset", .type = ML_CFG_T_ANY,
     .doc = "a mapping from channel prefixes to datasets (or one dataset, channels without prefix)"},
    {.name = "monitoring_batch_size", .type = ML_CFG_T_INT, .doc = "examples per batch of the monitor (default: batch_size)"},
    {.name = "cost", .type = ML_CFG_T_OBJECT, .category = "cost", .doc = "the objective (default: the model's own)"},
    {.name = "termination_criterion", .type = ML_CFG_T_OBJECT, .category = "termination", .doc = "when to stop (default: never)"},
    {.name = "learning_rule", .type = ML_CFG_T_OBJECT, .category = "learning_rule", .doc = "how gradients become updates (default: plain steps)"},
    {.name = "update_callbacks", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "update_callback",
     .doc = "called after every batch (ExponentialDecay)"},
    {.name = "train_iteration_mode", .type = ML_CFG_T_STRING, .def = "shuffled_sequential",
     .doc = "order of the training batches: sequential, shuffled_sequential (a new permutation each epoch), "
            "random_slice (a random contiguous slice per batch), random_uniform (examples drawn with replacement) "
            "or batchwise_shuffled_sequential (the sequential batches in a shuffled order)"},
    {.name = "monitoring_batches", .type = ML_CFG_T_INT, .doc = "batches of each monitoring dataset the monitor reads (default: all)"},
    {.name = "seed", .type = ML_CFG_T_ANY, .def = "[2012, 10, 5]", .doc = "seed of the shuffles and dropout masks"},
    {0}};

static void sgd_destroy(void *p)
{
    ml_sgd *s = p;
    for (int i = 0; i < s->n_monitor; i++)
        ml_free(s->monitor[i].name);
    ml_free(s->monitor);
    ml_free(s->update_callbacks);
    ml_free(s);
}

static ml_status add_monitoring(ml_sgd *s, const char *name, void *dataset)
{
    ml_monitoring_dataset *m = ml_realloc(s->monitor, (size_t)(s->n_monitor + 1) * sizeof *m);
    if (!m)
        return ML_ENOMEM;
    s->monitor = m;
    m[s->n_monitor].data = dataset;
    if (!(m[s->n_monitor].name = ml_strdup(name)))
        return ML_ENOMEM;
    s->n_monitor++;
    return ML_OK;
}

/* monitoring_dataset: one dataset (channels without prefix) or a mapping of names to datasets. */
static ml_status read_monitoring_datasets(ml_cfg_args *a, ml_sgd *s)
{
    const ml_cfg_node *mon = ml_cfg_args_node(a, "monitoring_dataset");
    if (!mon)
        return ML_OK;
    ml_cfg_ctx *ctx = ml_cfg_args_ctx(a);
    void *obj;
    ml_status st = ML_OK;
    if (mon->kind == ML_CFG_MAP && mon->tag) {
        if ((st = ml_cfg_instantiate(ctx, mon, "dataset", &obj)) == ML_OK)
            st = add_monitoring(s, "", obj);
    } else if (mon->kind == ML_CFG_MAP) {
        for (size_t i = 0; st == ML_OK && i < mon->n; i++)
            if ((st = ml_cfg_instantiate(ctx, mon->items[i], "dataset", &obj)) == ML_OK)
                st = add_monitoring(s, mon->keys[i], obj);
    } else {
        st = ml_cfg_args_error(a, "monitoring_dataset", ML_EINVAL, "must be a dataset or a mapping of names to datasets");
    }
    return st;
}

static ml_status args_positive(ml_cfg_args *a, const char *name, int64_t *v)
{
    ML_TRY(ml_cfg_args_int64(a, name, v));
    if (*v < 1)
        return ml_cfg_args_error(a, name, ML_EINVAL, "must be at least 1");
    return ML_OK;
}

/* What SGD and BGD read alike: the monitor's batches, the cost, the criterion,
 * the seed and the monitoring datasets. */
static ml_status read_algorithm_args(ml_cfg_args *a, ml_sgd *s)
{
    void *obj;
    int64_t v;
    ml_status st = ML_OK;
    if (ml_cfg_args_has(a, "monitoring_batch_size") && (st = args_positive(a, "monitoring_batch_size", &v)) == ML_OK)
        s->monitoring_batch_size = v;
    if (st == ML_OK && ml_cfg_args_has(a, "monitoring_batches") &&
        (st = args_positive(a, "monitoring_batches", &v)) == ML_OK)
        s->monitoring_batches = v;
    if (st == ML_OK && ml_cfg_args_has(a, "cost") && (st = ml_cfg_args_object(a, "cost", NULL, &obj)) == ML_OK)
        s->cost = obj;
    if (st == ML_OK && ml_cfg_args_has(a, "termination_criterion") &&
        (st = ml_cfg_args_object(a, "termination_criterion", NULL, &obj)) == ML_OK)
        s->termination = obj;
    if (st == ML_OK)
        st = read_seed(a, "seed", &s->seed);
    if (st == ML_OK)
        st = read_monitoring_datasets(a, s);
    return st;
}

static ml_status sgd_construct(ml_cfg_args *a, void **out)
{
    ml_sgd *s = ml_malloc(sizeof *s);
    if (!s)
        return ML_ENOMEM;
    ml_sgd_init(s);
    const char *mode;
    void *obj;
    ml_status st = ml_cfg_args_float(a, "learning_rate", &s->learning_rate);
    if (st == ML_OK && !(s->learning_rate > 0))
        st = ml_cfg_args_error(a, "learning_rate", ML_EINVAL, "must be positive");
    if (st == ML_OK && (st = ml_cfg_args_int64(a, "batch_size", &s->batch_size)) == ML_OK && s->batch_size < 1)
        st = ml_cfg_args_error(a, "batch_size", ML_EINVAL, "must be at least 1");
    if (st == ML_OK)
        st = read_algorithm_args(a, s);
    if (st == ML_OK && ml_cfg_args_has(a, "learning_rule") &&
        (st = ml_cfg_args_object(a, "learning_rule", NULL, &obj)) == ML_OK) {
        s->rule = *(const ml_learning_rule *)obj;
    }
    int n_callbacks = ml_cfg_args_count(a, "update_callbacks");
    if (st == ML_OK && n_callbacks > 0 &&
        !(s->update_callbacks = ml_calloc((size_t)n_callbacks, sizeof *s->update_callbacks)))
        st = ML_ENOMEM;
    for (int i = 0; st == ML_OK && i < n_callbacks; i++)
        if ((st = ml_cfg_args_item_object(a, "update_callbacks", i, &obj)) == ML_OK)
            s->update_callbacks[s->n_update_callbacks++] = obj;
    if (st == ML_OK && (st = ml_cfg_args_string(a, "train_iteration_mode", &mode)) == ML_OK) {
        int m = ml_iteration_mode_parse(mode);
        if (m >= 0)
            s->iteration = (ml_iteration_mode)m;
        else
            st = ml_cfg_args_error(a, "train_iteration_mode", ML_EINVAL,
                                   "must be 'sequential', 'shuffled_sequential', 'random_slice', 'random_uniform' "
                                   "or 'batchwise_shuffled_sequential', not '%s'", mode);
    }
    if (st != ML_OK) {
        sgd_destroy(s);
        return st;
    }
    *out = s;
    return ML_OK;
}

static const ml_component sgd = {
    "SGD", ALIASES("pylearn2.training_algorithms.sgd.SGD"), "algorithm", sgd_params, sgd_construct, sgd_destroy,
    "stochastic gradient descent on mini-batches, monitoring after each epoch"};

/* ---- BGD (issue 5) ---- */

static const ml_cfg_param bgd_params[] = {
    {.name = "batch_size", .type = ML_CFG_T_INT, .required = 1,
     .doc = "examples per minibatch (the largest batch a compiled function runs)"},
    {.name = "batches_per_iter", .type = ML_CFG_T_INT, .def = "1",
     .doc = "minibatches whose gradients add up to one batch of the line searches, so a batch may exceed memory "
            "(Pylearn2: batches per epoch, each minimised alone)"},
    {.name = "updates_per_batch", .type = ML_CFG_T_INT, .def = "10", .doc = "line searches on each batch"},
    {.name = "conjugate", .type = ML_CFG_T_BOOL, .def = "false",
     .doc = "Polak-Ribiere conjugate directions (beta = max(0, g.(g - g_prev) / g_prev.g_prev), restarted when "
            "not a descent direction or a search fails) instead of steepest descent"},
    {.name = "reset_conjugate", .type = ML_CFG_T_BOOL, .def = "true",
     .doc = "start every batch from steepest descent"},
    {.name = "line_search_mode", .type = ML_CFG_T_STRING, .def = "'exhaustive'",
     .doc = "exhaustive (bracket the minimum from the carried alpha by doubling or halving, then narrow it by "
            "golden sections and take the lowest point) or backtracking (Armijo: halve twice the carried alpha "
            "until the objective falls enough); a step is taken only when the objective falls"},
    {.name = "reset_alpha", .type = ML_CFG_T_BOOL, .def = "true",
     .doc = "start every batch's first line search at init_alpha (else carry alpha over from the last batch)"},
    {.name = "init_alpha", .type = ML_CFG_T_FLOAT, .def = "0.01",
     .doc = "the first step size tried, a multiple of the search direction"},
    {.name = "monitoring_dataset", .type = ML_CFG_T_ANY,
     .doc = "a mapping from channel prefixes to datasets (or one dataset, channels without prefix)"},
    {.name = "monitoring_batch_size", .type = ML_CFG_T_INT, .doc = "examples per batch of the monitor (default: batch_size)"},
    {.name = "monitoring_batches", .type = ML_CFG_T_INT, .doc = "batches of each monitoring dataset the monitor reads (default: all)"},
    {.name = "cost", .type = ML_CFG_T_OBJECT, .category = "cost", .doc = "the objective (default: the model's own)"},
    {.name = "termination_criterion", .type = ML_CFG_T_OBJECT, .category = "termination", .doc = "when to stop (default: never)"},
    {.name = "train_iteration_mode", .type = ML_CFG_T_STRING, .def = "shuffled_sequential",
     .doc = "order of the minibatches: shuffled_sequential (Pylearn2's), sequential or batchwise_shuffled_sequential"},
    {.name = "seed", .type = ML_CFG_T_ANY, .def = "[2012, 10, 16]", .doc = "seed of the shuffles"},
    {0}};

static void bgd_destroy(void *p)
{
    ml_bgd *b = p;
    for (int i = 0; i < b->base.n_monitor; i++)
        ml_free(b->base.monitor[i].name);
    ml_free(b->base.monitor);
    ml_free(b);
}

/* A positive int64 parameter. */
static ml_status bgd_construct(ml_cfg_args *a, void **out)
{
    ml_bgd *b = ml_malloc(sizeof *b);
    if (!b)
        return ML_ENOMEM;
    ml_bgd_init(b);
    ml_sgd *s = &b->base;
    const char *text;
    ml_status st = args_positive(a, "batch_size", &s->batch_size);
    if (st == ML_OK)
        st = args_positive(a, "batches_per_iter", &b->batches_per_iter);
    if (st == ML_OK)
        st = args_positive(a, "updates_per_batch", &b->updates_per_batch);
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "conjugate", &b->conjugate);
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "reset_conjugate", &b->reset_conjugate);
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "reset_alpha", &b->reset_alpha);
    if (st == ML_OK && (st = ml_cfg_args_string(a, "line_search_mode", &text)) == ML_OK) {
        int m = ml_line_search_mode_parse(text);
        if (m >= 0)
            b->line_search = (ml_line_search_mode)m;
        else
            st = ml_cfg_args_error(a, "line_search_mode", ML_EINVAL, "must be 'exhaustive' or 'backtracking', not '%s'",
                                   text);
    }
    if (st == ML_OK && (st = ml_cfg_args_float(a, "init_alpha", &b->init_alpha)) == ML_OK &&
        !(b->init_alpha > 0 && isfinite(b->init_alpha)))
        st = ml_cfg_args_error(a, "init_alpha", ML_EINVAL, "must be positive");
    if (st == ML_OK)
        st = read_algorithm_args(a, s);
    if (st == ML_OK && (st = ml_cfg_args_string(a, "train_iteration_mode", &text)) == ML_OK) {
        int m = ml_iteration_mode_parse(text);
        if (m == ML_ITER_SEQUENTIAL || m == ML_ITER_SHUFFLED_SEQUENTIAL || m == ML_ITER_BATCHWISE_SHUFFLED_SEQUENTIAL)
            s->iteration = (ml_iteration_mode)m;
        else
            st = ml_cfg_args_error(a, "train_iteration_mode", ML_EINVAL,
                                   "must be 'shuffled_sequential', 'sequential' or 'batchwise_shuffled_sequential' "
                                   "(each example once an epoch), not '%s'", text);
    }
    if (st != ML_OK) {
        bgd_destroy(b);
        return st;
    }
    *out = b;
    return ML_OK;
}

static const ml_component bgd = {
    "BGD", ALIASES("pylearn2.training_algorithms.bgd.BGD"), "algorithm", bgd_params, bgd_construct, bgd_destroy,
    "batch gradient descent: the gradient of batches_per_iter minibatches, then updates_per_batch line searches "
    "along it (or along conjugate directions), monitoring after each epoch; the channel alpha is the latest step"};

/* ---- Train ---- */

static const ml_cfg_param train_params[] = {
    {.name = "dataset", .type = ML_CFG_T_OBJECT, .category = "dataset", .required = 1, .doc = "the training data"},
    {.name = "model", .type = ML_CFG_T_OBJECT, .category = "model", .required = 1, .doc = "the model to train"},
    {.name = "algorithm", .type = ML_CFG_T_OBJECT, .category = "algorithm", .required = 1, .doc = "the training algorithm"},
    {.name = "save_path", .type = ML_CFG_T_STRING, .doc = "model file written during and after training"},
    {.name = "save_freq", .type = ML_CFG_T_INT, .def = "0", .doc = "epochs between saves (0: only at the end)"},
    {.name = "extensions", .type = ML_CFG_T_LIST, .elem = ML_CFG_T_OBJECT, .category = "extension",
     .doc = "called after each monitor record"},
    {.name = "allow_overwrite", .type = ML_CFG_T_BOOL, .def = "true", .doc = "whether save_path may replace an existing file"},
    {.name = "device", .type = ML_CFG_T_STRING,
     .doc = "cpu or cuda: where to train, unless ml-train's --device or ML_DEVICE says otherwise (default: cpu)"},
    {0}};

static void train_destroy(void *p)
{
    ml_experiment_train *t = p;
    ml_free(t->train.save_path);
    ml_free(t->train.extensions);
    ml_free(t);
}

static ml_status train_construct(ml_cfg_args *a, void **out)
{
    ml_experiment_train *t = ml_calloc(1, sizeof *t);
    if (!t)
        return ML_ENOMEM;
    void *obj;
    ml_status st = ml_cfg_args_object(a, "dataset", NULL, &obj);
    t->train.dataset = obj;
    if (st == ML_OK && (st = ml_cfg_args_object(a, "model", NULL, &obj)) == ML_OK) {
        t->mlp = obj;
        t->train.model = t->mlp->model;
    }
    if (st == ML_OK && (st = ml_cfg_args_object(a, "algorithm", NULL, &obj)) == ML_OK) {
        if (ml_cfg_ctx_component_of(ml_cfg_args_ctx(a), obj) == &bgd) {
            t->train.bgd = obj;
        } else {
            t->train.algorithm = obj;
        }
    }
    if (st == ML_OK && ml_cfg_args_has(a, "save_path"))
        st = args_strdup(a, "save_path", &t->train.save_path);
    if (st == ML_OK && (st = ml_cfg_args_int64(a, "save_freq", &t->train.save_freq)) == ML_OK && t->train.save_freq < 0)
        st = ml_cfg_args_error(a, "save_freq", ML_EINVAL, "must not be negative");
    if (st == ML_OK)
        st = ml_cfg_args_bool(a, "allow_overwrite", &t->train.allow_overwrite);
    if (st == ML_OK && ml_cfg_args_has(a, "device")) {
        const char *dev;
        if ((st = ml_cfg_args_string(a, "device", &dev)) == ML_OK && ml_device_parse(dev, &t->train.device) != ML_OK)
            st = ml_cfg_args_error(a, "device", ML_EINVAL, "must be cpu or cuda, not '%s'", dev);
        t->train.device_given = st == ML_OK;
    }
    int n = ml_cfg_args_count(a, "extensions");
    if (st == ML_OK && n > 0 && !(t->train.extensions = ml_calloc((size_t)n, sizeof *t->train.extensions)))
        st = ML_ENOMEM;
    for (int i = 0; st == ML_OK && i < n; i++)
        if ((st = ml_cfg_args_item_object(a, "extensions", i, &obj)) == ML_OK)
            t->train.extensions[t->train.n_extensions++] = obj;
    if (st != ML_OK) {
        train_destroy(t);
        return st;
    }
    *out = t;
    return ML_OK;
}

static const ml_component train = {
    "Train", ALIASES("pylearn2.train.Train"), "train", train_params, train_construct, train_destroy,
    "an experiment: train model on dataset with algorithm, saving to save_path"};

ml_status ml_components_register(void)
{
    static int registered;
    if (registered)
        return ML_OK;
    const ml_component *all[] = {
        &train, &hdf5_dataset, &mnist, &transformer_dataset, &mlp, &conv2d_space, &vector_space, &index_space, &composite_space, &linear, &sigmoid, &tanh_layer, &relu,
        &softmax, &conv_relu, &sgd, &bgd, &momentum, &adagrad, &rmsprop, &adadelta, &adam, &adamax, &nadam,
        &default_cost, &dropout_cost, &weight_decay, &l1_decay, &sum_of_costs, &epoch_counter, &monitor_based,
        &channel_target, &and_criterion, &or_criterion, &save_best, &momentum_adjustor, &linear_decay,
        &exponential_decay, &polyak, &standardize_prep, &gcn_prep, &zca_prep, &pca_prep, &lcn_prep,
        &remove_mean_prep, &patches_prep, &pipeline_prep, &transform_file_prep,
    };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        ML_TRY(ml_cfg_register(all[i]));
    registered = 1;
    return ML_OK;
}
