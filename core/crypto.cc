#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/assert.h"

namespace pay {

Sha256Digest Sha256(std::string_view a, std::string_view b) {
  // The algorithm is fetched once (an implicit fetch on every init takes locks), and the context
  // is reused per thread (no allocation per digest on the hot path).
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Context {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Context holder;
  EVP_MD_CTX* ctx = holder.ctx;
  Sha256Digest out{};
  unsigned int len = 0;
  bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, md, nullptr) == 1 &&
            EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 &&
            EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size();
  PAY_ASSERT(ok, "OpenSSL SHA-256 failed");
  return out;
}

Sha256Digest HmacSha256(std::string_view key, std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  bool ok = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
                 &len) != nullptr &&
            len == out.size();
  PAY_ASSERT(ok, "OpenSSL HMAC-SHA256 failed");
  return out;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return MakeError(ErrorCode::kInternal, "crypto: the random generator failed");
  }
  return out;
}

}  // namespace pay
