// The run report (aulens/report.h): gathers the run folder's outputs into one JSON document,
// writes the PNGs (face crops, projections, map strips), copies Chart.js and writes index.html
// (the page itself is report_page.cpp).
#include "aulens/report.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "aulens/atomic_file.h"
#include "aulens/check.h"
#include "aulens/dataset.h"
#include "aulens/receptive_field.h"
#include "aulens/safetensors.h"
#include "report_inputs.h"
#include "report_page.h"
#ifdef AULENS_HAVE_OPENCV
#include "data/report_images.h"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace aulens {

using report_detail::as_f32;
using report_detail::as_i32;

std::string html_escape(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        s += "&amp;";
        break;
      case '<':
        s += "&lt;";
        break;
      case '>':
        s += "&gt;";
        break;
      case '"':
        s += "&quot;";
        break;
      case '\'':
        s += "&#39;";
        break;
      default:
        s += c;
    }
  }
  return s;
}

fs::path find_chart_js() {
  if (const char* env = std::getenv("AULENS_CHART_JS"); env && *env && fs::exists(env)) return env;
  const fs::path dir = "/usr/share/javascript/chart.js";
  for (const char* name : {"chart.umd.js", "chart.umd.min.js", "chart.min.js", "chart.js"}) {
    std::error_code ec;
    if (fs::exists(dir / name, ec)) return dir / name;
  }
  return {};
}

