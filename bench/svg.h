/* Inline SVG plots for attnbench report, and the escaping of outside text
 * (file contents, paths) that the page and its plots share. Everything
 * written here is well-formed XML, so the page parses as XHTML as well as
 * HTML, and a browser needs nothing beyond the page itself. */
#ifndef ATTNBENCH_SVG_H
#define ATTNBENCH_SVG_H

#include <stddef.h>
#include <stdio.h>

/* Writes s to f: each byte that is not part of valid UTF-8, each control
 * character (attn_printable_line's) and the two characters XML forbids
 * (U+FFFE, U+FFFF) become '?'; each other ASCII byte is written as
 * markup(byte) where that is not NULL, else as itself. A NULL s writes
 * nothing. -1 when memory runs out. */
int text_write_escaped(FILE *f, const char *s, const char *(*markup)(unsigned char c));
/* text_write_escaped with XML's special characters as entities: safe in
 * element content and in a double-quoted attribute. */
int xml_write_text(FILE *f, const char *s);

typedef enum svg_scale {
  SVG_LINEAR,
  SVG_LOG2,  /* ticks at powers of two */
  SVG_LOG10, /* ticks at powers of ten */
  SVG_BANDS  /* categories: band i spans [i, i+1), its name at its centre */
} svg_scale;

typedef struct svg_axis {
  svg_scale scale;
  double lo, hi;            /* the range shown; SVG_BANDS: 0 and the number of bands */
  const char *label;        /* what the axis shows, with its unit */
  const char *const *bands; /* SVG_BANDS: the bands' names */
} svg_axis;

typedef struct svg_plot {
  FILE *f;
  svg_axis x, y;
  double left, right, top, bottom; /* the plot area, in pixels */
  double legend_x;
  int legend_n;
  int failed; /* memory ran out while escaping */
} svg_plot;

/* Opens an image of width x height pixels, a legend_width column on the
 * right: its title, frame, grid, ticks and axis labels. kind becomes the
 * root's data-plot attribute, a stable name for readers and tests. */
void svg_begin(svg_plot *p, FILE *f, const char *kind, const char *title, const svg_axis *x,
               const svg_axis *y, int width, int height, int legend_width);
/* Closes the image; -1 when anything written since svg_begin failed. */
int svg_end(svg_plot *p);

/* Pixel coordinates of a data value (clamped to the axis range: a value
 * beyond it is drawn at the edge, which the caller says in a note). */
double svg_px(const svg_plot *p, double x);
double svg_py(const svg_plot *p, double y);

/* A group of marks that a reader can count and pick out: <g class="cls"
 * data-series="name">, stroked and filled with colour. */
void svg_group_begin(svg_plot *p, const char *cls, const char *name, const char *colour);
void svg_group_end(svg_plot *p);
/* A line through n data points; dash is an SVG dash array or NULL (solid). */
void svg_polyline(svg_plot *p, const double *x, const double *y, size_t n, const char *dash, double width);
/* A mark of shape (svg_shape's numbering) at a data point, with a tooltip
 * (NULL: none); hollow draws only its outline. */
void svg_marker(svg_plot *p, double x, double y, int shape, int hollow, const char *tooltip);
/* A line across the whole plot area at data x (vertical) or y (horizontal). */
void svg_vline(svg_plot *p, double x, const char *colour, const char *dash);
/* One legend entry: a line (dash NULL: solid; "" none) and a mark (shape
 * < 0: none) in colour, then the label. */
void svg_legend(svg_plot *p, const char *label, const char *colour, const char *dash, int shape, int hollow);

/* Colour i of a palette that stays distinguishable for about ten series. */
const char *svg_colour(size_t i);
/* How many mark shapes there are (circle, square, triangle, diamond, ...). */
#define SVG_SHAPES 5

#endif
