// The hand-written convolution kernels run on the host by tests/emu/block_emu.h, against the CPU
// twin, in every math mode (FFMA, 3×TF32 and TF32 through the emulated WMMA API):
//  * the implicit-GEMM forward (cuda/conv2d_gemm_kernel.cuh, tiles in cuda/conv2d_tiles.cuh):
//    both tile heights (BM 64, 128), both loaders (tap-major when the slice depth divides C, else
//    (c, r, s) order), plain output and the fused ReLU + records epilogue;
//  * backward-filter (cuda/conv2d_filter_grad_kernel.cuh): both tile sizes (64², 128²), one and
//    several pixel ranges summed by sum_partials_kernel, and the bias gradient;
//  * the direct kernel for few output channels and backward-data through the filter flip. Runs in
//  CI without
//    a GPU; checks indexing, fragment layouts,
// the 3×TF32 split and the epilogues, not speed or the hardware's accumulation
// (tests/gpu/test_conv_gpu.cpp and test_records_gpu.cpp do that on a GPU).
//
// Two input sets:
//  * dyadic: inputs integers in [−2, 2], weights, biases and dy multiples of 1/64 in [−1, 1]: every
//    operand is a TF32 value and every sum is exact in fp32, so all three modes must equal the CPU
//    twin bit for bit, maps and records (values and first-maximum positions, ties included);
//  * Gaussian: FFMA and 3×TF32 within 1e-5 of the reference's RMS (+1e-5 relative), TF32 within
//    2e-2; and TF32's worst error must exceed 4× the 3×TF32 one (a mode that is ignored, or a
//    3×TF32 that lost its correction terms, fails).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

// The emulator first: it defines the CUDA keywords and the WMMA API the kernel headers use.
#include "emu/block_emu.h"

#include "../cuda/conv2d_filter_grad_kernel.cuh"
#include "../cuda/conv2d_gemm_kernel.cuh"

#include "aulens/ops.h"

namespace aulens {
namespace {

struct Problem {
  ConvShape s;
  std::vector<float> x, w, b;
};

Problem make_problem(ConvShape s, bool dyadic, std::uint64_t seed) {
  Problem p{s, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-2, 2), fine(-64, 64);
  p.x.resize(static_cast<std::size_t>(s.n) * s.c * s.h * s.w);
  p.w.resize(static_cast<std::size_t>(s.k) * s.c * s.r * s.r);
  p.b.resize(s.k);
  for (float& v : p.x) v = dyadic ? static_cast<float>(small(rng)) : normal(rng);
  for (float& v : p.w) v = dyadic ? fine(rng) / 64.0f : normal(rng) / std::sqrt(s.c * s.r * s.r);
  for (float& v : p.b) v = dyadic ? fine(rng) / 64.0f : 0.1f * normal(rng);
  return p;
}

struct Result {
  std::vector<float> y;  // (N, K, H, W), or empty for records
  std::vector<float> value;
  std::vector<std::int32_t> position;
};

template <int BM, TileMath Math, bool Records, bool ChannelsInner>
Result run_kernel(const Problem& p) {
  const ConvShape& s = p.s;
  const ConvGeometry g = cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r);
  const emu::Dim3 grid{static_cast<unsigned>((g.p + 127) / 128),
                       static_cast<unsigned>((g.m + BM - 1) / BM)};
  Result r;
  std::vector<unsigned long long> keys;
  if constexpr (Records) {
    keys.assign(static_cast<std::size_t>(s.n) * s.k, 0);
  } else {
    r.y.assign(static_cast<std::size_t>(s.n) * s.k * s.h * s.w, NAN);  // poisoned
  }
  emu::launch(grid, {kConvThreads}, 0, conv_same_gemm_kernel<BM, 128, Math, Records, ChannelsInner>,
              g, p.x.data(), p.w.data(), p.b.data(), Records ? nullptr : r.y.data(),
              Records ? keys.data() : nullptr);
  if constexpr (Records) {
    const auto rows = static_cast<long long>(keys.size());
    r.value.assign(rows, NAN);
    r.position.assign(rows, -1);
    emu::launch({static_cast<unsigned>((rows + 63) / 64)}, {64}, 0, unpack_record_keys_kernel, rows,
                static_cast<const unsigned long long*>(keys.data()), r.value.data(),
                r.position.data());
  }
  return r;
}

Result run_cpu(const Problem& p, bool records) {
  const ConvShape& s = p.s;
  Result r;
  std::vector<float> y(static_cast<std::size_t>(s.n) * s.k * s.h * s.w);
  CpuOps::conv2d_forward(s, p.x.data(), p.w.data(), p.b.data(), y.data());
  if (!records) {
    r.y = y;
    return r;
  }
  CpuOps::relu_forward(static_cast<std::int64_t>(y.size()), y.data(), y.data());
  r.value.resize(static_cast<std::size_t>(s.n) * s.k);
  r.position.resize(r.value.size());
  CpuOps::max_records(s.n, s.k, s.h * s.w, y.data(), r.value.data(), r.position.data());
  return r;
}

// Worst |got − want| / (atol_per_rms·RMS(want) + rtol·|want|) (NaN: infinite), and that error.
struct Error {
  double excess = 0.0, max_abs = 0.0;
};
Error compare(const std::vector<float>& got, const std::vector<float>& want, double atol_per_rms,
              double rtol) {
  double sum_sq = 0.0;
  for (float v : want) sum_sq += static_cast<double>(v) * v;
  const double atol = atol_per_rms * std::sqrt(sum_sq / std::max<std::size_t>(1, want.size()));
  Error e;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double excess =
        std::isfinite(diff) ? diff / (atol + rtol * std::fabs(want[i])) : INFINITY;
    e.excess = std::max(e.excess, excess);
    e.max_abs = std::max(e.max_abs, std::isfinite(diff) ? diff : INFINITY);
  }
  return e;
}

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const char* math_name(TileMath m) {
  return m == TileMath::ffma ? "ffma" : m == TileMath::tf32 ? "tf32" : "3xtf32";
}

