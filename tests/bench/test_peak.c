/* The roofline cache: what is written is read back, a file from another
 * machine or a damaged one is ignored with a reason and never crashes, the
 * roofline is the lesser of its two bounds, and the peak loops do the work
 * they are credited with. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attnbench/cpu.h"
#include "harness.h"
#include "peak.h"
#include "peak_kernels.h"

/* A scratch directory per test; Criterion runs each test in its own process,
 * so the environment set here does not leak into the next test. */
static char dir[64];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/attnbench-peak-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_expect_eq(system(cmd), 0);
}

TestSuite(peak, .init = make_dir, .fini = remove_dir);

static const bench_peak_key key_a = {"Test CPU 9000", 4, "sse4.2 avx avx2 fma"};

/* Three points, bandwidth saturating at two threads. */
static bench_peak hand_peak(void) {
  bench_peak pk;
  memset(&pk, 0, sizeof pk);
  pk.key = key_a;
  snprintf(pk.measured, sizeof pk.measured, "2024-01-02T03:04:05Z");
  pk.pinned = 1;
  pk.npoints = 3;
  pk.points[0] = (bench_peak_point){.threads = 1, .fma_gflops = {100, 200}, .read_gbs = 20};
  pk.points[1] = (bench_peak_point){.threads = 2, .fma_gflops = {200, 400}, .read_gbs = 30};
  /* 4 * (0.1 + 0.2) needs all 17 digits, and is a plausible 0.3 per thread. */
  pk.points[2] = (bench_peak_point){.threads = 4, .fma_gflops = {400.125, 4 * (0.1 + 0.2)}, .read_gbs = 30};
  return pk;
}

static void path_in_dir(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
}

Test(peak, round_trip_through_the_file) {
  char path[256], err[ERRLEN] = "";
  /* The parent directories do not exist yet: save makes them. */
  path_in_dir(path, sizeof path, "a/b/peak.json");
  const bench_peak pk = hand_peak();
  cr_assert_eq(bench_peak_save(path, &pk, err, sizeof err), 0, "%s", err);
  bench_peak got;
  cr_assert_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(got.key.cpu_model, key_a.cpu_model);
  cr_expect_eq(got.key.cores, key_a.cores);
  cr_expect_str_eq(got.key.isa, key_a.isa);
  cr_expect_str_eq(got.measured, pk.measured);
  cr_expect_eq(got.pinned, 1);
  cr_assert_eq(got.npoints, pk.npoints);
  for (int i = 0; i < pk.npoints; i++) {
    cr_expect_eq(got.points[i].threads, pk.points[i].threads);
    cr_expect_eq(got.points[i].read_gbs, pk.points[i].read_gbs);
    /* Exact: the file keeps every double's 17 digits. */
    for (int k = 0; k < BENCH_PEAK_NISA; k++)
      cr_expect_eq(got.points[i].fma_gflops[k], pk.points[i].fma_gflops[k], "point %d isa %s", i,
                   bench_peak_isa_name(k));
  }
  /* No temporary file is left beside it. */
  char listing[512];
  snprintf(listing, sizeof listing, "test \"$(ls -A '%s/a/b')\" = peak.json", dir);
  cr_expect_eq(system(listing), 0);
}

Test(peak, missing_file_is_not_an_error) {
  char path[256], err[ERRLEN] = "";
  path_in_dir(path, sizeof path, "nothing.json");
  bench_peak got;
  cr_expect_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), 1);
  cr_expect_eq(got.npoints, 0);
}

