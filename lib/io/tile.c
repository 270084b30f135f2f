#include "io/tile.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

ml_tile_opts ml_tile_defaults(void)
{
    ml_tile_opts o;
    memset(&o, 0, sizeof o);
    o.cols = 0;
    o.zoom = 1;
    o.border = 1;
    o.border_value = 0;
    o.scale = ML_TILE_SCALE_INDIVIDUAL;
    o.range = ML_TILE_RANGE_SYMMETRIC;
    return o;
}

static ml_status check_opts(const ml_tile_opts *o)
{
    if (o->cols < 0)
        return ml_error(ML_EINVAL, "tile columns %d must not be negative", o->cols);
    if (o->zoom < 1 || o->zoom > 64)
        return ml_error(ML_EINVAL, "tile zoom %d out of range 1..64", o->zoom);
    if (o->border < 0 || o->border > 16)
        return ml_error(ML_EINVAL, "tile border %d out of range 0..16", o->border);
    if (o->scale != ML_TILE_SCALE_INDIVIDUAL && o->scale != ML_TILE_SCALE_GLOBAL)
        return ml_error(ML_EINVAL, "bad tile scale %d", (int)o->scale);
    if (o->range != ML_TILE_RANGE_SYMMETRIC && o->range != ML_TILE_RANGE_MINMAX)
        return ml_error(ML_EINVAL, "bad tile range %d", (int)o->range);
    return ML_OK;
}

ml_status ml_tile_geometry(int64_t n_tiles, int64_t h, int64_t w, const ml_tile_opts *opts,
                           int *cols, int *rows, int *width, int *height)
{
    ml_tile_opts o = opts ? *opts : ml_tile_defaults();
    ML_TRY(check_opts(&o));
    if (n_tiles < 1 || h < 1 || w < 1)
        return ml_error(ML_EINVAL, "nothing to tile (%lld tiles of %lldx%lld)", (long long)n_tiles,
                        (long long)h, (long long)w);
    int64_t c = o.cols;
    if (c == 0) {
        c = (int64_t)ceil(sqrt((double)n_tiles));
        while (c > 1 && (c - 1) * (c - 1) >= n_tiles)
            c--;
        while (c * c < n_tiles)
            c++;
    }
    if (c > n_tiles)
        c = n_tiles;
    int64_t r = (n_tiles + c - 1) / c;
    int64_t b = o.border;
    int64_t W = c * w * o.zoom + (c + 1) * b;
    int64_t H = r * h * o.zoom + (r + 1) * b;
    if (W > ML_IMAGE_MAX_SIDE || H > ML_IMAGE_MAX_SIDE)
        return ml_error(ML_EINVAL,
                        "tiled image of %lldx%lld pixels is too large (at most %d a side): "
                        "use fewer columns or a smaller zoom",
                        (long long)W, (long long)H, ML_IMAGE_MAX_SIDE);
    *cols = (int)c;
    *rows = (int)r;
    *width = (int)W;
    *height = (int)H;
    return ML_OK;
}

/* The range of the finite values of v[0..n). */
static void finite_range(const float *v, int64_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo)
                *lo = v[i];
            if (v[i] > *hi)
                *hi = v[i];
        }
}

typedef struct {
    double a, b; /* pixel = a * value + b */
} affine;

static affine make_scale(double lo, double hi, ml_tile_range range)
{
    affine t = {0.0, 128.0};
    if (!(lo <= hi))
        return t; /* no finite value */
    if (range == ML_TILE_RANGE_SYMMETRIC) {
        double m = fmax(fabs(lo), fabs(hi));
        if (m > 0) {
            t.a = 127.5 / m;
            t.b = 127.5;
        }
    } else if (hi > lo) {
        t.a = 255.0 / (hi - lo);
        t.b = -lo * t.a;
    }
    return t;
}

