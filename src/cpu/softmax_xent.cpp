// CPU reference twin of cuda/softmax_xent.cu: softmax cross-entropy, mean over the batch.
//
//   per row n:  m = max_c z[n,c];  lse = m + log Σ_c exp(z[n,c] − m)      (stable log-sum-exp)
//               loss_n = lse − z[n, label_n]
//   loss = (1/N) Σ_n loss_n
//   dlogits[n,c] = (exp(z[n,c] − lse) − [c == label_n]) / N               (when requested)
// Shapes: logits, dlogits (N, classes) fp32; labels (N) int32 in [0, classes); loss (1) fp32.
// Glossary: N batch, classes = number of classes.
// Rows are evaluated in double (classes is small) and rounded to fp32 once, so the result is at
// least as accurate as PyTorch's fp32 path; the batch mean is summed in row order.
#include <cmath>
#include <limits>

#include "aulens/ops.h"

namespace aulens {

void CpuOps::softmax_cross_entropy(int n, int classes, const float* logits,
                                   const std::int32_t* labels, float* loss, float* dlogits) {
  AULENS_CHECK(n > 0 && classes > 0,
               "softmax_cross_entropy: need N > 0 and classes > 0, got N=" + std::to_string(n) +
                   ", classes=" + std::to_string(classes));
  for (int i = 0; i < n; ++i) {
    AULENS_CHECK(labels[i] >= 0 && labels[i] < classes,
                 "softmax_cross_entropy: label " + std::to_string(labels[i]) + " of row " +
                     std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
  }
  double total = 0.0;
  const double inv_n = 1.0 / n;
  for (int i = 0; i < n; ++i) {
    const float* z = logits + static_cast<std::int64_t>(i) * classes;
    double m = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < classes; ++c) m = std::fmax(m, static_cast<double>(z[c]));
    // fmax skips a NaN logit, but exp(NaN − m) still reaches the sum, so the row's loss is NaN.
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(z[c]) - m);
    const double lse = m + std::log(sum);
    total += lse - static_cast<double>(z[labels[i]]);
    if (dlogits != nullptr) {
      float* dz = dlogits + static_cast<std::int64_t>(i) * classes;
      for (int c = 0; c < classes; ++c) {
        const double p = std::exp(static_cast<double>(z[c]) - lse);
        dz[c] = static_cast<float>((p - (c == labels[i] ? 1.0 : 0.0)) * inv_n);
      }
    }
  }
  *loss = static_cast<float>(total * inv_n);
}

}  // namespace aulens
