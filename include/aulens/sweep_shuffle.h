// The permutations of the AU sweep's permutation test (DESIGN §1.6), shared by the CPU twin and
// the CUDA kernel so both draw exactly the same permutations from aulens/rng.h counters.
//
// Permutation p (0-based) of M images is the Fisher–Yates shuffle
//   for i = M−1 down to 1:  j = ⌊hi32(random_bits(seed', p·M + i)) · (i + 1) / 2³²⌋;  swap(a[i],
//   a[j])
// applied to any per-image array `a` (the packed AU rows), starting from the identity order, with
// seed' = mix64(seed ^ kSweepStream). Under permutation p image i carries the AU row of image
// π_p(i). (The multiply-shift bound has a bias below (i+1)/2³², ≤ 4e-6 at 16,384 images: irrelevant
// for a permutation test.)
#pragma once

#include <cstdint>

#include "aulens/rng.h"

namespace aulens {

constexpr std::uint64_t kSweepStream = 0x5357454550ull;  // "SWEEP": keeps it apart from dropout

AULENS_HD inline std::uint64_t sweep_permutation_seed(std::uint64_t seed) {
  return mix64(seed ^ kSweepStream);
}

// Shuffles rows[0..m) in place with permutation `p` of stream `seed` (see above).
template <class T>
AULENS_HD inline void sweep_shuffle(std::uint64_t seed, std::uint64_t p, std::int64_t m, T* rows) {
  const std::uint64_t stream = sweep_permutation_seed(seed);
  for (std::int64_t i = m - 1; i >= 1; --i) {
    const std::uint64_t bits = random_bits(stream, p * static_cast<std::uint64_t>(m) + i) >> 32;
    const std::int64_t j =
        static_cast<std::int64_t>((bits * static_cast<std::uint64_t>(i + 1)) >> 32);
    const T t = rows[i];
    rows[i] = rows[j];
    rows[j] = t;
  }
}

}  // namespace aulens
