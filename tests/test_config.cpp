// The YAML config loader: defaults from an empty file, every kind of error with its file and line,
// every key read (a file that sets all of them to non-defaults), config_to_yaml → load_config round
// trip, and configs/default.yaml.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>

#include "aulens/config.h"
#include "aulens/cuda_math.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

// Every field, compared one by one (the structs have no operator==).
void expect_same(const RunConfig& a, const RunConfig& b) {
#define AULENS_EXPECT_FIELD(field) EXPECT_EQ(a.field, b.field) << #field
  AULENS_EXPECT_FIELD(output);
  AULENS_EXPECT_FIELD(dataset.source);
  AULENS_EXPECT_FIELD(dataset.path);
  AULENS_EXPECT_FIELD(dataset.synth.subjects);
  AULENS_EXPECT_FIELD(dataset.synth.seed);
  AULENS_EXPECT_FIELD(dataset.synth.sequences_per_subject);
  AULENS_EXPECT_FIELD(dataset.synth.min_frames);
  AULENS_EXPECT_FIELD(dataset.synth.max_frames);
  AULENS_EXPECT_FIELD(dataset.frames);
  AULENS_EXPECT_FIELD(dataset.neutral_class);
  AULENS_EXPECT_FIELD(dataset.crop_margin);
  AULENS_EXPECT_FIELD(dataset.crop_size);
  AULENS_EXPECT_FIELD(dataset.strict);
  AULENS_EXPECT_FIELD(dataset.split);
  AULENS_EXPECT_FIELD(dataset.folds);
  AULENS_EXPECT_FIELD(dataset.fold);
  AULENS_EXPECT_FIELD(dataset.test_images);
  AULENS_EXPECT_FIELD(dataset.split_seed);
  AULENS_EXPECT_FIELD(model.input_size);
  AULENS_EXPECT_FIELD(model.conv1);
  AULENS_EXPECT_FIELD(model.conv2);
  AULENS_EXPECT_FIELD(model.conv3);
  AULENS_EXPECT_FIELD(model.fc);
  AULENS_EXPECT_FIELD(model.classes);
  AULENS_EXPECT_FIELD(model.dropout);
  AULENS_EXPECT_FIELD(train.device);
  AULENS_EXPECT_FIELD(train.conv_backend);
  AULENS_EXPECT_FIELD(train.fp32_conv);
  AULENS_EXPECT_FIELD(train.tf32);
  AULENS_EXPECT_FIELD(train.batch);
  AULENS_EXPECT_FIELD(train.max_epochs);
  AULENS_EXPECT_FIELD(train.patience);
  AULENS_EXPECT_FIELD(train.sgd.lr);
  AULENS_EXPECT_FIELD(train.sgd.momentum);
  AULENS_EXPECT_FIELD(train.sgd.weight_decay);
  AULENS_EXPECT_FIELD(train.init);
  AULENS_EXPECT_FIELD(train.seed);
  AULENS_EXPECT_FIELD(train.augment.max_rotation_deg);
  AULENS_EXPECT_FIELD(train.augment.flip);
  AULENS_EXPECT_FIELD(train.augment.input_size);
  AULENS_EXPECT_FIELD(visualize.images);
  AULENS_EXPECT_FIELD(visualize.top_n);
  AULENS_EXPECT_FIELD(visualize.conv1_conv2_records);
  AULENS_EXPECT_FIELD(visualize.checkpoint);
  AULENS_EXPECT_FIELD(sweep.top_n);
  AULENS_EXPECT_FIELD(sweep.min_images);
  AULENS_EXPECT_FIELD(sweep.epsilon);
  AULENS_EXPECT_FIELD(sweep.permutations);
  AULENS_EXPECT_FIELD(sweep.seed);
#undef AULENS_EXPECT_FIELD
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aulens_test_config_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& yaml, const std::string& name = "config.yaml") {
    fs::path path = dir_ / name;
    std::ofstream(path) << yaml;
    return path;
  }

  // Loads `yaml` and expects an aulens::Error containing "config.yaml:<line>: " and `needles`.
  void expect_error(const std::string& yaml, int line, std::initializer_list<std::string> needles,
                    const LoadOptions& options = {}) {
    SCOPED_TRACE(yaml);
    const fs::path path = write(yaml);
    try {
      load_config(path, options);
    } catch (const Error& e) {
      const std::string message = e.what();
      const std::string location = path.string() + ":" + std::to_string(line) + ": ";
      EXPECT_EQ(message.rfind(location, 0), 0u)
          << "message does not start with " << location << ": " << message;
      for (const std::string& needle : needles) {
        EXPECT_NE(message.find(needle), std::string::npos)
            << "message lacks \"" << needle << "\": " << message;
      }
      return;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw a non-aulens exception: " << e.what();
      return;
    }
    ADD_FAILURE() << "did not throw";
  }

  fs::path dir_;
};

