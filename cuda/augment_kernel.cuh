// Fused augmentation on the GPU (twin of src/cpu/augment.cpp; the rule is aulens/augment.h):
// rotate about the crop centre, flip, take the O×O window, bilinear-sample with edge clamp,
// /255, then standardize per image: (v − mean) / max(std, 1/O), population std.
//   crops: (M, S, S) uint8   indices: (N) int32   params: (N) AugmentParams
//   out: (N, 1, O, O) fp32
// One block per output image. Pass 1 samples every pixel, writes the raw value to `out` and
// sums in double; pass 2 re-reads its own pixels (same thread → same addresses, so no fence is
// needed) for the centred sum of squares; pass 3 writes the standardized values. Block sums use
// warp shuffles then a fixed-order combine of the warp partials: deterministic.
// Every float product and sum of the coordinate map and the interpolation is rounded on its
// own (__fmul_rn/__fadd_rn, no FMA) in the same order as the CPU twin, and cos/sin are taken in
// double then rounded, so both twins sample at the same coordinates.
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_augment_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

#include "aulens/augment.h"

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

// Clamp to [0, hi]; NaN goes to 0 (same expression as the CPU twin).
__device__ __forceinline__ float clamp_coord(float v, float hi) {
  return !(v > 0.0f) ? 0.0f : (v > hi ? hi : v);
}

// Bilinear sample of an S×S uint8 image at (ys, xs), coordinates clamped to [0, S−1], / 255.
__device__ __forceinline__ float sample_bilinear(const std::uint8_t* image, int s, float ys,
                                                 float xs) {
  const float hi = static_cast<float>(s - 1);
  xs = clamp_coord(xs, hi);
  ys = clamp_coord(ys, hi);
  const int x0 = static_cast<int>(xs);  // floor: xs ≥ 0
  const int y0 = static_cast<int>(ys);
  const int x1 = x0 + 1 < s ? x0 + 1 : s - 1;
  const int y1 = y0 + 1 < s ? y0 + 1 : s - 1;
  const float fx = __fsub_rn(xs, static_cast<float>(x0));
  const float fy = __fsub_rn(ys, static_cast<float>(y0));
  const float p00 = __ldg(image + y0 * s + x0), p01 = __ldg(image + y0 * s + x1);
  const float p10 = __ldg(image + y1 * s + x0), p11 = __ldg(image + y1 * s + x1);
  const float top = __fadd_rn(p00, __fmul_rn(fx, __fsub_rn(p01, p00)));
  const float bottom = __fadd_rn(p10, __fmul_rn(fx, __fsub_rn(p11, p10)));
  const float value = __fadd_rn(top, __fmul_rn(fy, __fsub_rn(bottom, top)));
  return __fdiv_rn(value, 255.0f);
}

// Sum over the block, the same value returned to every thread. `partial` holds kWarps doubles.
__device__ double block_sum(double v, double* partial) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  double total = 0.0;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) total += partial[w];
  __syncthreads();  // `partial` may be reused right after
  return total;
}

static __global__ void __launch_bounds__(kThreads)
    augment_kernel(int crop_size, int out_size, const std::uint8_t* crops,
                   const std::int32_t* indices, const AugmentParams* params, float* out) {
  AULENS_STATIC_SHARED(double, partial, [kWarps]);
  const int sample = blockIdx.x;
  const int s = crop_size, o = out_size;
  const AugmentParams p = params[sample];
  const std::uint8_t* image = crops + static_cast<std::int64_t>(indices[sample]) * s * s;
  float* image_out = out + static_cast<std::int64_t>(sample) * o * o;
  const float cos_t = static_cast<float>(cos(static_cast<double>(p.angle_rad)));
  const float sin_t = static_cast<float>(sin(static_cast<double>(p.angle_rad)));
  const float centre = static_cast<float>(s - 1) * 0.5f;
  const int pixels = o * o;

  double sum = 0.0;
  for (int at = threadIdx.x; at < pixels; at += kThreads) {
    const int i = at / o, j = at % o;
    int u = p.offset_x + j;
    const int v = p.offset_y + i;
    if (p.flip) u = s - 1 - u;
    const float du = __fsub_rn(static_cast<float>(u), centre);
    const float dv = __fsub_rn(static_cast<float>(v), centre);
    const float xs = __fadd_rn(__fadd_rn(__fmul_rn(cos_t, du), __fmul_rn(sin_t, dv)), centre);
    const float ys = __fadd_rn(__fadd_rn(__fmul_rn(-sin_t, du), __fmul_rn(cos_t, dv)), centre);
    const float value = sample_bilinear(image, s, ys, xs);
    image_out[at] = value;
    sum += value;
  }
  const double mean = block_sum(sum, partial) / pixels;

  double squares = 0.0;
  for (int at = threadIdx.x; at < pixels; at += kThreads) {
    const double d = static_cast<double>(image_out[at]) - mean;
    squares = __dadd_rn(squares, __dmul_rn(d, d));  // not fused, as in the CPU twin
  }
  const double std_dev = sqrt(block_sum(squares, partial) / pixels);
  const double guard = 1.0 / o;
  const double denom = std_dev > guard ? std_dev : guard;

  for (int at = threadIdx.x; at < pixels; at += kThreads) {
    image_out[at] = static_cast<float>((static_cast<double>(image_out[at]) - mean) / denom);
  }
}

}  // namespace
}  // namespace aulens
