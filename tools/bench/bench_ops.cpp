// Benchmark of the non-convolution kernels (CudaOps, cuda/{augment,relu,maxpool,dropout,sgd,
// softmax_xent,linear}.cu) at the network's shapes:
//   - fused augmentation at --batch (default 256) 99×99 → 96×96: images/s on the GPU and with the
//     CPU reference (OpenMP) in the same process, their ratio, and max |gpu − cpu|;
//   - the memory-bound small ops at batch 64 (relu and pool on conv1's 64×64×96×96 output,
//     dropout and SGD on fc1-sized tensors): achieved GB/s (bytes each call must read and write)
//     and the fraction of a device-to-device cudaMemcpy measured in the same run;
//   - fc1 (36864 → 1024, batch 64) forward / backward-data / backward-weight through cuBLAS in
//     fp32 and TF32: TFLOP/s; softmax cross-entropy 64×7: latency.
// GPU times: CUDA events around each call, --warmup untimed calls first, median of --repeats.
// CPU times: steady clock, median of --cpu-repeats. Prints a table; --json PATH writes it all.
//
//   aulens_bench_ops [--json PATH] [--batch 256] [--repeats 25] [--warmup 3] [--cpu-repeats 5]
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "aulens/augment.h"
#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "gpu_timing.h"

