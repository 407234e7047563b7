// The report (aulens/report.h) from small fixture outputs: ground-truth region scores on
// hand-made projections, HTML escaping of a hostile dataset path, the ground-truth columns added to
// best_maps.csv, and the page opened in headless Chromium (Debian package `chromium`, installed by
// tools/install_deps.sh): it must report data-status="ok" (every chart drawn, every image loaded,
// no script error); with one image deleted it must not. A screenshot is left beside the report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "aulens/dataset.h"
#include "aulens/ground_truth.h"
#include "aulens/receptive_field.h"
#include "aulens/report.h"
#include "aulens/safetensors.h"
#include "aulens/trainer.h"
#include "fresh_seed.h"
#include "mutate_bytes.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

const std::string kHostile = "<script>alert(\"x\")</script>&'";

constexpr int kCrop = 99, kInput = 96, kImages = 24, kMaps = 4, kTopN = 3;
const std::vector<std::int32_t> kAus = {1, 12};

// A small dataset: random crops, AU 1 on even images with a box at the top, AU 12 on images
// divisible by 3 with a box at the bottom.
Dataset fixture_dataset() {
  Dataset d;
  d.source = "synthetic";
  d.root = "/data/" + kHostile;
  d.crop_size = kCrop;
  d.class_names = class_names_for(DatasetConfig{});
  d.au_ids = kAus;
  std::mt19937 rng(7);
  std::vector<std::uint8_t> crops(static_cast<std::size_t>(kImages) * kCrop * kCrop);
  for (auto& p : crops) p = static_cast<std::uint8_t>(rng() % 256);
  std::vector<std::int32_t> labels, subject, sequence, frame;
  std::vector<float> aus, regions, landmarks(static_cast<std::size_t>(kImages) * 68 * 2, NAN);
  for (int i = 0; i < kImages; ++i) {
    labels.push_back(i % 7);
    subject.push_back(i % 6);
    sequence.push_back(1);
    frame.push_back(i + 1);
    const bool au1 = i % 2 == 0, au12 = i % 3 == 0;
    aus.push_back(au1 ? 3.0f : 0.0f);
    aus.push_back(au12 ? 2.0f : 0.0f);
    const float top[4] = {20, 10, 80, 40}, bottom[4] = {30, 60, 70, 90};
    for (int c = 0; c < 4; ++c) regions.push_back(au1 ? top[c] : kNoRegion);
    for (int c = 0; c < 4; ++c) regions.push_back(au12 ? bottom[c] : kNoRegion);
    d.source_paths.push_back("S00" + std::to_string(i % 6) + "/" + kHostile + ".png");
  }
  for (int s = 0; s < 6; ++s) d.subject_names.push_back("S" + std::to_string(s) + kHostile);
  d.crops = Tensor::from_vector<std::uint8_t>({kImages, kCrop, kCrop}, crops);
  d.labels = Tensor::from_vector<std::int32_t>({kImages}, labels);
  d.aus = Tensor::from_vector<float>({kImages, 2}, aus);
  d.subject = Tensor::from_vector<std::int32_t>({kImages}, subject);
  d.sequence = Tensor::from_vector<std::int32_t>({kImages}, sequence);
  d.frame = Tensor::from_vector<std::int32_t>({kImages}, frame);
  d.landmarks = Tensor::from_vector<float>({kImages, 68, 2}, landmarks);
  d.au_regions = Tensor::from_vector<float>({kImages, 2, 4}, regions);
  return d;
}

