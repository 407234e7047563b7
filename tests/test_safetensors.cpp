// safetensors reader/writer and the atomic file helper: bit-exact round trip of every dtype (with
// an empty tensor and a scalar), the on-disk layout checked by an independent minimal reader, one
// hand-made broken file per kind of bad input, and load_into's all-or-nothing rule.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "aulens/atomic_file.h"
#include "aulens/safetensors.h"
#include "fresh_seed.h"

namespace aulens {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("aulens_test_safetensors_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// A tensor of `shape` and `dtype` whose bytes are random (NaN patterns included for floats, which
// is fine: comparisons are bitwise).
Tensor random_tensor(Shape shape, DType dtype, std::mt19937_64& rng) {
  Tensor t(std::move(shape), dtype);
  auto* bytes = static_cast<unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(rng());
  return t;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes a hand-made file: the u64 length of `header` (or `claimed_len`), `header`, `data`.
void write_raw(const fs::path& path, const std::string& header, const std::string& data = "",
               std::int64_t claimed_len = -1) {
  std::uint64_t len = claimed_len >= 0 ? static_cast<std::uint64_t>(claimed_len) : header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  bytes += header;
  bytes += data;
  std::ofstream(path, std::ios::binary) << bytes;
}

// Runs `fn`, expects aulens::Error whose message contains every one of `needles`.
template <class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& needle : needles) {
      EXPECT_NE(message.find(needle), std::string::npos)
          << "message lacks \"" << needle << "\": " << message;
    }
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-aulens exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "did not throw";
}

void expect_bit_equal(const std::string& name, const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.dtype(), expected.dtype()) << name;
  ASSERT_EQ(actual.shape(), expected.shape()) << name;
  const auto* a = static_cast<const unsigned char*>(actual.raw());
  const auto* b = static_cast<const unsigned char*>(expected.raw());
  for (std::size_t i = 0; i < expected.nbytes(); ++i) {
    ASSERT_EQ(a[i], b[i]) << name << ": first differing byte at " << i;
  }
}

std::map<std::string, Tensor> every_dtype(std::mt19937_64& rng) {
  return {
      {"conv1.weight", random_tensor({4, 1, 5, 5}, DType::f32, rng)},
      {"b.f64", random_tensor({3, 7}, DType::f64, rng)},
      {"c.i32", random_tensor({11}, DType::i32, rng)},
      {"d.i64", random_tensor({2, 3, 2}, DType::i64, rng)},
      {"e.u8", random_tensor({5, 3}, DType::u8, rng)},  // 15 bytes: the next tensor is unaligned
      {"f.empty", random_tensor({0, 4}, DType::f32, rng)},
      {"g.scalar", random_tensor({}, DType::f64, rng)},
  };
}

TEST_F(SafetensorsTest, RoundTripIsBitExactForEveryDtype) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::map<std::string, Tensor> tensors = every_dtype(rng);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "grüße, \"quoted\"\n"}, {"empty", ""}};
  const fs::path path = dir_ / "nested" / "dir" / "t.safetensors";  // parents are created

  save_safetensors(path, tensors, metadata);
  SafeTensors loaded = load_safetensors(path);

  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name << " missing after the round trip";
    expect_bit_equal(name, loaded.tensors.at(name), expected);
  }
  EXPECT_EQ(loaded.tensors.at("g.scalar").rank(), 0);
  EXPECT_EQ(loaded.tensors.at("g.scalar").numel(), 1);
  // The header alone gives the same names and metadata.
  const SafeTensorsHeader header = read_safetensors_header(path);
  EXPECT_EQ(header.metadata, metadata);
  std::vector<std::string> names(header.tensor_names);
  std::sort(names.begin(), names.end());
  std::vector<std::string> want;
  for (const auto& [name, tensor] : tensors) want.push_back(name);
  EXPECT_EQ(names, want);
  // No temporary is left beside the output.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(path.parent_path())) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "t.safetensors");
  }
  EXPECT_EQ(files, 1);
}

TEST_F(SafetensorsTest, EmptyFileWithoutMetadataRoundTrips) {
  const fs::path path = dir_ / "empty.safetensors";
  save_safetensors(path, {});
  SafeTensors loaded = load_safetensors(path);
  EXPECT_TRUE(loaded.tensors.empty());
  EXPECT_TRUE(loaded.metadata.empty());
}

