// The non-convolution CUDA kernels (CudaOps, cuda/{relu,maxpool,linear,softmax_xent,dropout,sgd,
// augment}.cu) against their CPU twins (CpuOps, src/cpu/), at the network's shapes with a small
// batch and at odd sizes. Inputs are fresh random values (the seed is printed on failure); GPU
// outputs are poisoned with NaN (0xFF bytes) before every call, so an element a kernel never
// writes fails. Pass criterion per element: |gpu − cpu| ≤ atol + rtol·|cpu| (NaN only matches
// NaN); the worst element and its flat index are reported.
// Tolerances: selections and copies (relu, maxpool values, unpool, dropout) are exact; switches
// and dropout masks must be identical; sgd 1e-7 + 1e-6·|w|; linear (fp32 cuBLAS vs OpenBLAS)
// 1e-4 + 1e-4·|b|, TF32 5e-3 + 1e-2·|b|; softmax cross-entropy (double on both) 1e-6 + 1e-6·|b|;
// augmentation 2e-4 + 1e-4·|b| on standardized values (same coordinate arithmetic on both twins;
// what remains is cos/sin and summation-order rounding, a ≲1e-5-pixel shift of a sample point).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aulens/augment.h"
#include "aulens/cuda_math.h"
#include "aulens/device.h"
#include "aulens/ops.h"
#include "fresh_seed.h"
#include "gpu_skip.h"

namespace aulens {
namespace {

// A typed buffer on the GPU (RAII over aulens::device).
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count)
      : count_(count), ptr_(static_cast<T*>(device::malloc(count > 0 ? bytes() : 16))) {}
  explicit DeviceBuffer(const std::vector<T>& values) : DeviceBuffer(values.size()) {
    upload(values);
  }
  ~DeviceBuffer() { device::free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() { return ptr_; }
  std::size_t bytes() const { return count_ * sizeof(T); }
  void upload(const std::vector<T>& values) {
    if (!values.empty()) device::copy_to_device(ptr_, values.data(), values.size() * sizeof(T));
  }
  // Every byte 0xFF: floats read as NaN, int32 as −1, uint8 as 255.
  void poison() {
    const std::vector<unsigned char> bytes_ff(bytes(), 0xFF);
    if (!bytes_ff.empty()) device::copy_to_device(ptr_, bytes_ff.data(), bytes_ff.size());
  }
  std::vector<T> download() const {
    device::synchronize();
    std::vector<T> values(count_);
    if (count_ > 0) device::copy_to_host(values.data(), ptr_, bytes());
    return values;
  }

 private:
  std::size_t count_;
  T* ptr_;
};

using testing::fresh_seed;

std::vector<float> uniform_values(std::size_t count, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> values(count);
  for (float& v : values) v = dist(rng);
  return values;
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  std::size_t failures = 0, worst = 0;
  double worst_excess = -1.0;
  bool worst_nan = false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) && std::isnan(b)) continue;
      if (!worst_nan) worst = i;
      worst_nan = true;
      ++failures;
      continue;
    }
    const double excess = std::fabs(a - b) - (atol + rtol * std::fabs(b));
    if (excess > 0) ++failures;
    if (!worst_nan && excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << got.size() << " elements differ; worst at flat index " << worst
         << ": gpu " << got[worst] << " vs cpu " << want[worst] << " (|diff| "
         << std::fabs(static_cast<double>(got[worst]) - want[worst]) << ", allowed "
         << atol + rtol * std::fabs(static_cast<double>(want[worst])) << ")";
}

template <class T>
::testing::AssertionResult all_equal(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  std::size_t failures = 0, first = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i] && failures++ == 0) first = i;
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << got.size() << " elements differ; first at flat index " << first
         << ": gpu " << +got[first] << " vs cpu " << +want[first];
}

class OpsGpu : public ::testing::Test {
 protected:
  void SetUp() override { AULENS_SKIP_WITHOUT_GPU(); }
};

// ---- relu ----