// Projections: map 0 puts all its energy at input rows 12..27 (crop 13..28, inside AU 1's box
// rows 10..40, columns 20..80); map 1 all of it at input rows 70..85 (outside AU 1's box).
struct FixtureProjections {
  Tensor projections, origins, top_images, top_values;
};
FixtureProjections fixture_projections() {
  std::vector<float> windows(static_cast<std::size_t>(kMaps) * kTopN * kWindow * kWindow, 0.0f);
  std::vector<std::int32_t> origins, top_images;
  std::vector<float> top_values;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int k = 0; k < kMaps; ++k) {
    for (int r = 0; r < kTopN; ++r) {
      const int oy = k == 1 ? 62 : 4, ox = 26;  // window rows oy..oy+31, columns 26..57
      origins.push_back(oy);
      origins.push_back(ox);
      top_images.push_back(2 * r + (k == 3 ? 1 : 0));  // map 3: odd images (no own AU 1 box)
      top_values.push_back(5.0f - r);
      float* w = windows.data() + (static_cast<std::size_t>(k) * kTopN + r) * kWindow * kWindow;
      for (int i = 8; i < 24; ++i)
        for (int j = 4; j < 28; ++j) w[i * kWindow + j] = uniform(rng);
    }
  }
  FixtureProjections p;
  p.projections = Tensor::from_vector<float>({kMaps, kTopN, kWindow, kWindow}, windows);
  p.origins = Tensor::from_vector<std::int32_t>({kMaps, kTopN, 2}, origins);
  p.top_images = Tensor::from_vector<std::int32_t>({kMaps, kTopN}, top_images);
  p.top_values = Tensor::from_vector<float>({kMaps, kTopN}, top_values);
  return p;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes every output the report reads into `dir`.
