// The kernels of the AU sweep on the GPU (launchers: cuda/au_sweep.cu; twin: src/cpu/au_sweep.cpp;
// definitions at the end of aulens/ops_decl.inc). No CUDA header, so tests/emu/block_emu.h can run
// them on the host (tests/test_au_sweep_emu.cpp); the CUB sort stays in the launcher. Glossary: M
// images, K maps, A AUs (≤ 64), n top-n length (≤ 32).
//
//   au_sweep_rank             transpose values (M,K) → (K,M) (−0 → +0), CUB segmented radix sort
//                             (descending, stable: equal values keep the smaller image first), then
//                             one thread per sorted element finds its tie group by binary search
//                             and scatters the midrank to midranks[k][image].
//   au_sweep_topn             one warp per (AU, map) walks the sorted column 32 entries at a time:
//                             a ballot of "carries the AU" gives each lane its rank in S or Sᶜ,
//                             the first n of each land in shared memory; the walk stops when both
//                             are full (≈ n·M/min(|S|,|Sᶜ|) entries, not M).
//   au_sweep_distance         one thread per (AU, map), the CPU twin's loop (double, in order).
//   au_sweep_auc              one block per map; per 32 images and AU a warp __reduce_add_sync of
//                             2·midrank over the positives (exact integers), lane j%32 keeps AU j.
//   au_sweep_permutation_max  per chunk of permutations: one block per permutation copies the
//   packed
//                             AU rows (one u64 per image) and shuffles them (Fisher–Yates of
//                             aulens/sweep_shuffle.h, in shared memory when it fits); then one
//                             block per permutation, each warp walking (AU, map) columns as in topn
//                             with the shuffled rows, the distance as in au_sweep_distance, and a
//                             shared atomicMax (non-negative floats order as their int bits) per
//                             AU.
// The sorted columns (2·K·M·4 bytes, 32 MB at 16,384 × 256) are read only along short prefixes and
// stay in L2; the shuffled rows of a permutation (8·M bytes) are what each block gathers from.
#pragma once

#include "kernel_defs.cuh"

#include <cstdint>

#include "aulens/sweep_shuffle.h"

namespace aulens {
namespace {  // internal linkage: see kernel_defs.cuh

constexpr int kMaxAus = 64;
constexpr int kMaxTopN = 32;
constexpr int kWarp = 32;
constexpr unsigned kFull = 0xFFFFFFFFu;

// ---- packing ----

// au_mask (M,A) u8 → rows (M) u64, bit j = carries AU j.
static __global__ void pack_rows_kernel(int m, int a, const std::uint8_t* au_mask,
                                        std::uint64_t* rows) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= m) return;
  std::uint64_t bits = 0;
  for (int j = 0; j < a; ++j) {
    if (au_mask[static_cast<std::int64_t>(i) * a + j] != 0) bits |= std::uint64_t{1} << j;
  }
  rows[i] = bits;
}

// ---- rank ----

// values (M,K) → keys (K,M) with −0 → +0, images (K,M) = i, offsets (K+1) = k·M.
static __global__ void transpose_for_sort_kernel(int m, int k, const float* values, float* keys,
                                                 std::int32_t* images, int* offsets) {
  AULENS_STATIC_SHARED(float, tile, [32][33]);
  const int i0 = blockIdx.x * 32, k0 = blockIdx.y * 32;
  for (int r = threadIdx.y; r < 32; r += blockDim.y) {
    const int i = i0 + r, map = k0 + threadIdx.x;
    if (i < m && map < k) tile[r][threadIdx.x] = values[static_cast<std::int64_t>(i) * k + map];
  }
  __syncthreads();
  for (int r = threadIdx.y; r < 32; r += blockDim.y) {
    const int map = k0 + r, i = i0 + threadIdx.x;
    if (i < m && map < k) {
      const float v = tile[threadIdx.x][r];
      keys[static_cast<std::int64_t>(map) * m + i] = v == 0.0f ? 0.0f : v;
      images[static_cast<std::int64_t>(map) * m + i] = i;
    }
  }
  if (blockIdx.x == 0 && blockIdx.y == 0) {
    for (int t = threadIdx.y * blockDim.x + threadIdx.x; t <= k; t += blockDim.x * blockDim.y) {
      offsets[t] = t * m;
    }
  }
}

// One thread per sorted element (k, t): its tie group [lo, hi) in the descending column, midrank
// (2M − hi − lo + 1)/2 written at midranks[k][image].
static __global__ void midrank_kernel(int m, int k, const float* sorted_values,
                                      const std::int32_t* sorted_images, float* midranks) {
  const std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x;
  if (e >= static_cast<std::int64_t>(m) * k) return;
  const std::int64_t map = e / m;
  const int t = static_cast<int>(e - map * m);
  const float* col = sorted_values + map * m;
  const float v = col[t];
  int lo = t, hi = t + 1;
  if ((t > 0 && col[t - 1] == v) || (t + 1 < m && col[t + 1] == v)) {
    int a = 0, b = t;  // first index with col[x] <= v (col[x] > v before it)
    while (a < b) {
      const int mid = (a + b) / 2;
      if (col[mid] > v)
        a = mid + 1;
      else
        b = mid;
    }
    lo = a;
    a = t + 1;
    b = m;  // first index with col[x] < v
    while (a < b) {
      const int mid = (a + b) / 2;
      if (col[mid] >= v)
        a = mid + 1;
      else
        b = mid;
    }
    hi = a;
  }
  midranks[map * m + sorted_images[map * m + t]] = static_cast<float>(2 * m - hi - lo + 1) * 0.5f;
}

