// The network's forward pass, backward pass and SGD step (aulens/net.h), written only in terms of
// the backend-neutral ops, so the same code runs on CpuOps and CudaOps.
//
// Glossary: N batch, S input size, c1 c2 c3 conv widths, F fc width, I = c3·(S/8)² fc1 inputs.
#include "aulens/net.h"

namespace aulens {

namespace {

float* f32(Tensor& t) {
  return t.data<float>();
}
const float* f32(const Tensor& t) {
  return t.data<float>();
}
std::int32_t* i32(Tensor& t) {
  return t.data<std::int32_t>();
}
const std::int32_t* i32(const Tensor& t) {
  return t.data<std::int32_t>();
}

struct Layers {
  ConvShape conv1, conv2, conv3;
  PoolShape pool1, pool2, pool3;
  LinearShape fc1, fc2;
};

Layers layer_shapes(const NetConfig& cfg, int n) {
  const int s = cfg.input_size;
  Layers l;
  l.conv1 = {n, 1, s, s, cfg.conv1, 5};
  l.pool1 = {n, cfg.conv1, s, s};
  l.conv2 = {n, cfg.conv1, s / 2, s / 2, cfg.conv2, 5};
  l.pool2 = {n, cfg.conv2, s / 2, s / 2};
  l.conv3 = {n, cfg.conv2, s / 4, s / 4, cfg.conv3, 5};
  l.pool3 = {n, cfg.conv3, s / 4, s / 4};
  l.fc1 = {n, cfg.fc1_inputs(), cfg.fc};
  l.fc2 = {n, cfg.fc, cfg.classes};
  return l;
}

}  // namespace

template <class Ops>
int Network<Ops>::forward_to_pool2(const Params& params, const Tensor& x, Activations& acts) const {
  constexpr Device dev = Ops::device;
  const std::int64_t s = cfg_.input_size;
  params.check(cfg_, dev, "Network::forward parameters");
  AULENS_CHECK(x.dtype() == DType::f32 && x.device() == dev && x.rank() == 4 && x.dim(0) > 0 &&
                   x.dim(1) == 1 && x.dim(2) == s && x.dim(3) == s,
               "Network::forward: input must be (N, 1, " + std::to_string(s) + ", " +
                   std::to_string(s) + ") F32 on " + device_name(dev) + ", got " +
                   shape_string(x.shape()) + " " + dtype_name(x.dtype()) + " on " +
                   device_name(x.device()));
  const std::int64_t n = x.dim(0);
  const Layers l = layer_shapes(cfg_, static_cast<int>(n));
  const std::int64_t c1 = cfg_.conv1, c2 = cfg_.conv2;

  ensure_tensor(acts.conv1, {n, c1, s, s}, DType::f32, dev);
  ensure_tensor(acts.pool1, {n, c1, s / 2, s / 2}, DType::f32, dev);
  ensure_tensor(acts.switches1, {n, c1, s / 2, s / 2}, DType::i32, dev);
  ensure_tensor(acts.conv2, {n, c2, s / 2, s / 2}, DType::f32, dev);
  ensure_tensor(acts.pool2, {n, c2, s / 4, s / 4}, DType::f32, dev);
  ensure_tensor(acts.switches2, {n, c2, s / 4, s / 4}, DType::i32, dev);
  acts.input = x;

  // x (N,1,S,S) → conv1 (N,c1,S,S) → ReLU → pool1 (N,c1,S/2,S/2)
  Ops::conv2d_forward(l.conv1, f32(x), f32(params.conv1_weight), f32(params.conv1_bias),
                      f32(acts.conv1));
  Ops::relu_forward(acts.conv1.numel(), f32(acts.conv1), f32(acts.conv1));
  Ops::maxpool2x2_forward(l.pool1, f32(acts.conv1), f32(acts.pool1), i32(acts.switches1));
  // → conv2 (N,c2,S/2,S/2) → ReLU → pool2 (N,c2,S/4,S/4)
  Ops::conv2d_forward(l.conv2, f32(acts.pool1), f32(params.conv2_weight), f32(params.conv2_bias),
                      f32(acts.conv2));
  Ops::relu_forward(acts.conv2.numel(), f32(acts.conv2), f32(acts.conv2));
  Ops::maxpool2x2_forward(l.pool2, f32(acts.conv2), f32(acts.pool2), i32(acts.switches2));
  return static_cast<int>(n);
}

template <class Ops>
void Network<Ops>::forward(const Params& params, const Tensor& x, bool train, DropoutDraw draw,
                           Activations& acts) const {
  constexpr Device dev = Ops::device;
  const std::int64_t s = cfg_.input_size;
  const std::int64_t n = forward_to_pool2(params, x, acts);
  const Layers l = layer_shapes(cfg_, static_cast<int>(n));
  const std::int64_t c3 = cfg_.conv3, fc = cfg_.fc;
  ensure_tensor(acts.conv3, {n, c3, s / 4, s / 4}, DType::f32, dev);
  ensure_tensor(acts.pool3, {n, c3, s / 8, s / 8}, DType::f32, dev);
  ensure_tensor(acts.switches3, {n, c3, s / 8, s / 8}, DType::i32, dev);
  ensure_tensor(acts.fc1, {n, fc}, DType::f32, dev);
  ensure_tensor(acts.dropout_mask, {n, fc}, DType::u8, dev);
  ensure_tensor(acts.fc1_dropped, {n, fc}, DType::f32, dev);
  ensure_tensor(acts.logits, {n, cfg_.classes}, DType::f32, dev);

  // pool2 → conv3 (N,c3,S/4,S/4) → ReLU → pool3 (N,c3,S/8,S/8), read as (N,I) in PyTorch flatten
  // order
  Ops::conv2d_forward(l.conv3, f32(acts.pool2), f32(params.conv3_weight), f32(params.conv3_bias),
                      f32(acts.conv3));
  Ops::relu_forward(acts.conv3.numel(), f32(acts.conv3), f32(acts.conv3));
  Ops::maxpool2x2_forward(l.pool3, f32(acts.conv3), f32(acts.pool3), i32(acts.switches3));
  // → fc1 (N,F) → ReLU → dropout → fc2 (N,classes)
  Ops::linear_forward(l.fc1, f32(acts.pool3), f32(params.fc1_weight), f32(params.fc1_bias),
                      f32(acts.fc1));
  Ops::relu_forward(acts.fc1.numel(), f32(acts.fc1), f32(acts.fc1));
  // Evaluation is dropout with p = 0: every uniform draw is ≥ 0, so the mask is all ones and the
  // scale 1/(1−0) leaves fc1 bit-exact. This keeps the mask on the device without a fill op.
  acts.dropout_p = train ? cfg_.dropout : 0.0f;
  Ops::dropout_forward(acts.fc1.numel(), acts.dropout_p, draw.seed, draw.offset, f32(acts.fc1),
                       f32(acts.fc1_dropped), acts.dropout_mask.data<std::uint8_t>());
  Ops::linear_forward(l.fc2, f32(acts.fc1_dropped), f32(params.fc2_weight), f32(params.fc2_bias),
                      f32(acts.logits));
}

template <class Ops>
void Network<Ops>::forward_records(const Params& params, const Tensor& x, Activations& acts,
                                   float* value, std::int32_t* position) const {
  AULENS_CHECK(value != nullptr && position != nullptr, "Network::forward_records: null output");
  const int n = forward_to_pool2(params, x, acts);
  const Layers l = layer_shapes(cfg_, n);
  Ops::conv2d_relu_records(l.conv3, f32(acts.pool2), f32(params.conv3_weight),
                           f32(params.conv3_bias), value, position);
}

template <class Ops>
float Network<Ops>::backward(const Params& params, const Activations& acts, const Tensor& labels,
                             Params& grads) const {
  backward_queued(params, acts, labels, grads);
  return scratch_.loss.template to_vector<float>()[0];
}

template <class Ops>
void Network<Ops>::backward_queued(const Params& params, const Activations& acts,
                                   const Tensor& labels, Params& grads) const {
  constexpr Device dev = Ops::device;
  params.check(cfg_, dev, "Network::backward parameters");
  AULENS_CHECK(acts.logits.defined() && acts.logits.rank() == 2 &&
                   acts.logits.dim(1) == cfg_.classes && acts.logits.device() == dev,
               "Network::backward: run forward with this network first");
  const std::int64_t n = acts.logits.dim(0);
  AULENS_CHECK(labels.dtype() == DType::i32 && labels.device() == dev && labels.rank() == 1 &&
                   labels.dim(0) == n,
               "Network::backward: labels must be (" + std::to_string(n) + ",) I32 on " +
                   device_name(dev) + ", got " + shape_string(labels.shape()) + " " +
                   dtype_name(labels.dtype()) + " on " + device_name(labels.device()));
  const Layers l = layer_shapes(cfg_, static_cast<int>(n));
  {
    auto shapes = Params::shapes(cfg_);
    auto tensors = grads.named();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      ensure_tensor(*tensors[i].second, shapes[i].second, DType::f32, dev);
    }
  }
  Scratch& g = scratch_;
  ensure_tensor(g.loss, {1}, DType::f32, dev);
  ensure_tensor(g.d_logits, acts.logits.shape(), DType::f32, dev);
  ensure_tensor(g.d_fc1_dropped, acts.fc1.shape(), DType::f32, dev);
  ensure_tensor(g.d_fc1, acts.fc1.shape(), DType::f32, dev);
  ensure_tensor(g.d_pool3, acts.pool3.shape(), DType::f32, dev);
  ensure_tensor(g.d_conv3, acts.conv3.shape(), DType::f32, dev);
  ensure_tensor(g.d_pool2, acts.pool2.shape(), DType::f32, dev);
  ensure_tensor(g.d_conv2, acts.conv2.shape(), DType::f32, dev);
  ensure_tensor(g.d_pool1, acts.pool1.shape(), DType::f32, dev);
  ensure_tensor(g.d_conv1, acts.conv1.shape(), DType::f32, dev);