TEST_F(OpsGpu, ReluForwardBackwardMatchCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  // conv1's output at batch 2 on a GPU; emulated (tests/gpu/gpu_skip.h), a sixteenth of it.
  const std::int64_t largest = testing::kEmulated ? 2LL * 4 * 96 * 96 : 2LL * 64 * 96 * 96;
  for (std::int64_t count : {std::int64_t{1}, std::int64_t{3}, std::int64_t{4}, std::int64_t{1001},
                             std::int64_t{64 * 1024 + 3}, largest}) {
    SCOPED_TRACE("count " + std::to_string(count));
    std::vector<float> x = uniform_values(count, -1.0f, 1.0f, rng);
    x[0] = 0.0f;
    if (count > 2) x[1] = -0.0f;
    std::vector<float> dy = uniform_values(count, -1.0f, 1.0f, rng);
    std::vector<float> y_cpu(count), dx_cpu(count);
    CpuOps::relu_forward(count, x.data(), y_cpu.data());
    CpuOps::relu_backward(count, y_cpu.data(), dy.data(), dx_cpu.data());

    DeviceBuffer<float> x_gpu(x), y_gpu(count), dy_gpu(dy), dx_gpu(count);
    y_gpu.poison();
    CudaOps::relu_forward(count, x_gpu.get(), y_gpu.get());
    EXPECT_TRUE(all_close(y_gpu.download(), y_cpu, 0.0, 0.0)) << "forward";
    dx_gpu.poison();
    CudaOps::relu_backward(count, y_gpu.get(), dy_gpu.get(), dx_gpu.get());
    EXPECT_TRUE(all_close(dx_gpu.download(), dx_cpu, 0.0, 0.0)) << "backward";

    // In place (x == y, dy == dx).
    CudaOps::relu_forward(count, x_gpu.get(), x_gpu.get());
    EXPECT_TRUE(all_close(x_gpu.download(), y_cpu, 0.0, 0.0)) << "forward in place";
    CudaOps::relu_backward(count, y_gpu.get(), dy_gpu.get(), dy_gpu.get());
    EXPECT_TRUE(all_close(dy_gpu.download(), dx_cpu, 0.0, 0.0)) << "backward in place";

    // Misaligned pointers (4 bytes past a 16-byte boundary): the scalar path.
    if (count > 1) {
      x_gpu.upload(x);
      y_gpu.poison();
      CudaOps::relu_forward(count - 1, x_gpu.get() + 1, y_gpu.get() + 1);
      std::vector<float> got = y_gpu.download();
      got.erase(got.begin());
      EXPECT_TRUE(all_close(got, std::vector<float>(y_cpu.begin() + 1, y_cpu.end()), 0.0, 0.0))
          << "forward, misaligned";
    }
  }
}

// ---- max pool and unpool ----

struct PoolCase {
  PoolShape shape;
  const char* what;
};

// Draws x for a pooling test: kind 0 continuous, 1 quantized to 5 levels (many ties),
// 2 continuous with ~5% NaN (some windows with two NaNs).
std::vector<float> pool_input(std::int64_t count, int kind, std::mt19937& rng) {
  std::vector<float> x = uniform_values(count, -1.0f, 1.0f, rng);
  if (kind == 1) {
    for (float& v : x) v = std::round(v * 2.0f) / 2.0f;
  } else if (kind == 2) {
    std::bernoulli_distribution nan_draw(0.05);
    for (float& v : x) {
      if (nan_draw(rng)) v = std::numeric_limits<float>::quiet_NaN();
    }
  }
  return x;
}

