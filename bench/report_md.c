/* attnbench report as Markdown: the page's sections as tables, without
 * plots, for pasting into an issue or a README. Text from a file is
 * escaped so that it can neither end a table cell nor turn into markup:
 * outside code spans every character Markdown acts on gets a backslash;
 * in a code span (problem strings) only '|' does, and the span's fence is
 * longer than any run of backticks inside it. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "report_page.h"
#include "svg.h"

typedef struct md {
  FILE *f;
  const page *pg;
  int failed;
} md;

static const char *md_markup(unsigned char c) {
  switch (c) {
  case '\\': return "\\\\";
  case '`': return "\\`";
  case '*': return "\\*";
  case '_': return "\\_";
  case '[': return "\\[";
  case ']': return "\\]";
  case '<': return "\\<";
  case '>': return "\\>";
  case '|': return "\\|";
  case '&': return "\\&";
  case '!': return "\\!";
  case '~': return "\\~";
  case '#': return "\\#";
  default: return NULL;
  }
}

static const char *code_markup(unsigned char c) { return c == '|' ? "\\|" : NULL; }

static void text(md *m, const char *s) { m->failed |= text_write_escaped(m->f, s, md_markup) != 0; }

static void textf(md *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void textf(md *m, const char *fmt, ...) {
  char buf[2 * ATTN_PROBLEM_STRLEN + 2 * ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  text(m, buf);
}

static void code(md *m, const char *s) {
  size_t run = 0, longest = 0;
  for (const char *c = s; *c; c++) {
    run = *c == '`' ? run + 1 : 0;
    if (run > longest) longest = run;
  }
  const size_t len = strlen(s);
  const int pad = len && (s[0] == '`' || s[len - 1] == '`' || s[0] == ' ');
  for (size_t k = 0; k <= longest; k++) fputc('`', m->f);
  if (pad) fputc(' ', m->f);
  m->failed |= text_write_escaped(m->f, s, code_markup) != 0;
  if (pad) fputc(' ', m->f);
  for (size_t k = 0; k <= longest; k++) fputc('`', m->f);
}

/* " s |": one cell; "-" for nothing. */
static void cell(md *m, const char *s) {
  fputc(' ', m->f);
  text(m, s && s[0] ? s : "-");
  fputs(" |", m->f);
}

static void number_cell(md *m, const char *fmt, double v) {
  char buf[48] = "-";
  if (isfinite(v)) snprintf(buf, sizeof buf, fmt, v);
  fprintf(m->f, " %s |", buf);
}

/* A header row of n columns and its separator; right-aligned from column right_from on. */
static void header(md *m, const char *const *cols, size_t n, size_t right_from) {
  fputc('|', m->f);
  for (size_t k = 0; k < n; k++) cell(m, cols[k]);
  fputs("\n|", m->f);
  for (size_t k = 0; k < n; k++) fputs(k >= right_from ? "---:|" : "---|", m->f);
  fputc('\n', m->f);
}

static void inputs(md *m) {
  const page *pg = m->pg;
  char made[256], machine[512];
  fprintf(m->f,
          "# attnbench report\n\n%zu result file(s) from %zu machine(s), made by attnbench %s report.\n\n",
          pg->nin, pg->nmachines, ATTNBENCH_VERSION);
  static const char *const cols[] = {"file", "made by", "machine", "date", "cases"};
  header(m, cols, 5, 4);
  for (size_t i = 0; i < pg->nin; i++) {
    page_made_by(pg, i, made, sizeof made);
    page_machine_label(pg, pg->machine_of[i], machine, sizeof machine);
    fputc('|', m->f);
    cell(m, pg->in[i].path);
    cell(m, made);
    snprintf(machine + strlen(machine), sizeof machine - strlen(machine), " (%zu)", pg->machine_of[i] + 1);
    cell(m, machine);
    cell(m, pg->in[i].date);
    fprintf(m->f, " %zu%s |\n", page_input_cases(pg, i), pg->in[i].interrupted ? " (interrupted run)" : "");
  }
}

static void context_row(md *m, const char *what, const char *value) {
  fputc('|', m->f);
  cell(m, what);
  cell(m, value);
  fputc('\n', m->f);
}

