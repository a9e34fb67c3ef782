#include "rails/handlers/card_checks.h"

#include <algorithm>

#include "core/card.h"
#include "core/limits.h"
#include "ledger/ledger.h"
#include "pay/card_network.h"
#include "pay/money.h"

namespace pay::handlers {

Result<void> RequireMerchant(const Command& c) {
  if (c.merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "merchant: required for card payments");
  }
  return {};
}

Result<void> ValidateMoney(const Command& c, int64_t amount_minor, const std::string& currency) {
  PAY_TRY(RequireMerchant(c));
  return CheckCardAmount(amount_minor, currency);
}

Result<void> CheckCardAmount(int64_t amount_minor, const std::string& currency) {
  if (amount_minor <= 0) return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
  PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, "currency"));
  if (amount_minor > kCardAmountMinorMax) {
    return MakeError(ErrorCode::kInvalidAmount,
                     "amount: at most " + FormatMinor(kCardAmountMinorMax, cur->exponent) + " " +
                         std::string(cur->code) +
                         " (a card network message carries 12 digits, ISO 8583 DE 4)");
  }
  return {};
}

Result<void> NeedNetwork(const Services& s) {
  if (s.options.card_network == nullptr) {
    return MakeError(ErrorCode::kNetworkUnavailable, "card network: none is configured");
  }
  return {};
}

Result<card::Expiry> CheckChargedCardFields(const CardInput& card, const std::string& prefix) {
  PAY_TRY(card::ValidatePanFormat(card.pan, prefix + "card"));
  PAY_ASSIGN_OR_RETURN(card::Expiry expiry, card::ParseExpiry(card.expiry, prefix + "expiry"));
  if (!card.cvv.empty() && (card.cvv.size() < 3 || card.cvv.size() > 4 ||
                            card.cvv.find_first_not_of("0123456789") != std::string::npos)) {
    return MakeError(ErrorCode::kInvalidArgument, prefix + "cvv: 3 or 4 digits");
  }
  return expiry;
}

Result<void> ProtectChargedCard(const Services& s, const CardInput& card, card::Expiry expiry,
                                const std::string& prefix, payments::ChargedCard* out) {
  PAY_ASSIGN_OR_RETURN(out->ref, card::ProtectNumber(card.pan, s.options.card_fingerprint_key));
  out->input = &card;
  out->expiry_field = prefix + "expiry";
  out->local_decline.clear();
  if (!card::LuhnValid(card.pan)) {
    out->local_decline = "14";
  } else if (card::Expired(expiry, s.clock.NowMs())) {
    out->local_decline = "54";
  }
  return {};
}

Result<void> ValidateCreditedCard(const Services& s, const CardInput& card,
                                  const std::string& field, card::CardRef* ref) {
  PAY_TRY(card::ValidatePan(card.pan, field));
  PAY_ASSIGN_OR_RETURN(*ref, card::ProtectNumber(card.pan, s.options.card_fingerprint_key));
  return {};
}

Result<void> ValidateName(const std::string& value, const char* field, bool required) {
  if ((required && value.empty()) || value.size() > limits::kPushNameBytesMax ||
      !std::all_of(value.begin(), value.end(),
                   [](char ch) { return ch >= ' ' && ch < 127 && ch != '|'; })) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": " + (required ? "1" : "0") + "-" +
                         std::to_string(limits::kPushNameBytesMax) +
                         " printable ASCII characters without '|'");
  }
  return {};
}

Result<void> ValidateNotes(const PaymentNotes& notes) {
  if (notes.description.size() > limits::kDescriptionBytesMax) {
    return MakeError(ErrorCode::kLimitExceeded, "description: longer than " +
                                                    std::to_string(limits::kDescriptionBytesMax) + " bytes");
  }
  for (unsigned char ch : notes.description) {
    if (ch < 0x20 || ch == 0x7f) {
      return MakeError(ErrorCode::kInvalidArgument, "description: control characters are not allowed");
    }
  }
  return ledger::ValidateMetadata(notes.metadata);
}

}  // namespace pay::handlers
