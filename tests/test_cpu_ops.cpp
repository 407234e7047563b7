// Tests of the CPU reference ops (src/cpu/*.cpp) against naive direct loops evaluated in double
// inside the test, finite-difference gradients, and the documented edge cases (pool ties and NaN,
// odd sizes, stable softmax, the dropout mask rule, PyTorch's SGD formula).
//
// Every test draws fresh random inputs (the seed is printed on failure), poisons outputs with NaN
// before the op runs so unwritten elements show, and compares with |a − b| ≤ atol + rtol·|b|,
// reporting the worst element and its index.
#include <cblas.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aulens/ops.h"
#include "aulens/rng.h"
#include "fresh_seed.h"

namespace aulens {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A fresh generator per test; the seed goes into the failure message.
class Random {
 public:
  Random() : seed_(testing::fresh_seed()), gen_(seed_) {}
  unsigned seed() const { return seed_; }
  std::vector<float> uniform(std::int64_t count, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (float& e : v) e = dist(gen_);
    return v;
  }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  std::mt19937& gen() { return gen_; }

 private:
  unsigned seed_;
  std::mt19937 gen_;
};

std::vector<float> poisoned(std::int64_t count) {
  return std::vector<float>(count, kNaN);
}

// |got − want| ≤ atol + rtol·|want| for every element; on failure names the worst element
// (largest excess over its tolerance), its index and how many failed.
::testing::AssertionResult all_close(const std::string& what, const float* got, std::int64_t count,
                                     const std::function<double(std::int64_t)>& want, double atol,
                                     double rtol) {
  std::int64_t failures = 0, worst = -1;
  double worst_excess = -1.0, max_abs_error = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    const double w = want(i);
    const double err = std::fabs(static_cast<double>(got[i]) - w);
    const double excess = std::isnan(err) ? std::numeric_limits<double>::infinity()
                                          : err - (atol + rtol * std::fabs(w));
    if (!std::isnan(err)) max_abs_error = std::max(max_abs_error, err);
    if (excess > 0) ++failures;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (failures == 0) {
    // AULENS_TEST_VERBOSE=1 prints the observed error, to keep the tolerances honest.
    if (std::getenv("AULENS_TEST_VERBOSE") != nullptr) {
      std::printf("  %s: max |error| %.3g over %lld elements\n", what.c_str(), max_abs_error,
                  static_cast<long long>(count));
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << what << ": " << failures << " of " << count << " elements off; worst at index " << worst
         << ": got " << got[worst] << ", want " << want(worst) << " (atol " << atol << ", rtol "
         << rtol << ")";
}

::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& got,
                                     const std::vector<double>& want, double atol, double rtol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << what << ": size " << got.size() << " vs " << want.size();
  }
  return all_close(
      what, got.data(), static_cast<std::int64_t>(got.size()),
      [&](std::int64_t i) { return want[i]; }, atol, rtol);
}

std::string seed_note(const Random& random) {
  return "random seed " + std::to_string(random.seed());
}

// ---------------------------------------------------------------------------------------------
// conv2d

std::string describe(const ConvShape& s) {
  return "conv N=" + std::to_string(s.n) + " C=" + std::to_string(s.c) +
         " K=" + std::to_string(s.k) + " H=" + std::to_string(s.h) + " W=" + std::to_string(s.w) +
         " R=" + std::to_string(s.r);
}

std::int64_t x_count(const ConvShape& s) {
  return std::int64_t{s.n} * s.c * s.h * s.w;
}
std::int64_t y_count(const ConvShape& s) {
  return std::int64_t{s.n} * s.k * s.h * s.w;
}
std::int64_t w_count(const ConvShape& s) {
  return std::int64_t{s.k} * s.c * s.r * s.r;
}

// Direct-loop references in double, written from the definitions (not from each other).
std::vector<double> conv_forward_ref(const ConvShape& s, const std::vector<double>& x,
                                     const std::vector<double>& w, const double* b) {
  const int p = s.pad();
  std::vector<double> y(y_count(s));
  for (int n = 0; n < s.n; ++n)
    for (int k = 0; k < s.k; ++k)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) {
          double sum = b ? b[k] : 0.0;
          for (int c = 0; c < s.c; ++c)
            for (int u = 0; u < s.r; ++u) {
              const int yi = i + u - p;
              if (yi < 0 || yi >= s.h) continue;
              for (int v = 0; v < s.r; ++v) {
                const int xj = j + v - p;
                if (xj < 0 || xj >= s.w) continue;
                sum += w[((std::int64_t{k} * s.c + c) * s.r + u) * s.r + v] *
                       x[((std::int64_t{n} * s.c + c) * s.h + yi) * s.w + xj];
              }
            }
          y[((std::int64_t{n} * s.k + k) * s.h + i) * s.w + j] = sum;
        }
  return y;
}

