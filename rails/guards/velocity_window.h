#pragma once
// Velocity-limit windows: exact, integer-only, in memory. One WindowState per (rule, key,
// window); the rule layer (velocity.h) decides what a unit is (1 per request, or an amount in
// minor units).
//
// Every algorithm enforces "at most `limit` units per `window_ms`", each to its own definition:
//   fixed_window            windows aligned to multiples of window_ms since the epoch
//   sliding_log             exact: units of events in (now - window_ms, now]
//   sliding_window_counter  previous fixed window weighted by its overlap + current window;
//                           an estimate that assumes the previous window's events were spread
//                           evenly. Against the exact sliding log it can admit up to `limit`
//                           more units in a window (when the previous window's events were all
//                           at its very start), and refuse early when they were at its end.
//   token_bucket            capacity `limit`, refilled continuously at limit per window_ms
//   leaky_bucket            a meter that leaks limit per window_ms; a request fits if
//                           level + units <= limit
//   gcra                    theoretical arrival time; emission interval window_ms/limit per
//                           unit; bursts up to `limit`
// Time comes from the caller (the engine clock). If it goes backwards, the last time seen is
// used. Arithmetic is exact (128-bit intermediates); nothing overflows.
//
// Decision::retry_after_ms: how long until the same request could pass, assuming no other
// traffic; -1 when it never can (more units than the limit).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pay/result.h"

namespace pay::guards {

enum class Algorithm : uint8_t {
  kFixedWindow = 1,
  kSlidingLog = 2,
  kSlidingWindowCounter = 3,
  kTokenBucket = 4,
  kLeakyBucket = 5,
  kGcra = 6,
};
std::string_view AlgorithmName(Algorithm a);
Result<Algorithm> ParseAlgorithm(std::string_view name, std::string_view field = "algorithm");

struct WindowSpec {
  Algorithm algorithm = Algorithm::kFixedWindow;
  int64_t window_ms = 0;
  int64_t limit = 0;
};
// window_ms in (0, 400 days], limit >= 0 (0 refuses everything). Errors name `field`.
Result<void> ValidateWindow(const WindowSpec& spec, std::string_view field);
// Distinct counts support fixed_window and sliding_log only.
Result<void> ValidateDistinctWindow(const WindowSpec& spec, std::string_view field);

struct Decision {
  bool allowed = true;
  int64_t retry_after_ms = 0;
  int64_t used = 0;       // units counted in the window now (for buckets: the level)
  int64_t remaining = 0;  // units that would still pass now
};

// Bounded memory for logs: past this many entries the two oldest are merged into one at the
// later time, which can only delay their expiry (never admits more than the limit).
inline constexpr size_t kWindowLogEntriesMax = 4096;

struct WindowState {
  int64_t last_ms = 0;  // latest time seen (time never goes back)
  int64_t a = 0;        // algorithm-specific, see velocity_window.cc
  int64_t b = 0;
  int64_t c = 0;
  // sliding_log: (time_ms, units), oldest first. A vector: an empty one allocates nothing, which
  // matters with a million keys.
  std::vector<std::pair<int64_t, int64_t>> log;
  bool operator==(const WindowState&) const = default;
};

Decision Check(const WindowSpec& spec, const WindowState& state, int64_t now_ms, int64_t units);
void Consume(const WindowSpec& spec, WindowState& state, int64_t now_ms, int64_t units);
std::string EncodeState(const WindowState& state);
Result<WindowState> DecodeState(std::string_view bytes);  // kCorruptStore on bad bytes

// Distinct values (e.g. different cards per merchant): one entry per value hash with the last
// time it was seen. A value already in the window always passes.
struct DistinctState {
  int64_t last_ms = 0;
  int64_t window_start_ms = 0;                     // fixed_window
  std::vector<std::pair<int64_t, uint64_t>> seen;  // (time_ms, value hash), oldest first
  bool operator==(const DistinctState&) const = default;
};
Decision CheckDistinct(const WindowSpec& spec, const DistinctState& state, int64_t now_ms,
                       uint64_t value_hash);
void ConsumeDistinct(const WindowSpec& spec, DistinctState& state, int64_t now_ms,
                     uint64_t value_hash);
std::string EncodeDistinctState(const DistinctState& state);
Result<DistinctState> DecodeDistinctState(std::string_view bytes);

}  // namespace pay::guards
