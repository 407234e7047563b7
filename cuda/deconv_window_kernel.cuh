// The device code of the windowed deconvnet projections (launcher: cuda/deconv_window.cu; twin:
// src/cpu/deconv_window.cpp; the method, the window geometry and the window-local switch
// convention are described there and in aulens/receptive_field.h). This header includes no CUDA
// header, so tests/emu/block_emu.h can also run it on the host (tests/test_deconv_window_emu.cpp).
// One block per request, everything in shared memory:
//   input    (32,32)       f32   the receptive field, 0 outside the image
//   pool1    (c1,14,14)    f32   ReLU(conv1) pooled; later reused for the conv2ᵀ result g1;
//                                channel stride 14·14 + 1 = 197 floats, so that phase 6's lanes
//                                (consecutive channels, same cell) hit 32 different banks (with
//                                196 = 4 mod 32 they would meet 4 to a bank)
//   switch1  (c1,14,14)    u8    0…3 = 2·di + dj, 255 = cell outside the image
//   pool2    (c2,5,5)      f32   ReLU(conv2) pooled; later reused for g2 = ReLU(w3·seed)
//   switch2  (c2,5,5)      u8
// ≈ 83 KB for the default widths (64/128), so two blocks fit on an H100/H200 SM.
// Phases (each ends with __syncthreads):
//   1 load the input window
//   2 conv1 → ReLU → pool1: one thread per pool1 cell, 4 × 25 FMAs
//   3 conv2 → ReLU → pool2: one thread per (pool2 row, conv2 map) pair: 2 conv2 rows × 10
//     columns of accumulators, c1 × 25 weights, pool1 rows broadcast from shared memory (the
//     threads of a warp share the pool2 row and hold consecutive maps k, so they read the
//     weights from a copy permuted to (c1, 25, c2): one coalesced line per warp and weight,
//     where the (c2, c1, 5, 5) layout touched 32 lines). This is ≈ 90% of the FLOPs:
//     c2·100·c1·25 FMAs = 20.5 M per request, 47 G FMAs for 256×9 requests (≈ 1.4 ms at the
//     H200's fp32 peak). In the tensor-core conv math modes (aulens/cuda_math.h; the launcher
//     follows conv_math() where the widths allow) phase 3 is conv2_pool2_tensor below instead:
//     one WMMA GEMM per request (3×TF32 or TF32), +15 KB of shared memory for its staging.
//   4 the seed: conv3 at (map, y, x), a block reduction of c2·25 products (fixed tree order)
//   5 g2 = ReLU(w3[map]·seed) at the valid pool2 cells (conv3ᵀ, unpool2 is implicit, ReLU)
//   6 conv2ᵀ scattered from the non-zero g2 only (unpool sparsity: one of 4 conv2 positions per
//     pool2 cell): each thread owns a band of rows of one pool1 channel, so the scatter needs no
//     atomics and adds in (k2, cell) order, like the CPU twin; weights from a (c2, 25, c1) copy
//   7 unpool1 → ReLU → conv1ᵀ as a gather: one thread per output pixel, per channel the ≤ 3×3 pool1
//     cells that reach it (switch read once per cell)
// Differences from the CPU twin: FMA contraction and the seed's reduction tree (fp32 rounding of
// the forward sums; a pool switch decided by a near-tie below that rounding could differ), and
// phase 7 adds w·0 where the CPU skips a zero gradient (an infinite weight gives NaN here).
// Glossary: P requests, N images, S input size, c1 c2 c3 conv widths.
#pragma once

#include "kernel_defs.cuh"

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "aulens/receptive_field.h"
#include "conv2d_tiles.cuh"  // TileMath, tf32_split (the tensor-core phase 3)

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kThreads = 320;  // = 5 pool2 rows × 64: phase 3 runs 2 rounds for c2 = 128
constexpr int kR = 5;
constexpr int kW = kWindow, kP1 = kWindowPool1, kP2 = kWindowPool2;
constexpr std::uint8_t kNoSwitch = 255;
constexpr int kP1Stride = kP1 * kP1 + 1;  // pool1 / g1 channel stride in shared memory (floats)

