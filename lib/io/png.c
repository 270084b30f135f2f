#include "io/png.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/alloc.h"
#include "io/atomic.h"

const uint8_t ml_png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* IDAT chunks of at most this many bytes of zlib data. */
#define IDAT_MAX (1u << 20)

ml_image *ml_image_new(int width, int height, int channels, uint8_t fill)
{
    if (width < 1 || height < 1 || width > ML_IMAGE_MAX_SIDE || height > ML_IMAGE_MAX_SIDE ||
        (channels != 1 && channels != 3)) {
        ml_error(ML_EINVAL,
                 "bad image size %dx%d with %d channels (at most %d pixels a side, "
                 "1 or 3 channels)",
                 width, height, channels, ML_IMAGE_MAX_SIDE);
        return NULL;
    }
    ml_image *img = ml_malloc(sizeof *img);
    if (!img)
        return NULL;
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    img->pixels = ml_malloc(n);
    if (!img->pixels) {
        ml_free(img);
        return NULL;
    }
    memset(img->pixels, fill, n);
    img->width = width;
    img->height = height;
    img->channels = channels;
    return img;
}

void ml_image_free(ml_image *img)
{
    if (!img)
        return;
    ml_free(img->pixels);
    ml_free(img);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Appends one chunk (length, type, data, CRC of type and data) at *pos. */
static void put_chunk(uint8_t *out, size_t *pos, const char type[4], const uint8_t *data,
                      uint32_t len)
{
    uint8_t *p = out + *pos;
    put_u32(p, len);
    memcpy(p + 4, type, 4);
    if (len)
        memcpy(p + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, 4 + len);
    put_u32(p + 8 + len, (uint32_t)crc);
    *pos += 12 + (size_t)len;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc)
        return a;
    return pb <= pc ? b : c;
}

/* Filters one scanline with filter type ft into out (without the type byte);
 * returns the sum of |signed bytes| used to pick a filter. */
static unsigned long filter_row(int ft, const uint8_t *row, const uint8_t *prev, size_t n, int bpp,
                                uint8_t *out)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) {
        int a = i >= (size_t)bpp ? row[i - bpp] : 0;
        int b = prev ? prev[i] : 0;
        int c = (prev && i >= (size_t)bpp) ? prev[i - bpp] : 0;
        int x = row[i], pred;
        switch (ft) {
        case 0:
            pred = 0;
            break;
        case 1:
            pred = a;
            break;
        case 2:
            pred = b;
            break;
        case 3:
            pred = (a + b) / 2;
            break;
        default:
            pred = paeth(a, b, c);
            break;
        }
        uint8_t v = (uint8_t)(x - pred);
        out[i] = v;
        sum += v < 128 ? v : 256 - v;
    }
    return sum;
}

ml_status ml_png_encode(const ml_image *img, uint8_t **png, size_t *size)
{
    *png = NULL;
    *size = 0;
    if (!img || !img->pixels || img->width < 1 || img->height < 1 ||
        img->width > ML_IMAGE_MAX_SIDE || img->height > ML_IMAGE_MAX_SIDE ||
        (img->channels != 1 && img->channels != 3))
        return ml_error(ML_EINVAL, "cannot encode PNG: bad image");
    int bpp = img->channels;
    size_t stride = (size_t)img->width * (size_t)bpp;
    size_t raw_size = (stride + 1) * (size_t)img->height;
    uint8_t *raw = ml_malloc(raw_size);
    uint8_t *trial = ml_malloc(stride);
    if (!raw || !trial) {
        ml_free(raw);
        ml_free(trial);
        return ML_ENOMEM;
    }
    for (int y = 0; y < img->height; y++) {
        const uint8_t *row = img->pixels + (size_t)y * stride;
        const uint8_t *prev = y ? row - stride : NULL;
        uint8_t *dst = raw + (size_t)y * (stride + 1);
        unsigned long best = (unsigned long)-1;
        for (int ft = 0; ft < 5; ft++) {
            unsigned long sum = filter_row(ft, row, prev, stride, bpp, trial);
            if (sum < best) {
                best = sum;
                dst[0] = (uint8_t)ft;
                memcpy(dst + 1, trial, stride);
            }
        }
    }
    ml_free(trial);

    uLongf zsize = compressBound((uLong)raw_size);
    uint8_t *z = ml_malloc(zsize);
    if (!z) {
        ml_free(raw);
        return ML_ENOMEM;
    }
    int zr = compress2(z, &zsize, raw, (uLong)raw_size, 6);
    ml_free(raw);
    if (zr != Z_OK) {
        ml_free(z);
        return ml_error(zr == Z_MEM_ERROR ? ML_ENOMEM : ML_EIO,
                        "cannot compress PNG data (zlib %d)", zr);
    }
    size_t n_idat = zsize / IDAT_MAX + 1;
    size_t total = 8 + (12 + 13) + n_idat * 12 + zsize + 12;
    uint8_t *out = ml_malloc(total);
    if (!out) {
        ml_free(z);
        return ML_ENOMEM;
    }
    size_t pos = 0;
    memcpy(out, ml_png_signature, 8);
    pos = 8;
    uint8_t ihdr[13];
    put_u32(ihdr, (uint32_t)img->width);
    put_u32(ihdr + 4, (uint32_t)img->height);
    ihdr[8] = 8;                          /* bit depth */
    ihdr[9] = img->channels == 3 ? 2 : 0; /* colour type: truecolour or grayscale */
    ihdr[10] = 0;                         /* deflate */
    ihdr[11] = 0;                         /* adaptive filtering */
    ihdr[12] = 0;                         /* no interlace */
    put_chunk(out, &pos, "IHDR", ihdr, 13);
    size_t off = 0;
    do {
        size_t len = zsize - off < IDAT_MAX ? zsize - off : IDAT_MAX;
        put_chunk(out, &pos, "IDAT", z + off, (uint32_t)len);
        off += len;
    } while (off < zsize);
    put_chunk(out, &pos, "IEND", NULL, 0);
    ml_free(z);
    *png = out;
    *size = pos;
    return ML_OK;
}

ml_status ml_png_write_stream(const ml_image *img, FILE *stream, const char *name)
{
    uint8_t *png;
    size_t size;
    ML_TRY(ml_png_encode(img, &png, &size));
    size_t w = fwrite(png, 1, size, stream);
    ml_free(png);
    if (w != size)
        return ml_error(ML_EIO, "%s: cannot write: %s", name ? name : "PNG",
                        strerror(errno ? errno : EIO));
    return ML_OK;
}

ml_status ml_png_write(const ml_image *img, const char *path)
{
    uint8_t *png;
    size_t size;
    ML_TRY(ml_png_encode(img, &png, &size)); /* before creating anything */
    ml_atomic_file *a;
    FILE *fp;
    ml_status s = ml_atomic_open(path, &a, &fp);
    if (s != ML_OK) {
        ml_free(png);
        return s;
    }
    if (fwrite(png, 1, size, fp) != size) {
        s = ml_error(ML_EIO, "%s: cannot write: %s", ml_atomic_name(a),
                     strerror(errno ? errno : EIO));
        ml_free(png);
        ml_atomic_abort(a);
        return s;
    }
    ml_free(png);
    return ml_atomic_commit(a);
}
