// Fused augmentation on the GPU: the launchers; the kernels and their method are in
// augment_kernel.cuh.
#include <cstdint>

#include "augment_kernel.cuh"
#include "aulens/augment.h"
#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {

void CudaOps::augment_batch(int n, int crop_size, int out_size, const std::uint8_t* crops,
                            const std::int32_t* indices, const AugmentParams* params, float* out) {
  AULENS_CHECK(n >= 0, "augment_batch: negative batch size " + std::to_string(n));
  AULENS_CHECK(crop_size > 0 && out_size > 0,
               "augment_batch: expected crop and output sizes > 0, got S=" +
                   std::to_string(crop_size) + " O=" + std::to_string(out_size));
  if (n == 0) return;
  AULENS_CHECK(crops != nullptr && indices != nullptr && params != nullptr && out != nullptr,
               "augment_batch: null pointer");
  cuda_detail::launch(augment_kernel, static_cast<unsigned>(n), kThreads, 0, crop_size, out_size,
                      crops, indices, params, out);
  AULENS_CHECK_LAUNCH("augment_kernel");
}

}  // namespace aulens
