// Proof against PyTorch: the CPU network (forward, backward, three SGD steps, deconvnet
// projection) and the training augmentation must reproduce the tensors tools/make_golden.py
// computed with PyTorch on the same weights and inputs (tests/data/golden_narrow.safetensors,
// golden_wide.safetensors, golden_augment.safetensors; how to regenerate them is at the top of
// tools/make_golden.py).
//
// Every float tensor is compared elementwise with |aulens − torch| ≤ atol + rtol·|torch| +
// scale_rtol·max|torch| (the last term: an fp32 sum's rounding error scales with the size of its
// terms, so a result that cancels to near zero still carries an error of the tensor's own scale);
// a failure names the tensor, the worst element, its index and the count of failing elements.
// Switches and the dropout mask must match exactly; the wide case's listed near-tied pool windows
// (see make_golden.py) may pick either near-equal element, and nothing else may differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "aulens/augment.h"
#include "aulens/checkpoint.h"
#include "aulens/net.h"
#include "aulens/ops.h"
#include "aulens/rng.h"
#include "aulens/safetensors.h"

namespace aulens {
namespace {

const std::filesystem::path kDataDir = AULENS_TEST_DATA_DIR;

struct Tolerance {
  double atol = 0.0;        // absolute
  double rtol = 0.0;        // relative to the element
  double scale_rtol = 0.0;  // relative to the tensor's largest |element|
};

// Why these sizes. make_golden.py measures PyTorch fp32 against the same network in fp64: at most
// ~5e-7 of the tensor's scale (narrow conv3: 5.5e-6 at max 9.3, 200-long sums; wide conv3: 2.7e-5
// at max 14, 3200-long sums). aulens sums in another order (im2col + BLAS), so its distance to
// PyTorch can reach the sum of both distances to the exact value, ~1e-6 of the scale for the
// longest sums; fp32 rounding grows with the reduction length (25·C for a conv, c3·(S/8)² for fc1:
// 256 here, 36864 at full width, which is why the full-width head is not part of a golden file).
// Each bound is ~4–10× the worst difference measured (stated per constant, as a fraction of the
// bound), leaving room for another BLAS or thread count, yet tight enough that one wrong term
// fails: a flipped sign, a missing bias, a misrouted switch, or SGD without its weight decay
// (which moves the step-3 weights by ~0.28·lr·wd·|w| ≈ 1e-5, 4× the step bound).
//
// Forward activations (conv1–3, pools): 25..3200-term sums. Worst measured: 0.25 (wide conv3).
constexpr Tolerance kActivationTol{1e-6, 5e-6, 5e-6};
// fc1 (256-term sums) and logits (32-term sums). Worst measured: 0.1.
constexpr Tolerance kFcTol{1e-6, 5e-6, 5e-6};
// The loss: a mean of log-softmax values, a few exp/log roundings; the step-2/3 losses also carry
// the earlier steps' differences. Worst measured: 0.17 (the third step's loss).
constexpr Tolerance kLossTol{1e-6, 5e-6, 0.0};
// Gradients: the weight gradients are the longest sums of the backward pass (conv1.weight sums
// N·S² = 3072 products) and inherit the forward's differences. Worst measured: 0.12.
constexpr Tolerance kGradTol{1e-7, 2e-6, 4e-6};
// Parameters after three SGD steps: w moves by lr·v (lr 0.05, |v| ≤ ~3·|g|), so gradient
// differences reach w scaled by ~0.15, plus one rounding of w per step. Worst measured: 0.22.
constexpr Tolerance kStepTol{1e-7, 2e-6, 2e-6};
// Deconvnet projection: three transposed convolutions (up to 3200-term sums) back from one
// activation, with cancellation, hence the scale term. Worst measured: 0.05.
constexpr Tolerance kDeconvTol{1e-7, 1e-5, 2e-6};
// Augmentation: PyTorch samples in float64; aulens computes each coordinate and interpolation in
// fp32 (coordinates up to 98, so ~4e-6 px of rounding, times a pixel-to-pixel step of up to 1 in
// /255 units, over a std of ~0.29), plus the rounding of the standardized value. Worst measured:
// 3.2e-5 (0.16 of the bound, case 3 at 14.9°). One wrong weight or a half-pixel shift moves values
// by ~0.1–1.
constexpr Tolerance kAugmentTol{2e-4, 0.0, 0.0};

std::string index_string(const Shape& shape, std::int64_t flat) {
  std::vector<std::int64_t> idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::ostringstream out;
  out << "(";
  for (std::size_t d = 0; d < idx.size(); ++d) out << (d ? ", " : "") << idx[d];
  out << ")";
  return out.str();
}

// Elementwise comparison of fp32 tensors; reports the worst element relative to its tolerance.
::testing::AssertionResult all_close(const std::string& name, const Tensor& actual,
                                     const Tensor& expected, Tolerance tol) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << name << ": shape " << shape_string(actual.shape())
                                         << ", golden " << shape_string(expected.shape());
  }
  const std::vector<float> a = actual.to_vector<float>();
  const std::vector<float> b = expected.to_vector<float>();
  double scale = 0.0;
  for (float v : b) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  double worst_ratio = -1.0, max_abs = 0.0;
  std::int64_t worst = 0, failing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(a[i]) - b[i]);
    const double bound = tol.atol + tol.rtol * std::fabs(b[i]) + tol.scale_rtol * scale;
    const double ratio =
        std::isfinite(diff) ? diff / bound : std::numeric_limits<double>::infinity();
    if (ratio > 1.0) ++failing;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = static_cast<std::int64_t>(i);
    if (std::isfinite(diff)) max_abs = std::max(max_abs, diff);
  }
  std::ostringstream msg;
  msg << name << " " << shape_string(expected.shape()) << ": worst at "
      << index_string(expected.shape(), worst) << " aulens " << a[worst] << " torch " << b[worst]
      << " (|diff| " << std::fabs(static_cast<double>(a[worst]) - b[worst]) << " = " << worst_ratio
      << "× its bound), max |diff| " << max_abs << ", max |torch| " << scale;
  if (failing > 0) {
    return ::testing::AssertionFailure()
           << msg.str() << "; " << failing << " of " << a.size() << " elements outside atol "
           << tol.atol << " + rtol " << tol.rtol << "·|torch| + " << tol.scale_rtol
           << "·max|torch|";
  }
  std::printf("  ok %s\n", msg.str().c_str());
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult all_equal(const std::string& name, const Tensor& actual,
                                     const Tensor& expected) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << name << ": shape " << shape_string(actual.shape())
                                         << ", golden " << shape_string(expected.shape());
  }
  const std::vector<T> a = actual.to_vector<T>();
  const std::vector<T> b = expected.to_vector<T>();
  std::int64_t first = -1, differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      if (first < 0) first = static_cast<std::int64_t>(i);
      ++differing;
    }
  }
  if (differing == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << name << ": " << differing << " of " << a.size() << " elements differ, first at "
         << index_string(expected.shape(), first) << ": aulens " << +a[first] << ", torch "
         << +b[first];
}

