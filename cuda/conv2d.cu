// Hand-written "same" convolution, forward and backward-data (the transposed convolution), in the
// math mode aulens::conv_math() names (aulens/cuda_math.h): fp32 FFMA, 3×TF32 or TF32 tensor
// cores (cuda/conv2d_tiles.cuh). CPU twin: src/cpu/conv2d.cpp. Backward-filter lives in
// cuda/conv2d_backward_filter.cu.
//
// Glossary: N batch, C input channels, K filters, H W image size, R kernel size (odd), pad R/2,
// P = N·H·W output pixels. x: (N,C,H,W)  w: (K,C,R,R)  b: (K)  y: (N,K,H,W), all NCHW fp32.
//
// Forward is an implicit GEMM  y[k][p] = Σ_q w[k][q] · im2col(x)[q][p] over the C·R·R taps
// q = (c, r, s) and the pixels p = (n, oy, ox) < P, in tiles of BM filters × 128 pixels (BM = 128,
// or 64 when K ≤ 64), the im2col matrix gathered on the fly from x (zero outside the image). The
// reduction runs tap by tap over blocks of channels when the slice depth divides C (one bounds
// test per slice), else in (c, r, s) order. Backward-data is the same kernel:
// with pad = (R−1)/2 the transposed convolution equals a same-convolution of dy with the filters
// flipped and transposed, w'[c][k][r][s] = w[k][c][R−1−r][R−1−s], materialised in a scratch buffer.
// When the GEMM has few rows (M < 16, e.g. dx of conv1 with C = 1) a direct kernel — one thread
// per pixel, 4 output channels per thread, filters in shared memory, always FFMA — replaces it.
//
// conv2d_relu_records fuses ReLU and the activation records (max and first argmax per map and
// image) into the GEMM epilogue: each output becomes a 64-bit key (value bits ≥ +0 or the
// canonical NaN, then 2³²−1−position, so a larger key is a larger value or the same value
// earlier, and NaN wins), reduced per (map, image) in shared memory — a 128-pixel tile meets at
// most two images when H·W ≥ 128 — and then by one global atomicMax per tile row and image; a last
// kernel unpacks the keys. The maps are never written. Other shapes (H·W < 128, or the direct
// kernel's M < 16) run the convolution into a scratch buffer, then relu_forward and max_records.
#include <array>
#include <atomic>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "aulens/cuda_math.h"
#include "aulens/ops.h"
#include "common.cuh"
#include "conv2d_gemm_kernel.cuh"
#include "conv2d_host.cuh"

