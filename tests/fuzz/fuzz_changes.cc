// The change log's rows come back from the database (core/store_changes.cc): a damaged row must
// be refused, never crash, and whatever decodes must encode to a row that decodes the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  pay::store::Changes c;
  if (!pay::store::DecodeChanges(in, &c)) return 0;
  pay::store::Changes again;
  if (!pay::store::DecodeChanges(pay::store::EncodeChanges(c), &again)) __builtin_trap();
  if (again.records != c.records || again.idempotency != c.idempotency ||
      again.entry_states != c.entry_states || again.accounts != c.accounts ||
      again.entries != c.entries || again.velocity != c.velocity ||
      again.everything != c.everything) {
    __builtin_trap();
  }
  return 0;
}