// A golden file: its tensors and metadata, with checked access.
struct Golden {
  std::filesystem::path path;
  SafeTensors file;

  explicit Golden(const std::string& name) : path(kDataDir / name) {
    file = load_safetensors(path);
  }
  const Tensor& operator[](const std::string& name) const {
    auto it = file.tensors.find(name);
    AULENS_CHECK(it != file.tensors.end(), path.string() + " has no tensor " + name);
    return it->second;
  }
  bool has(const std::string& name) const { return file.tensors.count(name) > 0; }
  nlohmann::json meta(const std::string& key) const {
    auto it = file.metadata.find(key);
    AULENS_CHECK(it != file.metadata.end(), path.string() + " has no metadata key " + key);
    return nlohmann::json::parse(it->second);
  }
};

NetConfig config_from(const Golden& g) {
  const nlohmann::json c = g.meta("config");
  NetConfig cfg;
  cfg.input_size = c.at("input_size");
  cfg.conv1 = c.at("conv1");
  cfg.conv2 = c.at("conv2");
  cfg.conv3 = c.at("conv3");
  if (c.contains("fc")) {
    cfg.fc = c.at("fc");
    cfg.classes = c.at("classes");
    cfg.dropout = c.at("dropout");
  } else {  // conv-only golden file: a tiny head, never compared
    cfg.fc = 2;
    cfg.classes = 2;
  }
  return cfg;
}

