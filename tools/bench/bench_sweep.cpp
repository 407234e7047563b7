// AU sweep benchmark (DESIGN §5): 16,384 images × 30 AUs × 256 maps by default.
//   sweep        = au_sweep_rank + au_sweep_topn + au_sweep_distance + au_sweep_auc on resident
//                  device data (what run_sweep does besides the upload and the permutations)
//   permutations = au_sweep_permutation_max for P permutations (default 1000)
//   sweep parts  = each of the sweep's four ops timed alone (GPU only): the paper's distance is
//                  rank + topn + distance, the AUC rank + auc (PyTorch's peer times distances
//                  alone)
// on the GPU (when usable) beside the CPU twins (the CPU permutation time is measured on
// --cpu-permutations and scaled to P, and says so). AU prevalences run from 2% to 40% (a
// permutation's cost per (AU, map) is about n·M / min(|S|, |Sᶜ|) sorted entries).
// GPU times: CUDA events around the region (gpu_timing.h), after a warm-up, median of --repeats
// runs; CPU times: the host clock.
// The PyTorch peer (tools/bench/pytorch_peer.py, bench_sweep) measures the same sweep with
// torch.topk on masked values; its H200 figure from DESIGN §5 (15.4 ms) is printed as a reference.
//
//   aulens_bench_sweep [--images 16384] [--maps 256] [--aus 30] [--permutations 1000]
//                      [--repeats 20] [--cpu-permutations 10] [--no-cpu]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "aulens/atomic_file.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#ifdef AULENS_HAVE_CUDA
#include "gpu_timing.h"
#endif

