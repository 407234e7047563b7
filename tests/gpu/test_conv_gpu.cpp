// GPU convolution kernels against their CPU twin (CpuOps, src/cpu/conv2d.cpp): the hand-written
// kernels (CudaOps, cuda/conv2d*.cu) in each math mode (FFMA, 3×TF32, TF32; aulens/cuda_math.h)
// and in the "fastest" mode (its first call for a shape times the candidates, then runs the
// winner), and the cuDNN backend (CudnnConv, fp32 and TF32), at small
// odd shapes that exercise every kernel path and edge, and at the network's layer shapes with a
// small batch, and conv2/conv3 backward-filter at the training batch of 64 (where the split
// reduction runs many splits, each spanning several images). Inputs are fresh random values (the
// seed is printed on failure); GPU outputs are poisoned with NaN (0xFF bytes) before the first
// call, so an element a kernel never writes fails. Every op is called TWICE into the same output
// and compared with the CPU twin after each call (a kernel or scratch buffer that accumulates
// instead of overwriting fails the second comparison), and the inputs are read back afterwards
// (a call that writes into its inputs fails).
// Pass criterion per element: |gpu − cpu| ≤ atol + rtol·|cpu|, with atol scaled by the RMS of the
// reference; the worst element and its (n|k, c|k, y|r, x|s) index are reported.
//
// Shapes: x (N,C,H,W)  w (K,C,R,R)  b (K)  y, dy (N,K,H,W)  dx (N,C,H,W)  dw (K,C,R,R)  db (K).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aulens/cuda_math.h"
#include "aulens/cudnn_conv.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "fresh_seed.h"
#include "gpu_skip.h"

