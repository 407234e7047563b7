// The AU sweep ops' CPU twins (src/cpu/au_sweep.cpp) against naive code written straight from the
// definitions of DESIGN §1.6 / aulens/ops_decl.inc: a full sort per masked column for the top-n,
// pairwise comparisons for the AUC (ties ½), the explicit permutation π_p for the permutation test.
// Inputs are fresh random values (the seed is printed on failure), quantised so that ties and
// zeros are common. Outputs are poisoned with NaN before each op. Selections (sorted values,
// images, R, Q) must be identical; midranks and AUC exact (rank sums are integers); distances
// |a − b| ≤ 1e-7 + 1e-6·|b| (the naive code uses the same double formula; only the order of the
// per-permutation max could matter, and it does not).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "aulens/ops.h"
#include "aulens/sweep_shuffle.h"
#include "fresh_seed.h"

namespace aulens {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Problem {
  int m = 0, k = 0, a = 0, n = 0;
  std::vector<float> values;       // (M,K)
  std::vector<std::uint8_t> mask;  // (M,A)
};

// Values in {0, 0.05, …, 1} with ~30% zeros (ReLU outputs); AU j present with its own rate.
Problem make_problem(int m, int k, int a, int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Problem p{m,
            k,
            a,
            n,
            std::vector<float>(static_cast<std::size_t>(m) * k),
            std::vector<std::uint8_t>(static_cast<std::size_t>(m) * a)};
  for (float& v : p.values)
    v = u(rng) < 0.3f ? (u(rng) < 0.5f ? -0.0f : 0.0f) : std::round(u(rng) * 20.0f) / 20.0f;
  for (int j = 0; j < a; ++j) {
    const float rate = 0.05f + 0.5f * static_cast<float>(j) / std::max(1, a - 1);
    for (int i = 0; i < m; ++i) p.mask[static_cast<std::size_t>(i) * a + j] = u(rng) < rate;
  }
  return p;
}

// Naive R or Q: every value of the set, sorted descending, the first n, padded with 0.
std::vector<float> naive_top(const Problem& p, int j, int map, bool carries,
                             const std::vector<int>& label_row) {
  std::vector<float> set;
  for (int i = 0; i < p.m; ++i) {
    const bool has = p.mask[static_cast<std::size_t>(label_row[i]) * p.a + j] != 0;
    if (has == carries) set.push_back(p.values[static_cast<std::size_t>(i) * p.k + map]);
  }
  std::sort(set.begin(), set.end(), std::greater<float>());
  set.resize(p.n, 0.0f);
  return set;
}

double naive_distance(const std::vector<float>& r, const std::vector<float>& q, float eps) {
  double sum = 0.0;
  for (std::size_t t = 0; t < r.size(); ++t) {
    const double rv = std::max(r[t], eps), qv = std::max(q[t], eps);
    sum += (rv - qv) * std::log(rv / qv);
  }
  return sum;
}

std::vector<int> identity(int m) {
  std::vector<int> v(m);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

struct Ranked {
  std::vector<float> sorted_values, midranks;
  std::vector<std::int32_t> sorted_images;
};

Ranked rank(const Problem& p) {
  const std::size_t total = static_cast<std::size_t>(p.m) * p.k;
  Ranked r{std::vector<float>(total, kNaN), std::vector<float>(total, kNaN),
           std::vector<std::int32_t>(total, -1)};
  CpuOps::au_sweep_rank(p.m, p.k, p.values.data(), r.sorted_values.data(), r.sorted_images.data(),
                        r.midranks.data());
  return r;
}

class AuSweepOps : public ::testing::Test {
 protected:
  std::uint32_t seed_ = testing::fresh_seed();
  void SetUp() override { RecordProperty("seed", std::to_string(seed_)); }
  std::string where() const { return "seed " + std::to_string(seed_); }
};

TEST_F(AuSweepOps, RankSortsEachMapAndGivesMidranks) {
  const Problem p = make_problem(257, 13, 1, 1, seed_);
  const Ranked r = rank(p);
  for (int map = 0; map < p.k; ++map) {
    std::vector<int> order = identity(p.m);
    auto v = [&](int i) { return p.values[static_cast<std::size_t>(i) * p.k + map]; };
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return v(x) > v(y); });
    for (int t = 0; t < p.m; ++t) {
      const std::size_t e = static_cast<std::size_t>(map) * p.m + t;
      ASSERT_EQ(r.sorted_images[e], order[t])
          << "map " << map << " position " << t << ", " << where();
      ASSERT_EQ(r.sorted_values[e], v(order[t])) << "map " << map << " position " << t;
      ASSERT_FALSE(std::signbit(r.sorted_values[e])) << "−0 must be written as +0";
    }
    for (int i = 0; i < p.m; ++i) {
      int less = 0, equal = 0;
      for (int l = 0; l < p.m; ++l) {
        less += v(l) < v(i);
        equal += v(l) == v(i);
      }
      const float want = static_cast<float>(less) + static_cast<float>(equal + 1) * 0.5f;
      ASSERT_EQ(r.midranks[static_cast<std::size_t>(map) * p.m + i], want)
          << "map " << map << " image " << i << ", " << where();
    }
  }
}

