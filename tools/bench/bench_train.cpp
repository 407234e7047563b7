// Training-step throughput of the whole network: forward (with dropout), cross-entropy, backward
// and the SGD update on random inputs, per backend (CPU reference, hand-written CUDA with FFMA,
// 3×TF32 or TF32 convolutions, cuDNN convolutions), fp32-accurate and TF32, at the given batch
// sizes. Also the peak device memory of a step.
//
//   aulens_bench_train [--batches 64,256] [--steps 30] [--cpu-steps 2] [--net 96,64,128,256,1024]
//                      [--no-cudnn] [--json PATH]
//
// GPU times: device synchronize around `steps` steps after a warm-up, median of 5 such rounds.
// At each batch size the hand-written rows run before the cuDNN ones, so at the first batch size
// cuDNN's workspace is not in their peak memory; `peak_device_bytes` is everything aulens held at
// the row's peak, `resident_before_bytes` what earlier rows had left allocated (grow-only scratch
// buffers such as cuDNN's workspace, which later batch sizes' rows carry) when it began. The JSON
// is rewritten after every row, so a run cut short keeps the rows it finished.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "aulens/atomic_file.h"
#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "aulens/net.h"
#include "aulens/rng.h"
#include "bench_net.h"

namespace {

using aulens::Device;
using aulens::DType;
using aulens::Tensor;

struct Args {
  std::vector<int> batches = {64, 256};
  int steps = 30;
  int cpu_steps = 2;
  aulens::NetConfig net;
  bool cudnn = true;
  std::string json;
};

// The command line options, each writing its field of `a`.
void add_options(CLI::App& app, Args& a) {
  app.option_defaults()->always_capture_default();  // --help shows each default
  app.add_option("--batches", a.batches, "batch sizes, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--steps", a.steps, "steps per timed round on the GPU (median of 5 rounds)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--cpu-steps", a.cpu_steps, "steps of the CPU reference at the first batch size")
      ->check(CLI::Range(0, 1 << 30));
  aulens::bench::add_net_option(app, a.net);
  app.add_flag_callback(
      "--no-cudnn", [&a] { a.cudnn = false; }, "skip the cuDNN rows");
  app.add_option("--json", a.json, "write the results as JSON here too");
}

Tensor random_input(int n, int size, Device device) {
  std::vector<float> values(static_cast<std::size_t>(n) * size * size);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = aulens::uniform01(3, i) * 2.0f - 1.0f;
  return Tensor::from_vector<float>({n, 1, size, size}, values).to(device);
}

Tensor random_labels(int n, int classes, Device device) {
  std::vector<std::int32_t> labels(n);
  for (int i = 0; i < n; ++i) labels[i] = static_cast<int>(aulens::random_bits(5, i) % classes);
  return Tensor::from_vector<std::int32_t>({n}, labels).to(device);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct StepTimes {
  double seconds_per_step;      // median of the rounds
  std::size_t peak_bytes;       // device bytes aulens held at the peak of the timed steps
  std::size_t resident_before;  // device bytes held when the row began (left by earlier rows)
};

// Seconds per training step (median of rounds of `steps` steps) and peak device bytes. Like the
// trainer, a step reads nothing back (the trainer reads its losses once per epoch). A round is
// timed by the host clock with a device synchronize at its end; the PyTorch peer times its rounds
// of 30 steps between two CUDA events, which comes to the same.
template <class Ops>
StepTimes time_steps(const aulens::NetConfig& cfg, int batch, int steps, int rounds) {
  const std::size_t resident_before = aulens::device::allocated_bytes();
  const aulens::Network<Ops> net(cfg);
  aulens::Params params = aulens::init_params(cfg, 1, Ops::device);
  aulens::Params momentum = aulens::Params::zeros(cfg, Ops::device);
  aulens::Params grads;
  aulens::Activations acts;
  const Tensor x = random_input(batch, cfg.input_size, Ops::device);
  const Tensor labels = random_labels(batch, cfg.classes, Ops::device);
  const aulens::SgdConfig sgd;
  std::uint64_t step = 0;
  auto one_step = [&] {
    net.forward(params, x, true, aulens::DropoutDraw{9, step * batch * cfg.fc}, acts);
    net.backward_queued(params, acts, labels, grads);  // as the trainer: no per-step loss read
    net.sgd_step(params, grads, momentum, sgd);
    ++step;
  };
  // The CPU reference runs without a GPU too: only the device's steps need a synchronize.
  const auto synchronize = [] {
    if constexpr (Ops::device == Device::cuda) aulens::device::synchronize();
  };
  one_step();
  one_step();
  synchronize();
  aulens::device::reset_peak_allocated_bytes();
  std::vector<double> per_step;
  for (int r = 0; r < rounds; ++r) {
    const double start = now_seconds();
    for (int s = 0; s < steps; ++s) one_step();
    synchronize();
    per_step.push_back((now_seconds() - start) / steps);
  }
  std::sort(per_step.begin(), per_step.end());
  return {per_step[per_step.size() / 2], aulens::device::peak_allocated_bytes(), resident_before};
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"aulens_bench_train: training steps per second of the whole network per backend"};
  Args args;
  add_options(app, args);
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out;
  out["gpu"] = aulens::device::describe();
  out["net"] = aulens::bench::net_text(args.net);
  out["results"] = nlohmann::json::array();
  std::printf("network %s\n", aulens::bench::net_text(args.net).c_str());
  std::printf("%-24s %6s %12s %12s %10s %12s\n", "backend", "batch", "ms/step", "images/s",
              "peak MiB", "before MiB");
  auto record = [&](const std::string& backend, int batch, const StepTimes& r) {
    const double ips = batch / r.seconds_per_step;
    std::printf("%-24s %6d %12.3f %12.0f %10.1f %12.1f\n", backend.c_str(), batch,
                r.seconds_per_step * 1e3, ips, r.peak_bytes / 1048576.0,
                r.resident_before / 1048576.0);
    out["results"].push_back({{"backend", backend},
                              {"batch", batch},
                              {"ms_per_step", r.seconds_per_step * 1e3},
                              {"images_per_s", ips},
                              {"peak_device_bytes", r.peak_bytes},
                              {"resident_before_bytes", r.resident_before}});
    if (!args.json.empty()) aulens::write_file_atomically(args.json, out.dump(1));
  };
  for (int batch : args.batches) {
#ifdef AULENS_HAVE_CUDA
    if (aulens::device::available()) {
      // (backend row, conv math, TF32 for cuBLAS and cuDNN); "fastest" tunes in its warm-up steps
      struct Row {
        const char* name;
        aulens::ConvMath math;
        bool tf32;
        bool cudnn;
      };
      const Row rows[] = {
          {"cuda handwritten ffma", aulens::ConvMath::ffma, false, false},
          {"cuda handwritten 3xtf32", aulens::ConvMath::tf32x3, false, false},
          {"cuda handwritten fastest", aulens::ConvMath::fastest, false, false},
          {"cuda handwritten tf32", aulens::ConvMath::tf32, true, false},
          {"cuda cudnn fp32", aulens::ConvMath::ffma, false, true},
          {"cuda cudnn tf32", aulens::ConvMath::ffma, true, true},
      };
      for (const Row& row : rows) {
        if (row.cudnn && !args.cudnn) continue;
        aulens::set_conv_math(row.math);
        aulens::set_cublas_tf32(row.tf32);
        aulens::set_cudnn_math(row.tf32);
        record(row.name, batch,
               row.cudnn ? time_steps<aulens::CudnnOps>(args.net, batch, args.steps, 5)
                         : time_steps<aulens::CudaOps>(args.net, batch, args.steps, 5));
      }
      aulens::set_conv_math(aulens::ConvMath::ffma);
      aulens::set_cublas_tf32(false);
      aulens::set_cudnn_math(false);
    }
#endif
    if (args.cpu_steps > 0 && batch == args.batches.front()) {
      record("cpu reference", batch,
             time_steps<aulens::CpuOps>(args.net, batch, args.cpu_steps, 1));
    }
  }
  // What the "fastest" rows ran with (aulens/cuda_math.h).
  out["fastest_kernels"] = aulens::conv_tuning_choices();
  for (const std::string& line : aulens::conv_tuning_choices())
    std::printf("fastest kernel: %s\n", line.c_str());
  if (!args.json.empty()) aulens::write_file_atomically(args.json, out.dump(1));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "aulens_bench_train: " << e.what() << "\n";
  return 1;
}
