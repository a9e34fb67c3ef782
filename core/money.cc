#include "pay/money.h"

#include <algorithm>
#include <iterator>

namespace pay {
namespace {

constexpr Currency kCurrencies[] = {
#include "core/currencies.inc"
};

constexpr bool SortedByCode() {
  for (size_t i = 1; i < std::size(kCurrencies); ++i) {
    if (!(kCurrencies[i - 1].code < kCurrencies[i].code)) return false;
  }
  return true;
}
static_assert(SortedByCode(), "core/currencies.inc must be sorted by code");

}  // namespace

const Currency* FindCurrency(std::string_view code) {
  auto it = std::lower_bound(std::begin(kCurrencies), std::end(kCurrencies), code,
                             [](const Currency& c, std::string_view k) { return c.code < k; });
  if (it == std::end(kCurrencies) || it->code != code) return nullptr;
  return &*it;
}

const Currency* FindCurrencyByNumeric(uint16_t numeric) {
  for (const Currency& c : kCurrencies) {
    if (c.numeric == numeric) return &c;
  }
  return nullptr;
}

Result<const Currency*> LookupCurrency(std::string_view code, std::string_view field) {
  const Currency* c = FindCurrency(code);
  if (c == nullptr) {
    return MakeError(ErrorCode::kInvalidCurrency,
                     std::string(field) + ": '" + std::string(code.substr(0, 16)) +
                         "' is not an ISO 4217 currency code (three upper-case letters, e.g. USD)");
  }
  return c;
}

Result<int64_t> ParseDecimalMinor(std::string_view text, int exponent, std::string_view field) {
  auto fail = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidAmount,
                     std::string(field) + ": '" + std::string(text.substr(0, 40)) + "' " + why);
  };
  if (text.empty()) return fail("is empty");
  if (text.size() > 40) return fail("is too long");
  bool negative = false;
  std::string_view s = text;
  if (s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  auto all_digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.empty() || !all_digits(whole) ||
      (dot != std::string_view::npos && (frac.empty() || !all_digits(frac)))) {
    return fail("is not a decimal number (digits, optionally '.' and digits, e.g. 12.34)");
  }
  if (whole.size() > 1 && whole.front() == '0') {
    return fail("has a leading zero (write 1.00, not 01.00)");
  }
  if (static_cast<int>(frac.size()) > exponent) {
    return fail("has " + std::to_string(frac.size()) + " decimal places; the currency allows " +
                std::to_string(exponent));
  }
  // Accumulate as a negative number so that INT64_MIN is representable without overflow.
  int64_t value = 0;
  auto push = [&](char c) {
    return !__builtin_mul_overflow(value, 10, &value) && !__builtin_sub_overflow(value, c - '0', &value);
  };
  for (char c : whole) {
    if (!push(c)) return MakeError(ErrorCode::kAmountOverflow, std::string(field) + ": out of range");
  }
  for (int i = 0; i < exponent; ++i) {
    char c = i < static_cast<int>(frac.size()) ? frac[i] : '0';
    if (!push(c)) return MakeError(ErrorCode::kAmountOverflow, std::string(field) + ": out of range");
  }
  if (!negative) {
    if (value == INT64_MIN) {
      return MakeError(ErrorCode::kAmountOverflow, std::string(field) + ": out of range");
    }
    value = -value;
  }
  return value;
}

std::string FormatMinor(int64_t amount_minor, int exponent) {
  bool negative = amount_minor < 0;
  // Work on the unsigned magnitude so that INT64_MIN prints correctly.
  uint64_t mag = negative ? 0 - static_cast<uint64_t>(amount_minor) : static_cast<uint64_t>(amount_minor);
  std::string digits = std::to_string(mag);
  if (exponent > 0) {
    if (static_cast<int>(digits.size()) <= exponent) {
      digits.insert(0, static_cast<size_t>(exponent) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(exponent), 1, '.');
  }
  return negative ? "-" + digits : digits;
}

Result<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return MakeError(ErrorCode::kAmountOverflow, "amount: sum exceeds the int64 range");
  }
  return r;
}
Result<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) {
    return MakeError(ErrorCode::kAmountOverflow, "amount: difference exceeds the int64 range");
  }
  return r;
}
Result<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    return MakeError(ErrorCode::kAmountOverflow, "amount: product exceeds the int64 range");
  }
  return r;
}

Result<Money> Money::Parse(std::string_view decimal, std::string_view currency_code) {
  PAY_ASSIGN_OR_RETURN(const Currency* c, LookupCurrency(currency_code));
  PAY_ASSIGN_OR_RETURN(int64_t minor, ParseDecimalMinor(decimal, c->exponent));
  return Money(minor, *c);
}

std::string Money::ToString() const { return ToDecimal() + " " + std::string(currency_->code); }

Result<Money> Money::Add(const Money& o) const {
  if (currency_->code != o.currency_->code) {
    return MakeError(ErrorCode::kCurrencyMismatch, "currency: cannot add " +
                                                       std::string(o.currency_->code) + " to " +
                                                       std::string(currency_->code));
  }
  PAY_ASSIGN_OR_RETURN(int64_t r, CheckedAdd(amount_minor_, o.amount_minor_));
  return Money(r, *currency_);
}

Result<Money> Money::Sub(const Money& o) const {
  if (currency_->code != o.currency_->code) {
    return MakeError(ErrorCode::kCurrencyMismatch, "currency: cannot subtract " +
                                                       std::string(o.currency_->code) + " from " +
                                                       std::string(currency_->code));
  }
  PAY_ASSIGN_OR_RETURN(int64_t r, CheckedSub(amount_minor_, o.amount_minor_));
  return Money(r, *currency_);
}

}  // namespace pay
