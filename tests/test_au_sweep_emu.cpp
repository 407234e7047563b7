// The AU sweep's CUDA kernels (cuda/au_sweep_kernels.cuh) run on the host by tests/emu/block_emu.h
// (warp ballots, shuffles and reductions included), against the CPU twin (CpuOps::au_sweep_*), on
// the planted data of tests/sweep_planted.h (30% zeros, so ranks have large tie groups; one AU
// carried by 3 images, so some walks cover the whole column). The launchers' sequence is repeated
// here with emu::launch; the CUB segmented sort is replaced by a stable host sort of the
// transposed keys (same order: descending, equal values by image). Pass: sorted columns,
// midranks, R and Q, AUC, distances and permutation maxima equal to the twin's bit for bit (the
// same integer rank sums, the same double formula in the same order, the same permutations). The
// GPU test (tests/gpu/test_sweep_gpu.cpp) allows an ulp of the device's log on top.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

// The emulator first: it defines the CUDA keywords and warp collectives the kernels use.
#include "emu/block_emu.h"

#include "../cuda/au_sweep_kernels.cuh"

#include "aulens/ops.h"
#include "sweep_planted.h"

namespace aulens {
namespace {

unsigned blocks(long long count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

template <class T>
bool bits_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Data {
  int m, k, a, n = 9;
  float epsilon = 1e-3f;
  std::vector<float> values;
  std::vector<std::uint8_t> mask;
};

Data make_data(int m, int k, std::uint32_t seed) {
  const testing_sweep::Planted p = testing_sweep::make_planted(m, k, 17, seed);
  Data d{m, k, static_cast<int>(p.au_ids.size())};
  d.values.assign(p.values.data<float>(), p.values.data<float>() + p.values.numel());
  d.values[5 * k + 3] = -0.0f;  // −0 must rank (and be written) as +0
  d.mask.resize(static_cast<std::size_t>(m) * d.a);
  for (std::size_t e = 0; e < d.mask.size(); ++e) d.mask[e] = p.aus.data<float>()[e] > 0.0f;
  return d;
}

TEST(AuSweepEmulated, EveryKernelEqualsCpuTwin) {
  const Data d = make_data(700, 40, 4242);
  const int m = d.m, k = d.k, a = d.a, n = d.n;
  const std::size_t km = static_cast<std::size_t>(k) * m;

  // CPU twin.
  std::vector<float> c_sorted(km), c_midranks(km);
  std::vector<std::int32_t> c_images(km);
  CpuOps::au_sweep_rank(m, k, d.values.data(), c_sorted.data(), c_images.data(), c_midranks.data());
  const std::size_t cells = static_cast<std::size_t>(a) * k;
  std::vector<float> c_pos(cells * n), c_neg(cells * n), c_distance(cells), c_auc(cells);
  CpuOps::au_sweep_topn(m, k, a, n, c_sorted.data(), c_images.data(), d.mask.data(), c_pos.data(),
                        c_neg.data());
  CpuOps::au_sweep_distance(a, k, n, d.epsilon, c_pos.data(), c_neg.data(), c_distance.data());
  CpuOps::au_sweep_auc(m, k, a, c_midranks.data(), d.mask.data(), c_auc.data());
  const int first = 3, count = 5;
  const std::uint64_t seed = 99;
  std::vector<float> c_null(static_cast<std::size_t>(count) * a);
  CpuOps::au_sweep_permutation_max(m, k, a, n, d.epsilon, seed, first, count, c_sorted.data(),
                                   c_images.data(), d.mask.data(), c_null.data());

  // Kernels, as the launchers run them.
  std::vector<std::uint64_t> rows(m, ~0ull);
  emu::launch({blocks(m, 256)}, {256}, 0, pack_rows_kernel, m, a,
              static_cast<const std::uint8_t*>(d.mask.data()), rows.data());

  std::vector<float> keys(km, NAN);
  std::vector<std::int32_t> images(km, -1);
  std::vector<int> offsets(k + 1, -1);
  emu::launch({blocks(m, 32), blocks(k, 32)}, {32, 8}, 0, transpose_for_sort_kernel, m, k,
              static_cast<const float*>(d.values.data()), keys.data(), images.data(),
              offsets.data());
  for (int map = 0; map <= k; ++map) ASSERT_EQ(offsets[map], map * m);
  std::vector<float> sorted(km);
  std::vector<std::int32_t> sorted_images(km);
  for (int map = 0; map < k; ++map) {  // the CUB segmented sort: descending, stable
    std::vector<int> order(m);
    std::iota(order.begin(), order.end(), 0);
    const float* col = keys.data() + static_cast<std::size_t>(map) * m;
    std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return col[x] > col[y]; });
    for (int t = 0; t < m; ++t) {
      sorted[static_cast<std::size_t>(map) * m + t] = col[order[t]];
      sorted_images[static_cast<std::size_t>(map) * m + t] =
          images[static_cast<std::size_t>(map) * m + order[t]];
    }
  }
  EXPECT_TRUE(bits_equal(sorted, c_sorted)) << "sorted values (−0 → +0)";
  EXPECT_EQ(sorted_images, c_images);

