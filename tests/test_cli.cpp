// The `aulens` binary on a tiny synthetic run (about a second a run): what `aulens run` skips and
// what it redoes, and the errors a stage gives for inputs that do not belong to its config.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "aulens/dataset.h"
#include "aulens/safetensors.h"
#include "fresh_seed.h"
#include "mutate_bytes.h"
#include "relative_difference.h"

namespace fs = std::filesystem;

namespace {

struct Result {
  int status = -1;     // exit status
  std::string output;  // stdout and stderr
};

Result run_binary(const std::string& binary, const std::string& args) {
  const std::string command = binary + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  Result result;
  std::array<char, 4096> buffer{};
  while (const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), pipe))
    result.output.append(buffer.data(), got);
  const int raw = pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

Result aulens(const std::string& args) {
  return run_binary(AULENS_BINARY, args);
}

bool has(const Result& r, const std::string& text) {
  return r.output.find(text) != std::string::npos;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// `text` with its first `from` replaced by `to` (a test failure when there is none).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no '" << from << "' in:\n" << text;
    return text;
  }
  return text.replace(at, from.size(), to);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef AULENS_HAVE_OPENCV
    GTEST_SKIP() << "the synthetic dataset needs OpenCV, which this build has not";
#endif
    dir_ = fs::temp_directory_path() / ("aulens_cli_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
  }

  // A config of the tiny run: `dataset_extra` lines go into the dataset section (the source is
  // synthetic unless they name one), `train` is the
  // train section's settings besides augment, `tail` goes at the end.
  std::string config(const std::string& name, const std::string& dataset_extra = "",
                     const std::string& train = "device: cpu, batch: 16, max_epochs: 1",
                     const std::string& tail = "") const {
    const fs::path path = dir_ / name;
    std::ofstream(path) << "output: " << (dir_ / "run").string() << "\n"
                        << "dataset:\n"
                        << (dataset_extra.find("source:") == std::string::npos
                                ? "  source: synthetic\n"
                                : "")
                        << "  synth: {subjects: 6, sequences_per_subject: 3, min_frames: 4, "
                           "max_frames: 4}\n"
                        << "  crop_size: 40\n"
                        << "  folds: 3\n"
                        << dataset_extra
                        << "model: {input_size: 32, conv1: 4, conv2: 8, conv3: 16, fc: 16}\n"
                        << "train: {" << train << ", augment: {input_size: 32}}\n"
                        << "visualize: {top_n: 3}\n"
                        << "sweep: {top_n: 3, min_images: 2, permutations: 20}\n"
                        << tail;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(Cli, RunSkipsWhatIsUpToDateAndRedoesARewrittenSyntheticSet) {
  const std::string cfg = config("tiny.yaml");
  const Result first = aulens("run " + cfg);
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "report" / "index.html"));

  const Result again = aulens("run " + cfg);
  ASSERT_EQ(again.status, 0) << again.output;
  for (const char* stage : {"synth", "prepare", "train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(again, std::string("== ") + stage + ": up to date, skipped")) << again.output;

  // Another program rewrites the set with other settings: the run's stamp no longer vouches for it.
  const std::string synthetic = (dir_ / "run" / "synthetic").string();
  ASSERT_EQ(aulens("synth --out " + synthetic + " --subjects 5").status, 0);
  const Result redone = aulens("run " + cfg);
  ASSERT_EQ(redone.status, 0) << redone.output;
  // ... and so is everything made from it, even though its settings are unchanged.
  for (const char* stage : {"synth", "prepare", "train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(redone, std::string("== ") + stage + "\n")) << redone.output;
  const std::string text = read_text(dir_ / "run" / "synthetic" / "README.txt");
  EXPECT_NE(text.find("subjects: 6"), std::string::npos) << text;
}

TEST_F(Cli, RunOutputMovesTheWholeRunOverTheCpuSectionsOutput) {
  const std::string cfg = config("tiny.yaml", "", "device: cpu, batch: 16, max_epochs: 1",
                                 "cpu: {output: " + (dir_ / "cpu_run").string() + "}\n");
  const fs::path elsewhere = dir_ / "elsewhere";
  const Result first = aulens("run " + cfg + " --output " + elsewhere.string());
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(fs::exists(elsewhere / "synthetic" / "README.txt"));  // the set follows the run
  EXPECT_TRUE(fs::exists(elsewhere / "report" / "index.html"));
  EXPECT_FALSE(fs::exists(dir_ / "run"));
  EXPECT_FALSE(fs::exists(dir_ / "cpu_run"));

  const Result again = aulens("run " + cfg + " --output " + elsewhere.string());
  ASSERT_EQ(again.status, 0) << again.output;
  for (const char* stage : {"synth", "prepare", "train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(again, std::string("== ") + stage + ": up to date, skipped")) << again.output;
}

TEST_F(Cli, AStageRefusesADatasetCachePreparedWithOtherSettings) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const std::string other_fold = config("fold1.yaml", "  fold: 1\n");
  for (const char* stage : {"train", "visualize", "sweep", "report"}) {
    const Result r = aulens(std::string(stage) + " " + other_fold);
    EXPECT_NE(r.status, 0) << stage << ": " << r.output;
    EXPECT_TRUE(has(r, "was prepared with dataset.fold: 0, but the config has dataset.fold: 1"))
        << stage << ": " << r.output;
  }
  // A refused stage changed nothing: the run is still up to date.
  const Result again = aulens("run " + cfg);
  ASSERT_EQ(again.status, 0) << again.output;
  for (const char* stage : {"synth", "prepare", "train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(again, std::string("== ") + stage + ": up to date, skipped")) << again.output;
}

// A stage whose inputs are missing names the command that makes them, for the same run folder
// and device; `aulens report` then remakes the report alone.
TEST_F(Cli, AMissingInputNamesTheCommandForThisRunFolder) {
  const std::string cfg = config("tiny.yaml");
  const std::string elsewhere = (dir_ / "elsewhere").string();
  const Result train = aulens("train " + cfg + " --output " + elsewhere);
  EXPECT_NE(train.status, 0);
  EXPECT_TRUE(
      has(train, "run `aulens prepare " + cfg + " --output " + elsewhere + " --device cpu` first"))
      << train.output;
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const fs::path out = dir_ / "run";
  fs::remove(out / "records.safetensors");
  const Result sweep = aulens("sweep " + cfg + " --device auto");
  EXPECT_NE(sweep.status, 0);
  EXPECT_TRUE(has(sweep, "run `aulens visualize " + cfg + " --output " + out.string() +
                             " --device auto` first"))
      << sweep.output;

  fs::remove_all(out / "report");
  fs::remove(out / "projections.safetensors");
  const Result report = aulens("report " + cfg);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_TRUE(fs::exists(out / "report" / "index.html"));
  // It notes what is missing with the command that makes it.
  EXPECT_TRUE(has(report,
                  "projections.safetensors is missing: no projections (run `aulens "
                  "visualize " +
                      cfg + " --output " + out.string() + " --device cpu`)"))
      << report.output;

  // A report refused for a malformed input writes nothing.
  fs::remove_all(out / "report");
  std::ofstream(out / "metrics.json") << "{bad";
  const Result refused = aulens("report " + cfg);
  EXPECT_NE(refused.status, 0);
  EXPECT_TRUE(has(refused, "metrics.json: not valid JSON")) << refused.output;
  EXPECT_FALSE(fs::exists(out / "report")) << refused.output;
}

// A model trained elsewhere is analysed without training: prepare, visualize --checkpoint, sweep
// and report in a run folder that has no checkpoints/ of its own.
TEST_F(Cli, AModelTrainedElsewhereIsAnalysedWithoutTraining) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const fs::path model = dir_ / "model.safetensors";
  fs::copy_file(dir_ / "run" / "checkpoints" / "best.safetensors", model);
  const fs::path out = dir_ / "analysis";
  const std::string folder = " --output " + out.string();
  const Result prepare =
      aulens("prepare " + cfg + folder + " --dataset " + (dir_ / "run" / "synthetic").string());
  ASSERT_EQ(prepare.status, 0) << prepare.output;
  const Result visualize = aulens("visualize " + cfg + folder + " --checkpoint " + model.string());
  ASSERT_EQ(visualize.status, 0) << visualize.output;
  EXPECT_TRUE(has(visualize, "from " + model.string())) << visualize.output;
  ASSERT_EQ(aulens("sweep " + cfg + folder).status, 0);
  const Result report = aulens("report " + cfg + folder);
  ASSERT_EQ(report.status, 0) << report.output;
  EXPECT_TRUE(has(report, "a model trained elsewhere")) << report.output;
  const std::string page = read_text(out / "report" / "index.html");
  EXPECT_NE(page.find("<code id=\"analysed-checkpoint\">" + model.string() + "</code>"),
            std::string::npos);

  const Result missing = aulens("visualize " + cfg + folder + " --checkpoint " +
                                (dir_ / "absent.safetensors").string());
  EXPECT_NE(missing.status, 0);
  EXPECT_TRUE(has(missing, "absent.safetensors, does not exist")) << missing.output;

  // A relative name is read from the working folder and recorded absolutely.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  const Result relative = aulens("visualize " + cfg + folder + " --checkpoint model.safetensors");
  fs::current_path(cwd);
  ASSERT_EQ(relative.status, 0) << relative.output;
  EXPECT_EQ(aulens::load_safetensors(out / "records.safetensors").metadata.at("checkpoint"),
            model.string());

  // A later `aulens run` in the folder trains its own model and analyses that instead (`run`
  // takes its folder from the config).
  const fs::path analysis_cfg = dir_ / "analysis.yaml";
  std::ofstream(analysis_cfg) << replaced(read_text(cfg), "output: " + (dir_ / "run").string(),
                                          "output: " + out.string());
  const Result rerun = aulens("run " + analysis_cfg.string() + " --dataset " +
                              (dir_ / "run" / "synthetic").string());
  ASSERT_EQ(rerun.status, 0) << rerun.output;
  for (const char* stage : {"train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(rerun, std::string("== ") + stage + "\n")) << rerun.output;
  const aulens::SafeTensors own = aulens::load_safetensors(out / "sweep.safetensors");
  EXPECT_EQ(own.metadata.at("checkpoint_given"), "false");
  EXPECT_EQ(own.metadata.at("checkpoint"), (out / "checkpoints" / "best.safetensors").string());
}

// visualize.checkpoint in the config: `aulens run` analyses that model without training, redoes
// the analysis when the file changes, and refuses a missing file before writing anything.
TEST_F(Cli, RunAnalysesTheModelThatVisualizeCheckpointNames) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const fs::path model = dir_ / "model.safetensors";
  fs::copy_file(dir_ / "run" / "checkpoints" / "best.safetensors", model);
  const fs::path out = dir_ / "given";
  std::string text =
      replaced(read_text(cfg), "output: " + (dir_ / "run").string(), "output: " + out.string());
  text = replaced(text, "visualize: {top_n: 3}",
                  "visualize: {top_n: 3, checkpoint: " + model.string() + "}");
  text = replaced(text, "  source: synthetic\n",
                  "  source: synthetic\n  path: " + (dir_ / "run" / "synthetic").string() + "\n");
  const fs::path given_cfg = dir_ / "given.yaml";
  std::ofstream(given_cfg) << text;

  const Result first = aulens("run " + given_cfg.string());
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(has(first, "== train: not needed, visualize.checkpoint names the model"))
      << first.output;
  EXPECT_FALSE(fs::exists(out / "checkpoints")) << first.output;
  const aulens::SafeTensors sweep = aulens::load_safetensors(out / "sweep.safetensors");
  EXPECT_EQ(sweep.metadata.at("checkpoint"), model.string());
  EXPECT_EQ(sweep.metadata.at("checkpoint_given"), "true");
  const Result again = aulens("run " + given_cfg.string());
  for (const char* stage : {"visualize", "sweep", "report"})
    EXPECT_TRUE(has(again, std::string("== ") + stage + ": up to date, skipped")) << again.output;
  // Training alone says which model the analysis will still take.
  const Result train = aulens("train " + given_cfg.string());
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_TRUE(has(train,
                  "note: visualize.checkpoint is set, so `aulens visualize` and `aulens run` "
                  "analyse " +
                      model.string()))
      << train.output;

  // Another model under the same name (its last byte, part of fc2.bias, changed): analysed again.
  {
    std::fstream file(model, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-1, std::ios::end);
    const char last = static_cast<char>(file.get());
    file.seekp(-1, std::ios::end);
    file.put(static_cast<char>(last ^ 1));
  }
  const Result changed = aulens("run " + given_cfg.string());
  ASSERT_EQ(changed.status, 0) << changed.output;
  EXPECT_TRUE(has(changed, "== prepare: up to date, skipped")) << changed.output;
  for (const char* stage : {"visualize", "sweep", "report"})
    EXPECT_TRUE(has(changed, std::string("== ") + stage + "\n")) << changed.output;

  // A file that is not a model of the config's widths is refused before anything is written.
  std::ofstream(dir_ / "wrong.yaml")
      << replaced(replaced(text, "output: " + out.string(), "output: " + (dir_ / "wrong").string()),
                  "conv3: 16", "conv3: 12");
  const Result wrong = aulens("run " + (dir_ / "wrong.yaml").string());
  EXPECT_NE(wrong.status, 0);
  EXPECT_TRUE(has(wrong, "visualize.checkpoint: checkpoint " + model.string())) << wrong.output;
  EXPECT_TRUE(has(wrong, "net.conv3 = 16, the configuration asks for 12")) << wrong.output;
  EXPECT_FALSE(fs::exists(dir_ / "wrong")) << wrong.output;

  fs::remove_all(out);
  fs::remove(model);
  const Result missing = aulens("run " + given_cfg.string());
  EXPECT_NE(missing.status, 0);
  EXPECT_TRUE(has(missing, "visualize.checkpoint " + model.string() + " does not exist"))
      << missing.output;
  EXPECT_FALSE(fs::exists(out)) << missing.output;
}

// The sweep of a subset of the images (the training split): each records row must meet the AU
// row of its own dataset image (image_index), not the dataset's row of the same number. R, the
// top-n of each map over the rows carrying an AU, is recomputed here from the files.
TEST_F(Cli, SweepMatchesRecordsRowsToTheirDatasetImages) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const Result visualize = aulens("visualize " + cfg + " --images train --no-images");
  ASSERT_EQ(visualize.status, 0) << visualize.output;
  const Result sweep = aulens("sweep " + cfg);
  ASSERT_EQ(sweep.status, 0) << sweep.output;
  const fs::path out = dir_ / "run";
  const aulens::DatasetCache cache = aulens::load_dataset_cache(out / "dataset.safetensors");
  const aulens::SafeTensors records = aulens::load_safetensors(out / "records.safetensors");
  const aulens::SafeTensors result = aulens::load_safetensors(out / "sweep.safetensors");
  const std::vector<std::int32_t> rows =
      records.tensors.at("image_index").to_vector<std::int32_t>();
  ASSERT_EQ(rows, cache.split.train);
  ASSERT_LT(rows.size(), static_cast<std::size_t>(cache.data.size())) << "not a subset";
  const aulens::Tensor& values = records.tensors.at("conv3_value");
  const aulens::Tensor& top_pos = result.tensors.at("top_pos");  // (A,K,n)
  const std::vector<std::int32_t> analysed = result.tensors.at("au_ids").to_vector<std::int32_t>();
  ASSERT_GE(analysed.size(), 3u) << sweep.output;
  const std::int64_t maps = values.dim(1), n = top_pos.dim(2), all_aus = cache.data.aus.dim(1);
  const float epsilon = std::stof(result.metadata.at("epsilon"));
  for (std::size_t a = 0; a < analysed.size(); ++a) {
    const auto column = std::find(cache.data.au_ids.begin(), cache.data.au_ids.end(), analysed[a]) -
                        cache.data.au_ids.begin();
    for (std::int64_t k = 0; k < maps; ++k) {
      std::vector<float> carrying;
      for (std::size_t r = 0; r < rows.size(); ++r)
        if (cache.data.aus.data<float>()[rows[r] * all_aus + column] > 0.0f)
          carrying.push_back(values.data<float>()[r * maps + k]);
      ASSERT_GE(static_cast<std::int64_t>(carrying.size()), n);
      std::sort(carrying.begin(), carrying.end(), std::greater<>());
      for (std::int64_t i = 0; i < n; ++i)
        ASSERT_EQ(top_pos.data<float>()[(a * maps + k) * n + i], std::max(carrying[i], epsilon))
            << "AU" << analysed[a] << ", map " << k << ", rank " << i + 1;
    }
  }
}

// A dataset path that does not exist is refused before the run folder is made.
TEST_F(Cli, RunWithAMissingDatasetWritesNothing) {
  const std::string cfg = config("manifest.yaml", "  source: manifest\n");
  const Result r = aulens("run " + cfg + " --dataset " + (dir_ / "absent.csv").string());
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r, "absent.csv does not exist")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "run")) << r.output;
}

// The cpu: section may change dataset settings: prepare and the stages after it must resolve the
// device alike, and the refusal says how.
TEST_F(Cli, PrepareTakesTheDeviceSoThatCpuOverridesAgree) {
  const std::string cfg = config("gpu.yaml", "", "device: cuda, batch: 16, max_epochs: 1",
                                 "cpu:\n  dataset: {folds: 2}\n");
  ASSERT_EQ(aulens("synth --out " + (dir_ / "run" / "synthetic").string() +
                   " --subjects 6 --sequences-per-subject 3 --min-frames 4 --max-frames 4")
                .status,
            0);
  ASSERT_EQ(aulens("prepare " + cfg).status, 0);  // device cuda: 3 folds
  const Result refused = aulens("train " + cfg + " --device cpu");
  EXPECT_NE(refused.status, 0);
  EXPECT_TRUE(has(refused, "dataset.folds: 3, but the config has dataset.folds: 2."))
      << refused.output;
  // The command to run repeats the run folder and device, so it prepares what train reads.
  EXPECT_TRUE(has(refused, "(run `aulens prepare " + cfg + " --output " + (dir_ / "run").string() +
                               " --device cpu` again)"))
      << refused.output;
  ASSERT_EQ(aulens("prepare " + cfg + " --device cpu").status, 0);
  const Result trained = aulens("train " + cfg + " --device cpu");
  EXPECT_EQ(trained.status, 0) << trained.output;
}

// Another spelling of the dataset's path is the same dataset.
TEST_F(Cli, TheDatasetPathMaySpellTheSameFolderDifferently) {
  ASSERT_EQ(aulens("run " + config("tiny.yaml")).status, 0);
  const std::string slash =
      config("slash.yaml", "  path: " + (dir_ / "run" / "synthetic").string() + "/\n");
  const Result r = aulens("train " + slash);
  EXPECT_EQ(r.status, 0) << r.output;
}

// A stage run alone in the run folder makes `aulens run` redo it and what follows.
TEST_F(Cli, AStageRunAloneMakesRunRedoWhatFollows) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  ASSERT_EQ(aulens("prepare " + config("fold1.yaml", "  fold: 1\n")).status, 0);
  const Result r = aulens("run " + cfg);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r, "== synth: up to date, skipped")) << r.output;
  for (const char* stage : {"prepare", "train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(r, std::string("== ") + stage + "\n")) << r.output;
}

// A killed run (its train.started stamp left behind, holding the prepare stamp it trained on)
// resumes after max_epochs was raised; it starts afresh after a setting that changes the training
// (the learning rate) was, or when the data is not what it trained on.
TEST_F(Cli, AKilledRunResumesWhenTheCheckpointAndTheDataAllowIt) {
  ASSERT_EQ(aulens("run " + config("tiny.yaml")).status, 0);
  const fs::path stamps = dir_ / "run" / ".stamps";
  const std::string prepare = read_text(stamps / "prepare.json");
  const std::size_t key = prepare.find("\"inputs_hash\": \"");
  ASSERT_NE(key, std::string::npos) << prepare;
  const std::string data_key = prepare.substr(key + 16, 16);
  const auto kill = [&](const std::string& trained_on) {
    std::ofstream(stamps / "train.started.json")
        << R"({"stage": "train.started", "inputs_hash": ")" << trained_on << R"(", "outputs": []})";
  };
  kill(data_key);
  const Result longer =
      aulens("run " + config("longer.yaml", "", "device: cpu, batch: 16, max_epochs: 2"));
  ASSERT_EQ(longer.status, 0) << longer.output;
  EXPECT_TRUE(has(longer, "== train (resuming)")) << longer.output;
  EXPECT_TRUE(has(longer, "after epoch 1")) << longer.output;

  kill("0123456789abcdef");
  const Result moved =
      aulens("run " + config("longer3.yaml", "", "device: cpu, batch: 16, max_epochs: 3"));
  ASSERT_EQ(moved.status, 0) << moved.output;
  EXPECT_TRUE(has(moved, "== train (starting afresh: the data changed")) << moved.output;

  kill(data_key);
  const Result other = aulens(
      "run " + config("lr.yaml", "", "device: cpu, batch: 16, max_epochs: 2, sgd: {lr: 0.05}"));
  ASSERT_EQ(other.status, 0) << other.output;
  EXPECT_TRUE(has(other, "== train (starting afresh: ")) << other.output;
  EXPECT_TRUE(has(other, "train.sgd.lr")) << other.output;
  // The interrupted run's checkpoints are dropped, not set aside over the run before them.
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoints" / "previous" / "last.safetensors"));

  // A checkpoint damaged after the kill (cut short) cannot be resumed from: the run says so and
  // starts afresh instead of stopping.
  kill(data_key);
  fs::resize_file(dir_ / "run" / "checkpoints" / "last.safetensors", 1000);
  const Result damaged =
      aulens("run " + config("longer4.yaml", "", "device: cpu, batch: 16, max_epochs: 4"));
  ASSERT_EQ(damaged.status, 0) << damaged.output;
  EXPECT_TRUE(has(damaged, "== train (starting afresh: ")) << damaged.output;
  EXPECT_TRUE(has(damaged, "cannot be resumed from")) << damaged.output;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "report" / "index.html"));
}

