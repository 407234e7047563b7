// Hand-written convolution backward-filter and bias gradient, deterministic, the filter gradient in
// the math mode aulens::conv_math() names (fp32 FFMA, 3×TF32 or TF32 tensor cores; see
// cuda/conv2d_tiles.cuh), the bias gradient always fp32. CPU twin: src/cpu/conv2d.cpp. Forward
// and backward-data: cuda/conv2d.cu.
//
// Glossary: N batch, C input channels, K filters, H W image size, R kernel size (odd), pad R/2,
// P = N·H·W pixels, Q = C·R·R filter taps per output channel.
//   x: (N,C,H,W)  dy: (N,K,H,W)  dw: (K,C,R,R)  db: (K)
//
// dw[k][q] = Σ_p dy[k][p] · im2col(x)[q][p] is a K×Q GEMM with a long reduction over P (36,864 to
// 589,824 pixels at batch 64) but few output tiles (K·Q/128² = 1 to 50), so the reduction is split
// into `splits` contiguous pixel ranges, one block per (tile, range), each writing its partial tile
// to a scratch buffer (splits, K, Q); a second kernel sums the partials in a fixed order. No
// atomics: the result is bitwise reproducible. db[k] = Σ_p dy[k][p], one block per k, fixed-order
// tree.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "aulens/ops.h"
#include "common.cuh"
#include "conv2d_filter_grad_kernel.cuh"
#include "conv2d_host.cuh"

namespace aulens {
namespace {  // (the kernels and their using-declarations: conv2d_filter_grad_kernel.cuh)

// The split partial sums (grow-only, shared by every tile shape and math mode).
cuda_detail::ScratchBuffer g_partials;

template <int BM, int BN, TileMath Math, int MinBlocks>
void launch_filter_grad(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  constexpr int TK = cuda_detail::slice_depth<Math>();
  const long long count = static_cast<long long>(g.m) * g.crr;
  // Aim for about 4 blocks per multiprocessor.
  const auto [splits, chunk] =
      filter_grad_split(g, BM, BN, TK, 4 * cuda_detail::multiprocessor_count());
  float* target = dw;
  if (splits > 1) {
    target = g_partials.floats(static_cast<std::size_t>(count * splits));
  }
  const dim3 grid((g.crr + BN - 1) / BN, (g.m + BM - 1) / BM, splits);
  AULENS_CHECK(grid.y <= 65535, "conv2d_backward_filter: too many filters for one grid");
  cuda_detail::launch(conv_filter_grad_kernel<BM, BN, Math, MinBlocks>, grid, kConvThreads, 0, g,
                      chunk, x, dy, target);
  AULENS_CHECK_LAUNCH("conv_filter_grad_kernel");
  if (splits > 1) {
    cuda_detail::launch(sum_partials_kernel, cuda_detail::blocks_for(count, 256), 256, 0,
                        static_cast<int>(count), splits, target, dw);
    AULENS_CHECK_LAUNCH("sum_partials_kernel");
  }
}

// One way to run backward-filter: tile shape (BM × BM), math, and the blocks per multiprocessor
// its registers must allow (1 only for 3×TF32 128×128, which spills at 2).
struct FilterGradVariant {
  int tile;
  TileMath math;
  int min_blocks = 2;
  std::string name() const {
    return std::string(cuda_detail::tile_math_name(math)) + " " + std::to_string(tile) + "×" +
           std::to_string(tile) + (min_blocks == 1 ? " 1/SM" : "");
  }
};

template <TileMath Math>
void launch_filter_grad(const FilterGradVariant& v, const ConvGeometry& g, const float* x,
                        const float* dy, float* dw) {
  if (v.tile == 64) return launch_filter_grad<64, 64, Math, 2>(g, x, dy, dw);
  if constexpr (Math == TileMath::tf32x3) {
    if (v.min_blocks == 1) return launch_filter_grad<128, 128, Math, 1>(g, x, dy, dw);
  }
  launch_filter_grad<128, 128, Math, 2>(g, x, dy, dw);
}

void launch_filter_grad(const FilterGradVariant& v, const ConvGeometry& g, const float* x,
                        const float* dy, float* dw) {
  switch (v.math) {
    case TileMath::ffma:
      return launch_filter_grad<TileMath::ffma>(v, g, x, dy, dw);
    case TileMath::tf32:
      return launch_filter_grad<TileMath::tf32>(v, g, x, dy, dw);
    case TileMath::tf32x3:
      return launch_filter_grad<TileMath::tf32x3>(v, g, x, dy, dw);
  }
}

// The variants a launch may use: 64×64 tiles when K or Q ≤ 64, else 128×128, in the conv mode's
// math; the "fastest" mode also tries 64×64 where 128×128 is the rule, and 3×TF32 128×128 with
// the registers of one block per multiprocessor.
std::vector<FilterGradVariant> filter_grad_variants(const ConvGeometry& g) {
  std::vector<int> tiles{g.m <= 64 || g.crr <= 64 ? 64 : 128};
  if (conv_math() == ConvMath::fastest && tiles[0] == 128) tiles.push_back(64);
  std::vector<FilterGradVariant> variants;
  for (TileMath math : cuda_detail::tile_maths()) {
    for (int tile : tiles) {
      variants.push_back({tile, math});
      if (conv_math() == ConvMath::fastest && math == TileMath::tf32x3 && tile == 128)
        variants.push_back({tile, math, 1});
    }
  }
  return variants;
}

}  // namespace

void CudaOps::conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw,
                                     float* db) {
  AULENS_CHECK(s.n >= 0 && s.c >= 1 && s.h >= 1 && s.w >= 1 && s.k >= 1,
               "conv2d_backward_filter: need N >= 0 and C, H, W, K >= 1");
  AULENS_CHECK(s.r >= 1 && s.r % 2 == 1, "conv2d_backward_filter: kernel size R must be odd");
  AULENS_CHECK(x != nullptr && dy != nullptr && dw != nullptr,
               "conv2d_backward_filter: null tensor");
  const long long int_max = std::numeric_limits<int>::max();
  const long long pixels = static_cast<long long>(s.n) * s.h * s.w;
  AULENS_CHECK(pixels * s.c <= int_max && pixels * s.k <= int_max &&
                   static_cast<long long>(s.k) * s.c * s.r * s.r <= int_max,
               "conv2d_backward_filter: tensor too large for 32-bit indexing");
  if (s.n == 0) {  // an empty batch: the sums are zero
    AULENS_CUDA_CHECK(
        cudaMemsetAsync(dw, 0, sizeof(float) * s.k * s.c * s.r * s.r, cuda_detail::stream()));
    if (db != nullptr)
      AULENS_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * s.k, cuda_detail::stream()));
    return;
  }
  const ConvGeometry g = cuda_detail::make_geometry(s.n, s.c, s.h, s.w, s.k, s.r);
  cuda_detail::run_fastest(
      cuda_detail::TunedOp::conv_backward_filter, {g.n, g.cin, g.h, g.w, g.m, g.r},
      filter_grad_variants(g),
      [&](const FilterGradVariant& v) { launch_filter_grad(v, g, x, dy, dw); });
  if (db != nullptr) {
    cuda_detail::launch(bias_grad_kernel, s.k, kBiasThreads, 0, s.n, s.k, g.hw, dy, db);
    AULENS_CHECK_LAUNCH("bias_grad_kernel");
  }
}

}  // namespace aulens
