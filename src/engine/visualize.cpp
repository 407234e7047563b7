// The visualize stage (aulens/visualize.h): load the dataset cache and the best checkpoint, compute
// conv3 records over the analysed images, the top-n per map and their windowed projections on the
// chosen backend, then write records.safetensors, topk.csv, projections.safetensors and (with
// OpenCV) the per-map strips and the contact sheet. Backend-neutral: the Ops type is a template
// argument, chosen once from VisualizeOptions::device.
//
// Glossary: M analysed images, K conv3 maps, n top-n, S input size, C crop size, G = S/4.
#include "aulens/visualize.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>
#include <regex>

#include "aulens/atomic_file.h"
#include "aulens/checkpoint.h"
#include "aulens/csv.h"
#include "aulens/cuda_math.h"
#include "aulens/deconv.h"
#include "aulens/device.h"
#include "aulens/records.h"
#include "aulens/render.h"
#include "aulens/safetensors.h"

namespace aulens {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::map<std::string, std::string> net_metadata(const NetConfig& net) {
  return {{"net.input_size", std::to_string(net.input_size)},
          {"net.conv1", std::to_string(net.conv1)},
          {"net.conv2", std::to_string(net.conv2)},
          {"net.conv3", std::to_string(net.conv3)},
          {"net.fc", std::to_string(net.fc)},
          {"net.classes", std::to_string(net.classes)}};
}

#ifdef AULENS_HAVE_OPENCV
// Removes deconv/map_NNN.png files of an earlier run with more maps than this one.
void remove_stale_strips(const fs::path& dir, int maps) {
  if (!fs::is_directory(dir)) return;
  static const std::regex kStrip(R"(map_(\d+)\.png)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    // (Visualize never writes more than nine digits, which might also overflow stol.)
    if (std::regex_match(name, match, kStrip) &&
        (match[1].length() > 9 || std::stol(match[1].str()) >= maps)) {
      fs::remove(entry.path());
    }
  }
}
#endif

struct Inputs {
  DatasetCache cache;
  fs::path cache_path;
  fs::path checkpoint_path;       // absolute, so that the outputs name it from anywhere
  bool checkpoint_given = false;  // not the run folder's own checkpoints/best.safetensors
  NetConfig net;
  std::vector<std::int32_t> image_ids;
};

Inputs load_inputs(const RunConfig& cfg, const fs::path& given_checkpoint, const char* given_by) {
  Inputs in;
  in.cache_path = cfg.output / "dataset.safetensors";
  require_stage_output(cfg, in.cache_path, "prepare");
  const fs::path own = cfg.output / "checkpoints" / "best.safetensors";
  if (given_checkpoint.empty()) {
    require_stage_output(cfg, own, "train");
    in.checkpoint_path = own;
  } else {
    AULENS_REQUIRE(fs::is_regular_file(given_checkpoint),
                   std::string("the checkpoint to analyse (") + given_by + "), " +
                       given_checkpoint.string() + ", does not exist or is not a file");
    in.checkpoint_path = given_checkpoint;
    // The run's own checkpoints given by name are not a model from elsewhere.
    std::error_code best_ec, last_ec;
    in.checkpoint_given =
        !fs::equivalent(given_checkpoint, own, best_ec) &&
        !fs::equivalent(given_checkpoint, own.parent_path() / "last.safetensors", last_ec);
  }
  in.checkpoint_path = fs::absolute(in.checkpoint_path).lexically_normal();
  in.cache = load_dataset_cache(in.cache_path, cfg);
  in.net = cfg.model;
  const Dataset& data = in.cache.data;
  AULENS_REQUIRE(data.crop_size >= in.net.input_size,
                 in.cache_path.string() + ": face crops are " + std::to_string(data.crop_size) +
                     " px, smaller than model.input_size " + std::to_string(in.net.input_size));
  AULENS_REQUIRE(static_cast<std::int64_t>(data.source_paths.size()) == data.size(),
                 in.cache_path.string() + ": " + std::to_string(data.source_paths.size()) +
                     " source paths for " + std::to_string(data.size()) + " images");
  in.image_ids = analysed_images(cfg.visualize.images, in.cache.split, data.size());
  AULENS_REQUIRE(!in.image_ids.empty(), "visualize.images = " + cfg.visualize.images +
                                            " selects no image of " + in.cache_path.string());
  const int n = cfg.visualize.top_n;
  AULENS_REQUIRE(n >= 1 && n <= 32 && n <= static_cast<std::int64_t>(in.image_ids.size()),
                 "visualize.top_n must be between 1 and min(32, analysed images = " +
                     std::to_string(in.image_ids.size()) + "), got " + std::to_string(n));
  return in;
}

void write_topk_csv(const fs::path& path, const Dataset& data, const TopN& top, int grid) {
  std::string csv = "map,rank,image,source_path,value,y,x\n";
  const auto maps = top.values.dim(0);
  for (std::int64_t m = 0; m < maps; ++m) {
    for (int r = 0; r < top.n; ++r) {
      const std::int64_t e = m * top.n + r;
      const std::int32_t image = top.image_ids.data<std::int32_t>()[e];
      const std::int32_t pos = top.positions.data<std::int32_t>()[e];
      // {} prints the shortest text that reads back as the same float.
      csv += fmt::format("{},{},{},{},{},{},{}\n", m, r + 1, image,
                         csv_field(data.source_paths[image]), top.values.data<float>()[e],
                         pos / grid, pos % grid);
    }
  }
  write_file_atomically(path, csv);
}

#ifdef AULENS_HAVE_OPENCV
// Per map a strip of its n tiles over their crops; the contact sheet of rank-1 tiles. Returns the
// number of PNG files written.
int render_images(const fs::path& dir, const Dataset& data, const NetConfig& net,
                  const Projections& proj, int maps, int n) {
  remove_stale_strips(dir, maps);
  const int tile = kTile * kTile;
  const std::int64_t crop = data.crop_size;
  Tensor rank1({maps, kTile, kTile}, DType::u8);
  const float* windows = proj.windows.data<float>();
  const std::int32_t* origins = proj.origins.data<std::int32_t>();
  const std::int32_t* requests = proj.requests.data<std::int32_t>();
  const std::uint8_t* crops = data.crops.data<std::uint8_t>();
  const int digits = std::max<int>(3, static_cast<int>(std::to_string(maps - 1).size()));
  for (int m = 0; m < maps; ++m) {
    Tensor projection_tiles({n, kTile, kTile}, DType::u8), crop_tiles({n, kTile, kTile}, DType::u8);
    for (int r = 0; r < n; ++r) {
      const std::int64_t e = static_cast<std::int64_t>(m) * n + r;
      const int oy = origins[2 * e], ox = origins[2 * e + 1];
      const std::int32_t image = requests[4 * e];
      normalize_projection_tile(windows + e * tile, oy, ox, net.input_size,
                                projection_tiles.data<std::uint8_t>() + r * tile);
      receptive_field_crop(crops + image * crop * crop, data.crop_size, net.input_size, oy, ox,
                           crop_tiles.data<std::uint8_t>() + r * tile);
    }
    std::copy_n(projection_tiles.data<std::uint8_t>(), tile, rank1.data<std::uint8_t>() + m * tile);
    write_png(dir / fmt::format("map_{:0{}d}.png", m, digits),
              render_strip(projection_tiles, crop_tiles));
  }
  write_png(dir / "contact_sheet.png", render_contact_sheet(rank1));
  return maps + 1;
}
#endif

template <class Ops>
VisualizeSummary run_stage(const RunConfig& cfg, const VisualizeOptions& options) {
  constexpr Device dev = Ops::device;
  auto log = [&](const std::string& line) {
    if (options.log) {
      options.log(line);
    } else {
      std::cout << line << "\n" << std::flush;
    }
  };
  auto sync = [] {
    if constexpr (dev == Device::cuda) device::synchronize();
  };
  VisualizeSummary summary;
  summary.images = cfg.visualize.images;

  // ---- load ----
  auto start = Clock::now();
  const Inputs in = options.checkpoint.empty()
                        ? load_inputs(cfg, cfg.visualize.checkpoint, "visualize.checkpoint")
                        : load_inputs(cfg, options.checkpoint, "--checkpoint");
  const Dataset& data = in.cache.data;
  const NetConfig& net = in.net;
  const TrainState state = [&] {
    try {
      return load_checkpoint(in.checkpoint_path, net, dev);
    } catch (const Error& e) {
      if (!cfg.cpu_overrides_applied) throw;
      throw Error(std::string(e.what()) +
                  " (the config's cpu: section applied, and it may set the model widths: a model "
                  "of other widths needs a config whose model: settings, cpu: section included, "
                  "are its own)");
    }
  }();
  if (options.inputs_accepted) options.inputs_accepted();
  const Tensor crops = dev == Device::cpu ? data.crops : data.crops.to(dev);
  const int n = cfg.visualize.top_n;
  const int grid = net.input_size / 4;
  summary.split_protocol = in.cache.split.protocol;
  summary.subject_overlapping = in.cache.split.subject_overlapping;
  summary.image_count = static_cast<std::int64_t>(in.image_ids.size());
  summary.maps = net.conv3;
  summary.top_n = n;
  sync();
  summary.seconds_load = seconds_since(start);
  log(fmt::format("visualize: {} images ({} of {}; split {}{}), network conv {}/{}/{} from {}{}",
                  summary.image_count, cfg.visualize.images, data.size(), summary.split_protocol,
                  summary.subject_overlapping ? ", SUBJECT-OVERLAPPING" : "", net.conv1, net.conv2,
                  net.conv3, in.checkpoint_path.string(),
                  in.checkpoint_given ? " (a model trained elsewhere)" : ""));

  // ---- records ----
  start = Clock::now();
  RecordsOptions record_options;
  record_options.conv1 = record_options.conv2 = cfg.visualize.conv1_conv2_records;
  auto last_report = start;
  record_options.progress = [&](std::int64_t done, std::int64_t total) {
    if (done == total || seconds_since(last_report) < 10.0) return;
    last_report = Clock::now();
    log(fmt::format("  records: {}/{} images, {:.0f} images/s", done, total,
                    done / seconds_since(start)));
  };
  const Records records =
      compute_records<Ops>(net, state.params, crops, in.image_ids, record_options);
  sync();
  summary.seconds_records = seconds_since(start);
  log(fmt::format("  records: {} images x {} conv3 maps in {:.3f} s ({:.0f} images/s)",
                  summary.image_count, net.conv3, summary.seconds_records,
                  summary.image_count / std::max(summary.seconds_records, 1e-9)));

  // ---- top-n ----
  start = Clock::now();
  const TopN top = top_n<Ops>(records, n);
  summary.seconds_top_n = seconds_since(start);
  log(fmt::format("  top-{}: {} maps in {:.3f} s", n, net.conv3, summary.seconds_top_n));

  // ---- projections ----
  start = Clock::now();
  const Projections proj = project_top_n<Ops>(net, state.params, crops, top);
  summary.seconds_projections = seconds_since(start);
  for (std::int64_t e = 0; e < top.values.numel(); ++e) {
    const double value = top.values.data<float>()[e], seed = proj.seeds.data<float>()[e];
    summary.worst_seed_mismatch = std::max(summary.worst_seed_mismatch,
                                           std::abs(seed - value) / std::max(1.0, std::abs(value)));
  }
  log(fmt::format("  projections: {} x {} windows of 32x32 in {:.3f} s", net.conv3, n,
                  summary.seconds_projections));

  // ---- tensors and CSV ----
  start = Clock::now();
  std::map<std::string, std::string> meta = net_metadata(net);
  meta["format"] = "aulens-records-1";
  meta["images"] = cfg.visualize.images;
  meta["image_count"] = std::to_string(summary.image_count);
  meta["split_protocol"] = summary.split_protocol;
  meta["subject_overlapping"] = summary.subject_overlapping ? "true" : "false";
  meta["dataset"] = in.cache_path.string();
  meta["checkpoint"] = in.checkpoint_path.string();
  meta["checkpoint_given"] = in.checkpoint_given ? "true" : "false";
  meta["checkpoint_epoch"] = std::to_string(state.epoch);
  meta["device"] = device_name(dev);
  meta["conv3_grid"] = std::to_string(grid);
  meta["position"] = "y * grid + x on the layer's grid (conv1 S, conv2 S/2, conv3 S/4)";
  meta["image_index"] = "row r of the records is dataset image image_index[r]";
  const auto m = summary.image_count;
  std::map<std::string, Tensor> record_tensors = {
      {"conv3_value", records.conv3_value},
      {"conv3_position", records.conv3_position},
      {"image_index", Tensor::from_vector<std::int32_t>({m}, records.image_ids)}};
  if (record_options.conv1) {
    record_tensors["conv1_value"] = records.conv1_value;
    record_tensors["conv1_position"] = records.conv1_position;
    record_tensors["conv2_value"] = records.conv2_value;
    record_tensors["conv2_position"] = records.conv2_position;
  }
  const fs::path records_path = cfg.output / "records.safetensors";
  save_safetensors(records_path, record_tensors, meta);
  summary.files.push_back(records_path);

  const fs::path topk_path = cfg.output / "topk.csv";
  write_topk_csv(topk_path, data, top, grid);
  summary.files.push_back(topk_path);

  const std::int64_t maps = net.conv3;
  meta["format"] = "aulens-projections-1";
  meta["top_n"] = std::to_string(n);
  meta["projections"] =
      "raw deconvnet output of the 32x32 receptive-field window, not normalised for display";
  meta["origins"] = "(y, x) of window pixel (0, 0) in the input frame; 4*gy-14, 4*gx-14";
  const std::map<std::string, Tensor> projection_tensors = {
      {"projections", proj.windows.reshape({maps, n, kTile, kTile})},
      {"origins", proj.origins.reshape({maps, n, 2})},
      {"top_images", top.image_ids},
      {"top_values", top.values},
      {"top_positions", top.positions},
      {"seeds", proj.seeds.reshape({maps, n})}};
  const fs::path projections_path = cfg.output / "projections.safetensors";
  save_safetensors(projections_path, projection_tensors, meta);
  summary.files.push_back(projections_path);
  summary.seconds_write = seconds_since(start);

  // ---- pictures ----
  start = Clock::now();
  const fs::path dir = cfg.output / "deconv";
#ifdef AULENS_HAVE_OPENCV
  if (options.write_images) {
    summary.png_files = render_images(dir, data, net, proj, net.conv3, n);
    summary.images_written = true;
    summary.files.push_back(dir);
  }
#else
  if (options.write_images) {
    log("  PNG strips and contact sheet skipped: this build has no OpenCV (AULENS_OPENCV=ON "
        "builds them); the raw projections are in projections.safetensors");
  }
#endif
  // An earlier run's strips show other projections (another model, top-n or image set): they go,
  // so that neither a user nor the report takes them for this run's.
  if (!summary.images_written && fs::exists(dir)) {
    fs::remove_all(dir);
    log("  removed " + dir.string() + ": its PNG strips were an earlier run's");
  }
  summary.seconds_render = seconds_since(start);
  return summary;
}

}  // namespace