  // loss and d_logits (N,classes) = (softmax − onehot)/N
  Ops::softmax_cross_entropy(static_cast<int>(n), cfg_.classes, f32(acts.logits), i32(labels),
                             f32(g.loss), f32(g.d_logits));
  // fc2: d_fc2.weight, d_fc2.bias, d_fc1_dropped (N,F)
  Ops::linear_backward_weight(l.fc2, f32(acts.fc1_dropped), f32(g.d_logits), f32(grads.fc2_weight),
                              f32(grads.fc2_bias));
  Ops::linear_backward_data(l.fc2, f32(g.d_logits), f32(params.fc2_weight), f32(g.d_fc1_dropped));
  // dropout, then ReLU (through its post-ReLU output) in place: d_fc1 (N,F)
  Ops::dropout_backward(acts.fc1.numel(), acts.dropout_p, acts.dropout_mask.data<std::uint8_t>(),
                        f32(g.d_fc1_dropped), f32(g.d_fc1));
  Ops::relu_backward(acts.fc1.numel(), f32(acts.fc1), f32(g.d_fc1), f32(g.d_fc1));
  // fc1: weights from pool3 read as (N,I); d_pool3 (N,I) = (N,c3,S/8,S/8)
  Ops::linear_backward_weight(l.fc1, f32(acts.pool3), f32(g.d_fc1), f32(grads.fc1_weight),
                              f32(grads.fc1_bias));
  Ops::linear_backward_data(l.fc1, f32(g.d_fc1), f32(params.fc1_weight), f32(g.d_pool3));
  // pool3 → conv3 (ReLU) → weights from pool2, d_pool2
  Ops::max_unpool2x2(l.pool3, f32(g.d_pool3), i32(acts.switches3), f32(g.d_conv3));
  Ops::relu_backward(acts.conv3.numel(), f32(acts.conv3), f32(g.d_conv3), f32(g.d_conv3));
  Ops::conv2d_backward_filter(l.conv3, f32(acts.pool2), f32(g.d_conv3), f32(grads.conv3_weight),
                              f32(grads.conv3_bias));
  Ops::conv2d_backward_data(l.conv3, f32(g.d_conv3), f32(params.conv3_weight), f32(g.d_pool2));
  // pool2 → conv2 (ReLU) → weights from pool1, d_pool1
  Ops::max_unpool2x2(l.pool2, f32(g.d_pool2), i32(acts.switches2), f32(g.d_conv2));
  Ops::relu_backward(acts.conv2.numel(), f32(acts.conv2), f32(g.d_conv2), f32(g.d_conv2));
  Ops::conv2d_backward_filter(l.conv2, f32(acts.pool1), f32(g.d_conv2), f32(grads.conv2_weight),
                              f32(grads.conv2_bias));
  Ops::conv2d_backward_data(l.conv2, f32(g.d_conv2), f32(params.conv2_weight), f32(g.d_pool1));
  // pool1 → conv1 (ReLU) → weights from the input (no input gradient is needed)
  Ops::max_unpool2x2(l.pool1, f32(g.d_pool1), i32(acts.switches1), f32(g.d_conv1));
  Ops::relu_backward(acts.conv1.numel(), f32(acts.conv1), f32(g.d_conv1), f32(g.d_conv1));
  Ops::conv2d_backward_filter(l.conv1, f32(acts.input), f32(g.d_conv1), f32(grads.conv1_weight),
                              f32(grads.conv1_bias));
}

template <class Ops>
void Network<Ops>::sgd_step(Params& params, const Params& grads, Params& momentum,
                            const SgdConfig& sgd) const {
  constexpr Device dev = Ops::device;
  params.check(cfg_, dev, "Network::sgd_step parameters");
  grads.check(cfg_, dev, "Network::sgd_step gradients");
  momentum.check(cfg_, dev, "Network::sgd_step momentum");
  auto w = params.named();
  auto g = grads.named();
  auto v = momentum.named();
  for (std::size_t i = 0; i < w.size(); ++i) {
    Ops::sgd_update(w[i].second->numel(), sgd, f32(*w[i].second), f32(*g[i].second),
                    f32(*v[i].second));
  }
}

template class Network<CpuOps>;
#ifdef AULENS_HAVE_CUDA
template class Network<CudaOps>;
template class Network<CudnnOps>;
#endif

}  // namespace aulens
