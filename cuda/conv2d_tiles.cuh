// Shared pieces of the hand-written convolution kernels (cuda/conv2d.cu,
// cuda/conv2d_backward_filter.cu): the tile accumulators of an implicit GEMM (FFMA, TF32 and
// 3×TF32 tensor cores) and the geometry struct the kernels take.
//
// Implicit GEMM, one block computes a BM×BN tile of C = A·B with the reduction cut into slices
// of TK; each slice of A (TK×BM) and B (TK×BN) is staged in shared memory, reduction-major:
// a[q][m] (A column-major) and b[q][p] (B row-major), rows padded by kSmemPad floats.
//
// FFMA (TK = 8): 256 threads form a 16×16 grid; thread (tx, ty) owns rows
//   (i/4)·64 + ty·4 + i%4  (i < BM/16)  and columns (j/4)·64 + tx·4 + j%4  (j < BN/16),
// i.e. 8×8 outputs per thread for a 128×128 tile and 4×8 for 64×128, read as float4s.
// Tensor cores (TK = 16): 8 warps form a 2×4 grid; warp (wy, wx) owns the (BM/2)×(BN/4)
// sub-tile at rows wy·BM/2, columns wx·BN/4, as 16×16 WMMA fragments (m16n16k8, TF32 inputs,
// fp32 accumulators). TF32 mode rounds each operand to TF32 (10 mantissa bits); 3×TF32 splits
// each operand v = big + small (big = v with the low 13 mantissa bits rounded away, small =
// TF32(v − big)) and computes small·big + big·small + big·big per 8-deep step in a fresh fragment,
// added to the accumulator with fp32 adds (the tensor cores' own accumulation truncates), which
// keeps about 22 bits of every product: fp32-level accuracy on tensor cores (DESIGN §5).
//
// Device code only, and no CUDA header but <mma.h> under nvcc, so tests/emu/block_emu.h (which
// supplies the WMMA types itself) can run these tiles on the host; the host-side helpers that go
// with them are in conv2d_host.cuh.
//
// Glossary: N batch, C/K input/output channels, H W image size, R kernel size, P = N·H·W output
// pixels, M the GEMM row count (output channels of the same-convolution being computed).
#pragma once

#if defined(__CUDACC__)
#include <mma.h>
#endif

#include <cstddef>

