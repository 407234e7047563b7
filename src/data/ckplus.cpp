// The CK+ reader (DESIGN §1.3, §3), also used for the synthetic set, which is written in the same
// layout:
//   cohn-kanade-images/S005/001/S005_001_00000011.png         grey or colour, any size
//   Landmarks/S005/001/S005_001_00000011_landmarks.txt        68 lines "x y" (e-notation)
//   FACS/S005/001/S005_001_00000011_facs.txt                  lines "AU intensity", optional
//   Emotion/S005/001/S005_001_00000011_emotion.txt            one code 0–7, optional/empty folder
//   Regions/S005/001/S005_001_00000011_regions.txt            lines "AU x0 y0 x1 y1", optional
//                                                             (x0, y0 inclusive; x1, y1 exclusive)
// The labelling rules are documented in aulens/dataset.h. Problems in a label file (FACS,
// Emotion) skip the whole sequence; problems in an image or its landmarks skip that image; a bad
// Regions file drops that image's regions only. Sequences are read in parallel (OpenMP), each
// into its own slot, and joined in sorted order.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <limits>
#include <mutex>

#include "aulens/check.h"
#include "data/dataset_build.h"

namespace fs = std::filesystem;

namespace aulens {
namespace {

using data::ImageItem;

// A problem found while reading; becomes a DatasetIssue.
struct ReadProblem {
  DatasetIssue issue;
};

[[noreturn]] void fail(const fs::path& file, int line, const std::string& problem,
                       const std::string& skipped) {
  throw ReadProblem{DatasetIssue{file.string(), line, problem, skipped}};
}

// Sorted names of the sub-folders (or files) of `dir`, hidden entries left out.
std::vector<std::string> sorted_entries(const fs::path& dir, bool want_dirs) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec) == want_dirs) names.push_back(name);
  }
  if (ec) throw Error(dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_image_name(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tif" ||
         ext == ".tiff";
}

// The one file in `dir` whose name ends with `suffix`; nullopt when the folder is missing or has
// none (CK+ has empty Emotion folders); more than one is a problem.
std::optional<fs::path> single_file(const fs::path& dir, const std::string& suffix) {
  std::vector<std::string> found;
  for (const auto& name : sorted_entries(dir, false))
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      found.push_back(name);
  if (found.empty()) return std::nullopt;
  if (found.size() > 1)
    fail(dir, 0, "expected one *" + suffix + " file, found " + std::to_string(found.size()),
         "sequence");
  return dir / found[0];
}

// Integer-valued number or nullopt.
std::optional<int> as_integer(std::optional<double> value) {
  if (!value || std::abs(*value - std::round(*value)) > 1e-6 || std::abs(*value) > 1e6)
    return std::nullopt;
  return static_cast<int>(std::lround(*value));
}

// Emotion file: one number, an integer code 0–7.
int read_emotion(const fs::path& file) {
  const auto lines = data::read_lines(file);
  std::optional<int> code;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = data::split_blanks(lines[i]);
    if (fields.empty()) continue;
    const int line = static_cast<int>(i) + 1;
    if (code || fields.size() != 1)
      fail(file, line, "expected a single emotion code in the file, found more", "sequence");
    code = as_integer(data::parse_number(fields[0]));
    if (!code)
      fail(file, line, "expected an integer emotion code, got '" + std::string(fields[0]) + "'",
           "sequence");
    if (*code < 0 || *code > 7)
      fail(file, line, "emotion code " + std::to_string(*code) + " is out of range 0-7",
           "sequence");
  }
  if (!code) fail(file, 0, "empty Emotion file (expected one code 0-7)", "sequence");
  return *code;
}

// FACS file: lines "AU intensity"; intensity 0 = present, intensity not coded.
std::map<int, float> read_facs(const fs::path& file) {
  const auto lines = data::read_lines(file);
  std::map<int, float> aus;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = data::split_blanks(lines[i]);
    if (fields.empty()) continue;
    const int line = static_cast<int>(i) + 1;
    if (fields.size() != 2)
      fail(file, line, "expected 'AU intensity', got " + std::to_string(fields.size()) + " fields",
           "sequence");
    const auto au = as_integer(data::parse_number(fields[0]));
    const auto intensity = data::parse_number(fields[1]);
    if (!au || *au <= 0 || *au > 99)
      fail(file, line, "expected an AU number 1-99, got '" + std::string(fields[0]) + "'",
           "sequence");
    if (!intensity || *intensity < 0.0 || *intensity > 5.0)
      fail(file, line, "expected an intensity 0-5, got '" + std::string(fields[1]) + "'",
           "sequence");
    const float value = *intensity == 0.0 ? kAuIntensityNotCoded : static_cast<float>(*intensity);
    aus[*au] = std::max(aus[*au], value);
  }
  return aus;
}

