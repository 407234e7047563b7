// The max-records kernel (cuda/records_kernel.cuh) run on the host by tests/emu/block_emu.h against
// its CPU twin CpuOps::max_records: rows with ties (the first position wins), NaN (the first NaN
// wins), all-equal rows, −inf, and a row length that is not a multiple of the warp. Selections:
// values (bitwise) and positions must be identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords and warp shuffles the kernel uses.
#include "emu/block_emu.h"

#include "../cuda/records_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(RecordsEmulated, MaxRecordsEqualCpuTwin) {
  const int n = 3, k = 7, hw = 77;
  std::mt19937 rng(5150);
  std::uniform_int_distribution<int> level(-3, 3);
  std::vector<float> y(static_cast<std::size_t>(n) * k * hw);
  for (float& v : y) v = 0.5f * static_cast<float>(level(rng));  // many ties
  const auto row = [&](int r) { return y.data() + static_cast<std::size_t>(r) * hw; };
  row(1)[40] = NAN;
  row(1)[60] = NAN;                      // the first NaN (40) wins
  std::fill(row(2), row(2) + hw, 0.0f);  // all equal: position 0
  std::fill(row(3), row(3) + hw, -std::numeric_limits<float>::infinity());
  row(4)[hw - 1] = 100.0f;  // the last position, in the last partial warp stride

  const int rows = n * k;
  std::vector<float> want_value(rows), got_value(rows, -7.0f);
  std::vector<std::int32_t> want_position(rows), got_position(rows, -7);
  CpuOps::max_records(n, k, hw, y.data(), want_value.data(), want_position.data());
  emu::launch(
      {static_cast<unsigned>((static_cast<long long>(rows) * kWarp + kThreads - 1) / kThreads)},
      {kThreads}, 0, max_records_kernel, static_cast<std::int64_t>(rows), hw,
      static_cast<const float*>(y.data()), got_value.data(), got_position.data());
  EXPECT_EQ(got_position, want_position);
  EXPECT_EQ(std::memcmp(got_value.data(), want_value.data(), sizeof(float) * rows), 0);
  EXPECT_EQ(got_position[1], 40);
  EXPECT_EQ(got_position[2], 0);
  EXPECT_EQ(got_position[4], hw - 1);
}

}  // namespace
}  // namespace aulens
