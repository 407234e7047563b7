// Inverted dropout on the GPU: the launchers; the kernels and their method are in
// dropout_kernel.cuh.
#include <cstdint>
#include <string>

#include "aulens/ops.h"
#include "aulens/rng.h"
#include "common.cuh"
#include "dropout_kernel.cuh"

namespace aulens {
namespace {

unsigned grid_for(std::int64_t count) {
  const std::int64_t max_blocks = 132 * 32;
  const std::int64_t blocks = (count + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks > max_blocks ? max_blocks : blocks);
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
  cuda_detail::launch(dropout_forward_kernel, grid_for(count), kThreads, 0, count, p, keep_scale(p),
                      seed, offset, x, y, mask);
  AULENS_CHECK_LAUNCH("dropout_forward_kernel");
}

void CudaOps::dropout_backward(std::int64_t count, float p, const std::uint8_t* mask,
                               const float* dy, float* dx) {
  check_p(p, "dropout_backward");
  AULENS_CHECK(count >= 0, "dropout_backward: negative count");
  if (count == 0) return;
  AULENS_CHECK(mask != nullptr && dy != nullptr && dx != nullptr, "dropout_backward: null pointer");
  cuda_detail::launch(dropout_backward_kernel, grid_for(count), kThreads, 0, count, keep_scale(p),
                      mask, dy, dx);
  AULENS_CHECK_LAUNCH("dropout_backward_kernel");
}

}  // namespace aulens
