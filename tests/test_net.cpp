// Tests of the network engine on the CPU (aulens/net.h, aulens/checkpoint.h): activation and
// gradient shapes, a full-network finite-difference gradient check, the He-normal init, the SGD
// step, the deconvnet projection against an independent double-precision implementation, its
// receptive field, and the checkpoint round trip.
//
// The reference network below is written with direct loops in double precision and shares no
// code with the ops, so agreement with it checks the engine and the CPU ops together.
//
// Random inputs come from a fixed seed per test (reproducible in CI); set AULENS_TEST_SEED to draw
// others. Every failure message names the seed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "aulens/checkpoint.h"
#include "aulens/net.h"
#include "aulens/safetensors.h"

namespace aulens {
namespace {

using Vec = std::vector<double>;

std::uint64_t test_seed(std::uint64_t fallback) {
  const char* env = std::getenv("AULENS_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 10) + fallback : fallback;
}

// The narrow network the tests use: 4/8/16 channels, fc 32, 5 classes.
NetConfig narrow_config(int input_size = 32) {
  NetConfig cfg;
  cfg.input_size = input_size;
  cfg.conv1 = 4;
  cfg.conv2 = 8;
  cfg.conv3 = 16;
  cfg.fc = 32;
  cfg.classes = 5;
  cfg.dropout = 0.5f;
  return cfg;
}

Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, double std_dev = 1.0) {
  std::normal_distribution<float> normal(0.0f, static_cast<float>(std_dev));
  Tensor t(shape, DType::f32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
  return t;
}

Tensor random_labels(int n, int classes, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int32_t> pick(0, classes - 1);
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = pick(rng);
  return Tensor::from_vector<std::int32_t>({n}, labels);
}

// He-normal weights and small random biases (so the bias paths carry signal).
Params random_params(const NetConfig& cfg, std::mt19937_64& rng) {
  Params p = init_params(cfg, rng(), Device::cpu);
  for (auto& [name, t] : p.named()) {
    if (t->rank() == 1) *t = random_tensor(t->shape(), rng, 0.1);
  }
  return p;
}

Vec to_double(const Tensor& t) {
  std::vector<float> f = t.to_vector<float>();
  return Vec(f.begin(), f.end());
}

// Fails when any |actual − expected| > atol + rtol·|expected|, naming the worst element.
void expect_close(const Vec& actual, const Vec& expected, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double worst_ratio = 0.0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double ratio = std::abs(actual[i] - expected[i]) / (atol + rtol * std::abs(expected[i]));
    if (!(ratio <= worst_ratio)) {  // NaN counts as worst
      worst_ratio = ratio;
      worst = i;
    }
  }
  EXPECT_LE(worst_ratio, 1.0) << what << ": worst element " << worst << " is " << actual[worst]
                              << ", expected " << expected[worst] << " (atol " << atol << ", rtol "
                              << rtol << ")";
}

double max_abs(const Vec& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

// ---- the independent double-precision reference network (direct loops) ----

struct RefParams {
  Vec w1, b1, w2, b2, w3, b3, f1w, f1b, f2w, f2b;
};

RefParams to_ref(const Params& p) {
  return {to_double(p.conv1_weight), to_double(p.conv1_bias),   to_double(p.conv2_weight),
          to_double(p.conv2_bias),   to_double(p.conv3_weight), to_double(p.conv3_bias),
          to_double(p.fc1_weight),   to_double(p.fc1_bias),     to_double(p.fc2_weight),
          to_double(p.fc2_bias)};
}

// The parameter in named() order, as a reference vector.
Vec& ref_tensor(RefParams& r, int index) {
  Vec* all[] = {&r.w1, &r.b1, &r.w2, &r.b2, &r.w3, &r.b3, &r.f1w, &r.f1b, &r.f2w, &r.f2b};
  return *all[index];
}

// y (N,K,H,W) = b + Σ w (K,C,5,5) · x (N,C,H,W), zero padding 2.
Vec ref_conv(const Vec& x, int n, int c, int h, int w, const Vec& wt, const Vec& b, int k) {
  Vec y(static_cast<std::size_t>(n) * k * h * w);
  for (int in = 0; in < n; ++in)
    for (int ik = 0; ik < k; ++ik)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j) {
          double sum = b[ik];
          for (int ic = 0; ic < c; ++ic)
            for (int u = 0; u < 5; ++u)
              for (int v = 0; v < 5; ++v) {
                const int yy = i + u - 2, xx = j + v - 2;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                sum += wt[((ik * c + ic) * 5 + u) * 5 + v] * x[((in * c + ic) * h + yy) * w + xx];
              }
          y[((in * k + ik) * h + i) * w + j] = sum;
        }
  return y;
}

// The gradient of ref_conv with respect to x: scatter every dy back through the weights.
Vec ref_conv_transpose(const Vec& dy, int n, int c, int h, int w, const Vec& wt, int k) {
  Vec dx(static_cast<std::size_t>(n) * c * h * w, 0.0);
  for (int in = 0; in < n; ++in)
    for (int ik = 0; ik < k; ++ik)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j) {
          const double g = dy[((in * k + ik) * h + i) * w + j];
          if (g == 0.0) continue;
          for (int ic = 0; ic < c; ++ic)
            for (int u = 0; u < 5; ++u)
              for (int v = 0; v < 5; ++v) {
                const int yy = i + u - 2, xx = j + v - 2;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                dx[((in * c + ic) * h + yy) * w + xx] += g * wt[((ik * c + ic) * 5 + u) * 5 + v];
              }
        }
  return dx;
}

void ref_relu(Vec& v) {
  for (double& x : v) x = std::max(x, 0.0);
}

// 2×2 max pooling; the switch is row·W + col in the input plane, first maximum wins.
void ref_pool(const Vec& x, int planes, int h, int w, Vec& y, std::vector<std::int32_t>& sw) {
  const int oh = h / 2, ow = w / 2;
  y.assign(static_cast<std::size_t>(planes) * oh * ow, 0.0);
  sw.assign(y.size(), 0);
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        int best = (2 * i) * w + 2 * j;
        for (int d = 0; d < 4; ++d) {
          const int at = (2 * i + d / 2) * w + 2 * j + d % 2;
          if (x[p * h * w + at] > x[p * h * w + best]) best = at;
        }
        y[(p * oh + i) * ow + j] = x[p * h * w + best];
        sw[(p * oh + i) * ow + j] = best;
      }
}

