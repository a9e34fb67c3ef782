#include <gtest/gtest.h>

#include "core/time_format.h"

namespace pay {
namespace {

TEST(TimeFormatTest, ParsesRfc3339) {
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339Ms("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(*ParseRfc3339Ms("2000-03-01T00:00:00Z"), 951868800000);
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-28T13:00:00+01:00"), *ParseRfc3339Ms("2026-11-28T12:00:00Z"));
  EXPECT_EQ(*ParseRfc3339Ms("2026-11-28"), *ParseRfc3339Ms("2026-11-28T00:00:00Z"));
  EXPECT_EQ(*ParseRfc3339Ms("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(*ParseRfc3339Ms("2024-02-29T00:00:00Z") + 86400000, *ParseRfc3339Ms("2024-03-01T00:00:00Z"));
}

TEST(TimeFormatTest, RejectsMalformedTimes) {
  for (const char* bad : {"", "2026", "2026-13-01", "2026-02-30", "2023-02-29T00:00:00Z",
                          "2026-11-28T24:00:00Z", "2026-11-28T12:00:00", "2026-11-28T12:00Z",
                          "2026-11-28T12:00:00.Z", "2026-11-28T12:00:00+1:00", "2026-11-28X",
                          "2026-11-28T12:00:00Zjunk", "yesterday"}) {
    auto r = ParseRfc3339Ms(bad, "--as-of");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidTime);
    EXPECT_EQ(r.error().message.rfind("--as-of:", 0), 0u);
  }
}

TEST(TimeFormatTest, FormatsUtcMillis) {
  EXPECT_EQ(FormatRfc3339Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Ms(-1), "1969-12-31T23:59:59.999Z");
  int64_t t = *ParseRfc3339Ms("2026-11-28T12:34:56.789Z");
  EXPECT_EQ(FormatRfc3339Ms(t), "2026-11-28T12:34:56.789Z");
}

TEST(TimeFormatTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("90s"), 90000);
  EXPECT_EQ(*ParseDurationMs("15m"), 900000);
  EXPECT_EQ(*ParseDurationMs("24h"), 86400000);
  EXPECT_EQ(*ParseDurationMs("7d"), 604800000);
  for (const char* bad : {"", "0s", "-1s", "1", "1w", "h", "1.5h", "99999999999999999999d", "1 s"}) {
    auto r = ParseDurationMs(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidTime);
  }
}

}  // namespace
}  // namespace pay
