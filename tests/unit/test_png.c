/* lib/io png, atomic, font, plot, tile and records: PNG structure (signature,
 * IHDR, CRCs, IDAT inflating to the filtered scanlines of the image), atomic
 * writes (a failure leaves nothing, an existing file untouched), nice ticks,
 * plots (series inside the axes, legend), tile grids, and monitor records
 * from model files and from the monitor stream. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "scratch.h"
#include "ml.h"

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Entries of the scratch folder (without . and ..). */
static int dir_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

static char *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    *n = fread(buf, 1, (size_t)size, fp);
    buf[*n] = '\0';
    fclose(fp);
    return buf;
}

static int write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    fputs(text, fp);
    return fclose(fp);
}

/* ---- a small PNG reader for the checks ------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct {
    int ok_structure; /* signature, IHDR first, IEND last, every CRC right */
    uint32_t width, height;
    int bit_depth, colour_type, interlace;
    int n_idat;
    uint8_t *idat; /* concatenated IDAT data */
    size_t idat_size;
} png_info;

static void png_parse(const uint8_t *png, size_t n, png_info *info)
{
    memset(info, 0, sizeof *info);
    if (n < 8 || memcmp(png, "\x89PNG\r\n\x1a\n", 8) != 0)
        return;
    size_t pos = 8;
    int chunk = 0, ok = 1, saw_end = 0;
    info->idat = malloc(n);
    while (pos + 12 <= n && !saw_end) {
        uint32_t len = be32(png + pos);
        if (pos + 12 + len > n) {
            ok = 0;
            break;
        }
        const uint8_t *type = png + pos + 4, *data = png + pos + 8;
        uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), type, 4 + len);
        if (crc != be32(data + len))
            ok = 0;
        if (chunk == 0 && (memcmp(type, "IHDR", 4) != 0 || len != 13))
            ok = 0;
        if (memcmp(type, "IHDR", 4) == 0 && len == 13) {
            info->width = be32(data);
            info->height = be32(data + 4);
            info->bit_depth = data[8];
            info->colour_type = data[9];
            info->interlace = data[12];
        } else if (memcmp(type, "IDAT", 4) == 0) {
            memcpy(info->idat + info->idat_size, data, len);
            info->idat_size += len;
            info->n_idat++;
        } else if (memcmp(type, "IEND", 4) == 0) {
            saw_end = len == 0;
        }
        pos += 12 + len;
        chunk++;
    }
    info->ok_structure = ok && saw_end && pos == n;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Inflates and unfilters the IDAT data into w*h*bpp bytes (NULL on failure). */
