/* 8-bit images in memory and PNG files written with zlib (no image library).
 *
 * An ml_image is row-major, top row first, `channels` bytes per pixel:
 * 1 = grayscale, 3 = RGB (R, G, B).  PNG output is a plain non-interlaced
 * 8-bit file (colour type 0 or 2): the signature, IHDR, one or more IDAT
 * chunks holding the zlib stream of the filtered scanlines, and IEND, every
 * chunk with its CRC-32.  Each scanline gets the PNG filter (None, Sub, Up,
 * Average or Paeth) with the smallest sum of absolute differences, the usual
 * heuristic that makes plots and weight grids small.
 *
 * ml_png_write() writes a file atomically (see io/atomic.h): on failure
 * nothing is left under the final name and an existing file is untouched;
 * "-" writes to standard output. */
#ifndef ML_IO_PNG_H
#define ML_IO_PNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct {
    int width, height;
    int channels;    /* 1 gray, 3 RGB */
    uint8_t *pixels; /* width * height * channels bytes, row-major, top first */
} ml_image;

/* The largest width or height accepted (PNG allows 2^31 - 1; this keeps the
 * buffers sane). */
#define ML_IMAGE_MAX_SIDE 32768

/* A new image with every byte set to fill (0 black, 255 white).  NULL with the
 * error set for a bad size (ML_EINVAL) or no memory. */
ml_image *ml_image_new(int width, int height, int channels, uint8_t fill);
void ml_image_free(ml_image *img);

/* The PNG file of img in a new ml_malloc'ed buffer. */
ml_status ml_png_encode(const ml_image *img, uint8_t **png, size_t *size);

/* Writes the PNG file to an open stream (name is for messages). */
ml_status ml_png_write_stream(const ml_image *img, FILE *stream, const char *name);

/* Writes the PNG file to path, atomically; "-" is standard output. */
ml_status ml_png_write(const ml_image *img, const char *path);

/* The 8-byte PNG signature. */
extern const uint8_t ml_png_signature[8];

#endif
