// The AU sweep on the GPU (twin of src/cpu/au_sweep.cpp; definitions at the end of
// aulens/ops_decl.inc). Glossary: M images, K maps, A AUs (≤ 64), n top-n length (≤ 32).
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
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cstdint>
#include <string>

#include "aulens/device.h"
#include "aulens/ops.h"
#include "aulens/sweep_shuffle.h"
#include "common.cuh"

namespace aulens {
namespace {

constexpr int kMaxAus = 64;
constexpr int kMaxTopN = 32;
constexpr int kWarp = 32;
constexpr unsigned kFull = 0xFFFFFFFFu;
constexpr std::size_t kShuffleScratchBytes = std::size_t{64} << 20;  // shuffled rows per chunk

void check_sizes(const char* op, int m, int k, int a, int n) {
  AULENS_CHECK(m > 0 && m < (1 << 23) && k > 0 && a >= 1 && a <= kMaxAus && n >= 1 && n <= kMaxTopN,
               std::string(op) + ": need 0 < M < 2^23, K > 0, 1 <= A <= 64, 1 <= n <= 32; got M " +
                   std::to_string(m) + ", K " + std::to_string(k) + ", A " + std::to_string(a) +
                   ", n " + std::to_string(n));
}

cuda_detail::ScratchBuffer& rows_scratch() {
  static cuda_detail::ScratchBuffer s;
  return s;
}
cuda_detail::ScratchBuffer& sort_scratch() {
  static cuda_detail::ScratchBuffer s;
  return s;
}
cuda_detail::ScratchBuffer& shuffle_scratch() {
  static cuda_detail::ScratchBuffer s;
  return s;
}

unsigned grid_for(std::int64_t count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

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

std::uint64_t* pack_rows(int m, int a, const std::uint8_t* au_mask) {
  auto* rows = static_cast<std::uint64_t*>(rows_scratch().bytes(sizeof(std::uint64_t) * m));
  pack_rows_kernel<<<grid_for(m, 256), 256, 0, cuda_detail::stream()>>>(m, a, au_mask, rows);
  AULENS_CHECK_LAUNCH("pack_rows_kernel");
  return rows;
}

// ---- rank ----

// values (M,K) → keys (K,M) with −0 → +0, images (K,M) = i, offsets (K+1) = k·M.
static __global__ void transpose_for_sort_kernel(int m, int k, const float* values, float* keys,
                                                 std::int32_t* images, int* offsets) {
  __shared__ float tile[32][33];
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

// The distance of R = s_r, Q = s_q, identical on every lane: terms in double, summed in order.
__device__ float warp_distance(int n, float epsilon, const float* s_r, const float* s_q) {
  const int lane = threadIdx.x % kWarp;
  double term = 0.0;
  if (lane < n) {
    const double r = fmaxf(s_r[lane], epsilon), q = fmaxf(s_q[lane], epsilon);
    term = (r - q) * log(r / q);
  }
  double sum = 0.0;
  for (int t = 0; t < n; ++t) sum += __shfl_sync(kFull, term, t);
  return static_cast<float>(sum);
}

constexpr int kWalkWarps = 8;  // warps per block in the topn kernel

// One warp per (AU j, map k), task = j·K + k.
static __global__ void topn_kernel(int m, int k, int a, int n, const float* sorted_values,
                                   const std::int32_t* sorted_images, const std::uint64_t* rows,
                                   float* top_pos, float* top_neg) {
  __shared__ float s_r[kWalkWarps][kWarp], s_q[kWalkWarps][kWarp];
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
    const double r = fmaxf(top_pos[static_cast<std::int64_t>(cell) * n + t], epsilon);
    const double q = fmaxf(top_neg[static_cast<std::int64_t>(cell) * n + t], epsilon);
    sum += (r - q) * log(r / q);
  }
  distance[cell] = static_cast<float>(sum);
}

// ---- AUC ----

constexpr int kAucThreads = 256;

// One block per map. Lane j%32 of each warp accumulates AU j's 2·rank sum and positive count.
static __global__ void auc_kernel(int m, int k, int a, const float* midranks,
                                  const std::uint64_t* rows, float* auc) {
  __shared__ unsigned long long s_sum[kMaxAus];
  __shared__ unsigned long long s_count[kMaxAus];
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
  extern __shared__ std::uint64_t s_rows[];
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
  __shared__ float s_r[kPermWarps][kWarp], s_q[kPermWarps][kWarp];
  __shared__ int s_best[kMaxAus];  // float bits of a non-negative float: int order = float order
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

int max_shared_optin() {
  static const int bytes = [] {
    int dev = 0, value = 0;
    AULENS_CUDA_CHECK(cudaGetDevice(&dev));
    AULENS_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return value;
  }();
  return bytes;
}

}  // namespace

void CudaOps::au_sweep_rank(int m, int k, const float* values, float* sorted_values,
                            std::int32_t* sorted_images, float* midranks) {
  check_sizes("au_sweep_rank", m, k, 1, 1);
  const std::int64_t total = static_cast<std::int64_t>(m) * k;
  // Scratch: keys (K,M) f32, images (K,M) i32, offsets (K+1) int, then CUB's temporary storage.
  std::size_t cub_bytes = 0;
  AULENS_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, cub_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
      static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr),
      static_cast<int>(total), k, static_cast<const int*>(nullptr),
      static_cast<const int*>(nullptr), 0, 32, cuda_detail::stream()));
  const std::size_t keys_bytes = (sizeof(float) * total + 255) / 256 * 256;
  const std::size_t offsets_bytes = (sizeof(int) * (k + 1) + 255) / 256 * 256;
  auto* base = static_cast<char*>(sort_scratch().bytes(2 * keys_bytes + offsets_bytes + cub_bytes));
  auto* keys = reinterpret_cast<float*>(base);
  auto* images = reinterpret_cast<std::int32_t*>(base + keys_bytes);
  auto* offsets = reinterpret_cast<int*>(base + 2 * keys_bytes);
  void* cub_temp = base + 2 * keys_bytes + offsets_bytes;

