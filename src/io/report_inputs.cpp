// Reading the sweep's outputs for the report (see report_inputs.h).
#include "report_inputs.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "aulens/atomic_file.h"
#include "aulens/check.h"

namespace fs = std::filesystem;

namespace aulens::report_detail {

namespace {

// "Best Map" → "bestmap", "p-value" → "pvalue": names compared without case or punctuation.
std::string squash(const std::string& name) {
  std::string s;
  for (const char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)))
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Index of the first header column whose squashed name satisfies `match`, or −1.
template <class Match>
int column(const std::vector<std::string>& header, Match match) {
  for (std::size_t i = 0; i < header.size(); ++i)
    if (match(squash(header[i]))) return static_cast<int>(i);
  return -1;
}

int column_named(const std::vector<std::string>& header, const std::string& name) {
  return column(header, [&](const std::string& s) { return s == name; });
}

// One CSV file the report reads (the sweep writes them), with errors that name the file, the row
// (the header is row 1) and the column. A file that does not parse was damaged or edited by hand;
// `aulens sweep` writes it again.
class CsvTable {
 public:
  explicit CsvTable(fs::path file) : file_(std::move(file)), rows_(read_csv_file(file_)) {
    AULENS_REQUIRE(!rows_.empty(), file_.string() + ": empty");
    for (std::size_t r = 1; r < rows_.size(); ++r) {
      if (rows_[r].size() != header().size())
        fail(r, "has " + std::to_string(rows_[r].size()) + " fields, the header has " +
                    std::to_string(header().size()));
    }
  }
  const std::vector<std::string>& header() const { return rows_[0]; }
  std::size_t rows() const { return rows_.size(); }  // the header included
  // The cell, or "" for a column the header lacks (col < 0).
  const std::string& cell(std::size_t r, int col) const {
    static const std::string none;
    return col < 0 ? none : rows_[r][static_cast<std::size_t>(col)];
  }
  // The cell as a number (nan and inf as the sweep writes them); empty or no column: `fallback`.
  double number(std::size_t r, int col, double fallback) const {
    const std::string text = trimmed(cell(r, col));
    if (text.empty()) return fallback;
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      fail(r, col, "expected a number, got '" + text + "'");
    return value;
  }
  // The cell as an integer in [lo, hi]; empty or no column: `fallback`.
  int integer(std::size_t r, int col, int fallback, long long lo, long long hi) const {
    const std::string text = trimmed(cell(r, col));
    if (text.empty()) return fallback;
    return parse_integer(r, col, text, lo, hi);
  }
  // An AU number, "12" or "AU12".
  std::int32_t au(std::size_t r, int col) const {
    std::string text = trimmed(cell(r, col));
    if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'U' || text[1] == 'u'))
      text.erase(0, 2);
    return parse_integer(r, col, text, 1, 99);
  }
  [[noreturn]] void fail(std::size_t r, const std::string& what) const {
    throw Error(file_.string() + ": row " + std::to_string(r + 1) + " " + what + kRerun);
  }
  [[noreturn]] void fail(std::size_t r, int col, const std::string& what) const {
    throw Error(file_.string() + ": row " + std::to_string(r + 1) + ", column '" +
                header()[static_cast<std::size_t>(col)] + "': " + what + kRerun);
  }

 private:
  static constexpr const char* kRerun = " (`aulens sweep` writes the file again)";
  static std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    return first == std::string::npos
               ? ""
               : text.substr(first, text.find_last_not_of(" \t") - first + 1);
  }
  int parse_integer(std::size_t r, int col, const std::string& text, long long lo,
                    long long hi) const {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi)
      fail(r, col,
           "expected an integer " + std::to_string(lo) + "-" + std::to_string(hi) + ", got '" +
               text + "'");
    return static_cast<int>(value);
  }

  fs::path file_;
  CsvRows rows_;
};

}  // namespace