// Sets every element to NaN, so a tensor an op should overwrite shows where it did not.
void poison(Params& params) {
  for (auto& [name, t] : params.named()) {
    float* p = t->data<float>();
    std::fill(p, p + t->numel(), std::numeric_limits<float>::quiet_NaN());
  }
}

struct Projection {
  int image, map, y, x;
};

Projection projection_from(const Golden& g) {
  const nlohmann::json d = g.meta("deconv");
  return {d.at("image"), d.at("map"), d.at("y"), d.at("x")};
}

const char* const kActivationNames[] = {"conv1", "pool1", "conv2", "pool2", "conv3", "pool3"};

const Tensor& activation(const Activations& acts, const std::string& name) {
  if (name == "conv1") return acts.conv1;
  if (name == "pool1") return acts.pool1;
  if (name == "switches1") return acts.switches1;
  if (name == "conv2") return acts.conv2;
  if (name == "pool2") return acts.pool2;
  if (name == "switches2") return acts.switches2;
  if (name == "conv3") return acts.conv3;
  if (name == "pool3") return acts.pool3;
  if (name == "switches3") return acts.switches3;
  throw Error("no activation " + name);
}

// ---- narrow network: forward, loss, gradients, three SGD steps, projection ----

TEST(Golden, NarrowNetworkMatchesPyTorch) {
  const Golden g("golden_narrow.safetensors");
  const NetConfig cfg = config_from(g);
  const nlohmann::json sgd_meta = g.meta("sgd");
  const SgdConfig sgd{sgd_meta.at("lr"), sgd_meta.at("momentum"), sgd_meta.at("weight_decay")};
  const nlohmann::json draws_meta = g.meta("dropout_draws");
  std::vector<DropoutDraw> draws;
  for (const auto& d : draws_meta) draws.push_back({d.at("seed"), d.at("offset")});
  ASSERT_EQ(draws.size(), 3u);

  // PyTorch → aulens: the golden parameters load by name, with PyTorch's layouts.
  Params params = Params::zeros(cfg, Device::cpu);
  poison(params);
  std::map<std::string, Tensor*> expected;
  for (auto& [name, t] : params.named()) expected[name] = t;
  load_into(g.path, expected);
  for (auto& [name, t] : params.named()) ASSERT_TRUE(all_equal<float>(name, *t, g[name]));

  const Tensor& input = g["input"];
  const Tensor& labels = g["labels"];
  Network<CpuOps> net(cfg);
  Activations acts;
  net.forward(params, input, /*train=*/true, draws[0], acts);
  for (const char* name : kActivationNames) {
    EXPECT_TRUE(all_close(name, activation(acts, name), g[name], kActivationTol));
  }
  for (const char* name : {"switches1", "switches2", "switches3"}) {
    EXPECT_TRUE(all_equal<std::int32_t>(name, activation(acts, name), g[name]));
  }
  EXPECT_TRUE(all_close("fc1", acts.fc1, g["fc1"], kFcTol));
  EXPECT_TRUE(all_equal<std::uint8_t>("dropout_mask", acts.dropout_mask, g["dropout_mask"]));
  EXPECT_TRUE(all_close("logits", acts.logits, g["logits"], kFcTol));

  Params grads = Params::zeros(cfg, Device::cpu);
  poison(grads);
  const float loss = net.backward(params, acts, labels, grads);
  EXPECT_TRUE(all_close("loss", Tensor::from_vector<float>({1}, {loss}), g["loss"], kLossTol));
  for (auto& [name, t] : grads.named()) {
    EXPECT_TRUE(all_close("grad." + name, *t, g["grad." + name], kGradTol));
  }

  const Projection p = projection_from(g);
  const Tensor projection = deconv_project<CpuOps>(cfg, params, acts, p.image, p.map, p.y, p.x);
  EXPECT_TRUE(all_close("deconv", projection, g["deconv"], kDeconvTol));

  // Three SGD steps on the same batch, each with its own dropout draw.
  Params momentum = Params::zeros(cfg, Device::cpu);
  std::vector<float> losses{loss};
  net.sgd_step(params, grads, momentum, sgd);
  for (int step = 1; step < 3; ++step) {
    net.forward(params, input, /*train=*/true, draws[step], acts);
    poison(grads);
    losses.push_back(net.backward(params, acts, labels, grads));
    net.sgd_step(params, grads, momentum, sgd);
  }
  EXPECT_TRUE(all_close("losses", Tensor::from_vector<float>({3}, losses), g["losses"], kLossTol));
  for (auto& [name, t] : params.named()) {
    EXPECT_TRUE(all_close("step3." + name, *t, g["step3." + name], kStepTol));
  }

  // aulens → PyTorch: write the three-step parameters as an aulens checkpoint (weights only);
  // `python3 tools/make_golden.py --check-checkpoint <path>` loads it with strict=True.
  const std::filesystem::path checkpoint =
      std::filesystem::temp_directory_path() / "aulens_golden_narrow_step3.safetensors";
  TrainState state;
  state.params = params;
  state.step = 3;
  save_checkpoint(checkpoint, cfg, state);
  std::printf("  wrote %s (check it with: python3 tools/make_golden.py --check-checkpoint %s)\n",
              checkpoint.c_str(), checkpoint.c_str());
}

