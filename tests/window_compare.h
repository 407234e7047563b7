// Compares one 32×32 projection window with the CPU twin's, for the projection tests
// (tests/test_deconv_window_emu.cpp, tests/gpu/test_records_gpu.cpp): every pixel must satisfy
// |got − want| ≤ a·max|want window| + b·|want|; NaN fails.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace aulens::testing {

// got, want: the 1024 pixels of one window. Returns max |want| (0 for an all-zero window).
inline float expect_window_close(const float* got, const float* want, double a, double b) {
  float window_max = 0.0f;
  for (int e = 0; e < 32 * 32; ++e) window_max = std::max(window_max, std::fabs(want[e]));
  double worst = 0.0;
  int worst_at = -1;
  for (int e = 0; e < 32 * 32; ++e) {
    const double excess = std::isnan(got[e]) ? 1.0
                                             : std::fabs(got[e] - want[e]) -
                                                   (a * window_max + b * std::fabs(want[e]));
    if (excess > worst) {
      worst = excess;
      worst_at = e;
    }
  }
  EXPECT_LE(worst, 0.0) << "worst pixel (" << worst_at / 32 << ", " << worst_at % 32 << "): kernel "
                        << (worst_at >= 0 ? got[worst_at] : 0.0f) << " cpu "
                        << (worst_at >= 0 ? want[worst_at] : 0.0f) << ", max |cpu window| "
                        << window_max;
  return window_max;
}

}  // namespace aulens::testing
