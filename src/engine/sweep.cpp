// The AU sweep engine (aulens/sweep.h): picks the AUs with enough images, uploads the records and
// the AU mask once, runs the au_sweep ops of aulens/ops_decl.inc on the chosen backend and reduces
// the (A,K) results to the best map per AU on the host.
#include "aulens/sweep.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "aulens/ops.h"

namespace aulens {

namespace {

constexpr int kMaxAus = 64;  // the ops pack one image's AUs into 64 bits
constexpr int kMaxTopN = 32;

void check_inputs(const Tensor& values, const Tensor& aus, const std::vector<std::int32_t>& au_ids,
                  const SweepConfig& cfg) {
  AULENS_CHECK(values.device() == Device::cpu && values.dtype() == DType::f32 && values.rank() == 2,
               "sweep: records must be a host (M,K) f32 tensor, got " +
                   shape_string(values.shape()) + " " + dtype_name(values.dtype()));
  AULENS_CHECK(aus.device() == Device::cpu && aus.dtype() == DType::f32 && aus.rank() == 2,
               "sweep: AU labels must be a host (M,A) f32 tensor, got " +
                   shape_string(aus.shape()) + " " + dtype_name(aus.dtype()));
  AULENS_CHECK(values.dim(0) == aus.dim(0),
               "sweep: the records hold " + std::to_string(values.dim(0)) +
                   " images but the AU labels " + std::to_string(aus.dim(0)) +
                   ": records and dataset do not match");
  AULENS_CHECK(values.dim(0) > 0 && values.dim(1) > 0,
               "sweep: no records (shape " + shape_string(values.shape()) + ")");
  AULENS_CHECK(static_cast<std::int64_t>(au_ids.size()) == aus.dim(1),
               "sweep: " + std::to_string(au_ids.size()) + " AU ids for " +
                   std::to_string(aus.dim(1)) + " AU columns");
  AULENS_REQUIRE(cfg.top_n >= 1 && cfg.top_n <= kMaxTopN,
                 "sweep.top_n must be in [1, 32], got " + std::to_string(cfg.top_n));
  AULENS_REQUIRE(cfg.epsilon > 0.0f && std::isfinite(cfg.epsilon),
                 "sweep.epsilon must be > 0, got " + std::to_string(cfg.epsilon));
  AULENS_REQUIRE(cfg.permutations >= 0,
                 "sweep.permutations must be >= 0, got " + std::to_string(cfg.permutations));
  const float* v = values.data<float>();
  for (std::int64_t e = 0; e < values.numel(); ++e) {
    AULENS_REQUIRE(std::isfinite(v[e]), "sweep: record value " + std::to_string(v[e]) +
                                            " at image " + std::to_string(e / values.dim(1)) +
                                            ", map " + std::to_string(e % values.dim(1)) +
                                            " is not finite");
  }
}

// Fills best/second/margin of each analysed AU and the p-values.
void summarise(SweepResult& r) {
  const int a = static_cast<int>(r.au_ids.size()), k = r.maps;
  const float* d = r.distance.data<float>();
  const float* auc = r.auc.data<float>();
  const float* null_max = r.null_max.data<float>();
  double* p_values = r.p_values.data<double>();
  for (int j = 0; j < a; ++j) {
    SweepAu& s = r.best[j];
    const float* row = d + static_cast<std::int64_t>(j) * k;
    for (int map = 0; map < k; ++map) {
      if (s.best_map < 0 || row[map] > row[s.best_map]) {
        s.second_map = s.best_map;
        s.best_map = map;
      } else if (s.second_map < 0 || row[map] > row[s.second_map]) {
        s.second_map = map;
      }
    }
    s.best_distance = row[s.best_map];
    s.second_distance = s.second_map >= 0 ? row[s.second_map] : 0.0f;
    s.margin = s.second_map >= 0 ? s.best_distance - s.second_distance : 0.0f;
    s.best_auc = auc[static_cast<std::int64_t>(j) * k + s.best_map];
    const float* auc_row = auc + static_cast<std::int64_t>(j) * k;
    for (int map = 0; map < k; ++map) {
      if (!std::isfinite(auc_row[map])) continue;
      if (s.auc_map < 0 || std::fabs(auc_row[map] - 0.5f) > std::fabs(auc_row[s.auc_map] - 0.5f)) {
        s.auc_map = map;
      }
    }
    s.auc_map_auc = s.auc_map >= 0 ? auc_row[s.auc_map] : std::nanf("");
    const std::int64_t cell = (static_cast<std::int64_t>(j) * k + s.best_map) * r.top_n;
    double sum_r = 0.0, sum_q = 0.0;
    for (int t = 0; t < r.top_n; ++t) {
      sum_r += r.top_pos.data<float>()[cell + t];
      sum_q += r.top_neg.data<float>()[cell + t];
    }
    s.higher_with_au = sum_r > sum_q;
    for (int p = 0; p < r.permutations; ++p) {
      s.exceed += null_max[static_cast<std::int64_t>(p) * a + j] >= s.best_distance;
    }
    s.p_value = r.permutations == 0 ? std::nan("") : (1.0 + s.exceed) / (1.0 + r.permutations);
    p_values[j] = s.p_value;
  }
}

// Per analysed AU, how many of its best map's top-n rows carry it (SweepAu::top_with_au). The
// top-n is CpuOps::topn_select's, the op behind visualize's top-n, so the order (ties by the
// earlier row) is the same. values: (M,K) host; mask: (M,A) u8, column j = r.best[j].
void count_top_carriers(SweepResult& r, const Tensor& values, const Tensor& mask) {
  const int m = static_cast<int>(values.dim(0)), k = static_cast<int>(values.dim(1));
  const int a = static_cast<int>(mask.dim(1)), n = r.top_n;
  std::vector<std::int32_t> top_rows(static_cast<std::size_t>(k) * n);
  std::vector<float> top_values(top_rows.size());
  CpuOps::topn_select(m, k, n, values.data<float>(), top_rows.data(), top_values.data());
  const std::uint8_t* carries = mask.data<std::uint8_t>();
  for (int j = 0; j < a; ++j) {
    const std::int32_t* rows = top_rows.data() + static_cast<std::size_t>(r.best[j].best_map) * n;
    r.best[j].top_with_au = 0;
    for (int t = 0; t < n; ++t)
      r.best[j].top_with_au += carries[static_cast<std::int64_t>(rows[t]) * a + j];
  }
}

}  // namespace

template <class Ops>
SweepResult run_sweep(const Tensor& values, const Tensor& aus,
                      const std::vector<std::int32_t>& au_ids, const SweepConfig& cfg) {
  check_inputs(values, aus, au_ids, cfg);
  const int m = static_cast<int>(values.dim(0)), k = static_cast<int>(values.dim(1));
  const int a_all = static_cast<int>(aus.dim(1));
  const int n = cfg.top_n;
  const int need = std::max(cfg.min_images, n);

  SweepResult r;
  r.images = m;
  r.maps = k;
  r.top_n = n;
  r.permutations = cfg.permutations;
  r.epsilon = cfg.epsilon;
  r.seed = cfg.seed;

  // Which AUs are analysed.
  const float* au = aus.data<float>();
  std::vector<int> columns;
  for (int j = 0; j < a_all; ++j) {
    int with = 0;
    for (int i = 0; i < m; ++i) with += au[static_cast<std::int64_t>(i) * a_all + j] > 0.0f;
    const int without = m - with;
    if (with < need || without < need) {
      const std::string side = with < need ? "carry it" : "lack it";
      r.skipped.push_back({au_ids[j], with, without,
                           "fewer than " + std::to_string(need) + " images " + side +
                               " (needs max(min_images, top_n) = " + std::to_string(need) + ")"});
    } else {
      columns.push_back(j);
      SweepAu s;
      s.au = au_ids[j];
      s.with = with;
      s.without = without;
      r.best.push_back(s);
      r.au_ids.push_back(au_ids[j]);
    }
  }
  const int a = static_cast<int>(columns.size());
  AULENS_CHECK(a <= kMaxAus, "sweep: " + std::to_string(a) +
                                 " AUs have enough images; the sweep handles at most 64 at once");
  r.distance = Tensor::zeros({a, k}, DType::f32);
  r.auc = Tensor::zeros({a, k}, DType::f32);
  r.top_pos = Tensor::zeros({a, k, n}, DType::f32);
  r.top_neg = Tensor::zeros({a, k, n}, DType::f32);
  r.null_max = Tensor::zeros({cfg.permutations, a}, DType::f32);
  r.p_values = Tensor::zeros({a}, DType::f64);
  if (a == 0) return r;

  Tensor host_mask({m, a}, DType::u8);
  for (int i = 0; i < m; ++i) {
    for (int c = 0; c < a; ++c) {
      host_mask.data<std::uint8_t>()[static_cast<std::int64_t>(i) * a + c] =
          au[static_cast<std::int64_t>(i) * a_all + columns[c]] > 0.0f ? 1 : 0;
    }
  }

  const Device dev = Ops::device;
  const Tensor d_values = values.to(dev), d_mask = host_mask.to(dev);
  Tensor sorted_values({k, m}, DType::f32, dev), sorted_images({k, m}, DType::i32, dev);
  Tensor midranks({k, m}, DType::f32, dev);
  Tensor top_pos({a, k, n}, DType::f32, dev), top_neg({a, k, n}, DType::f32, dev);
  Tensor distance({a, k}, DType::f32, dev), auc({a, k}, DType::f32, dev);
  Tensor null_max({std::max(cfg.permutations, 1), a}, DType::f32, dev);

  Ops::au_sweep_rank(m, k, d_values.data<float>(), sorted_values.data<float>(),
                     sorted_images.data<std::int32_t>(), midranks.data<float>());
  Ops::au_sweep_topn(m, k, a, n, sorted_values.data<float>(), sorted_images.data<std::int32_t>(),
                     d_mask.data<std::uint8_t>(), top_pos.data<float>(), top_neg.data<float>());
  Ops::au_sweep_distance(a, k, n, cfg.epsilon, top_pos.data<float>(), top_neg.data<float>(),
                         distance.data<float>());
  Ops::au_sweep_auc(m, k, a, midranks.data<float>(), d_mask.data<std::uint8_t>(),
                    auc.data<float>());
  if (cfg.permutations > 0) {
    Ops::au_sweep_permutation_max(m, k, a, n, cfg.epsilon, cfg.seed, 0, cfg.permutations,
                                  sorted_values.data<float>(), sorted_images.data<std::int32_t>(),
                                  d_mask.data<std::uint8_t>(), null_max.data<float>());
    r.null_max.copy_from(null_max.reshape({cfg.permutations, a}));
  }
  r.distance.copy_from(distance);
  r.auc.copy_from(auc);
  r.top_pos.copy_from(top_pos);
  r.top_neg.copy_from(top_neg);
  summarise(r);
  count_top_carriers(r, values, host_mask);
  return r;
}

template SweepResult run_sweep<CpuOps>(const Tensor&, const Tensor&,
                                       const std::vector<std::int32_t>&, const SweepConfig&);
#ifdef AULENS_HAVE_CUDA
template SweepResult run_sweep<CudaOps>(const Tensor&, const Tensor&,
                                        const std::vector<std::int32_t>&, const SweepConfig&);
#endif

SweepResult run_sweep_on(Device device, const Tensor& values, const Tensor& aus,
                         const std::vector<std::int32_t>& au_ids, const SweepConfig& cfg) {
  if (device == Device::cpu) return run_sweep<CpuOps>(values, aus, au_ids, cfg);
#ifdef AULENS_HAVE_CUDA
  return run_sweep<CudaOps>(values, aus, au_ids, cfg);
#else
  throw Error("sweep: this aulens was built without CUDA; use --device cpu");
#endif
}

std::string facs_au_name(std::int32_t au) {
  static const std::map<std::int32_t, const char*> kNames = {{1, "Inner Brow Raiser"},
                                                             {2, "Outer Brow Raiser"},
                                                             {4, "Brow Lowerer"},
                                                             {5, "Upper Lid Raiser"},
                                                             {6, "Cheek Raiser"},
                                                             {7, "Lid Tightener"},
                                                             {8, "Lips Toward Each Other"},
                                                             {9, "Nose Wrinkler"},
                                                             {10, "Upper Lip Raiser"},
                                                             {11, "Nasolabial Deepener"},
                                                             {12, "Lip Corner Puller"},
                                                             {13, "Sharp Lip Puller"},
                                                             {14, "Dimpler"},
                                                             {15, "Lip Corner Depressor"},
                                                             {16, "Lower Lip Depressor"},
                                                             {17, "Chin Raiser"},
                                                             {18, "Lip Pucker"},
                                                             {20, "Lip Stretcher"},
                                                             {21, "Neck Tightener"},
                                                             {22, "Lip Funneler"},
                                                             {23, "Lip Tightener"},
                                                             {24, "Lip Pressor"},
                                                             {25, "Lips Part"},
                                                             {26, "Jaw Drop"},
                                                             {27, "Mouth Stretch"},
                                                             {28, "Lip Suck"},
                                                             {29, "Jaw Thrust"},
                                                             {30, "Jaw Sideways"},
                                                             {31, "Jaw Clencher"},
                                                             {32, "Lip Bite"},
                                                             {33, "Cheek Blow"},
                                                             {34, "Cheek Puff"},
                                                             {35, "Cheek Suck"},
                                                             {36, "Tongue Bulge"},
                                                             {37, "Lip Wipe"},
                                                             {38, "Nostril Dilator"},
                                                             {39, "Nostril Compressor"},
                                                             {41, "Lid Droop"},
                                                             {42, "Slit"},
                                                             {43, "Eyes Closed"},
                                                             {44, "Squint"},
                                                             {45, "Blink"},
                                                             {46, "Wink"},
                                                             {51, "Head Turn Left"},
                                                             {52, "Head Turn Right"},
                                                             {53, "Head Up"},
                                                             {54, "Head Down"},
                                                             {55, "Head Tilt Left"},
                                                             {56, "Head Tilt Right"},
                                                             {57, "Head Forward"},
                                                             {58, "Head Back"},
                                                             {61, "Eyes Turn Left"},
                                                             {62, "Eyes Turn Right"},
                                                             {63, "Eyes Up"},
                                                             {64, "Eyes Down"}};
  const auto it = kNames.find(au);
  return it != kNames.end() ? it->second : "AU" + std::to_string(au);
}

}  // namespace aulens
