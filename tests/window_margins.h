// How close each projection request's path is to a decision that rounding could flip, for the
// windowed projection test on Gaussian inputs (tests/gpu/test_records_gpu.cpp).
//
// A projection passes the signal back through the max-pool switches of pool2 (the 5×5 cells conv3
// reads at (y, x), every channel) and of pool1 (the 14×14 cells those conv2 pixels read). A switch
// is the first maximum of four post-ReLU conv values. Where two of them are within rounding of a
// tie, or all four are at most 0 with the largest within rounding of 0, the GPU's differently
// ordered sums may choose another pixel, and the whole contribution of that cell moves: the
// windows then differ by far more than rounding, although both sides are right.
//
// A cell's margin: with v the four pre-ReLU values, v₁ ≥ v₂ the two largest,
//   v₁ > 0: v₁ − max(v₂, 0)   (how far the winner is from a tie, or from ReLU making all four 0);
//   v₁ ≤ 0: −v₁               (how far the largest is from becoming the one positive value),
// relative to the largest |v| of that layer over the whole batch. A request's margin is the
// smallest over its cells. The CPU's forward pass alone decides it, so it does not depend on the
// kernel under test.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "aulens/deconv.h"
#include "aulens/net.h"
#include "aulens/ops.h"

namespace aulens::testing {

namespace window_margins_detail {

// Pre-ReLU conv values v (N,C,H,W) → the margin of every 2×2 pool cell (N,C,H/2,W/2), relative to
// max |v|.
inline std::vector<double> cell_margins(const std::vector<float>& v, int n, int c, int h, int w) {
  double largest = 0.0;
  for (float value : v) largest = std::max(largest, static_cast<double>(std::fabs(value)));
  if (largest == 0.0) largest = 1.0;
  const int oh = h / 2, ow = w / 2;
  std::vector<double> margins(static_cast<std::size_t>(n) * c * oh * ow);
  for (std::int64_t plane = 0; plane < static_cast<std::int64_t>(n) * c; ++plane) {
    const float* in = v.data() + plane * h * w;
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        const float cell[4] = {in[2 * i * w + 2 * j], in[2 * i * w + 2 * j + 1],
                               in[(2 * i + 1) * w + 2 * j], in[(2 * i + 1) * w + 2 * j + 1]};
        float first = -std::numeric_limits<float>::infinity(), second = first;
        for (float value : cell) {
          if (value > first) {
            second = first;
            first = value;
          } else if (value > second) {
            second = value;
          }
        }
        const double margin = first > 0.0f ? static_cast<double>(first) - std::max(second, 0.0f)
                                           : -static_cast<double>(first);
        margins[(plane * oh + i) * ow + j] = margin / largest;
      }
    }
  }
  return margins;
}

// The smallest margin of planes (N,C,H,W) `margins` over rows and columns [lo, hi] of image
// `image`.
inline double smallest_in(const std::vector<double>& margins, int c, int h, int w, int image,
                          int row_lo, int row_hi, int col_lo, int col_hi) {
  double smallest = std::numeric_limits<double>::infinity();
  row_lo = std::max(row_lo, 0), col_lo = std::max(col_lo, 0);
  row_hi = std::min(row_hi, h - 1), col_hi = std::min(col_hi, w - 1);
  for (int ch = 0; ch < c; ++ch)
    for (int i = row_lo; i <= row_hi; ++i)
      for (int j = col_lo; j <= col_hi; ++j)
        smallest = std::min(smallest,
                            margins[((static_cast<std::size_t>(image) * c + ch) * h + i) * w + j]);
  return smallest;
}

}  // namespace window_margins_detail

// The smallest switch margin on each request's path (see above); x: (N,1,S,S) on the CPU.
inline std::vector<double> window_path_margins(const NetConfig& cfg, const Params& params,
                                               const Tensor& x,
                                               const std::vector<WindowRequest>& requests) {
  using window_margins_detail::cell_margins;
  using window_margins_detail::smallest_in;
  const int n = static_cast<int>(x.shape()[0]), s = cfg.input_size, s2 = s / 2, s4 = s / 4;
  const Params p = params.to(Device::cpu);
  std::vector<float> conv1(static_cast<std::size_t>(n) * cfg.conv1 * s * s);
  CpuOps::conv2d_forward({n, 1, s, s, cfg.conv1, 5}, x.data<float>(), p.conv1_weight.data<float>(),
                         p.conv1_bias.data<float>(), conv1.data());
  const std::vector<double> margins1 = cell_margins(conv1, n, cfg.conv1, s, s);
  std::vector<float> relu1(conv1.size()), pool1(conv1.size() / 4);
  std::vector<std::int32_t> switches1(pool1.size());
  CpuOps::relu_forward(static_cast<std::int64_t>(conv1.size()), conv1.data(), relu1.data());
  CpuOps::maxpool2x2_forward({n, cfg.conv1, s, s}, relu1.data(), pool1.data(), switches1.data());
  std::vector<float> conv2(static_cast<std::size_t>(n) * cfg.conv2 * s2 * s2);
  CpuOps::conv2d_forward({n, cfg.conv1, s2, s2, cfg.conv2, 5}, pool1.data(),
                         p.conv2_weight.data<float>(), p.conv2_bias.data<float>(), conv2.data());
  const std::vector<double> margins2 = cell_margins(conv2, n, cfg.conv2, s2, s2);
  std::vector<double> out;
  out.reserve(requests.size());
  for (const WindowRequest& r : requests) {
    // pool2 cells y−2 … y+2 (conv3's 5×5); pool1 cells 2y−6 … 2y+7 (conv2's 5×5 around the
    // conv2 pixels 2y−4 … 2y+5 under them); the same for x.
    const double m2 =
        smallest_in(margins2, cfg.conv2, s4, s4, r.image, r.y - 2, r.y + 2, r.x - 2, r.x + 2);
    const double m1 = smallest_in(margins1, cfg.conv1, s2, s2, r.image, 2 * r.y - 6, 2 * r.y + 7,
                                  2 * r.x - 6, 2 * r.x + 7);
    out.push_back(std::min(m1, m2));
  }
  return out;
}

}  // namespace aulens::testing
