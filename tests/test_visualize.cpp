// The visualize stage (aulens/visualize.h, aulens/render.h) on the CPU: a tiny dataset cache and a
// narrow network's checkpoint are written to a temporary folder, run_visualize runs on them, and
// every output is checked against an independent computation: records against a plain forward
// pass, topk.csv against the records, projections' shapes and origins and their pixels against
// the full-image deconvnet, the PNG sizes and their pixels against the tile functions, and the
// display normalisation itself.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "aulens/checkpoint.h"
#include "aulens/dataset.h"
#include "aulens/net.h"
#include "aulens/records.h"
#include "aulens/render.h"
#include "aulens/safetensors.h"
#include "aulens/visualize.h"
#include "fresh_seed.h"
#ifdef AULENS_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace fs = std::filesystem;
using namespace aulens;

namespace {

constexpr int kImages = 14;
constexpr int kCrop = 35;

NetConfig tiny_net() {
  NetConfig net;
  net.input_size = 32;
  net.conv1 = 3;
  net.conv2 = 4;
  net.conv3 = 6;
  net.fc = 8;
  net.classes = 3;
  return net;
}

// A dataset of random face crops; image 3 has no label (kept for the AU analysis); image 5's
// source path holds a comma (quoted in topk.csv).
DatasetCache tiny_dataset(std::uint32_t seed) {
  std::mt19937 rng(seed);
  DatasetCache cache;
  Dataset& d = cache.data;
  d.source = "synthetic";
  d.root = "/nowhere";
  d.crop_size = kCrop;
  d.class_names = {"a", "b", "c"};
  d.au_ids = {1, 12};
  d.crops = Tensor({kImages, kCrop, kCrop}, DType::u8);
  for (std::int64_t i = 0; i < d.crops.numel(); ++i)
    d.crops.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng() % 256);
  std::vector<std::int32_t> labels(kImages), subject(kImages), seq(kImages), frame(kImages);
  for (int i = 0; i < kImages; ++i) {
    labels[i] = i == 3 ? kNoLabel : i % 3;
    subject[i] = i / 5;
    seq[i] = 1;
    frame[i] = i;
    d.source_paths.push_back("cohn-kanade-images/S00" + std::to_string(i / 5) + "/001/img_" +
                             (i == 5 ? std::string("with,comma_") : std::string()) +
                             std::to_string(i) + ".png");
  }
  d.labels = Tensor::from_vector<std::int32_t>({kImages}, labels);
  d.subject = Tensor::from_vector<std::int32_t>({kImages}, subject);
  d.sequence = Tensor::from_vector<std::int32_t>({kImages}, seq);
  d.frame = Tensor::from_vector<std::int32_t>({kImages}, frame);
  d.aus = Tensor::zeros({kImages, 2}, DType::f32);
  d.landmarks = Tensor({kImages, kLandmarkCount, 2}, DType::f32);
  std::fill_n(d.landmarks.data<float>(), d.landmarks.numel(), NAN);
  d.au_regions = Tensor({kImages, 2, 4}, DType::f32);
  std::fill_n(d.au_regions.data<float>(), d.au_regions.numel(), kNoRegion);
  d.subject_names = {"S000", "S001", "S002"};
  cache.split.train = {0, 1, 2, 4, 5, 6, 7, 8, 9};
  cache.split.test = {10, 11, 12, 13};
  cache.split.protocol = "test split";
  return cache;
}

// Splits one CSV line into fields (RFC 4180 quotes).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

class VisualizeStage : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = aulens::testing::fresh_seed();
    dir_ = fs::temp_directory_path() /
           ("aulens_visualize_" + std::to_string(::getpid()) + "_" + std::to_string(seed_));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "checkpoints");
    cache_ = tiny_dataset(seed_);
    cfg_.output = dir_;
    cfg_.model = tiny_net();
    cfg_.visualize.images = "all";
    cfg_.visualize.top_n = 4;
    save_dataset_cache(dir_ / "dataset.safetensors", cache_.data, cache_.split,
                       config_to_yaml(cfg_));
    TrainState state;
    state.params = init_params(tiny_net(), seed_, Device::cpu);
    state.epoch = 2;
    params_ = state.params;
    save_checkpoint(dir_ / "checkpoints" / "best.safetensors", tiny_net(), state);
    options_.device = Device::cpu;
    options_.log = [this](const std::string& line) { log_ += line + "\n"; };
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::uint32_t seed_ = 0;
  fs::path dir_;
  DatasetCache cache_;
  Params params_;
  RunConfig cfg_;
  VisualizeOptions options_;
  std::string log_;
};

