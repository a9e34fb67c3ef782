#include "core/json_keys.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace pay {

namespace {

// Containers nested deeper than this are not scanned (the protobuf parser refuses them).
constexpr size_t kDepthMax = 200;

struct Level {
  bool object = false;
  std::unordered_set<std::string> keys;  // normalized
  std::string key;                       // the current key, as written (for the path)
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool Hex4(std::string_view s, size_t at, uint32_t* v) {
  if (at + 4 > s.size()) return false;
  *v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return false;
    *v = *v * 16 + static_cast<uint32_t>(d);
  }
  return true;
}

// Reads the string starting at s[*i] == '"' into *out (unescaped); *i ends past the closing
// quote. False on malformed input.
bool ReadString(std::string_view s, size_t* i, std::string* out) {
  out->clear();
  for (size_t p = *i + 1; p < s.size(); ++p) {
    char c = s[p];
    if (c == '"') {
      *i = p + 1;
      return true;
    }
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++p >= s.size()) return false;
    switch (s[p]) {
      case '"': case '\\': case '/': out->push_back(s[p]); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp = 0, low = 0;
        if (!Hex4(s, p + 1, &cp)) return false;
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && p + 6 < s.size() && s[p + 1] == '\\' &&
            s[p + 2] == 'u' && Hex4(s, p + 3, &low) && low >= 0xDC00 && low < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
        AppendUtf8(cp, out);
        break;
      }
      default: return false;
    }
  }
  return false;
}

// `amount_minor` and `amountMinor` name one protobuf field.
std::string Normalized(const std::string& key) {
  std::string n;
  n.reserve(key.size());
  for (char c : key) {
    if (c == '_') continue;
    n.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return n;
}

std::string PathOf(const std::vector<Level>& stack) {
  std::string path;
  for (const Level& l : stack) {
    if (!l.object) continue;
    if (!path.empty()) path += '.';
    path += l.key;
  }
  return path;
}

}  // namespace

Result<void> RefuseDuplicateJsonKeys(std::string_view s, std::string_view where) {
  std::vector<Level> stack;
  std::string text;
  bool expect_key = false;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c == '{' || c == '[') {
      if (stack.size() >= kDepthMax) return {};
      stack.push_back(Level{c == '{', {}, {}});
      expect_key = c == '{';
      ++i;
    } else if (c == '}' || c == ']') {
      if (stack.empty()) return {};
      stack.pop_back();
      expect_key = false;
      ++i;
    } else if (c == ',') {
      expect_key = !stack.empty() && stack.back().object;
      ++i;
    } else if (c == '"') {
      if (!ReadString(s, &i, &text)) return {};
      if (!expect_key) continue;
      Level& level = stack.back();
      level.key = text;
      if (!level.keys.insert(Normalized(text)).second) {
        return MakeError(ErrorCode::kInvalidArgument,
                         std::string(where) + ": duplicate key '" + PathOf(stack) + "'");
      }
      expect_key = false;
    } else {
      ++i;  // ':', whitespace, numbers, true, false, null
    }
  }
  return {};
}

}  // namespace pay
