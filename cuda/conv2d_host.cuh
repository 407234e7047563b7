// Host-side helpers of the hand-written convolution kernels (cuda/conv2d.cu,
// cuda/conv2d_backward_filter.cu): which tile math the device can run, and its multiprocessor
// count. The tiles themselves are in conv2d_tiles.cuh.
#pragma once

#include <string>

#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "common.cuh"
#include "conv2d_tiles.cuh"

namespace aulens::cuda_detail {

// True when device 0 can run the tensor-core tiles: compute capability 8.0 or newer, and the
// aulens code it runs was compiled (SASS or PTX) for sm_80 or newer, so the tiles are real
// (cuda/conv2d.cu).
bool tensor_tiles_supported();

// The tile math of aulens::conv_math(), checked against the device.
inline TileMath tile_math() {
  const ConvMath math = conv_math();
  if (math == ConvMath::ffma) return TileMath::ffma;
  AULENS_CHECK(tensor_tiles_supported(),
               std::string("conv math '") + conv_math_name(math) +
                   "' needs TF32 tensor cores (compute capability 8.0 or newer); use 'ffma'");
  return math == ConvMath::tf32 ? TileMath::tf32 : TileMath::tf32x3;
}

// Multiprocessor count of device 0 (read once).
inline int multiprocessor_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    AULENS_CUDA_CHECK(cudaGetDevice(&device));
    AULENS_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

}  // namespace aulens::cuda_detail