// Every key set to a value different from its default.
const char* kEveryKeyYaml = R"(# every key, none at its default
output: "out dir/with: colon"
dataset:
  source: ckplus
  path: /data/CK+
  synth:
    subjects: 7
    seed: 18446744073709551615
    sequences_per_subject: 3
    min_frames: 4
    max_frames: 6
  frames: last_3
  neutral_class: true
  crop_margin: 0.25
  crop_size: 40
  strict: yes
  split: random_200
  folds: 5
  fold: 4
  test_images: 50
  split_seed: 99
model:
  input_size: 32
  conv1: 4
  conv2: 8
  conv3: 16
  fc: 32
  classes: 8
  dropout: 0.1
train:
  device: cpu
  conv_backend: cudnn
  fp32_conv: 3xtf32
  tf32: true
  batch: 16
  max_epochs: 3
  patience: 2
  sgd:
    lr: 3e-4
    momentum: 0.5
    weight_decay: 0
  init: unit_gaussian
  seed: 7
  augment:
    max_rotation_deg: 7.5
    flip: false
    input_size: 32
visualize:
  images: test
  top_n: 4
  conv1_conv2_records: true
  checkpoint: "models/mine: v2.safetensors"
sweep:
  top_n: 5
  min_images: 3
  epsilon: 1e-8
  permutations: 0
  seed: 12
)";

RunConfig every_key_expected() {
  RunConfig c;
  c.output = "out dir/with: colon";
  c.dataset.source = "ckplus";
  c.dataset.path = "/data/CK+";
  c.dataset.synth = {7, 18446744073709551615ull, 3, 4, 6};
  c.dataset.frames = "last_3";
  c.dataset.neutral_class = true;
  c.dataset.crop_margin = 0.25f;
  c.dataset.crop_size = 40;
  c.dataset.strict = true;
  c.dataset.split = "random_200";
  c.dataset.folds = 5;
  c.dataset.fold = 4;
  c.dataset.test_images = 50;
  c.dataset.split_seed = 99;
  c.model = {32, 4, 8, 16, 32, 8, 0.1f};
  c.train.device = "cpu";
  c.train.conv_backend = "cudnn";
  c.train.fp32_conv = "3xtf32";
  c.train.tf32 = true;
  c.train.batch = 16;
  c.train.max_epochs = 3;
  c.train.patience = 2;
  c.train.sgd = {3e-4f, 0.5f, 0.0f};
  c.train.init = "unit_gaussian";
  c.train.seed = 7;
  c.train.augment = {7.5f, false, 32};
  c.visualize = {"test", 4, true, "models/mine: v2.safetensors"};
  c.sweep = {5, 3, 1e-8f, 0, 12};
  return c;
}

TEST_F(ConfigTest, EmptyFileGivesTheDefaults) {
  const fs::path path = write("");
  RunConfig loaded = load_config(path);
  expect_same(loaded, RunConfig{});
  EXPECT_EQ(loaded.source_file, path);
  EXPECT_TRUE(loaded.file_sets_nothing) << "the commands warn about it";
  EXPECT_TRUE(load_config(write("{}\n")).file_sets_nothing);
  EXPECT_FALSE(load_config(write("train:\n  batch: 8\n")).file_sets_nothing);
  // Comments only, and sections left empty, also keep the defaults.
  expect_same(load_config(write("# nothing here\n")), RunConfig{});
  expect_same(load_config(write("train:\ndataset:\n  synth:\n")), RunConfig{});
}

TEST_F(ConfigTest, ReadsEveryKey) {
  expect_same(load_config(write(kEveryKeyYaml)), every_key_expected());
}

TEST_F(ConfigTest, RoundTripThroughYaml) {
  // Non-default values (so a key config_to_yaml forgot would come back as its default) and the
  // defaults themselves.
  for (const RunConfig& original : {load_config(write(kEveryKeyYaml)), RunConfig{}}) {
    const std::string yaml = config_to_yaml(original);
    SCOPED_TRACE(yaml);
    RunConfig again = load_config(write(yaml, "again.yaml"));
    expect_same(again, original);
    EXPECT_EQ(config_to_yaml(again), yaml);
  }
  // An unset visualize.checkpoint is not written: run folders stamped before the key existed
  // hash the visualize section as it was then, and stay current.
  EXPECT_EQ(config_to_yaml(RunConfig{}).find("checkpoint"), std::string::npos);
}

