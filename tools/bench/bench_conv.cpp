// Convolution benchmark: the hand-written kernels (CudaOps; FFMA, 3×TF32 and TF32 math,
// aulens/cuda_math.h) against cuDNN (CudnnConv, fp32-accurate and TF32) in the same process, for
// the network's three conv layers at batch 64 (DESIGN §1.1, §5). Per layer and direction (forward
// with bias, backward-data, backward-filter with bias gradient): CUDA events around each call,
// warm-up calls first (cuDNN's algorithm search happens there), median of --repeats timed calls,
// achieved TFLOP/s (2·N·K·C·R²·H·W per call), time ratios to cuDNN of the same accuracy (> 1: the
// hand-written kernel is slower), and a cross-check of every output against the CPU twin (CpuOps,
// src/cpu/conv2d.cpp) at the same shape — or, with --no-cpu-check, against cuDNN fp32 — so that a
// disagreement names the side that is wrong. Every variant starts from freshly uploaded inputs,
// and after its last call the inputs are read back: a variant that writes into x, w, b or dy is
// reported. Prints a table; --json PATH writes every number. Exit status 2 when a variant
// disagrees with the reference or modified its inputs.
//
//   aulens_bench [--json PATH] [--batch 64] [--repeats 25] [--warmup 3] [--cold-l2]
//                [--no-cpu-check]
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "aulens/atomic_file.h"
#include "aulens/cuda_math.h"
#include "aulens/cudnn_conv.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "gpu_timing.h"

namespace {

using aulens::ConvShape;

using aulens::bench::median;

// A float buffer on the GPU filled with uniform(−1, 1) values; the host keeps the drawn values.
class DeviceFloats {
 public:
  DeviceFloats(std::size_t count, std::mt19937& rng)
      : count_(count), ptr_(static_cast<float*>(aulens::device::malloc(count * sizeof(float)))) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    values_.resize(count);
    for (float& v : values_) v = dist(rng);
    restore();
  }
  ~DeviceFloats() { aulens::device::free(ptr_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  float* get() const { return ptr_; }
  const std::vector<float>& host() const { return values_; }
  // Uploads the drawn values again (inputs: every variant starts from the same data).
  void restore() { aulens::device::copy_to_device(ptr_, values_.data(), count_ * sizeof(float)); }
  // True when the GPU copy still holds the drawn values bit for bit.
  bool unchanged() const {
    const std::vector<float> now = download();
    return std::memcmp(now.data(), values_.data(), count_ * sizeof(float)) == 0;
  }
  std::vector<float> download() const {
    aulens::device::synchronize();
    std::vector<float> values(count_);
    aulens::device::copy_to_host(values.data(), ptr_, count_ * sizeof(float));
    return values;
  }

 private:
  std::size_t count_;
  float* ptr_;
  std::vector<float> values_;
};

struct Layer {
  const char* name;
  ConvShape shape;
};

struct Options {
  std::string json_path;
  int batch = 64;
  int repeats = 25;
  int warmup = 3;
  bool cold_l2 = false;
  bool cpu_check = true;
};

// Median milliseconds of `run` over the timed repeats; with `l2_flush`, a memset of that buffer
// evicts the L2 cache before each.
double time_ms(const std::function<void()>& run, const Options& options, float* l2_flush,
               std::size_t l2_flush_bytes) {
  int flushes = 0;
  std::function<void()> flush;
  if (l2_flush != nullptr)
    flush = [&] {
      BENCH_CUDA(cudaMemsetAsync(l2_flush, flushes++ & 0xFF, l2_flush_bytes, nullptr));
    };
  return aulens::bench::median_gpu_ms(run, options.warmup, options.repeats, flush);
}

// max |a − b| / RMS(b)
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double max_diff = 0.0, sum_sq = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
    sum_sq += static_cast<double>(b[i]) * b[i];
  }
  const double rms = std::sqrt(sum_sq / std::max<std::size_t>(b.size(), 1));
  return rms > 0 ? max_diff / rms : max_diff;
}