std::vector<double> conv_backward_data_ref(const ConvShape& s, const std::vector<float>& dy,
                                           const std::vector<float>& w) {
  // dx[n,c,a,b] = Σ_{k,u,v} w[k,c,u,v] · dy[n,k,a−u+P,b−v+P]
  const int p = s.pad();
  std::vector<double> dx(x_count(s));
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int a = 0; a < s.h; ++a)
        for (int bb = 0; bb < s.w; ++bb) {
          double sum = 0.0;
          for (int k = 0; k < s.k; ++k)
            for (int u = 0; u < s.r; ++u) {
              const int i = a - u + p;
              if (i < 0 || i >= s.h) continue;
              for (int v = 0; v < s.r; ++v) {
                const int j = bb - v + p;
                if (j < 0 || j >= s.w) continue;
                sum += double{w[((std::int64_t{k} * s.c + c) * s.r + u) * s.r + v]} *
                       dy[((std::int64_t{n} * s.k + k) * s.h + i) * s.w + j];
              }
            }
          dx[((std::int64_t{n} * s.c + c) * s.h + a) * s.w + bb] = sum;
        }
  return dx;
}

void conv_backward_filter_ref(const ConvShape& s, const std::vector<float>& x,
                              const std::vector<float>& dy, std::vector<double>& dw,
                              std::vector<double>& db) {
  const int p = s.pad();
  dw.assign(w_count(s), 0.0);
  db.assign(s.k, 0.0);
  for (int n = 0; n < s.n; ++n)
    for (int k = 0; k < s.k; ++k)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j) {
          const double g = dy[((std::int64_t{n} * s.k + k) * s.h + i) * s.w + j];
          db[k] += g;
          for (int c = 0; c < s.c; ++c)
            for (int u = 0; u < s.r; ++u) {
              const int yi = i + u - p;
              if (yi < 0 || yi >= s.h) continue;
              for (int v = 0; v < s.r; ++v) {
                const int xj = j + v - p;
                if (xj < 0 || xj >= s.w) continue;
                dw[((std::int64_t{k} * s.c + c) * s.r + u) * s.r + v] +=
                    g * x[((std::int64_t{n} * s.c + c) * s.h + yi) * s.w + xj];
              }
            }
        }
}

std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Tolerances for an fp32 sum of `terms` products of values in [−1, 1] (the gemm accumulates in
// fp32): absolute error grows like √terms·ε·|typical term|; an index bug is off by O(1).
double conv_atol(int terms) {
  return 2e-6 * std::sqrt(static_cast<double>(terms)) + 1e-6;
}
constexpr double kConvRtol = 1e-5;

const std::vector<ConvShape> kConvShapes = {
    // n, c, h, w, k, r
    {3, 2, 7, 5, 4, 5},        // odd H/W
    {2, 3, 6, 9, 5, 3},        // R = 3
    {3, 2, 3, 2, 4, 5},        // image smaller than the kernel
    {1, 1, 1, 1, 1, 1},        // 1×1 everything
    {5, 4, 11, 13, 3, 5},      // more images than threads, uneven filter groups
    {2, 1, 96, 96, 64, 5},     // conv1 of the network
    {1, 64, 48, 48, 128, 5},   // conv2
    {1, 128, 24, 24, 256, 5},  // conv3
};

TEST(CpuConv2d, ForwardMatchesDirectLoops) {
  Random random;
  for (const ConvShape& s : kConvShapes) {
    for (bool with_bias : {true, false}) {
      SCOPED_TRACE(describe(s) + (with_bias ? " with bias" : " no bias") + ", " +
                   seed_note(random));
      const auto x = random.uniform(x_count(s)), w = random.uniform(w_count(s)),
                 b = random.uniform(s.k);
      auto y = poisoned(y_count(s));
      CpuOps::conv2d_forward(s, x.data(), w.data(), with_bias ? b.data() : nullptr, y.data());
      const auto b_ref = to_double(b);
      const auto want =
          conv_forward_ref(s, to_double(x), to_double(w), with_bias ? b_ref.data() : nullptr);
      EXPECT_TRUE(all_close("y", y, want, conv_atol(s.c * s.r * s.r), kConvRtol));
    }
  }
}

TEST(CpuConv2d, BackwardDataMatchesDirectLoops) {
  Random random;
  for (const ConvShape& s : kConvShapes) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    const auto dy = random.uniform(y_count(s)), w = random.uniform(w_count(s));
    auto dx = poisoned(x_count(s));
    CpuOps::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    EXPECT_TRUE(all_close("dx", dx, conv_backward_data_ref(s, dy, w), conv_atol(s.k * s.r * s.r),
                          kConvRtol));
  }
}

TEST(CpuConv2d, BackwardFilterMatchesDirectLoops) {
  Random random;
  for (const ConvShape& s : kConvShapes) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    const auto x = random.uniform(x_count(s)), dy = random.uniform(y_count(s));
    std::vector<double> dw_ref, db_ref;
    conv_backward_filter_ref(s, x, dy, dw_ref, db_ref);
    auto dw = poisoned(w_count(s));
    auto db = poisoned(s.k);
    CpuOps::conv2d_backward_filter(s, x.data(), dy.data(), dw.data(), db.data());
    const int terms = s.n * s.h * s.w;
    EXPECT_TRUE(all_close("dw", dw, dw_ref, conv_atol(terms), kConvRtol));
    EXPECT_TRUE(all_close("db", db, db_ref, conv_atol(terms), kConvRtol));
    // db may be omitted; dw must not change.
    auto dw_alone = poisoned(w_count(s));
    CpuOps::conv2d_backward_filter(s, x.data(), dy.data(), dw_alone.data(), nullptr);
    EXPECT_EQ(0, std::memcmp(dw.data(), dw_alone.data(), dw.size() * sizeof(float)));
  }
}

