/* HDF5 files: tensors, arrays, attributes and text, read from and written to
 * named files or pipes.
 *
 * Reading.  ml_h5_open(path) opens a file read-only; path "-" reads the whole
 * of standard input into memory and opens it as an HDF5 file image (a pipe
 * carries a whole file; see ml-files(5)).  Both check the HDF5 signature first,
 * so a text file, an empty file or a truncated file gives a one-line message
 * ("train.h5: not an HDF5 file") instead of an HDF5 error stack.
 *
 * Writing.  ml_h5_create(path) writes into a temporary file beside the target
 * (".NAME.tmp.PID.N" in the same directory) and ml_h5_commit() closes, fsyncs
 * and renames it into place; ml_h5_close() without a successful commit removes
 * the temporary.  So a failed or interrupted write never leaves a half-written
 * file under the final name, and an existing file of that name stays as it
 * was until the commit.  A temporary left by a process killed while writing
 * is removed by the next ml_h5_create of the same name (once that process is
 * gone).  Path "-" builds the file in memory and the commit
 * writes its image to standard output.  The usual pattern:
 *
 *     ml_h5_file *f;
 *     ML_TRY(ml_h5_create(path, &f));
 *     ml_status s = ml_h5_write_tensor(f, "/params/h0/W", w, NULL);
 *     if (s == ML_OK) s = ml_h5_attr_write_str(f, "/", "ml_format", "ml-model");
 *     if (s == ML_OK) s = ml_h5_commit(f);
 *     ml_h5_close(f);
 *
 * Objects are named by absolute paths ("/params/h0/W"; a missing leading "/"
 * is implied); writers create the groups on the way.  Groups record the
 * creation order of their links.  Numbers are stored little-endian
 * (float32 = H5T_IEEE_F32LE, int32 = H5T_STD_I32LE, ...) and strings as
 * variable-length UTF-8, so h5py and h5dump read everything without libml.
 *
 * Errors.  Every failure returns a status with a message naming the file and
 * the object: "data/train.h5:/X: not found",
 * "m.h5:/params/h0/W: expected float32 [784, 500], found [784, 400]".  HDF5's own
 * error printing is switched off (per thread, on the first call of this module
 * in each thread); an HDF5 failure adds its innermost reason in parentheses.
 *
 * Threads: HDF5 is used through its global lock; one ml_h5_file must not be
 * used by two threads at once.  Pipes hold the whole file in memory on both
 * sides; use file operands for datasets larger than memory. */
#ifndef ML_IO_H5_H
#define ML_IO_H5_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "tensor/tensor.h"

typedef struct ml_h5_file ml_h5_file;

/* ---- files ------------------------------------------------------------- */

/* Opens for reading.  "-" reads standard input (shown as "<stdin>").  Missing or
 * unreadable file: ML_EIO; not HDF5, truncated or damaged: ML_EFORMAT. */
ml_status ml_h5_open(const char *path, ml_h5_file **f);
/* Opens the file read from fd (not closed here).  A regular file positioned at its
 * start is opened in place; anything else (a pipe) is read to its end into memory.
 * display_name is used in messages (NULL: "<fd N>"). */
ml_status ml_h5_open_fd(int fd, const char *display_name, ml_h5_file **f);

/* Starts writing path (see above); "-" writes to standard output at commit
 * ("<stdout>").  A directory that does not exist or cannot be written fails here:
 * "out/model.h5: cannot create: No such file or directory". */
ml_status ml_h5_create(const char *path, ml_h5_file **f);
/* Builds the file in memory and writes its image to fd (not closed) at commit. */
ml_status ml_h5_create_fd(int fd, const char *display_name, ml_h5_file **f);

/* Finishes a file being written: closes it and renames it into place (fsync
 * first), or writes its image to the output fd.  On failure nothing is left
 * under the final name.  Afterwards the file accepts no more writes or reads;
 * ml_h5_close() it. */
ml_status ml_h5_commit(ml_h5_file *f);
/* Closes and frees; a written file that was not committed is discarded.  NULL is a no-op. */
void ml_h5_close(ml_h5_file *f);

/* The name used in messages (the path, "<stdin>", "<stdout>"); borrowed. */
const char *ml_h5_file_name(const ml_h5_file *f);

/* HDF5's own error stacks on stderr for this thread (on: for `-v -v`), or off
 * again; this module switches them off by itself otherwise. */
void ml_h5_print_hdf5_errors(int on);

/* ---- objects ----------------------------------------------------------- */

