// The dataset cache (DESIGN §2, §3): one safetensors file holding the Dataset tensors and the
// chosen split, with everything else in __metadata__ (JSON-encoded lists). No OpenCV needed.
//
//   crops (M,S,S) u8 · labels (M) i32 · aus (M,A) f32 · subject, sequence, frame (M) i32 ·
//   landmarks (M,68,2) f32 · au_regions (M,A,4) f32 · split_train (T) i32 · split_test (E) i32
//   metadata: format, source, root, crop_size, class_names, au_ids, source_paths, subject_names,
//             issues, counts, split_protocol, split_subject_overlapping, config
#include <nlohmann/json.hpp>

#include "aulens/check.h"
#include "aulens/dataset.h"
#include "aulens/safetensors.h"

namespace aulens {
namespace {

constexpr const char* kFormat = "aulens.dataset.v1";

Tensor index_tensor(const std::vector<std::int32_t>& values) {
  return Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(values.size())}, values);
}

}  // namespace

void save_dataset_cache(const std::filesystem::path& path, const Dataset& data, const Split& split,
                        const std::string& config_yaml) {
  AULENS_CHECK(data.size() > 0, "refusing to save an empty dataset to '" + path.string() + "'");
  std::map<std::string, Tensor> tensors = {{"crops", data.crops},
                                           {"labels", data.labels},
                                           {"aus", data.aus},
                                           {"subject", data.subject},
                                           {"sequence", data.sequence},
                                           {"frame", data.frame},
                                           {"landmarks", data.landmarks},
                                           {"au_regions", data.au_regions},
                                           {"split_train", index_tensor(split.train)},
                                           {"split_test", index_tensor(split.test)}};
  nlohmann::json issues = nlohmann::json::array();
  for (const auto& issue : data.issues)
    issues.push_back({{"file", issue.file},
                      {"line", issue.line},
                      {"problem", issue.problem},
                      {"skipped", issue.skipped}});
  const nlohmann::json counts = {{"sequences", data.counts.sequences},
                                 {"sequences_with_emotion", data.counts.sequences_with_emotion},
                                 {"sequences_without_facs", data.counts.sequences_without_facs},
                                 {"frames_found", data.counts.frames_found},
                                 {"frames_unused", data.counts.frames_unused},
                                 {"images_with_regions", data.counts.images_with_regions}};
  const std::map<std::string, std::string> metadata = {
      {"format", kFormat},
      {"source", data.source},
      {"root", data.root},
      {"crop_size", std::to_string(data.crop_size)},
      {"class_names", nlohmann::json(data.class_names).dump()},
      {"au_ids", nlohmann::json(data.au_ids).dump()},
      {"source_paths", nlohmann::json(data.source_paths).dump()},
      {"subject_names", nlohmann::json(data.subject_names).dump()},
      {"issues", issues.dump()},
      {"counts", counts.dump()},
      {"split_protocol", split.protocol},
      {"split_subject_overlapping", split.subject_overlapping ? "true" : "false"},
      {"config", config_yaml}};
  save_safetensors(path, tensors, metadata);
}