namespace aulens::cuda_detail {

constexpr int kConvThreads = 256;  // every tiled conv kernel runs 256 threads (16×16, 8 warps)
constexpr int kSmemPad = 4;        // row padding (floats): keeps float4 and WMMA alignment

// How a tile's products are computed (the device-side twin of aulens::ConvMath).
enum class TileMath { ffma, tf32, tf32x3 };

// Reduction slice staged per shared-memory buffer.
template <TileMath Math>
constexpr int slice_depth() {
  return Math == TileMath::ffma ? 8 : 16;
}

// A "same" convolution, stride 1, zero padding R/2, as the kernels see it:
// in: (N, Cin, H, W)  filt: (M, Cin, R, R)  out: (N, M, H, W).
struct ConvGeometry {
  int n, cin, h, w, m, r, pad;
  int hw;   // H·W
  int crr;  // Cin·R·R, the reduction length of the forward GEMM
  int p;    // N·H·W, output pixels
};

inline ConvGeometry make_geometry(int n, int cin, int h, int w, int m, int r) {
  ConvGeometry g{};
  g.n = n;
  g.cin = cin;
  g.h = h;
  g.w = w;
  g.m = m;
  g.r = r;
  g.pad = r / 2;
  g.hw = h * w;
  g.crr = cin * r * r;
  g.p = n * h * w;
  return g;
}

// acc += A_slice·B_slice for one staged slice (FFMA). a: [TK][BM + kSmemPad], b: [TK][BN +
// kSmemPad].
template <int BM, int BN, int TK>
__device__ __forceinline__ void tile_product(const float* __restrict__ a,
                                             const float* __restrict__ b, int tx, int ty,
                                             float (&acc)[BM / 16][BN / 16]) {
  constexpr int kRows = BM / 16;
  constexpr int kCols = BN / 16;
  constexpr int kStrideA = BM + kSmemPad;
  constexpr int kStrideB = BN + kSmemPad;
#pragma unroll
  for (int kk = 0; kk < TK; ++kk) {
    float a_frag[kRows];
    float b_frag[kCols];
#pragma unroll
    for (int i = 0; i < kRows / 4; ++i) {
      const float4 v = *reinterpret_cast<const float4*>(a + kk * kStrideA + i * 64 + ty * 4);
      a_frag[i * 4 + 0] = v.x;
      a_frag[i * 4 + 1] = v.y;
      a_frag[i * 4 + 2] = v.z;
      a_frag[i * 4 + 3] = v.w;
    }
#pragma unroll
    for (int j = 0; j < kCols / 4; ++j) {
      const float4 v = *reinterpret_cast<const float4*>(b + kk * kStrideB + j * 64 + tx * 4);
      b_frag[j * 4 + 0] = v.x;
      b_frag[j * 4 + 1] = v.y;
      b_frag[j * 4 + 2] = v.z;
      b_frag[j * 4 + 3] = v.w;
    }
#pragma unroll
    for (int i = 0; i < kRows; ++i) {
#pragma unroll
      for (int j = 0; j < kCols; ++j) acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
    }
  }
}

// Tile-local row / column owned by fragment index i (rows) or j (columns).
__device__ __forceinline__ int fragment_row(int i, int ty) {
  return (i / 4) * 64 + ty * 4 + i % 4;
}
__device__ __forceinline__ int fragment_col(int j, int tx) {
  return (j / 4) * 64 + tx * 4 + j % 4;
}

// The accumulator of one block's BM×BN tile, for each TileMath:
//   zero();  product(a, b) adds one staged slice;  for_each(scratch, f) calls f(row, col, value)
//   for every element of the tile this thread holds, rows and columns tile-local. `scratch` is
//   shared memory of at least kConvThreads floats per warp (8·256 floats; tensor modes only),
//   free of other use when for_each is called.
template <int BM, int BN, TileMath Math>
struct TileAccumulator;

template <int BM, int BN>
struct TileAccumulator<BM, BN, TileMath::ffma> {
  float acc[BM / 16][BN / 16];

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int i = 0; i < BM / 16; ++i)
#pragma unroll
      for (int j = 0; j < BN / 16; ++j) acc[i][j] = 0.0f;
  }
  __device__ __forceinline__ void product(const float* __restrict__ a,
                                          const float* __restrict__ b) {
    tile_product<BM, BN, slice_depth<TileMath::ffma>()>(a, b, threadIdx.x % 16, threadIdx.x / 16,
                                                        acc);
  }
  template <class F>
  __device__ __forceinline__ void for_each(float* /*scratch*/, F&& f) const {
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
#pragma unroll
    for (int i = 0; i < BM / 16; ++i)
#pragma unroll
      for (int j = 0; j < BN / 16; ++j) f(fragment_row(i, ty), fragment_col(j, tx), acc[i][j]);
  }
};

// v with the low 13 mantissa bits rounded away (round half away from zero in magnitude): a TF32
// value held exactly in a float, so v − tf32_big(v) is exact. (Finite v; near FLT_MAX the result
// can overflow to inf, which tf32_split() handles.)
__device__ __forceinline__ float tf32_big(float v) {
  return __uint_as_float((__float_as_uint(v) + 0x1000u) & 0xffffe000u);
}

// The tensor-core accumulator exists only where the TF32 WMMA types do: the host pass and device
// passes for sm_80 or newer. A device pass for an older architecture gets a stub that traps; the
// launchers never reach it (tensor_tiles_supported() checks the code the device actually runs).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
// Splits a loaded TF32 fragment in place into (big, small) for 3×TF32; TF32 mode keeps only the
// rounded value in `big`. Element-wise, so it holds for any fragment layout.
template <TileMath Math, class Frag>
__device__ __forceinline__ void tf32_split(Frag& big, Frag& small) {
#pragma unroll
  for (int e = 0; e < big.num_elements; ++e) {
    const float v = big.x[e];
    if constexpr (Math == TileMath::tf32x3) {
      const float hi = tf32_big(v);
      const bool finite = isfinite(v) && isfinite(hi);  // inf and NaN pass through as big
      big.x[e] = finite ? hi : v;
      small.x[e] = finite ? nvcuda::wmma::__float_to_tf32(v - hi) : 0.0f;
    } else {
      big.x[e] = nvcuda::wmma::__float_to_tf32(v);
    }
  }
}

template <int BM, int BN, TileMath Math>
struct TileAccumulator {
  static_assert(Math == TileMath::tf32 || Math == TileMath::tf32x3, "tensor-core modes");
  static constexpr int kWarpRows = BM / 2;  // 8 warps as 2 (rows) × 4 (columns)
  static constexpr int kWarpCols = BN / 4;
  static constexpr int kFragRows = kWarpRows / 16;
  static constexpr int kFragCols = kWarpCols / 16;
  static constexpr int kStrideA = BM + kSmemPad;
  static constexpr int kStrideB = BN + kSmemPad;
  static_assert(kFragRows >= 1 && kFragCols >= 1 && BM % 32 == 0 && BN % 64 == 0, "tile shape");
  using FragA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 8,
                                       nvcuda::wmma::precision::tf32, nvcuda::wmma::col_major>;
  using FragB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 8,
                                       nvcuda::wmma::precision::tf32, nvcuda::wmma::row_major>;
  using FragC = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 8, float>;

