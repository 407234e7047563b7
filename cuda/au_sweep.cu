// The AU sweep on the GPU: the launchers. The kernels, the method and its glossary are in
// au_sweep_kernels.cuh; the twin is src/cpu/au_sweep.cpp.
#include <cub/device/device_segmented_radix_sort.cuh>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "au_sweep_kernels.cuh"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {
namespace {

constexpr std::size_t kShuffleScratchBytes = std::size_t{64} << 20;  // shuffled rows per chunk

void check_sizes(const char* op, int m, int k, int a, int n) {
  AULENS_CHECK(m > 0 && m < (1 << 23) && k > 0 && a >= 1 && a <= kMaxAus && n >= 1 && n <= kMaxTopN,
               std::string(op) + ": need 0 < M < 2^23, K > 0, 1 <= A <= 64, 1 <= n <= 32; got M " +
                   std::to_string(m) + ", K " + std::to_string(k) + ", A " + std::to_string(a) +
                   ", n " + std::to_string(n));
  // CUB's segmented sort and the segment offsets count the M·K values in int.
  AULENS_REQUIRE(static_cast<std::int64_t>(m) * k <= std::numeric_limits<int>::max(),
                 std::string(op) + ": M·K = " + std::to_string(static_cast<std::int64_t>(m) * k) +
                     " records exceed the 2^31 - 1 a sweep can sort; sweep fewer images or maps");
  // The transpose's grid has a y dimension of K/32 blocks (at most 65,535); per-(AU, map) work
  // is counted in int.
  AULENS_REQUIRE(
      k <= 65535 * 32 && static_cast<std::int64_t>(a) * k <= std::numeric_limits<int>::max(),
      std::string(op) + ": " + std::to_string(k) + " maps (of " + std::to_string(a) +
          " AUs) exceed the 2,097,120 maps a sweep handles on the GPU");
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

std::uint64_t* pack_rows(int m, int a, const std::uint8_t* au_mask) {
  auto* rows = static_cast<std::uint64_t*>(rows_scratch().bytes(sizeof(std::uint64_t) * m));
  cuda_detail::launch(pack_rows_kernel, grid_for(m, 256), 256, 0, m, a, au_mask, rows);
  AULENS_CHECK_LAUNCH("pack_rows_kernel");
  return rows;
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
  cuda_detail::launch(transpose_for_sort_kernel, tile_grid, dim3(32, 8), 0, m, k, values, keys,
                      images, offsets);
  AULENS_CHECK_LAUNCH("transpose_for_sort_kernel");
  AULENS_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
      cub_temp, cub_bytes, keys, sorted_values, images, sorted_images, static_cast<int>(total), k,
      offsets, offsets + 1, 0, 32, cuda_detail::stream()));
  cuda_detail::launch(midrank_kernel, grid_for(total, 256), 256, 0, m, k, sorted_values,
                      sorted_images, midranks);
  AULENS_CHECK_LAUNCH("midrank_kernel");
}

void CudaOps::au_sweep_topn(int m, int k, int a, int n, const float* sorted_values,
                            const std::int32_t* sorted_images, const std::uint8_t* au_mask,
                            float* top_pos, float* top_neg) {
  check_sizes("au_sweep_topn", m, k, a, n);
  const std::uint64_t* rows = pack_rows(m, a, au_mask);
  cuda_detail::launch(topn_kernel, grid_for(static_cast<std::int64_t>(a) * k, kWalkWarps),
                      kWalkWarps * kWarp, 0, m, k, a, n, sorted_values, sorted_images, rows,
                      top_pos, top_neg);
  AULENS_CHECK_LAUNCH("topn_kernel");
}

void CudaOps::au_sweep_distance(int a, int k, int n, float epsilon, const float* top_pos,
                                const float* top_neg, float* distance) {
  check_sizes("au_sweep_distance", 1, k, a, n);
  AULENS_CHECK(epsilon > 0.0f,
               "au_sweep_distance: epsilon must be > 0, got " + std::to_string(epsilon));
  const int cells = a * k;
  cuda_detail::launch(distance_kernel, grid_for(cells, 256), 256, 0, cells, n, epsilon, top_pos,
                      top_neg, distance);
  AULENS_CHECK_LAUNCH("distance_kernel");
}

void CudaOps::au_sweep_auc(int m, int k, int a, const float* midranks, const std::uint8_t* au_mask,
                           float* auc) {
  check_sizes("au_sweep_auc", m, k, a, 1);
  const std::uint64_t* rows = pack_rows(m, a, au_mask);
  cuda_detail::launch(auc_kernel, k, kAucThreads, 0, m, k, a, midranks, rows, auc);
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
    cuda_detail::launch(shuffle_rows_kernel, now, 256, in_shared ? row_bytes : 0, m, seed,
                        first + done, rows, shuffled, in_shared);
    AULENS_CHECK_LAUNCH("shuffle_rows_kernel");
    cuda_detail::launch(permutation_max_kernel, now, kPermWarps * kWarp, 0, m, k, a, n, epsilon,
                        sorted_values, sorted_images, shuffled,
                        null_max + static_cast<std::int64_t>(done) * a);
    AULENS_CHECK_LAUNCH("permutation_max_kernel");
  }
}

}  // namespace aulens
