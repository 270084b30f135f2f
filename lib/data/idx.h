/* IDX files (LeCun's MNIST format, also Fashion-MNIST's), raw or gzip-compressed.
 *
 * An IDX file is a 4-byte magic (0, 0, element type, number of dimensions),
 * the dimensions as big-endian 32-bit integers, then the elements in row-major
 * order.  Only unsigned bytes (type 0x08) are read: images [N, H, W] (magic
 * 0x00000803) and labels [N] (magic 0x00000801).  Compression is recognised by
 * its magic number, not by the file name.  Path "-" reads standard input. */
#ifndef ML_DATA_IDX_H
#define ML_DATA_IDX_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"
#include "tensor/tensor.h"

typedef struct {
    int raw_pixels; /* 1: keep pixel values 0..255; 0 (default): scale to [0, 1] (x / 255) */
} ml_idx_opts;

/* Images as a float32 [N, H*W] tensor; image_shape receives {1, H, W}.
 * "t10k-images-idx3-ubyte.gz: truncated: expected 7840000 bytes of pixels, found 123". */
ml_status ml_idx_read_images(const char *path, const ml_idx_opts *opts, ml_tensor **images,
                             int64_t image_shape[3]);
/* Labels as an int32 [N] tensor; max_label (may be NULL) receives the largest (-1 if N is 0). */
ml_status ml_idx_read_labels(const char *path, ml_tensor **labels, int *max_label);

/* A dataset from an images file and (labels may be NULL) a labels file:
 * X [N, H*W] with image_shape {1, H, W}; y [N] with n_classes = 1 + the largest
 * label; no class names, no provenance; named after the images file.  A label
 * file with another count: "train-labels-idx1-ubyte.gz has 10000 labels,
 * train-images-idx3-ubyte.gz has 60000 images". */
ml_status ml_idx_import(const char *images, const char *labels, const ml_idx_opts *opts,
                        ml_dataset **out);

#endif
