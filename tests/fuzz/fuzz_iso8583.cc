// The ISO 8583 decoder reads bytes from the network: any input gives a message or an error,
// never a crash, and whatever decodes re-encodes to bytes that decode to the same message
// (bytes may differ only in the case of the bitmap's hex digits: decoding accepts both, encoding
// writes upper case). What decodes is then read as the issuer reads a request and as the
// acquirer reads a response: errors, never crashes; a request that reads maps back to a message
// that reads the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/network/card_messages.h"
#include "adapters/network/iso8583.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = pay::iso8583::Decode(in);
  if (m) {
    auto again = pay::iso8583::Encode(*m);
    if (!again) __builtin_trap();
    auto back = pay::iso8583::Decode(*again);
    if (!back || !(*back == *m)) __builtin_trap();
    auto request = pay::network::FromMessage(*m);
    if (request) {
      auto message = pay::network::ToMessage(*request);
      if (message) {
        auto reread = pay::network::FromMessage(*message);
        if (!reread || reread->type != request->type || reread->stan != request->stan ||
            reread->amount_minor != request->amount_minor) {
          __builtin_trap();
        }
      }
    }
    (void)pay::network::FromResponseMessage(*m);
  }
  return 0;
}
