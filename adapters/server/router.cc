#include "adapters/server/router.h"

#include <algorithm>

namespace pay::server {

namespace {

constexpr std::string_view kParam = "{id}";

// Whether `path` matches `pattern`; `*raw_id` gets what {id} matched (not yet decoded).
bool MatchPattern(std::string_view pattern, std::string_view path, std::string_view* raw_id) {
  const size_t at = pattern.find(kParam);
  if (at == std::string_view::npos) return path == pattern;
  const std::string_view prefix = pattern.substr(0, at);
  const std::string_view suffix = pattern.substr(at + kParam.size());
  if (path.size() >= prefix.size() + suffix.size() && path.starts_with(prefix) &&
      path.ends_with(suffix)) {
    *raw_id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    return true;
  }
  // An empty {id} written with one slash: prefix "/x/" + suffix "/y" read as "/x/y".
  if (prefix.ends_with('/') && suffix.starts_with('/') &&
      path.size() == prefix.size() + suffix.size() - 1 && path.starts_with(prefix) &&
      path.ends_with(suffix.substr(1))) {
    *raw_id = {};
    return true;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Router& Router::Add(std::string method, std::string pattern, Handler handler) {
  routes_.push_back({std::move(method), std::move(pattern), std::move(handler)});
  return *this;
}

Router& Router::Append(const Router& other) {
  routes_.insert(routes_.end(), other.routes_.begin(), other.routes_.end());
  return *this;
}

std::optional<Router::Match> Router::Find(std::string_view method, std::string_view path) const {
  for (const Route& route : routes_) {
    if (route.method != "*" && route.method != method) continue;
    std::string_view raw_id;
    if (MatchPattern(route.pattern, path, &raw_id)) return Match{&route, PercentDecode(raw_id)};
  }
  return std::nullopt;
}

std::vector<std::string> Router::MethodsFor(std::string_view path) const {
  std::vector<std::string> methods;
  for (const Route& route : routes_) {
    std::string_view raw_id;
    if (!MatchPattern(route.pattern, path, &raw_id)) continue;
    if (std::find(methods.begin(), methods.end(), route.method) == methods.end()) {
      methods.push_back(route.method);
    }
  }
  return methods;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
      continue;
    }
    out.push_back(s[i]);  // a stray '%' stays as it is
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    out[PercentDecode(part.substr(0, eq))] = PercentDecode(part.substr(eq + 1));
  }
  return out;
}

}  // namespace pay::server