namespace {

double nan_to(double v, double fallback) {
  return std::isfinite(v) ? v : fallback;
}
json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

struct ProjectionSet {
  bool present = false;
  Tensor projections;  // (K,n,32,32) f32
  Tensor origins;      // (K,n,2) i32 (y, x) in the input frame
  Tensor top_images;   // (K,n) i32
  Tensor top_values;   // (K,n) f32 (may be undefined)
  int maps = 0, n = 0;
  std::string checkpoint;         // the model visualize analysed (empty in older files)
  bool checkpoint_given = false;  // given with `visualize --checkpoint`, not trained here
};

ProjectionSet load_projections(const RunConfig& cfg, const fs::path& run_dir,
                               std::vector<std::string>& notes) {
  ProjectionSet p;
  const fs::path file = run_dir / "projections.safetensors";
  if (!fs::exists(file)) {
    notes.push_back("projections.safetensors is missing: no projections (run `" +
                    stage_command(cfg, "visualize") + "`)");
    return p;
  }
  SafeTensors st = load_safetensors(file);
  for (const char* name : {"projections", "origins", "top_images"})
    AULENS_REQUIRE(st.tensors.count(name), file.string() + ": no tensor '" + name + "'");
  p.projections = as_f32(st.tensors.at("projections"));
  p.origins = as_i32(st.tensors.at("origins"));
  p.top_images = as_i32(st.tensors.at("top_images"));
  if (st.tensors.count("top_values")) p.top_values = as_f32(st.tensors.at("top_values"));
  AULENS_REQUIRE(p.projections.rank() == 4 && p.projections.dim(2) == kWindow &&
                     p.projections.dim(3) == kWindow,
                 file.string() + ": 'projections' must be (K,n,32,32)");
  p.maps = static_cast<int>(p.projections.dim(0));
  p.n = static_cast<int>(p.projections.dim(1));
  if (st.metadata.count("checkpoint")) p.checkpoint = st.metadata.at("checkpoint");
  p.checkpoint_given =
      st.metadata.count("checkpoint_given") && st.metadata.at("checkpoint_given") == "true";
  p.present = true;
  return p;
}

// The model visualize analysed, as the projections and the sweep name it (visualize writes it into
// projections.safetensors; sweep copies it from records.safetensors into sweep_info.json).
struct AnalysedModel {
  std::string checkpoint;  // empty when no input names it (files of an older aulens)
  bool given = false;      // trained elsewhere (visualize.checkpoint or `visualize --checkpoint`)
};

// <run_dir>/sweep_info.json (what `aulens sweep` ran on), or null when there is none.
json read_sweep_info(const fs::path& run_dir) {
  const fs::path info_file = run_dir / "sweep_info.json";
  if (!fs::exists(info_file)) return nullptr;
  std::ifstream in(info_file);
  const json info = json::parse(in, nullptr, /*allow_exceptions=*/false);
  AULENS_REQUIRE(!info.is_discarded() && info.is_object(),
                 info_file.string() + ": not valid JSON (expected an object)");
  return info;
}

// metrics.json as the trainer writes it (metrics_json), checked before the page relies on it: a
// file damaged or edited by hand is an error naming it and the first thing out of place.
void check_training_metrics(const json& t, const fs::path& file) {
  auto fail = [&](const std::string& what) {
    throw Error(file.string() + ": " + what + " (`aulens train` writes the file again)");
  };
  auto numeric_or_null = [](const json& v) { return v.is_number() || v.is_null(); };
  if (!t.is_object()) fail("expected a JSON object");
  const auto names = t.find("class_names");
  if (names == t.end() || !names->is_array() || names->empty())
    fail("expected \"class_names\", an array of class names");
  for (const json& name : *names)
    if (!name.is_string()) fail("\"class_names\" holds " + name.dump() + ", not a name");
  const std::size_t classes = names->size();
  for (const char* key : {"device", "stop_reason"})
    if (t.contains(key) && !t[key].is_string())
      fail(std::string("\"") + key + "\" is not a string");
  if (t.contains("best_epoch") && !t["best_epoch"].is_number_integer())
    fail("\"best_epoch\" is not an integer");
  if (t.contains("best_test_accuracy") && !numeric_or_null(t["best_test_accuracy"]))
    fail("\"best_test_accuracy\" is not a number");
  const auto epochs = t.find("epochs");
  if (epochs == t.end() || !epochs->is_array()) fail("expected \"epochs\", an array");
  for (std::size_t i = 0; i < epochs->size(); ++i) {
    const json& e = (*epochs)[i];
    const std::string where = "epochs[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("epoch") || !e["epoch"].is_number_integer())
      fail(where + " is not an object with an integer \"epoch\"");
    for (const char* key : {"train_loss", "train_accuracy", "test_loss", "test_accuracy"})
      if (!e.contains(key) || !numeric_or_null(e[key]))
        fail(where + "." + key + " is missing or not a number");
    const json* confusion = e.contains("test_confusion") ? &e["test_confusion"] : nullptr;
    bool ok = confusion && confusion->is_array() && confusion->size() == classes * classes;
    for (std::size_t k = 0; ok && k < confusion->size(); ++k) ok = (*confusion)[k].is_number();
    if (!ok)
      fail(where + ".test_confusion is missing or not an array of " +
           std::to_string(classes * classes) + " numbers (" + std::to_string(classes) +
           " classes)");
    const json* recall =
        e.contains("test_per_class_accuracy") ? &e["test_per_class_accuracy"] : nullptr;
    ok = recall && recall->is_array() && recall->size() == classes;
    for (std::size_t k = 0; ok && k < recall->size(); ++k) ok = numeric_or_null((*recall)[k]);
    if (!ok)
      fail(where + ".test_per_class_accuracy is missing or not an array of " +
           std::to_string(classes) + " numbers");
  }
}

AnalysedModel analysed_model(const json& sweep_info, const RunConfig& cfg,
                             const ProjectionSet& proj, std::vector<std::string>& notes) {
  AnalysedModel from_projections{proj.checkpoint, proj.checkpoint_given};
  AnalysedModel from_sweep;
  if (sweep_info.contains("checkpoint") && sweep_info["checkpoint"].is_string())
    from_sweep = {sweep_info["checkpoint"].get<std::string>(),
                  sweep_info.value("checkpoint_given", false)};
  if (from_projections.checkpoint.empty()) {
    if (from_sweep.given && !proj.present)
      notes.push_back("the sweep is of " + from_sweep.checkpoint +
                      ", a model trained elsewhere: its projections come from `" +
                      stage_command(cfg, "visualize") + " --checkpoint " +
                      shell_word(from_sweep.checkpoint) + "`");
    return from_sweep;
  }
  if (!from_sweep.checkpoint.empty() && (from_sweep.checkpoint != from_projections.checkpoint ||
                                         from_sweep.given != from_projections.given)) {
    notes.push_back("the projections are of " + from_projections.checkpoint +
                    " but the sweep is of " + from_sweep.checkpoint +
                    ": the AU table mixes two models (run `" + stage_command(cfg, "sweep") +
                    "` after the visualize that made the projections)");
  }
  // A report that shows the folder's training curves beside an analysis of another model would
  // mislead: either input naming a given model is enough to leave them out.
  return {from_projections.checkpoint, from_projections.given || from_sweep.given};
}

// The n of the sweep that wrote best_maps.csv (its top_n_with_au counts over that many images),
// from sweep_info.json; the config's sweep.top_n when the file does not say.
int swept_top_n(const RunConfig& cfg, const json& sweep_info) {
  return sweep_info.contains("top_n") && sweep_info["top_n"].is_number_integer()
             ? sweep_info["top_n"].get<int>()
             : cfg.sweep.top_n;
}

// The AU carried by the most of map k's top images (ties: the rarer AU in the dataset), for the
// gallery: a label from the annotations beside the sweep's distance. column −1 when none carries
// any.
struct TopCarried {
  int column = -1, count = 0;
  double rate = 0.0;  // share of all dataset images carrying it
};
// au_rates: (A) share of all dataset images carrying each AU column (au_rates()).
TopCarried most_carried_au(const ProjectionSet& proj, const Dataset& data,
                           const std::vector<double>& au_rates, int k) {
  TopCarried best;
  const std::int64_t m = data.aus.dim(0), a = data.aus.dim(1);
  const float* aus = data.aus.data<float>();
  const std::int32_t* top = proj.top_images.data<std::int32_t>() + std::int64_t{k} * proj.n;
  for (std::int64_t c = 0; c < a; ++c) {
    int count = 0;
    for (int r = 0; r < proj.n; ++r)
      count += top[r] >= 0 && top[r] < m && aus[std::int64_t{top[r]} * a + c] > 0.0f;
    if (count > 0 && (count > best.count || (count == best.count && au_rates[c] < best.rate)))
      best = {static_cast<int>(c), count, au_rates[c]};
  }
  return best;
}

// Per AU column, the share of all dataset images carrying it.
std::vector<double> au_rates(const Dataset& data) {
  const std::int64_t m = data.aus.dim(0), a = data.aus.dim(1);
  const float* aus = data.aus.data<float>();
  std::vector<double> rates(static_cast<std::size_t>(a), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t c = 0; c < a; ++c) rates[c] += aus[i * a + c] > 0.0f;
  for (double& rate : rates) rate /= static_cast<double>(m);
  return rates;
}

int au_column(const Dataset& data, std::int32_t au) {
  const auto it = std::find(data.au_ids.begin(), data.au_ids.end(), au);
  return it == data.au_ids.end() ? -1 : static_cast<int>(it - data.au_ids.begin());
}

#ifdef AULENS_HAVE_OPENCV
// The network's input view of image `image` (the centre input_size crop), as a tile.
ReportTile input_tile(const Dataset& data, int image, int input_size) {
  const int s = data.crop_size, off = (s - input_size) / 2;
  ReportTile t;
  t.h = t.w = input_size;
  t.grey.resize(static_cast<std::size_t>(input_size) * input_size);
  const std::uint8_t* crop =
      data.crops.data<std::uint8_t>() + static_cast<std::int64_t>(image) * s * s;
  for (int y = 0; y < input_size; ++y)
    for (int x = 0; x < input_size; ++x) t.grey[y * input_size + x] = crop[(y + off) * s + x + off];
  return t;
}

ReportBox crop_box_in_input(const float* box, float off, std::uint8_t r, std::uint8_t g,
                            std::uint8_t b) {
  return {box[0] - off, box[1] - off, box[2] - off, box[3] - off, r, g, b};
}

// Top-n projections of `map` over the input crops: heat, receptive field (cyan), the AU region
// (green: the image's own box; yellow: the AU's median box).
void write_projection_strip(const fs::path& png, const Dataset& data, const ProjectionSet& p,
                            int map, int column, const std::array<float, 4>& median,
                            int input_size) {
  const float off = static_cast<float>((data.crop_size - input_size) / 2);
  std::vector<ReportTile> tiles;
  const std::int32_t* images = p.top_images.data<std::int32_t>();
  const std::int32_t* origins = p.origins.data<std::int32_t>();
  const float* windows = p.projections.data<float>();
  const std::int64_t a = data.au_regions.defined() ? data.au_regions.dim(1) : 0;
  for (int r = 0; r < p.n; ++r) {
    const std::int64_t slot = static_cast<std::int64_t>(map) * p.n + r;
    const int image = images[slot];
    if (image < 0 || image >= data.size()) continue;
    ReportTile t = input_tile(data, image, input_size);
    t.heat.assign(t.grey.size(), 0.0f);
    const int oy = origins[slot * 2], ox = origins[slot * 2 + 1];
    for (int i = 0; i < kWindow; ++i)
      for (int j = 0; j < kWindow; ++j) {
        const int y = oy + i, x = ox + j;
        if (y >= 0 && y < input_size && x >= 0 && x < input_size)
          t.heat[y * input_size + x] = windows[slot * kWindow * kWindow + i * kWindow + j];
      }
    t.boxes.push_back({static_cast<float>(ox), static_cast<float>(oy),
                       static_cast<float>(ox + kWindow), static_cast<float>(oy + kWindow), 0, 200,
                       255});
    if (column >= 0 && a > 0) {
      const float* own =
          data.au_regions.data<float>() + (static_cast<std::int64_t>(image) * a + column) * 4;
      if (own[0] != kNoRegion) {
        t.boxes.push_back(crop_box_in_input(own, off, 0, 230, 0));
      } else if (median[0] != kNoRegion) {
        t.boxes.push_back(crop_box_in_input(median.data(), off, 255, 220, 0));
      }
    }
    tiles.push_back(std::move(t));
  }
  if (!tiles.empty()) write_tile_strip(png, tiles, 2);
}

// Up to `count` face crops carrying the AU (strongest intensity first), its box in green.
bool write_example_strip(const fs::path& png, const Dataset& data, int column, int count) {
  const std::int64_t m = data.size(), a = data.aus.dim(1);
  const float* aus = data.aus.data<float>();
  std::vector<int> carrying;
  for (std::int64_t i = 0; i < m; ++i)
    if (au_present(aus[i * a + column])) carrying.push_back(static_cast<int>(i));
  if (carrying.empty()) return false;
  std::stable_sort(carrying.begin(), carrying.end(), [&](int x, int y) {
    return aus[static_cast<std::int64_t>(x) * a + column] >
           aus[static_cast<std::int64_t>(y) * a + column];
  });
  // Spread the picks over subjects: at most one image per subject while others remain.
  std::vector<int> picks, seen_subjects;
  const std::int32_t* subject = data.subject.data<std::int32_t>();
  for (const int i : carrying) {
    if (static_cast<int>(picks.size()) == count) break;
    if (std::find(seen_subjects.begin(), seen_subjects.end(), subject[i]) != seen_subjects.end())
      continue;
    seen_subjects.push_back(subject[i]);
    picks.push_back(i);
  }
  std::vector<ReportTile> tiles;
  const int s = data.crop_size;
  for (const int i : picks) {
    ReportTile t;
    t.h = t.w = s;
    const std::uint8_t* crop =
        data.crops.data<std::uint8_t>() + static_cast<std::int64_t>(i) * s * s;
    t.grey.assign(crop, crop + static_cast<std::int64_t>(s) * s);
    if (data.au_regions.defined()) {
      const float* box =
          data.au_regions.data<float>() + (static_cast<std::int64_t>(i) * a + column) * 4;
      if (box[0] != kNoRegion) t.boxes.push_back({box[0], box[1], box[2], box[3], 0, 230, 0});
    }
    tiles.push_back(std::move(t));
  }
  write_tile_strip(png, tiles, 2);
  return true;
}

// The top-n projection windows of one map, each scaled to ±max as grey (the deconvnet view).
void write_map_strip(const fs::path& png, const ProjectionSet& p, int map) {
  std::vector<ReportTile> tiles;
  for (int r = 0; r < p.n; ++r) {
    const float* w = p.projections.data<float>() +
                     (static_cast<std::int64_t>(map) * p.n + r) * kWindow * kWindow;
    float peak = 0.0f;
    for (int i = 0; i < kWindow * kWindow; ++i) peak = std::max(peak, std::fabs(w[i]));
    ReportTile t;
    t.h = t.w = kWindow;
    t.grey.resize(kWindow * kWindow);
    for (int i = 0; i < kWindow * kWindow; ++i)
      t.grey[i] =
          static_cast<std::uint8_t>(std::lround(128.0f + (peak > 0 ? 127.0f * w[i] / peak : 0.0f)));
    tiles.push_back(std::move(t));
  }
  write_tile_strip(png, tiles, 2);
}
#endif

std::string au_label(std::int32_t au) {
  return "AU" + std::to_string(au);
}

}  // namespace

