// Each `aulens <stage>` lives in its own tools/cli/cmd_<stage>.cpp and registers itself here with
// a static AULENS_COMMAND object; main.cpp builds the CLI11 app from the registry.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "stages.h"

namespace aulens::cli {

// Adds a subcommand (with its options and callback) to `app`.
using CommandSetup = std::function<void(CLI::App& app)>;

// Where `aulens --help` lists each command: the whole run, then the stages in their order.
enum class CommandPlace { run, synth, prepare, train, visualize, sweep, report, info };

// The registered commands in CommandPlace order.
std::vector<CommandSetup> commands();

struct CommandRegistrar {
  CommandRegistrar(CommandPlace place, CommandSetup setup);
};

// The --device option of every stage, with one help text.
inline CLI::Option* add_device_option(CLI::App* cmd, std::string& device) {
  return cmd
      ->add_option("--device", device,
                   "cuda, cpu or auto (overrides train.device). When it resolves to the CPU the "
                   "config's cpu: section applies, which may change dataset, model, train, "
                   "visualize and sweep settings, so give every stage of one run folder the same --device")
      ->check(CLI::IsMember({"cuda", "cpu", "auto"}));
}

// The config positional, --device and --output of a stage that works in a run folder.
inline void add_run_folder_options(CLI::App* cmd, RunFolderArgs& args) {
  cmd->add_option("config", args.config_file, "the run configuration (YAML)")->required();
  add_device_option(cmd, args.device);
  cmd->add_option("--output", args.output, "run folder (overrides output)");
}

}  // namespace aulens::cli