namespace aulens {
namespace {

// A float buffer on the GPU (RAII over aulens::device).
class DeviceFloats {
 public:
  explicit DeviceFloats(std::size_t count)
      : count_(count), ptr_(static_cast<float*>(device::malloc(bytes() > 0 ? bytes() : 4))) {}
  explicit DeviceFloats(const std::vector<float>& values) : DeviceFloats(values.size()) {
    device::copy_to_device(ptr_, values.data(), bytes());
  }
  ~DeviceFloats() { device::free(ptr_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;

  float* get() { return ptr_; }
  std::size_t bytes() const { return count_ * sizeof(float); }
  // Every byte 0xFF: each float reads as NaN.
  void poison() {
    const std::vector<unsigned char> bytes_ff(bytes(), 0xFF);
    if (!bytes_ff.empty()) device::copy_to_device(ptr_, bytes_ff.data(), bytes_ff.size());
  }
  // True when the buffer still holds `values` bit for bit.
  bool holds(const std::vector<float>& values) const {
    const std::vector<float> now = download();
    return now.size() == values.size() &&
           std::memcmp(now.data(), values.data(), values.size() * sizeof(float)) == 0;
  }
  std::vector<float> download() const {
    device::synchronize();
    std::vector<float> values(count_);
    device::copy_to_host(values.data(), ptr_, bytes());
    return values;
  }

 private:
  std::size_t count_;
  float* ptr_;
};

std::vector<float> random_values(std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

struct Tolerance {
  double atol_per_rms;  // atol = atol_per_rms · RMS(reference)
  double rtol;
};
constexpr Tolerance kFp32{1e-4, 1e-4};
// TF32 rounds each operand to 11 significant bits: about 4e-4 of RMS per output, 2e-3 at the
// largest of conv3's 590k outputs (estimate; the emulator measured about 1e-3). The hand-written
// bound 1e-2 is below what one dropped tap of conv3 (3,200 products, about RMS/√3200 ≈ 1.8e-2)
// would cost. cuDNN TF32 keeps the looser 2e-2, set when its Winograd and FFT algorithms were
// allowed; with direct sums only, aulens_bench measured at most 3.6e-3 of RMS at N = 64 on an
// H200 (2026-12-04), so 1e-2 would likely hold too (not run yet).
constexpr Tolerance kTf32Hand{1e-2, 1e-2};
constexpr Tolerance kTf32Cudnn{2e-2, 2e-2};

// Compares got with want; dims are the 4 dimensions of the tensor, for reporting the index.
::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     const std::vector<int>& dims, Tolerance tol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double sum_sq = 0.0;
  for (float v : want) sum_sq += static_cast<double>(v) * v;
  const double rms = want.empty() ? 0.0 : std::sqrt(sum_sq / static_cast<double>(want.size()));
  const double atol = tol.atol_per_rms * std::max(rms, 1e-30);
  std::size_t worst = 0, failures = 0;
  double worst_excess = -1.0;  // |a − b| / (atol + rtol·|b|); NaN counts as infinite
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    const double limit = atol + tol.rtol * std::fabs(b);
    const double diff = std::fabs(a - b);
    const double excess = std::isfinite(diff) ? diff / limit : INFINITY;
    if (!(diff <= limit)) ++failures;
    if (excess > worst_excess || (std::isnan(excess) && worst_excess >= 0)) {
      worst_excess = std::isnan(excess) ? INFINITY : excess;
      worst = i;
    }
  }
  std::ostringstream index;
  std::size_t rest = worst;
  std::vector<std::size_t> coords(dims.size());
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    coords[d] = rest % dims[d];
    rest /= dims[d];
  }
  index << "(";
  for (std::size_t d = 0; d < coords.size(); ++d) index << (d ? ", " : "") << coords[d];
  index << ")";
  std::ostringstream report;
  report << failures << " of " << got.size() << " elements off; worst at flat " << worst << " "
         << index.str() << ": got " << got[worst] << ", want " << want[worst] << ", |diff| "
         << std::fabs(static_cast<double>(got[worst]) - want[worst]) << " vs limit "
         << atol + tol.rtol * std::fabs(static_cast<double>(want[worst])) << " (atol " << atol
         << " = " << tol.atol_per_rms << "·rms " << rms << ", rtol " << tol.rtol << ")";
  if (failures > 0) return ::testing::AssertionFailure() << report.str();
  return ::testing::AssertionSuccess() << report.str();
}

struct ConvCase {
  const char* name;
  ConvShape shape;
};

std::string shape_text(const ConvShape& s) {
  std::ostringstream text;
  text << "N=" << s.n << " C=" << s.c << " H=" << s.h << " W=" << s.w << " K=" << s.k
       << " R=" << s.r;
  return text.str();
}

void PrintTo(const ConvCase& c, std::ostream* os) {
  *os << c.name << " (" << shape_text(c.shape) << ")";
}

// The fp32-accurate ones (FFMA, 3×TF32, cuDNN fp32) are held to kFp32, the TF32 ones to kTf32Hand
// and kTf32Cudnn: a 3×TF32 kernel that lost its correction terms fails kFp32.
enum class Backend { hand, hand_3xtf32, hand_tf32, cudnn_fp32, cudnn_tf32, hand_fastest };

// All five, or only the hand-written kernels when AULENS_CONV_TEST_BACKENDS=hand (used under
// compute-sanitizer, where cuDNN's algorithm search would take minutes) or in the emulated build.
std::vector<Backend> backends() {
  const char* only = std::getenv("AULENS_CONV_TEST_BACKENDS");
  if (!testing::kCudnnBuilt || (only != nullptr && std::string(only) == "hand"))
    return {Backend::hand, Backend::hand_3xtf32, Backend::hand_tf32, Backend::hand_fastest};
  return {Backend::hand,       Backend::hand_3xtf32, Backend::hand_tf32,
          Backend::cudnn_fp32, Backend::cudnn_tf32,  Backend::hand_fastest};
}

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::hand:
      return "hand-written FFMA";
    case Backend::hand_3xtf32:
      return "hand-written 3xTF32";
    case Backend::hand_tf32:
      return "hand-written TF32";
    case Backend::cudnn_fp32:
      return "cuDNN fp32";
    case Backend::cudnn_tf32:
      return "cuDNN TF32";
    case Backend::hand_fastest:
      return "hand-written fastest (FFMA or 3xTF32, tuned on the first call)";
  }
  return "?";
}
bool is_hand(Backend b) {
  return b == Backend::hand || b == Backend::hand_3xtf32 || b == Backend::hand_tf32 ||
         b == Backend::hand_fastest;
}
// For a cuDNN backend's failure message: the algorithms its plans chose.
std::string cudnn_algorithms(Backend b) {
  return is_hand(b) ? std::string() : "\ncuDNN algorithms:\n" + CudnnConv::algorithms();
}
Tolerance backend_tolerance(Backend b) {
  if (b == Backend::hand_tf32) return kTf32Hand;
  return b == Backend::cudnn_tf32 ? kTf32Cudnn : kFp32;
}

