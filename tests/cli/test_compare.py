#!/usr/bin/env python3
"""`attnbench compare` on synthetic result files: its verdicts and exit codes
(0 nothing regressed, 1 a regression, 2 unusable input with a one-line
error), then on a real `bench --format json` file compared with itself.
Usage: test_compare.py ATTNBENCH_BINARY"""
from clicheck import error_problems
import csv, io, json, os, random, resource, re, statistics, subprocess, sys, tempfile

BIN = sys.argv[1]
failures, passed = [], 0
tmp = tempfile.mkdtemp()
path = lambda n: os.path.join(tmp, n)
rng = random.Random(7)


def case_name(backend, problem, threads=1):
    return f"{backend}/{problem}/threads:{threads}"


def aggregates(times):
    """The aggregates bench derives from a case's repetitions."""
    return {"median": statistics.median(times), "mean": statistics.mean(times),
            "stddev": statistics.stdev(times) if len(times) > 1 else 0.0, "min": min(times)}


def result(cases, host="ci-box", cpu="Test CPU 9000", ncpus=2, errors=(), stated=None):
    """A result file as bench writes it: per case, one entry per repetition
    and the median, mean, stddev and min aggregates; `cases` maps a name to
    its repetition times (ms). `stated` maps a name to aggregates to write
    instead of those of its repetitions (all of them, for a case without
    repetitions)."""
    benches = []
    for name, times in cases.items():
        common = {"run_name": name, "repetitions": len(times), "threads": 1}
        for i, t in enumerate(times):
            benches.append({"name": name, **common, "run_type": "iteration", "repetition_index": i,
                            "iterations": 1, "real_time": t, "cpu_time": t, "time_unit": "ms"})
        aggs = {**(aggregates(times) if times else {}), **(stated or {}).get(name, {})}
        for agg, ms in aggs.items():
            extra = {"backend": name.split("/")[0], "gflops": 1.0} if agg == "median" else {}
            benches.append({"name": f"{name}_{agg}", **common, "run_type": "aggregate", "aggregate_name": agg,
                            "iterations": len(times), "real_time": ms, "cpu_time": ms, "time_unit": "ms", **extra})
    for name, msg in errors:
        benches.append({"name": name, "run_name": name, "run_type": "iteration", "threads": 1,
                        "error_occurred": True, "error_message": msg})
    return {"context": {"date": "2026-01-01T00:00:00Z", "host_name": host, "executable": "attnbench",
                        "attnbench_version": "0.1.0", "cpu_model": cpu, "num_cpus": ncpus, "mhz_per_cpu": 0,
                        "caches": []},
            "benchmarks": benches}


def write(name, doc):
    with open(path(name), "w") as f:
        json.dump(doc, f)
    return path(name)


def noisy(center, n=9, spread=0.01):
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def compare(*args):
    return subprocess.run([BIN, "compare", *args], capture_output=True, text=True, timeout=120)


def verdicts(out):
    """case name -> verdict, from compare's table."""
    v = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("regressed", "improved", "same", "noisy", "untested", "-"):
            v[parts[-1] if parts[0] != "-" else parts[8]] = parts[0]
    return v


def expect(name, r, status, want=None, needles=()):
    """want: case -> verdict the table must give; needles: text stdout must hold."""
    global passed
    problems = []
    if r.returncode != status:
        problems.append(f"exit {r.returncode}, want {status}")
    got = verdicts(r.stdout)
    for case, verdict in (want or {}).items():
        if got.get(case) != verdict:
            problems.append(f"{case}: verdict {got.get(case)!r}, want {verdict!r}")
    for n in needles:
        if n not in r.stdout:
            problems.append(f"output lacks {n!r}")
    if r.stderr:
        problems.append(f"unexpected stderr {r.stderr!r}")
    if problems:
        failures.append(f"{name}: " + "; ".join(problems) + "\n" + r.stdout)
    else:
        passed += 1


