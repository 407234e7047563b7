// CPU reference twin of cuda/sgd.cu: one SGD step with momentum and weight decay, PyTorch
// semantics (torch.optim.SGD, dampening 0, no Nesterov), applied in place:
//   d = g[i] + weight_decay · w[i];   v[i] = momentum · v[i] + d;   w[i] = w[i] − lr · v[i]
// With v starting at zero the first step gives v = d, which is PyTorch's first-step rule.
// Shapes: w, g, v (count) fp32, any layout. Glossary: count = number of parameters.
#include "aulens/ops.h"

namespace aulens {

void CpuOps::sgd_update(std::int64_t count, const SgdConfig& cfg, float* w, const float* g,
                        float* v) {
  AULENS_CHECK(count >= 0, "sgd_update: negative count " + std::to_string(count));
  const float lr = cfg.lr, momentum = cfg.momentum, weight_decay = cfg.weight_decay;
#pragma omp parallel for simd schedule(static) if (count > (1 << 16))
  for (std::int64_t i = 0; i < count; ++i) {
    const float d = g[i] + weight_decay * w[i];
    const float velocity = momentum * v[i] + d;
    v[i] = velocity;
    w[i] = w[i] - lr * velocity;
  }
}

}  // namespace aulens
