#include "rails/guards/idempotency.h"

#include <algorithm>

#include "core/answer_codec.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/json_fields.h"
#include "core/limits.h"
#include "ledger/codec.h"
#include "ledger/ledger.h"

namespace pay::guards {

Result<void> ValidateIdempotencyKey(std::string_view key) {
  if (key.empty()) {
    return MakeError(ErrorCode::kInvalidIdempotencyKey,
                     "idempotency_key: required for every command that moves money");
  }
  if (key.size() > limits::kReferenceBytesMax) {
    return MakeError(ErrorCode::kInvalidIdempotencyKey,
                     "idempotency_key: longer than 255 characters");
  }
  if (!IsPrintableAscii(key)) {
    return MakeError(ErrorCode::kInvalidIdempotencyKey,
                     "idempotency_key: only printable ASCII is allowed (no leading or trailing "
                     "space, no control characters)");
  }
  return {};
}

Result<void> ValidateScope(const Command& command) {
  for (const auto& [field, value] : {std::pair<const char*, const std::string&>{"merchant", command.merchant},
                                     {"credential", command.client.credential}}) {
    if (value.empty()) continue;
    if (value.size() > limits::kAccountIdBytesMax || !IsPrintableAscii(value) ||
        value.find_first_of(" /") != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(field) + ": 1-64 printable ASCII characters without spaces or '/'");
    }
  }
  // Refs derived from the scope ("<scope>/<key>") must stay out of the card payments' own
  // namespace ("pay/...", payments::Book::Ref).
  if (command.merchant == "pay") {
    return MakeError(ErrorCode::kInvalidArgument, "merchant: 'pay' is reserved");
  }
  return {};
}

std::string ScopeOf(const Command& command) {
  if (!command.merchant.empty()) return command.merchant;
  if (!command.client.credential.empty()) return "credential:" + command.client.credential;
  return "default";
}

namespace {

struct FingerprintWriter {
  Writer& w;
  std::string_view card_fingerprint;
  std::string_view second_card_fingerprint;
  // Notes enter only when given, so that a request without them keeps the fingerprint it had
  // before payments took notes (its key still replays after an upgrade).
  void Notes(const PaymentNotes& n) const {
    if (n.description.empty() && n.metadata.empty()) return;
    w.Str("notes");
    w.Str(n.description);
    auto md = n.metadata;
    std::sort(md.begin(), md.end());
    w.U32(static_cast<uint32_t>(md.size()));
    for (const auto& [k, v] : md) {
      w.Str(k);
      w.Str(v);
    }
  }
  void operator()(const CreateAccountRequest& r) const {
    const ledger::AccountSpec& a = r.account;
    w.Str(a.id);
    w.Str(a.currency);
    w.U32(static_cast<uint32_t>(a.type));
    w.U32(static_cast<uint32_t>(a.overdraft));
    w.I64(a.overdraft_limit_minor);
    ledger::Metadata md = a.metadata;
    std::sort(md.begin(), md.end());  // order of annotations is not content
    w.U32(static_cast<uint32_t>(md.size()));
    for (const auto& [k, v] : md) {
      w.Str(k);
      w.Str(v);
    }
  }
  void operator()(const TransferRequest& r) const { ledger::EncodeEntrySpec(w, r.entry); }
  void operator()(const PostRequest& r) const {
    w.I64(r.entry_id);
    w.U8(r.amount_minor.has_value() ? 1 : 0);
    w.I64(r.amount_minor.value_or(0));
  }
  void operator()(const VoidRequest& r) const { w.I64(r.entry_id); }
  void operator()(const ReverseRequest& r) const {
    w.I64(r.entry_id);
    w.Str(r.description);
    w.Str(r.ref);
  }
  void operator()(const CreateMerchantRequest& r) const {
    w.Str(r.id);
    w.Str(r.currency);
    w.U32(static_cast<uint32_t>(r.fee_bps));
    w.I64(r.fee_fixed_minor);
  }
  // The card enters as its keyed fingerprint, never as the number; the CVV not at all.
  void operator()(const AuthorizeRequest& r) const {
    w.Str(card_fingerprint);
    w.Str(r.card.expiry);
    w.I64(r.amount_minor);
    w.Str(r.currency);
    Notes(r.notes);
  }
  void operator()(const IncrementRequest& r) const {
    w.Str(r.payment_id);
    w.I64(r.amount_minor);
  }
  void operator()(const CaptureRequest& r) const {
    w.Str(r.payment_id);
    w.U8(r.amount_minor.has_value() ? 1 : 0);
    w.I64(r.amount_minor.value_or(0));
    w.U8(r.final ? 1 : 0);
  }
  void operator()(const VoidPaymentRequest& r) const { w.Str(r.payment_id); }
  void operator()(const RefundRequest& r) const {
    w.Str(r.payment_id);
    w.U8(r.amount_minor.has_value() ? 1 : 0);
    w.I64(r.amount_minor.value_or(0));
  }
  void operator()(const FundRequest& r) const {
    w.I64(r.amount_minor);
    w.Str(r.currency);
    w.U8(r.card.has_value() ? 1 : 0);
    w.Str(card_fingerprint);
    w.Str(r.card ? r.card->expiry : std::string());
  }
  void operator()(const PushRequest& r) const {
    w.Str(card_fingerprint);
    w.I64(r.amount_minor);
    w.Str(r.currency);
    w.Str(r.purpose);
    w.Str(r.sender_name);
    w.Str(r.sender_reference);
    w.Str(r.recipient_name);
    Notes(r.notes);
  }
  void operator()(const P2pRequest& r) const {
    w.Str(card_fingerprint);
    w.Str(r.sender_card.expiry);
    w.Str(second_card_fingerprint);
    w.I64(r.amount_minor);
    w.Str(r.currency);
    w.Str(r.sender_name);
    w.Str(r.recipient_name);
    Notes(r.notes);
  }
};

}  // namespace

