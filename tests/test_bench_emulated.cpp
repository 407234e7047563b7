// The benchmarks the device check runs (tools/bench: aulens_bench_train, aulens_bench_records,
// aulens_bench_sweep), built on the emulated CUDA build and run small: every row a GPU session
// would time runs once through the same host code, and the JSON it writes holds each row with
// sane figures. Speed means nothing here; what this catches is a benchmark that fails, crashes or
// writes a row short, which would otherwise first show in the few minutes of a GPU session (as
// aulens_bench_sweep's missing --json did on 2026-11-28). Skipped where the emulated build is not
// made (no CUDA toolkit).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {

class BenchEmulated : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef AULENS_EMULATED_BENCH_DIR
    GTEST_SKIP() << "the emulated CUDA build is not made here (no CUDA toolkit)";
#endif
    dir_ = fs::temp_directory_path() / ("aulens_bench_emulated_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
  }

  // Runs aulens_bench_<name>_emulated with `args` and --json; returns the JSON it wrote.
  nlohmann::json run(const std::string& name, const std::string& args) {
#ifdef AULENS_EMULATED_BENCH_DIR
    const fs::path json = dir_ / (name + ".json");
    const std::string command = std::string(AULENS_EMULATED_BENCH_DIR) + "/aulens_bench_" + name +
                                "_emulated " + args + " --json " + json.string() + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
      ADD_FAILURE() << "cannot run " << command;
      return {};
    }
    std::string output;
    std::array<char, 4096> buffer{};
    while (const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), pipe))
      output.append(buffer.data(), got);
    const int raw = pclose(pipe);
    EXPECT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << command << "\n" << output;
    std::ifstream in(json);
    if (!in) {
      ADD_FAILURE() << "no " << json << "\n" << output;
      return {};
    }
    return nlohmann::json::parse(in);
#else
    (void)name;
    (void)args;
    return {};
#endif
  }

  fs::path dir_;
};

std::set<std::string> backends(const nlohmann::json& out) {
  std::set<std::string> names;
  for (const auto& row : out.value("results", nlohmann::json::array()))
    names.insert(row.value("backend", ""));
  return names;
}

// The rows of the train and records benchmarks without cuDNN (not in the emulated build).
const std::set<std::string> kHandWrittenRowsAndCpu = {
    "cuda handwritten ffma", "cuda handwritten 3xtf32", "cuda handwritten fastest",
    "cuda handwritten tf32", "cpu reference"};

TEST_F(BenchEmulated, TrainTimesEveryHandWrittenRowAndTheCpu) {
  const nlohmann::json out =
      run("train", "--net 16,4,8,8,16 --batches 4 --steps 1 --cpu-steps 1 --no-cudnn");
  EXPECT_EQ(out.value("net", ""), "16,4,8,8,16");
  EXPECT_EQ(backends(out), kHandWrittenRowsAndCpu);
  for (const auto& row : out.value("results", nlohmann::json::array())) {
    SCOPED_TRACE(row.dump());
    EXPECT_EQ(row.value("batch", 0), 4);
    EXPECT_GT(row.value("images_per_s", 0.0), 0.0);
    if (row.value("backend", "").rfind("cuda", 0) == 0) {
      // at least the weights, gradients and momentum of this network (3 × 4,080 floats)
      EXPECT_GT(row.value("peak_device_bytes", std::size_t{0}), 3u * 4080 * 4);
    }
  }
  // The fastest rows tuned each convolution: the choices are listed.
  EXPECT_FALSE(out.value("fastest_kernels", nlohmann::json::array()).empty()) << out.dump(1);
}

TEST_F(BenchEmulated, RecordsTimesRecordsTopNAndProjectionsPerRow) {
  const nlohmann::json out =
      run("records",
          "--net 32,4,8,16,16 --images 6 --batch 4 --n 2 --reps 1 --cpu-images 3 "
          "--no-cudnn");
  EXPECT_EQ(out.value("net", ""), "32,4,8,16,16");
  EXPECT_EQ(backends(out), kHandWrittenRowsAndCpu);
  for (const auto& row : out.value("results", nlohmann::json::array())) {
    SCOPED_TRACE(row.dump());
    EXPECT_GT(row.value("records_images_per_s", 0.0), 0.0);
    EXPECT_GE(row.value("topn_ms", -1.0), 0.0);
    EXPECT_EQ(row.value("projections", 0), 32);  // 16 maps × top-2
    EXPECT_GT(row.value("projection_ms", 0.0), 0.0);
  }
}

TEST_F(BenchEmulated, SweepTimesTheGpuAndTheCpuTwins) {
  const nlohmann::json out = run(
      "sweep", "--images 200 --maps 12 --aus 3 --permutations 6 --repeats 1 --cpu-permutations 2");
  for (const char* key :
       {"gpu_sweep_ms", "gpu_permutations_ms", "cpu_sweep_ms", "cpu_permutations_ms_scaled"}) {
    EXPECT_GT(out.value(key, 0.0), 0.0) << key << " in " << out.dump(1);
  }
  // The sweep's four ops timed alone, so the paper's distance (rank + topn + distance) can be held
  // against PyTorch's distance-only figure.
  ASSERT_TRUE(out.contains("gpu_sweep_parts_ms")) << out.dump(1);
  for (const char* part : {"rank", "topn", "distance", "auc"}) {
    EXPECT_GT(out["gpu_sweep_parts_ms"].value(part, 0.0), 0.0) << part;
  }
  EXPECT_EQ(out.value("permutations", 0), 6);
}

}  // namespace
