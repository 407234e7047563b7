// The dropout kernels (cuda/dropout_kernel.cuh) run on the host by tests/emu/block_emu.h against
// their CPU twins: the same counter-based mask for a seed and offset (bit-equal outputs and
// masks), a grid-stride loop that covers more elements than threads, p = 0 and p = 1.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

// The emulator first: it defines the CUDA keywords the kernels use.
#include "emu/block_emu.h"

#include "../cuda/dropout_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(DropoutEmulated, MasksAndOutputsEqualCpuTwin) {
  const std::int64_t count = 5000;  // > 4 blocks × 256 threads: the grid-stride loop runs
  std::mt19937 rng(77);
  std::normal_distribution<float> normal;
  std::vector<float> x(count), dy(count);
  for (float& v : x) v = normal(rng);
  for (float& v : dy) v = normal(rng);
  for (const float p : {0.0f, 0.5f, 1.0f}) {
    SCOPED_TRACE("p " + std::to_string(p));
    std::vector<float> want_y(count), got_y(count, -7.0f), want_dx(count), got_dx(count, -7.0f);
    std::vector<std::uint8_t> want_mask(count), got_mask(count, 7);
    CpuOps::dropout_forward(count, p, 1234, 99, x.data(), want_y.data(), want_mask.data());
    CpuOps::dropout_backward(count, p, want_mask.data(), dy.data(), want_dx.data());
    emu::launch({4}, {kThreads}, 0, dropout_forward_kernel, count, p, keep_scale(p),
                std::uint64_t{1234}, std::uint64_t{99}, static_cast<const float*>(x.data()),
                got_y.data(), got_mask.data());
    emu::launch({4}, {kThreads}, 0, dropout_backward_kernel, count, keep_scale(p),
                static_cast<const std::uint8_t*>(got_mask.data()),
                static_cast<const float*>(dy.data()), got_dx.data());
    EXPECT_EQ(got_mask, want_mask);
    EXPECT_EQ(std::memcmp(got_y.data(), want_y.data(), sizeof(float) * count), 0);
    EXPECT_EQ(std::memcmp(got_dx.data(), want_dx.data(), sizeof(float) * count), 0);
  }
}

}  // namespace
}  // namespace aulens
