// Runs CUDA kernel source on the host, one block at a time, one fiber (ucontext) per CUDA thread,
// so that CI (which has no GPU) can check a kernel's indexing, its phase structure and its
// arithmetic against the CPU twin. Include it before a kernel header that includes no CUDA header
// (such as cuda/deconv_window_kernel.cuh), then call emu::launch instead of <<<…>>>.
//
// What it models: threadIdx/blockIdx/blockDim/gridDim; __syncthreads as a barrier of the block's
// threads and __syncwarp as a barrier of the warp's 32 (a thread that returns early leaves both, as
// on a GPU); static shared memory through AULENS_STATIC_SHARED(_ALIGNED) (one cell per declaration
// and kernel instance for the whole run, blocks running one after another) and dynamic shared
// memory through AULENS_DYNAMIC_SHARED, both filled with a NaN pattern before every block, so
// reading a cell no thread wrote shows (a bare __shared__ does not compile here); races on
// shared and global memory, by running the threads in forward or reverse order (Schedule below),
// each as far ahead as the barriers let it; __ldg, fmaf (a true fused
// multiply-add on the host too), float4, bit casts, atomicMax on 64-bit words; and the TF32 WMMA
// API (nvcuda::wmma m16n16k8, below).
// Warp collectives: __ballot_sync, __shfl_sync, __shfl_down_sync, __shfl_xor_sync,
// __reduce_add_sync (every live lane of the warp takes part, whatever the mask; a lane that has
// returned, or lies beyond the block, gives no ballot bit and nothing to the sum, and a shuffle
// reading it gets all one bits, NaN for a float, where a GPU's value is undefined), __popc;
// atomicMax/atomicAdd on int and 64-bit words.
// What it does not model: other warp intrinsics (a kernel using one does not compile here), masks
// naming fewer lanes than call, FMA contraction of a·b + c written out (the host compiler decides;
// on x86-64 without -mfma there is none), the memory model beyond the barriers, and speed. A kernel
// that passes here in both schedules has correct indexing, layouts, sums and barriers; only a GPU
// run tells whether it is fast, and whether the hardware behaves as modelled.
//
// WMMA: every lane's fragment holds the whole matrix (num_elements = rows·cols, row-major in x[]),
// so element-wise code over x[0 … num_elements) sees every element once per lane, as on a GPU
// where the lanes share them out. load_matrix_sync honours the layout and ldm; mma_sync and
// store_matrix_sync do their work in lane 0 only (the other lanes' accumulators go stale, which
// only a kernel reading accumulator elements across lanes would notice). None of them waits for
// the other lanes (each lane's fragment is its own): as on a GPU, a kernel that reads what
// store_matrix_sync wrote must __syncwarp first. The tensor-core product
// ignores the low 13 mantissa bits of each operand, as the hardware does, and sums the eight
// exact products in double before adding to the accumulator (the hardware's accumulation is
// reported to truncate; this is the ideal it approximates; emu::truncating_tensor_accumulation
// switches to a pessimistic truncating model).
#pragma once

#if defined(__CUDACC__)
#error "block_emu.h is for host compilation only"
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <ucontext.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Static shared memory is declared through these macros (cuda/kernel_defs.cuh gives the GPU's
// meaning): each declaration, in each instance of a kernel template, gets its own cell, which
// launch() fills with the NaN pattern before every block. A bare __shared__ would have to be a
// function-local static, and GCC cannot be made to place those of function templates where they
// could be found and poisoned, so it is refused.
#define __shared__ static_assert(false, "declare static shared memory with AULENS_STATIC_SHARED");
#define AULENS_STATIC_SHARED(type, name, dims) \
  static char name##_emu_shared_key;           \
  type(&name) dims =                           \
      *static_cast<type(*) dims>(::emu::static_shared(&name##_emu_shared_key, sizeof(type dims)))
#define AULENS_STATIC_SHARED_ALIGNED(bytes, type, name, dims)                 \
  static_assert((bytes) <= 128, "the emulator's cells are 128-byte aligned"); \
  AULENS_STATIC_SHARED(type, name, dims)
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define AULENS_DYNAMIC_SHARED(type, name) type* name = ::emu::dynamic_shared<type>()

namespace emu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

inline Dim3 thread_index, block_index, block_dim, grid_dim;
struct alignas(128) SharedLine {  // dynamic shared memory is at least 128-byte aligned on a GPU
  unsigned char bytes[128];
};
inline std::vector<SharedLine> shared_storage;

template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(shared_storage.data());
}

// Under AddressSanitizer, the bytes of a shared-memory cell past what the kernel asked for (the
// rounding up to whole 128-byte lines) are poisoned, so an access past a shared array stops the
// test; without ASan these are no-ops.
inline void poison_beyond(void* cell, std::size_t used, std::size_t total) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(cell) + used, total - used);
#else
  (void)cell, (void)used, (void)total;
#endif
}
inline void unpoison(void* cell, std::size_t total) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(cell, total);
#else
  (void)cell, (void)total;