// Loss L = Σ g·conv(x, w, b) evaluated in double; its central differences must equal the op's
// gradients with dy = g.
TEST(CpuConv2d, GradientsMatchFiniteDifferences) {
  Random random;
  for (const ConvShape& s : {ConvShape{3, 2, 7, 5, 4, 5}, ConvShape{2, 3, 4, 6, 2, 3}}) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    const auto x = random.uniform(x_count(s)), w = random.uniform(w_count(s)),
               b = random.uniform(s.k), g = random.uniform(y_count(s));
    auto dx = poisoned(x_count(s)), dw = poisoned(w_count(s)), db = poisoned(s.k);
    CpuOps::conv2d_backward_data(s, g.data(), w.data(), dx.data());
    CpuOps::conv2d_backward_filter(s, x.data(), g.data(), dw.data(), db.data());

    auto xd = to_double(x), wd = to_double(w), bd = to_double(b);
    const auto loss = [&] {
      const auto y = conv_forward_ref(s, xd, wd, bd.data());
      double sum = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) sum += g[i] * y[i];
      return sum;
    };
    const double h = 1e-3;
    const auto central = [&](std::vector<double>& param, std::int64_t i) {
      const double saved = param[i];
      param[i] = saved + h;
      const double up = loss();
      param[i] = saved - h;
      const double down = loss();
      param[i] = saved;
      return (up - down) / (2 * h);
    };
    EXPECT_TRUE(all_close(
        "dL/dx", dx.data(), x_count(s), [&](std::int64_t i) { return central(xd, i); }, 1e-4,
        1e-4));
    EXPECT_TRUE(all_close(
        "dL/dw", dw.data(), w_count(s), [&](std::int64_t i) { return central(wd, i); }, 1e-4,
        1e-4));
    EXPECT_TRUE(all_close(
        "dL/db", db.data(), s.k, [&](std::int64_t i) { return central(bd, i); }, 1e-4, 1e-4));
  }
}

// CPU training must be bit-reproducible: the ops may not depend on the thread count.
TEST(CpuConv2d, BitIdenticalForAnyThreadCount) {
  Random random;
  const ConvShape s{7, 8, 12, 10, 6, 5};
  SCOPED_TRACE(describe(s) + ", " + seed_note(random));
  const auto x = random.uniform(x_count(s)), w = random.uniform(w_count(s)),
             b = random.uniform(s.k), dy = random.uniform(y_count(s));
  const int default_threads = omp_get_max_threads();
  std::vector<std::vector<float>> results[4];
  for (int threads : {1, 2, 3, 5}) {
    omp_set_num_threads(threads);
    std::vector<float> y(y_count(s)), dx(x_count(s)), dw(w_count(s)), db(s.k);
    CpuOps::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    CpuOps::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    CpuOps::conv2d_backward_filter(s, x.data(), dy.data(), dw.data(), db.data());
    results[0].push_back(y);
    results[1].push_back(dx);
    results[2].push_back(dw);
    results[3].push_back(db);
  }
  omp_set_num_threads(default_threads);
  const char* names[4] = {"y", "dx", "dw", "db"};
  for (int t = 0; t < 4; ++t) {
    for (std::size_t run = 1; run < results[t].size(); ++run) {
      EXPECT_EQ(0, std::memcmp(results[t][0].data(), results[t][run].data(),
                               results[t][0].size() * sizeof(float)))
          << names[t] << " differs between 1 thread and run " << run;
    }
  }
}

TEST(CpuConv2d, RejectsEvenKernel) {
  const ConvShape s{1, 1, 4, 4, 1, 4};
  std::vector<float> x(16), w(16), y(16);
  EXPECT_THROW(CpuOps::conv2d_forward(s, x.data(), w.data(), nullptr, y.data()), Error);
}

// ---------------------------------------------------------------------------------------------
// relu

