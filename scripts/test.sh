#!/usr/bin/env bash
# Installs what is missing, builds the tests with warnings as errors and runs
# them with ctest. --sanitize builds and runs them under ASan and UBSan;
# --cc COMPILER picks the C compiler (gcc by default).
# --tsan builds with ThreadSanitizer and runs the thread-safety test
# (tests/impls/test_threads.c: two threads, one backend, separate plans) with
# one thread per backend call: libgomp is not built with TSan, and the
# synchronisation inside a team it cannot see reads as races between the
# team's workers.
# --valgrind runs `check` on the quick suite for the naive, avx2 and blas
# backends under valgrind memcheck (it cannot decode AVX-512, so OpenBLAS is
# held to its Haswell kernels and avx512 is not offered), failing on any
# memory error or definite leak.
# Usage: scripts/test.sh [--sanitize|--tsan|--valgrind] [--cc clang]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
mode=test
cc=${CC:-gcc}
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --tsan) mode=tsan ;;
    --valgrind) mode=valgrind ;;
    --cc) cc=$2; shift ;;
    *) echo "attnbench: error: test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
build=build-test-$(basename "$cc")
[ "$sanitize" = ON ] && build=$build-asan

bash scripts/deps.sh
[ "$cc" = clang ] && ! command -v clang >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null

if [ "$mode" = tsan ]; then
  build=build-test-$(basename "$cc")-tsan
  cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_WERROR=ON \
        -DATTNBENCH_TSAN=ON >/dev/null
  cmake --build "$build" -j "$(nproc)" --target test_threads
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} "$build/tests/test_threads"
  exit
fi
if [ "$mode" = valgrind ]; then
  command -v valgrind >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  build=build-test-$(basename "$cc")
  cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_WERROR=ON \
        -DATTNBENCH_SANITIZE=OFF >/dev/null
  cmake --build "$build" -j "$(nproc)" --target attnbench
  # Only definite leaks count: libgomp keeps its threads' TLS to the end.
  # hwloc's x86 CPUID backend refuses to run under valgrind (and says so).
  HWLOC_COMPONENTS=-x86 OPENBLAS_CORETYPE=Haswell valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
      --show-leak-kinds=definite "$build/bench/attnbench" check --backend naive,avx2,blas --suite quick --threads 2
  exit
fi

# tests/cli/test_report.py renders the report in headless Chromium, so that
# CI sees what a browser makes of it. Only the test needs a browser (the
# report is a self-contained file), so quickstart.sh does not install it.
if ! command -v chromium >/dev/null; then
  as_root=()
  [ "$(id -u)" -ne 0 ] && as_root=(sudo)
  echo "attnbench: installing chromium (the report test renders its page)" >&2
  { DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null 2>&1 ||
    { "${as_root[@]}" apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null; }; } ||
    echo "attnbench: note: chromium could not be installed; the report test skips its browser part" >&2
fi

cmake -S . -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTNBENCH_WERROR=ON \
      -DATTNBENCH_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" -j "$(nproc)"
# Sanitizer failures fail the test that hit them, leaks included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure
