// Activation records and top-n (aulens/records.h), written only in terms of the backend-neutral
// ops: per batch, centre crop + standardize (augment_batch), the evaluation forward pass up to
// pool2, and conv3 with ReLU and its records fused (conv2d_relu_records: the conv3 maps are never
// written, and pool3/fc1/fc2 are not run); conv1/conv2 records on request by max_records on the
// stored post-ReLU maps. Only (M, maps) values and positions are kept.
//
// Glossary: M recorded images, B batch, S input size, C crop size, c1 c2 c3 conv widths.
#include <algorithm>
#include <cstring>

#include "aulens/augment.h"
#include "aulens/records.h"

namespace aulens {

namespace {

void check_crops(const Tensor& crops, int input_size, Device dev, const char* what) {
  AULENS_CHECK(crops.dtype() == DType::u8 && crops.rank() == 3 && crops.device() == dev &&
                   crops.dim(1) == crops.dim(2) && crops.dim(1) >= input_size,
               std::string(what) + ": crops must be (M, C, C) U8 on " + device_name(dev) +
                   " with C >= " + std::to_string(input_size) + ", got " +
                   shape_string(crops.shape()) + " " + dtype_name(crops.dtype()) + " on " +
                   device_name(crops.device()));
}

// Records of one layer for rows [row, row + B) from post-ReLU maps (B, K, H, W).
template <class Ops>
void record_layer(const Tensor& maps, std::int64_t row, Tensor& value, Tensor& position) {
  const auto b = static_cast<int>(maps.dim(0)), k = static_cast<int>(maps.dim(1));
  const auto hw = static_cast<int>(maps.dim(2) * maps.dim(3));
  Ops::max_records(b, k, hw, maps.data<float>(), value.data<float>() + row * k,
                   position.data<std::int32_t>() + row * k);
}

}  // namespace

template <class Ops>
Tensor centre_inputs(int input_size, const Tensor& crops,
                     const std::vector<std::int32_t>& image_ids) {
  constexpr Device dev = Ops::device;
  check_crops(crops, input_size, dev, "centre_inputs");
  const auto n = static_cast<std::int64_t>(image_ids.size());
  AULENS_CHECK(n > 0, "centre_inputs: no images");
  const int crop = static_cast<int>(crops.dim(1));
  for (std::int32_t id : image_ids) {
    AULENS_CHECK(id >= 0 && id < crops.dim(0), "centre_inputs: image id " + std::to_string(id) +
                                                   " outside the " + std::to_string(crops.dim(0)) +
                                                   " crops");
  }
  const std::vector<AugmentParams> aug(image_ids.size(), augment_centre(crop, input_size));
  std::vector<std::uint8_t> aug_bytes(aug.size() * sizeof(AugmentParams));
  std::memcpy(aug_bytes.data(), aug.data(), aug_bytes.size());
  const Tensor indices = Tensor::from_vector<std::int32_t>({n}, image_ids).to(dev);
  const Tensor params =
      Tensor::from_vector<std::uint8_t>({static_cast<std::int64_t>(aug_bytes.size())}, aug_bytes)
          .to(dev);
  Tensor inputs({n, 1, input_size, input_size}, DType::f32, dev);
  Ops::augment_batch(static_cast<int>(n), crop, input_size, crops.data<std::uint8_t>(),
                     indices.data<std::int32_t>(),
                     reinterpret_cast<const AugmentParams*>(params.data<std::uint8_t>()),
                     inputs.data<float>());
  return inputs;
}

template <class Ops>
Records compute_records(const NetConfig& cfg, const Params& params, const Tensor& crops,
                        const std::vector<std::int32_t>& image_ids, const RecordsOptions& options) {
  constexpr Device dev = Ops::device;
  params.check(cfg, dev, "compute_records parameters");
  check_crops(crops, cfg.input_size, dev, "compute_records");
  AULENS_CHECK(options.batch > 0,
               "compute_records: batch must be positive, got " + std::to_string(options.batch));
  const auto m = static_cast<std::int64_t>(image_ids.size());
  AULENS_CHECK(m > 0, "compute_records: no images to record");
  Records r;
  r.image_ids = image_ids;
  r.grid3 = cfg.input_size / 4;
  r.conv3_value = Tensor({m, cfg.conv3}, DType::f32, dev);
  r.conv3_position = Tensor({m, cfg.conv3}, DType::i32, dev);
  if (options.conv1) {
    r.conv1_value = Tensor({m, cfg.conv1}, DType::f32, dev);
    r.conv1_position = Tensor({m, cfg.conv1}, DType::i32, dev);
  }
  if (options.conv2) {
    r.conv2_value = Tensor({m, cfg.conv2}, DType::f32, dev);
    r.conv2_position = Tensor({m, cfg.conv2}, DType::i32, dev);
  }
  const Network<Ops> net(cfg);
  Activations acts;
  for (std::int64_t row = 0; row < m; row += options.batch) {
    const std::int64_t end = std::min<std::int64_t>(m, row + options.batch);
    const std::vector<std::int32_t> batch_ids(image_ids.begin() + row, image_ids.begin() + end);
    const Tensor inputs = centre_inputs<Ops>(cfg.input_size, crops, batch_ids);
    net.forward_records(params, inputs, acts, r.conv3_value.data<float>() + row * cfg.conv3,
                        r.conv3_position.data<std::int32_t>() + row * cfg.conv3);
    if (options.conv1) record_layer<Ops>(acts.conv1, row, r.conv1_value, r.conv1_position);
    if (options.conv2) record_layer<Ops>(acts.conv2, row, r.conv2_value, r.conv2_position);
    if (options.progress) options.progress(end, m);
  }
  return r;
}

template <class Ops>
TopN top_n(const Records& records, int n) {
  constexpr Device dev = Ops::device;
  const Tensor& values = records.conv3_value;
  AULENS_CHECK(values.defined() && values.rank() == 2 && values.device() == dev &&
                   records.conv3_position.defined(),
               std::string("top_n: records must hold conv3 values on ") + device_name(dev));
  const auto m = static_cast<int>(values.dim(0)), maps = static_cast<int>(values.dim(1));
  Tensor top_rows({maps, n}, DType::i32, dev);
  Tensor top_values({maps, n}, DType::f32, dev);
  Ops::topn_select(m, maps, n, values.data<float>(), top_rows.data<std::int32_t>(),
                   top_values.data<float>());
  TopN top;
  top.n = n;
  top.rows = top_rows.to(Device::cpu);
  top.values = top_values.to(Device::cpu);
  top.image_ids = Tensor({maps, n}, DType::i32);
  top.positions = Tensor({maps, n}, DType::i32);
  const Tensor positions = records.conv3_position.to(Device::cpu);
  const std::int32_t* rows = top.rows.data<std::int32_t>();
  for (std::int64_t e = 0; e < top.rows.numel(); ++e) {
    const std::int64_t map = e / n;
    top.image_ids.data<std::int32_t>()[e] = records.image_ids[rows[e]];
    top.positions.data<std::int32_t>()[e] =
        positions.data<std::int32_t>()[static_cast<std::int64_t>(rows[e]) * maps + map];
  }
  return top;
}

#define AULENS_INSTANTIATE_RECORDS(Ops)                                                           \
  template Tensor centre_inputs<Ops>(int, const Tensor&, const std::vector<std::int32_t>&);       \
  template Records compute_records<Ops>(const NetConfig&, const Params&, const Tensor&,           \
                                        const std::vector<std::int32_t>&, const RecordsOptions&); \
  template TopN top_n<Ops>(const Records&, int);
AULENS_INSTANTIATE_RECORDS(CpuOps)
#ifdef AULENS_HAVE_CUDA
AULENS_INSTANTIATE_RECORDS(CudaOps)
AULENS_INSTANTIATE_RECORDS(CudnnOps)  // the same with cuDNN's convolutions
#endif

}  // namespace aulens
