// cuDNN convolution backend (aulens/cudnn_conv.h): the conv2d op contract of aulens/ops_decl.inc
// through cudnnConvolutionForward / BackwardData / BackwardFilter / BackwardBias.
//
// Glossary: N batch, C input channels, K filters, H W image size, R kernel size (odd), pad R/2.
//   x: (N,C,H,W)  w: (K,C,R,R)  b, db: (K)  y, dy: (N,K,H,W), NCHW fp32.
//
// Per (shape, math mode) a Plan holds the descriptors and, for each of the three directions, the
// algorithm cudnnFind* timed fastest among the direct-sum algorithms (implicit/explicit GEMM,
// direct; not FFT or Winograd, see direct_sum below) that are fp32-accurate (CUDNN_FMA_MATH) — or,
// after set_cudnn_math(true), any math type (TF32 tensor cores allowed) — with a workspace of at
// most kMaxWorkspaceBytes. The workspace size used is the larger of what the search reported and
// what cudnnGet*WorkspaceSize says for the chosen algorithm under the math type it runs with (the
// two can differ when the run math is not the search math). Plans are built on first use and
// cached; the workspace is one grow-only buffer shared by all plans (calls are serialised on the
// aulens stream). Every call passes beta = 0: outputs are overwritten, never accumulated.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "aulens/cudnn_conv.h"
#include "aulens/ops.h"
#include "common.cuh"

namespace aulens {
namespace {

constexpr std::size_t kMaxWorkspaceBytes = std::size_t{512} << 20;

bool g_allow_tf32 = false;

// Whether an algorithm sums the products of the convolution itself (GEMM forms, direct) rather
// than transforming it (FFT, Winograd). Only these are used: cuDNN is the oracle of the GPU tests
// and the benchmarks' baseline. On an H200 (cuDNN 9, 2026-12-04), choosing the fastest of all
// algorithms, the fp32 backward-filter of conv2 and conv3 at N = 64 (WINOGRAD_NONFUSED ranked
// fastest there) was off from the CPU twin by 10 % and 5 % of the result's RMS, a conv3 forward
// by 2.5e-4 of a value, and TF32 forwards by 3-4 % of RMS at a few outputs (all at most); with
// this restriction every GPU test passed (bench/RESULTS.md). The cost, in cudnnFind*'s times at
// conv2 and conv3, N = 64: fp32 convolutions 3.7-6.3x slower, TF32 ones up to 1.3x slower.
bool direct_sum(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
}
bool direct_sum(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}
bool direct_sum(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
}

const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
      return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "?";
  }
}
const char* algo_name(cudnnConvolutionBwdDataAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING:
      return "FFT_TILING";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD:
      return "WINOGRAD";
    case CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    default:
      return "?";
  }
}
const char* algo_name(cudnnConvolutionBwdFilterAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0:
      return "ALGO_0";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1:
      return "ALGO_1";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT:
      return "FFT";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3:
      return "ALGO_3";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED:
      return "WINOGRAD_NONFUSED";
    case CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING:
      return "FFT_TILING";
    default:
      return "?";
  }
}

// "NAME 0.123 ms", for algorithms().
template <class Algo>
std::string timed(Algo algo, float ms) {
  char text[32];
  std::snprintf(text, sizeof text, " %.3f ms", ms);
  return algo_name(algo) + std::string(text);
}

// What a Find/Get result must satisfy to be used.
bool math_allowed(cudnnMathType_t math, bool allow_tf32) {
  if (allow_tf32) return true;
  return math == CUDNN_FMA_MATH || math == CUDNN_DEFAULT_MATH;
}

// The math type to run a chosen algorithm with: fp32-accurate runs always use CUDNN_FMA_MATH,
// so even a "default math" algorithm cannot fall back to TF32 on Hopper.
cudnnMathType_t run_math(cudnnMathType_t found, bool allow_tf32) {
  return allow_tf32 ? found : CUDNN_FMA_MATH;
}

