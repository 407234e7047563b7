// `aulens sweep CONFIG`: the AU sweep (DESIGN §1.6) of the analysed images' conv3 records.
//
// Reads <output>/dataset.safetensors (`aulens prepare`) and <output>/records.safetensors
// (`aulens visualize`: "conv3_value" (M_analysed,K) f32 and "image_index" (M_analysed) i32, the
// dataset image of each row), runs aulens::run_sweep on --device cuda|cpu|auto and writes, each
// atomically, into <output>:
//   sweep.csv          au,map,distance,rank,auc — every analysed AU × map (rank 1 = largest D)
//   best_maps.csv      per AU: name, best map, distance, second map, margin, p-value (empty
//                      when sweep.permutations is 0: not tested), AUC,
//                      direction (higher|lower: the best map's R above or below Q), the map
//                      whose AUC is farthest from 0.5 and that AUC (auc_best_map, auc_best_auc),
//                      images with/without, top_n_with_au (how many of the best map's top-n
//                      images carry the AU), status ("ok" or "skipped: why", with the counts)
//   sweep.safetensors  distance (A,K), auc (A,K), top_pos R and top_neg Q (A,K,n), p_values (A)
//                      (NaN when not tested), null_max (P,A), au_ids (A), best_map (A),
//                      top_n_with_au (A), images
//                      (M_analysed); metadata also names the model the records are of
//                      (checkpoint, checkpoint_given, copied from records.safetensors)
//   sweep_info.json    which images were analysed (visualize.images, the frame rule from the
//                      dataset cache's config echo, the split protocol, "subject-overlapping" when
//                      so), the sweep settings, the device and times, the skipped AUs
// and prints the best-map table.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "aulens/atomic_file.h"
#include "aulens/config.h"
#include "aulens/csv.h"
#include "aulens/dataset.h"
#include "aulens/device.h"
#include "aulens/safetensors.h"
#include "aulens/sweep.h"
#include "aulens/trainer.h"
#include "command.h"
#include "stages.h"
#include "stamps.h"

namespace fs = std::filesystem;

