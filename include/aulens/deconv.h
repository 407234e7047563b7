// Windowed deconvnet projections (DESIGN §1.5): each requested conv3 activation is projected back
// to the pixels of its 32×32 receptive field, computing the forward pass only inside that window
// (Ops::deconv_project_windows; geometry in aulens/receptive_field.h). Equal to the full-image
// deconv_project (aulens/net.h) placed at the window origin, up to fp32 summation order.
#pragma once

#include <cstdint>
#include <vector>

#include "aulens/net.h"
#include "aulens/receptive_field.h"
#include "aulens/records.h"
#include "aulens/tensor.h"

namespace aulens {

struct WindowRequest {
  std::int32_t image = 0;     // row of the input batch
  std::int32_t map = 0;       // conv3 map
  std::int32_t y = 0, x = 0;  // conv3 position on the S/4 grid
};

// P projections, on the host.
struct Projections {
  Tensor windows;   // (P,32,32) f32 input pixels (oy … oy+31, ox … ox+31); 0 outside the image
  Tensor origins;   // (P,2) i32 (oy, ox) = (4y − 14, 4x − 14); negative at the top/left borders
  Tensor seeds;     // (P) f32 the post-ReLU conv3 activation that was projected (recomputed in the
                    // window; equals the records' value up to fp32 summation order)
  Tensor requests;  // (P,4) i32 (image, map, y, x) as requested
};

// inputs: (N,1,S,S) f32 standardized network inputs on Ops::device.
template <class Ops>
Projections project_windows(const NetConfig& cfg, const Params& params, const Tensor& inputs,
                            const std::vector<WindowRequest>& requests);

// Projections of every (map, rank) of `top`: P = c3·n, request map·n + rank, using the centre
// crops of the images (crops: (M_all, C, C) u8 on Ops::device, as for compute_records).
// Projections::requests' image column holds dataset image ids (rows of `crops`).
template <class Ops>
Projections project_top_n(const NetConfig& cfg, const Params& params, const Tensor& crops,
                          const TopN& top);

}  // namespace aulens