#endif
}

// One cell per static shared declaration (keyed by the address of a static beside it, which is
// distinct per kernel template instance), allocated on first use and never moved.
struct StaticSharedCell {
  std::unique_ptr<SharedLine[]> lines;
  std::size_t bytes = 0;  // the declaration's size; the cell is rounded up to whole lines
};
inline std::vector<std::pair<const void*, StaticSharedCell>> static_shared_cells;

inline void poison_static_shared() {
  for (auto& [key, cell] : static_shared_cells) std::memset(cell.lines.get(), 0xFF, cell.bytes);
}

inline void* static_shared(const void* key, std::size_t bytes) {
  for (auto& [k, cell] : static_shared_cells) {
    if (k == key) return cell.lines.get();
  }
  const std::size_t lines = (bytes + sizeof(SharedLine) - 1) / sizeof(SharedLine);
  StaticSharedCell cell{std::make_unique<SharedLine[]>(lines), bytes};
  std::memset(cell.lines.get(), 0xFF, cell.bytes);
  poison_beyond(cell.lines.get(), bytes, lines * sizeof(SharedLine));
  static_shared_cells.emplace_back(key, std::move(cell));
  return static_shared_cells.back().second.lines.get();
}

// The order in which the fibers of a block, and the blocks of a grid, take their turns between
// barriers. A correct kernel gives the same results in either order: for any two threads, one of
// the two orders runs the reader before the writer, so a missing __syncthreads/__syncwarp (a
// read-after-write or write-after-read race on shared or global memory) changes the results under
// one of them. Set from AULENS_EMU_SCHEDULE ("forward", the default, or "reverse"); CTest runs
// every emulation test under both.
enum class Schedule { forward, reverse };
inline Schedule schedule_from_environment() {
  const char* value = std::getenv("AULENS_EMU_SCHEDULE");
  if (value == nullptr || std::string(value).empty() || std::string(value) == "forward")
    return Schedule::forward;
  if (std::string(value) == "reverse") return Schedule::reverse;
  throw std::invalid_argument(
      std::string("AULENS_EMU_SCHEDULE: expected forward or reverse, got ") + value);
}
inline Schedule schedule = schedule_from_environment();

namespace detail {

// Position `i` of `count` in the schedule's order.
inline unsigned in_schedule_order(unsigned i, unsigned count) {
  return schedule == Schedule::forward ? i : count - 1 - i;
}

constexpr std::size_t kStackBytes = std::size_t{256} << 10;  // per CUDA thread (WMMA fragments)

// A barrier of a group of fibers (the block, or one warp): the last live member to arrive opens
// it; a member that returns from the kernel stops counting.
struct Barrier {
  int live = 0, arrived = 0;
  unsigned long long generation = 0;
};

struct Fiber {
  ucontext_t context{};
  Dim3 index;
  int warp = 0;
  bool done = false;
  Barrier* waiting_on = nullptr;  // while blocked: the barrier and the generation it waits out
  unsigned long long waiting_generation = 0;
};

// AddressSanitizer is told of every stack switch (the emulated tests build with it), so that its
// bookkeeping follows the fibers; without ASan these are no-ops. ASan's own swapcontext wrapper
// clears the whole destination stack's shadow at each switch, so a kernel's local arrays are
// checked for overruns only until its first barrier; global and shared memory are always checked.
inline void switching_stacks(void** fake_stack, const void* bottom, std::size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack, bottom, size);
#else
  (void)fake_stack, (void)bottom, (void)size;
#endif
}
inline void switched_stacks(void* fake_stack, const void** from_bottom, std::size_t* from_size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#else
  (void)fake_stack, (void)from_bottom, (void)from_size;
#endif
}

struct Block {
  std::vector<Fiber> fibers;
  Barrier block;
  std::vector<Barrier> warps;
  std::vector<std::array<std::uint64_t, 32>> exchange;  // per warp: one word per lane
  ucontext_t scheduler{};
  const void* scheduler_stack = nullptr;  // the launching thread's stack, for ASan
  std::size_t scheduler_stack_size = 0;
  int current = -1;
  void (*body)(void*) = nullptr;
  void* body_arg = nullptr;
};

inline Block* running = nullptr;