Vec ref_unpool(const Vec& dy, const std::vector<std::int32_t>& sw, int planes, int h, int w) {
  Vec dx(static_cast<std::size_t>(planes) * h * w, 0.0);
  const int per_plane = (h / 2) * (w / 2);
  for (int p = 0; p < planes; ++p)
    for (int o = 0; o < per_plane; ++o)
      dx[p * h * w + sw[p * per_plane + o]] += dy[p * per_plane + o];
  return dx;
}

struct RefForward {
  Vec conv1, pool1, conv2, pool2, conv3, pool3, fc1, fc1_dropped, logits;
  std::vector<std::int32_t> switches1, switches2, switches3;
};

// mask: (N,fc) or empty for none; p: the dropout probability the mask was drawn with.
RefForward ref_forward(const NetConfig& cfg, const RefParams& r, const Vec& x, int n,
                       const std::vector<std::uint8_t>& mask, double p) {
  const int s = cfg.input_size, c1 = cfg.conv1, c2 = cfg.conv2, c3 = cfg.conv3;
  RefForward f;
  f.conv1 = ref_conv(x, n, 1, s, s, r.w1, r.b1, c1);
  ref_relu(f.conv1);
  ref_pool(f.conv1, n * c1, s, s, f.pool1, f.switches1);
  f.conv2 = ref_conv(f.pool1, n, c1, s / 2, s / 2, r.w2, r.b2, c2);
  ref_relu(f.conv2);
  ref_pool(f.conv2, n * c2, s / 2, s / 2, f.pool2, f.switches2);
  f.conv3 = ref_conv(f.pool2, n, c2, s / 4, s / 4, r.w3, r.b3, c3);
  ref_relu(f.conv3);
  ref_pool(f.conv3, n * c3, s / 4, s / 4, f.pool3, f.switches3);
  const int in = cfg.fc1_inputs(), fc = cfg.fc;
  f.fc1.assign(static_cast<std::size_t>(n) * fc, 0.0);
  for (int b = 0; b < n; ++b)
    for (int o = 0; o < fc; ++o) {
      double sum = r.f1b[o];
      for (int i = 0; i < in; ++i) sum += r.f1w[o * in + i] * f.pool3[b * in + i];
      f.fc1[b * fc + o] = std::max(sum, 0.0);
    }
  f.fc1_dropped = f.fc1;
  if (!mask.empty()) {
    for (std::size_t i = 0; i < f.fc1.size(); ++i) {
      f.fc1_dropped[i] = mask[i] ? f.fc1[i] / (1.0 - p) : 0.0;
    }
  }
  f.logits.assign(static_cast<std::size_t>(n) * cfg.classes, 0.0);
  for (int b = 0; b < n; ++b)
    for (int o = 0; o < cfg.classes; ++o) {
      double sum = r.f2b[o];
      for (int i = 0; i < fc; ++i) sum += r.f2w[o * fc + i] * f.fc1_dropped[b * fc + i];
      f.logits[b * cfg.classes + o] = sum;
    }
  return f;
}

