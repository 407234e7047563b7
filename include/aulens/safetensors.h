// safetensors read/write (https-free spec summary: an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}},
// then the raw little-endian tensor bytes). Used for checkpoints (PyTorch parameter names and
// layouts), the dataset cache, activation records and sweep results.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "aulens/tensor.h"

namespace aulens {

struct SafeTensors {
  std::map<std::string, Tensor> tensors;           // host tensors
  std::map<std::string, std::string> metadata;     // the "__metadata__" object
};

// Writes all tensors (device tensors are copied to the host) to `path` atomically: the bytes go
// to a temporary file beside it, which is flushed and renamed over `path`.
void save_safetensors(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates the whole file: header length, JSON, dtypes, shapes against byte ranges,
// ranges inside the file and not overlapping. Any problem throws aulens::Error naming the file
// (and the tensor, when one is at fault); nothing is returned partially.
SafeTensors load_safetensors(const std::filesystem::path& path);

// The validated header alone (tensor names and the metadata; the tensors' bytes are not read),
// for deciding about a file before loading it.
struct SafeTensorsHeader {
  std::vector<std::string> tensor_names;        // in header order
  std::map<std::string, std::string> metadata;  // the "__metadata__" object
};
SafeTensorsHeader read_safetensors_header(const std::filesystem::path& path);

// Loads the tensors named in `expected` (name → destination tensor of the required shape and
// dtype, on any device). Every name must exist with that dtype and shape, else aulens::Error naming
// the file and the tensor; all checks happen before the first destination is written, so a
// failure leaves every destination untouched.
void load_into(const std::filesystem::path& path, const std::map<std::string, Tensor*>& expected);

}  // namespace aulens
