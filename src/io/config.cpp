// The YAML run configuration (see aulens/config.h): a table of known keys per section, each bound
// to a field of RunConfig with its type and allowed range. Unknown keys, duplicate keys, wrong
// types and out-of-range values throw aulens::Error "FILE:LINE: message"; cross-key rules (fold <
// folds, crop_size ≥ input_size, …) are checked once everything is read.
//
// Paths (`output`, `dataset.path`, `visualize.checkpoint`) are kept as written: a relative path is
// relative to the current working directory of the aulens process, NOT to the directory of the
// config file. So `aulens run configs/default.yaml` from the repository root writes to
// ./runs/default.
#include "aulens/config.h"

#include <yaml-cpp/yaml.h>

#include "aulens/check.h"
#include "aulens/device.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace aulens {
namespace {

// How a node looks, for "got …" in messages.
std::string describe(const YAML::Node& node) {
  if (node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "'" + node.Scalar() + "'";
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : separator) + item;
  return s;
}

// Shortest text that reads back as exactly the same float.
std::string format_float(float value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string s(buffer, end);
  // Give the mantissa a dot ("2" → "2.0", "1e-06" → "1.0e-06") so that YAML 1.1 readers
  // (PyYAML) also see a float.
  if (s.find('.') == std::string::npos) {
    const std::size_t exponent = s.find('e');
    s.insert(exponent == std::string::npos ? s.size() : exponent, ".0");
  }
  return s;
}

// A closed or half-open interval for float keys.
struct FloatRange {
  double lo = -std::numeric_limits<double>::infinity();
  bool lo_open = false;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_open = false;

  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string text() const {
    auto number = [](double x) {
      std::ostringstream s;
      s << x;
      return s.str();
    };
    if (std::isinf(hi)) return std::string(lo_open ? "> " : ">= ") + number(lo);
    return std::string(lo_open ? "(" : "[") + number(lo) + ", " + number(hi) +
           (hi_open ? ")" : "]");
  }
};

class ConfigReader {
 public:
  using Read = std::function<void(const YAML::Node& value, const std::string& key, int line)>;
  struct Field {
    std::string name;
    Read read;
  };

  explicit ConfigReader(std::string file) : file_(std::move(file)) {}

  // line ≤ 0: the message has no line (a rule about keys that are all defaults).
  [[noreturn]] void fail(int line, const std::string& what) const {
    const bool from_cpu = cpu_applied_ && line > 0 && cpu_lines_.count(line) > 0;
    throw Error(file_ + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what +
                (from_cpu ? " (set in the cpu: section, which applies on the CPU)" : ""));
  }
  // The line of `key` in the file, or 0 when it kept its default; with the `cpu:` section
  // applied, where that section sets the key.
  int line_of(const std::string& key) const {
    auto it = cpu_applied_ ? lines_.find("cpu." + key) : lines_.end();
    if (it == lines_.end()) it = lines_.find(key);
    return it == lines_.end() ? 0 : it->second;
  }
  void cpu_section_applied() { cpu_applied_ = true; }

