#include "adapters/server/authenticator.h"

#include "core/crypto.h"

namespace pay::server {

namespace {

constexpr std::string_view kBearer = "Bearer ";

}  // namespace

Result<ApiKey> Authenticator::Authenticate(std::string_view authorization) {
  if (!authorization.starts_with(kBearer)) {
    return MakeError(ErrorCode::kUnauthenticated, "Authorization: 'Bearer pk_...' is required");
  }
  const std::string_view presented = authorization.substr(kBearer.size());
  const std::string digest = DigestBytes(Sha256(presented));
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(digest);
    if (it != cache_.end()) return it->second;
  }
  PAY_ASSIGN_OR_RETURN(auto key, keys_.Authenticate(presented));
  if (!key) return MakeError(ErrorCode::kUnauthenticated, "Authorization: unknown or revoked API key");
  std::lock_guard lock(mu_);
  if (cache_.size() >= kCacheEntriesMax) cache_.clear();
  cache_[digest] = *key;
  return std::move(*key);
}

std::string Authenticator::Challenge(std::string_view authorization) {
  return authorization.starts_with(kBearer) ? "Bearer error=\"invalid_token\"" : "Bearer";
}

}  // namespace pay::server
