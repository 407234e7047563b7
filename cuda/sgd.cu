// SGD on the GPU: the launchers; the kernels and their method are in sgd_kernel.cuh.
#include <cstdint>
#include "aulens/ops.h"
#include "common.cuh"
#include "sgd_kernel.cuh"

namespace aulens {

void CudaOps::sgd_update(std::int64_t count, const SgdConfig& cfg, float* w, const float* g,
                         float* v) {
  AULENS_CHECK(count >= 0, "sgd_update: negative count");
  if (count == 0) return;
  AULENS_CHECK(w != nullptr && g != nullptr && v != nullptr, "sgd_update: null pointer");
  const std::int64_t max_blocks = 132 * 32;
  std::int64_t blocks = (count + kThreads - 1) / kThreads;
  if (blocks > max_blocks) blocks = max_blocks;
  cuda_detail::launch(sgd_update_kernel, static_cast<unsigned>(blocks), kThreads, 0, count, cfg.lr,
                      cfg.momentum, cfg.weight_decay, w, g, v);
  AULENS_CHECK_LAUNCH("sgd_update_kernel");
}

}  // namespace aulens
