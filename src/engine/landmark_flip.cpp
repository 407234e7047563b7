// Horizontal flip of crop geometry under the augmentation rule u → S − 1 − u (aulens/augment.h),
// with the iBUG 68-point left/right partner swap so a flipped shape is still in iBUG order.
#include <algorithm>
#include <array>
#include <utility>

#include "aulens/check.h"
#include "aulens/dataset.h"

namespace aulens {

int ibug_mirror_index(int k) {
  AULENS_CHECK(k >= 0 && k < kLandmarkCount, "iBUG point index out of range: " + std::to_string(k));
  if (k <= 16) return 16 - k;  // jaw
  if (k <= 26) return 43 - k;  // brows 17↔26 … 21↔22
  if (k <= 30) return k;       // nose bridge
  if (k <= 35) return 66 - k;  // nostrils 31↔35, 32↔34, 33
  if (k <= 41) {               // right eye ↔ left eye (subject's)
    static constexpr std::array<int, 6> kEye = {45, 44, 43, 42, 47, 46};
    return kEye[k - 36];
  }
  if (k <= 47) {
    static constexpr std::array<int, 6> kEye = {39, 38, 37, 36, 41, 40};
    return kEye[k - 42];
  }
  if (k <= 54) return 102 - k;  // outer lip top 48↔54 … 51
  if (k <= 59) return 114 - k;  // outer lip bottom 55↔59, 56↔58, 57
  if (k <= 64) return 124 - k;  // inner lip top 60↔64, 61↔63, 62
  return 132 - k;               // inner lip bottom 65↔67, 66
}

void flip_landmarks(float* landmarks, int crop_size) {
  std::array<float, 2 * kLandmarkCount> flipped;
  for (int k = 0; k < kLandmarkCount; ++k) {
    const int m = ibug_mirror_index(k);
    flipped[2 * k] = static_cast<float>(crop_size - 1) - landmarks[2 * m];
    flipped[2 * k + 1] = landmarks[2 * m + 1];
  }
  std::copy(flipped.begin(), flipped.end(), landmarks);
}

void flip_box(float* box, int crop_size) {
  if (box[0] == kNoRegion && box[1] == kNoRegion && box[2] == kNoRegion && box[3] == kNoRegion)
    return;
  // Pixel-edge coordinates: pixel u spans [u, u+1) and goes to S − 1 − u, spanning [S − u − 1, S −
  // u).
  const float x0 = static_cast<float>(crop_size) - box[2];
  const float x1 = static_cast<float>(crop_size) - box[0];
  box[0] = x0;
  box[2] = x1;
}

}  // namespace aulens