// ---- wide conv stack: conv3 activations, switches, projection at full width ----

// The generator rule of make_golden.py's drawn_params: value[i] = bound·(2·uniform01(seed, i) − 1).
void draw_uniform(Tensor& t, std::uint64_t seed, float bound) {
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    p[i] = bound * (2.0f * uniform01(seed, static_cast<std::uint64_t>(i)) - 1.0f);
  }
}

TEST(Golden, WideConvStackMatchesPyTorch) {
  const Golden g("golden_wide.safetensors");
  const NetConfig cfg = config_from(g);
  ASSERT_EQ(cfg.conv3, 256);
  ASSERT_EQ(cfg.input_size, 96);

  // The conv weights are redrawn here from aulens' generator; the stored conv1.weight, biases
  // and strided samples of conv2/conv3 weights prove the redraw is bit-identical to PyTorch's.
  Params params = Params::zeros(cfg, Device::cpu);
  const nlohmann::json streams = g.meta("weight_streams");
  for (auto& [name, t] : params.named()) {
    if (name.rfind("fc", 0) == 0) continue;  // the head is not part of this case (zeros)
    const nlohmann::json& s = streams.at(name);
    draw_uniform(*t, s.at("seed").get<std::uint64_t>(), s.at("bound").get<float>());
    if (g.has(name)) {
      ASSERT_TRUE(all_equal<float>(name, *t, g[name]));
    } else {
      const Tensor& sample = g["check." + name];
      const std::int64_t stride = std::stoll(g.file.metadata.at("check_stride"));
      std::vector<float> picked;
      const float* p = t->data<float>();
      for (std::int64_t i = 0; i < t->numel(); i += stride) picked.push_back(p[i]);
      ASSERT_TRUE(all_equal<float>("check." + name,
                                   Tensor::from_vector<float>({sample.numel()}, picked), sample));
    }
  }

  Network<CpuOps> net(cfg);
  Activations acts;
  net.forward(params, g["input"], /*train=*/false, DropoutDraw{}, acts);
  EXPECT_TRUE(all_close("conv3", acts.conv3, g["conv3"], kActivationTol));

  // Switches: exact, except at the windows make_golden.py listed as near-tied (winner and
  // runner-up within 1e-5 of the layer's largest |pre-activation|, ~5× the fp32 noise of these
  // 3200-long sums); there aulens may pick the other element only if its own two values are that
  // close too (the margin plus the same again for aulens' rounding).
  constexpr double kNearTieRel = 2e-5;
  const Tensor* conv_of[] = {&acts.conv1, &acts.conv2, &acts.conv3};
  for (int layer = 1; layer <= 3; ++layer) {
    const std::string name = "switches" + std::to_string(layer);
    const std::vector<std::int32_t> mine = activation(acts, name).to_vector<std::int32_t>();
    const std::vector<std::int32_t> torch = g[name].to_vector<std::int32_t>();
    ASSERT_EQ(mine.size(), torch.size()) << name;
    std::vector<std::int32_t> near_ties;
    if (g.has("near_ties" + std::to_string(layer))) {
      near_ties = g["near_ties" + std::to_string(layer)].to_vector<std::int32_t>();
    }
    const Tensor& conv = *conv_of[layer - 1];
    const std::int64_t plane = conv.dim(2) * conv.dim(3);
    const std::int64_t pooled_plane =
        static_cast<std::int64_t>(mine.size()) / (conv.dim(0) * conv.dim(1));
    const std::vector<float> values = conv.to_vector<float>();
    // the layer's largest |pre-activation|, the scale the near-tie margin is relative to
    const double scale = g.meta("pre_abs_max").at("conv" + std::to_string(layer)).get<double>();
    int flipped_near_ties = 0, differing = 0;
    for (std::size_t i = 0; i < mine.size(); ++i) {
      if (mine[i] == torch[i]) continue;
      const bool listed =
          std::binary_search(near_ties.begin(), near_ties.end(), static_cast<std::int32_t>(i));
      const std::int64_t base = static_cast<std::int64_t>(i) / pooled_plane * plane;
      const float gap = std::fabs(values[base + mine[i]] - values[base + torch[i]]);
      if (listed && gap <= kNearTieRel * scale) {
        ++flipped_near_ties;
        std::printf("  %s window %zu: near-tie, aulens %d (%.9g), torch %d (%.9g)\n", name.c_str(),
                    i, mine[i], values[base + mine[i]], torch[i], values[base + torch[i]]);
      } else {
        if (differing++ == 0) {
          ADD_FAILURE() << name << " window " << index_string(g[name].shape(), i) << ": aulens "
                        << mine[i] << ", torch " << torch[i]
                        << (listed ? " (listed near-tie, " : " (") << "values differ by " << gap
                        << ")";
        }
      }
    }
    EXPECT_EQ(differing, 0) << name << ": switches differing outside near-ties";
    std::printf("  %s: %zu windows, %zu listed near-ties, %d of them flipped\n", name.c_str(),
                mine.size(), near_ties.size(), flipped_near_ties);
  }

  const Projection p = projection_from(g);
  const Tensor projection = deconv_project<CpuOps>(cfg, params, acts, p.image, p.map, p.y, p.x);
  EXPECT_TRUE(all_close("deconv", projection, g["deconv"], kDeconvTol));
}

