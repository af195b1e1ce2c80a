/* check's writers on hand-made records: a failure, a decline, a mistrusted
 * case, a staged op and a non-finite one, whose texts hold XML's special
 * characters, control characters and bytes that are not UTF-8. The command
 * cannot be made to fail a case (no backend fails the suites), so the
 * FAILED paths of every format are held to here. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_report.h"

/* Outside text reaches a record only through messages; this one has every
 * kind of character the writers must not pass through as it is. */
#define HOSTILE "a<b & c>\"d\" 'e' tab\there nl\nbell\x07 del\x7f c1\xc2\x85 bad\xff end"

static void describe_hostile(attn_emit_fn emit, void *ctx) { emit(ctx, "library", "v1 <&> \"x\"\x01"); }

static const attn_backend naive = {.name = "naive", .summary = "the floor"};
static const attn_backend other = {.name = "other", .summary = "a backend <&>", .describe = describe_hostile};
static const attn_backend *backends[] = {&naive, &other};

static check_record *add(check_report *r, const char *backend, const char *problem, check_verdict v) {
  check_record *c = check_report_add(r);
  cr_assert_not_null(c);
  snprintf(c->backend, sizeof c->backend, "%s", backend);
  snprintf(c->problem, sizeof c->problem, "%s", problem);
  c->threads = 2;
  c->verdict = v;
  c->seconds = 0.25;
  return c;
}

/* A compared case whose worst element, at (row, col), is off by err. */
static void located(check_record *c, double err, double bound, int64_t row, int64_t col) {
  c->compared = c->located = 1;
  c->max_abs_err = err;
  c->err_bound = err / bound;
  c->worst_row = row;
  c->worst_col = col;
  c->got = 1.5;
  c->want = 1.5 - err;
  c->bound = bound;
}

#define P1 "b=1,h=1,hkv=1,lq=4,lk=4,d=8,dv=8,mask=none"
#define P2 "b=1,h=2,hkv=2,lq=5,lk=9,d=8,dv=8,mask=causal"
#define P3 "op=mha,b=1,h=2,hkv=2,lq=3,lk=3,d=4,dv=4,dm=8,mask=none"

/* Six records over two backends: naive passes P1, fails P2 (err/bound 3.2)
 * and fails P3 without a figure; other declines P1 (hostile reason), is
 * mistrusted on P2 and fails P3 in a stage with non-finite outputs. */
static void fill(check_report *r) {
  memset(r, 0, sizeof *r);
  snprintf(r->date, sizeof r->date, "2026-01-02T03:04:05Z");
  snprintf(r->machine.hostname, sizeof r->machine.hostname, "host<1>");
  snprintf(r->machine.cpu_model, sizeof r->machine.cpu_model, "Test CPU & co");
  r->machine.cores = r->machine.pus = 2;
  r->threads = 2;
  r->suite = "quick";
  r->nproblems = 3;
  r->backends = backends;
  r->nbackends = 2;
  check_record *c = add(r, "naive", P1, CHECK_PASSED);
  located(c, 1e-7, 2e-7, 0, 3);
  snprintf(c->detail, sizeof c->detail, "worst at row 0 col 3: got 1.5 want 1.5 bound 2e-07");
  c = add(r, "other", P1, CHECK_SKIPPED);
  snprintf(c->reason, sizeof c->reason, "%s", HOSTILE);
  snprintf(c->detail, sizeof c->detail, "declined: %s", HOSTILE);
  c = add(r, "naive", P2, CHECK_FAILED);
  located(c, 0.00096, 0.0003, 4, 7);
  snprintf(c->detail, sizeof c->detail, "worst at row 4 col 7: got 1.5 want 1.49904 bound 0.0003");
  snprintf(c->reason, sizeof c->reason, "%s", c->detail);
  c = add(r, "other", P2, CHECK_MISTRUSTED);
  located(c, 0, 1e-7, 0, 0);
  snprintf(c->reason, sizeof c->reason, CHECK_MISTRUSTED_REASON);
  snprintf(c->detail, sizeof c->detail, "worst at row 0 col 0: got 0 want 0 bound 1e-07");
  c = add(r, "naive", P3, CHECK_FAILED);
  snprintf(c->reason, sizeof c->reason, "run: backend error");
  snprintf(c->detail, sizeof c->detail, "run: backend error");
  c = add(r, "other", P3, CHECK_FAILED);
  c->compared = 1;
  c->max_abs_err = c->err_bound = INFINITY;
  c->got = NAN, c->want = 0.25, c->bound = 1e-6;
  c->nonfinite = 3;
  snprintf(c->stage, sizeof c->stage, "V projection");
  snprintf(c->detail, sizeof c->detail,
           "worst in the V projection: got nan want 0.25 bound 1e-06, non-finite outputs");
  snprintf(c->reason, sizeof c->reason, "%s", c->detail);
}

