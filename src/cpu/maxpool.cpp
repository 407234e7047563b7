// CPU reference twin of cuda/maxpool.cu: 2×2 max pooling, stride 2, with argmax switches, and
// the unpool that is both its backward and the deconvnet's unpooling.
//
//   forward  y[n,c,i,j] = max of x[n,c,2i..2i+1, 2j..2j+1];  switches[n,c,i,j] = row·W + col of
//            the chosen element inside the (n, c) input plane (PyTorch's return_indices).
//            The window is scanned in row-major order (2i,2j), (2i,2j+1), (2i+1,2j), (2i+1,2j+1)
//            starting from best = −inf at the first element, and an element is taken when
//            `v > best || isnan(v)` — exactly PyTorch's rule: among equal maxima the first wins,
//            any NaN beats every number (with several NaNs, the last one scanned), and a window
//            of all −inf points at its first element.
//   unpool   dx = 0 everywhere, then dx[n,c,switch] += dy[n,c,i,j] for every output (i, j). An
//            odd last row or column, which no window covers, stays zero.
// Shapes: x, dx (N,C,H,W) fp32; y, dy, switches (N,C,H/2,W/2), switches int32.
// Glossary: N batch, C channels, H W input height and width; Ho = H/2, Wo = W/2 (floor).
#include <cmath>
#include <cstring>
#include <limits>

#include "aulens/ops.h"

namespace aulens {

namespace {

void check_shape(const PoolShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.c >= 0 && s.h >= 0 && s.w >= 0,
               std::string(op) + ": bad PoolShape (N,C,H,W) = (" + std::to_string(s.n) + ", " +
                   std::to_string(s.c) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) +
                   ")");
}

}  // namespace

void CpuOps::maxpool2x2_forward(const PoolShape& s, const float* x, float* y,
                                std::int32_t* switches) {
  check_shape(s, "maxpool2x2_forward");
  const int h = s.h, w = s.w, out_h = s.out_h(), out_w = s.out_w();
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < planes; ++p) {
    const float* x_plane = x + p * h * w;
    float* y_plane = y + p * out_h * out_w;
    std::int32_t* s_plane = switches + p * out_h * out_w;
    for (int i = 0; i < out_h; ++i) {
      for (int j = 0; j < out_w; ++j) {
        float best = -std::numeric_limits<float>::infinity();
        std::int32_t best_index = (2 * i) * w + 2 * j;
        for (int di = 0; di < 2; ++di) {
          for (int dj = 0; dj < 2; ++dj) {
            const std::int32_t index = (2 * i + di) * w + 2 * j + dj;
            const float v = x_plane[index];
            if (v > best || std::isnan(v)) {
              best = v;
              best_index = index;
            }
          }
        }
        y_plane[i * out_w + j] = best;
        s_plane[i * out_w + j] = best_index;
      }
    }
  }
}

void CpuOps::max_unpool2x2(const PoolShape& s, const float* dy, const std::int32_t* switches,
                           float* dx) {
  check_shape(s, "max_unpool2x2");
  const int h = s.h, w = s.w, out_h = s.out_h(), out_w = s.out_w();
  const std::int64_t planes = static_cast<std::int64_t>(s.n) * s.c;
  const std::int64_t plane_size = static_cast<std::int64_t>(h) * w;
  std::int64_t bad_switches = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad_switches)
  for (std::int64_t p = 0; p < planes; ++p) {
    float* dx_plane = dx + p * plane_size;
    const float* dy_plane = dy + p * out_h * out_w;
    const std::int32_t* s_plane = switches + p * out_h * out_w;
    std::memset(dx_plane, 0, sizeof(float) * plane_size);
    for (int o = 0; o < out_h * out_w; ++o) {
      const std::int32_t index = s_plane[o];
      if (index < 0 || index >= plane_size) {
        ++bad_switches;
        continue;
      }
      dx_plane[index] += dy_plane[o];
    }
  }
  AULENS_CHECK(bad_switches == 0, "max_unpool2x2: " + std::to_string(bad_switches) +
                                      " switches outside their " + std::to_string(h) + "x" +
                                      std::to_string(w) + " input plane");
}

}  // namespace aulens
