#!/usr/bin/env bash
# Installs what is missing, builds the tests with warnings as errors and runs
# them with ctest. --sanitize builds and runs them under ASan and UBSan;
# --cc COMPILER picks the C compiler (gcc by default).
# Usage: scripts/test.sh [--sanitize] [--cc clang]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
cc=${CC:-gcc}
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --cc) cc=$2; shift ;;
    *) echo "attnbench: error: test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
build=build-test-$(basename "$cc")
[ "$sanitize" = ON ] && build=$build-asan

bash scripts/deps.sh
[ "$cc" = clang ] && ! command -v clang >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_WERROR=ON \
      -DATTNBENCH_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j "$(nproc)"
# Sanitizer failures fail the test that hit them, leaks included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure
