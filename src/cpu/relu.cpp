// CPU reference twin of cuda/relu.cu: elementwise rectified linear unit and its backward.
//
//   forward   y[i]  = max(x[i], 0)                     (NaN stays NaN, like torch.relu)
//   backward  dx[i] = y[i] <= 0 ? 0 : dy[i]            (PyTorch's threshold_backward; the same as
//                                                       "y > 0 ? dy : 0" for every non-NaN y)
// Shapes: x, y, dy, dx: (count) fp32, any layout. In place is allowed (x == y, dy == dx).
// Glossary: count = number of elements.
#include "aulens/ops.h"

namespace aulens {

void CpuOps::relu_forward(std::int64_t count, const float* x, float* y) {
  AULENS_CHECK(count >= 0, "relu_forward: negative count " + std::to_string(count));
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
  for (std::int64_t i = 0; i < count; ++i) {
    const float v = x[i];
    y[i] = (v > 0.0f || v != v) ? v : 0.0f;
  }
}

void CpuOps::relu_backward(std::int64_t count, const float* y, const float* dy, float* dx) {
  AULENS_CHECK(count >= 0, "relu_backward: negative count " + std::to_string(count));
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
  for (std::int64_t i = 0; i < count; ++i) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

}  // namespace aulens
