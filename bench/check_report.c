/* check's formats. The JSON's context block is bench's (report.c), so that
 * a reader of one kind of result knows the other's machine; JUnit XML is
 * laid out as GitHub Actions' test reporters, GitLab and Jenkins display
 * it: a testsuite per backend, a testcase per problem. */
#include "check_report.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define ERR_BOUND_NOTE                                                                                       \
  "err/bound = the largest |output - reference| / its bound (reference/README.md); above 1 fails"

check_record *check_report_add(check_report *r) {
  if (r->n == r->cap) {
    const size_t cap = r->cap ? 2 * r->cap : 64;
    check_record *records = realloc(r->records, cap * sizeof *records);
    if (!records) return NULL;
    r->records = records;
    r->cap = cap;
  }
  check_record *c = &r->records[r->n++];
  memset(c, 0, sizeof *c);
  return c;
}

void check_report_free(check_report *r) {
  free(r->records);
  r->records = NULL;
  r->n = r->cap = 0;
}

void check_tally_add(check_tally *t, check_verdict v) {
  t->passed += v == CHECK_PASSED;
  t->failed += v == CHECK_FAILED;
  t->skipped += v == CHECK_SKIPPED;
  t->mistrusted += v == CHECK_MISTRUSTED;
}

check_tally check_report_tally(const check_report *r) {
  check_tally t = {0};
  for (size_t i = 0; i < r->n; i++) check_tally_add(&t, r->records[i].verdict);
  return t;
}

const char *check_verdict_name(check_verdict v) {
  switch (v) {
  case CHECK_PASSED: return "PASSED";
  case CHECK_FAILED: return "FAILED";
  case CHECK_SKIPPED: return "SKIPPED";
  case CHECK_MISTRUSTED: return "MISTRUSTED";
  }
  return "?";
}

int check_format_known(const char *f) {
  return !strcmp(f, "table") || !strcmp(f, "csv") || !strcmp(f, "json") || !strcmp(f, "md") ||
         !strcmp(f, "junit");
}

/* ---- text that every format can hold ---- */

/* The length of the UTF-8 sequence at s if it is well formed and a
 * character XML 1.0 allows (no surrogates, no U+FFFE or U+FFFF), else 0. */
static int utf8_char_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  int len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (s[0] >= 0xC2 && s[0] <= 0xDF)
    len = 2;
  else if (s[0] >= 0xE0 && s[0] <= 0xEF)
    len = 3, lo = s[0] == 0xE0 ? 0xA0 : 0x80, hi = s[0] == 0xED ? 0x9F : 0xBF;
  else if (s[0] >= 0xF0 && s[0] <= 0xF4)
    len = 4, lo = s[0] == 0xF0 ? 0x90 : 0x80, hi = s[0] == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (int i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  if (len == 3 && s[0] == 0xEF && s[1] == 0xBF && s[2] >= 0xBE) return 0;
  return len;
}

/* s as one printable line of well-formed UTF-8 in buf (cut to fit): a
 * record may quote a backend's message, and XML 1.0 forbids most control
 * characters outright while JSON strings and Markdown cells must be valid
 * UTF-8 on one line. Anything else becomes '?'. */
static const char *clean_text(const char *s, char *buf, size_t n) {
  snprintf(buf, n, "%s", s ? s : "");
  attn_printable_line(buf);
  for (unsigned char *c = (unsigned char *)buf; *c;) {
    const int len = utf8_char_len(c);
    if (len) {
      c += len;
    } else {
      *c++ = '?';
    }
  }
  return buf;
}

#define CLEAN_LEN 2048

/* ---- the table ---- */

void check_table_header(FILE *f, size_t nproblems, int threads) {
  fprintf(f, "# attnbench check: %zu problem(s), %d thread(s); error bound per reference/README.md\n",
          nproblems, threads);
  fprintf(f, "%-8s %-10s %10s %9s  %s\n", "backend", "verdict", "max_abs", "err/bound", "problem");
}

