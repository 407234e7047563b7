// Parallel top-n on the GPU: the launcher; the kernel and its method are in topn_kernel.cuh.
#include <climits>
#include <cstdint>
#include <string>

#include "aulens/ops.h"
#include "common.cuh"
#include "topn_kernel.cuh"

namespace aulens {

void CudaOps::topn_select(int images, int maps, int n, const float* values,
                          std::int32_t* top_images, float* top_values) {
  AULENS_CHECK(images > 0 && maps >= 0 && n >= 1 && n <= images && n <= kMaxTopN,
               "topn_select: need 1 <= n <= min(images, " + std::to_string(kMaxTopN) +
                   "), got n = " + std::to_string(n) + " for " + std::to_string(images) +
                   " images, " + std::to_string(maps) + " maps");
  if (maps == 0) return;
  AULENS_CHECK(values != nullptr && top_images != nullptr && top_values != nullptr,
               "topn_select: null pointer");
  cuda_detail::launch(topn_select_kernel, maps, kThreads, 0, images, maps, n, values, top_images,
                      top_values);
  AULENS_CHECK_LAUNCH("topn_select_kernel");
}

}  // namespace aulens
