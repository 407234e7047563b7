// Activation records on the GPU: the launcher; the kernel and its method are in records_kernel.cuh.
#include <climits>
#include <cstdint>
#include <string>

#include "aulens/ops.h"
#include "common.cuh"
#include "records_kernel.cuh"

namespace aulens {

void CudaOps::max_records(int n, int k, int hw, const float* y, float* value,
                          std::int32_t* position) {
  AULENS_CHECK(n >= 0 && k >= 0 && hw > 0, "max_records: bad shape (N,K,HW) = (" +
                                               std::to_string(n) + ", " + std::to_string(k) + ", " +
                                               std::to_string(hw) + ")");
  const std::int64_t rows = static_cast<std::int64_t>(n) * k;
  if (rows == 0) return;
  AULENS_CHECK(y != nullptr && value != nullptr && position != nullptr,
               "max_records: null pointer");
  cuda_detail::launch(max_records_kernel, cuda_detail::blocks_for(rows * kWarp, kThreads), kThreads,
                      0, rows, hw, y, value, position);
  AULENS_CHECK_LAUNCH("max_records_kernel");
}

}  // namespace aulens