static void machine_context(md *m, size_t k) {
  const page *pg = m->pg;
  const size_t i = pg->machines[k].first;
  char buf[1024], made[256];
  static const char *const cols[] = {"machine", "as its context gives it"};
  fputs("\n", m->f);
  header(m, cols, 2, 2);
  context_row(m, "host", pg->machines[k].host);
  context_row(m, "CPU", pg->machines[k].cpu);
  page_cores(pg, i, buf, sizeof buf);
  context_row(m, "cores", buf);
  page_caches(pg, i, buf, sizeof buf);
  context_row(m, "caches", buf);
  context_row(m, "ISA", page_context_str(pg, i, "isa"));
  page_roofline_text(&pg->machines[k], buf, sizeof buf);
  context_row(m, "roofline", buf);
  page_libraries(pg, i, buf, sizeof buf);
  context_row(m, "libraries", buf);
  page_made_by(pg, i, made, sizeof made);
  fputs("\nMachine context from ", m->f);
  textf(m, "%s (%s).", pg->in[i].path, made);
  fputs("\n\n", m->f);
  static const char *const fcols[] = {"file",    "made by",    "date", "attnbench",
                                      "binding", "cache mode", "cases"};
  header(m, fcols, 7, 6);
  for (size_t j = 0; j < pg->nin; j++) {
    if (pg->machine_of[j] != k) continue;
    page_made_by(pg, j, made, sizeof made);
    fputc('|', m->f);
    cell(m, pg->in[j].path);
    cell(m, made);
    cell(m, pg->in[j].date);
    cell(m, page_context_str(pg, j, "attnbench_version"));
    page_binding(pg, j, buf, sizeof buf);
    cell(m, buf);
    cell(m, page_context_str(pg, j, "cache_mode"));
    fprintf(m->f, " %zu%s |\n", page_input_cases(pg, j), pg->in[j].interrupted ? " (interrupted run)" : "");
  }
}

/* Lines as columns, lq as rows: the numbers each panel of the page plots. */
static void panel_table(md *m, const page_panel *pn) {
  const page *pg = m->pg;
  char sub[64], made[256];
  page_panel_title(pn, sub, sizeof sub);
  page_made_by(pg, pn->input, made, sizeof made);
  fputs("\n#### GFLOP/s, ", m->f);
  textf(m, "%s, from %s (%s)", sub, pg->in[pn->input].path, made);
  fputs("\n\n| lq |", m->f);
  for (size_t s = 0; s < pn->nseries; s++) cell(m, pn->series[s].label);
  for (size_t r = 0; r < pn->nroofs; r++) cell(m, pn->roofs[r].label);
  if (pn->peak > 0) cell(m, "FMA peak (context)");
  fputs("\n|---:|", m->f);
  for (size_t s = 0; s < pn->nseries + pn->nroofs + (pn->peak > 0); s++) fputs("---:|", m->f);
  fputc('\n', m->f);
  /* Every lq of the panel once, ascending: a merge of the sorted series. */
  double lq = -INFINITY;
  for (;;) {
    double next = INFINITY;
    for (size_t s = 0; s < pn->nseries; s++)
      for (size_t k = 0; k < pn->series[s].n; k++)
        if (pn->series[s].pts[k].lq > lq && pn->series[s].pts[k].lq < next) next = pn->series[s].pts[k].lq;
    if (isinf(next)) break;
    lq = next;
    fprintf(m->f, "| %.0f |", lq);
    for (size_t s = 0; s < pn->nseries + pn->nroofs; s++) {
      const page_series *se = s < pn->nseries ? &pn->series[s] : &pn->roofs[s - pn->nseries];
      double y = NAN;
      for (size_t k = 0; k < se->n; k++)
        if (se->pts[k].lq == lq) y = se->pts[k].y;
      number_cell(m, "%.1f", y);
    }
    if (pn->peak > 0) number_cell(m, "%.1f", pn->peak);
    fputc('\n', m->f);
  }
}

static void machine_section(md *m, size_t k) {
  const page *pg = m->pg;
  char label[512];
  page_machine_label(pg, k, label, sizeof label);
  fprintf(m->f, "\n## Machine %zu: ", k + 1);
  text(m, label);
  fputc('\n', m->f);
  machine_context(m, k);
  int any = 0;
  for (size_t p = 0; p < pg->npanels; p++) {
    if (pg->machine_of[pg->panels[p].input] != k) continue;
    if (!any++) fputs("\n### GFLOP/s against sequence length\n", m->f);
    panel_table(m, &pg->panels[p]);
  }
  const strlist *notes = &pg->machines[k].notes;
  if (notes->n) fputc('\n', m->f);
  for (size_t n = 0; n < notes->n; n++) {
    fputs("- ", m->f);
    text(m, notes->items[n]);
    fputc('\n', m->f);
  }
}