__device__ __forceinline__ float relu(float v) {
  return (v > 0.0f || v != v) ? v : 0.0f;
}

// Max of four in row-major window order with the maxpool rule (first max wins, NaN wins).
__device__ __forceinline__ std::uint8_t pool4(const float (&v)[4], float& best) {
  best = -INFINITY;
  std::uint8_t at = 0;
#pragma unroll
  for (int d = 0; d < 4; ++d) {
    if (v[d] > best || v[d] != v[d]) {
      best = v[d];
      at = static_cast<std::uint8_t>(d);
    }
  }
  return at;
}

struct Shapes {
  int n, size, c1, c2, c3;
};

struct Weights {
  const float *w1, *b1, *b2, *w3, *b3;
  const float* w2;  // (c2, c1·25) as stored: the tensor-core phase 3 reads its A fragments here
  // Copies of w2 (c2, c1, 5, 5) with other axis orders, so that a warp reads one line per weight:
  const float* w2_cek;  // (c1, 25, c2): w2_cek[(c·25 + e)·c2 + k] (phase 3: lanes = maps k)
  const float* w2_kec;  // (c2, 25, c1): w2_kec[(k·25 + e)·c1 + c] (phase 6: lanes = channels c)
};

// out[k·stride_k + c·stride_c + e·stride_e] = w2[(k·C + c)·rr + e];  w2: (K, C, rr)
__global__ void permute_conv2_filters_kernel(int k_count, int c_count, int rr, long long stride_k,
                                             long long stride_c, long long stride_e,
                                             const float* __restrict__ w2,
                                             float* __restrict__ out) {
  const long long total = static_cast<long long>(k_count) * c_count * rr;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int e = static_cast<int>(i % rr);
    const long long kc = i / rr;
    const int c = static_cast<int>(kc % c_count);
    const int k = static_cast<int>(kc / c_count);
    out[k * stride_k + c * stride_c + e * stride_e] = w2[i];
  }
}

// Phase 3 on tensor cores (TileMath tf32 / tf32x3): the conv2 window as one GEMM per request,
//   D[k][p] = Σ_q W[k][q] · X[q][p],   W = w2 as (c2, c1·25), q = c·25 + u·5 + v,
//   X[q][p] = pool1[c][2my + dy + u][2mx + dx + v],  p = (my·5 + mx)·4 + dy·2 + dx < 100,
// so that the 4 conv2 outputs of a pool2 cell are adjacent and a 16-column fragment holds 4 whole
// pool windows (columns 100…111 are zero padding). X is staged kStageK rows at a time in shared
// memory (rows kStageLd floats apart, 32-byte aligned as WMMA needs); A fragments are read
// straight from w2 in global memory. Warp w < c2/16 owns maps 16w … 16w+15 and all 7 column
// fragments; 3×TF32 adds each 8-deep step's products from a fresh fragment, as the conv tiles do
// (conv2d_tiles.cuh). Needs c1 % 8 == 0 (q steps of 8, aligned rows of W) and c2 = 16·w with
// w ≤ 10 warps; other widths take the FFMA phase 3.
using cuda_detail::tf32_split;

constexpr int kStageK = 32;
constexpr int kStageLd = 120;  // floats per staged row: 112 columns + padding, a multiple of 8
constexpr int kPosFrags = 7;   // 112 / 16 column fragments
constexpr int kConv2Positions = kWindowConv2 * kWindowConv2;

inline bool tensor_phase3_supported(int c1, int c2) {
  return c1 % 8 == 0 && c2 % 16 == 0 && c2 / 16 <= kThreads / 32;
}

