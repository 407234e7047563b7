// The AU sweep on the GPU (CudaOps, cuda/au_sweep.cu) against its CPU twin (CpuOps), through the
// engine (aulens/sweep.h) and op by op for the ranks. Skips when no GPU is usable.
// Pass criteria: sorted images, midranks, R and Q identical (selections and exact rank sums);
// AUC identical up to 1e-7; distances and permutation maxima |gpu − cpu| ≤ 1e-7 + 1e-6·|cpu| (same
// double formula in the same order; only the device log may differ by an ulp); the permutation
// counts (#null ≥ observed) identical, since both twins draw the same permutations — unless a null
// maximum lies within that tolerance of the observed one, which the test reports. Also the
// planted-data claims of tests/test_sweep.cpp on the GPU, at the benchmark's map count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "aulens/device.h"
#include "aulens/ops.h"
#include "aulens/sweep.h"
#include "fresh_seed.h"
#include "gpu_skip.h"
#include "sweep_planted.h"

namespace aulens {
namespace {

using testing_sweep::make_planted;

// Worst |a − b| − (atol + rtol·|b|) over the elements, with its index; NaN matches NaN only.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 double atol, double rtol, const std::string& what) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  double worst = -1.0;
  std::size_t at = 0;
  for (std::size_t e = 0; e < got.size(); ++e) {
    if (std::isnan(got[e]) || std::isnan(want[e])) {
      if (std::isnan(got[e]) != std::isnan(want[e]))
        return ::testing::AssertionFailure()
               << what << "[" << e << "]: " << got[e] << " vs " << want[e];
      continue;
    }
    const double excess = std::abs(double(got[e]) - want[e]) - (atol + rtol * std::abs(want[e]));
    if (excess > worst) {
      worst = excess;
      at = e;
    }
  }
  if (worst > 0.0)
    return ::testing::AssertionFailure()
           << what << ": worst element " << at << " gpu " << got[at] << " cpu " << want[at];
  return ::testing::AssertionSuccess();
}

TEST(SweepGpu, RankMatchesCpuWithTies) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = testing::fresh_seed();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const int m = 3001, k = 37;
  std::vector<float> values(static_cast<std::size_t>(m) * k);
  for (float& v : values)
    v = u(rng) < 0.3f ? (u(rng) < 0.5f ? -0.0f : 0.0f) : std::round(u(rng) * 50) / 50;
  const Tensor host = Tensor::from_vector<float>({m, k}, values);
  const std::size_t total = values.size();
  std::vector<float> cpu_sorted(total), cpu_ranks(total);
  std::vector<std::int32_t> cpu_images(total);
  CpuOps::au_sweep_rank(m, k, values.data(), cpu_sorted.data(), cpu_images.data(),
                        cpu_ranks.data());
  const Tensor dev_values = host.to(Device::cuda);
  Tensor sorted({k, m}, DType::f32, Device::cuda), images({k, m}, DType::i32, Device::cuda),
      ranks({k, m}, DType::f32, Device::cuda);
  for (Tensor* t : {&sorted, &images, &ranks}) {
    const std::vector<unsigned char> ff(t->nbytes(), 0xFF);
    device::copy_to_device(t->raw(), ff.data(), ff.size());
  }
  CudaOps::au_sweep_rank(m, k, dev_values.data<float>(), sorted.data<float>(),
                         images.data<std::int32_t>(), ranks.data<float>());
  device::synchronize();
  EXPECT_EQ(images.to_vector<std::int32_t>(), cpu_images) << "seed " << seed;
  // Bit for bit: float == would take −0 for +0, and the rule is that −0 is written as +0.
  const std::vector<float> gpu_sorted = sorted.to_vector<float>();
  ASSERT_EQ(gpu_sorted.size(), cpu_sorted.size());
  EXPECT_EQ(std::memcmp(gpu_sorted.data(), cpu_sorted.data(), total * sizeof(float)), 0)
      << "seed " << seed;
  EXPECT_EQ(ranks.to_vector<float>(), cpu_ranks) << "seed " << seed;
}