// What is timed: the hand-written kernels in each math mode (aulens/cuda_math.h) and cuDNN in
// each of its modes. fp32-accurate variants must agree with the reference within
// kMaxAccurateDifference, TF32 variants within kMaxTf32Difference (both relative to its RMS).
struct Variant {
  const char* key;    // JSON key
  const char* label;  // table column
  bool hand;          // CudaOps (else CudnnConv)
  aulens::ConvMath hand_math;
  bool tf32;  // TF32 accuracy (cuDNN: TF32 allowed)
};
constexpr Variant kVariants[] = {
    {"hand_ffma", "hand", true, aulens::ConvMath::ffma, false},
    {"hand_3xtf32", "hand3x", true, aulens::ConvMath::tf32x3, false},
    {"hand_tf32", "handTF", true, aulens::ConvMath::tf32, true},
    {"cudnn_fp32", "cuDNN", false, aulens::ConvMath::ffma, false},
    {"cudnn_tf32", "cuTF32", false, aulens::ConvMath::ffma, true},
};
constexpr int kVariantCount = sizeof(kVariants) / sizeof(kVariants[0]);
constexpr int kCudnnFp32 = 3;  // index of the cuDNN fp32 variant (the reference without CPU check)
constexpr double kMaxAccurateDifference = 1e-3;
constexpr double kMaxTf32Difference = 5e-2;