double ref_loss(const Vec& logits, const std::vector<std::int32_t>& labels, int classes) {
  const int n = static_cast<int>(labels.size());
  double total = 0.0;
  for (int b = 0; b < n; ++b) {
    const double* z = &logits[b * classes];
    const double m = *std::max_element(z, z + classes);
    double sum = 0.0;
    for (int k = 0; k < classes; ++k) sum += std::exp(z[k] - m);
    total += std::log(sum) + m - z[labels[b]];
  }
  return total / n;
}

// True when both passes took the same branch at every ReLU and every max pool.
bool same_pattern(const RefForward& a, const RefForward& b) {
  auto signs = [](const Vec& x, const Vec& y) {
    for (std::size_t i = 0; i < x.size(); ++i)
      if ((x[i] > 0) != (y[i] > 0)) return false;
    return true;
  };
  return signs(a.conv1, b.conv1) && signs(a.conv2, b.conv2) && signs(a.conv3, b.conv3) &&
         signs(a.fc1, b.fc1) && a.switches1 == b.switches1 && a.switches2 == b.switches2 &&
         a.switches3 == b.switches3;
}

// ---- shapes ----

TEST(Network, ActivationAndGradientShapes) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(11));
  const int n = 3;
  Params params = random_params(cfg, rng);
  Tensor x = random_tensor({n, 1, 32, 32}, rng);
  Network<CpuOps> net(cfg);
  Activations acts;
  net.forward(params, x, /*train=*/false, {}, acts);

  auto expect_shape = [](const Tensor& t, const Shape& shape, DType dtype, const char* name) {
    EXPECT_EQ(t.shape(), shape) << name << " is " << shape_string(t.shape());
    EXPECT_EQ(t.dtype(), dtype) << name;
    EXPECT_EQ(t.device(), Device::cpu) << name;
  };
  expect_shape(acts.input, {n, 1, 32, 32}, DType::f32, "input");
  expect_shape(acts.conv1, {n, 4, 32, 32}, DType::f32, "conv1");
  expect_shape(acts.pool1, {n, 4, 16, 16}, DType::f32, "pool1");
  expect_shape(acts.switches1, {n, 4, 16, 16}, DType::i32, "switches1");
  expect_shape(acts.conv2, {n, 8, 16, 16}, DType::f32, "conv2");
  expect_shape(acts.pool2, {n, 8, 8, 8}, DType::f32, "pool2");
  expect_shape(acts.switches2, {n, 8, 8, 8}, DType::i32, "switches2");
  expect_shape(acts.conv3, {n, 16, 8, 8}, DType::f32, "conv3");
  expect_shape(acts.pool3, {n, 16, 4, 4}, DType::f32, "pool3");
  expect_shape(acts.switches3, {n, 16, 4, 4}, DType::i32, "switches3");
  expect_shape(acts.fc1, {n, 32}, DType::f32, "fc1");
  expect_shape(acts.dropout_mask, {n, 32}, DType::u8, "dropout_mask");
  expect_shape(acts.fc1_dropped, {n, 32}, DType::f32, "fc1_dropped");
  expect_shape(acts.logits, {n, 5}, DType::f32, "logits");

  Params grads;
  const float loss = net.backward(params, acts, random_labels(n, cfg.classes, rng), grads);
  EXPECT_TRUE(std::isfinite(loss));
  auto shapes = Params::shapes(cfg);
  auto named = grads.named();
  ASSERT_EQ(named.size(), 10u);
  const char* names[] = {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
                         "conv3.bias",   "fc1.weight", "fc1.bias",     "fc2.weight", "fc2.bias"};
  for (std::size_t i = 0; i < named.size(); ++i) {
    EXPECT_EQ(named[i].first, names[i]);
    EXPECT_EQ(shapes[i].first, names[i]);
    expect_shape(*named[i].second, shapes[i].second, DType::f32, names[i]);
  }
  EXPECT_EQ(grads.fc1_weight.shape(), (Shape{32, 256}));

  // Same N: buffers are reused. Another N: reallocated with the new batch shape.
  const void* conv1_storage = acts.conv1.raw();
  const void* logits_storage = acts.logits.raw();
  net.forward(params, x, false, {}, acts);
  EXPECT_EQ(acts.conv1.raw(), conv1_storage);
  EXPECT_EQ(acts.logits.raw(), logits_storage);
  net.forward(params, random_tensor({2, 1, 32, 32}, rng), false, {}, acts);
  EXPECT_EQ(acts.conv3.shape(), (Shape{2, 16, 8, 8}));
  EXPECT_EQ(acts.logits.shape(), (Shape{2, 5}));

  // Wrong input and wrong parameter shapes are clear errors.
  EXPECT_THROW(net.forward(params, random_tensor({2, 1, 24, 24}, rng), false, {}, acts), Error);
  Params wide = random_params(narrow_config(40), rng);
  EXPECT_THROW(net.forward(wide, x, false, {}, acts), Error);
}