TEST_F(VisualizeStage, WritesRecordsTopkAndProjectionsThatAgree) {
  const VisualizeSummary summary = run_visualize(cfg_, options_);
  SCOPED_TRACE("seed " + std::to_string(seed_) + "\n" + log_);
  const NetConfig net = tiny_net();
  const int k = net.conv3, n = cfg_.visualize.top_n, grid = net.input_size / 4;
  EXPECT_EQ(summary.image_count, kImages);
  EXPECT_EQ(summary.maps, k);
  for (const char* name : {"records.safetensors", "topk.csv", "projections.safetensors"})
    EXPECT_TRUE(fs::exists(dir_ / name)) << name;

  // Records against an independent forward pass over all images in one batch.
  const SafeTensors rec = load_safetensors(dir_ / "records.safetensors");
  const Tensor& value = rec.tensors.at("conv3_value");
  const Tensor& position = rec.tensors.at("conv3_position");
  const Tensor& index = rec.tensors.at("image_index");
  ASSERT_EQ(value.shape(), (Shape{kImages, k}));
  ASSERT_EQ(value.dtype(), DType::f32);
  ASSERT_EQ(position.shape(), (Shape{kImages, k}));
  ASSERT_EQ(position.dtype(), DType::i32);
  ASSERT_EQ(index.shape(), (Shape{kImages}));
  ASSERT_EQ(index.dtype(), DType::i32);
  EXPECT_EQ(rec.tensors.count("conv1_value"), 0u);
  EXPECT_EQ(rec.metadata.at("images"), "all");
  EXPECT_EQ(rec.metadata.at("subject_overlapping"), "false");
  EXPECT_EQ(rec.metadata.at("net.conv3"), std::to_string(k));
  std::vector<std::int32_t> all(kImages);
  for (int i = 0; i < kImages; ++i) all[i] = i;
  EXPECT_EQ(index.to_vector<std::int32_t>(), all);
  const Tensor inputs = centre_inputs<CpuOps>(net.input_size, cache_.data.crops, all);
  Activations acts;
  Network<CpuOps>(net).forward(params_, inputs, false, DropoutDraw{}, acts);
  const int hw = grid * grid;
  double worst = 0;
  std::int64_t worst_at = -1;
  int live = 0;
  for (std::int64_t e = 0; e < kImages * k; ++e) {
    const float* plane = acts.conv3.data<float>() + e * hw;
    const float expect = *std::max_element(plane, plane + hw);
    const float got = value.data<float>()[e];
    const double err = std::abs(got - expect) - (1e-5 + 1e-5 * std::abs(expect));
    if (err > worst) worst = err, worst_at = e;
    live += expect > 0;
    EXPECT_NEAR(plane[position.data<std::int32_t>()[e]], got, 1e-5 + 1e-5 * std::abs(got)) << e;
  }
  EXPECT_LE(worst, 0.0) << "worst record error at (image, map) = (" << worst_at / k << ", "
                        << worst_at % k << ")";
  EXPECT_GT(live, kImages * k / 4) << "too few non-zero maxima for a meaningful top-n";

  // topk.csv: K·n rows, ranks 1..n, values descending, each the record of its image, and no
  // image outside the top-n beats rank n.
  std::ifstream csv(dir_ / "topk.csv");
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_EQ(line, "map,rank,image,source_path,value,y,x");
  std::vector<std::vector<std::string>> rows;
  while (std::getline(csv, line)) rows.push_back(csv_fields(line));
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(k * n));
  const SafeTensors proj = load_safetensors(dir_ / "projections.safetensors");
  const Tensor& top_images = proj.tensors.at("top_images");
  const Tensor& top_values = proj.tensors.at("top_values");
  const Tensor& origins = proj.tensors.at("origins");
  ASSERT_EQ(proj.tensors.at("projections").shape(), (Shape{k, n, 32, 32}));
  ASSERT_EQ(proj.tensors.at("projections").dtype(), DType::f32);
  ASSERT_EQ(origins.shape(), (Shape{k, n, 2}));
  ASSERT_EQ(origins.dtype(), DType::i32);
  ASSERT_EQ(top_images.shape(), (Shape{k, n}));
  ASSERT_EQ(top_values.shape(), (Shape{k, n}));
  for (int m = 0; m < k; ++m) {
    std::vector<bool> in_top(kImages, false);
    for (int r = 0; r < n; ++r) {
      const auto& f = rows[m * n + r];
      ASSERT_EQ(f.size(), 7u) << "row " << m * n + r;
      EXPECT_EQ(std::stoi(f[0]), m);
      EXPECT_EQ(std::stoi(f[1]), r + 1);
      const int image = std::stoi(f[2]);
      ASSERT_TRUE(image >= 0 && image < kImages);
      in_top[image] = true;
      EXPECT_EQ(f[3], cache_.data.source_paths[image]);
      const float v = std::stof(f[4]);
      const int y = std::stoi(f[5]), x = std::stoi(f[6]);
      EXPECT_EQ(v, value.data<float>()[image * k + m]) << "map " << m << " rank " << r + 1;
      EXPECT_EQ(y * grid + x, position.data<std::int32_t>()[image * k + m]);
      if (r > 0) {
        EXPECT_LE(v, std::stof(rows[m * n + r - 1][4])) << "map " << m << " rank " << r + 1;
      }
      EXPECT_EQ(top_images.data<std::int32_t>()[m * n + r], image);
      EXPECT_EQ(top_values.data<float>()[m * n + r], v);
      EXPECT_EQ(origins.data<std::int32_t>()[2 * (m * n + r)], 4 * y - 14);
      EXPECT_EQ(origins.data<std::int32_t>()[2 * (m * n + r) + 1], 4 * x - 14);
    }
    const float last = std::stof(rows[m * n + n - 1][4]);
    for (int i = 0; i < kImages; ++i)
      if (!in_top[i]) {
        EXPECT_LE(value.data<float>()[i * k + m], last) << "map " << m << " image " << i;
      }
  }
  EXPECT_LE(summary.worst_seed_mismatch, 1e-4);

  // The stored windows against the full-image deconvnet (deconv_project, proven against PyTorch
  // in test_golden) of the same (image, map, y, x), placed at the window's origin: every (map,
  // rank) in its own slot, projected from its own image.
  const float* windows = proj.tensors.at("projections").data<float>();
  int projected = 0;
  for (int m = 0; m < k; ++m) {
    for (int r = 0; r < n; ++r) {
      const auto& f = rows[m * n + r];
      const int image = std::stoi(f[2]), y = std::stoi(f[5]), x = std::stoi(f[6]);
      const auto full =
          deconv_project<CpuOps>(net, params_, acts, image, m, y, x).to_vector<float>();
      float full_max = 0.0f;
      for (float v : full) full_max = std::max(full_max, std::fabs(v));
      projected += full_max > 0.0f;
      const int oy = 4 * y - 14, ox = 4 * x - 14, s = net.input_size;
      const float* window = windows + (m * n + r) * 32 * 32;
      for (int i = 0; i < 32; ++i) {
        for (int j = 0; j < 32; ++j) {
          const int row = oy + i, col = ox + j;
          const bool inside = row >= 0 && row < s && col >= 0 && col < s;
          const float want = inside ? full[row * s + col] : 0.0f;
          ASSERT_NEAR(window[i * 32 + j], want, 1e-6f + 1e-4f * full_max)
              << "map " << m << " rank " << r + 1 << " image " << image << " pixel (" << i << ", "
              << j << ")";
        }
      }
    }
  }
  EXPECT_GT(projected, k * n / 4) << "too few non-zero projections for a meaningful comparison";
}

