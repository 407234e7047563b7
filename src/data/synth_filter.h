// The two floating-point filters of the synthetic renderer, written out in plain C++ so the
// generator's bytes do not depend on the CPU: OpenCV picks SSE, AVX2 or AVX-512 code for its float
// GaussianBlur and resize at run time, and those round differently (on one machine, turning AVX2
// off changed a quarter of the drawn frames). These follow OpenCV's definitions (kernel size,
// border rules, cubic coefficients; the Gaussian weights are cv::getGaussianKernel's, which it
// computes in software floating point; tests/test_synth.cpp holds both filters to OpenCV within
// float rounding) and sum every output in double in a fixed order, so any x86-64 machine running
// the same build writes the same bytes. Single-channel CV_32F only.
#pragma once

#include <opencv2/core.hpp>

namespace aulens::synth {

// cv::GaussianBlur(image, image, {ksize, ksize}, sigma) with BORDER_REFLECT_101, in place;
// sigma > 0; ksize <= 0 takes OpenCV's size for float images, round(8·sigma + 1) made odd.
void gaussian_blur(cv::Mat& image, int ksize, double sigma);

// cv::resize(src, out, size, 0, 0, INTER_CUBIC): Keys' cubic (a = −0.75) on pixel centres,
// edges replicated.
cv::Mat resize_cubic(const cv::Mat& src, cv::Size size);

}  // namespace aulens::synth
