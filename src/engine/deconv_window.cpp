// Windowed deconvnet projections (aulens/deconv.h), written only in terms of the backend-neutral
// ops: the requests go to Ops::deconv_project_windows in one call (one batched launch on the
// GPU), the results come back to the host.
//
// Glossary: P requests, N input images, S input size, c1 c2 c3 conv widths, D distinct images.
#include <algorithm>
#include <map>

#include "aulens/deconv.h"

namespace aulens {

template <class Ops>
Projections project_windows(const NetConfig& cfg, const Params& params, const Tensor& inputs,
                            const std::vector<WindowRequest>& requests) {
  constexpr Device dev = Ops::device;
  params.check(cfg, dev, "project_windows parameters");
  const int s = cfg.input_size;
  AULENS_CHECK(
      inputs.dtype() == DType::f32 && inputs.device() == dev && inputs.rank() == 4 &&
          inputs.dim(0) > 0 && inputs.dim(1) == 1 && inputs.dim(2) == s && inputs.dim(3) == s,
      "project_windows: inputs must be (N, 1, " + std::to_string(s) + ", " + std::to_string(s) +
          ") F32 on " + device_name(dev) + ", got " + shape_string(inputs.shape()) + " " +
          dtype_name(inputs.dtype()) + " on " + device_name(inputs.device()));
  const auto p = static_cast<std::int64_t>(requests.size());
  Projections out;
  std::vector<std::int32_t> flat(static_cast<std::size_t>(p) * 4);
  for (std::int64_t r = 0; r < p; ++r) {
    flat[4 * r] = requests[r].image;
    flat[4 * r + 1] = requests[r].map;
    flat[4 * r + 2] = requests[r].y;
    flat[4 * r + 3] = requests[r].x;
  }
  out.requests = Tensor::from_vector<std::int32_t>({p, 4}, flat);
  if (p == 0) {
    out.windows = Tensor({0, kWindow, kWindow}, DType::f32);
    out.origins = Tensor({0, 2}, DType::i32);
    out.seeds = Tensor({0}, DType::f32);
    return out;
  }
  const Tensor requests_dev = out.requests.to(dev);
  Tensor windows({p, kWindow, kWindow}, DType::f32, dev);
  Tensor origins({p, 2}, DType::i32, dev);
  Tensor seeds({p}, DType::f32, dev);
  Ops::deconv_project_windows(static_cast<int>(p), static_cast<int>(inputs.dim(0)), s, cfg.conv1,
                              cfg.conv2, cfg.conv3, inputs.data<float>(),
                              params.conv1_weight.data<float>(), params.conv1_bias.data<float>(),
                              params.conv2_weight.data<float>(), params.conv2_bias.data<float>(),
                              params.conv3_weight.data<float>(), params.conv3_bias.data<float>(),
                              requests_dev.data<std::int32_t>(), windows.data<float>(),
                              origins.data<std::int32_t>(), seeds.data<float>());
  out.windows = windows.to(Device::cpu);
  out.origins = origins.to(Device::cpu);
  out.seeds = seeds.to(Device::cpu);
  return out;
}

template <class Ops>
Projections project_top_n(const NetConfig& cfg, const Params& params, const Tensor& crops,
                          const TopN& top) {
  AULENS_CHECK(
      top.n > 0 && top.image_ids.defined() && top.image_ids.rank() == 2 &&
          top.image_ids.dim(0) == cfg.conv3 && top.image_ids.dim(1) == top.n &&
          top.positions.defined(),
      "project_top_n: top-n lists must be (" + std::to_string(cfg.conv3) + ", n) for this network");
  const std::int32_t* ids = top.image_ids.data<std::int32_t>();
  const std::int32_t* positions = top.positions.data<std::int32_t>();
  const std::int64_t count = top.image_ids.numel();
  // Distinct dataset images → rows of the input batch (D ≤ c3·n).
  std::map<std::int32_t, std::int32_t> row_of;
  std::vector<std::int32_t> distinct;
  for (std::int64_t e = 0; e < count; ++e) {
    if (row_of.emplace(ids[e], static_cast<std::int32_t>(distinct.size())).second) {
      distinct.push_back(ids[e]);
    }
  }
  const Tensor inputs = centre_inputs<Ops>(cfg.input_size, crops, distinct);
  const int grid = cfg.input_size / 4;
  std::vector<WindowRequest> requests(static_cast<std::size_t>(count));
  for (std::int64_t e = 0; e < count; ++e) {
    requests[e] = WindowRequest{row_of.at(ids[e]), static_cast<std::int32_t>(e / top.n),
                                positions[e] / grid, positions[e] % grid};
  }
  Projections out = project_windows<Ops>(cfg, params, inputs, requests);
  for (std::int64_t e = 0; e < count; ++e) out.requests.data<std::int32_t>()[4 * e] = ids[e];
  return out;
}

#define AULENS_INSTANTIATE_WINDOWS(Ops)                                                     \
  template Projections project_windows<Ops>(const NetConfig&, const Params&, const Tensor&, \
                                            const std::vector<WindowRequest>&);             \
  template Projections project_top_n<Ops>(const NetConfig&, const Params&, const Tensor&,   \
                                          const TopN&);
AULENS_INSTANTIATE_WINDOWS(CpuOps)
#ifdef AULENS_HAVE_CUDA
AULENS_INSTANTIATE_WINDOWS(CudaOps)
#endif

}  // namespace aulens
