#include "adapters/server/form.h"

#include <charconv>

namespace pay::server {

namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One name or value: '+' is a space, %XX a byte; `at` is the part's offset in the body.
Result<std::string> Decode(std::string_view part, size_t at) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    const char c = part[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else if (i + 2 < part.size() && Hex(part[i + 1]) >= 0 && Hex(part[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(part[i + 1]) * 16 + Hex(part[i + 2])));
      i += 2;
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "body: a malformed percent-escape at byte " + std::to_string(at + i) +
                           " (a '%' takes two hex digits)");
    }
  }
  return out;
}

}  // namespace

Result<Form> Form::Parse(std::string_view body) {
  Form form;
  std::map<std::string, size_t> appended;  // name[] -> how many so far
  size_t at = 0;
  while (at <= body.size() && !body.empty()) {
    size_t amp = body.find('&', at);
    if (amp == std::string_view::npos) amp = body.size();
    const std::string_view part = body.substr(at, amp - at);
    const size_t part_at = at;
    at = amp + 1;
    if (part.empty()) {
      if (amp == body.size()) break;
      continue;  // "a=1&&b=2": an empty pair is nothing
    }
    const size_t eq = part.find('=');
    auto name = Decode(part.substr(0, eq), part_at);
    if (!name) return name.error();
    auto value = Decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), part_at + eq + 1);
    if (!value) return value.error();
    if (name->empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "body: a parameter without a name at byte " + std::to_string(part_at));
    }
    if (name->ends_with("[]")) {  // expand[]=a&expand[]=b: expand[0], expand[1]
      const std::string base = name->substr(0, name->size() - 2);
      *name = base + "[" + std::to_string(appended[base]++) + "]";
    }
    const std::string shown = name->substr(0, 64);  // the bounds hold for the name as kept
    if (name->size() > kFormNameBytesMax) {
      return MakeError(ErrorCode::kInvalidArgument, shown + ": the name is longer than " + std::to_string(kFormNameBytesMax) + " bytes");
    }
    if (value->size() > kFormValueBytesMax) {
      return MakeError(ErrorCode::kInvalidArgument, shown + ": longer than " + std::to_string(kFormValueBytesMax) + " bytes");
    }
    if (!form.values_.emplace(*name, std::move(*value)).second) {
      return MakeError(ErrorCode::kInvalidArgument, shown + ": given twice (ambiguous)");
    }
    if (form.values_.size() > kFormParamsMax) {
      return MakeError(ErrorCode::kInvalidArgument, "body: more than " + std::to_string(kFormParamsMax) + " parameters");
    }
  }
  return form;
}

std::optional<std::string> Form::Get(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> Form::Under(std::string_view prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string open = std::string(prefix) + "[";
  for (auto it = values_.lower_bound(open); it != values_.end() && it->first.starts_with(open); ++it) {
    if (!it->first.ends_with("]")) continue;
    out.emplace_back(it->first.substr(open.size(), it->first.size() - open.size() - 1), it->second);
  }
  return out;
}

std::vector<std::string> Form::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(name);
  return out;
}

Result<std::optional<int64_t>> Form::Int(std::string_view name) const {
  auto text = Get(name);
  if (!text) return std::optional<int64_t>();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size()) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": an integer is required (got '" + text->substr(0, 32) + "')");
  }
  return std::optional<int64_t>(v);
}

Result<std::optional<bool>> Form::Bool(std::string_view name) const {
  auto text = Get(name);
  if (!text) return std::optional<bool>();
  if (*text == "true") return std::optional<bool>(true);
  if (*text == "false") return std::optional<bool>(false);
  return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": true or false (got '" + text->substr(0, 32) + "')");
}

}  // namespace pay::server
