#pragma once
// Card payments and merchants as the engine shows them: typed views returned by the engine's
// reads (Engine::GetPayment, ListPayments, ListMerchants). What is kept of a card is its keyed
// fingerprint, BIN and last four; never the number, never the CVV. JSON rendering is a separate
// step (PaymentJson, MerchantJson below), the same bytes the operations answer with.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pay/result.h"

namespace pay {

class Engine;

// Numbers are stored: never renumber.
enum class PaymentStatus : uint8_t {
  kPending = 1,  // the authorization is on its way (a crash here resolves as unknown)
  kAuthorized = 2,
  kDeclined = 3,
  kPartiallyCaptured = 4,
  kCaptured = 5,
  kVoided = 6,
  kRefunded = 7,
  kPartiallyRefunded = 8,
  kReversed = 9,
  kExpired = 10,
  kSettled = 11,
  kUnknown = 12,  // no answer: its reversal (or, for a push, its status inquiry) is on its way
  // Push payments.
  kSubmitted = 13,        // the OCT is on its way
  kCompleted = 14,        // the OCT was approved and the recipient credited (final)
  kPendingCredit = 15,    // the OCT was approved; the recipient's issuer credits later (final)
  kFundingDeclined = 16,  // P2P: the AFT from the sender's card was declined; nothing pushed
};

// Numbers are stored: never renumber.
enum class PaymentKind : uint8_t {
  kPull = 0,     // a card payment: authorize, capture, ...
  kPush = 1,     // a disbursement (OCT) from the merchant's prefunded balance
  kFunding = 2,  // prefunding from a card (AFT)
  kP2p = 3,      // person to person: AFT from the sender's card, then OCT to the recipient
};
std::string_view PaymentKindName(PaymentKind kind);        // card, push, funding, p2p
std::string_view PaymentStatusName(PaymentStatus status);  // authorized, captured, ...

// One step of a payment's history.
struct PaymentOperation {
  std::string op;  // authorize, increment, capture, void, refund, reversal, expire, settle, ...
  int64_t amount_minor = 0;
  std::string response_code;  // the network's, or empty for advices and local steps
  std::string stan;
  int64_t entry_id = 0;  // the acquirer ledger entry it wrote; 0 if none
  int64_t at_ms = 0;
};

struct CardSummary {
  std::string fingerprint;  // HMAC-SHA256 of the number under the engine's card key (hex)
  std::string bin;
  std::string last4;
};

// What a merchant attaches to a payment it creates (authorize, push, p2p): a description (at
// most 512 bytes, no control characters) and metadata (at most 16 pairs, keys of 1-64 printable
// ASCII characters given once, values up to 256 bytes), kept with the payment, shown with it, and
// searchable by exact key and value.
struct PaymentNotes {
  std::string description;
  std::vector<std::pair<std::string, std::string>> metadata;
};

struct PaymentView {
  std::string id;
  std::string merchant;
  PaymentKind kind = PaymentKind::kPull;
  PaymentStatus status = PaymentStatus::kPending;
  std::string response_code;
  std::string currency;
  int64_t amount_minor = 0;  // requested
  int64_t authorized_minor = 0;
  int64_t captured_minor = 0;
  int64_t refunded_minor = 0;
  int64_t capturable_minor = 0;  // still authorized and capturable
  int64_t settled_minor = 0;
  int64_t fee_minor = 0;
  CardSummary card;  // push payments: the recipient's card
  std::string rrn;
  std::string stan;
  std::string auth_code;
  std::string funding_rrn;  // P2P: the AFT's own references
  std::string funding_stan;
  // Push payments.
  int64_t funded_minor = 0;  // taken from the sender's card (AFT), net of its reversal
  std::string purpose;
  std::string sender_name;
  std::string sender_reference;
  std::string recipient_name;
  std::optional<CardSummary> sender_card;  // P2P
  std::string description;
  std::vector<std::pair<std::string, std::string>> metadata;  // in key order
  bool settled = false;
  std::string in_doubt_stan;  // an exchange without an answer; empty: none
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;  // of the authorization; 0: none
  std::vector<PaymentOperation> history;
};

// A merchant of the card rails (accounts m/<id>/pending, available, disbursement).
struct Merchant {
  std::string id;
  std::string currency;
  int32_t fee_bps = 0;
  int64_t fee_fixed_minor = 0;
  int64_t created_at_ms = 0;
};

// One page of a list in id order. `next_after` is the cursor of the next page (pass it as
// after_id); empty when this is the last page.
template <class T>
struct Page {
  std::vector<T> items;
  std::string next_after;
};

// What the payment records add up to (SumPayments): money in minor units of one currency.
struct PaymentSums {
  int64_t payments = 0;          // records of any kind and status
  int64_t authorized_minor = 0;  // card payments: approved authorizations (with increments)
  int64_t captured_minor = 0;
  int64_t refunded_minor = 0;
  int64_t settled_minor = 0;  // net settled: captured less refunded at settlement
  int64_t fee_minor = 0;      // settlement fees; the merchants were paid settled - fees
  int64_t pushed_minor = 0;   // push and P2P: OCTs approved (completed or pending_credit)
  int64_t funded_minor = 0;   // AFTs: taken from cards (funding and P2P), net of reversals
};

struct PaymentTotals {
  std::map<std::string, PaymentSums> by_currency;
  // (merchant, currency): bounded by the merchants configured.
  std::map<std::pair<std::string, std::string>, PaymentSums> by_merchant;
  std::map<std::pair<PaymentKind, PaymentStatus>, int64_t> by_status;
  int64_t in_doubt = 0;        // waiting on the network (unknown, or an exchange without an answer)
  int64_t expiring = 0;        // authorized, something capturable, expiring within the window asked
  int64_t pending_credit = 0;  // pushes the recipient's issuer credits later
  int64_t pending_credit_oldest_at_ms = 0;  // created_at of the oldest of them; 0: none
};

// Reads every payment (Engine::ListPayments, page by page; O(payments)) and adds them up: money
// by currency and by merchant, counts by kind and status, payments in doubt, authorizations
// expiring within `expiring_within_ms` of `now_ms`. An int64 overflow is kAmountOverflow.
// Any thread that may read the engine.
Result<PaymentTotals> SumPayments(Engine& engine, int64_t now_ms, int64_t expiring_within_ms);

// The canonical JSON (the bodies the operations answer with, replayed byte for byte).
std::string PaymentJson(const PaymentView& payment);
std::string MerchantJson(const Merchant& merchant);

}  // namespace pay
