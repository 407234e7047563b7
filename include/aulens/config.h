// The run configuration (YAML). Every key has a default; an unknown key, a wrong type or an
// out-of-range value is an error naming the file, the line and the key. Sections mirror the
// stages of DESIGN §2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aulens/net.h"

namespace aulens {

struct SynthConfig {
  int subjects = 40;
  std::uint64_t seed = 1;
  int sequences_per_subject = 8;  // expression prototypes and AU-only sequences per subject
  int min_frames = 8;             // frames per sequence, neutral → apex
  int max_frames = 16;
};

struct DatasetConfig {
  std::string source = "synthetic";  // synthetic | ckplus | manifest
  std::filesystem::path path;        // CK+ root or manifest CSV (synthetic: where it is written)
  SynthConfig synth;
  std::string frames =
      "all_but_first";         // which frames carry emotion and AUs: all_but_first | last_3
  bool neutral_class = false;  // add neutral (code 0) as an eighth class
  float crop_margin = 0.1f;    // fraction of the landmark box added on each side
  int crop_size = 99;          // face crops are crop_size × crop_size grey
  bool strict = false;         // first bad item is fatal instead of skipped
  std::string split = "subject_kfold";  // subject_kfold | random_200 (subject-overlapping)
  int folds = 10;
  int fold = 0;           // which fold is the test split
  int test_images = 200;  // random_200
  std::uint64_t split_seed = 1;
};

struct AugmentConfig {
  float max_rotation_deg = 15.0f;
  bool flip = true;
  int input_size = 96;  // random crop size from crop_size (centre crop for evaluation)
};

struct TrainConfig {
  std::string device = "auto";               // cuda | cpu | auto
  std::string conv_backend = "handwritten";  // handwritten | cudnn
  // How the hand-written convolutions reach fp32 accuracy when tf32 is false: ffma (FFMA on the
  // CUDA cores) | 3xtf32 (error-compensated TF32 tensor cores) | fastest (whichever of the two,
  // and which tile shape, times faster per layer on first use). See aulens/cuda_math.h.
  std::string fp32_conv = "ffma";
  bool tf32 = false;
  int batch = 64;
  int max_epochs = 50;
  int patience = 5;
  SgdConfig sgd;
  std::string init = "he_normal";  // he_normal | unit_gaussian (the paper's literal setting)
  std::uint64_t seed = 1;
  AugmentConfig augment;
};

struct VisualizeConfig {
  std::string images = "all";  // train | test | all
  int top_n = 9;
  bool conv1_conv2_records = false;
  // A model trained elsewhere to analyse (README "A model trained elsewhere"); empty: the run's
  // own checkpoints/best.safetensors. When set, `aulens run` skips training. Relative to the
  // working directory, like the other paths.
  std::filesystem::path checkpoint;
};

struct SweepConfig {
  int top_n = 9;
  int min_images = 10;
  float epsilon = 1e-6f;
  int permutations = 1000;
  std::uint64_t seed = 1;
};

struct RunConfig {
  std::filesystem::path source_file;  // the YAML it was read from (empty for defaults)
  std::filesystem::path output = "runs/default";
  DatasetConfig dataset;
  NetConfig model;
  TrainConfig train;
  VisualizeConfig visualize;
  SweepConfig sweep;
  bool has_cpu_overrides = false;      // the file has a `cpu:` section
  bool cpu_overrides_applied = false;  // ... and it was applied (the resolved device is the CPU)
  bool file_sets_nothing = false;      // the file is empty or comments only: all defaults
};

struct LoadOptions {
  std::string device;                  // overrides train.device when not empty (cuda | cpu | auto)
  bool apply_cpu_overrides = true;     // apply `cpu:` when the resolved device is the CPU
  std::filesystem::path dataset_path;  // overrides dataset.path when not empty
  std::filesystem::path output;        // overrides output (also a cpu: section's) when not empty
  // False for the stages that read the prepared dataset cache, not the dataset itself (train,
  // visualize, sweep): a CK+ or manifest config need not name its dataset there.
  bool dataset_path_needed = true;
};

// Reads `path`; throws aulens::Error naming the file, line and key on any problem.
//
// The optional top-level `cpu:` section repeats any keys of the other sections (not `cpu` itself)
// with the values to use when the run's device resolves to the CPU (train.device cpu, or auto
// without a usable GPU): a narrower network, fewer subjects, fewer epochs, fewer permutations, so
// that the same config file runs the paper-sized job on a GPU and a small job on a laptop. Its
// keys are checked like any others even when it is not applied. The returned config is resolved:
// config_to_yaml() writes it without a `cpu:` section.
RunConfig load_config(const std::filesystem::path& path, const LoadOptions& options = {});
// The resolved configuration (every key, defaults included) as YAML, for saving beside outputs.
std::string config_to_yaml(const RunConfig& cfg);

// `text` as one shell word: unchanged when it holds only characters no shell treats specially
// (and does not start with '=', which zsh expands), else single-quoted.
std::string shell_word(const std::string& text);

// The shell command that runs `aulens <stage>` on this config's file, run folder and device (and,
// for prepare, the dataset path when one is set): what an error names as the step to run first.
std::string stage_command(const RunConfig& cfg, const std::string& stage);
// Throws aulens::Error "<file> does not exist: run `<stage_command(cfg, stage)>` first" unless
// `file` (an output of `stage`) exists.
void require_stage_output(const RunConfig& cfg, const std::filesystem::path& file,
                          const std::string& stage);

// The settings under `section` ("dataset", "train", …) of config YAML written by config_to_yaml,
// as "dotted.key: value" lines in the file's order: how an output records what it was made with,
// to be compared with the config at hand. YAML that does not parse throws aulens::Error naming
// `origin` (the file that recorded it).
std::vector<std::string> config_setting_lines(const std::string& yaml, const std::string& section,
                                              const std::string& origin);
// Whether a "dataset.…" key decides which images a dataset cache holds and how they are split,
// for a dataset configured as `d`: not dataset.path (the same data may be reached by another
// spelling of the path), nor dataset.strict (a prepare that succeeded read the same images either
// way), dataset.synth.* only for the synthetic source, dataset.test_images only
// for the random_200 split, dataset.folds and dataset.fold only for subject_kfold.
bool dataset_setting_applies(const std::string& key, const DatasetConfig& d);
// config_setting_lines(yaml, "dataset") without the keys that do not apply to `d`.
std::vector<std::string> dataset_setting_lines(const std::string& yaml, const DatasetConfig& d,
                                               const std::string& origin);
// "" when `made_with` and `now` (config_setting_lines) are equal, else the first difference as
// "<line made with>, but the config has <line now>".
std::string first_setting_difference(const std::vector<std::string>& made_with,
                                     const std::vector<std::string>& now);

}  // namespace aulens
