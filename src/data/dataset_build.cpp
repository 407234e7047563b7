// Shared reader helpers: number parsing for CK+'s e-notation text files, line reading, and the
// assembly of prepared images into the Dataset tensors.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include "aulens/check.h"
#include "data/dataset_build.h"

namespace aulens::data {

namespace {
bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}
}  // namespace

std::optional<double> parse_number(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  if (text.empty() || text.size() > 64) return std::nullopt;
  char buffer[65];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  char* end = nullptr;
  const double value = std::strtod(buffer, &end);
  if (end != buffer + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !is_blank(line[j])) ++j;
    if (j > i) fields.push_back(line.substr(i, j - i));
    i = j;
  }
  return fields;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open '" + path.string() + "'");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (in.bad()) throw Error("error while reading '" + path.string() + "'");
  // A UTF-8 byte order mark (some Windows editors write one) is not part of the first line.
  if (!lines.empty() && lines.front().rfind("\xEF\xBB\xBF", 0) == 0) lines.front().erase(0, 3);
  return lines;
}

Dataset assemble_dataset(std::vector<ImageItem>& items, const DatasetConfig& cfg) {
  if (items.empty()) throw Error("the dataset is empty: no image could be used");
  const std::int64_t count = static_cast<std::int64_t>(items.size());
  const std::int64_t s = cfg.crop_size;
  Dataset data;
  data.crop_size = cfg.crop_size;
  data.class_names = class_names_for(cfg);
  std::set<int> au_set;
  for (const auto& item : items)
    for (const auto& [au, intensity] : item.aus) au_set.insert(au);
  data.au_ids.assign(au_set.begin(), au_set.end());
  const std::int64_t au_count = static_cast<std::int64_t>(data.au_ids.size());

  data.crops = Tensor({count, s, s}, DType::u8);
  data.labels = Tensor({count}, DType::i32);
  data.aus = Tensor::zeros({count, au_count}, DType::f32);
  data.subject = Tensor({count}, DType::i32);
  data.sequence = Tensor({count}, DType::i32);
  data.frame = Tensor({count}, DType::i32);
  data.landmarks = Tensor({count, kLandmarkCount, 2}, DType::f32);
  data.au_regions = Tensor({count, au_count, 4}, DType::f32);
  std::uint8_t* crops = data.crops.data<std::uint8_t>();
  float* aus = data.aus.data<float>();
  float* regions = data.au_regions.data<float>();
  std::fill(regions, regions + data.au_regions.numel(), kNoRegion);
  data.source_paths.reserve(items.size());
  for (std::int64_t i = 0; i < count; ++i) {
    ImageItem& item = items[i];
    AULENS_CHECK(static_cast<std::int64_t>(item.crop.size()) == s * s, "crop of the wrong size");
    std::copy(item.crop.begin(), item.crop.end(), crops + i * s * s);
    data.labels.data<std::int32_t>()[i] = item.label;
    data.subject.data<std::int32_t>()[i] = item.subject;
    data.sequence.data<std::int32_t>()[i] = item.sequence;
    data.frame.data<std::int32_t>()[i] = item.frame;
    std::copy(item.landmarks.begin(), item.landmarks.end(),
              data.landmarks.data<float>() + i * 2 * kLandmarkCount);
    for (std::int64_t j = 0; j < au_count; ++j) {
      const int au = data.au_ids[j];
      if (auto it = item.aus.find(au); it != item.aus.end()) aus[i * au_count + j] = it->second;
      if (auto it = item.regions.find(au); it != item.regions.end())
        std::copy(it->second.begin(), it->second.end(), regions + (i * au_count + j) * 4);
    }
    data.source_paths.push_back(std::move(item.path));
    item.crop = {};
  }
  return data;
}

}  // namespace aulens::data
