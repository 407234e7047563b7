// Stage stamps for `aulens run` (tools/cli/cmd_run.cpp): <output>/.stamps/<stage>.json records a
// hash of everything a stage read (the config sections it uses, the stamps of the stages before
// it, the size and content hash of outside input files) and the outputs it wrote. A stage whose
// stamp holds the same input hash and whose outputs all exist is skipped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "aulens/config.h"

namespace aulens::cli {

// FNV-1a 64-bit, chainable: hash_bytes(text, hash_bytes(other)).
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0xcbf29ce484222325ull);
// The size and contents of a file (throws aulens::Error naming it when it cannot be read).
std::uint64_t hash_file(const std::filesystem::path& file, std::uint64_t seed);
// Every file under `root` (relative path, size, modification time), in sorted order: cheap
// enough for a CK+ tree of ten thousand images.
std::uint64_t hash_tree_listing(const std::filesystem::path& root, std::uint64_t seed);
// The named top-level sections of the resolved config ("dataset", "model", "dataset.synth", …)
// as YAML text.
std::string config_sections(const RunConfig& cfg, const std::vector<std::string>& sections);

struct Stamp {
  std::string stage;
  std::string inputs_hash;                     // 16 hex digits
  std::vector<std::filesystem::path> outputs;  // relative to the run folder
  // Outputs whose content is recorded too (hash_file, 16 hex digits): a stage whose output another
  // program may rewrite (the synthetic set's README.txt, which names its settings).
  std::vector<std::pair<std::filesystem::path, std::string>> output_hashes;
};

std::string hex(std::uint64_t value);
std::filesystem::path stamp_path(const std::filesystem::path& run_dir, const std::string& stage);
// The stamp of `stage`, or an empty Stamp (inputs_hash "") when there is none or it is unreadable.
Stamp read_stamp(const std::filesystem::path& run_dir, const std::string& stage);
void write_stamp(const std::filesystem::path& run_dir, const Stamp& stamp);
void remove_stamp(const std::filesystem::path& run_dir, const std::string& stage);
// The stages of `aulens run` in order: synth, prepare, train, visualize, sweep, report.
const std::vector<std::string>& stage_order();
// Removes the stamps of `stage` and of every stage after it: called when `stage` is about to
// write its outputs (in `aulens run` or alone), since what the later stages made from the old
// outputs is then out of date even when their inputs hash the same.
void remove_stamps_from(const std::filesystem::path& run_dir, const std::string& stage);
// True when the stamp of stage `stamp.stage` holds `stamp.inputs_hash`, every output exists,
// every output of `stamp.output_hashes` (hashes ignored here) has a recorded hash, and every
// recorded hash still matches the output's content.
bool stamp_current(const std::filesystem::path& run_dir, const Stamp& stamp);

}  // namespace aulens::cli