/* Each difference in the key is named. */
Test(peak, file_of_another_machine_is_ignored) {
  char path[256], err[ERRLEN];
  path_in_dir(path, sizeof path, "peak.json");
  const bench_peak pk = hand_peak();
  cr_assert_eq(bench_peak_save(path, &pk, err, sizeof err), 0, "%s", err);
  const struct {
    bench_peak_key key;
    const char *needle;
  } others[] = {
      {{"Test CPU 9001", 4, "sse4.2 avx avx2 fma"}, "another CPU"},
      {{"Test CPU 9000", 8, "sse4.2 avx avx2 fma"}, "cores"},
      {{"Test CPU 9000", 4, "sse4.2 avx avx2 fma avx512f"}, "ISA"},
  };
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    bench_peak got;
    err[0] = 0;
    cr_expect_eq(bench_peak_read(path, &others[i].key, &got, err, sizeof err), -1, "case %zu accepted", i);
    cr_expect(strstr(err, others[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err, others[i].needle);
    cr_expect_eq(got.npoints, 0, "case %zu left values behind", i);
    cr_expect_eq(bench_roofline_gflops(&got, "avx2", 1, 1e9, 1e6), 0);
  }
}

Test(peak, corrupt_files_are_ignored_without_crash) {
  const char *bodies[] = {
      "",
      "\x01\x02\xff\xfe garbage",
      "{\"version\": 1, \"machine\": {\"cpu_model\": \"Test CPU 9000\"",
      "[1, 2, 3]",
      "{\"version\": 2}",
      "{\"version\": 1}",
      "{\"version\": 1, \"machine\": 7, \"points\": []}",
      "{\"version\": 1, \"machine\": {\"cpu_model\": \"Test CPU 9000\", \"cores\": \"4\", \"isa\": \"x\"}}",
  };
  /* Well-formed JSON around a bad points array. */
  const char *points[] = {
      "[]",
      "{}",
      "[7]",
      "[{\"threads\": 1, \"read_gbs\": 20}]",
      "[{\"threads\": 0, \"read_gbs\": 20, \"fma_gflops\": {}}]",
      ("[{\"threads\": 2, \"read_gbs\": 20, \"fma_gflops\": {}}, "
       "{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {}}]"),
      "[{\"threads\": 1, \"read_gbs\": -1, \"fma_gflops\": {}}]",
      "[{\"threads\": 1, \"read_gbs\": \"fast\", \"fma_gflops\": {}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": -5}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx512\": null}}]",
      "[{\"threads\": 1e3, \"read_gbs\": 20, \"fma_gflops\": {}}]",
  };
  char path[256], text[1024], err[ERRLEN];
  path_in_dir(path, sizeof path, "peak.json");
  const size_t nb = sizeof bodies / sizeof bodies[0], np = sizeof points / sizeof points[0];
  for (size_t i = 0; i < nb + np; i++) {
    if (i < nb)
      snprintf(text, sizeof text, "%s", bodies[i]);
    else
      snprintf(text, sizeof text,
               "{\"version\": 1, \"machine\": {\"cpu_model\": \"Test CPU 9000\", \"cores\": 4, "
               "\"isa\": \"sse4.2 avx avx2 fma\"}, \"points\": %s}",
               points[i - nb]);
    write_text(path, text);
    bench_peak got;
    err[0] = 0;
    cr_expect_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), -1, "accepted: %s", text);
    cr_expect_neq(err[0], 0, "no reason given for: %s", text);
    cr_expect_null(strchr(err, '\n'), "reason is not one line: %s", err);
    cr_expect_eq(got.npoints, 0);
  }
  /* A directory where the file should be. */
  cr_expect_eq(bench_peak_read(dir, &key_a, &(bench_peak){0}, err, sizeof err), -1);
  /* Unknown ISAs and fields are a later version's, not damage. */
  write_text(path, "{\"version\": 1, \"machine\": {\"cpu_model\": \"Test CPU 9000\", \"cores\": 4, "
                   "\"isa\": \"sse4.2 avx avx2 fma\"}, \"colour\": \"blue\", \"points\": [{\"threads\": 1, "
                   "\"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 100, \"avx10\": 300}}]}");
  bench_peak got;
  cr_expect_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), 0, "%s", err);
  cr_expect_eq(bench_peak_gflops(&got, NULL, 1), 100);
}

/* bench_peak_load names the file and the reason on one line of stderr, even
 * when the reason quotes a string with a newline from the file, and
 * returns no values. */
Test(peak, load_notes_a_bad_file_on_one_line) {
  char path[256], log[256];
  path_in_dir(path, sizeof path, "peak.json");
  path_in_dir(log, sizeof log, "stderr.txt");
  write_text(path,
             "{\"version\": 1, \"machine\": {\"cpu_model\": \"Two\\nlines\", \"cores\": 1, \"isa\": \"\"}, "
             "\"points\": [{\"threads\": 1, \"read_gbs\": 1, \"fma_gflops\": {}}]}");
  cr_assert_eq(setenv("ATTNBENCH_PEAK_FILE", path, 1), 0);
  cr_assert_not_null(freopen(log, "w", stderr));
  bench_peak got;
  const int rc = bench_peak_load(&got);
  fflush(stderr);
  cr_expect_eq(rc, -1);
  cr_expect_eq(got.npoints, 0);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f);
  char text[2048] = "";
  const size_t len = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  cr_expect(len > 0 && strstr(text, path) && strstr(text, "another CPU"), "stderr: '%s'", text);
  cr_expect(strchr(text, '\n') == text + len - 1, "not one line: '%s'", text);
}