static uint8_t *png_pixels(const png_info *info, int bpp)
{
    size_t stride = (size_t)info->width * bpp, raw_size = (stride + 1) * info->height;
    uint8_t *raw = malloc(raw_size), *px = malloc(stride * info->height);
    uLongf got = raw_size;
    if (uncompress(raw, &got, info->idat, info->idat_size) != Z_OK || got != raw_size) {
        free(raw);
        free(px);
        return NULL;
    }
    for (uint32_t y = 0; y < info->height; y++) {
        int ft = raw[y * (stride + 1)];
        const uint8_t *in = raw + y * (stride + 1) + 1;
        uint8_t *out = px + y * stride, *prev = y ? out - stride : NULL;
        for (size_t i = 0; i < stride; i++) {
            int a = i >= (size_t)bpp ? out[i - bpp] : 0, b = prev ? prev[i] : 0;
            int c = prev && i >= (size_t)bpp ? prev[i - bpp] : 0, pred;
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
            case 4:
                pred = paeth(a, b, c);
                break;
            default:
                free(raw);
                free(px);
                return NULL;
            }
            out[i] = (uint8_t)(in[i] + pred);
        }
    }
    free(raw);
    return px;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_png_structure(void)
{
    /* a 3x2 RGB image with known pixels */
    ml_image *img = ml_image_new(3, 2, 3, 0);
    CHECK(img != NULL, "image 3x2 RGB");
    static const uint8_t px[18] = {255, 0,  0,  0,  255, 0,  0,  0,  255,
                                   10,  20, 30, 40, 50,  60, 70, 80, 90};
    memcpy(img->pixels, px, sizeof px);
    uint8_t *png;
    size_t n;
    CHECK_OK(ml_png_encode(img, &png, &n), "encode RGB");
    png_info info;
    png_parse(png, n, &info);
    CHECK(memcmp(png, ml_png_signature, 8) == 0 && png[0] == 0x89 && png[1] == 'P',
          "PNG signature");
    CHECK(info.ok_structure, "chunks IHDR .. IEND with valid CRCs");
    CHECK(info.width == 3 && info.height == 2, "IHDR size 3x2");
    CHECK(info.bit_depth == 8 && info.colour_type == 2 && info.interlace == 0,
          "IHDR 8-bit truecolour, not interlaced");
    CHECK(memcmp(png + 12, "IHDR", 4) == 0 && be32(png + 8) == 13, "IHDR is the first chunk");
    uint8_t *back = png_pixels(&info, 3);
    CHECK(back && memcmp(back, px, sizeof px) == 0, "IDAT inflates to the image");
    free(back);
    free(info.idat);
    ml_free(png);
    ml_image_free(img);

    /* gray, with a gradient that the filters act on */
    img = ml_image_new(17, 5, 1, 0);
    for (int i = 0; i < 17 * 5; i++)
        img->pixels[i] = (uint8_t)(i * 7 + (i / 17) * 3);
    CHECK_OK(ml_png_encode(img, &png, &n), "encode gray");
    png_parse(png, n, &info);
    CHECK(info.ok_structure && info.colour_type == 0 && info.width == 17 && info.height == 5,
          "gray PNG: colour type 0, 17x5");
    back = png_pixels(&info, 1);
    CHECK(back && memcmp(back, img->pixels, 17 * 5) == 0, "gray IDAT inflates to the image");
    free(back);
    free(info.idat);
    ml_free(png);
    ml_image_free(img);

    /* noise too big for one IDAT chunk */
    img = ml_image_new(700, 700, 3, 0);
    uint32_t x = 12345;
    for (size_t i = 0; i < 700 * 700 * 3; i++) {
        x = x * 1664525u + 1013904223u;
        img->pixels[i] = (uint8_t)(x >> 24);
    }
    CHECK_OK(ml_png_encode(img, &png, &n), "encode 700x700 noise");
    png_parse(png, n, &info);
    CHECK(info.ok_structure && info.n_idat >= 2, "large image: %d IDAT chunks, CRCs valid",
          info.n_idat);
    back = png_pixels(&info, 3);
    CHECK(back && memcmp(back, img->pixels, 700 * 700 * 3) == 0, "large image round trip");
    free(back);
    free(info.idat);
    ml_free(png);
    ml_image_free(img);

    CHECK(ml_image_new(0, 5, 1, 0) == NULL && contains(ml_last_error(), "bad image size"),
          "a 0-wide image is refused");
    CHECK(ml_image_new(5, 5, 2, 0) == NULL, "2 channels are refused");
}