// A fiber hands control back to the scheduler's stack (and returns there when resumed).
inline void yield_to_scheduler(Fiber& self) {
  void* fake_stack = nullptr;
  switching_stacks(&fake_stack, running->scheduler_stack, running->scheduler_stack_size);
  swapcontext(&self.context, &running->scheduler);
  switched_stacks(fake_stack, nullptr, nullptr);
}

// Fiber stacks, kept from block to block (allocated once, never zero-filled).
inline char* stack_of(unsigned thread) {
  static std::vector<std::unique_ptr<char[]>> stacks;
  while (stacks.size() <= thread) stacks.emplace_back(new char[kStackBytes]);
  return stacks[thread].get();
}

inline void arrive_and_wait(Barrier& barrier) {
  Fiber& self = running->fibers[running->current];
  if (++barrier.arrived == barrier.live) {  // the last one in opens it
    barrier.arrived = 0;
    ++barrier.generation;
    // ... and yields, so that the schedule (not the arrival order) says who runs on first.
    yield_to_scheduler(self);
    return;
  }
  self.waiting_on = &barrier;
  self.waiting_generation = barrier.generation;
  yield_to_scheduler(self);
}

inline void leave(Barrier& barrier) {
  --barrier.live;
  if (barrier.arrived > 0 && barrier.arrived == barrier.live) {
    barrier.arrived = 0;
    ++barrier.generation;
  }
}

inline void fiber_entry() {
  Block& b = *running;
  switched_stacks(nullptr, &b.scheduler_stack, &b.scheduler_stack_size);
  b.body(b.body_arg);
  Fiber& self = b.fibers[b.current];
  self.done = true;
  leave(b.block);
  leave(b.warps[self.warp]);
  switching_stacks(nullptr, b.scheduler_stack, b.scheduler_stack_size);  // this stack is done
}  // returns to the scheduler through uc_link

// Runs one block: every fiber until it blocks or ends; throws on a deadlock (a
// barrier that some live thread never reaches, e.g. __syncthreads in divergent code).
inline void run_block(unsigned threads, void (*body)(void*), void* arg) {
  Block b;
  b.body = body;
  b.body_arg = arg;
  b.block.live = static_cast<int>(threads);
  b.warps.resize((threads + 31) / 32);
  b.exchange.assign(b.warps.size(), {});
  b.fibers.resize(threads);
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = b.fibers[t];
    f.index =
        Dim3{t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y)};
    f.warp = static_cast<int>(t / 32);
    ++b.warps[f.warp].live;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = stack_of(t);
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiber_entry, 0);
  }
  running = &b;
  // Always resume the first runnable fiber in the schedule's order, so each thread runs as far
  // ahead of the later ones as the barriers let it (a whole warp passes its warp barriers before
  // the next warp starts): that is what makes a missing barrier change the results.
  const auto runnable = [&](unsigned t) {
    Fiber& f = b.fibers[t];
    if (f.done) return false;
    if (f.waiting_on != nullptr) {
      if (f.waiting_on->generation == f.waiting_generation) return false;
      f.waiting_on = nullptr;
    }
    return true;
  };
  for (unsigned left = threads; left > 0;) {
    unsigned i = 0;
    while (i < threads && !runnable(in_schedule_order(i, threads))) ++i;
    if (i == threads) {
      running = nullptr;
      throw std::runtime_error("block emulation: deadlock, " + std::to_string(left) +
                               " threads wait at a barrier the others never reach");
    }
    const unsigned t = in_schedule_order(i, threads);
    Fiber& f = b.fibers[t];
    b.current = static_cast<int>(t);
    thread_index = f.index;
    void* fake_stack = nullptr;
    switching_stacks(&fake_stack, stack_of(t), kStackBytes);
    swapcontext(&b.scheduler, &f.context);
    switched_stacks(fake_stack, nullptr, nullptr);
    if (f.done) --left;
  }
  running = nullptr;
}

}  // namespace detail

