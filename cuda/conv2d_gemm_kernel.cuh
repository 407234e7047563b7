// The kernels of the hand-written "same" convolution (launchers and the method: cuda/conv2d.cu):
// the implicit GEMM (forward, backward-data through flipped filters, and the fused ReLU + records
// epilogue), the direct kernel for few output channels, and the filter flip. Device code only, no
// CUDA header, so tests/emu/block_emu.h can run it on the host (tests/test_conv2d_emu.cpp).
#pragma once

#include "kernel_defs.cuh"

#include "conv2d_tiles.cuh"

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

// ---- tiled implicit GEMM ----
// in: (N, Cin, H, W)  filt: (M, Cin, R, R)  bias: (M) or nullptr  out: (N, M, H, W)
// Moves the tap (c, r, s) of a C×R×R reduction `steps` positions on in (c, r, s) order.
__device__ __forceinline__ void advance_taps(int steps, int r_count, int& c, int& r, int& s) {
  s += steps;
  while (s >= r_count) {
    s -= r_count;
    ++r;
  }
  while (r >= r_count) {
    r -= r_count;
    ++c;
  }
}

// (value, position) of a post-ReLU output as an order-preserving key (see the file comment).
__device__ __forceinline__ unsigned long long record_key(float relu_value, int position) {
  const unsigned bits = relu_value != relu_value ? 0x7fc00000u : __float_as_uint(relu_value);
  return (static_cast<unsigned long long>(bits) << 32) |
         (0xFFFFFFFFu - static_cast<unsigned>(position));
}

