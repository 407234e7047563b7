// Report PNGs with OpenCV (see report_images.h).
#include "report_images.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "aulens/check.h"

namespace aulens {

namespace {

// A tile as BGR, heat blended in (black → red → yellow by |projection| / max), scaled.
cv::Mat render_tile(const ReportTile& tile, int scale) {
  cv::Mat grey(tile.h, tile.w, CV_8UC1, const_cast<std::uint8_t*>(tile.grey.data()));
  cv::Mat bgr;
  cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
  if (!tile.heat.empty()) {
    float peak = 0.0f;
    for (const float v : tile.heat) peak = std::max(peak, std::fabs(v));
    for (int y = 0; y < tile.h; ++y) {
      for (int x = 0; x < tile.w; ++x) {
        const float t = peak > 0 ? std::fabs(tile.heat[y * tile.w + x]) / peak : 0.0f;
        const float alpha = std::min(1.0f, std::sqrt(t) * 1.2f);
        cv::Vec3b& px = bgr.at<cv::Vec3b>(y, x);
        const float dim = px[0] * 0.55f;  // the face, dimmed so the heat stands out
        const float heat_r = 255.0f, heat_g = 255.0f * std::min(1.0f, t * 1.5f), heat_b = 0.0f;
        px[2] = static_cast<std::uint8_t>(dim * (1 - alpha) + heat_r * alpha);
        px[1] = static_cast<std::uint8_t>(dim * (1 - alpha) + heat_g * alpha);
        px[0] = static_cast<std::uint8_t>(dim * (1 - alpha) + heat_b * alpha);
      }
    }
  }
  cv::Mat scaled;
  cv::resize(bgr, scaled, cv::Size(tile.w * scale, tile.h * scale), 0, 0, cv::INTER_NEAREST);
  for (const ReportBox& box : tile.boxes) {
    const cv::Point p0(static_cast<int>(std::lround(box.x0 * scale)),
                       static_cast<int>(std::lround(box.y0 * scale)));
    const cv::Point p1(static_cast<int>(std::lround(box.x1 * scale)) - 1,
                       static_cast<int>(std::lround(box.y1 * scale)) - 1);
    cv::rectangle(scaled, p0, p1, cv::Scalar(box.b, box.g, box.r), 1);
  }
  return scaled;
}

}  // namespace

void write_tile_strip(const std::filesystem::path& png, const std::vector<ReportTile>& tiles,
                      int scale) {
  AULENS_CHECK(!tiles.empty(), png.string() + ": no tiles to write");
  constexpr int kGap = 2;
  int width = 0, height = 0;
  for (const ReportTile& tile : tiles) {
    AULENS_CHECK(
        tile.h > 0 && tile.w > 0 && tile.grey.size() == static_cast<std::size_t>(tile.h) * tile.w,
        png.string() + ": a tile's pixels do not match its size");
    width += tile.w * scale + kGap;
    height = std::max(height, tile.h * scale);
  }
  cv::Mat strip(height, width - kGap, CV_8UC3, cv::Scalar(255, 255, 255));
  int x = 0;
  for (const ReportTile& tile : tiles) {
    const cv::Mat rendered = render_tile(tile, scale);
    rendered.copyTo(strip(cv::Rect(x, 0, rendered.cols, rendered.rows)));
    x += rendered.cols + kGap;
  }
  std::filesystem::create_directories(png.parent_path());
  bool ok = false;
  try {
    ok = cv::imwrite(png.string(), strip);
  } catch (const cv::Exception& e) {
    throw Error(png.string() + ": cannot write the PNG: " + e.what());
  }
  AULENS_CHECK(ok, png.string() + ": cannot write the PNG");
}

}  // namespace aulens
