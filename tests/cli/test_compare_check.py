#!/usr/bin/env python3
"""`attnbench compare` on two `check --format json` results: verdicts per
case (a worse check verdict, a case no longer run, an err/bound grown beyond
the threshold above the floor), exit codes (0 nothing regressed, 1 a
regression, 2 unusable input with a one-line error), refusals of files that
contradict themselves, csv and json output; then a real check result
compared with itself, when `check --format json` exists.
Usage: test_compare_check.py ATTNBENCH_BINARY"""
from clicheck import error_problems
import copy, csv, io, json, os, subprocess, sys, tempfile

BIN = sys.argv[1]
failures, passed = [], 0
tmp = tempfile.mkdtemp()
path = lambda n: os.path.join(tmp, n)


def case_name(backend, problem, threads=1):
    return f"{backend}/{problem}/threads:{threads}"


def check_result(cases, host="ci-box", cpu="Test CPU 9000", ncpus=2, interrupted=False):
    """A result file as `check --format json` writes it; `cases` maps a name
    to (verdict, err_bound) or (verdict, err_bound, reason). The summary
    counts the records."""
    checks, summary = [], {"passed": 0, "failed": 0, "skipped": 0, "mistrusted": 0}
    for name, (verdict, eb, *why) in cases.items():
        backend, problem = name.split("/", 1)[0], name.split("/", 1)[1].rsplit("/", 1)[0]
        ran = verdict != "SKIPPED" and eb is not None
        checks.append({"backend": backend, "problem": problem, "name": name, "verdict": verdict,
                       "reason": why[0] if why else None, "max_abs_err": eb * 1e-6 if ran else None,
                       "err_bound": eb, "worst": {"row": 0, "col": 0, "got": 1.0, "want": 1.0, "bound": 1e-6}
                       if ran else None, "stage": None, "nonfinite": 0 if ran else None})
        summary[verdict.lower()] += 1
    ctx = {"date": "2026-01-01T00:00:00Z", "host_name": host, "executable": "attnbench",
           "attnbench_version": "0.1.0", "cpu_model": cpu, "num_cpus": ncpus, "mhz_per_cpu": 0, "caches": [],
           "command": "check", "threads": 1, "suite": "quick", "interrupted": interrupted}
    return {"context": ctx, "checks": checks, "summary": summary}


def bench_result(name):
    """A one-case `bench --format json` result, for the kind mismatch."""
    reps = [{"name": name, "run_name": name, "run_type": "iteration", "repetition_index": i, "iterations": 1,
             "real_time": 1.0, "cpu_time": 1.0, "time_unit": "ms"} for i in range(3)]
    return {"context": {"date": "2026-01-01T00:00:00Z", "host_name": "ci-box", "attnbench_version": "0.1.0",
                        "cpu_model": "Test CPU 9000", "num_cpus": 2}, "benchmarks": reps}


def write(name, doc):
    with open(path(name), "w") as f:
        json.dump(doc, f)
    return path(name)


def compare(*args):
    return subprocess.run([BIN, "compare", *args], capture_output=True, text=True, timeout=120)


VERDICTS = ("regressed", "declined", "improved", "same")


def verdicts(out):
    """case name -> verdict, from compare's table: verdict, base, new,
    base err/bound, new err/bound, ratio, case."""
    return {p[6]: p[0] for p in (line.split() for line in out.splitlines()) if len(p) >= 7 and p[0] in VERDICTS}


def expect(name, r, status, want=None, needles=(), stderr_needle=None):
    """want: case -> verdict the table must give; needles: text stdout must
    hold; stderr must be empty, or one note holding stderr_needle."""
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
    notes = r.stderr.strip().splitlines()
    if stderr_needle is None and r.stderr:
        problems.append(f"unexpected stderr {r.stderr!r}")
    if stderr_needle is not None and not (len(notes) == 1 and notes[0].startswith("attnbench: note: ")
                                          and stderr_needle in notes[0]):
        problems.append(f"stderr is not one note holding {stderr_needle!r}: {r.stderr!r}")
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


