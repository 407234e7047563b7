// CPU reference twin of cuda/deconv_window.cu: deconvnet projections computed only inside the
// 32×32 receptive field of each requested conv3 activation (DESIGN §1.5, the window geometry is
// in aulens/receptive_field.h).
//
// Per request (image, map, y, x), window-local coordinates, c1 c2 the conv widths:
//   input   in[i][j]        (32,32)   x[image, 4y−14+i, 4x−14+j], 0 outside the image
//   pool1   p1[c][q], sw1   (c1,14,14) max of ReLU(conv1) over conv1 (2q, 2q+1)², conv1 window
//                                      position i reading in[i … i+4]; cells outside the image
//                                      are 0 with no switch (sw = kNoSwitch)
//   pool2   p2[k][m], sw2   (c2,5,5)   max of ReLU(conv2) over conv2 (2m, 2m+1)², conv2 window
//                                      position r reading p1[r … r+4]
//   seed    a               ReLU(b3[map] + Σ w3[map,k,u,v]·p2[k][u][v])
//   backward g2[k][m] = ReLU(w3[map,k,m]·a) at conv2 position 2m + sw2 (conv3ᵀ, unpool2, ReLU)
//            g1[c][q] = Σ w2[k,c,q−r]·g2 over the non-zero g2 at r        (conv2ᵀ, pool1 grid)
//            out[i]   = Σ w1[c,0,i−t]·ReLU(g1[c][q]) over conv1 t = 2q + sw1  (unpool1, ReLU,
//                       conv1ᵀ), 0 for pixels outside the image
// Switches are window-local: 0 … 3 = 2·di + dj inside the 2×2 pool window, first maximum wins in
// row-major order (NaN wins), exactly the rule of maxpool2x2_forward.
// Differences from the full-image deconv_project<CpuOps>: none in the switches or the seed's
// decisions; the sums of conv1..3 and of conv2ᵀ/conv1ᵀ are taken in a different order (direct
// loops here, OpenBLAS gemms there), so values agree to fp32 rounding of those sums.
// Glossary: P requests, N images, S input size, c1 c2 c3 conv widths.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "aulens/ops.h"
#include "aulens/receptive_field.h"

