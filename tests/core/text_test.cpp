#include <gtest/gtest.h>

#include "core/text.h"

using lcte::split_commas;
using V = std::vector<std::string>;

TEST(SplitCommas, ItemsInOrderWithEmptyOnesDropped) {
  EXPECT_EQ(split_commas("a,b,c"), (V{"a", "b", "c"}));
  EXPECT_EQ(split_commas(",a,,b,"), (V{"a", "b"}));
  EXPECT_EQ(split_commas("one"), (V{"one"}));
  EXPECT_EQ(split_commas(""), V{});
  EXPECT_EQ(split_commas(",,"), V{});
  EXPECT_EQ(split_commas(" a , b"), (V{" a ", " b"}));  // spaces are kept: ids are taken as written
}
