// The PNG images of the report (aulens/report.h), drawn with OpenCV: face crops with boxes, and
// projections over their face crop. Built only with OpenCV (AULENS_HAVE_OPENCV).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace aulens {

struct ReportBox {
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // pixel-edge coordinates of the image drawn
  std::uint8_t r = 0, g = 0, b = 0;
};

// One tile: a grey image (h,w) u8, optionally with a projection heat overlay, scaled by `scale`,
// boxes drawn on top.
struct ReportTile {
  std::vector<std::uint8_t> grey;  // (h,w) u8
  int h = 0, w = 0;
  std::vector<float> heat;  // (h,w) f32 projection magnitude, empty for none
  std::vector<ReportBox> boxes;
};

// Writes the tiles side by side (each scaled by `scale`, 2 px gaps) as one PNG; throws
// aulens::Error naming the file when OpenCV cannot write it.
void write_tile_strip(const std::filesystem::path& png, const std::vector<ReportTile>& tiles,
                      int scale);

}  // namespace aulens
