#!/usr/bin/env python3
"""`attnbench info --peak` measures and caches the roofline; plain `info`
shows the cached values; a damaged file or one from another machine is
ignored with a one-line note, never a crash. Values are only checked to be
positive and finite: speed is not tested.
Usage: test_info_peak.py ATTNBENCH_BINARY"""
import json, math, os, shutil, subprocess, sys, tempfile

BIN = sys.argv[1]
failures, passed = [], 0
tmp = tempfile.mkdtemp()
cache = os.path.join(tmp, "sub", "dir", "peak.json")


def run(*args, **env_extra):
    env = dict(os.environ, ATTNBENCH_PEAK_FILE=cache, **env_extra)
    return subprocess.run([BIN, "info", *args], capture_output=True, text=True, env=env, timeout=600)


def expect(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


r = run("--peak")
expect("info --peak exits 0", r.returncode == 0, f"exit {r.returncode}: {r.stderr.strip()}")
expect("info --peak names the cache", f"cache              {cache}" in r.stdout, r.stdout)
try:
    with open(cache) as f:
        pk = json.load(f)
except (OSError, ValueError) as e:
    print("FAIL no usable cache file:", e)
    sys.exit(1)
isa = pk["machine"]["isa"].split()
needs = {"avx2": ["avx2", "fma"], "avx512": ["avx512f", "avx512bw", "avx512vl", "avx512dq", "fma"]}
want = [n for n, flags in needs.items() if all(f in isa for f in flags)]
threads = [p["threads"] for p in pk["points"]]
expect("threads from 1 to the cores, ascending",
       threads[0] == 1 and threads[-1] == pk["machine"]["cores"] and threads == sorted(set(threads)), threads)
for p in pk["points"]:
    values = [p["read_gbs"]] + [p["fma_gflops"].get(n, 0) for n in want]
    expect(f"{p['threads']} threads: positive, finite",
           all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in values), p)
    expect(f"{p['threads']} threads: only usable ISAs", sorted(p["fma_gflops"]) == sorted(want), p)
expect("no temporary file left", os.listdir(os.path.dirname(cache)) == ["peak.json"],
       os.listdir(os.path.dirname(cache)))

# Plain info shows the cached table, with no note.
r = run()
expect("info reads the cache", r.returncode == 0 and f"cache              {cache}" in r.stdout
       and f"measured {pk['measured']}" in r.stdout and r.stderr == "", r.stdout + r.stderr)


# bench's %roof against a synthetic roofline: 1 thread, 100 GFLOP/s, 1 GB/s,
# so the bound is the bandwidth one, bytes / 1e9 * flops / bytes.
synthetic = json.loads(json.dumps(pk))
synthetic["points"] = [{"threads": 1, "fma_gflops": {n: 100.0 for n in want}, "read_gbs": 1.0}]
roof_file = os.path.join(tmp, "roof.json")
with open(roof_file, "w") as f:
    json.dump(synthetic, f)
# (problem, flops, bytes): attention moves Q, K, V and O once; a decode step
# reads its visible cache (lk + t + 1 keys) and writes one query's output.
roof_cases = [("b=1,h=1,lq=16,d=8", 2 * 16 * 16 * 16, 4 * 4 * 16 * 8),
              ("op=decode,b=1,h=2,hkv=1,lk=10,steps=4,d=8", 2 * 16 * 2 * (11 + 12 + 13 + 14),
               4 * (16 * (4 * 10 + 4 * 5 // 2) + 2 * 4 * 16))]
for problem, flops, nbytes in roof_cases:
    out = os.path.join(tmp, "roof-out.json")
    r = subprocess.run([BIN, "bench", "--backend", "naive", "--problem", problem, "--threads", "1", "--reps", "3",
                        "--format", "json", "--out", out], capture_output=True, text=True,
                       env=dict(os.environ, ATTNBENCH_PEAK_FILE=roof_file), timeout=600)
    med = [b for b in json.load(open(out))["benchmarks"] if b.get("aggregate_name") == "median"] if r.returncode == 0 else []
    want_roof = min(100.0, flops / nbytes * 1.0)
    expect(f"%roof of {problem}", len(med) == 1 and abs(med[0].get("roof_gflops", 0) - want_roof) < 1e-9 * want_roof
           and abs(med[0]["pct_peak"] - 100 * med[0]["gflops"] / want_roof) < 1e-6 * med[0]["pct_peak"],
           f"{r.stderr.strip()} {med[0] if med else ''} want roof {want_roof}")
r = subprocess.run([BIN, "bench", "--backend", "naive", "--problem", "b=1,h=1,lq=16,d=8", "--reps", "3", "--format",
                    "json"], capture_output=True, text=True, env=dict(os.environ, ATTNBENCH_PEAK_FILE=os.path.join(tmp, "none.json")))
med = [b for b in json.loads(r.stdout)["benchmarks"] if b.get("aggregate_name") == "median"] if r.returncode == 0 else []
expect("no roofline, no %roof", len(med) == 1 and "pct_peak" not in med[0], r.stderr)


def expect_ignored(name, text, needle):
    with open(cache, "w") as f:
        f.write(text)
    r = run()
    lines = r.stderr.splitlines()
    expect(name, r.returncode == 0 and "not measured" in r.stdout and len(lines) == 1
           and lines[0].startswith(f"attnbench: note: ignoring {cache}: ") and needle in lines[0],
           f"exit {r.returncode}, stderr {r.stderr!r}")


good = json.dumps(pk)
expect_ignored("truncated file", good[: len(good) // 2], "JSON")
expect_ignored("binary garbage", "\x00\x01\x02", "JSON")
other = json.loads(good)
other["machine"]["cpu_model"] += " (elsewhere)"
expect_ignored("another CPU", json.dumps(other), "another CPU")
other = json.loads(good)
other["machine"]["cores"] += 1
expect_ignored("another core count", json.dumps(other), "cores")
other = json.loads(good)
other["points"][0]["read_gbs"] = -3
expect_ignored("negative bandwidth", json.dumps(other), "point 0")
if "avx512f" in isa:
    with open(cache, "w") as f:
        f.write(good)
    r = run(ATTNBENCH_MAX_ISA="avx2")
    expect("ISA cap changes the key", "ISA" in r.stderr and "not measured" in r.stdout, r.stderr)

shutil.rmtree(tmp)
for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