int run(const Options& options) {
  if (!aulens::device::available()) {
    std::cerr << "aulens_bench: no usable GPU (" << aulens::device::describe() << ")\n";
    return 1;
  }
  const int n = options.batch;
  const Layer layers[] = {
      {"conv1", {n, 1, 96, 96, 64, 5}},
      {"conv2", {n, 64, 48, 48, 128, 5}},
      {"conv3", {n, 128, 24, 24, 256, 5}},
  };
  const char* ops[] = {"forward", "backward_data", "backward_filter"};

  std::size_t l2_flush_bytes = 0;
  float* l2_flush = nullptr;
  if (options.cold_l2) {
    l2_flush_bytes = std::size_t{256} << 20;
    l2_flush = static_cast<float*>(aulens::device::malloc(l2_flush_bytes));
  }

  nlohmann::json results = nlohmann::json::array();
  bool all_agree = true;
  // The JSON, rewritten after every entry: a run cut short keeps what it measured.
  const auto save_json = [&] {
    if (options.json_path.empty()) return;
    const nlohmann::json doc{
        {"benchmark", "conv"},
        {"device", aulens::device::describe()},
        {"batch", options.batch},
        {"repeats", options.repeats},
        {"warmup", options.warmup},
        {"cold_l2", options.cold_l2},
        {"ratio_meaning",
         "time hand / time cuDNN of the same accuracy; > 1 means the hand-written kernel is "
         "slower"},
        {"reference", options.cpu_check ? "CPU twin (CpuOps)" : "cuDNN fp32"},
        {"max_diff_per_rms",
         {{"fp32_accurate", kMaxAccurateDifference}, {"tf32", kMaxTf32Difference}}},
        {"all_results_agree_with_reference", all_agree},
        {"cudnn_algorithms", aulens::CudnnConv::algorithms()},
        {"results", results}};
    aulens::write_file_atomically(options.json_path, doc.dump(2) + "\n");
  };
  std::mt19937 rng(20261128);
  std::printf(
      "median ms per call (TFLOP/s); ratios are time / cuDNN time of the same accuracy;\n"
      "diff = max |variant - reference| / RMS(reference), reference = %s\n",
      options.cpu_check ? "the CPU twin" : "cuDNN fp32");
  std::printf("%-6s %-16s", "layer", "op");
  for (const Variant& variant : kVariants) std::printf(" %16s", variant.label);
  std::printf(" %7s %7s %7s\n", "hand/cu", "3x/cu", "TF/cuTF");
  for (const Layer& layer : layers) {
    const ConvShape& s = layer.shape;
    const std::size_t x_count = std::size_t(s.n) * s.c * s.h * s.w;
    const std::size_t y_count = std::size_t(s.n) * s.k * s.h * s.w;
    const std::size_t w_count = std::size_t(s.k) * s.c * s.r * s.r;
    DeviceFloats x(x_count, rng), w(w_count, rng), b(s.k, rng), dy(y_count, rng);
    DeviceFloats y(y_count, rng), dx(x_count, rng), dw(w_count, rng), db(s.k, rng);
    const double flop = 2.0 * s.n * s.k * s.c * s.r * s.r * s.h * s.w;

    for (const char* op : ops) {
      const std::string op_name = op;
      const DeviceFloats& output = op_name == "forward" ? y : op_name == "backward_data" ? dx : dw;
      nlohmann::json entry{
          {"layer", layer.name},
          {"op", op_name},
          {"shape", {{"n", s.n}, {"c", s.c}, {"h", s.h}, {"w", s.w}, {"k", s.k}, {"r", s.r}}},
          {"gflop", flop * 1e-9}};
      // The CPU twin at the same shape and inputs (the reference that decides who is wrong).
      std::vector<float> cpu_output, cpu_db;  // cpu_db: backward_filter's bias gradient
      const bool filter = op_name == "backward_filter";
      if (options.cpu_check) {
        if (op_name == "forward") {
          cpu_output.resize(y_count);
          aulens::CpuOps::conv2d_forward(s, x.host().data(), w.host().data(), b.host().data(),
                                         cpu_output.data());
        } else if (op_name == "backward_data") {
          cpu_output.resize(x_count);
          aulens::CpuOps::conv2d_backward_data(s, dy.host().data(), w.host().data(),
                                               cpu_output.data());
        } else {
          cpu_output.resize(w_count);
          cpu_db.resize(s.k);
          aulens::CpuOps::conv2d_backward_filter(s, x.host().data(), dy.host().data(),
                                                 cpu_output.data(), cpu_db.data());
        }
      }
      std::vector<float> outputs[kVariantCount], outputs_db[kVariantCount];
      double ms[kVariantCount] = {};
      std::string verdict;
      bool agree = true;
      for (int v = 0; v < kVariantCount; ++v) {
        const Variant& variant = kVariants[v];
        aulens::set_cudnn_math(!variant.hand && variant.tf32);
        aulens::set_conv_math(variant.hand_math);
        for (DeviceFloats* input : {&x, &w, &b, &dy}) input->restore();
        std::function<void()> call;
        if (op_name == "forward") {
          call = [&, hand = variant.hand] {
            if (hand)
              aulens::CudaOps::conv2d_forward(s, x.get(), w.get(), b.get(), y.get());
            else
              aulens::CudnnConv::forward(s, x.get(), w.get(), b.get(), y.get());
          };
        } else if (op_name == "backward_data") {
          call = [&, hand = variant.hand] {
            if (hand)
              aulens::CudaOps::conv2d_backward_data(s, dy.get(), w.get(), dx.get());
            else
              aulens::CudnnConv::backward_data(s, dy.get(), w.get(), dx.get());
          };
        } else {
          call = [&, hand = variant.hand] {
            if (hand)
              aulens::CudaOps::conv2d_backward_filter(s, x.get(), dy.get(), dw.get(), db.get());
            else
              aulens::CudnnConv::backward_filter(s, x.get(), dy.get(), dw.get(), db.get());
          };
        }
        ms[v] = time_ms(call, options, l2_flush, l2_flush_bytes);
        call();  // one clean run for the cross-check
        outputs[v] = output.download();
        if (filter) outputs_db[v] = db.download();
        const bool inputs_kept = x.unchanged() && w.unchanged() && b.unchanged() && dy.unchanged();
        entry[variant.key] = {{"median_ms", ms[v]},
                              {"tflops", flop / (ms[v] * 1e-3) * 1e-12},
                              {"inputs_unchanged", inputs_kept}};
        if (!inputs_kept) {
          agree = false;
          verdict += std::string("  INPUTS MODIFIED by ") + variant.key;
        }
      }
      aulens::set_cudnn_math(false);
      aulens::set_conv_math(aulens::ConvMath::ffma);
      // Each variant against the reference: the CPU twin, or cuDNN fp32 without it (which then
      // is not judged itself).
      double diff[kVariantCount];
      for (int v = 0; v < kVariantCount; ++v) {
        const Variant& variant = kVariants[v];
        const bool judged = options.cpu_check || v != kCudnnFp32;
        diff[v] = judged ? relative_difference(outputs[v],
                                               options.cpu_check ? cpu_output : outputs[kCudnnFp32])
                         : 0.0;
        if (judged && filter)  // the bias gradient too (the larger of the two differences)
          diff[v] = std::max(
              diff[v], relative_difference(outputs_db[v],
                                           options.cpu_check ? cpu_db : outputs_db[kCudnnFp32]));
        const bool ok = diff[v] <= (variant.tf32 ? kMaxTf32Difference : kMaxAccurateDifference);
        entry[variant.key]["max_diff_per_rms_vs_reference"] = diff[v];
        entry[variant.key]["agrees"] = ok;
        if (!ok) {
          agree = false;
          verdict += std::string("  ") + variant.key + " DISAGREES";
        }
      }
      all_agree = all_agree && agree;
      entry["ratio_hand_ffma_over_cudnn_fp32"] = ms[0] / ms[3];
      entry["ratio_hand_3xtf32_over_cudnn_fp32"] = ms[1] / ms[3];
      entry["ratio_hand_tf32_over_cudnn_tf32"] = ms[2] / ms[4];
      entry["agrees"] = agree;
      results.push_back(entry);
      save_json();
      std::printf("%-6s %-16s", layer.name, op);
      for (int v = 0; v < kVariantCount; ++v)
        std::printf(" %7.3f (%6.1f)", ms[v], flop / (ms[v] * 1e-3) * 1e-12);
      std::printf(" %7.2f %7.2f %7.2f%s\n", ms[0] / ms[3], ms[1] / ms[3], ms[2] / ms[4],
                  verdict.c_str());
      std::printf("%-6s %-16s", "", "  diff");
      for (int v = 0; v < kVariantCount; ++v) std::printf(" %16.1e", diff[v]);
      std::printf("\n");
    }
  }
  if (l2_flush != nullptr) aulens::device::free(l2_flush);
  std::printf("cuDNN algorithms (direct sums only; what cudnnFind ranked ahead and why not):\n%s",
              aulens::CudnnConv::algorithms().c_str());

  if (!options.json_path.empty()) {
    save_json();
    std::printf("wrote %s\n", options.json_path.c_str());
  }
  return all_agree ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aulens convolution benchmark: hand-written CUDA vs cuDNN"};
  app.option_defaults()->always_capture_default();  // --help shows each default
  Options options;
  app.add_option("--json", options.json_path, "write all results as JSON to this path");
  app.add_option("--batch", options.batch, "batch size N")->check(CLI::Range(1, 1 << 30));
  app.add_option("--repeats", options.repeats, "timed calls per measurement (median)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", options.warmup,
                 "untimed calls first (at least 1: the first call tunes cuDNN and grows buffers)")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--cold-l2", options.cold_l2, "overwrite a 256 MiB buffer before each timed call");
  bool no_cpu_check = false;
  app.add_flag("--no-cpu-check", no_cpu_check,
               "skip the CPU-twin reference (then hand is only compared with cuDNN fp32)");
  CLI11_PARSE(app, argc, argv);
  options.cpu_check = !no_cpu_check;
  try {
    std::printf("device: %s\n", aulens::device::describe());
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "aulens_bench: " << e.what() << "\n";
    return 1;
  }
}