TEST(CpuRelu, ForwardAndBackward) {
  Random random;
  SCOPED_TRACE(seed_note(random));
  const std::int64_t count = 300001;  // above the OpenMP threshold, odd
  auto x = random.uniform(count);
  x[0] = 0.0f;
  x[1] = kNaN;
  x[2] = -0.0f;
  const auto dy = random.uniform(count);
  auto y = poisoned(count), dx = poisoned(count);
  CpuOps::relu_forward(count, x.data(), y.data());
  CpuOps::relu_backward(count, y.data(), dy.data(), dx.data());
  EXPECT_TRUE(std::isnan(y[1])) << "relu(NaN) must stay NaN, like torch.relu";
  EXPECT_EQ(dx[0], 0.0f);
  std::vector<float> y_finite(y), dx_finite(dx);
  y_finite[1] = 0.0f;
  dx_finite[1] = 0.0f;
  EXPECT_TRUE(all_close(
      "y", y_finite.data(), count,
      [&](std::int64_t i) { return i == 1 ? 0.0 : std::max(0.0, double{x[i]}); }, 0, 0));
  EXPECT_TRUE(all_close(
      "dx", dx_finite.data(), count,
      [&](std::int64_t i) { return i == 1 || x[i] <= 0 ? 0.0 : double{dy[i]}; }, 0, 0));
  // In place gives the same.
  auto inplace = x;
  CpuOps::relu_forward(count, inplace.data(), inplace.data());
  EXPECT_EQ(0, std::memcmp(inplace.data(), y.data(), count * sizeof(float)));
  auto grad = dy;
  CpuOps::relu_backward(count, y.data(), grad.data(), grad.data());
  EXPECT_EQ(0, std::memcmp(grad.data(), dx.data(), count * sizeof(float)));
}

// ---------------------------------------------------------------------------------------------
// max pool and unpool

std::string describe(const PoolShape& s) {
  return "pool N=" + std::to_string(s.n) + " C=" + std::to_string(s.c) +
         " H=" + std::to_string(s.h) + " W=" + std::to_string(s.w);
}

// The naive rule: first maximum in row-major order; NaN beats everything (PyTorch: the scan
// takes v when v > best || isnan(v), so the last NaN of the window).
void maxpool_ref(const PoolShape& s, const std::vector<float>& x, std::vector<float>& y,
                 std::vector<std::int32_t>& switches) {
  const int oh = s.out_h(), ow = s.out_w();
  y.assign(std::int64_t{s.n} * s.c * oh * ow, 0.0f);
  switches.assign(y.size(), -1);
  for (std::int64_t p = 0; p < std::int64_t{s.n} * s.c; ++p)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        int best = -1;
        for (int e = 0; e < 4; ++e) {
          const int index = (2 * i + e / 2) * s.w + 2 * j + e % 2;
          const float v = x[p * s.h * s.w + index];
          if (best < 0 || v > x[p * s.h * s.w + best] || std::isnan(v)) best = index;
        }
        y[(p * oh + i) * ow + j] = x[p * s.h * s.w + best];
        switches[(p * oh + i) * ow + j] = best;
      }
}

TEST(CpuMaxPool, ForwardMatchesDirectLoops) {
  Random random;
  for (const PoolShape& s : {PoolShape{3, 2, 7, 5}, PoolShape{2, 3, 4, 6}, PoolShape{1, 1, 1, 3},
                             PoolShape{1, 64, 96, 96}, PoolShape{2, 256, 24, 24}}) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    auto x = random.uniform(std::int64_t{s.n} * s.c * s.h * s.w);
    // Plant ties (quantized values) in half of the input.
    for (std::size_t i = 0; i < x.size() / 2; ++i) x[i] = std::round(x[i] * 2.0f) / 2.0f;
    std::vector<float> y_ref;
    std::vector<std::int32_t> s_ref;
    maxpool_ref(s, x, y_ref, s_ref);
    auto y = poisoned(y_ref.size());
    std::vector<std::int32_t> switches(y_ref.size(), -7);
    CpuOps::maxpool2x2_forward(s, x.data(), y.data(), switches.data());
    ASSERT_EQ(y.size(), y_ref.size());
    if (!y.empty())  // (memcmp of an empty vector's null data() is undefined)
      EXPECT_EQ(0, std::memcmp(y.data(), y_ref.data(), y.size() * sizeof(float)));
    for (std::size_t i = 0; i < switches.size(); ++i) {
      ASSERT_EQ(switches[i], s_ref[i]) << "switch " << i;
    }
  }
}

TEST(CpuMaxPool, TiesNaNAndInfinity) {
  const PoolShape s{1, 1, 2, 2};
  const auto pool_one = [&](std::vector<float> window) {
    float y = 0;
    std::int32_t sw = -1;
    CpuOps::maxpool2x2_forward(s, window.data(), &y, &sw);
    return std::pair<float, std::int32_t>(y, sw);
  };
  EXPECT_EQ(pool_one({1, 1, 1, 1}).second, 0) << "all equal: the first element";
  EXPECT_EQ(pool_one({0, 3, 3, 2}).second, 1) << "tie: first maximum in row-major order";
  EXPECT_EQ(pool_one({0, 1, 3, 3}).second, 2);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(pool_one({-inf, -inf, -inf, -inf}).second, 0);
  auto nan_result = pool_one({5, kNaN, 7, 1});
  EXPECT_TRUE(std::isnan(nan_result.first));
  EXPECT_EQ(nan_result.second, 1) << "NaN beats every number";
  EXPECT_EQ(pool_one({kNaN, 9, kNaN, 1}).second, 2) << "several NaN: PyTorch keeps the last";
  EXPECT_EQ(pool_one({-inf, inf, inf, 1}).second, 1);
}