static void across(md *m) {
  const page *pg = m->pg;
  fputs("\n## % of each machine's roofline, side by side\n\n", m->f);
  if (pg->nmachines < 2) {
    fputs("One machine only: nothing to set side by side.\n", m->f);
    return;
  }
  if (!pg->ncases) {
    fputs("No case (backend, problem, threads) has a %roof on two machines or more.\n", m->f);
    return;
  }
  fputs("Each case's GFLOP/s as a percentage of its own machine's roofline at the case's thread count, from "
        "each machine's bench files (listed above).\n\n| problem | backend | threads |",
        m->f);
  for (size_t k = 0; k < pg->nmachines; k++) {
    char label[512];
    page_machine_label(pg, k, label, sizeof label);
    fprintf(m->f, " %%roof, machine %zu: ", k + 1);
    text(m, label);
    fputs(" |", m->f);
  }
  fputs("\n|---|---|---:|", m->f);
  for (size_t k = 0; k < pg->nmachines; k++) fputs("---:|", m->f);
  fputc('\n', m->f);
  for (size_t c = 0; c < pg->ncases; c++) {
    const page_case *pc = &pg->cases[c];
    fputs("| ", m->f);
    code(m, pc->problem);
    fputs(" |", m->f);
    cell(m, pc->backend);
    fprintf(m->f, " %d |", pc->threads);
    for (size_t k = 0; k < pg->nmachines; k++) {
      if (isnan(pc->pct[k]))
        fputs(" - |", m->f);
      else if (isfinite(pc->gflops[k]))
        fprintf(m->f, " %.0f%% (%.1f GFLOP/s) |", pc->pct[k], pc->gflops[k]);
      else
        fprintf(m->f, " %.0f%% |", pc->pct[k]);
    }
    fputc('\n', m->f);
  }
}

static void check_section(md *m, size_t k) {
  const page *pg = m->pg;
  const page_checks *pc = &pg->checks[k];
  const size_t i = pc->input;
  char made[256], machine[512];
  page_made_by(pg, i, made, sizeof made);
  page_machine_label(pg, pg->machine_of[i], machine, sizeof machine);
  fputs("\n## Conformance: ", m->f);
  text(m, pg->in[i].path);
  fputs("\n\n", m->f);
  textf(m, "From %s (%s) on machine %zu (%s), %s%s.", pg->in[i].path, made, pg->machine_of[i] + 1, machine,
        pg->in[i].date[0] ? pg->in[i].date : "no date",
        pg->in[i].interrupted ? "; an interrupted run: only the cases done before Ctrl-C" : "");
  fputs(" err/bound per backend, by decade:\n\n| backend | PASSED | FAILED | MISTRUSTED | SKIPPED |", m->f);
  for (int b = 0; b < PAGE_NBUCKETS; b++) cell(m, page_bucket_names[b]);
  fputs(" not finite | max err/bound |\n|---|", m->f);
  for (int c = 0; c < 4 + PAGE_NBUCKETS + 2; c++) fputs("---:|", m->f);
  fputc('\n', m->f);
  for (size_t e = 0; e < pc->nerrs; e++) {
    const page_backend_errs *be = &pc->errs[e];
    fputc('|', m->f);
    cell(m, pg->backends[be->backend_rank]);
    for (int v = 0; v < 4; v++) fprintf(m->f, " %zu |", be->verdicts[v]);
    for (int b = 0; b < PAGE_NBUCKETS; b++) fprintf(m->f, " %zu |", be->buckets[b]);
    fprintf(m->f, " %zu |", be->not_finite);
    number_cell(m, "%.3g", be->max);
    fputc('\n', m->f);
  }
  fputs("\n### Verdicts, FAILED first\n\n", m->f);
  static const char *const cols[] = {"verdict", "backend", "err/bound", "max abs error", "problem", "reason"};
  header(m, cols, 6, 6);
  for (size_t c = 0; c < pc->n; c++) {
    const page_check *ch = &pc->cases[c];
    fputc('|', m->f);
    cell(m, cmp_verdict_name(ch->verdict));
    cell(m, ch->backend);
    number_cell(m, "%.3g", ch->err_bound);
    number_cell(m, "%.3g", ch->max_abs_err);
    fputc(' ', m->f);
    code(m, ch->problem);
    fputs(" | ", m->f);
    text(m, ch->reason ? ch->reason : "");
    if (ch->stage) textf(m, "%sstage %s", ch->reason ? "; " : "", ch->stage);
    if (ch->nonfinite > 0)
      fprintf(m->f, "%s%lld non-finite output(s)", ch->reason || ch->stage ? "; " : "", ch->nonfinite);
    fputs(" |\n", m->f);
  }
}

int page_write_md(FILE *f, void *ctx) {
  md m = {f, ctx, 0};
  inputs(&m);
  for (size_t k = 0; k < m.pg->nmachines; k++) machine_section(&m, k);
  across(&m);
  for (size_t k = 0; k < m.pg->nchecks; k++) check_section(&m, k);
  return m.failed || ferror(f) ? -1 : 0;
}
