// Timing for the benchmarks (STYLE.md §7): CUDA events on the aulens stream (the legacy default
// stream, where every aulens kernel, cuBLAS and cuDNN call runs) around the timed region, after
// warm-up runs, median of the repeats. Include only where the CUDA runtime is available.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "aulens/check.h"
#include "aulens/device.h"

namespace aulens::bench {

inline void cuda_check(cudaError_t status, const char* call) {
  if (status != cudaSuccess)
    throw Error(std::string("CUDA call failed: ") + call + ": " + cudaGetErrorString(status));
}

// The median of `values` (the mean of the two middle ones for an even count).
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// Median milliseconds of `run` between two events, over `repeats` runs after `warmup` untimed
// ones. `before_each`, when given, is queued before each timed run, outside the events (e.g. a
// memset that evicts the L2 cache).
inline double median_gpu_ms(const std::function<void()>& run, int warmup, int repeats,
                            const std::function<void()>& before_each = {}) {
  for (int i = 0; i < warmup; ++i) run();
  device::synchronize();
  cudaEvent_t start = nullptr, stop = nullptr;
  cuda_check(cudaEventCreate(&start), "cudaEventCreate");
  cuda_check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    if (before_each) before_each();
    cuda_check(cudaEventRecord(start, nullptr), "cudaEventRecord");
    run();
    cuda_check(cudaEventRecord(stop, nullptr), "cudaEventRecord");
    cuda_check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    cuda_check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    times.push_back(ms);
  }
  cuda_check(cudaEventDestroy(start), "cudaEventDestroy");
  cuda_check(cudaEventDestroy(stop), "cudaEventDestroy");
  device::synchronize();  // rethrows a kernel error of the timed runs
  return median(times);
}

}  // namespace aulens::bench

#define BENCH_CUDA(call) ::aulens::bench::cuda_check((call), #call)