// A manifest's images are inputs too: one replaced under the same name is read again.
TEST_F(Cli, RunRereadsAReplacedManifestImage) {
  const fs::path synthetic = dir_ / "faces";
  ASSERT_EQ(aulens("synth --out " + synthetic.string() +
                   " --subjects 6 --sequences-per-subject 1 --min-frames 4 --max-frames 4")
                .status,
            0);
  std::ofstream csv(dir_ / "faces.csv");
  csv << "path,subject,expression\n";
  const char* expressions[] = {"happy", "sadness", "surprise", "anger"};
  int row = 0;
  for (const auto& subject : fs::directory_iterator(synthetic / "cohn-kanade-images")) {
    for (const auto& image : fs::directory_iterator(subject.path() / "001")) {
      csv << fs::relative(image.path(), dir_).string() << "," << subject.path().filename().string()
          << "," << expressions[row++ % 4] << "\n";
    }
  }
  csv.close();
  const std::string cfg = config(
      "manifest.yaml", "  source: manifest\n  path: " + (dir_ / "faces.csv").string() + "\n");
  const Result first = aulens("run " + cfg);
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_TRUE(has(aulens("run " + cfg), "== prepare: up to date, skipped"));
  const fs::path frames = synthetic / "cohn-kanade-images" / "S005" / "001";
  fs::copy_file(frames / "S005_001_00000004.png", frames / "S005_001_00000002.png",
                fs::copy_options::overwrite_existing);
  const Result again = aulens("run " + cfg);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(has(again, "== prepare\n")) << again.output;

  // An image that has gone is reported once, by aulens, with the manifest's line; OpenCV's own
  // warning about it is not printed.
  fs::remove(frames / "S005_001_00000003.png");
  const Result gone = aulens("run " + cfg);
  ASSERT_EQ(gone.status, 0) << gone.output;
  EXPECT_TRUE(has(gone, "S005_001_00000003.png")) << gone.output;
  EXPECT_FALSE(has(gone, "WARN")) << gone.output;
}

