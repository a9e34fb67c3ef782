#pragma once
// The card network port: what the card rails need from a network, in domain terms. The rails
// (rails/pull, and the push rails after them) speak only this; adapters/network/ implements it
// with ISO 8583 messages, in-process against the issuer simulator (SimulatedCardNetwork) or over
// TCP (TcpCardNetwork). An embedding merchant backend hands one to EngineOptions::card_network.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pay/result.h"

namespace pay {

enum class CardMessageType : uint8_t {
  // Online: the issuer's answer decides.
  kAuthorization = 1,  // 0100, processing code 00: a new hold
  kIncrement = 2,      // 0100 naming the payment (DE 37) and DE 90: a larger hold
  // Advices: the acquirer decided; the issuer applies them once (by STAN) and acknowledges.
  kCapture = 3,   // 0220 completion: posts `amount` of the hold; `final` releases the rest
  kReversal = 4,  // 0400 naming the original message by DE 90: undoes what it did
  kRefund = 5,    // 0220, processing code 20: credits the cardholder
  // Push payments (Visa Direct style).
  kFunding = 6,        // AFT: 0200, processing code 10: debits the sender's card (online)
  kDisbursement = 7,   // OCT: 0200, processing code 26: credits the recipient's card (online)
  kStatusInquiry = 8,  // 0600 naming an earlier message by DE 90: what became of it
};

// The largest amount one message carries: ISO 8583 DE 4 holds 12 digits of minor units
// (9,999,999,999.99 in a currency of exponent 2). The card products refuse a command whose
// message would not fit before anything is written, and the payments core never queues one.
inline constexpr int64_t kCardAmountMinorMax = 999'999'999'999;

struct CardRequest {
  CardMessageType type = CardMessageType::kAuthorization;
  std::string stan;  // DE 11: six digits, unique among the acquirer's messages in flight
  std::string rrn;   // DE 37: twelve characters, the payment's network reference
  // Authorization only: the card as entered. Never stored, never logged.
  std::string pan;
  std::string expiry_yymm;  // DE 14
  std::string cvv;          // empty when not given; checked by the issuer only
  int64_t amount_minor = 0;  // DE 4
  std::string currency;      // alphabetic ISO 4217; DE 49 carries the numeric code
  std::string merchant_id;   // DE 42 (at most 15 characters)
  std::string original_stan;  // DE 90: the message a reversal or increment refers to
  bool final_capture = false;
  int64_t transmitted_at_ms = 0;  // DE 7
  // Push payments (DE 104): the business application identifier (AA, PP, FD, WT, ...), the
  // sender's name and account reference, the recipient's name.
  std::string purpose;
  std::string sender_name;
  std::string sender_reference;
  std::string recipient_name;
};

struct CardResponse {
  std::string response_code;  // DE 39: "00", "10", "05", ...
  std::string auth_code;      // DE 38, on approvals
  int64_t approved_minor = 0; // DE 4 of the response (a partial approval is less)
  // An approved OCT whose credit the recipient's issuer defers (not fast funds): DE 48 DEFERRED.
  bool deferred = false;
  bool approved() const { return response_code == "00" || response_code == "10"; }
};

// What an ISO 8583 response code (DE 39) means, in words: a snake_case decline code in the
// vocabulary card APIs use (`do_not_honor`, `insufficient_funds`, ...) and a sentence. Codes
// the table does not know are "generic_decline" / "Declined (response code NN)".
struct ResponseCodeMeaning {
  std::string decline_code;
  std::string reason;
};
ResponseCodeMeaning DescribeResponseCode(std::string_view response_code);

class CardNetwork {
 public:
  virtual ~CardNetwork() = default;
  // Sends every request and waits for their responses (matched by STAN) up to the network's
  // deadline. One result per request, in order: a response, or
  //   kNetworkTimeout     no response in time: the request may or may not have been applied
  //   kNetworkUnavailable the request could not be sent (not connected)
  // Called by one thread at a time (the engine's writer).
  virtual std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests) = 0;
};

}  // namespace pay