// Runs kernel(args...) for every block of `grid` (in the schedule's order) with `block` threads
// each and `shared_bytes` of dynamic shared memory, filled with a NaN pattern so that reading a
// cell no thread wrote shows up in the results. Deterministic: one OS thread, the CUDA threads are
// fibers that switch only at barriers.
template <class Kernel, class... Args>
void launch(Dim3 grid, Dim3 block, std::size_t shared_bytes, Kernel kernel, Args... args) {
  grid_dim = grid;
  block_dim = block;
  const unsigned threads = block.x * block.y * block.z;
  // The whole allocation past the requested bytes is poisoned, capacity included: a launch after
  // a larger one (or with none) must not find the earlier launch's bytes addressable.
  unpoison(shared_storage.data(), shared_storage.capacity() * sizeof(SharedLine));
  shared_storage.assign((shared_bytes + sizeof(SharedLine) - 1) / sizeof(SharedLine), SharedLine{});
  poison_beyond(shared_storage.data(), shared_bytes,
                shared_storage.capacity() * sizeof(SharedLine));
  auto body = [&] { kernel(args...); };
  using Body = decltype(body);
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        if (shared_bytes > 0) std::memset(shared_storage.data(), 0xFF, shared_bytes);
        poison_static_shared();
        block_index =
            Dim3{detail::in_schedule_order(bx, grid.x), detail::in_schedule_order(by, grid.y),
                 detail::in_schedule_order(bz, grid.z)};
        detail::run_block(
            threads, [](void* f) { (*static_cast<Body*>(f))(); }, &body);
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
  emu::detail::arrive_and_wait(emu::detail::running->block);
}
// The whole warp, whatever the mask (the kernels here always pass all lanes).
inline void __syncwarp(unsigned /*mask*/ = 0xFFFFFFFFu) {
  emu::detail::Block& b = *emu::detail::running;
  emu::detail::arrive_and_wait(b.warps[b.fibers[b.current].warp]);
}

namespace emu::detail {
// What one warp collective saw: every lane's value, and which lanes took part. A lane that has
// returned from the kernel, or lies beyond the block's size, takes no part; its value is all one
// bits (NaN for a float or a double, -1 for an integer), since what a GPU returns for it is
// undefined: a kernel that uses such a value shows it in its results.
template <class T>
struct WarpValues {
  std::array<T, 32> value{};
  unsigned present = 0;  // bit l: lane l took part
  T at(unsigned lane) const { return value[lane % 32]; }
};

// Every live lane of the calling warp contributes `v` and gets what all contributed. Two warp
// barriers: one so that every slot is written, one so that none is overwritten before all have
// read. Between the two no lane can return, so the lanes done at the read are the ones that
// returned before this collective.
template <class T>
WarpValues<T> warp_gather(T v) {
  static_assert(sizeof(T) <= sizeof(std::uint64_t) && std::is_trivially_copyable_v<T>);
  Block& b = *running;
  const Fiber& self = b.fibers[b.current];
  auto& slots = b.exchange[self.warp];
  const unsigned lane = static_cast<unsigned>(b.current) % 32;
  slots[lane] = 0;
  std::memcpy(&slots[lane], &v, sizeof(T));
  arrive_and_wait(b.warps[self.warp]);
  WarpValues<T> all;
  for (unsigned i = 0; i < 32; ++i) {
    const std::size_t thread = static_cast<std::size_t>(self.warp) * 32 + i;
    if (thread < b.fibers.size() && !b.fibers[thread].done) {
      all.present |= 1u << i;
      std::memcpy(&all.value[i], &slots[i], sizeof(T));
    } else {
      std::memset(&all.value[i], 0xFF, sizeof(T));
    }
  }
  arrive_and_wait(b.warps[self.warp]);
  return all;
}
}  // namespace emu::detail

