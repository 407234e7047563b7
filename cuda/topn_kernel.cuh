// Parallel top-n on the GPU (twin of src/cpu/topn.cpp): per map, the n images with the largest
// values, descending, equal values by the smaller image index, NaN below every number.
//   values: (I, M) fp32   top_images: (M, n) int32   top_values: (M, n) fp32
// Glossary: I images, M maps, n ≤ 32 list length, T threads per block.
// One block per map. Thread t keeps a sorted local list of its n best among images t, t+T, …
// (reads of one column: strided, but the (I, M) array is small enough to stay in L2), then n
// rounds of a block-wide arg-best over the threads' list heads; the winner is image w, owned by
// thread w mod T, which advances its head. The order is the total (value, index) order, so the
// lists equal the CPU twin's exactly.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_topn_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <climits>
#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;
constexpr int kWarp = 32;
constexpr int kMaxTopN = 32;

__device__ __forceinline__ bool ranks_before(float va, int ia, float vb, int ib) {
  const bool a_nan = isnan(va), b_nan = isnan(vb);
  if (a_nan || b_nan) return a_nan && b_nan ? ia < ib : b_nan;
  return va > vb || (va == vb && ia < ib);
}

static __global__ void topn_select_kernel(int images, int maps, int n, const float* values,
                                          std::int32_t* top_images, float* top_values) {
  const int map = blockIdx.x;
  float list_values[kMaxTopN];
  int list_images[kMaxTopN];
  int length = 0;
  for (int i = threadIdx.x; i < images; i += blockDim.x) {
    const float v = values[static_cast<std::int64_t>(i) * maps + map];
    if (length == n && !ranks_before(v, i, list_values[n - 1], list_images[n - 1])) continue;
    int at = length < n ? length++ : n - 1;
    while (at > 0 && ranks_before(v, i, list_values[at - 1], list_images[at - 1])) {
      list_values[at] = list_values[at - 1];
      list_images[at] = list_images[at - 1];
      --at;
    }
    list_values[at] = v;
    list_images[at] = i;
  }
  AULENS_STATIC_SHARED(float, warp_values, [kThreads / kWarp]);
  AULENS_STATIC_SHARED(int, warp_images, [kThreads / kWarp]);
  AULENS_STATIC_SHARED(int, winner, );
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  int head = 0;
  for (int rank = 0; rank < n; ++rank) {
    // Sentinel for an exhausted list: NaN with the largest index ranks after every real entry.
    float v = head < length ? list_values[head] : NAN;
    int i = head < length ? list_images[head] : INT_MAX;
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      const float ov = __shfl_down_sync(0xffffffffu, v, offset);
      const int oi = __shfl_down_sync(0xffffffffu, i, offset);
      if (ranks_before(ov, oi, v, i)) {
        v = ov;
        i = oi;
      }
    }
    if (lane == 0) {
      warp_values[warp] = v;
      warp_images[warp] = i;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      for (int w = 1; w < kThreads / kWarp; ++w) {
        if (ranks_before(warp_values[w], warp_images[w], v, i)) {
          v = warp_values[w];
          i = warp_images[w];
        }
      }
      top_images[static_cast<std::int64_t>(map) * n + rank] = i;
      top_values[static_cast<std::int64_t>(map) * n + rank] = v;
      winner = i;
    }
    __syncthreads();
    if (winner % kThreads == static_cast<int>(threadIdx.x)) ++head;
    __syncthreads();  // `winner` and the warp slots are rewritten next round
  }
}

}  // namespace
}  // namespace aulens
