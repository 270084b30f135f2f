/* Line charts rendered into an RGB image (then a PNG): several series of
 * (x, y) points, such as monitor channels against epochs.
 *
 * The axes cover the data with "nice" tick values (1, 2 or 5 times a power
 * of ten; powers of ten on a log-scale y axis), with tick marks, tick labels,
 * light grid lines, axis titles, an optional title and a legend box that
 * shows each series' colour and name in the corner where it hides the least
 * data.  Lines are antialiased, 2 pixels wide; series get distinct colours
 * (the ten "tab10" colours, then again).  Text uses the built-in bitmap font
 * (io/font.h), drawn larger when the image is large.
 *
 * A point whose x or y is not finite (NaN marks "no value"), or whose y is not
 * positive on a log axis, is skipped and breaks the line there. */
#ifndef ML_IO_PLOT_H
#define ML_IO_PLOT_H

#include <stdint.h>

#include "core/error.h"
#include "io/png.h"

typedef struct {
    const char *name; /* legend text; NULL or "" leaves the series out of the legend */
    const double *x;
    const double *y;
    int64_t n;
} ml_plot_series;

typedef enum {
    ML_PLOT_MARKERS_AUTO = 0, /* dots on the points of series with at most 40 points */
    ML_PLOT_MARKERS_ON = 1,
    ML_PLOT_MARKERS_OFF = 2,
} ml_plot_markers;

typedef struct {
    int width, height;   /* pixels, at least 200 x 150; both 0: 800 x 500 */
    const char *title;   /* NULL or "": none */
    const char *x_label; /* NULL: "epoch" */
    const char *y_label; /* NULL: "value" */
    int log_y;           /* logarithmic y axis */
    int x_integer;       /* x ticks on whole numbers only (epochs) */
    ml_plot_markers markers;
} ml_plot_opts;

#define ML_PLOT_MAX_TICKS 40

/* Tick values of one axis; [lo, hi] is the axis range, which the ticks span. */
typedef struct {
    double lo, hi;
    double step; /* linear: distance between ticks; log: factor between labelled ticks */
    int n;
    double at[ML_PLOT_MAX_TICKS];
    int decimals; /* digits after the point that tell the labels apart (linear) */
} ml_plot_ticks;

/* Nice linear ticks covering [lo, hi] (finite; lo <= hi), about `target` of
 * them (at most target + 2; 2 <= target <= 20): the step is 1, 2 or 5 times a
 * power of ten, at least 1 when integer is set; lo and hi are rounded out to
 * multiples of the step.  An empty range (lo == hi) is widened around it. */
ml_status ml_plot_nice_ticks(double lo, double hi, int target, int integer, ml_plot_ticks *t);

/* Ticks of a log axis covering [lo, hi] (0 < lo <= hi): powers of ten (every
 * k-th when there are many decades), with 2 and 5 times them when the range
 * spans at most three decades (then trimmed to the data). */
ml_status ml_plot_log_ticks(double lo, double hi, ml_plot_ticks *t);

/* A tick label: "0.25", "1500", "1e-05" (ticks from the functions above). */
void ml_plot_tick_label(const ml_plot_ticks *t, double v, int log, char *buf, size_t size);

/* The colour of series i (0-based). */
void ml_plot_color(int i, uint8_t rgb[3]);

/* Where the parts of a rendered chart are (pixels, inclusive rectangles). */
typedef struct {
    int plot_x0, plot_y0, plot_x1, plot_y1;         /* the frame around the data */
    int legend_x0, legend_y0, legend_x1, legend_y1; /* all -1 when there is no legend */
    ml_plot_ticks x_ticks, y_ticks;
} ml_plot_layout;

/* Renders the chart into a new RGB image; layout (may be NULL) receives where
 * its parts are.  No series, or no finite point in any of them, is ML_EINVAL
 * ("nothing to plot"). */
ml_status ml_plot_render(const ml_plot_opts *opts, const ml_plot_series *series, int n_series,
                         ml_image **out, ml_plot_layout *layout);

/* Renders and writes a PNG file atomically ("-": standard output). */
ml_status ml_plot_write_png(const ml_plot_opts *opts, const ml_plot_series *series, int n_series,
                            const char *path);

#endif
