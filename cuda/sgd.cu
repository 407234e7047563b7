// SGD with momentum and weight decay on the GPU (twin of src/cpu/sgd.cpp), PyTorch semantics:
//   g' = g + weight_decay·w;   v = momentum·v + g';   w = w − lr·v
//   w, v: (count) updated in place   g: (count)
// Each product and sum is rounded separately (__fmul_rn/__fadd_rn: no fused multiply-add), so
// the result matches a plain C++ loop that evaluates the same expressions in the same order.
#include <cstdint>

#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {
namespace {

constexpr int kThreads = 256;

static __global__ void sgd_update_kernel(std::int64_t count, float lr, float momentum,
                                         float weight_decay, float* w, const float* g, float* v) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const float weight = w[i];
    const float grad = __fadd_rn(g[i], __fmul_rn(weight_decay, weight));
    const float velocity = __fadd_rn(__fmul_rn(momentum, v[i]), grad);
    v[i] = velocity;
    w[i] = __fsub_rn(weight, __fmul_rn(lr, velocity));
  }
}

}  // namespace

void CudaOps::sgd_update(std::int64_t count, const SgdConfig& cfg, float* w, const float* g,
                         float* v) {
  AULENS_CHECK(count >= 0, "sgd_update: negative count");
  if (count == 0) return;
  AULENS_CHECK(w != nullptr && g != nullptr && v != nullptr, "sgd_update: null pointer");
  const std::int64_t max_blocks = 132 * 32;
  std::int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks > max_blocks) blocks = max_blocks;
  sgd_update_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, cuda_detail::stream()>>>(
      count, cfg.lr, cfg.momentum, cfg.weight_decay, w, g, v);
  AULENS_CHECK_LAUNCH("sgd_update_kernel");
}

}  // namespace aulens