DatasetCache load_dataset_cache(const std::filesystem::path& path) {
  SafeTensors file = load_safetensors(path);
  const std::string where = "dataset cache '" + path.string() + "'";
  auto meta = [&](const std::string& key) -> const std::string& {
    const auto it = file.metadata.find(key);
    if (it == file.metadata.end()) throw Error(where + ": metadata entry '" + key + "' is missing");
    return it->second;
  };
  auto tensor = [&](const std::string& name, DType dtype, int rank) -> Tensor {
    const auto it = file.tensors.find(name);
    if (it == file.tensors.end()) throw Error(where + ": tensor '" + name + "' is missing");
    if (it->second.dtype() != dtype || it->second.rank() != rank)
      throw Error(where + ": tensor '" + name + "' must be " + dtype_name(dtype) + " of rank " +
                  std::to_string(rank) + ", found " + dtype_name(it->second.dtype()) + " " +
                  shape_string(it->second.shape()));
    return it->second;
  };
  auto json_of = [&](const std::string& key) {
    try {
      return nlohmann::json::parse(meta(key));
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": metadata entry '" + key + "' is not valid JSON: " + e.what());
    }
  };
  if (meta("format") != kFormat)
    throw Error(where + ": format '" + meta("format") + "', expected '" + kFormat + "'");

  DatasetCache cache;
  Dataset& data = cache.data;
  try {
    data.source = meta("source");
    data.root = meta("root");
    data.crop_size = std::stoi(meta("crop_size"));
    data.class_names = json_of("class_names").get<std::vector<std::string>>();
    data.au_ids = json_of("au_ids").get<std::vector<std::int32_t>>();
    data.source_paths = json_of("source_paths").get<std::vector<std::string>>();
    data.subject_names = json_of("subject_names").get<std::vector<std::string>>();
    for (const auto& issue : json_of("issues"))
      data.issues.push_back({issue.at("file").get<std::string>(), issue.at("line").get<int>(),
                             issue.at("problem").get<std::string>(),
                             issue.at("skipped").get<std::string>()});
    const auto counts = json_of("counts");
    data.counts.sequences = counts.at("sequences").get<int>();
    data.counts.sequences_with_emotion = counts.at("sequences_with_emotion").get<int>();
    data.counts.sequences_without_facs = counts.at("sequences_without_facs").get<int>();
    data.counts.frames_found = counts.at("frames_found").get<int>();
    data.counts.frames_unused = counts.at("frames_unused").get<int>();
    data.counts.images_with_regions = counts.at("images_with_regions").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": malformed metadata: " + e.what());
  } catch (const std::logic_error& e) {
    throw Error(where + ": malformed metadata: " + e.what());
  }
  data.crops = tensor("crops", DType::u8, 3);
  data.labels = tensor("labels", DType::i32, 1);
  data.aus = tensor("aus", DType::f32, 2);
  data.subject = tensor("subject", DType::i32, 1);
  data.sequence = tensor("sequence", DType::i32, 1);
  data.frame = tensor("frame", DType::i32, 1);
  data.landmarks = tensor("landmarks", DType::f32, 3);
  data.au_regions = tensor("au_regions", DType::f32, 3);
  const std::int64_t m = data.labels.dim(0), a = static_cast<std::int64_t>(data.au_ids.size());
  const std::int64_t s = data.crop_size;
  auto expect_shape = [&](const std::string& name, const Tensor& t, const Shape& shape) {
    if (t.shape() != shape)
      throw Error(where + ": tensor '" + name + "' has shape " + shape_string(t.shape()) +
                  ", expected " + shape_string(shape));
  };
  expect_shape("crops", data.crops, {m, s, s});
  expect_shape("aus", data.aus, {m, a});
  expect_shape("subject", data.subject, {m});
  expect_shape("sequence", data.sequence, {m});
  expect_shape("frame", data.frame, {m});
  expect_shape("landmarks", data.landmarks, {m, kLandmarkCount, 2});
  expect_shape("au_regions", data.au_regions, {m, a, 4});
  if (static_cast<std::int64_t>(data.source_paths.size()) != m)
    throw Error(where + ": " + std::to_string(data.source_paths.size()) + " source paths for " +
                std::to_string(m) + " images");
  const std::int64_t classes = static_cast<std::int64_t>(data.class_names.size());
  const std::int64_t subjects = static_cast<std::int64_t>(data.subject_names.size());
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int32_t label = data.labels.data<std::int32_t>()[i];
    const std::int32_t subject = data.subject.data<std::int32_t>()[i];
    if (label < kNoLabel || label >= classes)
      throw Error(where + ": image " + std::to_string(i) + " has label " + std::to_string(label) +
                  " outside -1.." + std::to_string(classes - 1));
    if (subject < 0 || subject >= subjects)
      throw Error(where + ": image " + std::to_string(i) + " has subject " +
                  std::to_string(subject) + " outside 0.." + std::to_string(subjects - 1));
  }
  for (const char* name : {"split_train", "split_test"}) {
    const auto indices = tensor(name, DType::i32, 1).to_vector<std::int32_t>();
    for (const std::int32_t index : indices)
      if (index < 0 || index >= m)
        throw Error(where + ": " + name + " holds image index " + std::to_string(index) +
                    " outside 0.." + std::to_string(m - 1));
    (std::string(name) == "split_train" ? cache.split.train : cache.split.test) = indices;
  }
  cache.split.protocol = meta("split_protocol");
  cache.split.subject_overlapping = meta("split_subject_overlapping") == "true";
  cache.config_yaml = meta("config");
  return cache;
}

DatasetCache load_dataset_cache(const std::filesystem::path& path, const RunConfig& cfg) {
  DatasetCache cache = load_dataset_cache(path);
  const std::string difference = first_setting_difference(
      dataset_setting_lines(cache.config_yaml, cfg.dataset, path.string()),
      dataset_setting_lines(config_to_yaml(cfg), cfg.dataset, "the config"));
  // The cpu: section may change dataset settings: prepare must resolve the device the same way.
  if (!difference.empty()) {
    RunConfig prepare = cfg;  // a stage after prepare may leave the dataset path out
    if (prepare.dataset.path.empty()) {
      const std::string key = "dataset.path: ";
      for (const std::string& line :
           config_setting_lines(cache.config_yaml, "dataset", path.string()))
        if (line.rfind(key, 0) == 0) prepare.dataset.path = line.substr(key.size());
    }
    throw Error(path.string() + " was prepared with " + difference +
                ". Either the config changed since (run `" + stage_command(prepare, "prepare") +
                "` again), or prepare and this stage resolved the device differently (the "
                "config's cpu: section applies on the CPU): give them the same --device");
  }
  return cache;
}

}  // namespace aulens