// Reads the file with nothing but the format's definition: u64 LE length, JSON, raw bytes.
TEST_F(SafetensorsTest, IndependentMinimalReaderAgrees) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::map<std::string, Tensor> tensors = every_dtype(rng);
  const fs::path path = dir_ / "t.safetensors";
  save_safetensors(path, tensors, {{"k", "v"}});

  const std::string bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_len % 8, 0u) << "header is padded to a multiple of 8";
  ASSERT_LE(8 + header_len, bytes.size());
  const std::string header_text = bytes.substr(8, header_len);
  const nlohmann::json header = nlohmann::json::parse(header_text);  // trailing spaces are legal
  const std::string data = bytes.substr(8 + header_len);

  ASSERT_TRUE(header.contains("__metadata__"));
  EXPECT_EQ(header["__metadata__"], nlohmann::json({{"k", "v"}}));
  EXPECT_EQ(header.size(), tensors.size() + 1);

  // Layout: contiguous, in sorted-name order, from 0 to the end of the file.
  std::uint64_t expected_begin = 0;
  for (const auto& [name, tensor] : tensors) {  // std::map iterates in sorted order
    SCOPED_TRACE(name);
    ASSERT_TRUE(header.contains(name));
    const nlohmann::json& info = header[name];
    EXPECT_EQ(info["dtype"].get<std::string>(), dtype_name(tensor.dtype()));
    EXPECT_EQ(info["shape"].get<std::vector<std::int64_t>>(), tensor.shape());
    const auto begin = info["data_offsets"][0].get<std::uint64_t>();
    const auto end = info["data_offsets"][1].get<std::uint64_t>();
    EXPECT_EQ(begin, expected_begin);
    ASSERT_EQ(end - begin, tensor.nbytes());
    ASSERT_LE(end, data.size());
    EXPECT_EQ(std::memcmp(data.data() + begin, tensor.raw(), tensor.nbytes()), 0);
    expected_begin = end;
  }
  EXPECT_EQ(expected_begin, data.size()) << "no bytes after the last tensor";
}

TEST_F(SafetensorsTest, ReadsFileWithUnpaddedHeaderAndAnyOrder) {
  // Another writer may skip padding and order tensors differently; both are legal.
  std::string data(4 + 8, '\0');
  const float value = 2.5f;
  const std::int64_t count = -7;
  std::memcpy(data.data(), &value, 4);
  std::memcpy(data.data() + 4, &count, 8);
  write_raw(dir_ / "other.safetensors",
            R"({"z":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("a":{"dtype":"I64","shape":[],"data_offsets":[4,12]}})",
            data);
  SafeTensors loaded = load_safetensors(dir_ / "other.safetensors");
  EXPECT_EQ(loaded.tensors.at("z").to_vector<float>(), std::vector<float>{2.5f});
  EXPECT_EQ(loaded.tensors.at("a").to_vector<std::int64_t>(), std::vector<std::int64_t>{-7});
}

// ---- bad input: each case is a hand-made broken file ----

TEST_F(SafetensorsTest, MissingFile) {
  const fs::path path = dir_ / "nope.safetensors";
  expect_error([&] { load_safetensors(path); }, {path.string(), "does not exist"});
}

TEST_F(SafetensorsTest, ShorterThanEightBytes) {
  const fs::path path = dir_ / "short.safetensors";
  std::ofstream(path, std::ios::binary) << "abcde";
  expect_error([&] { load_safetensors(path); }, {path.string(), "5 bytes", "8-byte"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  const fs::path path = dir_ / "long.safetensors";
  write_raw(path, "{}", "", 1000);
  expect_error([&] { load_safetensors(path); }, {path.string(), "header length 1000", "2 bytes"});
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  const fs::path path = dir_ / "bad.safetensors";
  write_raw(path, "{\"a\": [1, 2");
  expect_error([&] { load_safetensors(path); }, {path.string(), "not valid JSON"});
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  const fs::path path = dir_ / "array.safetensors";
  write_raw(path, "[1, 2, 3]");
  expect_error([&] { load_safetensors(path); }, {path.string(), "array", "expected an object"});
}

TEST_F(SafetensorsTest, EntryMissingAField) {
  const fs::path path = dir_ / "missing.safetensors";
  const std::string data(8, '\0');
  write_raw(path, R"({"w":{"shape":[2],"data_offsets":[0,8]}})", data);
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "missing \"dtype\""});
  write_raw(path, R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", data);
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "missing \"shape\""});
  write_raw(path, R"({"w":{"dtype":"F32","shape":[2]}})", data);
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "missing \"data_offsets\""});
  write_raw(path, R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data);
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "non-negative"});
  write_raw(path, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data);
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "[8,0]"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  const fs::path path = dir_ / "bf16.safetensors";
  write_raw(path, R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", std::string(4, 0));
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "unknown dtype 'BF16'"});
}

TEST_F(SafetensorsTest, ShapeDoesNotMatchByteRange) {
  const fs::path path = dir_ / "size.safetensors";
  write_raw(path, R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
            std::string(20, 0));
  expect_error([&] { load_safetensors(path); },
               {path.string(), "'w'", "(2, 3)", "24 bytes", "span 20"});
  // A product that overflows 64 bits must not wrap around to a small number.
  write_raw(path, R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})");
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "more than 2^64"});
}

