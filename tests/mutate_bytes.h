// Random damage for the fuzz tests (tests/test_fuzz_readers.cpp, the report's, the CLI's): one to
// four edits of a file's bytes — a byte replaced or a bit flipped, the file cut short, a span
// dropped or repeated, or a piece of text a parser may trip over put in or in place of a token.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace aulens::testing {

// How many times the usual number of damaged copies a fuzz test reads: AULENS_FUZZ_ROUNDS (default
// 1), for longer runs by hand.
inline int fuzz_rounds() {
  const char* given = std::getenv("AULENS_FUZZ_ROUNDS");
  return given != nullptr && *given != '\0' ? std::max(1, std::atoi(given)) : 1;
}

// Text a parser may trip over: numbers out of every range, non-numbers, and the punctuation of
// YAML, JSON and CSV.
inline const std::vector<std::string>& interesting_pieces() {
  // clang-format off
  static const std::vector<std::string> pieces = {
      "0", "-1", "1e308", "-1e308", "1e-320", "nan", "inf", "-inf", "99999999999999999999",
      "2147483648", "-2147483649", "18446744073709551616", "0x10", "1.5", " ", "\n", "\r\n",
      "\t", ",", "\"", "'", ":", "-", "[", "]", "{", "}", "#", "&a", "*a", "!!str", "|", ">",
      "\\", "\\u0000", std::string(1, '\0'), "\xef\xbb\xbf", "\xff\xfe", "null", "true",
      "[]", "{}", "~"};
  // clang-format on
  return pieces;
}

// One to four random edits of `bytes`. With `focus` > 0, positions fall in [0, focus) four times
// in five (the header of a binary file, where the parsing happens).
inline std::string mutate(std::string bytes, std::mt19937_64& rng, std::size_t focus = 0) {
  auto position = [&](std::size_t size) -> std::size_t {
    if (size == 0) return 0;
    const bool in_focus = focus > 0 && std::uniform_int_distribution<int>(0, 4)(rng) != 0;
    const std::size_t limit = in_focus ? std::min(focus, size) : size;
    return std::uniform_int_distribution<std::size_t>(0, limit - 1)(rng);
  };
  const int edits = std::uniform_int_distribution<int>(1, 4)(rng);
  for (int e = 0; e < edits; ++e) {
    const std::size_t at = position(bytes.size());
    switch (std::uniform_int_distribution<int>(0, 6)(rng)) {
      case 0:  // one byte replaced by any value
        if (!bytes.empty()) bytes[at] = static_cast<char>(rng());
        break;
      case 1: {  // one byte's bit flipped
        if (!bytes.empty()) bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
        break;
      }
      case 2:  // cut short
        bytes.resize(at);
        break;
      case 3: {  // a span dropped
        const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 16)(rng);
        bytes.erase(at, n);
        break;
      }
      case 4: {  // a span repeated
        const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 64)(rng);
        bytes.insert(at, bytes.substr(at, n));
        break;
      }
      case 5: {  // a piece put in
        const auto& pieces = interesting_pieces();
        bytes.insert(at, pieces[rng() % pieces.size()]);
        break;
      }
      default: {  // a piece put in place of the token there (up to the next blank or comma)
        const auto& pieces = interesting_pieces();
        std::size_t end = at;
        while (end < bytes.size() && end - at < 24 && bytes[end] != ' ' && bytes[end] != '\n' &&
               bytes[end] != ',')
          ++end;
        bytes.replace(at, end - at, pieces[rng() % pieces.size()]);
        break;
      }
    }
  }
  return bytes;
}

// Where a safetensors file's header ends (its 8-byte length, then the JSON): the `focus` for
// mutate, since the tensor data after it is opaque bytes. 0 for a file too short to say.
inline std::size_t safetensors_header_end(const std::string& bytes) {
  if (bytes.size() < 8) return 0;
  std::uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  return static_cast<std::size_t>(8 + length);
}

}  // namespace aulens::testing