namespace {

using SweepArgs = aulens::cli::RunFolderArgs;

// What the sweep analysed, for every output.
struct Provenance {
  std::string images;    // visualize.images (or the records' own metadata)
  std::string frames;    // the dataset's frame rule (config echo of the cache)
  std::string protocol;  // split protocol
  bool subject_overlapping = false;
  std::string describe() const {
    return "images " + images + ", frames " + frames + ", split " + protocol +
           (subject_overlapping ? " (subject-overlapping)" : "");
  }
};

std::string frames_rule(const std::string& config_yaml) {
  try {
    const YAML::Node node = YAML::Load(config_yaml);
    if (node["dataset"] && node["dataset"]["frames"]) {
      return node["dataset"]["frames"].as<std::string>();
    }
  } catch (const YAML::Exception&) {
  }
  return "unknown (no config echo in the dataset cache)";
}

std::string number(double v, int digits = 6) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

const aulens::Tensor& require(const aulens::SafeTensors& file, const fs::path& path,
                              const std::string& name, aulens::DType dtype, int rank) {
  const auto it = file.tensors.find(name);
  if (it == file.tensors.end()) {
    throw aulens::Error(path.string() + ": no tensor \"" + name +
                        "\" (expected the records written by `aulens visualize`)");
  }
  AULENS_REQUIRE(it->second.dtype() == dtype && it->second.rank() == rank,
                 path.string() + ": tensor \"" + name + "\" is " +
                     aulens::dtype_name(it->second.dtype()) + " " +
                     aulens::shape_string(it->second.shape()) + ", expected " +
                     aulens::dtype_name(dtype) + " of rank " + std::to_string(rank));
  return it->second;
}

std::string sweep_csv(const aulens::SweepResult& r) {
  std::ostringstream out;
  out << "au,map,distance,rank,auc\n";
  const float* d = r.distance.data<float>();
  const float* auc = r.auc.data<float>();
  for (std::size_t j = 0; j < r.au_ids.size(); ++j) {
    const float* row = d + j * r.maps;
    for (int map = 0; map < r.maps; ++map) {
      int rank = 1;
      for (int other = 0; other < r.maps; ++other) {
        rank += row[other] > row[map] || (row[other] == row[map] && other < map);
      }
      out << r.au_ids[j] << "," << map << "," << number(row[map], 8) << "," << rank << ","
          << number(auc[j * r.maps + map], 6) << "\n";
    }
  }
  return out.str();
}

std::string best_maps_csv(const aulens::SweepResult& r) {
  std::ostringstream out;
  out << "au,au_name,best_map,distance,second_map,margin,p_value,auc,direction,auc_best_map,"
         "auc_best_auc,images_with,images_without,top_n_with_au,status\n";
  for (const aulens::SweepAu& s : r.best) {
    out << s.au << "," << aulens::csv_field(aulens::facs_au_name(s.au)) << "," << s.best_map << ","
        << number(s.best_distance, 8) << "," << s.second_map << "," << number(s.margin, 8) << ","
        << (std::isnan(s.p_value) ? "" : number(s.p_value, 6)) << "," << number(s.best_auc, 6)
        << "," << (s.higher_with_au ? "higher" : "lower") << "," << s.auc_map << ","
        << number(s.auc_map_auc, 6) << "," << s.with << "," << s.without << "," << s.top_with_au
        << ",ok\n";
  }
  for (const aulens::SweepSkip& s : r.skipped) {
    out << s.au << "," << aulens::csv_field(aulens::facs_au_name(s.au)) << ",,,,,,,,,," << s.with
        << "," << s.without << ",," << aulens::csv_field("skipped: " + s.reason) << "\n";
  }
  return out.str();
}

void print_table(const aulens::SweepResult& r) {
  std::printf("%-5s %-24s %8s %12s %10s %9s %6s %-6s %8s %6s %7s %7s %7s\n", "AU", "name",
              "best map", "distance", "margin", "p-value", "AUC", "value", "AUC map", "AUC", "with",
              "without", "top w/");
  for (const aulens::SweepAu& s : r.best) {
    char p_value[16] = "n/a";  // not tested (sweep.permutations: 0)
    if (!std::isnan(s.p_value)) std::snprintf(p_value, sizeof(p_value), "%.4g", s.p_value);
    std::printf("%-5d %-24s %8d %12.5g %10.4g %9s %6.3f %-6s %8d %6.3f %7d %7d %4d/%-2d\n", s.au,
                aulens::facs_au_name(s.au).c_str(), s.best_map, s.best_distance, s.margin, p_value,
                s.best_auc, s.higher_with_au ? "higher" : "lower", s.auc_map, s.auc_map_auc, s.with,
                s.without, s.top_with_au, r.top_n);
  }
  for (const aulens::SweepSkip& s : r.skipped) {
    std::printf("%-5d %-24s skipped: %s (with %d, without %d)\n", s.au,
                aulens::facs_au_name(s.au).c_str(), s.reason.c_str(), s.with, s.without);
  }
}

void run_sweep_command(const SweepArgs& args) {
  const aulens::RunConfig cfg = aulens::cli::load_run_folder_config(args);
  const fs::path cache_path = cfg.output / "dataset.safetensors";
  const fs::path records_path = cfg.output / "records.safetensors";
  aulens::require_stage_output(cfg, cache_path, "prepare");
  aulens::require_stage_output(cfg, records_path, "visualize");
  const aulens::DatasetCache dataset = aulens::load_dataset_cache(cache_path, cfg);
  const aulens::SafeTensors records = aulens::load_safetensors(records_path);
  const aulens::Tensor& values =
      require(records, records_path, "conv3_value", aulens::DType::f32, 2);
  const aulens::Tensor& image_index =
      require(records, records_path, "image_index", aulens::DType::i32, 1);
  const std::int64_t analysed = values.dim(0), maps = values.dim(1);
  const std::int64_t dataset_images = dataset.data.size();
  AULENS_REQUIRE(image_index.dim(0) == analysed,
                 records_path.string() + ": conv3_value has " + std::to_string(analysed) +
                     " rows but image_index " + std::to_string(image_index.dim(0)));
  AULENS_REQUIRE(maps == cfg.model.conv3, records_path.string() + " holds " + std::to_string(maps) +
                                              " conv3 maps but the config's model has " +
                                              std::to_string(cfg.model.conv3) +
                                              ": records and configuration do not match");

  // The AU rows of the analysed images.
  const std::int64_t a = dataset.data.aus.dim(1);
  aulens::Tensor aus({analysed, a}, aulens::DType::f32);
  const float* all_aus = dataset.data.aus.data<float>();
  const std::int32_t* rows = image_index.data<std::int32_t>();
  for (std::int64_t r = 0; r < analysed; ++r) {
    AULENS_REQUIRE(rows[r] >= 0 && rows[r] < dataset_images,
                   records_path.string() + ": image_index[" + std::to_string(r) +
                       "] = " + std::to_string(rows[r]) + " but " + cache_path.string() +
                       " holds " + std::to_string(dataset_images) +
                       " images: records and dataset do not match");
    std::copy(all_aus + rows[r] * a, all_aus + (rows[r] + 1) * a, aus.data<float>() + r * a);
  }

  aulens::cli::remove_stamps_from(cfg.output, "sweep");  // `aulens run` redoes what follows
  Provenance prov;
  const auto images_meta = records.metadata.find("images");
  prov.images = images_meta != records.metadata.end() ? images_meta->second : cfg.visualize.images;
  prov.images += " (" + std::to_string(analysed) + " of " + std::to_string(dataset_images) + ")";
  prov.frames = frames_rule(dataset.config_yaml);
  prov.protocol = dataset.split.protocol;
  prov.subject_overlapping = dataset.split.subject_overlapping;
  // The model the records are of (visualize's checkpoint), carried on so that the report can tell
  // a sweep of one model from projections of another.
  const auto meta_or = [&](const char* key, const std::string& fallback) {
    const auto it = records.metadata.find(key);
    return it != records.metadata.end() ? it->second : fallback;
  };
  const std::string checkpoint = meta_or("checkpoint", "");
  const std::string checkpoint_given = meta_or("checkpoint_given", "false");

  const aulens::Device device = aulens::resolve_device(cfg.train.device);
  std::cout << "sweep on " << aulens::device_name(device)
            << (device == aulens::Device::cuda
                    ? std::string(" (") + aulens::device::describe() + ")"
                    : std::string())
            << ": " << analysed << " images × " << maps << " maps × " << a << " AUs, top "
            << cfg.sweep.top_n << ", " << cfg.sweep.permutations << " permutations; "
            << prov.describe() << "\n";
  if (cfg.sweep.permutations == 0)
    std::cout << "note: sweep.permutations is 0, so there is no permutation test: the p-values "
                 "are left empty (nan in sweep.safetensors)\n";
  const auto start = std::chrono::steady_clock::now();
  const aulens::SweepResult r =
      aulens::run_sweep_on(device, values, aus, dataset.data.au_ids, cfg.sweep);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Outputs.
  aulens::write_file_atomically(cfg.output / "sweep.csv", sweep_csv(r));
  aulens::write_file_atomically(cfg.output / "best_maps.csv", best_maps_csv(r));
  nlohmann::json skipped = nlohmann::json::array();
  for (const aulens::SweepSkip& s : r.skipped) {
    skipped.push_back({{"au", s.au},
                       {"name", aulens::facs_au_name(s.au)},
                       {"with", s.with},
                       {"without", s.without},
                       {"reason", s.reason}});
  }
  const int analysed_aus = static_cast<int>(r.au_ids.size());
  std::vector<std::int32_t> best_map, top_with_au;
  for (const aulens::SweepAu& s : r.best) {
    best_map.push_back(s.best_map);
    top_with_au.push_back(s.top_with_au);
  }
  std::vector<std::int32_t> images(rows, rows + analysed);
  aulens::save_safetensors(
      cfg.output / "sweep.safetensors",
      {{"distance", r.distance},
       {"auc", r.auc},
       {"top_pos", r.top_pos},
       {"top_neg", r.top_neg},
       {"p_values", r.p_values},
       {"null_max", r.null_max},
       {"au_ids", aulens::Tensor::from_vector<std::int32_t>({analysed_aus}, r.au_ids)},
       {"best_map", aulens::Tensor::from_vector<std::int32_t>({analysed_aus}, best_map)},
       {"top_n_with_au", aulens::Tensor::from_vector<std::int32_t>({analysed_aus}, top_with_au)},
       {"images", aulens::Tensor::from_vector<std::int32_t>({analysed}, images)}},
      {{"top_n", std::to_string(r.top_n)},
       {"epsilon", number(r.epsilon, 9)},
       {"permutations", std::to_string(r.permutations)},
       {"seed", std::to_string(r.seed)},
       {"analysed", prov.describe()},
       {"checkpoint", checkpoint},
       {"checkpoint_given", checkpoint_given},
       {"skipped", skipped.dump()}});
  const nlohmann::json info = {{"images", prov.images},
                               {"frames", prov.frames},
                               {"split_protocol", prov.protocol},
                               {"subject_overlapping", prov.subject_overlapping},
                               {"analysed_images", analysed},
                               {"checkpoint", checkpoint},
                               {"checkpoint_given", checkpoint_given == "true"},
                               {"maps", maps},
                               {"top_n", r.top_n},
                               {"epsilon", r.epsilon},
                               {"epsilon_rule", "R_k, Q_k floored at max(v, epsilon)"},
                               {"min_images", cfg.sweep.min_images},
                               {"permutations", r.permutations},
                               {"seed", r.seed},
                               {"device", aulens::device_name(device)},
                               {"seconds", seconds},
                               {"analysed_aus", r.au_ids},
                               {"skipped", skipped}};
  aulens::write_file_atomically(cfg.output / "sweep_info.json", info.dump(2) + "\n");

  print_table(r);
  std::cout << "sweep took " << number(seconds, 4) << " s; wrote sweep.csv, best_maps.csv, "
            << "sweep.safetensors, sweep_info.json in " << cfg.output.string() << "\n";
}

const aulens::cli::CommandRegistrar kSweep(aulens::cli::CommandPlace::sweep, [](CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Score every (AU, conv3 map) pair from <output>/records.safetensors and name the "
      "best map per AU");
  aulens::cli::add_run_folder_options(cmd, *args);
  cmd->callback([args] { run_sweep_command(*args); });
});

}  // namespace
