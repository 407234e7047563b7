// `aulens report CONFIG`: the browsable report of a run folder (<output>/report/index.html) from
// what the stages before it wrote, and the ground-truth columns of best_maps.csv. The work is
// report_stage (stages.h), shared with `aulens run`.
#include <memory>

#include "command.h"
#include "stages.h"

namespace {

const aulens::cli::CommandRegistrar kReport(aulens::cli::CommandPlace::report, [](CLI::App& app) {
  auto args = std::make_shared<aulens::cli::RunFolderArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write <output>/report/index.html from what the stages before it wrote (a missing part is "
      "named in the report)");
  aulens::cli::add_run_folder_options(cmd, *args);
  cmd->callback([args] { aulens::cli::report_stage(aulens::cli::load_run_folder_config(*args)); });
});

}  // namespace
