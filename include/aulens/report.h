// The run report (DESIGN §2 "report"): <run>/report/index.html, a self-contained folder that opens
// from disk with no network. It reads what the earlier stages wrote into the run folder
// (dataset.safetensors, metrics.json, projections.safetensors, deconv/map_NNN.png, sweep.csv,
// best_maps.csv) and shows: the dataset and its split, training curves and the confusion matrix,
// the AU → map table with projections, receptive fields, example face crops, distance, margin,
// p-value and the ground-truth region score (aulens/ground_truth.h), the distance of every map
// per AU (charts), and a sortable gallery of all maps. Charts use Chart.js copied from the Debian
// package libjs-chart.js; the data is JSON inside the page (browsers refuse fetch() from file://);
// every dataset-derived string is HTML-escaped. A missing input is a note in the report, not an
// error, except the dataset cache; a malformed one (a field that is not a number, a short row, an
// AU of sweep.csv without every map, metrics.json not shaped as the trainer writes it) is an
// aulens::Error naming the file and what is out of place. Face-crop PNGs need OpenCV; without it
// the report says so.
//
// The ground-truth columns (region_share, region_baseline, region_hit) are also appended to
// best_maps.csv (rewritten in place; rerunning replaces them).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "aulens/config.h"
#include "aulens/ground_truth.h"

namespace aulens {

struct ReportResult {
  std::filesystem::path index_html;
  std::vector<RegionScore> ground_truth;  // one per AU of best_maps.csv that could be scored
  int hits = 0, scored = 0;
  double hit_rate = 0.0;  // hits / scored (0 when none scored)
  // The same score for each AU's best map by AUC (farthest from 0.5), for comparison.
  int auc_hits = 0, auc_scored = 0;
  std::vector<std::string> notes;  // inputs that were missing, what was left out
};

// Writes run_dir/report/ (index.html, chart.js, img/*.png) from the outputs in run_dir.
// `inputs_accepted`, when given, is called once every input is read and run_dir's dataset cache is
// found to belong to `cfg`, before anything is written; a report refused for a missing, mismatched
// or malformed input calls nothing and writes nothing.
ReportResult write_report(const RunConfig& cfg, const std::filesystem::path& run_dir,
                          const std::function<void()>& inputs_accepted = {});

// &, <, >, " and ' as entities.
std::string html_escape(std::string_view text);

// Where libjs-chart.js put the UMD build (chart.umd.js or chart.min.js), or "" when absent.
std::filesystem::path find_chart_js();

}  // namespace aulens
