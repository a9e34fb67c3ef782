#include "adapters/mcp/json_rpc.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <string>

#include "core/json_keys.h"
#include "core/json_writer.h"

namespace pay::mcp {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr double kSafeIntegerMax = 9007199254740992.0;  // 2^53

// The deepest nesting of objects and arrays outside strings, stopping once past `max`.
size_t Depth(std::string_view s, size_t max) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > deepest) deepest = depth;
      if (deepest > max) return deepest;
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Message Invalid(int code, std::string message, std::string id_json = "null") {
  Message m;
  m.kind = Message::Kind::kInvalid;
  m.error_code = code;
  m.error_message = std::move(message);
  m.id_json = std::move(id_json);
  return m;
}

// The id as JSON, or empty when it is not a string or a whole number JSON-RPC allows.
std::string IdJson(const Value& id) {
  if (id.kind_case() == Value::kStringValue) {
    JsonWriter w;
    w.String(id.string_value());
    return w.str();
  }
  if (id.kind_case() == Value::kNumberValue) {
    const double d = id.number_value();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= kSafeIntegerMax) {
      return std::to_string(static_cast<int64_t>(d));
    }
  }
  return "";
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return false;
    i += len;
  }
  return true;
}

Message DecodeLine(std::string_view line) {
  if (line.size() > kLineBytesMax) {
    return Invalid(kInvalidRequest,
                   "message too large: at most " + std::to_string(kLineBytesMax) + " bytes a line");
  }
  if (!IsValidUtf8(line)) return Invalid(kParseError, "Parse error: not valid UTF-8");
  if (Depth(line, kJsonDepthMax) > kJsonDepthMax) {
    return Invalid(kParseError,
                   "Parse error: nested deeper than " + std::to_string(kJsonDepthMax) + " levels");
  }
  Value root;
  if (!google::protobuf::util::JsonStringToMessage(std::string(line), &root).ok()) {
    return Invalid(kParseError, "Parse error: not a JSON value");
  }
  if (auto dup = RefuseDuplicateJsonKeys(line, "message"); !dup) {
    const std::string& why = dup.error().message;  // names the key, which may be escaped junk
    return Invalid(kParseError,
                   "Parse error: " + (why.size() <= 200 && IsValidUtf8(why)
                                          ? why
                                          : std::string("an object names a key twice")));
  }
  if (root.kind_case() == Value::kListValue) {
    return Invalid(kInvalidRequest, "Invalid Request: batches are not supported");
  }
  if (root.kind_case() != Value::kStructValue) {
    return Invalid(kInvalidRequest, "Invalid Request: a message is a JSON object");
  }
  const auto& f = root.struct_value().fields();
  Message m;
  auto id = f.find("id");
  if (id != f.end()) {
    m.id_json = IdJson(id->second);
    if (m.id_json.empty()) {
      return Invalid(kInvalidRequest, "Invalid Request: id must be a string or an integer");
    }
  }
  auto version = f.find("jsonrpc");
  if (version == f.end() || version->second.string_value() != "2.0") {
    return Invalid(kInvalidRequest, "Invalid Request: jsonrpc must be \"2.0\"", m.id_json);
  }
  auto method = f.find("method");
  if (method == f.end()) {
    if (id != f.end() && (f.count("result") != 0 || f.count("error") != 0)) {
      m.kind = Message::Kind::kResponse;
      return m;
    }
    return Invalid(kInvalidRequest, "Invalid Request: no method", m.id_json);
  }
  if (method->second.kind_case() != Value::kStringValue || method->second.string_value().empty()) {
    return Invalid(kInvalidRequest, "Invalid Request: method must be a non-empty string",
                   m.id_json);
  }
  m.method = method->second.string_value();
  m.kind = id == f.end() ? Message::Kind::kNotification : Message::Kind::kRequest;
  auto params = f.find("params");
  if (params != f.end()) {
    if (params->second.kind_case() != Value::kStructValue) {
      if (m.kind == Message::Kind::kNotification) return m;  // never answered
      return Invalid(kInvalidParams, "Invalid params: params must be an object", m.id_json);
    }
    m.params = params->second.struct_value();
    m.has_params = true;
  }
  return m;
}

std::string ResultLine(std::string_view id_json, std::string_view result_json) {
  std::string out = "{\"jsonrpc\":\"2.0\",\"id\":";
  out.append(id_json).append(",\"result\":").append(result_json).append("}");
  return out;
}

std::string ErrorLine(std::string_view id_json, int code, std::string_view message,
                      std::string_view data_json) {
  JsonWriter w;
  w.BeginObject().Field("jsonrpc", "2.0").Key("id").Raw(id_json).Key("error").BeginObject();
  w.Field("code", code).Field("message", message);
  if (!data_json.empty()) w.Key("data").Raw(data_json);
  w.EndObject().EndObject();
  return w.str();
}

std::string ToJson(const Struct& value) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(value, &out).ok()) return "{}";
  return out;
}

}  // namespace pay::mcp
