#include "rails/payments/payment.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/engine.h"
#include "pay/money.h"

namespace pay::payments {

namespace {

// Version 2 appends the description and the metadata; a payment without them is written in
// version 1 (no bytes for what it does not have).
constexpr uint8_t kPaymentVersion = 1;
constexpr uint8_t kPaymentVersionNotes = 2;
constexpr uint8_t kAdviceVersion = 1;
constexpr uint8_t kMerchantVersion = 1;
constexpr size_t kFieldBytesMax = 512;
constexpr uint32_t kHistoryMax = 4096;

Error Corrupt(std::string_view what) {
  return MakeError(ErrorCode::kCorruptStore, "store: undecodable " + std::string(what) + " record");
}

}  // namespace

std::string EncodePayment(const Payment& p) {
  Writer w;
  w.Reserve(256 + p.history.size() * 48);
  const bool notes = !p.description.empty() || !p.metadata.empty();
  w.U8(notes ? kPaymentVersionNotes : kPaymentVersion);
  w.U8(static_cast<uint8_t>(p.kind));
  for (const std::string* s : {&p.id, &p.merchant, &p.currency, &p.card_fingerprint, &p.card_bin,
                               &p.card_last4, &p.response_code, &p.auth_code, &p.rrn, &p.stan,
                               &p.doubt_stan, &p.claim.scope, &p.claim.key, &p.purpose,
                               &p.sender_name, &p.sender_reference, &p.recipient_name,
                               &p.funding_rrn, &p.funding_stan, &p.sender_fingerprint,
                               &p.sender_bin, &p.sender_last4}) {
    w.Str(*s);
  }
  w.I64(p.funded_minor);
  w.U8(static_cast<uint8_t>(p.status));
  for (int64_t v : {p.amount_minor, p.authorized_minor, p.captured_minor, p.refunded_minor,
                    p.settled_minor, p.fee_minor, p.hold_seq, p.created_at_ms, p.expires_at_ms,
                    p.doubt_amount_minor}) {
    w.I64(v);
  }
  w.U32(static_cast<uint32_t>(p.claim.operation));
  w.U8(p.settled ? 1 : 0);
  w.U8(p.final_captured ? 1 : 0);
  w.U8(p.reversing ? 1 : 0);
  w.U32(static_cast<uint32_t>(p.history.size()));
  for (const PaymentOp& op : p.history) {
    w.Str(op.op);
    w.Str(op.response_code);
    w.Str(op.stan);
    w.I64(op.amount_minor);
    w.I64(op.entry_id);
    w.I64(op.at_ms);
  }
  if (notes) {
    w.Str(p.description);
    w.U32(static_cast<uint32_t>(p.metadata.size()));
    for (const auto& [k, v] : p.metadata) {
      w.Str(k);
      w.Str(v);
    }
  }
  return w.Take();
}

Result<Payment> DecodePayment(std::string_view bytes) {
  Reader r(bytes);
  Payment p;
  uint8_t version = 0, kind = 0, status = 0, settled = 0, final_captured = 0, reversing = 0;
  if (!r.U8(&version) || (version != kPaymentVersion && version != kPaymentVersionNotes) ||
      !r.U8(&kind) || kind > 3) {
    return Corrupt("payment");
  }
  p.kind = static_cast<PaymentKind>(kind);
  for (std::string* s : {&p.id, &p.merchant, &p.currency, &p.card_fingerprint, &p.card_bin,
                         &p.card_last4, &p.response_code, &p.auth_code, &p.rrn, &p.stan,
                         &p.doubt_stan, &p.claim.scope, &p.claim.key, &p.purpose,
                         &p.sender_name, &p.sender_reference, &p.recipient_name,
                         &p.funding_rrn, &p.funding_stan, &p.sender_fingerprint, &p.sender_bin,
                         &p.sender_last4}) {
    if (!r.Str(s, kFieldBytesMax)) return Corrupt("payment");
  }
  if (!r.I64(&p.funded_minor)) return Corrupt("payment");
  if (!r.U8(&status) || status < 1 || status > 16) return Corrupt("payment");
  p.status = static_cast<PaymentStatus>(status);
  for (int64_t* v : {&p.amount_minor, &p.authorized_minor, &p.captured_minor, &p.refunded_minor,
                     &p.settled_minor, &p.fee_minor, &p.hold_seq, &p.created_at_ms,
                     &p.expires_at_ms, &p.doubt_amount_minor}) {
    if (!r.I64(v)) return Corrupt("payment");
  }
  uint32_t op = 0, n = 0;
  if (!r.U32(&op) || !r.U8(&settled) || !r.U8(&final_captured) || !r.U8(&reversing) ||
      !r.U32(&n) || n > kHistoryMax) {
    return Corrupt("payment");
  }
  p.claim.operation = static_cast<int32_t>(op);
  p.settled = settled != 0;
  p.final_captured = final_captured != 0;
  p.reversing = reversing != 0;
  p.history.resize(n);
  for (PaymentOp& h : p.history) {
    if (!r.Str(&h.op, kFieldBytesMax) || !r.Str(&h.response_code, kFieldBytesMax) ||
        !r.Str(&h.stan, kFieldBytesMax) || !r.I64(&h.amount_minor) || !r.I64(&h.entry_id) ||
        !r.I64(&h.at_ms)) {
      return Corrupt("payment");
    }
  }
  if (version == kPaymentVersionNotes) {
    uint32_t pairs = 0;
    if (!r.Str(&p.description, limits::kDescriptionBytesMax) || !r.U32(&pairs) ||
        pairs > limits::kMetadataPairsMax) {
      return Corrupt("payment");
    }
    p.metadata.resize(pairs);
    for (auto& [k, v] : p.metadata) {
      if (!r.Str(&k, limits::kMetadataKeyBytesMax) || !r.Str(&v, limits::kMetadataValueBytesMax)) {
        return Corrupt("payment");
      }
    }
  }
  if (!r.done()) return Corrupt("payment");
  return p;
}

void Payment::Note(const PaymentNotes& notes) {
  description = notes.description;
  metadata = notes.metadata;
  std::sort(metadata.begin(), metadata.end());
}

PaymentView ToView(const Payment& p) {
  PaymentView v;
  v.id = p.id;
  v.merchant = p.merchant;
  v.kind = p.kind;
  v.status = p.status;
  v.response_code = p.response_code;
  v.currency = p.currency;
  v.amount_minor = p.amount_minor;
  v.authorized_minor = p.authorized_minor;
  v.captured_minor = p.captured_minor;
  v.refunded_minor = p.refunded_minor;
  v.capturable_minor = p.capturable_minor();
  v.settled_minor = p.settled_minor;
  v.fee_minor = p.fee_minor;
  v.card = {p.card_fingerprint, p.card_bin, p.card_last4};
  v.rrn = p.rrn;
  v.stan = p.stan;
  v.auth_code = p.auth_code;
  v.funding_rrn = p.funding_rrn;
  v.funding_stan = p.funding_stan;
  v.funded_minor = p.funded_minor;
  v.purpose = p.purpose;
  v.sender_name = p.sender_name;
  v.sender_reference = p.sender_reference;
  v.recipient_name = p.recipient_name;
  if (!p.sender_fingerprint.empty()) {
    v.sender_card = CardSummary{p.sender_fingerprint, p.sender_bin, p.sender_last4};
  }
  v.settled = p.settled;
  if (p.in_doubt()) v.in_doubt_stan = p.doubt_stan;
  v.created_at_ms = p.created_at_ms;
  v.expires_at_ms = p.expires_at_ms;
  v.history = p.history;
  v.description = p.description;
  v.metadata = p.metadata;
  return v;
}

std::string PaymentJson(const Payment& p) { return pay::PaymentJson(ToView(p)); }

Result<void> CheckCarried(const CardRequest& r) {
  if (r.amount_minor < 0 || r.amount_minor > kCardAmountMinorMax) {
    return MakeError(ErrorCode::kInternal, "payments: amount " + std::to_string(r.amount_minor) +
                                               " of payment " + r.rrn +
                                               " does not fit a network message (DE 4)");
  }
  return {};
}

std::string EncodeAdvice(const CardRequest& r) {
  Writer w;
  w.U8(kAdviceVersion);
  w.U8(static_cast<uint8_t>(r.type));
  for (const std::string* s : {&r.stan, &r.rrn, &r.currency, &r.merchant_id, &r.original_stan}) {
    w.Str(*s);
  }
  w.I64(r.amount_minor);
  w.I64(r.transmitted_at_ms);
  w.U8(r.final_capture ? 1 : 0);
  return w.Take();
}

Result<CardRequest> DecodeAdvice(std::string_view bytes) {
  Reader rd(bytes);
  CardRequest r;
  uint8_t version = 0, type = 0, final_capture = 0;
  if (!rd.U8(&version) || version != kAdviceVersion || !rd.U8(&type) || type < 1 || type > 8) {
    return Corrupt("advice");
  }
  r.type = static_cast<CardMessageType>(type);
  for (std::string* s : {&r.stan, &r.rrn, &r.currency, &r.merchant_id, &r.original_stan}) {
    if (!rd.Str(s, kFieldBytesMax)) return Corrupt("advice");
  }
  if (!rd.I64(&r.amount_minor) || !rd.I64(&r.transmitted_at_ms) || !rd.U8(&final_capture) ||
      !rd.done()) {
    return Corrupt("advice");
  }
  r.final_capture = final_capture != 0;
  return r;
}

std::string EncodeMerchant(const Merchant& m) {
  Writer w;
  w.U8(kMerchantVersion);
  w.Str(m.id);
  w.Str(m.currency);
  w.U32(static_cast<uint32_t>(m.fee_bps));
  w.I64(m.fee_fixed_minor);
  w.I64(m.created_at_ms);
  return w.Take();
}

Result<Merchant> DecodeMerchant(std::string_view bytes) {
  Reader r(bytes);
  Merchant m;
  uint8_t version = 0;
  uint32_t bps = 0;
  if (!r.U8(&version) || version != kMerchantVersion || !r.Str(&m.id, kFieldBytesMax) ||
      !r.Str(&m.currency, kFieldBytesMax) || !r.U32(&bps) || !r.I64(&m.fee_fixed_minor) ||
      !r.I64(&m.created_at_ms) || !r.done()) {
    return Corrupt("merchant");
  }
  m.fee_bps = static_cast<int32_t>(bps);
  return m;
}


}  // namespace pay::payments

