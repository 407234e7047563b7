// The host block emulator itself (tests/emu/block_emu.h), on tiny kernels whose result is known:
// barriers order the phases of a shared-memory reduction, threads that return early stop counting
// at barriers, warp barriers are per warp, warp collectives see every lane in every round, a
// barrier some threads never reach is reported, shared memory starts poisoned in every block, a
// misaligned vector load (UBSan) and a read past a global buffer or a shared array (ASan) stop the
// kernel, and the forward and reverse schedules expose a missing barrier.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu/block_emu.h"

namespace {

// out[block] = Σ in[block·256 + t], tree reduction in static shared memory.
__global__ void block_sum_kernel(const float* in, float* out) {
  AULENS_STATIC_SHARED(float, partial, [256]);
  partial[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

// out[t] = Σ of the float4 at in + 4t: a vector load, which must be 16-byte aligned.
__global__ void float4_sum_kernel(const float* in, float* out) {
  const float4 v = reinterpret_cast<const float4*>(in)[threadIdx.x];
  out[threadIdx.x] = v.x + v.y + v.z + v.w;
}

TEST(BlockEmu, AlignedVectorLoadsWork) {
  alignas(16) float in[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  float out[2] = {0, 0};
  emu::launch({1}, {2}, 0, float4_sum_kernel, static_cast<const float*>(in), out);
  EXPECT_EQ(out[0], 10.0f);
  EXPECT_EQ(out[1], 26.0f);
}

// On a GPU a float4 load from an address that is not 16-byte aligned faults ("misaligned
// address"); the emulated tests are built with UBSan's alignment check, which stops there too.
TEST(BlockEmuDeathTest, MisalignedVectorLoadStopsTheKernel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  alignas(16) float in[12] = {};
  float out[2] = {0, 0};
  EXPECT_DEATH(emu::launch({1}, {2}, 0, float4_sum_kernel, static_cast<const float*>(in + 1), out),
               "misaligned address");
}

// Global memory read one element past the end of its buffer: on a GPU compute-sanitizer reports
// it; the emulated tests build with AddressSanitizer, which stops the kernel.
TEST(BlockEmuDeathTest, OutOfBoundsGlobalReadStopsTheKernel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> in(2 * 256 - 1, 1.0f), out(2, 0.0f);  // the last thread reads in[511]
  EXPECT_DEATH(emu::launch({2}, {256}, 0, block_sum_kernel, static_cast<const float*>(in.data()),
                           out.data()),
               "heap-buffer-overflow");
}

// Shared memory read past its declared size: one element past a static array, and inside what an
// earlier, larger launch's dynamic shared memory had used. The cells' rounding to whole lines and
// the storage's spare capacity are poisoned for ASan.
__global__ void shared_overrun_kernel(float* out, int dynamic_floats) {
  AULENS_STATIC_SHARED(float, fixed, [10]);
  AULENS_DYNAMIC_SHARED(float, dynamic);
  fixed[threadIdx.x] = 1.0f;
  dynamic[threadIdx.x] = 2.0f;
  __syncthreads();
  out[threadIdx.x] = threadIdx.x == 0 ? (dynamic_floats > 0 ? dynamic[dynamic_floats] : fixed[10])
                                      : fixed[threadIdx.x] + dynamic[threadIdx.x];
}

TEST(BlockEmuDeathTest, SharedMemoryOverrunStopsTheKernel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> out(10, 0.0f);
  // A larger launch first: its bytes must not stay addressable for the smaller ones.
  emu::launch({1}, {10}, 512, shared_overrun_kernel, out.data(), 100);
  // (Under tools/sanitize.sh, UBSan's bounds check stops fixed[10] before ASan sees it.)
  EXPECT_DEATH(emu::launch({1}, {10}, 10 * sizeof(float), shared_overrun_kernel, out.data(), 0),
               "use-after-poison|index 10 out of bounds");
  EXPECT_DEATH(emu::launch({1}, {10}, 10 * sizeof(float), shared_overrun_kernel, out.data(), 40),
               "use-after-poison");
}

TEST(BlockEmu, BarriersOrderASharedReduction) {
  std::vector<float> in(3 * 256), out(3, -1.0f);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 7);
  emu::launch({3}, {256}, 0, block_sum_kernel, static_cast<const float*>(in.data()), out.data());
  for (int b = 0; b < 3; ++b) {
    float want = 0.0f;
    for (int t = 0; t < 256; ++t) want += in[b * 256 + t];
    EXPECT_EQ(out[b], want) << "block " << b;
  }
}

// Threads ≥ 40 return before the barrier; the others must still pass it.
__global__ void early_return_kernel(int* out) {
  AULENS_DYNAMIC_SHARED(int, cells);
  if (threadIdx.x >= 40) return;
  cells[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = cells[39 - threadIdx.x];
}

TEST(BlockEmu, ThreadsThatReturnStopCountingAtBarriers) {
  std::vector<int> out(64, -1);
  emu::launch({1}, {64}, 64 * sizeof(int), early_return_kernel, out.data());
  for (int t = 0; t < 40; ++t) EXPECT_EQ(out[t], 39 - t);
  EXPECT_EQ(out[40], -1);
}

// Each warp swaps halves through shared memory with only a warp barrier between.
__global__ void warp_swap_kernel(int* out) {
  AULENS_STATIC_SHARED(int, cells, [64]);
  cells[threadIdx.x] = static_cast<int>(threadIdx.x);
  __syncwarp();
  const unsigned lane = threadIdx.x % 32, base = threadIdx.x - lane;
  out[threadIdx.x] = cells[base + (lane + 16) % 32];
}

TEST(BlockEmu, WarpBarriersAreWarpWide) {
  std::vector<int> out(64, -1);
  emu::launch({1}, {64}, 0, warp_swap_kernel, out.data());
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], (t / 32) * 32 + (t % 32 + 16) % 32);
}

// Lane 0 waits at a warp barrier the other lanes pass by on their way to a block barrier.
__global__ void deadlock_kernel() {
  if (threadIdx.x == 0) __syncwarp();
  __syncthreads();
}

// The deadlocked fibers are abandoned where they wait: a kernel that held heap memory across the
// barrier would leak it, and LeakSanitizer (the emulated tests build with ASan) would fail the
// test.
TEST(BlockEmu, ABarrierNotEveryThreadReachesIsReported) {
  EXPECT_THROW(emu::launch({1}, {32}, 0, deadlock_kernel), std::runtime_error);
}

// Three rounds of ballot, shuffle and sum per lane (rounds reuse the exchange slots).
__global__ void warp_collectives_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  unsigned acc = 0;
  for (unsigned round = 0; round < 3; ++round) {
    acc += __ballot_sync(0xFFFFFFFFu, (lane + round) % 3 == 0);
    acc += __shfl_sync(0xFFFFFFFFu, lane * (round + 1), static_cast<int>((lane + 5) % 32));
    acc += __reduce_add_sync(0xFFFFFFFFu, lane + round + threadIdx.x / 32);
  }
  out[threadIdx.x] = acc;
}

TEST(BlockEmu, WarpCollectivesSeeEveryLane) {
  std::vector<unsigned> out(64, 0);
  emu::launch({1}, {64}, 0, warp_collectives_kernel, out.data());
  for (unsigned t = 0; t < 64; ++t) {
    const unsigned lane = t % 32;
    unsigned want = 0;
    for (unsigned round = 0; round < 3; ++round) {
      for (unsigned l = 0; l < 32; ++l) want += ((l + round) % 3 == 0 ? 1u : 0u) << l;
      want += ((lane + 5) % 32) * (round + 1);
      for (unsigned l = 0; l < 32; ++l) want += l + round + t / 32;
    }
    EXPECT_EQ(out[t], want) << "thread " << t;
  }
}

// Lanes 16–31 of each warp take part in one ballot (all true, so their exchange slots hold 1) and
// return; lanes 0–15 then take a ballot, a sum, and shuffles from a live and a returned lane.
// Block of 40: the second warp has lanes 0–7 only, lanes 8–31 lie beyond the block.
__global__ void returned_lanes_kernel(unsigned* bits, unsigned* sums, float* live, float* gone) {
  const unsigned lane = threadIdx.x % 32;
  (void)__ballot_sync(0xFFFFFFFFu, true);
  if (lane >= 16) return;
  bits[threadIdx.x] = __ballot_sync(0xFFFFFFFFu, lane % 2 == 0);
  sums[threadIdx.x] = __reduce_add_sync(0xFFFFFFFFu, 1u);
  const float mine = static_cast<float>(threadIdx.x);
  live[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, mine, static_cast<int>(lane ^ 1u));
  gone[threadIdx.x] = __shfl_down_sync(0xFFFFFFFFu, mine, 16);
}

TEST(BlockEmu, LanesThatReturnedTakeNoPartInWarpCollectives) {
  std::vector<unsigned> bits(40, 0), sums(40, 0);
  std::vector<float> live(40, -1.0f), gone(40, -1.0f);
  emu::launch({1}, {40}, 0, returned_lanes_kernel, bits.data(), sums.data(), live.data(),
              gone.data());
  for (unsigned t : {0u, 1u, 7u, 15u, 32u, 33u, 39u}) {
    const unsigned lane = t % 32, live_lanes = t < 32 ? 16 : 8;
    SCOPED_TRACE("thread " + std::to_string(t));
    EXPECT_EQ(bits[t], (live_lanes == 16 ? 0x5555u : 0x55u)) << "no bit from a lane not there";
    EXPECT_EQ(sums[t], live_lanes) << "nothing to the sum from a lane not there";
    EXPECT_EQ(live[t], static_cast<float>(t ^ 1u));
    EXPECT_TRUE(std::isnan(gone[t]))
        << "a returned lane's value is undefined on a GPU: " << gone[t] << " (lane " << lane << ")";
  }
}

__global__ void read_unwritten_kernel(float* out) {
  AULENS_DYNAMIC_SHARED(float, cells);
  out[threadIdx.x] = cells[threadIdx.x];
}

TEST(BlockEmu, DynamicSharedMemoryStartsPoisoned) {
  std::vector<float> out(8, 0.0f);
  emu::launch({1}, {8}, 8 * sizeof(float), read_unwritten_kernel, out.data());
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

// Each block's thread 0 reads a static shared cell before writing it: poisoned in every block,
// not left over from the block before.
__global__ void static_shared_kernel(float* out) {
  AULENS_STATIC_SHARED(float, cell, );
  if (threadIdx.x == 0) {
    out[blockIdx.x] = cell;
    cell = 1.0f;
  }
}

TEST(BlockEmu, StaticSharedMemoryIsPoisonedForEveryBlock) {
  std::vector<float> out(3, 0.0f);
  emu::launch({3}, {4}, 0, static_shared_kernel, out.data());
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

// The same in a kernel template (the GEMM tiles are templates): each instance has its own cell,
// poisoned before every block, whatever the other instance wrote.
template <int Value>
__global__ void static_shared_template_kernel(float* out) {
  AULENS_STATIC_SHARED_ALIGNED(32, float, cells, [2]);
  if (threadIdx.x == 0) {
    out[2 * blockIdx.x] = cells[0];
    out[2 * blockIdx.x + 1] = static_cast<float>(reinterpret_cast<std::uintptr_t>(cells) % 32);
    cells[0] = static_cast<float>(Value);
  }
}

TEST(BlockEmu, StaticSharedMemoryOfKernelTemplatesIsPoisonedForEveryBlock) {
  for (int round = 0; round < 2; ++round) {
    std::vector<float> one(6, 0.0f), two(6, 0.0f);
    emu::launch({3}, {4}, 0, static_shared_template_kernel<1>, one.data());
    emu::launch({3}, {4}, 0, static_shared_template_kernel<2>, two.data());
    for (int b = 0; b < 3; ++b) {
      EXPECT_TRUE(std::isnan(one[2 * b])) << "instance 1, block " << b << ", round " << round;
      EXPECT_TRUE(std::isnan(two[2 * b])) << "instance 2, block " << b << ", round " << round;
      EXPECT_EQ(one[2 * b + 1], 0.0f) << "32-byte alignment";
    }
  }
}

// Sets the schedule for the scope, and back to what the environment says after.
class ScheduleScope {
 public:
  explicit ScheduleScope(emu::Schedule s) : saved_(emu::schedule) { emu::schedule = s; }
  ~ScheduleScope() { emu::schedule = saved_; }

 private:
  emu::Schedule saved_;
};

// Neighbours exchange through shared memory; `barrier` says whether they wait for each other.
__global__ void neighbour_kernel(bool barrier, float* out) {
  AULENS_STATIC_SHARED(float, cells, [64]);
  cells[threadIdx.x] = static_cast<float>(threadIdx.x);
  if (barrier) __syncthreads();
  out[threadIdx.x] = cells[(threadIdx.x + 1) % 64];
}

// A missing barrier: a thread runs ahead of the others, so the read of a neighbour's cell finds the
// poison in either order; with the barrier both orders agree.
TEST(BlockEmu, AMissingBarrierShowsInEitherSchedule) {
  for (emu::Schedule order : {emu::Schedule::forward, emu::Schedule::reverse}) {
    const ScheduleScope scope(order);
    std::vector<float> out(64, -1.0f);
    emu::launch({1}, {64}, 0, neighbour_kernel, true, out.data());
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[t], static_cast<float>((t + 1) % 64));
    emu::launch({1}, {64}, 0, neighbour_kernel, false, out.data());
    int poisoned = 0;
    for (float v : out) poisoned += std::isnan(v);
    EXPECT_GT(poisoned, 0) << (order == emu::Schedule::forward ? "forward" : "reverse");
  }
}

// A write-after-read race across a warp barrier: warp w reads every warp's slot, then (with no
// block barrier before it) overwrites its own. In forward order warp 0 overwrites its slot before
// warp 1 reads it; in reverse order the last warp does so before warp 0 reads.
__global__ void reuse_kernel(bool barrier, int* out) {
  AULENS_STATIC_SHARED(int, slots, [4]);
  const int warp = static_cast<int>(threadIdx.x / 32);
  if (threadIdx.x % 32 == 0) slots[warp] = 1;
  __syncthreads();
  int sum = 0;
  for (int w = 0; w < 4; ++w) sum += slots[w];
  if (barrier) __syncthreads();
  __syncwarp();
  if (threadIdx.x % 32 == 0) slots[warp] = 100;
  out[threadIdx.x] = sum;
}

TEST(BlockEmu, WarpsRunAheadToTheNextBlockBarrier) {
  for (emu::Schedule order : {emu::Schedule::forward, emu::Schedule::reverse}) {
    SCOPED_TRACE(order == emu::Schedule::forward ? "forward" : "reverse");
    const ScheduleScope scope(order);
    std::vector<int> out(128, -1);
    emu::launch({1}, {128}, 0, reuse_kernel, true, out.data());
    for (int v : out) ASSERT_EQ(v, 4);
    emu::launch({1}, {128}, 0, reuse_kernel, false, out.data());
    int wrong = 0;
    for (int v : out) wrong += v != 4;
    EXPECT_GT(wrong, 0);
  }
}

// Blocks take their turns in the schedule's order.
__global__ void block_order_kernel(int* order, int* next) {
  if (threadIdx.x == 0) order[blockIdx.x] = (*next)++;
}

TEST(BlockEmu, ReverseScheduleRunsTheLastBlockFirst) {
  const ScheduleScope scope(emu::Schedule::reverse);
  std::vector<int> order(3, -1);
  int next = 0;
  emu::launch({3}, {2}, 0, block_order_kernel, order.data(), &next);
  EXPECT_EQ(order, (std::vector<int>{2, 1, 0}));
}

}  // namespace