typedef enum {
    ML_H5_NONE = 0, /* nothing at that path (false) */
    ML_H5_GROUP = 1,
    ML_H5_DATASET = 2,
    ML_H5_OTHER = 3, /* a named datatype */
} ml_h5_kind;

/* What is at path (ML_H5_NONE also when a group on the way is missing). */
ml_h5_kind ml_h5_exists(ml_h5_file *f, const char *path);
/* Creates a group and the groups on the way; an existing group is fine. */
ml_status ml_h5_create_group(ml_h5_file *f, const char *path);

typedef enum { ML_H5_ORDER_NAME = 0, ML_H5_ORDER_CREATION = 1 } ml_h5_order;

/* The names of the links in a group, as a NULL-terminated array of ml_strdup'ed
 * strings (free with ml_h5_names_free); count (may be NULL) receives their
 * number.  Creation order falls back to name order for groups that do not
 * track it (files written by other programs). */
ml_status ml_h5_list(ml_h5_file *f, const char *group, ml_h5_order order, char ***names,
                     int64_t *count);
void ml_h5_names_free(char **names);

/* ---- datasets: tensors ------------------------------------------------- */

#define ML_H5_CHUNK_AUTO (-1)

/* How a dataset is stored.  NULL means contiguous and uncompressed. */
typedef struct {
    /* 0: contiguous (unless deflate asks for chunks); > 0: chunks of that many
     * rows (clipped to the row count); ML_H5_CHUNK_AUTO: rows for chunks of about
     * 256 KiB to 1 MiB.  Empty datasets are always contiguous. */
    int64_t chunk_rows;
    /* 0: no compression; 1..9: shuffle + deflate at that level (chunked, AUTO rows
     * when chunk_rows is 0). */
    int deflate;
} ml_h5_write_opts;

/* Writes a new dataset (an existing path is ML_EINVAL): float32 as H5T_IEEE_F32LE,
 * int32 as H5T_STD_I32LE, the tensor's shape (ndim 0: a scalar dataset).  A
 * tensor on another device is copied to the host first. */
ml_status ml_h5_write_tensor(ml_h5_file *f, const char *path, const ml_tensor *t,
                             const ml_h5_write_opts *opts);

/* Reads a numeric dataset into a new CPU tensor: float classes become ML_F32
 * (float64 converted), integer classes ML_I32 (a value outside the int32 range is
 * ML_EFORMAT).  Other classes: "NAME:/path: expected a numeric dataset, found string". */
ml_status ml_h5_read_tensor(ml_h5_file *f, const char *path, ml_tensor **out);

/* As ml_h5_read_tensor, but the dataset must have this dtype (float for ML_F32,
 * integer for ML_I32) and shape; a negative entry of shape matches any size.
 * "m.h5:/params/h0/W: expected float32 [784, 500], found [784, 400]" (ML_ESHAPE;
 * ML_EFORMAT for the wrong type). */
ml_status ml_h5_read_tensor_expect(ml_h5_file *f, const char *path, ml_dtype dtype, int ndim,
                                   const int64_t *shape, ml_tensor **out);
/* As ml_h5_read_tensor_expect with dst's type and shape, into dst (on any device). */
ml_status ml_h5_read_tensor_into(ml_h5_file *f, const char *path, ml_tensor *dst);

/* Shape of a dataset; dtype (may be NULL) as ml_h5_read_tensor would give it
 * (a non-numeric dataset is then ML_EFORMAT). */
ml_status ml_h5_dataset_shape(ml_h5_file *f, const char *path, int *ndim,
                              int64_t shape[ML_MAX_DIMS], ml_dtype *dtype);

/* Reads rows [start, start+count) along the first axis into an existing tensor
 * (any device) of count rows whose other dimensions hold the same number of
 * elements as a row of the dataset (a [N, 1, 28, 28] dataset reads into
 * [count, 784]).  Conversion as in ml_h5_read_tensor, to into's dtype.  The
 * dataset stays open between calls with a chunk cache big enough that streaming
 * through a compressed dataset decompresses each chunk once. */
ml_status ml_h5_read_rows(ml_h5_file *f, const char *path, int64_t start, int64_t count,
                          ml_tensor *into);

/* Appends the rows of t (its first axis; ndim 0 is one row of a 1-D dataset) to
 * an extendible dataset, created on first use with unlimited rows, chunked.
 * Later calls need the same row shape and the same class (float or integer). */
ml_status ml_h5_append_rows(ml_h5_file *f, const char *path, const ml_tensor *t);

/* ---- datasets: typed arrays (int64 indices, float64 monitor values, RNG state) */

