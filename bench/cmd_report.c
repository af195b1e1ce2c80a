/* attnbench report: one page from any mix of bench and check results, from
 * one machine or several. The page is self-contained (plots drawn here as
 * inline SVG) so that reading it needs a browser and nothing else. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "report_page.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: attnbench report FILE.json... [--out FILE] [--format html|md]\n"
          "One page from results of `attnbench bench --format json` and `attnbench check --format json`,\n"
          "grouped by machine (host name and CPU model): per machine its context and roofline and, per\n"
          "bench file, GFLOP/s against lq (a panel per head dim and mask, a line per backend and thread\n"
          "count, the roofline dashed); each case's %%roof side by side across machines; per check file the\n"
          "err/bound of every case per backend and the verdicts, FAILED first.\n"
          "--format html (default): a self-contained page, inline SVG plots, nothing fetched;\n"
          "--format md: the same sections as Markdown tables, without plots.\n"
          "Without --out the page goes to stdout; --out is replaced atomically.\n"
          "Exit status: 0 written, 2 unusable input (a file that is neither kind, or contradicts itself).\n");
}

typedef struct report_opts {
  const char *out, *format;
} report_opts;

/* 0, 1 for --help, -1 (reported) for a usage error. */
static int parse_opts(int argc, char **argv, report_opts *o) {
  static const struct option longopts[] = {{"out", required_argument, 0, 'o'},
                                           {"format", required_argument, 0, 'f'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
    case 'o': o->out = optarg; break;
    case 'f':
      if (strcmp(optarg, "html") && strcmp(optarg, "md")) {
        bench_error("report: --format: '%s' is not html or md", optarg);
        return -1;
      }
      o->format = optarg;
      break;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return -1;
    }
  }
  if (optind == argc) {
    bench_error("report: want at least one result file (bench or check --format json; see attnbench report "
                "--help)");
    return -1;
  }
  return 0;
}

/* --out must not be one of the results it is made from. */
static int out_is_no_input(const char *out, char *const *paths, size_t n) {
  bench_file_arg *in = calloc(n, sizeof *in);
  char err[ERRLEN + 2 * 4096];
  if (!in) {
    bench_error("report: out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) in[i] = (bench_file_arg){"input", paths[i]};
  const int rc = bench_out_not_input("--out", out, in, n, err, sizeof err);
  free(in);
  if (rc) {
    attn_printable_line(err);
    bench_error("report: %s", err);
  }
  return rc;
}

static int write_page(page *pg, const report_opts *o) {
  int (*write_fn)(FILE *, void *) = strcmp(o->format, "md") ? page_write_html : page_write_md;
  char err[ERRLEN + 4096];
  if (o->out) {
    if (bench_write_atomic(o->out, write_fn, pg, err, sizeof err) == 0) return 0;
    attn_printable_line(err);
    bench_error("report: %s", err);
    return -1;
  }
  if (write_fn(stdout, pg) == 0 && fflush(stdout) == 0) return 0;
  bench_error("report: writing the page to stdout failed");
  return -1;
}

int cmd_report(int argc, char **argv) {
  report_opts o = {.format = "html"};
  const int rc = parse_opts(argc, argv, &o);
  if (rc) return rc > 0 ? 0 : 2;
  char *const *paths = argv + optind;
  const size_t n = (size_t)(argc - optind);
  if (o.out && out_is_no_input(o.out, paths, n)) return 2;
  page pg;
  char err[ERRLEN + 4096];
  if (page_build(&pg, paths, n, err, sizeof err)) {
    bench_error("report: %s", err);
    page_free(&pg);
    return 2;
  }
  const int written = write_page(&pg, &o);
  page_free(&pg);
  return written ? 2 : 0;
}
