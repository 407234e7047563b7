// The prepared face dataset (DESIGN §1.3, §2 "prepare"): face crops with expression labels, AU
// labels, subjects, landmarks and AU regions; the CK+ and manifest readers that build it; the
// train/test splits; the one-file safetensors cache; and the horizontal-flip geometry helpers.
//
// Labelling rules (CK+ and the synthetic set, which uses the CK+ layout):
// - The first frame of every sequence is neutral and carries no AU. Its label is the "neutral"
//   class when `neutral_class` is on, else kNoLabel.
// - The frames chosen by `frames` (all_but_first: frames 2..n; last_3: the last three) carry the
//   sequence's emotion (if it has one) and its FACS AUs. With last_3 the frames in between are
//   not used at all (counted in `frames_unused`): they show the AUs at an unknown, partial
//   intensity, so they are neither AU-positive nor honest AU-negatives.
// - A sequence without an emotion (empty or missing Emotion folder) keeps its frames: they carry
//   their AUs with label kNoLabel. Images with label kNoLabel are excluded from the classifier's
//   splits (make_split) but stay in the dataset for the AU analysis.
// - AU intensity: `aus` holds the intensity, 0 = absent; an AU is present iff its value is > 0.
//   CK+ writes intensity 0 for "present, intensity not coded"; such an AU is stored as present
//   with the sentinel kAuIntensityNotCoded (a tiny positive value no real intensity takes: CK+
//   codes 1–5, OpenFace-style manifests 0–5 with two decimals). Use au_present() for presence and
//   au_intensity_known() before averaging intensities.
//
// Class indices: the paper's seven expressions in CK+ code order, index = code − 1: anger,
// contempt, disgust, fear, happy, sadness, surprise; with `neutral_class` "neutral" is appended as
// index 7 (CK+ code 0), so the seven keep their indices either way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "aulens/check.h"
#include "aulens/config.h"
#include "aulens/tensor.h"

namespace aulens {

constexpr std::int32_t kNoLabel = -1;
constexpr int kLandmarkCount = 68;
constexpr float kAuIntensityNotCoded = 1.0e-3f;
constexpr float kNoRegion = -1.0f;

inline bool au_present(float intensity) {
  return intensity > 0.0f;
}
inline bool au_intensity_known(float intensity) {
  return intensity > 0.0f && intensity != kAuIntensityNotCoded;
}

// One input problem: the file, the 1-based line (0 = the file as a whole), what was wrong and
// what was left out because of it.
struct DatasetIssue {
  std::string file;
  int line = 0;
  std::string problem;
  std::string skipped;           // "image", "sequence", "row", "regions"
  std::string describe() const;  // "file:line: problem (skipped: …)"
  // The error dataset.strict makes of it: "bad dataset input (strict): file:line: problem".
  Error strict_error() const;
};

// Counts of what a read saw, for the summary and the cache metadata.
struct ReadCounts {
  int sequences = 0;  // sequence folders found (CK+)
  int sequences_with_emotion = 0;
  int sequences_without_facs = 0;  // no FACS file: their frames carry no AU
  int frames_found = 0;            // image files (CK+) or rows (manifest)
  int frames_unused = 0;           // left out by the `frames` rule (last_3)
  int images_with_regions = 0;
};

struct Dataset {
  std::string source;                    // "ckplus", "synthetic" or "manifest"
  std::string root;                      // CK+ root folder or manifest CSV
  int crop_size = 0;                     // S
  std::vector<std::string> class_names;  // label index → name
  std::vector<std::int32_t> au_ids;      // AU numbers, sorted; column j of aus is AU au_ids[j]
  Tensor crops;                          // (M, S, S) u8 grey face crops
  Tensor labels;                         // (M) i32 class index or kNoLabel
  Tensor aus;         // (M, A) f32 intensity, 0 = absent (see kAuIntensityNotCoded)
  Tensor subject;     // (M) i32 index into subject_names
  Tensor sequence;    // (M) i32 CK+ sequence number (the NNN folder); −1 for manifests
  Tensor frame;       // (M) i32 CK+ frame number (from the file name); −1 for manifests
  Tensor landmarks;   // (M, 68, 2) f32 (x, y) in crop pixel coordinates; NaN when not given
  Tensor au_regions;  // (M, A, 4) f32 (x0, y0, x1, y1) in crop pixel-edge coordinates (pixel j
                      // spans [j, j+1); x0, y0 inclusive, x1, y1 exclusive), clipped to
                      // [0, S]; kNoRegion if absent (the synthetic set records regions only for
                      // visibly active AUs, so an AU can be present without a region)
  std::vector<std::string> source_paths;   // (M) image path relative to root
  std::vector<std::string> subject_names;  // e.g. "S005"
  std::vector<DatasetIssue> issues;        // everything skipped, in read order
  ReadCounts counts;