// Records = false: out = conv (+ bias).  Records = true: record_keys (N, M) ← atomicMax of the keys
// of ReLU(conv + bias) (zeroed by the caller; needs H·W ≥ BN), `out` unused.
// ChannelsInner: the slice depth divides Cin (the tap-major reduction below); a compile-time
// choice, so each instantiation carries one loader only (fewer registers, no spills at sm_90).
// MinBlocks: the blocks per multiprocessor the registers must allow (2: at most 128 per thread;
// 1 lets the 3×TF32 tiles keep everything in registers, a "fastest"-mode candidate).
template <int BM, int BN, TileMath Math, bool Records, bool ChannelsInner, int MinBlocks = 2>
__global__ void __launch_bounds__(kConvThreads, MinBlocks)
    conv_same_gemm_kernel(ConvGeometry g, const float* __restrict__ in,
                          const float* __restrict__ filt, const float* __restrict__ bias,
                          float* __restrict__ out, unsigned long long* __restrict__ record_keys) {
  constexpr int TK = cuda_detail::slice_depth<Math>();
  constexpr int kStrideA = BM + kSmemPad;
  constexpr int kStrideB = BN + kSmemPad;
  constexpr int kLoadA = BM * TK / kConvThreads;  // filter values per thread per slice
  constexpr int kLoadB = BN * TK / kConvThreads;  // im2col values per thread per slice
  constexpr int kThreadsPerRowA = TK / kLoadA;
  static_assert(kLoadA >= 1 && kLoadB >= 1 && TK % kLoadA == 0, "tile shape");
  static_assert(Math == TileMath::ffma || 2 * TK * kStrideA >= 8 * 256, "epilogue scratch");
  AULENS_STATIC_SHARED_ALIGNED(32, float, smem_a, [2][TK * kStrideA]);  // [q][m]
  AULENS_STATIC_SHARED_ALIGNED(32, float, smem_b, [2][TK * kStrideB]);  // [q][p]

  const int t = threadIdx.x;
  const int m_block = blockIdx.y * BM;
  const int p_block = blockIdx.x * BN;

  // Filter loader: row m_a, slice columns q_a .. q_a + kLoadA − 1 (contiguous in memory).
  const int m_a_local = t / kThreadsPerRowA;
  const int q_a_local = (t % kThreadsPerRowA) * kLoadA;
  const int m_a = m_block + m_a_local;
  const float* filt_row = filt + static_cast<long long>(m_a < g.m ? m_a : 0) * g.crr;

  // im2col loader: pixel column p_b, slice rows q_b .. q_b + kLoadB − 1.
  const int p_b_local = t % BN;
  const int q_b_local = (t / BN) * kLoadB;
  const int p_b = p_block + p_b_local;
  const bool p_b_valid = p_b < g.p;
  int oy = 0, ox = 0;
  const float* in_image = in;
  if (p_b_valid) {
    const int n = p_b / g.hw;
    const int yx = p_b - n * g.hw;
    oy = yx / g.w;
    ox = yx - oy * g.w;
    in_image = in + static_cast<long long>(n) * g.cin * g.hw;
  }
  // (c, r, s) of row q_b_local of the current slice, advanced by TK per slice.
  int c_b = 0, r_b = 0, s_b = 0;
  advance_taps(q_b_local, g.r, c_b, r_b, s_b);

  float reg_a[kLoadA];
  float reg_b[kLoadB];
  // Reduction order. When TK divides Cin, slice = (tap rs, channel block): q runs over TK
  // consecutive channels of one filter tap, so a thread's im2col rows share one (iy, ix) and one
  // bounds test and sit H·W apart. Otherwise (conv1, Cin = 1) q runs in (c, r, s) order.
  const int channel_blocks = g.cin / TK;
  const int taps = g.r * g.r;
  auto load_slice = [&](int slice) {
    if constexpr (ChannelsInner) {
      const int rs = slice / channel_blocks;
      const int c0 = (slice - rs * channel_blocks) * TK;
      const int r = rs / g.r;
#pragma unroll
      for (int j = 0; j < kLoadA; ++j)
        reg_a[j] = m_a < g.m ? __ldg(filt_row + (c0 + q_a_local + j) * taps + rs) : 0.0f;
      const int iy = oy + r - g.pad;
      const int ix = ox + (rs - r * g.r) - g.pad;
      const bool inside = p_b_valid && static_cast<unsigned>(iy) < static_cast<unsigned>(g.h) &&
                          static_cast<unsigned>(ix) < static_cast<unsigned>(g.w);
      const float* src = in_image +
                         (static_cast<long long>(c0 + q_b_local) * g.h + (inside ? iy : 0)) * g.w +
                         (inside ? ix : 0);
#pragma unroll
      for (int j = 0; j < kLoadB; ++j)
        reg_b[j] = inside ? __ldg(src + static_cast<long long>(j) * g.hw) : 0.0f;
    } else {
      const int q0 = slice * TK;
#pragma unroll
      for (int j = 0; j < kLoadA; ++j) {
        const int q = q0 + q_a_local + j;
        reg_a[j] = (m_a < g.m && q < g.crr) ? __ldg(filt_row + q) : 0.0f;
      }
      int c = c_b, r = r_b, s = s_b;
#pragma unroll
      for (int j = 0; j < kLoadB; ++j) {
        const int iy = oy + r - g.pad;
        const int ix = ox + s - g.pad;
        const bool inside = p_b_valid && c < g.cin &&
                            static_cast<unsigned>(iy) < static_cast<unsigned>(g.h) &&
                            static_cast<unsigned>(ix) < static_cast<unsigned>(g.w);
        reg_b[j] =
            inside ? __ldg(in_image + (static_cast<long long>(c) * g.h + iy) * g.w + ix) : 0.0f;
        if (++s == g.r) {
          s = 0;
          if (++r == g.r) {
            r = 0;
            ++c;
          }
        }
      }
      advance_taps(TK, g.r, c_b, r_b, s_b);  // the slice origin of the next call
    }
  };
  auto store_slice = [&](int buffer) {
#pragma unroll
    for (int j = 0; j < kLoadA; ++j)
      smem_a[buffer][(q_a_local + j) * kStrideA + m_a_local] = reg_a[j];
#pragma unroll
    for (int j = 0; j < kLoadB; ++j)
      smem_b[buffer][(q_b_local + j) * kStrideB + p_b_local] = reg_b[j];
  };

  cuda_detail::TileAccumulator<BM, BN, Math> acc;
  acc.zero();

  const int slices = (g.crr + TK - 1) / TK;
  load_slice(0);
  store_slice(0);
  __syncthreads();
  for (int slice = 0; slice < slices; ++slice) {
    const int buffer = slice & 1;
    const bool more = slice + 1 < slices;
    if (more) load_slice(slice + 1);  // global loads in flight during the product
    acc.product(smem_a[buffer], smem_b[buffer]);
    if (more) store_slice(buffer ^ 1);
    __syncthreads();
  }

  // Epilogue: out[n][m][yx] = acc + bias[m]. (The loop's last barrier freed smem_a as scratch.)
  if constexpr (Records) {
    AULENS_STATIC_SHARED(unsigned long long,
                         tile_keys, [BM][2]);  // per tile row: the tile's first two images
    for (int i = t; i < 2 * BM; i += kConvThreads) tile_keys[i / 2][i % 2] = 0;
    __syncthreads();
    const int n_first = p_block / g.hw;
    acc.for_each(&smem_a[0][0], [&](int row, int col, float value) {
      const int p = p_block + col;
      const int m = m_block + row;
      if (p >= g.p || m >= g.m) return;
      const int n = p / g.hw;
      const float v = value + (bias != nullptr ? __ldg(bias + m) : 0.0f);
      const float relu_v = (v > 0.0f || v != v) ? v : 0.0f;
      const unsigned long long key = record_key(relu_v, p - n * g.hw);
      // Most outputs are not a new maximum: a plain read first spares the contended atomic.
      if (key > tile_keys[row][n - n_first]) atomicMax(&tile_keys[row][n - n_first], key);
    });
    __syncthreads();
    for (int i = t; i < 2 * BM; i += kConvThreads) {
      const int m = m_block + i / 2, n = n_first + i % 2;
      const unsigned long long key = tile_keys[i / 2][i % 2];
      if (key != 0 && m < g.m && n < g.n)
        atomicMax(record_keys + static_cast<long long>(n) * g.m + m, key);
    }
    return;
  }
  acc.for_each(&smem_a[0][0], [&](int row, int col, float value) {
    const int p = p_block + col;
    const int m = m_block + row;
    if (p >= g.p || m >= g.m) return;
    const int n = p / g.hw;
    const int yx = p - n * g.hw;
    out[(static_cast<long long>(n) * g.m + m) * g.hw + yx] =
        value + (bias != nullptr ? __ldg(bias + m) : 0.0f);
  });
}

