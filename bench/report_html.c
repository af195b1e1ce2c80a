/* attnbench report as one self-contained page: inline SVG, CSS in a
 * <style> element, nothing fetched. It is written as XHTML-compatible HTML
 * (every element closed, every attribute quoted, no named entities but
 * XML's) so that an XML parser reads it as well as a browser does; every
 * string from a file goes through xml_write_text. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report_page.h"
#include "svg.h"

typedef struct html {
  FILE *f;
  const page *pg;
  int failed;
} html;

static void text(html *h, const char *s) { h->failed |= xml_write_text(h->f, s) != 0; }

/* Formatted text that may quote a file: escaped as a whole. */
static void textf(html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void textf(html *h, const char *fmt, ...) {
  char buf[2 * ATTN_PROBLEM_STRLEN + 2 * ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  text(h, buf);
}

/* Markup of this file's own, never outside text. */
static void raw(html *h, const char *s) { fputs(s, h->f); }

static void cell(html *h, const char *tag, const char *cls, const char *s) {
  fprintf(h->f, "<%s%s%s%s>", tag, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
  text(h, s ? s : "-");
  fprintf(h->f, "</%s>", tag);
}

static void number_cell(html *h, const char *fmt, double v) {
  char buf[48] = "-";
  if (isfinite(v)) snprintf(buf, sizeof buf, fmt, v);
  cell(h, "td", "num", buf);
}

static const char *const STYLE =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1d1d1f;margin:1.5em auto;"
    "max-width:1440px;padding:0 1.2em}\n"
    "h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2em;"
    "margin-top:2.2em}h3{margin-top:1.6em}h4{margin:1.2em 0 .4em;font-weight:normal;color:#444}\n"
    "table{border-collapse:collapse;margin:.4em 0 1em}th,td{border:1px solid #d8dee4;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f4f6f8}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}td.date{white-space:nowrap}\n"
    "table.context th{width:9em}code{font:12px ui-monospace,'DejaVu Sans Mono',monospace;"
    "word-break:break-all;background:#f4f6f8;padding:0 2px}table.across code{white-space:nowrap}\n"
    ".panels{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;border:1px solid #e4e8ec;padding:6px;"
    "width:min-content}"
    "figcaption{font-size:12px;color:#555;max-width:100%}svg.plot{display:block}\n"
    ".src{color:#555;font-size:13px}ul.notes{color:#7a4d00;font-size:13px}\n"
    "tr.FAILED td{background:#fde2e1}tr.MISTRUSTED td{background:#fff4d6}tr.SKIPPED td{color:#666}\n"
    "td.bar{white-space:nowrap;min-width:15em}span.bar{display:inline-block;height:11px;margin-right:6px;"
    "vertical-align:middle;border-radius:2px}span.sub{color:#666;font-size:12px}\n"
    "nav ul{columns:2;font-size:13px}\n";

static void page_head(html *h) {
  raw(h,
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
      "<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>attnbench report</title>\n<style>\n");
  raw(h, STYLE);
  raw(h, "</style>\n</head>\n<body>\n<h1>attnbench report</h1>\n");
}

/* ---- the inputs and the table of contents ---- */

static void inputs_table(html *h) {
  const page *pg = h->pg;
  char made[256], machine[512];
  fprintf(h->f,
          "<p class=\"src\">%zu result file(s) from %zu machine(s), made into this page by attnbench %s "
          "report. Every section names the file it comes from and the command that wrote it.</p>\n",
          pg->nin, pg->nmachines, ATTNBENCH_VERSION);
  raw(h, "<table class=\"inputs\"><thead><tr><th>file</th><th>made by</th><th>machine</th><th>date</th>"
         "<th>cases</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < pg->nin; i++) {
    page_made_by(pg, i, made, sizeof made);
    page_machine_label(pg, pg->machine_of[i], machine, sizeof machine);
    raw(h, "<tr>");
    cell(h, "td", NULL, pg->in[i].path);
    cell(h, "td", NULL, made);
    fprintf(h->f, "<td><a href=\"#machine-%zu\">", pg->machine_of[i] + 1);
    text(h, machine);
    raw(h, "</a></td>");
    cell(h, "td", "date", pg->in[i].date[0] ? pg->in[i].date : NULL);
    fprintf(h->f, "<td class=\"num\">%zu%s</td></tr>\n", page_input_cases(pg, i),
            pg->in[i].interrupted ? " (interrupted run)" : "");
  }
  raw(h, "</tbody></table>\n<nav><ul>\n");
  for (size_t m = 0; m < pg->nmachines; m++) {
    page_machine_label(pg, m, machine, sizeof machine);
    fprintf(h->f, "<li><a href=\"#machine-%zu\">Machine %zu: ", m + 1, m + 1);
    text(h, machine);
    raw(h, "</a></li>\n");
  }
  raw(h, "<li><a href=\"#across\">% of each machine's roofline, side by side</a></li>\n");
  for (size_t c = 0; c < pg->nchecks; c++) {
    fprintf(h->f, "<li><a href=\"#check-%zu\">Conformance: ", c + 1);
    text(h, pg->in[pg->checks[c].input].path);
    raw(h, "</a></li>\n");
  }
  raw(h, "</ul></nav>\n");
}

/* ---- a machine ---- */

static void context_row(html *h, const char *what, const char *value) {
  raw(h, "<tr>");
  cell(h, "th", NULL, what);
  cell(h, "td", NULL, value && value[0] ? value : NULL);
  raw(h, "</tr>\n");
}

static void machine_context(html *h, size_t m) {
  const page *pg = h->pg;
  const size_t i = pg->machines[m].first;
  char buf[1024], made[256];
  raw(h, "<table class=\"context\"><tbody>\n");
  context_row(h, "host", pg->machines[m].host);
  context_row(h, "CPU", pg->machines[m].cpu);
  page_cores(pg, i, buf, sizeof buf);
  context_row(h, "cores", buf);
  page_caches(pg, i, buf, sizeof buf);
  context_row(h, "caches", buf);
  context_row(h, "ISA", page_context_str(pg, i, "isa"));
  page_roofline_text(&pg->machines[m], buf, sizeof buf);
  context_row(h, "roofline", buf);
  page_libraries(pg, i, buf, sizeof buf);
  context_row(h, "libraries", buf);
  raw(h, "</tbody></table>\n<p class=\"src\">Machine context from ");
  page_made_by(pg, i, made, sizeof made);
  textf(h, "%s (%s); each file's own run below.", pg->in[i].path, made);
  raw(h, "</p>\n");
}

static void machine_files(html *h, size_t m) {
  const page *pg = h->pg;
  char made[256], buf[1024], first[1024];
  page_libraries(pg, pg->machines[m].first, first, sizeof first);
  raw(h, "<table class=\"files\"><thead><tr><th>file</th><th>made by</th><th>date</th><th>attnbench</th>"
         "<th>binding</th><th>cache mode</th><th>cases</th><th>libraries</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < pg->nin; i++) {
    if (pg->machine_of[i] != m) continue;
    page_made_by(pg, i, made, sizeof made);
    raw(h, "<tr>");
    cell(h, "td", NULL, pg->in[i].path);
    cell(h, "td", NULL, made);
    cell(h, "td", "date", pg->in[i].date[0] ? pg->in[i].date : NULL);
    cell(h, "td", NULL, page_context_str(pg, i, "attnbench_version"));
    page_binding(pg, i, buf, sizeof buf);
    cell(h, "td", NULL, buf);
    cell(h, "td", NULL, page_context_str(pg, i, "cache_mode"));
    snprintf(buf, sizeof buf, "%zu%s", page_input_cases(pg, i),
             pg->in[i].interrupted ? " (interrupted: only the cases done before Ctrl-C)" : "");
    cell(h, "td", "num", buf);
    page_libraries(pg, i, buf, sizeof buf);
    cell(h, "td", NULL, strcmp(buf, first) ? (buf[0] ? buf : "none given") : "as above");
    raw(h, "</tr>\n");
  }
  raw(h, "</tbody></table>\n");
}

/* ---- GFLOP/s panels ---- */

static double panel_ymax(const page_panel *pn) {
  double y = pn->peak;
  for (size_t s = 0; s < pn->nseries; s++)
    for (size_t k = 0; k < pn->series[s].n; k++) y = fmax(y, pn->series[s].pts[k].y);
  for (size_t s = 0; s < pn->nroofs; s++)
    for (size_t k = 0; k < pn->roofs[s].n; k++) y = fmax(y, pn->roofs[s].pts[k].y);
  return y > 0 ? y : 1;
}

static void panel_xrange(const page_panel *pn, double *lo, double *hi) {
  *lo = INFINITY, *hi = 0;
  for (size_t s = 0; s < pn->nseries; s++)
    for (size_t k = 0; k < pn->series[s].n; k++)
      *lo = fmin(*lo, pn->series[s].pts[k].lq), *hi = fmax(*hi, pn->series[s].pts[k].lq);
  /* A quarter octave keeps the end points off the frame; a single lq gets
   * an octave on either side. */
  const double pad = *lo < *hi ? 1.19 : 2;
  *lo /= pad;
  *hi *= pad;
}

/* The line and marks of one series, in data coordinates. */
static void series_marks(svg_plot *p, const page_series *s, int shape, const char *dash, int marks) {
  double *x = malloc(2 * s->n * sizeof *x), *y = x + s->n;
  if (!x) {
    p->failed = 1;
    return;
  }
  for (size_t k = 0; k < s->n; k++) x[k] = s->pts[k].lq, y[k] = s->pts[k].y;
  if (s->n > 1) svg_polyline(p, x, y, s->n, dash, marks ? 1.6 : 1.4);
  free(x);
  char tip[ATTN_PROBLEM_STRLEN + 128];
  for (size_t k = 0; marks && k < s->n; k++) {
    snprintf(tip, sizeof tip, "%s, lq=%.0f: %.1f GFLOP/s", s->label, s->pts[k].lq, s->pts[k].y);
    svg_marker(p, s->pts[k].lq, s->pts[k].y, shape, 0, tip);
  }
}

/* A roofline known at one lq only is drawn as a short level stroke. */
static void roof_line(svg_plot *p, const page_series *r, const char *dash) {
  if (r->n != 1) {
    series_marks(p, r, 0, dash, 0);
    return;
  }
  const double x[2] = {r->pts[0].lq / 1.12, r->pts[0].lq * 1.12}, y[2] = {r->pts[0].y, r->pts[0].y};
  svg_polyline(p, x, y, 2, dash, 1.4);
}

/* Wide enough for the longest label at about 6 pixels a character. */
static int legend_width(const page_panel *pn) {
  size_t longest = 18;
  for (size_t s = 0; s < pn->nseries; s++)
    if (strlen(pn->series[s].label) > longest) longest = strlen(pn->series[s].label);
  for (size_t r = 0; r < pn->nroofs; r++)
    if (strlen(pn->roofs[r].label) > longest) longest = strlen(pn->roofs[r].label);
  return longest > 48 ? 340 : (int)(46 + 6 * longest);
}

/* The most threads of any line: fewer are drawn dashed, so that a backend's
 * lines at two thread counts (one colour) stay apart. */
static int panel_top_threads(const page_panel *pn) {
  int top = 0;
  for (size_t s = 0; s < pn->nseries; s++)
    if (pn->series[s].threads > top) top = pn->series[s].threads;
  return top;
}

static int panel_svg(html *h, const page_panel *pn) {
  char title[96], sub[64];
  page_panel_title(pn, sub, sizeof sub);
  snprintf(title, sizeof title, "GFLOP/s against lq, %s", sub);
  svg_axis x = {SVG_LOG2, 1, 2, "lq: query length, tokens (log scale)", NULL};
  panel_xrange(pn, &x.lo, &x.hi);
  const svg_axis y = {SVG_LINEAR, 0, panel_ymax(pn) * 1.08, "GFLOP/s (visible query-key pairs)", NULL};
  const int lw = legend_width(pn);
  const int height = (int)fmax(380, 60 + 16.0 * (pn->nseries + pn->nroofs + 1) + 46);
  svg_plot p;
  svg_begin(&p, h->f, "gflops", title, &x, &y, 470 + lw, height, lw);
  for (size_t s = 0; s < pn->nseries; s++) {
    const page_series *se = &pn->series[s];
    const int shape = se->shape;
    svg_group_begin(&p, "series", se->label, svg_colour(se->backend_rank));
    series_marks(&p, se, shape, se->threads == panel_top_threads(pn) ? NULL : "5 2", 1);
    svg_group_end(&p);
    svg_legend(&p, se->label, svg_colour(se->backend_rank),
               se->threads == panel_top_threads(pn) ? NULL : "5 2", shape, 0);
  }
  for (size_t r = 0; r < pn->nroofs; r++) {
    const int top = pn->roofs[r].threads == pn->roofs[pn->nroofs - 1].threads; /* sorted by threads */
    const char *colour = top ? "#222" : "#8c8c8c", *dash = top ? "7 4" : "3 3";
    svg_group_begin(&p, "roofline", pn->roofs[r].label, colour);
    roof_line(&p, &pn->roofs[r], dash);
    svg_group_end(&p);
    svg_legend(&p, pn->roofs[r].label, colour, dash, -1, 0);
  }
  if (pn->peak > 0) {
    const double xs[2] = {x.lo, x.hi}, ys[2] = {pn->peak, pn->peak};
    svg_group_begin(&p, "roofline", "FMA peak", "#222");
    svg_polyline(&p, xs, ys, 2, "7 4", 1.4);
    svg_group_end(&p);
    svg_legend(&p, "FMA peak (context)", "#222", "7 4", -1, 0);
  }
  return svg_end(&p);
}

static void panel_figure(html *h, const page_panel *pn) {
  char sub[64];
  page_panel_title(pn, sub, sizeof sub);
  raw(h, "<figure class=\"panel\">\n");
  h->failed |= panel_svg(h, pn) != 0;
  raw(h, "<figcaption>");
  textf(h,
        "%s, from %s: %zu line(s), one per backend and thread count (fewer threads: dashed, other marks), ",
        sub, h->pg->in[pn->input].path, pn->nseries);
  text(h, pn->nroofs     ? "the roofline at each thread count dashed (per case: min of the FMA peak and the "
                           "bandwidth bound)."
          : pn->peak > 0 ? "the context's FMA peak dashed (the cases carry no bound of their own)."
                         : "no roofline (none in the file).");
  raw(h, "</figcaption>\n</figure>\n");
}

static void machine_panels(html *h, size_t m) {
  const page *pg = h->pg;
  int any = 0;
  for (size_t i = 0; i < pg->nin; i++) {
    if (pg->machine_of[i] != m || pg->in[i].kind != CMP_BENCH) continue;
    int here = 0;
    for (size_t k = 0; k < pg->npanels; k++) {
      if (pg->panels[k].input != i) continue;
      if (!any++) raw(h, "<h3>GFLOP/s against sequence length</h3>\n");
      if (!here++) {
        char made[256];
        page_made_by(pg, i, made, sizeof made);
        raw(h, "<h4>");
        textf(h, "From %s (%s)", pg->in[i].path, made);
        raw(h, "</h4>\n<div class=\"panels\">\n");
      }
      panel_figure(h, &pg->panels[k]);
    }
    if (here) raw(h, "</div>\n");
  }
}

static void machine_notes(html *h, size_t m) {
  const strlist *notes = &h->pg->machines[m].notes;
  if (!notes->n) return;
  raw(h, "<ul class=\"notes\">\n");
  for (size_t k = 0; k < notes->n; k++) cell(h, "li", NULL, notes->items[k]), raw(h, "\n");
  raw(h, "</ul>\n");
}

static void machine_section(html *h, size_t m) {
  char label[512];
  page_machine_label(h->pg, m, label, sizeof label);
  fprintf(h->f, "<section class=\"machine\" id=\"machine-%zu\">\n<h2>Machine %zu: ", m + 1, m + 1);
  text(h, label);
  raw(h, "</h2>\n");
  machine_context(h, m);
  machine_files(h, m);
  machine_panels(h, m);
  machine_notes(h, m);
  raw(h, "</section>\n");
}

/* ---- across machines ---- */

static void across_sources(html *h) {
  const page *pg = h->pg;
  raw(h, "<p class=\"src\">From the bench files: ");
  int first = 1;
  for (size_t i = 0; i < pg->nin; i++) {
    if (pg->in[i].kind != CMP_BENCH) continue;
    char made[256];
    page_made_by(pg, i, made, sizeof made);
    textf(h, "%s%s (%s, machine %zu)", first ? "" : "; ", pg->in[i].path, made, pg->machine_of[i] + 1);
    first = 0;
  }
  raw(h, first ? "none.</p>\n" : ".</p>\n");
}

static double cases_max_pct(const page *pg) {
  double top = 100;
  for (size_t c = 0; c < pg->ncases; c++)
    for (size_t m = 0; m < pg->nmachines; m++)
      if (!isnan(pg->cases[c].pct[m])) top = fmax(top, pg->cases[c].pct[m]);
  return top;
}

static void across_row(html *h, const page_case *c, double top) {
  const page *pg = h->pg;
  char threads[16];
  snprintf(threads, sizeof threads, "%d", c->threads);
  raw(h, "<tr><td><code>");
  text(h, c->problem);
  raw(h, "</code></td>");
  cell(h, "td", NULL, c->backend);
  cell(h, "td", "num", threads);
  for (size_t m = 0; m < pg->nmachines; m++) {
    if (isnan(c->pct[m])) {
      raw(h, "<td class=\"bar\">-</td>");
      continue;
    }
    fprintf(h->f, "<td class=\"bar\"><span class=\"bar\" style=\"width:%.1fpx;background:%s\"></span>%.0f%%",
            140 * c->pct[m] / top, svg_colour(c->backend_rank), c->pct[m]);
    if (isfinite(c->gflops[m])) fprintf(h->f, " <span class=\"sub\">(%.1f GFLOP/s)</span>", c->gflops[m]);
    raw(h, "</td>");
  }
  raw(h, "</tr>\n");
}

static void across_section(html *h) {
  const page *pg = h->pg;
  raw(h, "<section id=\"across\">\n<h2>% of each machine's roofline, side by side</h2>\n");
  across_sources(h);
  if (pg->nmachines < 2) {
    raw(h, "<p>One machine only: nothing to set side by side.</p>\n</section>\n");
    return;
  }
  if (!pg->ncases) {
    raw(h, "<p>No case (backend, problem, threads) has a %roof on two machines or more (a machine without a "
           "roofline in its context has none).</p>\n</section>\n");
    return;
  }
  raw(h, "<p>Each case's GFLOP/s as a percentage of its own machine's roofline at the case's thread count "
         "(min of the FMA peak and the bandwidth bound), for the cases two machines or more ran; bars to "
         "scale across the table.</p>\n<table class=\"across\"><thead><tr><th>problem</th><th>backend</th>"
         "<th>threads</th>");
  for (size_t m = 0; m < pg->nmachines; m++) {
    char label[512];
    page_machine_label(pg, m, label, sizeof label);
    fprintf(h->f, "<th>%% roof, machine %zu: ", m + 1);
    text(h, label);
    raw(h, "</th>");
  }
  raw(h, "</tr></thead><tbody>\n");
  const double top = cases_max_pct(pg);
  for (size_t c = 0; c < pg->ncases; c++) across_row(h, &pg->cases[c], top);
  raw(h, "</tbody></table>\n</section>\n");
}

/* ---- check files ---- */

#define STRIP_LO 1e-6
#define STRIP_HI 10.0

/* Where in its band a mark sits: spread by a hash of its position in the
 * file, so that equal errors do not hide one another and the page is the
 * same every time it is made. */
static double jitter(size_t seq) { return ((double)((seq * 2654435761u) % 1000) / 1000 - 0.5) * 0.6; }

typedef struct strip_counts {
  size_t low, high, not_finite;
} strip_counts;

static int strip_svg(html *h, const page_checks *pc, strip_counts *sc) {
  const page *pg = h->pg;
  const char *names[256];
  const size_t nb = pc->nerrs < 256 ? pc->nerrs : 256;
  for (size_t b = 0; b < nb; b++) names[b] = pg->backends[pc->errs[b].backend_rank];
  const svg_axis x = {SVG_LOG10, STRIP_LO, STRIP_HI,
                      "max |error| / bound over the case (log scale; above 1 fails)", NULL};
  const svg_axis y = {SVG_BANDS, 0, (double)nb, "backend", names};
  svg_plot p;
  svg_begin(&p, h->f, "err-bound", "err/bound per case and backend", &x, &y, 1000,
            (int)fmax(86 + 34.0 * nb, 86 + 16.0 * (nb + 5)), 230);
  char tip[ATTN_PROBLEM_STRLEN + 128];
  for (size_t b = 0; b < nb; b++) {
    const size_t rank = pc->errs[b].backend_rank;
    svg_group_begin(&p, "series", pg->backends[rank], svg_colour(rank));
    for (size_t k = 0; k < pc->n; k++) {
      const page_check *c = &pc->cases[k];
      if (c->backend_rank != rank) continue;
      if (isnan(c->err_bound)) {
        sc->not_finite += c->verdict != CMP_SKIPPED;
        continue;
      }
      sc->low += c->err_bound < STRIP_LO;
      sc->high += c->err_bound > STRIP_HI;
      snprintf(tip, sizeof tip, "%s %s, err/bound %.3g: %s", pg->backends[rank], cmp_verdict_name(c->verdict),
               c->err_bound, c->problem);
      const int shape = c->verdict == ATTN_FAILED ? 1 : c->verdict == ATTN_MISTRUSTED ? 2 : 0;
      svg_marker(&p, c->err_bound, (double)b + 0.5 + jitter(c->seq), shape, c->err_bound < STRIP_LO, tip);
    }
    svg_group_end(&p);
    svg_legend(&p, pg->backends[rank], svg_colour(rank), "", 0, 0);
  }
  svg_group_begin(&p, "bound", "bound", "#d62728");
  svg_vline(&p, 1, "#d62728", "6 3");
  svg_group_end(&p);
  svg_legend(&p, "bound: err/bound = 1", "#d62728", "6 3", -1, 0);
  svg_legend(&p, "FAILED", "#555", "", 1, 0);
  svg_legend(&p, "MISTRUSTED", "#555", "", 2, 0);
  svg_legend(&p, "below 1e-6 (at the edge)", "#555", "", 0, 1);
  return svg_end(&p);
}

static void errs_table(html *h, const page_checks *pc) {
  raw(h, "<table class=\"errs\"><thead><tr><th>backend</th><th>PASSED</th><th>FAILED</th><th>MISTRUSTED</th>"
         "<th>SKIPPED</th>");
  for (int b = 0; b < PAGE_NBUCKETS; b++) cell(h, "th", NULL, page_bucket_names[b]);
  raw(h, "<th>not finite</th><th>max err/bound</th></tr></thead><tbody>\n");
  for (size_t e = 0; e < pc->nerrs; e++) {
    const page_backend_errs *be = &pc->errs[e];
    raw(h, "<tr>");
    cell(h, "td", NULL, h->pg->backends[be->backend_rank]);
    for (int v = 0; v < 4; v++) number_cell(h, "%.0f", (double)be->verdicts[v]);
    for (int b = 0; b < PAGE_NBUCKETS; b++) number_cell(h, "%.0f", (double)be->buckets[b]);
    number_cell(h, "%.0f", (double)be->not_finite);
    number_cell(h, "%.3g", be->max);
    raw(h, "</tr>\n");
  }
  raw(h, "</tbody></table>\n");
}

static void verdict_row(html *h, const page_check *c) {
  const char *verdict = cmp_verdict_name(c->verdict);
  fprintf(h->f, "<tr class=\"%s\">", verdict);
  cell(h, "td", NULL, verdict);
  cell(h, "td", NULL, c->backend);
  number_cell(h, "%.3g", c->err_bound);
  number_cell(h, "%.3g", c->max_abs_err);
  raw(h, "<td><code>");
  text(h, c->problem);
  raw(h, "</code></td><td>");
  text(h, c->reason ? c->reason : "");
  if (c->stage) textf(h, "%sstage %s", c->reason ? "; " : "", c->stage);
  if (c->nonfinite > 0)
    fprintf(h->f, "%s%lld non-finite output(s)", c->reason || c->stage ? "; " : "", c->nonfinite);
  raw(h, "</td></tr>\n");
}

static void check_section(html *h, size_t k) {
  const page *pg = h->pg;
  const page_checks *pc = &pg->checks[k];
  const size_t i = pc->input;
  char made[256], machine[512];
  page_made_by(pg, i, made, sizeof made);
  page_machine_label(pg, pg->machine_of[i], machine, sizeof machine);
  fprintf(h->f, "<section class=\"check\" id=\"check-%zu\">\n<h2>Conformance: ", k + 1);
  text(h, pg->in[i].path);
  raw(h, "</h2>\n<p class=\"src\">");
  textf(h, "From %s (%s) on machine %zu (%s), %s%s.", pg->in[i].path, made, pg->machine_of[i] + 1, machine,
        pg->in[i].date[0] ? pg->in[i].date : "no date",
        pg->in[i].interrupted ? "; an interrupted run: only the cases done before Ctrl-C" : "");
  raw(h, "</p>\n");
  strip_counts sc = {0};
  if (pc->nerrs) {
    raw(h, "<figure class=\"strip\">\n");
    h->failed |= strip_svg(h, pc, &sc) != 0;
    raw(h, "<figcaption>Each mark one case; the bound at 1 dashed.</figcaption>\n</figure>\n");
  }
  if (sc.low || sc.high || sc.not_finite) {
    raw(h, "<ul class=\"notes\">");
    if (sc.low)
      fprintf(h->f,
              "<li>%zu case(s) below 1e-6 (exact ones among them) are drawn hollow at the left edge.</li>",
              sc.low);
    if (sc.high) fprintf(h->f, "<li>%zu case(s) above 10 are drawn at the right edge.</li>", sc.high);
    if (sc.not_finite)
      fprintf(h->f,
              "<li>%zu FAILED case(s) without a finite err/bound (null in the file) are not drawn.</li>",
              sc.not_finite);
    raw(h, "</ul>\n");
  }
  errs_table(h, pc);
  raw(h,
      "<h3>Verdicts, FAILED first</h3>\n<table class=\"verdicts\"><thead><tr><th>verdict</th><th>backend</th>"
      "<th>err/bound</th><th>max |error|</th><th>problem</th><th>reason</th></tr></thead><tbody>\n");
  for (size_t c = 0; c < pc->n; c++) verdict_row(h, &pc->cases[c]);
  raw(h, "</tbody></table>\n</section>\n");
}

int page_write_html(FILE *f, void *ctx) {
  html h = {f, ctx, 0};
  page_head(&h);
  inputs_table(&h);
  for (size_t m = 0; m < h.pg->nmachines; m++) machine_section(&h, m);
  across_section(&h);
  for (size_t k = 0; k < h.pg->nchecks; k++) check_section(&h, k);
  raw(&h, "</body>\n</html>\n");
  return h.failed || ferror(f) ? -1 : 0;
}
