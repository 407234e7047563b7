// `aulens train CONFIG`: trains the network on <output>/dataset.safetensors (from `aulens prepare`)
// and writes <output>/checkpoints/{last,best}.safetensors, metrics.json and train_config.yaml.
// The work is train_stage (stages.h), shared with `aulens run`.
#include "aulens/config.h"
#include "command.h"
#include "stages.h"

namespace {

struct TrainArgs : aulens::cli::RunFolderArgs {
  int max_epochs = -1;
  bool resume = false;
};

const aulens::cli::CommandRegistrar kTrain(aulens::cli::CommandPlace::train, [](CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand(
      "train", "Train the network on <output>/dataset.safetensors (see `aulens prepare`)");
  aulens::cli::add_run_folder_options(cmd, *args);
  cmd->add_option("--max-epochs", args->max_epochs, "overrides train.max_epochs")
      ->check(CLI::Range(1, 1000000));
  cmd->add_flag("--resume", args->resume,
                "continue from <output>/checkpoints/last.safetensors when it exists");
  cmd->callback([args] {
    aulens::RunConfig cfg = aulens::cli::load_run_folder_config(*args);
    if (args->max_epochs > 0) cfg.train.max_epochs = args->max_epochs;
    if (!cfg.visualize.checkpoint.empty())
      std::cout << "note: visualize.checkpoint is set, so `aulens visualize` and `aulens run` "
                   "analyse "
                << cfg.visualize.checkpoint.string() << ", not the model this training writes\n";
    aulens::cli::train_stage(cfg, args->resume);
  });
});

}  // namespace
