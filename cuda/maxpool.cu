// 2×2 max pooling on the GPU: the launchers; the kernels and their method are in
// maxpool_kernel.cuh.
#include <cmath>
#include <cstdint>
#include <string>

#include "aulens/ops.h"
#include "common.cuh"
#include "maxpool_kernel.cuh"

namespace aulens {
namespace {

void check_shape(const PoolShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0,
               std::string(op) + ": negative dimension in (N,C,H,W) = (" + std::to_string(s.n) +
                   "," + std::to_string(s.c) + "," + std::to_string(s.h) + "," +
                   std::to_string(s.w) + ")");
  AULENS_CHECK(static_cast<std::int64_t>(s.h) * s.w < (std::int64_t{1} << 31),
               std::string(op) + ": plane too large for int32 switches");
}

}  // namespace

void CudaOps::maxpool2x2_forward(const PoolShape& s, const float* x, float* y,
                                 std::int32_t* switches) {
  check_shape(s, "maxpool2x2_forward");
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t total = planes * s.out_h() * s.out_w();
  if (total == 0) return;
  AULENS_CHECK(x != nullptr && y != nullptr && switches != nullptr,
               "maxpool2x2_forward: null pointer");
  cuda_detail::launch(maxpool2x2_forward_kernel, cuda_detail::blocks_for(total, kThreads), kThreads,
                      0, planes, s.h, s.w, x, y, switches);
  AULENS_CHECK_LAUNCH("maxpool2x2_forward_kernel");
}

void CudaOps::max_unpool2x2(const PoolShape& s, const float* dy, const std::int32_t* switches,
                            float* dx) {
  check_shape(s, "max_unpool2x2");
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t total = planes * s.h * s.w;
  if (total == 0) return;
  AULENS_CHECK(dx != nullptr, "max_unpool2x2: null dx");
  AULENS_CHECK((dy != nullptr && switches != nullptr) || s.out_h() * s.out_w() == 0,
               "max_unpool2x2: null dy or switches");
  cuda_detail::launch(max_unpool2x2_kernel, cuda_detail::blocks_for(total, kThreads), kThreads, 0,
                      planes, s.h, s.w, dy, switches, dx);
  AULENS_CHECK_LAUNCH("max_unpool2x2_kernel");
}

}  // namespace aulens