TEST_F(OpsGpu, MaxPoolForwardAndUnpoolMatchCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  // The network's pools at batch 2; emulated, at batch 1 with an eighth of the channels.
  const int n = testing::kEmulated ? 1 : 2, c = testing::kEmulated ? 8 : 1;
  const PoolCase cases[] = {{{n, 64 / c, 96, 96}, "pool1"},
                            {{n, 128 / c, 48, 48}, "pool2"},
                            {{n, 256 / c, 24, 24}, "pool3"},
                            {{3, 5, 7, 9}, "odd H and W"},
                            {{2, 3, 13, 6}, "odd H"},
                            {{1, 2, 6, 11}, "odd W"},
                            {{1, 2, 1, 5}, "H=1: no window, unpool writes zeros"}};
  for (const PoolCase& c : cases) {
    for (int kind = 0; kind < 3; ++kind) {
      SCOPED_TRACE(std::string(c.what) + ", input kind " + std::to_string(kind) +
                   " (0 random, 1 ties, 2 NaNs)");
      const PoolShape& s = c.shape;
      const std::int64_t in_count = static_cast<std::int64_t>(s.n) * s.c * s.h * s.w;
      const std::int64_t out_count = static_cast<std::int64_t>(s.n) * s.c * s.out_h() * s.out_w();
      const std::vector<float> x = pool_input(in_count, kind, rng);
      std::vector<float> y_cpu(out_count);
      std::vector<std::int32_t> switches_cpu(out_count);
      CpuOps::maxpool2x2_forward(s, x.data(), y_cpu.data(), switches_cpu.data());

      DeviceBuffer<float> x_gpu(x), y_gpu(out_count);
      DeviceBuffer<std::int32_t> switches_gpu(out_count);
      y_gpu.poison();
      switches_gpu.poison();
      CudaOps::maxpool2x2_forward(s, x_gpu.get(), y_gpu.get(), switches_gpu.get());
      EXPECT_TRUE(all_close(y_gpu.download(), y_cpu, 0.0, 0.0)) << "pooled values";
      EXPECT_TRUE(all_equal(switches_gpu.download(), switches_cpu)) << "switches";

      // Unpool through the CPU's switches (the GPU's are identical when the check above passed).
      const std::vector<float> dy = uniform_values(out_count, -1.0f, 1.0f, rng);
      std::vector<float> dx_cpu(in_count);
      CpuOps::max_unpool2x2(s, dy.data(), switches_cpu.data(), dx_cpu.data());
      DeviceBuffer<float> dy_gpu(dy), dx_gpu(in_count);
      switches_gpu.upload(switches_cpu);
      dx_gpu.poison();
      CudaOps::max_unpool2x2(s, dy_gpu.get(), switches_gpu.get(), dx_gpu.get());
      EXPECT_TRUE(all_close(dx_gpu.download(), dx_cpu, 0.0, 0.0)) << "unpool";
    }
  }
}

TEST_F(OpsGpu, MaxPoolPlantedTiesAndNaN) {
  // One 2×4 plane → two windows. Window 0: all equal → the first (index 0). Window 1:
  // NaN at (0,3) and (1,2) → the last NaN in row-major order, index 1·4 + 2 = 6.
  const PoolShape s{1, 1, 2, 4};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.5f, 0.5f, 1.0f, nan, 0.5f, 0.5f, nan, 2.0f};
  DeviceBuffer<float> x_gpu(x), y_gpu(2);
  DeviceBuffer<std::int32_t> switches_gpu(2);
  y_gpu.poison();
  switches_gpu.poison();
  CudaOps::maxpool2x2_forward(s, x_gpu.get(), y_gpu.get(), switches_gpu.get());
  const std::vector<float> y = y_gpu.download();
  const std::vector<std::int32_t> switches = switches_gpu.download();
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(switches[0], 0);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(switches[1], 6);
}

// ---- fully connected ----

struct LinearCase {
  LinearShape shape;
  bool bias;
};

