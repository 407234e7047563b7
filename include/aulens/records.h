// Activation records and top-n (DESIGN §1.4): for every analysed image and every map of a conv
// layer, the maximum post-ReLU activation and where it occurs; per conv3 map, the n images with
// the largest maxima. Generic over the op backend (CpuOps, CudaOps).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "aulens/net.h"
#include "aulens/tensor.h"

namespace aulens {

struct RecordsOptions {
  int batch = 256;     // images per forward pass
  bool conv1 = false;  // also record conv1 / conv2 maps
  bool conv2 = false;
  // Called after each batch is queued with (images queued, images in all); on a GPU the work may
  // still be running. Empty: no calls.
  std::function<void(std::int64_t done, std::int64_t total)> progress;
};

// Records of M images, on the device of the Ops that computed them. Row r belongs to dataset
// image image_ids[r]. Positions are row-major indices y·W + x on that layer's grid
// (conv1 S×S, conv2 S/2×S/2, conv3 S/4×S/4).
struct Records {
  std::vector<std::int32_t> image_ids;  // (M) rows of the crop tensor, in the order given
  int grid3 = 0;                        // conv3 grid side, S/4
  Tensor conv3_value, conv3_position;   // (M,c3) f32, (M,c3) i32
  Tensor conv1_value, conv1_position;   // (M,c1) — defined only with RecordsOptions::conv1
  Tensor conv2_value, conv2_position;   // (M,c2) — defined only with RecordsOptions::conv2
};

// Runs the evaluation forward pass (centre crop via Ops::augment_batch with augment_centre, then
// Network<Ops>::forward) over `image_ids` in batches and keeps only max_records of each layer.
// crops: (M_all, C, C) u8 face crops on Ops::device, C ≥ S; image_ids: rows of `crops`.
template <class Ops>
Records compute_records(const NetConfig& cfg, const Params& params, const Tensor& crops,
                        const std::vector<std::int32_t>& image_ids,
                        const RecordsOptions& options = {});

// The evaluation inputs of dataset images `image_ids`: (N,1,S,S) f32 on Ops::device, the centre
// S×S crop of each (C,C) u8 crop, standardized (Ops::augment_batch with augment_centre).
template <class Ops>
Tensor centre_inputs(int input_size, const Tensor& crops,
                     const std::vector<std::int32_t>& image_ids);

// The top-n of every conv3 map, on the host. Rank r of map m is rows[m, r] of the records.
struct TopN {
  int n = 0;
  Tensor rows;       // (c3,n) i32 rows of the Records
  Tensor image_ids;  // (c3,n) i32 dataset images (= records.image_ids[rows])
  Tensor values;     // (c3,n) f32 F_a, descending; ties by smaller row
  Tensor positions;  // (c3,n) i32 conv3 position y·(S/4) + x of that maximum
};

// Per conv3 map the n records with the largest value (Ops::topn_select), ties broken by the
// smaller record row. Needs 1 ≤ n ≤ min(M, 32).
template <class Ops>
TopN top_n(const Records& records, int n);

}  // namespace aulens