namespace aulens {
namespace {  // (the GEMM kernel and its using-declarations: conv2d_gemm_kernel.cuh)

void check_geometry(const ConvShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.c >= 1 && s.h >= 1 && s.w >= 1 && s.k >= 1,
               std::string(op) + ": need N >= 0 and C, H, W, K >= 1");
  AULENS_CHECK(s.r >= 1 && s.r % 2 == 1, std::string(op) + ": kernel size R must be odd");
  const long long int_max = std::numeric_limits<int>::max();
  const long long pixels = static_cast<long long>(s.n) * s.h * s.w;
  AULENS_CHECK(pixels * s.c <= int_max && pixels * s.k <= int_max &&
                   static_cast<long long>(s.k) * s.c * s.r * s.r <= int_max,
               std::string(op) + ": tensor too large for 32-bit indexing");
}

constexpr int kGemmPixels = 128;  // BN of every GEMM tile

template <int BM, TileMath Math, bool Records, int MinBlocks>
void launch_gemm(const ConvGeometry& g, const float* in, const float* filt, const float* bias,
                 float* out, unsigned long long* record_keys) {
  constexpr int BN = kGemmPixels;
  const dim3 grid((g.p + BN - 1) / BN, (g.m + BM - 1) / BM);
  AULENS_CHECK(grid.y <= 65535, "conv2d: too many output channels for one grid");
  if (g.cin % cuda_detail::slice_depth<Math>() == 0) {
    cuda_detail::launch(conv_same_gemm_kernel<BM, BN, Math, Records, true, MinBlocks>, grid,
                        kConvThreads, 0, g, in, filt, bias, out, record_keys);
  } else {
    cuda_detail::launch(conv_same_gemm_kernel<BM, BN, Math, Records, false, MinBlocks>, grid,
                        kConvThreads, 0, g, in, filt, bias, out, record_keys);
  }
  AULENS_CHECK_LAUNCH("conv_same_gemm_kernel");
}

// One way to run the GEMM: tile height, math, and the blocks per multiprocessor its registers
// must allow (1 only for the 3×TF32 128-high tiles, which spill at 2).
struct GemmVariant {
  int bm;
  TileMath math;
  int min_blocks = 2;
  std::string name() const {
    return std::string(cuda_detail::tile_math_name(math)) + " " + std::to_string(bm) + "×" +
           std::to_string(kGemmPixels) + (min_blocks == 1 ? " 1/SM" : "");
  }
};

template <TileMath Math, bool Records>
void launch_gemm(const GemmVariant& v, const ConvGeometry& g, const float* in, const float* filt,
                 const float* bias, float* out, unsigned long long* record_keys) {
  if (v.bm == 64) return launch_gemm<64, Math, Records, 2>(g, in, filt, bias, out, record_keys);
  if constexpr (Math == TileMath::tf32x3) {
    if (v.min_blocks == 1)
      return launch_gemm<128, Math, Records, 1>(g, in, filt, bias, out, record_keys);
  }
  launch_gemm<128, Math, Records, 2>(g, in, filt, bias, out, record_keys);
}

template <bool Records>
void launch_gemm(const GemmVariant& v, const ConvGeometry& g, const float* in, const float* filt,
                 const float* bias, float* out, unsigned long long* record_keys) {
  switch (v.math) {
    case TileMath::ffma:
      return launch_gemm<TileMath::ffma, Records>(v, g, in, filt, bias, out, record_keys);
    case TileMath::tf32:
      return launch_gemm<TileMath::tf32, Records>(v, g, in, filt, bias, out, record_keys);
    case TileMath::tf32x3:
      return launch_gemm<TileMath::tf32x3, Records>(v, g, in, filt, bias, out, record_keys);
  }
}

// The GEMM variants a launch may use: tiles 64 filters high when K ≤ 64, else 128, in the conv
// mode's math; the "fastest" mode also tries 64-high tiles where 128 is the rule, and 3×TF32
// 128-high tiles with the registers of one block per multiprocessor.
std::vector<GemmVariant> gemm_variants(const ConvGeometry& g) {
  std::vector<int> heights{g.m <= 64 ? 64 : 128};
  if (conv_math() == ConvMath::fastest && g.m > 64) heights.push_back(64);
  std::vector<GemmVariant> variants;
  for (TileMath math : cuda_detail::tile_maths()) {
    for (int bm : heights) {
      variants.push_back({bm, math});
      if (conv_math() == ConvMath::fastest && math == TileMath::tf32x3 && bm == 128)
        variants.push_back({bm, math, 1});
    }
  }
  return variants;
}

std::array<int, 6> tuning_shape(const ConvGeometry& g) {
  return {g.n, g.cin, g.h, g.w, g.m, g.r};
}

// out = same-convolution of `in` with `filt` (+ bias), picking the kernel for the shape.
void conv_same(cuda_detail::TunedOp op, const ConvGeometry& g, const float* in, const float* filt,
               const float* bias, float* out) {
  const std::size_t direct_smem = sizeof(float) * kDirectOut * static_cast<std::size_t>(g.crr);
  if (g.m < 16 && direct_smem <= kDirectMaxSmem) {
    const dim3 grid((g.p + kDirectThreads - 1) / kDirectThreads,
                    (g.m + kDirectOut - 1) / kDirectOut);
    cuda_detail::launch(conv_same_direct_kernel, grid, kDirectThreads, direct_smem, g, in, filt,
                        bias, out);
    AULENS_CHECK_LAUNCH("conv_same_direct_kernel");
    return;
  }
  cuda_detail::run_fastest(op, tuning_shape(g), gemm_variants(g), [&](const GemmVariant& v) {
    launch_gemm<false>(v, g, in, filt, bias, out, nullptr);
  });
}

// Compiled like every kernel here, so its attributes say which code the device runs.
__global__ void tensor_tiles_probe_kernel() {}

}  // namespace