/* This machine's own file loads; no file loads nothing, silently. */
Test(peak, load_round_trip_with_this_machines_key) {
  char path[256], err[ERRLEN];
  path_in_dir(path, sizeof path, "peak.json");
  cr_assert_eq(setenv("ATTNBENCH_PEAK_FILE", path, 1), 0);
  bench_peak pk = hand_peak(), got;
  cr_expect_eq(bench_peak_load(&got), -1);
  bench_peak_key_current(&pk.key);
  cr_assert_eq(bench_peak_save(path, &pk, err, sizeof err), 0, "%s", err);
  cr_assert_eq(bench_peak_load(&got), 0);
  cr_expect_eq(got.npoints, 3);
  cr_expect_eq(bench_peak_gflops(&got, "avx2", 4), 400.125);
}

Test(peak, cache_location) {
  char buf[256];
  cr_assert_eq(setenv("HOME", "/home/u", 1), 0);
  cr_assert_eq(unsetenv("XDG_CACHE_HOME"), 0);
  cr_assert_eq(unsetenv("ATTNBENCH_PEAK_FILE"), 0);
  cr_assert_eq(bench_peak_path(buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "/home/u/.cache/attnbench/peak.json");
  /* The XDG spec ignores a relative XDG_CACHE_HOME. */
  cr_assert_eq(setenv("XDG_CACHE_HOME", "relative/cache", 1), 0);
  cr_assert_eq(bench_peak_path(buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "/home/u/.cache/attnbench/peak.json");
  cr_assert_eq(setenv("XDG_CACHE_HOME", "/var/cache/u", 1), 0);
  cr_assert_eq(bench_peak_path(buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "/var/cache/u/attnbench/peak.json");
  cr_assert_eq(setenv("ATTNBENCH_PEAK_FILE", "/tmp/p.json", 1), 0);
  cr_assert_eq(bench_peak_path(buf, sizeof buf), 0);
  cr_expect_str_eq(buf, "/tmp/p.json");
  cr_assert_eq(unsetenv("ATTNBENCH_PEAK_FILE"), 0);
  cr_assert_eq(unsetenv("XDG_CACHE_HOME"), 0);
  cr_assert_eq(unsetenv("HOME"), 0);
  cr_expect_eq(bench_peak_path(buf, sizeof buf), -1);
}

/* min(peak, intensity * bandwidth) on hand values: 1 thread 200 GFLOP/s
 * avx512 and 20 GB/s, so the ridge is at 10 flop/byte. */
Test(peak, roofline_is_the_lesser_bound) {
  const bench_peak pk = hand_peak();
  /* Compute bound: 1000 flop/byte. */
  cr_expect_eq(bench_roofline_gflops(&pk, "avx512", 1, 1e9, 1e6), 200);
  cr_expect_eq(bench_roofline_gflops(&pk, "avx2", 1, 1e9, 1e6), 100);
  cr_expect_eq(bench_roofline_gflops(&pk, "avx2", 2, 1e9, 1e6), 200);
  /* Memory bound: 0.25 flop/byte. */
  cr_expect_eq(bench_roofline_gflops(&pk, "avx512", 1, 1, 4), 5);
  cr_expect_eq(bench_roofline_gflops(&pk, "avx512", 2, 1, 4), 7.5);
  /* At the ridge both bounds agree; either side of it, the other one wins. */
  cr_expect_float_eq(bench_roofline_gflops(&pk, "avx512", 1, 10, 1), 200, 1e-9);
  cr_expect_float_eq(bench_roofline_gflops(&pk, "avx512", 1, 9, 1), 180, 1e-9);
  cr_expect_float_eq(bench_roofline_gflops(&pk, "avx512", 1, 11, 1), 200, 1e-9);
  /* Bandwidth doesn't depend on the ISA. */
  cr_expect_eq(bench_roofline_gflops(&pk, "avx2", 1, 1, 4), 5);
  /* NULL: the best ISA measured. */
  cr_expect_eq(bench_roofline_gflops(&pk, NULL, 1, 1e9, 1e6), 200);
  /* No traffic: the compute peak alone. */
  cr_expect_eq(bench_roofline_gflops(&pk, "avx512", 1, 1e9, 0), 200);
  /* Unknown: an ISA without a loop, no threads, no values. */
  cr_expect_eq(bench_roofline_gflops(&pk, "sve", 1, 1e9, 1e6), 0);
  cr_expect_eq(bench_roofline_gflops(&pk, "avx512", 0, 1e9, 1e6), 0);
  cr_expect_eq(bench_roofline_gflops(&(bench_peak){0}, "avx512", 1, 1e9, 1e6), 0);
  cr_expect_eq(bench_roofline_gflops(NULL, "avx512", 1, 1e9, 1e6), 0);
  /* Without a bandwidth: the compute peak alone. */
  bench_peak nobw = pk;
  for (int i = 0; i < nobw.npoints; i++) nobw.points[i].read_gbs = 0;
  cr_expect_eq(bench_roofline_gflops(&nobw, "avx512", 1, 1, 4), 200);
}

/* The counts bench_peak_measure takes on a 64-core machine: 1..8, the
 * powers of two, 64; avx2 at 10 GFLOP/s and 1 GB/s per thread. */
static bench_peak sparse_peak(void) {
  bench_peak pk;
  memset(&pk, 0, sizeof pk);
  pk.key = (bench_peak_key){"Test CPU 9064", 64, "sse4.2 avx avx2 fma"};
  const int counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 32, 64};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
    pk.points[pk.npoints++] = (bench_peak_point){
        .threads = counts[i], .fma_gflops = {10.0 * counts[i]}, .read_gbs = 1.0 * counts[i]};
  return pk;
}

/* Between counts the measurement skips by design the line is straight; past
 * the last point, which is every core, flat. */
Test(peak, thread_counts_between_and_beyond_the_points) {
  const bench_peak pk = sparse_peak();
  cr_expect_float_eq(bench_peak_gflops(&pk, "avx2", 12), 120, 1e-9);
  cr_expect_float_eq(bench_peak_read_gbs(&pk, 40), 40, 1e-9);
  cr_expect_eq(bench_peak_gflops(&pk, "avx2", 64), 640);
  cr_expect_eq(bench_peak_gflops(&pk, "avx2", 128), 640);
  cr_expect_eq(bench_peak_read_gbs(&pk, 128), 64);
  const bench_peak four = hand_peak();
  cr_expect_eq(bench_peak_gflops(&four, "avx2", 64), 400.125);
  cr_expect_eq(bench_peak_read_gbs(&four, 64), 30);
  cr_expect_eq(bench_peak_read_gbs(&four, 1), 20);
}

/* A count the measurement takes but the file lacks has no roofline: not
 * the last point's (a 1-thread file for 2-thread rows), not an
 * interpolation over the gap, not a line down to zero threads. */
Test(peak, thread_counts_the_file_should_hold_are_unknown) {
  bench_peak pk = hand_peak(); /* 4 cores: 1, 2, 4 */
  cr_expect_eq(bench_peak_gflops(&pk, "avx2", 3), 0);
  cr_expect_eq(bench_peak_read_gbs(&pk, 3), 0);
  cr_expect_eq(bench_roofline_gflops(&pk, NULL, 3, 1e9, 1e6), 0);
  pk.npoints = 1; /* only 1 thread measured */
  cr_expect_eq(bench_roofline_gflops(&pk, NULL, 1, 1e9, 1e6), 200);
  cr_expect_eq(bench_roofline_gflops(&pk, NULL, 2, 1e9, 1e6), 0);
  cr_expect_eq(bench_roofline_gflops(&pk, NULL, 64, 1e9, 1e6), 0);
  pk = hand_peak();
  pk.points[0] = pk.points[1], pk.points[1] = pk.points[2], pk.npoints = 2; /* 2 and 4: no 1 */
  cr_expect_eq(bench_peak_gflops(&pk, "avx2", 1), 0);
  bench_peak gap = sparse_peak();
  gap.points[9] = gap.points[10], gap.npoints = 10; /* 32 missing */
  cr_expect_eq(bench_peak_gflops(&gap, "avx2", 24), 0);
  cr_expect_eq(bench_peak_gflops(&gap, "avx2", 32), 0);
  cr_expect_eq(bench_peak_gflops(&gap, "avx2", 12), 120);
  gap.npoints = 9; /* up to 16 of 64 cores */
  cr_expect_eq(bench_peak_gflops(&gap, "avx2", 16), 160);
  cr_expect_eq(bench_peak_gflops(&gap, "avx2", 64), 0);
  /* An ISA missing at one end of a gap is unknown across it. */
  bench_peak isa = sparse_peak();
  isa.points[8].fma_gflops[BENCH_PEAK_AVX2] = 0;
  cr_expect_eq(bench_peak_gflops(&isa, "avx2", 12), 0);
}

static void write_points(const char *path, const char *measured, const char *points) {
  char text[2048];
  snprintf(text, sizeof text,
           "{\"version\": 1, \"machine\": {\"cpu_model\": \"Test CPU 9000\", \"cores\": 4, "
           "\"isa\": \"sse4.2 avx avx2 fma\"}, \"measured\": \"%s\", \"points\": %s}",
           measured, points);
  write_text(path, text);
}

/* Values no machine measures are damage, whatever their form: the file is
 * ignored with a reason naming the value, and %roof stays empty. */
Test(peak, implausible_values_are_ignored) {
  const char *points[] = {
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 1e-300}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 1e308}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 0}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx512\": -100}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": \"NaN\"}}]",
      "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 20000}}]",
      "[{\"threads\": 1, \"read_gbs\": 1e-300, \"fma_gflops\": {\"avx2\": 100}}]",
      "[{\"threads\": 1, \"read_gbs\": 1e308, \"fma_gflops\": {\"avx2\": 100}}]",
      "[{\"threads\": 1, \"read_gbs\": \"Infinity\", \"fma_gflops\": {\"avx2\": 100}}]",
      "[{\"threads\": 1, \"read_gbs\": 0.01, \"fma_gflops\": {\"avx2\": 100}}]",
      ("[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 100}}, "
       "{\"threads\": 2, \"read_gbs\": 30, \"fma_gflops\": {\"avx2\": 1e-9}}]"),
  };
  char path[256], err[ERRLEN];
  path_in_dir(path, sizeof path, "peak.json");
  for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
    write_points(path, "2024-01-02T03:04:05Z", points[i]);
    bench_peak got;
    err[0] = 0;
    cr_expect_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), -1, "accepted: %s", points[i]);
    cr_expect(strstr(err, "plausible") && strstr(err, "point "), "case %zu: reason '%s'", i, err);
    cr_expect_eq(bench_roofline_gflops(&got, NULL, 1, 1e9, 1e6), 0, "case %zu left a roofline", i);
  }
  /* The edges are plausible, per thread; a bandwidth of 0 is "not measured". */
  write_points(path, "",
               "[{\"threads\": 1, \"read_gbs\": 0, \"fma_gflops\": {\"avx2\": 0.1}}, "
               "{\"threads\": 2, \"read_gbs\": 1e4, \"fma_gflops\": {\"avx2\": 2e4}}]");
  bench_peak got;
  cr_expect_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), 0, "%s", err);
  cr_expect_eq(bench_peak_gflops(&got, "avx2", 2), 2e4);
}

