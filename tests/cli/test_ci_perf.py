#!/usr/bin/env python3
"""scripts/ci-perf's exit codes against synthetic baselines made from one
real run: a clearly slower baseline gives 0 and 'improved', a clearly faster
one 1 and 'regressed', a missing one 2. Tiny problems, a few seconds.
Usage: test_ci_perf.py ATTNBENCH_BINARY"""
import copy, json, os, subprocess, sys, tempfile

BIN = sys.argv[1]
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "ci-perf")
tmp = tempfile.mkdtemp()
failures, passed = [], 0
BENCH = ["--", "--backend", "naive", "--threads", "1", "--problem", "h=1,lq=32,d=16", "--reps", "9",
         "--min-time", "0.05", "--no-verify"]


def ci_perf(*args):
    return subprocess.run(["bash", SCRIPT, "--bin", BIN, "--suite", "", *args], capture_output=True, text=True,
                          timeout=300)


def scaled(doc, factor, name):
    """The result with every time multiplied by factor, as a baseline."""
    d = copy.deepcopy(doc)
    for b in d["benchmarks"]:
        for k in ("real_time", "cpu_time"):
            if k in b:
                b[k] *= factor
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        json.dump(d, f)
    return p


def expect(name, r, status, needle):
    global passed
    if r.returncode == status and needle in r.stdout + r.stderr:
        passed += 1
    else:
        failures.append(f"{name}: exit {r.returncode} (want {status}), want {needle!r}\n{r.stdout}{r.stderr}")


real = os.path.join(tmp, "real.json")
r = subprocess.run([BIN, "bench", *BENCH[1:], "--format", "json", "--out", real], capture_output=True, text=True,
                   timeout=300)
if r.returncode:
    sys.exit(f"FAIL the reference run: {r.stderr}")
doc = json.load(open(real))
expect("slower baseline", ci_perf(scaled(doc, 3.0, "slow.json"), *BENCH), 0, "improved")
expect("faster baseline", ci_perf(scaled(doc, 0.3, "fast.json"), *BENCH), 1, "regressed")
expect("missing baseline", ci_perf(os.path.join(tmp, "none.json"), *BENCH), 2, "no baseline")
expect("failed run", ci_perf(real, "--", "--problem", "h=0"), 2, "nothing compared")

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
