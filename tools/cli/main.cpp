// The aulens command line: `aulens <stage> ...`; stages register themselves (command.h).
#include <exception>
#include <iostream>
#include <map>
#include <string>

#ifdef AULENS_HAVE_OPENCV
#include <opencv2/core/utils/logger.hpp>
#endif

#include "aulens/check.h"
#include "command.h"

namespace aulens::cli {
namespace {
std::map<CommandPlace, CommandSetup>& registry() {
  static std::map<CommandPlace, CommandSetup> setups;
  return setups;
}
}  // namespace

CommandRegistrar::CommandRegistrar(CommandPlace place, CommandSetup setup) {
  registry().emplace(place, std::move(setup));
}

std::vector<CommandSetup> commands() {
  std::vector<CommandSetup> list;
  for (const auto& [place, setup] : registry()) list.push_back(setup);
  return list;
}
}  // namespace aulens::cli

int main(int argc, char** argv) {
  CLI::App app{
      "aulens: which conv3 feature maps of an expression CNN became detectors of which facial "
      "Action Units"};
  app.set_version_flag("--version", std::string("aulens ") + AULENS_VERSION);
  app.require_subcommand(1);
#ifdef AULENS_HAVE_OPENCV
  // The dataset readers report every image they cannot read, with file and line; OpenCV's own
  // warnings about the same images would only come first and out of order.
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
#endif
  for (const auto& setup : aulens::cli::commands()) setup(app);
  // CLI11 would answer a misspelt command with "A subcommand is required"; name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* command : app.get_subcommands({})) {
      known = known || command->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command->get_name();
    }
    if (!known) {
      std::cerr << "aulens: error: unknown command '" << argv[1] << "' (commands: " << names
                << "; aulens --help says what each does)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "aulens: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
