/* NumPy .npy files (format versions 1, 2 and 3), raw or gzip-compressed.
 *
 * Read: C-order arrays of uint8 (|u1), int32 (<i4), int64 (<i8), float32 (<f4)
 * and float64 (<f8), little-endian ('<' or '|').  Fortran order, other types
 * and big-endian data are refused with a message naming them.  Path "-" reads
 * standard input. */
#ifndef ML_DATA_NPY_H
#define ML_DATA_NPY_H

#include "core/error.h"
#include "data/dataset.h"
#include "tensor/tensor.h"

/* The array of a .npy file as a CPU tensor: float types as ML_F32, integer
 * types as ML_I32 (an int64 value outside the int32 range is ML_EFORMAT).
 * Arrays of rank 0 or more than ML_MAX_DIMS are refused.
 * "x.npy: Fortran-order arrays are not supported", "x.npy: dtype '<c8' is not
 * supported (uint8, int32, int64, float32, float64)",
 * "x.npy: truncated: expected 4000 bytes of data, found 123". */
ml_status ml_npy_read(const char *path, ml_tensor **out);

/* A dataset from arrays X and y (y may be NULL), named x_name; takes both
 * tensors (freed on failure too).  X of rank 1 becomes [N, 1], rank 2 stays
 * [N, D], rank 3 [N, H, W] becomes images [N, 1, H, W], rank 4 [N, C, H, W]
 * stays images (image_shape {C, H, W}), higher ranks are flattened to [N, D];
 * integer X is converted to float32.  y: integer [N] (or [N, 1]) class indices
 * (negative: ML_EFORMAT; n_classes = 1 + the largest), float [N] or [N, K]
 * real targets ([N, 1] for [N]).  Another number of rows:
 * "y.npy has 10 rows, x.npy has 12". */
ml_status ml_dataset_from_arrays(const char *x_name, ml_tensor *X, const char *y_name,
                                 ml_tensor *y, ml_dataset **out);

/* ml_npy_read of X and y (y_path may be NULL), then ml_dataset_from_arrays. */
ml_status ml_npy_import(const char *x_path, const char *y_path, ml_dataset **out);

#endif
