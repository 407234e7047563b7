// Host-side error checks. Every failure throws aulens::Error naming what failed, the file and
// the line, so a caller never has to decode an error code.
#pragma once

#include <stdexcept>
#include <string>

namespace aulens {

// The one exception type aulens throws for bad input, bad state and failed library calls.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_error(const std::string& what, const char* file, int line);

}  // namespace aulens

// AULENS_CHECK(cond, message): throws aulens::Error("message (cond) at file:line") when !cond.
// `message` may be any expression convertible to std::string.
#define AULENS_CHECK(cond, message)                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      ::aulens::throw_error(std::string(message) + " [" #cond "]", __FILE__, __LINE__); \
    }                                                                                  \
  } while (0)

// AULENS_REQUIRE(cond, message): throws aulens::Error(message) when !cond. For input or setup the
// user can fix (a missing file, a mismatched config), where the message must say it all and the
// condition text and source line would only be noise; AULENS_CHECK is for everything else.
#define AULENS_REQUIRE(cond, message)                               \
  do {                                                              \
    if (!(cond)) throw ::aulens::Error(std::string(message));       \
  } while (0)
