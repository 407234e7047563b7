// CPU reference twin of cuda/topn.cu: per map, the n images with the largest values.
//
//   top_images[m, 0..n)  the image indices i ordered by (values[i,m] descending, i ascending),
//                        NaN below every number; the first n of that order
//   top_values[m, r]     values[top_images[m, r], m]
// Shapes: values (I, M) fp32, row i = one image; top_images (M, n) int32; top_values (M, n) fp32.
// Glossary: I images, M maps, n list length (1 ≤ n ≤ min(I, 32)).
// Method: one pass per map keeping a sorted list of n (insertion), so the order is exactly the
// (value, index) order above whatever the traversal.
#include <cmath>

#include "aulens/ops.h"

namespace aulens {

namespace {

constexpr int kMaxTopN = 32;  // the CUDA twin keeps per-thread lists of at most this length

// True when (va, ia) ranks before (vb, ib).
bool ranks_before(float va, std::int32_t ia, float vb, std::int32_t ib) {
  const bool a_nan = std::isnan(va), b_nan = std::isnan(vb);
  if (a_nan || b_nan) return a_nan && b_nan ? ia < ib : b_nan;
  return va > vb || (va == vb && ia < ib);
}

}  // namespace

void CpuOps::topn_select(int images, int maps, int n, const float* values, std::int32_t* top_images,
                         float* top_values) {
  AULENS_CHECK(images > 0 && maps >= 0 && n >= 1 && n <= images && n <= kMaxTopN,
               "topn_select: need 1 <= n <= min(images, " + std::to_string(kMaxTopN) +
                   "), got n = " + std::to_string(n) + " for " + std::to_string(images) +
                   " images, " + std::to_string(maps) + " maps");
#pragma omp parallel for schedule(static)
  for (int m = 0; m < maps; ++m) {
    float list_values[kMaxTopN];
    std::int32_t list_images[kMaxTopN];
    int length = 0;
    for (int i = 0; i < images; ++i) {
      const float v = values[static_cast<std::int64_t>(i) * maps + m];
      if (length == n && !ranks_before(v, i, list_values[n - 1], list_images[n - 1])) continue;
      // Insert (v, i) keeping the list sorted; the last entry falls off a full list.
      int at = length < n ? length++ : n - 1;
      while (at > 0 && ranks_before(v, i, list_values[at - 1], list_images[at - 1])) {
        list_values[at] = list_values[at - 1];
        list_images[at] = list_images[at - 1];
        --at;
      }
      list_values[at] = v;
      list_images[at] = i;
    }
    for (int r = 0; r < n; ++r) {
      top_images[static_cast<std::int64_t>(m) * n + r] = list_images[r];
      top_values[static_cast<std::int64_t>(m) * n + r] = list_values[r];
    }
  }
}

}  // namespace aulens