TEST(Network, DropoutInTrainingAndEvaluation) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(12));
  const int n = 8;
  Params params = random_params(cfg, rng);
  Tensor x = random_tensor({n, 1, 32, 32}, rng);
  Network<CpuOps> net(cfg);

  Activations eval;
  net.forward(params, x, false, {5, 0}, eval);
  EXPECT_EQ(eval.dropout_p, 0.0f);
  for (std::uint8_t m : eval.dropout_mask.to_vector<std::uint8_t>()) ASSERT_EQ(m, 1);
  EXPECT_EQ(eval.fc1_dropped.to_vector<float>(), eval.fc1.to_vector<float>());

  Activations train;
  net.forward(params, x, true, {5, 1000}, train);
  EXPECT_EQ(train.dropout_p, cfg.dropout);
  auto mask = train.dropout_mask.to_vector<std::uint8_t>();
  auto fc1 = train.fc1.to_vector<float>();
  auto dropped = train.fc1_dropped.to_vector<float>();
  int kept = 0;
  for (std::size_t i = 0; i < mask.size(); ++i) {
    kept += mask[i];
    const float expected = mask[i] ? fc1[i] / (1.0f - cfg.dropout) : 0.0f;
    ASSERT_NEAR(dropped[i], expected, 1e-6f * std::abs(expected)) << "element " << i;
  }
  // 256 draws at p = 0.5: the kept count is 128 ± 8 (1σ).
  EXPECT_GT(kept, 128 - 48);
  EXPECT_LT(kept, 128 + 48);
  // Training and evaluation see the same fc1.
  EXPECT_EQ(fc1, eval.fc1.to_vector<float>());
}

// ---- gradient check ----

// The fp32 gradients of Network<CpuOps>::backward against central differences of the loss of the
// double-precision reference network (h = 1e-5 in double, so neither rounding nor curvature
// matters), on random entries of every parameter tensor. Entries whose ±h perturbation changes a
// ReLU sign or a pool switch are replaced by others, so the loss is smooth where it is sampled.
void gradient_check(bool train, std::uint64_t seed) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(seed);
  const int n = 3;
  Params params = random_params(cfg, rng);
  Tensor x = random_tensor({n, 1, cfg.input_size, cfg.input_size}, rng);
  Tensor labels = random_labels(n, cfg.classes, rng);
  Network<CpuOps> net(cfg);
  Activations acts;
  net.forward(params, x, train, {seed, 77}, acts);
  Params grads;
  const float loss = net.backward(params, acts, labels, grads);

  RefParams ref = to_ref(params);
  const Vec xv = to_double(x);
  const auto label_vec = labels.to_vector<std::int32_t>();
  const std::vector<std::uint8_t> mask =
      train ? acts.dropout_mask.to_vector<std::uint8_t>() : std::vector<std::uint8_t>{};
  const double p = acts.dropout_p;
  const RefForward base = ref_forward(cfg, ref, xv, n, mask, p);

  // The fp32 network and the reference are the same function at this point.
  EXPECT_EQ(acts.switches1.to_vector<std::int32_t>(), base.switches1);
  EXPECT_EQ(acts.switches2.to_vector<std::int32_t>(), base.switches2);
  EXPECT_EQ(acts.switches3.to_vector<std::int32_t>(), base.switches3);
  expect_close(to_double(acts.logits), base.logits, 1e-5 * max_abs(base.logits), 1e-5, "logits");
  const double base_loss = ref_loss(base.logits, label_vec, cfg.classes);
  EXPECT_NEAR(loss, base_loss, 1e-5 * base_loss) << "loss";

  constexpr double kStep = 1e-5;
  constexpr int kEntriesPerTensor = 6;
  auto named = grads.named();
  for (int t = 0; t < 10; ++t) {
    const Vec analytic_all = to_double(*named[t].second);
    Vec& values = ref_tensor(ref, t);
    std::uniform_int_distribution<std::size_t> pick(0, values.size() - 1);
    Vec analytic, numeric;
    int attempts = 0;
    while (static_cast<int>(analytic.size()) < kEntriesPerTensor && attempts++ < 60) {
      const std::size_t i = pick(rng);
      const double saved = values[i];
      values[i] = saved + kStep;
      const RefForward plus = ref_forward(cfg, ref, xv, n, mask, p);
      values[i] = saved - kStep;
      const RefForward minus = ref_forward(cfg, ref, xv, n, mask, p);
      values[i] = saved;
      if (!same_pattern(plus, base) || !same_pattern(minus, base)) continue;
      numeric.push_back((ref_loss(plus.logits, label_vec, cfg.classes) -
                         ref_loss(minus.logits, label_vec, cfg.classes)) /
                        (2 * kStep));
      analytic.push_back(analytic_all[i]);
    }
    ASSERT_EQ(static_cast<int>(analytic.size()), kEntriesPerTensor)
        << named[t].first << ": too many perturbations flipped a ReLU or a switch";
    // fp32 sums of up to N·S² = 3072 terms (seen: ~1e-6 relative): 1e-5 of the tensor's largest
    // gradient absolute, 1e-4 relative.
    expect_close(analytic, numeric, 1e-5 * max_abs(analytic_all), 1e-4,
                 named[t].first + " gradient (seed " + std::to_string(seed) + ")");
  }
}

