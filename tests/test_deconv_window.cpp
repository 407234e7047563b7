// Windowed deconvnet projections (CpuOps::deconv_project_windows, project_windows) against the
// full-image projection deconv_project<CpuOps> (itself proven against PyTorch in test_golden),
// on the default full-width conv stack (96×96 input, 64/128/256 maps; fc narrowed to 16 because
// the projection never touches it), at conv3 positions on the corners, edges and centre.
//
// Two weight sets:
//  * dyadic: inputs are small integers and weights/biases multiples of 1/8, 1/64, 1/128 (conv1,
//    conv2, conv3), so every forward sum is exact in fp32 whatever the order: the window's
//    switches and seed are provably those of the full pass, the seed must be bit-equal, and the
//    projections differ only by the rounding of the conv2ᵀ/conv1ᵀ sums (taken in another order);
//  * He-normal weights with Gaussian inputs: the general case, same tolerance (a switch decided
//    by a near-tie below fp32 rounding could in principle differ; the seed is printed).
// Tolerance per pixel: |window − full| ≤ a·max|full| + 1e-5·|full|, summation order only, with
// a = 1e-5 for the dyadic set (observed worst ≤ 1.2e-6 over seeds 101…106) and a = 1e-4 for the
// He-normal set (observed typically ~1e-6, worst 3e-5 of max|full| for a weak projection, seed
// 203, where no pool window of the receptive field held a near-tie: the conv2ᵀ and conv1ᵀ sums
// cancel, terms of both signs, so their ~1e-7 rounding shows larger against the output). A moved
// switch would show as an error of the size of the projection itself. Worst errors are printed.
// The full projection must be exactly 0 outside the window.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "aulens/deconv.h"
#include "aulens/net.h"
#include "dyadic_net.h"
#include "window_margins.h"

