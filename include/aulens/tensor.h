// A small owning tensor: shape, dtype, host or device storage, RAII.
//
// Storage is shared between copies of a Tensor (like a std::shared_ptr); `clone()` makes a deep
// copy. Device storage is allocated through aulens/device.h, so this header never needs CUDA.
// Layout is always dense row-major (the last dimension is contiguous).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aulens/check.h"

namespace aulens {

enum class DType { f32, f64, i32, i64, u8 };
enum class Device { cpu, cuda };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", "F64", "I32", "I64", "U8" (safetensors names)
const char* device_name(Device device);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<std::int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<std::int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<std::uint8_t>() {
  return DType::u8;
}

using Shape = std::vector<std::int64_t>;
std::int64_t shape_numel(const Shape& shape);
std::string shape_string(const Shape& shape);  // "(2, 3, 4)"

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised storage of the given shape; use zeros()/fill for defined contents.
  Tensor(Shape shape, DType dtype, Device device = Device::cpu);

  static Tensor zeros(Shape shape, DType dtype, Device device = Device::cpu);
  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values);

  const Shape& shape() const { return shape_; }
  std::int64_t dim(int i) const { return shape_.at(i < 0 ? shape_.size() + i : i); }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool defined() const { return storage_ != nullptr || numel() == 0; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  // Typed access; throws when T does not match the dtype.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;

  // A copy on `device` (a plain deep copy when it already lives there).
  Tensor to(Device device) const;
  Tensor clone() const { return to(device_); }
  // Same storage, new shape with the same element count.
  Tensor reshape(Shape shape) const;
  // Same storage: rows [begin, begin + count) along dimension 0 (a narrow view, like
  // torch.narrow(0, begin, count)); writes through the view change this tensor.
  Tensor rows(std::int64_t begin, std::int64_t count) const;
  // Bytes of the allocation from this tensor's first element on (≥ nbytes(); 0 when undefined).
  std::size_t capacity_bytes() const { return storage_ ? capacity_ : 0; }
  // Same storage, any shape whose bytes fit in capacity_bytes() (contents of the new shape are
  // whatever the storage held): lets a buffer sized for the largest batch serve a smaller one.
  Tensor resized(Shape shape) const;
  // Sets every byte to zero.
  void zero();
  // Copies the contents of `src` (same shape and dtype, any device) into this tensor.
  void copy_from(const Tensor& src);
  // Host values as a vector (copies from the device when needed).
  template <class T>
  std::vector<T> to_vector() const;

 private:
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
  std::shared_ptr<std::byte> storage_;
  std::size_t capacity_ = 0;  // see capacity_bytes()
};

// Makes `t` a tensor of `shape` and `dtype` on `device`: kept as it is when it already is one,
// resized within its allocation when that is large enough (so a buffer sized for the largest
// batch serves a smaller one without a free, which on the GPU waits for the device), else newly
// allocated. Contents are unspecified unless nothing changed.
void ensure_tensor(Tensor& t, const Shape& shape, DType dtype, Device device);

template <class T>
T* Tensor::data() {
  AULENS_CHECK(dtype_ == dtype_of<T>(), std::string("tensor holds ") + dtype_name(dtype_) +
                                            ", asked for " + dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw());
}

template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

template <class T>
Tensor Tensor::from_vector(Shape shape, const std::vector<T>& values) {
  Tensor t(std::move(shape), dtype_of<T>());
  AULENS_CHECK(static_cast<std::int64_t>(values.size()) == t.numel(),
               "from_vector: " + std::to_string(values.size()) + " values for shape " +
                   shape_string(t.shape()));
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device_ == Device::cpu ? *this : to(Device::cpu);
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}

}  // namespace aulens