/* The detail is for a case that did not pass, or for every case when asked. */
static int detail_shown(const check_record *c, int verbose) {
  return c->detail[0] && (verbose || c->verdict == CHECK_FAILED || c->verdict == CHECK_SKIPPED);
}

/* The detail, then what explains non-finite outputs, as the table has them. */
static void detail_text(const check_record *c, char *buf, size_t n) {
  snprintf(buf, n, "(%s)%s%s", c->detail, c->nonfinite_why[0] ? "; " : "", c->nonfinite_why);
}

void check_table_line(FILE *f, const check_record *c, int verbose) {
  const char *verdict = check_verdict_name(c->verdict);
  char detail[CHECK_REASON_LEN] = "";
  if (detail_shown(c, verbose)) detail_text(c, detail, sizeof detail);
  if (c->compared)
    fprintf(f, "%-8s %-10s %10.3g %9.3g  %s", c->backend, verdict, c->max_abs_err, c->err_bound, c->problem);
  else
    fprintf(f, "%-8s %-10s %10s %9s  %s", c->backend, verdict, "-", "-", c->problem);
  fprintf(f, "%s%s\n", detail[0] ? "  " : "", detail);
}

void check_table_summary(FILE *f, const check_tally *t) {
  fprintf(f, "%d passed, %d failed, %d skipped", t->passed, t->failed, t->skipped);
  if (t->mistrusted) fprintf(f, ", %d mistrusted", t->mistrusted);
  fprintf(f, "\n");
}

static void write_table(FILE *f, const check_report *r) {
  check_table_header(f, r->nproblems, r->threads);
  for (size_t i = 0; i < r->n; i++) check_table_line(f, &r->records[i], r->verbose);
  const check_tally t = check_report_tally(r);
  check_table_summary(f, &t);
}

/* ---- csv ---- */

/* RFC 4180: a field holding a comma, a quote or a line break is quoted,
 * its quotes doubled. */
static void csv_field(FILE *f, const char *s, const char *sep) {
  char buf[CLEAN_LEN];
  clean_text(s, buf, sizeof buf);
  if (strpbrk(buf, ",\"\r\n")) {
    fputc('"', f);
    for (const char *c = buf; *c; c++) {
      if (*c == '"') fputc('"', f);
      fputc(*c, f);
    }
    fputc('"', f);
  } else {
    fputs(buf, f);
  }
  fputs(sep, f);
}

/* A number, empty when there is none (not compared, or not finite). */
static void csv_number(FILE *f, int have, double x) {
  if (have && isfinite(x)) fprintf(f, "%.9g", x);
  fputc(',', f);
}

static void csv_int(FILE *f, int have, int64_t x) {
  if (have) fprintf(f, "%lld", (long long)x);
  fputc(',', f);
}

static void case_name(const check_record *c, char *buf, size_t n) {
  snprintf(buf, n, "%s/%s/threads:%d", c->backend, c->problem, c->threads);
}

static void write_csv(FILE *f, const check_report *r) {
  fprintf(f, "backend,problem,threads,name,verdict,max_abs_err,err_bound,worst_row,worst_col,got,want,bound,"
             "stage,nonfinite,reason\n");
  for (size_t i = 0; i < r->n; i++) {
    const check_record *c = &r->records[i];
    char name[ATTN_PROBLEM_STRLEN + 64];
    case_name(c, name, sizeof name);
    csv_field(f, c->backend, ",");
    csv_field(f, c->problem, ",");
    fprintf(f, "%d,", c->threads);
    csv_field(f, name, ",");
    csv_field(f, check_verdict_name(c->verdict), ",");
    csv_number(f, c->compared, c->max_abs_err);
    csv_number(f, c->compared, c->err_bound);
    csv_int(f, c->compared && c->located, c->worst_row);
    csv_int(f, c->compared && c->located, c->worst_col);
    csv_number(f, c->compared, c->got);
    csv_number(f, c->compared, c->want);
    csv_number(f, c->compared, c->bound);
    csv_field(f, c->stage, ",");
    csv_int(f, c->compared, c->nonfinite);
    csv_field(f, c->reason, "\n");
  }
}