static void test_atomic(void)
{
    const char *path = tmp("a.txt");
    ml_atomic_file *a;
    FILE *fp;
    CHECK_OK(ml_atomic_open(path, &a, &fp), "atomic open");
    fputs("hello\n", fp);
    CHECK(!exists(path), "nothing under the final name before commit");
    CHECK(dir_entries() == 1, "one temporary file beside the target");
    CHECK_OK(ml_atomic_commit(a), "commit");
    size_t n;
    char *text = read_file(path, &n);
    CHECK(text && strcmp(text, "hello\n") == 0, "committed contents");
    free(text);
    CHECK(dir_entries() == 1, "no temporary left after commit");

    /* abort: the existing file stays as it was */
    CHECK_OK(ml_atomic_open(path, &a, &fp), "atomic open over an existing file");
    fputs("partial", fp);
    ml_atomic_abort(a);
    text = read_file(path, &n);
    CHECK(text && strcmp(text, "hello\n") == 0, "abort leaves the existing file untouched");
    free(text);
    CHECK(dir_entries() == 1, "abort removes the temporary");

    /* a missing directory fails at open and creates nothing */
    ml_status s = ml_atomic_open(tmp("no/such/dir/x.png"), &a, &fp);
    CHECK(s == ML_EIO && contains(ml_last_error(), "cannot create: No such file or directory"),
          "missing directory: %s", ml_last_error());
    CHECK(ml_atomic_open(dir, &a, &fp) == ML_EIO && contains(ml_last_error(), "Is a directory"),
          "a directory as the target: %s", ml_last_error());
    CHECK(dir_entries() == 1, "failed opens create nothing");

    /* PNG writing: success, then a failing write leaves the old file */
    ml_image *img = ml_image_new(4, 4, 1, 200);
    const char *pp = tmp("p.png");
    CHECK_OK(ml_png_write(img, pp), "ml_png_write");
    text = read_file(pp, &n);
    CHECK(text && n > 8 && memcmp(text, ml_png_signature, 8) == 0, "written file is a PNG");
    free(text);
    CHECK(write_text(pp, "old contents") == 0, "replace with a text file");
    img->channels = 2; /* not encodable: fails before anything is created */
    CHECK(ml_png_write(img, pp) == ML_EINVAL, "a bad image fails");
    img->channels = 1;
    text = read_file(pp, &n);
    CHECK(text && strcmp(text, "old contents") == 0, "the failed write left the old file");
    free(text);
    CHECK(ml_png_write(img, tmp("missing/p.png")) == ML_EIO && !exists(tmp("missing")),
          "PNG into a missing directory fails, nothing created");
    CHECK(dir_entries() == 2, "only a.txt and p.png in the folder");
    ml_image_free(img);
    unlink(path);
    unlink(pp);
}

static int is_nice(double step)
{
    double e = floor(log10(step) + 1e-12);
    double m = step / pow(10, e);
    return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9 || fabs(m - 10) < 1e-9;
}

static void test_ticks(void)
{
    static const double cases[][2] = {{0, 1},      {0.093, 2.41},   {-3.7, 12.2}, {1e-5, 3e-5},
                                      {1000, 1e6}, {5, 5},          {0, 0},       {-2, -1.5},
                                      {0.2, 0.9},  {123456, 123457}};
    int all_ok = 1;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        for (int target = 2; target <= 12; target++) {
            ml_plot_ticks t;
            double lo = cases[k][0], hi = cases[k][1];
            if (ml_plot_nice_ticks(lo, hi, target, 0, &t) != ML_OK) {
                all_ok = 0;
                continue;
            }
            double eps = t.step * 1e-6; /* rounding of multiples of the step */
            int ok = is_nice(t.step) && t.lo <= lo + eps && t.hi >= hi - eps && t.n >= 2 &&
                     t.n <= target + 2 && t.hi > t.lo;
            for (int i = 0; i < t.n; i++) {
                double r = t.at[i] / t.step;
                ok &= fabs(r - round(r)) < 1e-6 &&
                      fabs(t.at[i] - (t.lo + i * t.step)) < t.step * 1e-6;
            }
            if (!ok) {
                printf("# ticks [%g, %g] target %d: step %g, %d ticks %g..%g\n", lo, hi, target,
                       t.step, t.n, t.lo, t.hi);
                all_ok = 0;
            }
        }
    }
    CHECK(all_ok,
          "nice ticks: 1/2/5 x 10^k steps on multiples, covering the range, at most target+2");

    ml_plot_ticks t;
    CHECK_OK(ml_plot_nice_ticks(0.0, 1.0, 6, 0, &t), "ticks 0..1");
    CHECK(t.n == 6 && t.step == 0.2 && t.lo == 0 && t.hi == 1, "0..1: 0, 0.2, .. 1");
    char buf[32];
    ml_plot_tick_label(&t, t.at[3], 0, buf, sizeof buf);
    CHECK(strcmp(buf, "0.6") == 0, "label 0.6 (got '%s')", buf);
    CHECK_OK(ml_plot_nice_ticks(0.0, 3.0, 10, 1, &t), "integer ticks 0..3");
    CHECK(t.step == 1 && t.n == 4, "epochs 0..3: step 1, 4 ticks");
    ml_plot_tick_label(&t, t.at[2], 0, buf, sizeof buf);
    CHECK(strcmp(buf, "2") == 0, "label 2 (got '%s')", buf);
    CHECK_OK(ml_plot_nice_ticks(-0.3, 0.3, 7, 0, &t), "ticks around 0");
    ml_plot_tick_label(&t, t.at[3], 0, buf, sizeof buf);
    CHECK(strcmp(buf, "0.0") == 0, "the middle tick reads 0.0, not -0.0 (got '%s')", buf);
    CHECK(ml_plot_nice_ticks(1, 0, 5, 0, &t) == ML_EINVAL, "reversed range refused");
    CHECK(ml_plot_nice_ticks(0, NAN, 5, 0, &t) == ML_EINVAL, "NaN range refused");

    CHECK_OK(ml_plot_log_ticks(0.003, 250, &t), "log ticks 0.003..250");
    int ok = t.lo <= 0.003 && t.hi >= 250;
    for (int i = 1; i < t.n; i++)
        ok &= t.at[i] > t.at[i - 1];
    CHECK(ok && t.n >= 5, "log ticks cover the range (%d ticks %g..%g)", t.n, t.lo, t.hi);
    CHECK_OK(ml_plot_log_ticks(0.09, 2.4, &t), "log ticks 0.09..2.4");
    CHECK(t.lo <= 0.09 && t.hi >= 2.4 && t.lo >= 0.05 && t.hi <= 5,
          "a narrow log range uses 1-2-5 ticks (%g..%g)", t.lo, t.hi);
    ml_plot_tick_label(&t, 1e-5, 1, buf, sizeof buf);
    CHECK(strcmp(buf, "1e-5") == 0, "log label 1e-5 (got '%s')", buf);
    CHECK(ml_plot_log_ticks(0, 1, &t) == ML_EINVAL, "log ticks of 0 refused");
}

