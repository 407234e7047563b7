// The bias kernels of the fully connected layer (cuda/linear_kernel.cuh; the products are cuBLAS)
// run on the host by tests/emu/block_emu.h: the bias add against y + b exactly, and the bias
// gradient against the CPU twin's db (both sum in double; 1e-6 relative), with a column count
// that is not a multiple of the 32-column blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords the kernels use.
#include "emu/block_emu.h"

#include "../cuda/linear_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(LinearBiasEmulated, AddAndGradientEqualCpu) {
  const int rows = 37, cols = 45, in = 3;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::vector<float> y(rows * cols), b(cols), dy(rows * cols), x(rows * in);
  for (float& v : y) v = normal(rng);
  for (float& v : b) v = normal(rng);
  for (float& v : dy) v = normal(rng);
  for (float& v : x) v = normal(rng);
  std::vector<float> added = y;
  emu::launch({static_cast<unsigned>((rows * cols + 127) / 128)}, {128}, 0, add_bias_kernel,
              static_cast<std::int64_t>(rows), cols, static_cast<const float*>(b.data()),
              added.data());
  for (int e = 0; e < rows * cols; ++e) ASSERT_EQ(added[e], y[e] + b[e % cols]) << e;

  std::vector<float> want_dw(cols * in), want_db(cols), got_db(cols, -7.0f);
  CpuOps::linear_backward_weight(LinearShape{rows, in, cols}, x.data(), dy.data(), want_dw.data(),
                                 want_db.data());
  emu::launch({static_cast<unsigned>((cols + kBiasCols - 1) / kBiasCols)}, {kBiasCols, kBiasRows},
              0, bias_grad_kernel, rows, cols, static_cast<const float*>(dy.data()), got_db.data());
  for (int c = 0; c < cols; ++c)
    EXPECT_NEAR(got_db[c], want_db[c], 1e-6 * std::fabs(want_db[c]) + 1e-7) << c;
}

}  // namespace
}  // namespace aulens
