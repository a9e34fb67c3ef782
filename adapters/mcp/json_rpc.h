#pragma once
// JSON-RPC 2.0 as MCP's stdio transport carries it: one message per line, UTF-8. The decoder
// takes one line and classifies it (request, notification, a client's response) or says which
// JSON-RPC error it earns; it never throws and never trusts the input: lines are bounded, must
// be valid UTF-8, nest at most kJsonDepthMax deep, and may not name a key twice in an object
// (RefuseDuplicateJsonKeys). The JSON itself is parsed by protobuf's JSON mapping into a
// google.protobuf.Struct, as the other channels do. Single-threaded helpers; no state.

#include <google/protobuf/struct.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pay::mcp {

// A line longer than this is refused (-32600) without being parsed.
inline constexpr size_t kLineBytesMax = 1 << 20;
// Containers nested deeper than this are refused (-32700) before parsing.
inline constexpr size_t kJsonDepthMax = 64;

// The JSON-RPC error codes, and MCP's own (2026-07-28).
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kUnsupportedProtocolVersion = -32022;

struct Message {
  enum class Kind { kRequest, kNotification, kResponse, kInvalid };
  Kind kind = Kind::kInvalid;
  // The request's id rendered as JSON (a string or an integer), "null" when there is none or it
  // could not be read; echoed verbatim in the answer.
  std::string id_json = "null";
  std::string method;
  google::protobuf::Struct params;  // empty when the message had none
  bool has_params = false;
  // kInvalid: the error to answer with (id_json says to whom).
  int error_code = 0;
  std::string error_message;
};

// Classifies one line (without its newline). Never fails: a bad line is Kind::kInvalid with the
// error to answer.
Message DecodeLine(std::string_view line);

// True when `text` is valid UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Answers, one line each without the newline. `result_json` and `data_json` must be valid JSON.
std::string ResultLine(std::string_view id_json, std::string_view result_json);
std::string ErrorLine(std::string_view id_json, int code, std::string_view message,
                      std::string_view data_json = {});

// A Struct or Value as compact JSON (protobuf's mapping: numbers that are whole and below 2^53
// print as integers).
std::string ToJson(const google::protobuf::Struct& value);

}  // namespace pay::mcp
