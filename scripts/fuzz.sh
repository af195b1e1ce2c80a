#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each from the
# committed seed corpus: the differential one (diff, every backend against the
# oracle) for SECONDS (default 60), the others for half of that. Any crash,
# hang, leak or sanitizer report fails the run and leaves the input in
# build-fuzz/.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
bash scripts/deps.sh
command -v clang >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
build=build-fuzz
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_WERROR=ON \
      -DATTNBENCH_FUZZ=ON -DATTNBENCH_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_problem fuzz_npy fuzz_result_json fuzz_suite fuzz_diff fuzz_cli
for target in problem npy result_json suite diff cli; do
  time=$(((seconds + 1) / 2))
  [ "$target" = diff ] && time=$seconds
  # New inputs go to a scratch corpus; the committed seeds stay as they are.
  scratch=$build/corpus-$target
  mkdir -p "$scratch"
  # The command-line target's commands print an error per input: closed.
  quiet=""
  [ "$target" = cli ] && quiet="-close_fd_mask=3"
  echo "attnbench: fuzzing $target for ${time}s" >&2
  (cd "$build" && "./tests/fuzz/fuzz_$target" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 $quiet \
      -print_final_stats=1 "corpus-$target" "../tests/fuzz/corpus/$target" 2>"fuzz-$target.log") || {
    tail -40 "$build/fuzz-$target.log" >&2
    echo "attnbench: error: fuzz_$target found a failing input (see $build/fuzz-$target.log)" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$target.log" | sed "s/^/  $target: /" >&2
done