// The math modes must be real: where the tensor-core GEMM runs, the TF32 result is farther from the
// CPU twin than the 3×TF32 one by a wide margin (TF32 rounds each operand to 11 bits, 3×TF32 keeps
// about 22). Fails when a mode is ignored (both would equal FFMA) or 3×TF32 lost its corrections.
class ModeErrors {
 public:
  void add(Backend b, const std::vector<float>& got, const std::vector<float>& want) {
    double worst = 0.0;
    for (std::size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - want[i]));
    worst_[static_cast<int>(b)] = worst;
  }
  void check(bool tensor_gemm_runs) const {
    const double tf32 = worst_[static_cast<int>(Backend::hand_tf32)];
    const double tf32x3 = worst_[static_cast<int>(Backend::hand_3xtf32)];
    if (!tensor_gemm_runs || tf32 < 0 || tf32x3 < 0) return;
    EXPECT_GT(tf32, 4.0 * tf32x3) << "max |error|: TF32 " << tf32 << ", 3xTF32 " << tf32x3
                                  << " (a math mode ignored, or 3xTF32 without its corrections)";
  }

 private:
  double worst_[6] = {-1, -1, -1, -1, -1, -1};
};

// Whether cuda/conv2d.cu runs its GEMM (in the conv math mode) for `rows` output channels from
// `taps` filter taps each, rather than the FFMA direct kernel it takes below 16 rows when their
// filters (4 rows' worth, kDirectOut) fit in 48 KiB of shared memory (kDirectMaxSmem).
bool gemm_runs(int rows, int taps) {
  return rows >= 16 || sizeof(float) * 4 * static_cast<std::size_t>(taps) > 48 * 1024;
}

// Sets the math mode `b` needs for the scope, and back to the defaults (FFMA, cuDNN fp32) after.
class BackendMath {
 public:
  explicit BackendMath(Backend b) {
    set_conv_math(b == Backend::hand_3xtf32    ? ConvMath::tf32x3
                  : b == Backend::hand_tf32    ? ConvMath::tf32
                  : b == Backend::hand_fastest ? ConvMath::fastest
                                               : ConvMath::ffma);
    set_cudnn_math(b == Backend::cudnn_tf32);
  }
  ~BackendMath() {
    set_conv_math(ConvMath::ffma);
    set_cudnn_math(false);
  }
  BackendMath(const BackendMath&) = delete;
  BackendMath& operator=(const BackendMath&) = delete;
};

void gpu_forward(Backend b, const ConvShape& s, const float* x, const float* w, const float* bias,
                 float* y) {
  const BackendMath math(b);
  if (is_hand(b)) return CudaOps::conv2d_forward(s, x, w, bias, y);
  CudnnConv::forward(s, x, w, bias, y);
}
void gpu_backward_data(Backend b, const ConvShape& s, const float* dy, const float* w, float* dx) {
  const BackendMath math(b);
  if (is_hand(b)) return CudaOps::conv2d_backward_data(s, dy, w, dx);
  CudnnConv::backward_data(s, dy, w, dx);
}
void gpu_backward_filter(Backend b, const ConvShape& s, const float* x, const float* dy, float* dw,
                         float* db) {
  const BackendMath math(b);
  if (is_hand(b)) return CudaOps::conv2d_backward_filter(s, x, dy, dw, db);
  CudnnConv::backward_filter(s, x, dy, dw, db);
}

