// Dataset pieces that need no OpenCV: class names, issue text, the source dispatch (which says
// clearly when this build cannot read images), and the human-readable summary.
#include <map>
#include <set>
#include <sstream>

#include "aulens/check.h"
#include "aulens/dataset.h"

namespace aulens {

std::string DatasetIssue::describe() const {
  std::string text = file;
  if (line > 0) {
    text += ':';
    text += std::to_string(line);
  }
  text += ": " + problem;
  if (!skipped.empty()) text += " (skipped: " + skipped + ")";
  return text;
}

Error DatasetIssue::strict_error() const {
  DatasetIssue fatal = *this;
  fatal.skipped.clear();  // strict skips nothing: the read stops here
  return Error("bad dataset input (strict): " + fatal.describe());
}

std::vector<std::string> class_names_for(const DatasetConfig& cfg) {
  std::vector<std::string> names = {"anger", "contempt", "disgust", "fear",
                                    "happy", "sadness",  "surprise"};
  if (cfg.neutral_class) names.push_back("neutral");
  return names;
}

#ifndef AULENS_HAVE_OPENCV
Dataset read_ckplus(const std::filesystem::path& root, const DatasetConfig&, const ProgressFn&) {
  throw Error("reading the image dataset '" + root.string() +
              "' needs OpenCV, and this build has none (configure with -DAULENS_OPENCV=ON)");
}
Dataset read_manifest(const std::filesystem::path& csv, const DatasetConfig&, const ProgressFn&) {
  throw Error("reading the manifest '" + csv.string() +
              "' needs OpenCV, and this build has none (configure with -DAULENS_OPENCV=ON)");
}
#endif

Dataset read_dataset(const std::filesystem::path& path, const DatasetConfig& cfg,
                     const ProgressFn& progress) {
  if (cfg.source == "manifest") return read_manifest(path, cfg, progress);
  if (cfg.source == "ckplus" || cfg.source == "synthetic") {
    Dataset data = read_ckplus(path, cfg, progress);
    data.source = cfg.source;
    return data;
  }
  throw Error("dataset.source must be synthetic, ckplus or manifest, got '" + cfg.source + "'");
}

std::string dataset_summary(const Dataset& data, const Split& split) {
  std::ostringstream out;
  const std::int64_t m = data.size();
  const std::int32_t* labels = data.labels.data<std::int32_t>();
  const std::int32_t* subjects = data.subject.data<std::int32_t>();
  std::set<std::int32_t> subject_set(subjects, subjects + m);
  std::set<std::pair<std::int32_t, std::int32_t>> sequences;
  for (std::int64_t i = 0; i < m; ++i)
    sequences.insert({subjects[i], data.sequence.data<std::int32_t>()[i]});
  out << "source: " << data.source << " (" << data.root << ")\n";
  out << "images: " << m << ", subjects: " << subject_set.size();
  if (data.source != "manifest")
    out << ", sequences: " << sequences.size() << " of " << data.counts.sequences << " ("
        << data.counts.sequences_with_emotion << " with an emotion)";
  out << "\n";
  out << "crops: " << data.crop_size << "x" << data.crop_size << " grey\n";
  std::vector<int> per_class(data.class_names.size(), 0);
  int unlabelled = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    if (labels[i] >= 0 && labels[i] < static_cast<int>(per_class.size()))
      ++per_class[labels[i]];
    else
      ++unlabelled;
  }
  out << "classes:";
  for (std::size_t c = 0; c < per_class.size(); ++c)
    out << " " << data.class_names[c] << " " << per_class[c];
  out << "; no expression label (AU analysis only): " << unlabelled << "\n";
  const std::int64_t a = static_cast<std::int64_t>(data.au_ids.size());
  out << "AUs (images carrying each):";
  for (std::int64_t j = 0; j < a; ++j) {
    int present = 0;
    for (std::int64_t i = 0; i < m; ++i) present += au_present(data.aus.data<float>()[i * a + j]);
    out << " AU" << data.au_ids[j] << " " << present;
  }
  out << "\n";
  if (data.counts.images_with_regions > 0)
    out << "images with AU regions: " << data.counts.images_with_regions << "\n";
  if (data.counts.frames_unused > 0)
    out << "frames left out by the frame rule (last_3): " << data.counts.frames_unused << "\n";
  if (data.counts.sequences_without_facs > 0)
    out << "sequences without a FACS file (frames carry no AU): "
        << data.counts.sequences_without_facs << "\n";
  std::map<std::string, int> skipped;
  for (const auto& issue : data.issues) ++skipped[issue.skipped];
  out << "skipped: " << data.issues.size() << " problem(s)";
  for (const auto& [what, count] : skipped) out << "; " << count << " " << what;
  out << "\n";
  constexpr std::size_t kShown = 20;
  for (std::size_t k = 0; k < data.issues.size() && k < kShown; ++k)
    out << "  " << data.issues[k].describe() << "\n";
  if (data.issues.size() > kShown)
    out << "  … and " << data.issues.size() - kShown << " more (see the cache metadata)\n";
  out << "split: " << split.protocol << ": train " << split.train.size() << ", test "
      << split.test.size();
  if (split.subject_overlapping)
    out << " — SUBJECT-OVERLAPPING (the same people are in train and test)";
  out << "\n";
  return out.str();
}

}  // namespace aulens
