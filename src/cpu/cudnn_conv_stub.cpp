// aulens/cudnn_conv.h when aulens is built without CUDA: every call throws a clear error, so a
// CPU-only build still links code that names CudnnOps (cuda/conv2d_cudnn.cu is the real one).
#ifndef AULENS_HAVE_CUDA

#include "aulens/check.h"
#include "aulens/cudnn_conv.h"

namespace aulens {

namespace {
[[noreturn]] void no_cudnn() {
  throw Error("the cuDNN convolution backend needs an aulens built with CUDA (AULENS_CUDA=ON)");
}
bool g_allow_tf32 = false;
}  // namespace

void CudnnConv::forward(const ConvShape&, const float*, const float*, const float*, float*) {
  no_cudnn();
}
void CudnnConv::forward_relu_records(const ConvShape&, const float*, const float*, const float*,
                                     float*, std::int32_t*) {
  no_cudnn();
}
void CudnnConv::backward_data(const ConvShape&, const float*, const float*, float*) {
  no_cudnn();
}
void CudnnConv::backward_filter(const ConvShape&, const float*, const float*, float*, float*) {
  no_cudnn();
}
void set_cudnn_math(bool tf32) {
  g_allow_tf32 = tf32;
}
bool cudnn_math_tf32() {
  return g_allow_tf32;
}

}  // namespace aulens

#endif  // AULENS_HAVE_CUDA
