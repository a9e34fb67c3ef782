#pragma once
// An ISO 8583 (1987 flavour) codec for the messages of DOMAIN.md: 0100/0110 authorization,
// 0120 advice, 0200/0210 financial, 0220 completion, 0400/0410 reversal, 0420/0430 reversal
// advice, 0800/0810 network management, and the push messages built on them.
//
// Wire format (all ASCII, so a message can be logged as it is):
//   MTI        4 digits
//   bitmap     16 hexadecimal digits (primary); bit 1 set means a secondary bitmap of 16 more
//   fields     in ascending order, each per its spec: fixed length, or LLVAR / LLLVAR with a
//              2- or 3-digit decimal length prefix
// Only the data elements listed in FieldSpecs() are supported; a message naming any other is a
// format error. Decoding never reads past its input and names the field in every error
// (kInvalidArgument, "DE 4 (amount): ..."). Messages are bounded (kMessageBytesMax).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay::iso8583 {

inline constexpr size_t kMessageBytesMax = 4096;
inline constexpr int kFieldsMax = 128;

enum class Charset : uint8_t { kNumeric, kAlphanumeric, kAlphanumericSpecial };
enum class LengthKind : uint8_t { kFixed, kLlvar, kLllvar };

struct FieldSpec {
  int number = 0;
  std::string_view name;
  Charset charset = Charset::kNumeric;
  LengthKind length_kind = LengthKind::kFixed;
  int length = 0;  // the fixed length, or the maximum for LLVAR/LLLVAR
};

// The spec of a supported data element, or nullptr.
const FieldSpec* FindField(int number);

struct Message {
  int mti = 0;  // e.g. 100 for 0100
  std::array<std::optional<std::string>, kFieldsMax + 1> fields;  // [2..128]

  bool Has(int de) const { return de >= 2 && de <= kFieldsMax && fields[de].has_value(); }
  const std::string& Get(int de) const { return *fields[de]; }
  // Sets a field after checking it against its spec (charset, length); names it in errors.
  Result<void> Set(int de, std::string value);
  void Clear(int de) { fields[de].reset(); }
  bool operator==(const Message& other) const = default;
};

// MTI helpers: 0100 -> 0110 (the response), "0100" formatting.
int ResponseMti(int mti);
std::string MtiString(int mti);

// Encodes a message whose fields were set through Set (or decoded). kInvalidArgument when the
// MTI is not four digits or the message would exceed kMessageBytesMax.
Result<std::string> Encode(const Message& message);
// Decodes exactly one message occupying all of `bytes`.
Result<Message> Decode(std::string_view bytes);

// Data element numbers used by the engine.
namespace de {
inline constexpr int kPan = 2;
inline constexpr int kProcessingCode = 3;
inline constexpr int kAmount = 4;
inline constexpr int kTransmissionTime = 7;
inline constexpr int kStan = 11;
inline constexpr int kLocalTime = 12;
inline constexpr int kLocalDate = 13;
inline constexpr int kExpiry = 14;
inline constexpr int kEntryMode = 22;
inline constexpr int kRrn = 37;
inline constexpr int kAuthCode = 38;
inline constexpr int kResponseCode = 39;
inline constexpr int kTerminalId = 41;
inline constexpr int kMerchantId = 42;
inline constexpr int kAdditionalData = 48;
inline constexpr int kCurrency = 49;
inline constexpr int kNetworkManagementCode = 70;
inline constexpr int kOriginalData = 90;
inline constexpr int kTransactionData = 104;
}  // namespace de

}  // namespace pay::iso8583
