// The AU sweep (DESIGN §1.6): for every AU with enough images, the paper's distance D_a(j) between
// the top-n activations of each conv3 map over the images carrying the AU (R) and over the others
// (Q), the ROC-AUC of every map as a detector of the AU, the best map with its margin over the
// second, and a permutation-test p-value for the best distance. Generic over the op backend
// (CpuOps, CudaOps): inputs are host tensors, uploaded once; only the results come back.
//
// Skip rule: an AU is analysed only when at least max(min_images, top_n) images carry it and at
// least as many do not (with fewer, R or Q would be padded); the others are listed in
// SweepResult::skipped with their counts, never dropped silently.
// p-value per analysed AU: (1 + #{permutations whose best distance ≥ the observed best}) / (1 + P),
// with the permutations of aulens/sweep_shuffle.h (AU rows shuffled across images, seeded).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aulens/config.h"
#include "aulens/tensor.h"

namespace aulens {

struct SweepAu {
  std::int32_t au = 0;        // AU number (e.g. 12)
  int with = 0, without = 0;  // images carrying it / not carrying it
  int best_map = -1, second_map = -1;
  float best_distance = 0.0f, second_distance = 0.0f;
  float margin = 0.0f;    // best − second (0 when there is one map)
  float best_auc = 0.0f;  // AUC of the best map
  // Σ R > Σ Q for the best map. The paper's distance is symmetric, so it also finds maps that
  // go quiet when the AU is present (AUC < 0.5); this says which kind won.
  bool higher_with_au = true;
  // Beside the paper's choice: the map whose AUC is farthest from 0.5 (either way; ties: the
  // smaller map), and its AUC. The distance is not normalised across maps, so a map with large
  // activations, or one that is zero on most images (ε floor), can win it with an AUC near 0.5;
  // this column names the best separating detector by rank instead.
  int auc_map = -1;
  float auc_map_auc = 0.0f;
  // Of the best map's top-n images (n = sweep.top_n) over all analysed images, in the order of
  // `aulens visualize`'s top-n (value descending, ties by the earlier row; the images its
  // projections show when visualize.top_n is the same n), how many carry the AU. A winner whose
  // strongest images lack the AU (0 here, often with direction "lower") does not fire on it.
  int top_with_au = 0;
  int exceed = 0;        // permutations whose best distance ≥ best_distance
  double p_value = 1.0;  // (1 + exceed) / (1 + permutations); NaN (not tested) if permutations = 0
};

struct SweepSkip {
  std::int32_t au = 0;
  int with = 0, without = 0;
  std::string reason;  // "fewer than 10 images carry it"
};

struct SweepResult {
  int images = 0, maps = 0, top_n = 0, permutations = 0;
  float epsilon = 0.0f;
  std::uint64_t seed = 0;
  std::vector<std::int32_t> au_ids;  // (A) the analysed AUs: rows of the matrices below
  std::vector<SweepAu> best;         // (A) one per analysed AU
  std::vector<SweepSkip> skipped;
  // Host tensors.
  Tensor distance;  // (A,K) f32 D_a(j)
  Tensor auc;       // (A,K) f32
  Tensor top_pos;   // (A,K,n) f32 R, descending
  Tensor top_neg;   // (A,K,n) f32 Q, descending
  Tensor null_max;  // (P,A) f32 best distance over maps under each permutation
  Tensor p_values;  // (A) f64
};

// values: (M,K) f32 per image the max post-ReLU value of each conv3 map (host);
// aus: (M,A_all) f32 AU intensities, present iff > 0 (host); au_ids: (A_all) AU numbers.
// Throws aulens::Error naming both sizes when M, or A_all and au_ids, disagree, and naming the
// element when a value is not finite.
template <class Ops>
SweepResult run_sweep(const Tensor& values, const Tensor& aus,
                      const std::vector<std::int32_t>& au_ids, const SweepConfig& cfg);

// run_sweep<CpuOps> or run_sweep<CudaOps> by device (cuda throws when aulens has no CUDA).
SweepResult run_sweep_on(Device device, const Tensor& values, const Tensor& aus,
                         const std::vector<std::int32_t>& au_ids, const SweepConfig& cfg);

// FACS name of an AU number ("Lip Corner Puller" for 12), or "AU<n>" when unknown.
std::string facs_au_name(std::int32_t au);

}  // namespace aulens
