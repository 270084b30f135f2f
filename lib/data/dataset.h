/* ml_dataset: a dataset held in memory, and its HDF5 file (ml-files(5), DATASET FILES).
 *
 * A dataset is a design matrix X, float32 [N, D] (or images [N, C, H, W]),
 * with optional targets y: int32 [N] class indices in 0..n_classes-1, or
 * float32 [N, K] real targets (n_classes 0, or K for the one-hot codes of
 * ml_dataset_one_hot).  Examples lie along the first
 * axis of both.  It also carries what a file says about it: the shape of one
 * image when rows are images, the class names, and its provenance (the
 * commands that made it, one per line).
 *
 * The file is Pylearn2's HDF5Dataset {filename, X, y, start, stop}: the loader
 * takes the names of the X and y datasets (default "X" and "y") and an optional
 * row range [start, stop).  Files written by other programs (h5py) load too when
 * they have a float X and an integer or float y; the root attributes of an ml
 * dataset file are then simply absent.
 *
 * Everything is on the CPU.  A dataset owns its tensors and strings;
 * ml_dataset_view_rows() gives a dataset that shares the rows of another.
 *
 * A dataset too large for memory is streamed: X stays in its file (X is
 * NULL and `stream` says where its rows are) while y and everything else is
 * read; an ml_feed (data/feed.h) then reads batches on a background thread.
 * Only ml_feed and the functions below that say so accept a streamed
 * dataset; everything that needs all of X asks ml_dataset_require_memory(). */
#ifndef ML_DATA_DATASET_H
#define ML_DATA_DATASET_H

#include <stdint.h>

#include "core/error.h"
#include "io/h5.h"
#include "tensor/tensor.h"

#define ML_DATASET_FORMAT "ml-dataset"
#define ML_DATASET_FORMAT_VERSION 1

typedef struct {
    ml_tensor *X;           /* float32 [N, D] or [N, C, H, W] */
    ml_tensor *y;           /* int32 [N], float32 [N, K], or NULL */
    int n_classes;          /* > 0 for class labels; 0 when unknown or regression */
    int64_t image_shape[3]; /* C, H, W of one example; all 0 if rows are not images */
    char **y_labels;        /* class names (n_y_labels of them) or NULL */
    int64_t n_y_labels;
    char *provenance;  /* commands that made it, one per line ("" or NULL if none) */
    char *name;        /* file name for messages ("<stdin>" for "-") */
    int64_t first_row; /* row of the file that row 0 came from (for messages) */
    struct ml_dataset_stream *stream; /* where X's rows are, when X stays in its file */
} ml_dataset;

/* Where the rows of a streamed X are: rows [first_row, first_row + n) of the
 * float dataset x_path of the file path. */
typedef struct ml_dataset_stream {
    char *path;
    char *x_path;
    int64_t n;        /* rows */
    int64_t features; /* values in one row */
} ml_dataset_stream;

/* ---- building and freeing ---------------------------------------------- */

/* An empty dataset named `name` (may be NULL); fill in X (and y) afterwards. */
ml_dataset *ml_dataset_new(const char *name);
/* Frees the dataset, its tensors and strings.  NULL is a no-op. */
void ml_dataset_free(ml_dataset *ds);

int64_t ml_dataset_n_examples(const ml_dataset *ds); /* rows of X (0 without X); streamed too */
int64_t ml_dataset_n_features(const ml_dataset *ds); /* elements of one row of X; streamed too */
/* ML_OK when X is in memory; else "NAME: WHAT needs the data in memory; the file
 * is streamed (storage: memory forces loading it)" (ML_EINVAL). */
ml_status ml_dataset_require_memory(const ml_dataset *ds, const char *what);

/* Replaces the name used in messages. */
ml_status ml_dataset_set_name(ml_dataset *ds, const char *name);
/* Replaces the class names (n of them; NULL/0 removes them). */
ml_status ml_dataset_set_y_labels(ml_dataset *ds, const char *const *labels, int64_t n);
/* Appends one line to the provenance (a trailing newline is added if missing). */
ml_status ml_dataset_add_provenance(ml_dataset *ds, const char *line);
/* Appends a command line, argv[0] first, quoting words for a POSIX shell where
 * needed, so the line can be run again. */
ml_status ml_dataset_add_command(ml_dataset *ds, int argc, char *const *argv);
/* "ml-preprocess split 'a b.h5' ..." as an ml_malloc'ed string (NULL on ENOMEM). */
char *ml_command_line(int argc, char *const *argv);

/* ---- checks ------------------------------------------------------------ */

/* X and y have the same number of rows, y is int32 [N] or float32 [N, K], every
 * int label lies in 0..n_classes-1 (when n_classes > 0), image_shape matches a
 * row of X, and y_labels (when set) has n_classes names.
 * "train.h5:/y: row 17 has label 12, outside 0..9" (ML_EFORMAT). */
ml_status ml_dataset_check_labels(const ml_dataset *ds);
/* Every value of X is finite; "train.h5:/X: row 17 column 3 is NaN" (ML_ENUMERIC),
 * rows counted in the file (first_row + i), columns in a flattened row, from 0. */
