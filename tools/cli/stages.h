// The stages of DESIGN §2 as functions of a resolved run configuration, shared by the one-stage
// commands (`aulens prepare`, `aulens train`, …; tools/cli/cmd_<stage>.cpp) and `aulens run`
// (tools/cli/cmd_run.cpp), so both do exactly the same work.
#pragma once

#include <filesystem>
#include <string>

#include "aulens/config.h"

namespace aulens::cli {

// Where the dataset lives: dataset.path, or for the synthetic set without a path
// <output>/synthetic.
std::filesystem::path dataset_path(const RunConfig& cfg);

// load_config for a command: also warns on stderr when the file sets nothing (every value is the
// built-in default), which is more often a wrong or truncated file than the intent.
RunConfig load_stage_config(const std::string& file, const LoadOptions& options = {});

// The arguments every stage but synth takes: the config file, --device and --output.
struct RunFolderArgs {
  std::string config_file;
  std::string device;  // empty: the config's train.device
  std::string output;  // empty: the config's output
};
// The resolved config a stage after prepare runs with (it needs no dataset path: it reads
// <output>/dataset.safetensors).
RunConfig load_run_folder_config(const RunFolderArgs& args);

// "" when the config sets nothing that only a GPU run uses (conv backend, conv math, TF32), else
// one line saying those settings do not apply on the CPU.
std::string gpu_settings_note(const RunConfig& cfg);

// synth: writes the synthetic CK+-layout dataset described by `synth` to `out`.
void synth_stage(const SynthConfig& synth, const std::filesystem::path& out);
// prepare: reads the dataset, makes the split, writes <output>/dataset.safetensors.
void prepare_stage(const RunConfig& cfg);
// train: <output>/checkpoints/{last,best}.safetensors, metrics.json (resume: continue from last).
void train_stage(const RunConfig& cfg, bool resume);
// report: <output>/report/index.html and the ground-truth columns of best_maps.csv.
void report_stage(const RunConfig& cfg);

// Runs the registered subcommand `name` in this process with `args` (as `aulens name args…`):
// how `aulens run` calls a stage that has no shared function yet.
void run_subcommand(const std::string& name, const std::vector<std::string>& args);

}  // namespace aulens::cli
