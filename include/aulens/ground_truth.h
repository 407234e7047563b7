// The method scored on ground truth (synthetic set, DESIGN §4): does the map the sweep names for
// AU j project into j's region?
//
// For one AU and its best map, over the map's top-n images: the share of the projection energy
// (sum of squared projection values over the 32×32 receptive-field window) that falls inside the
// AU's region box, averaged over the top-n images whose projection is not all zero.
// - Region of a top image: its own box for the AU when it has one (the synthetic set records a box
//   only where the AU is visibly active); otherwise — the image does not carry the AU, or carries
//   it too weakly to be drawn — the AU's median box over the dataset (per coordinate, over every
//   image with a box), because where the AU WOULD show is what the map should look at.
// - Geometry: boxes are in crop pixel-edge coordinates (aulens/dataset.h); the network sees the
//   centre input_size crop, so crop = input + (crop_size − input_size) / 2. A projection pixel is
//   inside when its centre is.
// - Hit: share > 0.5 (most of the energy inside the region). `baseline` is the share a projection
//   spread evenly over the receptive field (clipped to the image) would get: the chance level.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "aulens/dataset.h"
#include "aulens/tensor.h"

namespace aulens {

constexpr double kGroundTruthHitShare = 0.5;

struct RegionScore {
  std::int32_t au = 0;
  int map = -1;
  double share = 0.0;     // mean energy share inside the region over the scored top-n images
  double baseline = 0.0;  // mean share of an even spread over the receptive field
  bool hit = false;       // share > kGroundTruthHitShare
  int images = 0;         // top-n images scored (non-zero projection)
  int own_region = 0;     // … of which used their own box (the rest used the median box)
  bool scored = false;    // false when the AU has no box anywhere in the dataset
};

// Per-coordinate median of column `au_column`'s boxes over every image that has one; all
// kNoRegion when none has.
std::array<float, 4> median_region(const Dataset& data, int au_column);

// projections: (K,n,32,32) f32 windows; origins: (K,n,2) i32 (y, x) of window pixel 0 in the
// input frame; top_images: (K,n) i32 dataset image ids; all host tensors. Scores map `map`
// against AU column `au_column` of `data`.
RegionScore score_region(const Tensor& projections, const Tensor& origins, const Tensor& top_images,
                         const Dataset& data, int au_column, int map, int input_size);

}  // namespace aulens
