// The 2×2 max-pool and unpool kernels (cuda/maxpool_kernel.cuh) run on the host by
// tests/emu/block_emu.h against their CPU twins, on odd sizes (an uncovered last row and column),
// ties (the first maximum wins), NaN (wins) and −inf: pooled values, switches and the unpooled
// gradient must be identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords the kernels use.
#include "emu/block_emu.h"

#include "../cuda/maxpool_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

unsigned blocks(std::int64_t count) {
  return static_cast<unsigned>((count + kThreads - 1) / kThreads);
}

TEST(MaxpoolEmulated, PoolAndUnpoolEqualCpuTwin) {
  const PoolShape s{2, 3, 7, 9};
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t in_count = planes * s.h * s.w, out_count = planes * s.out_h() * s.out_w();
  std::mt19937 rng(31);
  std::uniform_int_distribution<int> level(-2, 2);
  std::vector<float> x(in_count), dy(out_count);
  for (float& v : x) v = static_cast<float>(level(rng));  // ties everywhere
  x[5] = NAN;
  x[20] = -std::numeric_limits<float>::infinity();
  for (float& v : dy) v = static_cast<float>(level(rng)) + 0.5f;
  std::vector<float> want_y(out_count), got_y(out_count, -7.0f);
  std::vector<std::int32_t> want_sw(out_count), got_sw(out_count, -7);
  CpuOps::maxpool2x2_forward(s, x.data(), want_y.data(), want_sw.data());
  emu::launch({blocks(out_count)}, {kThreads}, 0, maxpool2x2_forward_kernel, planes, s.h, s.w,
              static_cast<const float*>(x.data()), got_y.data(), got_sw.data());
  EXPECT_EQ(got_sw, want_sw);
  EXPECT_EQ(std::memcmp(got_y.data(), want_y.data(), sizeof(float) * out_count), 0);

  std::vector<float> want_dx(in_count), got_dx(in_count, -7.0f);
  CpuOps::max_unpool2x2(s, dy.data(), want_sw.data(), want_dx.data());
  emu::launch({blocks(in_count)}, {kThreads}, 0, max_unpool2x2_kernel, planes, s.h, s.w,
              static_cast<const float*>(dy.data()), static_cast<const std::int32_t*>(got_sw.data()),
              got_dx.data());
  EXPECT_EQ(std::memcmp(got_dx.data(), want_dx.data(), sizeof(float) * in_count), 0);
}

}  // namespace
}  // namespace aulens
