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

namespace lcte {
namespace {

TEST(EditDistance, ByHand) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // k->s, e->i, +g
  EXPECT_EQ(edit_distance("stlye", "style"), 2u);     // a transposition is two edits
}

TEST(ClosestNames, NearOrPrefixClosestFirst) {
  const std::vector<std::string> names = {"eval", "evaluate", "serve", "study", "samples_file"};
  EXPECT_EQ(closest_names("evl", names), (std::vector<std::string>{"eval"}));
  EXPECT_EQ(closest_names("ev", names), (std::vector<std::string>{"eval", "evaluate"}));  // prefix of both
  EXPECT_EQ(closest_names("samples", names), (std::vector<std::string>{"samples_file"}));
  EXPECT_EQ(closest_names("stdy", names), (std::vector<std::string>{"study"}));
  EXPECT_TRUE(closest_names("x", names).empty());
  EXPECT_TRUE(closest_names("temperature", names).empty());
}

}  // namespace
}  // namespace lcte