  std::vector<float> midranks(km, NAN);
  emu::launch({blocks(static_cast<long long>(km), 256)}, {256}, 0, midrank_kernel, m, k,
              static_cast<const float*>(sorted.data()),
              static_cast<const std::int32_t*>(sorted_images.data()), midranks.data());
  EXPECT_TRUE(bits_equal(midranks, c_midranks)) << "midranks";

  std::vector<float> pos(cells * n, NAN), neg(cells * n, NAN);
  emu::launch({blocks(static_cast<long long>(cells), kWalkWarps)}, {kWalkWarps * kWarp}, 0,
              topn_kernel, m, k, a, n, static_cast<const float*>(sorted.data()),
              static_cast<const std::int32_t*>(sorted_images.data()),
              static_cast<const std::uint64_t*>(rows.data()), pos.data(), neg.data());
  EXPECT_TRUE(bits_equal(pos, c_pos)) << "R";
  EXPECT_TRUE(bits_equal(neg, c_neg)) << "Q";

  std::vector<float> distance(cells, NAN);
  emu::launch({blocks(static_cast<long long>(cells), 256)}, {256}, 0, distance_kernel,
              static_cast<int>(cells), n, d.epsilon, static_cast<const float*>(pos.data()),
              static_cast<const float*>(neg.data()), distance.data());
  EXPECT_TRUE(bits_equal(distance, c_distance)) << "distances";

  std::vector<float> auc(cells, -1.0f);
  emu::launch({static_cast<unsigned>(k)}, {kAucThreads}, 0, auc_kernel, m, k, a,
              static_cast<const float*>(midranks.data()),
              static_cast<const std::uint64_t*>(rows.data()), auc.data());
  EXPECT_TRUE(bits_equal(auc, c_auc)) << "AUC";

  for (const bool in_shared : {true, false}) {
    SCOPED_TRACE(in_shared ? "shuffle in shared memory" : "shuffle in global memory");
    std::vector<std::uint64_t> shuffled(static_cast<std::size_t>(count) * m, ~0ull);
    emu::launch({static_cast<unsigned>(count)}, {256}, in_shared ? sizeof(std::uint64_t) * m : 0,
                shuffle_rows_kernel, m, seed, first, static_cast<const std::uint64_t*>(rows.data()),
                shuffled.data(), in_shared);
    std::vector<float> null_max(static_cast<std::size_t>(count) * a, NAN);
    emu::launch({static_cast<unsigned>(count)}, {kPermWarps * kWarp}, 0, permutation_max_kernel, m,
                k, a, n, d.epsilon, static_cast<const float*>(sorted.data()),
                static_cast<const std::int32_t*>(sorted_images.data()),
                static_cast<const std::uint64_t*>(shuffled.data()), null_max.data());
    EXPECT_TRUE(bits_equal(null_max, c_null)) << "permutation maxima";
  }
}

}  // namespace
}  // namespace aulens
