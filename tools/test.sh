#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs the whole test suite.
#   bash tools/test.sh            (from the repository root)
# GPU tests (ctest label "gpu") are built when nvcc is present and skip themselves without a GPU.
# Environment: BUILD_DIR (default build), CUDA_ARCHS (default 90), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}"
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 900