/* The report in format, as a string to free. */
static char *written(const check_report *r, const char *format) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  cr_assert_eq(check_report_write(f, r, format), 0, "%s", format);
  cr_assert_eq(fclose(f), 0);
  return buf;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *at = s; (at = strstr(at, needle)); at += strlen(needle)) n++;
  return n;
}

/* No control character but a newline, no DEL, no C1 control, every byte
 * part of well-formed UTF-8 (XML 1.0 forbids the first, no parser takes
 * the last). */
static void expect_clean(const char *s, const char *format) {
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    cr_expect(*c >= 0x20 || *c == '\n', "%s: control byte 0x%02x at %td", format, *c, (const char *)c - s);
    cr_expect(*c != 0x7f, "%s: DEL at %td", format, (const char *)c - s);
    cr_expect(*c < 0x80, "%s: byte 0x%02x at %td: the hostile text has no valid non-ASCII character", format,
              *c, (const char *)c - s);
  }
}

Test(check_report, tally_counts_every_verdict) {
  check_report r;
  fill(&r);
  const check_tally t = check_report_tally(&r);
  cr_expect_eq(t.passed, 1);
  cr_expect_eq(t.failed, 3);
  cr_expect_eq(t.skipped, 1);
  cr_expect_eq(t.mistrusted, 1);
  check_report_free(&r);
}

