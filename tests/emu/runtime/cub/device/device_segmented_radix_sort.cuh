// CUB's segmented radix sort, as cuda/au_sweep.cu uses it, on the host for the emulated CUDA build
// (cuda_runtime.h two folders up). Same contract: the first call (no temporary storage) only
// reports how many bytes it needs; the second sorts each segment [begin[s], end[s]) by key,
// descending and stable, in the radix order of the key's bits begin_bit … end_bit − 1 (floats as
// CUB orders them: −0 taken as +0, then their bits with the sign bit flipped, or all bits flipped
// when negative, so NaN sorts above +∞), the values following their keys. Every buffer, the
// temporary storage and pointer offsets included, must be device memory (cudaErrorIllegalAddress).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

#include "../../cuda_runtime.h"

namespace cub {

struct DeviceSegmentedRadixSort {
  template <class Key, class Value, class Offset>
  static cudaError_t SortPairsDescending(void* temp_storage, std::size_t& temp_bytes,
                                         const Key* keys_in, Key* keys_out, const Value* values_in,
                                         Value* values_out, int items, int segments,
                                         Offset begin_offsets, Offset end_offsets,
                                         int begin_bit = 0, int end_bit = sizeof(Key) * 8,
                                         cudaStream_t = nullptr) {
    static_assert(sizeof(Key) == 4, "the emulated sort handles 32-bit keys");
    if (temp_storage == nullptr) {
      temp_bytes = 256;
      return cudaSuccess;
    }
    if (items < 0 || segments < 0 || begin_bit < 0 || end_bit > 32 || begin_bit >= end_bit)
      return cudaErrorInvalidValue;
    using emu::runtime::on_device;
    const auto n = static_cast<std::size_t>(items);
    bool offsets_on_device = true;
    if constexpr (std::is_pointer_v<Offset>)
      offsets_on_device = on_device(begin_offsets, sizeof(*begin_offsets) * segments) &&
                          on_device(end_offsets, sizeof(*end_offsets) * segments);
    if (!on_device(temp_storage, temp_bytes) || !on_device(keys_in, sizeof(Key) * n) ||
        !on_device(keys_out, sizeof(Key) * n) || !on_device(values_in, sizeof(Value) * n) ||
        !on_device(values_out, sizeof(Value) * n) || !offsets_on_device)
      return emu::runtime::record(cudaErrorIllegalAddress);
    const auto radix = [&](Key key) {
      std::uint32_t bits;
      std::memcpy(&bits, &key, 4);
      if constexpr (std::is_floating_point_v<Key>) {
        if (bits == 0x80000000u) bits = 0;  // −0 equals +0 in CUB's radix order
        bits = (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
      } else if constexpr (std::is_signed_v<Key>)
        bits ^= 0x80000000u;
      const std::uint32_t width = static_cast<std::uint32_t>(end_bit - begin_bit);
      return (bits >> begin_bit) & (width == 32 ? 0xFFFFFFFFu : (1u << width) - 1u);
    };
    std::vector<int> order;
    for (int s = 0; s < segments; ++s) {
      const int lo = begin_offsets[s], hi = end_offsets[s];
      if (hi <= lo) continue;
      order.resize(static_cast<std::size_t>(hi - lo));
      std::iota(order.begin(), order.end(), lo);
      std::stable_sort(order.begin(), order.end(),
                       [&](int i, int j) { return radix(keys_in[i]) > radix(keys_in[j]); });
      std::vector<Key> keys(order.size());
      std::vector<Value> values(order.size());
      for (std::size_t t = 0; t < order.size(); ++t) {
        keys[t] = keys_in[order[t]];
        values[t] = values_in[order[t]];
      }
      std::copy(keys.begin(), keys.end(), keys_out + lo);
      std::copy(values.begin(), values.end(), values_out + lo);
    }
    return cudaSuccess;
  }
};

}  // namespace cub