  const dim3 tile_grid(grid_for(m, 32), grid_for(k, 32));
  transpose_for_sort_kernel<<<tile_grid, dim3(32, 8), 0, cuda_detail::stream()>>>(
      m, k, values, keys, images, offsets);
  AULENS_CHECK_LAUNCH("transpose_for_sort_kernel");
  AULENS_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      cub_temp, cub_bytes, keys, sorted_values, images, sorted_images, static_cast<int>(total), k,
      offsets, offsets + 1, 0, 32, cuda_detail::stream()));
  midrank_kernel<<<grid_for(total, 256), 256, 0, cuda_detail::stream()>>>(m, k, sorted_values,
                                                                          sorted_images, midranks);
  AULENS_CHECK_LAUNCH("midrank_kernel");
}

void CudaOps::au_sweep_topn(int m, int k, int a, int n, const float* sorted_values,
                            const std::int32_t* sorted_images, const std::uint8_t* au_mask,
                            float* top_pos, float* top_neg) {
  check_sizes("au_sweep_topn", m, k, a, n);
  const std::uint64_t* rows = pack_rows(m, a, au_mask);
  topn_kernel<<<grid_for(static_cast<std::int64_t>(a) * k, kWalkWarps), kWalkWarps * kWarp, 0,
                cuda_detail::stream()>>>(m, k, a, n, sorted_values, sorted_images, rows, top_pos,
                                         top_neg);
  AULENS_CHECK_LAUNCH("topn_kernel");
}

void CudaOps::au_sweep_distance(int a, int k, int n, float epsilon, const float* top_pos,
                                const float* top_neg, float* distance) {
  check_sizes("au_sweep_distance", 1, k, a, n);
  AULENS_CHECK(epsilon > 0.0f,
               "au_sweep_distance: epsilon must be > 0, got " + std::to_string(epsilon));
  const int cells = a * k;
  distance_kernel<<<grid_for(cells, 256), 256, 0, cuda_detail::stream()>>>(
      cells, n, epsilon, top_pos, top_neg, distance);
  AULENS_CHECK_LAUNCH("distance_kernel");
}

void CudaOps::au_sweep_auc(int m, int k, int a, const float* midranks, const std::uint8_t* au_mask,
                           float* auc) {
  check_sizes("au_sweep_auc", m, k, a, 1);
  const std::uint64_t* rows = pack_rows(m, a, au_mask);
  auc_kernel<<<k, kAucThreads, 0, cuda_detail::stream()>>>(m, k, a, midranks, rows, auc);
  AULENS_CHECK_LAUNCH("auc_kernel");
}

void CudaOps::au_sweep_permutation_max(int m, int k, int a, int n, float epsilon,
                                       std::uint64_t seed, int first, int count,
                                       const float* sorted_values,
                                       const std::int32_t* sorted_images,
                                       const std::uint8_t* au_mask, float* null_max) {
  check_sizes("au_sweep_permutation_max", m, k, a, n);
  AULENS_CHECK(first >= 0 && count >= 0, "au_sweep_permutation_max: bad range first " +
                                             std::to_string(first) + ", count " +
                                             std::to_string(count));
  if (count == 0) return;
  const std::uint64_t* rows = pack_rows(m, a, au_mask);
  const std::size_t row_bytes = sizeof(std::uint64_t) * m;
  const int chunk = static_cast<int>(
      std::max<std::size_t>(1, std::min<std::size_t>(count, kShuffleScratchBytes / row_bytes)));
  auto* shuffled = static_cast<std::uint64_t*>(shuffle_scratch().bytes(row_bytes * chunk));
  const bool in_shared = row_bytes <= static_cast<std::size_t>(max_shared_optin());
  if (in_shared) {
    AULENS_CUDA_CHECK(cudaFuncSetAttribute(shuffle_rows_kernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(row_bytes)));
  }
  for (int done = 0; done < count; done += chunk) {
    const int now = std::min(chunk, count - done);
    shuffle_rows_kernel<<<now, 256, in_shared ? row_bytes : 0, cuda_detail::stream()>>>(
        m, seed, first + done, rows, shuffled, in_shared);
    AULENS_CHECK_LAUNCH("shuffle_rows_kernel");
    permutation_max_kernel<<<now, kPermWarps * kWarp, 0, cuda_detail::stream()>>>(
        m, k, a, n, epsilon, sorted_values, sorted_images, shuffled,
        null_max + static_cast<std::int64_t>(done) * a);
    AULENS_CHECK_LAUNCH("permutation_max_kernel");
  }
}

}  // namespace aulens
