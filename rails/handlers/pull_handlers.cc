// Card pull payments and merchants: create a merchant, authorize, increment (online: they wait
// for the network), capture, void and refund (advices: queued with the books).

#include <algorithm>

#include "core/limits.h"
#include "rails/handlers/card_checks.h"
#include "rails/handlers/handlers.h"

namespace pay::handlers {

namespace {

Result<void> CheckPaymentId(const Command& c, const std::string& id,
                            std::optional<int64_t> amount) {
  PAY_TRY(RequireMerchant(c));
  if (id.empty() || id.size() > limits::kAccountIdBytesMax) {
    return MakeError(ErrorCode::kInvalidArgument, "payment_id: required (pay_...)");
  }
  if (amount && *amount <= 0) return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
  return {};
}

class CreateMerchantHandler final : public HandlerOf<CreateMerchantRequest> {
 public:
  Operation operation() const override { return Operation::kCreateMerchant; }

 protected:
  Result<void> Check(const Services&, const Command&, const CreateMerchantRequest& m,
                     CommandContext&) const override {
    if (m.id.empty() || m.id.size() > limits::kMerchantIdBytesMax ||
        !std::all_of(m.id.begin(), m.id.end(),
                     [](char ch) { return ch > ' ' && ch < 127 && ch != '/'; })) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "merchant: 1-" + std::to_string(limits::kMerchantIdBytesMax) +
                           " printable ASCII characters without spaces or '/'");
    }
    PAY_TRY(LookupCurrency(m.currency, "currency"));
    if (m.fee_bps < 0 || m.fee_bps > 10'000) {
      return MakeError(ErrorCode::kInvalidArgument, "fee_bps: between 0 and 10000 basis points");
    }
    if (m.fee_fixed_minor < 0) {
      return MakeError(ErrorCode::kInvalidAmount, "fee_fixed: must not be negative");
    }
    return {};
  }
  Result<Step> Run(const Services& s, const Command&, const CreateMerchantRequest& r,
                   const CommandContext&) const override {
    PAY_ASSIGN_OR_RETURN(payments::Merchant m, s.book.CreateMerchant(r));
    Step step;
    step.outcome.body = MerchantJson(m);
    return step;
  }
};

class AuthorizeHandler final : public HandlerOf<AuthorizeRequest> {
 public:
  Operation operation() const override { return Operation::kAuthorize; }

 protected:
  Result<void> Check(const Services& s, const Command& c, const AuthorizeRequest& a,
                     CommandContext& x) const override {
    PAY_TRY(RequireMerchant(c));
    PAY_ASSIGN_OR_RETURN(card::Expiry expiry, CheckChargedCardFields(a.card, ""));
    PAY_TRY(CheckCardAmount(a.amount_minor, a.currency));
    PAY_TRY(ValidateNotes(a.notes));
    PAY_TRY(NeedNetwork(s));
    return ProtectChargedCard(s, a.card, expiry, "", &x.card);
  }
  void Describe(const Services&, const AuthorizeRequest& a, const CommandContext& x,
                guards::VelocityEvent& e) const override {
    e.card = x.card.ref.fingerprint;
    e.amount_minor = a.amount_minor;
    e.currency = a.currency;
    e.distinct_value = x.card.ref.fingerprint;
  }
  Result<Step> Run(const Services& s, const Command& c, const AuthorizeRequest& r,
                   const CommandContext& x) const override {
    PAY_ASSIGN_OR_RETURN(auto prepared, s.pull.Authorize(x.scope, r, x.card, ClaimOf(c, x)));
    return OnlineStep(std::move(prepared), operation(), /*push=*/false);
  }
};

class IncrementHandler final : public HandlerOf<IncrementRequest> {
 public:
  Operation operation() const override { return Operation::kIncrement; }

 protected:
  Result<void> Check(const Services& s, const Command& c, const IncrementRequest& r,
                     CommandContext&) const override {
    PAY_TRY(CheckPaymentId(c, r.payment_id, r.amount_minor));
    return NeedNetwork(s);
  }
  void Describe(const Services&, const IncrementRequest& r, const CommandContext&,
                guards::VelocityEvent& e) const override {
    e.amount_minor = r.amount_minor;
  }
  Result<Step> Run(const Services& s, const Command& c, const IncrementRequest& r,
                   const CommandContext& x) const override {
    PAY_ASSIGN_OR_RETURN(auto prepared, s.pull.Increment(x.scope, r, ClaimOf(c, x)));
    return OnlineStep(std::move(prepared), operation(), /*push=*/false);
  }
};

// Captures, voids and refunds: decided by the books, told to the network by an advice.
Result<Step> AdviceStep(Result<payments::Payment> payment, Operation op) {
  if (!payment) return payment.error();
  Step step = PaymentStep(*payment, op);
  step.advices_queued = true;
  return step;
}

class CaptureHandler final : public HandlerOf<CaptureRequest> {
 public:
  Operation operation() const override { return Operation::kCapture; }

 protected:
  Result<void> Check(const Services&, const Command& c, const CaptureRequest& r,
                     CommandContext&) const override {
    return CheckPaymentId(c, r.payment_id, r.amount_minor);
  }
  void Describe(const Services&, const CaptureRequest& r, const CommandContext&,
                guards::VelocityEvent& e) const override {
    e.amount_minor = r.amount_minor.value_or(0);
  }
  Result<Step> Run(const Services& s, const Command&, const CaptureRequest& r,
                   const CommandContext& x) const override {
    return AdviceStep(s.pull.Capture(x.scope, r), operation());
  }
};

class VoidPaymentHandler final : public HandlerOf<VoidPaymentRequest> {
 public:
  Operation operation() const override { return Operation::kVoidPayment; }

 protected:
  Result<void> Check(const Services&, const Command& c, const VoidPaymentRequest& r,
                     CommandContext&) const override {
    return CheckPaymentId(c, r.payment_id, std::nullopt);
  }
  Result<Step> Run(const Services& s, const Command&, const VoidPaymentRequest& r,
                   const CommandContext& x) const override {
    return AdviceStep(s.pull.Void(x.scope, r), operation());
  }
};

class RefundHandler final : public HandlerOf<RefundRequest> {
 public:
  Operation operation() const override { return Operation::kRefund; }

 protected:
  Result<void> Check(const Services&, const Command& c, const RefundRequest& r,
                     CommandContext&) const override {
    return CheckPaymentId(c, r.payment_id, r.amount_minor);
  }
  void Describe(const Services&, const RefundRequest& r, const CommandContext&,
                guards::VelocityEvent& e) const override {
    e.amount_minor = r.amount_minor.value_or(0);
  }
  Result<Step> Run(const Services& s, const Command&, const RefundRequest& r,
                   const CommandContext& x) const override {
    return AdviceStep(s.pull.Refund(x.scope, r), operation());
  }
};

}  // namespace

const Handler& CreateMerchant() { static const CreateMerchantHandler h; return h; }
const Handler& Authorize() { static const AuthorizeHandler h; return h; }
const Handler& Increment() { static const IncrementHandler h; return h; }
const Handler& Capture() { static const CaptureHandler h; return h; }
const Handler& VoidPayment() { static const VoidPaymentHandler h; return h; }
const Handler& Refund() { static const RefundHandler h; return h; }

}  // namespace pay::handlers
