// The stage functions shared by `aulens <stage>` and `aulens run` (see stages.h).
#include "stages.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "aulens/check.h"
#include "aulens/dataset.h"
#include "aulens/device.h"
#include "aulens/report.h"
#include "aulens/trainer.h"
#include "command.h"
#include "stamps.h"
#ifdef AULENS_HAVE_OPENCV
#include "aulens/synth.h"
#endif

namespace fs = std::filesystem;

namespace aulens::cli {

namespace {

// Progress as whole lines ("  12/40 subjects made"), at most one every 2 s and always the last:
// readable on a terminal and in a log file alike.
ProgressFn progress_lines(const std::string& what) {
  auto last_line =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [what, last_line](std::size_t done, std::size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done != total && now - *last_line < std::chrono::seconds(2)) return;
    *last_line = now;
    std::cout << "  " << done << "/" << total << " " << what << "\n" << std::flush;
  };
}

}  // namespace

fs::path dataset_path(const RunConfig& cfg) {
  if (!cfg.dataset.path.empty()) return cfg.dataset.path;
  if (cfg.dataset.source == "synthetic") return cfg.output / "synthetic";
  throw Error("dataset.path is empty: set it to the " +
              std::string(cfg.dataset.source == "manifest" ? "manifest CSV" : "CK+ root folder"));
}

RunConfig load_stage_config(const std::string& file, const LoadOptions& options) {
  RunConfig cfg = load_config(file, options);
  if (cfg.file_sets_nothing) {
    std::cerr << "warning: " << file
              << " sets nothing: every setting is the built-in default (configs/default.yaml "
                 "shows them all)\n";
  }
  return cfg;
}

RunConfig load_run_folder_config(const RunFolderArgs& args) {
  LoadOptions options;
  options.device = args.device;
  options.output = args.output;
  options.dataset_path_needed = false;
  return load_stage_config(args.config_file, options);
}

std::string gpu_settings_note(const RunConfig& cfg) {
  std::string set;
  const auto add = [&](const std::string& item) { set += (set.empty() ? "" : ", ") + item; };
  if (cfg.train.conv_backend != "handwritten") add("train.conv_backend: " + cfg.train.conv_backend);
  if (cfg.train.fp32_conv != "ffma") add("train.fp32_conv: " + cfg.train.fp32_conv);
  if (cfg.train.tf32) add("train.tf32: true");
  if (set.empty()) return "";
  return "note: " + set + " applies on a GPU only; on the CPU every product is plain fp32\n";
}

void synth_stage(const SynthConfig& synth, const fs::path& out) {
#ifdef AULENS_HAVE_OPENCV
  const ProgressFn progress = progress_lines("subjects made");
  const auto summary = generate_synthetic(synth, out, [&](int done, int total) {
    progress(static_cast<std::size_t>(done), static_cast<std::size_t>(total));
  });
  std::cout << format_summary(summary);
#else
  (void)synth;
  (void)out;
  throw Error("aulens synth needs OpenCV; this build has none (AULENS_OPENCV=OFF?)");
#endif
}

namespace {

// The synthetic set at `path` must exist and be the one `synth` describes (its README.txt names
// the settings it was made with); else the error gives the command that makes it.
void check_synthetic_set(const fs::path& path, const SynthConfig& synth) {
  const std::string make =
      "aulens synth --out " + shell_word(path.string()) + " --subjects " +
      std::to_string(synth.subjects) + " --seed " + std::to_string(synth.seed) +
      " --sequences-per-subject " + std::to_string(synth.sequences_per_subject) + " --min-frames " +
      std::to_string(synth.min_frames) + " --max-frames " + std::to_string(synth.max_frames);
  std::error_code ec;
  if (!fs::exists(path / "cohn-kanade-images", ec))
    throw Error("the synthetic dataset '" + path.string() + "' does not exist: run `" + make +
                "` first");
#ifdef AULENS_HAVE_OPENCV
  std::ifstream in(path / "README.txt", std::ios::binary);
  const std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (readme != synthetic_readme(synth))
    throw Error("the synthetic dataset '" + path.string() +
                "' was made with other settings than the config's dataset.synth (or by another "
                "version; see its README.txt): run `" +
                make + "` to make it again");
#endif
}

}  // namespace

