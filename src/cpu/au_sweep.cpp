// CPU reference twin of cuda/au_sweep.cu: the AU sweep of DESIGN §1.6 (ops declared, with their
// exact definitions, at the end of aulens/ops_decl.inc).
//
//   au_sweep_rank             values (M,K) → per map: values descending, their images, midranks
//   au_sweep_topn             R, Q (A,K,n): the first n images of each set along the sorted column
//   au_sweep_distance         D (A,K) = Σ (R'−Q')·log(R'/Q'), ε-floored, double terms in order
//   au_sweep_auc              AUC (A,K) from the rank sums of the positives (Mann–Whitney)
//   au_sweep_permutation_max  null_max (P,A): the largest D over maps under each permutation
// Glossary: M images, K maps, A AUs (≤ 64), n top-n length (≤ 32), P permutations.
// The top-n of a masked column is the first n images of the set met while walking the column in
// descending order, which is the definition of "the n largest" (ties are irrelevant for values).
// The walk stops once both sets are full, so a permutation costs about n·M/min(|S|, |Sᶜ|) steps per
// (AU, map) instead of M. tests/test_au_sweep.cpp checks every op against naive loops.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "aulens/ops.h"
#include "aulens/sweep_shuffle.h"

namespace aulens {

namespace {

constexpr int kMaxAus = 64;
constexpr int kMaxTopN = 32;

void check_sizes(const char* op, int m, int k, int a, int n) {
  AULENS_CHECK(m > 0 && m < (1 << 23) && k > 0 && a >= 1 && a <= kMaxAus && n >= 1 && n <= kMaxTopN,
               std::string(op) + ": need 0 < M < 2^23, K > 0, 1 <= A <= 64, 1 <= n <= 32; got M " +
                   std::to_string(m) + ", K " + std::to_string(k) + ", A " + std::to_string(a) +
                   ", n " + std::to_string(n));
}

// au_mask (M,A) → one 64-bit row per image, bit j = carries AU j.
std::vector<std::uint64_t> pack_rows(int m, int a, const std::uint8_t* au_mask) {
  std::vector<std::uint64_t> rows(m, 0);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < a; ++j) {
      if (au_mask[static_cast<std::int64_t>(i) * a + j] != 0) rows[i] |= std::uint64_t{1} << j;
    }
  }
  return rows;
}

// Walks map column (sorted_values, sorted_images) of length m; R/Q (n) get the first n values of
// images whose row has bit j set / clear; the rest stays 0.
void masked_top_n(int m, int n, const float* sorted_values, const std::int32_t* sorted_images,
                  const std::uint64_t* rows, int j, float* r, float* q) {
  std::fill(r, r + n, 0.0f);
  std::fill(q, q + n, 0.0f);
  int with = 0, without = 0;
  for (int t = 0; t < m && (with < n || without < n); ++t) {
    const bool carries = (rows[sorted_images[t]] >> j) & 1u;
    if (carries) {
      if (with < n) r[with++] = sorted_values[t];
    } else if (without < n) {
      q[without++] = sorted_values[t];
    }
  }
}

float distance_of(int n, float epsilon, const float* r, const float* q) {
  double sum = 0.0;
  for (int t = 0; t < n; ++t) {
    const double rv = std::max(r[t], epsilon), qv = std::max(q[t], epsilon);
    sum += (rv - qv) * std::log(rv / qv);
  }
  return static_cast<float>(sum);
}

}  // namespace

void CpuOps::au_sweep_rank(int m, int k, const float* values, float* sorted_values,
                           std::int32_t* sorted_images, float* midranks) {
  check_sizes("au_sweep_rank", m, k, 1, 1);
#pragma omp parallel for schedule(dynamic)
  for (int map = 0; map < k; ++map) {
    std::vector<std::int32_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    auto value = [&](std::int32_t i) { return values[static_cast<std::int64_t>(i) * k + map]; };
    std::sort(order.begin(), order.end(), [&](std::int32_t x, std::int32_t y) {
      return value(x) > value(y) || (value(x) == value(y) && x < y);
    });
    float* col_values = sorted_values + static_cast<std::int64_t>(map) * m;
    std::int32_t* col_images = sorted_images + static_cast<std::int64_t>(map) * m;
    float* col_ranks = midranks + static_cast<std::int64_t>(map) * m;
    for (int t = 0; t < m; ++t) {
      const float v = value(order[t]);
      col_values[t] = v == 0.0f ? 0.0f : v;  // −0 is stored as +0 (equal values, one spelling)
      col_images[t] = order[t];
    }
    // Tie group [lo, hi) in descending order holds ascending ranks m−hi+1 … m−lo.
    for (int lo = 0; lo < m;) {
      int hi = lo + 1;
      while (hi < m && col_values[hi] == col_values[lo]) ++hi;
      const float midrank = static_cast<float>(2 * m - hi - lo + 1) * 0.5f;
      for (int t = lo; t < hi; ++t) col_ranks[order[t]] = midrank;
      lo = hi;
    }
  }
}