static uint8_t to_pixel(float v, affine t)
{
    if (!isfinite(v))
        return 0;
    double p = t.a * v + t.b;
    if (t.a == 0)
        p = 128;
    long q = lrint(p);
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

ml_status ml_tile_image(const float *data, int64_t n, int64_t c, int64_t h, int64_t w,
                        const ml_tile_opts *opts, ml_image **out)
{
    *out = NULL;
    ml_tile_opts o = opts ? *opts : ml_tile_defaults();
    if (c < 1)
        return ml_error(ML_EINVAL, "nothing to tile (%lld channels)", (long long)c);
    int colour = c == 3;
    int64_t per_filter = colour || c == 1 ? 1 : c; /* tiles per filter */
    int cols, rows, W, H;
    ML_TRY(ml_tile_geometry(n * per_filter, h, w, &o, &cols, &rows, &W, &H));
    ml_image *img = ml_image_new(W, H, colour ? 3 : 1, o.border_value);
    if (!img)
        return ML_ENOMEM;

    int64_t filter_size = c * h * w;
    affine global = {0, 128};
    if (o.scale == ML_TILE_SCALE_GLOBAL) {
        double lo, hi;
        finite_range(data, n * filter_size, &lo, &hi);
        global = make_scale(lo, hi, o.range);
    }
    int z = o.zoom, b = o.border, ic = img->channels;
    for (int64_t f = 0; f < n; f++) {
        const float *fd = data + f * filter_size;
        affine t = global;
        if (o.scale == ML_TILE_SCALE_INDIVIDUAL) {
            double lo, hi;
            finite_range(fd, filter_size, &lo, &hi);
            t = make_scale(lo, hi, o.range);
        }
        for (int64_t k = 0; k < per_filter; k++) {
            int64_t tile = f * per_filter + k;
            int64_t x0 = b + (tile % cols) * (w * z + b);
            int64_t y0 = b + (tile / cols) * (h * z + b);
            const float *td = fd + k * h * w; /* this tile's channel (gray) */
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    uint8_t px[3];
                    if (colour)
                        for (int ch = 0; ch < 3; ch++)
                            px[ch] = to_pixel(fd[(ch * h + y) * w + x], t);
                    else
                        px[0] = to_pixel(td[y * w + x], t);
                    for (int dy = 0; dy < z; dy++) {
                        uint8_t *row =
                            img->pixels +
                            ((size_t)(y0 + y * z + dy) * (size_t)W + (size_t)(x0 + x * z)) * ic;
                        for (int dx = 0; dx < z; dx++)
                            memcpy(row + (size_t)dx * ic, px, (size_t)ic);
                    }
                }
        }
    }
    *out = img;
    return ML_OK;
}

ml_status ml_tile_weights(const ml_tensor *W, int in_ndim, const int64_t *in_shape,
                          ml_tensor **filters)
{
    *filters = NULL;
    if (W->dtype != ML_F32 || W->device != ML_CPU)
        return ml_error(ML_EINVAL, "weights must be float32 on the CPU");
    char buf[96];
    if (W->ndim == 4) {
        ml_tensor *t = ml_tensor_new(ML_F32, 4, W->shape, ML_CPU);
        if (!t)
            return ML_ENOMEM;
        memcpy(ml_tensor_f32(t), ml_tensor_f32(W), ml_tensor_nbytes(W));
        *filters = t;
        return ML_OK;
    }
    if (W->ndim != 2)
        return ml_error(ML_ESHAPE,
                        "weights of shape %s are neither dense [n_in, n_out] nor "
                        "convolutional [O, C, KH, KW]",
                        ml_shape_format(W->ndim, W->shape, buf, sizeof buf));
    int64_t n_in = W->shape[0], n_out = W->shape[1];
    int64_t C = 0, H = 0, Wd = 0;
    if (in_shape && in_ndim >= 2 && in_ndim <= 3 && ml_shape_numel(in_ndim, in_shape) == n_in) {
        C = in_ndim == 3 ? in_shape[0] : 1;
        H = in_shape[in_ndim - 2];
        Wd = in_shape[in_ndim - 1];
    } else {
        int64_t s = (int64_t)llround(sqrt((double)n_in));
        if (s * s == n_in && s > 0) {
            C = 1;
            H = Wd = s;
        } else if (in_shape && in_ndim >= 2 && in_ndim <= 3) {
            return ml_error(ML_ESHAPE,
                            "%lld inputs do not match the input image %s and are not "
                            "a square",
                            (long long)n_in, ml_shape_format(in_ndim, in_shape, buf, sizeof buf));
        } else {
            return ml_error(ML_ESHAPE,
                            "%lld inputs are not an image (neither an image input "
                            "shape nor a perfect square)",
                            (long long)n_in);
        }
    }
    int64_t shape[4] = {n_out, C, H, Wd};
    ml_tensor *t = ml_tensor_new(ML_F32, 4, shape, ML_CPU);
    if (!t)
        return ML_ENOMEM;
    const float *src = ml_tensor_f32(W);
    float *dst = ml_tensor_f32(t);
    for (int64_t i = 0; i < n_in; i++)
        for (int64_t j = 0; j < n_out; j++)
            dst[j * n_in + i] = src[i * n_out + j];
    *filters = t;
    return ML_OK;
}
