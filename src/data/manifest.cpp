// The manifest CSV reader (DESIGN §3) for datasets other than CK+. One row per image:
//   path,subject,expression[,AU01_c,AU01_r,…][,x_0..x_67,y_0..y_67]
// - A header row is required; column names are matched after trimming blanks (OpenFace writes
//   ", AU01_r"); other columns are ignored, but one spelt like an AU column otherwise (au01_c,
//   AU01_C, AU01c) is an error. Fields may be double-quoted.
// - path: relative to the CSV's folder (absolute paths are used as they are).
// - subject: any string; subjects are numbered in order of first appearance among used rows.
// - expression: a class name (case-insensitive, see class_names_for) or an integer class index
//   0..C−1; empty or −1 = no expression (kept for the AU analysis, label kNoLabel). "neutral"
//   without neutral_class is also kNoLabel.
// - AU columns: AUxx_c presence (0 or 1; another value is a bad row), AUxx_r intensity (0–5).
//   With _c: present iff c = 1, the intensity is _r when given and > 0, else
//   kAuIntensityNotCoded. With only _r: present iff r > 0.
//   The AU ids are those of the header's AU columns.
// - Landmarks: all 136 columns x_0..x_67, y_0..y_67 (image pixels) or none; with them the face is
//   cropped like CK+; without them the whole image is taken as an aligned face and resized to S×S.
// A bad row (missing columns, a field that is not a number, an unknown expression, an image
// listed on an earlier row, an unreadable image, collapsed landmarks) is skipped and reported with
// file and line; strict → the first bad row of the file throws.
#include <algorithm>
#include <cmath>
#include <optional>
#include <regex>

#include "aulens/check.h"
#include "aulens/csv.h"
#include "data/dataset_build.h"

namespace fs = std::filesystem;