TEST(Network, GradientMatchesFiniteDifferencesInEvaluation) {
  gradient_check(false, test_seed(21));
}

TEST(Network, GradientMatchesFiniteDifferencesWithDropout) {
  gradient_check(true, test_seed(22));
}

// ---- init ----

TEST(Params, HeNormalStatisticsAndDeterminism) {
  NetConfig cfg = narrow_config();
  cfg.conv1 = 64;
  cfg.conv2 = 32;
  cfg.conv3 = 32;
  cfg.fc = 64;
  const std::uint64_t seed = test_seed(31);
  Params p = init_params(cfg, seed, Device::cpu);
  const std::int64_t fan_ins[] = {25, 64 * 25, 32 * 25, cfg.fc1_inputs(), 64};
  auto named = p.named();
  for (int t = 0; t < 10; ++t) {
    const Vec v = to_double(*named[t].second);
    if (t % 2 == 1) {
      EXPECT_EQ(max_abs(v), 0.0) << named[t].first << " must start at zero";
      continue;
    }
    const double n = static_cast<double>(v.size());
    const double sigma = std::sqrt(2.0 / fan_ins[t / 2]);
    double sum = 0, sum_sq = 0, within_one = 0;
    for (double x : v) {
      sum += x;
      sum_sq += x * x;
      within_one += std::abs(x) < sigma;
    }
    const double mean = sum / n;
    const double std_dev = std::sqrt(sum_sq / n - mean * mean);
    // 5 standard errors: mean σ/√n, std σ/√(2n), P(|z| < 1) = 0.6827 with √(p(1−p)/n).
    EXPECT_LT(std::abs(mean), 5 * sigma / std::sqrt(n)) << named[t].first;
    EXPECT_LT(std::abs(std_dev / sigma - 1), 5 / std::sqrt(2 * n)) << named[t].first;
    EXPECT_LT(std::abs(within_one / n - 0.6827), 5 * std::sqrt(0.6827 * 0.3173 / n))
        << named[t].first;
  }

  // Same seed, same bits; another seed, other values.
  Params again = init_params(cfg, seed, Device::cpu);
  Params other = init_params(cfg, seed + 1, Device::cpu);
  for (int t = 0; t < 10; t += 2) {
    EXPECT_EQ(named[t].second->to_vector<float>(), again.named()[t].second->to_vector<float>());
    EXPECT_NE(named[t].second->to_vector<float>(), other.named()[t].second->to_vector<float>());
  }

  // The paper's literal N(0, 1).
  Params literal = init_params(cfg, seed, Device::cpu, /*literal_unit_gaussian=*/true);
  const Vec w = to_double(literal.fc1_weight);
  double sum_sq = 0;
  for (double x : w) sum_sq += x * x;
  EXPECT_NEAR(std::sqrt(sum_sq / w.size()), 1.0, 5 / std::sqrt(2.0 * w.size()));
}

// ---- SGD ----

