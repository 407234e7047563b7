// Internal pieces shared by the CK+ and manifest readers (OpenCV builds only): one image's worth
// of prepared data, the face crop, the numeric parsing of CK+-style text files and the assembly of
// items into a Dataset.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aulens/dataset.h"

namespace aulens::data {

// One image after cropping, with its labels; landmarks and regions already in crop coordinates.
struct ImageItem {
  std::vector<std::uint8_t> crop;  // (S, S) u8
  std::int32_t label = kNoLabel;
  std::map<int, float> aus;  // AU number → intensity (> 0)
  std::int32_t subject = -1, sequence = -1, frame = -1;
  std::array<float, 2 * kLandmarkCount> landmarks;  // (68, 2) x, y; NaN when not given
  std::map<int, std::array<float, 4>> regions;      // AU number → (x0, y0, x1, y1)
  std::string path;                                 // relative to the dataset root
};

// The image → crop map: u = (x − left + 0.5)·scale_x − 0.5, v likewise with y (pixel centres).
struct CropTransform {
  double left = 0, top = 0, scale_x = 1, scale_y = 1;
  float u(double x) const { return static_cast<float>((x - left + 0.5) * scale_x - 0.5); }
  float v(double y) const { return static_cast<float>((y - top + 0.5) * scale_y - 0.5); }
  // Pixel-edge coordinates (pixel i spans [i, i+1)), for boxes with an exclusive end.
  float edge_u(double x) const { return static_cast<float>((x - left) * scale_x); }
  float edge_v(double y) const { return static_cast<float>((y - top) * scale_y); }
};

// Face crop of DESIGN §1.3 from a grey image: box of the extreme landmarks, `margin`·(box size)
// added on each side, squared around its centre (plus a pixel or so of slack so every landmark
// lands strictly inside), edge-replicated where it leaves the image, resized to S×S with
// cv::INTER_AREA. landmarks: (68, 2) image pixels. Without landmarks (nullptr) the whole image is
// resized to S×S (an aligned face). Throws aulens::Error when a landmark is not finite, when the
// landmarks span less than kMinLandmarkSpan pixels across or down (collapsed), or when the box
// misses the image or is more than 16 times its size.
inline constexpr double kMinLandmarkSpan = 2.0;
cv::Mat crop_face(const cv::Mat& grey, const float* landmarks, float margin, int crop_size,
                  CropTransform* transform);

// Parses a whole field as a number (leading/trailing blanks allowed, e-notation allowed).
std::optional<double> parse_number(std::string_view text);
// Splits a line into blank-separated fields.
std::vector<std::string_view> split_blanks(std::string_view line);
// Reads a text file into lines, without a UTF-8 byte order mark (an unreadable file throws
// aulens::Error naming it).
std::vector<std::string> read_lines(const std::filesystem::path& path);

// Reads an image file as 8-bit grey (cv::imread, IMREAD_GRAYSCALE). Throws aulens::Error saying
// why it cannot: no such file, an empty file, a PNG or JPEG cut short (libjpeg decodes a
// truncated JPEG without an error, its missing rows grey), or a file OpenCV does not decode.
cv::Mat read_grey_image(const std::filesystem::path& file);

// Builds the Dataset tensors from items (in the given order); AU ids = every AU present in any
// item. Throws aulens::Error when there are no items.
Dataset assemble_dataset(std::vector<ImageItem>& items, const DatasetConfig& cfg);

}  // namespace aulens::data