namespace aulens {
namespace {

std::string trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return std::string(text);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Splits one CSV line (aulens/csv.h) into trimmed fields. Returns false for an unterminated quote.
bool split_csv(const std::string& line, std::vector<std::string>* fields) {
  std::size_t pos = 0;
  bool unterminated = false;
  if (!read_csv_record(line, pos, *fields, unterminated)) fields->assign(1, "");
  for (std::string& field : *fields) field = trim(field);
  return !unterminated;
}

struct AuColumns {
  int presence = -1, intensity = -1;  // column indices or −1
};

struct Row {
  int line = 0;
  std::string path;
  std::int32_t subject = 0, label = kNoLabel;
  std::map<int, float> aus;
  bool has_landmarks = false;
  std::array<float, 2 * kLandmarkCount> points;
};

struct RowProblem {
  std::string problem;
};

float number_field(const std::string& text, const std::string& column) {
  const auto value = data::parse_number(text);
  if (!value) throw RowProblem{"column " + column + ": expected a number, got '" + text + "'"};
  return static_cast<float>(*value);
}

std::int32_t parse_expression(const std::string& text, const std::vector<std::string>& classes) {
  if (text.empty() || text == "-1") return kNoLabel;
  const std::string name = lower(text);
  for (std::size_t c = 0; c < classes.size(); ++c)
    if (classes[c] == name) return static_cast<std::int32_t>(c);
  if (name == "neutral") return kNoLabel;  // no neutral class configured
  const auto index = data::parse_number(text);
  if (index && *index == std::floor(*index) && *index >= 0 &&
      *index < static_cast<double>(classes.size()))
    return static_cast<std::int32_t>(*index);
  std::string known;
  for (const auto& c : classes) known += (known.empty() ? "" : ", ") + c;
  throw RowProblem{"expression '" + text + "' is neither a class name (" + known +
                   ") nor a class index 0-" + std::to_string(classes.size() - 1)};
}

}  // namespace

Dataset read_manifest(const fs::path& csv, const DatasetConfig& cfg, const ProgressFn& progress) {
  AULENS_REQUIRE(cfg.crop_size > 0 && cfg.crop_margin >= 0.0f,
                 "dataset.crop_size must be > 0 and crop_margin >= 0");
  std::error_code ec;
  if (!fs::is_regular_file(csv, ec)) {
    throw Error("manifest '" + csv.string() + "' " +
                (fs::is_directory(csv, ec)
                     ? "is a folder, not a CSV file (a CK+ folder needs dataset.source: ckplus)"
                     : "does not exist"));
  }
  const auto lines = data::read_lines(csv);
  if (lines.empty())
    throw Error("manifest '" + csv.string() + "' is empty (expected a header row)");
  std::string header_line = lines[0];
  if (header_line.rfind("\xEF\xBB\xBF", 0) == 0) header_line.erase(0, 3);  // UTF-8 BOM
  std::vector<std::string> header;
  split_csv(header_line, &header);

  std::map<std::string, int> column;
  const std::regex au_pattern("AU0*([0-9]+)_([cr])");
  const std::regex landmark_pattern("[xy]_[0-9]+");
  for (std::size_t i = 0; i < header.size(); ++i) {
    const auto [at, inserted] = column.emplace(header[i], static_cast<int>(i));
    const bool read = header[i] == "path" || header[i] == "subject" || header[i] == "expression" ||
                      std::regex_match(header[i], landmark_pattern);
    if (!inserted && read)
      throw Error(csv.string() + ":1: column '" + header[i] + "' appears twice (columns " +
                  std::to_string(at->second + 1) + " and " + std::to_string(i + 1) + ")");
  }
  for (const char* required : {"path", "subject", "expression"})
    if (!column.count(required))
      throw Error(csv.string() + ":1: missing column '" + required +
                  "' (the header must name path, subject, expression)");
  std::map<int, AuColumns> au_columns;
  // A column that is an AU column in all but its spelling (au01_c, AU01_C, AU01c) would be
  // ignored as "another column", and its AU lost without a word.
  const std::regex near_au(R"(au0*[0-9]+_?[cr])", std::regex::icase);
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::smatch match;
    if (!std::regex_match(header[i], au_pattern) && std::regex_match(header[i], near_au))
      throw Error(csv.string() + ":1: column " + std::to_string(i + 1) + " ('" + header[i] +
                  "') looks like an AU column, which aulens reads only as AUxx_c (presence) or "
                  "AUxx_r (intensity), e.g. AU01_c");
    if (std::regex_match(header[i], match, au_pattern)) {
      // AU numbers 1-99, as in CK+'s FACS files (the digits may be too many for an int).
      const std::string digits = match[1].str();
      if (digits.size() > 2 || digits == "0")
        throw Error(csv.string() + ":1: column " + std::to_string(i + 1) + " ('" + header[i] +
                    "') names AU " + digits + ", outside 1-99");
      auto& entry = au_columns[std::stoi(digits)];
      int& slot = match[2] == "c" ? entry.presence : entry.intensity;
      if (slot >= 0)
        throw Error(csv.string() + ":1: columns " + std::to_string(slot + 1) + " ('" +
                    header[static_cast<std::size_t>(slot)] + "') and " + std::to_string(i + 1) +
                    " ('" + header[i] + "') both give AU" + match[1].str() + "_" + match[2].str());
      slot = static_cast<int>(i);
    }
  }
  int landmark_columns = 0;
  std::array<int, 2 * kLandmarkCount> landmark_index;
  for (int k = 0; k < kLandmarkCount; ++k) {
    for (int axis = 0; axis < 2; ++axis) {
      const auto it = column.find(std::string(axis == 0 ? "x_" : "y_") + std::to_string(k));
      landmark_index[2 * k + axis] = it == column.end() ? -1 : it->second;
      landmark_columns += it != column.end();
    }
  }
  if (landmark_columns != 0 && landmark_columns != 2 * kLandmarkCount)
    throw Error(csv.string() + ":1: found " + std::to_string(landmark_columns) +
                " of the 136 landmark columns x_0..x_67, y_0..y_67 (give all or none)");