  FragC acc[kFragRows][kFragCols];

  __device__ __forceinline__ static int warp_row0() { return (threadIdx.x / 32) / 4 * kWarpRows; }
  __device__ __forceinline__ static int warp_col0() { return (threadIdx.x / 32) % 4 * kWarpCols; }

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int i = 0; i < kFragRows; ++i)
#pragma unroll
      for (int j = 0; j < kFragCols; ++j) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
  }

  __device__ __forceinline__ void product(const float* __restrict__ a,
                                          const float* __restrict__ b) {
    const int row0 = warp_row0(), col0 = warp_col0();
#pragma unroll
    for (int kk = 0; kk < slice_depth<Math>(); kk += 8) {
      FragB b_big[kFragCols], b_small[kFragCols];
#pragma unroll
      for (int j = 0; j < kFragCols; ++j) {
        nvcuda::wmma::load_matrix_sync(b_big[j], b + kk * kStrideB + col0 + 16 * j, kStrideB);
        tf32_split<Math>(b_big[j], b_small[j]);
      }
#pragma unroll
      for (int i = 0; i < kFragRows; ++i) {
        FragA a_big, a_small;
        nvcuda::wmma::load_matrix_sync(a_big, a + kk * kStrideA + row0 + 16 * i, kStrideA);
        tf32_split<Math>(a_big, a_small);
#pragma unroll
        for (int j = 0; j < kFragCols; ++j) {
          if constexpr (Math == TileMath::tf32x3) {
            // The three products of this step go into a fresh fragment (small terms first, so
            // the big·big product is added to the small corrections), which is then added to the
            // accumulator by ordinary fp32 adds. The tensor cores round their accumulation toward
            // zero; chained straight into `acc` that bias would add up over the reduction (1.3e-4
            // of RMS at conv3's 3,200 products under the emulator's truncating model, against
            // 3e-6 this way: tests/test_conv2d_emu.cpp). Cost: 8 registers, which raised the
            // 128×128 tiles' spills to ~130–150 B (a columns-outer loop order spilled more).
            FragC part;
            nvcuda::wmma::fill_fragment(part, 0.0f);
            nvcuda::wmma::mma_sync(part, a_small, b_big[j], part);
            nvcuda::wmma::mma_sync(part, a_big, b_small[j], part);
            nvcuda::wmma::mma_sync(part, a_big, b_big[j], part);
#pragma unroll
            for (int e = 0; e < part.num_elements; ++e) acc[i][j].x[e] += part.x[e];
          } else {
            nvcuda::wmma::mma_sync(acc[i][j], a_big, b_big[j], acc[i][j]);
          }
        }
      }
    }
  }

  // Each warp stages one fragment at a time in its 256-float slice of `scratch`.
  template <class F>
  __device__ __forceinline__ void for_each(float* scratch, F&& f) const {
    const int lane = threadIdx.x % 32;
    float* staged = scratch + (threadIdx.x / 32) * 256;
    const int row0 = warp_row0(), col0 = warp_col0();
#pragma unroll
    for (int i = 0; i < kFragRows; ++i)
#pragma unroll
      for (int j = 0; j < kFragCols; ++j) {
        nvcuda::wmma::store_matrix_sync(staged, acc[i][j], 16, nvcuda::wmma::mem_row_major);
        __syncwarp();
#pragma unroll
        for (int e = lane; e < 256; e += 32)
          f(row0 + 16 * i + e / 16, col0 + 16 * j + e % 16, staged[e]);
        __syncwarp();
      }
  }
};
#else
template <int BM, int BN, TileMath Math>
struct TileAccumulator {
  __device__ void zero() {}
  __device__ void product(const float*, const float*) { __trap(); }
  template <class F>
  __device__ void for_each(float*, F&&) const {}
};
#endif

}  // namespace aulens::cuda_detail

// Short names for the kernel headers (conv2d_gemm_kernel.cuh, conv2d_filter_grad_kernel.cuh), in
// their unnamed namespace (kernel_defs.cuh says why).
namespace aulens {
namespace {
using cuda_detail::ConvGeometry;
using cuda_detail::kConvThreads;
using cuda_detail::kSmemPad;
using cuda_detail::TileMath;
}  // namespace
}  // namespace aulens
