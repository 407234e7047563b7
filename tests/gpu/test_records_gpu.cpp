// Records, top-n and windowed projections: CUDA kernels (cuda/records.cu, topn.cu,
// deconv_window.cu, and the fused conv2d_relu_records of cuda/conv2d.cu) against their CPU twins,
// on fresh random inputs (the seed is printed on failure), with every GPU output poisoned (0xFF
// bytes: NaN / −1) before the kernel runs. Tolerances: max_records and topn_select are selections —
// values, positions and lists must be identical (ties and NaN included). deconv_project_windows:
// origins identical; seeds |gpu − cpu| ≤ 1e-5·max(1, |cpu|) (fp32 sums of c2·25 products in another
// order, FMA); windows |gpu − cpu| ≤ 1e-4·max|cpu window| + 1e-4·|cpu| per pixel (the forward sums
// and the conv1ᵀ gather differ in order from the CPU's; a pool switch decided by a near-tie below
// fp32 rounding would exceed it, which is rare for continuous random inputs); on dyadic inputs
// (exact forward sums) every mode, TF32 included, must give bit-equal seeds and windows within
// 1e-5. Skipped with a message when no GPU is present (failed where AULENS_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aulens/cuda_math.h"
#include "aulens/cudnn_conv.h"
#include "aulens/deconv.h"
#include "aulens/device.h"
#include "aulens/net.h"
#include "aulens/ops.h"
#include "conv_math_scope.h"
#include "dyadic_net.h"
#include "fresh_seed.h"
#include "gpu_skip.h"
#include "window_compare.h"
#include "window_margins.h"