/* ---- json ---- */

/* JSON has no inf or NaN: null stands for them, as for a figure not had. */
static json_t *number_json(int have, double x) { return have && isfinite(x) ? json_real(x) : json_null(); }

static json_t *text_json(const char *s) {
  char buf[CLEAN_LEN];
  return json_string(clean_text(s, buf, sizeof buf));
}

static json_t *text_or_null(const char *s) { return s && s[0] ? text_json(s) : json_null(); }

static json_t *worst_json(const check_record *c) {
  if (!c->compared) return json_null();
  json_t *w = json_object();
  json_object_set_new(w, "row", c->located ? json_integer(c->worst_row) : json_null());
  json_object_set_new(w, "col", c->located ? json_integer(c->worst_col) : json_null());
  json_object_set_new(w, "got", number_json(1, c->got));
  json_object_set_new(w, "want", number_json(1, c->want));
  json_object_set_new(w, "bound", number_json(1, c->bound));
  return w;
}

static json_t *record_json(const check_record *c) {
  char name[ATTN_PROBLEM_STRLEN + 64];
  case_name(c, name, sizeof name);
  json_t *j = json_object();
  json_object_set_new(j, "backend", text_json(c->backend));
  json_object_set_new(j, "problem", text_json(c->problem));
  json_object_set_new(j, "name", text_json(name));
  json_object_set_new(j, "threads", json_integer(c->threads));
  json_object_set_new(j, "verdict", json_string(check_verdict_name(c->verdict)));
  json_object_set_new(j, "reason", text_or_null(c->reason));
  json_object_set_new(j, "max_abs_err", number_json(c->compared, c->max_abs_err));
  json_object_set_new(j, "err_bound", number_json(c->compared, c->err_bound));
  json_object_set_new(j, "worst", worst_json(c));
  json_object_set_new(j, "stage", text_or_null(c->stage));
  json_object_set_new(j, "nonfinite", c->compared ? json_integer(c->nonfinite) : json_null());
  return j;
}

/* bench's context (report.c) with what a check adds: the command, its one
 * thread count, the suite. check does not pin its threads. */
static json_t *context_json(const check_report *r) {
  json_t *c = json_object();
  report_context_machine(c, &r->machine, r->date);
  json_object_set_new(c, "command", json_string("check"));
  json_object_set_new(c, "threads", json_integer(r->threads));
  json_object_set_new(c, "suite", text_or_null(r->suite));
  report_context_binding(c, &r->machine, "none", "", "");
  json_object_set_new(c, "interrupted", json_false());
  json_object_set_new(c, "error_bound_convention", json_string(ERR_BOUND_NOTE));
  report_context_roofline(c, r->peak);
  report_context_backends(c, r->backends, r->nbackends);
  return c;
}

static int write_json(FILE *f, const check_report *r) {
  json_t *doc = json_object(), *checks = json_array(), *summary = json_object();
  json_object_set_new(doc, "context", context_json(r));
  for (size_t i = 0; i < r->n; i++) json_array_append_new(checks, record_json(&r->records[i]));
  json_object_set_new(doc, "checks", checks);
  const check_tally t = check_report_tally(r);
  json_object_set_new(summary, "passed", json_integer(t.passed));
  json_object_set_new(summary, "failed", json_integer(t.failed));
  json_object_set_new(summary, "skipped", json_integer(t.skipped));
  json_object_set_new(summary, "mistrusted", json_integer(t.mistrusted));
  json_object_set_new(doc, "summary", summary);
  const int rc = json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(9));
  fputc('\n', f);
  json_decref(doc);
  return rc;
}

/* ---- md ---- */

/* A table cell: one line, its pipes escaped. */
static void md_cell(FILE *f, const char *s) {
  char buf[CLEAN_LEN];
  fputs("| ", f);
  for (const char *c = clean_text(s, buf, sizeof buf); *c; c++) {
    if (*c == '|') fputc('\\', f);
    fputc(*c, f);
  }
  fputc(' ', f);
}