A = case_name("avx2", "b=1,h=2,hkv=2,lq=16,lk=16,d=8,dv=8,mask=none")
B = case_name("blas", "b=1,h=2,hkv=2,lq=16,lk=16,d=8,dv=8,mask=none")
C = case_name("naive", "b=1,h=2,hkv=2,lq=16,lk=16,d=8,dv=8,mask=causal", 2)
D = case_name("onednn", "b=1,h=2,hkv=2,lq=16,lk=16,d=8,dv=8,mask=none,score=additive")
base_cases = {A: ("PASSED", 0.01), B: ("PASSED", 1e-7), C: ("FAILED", 3.5, "worst at row 0 col 1"),
              D: ("SKIPPED", None, "declined: not a GEMM")}
base = write("base.json", check_result(base_cases))

# A file against itself: every case the same, nothing regressed.
expect("itself", compare(base, base), 0, {A: "same", B: "same", C: "same", D: "same"},
       ["4 compared: 0 regressed, 0 declined, 0 improved, 4 same"])
# An error that tripled (0.01 -> 0.03 of the bound) is flagged by the default
# threshold (100%: a doubling); the same factor at 1e-7 of the bound, below
# the floor, is rounding noise.
worse = write("worse.json", check_result({**base_cases, A: ("PASSED", 0.03), B: ("PASSED", 3e-7)}))
expect("err/bound tripled", compare(base, worse), 1, {A: "regressed", B: "same", C: "same"}, ["3.000", "1 regressed"])
expect("err/bound fell to a third", compare(worse, base), 0, {A: "improved", B: "same"}, ["1 improved"])
# 1.5x is within the default threshold; --threshold 20 flags it, and
# --threshold 300 lets the tripling pass.
mild = write("mild.json", check_result({**base_cases, A: ("PASSED", 0.015)}))
expect("err/bound 1.5x", compare(base, mild), 0, {A: "same"})
expect("err/bound 1.5x, --threshold 20", compare(base, mild, "--threshold", "20"), 1, {A: "regressed"})
expect("err/bound tripled, --threshold 300", compare(base, worse, "--threshold", "300"), 0, {A: "same"})
# A lower --floor makes the tripling at 1e-7 count.
expect("--floor 1e-8", compare(base, worse, "--floor", "1e-8"), 1, {A: "regressed", B: "regressed"})
# An exact result that became inexact: no ratio, but the growth is infinite.
exact = write("exact.json", check_result({**base_cases, A: ("PASSED", 0.0)}))
expect("exact -> inexact", compare(exact, base), 1, {A: "regressed"}, ["inf"])

# Verdicts: a worse one regresses whatever the err/bound says, a better one
# improves; a case the new run no longer runs is declined, which fails the
# comparison too (it hides the case); one newly run is judged by its verdict.
failed = write("failed.json", check_result({**base_cases, A: ("FAILED", 1.5, "worst at row 3 col 2")}))
expect("PASSED -> FAILED", compare(base, failed), 1, {A: "regressed"}, ["worst at row 3 col 2"])
expect("FAILED -> PASSED", compare(failed, base), 0, {A: "improved"})
fixed = write("fixed.json", check_result({**base_cases, C: ("PASSED", 0.2)}))
expect("FAILED -> PASSED, other case", compare(base, fixed), 0, {C: "improved"}, ["1 improved"])
mistrusted = write("mistrusted.json", check_result({**base_cases, A: ("MISTRUSTED", 0.001)}))
expect("PASSED -> MISTRUSTED", compare(base, mistrusted), 1, {A: "regressed"})
expect("MISTRUSTED -> FAILED", compare(mistrusted, failed), 1, {A: "regressed"})
declined = write("declined.json", check_result({**base_cases, A: ("SKIPPED", None, "declined: needs avx2")}))
expect("PASSED -> SKIPPED", compare(base, declined), 1, {A: "declined"}, ["1 declined", "needs avx2"])
expect("SKIPPED -> PASSED", compare(declined, base), 0, {A: "improved"})
run_now = write("run_now.json", check_result({**base_cases, D: ("FAILED", None, "non-finite")}))
expect("SKIPPED -> FAILED", compare(base, run_now), 1, {D: "regressed"})
# Within FAILED, an err/bound that became non-finite (null) is worse.
nonfinite = write("nonfinite.json", check_result({**base_cases, C: ("FAILED", None, "non-finite")}))
expect("FAILED -> FAILED non-finite", compare(base, nonfinite), 1, {C: "regressed"})
expect("FAILED non-finite -> FAILED", compare(nonfinite, base), 0, {C: "improved"})