  const auto classes = class_names_for(cfg);
  std::vector<Row> rows;
  std::vector<DatasetIssue> issues;
  std::vector<std::string> subject_names;
  std::map<std::string, std::int32_t> subject_index;
  std::vector<std::string> fields;
  auto problem_at = [&](int line, const std::string& problem) {
    DatasetIssue issue{csv.string(), line, problem, "row"};
    if (cfg.strict) throw issue.strict_error();
    issues.push_back(std::move(issue));
  };
  // strict: the first row whose text is bad; the rows before it are still read for images, so
  // that the error names the first bad row of the file, whatever its problem.
  std::optional<DatasetIssue> strict_stop;
  std::map<fs::path, int> first_line_of;  // image → the line that lists it
  int rows_found = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const int line = static_cast<int>(i) + 1;
    if (trim(lines[i]).empty()) continue;
    ++rows_found;
    try {
      if (!split_csv(lines[i], &fields)) throw RowProblem{"unterminated quote"};
      if (fields.size() != header.size())
        throw RowProblem{"row has " + std::to_string(fields.size()) + " columns, the header has " +
                         std::to_string(header.size())};
      Row row;
      row.line = line;
      row.path = fields[column["path"]];
      if (row.path.empty()) throw RowProblem{"empty path"};
      const std::string subject = fields[column["subject"]];
      if (subject.empty()) throw RowProblem{"empty subject"};
      row.label = parse_expression(fields[column["expression"]], classes);
      for (const auto& [au, cols] : au_columns) {
        const std::string au_name = "AU" + std::string(au < 10 ? "0" : "") + std::to_string(au);
        const float r =
            cols.intensity >= 0 ? number_field(fields[cols.intensity], au_name + "_r") : 0.0f;
        if (r < 0.0f || r > 5.0f)
          throw RowProblem{"column " + au_name + "_r: intensity outside 0-5"};
        if (cols.presence >= 0) {
          const float c = number_field(fields[cols.presence], au_name + "_c");
          if (c != 0.0f && c != 1.0f)
            throw RowProblem{"column " + au_name + "_c: presence must be 0 or 1, found '" +
                             fields[cols.presence] + "'"};
          if (c == 1.0f) row.aus[au] = r > 0.0f ? r : kAuIntensityNotCoded;
        } else if (r > 0.0f) {
          row.aus[au] = r;
        }
      }
      row.has_landmarks = landmark_columns > 0;
      for (int k = 0; row.has_landmarks && k < 2 * kLandmarkCount; ++k)
        row.points[k] = number_field(fields[landmark_index[k]], header[landmark_index[k]]);
      // One image, one row: a repeat would count the image twice, and under another subject it
      // could land in both splits. (A row that is bad otherwise does not claim its image.)
      const fs::path image =
          fs::path(row.path).is_absolute() ? fs::path(row.path) : csv.parent_path() / row.path;
      if (const auto [first, added] = first_line_of.emplace(image.lexically_normal(), line); !added)
        throw RowProblem{"the image '" + row.path + "' is already listed on line " +
                         std::to_string(first->second)};
      auto [it, added] =
          subject_index.emplace(subject, static_cast<std::int32_t>(subject_names.size()));
      if (added) subject_names.push_back(subject);
      row.subject = it->second;
      rows.push_back(std::move(row));
    } catch (const RowProblem& problem) {
      if (cfg.strict) {
        strict_stop = DatasetIssue{csv.string(), line, problem.problem, "row"};
        break;
      }
      problem_at(line, problem.problem);
    }
  }

  // Images in parallel, one slot per row.
  const fs::path base = csv.parent_path();
  const long row_count = static_cast<long>(rows.size());
  std::vector<std::optional<data::ImageItem>> slots(rows.size());
  std::vector<std::string> row_problems(rows.size());
  std::size_t done = 0;
