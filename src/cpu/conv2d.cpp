// CPU reference twin of cuda/conv2d.cu: "same" 2-D convolution, stride 1, zero padding R/2.
//
//   forward          y[n,k,i,j]  = b[k] + Σ_{c,u,v} w[k,c,u,v] · x[n,c,i+u−P,j+v−P]
//   backward_data    dx[n,c,i,j] = Σ_{k,u,v} w[k,c,u,v] · dy[n,k,i−u+P,j−v+P]   (transposed conv)
//   backward_filter  dw[k,c,u,v] = Σ_{n,i,j} dy[n,k,i,j] · x[n,c,i+u−P,j+v−P],  db[k] = Σ
//   dy[n,k,·,·]
//
// Shapes: x, dx (N,C,H,W); w, dw (K,C,R,R); b, db (K); y, dy (N,K,H,W); all fp32 NCHW / OIHW.
// Glossary: N batch, C input channels, K filters, H W height and width, R kernel size (odd),
// P = R/2 the padding, L = C·R·R the length of one im2col column, S = H·W pixels per plane.
//
// Method: im2col + cblas_sgemm, one image at a time, images spread over OpenMP threads. Each
// thread owns its column buffer col (L, S); per image
//   forward          y_n (K,S)  = w (K,L) · col_n (L,S)          then + b
//   backward_data    dcol (L,S) = wᵀ (L,K) · dy_n (K,S)          then col2im into dx_n
//   backward_filter  dw_part   += dy_n (K,S) · col_nᵀ (S,L)
// Threading choice (measured on the 2-core dev machine, conv2 at N=64: 64→128 ch, 48×48): OpenMP
// over images with OpenBLAS pinned to one thread inside the loop was faster than a serial image
// loop whose per-image gemm OpenBLAS threads itself (forward + backward data + backward filter:
// 1.46 s against 3.24 s on an idle machine), because im2col/col2im then run in parallel too.
// OpenBLAS is set to one thread for the duration of each call and restored afterwards.
//
// Determinism: every image's forward and backward-data result is computed by one single-threaded
// gemm, so it does not depend on the thread count. backward_filter splits the batch into a fixed
// number of contiguous image groups that depends only on N (never on the thread count); each
// group's partial dw/db is accumulated image by image in order, and the partials are summed in
// group order at the end. The result is bit-identical run to run for any number of threads.
// Accumulation is fp32 inside the gemms (like PyTorch's CPU path); the bias sums use double.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "aulens/ops.h"
#include "cpu/single_threaded_blas.h"

namespace aulens {

namespace {

void check_shape(const ConvShape& s, const char* op) {
  AULENS_CHECK(s.n >= 0 && s.c > 0 && s.h > 0 && s.w > 0 && s.k > 0,
               std::string(op) + ": bad ConvShape (N,C,H,W,K) = (" + std::to_string(s.n) + ", " +
                   std::to_string(s.c) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) +
                   ", " + std::to_string(s.k) + ")");
  AULENS_CHECK(
      s.r > 0 && s.r % 2 == 1,
      std::string(op) + ": kernel size R must be odd and positive, got " + std::to_string(s.r));
}

// x_n: (C,H,W) one image  →  col: (L, S), row (c·R + u)·R + v, column i·W + j holds
// x_n[c, i+u−P, j+v−P] or 0 outside the image.
void im2col(const ConvShape& s, const float* x_n, float* col) {
  const int h = s.h, w = s.w, r = s.r, pad = s.pad();
  for (int c = 0; c < s.c; ++c) {
    const float* plane = x_n + static_cast<std::int64_t>(c) * h * w;
    for (int u = 0; u < r; ++u) {
      for (int v = 0; v < r; ++v) {
        float* row = col + ((static_cast<std::int64_t>(c) * r + u) * r + v) * h * w;
        // Columns j with 0 <= j+v−P < W.
        const int j_begin = std::max(0, pad - v);
        const int j_end = std::min(w, w + pad - v);
        for (int i = 0; i < h; ++i) {
          float* out = row + static_cast<std::int64_t>(i) * w;
          const int src_i = i + u - pad;
          if (src_i < 0 || src_i >= h || j_begin >= j_end) {
            std::memset(out, 0, sizeof(float) * w);
            continue;
          }
          const float* src = plane + static_cast<std::int64_t>(src_i) * w;
          for (int j = 0; j < j_begin; ++j) out[j] = 0.0f;
          std::memcpy(out + j_begin, src + j_begin + v - pad, sizeof(float) * (j_end - j_begin));
          for (int j = j_end; j < w; ++j) out[j] = 0.0f;
        }
      }
    }
  }
}

// The adjoint of im2col: dx_n (C,H,W) = Σ over the rows of dcol (L,S) scattered back. dx_n is
// overwritten. Rows are added in a fixed order (u, v ascending), so the result is deterministic.
void col2im(const ConvShape& s, const float* dcol, float* dx_n) {
  const int h = s.h, w = s.w, r = s.r, pad = s.pad();
  std::memset(dx_n, 0, sizeof(float) * s.c * h * w);
  for (int c = 0; c < s.c; ++c) {
    float* plane = dx_n + static_cast<std::int64_t>(c) * h * w;
    for (int u = 0; u < r; ++u) {
      for (int v = 0; v < r; ++v) {
        const float* row = dcol + ((static_cast<std::int64_t>(c) * r + u) * r + v) * h * w;
        const int j_begin = std::max(0, pad - v);
        const int j_end = std::min(w, w + pad - v);
        for (int i = 0; i < h; ++i) {
          const int dst_i = i + u - pad;
          if (dst_i < 0 || dst_i >= h) continue;
          const float* in = row + static_cast<std::int64_t>(i) * w;
          float* dst = plane + static_cast<std::int64_t>(dst_i) * w + v - pad;
          for (int j = j_begin; j < j_end; ++j) dst[j] += in[j];
        }
      }
    }
  }
}

// Image groups for backward_filter: a function of N only, so the summation order (and thus every
// bit of dw/db) does not depend on how many threads run.
constexpr int kFilterGroups = 16;

}  // namespace