TEST_F(ConfigTest, FloatsRoundTripExactly) {
  RunConfig c;
  c.train.sgd.lr = 1.0f / 3.0f;
  c.train.sgd.weight_decay = 1.17549435e-38f;  // smallest normal float
  c.sweep.epsilon = 2.0f;                      // integral value must still read as a float
  c.dataset.crop_margin = 0.1f;
  RunConfig again = load_config(write(config_to_yaml(c)));
  EXPECT_EQ(again.train.sgd.lr, c.train.sgd.lr);
  EXPECT_EQ(again.train.sgd.weight_decay, c.train.sgd.weight_decay);
  EXPECT_EQ(again.sweep.epsilon, c.sweep.epsilon);
  EXPECT_EQ(again.dataset.crop_margin, c.dataset.crop_margin);
}

TEST_F(ConfigTest, UnknownKeysNameTheirPathAndTheKnownOnes) {
  expect_error("output: runs/x\nfoo: 1\n", 2, {"unknown key 'foo'", "known: output, dataset"});
  expect_error("dataset:\n  source: synthetic\n  foo: 3\n", 3,
               {"unknown key 'dataset.foo'", "(known: source, path, synth,"});
  expect_error("dataset:\n  synth:\n    subjects: 3\n\n    colour: red\n", 5,
               {"unknown key 'dataset.synth.colour'", "sequences_per_subject"});
  expect_error("train:\n  sgd:\n    nesterov: true\n", 3,
               {"unknown key 'train.sgd.nesterov'", "known: lr, momentum, weight_decay"});
}

TEST_F(ConfigTest, WrongTypes) {
  expect_error("model:\n  conv1: 8\ntrain:\n  device: cpu\n\n\n  batch: abc\n", 7,
               {"'train.batch' must be an integer, got 'abc'"});
  expect_error("train:\n  batch: 1.5\n", 2, {"'train.batch' must be an integer, got '1.5'"});
  expect_error("train:\n  batch: 99999999999\n", 2, {"'train.batch' must be an integer"});
  expect_error("train:\n  batch: [1, 2]\n", 2, {"'train.batch' must be an integer, got a list"});
  expect_error("train:\n  batch:\n", 2, {"'train.batch' must be an integer, got nothing"});
  expect_error("model:\n  dropout: half\n", 2, {"'model.dropout' must be a number, got 'half'"});
  expect_error("model:\n  dropout: .nan\n", 2, {"'model.dropout' must be a number"});
  expect_error("train:\n  tf32: maybe\n", 2, {"'train.tf32' must be true or false, got 'maybe'"});
  expect_error("train:\n  seed: -1\n", 2,
               {"'train.seed' must be a non-negative integer, got '-1'"});
  expect_error("train: fast\n", 1, {"'train' must be a mapping of keys, got 'fast'"});
  expect_error("dataset:\n  synth: [1]\n", 2, {"'dataset.synth' must be a mapping"});
  expect_error("- a\n- b\n", 1, {"the file must be a mapping of keys, got a list"});
  expect_error("train:\n  device: {a: 1}\n", 2, {"'train.device' must be a string, got a mapping"});
}

TEST_F(ConfigTest, EnumeratedStrings) {
  expect_error("dataset:\n  source: imagenet\n", 2,
               {"'dataset.source' must be one of synthetic | ckplus | manifest, got 'imagenet'"});
  expect_error("dataset:\n  frames: first\n", 2, {"'dataset.frames'", "all_but_first | last_3"});
  expect_error("dataset:\n  split: random\n", 2, {"'dataset.split'", "subject_kfold | random_200"});
  expect_error("train:\n  device: gpu\n", 2, {"'train.device'", "cuda | cpu | auto", "'gpu'"});
  expect_error("train:\n  conv_backend: winograd\n", 2, {"'train.conv_backend'", "cudnn"});
  expect_error("train:\n  fp32_conv: tf32\n", 2, {"'train.fp32_conv'", "3xtf32"});
  expect_error("train:\n  init: xavier\n", 2, {"'train.init'", "he_normal | unit_gaussian"});
  expect_error("visualize:\n  images: some\n", 2, {"'visualize.images'", "train | test | all"});
}

