#pragma once
// Idempotency keys (DOMAIN.md, rules 1-9). The engine claims a key in the same store
// transaction as the command's effects; this file holds the pure parts: key validation, the
// scope, and the request fingerprint.

#include <string>
#include <string_view>

#include "pay/engine.h"

namespace pay::guards {

// Rule 1: 1-255 printable ASCII characters. kInvalidIdempotencyKey otherwise.
Result<void> ValidateIdempotencyKey(std::string_view key);

// The merchant and credential of a command, when given: 1-64 printable ASCII characters
// without spaces or '/' (the scope is part of derived ledger references).
Result<void> ValidateScope(const Command& command);

// Rule 2: the scope of a key is the merchant, else the API credential, else "default". The
// operation is part of the record's primary key, so the same key on another operation is
// another key.
std::string ScopeOf(const Command& command);

// Rule 4: SHA-256 over a canonical binary encoding of the request (a version tag, the operation,
// then every field in a fixed order with lengths). Channel, client attributes and event time are
// not part of it: the same request from another IP is the same request.
// Card operations: `card_fingerprint` (the keyed HMAC of the PAN; for P2P the sender's, with the
// recipient's as `second_card_fingerprint`) stands for the card, so that no hash of a bare PAN is
// ever stored.
std::string Fingerprint(const Request& request, std::string_view card_fingerprint = {},
                        std::string_view second_card_fingerprint = {});

}  // namespace pay::guards