/* The file's `measured` string reaches the terminal through info and every
 * report header: it is read as one printable line. */
Test(peak, measured_string_is_one_printable_line) {
  char path[256], err[ERRLEN];
  path_in_dir(path, sizeof path, "peak.json");
  write_points(path, "x\\n\\u001b[31mred\\u001b[0m\\r\\u007fz",
               "[{\"threads\": 1, \"read_gbs\": 20, \"fma_gflops\": {\"avx2\": 100}}]");
  bench_peak got;
  cr_assert_eq(bench_peak_read(path, &key_a, &got, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(got.measured, "x??[31mred?[0m??z");
}

/* The loops compute what a scalar model of their chains computes: they run
 * every step they are credited with, on every chain. */
static double model(int chains, int lanes, long iters, float seed) {
  double total = 0;
  for (int c = 0; c < chains; c++) {
    float x = seed + (float)c;
    for (long i = 0; i < iters; i++) x = fmaf(x, 0.999999f, 1e-6f);
    total += (double)x * lanes;
  }
  return total;
}

Test(peak, avx2_loop_does_its_steps) {
  if (!attn_cpu_has_avx2()) cr_skip_test("no avx2 on this CPU");
  for (long iters = 0; iters <= 300000; iters += 100000) {
    const double want = model(12, 8, iters, 0.5f), got = bench_peak_fma_avx2_ymm12(iters, 0.5f);
    cr_expect(fabs(got - want) <= 1e-5 * fabs(want), "%ld steps: %.9g, model %.9g", iters, got, want);
  }
}

Test(peak, avx512_loop_does_its_steps) {
  if (!attn_cpu_has_avx512()) cr_skip_test("no avx512 on this CPU");
  for (long iters = 0; iters <= 300000; iters += 100000) {
    const double want = model(16, 16, iters, 3.0f), got = bench_peak_fma_avx512_zmm16(iters, 3.0f);
    cr_expect(fabs(got - want) <= 1e-5 * fabs(want), "%ld steps: %.9g, model %.9g", iters, got, want);
  }
}