static int near_colour(const uint8_t *p, const uint8_t *c)
{
    return abs(p[0] - c[0]) < 8 && abs(p[1] - c[1]) < 8 && abs(p[2] - c[2]) < 8;
}

/* Pixels of colour c inside [x0, x1] x [y0, y1]. */
static int count_colour(const ml_image *img, int x0, int y0, int x1, int y1, const uint8_t *c)
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            n += near_colour(img->pixels + ((size_t)y * img->width + x) * 3, c);
    return n;
}

static void test_plot(void)
{
    double x[20], a[20], b[20];
    for (int i = 0; i < 20; i++) {
        x[i] = i;
        a[i] = 2.0 * exp(-i / 5.0); /* falls towards the bottom right */
        b[i] = i == 7 ? NAN : 0.5 + 0.01 * i;
    }
    ml_plot_series s[2] = {{"train_objective", x, a, 20}, {"valid_y_misclass", x, b, 20}};
    ml_plot_opts o = {0};
    o.title = "test";
    o.y_label = "value";
    o.x_integer = 1;
    ml_image *img = NULL;
    ml_plot_layout L;
    CHECK_OK(ml_plot_render(&o, s, 2, &img, &L), "render a plot");
    if (!img)
        return;
    CHECK(img->width == 800 && img->height == 500 && img->channels == 3,
          "default size 800x500 RGB");
    uint8_t c0[3], c1[3];
    ml_plot_color(0, c0);
    ml_plot_color(1, c1);
    CHECK(memcmp(c0, c1, 3) != 0, "series colours differ");
    int in0 = count_colour(img, L.plot_x0, L.plot_y0, L.plot_x1, L.plot_y1, c0);
    int in1 = count_colour(img, L.plot_x0, L.plot_y0, L.plot_x1, L.plot_y1, c1);
    CHECK(in0 > 500 && in1 > 500, "both series drawn inside the axes (%d, %d pixels)", in0, in1);
    int out0 = count_colour(img, 0, 0, img->width - 1, L.plot_y0 - 1, c0) +
               count_colour(img, 0, L.plot_y1 + 1, img->width - 1, img->height - 1, c0) +
               count_colour(img, 0, 0, L.plot_x0 - 1, img->height - 1, c0);
    CHECK(out0 == 0, "no series pixel outside the axes (%d)", out0);
    CHECK(L.legend_x0 > L.plot_x0 && L.legend_x1 < L.plot_x1 && L.legend_y0 > L.plot_y0 &&
              L.legend_y1 < L.plot_y1,
          "the legend lies inside the axes");
    CHECK(L.legend_x0 > (L.plot_x0 + L.plot_x1) / 2 && L.legend_y1 < (L.plot_y0 + L.plot_y1) / 2,
          "the legend is in the empty top-right corner");
    int leg0 = count_colour(img, L.legend_x0, L.legend_y0, L.legend_x1, L.legend_y1, c0);
    int leg1 = count_colour(img, L.legend_x0, L.legend_y0, L.legend_x1, L.legend_y1, c1);
    static const uint8_t text[3] = {0x22, 0x22, 0x22};
    int legtext = count_colour(img, L.legend_x0, L.legend_y0, L.legend_x1, L.legend_y1, text);
    CHECK(leg0 > 10 && leg1 > 10 && legtext > 50, "legend: both colours and the names (%d, %d, %d)",
          leg0, leg1, legtext);
    int title = count_colour(img, 0, 0, img->width - 1, L.plot_y0 - 1, text);
    CHECK(title > 30, "a title above the axes (%d dark pixels)", title);
    int yticks = count_colour(img, 0, L.plot_y0, L.plot_x0 - 1, L.plot_y1, text);
    int xticks = count_colour(img, L.plot_x0, L.plot_y1 + 1, L.plot_x1, img->height - 1, text);
    CHECK(yticks > 100 && xticks > 100, "tick labels on both axes (%d, %d)", yticks, xticks);
    CHECK(L.x_ticks.step == 5 && L.x_ticks.lo == 0 && L.x_ticks.hi == 20, "x ticks 0, 5, .. 20");
    CHECK(L.y_ticks.lo <= 0.13 && L.y_ticks.hi >= 2.0, "y ticks cover the data");
    ml_image_free(img);

    o.log_y = 1;
    o.width = 1600;
    o.height = 1000;
    CHECK_OK(ml_plot_render(&o, s, 2, &img, &L), "render with a log y axis at 1600x1000");
    CHECK(img && img->width == 1600 && img->height == 1000, "asked size");
    ml_image_free(img);

    double nx[2] = {NAN, 1}, ny[2] = {1, NAN};
    ml_plot_series bad = {"x", nx, ny, 2};
    CHECK(ml_plot_render(NULL, &bad, 1, &img, NULL) == ML_EINVAL &&
              contains(ml_last_error(), "nothing to plot"),
          "no finite point: %s", ml_last_error());
    o.width = 10;
    o.height = 10;
    CHECK(ml_plot_render(&o, s, 2, &img, NULL) == ML_EINVAL, "a tiny size is refused");

    /* one point still shows */
    double px1[1] = {3}, py1[1] = {0.5};
    ml_plot_series one = {"one", px1, py1, 1};
    CHECK_OK(ml_plot_render(NULL, &one, 1, &img, &L), "a single point");
    CHECK(img && count_colour(img, L.plot_x0, L.plot_y0, L.plot_x1, L.plot_y1, c0) > 10,
          "a single point is visible");
    ml_image_free(img);
}

