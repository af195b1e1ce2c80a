/* Inline SVG plots and the escaping of outside text into XML. The plots are
 * drawn here rather than by a plotting program so that a report needs
 * nothing a fresh machine lacks; what they draw is deliberately small:
 * linear, log and categorical axes, lines, marks and a legend. */
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attnbench/problem.h"

/* Bytes of the UTF-8 sequence at c, or 0 when it is not valid UTF-8
 * (overlong, a surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_len(const unsigned char *c) {
  if (c[0] < 0x80) return 1;
  const int cont1 = (c[1] & 0xC0) == 0x80;
  if (c[0] >= 0xC2 && c[0] <= 0xDF) return cont1 ? 2 : 0;
  if (c[0] >= 0xE0 && c[0] <= 0xEF) {
    const unsigned char lo = c[0] == 0xE0 ? 0xA0 : 0x80, hi = c[0] == 0xED ? 0x9F : 0xBF;
    return c[1] >= lo && c[1] <= hi && (c[2] & 0xC0) == 0x80 ? 3 : 0;
  }
  if (c[0] >= 0xF0 && c[0] <= 0xF4) {
    const unsigned char lo = c[0] == 0xF0 ? 0x90 : 0x80, hi = c[0] == 0xF4 ? 0x8F : 0xBF;
    return c[1] >= lo && c[1] <= hi && (c[2] & 0xC0) == 0x80 && (c[3] & 0xC0) == 0x80 ? 4 : 0;
  }
  return 0;
}

int text_write_escaped(FILE *f, const char *s, const char *(*markup)(unsigned char c)) {
  if (!s) return 0;
  char *line = strdup(s);
  if (!line) return -1;
  attn_printable_line(line);
  for (const unsigned char *c = (const unsigned char *)line; *c;) {
    const size_t len = utf8_len(c);
    const int forbidden = len == 3 && c[0] == 0xEF && c[1] == 0xBF && c[2] >= 0xBE; /* U+FFFE, U+FFFF */
    const char *m = len == 1 && markup ? markup(*c) : NULL;
    if (len == 0 || forbidden)
      fputc('?', f);
    else if (m)
      fputs(m, f);
    else
      fwrite(c, 1, len, f);
    c += len ? len : 1;
  }
  free(line);
  return 0;
}

static const char *xml_entity(unsigned char c) {
  switch (c) {
  case '&': return "&amp;";
  case '<': return "&lt;";
  case '>': return "&gt;";
  case '"': return "&quot;";
  case '\'': return "&#39;";
  default: return NULL;
  }
}

int xml_write_text(FILE *f, const char *s) { return text_write_escaped(f, s, xml_entity); }

static void put_text(svg_plot *p, const char *s) { p->failed |= xml_write_text(p->f, s) != 0; }

