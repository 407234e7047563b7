// The HTML of the report (aulens/report.h): static tables rendered here with every string
// HTML-escaped, charts and the sortable gallery drawn in the page from the embedded JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace aulens::report_detail {

// The whole index.html for the report document `doc` (built in report.cpp). `with_charts`: the
// page loads chart.js from its folder.
std::string render_page(const nlohmann::json& doc, bool with_charts);

}  // namespace aulens::report_detail
