#!/usr/bin/env bash
# The main job from a fresh clone: install what is missing, build, check every
# backend against the reference (quick suite), then print the default
# benchmark table. Usage: scripts/quickstart.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

bash scripts/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DATTNBENCH_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null
"$build/bench/attnbench" list
"$build/bench/attnbench" check --suite quick
# The roofline the table's %roof column is measured against, once per machine.
if "$build/bench/attnbench" info 2>/dev/null | grep -q "attnbench info --peak measures it"; then
  "$build/bench/attnbench" info --peak | sed -n '/^peak/,/cache/p'
fi
# The default suite (bench/suites/default.txt), threads pinned.
"$build/bench/attnbench" bench