namespace pay {

namespace {

std::string Decimal(int64_t minor, std::string_view currency) {
  const Currency* c = FindCurrency(currency);
  return FormatMinor(minor, c != nullptr ? c->exponent : 0);
}

}  // namespace

std::string_view PaymentStatusName(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::kPending: return "pending";
    case PaymentStatus::kAuthorized: return "authorized";
    case PaymentStatus::kDeclined: return "declined";
    case PaymentStatus::kPartiallyCaptured: return "partially_captured";
    case PaymentStatus::kCaptured: return "captured";
    case PaymentStatus::kVoided: return "voided";
    case PaymentStatus::kRefunded: return "refunded";
    case PaymentStatus::kPartiallyRefunded: return "partially_refunded";
    case PaymentStatus::kReversed: return "reversed";
    case PaymentStatus::kExpired: return "expired";
    case PaymentStatus::kSettled: return "settled";
    case PaymentStatus::kUnknown: return "unknown";
    case PaymentStatus::kSubmitted: return "submitted";
    case PaymentStatus::kCompleted: return "completed";
    case PaymentStatus::kPendingCredit: return "pending_credit";
    case PaymentStatus::kFundingDeclined: return "funding_declined";
  }
  return "unknown";
}

std::string_view PaymentKindName(PaymentKind k) {
  switch (k) {
    case PaymentKind::kPull: return "card";
    case PaymentKind::kPush: return "push";
    case PaymentKind::kFunding: return "funding";
    case PaymentKind::kP2p: return "p2p";
  }
  return "card";
}