// Every train.fp32_conv value loads and names its conv math mode; train.tf32 overrides it.
TEST_F(ConfigTest, ConvMathModes) {
  const std::pair<const char*, ConvMath> modes[] = {
      {"ffma", ConvMath::ffma}, {"3xtf32", ConvMath::tf32x3}, {"fastest", ConvMath::fastest}};
  for (const auto& [name, math] : modes) {
    SCOPED_TRACE(name);
    const RunConfig c = load_config(write(std::string("train:\n  fp32_conv: ") + name + "\n"));
    EXPECT_EQ(c.train.fp32_conv, name);
    EXPECT_EQ(conv_math_for(false, c.train.fp32_conv), math);
    EXPECT_EQ(conv_math_for(true, c.train.fp32_conv), ConvMath::tf32);
    EXPECT_STREQ(conv_math_name(math), name);
  }
}

TEST_F(ConfigTest, Ranges) {
  expect_error("train:\n  batch: 0\n", 2, {"'train.batch' must be >= 1, got 0"});
  expect_error("model:\n  dropout: 1\n", 2, {"'model.dropout' must be [0, 1), got 1"});
  expect_error("model:\n  dropout: -0.1\n", 2, {"'model.dropout' must be [0, 1)"});
  expect_error("train:\n  sgd:\n    lr: 0\n", 3, {"'train.sgd.lr' must be > 0"});
  expect_error("train:\n  sgd:\n    momentum: 1.0\n", 3, {"'train.sgd.momentum' must be [0, 1)"});
  expect_error("dataset:\n  folds: 1\n", 2, {"'dataset.folds' must be >= 2, got 1"});
  expect_error("dataset:\n  fold: -1\n", 2, {"'dataset.fold' must be >= 0, got -1"});
  expect_error("sweep:\n  top_n: 0\n", 2, {"'sweep.top_n' must be >= 1"});
  expect_error("sweep:\n  epsilon: 0\n", 2, {"'sweep.epsilon' must be > 0"});
  expect_error("train:\n  augment:\n    max_rotation_deg: 200\n", 3,
               {"'train.augment.max_rotation_deg' must be [0, 180]"});
}

TEST_F(ConfigTest, CrossKeyRulesPointAtTheKeyAtFault) {
  expect_error("model:\n  input_size: 100\n", 2, {"'model.input_size' must be divisible by 8"});
  expect_error("dataset:\n  folds: 5\n  fold: 5\n", 3,
               {"'dataset.fold' must be in [0, dataset.folds - 1] = [0, 4], got 5"});
  expect_error("dataset:\n  fold: 3\n  folds: 3\n", 2, {"'dataset.fold'", "got 3"});
  expect_error("dataset:\n  crop_size: 64\n", 2,
               {"'dataset.crop_size' (64) must be >= 'model.input_size' (96)"});
  expect_error("model:\n  input_size: 32\n", 2,
               {"'train.augment.input_size' (96) must equal 'model.input_size' (32)"});
  expect_error("dataset:\n  synth:\n    min_frames: 9\n    max_frames: 8\n", 4,
               {"'dataset.synth.max_frames' (8) must be >= 'dataset.synth.min_frames' (9)"});
  expect_error("dataset:\n  source: manifest\n", 2, {"'dataset.path' must be set"});
  expect_error("dataset:\n  neutral_class: true\n", 2,
               {"'model.classes' must be 8 (the seven CK+ emotions and neutral), got 7"});
  expect_error("model:\n  classes: 5\n", 2, {"'model.classes' must be 7"});
  expect_error("sweep:\n  top_n: 33\n", 2, {"'sweep.top_n' must be at most 32"});
  expect_error("visualize:\n  top_n: 40\n", 2, {"'visualize.top_n' must be at most 32"});
}

TEST_F(ConfigTest, DuplicateKeysAndSyntaxErrors) {
  expect_error("train:\n  batch: 8\n  batch: 16\n", 3, {"duplicate key 'train.batch'"});
  expect_error("train:\n  batch: 8\n   lr: [\n", 3, {"YAML syntax error"});
}

TEST_F(ConfigTest, MissingFile) {
  const fs::path path = dir_ / "absent.yaml";
  try {
    load_config(path);
    ADD_FAILURE() << "did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": cannot open"), std::string::npos)
        << e.what();
  }
}

TEST_F(ConfigTest, AFolderIsNotAConfig) {
  try {
    load_config(dir_);
    ADD_FAILURE() << "a folder was read as an empty config (all defaults)";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir_.string() + ": is a folder"), std::string::npos)
        << e.what();
  }
}

TEST_F(ConfigTest, ShippedDefaultConfig) {
  // Without its `cpu:` section (which depends on the machine) it is the paper's defaults.
  LoadOptions without_cpu;
  without_cpu.apply_cpu_overrides = false;
  const RunConfig loaded =
      load_config(fs::path(AULENS_SOURCE_DIR) / "configs" / "default.yaml", without_cpu);
  RunConfig expected;
  expected.output = "runs/default";
  expected.dataset.source = "synthetic";
  expect_same(loaded, expected);
}

