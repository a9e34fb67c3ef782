#include "adapters/server/authenticator.h"

#include "core/crypto.h"

namespace pay::server {

namespace {

constexpr std::string_view kBearer = "Bearer ";

}  // namespace

Result<ApiKey> Authenticator::Authenticate(std::string_view authorization) {
  if (!authorization.starts_with(kBearer)) {
    return MakeError(ErrorCode::kUnauthenticated, "Authorization: 'Bearer sk_test_...' (an API key) is required");
  }
  const std::string_view presented = authorization.substr(kBearer.size());
  const std::string digest = DigestBytes(Sha256(presented));
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (const uint64_t g = keys_.generation(); g != generation_) {
      cache_.clear();  // a key was revoked or rolled here
      generation_ = g;
    }
    auto it = cache_.find(digest);
    if (it != cache_.end()) {
      const ApiKey& k = it->second.key;
      const bool expired = k.expires_at_ms != 0 && keys_.clock().NowMs() >= k.expires_at_ms;
      if (now < it->second.until && !expired) return k;
      cache_.erase(it);
    }
  }
  PAY_ASSIGN_OR_RETURN(auto key, keys_.Authenticate(presented));
  if (!key) {
    return MakeError(ErrorCode::kUnauthenticated, "Authorization: unknown, revoked or expired API key");
  }
  std::lock_guard lock(mu_);
  if (cache_.size() >= kCacheEntriesMax) cache_.clear();
  cache_[digest] = Remembered{*key, now + std::chrono::milliseconds(kRememberMs)};
  return std::move(*key);
}

std::string Authenticator::Challenge(std::string_view authorization) {
  return authorization.starts_with(kBearer) ? "Bearer error=\"invalid_token\"" : "Bearer";
}

}  // namespace pay::server