// A refused resume changes nothing in the run folder.
TEST_F(Cli, ARefusedResumeLeavesTheRunAsItWas) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const Result refused = aulens(
      "train " + config("b8.yaml", "", "device: cpu, batch: 8, max_epochs: 1") + " --resume");
  EXPECT_NE(refused.status, 0);
  EXPECT_TRUE(has(refused, "train.batch: 16, but the config has train.batch: 8")) << refused.output;
  const Result again = aulens("run " + cfg);
  for (const char* stage : {"train", "visualize", "sweep", "report"})
    EXPECT_TRUE(has(again, std::string("== ") + stage + ": up to date, skipped")) << again.output;
}

// prepare names the synth command that makes the set the config describes, and refuses a set
// made with other settings.
TEST_F(Cli, PrepareChecksTheSyntheticSetAgainstTheConfig) {
  const std::string cfg = config("tiny.yaml");
  const Result missing = aulens("prepare " + cfg);
  EXPECT_NE(missing.status, 0);
  EXPECT_TRUE(has(missing,
                  "--subjects 6 --seed 1 --sequences-per-subject 3 --min-frames 4 "
                  "--max-frames 4` first"))
      << missing.output;
  const std::string synthetic = (dir_ / "run" / "synthetic").string();
  ASSERT_EQ(aulens("synth --out " + synthetic +
                   " --subjects 5 --sequences-per-subject 3 "
                   "--min-frames 4 --max-frames 4")
                .status,
            0);
  const Result other = aulens("prepare " + cfg);
  EXPECT_NE(other.status, 0);
  EXPECT_TRUE(has(other, "was made with other settings than the config's dataset.synth"))
      << other.output;
}

