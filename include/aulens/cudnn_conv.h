// cuDNN as a second convolution backend, with exactly the contract of the conv2d ops in
// aulens/ops_decl.inc (device pointers, queued on the aulens stream, outputs overwritten).
// Used by CudnnOps (aulens/ops.h) and by the benchmarks, to compare the hand-written kernels
// with cuDNN in the same process. No CUDA types here; implemented in cuda/conv2d_cudnn.cu
// (builds without CUDA get stubs that throw, src/cpu/cudnn_conv_stub.cpp).
//
// Algorithms are chosen once per (shape, math mode) by timing (cudnnFind*), among those that sum
// the convolution's products directly (GEMM forms, direct; no FFT or Winograd, whose errors on an
// H200 went far beyond fp32 rounding), restricted to fp32-accurate kernels (CUDNN_FMA_MATH: no
// TF32) unless set_cudnn_math(true) allows TF32.
#pragma once

#include <cstdint>
#include <string>

namespace aulens {

struct ConvShape;

struct CudnnConv {
  // x: (N,C,H,W)  w: (K,C,R,R)  b: (K) or nullptr  y: (N,K,H,W)
  static void forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
  // forward into a scratch buffer, then CudaOps::relu_forward and max_records: the contract of
  // conv2d_relu_records (value, position (N,K)).
  static void forward_relu_records(const ConvShape& s, const float* x, const float* w,
                                   const float* b, float* value, std::int32_t* position);
  // dy: (N,K,H,W)  w: (K,C,R,R)  dx: (N,C,H,W)
  static void backward_data(const ConvShape& s, const float* dy, const float* w, float* dx);
  // x: (N,C,H,W)  dy: (N,K,H,W)  dw: (K,C,R,R)  db: (K) or nullptr
  static void backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw,
                              float* db);
  // One line per shape and math mode used so far: the algorithm chosen for each direction, its
  // time in the search, and the results ranked ahead of it that were left out, each with why
  // (FFT/Winograd, workspace over 512 MiB, or math type).
  static std::string algorithms();
};

// false (default): fp32-accurate FMA kernels only; true: TF32 tensor-core kernels allowed.
void set_cudnn_math(bool tf32);
bool cudnn_math_tf32();

}  // namespace aulens