class ConvGpu : public ::testing::TestWithParam<ConvCase> {
 protected:
  void SetUp() override {
    AULENS_SKIP_WITHOUT_GPU();
    const ConvShape& s = GetParam().shape;
    seed_ = testing::fresh_seed();
    std::mt19937 rng(seed_);
    x_ = random_values(count(s.n, s.c), rng);
    w_ = random_values(static_cast<std::size_t>(s.k) * s.c * s.r * s.r, rng);
    b_ = random_values(s.k, rng);
    dy_ = random_values(count(s.n, s.k), rng);
  }
  std::size_t count(int n, int channels) const {
    const ConvShape& s = GetParam().shape;
    return static_cast<std::size_t>(n) * channels * s.h * s.w;
  }
  std::string trace() const {
    return shape_text(GetParam().shape) + ", seed " + std::to_string(seed_);
  }
  bool small() const {  // cheap enough to also run the optional-argument variants
    const ConvShape& s = GetParam().shape;
    return static_cast<double>(s.n) * s.c * s.k * s.h * s.w * s.r * s.r < 1e7;
  }

  unsigned seed_ = 0;
  std::vector<float> x_, w_, b_, dy_;
};

TEST_P(ConvGpu, Forward) {
  const ConvShape& s = GetParam().shape;
  SCOPED_TRACE(trace());
  const std::vector<int> dims{s.n, s.k, s.h, s.w};
  for (bool with_bias : {true, false}) {
    if (!with_bias && !small()) continue;
    std::vector<float> want(count(s.n, s.k));
    CpuOps::conv2d_forward(s, x_.data(), w_.data(), with_bias ? b_.data() : nullptr, want.data());
    DeviceFloats x(x_), w(w_), b(b_), y(want.size());
    ModeErrors errors;
    for (Backend backend : backends()) {
      SCOPED_TRACE(std::string(backend_name(backend)) + (with_bias ? ", bias" : ", no bias"));
      y.poison();
      for (int call = 1; call <= 2; ++call) {  // the second call writes over the first's output
        SCOPED_TRACE("call " + std::to_string(call));
        gpu_forward(backend, s, x.get(), w.get(), with_bias ? b.get() : nullptr, y.get());
        const std::vector<float> got = y.download();
        EXPECT_TRUE(all_close(got, want, dims, backend_tolerance(backend)))
            << cudnn_algorithms(backend);
        errors.add(backend, got, want);
      }
      EXPECT_TRUE(x.holds(x_) && w.holds(w_) && b.holds(b_)) << "forward modified its inputs";
    }
    errors.check(gemm_runs(s.k, s.c * s.r * s.r));
  }
}

TEST_P(ConvGpu, BackwardData) {
  const ConvShape& s = GetParam().shape;
  SCOPED_TRACE(trace());
  const std::vector<int> dims{s.n, s.c, s.h, s.w};
  std::vector<float> want(count(s.n, s.c));
  CpuOps::conv2d_backward_data(s, dy_.data(), w_.data(), want.data());
  DeviceFloats dy(dy_), w(w_), dx(want.size());
  ModeErrors errors;
  for (Backend backend : backends()) {
    SCOPED_TRACE(backend_name(backend));
    dx.poison();
    for (int call = 1; call <= 2; ++call) {  // the second call writes over the first's output
      SCOPED_TRACE("call " + std::to_string(call));
      gpu_backward_data(backend, s, dy.get(), w.get(), dx.get());
      const std::vector<float> got = dx.download();
      EXPECT_TRUE(all_close(got, want, dims, backend_tolerance(backend)))
          << cudnn_algorithms(backend);
      errors.add(backend, got, want);
    }
    EXPECT_TRUE(dy.holds(dy_) && w.holds(w_)) << "backward_data modified its inputs";
  }
  errors.check(gemm_runs(s.c, s.k * s.r * s.r));
}