void check_linear(const LinearShape& s, bool bias, double atol, double rtol, std::mt19937& rng) {
  SCOPED_TRACE("(N,I,O) = (" + std::to_string(s.n) + "," + std::to_string(s.in) + "," +
               std::to_string(s.out) + ")" + (bias ? " with bias" : " without bias"));
  const std::size_t nx = static_cast<std::size_t>(s.n) * s.in;
  const std::size_t nw = static_cast<std::size_t>(s.out) * s.in;
  const std::size_t ny = static_cast<std::size_t>(s.n) * s.out;
  const float w_scale = 1.0f / std::sqrt(static_cast<float>(s.in));
  const std::vector<float> x = uniform_values(nx, -1.0f, 1.0f, rng);
  const std::vector<float> w = uniform_values(nw, -w_scale, w_scale, rng);
  const std::vector<float> b = uniform_values(s.out, -1.0f, 1.0f, rng);
  const std::vector<float> dy = uniform_values(ny, -1.0f, 1.0f, rng);

  std::vector<float> y_cpu(ny), dx_cpu(nx), dw_cpu(nw), db_cpu(s.out);
  CpuOps::linear_forward(s, x.data(), w.data(), bias ? b.data() : nullptr, y_cpu.data());
  CpuOps::linear_backward_data(s, dy.data(), w.data(), dx_cpu.data());
  CpuOps::linear_backward_weight(s, x.data(), dy.data(), dw_cpu.data(),
                                 bias ? db_cpu.data() : nullptr);

  DeviceBuffer<float> x_gpu(x), w_gpu(w), b_gpu(b), dy_gpu(dy);
  DeviceBuffer<float> y_gpu(ny), dx_gpu(nx), dw_gpu(nw), db_gpu(s.out);
  y_gpu.poison();
  dx_gpu.poison();
  dw_gpu.poison();
  db_gpu.poison();
  CudaOps::linear_forward(s, x_gpu.get(), w_gpu.get(), bias ? b_gpu.get() : nullptr, y_gpu.get());
  CudaOps::linear_backward_data(s, dy_gpu.get(), w_gpu.get(), dx_gpu.get());
  CudaOps::linear_backward_weight(s, x_gpu.get(), dy_gpu.get(), dw_gpu.get(),
                                  bias ? db_gpu.get() : nullptr);
  EXPECT_TRUE(all_close(y_gpu.download(), y_cpu, atol, rtol)) << "forward y";
  EXPECT_TRUE(all_close(dx_gpu.download(), dx_cpu, atol, rtol)) << "backward dx";
  EXPECT_TRUE(all_close(dw_gpu.download(), dw_cpu, atol, rtol)) << "backward dw";
  if (bias) {
    EXPECT_TRUE(all_close(db_gpu.download(), db_cpu, 1e-5, 1e-6)) << "backward db";
  } else {
    const std::vector<float> untouched = db_gpu.download();
    EXPECT_TRUE(std::isnan(untouched[0])) << "db was written although nullptr was passed";
  }
}

TEST_F(OpsGpu, LinearMatchesCpuInFp32) {
  ASSERT_FALSE(cublas_tf32()) << "TF32 must be off by default";
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const LinearCase cases[] = {{{4, 36864, 1024}, true}, {{64, 1024, 7}, true},
                              {{64, 1024, 8}, false},   {{5, 33, 17}, true},
                              {{1, 1, 1}, true},        {{300, 70, 3}, true}};
  for (const LinearCase& c : cases) check_linear(c.shape, c.bias, 1e-4, 1e-4, rng);
}

TEST_F(OpsGpu, LinearTf32WhenAsked) {
  struct RestoreFp32 {
    ~RestoreFp32() { set_cublas_tf32(false); }
  } restore;
  set_cublas_tf32(true);
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  check_linear({64, 1024, 256}, true, 5e-3, 1e-2, rng);
}

// ---- softmax cross-entropy ----

TEST_F(OpsGpu, SoftmaxCrossEntropyMatchesCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int shapes[][2] = {{1, 7}, {64, 7}, {64, 8}, {513, 33}, {3, 1000}, {2000, 8}};
  for (const auto& shape : shapes) {
    const int n = shape[0], classes = shape[1];
    SCOPED_TRACE("N=" + std::to_string(n) + " classes=" + std::to_string(classes));
    // Large common offset: a naive exp would overflow; the stable form must not care.
    std::vector<float> logits =
        uniform_values(static_cast<std::size_t>(n) * classes, -6.0f, 6.0f, rng);
    for (float& v : logits) v += 80.0f;
    std::uniform_int_distribution<int> label_draw(0, classes - 1);
    std::vector<std::int32_t> labels(n);
    for (auto& l : labels) l = label_draw(rng);

    float loss_cpu = 0.0f;
    std::vector<float> dlogits_cpu(logits.size());
    CpuOps::softmax_cross_entropy(n, classes, logits.data(), labels.data(), &loss_cpu,
                                  dlogits_cpu.data());
    DeviceBuffer<float> logits_gpu(logits), loss_gpu(1), dlogits_gpu(logits.size());
    DeviceBuffer<std::int32_t> labels_gpu(labels);
    loss_gpu.poison();
    dlogits_gpu.poison();
    CudaOps::softmax_cross_entropy(n, classes, logits_gpu.get(), labels_gpu.get(), loss_gpu.get(),
                                   dlogits_gpu.get());
    EXPECT_TRUE(all_close(loss_gpu.download(), {loss_cpu}, 1e-6, 1e-6)) << "loss";
    EXPECT_TRUE(all_close(dlogits_gpu.download(), dlogits_cpu, 1e-6, 1e-6)) << "dlogits";

    // Loss only; the same value twice (deterministic reduction).
    loss_gpu.poison();
    CudaOps::softmax_cross_entropy(n, classes, logits_gpu.get(), labels_gpu.get(), loss_gpu.get(),
                                   nullptr);
    const float first = loss_gpu.download()[0];
    loss_gpu.poison();  // the second call must write the loss again
    CudaOps::softmax_cross_entropy(n, classes, logits_gpu.get(), labels_gpu.get(), loss_gpu.get(),
                                   nullptr);
    const float second = loss_gpu.download()[0];
    EXPECT_TRUE(all_close({first}, {loss_cpu}, 1e-6, 1e-6)) << "loss without dlogits";
    EXPECT_EQ(std::memcmp(&first, &second, sizeof(float)), 0) << "loss not reproducible";
  }
}

