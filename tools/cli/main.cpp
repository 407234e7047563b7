// The aulens command line: `aulens <stage> ...`; stages register themselves (command.h).
#include <exception>
#include <iostream>
#include <string>

#include "aulens/check.h"
#include "command.h"

namespace aulens::cli {
std::vector<CommandSetup>& commands() {
  static std::vector<CommandSetup> list;
  return list;
}
}  // namespace aulens::cli

int main(int argc, char** argv) {
  CLI::App app{
      "aulens: which conv3 feature maps of an expression CNN became detectors of which facial "
      "Action Units"};
  app.set_version_flag("--version", std::string("aulens ") + AULENS_VERSION);
  app.require_subcommand(1);
  for (const auto& setup : aulens::cli::commands()) setup(app);
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
