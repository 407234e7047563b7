// The fused augmentation kernel (cuda/augment_kernel.cuh) run on the host by tests/emu/block_emu.h
// against its CPU twin CpuOps::augment_batch: random rotations, flips and offsets on random
// crops, the centre window, and a flat image (std below the 1/O guard). Both twins take every
// rounding step in the same order (explicitly rounded operations, cos/sin in double), so on the
// host they must agree bit for bit; the GPU test allows interpolation tolerance for the device's
// cos/sin.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords the kernel uses.
#include "emu/block_emu.h"

#include "../cuda/augment_kernel.cuh"

#include "aulens/augment.h"
#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(AugmentEmulated, BatchEqualsCpuTwinBitForBit) {
  const int crops = 3, s = 40, o = 32, n = 6;
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::vector<std::uint8_t> images(static_cast<std::size_t>(crops) * s * s);
  for (auto& v : images) v = static_cast<std::uint8_t>(pixel(rng));
  std::fill(images.begin() + 2 * s * s, images.end(), std::uint8_t{90});  // flat: the std guard
  std::vector<std::int32_t> indices = {0, 1, 2, 0, 1, 2};
  std::vector<AugmentParams> params(n);
  for (int i = 0; i < n; ++i)
    params[i] = augment_draw(5, 3, static_cast<std::uint64_t>(i), 15.0f, true, s, o);
  params[3] = augment_centre(s, o);
  std::vector<float> want(static_cast<std::size_t>(n) * o * o), got(want.size(), -7.0f);
  CpuOps::augment_batch(n, s, o, images.data(), indices.data(), params.data(), want.data());
  emu::launch({static_cast<unsigned>(n)}, {kThreads}, 0, augment_kernel, s, o,
              static_cast<const std::uint8_t*>(images.data()),
              static_cast<const std::int32_t*>(indices.data()),
              static_cast<const AugmentParams*>(params.data()), got.data());
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(std::memcmp(got.data() + i * o * o, want.data() + i * o * o, sizeof(float) * o * o),
              0)
        << "image " << i;
  }
}

}  // namespace
}  // namespace aulens