  std::int64_t size() const { return labels.defined() && labels.rank() == 1 ? labels.dim(0) : 0; }
};

// Train/test image indices into a Dataset (sorted ascending, only images with a label ≥ 0).
struct Split {
  std::vector<std::int32_t> train, test;
  std::string protocol;              // "subject_kfold 3/10 seed 1" or "random_200 seed 1"
  bool subject_overlapping = false;  // true for random_200: say so wherever its results appear
};

// Called now and then during a read with (items done, items total).
using ProgressFn = std::function<void(std::size_t done, std::size_t total)>;

// The class names for a configuration (seven, or eight with neutral_class).
std::vector<std::string> class_names_for(const DatasetConfig& cfg);

// Reads a CK+ tree (cohn-kanade-images/, Landmarks/, FACS/, Emotion/, optional Regions/) or a
// manifest CSV. Bad items are recorded in Dataset::issues and skipped, or with cfg.strict the
// first one throws aulens::Error. No usable image → aulens::Error. Needs OpenCV; without it these
// throw saying so. Sequences are read in parallel; the result order is deterministic (subjects,
// sequences and frames in sorted order; manifest rows in file order).
Dataset read_ckplus(const std::filesystem::path& root, const DatasetConfig& cfg,
                    const ProgressFn& progress = {});
Dataset read_manifest(const std::filesystem::path& csv, const DatasetConfig& cfg,
                      const ProgressFn& progress = {});
// Dispatches on cfg.source (synthetic and ckplus → read_ckplus, manifest → read_manifest).
Dataset read_dataset(const std::filesystem::path& path, const DatasetConfig& cfg,
                     const ProgressFn& progress = {});

// Subject-independent k-fold: the subjects that have labelled images are shuffled with `seed`
// and dealt round-robin into `folds` folds; fold `fold` is the test split.
Split make_subject_kfold(const Dataset& data, int folds, int fold, std::uint64_t seed);
// The paper's protocol: `test_images` labelled images drawn at random (seeded) from the pool;
// subject_overlapping = true.
Split make_random_split(const Dataset& data, int test_images, std::uint64_t seed);
// cfg.split: "subject_kfold" or "random_200".
Split make_split(const Dataset& data, const DatasetConfig& cfg);

// The cache: one safetensors file with the tensors above plus split_train / split_test, and in
// __metadata__ the source, class names, AU ids, source paths, subject names (JSON arrays), the
// issues, the counts, the split protocol and the configuration echo (`config_yaml`).
void save_dataset_cache(const std::filesystem::path& path, const Dataset& data, const Split& split,
                        const std::string& config_yaml);
struct DatasetCache {
  Dataset data;
  Split split;
  std::string config_yaml;
};
DatasetCache load_dataset_cache(const std::filesystem::path& path);
// The same, for a stage run with `cfg`: the cache must have been prepared with the config's dataset
// settings, else aulens::Error names the file and the first setting that differs (the cache is
// stale: `aulens prepare` makes it again).
DatasetCache load_dataset_cache(const std::filesystem::path& path, const RunConfig& cfg);

// A human-readable summary (images, subjects, sequences, per-class and per-AU counts, skipped
// items and why, split sizes and protocol), one item per line.
std::string dataset_summary(const Dataset& data, const Split& split);

// Horizontal flip of crop geometry by the augmentation rule u → S − 1 − u (aulens/augment.h).
// flip_landmarks also swaps the iBUG left/right points (jaw 0↔16, brows 17↔26, eyes 36↔45,
// nose wings 31↔35, mouth 48↔54, …) so point k still names the same facial part.
// landmarks: (68, 2) f32 (x, y), flipped in place.
void flip_landmarks(float* landmarks, int crop_size);
// The iBUG mirror partner of each of the 68 points.
int ibug_mirror_index(int point);
// box: (x0, y0, x1, y1) with exclusive x1, y1 (see Dataset::au_regions), flipped in place:
// x0' = S − x1, x1' = S − x0, which is u → S − 1 − u on the pixels it covers. kNoRegion boxes stay
// as they are.
void flip_box(float* box, int crop_size);

}  // namespace aulens
