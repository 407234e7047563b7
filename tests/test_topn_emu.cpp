// The parallel top-n kernel (cuda/topn_kernel.cuh) run on the host by tests/emu/block_emu.h against
// its CPU twin CpuOps::topn_select: values with many ties (equal values by the smaller image), NaN
// (below every number), more images than threads, n = 1, 9 and 32. Lists must be identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

// The emulator first: it defines the CUDA keywords and warp shuffles the kernel uses.
#include "emu/block_emu.h"

#include "../cuda/topn_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(TopnEmulated, ListsEqualCpuTwin) {
  const int images = 700, maps = 5;
  std::mt19937 rng(6060);
  std::uniform_int_distribution<int> level(0, 40);
  std::vector<float> values(static_cast<std::size_t>(images) * maps);
  for (float& v : values) v = 0.25f * static_cast<float>(level(rng));  // many ties
  for (int i = 0; i < images; i += 7) values[static_cast<std::size_t>(i) * maps + 2] = NAN;
  for (int i = 0; i < images; ++i) values[static_cast<std::size_t>(i) * maps + 4] = 1.0f;
  for (const int n : {1, 9, 32}) {
    SCOPED_TRACE("n " + std::to_string(n));
    std::vector<std::int32_t> want_images(static_cast<std::size_t>(maps) * n),
        got_images(want_images.size(), -7);
    std::vector<float> want_values(want_images.size()), got_values(want_images.size(), -7.0f);
    CpuOps::topn_select(images, maps, n, values.data(), want_images.data(), want_values.data());
    emu::launch({static_cast<unsigned>(maps)}, {kThreads}, 0, topn_select_kernel, images, maps, n,
                static_cast<const float*>(values.data()), got_images.data(), got_values.data());
    EXPECT_EQ(got_images, want_images);
    EXPECT_EQ(std::memcmp(got_values.data(), want_values.data(), sizeof(float) * got_values.size()),
              0);
    EXPECT_EQ(got_images[4 * n], 0) << "all equal: image 0 first";
  }
}

}  // namespace
}  // namespace aulens
