// Tensor::rows, the narrow view along dimension 0 the trainer uses for its per-epoch buffers:
// shape, shared storage (writes go through both ways), that the view keeps the allocation alive,
// and the range check; Tensor::resized, which lets a buffer sized for a full batch serve the
// epoch's last, shorter one.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "aulens/check.h"
#include "aulens/tensor.h"

namespace aulens {
namespace {

TEST(Tensor, RowsIsAViewOfDimensionZero) {
  std::vector<float> values(4 * 3);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  Tensor whole = Tensor::from_vector<float>({4, 3}, values);
  Tensor middle = whole.rows(1, 2);
  EXPECT_EQ(middle.shape(), (Shape{2, 3}));
  EXPECT_EQ(middle.data<float>()[0], 3.0f);
  EXPECT_EQ(middle.data<float>()[5], 8.0f);
  middle.data<float>()[0] = -1.0f;
  EXPECT_EQ(whole.data<float>()[3], -1.0f);
  whole.data<float>()[8] = -2.0f;
  EXPECT_EQ(middle.data<float>()[5], -2.0f);
  Tensor empty = whole.rows(4, 0);
  EXPECT_EQ(empty.numel(), 0);
  EXPECT_THROW(whole.rows(3, 2), Error);
  EXPECT_THROW(whole.rows(-1, 1), Error);
}

TEST(Tensor, RowsKeepsTheAllocationAlive) {
  Tensor view;
  {
    Tensor whole = Tensor::from_vector<std::int32_t>({3}, {7, 8, 9});
    view = whole.rows(2, 1);
  }
  EXPECT_EQ(view.data<std::int32_t>()[0], 9);
}

TEST(Tensor, ResizedReusesTheAllocationWithinItsCapacity) {
  Tensor big({8, 3}, DType::f32);
  EXPECT_EQ(big.capacity_bytes(), 8u * 3 * sizeof(float));
  big.data<float>()[0] = 5.0f;
  Tensor small = big.resized({2, 3});
  EXPECT_EQ(small.shape(), (Shape{2, 3}));
  EXPECT_EQ(small.raw(), big.raw());
  EXPECT_EQ(small.capacity_bytes(), big.capacity_bytes());
  Tensor again = small.resized({8, 3});  // back up to the full allocation
  EXPECT_EQ(again.data<float>()[0], 5.0f);
  EXPECT_THROW(small.resized({9, 3}), Error);
  EXPECT_EQ(big.rows(6, 2).capacity_bytes(), 2u * 3 * sizeof(float));
  EXPECT_EQ(Tensor().capacity_bytes(), 0u);
}

TEST(Tensor, EnsureTensorReusesThenGrows) {
  Tensor t;
  ensure_tensor(t, {64, 3}, DType::f32, Device::cpu);
  const void* first = t.raw();
  ensure_tensor(t, {23, 3}, DType::f32, Device::cpu);  // the short last batch: same allocation
  EXPECT_EQ(t.raw(), first);
  EXPECT_EQ(t.shape(), (Shape{23, 3}));
  ensure_tensor(t, {64, 3}, DType::f32, Device::cpu);  // back to full size: still the same
  EXPECT_EQ(t.raw(), first);
  ensure_tensor(t, {65, 3}, DType::f32, Device::cpu);  // larger: a new allocation
  EXPECT_EQ(t.shape(), (Shape{65, 3}));
  EXPECT_GE(t.capacity_bytes(), 65u * 3 * sizeof(float));
  ensure_tensor(t, {2}, DType::i32, Device::cpu);  // another dtype: a new tensor
  EXPECT_EQ(t.dtype(), DType::i32);
}

}  // namespace
}  // namespace aulens