  // Reads the mapping `node` whose keys are `fields`; `prefix` is its dotted name ("" on top).
  void read_section(const YAML::Node& node, const std::string& prefix, int line,
                    const std::vector<Field>& fields) {
    if (node.IsNull()) return;  // an empty section keeps every default
    if (!node.IsMap()) {
      fail(line, (prefix.empty() ? std::string("the file") : "'" + prefix + "'") +
                     " must be a mapping of keys, got " + describe(node));
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const int key_line = it->first.Mark().line + 1;
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : describe(it->first);
      const std::string dotted = prefix.empty() ? key : prefix + "." + key;
      auto field =
          std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == key; });
      if (field == fields.end()) {
        std::vector<std::string> known;
        for (const Field& f : fields) known.push_back(f.name);
        fail(key_line, "unknown key '" + dotted + "' (known: " + join(known) + ")");
      }
      if (!seen.insert(key).second) fail(key_line, "duplicate key '" + dotted + "'");
      lines_[dotted] = key_line;
      if (dotted.rfind("cpu.", 0) == 0) cpu_lines_.insert(key_line);
      field->read(it->second, dotted, key_line);
    }
  }

  Field section(const std::string& name, std::vector<Field> fields) {
    return {name,
            [this, fields = std::move(fields)](const YAML::Node& v, const std::string& key,
                                               int line) { read_section(v, key, line, fields); }};
  }

  Field int_field(const std::string& name, int& dst, int lo = std::numeric_limits<int>::min(),
                  int hi = std::numeric_limits<int>::max()) {
    return {name, [this, &dst, lo, hi](const YAML::Node& v, const std::string& key, int line) {
              const std::string text = scalar(v, key, line, "an integer");
              long long value = 0;
              if (!parse_whole(text, value) || value < std::numeric_limits<int>::min() ||
                  value > std::numeric_limits<int>::max()) {
                fail(line, "'" + key + "' must be an integer, got '" + text + "'");
              }
              if (value < lo || value > hi) {
                fail(line,
                     "'" + key + "' must be " +
                         (hi == std::numeric_limits<int>::max()
                              ? ">= " + std::to_string(lo)
                              : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]") +
                         ", got " + text);
              }
              dst = static_cast<int>(value);
            }};
  }

  Field u64_field(const std::string& name, std::uint64_t& dst) {
    return {name, [this, &dst](const YAML::Node& v, const std::string& key, int line) {
              const std::string text = scalar(v, key, line, "a non-negative integer");
              if (!parse_whole(text, dst)) {
                fail(line, "'" + key + "' must be a non-negative integer, got '" + text + "'");
              }
            }};
  }

  Field float_field(const std::string& name, float& dst, FloatRange range = {}) {
    return {name, [this, &dst, range](const YAML::Node& v, const std::string& key, int line) {
              const std::string text = scalar(v, key, line, "a number");
              float value = 0;
              if (!parse_whole(text, value) || !std::isfinite(value)) {
                fail(line, "'" + key + "' must be a number, got '" + text + "'");
              }
              if (!range.contains(value)) {
                fail(line, "'" + key + "' must be " + range.text() + ", got " + text);
              }
              dst = value;
            }};
  }

  Field bool_field(const std::string& name, bool& dst) {
    return {name, [this, &dst](const YAML::Node& v, const std::string& key, int line) {
              std::string text = scalar(v, key, line, "true or false");
              std::string lower = text;
              for (char& c : lower)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
              if (lower == "true" || lower == "yes" || lower == "on") {
                dst = true;
              } else if (lower == "false" || lower == "no" || lower == "off") {
                dst = false;
              } else {
                fail(line, "'" + key + "' must be true or false, got '" + text + "'");
              }
            }};
  }

  // A string from `allowed` (any string when `allowed` is empty).
  Field string_field(const std::string& name, std::string& dst,
                     std::vector<std::string> allowed = {}) {
    return {name, [this, &dst, allowed = std::move(allowed)](const YAML::Node& v,
                                                             const std::string& key, int line) {
              std::string text = v.IsNull() ? "" : scalar(v, key, line, "a string");
              if (!allowed.empty() &&
                  std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
                fail(line, "'" + key + "' must be one of " + join(allowed, " | ") + ", got '" +
                               text + "'");
              }
              dst = std::move(text);
            }};
  }

  Field path_field(const std::string& name, std::filesystem::path& dst) {
    return {name, [this, &dst](const YAML::Node& v, const std::string& key, int line) {
              dst = v.IsNull() ? std::string() : scalar(v, key, line, "a path");
            }};
  }

 private:
  std::string scalar(const YAML::Node& v, const std::string& key, int line,
                     const std::string& expected) const {
    if (!v.IsScalar()) fail(line, "'" + key + "' must be " + expected + ", got " + describe(v));
    return v.Scalar();
  }

  template <class T>
  static bool parse_whole(const std::string& text, T& value) {
    const char* first = text.data();
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(first, last, value);
    return ec == std::errc() && end == last && !text.empty();
  }

  std::string file_;
  std::map<std::string, int> lines_;  // dotted key → 1-based line where it was set
  bool cpu_applied_ = false;
  std::set<int> cpu_lines_;  // lines of keys inside the cpu: section
};