// Shapes: C = 16 takes the tap-major loader (slice depth 8 and 16 divide it), C = 3 the (c, r, s)
// one; K = 20 fills part of a 64-row tile, K = 72 part of a 128-row one; H·W = 12·10 + the batch
// gives partial pixel tiles, and ≥ 128 pixels per image as the fused records need.
template <int BM, TileMath Math>
void check_dyadic(int c, int k, int r) {
  const ConvShape s{3, c, 12, 11, k, r};
  const Problem p = make_problem(s, true, 7000 + 100 * c + k + r);
  SCOPED_TRACE(std::string(math_name(Math)) + " BM " + std::to_string(BM) + " C " +
               std::to_string(c) + " K " + std::to_string(k) + " R " + std::to_string(r));
  const Result want = run_cpu(p, false), want_rec = run_cpu(p, true);
  constexpr int tk = cuda_detail::slice_depth<Math>();
  Result got, got_rec;
  if (c % tk == 0) {
    got = run_kernel<BM, Math, false, true>(p);
    got_rec = run_kernel<BM, Math, true, true>(p);
  } else {
    got = run_kernel<BM, Math, false, false>(p);
    got_rec = run_kernel<BM, Math, true, false>(p);
  }
  const Error e = compare(got.y, want.y, 0.0, 0.0);
  EXPECT_TRUE(bits_equal(got.y, want.y)) << "exact sums, yet max |error| " << e.max_abs;
  EXPECT_TRUE(bits_equal(got_rec.value, want_rec.value)) << "record values";
  EXPECT_EQ(got_rec.position, want_rec.position) << "record positions (first maximum)";
}

struct Gradients {
  std::vector<float> dw, db;
};

