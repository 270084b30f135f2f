#include "io/plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "io/font.h"

/* ---- ticks ----------------------------------------------------------------- */

/* The smallest of 1, 2, 5 x 10^k that is >= raw (raw > 0). */
static double nice_step(double raw)
{
    double e = floor(log10(raw));
    double p = pow(10.0, e);
    double f = raw / p;
    double m = f <= 1.0 + 1e-9 ? 1.0 : f <= 2.0 + 1e-9 ? 2.0 : f <= 5.0 + 1e-9 ? 5.0 : 10.0;
    return m * p;
}

static int decimals_for(double step)
{
    if (step >= 1.0)
        return 0;
    int d = (int)ceil(-log10(step) - 1e-9);
    return d < 0 ? 0 : d > 12 ? 12 : d;
}

ml_status ml_plot_nice_ticks(double lo, double hi, int target, int integer, ml_plot_ticks *t)
{
    memset(t, 0, sizeof *t);
    if (!isfinite(lo) || !isfinite(hi) || lo > hi)
        return ml_error(ML_EINVAL, "axis range [%g, %g] is not a finite interval", lo, hi);
    if (!isfinite(hi - lo))
        return ml_error(ML_EINVAL, "axis range [%g, %g] is too wide", lo, hi);
    if (target < 2 || target > 20)
        return ml_error(ML_EINVAL, "tick count %d out of range 2..20", target);
    double mag = fmax(fabs(lo), fabs(hi));
    if (hi - lo <= mag * 1e-12) {
        double d = mag > 0 ? mag * 0.1 : 1.0;
        if (integer && d < 1.0)
            d = 1.0;
        lo -= d;
        hi += d;
    }
    double step = nice_step((hi - lo) / (target - 1));
    if (integer && step < 1.0)
        step = 1.0;
    double a, b;
    long long n;
    for (;;) {
        a = floor(lo / step + 1e-9) * step;
        b = ceil(hi / step - 1e-9) * step;
        n = llround((b - a) / step) + 1;
        if (n <= target + 2 && n <= ML_PLOT_MAX_TICKS)
            break;
        step = nice_step(step * 1.5);
    }
    t->lo = a;
    t->hi = b;
    t->step = step;
    t->n = (int)n;
    for (int i = 0; i < t->n; i++) {
        double v = a + i * step;
        if (fabs(v) < step * 1e-9)
            v = 0.0;
        t->at[i] = v;
    }
    t->decimals = decimals_for(step);
    return ML_OK;
}

ml_status ml_plot_log_ticks(double lo, double hi, ml_plot_ticks *t)
{
    memset(t, 0, sizeof *t);
    if (!isfinite(lo) || !isfinite(hi) || lo <= 0 || lo > hi)
        return ml_error(ML_EINVAL, "log axis range [%g, %g] is not a positive interval", lo, hi);
    int e0 = (int)floor(log10(lo) + 1e-9);
    int e1 = (int)ceil(log10(hi) - 1e-9);
    if (e1 <= e0)
        e1 = e0 + 1;
    int decades = e1 - e0;
    if (decades <= 3) {
        /* 1, 2, 5 in each decade, trimmed to the smallest span covering the data */
        static const double m[3] = {1, 2, 5};
        double vals[16];
        int nv = 0;
        for (int e = e0; e <= e1; e++)
            for (int k = 0; k < 3 && nv < 16; k++) {
                vals[nv++] = m[k] * pow(10.0, e);
                if (e == e1)
                    break;
            }
        int first = 0, last = nv - 1;
        while (first + 1 < nv && vals[first + 1] <= lo * (1 + 1e-9))
            first++;
        while (last - 1 >= 0 && vals[last - 1] >= hi * (1 - 1e-9))
            last--;
        if (last <= first)
            last = first + 1 < nv ? first + 1 : first;
        for (int i = first; i <= last; i++)
            t->at[t->n++] = vals[i];
        t->step = 0; /* mixed */
    } else {
        int every = (decades + 7) / 8; /* at most about 9 labelled decades */
        e0 = (int)floor((double)e0 / every) * every;
        e1 = (int)ceil((double)e1 / every) * every;
        for (int e = e0; e <= e1 && t->n < ML_PLOT_MAX_TICKS; e += every)
            t->at[t->n++] = pow(10.0, e);
        t->step = pow(10.0, every);
    }
    t->lo = t->at[0];
    t->hi = t->at[t->n - 1];
    t->decimals = 0;
    return ML_OK;
}