// Landmarks file: exactly 68 lines "x y".
std::array<float, 2 * kLandmarkCount> read_landmarks(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) fail(file, 0, "landmark file is missing", "image");
  const auto lines = data::read_lines(file);
  std::array<float, 2 * kLandmarkCount> points;
  int count = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = data::split_blanks(lines[i]);
    if (fields.empty()) continue;
    const int line = static_cast<int>(i) + 1;
    if (count == kLandmarkCount) fail(file, line, "more than 68 landmark points", "image");
    if (fields.size() != 2)
      fail(file, line, "expected 'x y', got " + std::to_string(fields.size()) + " fields", "image");
    const auto x = data::parse_number(fields[0]), y = data::parse_number(fields[1]);
    if (!x || !y) fail(file, line, "expected two numbers, got '" + lines[i] + "'", "image");
    points[2 * count] = static_cast<float>(*x);
    points[2 * count + 1] = static_cast<float>(*y);
    if (!std::isfinite(points[2 * count]) || !std::isfinite(points[2 * count + 1]))
      fail(file, line, "expected two finite numbers, got '" + lines[i] + "'", "image");
    ++count;
  }
  if (count != kLandmarkCount)
    fail(file, 0, "expected 68 landmark points, found " + std::to_string(count), "image");
  return points;
}

// Regions file: lines "AU x0 y0 x1 y1", integers in image pixels.
std::map<int, std::array<float, 4>> read_regions(const fs::path& file) {
  const auto lines = data::read_lines(file);
  std::map<int, std::array<float, 4>> regions;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = data::split_blanks(lines[i]);
    if (fields.empty()) continue;
    const int line = static_cast<int>(i) + 1;
    std::array<std::optional<int>, 5> values;
    bool ok = fields.size() == 5;
    for (std::size_t k = 0; ok && k < 5; ++k)
      ok = (values[k] = as_integer(data::parse_number(fields[k]))).has_value();
    if (!ok)
      fail(file, line, "expected 'AU x0 y0 x1 y1' (integers), got '" + lines[i] + "'", "regions");
    if (*values[3] <= *values[1] || *values[4] <= *values[2])
      fail(file, line, "empty region box (x1 <= x0 or y1 <= y0; x1, y1 are exclusive)", "regions");
    regions[*values[0]] = {static_cast<float>(*values[1]), static_cast<float>(*values[2]),
                           static_cast<float>(*values[3]), static_cast<float>(*values[4])};
  }
  return regions;
}

// The frame number at the end of a CK+ file stem ("S005_001_00000011" → 11), or `fallback`.
int frame_number(const std::string& stem, int fallback) {
  const auto pos = stem.find_last_of('_');
  const auto number =
      as_integer(data::parse_number(pos == std::string::npos ? stem : stem.substr(pos + 1)));
  return number ? *number : fallback;
}

struct SequenceJob {
  std::string subject_name, sequence_name;
  std::int32_t subject_index = 0;
};

struct SequenceResult {
  std::vector<ImageItem> items;
  std::vector<DatasetIssue> issues;
  bool has_emotion = false, has_facs = false;
  int frames_found = 0, frames_unused = 0, images_with_regions = 0;
};

