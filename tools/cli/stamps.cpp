// Stage stamps (see stamps.h).
#include "stamps.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aulens/atomic_file.h"
#include "aulens/check.h"

namespace fs = std::filesystem;

namespace aulens::cli {

std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::uint64_t hash_file(const fs::path& file, std::uint64_t seed) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot read it to hash a stage's inputs");
  std::uint64_t h = hash_bytes(file.filename().string(), seed);
  std::string buffer(1 << 20, '\0');
  std::uint64_t size = 0;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    h = hash_bytes(std::string_view(buffer.data(), got), h);
    size += got;
  }
  return hash_bytes(std::to_string(size), h);
}

std::uint64_t hash_tree_listing(const fs::path& root, std::uint64_t seed) {
  std::vector<std::string> lines;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const auto time = entry.last_write_time().time_since_epoch().count();
    lines.push_back(fs::relative(entry.path(), root).generic_string() + " " +
                    std::to_string(entry.file_size()) + " " + std::to_string(time));
  }
  std::sort(lines.begin(), lines.end());
  std::uint64_t h = seed;
  for (const std::string& line : lines) h = hash_bytes(line + "\n", h);
  return h;
}

std::string config_sections(const RunConfig& cfg, const std::vector<std::string>& sections) {
  const YAML::Node root = YAML::Load(config_to_yaml(cfg));
  std::string text;
  for (const std::string& dotted : sections) {
    YAML::Node node = YAML::Clone(root);
    std::size_t begin = 0;
    while (begin <= dotted.size()) {
      const std::size_t end = std::min(dotted.find('.', begin), dotted.size());
      node = node[dotted.substr(begin, end - begin)];
      begin = end + 1;
    }
    text += dotted + ":\n" + YAML::Dump(node) + "\n";
  }
  return text;
}

std::string hex(std::uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

fs::path stamp_path(const fs::path& run_dir, const std::string& stage) {
  return run_dir / ".stamps" / (stage + ".json");
}

Stamp read_stamp(const fs::path& run_dir, const std::string& stage) {
  Stamp stamp;
  stamp.stage = stage;
  std::ifstream in(stamp_path(run_dir, stage));
  if (!in) return stamp;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    stamp.inputs_hash = j.at("inputs_hash").get<std::string>();
    for (const auto& output : j.at("outputs"))
      stamp.outputs.emplace_back(output.get<std::string>());
    if (j.contains("output_hashes")) {
      for (const auto& [output, hash] : j.at("output_hashes").items())
        stamp.output_hashes.emplace_back(output, hash.get<std::string>());
    }
  } catch (const std::exception&) {
    stamp.inputs_hash.clear();  // unreadable: the stage reruns
  }
  return stamp;
}

void write_stamp(const fs::path& run_dir, const Stamp& stamp) {
  nlohmann::json j;
  j["stage"] = stamp.stage;
  j["inputs_hash"] = stamp.inputs_hash;
  j["outputs"] = nlohmann::json::array();
  for (const fs::path& output : stamp.outputs) j["outputs"].push_back(output.generic_string());
  if (!stamp.output_hashes.empty()) {
    j["output_hashes"] = nlohmann::json::object();
    for (const auto& [output, hash] : stamp.output_hashes)
      j["output_hashes"][output.generic_string()] = hash;
  }
  fs::create_directories(run_dir / ".stamps");
  write_file_atomically(stamp_path(run_dir, stamp.stage), j.dump(1) + "\n");
}

void remove_stamp(const fs::path& run_dir, const std::string& stage) {
  std::error_code ec;
  fs::remove(stamp_path(run_dir, stage), ec);
}

const std::vector<std::string>& stage_order() {
  static const std::vector<std::string> order = {"synth",     "prepare", "train",
                                                 "visualize", "sweep",   "report"};
  return order;
}

void remove_stamps_from(const fs::path& run_dir, const std::string& stage) {
  const auto& order = stage_order();
  const auto first = std::find(order.begin(), order.end(), stage);
  AULENS_CHECK(first != order.end(), "no stage named " + stage);
  for (auto it = first; it != order.end(); ++it) remove_stamp(run_dir, *it);
}

bool stamp_current(const fs::path& run_dir, const Stamp& stamp) {
  const Stamp old = read_stamp(run_dir, stamp.stage);
  if (old.inputs_hash.empty() || old.inputs_hash != stamp.inputs_hash) return false;
  std::error_code ec;
  for (const fs::path& output : stamp.outputs) {
    const fs::path full = output.is_absolute() ? output : run_dir / output;
    if (!fs::exists(full, ec)) return false;
  }
  for (const auto& [output, unused] : stamp.output_hashes) {  // recorded by the old stamp too?
    const auto recorded = std::find_if(old.output_hashes.begin(), old.output_hashes.end(),
                                       [&](const auto& entry) { return entry.first == output; });
    if (recorded == old.output_hashes.end()) return false;
  }
  for (const auto& [output, hash] : old.output_hashes) {
    const fs::path full = output.is_absolute() ? output : run_dir / output;
    if (!fs::exists(full, ec) || hex(hash_file(full, 0)) != hash) return false;
  }
  return true;
}

}  // namespace aulens::cli