namespace aulens {

namespace {

constexpr std::uint8_t kNoSwitch = 255;
constexpr int kR = 5;  // kernel size

float relu(float v) {
  return (v > 0.0f || std::isnan(v)) ? v : 0.0f;
}

struct Net {
  int size, c1, c2, c3;
  const float *w1, *b1, *w2, *b2, *w3, *b3;
};

struct Scratch {
  std::vector<float> input;           // (32,32)
  std::vector<float> pool1;           // (c1,14,14)
  std::vector<std::uint8_t> switch1;  // (c1,14,14)
  std::vector<float> pool2;           // (c2,5,5)
  std::vector<std::uint8_t> switch2;  // (c2,5,5)
  std::vector<float> grad_pool1;      // (c1,14,14)
};

// Max of four values in row-major window order with the maxpool rule; returns the local switch.
std::uint8_t pool4(const float (&v)[4], float& best) {
  best = -std::numeric_limits<float>::infinity();
  std::uint8_t at = 0;
  for (std::uint8_t d = 0; d < 4; ++d) {
    if (v[d] > best || std::isnan(v[d])) {
      best = v[d];
      at = d;
    }
  }
  return at;
}

// One request: writes out (32,32) and returns the seed.
float project_one(const Net& net, const float* image, int map, int y, int x, Scratch& s,
                  float* out) {
  constexpr int kW = kWindow, kP1 = kWindowPool1, kP2 = kWindowPool2;
  const int size = net.size, s2 = size / 2, s4 = size / 4;
  const int oy = window_origin(y), ox = window_origin(x);
  // input window, zero outside the image
  for (int i = 0; i < kW; ++i) {
    for (int j = 0; j < kW; ++j) {
      const int gy = oy + i, gx = ox + j;
      const bool inside = gy >= 0 && gy < size && gx >= 0 && gx < size;
      s.input[i * kW + j] = inside ? image[gy * size + gx] : 0.0f;
    }
  }
  // conv1 → ReLU → pool1 over the 14×14 pool1 window
  const int p1y = window_pool1_origin(y), p1x = window_pool1_origin(x);
  for (int c = 0; c < net.c1; ++c) {
    const float* w = net.w1 + c * kR * kR;
    for (int qy = 0; qy < kP1; ++qy) {
      for (int qx = 0; qx < kP1; ++qx) {
        const int cell = (c * kP1 + qy) * kP1 + qx;
        const bool inside = p1y + qy >= 0 && p1y + qy < s2 && p1x + qx >= 0 && p1x + qx < s2;
        if (!inside) {
          s.pool1[cell] = 0.0f;
          s.switch1[cell] = kNoSwitch;
          continue;
        }
        float conv[4];
        for (int d = 0; d < 4; ++d) {
          const int i = 2 * qy + d / 2, j = 2 * qx + d % 2;
          float sum = 0.0f;
          for (int u = 0; u < kR; ++u)
            for (int v = 0; v < kR; ++v) sum += w[u * kR + v] * s.input[(i + u) * kW + j + v];
          conv[d] = relu(sum + net.b1[c]);
        }
        s.switch1[cell] = pool4(conv, s.pool1[cell]);
      }
    }
  }
  // conv2 → ReLU → pool2 over the 5×5 pool2 window
  const int p2y = window_pool2_origin(y), p2x = window_pool2_origin(x);
  for (int k = 0; k < net.c2; ++k) {
    for (int my = 0; my < kP2; ++my) {
      for (int mx = 0; mx < kP2; ++mx) {
        const int cell = (k * kP2 + my) * kP2 + mx;
        const bool inside = p2y + my >= 0 && p2y + my < s4 && p2x + mx >= 0 && p2x + mx < s4;
        if (!inside) {
          s.pool2[cell] = 0.0f;
          s.switch2[cell] = kNoSwitch;
          continue;
        }
        float conv[4];
        for (int d = 0; d < 4; ++d) {
          const int r = 2 * my + d / 2, t = 2 * mx + d % 2;  // conv2 window position
          float sum = 0.0f;
          for (int c = 0; c < net.c1; ++c) {
            const float* w = net.w2 + (static_cast<std::int64_t>(k) * net.c1 + c) * kR * kR;
            const float* p1 = s.pool1.data() + c * kP1 * kP1;
            for (int u = 0; u < kR; ++u)
              for (int v = 0; v < kR; ++v) sum += w[u * kR + v] * p1[(r + u) * kP1 + t + v];
          }
          conv[d] = relu(sum + net.b2[k]);
        }
        s.switch2[cell] = pool4(conv, s.pool2[cell]);
      }
    }
  }
  // the seed: conv3 at (map, y, x), post-ReLU
  const float* w3 = net.w3 + static_cast<std::int64_t>(map) * net.c2 * kR * kR;
  float sum = 0.0f;
  for (int i = 0; i < net.c2 * kR * kR; ++i) sum += w3[i] * s.pool2[i];
  const float seed = relu(sum + net.b3[map]);

  // conv3ᵀ → unpool2 → ReLU → conv2ᵀ, scattered from the non-zero conv2 gradients
  std::fill(s.grad_pool1.begin(), s.grad_pool1.end(), 0.0f);
  for (int k = 0; k < net.c2; ++k) {
    for (int m = 0; m < kP2 * kP2; ++m) {
      const std::uint8_t sw = s.switch2[k * kP2 * kP2 + m];
      if (sw == kNoSwitch) continue;
      const float g = relu(w3[k * kR * kR + m] * seed);
      if (g == 0.0f) continue;
      const int r = 2 * (m / kP2) + sw / 2, t = 2 * (m % kP2) + sw % 2;
      for (int c = 0; c < net.c1; ++c) {
        const float* w = net.w2 + (static_cast<std::int64_t>(k) * net.c1 + c) * kR * kR;
        float* g1 = s.grad_pool1.data() + c * kP1 * kP1;
        for (int u = 0; u < kR; ++u)
          for (int v = 0; v < kR; ++v) g1[(r + u) * kP1 + t + v] += w[u * kR + v] * g;
      }
    }
  }
  // unpool1 → ReLU → conv1ᵀ, scattered from the non-zero conv1 gradients
  std::fill(out, out + kW * kW, 0.0f);
  for (int c = 0; c < net.c1; ++c) {
    const float* w = net.w1 + c * kR * kR;
    for (int q = 0; q < kP1 * kP1; ++q) {
      const std::uint8_t sw = s.switch1[c * kP1 * kP1 + q];
      if (sw == kNoSwitch) continue;
      const float g = relu(s.grad_pool1[c * kP1 * kP1 + q]);
      if (g == 0.0f) continue;
      const int i = 2 * (q / kP1) + sw / 2, j = 2 * (q % kP1) + sw % 2;  // conv1 window position
      for (int u = 0; u < kR; ++u)
        for (int v = 0; v < kR; ++v) out[(i + u) * kW + j + v] += w[u * kR + v] * g;
    }
  }
  for (int i = 0; i < kW; ++i) {
    for (int j = 0; j < kW; ++j) {
      const int gy = oy + i, gx = ox + j;
      if (gy < 0 || gy >= size || gx < 0 || gx >= size) out[i * kW + j] = 0.0f;
    }
  }
  return seed;
}

}  // namespace

void CpuOps::deconv_project_windows(int p, int n, int size, int c1, int c2, int c3, const float* x,
                                    const float* w1, const float* b1, const float* w2,
                                    const float* b2, const float* w3, const float* b3,
                                    const std::int32_t* requests, float* windows,
                                    std::int32_t* origins, float* seeds) {
  AULENS_CHECK(p >= 0 && n > 0 && size > 0 && size % 8 == 0 && c1 > 0 && c2 > 0 && c3 > 0,
               "deconv_project_windows: bad shape (P, N, S, c1, c2, c3) = (" + std::to_string(p) +
                   ", " + std::to_string(n) + ", " + std::to_string(size) + ", " +
                   std::to_string(c1) + ", " + std::to_string(c2) + ", " + std::to_string(c3) +
                   "); S must be a multiple of 8");
  const int s4 = size / 4;
  for (int r = 0; r < p; ++r) {
    const std::int32_t* q = requests + 4 * r;
    AULENS_CHECK(
        q[0] >= 0 && q[0] < n && q[1] >= 0 && q[1] < c3 && q[2] >= 0 && q[2] < s4 && q[3] >= 0 &&
            q[3] < s4,
        "deconv_project_windows: request " + std::to_string(r) + " (image, map, y, x) = (" +
            std::to_string(q[0]) + ", " + std::to_string(q[1]) + ", " + std::to_string(q[2]) +
            ", " + std::to_string(q[3]) + ") outside (" + std::to_string(n) + ", " +
            std::to_string(c3) + ", " + std::to_string(s4) + ", " + std::to_string(s4) + ")");
  }
  const Net net{size, c1, c2, c3, w1, b1, w2, b2, w3, b3};
#pragma omp parallel
  {
    Scratch s;
    s.input.resize(kWindow * kWindow);
    s.pool1.resize(static_cast<std::size_t>(c1) * kWindowPool1 * kWindowPool1);
    s.switch1.resize(s.pool1.size());
    s.grad_pool1.resize(s.pool1.size());
    s.pool2.resize(static_cast<std::size_t>(c2) * kWindowPool2 * kWindowPool2);
    s.switch2.resize(s.pool2.size());
#pragma omp for schedule(dynamic, 1)
    for (int r = 0; r < p; ++r) {
      const std::int32_t* q = requests + 4 * r;
      const float* image = x + static_cast<std::int64_t>(q[0]) * size * size;
      const float seed = project_one(net, image, q[1], q[2], q[3], s,
                                     windows + static_cast<std::int64_t>(r) * kWindow * kWindow);
      origins[2 * r] = window_origin(q[2]);
      origins[2 * r + 1] = window_origin(q[3]);
      if (seeds != nullptr) seeds[r] = seed;
    }
  }
}

}  // namespace aulens
