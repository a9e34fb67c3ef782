#include "adapters/network/card_messages.h"

#include <cstdio>
#include <ctime>

#include "pay/money.h"

namespace pay::network {

namespace {

using iso8583::Message;
namespace de = iso8583::de;

constexpr std::string_view kTerminalId = "PAYENG01";
constexpr std::string_view kEntryModeManual = "010";
constexpr std::string_view kPurchase = "000000";
constexpr std::string_view kRefundCode = "200000";
constexpr std::string_view kFundingCode = "100000";       // AFT
constexpr std::string_view kDisbursementCode = "260000";  // OCT

// DE 104 of push messages: "BAI=PP|SN=sender|SR=reference|RN=recipient". The parts may not
// contain '|' (the rail validates names and references before they get here).
std::string PushData(const CardRequest& r) {
  return "BAI=" + r.purpose + "|SN=" + r.sender_name + "|SR=" + r.sender_reference +
         "|RN=" + r.recipient_name;
}

void ParsePushData(std::string_view text, CardRequest* r) {
  while (!text.empty()) {
    const size_t bar = text.find('|');
    const std::string_view part = text.substr(0, bar);
    text = bar == std::string_view::npos ? std::string_view() : text.substr(bar + 1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = part.substr(0, eq);
    std::string value(part.substr(eq + 1));
    if (key == "BAI") r->purpose = std::move(value);
    else if (key == "SN") r->sender_name = std::move(value);
    else if (key == "SR") r->sender_reference = std::move(value);
    else if (key == "RN") r->recipient_name = std::move(value);
  }
}

std::string Digits(int64_t value, int width) {
  std::string s(static_cast<size_t>(width), '0');
  for (int i = width - 1; i >= 0 && value > 0; --i) {
    s[static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return s;
}

// DE 7: MMDDhhmmss (UTC).
std::string TransmissionTime(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%02d%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string MerchantField(std::string_view merchant) {
  std::string m(merchant.substr(0, 15));
  m.resize(15, ' ');
  return m;
}

Result<int64_t> ParseDigits(const std::string& s, std::string_view field) {
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) {
      return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": not a number");
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<void> Need(const Message& m, int de_number, std::string_view name) {
  if (m.Has(de_number)) return {};
  return MakeError(ErrorCode::kInvalidArgument,
                   "DE " + std::to_string(de_number) + " (" + std::string(name) + "): missing in " +
                       iso8583::MtiString(m.mti));
}

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string StanOf(const Message& m) { return m.Has(de::kStan) ? m.Get(de::kStan) : std::string(); }

Result<Message> ToMessage(const CardRequest& r) {
  Message m;
  const Currency* currency = FindCurrency(r.currency);
  if (currency == nullptr) {
    return MakeError(ErrorCode::kInvalidCurrency, "currency: '" + r.currency + "' is not ISO 4217");
  }
  if (r.amount_minor < 0 || r.amount_minor > 999'999'999'999LL) {
    return MakeError(ErrorCode::kInvalidAmount, "amount: does not fit DE 4 (12 digits)");
  }
  switch (r.type) {
    case CardMessageType::kAuthorization:
    case CardMessageType::kIncrement: m.mti = 100; break;
    case CardMessageType::kCapture:
    case CardMessageType::kRefund: m.mti = 220; break;
    case CardMessageType::kReversal: m.mti = 400; break;
    case CardMessageType::kFunding:
    case CardMessageType::kDisbursement: m.mti = 200; break;
    case CardMessageType::kStatusInquiry: m.mti = 600; break;
  }
  if (r.type == CardMessageType::kAuthorization || r.type == CardMessageType::kFunding) {
    PAY_TRY(m.Set(de::kPan, r.pan));
    PAY_TRY(m.Set(de::kExpiry, r.expiry_yymm));
    PAY_TRY(m.Set(de::kEntryMode, std::string(kEntryModeManual)));
    PAY_TRY(m.Set(de::kTerminalId, std::string(kTerminalId)));
    if (!r.cvv.empty()) PAY_TRY(m.Set(de::kAdditionalData, "CVV=" + r.cvv));
  }
  if (r.type == CardMessageType::kDisbursement) {
    PAY_TRY(m.Set(de::kPan, r.pan));
    PAY_TRY(m.Set(de::kTerminalId, std::string(kTerminalId)));
  }
  if (r.type == CardMessageType::kFunding || r.type == CardMessageType::kDisbursement) {
    PAY_TRY(m.Set(de::kTransactionData, PushData(r)));
  }
  std::string_view code = kPurchase;
  if (r.type == CardMessageType::kRefund) code = kRefundCode;
  if (r.type == CardMessageType::kFunding) code = kFundingCode;
  if (r.type == CardMessageType::kDisbursement) code = kDisbursementCode;
  PAY_TRY(m.Set(de::kProcessingCode, std::string(code)));
  PAY_TRY(m.Set(de::kAmount, Digits(r.amount_minor, 12)));
  PAY_TRY(m.Set(de::kTransmissionTime, TransmissionTime(r.transmitted_at_ms)));
  PAY_TRY(m.Set(de::kStan, r.stan));
  PAY_TRY(m.Set(de::kRrn, r.rrn));
  PAY_TRY(m.Set(de::kMerchantId, MerchantField(r.merchant_id)));
  PAY_TRY(m.Set(de::kCurrency, Digits(currency->numeric, 3)));
  if (r.type == CardMessageType::kIncrement || r.type == CardMessageType::kCapture ||
      r.type == CardMessageType::kReversal || r.type == CardMessageType::kStatusInquiry) {
    // Original data elements: original MTI, STAN, then zeros (time and institution ids unused).
    std::string original = (r.type == CardMessageType::kStatusInquiry ? "0200" : "0100") + r.original_stan;
    original.resize(42, '0');
    PAY_TRY(m.Set(de::kOriginalData, original));
  }
  if (r.type == CardMessageType::kCapture && r.final_capture) {
    PAY_TRY(m.Set(de::kAdditionalData, "FINAL"));
  }
  if (r.type == CardMessageType::kIncrement) PAY_TRY(m.Set(de::kAdditionalData, "INCREMENT"));
  return m;
}

Result<CardRequest> FromMessage(const Message& m) {
  CardRequest r;
  PAY_TRY(Need(m, de::kProcessingCode, "processing code"));
  PAY_TRY(Need(m, de::kAmount, "amount"));
  PAY_TRY(Need(m, de::kStan, "system trace audit number"));
  PAY_TRY(Need(m, de::kRrn, "retrieval reference number"));
  PAY_TRY(Need(m, de::kCurrency, "currency code"));
  const std::string additional = m.Has(de::kAdditionalData) ? m.Get(de::kAdditionalData) : "";
  const std::string& code = m.Get(de::kProcessingCode);
  switch (m.mti) {
    case 100:
      r.type = m.Has(de::kOriginalData) ? CardMessageType::kIncrement
                                        : CardMessageType::kAuthorization;
      break;
    case 220:
      r.type = code == kRefundCode ? CardMessageType::kRefund : CardMessageType::kCapture;
      break;
    case 400: r.type = CardMessageType::kReversal; break;
    case 200:
      if (code == kFundingCode) {
        r.type = CardMessageType::kFunding;
      } else if (code == kDisbursementCode) {
        r.type = CardMessageType::kDisbursement;
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "DE 3 (processing code): '" + code + "' is not a push (10 AFT, 26 OCT)");
      }
      break;
    case 600: r.type = CardMessageType::kStatusInquiry; break;
    default:
      return MakeError(ErrorCode::kInvalidArgument,
                       "MTI: " + iso8583::MtiString(m.mti) + " is not a request the issuer serves");
  }
  if (code != kPurchase && code != kRefundCode && code != kFundingCode && code != kDisbursementCode) {
    return MakeError(ErrorCode::kInvalidArgument, "DE 3 (processing code): '" + code + "' is not supported");
  }
  PAY_ASSIGN_OR_RETURN(r.amount_minor, ParseDigits(m.Get(de::kAmount), "DE 4 (amount)"));
  r.stan = m.Get(de::kStan);
  r.rrn = m.Get(de::kRrn);
  PAY_ASSIGN_OR_RETURN(int64_t numeric, ParseDigits(m.Get(de::kCurrency), "DE 49 (currency code)"));
  const Currency* currency = FindCurrencyByNumeric(static_cast<uint16_t>(numeric));
  if (currency == nullptr || numeric > 999) {
    return MakeError(ErrorCode::kInvalidArgument, "DE 49 (currency code): unknown currency");
  }
  r.currency = std::string(currency->code);
  if (m.Has(de::kMerchantId)) r.merchant_id = Trim(m.Get(de::kMerchantId));
  if (r.type == CardMessageType::kAuthorization || r.type == CardMessageType::kFunding) {
    PAY_TRY(Need(m, de::kPan, "primary account number"));
    PAY_TRY(Need(m, de::kExpiry, "expiration date"));
    r.pan = m.Get(de::kPan);
    r.expiry_yymm = m.Get(de::kExpiry);
    if (additional.rfind("CVV=", 0) == 0) r.cvv = additional.substr(4);
  } else if (r.type == CardMessageType::kDisbursement) {
    PAY_TRY(Need(m, de::kPan, "primary account number"));
    r.pan = m.Get(de::kPan);
  } else if (r.type != CardMessageType::kRefund) {
    PAY_TRY(Need(m, de::kOriginalData, "original data elements"));
    r.original_stan = m.Get(de::kOriginalData).substr(4, 6);
  }
  r.final_capture = r.type == CardMessageType::kCapture && additional == "FINAL";
  if (r.type == CardMessageType::kFunding || r.type == CardMessageType::kDisbursement) {
    PAY_TRY(Need(m, de::kTransactionData, "transaction specific data"));
    ParsePushData(m.Get(de::kTransactionData), &r);
  }
  return r;
}

Message ToResponseMessage(const Message& request, const CardResponse& response) {
  Message m;
  m.mti = iso8583::ResponseMti(request.mti);
  // The fields come from a decoded request or are checked here; a failure leaves them out and
  // the acquirer sees a format error rather than a crash.
  (void)m.Set(de::kAmount, Digits(response.approved_minor, 12));
  if (request.Has(de::kStan)) (void)m.Set(de::kStan, request.Get(de::kStan));
  if (request.Has(de::kRrn)) (void)m.Set(de::kRrn, request.Get(de::kRrn));
  if (!response.auth_code.empty()) (void)m.Set(de::kAuthCode, response.auth_code);
  if (response.deferred) (void)m.Set(de::kAdditionalData, "DEFERRED");
  (void)m.Set(de::kResponseCode, response.response_code);
  return m;
}

Result<CardResponse> FromResponseMessage(const Message& m) {
  PAY_TRY(Need(m, de::kResponseCode, "response code"));
  CardResponse r;
  r.response_code = m.Get(de::kResponseCode);
  if (m.Has(de::kAuthCode)) r.auth_code = m.Get(de::kAuthCode);
  r.deferred = m.Has(de::kAdditionalData) && m.Get(de::kAdditionalData) == "DEFERRED";
  if (m.Has(de::kAmount)) {
    PAY_ASSIGN_OR_RETURN(r.approved_minor, ParseDigits(m.Get(de::kAmount), "DE 4 (amount)"));
  }
  return r;
}

Message EchoRequest(const std::string& stan, int64_t now_ms) {
  Message m;
  m.mti = 800;
  (void)m.Set(de::kTransmissionTime, TransmissionTime(now_ms));
  (void)m.Set(de::kStan, stan);
  (void)m.Set(de::kNetworkManagementCode, "301");
  return m;
}

bool IsEcho(const Message& m) {
  return m.mti == 800 && m.Has(de::kNetworkManagementCode) &&
         m.Get(de::kNetworkManagementCode) == "301";
}

Message EchoResponse(const Message& echo) {
  Message m;
  m.mti = 810;
  if (echo.Has(de::kStan)) (void)m.Set(de::kStan, echo.Get(de::kStan));
  (void)m.Set(de::kResponseCode, "00");
  (void)m.Set(de::kNetworkManagementCode, "301");
  return m;
}

}  // namespace pay::network