void ml_plot_tick_label(const ml_plot_ticks *t, double v, int log, char *buf, size_t size)
{
    if (log) {
        int e = (int)floor(log10(v) + 1e-9);
        double m = v / pow(10.0, e);
        if (e >= -3 && e <= 5)
            snprintf(buf, size, "%.*f", e < 0 ? -e : 0, v);
        else if (fabs(m - 1.0) < 1e-6)
            snprintf(buf, size, "1e%d", e);
        else
            snprintf(buf, size, "%.0fe%d", m, e);
        return;
    }
    double mag = fmax(fabs(t->lo), fabs(t->hi));
    if (mag >= 1e7 || (t->step > 0 && t->step < 1e-6)) {
        snprintf(buf, size, "%.3g", v);
        return;
    }
    snprintf(buf, size, "%.*f", t->decimals, v);
    if (strcmp(buf, "-0") == 0 || (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1)))
        memmove(buf, buf + 1, strlen(buf));
}

/* ---- drawing --------------------------------------------------------------- */

static const uint8_t palette[10][3] = {
    {0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
    {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
    {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf},
};
static const uint8_t c_text[3] = {0x22, 0x22, 0x22};
static const uint8_t c_frame[3] = {0x44, 0x44, 0x44};
static const uint8_t c_grid[3] = {0xe4, 0xe4, 0xe4};
static const uint8_t c_legend_frame[3] = {0xa0, 0xa0, 0xa0};
static const uint8_t c_white[3] = {0xff, 0xff, 0xff};

void ml_plot_color(int i, uint8_t rgb[3])
{
    int k = ((i % 10) + 10) % 10;
    memcpy(rgb, palette[k], 3);
}

static void fill_rect(ml_image *img, int x0, int y0, int x1, int y1, const uint8_t rgb[3])
{
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > img->width - 1)
        x1 = img->width - 1;
    if (y1 > img->height - 1)
        y1 = img->height - 1;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            uint8_t *p = img->pixels + ((size_t)y * img->width + x) * 3;
            p[0] = rgb[0];
            p[1] = rgb[1];
            p[2] = rgb[2];
        }
}

/* Outline of [x0, x1] x [y0, y1], th pixels thick, inside the rectangle. */
static void frame_rect(ml_image *img, int x0, int y0, int x1, int y1, int th, const uint8_t rgb[3])
{
    fill_rect(img, x0, y0, x1, y0 + th - 1, rgb);
    fill_rect(img, x0, y1 - th + 1, x1, y1, rgb);
    fill_rect(img, x0, y0, x0 + th - 1, y1, rgb);
    fill_rect(img, x1 - th + 1, y0, x1, y1, rgb);
}

typedef struct {
    float *cov; /* coverage of the series being drawn, one per image pixel */
    int w, h;
    int cx0, cy0, cx1, cy1; /* clip rectangle (inclusive) */
} canvas;

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Coverage of a segment of half-width hw (pixel centres at +0.5). */
static void cover_segment(canvas *c, double x0, double y0, double x1, double y1, double hw)
{
    int bx0 = (int)floor(fmin(x0, x1) - hw - 1), bx1 = (int)ceil(fmax(x0, x1) + hw + 1);
    int by0 = (int)floor(fmin(y0, y1) - hw - 1), by1 = (int)ceil(fmax(y0, y1) + hw + 1);
    if (bx0 < c->cx0)
        bx0 = c->cx0;
    if (by0 < c->cy0)
        by0 = c->cy0;
    if (bx1 > c->cx1)
        bx1 = c->cx1;
    if (by1 > c->cy1)
        by1 = c->cy1;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int py = by0; py <= by1; py++)
        for (int px = bx0; px <= bx1; px++) {
            double qx = px + 0.5 - x0, qy = py + 0.5 - y0;
            double u = len2 > 0 ? clampd((qx * dx + qy * dy) / len2, 0, 1) : 0;
            double ex = qx - u * dx, ey = qy - u * dy;
            double cv = hw + 0.5 - sqrt(ex * ex + ey * ey);
            if (cv <= 0)
                continue;
            if (cv > 1)
                cv = 1;
            float *p = &c->cov[(size_t)py * c->w + px];
            if (cv > *p)
                *p = (float)cv;
        }
}

