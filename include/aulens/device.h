// Device memory and synchronisation, without CUDA types. Implemented in cuda/memory.cu when
// aulens is built with CUDA, and by src/cpu/no_cuda.cpp (every call throws a clear error) when not.
#pragma once

#include <cstddef>

namespace aulens::device {

// True when aulens was built with CUDA and a usable GPU is present.
bool available();
// A one-line description of the GPU ("NVIDIA H200, 132 SMs, sm_90") or why there is none.
const char* describe();

void* malloc(std::size_t bytes);  // throws aulens::Error (naming the size) on failure
void free(void* ptr) noexcept;
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_on_device(void* dst, const void* src, std::size_t bytes);
void memset_zero(void* ptr, std::size_t bytes);
// Waits for all work queued on the aulens stream and rethrows a pending kernel error.
void synchronize();
// Peak device memory in use since the last reset, in bytes (cudaMemGetInfo-based high-water mark
// of aulens' own allocations).
std::size_t peak_allocated_bytes();
void reset_peak_allocated_bytes();
// Device memory aulens holds now, in bytes (the same accounting).
std::size_t allocated_bytes();

}  // namespace aulens::device