Test(check_report, formats_known) {
  const char *known[] = {"table", "csv", "json", "md", "junit"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    cr_expect(check_format_known(known[i]), "%s", known[i]);
  cr_expect_not(check_format_known("xml"));
  cr_expect_not(check_format_known("JSON"));
  cr_expect_not(check_format_known(""));
}

Test(check_report, table_lines) {
  check_report r;
  fill(&r);
  char *s = written(&r, "table");
  /* The columns check has always printed; a passed case's detail only when verbose. */
  cr_expect(strstr(s, "# attnbench check: 3 problem(s), 2 thread(s); error bound per reference/README.md\n"),
            "%s", s);
  cr_expect(strstr(s, "naive    PASSED          1e-07       0.5  " P1 "\n"), "%s", s);
  cr_expect(strstr(s, "naive    FAILED        0.00096       3.2  " P2
                      "  (worst at row 4 col 7: got 1.5 want 1.49904 bound 0.0003)\n"),
            "%s", s);
  cr_expect(strstr(s, "naive    FAILED              -         -  " P3 "  (run: backend error)\n"), "%s", s);
  cr_expect(strstr(s, "other    MISTRUSTED          0         0  " P2 "\n"), "%s", s);
  cr_expect(strstr(s, "\n1 passed, 3 failed, 1 skipped, 1 mistrusted\n"), "%s", s);
  free(s);
  r.verbose = 1;
  s = written(&r, "table");
  cr_expect(strstr(s, P1 "  (worst at row 0 col 3: got 1.5 want 1.5 bound 2e-07)\n"), "%s", s);
  free(s);
  check_report_free(&r);
}

Test(check_report, junit_counts_and_messages) {
  check_report r;
  fill(&r);
  char *s = written(&r, "junit");
  expect_clean(s, "junit");
  cr_expect(
      strstr(s, "<testsuites name=\"attnbench check\" tests=\"6\" failures=\"3\" skipped=\"2\" errors=\"0\""),
      "%s", s);
  cr_expect(strstr(s, "<testsuite name=\"naive\" tests=\"3\" failures=\"2\" skipped=\"0\" errors=\"0\" "
                      "time=\"0.750000\""),
            "%s", s);
  cr_expect(strstr(s, "<testsuite name=\"other\" tests=\"3\" failures=\"1\" skipped=\"2\" errors=\"0\""),
            "%s", s);
  cr_expect(strstr(s, "<testcase classname=\"attnbench.check.naive\" name=\"" P1 "\" time=\"0.250000\"/>"),
            "%s", s);
  /* The message CI shows: err/bound, max abs err, bound, where. */
  cr_expect(strstr(s, "<failure message=\"err/bound 3.2 (max abs err 0.00096, bound 0.0003) at row 4 col 7\" "
                      "type=\"FAILED\">(worst at row 4 col 7"),
            "%s", s);
  cr_expect(strstr(s, "reproduce: attnbench check --backend naive --threads 2 --problem '" P2 "'</failure>"),
            "%s", s);
  cr_expect(strstr(s, "<failure message=\"run: backend error\" type=\"FAILED\">"), "%s", s);
  cr_expect(strstr(s, "<failure message=\"err/bound inf (max abs err inf, bound 1e-06) in the V projection, "
                      "non-finite outputs\""),
            "%s", s);
  /* Mistrusted proved nothing: skipped, saying so. */
  cr_expect(strstr(s, "<skipped message=\"MISTRUSTED: " CHECK_MISTRUSTED_REASON), "%s", s);
  /* The decline, escaped: entities for the five, '?' for what XML 1.0 cannot hold. */
  cr_expect(
      strstr(s,
             "<skipped message=\"declined: a&lt;b &amp; c&gt;&quot;d&quot; &apos;e&apos; tab?here nl?bell? "
             "del? c1?? bad? end\"/>"),
      "%s", s);
  cr_expect(strstr(s, "<property name=\"backend.library\" value=\"v1 &lt;&amp;&gt; &quot;x&quot;?\"/>"), "%s",
            s);
  cr_expect(strstr(s, "<property name=\"threads\" value=\"2\"/>"), "%s", s);
  cr_expect(strstr(s, "<property name=\"machine\" value=\"Test CPU &amp; co; "), "%s", s);
  cr_expect(strstr(s, "hostname=\"host&lt;1&gt;\""), "%s", s);
  cr_expect_eq(count(s, "<testcase "), 6);
  cr_expect_eq(count(s, "<properties>"), 2);
  free(s);
  check_report_free(&r);
}

Test(check_report, json_records_and_nulls) {
  check_report r;
  fill(&r);
  char *s = written(&r, "json");
  json_error_t e;
  json_t *doc = json_loads(s, 0, &e);
  cr_assert_not_null(doc, "%s: %s", e.text, s);
  json_t *checks = json_object_get(doc, "checks"), *ctx = json_object_get(doc, "context");
  cr_assert_eq(json_array_size(checks), 6);
  cr_expect_str_eq(json_string_value(json_object_get(ctx, "command")), "check");
  cr_expect_eq(json_integer_value(json_object_get(ctx, "threads")), 2);
  cr_expect_str_eq(json_string_value(json_object_get(ctx, "suite")), "quick");
  cr_expect(json_is_false(json_object_get(ctx, "interrupted")));
  cr_expect_str_eq(json_string_value(json_object_get(ctx, "host_name")), "host<1>");
  cr_expect_not_null(json_object_get(json_object_get(ctx, "backends"), "other"));
  json_t *failed = json_array_get(checks, 2);
  cr_expect_str_eq(json_string_value(json_object_get(failed, "name")), "naive/" P2 "/threads:2");
  cr_expect_str_eq(json_string_value(json_object_get(failed, "verdict")), "FAILED");
  cr_expect_float_eq(json_real_value(json_object_get(failed, "err_bound")), 3.2, 1e-12);
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(failed, "worst"), "row")), 4);
  cr_expect_eq(json_integer_value(json_object_get(json_object_get(failed, "worst"), "col")), 7);
  cr_expect(json_is_null(json_object_get(failed, "stage")));
  /* Not run: every figure null. */
  json_t *declined = json_array_get(checks, 1);
  cr_expect_str_eq(json_string_value(json_object_get(declined, "verdict")), "SKIPPED");
  cr_expect_str_eq(json_string_value(json_object_get(declined, "reason")),
                   "a<b & c>\"d\" 'e' tab?here nl?bell? del? c1?? bad? end");
  const char *figures[] = {"max_abs_err", "err_bound", "worst", "stage", "nonfinite"};
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
    cr_expect(json_is_null(json_object_get(declined, figures[i])), "%s", figures[i]);
  cr_expect(json_is_null(json_object_get(json_array_get(checks, 0), "reason")));
  /* JSON has no inf or NaN; a staged op's worst element has no row. */
  json_t *staged = json_array_get(checks, 5);
  cr_expect(json_is_null(json_object_get(staged, "err_bound")));
  cr_expect(json_is_null(json_object_get(staged, "max_abs_err")));
  cr_expect(json_is_null(json_object_get(json_object_get(staged, "worst"), "got")));
  cr_expect(json_is_null(json_object_get(json_object_get(staged, "worst"), "row")));
  cr_expect_float_eq(json_real_value(json_object_get(json_object_get(staged, "worst"), "want")), 0.25, 0);
  cr_expect_str_eq(json_string_value(json_object_get(staged, "stage")), "V projection");
  cr_expect_eq(json_integer_value(json_object_get(staged, "nonfinite")), 3);
  cr_expect(strstr(json_string_value(json_object_get(staged, "reason")), "non-finite"));
  json_t *sum = json_object_get(doc, "summary");
  cr_expect_eq(json_integer_value(json_object_get(sum, "passed")), 1);
  cr_expect_eq(json_integer_value(json_object_get(sum, "failed")), 3);
  cr_expect_eq(json_integer_value(json_object_get(sum, "skipped")), 1);
  cr_expect_eq(json_integer_value(json_object_get(sum, "mistrusted")), 1);
  json_decref(doc);
  free(s);
  check_report_free(&r);
}

