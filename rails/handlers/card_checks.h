#pragma once
// Checks shared by the card products' handlers (no database): merchants, amounts, cards, names.

#include <string>

#include "rails/handlers/handler.h"

namespace pay::handlers {

Result<void> RequireMerchant(const Command& c);
// The merchant, a positive amount and a known currency.
Result<void> ValidateMoney(const Command& c, int64_t amount_minor, const std::string& currency);
// A positive amount that a card network message can carry (kCardAmountMinorMax), in a known
// currency; the refusal names the field and the limit in the currency's units.
Result<void> CheckCardAmount(int64_t amount_minor, const std::string& currency);
Result<void> NeedNetwork(const Services& s);
// The number, expiry and CVV of a card that is charged; fields named with `prefix`.
Result<card::Expiry> CheckChargedCardFields(const CardInput& card, const std::string& prefix);
// Fingerprints a charged card (checked already) into `out` with its local decline: "14" for a
// bad check digit, "54" for an expired card (by the engine clock).
Result<void> ProtectChargedCard(const Services& s, const CardInput& card, card::Expiry expiry,
                                const std::string& prefix, payments::ChargedCard* out);
// A card that is credited (OCT): a valid number is enough; a wrong check digit is a typo the
// sender must fix before any money is held.
Result<void> ValidateCreditedCard(const Services& s, const CardInput& card,
                                  const std::string& field, card::CardRef* ref);
// Names of push parties: 1-30 (0-30 when optional) printable ASCII characters without '|'.
Result<void> ValidateName(const std::string& value, const char* field, bool required);
// A payment's description (at most limits::kDescriptionBytesMax bytes, no control characters)
// and metadata (ledger::ValidateMetadata).
Result<void> ValidateNotes(const PaymentNotes& notes);

}  // namespace pay::handlers
