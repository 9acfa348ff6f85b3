#include "core/clock.h"

#include <gtest/gtest.h>

#include <regex>

namespace lcte {
namespace {

using namespace std::chrono;

// 2026-11-27T08:30:05.042Z, computed by hand: 20784 days after 1970-01-01.
const system_clock::time_point kWhen =
    system_clock::time_point{} + days(20784) + hours(8) + minutes(30) + seconds(5) + milliseconds(42);

TEST(Clock, Iso8601IsUtcWithMilliseconds) {
  EXPECT_EQ(utc_iso8601(kWhen), "2026-11-27T08:30:05.042Z");
  EXPECT_EQ(utc_iso8601(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  // Sub-millisecond parts are dropped, never rounded up into the next second.
  EXPECT_EQ(utc_iso8601(kWhen + microseconds(958999)), "2026-11-27T08:30:06.000Z");
  EXPECT_EQ(utc_iso8601(kWhen + microseconds(957999)), "2026-11-27T08:30:05.999Z");
}

TEST(Clock, CompactStampNamesFiles) { EXPECT_EQ(utc_compact_stamp(kWhen), "20261127-083005"); }

TEST(Clock, UnixMillis) { EXPECT_EQ(unix_millis(kWhen), (20784LL * 86400 + 8 * 3600 + 30 * 60 + 5) * 1000 + 42); }

TEST(Clock, NowHasTheStoredFormatAndSortsAsText) {
  const std::string a = utc_now_iso8601();
  EXPECT_TRUE(std::regex_match(a, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << a;
  const std::string b = utc_now_iso8601();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace lcte
