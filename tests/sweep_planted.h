// Planted data for the AU sweep tests (tests/test_sweep.cpp, tests/gpu/test_sweep_gpu.cpp): random
// per-image map maxima (~30% zeros, as after ReLU) and random AUs, with one map made to respond
// only to the images carrying one AU. Deterministic for a seed, so a result can be reproduced.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "aulens/tensor.h"

namespace aulens::testing_sweep {

struct Planted {
  Tensor values;                     // (M,K) f32
  Tensor aus;                        // (M,A) f32 intensities, 0 = absent
  std::vector<std::int32_t> au_ids;  // (A)
  int planted_au_column = 0;         // the AU whose detector was planted
  int planted_map = 0;
  int rare_au_column = -1;  // an AU carried by only `rare` images (to be skipped)
};

// AU columns: {1, 4, 12, 25, 43}; AU 12 (column 2) gets a detector at `planted_map`; AU 43
// (column 4) is carried by 3 images only. The others are unplanted (pure chance).
inline Planted make_planted(int m, int k, int planted_map, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Planted p;
  p.au_ids = {1, 4, 12, 25, 43};
  const int a = static_cast<int>(p.au_ids.size());
  p.planted_au_column = 2;
  p.planted_map = planted_map;
  p.rare_au_column = 4;
  p.values = Tensor({m, k}, DType::f32);
  p.aus = Tensor::zeros({m, a}, DType::f32);
  float* v = p.values.data<float>();
  float* au = p.aus.data<float>();
  const float rates[] = {0.25f, 0.15f, 0.2f, 0.4f, 0.0f};
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < a; ++j) {
      if (u(rng) < rates[j]) au[i * a + j] = static_cast<float>(1 + static_cast<int>(u(rng) * 5));
    }
    if (i < 3) au[i * a + 4] = 2.0f;
    for (int c = 0; c < k; ++c) v[i * k + c] = u(rng) < 0.3f ? 0.0f : 3.0f * u(rng);
    const bool carries = au[i * a + p.planted_au_column] > 0.0f;
    v[i * k + planted_map] = carries ? 4.0f + u(rng) : 0.5f * u(rng);
  }
  return p;
}

}  // namespace aulens::testing_sweep