ReportResult write_report(const RunConfig& cfg, const fs::path& run_dir,
                          const std::function<void()>& inputs_accepted) {
  ReportResult result;
  std::vector<std::string>& notes = result.notes;
  const int input_size = cfg.model.input_size;

  // ---- the dataset and its split ----
  const fs::path cache_file = run_dir / "dataset.safetensors";
  require_stage_output(cfg, cache_file, "prepare");
  const DatasetCache cache = load_dataset_cache(cache_file, cfg);
  const Dataset& data = cache.data;
  const Split& split = cache.split;
  json doc;
  doc["run_dir"] = run_dir.string();
  doc["config_file"] = cfg.source_file.string();
  doc["cpu_sized"] = cfg.cpu_overrides_applied;
  doc["model"] = {{"conv1", cfg.model.conv1}, {"conv2", cfg.model.conv2},
                  {"conv3", cfg.model.conv3}, {"fc", cfg.model.fc},
                  {"input_size", input_size}, {"classes", cfg.model.classes}};
  {
    json d;
    d["source"] = data.source;
    d["root"] = data.root;
    d["images"] = data.size();
    d["subjects"] = data.subject_names.size();
    d["crop_size"] = data.crop_size;
    d["issues"] = data.issues.size();
    d["summary"] = dataset_summary(data, split);
    std::vector<std::int64_t> per_class(data.class_names.size(), 0);
    const std::int32_t* labels = data.labels.data<std::int32_t>();
    for (std::int64_t i = 0; i < data.size(); ++i)
      if (labels[i] >= 0 && labels[i] < static_cast<int>(per_class.size())) ++per_class[labels[i]];
    d["class_names"] = data.class_names;
    d["class_counts"] = per_class;
    json au_counts = json::array();
    const std::int64_t a = data.aus.defined() ? data.aus.dim(1) : 0;
    for (std::int64_t j = 0; j < a; ++j) {
      std::int64_t count = 0;
      for (std::int64_t i = 0; i < data.size(); ++i)
        if (au_present(data.aus.data<float>()[i * a + j])) ++count;
      au_counts.push_back({{"au", data.au_ids[j]}, {"images", count}});
    }
    d["au_counts"] = au_counts;
    // Subjects in both splits (the random_200 protocol), counted rather than trusted.
    const std::int32_t* subject = data.subject.data<std::int32_t>();
    std::vector<char> in_train(data.subject_names.size(), 0);
    for (const auto i : split.train) in_train[subject[i]] = 1;
    std::vector<char> shared(data.subject_names.size(), 0);
    for (const auto i : split.test)
      if (in_train[subject[i]]) shared[subject[i]] = 1;
    d["split"] = {{"protocol", split.protocol},
                  {"train", split.train.size()},
                  {"test", split.test.size()},
                  {"subject_overlapping", split.subject_overlapping},
                  {"shared_subjects", std::accumulate(shared.begin(), shared.end(), 0)}};
    doc["dataset"] = d;
  }

  // ---- sweep, projections, and the training of the analysed model ----
  const report_detail::SweepTable sweep = report_detail::read_sweep(cfg, run_dir, notes);
  const ProjectionSet proj = load_projections(cfg, run_dir, notes);
  const json sweep_info = read_sweep_info(run_dir);
  const AnalysedModel model = analysed_model(sweep_info, cfg, proj, notes);
  if (!model.checkpoint.empty()) doc["model"]["checkpoint"] = model.checkpoint;
  doc["model"]["checkpoint_given"] = model.given;
  const fs::path metrics_file = run_dir / "metrics.json";
  if (model.given) {
    notes.push_back("the analysed model is " + model.checkpoint +
                    ", a model trained elsewhere (visualize.checkpoint or `aulens visualize "
                    "--checkpoint`): no training curves" +
                    (fs::exists(metrics_file)
                         ? " (" + metrics_file.string() + " is of the run folder's own training)"
                         : std::string()));
  } else if (fs::exists(metrics_file)) {
    std::ifstream in(metrics_file);
    try {
      doc["training"] = json::parse(in);
    } catch (const std::exception& e) {
      throw Error(metrics_file.string() + ": not valid JSON: " + e.what());
    }
    check_training_metrics(doc["training"], metrics_file);
  } else {
    notes.push_back("metrics.json is missing: no training curves (run `" +
                    stage_command(cfg, "train") + "`)");
  }
  // Every input is read and accepted: from here on the report is written.
  if (inputs_accepted) inputs_accepted();
  const fs::path out = run_dir / "report";
  const fs::path img = out / "img";
  fs::remove_all(img);  // pictures of an earlier report (another model, more maps) go
  fs::create_directories(img);
#ifndef AULENS_HAVE_OPENCV
  notes.push_back("this build has no OpenCV: the report has no face-crop or projection images");
#endif
  const bool has_regions = data.au_regions.defined() && data.au_regions.numel() > 0;
  json aus = json::array();
  const int top_n_swept = swept_top_n(cfg, sweep_info);
  for (const report_detail::BestMap& b : sweep.best) {
    json row;
    row["au"] = b.au;
    row["label"] = au_label(b.au);
    row["name"] = b.name;
    row["map"] = b.map;
    row["distance"] = number_or_null(b.distance);
    row["margin"] = number_or_null(b.margin);
    row["p_value"] = number_or_null(b.p_value);
    row["with"] = b.with;
    row["without"] = b.without;
    if (!b.direction.empty()) row["direction"] = b.direction;
    if (b.top_with_au >= 0) {
      row["top_with_au"] = b.top_with_au;
      row["sweep_top_n"] = top_n_swept;
    }
    int by_auc = -1;  // the map whose AUC is farthest from 0.5
    const auto it = std::find(sweep.au_ids.begin(), sweep.au_ids.end(), b.au);
    if (it != sweep.au_ids.end()) {
      const std::size_t r = static_cast<std::size_t>(it - sweep.au_ids.begin());
      json distances = json::array();
      for (int k = 0; k < sweep.maps; ++k)
        distances.push_back(number_or_null(sweep.distance[r * sweep.maps + k]));
      row["distances"] = distances;
      // The best map's AUC, and the map whose AUC is farthest from 0.5 (the detector by rank;
      // the paper's distance can favour large-scale or mostly-zero maps).
      if (sweep.auc.size() >= (r + 1) * static_cast<std::size_t>(sweep.maps)) {
        const float* auc = sweep.auc.data() + r * sweep.maps;
        if (b.map >= 0 && b.map < sweep.maps) row["auc"] = number_or_null(auc[b.map]);
        for (int k = 0; k < sweep.maps; ++k) {
          if (!std::isfinite(auc[k])) continue;
          if (by_auc < 0 || std::fabs(auc[k] - 0.5f) > std::fabs(auc[by_auc] - 0.5f)) by_auc = k;
        }
        if (by_auc >= 0) {
          row["auc_map"] = by_auc;
          row["auc_map_auc"] = auc[by_auc];
        }
      }
    }
    const int column = au_column(data, b.au);
    if (proj.present && b.map >= 0 && b.map < proj.maps && column >= 0 && has_regions) {
      const RegionScore score = score_region(proj.projections, proj.origins, proj.top_images, data,
                                             column, b.map, input_size);
      if (score.scored) {
        result.ground_truth.push_back(score);
        ++result.scored;
        if (score.hit) ++result.hits;
        row["region"] = {{"share", score.share},
                         {"baseline", score.baseline},
                         {"hit", score.hit},
                         {"images", score.images},
                         {"own_region", score.own_region}};
      }
    }
    if (proj.present && by_auc >= 0 && by_auc < proj.maps && column >= 0 && has_regions) {
      const RegionScore score = score_region(proj.projections, proj.origins, proj.top_images, data,
                                             column, by_auc, input_size);
      if (score.scored) {
        ++result.auc_scored;
        if (score.hit) ++result.auc_hits;
        row["auc_region"] = {{"share", score.share}, {"hit", score.hit}};
      }
    }
#ifdef AULENS_HAVE_OPENCV
    const std::string stem = "au_" + std::to_string(b.au);
    if (column >= 0 && write_example_strip(img / (stem + "_examples.png"), data, column, 4))
      row["examples_png"] = "img/" + stem + "_examples.png";
    if (proj.present && b.map >= 0 && b.map < proj.maps) {
      const auto median = column >= 0 && has_regions
                              ? median_region(data, column)
                              : std::array<float, 4>{kNoRegion, kNoRegion, kNoRegion, kNoRegion};
      write_projection_strip(img / (stem + "_projections.png"), data, proj, b.map, column, median,
                             input_size);
      row["projections_png"] = "img/" + stem + "_projections.png";
    }
#endif
    char deconv_name[32];
    std::snprintf(deconv_name, sizeof(deconv_name), "map_%03d.png", b.map);
    if (b.map >= 0 && fs::exists(run_dir / "deconv" / deconv_name)) {
      fs::copy_file(run_dir / "deconv" / deconv_name, img / ("deconv_" + std::string(deconv_name)),
                    fs::copy_options::overwrite_existing);
      row["deconv_png"] = "img/deconv_" + std::string(deconv_name);
    }
    aus.push_back(row);
  }
  doc["aus"] = aus;
  result.hit_rate = result.scored > 0 ? static_cast<double>(result.hits) / result.scored : 0.0;
  doc["ground_truth"] = {{"hits", result.hits},         {"scored", result.scored},
                         {"auc_hits", result.auc_hits}, {"auc_scored", result.auc_scored},
                         {"hit_rate", result.hit_rate}, {"threshold", kGroundTruthHitShare},
                         {"available", has_regions}};

  // ---- gallery: every map, with its strongest AU ----
  json maps = json::array();
  const std::vector<double> rates =
      data.aus.defined() && data.aus.numel() > 0 ? au_rates(data) : std::vector<double>();
  const int map_count = proj.present ? proj.maps : sweep.maps;
  for (int k = 0; k < map_count; ++k) {
    json m;
    m["map"] = k;
    double best = -1.0;
    std::int32_t best_au = -1;
    for (std::size_t r = 0; r < sweep.au_ids.size() && k < sweep.maps; ++r) {
      const double d = nan_to(sweep.distance[r * sweep.maps + k], -1.0);
      if (d > best) {
        best = d;
        best_au = sweep.au_ids[r];
      }
    }
    m["score"] = best >= 0 ? json(best) : json(nullptr);
    m["au"] = best_au >= 0 ? json(au_label(best_au)) : json(nullptr);
    if (proj.present && proj.top_values.defined())
      m["top_value"] = proj.top_values.data<float>()[static_cast<std::int64_t>(k) * proj.n];
    if (proj.present && !rates.empty()) {
      const TopCarried carried = most_carried_au(proj, data, rates, k);
      if (carried.column >= 0) {
        m["top_au"] = au_label(data.au_ids[carried.column]);
        m["top_au_count"] = carried.count;
        m["top_au_rate"] = carried.rate;
        m["top_n"] = proj.n;
      }
    }
#ifdef AULENS_HAVE_OPENCV
    if (proj.present) {
      char name[32];
      std::snprintf(name, sizeof(name), "map_%03d.png", k);
      write_map_strip(img / name, proj, k);
      m["png"] = std::string("img/") + name;
    }
#endif
    maps.push_back(m);
  }
  doc["maps"] = maps;
  doc["notes"] = notes;

  // ---- Chart.js and the page ----
  const fs::path chart_js = find_chart_js();
  if (chart_js.empty()) {
    notes.push_back("Chart.js not found (install the Debian package libjs-chart.js): no charts");
    doc["notes"] = notes;
  } else {
    fs::copy_file(chart_js, out / "chart.js", fs::copy_options::overwrite_existing);
  }
  result.index_html = out / "index.html";
  write_file_atomically(result.index_html, report_detail::render_page(doc, !chart_js.empty()));

  const fs::path best_csv = run_dir / "best_maps.csv";
  if (fs::exists(best_csv) && has_regions && proj.present)
    report_detail::append_ground_truth_columns(best_csv, result.ground_truth);
  return result;
}

}  // namespace aulens