TEST_F(AuSweepOps, TopnDistanceAndAucMatchNaiveDefinitions) {
  const Problem p = make_problem(301, 17, 5, 9, seed_);
  const Ranked r = rank(p);
  const std::size_t cells = static_cast<std::size_t>(p.a) * p.k;
  std::vector<float> top_pos(cells * p.n, kNaN), top_neg(cells * p.n, kNaN);
  std::vector<float> distance(cells, kNaN), auc(cells, kNaN);
  const float eps = 1e-6f;
  CpuOps::au_sweep_topn(p.m, p.k, p.a, p.n, r.sorted_values.data(), r.sorted_images.data(),
                        p.mask.data(), top_pos.data(), top_neg.data());
  CpuOps::au_sweep_distance(p.a, p.k, p.n, eps, top_pos.data(), top_neg.data(), distance.data());
  CpuOps::au_sweep_auc(p.m, p.k, p.a, r.midranks.data(), p.mask.data(), auc.data());
  const std::vector<int> rows = identity(p.m);
  double worst = 0.0;
  for (int j = 0; j < p.a; ++j) {
    for (int map = 0; map < p.k; ++map) {
      const std::size_t cell = static_cast<std::size_t>(j) * p.k + map;
      const std::vector<float> want_r = naive_top(p, j, map, true, rows);
      const std::vector<float> want_q = naive_top(p, j, map, false, rows);
      for (int t = 0; t < p.n; ++t) {
        ASSERT_EQ(top_pos[cell * p.n + t], want_r[t])
            << "R AU " << j << " map " << map << " rank " << t << ", " << where();
        ASSERT_EQ(top_neg[cell * p.n + t], want_q[t])
            << "Q AU " << j << " map " << map << " rank " << t << ", " << where();
      }
      const double want_d = naive_distance(want_r, want_q, eps);
      const double err = std::abs(distance[cell] - want_d);
      worst = std::max(worst, err);
      ASSERT_LE(err, 1e-7 + 1e-6 * std::abs(want_d))
          << "D AU " << j << " map " << map << ", " << where();
      // AUC: P(value of a positive > value of a negative) + ½ P(equal).
      double wins = 0.0;
      int pos = 0, neg = 0;
      for (int i = 0; i < p.m; ++i) {
        if (!p.mask[static_cast<std::size_t>(i) * p.a + j]) continue;
        ++pos;
        for (int l = 0; l < p.m; ++l) {
          if (p.mask[static_cast<std::size_t>(l) * p.a + j]) continue;
          const float vi = p.values[static_cast<std::size_t>(i) * p.k + map];
          const float vl = p.values[static_cast<std::size_t>(l) * p.k + map];
          wins += vi > vl ? 1.0 : vi == vl ? 0.5 : 0.0;
        }
      }
      neg = p.m - pos;
      const double want_auc = wins / (static_cast<double>(pos) * neg);
      ASSERT_NEAR(auc[cell], want_auc, 1e-6) << "AUC AU " << j << " map " << map << ", " << where();
    }
  }
  RecordProperty("worst_distance_error", std::to_string(worst));
}