TEST(SweepGpu, FullSweepMatchesCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = testing::fresh_seed();
  // Emulated: fewer images and permutations, the same kernels and chunking.
  const auto p =
      make_planted(testing::kEmulated ? 600 : 4000, testing::kEmulated ? 128 : 256, 117, seed);
  SweepConfig cfg;
  cfg.permutations = testing::kEmulated ? 20 : 300;
  cfg.seed = seed;
  const SweepResult cpu = run_sweep<CpuOps>(p.values, p.aus, p.au_ids, cfg);
  const SweepResult gpu = run_sweep<CudaOps>(p.values, p.aus, p.au_ids, cfg);
  const std::string where = " (seed " + std::to_string(seed) + ")";
  ASSERT_EQ(gpu.au_ids, cpu.au_ids);
  EXPECT_EQ(gpu.top_pos.to_vector<float>(), cpu.top_pos.to_vector<float>()) << "R" << where;
  EXPECT_EQ(gpu.top_neg.to_vector<float>(), cpu.top_neg.to_vector<float>()) << "Q" << where;
  EXPECT_TRUE(close(gpu.distance.to_vector<float>(), cpu.distance.to_vector<float>(), 1e-7, 1e-6,
                    "distance" + where));
  EXPECT_TRUE(
      close(gpu.auc.to_vector<float>(), cpu.auc.to_vector<float>(), 1e-7, 0.0, "auc" + where));
  EXPECT_TRUE(close(gpu.null_max.to_vector<float>(), cpu.null_max.to_vector<float>(), 1e-7, 1e-6,
                    "null_max" + where));
  for (std::size_t j = 0; j < cpu.best.size(); ++j) {
    EXPECT_EQ(gpu.best[j].best_map, cpu.best[j].best_map) << "AU " << cpu.best[j].au << where;
    int near_ties = 0;
    for (int q = 0; q < cfg.permutations; ++q) {
      const float v = cpu.null_max.data<float>()[q * cpu.au_ids.size() + j];
      near_ties += std::abs(v - cpu.best[j].best_distance) <= 1e-6f * cpu.best[j].best_distance;
    }
    EXPECT_LE(std::abs(gpu.best[j].exceed - cpu.best[j].exceed), near_ties)
        << "AU " << cpu.best[j].au << " permutation counts differ" << where;
  }
  // The planted claims on the GPU.
  const SweepAu& au12 = gpu.best[2];
  EXPECT_EQ(au12.au, 12);
  EXPECT_EQ(au12.best_map, 117) << where;
  EXPECT_DOUBLE_EQ(au12.p_value, 1.0 / (cfg.permutations + 1)) << where;
  EXPECT_FLOAT_EQ(au12.best_auc, 1.0f);
}

TEST(SweepGpu, UnplantedAuHasLargePValueOnGpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const auto p = make_planted(1500, 48, 29, 12345);  // the CPU test's fixed data
  SweepConfig cfg;
  cfg.permutations = testing::kEmulated ? 60 : 200;
  cfg.seed = 7;
  const SweepResult gpu = run_sweep<CudaOps>(p.values, p.aus, p.au_ids, cfg);
  const SweepResult cpu = run_sweep<CpuOps>(p.values, p.aus, p.au_ids, cfg);
  ASSERT_EQ(gpu.best.size(), 4u);
  EXPECT_EQ(gpu.best[2].best_map, 29);
  EXPECT_DOUBLE_EQ(gpu.best[2].p_value, 1.0 / (cfg.permutations + 1));
  EXPECT_GT(gpu.best[3].p_value, 0.05);
  for (std::size_t j = 0; j < 4; ++j)
    EXPECT_EQ(gpu.best[j].exceed, cpu.best[j].exceed) << "AU " << cpu.best[j].au;
}

}  // namespace
}  // namespace aulens