// Warp collectives over the whole warp (the masks the kernels here pass are always all lanes);
// lanes that take no part count as on a GPU: no ballot bit, nothing to the sum, and an undefined
// value (all one bits here) for a shuffle that reads one.
inline unsigned __ballot_sync(unsigned /*mask*/, bool predicate) {
  const auto all = emu::detail::warp_gather<std::uint8_t>(predicate ? 1 : 0);
  unsigned bits = 0;
  for (unsigned i = 0; i < 32; ++i) bits |= static_cast<unsigned>(all.value[i] == 1) << i;
  return bits & all.present;
}
template <class T>
T __shfl_sync(unsigned /*mask*/, T v, int source) {
  return emu::detail::warp_gather<T>(v).at(static_cast<unsigned>(source));
}
template <class T>
T __shfl_down_sync(unsigned /*mask*/, T v, unsigned delta) {
  const auto all = emu::detail::warp_gather<T>(v);
  const unsigned lane = threadIdx.x % 32;  // 1-D blocks (the kernels here)
  return lane + delta < 32 ? all.at(lane + delta)
                           : v;  // past the warp's end: the caller's own value
}
template <class T>
T __shfl_xor_sync(unsigned /*mask*/, T v, int lane_mask) {
  const auto all = emu::detail::warp_gather<T>(v);
  return all.at((threadIdx.x % 32) ^ static_cast<unsigned>(lane_mask));
}
inline unsigned __reduce_add_sync(unsigned /*mask*/, unsigned v) {
  const auto all = emu::detail::warp_gather<unsigned>(v);
  unsigned sum = 0;
  for (unsigned i = 0; i < 32; ++i) sum += (all.present >> i) & 1u ? all.value[i] : 0u;
  return sum;
}
inline int __popc(unsigned v) {
  return std::popcount(v);
}
inline int __float_as_int(float v) {
  return std::bit_cast<int>(v);
}
inline float __int_as_float(int v) {
  return std::bit_cast<float>(v);
}
using std::isnan;
// Atomics: one OS thread runs every CUDA thread and switches only at barriers, so a plain
// read-modify-write cannot be interleaved.
inline int atomicMax(int* address, int value) {
  const int old = *address;
  if (value > old) *address = value;
  return old;
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;
  *address = old + value;
  return old;
}
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) {
  return float4{x, y, z, w};
}
inline unsigned __float_as_uint(float v) {
  return std::bit_cast<unsigned>(v);
}
inline float __uint_as_float(unsigned v) {
  return std::bit_cast<float>(v);
}
using std::fmaf;
// The explicitly rounded float and double operations: one IEEE operation each, as on the host
// (CMakeLists.txt builds C++ with -ffp-contract=off, so that nothing fuses them).
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline double __dadd_rn(double a, double b) {
  return a + b;
}
inline double __dmul_rn(double a, double b) {
  return a * b;
}
using std::isfinite;
inline unsigned long long atomicMax(unsigned long long* address, unsigned long long value) {
  const unsigned long long old = *address;  // one OS thread: see the atomics below
  if (value > old) *address = value;
  return old;
}

namespace emu {
// A model of the tensor cores' fp32 accumulation as published measurements describe it (exact
// products, the sum with the accumulator rounded toward zero): when set, each mma_sync rounds
// c + Σ a·b toward zero, once per output element, instead of to nearest. The bias adds up along a
// long reduction (one rounding per 8 products), which is what the 3×TF32 tiles must withstand.
inline bool truncating_tensor_accumulation = false;
inline float round_toward_zero(double v) {
  const float r = static_cast<float>(v);
  return std::fabs(static_cast<double>(r)) > std::fabs(v) ? std::nextafter(r, 0.0f) : r;
}
}  // namespace emu

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];
};

inline unsigned lane() {
  return (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
}

// cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero; inf and NaN unchanged.
inline float __float_to_tf32(float v) {
  if (!std::isfinite(v)) return v;
  return std::bit_cast<float>((std::bit_cast<unsigned>(v) + 0x1000u) & 0xffffe000u);
}

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  std::fill(f.x, f.x + f.num_elements, v);
}

// The CUDA documentation's requirements on a fragment's memory: a 256-bit aligned pointer and a
// leading dimension that is a multiple of 16 bytes. A GPU does not check them; this does.
inline void check_fragment_memory(const void* p, unsigned ldm) {
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0 || ldm % 4 != 0)
    throw std::logic_error("wmma: fragment memory not 32-byte aligned or ldm not a multiple of 4");
}

template <class Use, int M, int N, int K, class T, class Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const float* p, unsigned ldm) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>);
  check_fragment_memory(p, ldm);
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] = std::is_same_v<Layout, row_major> ? p[r * ldm + c] : p[r + c * ldm];
}

template <int M, int N, int K, class T>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm,
                       layout_t layout) {
  check_fragment_memory(p, ldm);
  if (lane() == 0) {
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < N; ++c)
        (layout == mem_row_major ? p[r * ldm + c] : p[r + c * ldm]) = f.x[r * N + c];
  }
}

template <int M, int N, int K, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d,
              const fragment<matrix_a, M, N, K, precision::tf32, LA>& a,
              const fragment<matrix_b, M, N, K, precision::tf32, LB>& b,
              const fragment<accumulator, M, N, K, float>& c) {
  if (lane() == 0) {
    const auto operand = [](float v) {  // the tensor core reads the TF32 bits only
      return static_cast<double>(std::bit_cast<float>(std::bit_cast<unsigned>(v) & 0xffffe000u));
    };
    float result[M * N];
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double sum = 0.0;
        for (int k = 0; k < K; ++k) sum += operand(a.x[i * K + k]) * operand(b.x[k * N + j]);
        const double exact = static_cast<double>(c.x[i * N + j]) + sum;
        result[i * N + j] = emu::truncating_tensor_accumulation ? emu::round_toward_zero(exact)
                                                                : static_cast<float>(exact);
      }
    std::copy(result, result + M * N, d.x);
  }
}

}  // namespace nvcuda::wmma
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
