// Reading a dataset image: the file is checked for being cut short before OpenCV decodes it,
// because libjpeg decodes a truncated JPEG "successfully", filling the missing rows with grey.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <string_view>
#include <system_error>
#include <vector>

#include "aulens/check.h"
#include "data/dataset_build.h"

namespace aulens::data {
namespace {

using Bytes = std::vector<unsigned char>;

bool starts_with(const Bytes& bytes, std::string_view magic) {
  return bytes.size() >= magic.size() &&
         std::equal(magic.begin(), magic.end(), bytes.begin(),
                    [](char m, unsigned char b) { return static_cast<unsigned char>(m) == b; });
}

std::uint32_t big_endian_u32(const unsigned char* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// A PNG is its 8-byte signature and chunks (length, type, data, CRC) up to IEND; a file that ends
// before IEND's end was cut short. Bytes after IEND are allowed.
bool png_complete(const Bytes& bytes) {
  std::size_t at = 8;
  while (bytes.size() - at >= 12) {
    const std::uint64_t length = big_endian_u32(&bytes[at]);
    const std::string_view type(reinterpret_cast<const char*>(&bytes[at + 4]), 4);
    if (length > bytes.size() - at - 12) return false;
    if (type == "IEND") return true;
    at += 12 + length;
  }
  return false;
}

// A JPEG's image data follows its last start-of-scan marker (FF DA) and ends with the
// end-of-image marker (FF D9). Entropy-coded data cannot hold FF D9 (an FF byte there is
// followed by 00 or a restart code), so a complete file has an FF D9 after its last FF DA; an
// embedded EXIF thumbnail's own markers all come before the main image's scans.
bool jpeg_complete(const Bytes& bytes) {
  std::size_t last_scan = 0, last_end = 0;
  for (std::size_t i = 2; i + 1 < bytes.size(); ++i) {
    if (bytes[i] != 0xFF) continue;
    if (bytes[i + 1] == 0xDA) last_scan = i;
    if (bytes[i + 1] == 0xD9) last_end = i;
  }
  return last_scan != 0 && last_end > last_scan;
}

}  // namespace

cv::Mat read_grey_image(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw Error(std::filesystem::exists(file, ec) ? "not a regular file" : "no such file");
  }
  std::ifstream in(file, std::ios::binary);
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw Error("cannot read the file");
  if (bytes.empty()) throw Error("the file is empty");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n") && !png_complete(bytes))
    throw Error("the PNG ends before its IEND chunk (a truncated file)");
  if (starts_with(bytes, "\xFF\xD8\xFF") && !jpeg_complete(bytes))
    throw Error("the JPEG ends before its end-of-image marker (a truncated file)");
  cv::Mat grey = cv::imread(file.string(), cv::IMREAD_GRAYSCALE);
  if (grey.empty()) throw Error("not an image format OpenCV decodes, or a corrupt one");
  return grey;
}

}  // namespace aulens::data