// Backward-filter of every backend in `which` against the CPU twin: two calls into the same dw/db
// (poisoned before the first), each compared with the CPU result; each hand-written kernel is also
// run a third time (poisoned, without db) and must reproduce the first call's bits.
void check_backward_filter(const ConvShape& s, const std::vector<float>& x_values,
                           const std::vector<float>& dy_values, const std::vector<Backend>& which) {
  const std::vector<int> w_dims{s.k, s.c, s.r, s.r};
  const std::vector<int> b_dims{1, 1, 1, s.k};
  std::vector<float> want_dw(static_cast<std::size_t>(s.k) * s.c * s.r * s.r), want_db(s.k);
  CpuOps::conv2d_backward_filter(s, x_values.data(), dy_values.data(), want_dw.data(),
                                 want_db.data());
  DeviceFloats x(x_values), dy(dy_values), dw(want_dw.size()), db(want_db.size());
  ModeErrors errors;
  for (Backend backend : which) {
    SCOPED_TRACE(backend_name(backend));
    dw.poison();
    db.poison();
    std::vector<float> first;
    for (int call = 1; call <= 2; ++call) {  // the second call writes over the first's output
      SCOPED_TRACE("call " + std::to_string(call));
      gpu_backward_filter(backend, s, x.get(), dy.get(), dw.get(), db.get());
      std::vector<float> got = dw.download();
      EXPECT_TRUE(all_close(got, want_dw, w_dims, backend_tolerance(backend)))
          << "dw" << cudnn_algorithms(backend);
      EXPECT_TRUE(all_close(db.download(), want_db, b_dims, kFp32)) << "db";
      errors.add(backend, got, want_dw);
      if (call == 1) first = std::move(got);
    }
    EXPECT_TRUE(x.holds(x_values) && dy.holds(dy_values)) << "backward_filter modified its inputs";
    if (is_hand(backend)) {
      // Deterministic: another run (without db this time) gives the same bits.
      dw.poison();
      gpu_backward_filter(backend, s, x.get(), dy.get(), dw.get(), nullptr);
      const std::vector<float> again = dw.download();
      std::size_t differing = 0;
      for (std::size_t i = 0; i < first.size(); ++i)
        if (std::memcmp(&first[i], &again[i], sizeof(float)) != 0) ++differing;
      EXPECT_EQ(differing, 0u) << "hand-written backward_filter is not bitwise reproducible";
    }
  }
  errors.check(/*tensor_gemm_runs=*/true);
}

TEST_P(ConvGpu, BackwardFilter) {
  SCOPED_TRACE(trace());
  check_backward_filter(GetParam().shape, x_, dy_, backends());
}

// Odd sizes and every kernel path: the direct kernel (M < 16), both GEMM tile heights with
// ragged edges, the large-reduction fallback of the direct kernel, R = 1 and R = 3.
const ConvCase kSmallCases[] = {
    {"odd_n3c3k5_7x11", {3, 3, 7, 11, 5, 5}},
    {"c1_n2k4_9x6", {2, 1, 9, 6, 4, 5}},
    {"k1_n2c6_5x13", {2, 6, 5, 13, 1, 5}},
    {"one_pixel_n1c2k3_1x1", {1, 2, 1, 1, 3, 5}},
    {"r3_n1c2k3_4x4", {1, 2, 4, 4, 3, 3}},
    {"r1_n2c17k70_3x5", {2, 17, 3, 5, 70, 1}},
    {"ragged_n3c20k130_13x9", {3, 20, 13, 9, 130, 5}},
    {"c1_k130_n2_6x7", {2, 1, 6, 7, 130, 5}},
    {"k64_c40_n2_10x10", {2, 40, 10, 10, 64, 5}},
};
// The network's layers (DESIGN §1.1) with a small batch.
const ConvCase kNetworkCases[] = {
    {"conv1_n4", {4, 1, 96, 96, 64, 5}},
    {"conv2_n2", {2, 64, 48, 48, 128, 5}},
    {"conv3_n4", {4, 128, 24, 24, 256, 5}},
};