std::vector<std::int32_t> analysed_images(const std::string& which, const Split& split,
                                          std::int64_t dataset_size) {
  std::vector<std::int32_t> ids;
  if (which == "train") {
    ids = split.train;
  } else if (which == "test") {
    ids = split.test;
  } else {
    AULENS_CHECK(which == "all",
                 "visualize.images must be train, test or all, got '" + which + "'");
    ids.resize(static_cast<std::size_t>(dataset_size));
    std::iota(ids.begin(), ids.end(), 0);
  }
  std::sort(ids.begin(), ids.end());
  for (std::int32_t id : ids) {
    AULENS_CHECK(id >= 0 && id < dataset_size, "split image " + std::to_string(id) +
                                                   " outside the dataset's " +
                                                   std::to_string(dataset_size) + " images");
  }
  return ids;
}

void normalize_projection_tile(const float* window, int oy, int ox, int input_size,
                               std::uint8_t* out) {
  auto inside = [&](int i, int j) {
    return oy + i >= 0 && oy + i < input_size && ox + j >= 0 && ox + j < input_size;
  };
  double sum = 0;
  int count = 0;
  for (int i = 0; i < kTile; ++i)
    for (int j = 0; j < kTile; ++j)
      if (inside(i, j)) {
        sum += window[i * kTile + j];
        ++count;
      }
  const double mean = count > 0 ? sum / count : 0.0;
  double largest = 0;
  for (int i = 0; i < kTile; ++i)
    for (int j = 0; j < kTile; ++j)
      if (inside(i, j)) largest = std::max(largest, std::abs(window[i * kTile + j] - mean));
  const double scale = largest > 0 ? 127.0 / largest : 0.0;
  for (int i = 0; i < kTile; ++i)
    for (int j = 0; j < kTile; ++j) {
      const double v = 128.0 + (window[i * kTile + j] - mean) * scale;
      out[i * kTile + j] =
          inside(i, j) ? static_cast<std::uint8_t>(std::clamp(std::lround(v), 1L, 255L)) : 0;
    }
}