TEST(CpuMaxPool, UnpoolPlacesAtSwitchesAndZeroesTheRest) {
  Random random;
  for (const PoolShape& s : {PoolShape{3, 2, 7, 5}, PoolShape{1, 1, 3, 3}, PoolShape{2, 4, 8, 6}}) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    const std::int64_t in_count = std::int64_t{s.n} * s.c * s.h * s.w;
    const std::int64_t out_count = std::int64_t{s.n} * s.c * s.out_h() * s.out_w();
    const auto x = random.uniform(in_count);
    std::vector<float> y(out_count);
    std::vector<std::int32_t> switches(out_count);
    CpuOps::maxpool2x2_forward(s, x.data(), y.data(), switches.data());
    const auto dy = random.uniform(out_count, 0.5f, 1.0f);  // nonzero everywhere
    auto dx = poisoned(in_count);
    CpuOps::max_unpool2x2(s, dy.data(), switches.data(), dx.data());
    std::vector<double> want(in_count, 0.0);
    for (std::int64_t p = 0; p < std::int64_t{s.n} * s.c; ++p)
      for (int o = 0; o < s.out_h() * s.out_w(); ++o)
        want[p * s.h * s.w + switches[p * s.out_h() * s.out_w() + o]] +=
            dy[p * s.out_h() * s.out_w() + o];
    EXPECT_TRUE(all_close("dx", dx, want, 0, 0));
    // Uncovered last row/column (odd H or W) must be exactly zero; each window has one nonzero.
    for (std::int64_t p = 0; p < std::int64_t{s.n} * s.c; ++p) {
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j)
          if (i >= 2 * s.out_h() || j >= 2 * s.out_w())
            ASSERT_EQ(dx[p * s.h * s.w + i * s.w + j], 0.0f)
                << "uncovered (" << i << "," << j << ")";
      for (int i = 0; i < s.out_h(); ++i)
        for (int j = 0; j < s.out_w(); ++j) {
          int nonzero = 0;
          for (int e = 0; e < 4; ++e)
            nonzero += dx[p * s.h * s.w + (2 * i + e / 2) * s.w + 2 * j + e % 2] != 0.0f;
          ASSERT_EQ(nonzero, 1) << "window (" << i << "," << j << ") of plane " << p;
        }
    }
  }
}

TEST(CpuMaxPool, UnpoolRejectsSwitchOutsideThePlane) {
  const PoolShape s{1, 1, 2, 2};
  const float dy = 1.0f;
  const std::int32_t bad = 4;
  std::vector<float> dx(4);
  EXPECT_THROW(CpuOps::max_unpool2x2(s, &dy, &bad, dx.data()), Error);
}

// ---------------------------------------------------------------------------------------------
// linear

std::string describe(const LinearShape& s) {
  return "linear N=" + std::to_string(s.n) + " I=" + std::to_string(s.in) +
         " O=" + std::to_string(s.out);
}

TEST(CpuLinear, MatchesDirectLoops) {
  Random random;
  for (const LinearShape& s : {LinearShape{3, 5, 4}, LinearShape{1, 1, 1}, LinearShape{7, 33, 9},
                               LinearShape{2, 36864, 1024}, LinearShape{64, 1024, 7}}) {
    SCOPED_TRACE(describe(s) + ", " + seed_note(random));
    const auto x = random.uniform(std::int64_t{s.n} * s.in),
               w = random.uniform(std::int64_t{s.out} * s.in), b = random.uniform(s.out),
               dy = random.uniform(std::int64_t{s.n} * s.out);
    auto y = poisoned(std::int64_t{s.n} * s.out), dx = poisoned(std::int64_t{s.n} * s.in),
         dw = poisoned(std::int64_t{s.out} * s.in), db = poisoned(s.out);
    CpuOps::linear_forward(s, x.data(), w.data(), b.data(), y.data());
    CpuOps::linear_backward_data(s, dy.data(), w.data(), dx.data());
    CpuOps::linear_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
    EXPECT_TRUE(all_close(
        "y", y.data(), y.size(),
        [&](std::int64_t e) {
          const std::int64_t n = e / s.out, o = e % s.out;
          double sum = b[o];
          for (int i = 0; i < s.in; ++i) sum += double{x[n * s.in + i]} * w[o * s.in + i];
          return sum;
        },
        conv_atol(s.in), kConvRtol));
    EXPECT_TRUE(all_close(
        "dx", dx.data(), dx.size(),
        [&](std::int64_t e) {
          const std::int64_t n = e / s.in, i = e % s.in;
          double sum = 0.0;
          for (int o = 0; o < s.out; ++o) sum += double{dy[n * s.out + o]} * w[o * s.in + i];
          return sum;
        },
        conv_atol(s.out), kConvRtol));
    EXPECT_TRUE(all_close(
        "dw", dw.data(), dw.size(),
        [&](std::int64_t e) {
          const std::int64_t o = e / s.in, i = e % s.in;
          double sum = 0.0;
          for (int n = 0; n < s.n; ++n) sum += double{dy[n * s.out + o]} * x[n * s.in + i];
          return sum;
        },
        conv_atol(s.n), kConvRtol));
    EXPECT_TRUE(all_close(
        "db", db.data(), db.size(),
        [&](std::int64_t o) {
          double sum = 0.0;
          for (int n = 0; n < s.n; ++n) sum += dy[n * s.out + o];
          return sum;
        },
        conv_atol(s.n), kConvRtol));
    // Without a bias: y has no bias term; dw is unchanged when db is omitted.
    auto y_plain = poisoned(y.size()), dw_alone = poisoned(dw.size());
    CpuOps::linear_forward(s, x.data(), w.data(), nullptr, y_plain.data());
    EXPECT_TRUE(all_close(
        "y without bias", y_plain.data(), y.size(),
        [&](std::int64_t e) { return double{y[e]} - b[e % s.out]; }, conv_atol(s.in), kConvRtol));
    CpuOps::linear_backward_weight(s, x.data(), dy.data(), dw_alone.data(), nullptr);
    EXPECT_EQ(0, std::memcmp(dw.data(), dw_alone.data(), dw.size() * sizeof(float)));
  }
}