namespace aulens {
namespace {

std::uint64_t test_seed(std::uint64_t fallback) {
  const char* env = std::getenv("AULENS_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 10) + fallback : fallback;
}

NetConfig full_width_config() {
  NetConfig cfg;  // 96, 64/128/256
  cfg.fc = 16;
  return cfg;
}

struct Fixture {
  NetConfig cfg = full_width_config();
  Params params;
  Tensor x;  // (2,1,96,96)
  Activations acts;
  std::uint64_t seed;

  Fixture(std::uint64_t seed_, bool dyadic) : seed(seed_) {
    params = init_params(cfg, seed, Device::cpu);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (Tensor* b : {&params.conv1_bias, &params.conv2_bias, &params.conv3_bias}) {
      for (std::int64_t i = 0; i < b->numel(); ++i) b->data<float>()[i] = 0.05f * normal(rng);
    }
    const int s = cfg.input_size;
    x = Tensor({2, 1, s, s}, DType::f32);
    for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
    if (dyadic) testing::make_dyadic(params, x);
    Network<CpuOps>(cfg).forward(params, x, false, {}, acts);
  }

  float conv3(int image, int map, int y, int x_) const {
    const int s4 = cfg.input_size / 4;
    return acts.conv3
        .data<float>()[((static_cast<std::int64_t>(image) * cfg.conv3 + map) * s4 + y) * s4 + x_];
  }
  // The map with the largest activation at (y, x), so the projection is not trivially zero.
  int strongest_map(int image, int y, int x_) const {
    int best = 0;
    for (int m = 1; m < cfg.conv3; ++m)
      if (conv3(image, m, y, x_) > conv3(image, best, y, x_)) best = m;
    return best;
  }
};

const std::vector<std::pair<int, int>> kPositions = {
    {0, 0},   {0, 23},  {23, 0},  {23, 23},          // corners
    {0, 11},  {12, 0},  {23, 13}, {10, 23}, {1, 2},  // edges and near-edges
    {11, 11}, {12, 12}, {5, 17}};                    // centre and inside

void check_windows_equal_full(const Fixture& f, bool exact_seed, double atol_of_max) {
  const int s = f.cfg.input_size;
  std::vector<WindowRequest> requests;
  for (std::size_t k = 0; k < kPositions.size(); ++k) {
    const int image = static_cast<int>(k % 2);
    const auto [y, x] = kPositions[k];
    requests.push_back({image, f.strongest_map(image, y, x), y, x});
  }
  // A second, arbitrary map at one position: zero or not, it must match too.
  requests.push_back({1, 7, 11, 11});
  const Projections got = project_windows<CpuOps>(f.cfg, f.params, f.x, requests);
  ASSERT_EQ(got.windows.shape(), (Shape{static_cast<std::int64_t>(requests.size()), 32, 32}));
  const float* windows = got.windows.data<float>();
  const std::int32_t* origins = got.origins.data<std::int32_t>();
  double worst_relative = 0.0;  // max |window − full| / max|full| over all requests
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const WindowRequest q = requests[r];
    const std::string what = "request " + std::to_string(r) + " (image " + std::to_string(q.image) +
                             ", map " + std::to_string(q.map) + ", y " + std::to_string(q.y) +
                             ", x " + std::to_string(q.x) + "), seed " + std::to_string(f.seed);
    const int oy = origins[2 * r], ox = origins[2 * r + 1];
    ASSERT_EQ(oy, 4 * q.y - 14) << what;
    ASSERT_EQ(ox, 4 * q.x - 14) << what;
    const float activation = f.conv3(q.image, q.map, q.y, q.x);
    const float seed = got.seeds.data<float>()[r];
    if (exact_seed) {
      EXPECT_EQ(seed, activation) << what;
    } else {
      EXPECT_NEAR(seed, activation, 1e-5f * std::max(1.0f, std::fabs(activation))) << what;
    }
    const auto full = deconv_project<CpuOps>(f.cfg, f.params, f.acts, q.image, q.map, q.y, q.x)
                          .to_vector<float>();
    float full_max = 0.0f;
    for (float v : full) full_max = std::max(full_max, std::fabs(v));
    if (r < kPositions.size()) {
      ASSERT_GT(full_max, 0.0f) << "the strongest map projects to nothing: " << what;
    }
    double worst = 0.0;
    int worst_row = 0, worst_col = 0;
    int outside_nonzero = 0;
    for (int row = 0; row < s; ++row) {
      for (int col = 0; col < s; ++col) {
        const float want = full[row * s + col];
        const int i = row - oy, j = col - ox;
        if (i < 0 || i >= 32 || j < 0 || j >= 32) {
          outside_nonzero += want != 0.0f;
          continue;
        }
        const float have = windows[(r * 32 + i) * 32 + j];
        const double excess =
            std::fabs(have - want) - (atol_of_max * full_max + 1e-5 * std::fabs(want));
        if (full_max > 0.0f) {
          worst_relative =
              std::max(worst_relative, static_cast<double>(std::fabs(have - want) / full_max));
        }
        if (excess > worst) {
          worst = excess;
          worst_row = row;
          worst_col = col;
        }
      }
    }
    EXPECT_EQ(outside_nonzero, 0) << "full projection non-zero outside the window: " << what;
    EXPECT_LE(worst, 0.0) << "window differs from the full projection at image pixel (" << worst_row
                          << ", " << worst_col << ") by " << worst
                          << " beyond tolerance (max |full| " << full_max << "): " << what;
    // Window pixels outside the image are 0.
    for (int i = 0; i < 32; ++i)
      for (int j = 0; j < 32; ++j) {
        const bool inside = oy + i >= 0 && oy + i < s && ox + j >= 0 && ox + j < s;
        if (!inside) ASSERT_EQ(windows[(r * 32 + i) * 32 + j], 0.0f) << what;
      }
  }
  std::printf("worst |window - full| / max|full| over %zu requests: %.3g\n", requests.size(),
              worst_relative);
}

TEST(DeconvWindow, DyadicWeightsEqualFullImageProjection) {
  check_windows_equal_full(Fixture(test_seed(101), /*dyadic=*/true), /*exact_seed=*/true, 1e-5);
}

TEST(DeconvWindow, HeNormalWeightsEqualFullImageProjection) {
  check_windows_equal_full(Fixture(test_seed(202), /*dyadic=*/false), /*exact_seed=*/false, 1e-4);
}

// The margins by which tests/gpu/test_records_gpu.cpp tells a request near a max-pool tie: three
// 2×2 cells, relative to the largest |value| (4).
TEST(DeconvWindow, SwitchMarginsMeasureTheDistanceToAnotherChoice) {
  const std::vector<float> v = {3.0f, 1.0f, -1.0f,  -2.0f, 0.5f,  -3.0f,   // row 0
                                2.5f, 0.0f, -0.25f, -4.0f, -1.0f, -2.0f};  // row 1
  const std::vector<double> m = testing::window_margins_detail::cell_margins(v, 1, 1, 2, 6);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_DOUBLE_EQ(m[0], 0.5 / 4) << "3 beats 2.5 by 0.5";
  EXPECT_DOUBLE_EQ(m[1], 0.25 / 4) << "all at most 0: -0.25 is 0.25 from becoming the one positive";
  EXPECT_DOUBLE_EQ(m[2], 0.5 / 4) << "0.5 is the one positive: 0.5 from ReLU tying all four at 0";
}

TEST(DeconvWindow, RejectsRequestsOutsideTheBatch) {
  const NetConfig cfg = full_width_config();
  const Params params = init_params(cfg, 1, Device::cpu);
  const Tensor x = Tensor::zeros({1, 1, 96, 96}, DType::f32);
  EXPECT_THROW(project_windows<CpuOps>(cfg, params, x, {{1, 0, 0, 0}}), Error);
  EXPECT_THROW(project_windows<CpuOps>(cfg, params, x, {{0, 256, 0, 0}}), Error);
  EXPECT_THROW(project_windows<CpuOps>(cfg, params, x, {{0, 0, 24, 0}}), Error);
  EXPECT_THROW(project_windows<CpuOps>(cfg, params, x, {{0, 0, 0, -1}}), Error);
}

}  // namespace
}  // namespace aulens
