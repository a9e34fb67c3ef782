#pragma once
// RFC 3339 times and human durations, exact to the millisecond.

#include <cstdint>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay {

// "2026-11-28T12:00:00Z", "2026-11-28T12:00:00.250Z", "2026-11-28T13:00:00+01:00".
// Also accepts a bare date "2026-11-28" (midnight UTC). kInvalidTime naming `field` otherwise.
Result<int64_t> ParseRfc3339Ms(std::string_view text, std::string_view field = "time");
// Always UTC with millisecond precision: "2026-11-28T12:00:00.000Z".
std::string FormatRfc3339Ms(int64_t ms);
// "250ms", "90s", "15m", "24h", "7d" (one number, one unit). Positive only.
Result<int64_t> ParseDurationMs(std::string_view text, std::string_view field = "duration");

}  // namespace pay
