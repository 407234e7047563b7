// Fully connected layer on the GPU: the launchers; the kernels and their method are in
// linear_kernel.cuh.
#include <cstdint>
#include "aulens/cuda_math.h"
#include "aulens/ops.h"
#include "common.cuh"
#include "linear_kernel.cuh"

namespace aulens {
namespace {

void check_shape(const LinearShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.in > 0 && s.out > 0,
               std::string(op) + ": expected N >= 0, I > 0, O > 0, got (N,I,O) = (" +
                   std::to_string(s.n) + "," + std::to_string(s.in) + "," + std::to_string(s.out) +
                   ")");
}

cublasHandle_t handle_with_math_mode() {
  cublasHandle_t handle = cuda_detail::cublas_handle();
  AULENS_CUBLAS_CHECK(
      cublasSetMathMode(handle, cublas_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  // The handle is shared: make sure it queues on the aulens stream.
  AULENS_CUBLAS_CHECK(cublasSetStream(handle, cuda_detail::stream()));
  return handle;
}

}  // namespace

void CudaOps::linear_forward(const LinearShape& s, const float* x, const float* w, const float* b,
                             float* y) {
  check_shape(s, "linear_forward");
  if (s.n == 0) return;
  AULENS_CHECK(x != nullptr && w != nullptr && y != nullptr, "linear_forward: null pointer");
  const float one = 1.0f, zero = 0.0f;
  AULENS_CUBLAS_CHECK(cublasSgemm(handle_with_math_mode(), CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.n,
                                  s.in, &one, w, s.in, x, s.in, &zero, y, s.out));
  if (b != nullptr) {
    const std::int64_t total = static_cast<std::int64_t>(s.n) * s.out;
    cuda_detail::launch(add_bias_kernel, cuda_detail::blocks_for(total, 256), 256, 0, s.n, s.out, b,
                        y);
    AULENS_CHECK_LAUNCH("add_bias_kernel");
  }
}

void CudaOps::linear_backward_data(const LinearShape& s, const float* dy, const float* w,
                                   float* dx) {
  check_shape(s, "linear_backward_data");
  if (s.n == 0) return;
  AULENS_CHECK(dy != nullptr && w != nullptr && dx != nullptr,
               "linear_backward_data: null pointer");
  const float one = 1.0f, zero = 0.0f;
  AULENS_CUBLAS_CHECK(cublasSgemm(handle_with_math_mode(), CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.n,
                                  s.out, &one, w, s.in, dy, s.out, &zero, dx, s.in));
}

void CudaOps::linear_backward_weight(const LinearShape& s, const float* x, const float* dy,
                                     float* dw, float* db) {
  check_shape(s, "linear_backward_weight");
  AULENS_CHECK(dw != nullptr, "linear_backward_weight: null dw");
  if (s.n == 0) {  // an empty batch contributes nothing
    AULENS_CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(float) * s.in * static_cast<std::size_t>(s.out),
                                      cuda_detail::stream()));
    if (db != nullptr) {
      AULENS_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * s.out, cuda_detail::stream()));
    }
    return;
  }
  AULENS_CHECK(x != nullptr && dy != nullptr, "linear_backward_weight: null pointer");
  const float one = 1.0f, zero = 0.0f;
  AULENS_CUBLAS_CHECK(cublasSgemm(handle_with_math_mode(), CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out,
                                  s.n, &one, x, s.in, dy, s.out, &zero, dw, s.in));
  if (db != nullptr) {
    const dim3 block(kBiasCols, kBiasRows);
    const unsigned blocks = cuda_detail::blocks_for(s.out, kBiasCols);
    cuda_detail::launch(bias_grad_kernel, blocks, block, 0, s.n, s.out, dy, db);
    AULENS_CHECK_LAUNCH("bias_grad_kernel");
  }
}

}  // namespace aulens