/* Blends colour over the image by the coverage, clears the coverage, and marks
 * ink (where the series shows clearly) for placing the legend. */
static void compose(canvas *c, ml_image *img, const uint8_t rgb[3], uint8_t *ink)
{
    for (int y = c->cy0; y <= c->cy1; y++)
        for (int x = c->cx0; x <= c->cx1; x++) {
            size_t i = (size_t)y * c->w + x;
            float a = c->cov[i];
            if (a <= 0)
                continue;
            uint8_t *p = img->pixels + i * 3;
            for (int k = 0; k < 3; k++)
                p[k] = (uint8_t)lrint(p[k] * (1 - a) + rgb[k] * a);
            if (ink && a > 0.3f)
                ink[i] = 1;
            c->cov[i] = 0;
        }
}

/* ---- the chart ------------------------------------------------------------- */

typedef struct {
    double lo, hi; /* axis range in data units (log10 of them on a log axis) */
    int log;
    double p0, p1; /* pixel coordinates of lo and hi */
} axis_map;

static double map_value(const axis_map *m, double v)
{
    double u = m->log ? log10(v) : v;
    return m->p0 + (u - m->lo) / (m->hi - m->lo) * (m->p1 - m->p0);
}

static int point_ok(double x, double y, int log_y)
{
    return isfinite(x) && isfinite(y) && (!log_y || y > 0);
}

static int max_label_width(const ml_plot_ticks *t, int log, int s)
{
    int w = 0;
    char buf[64];
    for (int i = 0; i < t->n; i++) {
        ml_plot_tick_label(t, t->at[i], log, buf, sizeof buf);
        int lw = ml_font_text_width(buf, s);
        if (lw > w)
            w = lw;
    }
    return w;
}