namespace {

using namespace aulens;

using bench::median;

// A typed GPU buffer, optionally filled from host values.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count)
      : count_(count), ptr_(static_cast<T*>(device::malloc(count * sizeof(T) + 16))) {}
  explicit DeviceBuffer(const std::vector<T>& values) : DeviceBuffer(values.size()) {
    device::copy_to_device(ptr_, values.data(), values.size() * sizeof(T));
  }
  ~DeviceBuffer() { device::free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() const { return ptr_; }
  std::vector<T> download() const {
    device::synchronize();
    std::vector<T> values(count_);
    device::copy_to_host(values.data(), ptr_, count_ * sizeof(T));
    return values;
  }

 private:
  std::size_t count_;
  T* ptr_;
};

std::vector<float> uniform_values(std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

struct Options {
  std::string json_path;
  int batch = 256;
  int repeats = 25;
  int warmup = 3;
  int cpu_repeats = 5;
};

// Median GPU milliseconds of `call` (gpu_timing.h).
double gpu_ms(const Options& options, const std::function<void()>& call) {
  return bench::median_gpu_ms(call, options.warmup, options.repeats);
}

double cpu_ms(int repeats, const std::function<void()>& call) {
  call();  // warm-up (page faults, OpenMP pool)
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return median(times);
}

struct Row {
  std::string name, shape;
  double ms = 0.0;
  double rate = 0.0;
  std::string unit;
  double vs_copy = NAN;  // GB/s divided by the measured copy GB/s (memory-bound ops)
};

int run(const Options& options) {
  if (!device::available()) {
    std::fprintf(stderr, "aulens_bench_ops: no usable GPU (%s)\n", device::describe());
    return 1;
  }
  std::printf("device: %s\n", device::describe());
  std::mt19937 rng(12345);
  std::vector<Row> rows;
  nlohmann::json extra;

  // ---- copy bandwidth, the yardstick of the memory-bound ops ----
  const std::size_t big = 64ull * 64 * 96 * 96;  // conv1 output at batch 64: 37.7 M floats
  DeviceBuffer<float> a(uniform_values(big, rng)), b(big), c(big);
  const double copy_ms = gpu_ms(options, [&] {
    BENCH_CUDA(
        cudaMemcpyAsync(b.get(), a.get(), big * sizeof(float), cudaMemcpyDeviceToDevice, nullptr));
  });
  const double copy_gbps = 2.0 * big * sizeof(float) / copy_ms / 1e6;
  rows.push_back({"memcpy d2d", "37.7M f32", copy_ms, copy_gbps, "GB/s", 1.0});
  auto add_bandwidth = [&](const std::string& name, const std::string& shape, double bytes,
                           double ms) {
    const double gbps = bytes / ms / 1e6;
    rows.push_back({name, shape, ms, gbps, "GB/s", gbps / copy_gbps});
  };

  // ---- relu, max pool, unpool on conv1's output ----
  const std::string conv1_shape = "64x64x96x96";
  add_bandwidth("relu_forward", conv1_shape, 8.0 * big,
                gpu_ms(options, [&] { CudaOps::relu_forward(big, a.get(), b.get()); }));
  add_bandwidth("relu_backward", conv1_shape, 12.0 * big,
                gpu_ms(options, [&] { CudaOps::relu_backward(big, b.get(), a.get(), c.get()); }));
  const PoolShape pool1{64, 64, 96, 96};
  const std::size_t pooled = big / 4;
  DeviceBuffer<std::int32_t> switches(pooled);
  add_bandwidth("maxpool2x2_forward", conv1_shape, 4.0 * big + 8.0 * pooled, gpu_ms(options, [&] {
                  CudaOps::maxpool2x2_forward(pool1, a.get(), b.get(), switches.get());
                }));
  add_bandwidth("max_unpool2x2", conv1_shape, 4.0 * big + 8.0 * pooled, gpu_ms(options, [&] {
                  CudaOps::max_unpool2x2(pool1, b.get(), switches.get(), c.get());
                }));

  // ---- dropout and SGD ----
  const std::size_t fc1_weights = 36864ull * 1024;  // 37.7 M
  DeviceBuffer<std::uint8_t> mask(fc1_weights);
  add_bandwidth("dropout_forward", "64x1024", 9.0 * 64 * 1024, gpu_ms(options, [&] {
                  CudaOps::dropout_forward(64 * 1024, 0.5f, 7, 0, a.get(), b.get(), mask.get());
                }));
  add_bandwidth("dropout_forward", "37.7M", 9.0 * fc1_weights, gpu_ms(options, [&] {
                  CudaOps::dropout_forward(fc1_weights, 0.5f, 7, 0, a.get(), b.get(), mask.get());
                }));
  add_bandwidth("dropout_backward", "37.7M", 9.0 * fc1_weights, gpu_ms(options, [&] {
                  CudaOps::dropout_backward(fc1_weights, 0.5f, mask.get(), a.get(), c.get());
                }));
  const SgdConfig sgd;
  add_bandwidth("sgd_update (fc1.weight)", "1024x36864", 20.0 * fc1_weights, gpu_ms(options, [&] {
                  CudaOps::sgd_update(fc1_weights, sgd, b.get(), a.get(), c.get());
                }));

  // ---- softmax cross-entropy (latency) ----
  {
    std::vector<std::int32_t> labels(64);
    for (int i = 0; i < 64; ++i) labels[i] = i % 7;
    DeviceBuffer<std::int32_t> labels_gpu(labels);
    const double ms = gpu_ms(options, [&] {
      CudaOps::softmax_cross_entropy(64, 7, a.get(), labels_gpu.get(), b.get(), c.get());
    });
    rows.push_back({"softmax_cross_entropy", "64x7", ms, ms * 1000.0, "us", NAN});
  }

  // ---- fc1 through cuBLAS, fp32 and TF32 ----
  {
    const LinearShape fc1{64, 36864, 1024};
    const double flop = 2.0 * fc1.n * fc1.in * fc1.out;
    DeviceBuffer<float> fc1_bias_grad(fc1.out);
    // Buffers (a, b, c hold 37.7 M floats each): forward x = a, w = b, bias = c[0, 1024),
    // y = c + 1024; backward-data dy = a, w = b, dx = c; backward-weight x = a, dy = b, dw = c.
    for (bool tf32 : {false, true}) {
      set_cublas_tf32(tf32);
      const std::string mode = tf32 ? " TF32" : " fp32";
      const double fwd = gpu_ms(options, [&] {
        CudaOps::linear_forward(fc1, a.get(), b.get(), c.get(), c.get() + 1024);
      });
      rows.push_back(
          {"linear_forward" + mode, "64x36864->1024", fwd, flop / fwd / 1e9, "TFLOP/s", NAN});
      const double bwd_data =
          gpu_ms(options, [&] { CudaOps::linear_backward_data(fc1, a.get(), b.get(), c.get()); });
      rows.push_back({"linear_backward_data" + mode, "64x36864->1024", bwd_data,
                      flop / bwd_data / 1e9, "TFLOP/s", NAN});
      const double bwd_weight = gpu_ms(options, [&] {
        CudaOps::linear_backward_weight(fc1, a.get(), b.get(), c.get(), fc1_bias_grad.get());
      });
      rows.push_back({"linear_backward_weight" + mode, "64x36864->1024", bwd_weight,
                      flop / bwd_weight / 1e9, "TFLOP/s", NAN});
    }
    set_cublas_tf32(false);
  }

  // ---- fused augmentation, GPU vs the CPU reference ----
  {
    const int s = 99, o = 96, n = options.batch, m = 1024;
    std::vector<std::uint8_t> crops(static_cast<std::size_t>(m) * s * s);
    std::uniform_int_distribution<int> byte(0, 255), pick(0, m - 1);
    for (auto& v : crops) v = static_cast<std::uint8_t>(byte(rng));
    std::vector<std::int32_t> indices(n);
    std::vector<AugmentParams> params(n);
    for (int k = 0; k < n; ++k) {
      indices[k] = pick(rng);
      params[k] = augment_draw(1, 0, indices[k], 15.0f, true, s, o);
    }
    DeviceBuffer<std::uint8_t> crops_gpu(crops);
    DeviceBuffer<std::int32_t> indices_gpu(indices);
    DeviceBuffer<AugmentParams> params_gpu(params);
    DeviceBuffer<float> out_gpu(static_cast<std::size_t>(n) * o * o);
    std::vector<float> out_cpu(static_cast<std::size_t>(n) * o * o);
    const double ms_gpu = gpu_ms(options, [&] {
      CudaOps::augment_batch(n, s, o, crops_gpu.get(), indices_gpu.get(), params_gpu.get(),
                             out_gpu.get());
    });
    const double ms_cpu = cpu_ms(options.cpu_repeats, [&] {
      CpuOps::augment_batch(n, s, o, crops.data(), indices.data(), params.data(), out_cpu.data());
    });
    const std::vector<float> got = out_gpu.download();
    double max_diff = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      const double d = std::fabs(static_cast<double>(got[i]) - out_cpu[i]);
      max_diff = std::isnan(d) ? INFINITY : std::max(max_diff, d);
    }
    const std::string shape = std::to_string(n) + "x99x99->96x96";
    rows.push_back({"augment_batch GPU", shape, ms_gpu, n / ms_gpu * 1000.0, "img/s", NAN});
    rows.push_back({"augment_batch CPU", shape, ms_cpu, n / ms_cpu * 1000.0, "img/s", NAN});
    extra["augment_gpu_over_cpu_speed"] = ms_cpu / ms_gpu;
    extra["augment_max_abs_diff_gpu_cpu"] = max_diff;
    std::printf("augment: GPU %.1fx the CPU reference; max |gpu - cpu| = %.3g\n", ms_cpu / ms_gpu,
                max_diff);
  }

  std::printf("\n%-32s %-18s %10s %12s %-8s %8s\n", "op", "shape", "ms", "rate", "unit", "vs copy");
  for (const Row& r : rows) {
    std::printf("%-32s %-18s %10.4f %12.1f %-8s %8s\n", r.name.c_str(), r.shape.c_str(), r.ms,
                r.rate, r.unit.c_str(),
                std::isnan(r.vs_copy) ? "" : (std::to_string(r.vs_copy).substr(0, 5)).c_str());
  }

  if (!options.json_path.empty()) {
    nlohmann::json results = nlohmann::json::array();
    for (const Row& r : rows) {
      nlohmann::json entry{
          {"op", r.name}, {"shape", r.shape}, {"ms", r.ms}, {"rate", r.rate}, {"unit", r.unit}};
      if (!std::isnan(r.vs_copy)) entry["fraction_of_copy"] = r.vs_copy;
      results.push_back(entry);
    }
    nlohmann::json doc{{"benchmark", "ops"},     {"device", device::describe()},
                       {"batch", options.batch}, {"repeats", options.repeats},
                       {"results", results},     {"summary", extra}};
    std::ofstream out(options.json_path);
    out << doc.dump(2) << "\n";
    if (!out) throw Error("cannot write " + options.json_path);
    std::printf("wrote %s\n", options.json_path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aulens_bench_ops: augmentation and the small ops on the GPU"};
  app.option_defaults()->always_capture_default();  // --help shows each default
  Options options;
  app.add_option("--json", options.json_path, "write all results as JSON to this path");
  app.add_option("--batch", options.batch, "augmentation batch size")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--repeats", options.repeats, "timed GPU calls per measurement (median)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--warmup", options.warmup, "untimed GPU calls first")->check(CLI::Range(0, 1000));
  app.add_option("--cpu-repeats", options.cpu_repeats, "timed CPU calls (median)")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aulens_bench_ops: %s\n", e.what());
    return 1;
  }
}
