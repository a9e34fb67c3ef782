#include "core/card.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/crypto.h"

namespace pay::card {

bool LuhnValid(std::string_view digits) {
  int sum = 0;
  bool double_it = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (digits[i] < '0' || digits[i] > '9') return false;
    int d = digits[i] - '0';
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return !digits.empty() && sum % 10 == 0;
}

Result<void> ValidatePan(std::string_view pan, std::string_view field) {
  auto fail = [&](const char* why) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": " + why);
  };
  if (pan.size() < 12 || pan.size() > 19) return fail("a card number has 12 to 19 digits");
  for (char c : pan) {
    if (c < '0' || c > '9') return fail("a card number has digits only");
  }
  if (!LuhnValid(pan)) return fail("the check digit is wrong (Luhn)");
  return {};
}

Result<void> ValidatePanFormat(std::string_view pan, std::string_view field) {
  if (pan.size() < 12 || pan.size() > 19 ||
      pan.find_first_not_of("0123456789") != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": a card number has 12 to 19 digits and digits only");
  }
  return {};
}

Result<Expiry> ParseExpiry(std::string_view text, std::string_view field) {
  std::string s;
  for (char c : text) {
    if (c != '/') s += c;
  }
  bool digits = s.size() == 4 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || (text.size() == 5 && text[2] != '/') || (text.size() != 4 && text.size() != 5)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": '" + std::string(text.substr(0, 8)) + "' is not MM/YY");
  }
  Expiry e;
  e.month = (s[0] - '0') * 10 + (s[1] - '0');
  e.year = 2000 + (s[2] - '0') * 10 + (s[3] - '0');
  if (e.month < 1 || e.month > 12) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": month must be 01-12");
  }
  return e;
}

bool Expired(const Expiry& e, int64_t now_ms) {
  using namespace std::chrono;
  // First millisecond of the month after the expiry month.
  int y = e.year + (e.month == 12 ? 1 : 0);
  unsigned m = e.month == 12 ? 1u : static_cast<unsigned>(e.month + 1);
  sys_days first = year{y} / month{m} / day{1};
  int64_t end_ms = duration_cast<milliseconds>(first.time_since_epoch()).count();
  return now_ms >= end_ms;
}

std::string ExpiryYymm(const Expiry& e) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d%02d", e.year % 100, e.month);
  return buf;
}

std::string CardRef::Masked() const { return bin + "..." + last4; }

Result<CardRef> Protect(std::string_view pan, std::string_view key) {
  PAY_TRY(ValidatePan(pan));
  return ProtectNumber(pan, key);
}

Result<CardRef> ProtectNumber(std::string_view pan, std::string_view key) {
  PAY_TRY(ValidatePanFormat(pan));
  if (key.size() < 16) {
    return MakeError(ErrorCode::kInvalidConfig, "fingerprint key: at least 16 bytes are required");
  }
  CardRef r;
  r.fingerprint = ToHex(HmacSha256(key, pan));
  r.bin = std::string(pan.substr(0, 6));
  r.last4 = std::string(pan.substr(pan.size() - 4));
  return r;
}

}  // namespace pay::card
