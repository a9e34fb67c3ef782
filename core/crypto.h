#pragma once
// Crypto helpers over OpenSSL 3. The only place that includes OpenSSL headers.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of the concatenation of the parts.
Sha256Digest Sha256(std::string_view a, std::string_view b = {});
// HMAC-SHA256 of `data` under `key`.
Sha256Digest HmacSha256(std::string_view key, std::string_view data);
std::string ToHex(std::string_view bytes);
// Equality in time independent of where the inputs differ (secrets, MACs). False if the sizes
// differ.
bool ConstantTimeEqual(std::string_view a, std::string_view b);
// `n` bytes from OpenSSL's CSPRNG (keys, never test data).
Result<std::string> RandomBytes(size_t n);
inline std::string ToHex(const Sha256Digest& d) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}
inline std::string DigestBytes(const Sha256Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace pay
