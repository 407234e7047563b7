// Deconvnet projection of one conv3 activation back to pixel space (DESIGN §1.5, aulens/net.h),
// written only in terms of the backend-neutral ops, over the full image of one batch element.
//
//   seed (1,c3,S/4,S/4): the activation at (map, y, x), zero elsewhere
//   → ReLU → conv3ᵀ (1,c2,S/4,S/4) → unpool2 (1,c2,S/2,S/2) → ReLU → conv2ᵀ (1,c1,S/2,S/2)
//   → unpool1 (1,c1,S,S) → ReLU → conv1ᵀ (1,1,S,S)
//
// Glossary: S input size, c1 c2 c3 conv widths. Only the receptive field (input rows and columns
// 4y−14 … 4y+17) can be non-zero; this version still computes the whole image.
#include <cstring>

#include "aulens/device.h"
#include "aulens/net.h"

namespace aulens {

namespace {

// Copies `count` floats between two buffers on the same device (host memcpy or a device copy
// queued on the aulens stream).
void copy_floats(Device device, float* dst, const float* src, std::int64_t count) {
  const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(float);
  if (device == Device::cpu) {
    std::memcpy(dst, src, bytes);
  } else {
    device::copy_on_device(dst, src, bytes);
  }
}

}  // namespace

template <class Ops>
Tensor deconv_project(const NetConfig& cfg, const Params& params, const Activations& acts,
                      int image, int map, int y, int x) {
  constexpr Device dev = Ops::device;
  params.check(cfg, dev, "deconv_project parameters");
  const int s = cfg.input_size;
  const int c1 = cfg.conv1, c2 = cfg.conv2, c3 = cfg.conv3;
  const int s2 = s / 2, s4 = s / 4;
  AULENS_CHECK(acts.conv3.defined() && acts.conv3.rank() == 4 && acts.conv3.device() == dev &&
                   acts.conv3.dim(1) == c3 && acts.conv3.dim(2) == s4 && acts.conv3.dim(3) == s4,
               "deconv_project: the activations are not a forward pass of this network on " +
                   std::string(device_name(dev)));
  const std::int64_t n = acts.conv3.dim(0);
  AULENS_CHECK(
      image >= 0 && image < n && map >= 0 && map < c3 && y >= 0 && y < s4 && x >= 0 && x < s4,
      "deconv_project: (image, map, y, x) = (" + std::to_string(image) + ", " +
          std::to_string(map) + ", " + std::to_string(y) + ", " + std::to_string(x) +
          ") outside the batch (" + std::to_string(n) + ", " + std::to_string(c3) + ", " +
          std::to_string(s4) + ", " + std::to_string(s4) + ")");

  // Offsets of image `image` inside the batch tensors.
  const std::int64_t plane3 = static_cast<std::int64_t>(s4) * s4;
  const float* conv3_image = acts.conv3.data<float>() + image * c3 * plane3;
  const std::int32_t* switches2 =
      acts.switches2.data<std::int32_t>() + static_cast<std::int64_t>(image) * c2 * plane3;
  const std::int32_t* switches1 =
      acts.switches1.data<std::int32_t>() + static_cast<std::int64_t>(image) * c1 * s2 * s2;

  // seed (1,c3,S/4,S/4): the activation value at (map, y, x), zero elsewhere, then ReLU.
  Tensor seed = Tensor::zeros({1, c3, s4, s4}, DType::f32, dev);
  const std::int64_t at = (static_cast<std::int64_t>(map) * s4 + y) * s4 + x;
  copy_floats(dev, seed.data<float>() + at, conv3_image + at, 1);
  Ops::relu_forward(seed.numel(), seed.data<float>(), seed.data<float>());

  // conv3ᵀ → (1,c2,S/4,S/4); unpool through pool2's switches → (1,c2,S/2,S/2); ReLU
  Tensor pool2 = Tensor({1, c2, s4, s4}, DType::f32, dev);
  Ops::conv2d_backward_data(ConvShape{1, c2, s4, s4, c3, 5}, seed.data<float>(),
                            params.conv3_weight.data<float>(), pool2.data<float>());
  Tensor conv2 = Tensor({1, c2, s2, s2}, DType::f32, dev);
  Ops::max_unpool2x2(PoolShape{1, c2, s2, s2}, pool2.data<float>(), switches2, conv2.data<float>());
  Ops::relu_forward(conv2.numel(), conv2.data<float>(), conv2.data<float>());

  // conv2ᵀ → (1,c1,S/2,S/2); unpool through pool1's switches → (1,c1,S,S); ReLU
  Tensor pool1 = Tensor({1, c1, s2, s2}, DType::f32, dev);
  Ops::conv2d_backward_data(ConvShape{1, c1, s2, s2, c2, 5}, conv2.data<float>(),
                            params.conv2_weight.data<float>(), pool1.data<float>());
  Tensor conv1 = Tensor({1, c1, s, s}, DType::f32, dev);
  Ops::max_unpool2x2(PoolShape{1, c1, s, s}, pool1.data<float>(), switches1, conv1.data<float>());
  Ops::relu_forward(conv1.numel(), conv1.data<float>(), conv1.data<float>());

  // conv1ᵀ → (1,1,S,S), returned as (1,S,S)
  Tensor pixels = Tensor({1, 1, s, s}, DType::f32, dev);
  Ops::conv2d_backward_data(ConvShape{1, 1, s, s, c1, 5}, conv1.data<float>(),
                            params.conv1_weight.data<float>(), pixels.data<float>());
  return pixels.reshape({1, s, s});
}

template Tensor deconv_project<CpuOps>(const NetConfig&, const Params&, const Activations&, int,
                                       int, int, int);
#ifdef AULENS_HAVE_CUDA
template Tensor deconv_project<CudaOps>(const NetConfig&, const Params&, const Activations&, int,
                                        int, int, int);
#endif

}  // namespace aulens