template <class Algo>
struct Choice {
  bool chosen = false;
  Algo algo{};
  std::size_t workspace = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::string summary;  // the choice, its time, and the faster results left out (algorithms())
};

// Picks the first (fastest, for Find; best, for Get_v7) usable result.
template <class Algo, class Perf>
bool pick(const Perf* results, int count, bool allow_tf32, Choice<Algo>& choice) {
  // Prefer results reported with FMA math when TF32 is not allowed, then default-math ones.
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < count; ++i) {
      const Perf& r = results[i];
      if (r.status != CUDNN_STATUS_SUCCESS || r.memory > kMaxWorkspaceBytes) continue;
      if (!direct_sum(r.algo) || !math_allowed(r.mathType, allow_tf32)) continue;
      if (!allow_tf32 && pass == 0 && r.mathType != CUDNN_FMA_MATH) continue;
      choice.chosen = true;
      choice.algo = r.algo;
      choice.workspace = r.memory;
      choice.math = run_math(r.mathType, allow_tf32);
      choice.summary = timed(r.algo, r.time);
      // The results ahead of the choice (Find lists them fastest first, Get_v7 in its heuristic
      // order) and why each was left out.
      std::string ahead;
      for (int j = 0; j < i; ++j) {
        const Perf& q = results[j];
        if (q.status != CUDNN_STATUS_SUCCESS) continue;
        const char* why = !direct_sum(q.algo)             ? "FFT/Winograd"
                          : q.memory > kMaxWorkspaceBytes ? "workspace"
                                                          : "math type";
        ahead += (ahead.empty() ? "" : ", ") + timed(q.algo, q.time) + " " + why;
      }
      if (!ahead.empty()) choice.summary += " (ranked ahead, not used: " + ahead + ")";
      return true;
    }
  }
  return false;
}

struct Plan {
  bool allow_tf32 = false;
  cudnnTensorDescriptor_t x = nullptr;     // (N, C, H, W)
  cudnnTensorDescriptor_t y = nullptr;     // (N, K, H, W)
  cudnnTensorDescriptor_t bias = nullptr;  // (1, K, 1, 1)
  cudnnFilterDescriptor_t w = nullptr;     // (K, C, R, R)
  cudnnConvolutionDescriptor_t conv = nullptr;
  Choice<cudnnConvolutionFwdAlgo_t> forward;
  Choice<cudnnConvolutionBwdDataAlgo_t> backward_data;
  Choice<cudnnConvolutionBwdFilterAlgo_t> backward_filter;

