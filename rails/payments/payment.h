#pragma once
// A card payment as the acquirer keeps it: what the card rails may store of the card (its
// fingerprint, BIN and last four; never the PAN, never the CVV), the amounts, the status, the
// network references and the history of operations. Stored as a record of the store (kind
// kPaymentRecord), encoded by EncodePayment; rendered by PaymentJson (the body every payment
// operation answers with, replayed byte for byte).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pay/card_network.h"
#include "pay/payments.h"
#include "pay/result.h"

namespace pay::payments {

using pay::Merchant;
using pay::PaymentKind;
using pay::PaymentKindName;
using pay::PaymentStatus;
using pay::PaymentStatusName;
using PaymentOp = pay::PaymentOperation;

// The command that waits for this payment's open network exchange (its idempotency claim).
struct Claim {
  std::string scope;
  int32_t operation = 0;
  std::string key;
  bool empty() const { return key.empty(); }
};

struct Payment {
  // Not in the encoded body: the record's open column (store::RecordRow::open_ms). Set while a
  // network exchange of the payment is open, since when; 0 when none.
  int64_t open_since_ms = 0;
  // Not in the encoded body: what the store held when the payment was loaded or last saved
  // (saved: whether it was stored at all), so that Save writes the events of what changed
  // since (rails/payments/events.h).
  mutable bool saved = false;
  mutable size_t saved_ops = 0;
  mutable PaymentStatus saved_status = PaymentStatus::kPending;
  PaymentKind kind = PaymentKind::kPull;
  std::string id;
  std::string merchant;
  std::string currency;
  std::string card_fingerprint;
  std::string card_bin;
  std::string card_last4;
  PaymentStatus status = PaymentStatus::kPending;
  std::string response_code;
  std::string auth_code;
  std::string rrn;
  std::string stan;  // of the authorization
  int64_t amount_minor = 0;  // requested
  int64_t authorized_minor = 0;
  int64_t captured_minor = 0;
  int64_t refunded_minor = 0;
  int64_t settled_minor = 0;
  int64_t fee_minor = 0;
  int64_t hold_seq = 0;  // the acquirer's hold (pending entry); 0: none
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
  bool settled = false;
  bool final_captured = false;  // the rest of the authorization was released at capture
  // An exchange without an answer (an increment's, or the authorization's when unknown): its
  // STAN and amount, and the command waiting for it.
  std::string doubt_stan;
  int64_t doubt_amount_minor = 0;
  bool reversing = false;  // the doubt's reversal is queued: a late answer is ignored
  Claim claim;
  // Push payments: the business application identifier and the parties; P2P and funding: the
  // AFT (its own RRN and STAN) and the sender's card. card_* is then the recipient's card.
  std::string purpose;
  std::string sender_name;
  std::string sender_reference;
  std::string recipient_name;
  std::string funding_rrn;
  std::string funding_stan;
  std::string sender_fingerprint;
  std::string sender_bin;
  std::string sender_last4;
  int64_t funded_minor = 0;  // taken from the sender's card (AFT), net of its reversal
  std::vector<PaymentOp> history;
  // The merchant's notes (PaymentNotes), metadata in key order.
  std::string description;
  std::vector<std::pair<std::string, std::string>> metadata;
  void Note(const PaymentNotes& notes);

  int64_t capturable_minor() const { return hold_seq != 0 ? authorized_minor - captured_minor : 0; }
  bool in_doubt() const { return !doubt_stan.empty(); }
};

std::string EncodePayment(const Payment& payment);
Result<Payment> DecodePayment(std::string_view bytes);
// The view the engine shows (include/pay/payments.h) and its JSON.
PaymentView ToView(const Payment& payment);
std::string PaymentJson(const Payment& payment);

// A queued advice (the outbox): a network message the acquirer decided and must deliver.
struct Advice {
  std::string id;  // outbox record id (ordered)
  std::string payment_id;
  CardRequest request;  // never carries a PAN or CVV
};
std::string EncodeAdvice(const CardRequest& request);
// Whether a network message can carry the request (its amount fits DE 4). The handlers refuse
// such commands first; this is the payments core's own guard that none is ever sent or queued
// (kInternal: a handler let it through).
Result<void> CheckCarried(const CardRequest& request);
Result<CardRequest> DecodeAdvice(std::string_view bytes);

std::string EncodeMerchant(const Merchant& merchant);
Result<Merchant> DecodeMerchant(std::string_view bytes);

}  // namespace pay::payments
