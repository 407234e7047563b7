// How a GPU test meets a machine without a usable GPU: it skips, saying why (CI, the development
// machine). Where AULENS_REQUIRE_GPU=1 (tools/device_check.sh sets it) it fails instead, so a
// device check whose GPU cannot be used (a driver too old for the runtime, say) does not read as
// "every GPU test passed".
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "aulens/device.h"

namespace aulens::testing {

// The GPU suites also build against the emulated CUDA build (AULENS_EMULATED_CUDA; CMake's
// <suite>_emulated targets, tests/emu/runtime), which has the hand-written kernels but not cuDNN,
// and runs them thousands of times slower: there the largest cases shrink (kEmulated) to shapes
// that take the same kernel paths.
#if defined(AULENS_EMULATED_CUDA)
inline constexpr bool kEmulated = true;
#else
inline constexpr bool kEmulated = false;
#endif
inline constexpr bool kCudnnBuilt = !kEmulated;

inline bool gpu_required() {
  const char* required = std::getenv("AULENS_REQUIRE_GPU");
  return required != nullptr && std::string(required) == "1";
}

}  // namespace aulens::testing

// Use at the start of a test body or SetUp(): returns from it when no GPU can be used.
#define AULENS_SKIP_WITHOUT_GPU()                                                             \
  do {                                                                                        \
    if (!::aulens::device::available()) {                                                     \
      if (::aulens::testing::gpu_required())                                                  \
        FAIL() << "AULENS_REQUIRE_GPU=1 but no usable GPU: " << ::aulens::device::describe(); \
      GTEST_SKIP() << "no usable GPU: " << ::aulens::device::describe();                      \
    }                                                                                         \
  } while (false)