  Plan(const ConvShape& s, bool tf32) : allow_tf32(tf32) {
    AULENS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    AULENS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    AULENS_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias));
    AULENS_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    AULENS_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    AULENS_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
    AULENS_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.k, s.h, s.w));
    AULENS_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s.k, 1, 1));
    AULENS_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.k, s.c, s.r, s.r));
    AULENS_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, s.pad(), s.pad(), 1, 1, 1, 1,
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    set_search_math();
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(bias);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }

  // The math type the algorithm search runs under.
  void set_search_math() {
    AULENS_CUDNN_CHECK(
        cudnnSetConvolutionMathType(conv, allow_tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  }
  void set_run_math(cudnnMathType_t math) {
    AULENS_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, math));
  }

  void choose_forward() {
    if (forward.chosen) return;
    set_search_math();
    cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    AULENS_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(cuda_detail::cudnn_handle(), x, w, conv,
                                                            y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                            &count, results));
    if (!pick(results, count, allow_tf32, forward)) {
      AULENS_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
          cuda_detail::cudnn_handle(), x, w, conv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
          results));
      AULENS_CHECK(pick(results, count, allow_tf32, forward),
                   "cuDNN: no usable forward convolution algorithm for this shape");
    }
    set_run_math(forward.math);
    std::size_t bytes = 0;
    AULENS_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(cuda_detail::cudnn_handle(), x, w,
                                                               conv, y, forward.algo, &bytes));
    forward.workspace = std::max(forward.workspace, bytes);
  }
  void choose_backward_data() {
    if (backward_data.chosen) return;
    set_search_math();
    cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    AULENS_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(
        cuda_detail::cudnn_handle(), w, y, conv, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
        results));
    if (!pick(results, count, allow_tf32, backward_data)) {
      AULENS_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
          cuda_detail::cudnn_handle(), w, y, conv, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
          results));
      AULENS_CHECK(pick(results, count, allow_tf32, backward_data),
                   "cuDNN: no usable backward-data convolution algorithm for this shape");
    }
    set_run_math(backward_data.math);
    std::size_t bytes = 0;
    AULENS_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
        cuda_detail::cudnn_handle(), w, y, conv, x, backward_data.algo, &bytes));
    backward_data.workspace = std::max(backward_data.workspace, bytes);
  }
  void choose_backward_filter() {
    if (backward_filter.chosen) return;
    set_search_math();
    cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    AULENS_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(
        cuda_detail::cudnn_handle(), x, y, conv, w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
        results));
    if (!pick(results, count, allow_tf32, backward_filter)) {
      AULENS_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          cuda_detail::cudnn_handle(), x, y, conv, w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
          &count, results));
      AULENS_CHECK(pick(results, count, allow_tf32, backward_filter),
                   "cuDNN: no usable backward-filter convolution algorithm for this shape");
    }
    set_run_math(backward_filter.math);
    std::size_t bytes = 0;
    AULENS_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
        cuda_detail::cudnn_handle(), x, y, conv, w, backward_filter.algo, &bytes));
    backward_filter.workspace = std::max(backward_filter.workspace, bytes);
  }
};

std::mutex g_plans_mutex;

// Every plan made so far, by (N, C, H, W, K, R, TF32 allowed); guarded by g_plans_mutex.
using PlanKey = std::tuple<int, int, int, int, int, int, bool>;
std::map<PlanKey, std::unique_ptr<Plan>>& plans() {
  static std::map<PlanKey, std::unique_ptr<Plan>> made;
  return made;
}

Plan& plan_for(const ConvShape& s) {
  AULENS_CHECK(s.n >= 1 && s.c >= 1 && s.h >= 1 && s.w >= 1 && s.k >= 1,
               "cuDNN conv2d: N, C, H, W, K must be >= 1");
  AULENS_CHECK(s.r >= 1 && s.r % 2 == 1, "cuDNN conv2d: kernel size R must be odd");
  const PlanKey key{s.n, s.c, s.h, s.w, s.k, s.r, g_allow_tf32};
  std::lock_guard lock(g_plans_mutex);
  auto it = plans().find(key);
  if (it == plans().end()) it = plans().emplace(key, std::make_unique<Plan>(s, g_allow_tf32)).first;
  return *it->second;
}

void* workspace(std::size_t bytes) {
  static cuda_detail::ScratchBuffer buffer;
  if (bytes == 0) return nullptr;
  return buffer.floats((bytes + sizeof(float) - 1) / sizeof(float));
}

const float kOne = 1.0f;
const float kZero = 0.0f;

}  // namespace

std::string CudnnConv::algorithms() {
  std::lock_guard lock(g_plans_mutex);
  std::string out;
  for (const auto& [key, plan] : plans()) {
    const auto& [n, c, h, w, k, r, tf32] = key;
    out += "N=" + std::to_string(n) + " C=" + std::to_string(c) + " " + std::to_string(h) + "x" +
           std::to_string(w) + " K=" + std::to_string(k) + " R=" + std::to_string(r) +
           (tf32 ? " tf32" : " fp32") + ":";
    if (plan->forward.chosen) out += " forward " + plan->forward.summary + ";";
    if (plan->backward_data.chosen) out += " backward-data " + plan->backward_data.summary + ";";
    if (plan->backward_filter.chosen)
      out += " backward-filter " + plan->backward_filter.summary + ";";
    out += "\n";
  }
  return out;
}

