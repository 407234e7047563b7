// Strips, contact sheet and PNG output of the visualize stage (layout in aulens/render.h), with
// OpenCV: nearest-neighbour upscaling, text for the map numbers, PNG encoding. The bytes are
// written with write_file_atomically.
#include "aulens/render.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "aulens/atomic_file.h"
#include "aulens/check.h"

namespace aulens {

namespace {

void check_tiles(const Tensor& tiles, const char* what) {
  AULENS_CHECK(tiles.defined() && tiles.device() == Device::cpu && tiles.dtype() == DType::u8 &&
                   tiles.rank() == 3 && tiles.dim(0) > 0 && tiles.dim(1) == kTile &&
                   tiles.dim(2) == kTile,
               std::string(what) + ": tiles must be (n, 32, 32) U8 on the host, got " +
                   shape_string(tiles.shape()) + " " + dtype_name(tiles.dtype()));
}

// Tile `i` of (n,32,32) u8, as a read-only Mat header.
cv::Mat tile_mat(const Tensor& tiles, std::int64_t i) {
  auto* p = const_cast<std::uint8_t*>(tiles.data<std::uint8_t>()) + i * kTile * kTile;
  return cv::Mat(kTile, kTile, CV_8UC1, p);
}

// Nearest-neighbour upscale of `tile` by `scale` into `dst` at (y, x).
void place(const cv::Mat& tile, int scale, cv::Mat& dst, int y, int x) {
  cv::Mat roi = dst(cv::Rect(x, y, kTile * scale, kTile * scale));
  cv::resize(tile, roi, roi.size(), 0, 0, cv::INTER_NEAREST);
}

Tensor to_tensor(const cv::Mat& image) {
  Tensor out({image.rows, image.cols}, DType::u8);
  cv::Mat view(image.rows, image.cols, CV_8UC1, out.data<std::uint8_t>());
  image.copyTo(view);
  return out;
}

}  // namespace

Tensor render_strip(const Tensor& projection_tiles, const Tensor& crop_tiles) {
  check_tiles(projection_tiles, "render_strip projections");
  check_tiles(crop_tiles, "render_strip crops");
  AULENS_CHECK(projection_tiles.dim(0) == crop_tiles.dim(0),
               "render_strip: " + std::to_string(projection_tiles.dim(0)) + " projections but " +
                   std::to_string(crop_tiles.dim(0)) + " crops");
  const int n = static_cast<int>(projection_tiles.dim(0));
  const ImageSize size = strip_size(n);
  cv::Mat strip(size.height, size.width, CV_8UC1, cv::Scalar(kSeparatorValue));
  const int step = kTile * kStripScale + kSeparator;
  for (int r = 0; r < n; ++r) {
    place(tile_mat(projection_tiles, r), kStripScale, strip, 0, r * step);
    place(tile_mat(crop_tiles, r), kStripScale, strip, step, r * step);
  }
  return to_tensor(strip);
}

Tensor render_contact_sheet(const Tensor& rank1_tiles) {
  check_tiles(rank1_tiles, "render_contact_sheet");
  const int maps = static_cast<int>(rank1_tiles.dim(0));
  const int cols = contact_sheet_columns(maps);
  const ImageSize size = contact_sheet_size(maps);
  cv::Mat sheet(size.height, size.width, CV_8UC1, cv::Scalar(kSeparatorValue));
  const int cell = kTile * kSheetScale;
  for (int m = 0; m < maps; ++m) {
    const int x = (m % cols) * (cell + kSeparator);
    const int y = (m / cols) * (kLabelHeight + cell + kSeparator);
    // Black number on the white label band, left-aligned, baseline 3 px above the tile.
    cv::putText(sheet, std::to_string(m), cv::Point(x + 1, y + kLabelHeight - 3),
                cv::FONT_HERSHEY_PLAIN, 0.8, cv::Scalar(0), 1, cv::LINE_8);
    place(tile_mat(rank1_tiles, m), kSheetScale, sheet, y + kLabelHeight, x);
  }
  return to_tensor(sheet);
}

void write_png(const std::filesystem::path& path, const Tensor& image) {
  AULENS_CHECK(image.defined() && image.device() == Device::cpu && image.dtype() == DType::u8 &&
                   image.rank() == 2 && image.numel() > 0,
               "write_png " + path.string() + ": image must be (H, W) U8 on the host, got " +
                   shape_string(image.shape()) + " " + dtype_name(image.dtype()));
  const cv::Mat view(static_cast<int>(image.dim(0)), static_cast<int>(image.dim(1)), CV_8UC1,
                     const_cast<std::uint8_t*>(image.data<std::uint8_t>()));
  std::vector<unsigned char> bytes;
  AULENS_CHECK(cv::imencode(".png", view, bytes),
               "write_png " + path.string() + ": OpenCV could not encode the PNG");
  write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace aulens