std::string PaymentJson(const PaymentView& p) {
  JsonWriter w;
  w.BeginObject();
  w.Field("payment_id", p.id).Field("merchant", p.merchant);
  w.Field("status", PaymentStatusName(p.status));
  if (p.kind != PaymentKind::kPull) w.Field("type", PaymentKindName(p.kind));
  w.Field("response_code", p.response_code);
  w.Field("currency", p.currency);
  w.Field("amount_minor", p.amount_minor);
  w.Field("authorized_minor", p.authorized_minor);
  w.Field("captured_minor", p.captured_minor);
  w.Field("refunded_minor", p.refunded_minor);
  w.Field("capturable_minor", p.capturable_minor);
  w.Field("settled_minor", p.settled_minor);
  w.Field("fee_minor", p.fee_minor);
  w.Field("amount", Decimal(p.amount_minor, p.currency));
  w.Key("card").BeginObject();
  w.Field("fingerprint", p.card.fingerprint).Field("bin", p.card.bin).Field("last4", p.card.last4);
  w.EndObject();
  w.Key("network").BeginObject();
  w.Field("rrn", p.rrn).Field("stan", p.stan).Field("auth_code", p.auth_code);
  if (!p.funding_rrn.empty()) w.Field("funding_rrn", p.funding_rrn).Field("funding_stan", p.funding_stan);
  w.EndObject();
  if (p.kind != PaymentKind::kPull) {
    w.Field("funded_minor", p.funded_minor);
    if (!p.purpose.empty()) w.Field("purpose", p.purpose);
    if (!p.sender_name.empty()) w.Field("sender_name", p.sender_name);
    if (!p.sender_reference.empty()) w.Field("sender_reference", p.sender_reference);
    if (!p.recipient_name.empty()) w.Field("recipient_name", p.recipient_name);
    if (p.sender_card) {
      w.Key("sender_card").BeginObject();
      w.Field("fingerprint", p.sender_card->fingerprint).Field("bin", p.sender_card->bin);
      w.Field("last4", p.sender_card->last4);
      w.EndObject();
    }
  }
  w.Field("settled", p.settled);
  if (!p.in_doubt_stan.empty()) w.Field("in_doubt_stan", p.in_doubt_stan);
  if (!p.description.empty()) w.Field("description", p.description);
  if (!p.metadata.empty()) {
    w.Key("metadata").BeginObject();
    for (const auto& [k, v] : p.metadata) w.Field(k, v);
    w.EndObject();
  }
  w.Field("created_at", FormatRfc3339Ms(p.created_at_ms));
  if (p.expires_at_ms != 0) w.Field("authorization_expires_at", FormatRfc3339Ms(p.expires_at_ms));
  w.Key("history").BeginArray();
  for (const PaymentOperation& op : p.history) {
    w.BeginObject();
    w.Field("op", op.op).Field("amount_minor", op.amount_minor);
    if (!op.response_code.empty()) w.Field("response_code", op.response_code);
    if (!op.stan.empty()) w.Field("stan", op.stan);
    if (op.entry_id != 0) w.Field("entry_id", op.entry_id);
    w.Field("at", FormatRfc3339Ms(op.at_ms));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return w.str();
}

std::string MerchantJson(const Merchant& m) {
  JsonWriter w;
  w.BeginObject();
  w.Field("merchant", m.id).Field("currency", m.currency);
  w.Field("fee_bps", static_cast<int64_t>(m.fee_bps)).Field("fee_fixed_minor", m.fee_fixed_minor);
  w.Key("accounts").BeginObject();
  w.Field("pending", "m/" + m.id + "/pending").Field("available", "m/" + m.id + "/available");
  w.EndObject();
  w.Field("created_at", FormatRfc3339Ms(m.created_at_ms));
  w.EndObject();
  return w.str();
}

}  // namespace pay