static void test_font(void)
{
    const uint8_t *g = ml_font_glyph('A');
    int lit = 0;
    for (int r = 0; r < ML_FONT_HEIGHT; r++)
        lit += __builtin_popcount(g[r]);
    CHECK(lit > 10, "'A' has lit pixels");
    int blank = 0;
    g = ml_font_glyph(' ');
    for (int r = 0; r < ML_FONT_HEIGHT; r++)
        blank |= g[r];
    CHECK(blank == 0, "' ' is blank");
    CHECK(ml_font_glyph(200) == ml_font_glyph('?'), "other characters draw as '?'");
    CHECK(ml_font_text_width("abc", 2) == (2 * ML_FONT_ADVANCE + ML_FONT_WIDTH) * 2, "text width");
    /* every printable glyph but the space has ink */
    int all = 1;
    for (int c = 33; c < 127; c++) {
        int any = 0;
        for (int r = 0; r < ML_FONT_HEIGHT; r++)
            any |= ml_font_glyph(c)[r];
        all &= any != 0;
    }
    CHECK(all, "glyphs 33..126 all have ink");
}

static void test_tile(void)
{
    ml_tile_opts o = ml_tile_defaults();
    o.zoom = 3;
    int cols, rows, w, h;
    CHECK_OK(ml_tile_geometry(10, 8, 8, &o, &cols, &rows, &w, &h), "geometry of 10 tiles");
    CHECK(cols == 4 && rows == 3 && w == 4 * 24 + 5 && h == 3 * 24 + 4,
          "10 tiles 8x8 zoom 3: 4x3 grid, 101x76 (got %dx%d, %dx%d)", cols, rows, w, h);
    CHECK_OK(ml_tile_geometry(16, 5, 7, NULL, &cols, &rows, &w, &h), "geometry of 16");
    CHECK(cols == 4 && rows == 4 && w == 4 * 7 + 5 && h == 4 * 5 + 5, "16 tiles: 4x4");
    o = ml_tile_defaults();
    o.cols = 5;
    CHECK_OK(ml_tile_geometry(12, 2, 2, &o, &cols, &rows, &w, &h), "geometry with cols");
    CHECK(cols == 5 && rows == 3, "12 tiles with 5 columns: 3 rows");
    o.cols = 50;
    CHECK_OK(ml_tile_geometry(3, 2, 2, &o, &cols, &rows, &w, &h), "more columns than tiles");
    CHECK(cols == 3 && rows == 1, "columns clipped to the tiles");
    o.zoom = 0;
    CHECK(ml_tile_geometry(3, 2, 2, &o, &cols, &rows, &w, &h) == ML_EINVAL, "zoom 0 refused");

    /* pixel values: 2 gray filters of 1x3, symmetric individual scaling */
    float data[6] = {-1, 0, 1, 0, 2, 4};
    ml_image *img;
    CHECK_OK(ml_tile_image(data, 2, 1, 1, 3, NULL, &img), "tile 2 gray filters");
    /* 2 columns: width 2*3+3 = 9, height 1+2 = 3 */
    CHECK(img && img->width == 9 && img->height == 3 && img->channels == 1, "grid 9x3 gray");
    const uint8_t *p = img->pixels + 9; /* row 1 */
    CHECK(p[0] == 0 && p[4] == 0 && p[8] == 0, "borders black");
    CHECK(p[1] == 0 && p[2] == 128 && p[3] == 255, "filter 0: -1, 0, 1 -> 0, 128, 255");
    CHECK(p[5] == 128 && p[6] == 191 && p[7] == 255,
          "filter 1: 0, 2, 4 -> 128, 191, 255 (%d %d %d)", p[5], p[6], p[7]);
    ml_image_free(img);
    o = ml_tile_defaults();
    o.scale = ML_TILE_SCALE_GLOBAL;
    o.range = ML_TILE_RANGE_MINMAX;
    CHECK_OK(ml_tile_image(data, 2, 1, 1, 3, &o, &img), "global min-max");
    p = img->pixels + 9;
    CHECK(p[1] == 0 && p[3] == 102 && p[7] == 255, "global: -1 -> 0, 1 -> 102, 4 -> 255 (%d %d)",
          p[3], p[7]);
    ml_image_free(img);

    /* colour and several channels */
    float rgb[3 * 4];
    for (int i = 0; i < 12; i++)
        rgb[i] = i < 4 ? 1.0f : i < 8 ? -1.0f : 0.0f;
    CHECK_OK(ml_tile_image(rgb, 1, 3, 2, 2, NULL, &img), "one RGB filter");
    CHECK(img->channels == 3 && img->width == 4 && img->height == 4, "RGB tile image 4x4");
    p = img->pixels + (1 * 4 + 1) * 3;
    CHECK(p[0] == 255 && p[1] == 0 && p[2] == 128, "RGB pixel from channels R, G, B");
    ml_image_free(img);
    CHECK_OK(ml_tile_image(rgb, 3, 4, 1, 1, NULL, &img), "3 filters of 4 channels");
    CHECK(img->channels == 1 && img->width == 4 * 1 + 5 && img->height == 3 + 4,
          "4 channels: one gray tile each, near-square grid of 12 tiles (%dx%d)", img->width,
          img->height);
    ml_image_free(img);
    o = ml_tile_defaults();
    o.zoom = 2;
    o.border = 0;
    CHECK_OK(ml_tile_image(data, 1, 1, 1, 3, &o, &img), "zoom 2, no border");
    CHECK(img->width == 6 && img->height == 2 && img->pixels[0] == 0 && img->pixels[1] == 0 &&
              img->pixels[2] == 128 && img->pixels[6 + 5] == 255,
          "each value drawn 2x2");
    ml_image_free(img);

    /* weights to filters */
    float wd[6 * 2];
    for (int i = 0; i < 12; i++)
        wd[i] = (float)i; /* W[i][j] = 2i + j */
    int64_t wshape[2] = {6, 2};
    ml_tensor *W = ml_tensor_wrap(ML_F32, 2, wshape, wd);
    int64_t in[3] = {1, 2, 3};
    ml_tensor *f = NULL;
    CHECK_OK(ml_tile_weights(W, 3, in, &f), "dense weights with an image input");
    CHECK(f && f->ndim == 4 && f->shape[0] == 2 && f->shape[1] == 1 && f->shape[2] == 2 &&
              f->shape[3] == 3,
          "filters [2, 1, 2, 3]");
    CHECK(f && ml_tensor_f32(f)[1 * 6 + 4] == 9.0f, "unit 1's weight from input 4 is W[4][1]");
    ml_tensor_free(f);
    CHECK(ml_tile_weights(W, 0, NULL, &f) == ML_ESHAPE && contains(ml_last_error(), "6 inputs"),
          "6 inputs without an image shape: %s", ml_last_error());
    ml_tensor_free(W);
    float sq[4 * 3] = {0};
    int64_t sshape[2] = {4, 3};
    W = ml_tensor_wrap(ML_F32, 2, sshape, sq);
    CHECK_OK(ml_tile_weights(W, 0, NULL, &f), "4 inputs: a 2x2 square");
    CHECK(f && f->shape[0] == 3 && f->shape[2] == 2 && f->shape[3] == 2, "filters [3, 1, 2, 2]");
    ml_tensor_free(f);
    ml_tensor_free(W);
}