void CpuOps::au_sweep_topn(int m, int k, int a, int n, const float* sorted_values,
                           const std::int32_t* sorted_images, const std::uint8_t* au_mask,
                           float* top_pos, float* top_neg) {
  check_sizes("au_sweep_topn", m, k, a, n);
  const std::vector<std::uint64_t> rows = pack_rows(m, a, au_mask);
#pragma omp parallel for collapse(2) schedule(dynamic, 16)
  for (int j = 0; j < a; ++j) {
    for (int map = 0; map < k; ++map) {
      const std::int64_t cell = (static_cast<std::int64_t>(j) * k + map) * n;
      masked_top_n(m, n, sorted_values + static_cast<std::int64_t>(map) * m,
                   sorted_images + static_cast<std::int64_t>(map) * m, rows.data(), j,
                   top_pos + cell, top_neg + cell);
    }
  }
}

void CpuOps::au_sweep_distance(int a, int k, int n, float epsilon, const float* top_pos,
                               const float* top_neg, float* distance) {
  check_sizes("au_sweep_distance", 1, k, a, n);
  AULENS_CHECK(epsilon > 0.0f,
               "au_sweep_distance: epsilon must be > 0, got " + std::to_string(epsilon));
  for (std::int64_t cell = 0; cell < static_cast<std::int64_t>(a) * k; ++cell) {
    distance[cell] = distance_of(n, epsilon, top_pos + cell * n, top_neg + cell * n);
  }
}

void CpuOps::au_sweep_auc(int m, int k, int a, const float* midranks, const std::uint8_t* au_mask,
                          float* auc) {
  check_sizes("au_sweep_auc", m, k, a, 1);
  const std::vector<std::uint64_t> rows = pack_rows(m, a, au_mask);
  std::vector<std::int64_t> with(a, 0);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < a; ++j) with[j] += (rows[i] >> j) & 1u;
  }
#pragma omp parallel for schedule(static)
  for (int map = 0; map < k; ++map) {
    std::vector<std::int64_t> twice_rank_sum(a, 0);
    const float* col_ranks = midranks + static_cast<std::int64_t>(map) * m;
    for (int i = 0; i < m; ++i) {
      const auto twice_rank = static_cast<std::int64_t>(2.0f * col_ranks[i]);
      for (std::uint64_t bits = rows[i]; bits != 0; bits &= bits - 1) {
        twice_rank_sum[std::countr_zero(bits)] += twice_rank;
      }
    }
    for (int j = 0; j < a; ++j) {
      const std::int64_t pos = with[j], neg = m - with[j];
      auc[static_cast<std::int64_t>(j) * k + map] =
          pos == 0 || neg == 0
              ? std::numeric_limits<float>::quiet_NaN()
              : static_cast<float>(static_cast<double>(twice_rank_sum[j] - pos * (pos + 1)) /
                                   (2.0 * static_cast<double>(pos) * static_cast<double>(neg)));
    }
  }
}

void CpuOps::au_sweep_permutation_max(int m, int k, int a, int n, float epsilon, std::uint64_t seed,
                                      int first, int count, const float* sorted_values,
                                      const std::int32_t* sorted_images,
                                      const std::uint8_t* au_mask, float* null_max) {
  check_sizes("au_sweep_permutation_max", m, k, a, n);
  AULENS_CHECK(first >= 0 && count >= 0, "au_sweep_permutation_max: bad range first " +
                                             std::to_string(first) + ", count " +
                                             std::to_string(count));
  const std::vector<std::uint64_t> rows = pack_rows(m, a, au_mask);
#pragma omp parallel for schedule(dynamic)
  for (int q = 0; q < count; ++q) {
    std::vector<std::uint64_t> shuffled = rows;
    sweep_shuffle(seed, static_cast<std::uint64_t>(first) + q, m, shuffled.data());
    float r[kMaxTopN], qv[kMaxTopN];
    for (int j = 0; j < a; ++j) {
      float best = 0.0f;
      for (int map = 0; map < k; ++map) {
        masked_top_n(m, n, sorted_values + static_cast<std::int64_t>(map) * m,
                     sorted_images + static_cast<std::int64_t>(map) * m, shuffled.data(), j, r, qv);
        best = std::max(best, distance_of(n, epsilon, r, qv));
      }
      null_max[static_cast<std::int64_t>(q) * a + j] = best;
    }
  }
}

}  // namespace aulens
