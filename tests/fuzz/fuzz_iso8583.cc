// The ISO 8583 decoder reads bytes from the network: any input gives a message or an error,
// never a crash, and whatever decodes re-encodes to bytes that decode to the same message
// (bytes may differ only in the case of the bitmap's hex digits: decoding accepts both, encoding
// writes upper case).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/network/iso8583.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = pay::iso8583::Decode(in);
  if (m) {
    auto again = pay::iso8583::Encode(*m);
    if (!again) __builtin_trap();
    auto back = pay::iso8583::Decode(*again);
    if (!back || !(*back == *m)) __builtin_trap();
  }
  return 0;
}