SequenceResult read_sequence(const fs::path& root, const SequenceJob& job, const DatasetConfig& cfg,
                             int neutral_label) {
  SequenceResult result;
  const fs::path rel = fs::path(job.subject_name) / job.sequence_name;
  const fs::path image_dir = root / "cohn-kanade-images" / rel;
  std::vector<std::string> images;
  for (const auto& name : sorted_entries(image_dir, false))
    if (is_image_name(name)) images.push_back(name);
  result.frames_found = static_cast<int>(images.size());
  if (images.empty()) {
    result.issues.push_back({image_dir.string(), 0, "sequence folder holds no image", "sequence"});
    return result;
  }
  // Sequence labels: a problem here leaves out the whole sequence.
  int emotion = -1;
  std::map<int, float> facs;
  try {
    if (auto file = single_file(root / "Emotion" / rel, "_emotion.txt")) {
      emotion = read_emotion(*file);
      result.has_emotion = true;
    }
    if (auto file = single_file(root / "FACS" / rel, "_facs.txt")) {
      facs = read_facs(*file);
      result.has_facs = true;
    }
  } catch (const ReadProblem& problem) {
    result.issues.push_back(problem.issue);
    result.has_emotion = false;
    return result;
  } catch (const std::exception& e) {
    result.issues.push_back({(root / "Emotion" / rel).string(), 0, e.what(), "sequence"});
    return result;
  }
  std::int32_t peak_label = kNoLabel;
  if (result.has_emotion) peak_label = emotion == 0 ? neutral_label : emotion - 1;

  const int n = static_cast<int>(images.size());
  for (int i = 0; i < n; ++i) {
    const bool first = i == 0;
    const bool carries = !first && (cfg.frames == "all_but_first" || i >= n - 3);
    if (!first && !carries) {
      ++result.frames_unused;
      continue;
    }
    const std::string stem = fs::path(images[i]).stem().string();
    const fs::path image_file = image_dir / images[i];
    const fs::path landmark_file = root / "Landmarks" / rel / (stem + "_landmarks.txt");
    try {
      const auto points = read_landmarks(landmark_file);
      cv::Mat grey;
      try {
        grey = data::read_grey_image(image_file);
      } catch (const Error& e) {
        fail(image_file, 0, std::string("cannot read or decode the image: ") + e.what(), "image");
      }
      std::map<int, std::array<float, 4>> regions;
      const fs::path region_file = root / "Regions" / rel / (stem + "_regions.txt");
      std::error_code ec;
      if (fs::exists(region_file, ec)) {
        try {
          regions = read_regions(region_file);
        } catch (const ReadProblem& problem) {
          result.issues.push_back(problem.issue);
        }
      }
      data::CropTransform transform;
      cv::Mat crop;
      try {
        crop = data::crop_face(grey, points.data(), cfg.crop_margin, cfg.crop_size, &transform);
      } catch (const Error& e) {
        // The landmarks are at fault (collapsed, or a box off the image): name their file.
        fail(landmark_file, 0, std::string(e.what()) + " (image " + images[i] + ")", "image");
      }
      ImageItem item;
      item.crop.assign(crop.data,
                       crop.data + static_cast<std::size_t>(cfg.crop_size) * cfg.crop_size);
      item.label = first ? neutral_label : peak_label;
      if (carries) item.aus = facs;
      item.subject = job.subject_index;
      item.sequence = frame_number(job.sequence_name, -1);
      item.frame = frame_number(stem, i + 1);
      for (int k = 0; k < kLandmarkCount; ++k) {
        item.landmarks[2 * k] = transform.u(points[2 * k]);
        item.landmarks[2 * k + 1] = transform.v(points[2 * k + 1]);
      }
      // Boxes are clipped to the crop; one that falls wholly outside it is left out.
      const float s = static_cast<float>(cfg.crop_size);
      auto clip = [s](float value) { return std::clamp(value, 0.0f, s); };
      for (const auto& [au, box] : regions) {
        const std::array<float, 4> crop_box = {
            clip(transform.edge_u(box[0])), clip(transform.edge_v(box[1])),
            clip(transform.edge_u(box[2])), clip(transform.edge_v(box[3]))};
        if (crop_box[2] > crop_box[0] && crop_box[3] > crop_box[1]) item.regions[au] = crop_box;
      }
      if (!regions.empty()) ++result.images_with_regions;
      item.path = (fs::path("cohn-kanade-images") / rel / images[i]).generic_string();
      result.items.push_back(std::move(item));
    } catch (const ReadProblem& problem) {
      result.issues.push_back(problem.issue);
    } catch (const std::exception& e) {
      result.issues.push_back({image_file.string(), 0, e.what(), "image"});
    }
  }
  return result;
}

}  // namespace

