// The SGD kernel (cuda/sgd_kernel.cuh) run on the host by tests/emu/block_emu.h against its CPU
// twin: momentum and weight decay, every product and sum rounded on its own, a grid-stride loop.
// Bit-equal weights and velocities.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords and the rounded float operations.
#include "emu/block_emu.h"

#include "../cuda/sgd_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(SgdEmulated, UpdateEqualsCpuTwin) {
  const std::int64_t count = 3000;
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  std::vector<float> w(count), g(count), v(count);
  for (std::int64_t i = 0; i < count; ++i) {
    w[i] = normal(rng);
    g[i] = normal(rng);
    v[i] = normal(rng);
  }
  const SgdConfig cfg{0.01f, 0.9f, 1e-4f};
  std::vector<float> want_w = w, want_v = v, got_w = w, got_v = v;
  CpuOps::sgd_update(count, cfg, want_w.data(), g.data(), want_v.data());
  emu::launch({2}, {kThreads}, 0, sgd_update_kernel, count, cfg.lr, cfg.momentum, cfg.weight_decay,
              got_w.data(), static_cast<const float*>(g.data()), got_v.data());
  EXPECT_EQ(std::memcmp(got_w.data(), want_w.data(), sizeof(float) * count), 0);
  EXPECT_EQ(std::memcmp(got_v.data(), want_v.data(), sizeof(float) * count), 0);
}

}  // namespace
}  // namespace aulens
