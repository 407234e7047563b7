// ReLU forward and backward on the GPU (twin of src/cpu/relu.cpp).
//   relu_forward:  y = max(x, 0)                (x may equal y)
//   relu_backward: dx = y <= 0 ? 0 : dy         (dy may equal dx)
// Elementwise over `count` fp32 values. When every pointer is 16-byte aligned the kernels move
// float4s (one 16-byte access per thread per step) and the last count % 4 values are done by
// scalar threads; otherwise the whole range is scalar. Grid-stride loops, capped grid.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_relu_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;

// The CPU twin's exact expressions: NaN propagates (as in PyTorch), −0 becomes +0, and the
// gradient passes wherever y is not ≤ 0 (so a NaN output passes its gradient).
__device__ __forceinline__ float relu(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}
__device__ __forceinline__ float relu_grad(float y, float dy) {
  return y <= 0.0f ? 0.0f : dy;
}

// x, y: (count); vec4 = count / 4 float4s, then the scalar tail [4·vec4, count).
static __global__ void relu_forward_vec4_kernel(std::int64_t count, const float4* x, float4* y) {
  const std::int64_t vec4 = count / 4;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < vec4;
       i += stride) {
    float4 v = x[i];
    v.x = relu(v.x);
    v.y = relu(v.y);
    v.z = relu(v.z);
    v.w = relu(v.w);
    y[i] = v;
  }
  const std::int64_t tail =
      vec4 * 4 + blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (tail < count) {
    reinterpret_cast<float*>(y)[tail] = relu(reinterpret_cast<const float*>(x)[tail]);
  }
}

static __global__ void relu_forward_scalar_kernel(std::int64_t count, const float* x, float* y) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    y[i] = relu(x[i]);
  }
}

// y, dy, dx: (count)
static __global__ void relu_backward_vec4_kernel(std::int64_t count, const float4* y,
                                                 const float4* dy, float4* dx) {
  const std::int64_t vec4 = count / 4;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < vec4;
       i += stride) {
    const float4 out = y[i];
    const float4 g = dy[i];
    dx[i] = make_float4(relu_grad(out.x, g.x), relu_grad(out.y, g.y), relu_grad(out.z, g.z),
                        relu_grad(out.w, g.w));
  }
  const std::int64_t tail =
      vec4 * 4 + blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (tail < count) {
    reinterpret_cast<float*>(dx)[tail] = relu_grad(reinterpret_cast<const float*>(y)[tail],
                                                   reinterpret_cast<const float*>(dy)[tail]);
  }
}

static __global__ void relu_backward_scalar_kernel(std::int64_t count, const float* y,
                                                   const float* dy, float* dx) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    dx[i] = relu_grad(y[i], dy[i]);
  }
}

}  // namespace
}  // namespace aulens