static void write_md(FILE *f, const check_report *r) {
  char machine[REPORT_MACHINE_LINE], buf[CLEAN_LEN];
  report_machine_line(machine, sizeof machine, &r->machine);
  fprintf(f, "attnbench %s, %s, %s\n", ATTNBENCH_VERSION, r->date,
          clean_text(r->machine.hostname, buf, sizeof buf));
  fprintf(f, "machine: %s\n", clean_text(machine, buf, sizeof buf));
  fprintf(f, "check: %zu problem(s)%s%s, %d thread(s); %s\n", r->nproblems, r->suite ? " of suite " : "",
          r->suite ? clean_text(r->suite, buf, sizeof buf) : "", r->threads, ERR_BOUND_NOTE);
  fprintf(f, "\n| backend | verdict | max abs err | err/bound | problem | detail |\n"
             "|---|---|---:|---:|---|---|\n");
  for (size_t i = 0; i < r->n; i++) {
    const check_record *c = &r->records[i];
    char err[32] = "-", ratio[32] = "-";
    if (c->compared) {
      snprintf(err, sizeof err, "%.3g", c->max_abs_err);
      snprintf(ratio, sizeof ratio, "%.3g", c->err_bound);
    }
    md_cell(f, c->backend);
    md_cell(f, check_verdict_name(c->verdict));
    md_cell(f, err);
    md_cell(f, ratio);
    md_cell(f, c->problem);
    char detail[CHECK_REASON_LEN] = "";
    if (detail_shown(c, r->verbose)) detail_text(c, detail, sizeof detail);
    md_cell(f, detail);
    fputs("|\n", f);
  }
  const check_tally t = check_report_tally(r);
  fputc('\n', f);
  check_table_summary(f, &t);
}

/* ---- junit ---- */

/* Text for an attribute value or element content: the five special
 * characters as entities, the rest as clean_text leaves it. */
static void xml_text(FILE *f, const char *s) {
  char buf[CLEAN_LEN];
  for (const char *c = clean_text(s, buf, sizeof buf); *c; c++) {
    switch (*c) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default: fputc(*c, f);
    }
  }
}

static void xml_property(FILE *f, const char *name, const char *value) {
  fputs("      <property name=\"", f);
  xml_text(f, name);
  fputs("\" value=\"", f);
  xml_text(f, value);
  fputs("\"/>\n", f);
}

static void emit_property(void *ctx, const char *key, const char *value) {
  char name[256];
  snprintf(name, sizeof name, "backend.%s", key);
  xml_property(ctx, name, value);
}

static void junit_properties(FILE *f, const check_report *r, const attn_backend *be) {
  char machine[REPORT_MACHINE_LINE], threads[16];
  report_machine_line(machine, sizeof machine, &r->machine);
  snprintf(threads, sizeof threads, "%d", r->threads);
  fputs("    <properties>\n", f);
  xml_property(f, "machine", machine);
  xml_property(f, "host_name", r->machine.hostname);
  xml_property(f, "threads", threads);
  xml_property(f, "attnbench_version", ATTNBENCH_VERSION);
  if (r->suite) xml_property(f, "suite", r->suite);
  xml_property(f, "backend.summary", be->summary);
  if (be->describe) be->describe(emit_property, f);
  fputs("    </properties>\n", f);
}

/* The line a CI summary shows for a case that did not pass. */
static void junit_message(const check_record *c, char *buf, size_t n) {
  if (c->verdict == CHECK_SKIPPED) {
    snprintf(buf, n, "declined: %s", c->reason);
  } else if (c->verdict == CHECK_MISTRUSTED) {
    snprintf(buf, n, "MISTRUSTED: %s (max abs err %.3g, err/bound %.3g)", c->reason, c->max_abs_err,
             c->err_bound);
  } else if (!c->compared) {
    snprintf(buf, n, "%s", c->reason);
  } else {
    char where[64];
    if (c->located)
      snprintf(where, sizeof where, "at row %lld col %lld", (long long)c->worst_row, (long long)c->worst_col);
    else
      snprintf(where, sizeof where, "in the %s", c->stage);
    snprintf(buf, n, "err/bound %.3g (max abs err %.3g, bound %.3g) %s%s", c->err_bound, c->max_abs_err,
             c->bound, where, c->nonfinite ? ", non-finite outputs" : "");
  }
}

