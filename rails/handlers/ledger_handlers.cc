// Ledger products: accounts, transfers (entries of two or more postings), posting and voiding
// holds, reversals. Each runs one ledger operation; its body is the account or entry as JSON.

#include "rails/handlers/handlers.h"

namespace pay::handlers {

namespace {

Result<Step> EntryStep(Result<ledger::Entry> entry) {
  if (!entry) return entry.error();
  Step step;
  step.outcome.entry_id = entry->seq;
  step.outcome.body = EntryJson(*entry);
  return step;
}

class CreateAccountHandler final : public HandlerOf<CreateAccountRequest> {
 public:
  Operation operation() const override { return Operation::kCreateAccount; }

 protected:
  Result<void> Check(const Services& s, const Command&, const CreateAccountRequest& r,
                     CommandContext&) const override {
    return s.ledger.Validate(r.account);
  }
  Result<Step> Run(const Services& s, const Command&, const CreateAccountRequest& r,
                   const CommandContext&) const override {
    PAY_ASSIGN_OR_RETURN(ledger::Account a, s.ledger.CreateAccount(r.account));
    Step step;
    step.outcome.body = AccountJson(a);
    return step;
  }
};

// A transfer without an explicit ref is keyed in the journal itself: its ledger ref is derived
// from the scope and key, and the entry's request digest is its fingerprint. When it succeeds no
// separate idempotency record is written (declines still get one).
class TransferHandler final : public HandlerOf<TransferRequest> {
 public:
  Operation operation() const override { return Operation::kTransfer; }

  Result<std::optional<Outcome>> ReplayWithoutRecord(const Services& s, const Command& c,
                                                     const CommandContext& x) const override {
    if (!x.journal_keyed) return std::optional<Outcome>();
    const auto& r = std::get<TransferRequest>(c.request);
    PAY_ASSIGN_OR_RETURN(auto found, s.ledger.LookupRef(r.entry, DerivedRef(x.scope, c.idempotency_key)));
    if (!found.entry) return std::optional<Outcome>();
    if (!found.same_request) {
      return MakeError(ErrorCode::kIdempotencyKeyReused,
                       "idempotency_key: '" + c.idempotency_key +
                           "' was used for a different transfer request");
    }
    // The answer as it was given: the entry as then (a hold still pending, nothing resolved
    // or reversed yet).
    ledger::Entry entry = std::move(*found.entry);
    entry.state = entry.kind == ledger::EntryKind::kPending ? ledger::EntryState::kPending
                                                            : ledger::EntryState::kNone;
    entry.resolved_by_seq = 0;
    entry.replayed = false;
    Outcome out;
    out.operation = Operation::kTransfer;
    out.replayed = true;
    out.entry_id = entry.seq;
    out.body = EntryJson(entry);
    return std::optional<Outcome>(std::move(out));
  }

 protected:
  Result<void> Check(const Services& s, const Command& c, const TransferRequest& r,
                     CommandContext& x) const override {
    // An empty ref is filled in with the derived one (valid by construction) in Run.
    PAY_TRY(s.ledger.Validate(r.entry, /*ref_required=*/false));
    PAY_TRY(CheckCallerRef(r.entry.ref, "ref"));
    x.journal_keyed = r.entry.ref.empty();
    return {};
  }
  void Describe(const Services& s, const TransferRequest& r, const CommandContext&,
                guards::VelocityEvent& e) const override {
    int64_t debits = 0;
    for (const auto& p : r.entry.postings) {
      if (p.side != ledger::Side::kDebit) continue;
      if (e.account.empty()) e.account = p.account;
      if (__builtin_add_overflow(debits, p.amount_minor, &debits)) debits = INT64_MAX;
    }
    e.amount_minor = debits;
    // The currency is the debited account's; unknown accounts leave it empty (no amount rule
    // applies, and the ledger declines the command anyway).
    if (!e.account.empty() && s.velocity.measures_amounts()) {
      auto a = s.ledger.GetAccount(e.account);
      if (a) e.currency = std::string(a->currency->code);
    }
    e.distinct_value = e.account;
  }
  Result<Step> Run(const Services& s, const Command& c, const TransferRequest& r,
                   const CommandContext& x) const override {
    if (!r.entry.ref.empty()) return EntryStep(s.ledger.CreateEntry(r.entry));
    ledger::EntrySpec spec = r.entry;  // the copy only when a ref must be filled in
    spec.ref = DerivedRef(x.scope, c.idempotency_key);
    return EntryStep(s.ledger.CreateEntry(spec));
  }
};

class PostPendingHandler final : public HandlerOf<PostRequest> {
 public:
  Operation operation() const override { return Operation::kPostPending; }

 protected:
  Result<Step> Run(const Services& s, const Command&, const PostRequest& r,
                   const CommandContext&) const override {
    return EntryStep(s.ledger.PostPending(r.entry_id, r.amount_minor));
  }
};

class VoidPendingHandler final : public HandlerOf<VoidRequest> {
 public:
  Operation operation() const override { return Operation::kVoidPending; }

 protected:
  Result<Step> Run(const Services& s, const Command&, const VoidRequest& r,
                   const CommandContext&) const override {
    return EntryStep(s.ledger.VoidPending(r.entry_id));
  }
};

class ReverseHandler final : public HandlerOf<ReverseRequest> {
 public:
  Operation operation() const override { return Operation::kReverse; }

 protected:
  Result<void> Check(const Services&, const Command&, const ReverseRequest& r,
                     CommandContext&) const override {
    return CheckCallerRef(r.ref, "ref");
  }
  Result<Step> Run(const Services& s, const Command& c, const ReverseRequest& r,
                   const CommandContext& x) const override {
    const std::string ref =
        r.ref.empty() ? DerivedRef(x.scope, "reverse/" + c.idempotency_key) : r.ref;
    return EntryStep(s.ledger.Reverse(r.entry_id, ref, r.description));
  }
};

}  // namespace

const Handler& CreateAccount() { static const CreateAccountHandler h; return h; }
const Handler& Transfer() { static const TransferHandler h; return h; }
const Handler& PostPending() { static const PostPendingHandler h; return h; }
const Handler& VoidPending() { static const VoidPendingHandler h; return h; }
const Handler& Reverse() { static const ReverseHandler h; return h; }

}  // namespace pay::handlers
