// Augmentation parameters and the exact sampling rule shared by the CPU reference
// (src/cpu/augment.cpp) and the fused CUDA kernel (cuda/augment.cu).
//
// A face crop is an S×S uint8 grey image (S = 99). One output sample is an O×O fp32 image
// (O = 96) made by, in this order: rotate the crop by `angle` about its centre, flip it
// horizontally when `flip`, take the O×O window at (offset_y, offset_x), standardize.
// Computed as an inverse map per output pixel (i, j):
//   u = offset_x + j,  v = offset_y + i                 (coordinates in the rotated, flipped crop)
//   if flip: u = S − 1 − u
//   c = (S − 1)/2;  xs = cosθ·(u−c) + sinθ·(v−c) + c;  ys = −sinθ·(u−c) + cosθ·(v−c) + c
//   value = bilinear sample of the crop at (ys, xs) with coordinates clamped to [0, S−1]
//           (edge replicate), divided by 255
// then per-image standardization over the O² values: (value − mean) / max(std, 1/O), std being
// the population standard deviation (the 1/√(O²) guard of per-image standardization).
// θ > 0 turns the image clockwise as displayed (y down): the top of the image moves right.
#pragma once

#include <cstdint>

#include "aulens/rng.h"

namespace aulens {

struct AugmentParams {
  float angle_rad = 0.0f;
  std::int32_t flip = 0;
  std::int32_t offset_y = 0;
  std::int32_t offset_x = 0;
};

// Training draw for dataset image `image_index` in `epoch`: angle uniform in
// (−max_rotation_deg, +max_rotation_deg), flip with p = 0.5 (never when !allow_flip), offsets
// uniform integers in [0, S − O]. Pure function of its arguments.
AULENS_HD inline AugmentParams augment_draw(std::uint64_t seed, std::uint64_t epoch,
                                            std::uint64_t image_index, float max_rotation_deg,
                                            bool allow_flip, int crop_size, int out_size) {
  const std::uint64_t stream = mix64(seed) ^ (epoch * 0xD1B54A32D192ED03ull);
  const std::uint64_t base = image_index * 4;
  AugmentParams p;
  const float degrees = (uniform01(stream, base + 0) * 2.0f - 1.0f) * max_rotation_deg;
  p.angle_rad = degrees * 0.017453292519943295f;
  p.flip = allow_flip && uniform01(stream, base + 1) < 0.5f ? 1 : 0;
  const int range = crop_size - out_size + 1;
  p.offset_y = static_cast<std::int32_t>(uniform01(stream, base + 2) * range);
  p.offset_x = static_cast<std::int32_t>(uniform01(stream, base + 3) * range);
  if (p.offset_y >= range) p.offset_y = range - 1;
  if (p.offset_x >= range) p.offset_x = range - 1;
  return p;
}

// Evaluation: no rotation, no flip, the centre crop.
AULENS_HD inline AugmentParams augment_centre(int crop_size, int out_size) {
  AugmentParams p;
  p.offset_y = (crop_size - out_size) / 2;
  p.offset_x = (crop_size - out_size) / 2;
  return p;
}

}  // namespace aulens