// Dynamic shared memory of one block; the tensor-core modes add the staging buffer, which starts
// at tensor_stage_offset (bytes, 128-aligned).
AULENS_HD inline std::size_t base_shared_bytes(int c1, int c2) {
  const std::size_t floats = kW * kW + static_cast<std::size_t>(c1) * kP1Stride +
                             static_cast<std::size_t>(c2) * kP2 * kP2 + kThreads;
  const std::size_t bytes = static_cast<std::size_t>(c1) * kP1 * kP1 + c2 * kP2 * kP2;
  return floats * sizeof(float) + bytes;
}
AULENS_HD inline std::size_t tensor_stage_offset(int c1, int c2) {
  return (base_shared_bytes(c1, c2) + 127) / 128 * 128;
}
inline std::size_t shared_bytes(int c1, int c2, bool tensor) {
  return tensor ? tensor_stage_offset(c1, c2) + sizeof(float) * kStageK * kStageLd
                : base_shared_bytes(c1, c2);
}

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
// Phase 3 (conv2 → ReLU → pool2) on tensor cores; called by every thread of the block, ends
// without a barrier of its own after the last one inside.
template <TileMath Math>
__device__ __forceinline__ void conv2_pool2_tensor(const Shapes& sh, const Weights& wt, int p2y,
                                                   int p2x, int s4, const float* pool1,
                                                   float* pool2, std::uint8_t* switch2,
                                                   float* stage) {
  namespace wmma = nvcuda::wmma;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const bool computes = warp < sh.c2 / 16;
  const int q_count = sh.c1 * kR * kR;
  const float* w_rows = wt.w2 + static_cast<std::int64_t>(16 * warp) * q_count;
  FragC acc[kPosFrags];
#pragma unroll
  for (int j = 0; j < kPosFrags; ++j) wmma::fill_fragment(acc[j], 0.0f);

  for (int q0 = 0; q0 < q_count; q0 += kStageK) {
    for (int e = tid; e < kStageK * kStageLd; e += blockDim.x) {
      const int row = e / kStageLd, col = e % kStageLd, q = q0 + row;
      float value = 0.0f;
      if (col < kConv2Positions && q < q_count) {
        const int c = q / (kR * kR), tap = q % (kR * kR), cell = col / 4, d = col % 4;
        const int py = 2 * (cell / kP2) + d / 2 + tap / kR;
        const int px = 2 * (cell % kP2) + d % 2 + tap % kR;
        value = pool1[c * kP1Stride + py * kP1 + px];
      }
      stage[e] = value;
    }
    __syncthreads();
    if (computes) {
      for (int kk = 0; kk < kStageK && q0 + kk < q_count; kk += 8) {
        FragA a_big, a_small;
        wmma::load_matrix_sync(a_big, w_rows + q0 + kk, q_count);
        tf32_split<Math>(a_big, a_small);
#pragma unroll
        for (int j = 0; j < kPosFrags; ++j) {
          FragB b_big, b_small;
          wmma::load_matrix_sync(b_big, stage + kk * kStageLd + 16 * j, kStageLd);
          tf32_split<Math>(b_big, b_small);
          if constexpr (Math == TileMath::tf32x3) {
            FragC part;
            wmma::fill_fragment(part, 0.0f);
            wmma::mma_sync(part, a_small, b_big, part);
            wmma::mma_sync(part, a_big, b_small, part);
            wmma::mma_sync(part, a_big, b_big, part);
#pragma unroll
            for (int e = 0; e < part.num_elements; ++e) acc[j].x[e] += part.x[e];
          } else {
            wmma::mma_sync(acc[j], a_big, b_big, acc[j]);
          }
        }
      }
    }
    __syncthreads();  // the stage is rewritten next (or becomes the epilogue's scratch)
  }

  if (!computes) return;
  // Epilogue, one fragment at a time through this warp's 16×16 slice of the stage: lane pairs
  // (map, cell) → bias, ReLU, 2×2 max with switch, as the FFMA path.
  float* scratch = stage + warp * 256;
#pragma unroll  // static indices keep acc[] in registers
  for (int j = 0; j < kPosFrags; ++j) {
    wmma::store_matrix_sync(scratch, acc[j], 16, wmma::mem_row_major);
    __syncwarp();
    for (int item = lane; item < 64; item += 32) {
      const int map_local = item / 4, cell = 4 * j + item % 4;
      if (cell >= kP2 * kP2) continue;
      const int k = 16 * warp + map_local, my = cell / kP2, mx = cell % kP2;
      const int out = (k * kP2 + my) * kP2 + mx;
      if (p2y + my < 0 || p2y + my >= s4 || p2x + mx < 0 || p2x + mx >= s4) {
        pool2[out] = 0.0f;
        switch2[out] = kNoSwitch;
        continue;
      }
      const float bias = __ldg(wt.b2 + k);
      const float* v = scratch + map_local * 16 + (item % 4) * 4;
      const float conv[4] = {relu(v[0] + bias), relu(v[1] + bias), relu(v[2] + bias),
                             relu(v[3] + bias)};
      switch2[out] = pool4(conv, pool2[out]);
    }
    __syncwarp();
  }
}
#else
template <TileMath Math>
__device__ void conv2_pool2_tensor(const Shapes&, const Weights&, int, int, int, const float*,
                                   float*, std::uint8_t*, float*) {
  __trap();  // the launcher only picks tensor modes where tensor_tiles_supported()
}
#endif

