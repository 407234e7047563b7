// The kernels of the hand-written convolution backward-filter and bias gradient (launchers and
// the method: cuda/conv2d_backward_filter.cu), and how the reduction is split. Device code and
// plain host arithmetic only, no CUDA header, so tests/emu/block_emu.h can run them on the host
// (tests/test_conv2d_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <algorithm>

#include "conv2d_tiles.cuh"

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

struct FilterGradSplit {
  int splits;  // pixel ranges, one block per (tile, range)
  int chunk;   // pixels per range, a multiple of tk; the last range may be shorter
};

// The split of the P-pixel reduction for BM×BN tiles: enough ranges for about `target_blocks`
// blocks, each range at least 256 pixels, the partial tiles within 1 GiB, no empty range.
inline FilterGradSplit filter_grad_split(const ConvGeometry& g, int bm, int bn, int tk,
                                         int target_blocks) {
  const int tiles = ((g.m + bm - 1) / bm) * ((g.crr + bn - 1) / bn);
  const long long count = static_cast<long long>(g.m) * g.crr;
  const long long kMaxPartialFloats = 1LL << 28;  // 1 GiB of scratch at most
  const int max_splits =
      static_cast<int>(std::max(1LL, std::min<long long>(g.p / 256, kMaxPartialFloats / count)));
  int splits = std::clamp((target_blocks + tiles - 1) / tiles, 1, max_splits);
  splits = std::min(splits, 65535);
  int chunk = (g.p + splits - 1) / splits;
  chunk = (chunk + tk - 1) / tk * tk;
  splits = (g.p + chunk - 1) / chunk;  // no empty split
  return {splits, chunk};
}

