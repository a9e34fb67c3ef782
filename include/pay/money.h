#pragma once
// Money is an int64 count of minor units plus an ISO 4217 currency. Never floating point.
// Decimal strings are parsed and printed exactly: "12.34" USD is 1234; "12.345" USD is an error,
// never a rounding.

#include <cstdint>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay {

struct Currency {
  std::string_view code;  // "USD"
  uint16_t numeric;       // 840 (ISO 8583 DE 49 uses it)
  uint8_t exponent;       // number of minor-unit digits: USD 2, JPY 0, BHD 3
};

// Looks up an ISO 4217 alphabetic code (upper case, exactly three letters). nullptr if unknown.
const Currency* FindCurrency(std::string_view code);
const Currency* FindCurrencyByNumeric(uint16_t numeric);
// Error kInvalidCurrency naming `field` when unknown.
Result<const Currency*> LookupCurrency(std::string_view code, std::string_view field = "currency");

// Parses an exact decimal ("-12.34", "0.5", "100") into minor units with the given exponent.
// Rejects signs other than a leading '-', spaces, exponents, empty parts ("12.", ".5"), more
// fraction digits than the exponent allows, and values outside int64. `field` names the input in
// the error message.
Result<int64_t> ParseDecimalMinor(std::string_view text, int exponent,
                                  std::string_view field = "amount");
// Prints minor units as an exact decimal: (1234, 2) -> "12.34", (-5, 2) -> "-0.05", (7, 0) -> "7".
std::string FormatMinor(int64_t amount_minor, int exponent);

// Checked arithmetic: kAmountOverflow instead of wrapping.
Result<int64_t> CheckedAdd(int64_t a, int64_t b);
Result<int64_t> CheckedSub(int64_t a, int64_t b);
Result<int64_t> CheckedMul(int64_t a, int64_t b);

class Money {
 public:
  Money(int64_t amount_minor, const Currency& currency)
      : amount_minor_(amount_minor), currency_(&currency) {}
  static Result<Money> Parse(std::string_view decimal, std::string_view currency_code);

  int64_t amount_minor() const { return amount_minor_; }
  const Currency& currency() const { return *currency_; }
  std::string ToDecimal() const { return FormatMinor(amount_minor_, currency_->exponent); }
  std::string ToString() const;  // "12.34 USD"

  // kCurrencyMismatch across currencies, kAmountOverflow past int64.
  Result<Money> Add(const Money& other) const;
  Result<Money> Sub(const Money& other) const;
  bool operator==(const Money& o) const {
    return amount_minor_ == o.amount_minor_ && currency_->code == o.currency_->code;
  }

 private:
  int64_t amount_minor_;
  const Currency* currency_;
};

}  // namespace pay