TEST(Network, SgdStepEqualsTheFormula) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(41));
  Params params = random_params(cfg, rng), grads = Params::zeros(cfg, Device::cpu),
         momentum = Params::zeros(cfg, Device::cpu);
  for (auto& [name, t] : grads.named()) *t = random_tensor(t->shape(), rng);
  for (auto& [name, t] : momentum.named()) *t = random_tensor(t->shape(), rng);
  const Params w0 = params.to(Device::cpu), v0 = momentum.to(Device::cpu);
  SgdConfig sgd;
  sgd.lr = 0.05f;
  sgd.momentum = 0.9f;
  sgd.weight_decay = 0.01f;
  Network<CpuOps>(cfg).sgd_step(params, grads, momentum, sgd);
  for (int t = 0; t < 10; ++t) {
    const Vec w = to_double(*w0.named()[t].second), v = to_double(*v0.named()[t].second),
              g = to_double(*grads.named()[t].second);
    Vec w_expected(w.size()), v_expected(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      v_expected[i] = double(sgd.momentum) * v[i] + (g[i] + double(sgd.weight_decay) * w[i]);
      w_expected[i] = w[i] - double(sgd.lr) * v_expected[i];
    }
    const std::string name = params.named()[t].first;
    expect_close(to_double(*momentum.named()[t].second), v_expected, 1e-6, 1e-6,
                 "momentum " + name);
    expect_close(to_double(*params.named()[t].second), w_expected, 1e-6, 1e-6, "weights " + name);
  }
}

// Forward + backward + SGD together: a few steps on one fixed batch must fit it.
TEST(Network, TrainingStepsFitAFixedBatch) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(42));
  const int n = 8;
  Params params = init_params(cfg, rng(), Device::cpu);
  Params grads, momentum = Params::zeros(cfg, Device::cpu);
  Tensor x = random_tensor({n, 1, 32, 32}, rng);
  Tensor labels = random_labels(n, cfg.classes, rng);
  Network<CpuOps> net(cfg);
  Activations acts;
  SgdConfig sgd;
  sgd.lr = 1e-3f;
  std::vector<float> losses;
  for (int step = 0; step < 30; ++step) {
    net.forward(params, x, false, {}, acts);
    losses.push_back(net.backward(params, acts, labels, grads));
    net.sgd_step(params, grads, momentum, sgd);
  }
  EXPECT_LT(losses.back(), 0.5f * losses.front())
      << "loss went from " << losses.front() << " to " << losses.back();
}

// ---- deconvnet projection ----

// The input gradient of conv3 activation (map, y, x) of `image` when every ReLU's backward is
// replaced by ReLU of the incoming gradient, computed with the reference network's own switches.
Vec ref_modified_gradient(const NetConfig& cfg, const RefParams& r, const RefForward& f, int image,
                          int map, int y, int x) {
  const int s = cfg.input_size, c1 = cfg.conv1, c2 = cfg.conv2, c3 = cfg.conv3;
  auto image_switches = [](const std::vector<std::int32_t>& all, int image, std::size_t per) {
    return std::vector<std::int32_t>(all.begin() + image * per, all.begin() + (image + 1) * per);
  };
  Vec g3(static_cast<std::size_t>(c3) * (s / 4) * (s / 4), 0.0);
  g3[(map * (s / 4) + y) * (s / 4) + x] = 1.0;
  ref_relu(g3);
  Vec g_pool2 = ref_conv_transpose(g3, 1, c2, s / 4, s / 4, r.w3, c3);
  Vec g_conv2 = ref_unpool(g_pool2, image_switches(f.switches2, image, c2 * (s / 4) * (s / 4)), c2,
                           s / 2, s / 2);
  ref_relu(g_conv2);
  Vec g_pool1 = ref_conv_transpose(g_conv2, 1, c1, s / 2, s / 2, r.w2, c2);
  Vec g_conv1 =
      ref_unpool(g_pool1, image_switches(f.switches1, image, c1 * (s / 2) * (s / 2)), c1, s, s);
  ref_relu(g_conv1);
  return ref_conv_transpose(g_conv1, 1, 1, s, s, r.w1, c1);
}

struct ProjectionFixture {
  NetConfig cfg;
  Params params;
  Tensor x;
  Activations acts;
  RefParams ref;
  RefForward forward;

  ProjectionFixture(int input_size, std::uint64_t seed) : cfg(narrow_config(input_size)) {
    std::mt19937_64 rng(seed);
    params = random_params(cfg, rng);
    x = random_tensor({2, 1, input_size, input_size}, rng);
    Network<CpuOps>(cfg).forward(params, x, false, {}, acts);
    ref = to_ref(params);
    forward = ref_forward(cfg, ref, to_double(x), 2, {}, 0.0);
  }
  // The map with the largest activation at (y, x) of `image`.
  int strongest_map(int image, int y, int x) const {
    int best = 0;
    for (int m = 1; m < cfg.conv3; ++m) {
      if (value(image, m, y, x) > value(image, best, y, x)) best = m;
    }
    return best;
  }
  double value(int image, int map, int y, int x) const {
    const int s4 = cfg.input_size / 4;
    return forward.conv3[((image * cfg.conv3 + map) * s4 + y) * s4 + x];
  }
};

