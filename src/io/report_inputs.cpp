// Reading the sweep's outputs for the report (see report_inputs.h).
#include "report_inputs.h"

#include <algorithm>
#include <cctype>
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

double number(const std::vector<std::string>& row, int col, double fallback) {
  if (col < 0 || col >= static_cast<int>(row.size()) || row[col].empty()) return fallback;
  try {
    return std::stod(row[col]);
  } catch (const std::exception&) {
    return fallback;
  }
}

// "AU12" or "12" → 12.
std::int32_t au_number(const std::string& text) {
  std::string digits;
  for (const char c : text)
    if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  AULENS_REQUIRE(!digits.empty(), "expected an AU number, got '" + text + "'");
  return static_cast<std::int32_t>(std::stol(digits));
}

}  // namespace

SweepTable read_sweep(const RunConfig& cfg, const fs::path& run_dir,
                      std::vector<std::string>& notes) {
  SweepTable table;
  const fs::path sweep_csv = run_dir / "sweep.csv";
  if (fs::exists(sweep_csv)) {
    const CsvRows rows = read_csv_file(sweep_csv);
    AULENS_REQUIRE(!rows.empty(), sweep_csv.string() + ": empty");
    const auto& header = rows[0];
    const int c_au = column_named(header, "au");
    const int c_map = column_named(header, "map");
    const int c_distance = column_named(header, "distance");
    const int c_auc =
        column(header, [](const std::string& s) { return s == "auc" || s == "rocauc"; });
    AULENS_REQUIRE(c_au >= 0 && c_map >= 0 && c_distance >= 0,
                   sweep_csv.string() + ": expected columns au, map, distance in the header");
    std::map<std::int32_t, std::vector<std::pair<int, std::pair<float, float>>>> by_au;
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const auto& row = rows[r];
      if (static_cast<int>(row.size()) <= std::max({c_au, c_map, c_distance})) continue;
      const int map = static_cast<int>(number(row, c_map, -1));
      if (map < 0) continue;
      table.maps = std::max(table.maps, map + 1);
      by_au[au_number(row[c_au])].push_back(
          {map,
           {static_cast<float>(number(row, c_distance, std::nan(""))),
            static_cast<float>(number(row, c_auc, std::nan("")))}});
    }
    const std::size_t k = static_cast<std::size_t>(table.maps);
    for (const auto& [au, entries] : by_au) {
      table.au_ids.push_back(au);
      const std::size_t base = table.distance.size();
      table.distance.resize(base + k, std::nanf(""));
      table.auc.resize(base + k, std::nanf(""));
      for (const auto& [map, values] : entries) {
        table.distance[base + map] = values.first;
        table.auc[base + map] = values.second;
      }
    }
  } else {
    notes.push_back("sweep.csv is missing: no per-map distance charts (run `" +
                    stage_command(cfg, "sweep") + "`)");
  }

  const fs::path best_csv = run_dir / "best_maps.csv";
  if (fs::exists(best_csv)) {
    const CsvRows rows = read_csv_file(best_csv);
    AULENS_REQUIRE(!rows.empty(), best_csv.string() + ": empty");
    const auto& h = rows[0];
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
    for (std::size_t r = 1; r < rows.size(); ++r) {
      const auto& row = rows[r];
      if (static_cast<int>(row.size()) <= std::max(c_au, c_map)) continue;
      BestMap b;
      b.au = au_number(row[c_au]);
      if (c_status >= 0 && c_status < static_cast<int>(row.size()) &&
          row[c_status].rfind("skipped", 0) == 0) {
        notes.push_back("AU" + std::to_string(b.au) + " " + row[c_status]);
        continue;
      }
      b.name = c_name >= 0 && c_name < static_cast<int>(row.size()) ? row[c_name] : "";
      b.map = static_cast<int>(number(row, c_map, -1));
      b.distance = number(row, c_distance, std::nan(""));
      b.margin = number(row, c_margin, std::nan(""));
      b.p_value = number(row, c_p, std::nan(""));
      b.with = static_cast<int>(number(row, c_with, -1));
      b.without = static_cast<int>(number(row, c_without, -1));
      b.top_with_au = static_cast<int>(number(row, c_top_with, -1));
      if (c_direction >= 0 && c_direction < static_cast<int>(row.size()) &&
          (row[c_direction] == "higher" || row[c_direction] == "lower"))
        b.direction = row[c_direction];
      if (b.map >= 0) table.best.push_back(b);
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
  CsvRows rows = read_csv_file(csv);
  AULENS_REQUIRE(!rows.empty(), csv.string() + ": empty");
  static const char* kColumns[] = {"region_share", "region_baseline", "region_hit"};
  // Drop earlier ground-truth columns, so rerunning the report replaces them.
  std::vector<int> keep;
  for (std::size_t i = 0; i < rows[0].size(); ++i) {
    const bool ours =
        std::find(std::begin(kColumns), std::end(kColumns), rows[0][i]) != std::end(kColumns);
    if (!ours) keep.push_back(static_cast<int>(i));
  }
  const int c_au = column_named(rows[0], "au");
  std::string out;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::string> cells;
    for (const int i : keep)
      cells.push_back(i < static_cast<int>(rows[r].size()) ? rows[r][i] : "");
    if (r == 0) {
      for (const char* name : kColumns) cells.push_back(name);
    } else {
      const RegionScore* found = nullptr;
      if (c_au >= 0 && c_au < static_cast<int>(rows[r].size())) {
        const std::int32_t au = au_number(rows[r][c_au]);
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