namespace {

using aulens::Device;
using aulens::DType;
using aulens::Tensor;

struct Args {
  int images = 16384, maps = 256, aus = 30, permutations = 1000, repeats = 20;
  int cpu_permutations = 10;
  bool cpu = true;
  std::string json;  // write the results here too
};

// The command line options, each writing its field of `a`.
void add_options(CLI::App& app, Args& a) {
  app.option_defaults()->always_capture_default();  // --help shows each default
  app.add_option("--images", a.images, "analysed images M")->check(CLI::Range(1, (1 << 23) - 1));
  app.add_option("--maps", a.maps, "conv3 maps K")->check(CLI::Range(1, 1 << 30));
  app.add_option("--aus", a.aus, "action units A")->check(CLI::Range(1, 64));
  app.add_option("--permutations", a.permutations, "permutations P")->check(CLI::Range(1, 1 << 30));
  app.add_option("--repeats", a.repeats, "timed GPU runs (median)")->check(CLI::Range(1, 1 << 30));
  app.add_option("--cpu-permutations", a.cpu_permutations,
                 "permutations the CPU twin runs (its time is scaled to P)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_flag_callback(
      "--no-cpu", [&a] { a.cpu = false; }, "skip the CPU twins");
  app.add_option("--json", a.json, "write the results as JSON here too");
}

// Median host seconds of `run` over `repeats` runs after one warm-up (which also grows the op's
// scratch buffers).
double cpu_median_seconds(const std::function<void()>& run, int repeats) {
  run();
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Buffers {
  Tensor values, mask, sorted_values, sorted_images, midranks, top_pos, top_neg, distance, auc,
      null_max;
};

Buffers make_buffers(const Tensor& values, const Tensor& mask, int n, int perms, Device dev) {
  const int m = static_cast<int>(values.dim(0)), k = static_cast<int>(values.dim(1));
  const int a = static_cast<int>(mask.dim(1));
  return {values.to(dev),
          mask.to(dev),
          Tensor({k, m}, DType::f32, dev),
          Tensor({k, m}, DType::i32, dev),
          Tensor({k, m}, DType::f32, dev),
          Tensor({a, k, n}, DType::f32, dev),
          Tensor({a, k, n}, DType::f32, dev),
          Tensor({a, k}, DType::f32, dev),
          Tensor({a, k}, DType::f32, dev),
          Tensor({std::max(perms, 1), a}, DType::f32, dev)};
}

// The sweep's four ops, in order, each as a named call on the resident buffers.
template <class Ops>
std::vector<std::pair<const char*, std::function<void()>>> sweep_parts(Buffers& b, int n) {
  const int m = static_cast<int>(b.values.dim(0)), k = static_cast<int>(b.values.dim(1));
  const int a = static_cast<int>(b.mask.dim(1));
  return {{"rank",
           [&b, m, k] {
             Ops::au_sweep_rank(m, k, b.values.data<float>(), b.sorted_values.data<float>(),
                                b.sorted_images.data<std::int32_t>(), b.midranks.data<float>());
           }},
          {"topn",
           [&b, m, k, a, n] {
             Ops::au_sweep_topn(m, k, a, n, b.sorted_values.data<float>(),
                                b.sorted_images.data<std::int32_t>(), b.mask.data<std::uint8_t>(),
                                b.top_pos.data<float>(), b.top_neg.data<float>());
           }},
          {"distance",
           [&b, k, a, n] {
             Ops::au_sweep_distance(a, k, n, 1e-6f, b.top_pos.data<float>(),
                                    b.top_neg.data<float>(), b.distance.data<float>());
           }},
          {"auc", [&b, m, k, a] {
             Ops::au_sweep_auc(m, k, a, b.midranks.data<float>(), b.mask.data<std::uint8_t>(),
                               b.auc.data<float>());
           }}};
}

template <class Ops>
void sweep(Buffers& b, int n) {
  for (const auto& part : sweep_parts<Ops>(b, n)) part.second();
}

template <class Ops>
void permutations(Buffers& b, int n, int count) {
  const int m = static_cast<int>(b.values.dim(0)), k = static_cast<int>(b.values.dim(1));
  const int a = static_cast<int>(b.mask.dim(1));
  Ops::au_sweep_permutation_max(m, k, a, n, 1e-6f, 1, 0, count, b.sorted_values.data<float>(),
                                b.sorted_images.data<std::int32_t>(), b.mask.data<std::uint8_t>(),
                                b.null_max.data<float>());
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"aulens_bench_sweep: the AU sweep and its permutations, GPU beside the CPU twins"};
  Args args;
  add_options(app, args);
  CLI11_PARSE(app, argc, argv);
  const int n = 9;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Tensor values({args.images, args.maps}, DType::f32);
  Tensor mask({args.images, args.aus}, DType::u8);
  for (std::int64_t e = 0; e < values.numel(); ++e) {
    values.data<float>()[e] = u(rng) < 0.3f ? 0.0f : 5.0f * u(rng);
  }
  for (int i = 0; i < args.images; ++i) {
    for (int j = 0; j < args.aus; ++j) {
      const float rate = 0.02f + 0.38f * static_cast<float>(j) / std::max(1, args.aus - 1);
      mask.data<std::uint8_t>()[static_cast<std::int64_t>(i) * args.aus + j] = u(rng) < rate;
    }
  }
  std::printf("AU sweep: %d images x %d AUs x %d maps, top-%d, %d permutations\n", args.images,
              args.aus, args.maps, n, args.permutations);
  nlohmann::json out = {{"images", args.images},
                        {"maps", args.maps},
                        {"aus", args.aus},
                        {"top_n", n},
                        {"permutations", args.permutations}};
  const auto save = [&] {
    if (!args.json.empty()) aulens::write_file_atomically(args.json, out.dump(1));
  };
  constexpr double kPeerSweepMs = 15.4;  // PyTorch on one H200, DESIGN §5
  double gpu_sweep = 0.0, gpu_perm = 0.0;
#ifdef AULENS_HAVE_CUDA
  if (aulens::device::available()) {
    std::printf("GPU: %s\n", aulens::device::describe());
    Buffers b = make_buffers(values, mask, n, args.permutations, Device::cuda);
    gpu_sweep =
        aulens::bench::median_gpu_ms([&] { sweep<aulens::CudaOps>(b, n); }, 1, args.repeats) / 1e3;
    gpu_perm = aulens::bench::median_gpu_ms(
                   [&] { permutations<aulens::CudaOps>(b, n, args.permutations); }, 1,
                   std::max(1, args.repeats / 5)) /
               1e3;
    std::printf(
        "  gpu sweep          %10.3f ms   (target <= 0.5 ms; PyTorch H200 reference %.1f ms"
        " = %.1fx)\n",
        gpu_sweep * 1e3, kPeerSweepMs, kPeerSweepMs / (gpu_sweep * 1e3));
    std::printf(
        "  gpu permutations   %10.3f ms   (%d permutations; target <= 500 ms; %.3f ms each)\n",
        gpu_perm * 1e3, args.permutations, gpu_perm * 1e3 / args.permutations);
    // The sweep's parts, each timed alone on the resident results of the runs above: the paper's
    // distance needs rank, top-n and distance; the AUC needs rank (its midranks) and auc.
    std::printf("  gpu sweep parts   ");
    for (const auto& [name, run] : sweep_parts<aulens::CudaOps>(b, n)) {
      const double ms = aulens::bench::median_gpu_ms(run, 1, args.repeats);
      out["gpu_sweep_parts_ms"][name] = ms;
      std::printf("  %s %.3f ms", name, ms);
    }
    std::printf("\n");
    out["gpu"] = aulens::device::describe();
    out["gpu_sweep_ms"] = gpu_sweep * 1e3;
    out["gpu_permutations_ms"] = gpu_perm * 1e3;
    save();  // the GPU figures are kept if the CPU twins' run is cut short
  } else {
    std::printf("GPU: none (%s)\n", aulens::device::describe());
  }
#else
  std::printf("GPU: this build has no CUDA\n");
#endif
  if (args.cpu) {
    Buffers b = make_buffers(values, mask, n, args.cpu_permutations, Device::cpu);
    const double cpu_sweep = cpu_median_seconds([&] { sweep<aulens::CpuOps>(b, n); }, 1);
    const double cpu_perm =
        cpu_median_seconds([&] { permutations<aulens::CpuOps>(b, n, args.cpu_permutations); }, 1) *
        args.permutations / std::max(1, args.cpu_permutations);
    out["cpu_sweep_ms"] = cpu_sweep * 1e3;
    out["cpu_permutations_ms_scaled"] = cpu_perm * 1e3;
    out["cpu_permutations_measured"] = args.cpu_permutations;
    std::printf("  cpu sweep          %10.3f ms\n", cpu_sweep * 1e3);
    std::printf("  cpu permutations   %10.3f ms   (measured on %d, scaled to %d)\n", cpu_perm * 1e3,
                args.cpu_permutations, args.permutations);
    if (gpu_sweep > 0.0) {
      std::printf("  gpu/cpu speed-up: sweep %.1fx, permutations %.1fx\n", cpu_sweep / gpu_sweep,
                  cpu_perm / gpu_perm);
    }
  }
  save();
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "aulens_bench_sweep: %s\n", e.what());
  return 1;
}
