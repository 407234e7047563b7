#!/usr/bin/env bash
# The main command: installs what is missing, builds aulens, and runs every stage of
# configs/default.yaml (the built-in synthetic dataset). The report ends up in
# runs/default/report/index.html. On a machine without a GPU the config's `cpu:` section makes it
# a job of a few minutes; with a GPU (and the CUDA toolkit) it is the paper-sized job.
#   bash tools/run_default.sh [extra `aulens run` options, e.g. --force]
# Environment: BUILD_DIR (default build), CONFIG (default configs/default.yaml), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" >/dev/null
cmake --build "$build_dir" --target aulens -j "${JOBS:-$(nproc)}"
"$build_dir/aulens" run "${CONFIG:-configs/default.yaml}" "$@"
