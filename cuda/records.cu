// Activation records on the GPU (twin of src/cpu/records.cpp): per (image, map) row of y, the
// maximum over the HW positions and the row-major index of its first occurrence (a NaN beats
// every number; the first NaN among several).
//   y: (N,K,HW) fp32   value: (N,K) fp32   position: (N,K) int32
// One warp per row: lane l scans positions l, l+32, … (coalesced), keeping its first best, then a
// shuffle reduction where equal values go to the smaller position, so the result is the CPU's.
// Runs after conv3 on each batch; fusing it into the conv epilogue is a later optimisation.
#include <climits>
#include <cstdint>

#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {
namespace {

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

void CudaOps::max_records(int n, int k, int hw, const float* y, float* value,
                          std::int32_t* position) {
  AULENS_CHECK(n >= 0 && k >= 0 && hw > 0, "max_records: bad shape (N,K,HW) = (" +
                                               std::to_string(n) + ", " + std::to_string(k) + ", " +
                                               std::to_string(hw) + ")");
  const std::int64_t rows = static_cast<std::int64_t>(n) * k;
  if (rows == 0) return;
  AULENS_CHECK(y != nullptr && value != nullptr && position != nullptr,
               "max_records: null pointer");
  max_records_kernel<<<cuda_detail::blocks_for(rows * kWarp, kThreads), kThreads, 0,
                       cuda_detail::stream()>>>(rows, hw, y, value, position);
  AULENS_CHECK_LAUNCH("max_records_kernel");
}

}  // namespace aulens
