/* Filters and weights tiled into one image: a grid of N tiles of H x W
 * pixels, as Pylearn2's show_weights draws a layer's units.
 *
 * Input is float32 [N, C, H, W] (row-major).  C = 1 gives gray tiles and
 * C = 3 colour tiles (channels R, G, B) in a gray or RGB image.  Any other C
 * shows every channel as a gray tile of its own: filter n's channels are the
 * tiles n*C .. n*C + C - 1, in order, so with cols = C each row of the grid is
 * one filter.
 *
 * Scaling maps values to 0..255, each filter on its own (all channels of a
 * filter share one scale; the default) or all tiles with one global scale.
 * The symmetric range (the default, as Pylearn2) maps 0 to mid-gray 128 and
 * the largest magnitude m to 0 (for -m) or 255 (for +m), so the sign of a
 * weight always shows the same way; the min-max range maps the smallest
 * value to 0 and the largest to 255.  An all-zero filter (min-max: any
 * constant one) is mid-gray; NaN and infinite values are left out of the
 * range and drawn black.
 *
 * Layout: `cols` tiles a row (0: the smallest count with cols * cols >= tiles,
 * near-square), rows as needed; each tile pixel drawn as zoom x zoom pixels;
 * lines of `border` pixels of gray level border_value between the tiles and
 * around the grid; cells after the last tile are filled with the border. */
#ifndef ML_IO_TILE_H
#define ML_IO_TILE_H

#include <stdint.h>

#include "core/error.h"
#include "io/png.h"
#include "tensor/tensor.h"

typedef enum { ML_TILE_SCALE_INDIVIDUAL = 0, ML_TILE_SCALE_GLOBAL = 1 } ml_tile_scale;
typedef enum { ML_TILE_RANGE_SYMMETRIC = 0, ML_TILE_RANGE_MINMAX = 1 } ml_tile_range;

typedef struct {
    int cols;   /* tiles a row; 0: near-square */
    int zoom;   /* 1..64 */
    int border; /* 0..16 pixels */
    uint8_t border_value;
    ml_tile_scale scale;
    ml_tile_range range;
} ml_tile_opts;

/* cols 0 (near-square), zoom 1, border 1 (black), individual symmetric scaling. */
ml_tile_opts ml_tile_defaults(void);

/* The grid for n_tiles tiles of h x w: columns, rows and the image size. */
ml_status ml_tile_geometry(int64_t n_tiles, int64_t h, int64_t w, const ml_tile_opts *opts,
                           int *cols, int *rows, int *width, int *height);

/* Tiles data [n, c, h, w] into a new image (opts NULL: defaults).  Errors:
 * an empty input, a bad option or an image over ML_IMAGE_MAX_SIDE (ML_EINVAL). */
ml_status ml_tile_image(const float *data, int64_t n, int64_t c, int64_t h, int64_t w,
                        const ml_tile_opts *opts, ml_image **out);

/* A layer's weights as filters [N, C, H, W], ready for ml_tile_image:
 *  - a convolutional W [O, C, KH, KW] as it is (O filters);
 *  - a dense W [n_in, n_out] (each column one unit's weights over the inputs)
 *    as n_out filters: when in_shape is given (the shape of this layer's input,
 *    [C, H, W] or [H, W]) and holds n_in values, the column is read as that
 *    image, row-major (c, h, w); otherwise, when n_in is a perfect square s*s,
 *    as one s x s gray image.  Anything else is ML_ESHAPE: "784 inputs are not
 *    an image ...".
 * W must be float32 on the CPU.  *filters is a new CPU tensor. */
ml_status ml_tile_weights(const ml_tensor *W, int in_ndim, const int64_t *in_shape,
                          ml_tensor **filters);

#endif
