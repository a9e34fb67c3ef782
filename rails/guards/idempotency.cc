#include "rails/guards/idempotency.h"

#include <algorithm>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/limits.h"
#include "ledger/codec.h"

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
  }
  void operator()(const P2pRequest& r) const {
    w.Str(card_fingerprint);
    w.Str(r.sender_card.expiry);
    w.Str(second_card_fingerprint);
    w.I64(r.amount_minor);
    w.Str(r.currency);
    w.Str(r.sender_name);
    w.Str(r.recipient_name);
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
