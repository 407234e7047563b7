// The math mode of aulens' cuBLAS products (the fully connected layers), without CUDA types.
//
// By default every cuBLAS sgemm runs in plain fp32 (CUBLAS_DEFAULT_MATH: no TF32 tensor cores),
// so the CUDA twin matches the CPU reference at float32 level. set_cublas_tf32(true) lets
// cuBLAS use TF32 tensor cores (about 10 mantissa bits per product) for the "TF32" benchmark
// mode. The flag is read before every product, so it can be flipped between calls.
#pragma once

#include <atomic>

namespace aulens {

namespace detail {
inline std::atomic<bool>& cublas_tf32_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}
}  // namespace detail

inline void set_cublas_tf32(bool enabled) {
  detail::cublas_tf32_flag().store(enabled);
}
inline bool cublas_tf32() {
  return detail::cublas_tf32_flag().load();
}

}  // namespace aulens