#ifdef AULENS_HAVE_OPENCV
TEST_F(VisualizeStage, PngStripsHaveTheComputedSizesAndTiles) {
  const VisualizeSummary summary = run_visualize(cfg_, options_);
  SCOPED_TRACE("seed " + std::to_string(seed_));
  const int k = tiny_net().conv3, n = cfg_.visualize.top_n;
  EXPECT_TRUE(summary.images_written);
  EXPECT_EQ(summary.png_files, k + 1);
  const SafeTensors proj = load_safetensors(dir_ / "projections.safetensors");
  const float* windows = proj.tensors.at("projections").data<float>();
  const std::int32_t* origins = proj.tensors.at("origins").data<std::int32_t>();
  const std::int32_t* images = proj.tensors.at("top_images").data<std::int32_t>();
  const ImageSize strip = strip_size(n);
  EXPECT_EQ(strip.height, 2 * 96 + 2);
  EXPECT_EQ(strip.width, n * 96 + (n - 1) * 2);
  for (int m = 0; m < k; ++m) {
    char name[32];
    std::snprintf(name, sizeof name, "map_%03d.png", m);
    const cv::Mat png = cv::imread((dir_ / "deconv" / name).string(), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(png.empty()) << name;
    ASSERT_EQ(png.type(), CV_8UC1) << name;
    ASSERT_EQ(png.rows, strip.height) << name;
    ASSERT_EQ(png.cols, strip.width) << name;
    // Every tile pixel is the tile function's value, ×3 nearest-neighbour.
    for (int r = 0; r < n; ++r) {
      const int e = m * n + r;
      std::uint8_t tile[32 * 32], crop[32 * 32];
      normalize_projection_tile(windows + e * 1024, origins[2 * e], origins[2 * e + 1], 32, tile);
      receptive_field_crop(cache_.data.crops.data<std::uint8_t>() + images[e] * kCrop * kCrop,
                           kCrop, 32, origins[2 * e], origins[2 * e + 1], crop);
      int bad = 0;
      for (int y = 0; y < 96; ++y)
        for (int x = 0; x < 96; ++x) {
          bad += png.at<std::uint8_t>(y, r * 98 + x) != tile[(y / 3) * 32 + x / 3];
          bad += png.at<std::uint8_t>(98 + y, r * 98 + x) != crop[(y / 3) * 32 + x / 3];
        }
      EXPECT_EQ(bad, 0) << name << " rank " << r + 1;
    }
    EXPECT_EQ(png.at<std::uint8_t>(96, 0), kSeparatorValue);  // the separator row
  }
  const cv::Mat sheet =
      cv::imread((dir_ / "deconv" / "contact_sheet.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(sheet.empty());
  const ImageSize size = contact_sheet_size(k);
  EXPECT_EQ(contact_sheet_columns(k), 3);
  EXPECT_EQ(size.height, 2 * (14 + 64) + 2);
  EXPECT_EQ(size.width, 3 * 64 + 2 * 2);
  EXPECT_EQ(sheet.rows, size.height);
  EXPECT_EQ(sheet.cols, size.width);
  EXPECT_EQ(contact_sheet_size(256).width, 16 * 64 + 15 * 2);

  // A rerun with fewer maps' worth of strips leaves no stale strip behind.
  fs::copy_file(dir_ / "deconv" / "map_000.png", dir_ / "deconv" / "map_100.png");
  run_visualize(cfg_, options_);
  EXPECT_FALSE(fs::exists(dir_ / "deconv" / "map_100.png"));

  // A rerun without images leaves none of the earlier run's strips either: they would show
  // another run's projections beside this run's topk.csv.
  options_.write_images = false;
  EXPECT_FALSE(run_visualize(cfg_, options_).images_written);
  EXPECT_FALSE(fs::exists(dir_ / "deconv"));
  EXPECT_NE(log_.find("were an earlier run's"), std::string::npos) << log_;
}
#else
TEST_F(VisualizeStage, WithoutOpenCvSaysSoAndWritesTheTensors) {
  const VisualizeSummary summary = run_visualize(cfg_, options_);
  EXPECT_FALSE(summary.images_written);
  EXPECT_NE(log_.find("no OpenCV"), std::string::npos) << log_;
  EXPECT_TRUE(fs::exists(dir_ / "projections.safetensors"));
}
#endif

TEST_F(VisualizeStage, AnalysesTheChosenSplitAndRecordsConv1Conv2OnRequest) {
  cfg_.visualize.images = "test";
  cfg_.visualize.conv1_conv2_records = true;
  cfg_.visualize.top_n = 2;
  options_.write_images = false;
  const VisualizeSummary summary = run_visualize(cfg_, options_);
  EXPECT_EQ(summary.image_count, 4);
  EXPECT_FALSE(summary.images_written);
  const SafeTensors rec = load_safetensors(dir_ / "records.safetensors");
  EXPECT_EQ(rec.tensors.at("image_index").to_vector<std::int32_t>(), cache_.split.test);
  EXPECT_EQ(rec.tensors.at("conv1_value").shape(), (Shape{4, 3}));
  EXPECT_EQ(rec.tensors.at("conv2_position").shape(), (Shape{4, 4}));
  EXPECT_EQ(rec.metadata.at("images"), "test");
  EXPECT_EQ(analysed_images("train", cache_.split, kImages), cache_.split.train);
  EXPECT_EQ(analysed_images("all", cache_.split, kImages).size(), std::size_t{kImages});
  EXPECT_THROW(analysed_images("most", cache_.split, kImages), Error);
}

TEST_F(VisualizeStage, RefusesAConfigThatDisagreesWithTheCheckpoint) {
  cfg_.model.conv3 = 7;  // the checkpoint holds a conv3 of 6
  try {
    run_visualize(cfg_, options_);
    FAIL() << "a conv3 width that differs from the checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv3"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("cpu: section"), std::string::npos) << e.what();
  }
  // When the config's cpu: section applied, the refusal says that it may have set the widths.
  cfg_.cpu_overrides_applied = true;
  try {
    run_visualize(cfg_, options_);
    FAIL() << "a conv3 width that differs from the checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cpu: section applied"), std::string::npos) << e.what();
  }
  cfg_.cpu_overrides_applied = false;
  cfg_.model = tiny_net();
  cfg_.visualize.top_n = kImages + 1;
  EXPECT_THROW(run_visualize(cfg_, options_), Error);
  cfg_.visualize.top_n = 4;
  fs::remove(dir_ / "checkpoints" / "best.safetensors");
  try {
    run_visualize(cfg_, options_);
    FAIL() << "a missing checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("aulens train"), std::string::npos) << e.what();
  }
}

