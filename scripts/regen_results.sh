#!/usr/bin/env bash
# Regenerates results/<machine>/ on an otherwise idle machine (nothing else
# may share the cores while it measures):
#   default.json           the default suite (what `attnbench bench` runs; it mixes
#                          prefill, decode and mha shapes, so it has a table, no plot)
#   ci-smoke.json          the smoke suite, the baseline scripts/ci-perf compares against
#   prefill-*.json/.png    the sweep of every backend (b=1, h=16, d 64 and 128,
#                          lq=lk 512..8192, mask none and causal, 1 and 2 threads)
#   README.md              the tables, with links to the plots
# The sweep takes about 20 minutes; REGEN_SWEEP=0 keeps the sweep files there.
# Usage: scripts/regen_results.sh [BUILD_DIR] [MACHINE_NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bench/attnbench
[ -x "$bin" ] || { echo "attnbench: error: $bin not built (run scripts/quickstart.sh)" >&2; exit 2; }
machine=${2:-${ATTNBENCH_MACHINE:-$(hostname)}}
out=results/$machine
mkdir -p "$out"

"$bin" check --suite quick >/dev/null
"$bin" info > "$out/info.txt"
"$bin" bench --suite default --format json --out "$out/default.json"
"$bin" bench --suite smoke --format json --out "$out/ci-smoke.json"
sweep=(--backend all --heads 16 --d 64,128 --lq 512,1024,2048,4096,8192 --threads 1,2 --max-case-time 10)
for mask in none causal; do
  [ "${REGEN_SWEEP:-1}" = 0 ] || "$bin" bench "${sweep[@]}" --mask "$mask" --format json --out "$out/prefill-$mask.json"
  scripts/plot.py "$out/prefill-$mask.json" "$out/prefill-$mask.png" || true
done
python3 - "$out" > "$out/README.md" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print(f"# Baseline: {out.name}\n\nMade by scripts/regen_results.sh; machine and libraries in info.txt and each JSON's context.\n")


def table(doc):
    print("| backend | threads | problem | median ms | spread | ci95 | GFLOP/s | %roof | note |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---|")
    for b in doc["benchmarks"]:
        if b.get("error_occurred"):
            print(f"| {b['backend']} | {b['threads']} | {b['problem']} | - | - | - | - | - | {b['error_message']} |")
            continue
        if b.get("aggregate_name") != "median":  # repetitions and the other aggregates
            continue
        med = b["real_time"]
        spread = 100 * (b["q3_ms"] - b["q1_ms"]) / med
        ci = "-"
        if b.get("ci_level", 0) >= 0.95:
            ci = f"±{100 * max(med - b['ci_lo_ms'], b['ci_hi_ms'] - med) / med:.1f}%"
        roof = f"{b['pct_peak']:.0f}%" if "pct_peak" in b else "-"
        print(f"| {b['backend']} | {b['threads']} | {b['problem']} | {med:.3f} | {spread:.1f}% | {ci} | {b['gflops']:.1f} | {roof} | {b['note']} |")


doc = json.loads((out / "default.json").read_text())
print("## The default suite\n\n`attnbench bench` with no problems (`bench/suites/default.txt`), from [default.json](default.json):\n")
table(doc)
print()
print("`ci-smoke.json` is the smoke suite, the baseline `scripts/ci-perf` compares against.\n")
for mask in ("none", "causal"):
    doc = json.loads((out / f"prefill-{mask}.json").read_text())
    c = doc["context"]
    print(f"## mask={mask}\n\n{c['cpu_model']}, threads {c['threads']}, binding {c['thread_binding']}; {c['flops_convention']}\n")
    table(doc)
    print(f"\n![mask={mask}](prefill-{mask}.png)\n")
PY
echo "wrote $out"