const FloatRange kNonNegative{0.0, false};
const FloatRange kPositive{0.0, true};
const FloatRange kUnitHalfOpen{0.0, false, 1.0, true};  // [0, 1)

// Rules that involve more than one key; reported at the line of the key most likely at fault.
void check_cross_key_rules(const ConfigReader& reader, const RunConfig& cfg,
                           bool dataset_path_needed) {
  auto line = [&](const char* preferred, const char* other) {
    int l = reader.line_of(preferred);
    return l > 0 ? l : reader.line_of(other);
  };
  if (cfg.model.input_size % 8 != 0) {
    reader.fail(reader.line_of("model.input_size"),
                "'model.input_size' must be divisible by 8 (three 2×2 poolings), got " +
                    std::to_string(cfg.model.input_size));
  }
  if (cfg.train.augment.input_size != cfg.model.input_size) {
    reader.fail(line("train.augment.input_size", "model.input_size"),
                "'train.augment.input_size' (" + std::to_string(cfg.train.augment.input_size) +
                    ") must equal 'model.input_size' (" + std::to_string(cfg.model.input_size) +
                    ")");
  }
  if (cfg.dataset.crop_size < cfg.model.input_size) {
    reader.fail(line("dataset.crop_size", "model.input_size"),
                "'dataset.crop_size' (" + std::to_string(cfg.dataset.crop_size) +
                    ") must be >= 'model.input_size' (" + std::to_string(cfg.model.input_size) +
                    ")");
  }
  if (cfg.dataset.fold >= cfg.dataset.folds) {
    reader.fail(line("dataset.fold", "dataset.folds"),
                "'dataset.fold' must be in [0, dataset.folds - 1] = [0, " +
                    std::to_string(cfg.dataset.folds - 1) + "], got " +
                    std::to_string(cfg.dataset.fold));
  }
  if (cfg.dataset.synth.max_frames < cfg.dataset.synth.min_frames) {
    reader.fail(line("dataset.synth.max_frames", "dataset.synth.min_frames"),
                "'dataset.synth.max_frames' (" + std::to_string(cfg.dataset.synth.max_frames) +
                    ") must be >= 'dataset.synth.min_frames' (" +
                    std::to_string(cfg.dataset.synth.min_frames) + ")");
  }
  if (dataset_path_needed && cfg.dataset.source != "synthetic" && cfg.dataset.path.empty()) {
    reader.fail(reader.line_of("dataset.source"),
                "'dataset.path' must be set when 'dataset.source' is " + cfg.dataset.source +
                    " (or given on the command line with --dataset PATH)");
  }
  const int classes = cfg.dataset.neutral_class ? 8 : 7;
  if (cfg.model.classes != classes) {
    reader.fail(line("model.classes", "dataset.neutral_class"),
                "'model.classes' must be " + std::to_string(classes) + " (the seven CK+ emotions" +
                    (cfg.dataset.neutral_class ? " and neutral" : "") + "), got " +
                    std::to_string(cfg.model.classes));
  }
  for (const auto& [key, value] :
       {std::pair<const char*, int>{"visualize.top_n", cfg.visualize.top_n},
        {"sweep.top_n", cfg.sweep.top_n}}) {
    if (value > 32) {
      reader.fail(reader.line_of(key), "'" + std::string(key) +
                                           "' must be at most 32 (the kernels' limit), got " +
                                           std::to_string(value));
    }
  }
  if (cfg.output.empty()) reader.fail(reader.line_of("output"), "'output' must not be empty");
}

}  // namespace

