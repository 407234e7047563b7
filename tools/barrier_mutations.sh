#!/usr/bin/env bash
# Checks that the host emulation tests notice a missing barrier: removes each __syncthreads() and
# __syncwarp() of the kernel headers in cuda/, one at a time, rebuilds that kernel's emulation test,
# and runs it in the forward and the reverse schedule (tests/emu/block_emu.h). Prints one line per
# barrier: which schedules failed (a barrier no schedule misses is either redundant or guarded by
# something the emulator treats as a barrier, e.g. a warp collective). It works on a copy of the
# working tree (uncommitted changes included) with a CPU-only build of its own, so the checkout and
# its build folders are never touched. About 20 minutes on 2 cores; a developer tool, not in CI.
#
#   bash tools/barrier_mutations.sh [HEADER ...]   (default: every header below)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$WORK"
cd "$WORK"
BUILD="$WORK/build"
cmake -S . -B "$BUILD" -G Ninja -DAULENS_CUDA=OFF >/dev/null

declare -A TEST_OF=(
  [au_sweep_kernels.cuh]=test_au_sweep_emu
  [augment_kernel.cuh]=test_augment_emu
  [conv2d_filter_grad_kernel.cuh]=test_conv2d_emu
  [conv2d_gemm_kernel.cuh]=test_conv2d_emu
  [conv2d_tiles.cuh]=test_conv2d_emu
  [deconv_window_kernel.cuh]=test_deconv_window_emu
  [linear_kernel.cuh]=test_linear_bias_emu
  [softmax_xent_kernel.cuh]=test_softmax_xent_emu
  [topn_kernel.cuh]=test_topn_emu
)
headers=("$@")
[ ${#headers[@]} -gt 0 ] || headers=("${!TEST_OF[@]}")

SAVED="$WORK/saved.cuh"

run_test() {  # run_test TEST SCHEDULE → "caught" or "missed"
  if AULENS_EMU_SCHEDULE="$2" "$BUILD/$1" --gtest_brief=1 >/dev/null 2>&1; then
    echo missed
  else
    echo caught
  fi
}

printf "%-40s %-8s %-8s\n" "barrier" "forward" "reverse"
for header in "${headers[@]}"; do
  test_name="${TEST_OF[$header]:?no emulation test known for $header}"
  for line in $(grep -n "__syncthreads();\|__syncwarp();" "cuda/$header" | grep -v "^[0-9]*:\s*//" | cut -d: -f1); do
    cp "cuda/$header" "$SAVED"
    sed -i "${line}s/__syncthreads();/(void)0;/; ${line}s/__syncwarp();/(void)0;/" "cuda/$header"
    if cmake --build "$BUILD" --target "$test_name" >/dev/null 2>&1; then
      printf "%-40s %-8s %-8s\n" "$header:$line" "$(run_test "$test_name" forward)" \
        "$(run_test "$test_name" reverse)"
    else
      printf "%-40s %s\n" "$header:$line" "BUILD FAILED"
    fi
    cp "$SAVED" "cuda/$header"
  done
done