const char *svg_colour(size_t i) {
  /* Tableau 10: distinct in hue and in lightness. */
  static const char *const palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                        "#b07aa1", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

/* Where v falls along the axis, from 0 (lo) to 1 (hi), clamped. */
static double axis_frac(const svg_axis *a, double v) {
  double t;
  if (a->scale == SVG_LOG2 || a->scale == SVG_LOG10)
    t = v > 0 ? (log(v) - log(a->lo)) / (log(a->hi) - log(a->lo)) : 0;
  else
    t = (v - a->lo) / (a->hi - a->lo);
  return !(t > 0) ? 0 : t > 1 ? 1 : t;
}

double svg_px(const svg_plot *p, double x) { return p->left + axis_frac(&p->x, x) * (p->right - p->left); }

/* Bands run from the top down, like the rows of a table; numbers upwards. */
double svg_py(const svg_plot *p, double y) {
  const double t = axis_frac(&p->y, y);
  return p->y.scale == SVG_BANDS ? p->top + t * (p->bottom - p->top) : p->bottom - t * (p->bottom - p->top);
}

/* Tick values of a numeric axis into v (at most cap); returns how many. A
 * linear axis gets steps of 1, 2 or 5 times a power of ten, about six of
 * them; a log axis its powers of the base, thinned to at most ten. */
static int axis_ticks(const svg_axis *a, double *v, int cap) {
  int n = 0;
  if (a->scale == SVG_LINEAR) {
    const double raw = (a->hi - a->lo) / 6, mag = pow(10, floor(log10(raw))), r = raw / mag;
    const double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    if (!(step > 0) || !isfinite(step)) return 0; /* a range beyond double's: no ticks rather than a loop */
    for (double k = ceil(a->lo / step - 1e-9); k * step <= a->hi * (1 + 1e-9) && n < cap; k++)
      v[n++] = k * step;
    return n;
  }
  const double base = a->scale == SVG_LOG2 ? 2 : 10;
  if (!(a->lo > 0) || !isfinite(a->hi) || !(a->hi >= a->lo)) return 0;
  const int e0 = (int)ceil(log(a->lo) / log(base) - 1e-9), e1 = (int)floor(log(a->hi) / log(base) + 1e-9);
  const int stride = (e1 - e0) / 10 + 1;
  for (int e = e0; e <= e1 && n < cap; e += stride) v[n++] = pow(base, e);
  return n;
}

static void tick_label(const svg_axis *a, double v, char *buf, size_t n) {
  if (a->scale == SVG_LOG10) {
    const int e = (int)lround(log10(v));
    if (e == 0 || e == 1)
      snprintf(buf, n, "%d", e ? 10 : 1);
    else
      snprintf(buf, n, "1e%d", e);
  } else {
    snprintf(buf, n, "%g", fabs(v) < 1e-12 ? 0 : v);
  }
}

static void x_ticks(svg_plot *p) {
  double v[32];
  char label[32];
  const int n = axis_ticks(&p->x, v, 32);
  for (int i = 0; i < n; i++) {
    const double x = svg_px(p, v[i]);
    tick_label(&p->x, v[i], label, sizeof label);
    fprintf(p->f,
            "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            x, p->top, x, p->bottom, x, p->bottom + 14, label);
  }
}

static void y_ticks(svg_plot *p) {
  if (p->y.scale == SVG_BANDS) {
    for (int i = 0; i < (int)p->y.hi; i++) {
      const double y = svg_py(p, i + 0.5);
      fprintf(p->f,
              "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
              p->left, y, p->right, y, p->left - 6, y + 4);
      put_text(p, p->y.bands[i]);
      fputs("</text>\n", p->f);
    }
    return;
  }
  double v[32];
  char label[32];
  const int n = axis_ticks(&p->y, v, 32);
  for (int i = 0; i < n; i++) {
    const double y = svg_py(p, v[i]);
    tick_label(&p->y, v[i], label, sizeof label);
    fprintf(p->f,
            "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
            p->left, y, p->right, y, p->left - 6, y + 4, label);
  }
}

void svg_begin(svg_plot *p, FILE *f, const char *kind, const char *title, const svg_axis *x,
               const svg_axis *y, int width, int height, int legend_width) {
  memset(p, 0, sizeof *p);
  p->f = f;
  p->x = *x;
  p->y = *y;
  p->left = y->scale == SVG_BANDS ? 104 : 70;
  p->right = width - legend_width - 16;
  p->top = 40;
  p->bottom = height - 46;
  p->legend_x = p->right + 16;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-plot=\"%s\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n"
          "<title>",
          kind, width, height, width, height);
  put_text(p, title);
  fprintf(f,
          "</title>\n<text class=\"title\" x=\"%.1f\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" "
          "font-weight=\"bold\">",
          (p->left + p->right) / 2);
  put_text(p, title);
  fputs("</text>\n", f);
  x_ticks(p);
  y_ticks(p);
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n"
          "<text class=\"xlabel\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\">",
          p->left, p->top, p->right - p->left, p->bottom - p->top, (p->left + p->right) / 2,
          p->bottom + 34.0);
  put_text(p, x->label);
  fprintf(f,
          "</text>\n<text class=\"ylabel\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
          "text-anchor=\"middle\" font-size=\"12\">",
          y->scale == SVG_BANDS ? 14.0 : 18.0, (p->top + p->bottom) / 2);
  put_text(p, y->label);
  fputs("</text>\n", f);
}

