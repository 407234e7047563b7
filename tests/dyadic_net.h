// Dyadic conv weights and inputs for the projection tests: inputs rounded to integers in [−2, 2],
// conv1/conv2/conv3 weights and biases rounded to multiples of 1/8, 1/64, 1/128. Every forward sum
// of the conv stack is then exact in fp32 whatever the order, so two implementations must agree
// bit for bit on the pool switches and the seed, and differ only in the backward sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "aulens/net.h"

namespace aulens::testing {

// Rounds every element of `t` to a multiple of 1/scale.
inline void quantize(Tensor& t, float scale) {
  float* v = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) v[i] = std::nearbyint(v[i] * scale) / scale;
}

inline void make_dyadic(Params& params, Tensor& x) {
  float* v = x.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) v[i] = std::clamp(std::nearbyint(v[i]), -2.0f, 2.0f);
  quantize(params.conv1_weight, 8);
  quantize(params.conv1_bias, 8);
  quantize(params.conv2_weight, 64);
  quantize(params.conv2_bias, 64);
  quantize(params.conv3_weight, 128);
  quantize(params.conv3_bias, 128);
}

}  // namespace aulens::testing