def expect_error(name, r, needle):
    global passed
    problems = error_problems(r, needle)
    if problems:
        failures.append(f"{name}: " + "; ".join(problems))
    else:
        passed += 1


A = case_name("avx2", "b=1,h=16,hkv=16,lq=1024,lk=1024,d=64,dv=64,mask=none")
B = case_name("blas", "b=1,h=16,hkv=16,lq=1024,lk=1024,d=64,dv=64,mask=none")
C = case_name("naive", "b=1,h=1,hkv=1,lq=64,lk=64,d=8,dv=8,mask=none", 2)

# A 30% slowdown far outside 1% noise: regressed, exit 1. The untouched case
# stays the same.
base = write("base.json", result({A: noisy(10.0), B: noisy(20.0)}))
slow = write("slow.json", result({A: noisy(13.0), B: noisy(20.0)}))
expect("clear regression", compare(base, slow), 1, {A: "regressed", B: "same"}, ["1 regressed"])
# The other way round it is an improvement, and nothing regressed.
expect("improvement", compare(slow, base), 0, {A: "improved", B: "same"}, ["1 improved"])
# A larger threshold turns the 30% into "same"; a significant 3% change
# under the default 5% threshold is "same" too.
expect("threshold", compare(base, slow, "--threshold", "50"), 0, {A: "same"})
shifted = write("shifted.json", result({A: noisy(10.3, spread=0.002), B: noisy(20.0)}))
tight = write("tight.json", result({A: noisy(10.0, spread=0.002), B: noisy(20.0)}))
expect("significant but small", compare(tight, shifted), 0, {A: "same"})

# Noise only: two draws from one distribution, 1% spread, 9 repetitions.
again = write("again.json", result({A: noisy(10.0), B: noisy(20.0)}))
expect("noise only", compare(base, again), 0, {A: "same", B: "same"}, ["0 regressed"])
# A large change that 3 repetitions cannot establish (the smallest exact p
# with 3 and 3 is 0.1): noisy, not regressed, and the output says why.
few_b = write("few_b.json", result({A: noisy(10.0, 3)}))
few_n = write("few_n.json", result({A: noisy(14.0, 3)}))
expect("too few to tell", compare(few_b, few_n), 0, {A: "noisy"}, ["too few repetitions"])
# One repetition per case: no test at all, and the output says it needs them.
one_b = write("one_b.json", result({A: [10.0]}))
one_n = write("one_n.json", result({A: [30.0]}))
expect("one repetition", compare(one_b, one_n), 0, {A: "untested"}, ["needs repetitions"])
# Aggregates without repetitions (Google Benchmark's aggregates-only
# output): the median aggregate gives the ratio, untested.
aggs_b = write("aggs_b.json", result({A: []}, stated={A: {"median": 10.0, "mean": 10.0}}))
aggs_n = write("aggs_n.json", result({A: []}, stated={A: {"median": 30.0, "mean": 30.0}}))
expect("aggregates only", compare(aggs_b, aggs_n), 0, {A: "untested"}, ["3.000", "0/0"])

# Every figure comes from the repetitions, so a file whose aggregates say
# otherwise contradicts itself and is refused, naming the file and the case:
# repetitions 1.5x slower under an unchanged median, and the converse.
base_times = noisy(10.0, 15)
lie_slow = write("lie_slow.json", result({A: [1.5 * t for t in base_times], B: noisy(20.0)},
                                         stated={A: {"median": statistics.median(base_times)}}))
lie_median = write("lie_median.json", result({A: base_times, B: noisy(20.0)},
                                             stated={A: {"median": 1.5 * statistics.median(base_times)}}))
