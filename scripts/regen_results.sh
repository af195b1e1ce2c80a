#!/usr/bin/env bash
# Regenerates results/<machine>/ on an otherwise idle machine (nothing else
# may share the cores while it measures):
#   default.json           the default suite (what `attnbench bench` runs; it mixes
#                          prefill, decode and mha shapes, so it has a table, no plot)
#   ci-smoke.json          the smoke suite, the baseline scripts/ci-perf compares against
#   prefill-*.json/.png    the sweep of every backend (b=1, h=16, d 64 and 128,
#                          lq=lk 512..8192, mask none and causal, 1 and 2 threads)
#   README.md              the tables, with links to the plots
#   check-quick.json       the quick conformance suite, check --format json
#   report.html            attnbench report of the JSON files above
# The sweep takes about 20 minutes; REGEN_SWEEP=0 keeps the sweep files there.
# Usage: scripts/regen_results.sh [BUILD_DIR] [MACHINE_NAME]
# Without MACHINE_NAME (or ATTNBENCH_MACHINE) the folder is named from what
# `attnbench info` reads off the CPU: its microarchitecture where CPUID's
# family and model say it (zen3, zen4, zen5; else vendor-fFAMILY-mMODEL),
# the core count and the host name, e.g. zen4-2core-vm.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=$build/bench/attnbench
[ -x "$bin" ] || { echo "attnbench: error: $bin not built (run scripts/quickstart.sh)" >&2; exit 2; }
# The microarchitecture from CPUID's family and model (AMD's published ranges).
machine_name() {
  local info vendor family model cores uarch
  info=$("$bin" info)
  read -r vendor family model < <(sed -n 's/^ *cpu_id *\([^ ]*\) family \([0-9]*\) model \([0-9]*\)$/\1 \2 \3/p' <<<"$info")
  cores=$(sed -n 's/^ *topology .* \([0-9]*\) core(s).*/\1/p' <<<"$info")
  uarch="${vendor:-cpu}-f${family:-x}-m${model:-x}"
  if [ "$vendor" = AuthenticAMD ] && [ "$family" = 25 ]; then
    if [ "$model" -lt 16 ] || { [ "$model" -ge 32 ] && [ "$model" -lt 96 ]; }; then uarch=zen3; else uarch=zen4; fi
  elif [ "$vendor" = AuthenticAMD ] && [ "$family" = 26 ]; then
    uarch=zen5
  fi
  echo "$uarch-${cores:-x}core-$(hostname)"
}
machine=${2:-${ATTNBENCH_MACHINE:-$(machine_name)}}
out=results/$machine
mkdir -p "$out"

"$bin" check --suite quick --format json --out "$out/check-quick.json" >/dev/null
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
        roof = f"{b['pct_peak']:.0f}%" if b.get("pct_peak") is not None else "-"
        print(f"| {b['backend']} | {b['threads']} | {b['problem']} | {med:.3f} | {spread:.1f}% | {ci} | {b['gflops']:.1f} | {roof} | {b['note']} |")


doc = json.loads((out / "default.json").read_text())
c = doc["context"]
if c.get("cpu_family") is not None:
    ratio = c.get("fma_zmm_over_ymm")
    print(f"CPU: {c['cpu_model']}, {c.get('cpu_vendor', '')} family {c['cpu_family']} model {c['cpu_model_number']}, "
          f"{c['num_cores']} cores; roofline {c.get('peak_gflops') or 0:.1f} GFLOP/s fp32 FMA, "
          f"{c.get('read_gbs') or 0:.1f} GB/s read at the most threads measured"
          + (f"; zmm/ymm FMA peak ratio {ratio:.2f}" if ratio else "") + ".\n")
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
"$bin" report "$out"/default.json "$out"/ci-smoke.json "$out"/prefill-none.json "$out"/prefill-causal.json \
  "$out"/check-quick.json --out "$out/report.html"
echo "wrote $out"