namespace aulens {
namespace {

using testing::fresh_seed;

bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

// A device tensor with every byte 0xFF.
Tensor poisoned(Shape shape, DType dtype) {
  Tensor t(std::move(shape), dtype, Device::cuda);
  const std::vector<unsigned char> ff(t.nbytes(), 0xFF);
  if (!ff.empty()) device::copy_to_device(t.raw(), ff.data(), ff.size());
  return t;
}

// The GPU's deconv_project_windows of `requests` (the rows of want.requests) in the current conv
// math mode, its outputs poisoned first.
Projections gpu_project_windows(const NetConfig& cfg, const Params& params, const Tensor& x,
                                const Projections& want) {
  const auto p = static_cast<int>(want.requests.dim(0));
  const int images = static_cast<int>(x.dim(0)), s = cfg.input_size;
  const Params pd = params.to(Device::cuda);
  const Tensor x_dev = x.to(Device::cuda);
  const Tensor requests_dev = want.requests.to(Device::cuda);
  Tensor windows = poisoned({p, 32, 32}, DType::f32);
  Tensor origins = poisoned({p, 2}, DType::i32);
  Tensor seeds = poisoned({p}, DType::f32);
  CudaOps::deconv_project_windows(
      p, images, s, cfg.conv1, cfg.conv2, cfg.conv3, x_dev.data<float>(),
      pd.conv1_weight.data<float>(), pd.conv1_bias.data<float>(), pd.conv2_weight.data<float>(),
      pd.conv2_bias.data<float>(), pd.conv3_weight.data<float>(), pd.conv3_bias.data<float>(),
      requests_dev.data<std::int32_t>(), windows.data<float>(), origins.data<std::int32_t>(),
      seeds.data<float>());
  device::synchronize();
  Projections got;
  got.windows = windows.to(Device::cpu);
  got.origins = origins.to(Device::cpu);
  got.seeds = seeds.to(Device::cpu);
  return got;
}

// Values from {0, 0.25, …, 1.75} (ties everywhere), a NaN at rate `nan_rate`, or Gaussian.
std::vector<float> test_values(std::size_t count, std::mt19937& rng, bool ties, double nan_rate) {
  std::uniform_int_distribution<int> level(0, 7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::bernoulli_distribution nan(nan_rate);
  std::vector<float> v(count);
  for (float& e : v) {
    e = ties ? 0.25f * level(rng) : std::max(0.0f, normal(rng));
    if (nan_rate > 0 && nan(rng)) e = std::numeric_limits<float>::quiet_NaN();
  }
  return v;
}

TEST(RecordsGpu, MaxRecordsEqualsCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  struct Case {
    int n, k, hw;
    bool ties;
    double nan_rate;
  };
  for (const Case c : {Case{5, 256, 576, false, 0.0}, Case{4, 64, 9216, true, 0.0},
                       Case{3, 7, 37, true, 0.01}, Case{2, 5, 1, false, 0.0}}) {
    SCOPED_TRACE("shape " + std::to_string(c.n) + "x" + std::to_string(c.k) + "x" +
                 std::to_string(c.hw));
    const auto y = test_values(static_cast<std::size_t>(c.n) * c.k * c.hw, rng, c.ties, c.nan_rate);
    std::vector<float> want_value(c.n * c.k);
    std::vector<std::int32_t> want_position(c.n * c.k);
    CpuOps::max_records(c.n, c.k, c.hw, y.data(), want_value.data(), want_position.data());
    const Tensor y_dev = Tensor::from_vector<float>({c.n, c.k, c.hw}, y).to(Device::cuda);
    Tensor value = poisoned({c.n, c.k}, DType::f32);
    Tensor position = poisoned({c.n, c.k}, DType::i32);
    CudaOps::max_records(c.n, c.k, c.hw, y_dev.data<float>(), value.data<float>(),
                         position.data<std::int32_t>());
    device::synchronize();
    const auto got_value = value.to_vector<float>();
    const auto got_position = position.to_vector<std::int32_t>();
    for (int row = 0; row < c.n * c.k; ++row) {
      ASSERT_EQ(got_position[row], want_position[row]) << "row " << row;
      ASSERT_TRUE(same(got_value[row], want_value[row]))
          << "row " << row << ": " << got_value[row] << " vs " << want_value[row];
    }
  }
}

TEST(RecordsGpu, TopNSelectEqualsCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  struct Case {
    int images, maps, n;
    bool ties;
    double nan_rate;
  };
  // The benchmark's 16,384 images × 256 maps on a GPU; emulated, 2,048 × 32.
  const int big = testing::kEmulated ? 2048 : 16384, maps = testing::kEmulated ? 32 : 256;
  for (const Case c :
       {Case{big, maps, 9, false, 0.0}, Case{big, maps, 9, true, 0.0},
        Case{3001, 17, 32, true, 0.002}, Case{9, 3, 9, true, 0.1}, Case{300, 5, 1, false, 0.0}}) {
    SCOPED_TRACE("images " + std::to_string(c.images) + " maps " + std::to_string(c.maps) + " n " +
                 std::to_string(c.n));
    const auto values =
        test_values(static_cast<std::size_t>(c.images) * c.maps, rng, c.ties, c.nan_rate);
    std::vector<std::int32_t> want_images(c.maps * c.n);
    std::vector<float> want_values(c.maps * c.n);
    CpuOps::topn_select(c.images, c.maps, c.n, values.data(), want_images.data(),
                        want_values.data());
    const Tensor values_dev =
        Tensor::from_vector<float>({c.images, c.maps}, values).to(Device::cuda);
    Tensor top_images = poisoned({c.maps, c.n}, DType::i32);
    Tensor top_values = poisoned({c.maps, c.n}, DType::f32);
    CudaOps::topn_select(c.images, c.maps, c.n, values_dev.data<float>(),
                         top_images.data<std::int32_t>(), top_values.data<float>());
    device::synchronize();
    const auto got_images = top_images.to_vector<std::int32_t>();
    const auto got_values = top_values.to_vector<float>();
    for (int e = 0; e < c.maps * c.n; ++e) {
      ASSERT_EQ(got_images[e], want_images[e]) << "map " << e / c.n << " rank " << e % c.n;
      ASSERT_TRUE(same(got_values[e], want_values[e])) << "map " << e / c.n << " rank " << e % c.n;
    }
  }
}

TEST(RecordsGpu, WindowedProjectionsEqualCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  NetConfig cfg;  // 96×96, 64/128/256 — fc narrowed, the projection never reads it
  cfg.fc = 16;
  if (testing::kEmulated) {  // the CPU default widths: the same kernel paths, an eighth the work
    cfg.conv1 = 16;
    cfg.conv2 = 32;
    cfg.conv3 = 64;
  }
  Params params = init_params(cfg, seed, Device::cpu);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Tensor* b : {&params.conv1_bias, &params.conv2_bias, &params.conv3_bias})
    for (std::int64_t i = 0; i < b->numel(); ++i) b->data<float>()[i] = 0.05f * normal(rng);
  const int images = 3, s = cfg.input_size;
  std::vector<float> pixels(static_cast<std::size_t>(images) * s * s);
  for (float& v : pixels) v = normal(rng);
  const Tensor x = Tensor::from_vector<float>({images, 1, s, s}, pixels);
  // Corners, edges, centre, then random requests.
  std::vector<WindowRequest> requests = {
      {0, 0, 0, 0},  {1, 1, 0, 23}, {2, 2, 23, 0},  {0, 3, 23, 23},
      {1, 4, 0, 11}, {2, 5, 12, 0}, {0, 6, 11, 12}, {1, cfg.conv3 - 1, 23, 7}};
  // The random requests are drawn where the CPU's conv3 activation is positive, as top-n requests
  // are: one at a zero activation projects to all zeros and compares nothing. (Drawn anywhere,
  // about half land on zeros, and at seed 3609667777 only 6 of the emulated case's 24 requests
  // projected to anything.)
  std::uniform_int_distribution<int> image(0, images - 1), map(0, cfg.conv3 - 1), pos(0, 23);
  const std::size_t request_count = testing::kEmulated ? 24 : 96;
  for (int round = 0; round < 16 && requests.size() < request_count; ++round) {
    std::vector<WindowRequest> draws;
    for (int i = 0; i < 64; ++i) draws.push_back({image(rng), map(rng), pos(rng), pos(rng)});
    const Projections drawn = project_windows<CpuOps>(cfg, params, x, draws);
    for (std::size_t i = 0; i < draws.size() && requests.size() < request_count; ++i)
      if (drawn.seeds.data<float>()[i] > 0.0f) requests.push_back(draws[i]);
  }
  ASSERT_EQ(requests.size(), request_count) << "too few positive conv3 activations to draw from";
  const Projections want = project_windows<CpuOps>(cfg, params, x, requests);
  // A request whose path passes a max-pool switch within rounding of a tie (margin below
  // kNearTie, tests/window_margins.h) may see the GPU choose the other pixel, which moves a whole
  // cell's contribution. A CPU-only stand-in for the GPU's rounding at full width (every weight
  // moved by up to 16 ulps) put 4 of 1,920 requests (4 of 20 draws) 24 to 103 times beyond the
  // pixel bar, all at margins 6.8e-8 to 2.6e-7; moved by up to 64 ulps, 36 of 1,920, all at
  // margins up to 3.0e-6. The kernels themselves, emulated at full width (FFMA and 3×TF32),
  // kept every request within the bar in 6 draws (away from ties, within 0.5 % of it), with 2 to
  // 16 of 96 requests per draw below 1e-6 (9 draws); the emulator's tensor-core sums are ideal,
  // a card's are not. Requests near a tie are held to the seed and to a window finite and aligned
  // with the CPU's (at most half may be); the dyadic pass below, which has no near-ties, holds
  // every request to the pixel bar. A pixel failure on a card at a margin just above kNearTie
  // (printed) means the card's rounding differs more than estimated, not a kernel bug.
  constexpr double kNearTie = 1e-6;
  const std::vector<double> margins = testing::window_path_margins(cfg, params, x, requests);
  // The seeds' absolute bar is relative to their scale: a seed is a sum of c2·25 terms whose
  // rounding grows with the width, and a small one is as far off as a large one (emulated at full
  // width, 3×TF32's worst seed used 33 % of this bar in 6 draws; for a seed below 1 it is the
  // seeds' RMS times the former 1e-5).
  double seed_rms = 0.0;
  for (int r = 0; r < static_cast<int>(requests.size()); ++r)
    seed_rms += static_cast<double>(want.seeds.data<float>()[r]) * want.seeds.data<float>()[r];
  seed_rms = std::sqrt(seed_rms / static_cast<double>(requests.size()));
  // Phase 3 in each conv math mode the GPU runs (aulens/cuda_math.h): FFMA, and on tensor cores
  // 3×TF32 (fp32-accurate: the same tolerance) and TF32 (seeds within 2e-2, windows by cosine);
  // "fastest" (FFMA or 3×TF32, timed on this first call) is fp32-accurate too, as is each of its
  // candidates forced in turn (force_conv_candidate; indices wrap around).
  std::vector<std::pair<ConvMath, int>> modes = {{ConvMath::ffma, -1}};
  if (conv_tensor_cores_available())
    modes.insert(modes.end(), {{ConvMath::tf32x3, -1}, {ConvMath::tf32, -1}});
  for (int candidate = -1; candidate < 4; ++candidate)
    modes.emplace_back(ConvMath::fastest, candidate);
  const auto p = static_cast<int>(requests.size());
  const auto trace = [&](int r) {
    return "request " + std::to_string(r) + " (image " + std::to_string(requests[r].image) +
           ", map " + std::to_string(requests[r].map) + ", y " + std::to_string(requests[r].y) +
           ", x " + std::to_string(requests[r].x) + ")";
  };
  // The cosine of two windows: NaN when both are all zero, 0 when only one is; every pixel of
  // `got` must be finite.
  const auto cosine = [](const float* got_window, const float* want_window) {
    double dot = 0.0, gg = 0.0, cc = 0.0;
    int not_finite = 0;
    for (int e = 0; e < 32 * 32; ++e) {
      const double a = got_window[e], b = want_window[e];
      not_finite += !std::isfinite(a);
      dot += a * b;
      gg += a * a;
      cc += b * b;
    }
    EXPECT_EQ(not_finite, 0) << "pixels not finite";
    if (cc == 0.0 && gg == 0.0) return std::nan("");
    return cc > 0.0 && gg > 0.0 ? dot / std::sqrt(gg * cc) : 0.0;
  };
  const auto check_origins = [&](const Projections& got) {
    for (int e = 0; e < 2 * p; ++e)
      ASSERT_EQ(got.origins.data<std::int32_t>()[e], want.origins.data<std::int32_t>()[e])
          << trace(e / 2);
  };
  for (const auto& [mode, candidate] : modes) {
    SCOPED_TRACE(std::string("conv math ") + conv_math_name(mode) +
                 (candidate >= 0 ? ", candidate " + std::to_string(candidate) : std::string()));
    const testing::ConvMathScope math(mode, candidate);
    const Projections got = gpu_project_windows(cfg, params, x, want);
    ASSERT_EQ(got.windows.shape(), want.windows.shape());
    ASSERT_NO_FATAL_FAILURE(check_origins(got));
    const float* gw = got.windows.data<float>();
    const float* ww = want.windows.data<float>();
    if (mode == ConvMath::tf32) {
      // TF32 conv2 sums move near-tied pool2 switches, each of which moves a whole gradient path:
      // no per-pixel bound on these Gaussian inputs (the dyadic pass below holds TF32 to the fp32
      // bar). Seeds within 2e-2, windows finite and mostly aligned with the CPU's.
      std::vector<double> cosines;
      for (int r = 0; r < p; ++r) {
        const float ws = want.seeds.data<float>()[r], gs = got.seeds.data<float>()[r];
        EXPECT_NEAR(gs, ws, 2e-2f * std::max(1.0f, std::fabs(ws))) << trace(r);
        const double c = cosine(gw + r * 1024, ww + r * 1024);
        if (!std::isnan(c)) cosines.push_back(c);
      }
      ASSERT_FALSE(cosines.empty());
      std::sort(cosines.begin(), cosines.end());
      EXPECT_GE(cosines[cosines.size() / 2], 0.9) << "median cosine of TF32 vs CPU windows";
      continue;
    }
    // A window is linear in its seed (given the switches, every step after the seed is linear or
    // a ReLU, and ReLU commutes with a positive scale), so it carries the seed's relative error.
    // The seed, a sum of O(1) terms, is held to an absolute bar; a small one (a largely cancelling
    // sum) may be off by more than the windows' relative bar of itself (seed 3438103491, request
    // 21: seed 0.0083506 on the CPU, 0.0083523 in 3×TF32, 2.0e-4 apart). So each window is judged
    // against the CPU's scaled to the GPU's seed: the bar measures the projection's own rounding
    // (emulated, at four seeds: the worst pixel then used at most 0.3 % of the bar, not 102 %).
    int nonzero_requests = 0, near_ties = 0;
    std::vector<float> scaled(32 * 32);
    for (int r = 0; r < p; ++r) {
      char margin[48];
      std::snprintf(margin, sizeof margin, ", switch margin %.2g", margins[r]);
      SCOPED_TRACE(trace(r) + margin);
      const float ws = want.seeds.data<float>()[r], gs = got.seeds.data<float>()[r];
      EXPECT_NEAR(gs, ws, 1e-5 * std::max<double>(std::fabs(ws), seed_rms));
      const double scale = ws > 0.0f && gs > 0.0f ? static_cast<double>(gs) / ws : 1.0;
      for (int e = 0; e < 32 * 32; ++e) scaled[e] = static_cast<float>(scale * ww[r * 1024 + e]);
      if (margins[r] < kNearTie) {
        ++near_ties;
        const double c = cosine(gw + r * 1024, scaled.data());
        EXPECT_TRUE(std::isnan(c) || c >= 0.9)
            << "near a tie (margin " << margins[r] << "), yet the window's cosine is " << c;
        continue;
      }
      const float window_max =
          testing::expect_window_close(gw + r * 1024, scaled.data(), 1e-4, 1e-4);
      nonzero_requests += window_max > 0.0f;
    }
    EXPECT_LE(near_ties, p / 2) << "too many requests near a tie for the pixel bar to mean much";
    EXPECT_GT(nonzero_requests, p / 4) << "too few non-zero projections to mean anything";
    if (near_ties > 0)
      std::printf(
          "[ note ] %s: %d of %d requests near a max-pool tie (margin < %.0e), held to "
          "cosine >= 0.9\n",
          conv_math_name(mode), near_ties, p, kNearTie);
  }

  // Dyadic weights and inputs (tests/dyadic_net.h): every forward sum is exact in any order and
  // every operand is a TF32 value, so in every mode, TF32 included, the switches and seeds equal
  // the CPU's bit for bit and the windows differ only by the order of the backward sums (the bar
  // of tests/test_deconv_window_emu.cpp). This is where a TF32 edge or corner bug shows.
  Params dyadic_params = params.to(Device::cpu);  // deep copies
  Tensor dyadic_x = x.to(Device::cpu);
  testing::make_dyadic(dyadic_params, dyadic_x);
  const Projections dyadic_want = project_windows<CpuOps>(cfg, dyadic_params, dyadic_x, requests);
  for (const auto& [mode, candidate] : modes) {
    SCOPED_TRACE(std::string("dyadic, conv math ") + conv_math_name(mode) +
                 (candidate >= 0 ? ", candidate " + std::to_string(candidate) : std::string()));
    const testing::ConvMathScope math(mode, candidate);
    const Projections got = gpu_project_windows(cfg, dyadic_params, dyadic_x, dyadic_want);
    int nonzero_requests = 0;
    for (int r = 0; r < p; ++r) {
      SCOPED_TRACE(trace(r));
      EXPECT_EQ(got.seeds.data<float>()[r], dyadic_want.seeds.data<float>()[r])
          << "exact forward sums: seeds bit-equal";
      const float window_max =
          testing::expect_window_close(got.windows.data<float>() + r * 1024,
                                       dyadic_want.windows.data<float>() + r * 1024, 1e-5, 1e-6);
      nonzero_requests += window_max > 0.0f;
    }
    EXPECT_GT(nonzero_requests, p / 4) << "too few non-zero projections to mean anything";
  }
}

// conv2d_relu_records (the fused conv3 epilogue, cuda/conv2d.cu) in every hand-written math mode:
// (1) bit-identical to the unfused GPU path conv2d_forward → relu_forward → max_records in the
//     same mode (same mainloop, same bias addition: the same floats reach the max), values and
//     positions, NaN and the all-zero ties included;
// (2) for the fp32-accurate modes, against the CPU twin: values within 1e-4·(1 + |cpu|); a
//     position may differ only where the CPU maps hold equal-within-tolerance values at both;
// (3) cuDNN's convolution with the same epilogue (CudnnConv::forward_relu_records), the same bar.
// Shapes: the fused path with both tile heights (K = 256, 64; H·W = 576), the unfused fallbacks
// (H·W < 128; K < 16), without bias, a bias so negative that every map is all zeros after ReLU
// (ties: position 0), and a NaN in the input (the first NaN position wins).
TEST(RecordsGpu, FusedConvReluRecordsEqualUnfusedAndCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Case {
    const char* name;
    ConvShape shape;
    bool bias;
    float bias_shift;  // added to every bias value
    bool nan_input;
  };
  // The paper's conv3 at N = 5 on a GPU; emulated, a quarter of its channels at N = 1 (the same
  // 128-high tiles and epilogue).
  const ConvShape conv3 =
      testing::kEmulated ? ConvShape{1, 32, 24, 24, 128, 5} : ConvShape{5, 128, 24, 24, 256, 5};
  const Case cases[] = {
      {"conv3", conv3, true, 0.0f, false},
      {"narrow_conv3_n3", {3, 32, 24, 24, 64, 5}, true, 0.0f, false},
      {"ragged_k70_n2_17x13", {2, 9, 17, 13, 70, 5}, false, 0.0f, false},
      {"small_hw_fallback", {3, 8, 7, 9, 40, 5}, true, 0.0f, false},
      {"few_maps_fallback", {2, 6, 20, 20, 5, 5}, true, 0.0f, false},
      {"all_zero_ties", {2, 16, 24, 24, 64, 5}, true, -1e4f, false},
      {"nan_input", {2, 16, 24, 24, 64, 5}, true, 0.0f, true},
  };
  std::vector<ConvMath> modes = {ConvMath::ffma};
  if (conv_tensor_cores_available()) modes.insert(modes.end(), {ConvMath::tf32x3, ConvMath::tf32});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ConvShape& s = c.shape;
    const int hw = s.h * s.w;
    std::vector<float> x(static_cast<std::size_t>(s.n) * s.c * hw), w(s.k * s.c * s.r * s.r),
        b(s.k);
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng) * 0.1f;
    for (float& v : b) v = normal(rng) * 0.1f + c.bias_shift;
    if (c.nan_input) x[(static_cast<std::size_t>(1) * s.c + 3) * hw + 7 * s.w + 11] = NAN;
    const float* bias_host = c.bias ? b.data() : nullptr;
    // CPU twin, and the CPU maps for judging near-ties.
    std::vector<float> maps(static_cast<std::size_t>(s.n) * s.k * hw);
    CpuOps::conv2d_forward(s, x.data(), w.data(), bias_host, maps.data());
    CpuOps::relu_forward(static_cast<std::int64_t>(maps.size()), maps.data(), maps.data());
    std::vector<float> cpu_value(s.n * s.k);
    std::vector<std::int32_t> cpu_position(s.n * s.k);
    CpuOps::conv2d_relu_records(s, x.data(), w.data(), bias_host, cpu_value.data(),
                                cpu_position.data());

