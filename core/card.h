#pragma once
// Card data habits (DOMAIN.md, PCI DSS even in simulation): a PAN is validated (digits, length,
// Luhn) and then kept only as a keyed fingerprint plus its BIN and last four digits; at most the
// first six and last four are ever shown. CVV is never accepted by this module at all.

#include <cstdint>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay::card {

// 12-19 digits with a valid Luhn check digit. kInvalidArgument naming `field` otherwise (the
// card rails map an invalid number to ISO 8583 response code 14).
Result<void> ValidatePan(std::string_view pan, std::string_view field = "card");
bool LuhnValid(std::string_view digits);
// 12-19 digits, Luhn not checked (a card the rails decline with 14 is still fingerprinted).
Result<void> ValidatePanFormat(std::string_view pan, std::string_view field = "card");

// "MM/YY" (or "MMYY") -> the card's expiry as year and month.
struct Expiry {
  int year = 0;  // four digits
  int month = 0;
};
Result<Expiry> ParseExpiry(std::string_view text, std::string_view field = "expiry");
// A card is valid through the last millisecond of its expiry month (UTC).
bool Expired(const Expiry& expiry, int64_t now_ms);
// ISO 8583 DE 14 form: "YYMM".
std::string ExpiryYymm(const Expiry& expiry);

// What may be kept of a card: HMAC-SHA256(key, PAN) in hex, the BIN (first six) and last four.
struct CardRef {
  std::string fingerprint;
  std::string bin;
  std::string last4;
  std::string Masked() const;  // "424242...4242": first six and last four only
};
// `key` is the deployment's fingerprint key (at least 16 bytes). Requires a valid PAN.
Result<CardRef> Protect(std::string_view pan, std::string_view key);
// The same for any 12-19 digit number, Luhn-valid or not.
Result<CardRef> ProtectNumber(std::string_view pan, std::string_view key);

}  // namespace pay::card