TEST_F(SafetensorsTest, OffsetsOutsideTheDataSection) {
  const fs::path path = dir_ / "outside.safetensors";
  write_raw(path, R"({"w":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}})", std::string(16, 0));
  expect_error([&] { load_safetensors(path); }, {path.string(), "'w'", "[0, 24]", "16 bytes"});
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  const fs::path path = dir_ / "overlap.safetensors";
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
            R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
            std::string(24, 0));
  expect_error([&] { load_safetensors(path); }, {path.string(), "'a'", "'b'", "overlap"});
}

TEST_F(SafetensorsTest, MetadataValueNotAString) {
  const fs::path path = dir_ / "meta.safetensors";
  write_raw(path, R"({"__metadata__":{"epoch":3}})");
  expect_error([&] { load_safetensors(path); }, {path.string(), "'epoch'", "must be a string"});
  write_raw(path, R"({"__metadata__":[1]})");
  expect_error([&] { load_safetensors(path); }, {path.string(), "__metadata__", "object"});
}

// ---- load_into ----

TEST_F(SafetensorsTest, LoadIntoFillsDestinations) {
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Tensor weight = random_tensor({3, 2}, DType::f32, rng);
  const Tensor steps = random_tensor({4}, DType::i64, rng);
  const fs::path path = dir_ / "ckpt.safetensors";
  save_safetensors(path, {{"w", weight}, {"steps", steps}, {"unused", weight}});

  Tensor w(Shape{3, 2}, DType::f32), s(Shape{4}, DType::i64);
  load_into(path, {{"w", &w}, {"steps", &s}});  // extra tensors in the file are allowed
  expect_bit_equal("w", w, weight);
  expect_bit_equal("steps", s, steps);
}

TEST_F(SafetensorsTest, LoadIntoMismatchesNameFileTensorExpectedAndFound) {
  const fs::path path = dir_ / "ckpt.safetensors";
  save_safetensors(path, {{"w", Tensor::zeros({3, 2}, DType::f32)}});

  Tensor absent(Shape{1}, DType::f32);
  expect_error(
      [&] {
        load_into(path, {{"fc9.bias", &absent}});
      },
      {path.string(), "'fc9.bias'", "missing", "F32 (1,)"});
  Tensor wrong_dtype(Shape{3, 2}, DType::f64);
  expect_error(
      [&] {
        load_into(path, {{"w", &wrong_dtype}});
      },
      {path.string(), "'w'", "expected F64 (3, 2)", "found F32 (3, 2)"});
  Tensor wrong_shape(Shape{2, 3}, DType::f32);
  expect_error(
      [&] {
        load_into(path, {{"w", &wrong_shape}});
      },
      {path.string(), "'w'", "expected F32 (2, 3)", "found F32 (3, 2)"});
}

TEST_F(SafetensorsTest, LoadIntoLeavesEveryDestinationUntouchedOnFailure) {
  const fs::path path = dir_ / "ckpt.safetensors";
  const std::uint64_t seed = testing::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  // Names sort a < b < c, so c is checked (and would be written) last.
  save_safetensors(path, {{"a", random_tensor({8}, DType::f32, rng)},
                          {"b", random_tensor({2, 2}, DType::i32, rng)},
                          {"c", random_tensor({5}, DType::f32, rng)}});
  constexpr float kSentinel = -12345.5f;
  Tensor a = Tensor::from_vector<float>({8}, std::vector<float>(8, kSentinel));
  Tensor b = Tensor::from_vector<std::int32_t>({2, 2}, std::vector<std::int32_t>(4, 777));
  Tensor c = Tensor::from_vector<float>({6}, std::vector<float>(6, kSentinel));  // file has (5,)

  expect_error(
      [&] {
        load_into(path, {{"a", &a}, {"b", &b}, {"c", &c}});
      },
      {path.string(), "'c'", "expected F32 (6,)", "found F32 (5,)"});
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(8, kSentinel));
  EXPECT_EQ(b.to_vector<std::int32_t>(), std::vector<std::int32_t>(4, 777));
  EXPECT_EQ(c.to_vector<float>(), std::vector<float>(6, kSentinel));
}

// ---- atomic file helper ----

TEST_F(SafetensorsTest, WriteFileAtomicallyReplacesAndCreatesParents) {
  const fs::path path = dir_ / "a" / "b" / "out.csv";
  write_file_atomically(path, "first version, longer than the second\n");
  write_file_atomically(path, "second\n");
  EXPECT_EQ(read_bytes(path), "second\n");
  const std::string_view pieces[] = {"x,", "y", "\n"};
  write_file_atomically(path, pieces);
  EXPECT_EQ(read_bytes(path), "x,y\n");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(path.parent_path())) ++files;
  EXPECT_EQ(files, 1) << "temporary left behind";
}