TEST_F(Cli, SweepWithoutPermutationsSaysThatItsPValuesMeanNothing) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  std::ofstream(dir_ / "p0.yaml") << replaced(read_text(cfg), "permutations: 20",
                                              "permutations: 0");
  const Result r = aulens("sweep " + (dir_ / "p0.yaml").string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r, "no permutation test: the p-values are left empty")) << r.output;
  std::ifstream best(dir_ / "run" / "best_maps.csv");
  std::string header, row;
  ASSERT_TRUE(std::getline(best, header) && std::getline(best, row));
  ASSERT_EQ(header.rfind("au,au_name,best_map,distance,second_map,margin,p_value,", 0), 0u);
  int field = 0;  // the 7th field, p_value, is empty (au_name needs no quotes in the first row)
  std::size_t at = 0;
  while (field < 6) at = row.find(',', at) + 1, ++field;
  EXPECT_EQ(row.substr(at, row.find(',', at) - at), "") << row;
  EXPECT_FALSE(has(aulens("sweep " + cfg), "no permutation test"));
}

TEST_F(Cli, GpuOnlySettingsAreNotSilentlyIgnoredOnTheCpu) {
  ASSERT_EQ(aulens("run " + config("tiny.yaml")).status, 0);
  const Result r = aulens(
      "train " + config("cudnn.yaml", "",
                        "device: cpu, batch: 16, max_epochs: 1, conv_backend: cudnn, tf32: true"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(has(r, "note: train.conv_backend: cudnn, train.tf32: true applies on a GPU only"))
      << r.output;
  EXPECT_FALSE(has(aulens("train " + config("tiny.yaml")), "note:"));
}

TEST_F(Cli, AFolderOrAnEmptyFileAsConfigIsNotSilentlyTheDefaultJob) {
  const Result folder = aulens("run " + dir_.string());
  EXPECT_NE(folder.status, 0);
  EXPECT_TRUE(has(folder, "is a folder")) << folder.output;

  std::ofstream(dir_ / "empty.yaml") << "# nothing\n";
  // train stops at once (no dataset cache in that folder), after the warning.
  const Result empty =
      aulens("train " + (dir_ / "empty.yaml").string() + " --output " + (dir_ / "none").string());
  EXPECT_NE(empty.status, 0);
  EXPECT_TRUE(has(empty, "sets nothing: every setting is the built-in default")) << empty.output;
}

TEST(CliVersion, AMisspeltCommandIsNamed) {
  const Result r = aulens("vizualize configs/default.yaml");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(has(r, "unknown command 'vizualize'")) << r.output;
  EXPECT_TRUE(has(r, "visualize")) << r.output;
}

TEST(CliVersion, PrintsTheVersion) {
  const Result r = aulens("--version");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.rfind("aulens ", 0), 0u) << r.output;
}

// `aulens info` names the BLAS kernel set the CPU path uses (OpenBLAS picks one per CPU, and CPU
// runs repeat bit for bit only where it picks the same); a CPU run's metrics.json records it.
TEST_F(Cli, InfoAndCpuMetricsNameTheBlasKernels) {
  const Result info = aulens("info");
  EXPECT_EQ(info.status, 0) << info.output;
  EXPECT_TRUE(has(info, "CPU BLAS: OpenBLAS ")) << info.output;
  EXPECT_TRUE(has(info, "(kernels: ")) << info.output;
  const Result run = aulens("run " + config("tiny.yaml"));
  ASSERT_EQ(run.status, 0) << run.output;
  const auto metrics = nlohmann::json::parse(read_text(dir_ / "run" / "metrics.json"));
  ASSERT_TRUE(metrics.contains("cpu_blas")) << metrics.dump();
  const std::string line = info.output.substr(info.output.find("CPU BLAS: ") + 10);
  EXPECT_EQ(metrics["cpu_blas"].get<std::string>(), line.substr(0, line.find('\n')));
}

// A stage's inputs from the stage before, damaged at random after a tiny run (tests/mutate_bytes.h;
// the readers' own fuzz tests are test_fuzz_readers.cpp), the last checkpoint read by a resumed
// training among them: the stage runs, or stops with "aulens: error:" naming the damaged file. Not
// a crash, not a message that leaves the user to guess which file is at fault.
TEST_F(Cli, StagesOnDamagedInputsRunOrStopNamingTheFile) {
  const std::string cfg = config("tiny.yaml");
  ASSERT_EQ(aulens("run " + cfg).status, 0);
  const std::uint32_t seed = aulens::testing::fresh_seed();
  std::printf("[ seed ] AULENS_TEST_SEED=%u\n", seed);
  std::mt19937_64 rng(seed);
  const fs::path out = dir_ / "run";
  const std::vector<std::tuple<std::string, std::string, int>> inputs = {
      {"records.safetensors", "sweep", 24},
      {"dataset.safetensors", "sweep", 8},
      {"checkpoints/best.safetensors", "visualize --no-images", 8},
      {"checkpoints/last.safetensors", "train --resume", 8}};
  for (const auto& [name, stage, rounds] : inputs) {
    const fs::path file = out / name;
    const std::string original = read_text(file);
    // The damage goes to the header four times in five (the data is opaque).
    const std::size_t focus = aulens::testing::safetensors_header_end(original);
    int ran = 0, stopped = 0;
    for (int round = 0; round < rounds * aulens::testing::fuzz_rounds(); ++round) {
      std::ofstream(file, std::ios::binary | std::ios::trunc)
          << aulens::testing::mutate(original, rng, focus);
      const Result r = aulens(stage + " " + cfg);
      if (r.status == 0) {
        ++ran;
        continue;
      }
      ++stopped;
      ASSERT_EQ(r.status, 1) << name << ", round " << round << ": " << r.output;
      ASSERT_TRUE(has(r, "aulens: error: ") && has(r, fs::path(name).filename().string()))
          << name << ", round " << round << ": " << r.output;
    }
    std::ofstream(file, std::ios::binary | std::ios::trunc) << original;
    std::printf("[ note ] %s: `aulens %s` ran on %d damaged copies, stopped on %d\n", name.c_str(),
                stage.c_str(), ran, stopped);
    EXPECT_GT(stopped, 0) << name;
  }
}

// A problem the user can fix is said in words, without the failed condition or a source line.
TEST_F(Cli, UserErrorsCarryNoAssertionText) {
  ASSERT_EQ(aulens("run " + config("tiny.yaml")).status, 0);
  const Result cuda = aulens("train " + config("tiny.yaml") + " --device cuda");
  if (cuda.status == 0) GTEST_SKIP() << "a GPU is usable here";
  EXPECT_TRUE(has(cuda, "train.device is cuda but no GPU is usable")) << cuda.output;
  EXPECT_FALSE(has(cuda, "[") || has(cuda, ".cpp:")) << cuda.output;
}

TEST_F(Cli, RefusedSynthFoldersCarryNoAssertionText) {
  const fs::path file = dir_ / "a_file";
  std::ofstream(file) << "not a folder\n";
  const fs::path other = dir_ / "someone_elses";
  fs::create_directories(other);
  std::ofstream(other / "notes.txt") << "keep me\n";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"synth --out " + file.string(), "exists and is not a folder"},
           {"synth --out " + other.string(), "is not an aulens synthetic dataset"}}) {
    const Result r = aulens(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_TRUE(has(r, message)) << args << ": " << r.output;
    EXPECT_FALSE(has(r, "[") || has(r, ".cpp:")) << args << ": " << r.output;
  }
  EXPECT_TRUE(fs::exists(other / "notes.txt"));
}

