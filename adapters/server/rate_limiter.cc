#include "adapters/server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace pay::server {

RateLimiter::RateLimiter(double rate_per_s, int64_t burst)
    : rate_(rate_per_s), burst_(std::max<int64_t>(1, burst)) {}

RateLimiter::Decision RateLimiter::Check(const std::string& key) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return Check(key, std::chrono::duration<double>(now).count());
}

RateLimiter::Decision RateLimiter::Peek(const std::string& key) {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return Check(key, std::chrono::duration<double>(now).count(), /*consume=*/false);
}

RateLimiter::Decision RateLimiter::Check(const std::string& key, double now, bool consume) {
  Decision d;
  if (rate_ <= 0) {
    d.remaining = burst_;
    return d;
  }
  // A request is allowed when the theoretical arrival time is within the burst's tolerance.
  const double interval = 1.0 / rate_;
  const double tolerance = interval * static_cast<double>(burst_ - 1);
  std::lock_guard lock(mu_);
  if (tat_.size() > kKeysMax) tat_.clear();
  auto found = tat_.find(key);
  if (found == tat_.end() && !consume) {
    d.remaining = burst_;
    return d;
  }
  double& tat = found != tat_.end() ? found->second : tat_[key];
  const double start = std::max(tat, now);
  if (start - now > tolerance) {
    d.allowed = false;
    d.retry_after_ms = static_cast<int64_t>(std::ceil((start - now - tolerance) * 1000));
    return d;
  }
  if (!consume) {
    d.remaining = static_cast<int64_t>((tolerance - (start - now)) / interval) + 1;
    return d;
  }
  tat = start + interval;
  d.remaining = static_cast<int64_t>((tolerance - (tat - now)) / interval) + 1;
  if (d.remaining < 0) d.remaining = 0;
  return d;
}

}  // namespace pay::server
