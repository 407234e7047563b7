// Shared by every .cu file: checked-call macros for CUDA, cuBLAS and cuDNN that throw
// aulens::Error naming the call, the file and the line, and small launch helpers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "aulens/check.h"
#include "aulens/device.h"

namespace aulens::cuda_detail {

[[noreturn]] inline void fail(const char* library, const std::string& error, const char* call,
                              const char* file, int line) {
  throw_error(std::string(library) + " call failed: " + call + ": " + error, file, line);
}

const char* cublas_error_string(cublasStatus_t status);

// The stream every aulens kernel is queued on (the legacy default stream for now).
inline cudaStream_t stream() {
  return nullptr;
}

// kernel<<<grid, block, shared_bytes, stream()>>>(args...). The emulated CUDA build of the tests
// (AULENS_EMULATED_CUDA, tests/emu/runtime/cuda_runtime.h) checks the launch as a GPU would and
// runs the kernel on the host instead, so every launcher runs in CI as written.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
            Args&&... args) {
#if defined(AULENS_EMULATED_CUDA)
  ::emu::runtime::launch(kernel, grid, block, shared_bytes, std::forward<Args>(args)...);
#else
  // (clang-format would split the chevrons of a header it does not know to be CUDA)
  // clang-format off
  kernel<<<grid, block, shared_bytes, stream()>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
}

inline unsigned blocks_for(std::int64_t count, int threads) {
  return static_cast<unsigned>((count + threads - 1) / threads);
}

// After each launch: a launch error throws now; with AULENS_SYNC_LAUNCHES an execution error too.
void check_launch(const char* kernel, const char* file, int line);

// A device buffer that only grows; reused across calls on the aulens stream (stream order keeps
// reuse safe; the device is synchronised before a buffer is replaced). Meant for function-local
// statics: it is never freed, since at exit the allocation bookkeeping of aulens/device.h (a
// static constructed after it) may already be gone; the process's end releases the memory.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  // At least `count` bytes.
  void* bytes(std::size_t count) {
    if (count > bytes_) {
      device::synchronize();
      device::free(ptr_);
      ptr_ = nullptr;
      bytes_ = 0;
      ptr_ = device::malloc(count);
      bytes_ = count;
    }
    return ptr_;
  }
  // At least `count` floats.
  float* floats(std::size_t count) { return static_cast<float*>(bytes(count * sizeof(float))); }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

cublasHandle_t cublas_handle();
cudnnHandle_t cudnn_handle();

}  // namespace aulens::cuda_detail

#define AULENS_CUDA_CHECK(call)                                                                \
  do {                                                                                         \
    cudaError_t aulens_status_ = (call);                                                       \
    if (aulens_status_ != cudaSuccess)                                                         \
      ::aulens::cuda_detail::fail("CUDA", cudaGetErrorString(aulens_status_), #call, __FILE__, \
                                  __LINE__);                                                   \
  } while (0)

#define AULENS_CUBLAS_CHECK(call)                                                             \
  do {                                                                                        \
    cublasStatus_t aulens_status_ = (call);                                                   \
    if (aulens_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      ::aulens::cuda_detail::fail("cuBLAS",                                                   \
                                  ::aulens::cuda_detail::cublas_error_string(aulens_status_), \
                                  #call, __FILE__, __LINE__);                                 \
  } while (0)

#define AULENS_CUDNN_CHECK(call)                                                                 \
  do {                                                                                           \
    cudnnStatus_t aulens_status_ = (call);                                                       \
    if (aulens_status_ != CUDNN_STATUS_SUCCESS)                                                  \
      ::aulens::cuda_detail::fail("cuDNN", cudnnGetErrorString(aulens_status_), #call, __FILE__, \
                                  __LINE__);                                                     \
  } while (0)

// Use right after cuda_detail::launch(...): AULENS_CHECK_LAUNCH("kernel_name");
#define AULENS_CHECK_LAUNCH(name) ::aulens::cuda_detail::check_launch(name, __FILE__, __LINE__)