// DESIGN §1.6 worked by hand: D = Σ (R−Q)·log(R/Q) with R, Q floored at ε.
// R = [2, 1, 0], Q = [1, 1, 0.5], ε = 1e-6: ln 2 + 0 + (1e-6 − 0.5)·ln(2e-6) = 7.2543157…;
// equal lists give 0; swapping R and Q gives the same value (the distance is symmetric).
TEST(AuSweepDistance, WorkedExampleFromTheDefinition) {
  const std::vector<float> top_pos = {2.0f, 1.0f, 0.0f, 3.0f, 2.0f, 1.0f, 1.0f, 1.0f, 0.5f};
  const std::vector<float> top_neg = {1.0f, 1.0f, 0.5f, 3.0f, 2.0f, 1.0f, 2.0f, 1.0f, 0.0f};
  std::vector<float> distance(3, kNaN);
  CpuOps::au_sweep_distance(1, 3, 3, 1e-6f, top_pos.data(), top_neg.data(), distance.data());
  EXPECT_NEAR(distance[0], 7.254315746898732, 1e-5);
  EXPECT_EQ(distance[1], 0.0f);
  EXPECT_EQ(distance[2], distance[0]);
}

TEST_F(AuSweepOps, AucIsNanWithoutPositivesAndTopnPadsWithZero) {
  Problem p = make_problem(40, 3, 2, 9, seed_);
  for (int i = 0; i < p.m; ++i) {
    p.mask[static_cast<std::size_t>(i) * 2 + 0] = 0;      // AU 0: nobody
    p.mask[static_cast<std::size_t>(i) * 2 + 1] = i < 4;  // AU 1: 4 images < n
  }
  const Ranked r = rank(p);
  std::vector<float> top_pos(2 * 3 * 9, kNaN), top_neg(2 * 3 * 9, kNaN), auc(6, kNaN);
  CpuOps::au_sweep_topn(p.m, p.k, p.a, p.n, r.sorted_values.data(), r.sorted_images.data(),
                        p.mask.data(), top_pos.data(), top_neg.data());
  CpuOps::au_sweep_auc(p.m, p.k, p.a, r.midranks.data(), p.mask.data(), auc.data());
  for (int map = 0; map < 3; ++map) {
    EXPECT_TRUE(std::isnan(auc[map])) << "map " << map;
    for (int t = 0; t < 9; ++t) EXPECT_EQ(top_pos[map * 9 + t], 0.0f);
    for (int t = 4; t < 9; ++t) EXPECT_EQ(top_pos[(3 + map) * 9 + t], 0.0f);
  }
}

TEST_F(AuSweepOps, PermutationsAreSeededPermutationsAndMatchNaiveNull) {
  const Problem p = make_problem(203, 11, 4, 9, seed_);
  const Ranked r = rank(p);
  const std::uint64_t perm_seed = seed_;
  const int first = 3, count = 6;
  // π_p applied to the identity is a permutation, different for different p.
  std::vector<std::vector<int>> perms;
  for (int q = 0; q < count; ++q) {
    std::vector<int> pi = identity(p.m);
    sweep_shuffle(perm_seed, first + q, p.m, pi.data());
    std::vector<int> sorted = pi;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, identity(p.m)) << "permutation " << first + q << " is not a permutation";
    for (const auto& other : perms) ASSERT_NE(pi, other) << "two permutations are equal";
    perms.push_back(pi);
  }
  std::vector<float> null_max(static_cast<std::size_t>(count) * p.a, kNaN);
  const float eps = 1e-6f;
  CpuOps::au_sweep_permutation_max(p.m, p.k, p.a, p.n, eps, perm_seed, first, count,
                                   r.sorted_values.data(), r.sorted_images.data(), p.mask.data(),
                                   null_max.data());
  for (int q = 0; q < count; ++q) {
    for (int j = 0; j < p.a; ++j) {
      double want = 0.0;
      for (int map = 0; map < p.k; ++map) {
        want = std::max(want, naive_distance(naive_top(p, j, map, true, perms[q]),
                                             naive_top(p, j, map, false, perms[q]), eps));
      }
      const float got = null_max[static_cast<std::size_t>(q) * p.a + j];
      ASSERT_LE(std::abs(got - want), 1e-7 + 1e-6 * want)
          << "permutation " << first + q << " AU " << j << ": " << got << " vs " << want << ", "
          << where();
    }
  }
}

}  // namespace
}  // namespace aulens
