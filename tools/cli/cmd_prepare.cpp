// `aulens prepare CONFIG`: reads the configured dataset (synthetic, CK+ or manifest), makes the
// configured split and writes <output>/dataset.safetensors atomically, then prints the summary.
#include <chrono>
#include <iostream>

#include "aulens/config.h"
#include "aulens/dataset.h"
#include "command.h"

namespace fs = std::filesystem;

namespace {

// Where the dataset lives: dataset.path, or for the synthetic set without a path
// <output>/synthetic.
fs::path dataset_path(const aulens::RunConfig& cfg) {
  if (!cfg.dataset.path.empty()) return cfg.dataset.path;
  if (cfg.dataset.source == "synthetic") return cfg.output / "synthetic";
  throw aulens::Error("dataset.path is empty: set it to the " +
                      std::string(cfg.dataset.source == "manifest" ? "manifest CSV" : "CK+ root folder"));
}

void run_prepare(const fs::path& config_file) {
  const aulens::RunConfig cfg = aulens::load_config(config_file);
  const fs::path path = dataset_path(cfg);
  std::error_code ec;
  if (cfg.dataset.source == "synthetic" && !fs::exists(path / "cohn-kanade-images", ec))
    throw aulens::Error("the synthetic dataset '" + path.string() + "' does not exist: run `aulens synth --out " +
                        path.string() + "` first");
  std::cout << "reading " << cfg.dataset.source << " dataset " << path << "\n" << std::flush;
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  const aulens::ProgressFn progress = [&](std::size_t done, std::size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (done == total || now - last_report > std::chrono::seconds(2)) {
      last_report = now;
      std::cout << "  " << done << "/" << total << " "
                << (cfg.dataset.source == "manifest" ? "rows" : "sequences") << " read\n" << std::flush;
    }
  };
  const aulens::Dataset data = aulens::read_dataset(path, cfg.dataset, progress);
  const aulens::Split split = aulens::make_split(data, cfg.dataset);
  const fs::path out = cfg.output / "dataset.safetensors";
  aulens::save_dataset_cache(out, data, split, aulens::config_to_yaml(cfg));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << aulens::dataset_summary(data, split);
  std::cout << "wrote " << out << " in " << seconds << " s\n";
}

const aulens::cli::CommandRegistrar kPrepare([](CLI::App& app) {
  auto* cmd = app.add_subcommand("prepare", "Read the dataset, crop faces, make the split, write dataset.safetensors");
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("config", *config_file, "the run configuration (YAML)")->required();
  cmd->callback([config_file] { run_prepare(*config_file); });
});

}  // namespace
