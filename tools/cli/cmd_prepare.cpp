// `aulens prepare CONFIG`: reads the configured dataset (synthetic, CK+ or manifest), makes the
// configured split and writes <output>/dataset.safetensors atomically, then prints the summary.
// The work is prepare_stage (stages.h), shared with `aulens run`.
#include <memory>

#include "aulens/config.h"
#include "command.h"
#include "stages.h"

namespace {

struct PrepareArgs : aulens::cli::RunFolderArgs {
  std::string dataset;
};

const aulens::cli::CommandRegistrar kPrepare(aulens::cli::CommandPlace::prepare, [](CLI::App& app) {
  auto args = std::make_shared<PrepareArgs>();
  auto* cmd = app.add_subcommand(
      "prepare", "Read the dataset, crop faces, make the split, write dataset.safetensors");
  aulens::cli::add_run_folder_options(cmd, *args);
  cmd->add_option("--dataset", args->dataset,
                  "the CK+ folder or manifest CSV (overrides dataset.path)");
  cmd->callback([args] {
    aulens::LoadOptions options;
    options.dataset_path = args->dataset;
    options.device = args->device;
    options.output = args->output;
    aulens::cli::prepare_stage(aulens::cli::load_stage_config(args->config_file, options));
  });
});

}  // namespace
