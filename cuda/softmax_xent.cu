// Softmax cross-entropy on the GPU: the launchers; the kernels and their method are in
// softmax_xent_kernel.cuh.
#include <cmath>
#include <cstdint>
#include "aulens/ops.h"
#include "common.cuh"
#include "softmax_xent_kernel.cuh"

namespace aulens {

void CudaOps::softmax_cross_entropy(int n, int classes, const float* logits,
                                    const std::int32_t* labels, float* loss, float* dlogits) {
  AULENS_CHECK(n > 0 && classes > 0,
               "softmax_cross_entropy: expected N > 0 and classes > 0, got N=" + std::to_string(n) +
                   " classes=" + std::to_string(classes));
  AULENS_CHECK(logits != nullptr && labels != nullptr && loss != nullptr,
               "softmax_cross_entropy: null pointer");
  cudaStream_t stream = cuda_detail::stream();
  void* scratch = nullptr;
  AULENS_CUDA_CHECK(cudaMallocAsync(&scratch, sizeof(double) * n, stream));
  double* row_loss = static_cast<double*>(scratch);
  const int rows_per_block = kRowThreads / kWarp;
  const unsigned blocks = static_cast<unsigned>((n + rows_per_block - 1) / rows_per_block);
  cuda_detail::launch(softmax_xent_rows_kernel, blocks, kRowThreads, 0, n, classes, logits, labels,
                      row_loss, dlogits);
  const cudaError_t launch_rows = cudaGetLastError();
  if (launch_rows == cudaSuccess)
    cuda_detail::launch(mean_loss_kernel, 1, kSumThreads, 0, n, row_loss, loss);
  const cudaError_t launch_sum = cudaGetLastError();
  cudaFreeAsync(scratch, stream);  // always, even when a launch failed
  AULENS_CUDA_CHECK(launch_rows);
  AULENS_CUDA_CHECK(launch_sum);
  AULENS_CHECK_LAUNCH("softmax_xent_rows_kernel + mean_loss_kernel");
}

}  // namespace aulens
