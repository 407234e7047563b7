// Training checkpoints as safetensors files (aulens/checkpoint.h): parameters under PyTorch's
// names, optional momentum buffers, the NetConfig and the training progress in the metadata.
#include "aulens/checkpoint.h"

#include <fmt/format.h>

#include <set>
#include <type_traits>

#include "aulens/safetensors.h"

namespace aulens {

namespace {

constexpr const char* kFormat = "aulens-checkpoint-1";
constexpr const char* kMomentumPrefix = "momentum.";

// Every NetConfig field as (metadata key, text); floats in shortest round-trip form.
std::map<std::string, std::string> config_metadata(const NetConfig& cfg) {
  return {{"net.input_size", std::to_string(cfg.input_size)},
          {"net.conv1", std::to_string(cfg.conv1)},
          {"net.conv2", std::to_string(cfg.conv2)},
          {"net.conv3", std::to_string(cfg.conv3)},
          {"net.fc", std::to_string(cfg.fc)},
          {"net.classes", std::to_string(cfg.classes)},
          {"net.dropout", fmt::format("{}", cfg.dropout)}};
}

const std::string& require_key(const std::filesystem::path& path,
                               const std::map<std::string, std::string>& metadata,
                               const std::string& key) {
  auto it = metadata.find(key);
  AULENS_REQUIRE(it != metadata.end(),
                 "checkpoint " + path.string() + ": metadata has no \"" + key + "\"");
  return it->second;
}

template <class T>
T parse_number(const std::filesystem::path& path, const std::string& key, const std::string& text) {
  try {
    std::size_t used = 0;
    T value;
    if constexpr (std::is_same_v<T, int>) {
      value = std::stoi(text, &used);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      value = std::stoll(text, &used);
    } else if constexpr (std::is_same_v<T, float>) {
      value = std::stof(text, &used);
    } else {
      value = std::stod(text, &used);
    }
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw Error("checkpoint " + path.string() + ": metadata \"" + key + "\" = \"" + text +
              "\" is not a number");
}

// The file's tensor names, for an error message: "a, b, c" (the first few, then how many more).
std::string tensor_names(const SafeTensors& file) {
  constexpr std::size_t kShown = 6;
  std::string text;
  std::size_t shown = 0;
  for (const auto& [name, tensor] : file.tensors) {
    if (shown == kShown) {
      text += fmt::format(" and {} more", file.tensors.size() - kShown);
      break;
    }
    text += (shown++ ? ", \"" : "\"") + name + "\"";
  }
  return text.empty() ? std::string("no tensor") : text;
}

// Moves the ten tensors `prefix` + name from `file` into `out` on `device`, checking each one.
void take_params(const std::filesystem::path& path, SafeTensors& file, const NetConfig& cfg,
                 const std::string& prefix, Device device, Params& out) {
  auto shapes = Params::shapes(cfg);
  auto tensors = out.named();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string name = prefix + tensors[i].first;
    auto it = file.tensors.find(name);
    AULENS_REQUIRE(it != file.tensors.end(), "checkpoint " + path.string() + ": tensor \"" + name +
                                                 "\" is missing; the file holds " +
                                                 tensor_names(file));
    const Tensor& t = it->second;
    AULENS_REQUIRE(t.dtype() == DType::f32, "checkpoint " + path.string() + ": tensor \"" + name +
                                                "\" is " + dtype_name(t.dtype()) +
                                                ", expected F32");
    AULENS_REQUIRE(t.shape() == shapes[i].second,
                   "checkpoint " + path.string() + ": tensor \"" + name + "\" has shape " +
                       shape_string(t.shape()) + ", the configured network needs " +
                       shape_string(shapes[i].second));
    *tensors[i].second = device == Device::cpu ? t : t.to(device);
  }
}

NetConfig config_from_metadata(const std::filesystem::path& path,
                               const std::map<std::string, std::string>& metadata) {
  auto integer = [&](const char* key) {
    return parse_number<int>(path, key, require_key(path, metadata, key));
  };
  NetConfig cfg;
  cfg.input_size = integer("net.input_size");
  cfg.conv1 = integer("net.conv1");
  cfg.conv2 = integer("net.conv2");
  cfg.conv3 = integer("net.conv3");
  cfg.fc = integer("net.fc");
  cfg.classes = integer("net.classes");
  cfg.dropout =
      parse_number<float>(path, "net.dropout", require_key(path, metadata, "net.dropout"));
  return cfg;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const NetConfig& cfg,
                     const TrainState& state) {
  state.params.check(cfg, state.params.conv1_weight.device(),
                     "save_checkpoint " + path.string() + ": parameters");
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, tensor] : state.params.named()) tensors[name] = *tensor;
  if (state.has_momentum()) {
    state.momentum.check(cfg, state.momentum.conv1_weight.device(),
                         "save_checkpoint " + path.string() + ": momentum");
    for (const auto& [name, tensor] : state.momentum.named()) {
      tensors[kMomentumPrefix + name] = *tensor;
    }
  }
  std::map<std::string, std::string> metadata = config_metadata(cfg);
  metadata["format"] = kFormat;
  metadata["epoch"] = std::to_string(state.epoch);
  metadata["step"] = std::to_string(state.step);
  metadata["best_accuracy"] = fmt::format("{}", state.best_accuracy);
  metadata["best_epoch"] = std::to_string(state.best_epoch);
  for (const auto& [key, value] : state.metadata) {
    AULENS_CHECK(metadata.count(key) == 0, "save_checkpoint " + path.string() +
                                               ": extra metadata key \"" + key +
                                               "\" is reserved for the checkpoint itself");
    metadata[key] = value;
  }
  save_safetensors(path, tensors, metadata);
}

