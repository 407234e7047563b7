// SGD with momentum and weight decay on the GPU (twin of src/cpu/sgd.cpp), PyTorch semantics:
//   g' = g + weight_decay·w;   v = momentum·v + g';   w = w − lr·v
//   w, v: (count) updated in place   g: (count)
// Each product and sum is rounded separately (__fmul_rn/__fadd_rn: no fused multiply-add), so
// the result matches a plain C++ loop that evaluates the same expressions in the same order.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_sgd_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;

static __global__ void sgd_update_kernel(std::int64_t count, float lr, float momentum,
                                         float weight_decay, float* w, const float* g, float* v) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const float weight = w[i];
    const float grad = __fadd_rn(g[i], __fmul_rn(weight_decay, weight));
    const float velocity = __fadd_rn(__fmul_rn(momentum, v[i]), grad);
    v[i] = velocity;
    w[i] = __fsub_rn(weight, __fmul_rn(lr, velocity));
  }
}

}  // namespace
}  // namespace aulens
