#pragma once
// application/x-www-form-urlencoded bodies as Stripe's clients send them: flat `name=value`
// pairs joined by '&', '+' for a space, percent-encoding, and nested names written with brackets
// (`metadata[order_id]=o-1`, `payment_method_data[card][number]=...`, `expand[0]=x` or
// `expand[]=x`). The names are kept as sent; a reader asks for a name or for every name under a
// prefix.
//
// Refused, naming the problem: a malformed percent-escape, an empty name, a name given twice
// (ambiguous; `[]` names are the one exception: each is numbered in order), more than
// kFormParamsMax pairs, a name or value longer than its bound.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pay/result.h"

namespace pay::server {

inline constexpr size_t kFormParamsMax = 256;
inline constexpr size_t kFormNameBytesMax = 200;
inline constexpr size_t kFormValueBytesMax = 5000;

class Form {
 public:
  // The body (or a query string) decoded; kInvalidArgument "body: ..." when it is malformed.
  static Result<Form> Parse(std::string_view encoded);

  bool Has(std::string_view name) const { return values_.count(std::string(name)) != 0; }
  // The value, or nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  // name[key]=value pairs under `prefix` ("metadata" gives metadata[a]=1 as {a, 1}), in name
  // order; a key with brackets of its own (metadata[a][b]) is kept whole ("a][b").
  std::vector<std::pair<std::string, std::string>> Under(std::string_view prefix) const;
  // The names sent, in name order.
  std::vector<std::string> Names() const;

  // An integer value (the name is the param in the error), or nullopt when absent.
  Result<std::optional<int64_t>> Int(std::string_view name) const;
  // "true" or "false", or nullopt when absent.
  Result<std::optional<bool>> Bool(std::string_view name) const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace pay::server
