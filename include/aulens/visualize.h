// The visualize stage (DESIGN §1.4, §1.5, §2): activation records of conv3 over the analysed
// images, the top-n images of every conv3 map, their windowed deconvnet projections, and the files
// a researcher reads them from. Reads <output>/dataset.safetensors and
// <output>/checkpoints/best.safetensors; writes into <output>/, every file atomically:
//
//   records.safetensors      "conv3_value" (M,K) f32, "conv3_position" (M,K) i32 (y·G + x on the
//                            G×G conv3 grid, G = S/4), "image_index" (M) i32 (row → dataset image);
//                            "conv1_*"/"conv2_*" likewise when visualize.conv1_conv2_records.
//                            Metadata: analysed images, split protocol, subject_overlapping,
//                            checkpoint (its absolute path, and checkpoint_given: "true" when it
//                            came from VisualizeOptions::checkpoint), net config.
//   topk.csv                 map, rank, image, source_path, value, y, x (conv3 grid), header row.
//   projections.safetensors  "projections" (K,n,32,32) f32 raw deconvnet output, "origins" (K,n,2)
//                            i32 window origin (y, x) in the S×S input frame (may be negative),
//                            "top_images" (K,n) i32, "top_values" (K,n) f32, "top_positions"
//                            (K,n) i32, "seeds" (K,n) f32 (the activation recomputed in the
//                            window).
//   deconv/map_000.png …     per map a strip: n display-normalised projections above the n
//                            receptive-field crops (aulens/render.h); needs OpenCV.
//   deconv/contact_sheet.png every map's rank-1 projection with its number; needs OpenCV.
//
// Glossary: M analysed images, K conv3 maps, n top-n, S input size, C crop size, G = S/4.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aulens/config.h"
#include "aulens/dataset.h"
#include "aulens/tensor.h"

namespace aulens {

struct VisualizeOptions {
  Device device = Device::cpu;  // where records, top-n and projections run
  bool write_images = true;     // the PNGs (ignored, with a note, when built without OpenCV)
  // The model to analyse; empty: cfg.visualize.checkpoint, and when that is empty too
  // <output>/checkpoints/best.safetensors, the one `aulens train` wrote. A file other than that
  // folder's best or last checkpoint (e.g. a PyTorch state_dict saved with safetensors,
  // aulens/checkpoint.h) is recorded as given in the outputs' metadata
  // ("checkpoint_given" = "true"), and the report then shows no training curves, which would
  // belong to another model. The metadata names the file by its absolute path.
  std::filesystem::path checkpoint;
  // Called with one human-readable progress line at a time (defaults to stdout when empty).
  std::function<void(const std::string&)> log;
  // Called once the inputs (dataset cache, checkpoint) are loaded and accepted, before any output
  // is written; a refused run calls nothing. May be empty.
  std::function<void()> inputs_accepted;
};

struct VisualizeSummary {
  std::string images;          // visualize.images: train | test | all
  std::string split_protocol;  // of the dataset cache
  bool subject_overlapping = false;
  std::int64_t image_count = 0;  // M
  int maps = 0;                  // K
  int top_n = 0;                 // n
  bool images_written = false;   // PNGs written (OpenCV present and write_images)
  int png_files = 0;
  // Seconds per phase.
  double seconds_load = 0, seconds_records = 0, seconds_top_n = 0, seconds_projections = 0,
         seconds_write = 0, seconds_render = 0;
  // The largest |seed − top value| / max(1, |top value|): the windowed recomputation of each
  // projected activation against its record (fp32 summation order only).
  double worst_seed_mismatch = 0;
  std::vector<std::filesystem::path> files;  // everything written
};

// Runs the whole stage for `cfg` (cfg.output, cfg.model, cfg.visualize). The network's shape is
// the one recorded in the checkpoint; cfg.model must agree with it in every shape field (else
// aulens::Error naming the checkpoint and the field), so that the YAML that trained a model also
// analyses it; a checkpoint without aulens metadata must have cfg.model's tensor shapes. Missing
// inputs are errors that say which stage makes them (or, for a given checkpoint, that it is
// missing).
VisualizeSummary run_visualize(const RunConfig& cfg, const VisualizeOptions& options);

// The dataset images visualize.images selects, ascending: "train" / "test" the split's lists
// (labelled images only), "all" every image of the dataset (also those without an expression
// label, which still carry AUs for the sweep).
std::vector<std::int32_t> analysed_images(const std::string& which, const Split& split,
                                          std::int64_t dataset_size);

// Display normalisation of one 32×32 projection window (Zeiler–Fergus style), per tile: over the
// pixels inside the S×S input frame (window origin (oy, ox)), subtract their mean, scale so the
// largest |difference| maps to ±127, add 128 and round; pixels outside the frame are 0 (black).
// A tile that is constant inside the frame is 128 there.
// window: (32,32) f32; out: (32,32) u8.
void normalize_projection_tile(const float* window, int oy, int ox, int input_size,
                               std::uint8_t* out);

// The receptive-field crop shown under a projection: the 32×32 window at (oy, ox) of the centre
// S×S crop of a C×C face crop (the network's evaluation input, before standardization); pixels
// outside the S×S frame are 0 (black), as in the projection tile.
// crop: (C,C) u8; out: (32,32) u8.
void receptive_field_crop(const std::uint8_t* crop, int crop_size, int input_size, int oy, int ox,
                          std::uint8_t* out);

}  // namespace aulens
