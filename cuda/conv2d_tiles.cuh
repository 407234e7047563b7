// Shared pieces of the hand-written convolution kernels (cuda/conv2d.cu,
// cuda/conv2d_backward_filter.cu): the register-blocked tile product of an implicit GEMM, the
// geometry struct the kernels take, and a grow-only device scratch buffer.
//
// Implicit GEMM, one block computes a BM×BN tile of C = A·B with the reduction cut into slices
// of kTileK; each slice of A (kTileK×BM) and B (kTileK×BN) is staged in shared memory,
// reduction-major, so a thread reads its fragments as float4s. 256 threads form a 16×16 grid;
// thread (tx, ty) owns rows  (i/4)·64 + ty·4 + i%4  (i < BM/16)  and
//                    columns (j/4)·64 + tx·4 + j%4  (j < BN/16),
// i.e. 8×8 outputs per thread for a 128×128 tile and 4×8 for 64×128.
//
// Glossary: N batch, C/K input/output channels, H W image size, R kernel size, P = N·H·W output
// pixels, M the GEMM row count (output channels of the same-convolution being computed).
#pragma once

#include <cstddef>

#include "aulens/device.h"
#include "common.cuh"

namespace aulens::cuda_detail {

constexpr int kConvThreads = 256;  // every tiled conv kernel runs 256 threads (16×16)
constexpr int kTileK = 8;          // reduction slice staged per shared-memory buffer
constexpr int kSmemPad = 4;        // row padding (floats): keeps float4 alignment, spreads banks

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

// acc += A_slice·B_slice for one staged slice. a: [kTileK][BM + kSmemPad], b: [kTileK][BN +
// kSmemPad].
template <int BM, int BN>
__device__ __forceinline__ void tile_product(const float* __restrict__ a,
                                             const float* __restrict__ b, int tx, int ty,
                                             float (&acc)[BM / 16][BN / 16]) {
  constexpr int kRows = BM / 16;
  constexpr int kCols = BN / 16;
  constexpr int kStrideA = BM + kSmemPad;
  constexpr int kStrideB = BN + kSmemPad;
#pragma unroll
  for (int kk = 0; kk < kTileK; ++kk) {
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

// A device buffer that only grows; reused across calls on the aulens stream (stream order keeps
// reuse safe; cudaFree synchronizes before a buffer is replaced).
class ScratchBuffer {
 public:
  float* floats(std::size_t count) {
    const std::size_t bytes = count * sizeof(float);
    if (bytes > bytes_) {
      device::free(ptr_);
      ptr_ = nullptr;
      bytes_ = 0;
      ptr_ = device::malloc(bytes);
      bytes_ = bytes;
    }
    return static_cast<float*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Multiprocessor count of device 0 (read once).
inline int multiprocessor_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    AULENS_CUDA_CHECK(cudaGetDevice(&device));
    AULENS_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

}  // namespace aulens::cuda_detail