expect_error("slower repetitions, same median", compare(base, lie_slow), f"lie_slow.json: case {A}")
expect_error("same repetitions, slower median", compare(lie_median, base), f"lie_median.json: case {A}")
for agg in ("mean", "stddev", "min"):
    lie = result({A: base_times}, stated={A: {agg: 1.5 * aggregates(base_times)[agg]}})
    expect_error(f"{agg} contradicts the repetitions", compare(base, write(f"lie_{agg}.json", lie)),
                 f"its {agg} aggregate")
# What printing with 9 significant digits (bench's JSON) leaves is no
# contradiction.
exact = [10.0 + rng.random() / 3 for _ in range(9)]
printed = result({A: [float(f"{t:.9g}") for t in exact]},
                 stated={A: {k: float(f"{v:.9g}") for k, v in aggregates(exact).items()}})
expect("aggregates rounded as printed", compare(base, write("printed.json", printed)), 0, {A: "same"})
# The same repetition twice, and two median aggregates for one case.
dup_rep = result({A: noisy(10.0), B: noisy(20.0)})
dup_rep["benchmarks"].insert(3, dict(dup_rep["benchmarks"][2]))
expect_error("duplicated repetition", compare(base, write("dup_rep.json", dup_rep)), "repetition_index 2")
dup_median = result({A: noisy(10.0), B: noisy(20.0)})
dup_median["benchmarks"].append(next(b for b in dup_median["benchmarks"] if b["name"] == B + "_median"))
expect_error("duplicated median", compare(write("dup_median.json", dup_median), base),
             f"dup_median.json: case {B} has two median aggregates")

# An interrupted run holds only the cases done before Ctrl-C: compared, with
# a note on stderr and in the header.
cut = result({A: noisy(13.0)})
cut["context"]["interrupted"] = True
r = compare(base, write("cut.json", cut))
note = r.stderr.strip().splitlines()
ok = (r.returncode == 1 and verdicts(r.stdout).get(A) == "regressed" and f"only in base: {B}" in r.stdout
      and "cut.json (interrupted" in r.stdout and len(note) == 1
      and note[0].startswith("attnbench: note: ") and "cut.json" in note[0] and "interrupted" in note[0])
passed += ok
if not ok:
    failures.append(f"interrupted result: exit {r.returncode}, stderr {r.stderr!r}\n{r.stdout}")
r = compare(base, path("cut.json"), "--format", "json")
try:
    ok = json.loads(r.stdout)["new_interrupted"] is True and r.returncode == 1
except (ValueError, KeyError) as e:
    ok = False
passed += ok
if not ok:
    failures.append(f"interrupted result, json: exit {r.returncode}\n{r.stdout}")

# Cases only in one file are listed, not errors; a declined case is listed
# with its reason.
only = write("only.json", result({A: noisy(10.0), C: noisy(1.0)}, errors=[(B, "declined: d=64 needs avx512")]))
expect("missing cases", compare(base, only), 0, {A: "same"},
       [f"only in new:  {C}", "declined: d=64 needs avx512", "1 only in new"])
expect("missing cases reversed", compare(only, base), 0, {A: "same"}, [f"only in base: {C}"])

# Unusable input: exit 2 and one line on stderr.
with open(base) as f:
    text = f.read()
