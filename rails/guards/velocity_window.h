#pragma once
// Velocity-limit windows: the six admission algorithms for one (rule, key, window), exact,
// integer-only and in memory. The rule layer (velocity.h) decides what a unit is (1 per request,
// or an amount in minor units), keeps one WindowState per (rule, key, window) and persists it
// with EncodeState in the same store transaction as the command.
//
// Every algorithm enforces "at most `limit` units per `window_ms`", each to its own definition:
//   fixed_window            windows aligned to multiples of window_ms since the epoch; a
//                           request fits if units used in its window + units <= limit.
//   sliding_log             exact: units of the events in (now - window_ms, now].
//   sliding_window_counter  estimate: prev * (window_ms - elapsed) / window_ms + cur, where cur
//                           is the current aligned window's total and prev the previous one's
//                           (exact rational comparison, no doubles). Error bound against the
//                           exact sliding log, for traffic that only consumes what Check allowed:
//                           in any (t - window_ms, t] it admits at most
//                             limit + floor(limit * (window_ms - 2) / window_ms)
//                           units (window_ms >= 2; exactly `limit` for window_ms <= 2), that is
//                           always fewer than 2 * limit. The worst case is reached when the
//                           previous window's units all came in its last millisecond. It can
//                           also refuse what the exact log would admit (previous window's units
//                           early in it).
//   token_bucket            capacity `limit` tokens, refilled continuously at limit per
//                           window_ms (exact rational tokens, no drift); a request takes `units`
//                           tokens if that many are there.
//   leaky_bucket            a meter whose level leaks at limit per window_ms (exact rational); a
//                           request fits if level + units <= limit.
//   gcra                    theoretical arrival time TAT (exact rational ms); emission interval
//                           window_ms / limit per unit; a request fits if
//                           max(TAT, now) + units * window_ms / limit - now <= window_ms, so up
//                           to `limit` units may arrive at once.
// With a fixed spec the three bucket algorithms admit exactly the same traffic; they differ when
// the limit changes (per-key override, edited rule): a token bucket clips its tokens to the new
// capacity, a leaky bucket keeps its level in units, GCRA keeps its TAT as a time.
//
// Units: `units` is >= 0 (a negative value is treated as 0). A request of 0 units adds nothing
// and always passes. A request of more than `limit` units (any request when limit is 0) never
// passes: Decision::retry_after_ms is -1. Counts saturate at INT64_MAX units, a bucket's level
// too (a token bucket's debt at INT64_MIN); only recording refused traffic (shadow rules) of more
// than 2^63 units in total gets there. A saturated count changes no decision (it refuses every
// request of >= 1 unit until it leaves the window); a saturated bucket drains from INT64_MAX
// units, i.e. forgets the excess.
//
// Time: milliseconds from the caller (the engine clock, event time in replay), clamped to
// [kVelocityTimeMsMin, kVelocityTimeMsMax]. Time never goes back for a state: a time earlier
// than the latest one Consume recorded is treated as that latest time. Nothing overflows: all
// intermediate arithmetic is 128-bit on bounded inputs.
//
// Spec changes: Check and Consume take the spec on every call, so a per-key override or an
// edited rule applies at once. A changed limit or window_ms keeps the state (each algorithm's
// meaning above). A state recorded under another algorithm is treated as empty.
//
// Threading: plain values; no locking. One writer at a time per state.

#include <cstdint>
#include <string>
#include <string_view>
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
// "fixed_window", "sliding_log", "sliding_window_counter", "token_bucket", "leaky_bucket", "gcra";
// "unknown" for a value outside the enum.
std::string_view AlgorithmName(Algorithm algorithm);
// The algorithm of that name, or kInvalidArgument "<field>: '<name>' is not ...".
Result<Algorithm> ParseAlgorithm(std::string_view name, std::string_view field = "algorithm");

// Longest window: 400 days.
inline constexpr int64_t kVelocityWindowMsMax = 400LL * 24 * 3600 * 1000;
// Time domain (about +-146 million years around the epoch); times outside are clamped.
inline constexpr int64_t kVelocityTimeMsMax = int64_t{1} << 62;
inline constexpr int64_t kVelocityTimeMsMin = -kVelocityTimeMsMax;
// Entries of a sliding log per state. Past it, the two oldest entries merge into one at the later
// time: their units count until the later one expires. That can only refuse more than the exact
// log (never admits more than the limit) and only while a window holds more than this many
// distinct milliseconds with traffic.
inline constexpr size_t kVelocityLogEntriesMax = 4096;
// Values remembered by a distinct count per state. Past it, the oldest value is forgotten but
// still counted (see DistinctState): never admits more than the limit.
inline constexpr size_t kVelocityDistinctEntriesMax = 4096;

struct WindowSpec {
  Algorithm algorithm = Algorithm::kFixedWindow;
  int64_t window_ms = 0;
  int64_t limit = 0;  // units per window; 0 refuses every request of >= 1 unit
};