ml_status ml_plot_render(const ml_plot_opts *opts, const ml_plot_series *series, int n_series,
                         ml_image **out, ml_plot_layout *layout)
{
    *out = NULL;
    ml_plot_opts o = {0};
    if (opts)
        o = *opts;
    if (o.width == 0 && o.height == 0) {
        o.width = 800;
        o.height = 500;
    }
    if (o.width < 200 || o.height < 150 || o.width > ML_IMAGE_MAX_SIDE ||
        o.height > ML_IMAGE_MAX_SIDE)
        return ml_error(ML_EINVAL, "plot size %dx%d out of range (200x150 to %dx%d)", o.width,
                        o.height, ML_IMAGE_MAX_SIDE, ML_IMAGE_MAX_SIDE);
    const char *x_label = o.x_label ? o.x_label : "epoch";
    const char *y_label = o.y_label ? o.y_label : "value";

    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int64_t i = 0; i < series[k].n; i++) {
            double x = series[k].x[i], y = series[k].y[i];
            if (!point_ok(x, y, o.log_y))
                continue;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            ymin = fmin(ymin, y);
            ymax = fmax(ymax, y);
        }
    if (!(xmin <= xmax))
        return ml_error(ML_EINVAL, "nothing to plot: no %s values",
                        o.log_y ? "finite positive" : "finite");

    int W = o.width, H = o.height;
    int s = W / 800 < H / 500 ? W / 800 : H / 500; /* text scale */
    if (s < 1)
        s = 1;
    int ch = ML_FONT_HEIGHT * s;
    int has_title = o.title && *o.title;
    int top = 12 * s + (has_title ? 2 * ch + 10 * s : 0);
    int bottom = 5 * s + 5 * s + ch + 10 * s + ch + 8 * s;
    int right = 20 * s;

    /* y ticks first (their labels set the left margin), then x ticks */
    int plot_h = H - top - bottom;
    ml_plot_ticks yt, xt;
    int ytarget = plot_h / (45 * s);
    ytarget = ytarget < 2 ? 2 : ytarget > 10 ? 10 : ytarget;
    ML_TRY(o.log_y ? ml_plot_log_ticks(ymin, ymax, &yt)
                   : ml_plot_nice_ticks(ymin, ymax, ytarget, 0, &yt));
    int left = 8 * s + ch + 10 * s + max_label_width(&yt, o.log_y, s) + 5 * s + 5 * s;
    int plot_w = W - left - right;
    if (plot_w < 60 || plot_h < 40)
        return ml_error(ML_EINVAL, "plot size %dx%d too small for its labels", W, H);
    int xtarget = plot_w / (70 * s);
    xtarget = xtarget < 2 ? 2 : xtarget > 12 ? 12 : xtarget;
    for (;;) {
        ML_TRY(ml_plot_nice_ticks(xmin, xmax, xtarget, o.x_integer, &xt));
        int lw = max_label_width(&xt, 0, s);
        double spacing = (double)(plot_w - 12 * s) / (xt.n > 1 ? xt.n - 1 : 1);
        if (lw + 8 * s <= spacing || xtarget == 2)
            break;
        xtarget--;
    }

    ml_image *img = ml_image_new(W, H, 3, 0xff);
    if (!img)
        return ML_ENOMEM;
    canvas cv = {0};
    cv.w = W;
    cv.h = H;
    cv.cov = ml_calloc((size_t)W * H, sizeof(float));
    uint8_t *ink = ml_calloc((size_t)W * H, 1);
    if (!cv.cov || !ink) {
        ml_free(cv.cov);
        ml_free(ink);
        ml_image_free(img);
        return ML_ENOMEM;
    }

    int px0 = left, px1 = W - right - 1, py0 = top, py1 = H - bottom - 1;
    int pad = 6 * s;
    axis_map mx = {xt.lo, xt.hi, 0, px0 + pad, px1 + 1 - pad};
    axis_map my = {o.log_y ? log10(yt.lo) : yt.lo, o.log_y ? log10(yt.hi) : yt.hi, o.log_y,
                   py1 + 1 - pad, py0 + pad};
    cv.cx0 = px0 + s;
    cv.cy0 = py0 + s;
    cv.cx1 = px1 - s;
    cv.cy1 = py1 - s;

    /* grid, ticks and their labels */
    char buf[64];
    for (int i = 0; i < xt.n; i++) {
        int x = (int)floor(map_value(&mx, xt.at[i]));
        fill_rect(img, x, py0, x, py1, c_grid);
        fill_rect(img, x - (s - 1) / 2, py1 + 1, x + s / 2, py1 + 5 * s, c_frame);
        ml_plot_tick_label(&xt, xt.at[i], 0, buf, sizeof buf);
        ml_font_draw(img, x - ml_font_text_width(buf, s) / 2 + 1, py1 + 5 * s + 5 * s, buf, s,
                     c_text);
    }
    for (int i = 0; i < yt.n; i++) {
        int y = (int)floor(map_value(&my, yt.at[i]));
        fill_rect(img, px0, y, px1, y, c_grid);
        fill_rect(img, px0 - 5 * s, y - (s - 1) / 2, px0 - 1, y + s / 2, c_frame);
        ml_plot_tick_label(&yt, yt.at[i], o.log_y, buf, sizeof buf);
        ml_font_draw(img, px0 - 5 * s - 5 * s - ml_font_text_width(buf, s), y - (7 * s) / 2, buf, s,
                     c_text);
    }
    frame_rect(img, px0, py0, px1, py1, s, c_frame);

    /* titles */
    int xlw = ml_font_text_width(x_label, s);
    ml_font_draw(img, (px0 + px1) / 2 - xlw / 2, H - 8 * s - ch, x_label, s, c_text);
    int ylw = ml_font_text_width(y_label, s);
    ml_font_draw_up(img, 8 * s, (py0 + py1) / 2 + ylw / 2, y_label, s, c_text);
    if (has_title) {
        int tw = ml_font_text_width(o.title, 2 * s);
        int tx = (px0 + px1) / 2 - tw / 2;
        if (tx + tw > W - 4 * s)
            tx = W - 4 * s - tw;
        if (tx < 4 * s)
            tx = 4 * s;
        ml_font_draw(img, tx, 12 * s, o.title, 2 * s, c_text);
    }

    /* the series */
    double hw = 1.0 * s, radius = 2.6 * s;
    for (int k = 0; k < n_series; k++) {
        const ml_plot_series *sr = &series[k];
        int markers =
            o.markers == ML_PLOT_MARKERS_ON || (o.markers == ML_PLOT_MARKERS_AUTO && sr->n <= 40);
        double lx = 0, ly = 0;
        int have_last = 0;
        for (int64_t i = 0; i < sr->n; i++) {
            if (!point_ok(sr->x[i], sr->y[i], o.log_y)) {
                have_last = 0;
                continue;
            }
            double x = map_value(&mx, sr->x[i]), y = map_value(&my, sr->y[i]);
            if (have_last)
                cover_segment(&cv, lx, ly, x, y, hw);
            if (markers)
                cover_segment(&cv, x, y, x, y, radius);
            /* a lone point (a gap on both sides) still shows */
            int next_ok = i + 1 < sr->n && point_ok(sr->x[i + 1], sr->y[i + 1], o.log_y);
            if (!have_last && !next_ok && !markers)
                cover_segment(&cv, x, y, x, y, radius);
            lx = x;
            ly = y;
            have_last = 1;
        }
        uint8_t rgb[3];
        ml_plot_color(k, rgb);
        compose(&cv, img, rgb, ink);
    }

    if (layout) {
        layout->plot_x0 = px0;
        layout->plot_y0 = py0;
        layout->plot_x1 = px1;
        layout->plot_y1 = py1;
        layout->legend_x0 = layout->legend_y0 = layout->legend_x1 = layout->legend_y1 = -1;
        layout->x_ticks = xt;
        layout->y_ticks = yt;
    }

    /* the legend, in the corner of the plot area with the least ink */
    int n_named = 0, name_w = 0;
    for (int k = 0; k < n_series; k++)
        if (series[k].name && *series[k].name) {
            n_named++;
            int nw = ml_font_text_width(series[k].name, s);
            if (nw > name_w)
                name_w = nw;
        }
    if (n_named > 0) {
        int lpad = 6 * s, sample = 22 * s, row = ch + 4 * s;
        int bw = lpad + sample + 6 * s + name_w + lpad;
        int bh = lpad * 2 + n_named * row - 4 * s;
        int inset = 8 * s;
        int cx[4] = {px1 - inset - bw, px0 + inset, px1 - inset - bw, px0 + inset};
        int cy[4] = {py0 + inset, py0 + inset, py1 - inset - bh, py1 - inset - bh};
        int best = 0;
        long best_ink = -1;
        for (int c = 0; c < 4; c++) {
            long sum = 0;
            for (int y = cy[c]; y < cy[c] + bh; y++)
                for (int x = cx[c]; x < cx[c] + bw; x++)
                    if (x >= 0 && y >= 0 && x < W && y < H)
                        sum += ink[(size_t)y * W + x];
            if (best_ink < 0 || sum < best_ink) {
                best_ink = sum;
                best = c;
            }
        }
        int bx = cx[best], by = cy[best];
        if (layout) {
            layout->legend_x0 = bx;
            layout->legend_y0 = by;
            layout->legend_x1 = bx + bw - 1;
            layout->legend_y1 = by + bh - 1;
        }
        fill_rect(img, bx, by, bx + bw - 1, by + bh - 1, c_white);
        frame_rect(img, bx, by, bx + bw - 1, by + bh - 1, s > 1 ? s / 2 : 1, c_legend_frame);
        canvas lc = cv;
        lc.cx0 = bx;
        lc.cy0 = by;
        lc.cx1 = bx + bw - 1;
        lc.cy1 = by + bh - 1;
        int r = 0;
        for (int k = 0; k < n_series; k++) {
            if (!series[k].name || !*series[k].name)
                continue;
            int ty = by + lpad + r * row;
            double ly = ty + (7.0 * s) / 2.0;
            double sx0 = bx + lpad, sx1 = bx + lpad + sample;
            cover_segment(&lc, sx0, ly, sx1, ly, hw);
            cover_segment(&lc, (sx0 + sx1) / 2, ly, (sx0 + sx1) / 2, ly, radius);
            uint8_t rgb[3];
            ml_plot_color(k, rgb);
            compose(&lc, img, rgb, NULL);
            ml_font_draw(img, bx + lpad + sample + 6 * s, ty, series[k].name, s, c_text);
            r++;
        }
    }
    ml_free(cv.cov);
    ml_free(ink);
    *out = img;
    return ML_OK;
}

ml_status ml_plot_write_png(const ml_plot_opts *opts, const ml_plot_series *series, int n_series,
                            const char *path)
{
    ml_image *img;
    ML_TRY(ml_plot_render(opts, series, n_series, &img, NULL));
    ml_status s = ml_png_write(img, path);
    ml_image_free(img);
    return s;
}
