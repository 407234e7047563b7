// Face crop (DESIGN §1.3): the square box around the 68 landmarks plus a margin, grey, resized to
// S×S with cv::INTER_AREA; returns the image → crop coordinate map for landmarks and AU regions.
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "aulens/check.h"
#include "data/dataset_build.h"

namespace aulens::data {

cv::Mat crop_face(const cv::Mat& grey, const float* landmarks, float margin, int crop_size,
                  CropTransform* transform) {
  AULENS_CHECK(grey.type() == CV_8UC1 && !grey.empty(), "crop_face expects a non-empty grey image");
  AULENS_CHECK(crop_size > 0, "crop size must be positive");
  const double s = crop_size;
  cv::Mat crop;
  if (landmarks == nullptr) {  // an aligned face: the whole image
    cv::resize(grey, crop, cv::Size(crop_size, crop_size), 0, 0, cv::INTER_AREA);
    *transform = {0.0, 0.0, s / grey.cols, s / grey.rows};
    return crop;
  }
  for (int k = 0; k < 2 * kLandmarkCount; ++k) {
    if (!std::isfinite(landmarks[k]))
      throw Error("landmark " + std::to_string(k / 2) + " is not a finite number");
  }
  double min_x = landmarks[0], max_x = landmarks[0], min_y = landmarks[1], max_y = landmarks[1];
  for (int k = 1; k < kLandmarkCount; ++k) {
    min_x = std::min<double>(min_x, landmarks[2 * k]);
    max_x = std::max<double>(max_x, landmarks[2 * k]);
    min_y = std::min<double>(min_y, landmarks[2 * k + 1]);
    max_y = std::max<double>(max_y, landmarks[2 * k + 1]);
  }
  // A face spans pixels both ways: landmarks all on one point or one line (zeros written for a
  // face the tracker lost, say) would crop a featureless patch.
  if (max_x - min_x < kMinLandmarkSpan || max_y - min_y < kMinLandmarkSpan) {
    throw Error(
        fmt::format("the 68 landmarks span {:.3g} x {:.3g} px, less than {} px: not a "
                    "face (collapsed landmarks?)",
                    max_x - min_x, max_y - min_y, kMinLandmarkSpan));
  }
  const double width = (max_x - min_x) * (1.0 + 2.0 * margin);
  const double height = (max_y - min_y) * (1.0 + 2.0 * margin);
  const double centre_x = 0.5 * (min_x + max_x), centre_y = 0.5 * (min_y + max_y);
  double side = std::max({width, height, 1.0});
  // Slack so that even with margin 0 the extreme landmarks map strictly inside [0, S): a point
  // must lie half a crop pixel (side / 2S image pixels) inside the box, plus rounding.
  side += 2.0 * (side / s + 1.0);
  // Judged before the box is rounded to whole pixels, where far-off values would overflow.
  const double far = 16.0 * std::max(grey.cols, grey.rows);
  if (centre_x + 0.5 * side <= 0 || centre_x - 0.5 * side >= grey.cols ||
      centre_y + 0.5 * side <= 0 || centre_y - 0.5 * side >= grey.rows || side > far) {
    throw Error(
        fmt::format("the landmark box (centre {:.6g}, {:.6g}, side {:.6g} px) does not fit "
                    "the {}x{} image",
                    centre_x, centre_y, side, grey.cols, grey.rows));
  }
  const int side_px = static_cast<int>(std::ceil(side));
  const int left = static_cast<int>(std::floor(centre_x - 0.5 * side_px));
  const int top = static_cast<int>(std::floor(centre_y - 0.5 * side_px));

  const cv::Rect box(left, top, side_px, side_px);
  const cv::Rect inside = box & cv::Rect(0, 0, grey.cols, grey.rows);
  if (inside.area() == 0) {
    throw Error("the landmark box (" + std::to_string(left) + ", " + std::to_string(top) + ", " +
                std::to_string(side_px) + " px) lies outside the " + std::to_string(grey.cols) +
                "x" + std::to_string(grey.rows) + " image");
  }
  cv::Mat square;
  cv::copyMakeBorder(grey(inside), square, inside.y - box.y, box.br().y - inside.br().y,
                     inside.x - box.x, box.br().x - inside.br().x, cv::BORDER_REPLICATE);
  cv::resize(square, crop, cv::Size(crop_size, crop_size), 0, 0, cv::INTER_AREA);
  *transform = {static_cast<double>(left), static_cast<double>(top), s / side_px, s / side_px};
  return crop;
}

}  // namespace aulens::data