// ---- the masked top-n walk shared by topn and the permutations ----

// The calling warp walks column (values, images) of length m; afterwards s_r[r] / s_q[r] (r < n)
// hold the r-th largest value among images whose row has bit j set / clear, 0 when missing.
// s_r, s_q: this warp's 32 floats each in shared memory.
__device__ void warp_masked_top_n(int m, int n, const float* col_values,
                                  const std::int32_t* col_images, const std::uint64_t* rows, int j,
                                  float* s_r, float* s_q) {
  const int lane = threadIdx.x % kWarp;
  s_r[lane] = 0.0f;
  s_q[lane] = 0.0f;
  __syncwarp();
  const unsigned below = (1u << lane) - 1u;
  int with = 0, without = 0;
  for (int base = 0; base < m && (with < n || without < n); base += kWarp) {
    const int t = base + lane;
    const bool valid = t < m;
    float v = 0.0f;
    bool carries = false;
    if (valid) {
      v = __ldg(col_values + t);
      carries = (__ldg(rows + __ldg(col_images + t)) >> j) & 1u;
    }
    const unsigned pos = __ballot_sync(kFull, valid && carries);
    const unsigned neg = __ballot_sync(kFull, valid && !carries);
    if (valid) {
      if (carries) {
        const int rank = with + __popc(pos & below);
        if (rank < n) s_r[rank] = v;
      } else {
        const int rank = without + __popc(neg & below);
        if (rank < n) s_q[rank] = v;
      }
    }
    with += __popc(pos);
    without += __popc(neg);
  }
  __syncwarp();
}

// One term (R'−Q')·log(R'/Q') of the distance, ε-floored, in double. The product and the sums
// are explicitly rounded (never fused into an FMA) so that distance_kernel and warp_distance
// give the same bits for the same lists: the permutation test compares the two.
__device__ double distance_term(float r_value, float q_value, float epsilon) {
  const double r = fmaxf(r_value, epsilon), q = fmaxf(q_value, epsilon);
  return __dmul_rn(r - q, log(r / q));
}

// The distance of R = s_r, Q = s_q, identical on every lane: terms in double, summed in order.
__device__ float warp_distance(int n, float epsilon, const float* s_r, const float* s_q) {
  const int lane = threadIdx.x % kWarp;
  const double term = lane < n ? distance_term(s_r[lane], s_q[lane], epsilon) : 0.0;
  double sum = 0.0;
  for (int t = 0; t < n; ++t) sum = __dadd_rn(sum, __shfl_sync(kFull, term, t));
  return static_cast<float>(sum);
}

constexpr int kWalkWarps = 8;  // warps per block in the topn kernel

// One warp per (AU j, map k), task = j·K + k.
static __global__ void topn_kernel(int m, int k, int a, int n, const float* sorted_values,
                                   const std::int32_t* sorted_images, const std::uint64_t* rows,
                                   float* top_pos, float* top_neg) {
  AULENS_STATIC_SHARED(float, s_r, [kWalkWarps][kWarp]);
  AULENS_STATIC_SHARED(float, s_q, [kWalkWarps][kWarp]);
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const std::int64_t task = static_cast<std::int64_t>(blockIdx.x) * kWalkWarps + warp;
  if (task >= static_cast<std::int64_t>(a) * k) return;
  const int j = static_cast<int>(task / k), map = static_cast<int>(task % k);
  warp_masked_top_n(m, n, sorted_values + static_cast<std::int64_t>(map) * m,
                    sorted_images + static_cast<std::int64_t>(map) * m, rows, j, s_r[warp],
                    s_q[warp]);
  if (lane < n) {
    top_pos[task * n + lane] = s_r[warp][lane];
    top_neg[task * n + lane] = s_q[warp][lane];
  }
}

// One thread per (AU, map): the CPU twin's loop.
static __global__ void distance_kernel(int cells, int n, float epsilon, const float* top_pos,
                                       const float* top_neg, float* distance) {
  const int cell = blockIdx.x * blockDim.x + threadIdx.x;
  if (cell >= cells) return;
  double sum = 0.0;
  for (int t = 0; t < n; ++t) {
    const std::int64_t at = static_cast<std::int64_t>(cell) * n + t;
    sum = __dadd_rn(sum, distance_term(top_pos[at], top_neg[at], epsilon));
  }
  distance[cell] = static_cast<float>(sum);
}

// ---- AUC ----

constexpr int kAucThreads = 256;

