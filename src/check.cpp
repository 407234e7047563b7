#include "aulens/check.h"

#include <filesystem>

namespace aulens {

void throw_error(const std::string& what, const char* file, int line) {
  throw Error(what + " (at " + std::filesystem::path(file).filename().string() + ":" +
              std::to_string(line) + ")");
}

}  // namespace aulens
