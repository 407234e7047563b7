// Activation records and top-n on the CPU: CpuOps::max_records and CpuOps::topn_select against
// naive references on data full of ties (values from a small set) and with NaN, and the engine
// (compute_records, top_n, project_top_n) on a narrow network against a direct forward pass.
// Everything here is a selection, so every comparison is exact. Outputs are poisoned first.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "aulens/deconv.h"
#include "aulens/records.h"

namespace aulens {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::uint64_t test_seed(std::uint64_t fallback) {
  const char* env = std::getenv("AULENS_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 10) + fallback : fallback;
}

bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

// Values in {0, 0.5, 1, 1.5} (many ties) with a NaN now and then when `with_nan`.
std::vector<float> tie_heavy(std::size_t count, std::mt19937_64& rng, bool with_nan) {
  std::uniform_int_distribution<int> level(0, 3), rare(0, 499);
  std::vector<float> v(count);
  for (float& e : v) e = with_nan && rare(rng) == 0 ? kNaN : 0.5f * level(rng);
  return v;
}

TEST(MaxRecords, MatchesNaiveFirstMaximum) {
  std::mt19937_64 rng(test_seed(1));
  for (bool with_nan : {false, true}) {
    const int n = 3, k = 7, hw = 37;
    const std::vector<float> y = tie_heavy(static_cast<std::size_t>(n) * k * hw, rng, with_nan);
    std::vector<float> value(n * k, -123.0f);
    std::vector<std::int32_t> position(n * k, -1);
    CpuOps::max_records(n, k, hw, y.data(), value.data(), position.data());
    for (int row = 0; row < n * k; ++row) {
      const float* plane = y.data() + row * hw;
      int want = 0;  // first NaN, else first maximum
      for (int p = 0; p < hw; ++p) {
        if (std::isnan(plane[p])) {
          want = p;
          break;
        }
        if (plane[p] > plane[want]) want = p;
      }
      EXPECT_EQ(position[row], want) << "row " << row << (with_nan ? " (with NaN)" : "");
      EXPECT_TRUE(same(value[row], plane[want])) << "row " << row;
    }
  }
}

// Naive top-n of one map: stable sort of all images by (value desc, index asc), NaN last.
std::vector<std::int32_t> naive_top(const std::vector<float>& values, int images, int maps, int map,
                                    int n) {
  std::vector<std::int32_t> order(images);
  std::iota(order.begin(), order.end(), 0);
  auto v = [&](int i) { return values[static_cast<std::size_t>(i) * maps + map]; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (std::isnan(v(a)) || std::isnan(v(b))) return !std::isnan(v(a)) && std::isnan(v(b));
    return v(a) > v(b);
  });
  order.resize(n);
  return order;
}

TEST(TopNSelect, MatchesNaiveSortWithTiesAndNaN) {
  std::mt19937_64 rng(test_seed(2));
  for (bool with_nan : {false, true}) {
    for (int n : {1, 9, 32}) {
      const int images = 301, maps = 13;
      std::vector<float> values = tie_heavy(static_cast<std::size_t>(images) * maps, rng, with_nan);
      if (with_nan) {
        for (int i = 0; i < images; ++i) values[i * maps + 5] = kNaN;  // a map of only NaN
      }
      std::vector<std::int32_t> top_images(maps * n, -1);
      std::vector<float> top_values(maps * n, -123.0f);
      CpuOps::topn_select(images, maps, n, values.data(), top_images.data(), top_values.data());
      for (int m = 0; m < maps; ++m) {
        const auto want = naive_top(values, images, maps, m, n);
        for (int r = 0; r < n; ++r) {
          ASSERT_EQ(top_images[m * n + r], want[r])
              << "map " << m << " rank " << r << " n " << n << (with_nan ? " (with NaN)" : "");
          ASSERT_TRUE(same(top_values[m * n + r], values[want[r] * maps + m]));
        }
      }
    }
  }
  std::vector<float> values(10, 1.0f);
  std::vector<std::int32_t> ti(40);
  std::vector<float> tv(40);
  EXPECT_THROW(CpuOps::topn_select(10, 1, 11, values.data(), ti.data(), tv.data()), Error);
  EXPECT_THROW(CpuOps::topn_select(10, 1, 0, values.data(), ti.data(), tv.data()), Error);
}

TEST(Records, EngineMatchesDirectForwardAndTopN) {
  NetConfig cfg;
  cfg.input_size = 32;
  cfg.conv1 = 4;
  cfg.conv2 = 8;
  cfg.conv3 = 16;
  cfg.fc = 8;
  const std::uint64_t seed = test_seed(3);
  const Params params = init_params(cfg, seed, Device::cpu);
  const int all = 9, crop = 35;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(all) * crop * crop);
  for (auto& p : pixels) p = static_cast<std::uint8_t>(byte(rng));
  const Tensor crops = Tensor::from_vector<std::uint8_t>({all, crop, crop}, pixels);
  const std::vector<std::int32_t> ids = {8, 2, 5, 0, 7, 3, 1};  // 7 of 9, batch 3 (uneven)
  RecordsOptions options;
  options.batch = 3;
  options.conv2 = true;
  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  options.progress = [&](std::int64_t done, std::int64_t total) {
    progress.emplace_back(done, total);
  };
  const Records rec = compute_records<CpuOps>(cfg, params, crops, ids, options);
  ASSERT_EQ(rec.conv3_value.shape(), (Shape{7, 16}));
  EXPECT_EQ(progress, (std::vector<std::pair<std::int64_t, std::int64_t>>{{3, 7}, {6, 7}, {7, 7}}));
  EXPECT_FALSE(rec.conv1_value.defined() && rec.conv1_value.numel() > 0);

