#pragma once
// Who is asking: an Authorization header ("Bearer pk_...") to the API key it presents. Keys
// verified once are remembered by the SHA-256 of the presented string, so that I/O threads do not
// wait on the store for every request (bounded; keys are never revoked today, so a remembered key
// stays valid).
//
// Threading: Authenticate may be called from any thread.

#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "adapters/server/api_keys.h"

namespace pay::server {

class Authenticator {
 public:
  // `keys` must outlive the authenticator.
  explicit Authenticator(ApiKeys& keys) : keys_(keys) {}

  // The key the header presents. kUnauthenticated when there is no bearer credential or the
  // key is unknown or its secret does not match; a store error as it is.
  Result<ApiKey> Authenticate(std::string_view authorization);
  // The WWW-Authenticate challenge of a 401 for this header.
  static std::string Challenge(std::string_view authorization);

 private:
  static constexpr size_t kCacheEntriesMax = 100'000;

  ApiKeys& keys_;
  std::mutex mu_;
  std::unordered_map<std::string, ApiKey> cache_;  // SHA-256 of the presented key -> key
};

}  // namespace pay::server
