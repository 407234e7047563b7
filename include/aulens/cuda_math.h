// The math modes of aulens' CUDA products, without CUDA types: the hand-written convolutions
// (conv_math) and the cuBLAS products of the fully connected layers (cublas_tf32). cuDNN's mode is
// set separately (aulens/cudnn_conv.h).
//
// Hand-written convolutions (cuda/conv2d*.cu) and projections run in one of four modes:
//   ffma    — fp32 FFMA on the CUDA cores (the default; the reference GPU path);
//   tf32x3  — 3×TF32 error-compensated tensor-core products: fp32-level accuracy (DESIGN §5);
//   tf32    — plain TF32 tensor-core products (about 10 mantissa bits per product);
//   fastest — fp32-accurate, whichever is faster on this GPU: the first launch for each operation
//             and shape times the FFMA and (with tensor cores) 3×TF32 kernels and their tile
//             shapes, and later launches use the winner (conv_tuning_choices() lists them). Both
//             are fp32-accurate, but they round differently, so GPU results are no longer
//             bit-identical from run to run unless the same kernels win.
// tf32x3 and tf32 need compute capability 8.0 or newer; the launchers throw otherwise.
//
// By default every cuBLAS sgemm runs in plain fp32 (CUBLAS_DEFAULT_MATH: no TF32 tensor cores),
// so the CUDA twin matches the CPU reference at float32 level. set_cublas_tf32(true) lets
// cuBLAS use TF32 tensor cores (about 10 mantissa bits per product) for the "TF32" benchmark
// mode. The flag is read before every product, so it can be flipped between calls.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace aulens {

enum class ConvMath { ffma, tf32x3, tf32, fastest };

namespace detail {
inline std::atomic<bool>& cublas_tf32_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
inline std::atomic<ConvMath>& conv_math_mode() {
  static std::atomic<ConvMath> mode{ConvMath::ffma};
  return mode;
}
}  // namespace detail

// Read by every hand-written convolution launch, so it can be changed between calls.
inline void set_conv_math(ConvMath math) {
  detail::conv_math_mode().store(math);
}
inline ConvMath conv_math() {
  return detail::conv_math_mode().load();
}
// True when the GPU can run the tensor-core modes (tf32x3, tf32): compute capability 8.0 or
// newer and aulens compiled for it. False without a GPU or in a build without CUDA.
bool conv_tensor_cores_available();

// The hand-written conv mode a config asks for: train.tf32 wins, else train.fp32_conv ("ffma",
// "3xtf32" or "fastest"). The trainer and the visualize stage (records and projections) both
// apply it.
inline ConvMath conv_math_for(bool tf32, const std::string& fp32_conv) {
  if (tf32) return ConvMath::tf32;
  if (fp32_conv == "3xtf32") return ConvMath::tf32x3;
  if (fp32_conv == "fastest") return ConvMath::fastest;
  return ConvMath::ffma;
}

// The kernels the "fastest" mode chose so far in this process, one line per operation and shape,
// the winner first and then every candidate's time ("conv forward N=64 C=64 48×48 K=128 R=5:
// <winner> (<candidate> 0.412 ms; <candidate> 1.930 ms; …)"). Empty until a "fastest" launch, and
// without CUDA; the list is kept when the mode changes afterwards.
std::vector<std::string> conv_tuning_choices();
// For tests: in the "fastest" mode every tuned launch runs its candidate `index` (modulo their
// number, in the order conv_tuning_choices lists them) instead of the tuner's choice, untimed, so
// that each candidate, not only the winners, can be checked against the CPU twin; −1 (the
// default) goes back to the tuner. No effect without CUDA.
void force_conv_candidate(int index);

inline const char* conv_math_name(ConvMath math) {
  switch (math) {
    case ConvMath::ffma:
      return "ffma";
    case ConvMath::tf32x3:
      return "3xtf32";
    case ConvMath::tf32:
      return "tf32";
    case ConvMath::fastest:
      return "fastest";
  }
  return "?";
}

inline void set_cublas_tf32(bool enabled) {
  detail::cublas_tf32_flag().store(enabled);
}
inline bool cublas_tf32() {
  return detail::cublas_tf32_flag().load();
}

}  // namespace aulens
