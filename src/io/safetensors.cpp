// safetensors reader and writer (see aulens/safetensors.h).
//
// File layout: u64 little-endian header length N | N bytes of JSON header, padded with spaces to a
// multiple of 8 | data section. The header maps each tensor name to
// {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} with offsets relative to the start
// of the data section, plus an optional "__metadata__" object of string → string. The writer lays
// tensors out contiguously in the order of their sorted names; the reader accepts any order but
// rejects ranges that leave the data section or overlap.
#include "aulens/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "aulens/atomic_file.h"

namespace aulens {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::uint64_t kHeaderPrefixBytes = 8;

// One tensor entry of the header, validated.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0;  // byte offsets into the data section
  std::uint64_t end = 0;
};

// The validated header of a file.
struct Header {
  std::vector<Entry> entries;  // in header order
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // absolute file offset of the data section
};

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw Error("safetensors file '" + path.string() + "': " + what);
}

[[noreturn]] void fail_tensor(const std::filesystem::path& path, const std::string& name,
                              const std::string& what) {
  fail(path, "tensor '" + name + "': " + what);
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    if (name == dtype_name(d)) return d;
  }
  return std::nullopt;
}

// A non-negative JSON integer, or nullopt.
std::optional<std::uint64_t> as_u64(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return v.get<std::uint64_t>();
  return std::nullopt;
}

Entry parse_entry(const std::filesystem::path& path, const std::string& name,
                  const nlohmann::json& info) {
  if (!info.is_object())
    fail_tensor(path, name, "entry is " + std::string(info.type_name()) + ", expected an object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) fail_tensor(path, name, std::string("missing \"") + key + "\"");
  }
  Entry e;
  e.name = name;

  const nlohmann::json& dtype = info["dtype"];
  if (!dtype.is_string())
    fail_tensor(path, name, "\"dtype\" must be a string, got " + dtype.dump());
  std::optional<DType> parsed = parse_dtype(dtype.get<std::string>());
  if (!parsed) {
    fail_tensor(
        path, name,
        "unknown dtype '" + dtype.get<std::string>() + "' (supported: F32, F64, I32, I64, U8)");
  }
  e.dtype = *parsed;

  const nlohmann::json& shape = info["shape"];
  if (!shape.is_array()) fail_tensor(path, name, "\"shape\" must be an array, got " + shape.dump());
  // numel × element size must fit in 64 bits; check as we go so a hostile shape cannot overflow.
  std::uint64_t bytes = dtype_size(e.dtype);
  bool overflow = false;
  bool has_zero_dim = false;
  for (const nlohmann::json& d : shape) {
    std::optional<std::uint64_t> dim = as_u64(d);
    if (!dim || *dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail_tensor(path, name, "\"shape\" must hold non-negative integers, got " + shape.dump());
    }
    e.shape.push_back(static_cast<std::int64_t>(*dim));
    if (*dim == 0) has_zero_dim = true;
    if (*dim != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / *dim) overflow = true;
    bytes *= *dim;
  }
  if (has_zero_dim) {  // the product is 0 whatever came before
    overflow = false;
    bytes = 0;
  }

  const nlohmann::json& offsets = info["data_offsets"];
  std::optional<std::uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = as_u64(offsets[0]);
    end = as_u64(offsets[1]);
  }
  if (!begin || !end || *end < *begin) {
    fail_tensor(
        path, name,
        "\"data_offsets\" must be [begin, end] with 0 <= begin <= end, got " + offsets.dump());
  }
  e.begin = *begin;
  e.end = *end;
  if (overflow || bytes != e.end - e.begin) {
    fail_tensor(path, name,
                "shape " + shape_string(e.shape) + " of " + dtype_name(e.dtype) + " needs " +
                    (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
                    " bytes, but data_offsets [" + std::to_string(e.begin) + ", " +
                    std::to_string(e.end) + "] span " + std::to_string(e.end - e.begin));
  }
  return e;
}

// Reads and validates the header (everything except the tensor bytes).
Header read_header(const std::filesystem::path& path, std::ifstream& in) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail(path, std::filesystem::exists(path, ec) ? "is not a regular file" : "does not exist");
  }
  const std::uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read its size: " + ec.message());
  in.open(path, std::ios::binary);
  if (!in) fail(path, "cannot be opened for reading");
  if (file_size < kHeaderPrefixBytes) {
    fail(path, "is " + std::to_string(file_size) +
                   " bytes long, shorter than the 8-byte header length that starts the format");
  }

  unsigned char prefix[kHeaderPrefixBytes];
  in.read(reinterpret_cast<char*>(prefix), kHeaderPrefixBytes);
  if (!in) fail(path, "cannot read the header length");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | prefix[i];
  if (header_len > file_size - kHeaderPrefixBytes) {
    fail(path, "header length " + std::to_string(header_len) + " is larger than the " +
                   std::to_string(file_size - kHeaderPrefixBytes) +
                   " bytes that follow it (file size " + std::to_string(file_size) + ")");
  }

  std::string text(header_len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_len));
  if (!in) fail(path, "cannot read the " + std::to_string(header_len) + "-byte header");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) {
    fail(path, "header is a JSON " + std::string(header.type_name()) + ", expected an object");
  }

  Header result;
  result.data_start = kHeaderPrefixBytes + header_len;
  const std::uint64_t data_size = file_size - result.data_start;
  for (const auto& [name, info] : header.items()) {
    if (name == kMetadataKey) {
      if (!info.is_object()) fail(path, "\"__metadata__\" must be an object of strings");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) {
          fail(path,
               "\"__metadata__\" value of '" + key + "' must be a string, got " + value.dump());
        }
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    Entry e = parse_entry(path, name, info);
    if (e.end > data_size) {
      fail_tensor(path, name,
                  "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                      "] reach past the data section of " + std::to_string(data_size) + " bytes");
    }
    result.entries.push_back(std::move(e));
  }

  // Overlap check on non-empty ranges sorted by start.
  std::vector<const Entry*> by_begin;
  for (const Entry& e : result.entries) {
    if (e.end > e.begin) by_begin.push_back(&e);
  }
  std::sort(by_begin.begin(), by_begin.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_begin.size(); ++i) {
    const Entry& prev = *by_begin[i - 1];
    const Entry& cur = *by_begin[i];
    if (cur.begin < prev.end) {
      fail(path, "tensors '" + prev.name + "' [" + std::to_string(prev.begin) + ", " +
                     std::to_string(prev.end) + "] and '" + cur.name + "' [" +
                     std::to_string(cur.begin) + ", " + std::to_string(cur.end) + "] overlap");
    }
  }
  return result;
}