std::string Fingerprint(const Request& request, std::string_view card_fingerprint,
                        std::string_view second_card_fingerprint) {
  Writer w;
  w.Str("request/v1");
  w.U8(static_cast<uint8_t>(OperationOf(request)));
  std::visit(FingerprintWriter{w, card_fingerprint, second_card_fingerprint}, request);
  return DigestBytes(Sha256(w.bytes()));
}

}  // namespace pay::guards

// ---- the records ------------------------------------------------------------------------------

namespace pay::guards {

namespace {

constexpr std::string_view kPaymentIntent = "payment:";

bool IsCardOperation(Operation op) {
  return op == Operation::kAuthorize || op == Operation::kIncrement ||
         op == Operation::kCapture || op == Operation::kVoidPayment || op == Operation::kRefund ||
         op == Operation::kFund || op == Operation::kPush || op == Operation::kP2p;
}

int32_t Stored(KeyState s) { return static_cast<int32_t>(s); }

}  // namespace

Intent Intent::Of(const store::IdempotencyRow& row) {
  std::string_view body(row.body);
  if (body.substr(0, kPaymentIntent.size()) == kPaymentIntent) {
    return {Kind::kPayment, std::string(body.substr(kPaymentIntent.size()))};
  }
  if (body.empty()) return {};
  return {Kind::kLedgerRef, row.body};
}

std::string Intent::Encode() const {
  switch (kind) {
    case Kind::kPayment: return std::string(kPaymentIntent) + value;
    case Kind::kLedgerRef: return value;
    case Kind::kNone: break;
  }
  return {};
}

Result<std::optional<Outcome>> Keys::Replay(const KeyRef& k, const std::string& fingerprint) {
  const auto op = static_cast<int32_t>(k.operation);
  PAY_ASSIGN_OR_RETURN(auto found, store_.FindIdempotency(k.scope, op, k.key));
  if (!found) return std::optional<Outcome>();
  const store::IdempotencyRow& rec = *found;
  if (rec.state == Stored(KeyState::kInFlight)) {
    return MakeError(ErrorCode::kIdempotencyKeyInFlight,
                     "idempotency_key: '" + k.key + "' is still being processed");
  }
  if (rec.fingerprint != fingerprint) {
    return MakeError(ErrorCode::kIdempotencyKeyReused,
                     "idempotency_key: '" + k.key + "' was used for a different " +
                         std::string(OperationName(k.operation)) + " request");
  }
  Outcome out;
  out.operation = k.operation;
  out.replayed = true;
  PAY_ASSIGN_OR_RETURN(out.body, UnpackAnswer(rec.body));
  out.entry_id = rec.entry_seq;
  if (rec.status != 0) {
    out.declined = true;
    out.decline = MakeError(static_cast<ErrorCode>(rec.status), rec.message);
  } else if (IsCardOperation(k.operation)) {
    out.payment_id = JsonStringField(out.body, "payment_id");
    out.payment_status = JsonStringField(out.body, "status");
    out.response_code = JsonStringField(out.body, "response_code");
  }
  return std::optional<Outcome>(std::move(out));
}

store::IdempotencyRow Keys::Row(const KeyRef& k, const std::string& fingerprint, KeyState state,
                                int64_t now_ms) const {
  store::IdempotencyRow rec;
  rec.scope = k.scope;
  rec.operation = static_cast<int32_t>(k.operation);
  rec.key = k.key;
  rec.fingerprint = fingerprint;
  rec.state = Stored(state);
  rec.created_at_ms = now_ms;
  rec.expires_at_ms = now_ms + retention_ms_;
  return rec;
}

Result<void> Keys::Claim(const KeyRef& k, const std::string& fingerprint, const Intent& intent,
                         int64_t now_ms) {
  store::IdempotencyRow rec = Row(k, fingerprint, KeyState::kInFlight, now_ms);
  rec.body = intent.Encode();
  return store_.PutIdempotency(rec);
}

Result<void> Keys::Complete(const KeyRef& k, const std::string& fingerprint,
                            const Outcome& outcome, int64_t now_ms) {
  store::IdempotencyRow rec = Row(k, fingerprint, KeyState::kComplete, now_ms);
  rec.status = outcome.declined ? outcome.decline.number() : 0;
  rec.message = outcome.declined ? outcome.decline.message : std::string();
  rec.entry_seq = outcome.entry_id;
  rec.body = PackAnswer(outcome.body);
  return store_.PutIdempotency(rec);
}

Result<void> Keys::CompleteClaim(const KeyRef& k, const std::string& body, int64_t entry_seq) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindIdempotency(k.scope, static_cast<int32_t>(k.operation), k.key));
  if (!row || row->state != Stored(KeyState::kInFlight)) return {};
  store::IdempotencyRow done = std::move(*row);
  done.state = Stored(KeyState::kComplete);
  done.status = 0;
  done.entry_seq = entry_seq;
  done.body = PackAnswer(body);
  return store_.PutIdempotency(done);
}

