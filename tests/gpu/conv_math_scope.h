// A conv math mode for the length of a scope, for the GPU suites (aulens/cuda_math.h).
#pragma once

#include "aulens/cuda_math.h"

namespace aulens::testing {

// Sets the conv math mode, and a forced candidate of "fastest", for a scope; FFMA and the tuner's
// own choice again at its end, also when a failed assertion leaves the test early.
class ConvMathScope {
 public:
  explicit ConvMathScope(ConvMath mode, int candidate = -1) {
    set_conv_math(mode);
    force_conv_candidate(candidate);
  }
  ~ConvMathScope() {
    set_conv_math(ConvMath::ffma);
    force_conv_candidate(-1);
  }
  ConvMathScope(const ConvMathScope&) = delete;
  ConvMathScope& operator=(const ConvMathScope&) = delete;
};

}  // namespace aulens::testing
