// The CUDA kernel of the windowed deconvnet projections (cuda/deconv_window_kernel.cuh), run on the
// host by tests/emu/block_emu.h (one std::thread per CUDA thread, __syncthreads as a barrier),
// against its CPU twin CpuOps::deconv_project_windows. This runs in CI without a GPU: it checks the
// kernel's indexing (the permuted conv2 weight copies, the phase-3 item/row mapping, the phase-6
// channel bands, the phase-7 switch gather), its barriers and its sums. It does not replace the
// GPU test (tests/gpu/test_records_gpu.cpp, WindowedProjectionsEqualCpu): no FMA contraction, no
// warps, no hardware memory model here.
//
// Phase 3 in each mode the widths allow: FFMA always; 3×TF32 and TF32 on tensor cores (emulated
// WMMA) for 64/128 and 16/32. Widths: the paper's 64/128/256, the CPU default's 16/32/64, and
// 24/40/8 (c1 not a multiple of 32: phase 6's lanes then span two bands; c2 not a multiple of 16:
// FFMA only). Inputs and weights are dyadic (small integers, multiples of
// 1/8, 1/64, 1/128), so every forward sum is exact in any order: switches and seeds must be
// bit-equal, and the projections differ only by the order of the conv1ᵀ sums (tolerance 1e-5 of
// the window's largest |value|). Dyadic operands are TF32 values too, so the tensor-core modes
// must meet the same bar. Requests: corners, edges, centre, and an out-of-range request
// (NaN window, by contract).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// The emulator first: it defines the CUDA keywords the kernel header uses.
#include "emu/block_emu.h"

#include "../cuda/deconv_window_kernel.cuh"

#include "aulens/deconv.h"
#include "aulens/net.h"
#include "aulens/ops.h"
#include "dyadic_net.h"
#include "window_compare.h"

namespace aulens {
namespace {

struct Outputs {
  std::vector<float> windows, seeds;
  std::vector<std::int32_t> origins;
};

// The launcher's sequence (cuda/deconv_window.cu) with emu::launch in place of <<<…>>>.
template <TileMath Math>
Outputs run_emulated(const NetConfig& cfg, const Params& pr, const Tensor& x,
                     const std::vector<std::int32_t>& requests) {
  const int p = static_cast<int>(requests.size() / 4), n = static_cast<int>(x.dim(0));
  const int c1 = cfg.conv1, c2 = cfg.conv2, c3 = cfg.conv3, rr = kR * kR;
  const long long w2_count = static_cast<long long>(c2) * c1 * rr;
  // The weight copies, 32-byte aligned as the launcher's device scratch is (WMMA needs it).
  struct alignas(32) Block32 {
    float v[8];
  };
  std::vector<Block32> copies(static_cast<std::size_t>((3 * w2_count + 7) / 8));
  float* w2_cek = copies.front().v;
  float* w2_kec = w2_cek + w2_count;
  float* w2_aligned = w2_kec + w2_count;
  std::fill(w2_cek, w2_cek + 2 * w2_count, NAN);
  const float* w2 = pr.conv2_weight.data<float>();
  std::copy(w2, w2 + w2_count, w2_aligned);
  emu::launch({3}, {64}, 0, permute_conv2_filters_kernel, c2, c1, rr, 1LL,
              static_cast<long long>(rr) * c2, static_cast<long long>(c2), w2, w2_cek);
  emu::launch({3}, {64}, 0, permute_conv2_filters_kernel, c2, c1, rr,
              static_cast<long long>(rr) * c1, 1LL, static_cast<long long>(c1), w2, w2_kec);
  Outputs out;
  out.windows.assign(static_cast<std::size_t>(p) * kW * kW, -7.0f);  // poisoned
  out.origins.assign(static_cast<std::size_t>(2) * p, -77777);
  out.seeds.assign(p, -7.0f);
  const Weights wt{pr.conv1_weight.data<float>(),
                   pr.conv1_bias.data<float>(),
                   pr.conv2_bias.data<float>(),
                   pr.conv3_weight.data<float>(),
                   pr.conv3_bias.data<float>(),
                   w2_aligned,
                   w2_cek,
                   w2_kec};
  emu::launch({static_cast<unsigned>(p)}, {kThreads}, shared_bytes(c1, c2, Math != TileMath::ffma),
              deconv_project_windows_kernel<Math>, Shapes{n, cfg.input_size, c1, c2, c3}, wt,
              x.data<float>(), requests.data(), out.windows.data(), out.origins.data(),
              out.seeds.data());
  return out;
}

// Every request's origin, seed (bit-equal: exact forward sums) and window (the conv1ᵀ order only),
// then the out-of-range request after them (NaN window and seed).
void check_against(const std::vector<WindowRequest>& requests, const Projections& want,
                   const Outputs& got) {
  const auto p = static_cast<int>(requests.size());
  const float* ww = want.windows.data<float>();
  int nonzero = 0;
  for (int r = 0; r < p; ++r) {
    SCOPED_TRACE("request " + std::to_string(r) + " (image " + std::to_string(requests[r].image) +
                 ", map " + std::to_string(requests[r].map) + ", y " +
                 std::to_string(requests[r].y) + ", x " + std::to_string(requests[r].x) + ")");
    EXPECT_EQ(got.origins[2 * r], want.origins.data<std::int32_t>()[2 * r]);
    EXPECT_EQ(got.origins[2 * r + 1], want.origins.data<std::int32_t>()[2 * r + 1]);
    EXPECT_EQ(got.seeds[r], want.seeds.data<float>()[r]) << "exact forward sums: seeds bit-equal";
    const float window_max =
        testing::expect_window_close(got.windows.data() + r * 1024, ww + r * 1024, 1e-5, 1e-6);
    nonzero += window_max > 0.0f;
  }
  EXPECT_GT(nonzero, p / 4) << "too few non-zero projections to mean anything";
  for (int e = 0; e < kW * kW; ++e) ASSERT_TRUE(std::isnan(got.windows[p * 1024 + e])) << e;
  EXPECT_TRUE(std::isnan(got.seeds[p]));
}

void check_widths(int c1, int c2, int c3, std::uint64_t seed) {
  SCOPED_TRACE("widths " + std::to_string(c1) + "/" + std::to_string(c2) + "/" +
               std::to_string(c3) + ", seed " + std::to_string(seed));
  NetConfig cfg;
  cfg.conv1 = c1;
  cfg.conv2 = c2;
  cfg.conv3 = c3;
  cfg.fc = 16;
  Params params = init_params(cfg, seed, Device::cpu);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Tensor* b : {&params.conv1_bias, &params.conv2_bias, &params.conv3_bias})
    for (std::int64_t i = 0; i < b->numel(); ++i) b->data<float>()[i] = 0.05f * normal(rng);
  const int images = 2, s = cfg.input_size, s4 = s / 4;
  Tensor x({images, 1, s, s}, DType::f32);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  testing::make_dyadic(params, x);