  // Direct: one forward pass of all 7 centre crops, naive maxima.
  Activations acts;
  Network<CpuOps>(cfg).forward(params, centre_inputs<CpuOps>(32, crops, ids), false, {}, acts);
  auto check_layer = [&](const Tensor& maps, const Tensor& value, const Tensor& position,
                         const char* layer) {
    const int k = static_cast<int>(maps.dim(1)), hw = static_cast<int>(maps.dim(2) * maps.dim(3));
    const float* y = maps.data<float>();
    for (int row = 0; row < 7 * k; ++row) {
      const float* plane = y + static_cast<std::int64_t>(row) * hw;
      const int want = static_cast<int>(std::max_element(plane, plane + hw) - plane);
      ASSERT_EQ(position.data<std::int32_t>()[row], want) << layer << " row " << row;
      ASSERT_EQ(value.data<float>()[row], plane[want]) << layer << " row " << row;
    }
  };
  check_layer(acts.conv3, rec.conv3_value, rec.conv3_position, "conv3");
  check_layer(acts.conv2, rec.conv2_value, rec.conv2_position, "conv2");

  const TopN top = top_n<CpuOps>(rec, 4);
  const std::vector<float> values = rec.conv3_value.to_vector<float>();
  for (int m = 0; m < 16; ++m) {
    const auto want = naive_top(values, 7, 16, m, 4);
    for (int r = 0; r < 4; ++r) {
      const int e = m * 4 + r;
      ASSERT_EQ(top.rows.data<std::int32_t>()[e], want[r]) << "map " << m << " rank " << r;
      EXPECT_EQ(top.image_ids.data<std::int32_t>()[e], ids[want[r]]);
      EXPECT_EQ(top.positions.data<std::int32_t>()[e],
                rec.conv3_position.data<std::int32_t>()[want[r] * 16 + m]);
    }
  }

  // project_top_n: request e = map·n + rank at the record's position, seeds = recorded values.
  const Projections proj = project_top_n<CpuOps>(cfg, params, crops, top);
  ASSERT_EQ(proj.windows.shape(), (Shape{64, 32, 32}));
  for (int e = 0; e < 64; ++e) {
    const std::int32_t* q = proj.requests.data<std::int32_t>() + 4 * e;
    EXPECT_EQ(q[0], top.image_ids.data<std::int32_t>()[e]);
    EXPECT_EQ(q[1], e / 4);
    EXPECT_EQ(q[2] * 8 + q[3], top.positions.data<std::int32_t>()[e]);
    const float recorded = top.values.data<float>()[e];
    EXPECT_NEAR(proj.seeds.data<float>()[e], recorded, 1e-5f * std::max(1.0f, recorded)) << e;
  }
}

}  // namespace
}  // namespace aulens