// The launcher's sequence (cuda/conv2d_backward_filter.cu) with emu::launch in place of <<<…>>>;
// target_blocks stands in for 4 × the multiprocessor count and sets the number of pixel ranges.
template <int BM, int BN, TileMath Math>
Gradients run_filter_grad(const Problem& p, const std::vector<float>& dy, int target_blocks,
                          int* splits_used) {
  const ConvShape& s = p.s;
  const ConvGeometry g = cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r);
  const auto [splits, chunk] =
      filter_grad_split(g, BM, BN, cuda_detail::slice_depth<Math>(), target_blocks);
  *splits_used = splits;
  const int count = g.m * g.crr;
  Gradients r{std::vector<float>(count, NAN), std::vector<float>(s.k, NAN)};
  std::vector<float> partial(static_cast<std::size_t>(splits) * count, NAN);
  float* target = splits > 1 ? partial.data() : r.dw.data();
  emu::launch({static_cast<unsigned>((g.crr + BN - 1) / BN),
               static_cast<unsigned>((g.m + BM - 1) / BM), static_cast<unsigned>(splits)},
              {kConvThreads}, 0, conv_filter_grad_kernel<BM, BN, Math>, g, chunk, p.x.data(),
              dy.data(), target);
  if (splits > 1) {
    emu::launch({static_cast<unsigned>((count + 255) / 256)}, {256}, 0, sum_partials_kernel, count,
                splits, static_cast<const float*>(partial.data()), r.dw.data());
  }
  emu::launch({static_cast<unsigned>(s.k)}, {kBiasThreads}, 0, bias_grad_kernel, s.n, s.k, g.hw,
              dy.data(), r.db.data());
  return r;
}

Gradients run_cpu_filter_grad(const Problem& p, const std::vector<float>& dy) {
  const ConvShape& s = p.s;
  Gradients r{std::vector<float>(static_cast<std::size_t>(s.k) * s.c * s.r * s.r),
              std::vector<float>(s.k)};
  CpuOps::conv2d_backward_filter(s, p.x.data(), dy.data(), r.dw.data(), r.db.data());
  return r;
}

std::vector<float> make_dy(const ConvShape& s, bool dyadic, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> fine(-64, 64);
  std::vector<float> dy(static_cast<std::size_t>(s.n) * s.k * s.h * s.w);
  for (float& v : dy) v = dyadic ? fine(rng) / 64.0f : normal(rng);
  return dy;
}

// Backward-filter on dyadic data: 4 images of 12×12 = 576 pixels allow 2 ranges of ≥ 256.
template <int BM, int BN, TileMath Math>
void check_filter_grad_dyadic(int c, int k, int target_blocks, int want_splits) {
  const ConvShape s{4, c, 12, 12, k, 5};
  const Problem p = make_problem(s, true, 8000 + 100 * c + k);
  const std::vector<float> dy = make_dy(s, true, 9000 + c + k);
  SCOPED_TRACE(std::string(math_name(Math)) + " tile " + std::to_string(BM) + " C " +
               std::to_string(c) + " K " + std::to_string(k));
  int splits = 0;
  const Gradients got = run_filter_grad<BM, BN, Math>(p, dy, target_blocks, &splits);
  const Gradients want = run_cpu_filter_grad(p, dy);
  EXPECT_EQ(splits, want_splits);
  EXPECT_TRUE(bits_equal(got.dw, want.dw))
      << "exact sums, yet max |error| " << compare(got.dw, want.dw, 0.0, 0.0).max_abs;
  EXPECT_TRUE(bits_equal(got.db, want.db)) << "bias gradient";
}

TEST(Conv2dEmulated, FilterGradDyadicEqualsCpuTwinBitForBit) {
  check_filter_grad_dyadic<64, 64, TileMath::ffma>(16, 20, 1, 1);
  check_filter_grad_dyadic<64, 64, TileMath::ffma>(3, 20, 64, 2);
  check_filter_grad_dyadic<128, 128, TileMath::ffma>(16, 72, 64, 2);
  check_filter_grad_dyadic<64, 64, TileMath::tf32x3>(16, 20, 64, 2);
  check_filter_grad_dyadic<128, 128, TileMath::tf32x3>(3, 72, 1, 1);
  check_filter_grad_dyadic<64, 64, TileMath::tf32>(3, 20, 64, 2);
  check_filter_grad_dyadic<128, 128, TileMath::tf32>(16, 72, 64, 2);
}

TEST(Conv2dEmulated, DyadicEqualsCpuTwinBitForBit) {
  for (int r : {5, 3}) {
    check_dyadic<64, TileMath::ffma>(16, 20, r);
    check_dyadic<64, TileMath::ffma>(3, 20, r);
    check_dyadic<128, TileMath::ffma>(16, 72, r);
    check_dyadic<64, TileMath::tf32x3>(16, 20, r);
    check_dyadic<64, TileMath::tf32x3>(3, 20, r);
    check_dyadic<128, TileMath::tf32x3>(16, 72, r);
    check_dyadic<64, TileMath::tf32>(16, 20, r);
    check_dyadic<128, TileMath::tf32>(3, 72, r);
  }
}