TEST_F(OpsGpu, SoftmaxCrossEntropyBadLabelGivesNaN) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.5f, 0.5f, 0.5f};
  const std::vector<std::int32_t> labels = {1, 3};  // 3 is outside [0, 3)
  DeviceBuffer<float> logits_gpu(logits), loss_gpu(std::vector<float>{0.0f});  // not NaN before
  DeviceBuffer<std::int32_t> labels_gpu(labels);
  CudaOps::softmax_cross_entropy(2, 3, logits_gpu.get(), labels_gpu.get(), loss_gpu.get(), nullptr);
  EXPECT_TRUE(std::isnan(loss_gpu.download()[0]));
}

// ---- dropout ----

TEST_F(OpsGpu, DropoutSameMaskAndValuesAsCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint64_t> u64;
  const std::int64_t largest = testing::kEmulated ? 100003LL : 1000003LL;
  for (std::int64_t count :
       {std::int64_t{1}, std::int64_t{7}, std::int64_t{1000}, std::int64_t{64 * 1024}, largest}) {
    for (float p : {0.0f, 0.1f, 0.5f, 1.0f}) {
      SCOPED_TRACE("count " + std::to_string(count) + " p " + std::to_string(p));
      const std::uint64_t drop_seed = u64(rng), offset = u64(rng) >> 8;
      const std::vector<float> x = uniform_values(count, -1.0f, 1.0f, rng);
      const std::vector<float> dy = uniform_values(count, -1.0f, 1.0f, rng);
      std::vector<float> y_cpu(count), dx_cpu(count);
      std::vector<std::uint8_t> mask_cpu(count);
      CpuOps::dropout_forward(count, p, drop_seed, offset, x.data(), y_cpu.data(), mask_cpu.data());
      CpuOps::dropout_backward(count, p, mask_cpu.data(), dy.data(), dx_cpu.data());

      DeviceBuffer<float> x_gpu(x), y_gpu(count), dy_gpu(dy), dx_gpu(count);
      DeviceBuffer<std::uint8_t> mask_gpu(count);
      y_gpu.poison();
      mask_gpu.poison();
      dx_gpu.poison();
      CudaOps::dropout_forward(count, p, drop_seed, offset, x_gpu.get(), y_gpu.get(),
                               mask_gpu.get());
      EXPECT_TRUE(all_equal(mask_gpu.download(), mask_cpu)) << "mask";
      EXPECT_TRUE(all_close(y_gpu.download(), y_cpu, 0.0, 0.0)) << "forward";
      mask_gpu.upload(mask_cpu);
      CudaOps::dropout_backward(count, p, mask_gpu.get(), dy_gpu.get(), dx_gpu.get());
      EXPECT_TRUE(all_close(dx_gpu.download(), dx_cpu, 0.0, 0.0)) << "backward";
    }
  }
}

// ---- SGD ----

