// Counter-based random numbers: a pure function of (seed, counter), so the CPU and the GPU draw
// the same value for the same element without sharing state. SplitMix64 finaliser over the
// seed-mixed counter; statistically fine for dropout masks, augmentation parameters and
// permutations (not for cryptography).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define AULENS_HD __host__ __device__
#else
#define AULENS_HD
#endif

namespace aulens {

AULENS_HD inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// 64 random bits for element `counter` of the stream `seed`.
AULENS_HD inline std::uint64_t random_bits(std::uint64_t seed, std::uint64_t counter) {
  return mix64(mix64(seed) + counter * 0x9E3779B97F4A7C15ull);
}

// Uniform float in [0, 1) with 24 random bits.
AULENS_HD inline float uniform01(std::uint64_t seed, std::uint64_t counter) {
  return static_cast<float>(random_bits(seed, counter) >> 40) * (1.0f / 16777216.0f);
}

}  // namespace aulens