TEST_F(SafetensorsTest, WriteFileAtomicallyReportsThePath) {
  const fs::path blocker = dir_ / "file";
  std::ofstream(blocker) << "not a directory";
  const fs::path path = blocker / "out.json";
  expect_error([&] { write_file_atomically(path, "{}"); }, {path.string()});
  EXPECT_EQ(read_bytes(blocker), "not a directory");
}

// The trainer names `last` a second name of `best` after an improving epoch: the link replaces the
// old `last` atomically, and the next atomic write to either name leaves the other alone.
TEST_F(SafetensorsTest, LinkFileAtomicallyGivesASecondNameThatLaterWritesSeparate) {
  const fs::path best = dir_ / "best.safetensors", last = dir_ / "last.safetensors";
  write_file_atomically(best, "epoch 3\n");
  write_file_atomically(last, "epoch 2, older and longer\n");
  ASSERT_TRUE(link_file_atomically(best, last));
  EXPECT_EQ(read_bytes(last), "epoch 3\n");
  EXPECT_TRUE(fs::equivalent(best, last));
  write_file_atomically(last, "epoch 4\n");
  EXPECT_EQ(read_bytes(best), "epoch 3\n") << "writing last changed best";
  EXPECT_EQ(read_bytes(last), "epoch 4\n");
  EXPECT_FALSE(fs::equivalent(best, last));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 2) << "temporary left behind";
  // Not beside each other: refused, naming the path; a missing source: no link, nothing changed.
  expect_error([&] { link_file_atomically(best, dir_ / "sub" / "x.safetensors"); },
               {(dir_ / "sub" / "x.safetensors").string()});
  EXPECT_FALSE(link_file_atomically(dir_ / "missing.safetensors", last));
  EXPECT_EQ(read_bytes(last), "epoch 4\n");
  // Linking names that already are one file, then writing one of them: the other keeps its bytes
  // (a leftover link temporary would have let the write truncate the shared file).
  ASSERT_TRUE(link_file_atomically(best, last));
  ASSERT_TRUE(link_file_atomically(best, last));
  write_file_atomically(last, "epoch 5\n");
  EXPECT_EQ(read_bytes(best), "epoch 3\n");
  EXPECT_EQ(read_bytes(last), "epoch 5\n");
  files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 2) << "temporary left behind";
}

// ---- developer cross-check with Python ----
// tools/check_safetensors_compat.py writes python_written.safetensors (with the `safetensors`
// package) into $AULENS_COMPAT_DIR, runs this test, then reads aulens_written.safetensors back in
// Python. Both files hold the tensors below, whose values are exact in float arithmetic.
std::map<std::string, Tensor> compat_tensors() {
  std::vector<float> f32(24);
  for (int i = 0; i < 24; ++i) f32[i] = static_cast<float>(i) * 0.5f - 3.0f;
  std::vector<double> f64(10);
  for (int i = 0; i < 10; ++i) f64[i] = static_cast<double>(i) * 0.1;
  std::vector<std::int32_t> i32(10);
  for (int i = 0; i < 10; ++i) i32[i] = i - 5;
  std::vector<std::uint8_t> u8(256);
  for (int i = 0; i < 256; ++i) u8[i] = static_cast<std::uint8_t>(i);
  return {
      {"conv1.weight", Tensor::from_vector<float>({2, 3, 4}, f32)},
      {"f64", Tensor::from_vector<double>({10}, f64)},
      {"i32", Tensor::from_vector<std::int32_t>({2, 5}, i32)},
      {"i64", Tensor::from_vector<std::int64_t>({3}, {std::int64_t{1} << 40, -1, 7})},
      {"u8", Tensor::from_vector<std::uint8_t>({16, 16}, u8)},
      {"empty", Tensor::from_vector<float>({0, 3}, {})},
      {"scalar", Tensor::from_vector<double>({}, {M_PI})},
  };
}

TEST(SafetensorsCompat, FilesExchangedWithPython) {
  const char* dir = std::getenv("AULENS_COMPAT_DIR");
  if (dir == nullptr) GTEST_SKIP() << "run by tools/check_safetensors_compat.py only";
  const std::map<std::string, Tensor> expected = compat_tensors();
  save_safetensors(fs::path(dir) / "aulens_written.safetensors", expected,
                   {{"written_by", "aulens"}, {"note", "grüße"}});
  SafeTensors loaded = load_safetensors(fs::path(dir) / "python_written.safetensors");
  EXPECT_EQ(loaded.metadata.at("written_by"), "python");
  EXPECT_EQ(loaded.metadata.at("note"), "grüße");
  ASSERT_EQ(loaded.tensors.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(loaded.tensors.count(name)) << name;
    expect_bit_equal(name, loaded.tensors.at(name), tensor);
  }
}

}  // namespace
}  // namespace aulens