TEST_F(Cli, OutOfRangeOptionsAreRefused) {
  const std::string cfg = config("tiny.yaml");
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"train " + cfg + " --max-epochs 0", "--max-epochs: Value 0 not in range 1 to 1000000"},
           {"visualize " + cfg + " --top-n 0", "--top-n: Value 0 not in range 1 to 32"},
           {"synth --out " + (dir_ / "s").string() + " --seed -1",
            "--seed: must not be negative, got -1"}}) {
    const Result r = aulens(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_TRUE(has(r, message)) << args << ": " << r.output;
  }
  EXPECT_FALSE(fs::exists(dir_ / "s"));
}

#ifdef AULENS_EMULATED_BINARY
// The whole `aulens run` on the GPU code path, in the emulated CUDA build (aulens_emulated: the
// launchers as written, every kernel through the host emulator; docs/architecture.md): training on
// the device, records, top-n and projections, the sweep and the report, against the same run on
// the CPU. Same data and seeds, so only summation order differs: the last checkpoint, records and
// projections within 1e-4 of the largest value, AUCs within 1e-3; nine in ten top-n entries the
// same (a near-tie could swap two) and, on this data, every AU's best map.
TEST_F(Cli, AGpuRunAgreesWithTheCpuRun) {
  const std::string cpu_cfg = config("cpu.yaml");
  const Result cpu = aulens("run " + cpu_cfg);
  ASSERT_EQ(cpu.status, 0) << cpu.output;
  const fs::path gpu_cfg = dir_ / "gpu.yaml";
  const fs::path gpu_out = dir_ / "run_gpu";
  std::ofstream(gpu_cfg) << replaced(
      replaced(read_text(cpu_cfg), "output: " + (dir_ / "run").string(),
               "output: " + gpu_out.string()),
      "device: cpu", "device: cuda");
  const Result gpu = run_binary(AULENS_EMULATED_BINARY, "run " + gpu_cfg.string());
  ASSERT_EQ(gpu.status, 0) << gpu.output;
  for (const char* stage : {"training on cuda", "visualize on cuda", "sweep on cuda"})
    EXPECT_TRUE(has(gpu, stage)) << gpu.output;
  EXPECT_TRUE(fs::exists(gpu_out / "report" / "index.html"));

  const std::string metrics = read_text(gpu_out / "metrics.json");
  EXPECT_NE(metrics.find("\"device\": \"cuda (handwritten, ffma)\""), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("cpu_blas"), std::string::npos) << metrics;  // no BLAS trained it
  // Each output file of the two runs, read once.
  struct Outputs {
    aulens::SafeTensors checkpoint, records, projections, sweep;
  };
  const auto outputs = [](const fs::path& folder) {
    return Outputs{aulens::load_safetensors(folder / "checkpoints" / "last.safetensors"),
                   aulens::load_safetensors(folder / "records.safetensors"),
                   aulens::load_safetensors(folder / "projections.safetensors"),
                   aulens::load_safetensors(folder / "sweep.safetensors")};
  };
  const Outputs g = outputs(gpu_out), c = outputs(dir_ / "run");
  const auto floats = [](const aulens::SafeTensors& file, const std::string& tensor) {
    return file.tensors.at(tensor).to_vector<float>();
  };
  const auto relative = [&](const aulens::SafeTensors& a, const aulens::SafeTensors& b,
                            const std::string& tensor) {
    return aulens::testing::relative_difference(floats(a, tensor), floats(b, tensor));
  };
  EXPECT_LE(relative(g.checkpoint, c.checkpoint, "fc2.weight"), 1e-4);
  EXPECT_LE(relative(g.records, c.records, "conv3_value"), 1e-4);
  EXPECT_LE(relative(g.projections, c.projections, "top_values"), 1e-4);
  EXPECT_LE(relative(g.sweep, c.sweep, "auc"), 1e-3);

  const auto top_gpu = g.projections.tensors.at("top_images").to_vector<std::int32_t>();
  const auto top_cpu = c.projections.tensors.at("top_images").to_vector<std::int32_t>();
  ASSERT_EQ(top_gpu.size(), top_cpu.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < top_cpu.size(); ++i) same += top_gpu[i] == top_cpu[i];
  EXPECT_GE(same * 10, top_cpu.size() * 9) << "top-n images: " << same << " of " << top_cpu.size();
  // Projections of the (map, rank) entries whose image is the same on both.
  const auto windows_gpu = floats(g.projections, "projections");
  const auto windows_cpu = floats(c.projections, "projections");
  ASSERT_EQ(windows_gpu.size(), windows_cpu.size());
  const std::size_t tile = windows_cpu.size() / top_cpu.size();
  std::vector<float> compared_gpu, compared_cpu;
  for (std::size_t e = 0; e < top_cpu.size(); ++e) {
    if (top_gpu[e] != top_cpu[e]) continue;
    compared_gpu.insert(compared_gpu.end(), windows_gpu.begin() + e * tile,
                        windows_gpu.begin() + (e + 1) * tile);
    compared_cpu.insert(compared_cpu.end(), windows_cpu.begin() + e * tile,
                        windows_cpu.begin() + (e + 1) * tile);
  }
  EXPECT_TRUE(std::any_of(compared_cpu.begin(), compared_cpu.end(), [](float v) { return v != 0; }))
      << "every compared projection is zero";
  EXPECT_LE(aulens::testing::relative_difference(compared_gpu, compared_cpu), 1e-4)
      << "projections differ beyond summation order";
  // The best map of each AU: the first three fields (au, name, best map) of best_maps.csv.
  const auto best_maps = [](const fs::path& path) {
    std::vector<std::string> rows;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      std::size_t end = 0;
      for (int field = 0; field < 3 && end != std::string::npos; ++field)
        end = line.find(',', end == 0 ? 0 : end + 1);
      rows.push_back(line.substr(0, end));
    }
    return rows;
  };
  const auto best_gpu = best_maps(gpu_out / "best_maps.csv");
  EXPECT_GT(best_gpu.size(), 1u) << "no AU analysed";
  EXPECT_EQ(best_gpu, best_maps(dir_ / "run" / "best_maps.csv"));
}
#endif  // AULENS_EMULATED_BINARY

}  // namespace
