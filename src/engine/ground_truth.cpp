// Ground-truth scoring of the sweep's best maps against the AU regions (aulens/ground_truth.h).
#include "aulens/ground_truth.h"

#include <algorithm>

#include "aulens/check.h"
#include "aulens/receptive_field.h"

namespace aulens {

std::array<float, 4> median_region(const Dataset& data, int au_column) {
  std::array<float, 4> median = {kNoRegion, kNoRegion, kNoRegion, kNoRegion};
  if (!data.au_regions.defined()) return median;
  const std::int64_t m = data.au_regions.dim(0), a = data.au_regions.dim(1);
  AULENS_CHECK(au_column >= 0 && au_column < a, "median_region: AU column out of range");
  const float* boxes = data.au_regions.data<float>();
  std::array<std::vector<float>, 4> coords;
  for (std::int64_t i = 0; i < m; ++i) {
    const float* box = boxes + (i * a + au_column) * 4;
    if (box[0] == kNoRegion) continue;
    for (int c = 0; c < 4; ++c) coords[c].push_back(box[c]);
  }
  if (coords[0].empty()) return median;
  for (int c = 0; c < 4; ++c) {
    auto mid = coords[c].begin() + coords[c].size() / 2;
    std::nth_element(coords[c].begin(), mid, coords[c].end());
    median[c] = *mid;
  }
  return median;
}

RegionScore score_region(const Tensor& projections, const Tensor& origins, const Tensor& top_images,
                         const Dataset& data, int au_column, int map, int input_size) {
  AULENS_CHECK(
      projections.rank() == 4 && projections.dim(2) == kWindow && projections.dim(3) == kWindow,
      "score_region: projections must be (K,n,32,32)");
  const std::int64_t k = projections.dim(0), n = projections.dim(1);
  AULENS_CHECK(map >= 0 && map < k, "score_region: map " + std::to_string(map) +
                                        " outside the projections' " + std::to_string(k) + " maps");
  AULENS_CHECK(
      origins.rank() == 3 && origins.dim(0) == k && origins.dim(1) == n && origins.dim(2) == 2,
      "score_region: origins must be (K,n,2)");
  AULENS_CHECK(top_images.rank() == 2 && top_images.dim(0) == k && top_images.dim(1) == n,
               "score_region: top_images must be (K,n)");
  RegionScore score;
  score.au = data.au_ids.at(static_cast<std::size_t>(au_column));
  score.map = map;
  const std::array<float, 4> median = median_region(data, au_column);
  const std::int64_t a = data.au_regions.dim(1);
  const float* boxes = data.au_regions.data<float>();
  const float* windows = projections.data<float>();
  const std::int32_t* origin = origins.data<std::int32_t>();
  const std::int32_t* images = top_images.data<std::int32_t>();
  const float offset = static_cast<float>((data.crop_size - input_size) / 2);
  double share_sum = 0.0, baseline_sum = 0.0;
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t slot = map * n + r;
    const std::int32_t image = images[slot];
    if (image < 0 || image >= data.size()) continue;
    const float* own = boxes + (static_cast<std::int64_t>(image) * a + au_column) * 4;
    const bool has_own = own[0] != kNoRegion;
    const float* box = has_own ? own : median.data();
    if (box[0] == kNoRegion) continue;  // no box anywhere for this AU
    const int oy = origin[slot * 2 + 0], ox = origin[slot * 2 + 1];
    const float* w = windows + slot * kWindow * kWindow;
    double inside = 0.0, total = 0.0;
    int pixels = 0, pixels_inside = 0;
    for (int i = 0; i < kWindow; ++i) {
      const int y = oy + i;
      if (y < 0 || y >= input_size) continue;
      const float cy = static_cast<float>(y) + offset + 0.5f;
      const bool row_in = cy >= box[1] && cy < box[3];
      for (int j = 0; j < kWindow; ++j) {
        const int x = ox + j;
        if (x < 0 || x >= input_size) continue;
        const float cx = static_cast<float>(x) + offset + 0.5f;
        const bool in = row_in && cx >= box[0] && cx < box[2];
        const double e = static_cast<double>(w[i * kWindow + j]) * w[i * kWindow + j];
        total += e;
        ++pixels;
        if (in) {
          inside += e;
          ++pixels_inside;
        }
      }
    }
    if (total <= 0.0 || pixels == 0) continue;  // a dead projection says nothing
    share_sum += inside / total;
    baseline_sum += static_cast<double>(pixels_inside) / pixels;
    ++score.images;
    if (has_own) ++score.own_region;
  }
  if (score.images > 0) {
    score.scored = true;
    score.share = share_sum / score.images;
    score.baseline = baseline_sum / score.images;
    score.hit = score.share > kGroundTruthHitShare;
  }
  return score;
}

}  // namespace aulens