  std::vector<WindowRequest> requests = {{0, 0, 0, 0},           {1, 1 % c3, 0, s4 - 1},
                                         {0, 2 % c3, s4 - 1, 0}, {1, 3 % c3, s4 - 1, s4 - 1},
                                         {0, 4 % c3, 1, 11},     {1, 5 % c3, 12, 2},
                                         {0, c3 - 1, 11, 12}};
  std::uniform_int_distribution<int> image(0, images - 1), map(0, c3 - 1), pos(0, s4 - 1);
  while (requests.size() < 24) requests.push_back({image(rng), map(rng), pos(rng), pos(rng)});
  const Projections want = project_windows<CpuOps>(cfg, params, x, requests);

  std::vector<std::int32_t> raw(want.requests.data<std::int32_t>(),
                                want.requests.data<std::int32_t>() + want.requests.numel());
  raw.insert(raw.end(), {0, c3, 3, 3});  // map out of range: a NaN window, the seed NaN
  for (const TileMath math : {TileMath::ffma, TileMath::tf32x3, TileMath::tf32}) {
    if (math != TileMath::ffma && !tensor_phase3_supported(c1, c2)) continue;
    SCOPED_TRACE(math == TileMath::ffma ? "FFMA" : math == TileMath::tf32 ? "TF32" : "3xTF32");
    const Outputs got = math == TileMath::ffma ? run_emulated<TileMath::ffma>(cfg, params, x, raw)
                        : math == TileMath::tf32x3
                            ? run_emulated<TileMath::tf32x3>(cfg, params, x, raw)
                            : run_emulated<TileMath::tf32>(cfg, params, x, raw);
    check_against(requests, want, got);
  }
}

TEST(DeconvWindowEmulated, PaperWidthsEqualCpuTwin) {
  check_widths(64, 128, 256, 301);
}

TEST(DeconvWindowEmulated, CpuDefaultWidthsEqualCpuTwin) {
  check_widths(16, 32, 64, 302);
}

TEST(DeconvWindowEmulated, WidthsNotMultiplesOf32EqualCpuTwin) {
  check_widths(24, 40, 8, 303);
}

}  // namespace
}  // namespace aulens