    const Tensor x_dev = Tensor::from_vector<float>({s.n, s.c, s.h, s.w}, x).to(Device::cuda);
    const Tensor w_dev = Tensor::from_vector<float>({s.k, s.c, s.r, s.r}, w).to(Device::cuda);
    const Tensor b_dev = Tensor::from_vector<float>({s.k}, b).to(Device::cuda);
    const float* bias_dev = c.bias ? b_dev.data<float>() : nullptr;
    // Values within 1e-4·(1 + |cpu|); a position may differ only at a near-tie of the CPU maps.
    const auto check_against_cpu = [&](const std::vector<float>& got_value,
                                       const std::vector<std::int32_t>& got_position) {
      for (int row = 0; row < s.n * s.k; ++row) {
        const float want = cpu_value[row], got = got_value[row];
        if (std::isnan(want)) {
          ASSERT_TRUE(std::isnan(got)) << "row " << row;
          ASSERT_EQ(got_position[row], cpu_position[row]) << "first NaN, row " << row;
          continue;
        }
        const float tol = 1e-4f * (1.0f + std::fabs(want));
        ASSERT_NEAR(got, want, tol) << "row " << row;
        if (got_position[row] != cpu_position[row]) {
          ASSERT_GE(got_position[row], 0);
          ASSERT_LT(got_position[row], hw);
          const float at_got = maps[static_cast<std::size_t>(row) * hw + got_position[row]];
          ASSERT_NEAR(at_got, want, tol)
              << "row " << row << ": position " << got_position[row] << " vs the CPU's "
              << cpu_position[row] << " is not a near-tie";
        }
      }
    };
    for (ConvMath mode : modes) {
      SCOPED_TRACE(conv_math_name(mode));
      const testing::ConvMathScope math(mode);
      Tensor maps_dev = poisoned({s.n, s.k, s.h, s.w}, DType::f32);
      Tensor fused_value = poisoned({s.n, s.k}, DType::f32);
      Tensor fused_position = poisoned({s.n, s.k}, DType::i32);
      CudaOps::conv2d_relu_records(s, x_dev.data<float>(), w_dev.data<float>(), bias_dev,
                                   fused_value.data<float>(), fused_position.data<std::int32_t>());
      Tensor plain_value = poisoned({s.n, s.k}, DType::f32);
      Tensor plain_position = poisoned({s.n, s.k}, DType::i32);
      CudaOps::conv2d_forward(s, x_dev.data<float>(), w_dev.data<float>(), bias_dev,
                              maps_dev.data<float>());
      CudaOps::relu_forward(maps_dev.numel(), maps_dev.data<float>(), maps_dev.data<float>());
      CudaOps::max_records(s.n, s.k, hw, maps_dev.data<float>(), plain_value.data<float>(),
                           plain_position.data<std::int32_t>());
      device::synchronize();
      const auto got_value = fused_value.to_vector<float>();
      const auto got_position = fused_position.to_vector<std::int32_t>();
      const auto plain_v = plain_value.to_vector<float>();
      const auto plain_p = plain_position.to_vector<std::int32_t>();
      for (int row = 0; row < s.n * s.k; ++row) {
        ASSERT_EQ(got_position[row], plain_p[row]) << "fused vs unfused, row " << row;
        ASSERT_TRUE(same(got_value[row], plain_v[row]))
            << "fused vs unfused, row " << row << ": " << got_value[row] << " vs " << plain_v[row];
      }
      if (mode == ConvMath::tf32) continue;  // TF32 is not held to the fp32 CPU twin
      check_against_cpu(got_value, got_position);
    }
    // cuDNN's convolution with the same epilogue (CudnnConv::forward_relu_records, what
    // conv_backend: cudnn records with), fp32-accurate. Not with a NaN input: cuDNN does not say
    // how its kernels carry a NaN (its FFT and Winograd algorithms, no longer chosen, spread one
    // beyond the outputs that read it).
    if (!c.nan_input && testing::kCudnnBuilt) {
      SCOPED_TRACE("cuDNN fp32");
      Tensor value = poisoned({s.n, s.k}, DType::f32);
      Tensor position = poisoned({s.n, s.k}, DType::i32);
      CudnnConv::forward_relu_records(s, x_dev.data<float>(), w_dev.data<float>(), bias_dev,
                                      value.data<float>(), position.data<std::int32_t>());
      device::synchronize();
      SCOPED_TRACE("cuDNN algorithms: " + CudnnConv::algorithms());
      check_against_cpu(value.to_vector<float>(), position.to_vector<std::int32_t>());
    }
  }
}

}  // namespace
}  // namespace aulens
