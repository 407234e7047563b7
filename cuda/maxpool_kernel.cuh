// 2×2 stride-2 max pooling with argmax switches, and its inverse (twin of src/cpu/maxpool.cpp).
//   x: (N,C,H,W) fp32   y, switches: (N,C,H/2,W/2)   switches int32 = row·W + col inside the
//   (n, c) input plane (PyTorch's return_indices convention).
// Window order and ties follow PyTorch exactly: the running maximum starts at −inf with the
// first window element as its index, and element e replaces it when e > max or e is NaN —
// so the first of equal maxima wins and a NaN (the last one, if several) wins.
// max_unpool2x2 writes every dx element: dy at the switch of its window, zero elsewhere,
// including an odd last row/column that no window covers. It is computed as a gather (one
// thread per dx element looks at the switch of the window that covers it), so it needs the
// switches that maxpool2x2_forward produced: each one inside its own window.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_maxpool_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;

// One thread per pooled element: index = ((n·C + c)·OH + oy)·OW + ox.
static __global__ void maxpool2x2_forward_kernel(std::int64_t planes, int h, int w, const float* x,
                                                 float* y, std::int32_t* switches) {
  const int oh = h / 2, ow = w / 2;
  const std::int64_t total = planes * oh * ow;
  const std::int64_t index = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (index >= total) return;
  const int ox = static_cast<int>(index % ow);
  const int oy = static_cast<int>((index / ow) % oh);
  const std::int64_t plane = index / (static_cast<std::int64_t>(ow) * oh);
  const float* x_plane = x + plane * h * w;
  const int row0 = 2 * oy, col0 = 2 * ox;
  float best = -INFINITY;
  int best_index = row0 * w + col0;
#pragma unroll
  for (int dy = 0; dy < 2; ++dy) {
#pragma unroll
    for (int dx = 0; dx < 2; ++dx) {
      const int at = (row0 + dy) * w + col0 + dx;
      const float v = x_plane[at];
      if (v > best || isnan(v)) {
        best = v;
        best_index = at;
      }
    }
  }
  y[index] = best;
  switches[index] = best_index;
}

// One thread per dx element: index = ((n·C + c)·H + row)·W + col.
static __global__ void max_unpool2x2_kernel(std::int64_t planes, int h, int w, const float* dy,
                                            const std::int32_t* switches, float* dx) {
  const int oh = h / 2, ow = w / 2;
  const std::int64_t total = planes * h * w;
  const std::int64_t index = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (index >= total) return;
  const int col = static_cast<int>(index % w);
  const int row = static_cast<int>((index / w) % h);
  const std::int64_t plane = index / (static_cast<std::int64_t>(w) * h);
  float value = 0.0f;
  const int oy = row / 2, ox = col / 2;
  if (oy < oh && ox < ow) {
    const std::int64_t pooled = (plane * oh + oy) * ow + ox;
    if (switches[pooled] == row * w + col) value = dy[pooled];
  }
  dx[index] = value;
}

}  // namespace
}  // namespace aulens
