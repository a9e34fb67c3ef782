#pragma once
// Reading a tool's arguments (a google.protobuf.Struct) into typed values, each failure an
// kInvalidArgument error naming the argument first. Every argument a tool reads is noted, so
// that Leftover() can refuse the ones it does not know (the schemas say additionalProperties:
// false). Internal to adapters/mcp.

#include <google/protobuf/struct.pb.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay::mcp {

class Args {
 public:
  explicit Args(const google::protobuf::Struct& args) : args_(args) {}

  // A string argument; empty optional when absent (or null).
  Result<std::optional<std::string>> OptString(std::string_view name, size_t bytes_max = 512) {
    const google::protobuf::Value* v = Find(name);
    if (v == nullptr) return std::optional<std::string>();
    if (v->kind_case() != google::protobuf::Value::kStringValue) {
      return Bad(name, "must be a string");
    }
    if (v->string_value().size() > bytes_max) {
      return Bad(name, "at most " + std::to_string(bytes_max) + " bytes");
    }
    return std::optional<std::string>(v->string_value());
  }
  Result<std::string> String(std::string_view name, size_t bytes_max = 512) {
    PAY_ASSIGN_OR_RETURN(auto v, OptString(name, bytes_max));
    if (!v || v->empty()) return Bad(name, "is required");
    return *v;
  }
  // A whole number in [min, max]; `fallback` when absent.
  Result<int64_t> Int(std::string_view name, int64_t min, int64_t max, int64_t fallback) {
    const google::protobuf::Value* v = Find(name);
    if (v == nullptr) return fallback;
    const double d = v->number_value();
    if (v->kind_case() != google::protobuf::Value::kNumberValue || std::floor(d) != d ||
        d < static_cast<double>(min) || d > static_cast<double>(max)) {
      return Bad(name,
                 "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return static_cast<int64_t>(d);
  }
  Result<bool> Bool(std::string_view name, bool fallback) {
    const google::protobuf::Value* v = Find(name);
    if (v == nullptr) return fallback;
    if (v->kind_case() != google::protobuf::Value::kBoolValue)
      return Bad(name, "must be a boolean");
    return v->bool_value();
  }
  // An object argument (absent: nullptr).
  Result<const google::protobuf::Struct*> Object(std::string_view name) {
    const google::protobuf::Value* v = Find(name);
    if (v == nullptr) return static_cast<const google::protobuf::Struct*>(nullptr);
    if (v->kind_case() != google::protobuf::Value::kStructValue) {
      return Bad(name, "must be an object");
    }
    return &v->struct_value();
  }
  // An error naming the first argument no reader asked for.
  Result<void> Leftover() const {
    for (const auto& [name, value] : args_.fields()) {
      if (read_.count(name) == 0) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "unknown argument (see the tool's inputSchema)");
      }
    }
    return {};
  }

 private:
  const google::protobuf::Value* Find(std::string_view name) {
    read_.emplace(name);
    auto it = args_.fields().find(std::string(name));
    if (it == args_.fields().end() ||
        it->second.kind_case() == google::protobuf::Value::kNullValue) {
      return nullptr;
    }
    return &it->second;
  }
  static Error Bad(std::string_view name, std::string_view what) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": " + std::string(what));
  }

  const google::protobuf::Struct& args_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace pay::mcp
