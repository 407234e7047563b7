// The expression-recognition CNN of DESIGN §1.1, generic over the op backend (CpuOps or CudaOps).
//
//   x (N,1,S,S) → conv1 (c1,5×5) → ReLU → pool1 (switches) → conv2 (c2) → ReLU → pool2 (switches)
//   → conv3 (c3) → ReLU → pool3 (switches) → fc1 (c3·(S/8)² → fc) → ReLU → dropout → fc2 → logits
//
// Parameters carry PyTorch's names and layouts (conv*.weight OIHW, fc*.weight (out,in)), so a
// checkpoint is a plain safetensors file of `Params::named()`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "aulens/ops.h"
#include "aulens/tensor.h"

namespace aulens {

struct NetConfig {
  int input_size = 96;  // S; must be divisible by 8
  int conv1 = 64;
  int conv2 = 128;
  int conv3 = 256;
  int fc = 1024;
  int classes = 7;
  float dropout = 0.5f;
  int fc1_inputs() const { return conv3 * (input_size / 8) * (input_size / 8); }
};

// Weights and biases (also used for their gradients and the SGD momentum buffers).
struct Params {
  Tensor conv1_weight, conv1_bias;  // (c1,1,5,5) (c1)
  Tensor conv2_weight, conv2_bias;  // (c2,c1,5,5) (c2)
  Tensor conv3_weight, conv3_bias;  // (c3,c2,5,5) (c3)
  Tensor fc1_weight, fc1_bias;      // (fc, c3·(S/8)²) (fc)
  Tensor fc2_weight, fc2_bias;      // (classes, fc) (classes)

  // Zero-filled tensors of the network's shapes on `device`.
  static Params zeros(const NetConfig& cfg, Device device);
  // PyTorch names in module order: "conv1.weight", "conv1.bias", …, "fc2.bias".
  std::vector<std::pair<std::string, Tensor*>> named();
  std::vector<std::pair<std::string, const Tensor*>> named() const;
  Params to(Device device) const;

  // The PyTorch names with the shapes they must have for `cfg`, in module order.
  static std::vector<std::pair<std::string, Shape>> shapes(const NetConfig& cfg);
  // Throws aulens::Error naming `what` and the first tensor that is missing, not fp32, not on
  // `device` or not of the shape `cfg` requires.
  void check(const NetConfig& cfg, Device device, const std::string& what) const;
};

// He-normal (Kaiming, fan-in, ReLU gain) weights and zero biases, deterministic for `seed` and
// independent of the device: weight std = sqrt(2 / fan_in), fan_in = C·R·R (conv) or I (fc).
// Weight element i of the t-th tensor in named() order (t = 0, 2, 4, 6, 8) is the Box–Muller
// normal sqrt(−2 ln u1)·cos(2π u2) of the two 32-bit halves of random_bits(seed, (t << 40) + i)
// (u1 from the high half, shifted into (0, 1]); drawn on the host in double, rounded to fp32 once.
// `literal_unit_gaussian` draws every weight from N(0, 1) instead, the paper's literal setting
// (which diverges for this network; kept for completeness).
Params init_params(const NetConfig& cfg, std::uint64_t seed, Device device,
                   bool literal_unit_gaussian = false);

// Everything the forward pass keeps for the backward pass and the analysis: named tensors, no
// hidden state. Post-ReLU activations; switches as in CpuOps::maxpool2x2_forward.
struct Activations {
  Tensor input;                    // (N,1,S,S) the batch it was run on (shared, not copied)
  Tensor conv1, pool1, switches1;  // (N,c1,S,S) (N,c1,S/2,S/2) int32
  Tensor conv2, pool2, switches2;  // (N,c2,S/2,S/2) (N,c2,S/4,S/4) int32
  Tensor conv3, pool3, switches3;  // (N,c3,S/4,S/4) (N,c3,S/8,S/8) int32
  Tensor fc1;                      // (N,fc) after ReLU
  Tensor dropout_mask;             // (N,fc) uint8 (all ones in evaluation)
  Tensor fc1_dropped;              // (N,fc) after dropout (a copy of fc1 in evaluation)
  Tensor logits;                   // (N,classes)
  float dropout_p = 0.0f;          // the p forward applied: cfg.dropout training, 0 evaluation
};

// The dropout randomness of one forward pass: mask element i of the batch uses counter offset + i.
struct DropoutDraw {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
};

template <class Ops>
class Network {
 public:
  explicit Network(NetConfig cfg) : cfg_(cfg) {}
  const NetConfig& config() const { return cfg_; }

