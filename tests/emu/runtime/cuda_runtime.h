// The CUDA runtime API, as far as aulens' launchers (cuda/*.cu) use it, on the host: the emulated
// CUDA build (CMake target aulens_emulated_lib) compiles the launchers with this directory ahead
// of the toolkit's headers, so CudaOps, aulens/device.h and the engine run in CI without a GPU,
// every kernel through tests/emu/block_emu.h. Some launches a GPU refuses are refused here too,
// with the error the runtime gives: no blocks, more than 1,024 threads or a grid too high
// (cudaErrorInvalidConfiguration), and dynamic shared memory above 48 KiB without a
// cudaFuncSetAttribute that allows it, or above the card's 227 KiB (cudaErrorInvalidValue). Not
// checked: a kernel's __launch_bounds__, its registers, and static shared memory toward those
// limits (tools/kernel_resources.sh reports the last two from ptxas).
// "Device" memory is host memory from posix_memalign, 256-byte aligned as cudaMalloc's is, and
// filled with 0xFF bytes (NaN as floats): code that reads memory it never wrote shows. The runtime
// keeps a registry of the live allocations, so that what a GPU refuses for want of device memory is
// refused here too: a pointer argument of a kernel that is neither null nor inside (or one past)
// an allocation (cudaErrorIllegalAddress, the kernel not run; a GPU faults only when the kernel
// dereferences it), a copy whose ends do not lie where its cudaMemcpyKind says, a memset outside an
// allocation, and a cudaFree of what cudaMalloc did not return (cudaErrorInvalidValue). The device
// reported is an H200's shape (132 multiprocessors, compute capability 9.0), so the tensor-core
// modes run (through the emulator's WMMA).
//
// Not modelled: asynchrony (a launch runs to completion before it returns, so a missing
// synchronisation cannot show), streams other than one, pointers inside a kernel's struct
// arguments (only the arguments that are pointers are checked), speed, and the cuDNN convolutions
// (cudnn.h here only lets memory.cu compile; CudnnOps throws in this build).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <type_traits>
#include <utility>

#include "emu/block_emu.h"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorIllegalAddress = 700,
  cudaErrorStreamCaptureUnsupported = 900,
};

inline const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorIllegalAddress:
      return "an illegal memory access was encountered";
    default:
      return "unknown error";
  }
}

struct CUstream_st;
using cudaStream_t = CUstream_st*;

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  operator emu::Dim3() const { return emu::Dim3{x, y, z}; }
};

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxSharedMemoryPerBlockOptin,
  cudaDevAttrMultiProcessorCount,
  cudaDevAttrComputeCapabilityMajor,
  cudaDevAttrComputeCapabilityMinor,
};

enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };

enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone = 0, cudaStreamCaptureStatusActive = 1 };

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  int multiProcessorCount;
  int major;
  int minor;
};

struct cudaFuncAttributes {
  int ptxVersion;
  int binaryVersion;
};

namespace emu::runtime {

constexpr int kMultiprocessors = 132;
constexpr int kDefaultDynamicShared = 48 * 1024;
constexpr int kMaxDynamicSharedOptin = 227 * 1024;

struct State {
  std::mutex mutex;
  cudaError_t last_error = cudaSuccess;
  std::map<const void*, int> max_dynamic_shared;  // per kernel, from cudaFuncSetAttribute
  std::map<std::uintptr_t, std::size_t> allocations;  // live cudaMalloc blocks: start, bytes
};
// Never destroyed: memory held by static objects may be freed during exit, after any static State.
inline State& state() {
  static State* s = new State;
  return *s;
}

inline cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) {
    std::lock_guard lock(state().mutex);
    state().last_error = error;
  }
  return error;
}

// True when [p, p + bytes) lies inside one live allocation; a pointer one past its end holds 0
// bytes.
inline bool on_device(const void* p, std::size_t bytes) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::lock_guard lock(state().mutex);
  auto block = state().allocations.upper_bound(at);
  if (block == state().allocations.begin()) return false;
  --block;
  const std::size_t offset = at - block->first;
  return offset <= block->second && bytes <= block->second - offset;
}

// True when [p, p + bytes) touches no live allocation: host memory as far as a copy can tell.
inline bool off_device(const void* p, std::size_t bytes) {
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  std::lock_guard lock(state().mutex);
  auto block = state().allocations.lower_bound(at + bytes);  // the first starting at or after the end
  if (block == state().allocations.begin()) return true;
  --block;
  return block->first + block->second <= at;
}

// Whether the ends of a copy lie where `kind` says (cudaMemcpyDefault: anywhere).
inline bool copy_kind_holds(cudaMemcpyKind kind, const void* dst, const void* src,
                            std::size_t bytes) {
  switch (kind) {
    case cudaMemcpyHostToHost:
      return off_device(dst, bytes) && off_device(src, bytes);
    case cudaMemcpyHostToDevice:
      return on_device(dst, bytes) && off_device(src, bytes);
    case cudaMemcpyDeviceToHost:
      return off_device(dst, bytes) && on_device(src, bytes);
    case cudaMemcpyDeviceToDevice:
      return on_device(dst, bytes) && on_device(src, bytes);
    default:
      return true;
  }
}

