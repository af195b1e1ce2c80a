#!/usr/bin/env python3
"""Plots from attnbench results. Needs gnuplot (apt-get install gnuplot-nox).

  scripts/plot.py RESULTS.csv|RESULTS.json OUT.png|OUT.svg|OUT
      GFLOP/s against sequence length (lq) from `attnbench bench --format csv`
      or `--format json`: one panel per head dim and mask, one line per
      backend and thread count (and per remaining shape, h/hkv/b, where a
      panel holds several), and, when the JSON context carries a roofline
      (peak_gflops, read_gbs: `attnbench info --peak`), the roofline of the
      largest thread count as a dashed line.
  scripts/plot.py --compare COMPARE.csv|COMPARE.json OUT.png|OUT.svg|OUT
      the ratio new/base per case, with its confidence interval, from
      `attnbench compare --format csv|json`; 1 is no change.

The output's extension picks the format; without .png or .svg both are written."""
import csv, json, shutil, subprocess, sys
from collections import defaultdict


def outputs(out):
    """(terminal, path) pairs for OUT: its extension, or both formats."""
    if out.endswith(".png"):
        return [("png", out)]
    if out.endswith(".svg"):
        return [("svg", out)]
    return [("png", out + ".png"), ("svg", out + ".svg")]


def terminal(kind, width, height):
    if kind == "svg":
        return f"set terminal svg size {width},{height} dynamic font 'sans,10'"
    return f"set terminal pngcairo size {width},{height} font ',10'"


def gnuplot(body, width, height, out):
    """Runs the same plot once per output format."""
    for kind, path in outputs(out):
        script = [terminal(kind, width, height), f"set output '{path}'"] + body
        subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
        print(f"wrote {path}")


def quote(s):
    return s.replace("'", "''").replace("_", "\\\\_")


def bench_rows(path):
    """Successful cases as dicts with backend, threads, problem, gflops and
    roof_gflops (0 when not known), and the context (None for csv)."""
    with open(path, newline="") as f:
        if path.endswith(".json"):
            doc = json.load(f)
            rows = []
            # A case is one median aggregate among its repetitions and other
            # aggregates; files from before repetitions were kept hold one entry per case.
            for b in doc["benchmarks"]:
                if not b.get("error_occurred") and b.get("aggregate_name", "median") == "median" \
                        and b.get("run_type", "aggregate") == "aggregate":
                    rows.append({"backend": b["backend"], "threads": int(b["threads"]), "problem": b["problem"],
                                 "gflops": float(b["gflops"]), "roof_gflops": float(b.get("roof_gflops", 0))})
            return rows, doc.get("context", {})
        return [{"backend": r["backend"], "threads": int(r["threads"]), "problem": r["problem"],
                 "gflops": float(r["gflops"]), "roof_gflops": 0.0}
                for r in csv.DictReader(f) if r["status"] == "ok"], None


