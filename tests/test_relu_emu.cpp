// The ReLU kernels (cuda/relu_kernel.cuh) run on the host by tests/emu/block_emu.h against their
// CPU twins: the float4 and the scalar kernels, a count that is not a multiple of 4 (the tail),
// NaN, −0 and in-place use. Bit-equal.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

// The emulator first: it defines the CUDA keywords and float4.
#include "emu/block_emu.h"

#include "../cuda/relu_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

TEST(ReluEmulated, Vec4AndScalarKernelsEqualCpuTwin) {
  const std::int64_t count = 1031;  // 257 float4s and a tail of 3
  std::mt19937 rng(8);
  std::normal_distribution<float> normal;
  struct alignas(16) Quad {
    float v[4];
  };
  std::vector<Quad> xs(count / 4 + 1), ys(count / 4 + 1), dys(count / 4 + 1), dxs(count / 4 + 1);
  float* x = xs.front().v;
  float* dy = dys.front().v;
  for (std::int64_t i = 0; i < count; ++i) {
    x[i] = normal(rng);
    dy[i] = normal(rng);
  }
  x[7] = NAN;
  x[8] = -0.0f;
  std::vector<float> want_y(count), want_dx(count);
  CpuOps::relu_forward(count, x, want_y.data());
  CpuOps::relu_backward(count, want_y.data(), dy, want_dx.data());

  float* y = ys.front().v;
  float* dx = dxs.front().v;
  emu::launch({2}, {kThreads}, 0, relu_forward_vec4_kernel, count,
              reinterpret_cast<const float4*>(x), reinterpret_cast<float4*>(y));
  emu::launch({2}, {kThreads}, 0, relu_backward_vec4_kernel, count,
              reinterpret_cast<const float4*>(y), reinterpret_cast<const float4*>(dy),
              reinterpret_cast<float4*>(dx));
  EXPECT_EQ(std::memcmp(y, want_y.data(), sizeof(float) * count), 0) << "vec4 forward";
  EXPECT_EQ(std::memcmp(dx, want_dx.data(), sizeof(float) * count), 0) << "vec4 backward";

  std::vector<float> y2(x, x + count), dx2(dy, dy + count);  // in place, scalar
  emu::launch({3}, {kThreads}, 0, relu_forward_scalar_kernel, count,
              static_cast<const float*>(y2.data()), y2.data());
  emu::launch({3}, {kThreads}, 0, relu_backward_scalar_kernel, count,
              static_cast<const float*>(y2.data()), static_cast<const float*>(dx2.data()),
              dx2.data());
  EXPECT_EQ(std::memcmp(y2.data(), want_y.data(), sizeof(float) * count), 0) << "scalar forward";
  EXPECT_EQ(std::memcmp(dx2.data(), want_dx.data(), sizeof(float) * count), 0) << "scalar backward";
}

}  // namespace
}  // namespace aulens
