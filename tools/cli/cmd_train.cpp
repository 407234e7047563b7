// `aulens train CONFIG`: trains the network on <output>/dataset.safetensors (from `aulens prepare`)
// and writes <output>/checkpoints/{last,best}.safetensors, metrics.json and train_config.yaml.
#include <iostream>

#include "aulens/config.h"
#include "aulens/dataset.h"
#include "aulens/device.h"
#include "aulens/trainer.h"
#include "command.h"

namespace fs = std::filesystem;

namespace {

struct TrainArgs {
  std::string config_file;
  std::string device;
  std::string output;
  int max_epochs = -1;
  bool resume = false;
};

void run_train(const TrainArgs& args) {
  aulens::RunConfig cfg = aulens::load_config(args.config_file);
  if (!args.device.empty()) cfg.train.device = args.device;
  if (!args.output.empty()) cfg.output = args.output;
  if (args.max_epochs > 0) cfg.train.max_epochs = args.max_epochs;
  const fs::path cache = cfg.output / "dataset.safetensors";
  if (!fs::exists(cache)) {
    throw aulens::Error(cache.string() + " does not exist: run `aulens prepare " + args.config_file +
                        "` first");
  }
  const aulens::DatasetCache dataset = aulens::load_dataset_cache(cache);
  const aulens::Device device = aulens::resolve_device(cfg.train.device);
  std::cout << "training on " << aulens::device_name(device)
            << (device == aulens::Device::cuda ? std::string(" (") + aulens::device::describe() + ")"
                                               : std::string())
            << ": " << dataset.split.train.size() << " training images, "
            << dataset.split.test.size() << " held-out images, split " << dataset.split.protocol
            << (dataset.split.subject_overlapping ? " (SUBJECT-OVERLAPPING: test subjects are also "
                                                    "in training)"
                                                  : "")
            << "\n";
  aulens::TrainOptions options;
  options.out_dir = cfg.output;
  options.resume = args.resume;
  const aulens::TrainReport report =
      aulens::train_network(cfg, dataset.data, dataset.split, options);
  std::cout << "stopped (" << report.stop_reason << ") after " << report.history.size()
            << " epochs; best held-out accuracy " << report.best_accuracy << " at epoch "
            << report.best_epoch << " (chance " << 1.0 / cfg.model.classes << ")\n"
            << "wrote " << (cfg.output / "checkpoints").string() << "/{last,best}.safetensors and "
            << (cfg.output / "metrics.json").string() << "\n";
}

const aulens::cli::CommandRegistrar kTrain([](CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand(
      "train", "Train the network on <output>/dataset.safetensors (see `aulens prepare`)");
  cmd->add_option("config", args->config_file, "the run configuration (YAML)")->required();
  cmd->add_option("--device", args->device, "cuda, cpu or auto (overrides train.device)")
      ->check(CLI::IsMember({"cuda", "cpu", "auto"}));
  cmd->add_option("--output", args->output, "run folder (overrides output)");
  cmd->add_option("--max-epochs", args->max_epochs, "overrides train.max_epochs");
  cmd->add_flag("--resume", args->resume,
                "continue from <output>/checkpoints/last.safetensors when it exists");
  cmd->callback([args] { run_train(*args); });
});

}  // namespace
