/* Import of named datasets from any HDF5 file (one written by h5py, say).
 *
 * X is any numeric dataset (integer types are converted to float32, float64
 * to float32); y (optional) an integer [N] dataset of class indices or a float
 * [N] or [N, K] dataset of targets.  Shapes follow ml_dataset_from_arrays
 * (npy.h): [N, H, W] becomes images [N, 1, H, W], [N, C, H, W] stays.  Path
 * "-" reads an HDF5 file image from standard input. */
#ifndef ML_DATA_H5IMPORT_H
#define ML_DATA_H5IMPORT_H

#include "core/error.h"
#include "data/dataset.h"

/* "data.h5:/features: not found" when a dataset is missing. */
ml_status ml_hdf5_import(const char *path, const char *x_name, const char *y_name,
                       ml_dataset **out);

#endif
