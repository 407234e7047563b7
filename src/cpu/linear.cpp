// CPU reference twin of cuda/linear.cu: fully connected layer y = x·wᵀ + b and its backward.
//
//   forward          y (N,O)  = x (N,I) · wᵀ (I,O) + b          (b broadcast over rows)
//   backward_data    dx (N,I) = dy (N,O) · w (O,I)
//   backward_weight  dw (O,I) = dyᵀ (O,N) · x (N,I),  db (O) = Σ_n dy[n,·]
// Shapes: x, dx (N,I); w, dw (O,I) PyTorch's out×in layout; b, db (O); y, dy (N,O); fp32.
// Glossary: N batch, I input features, O output features.
//
// Method: cblas_sgemm on fixed blocks of the output (a block is a slice of output features, or of
// input features for backward_data), one single-threaded gemm per block, blocks spread over
// OpenMP threads. The blocks depend only on the shape, never on the thread count, so the result
// is bit-identical for any number of threads (letting OpenBLAS thread the whole gemm was measured
// NOT to be: its partition, and so the bits, change with its thread count). Accumulation is fp32
// in the gemm, like PyTorch's CPU path; the bias sums are accumulated in double, in row order.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "aulens/ops.h"
#include "cpu/single_threaded_blas.h"

namespace aulens {

namespace {

// Width of one block of output columns (forward, backward_weight) or of dx columns
// (backward_data). Part of the numerical definition: changing it may change the last bits.
constexpr int kBlock = 128;

int block_count(int extent) {
  return (extent + kBlock - 1) / kBlock;
}

void check_shape(const LinearShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.in > 0 && s.out > 0,
               std::string(op) + ": bad LinearShape (N,I,O) = (" + std::to_string(s.n) + ", " +
                   std::to_string(s.in) + ", " + std::to_string(s.out) + ")");
}

}  // namespace

void CpuOps::linear_forward(const LinearShape& s, const float* x, const float* w, const float* b,
                            float* y) {
  check_shape(s, "linear_forward");
  if (s.n == 0) return;
  SingleThreadedBlas blas_guard;
  const int blocks = block_count(s.out);
#pragma omp parallel for schedule(dynamic, 1)
  for (int block = 0; block < blocks; ++block) {
    const int o0 = block * kBlock, width = std::min(kBlock, s.out - o0);
    // y[:, o0:o0+width] (N,width) = x (N,I) · w[o0:o0+width, :]ᵀ
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.n, width, s.in, 1.0f, x, s.in,
                w + static_cast<std::int64_t>(o0) * s.in, s.in, 0.0f, y + o0, s.out);
    if (b != nullptr) {
      for (int n = 0; n < s.n; ++n) {
        float* row = y + static_cast<std::int64_t>(n) * s.out + o0;
        for (int o = 0; o < width; ++o) row[o] += b[o0 + o];
      }
    }
  }
}

void CpuOps::linear_backward_data(const LinearShape& s, const float* dy, const float* w,
                                  float* dx) {
  check_shape(s, "linear_backward_data");
  if (s.n == 0) return;
  SingleThreadedBlas blas_guard;
  const int blocks = block_count(s.in);
#pragma omp parallel for schedule(dynamic, 1)
  for (int block = 0; block < blocks; ++block) {
    const int i0 = block * kBlock, width = std::min(kBlock, s.in - i0);
    // dx[:, i0:i0+width] (N,width) = dy (N,O) · w[:, i0:i0+width] (O,width)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.n, width, s.out, 1.0f, dy, s.out,
                w + i0, s.in, 0.0f, dx + i0, s.in);
  }
}

void CpuOps::linear_backward_weight(const LinearShape& s, const float* x, const float* dy,
                                    float* dw, float* db) {
  check_shape(s, "linear_backward_weight");
  SingleThreadedBlas blas_guard;
  const int blocks = block_count(s.out);
#pragma omp parallel for schedule(dynamic, 1)
  for (int block = 0; block < blocks; ++block) {
    const int o0 = block * kBlock, rows = std::min(kBlock, s.out - o0);
    float* dw_block = dw + static_cast<std::int64_t>(o0) * s.in;
    if (s.n == 0) {
      std::fill(dw_block, dw_block + static_cast<std::int64_t>(rows) * s.in, 0.0f);
      continue;
    }
    // dw[o0:o0+rows, :] (rows,I) = dy[:, o0:o0+rows]ᵀ (rows,N) · x (N,I)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, s.in, s.n, 1.0f, dy + o0, s.out, x,
                s.in, 0.0f, dw_block, s.in);
  }
  if (db != nullptr) {
    std::vector<double> sums(s.out, 0.0);
    for (int n = 0; n < s.n; ++n) {
      const float* row = dy + static_cast<std::int64_t>(n) * s.out;
      for (int o = 0; o < s.out; ++o) sums[o] += row[o];
    }
    for (int o = 0; o < s.out; ++o) db[o] = static_cast<float>(sums[o]);
  }
}

}  // namespace aulens