SweepTable read_sweep(const RunConfig& cfg, const fs::path& run_dir,
                      std::vector<std::string>& notes) {
  SweepTable table;
  const fs::path sweep_csv = run_dir / "sweep.csv";
  if (fs::exists(sweep_csv)) {
    const CsvTable csv(sweep_csv);
    const auto& header = csv.header();
    const int c_au = column_named(header, "au");
    const int c_map = column_named(header, "map");
    const int c_distance = column_named(header, "distance");
    const int c_auc =
        column(header, [](const std::string& s) { return s == "auc" || s == "rocauc"; });
    AULENS_REQUIRE(c_au >= 0 && c_map >= 0 && c_distance >= 0,
                   sweep_csv.string() + ": expected columns au, map, distance in the header");
    // Every AU lists every map 0..K−1 once (as the sweep writes it), so K < the number of rows.
    const long long max_map = static_cast<long long>(csv.rows()) - 2;
    std::map<std::int32_t, std::vector<std::pair<int, std::pair<float, float>>>> by_au;
    for (std::size_t r = 1; r < csv.rows(); ++r) {
      const int map = csv.integer(r, c_map, -1, 0, max_map);
      if (map < 0) csv.fail(r, c_map, "no map number");
      table.maps = std::max(table.maps, map + 1);
      by_au[csv.au(r, c_au)].push_back(
          {map,
           {static_cast<float>(csv.number(r, c_distance, std::nan(""))),
            static_cast<float>(csv.number(r, c_auc, std::nan("")))}});
    }
    const std::size_t k = static_cast<std::size_t>(table.maps);
    for (const auto& [au, entries] : by_au) {
      table.au_ids.push_back(au);
      const std::size_t base = table.distance.size();
      table.distance.resize(base + k, std::nanf(""));
      table.auc.resize(base + k, std::nanf(""));
      std::vector<bool> seen(k, false);
      for (const auto& [map, values] : entries) {
        AULENS_REQUIRE(!seen[static_cast<std::size_t>(map)],
                       sweep_csv.string() + ": AU " + std::to_string(au) + " lists map " +
                           std::to_string(map) + " twice (`aulens sweep` writes the file again)");
        seen[static_cast<std::size_t>(map)] = true;
        table.distance[base + map] = values.first;
        table.auc[base + map] = values.second;
      }
      AULENS_REQUIRE(entries.size() == k, sweep_csv.string() + ": AU " + std::to_string(au) +
                                              " lists " + std::to_string(entries.size()) +
                                              " of the " + std::to_string(k) +
                                              " maps (`aulens sweep` writes the file again)");
    }
  } else {
    notes.push_back("sweep.csv is missing: no per-map distance charts (run `" +
                    stage_command(cfg, "sweep") + "`)");
  }

  const fs::path best_csv = run_dir / "best_maps.csv";
  if (fs::exists(best_csv)) {
    const CsvTable csv(best_csv);
    const auto& h = csv.header();
    const int c_au = column_named(h, "au");
    const int c_name = column(h, [](const std::string& s) { return s == "name" || s == "auname"; });
    const int c_status = column_named(h, "status");
    const int c_map = column(h, [](const std::string& s) {
      return s == "bestmap" || s == "map" || s == "bestmapindex";
    });
    const int c_distance =
        column(h, [](const std::string& s) { return s == "distance" || s == "bestdistance"; });
    const int c_margin = column(h, [](const std::string& s) { return s.find("margin") == 0; });
    const int c_p = column(h, [](const std::string& s) { return s == "pvalue" || s == "p"; });
    const int c_with = column(
        h, [](const std::string& s) { return s == "with" || s == "imageswith" || s == "nwith"; });
    const int c_without = column(h, [](const std::string& s) {
      return s == "without" || s == "imageswithout" || s == "nwithout";
    });
    const int c_top_with = column_named(h, "topnwithau");
    const int c_direction = column_named(h, "direction");
    AULENS_REQUIRE(c_au >= 0 && c_map >= 0,
                   best_csv.string() + ": expected columns au and best map in the header");
    constexpr long long kMost = std::numeric_limits<int>::max();
    for (std::size_t r = 1; r < csv.rows(); ++r) {
      BestMap b;
      b.au = csv.au(r, c_au);
      if (csv.cell(r, c_status).rfind("skipped", 0) == 0) {
        notes.push_back("AU" + std::to_string(b.au) + " " + csv.cell(r, c_status));
        continue;
      }
      b.name = csv.cell(r, c_name);
      b.map = csv.integer(r, c_map, -1, 0, kMost);
      if (b.map < 0) {
        notes.push_back("AU" + std::to_string(b.au) + " has no best map in best_maps.csv");
        continue;
      }
      b.distance = csv.number(r, c_distance, std::nan(""));
      b.margin = csv.number(r, c_margin, std::nan(""));
      b.p_value = csv.number(r, c_p, std::nan(""));
      b.with = csv.integer(r, c_with, -1, 0, kMost);
      b.without = csv.integer(r, c_without, -1, 0, kMost);
      b.top_with_au = csv.integer(r, c_top_with, -1, 0, kMost);
      const std::string& direction = csv.cell(r, c_direction);
      if (direction == "higher" || direction == "lower") b.direction = direction;
      table.best.push_back(b);
    }
  } else if (!table.au_ids.empty()) {
    notes.push_back("best_maps.csv is missing: best maps taken from sweep.csv, no p-values");
    const std::size_t k = static_cast<std::size_t>(table.maps);
    for (std::size_t a = 0; a < table.au_ids.size(); ++a) {
      BestMap b;
      b.au = table.au_ids[a];
      float best = -std::numeric_limits<float>::infinity(), second = best;
      for (std::size_t m = 0; m < k; ++m) {
        const float d = table.distance[a * k + m];
        if (!(d == d)) continue;
        if (d > best) {
          second = best;
          best = d;
          b.map = static_cast<int>(m);
        } else if (d > second) {
          second = d;
        }
      }
      b.distance = best;
      b.margin = std::isfinite(second) ? best - second : 0.0;
      b.p_value = std::nan("");
      table.best.push_back(b);
    }
  } else {
    notes.push_back("best_maps.csv is missing: no AU → map table (run `" +
                    stage_command(cfg, "sweep") + "`)");
  }
  return table;
}

