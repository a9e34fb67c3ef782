// Text parsers fed by users: amounts, times, durations, ids, card numbers and expiry dates, and
// the duplicate-key scan of JSON bodies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/card.h"
#include "core/json_keys.h"
#include "core/ids.h"
#include "core/time_format.h"
#include "pay/money.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  int exponent = data[0] % 5;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  auto minor = pay::ParseDecimalMinor(in, exponent);
  if (minor) {
    // Round trip: printing and parsing again gives the same number.
    auto again = pay::ParseDecimalMinor(pay::FormatMinor(*minor, exponent), exponent);
    if (!again || *again != *minor) __builtin_trap();
  }
  auto t = pay::ParseRfc3339Ms(in);
  if (t) {
    auto again = pay::ParseRfc3339Ms(pay::FormatRfc3339Ms(*t));
    if (!again || *again != *t) __builtin_trap();
  }
  (void)pay::RefuseDuplicateJsonKeys(in, "body");
  (void)pay::ParseDurationMs(in);
  (void)pay::ValidateAccountId(in);
  (void)pay::ValidateReference(in);
  (void)pay::FindCurrency(in);
  (void)pay::card::ValidatePan(in);
  if (auto e = pay::card::ParseExpiry(in)) {
    if (e->month < 1 || e->month > 12) __builtin_trap();
    (void)pay::card::Expired(*e, 1'790'000'000'000);
  }
  return 0;
}
