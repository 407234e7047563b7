#include "data/synth_filter.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "aulens/check.h"

namespace aulens::synth {
namespace {

// OpenCV's BORDER_REFLECT_101 (…, 2, 1 | 0, 1, 2, …, n−1 | n−2, …), reflecting again while the
// index is still outside, as cv::borderInterpolate does.
int reflect_101(int p, int n) {
  if (n == 1) return 0;
  while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
  return p;
}

// out = the 1-D filter `taps` (odd length, centred) run along rows or along columns, edges
// reflected; each output summed in double in the order of the taps, then rounded to float.
void filter_rows(const cv::Mat& in, cv::Mat& out, const std::vector<float>& taps) {
  const int r = static_cast<int>(taps.size()) / 2;
  std::vector<float> padded(static_cast<std::size_t>(in.cols + 2 * r));  // the row, edges reflected
  for (int y = 0; y < in.rows; ++y) {
    const float* src = in.ptr<float>(y);
    for (int x = -r; x < in.cols + r; ++x)
      padded[static_cast<std::size_t>(x + r)] = src[reflect_101(x, in.cols)];
    float* dst = out.ptr<float>(y);
    for (int x = 0; x < in.cols; ++x) {
      double sum = 0;
      for (std::size_t k = 0; k < taps.size(); ++k)
        sum += static_cast<double>(taps[k]) * padded[static_cast<std::size_t>(x) + k];
      dst[x] = static_cast<float>(sum);
    }
  }
}

void filter_columns(const cv::Mat& in, cv::Mat& out, const std::vector<float>& taps) {
  const int r = static_cast<int>(taps.size()) / 2;
  std::vector<double> sum(static_cast<std::size_t>(in.cols));
  for (int y = 0; y < in.rows; ++y) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int k = -r; k <= r; ++k) {  // whole rows at a time; each sum still in the order of k
      const double w = taps[static_cast<std::size_t>(k + r)];
      const float* src = in.ptr<float>(reflect_101(y + k, in.rows));
      for (int x = 0; x < in.cols; ++x) sum[static_cast<std::size_t>(x)] += w * src[x];
    }
    float* dst = out.ptr<float>(y);
    for (int x = 0; x < in.cols; ++x) dst[x] = static_cast<float>(sum[static_cast<std::size_t>(x)]);
  }
}

// OpenCV's interpolateCubic: the four weights of Keys' cubic at fraction x in [0, 1).
std::array<float, 4> cubic_weights(float x) {
  constexpr float a = -0.75f;
  std::array<float, 4> w{};
  w[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  w[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  w[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = 1.f - w[0] - w[1] - w[2];
  return w;
}

// Per output coordinate along one axis: the first of its four source taps and their weights.
struct CubicTap {
  int first = 0;
  std::array<float, 4> w{};
};

std::vector<CubicTap> cubic_taps(int src_size, int dst_size) {
  const double scale = 1.0 / (static_cast<double>(dst_size) / src_size);  // as OpenCV computes it
  std::vector<CubicTap> taps(static_cast<std::size_t>(dst_size));
  for (int d = 0; d < dst_size; ++d) {
    const auto f = static_cast<float>((d + 0.5) * scale - 0.5);
    const auto s = static_cast<int>(std::floor(f));
    taps[static_cast<std::size_t>(d)] = {s - 1, cubic_weights(f - static_cast<float>(s))};
  }
  return taps;
}

}  // namespace

void gaussian_blur(cv::Mat& image, int ksize, double sigma) {
  AULENS_CHECK(image.type() == CV_32FC1, "gaussian_blur expects a single-channel float image");
  AULENS_CHECK(sigma > 0, "gaussian_blur expects sigma > 0");
  if (ksize <= 0) ksize = static_cast<int>(std::lrint(sigma * 4 * 2 + 1)) | 1;
  AULENS_CHECK(ksize % 2 == 1, "gaussian_blur expects an odd kernel size");
  if (ksize == 1 || image.empty()) return;
  // OpenCV's own weights: computed in software floating point, the same on every CPU.
  const cv::Mat kernel = cv::getGaussianKernel(ksize, sigma, CV_32F);
  const std::vector<float> taps(kernel.begin<float>(), kernel.end<float>());
  // Along rows, then along columns; like OpenCV, not along a dimension of size 1.
  if (image.cols > 1) {
    cv::Mat across(image.size(), CV_32FC1);
    filter_rows(image, across, taps);
    across.copyTo(image);
  }
  if (image.rows > 1) {
    cv::Mat down(image.size(), CV_32FC1);
    filter_columns(image, down, taps);
    down.copyTo(image);
  }
}

cv::Mat resize_cubic(const cv::Mat& src, cv::Size size) {
  AULENS_CHECK(src.type() == CV_32FC1 && !src.empty(),
               "resize_cubic expects a non-empty single-channel float image");
  const std::vector<CubicTap> xs = cubic_taps(src.cols, size.width);
  const std::vector<CubicTap> ys = cubic_taps(src.rows, size.height);
  // Along x first, every source row, then along y, as OpenCV does.
  cv::Mat across(src.rows, size.width, CV_32FC1);
  for (int y = 0; y < src.rows; ++y) {
    const float* in = src.ptr<float>(y);
    float* out = across.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const CubicTap& t = xs[static_cast<std::size_t>(x)];
      double sum = 0;
      for (int k = 0; k < 4; ++k)
        sum += static_cast<double>(t.w[static_cast<std::size_t>(k)]) *
               in[std::clamp(t.first + k, 0, src.cols - 1)];
      out[x] = static_cast<float>(sum);
    }
  }
  cv::Mat out(size, CV_32FC1);
  std::vector<double> sum(static_cast<std::size_t>(size.width));
  for (int y = 0; y < size.height; ++y) {
    const CubicTap& t = ys[static_cast<std::size_t>(y)];
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int k = 0; k < 4; ++k) {
      const double w = t.w[static_cast<std::size_t>(k)];
      const float* row = across.ptr<float>(std::clamp(t.first + k, 0, src.rows - 1));
      for (int x = 0; x < size.width; ++x) sum[static_cast<std::size_t>(x)] += w * row[x];
    }
    float* row = out.ptr<float>(y);
    for (int x = 0; x < size.width; ++x)
      row[x] = static_cast<float>(sum[static_cast<std::size_t>(x)]);
  }
  return out;
}

}  // namespace aulens::synth