/* A FAILED case: the message, and in the body the detail and the command
 * that reproduces it. */
static void junit_failure(FILE *f, const check_record *c, const char *message) {
  char detail[CHECK_REASON_LEN];
  detail_text(c, detail, sizeof detail);
  fputs("      <failure message=\"", f);
  xml_text(f, message);
  fputs("\" type=\"FAILED\">", f);
  xml_text(f, detail);
  fputs("\nreproduce: attnbench check --backend ", f);
  xml_text(f, c->backend);
  fprintf(f, " --threads %d --problem '", c->threads);
  xml_text(f, c->problem);
  fputs("'</failure>\n", f);
}

/* A mistrusted case proved nothing, which is no pass; nor does check fail
 * for it (exit 0), so neither does the CI: it is shown as skipped, its
 * message saying MISTRUSTED. */
static void junit_case(FILE *f, const check_record *c) {
  char message[CHECK_REASON_LEN + 128];
  fputs("    <testcase classname=\"attnbench.check.", f);
  xml_text(f, c->backend);
  fputs("\" name=\"", f);
  xml_text(f, c->problem);
  fprintf(f, "\" time=\"%.6f\"", c->seconds);
  if (c->verdict == CHECK_PASSED) {
    fputs("/>\n", f);
    return;
  }
  junit_message(c, message, sizeof message);
  fputs(">\n", f);
  if (c->verdict == CHECK_FAILED) {
    junit_failure(f, c, message);
  } else {
    fputs("      <skipped message=\"", f);
    xml_text(f, message);
    fputs("\"/>\n", f);
  }
  fputs("    </testcase>\n", f);
}

/* The counts of a testsuite (be) or of all of them (NULL). */
static void junit_counts(FILE *f, const check_report *r, const char *be) {
  check_tally t = {0};
  double seconds = 0;
  for (size_t i = 0; i < r->n; i++)
    if (!be || !strcmp(r->records[i].backend, be)) {
      check_tally_add(&t, r->records[i].verdict);
      seconds += r->records[i].seconds;
    }
  fprintf(f, " tests=\"%d\" failures=\"%d\" skipped=\"%d\" errors=\"0\" time=\"%.6f\"",
          t.passed + t.failed + t.skipped + t.mistrusted, t.failed, t.skipped + t.mistrusted, seconds);
}

static void write_junit(FILE *f, const check_report *r) {
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"attnbench check\"", f);
  junit_counts(f, r, NULL);
  fputs(">\n", f);
  for (int b = 0; b < r->nbackends; b++) {
    const char *name = r->backends[b]->name;
    fputs("  <testsuite name=\"", f);
    xml_text(f, name);
    fputc('"', f);
    junit_counts(f, r, name);
    fputs(" timestamp=\"", f);
    xml_text(f, r->date);
    fputs("\" hostname=\"", f);
    xml_text(f, r->machine.hostname);
    fputs("\">\n", f);
    junit_properties(f, r, r->backends[b]);
    for (size_t i = 0; i < r->n; i++)
      if (!strcmp(r->records[i].backend, name)) junit_case(f, &r->records[i]);
    fputs("  </testsuite>\n", f);
  }
  fputs("</testsuites>\n", f);
}

int check_report_write(FILE *f, const check_report *r, const char *format) {
  if (!strcmp(format, "json")) return write_json(f, r) ? -1 : 0;
  if (!strcmp(format, "csv"))
    write_csv(f, r);
  else if (!strcmp(format, "md"))
    write_md(f, r);
  else if (!strcmp(format, "junit"))
    write_junit(f, r);
  else
    write_table(f, r);
  return ferror(f) ? -1 : 0;
}
