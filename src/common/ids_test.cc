#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace growhook {
namespace {

TEST(Ids, ThePrefixTheMillisecondsAndSixteenHexDigits) {
  std::string id = new_id("wh", 0x18c2f6a9b10);
  ASSERT_EQ(id.size(), 3u + 12 + 16);
  EXPECT_EQ(id.substr(0, 15), "wh_018c2f6a9b10");
  EXPECT_TRUE(is_valid_id(id));
}

TEST(Ids, IdsOfOneMillisecondSortInTheOrderTheyWereMade) {
  std::string previous;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_id("wh", 1'700'000'000'000 + i / 100);  // 100 ids a millisecond
    EXPECT_LT(previous, id) << i;
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(Ids, TheRandomPartDiffersBetweenMilliseconds) {
  std::string a = new_id("x", 1'000), b = new_id("x", 1'001);
  EXPECT_NE(a.substr(a.size() - 16), b.substr(b.size() - 16));
}

}  // namespace
}  // namespace growhook
