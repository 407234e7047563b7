// Host-side helpers of the hand-written convolution kernels (cuda/conv2d.cu,
// cuda/conv2d_backward_filter.cu, cuda/deconv_window.cu): which tile maths the device can run,
// the "fastest" mode's tuner, and the multiprocessor count. The tiles themselves are in
// conv2d_tiles.cuh.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "common.cuh"
#include "conv2d_tiles.cuh"
#include "launch_tuner.h"

namespace aulens::cuda_detail {

// True when device 0 can run the tensor-core tiles: compute capability 8.0 or newer, and the
// aulens code it runs was compiled (SASS or PTX) for sm_80 or newer, so the tiles are real
// (cuda/conv2d.cu).
bool tensor_tiles_supported();

// The tile maths aulens::conv_math() lets a launch use, checked against the device: the mode's
// own, or for "fastest" FFMA and, where the device has tensor cores, 3×TF32.
inline std::vector<TileMath> tile_maths() {
  const ConvMath math = conv_math();
  if (math == ConvMath::ffma) return {TileMath::ffma};
  if (math == ConvMath::fastest) {
    if (tensor_tiles_supported()) return {TileMath::ffma, TileMath::tf32x3};
    return {TileMath::ffma};
  }
  AULENS_CHECK(tensor_tiles_supported(),
               std::string("conv math '") + conv_math_name(math) +
                   "' needs TF32 tensor cores (compute capability 8.0 or newer); use 'ffma'");
  return {math == ConvMath::tf32 ? TileMath::tf32 : TileMath::tf32x3};
}

inline const char* tile_math_name(TileMath math) {
  switch (math) {
    case TileMath::ffma:
      return "ffma";
    case TileMath::tf32:
      return "tf32";
    case TileMath::tf32x3:
      return "3xtf32";
  }
  return "?";
}

// What the "fastest" mode chose for each operation and shape (cuda/launch_tuner.h).
LaunchTuner& conv_tuner();
// force_conv_candidate's index (aulens/cuda_math.h): −1, or the candidate every tuned launch runs.
int forced_conv_candidate();

// Milliseconds per run of `launch` (kernels queued on the aulens stream): one warm-up run, then
// the mean of three between CUDA events. Throws while the stream is being captured into a graph.
double time_launch_ms(const std::function<void()>& launch);

// The operations the tuner tells apart (the first element of its key).
enum class TunedOp {
  conv_forward,
  conv_backward_data,
  conv_relu_records,
  conv_backward_filter,
  projections
};

// run(v) for one of `variants` (each with a name()): the only one, the forced one (tests), or the
// one the tuner picks for `key`, timing each with its side effects the first time (so `run` must
// recompute its outputs from scratch: the last run is the chosen variant's).
template <class Variant, class Run>
void run_fastest(TunedOp op, const std::array<int, 6>& shape, const std::vector<Variant>& variants,
                 Run&& run) {
  if (variants.size() == 1) return run(variants[0]);
  if (const int forced = forced_conv_candidate(); forced >= 0)
    return run(variants[static_cast<std::size_t>(forced) % variants.size()]);
  const LaunchTuner::Key key{
      static_cast<int>(op), shape[0], shape[1], shape[2], shape[3], shape[4], shape[5]};
  std::vector<std::string> names;
  for (const Variant& v : variants) names.push_back(v.name());
  const int chosen = conv_tuner().choose(
      key, names, [&](int i) { return time_launch_ms([&] { run(variants[i]); }); });
  run(variants[chosen]);
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