// keys (rows) → value, position (see record_key).
__global__ void unpack_record_keys_kernel(long long rows,
                                          const unsigned long long* __restrict__ keys,
                                          float* __restrict__ value,
                                          std::int32_t* __restrict__ position) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= rows) return;
  const unsigned long long key = keys[i];
  value[i] = __uint_as_float(static_cast<unsigned>(key >> 32));
  position[i] = static_cast<std::int32_t>(0xFFFFFFFFu - static_cast<unsigned>(key & 0xFFFFFFFFu));
}

// ---- direct kernel for few output channels ----
constexpr int kDirectOut = 4;        // output channels per thread
constexpr int kDirectThreads = 128;  // pixels per block
constexpr int kDirectMaxSmem = 48 * 1024;

// Same contract as the GEMM kernel; grid (ceil(P/128), ceil(M/4)), dynamic smem 4·Cin·R·R floats.
__global__ void __launch_bounds__(kDirectThreads)
    conv_same_direct_kernel(ConvGeometry g, const float* __restrict__ in,
                            const float* __restrict__ filt, const float* __restrict__ bias,
                            float* __restrict__ out) {
  AULENS_DYNAMIC_SHARED(float, filt_slice);  // [kDirectOut][Cin·R·R]
  const int m0 = blockIdx.y * kDirectOut;
  for (int i = threadIdx.x; i < kDirectOut * g.crr; i += blockDim.x) {
    const int j = i / g.crr;
    const int q = i - j * g.crr;
    filt_slice[i] = m0 + j < g.m ? filt[static_cast<long long>(m0 + j) * g.crr + q] : 0.0f;
  }
  __syncthreads();
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= g.p) return;
  const int n = p / g.hw;
  const int yx = p - n * g.hw;
  const int oy = yx / g.w;
  const int ox = yx - oy * g.w;
  const float* in_image = in + static_cast<long long>(n) * g.cin * g.hw;

  float acc[kDirectOut] = {};
  for (int c = 0; c < g.cin; ++c) {
    const float* in_plane = in_image + static_cast<long long>(c) * g.hw;
    for (int r = 0; r < g.r; ++r) {
      const int iy = oy + r - g.pad;
      if (static_cast<unsigned>(iy) >= static_cast<unsigned>(g.h)) continue;
      for (int s = 0; s < g.r; ++s) {
        const int ix = ox + s - g.pad;
        if (static_cast<unsigned>(ix) >= static_cast<unsigned>(g.w)) continue;
        const float v = __ldg(in_plane + iy * g.w + ix);
        const int q = (c * g.r + r) * g.r + s;
#pragma unroll
        for (int j = 0; j < kDirectOut; ++j) acc[j] = fmaf(v, filt_slice[j * g.crr + q], acc[j]);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kDirectOut; ++j) {
    const int m = m0 + j;
    if (m < g.m)
      out[(static_cast<long long>(n) * g.m + m) * g.hw + yx] =
          acc[j] + (bias != nullptr ? bias[m] : 0.0f);
  }
}

// wt[c][k][r][s] = w[k][c][R−1−r][R−1−s];  w: (K, C, R, R)  wt: (C, K, R, R)
__global__ void flip_transpose_filters_kernel(int k_count, int c_count, int rr,
                                              const float* __restrict__ w, float* __restrict__ wt) {
  const long long total = static_cast<long long>(k_count) * c_count * rr;
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const int rs = static_cast<int>(i % rr);
    const long long kc = i / rr;
    const int k = static_cast<int>(kc % k_count);
    const int c = static_cast<int>(kc / k_count);
    wt[i] = w[(static_cast<long long>(k) * c_count + c) * rr + (rr - 1 - rs)];
  }
}

}  // namespace
}  // namespace aulens
