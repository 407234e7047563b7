// Records, top-n and projection throughput (DESIGN §5 rows "conv3 records" and "256 maps × top-9
// projections"), per backend, on random inputs:
//   records      compute_records over --images random 99×99 crops (centre crop, standardize,
//                forward, max_records), images/s; hand-written CUDA (FFMA, 3×TF32, TF32
//                convolutions), cuDNN fp32 and TF32
//   top-n        topn_select of --n over (images, 256) values, ms
//   projections  deconv_project_windows of 256×n requests on distinct images, ms (op only; the
//                CPU reference times only 64 requests)
//
//   aulens_bench_records [--images 16384] [--batch 512] [--n 9] [--reps 5] [--cpu-images 32]
//                        [--net 96,64,128,256,1024] [--no-cudnn] [--peer pytorch_peer.json]
//                        [--json PATH]
// Times: GPU rows between CUDA events (gpu_timing.h), CPU rows by the host clock, after a warm-up,
// median of --reps. With --peer (the JSON of tools/bench/pytorch_peer.py run in the same session)
// ratios to PyTorch are printed. The JSON is rewritten after every row, so a run cut short keeps
// the rows it finished.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "aulens/atomic_file.h"
#include "aulens/cuda_math.h"
#include "aulens/deconv.h"
#include "aulens/device.h"
#include "aulens/records.h"
#include "aulens/rng.h"
#include "bench_net.h"
#ifdef AULENS_HAVE_CUDA
#include "gpu_timing.h"
#endif