namespace cuda_detail {
bool tensor_tiles_supported() {
  static const bool supported = [] {
    int device = 0, major = 0;
    AULENS_CUDA_CHECK(cudaGetDevice(&device));
    AULENS_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    cudaFuncAttributes attributes{};
    AULENS_CUDA_CHECK(cudaFuncGetAttributes(&attributes, tensor_tiles_probe_kernel));
    return major >= 8 && attributes.ptxVersion >= 80;
  }();
  return supported;
}

LaunchTuner& conv_tuner() {
  static LaunchTuner tuner;
  return tuner;
}

namespace {
std::atomic<int> forced_candidate{-1};
}  // namespace

int forced_conv_candidate() {
  return forced_candidate.load();
}

double time_launch_ms(const std::function<void()>& launch) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  AULENS_CUDA_CHECK(cudaStreamIsCapturing(stream(), &capture));
  AULENS_CHECK(capture == cudaStreamCaptureStatusNone,
               "conv math 'fastest' times its kernels on first use, which a stream capture cannot "
               "hold: run one step uncaptured first");
  struct Events {
    cudaEvent_t start = nullptr, stop = nullptr;
    ~Events() {
      if (start != nullptr) cudaEventDestroy(start);
      if (stop != nullptr) cudaEventDestroy(stop);
    }
  } events;
  AULENS_CUDA_CHECK(cudaEventCreate(&events.start));
  AULENS_CUDA_CHECK(cudaEventCreate(&events.stop));
  constexpr int kRuns = 3;
  launch();  // warm-up: first-launch costs, caches
  AULENS_CUDA_CHECK(cudaEventRecord(events.start, stream()));
  for (int i = 0; i < kRuns; ++i) launch();
  AULENS_CUDA_CHECK(cudaEventRecord(events.stop, stream()));
  AULENS_CUDA_CHECK(cudaEventSynchronize(events.stop));
  float ms = 0.0f;
  AULENS_CUDA_CHECK(cudaEventElapsedTime(&ms, events.start, events.stop));
  return static_cast<double>(ms) / kRuns;
}
}  // namespace cuda_detail

bool conv_tensor_cores_available() {
  return device::available() && cuda_detail::tensor_tiles_supported();
}

void force_conv_candidate(int index) {
  cuda_detail::forced_candidate.store(index < 0 ? -1 : index);
}

std::vector<std::string> conv_tuning_choices() {
  using cuda_detail::TunedOp;
  std::vector<std::string> lines;
  for (const auto& d : cuda_detail::conv_tuner().decisions()) {
    const auto& k = d.key;
    std::string line;
    switch (static_cast<TunedOp>(k[0])) {
      case TunedOp::projections:
        line = "projections P=" + std::to_string(k[1]) + " N=" + std::to_string(k[2]) + " " +
               std::to_string(k[3]) + "×" + std::to_string(k[3]) + " widths " +
               std::to_string(k[4]) + "/" + std::to_string(k[5]) + "/" + std::to_string(k[6]);
        break;
      default: {
        const char* op =
            static_cast<TunedOp>(k[0]) == TunedOp::conv_forward         ? "conv forward"
            : static_cast<TunedOp>(k[0]) == TunedOp::conv_backward_data ? "conv backward-data"
            : static_cast<TunedOp>(k[0]) == TunedOp::conv_relu_records  ? "conv + ReLU records"
                                                                        : "conv backward-filter";
        // In the layer's terms: backward-data runs the same conv with C and K exchanged.
        const bool exchanged = static_cast<TunedOp>(k[0]) == TunedOp::conv_backward_data;
        const auto c = exchanged ? k[5] : k[2], kk = exchanged ? k[2] : k[5];
        line = std::string(op) + " N=" + std::to_string(k[1]) + " C=" + std::to_string(c) + " " +
               std::to_string(k[3]) + "×" + std::to_string(k[4]) + " K=" + std::to_string(kk) +
               " R=" + std::to_string(k[6]);
      }
    }
    line += ": " + d.candidates[d.chosen];
    for (std::size_t i = 0; i < d.candidates.size(); ++i) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.3f", d.milliseconds[i]);
      line += std::string(i == 0 ? " (" : "; ") + d.candidates[i] + " " + ms + " ms";
    }
    lines.push_back(line + ")");
  }
  return lines;
}

