// cuBLAS, as far as cuda/linear.cu uses it (one handle, column-major SGEMM), on the host for the
// emulated CUDA build (cuda_runtime.h here says what that is). cublasSgemm checks its arguments
// as cuBLAS does (CUBLAS_STATUS_INVALID_VALUE), fails on operands outside device memory
// (CUBLAS_STATUS_EXECUTION_FAILED, cudaErrorIllegalAddress) and multiplies with OpenBLAS; in
// CUBLAS_TF32_TENSOR_OP_MATH both operands are first rounded to TF32 (10 mantissa bits, to
// nearest, ties to even: an approximation; cuBLAS does not document its conversion rule).
#pragma once

#include <cblas.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda_runtime.h"

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };
enum cublasMath_t { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 };

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};
using cublasHandle_t = cublasContext*;

inline cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext{};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t math) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->math = math;
  return CUBLAS_STATUS_SUCCESS;
}

namespace emu::runtime {
// `rows` × `cols` column-major with leading dimension ld, copied with every value rounded to TF32.
inline std::vector<float> tf32_copy(const float* a, int rows, int cols, int ld) {
  std::vector<float> out(static_cast<std::size_t>(ld) * cols);
  for (int j = 0; j < cols; ++j) {
    for (int i = 0; i < rows; ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, a + static_cast<std::size_t>(j) * ld + i, 4);
      if ((bits & 0x7F800000u) != 0x7F800000u)
        bits = (bits + 0xFFFu + ((bits >> 13) & 1u)) & ~0x1FFFu;
      std::memcpy(&out[static_cast<std::size_t>(j) * ld + i], &bits, 4);
    }
  }
  return out;
}
}  // namespace emu::runtime

// C (m×n) = α·op(A)·op(B) + β·C, column-major, op(A) m×k, op(B) k×n.
inline cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                                  cublasOperation_t transb, int m, int n, int k, const float* alpha,
                                  const float* a, int lda, const float* b, int ldb,
                                  const float* beta, float* c, int ldc) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int a_rows = transa == CUBLAS_OP_N ? m : k, a_cols = transa == CUBLAS_OP_N ? k : m;
  const int b_rows = transb == CUBLAS_OP_N ? k : n, b_cols = transb == CUBLAS_OP_N ? n : k;
  if (m < 0 || n < 0 || k < 0 || lda < (a_rows > 1 ? a_rows : 1) ||
      ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const auto span = [](int rows, int cols, int ld) {  // bytes of a column-major operand
    return rows == 0 || cols == 0 ? std::size_t{0}
                                  : sizeof(float) * (static_cast<std::size_t>(ld) * (cols - 1) + rows);
  };
  if (!emu::runtime::on_device(a, span(a_rows, a_cols, lda)) ||
      !emu::runtime::on_device(b, span(b_rows, b_cols, ldb)) ||
      !emu::runtime::on_device(c, span(m, n, ldc))) {
    emu::runtime::record(cudaErrorIllegalAddress);  // what the GEMM kernel would meet
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  std::vector<float> a_tf32, b_tf32;
  if (handle->math == CUBLAS_TF32_TENSOR_OP_MATH) {
    a_tf32 = emu::runtime::tf32_copy(a, a_rows, a_cols, lda);
    b_tf32 = emu::runtime::tf32_copy(b, b_rows, b_cols, ldb);
    a = a_tf32.data();
    b = b_tf32.data();
  }
  cblas_sgemm(CblasColMajor, transa == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
              transb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *alpha, a, lda, b, ldb,
              *beta, c, ldc);
  return CUBLAS_STATUS_SUCCESS;
}
