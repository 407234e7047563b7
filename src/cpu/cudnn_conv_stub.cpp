// aulens/cudnn_conv.h when aulens is built without CUDA, and in the emulated CUDA build of the
// tests (AULENS_CUDNN_STUB, CMake target aulens_emulated_lib): every call throws a clear error, so
// these builds still link code that names CudnnOps (cuda/conv2d_cudnn.cu is the real one).
#if !defined(AULENS_HAVE_CUDA) || defined(AULENS_CUDNN_STUB)

#include "aulens/check.h"
#include "aulens/cudnn_conv.h"

namespace aulens {

namespace {
[[noreturn]] void no_cudnn() {
#if defined(AULENS_CUDNN_STUB)
  throw Error("the cuDNN convolution backend is not part of the emulated CUDA build");
#else
  throw Error("the cuDNN convolution backend needs an aulens built with CUDA (AULENS_CUDA=ON)");
#endif
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
std::string CudnnConv::algorithms() {
  return {};  // no cuDNN, so no plan was ever made
}
void set_cudnn_math(bool tf32) {
  g_allow_tf32 = tf32;
}
bool cudnn_math_tf32() {
  return g_allow_tf32;
}

}  // namespace aulens

#endif  // !AULENS_HAVE_CUDA || AULENS_CUDNN_STUB
