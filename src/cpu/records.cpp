// CPU reference twin of cuda/records.cu: activation records, the maximum of every map of every
// image and where it is; and of the fused conv2d_relu_records (cuda/conv2d.cu), which is defined
// as exactly the composition conv2d_forward → relu_forward → max_records.
//
//   value[n,k]    = max over p of y[n,k,p]
//   position[n,k] = the smallest p where that maximum occurs (row-major over the H·W plane); a
//                   NaN beats every number, and the first NaN wins among several.
// Shapes: y (N,K,HW) fp32 post-ReLU; value (N,K) fp32; position (N,K) int32.
// Glossary: N images, K maps, HW positions per map (H·W flattened).
#include <cmath>
#include <vector>

#include "aulens/ops.h"

namespace aulens {

void CpuOps::max_records(int n, int k, int hw, const float* y, float* value,
                         std::int32_t* position) {
  AULENS_CHECK(n >= 0 && k >= 0 && hw > 0, "max_records: bad shape (N,K,HW) = (" +
                                               std::to_string(n) + ", " + std::to_string(k) + ", " +
                                               std::to_string(hw) + ")");
  const std::int64_t rows = static_cast<std::int64_t>(n) * k;
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < rows; ++row) {
    const float* plane = y + row * hw;
    float best = plane[0];
    std::int32_t best_at = 0;
    for (int p = 1; p < hw && !std::isnan(best); ++p) {
      const float v = plane[p];
      if (v > best || std::isnan(v)) {
        best = v;
        best_at = p;
      }
    }
    value[row] = best;
    position[row] = best_at;
  }
}

void CpuOps::conv2d_relu_records(const ConvShape& s, const float* x, const float* w, const float* b,
                                 float* value, std::int32_t* position) {
  AULENS_CHECK(s.n >= 0 && s.k >= 1 && s.h >= 1 && s.w >= 1,
               "conv2d_relu_records: need N >= 0 and K, H, W >= 1");
  if (s.n == 0) return;
  const std::int64_t count = static_cast<std::int64_t>(s.n) * s.k * s.h * s.w;
  std::vector<float> maps(static_cast<std::size_t>(count));
  conv2d_forward(s, x, w, b, maps.data());
  relu_forward(count, maps.data(), maps.data());
  max_records(s.n, s.k, s.h * s.w, maps.data(), value, position);
}

}  // namespace aulens
