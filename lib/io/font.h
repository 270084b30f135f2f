/* A small bitmap font for labels on images: printable ASCII (32..126), each
 * glyph 5 pixels wide and 8 tall (capitals and digits on the top 7 rows,
 * descenders of g j p q y , on the 8th), drawn in a cell of ML_FONT_ADVANCE x
 * ML_FONT_LINE pixels.  Scale k draws every font pixel as a k x k square.
 * Other characters are drawn as '?'. */
#ifndef ML_IO_FONT_H
#define ML_IO_FONT_H

#include <stdint.h>

#include "io/png.h"

#define ML_FONT_WIDTH 5
#define ML_FONT_HEIGHT 8
#define ML_FONT_ADVANCE 6 /* horizontal step from one character to the next */
#define ML_FONT_LINE 10   /* vertical step from one line to the next */

/* The 8 rows of a glyph, top first; bit 4 of a row is its leftmost pixel. */
const uint8_t *ml_font_glyph(int c);

/* Width in pixels of text drawn at scale (no spacing after the last glyph). */
int ml_font_text_width(const char *text, int scale);

/* Draws text with its top-left corner at (x, y); pixels outside the image are
 * skipped.  rgb is the colour (for a gray image, its luminance). */
void ml_font_draw(ml_image *img, int x, int y, const char *text, int scale, const uint8_t rgb[3]);

/* Draws text turned a quarter left (reading bottom to top), as a y-axis title:
 * (x, y) is the bottom-left corner of the turned text, which is
 * ML_FONT_HEIGHT * scale wide and ml_font_text_width() tall. */
void ml_font_draw_up(ml_image *img, int x, int y, const char *text, int scale,
                     const uint8_t rgb[3]);

#endif
