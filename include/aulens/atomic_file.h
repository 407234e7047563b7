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

// Makes `path` a second name of the complete file `existing` in the same directory, atomically:
// a hard link made beside `path` is renamed over it, so `path` holds either its old bytes or those
// of `existing`. Later atomic writes to either name replace that name alone. Returns false, and
// leaves `path` as it was, where no hard link can be made (a filesystem without them, `existing`
// missing, no space); the caller then writes the bytes instead. Throws aulens::Error if the rename
// itself fails.
bool link_file_atomically(const std::filesystem::path& existing, const std::filesystem::path& path);

}  // namespace aulens