TEST(CpuLinear, GradientsMatchFiniteDifferences) {
  Random random;
  const LinearShape s{3, 6, 4};
  SCOPED_TRACE(describe(s) + ", " + seed_note(random));
  const auto x = random.uniform(std::int64_t{s.n} * s.in),
             w = random.uniform(std::int64_t{s.out} * s.in), b = random.uniform(s.out),
             g = random.uniform(std::int64_t{s.n} * s.out);
  auto dx = poisoned(x.size()), dw = poisoned(w.size()), db = poisoned(s.out);
  CpuOps::linear_backward_data(s, g.data(), w.data(), dx.data());
  CpuOps::linear_backward_weight(s, x.data(), g.data(), dw.data(), db.data());
  auto xd = to_double(x), wd = to_double(w), bd = to_double(b);
  const auto loss = [&] {
    double sum = 0.0;
    for (int n = 0; n < s.n; ++n)
      for (int o = 0; o < s.out; ++o) {
        double y = bd[o];
        for (int i = 0; i < s.in; ++i) y += xd[n * s.in + i] * wd[o * s.in + i];
        sum += g[n * s.out + o] * y;
      }
    return sum;
  };
  const double h = 1e-3;
  const auto central = [&](std::vector<double>& param, std::int64_t i) {
    const double saved = param[i];
    param[i] = saved + h;
    const double up = loss();
    param[i] = saved - h;
    const double down = loss();
    param[i] = saved;
    return (up - down) / (2 * h);
  };
  EXPECT_TRUE(all_close(
      "dL/dx", dx.data(), dx.size(), [&](std::int64_t i) { return central(xd, i); }, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(
      "dL/dw", dw.data(), dw.size(), [&](std::int64_t i) { return central(wd, i); }, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(
      "dL/db", db.data(), db.size(), [&](std::int64_t i) { return central(bd, i); }, 1e-5, 1e-5));
}

// The linear ops must not depend on the number of OpenMP or OpenBLAS threads.
TEST(CpuLinear, BitIdenticalForAnyThreadCount) {
  Random random;
  const LinearShape s{64, 2304, 500};
  SCOPED_TRACE(describe(s) + ", " + seed_note(random));
  const auto x = random.uniform(std::int64_t{s.n} * s.in),
             w = random.uniform(std::int64_t{s.out} * s.in), b = random.uniform(s.out),
             dy = random.uniform(std::int64_t{s.n} * s.out);
  const int default_omp = omp_get_max_threads(), default_blas = openblas_get_num_threads();
  std::vector<std::vector<float>> runs[4];
  for (auto [omp_threads, blas_threads] : {std::pair{1, 1}, std::pair{2, 2}, std::pair{3, 4}}) {
    omp_set_num_threads(omp_threads);
    openblas_set_num_threads(blas_threads);
    std::vector<float> y(std::int64_t{s.n} * s.out), dx(x.size()), dw(w.size()), db(s.out);
    CpuOps::linear_forward(s, x.data(), w.data(), b.data(), y.data());
    CpuOps::linear_backward_data(s, dy.data(), w.data(), dx.data());
    CpuOps::linear_backward_weight(s, x.data(), dy.data(), dw.data(), db.data());
    EXPECT_EQ(openblas_get_num_threads(), blas_threads) << "the ops must restore BLAS threads";
    runs[0].push_back(y);
    runs[1].push_back(dx);
    runs[2].push_back(dw);
    runs[3].push_back(db);
  }
  omp_set_num_threads(default_omp);
  openblas_set_num_threads(default_blas);
  const char* names[4] = {"y", "dx", "dw", "db"};
  for (int t = 0; t < 4; ++t)
    for (std::size_t run = 1; run < runs[t].size(); ++run)
      EXPECT_EQ(
          0, std::memcmp(runs[t][0].data(), runs[t][run].data(), runs[t][0].size() * sizeof(float)))
          << names[t] << " differs between 1 thread and run " << run;
}

// ---------------------------------------------------------------------------------------------
// softmax cross-entropy

// Reference in long double with the textbook (stable) formula.
void softmax_xent_ref(int n, int classes, const std::vector<float>& z,
                      const std::vector<std::int32_t>& labels, double& loss,
                      std::vector<double>& dz) {
  long double total = 0;
  dz.assign(z.size(), 0.0);
  for (int i = 0; i < n; ++i) {
    long double m = z[i * classes];
    for (int c = 1; c < classes; ++c) m = std::max<long double>(m, z[i * classes + c]);
    long double sum = 0;
    for (int c = 0; c < classes; ++c)
      sum += std::exp(static_cast<long double>(z[i * classes + c]) - m);
    const long double lse = m + std::log(sum);
    total += lse - z[i * classes + labels[i]];
    for (int c = 0; c < classes; ++c)
      dz[i * classes + c] = static_cast<double>(
          (std::exp(static_cast<long double>(z[i * classes + c]) - lse) - (c == labels[i])) / n);
  }
  loss = static_cast<double>(total / n);
}

TEST(CpuSoftmaxXent, MatchesDoubleReference) {
  Random random;
  for (auto [n, classes, scale] : {std::tuple{3, 7, 3.0f}, std::tuple{64, 7, 10.0f},
                                   std::tuple{5, 1, 1.0f}, std::tuple{17, 8, 1e4f}}) {
    SCOPED_TRACE("N=" + std::to_string(n) + " classes=" + std::to_string(classes) +
                 " logit scale " + std::to_string(scale) + ", " + seed_note(random));
    const auto z = random.uniform(std::int64_t{n} * classes, -scale, scale);
    std::vector<std::int32_t> labels(n);
    for (auto& l : labels) l = random.integer(0, classes - 1);
    double loss_ref;
    std::vector<double> dz_ref;
    softmax_xent_ref(n, classes, z, labels, loss_ref, dz_ref);
    float loss = kNaN;
    auto dz = poisoned(z.size());
    CpuOps::softmax_cross_entropy(n, classes, z.data(), labels.data(), &loss, dz.data());
    ASSERT_TRUE(std::isfinite(loss));
    EXPECT_TRUE(all_close(
        "loss", &loss, 1, [&](std::int64_t) { return loss_ref; }, 1e-6, 1e-6));
    EXPECT_TRUE(all_close("dlogits", dz, dz_ref, 1e-7, 1e-5));
    // Only the loss.
    float loss_only = kNaN;
    CpuOps::softmax_cross_entropy(n, classes, z.data(), labels.data(), &loss_only, nullptr);
    EXPECT_EQ(loss, loss_only);
  }
}

TEST(CpuSoftmaxXent, GradientMatchesFiniteDifferences) {
  Random random;
  const int n = 4, classes = 7;
  SCOPED_TRACE(seed_note(random));
  const auto z = random.uniform(n * classes, -3, 3);
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = random.integer(0, classes - 1);
  float loss;
  auto dz = poisoned(z.size());
  CpuOps::softmax_cross_entropy(n, classes, z.data(), labels.data(), &loss, dz.data());
  // The loss in long double with logit `e` moved by `delta`.
  const auto loss_at = [&](std::int64_t e, long double delta) {
    long double total = 0;
    for (int r = 0; r < n; ++r) {
      const auto logit = [&](int c) {
        return static_cast<long double>(z[r * classes + c]) + (r * classes + c == e ? delta : 0);
      };
      long double m = logit(0), sum = 0;
      for (int c = 1; c < classes; ++c) m = std::max(m, logit(c));
      for (int c = 0; c < classes; ++c) sum += std::exp(logit(c) - m);
      total += m + std::log(sum) - logit(labels[r]);
    }
    return total / n;
  };
  const long double h = 1e-4L;
  EXPECT_TRUE(all_close(
      "dL/dz", dz.data(), dz.size(),
      [&](std::int64_t e) {
        return static_cast<double>((loss_at(e, h) - loss_at(e, -h)) / (2 * h));
      },
      1e-6, 1e-4));
}

TEST(CpuSoftmaxXent, StableForHugeLogits) {
  // Logits ~1e4: exp overflows unless the maximum is subtracted first.
  const float z[6] = {1e4f, 1e4f - 2.0f, 1e4f - 50.0f, -1e4f, 1e4f, 1e4f};
  const std::int32_t labels[2] = {1, 1};
  float loss = kNaN, dz[6];
  CpuOps::softmax_cross_entropy(2, 3, z, labels, &loss, dz);
  const double loss0 = 2.0 + std::log(1 + std::exp(-2.0) + std::exp(-50.0));  // lse − z[1]
  const double loss1 = std::log(2.0);  // two equal maxima; the third is e^(−2e4) ≈ 0
  EXPECT_NEAR(loss, (loss0 + loss1) / 2, 1e-5);
  for (float g : dz) EXPECT_TRUE(std::isfinite(g));
  EXPECT_NEAR(dz[3], 0.0, 1e-12);   // softmax e^(−2e4) ≈ 0
  EXPECT_NEAR(dz[4], -0.25, 1e-6);  // (0.5 − 1) / N, N = 2
  EXPECT_NEAR(dz[5], 0.25, 1e-6);   // 0.5 / N
}

TEST(CpuSoftmaxXent, RejectsLabelOutOfRange) {
  const float z[3] = {0, 1, 2};
  const std::int32_t bad[1] = {3};
  float loss;
  EXPECT_THROW(CpuOps::softmax_cross_entropy(1, 3, z, bad, &loss, nullptr), Error);
}

// ---------------------------------------------------------------------------------------------
// dropout

TEST(CpuDropout, MaskFollowsTheCounterRule) {
  Random random;
  SCOPED_TRACE(seed_note(random));
  const std::int64_t count = 100003;
  const float p = 0.3f;
  const std::uint64_t seed = random.gen()(), offset = random.gen()() % 100000;
  const auto x = random.uniform(count);
  auto y = poisoned(count);
  std::vector<std::uint8_t> mask(count, 7);
  CpuOps::dropout_forward(count, p, seed, offset, x.data(), y.data(), mask.data());
  const float scale = static_cast<float>(1.0 / (1.0 - double{p}));
  for (std::int64_t i = 0; i < count; ++i) {
    ASSERT_EQ(mask[i], uniform01(seed, offset + i) >= p ? 1 : 0) << "mask " << i;
    ASSERT_EQ(y[i], mask[i] ? x[i] * scale : 0.0f) << "y " << i;
  }
  // Same (seed, offset): the same mask; a shifted offset: the same stream shifted.
  std::vector<std::uint8_t> again(count), shifted(count);
  auto y2 = poisoned(count);
  CpuOps::dropout_forward(count, p, seed, offset, x.data(), y2.data(), again.data());
  EXPECT_EQ(mask, again);
  CpuOps::dropout_forward(count, p, seed, offset + 1000, x.data(), y2.data(), shifted.data());
  EXPECT_NE(mask, shifted) << "a different offset must give a different mask";
  EXPECT_TRUE(std::equal(shifted.begin(), shifted.end() - 1000, mask.begin() + 1000));
  CpuOps::dropout_forward(count, p, seed + 1, offset, x.data(), y2.data(), shifted.data());
  EXPECT_NE(mask, shifted) << "a different seed must give a different mask";
  // Backward uses the mask and the same scale.
  const auto dy = random.uniform(count);
  auto dx = poisoned(count);
  CpuOps::dropout_backward(count, p, mask.data(), dy.data(), dx.data());
  for (std::int64_t i = 0; i < count; ++i)
    ASSERT_EQ(dx[i], mask[i] ? dy[i] * scale : 0.0f) << "dx " << i;
}

TEST(CpuDropout, KeepRateWithinFourSigma) {
  Random random;
  SCOPED_TRACE(seed_note(random));
  const std::int64_t count = 1000000;
  const std::uint64_t seed = random.gen()();
  const std::vector<float> x(count, 1.0f);
  std::vector<float> y(count);
  std::vector<std::uint8_t> mask(count);
  for (float p : {0.5f, 0.1f, 0.9f}) {
    CpuOps::dropout_forward(count, p, seed, 0, x.data(), y.data(), mask.data());
    std::int64_t kept = 0;
    for (auto m : mask) kept += m;
    const double q = 1.0 - p;
    const double sigma = std::sqrt(count * q * (1 - q));
    EXPECT_LE(std::fabs(kept - count * q), 4 * sigma) << "p=" << p << ": kept " << kept;
  }
  // p = 0 keeps everything unscaled; p = 1 drops everything.
  CpuOps::dropout_forward(count, 0.0f, seed, 0, x.data(), y.data(), mask.data());
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 1.0f; }));
  CpuOps::dropout_forward(count, 1.0f, seed, 0, x.data(), y.data(), mask.data());
  EXPECT_TRUE(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
  EXPECT_THROW(CpuOps::dropout_forward(1, 1.5f, seed, 0, x.data(), y.data(), mask.data()), Error);
}

