#pragma once
// Who is asking: an Authorization header ("Bearer sk_test_...", or Basic with the key as the user
// name, as `curl -u sk_test_...:` sends it) to the API key it presents. Keys
// verified once are remembered by the SHA-256 of the presented string for kRememberMs, so that
// I/O threads do not wait on the store for every request. A key revoked or rolled through this
// process's ApiKeys is forgotten at once; through another process (another node, the CLI)
// within kRememberMs. A rolled key is never taken past its expiry.
//
// Threading: Authenticate may be called from any thread.

#include <chrono>
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

  static constexpr int64_t kRememberMs = 1'000;

 private:
  static constexpr size_t kCacheEntriesMax = 100'000;
  struct Remembered {
    ApiKey key;
    std::chrono::steady_clock::time_point until;
  };
  ApiKeys& keys_;
  std::mutex mu_;
  uint64_t generation_ = 0;  // of keys_ when the cache was last valid
  std::unordered_map<std::string, Remembered> cache_;  // SHA-256 of the presented key -> key
};

}  // namespace pay::server