namespace {

using aulens::Device;
using aulens::DType;
using aulens::Tensor;

struct Args {
  // batch 512: the PyTorch peer's (tools/bench/pytorch_peer.py); `aulens visualize` uses 256
  int images = 16384, batch = 512, n = 9, reps = 5, cpu_images = 32;
  aulens::NetConfig net;
  bool cudnn = true;
  std::string peer, json;
};

// The command line options, each writing its field of `a`.
void add_options(CLI::App& app, Args& a) {
  app.option_defaults()->always_capture_default();  // --help shows each default
  app.add_option("--images", a.images, "random crops to record on the GPU")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--batch", a.batch, "images per records batch")->check(CLI::Range(1, 1 << 30));
  app.add_option("--n", a.n, "top-n per map (projections: 256 × n)")->check(CLI::Range(1, 32));
  app.add_option("--reps", a.reps, "timed runs per measurement (median)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--cpu-images", a.cpu_images, "crops for the CPU reference's records")
      ->check(CLI::Range(0, 1 << 30));
  aulens::bench::add_net_option(app, a.net);
  app.add_flag_callback(
      "--no-cudnn", [&a] { a.cudnn = false; }, "skip the cuDNN rows");
  app.add_option("--peer", a.peer, "tools/bench/pytorch_peer.py's JSON of this session: ratios");
  app.add_option("--json", a.json, "write the results as JSON here too");
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds of `reps` runs of fn after one warm-up.
double median_seconds(int reps, Device device, const std::function<void()>& fn) {
#ifdef AULENS_HAVE_CUDA
  if (device == Device::cuda) return aulens::bench::median_gpu_ms(fn, 1, reps) / 1e3;
#endif
  (void)device;
  fn();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const double start = now_seconds();
    fn();
    t.push_back(now_seconds() - start);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Tensor random_crops(int m, int size, Device device) {
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(m) * size * size);
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<std::uint8_t>(aulens::random_bits(7, i) & 0xFF);
  return Tensor::from_vector<std::uint8_t>({m, size, size}, pixels).to(device);
}

template <class Ops>
nlohmann::json bench_backend(const std::string& name, const Args& a, int images, int reps,
                             int max_requests) {
  const aulens::NetConfig& cfg = a.net;
  const aulens::Params params = aulens::init_params(cfg, 1, Ops::device);
  // crops 3 pixels larger than the input, as the default 99 to 96
  const Tensor crops = random_crops(images, cfg.input_size + 3, Ops::device);
  std::vector<std::int32_t> ids(images);
  for (int i = 0; i < images; ++i) ids[i] = i;
  aulens::RecordsOptions options;
  options.batch = a.batch;
  aulens::Records records;
  const double rec_s = median_seconds(reps, Ops::device, [&] {
    records = aulens::compute_records<Ops>(cfg, params, crops, ids, options);
  });
  const int n = std::min(a.n, images);
  Tensor top_images({cfg.conv3, n}, DType::i32, Ops::device);
  Tensor top_values({cfg.conv3, n}, DType::f32, Ops::device);
  const double topn_s = median_seconds(reps, Ops::device, [&] {
    Ops::topn_select(images, cfg.conv3, n, records.conv3_value.template data<float>(),
                     top_images.template data<std::int32_t>(), top_values.template data<float>());
  });
  // 256·n requests: map m, rank k → image (m·n + k) mod images at a pseudo-random position.
  const int conv3_size = cfg.input_size / 4;
  const int p = std::min(cfg.conv3 * n, max_requests), distinct = std::min(p, images);
  std::vector<std::int32_t> window_ids(distinct), req(static_cast<std::size_t>(p) * 4);
  for (int i = 0; i < distinct; ++i) window_ids[i] = i;
  for (int e = 0; e < p; ++e) {
    const std::uint64_t bits = aulens::random_bits(11, e);
    req[4 * e] = e % distinct;
    req[4 * e + 1] = e / n;
    req[4 * e + 2] = static_cast<std::int32_t>(bits % conv3_size);
    req[4 * e + 3] = static_cast<std::int32_t>((bits >> 8) % conv3_size);
  }
  const Tensor inputs = aulens::centre_inputs<Ops>(cfg.input_size, crops, window_ids);
  const Tensor requests = Tensor::from_vector<std::int32_t>({p, 4}, req).to(Ops::device);
  Tensor windows({p, 32, 32}, DType::f32, Ops::device), origins({p, 2}, DType::i32, Ops::device);
  Tensor seeds({p}, DType::f32, Ops::device);
  const double proj_s = median_seconds(reps, Ops::device, [&] {
    Ops::deconv_project_windows(
        p, distinct, cfg.input_size, cfg.conv1, cfg.conv2, cfg.conv3, inputs.template data<float>(),
        params.conv1_weight.template data<float>(), params.conv1_bias.template data<float>(),
        params.conv2_weight.template data<float>(), params.conv2_bias.template data<float>(),
        params.conv3_weight.template data<float>(), params.conv3_bias.template data<float>(),
        requests.template data<std::int32_t>(), windows.template data<float>(),
        origins.template data<std::int32_t>(), seeds.template data<float>());
  });
  std::printf("%-20s %7d %14.0f %10.3f %8d %12.3f\n", name.c_str(), images, images / rec_s,
              topn_s * 1e3, p, proj_s * 1e3);
  return {{"backend", name},         {"images", images}, {"records_images_per_s", images / rec_s},
          {"topn_ms", topn_s * 1e3}, {"projections", p}, {"projection_ms", proj_s * 1e3}};
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"aulens_bench_records: conv3 records, top-n and deconvnet projections per backend"};
  Args a;
  add_options(app, a);
  CLI11_PARSE(app, argc, argv);
  nlohmann::json out;
  out["gpu"] = aulens::device::describe();
  out["net"] = aulens::bench::net_text(a.net);
  out["results"] = nlohmann::json::array();
  const auto save = [&] {  // after every row: a run cut short keeps what it measured
    if (!a.json.empty()) aulens::write_file_atomically(a.json, out.dump(1));
  };
  const auto add = [&](nlohmann::json row) {
    out["results"].push_back(std::move(row));
    save();
  };
  std::printf("network %s\n", aulens::bench::net_text(a.net).c_str());
  std::printf("%-20s %7s %14s %10s %8s %12s\n", "backend", "images", "records img/s", "topn ms",
              "proj", "proj ms");
#ifdef AULENS_HAVE_CUDA
  if (aulens::device::available()) {
    for (aulens::ConvMath math : {aulens::ConvMath::ffma, aulens::ConvMath::tf32x3,
                                  aulens::ConvMath::fastest, aulens::ConvMath::tf32}) {
      aulens::set_conv_math(math);
      add(bench_backend<aulens::CudaOps>(
          std::string("cuda handwritten ") + aulens::conv_math_name(math), a, a.images, a.reps,
          1 << 30));
    }
    aulens::set_conv_math(aulens::ConvMath::ffma);
    for (bool tf32 : {false, true}) {
      if (!a.cudnn) break;
      aulens::set_cudnn_math(tf32);
      add(bench_backend<aulens::CudnnOps>(tf32 ? "cuda cudnn tf32" : "cuda cudnn fp32", a, a.images,
                                          a.reps, 1 << 30));
    }
    aulens::set_cudnn_math(false);
  }
#endif
  if (a.cpu_images > 0) {
    add(bench_backend<aulens::CpuOps>("cpu reference", a, a.cpu_images, 1, 64));
  }
  if (!a.peer.empty()) {  // ratios to the PyTorch peer of the same session
    const nlohmann::json peer = nlohmann::json::parse(std::ifstream(a.peer));
    for (const auto& r : out["results"]) {
      if (r["backend"].get<std::string>().rfind("cpu", 0) == 0) continue;
      for (const auto& pr : peer.value("records", nlohmann::json::array())) {
        std::printf("%s records / PyTorch (tf32 %d): %.2fx\n",
                    r["backend"].get<std::string>().c_str(), pr["tf32"].get<bool>(),
                    r["records_images_per_s"].get<double>() / pr["images_per_s"].get<double>());
      }
      for (const auto& pp : peer.value("projections", nlohmann::json::array())) {
        std::printf("%s projections: PyTorch %s %.1f ms = %.1fx ours\n",
                    r["backend"].get<std::string>().c_str(), pp["mode"].get<std::string>().c_str(),
                    pp["ms"].get<double>(),
                    pp["ms"].get<double>() / r["projection_ms"].get<double>());
      }
    }
    out["peer"] = peer;
  }
  // What the "fastest" rows ran with (aulens/cuda_math.h).
  out["fastest_kernels"] = aulens::conv_tuning_choices();
  for (const std::string& line : aulens::conv_tuning_choices())
    std::printf("fastest kernel: %s\n", line.c_str());
  save();
  return 0;
} catch (const std::exception& e) {
  std::cerr << "aulens_bench_records: " << e.what() << "\n";
  return 1;
}