namespace pay {

ResponseCodeMeaning DescribeResponseCode(std::string_view code) {
  struct Row {
    std::string_view code, decline_code, reason;
  };
  static constexpr Row kRows[] = {
      {"00", "approved", "Approved"},
      {"10", "partial_approval", "Approved for part of the amount"},
      {"05", "do_not_honor", "Do not honor: the issuer declined without a reason"},
      {"12", "invalid_transaction", "Invalid transaction"},
      {"13", "invalid_amount", "Invalid amount"},
      {"14", "invalid_number", "Invalid card number"},
      {"25", "not_found", "The original message was not found"},
      {"30", "format_error", "Format error"},
      {"51", "insufficient_funds", "Insufficient funds"},
      {"54", "expired_card", "Expired card"},
      {"57", "transaction_not_allowed", "Transaction not permitted to the cardholder"},
      {"61", "card_velocity_exceeded", "Exceeds the amount limit of a velocity rule"},
      {"65", "withdrawal_count_limit_exceeded", "Exceeds the count limit of a velocity rule"},
      {"94", "duplicate_transaction", "Duplicate transmission"},
      {"96", "processing_error", "System malfunction at the issuer"},
  };
  for (const Row& r : kRows) {
    if (r.code == code) return {std::string(r.decline_code), std::string(r.reason)};
  }
  return {"generic_decline", "Declined (response code " + std::string(code) + ")"};
}

}  // namespace pay

