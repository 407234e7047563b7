// `aulens synth --out DIR`: writes the synthetic CK+-layout dataset (DESIGN §4), printing progress
// (subjects made, a line every 2 s) and a summary (counts per emotion and per AU, seconds). The
// work is synth_stage (stages.h), shared with `aulens run`.
#include <memory>

#include "aulens/config.h"
#include "command.h"
#include "stages.h"

namespace {
const aulens::cli::CommandRegistrar kSynth(aulens::cli::CommandPlace::synth, [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "synth", "Write a synthetic dataset of drawn faces with known Action Units, in CK+ layout");
  auto cfg = std::make_shared<aulens::SynthConfig>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("--out", *out, "Output folder (replaced if it holds an earlier synthetic set)")
      ->required();
  cmd->add_option("--subjects", cfg->subjects, "Number of subjects")->capture_default_str();
  cmd->add_option("--seed", cfg->seed, "Random seed (same seed, same bytes)")
      ->check(CLI::Validator(
          [](std::string& value) {
            return value.rfind('-', 0) == 0 ? "must not be negative, got " + value : std::string();
          },
          "NONNEGATIVE"))
      ->capture_default_str();
  cmd->add_option("--sequences-per-subject", cfg->sequences_per_subject, "Sequences per subject")
      ->capture_default_str();
  cmd->add_option("--min-frames", cfg->min_frames, "Fewest frames per sequence")
      ->capture_default_str();
  cmd->add_option("--max-frames", cfg->max_frames, "Most frames per sequence")
      ->capture_default_str();
  cmd->callback([cfg, out] { aulens::cli::synth_stage(*cfg, *out); });
});
}  // namespace