TEST_F(ConfigTest, CpuSectionAppliesOnlyOnTheCpu) {
  const fs::path path = write(
      "model:\n  conv1: 32\ntrain:\n  max_epochs: 40\n"
      "cpu:\n  model:\n    conv1: 8\n    fc: 64\n  train:\n    max_epochs: 3\n");
  LoadOptions on_cpu;
  on_cpu.device = "cpu";
  const RunConfig cpu = load_config(path, on_cpu);
  EXPECT_TRUE(cpu.cpu_overrides_applied);
  EXPECT_EQ(cpu.model.conv1, 8);
  EXPECT_EQ(cpu.model.fc, 64);
  EXPECT_EQ(cpu.train.max_epochs, 3);
  EXPECT_EQ(cpu.model.conv2, RunConfig{}.model.conv2);  // untouched keys keep the file's value
  EXPECT_EQ(cpu.train.device, "cpu");
  // The resolved config has no cpu section and reads back the same.
  const RunConfig again = load_config(write(config_to_yaml(cpu), "resolved.yaml"), on_cpu);
  EXPECT_FALSE(again.has_cpu_overrides);
  expect_same(again, cpu);

  LoadOptions on_gpu;
  on_gpu.device = "cuda";
  const RunConfig gpu = load_config(path, on_gpu);
  EXPECT_TRUE(gpu.has_cpu_overrides);
  EXPECT_FALSE(gpu.cpu_overrides_applied);
  EXPECT_EQ(gpu.model.conv1, 32);
  EXPECT_EQ(gpu.train.max_epochs, 40);
  EXPECT_EQ(gpu.train.device, "cuda");
}

TEST_F(ConfigTest, CpuSectionKeysAreChecked) {
  LoadOptions on_gpu;
  on_gpu.device = "cuda";  // checked even where it is not applied
  expect_error("cpu:\n  model:\n    widht: 8\n", 3, {"unknown key 'cpu.model.widht'"}, on_gpu);
  expect_error("cpu:\n  cpu:\n    model: 1\n", 2, {"unknown key 'cpu.cpu'"}, on_gpu);
  expect_error("cpu:\n  train:\n    batch: 0\n", 3, {"'cpu.train.batch'"}, on_gpu);
  // A rule over several keys broken by the cpu: section, where it applies, names that section's
  // line, not the top level's.
  LoadOptions on_cpu;
  on_cpu.device = "cpu";
  expect_error("visualize:\n  top_n: 3\ncpu:\n  visualize:\n    top_n: 100\n", 5,
               {"'visualize.top_n' must be at most 32", "(set in the cpu: section"}, on_cpu);
  expect_error("model:\n  classes: 7\ncpu:\n  model:\n    classes: 5\n", 5,
               {"'model.classes' must be 7"}, on_cpu);
}

// What an error tells a user to run: the config file, run folder and device it was given, and
// for prepare the dataset path; a word the shell would split or expand is quoted.
TEST(StageCommand, RepeatsTheRunFolderDeviceAndDatasetQuotedForTheShell) {
  RunConfig cfg;
  cfg.source_file = "configs/my run.yaml";
  cfg.output = "/data/it's here";
  cfg.train.device = "cpu";
  EXPECT_EQ(stage_command(cfg, "train"),
            "aulens train 'configs/my run.yaml' --output '/data/it'\\''s here' --device cpu");
  cfg.dataset.path = "/data/CK+";
  EXPECT_EQ(stage_command(cfg, "prepare"),
            "aulens prepare 'configs/my run.yaml' --output '/data/it'\\''s here' --dataset "
            "/data/CK+ --device cpu");
  EXPECT_EQ(stage_command(cfg, "visualize"),
            "aulens visualize 'configs/my run.yaml' --output '/data/it'\\''s here' --device cpu");
  cfg.source_file.clear();
  cfg.output = "runs/x";
  cfg.train.device = "auto";
  EXPECT_EQ(stage_command(cfg, "sweep"), "aulens sweep CONFIG --output runs/x --device auto");
  // A CK+ or manifest config may leave the dataset path to the command line.
  cfg.dataset.source = "manifest";
  cfg.dataset.path.clear();
  EXPECT_EQ(stage_command(cfg, "prepare"),
            "aulens prepare CONFIG --output runs/x --dataset PATH --device auto");
  EXPECT_EQ(shell_word("=cmd"), "'=cmd'");  // zsh would expand it
  EXPECT_EQ(shell_word(""), "''");
}

}  // namespace
}  // namespace aulens