namespace pay {

namespace {

// a += b, or kAmountOverflow.
Result<void> AddChecked(int64_t& a, int64_t b) {
  if (__builtin_add_overflow(a, b, &a)) {
    return MakeError(ErrorCode::kAmountOverflow, "payments: a total overflows int64");
  }
  return {};
}

Result<void> AddPayment(PaymentSums& s, const PaymentView& p) {
  ++s.payments;
  const bool pushed =
      (p.kind == PaymentKind::kPush || p.kind == PaymentKind::kP2p) &&
      (p.status == PaymentStatus::kCompleted || p.status == PaymentStatus::kPendingCredit);
  PAY_TRY(AddChecked(s.authorized_minor, p.kind == PaymentKind::kPull ? p.authorized_minor : 0));
  PAY_TRY(AddChecked(s.captured_minor, p.captured_minor));
  PAY_TRY(AddChecked(s.refunded_minor, p.refunded_minor));
  PAY_TRY(AddChecked(s.settled_minor, p.settled_minor));
  PAY_TRY(AddChecked(s.fee_minor, p.fee_minor));
  PAY_TRY(AddChecked(s.pushed_minor, pushed ? p.amount_minor : 0));
  return AddChecked(s.funded_minor, p.funded_minor);
}

void CountStates(PaymentTotals& t, const PaymentView& p, int64_t now_ms, int64_t within_ms) {
  ++t.by_status[{p.kind, p.status}];
  if (!p.in_doubt_stan.empty() || p.status == PaymentStatus::kUnknown) ++t.in_doubt;
  const bool open =
      p.status == PaymentStatus::kAuthorized || p.status == PaymentStatus::kPartiallyCaptured;
  if (open && p.capturable_minor > 0 && p.expires_at_ms != 0 &&
      p.expires_at_ms - now_ms <= within_ms) {
    ++t.expiring;
  }
  if (p.status == PaymentStatus::kPendingCredit) {
    ++t.pending_credit;
    if (t.pending_credit_oldest_at_ms == 0 || p.created_at_ms < t.pending_credit_oldest_at_ms) {
      t.pending_credit_oldest_at_ms = p.created_at_ms;
    }
  }
}

}  // namespace

Result<PaymentTotals> SumPayments(Engine& engine, int64_t now_ms, int64_t expiring_within_ms) {
  PaymentTotals t;
  std::string after;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(Page<PaymentView> page,
                         engine.ListPayments("", after, limits::kListRowsMax));
    for (const PaymentView& p : page.items) {
      PAY_TRY(AddPayment(t.by_currency[p.currency], p));
      PAY_TRY(AddPayment(t.by_merchant[{p.merchant, p.currency}], p));
      CountStates(t, p, now_ms, expiring_within_ms);
    }
    if (page.next_after.empty() || page.items.empty()) return t;
    after = page.next_after;
  }
}

}  // namespace pay