# Cases in only one file are listed, with their verdicts.
E = case_name("avx512", "b=1,h=2,hkv=2,lq=16,lk=16,d=8,dv=8,mask=none")
fewer = {k: v for k, v in base_cases.items() if k != B}
only = write("only.json", check_result({**fewer, E: ("PASSED", 0.02)}))
expect("only in one file", compare(base, only), 0, {A: "same"},
       [f"only in base: {B}", f"only in new:  {E}", "1 only in base, 1 only in new"])
expect_error("no case in common", compare(base, write("other.json", check_result({E: ("PASSED", 0.02)}))),
             "no case in common")

# A bench result against a check result: refused, naming both kinds.
bench = write("bench.json", bench_result(A))
expect_error("bench vs check", compare(bench, base), "is a bench result")
expect_error("check vs bench", compare(base, bench), "is a check result")
both = check_result(base_cases)
both["benchmarks"] = bench_result(A)["benchmarks"]
expect_error("both kinds in one file", compare(base, write("both.json", both)), "both a checks and a benchmarks")

# Different machines: refused, unless --force.
elsewhere = write("elsewhere.json", check_result(base_cases, host="laptop", ncpus=4))
expect_error("other machine", compare(base, elsewhere), "different machines")
expect("other machine forced", compare(base, elsewhere, "--force"), 0, {A: "same"}, ["different machines"])
# Options of the other kind are refused rather than ignored.
expect_error("--alpha on check results", compare(base, base, "--alpha", "0.01"), "--alpha")
expect_error("--floor on bench results", compare(bench, bench, "--floor", "0.01"), "--floor")
expect_error("bad floor", compare(base, base, "--floor", "-1"), "--floor")


# Files that contradict themselves or say nothing usable: refused, naming
# the file and the case.
def hostile(name, mutate, needle):
    doc = check_result(base_cases)
    mutate(doc)
    p = write(name + ".json", doc)
    expect_error(name, compare(base, p), f"{name}.json: " + needle)
    expect_error(name + " (as base)", compare(p, base), f"{name}.json: " + needle)


def set_field(case, key, value):
    def mutate(doc):
        next(c for c in doc["checks"] if c["name"] == case)[key] = value
    return mutate


hostile("summary_lies", lambda d: d["summary"].update(passed=3), "its summary says 3 passed, its checks hold 2")
hostile("summary_missing", lambda d: d.pop("summary"), "has no summary")
hostile("duplicate", lambda d: d["checks"].append(copy.deepcopy(d["checks"][0])), f"case {A}")
hostile("bad_verdict", set_field(A, "verdict", "OK"), f"case {A}")
hostile("no_verdict", set_field(A, "verdict", None), f"case {A}")
hostile("negative", set_field(A, "err_bound", -0.01), f"case {A}")
hostile("string_eb", set_field(A, "err_bound", "0.01"), f"case {A}")
hostile("null_passed", set_field(A, "err_bound", None), f"case {A}")
hostile("passed_above_one", set_field(A, "err_bound", 1.5), f"case {A}")
hostile("negative_failed", set_field(C, "err_bound", -2), f"case {C}")
hostile("skipped_with_eb", set_field(D, "err_bound", 0.5), f"case {D}")
hostile("no_name", set_field(A, "name", 7), "checks[0]")
hostile("not_object", lambda d: d["checks"].__setitem__(1, "x"), "checks[1]")
hostile("checks_not_array", lambda d: d.__setitem__("checks", {}), "not an attnbench result (want the output of bench or check")
# A control character in a quoted case name stays one printable line.
hostile("control", lambda d: (d["checks"][0].update(name="a\x1b[2Jb\nc"), d["checks"].append(
    copy.deepcopy(d["checks"][0])), d["summary"].update(passed=3)), "case a?[2Jb?c")

