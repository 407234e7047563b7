// Picture layout of the visualize stage (implemented with OpenCV in src/data/render.cpp; the
// functions exist only in builds with AULENS_HAVE_OPENCV, the sizes below everywhere).
//
// A map strip (deconv/map_NNN.png), grey u8:
//   top row     n projection tiles (display-normalised, aulens/visualize.h), rank 1 … n left→right
//   bottom row  the n receptive-field crops of the source images, in the same order
// Each 32×32 tile is upscaled ×kStripScale with nearest-neighbour; tiles and rows are separated by
// kSeparator px of kSeparatorValue; no outer border.
//
// The contact sheet (deconv/contact_sheet.png): K cells in a grid of ceil(√K) columns, row-major by
// map index; a cell is a kLabelHeight px band with the map number above its rank-1 projection tile
// upscaled ×kSheetScale; cells separated by kSeparator px.
#pragma once

#include <cstdint>
#include <filesystem>

#include "aulens/tensor.h"

namespace aulens {

constexpr int kTile = 32;  // receptive-field window side (aulens/receptive_field.h)
constexpr int kStripScale = 3;
constexpr int kSheetScale = 2;
constexpr int kSeparator = 2;
constexpr std::uint8_t kSeparatorValue = 255;
constexpr int kLabelHeight = 14;

struct ImageSize {
  int height = 0, width = 0;
};

constexpr ImageSize strip_size(int n) {
  const int tile = kTile * kStripScale;
  return {2 * tile + kSeparator, n * tile + (n - 1) * kSeparator};
}

constexpr int contact_sheet_columns(int maps) {
  int c = 1;
  while (c * c < maps) ++c;
  return c;
}

constexpr ImageSize contact_sheet_size(int maps) {
  const int cols = contact_sheet_columns(maps);
  const int rows = (maps + cols - 1) / cols;
  const int cell = kTile * kSheetScale;
  return {rows * (kLabelHeight + cell) + (rows - 1) * kSeparator,
          cols * cell + (cols - 1) * kSeparator};
}

#ifdef AULENS_HAVE_OPENCV
// projection_tiles, crop_tiles: (n,32,32) u8 → (H,W) u8 of strip_size(n).
Tensor render_strip(const Tensor& projection_tiles, const Tensor& crop_tiles);
// rank1_tiles: (K,32,32) u8 → (H,W) u8 of contact_sheet_size(K), map numbers 0-based.
Tensor render_contact_sheet(const Tensor& rank1_tiles);
// Writes an (H,W) u8 grey image as PNG, atomically; throws naming the path on failure.
void write_png(const std::filesystem::path& path, const Tensor& image);
#endif

}  // namespace aulens
