#pragma once
// Identifiers chosen by callers (account ids, entry references, idempotency keys) are bounded
// printable ASCII strings.

#include <string_view>

#include "pay/result.h"

namespace pay {

// Printable ASCII is 0x21..0x7e plus space inside (never first or last).
bool IsPrintableAscii(std::string_view s);

// kInvalidAccountId unless 1..kAccountIdBytesMax printable ASCII characters without spaces.
Result<void> ValidateAccountId(std::string_view id, std::string_view field = "account");
// kInvalidReference unless 1..kReferenceBytesMax printable ASCII characters.
Result<void> ValidateReference(std::string_view ref, std::string_view field = "ref");

}  // namespace pay