void CudaOps::conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                             float* y) {
  check_geometry(s, "conv2d_forward");
  AULENS_CHECK(x != nullptr && w != nullptr && y != nullptr, "conv2d_forward: null tensor");
  if (s.n == 0) return;
  conv_same(cuda_detail::TunedOp::conv_forward,
            cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r), x, w, b, y);
}

void CudaOps::conv2d_relu_records(const ConvShape& s, const float* x, const float* w,
                                  const float* b, float* value, std::int32_t* position) {
  check_geometry(s, "conv2d_relu_records");
  AULENS_CHECK(x != nullptr && w != nullptr && value != nullptr && position != nullptr,
               "conv2d_relu_records: null tensor");
  if (s.n == 0) return;
  const ConvGeometry g = cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r);
  const long long rows = static_cast<long long>(s.n) * s.k;
  static cuda_detail::ScratchBuffer scratch;
  if (g.m < 16 || g.hw < kGemmPixels) {  // unfused: the maps into scratch, then ReLU and records
    float* y = scratch.floats(static_cast<std::size_t>(rows) * g.hw);
    conv_same(cuda_detail::TunedOp::conv_forward, g, x, w, b, y);
    relu_forward(rows * g.hw, y, y);
    max_records(s.n, s.k, g.hw, y, value, position);
    return;
  }
  auto* keys = static_cast<unsigned long long*>(
      scratch.bytes(sizeof(unsigned long long) * static_cast<std::size_t>(rows)));
  cuda_detail::run_fastest(
      cuda_detail::TunedOp::conv_relu_records, tuning_shape(g), gemm_variants(g),
      [&](const GemmVariant& v) {
        AULENS_CUDA_CHECK(
            cudaMemsetAsync(keys, 0, sizeof(unsigned long long) * rows, cuda_detail::stream()));
        launch_gemm<true>(v, g, x, w, b, nullptr, keys);
      });
  cuda_detail::launch(unpack_record_keys_kernel, cuda_detail::blocks_for(rows, 256), 256, 0, rows,
                      keys, value, position);
  AULENS_CHECK_LAUNCH("unpack_record_keys_kernel");
}

void CudaOps::conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  check_geometry(s, "conv2d_backward_data");
  AULENS_CHECK(dy != nullptr && w != nullptr && dx != nullptr, "conv2d_backward_data: null tensor");
  if (s.n == 0) return;
  static cuda_detail::ScratchBuffer flipped_filters;
  const int rr = s.r * s.r;
  const long long count = static_cast<long long>(s.k) * s.c * rr;
  float* wt = flipped_filters.floats(static_cast<std::size_t>(count));
  const unsigned blocks = cuda_detail::blocks_for(count < (1 << 22) ? count : (1 << 22), 256);
  cuda_detail::launch(flip_transpose_filters_kernel, blocks, 256, 0, s.k, s.c, rr, w, wt);
  AULENS_CHECK_LAUNCH("flip_transpose_filters_kernel");
  // dx = same-conv of dy (K channels) with wt (C, K, R, R).
  conv_same(cuda_detail::TunedOp::conv_backward_data,
            cuda_detail::make_geometry(s.n, s.k, s.h, s.w, s.c, s.r), dy, wt, nullptr, dx);
}

}  // namespace aulens