void set_cudnn_math(bool tf32) {
  g_allow_tf32 = tf32;
}
bool cudnn_math_tf32() {
  return g_allow_tf32;
}

void CudnnConv::forward(const ConvShape& s, const float* x, const float* w, const float* b,
                        float* y) {
  AULENS_CHECK(x != nullptr && w != nullptr && y != nullptr, "cuDNN conv2d forward: null tensor");
  if (s.n == 0) return;
  Plan& plan = plan_for(s);
  plan.choose_forward();
  plan.set_run_math(plan.forward.math);
  void* ws = workspace(plan.forward.workspace);
  AULENS_CUDNN_CHECK(cudnnConvolutionForward(cuda_detail::cudnn_handle(), &kOne, plan.x, x, plan.w,
                                             w, plan.conv, plan.forward.algo, ws,
                                             plan.forward.workspace, &kZero, plan.y, y));
  if (b != nullptr)
    AULENS_CUDNN_CHECK(
        cudnnAddTensor(cuda_detail::cudnn_handle(), &kOne, plan.bias, b, &kOne, plan.y, y));
}

void CudnnConv::forward_relu_records(const ConvShape& s, const float* x, const float* w,
                                     const float* b, float* value, std::int32_t* position) {
  AULENS_CHECK(value != nullptr && position != nullptr, "cuDNN conv2d records: null tensor");
  if (s.n == 0) return;
  static cuda_detail::ScratchBuffer maps;
  const std::int64_t count = static_cast<std::int64_t>(s.n) * s.k * s.h * s.w;
  float* y = maps.floats(static_cast<std::size_t>(count));
  forward(s, x, w, b, y);
  CudaOps::relu_forward(count, y, y);
  CudaOps::max_records(s.n, s.k, s.h * s.w, y, value, position);
}

void CudnnConv::backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  AULENS_CHECK(dy != nullptr && w != nullptr && dx != nullptr,
               "cuDNN conv2d backward_data: null tensor");
  if (s.n == 0) return;
  Plan& plan = plan_for(s);
  plan.choose_backward_data();
  plan.set_run_math(plan.backward_data.math);
  void* ws = workspace(plan.backward_data.workspace);
  AULENS_CUDNN_CHECK(cudnnConvolutionBackwardData(
      cuda_detail::cudnn_handle(), &kOne, plan.w, w, plan.y, dy, plan.conv, plan.backward_data.algo,
      ws, plan.backward_data.workspace, &kZero, plan.x, dx));
}

void CudnnConv::backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw,
                                float* db) {
  AULENS_CHECK(x != nullptr && dy != nullptr && dw != nullptr,
               "cuDNN conv2d backward_filter: null tensor");
  if (s.n == 0) {  // an empty batch: the sums are zero
    AULENS_CUDA_CHECK(
        cudaMemsetAsync(dw, 0, sizeof(float) * s.k * s.c * s.r * s.r, cuda_detail::stream()));
    if (db != nullptr)
      AULENS_CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * s.k, cuda_detail::stream()));
    return;
  }
  Plan& plan = plan_for(s);
  plan.choose_backward_filter();
  plan.set_run_math(plan.backward_filter.math);
  void* ws = workspace(plan.backward_filter.workspace);
  AULENS_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      cuda_detail::cudnn_handle(), &kOne, plan.x, x, plan.y, dy, plan.conv,
      plan.backward_filter.algo, ws, plan.backward_filter.workspace, &kZero, plan.w, dw));
  if (db != nullptr)
    AULENS_CUDNN_CHECK(cudnnConvolutionBackwardBias(cuda_detail::cudnn_handle(), &kOne, plan.y, dy,
                                                    &kZero, plan.bias, db));
}

}  // namespace aulens
