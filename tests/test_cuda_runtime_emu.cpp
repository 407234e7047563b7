// The host CUDA runtime of the emulated build (tests/emu/runtime) refuses what a GPU refuses, so
// that a launcher which would fail on a card fails in CI too: launch configurations out of range,
// pointers that are not device memory (kernel arguments, copies of the wrong kind, memsets,
// cuBLAS and CUB operands) and frees of what cudaMalloc did not return. Each refusal is checked
// beside the same call on device memory, which must work.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

// The runtime first: it brings the emulator, which defines the CUDA keywords.
#include "emu/runtime/cuda_runtime.h"

#include "emu/runtime/cub/device/device_segmented_radix_sort.cuh"
#include "emu/runtime/cublas_v2.h"

namespace {

__global__ void fill_kernel(int n, float value, float* out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = value;
}

// Launches fill_kernel over n values and returns what cudaGetLastError says afterwards.
cudaError_t fill(float* out, int n, float value, dim3 block = dim3(64), std::size_t shared = 0) {
  emu::runtime::launch(fill_kernel, dim3((n + 63) / 64 + (n == 0)), block, shared, n, value, out);
  return cudaGetLastError();
}

// n floats of device memory, freed at the end of the test.
class DeviceFloats {
 public:
  explicit DeviceFloats(int n) {
    void* p = nullptr;
    EXPECT_EQ(cudaMalloc(&p, sizeof(float) * n), cudaSuccess);
    ptr_ = static_cast<float*>(p);
  }
  ~DeviceFloats() { EXPECT_EQ(cudaFree(ptr_), cudaSuccess); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  float* get() const { return ptr_; }

 private:
  float* ptr_ = nullptr;
};

std::vector<float> download(const float* device, int n) {
  std::vector<float> host(n);
  EXPECT_EQ(
      cudaMemcpyAsync(host.data(), device, sizeof(float) * n, cudaMemcpyDeviceToHost, nullptr),
      cudaSuccess);
  return host;
}

TEST(EmulatedRuntime, RefusesLaunchConfigurationsAGpuRefuses) {
  DeviceFloats out(64);
  EXPECT_EQ(fill(out.get(), 64, 1.0f), cudaSuccess);
  EXPECT_EQ(fill(out.get(), 64, 1.0f, dim3(1025)), cudaErrorInvalidConfiguration);
  emu::runtime::launch(fill_kernel, dim3(0), dim3(64), 0, 64, 1.0f, out.get());
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(fill(out.get(), 64, 1.0f, dim3(64), 49 * 1024), cudaErrorInvalidValue);
  ASSERT_EQ(
      cudaFuncSetAttribute(fill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
      cudaSuccess);
  EXPECT_EQ(fill(out.get(), 64, 1.0f, dim3(64), 49 * 1024), cudaSuccess);
}

TEST(EmulatedRuntime, KernelPointerArgumentsMustBeDeviceMemory) {
  DeviceFloats out(100);
  ASSERT_EQ(fill(out.get(), 100, 2.0f), cudaSuccess);
  EXPECT_EQ(download(out.get(), 100), std::vector<float>(100, 2.0f));
  EXPECT_EQ(fill(out.get() + 40, 60, 3.0f), cudaSuccess);  // inside an allocation
  EXPECT_EQ(download(out.get(), 100)[40], 3.0f);
  EXPECT_EQ(fill(out.get() + 100, 0, 3.0f), cudaSuccess);  // one past the end, nothing written
  EXPECT_EQ(fill(nullptr, 0, 3.0f), cudaSuccess);

  std::vector<float> host(100, 0.0f);
  EXPECT_EQ(fill(host.data(), 100, 4.0f), cudaErrorIllegalAddress);
  EXPECT_EQ(host, std::vector<float>(100, 0.0f)) << "the kernel ran on host memory";

  void* freed = nullptr;
  ASSERT_EQ(cudaMalloc(&freed, sizeof(float) * 8), cudaSuccess);
  ASSERT_EQ(cudaFree(freed), cudaSuccess);
  EXPECT_EQ(fill(static_cast<float*>(freed), 8, 5.0f), cudaErrorIllegalAddress);
}

TEST(EmulatedRuntime, CopiesAndMemsetsMustLieWhereTheirKindSays) {
  DeviceFloats a(16), b(16);
  std::vector<float> host(16, 7.0f), back(16, 0.0f);
  const std::size_t bytes = sizeof(float) * 16;
  EXPECT_EQ(cudaMemcpyAsync(a.get(), host.data(), bytes, cudaMemcpyHostToDevice, nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(back.data(), b.get(), bytes, cudaMemcpyDeviceToHost, nullptr),
            cudaSuccess);
  EXPECT_EQ(back, host);

  // The kind swapped, a host end called device, a device range running past its allocation.
  EXPECT_EQ(cudaMemcpyAsync(host.data(), a.get(), bytes, cudaMemcpyHostToDevice, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(a.get(), back.data(), bytes, cudaMemcpyDeviceToDevice, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(a.get() + 8, host.data(), bytes, cudaMemcpyHostToDevice, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(back.data(), host.data(), bytes, cudaMemcpyHostToHost, nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(back.data(), a.get(), bytes, cudaMemcpyHostToHost, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(back.data(), a.get(), bytes, cudaMemcpyDefault, nullptr), cudaSuccess);
  (void)cudaGetLastError();

  EXPECT_EQ(cudaMemsetAsync(a.get() + 4, 0, sizeof(float) * 12, nullptr), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(a.get() + 4, 0, bytes, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemsetAsync(host.data(), 0, bytes, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(host, std::vector<float>(16, 7.0f));
  (void)cudaGetLastError();
}

TEST(EmulatedRuntime, FreeTakesOnlyWhatMallocReturned) {
  void* p = nullptr;
  ASSERT_EQ(cudaMalloc(&p, 64), cudaSuccess);
  EXPECT_EQ(cudaFree(static_cast<char*>(p) + 4), cudaErrorInvalidValue);
  float on_the_stack = 0.0f;
  EXPECT_EQ(cudaFree(&on_the_stack), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue);  // twice
  EXPECT_EQ(cudaFree(nullptr), cudaSuccess);
  (void)cudaGetLastError();
}

TEST(EmulatedRuntime, CublasAndCubTakeDeviceOperandsOnly) {
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  DeviceFloats a(6), b(6), c(4);
  const std::vector<float> ones(6, 1.0f);
  ASSERT_EQ(
      cudaMemcpyAsync(a.get(), ones.data(), sizeof(float) * 6, cudaMemcpyHostToDevice, nullptr),
      cudaSuccess);
  ASSERT_EQ(
      cudaMemcpyAsync(b.get(), ones.data(), sizeof(float) * 6, cudaMemcpyHostToDevice, nullptr),
      cudaSuccess);
  const float alpha = 1.0f, beta = 0.0f;  // host scalars, as cuBLAS' default pointer mode takes
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, a.get(), 2, b.get(), 3,
                        &beta, c.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(download(c.get(), 4), std::vector<float>(4, 3.0f));
  std::vector<float> host_c(4, 0.0f);
  EXPECT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &alpha, a.get(), 2, b.get(), 3,
                        &beta, host_c.data(), 2),
            CUBLAS_STATUS_EXECUTION_FAILED);
  EXPECT_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  EXPECT_EQ(host_c, std::vector<float>(4, 0.0f));
  delete handle;

  // One segment of 6 keys: sorted with device buffers, refused with host offsets.
  void* temp = nullptr;
  std::size_t temp_bytes = 0;
  using Sort = cub::DeviceSegmentedRadixSort;
  ASSERT_EQ(
      Sort::SortPairsDescending(
          nullptr, temp_bytes, static_cast<const float*>(nullptr), static_cast<float*>(nullptr),
          static_cast<const std::int32_t*>(nullptr), static_cast<std::int32_t*>(nullptr), 6, 1,
          static_cast<const int*>(nullptr), static_cast<const int*>(nullptr)),
      cudaSuccess);
  ASSERT_EQ(cudaMalloc(&temp, temp_bytes), cudaSuccess);
  void *values_in = nullptr, *values_out = nullptr, *offsets = nullptr;
  ASSERT_EQ(cudaMalloc(&values_in, sizeof(std::int32_t) * 6), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&values_out, sizeof(std::int32_t) * 6), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&offsets, sizeof(int) * 2), cudaSuccess);
  const std::vector<float> keys = {0.5f, 3.0f, -1.0f, 2.0f, 3.0f, 0.0f};
  const std::vector<std::int32_t> images = {0, 1, 2, 3, 4, 5};
  const std::vector<int> bounds = {0, 6};
  cudaMemcpyAsync(a.get(), keys.data(), sizeof(float) * 6, cudaMemcpyHostToDevice, nullptr);
  cudaMemcpyAsync(values_in, images.data(), sizeof(std::int32_t) * 6, cudaMemcpyHostToDevice,
                  nullptr);
  cudaMemcpyAsync(offsets, bounds.data(), sizeof(int) * 2, cudaMemcpyHostToDevice, nullptr);
  const auto* begin = static_cast<const int*>(offsets);
  EXPECT_EQ(
      Sort::SortPairsDescending(temp, temp_bytes, static_cast<const float*>(a.get()), b.get(),
                                static_cast<const std::int32_t*>(values_in),
                                static_cast<std::int32_t*>(values_out), 6, 1, begin, begin + 1),
      cudaSuccess);
  EXPECT_EQ(download(b.get(), 6), (std::vector<float>{3.0f, 3.0f, 2.0f, 0.5f, 0.0f, -1.0f}));
  std::vector<std::int32_t> order(6);
  cudaMemcpyAsync(order.data(), values_out, sizeof(std::int32_t) * 6, cudaMemcpyDeviceToHost,
                  nullptr);
  EXPECT_EQ(order, (std::vector<std::int32_t>{1, 4, 3, 0, 5, 2}));  // stable
  EXPECT_EQ(Sort::SortPairsDescending(temp, temp_bytes, static_cast<const float*>(a.get()), b.get(),
                                      static_cast<const std::int32_t*>(values_in),
                                      static_cast<std::int32_t*>(values_out), 6, 1, bounds.data(),
                                      bounds.data() + 1),
            cudaErrorIllegalAddress);
  (void)cudaGetLastError();
  for (void* p : {temp, values_in, values_out, offsets}) EXPECT_EQ(cudaFree(p), cudaSuccess);
}

}  // namespace
