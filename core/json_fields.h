#pragma once
// Reading a top-level field back out of the engine's own canonical JSON (core/json_writer.h):
// flat "name":"value" strings without escapes and "name":123 integers. Not a JSON parser: for
// bodies this engine wrote, never for external input.

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace pay {

inline std::string JsonStringField(std::string_view json, std::string_view name) {
  std::string pattern = "\"" + std::string(name) + "\":\"";
  size_t at = json.find(pattern);
  if (at == std::string_view::npos) return {};
  at += pattern.size();
  size_t end = json.find('"', at);
  return end == std::string_view::npos ? std::string() : std::string(json.substr(at, end - at));
}

// 0 when absent.
inline int64_t JsonIntField(std::string_view json, std::string_view name) {
  std::string pattern = "\"" + std::string(name) + "\":";
  size_t at = json.find(pattern);
  if (at == std::string_view::npos) return 0;
  at += pattern.size();
  int64_t v = 0;
  std::from_chars(json.data() + at, json.data() + json.size(), v);
  return v;
}

}  // namespace pay
