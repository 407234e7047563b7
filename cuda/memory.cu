// Device memory, copies, synchronisation and the library handles (aulens/device.h).
#include <mutex>
#include <string>
#include <unordered_map>

#include "aulens/device.h"
#include "common.cuh"

namespace aulens::cuda_detail {

const char* cublas_error_string(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t status = cudaGetLastError();
#ifdef AULENS_SYNC_LAUNCHES
  if (status == cudaSuccess) status = cudaStreamSynchronize(stream());
  if (status != cudaSuccess) fail("CUDA", cudaGetErrorString(status), kernel, file, line);
#else
  // Kernels run asynchronously: an execution error (an illegal address, say) of an earlier kernel
  // can be what this check finds, so the message does not blame this launch alone.
  if (status != cudaSuccess)
    fail("CUDA",
         std::string(cudaGetErrorString(status)) +
             " (here or in an earlier kernel; configure with -DAULENS_SYNC_LAUNCHES=ON to name "
             "the kernel that failed)",
         kernel, file, line);
#endif
}

cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    AULENS_CUBLAS_CHECK(cublasCreate(&h));
    AULENS_CUBLAS_CHECK(cublasSetStream(h, stream()));
    return h;
  }();
  return handle;
}

cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    AULENS_CUDNN_CHECK(cudnnCreate(&h));
    AULENS_CUDNN_CHECK(cudnnSetStream(h, stream()));
    return h;
  }();
  return handle;
}

}  // namespace aulens::cuda_detail

namespace aulens::device {

namespace {
struct Accounting {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> sizes;
  std::size_t current = 0;
  std::size_t peak = 0;
};
Accounting& accounting() {
  static Accounting a;
  return a;
}
}  // namespace

bool available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

const char* describe() {
  static std::string text = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return std::string("no GPU found");
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return std::string("GPU 0 unreadable");
    return std::string(prop.name) + ", " + std::to_string(prop.multiProcessorCount) + " SMs, sm_" +
           std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
           std::to_string(prop.totalGlobalMem >> 20) + " MiB";
  }();
  return text.c_str();
}

void* malloc(std::size_t bytes) {
  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state
    throw Error("cudaMalloc of " + std::to_string(bytes) + " bytes failed: " +
                cudaGetErrorString(status));
  }
  Accounting& a = accounting();
  std::lock_guard lock(a.mutex);
  a.sizes[ptr] = bytes;
  a.current += bytes;
  if (a.current > a.peak) a.peak = a.current;
  return ptr;
}

void free(void* ptr) noexcept {
  if (ptr == nullptr) return;
  {
    Accounting& a = accounting();
    std::lock_guard lock(a.mutex);
    auto it = a.sizes.find(ptr);
    if (it != a.sizes.end()) {
      a.current -= it->second;
      a.sizes.erase(it);
    }
  }
  cudaFree(ptr);
}

void copy_to_device(void* dst, const void* src, std::size_t bytes) {
  AULENS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_detail::stream()));
  AULENS_CUDA_CHECK(cudaStreamSynchronize(cuda_detail::stream()));
}

void copy_to_host(void* dst, const void* src, std::size_t bytes) {
  AULENS_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda_detail::stream()));
  AULENS_CUDA_CHECK(cudaStreamSynchronize(cuda_detail::stream()));
}

void copy_on_device(void* dst, const void* src, std::size_t bytes) {
  AULENS_CUDA_CHECK(
      cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_detail::stream()));
}

void memset_zero(void* ptr, std::size_t bytes) {
  AULENS_CUDA_CHECK(cudaMemsetAsync(ptr, 0, bytes, cuda_detail::stream()));
}

void synchronize() { AULENS_CUDA_CHECK(cudaStreamSynchronize(cuda_detail::stream())); }

std::size_t peak_allocated_bytes() {
  std::lock_guard lock(accounting().mutex);
  return accounting().peak;
}

void reset_peak_allocated_bytes() {
  std::lock_guard lock(accounting().mutex);
  accounting().peak = accounting().current;
}

std::size_t allocated_bytes() {
  std::lock_guard lock(accounting().mutex);
  return accounting().current;
}

}  // namespace aulens::device