template <int BM, TileMath Math>
Error gaussian_error(const Problem& p, const Result& want) {
  const Result got = run_kernel<BM, Math, false, true>(p);
  return compare(got.y, want.y, 1.0, 0.0);  // max |error| relative to RMS (excess with atol = RMS)
}

// The direct kernel (few output channels: M < 16) for the forward pass, and backward-data as the
// launcher runs it (filters flipped and transposed, then a same-convolution of dy: the GEMM for
// C ≥ 16, the direct kernel below), on dyadic data: bit-equal to the CPU twin.
TEST(Conv2dEmulated, DirectKernelAndBackwardDataEqualCpuTwin) {
  const auto same_conv = [](const ConvGeometry& g, const float* in, const float* filt,
                            const float* bias, float* out) {
    if (g.m < 16) {
      emu::launch({static_cast<unsigned>((g.p + kDirectThreads - 1) / kDirectThreads),
                   static_cast<unsigned>((g.m + kDirectOut - 1) / kDirectOut)},
                  {kDirectThreads}, sizeof(float) * kDirectOut * g.crr, conv_same_direct_kernel, g,
                  in, filt, bias, out);
    } else {  // the loader as the launcher picks it: tap-major when the slice depth (8) divides Cin
      const emu::Dim3 grid{static_cast<unsigned>((g.p + 127) / 128),
                           static_cast<unsigned>((g.m + 63) / 64)};
      auto* keys = static_cast<unsigned long long*>(nullptr);
      if (g.cin % 8 == 0) {
        emu::launch(grid, {kConvThreads}, 0,
                    conv_same_gemm_kernel<64, 128, TileMath::ffma, false, true>, g, in, filt, bias,
                    out, keys);
      } else {
        emu::launch(grid, {kConvThreads}, 0,
                    conv_same_gemm_kernel<64, 128, TileMath::ffma, false, false>, g, in, filt, bias,
                    out, keys);
      }
    }
  };
  for (const int c : {3, 16}) {
    const ConvShape s{2, c, 10, 9, 5, 5};  // K = 5 < 16: the direct kernel forward
    SCOPED_TRACE("C " + std::to_string(c));
    const Problem p = make_problem(s, true, 9100 + c);
    const Result want = run_cpu(p, false);
    std::vector<float> y(want.y.size(), NAN);
    same_conv(cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r), p.x.data(), p.w.data(),
              p.b.data(), y.data());
    EXPECT_TRUE(bits_equal(y, want.y)) << "direct forward";

    const std::vector<float> dy = make_dy(s, true, 9200 + c);
    std::vector<float> want_dx(p.x.size()), dx(p.x.size(), NAN), wt(p.w.size(), NAN);
    CpuOps::conv2d_backward_data(s, dy.data(), p.w.data(), want_dx.data());
    const int rr = s.r * s.r;
    emu::launch({4}, {256}, 0, flip_transpose_filters_kernel, s.k, s.c, rr,
                static_cast<const float*>(p.w.data()), wt.data());
    same_conv(cuda_detail::make_geometry(s.n, s.k, s.h, s.w, s.c, s.r), dy.data(), wt.data(),
              static_cast<const float*>(nullptr), dx.data());
    EXPECT_TRUE(bits_equal(dx, want_dx)) << "backward-data";
  }
}

TEST(Conv2dEmulated, GaussianModesWithinToleranceAndDistinct) {
  const ConvShape s{2, 32, 12, 12, 40, 5};  // C·R·R = 800 products per output
  const Problem p = make_problem(s, false, 7777);
  const Result want = run_cpu(p, false);
  const Error ffma = gaussian_error<64, TileMath::ffma>(p, want);
  const Error tf32x3 = gaussian_error<64, TileMath::tf32x3>(p, want);
  const Error tf32 = gaussian_error<64, TileMath::tf32>(p, want);
  // excess here = max |error| / RMS(reference)
  EXPECT_LE(ffma.excess, 1e-5) << "FFMA";
  EXPECT_LE(tf32x3.excess, 1e-5) << "3xTF32";
  EXPECT_LE(tf32.excess, 2e-2) << "TF32";
  EXPECT_GT(tf32.excess, 4.0 * tf32x3.excess)
      << "TF32 " << tf32.excess << " vs 3xTF32 " << tf32x3.excess
      << ": a mode ignored, or 3xTF32 without its corrections";
  std::printf("forward max |error| / RMS: FFMA %.2e, 3xTF32 %.2e, TF32 %.2e\n", ffma.excess,
              tf32x3.excess, tf32.excess);
}