// A model trained elsewhere: a file with PyTorch's names and no aulens metadata (what
// safetensors.torch.save_file(model.state_dict()) writes), given instead of the run's checkpoint.
// Its analysis equals the one of the same weights as the run's own checkpoint, and the outputs
// say which model they describe.
TEST_F(VisualizeStage, AnalysesAGivenCheckpointWithoutAulensMetadata) {
  options_.write_images = false;
  run_visualize(cfg_, options_);
  const SafeTensors own = load_safetensors(dir_ / "projections.safetensors");
  EXPECT_EQ(own.metadata.at("checkpoint_given"), "false");
  EXPECT_EQ(own.metadata.at("checkpoint"), (dir_ / "checkpoints" / "best.safetensors").string());

  // The run's own checkpoint given by a relative name is still the run's own, named absolutely.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  options_.checkpoint = fs::path("checkpoints") / "best.safetensors";
  run_visualize(cfg_, options_);
  fs::current_path(cwd);
  const SafeTensors by_name = load_safetensors(dir_ / "records.safetensors");
  EXPECT_EQ(by_name.metadata.at("checkpoint_given"), "false");
  EXPECT_EQ(by_name.metadata.at("checkpoint"),
            (dir_ / "checkpoints" / "best.safetensors").string());

  const fs::path given = dir_ / "elsewhere" / "model.safetensors";
  fs::create_directories(given.parent_path());
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : params_.named()) tensors[name] = *t;
  save_safetensors(given, tensors);
  fs::remove(dir_ / "checkpoints" / "best.safetensors");  // not needed when one is given
  options_.checkpoint = given;
  run_visualize(cfg_, options_);
  const SafeTensors rec = load_safetensors(dir_ / "records.safetensors");
  const SafeTensors proj = load_safetensors(dir_ / "projections.safetensors");
  for (const SafeTensors* file : {&rec, &proj}) {
    EXPECT_EQ(file->metadata.at("checkpoint"), given.string());
    EXPECT_EQ(file->metadata.at("checkpoint_given"), "true");
  }
  for (const char* name : {"projections", "origins", "top_images", "top_values", "seeds"}) {
    const Tensor& a = own.tensors.at(name);
    const Tensor& b = proj.tensors.at(name);
    ASSERT_EQ(a.shape(), b.shape()) << name;
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0) << name << " differs";
  }

  // A missing file, and a model with a layer this network lacks, are refused before any output
  // is touched.
  fs::remove(dir_ / "records.safetensors");
  options_.checkpoint = dir_ / "elsewhere" / "missing.safetensors";
  try {
    run_visualize(cfg_, options_);
    ADD_FAILURE() << "a missing checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos) << e.what();
  }
  tensors["bn1.weight"] = Tensor::zeros({3}, DType::f32);
  save_safetensors(given, tensors);
  options_.checkpoint = given;
  try {
    run_visualize(cfg_, options_);
    ADD_FAILURE() << "a model with an extra layer was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"bn1.weight\" is not a parameter"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir_ / "records.safetensors"));
}

