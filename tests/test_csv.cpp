// aulens/csv.h, the one CSV reader and field quoting behind the manifest reader, the report's
// readers and the CSV writers: quoted commas and line breaks, "" escapes, LF/CRLF/CR record ends,
// blank lines, a round trip through csv_field, and the error for a quote that is never closed
// (naming the file and the line where its record starts).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "aulens/check.h"
#include "aulens/csv.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

std::vector<std::vector<std::string>> records(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> fields;
  std::size_t pos = 0;
  bool unterminated = false;
  while (read_csv_record(text, pos, fields, unterminated)) {
    EXPECT_FALSE(unterminated);
    out.push_back(fields);
  }
  return out;
}

TEST(Csv, RecordsWithQuotesAndLineEnds) {
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(records("a,b\r\nc,\"d,e\"\n\"f\"\"g\",\"h\ni\"\rj"),
            (Rows{{"a", "b"}, {"c", "d,e"}, {"f\"g", "h\ni"}, {"j"}}));
  EXPECT_EQ(records(" a , b "), (Rows{{" a ", " b "}}));  // untrimmed
  EXPECT_EQ(records("x,\n"), (Rows{{"x", ""}}));
  EXPECT_TRUE(records("").empty());
  std::vector<std::string> fields;
  std::size_t pos = 0;
  bool unterminated = false;
  ASSERT_TRUE(read_csv_record("a,\"b", pos, fields, unterminated));
  EXPECT_TRUE(unterminated);
}

TEST(Csv, FieldQuotingRoundTrips) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  const std::vector<std::string> fields = {"x", "a,b", "q\"q", "line\nbreak", "cr\rlf", ""};
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
  std::vector<std::string> back;
  std::size_t pos = 0;
  bool unterminated = false;
  ASSERT_TRUE(read_csv_record(line, pos, back, unterminated));
  EXPECT_EQ(back, fields);
  EXPECT_EQ(pos, line.size());
}

TEST(Csv, FilesSkipBlankLinesAndNameAnOpenQuote) {
  const fs::path dir = fs::temp_directory_path() / "aulens_test_csv";
  fs::create_directories(dir);
  const fs::path good = dir / "good.csv", bad = dir / "bad.csv";
  std::ofstream(good) << "h1,h2\n\n1,\"two\nlines\"\n\n3,4\n";
  const auto rows = read_csv_file(good);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][1], "two\nlines");
  EXPECT_EQ(rows[2][0], "3");
  std::ofstream(bad) << "h1,h2\n1,2\n\"3,4\n5,6\n";
  try {
    read_csv_file(bad);
    FAIL() << "an unterminated quote must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_csv_file(dir / "missing.csv"), Error);
}

}  // namespace
}  // namespace aulens