# An interrupted check holds only the cases done before Ctrl-C: compared,
# with a note.
cut = check_result({A: base_cases[A]}, interrupted=True)
expect("interrupted", compare(base, write("cut.json", cut)), 0, {A: "same"}, ["cut.json (interrupted", "only in base"],
       stderr_needle="interrupted")

# Machine-readable output: the same verdicts and exit status as the table.
r = compare(base, worse, "--format", "json")
try:
    doc = json.loads(r.stdout)
    recs = {c["case"]: c for c in doc["cases"]}
    ok = (r.returncode == 1 and doc["kind"] == "check" and doc["regressed"] == 1 and doc["declined"] == 0
          and doc["threshold"] == 1.0 and doc["floor"] == 1e-3 and recs[A]["verdict"] == "regressed"
          and recs[A]["base_verdict"] == "PASSED" and recs[A]["new_err_bound"] == 0.03
          and abs(recs[A]["ratio"] - 3) < 1e-9 and recs[B]["verdict"] == "same" and recs[D]["ratio"] is None
          and recs[D]["base_err_bound"] is None)
except (ValueError, KeyError, TypeError) as e:
    ok, doc = False, str(e)
passed += ok
if not ok:
    failures.append(f"compare --format json on check results: exit {r.returncode}, {doc!r}")
r = compare(base, only, "--format", "csv")
rows = {row["case"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
ok = (r.returncode == 0 and rows.get(A, {}).get("verdict") == "same" and rows.get(A, {}).get("ratio") == "1"
      and rows.get(B, {}).get("verdict") == "only-in-base" and rows.get(E, {}).get("verdict") == "only-in-new"
      and rows.get(E, {}).get("new_verdict") == "PASSED" and "not a GEMM" in rows.get(D, {}).get("note", ""))
passed += ok
if not ok:
    failures.append(f"compare --format csv on check results: exit {r.returncode}\n{r.stdout}")
r = compare(base, declined, "--format", "csv")
rows = {row["case"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
ok = r.returncode == 1 and rows.get(A, {}).get("verdict") == "declined" and rows[A]["new_err_bound"] == ""
passed += ok
if not ok:
    failures.append(f"compare --format csv, declined: exit {r.returncode}\n{r.stdout}")

# A real check result compared with itself, once check writes JSON.
real = path("real.json")
r = subprocess.run([BIN, "check", "--backend", "all", "--problem", "b=1,h=2,lq=16,d=8", "--problem",
                    "b=1,h=2,lq=9,d=8,score=additive", "--threads", "1", "--format", "json", "--out", real],
                   capture_output=True, text=True, timeout=300)
if r.returncode == 2 and "--format" in r.stderr:
    print("real check result skipped: this attnbench check has no --format json yet")
elif r.returncode:
    failures.append(f"check --format json for the round trip failed ({r.returncode}): {r.stderr}")
else:
    doc = json.load(open(real))
    n = len(doc["checks"])
    expect("real check result against itself", compare(real, real), 0, None,
           [f"{n} compared: 0 regressed, 0 declined, 0 improved, {n} same"])
    # The same result with one case's err/bound tripled (above the floor).
    ran = [c for c in doc["checks"] if c["verdict"] == "PASSED" and 1e-3 < c["err_bound"] < 0.3]
    if ran:
        ran[0]["err_bound"] *= 3
        expect("real check result, one case worse", compare(real, write("real_worse.json", doc)), 1,
               {ran[0]["name"]: "regressed"})
    else:
        failures.append("the real check result has no PASSED case between the floor and 0.3 to make worse")

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