// One block per map. Lane j%32 of each warp accumulates AU j's 2·rank sum and positive count.
static __global__ void auc_kernel(int m, int k, int a, const float* midranks,
                                  const std::uint64_t* rows, float* auc) {
  AULENS_STATIC_SHARED(unsigned long long, s_sum, [kMaxAus]);
  AULENS_STATIC_SHARED(unsigned long long, s_count, [kMaxAus]);
  const int map = blockIdx.x, lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  constexpr int warps = kAucThreads / kWarp;
  if (threadIdx.x < kMaxAus) {
    s_sum[threadIdx.x] = 0;
    s_count[threadIdx.x] = 0;
  }
  __syncthreads();
  const float* col = midranks + static_cast<std::int64_t>(map) * m;
  unsigned long long sum_lo = 0, sum_hi = 0, count_lo = 0, count_hi = 0;  // AU lane, lane + 32
  for (int base = warp * kWarp; base < m; base += warps * kWarp) {
    const int i = base + lane;
    unsigned twice_rank = 0;
    std::uint64_t bits = 0;
    if (i < m) {
      twice_rank = static_cast<unsigned>(2.0f * col[i]);
      bits = rows[i];
    }
    for (int j = 0; j < a; ++j) {
      const bool carries = (bits >> j) & 1u;
      const unsigned part = __reduce_add_sync(kFull, carries ? twice_rank : 0u);
      const unsigned count = __popc(__ballot_sync(kFull, carries));
      if (lane == (j & 31)) {
        if (j < 32) {
          sum_lo += part;
          count_lo += count;
        } else {
          sum_hi += part;
          count_hi += count;
        }
      }
    }
  }
  if (lane < a) {
    atomicAdd(&s_sum[lane], sum_lo);
    atomicAdd(&s_count[lane], count_lo);
  }
  if (lane + 32 < a) {
    atomicAdd(&s_sum[lane + 32], sum_hi);
    atomicAdd(&s_count[lane + 32], count_hi);
  }
  __syncthreads();
  for (int j = threadIdx.x; j < a; j += blockDim.x) {
    const long long pos = static_cast<long long>(s_count[j]), neg = m - pos;
    float value = __int_as_float(0x7fc00000);  // NaN
    if (pos > 0 && neg > 0) {
      value = static_cast<float>(
          static_cast<double>(static_cast<long long>(s_sum[j]) - pos * (pos + 1)) /
          (2.0 * static_cast<double>(pos) * static_cast<double>(neg)));
    }
    auc[static_cast<std::int64_t>(j) * k + map] = value;
  }
}

// ---- permutations ----

// Block q: shuffled[q] = rows shuffled by permutation first + q (in shared memory when it fits).
static __global__ void shuffle_rows_kernel(int m, std::uint64_t seed, int first,
                                           const std::uint64_t* rows, std::uint64_t* shuffled,
                                           bool in_shared) {
  AULENS_DYNAMIC_SHARED(std::uint64_t, s_rows);
  std::uint64_t* out = shuffled + static_cast<std::int64_t>(blockIdx.x) * m;
  std::uint64_t* work = in_shared ? s_rows : out;
  for (int i = threadIdx.x; i < m; i += blockDim.x) work[i] = rows[i];
  __syncthreads();
  if (threadIdx.x == 0) {
    sweep_shuffle(seed, static_cast<std::uint64_t>(first) + blockIdx.x, m, work);
  }
  __syncthreads();
  if (in_shared) {
    for (int i = threadIdx.x; i < m; i += blockDim.x) out[i] = s_rows[i];
  }
}

constexpr int kPermWarps = 16;  // warps per block in the permutation kernel

// Block q = one permutation; its warps walk every (AU, map) with that permutation's rows.
static __global__ void permutation_max_kernel(int m, int k, int a, int n, float epsilon,
                                              const float* sorted_values,
                                              const std::int32_t* sorted_images,
                                              const std::uint64_t* shuffled, float* null_max) {
  AULENS_STATIC_SHARED(float, s_r, [kPermWarps][kWarp]);
  AULENS_STATIC_SHARED(float, s_q, [kPermWarps][kWarp]);
  AULENS_STATIC_SHARED(
      int, s_best, [kMaxAus]);  // float bits of a non-negative float: int order = float order
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  if (threadIdx.x < kMaxAus) s_best[threadIdx.x] = 0;
  __syncthreads();
  const std::uint64_t* rows = shuffled + static_cast<std::int64_t>(blockIdx.x) * m;
  const int tasks = a * k;
  for (int task = warp; task < tasks; task += kPermWarps) {
    const int j = task / k, map = task % k;
    warp_masked_top_n(m, n, sorted_values + static_cast<std::int64_t>(map) * m,
                      sorted_images + static_cast<std::int64_t>(map) * m, rows, j, s_r[warp],
                      s_q[warp]);
    const float d = warp_distance(n, epsilon, s_r[warp], s_q[warp]);
    if (lane == 0) atomicMax(&s_best[j], __float_as_int(d));
    __syncwarp();
  }
  __syncthreads();
  for (int j = threadIdx.x; j < a; j += blockDim.x) {
    null_max[static_cast<std::int64_t>(blockIdx.x) * a + j] = __int_as_float(s_best[j]);
  }
}

}  // namespace
}  // namespace aulens
