// cuDNN in the emulated CUDA build (cuda_runtime.h here): only the handle that cuda/memory.cu
// creates on demand. The cuDNN convolutions (cuda/conv2d_cudnn.cu) are not part of this build;
// CudnnOps throws there (src/cpu/cudnn_conv_stub.cpp).
#pragma once

#include "cuda_runtime.h"

enum cudnnStatus_t { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_SUPPORTED = 9 };
struct cudnnContext {};
using cudnnHandle_t = cudnnContext*;

inline const char* cudnnGetErrorString(cudnnStatus_t status) {
  return status == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_NOT_SUPPORTED";
}
inline cudnnStatus_t cudnnCreate(cudnnHandle_t*) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
inline cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