void prepare_stage(const RunConfig& cfg) {
  const fs::path path = dataset_path(cfg);
  if (cfg.dataset.source == "synthetic") check_synthetic_set(path, cfg.dataset.synth);
  std::cout << "reading " << cfg.dataset.source << " dataset " << path << "\n" << std::flush;
  const auto start = std::chrono::steady_clock::now();
  const Dataset data = read_dataset(
      path, cfg.dataset,
      progress_lines(cfg.dataset.source == "manifest" ? "rows read" : "sequences read"));
  const Split split = make_split(data, cfg.dataset);
  remove_stamps_from(cfg.output, "prepare");
  const fs::path out = cfg.output / "dataset.safetensors";
  save_dataset_cache(out, data, split, config_to_yaml(cfg));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << dataset_summary(data, split);
  std::cout << "wrote " << out << " in " << seconds << " s\n";
}

namespace {
// "time: T s, of which epochs E s, ..." for the end of `aulens train`.
std::string time_split(double seconds, const TrainReport& report) {
  char line[200];
  std::snprintf(line, sizeof line,
                "time: %.1f s, of which epochs %.1f s, checkpoints and metrics %.1f s, the rest "
                "(device and model set-up, resume) %.1f s\n",
                seconds, report.epoch_seconds, report.checkpoint_seconds,
                seconds - report.epoch_seconds - report.checkpoint_seconds);
  return line;
}
}  // namespace

void train_stage(const RunConfig& cfg, bool resume) {
  const fs::path cache = cfg.output / "dataset.safetensors";
  require_stage_output(cfg, cache, "prepare");
  const DatasetCache dataset = load_dataset_cache(cache, cfg);
  const Device device = resolve_device(cfg.train.device);
  std::cout << "training on " << device_name(device)
            << (device == Device::cuda ? std::string(" (") + device::describe() + ")"
                                       : std::string())
            << ": " << dataset.split.train.size() << " training images, "
            << dataset.split.test.size() << " held-out images, split " << dataset.split.protocol
            << (dataset.split.subject_overlapping ? " (SUBJECT-OVERLAPPING: test subjects are also "
                                                    "in training)"
                                                  : "")
            << "\n";
  if (device == Device::cpu) std::cout << gpu_settings_note(cfg);
  const fs::path last = cfg.output / "checkpoints" / "last.safetensors";
  if (resume && fs::exists(last)) {  // refuse before anything in the folder changes
    if (const std::string refusal = resume_refusal(last, cfg); !refusal.empty())
      throw Error(refusal + " (start afresh: without --resume, or in another output folder)");
  }
  remove_stamps_from(cfg.output, "train");
  TrainOptions options;
  options.out_dir = cfg.output;
  options.resume = resume;
  const auto start = std::chrono::steady_clock::now();
  const TrainReport report = train_network(cfg, dataset.data, dataset.split, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "stopped (" << report.stop_reason << ") after " << report.history.size()
            << " epochs; best held-out accuracy " << report.best_accuracy << " at epoch "
            << report.best_epoch << " (chance " << 1.0 / cfg.model.classes << ")\n"
            << time_split(seconds, report) << "wrote " << (cfg.output / "checkpoints").string()
            << "/{last,best}.safetensors and " << (cfg.output / "metrics.json").string() << "\n";
}

void report_stage(const RunConfig& cfg) {
  // `aulens run` redoes the report, unless the inputs are refused.
  const ReportResult result =
      write_report(cfg, cfg.output, [&cfg] { remove_stamps_from(cfg.output, "report"); });
  for (const std::string& note : result.notes) std::cout << "report: " << note << "\n";
  if (result.scored > 0) {
    char line[160];
    std::snprintf(line, sizeof(line),
                  "ground truth: %d of %d AUs hit (best map's projection energy > 50%% inside the "
                  "AU region), hit rate %.2f\n",
                  result.hits, result.scored, result.hit_rate);
    std::cout << line;
    std::snprintf(line, sizeof(line), "ground truth, best map by AUC instead: %d of %d AUs hit\n",
                  result.auc_hits, result.auc_scored);
    std::cout << line;
  }
  std::cout << "wrote " << result.index_html.string() << "\n";
}

void run_subcommand(const std::string& name, const std::vector<std::string>& args) {
  CLI::App app{"aulens"};
  app.require_subcommand(1);
  for (const auto& setup : commands()) setup(app);
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    known = known || sub->get_name() == name;
  AULENS_CHECK(known, "this build has no `aulens " + name + "` stage yet");
  std::vector<std::string> argv = {name};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());  // CLI11 takes them reversed
  app.parse(reversed);
}

}  // namespace aulens::cli
