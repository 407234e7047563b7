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
  // Per-row losses in double, summed in a fixed order by one block (softmax_xent_kernel.cuh).
  static cuda_detail::ScratchBuffer scratch;
  double* row_loss = static_cast<double*>(scratch.bytes(sizeof(double) * n));
  const int rows_per_block = kRowThreads / kWarp;
  const unsigned blocks = static_cast<unsigned>((n + rows_per_block - 1) / rows_per_block);
  cuda_detail::launch(softmax_xent_rows_kernel, blocks, kRowThreads, 0, n, classes, logits, labels,
                      row_loss, dlogits);
  AULENS_CHECK_LAUNCH("softmax_xent_rows_kernel");
  cuda_detail::launch(mean_loss_kernel, 1, kSumThreads, 0, n, row_loss, loss);
  AULENS_CHECK_LAUNCH("mean_loss_kernel");
}

}  // namespace aulens