void CpuOps::conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                            float* y) {
  check_shape(s, "conv2d_forward");
  const int l = s.c * s.r * s.r;
  const int pixels = s.h * s.w;
  SingleThreadedBlas blas_guard;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<std::size_t>(l) * pixels);
#pragma omp for schedule(dynamic, 1)
    for (int n = 0; n < s.n; ++n) {
      const float* x_n = x + static_cast<std::int64_t>(n) * s.c * pixels;
      float* y_n = y + static_cast<std::int64_t>(n) * s.k * pixels;
      im2col(s, x_n, col.data());
      // y_n (K,S) = w (K,L) · col (L,S)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.k, pixels, l, 1.0f, w, l, col.data(),
                  pixels, 0.0f, y_n, pixels);
      if (b != nullptr) {
        for (int k = 0; k < s.k; ++k) {
          float* plane = y_n + static_cast<std::int64_t>(k) * pixels;
          const float bias = b[k];
          for (int p = 0; p < pixels; ++p) plane[p] += bias;
        }
      }
    }
  }
}

void CpuOps::conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  check_shape(s, "conv2d_backward_data");
  const int l = s.c * s.r * s.r;
  const int pixels = s.h * s.w;
  SingleThreadedBlas blas_guard;
#pragma omp parallel
  {
    std::vector<float> dcol(static_cast<std::size_t>(l) * pixels);
#pragma omp for schedule(dynamic, 1)
    for (int n = 0; n < s.n; ++n) {
      const float* dy_n = dy + static_cast<std::int64_t>(n) * s.k * pixels;
      float* dx_n = dx + static_cast<std::int64_t>(n) * s.c * pixels;
      // dcol (L,S) = wᵀ (L,K) · dy_n (K,S)
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, l, pixels, s.k, 1.0f, w, l, dy_n, pixels,
                  0.0f, dcol.data(), pixels);
      col2im(s, dcol.data(), dx_n);
    }
  }
}

void CpuOps::conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw,
                                    float* db) {
  check_shape(s, "conv2d_backward_filter");
  const int l = s.c * s.r * s.r;
  const int pixels = s.h * s.w;
  const std::int64_t dw_count = static_cast<std::int64_t>(s.k) * l;
  const int groups = std::min(s.n, kFilterGroups);
  if (groups == 0) {
    std::memset(dw, 0, sizeof(float) * dw_count);
    if (db != nullptr) std::memset(db, 0, sizeof(float) * s.k);
    return;
  }
  // Partial sums per group: dw_parts (G, K, L), db_parts (G, K).
  std::vector<float> dw_parts(static_cast<std::size_t>(groups) * dw_count);
  std::vector<double> db_parts(static_cast<std::size_t>(groups) * s.k, 0.0);
  SingleThreadedBlas blas_guard;
#pragma omp parallel
  {
    std::vector<float> col(static_cast<std::size_t>(l) * pixels);
#pragma omp for schedule(dynamic, 1)
    for (int g = 0; g < groups; ++g) {
      // Group g holds images [n_begin, n_end): an even split of the batch.
      const int n_begin = static_cast<int>(static_cast<std::int64_t>(s.n) * g / groups);
      const int n_end = static_cast<int>(static_cast<std::int64_t>(s.n) * (g + 1) / groups);
      float* dw_part = dw_parts.data() + g * dw_count;
      double* db_part = db_parts.data() + static_cast<std::int64_t>(g) * s.k;
      for (int n = n_begin; n < n_end; ++n) {
        const float* x_n = x + static_cast<std::int64_t>(n) * s.c * pixels;
        const float* dy_n = dy + static_cast<std::int64_t>(n) * s.k * pixels;
        im2col(s, x_n, col.data());
        // dw_part (K,L) (+)= dy_n (K,S) · colᵀ (S,L)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.k, l, pixels, 1.0f, dy_n, pixels,
                    col.data(), pixels, n == n_begin ? 0.0f : 1.0f, dw_part, l);
        if (db != nullptr) {
          for (int k = 0; k < s.k; ++k) {
            const float* plane = dy_n + static_cast<std::int64_t>(k) * pixels;
            double sum = 0.0;
            for (int p = 0; p < pixels; ++p) sum += plane[p];
            db_part[k] += sum;
          }
        }
      }
    }
  }
  // Fixed-order reduction over the groups (parallel over elements, serial over groups).
#pragma omp parallel for schedule(static)
  for (std::int64_t e = 0; e < dw_count; ++e) {
    float sum = dw_parts[e];
    for (int g = 1; g < groups; ++g) sum += dw_parts[g * dw_count + e];
    dw[e] = sum;
  }
  if (db != nullptr) {
    for (int k = 0; k < s.k; ++k) {
      double sum = 0.0;
      for (int g = 0; g < groups; ++g) sum += db_parts[static_cast<std::int64_t>(g) * s.k + k];
      db[k] = static_cast<float>(sum);
    }
  }
}

}  // namespace aulens