RunConfig write_fixture_run(const fs::path& dir) {
  fs::create_directories(dir);
  RunConfig cfg;
  cfg.output = dir;
  cfg.source_file = "/configs/" + kHostile + ".yaml";
  cfg.model.conv3 = kMaps;
  const Dataset data = fixture_dataset();
  Split split = make_subject_kfold(data, 3, 0, 1);
  save_dataset_cache(dir / "dataset.safetensors", data, split, config_to_yaml(cfg));

  TrainReport report;
  report.device = "cpu";
  report.best_epoch = 2;
  report.best_accuracy = 0.5;
  report.stop_reason = "max_epochs";
  for (int e = 1; e <= 3; ++e) {
    EpochMetrics m;
    m.epoch = e;
    m.train_loss = 2.0 / e;
    m.train_accuracy = 0.2 * e;
    m.test.loss = 2.2 / e;
    m.test.accuracy = 0.15 * e;
    m.test.per_class_accuracy.assign(7, 0.5);
    m.test.confusion.assign(49, 1);
    m.test.images = 49;
    report.history.push_back(m);
  }
  write_text(dir / "metrics.json", metrics_json(report, data.class_names));

  const FixtureProjections p = fixture_projections();
  save_safetensors(dir / "projections.safetensors", {{"projections", p.projections},
                                                     {"origins", p.origins},
                                                     {"top_images", p.top_images},
                                                     {"top_values", p.top_values}});
  std::string sweep = "au,map,distance,rank,auc\n";
  for (const std::int32_t au : kAus)
    for (int k = 0; k < kMaps; ++k)
      sweep += std::to_string(au) + "," + std::to_string(k) + "," +
               std::to_string(au == 1 ? 4.0 - k : 1.0 + k) + "," + std::to_string(k + 1) + "," +
               (au == 12 && k == 2 ? "0.25" : "0.6") + "\n";
  write_text(dir / "sweep.csv", sweep);
  write_text(dir / "sweep_info.json", "{\"top_n\": 12}");  // the n of top_n_with_au below
  write_text(dir / "best_maps.csv",
             "au,name,best_map,distance,margin,p_value,images_with,images_without,top_n_with_au,"
             "direction\n"
             "1,\"Inner Brow Raiser\",0,4.0,1.0,0.004,12,12,7,higher\n"
             "12,\"Lip Corner Puller, " +
                 kHostile + "\",1,4.0,1.0,0.2,8,16,0,lower\n");
  return cfg;
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aulens_report_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    // Kept on failure, or with AULENS_KEEP_TEST_OUTPUT set, to look at (screenshot.png).
    if (!HasFailure() && !std::getenv("AULENS_KEEP_TEST_OUTPUT")) fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST(GroundTruth, EnergyShareInsideTheRegion) {
  const Dataset data = fixture_dataset();
  const FixtureProjections p = fixture_projections();
  // Map 0, AU 1 (column 0): all energy at crop rows 13..28, columns 31..54: inside [20,80)×[10,40).
  const RegionScore inside =
      score_region(p.projections, p.origins, p.top_images, data, 0, 0, kInput);
  ASSERT_TRUE(inside.scored);
  EXPECT_NEAR(inside.share, 1.0, 1e-9);
  EXPECT_TRUE(inside.hit);
  EXPECT_EQ(inside.images, kTopN);
  EXPECT_EQ(inside.own_region, kTopN);
  // The baseline: 16×32 window pixels... the box covers window rows oy+i with crop row in [10,40):
  // input rows 9..38 → window rows 5..31 (27 rows) of 32, all 32 columns (crop 27..58 ⊂ [20,80)).
  EXPECT_NEAR(inside.baseline, 27.0 / 32.0, 1e-9);
  // Map 1: the energy sits at input rows 70..85, far below AU 1's box.
  const RegionScore outside =
      score_region(p.projections, p.origins, p.top_images, data, 0, 1, kInput);
  EXPECT_NEAR(outside.share, 0.0, 1e-12);
  EXPECT_FALSE(outside.hit);
  // Map 3's top images are odd, without an AU 1 box: the median box (the same top box) is used.
  const RegionScore median =
      score_region(p.projections, p.origins, p.top_images, data, 0, 3, kInput);
  EXPECT_EQ(median.own_region, 0);
  EXPECT_EQ(median.images, kTopN);
  EXPECT_NEAR(median.share, 1.0, 1e-9);
  const auto box = median_region(data, 0);
  EXPECT_EQ(box[0], 20.0f);
  EXPECT_EQ(box[3], 40.0f);
}

TEST_F(ReportTest, EscapesDatasetStringsAndAddsGroundTruthColumns) {
  const RunConfig cfg = write_fixture_run(dir_);
  const ReportResult result = write_report(cfg, dir_);
  const std::string html = read_text(result.index_html);
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(html.find("<script>alert"), std::string::npos) << "unescaped dataset string";
  EXPECT_EQ(html.find("alert(\"x\")"), std::string::npos) << "unescaped quote";
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"),
            std::string::npos);
  EXPECT_NE(html.find("\\u003cscript\\u003e"), std::string::npos) << "JSON not made script-safe";
  EXPECT_EQ(html.find("http://"), std::string::npos) << "the report must not need the network";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "the report must not need the network";
  EXPECT_TRUE(fs::exists(dir_ / "report" / "chart.js"));
  // AU 1 → map 0 hits; AU 12 → map 1 too: its energy (input rows 70..85, columns 30..53 → crop
  // 71..86, 31..54) lies inside AU 12's box [30,70)×[60,90) (own box or the median, the same).
  // The AUC columns: AU 1's best map 0 has AUC 0.6 and every map ties at 0.6, so map 0 (first) is
  // also its best by AUC; AU 12's map 2 (AUC 0.25, farthest from 0.5) is its best by AUC.
  EXPECT_NE(html.find("<td class=\"num\">map 0 (0.60)<br>"), std::string::npos);
  // best_maps.csv's top_n_with_au under each best map, out of the n the sweep used (its
  // sweep_info.json), not the config's sweep.top_n (9).
  EXPECT_NE(html.find(">7 of top 12 carry it</small>"), std::string::npos);
  EXPECT_NE(html.find(">0 of top 12 carry it</small>"), std::string::npos);
  EXPECT_NE(html.find(">R above Q</small>"), std::string::npos);
  EXPECT_NE(html.find(">R below Q</small>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">map 2 (0.25)<br>"), std::string::npos);
  EXPECT_EQ(result.scored, 2);
  // AU 1's best map by AUC is its best map (a hit); AU 12's is map 2, scored on its own.
  EXPECT_EQ(result.auc_scored, 2);
  EXPECT_GE(result.auc_hits, 1);
  EXPECT_NE(html.find("id=\"auc-hits\">" + std::to_string(result.auc_hits) + " of 2<"),
            std::string::npos);
  EXPECT_EQ(result.hits, 2);
  const std::string csv = read_text(dir_ / "best_maps.csv");
  EXPECT_NE(csv.find(",region_share,region_baseline,region_hit\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("1.0000,"), std::string::npos) << csv;
  // Rerunning replaces the columns instead of adding more.
  write_report(cfg, dir_);
  const std::string again = read_text(dir_ / "best_maps.csv");
  EXPECT_EQ(again, csv);
  EXPECT_NE(again.find("\"Lip Corner Puller, "), std::string::npos) << "quoted field lost";
}

// A model given to `aulens visualize --checkpoint` was not trained in this run folder: the report
// names it and leaves out the folder's training curves, which belong to another model.
TEST_F(ReportTest, AGivenCheckpointIsNamedAndGetsNoTrainingCurves) {
  const RunConfig cfg = write_fixture_run(dir_);
  // A picture of an earlier report (another model) does not stay in report/img.
  fs::create_directories(dir_ / "report" / "img");
  write_text(dir_ / "report" / "img" / "deconv_map_999.png", "stale");
  const std::string given = "/models/" + kHostile + ".safetensors";
  const FixtureProjections p = fixture_projections();
  const std::map<std::string, Tensor> tensors = {{"projections", p.projections},
                                                 {"origins", p.origins},
                                                 {"top_images", p.top_images},
                                                 {"top_values", p.top_values}};
  save_safetensors(dir_ / "projections.safetensors", tensors,
                   {{"checkpoint", given}, {"checkpoint_given", "true"}});
  ReportResult result = write_report(cfg, dir_);
  std::string html = read_text(result.index_html);
  EXPECT_FALSE(fs::exists(dir_ / "report" / "img" / "deconv_map_999.png"));
  EXPECT_EQ(html.find("id=\"chart-loss\""), std::string::npos) << "another model's curves shown";
  EXPECT_NE(html.find("<code id=\"analysed-checkpoint\">/models/&lt;script&gt;"),
            std::string::npos);
  EXPECT_NE(html.find("(<b>trained elsewhere</b>"), std::string::npos);
  bool noted = false;
  for (const std::string& note : result.notes)
    noted = noted || note.find("no training curves") != std::string::npos;
  EXPECT_TRUE(noted);

  // The run folder's own model: curves, and its path without the "given" remark.
  save_safetensors(
      dir_ / "projections.safetensors", tensors,
      {{"checkpoint", "run/checkpoints/best.safetensors"}, {"checkpoint_given", "false"}});
  result = write_report(cfg, dir_);
  html = read_text(result.index_html);
  EXPECT_NE(html.find("id=\"chart-loss\""), std::string::npos);
  EXPECT_NE(html.find("id=\"analysed-checkpoint\">run/checkpoints/best.safetensors</code>."),
            std::string::npos);
  EXPECT_EQ(html.find("trained elsewhere"), std::string::npos);

  // A sweep of the given model beside projections of the folder's own: noted, and no curves.
  write_text(dir_ / "sweep_info.json", "{\"checkpoint\": \"" +
                                           std::string("/models/m.safetensors") +
                                           "\", \"checkpoint_given\": true}");
  result = write_report(cfg, dir_);
  html = read_text(result.index_html);
  EXPECT_EQ(html.find("id=\"chart-loss\""), std::string::npos) << "curves beside another model";
  bool mixed = false;
  for (const std::string& note : result.notes)
    mixed = mixed || note.find("the AU table mixes two models") != std::string::npos;
  EXPECT_TRUE(mixed);

  // Without projections the sweep alone names the model.
  fs::remove(dir_ / "projections.safetensors");
  result = write_report(cfg, dir_);
  html = read_text(result.index_html);
  EXPECT_EQ(html.find("id=\"chart-loss\""), std::string::npos);
  EXPECT_NE(html.find("<code id=\"analysed-checkpoint\">/models/m.safetensors</code>"),
            std::string::npos);
  bool hint = false;
  for (const std::string& note : result.notes)
    hint = hint || note.find("--checkpoint /models/m.safetensors`") != std::string::npos;
  EXPECT_TRUE(hint) << "the projections' command must name the given model";
}

// Runs Chromium headless on the report; returns the DOM it ends with.
std::string chromium_dom(const fs::path& html, const fs::path& screenshot) {
  const char* env = std::getenv("AULENS_CHROMIUM");
  const std::string browser = env && *env ? env : "chromium";
  const fs::path profile = html.parent_path().parent_path() / "chromium-profile";
  const std::string common = browser +
                             " --headless --no-sandbox --disable-gpu --no-first-run "
                             "--disable-dev-shm-usage --user-data-dir='" +
                             profile.string() + "' --virtual-time-budget=20000 ";
  const fs::path dom_file = html.parent_path().parent_path() / "dom.html";
  const std::string dump = common + "--dump-dom 'file://" + html.string() + "' > '" +
                           dom_file.string() + "' 2>/dev/null";
  EXPECT_EQ(std::system(dump.c_str()), 0) << dump;
  if (!screenshot.empty()) {
    const std::string shot = common + "--hide-scrollbars --window-size=1400,2200 --screenshot='" +
                             screenshot.string() + "' 'file://" + html.string() + "' 2>/dev/null";
    EXPECT_EQ(std::system(shot.c_str()), 0) << shot;
  }
  return read_text(dom_file);
}

bool have_chromium() {
  const char* env = std::getenv("AULENS_CHROMIUM");
  const std::string browser = env && *env ? env : "chromium";
  return std::system(("command -v " + browser + " >/dev/null 2>&1").c_str()) == 0;
}

// The sweep's CSV files, metrics.json and the dataset cache's recorded config, each broken one way
// by hand: the report is refused with an error naming the file, where, and what was expected.
TEST_F(ReportTest, MalformedSweepFilesAreRefusedWithFileRowAndColumn) {
  const RunConfig cfg = write_fixture_run(dir_);
  std::map<std::string, std::string> original;
  for (const char* file : {"sweep.csv", "best_maps.csv", "metrics.json"})
    original[file] = read_text(dir_ / file);
  const std::string& sweep = original["sweep.csv"];
  const std::string& best = original["best_maps.csv"];
  // The report is refused with an error that names `file` and says `words`.
  auto expect_report_refused = [&](const std::string& file, const std::string& words) {
    SCOPED_TRACE(file + " with: " + words);
    try {
      write_report(cfg, dir_);
      ADD_FAILURE() << "the report was written";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find((dir_ / file).string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  // The same with `file` (one of the text inputs above) holding `text`; then it is restored.
  auto expect_refused = [&](const std::string& file, const std::string& text,
                            const std::string& words) {
    write_text(dir_ / file, text);
    expect_report_refused(file, words);
    write_text(dir_ / file, original[file]);
  };
  auto replace = [](std::string text, const std::string& from, const std::string& to) {
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? text : text.replace(at, from.size(), to);
  };
  // Rows 2..5 are AU 1's maps 0..3, rows 6..9 AU 12's (the fixture's distances 4-k and 1+k).
  expect_refused("sweep.csv", replace(sweep, "12,3,4.000000,4", "12,3,abc,4"),
                 "row 9, column 'distance': expected a number, got 'abc'");
  expect_refused("sweep.csv", replace(sweep, "1,3,1.000000,4", "1,2,1.000000,4"),
                 "AU 1 lists map 2 twice");
  expect_refused("sweep.csv", replace(sweep, "12,3,4.000000,4,0.6\n", ""),
                 "AU 12 lists 3 of the 4 maps");
  expect_refused("sweep.csv", replace(sweep, "1,0,", "1,1e20,"),
                 "row 2, column 'map': expected an integer 0-7, got '1e20'");
  expect_refused("sweep.csv", replace(sweep, "1,0,4.000000,1,0.6", "1,0,4.000000,1"),
                 "row 2 has 4 fields, the header has 5");
  expect_refused("best_maps.csv", replace(best, "\n1,", "\n99999999999999999999,"),
                 "row 2, column 'au': expected an integer 1-99, got '99999999999999999999'");
  expect_refused("best_maps.csv", replace(best, "Raiser\",0,", "Raiser\",-3,"),
                 "row 2, column 'best_map': expected an integer");
  // metrics.json must be shaped as the trainer writes it: the page reads every epoch's recall.
  expect_refused("metrics.json",
                 replace(original["metrics.json"], "\"test_per_class_accuracy\"", "\"recall\""),
                 "epochs[0].test_per_class_accuracy is missing or not an array of 7 numbers");
  // A dataset cache whose recorded config is not YAML (read when the report checks the cache
  // belongs to this config).
  const DatasetCache cache = load_dataset_cache(dir_ / "dataset.safetensors");
  save_dataset_cache(dir_ / "dataset.safetensors", cache.data, cache.split, "dataset: [unclosed");
  expect_report_refused("dataset.safetensors",
                        "dataset.safetensors: the configuration it records is not readable YAML");
}

// Every input the report reads, damaged at random (tests/mutate_bytes.h): the report is written
// (what it cannot use becomes a note) or refused with aulens::Error naming the damaged file; any
// other exception fails, and so does a crash (tools/sanitize.sh makes memory errors crash).
TEST_F(ReportTest, DamagedInputsAreWrittenAroundOrRefusedByName) {
  const RunConfig cfg = write_fixture_run(dir_);
  const std::uint32_t seed = testing::fresh_seed();
  std::printf("[ seed ] AULENS_TEST_SEED=%u\n", seed);
  std::mt19937_64 rng(seed);
  for (const std::string name : {"metrics.json", "sweep.csv", "sweep_info.json", "best_maps.csv",
                                 "projections.safetensors", "dataset.safetensors"}) {
    const fs::path file = dir_ / name;
    const std::string original = read_text(file);
    // Safetensors files: the damage goes to the header four times in five (the data is opaque).
    const std::size_t focus =
        file.extension() == ".safetensors" ? testing::safetensors_header_end(original) : 0;
    int written = 0, refused = 0;
    for (int round = 0; round < 25 * testing::fuzz_rounds(); ++round) {
      write_text(file, testing::mutate(original, rng, focus));
      try {
        write_report(cfg, dir_);
        ++written;
      } catch (const Error& e) {
        ++refused;
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos)
            << name << ", round " << round << ": the error does not name the file: " << e.what();
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << ", round " << round << ": a non-aulens exception: " << e.what();
      }
      if (HasFailure()) return;  // the damaged file stays in the kept folder
    }
    write_text(file, original);
    std::printf("[ note ] %s: %d damaged copies written around, %d refused\n", name.c_str(),
                written, refused);
  }
}

TEST_F(ReportTest, OpensInHeadlessChromiumWithEveryChartAndImage) {
  ASSERT_TRUE(have_chromium())
      << "chromium is not installed: run tools/install_deps.sh (Debian package chromium)";
  const RunConfig cfg = write_fixture_run(dir_);
  const ReportResult result = write_report(cfg, dir_);
  const fs::path shot = dir_ / "screenshot.png";
  const std::string dom = chromium_dom(result.index_html, shot);
  ASSERT_FALSE(dom.empty()) << "chromium printed no DOM";
  EXPECT_NE(dom.find("data-status=\"ok\""), std::string::npos)
      << "the page did not report ok: "
      << dom.substr(dom.find("<body"), std::min<std::size_t>(400, dom.size()));
  // 2 training curves + 2 per-AU distance charts.
  EXPECT_NE(dom.find("data-charts=\"4\""), std::string::npos);
  EXPECT_NE(dom.find("class=\"card\""), std::string::npos) << "the gallery is empty";
  // Each card names the AU most of its top images carry: maps 0-2 show images 0, 2, 4 (all with
  // AU 1, carried by half the images), map 3 images 1, 3, 5 (only image 3 carries an AU: AU 12).
  EXPECT_NE(dom.find("top 3: 3 carry AU1 (50% of images)"), std::string::npos);
  EXPECT_NE(dom.find("top 3: 1 carry AU12 (33% of images)"), std::string::npos);
  ASSERT_TRUE(fs::exists(shot));
  EXPECT_GT(fs::file_size(shot), 10000u) << "the screenshot is suspiciously small";
}

TEST_F(ReportTest, ChromiumCheckFailsOnAMissingImage) {
  ASSERT_TRUE(have_chromium())
      << "chromium is not installed: run tools/install_deps.sh (Debian package chromium)";
  const RunConfig cfg = write_fixture_run(dir_);
  const ReportResult result = write_report(cfg, dir_);
  fs::remove(dir_ / "report" / "img" / "map_002.png");
  const std::string dom = chromium_dom(result.index_html, {});
  EXPECT_EQ(dom.find("data-status=\"ok\""), std::string::npos);
  EXPECT_NE(dom.find("images missing"), std::string::npos)
      << dom.substr(dom.find("<body"), std::min<std::size_t>(400, dom.size()));
}

}  // namespace
}  // namespace aulens