void append_ground_truth_columns(const fs::path& csv, const std::vector<RegionScore>& scores) {
  const CsvTable table(csv);
  const auto& header = table.header();
  static const char* kColumns[] = {"region_share", "region_baseline", "region_hit"};
  // Drop earlier ground-truth columns, so rerunning the report replaces them.
  std::vector<int> keep;
  for (std::size_t i = 0; i < header.size(); ++i) {
    const bool ours =
        std::find(std::begin(kColumns), std::end(kColumns), header[i]) != std::end(kColumns);
    if (!ours) keep.push_back(static_cast<int>(i));
  }
  const int c_au = column_named(header, "au");
  std::string out;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    std::vector<std::string> cells;
    for (const int i : keep) cells.push_back(table.cell(r, i));
    if (r == 0) {
      for (const char* name : kColumns) cells.push_back(name);
    } else {
      const RegionScore* found = nullptr;
      if (c_au >= 0) {
        const std::int32_t au = table.au(r, c_au);
        for (const RegionScore& s : scores)
          if (s.au == au && s.scored) found = &s;
      }
      char buffer[64];
      if (found) {
        std::snprintf(buffer, sizeof(buffer), "%.4f", found->share);
        cells.push_back(buffer);
        std::snprintf(buffer, sizeof(buffer), "%.4f", found->baseline);
        cells.push_back(buffer);
        cells.push_back(found->hit ? "1" : "0");
      } else {
        cells.insert(cells.end(), {"", "", ""});
      }
    }
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += csv_field(cells[i]);
    }
    out += "\n";
  }
  write_file_atomically(csv, out);
}

Tensor as_i32(const Tensor& t) {
  Tensor host = t.to(Device::cpu);
  if (host.dtype() == DType::i32) return host;
  Tensor out(host.shape(), DType::i32);
  std::int32_t* dst = out.data<std::int32_t>();
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    switch (host.dtype()) {
      case DType::i64:
        dst[i] = static_cast<std::int32_t>(host.data<std::int64_t>()[i]);
        break;
      case DType::u8:
        dst[i] = host.data<std::uint8_t>()[i];
        break;
      case DType::f32:
        dst[i] = static_cast<std::int32_t>(host.data<float>()[i]);
        break;
      case DType::f64:
        dst[i] = static_cast<std::int32_t>(host.data<double>()[i]);
        break;
      default:
        break;
    }
  }
  return out;
}

Tensor as_f32(const Tensor& t) {
  Tensor host = t.to(Device::cpu);
  if (host.dtype() == DType::f32) return host;
  Tensor out(host.shape(), DType::f32);
  float* dst = out.data<float>();
  for (std::int64_t i = 0; i < host.numel(); ++i) {
    switch (host.dtype()) {
      case DType::f64:
        dst[i] = static_cast<float>(host.data<double>()[i]);
        break;
      case DType::i32:
        dst[i] = static_cast<float>(host.data<std::int32_t>()[i]);
        break;
      case DType::i64:
        dst[i] = static_cast<float>(host.data<std::int64_t>()[i]);
        break;
      case DType::u8:
        dst[i] = host.data<std::uint8_t>()[i];
        break;
      default:
        break;
    }
  }
  return out;
}

}  // namespace aulens::report_detail