void receptive_field_crop(const std::uint8_t* crop, int crop_size, int input_size, int oy, int ox,
                          std::uint8_t* out) {
  const int offset = (crop_size - input_size) / 2;  // augment_centre's offset
  for (int i = 0; i < kTile; ++i)
    for (int j = 0; j < kTile; ++j) {
      const int y = oy + i, x = ox + j;
      const bool inside = y >= 0 && y < input_size && x >= 0 && x < input_size;
      out[i * kTile + j] =
          inside ? crop[static_cast<std::int64_t>(y + offset) * crop_size + x + offset] : 0;
    }
}

VisualizeSummary run_visualize(const RunConfig& cfg, const VisualizeOptions& options) {
  if (options.device == Device::cpu) return run_stage<CpuOps>(cfg, options);
#ifdef AULENS_HAVE_CUDA
  // The products in the mode the model was trained in (train.tf32, train.fp32_conv), whichever
  // process trained it: records, top-n and projections do not depend on what ran before.
  // On a GPU without TF32 tensor cores the hand-written kernels run in FFMA instead (a model
  // trained with cuDNN and train.tf32 there is still analysable).
  set_cublas_tf32(cfg.train.tf32);
  const ConvMath math = conv_math_for(cfg.train.tf32, cfg.train.fp32_conv);
  set_conv_math(math != ConvMath::ffma && !conv_tensor_cores_available() ? ConvMath::ffma : math);
  return run_stage<CudaOps>(cfg, options);
#else
  throw Error("this aulens was built without CUDA; use --device cpu");
#endif
}

}  // namespace aulens