// A kernel argument a GPU can use: a pointer must be null or point into device memory.
template <class P>
bool usable_on_device(const P& value) {
  if constexpr (std::is_pointer_v<P> && std::is_object_v<std::remove_pointer_t<P>>)
    return value == nullptr ||
           on_device(const_cast<const void*>(static_cast<const volatile void*>(value)), 0);
  else
    return true;
}

// What cudaLaunchKernel checks before a kernel runs; cudaSuccess when the launch may go ahead.
inline cudaError_t check_launch_configuration(const void* kernel, dim3 grid, dim3 block,
                                              std::size_t shared_bytes) {
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 ||
      grid.z > 65535 || threads == 0 || threads > 1024 || block.z > 64)
    return cudaErrorInvalidConfiguration;
  int allowed = kDefaultDynamicShared;
  {
    std::lock_guard lock(state().mutex);
    if (const auto found = state().max_dynamic_shared.find(kernel);
        found != state().max_dynamic_shared.end())
      allowed = found->second;
  }
  if (shared_bytes > static_cast<std::size_t>(allowed)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

// `value` as a P by implicit conversion only, as a kernel launch converts its arguments (an
// explicit conversion here would compile launches that nvcc refuses).
template <class P>
P implicitly(std::type_identity_t<P> value) {
  return value;
}

// kernel<<<grid, block, shared_bytes>>>(args...): checked as a GPU would, then run on the host.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
            Args&&... args) {
  const cudaError_t status =
      check_launch_configuration(reinterpret_cast<const void*>(kernel), grid, block, shared_bytes);
  if (record(status) != cudaSuccess) return;
  if (!(usable_on_device<Params>(implicitly<Params>(args)) && ...)) {
    record(cudaErrorIllegalAddress);
    return;
  }
  ::emu::launch(grid, block, shared_bytes, kernel, implicitly<Params>(std::forward<Args>(args))...);
}

}  // namespace emu::runtime

inline cudaError_t cudaGetLastError() {
  std::lock_guard lock(emu::runtime::state().mutex);
  return std::exchange(emu::runtime::state().last_error, cudaSuccess);
}

inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return emu::runtime::record(cudaErrorInvalidDevice);
  switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = emu::runtime::kMaxDynamicSharedOptin;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = emu::runtime::kMultiprocessors;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
  }
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return emu::runtime::record(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::strncpy(prop->name, "host emulator (tests/emu) shaped as an H200", sizeof prop->name - 1);
  prop->totalGlobalMem = std::size_t{140} << 30;
  prop->multiProcessorCount = emu::runtime::kMultiprocessors;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

template <class Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel* /*kernel*/) {
  *attributes = cudaFuncAttributes{90, 90};
  return cudaSuccess;
}
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel* kernel, cudaFuncAttribute /*attr*/, int value) {
  if (value < 0 || value > emu::runtime::kMaxDynamicSharedOptin)
    return emu::runtime::record(cudaErrorInvalidValue);
  std::lock_guard lock(emu::runtime::state().mutex);
  emu::runtime::state().max_dynamic_shared[reinterpret_cast<const void*>(kernel)] = value;
  return cudaSuccess;
}

inline cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (posix_memalign(ptr, 256, bytes) != 0) {
    *ptr = nullptr;
    return emu::runtime::record(cudaErrorMemoryAllocation);
  }
  std::memset(*ptr, 0xFF, bytes);
  std::lock_guard lock(emu::runtime::state().mutex);
  emu::runtime::state().allocations[reinterpret_cast<std::uintptr_t>(*ptr)] = bytes;
  return cudaSuccess;
}
inline cudaError_t cudaMallocAsync(void** ptr, std::size_t bytes, cudaStream_t) {
  return cudaMalloc(ptr, bytes);
}
inline cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  std::size_t erased = 0;
  {
    std::lock_guard lock(emu::runtime::state().mutex);
    erased = emu::runtime::state().allocations.erase(reinterpret_cast<std::uintptr_t>(ptr));
  }
  if (erased == 0) return emu::runtime::record(cudaErrorInvalidValue);
  std::free(ptr);
  return cudaSuccess;
}
inline cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) {
  return cudaFree(ptr);
}
// Overlapping ranges are an error here (undefined for cudaMemcpy), and so are ends that do not lie
// where `kind` says.
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes,
                                   cudaMemcpyKind kind, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  if (!emu::runtime::copy_kind_holds(kind, dst, src, bytes))
    return emu::runtime::record(cudaErrorInvalidValue);
  const auto* d = static_cast<const char*>(dst);
  const auto* s = static_cast<const char*>(src);
  if (d < s + bytes && s < d + bytes) return emu::runtime::record(cudaErrorInvalidValue);
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* ptr, int value, std::size_t bytes, cudaStream_t) {
  if (bytes == 0) return cudaSuccess;
  if (!emu::runtime::on_device(ptr, bytes)) return emu::runtime::record(cudaErrorInvalidValue);
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* status) {
  *status = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

struct CUevent_st {
  std::chrono::steady_clock::time_point when;
};
using cudaEvent_t = CUevent_st*;
inline cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st{};
  return cudaSuccess;
}
inline cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->when = std::chrono::steady_clock::now();
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return cudaSuccess;
}
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  *ms = std::chrono::duration<float, std::milli>(stop->when - start->when).count();
  return cudaSuccess;
}