int svg_end(svg_plot *p) {
  fputs("</svg>\n", p->f);
  return p->failed || ferror(p->f) ? -1 : 0;
}

void svg_group_begin(svg_plot *p, const char *cls, const char *name, const char *colour) {
  fprintf(p->f, "<g class=\"%s\" data-series=\"", cls);
  put_text(p, name);
  fprintf(p->f, "\" stroke=\"%s\" fill=\"%s\">\n", colour, colour);
}

void svg_group_end(svg_plot *p) { fputs("</g>\n", p->f); }

static void dash_attr(FILE *f, const char *dash) {
  if (dash && dash[0]) fprintf(f, " stroke-dasharray=\"%s\"", dash);
}

void svg_polyline(svg_plot *p, const double *x, const double *y, size_t n, const char *dash, double width) {
  fprintf(p->f, "<polyline fill=\"none\" stroke-width=\"%.1f\"", width);
  dash_attr(p->f, dash);
  fputs(" points=\"", p->f);
  for (size_t i = 0; i < n; i++) fprintf(p->f, "%s%.1f,%.1f", i ? " " : "", svg_px(p, x[i]), svg_py(p, y[i]));
  fputs("\"/>\n", p->f);
}

/* A mark centred on pixel (cx, cy), its element left open for a tooltip. */
static void mark_open(FILE *f, double cx, double cy, int shape, int hollow) {
  const double r = 3.5;
  const char *fill = hollow ? " fill=\"#fff\"" : "";
  switch (shape % SVG_SHAPES) {
  case 0: fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"%s", cx, cy, r, fill); break;
  case 1:
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"%s", cx - r, cy - r, 2 * r, 2 * r,
            fill);
    break;
  case 2:
    fprintf(f, "<path d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\"%s", cx, cy - r - 1, cx + r + 1, cy + r,
            cx - r - 1, cy + r, fill);
    break;
  case 3:
    fprintf(f, "<path d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\"%s", cx, cy - r - 1, cx + r + 1, cy,
            cx, cy + r + 1, cx - r - 1, cy, fill);
    break;
  default:
    fprintf(f, "<path d=\"M%.1f,%.1f L%.1f,%.1f L%.1f,%.1f Z\"%s", cx, cy + r + 1, cx + r + 1, cy - r,
            cx - r - 1, cy - r, fill);
  }
}

void svg_marker(svg_plot *p, double x, double y, int shape, int hollow, const char *tooltip) {
  mark_open(p->f, svg_px(p, x), svg_py(p, y), shape, hollow);
  if (!tooltip) {
    fputs("/>\n", p->f);
    return;
  }
  fputs("><title>", p->f);
  put_text(p, tooltip);
  fprintf(p->f, "</title></%s>\n",
          shape % SVG_SHAPES == 0   ? "circle"
          : shape % SVG_SHAPES == 1 ? "rect"
                                    : "path");
}

void svg_vline(svg_plot *p, double x, const char *colour, const char *dash) {
  const double px = svg_px(p, x);
  fprintf(p->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"",
          px, p->top, px, p->bottom, colour);
  dash_attr(p->f, dash);
  fputs("/>\n", p->f);
}

void svg_legend(svg_plot *p, const char *label, const char *colour, const char *dash, int shape, int hollow) {
  const double y = p->top + 8 + 16.0 * p->legend_n++, x = p->legend_x;
  fprintf(p->f, "<g class=\"legend-entry\" stroke=\"%s\" fill=\"%s\">", colour, colour);
  if (!dash || dash[0]) {
    fprintf(p->f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke-width=\"1.5\"", x, y, x + 24,
            y);
    dash_attr(p->f, dash);
    fputs("/>", p->f);
  }
  if (shape >= 0) {
    mark_open(p->f, x + 12, y, shape, hollow);
    fputs("/>", p->f);
  }
  fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" fill=\"#222\">", x + 30, y + 4);
  put_text(p, label);
  fputs("</text></g>\n", p->f);
}
