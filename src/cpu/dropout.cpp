// CPU reference twin of cuda/dropout.cu: inverted dropout with a counter-based mask.
//
//   keep[i] = aulens::uniform01(seed, offset + i) >= p            (aulens/rng.h; same on the GPU)
//   forward   y[i]  = keep[i] ? x[i] · scale : 0,   mask[i] = keep[i]
//   backward  dx[i] = mask[i] ? dy[i] · scale : 0
//   scale = 1/(1 − p) computed in double and rounded to fp32 once (as PyTorch's native dropout
//   does), 0 when p = 1
// Shapes: x, y, dy, dx (count) fp32; mask (count) uint8, 1 = kept.
// Glossary: count = number of elements; p = drop probability in [0, 1].
#include "aulens/ops.h"
#include "aulens/rng.h"

namespace aulens {

namespace {

float keep_scale(float p, const char* op) {
  AULENS_CHECK(p >= 0.0f && p <= 1.0f,
               std::string(op) + ": drop probability must be in [0, 1], got " + std::to_string(p));
  return p < 1.0f ? static_cast<float>(1.0 / (1.0 - static_cast<double>(p))) : 0.0f;
}

}  // namespace

void CpuOps::dropout_forward(std::int64_t count, float p, std::uint64_t seed, std::uint64_t offset,
                             const float* x, float* y, std::uint8_t* mask) {
  AULENS_CHECK(count >= 0, "dropout_forward: negative count " + std::to_string(count));
  const float scale = keep_scale(p, "dropout_forward");
#pragma omp parallel for schedule(static) if (count > (1 << 16))
  for (std::int64_t i = 0; i < count; ++i) {
    const bool keep = uniform01(seed, offset + static_cast<std::uint64_t>(i)) >= p;
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

void CpuOps::dropout_backward(std::int64_t count, float p, const std::uint8_t* mask,
                              const float* dy, float* dx) {
  AULENS_CHECK(count >= 0, "dropout_backward: negative count " + std::to_string(count));
  const float scale = keep_scale(p, "dropout_backward");
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
  for (std::int64_t i = 0; i < count; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

}  // namespace aulens
