// Runs CUDA kernel source on the host, one block at a time, one std::thread per CUDA thread, so
// that CI (which has no GPU) can check a kernel's indexing, its phase structure and its arithmetic
// against the CPU twin. Include it before a kernel header that includes no CUDA header (such as
// cuda/deconv_window_kernel.cuh), then call emu::launch instead of <<<…>>>.
//
// What it models: threadIdx/blockIdx/blockDim/gridDim; __syncthreads as a barrier of the block's
// threads (a thread that returns early leaves the barrier, as on a GPU); function-scope __shared__
// arrays (one copy for the whole run; blocks run one after another) and dynamic shared memory
// through AULENS_DYNAMIC_SHARED (a zero-filled, then poisoned buffer per block); __ldg.
// What it does not model: warps (no shuffles, ballots, warp-synchronous code: such a kernel does
// not compile here), atomics, FMA contraction (the host compiler decides; on x86-64 without -mfma
// there is none), the memory model beyond the barrier, and speed. A kernel that passes here has
// correct indexing and sums; only a GPU run tells whether it is fast and race-free on hardware.
#pragma once

#if defined(__CUDACC__)
#error "block_emu.h is for host compilation only"
#endif

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define AULENS_DYNAMIC_SHARED(type, name) type* name = ::emu::dynamic_shared<type>()

namespace emu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

inline thread_local Dim3 thread_index, block_index;
inline Dim3 block_dim, grid_dim;
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::max_align_t> shared_storage;

template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(shared_storage.data());
}

// Runs kernel(args...) for every block of `grid` (in order) with `block` threads each and
// `shared_bytes` of dynamic shared memory, filled with a NaN pattern so that reading a cell no
// thread wrote shows up in the results.
template <class Kernel, class... Args>
void launch(Dim3 grid, Dim3 block, std::size_t shared_bytes, Kernel kernel, Args... args) {
  grid_dim = grid;
  block_dim = block;
  const unsigned threads = block.x * block.y * block.z;
  shared_storage.assign((shared_bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t),
                        std::max_align_t{});
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        std::memset(shared_storage.data(), 0xFF, shared_storage.size() * sizeof(std::max_align_t));
        std::barrier<> barrier(static_cast<std::ptrdiff_t>(threads));
        block_barrier = &barrier;
        std::vector<std::thread> pool;
        pool.reserve(threads);
        for (unsigned t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            thread_index = Dim3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            block_index = Dim3{bx, by, bz};
            kernel(args...);
            barrier.arrive_and_drop();
          });
        }
        for (std::thread& th : pool) th.join();
        block_barrier = nullptr;
      }
    }
  }
}

}  // namespace emu

#define threadIdx (::emu::thread_index)
#define blockIdx (::emu::block_index)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)

inline void __syncthreads() {
  emu::block_barrier->arrive_and_wait();
}
template <class T>
T __ldg(const T* p) {
  return *p;
}
// CUDA's integer max/min device functions (std::max/min need equal argument types).
inline int max(int a, int b) {
  return a > b ? a : b;
}
inline int min(int a, int b) {
  return a < b ? a : b;
}