RunConfig load_config(const std::filesystem::path& path, const LoadOptions& options) {
  const std::string file = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error(file + ": is a folder; expected a YAML config file such as configs/default.yaml");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(file + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();

  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw Error(file + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }

  RunConfig cfg;
  cfg.source_file = path;
  cfg.file_sets_nothing = root.IsNull() || (root.IsMap() && root.size() == 0);
  ConfigReader r(file);
  // The key table, bound to the fields of `c`: the top level and the `cpu:` section share it.
  auto fields_for = [&r](RunConfig& c) -> std::vector<ConfigReader::Field> {
    DatasetConfig& d = c.dataset;
    NetConfig& m = c.model;
    TrainConfig& t = c.train;
    return {
        r.path_field("output", c.output),
        r.section("dataset",
                  {
                      r.string_field("source", d.source, {"synthetic", "ckplus", "manifest"}),
                      r.path_field("path", d.path),
                      r.section("synth",
                                {
                                    r.int_field("subjects", d.synth.subjects, 1),
                                    r.u64_field("seed", d.synth.seed),
                                    r.int_field("sequences_per_subject",
                                                d.synth.sequences_per_subject, 1),
                                    r.int_field("min_frames", d.synth.min_frames, 2),
                                    r.int_field("max_frames", d.synth.max_frames, 2),
                                }),
                      r.string_field("frames", d.frames, {"all_but_first", "last_3"}),
                      r.bool_field("neutral_class", d.neutral_class),
                      r.float_field("crop_margin", d.crop_margin, {0.0, false, 2.0, false}),
                      r.int_field("crop_size", d.crop_size, 8),
                      r.bool_field("strict", d.strict),
                      r.string_field("split", d.split, {"subject_kfold", "random_200"}),
                      r.int_field("folds", d.folds, 2),
                      r.int_field("fold", d.fold, 0),
                      r.int_field("test_images", d.test_images, 1),
                      r.u64_field("split_seed", d.split_seed),
                  }),
        r.section("model",
                  {
                      r.int_field("input_size", m.input_size, 8),
                      r.int_field("conv1", m.conv1, 1),
                      r.int_field("conv2", m.conv2, 1),
                      r.int_field("conv3", m.conv3, 1),
                      r.int_field("fc", m.fc, 1),
                      r.int_field("classes", m.classes, 2),
                      r.float_field("dropout", m.dropout, kUnitHalfOpen),
                  }),
        r.section("train",
                  {
                      r.string_field("device", t.device, {"cuda", "cpu", "auto"}),
                      r.string_field("conv_backend", t.conv_backend, {"handwritten", "cudnn"}),
                      r.string_field("fp32_conv", t.fp32_conv, {"ffma", "3xtf32", "fastest"}),
                      r.bool_field("tf32", t.tf32),
                      r.int_field("batch", t.batch, 1),
                      r.int_field("max_epochs", t.max_epochs, 1),
                      r.int_field("patience", t.patience, 1),
                      r.section("sgd",
                                {
                                    r.float_field("lr", t.sgd.lr, kPositive),
                                    r.float_field("momentum", t.sgd.momentum, kUnitHalfOpen),
                                    r.float_field("weight_decay", t.sgd.weight_decay, kNonNegative),
                                }),
                      r.string_field("init", t.init, {"he_normal", "unit_gaussian"}),
                      r.u64_field("seed", t.seed),
                      r.section("augment",
                                {
                                    r.float_field("max_rotation_deg", t.augment.max_rotation_deg,
                                                  {0.0, false, 180.0, false}),
                                    r.bool_field("flip", t.augment.flip),
                                    r.int_field("input_size", t.augment.input_size, 8),
                                }),
                  }),
        r.section("visualize",
                  {
                      r.string_field("images", c.visualize.images, {"train", "test", "all"}),
                      r.int_field("top_n", c.visualize.top_n, 1),
                      r.bool_field("conv1_conv2_records", c.visualize.conv1_conv2_records),
                      r.path_field("checkpoint", c.visualize.checkpoint),
                  }),
        r.section("sweep",
                  {
                      r.int_field("top_n", c.sweep.top_n, 1),
                      r.int_field("min_images", c.sweep.min_images, 1),
                      r.float_field("epsilon", c.sweep.epsilon, kPositive),
                      r.int_field("permutations", c.sweep.permutations, 0),
                      r.u64_field("seed", c.sweep.seed),
                  }),
    };
  };
  // `cpu:` holds overrides in the same layout as the top level; it is always checked (unknown
  // keys are errors) but applied only when the resolved device is the CPU.
  YAML::Node cpu_node;
  int cpu_line = 0;  // 0: no `cpu:` key
  std::vector<ConfigReader::Field> top = fields_for(cfg);
  top.push_back({"cpu", [&](const YAML::Node& v, const std::string&, int line) {
                   cpu_node = v;
                   cpu_line = line;
                 }});
  r.read_section(root, "", 1, top);
  if (!options.device.empty()) cfg.train.device = options.device;
  if (!options.dataset_path.empty()) cfg.dataset.path = options.dataset_path;
  if (cpu_line > 0) {
    RunConfig with_cpu = cfg;
    r.read_section(cpu_node, "cpu", cpu_line, fields_for(with_cpu));
    cfg.has_cpu_overrides = true;
    const bool on_cpu =
        cfg.train.device == "cpu" || (cfg.train.device == "auto" && !device::available());
    if (options.apply_cpu_overrides && on_cpu) {
      with_cpu.train.device = cfg.train.device;
      if (!options.dataset_path.empty()) with_cpu.dataset.path = options.dataset_path;
      with_cpu.has_cpu_overrides = true;
      with_cpu.cpu_overrides_applied = true;
      cfg = with_cpu;
      r.cpu_section_applied();
    }
  }
  if (!options.output.empty()) cfg.output = options.output;
  check_cross_key_rules(r, cfg, options.dataset_path_needed);
  return cfg;
}

std::string config_to_yaml(const RunConfig& cfg) {
  YAML::Emitter out;
  auto key = [&](const char* name) -> YAML::Emitter& {
    return out << YAML::Key << name << YAML::Value;
  };
  auto text = [&](const char* name, const std::string& value) {
    key(name) << YAML::DoubleQuoted << value;
  };
  auto number = [&](const char* name, float value) { key(name) << format_float(value); };
  auto begin = [&](const char* name) { key(name) << YAML::BeginMap; };
  auto end = [&] { out << YAML::EndMap; };
  const DatasetConfig& d = cfg.dataset;
  const NetConfig& m = cfg.model;
  const TrainConfig& t = cfg.train;

  out << YAML::BeginMap;
  text("output", cfg.output.string());
  begin("dataset");
  text("source", d.source);
  text("path", d.path.string());
  begin("synth");
  key("subjects") << d.synth.subjects;
  key("seed") << d.synth.seed;
  key("sequences_per_subject") << d.synth.sequences_per_subject;
  key("min_frames") << d.synth.min_frames;
  key("max_frames") << d.synth.max_frames;
  end();
  text("frames", d.frames);
  key("neutral_class") << d.neutral_class;
  number("crop_margin", d.crop_margin);
  key("crop_size") << d.crop_size;
  key("strict") << d.strict;
  text("split", d.split);
  key("folds") << d.folds;
  key("fold") << d.fold;
  key("test_images") << d.test_images;
  key("split_seed") << d.split_seed;
  end();
  begin("model");
  key("input_size") << m.input_size;
  key("conv1") << m.conv1;
  key("conv2") << m.conv2;
  key("conv3") << m.conv3;
  key("fc") << m.fc;
  key("classes") << m.classes;
  number("dropout", m.dropout);
  end();
  begin("train");
  text("device", t.device);
  text("conv_backend", t.conv_backend);
  text("fp32_conv", t.fp32_conv);
  key("tf32") << t.tf32;
  key("batch") << t.batch;
  key("max_epochs") << t.max_epochs;
  key("patience") << t.patience;
  begin("sgd");
  number("lr", t.sgd.lr);
  number("momentum", t.sgd.momentum);
  number("weight_decay", t.sgd.weight_decay);
  end();
  text("init", t.init);
  key("seed") << t.seed;
  begin("augment");
  number("max_rotation_deg", t.augment.max_rotation_deg);
  key("flip") << t.augment.flip;
  key("input_size") << t.augment.input_size;
  end();
  end();
  begin("visualize");
  text("images", cfg.visualize.images);
  key("top_n") << cfg.visualize.top_n;
  key("conv1_conv2_records") << cfg.visualize.conv1_conv2_records;
  // Only when set: an unset key leaves the section as older aulens wrote it, so that the stamps of
  // existing run folders (which hash it) stay current.
  if (!cfg.visualize.checkpoint.empty()) text("checkpoint", cfg.visualize.checkpoint.string());
  end();
  begin("sweep");
  key("top_n") << cfg.sweep.top_n;
  key("min_images") << cfg.sweep.min_images;
  number("epsilon", cfg.sweep.epsilon);
  key("permutations") << cfg.sweep.permutations;
  key("seed") << cfg.sweep.seed;
  end();
  out << YAML::EndMap;
  AULENS_CHECK(out.good(),
               std::string("config_to_yaml: YAML emitter failed: ") + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> config_setting_lines(const std::string& yaml, const std::string& section,
                                              const std::string& origin) {
  std::vector<std::string> lines;
  std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& node,
                                                                        const std::string& key) {
    if (node.IsMap()) {
      for (const auto& entry : node) walk(entry.second, key + "." + entry.first.Scalar());
    } else {
      lines.push_back(key + ": " + (node.IsScalar() ? node.Scalar() : YAML::Dump(node)));
    }
  };
  try {
    walk(YAML::Load(yaml)[section], section);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": the configuration it records is not readable YAML (" + e.what() + ")");
  }
  return lines;
}

bool dataset_setting_applies(const std::string& key, const DatasetConfig& d) {
  // A prepare that succeeded read the same images whether or not it would have stopped at a bad
  // one.
  if (key == "dataset.path" || key == "dataset.strict") return false;
  if (key.rfind("dataset.synth.", 0) == 0) return d.source == "synthetic";
  if (key == "dataset.test_images") return d.split == "random_200";
  if (key == "dataset.folds" || key == "dataset.fold") return d.split == "subject_kfold";
  return true;
}

std::vector<std::string> dataset_setting_lines(const std::string& yaml, const DatasetConfig& d,
                                               const std::string& origin) {
  std::vector<std::string> lines;
  for (std::string& line : config_setting_lines(yaml, "dataset", origin)) {
    if (dataset_setting_applies(line.substr(0, line.find(':')), d))
      lines.push_back(std::move(line));
  }
  return lines;
}

std::string first_setting_difference(const std::vector<std::string>& made_with,
                                     const std::vector<std::string>& now) {
  for (std::size_t i = 0; i < std::max(made_with.size(), now.size()); ++i) {
    const std::string was = i < made_with.size() ? made_with[i] : "(no more settings)";
    const std::string is = i < now.size() ? now[i] : "(no more settings)";
    if (was != is) return was + ", but the config has " + is;
  }
  return "";
}

std::string shell_word(const std::string& text) {
  const bool safe = !text.empty() && text[0] != '=' &&
                    text.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789_-./=:@%+,") == std::string::npos;
  if (safe) return text;
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string stage_command(const RunConfig& cfg, const std::string& stage) {
  std::string command = "aulens " + stage + " " +
                        (cfg.source_file.empty() ? "CONFIG" : shell_word(cfg.source_file.string()));
  command += " --output " + shell_word(cfg.output.string());
  if (stage == "prepare" && !cfg.dataset.path.empty())
    command += " --dataset " + shell_word(cfg.dataset.path.string());
  else if (stage == "prepare" && cfg.dataset.source != "synthetic")
    command += " --dataset PATH";  // the CK+ folder or manifest CSV, which the config leaves out
  return command + " --device " + shell_word(cfg.train.device);
}

void require_stage_output(const RunConfig& cfg, const std::filesystem::path& file,
                          const std::string& stage) {
  AULENS_REQUIRE(std::filesystem::exists(file),
                 file.string() + " does not exist: run `" + stage_command(cfg, stage) + "` first");
}

}  // namespace aulens
