// Decoders of stored ledger blobs: a tampered database file must give an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ledger/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto legs = pay::ledger::DecodeLegs(in);
  if (legs) {
    // What decodes must encode back to the same bytes (the encoding is canonical).
    if (pay::ledger::EncodeLegs(*legs) != in) __builtin_trap();
  }
  auto md = pay::ledger::DecodeMetadata(in);
  if (md && pay::ledger::EncodeMetadata(*md) != in) __builtin_trap();
  return 0;
}
