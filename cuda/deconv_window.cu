// Windowed deconvnet projections on the GPU: the launcher. The kernels, their phases and how they
// differ from the CPU twin (src/cpu/deconv_window.cpp) are described in deconv_window_kernel.cuh.
#include <string>
#include <vector>

#include "aulens/ops.h"
#include "common.cuh"
#include "conv2d_host.cuh"
#include "deconv_window_kernel.cuh"

namespace aulens {
namespace {
struct Phase3Variant {
  TileMath math;
  std::string name() const { return std::string(cuda_detail::tile_math_name(math)) + " phase 3"; }
};
}  // namespace

void CudaOps::deconv_project_windows(int p, int n, int size, int c1, int c2, int c3, const float* x,
                                     const float* w1, const float* b1, const float* w2,
                                     const float* b2, const float* w3, const float* b3,
                                     const std::int32_t* requests, float* windows,
                                     std::int32_t* origins, float* seeds) {
  AULENS_CHECK(p >= 0 && n > 0 && size > 0 && size % 8 == 0 && c1 > 0 && c2 > 0 && c3 > 0,
               "deconv_project_windows: bad shape (P, N, S, c1, c2, c3) = (" + std::to_string(p) +
                   ", " + std::to_string(n) + ", " + std::to_string(size) + ", " +
                   std::to_string(c1) + ", " + std::to_string(c2) + ", " + std::to_string(c3) +
                   "); S must be a multiple of 8");
  if (p == 0) return;
  // The kernel indexes the (P, 4) requests and (P, 2) origins in int.
  AULENS_REQUIRE(p <= (1 << 29), "deconv_project_windows: " + std::to_string(p) +
                                     " projections in one call; at most 2^29");
  AULENS_CHECK(x && w1 && b1 && w2 && b2 && w3 && b3 && requests && windows && origins,
               "deconv_project_windows: null pointer");
  // Phase 3 follows the conv math mode (aulens/cuda_math.h) where the widths allow tensor cores
  // ("fastest": FFMA or 3×TF32, whichever the first call measures faster).
  std::vector<Phase3Variant> variants;
  for (TileMath math : cuda_detail::tile_maths()) {
    if (!tensor_phase3_supported(c1, c2)) math = TileMath::ffma;
    if (variants.empty() || variants.back().math != math) variants.push_back({math});
  }
  bool tensor = false;
  for (const Phase3Variant& v : variants) {
    const std::size_t bytes = shared_bytes(c1, c2, v.math != TileMath::ffma);
    AULENS_CHECK(bytes <= 227 * 1024, "deconv_project_windows: conv widths (" + std::to_string(c1) +
                                          ", " + std::to_string(c2) + ") need " +
                                          std::to_string(bytes) + " B of shared memory per block");
    tensor = tensor || v.math != TileMath::ffma;
  }
  static cuda_detail::ScratchBuffer permuted_w2;
  const int rr = kR * kR;
  const long long w2_count = static_cast<long long>(c2) * c1 * rr;
  // Three copies of w2: (c1, 25, c2), (c2, 25, c1), and as stored but 32-byte aligned (the
  // tensor-core A fragments; a parameter tensor need not be).
  float* w2_cek = permuted_w2.floats(static_cast<std::size_t>(3 * w2_count));
  float* w2_kec = w2_cek + w2_count;
  float* w2_aligned = w2_kec + w2_count;
  const unsigned blocks = cuda_detail::blocks_for(w2_count, 256);
  cuda_detail::launch(permute_conv2_filters_kernel, blocks, 256, 0, c2, c1, rr, /*k*/ 1,
                      /*c*/ static_cast<long long>(rr) * c2, /*e*/ c2, w2, w2_cek);
  AULENS_CHECK_LAUNCH("permute_conv2_filters_kernel");
  cuda_detail::launch(permute_conv2_filters_kernel, blocks, 256, 0, c2, c1, rr,
                      /*k*/ static_cast<long long>(rr) * c1, /*c*/ 1, /*e*/ c1, w2, w2_kec);
  AULENS_CHECK_LAUNCH("permute_conv2_filters_kernel");
  if (tensor) {
    AULENS_CUDA_CHECK(cudaMemcpyAsync(w2_aligned, w2, sizeof(float) * w2_count,
                                      cudaMemcpyDeviceToDevice, cuda_detail::stream()));
  }
  const Weights weights{w1, b1, b2, w3, b3, w2_aligned, w2_cek, w2_kec};
  cuda_detail::run_fastest(
      cuda_detail::TunedOp::projections, {p, n, size, c1, c2, c3}, variants,
      [&](const Phase3Variant& v) {
        const std::size_t bytes = shared_bytes(c1, c2, v.math != TileMath::ffma);
        const auto launch = [&](auto kernel) {
          AULENS_CUDA_CHECK(cudaFuncSetAttribute(
              kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
          cuda_detail::launch(kernel, p, kThreads, bytes, Shapes{n, size, c1, c2, c3}, weights, x,
                              requests, windows, origins, seeds);
        };
        switch (v.math) {
          case TileMath::ffma:
            launch(deconv_project_windows_kernel<TileMath::ffma>);
            break;
          case TileMath::tf32:
            launch(deconv_project_windows_kernel<TileMath::tf32>);
            break;
          case TileMath::tf32x3:
            launch(deconv_project_windows_kernel<TileMath::tf32x3>);
            break;
        }
        AULENS_CHECK_LAUNCH("deconv_project_windows_kernel");
      });
}

}  // namespace aulens
