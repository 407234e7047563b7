// Reading a dataset image: the file is checked for being cut short before OpenCV decodes it,
// because libjpeg decodes a truncated JPEG "successfully", filling the missing rows with grey.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>
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

// A JPEG is a sequence of marker segments (FF xx, then a 2-byte length) from SOI (FF D8) to EOI
// (FF D9); each start-of-scan segment (FF DA) is followed by entropy-coded data, in which an FF
// byte is followed by 00 (a stuffed FF) or a restart code D0-D7. The walk skips segments by their
// lengths (so an EXIF thumbnail's markers inside APP1 are never seen) and scans the entropy data
// for the next marker. Running off the end before EOI means the file was cut short; bytes after
// EOI are allowed. A structure the walk does not understand is left to the decoder to judge.
bool jpeg_complete(const Bytes& bytes) {
  const std::size_t size = bytes.size();
  std::size_t at = 2;  // after SOI
  while (true) {
    if (at >= size) return false;
    if (bytes[at] != 0xFF) return true;           // not a marker: malformed, not truncated
    while (at < size && bytes[at] == 0xFF) ++at;  // fill bytes before a marker
    if (at >= size) return false;
    const unsigned char marker = bytes[at++];
    if (marker == 0xD9) return true;                                     // EOI
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (size - at < 2) return false;
    const std::size_t length = std::size_t{bytes[at]} << 8 | bytes[at + 1];
    if (length < 2) return true;  // malformed
    if (length > size - at) return false;
    at += length;
    if (marker != 0xDA) continue;
    // Entropy-coded data up to the next marker.
    while (true) {
      if (size - at < 2) return false;
      if (bytes[at] != 0xFF) {
        ++at;
        continue;
      }
      const unsigned char next = bytes[at + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
        at += 2;
        continue;
      }
      if (next == 0xFF) {  // a fill byte before the marker
        ++at;
        continue;
      }
      break;  // bytes[at] is the FF of the next marker
    }
  }
}

}  // namespace

cv::Mat read_grey_image(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    throw Error(std::filesystem::exists(file, ec) ? "not a regular file" : "no such file");
  }
  const std::uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) throw Error("cannot read the file's size: " + ec.message());
  if (size == 0) throw Error("the file is empty");
  Bytes bytes(static_cast<std::size_t>(size));
  std::ifstream in(file, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw Error("cannot read the file (" + std::to_string(in.gcount()) + " of " +
                std::to_string(size) + " bytes read)");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n") && !png_complete(bytes))
    throw Error("the PNG ends before its IEND chunk (a truncated file)");
  if (starts_with(bytes, "\xFF\xD8\xFF") && !jpeg_complete(bytes))
    throw Error("the JPEG ends before its end-of-image marker (a truncated file)");
  // The bytes checked are the bytes decoded (imdecode applies EXIF orientation as imread does).
  cv::Mat grey = cv::imdecode(bytes, cv::IMREAD_GRAYSCALE);
  if (grey.empty()) throw Error("not an image format OpenCV decodes, or a corrupt one");
  return grey;
}

}  // namespace aulens::data