// partial: (splits, K, Q); split z reduces pixels [z·chunk, min((z+1)·chunk, P)), chunk a
// multiple of the slice depth TK. Here g describes the forward convolution: g.cin = C, g.m = K,
// g.crr = Q. MinBlocks: as in conv_same_gemm_kernel (conv2d_gemm_kernel.cuh).
template <int BM, int BN, TileMath Math, int MinBlocks = 2>
__global__ void __launch_bounds__(kConvThreads, MinBlocks)
    conv_filter_grad_kernel(ConvGeometry g, int chunk, const float* __restrict__ x,
                            const float* __restrict__ dy, float* __restrict__ partial) {
  constexpr int TK = cuda_detail::slice_depth<Math>();
  constexpr int kStrideA = BM + kSmemPad;
  constexpr int kStrideB = BN + kSmemPad;
  constexpr int kLoadA = BM * TK / kConvThreads;  // dy values per thread per slice
  constexpr int kLoadB = BN * TK / kConvThreads;  // im2col values per thread per slice
  constexpr int kRowStep = kConvThreads / TK;     // loader rows are t/TK + kRowStep·j
  static_assert(Math == TileMath::ffma || 2 * TK * kStrideA >= 8 * 256, "epilogue scratch");
  AULENS_STATIC_SHARED_ALIGNED(32, float, smem_a, [2][TK * kStrideA]);  // [pixel][k]
  AULENS_STATIC_SHARED_ALIGNED(32, float, smem_b, [2][TK * kStrideB]);  // [pixel][q]

  const int t = threadIdx.x;
  const int q_block = blockIdx.x * BN;
  const int k_block = blockIdx.y * BM;
  const int p_begin = blockIdx.z * chunk;
  const int p_end = min(p_begin + chunk, g.p);

  // Both loaders: pixel p_begin + slice·8 + pixel_local; rows (k or q) t/8 + 32·j.
  const int pixel_local = t % TK;
  const int row_local = t / TK;

  // The filter taps of this block's columns (shared: registers are the limit here).
  AULENS_STATIC_SHARED(int, tap_offset, [BN]);  // c·H·W, or −1 when q ≥ Q
  AULENS_STATIC_SHARED(int, tap_dy, [BN]);      // r − pad
  AULENS_STATIC_SHARED(int, tap_dx, [BN]);      // s − pad
  for (int col = t; col < BN; col += kConvThreads) {
    const int q = q_block + col;
    const int rr = g.r * g.r;
    const int c = q / rr;
    const int rs = q - c * rr;
    const int r = rs / g.r;
    tap_offset[col] = q < g.crr ? c * g.hw : -1;
    tap_dy[col] = r - g.pad;
    tap_dx[col] = rs - r * g.r - g.pad;
  }
  __syncthreads();

  // Pixel of this thread's loader column in the current slice, advanced by TK per slice.
  int p = p_begin + pixel_local;
  int n = p / g.hw;
  int yx = p - n * g.hw;
  int oy = yx / g.w;
  int ox = yx - oy * g.w;

  float reg_a[kLoadA];
  float reg_b[kLoadB];
  auto load_slice = [&]() {
    const bool valid = p < p_end;
    const long long dy_pixel = static_cast<long long>(n) * g.m * g.hw + oy * g.w + ox;
#pragma unroll
    for (int j = 0; j < kLoadA; ++j) {
      const int k = k_block + row_local + kRowStep * j;
      reg_a[j] =
          (valid && k < g.m) ? __ldg(dy + dy_pixel + static_cast<long long>(k) * g.hw) : 0.0f;
    }
    const float* x_image = x + static_cast<long long>(n) * g.cin * g.hw;
#pragma unroll
    for (int j = 0; j < kLoadB; ++j) {
      const int col = row_local + kRowStep * j;
      const int offset = tap_offset[col];
      const int iy = oy + tap_dy[col];
      const int ix = ox + tap_dx[col];
      const bool inside = valid && offset >= 0 &&
                          static_cast<unsigned>(iy) < static_cast<unsigned>(g.h) &&
                          static_cast<unsigned>(ix) < static_cast<unsigned>(g.w);
      reg_b[j] = inside ? __ldg(x_image + offset + iy * g.w + ix) : 0.0f;
    }
    p += TK;
    ox += TK;
    while (ox >= g.w) {
      ox -= g.w;
      ++oy;
    }
    while (oy >= g.h) {
      oy -= g.h;
      ++n;
    }
  };
  auto store_slice = [&](int buffer) {
#pragma unroll
    for (int j = 0; j < kLoadA; ++j)
      smem_a[buffer][pixel_local * kStrideA + row_local + kRowStep * j] = reg_a[j];
#pragma unroll
    for (int j = 0; j < kLoadB; ++j)
      smem_b[buffer][pixel_local * kStrideB + row_local + kRowStep * j] = reg_b[j];
  };

  cuda_detail::TileAccumulator<BM, BN, Math> acc;
  acc.zero();

  const int slices = (p_end - p_begin + TK - 1) / TK;  // ≥ 1 (the grid has no empty split)
  load_slice();
  store_slice(0);
  __syncthreads();
  for (int slice = 0; slice < slices; ++slice) {
    const int buffer = slice & 1;
    const bool more = slice + 1 < slices;
    if (more) load_slice();
    acc.product(smem_a[buffer], smem_b[buffer]);
    if (more) store_slice(buffer ^ 1);
    __syncthreads();
  }

  // (The loop's last barrier freed smem_a as epilogue scratch.)
  float* partial_tile = partial + static_cast<long long>(blockIdx.z) * g.m * g.crr;
  acc.for_each(&smem_a[0][0], [&](int row, int col, float value) {
    const int k = k_block + row;
    const int q = q_block + col;
    if (k < g.m && q < g.crr) partial_tile[static_cast<long long>(k) * g.crr + q] = value;
  });
}

// dw[i] = Σ_z partial[z][i] in order z = 0, 1, …;  partial: (splits, count)  dw: (count)
__global__ void sum_partials_kernel(int count, int splits, const float* __restrict__ partial,
                                    float* __restrict__ dw) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float sum = 0.0f;
  for (int z = 0; z < splits; ++z) sum += partial[static_cast<long long>(z) * count + i];
  dw[i] = sum;
}

constexpr int kBiasThreads = 256;

// db[k] = Σ_{n, yx} dy[n][k][yx];  one block per k.  dy: (N, K, H·W)  db: (K)
__global__ void __launch_bounds__(kBiasThreads)
    bias_grad_kernel(int n_count, int k_count, int hw, const float* __restrict__ dy,
                     float* __restrict__ db) {
  AULENS_STATIC_SHARED(float, partial_sums, [kBiasThreads]);
  const int k = blockIdx.x;
  float sum = 0.0f;
  for (int n = 0; n < n_count; ++n) {
    const float* plane = dy + (static_cast<long long>(n) * k_count + k) * hw;
    for (int yx = threadIdx.x; yx < hw; yx += kBiasThreads) sum += __ldg(plane + yx);
  }
  partial_sums[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kBiasThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial_sums[threadIdx.x] += partial_sums[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[k] = partial_sums[0];
}

}  // namespace
}  // namespace aulens
