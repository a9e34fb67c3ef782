#include "adapters/server/authenticator.h"

#include <openssl/evp.h>

#include <optional>

#include "core/crypto.h"

namespace pay::server {

namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kBasic = "Basic ";
constexpr size_t kBasicBytesMax = 1024;

// "Basic base64(KEY:)": the key as the user name, as Stripe's curl examples send it
// (curl -u sk_test_...:). The password part is not used.
std::optional<std::string> BasicUser(std::string_view authorization) {
  const std::string_view b64 = authorization.substr(kBasic.size());
  if (b64.empty() || b64.size() % 4 != 0 || b64.size() > kBasicBytesMax) return std::nullopt;
  std::string out(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  const size_t pad = b64.ends_with("==") ? 2 : b64.ends_with('=') ? 1 : 0;
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pad);
  const size_t colon = out.find(':');
  if (colon == std::string::npos) return std::nullopt;
  out.resize(colon);
  return out;
}

}  // namespace

Result<ApiKey> Authenticator::Authenticate(std::string_view authorization) {
  std::string basic;
  std::string_view presented;
  if (authorization.starts_with(kBearer)) {
    presented = authorization.substr(kBearer.size());
  } else if (auto user = authorization.starts_with(kBasic) ? BasicUser(authorization) : std::nullopt) {
    basic = std::move(*user);
    presented = basic;
  } else {
    return MakeError(ErrorCode::kUnauthenticated,
                     "Authorization: 'Bearer sk_test_...' (an API key; or Basic with the key as the user name) is required");
  }
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
