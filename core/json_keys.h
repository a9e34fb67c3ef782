#pragma once
// Refusing ambiguous JSON: an object that names a key twice (`"amount":"1.00","amount":"2.00"`,
// where a parser would silently keep one of them). Keys are compared as the protobuf JSON
// mapping reads them: after unescaping, and with the field's two spellings (`amount_minor`,
// `amountMinor`) taken as one key. Malformed JSON is left for the real parser to report.

#include <string_view>

#include "pay/result.h"

namespace pay {

// kInvalidArgument "<where>: duplicate key 'card.number'" naming the key's path, or success.
Result<void> RefuseDuplicateJsonKeys(std::string_view json, std::string_view where);

}  // namespace pay
