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
#include <cmath>
#include <cstdint>

#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {
namespace {

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

void check_shape(const PoolShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0,
               std::string(op) + ": negative dimension in (N,C,H,W) = (" + std::to_string(s.n) +
                   "," + std::to_string(s.c) + "," + std::to_string(s.h) + "," +
                   std::to_string(s.w) + ")");
  AULENS_CHECK(static_cast<std::int64_t>(s.h) * s.w < (std::int64_t{1} << 31),
               std::string(op) + ": plane too large for int32 switches");
}

}  // namespace

void CudaOps::maxpool2x2_forward(const PoolShape& s, const float* x, float* y,
                                 std::int32_t* switches) {
  check_shape(s, "maxpool2x2_forward");
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t total = planes * s.out_h() * s.out_w();
  if (total == 0) return;
  AULENS_CHECK(x != nullptr && y != nullptr && switches != nullptr,
               "maxpool2x2_forward: null pointer");
  maxpool2x2_forward_kernel<<<cuda_detail::blocks_for(total, kThreads), kThreads, 0,
                              cuda_detail::stream()>>>(planes, s.h, s.w, x, y, switches);
  AULENS_CHECK_LAUNCH("maxpool2x2_forward_kernel");
}

void CudaOps::max_unpool2x2(const PoolShape& s, const float* dy, const std::int32_t* switches,
                            float* dx) {
  check_shape(s, "max_unpool2x2");
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t total = planes * s.h * s.w;
  if (total == 0) return;
  AULENS_CHECK(dx != nullptr, "max_unpool2x2: null dx");
  AULENS_CHECK((dy != nullptr && switches != nullptr) || s.out_h() * s.out_w() == 0,
               "max_unpool2x2: null dy or switches");
  max_unpool2x2_kernel<<<cuda_detail::blocks_for(total, kThreads), kThreads, 0,
                         cuda_detail::stream()>>>(planes, s.h, s.w, dy, switches, dx);
  AULENS_CHECK_LAUNCH("max_unpool2x2_kernel");
}

}  // namespace aulens
