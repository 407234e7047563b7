// Atomic file output: the bytes go to "<path>.tmp-<pid>" beside the target, are flushed to disk
// (fsync) and the temporary is renamed over `path`, so a killed run leaves either the old file or
// the complete new one, never a half-written one. Used for every output aulens writes
// (safetensors, CSV, JSON, YAML, HTML).
#pragma once

#include <filesystem>
#include <span>
#include <string_view>

namespace aulens {

// Writes `bytes` to `path` atomically, creating missing parent directories. Throws aulens::Error
// naming the path and the failing step (the temporary is removed on failure).
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// The same for a file made of several pieces written in order, so large outputs (a safetensors
// header followed by tensor data) need not be joined into one buffer first.
void write_file_atomically(const std::filesystem::path& path,
                           std::span<const std::string_view> pieces);

}  // namespace aulens
