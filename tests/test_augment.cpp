// The CPU augmentation reference (CpuOps::augment_batch, src/cpu/augment.cpp) against the rule in
// aulens/augment.h: identity parameters give exactly the standardized centre crop; a flip is a
// mirror; a ±90° rotation moves a bright pixel to where the inverse map says; every output has
// mean 0 and std 1 (a constant crop gives zeros through the max(std, 1/O) guard); and
// augment_draw is a deterministic function with the documented ranges and a fair flip coin.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "aulens/augment.h"
#include "aulens/check.h"
#include "aulens/ops.h"
#include "fresh_seed.h"

namespace aulens {
namespace {

constexpr int kCrop = 99;
constexpr int kOut = 96;

std::vector<std::uint8_t> random_crop(int s, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> crop(static_cast<std::size_t>(s) * s);
  for (auto& v : crop) v = static_cast<std::uint8_t>(byte(rng));
  return crop;
}

// One sample through the reference.
std::vector<float> augment_one(const std::vector<std::uint8_t>& crop, int s, int o,
                               const AugmentParams& p) {
  std::vector<float> out(static_cast<std::size_t>(o) * o, std::nanf(""));
  const std::int32_t index = 0;
  CpuOps::augment_batch(1, s, o, crop.data(), &index, &p, out.data());
  return out;
}

::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                     double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  std::size_t failures = 0, worst = 0;
  double worst_excess = -INFINITY;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double excess = std::isnan(diff) ? INFINITY : diff - (atol + rtol * std::fabs(want[i]));
    if (excess > 0) ++failures;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << failures << " of " << got.size() << " differ; worst at flat index " << worst << ": got "
         << got[worst] << " want " << want[worst];
}

TEST(Augment, IdentityEqualsStandardizedCentreCrop) {
  const std::uint32_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (auto [s, o] : {std::pair{kCrop, kOut}, std::pair{40, 32}, std::pair{17, 17}}) {
    SCOPED_TRACE("S=" + std::to_string(s) + " O=" + std::to_string(o));
    const std::vector<std::uint8_t> crop = random_crop(s, rng);
    const AugmentParams centre = augment_centre(s, o);
    // Expected: the O×O centre window /255, standardized with the population std (double).
    std::vector<float> window(static_cast<std::size_t>(o) * o);
    double sum = 0.0;
    for (int i = 0; i < o; ++i) {
      for (int j = 0; j < o; ++j) {
        const float v = crop[(centre.offset_y + i) * s + centre.offset_x + j] / 255.0f;
        window[i * o + j] = v;
        sum += v;
      }
    }
    const double mean = sum / (o * o);
    double squares = 0.0;
    for (float v : window) squares += (v - mean) * (v - mean);
    const double denom = std::max(std::sqrt(squares / (o * o)), 1.0 / o);
    std::vector<float> expected(window.size());
    for (std::size_t k = 0; k < window.size(); ++k) {
      expected[k] = static_cast<float>((window[k] - mean) / denom);
    }
    EXPECT_TRUE(all_close(augment_one(crop, s, o, centre), expected, 0.0, 0.0));
  }
}

TEST(Augment, FlipIsAMirrorOfTheMirroredWindow) {
  // Flipping happens after rotation, so for any angle: flip with offset_x equals the unflipped
  // output with offset S−O−offset_x, read right to left.
  const std::uint32_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const std::vector<std::uint8_t> crop = random_crop(kCrop, rng);
  for (float angle : {0.0f, 0.2f, -0.13f}) {
    for (int offset_x = 0; offset_x <= kCrop - kOut; ++offset_x) {
      SCOPED_TRACE("angle " + std::to_string(angle) + " offset_x " + std::to_string(offset_x));
      const AugmentParams flipped{angle, 1, 2, offset_x};
      const AugmentParams plain{angle, 0, 2, kCrop - kOut - offset_x};
      const std::vector<float> a = augment_one(crop, kCrop, kOut, flipped);
      const std::vector<float> b = augment_one(crop, kCrop, kOut, plain);
      std::vector<float> b_mirrored(b.size());
      for (int i = 0; i < kOut; ++i) {
        for (int j = 0; j < kOut; ++j) b_mirrored[i * kOut + j] = b[i * kOut + kOut - 1 - j];
      }
      EXPECT_TRUE(all_close(a, b_mirrored, 1e-6, 1e-6));
    }
  }
}

// Index of the largest value and its (row, col).
std::pair<int, int> argmax_position(const std::vector<float>& image, int o) {
  const auto it = std::max_element(image.begin(), image.end());
  const int at = static_cast<int>(it - image.begin());
  return {at / o, at % o};
}

TEST(Augment, QuarterTurnMovesABrightPixelWhereTheInverseMapSays) {
  // Bright pixel at crop row r, col q. With θ = +90° the inverse map reads
  // xs = v, ys = S−1−u, so it lands at (v, u) = (q, S−1−r) in the rotated crop: as displayed
  // (y down) the top of the image moves to the right. With θ = −90°: (v, u) = (S−1−q, r).
  const int r = 30, q = 70;
  std::vector<std::uint8_t> crop(kCrop * kCrop, 20);
  crop[r * kCrop + q] = 255;
  const AugmentParams centre = augment_centre(kCrop, kOut);  // offsets (1, 1)
  const float quarter = 1.57079632679f;

  AugmentParams plus = centre;
  plus.angle_rad = quarter;
  const std::vector<float> out_plus = augment_one(crop, kCrop, kOut, plus);
  EXPECT_EQ(argmax_position(out_plus, kOut),
            std::make_pair(q - centre.offset_y, kCrop - 1 - r - centre.offset_x));

  AugmentParams minus = centre;
  minus.angle_rad = -quarter;
  const std::vector<float> out_minus = augment_one(crop, kCrop, kOut, minus);
  EXPECT_EQ(argmax_position(out_minus, kOut),
            std::make_pair(kCrop - 1 - q - centre.offset_y, r - centre.offset_x));

  // The bright sample is nearly a whole pixel (cos(float(π/2)) ≈ −4e-8 shifts it by < 1e-5 px):
  // the peak is far above the background, which standardizes to a common negative value.
  const float peak = *std::max_element(out_plus.begin(), out_plus.end());
  const float background = out_plus[0];
  EXPECT_GT(peak - background, 50.0f);
}

TEST(Augment, OutputsAreStandardized) {
  const std::uint32_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int n = 16;
  std::vector<std::uint8_t> crops;
  for (int k = 0; k < n; ++k) {
    const std::vector<std::uint8_t> crop = random_crop(kCrop, rng);
    crops.insert(crops.end(), crop.begin(), crop.end());
  }
  std::fill(crops.begin() + (n - 1) * kCrop * kCrop, crops.end(), 77);  // last crop constant
  std::vector<std::int32_t> indices(n);
  std::vector<AugmentParams> params(n);
  for (int k = 0; k < n; ++k) {
    indices[k] = k;
    params[k] = augment_draw(seed, 1, k, 15.0f, true, kCrop, kOut);
  }
  std::vector<float> out(static_cast<std::size_t>(n) * kOut * kOut, std::nanf(""));
  CpuOps::augment_batch(n, kCrop, kOut, crops.data(), indices.data(), params.data(), out.data());
  for (int k = 0; k < n; ++k) {
    double sum = 0.0, squares = 0.0;
    for (int p = 0; p < kOut * kOut; ++p) {
      const double v = out[static_cast<std::size_t>(k) * kOut * kOut + p];
      sum += v;
      squares += v * v;
    }
    const double mean = sum / (kOut * kOut);
    const double std_dev = std::sqrt(squares / (kOut * kOut) - mean * mean);
    EXPECT_NEAR(mean, 0.0, 1e-5) << "sample " << k;
    if (k == n - 1) {
      EXPECT_EQ(squares, 0.0) << "a constant crop must give all zeros (std guard)";
    } else {
      EXPECT_NEAR(std_dev, 1.0, 1e-4) << "sample " << k;
    }
  }
}

TEST(Augment, DrawIsDeterministicWithDocumentedRanges) {
  const float max_deg = 15.0f;
  const float max_rad = max_deg * 0.017453292519943295f;
  const int draws = 20000;
  int flips = 0;
  float min_angle = 1.0f, max_angle = -1.0f;
  std::vector<int> offset_y_seen(kCrop - kOut + 1, 0), offset_x_seen(kCrop - kOut + 1, 0);
  for (int i = 0; i < draws; ++i) {
    const AugmentParams a = augment_draw(42, 7, i, max_deg, true, kCrop, kOut);
    const AugmentParams b = augment_draw(42, 7, i, max_deg, true, kCrop, kOut);
    ASSERT_EQ(std::memcmp(&a, &b, sizeof(a)), 0) << "draw " << i << " not deterministic";
    ASSERT_LE(std::fabs(a.angle_rad), max_rad) << "draw " << i;
    ASSERT_GE(a.offset_y, 0);
    ASSERT_LE(a.offset_y, kCrop - kOut);
    ASSERT_GE(a.offset_x, 0);
    ASSERT_LE(a.offset_x, kCrop - kOut);
    ASSERT_TRUE(a.flip == 0 || a.flip == 1);
    flips += a.flip;
    min_angle = std::min(min_angle, a.angle_rad);
    max_angle = std::max(max_angle, a.angle_rad);
    ++offset_y_seen[a.offset_y];
    ++offset_x_seen[a.offset_x];
    const AugmentParams no_flip = augment_draw(42, 7, i, max_deg, false, kCrop, kOut);
    ASSERT_EQ(no_flip.flip, 0) << "flip drawn although allow_flip is false";
  }
  // Fair coin: 20000 draws, σ ≈ 71, so ±600 is > 8σ.
  EXPECT_NEAR(flips, draws / 2, 600);
  EXPECT_LT(min_angle, -0.95f * max_rad);
  EXPECT_GT(max_angle, 0.95f * max_rad);
  for (int v = 0; v <= kCrop - kOut; ++v) {
    EXPECT_NEAR(offset_y_seen[v], draws / (kCrop - kOut + 1), 600) << "offset_y " << v;
    EXPECT_NEAR(offset_x_seen[v], draws / (kCrop - kOut + 1), 600) << "offset_x " << v;
  }
  // Another epoch or seed draws different parameters.
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    const AugmentParams a = augment_draw(42, 7, i, max_deg, true, kCrop, kOut);
    const AugmentParams b = augment_draw(42, 8, i, max_deg, true, kCrop, kOut);
    const AugmentParams c = augment_draw(43, 7, i, max_deg, true, kCrop, kOut);
    same += a.angle_rad == b.angle_rad;
    same += a.angle_rad == c.angle_rad;
  }
  EXPECT_LT(same, 3);
  // Evaluation parameters: the centre crop, nothing else.
  const AugmentParams centre = augment_centre(kCrop, kOut);
  EXPECT_EQ(centre.angle_rad, 0.0f);
  EXPECT_EQ(centre.flip, 0);
  EXPECT_EQ(centre.offset_y, 1);
  EXPECT_EQ(centre.offset_x, 1);
}

TEST(Augment, BadArgumentsThrow) {
  std::vector<std::uint8_t> crop(kCrop * kCrop, 0);
  std::vector<float> out(kOut * kOut);
  const AugmentParams p = augment_centre(kCrop, kOut);
  const std::int32_t good = 0, bad = -1;
  EXPECT_THROW(CpuOps::augment_batch(-1, kCrop, kOut, crop.data(), &good, &p, out.data()), Error);
  EXPECT_THROW(CpuOps::augment_batch(1, 0, kOut, crop.data(), &good, &p, out.data()), Error);
  EXPECT_THROW(CpuOps::augment_batch(1, kCrop, kOut, crop.data(), &bad, &p, out.data()), Error);
  EXPECT_NO_THROW(CpuOps::augment_batch(0, kCrop, kOut, nullptr, nullptr, nullptr, nullptr));
}

}  // namespace
}  // namespace aulens