// Math: ffma, or a tensor-core mode for phase 3 (the launcher checks tensor_phase3_supported).
template <TileMath Math>
__global__ void __launch_bounds__(kThreads, 2)
    deconv_project_windows_kernel(Shapes sh, Weights wt, const float* x,
                                  const std::int32_t* requests, float* windows,
                                  std::int32_t* origins, float* seeds) {
  AULENS_DYNAMIC_SHARED(float, smem);
  float* input = smem;                         // (32,32)
  float* pool1 = input + kW * kW;              // (c1,14,14), later g1
  float* pool2 = pool1 + sh.c1 * kP1Stride;    // (c2,5,5), later g2
  float* partial = pool2 + sh.c2 * kP2 * kP2;  // (kThreads) reduction scratch
  auto* switch1 = reinterpret_cast<std::uint8_t*>(partial + kThreads);  // (c1,14,14)
  std::uint8_t* switch2 = switch1 + sh.c1 * kP1 * kP1;                  // (c2,5,5)

  const int r = blockIdx.x, tid = threadIdx.x;
  const int image = requests[4 * r], map = requests[4 * r + 1];
  const int y = requests[4 * r + 2], xq = requests[4 * r + 3];
  const int size = sh.size, s2 = size / 2, s4 = size / 4;
  float* out = windows + static_cast<std::int64_t>(r) * kW * kW;
  // A request outside the batch (the launcher cannot read device requests cheaply): NaN window.
  if (image < 0 || image >= sh.n || map < 0 || map >= sh.c3 || y < 0 || y >= s4 || xq < 0 ||
      xq >= s4) {
    for (int e = tid; e < kW * kW; e += blockDim.x) out[e] = NAN;
    if (tid == 0) {
      origins[2 * r] = window_origin(y);
      origins[2 * r + 1] = window_origin(xq);
      if (seeds != nullptr) seeds[r] = NAN;
    }
    return;
  }
  const int oy = window_origin(y), ox = window_origin(xq);
  const float* img = x + static_cast<std::int64_t>(image) * size * size;

  // 1. input window
  for (int e = tid; e < kW * kW; e += blockDim.x) {
    const int gy = oy + e / kW, gx = ox + e % kW;
    input[e] = (gy >= 0 && gy < size && gx >= 0 && gx < size) ? img[gy * size + gx] : 0.0f;
  }
  __syncthreads();

  // 2. conv1 → ReLU → pool1
  const int p1y = window_pool1_origin(y), p1x = window_pool1_origin(xq);
  for (int e = tid; e < sh.c1 * kP1 * kP1; e += blockDim.x) {
    const int c = e / (kP1 * kP1), qy = (e / kP1) % kP1, qx = e % kP1;
    if (p1y + qy < 0 || p1y + qy >= s2 || p1x + qx < 0 || p1x + qx >= s2) {
      pool1[c * kP1Stride + e % (kP1 * kP1)] = 0.0f;
      switch1[e] = kNoSwitch;
      continue;
    }
    const float* w = wt.w1 + c * kR * kR;
    float conv[4];
#pragma unroll
    for (int d = 0; d < 4; ++d) {
      const int i = 2 * qy + d / 2, j = 2 * qx + d % 2;
      float sum = 0.0f;
#pragma unroll
      for (int u = 0; u < kR; ++u)
#pragma unroll
        for (int v = 0; v < kR; ++v) sum += __ldg(w + u * kR + v) * input[(i + u) * kW + j + v];
      conv[d] = relu(sum + __ldg(wt.b1 + c));
    }
    switch1[e] = pool4(conv, pool1[c * kP1Stride + e % (kP1 * kP1)]);
  }
  __syncthreads();

  // 3. conv2 → ReLU → pool2: item = (pool2 row my, map k)
  const int p2y = window_pool2_origin(y), p2x = window_pool2_origin(xq);
  if constexpr (Math != TileMath::ffma) {
    conv2_pool2_tensor<Math>(sh, wt, p2y, p2x, s4, pool1, pool2, switch2,
                             reinterpret_cast<float*>(reinterpret_cast<unsigned char*>(smem) +
                                                      tensor_stage_offset(sh.c1, sh.c2)));
  }
  for (int item = tid; Math == TileMath::ffma && item < kP2 * sh.c2; item += blockDim.x) {
    const int my = item / sh.c2, k = item % sh.c2;
    const bool row_inside = p2y + my >= 0 && p2y + my < s4;
    if (!row_inside) {
      for (int mx = 0; mx < kP2; ++mx) {
        pool2[(k * kP2 + my) * kP2 + mx] = 0.0f;
        switch2[(k * kP2 + my) * kP2 + mx] = kNoSwitch;
      }
      continue;
    }
    float acc[2][kWindowConv2];  // conv2 rows 2my, 2my+1 × 10 columns
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int t = 0; t < 10; ++t) acc[j][t] = 0.0f;
    const float* wk = wt.w2_cek + k;  // weight (c, e) of map k at wk[(c·25 + e)·c2]
    for (int c = 0; c < sh.c1; ++c) {
      float w[kR * kR];
#pragma unroll
      for (int e = 0; e < kR * kR; ++e)
        w[e] = __ldg(wk + static_cast<std::int64_t>(c * kR * kR + e) * sh.c2);
      const float* plane = pool1 + c * kP1Stride + (2 * my) * kP1;
#pragma unroll
      for (int rr = 0; rr < kR + 1; ++rr) {  // pool1 rows 2my … 2my+5
        float row[kP1];
#pragma unroll
        for (int t = 0; t < kP1; ++t) row[t] = plane[rr * kP1 + t];
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int u = rr - j;
          if (u < 0 || u >= kR) continue;
#pragma unroll
          for (int t = 0; t < 10; ++t)
#pragma unroll
            for (int v = 0; v < kR; ++v) acc[j][t] += w[u * kR + v] * row[t + v];
        }
      }
    }
    const float bias = __ldg(wt.b2 + k);
