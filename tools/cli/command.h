// Each `aulens <stage>` lives in its own tools/cli/cmd_<stage>.cpp and registers itself here with
// a static AULENS_COMMAND object; main.cpp builds the CLI11 app from the registry.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace aulens::cli {

// Adds a subcommand (with its options and callback) to `app`.
using CommandSetup = std::function<void(CLI::App& app)>;

std::vector<CommandSetup>& commands();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandSetup setup) { commands().push_back(std::move(setup)); }
};

}  // namespace aulens::cli