ml_status ml_dataset_check_finite(const ml_dataset *ds);
/* The same check of n rows of d values at x, the first being row first_row of
 * the dataset `dataset` of `file`: "FILE:DATASET: row R column C is +Inf". */
ml_status ml_check_finite_rows(const float *x, int64_t n, int64_t d, int64_t first_row,
                               const char *file, const char *dataset);

/* ---- summaries -------------------------------------------------------- */

typedef struct {
    double min, max;     /* over the finite values of X (0 when there are none) */
    double mean, std;    /* population std, accumulated in double */
    int64_t n_values;    /* finite values counted */
    int64_t n_nonfinite; /* NaN and Inf values */
} ml_dataset_stats;

/* Statistics of all values of X. */
void ml_dataset_value_stats(const ml_dataset *ds, ml_dataset_stats *st);
/* Examples per class: *counts (ml_malloc'ed) receives n_classes counts.  Needs
 * int labels and n_classes > 0 (ML_EINVAL otherwise). */
ml_status ml_dataset_class_counts(const ml_dataset *ds, int64_t **counts);

/* ---- rows -------------------------------------------------------------- */

/* Rows [start, start+count) as a new dataset sharing X and y storage (labels,
 * provenance and name are copied). */
ml_status ml_dataset_view_rows(const ml_dataset *ds, int64_t start, int64_t count,
                               ml_dataset **out);
/* A new dataset of the rows index[0..count-1] of ds, in that order (copied). */
ml_status ml_dataset_take_rows(const ml_dataset *ds, const int32_t *index, int64_t count,
                               ml_dataset **out);
/* The same dataset with X seen as [N, D] (sharing storage); image_shape is kept. */
ml_status ml_dataset_flat(const ml_dataset *ds, ml_dataset **out);

/* Replaces int labels y [N] by their one-hot codes, float32 [N, n_classes]
 * (Pylearn2's one_hot); n_classes and the class names are kept.  Needs int
 * labels and n_classes > 0 (ML_EINVAL otherwise). */
ml_status ml_dataset_one_hot(ml_dataset *ds);

/* ---- files ------------------------------------------------------------- */

typedef enum {
    ML_STORAGE_MEMORY = 0, /* read X into memory */
    ML_STORAGE_AUTO,       /* stream when X would take more than half of the memory available */
    ML_STORAGE_STREAM,     /* leave X in its file (a regular file, not "-") */
} ml_dataset_storage;

/* "auto", "memory", "stream" -> storage; -1 for an unknown name. */
int ml_storage_parse(const char *name);
/* Bytes this process can still use: the least of MemAvailable, the cgroup's
 * memory.max less its usage, and the address-space limit (ulimit -v) less the
 * address space in use.  The environment's ML_MEMORY_AVAILABLE (bytes) overrides it. */
int64_t ml_memory_available(void);

typedef struct {
    const char *x_name;  /* dataset holding X; NULL: "X" */
    const char *y_name;  /* dataset holding y; NULL: "y", and then a file without /y is fine */
    int no_y;            /* 1: do not read y even when present (n_classes is then 0) */
    int64_t start;       /* first row to read (0 default) */
    int64_t stop;        /* one past the last row; <= 0: up to the end (Pylearn2's None) */
    int allow_nonfinite; /* 1: accept NaN and Inf in X */
    int flatten;         /* 1: read [N, C, H, W] images as [N, C*H*W] (image_shape kept) */
    ml_dataset_storage storage;  /* memory (the default) or streamed (see above) */
} ml_dataset_load_opts;

/* Loads a dataset file; path "-" reads standard input (an HDF5 file image).
 * opts may be NULL.  Checks: the root attribute ml_format, when present, is
 * "ml-dataset" and ml_format_version is at most 1; X is float, 2-D or 4-D; y is
 * an integer [N] or float [N, K] with N rows like X; the labels as in
 * ml_dataset_check_labels (n_classes from the root attribute, or, when the file
 * does not say, 1 + the largest label of the whole /y); and, unless allowed,
 * finite X values (a streamed X is checked batch by batch as it is read).
 * Messages name the file and the object:
 * "train.h5:/X: row 17 column 3 is NaN". */
ml_status ml_dataset_load(const char *path, const ml_dataset_load_opts *opts, ml_dataset **out);
/* The same from a file already open for reading. */
ml_status ml_dataset_read(ml_h5_file *f, const ml_dataset_load_opts *opts, ml_dataset **out);

typedef struct {
    int deflate;        /* 0: uncompressed; 1..9: shuffle + deflate at that level */
    int64_t chunk_rows; /* 0: rows for chunks of about 256 KiB to 1 MiB; > 0: rows per chunk */
} ml_dataset_save_opts;

/* Writes a dataset into a file being created (not committed here), after the
 * checks of ml_dataset_check_labels. */
ml_status ml_dataset_write(ml_h5_file *f, const ml_dataset *ds, const ml_dataset_save_opts *opts);
/* Creates path ("-": standard output), writes and commits: the file appears
 * whole under its name, or not at all (an existing file stays as it was). */
ml_status ml_dataset_save(const ml_dataset *ds, const char *path, const ml_dataset_save_opts *opts);

#endif