#pragma unroll
    for (int mx = 0; mx < kP2; ++mx) {
      const int cell = (k * kP2 + my) * kP2 + mx;
      if (p2x + mx < 0 || p2x + mx >= s4) {
        pool2[cell] = 0.0f;
        switch2[cell] = kNoSwitch;
        continue;
      }
      const float conv[4] = {relu(acc[0][2 * mx] + bias), relu(acc[0][2 * mx + 1] + bias),
                             relu(acc[1][2 * mx] + bias), relu(acc[1][2 * mx + 1] + bias)};
      switch2[cell] = pool4(conv, pool2[cell]);
    }
  }
  __syncthreads();

  // 4. the seed: ReLU(b3[map] + Σ w3[map]·pool2), fixed-order tree reduction
  const float* w3 = wt.w3 + static_cast<std::int64_t>(map) * sh.c2 * kR * kR;
  float sum = 0.0f;
  for (int e = tid; e < sh.c2 * kR * kR; e += blockDim.x) sum += __ldg(w3 + e) * pool2[e];
  partial[tid] = sum;
  __syncthreads();
  for (int stride = 256; stride > 0; stride /= 2) {  // kThreads = 320: fold 256…319 first
    if (tid < stride && tid + stride < kThreads) partial[tid] += partial[tid + stride];
    __syncthreads();
  }
  const float seed = relu(partial[0] + __ldg(wt.b3 + map));

  // 5. g2 = ReLU(w3[map]·seed) at valid pool2 cells (into pool2, which is no longer needed)
  for (int e = tid; e < sh.c2 * kP2 * kP2; e += blockDim.x) {
    pool2[e] = switch2[e] == kNoSwitch ? 0.0f : relu(__ldg(w3 + e) * seed);
  }
  __syncthreads();

  // 6. conv2ᵀ into g1 (pool1's buffer): unit = (channel c, band of rows), owned by one thread;
  //    c varies fastest, so a warp's lanes read the weights of consecutive channels from w2_kec
  //    (one line per weight) and, when c1 is a multiple of 32, share the band (uniform loops)
  const int bands = max(1, min(kP1, static_cast<int>(blockDim.x) / sh.c1));
  for (int unit = tid; unit < sh.c1 * bands; unit += blockDim.x) {
    const int c = unit % sh.c1, band = unit / sh.c1;
    const int row_begin = band * kP1 / bands, row_end = (band + 1) * kP1 / bands;
    float* g1 = pool1 + c * kP1Stride;
    for (int e = row_begin * kP1; e < row_end * kP1; ++e) g1[e] = 0.0f;
    for (int k = 0; k < sh.c2; ++k) {
      const float* w = wt.w2_kec + static_cast<std::int64_t>(k) * kR * kR * sh.c1 + c;
      for (int m = 0; m < kP2 * kP2; ++m) {
        const float g = pool2[k * kP2 * kP2 + m];
        if (g == 0.0f) continue;
        const std::uint8_t sw = switch2[k * kP2 * kP2 + m];
        const int rr = 2 * (m / kP2) + sw / 2, tt = 2 * (m % kP2) + sw % 2;  // conv2 position
        const int u_begin = max(0, row_begin - rr), u_end = min(kR, row_end - rr);
        for (int u = u_begin; u < u_end; ++u)
#pragma unroll
          for (int v = 0; v < kR; ++v)
            g1[(rr + u) * kP1 + tt + v] += __ldg(w + (u * kR + v) * sh.c1) * g;
      }
    }
  }
  __syncthreads();

  // 7. unpool1 → ReLU → conv1ᵀ, one thread per output pixel: per channel, the ≤ 3×3 pool1 cells
  //    whose conv1 pair of rows/columns meets the pixel's 5×5 reach; each contributes at its
  //    switch position only (unpool sparsity), 9 switch reads instead of 25 tap tests.
  for (int e = tid; e < kW * kW; e += blockDim.x) {
    const int i = e / kW, j = e % kW;
    const int gy = oy + i, gx = ox + j;
    float acc = 0.0f;
    if (gy >= 0 && gy < size && gx >= 0 && gx < size) {
      const int qy_begin = max(0, i - (kR - 1)) / 2, qy_end = min(kP1 - 1, i / 2);
      const int qx_begin = max(0, j - (kR - 1)) / 2, qx_end = min(kP1 - 1, j / 2);
      for (int c = 0; c < sh.c1; ++c) {
        const float* w = wt.w1 + c * kR * kR;
        for (int qy = qy_begin; qy <= qy_end; ++qy) {
          for (int qx = qx_begin; qx <= qx_end; ++qx) {
            const int cell = qy * kP1 + qx;
            const std::uint8_t sw = switch1[c * kP1 * kP1 + cell];
            if (sw == kNoSwitch) continue;
            const int u = i - (2 * qy + sw / 2), v = j - (2 * qx + sw % 2);  // tap of conv1ᵀ
            if (u < 0 || u >= kR || v < 0 || v >= kR) continue;
            acc += __ldg(w + u * kR + v) * relu(pool1[c * kP1Stride + cell]);
          }
        }
      }
    }
    out[e] = acc;
  }
  if (tid == 0) {
    origins[2 * r] = oy;
    origins[2 * r + 1] = ox;
    if (seeds != nullptr) seeds[r] = seed;
  }
}

}  // namespace
}  // namespace aulens