Dataset read_ckplus(const fs::path& root, const DatasetConfig& cfg, const ProgressFn& progress) {
  AULENS_REQUIRE(cfg.frames == "all_but_first" || cfg.frames == "last_3",
                 "dataset.frames must be all_but_first or last_3, got '" + cfg.frames + "'");
  AULENS_REQUIRE(cfg.crop_size > 0 && cfg.crop_margin >= 0.0f,
                 "dataset.crop_size must be > 0 and crop_margin >= 0");
  const fs::path image_root = root / "cohn-kanade-images";
  std::error_code ec;
  if (!fs::is_directory(image_root, ec))
    throw Error("'" + root.string() + "' is not a CK+ tree: it has no cohn-kanade-images/ folder");
  // CK+ ships images, landmarks, FACS and emotion labels as separate archives: name the one not
  // unpacked here, rather than failing later on a dataset without labels.
  std::string missing;
  for (const char* folder : {"Landmarks", "FACS", "Emotion"}) {
    if (!fs::is_directory(root / folder, ec))
      missing += std::string(missing.empty() ? "" : ", ") + folder + "/";
  }
  if (!missing.empty())
    throw Error("'" + root.string() + "' has cohn-kanade-images/ but no " + missing +
                " (a CK+ tree holds cohn-kanade-images/, Landmarks/, FACS/ and Emotion/; unpack "
                "each archive into the same folder)");

  std::vector<SequenceJob> jobs;
  const auto subject_names = sorted_entries(image_root, true);
  for (std::size_t s = 0; s < subject_names.size(); ++s)
    for (const auto& sequence : sorted_entries(image_root / subject_names[s], true))
      jobs.push_back({subject_names[s], sequence, static_cast<std::int32_t>(s)});
  const int neutral_label = cfg.neutral_class ? 7 : kNoLabel;

  std::vector<SequenceResult> results(jobs.size());
  std::atomic<long> first_bad{LONG_MAX};  // strict: earliest sequence with a problem
  std::atomic<std::size_t> done{0};
  std::mutex progress_mutex;
  const long job_count = static_cast<long>(jobs.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (long j = 0; j < job_count; ++j) {
    if (cfg.strict && j > first_bad.load()) continue;
    try {
      results[j] = read_sequence(root, jobs[j], cfg, neutral_label);
    } catch (const std::exception& e) {  // an unlistable folder, say: no exception leaves OpenMP
      results[j] = {};
      results[j].issues.push_back(
          {(root / "cohn-kanade-images" / jobs[j].subject_name / jobs[j].sequence_name).string(), 0,
           e.what(), "sequence"});
    }
    if (cfg.strict && !results[j].issues.empty()) {
      long seen = first_bad.load();
      while (j < seen && !first_bad.compare_exchange_weak(seen, j)) {
      }
    }
    if (progress) {  // counted and reported under one lock, so reports arrive in order
      std::lock_guard<std::mutex> lock(progress_mutex);
      progress(++done, jobs.size());
    }
  }
  if (cfg.strict && first_bad.load() != LONG_MAX) {
    const DatasetIssue& issue = results[first_bad.load()].issues.front();
    throw issue.strict_error();
  }

  std::vector<ImageItem> items;
  ReadCounts counts;
  std::vector<DatasetIssue> issues;
  counts.sequences = static_cast<int>(jobs.size());
  for (auto& result : results) {
    counts.sequences_with_emotion += result.has_emotion;
    counts.sequences_without_facs += !result.has_facs && !result.items.empty();
    counts.frames_found += result.frames_found;
    counts.frames_unused += result.frames_unused;
    counts.images_with_regions += result.images_with_regions;
    for (auto& item : result.items) items.push_back(std::move(item));
    for (auto& issue : result.issues) issues.push_back(std::move(issue));
    result = {};
  }
  if (items.empty()) {
    std::string why = issues.empty() ? "" : " (first problem: " + issues.front().describe() + ")";
    throw Error("the dataset at '" + root.string() + "' is empty: no usable image in " +
                std::to_string(jobs.size()) + " sequences" + why);
  }
  Dataset data = data::assemble_dataset(items, cfg);
  data.source = "ckplus";
  data.root = root.string();
  data.subject_names = subject_names;
  data.issues = std::move(issues);
  data.counts = counts;
  return data;
}

}  // namespace aulens