Result<std::optional<std::string>> Keys::PaymentOf(const KeyRef& k) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindIdempotency(k.scope, static_cast<int32_t>(k.operation), k.key));
  if (!row) return std::optional<std::string>();
  if (row->state == Stored(KeyState::kInFlight)) {
    Intent intent = Intent::Of(*row);
    if (intent.kind != Intent::Kind::kPayment) return std::optional<std::string>();
    return std::optional<std::string>(std::move(intent.value));
  }
  PAY_ASSIGN_OR_RETURN(std::string body, UnpackAnswer(row->body));
  std::string id = JsonStringField(body, "payment_id");
  if (id.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(id));
}

Result<std::vector<store::IdempotencyRow>> Keys::InFlight(size_t limit) {
  return store_.InFlightIdempotency(limit);
}

Result<Keys::Recovered> Keys::Recover(ledger::Ledger& ledger,
                                      const std::vector<store::IdempotencyRow>& rows) {
  Recovered out;
  for (const store::IdempotencyRow& r : rows) {
    const Intent intent = Intent::Of(r);
    if (intent.kind == Intent::Kind::kPayment) {  // the payment's recovery completes it
      ++out.skipped;
      continue;
    }
    std::optional<ledger::Entry> entry;
    if (intent.kind == Intent::Kind::kLedgerRef) {
      PAY_ASSIGN_OR_RETURN(entry, ledger.FindEntryByRef(intent.value));
    }
    if (entry) {
      store::IdempotencyRow done = r;
      done.state = Stored(KeyState::kComplete);
      done.entry_seq = entry->seq;
      done.body = PackAnswer(EntryJson(*entry));
      PAY_TRY(store_.PutIdempotency(done));
      ++out.completed;
    } else {
      PAY_TRY(store_.DeleteIdempotency(r.scope, r.operation, r.key));
      ++out.released;
    }
  }
  return out;
}

Result<size_t> Keys::Purge(int64_t now_ms, size_t limit) {
  return store_.PurgeIdempotency(now_ms, limit);
}

}  // namespace pay::guards