// ---------------------------------------------------------------------------------------------
// SGD

TEST(CpuSgd, MatchesPyTorchFormulaOverThreeSteps) {
  Random random;
  SCOPED_TRACE(seed_note(random));
  const std::int64_t count = 200003;
  const SgdConfig cfg{0.05f, 0.9f, 1e-2f};
  auto w = random.uniform(count);
  std::vector<float> v(count, 0.0f);
  std::vector<double> w_ref(w.begin(), w.end()), v_ref(count, 0.0);
  for (int step = 0; step < 3; ++step) {
    const auto g = random.uniform(count);
    CpuOps::sgd_update(count, cfg, w.data(), g.data(), v.data());
    // torch.optim.SGD: d = g + wd·w; buf = d on the first step, else momentum·buf + d; w −= lr·buf
    for (std::int64_t i = 0; i < count; ++i) {
      const double d = g[i] + double{cfg.weight_decay} * w_ref[i];
      v_ref[i] = step == 0 ? d : double{cfg.momentum} * v_ref[i] + d;
      w_ref[i] -= double{cfg.lr} * v_ref[i];
    }
    EXPECT_TRUE(all_close("w after step " + std::to_string(step + 1), w, w_ref, 1e-6, 1e-6));
    EXPECT_TRUE(all_close("v after step " + std::to_string(step + 1), v, v_ref, 1e-6, 1e-6));
  }
}

}  // namespace
}  // namespace aulens
