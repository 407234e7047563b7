#include "aulens/tensor.h"

#include <cstdlib>
#include <cstring>

#include "aulens/device.h"

namespace aulens {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return 4;
    case DType::f64:
      return 8;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
    case DType::u8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::u8:
      return "U8";
  }
  return "?";
}

const char* device_name(Device device) {
  return device == Device::cpu ? "cpu" : "cuda";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    AULENS_CHECK(d >= 0, "negative dimension in shape " + shape_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

std::shared_ptr<std::byte> allocate(std::size_t bytes, Device device) {
  if (device == Device::cuda) {
    void* p = device::malloc(bytes == 0 ? 1 : bytes);
    return std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                      [](std::byte* q) { device::free(q); });
  }
  // 64-byte alignment for vector loads; at least one byte so empty tensors still own storage.
  std::size_t rounded = ((bytes == 0 ? 1 : bytes) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr)
    throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t n) {
  if (n == 0) return;
  if (dst_device == Device::cpu && src_device == Device::cpu) {
    std::memcpy(dst, src, n);
  } else if (dst_device == Device::cuda && src_device == Device::cpu) {
    device::copy_to_device(dst, src, n);
  } else if (dst_device == Device::cpu && src_device == Device::cuda) {
    device::copy_to_host(dst, src, n);
  } else {
    device::copy_on_device(dst, src, n);
  }
}

}  // namespace

Tensor::Tensor(Shape shape, DType dtype, Device device)
    : shape_(std::move(shape)), dtype_(dtype), device_(device) {
  storage_ = allocate(nbytes(), device_);
  capacity_ = nbytes();
}

Tensor Tensor::zeros(Shape shape, DType dtype, Device device) {
  Tensor t(std::move(shape), dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::to(Device device) const {
  Tensor out(shape_, dtype_, device);
  copy_bytes(out.raw(), device, raw(), device_, nbytes());
  return out;
}

Tensor Tensor::reshape(Shape shape) const {
  AULENS_CHECK(shape_numel(shape) == numel(),
               "cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  Tensor out = *this;
  out.shape_ = std::move(shape);
  return out;
}

Tensor Tensor::rows(std::int64_t begin, std::int64_t count) const {
  AULENS_CHECK(defined() && rank() >= 1 && begin >= 0 && count >= 0 && begin + count <= shape_[0],
               "rows(" + std::to_string(begin) + ", " + std::to_string(count) + ") of a tensor " +
                   shape_string(shape_));
  Tensor out = *this;
  out.shape_[0] = count;
  const std::size_t row_bytes = shape_[0] ? nbytes() / static_cast<std::size_t>(shape_[0]) : 0;
  // Shares ownership of the whole allocation, points at the first row of the view.
  out.storage_ = std::shared_ptr<std::byte>(storage_, storage_.get() + begin * row_bytes);
  out.capacity_ = capacity_ - static_cast<std::size_t>(begin) * row_bytes;
  return out;
}

Tensor Tensor::resized(Shape shape) const {
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype_);
  AULENS_CHECK(defined() && bytes <= capacity_bytes(),
               "resized: " + shape_string(shape) + " " + dtype_name(dtype_) + " needs " +
                   std::to_string(bytes) + " bytes, the allocation holds " +
                   std::to_string(capacity_bytes()));
  Tensor out = *this;
  out.shape_ = std::move(shape);
  return out;
}

void ensure_tensor(Tensor& t, const Shape& shape, DType dtype, Device device) {
  if (t.defined() && t.dtype() == dtype && t.device() == device) {
    if (t.shape() == shape) return;
    if (static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype) <= t.capacity_bytes()) {
      t = t.resized(shape);
      return;
    }
  }
  t = Tensor(shape, dtype, device);
}

void Tensor::zero() {
  if (nbytes() == 0) return;
  if (device_ == Device::cuda) {
    device::memset_zero(raw(), nbytes());
  } else {
    std::memset(raw(), 0, nbytes());
  }
}

void Tensor::copy_from(const Tensor& src) {
  AULENS_CHECK(src.shape_ == shape_ && src.dtype_ == dtype_,
               "copy_from: source " + shape_string(src.shape_) + " " + dtype_name(src.dtype_) +
                   " into " + shape_string(shape_) + " " + dtype_name(dtype_));
  copy_bytes(raw(), device_, src.raw(), src.device_, nbytes());
}

}  // namespace aulens
