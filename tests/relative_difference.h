// How far one float array is from a reference, for the tests that compare a GPU result with its
// CPU twin at the scale of the whole tensor.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace aulens::testing {

// max |got − want| / max |want| (0 when both are all zeros; the difference itself when `want` is
// all zeros). A NaN matches only a NaN; a NaN on one side, or a size mismatch, gives infinity.
inline double relative_difference(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
    if (std::isnan(want[i])) continue;
    diff = std::max(diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
  }
  return scale > 0.0 ? diff / scale : diff;
}

}  // namespace aulens::testing
