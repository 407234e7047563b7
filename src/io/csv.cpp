// The CSV reader and field quoting of aulens/csv.h.
#include "aulens/csv.h"

#include <fstream>
#include <sstream>

#include "aulens/check.h"

namespace aulens {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

bool read_csv_record(const std::string& text, std::size_t& pos, std::vector<std::string>& fields,
                     bool& unterminated) {
  fields.clear();
  unterminated = false;
  if (pos >= text.size()) return false;
  std::string field;
  bool quoted = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (quoted) {
      if (c == '"' && pos + 1 < text.size() && text[pos + 1] == '"') {
        field += '"';
        ++pos;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      pos += (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
      fields.push_back(std::move(field));
      return true;
    } else {
      field += c;
    }
  }
  unterminated = quoted;
  fields.push_back(std::move(field));
  return true;
}

std::vector<std::vector<std::string>> read_csv_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  AULENS_REQUIRE(static_cast<bool>(in), file.string() + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  std::size_t pos = 0;
  int line = 1;  // where the current record starts
  bool unterminated = false;
  while (true) {
    const std::size_t start = pos;
    if (!read_csv_record(text, pos, fields, unterminated)) break;
    AULENS_REQUIRE(!unterminated,
                   file.string() + ":" + std::to_string(line) + ": a quoted field is never closed");
    for (std::size_t i = start; i < pos; ++i) {
      if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= pos || text[i + 1] != '\n'))) ++line;
    }
    const bool blank = fields.size() == 1 && fields[0].empty();
    if (!blank) rows.push_back(std::move(fields));
  }
  return rows;
}

}  // namespace aulens