TEST_F(OpsGpu, SgdMatchesCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::int64_t largest = testing::kEmulated ? 100003LL : 1000003LL;
  for (std::int64_t count : {std::int64_t{1}, std::int64_t{1000}, largest}) {
    SCOPED_TRACE("count " + std::to_string(count));
    const SgdConfig cfg{0.01f, 0.9f, 1e-4f};
    std::vector<float> w = uniform_values(count, -1.0f, 1.0f, rng);
    std::vector<float> v = uniform_values(count, -0.1f, 0.1f, rng);
    const std::vector<float> g = uniform_values(count, -1.0f, 1.0f, rng);
    DeviceBuffer<float> w_gpu(w), v_gpu(v), g_gpu(g);
    for (int step = 0; step < 3; ++step) {
      CpuOps::sgd_update(count, cfg, w.data(), g.data(), v.data());
      CudaOps::sgd_update(count, cfg, w_gpu.get(), g_gpu.get(), v_gpu.get());
    }
    EXPECT_TRUE(all_close(w_gpu.download(), w, 1e-7, 1e-6)) << "weights after 3 steps";
    EXPECT_TRUE(all_close(v_gpu.download(), v, 1e-7, 1e-6)) << "velocity after 3 steps";
  }
}

// ---- augmentation ----

// M crops of S×S: noise, smooth gradients, a bright dot, and a constant image (std guard).
std::vector<std::uint8_t> make_crops(int m, int s, std::mt19937& rng) {
  std::vector<std::uint8_t> crops(static_cast<std::size_t>(m) * s * s);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int k = 0; k < m; ++k) {
    std::uint8_t* image = crops.data() + static_cast<std::size_t>(k) * s * s;
    for (int y = 0; y < s; ++y) {
      for (int x = 0; x < s; ++x) {
        int value = 0;
        switch (k % 4) {
          case 0:
            value = byte(rng);
            break;
          case 1:
            value = (x * 255) / (s - 1) / 2 + (y * 255) / (s - 1) / 2;
            break;
          case 2:
            value = (y == s / 3 && x == 2 * s / 3) ? 255 : 20;
            break;
          default:
            value = 117;
            break;
        }
        image[y * s + x] = static_cast<std::uint8_t>(value);
      }
    }
  }
  return crops;
}

TEST_F(OpsGpu, AugmentMatchesCpu) {
  const std::uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  struct AugmentCase {
    int n, s, o;
    float max_deg;
  };
  const AugmentCase cases[] = {
      {64, 99, 96, 15.0f}, {7, 99, 96, 180.0f}, {13, 37, 32, 30.0f}, {5, 20, 20, 15.0f}};
  for (const AugmentCase& c : cases) {
    SCOPED_TRACE("N=" + std::to_string(c.n) + " S=" + std::to_string(c.s) +
                 " O=" + std::to_string(c.o) + " max angle " + std::to_string(c.max_deg));
    const int m = 12;
    const std::vector<std::uint8_t> crops = make_crops(m, c.s, rng);
    std::uniform_int_distribution<int> pick(0, m - 1);
    std::vector<std::int32_t> indices(c.n);
    std::vector<AugmentParams> params(c.n);
    const std::uint64_t draw_seed = rng();
    for (int k = 0; k < c.n; ++k) {
      indices[k] = pick(rng);
      params[k] = augment_draw(draw_seed, 3, indices[k] + 100 * k, c.max_deg, true, c.s, c.o);
    }
    params[0] = augment_centre(c.s, c.o);
    const std::size_t out_count = static_cast<std::size_t>(c.n) * c.o * c.o;
    std::vector<float> out_cpu(out_count);
    CpuOps::augment_batch(c.n, c.s, c.o, crops.data(), indices.data(), params.data(),
                          out_cpu.data());

    DeviceBuffer<std::uint8_t> crops_gpu(crops);
    DeviceBuffer<std::int32_t> indices_gpu(indices);
    DeviceBuffer<AugmentParams> params_gpu(params);
    DeviceBuffer<float> out_gpu(out_count);
    out_gpu.poison();
    CudaOps::augment_batch(c.n, c.s, c.o, crops_gpu.get(), indices_gpu.get(), params_gpu.get(),
                           out_gpu.get());
    EXPECT_TRUE(all_close(out_gpu.download(), out_cpu, 2e-4, 1e-4));
  }
}

}  // namespace
}  // namespace aulens