TEST(VisualizeTiles, ProjectionTileIsNormalisedPerTile) {
  const std::uint32_t seed = aulens::testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.3f, 2.0f);
  std::vector<float> w(1024);
  for (auto& v : w) v = normal(rng);
  // Pixel (5, 7) set to the mean of the others: the tile's mean is then exactly that value.
  double others = 0;
  for (int i = 0; i < 1024; ++i)
    if (i != 5 * 32 + 7) others += w[i];
  w[5 * 32 + 7] = static_cast<float>(others / 1023);
  double mean = 0, largest = 0;
  for (float v : w) mean += v;
  mean /= 1024;
  for (float v : w) largest = std::max(largest, std::abs(v - mean));
  std::uint8_t out[1024];
  std::fill_n(out, 1024, 7);  // poison
  normalize_projection_tile(w.data(), 10, 20, 96, out);
  EXPECT_EQ(out[5 * 32 + 7], 128);
  int worst_at = -1;
  double worst = 0;
  bool reaches_extreme = false;
  for (int i = 0; i < 1024; ++i) {
    const double expect = 128.0 + (w[i] - mean) * 127.0 / largest;
    const double err = std::abs(out[i] - expect);
    if (err > worst) worst = err, worst_at = i;
    reaches_extreme |= out[i] == 1 || out[i] == 255;
  }
  EXPECT_LE(worst, 0.5 + 1e-6) << "pixel " << worst_at;
  EXPECT_TRUE(reaches_extreme);

  // At the top-left border only the pixels inside the frame count; outside ones are 0.
  std::vector<float> border(1024, 5.0f);
  for (int i = 14; i < 32; ++i)
    for (int j = 14; j < 32; ++j) border[i * 32 + j] = (i + j) % 2 ? 1.0f : -1.0f;
  normalize_projection_tile(border.data(), -14, -14, 96, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[13 * 32 + 31], 0);
  EXPECT_EQ(out[14 * 32 + 14], 1);    // −1 with mean 0 → 128 − 127
  EXPECT_EQ(out[14 * 32 + 15], 255);  // +1 → 128 + 127
  // A constant tile is mid-grey.
  std::vector<float> flat(1024, 3.5f);
  normalize_projection_tile(flat.data(), 0, 0, 96, out);
  EXPECT_EQ(*std::min_element(out, out + 1024), 128);
  EXPECT_EQ(*std::max_element(out, out + 1024), 128);
}

TEST(VisualizeTiles, ReceptiveFieldCropIsTheWindowOfTheCentreCrop) {
  constexpr int crop = 99, size = 96, offset = 1;
  std::vector<std::uint8_t> face(crop * crop);
  for (int i = 0; i < crop * crop; ++i) face[i] = static_cast<std::uint8_t>((i * 7 + 3) % 251);
  std::uint8_t out[1024];
  receptive_field_crop(face.data(), crop, size, 70, -2, out);
  for (int i = 0; i < 32; ++i)
    for (int j = 0; j < 32; ++j) {
      const int y = 70 + i, x = -2 + j;
      const int expect = (y < size && x >= 0) ? face[(y + offset) * crop + x + offset] : 0;
      ASSERT_EQ(out[i * 32 + j], expect) << "(" << i << ", " << j << ")";
    }
}

}  // namespace