typedef enum { ML_H5_F32, ML_H5_F64, ML_H5_I32, ML_H5_I64, ML_H5_U64 } ml_h5_type;

/* Host data of ml_shape_numel(ndim, shape) elements of type, row-major. */
ml_status ml_h5_write_array(ml_h5_file *f, const char *path, ml_h5_type type, int ndim,
                            const int64_t *shape, const void *data, const ml_h5_write_opts *opts);
/* shape[0] rows appended as by ml_h5_append_rows. */
ml_status ml_h5_append_array(ml_h5_file *f, const char *path, ml_h5_type type, int ndim,
                             const int64_t *shape, const void *data);
/* Reads a whole dataset converted to type into *data (ml_malloc'ed, NULL when
 * empty).  Integers convert to floats; floats to integers are ML_EFORMAT, as is
 * an integer outside the range of type. */
ml_status ml_h5_read_array(ml_h5_file *f, const char *path, ml_h5_type type, int *ndim,
                           int64_t shape[ML_MAX_DIMS], void **data);

/* A random stream's state (core/rng.h) as an int64 [ML_RNG_STATE_WORDS]
 * dataset, as model files keep their training state; reading anything else is
 * "m.h5:/train_state/order_rng: expected 8 words of random state" (ML_EFORMAT). */
ml_status ml_h5_write_rng_state(ml_h5_file *f, const char *path, const uint32_t state[ML_RNG_STATE_WORDS]);
ml_status ml_h5_read_rng_state(ml_h5_file *f, const char *path, uint32_t state[ML_RNG_STATE_WORDS]);
/* A generator's state saved, and restored from path ("file:path: not a valid
 * random state" when the words are not one). */
ml_status ml_h5_write_rng(ml_h5_file *f, const char *path, const ml_rng *rng);
ml_status ml_h5_read_rng(ml_h5_file *f, const char *path, ml_rng *rng);

/* ---- text datasets ----------------------------------------------------- */

/* A scalar variable-length UTF-8 string dataset (for YAML experiments and other
 * text too large for an attribute). */
ml_status ml_h5_write_text(ml_h5_file *f, const char *path, const char *text);
/* Reads a string dataset (variable or fixed length, scalar or one element) into
 * an ml_malloc'ed string. */
ml_status ml_h5_read_text(ml_h5_file *f, const char *path, char **text);

/* ---- attributes -------------------------------------------------------- */
/* obj is "/" (the file), a group or a dataset.  Writing replaces an attribute of
 * the same name.  Missing object or attribute: ML_ENOTFOUND. Attributes hold at
 * most 64 KiB. */

int ml_h5_attr_exists(ml_h5_file *f, const char *obj, const char *name);

ml_status ml_h5_attr_write_str(ml_h5_file *f, const char *obj, const char *name, const char *value);
ml_status ml_h5_attr_write_i64(ml_h5_file *f, const char *obj, const char *name, int64_t value);
ml_status ml_h5_attr_write_f64(ml_h5_file *f, const char *obj, const char *name, double value);
ml_status ml_h5_attr_write_str_array(ml_h5_file *f, const char *obj, const char *name,
                                     const char *const *values, int64_t n);
ml_status ml_h5_attr_write_i64_array(ml_h5_file *f, const char *obj, const char *name,
                                     const int64_t *values, int64_t n);
ml_status ml_h5_attr_write_f64_array(ml_h5_file *f, const char *obj, const char *name,
                                     const double *values, int64_t n);

/* Scalar readers accept a scalar or a one-element array; integers convert to
 * double, floats to integers are ML_EFORMAT.  Strings are ml_malloc'ed. */
ml_status ml_h5_attr_read_str(ml_h5_file *f, const char *obj, const char *name, char **value);
ml_status ml_h5_attr_read_i64(ml_h5_file *f, const char *obj, const char *name, int64_t *value);
ml_status ml_h5_attr_read_f64(ml_h5_file *f, const char *obj, const char *name, double *value);
/* A NULL-terminated array as from ml_h5_list (free with ml_h5_names_free). */
ml_status ml_h5_attr_read_str_array(ml_h5_file *f, const char *obj, const char *name,
                                    char ***values, int64_t *n);
/* *values is ml_malloc'ed (NULL when n is 0). */
ml_status ml_h5_attr_read_i64_array(ml_h5_file *f, const char *obj, const char *name,
                                    int64_t **values, int64_t *n);
ml_status ml_h5_attr_read_f64_array(ml_h5_file *f, const char *obj, const char *name,
                                    double **values, int64_t *n);

#endif
