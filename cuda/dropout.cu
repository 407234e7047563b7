// Inverted dropout on the GPU (twin of src/cpu/dropout.cpp).
//   x, y, dy, dx: (count) fp32   mask: (count) uint8, 1 = kept
//   element i is kept iff aulens::uniform01(seed, offset + i) >= p  (aulens/rng.h, the same
//   counter-based generator on both twins, so the masks are identical);
//   forward  y  = kept ? x · 1/(1−p) : 0      backward dx = mask ? dy · 1/(1−p) : 0
// p = 1 drops everything (scale 0). One element per thread, grid-stride.
#include <cstdint>

#include "aulens/ops.h"
#include "aulens/rng.h"
#include "common.cuh"

namespace aulens {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t count) {
  const std::int64_t max_blocks = 132 * 32;
  const std::int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks > max_blocks ? max_blocks : blocks);
}

float keep_scale(float p) {
  return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
}

static __global__ void dropout_forward_kernel(std::int64_t count, float p, float scale,
                                              std::uint64_t seed, std::uint64_t offset,
                                              const float* x, float* y, std::uint8_t* mask) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const bool kept = uniform01(seed, offset + static_cast<std::uint64_t>(i)) >= p;
    y[i] = kept ? x[i] * scale : 0.0f;
    mask[i] = kept ? 1 : 0;
  }
}

static __global__ void dropout_backward_kernel(std::int64_t count, float scale,
                                               const std::uint8_t* mask, const float* dy,
                                               float* dx) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
  }
}

void check_p(float p, const char* op) {
  AULENS_CHECK(
      p >= 0.0f && p <= 1.0f,
      std::string(op) + ": dropout probability must be in [0, 1], got " + std::to_string(p));
}

}  // namespace

void CudaOps::dropout_forward(std::int64_t count, float p, std::uint64_t seed, std::uint64_t offset,
                              const float* x, float* y, std::uint8_t* mask) {
  check_p(p, "dropout_forward");
  AULENS_CHECK(count >= 0, "dropout_forward: negative count");
  if (count == 0) return;
  AULENS_CHECK(x != nullptr && y != nullptr && mask != nullptr, "dropout_forward: null pointer");
  dropout_forward_kernel<<<grid_for(count), kThreads, 0, cuda_detail::stream()>>>(
      count, p, keep_scale(p), seed, offset, x, y, mask);
  AULENS_CHECK_LAUNCH("dropout_forward_kernel");
}

void CudaOps::dropout_backward(std::int64_t count, float p, const std::uint8_t* mask,
                               const float* dy, float* dx) {
  check_p(p, "dropout_backward");
  AULENS_CHECK(count >= 0, "dropout_backward: negative count");
  if (count == 0) return;
  AULENS_CHECK(mask != nullptr && dy != nullptr && dx != nullptr, "dropout_backward: null pointer");
  dropout_backward_kernel<<<grid_for(count), kThreads, 0, cuda_detail::stream()>>>(
      count, keep_scale(p), mask, dy, dx);
  AULENS_CHECK_LAUNCH("dropout_backward_kernel");
}

}  // namespace aulens
