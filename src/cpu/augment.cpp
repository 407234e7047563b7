// Augmentation reference (the CPU twin of cuda/augment.cu; the rule is aulens/augment.h):
// for each sample, rotate the crop about its centre, flip, take the O×O window, bilinear-sample
// with edge clamp, /255, then standardize: (v − mean) / max(std, 1/O), population std.
//   crops: (M, S, S) uint8   indices: (N) int32   params: (N) AugmentParams
//   out: (N, 1, O, O) fp32
// The float expressions are written in the same order as the CUDA kernel (which rounds every
// product and sum separately), cos/sin are taken in double and rounded, and mean/variance are
// accumulated in double, so the two twins agree to a few float ulps. OpenMP over images.
#include <cmath>
#include <cstdint>
#include <string>

#include "aulens/augment.h"
#include "aulens/check.h"
#include "aulens/ops.h"

namespace aulens {

namespace {

// Clamp to [0, hi]; NaN goes to 0.
inline float clamp_coord(float v, float hi) {
  return !(v > 0.0f) ? 0.0f : (v > hi ? hi : v);
}

// Bilinear sample of an S×S uint8 image at (ys, xs), coordinates clamped to [0, S−1], / 255.
inline float sample_bilinear(const std::uint8_t* image, int s, float ys, float xs) {
  const float hi = static_cast<float>(s - 1);
  xs = clamp_coord(xs, hi);
  ys = clamp_coord(ys, hi);
  const int x0 = static_cast<int>(xs);  // floor: xs ≥ 0
  const int y0 = static_cast<int>(ys);
  const int x1 = x0 + 1 < s ? x0 + 1 : s - 1;
  const int y1 = y0 + 1 < s ? y0 + 1 : s - 1;
  const float fx = xs - static_cast<float>(x0);
  const float fy = ys - static_cast<float>(y0);
  const float p00 = image[y0 * s + x0], p01 = image[y0 * s + x1];
  const float p10 = image[y1 * s + x0], p11 = image[y1 * s + x1];
  const float top = p00 + fx * (p01 - p00);
  const float bottom = p10 + fx * (p11 - p10);
  const float value = top + fy * (bottom - top);
  return value / 255.0f;
}

// One sample: image (S, S) → image_out (O, O).
void augment_one(int s, int o, const std::uint8_t* image, const AugmentParams& p,
                 float* image_out) {
  const float cos_t = static_cast<float>(std::cos(static_cast<double>(p.angle_rad)));
  const float sin_t = static_cast<float>(std::sin(static_cast<double>(p.angle_rad)));
  const float centre = static_cast<float>(s - 1) * 0.5f;
  double sum = 0.0;
  for (int i = 0; i < o; ++i) {
    const int v = p.offset_y + i;
    const float dv = static_cast<float>(v) - centre;
    for (int j = 0; j < o; ++j) {
      int u = p.offset_x + j;
      if (p.flip) u = s - 1 - u;
      const float du = static_cast<float>(u) - centre;
      const float xs = (cos_t * du + sin_t * dv) + centre;
      const float ys = (-sin_t * du + cos_t * dv) + centre;
      const float value = sample_bilinear(image, s, ys, xs);
      image_out[i * o + j] = value;
      sum += value;
    }
  }
  const int pixels = o * o;
  const double mean = sum / pixels;
  double squares = 0.0;
  for (int at = 0; at < pixels; ++at) {
    const double d = static_cast<double>(image_out[at]) - mean;
    squares += d * d;
  }
  const double std_dev = std::sqrt(squares / pixels);
  const double guard = 1.0 / o;
  const double denom = std_dev > guard ? std_dev : guard;
  for (int at = 0; at < pixels; ++at) {
    image_out[at] = static_cast<float>((static_cast<double>(image_out[at]) - mean) / denom);
  }
}

}  // namespace

void CpuOps::augment_batch(int n, int crop_size, int out_size, const std::uint8_t* crops,
                           const std::int32_t* indices, const AugmentParams* params, float* out) {
  AULENS_CHECK(n >= 0, "augment_batch: negative batch size " + std::to_string(n));
  AULENS_CHECK(crop_size > 0 && out_size > 0,
               "augment_batch: expected crop and output sizes > 0, got S=" +
                   std::to_string(crop_size) + " O=" + std::to_string(out_size));
  if (n == 0) return;
  AULENS_CHECK(crops != nullptr && indices != nullptr && params != nullptr && out != nullptr,
               "augment_batch: null pointer");
  for (int k = 0; k < n; ++k) {
    AULENS_CHECK(indices[k] >= 0, "augment_batch: sample " + std::to_string(k) +
                                      " has negative crop index " + std::to_string(indices[k]));
  }
  const std::int64_t crop_pixels = static_cast<std::int64_t>(crop_size) * crop_size;
  const std::int64_t out_pixels = static_cast<std::int64_t>(out_size) * out_size;
#pragma omp parallel for schedule(static)
  for (int k = 0; k < n; ++k) {
    augment_one(crop_size, out_size, crops + indices[k] * crop_pixels, params[k],
                out + k * out_pixels);
  }
}

}  // namespace aulens
