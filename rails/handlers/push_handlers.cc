// Push payments: prefunding (a bank top-up in the books, or an AFT from a card), disbursements
// (an OCT out of the prefunded balance) and person to person (an AFT, then an OCT).

#include "rails/handlers/card_checks.h"
#include "rails/handlers/handlers.h"

namespace pay::handlers {

namespace {

class FundHandler final : public HandlerOf<FundRequest> {
 public:
  Operation operation() const override { return Operation::kFund; }

 protected:
  Result<void> Check(const Services& s, const Command& c, const FundRequest& f,
                     CommandContext& x) const override {
    PAY_TRY(ValidateMoney(c, f.amount_minor, f.currency));
    if (!f.card) return {};
    PAY_TRY(NeedNetwork(s));
    PAY_ASSIGN_OR_RETURN(card::Expiry expiry, CheckChargedCardFields(*f.card, ""));
    return ProtectChargedCard(s, *f.card, expiry, "", &x.card);
  }
  void Describe(const Services&, const FundRequest& f, const CommandContext& x,
                guards::VelocityEvent& e) const override {
    e.amount_minor = f.amount_minor;
    e.currency = f.currency;
    if (f.card) e.card = x.card.ref.fingerprint;
  }
  Result<Step> Run(const Services& s, const Command& c, const FundRequest& r,
                   const CommandContext& x) const override {
    if (!r.card) {  // a ledger top-up: no network, one entry
      const std::string ref = DerivedRef(x.scope, "fund/" + c.idempotency_key);
      PAY_ASSIGN_OR_RETURN(std::string body, s.push.FundFromBank(x.scope, r, ref));
      Step step;
      step.outcome.body = std::move(body);
      return step;
    }
    PAY_ASSIGN_OR_RETURN(auto prepared, s.push.FundFromCard(x.scope, r, x.card, ClaimOf(c, x)));
    return OnlineStep(std::move(prepared), operation(), /*push=*/true);
  }
};

class PushHandler final : public HandlerOf<PushRequest> {
 public:
  Operation operation() const override { return Operation::kPush; }

 protected:
  Result<void> Check(const Services& s, const Command& c, const PushRequest& p,
                     CommandContext& x) const override {
    PAY_TRY(ValidateMoney(c, p.amount_minor, p.currency));
    PAY_TRY(ValidateNotes(p.notes));
    if (!push::ValidPurpose(p.purpose)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "purpose: '" + p.purpose.substr(0, 8) +
                           "' is not a business application identifier (AA, BB, BI, BP, CP, FD, "
                           "GD, GP, LO, MD, MP, OG, PD, PP, PS, TU, WT)");
    }
    PAY_TRY(ValidateName(p.recipient_name, "recipient_name", true));
    PAY_TRY(ValidateName(p.sender_name, "sender_name", false));
    PAY_TRY(ValidateName(p.sender_reference, "sender_reference", false));
    PAY_TRY(NeedNetwork(s));
    return ValidateCreditedCard(s, p.recipient_card, "card", &x.card.ref);
  }
  void Describe(const Services&, const PushRequest& p, const CommandContext& x,
                guards::VelocityEvent& e) const override {
    e.recipient_card = x.card.ref.fingerprint;
    e.amount_minor = p.amount_minor;
    e.currency = p.currency;
    e.distinct_value = x.card.ref.fingerprint;
  }
  Result<Step> Run(const Services& s, const Command& c, const PushRequest& r,
                   const CommandContext& x) const override {
    PAY_ASSIGN_OR_RETURN(auto prepared, s.push.Push(x.scope, r, x.card.ref, ClaimOf(c, x)));
    return OnlineStep(std::move(prepared), operation(), /*push=*/true);
  }
};

class P2pHandler final : public HandlerOf<P2pRequest> {
 public:
  Operation operation() const override { return Operation::kP2p; }

 protected:
  Result<void> Check(const Services& s, const Command& c, const P2pRequest& p,
                     CommandContext& x) const override {
    PAY_TRY(ValidateMoney(c, p.amount_minor, p.currency));
    PAY_TRY(ValidateNotes(p.notes));
    PAY_TRY(ValidateName(p.sender_name, "sender_name", false));
    PAY_TRY(ValidateName(p.recipient_name, "recipient_name", false));
    PAY_TRY(NeedNetwork(s));
    PAY_TRY(ValidateCreditedCard(s, p.recipient_card, "to_card", &x.second_card));
    PAY_ASSIGN_OR_RETURN(card::Expiry expiry, CheckChargedCardFields(p.sender_card, "from_"));
    return ProtectChargedCard(s, p.sender_card, expiry, "from_", &x.card);
  }
  void Describe(const Services&, const P2pRequest& p, const CommandContext& x,
                guards::VelocityEvent& e) const override {
    e.card = x.card.ref.fingerprint;
    e.recipient_card = x.second_card.fingerprint;
    e.amount_minor = p.amount_minor;
    e.currency = p.currency;
    e.distinct_value = x.second_card.fingerprint;
  }
  Result<Step> Run(const Services& s, const Command& c, const P2pRequest& r,
                   const CommandContext& x) const override {
    PAY_ASSIGN_OR_RETURN(auto prepared,
                         s.push.P2p(x.scope, r, x.card, x.second_card, ClaimOf(c, x)));
    Step step = OnlineStep(std::move(prepared), operation(), /*push=*/true);
    // The OCT leaves only once the AFT is approved.
    if (step.exchange) step.exchange->follow_up = push::PushRail::P2pDisbursement(x.scope, r);
    return step;
  }
};

}  // namespace

const Handler& Fund() { static const FundHandler h; return h; }
const Handler& Push() { static const PushHandler h; return h; }
const Handler& P2p() { static const P2pHandler h; return h; }

}  // namespace pay::handlers