TEST(Deconv, EqualsTheModifiedGradientTimesTheActivation) {
  const std::uint64_t seed = test_seed(51);
  ProjectionFixture f(32, seed);
  ASSERT_EQ(f.acts.switches1.to_vector<std::int32_t>(), f.forward.switches1);
  ASSERT_EQ(f.acts.switches2.to_vector<std::int32_t>(), f.forward.switches2);
  // Image 1 (so the batch offsets matter), at a corner, an edge and the centre.
  const int positions[][2] = {{0, 0}, {3, 7}, {4, 4}};
  for (const auto& pos : positions) {
    const int image = 1, y = pos[0], x = pos[1];
    const int map = f.strongest_map(image, y, x);
    const double activation = f.value(image, map, y, x);
    ASSERT_GT(activation, 0.0) << "no positive conv3 activation at (" << y << ", " << x << ")";
    Tensor projection = deconv_project<CpuOps>(f.cfg, f.params, f.acts, image, map, y, x);
    ASSERT_EQ(projection.shape(), (Shape{1, 32, 32}));
    Vec expected = ref_modified_gradient(f.cfg, f.ref, f.forward, image, map, y, x);
    for (double& v : expected) v *= activation;
    ASSERT_GT(max_abs(expected), 0.0);
    expect_close(to_double(projection), expected, 1e-5 * max_abs(expected), 1e-4,
                 "projection of map " + std::to_string(map) + " at (" + std::to_string(y) + ", " +
                     std::to_string(x) + "), seed " + std::to_string(seed));
  }
  EXPECT_THROW(deconv_project<CpuOps>(f.cfg, f.params, f.acts, 2, 0, 0, 0), Error);
  EXPECT_THROW(deconv_project<CpuOps>(f.cfg, f.params, f.acts, 0, 0, 8, 0), Error);
}

// Only input rows and columns 4y−14 … 4y+17 (clipped) can be non-zero.
void check_receptive_field(int input_size, const std::vector<std::pair<int, int>>& positions) {
  ProjectionFixture f(input_size, test_seed(61));
  const int s = input_size;
  for (auto [y, x] : positions) {
    const int map = f.strongest_map(0, y, x);
    ASSERT_GT(f.value(0, map, y, x), 0.0);
    const auto projection =
        deconv_project<CpuOps>(f.cfg, f.params, f.acts, 0, map, y, x).to_vector<float>();
    int nonzero_inside = 0;
    for (int row = 0; row < s; ++row)
      for (int col = 0; col < s; ++col) {
        const bool inside =
            row >= 4 * y - 14 && row <= 4 * y + 17 && col >= 4 * x - 14 && col <= 4 * x + 17;
        const float v = projection[row * s + col];
        if (inside) {
          nonzero_inside += v != 0.0f;
        } else {
          ASSERT_EQ(v, 0.0f) << "input " << s << ", position (" << y << ", " << x << "): pixel ("
                             << row << ", " << col << ") outside the receptive field is non-zero";
        }
      }
    EXPECT_GT(nonzero_inside, 0) << "position (" << y << ", " << x << ") projects to nothing";
  }
}

TEST(Deconv, ZeroOutsideTheReceptiveFieldAt32) {
  std::vector<std::pair<int, int>> all;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) all.emplace_back(y, x);
  check_receptive_field(32, all);
}

TEST(Deconv, ZeroOutsideTheReceptiveFieldAt96) {
  check_receptive_field(96, {{0, 0}, {12, 12}, {23, 23}, {5, 17}, {20, 3}});
}

// ---- checkpoint ----

