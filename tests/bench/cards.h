#pragma once
// Cards for the load generators: Luhn-valid 16-digit numbers 4242 42xx xxxx xxxc, distinct per
// index below 10^9, which the issuer simulator approves, each with an open-to-buy of its own
// (10,000.00 per currency: docs/network-sim.md). A load on one card runs it dry and measures
// declines (51) instead of approvals.

#include <cstdint>
#include <cstdio>
#include <string>

namespace pay::bench {

inline std::string Card(int64_t i) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "424242%09lld", static_cast<long long>(i % 1'000'000'000));
  int sum = 0;
  for (int k = 14; k >= 0; --k) {  // from the right; the check digit comes after
    int d = digits[k] - '0';
    if ((14 - k) % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  digits[15] = static_cast<char>('0' + (10 - sum % 10) % 10);
  digits[16] = '\0';
  return digits;
}

}  // namespace pay::bench