// window_ms in [1, kVelocityWindowMsMax], limit >= 0, algorithm one of the six. `field` is the
// prefix of the spec's fields, e.g. "rule[2].window[0].": errors (kInvalidArgument) read
// "rule[2].window[0].window: ...", "...limit: ..." or "...algorithm: ...".
Result<void> ValidateWindow(const WindowSpec& spec, std::string_view field);
// ValidateWindow, and a distinct count takes fixed_window or sliding_log only.
Result<void> ValidateDistinctWindow(const WindowSpec& spec, std::string_view field);

struct Decision {
  bool allowed = true;
  // When refused: milliseconds from the caller's now until the same request passes with no other
  // traffic (waiting 1 ms less does not); -1 when it never can (units > limit). 0 when allowed.
  int64_t retry_after_ms = 0;
  int64_t used = 0;       // units counted now (buckets: the level, rounded up)
  int64_t remaining = 0;  // the most units a request could take now and pass
};

// The state of one window of one key. Copyable; empty when default-constructed. 64 bytes plus,
// for a sliding log, 16 bytes per entry (at most kVelocityLogEntriesMax).
class WindowState {
 public:
  WindowState() = default;

  // Latest time Consume recorded; INT64_MIN before the first.
  int64_t last_ms() const { return last_ms_; }
  // Entries of a sliding log (0 for the other algorithms).
  size_t log_entries() const { return log_.size() - head_; }

  // Same algorithm state (a sliding log compares its live entries, not its spare capacity).
  friend bool operator==(const WindowState& a, const WindowState& b);

 private:
  friend struct WindowStateAccess;  // velocity_window_internal.h
  struct LogEntry {
    int64_t time_ms;
    int64_t units;  // > 0
  };

  int64_t last_ms_ = INT64_MIN;
  // fixed_window: a_ = window start, b_ = units. sliding_window_counter: a_ = current window
  // start, b_ = its units, c_ = the previous window's units. token_bucket / leaky_bucket: tokens /
  // level = a_ + b_ / c_ units, c_ = window_ms it was recorded with. gcra: TAT = a_ + b_ / c_ ms,
  // c_ = limit it was recorded with. sliding_log: (a_, b_) = 128-bit sum of the live entries.
  int64_t a_ = 0;
  int64_t b_ = 0;
  int64_t c_ = 0;
  std::vector<LogEntry> log_;  // sliding_log, oldest first from head_, one entry per millisecond
  uint32_t head_ = 0;          // entries before it have expired (dropped in batches)
  uint8_t algorithm_ = 0;      // Algorithm recorded; 0 = empty
};

// Whether `units` more would pass at now_ms. Pure: never changes the state. Requires a spec that
// passed ValidateWindow (an invalid spec refuses with retry_after_ms -1).
[[nodiscard]] Decision Check(const WindowSpec& spec, const WindowState& state, int64_t now_ms,
                             int64_t units);
// Records `units` at now_ms. Call after Check allowed them (a refused request must consume
// nothing), or for a shadow rule; a refused amount is recorded anyway (buckets go into debt).
void Consume(const WindowSpec& spec, WindowState& state, int64_t now_ms, int64_t units);

// Stable binary encoding (core/encoding.h), version 2. Decoding untrusted bytes never crashes:
// damaged, truncated or inconsistent bytes give kCorruptStore. A version-1 blob (the first draft,
// which did not record its algorithm) decodes as an empty state that keeps its latest time.
std::string EncodeState(const WindowState& state);
Result<WindowState> DecodeState(std::string_view bytes);

// A distinct count (e.g. different cards per merchant per day): the values seen in the window,
// one entry per value hash with the last time it was seen. A request passes if its value is
// already counted in the window or if count + 1 <= limit (limit 0 refuses everything).
// fixed_window counts values seen since the start of the current aligned window; sliding_log
// those seen in (now - window_ms, now]. Past kVelocityDistinctEntriesMax values, the oldest is
// forgotten but still counted until the newest forgotten one leaves the window: counts never
// drop, a forgotten value seen again counts twice (refuses early, never admits more).
class DistinctState {
 public:
  DistinctState() = default;

  int64_t last_ms() const { return last_ms_; }
  size_t entries() const { return seen_.size() - head_; }

  friend bool operator==(const DistinctState& a, const DistinctState& b);

 private:
  friend struct WindowStateAccess;
  struct Seen {
    int64_t time_ms;
    uint64_t value_hash;
  };

  int64_t last_ms_ = INT64_MIN;
  int64_t forgotten_ms_ = INT64_MIN;  // latest time among forgotten values
  int64_t forgotten_ = 0;             // how many values were forgotten
  std::vector<Seen> seen_;            // oldest first from head_, each hash once
  uint32_t head_ = 0;
};

// Same contract as Check / Consume; requires a spec that passed ValidateDistinctWindow.
[[nodiscard]] Decision CheckDistinct(const WindowSpec& spec, const DistinctState& state,
                                     int64_t now_ms, uint64_t value_hash);
void ConsumeDistinct(const WindowSpec& spec, DistinctState& state, int64_t now_ms,
                     uint64_t value_hash);
// Version 2; version 1 (first draft) still decodes. kCorruptStore on damaged bytes.
std::string EncodeDistinctState(const DistinctState& state);
Result<DistinctState> DecodeDistinctState(std::string_view bytes);

}  // namespace pay::guards
