#!/usr/bin/env python3
"""Ctrl-C during `attnbench bench`: the first SIGINT stops after the current
case and writes the cases done (exit 130, a note on stderr); a second one
stops at once, leaving the earlier --out file as it was. Throughout, the
--out file is never seen half-written.
Usage: test_interrupt.py ATTNBENCH_BINARY"""
import json, os, signal, subprocess, sys, tempfile, time

BIN = sys.argv[1]
failures, passed = [], 0
tmp = tempfile.mkdtemp()
out = os.path.join(tmp, "r.json")
CASES = 8
# Each case is timed for 0.4 s whatever its size, so the run lasts ~3 s and a
# signal at 1.5 s lands after the first case and well before the last.
ARGS = [BIN, "bench", "--backend", "naive", "--threads", "1", "--warmup", "0", "--reps", "2", "--max-reps", "100000", "--min-time", "0.4",
        "--no-verify", "--format", "json", "--out", out]
for seed in range(CASES):
    ARGS += ["--problem", f"h=1,lq=64,d=16,seed={seed}"]
EARLIER = {"context": {"note": "an earlier result"}, "benchmarks": []}


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def run_and_interrupt(signals):
    """Starts the bench over an earlier file, sends `signals` SIGINTs (the
    first at 1.5 s), polling the file meanwhile; returns the process, its
    stderr and whether every read of the file parsed."""
    with open(out, "w") as f:
        json.dump(EARLIER, f)
    p = subprocess.Popen(ARGS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    whole, start, sent = True, time.monotonic(), 0
    while p.poll() is None:
        if sent < signals and time.monotonic() - start > 1.5 + 0.05 * sent:
            p.send_signal(signal.SIGINT)
            sent += 1
        try:
            with open(out) as f:
                json.load(f)
        except (ValueError, OSError):
            whole = False
        time.sleep(0.02)
        if time.monotonic() - start > 120:
            p.kill()
    _, err = p.communicate()
    return p, err, whole


p, err, whole = run_and_interrupt(1)
check("first Ctrl-C: exit 130", p.returncode == 130, f"exit {p.returncode}, stderr {err!r}")
check("first Ctrl-C: note on stderr", "interrupted" in err and len(err.strip().splitlines()) == 1, repr(err))
check("first Ctrl-C: file never half-written", whole)
try:
    doc = json.load(open(out))
    medians = [b for b in doc["benchmarks"] if b.get("aggregate_name") == "median"]
    check("first Ctrl-C: some cases, not all", 1 <= len(medians) < CASES, f"{len(medians)} of {CASES} cases")
    check("first Ctrl-C: context says interrupted", doc["context"].get("interrupted") is True, str(doc["context"]))
except (ValueError, KeyError) as e:
    check("first Ctrl-C: report is valid JSON", False, str(e))

p, err, whole = run_and_interrupt(2)
check("second Ctrl-C: exit 130", p.returncode == 130, f"exit {p.returncode}, stderr {err!r}")
check("second Ctrl-C: earlier file intact", json.load(open(out)) == EARLIER and whole)

# Without a terminal there is no progress line: stderr stays empty.
r = subprocess.run(ARGS[:ARGS.index("--problem") + 2], capture_output=True, text=True, timeout=120)
check("no progress without a terminal", r.returncode == 0 and r.stderr == "", repr(r.stderr))

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
