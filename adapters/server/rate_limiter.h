#pragma once
// The request-rate limits of paymentd: GCRA (the generic cell rate algorithm) per API key,
// checked before the idempotency layer and before any engine work, and per client address for
// failed authentications. `rate_per_s` sustained, with
// bursts of up to `burst` requests. Not a velocity rule: those are payment results.
//
// Threading: Check may be called from any thread.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pay::server {

class RateLimiter {
 public:
  // rate_per_s <= 0: no limit.
  RateLimiter(double rate_per_s, int64_t burst);

  struct Decision {
    bool allowed = true;
    int64_t retry_after_ms = 0;  // when refused: until one more request is allowed
    int64_t remaining = 0;       // when allowed: requests left in the burst
  };
  // One request of `key` now (the steady clock), or at `now` (seconds on any monotonic scale).
  Decision Check(const std::string& key);
  Decision Check(const std::string& key, double now_s, bool consume = true);
  // Whether one more request of `key` would be allowed now; consumes nothing.
  Decision Peek(const std::string& key);
  int64_t burst() const { return burst_; }

 private:
  static constexpr size_t kKeysMax = 1'000'000;  // forgetting is generous, never unsafe

  const double rate_;
  const int64_t burst_;
  std::mutex mu_;
  std::unordered_map<std::string, double> tat_;  // theoretical arrival time per key, seconds
};

}  // namespace pay::server