// conv2 and conv3 backward-filter at the training batch (DESIGN §1.1): P = N·H·W is large enough
// for the hand-written kernel to split the reduction into tens of splits of several images each
// (the benchmark's shapes; small batches only reach splits of 256 pixels). The fp32-accurate
// backends (hand-written FFMA and 3×TF32, cuDNN fp32, the benchmark's reference) are all checked
// against the CPU twin.
const ConvCase kBatch64Cases[] = {
    {"conv2_n64", {64, 64, 48, 48, 128, 5}},
    {"conv3_n64", {64, 128, 24, 24, 256, 5}},
};

class ConvGpuBatch64 : public ConvGpu {};

TEST_P(ConvGpuBatch64, BackwardFilter) {
  SCOPED_TRACE(trace());
  std::vector<Backend> which;
  for (Backend backend : backends())
    if (backend_tolerance(backend).rtol == kFp32.rtol) which.push_back(backend);
  check_backward_filter(GetParam().shape, x_, dy_, which);
}

std::string case_name(const ::testing::TestParamInfo<ConvCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Small, ConvGpu, ::testing::ValuesIn(kSmallCases), case_name);
INSTANTIATE_TEST_SUITE_P(Network, ConvGpu, ::testing::ValuesIn(kNetworkCases), case_name);
INSTANTIATE_TEST_SUITE_P(Network, ConvGpuBatch64, ::testing::ValuesIn(kBatch64Cases), case_name);

TEST(ConvGpuShapes, RejectsBadShapes) {
  AULENS_SKIP_WITHOUT_GPU();
  DeviceFloats buffer(64);
  ConvShape even{1, 1, 4, 4, 1, 4};
  EXPECT_THROW(CudaOps::conv2d_forward(even, buffer.get(), buffer.get(), nullptr, buffer.get()),
               Error);
  ConvShape no_channels{1, 0, 4, 4, 1, 3};
  EXPECT_THROW(CudaOps::conv2d_backward_data(no_channels, buffer.get(), buffer.get(), buffer.get()),
               Error);
  EXPECT_THROW(CudaOps::conv2d_forward(ConvShape{1, 1, 4, 4, 1, 3}, nullptr, buffer.get(), nullptr,
                                       buffer.get()),
               Error);
}

// The "fastest" mode keeps one choice per operation and shape and says what it measured. K = 128
// gives every GPU two tile heights to choose from (and tensor cores two maths).
TEST(ConvGpuShapes, FastestModeListsItsChoices) {
  AULENS_SKIP_WITHOUT_GPU();
  const ConvShape s{3, 8, 11, 13, 128, 5};
  std::mt19937 rng(1);  // defined inputs (compute-sanitizer's initcheck reads them)
  DeviceFloats x(random_values(3 * 8 * 11 * 13, rng)), w(random_values(128 * 8 * 25, rng)),
      y(3 * 128 * 11 * 13), dw(128 * 8 * 25);
  {
    const BackendMath math(Backend::hand_fastest);  // FFMA again at the end of the scope
    CudaOps::conv2d_forward(s, x.get(), w.get(), nullptr, y.get());
    CudaOps::conv2d_forward(s, x.get(), w.get(), nullptr, y.get());  // chosen already
    CudaOps::conv2d_backward_filter(s, x.get(), y.get(), dw.get(), nullptr);
  }
  const std::vector<std::string> lines = conv_tuning_choices();
  // One line per operation and shape, naming both tile shapes with their times.
  const auto check = [&](const std::string& prefix, const std::string& small,
                         const std::string& large) {
    SCOPED_TRACE(prefix);
    const auto found = std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      if (l.rfind(prefix, 0) != 0) return false;
      EXPECT_NE(l.find(small + " "), std::string::npos) << l;
      EXPECT_NE(l.find(large + " "), std::string::npos) << l;
      EXPECT_NE(l.find(" ms"), std::string::npos) << l;
      return true;
    });
    EXPECT_EQ(found, 1);
  };
  check("conv forward N=3 C=8 11×13 K=128 R=5: ", "64×128", "128×128");
  check("conv backward-filter N=3 C=8 11×13 K=128 R=5: ", "64×64", "128×128");
}

