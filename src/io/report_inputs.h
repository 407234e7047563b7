// Reading the earlier stages' outputs for the report (aulens/report.h): the sweep's CSV files, the
// projections, small CSV helpers. Internal to src/io.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aulens/config.h"
#include "aulens/csv.h"
#include "aulens/ground_truth.h"
#include "aulens/tensor.h"

namespace aulens::report_detail {

using CsvRows = std::vector<std::vector<std::string>>;  // read_csv_file (aulens/csv.h)

// The sweep as the report needs it.
struct BestMap {
  std::int32_t au = 0;
  std::string name;
  int map = -1;
  double distance = 0.0, margin = 0.0, p_value = 1.0;
  int with = -1, without = -1;
  int top_with_au = -1;   // of the best map's top-n images, how many carry the AU (-1: no column)
  std::string direction;  // "higher" | "lower": the best map's R above or below Q ("" unknown)
};
struct SweepTable {
  std::vector<std::int32_t> au_ids;  // (A) rows of distance
  int maps = 0;                      // K
  std::vector<float> distance;       // (A,K) D_a(j) (NaN where the file says nan)
  std::vector<float> auc;            // (A,K)
  std::vector<BestMap> best;         // one per AU of best_maps.csv (or of sweep.csv when absent)
};
// Reads sweep.csv and best_maps.csv from run_dir; columns are found by their names (au, map,
// distance, auc; au, name, best map, distance, margin, p-value, with, without), so "best_map" and
// "best map" both work. A missing file is a note naming the command (for `cfg`) that makes it. A
// malformed one throws aulens::Error naming the file, row and column: a row whose field count is
// not the header's, a field that is not a number (or an integer in range: AU 1-99, maps from 0),
// an AU in sweep.csv that does not list each of the maps once.
SweepTable read_sweep(const RunConfig& cfg, const std::filesystem::path& run_dir,
                      std::vector<std::string>& notes);

// Rewrites best_maps.csv with region_share, region_baseline, region_hit (replacing earlier ones).
void append_ground_truth_columns(const std::filesystem::path& csv,
                                 const std::vector<RegionScore>& scores);

// Converts any integer or float tensor to i32 / f32 host tensors (same shape).
Tensor as_i32(const Tensor& t);
Tensor as_f32(const Tensor& t);

}  // namespace aulens::report_detail