def plot_bench(src, out):
    rows, context = bench_rows(src)
    # panel (d, mask) -> line (backend, threads, rest of the shape) -> [(lq, gflops)]
    series = defaultdict(lambda: defaultdict(list))
    roof = defaultdict(dict)  # panel -> lq -> roofline GFLOP/s at the largest thread count
    top = max((r["threads"] for r in rows), default=1)
    for row in rows:
        keys = dict(kv.split("=", 1) for kv in row["problem"].split(","))
        if "lq" not in keys:
            continue
        lq = int(keys["lq"])
        panel = f"d={keys.get('d', '?')}, mask={keys.get('mask', 'none')}"
        rest = ",".join(f"{k}={keys[k]}" for k in ("b", "h", "hkv") if k in keys)
        series[panel][(row["backend"], row["threads"], rest)].append((lq, row["gflops"]))
        if row["threads"] == top and row["roof_gflops"] > 0:
            roof[panel][lq] = min(roof[panel].get(lq, float("inf")), row["roof_gflops"])
    if not series:
        sys.exit("plot.py: error: no successful rows in " + src)
    has_roof = bool(context) and "peak_gflops" in context and "read_gbs" in context
    panels = sorted(series)
    cols = min(2, len(panels))
    nrows = (len(panels) + cols - 1) // cols
    body = [f"set multiplot layout {nrows},{cols}", "set logscale x 2", "set xlabel 'lq = lk'",
            "set ylabel 'GFLOP/s (visible pairs)'", "set key outside right top", "set grid"]
    for p, panel in enumerate(panels):
        lines = series[panel]
        # The rest of the shape only labels lines where it tells them apart.
        several = len({rest for (_, _, rest) in lines}) > 1
        body.append(f"set title '{quote(panel)}'")
        plots, data = [], []
        for i, ((backend, threads, rest), pts) in enumerate(sorted(lines.items())):
            label = f"{backend} x{threads}" + (f" {rest}" if several else "")
            plots.append(f"$d{p}_{i} using 1:2 with linespoints title '{quote(label)}'")
            data.append(f"$d{p}_{i} << EOD\n" + "\n".join(f"{x} {y}" for x, y in sorted(pts)) + "\nEOD")
        if has_roof:
            # Per-case bounds where the rows carry them, else the FMA peak alone.
            pts = sorted(roof[panel].items()) or [(x, context["peak_gflops"]) for x in
                                                  sorted({x for ps in lines.values() for x, _ in ps})]
            data.append(f"$r{p} << EOD\n" + "\n".join(f"{x} {y}" for x, y in pts) + "\nEOD")
            plots.append(f"$r{p} using 1:2 with lines dashtype 2 lc rgb 'black' title 'roofline x{top}'")
        body += data + ["plot " + ", ".join(plots)]
    body.append("unset multiplot")
    gnuplot(body, 800 * cols, 450 * nrows, out)


def compare_rows(path):
    """Compared cases: (case, ratio, ci_lo, ci_hi, verdict); a missing
    interval is the ratio itself."""
    with open(path, newline="") as f:
        recs = json.load(f)["cases"] if path.endswith(".json") else list(csv.DictReader(f))
    rows = []
    for r in recs:
        if r.get("ratio") in (None, ""):
            continue
        ratio = float(r["ratio"])
        lo = float(r["ci_lo"]) if r.get("ci_lo") not in (None, "") else ratio
        hi = float(r["ci_hi"]) if r.get("ci_hi") not in (None, "") else ratio
        rows.append((r["case"], ratio, lo, hi, r["verdict"]))
    return rows


def plot_compare(src, out):
    rows = compare_rows(src)
    if not rows:
        sys.exit("plot.py: error: no compared cases in " + src)
    colors = {"regressed": 0xD62728, "improved": 0x2CA02C, "noisy": 0xFF7F0E}  # others blue
    data = "\n".join(f"{i} {ratio} {lo} {hi} {colors.get(v, 0x1F77B4)}"
                     for i, (_, ratio, lo, hi, v) in enumerate(rows))
    tics = ", ".join(f"'{quote(name)}' {i}" for i, (name, *_rest) in enumerate(rows))
    height = 450 + 12 * max(len(name) for name, *_rest in rows) // 2
    body = [f"$c << EOD\n{data}\nEOD", f"set xtics ({tics}) rotate by -60 font ',7'",
            f"set xrange [-1:{len(rows)}]", "set ylabel 'median new / median base'", "set grid ytics",
            "set title 'ratio per case with its confidence interval (red regressed, green improved, orange noisy)'",
            "set bmargin 20",
            "plot 1 with lines dashtype 2 lc rgb 'black' notitle, "
            "$c using 1:2:3:4:5 with yerrorbars pt 7 lc rgb variable notitle"]
    gnuplot(body, max(800, 40 * len(rows)), height, out)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (2, 3) or (len(args) == 3 and args[0] != "--compare"):
        sys.exit(__doc__)
    if not shutil.which("gnuplot"):
        sys.exit("plot.py: error: gnuplot not found (apt-get install gnuplot-nox)")
    if args[0] == "--compare":
        plot_compare(args[1], args[2])
    else:
        plot_bench(args[0], args[1])
