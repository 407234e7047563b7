// The seed of a test's fresh random inputs: a new one each run, or AULENS_TEST_SEED's value when
// it is set, so that a failure, which prints its seed, can be run again on the same inputs.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace aulens::testing {

inline std::uint32_t fresh_seed() {
  if (const char* given = std::getenv("AULENS_TEST_SEED"); given != nullptr && *given != '\0')
    return static_cast<std::uint32_t>(std::stoul(given));
  return std::random_device{}();
}

}  // namespace aulens::testing
