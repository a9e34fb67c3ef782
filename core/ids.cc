#include "core/ids.h"

#include <string>

#include "core/limits.h"

namespace pay {

bool IsPrintableAscii(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Result<void> ValidateAccountId(std::string_view id, std::string_view field) {
  if (id.empty()) return MakeError(ErrorCode::kInvalidAccountId, std::string(field) + ": is empty");
  if (id.size() > limits::kAccountIdBytesMax) {
    return MakeError(ErrorCode::kInvalidAccountId,
                     std::string(field) + ": longer than " +
                         std::to_string(limits::kAccountIdBytesMax) + " bytes");
  }
  if (!IsPrintableAscii(id) || id.find(' ') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidAccountId,
                     std::string(field) + ": only printable ASCII without spaces is allowed");
  }
  return {};
}

Result<void> ValidateReference(std::string_view ref, std::string_view field) {
  if (ref.empty()) return MakeError(ErrorCode::kInvalidReference, std::string(field) + ": is empty");
  if (ref.size() > limits::kReferenceBytesMax) {
    return MakeError(ErrorCode::kInvalidReference,
                     std::string(field) + ": longer than " +
                         std::to_string(limits::kReferenceBytesMax) + " bytes");
  }
  if (!IsPrintableAscii(ref)) {
    return MakeError(ErrorCode::kInvalidReference,
                     std::string(field) + ": only printable ASCII is allowed (1-255 characters)");
  }
  return {};
}

}  // namespace pay