#pragma omp parallel for schedule(dynamic, 8)
  for (long r = 0; r < row_count; ++r) {
    const Row& row = rows[r];
    const fs::path image_path =
        fs::path(row.path).is_absolute() ? fs::path(row.path) : base / row.path;
    try {
      cv::Mat grey;
      try {
        grey = data::read_grey_image(image_path);
      } catch (const Error& e) {
        throw RowProblem{"cannot read or decode the image '" + image_path.string() +
                         "': " + e.what()};
      }
      data::CropTransform transform;
      const cv::Mat crop = data::crop_face(grey, row.has_landmarks ? row.points.data() : nullptr,
                                           cfg.crop_margin, cfg.crop_size, &transform);
      data::ImageItem item;
      item.crop.assign(crop.data,
                       crop.data + static_cast<std::size_t>(cfg.crop_size) * cfg.crop_size);
      item.label = row.label;
      item.aus = row.aus;
      item.subject = row.subject;
      for (int k = 0; k < kLandmarkCount; ++k) {
        item.landmarks[2 * k] = row.has_landmarks ? transform.u(row.points[2 * k]) : NAN;
        item.landmarks[2 * k + 1] = row.has_landmarks ? transform.v(row.points[2 * k + 1]) : NAN;
      }
      item.path = row.path;
      slots[r] = std::move(item);
    } catch (const RowProblem& problem) {
      row_problems[r] = problem.problem;
    } catch (const std::exception& e) {
      row_problems[r] = std::string("image '") + image_path.string() + "': " + e.what();
    }
#pragma omp critical(aulens_manifest_progress)
    {
      ++done;
      if (progress && (done % 256 == 0 || done == rows.size())) progress(done, rows.size());
    }
  }
  // Subjects are numbered over the rows that were used, in order of first appearance.
  std::vector<data::ImageItem> items;
  std::vector<std::string> used_subjects;
  std::map<std::int32_t, std::int32_t> renumber;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (slots[r]) {
      auto [it, added] =
          renumber.emplace(slots[r]->subject, static_cast<std::int32_t>(used_subjects.size()));
      if (added) used_subjects.push_back(subject_names[slots[r]->subject]);
      slots[r]->subject = it->second;
      items.push_back(std::move(*slots[r]));
    } else {
      problem_at(rows[r].line, row_problems[r]);
    }
  }
  if (strict_stop) throw strict_stop->strict_error();
  std::sort(issues.begin(), issues.end(),
            [](const DatasetIssue& a, const DatasetIssue& b) { return a.line < b.line; });
  if (items.empty()) {
    std::string why = issues.empty() ? "" : " (first problem: " + issues.front().describe() + ")";
    throw Error("the manifest '" + csv.string() + "' gives no usable image" + why);
  }
  Dataset data = data::assemble_dataset(items, cfg);
  // The header's AU columns define the AU set, present or not.
  if (data.au_ids.size() != au_columns.size()) {
    std::vector<std::int32_t> all_ids;
    for (const auto& [au, cols] : au_columns) all_ids.push_back(au);
    const std::int64_t m = data.size(), a_old = static_cast<std::int64_t>(data.au_ids.size());
    const std::int64_t a_new = static_cast<std::int64_t>(all_ids.size());
    Tensor aus = Tensor::zeros({m, a_new}, DType::f32);
    Tensor regions({m, a_new, 4}, DType::f32);
    std::fill(regions.data<float>(), regions.data<float>() + regions.numel(), kNoRegion);
    for (std::int64_t j = 0; j < a_old; ++j) {
      const auto jn = std::find(all_ids.begin(), all_ids.end(), data.au_ids[j]) - all_ids.begin();
      for (std::int64_t i = 0; i < m; ++i)
        aus.data<float>()[i * a_new + jn] = data.aus.data<float>()[i * a_old + j];
    }
    data.au_ids = all_ids;
    data.aus = aus;
    data.au_regions = regions;
  }
  data.source = "manifest";
  data.root = csv.string();
  data.subject_names = used_subjects;
  data.issues = std::move(issues);
  data.counts.frames_found = rows_found;
  std::fill(data.sequence.data<std::int32_t>(), data.sequence.data<std::int32_t>() + data.size(),
            -1);
  std::fill(data.frame.data<std::int32_t>(), data.frame.data<std::int32_t>() + data.size(), -1);
  return data;
}

}  // namespace aulens
