// Activation records on the GPU (twin of src/cpu/records.cpp): per (image, map) row of y, the
// maximum over the HW positions and the row-major index of its first occurrence (a NaN beats
// every number; the first NaN among several).
//   y: (N,K,HW) fp32   value: (N,K) fp32   position: (N,K) int32
// One warp per row: lane l scans positions l, l+32, … (coalesced), keeping its first best, then a
// shuffle reduction where equal values go to the smaller position, so the result is the CPU's.
// The unfused path: conv3 records of the hand-written backend are fused into the conv GEMM's
// epilogue (conv2d_relu_records, cuda/conv2d_gemm_kernel.cuh); this kernel serves cuDNN, conv1 and
// conv2 records, and shapes the fused epilogue does not take.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_records_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <climits>
#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;
constexpr int kWarp = 32;

// True when (va, pa) is the better record: NaN first (smaller position among NaN), then larger
// value, then smaller position.
__device__ __forceinline__ bool better(float va, int pa, float vb, int pb) {
  const bool a_nan = isnan(va), b_nan = isnan(vb);
  if (a_nan || b_nan) return a_nan && (!b_nan || pa < pb);
  return va > vb || (va == vb && pa < pb);
}

static __global__ void max_records_kernel(std::int64_t rows, int hw, const float* y, float* value,
                                          std::int32_t* position) {
  const std::int64_t row =
      (blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= rows) return;  // whole warps leave together
  const float* plane = y + row * hw;
  float best = -INFINITY;
  int best_at = INT_MAX;
  for (int p = lane; p < hw; p += kWarp) {
    const float v = plane[p];
    if (better(v, p, best, best_at)) {
      best = v;
      best_at = p;
    }
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float other = __shfl_down_sync(0xffffffffu, best, offset);
    const int other_at = __shfl_down_sync(0xffffffffu, best_at, offset);
    if (better(other, other_at, best, best_at)) {
      best = other;
      best_at = other_at;
    }
  }
  if (lane == 0) {
    value[row] = best;
    position[row] = best_at;
  }
}

}  // namespace
}  // namespace aulens
