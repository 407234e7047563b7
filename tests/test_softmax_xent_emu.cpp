// The softmax cross-entropy kernels (cuda/softmax_xent_kernel.cuh) run on the host by
// tests/emu/block_emu.h against the CPU twin: one warp per row (xor-shuffle max and sum), the
// fixed-order mean, a batch that is not a multiple of the 8 rows per block, and a label outside
// [0, classes) (NaN loss and row, by contract; the CPU twin throws there, so that case is checked
// alone). Both compute in double; the warp's tree adds the row in another order than the twin's
// loop, so values agree to 1e-6 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords and warp shuffles the kernels use.
#include "emu/block_emu.h"

#include "../cuda/softmax_xent_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

void run(int n, int classes, const std::vector<float>& logits,
         const std::vector<std::int32_t>& labels, float* loss, std::vector<float>& dlogits) {
  std::vector<double> row_loss(n, NAN);
  const int rows_per_block = kRowThreads / kWarp;
  emu::launch({static_cast<unsigned>((n + rows_per_block - 1) / rows_per_block)}, {kRowThreads}, 0,
              softmax_xent_rows_kernel, n, classes, logits.data(), labels.data(), row_loss.data(),
              dlogits.data());
  emu::launch({1}, {kSumThreads}, 0, mean_loss_kernel, n,
              static_cast<const double*>(row_loss.data()), loss);
}

TEST(SoftmaxXentEmulated, LossAndGradientEqualCpuTwin) {
  const int n = 21, classes = 7;
  std::mt19937 rng(10);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::uniform_int_distribution<int> label(0, classes - 1);
  std::vector<float> logits(n * classes);
  std::vector<std::int32_t> labels(n);
  for (float& v : logits) v = normal(rng);
  for (auto& l : labels) l = label(rng);
  float want_loss = 0.0f, got_loss = -7.0f;
  std::vector<float> want_d(n * classes), got_d(n * classes, -7.0f);
  CpuOps::softmax_cross_entropy(n, classes, logits.data(), labels.data(), &want_loss,
                                want_d.data());
  run(n, classes, logits, labels, &got_loss, got_d);
  EXPECT_NEAR(got_loss, want_loss, 1e-6 * std::fabs(want_loss));
  for (int e = 0; e < n * classes; ++e)
    EXPECT_NEAR(got_d[e], want_d[e], 1e-6 * std::fabs(want_d[e]) + 1e-9) << e;

  labels[4] = classes;  // out of range: NaN, the trainer's check stops
  run(n, classes, logits, labels, &got_loss, got_d);
  EXPECT_TRUE(std::isnan(got_loss));
  for (int k = 0; k < classes; ++k) EXPECT_TRUE(std::isnan(got_d[4 * classes + k]));
  EXPECT_FALSE(std::isnan(got_d[5 * classes]));
}

}  // namespace
}  // namespace aulens