with open(path("truncated.json"), "w") as f:
    f.write(text[: len(text) // 2])
with open(path("garbage.json"), "w") as f:
    f.write("not json at all\n")
with open(path("empty.json"), "w") as f:
    pass
expect_error("corrupt json", compare(base, path("truncated.json")), "not valid JSON")
expect_error("garbage", compare(path("garbage.json"), base), "not valid JSON")
expect_error("empty file", compare(base, path("empty.json")), "not valid JSON")
expect_error("missing file", compare(base, path("nosuch.json")), "nosuch.json")
gbench = result({A: noisy(10.0)})
del gbench["context"]["attnbench_version"]
expect_error("not our schema", compare(base, write("gbench.json", gbench)), "not an attnbench result")
expect_error("not an object", compare(base, write("list.json", [1, 2, 3])), "not an attnbench result")
bad_time = result({A: noisy(10.0)})
bad_time["benchmarks"][0]["real_time"] = "fast"
expect_error("bad real_time", compare(base, write("badtime.json", bad_time)), "real_time")
expect_error("no common case", compare(base, write("other.json", result({C: noisy(1.0)}))), "no case in common")
expect_error("one file", compare(base), "want two result files")
expect_error("bad alpha", compare(base, again, "--alpha", "1.5"), "--alpha")
expect_error("bad threshold", compare(base, again, "--threshold", "-3"), "--threshold")

# Different machines: refused, unless --force, which then gives the verdicts.
elsewhere = write("elsewhere.json", result({A: noisy(13.0), B: noisy(20.0)}, host="laptop", cpu="Other CPU"))
elsewhere_same = write("elsewhere_same.json", result({A: noisy(10.0), B: noisy(20.0)}, ncpus=4))
expect_error("other machine", compare(base, elsewhere), "different machines")
expect_error("other cpu count", compare(base, elsewhere_same), "num_cpus 2 vs 4")
expect("other machine forced", compare(base, elsewhere, "--force"), 1, {A: "regressed"}, ["different machines"])
expect("other cpu count forced", compare(base, elsewhere_same, "--force"), 0, {A: "same", B: "same"})
# The same host name and model string on another microarchitecture ("AMD EPYC" for Zen 4 and Zen 5):
# CPUID's family and model tell them apart where both files record them.
def with_cpuid(name, doc, family, model):
    doc["context"].update(cpu_family=family, cpu_model_number=model)
    return write(name, doc)
zen4 = with_cpuid("zen4.json", result({A: noisy(10.0), B: noisy(20.0)}), 25, 17)
zen5 = with_cpuid("zen5.json", result({A: noisy(10.0), B: noisy(20.0)}), 26, 2)
zen4_again = with_cpuid("zen4_again.json", result({A: noisy(10.0), B: noisy(20.0)}), 25, 17)
expect_error("other cpu family/model", compare(zen4, zen5), "cpu family/model 25/17 vs 26/2")
expect("same cpu family/model", compare(zen4, zen4_again), 0, {A: "same", B: "same"})
expect("cpu family/model unrecorded in one file", compare(base, zen5), 0, {A: "same", B: "same"})

# Machine-readable output: the same verdicts and exit status as the table,
# one record per case with the ratio and its interval.
r = compare(base, slow, "--format", "json")
try:
    doc = json.loads(r.stdout)
    recs = {c["case"]: c for c in doc["cases"]}
    ok = (r.returncode == 1 and recs[A]["verdict"] == "regressed" and recs[B]["verdict"] == "same"
          and recs[A]["ci_lo"] <= recs[A]["ratio"] <= recs[A]["ci_hi"] and 1.2 < recs[A]["ratio"] < 1.4
          and doc["regressed"] == 1 and 0 <= recs[A]["p"] < 0.05)
except (ValueError, KeyError, TypeError) as e:
    ok, doc = False, str(e)
passed += ok
if not ok:
    failures.append(f"compare --format json: exit {r.returncode}, {doc!r}")
r = compare(base, only, "--format", "csv")
rows = list(csv.DictReader(io.StringIO(r.stdout)))
byname = {row["case"]: row for row in rows}
ok = (r.returncode == 0 and byname.get(A, {}).get("verdict") == "same" and byname.get(C, {}).get("verdict") == "only-in-new"
      and "declined" in byname.get(B, {}).get("note", "") and float(byname[A]["ci_lo"]) <= float(byname[A]["ratio"]))
passed += ok
if not ok:
    failures.append(f"compare --format csv: exit {r.returncode}\n{r.stdout}")
expect_error("bad compare format", compare(base, slow, "--format", "xml"), "--format")

# Round trip: a real result compared with itself is the same everywhere.
real = path("real.json")
r = subprocess.run([BIN, "bench", "--backend", "naive", "--problem", "b=1,h=1,lq=16,d=8", "--format", "json",
                    "--out", real], capture_output=True, text=True, timeout=300)
if r.returncode:
    failures.append(f"bench for the round trip failed ({r.returncode}): {r.stderr}")
else:
    doc = json.load(open(real))
    reps = [b for b in doc["benchmarks"] if b.get("run_type") == "iteration"]
    medians = [b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"]
    ok = len(medians) == 1 and len(reps) == medians[0]["repetitions"] >= 9
    ok = ok and all(k in doc["context"] for k in ("date", "host_name", "num_cpus", "mhz_per_cpu", "caches"))
    passed += ok
    if not ok:
        failures.append(f"bench json lacks repetitions, a median aggregate or context keys: {doc['context'].keys()}")
    r = compare(real, real)
    expect("round trip", r, 0, None, ["1 compared: 0 regressed, 0 improved, 1 same"])


# Out of memory: under address-space limits rising in 64 KiB steps from what
# the binary needs to start until the comparison fits, allocations fail one
# after another (jansson's reader, its strings and objects, the index, the
# statistics); each such run must end with one error line that names the
# memory, never with an empty or a misleading reason.
def limited(args, limit):
    cap = lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, preexec_fn=cap)


def start_floor():
    lo, hi = 0, 4096 << 20
    while hi - lo > 1 << 20:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if limited(["--help"], mid).returncode == 0 else (mid, hi)
    return hi


def check_result(names):
    """A check result (check --format json) in which every case passed."""
    checks = [{"backend": "naive", "problem": n.split("/")[1], "name": n, "threads": 1, "verdict": "PASSED",
               "reason": None, "max_abs_err": 1e-8, "err_bound": 0.01, "worst": None, "stage": None,
               "nonfinite": 0} for n in names]
    doc = result({})
    return {"context": doc["context"], "checks": checks,
            "summary": {"passed": len(checks), "failed": 0, "skipped": 0, "mistrusted": 0}}


def memory_sweep(kind, big, floor):
    """compare big with itself under rising limits: each refusal one line
    naming the memory, until it fits."""
    global passed
    problems, refusals, limit = [], 0, floor - (4 << 20)
    while limit < floor + (64 << 20):
        r = limited(["compare", big, big], limit)
        err = r.stderr.strip().splitlines()
        if r.returncode == 0 and "300 compared" in r.stdout and not err:
            break
        # 127: the dynamic loader could not map a library (its message may be
        # just "out of memory"); the program never ran.
        unstarted = r.returncode == 127 or (
            r.returncode == 1 and len(err) == 1 and err[0].startswith("libgomp: Out of memory"))
        if not unstarted:
            named = len(err) == 1 and re.fullmatch(r"attnbench: error: compare: .*(out of memory|Cannot allocate memory).*",
                                                   err[0])
            if r.returncode != 2 or not named:
                problems.append(f"at {limit >> 10} KiB: exit {r.returncode}, stderr {r.stderr[-200:]!r}")
            refusals += 1
        limit += 64 << 10
    else:
        problems.append(f"compare did not fit even in {limit >> 20} MiB")
    if not refusals:
        problems.append("no limit made compare run out of memory: the test proved nothing")
    passed += not problems
    if problems:
        failures.append(f"out of memory, {kind} results ({refusals} refusals): " + "; ".join(problems[:5]))


floor = start_floor()
if floor >= 4096 << 20:
    print("memory limits skipped: the binary does not start under a 4 GiB address-space limit (a sanitizer build?)")
else:
    names = [case_name("naive", f"b=1,h=1,lq={16 * i},d=8") for i in range(1, 301)]
    memory_sweep("bench", write("big.json", result({n: noisy(1.0) for n in names})), floor)
    memory_sweep("check", write("big_check.json", check_result(names)), floor)

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