TrainState load_checkpoint(const std::filesystem::path& path, const NetConfig& cfg, Device device) {
  SafeTensors file = load_safetensors(path);
  const auto& meta = file.metadata;
  const bool ours = meta.count("format") != 0 && meta.at("format") == kFormat;

  if (ours) {
    const NetConfig saved = config_from_metadata(path, meta);
    const auto saved_fields = config_metadata(saved);
    const auto wanted_fields = config_metadata(cfg);
    for (const auto& [key, wanted] : wanted_fields) {
      if (key == "net.dropout") continue;  // dropout does not change any shape or the forward
      const std::string& have = saved_fields.at(key);
      AULENS_REQUIRE(have == wanted, "checkpoint " + path.string() + " was written for " + key +
                                         " = " + have + ", the configuration asks for " + wanted);
    }
  }

  // A tensor aulens would not use means a model with layers this network does not have (batch
  // norm, another head …): analysing it without them would describe another model.
  TrainState state;
  take_params(path, file, cfg, "", device, state.params);
  std::set<std::string> known;
  for (const auto& [name, tensor] : state.params.named()) {
    known.insert(name);
    known.insert(kMomentumPrefix + name);
  }
  bool any_momentum = false;
  for (const auto& [name, tensor] : file.tensors) {
    AULENS_REQUIRE(known.count(name) != 0,
                   "checkpoint " + path.string() + ": tensor \"" + name +
                       "\" is not a parameter of the aulens network (conv1, conv2, conv3, fc1, "
                       "fc2: .weight and .bias), so the file describes another model");
    if (name.rfind(kMomentumPrefix, 0) == 0) any_momentum = true;
  }
  if (any_momentum) take_params(path, file, cfg, kMomentumPrefix, device, state.momentum);

  if (ours) {
    state.epoch = parse_number<int>(path, "epoch", require_key(path, meta, "epoch"));
    state.step = parse_number<std::int64_t>(path, "step", require_key(path, meta, "step"));
    state.best_accuracy =
        parse_number<double>(path, "best_accuracy", require_key(path, meta, "best_accuracy"));
    state.best_epoch = parse_number<int>(path, "best_epoch", require_key(path, meta, "best_epoch"));
    const auto reserved = config_metadata(cfg);
    for (const auto& [key, value] : meta) {
      const bool is_reserved = reserved.count(key) != 0 || key == "format" || key == "epoch" ||
                               key == "step" || key == "best_accuracy" || key == "best_epoch";
      if (!is_reserved) state.metadata[key] = value;
    }
  } else {
    state.metadata = meta;
  }
  return state;
}

NetConfig read_checkpoint_config(const std::filesystem::path& path) {
  SafeTensors file = load_safetensors(path);
  AULENS_REQUIRE(file.metadata.count("format") != 0 && file.metadata.at("format") == kFormat,
                 "checkpoint " + path.string() + " has no aulens metadata (no \"format\": \"" +
                     kFormat + "\"), so its network configuration is unknown");
  return config_from_metadata(path, file.metadata);
}

}  // namespace aulens
