#pragma once
// The translation between the card network port (include/pay/card_network.h) and ISO 8583
// messages (iso8583.h): what the acquirer sends and the issuer answers. Both the in-process
// network and the TCP transport go through it, so every exchange is a real ISO 8583 message.
//
//   kAuthorization  0100  DE 2,3(000000),4,7,11,14,22,37,41,42,49 [,48 "CVV=nnn"]
//   kIncrement      0100  DE 3(000000),4,7,11,37,42,49,90 (original STAN)  [no PAN]
//   kCapture        0220  DE 3(000000),4,7,11,37,42,49,90 [,48 "FINAL"]
//   kReversal       0400  DE 3(000000),4,7,11,37,42,49,90
//   kRefund         0220  DE 3(200000),4,7,11,37,42,49
//   kFunding (AFT)  0200  DE 2,3(100000),4,7,11,14,22,37,41,42,49,104 [,48 "CVV=nnn"]
//   kDisbursement   0200  DE 2,3(260000),4,7,11,37,41,42,49,104 (OCT)
//   kStatusInquiry  0600  DE 3,4,7,11,37,42,49,90 (the OCT asked about)
//   DE 104 of pushes: "BAI=PP|SN=sender name|SR=sender reference|RN=recipient name"
//   responses       0110 / 0210 / 0230 / 0410 / 0610: DE 4,11,37,39 [,38] [,48 "DEFERRED"]
//   echo            0800 DE 7,11,70(301) -> 0810 DE 11,39,70

#include <string>

#include "adapters/network/iso8583.h"
#include "pay/card_network.h"

namespace pay::network {

Result<iso8583::Message> ToMessage(const CardRequest& request);
// The request a message carries (the issuer's view). Errors name the data element.
Result<CardRequest> FromMessage(const iso8583::Message& message);

// The issuer's answer to `request`.
iso8583::Message ToResponseMessage(const iso8583::Message& request, const CardResponse& response);
Result<CardResponse> FromResponseMessage(const iso8583::Message& message);

iso8583::Message EchoRequest(const std::string& stan, int64_t now_ms);
bool IsEcho(const iso8583::Message& message);  // 0800 with DE 70 = 301
iso8583::Message EchoResponse(const iso8583::Message& echo);

// DE 11 of a message, or empty.
std::string StanOf(const iso8583::Message& message);

}  // namespace pay::network
