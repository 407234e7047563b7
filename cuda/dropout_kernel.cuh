// Inverted dropout on the GPU (twin of src/cpu/dropout.cpp).
//   x, y, dy, dx: (count) fp32   mask: (count) uint8, 1 = kept
//   element i is kept iff aulens::uniform01(seed, offset + i) >= p  (aulens/rng.h, the same
//   counter-based generator on both twins, so the masks are identical);
//   forward  y  = kept ? x · 1/(1−p) : 0      backward dx = mask ? dy · 1/(1−p) : 0
// p = 1 drops everything (scale 0). One element per thread, grid-stride.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_dropout_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

#include "aulens/rng.h"

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;

inline float keep_scale(float p) {
  return p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
}

static __global__ void dropout_forward_kernel(std::int64_t count, float p, float scale,
                                              std::uint64_t seed, std::uint64_t offset,
                                              const float* x, float* y, std::uint8_t* mask) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const bool kept = uniform01(seed, offset + static_cast<std::uint64_t>(i)) >= p;
    y[i] = kept ? x[i] * scale : 0.0f;
    mask[i] = kept ? 1 : 0;
  }
}

static __global__ void dropout_backward_kernel(std::int64_t count, float scale,
                                               const std::uint8_t* mask, const float* dy,
                                               float* dx) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
  }
}

}  // namespace
}  // namespace aulens
