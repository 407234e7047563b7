// Tensor::rows, the narrow view along dimension 0 the trainer uses for its per-epoch buffers:
// shape, shared storage (writes go through both ways), that the view keeps the allocation alive,
// and the range check.
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

}  // namespace
}  // namespace aulens
