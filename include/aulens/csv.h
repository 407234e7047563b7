// CSV as aulens reads and writes it (RFC 4180 style): fields separated by commas; a field in
// double quotes may hold commas and line breaks, and "" inside it is one quote; a record ends at
// LF, CRLF or CR. Used by the manifest reader, the report's readers and every CSV writer.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace aulens {

// `text` as one CSV field: unchanged, or quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

// Reads the record that starts at text[pos] into `fields` (untrimmed) and moves pos past its line
// break. Returns false, with no fields, when nothing is left. `unterminated` is set when the text
// ended inside quotes (the rest of the text is then the last field).
bool read_csv_record(const std::string& text, std::size_t& pos, std::vector<std::string>& fields,
                     bool& unterminated);

// Every record of a file, blank lines skipped. Throws aulens::Error naming the file when it
// cannot be read or a quote is never closed (with the line where that record starts).
std::vector<std::vector<std::string>> read_csv_file(const std::filesystem::path& file);

}  // namespace aulens
