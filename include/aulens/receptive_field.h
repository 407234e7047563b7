// The receptive field of one conv3 position (DESIGN §1.5), shared by the CPU and CUDA twins of
// the windowed deconvnet projection (src/cpu/deconv_window.cpp, cuda/deconv_window.cu) and the
// engine. Valid for the fixed architecture of §1.1: three 5×5 "same" convolutions, each of the
// first two followed by a 2×2 stride-2 max pool.
//
// conv3 position (y, x) on the S/4 grid reads, per axis (window-local index in brackets):
//   pool2 cells  y−2 … y+2          [0, 5)    5×5
//   conv2        2y−4 … 2y+5        [0, 10)   10×10  (pool2 window cell m covers conv2 2m, 2m+1)
//   pool1 cells  2y−6 … 2y+7        [0, 14)   14×14  (conv2 window r reads pool1 r … r+4)
//   conv1        4y−12 … 4y+15      [0, 28)   28×28  (pool1 window q covers conv1 2q, 2q+1)
//   input        4y−14 … 4y+17      [0, 32)   32×32  (conv1 window i reads input i … i+4)
// Cells of a layer outside the image (index < 0 or ≥ that layer's size) are the zero padding of
// the next convolution: their value is 0 and they carry no switch.
#pragma once

#include "aulens/rng.h"  // AULENS_HD

namespace aulens {

constexpr int kWindow = 32;       // input pixels per side of a receptive field
constexpr int kWindowConv1 = 28;  // conv1 positions per side that feed the pool1 window
constexpr int kWindowPool1 = 14;
constexpr int kWindowConv2 = 10;
constexpr int kWindowPool2 = 5;

// Input row (or column) of window pixel 0 for conv3 row (or column) `y`: 4y − 14 (may be < 0).
AULENS_HD constexpr int window_origin(int y) {
  return 4 * y - 14;
}
// First pool1 / conv2 / pool2 index of the window for conv3 index `y`.
AULENS_HD constexpr int window_pool1_origin(int y) {
  return 2 * y - 6;
}
AULENS_HD constexpr int window_conv2_origin(int y) {
  return 2 * y - 4;
}
AULENS_HD constexpr int window_pool2_origin(int y) {
  return y - 2;
}

}  // namespace aulens
