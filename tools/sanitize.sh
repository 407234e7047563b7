#!/usr/bin/env bash
# The CPU build under AddressSanitizer and UndefinedBehaviorSanitizer: every C++ source (the CPU
# twins, engine, data and IO, the CLI and the tests; no CUDA) compiled with
# -fsanitize=address,undefined, stopping at the first report, then the CPU test suite (ctest label
# "cpu"; extra arguments go to ctest, e.g. -R FuzzReaders or --rerun-failed). A check by hand, not
# part of the test command: it takes a build of its own, and the emulated GPU suites are not in it
# (they need the CUDA toolkit's build). Run it from the repository root:
#   bash tools/sanitize.sh                 (build-san/, all CPU tests)
#   AULENS_FUZZ_ROUNDS=20 bash tools/sanitize.sh -R FuzzReaders
# Environment: BUILD_DIR (default build-san), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build-san}
jobs=${JOBS:-$(nproc)}
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAULENS_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build "$build_dir" -j "$jobs"
# Leaks are not checked: OpenCV, OpenMP and OpenBLAS keep allocations to the end of a process.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 1800 -L cpu "$@"
