// `aulens prepare CONFIG`: reads the configured dataset (synthetic, CK+ or manifest), makes the
// configured split and writes <output>/dataset.safetensors atomically, then prints the summary.
// The work is prepare_stage (stages.h), shared with `aulens run`.
#include "aulens/config.h"
#include "command.h"
#include "stages.h"

namespace {

const aulens::cli::CommandRegistrar kPrepare([](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "prepare", "Read the dataset, crop faces, make the split, write dataset.safetensors");
  auto config_file = std::make_shared<std::string>();
  auto dataset = std::make_shared<std::string>();
  auto device = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("config", *config_file, "the run configuration (YAML)")->required();
  cmd->add_option("--output", *output, "run folder (overrides output)");
  cmd->add_option("--dataset", *dataset, "the CK+ folder or manifest CSV (overrides dataset.path)");
  aulens::cli::add_device_option(cmd, *device);
  cmd->callback([config_file, dataset, device, output] {
    aulens::LoadOptions options;
    options.dataset_path = *dataset;
    options.device = *device;
    aulens::RunConfig cfg = aulens::cli::load_stage_config(*config_file, options);
    if (!output->empty()) cfg.output = *output;
    aulens::cli::prepare_stage(cfg);
  });
});

}  // namespace