TEST(Conv2dEmulated, FilterGradGaussianModesWithinToleranceAndDistinct) {
  const ConvShape s{4, 16, 12, 12, 20, 5};  // 576 pixels per filter tap, 2 ranges
  const Problem p = make_problem(s, false, 7788);
  const std::vector<float> dy = make_dy(s, false, 7789);
  const Gradients want = run_cpu_filter_grad(p, dy);
  int splits = 0;
  const auto error = [&](const Gradients& got) {
    return compare(got.dw, want.dw, 1.0, 0.0).excess;
  };
  const double ffma = error(run_filter_grad<64, 64, TileMath::ffma>(p, dy, 64, &splits));
  const double tf32x3 = error(run_filter_grad<64, 64, TileMath::tf32x3>(p, dy, 64, &splits));
  const double tf32 = error(run_filter_grad<64, 64, TileMath::tf32>(p, dy, 64, &splits));
  EXPECT_EQ(splits, 2);
  EXPECT_LE(ffma, 1e-5) << "FFMA";
  EXPECT_LE(tf32x3, 1e-5) << "3xTF32";
  EXPECT_LE(tf32, 2e-2) << "TF32";
  EXPECT_GT(tf32, 4.0 * tf32x3) << "TF32 " << tf32 << " vs 3xTF32 " << tf32x3;
  std::printf("backward-filter max |error| / RMS: FFMA %.2e, 3xTF32 %.2e, TF32 %.2e\n", ffma,
              tf32x3, tf32);
}

// The tensor cores are reported to round their fp32 accumulation toward zero (bench/RESULTS.md).
// The emulator's truncating model (one rounding toward zero per mma_sync and output) must leave
// 3×TF32 at fp32 level over long reductions: conv3's forward (C·R·R = 3,200 products per output)
// and a backward-filter range of 4,608 pixels. Before the 3×TF32 tiles summed each step in a fresh
// fragment, the forward case gave 1.3e-4 of RMS here (2.7e-6 now).
TEST(Conv2dEmulated, ThreeTf32StaysFp32AccurateUnderTruncatingAccumulation) {
  struct Truncating {  // the model on for this scope
    Truncating() { emu::truncating_tensor_accumulation = true; }
    ~Truncating() { emu::truncating_tensor_accumulation = false; }
  };
  const ConvShape s{1, 128, 12, 12, 64, 5};
  const Problem p = make_problem(s, false, 7799);
  const Result want = run_cpu(p, false);
  const Result nearest = run_kernel<64, TileMath::tf32x3, false, true>(p);
  Result truncated;
  {
    Truncating model;
    truncated = run_kernel<64, TileMath::tf32x3, false, true>(p);
  }
  EXPECT_FALSE(bits_equal(truncated.y, nearest.y)) << "the truncating model changed nothing";
  const double forward = compare(truncated.y, want.y, 1.0, 0.0).excess;
  EXPECT_LE(forward, 1e-5) << "forward, max |error| / RMS";

  const ConvShape sg{8, 16, 24, 24, 20, 5};  // one range: 4,608 pixels per filter tap
  const Problem pg = make_problem(sg, false, 7800);
  const std::vector<float> dy = make_dy(sg, false, 7801);
  const Gradients want_g = run_cpu_filter_grad(pg, dy);
  int splits = 0;
  Gradients got_g;
  {
    Truncating model;
    got_g = run_filter_grad<64, 64, TileMath::tf32x3>(pg, dy, 1, &splits);
  }
  EXPECT_EQ(splits, 1);
  const double filter = compare(got_g.dw, want_g.dw, 1.0, 0.0).excess;
  EXPECT_LE(filter, 1e-5) << "backward-filter, max |error| / RMS";
  std::printf(
      "3xTF32 under truncating accumulation, max |error| / RMS: forward (3,200 products) "
      "%.2e, backward-filter (4,608) %.2e\n",
      forward, filter);
}

}  // namespace
}  // namespace aulens