// Reads one tensor's bytes into a new host tensor.
Tensor read_tensor(const std::filesystem::path& path, std::ifstream& in, const Header& header,
                   const Entry& e) {
  Tensor t(e.shape, e.dtype, Device::cpu);
  if (t.nbytes() == 0) return t;
  in.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
  in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) fail_tensor(path, e.name, "cannot read its " + std::to_string(t.nbytes()) + " bytes");
  return t;
}

}  // namespace

void save_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps "__metadata__" first and the tensors in sorted order, like the reference.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;

  std::vector<Tensor> host_tensors;         // keeps device copies alive until written
  std::vector<std::string_view> pieces(1);  // [0] = prefix + header, filled below
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    AULENS_CHECK(name != kMetadataKey,
                 "save_safetensors('" + path.string() + "'): '__metadata__' cannot name a tensor");
    AULENS_CHECK(tensor.defined(),
                 "save_safetensors('" + path.string() + "'): tensor '" + name + "' has no storage");
    Tensor host = tensor.device() == Device::cpu ? tensor : tensor.to(Device::cpu);
    const std::uint64_t bytes = host.nbytes();
    header[name] = {{"dtype", dtype_name(host.dtype())},
                    {"shape", host.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    pieces.emplace_back(static_cast<const char*>(host.raw()), bytes);
    host_tensors.push_back(std::move(host));
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error("save_safetensors('" + path.string() + "'): cannot encode the header: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string head(kHeaderPrefixBytes, '\0');
  for (std::size_t i = 0; i < kHeaderPrefixBytes; ++i) {
    head[i] = static_cast<char>((static_cast<std::uint64_t>(text.size()) >> (8 * i)) & 0xff);
  }
  head += text;
  pieces[0] = head;
  write_file_atomically(path, pieces);
}

SafeTensors load_safetensors(const std::filesystem::path& path) {
  std::ifstream in;
  Header header = read_header(path, in);
  SafeTensors result;
  result.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) result.tensors[e.name] = read_tensor(path, in, header, e);
  return result;
}

SafeTensorsHeader read_safetensors_header(const std::filesystem::path& path) {
  std::ifstream in;
  Header header = read_header(path, in);
  SafeTensorsHeader result;
  result.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) result.tensor_names.push_back(e.name);
  return result;
}

void load_into(const std::filesystem::path& path, const std::map<std::string, Tensor*>& expected) {
  std::ifstream in;
  Header header = read_header(path, in);
  std::map<std::string, const Entry*> entries;
  for (const Entry& e : header.entries) entries[e.name] = &e;

  // Check everything first and report every mismatch at once.
  std::string problems;
  auto add_problem = [&](const std::string& name, const std::string& what) {
    problems += (problems.empty() ? "" : "; ") + ("tensor '" + name + "': " + what);
  };
  for (const auto& [name, dest] : expected) {
    AULENS_CHECK(dest != nullptr,
                 "load_into('" + path.string() + "'): destination for '" + name + "' is null");
    auto found = entries.find(name);
    if (found == entries.end()) {
      add_problem(name, "missing (expected " + std::string(dtype_name(dest->dtype())) + " " +
                            shape_string(dest->shape()) + ")");
      continue;
    }
    const Entry& e = *found->second;
    if (e.dtype != dest->dtype() || e.shape != dest->shape()) {
      add_problem(name, "expected " + std::string(dtype_name(dest->dtype())) + " " +
                            shape_string(dest->shape()) + ", found " + dtype_name(e.dtype) + " " +
                            shape_string(e.shape));
    }
  }
  if (!problems.empty()) fail(path, problems);

  // Read everything to the host before touching any destination, so a read error midway also
  // leaves them untouched.
  std::vector<std::pair<Tensor*, Tensor>> staged;
  for (const auto& [name, dest] : expected) {
    staged.emplace_back(dest, read_tensor(path, in, header, *entries.at(name)));
  }
  for (auto& [dest, host] : staged) dest->copy_from(host);
}

}  // namespace aulens
