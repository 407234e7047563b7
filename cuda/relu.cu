// ReLU on the GPU: the launchers; the kernels and their method are in relu_kernel.cuh.
#include <cstdint>
#include "aulens/ops.h"
#include "common.cuh"
#include "relu_kernel.cuh"

namespace aulens {
namespace {

bool aligned16(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

unsigned grid_for(std::int64_t work_items) {
  const std::int64_t max_blocks = 132 * 32;  // enough to fill any current GPU; loops do the rest
  std::int64_t blocks = (work_items + kThreads - 1) / kThreads;
  if (blocks > max_blocks) blocks = max_blocks;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

}  // namespace

void CudaOps::relu_forward(std::int64_t count, const float* x, float* y) {
  AULENS_CHECK(count >= 0, "relu_forward: negative count " + std::to_string(count));
  if (count == 0) return;
  AULENS_CHECK(x != nullptr && y != nullptr, "relu_forward: null pointer");
  if (aligned16(x) && aligned16(y)) {
    // The tail (< 4 values) is handled by the first threads of the grid, so ≥ 4 threads exist.
    cuda_detail::launch(relu_forward_vec4_kernel, grid_for(count / 4 + 4), kThreads, 0, count,
                        reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(y));
    AULENS_CHECK_LAUNCH("relu_forward_vec4_kernel");
  } else {
    cuda_detail::launch(relu_forward_scalar_kernel, grid_for(count), kThreads, 0, count, x, y);
    AULENS_CHECK_LAUNCH("relu_forward_scalar_kernel");
  }
}

void CudaOps::relu_backward(std::int64_t count, const float* y, const float* dy, float* dx) {
  AULENS_CHECK(count >= 0, "relu_backward: negative count " + std::to_string(count));
  if (count == 0) return;
  AULENS_CHECK(y != nullptr && dy != nullptr && dx != nullptr, "relu_backward: null pointer");
  if (aligned16(y) && aligned16(dy) && aligned16(dx)) {
    cuda_detail::launch(relu_backward_vec4_kernel, grid_for(count / 4 + 4), kThreads, 0, count,
                        reinterpret_cast<const float4*>(y), reinterpret_cast<const float4*>(dy),
                        reinterpret_cast<float4*>(dx));
    AULENS_CHECK_LAUNCH("relu_backward_vec4_kernel");
  } else {
    cuda_detail::launch(relu_backward_scalar_kernel, grid_for(count), kThreads, 0, count, y, dy,
                        dx);
    AULENS_CHECK_LAUNCH("relu_backward_scalar_kernel");
  }
}

}  // namespace aulens
