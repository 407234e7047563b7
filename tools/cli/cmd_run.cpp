// `aulens run CONFIG [--force] [--device D] [--dataset PATH]`: every stage of DESIGN §2 into the
// config's output folder: synth (synthetic source only), prepare, train, visualize, sweep, report.
// A stage whose stamp (stamps.h) matches its inputs and whose outputs exist is skipped, unless a
// stage before it ran; --force reruns all. A killed run resumes: finished stages are skipped and
// training continues from its last checkpoint when the interrupted training had the same inputs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>

#include "aulens/atomic_file.h"
#include "aulens/check.h"
#include "aulens/checkpoint.h"
#include "aulens/config.h"
#include "aulens/csv.h"
#include "aulens/synth.h"
#include "aulens/trainer.h"
#include "command.h"
#include "stages.h"
#include "stamps.h"

namespace fs = std::filesystem;

namespace aulens::cli {
namespace {

struct RunArgs : RunFolderArgs {
  std::string dataset;
  bool force = false;
};

struct StageSpec {
  std::string name;
  std::vector<std::string> config_sections;  // what it reads from the config
  std::vector<std::string> upstream;         // stages whose stamps it depends on
  std::vector<fs::path> outputs;             // relative to the run folder (or absolute)
  std::function<void(bool resume)> run;
  std::vector<fs::path> content_checked = {};  // outputs whose content the stamp records
  std::string not_needed = {};                 // why this run skips the stage (empty: it is needed)
};

// The hash of a stage's inputs: its config sections, the upstream stamps, extra (outside files).
std::string inputs_hash(const RunConfig& cfg, const fs::path& run_dir, const StageSpec& stage,
                        std::uint64_t extra) {
  std::uint64_t h = hash_bytes(stage.name + "\n" + config_sections(cfg, stage.config_sections));
  for (const std::string& up : stage.upstream) {
    const Stamp stamp = read_stamp(run_dir, up);
    AULENS_REQUIRE(!stamp.inputs_hash.empty(), "stage " + stage.name + " needs stage " + up +
                                                   " to have finished (no " +
                                                   stamp_path(run_dir, up).string() + ")");
    h = hash_bytes(up + " " + stamp.inputs_hash + "\n", h);
  }
  return hex(hash_bytes(std::to_string(extra), h));
}

// The manifest CSV's content and, for each file its `path` column names, the size and time of
// the file (so an image replaced under the same name is read again).
std::uint64_t manifest_hash(const fs::path& csv) {
  std::uint64_t h = hash_file(csv, 1);
  const auto rows = read_csv_file(csv);
  if (rows.empty()) return h;
  std::size_t column = rows[0].size();
  for (std::size_t i = 0; i < rows[0].size(); ++i) {
    std::string name = rows[0][i];
    name.erase(0, name.find_first_not_of(" \t\xEF\xBB\xBF"));
    name.erase(name.find_last_not_of(" \t\r") + 1);
    if (name == "path") column = i;
  }
  for (std::size_t r = 1; r < rows.size(); ++r) {
    if (column >= rows[r].size()) continue;  // the reader reports such rows
    const fs::path image = csv.parent_path() / rows[r][column];
    std::error_code ec;
    const auto size = fs::file_size(image, ec);
    const auto time = fs::last_write_time(image, ec).time_since_epoch().count();
    h = hash_bytes(rows[r][column] + " " + std::to_string(ec ? -1 : static_cast<long long>(size)) +
                       " " + std::to_string(ec ? 0 : time) + "\n",
                   h);
  }
  return h;
}

// What outside the run folder the dataset stage reads: the CK+ tree, the manifest CSV and the
// images it lists.
fs::path existing_dataset(const RunConfig& cfg) {
  const fs::path path = dataset_path(cfg);
  AULENS_REQUIRE(fs::exists(path), "dataset " + path.string() + " does not exist");
  return path;
}

std::uint64_t external_input_hash(const RunConfig& cfg) {
  if (cfg.dataset.source == "synthetic") return 0;
  const fs::path path = existing_dataset(cfg);
  return fs::is_directory(path) ? hash_tree_listing(path, 1) : manifest_hash(path);
}

void run_all(const RunArgs& args) {
  LoadOptions options;
  options.device = args.device;
  options.dataset_path = args.dataset;
  options.output = args.output;
  const RunConfig cfg = load_stage_config(args.config_file, options);
  const fs::path run_dir = cfg.output;
  // A dataset, or a model to analyse, that is not there is refused before anything is written
  // into the run folder.
  if (cfg.dataset.source != "synthetic") existing_dataset(cfg);
  const fs::path& given_model = cfg.visualize.checkpoint;
  AULENS_REQUIRE(
      given_model.empty() || fs::is_regular_file(given_model),
      "visualize.checkpoint " + given_model.string() + " does not exist or is not a file");
  if (!given_model.empty()) {  // nor a file that is not a model of the config's widths
    try {
      load_checkpoint(given_model, cfg.model, Device::cpu);
    } catch (const Error& e) {
      throw Error(std::string("visualize.checkpoint: ") + e.what() +
                  (cfg.cpu_overrides_applied
                       ? " (the config's cpu: section applied, and it may set the model widths)"
                       : ""));
    }
  }
  fs::create_directories(run_dir);
  // The resolved config (cpu overrides applied, device and dataset path filled in): what every
  // stage of this run reads, also the ones run as subcommands.
  const fs::path resolved = run_dir / "config.yaml";
  write_file_atomically(resolved, config_to_yaml(cfg));
  std::cout << "aulens run: " << args.config_file << " → " << run_dir.string() << " (device "
            << cfg.train.device
            << (cfg.cpu_overrides_applied ? ", CPU-sized: the config's cpu: section applied" : "")
            << ")\n";

  const fs::path data_dir = dataset_path(cfg);
  std::vector<StageSpec> stages;
  if (cfg.dataset.source == "synthetic") {
    // The set may be shared by runs or rewritten by `aulens synth`: its README.txt, which names
    // the settings it was made with, must still be the one this stage wrote.
    const fs::path readme = fs::absolute(data_dir / "README.txt");
    stages.push_back({"synth",
                      {"dataset.synth", "dataset.path"},
                      {},
                      {readme},
                      [&](bool) { synth_stage(cfg.dataset.synth, data_dir); },
                      {readme}});
  }
  stages.push_back({"prepare",
                    {"dataset"},
                    cfg.dataset.source == "synthetic" ? std::vector<std::string>{"synth"}
                                                      : std::vector<std::string>{},
                    {"dataset.safetensors"},
                    [&](bool) { prepare_stage(cfg); }});
  // With visualize.checkpoint the model comes from elsewhere: no training, and visualize depends
  // on that file (its size and content) instead of the train stage.
  const bool trained_here = given_model.empty();
  stages.push_back(
      {"train",
       {"model", "train"},
       {"prepare"},
       {"checkpoints/best.safetensors", "checkpoints/last.safetensors", "metrics.json"},
       [&](bool resume) { train_stage(cfg, resume); },
       {},
       trained_here ? "" : "visualize.checkpoint names the model to analyse"});
  stages.push_back({"visualize",
                    {"model", "visualize"},
                    {trained_here ? "train" : "prepare"},
                    {"records.safetensors", "topk.csv", "projections.safetensors"},
                    [&](bool) { run_subcommand("visualize", {resolved.string()}); }});
  stages.push_back({"sweep",
                    {"sweep"},
                    {"prepare", "visualize"},
                    {"sweep.csv", "best_maps.csv", "sweep.safetensors"},
                    [&](bool) { run_subcommand("sweep", {resolved.string()}); }});
  stages.push_back(
      {"report",
       trained_here ? std::vector<std::string>{"dataset", "model", "train", "visualize", "sweep"}
                    : std::vector<std::string>{"dataset", "model", "visualize", "sweep"},
       trained_here ? std::vector<std::string>{"prepare", "train", "visualize", "sweep"}
                    : std::vector<std::string>{"prepare", "visualize", "sweep"},
       {"report/index.html"},
       [&](bool) { report_stage(cfg); }});

  // The stages run in stage_order() (stamps.h), which decides whose stamps a rerun clears.
  std::vector<std::string> names;
  for (const StageSpec& stage : stages) names.push_back(stage.name);
  const auto& order = stage_order();
  AULENS_CHECK(std::equal(names.begin(), names.end(), order.end() - names.size()),
               "aulens run's stages are not stage_order()'s");
  const auto run_start = std::chrono::steady_clock::now();
  for (const StageSpec& stage : stages) {
    if (!stage.not_needed.empty()) {
      std::cout << "== " << stage.name << ": not needed, " << stage.not_needed << "\n"
                << std::flush;
      continue;
    }
    std::uint64_t extra = stage.name == "prepare" ? external_input_hash(cfg) : 0;
    // A new generator version draws other bytes from the same settings: the set is made again.
    if (stage.name == "synth") extra = kSynthVersion;
    if (stage.name == "visualize" && !trained_here) extra = hash_file(given_model, 2);
    Stamp stamp{stage.name, inputs_hash(cfg, run_dir, stage, extra), stage.outputs, {}};
    for (const fs::path& output : stage.content_checked)
      stamp.output_hashes.emplace_back(output, "");
    if (!args.force && stamp_current(run_dir, stamp)) {
      std::cout << "== " << stage.name << ": up to date, skipped\n" << std::flush;
      continue;
    }
    // Training that was interrupted continues from its last checkpoint when the data is the same
    // (the `.started` stamp holds the prepare stamp it trained on) and the checkpoint can be
    // resumed with this config (trainer.h: resume_refusal; e.g. max_epochs may have changed).
    // Else it starts afresh, and the interrupted run's checkpoints are dropped: they belong to no
    // config asked for, and checkpoints/previous/ keeps the run before it.
    const std::string started = stage.name + ".started";
    const std::string data_key = read_stamp(run_dir, "prepare").inputs_hash;
    std::string afresh;
    bool resume = false;
    if (stage.name == "train" && !args.force) {
      const std::string interrupted = read_stamp(run_dir, started).inputs_hash;
      const fs::path last = run_dir / "checkpoints" / "last.safetensors";
      if (!interrupted.empty()) {
        afresh = interrupted != data_key ? "the data changed since it was interrupted"
                                         : resume_refusal(last, cfg);
        resume = afresh.empty();
        if (!resume) {
          fs::remove(last);
          fs::remove(run_dir / "checkpoints" / "best.safetensors");
        }
      }
    }
    std::cout << "== " << stage.name
              << (resume           ? " (resuming)"
                  : afresh.empty() ? ""
                                   : " (starting afresh: " + afresh + ")")
              << "\n"
              << std::flush;
    const auto start = std::chrono::steady_clock::now();
    // This stage's outputs are about to change, so what the later stages made from the earlier
    // ones is out of date even when their inputs hash the same (a rewritten synthetic set, a run
    // killed during --force): they run again.
    remove_stamps_from(run_dir, stage.name);
    write_stamp(run_dir, Stamp{started, data_key, {}});
    stage.run(resume);
    for (auto& [output, hash] : stamp.output_hashes) hash = hex(hash_file(output, 0));
    write_stamp(run_dir, stamp);
    remove_stamp(run_dir, started);
    char line[128];
    std::snprintf(line, sizeof(line), "== %s: done in %.1f s\n", stage.name.c_str(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::cout << line << std::flush;
  }
  char line[128];
  std::snprintf(line, sizeof(line), "aulens run: finished in %.1f s; open %s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count(),
                (run_dir / "report" / "index.html").string().c_str());
  std::cout << line;
}

const CommandRegistrar kRun(CommandPlace::run, [](CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand(
      "run", "Run every stage (synth, prepare, train, visualize, sweep, report) of a config");
  add_run_folder_options(cmd, *args);
  cmd->add_option("--dataset", args->dataset,
                  "the CK+ folder or manifest CSV (overrides dataset.path)");
  cmd->add_flag("--force", args->force, "rerun every stage, even those that are up to date");
  cmd->footer(
      "Writes into the config's output folder (or --output) and skips each stage whose inputs have "
      "not changed "
      "since it last ran there. When visualize.checkpoint names a model trained elsewhere, "
      "training is not needed and is skipped.");
  cmd->callback([args] { run_all(*args); });
});

}  // namespace
}  // namespace aulens::cli
