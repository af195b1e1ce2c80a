#!/usr/bin/env python3
"""Plots GFLOP/s against sequence length from `attnbench bench --format csv`
or `--format json` output, one line per backend and thread count, one panel per remaining
problem shape (heads, head dim, mask). Needs gnuplot (apt-get install gnuplot-nox).
Usage: scripts/plot.py RESULTS.csv|RESULTS.json OUT.png"""
import csv, json, shutil, subprocess, sys
from collections import defaultdict

if len(sys.argv) != 3:
    sys.exit(__doc__)
if not shutil.which("gnuplot"):
    sys.exit("plot.py: error: gnuplot not found (apt-get install gnuplot-nox)")
src, out = sys.argv[1], sys.argv[2]

series = defaultdict(lambda: defaultdict(list))  # shape -> (backend, threads) -> [(lq, gflops)]
def rows(path):
    """Successful rows as dicts with backend, threads, problem, gflops."""
    with open(path, newline="") as f:
        if path.endswith(".json"):
            # A case is one median aggregate among its repetitions and other
            # aggregates; files from before repetitions were kept hold one entry per case.
            for b in json.load(f)["benchmarks"]:
                if not b.get("error_occurred") and b.get("aggregate_name", "median") == "median" \
                        and b.get("run_type", "aggregate") == "aggregate":
                    yield {k: str(b[k]) for k in ("backend", "threads", "problem", "gflops")}
        else:
            yield from (r for r in csv.DictReader(f) if r["status"] == "ok")


if True:
    for row in rows(src):
        keys = dict(kv.split("=", 1) for kv in row["problem"].split(","))
        lq = int(keys.pop("lq"))
        keys.pop("lk", None)
        shape = ",".join(f"{k}={v}" for k, v in keys.items() if k in ("b", "h", "hkv", "d", "mask"))
        series[shape][(row["backend"], row["threads"])].append((lq, float(row["gflops"])))
if not series:
    sys.exit("plot.py: error: no successful rows in " + src)

panels = sorted(series)
cols = min(2, len(panels))
rows = (len(panels) + cols - 1) // cols
script = [f"set terminal pngcairo size {800 * cols},{450 * rows} font ',10'", f"set output '{out}'",
          f"set multiplot layout {rows},{cols}", "set logscale x 2", "set xlabel 'lq = lk'",
          "set ylabel 'GFLOP/s (visible pairs)'", "set key outside right top", "set grid"]
for shape in panels:
    lines = series[shape]
    script.append(f"set title '{shape}'")
    plots, data = [], []
    for i, ((backend, threads), pts) in enumerate(sorted(lines.items())):
        plots.append(f"$d{i} using 1:2 with linespoints title '{backend} x{threads}'")
        data.append(f"$d{i} << EOD\n" + "\n".join(f"{x} {y}" for x, y in sorted(pts)) + "\nEOD")
    script += data + ["plot " + ", ".join(plots)]
script.append("unset multiplot")
subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
