// Mutation fuzzing of every reader of user files: valid files written by aulens itself (a
// safetensors file, a checkpoint, a dataset cache, the shipped config, a CSV, the images and text
// files of a tiny synthetic CK+ tree, and a manifest) are damaged at random (bytes replaced, cut,
// repeated or dropped, numbers and YAML/JSON punctuation put in) and read again. Every read must
// end one of two ways: the file is accepted, or aulens::Error is thrown that names the file. Any
// other exception (a parser's own, std::out_of_range, std::bad_alloc, …) is a failure, and so is
// a crash; tools/sanitize.sh builds the tests with AddressSanitizer and UBSan, which turn memory
// errors and undefined behaviour into crashes.
//
// A fresh seed per run (printed; AULENS_TEST_SEED repeats it). AULENS_FUZZ_ROUNDS multiplies the
// number of damaged files per reader (default 1) for longer runs by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "aulens/check.h"
#include "aulens/checkpoint.h"
#include "aulens/config.h"
#include "aulens/csv.h"
#include "aulens/dataset.h"
#include "aulens/net.h"
#include "aulens/safetensors.h"
#include "fresh_seed.h"
#include "mutate_bytes.h"

#ifdef AULENS_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "aulens/synth.h"
#endif

namespace aulens {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Runs `read`; it may return or throw aulens::Error naming `named` (a file name). Else a failure
// that gives the round and where the damaged input was kept.
struct Verdict {
  int accepted = 0, refused = 0;
};

void expect_clean(const std::function<void()>& read, const std::string& named, int round,
                  const fs::path& damaged, Verdict& verdict) {
  try {
    read();
    ++verdict.accepted;
    return;
  } catch (const Error& e) {
    ++verdict.refused;
    const std::string message = e.what();
    if (message.find(named) != std::string::npos) return;
    ADD_FAILURE() << "round " << round << ": the error does not name " << named << ": " << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "round " << round << ": a non-aulens exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "round " << round << ": an exception that is not a std::exception";
  }
  // Keep the input that failed beside the temporary folder's other files for a look by hand.
  const fs::path kept = fs::temp_directory_path() / ("aulens_fuzz_failed_" + named);
  std::error_code ignored;
  fs::copy(damaged, kept, fs::copy_options::overwrite_existing | fs::copy_options::recursive,
           ignored);
  ADD_FAILURE() << "the damaged input is kept at " << kept;
}

class FuzzReaders : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aulens_test_fuzz_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    seed_ = testing::fresh_seed();
    std::printf("[ seed ] AULENS_TEST_SEED=%u\n", seed_);
    rng_.seed(seed_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `count` damaged copies of `original` at `path`, each read by `read`; the verdicts must
  // include refusals (else the damage never reached the parser and the test proves nothing).
  void fuzz_file(const fs::path& path, const std::string& original, int count, std::size_t focus,
                 const std::function<void()>& read) {
    Verdict verdict;
    for (int round = 0; round < count * testing::fuzz_rounds(); ++round) {
      write_bytes(path, testing::mutate(original, rng_, focus));
      expect_clean(read, path.filename().string(), round, path, verdict);
      if (::testing::Test::HasFailure()) return;
    }
    std::printf("[ note ] %s: %d damaged copies accepted, %d refused\n",
                path.filename().string().c_str(), verdict.accepted, verdict.refused);
    EXPECT_GT(verdict.refused, 0);
  }

  fs::path dir_;
  std::uint32_t seed_ = 0;
  std::mt19937_64 rng_;
};

TEST_F(FuzzReaders, Safetensors) {
  std::map<std::string, Tensor> tensors;
  tensors.emplace("a.f32", Tensor::zeros({3, 4}, DType::f32));
  tensors.emplace("b.i32", Tensor::zeros({5}, DType::i32));
  tensors.emplace("c.u8", Tensor::zeros({2, 3}, DType::u8));
  tensors.emplace("d.i64", Tensor::zeros({}, DType::i64));
  const fs::path path = dir_ / "file.safetensors";
  save_safetensors(path, tensors, {{"note", "[1, 2, \"three\"]"}, {"other", "x"}});
  const std::string original = read_bytes(path);
  fuzz_file(path, original, 400, testing::safetensors_header_end(original),
            [&] { (void)load_safetensors(path); });
  fuzz_file(path, original, 100, testing::safetensors_header_end(original),
            [&] { (void)read_safetensors_header(path); });
}

TEST_F(FuzzReaders, Checkpoint) {
  NetConfig cfg;
  cfg.input_size = 16;
  cfg.conv1 = 2;
  cfg.conv2 = 2;
  cfg.conv3 = 2;
  cfg.fc = 4;
  cfg.classes = 3;
  TrainState state;
  state.params = init_params(cfg, seed_, Device::cpu);
  state.momentum = init_params(cfg, seed_ + 1, Device::cpu);
  state.epoch = 3;
  state.step = 30;
  state.best_accuracy = 0.5;
  state.best_epoch = 2;
  state.metadata["config_yaml"] = "train:\n  epochs: 3\n";
  const fs::path path = dir_ / "last.safetensors";
  save_checkpoint(path, cfg, state);
  const std::string original = read_bytes(path);
  fuzz_file(path, original, 300, testing::safetensors_header_end(original),
            [&] { (void)load_checkpoint(path, cfg, Device::cpu); });
  fuzz_file(path, original, 100, testing::safetensors_header_end(original),
            [&] { (void)read_checkpoint_config(path); });
}

TEST_F(FuzzReaders, Config) {
  const std::string original = read_bytes(fs::path(AULENS_SOURCE_DIR) / "configs/default.yaml");
  ASSERT_FALSE(original.empty());
  const fs::path path = dir_ / "damaged.yaml";
  fuzz_file(path, original, 400, 0, [&] { (void)load_config(path); });
}

TEST_F(FuzzReaders, Csv) {
  const std::string original =
      "map,rank,image,path,value\n0,1,7,\"a, b.png\",1.5\n0,2,3,\"say \"\"hi\"\"\",0.25\n"
      "1,1,9,c.png,2e-3\n";
  const fs::path path = dir_ / "table.csv";
  fuzz_file(path, original, 400, 0, [&] { (void)read_csv_file(path); });
}

#ifdef AULENS_HAVE_OPENCV

// A tiny synthetic CK+ tree (two subjects). Its seed is fixed: with so few sequences, some seeds
// draw no emotion at all (no Emotion/ folder, which the reader refuses) or labels of one subject
// only; the randomness of these tests is in the damage.
fs::path tiny_synthetic_set(const fs::path& dir) {
  SynthConfig synth;
  synth.subjects = 2;
  synth.seed = 1;
  synth.sequences_per_subject = 3;
  synth.min_frames = 3;
  synth.max_frames = 3;
  const fs::path root = dir / "synthetic";
  generate_synthetic(synth, root);
  return root;
}

DatasetConfig tiny_dataset_config(const fs::path& root) {
  DatasetConfig cfg;
  cfg.source = "ckplus";
  cfg.path = root;
  cfg.crop_size = 24;
  return cfg;
}

TEST_F(FuzzReaders, DatasetCache) {
  const fs::path root = tiny_synthetic_set(dir_);
  const DatasetConfig cfg = tiny_dataset_config(root);
  const Dataset data = read_ckplus(root, cfg);
  const fs::path path = dir_ / "dataset.safetensors";
  Split split;  // by hand: a tiny set may have labelled images of too few subjects for k folds
  split.protocol = "even/odd rows";
  for (std::int32_t i = 0; i < static_cast<std::int32_t>(data.size()); ++i)
    (i % 2 == 0 ? split.train : split.test).push_back(i);
  save_dataset_cache(path, data, split, "dataset:\n  source: ckplus\n");
  const std::string original = read_bytes(path);
  fuzz_file(path, original, 300, testing::safetensors_header_end(original),
            [&] { (void)load_dataset_cache(path); });
}

// Every file of a CK+ sequence (image, landmarks, FACS, emotion, regions) damaged in turn; the
// read either skips what it cannot use, reporting it (so every image found is used, unused by the
// frames rule, or named in an issue), or throws naming the file. Strict reads throw or accept.
// (libpng prints its own line for some damaged images before the reader reports them.)
TEST_F(FuzzReaders, CkplusFiles) {
  const fs::path root = tiny_synthetic_set(dir_);
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const fs::path& path = entry.path();
    if (entry.is_regular_file() && path.filename() != "README.txt" &&
        (path.extension() == ".txt" || path.extension() == ".png"))
      files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  ASSERT_GT(files.size(), 20u);
  DatasetConfig cfg = tiny_dataset_config(root);
  int issues_seen = 0;
  for (int round = 0; round < 80 * testing::fuzz_rounds(); ++round) {
    const fs::path& file = files[rng_() % files.size()];
    const std::string original = read_bytes(file);
    write_bytes(file, testing::mutate(original, rng_));
    cfg.strict = round % 4 == 3;
    Verdict verdict;
    expect_clean(
        [&] {
          const Dataset data = read_ckplus(root, cfg);
          // What the read saw is accounted for: images used, left out by the frames rule, or in
          // an issue (one issue may name a whole sequence: then at least its one issue).
          int skipped_images = 0;
          for (const DatasetIssue& issue : data.issues) {
            if (issue.skipped == "image") ++skipped_images;
          }
          issues_seen += static_cast<int>(data.issues.size());
          if (data.issues.empty()) {
            EXPECT_EQ(data.size() + data.counts.frames_unused, data.counts.frames_found)
                << "round " << round << ": images lost without an issue (" << file << ")";
          } else {
            EXPECT_LE(data.size() + data.counts.frames_unused + skipped_images,
                      data.counts.frames_found)
                << "round " << round;
          }
        },
        file.filename().string(), round, file, verdict);
    write_bytes(file, original);
    if (HasFailure()) return;
  }
  std::printf("[ note ] %d issues reported over the damaged reads\n", issues_seen);
  EXPECT_GT(issues_seen, 0);
}

TEST_F(FuzzReaders, Manifest) {
  // Four images of two subjects with landmarks, AU columns of both kinds.
  for (int i = 0; i < 4; ++i) {
    cv::Mat grey(64, 64, CV_8UC1);
    cv::randu(grey, 0, 255);
    ASSERT_TRUE(cv::imwrite((dir_ / ("face" + std::to_string(i) + ".png")).string(), grey));
  }
  std::ostringstream csv;
  csv << "path,subject,expression,AU01_c,AU01_r,AU12_c";
  for (int k = 0; k < kLandmarkCount; ++k) csv << ",x_" << k;
  for (int k = 0; k < kLandmarkCount; ++k) csv << ",y_" << k;
  csv << "\n";
  for (int i = 0; i < 4; ++i) {
    csv << "face" << i << ".png,s" << i / 2 << "," << (i % 2 == 0 ? "happy" : "sadness") << ","
        << i % 2 << "," << (i % 2) * 2.5 << "," << (i + 1) % 2;
    for (int axis = 0; axis < 2; ++axis) {
      for (int k = 0; k < kLandmarkCount; ++k) {
        csv << "," << 10 + (k * 7 + axis * 3 + i) % 44;
      }
    }
    csv << "\n";
  }
  const fs::path path = dir_ / "manifest.csv";
  DatasetConfig cfg;
  cfg.source = "manifest";
  cfg.path = path;
  cfg.crop_size = 24;
  fuzz_file(path, csv.str(), 150, 0, [&] { (void)read_manifest(path, cfg); });
  cfg.strict = true;
  fuzz_file(path, csv.str(), 50, 0, [&] { (void)read_manifest(path, cfg); });
}

#endif  // AULENS_HAVE_OPENCV

}  // namespace
}  // namespace aulens
