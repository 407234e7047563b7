// Fully connected layer on the GPU (twin of src/cpu/linear.cpp): three cuBLAS sgemm calls plus
// a bias-add and a bias-gradient kernel.
//   x: (N,I)  w: (O,I)  b: (O)  y: (N,O)   all row-major fp32, as PyTorch lays them out.
//
// Row-major ↔ column-major: cuBLAS is column-major, and a row-major (r, c) matrix is the
// column-major (c, r) matrix — its transpose — with leading dimension c. So, writing Mᶜ for
// "the column-major view" (= Mᵀ):
//   forward      y = x·wᵀ      ⇔ yᶜ (O×N)  = wᶜᵀ (O×I) · xᶜ (I×N)     gemm(T, N, O, N, I)
//   backward-dx  dx = dy·w     ⇔ dxᶜ (I×N) = wᶜ (I×O)  · dyᶜ (O×N)    gemm(N, N, I, N, O)
//   backward-dw  dw = dyᵀ·x    ⇔ dwᶜ (I×O) = xᶜ (I×N)  · dyᶜᵀ (N×O)   gemm(N, T, I, O, N)
// Math mode: plain fp32 (CUBLAS_DEFAULT_MATH, which does not use TF32 for sgemm) unless
// aulens::set_cublas_tf32(true) asked for TF32 tensor cores (aulens/cuda_math.h).
// Device code only, no CUDA header, so tests/emu/block_emu.h can run it on the host
// (tests/test_linear_bias_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstdint>

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

// y: (N,O) += b: (O) broadcast over rows.
static __global__ void add_bias_kernel(std::int64_t rows, int cols, const float* b, float* y) {
  const std::int64_t index = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (index >= rows * cols) return;
  y[index] += b[index % cols];
}

// db: (O) = Σ_n dy[n, o]. Block (32, 8): threadIdx.x picks the column (coalesced rows),
// threadIdx.y strides over rows; the 8 partial sums are added in a fixed order (deterministic).
constexpr int kBiasCols = 32;
constexpr int kBiasRows = 8;
static __global__ void bias_grad_kernel(int rows, int cols, const float* dy, float* db) {
  AULENS_STATIC_SHARED(double, partial, [kBiasRows][kBiasCols]);
  const int col = blockIdx.x * kBiasCols + threadIdx.x;
  double sum = 0.0;
  if (col < cols) {
    for (int row = threadIdx.y; row < rows; row += kBiasRows) {
      sum += dy[static_cast<std::int64_t>(row) * cols + col];
    }
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    double total = 0.0;
#pragma unroll
    for (int r = 0; r < kBiasRows; ++r) total += partial[r][threadIdx.x];
    db[col] = static_cast<float>(total);
  }
}

}  // namespace
}  // namespace aulens