std::filesystem::path temp_path(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("aulens_test_net_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

TEST(Checkpoint, RoundTripIsBitExact) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(71));
  TrainState state;
  state.params = random_params(cfg, rng);
  state.momentum = Params::zeros(cfg, Device::cpu);
  for (auto& [name, t] : state.momentum.named()) *t = random_tensor(t->shape(), rng);
  state.epoch = 3;
  state.step = 1234567890123;
  state.best_accuracy = 0.8123456789012345;
  state.best_epoch = 2;
  state.metadata["run.config"] = "model:\n  conv1: 4\n";
  const auto path = temp_path("roundtrip.safetensors");
  save_checkpoint(path, cfg, state);

  TrainState loaded = load_checkpoint(path, cfg, Device::cpu);
  ASSERT_TRUE(loaded.has_momentum());
  const auto saved_params = state.params.named();  // (a reference into a temporary would dangle)
  for (int t = 0; t < 10; ++t) {
    const auto& [name, saved] = saved_params[t];
    EXPECT_EQ(loaded.params.named()[t].second->to_vector<float>(), saved->to_vector<float>())
        << name;
    EXPECT_EQ(loaded.momentum.named()[t].second->to_vector<float>(),
              state.momentum.named()[t].second->to_vector<float>())
        << "momentum." << name;
  }
  EXPECT_EQ(loaded.epoch, 3);
  EXPECT_EQ(loaded.step, 1234567890123);
  EXPECT_EQ(loaded.best_accuracy, state.best_accuracy);
  EXPECT_EQ(loaded.best_epoch, 2);
  EXPECT_EQ(loaded.metadata, state.metadata);
  const NetConfig read = read_checkpoint_config(path);
  EXPECT_EQ(read.conv3, 16);
  EXPECT_EQ(read.dropout, 0.5f);

  // PyTorch names on disk, no momentum in a weights-only file.
  SafeTensors raw = load_safetensors(path);
  EXPECT_EQ(raw.tensors.count("fc2.bias"), 1u);
  EXPECT_EQ(raw.tensors.count("momentum.conv1.weight"), 1u);
  TrainState weights_only;
  weights_only.params = state.params;
  save_checkpoint(path, cfg, weights_only);
  EXPECT_FALSE(load_checkpoint(path, cfg, Device::cpu).has_momentum());
  std::filesystem::remove_all(path.parent_path());
}

TEST(Checkpoint, MismatchesNameTheFileAndWhatDiffers) {
  const NetConfig cfg = narrow_config();
  std::mt19937_64 rng(test_seed(72));
  TrainState state;
  state.params = random_params(cfg, rng);
  const auto path = temp_path("mismatch.safetensors");
  save_checkpoint(path, cfg, state);

  NetConfig other = cfg;
  other.conv2 = 12;
  try {
    load_checkpoint(path, other, Device::cpu);
    ADD_FAILURE() << "a checkpoint of another network loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mismatch.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("net.conv2"), std::string::npos) << what;
  }

  // A file without aulens metadata (as PyTorch writes it) with one tensor of the wrong shape.
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : state.params.named()) tensors[name] = *t;
  tensors["fc1.weight"] = Tensor::zeros({32, 255}, DType::f32);
  save_safetensors(path, tensors);
  try {
    load_checkpoint(path, cfg, Device::cpu);
    ADD_FAILURE() << "a tensor of the wrong shape loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mismatch.safetensors"), std::string::npos) << what;
    EXPECT_NE(what.find("fc1.weight"), std::string::npos) << what;
  }
  tensors.erase("fc1.weight");
  save_safetensors(path, tensors);
  EXPECT_THROW(load_checkpoint(path, cfg, Device::cpu), Error);

  // A model saved under another prefix (DataParallel's "module.") is named in the error, so the
  // user sees why "conv1.weight" is missing.
  std::map<std::string, Tensor> prefixed;
  for (const auto& [name, t] : state.params.named()) prefixed["module." + name] = *t;
  save_safetensors(path, prefixed);
  try {
    load_checkpoint(path, cfg, Device::cpu);
    ADD_FAILURE() << "a prefixed state_dict loaded";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("\"conv1.weight\" is missing"), std::string::npos) << what;
    EXPECT_NE(what.find("\"module.conv1.bias\""), std::string::npos) << what;
    EXPECT_NE(what.find("and 4 more"), std::string::npos) << what;
  }

  // A model with a layer this network lacks (batch norm) is another model: refused, not analysed
  // without it.
  for (const auto& [name, t] : state.params.named()) tensors[name] = *t;
  tensors["bn1.running_mean"] = Tensor::zeros({4}, DType::f32);
  save_safetensors(path, tensors);
  try {
    load_checkpoint(path, cfg, Device::cpu);
    ADD_FAILURE() << "a model with an extra layer loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"bn1.running_mean\" is not a parameter"),
              std::string::npos)
        << e.what();
  }
  tensors.erase("bn1.running_mean");
  save_safetensors(path, tensors);
  EXPECT_NO_THROW(load_checkpoint(path, cfg, Device::cpu));
  std::filesystem::remove_all(path.parent_path());
}

}  // namespace
}  // namespace aulens
