// Softmax cross-entropy, mean over the batch (twin of src/cpu/softmax_xent.cpp).
//   logits: (N, classes)  labels: (N) int32  loss: (1)  dlogits: (N, classes) or nullptr
//   row loss  = lse − row[label],  lse = max + log Σ exp(v − max)   (stable log-sum-exp)
//   loss      = Σ_rows row loss / N
//   dlogits   = (exp(v − lse) − onehot(label)) / N
// Computed in double like the CPU twin (the class count is small, 7 or 8 in the network).
// One warp per row. Row losses go to a scratch buffer; a second single-block kernel adds them
// in a fixed tree order, so the loss is bitwise reproducible — no atomics. A label outside
// [0, classes) cannot throw on the device (the CPU twin throws): that row's loss and dlogits
// are NaN, so the trainer's NaN check stops.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_softmax_xent_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;  // 8 rows per block
constexpr int kSumThreads = 256;

__device__ __forceinline__ double warp_max(double v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    v = fmax(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  return v;
}

// row_loss: (N) double scratch. One warp per row.
static __global__ void softmax_xent_rows_kernel(int n, int classes, const float* logits,
                                                const std::int32_t* labels, double* row_loss,
                                                float* dlogits) {
  const int row =
      static_cast<int>((blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x) / kWarp);
  const int lane = threadIdx.x % kWarp;
  if (row >= n) return;  // whole warps leave together (row is uniform within a warp)
  const float* in = logits + static_cast<std::int64_t>(row) * classes;
  double row_max = -INFINITY;
  for (int k = lane; k < classes; k += kWarp) row_max = fmax(row_max, static_cast<double>(in[k]));
  row_max = warp_max(row_max);
  double sum = 0.0;
  for (int k = lane; k < classes; k += kWarp) sum += exp(static_cast<double>(in[k]) - row_max);
  sum = warp_sum(sum);
  const double lse = row_max + log(sum);
  const int label = labels[row];
  const bool label_ok = label >= 0 && label < classes;
  if (lane == 0) row_loss[row] = label_ok ? lse - static_cast<double>(in[label]) : NAN;
  if (dlogits != nullptr) {
    float* out = dlogits + static_cast<std::int64_t>(row) * classes;
    const double inv_n = 1.0 / n;
    for (int k = lane; k < classes; k += kWarp) {
      const double p = exp(static_cast<double>(in[k]) - lse);
      out[k] = label_ok ? static_cast<float>((p - (k == label ? 1.0 : 0.0)) * inv_n) : NAN;
    }
  }
}

// loss = Σ row_loss / n, one block, fixed-order reduction.
static __global__ void mean_loss_kernel(int n, const double* row_loss, float* loss) {
  AULENS_STATIC_SHARED(double, partial, [kSumThreads]);
  double sum = 0.0;
  for (int i = threadIdx.x; i < n; i += kSumThreads) sum += row_loss[i];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kSumThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss = static_cast<float>(partial[0] * (1.0 / n));
}

}  // namespace
}  // namespace aulens
