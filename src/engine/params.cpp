// The network's parameter set (aulens/net.h): PyTorch names and shapes, zero and device copies,
// shape checks, and the deterministic He-normal initialisation.
#include <cmath>
#include <numbers>

#include "aulens/net.h"
#include "aulens/rng.h"

namespace aulens {

namespace {

constexpr int kKernel = 5;  // every conv layer is 5×5

// The ten tensors in module order, as members, so names and storage cannot drift apart.
template <class P, class T>
std::vector<std::pair<std::string, T*>> named_members(P& p) {
  return {{"conv1.weight", &p.conv1_weight}, {"conv1.bias", &p.conv1_bias},
          {"conv2.weight", &p.conv2_weight}, {"conv2.bias", &p.conv2_bias},
          {"conv3.weight", &p.conv3_weight}, {"conv3.bias", &p.conv3_bias},
          {"fc1.weight", &p.fc1_weight},     {"fc1.bias", &p.fc1_bias},
          {"fc2.weight", &p.fc2_weight},     {"fc2.bias", &p.fc2_bias}};
}

// fan_in of a weight tensor: every dimension but the first (C·R·R or I).
std::int64_t fan_in(const Shape& shape) {
  std::int64_t f = 1;
  for (std::size_t i = 1; i < shape.size(); ++i) f *= shape[i];
  return f;
}

// Standard normal number `counter` of stream `seed` (Box–Muller, cosine branch, double).
double standard_normal(std::uint64_t seed, std::uint64_t counter) {
  std::uint64_t bits = random_bits(seed, counter);
  double u1 = (static_cast<double>(bits >> 32) + 1.0) * (1.0 / 4294967296.0);    // (0, 1]
  double u2 = static_cast<double>(bits & 0xFFFFFFFFull) * (1.0 / 4294967296.0);  // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace

std::vector<std::pair<std::string, Shape>> Params::shapes(const NetConfig& cfg) {
  AULENS_CHECK(cfg.input_size > 0 && cfg.input_size % 8 == 0,
               "NetConfig.input_size must be a positive multiple of 8, got " +
                   std::to_string(cfg.input_size));
  AULENS_CHECK(cfg.conv1 > 0 && cfg.conv2 > 0 && cfg.conv3 > 0 && cfg.fc > 0 && cfg.classes > 1,
               "NetConfig widths must be positive and classes ≥ 2");
  const std::int64_t r = kKernel;
  return {{"conv1.weight", {cfg.conv1, 1, r, r}},         {"conv1.bias", {cfg.conv1}},
          {"conv2.weight", {cfg.conv2, cfg.conv1, r, r}}, {"conv2.bias", {cfg.conv2}},
          {"conv3.weight", {cfg.conv3, cfg.conv2, r, r}}, {"conv3.bias", {cfg.conv3}},
          {"fc1.weight", {cfg.fc, cfg.fc1_inputs()}},     {"fc1.bias", {cfg.fc}},
          {"fc2.weight", {cfg.classes, cfg.fc}},          {"fc2.bias", {cfg.classes}}};
}

std::vector<std::pair<std::string, Tensor*>> Params::named() {
  return named_members<Params, Tensor>(*this);
}

std::vector<std::pair<std::string, const Tensor*>> Params::named() const {
  return named_members<const Params, const Tensor>(*this);
}

Params Params::zeros(const NetConfig& cfg, Device device) {
  Params p;
  auto shapes = Params::shapes(cfg);
  auto tensors = p.named();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    *tensors[i].second = Tensor::zeros(shapes[i].second, DType::f32, device);
  }
  return p;
}

Params Params::to(Device device) const {
  Params out;
  auto src = named();
  auto dst = out.named();
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i].second->defined()) *dst[i].second = src[i].second->to(device);
  }
  return out;
}

void Params::check(const NetConfig& cfg, Device device, const std::string& what) const {
  auto shapes = Params::shapes(cfg);
  auto tensors = named();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;
    const Tensor& t = *tensors[i].second;
    AULENS_CHECK(t.defined() && !t.shape().empty(), what + ": " + name + " is missing");
    AULENS_CHECK(t.dtype() == DType::f32,
                 what + ": " + name + " is " + dtype_name(t.dtype()) + ", expected F32");
    AULENS_CHECK(t.device() == device, what + ": " + name + " is on " + device_name(t.device()) +
                                           ", expected " + device_name(device));
    AULENS_CHECK(t.shape() == shapes[i].second,
                 what + ": " + name + " has shape " + shape_string(t.shape()) + ", the network (" +
                     std::to_string(cfg.conv1) + "/" + std::to_string(cfg.conv2) + "/" +
                     std::to_string(cfg.conv3) + ", fc " + std::to_string(cfg.fc) + ", " +
                     std::to_string(cfg.classes) + " classes, input " +
                     std::to_string(cfg.input_size) + ") needs " + shape_string(shapes[i].second));
  }
}

Params init_params(const NetConfig& cfg, std::uint64_t seed, Device device,
                   bool literal_unit_gaussian) {
  Params host = Params::zeros(cfg, Device::cpu);  // biases stay zero
  auto tensors = host.named();
  for (std::size_t t = 0; t < tensors.size(); t += 2) {  // weights only: even positions
    Tensor& w = *tensors[t].second;
    const double std_dev = literal_unit_gaussian ? 1.0 : std::sqrt(2.0 / fan_in(w.shape()));
    const std::uint64_t base = static_cast<std::uint64_t>(t) << 40;
    float* values = w.data<float>();
    const std::int64_t count = w.numel();
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < count; ++i) {
      values[i] = static_cast<float>(std_dev * standard_normal(seed, base + i));
    }
  }
  return device == Device::cpu ? host : host.to(device);
}

}  // namespace aulens