Test(check_report, csv_quoting) {
  check_report r;
  fill(&r);
  char *s = written(&r, "csv");
  expect_clean(s, "csv");
  cr_expect_eq(count(s, "\n"), 7, "%s", s);
  const char *header = "backend,problem,threads,name,verdict,max_abs_err,err_bound,worst_row,worst_col,got,"
                       "want,bound,stage,nonfinite,reason\n";
  cr_expect(!strncmp(s, header, strlen(header)), "%s", s);
  /* Commas quoted, quotes doubled; no figure is empty, none written. */
  cr_expect(strstr(s, "\nnaive,\"" P2 "\",2,\"naive/" P2
                      "/threads:2\",FAILED,0.00096,3.2,4,7,1.5,1.49904,0.0003,,0,"),
            "%s", s);
  cr_expect(
      strstr(s, "\nother,\"" P1 "\",2,\"other/" P1 "/threads:2\",SKIPPED,,,,,,,,,,\"a<b & c>\"\"d\"\" 'e' "),
      "%s", s);
  cr_expect(
      strstr(s, "\nother,\"" P3 "\",2,\"other/" P3 "/threads:2\",FAILED,,,,,,0.25,1e-06,V projection,3,"),
      "%s", s);
  free(s);
  check_report_free(&r);
}

Test(check_report, md_table) {
  check_report r;
  fill(&r);
  char *s = written(&r, "md");
  expect_clean(s, "md");
  cr_expect(strstr(s, "\n| backend | verdict | max abs err | err/bound | problem | detail "
                      "|\n|---|---|---:|---:|---|---|\n"),
            "%s", s);
  cr_expect(strstr(s, "| naive | FAILED | 0.00096 | 3.2 | " P2
                      " | (worst at row 4 col 7: got 1.5 want 1.49904 bound "
                      "0.0003) |\n"),
            "%s", s);
  cr_expect(strstr(s, "| naive | PASSED | 1e-07 | 0.5 | " P1 " |  |\n"), "%s", s);
  cr_expect_eq(count(s, "\n| "), 7, "%s", s);
  cr_expect(strstr(s, "\n1 passed, 3 failed, 1 skipped, 1 mistrusted\n"), "%s", s);
  free(s);
  /* A pipe in a cell is escaped, or it would split the cell. */
  snprintf(r.records[1].detail, sizeof r.records[1].detail, "declined: a|b");
  s = written(&r, "md");
  cr_expect(strstr(s, "| (declined: a\\|b) |\n"), "%s", s);
  free(s);
  check_report_free(&r);
}