static void test_records(void)
{
    /* the monitor stream */
    ml_records *r = ml_records_new();
    ml_records_stream *s = ml_records_stream_new(r, "<stdin>");
    ml_stream_line_kind k;
    ml_status st = ml_records_stream_line(s, "1\t2\t3\t4\n", &k);
    CHECK(st == ML_EFORMAT && contains(ml_last_error(), "<stdin>:1: a record before the header"),
          "record before header: %s", ml_last_error());
    CHECK_OK(ml_records_stream_line(s, "# comment\n", &k), "comment");
    CHECK(k == ML_STREAM_SKIP, "comment skipped");
    CHECK_OK(
        ml_records_stream_line(s, "epoch\tbatches\texamples\tseconds\tloss\tvalid_accuracy\n", &k),
        "header");
    CHECK(k == ML_STREAM_HEADER && ml_records_stream_n_columns(s) == 2 &&
              strcmp(ml_records_stream_column(s, 1), "valid_accuracy") == 0,
          "two channel columns");
    CHECK_OK(ml_records_stream_line(s, "0\t0\t0\t0\t2.5\t0.1\n", &k), "record 0");
    CHECK(k == ML_STREAM_RECORD && ml_records_stream_value(s, 0) == 2.5, "value parsed");
    CHECK_OK(ml_records_stream_line(s, "1\t10\t100\t1.5\t1.25\t\r\n", &k), "record 1, empty field");
    CHECK(!ml_records_stream_has(s, 1) && ml_records_stream_has(s, 0), "empty field has no value");
    CHECK_OK(ml_records_stream_line(s, "2\t20\t200\t3\tnan\t0.7\n", &k), "record 2 with nan");
    st = ml_records_stream_line(s, "3\t30\t300\n", &k);
    CHECK(st == ML_EFORMAT && contains(ml_last_error(), "<stdin>:7: expected 6 fields, found 3"),
          "short line: %s", ml_last_error());
    st = ml_records_stream_line(s, "3\t30\t300\t4\tabc\t1\n", &k);
    CHECK(st == ML_EFORMAT && contains(ml_last_error(), "loss value 'abc' is not a number"),
          "bad number: %s", ml_last_error());
    ml_records_channel *loss = ml_records_find(r, "loss"),
                       *acc = ml_records_find(r, "valid_accuracy");
    CHECK(loss && loss->n == 3 && acc && acc->n == 2, "records per channel: 3 and 2");
    ml_records_summary sum;
    ml_records_summarize(loss, &sum);
    CHECK(sum.best == 1.25 && sum.best_epoch == 1 && isnan(sum.last) && sum.max_epoch == 2,
          "loss: best 1.25 at epoch 1, NaN left out, last NaN");
    ml_records_summarize(acc, &sum);
    CHECK(sum.best == 0.7 && sum.best_epoch == 2, "accuracy: best is the largest");
    CHECK(ml_records_maximize("valid_y_accuracy") && !ml_records_maximize("valid_y_misclass"),
          "maximize *accuracy only");
    ml_records_stream_free(s);
    ml_records_free(r);

    /* a model file written with io/h5 */
    ml_h5_file *f;
    const char *path = tmp("m.h5");
    CHECK_OK(ml_h5_create(path, &f), "create model file");
    ml_h5_attr_write_str(f, "/", "ml_format", "ml-model");
    ml_h5_attr_write_i64(f, "/", "ml_format_version", 1);
    double rec[3 * 5] = {0, 0, 0, 0, 0.9, 1, 10, 100, 1, 0.4, 2, 20, 200, 2, 0.5};
    int64_t shape[2] = {3, 5};
    ml_h5_write_array(f, "/monitor/valid_y_misclass", ML_H5_F64, 2, shape, rec, NULL);
    ml_h5_write_array(f, "/monitor/train_objective", ML_H5_F64, 2, shape, rec, NULL);
    CHECK_OK(ml_h5_commit(f), "commit model file");
    ml_h5_close(f);
    CHECK_OK(ml_records_read_model(path, &r), "read the records of a model");
    CHECK(r && r->n_channels == 2 && strcmp(r->channels[0].name, "valid_y_misclass") == 0 &&
              r->channels[0].n == 3 && r->channels[0].rec[1 * 5 + 4] == 0.4,
          "channels in creation order with their records");
    ml_records_free(r);

    CHECK_OK(ml_h5_create(path, &f), "create dataset file");
    ml_h5_attr_write_str(f, "/", "ml_format", "ml-dataset");
    ml_h5_attr_write_i64(f, "/", "ml_format_version", 1);
    ml_h5_commit(f);
    ml_h5_close(f);
    CHECK(ml_records_read_model(path, &r) == ML_EFORMAT &&
              contains(ml_last_error(), "m.h5: not an ml model file (ml_format is 'ml-dataset')"),
          "dataset file refused: %s", ml_last_error());
    CHECK_OK(ml_h5_create(path, &f), "create newer model file");
    ml_h5_attr_write_str(f, "/", "ml_format", "ml-model");
    ml_h5_attr_write_i64(f, "/", "ml_format_version", 7);
    ml_h5_commit(f);
    ml_h5_close(f);
    CHECK(ml_records_read_model(path, &r) == ML_EFORMAT &&
              contains(ml_last_error(), "version 7 is newer"),
          "newer version refused: %s", ml_last_error());
    unlink(path);
}

int main(void)
{
    scratch_begin("test_png");
    test_png_structure();
    test_atomic();
    test_ticks();
    test_plot();
    test_font();
    test_tile();
    test_records();
    scratch_end();
    ml_alloc_stats st = ml_alloc_stats_get();
    CHECK(st.bytes_live == 0, "no library memory left allocated (%llu bytes)",
          (unsigned long long)st.bytes_live);
    return harness_done();
}