  // Runs the batch `x` (N,1,S,S) on Ops::device through the network. `train` applies dropout
  // with `draw`; evaluation runs the dropout op with p = 0 (mask all ones, fc1_dropped = fc1).
  // Buffers in `acts` are (re)allocated when N (or the config or device) changes, else reused.
  void forward(const Params& params, const Tensor& x, bool train, DropoutDraw draw,
               Activations& acts) const;

  // The evaluation forward pass up to pool2 (acts.conv1 … acts.switches2, as forward fills them),
  // then conv3's activation records without the conv3 maps: value and position (N, c3) on
  // Ops::device, as max_records over ReLU(conv3) (Ops::conv2d_relu_records, fused on the GPU).
  // acts.conv3 and everything after it are left untouched.
  void forward_records(const Params& params, const Tensor& x, Activations& acts, float* value,
                       std::int32_t* position) const;

  // Mean softmax cross-entropy of acts.logits against `labels` (N) int32, and the gradient of
  // every parameter into `grads` (overwritten; allocated when not of the right shapes). Returns the
  // loss (one float copied to the host). Uses the dropout mask and p recorded in `acts`.
  float backward(const Params& params, const Activations& acts, const Tensor& labels,
                 Params& grads) const;
  // The same without the copy: the loss stays on the device in loss() (1) until the next call, and
  // the host does not wait for the GPU (the trainer reads many steps' losses back at once).
  void backward_queued(const Params& params, const Activations& acts, const Tensor& labels,
                       Params& grads) const;
  const Tensor& loss() const { return scratch_.loss; }

  // One SGD step on every parameter with its gradient and momentum buffer (momentum starts as
  // Params::zeros).
  void sgd_step(Params& params, const Params& grads, Params& momentum, const SgdConfig& sgd) const;

 private:
  // Gradients of the activations: scratch reused by backward while N is unchanged. Because of it
  // one Network object must not run backward from two threads at once (copies share it too).
  struct Scratch {
    Tensor loss;                  // (1)
    Tensor d_logits;              // (N,classes)
    Tensor d_fc1_dropped, d_fc1;  // (N,fc)
    Tensor d_pool3, d_conv3;      // (N,c3,S/8,S/8) (N,c3,S/4,S/4)
    Tensor d_pool2, d_conv2;      // (N,c2,S/4,S/4) (N,c2,S/2,S/2)
    Tensor d_pool1, d_conv1;      // (N,c1,S/2,S/2) (N,c1,S,S)
  };
  // forward's checks and its conv1 → pool2 part, into `acts`; returns the batch size.
  int forward_to_pool2(const Params& params, const Tensor& x, Activations& acts) const;

  NetConfig cfg_;
  mutable Scratch scratch_;
};

// Deconvnet projection (DESIGN §1.5) of conv3 activation (map, y, x) of image `image` of a batch
// whose forward pass is in `acts`: the activation value is kept, every other conv3 activation is
// zeroed, and the signal is taken back through ReLU → conv3ᵀ → unpool2 → ReLU → conv2ᵀ → unpool1 →
// ReLU → conv1ᵀ. Returns (1,S,S) on the Ops' device.
template <class Ops>
Tensor deconv_project(const NetConfig& cfg, const Params& params, const Activations& acts,
                      int image, int map, int y, int x);

}  // namespace aulens
