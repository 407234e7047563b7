// The backend-neutral op interface. Every op is declared once, in aulens/ops_decl.inc, and that
// list is included into two structs of static functions:
//   CpuOps  — the reference twins in src/cpu/ (the spec of each kernel), host pointers;
//   CudaOps — the hand-written kernels in cuda/, device pointers, queued on the aulens stream.
// The engine is written against "an Ops type" (a template parameter) and never includes CUDA.
//
// Glossary of dimension letters used in shape comments:
//   N batch, C input channels, K output channels (filters), H W height and width,
//   R kernel size (odd; the network uses 5), I O fully-connected input and output features.
// All tensors are dense row-major fp32 unless stated: NCHW for images, OIHW (K,C,R,R) for
// filters, (O,I) for fully-connected weights, exactly as PyTorch lays them out.
#pragma once

#include <cstdint>
#include <string>

#include "aulens/augment.h"
#include "aulens/cudnn_conv.h"
#include "aulens/tensor.h"

namespace aulens {

// The BLAS under the CPU twins' convolutions and linear layers, as OpenBLAS describes itself, and
// the kernel set it chose for this CPU ("... (kernels: Haswell)"; OPENBLAS_CORETYPE overrides the
// choice). Kernel sets sum in different orders, so CPU training repeats bit for bit only on
// machines whose OpenBLAS picks the same set.
std::string cpu_blas_description();

// "Same" 2-D convolution, stride 1, zero padding R/2 (R odd): output is N×K×H×W.
struct ConvShape {
  int n = 0, c = 0, h = 0, w = 0;  // input (N, C, H, W)
  int k = 0;                       // filters
  int r = 5;                       // kernel size
  int pad() const { return r / 2; }
};

// 2×2 max pooling with stride 2 (floor): output N×C×(H/2)×(W/2).
struct PoolShape {
  int n = 0, c = 0, h = 0, w = 0;  // input (N, C, H, W)
  int out_h() const { return h / 2; }
  int out_w() const { return w / 2; }
};

// Fully connected y = x·wᵀ + b.
struct LinearShape {
  int n = 0, in = 0, out = 0;  // x (N, I), w (O, I), y (N, O)
};

// SGD with momentum and weight decay, PyTorch semantics (dampening 0, no Nesterov):
//   g += weight_decay·w;  v = momentum·v + g;  w -= lr·v
// (PyTorch initialises v to g on the first step; with v starting at zero this is the same.)
struct SgdConfig {
  float lr = 1e-3f;
  float momentum = 0.9f;
  float weight_decay = 1e-4f;
};

struct CpuOps {
  static constexpr Device device = Device::cpu;
#include "aulens/ops_decl.inc"
};

struct CudaOps {
  static constexpr Device device = Device::cuda;
#include "aulens/ops_decl.inc"
};

// CudaOps with cuDNN's convolutions (aulens/cudnn_conv.h) in place of the hand-written ones; every
// other op is CudaOps'. Static member hiding: Network<CudnnOps> runs the same engine on cuDNN.
struct CudnnOps : CudaOps {
  static void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                             float* y) {
    CudnnConv::forward(s, x, w, b, y);
  }
  static void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
    CudnnConv::backward_data(s, dy, w, dx);
  }
  static void conv2d_relu_records(const ConvShape& s, const float* x, const float* w,
                                  const float* b, float* value, std::int32_t* position) {
    CudnnConv::forward_relu_records(s, x, w, b, value, position);
  }
  static void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw,
                                     float* db) {
    CudnnConv::backward_filter(s, x, dy, dw, db);
  }
};

}  // namespace aulens