// The fastest mode runs whichever candidate wins on this GPU; the others must be right too (the
// next GPU may pick them). Each is forced in turn, at a shape where the GEMM tiles run.
TEST(ConvGpuShapes, EveryFastestCandidateEqualsCpu) {
  AULENS_SKIP_WITHOUT_GPU();
  const ConvShape s{4, 32, 12, 12, 128, 5};
  const unsigned seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const auto x_values = random_values(static_cast<std::size_t>(s.n) * s.c * s.h * s.w, rng);
  const auto w_values = random_values(static_cast<std::size_t>(s.k) * s.c * s.r * s.r, rng);
  const auto b_values = random_values(s.k, rng);
  const auto dy_values = random_values(static_cast<std::size_t>(s.n) * s.k * s.h * s.w, rng);
  std::vector<float> want_y(dy_values.size()), want_dx(x_values.size()), want_dw(w_values.size()),
      want_db(s.k);
  CpuOps::conv2d_forward(s, x_values.data(), w_values.data(), b_values.data(), want_y.data());
  CpuOps::conv2d_backward_data(s, dy_values.data(), w_values.data(), want_dx.data());
  CpuOps::conv2d_backward_filter(s, x_values.data(), dy_values.data(), want_dw.data(),
                                 want_db.data());
  DeviceFloats x(x_values), w(w_values), b(b_values), dy(dy_values), y(want_y.size()),
      dx(want_dx.size()), dw(want_dw.size()), db(s.k);
  const BackendMath math(Backend::hand_fastest);
  struct Unforce {
    ~Unforce() { force_conv_candidate(-1); }
  } unforce;
  const auto tuned_here = [] {  // the tuner's lines for this test's shape
    const auto lines = conv_tuning_choices();
    return std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
      return l.find("N=4 C=32 12×12 K=128 R=5") != std::string::npos ||
             l.find("N=4 C=128 12×12 K=32 R=5") != std::string::npos;
    });
  };
  ASSERT_EQ(tuned_here(), 0) << "another test tuned this shape: forcing could not be told apart";
  constexpr int kMostCandidates = 8;  // more than any operation has (indices wrap around)
  for (int candidate = 0; candidate < kMostCandidates; ++candidate) {
    SCOPED_TRACE("candidate " + std::to_string(candidate));
    force_conv_candidate(candidate);
    y.poison();
    dx.poison();
    dw.poison();
    db.poison();
    CudaOps::conv2d_forward(s, x.get(), w.get(), b.get(), y.get());
    CudaOps::conv2d_backward_data(s, dy.get(), w.get(), dx.get());
    CudaOps::conv2d_backward_filter(s, x.get(), dy.get(), dw.get(), db.get());
    EXPECT_TRUE(all_close(y.download(), want_y, {s.n, s.k, s.h, s.w}, kFp32)) << "forward";
    EXPECT_TRUE(all_close(dx.download(), want_dx, {s.n, s.c, s.h, s.w}, kFp32)) << "data";
    EXPECT_TRUE(all_close(dw.download(), want_dw, {s.k, s.c, s.r, s.r}, kFp32)) << "filter";
    EXPECT_TRUE(all_close(db.download(), want_db, {1, 1, 1, s.k}, kFp32)) << "bias";
  }
  EXPECT_EQ(tuned_here(), 0) << "a forced launch went through the tuner";
  force_conv_candidate(-1);
  CudaOps::conv2d_forward(s, x.get(), w.get(), b.get(), y.get());
  EXPECT_EQ(tuned_here(), 1) << "unforced, the tuner chooses (and lists) again";
}

TEST(ConvGpuShapes, EmptyBatchZeroesFilterGradients) {
  AULENS_SKIP_WITHOUT_GPU();
  const ConvShape s{0, 2, 5, 5, 3, 3};
  DeviceFloats x(1), dy(1), dw(2 * 3 * 3 * 3), db(3);
  dw.poison();
  db.poison();
  CudaOps::conv2d_backward_filter(s, x.get(), dy.get(), dw.get(), db.get());
  for (float v : dw.download()) ASSERT_EQ(v, 0.0f);
  for (float v : db.download()) ASSERT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace aulens