// ---- training augmentation ----

// Rotation, flip, window, /255 and standardization against affine_grid + grid_sample, including
// a low-contrast crop whose std is under the 1/O floor.
TEST(Golden, AugmentationMatchesPyTorchGridSample) {
  const Golden g("golden_augment.safetensors");
  const Tensor& crops = g["crops"];
  const Tensor& expected = g["out"];
  const std::int64_t n = expected.dim(0);
  const int s = static_cast<int>(crops.dim(1)), o = static_cast<int>(expected.dim(2));
  ASSERT_EQ(n, 6);
  const auto angles = g["angle_rad"].to_vector<float>();
  const auto flips = g["flip"].to_vector<std::int32_t>();
  const auto offsets = g["offsets"].to_vector<std::int32_t>();
  const nlohmann::json cases = g.meta("cases");
  std::vector<AugmentParams> params(n);
  std::vector<std::int32_t> indices(n);
  for (std::int64_t i = 0; i < n; ++i) {
    params[i] = {angles[i], flips[i], offsets[2 * i], offsets[2 * i + 1]};
    indices[i] = cases[i][0];
  }
  Tensor out({n, 1, o, o}, DType::f32);
  std::fill(out.data<float>(), out.data<float>() + out.numel(), std::nanf(""));
  CpuOps::augment_batch(static_cast<int>(n), s, o, crops.data<std::uint8_t>(), indices.data(),
                        params.data(), out.data<float>());
  EXPECT_TRUE(all_close("augmented", out, expected, kAugmentTol));
  const auto low = expected.to_vector<float>();  // the low-contrast case: floored, so std < 1
  double squares = 0.0;
  for (int e = 0; e < o * o; ++e)
    squares += static_cast<double>(low[5 * o * o + e]) * low[5 * o * o + e];
  EXPECT_LT(std::sqrt(squares / (o * o)), 0.5) << "case 5 should exercise the 1/O std floor";
}

}  // namespace
}  // namespace aulens
