// The engine: validate -> idempotency claim -> velocity check -> rail -> ledger -> commit.
// See include/pay/engine.h for the contract and docs/engine.md for the reasoning.

#include "pay/engine.h"

#include <algorithm>
#include <mutex>

#include "core/card.h"
#include "core/crypto.h"
#include "core/json_fields.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "rails/guards/idempotency.h"
#include "rails/guards/velocity.h"
#include "rails/pull/pull_rail.h"
#include "rails/push/push_rail.h"

namespace pay {

namespace {

constexpr int32_t kInFlight = 1;
constexpr int32_t kComplete = 2;

// The ledger reference a transfer writes when the caller gave none: unique per scope and key.
// Reversals without a ref use "<scope>/reverse/<key>". Posts and voids need none: a hold
// resolves at most once, so even a purged key cannot move its money twice.
std::string DerivedRef(const std::string& scope, std::string_view key) {
  std::string ref = scope + "/" + std::string(key);
  if (ref.size() <= limits::kReferenceBytesMax) return ref;
  return scope.substr(0, 64) + "/sha256:" + ToHex(Sha256(key));
}

// A decline is stored under the key (the command executed and the books refused it). A request
// that names an account or entry that does not exist is treated like invalid input instead: not
// stored, so the same key works once the account or entry exists.
bool IsDecline(const Error& e) {
  return ErrorRetryAdvice(e.code) == RetryAdvice::kDoNotRetry &&
         e.code != ErrorCode::kUnknownAccount && e.code != ErrorCode::kEntryNotFound &&
         e.code != ErrorCode::kPaymentNotFound && e.code != ErrorCode::kUnknownMerchant;
}

// Failures of the store itself: they abort the whole batch (nothing of it is written).
bool IsStoreFailure(const Error& e) {
  return e.code == ErrorCode::kStoreBusy || e.code == ErrorCode::kStoreIo ||
         ErrorRetryAdvice(e.code) == RetryAdvice::kContactOperator;
}

bool IsCardOperation(Operation op) {
  return op == Operation::kAuthorize || op == Operation::kIncrement ||
         op == Operation::kCapture || op == Operation::kVoidPayment || op == Operation::kRefund ||
         op == Operation::kFund || op == Operation::kPush || op == Operation::kP2p;
}

// The intent an in-flight claim records for an online card operation (the payment it waits on).
constexpr std::string_view kPaymentIntent = "payment:";

std::string DeclineJson(Operation op, const Error& e) {
  JsonWriter w;
  w.BeginObject().Key("declined").BeginObject();
  w.Field("operation", OperationName(op)).Field("code", e.name()).Field("number", e.number());
  w.Field("message", e.message);
  w.EndObject().EndObject();
  return w.str();
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kCreateAccount: return "create_account";
    case Operation::kTransfer: return "transfer";
    case Operation::kPostPending: return "post";
    case Operation::kVoidPending: return "void";
    case Operation::kReverse: return "reverse";
    case Operation::kCreateMerchant: return "create_merchant";
    case Operation::kAuthorize: return "authorize";
    case Operation::kIncrement: return "increment";
    case Operation::kCapture: return "capture";
    case Operation::kVoidPayment: return "void_payment";
    case Operation::kRefund: return "refund";
    case Operation::kFund: return "fund";
    case Operation::kPush: return "push";
    case Operation::kP2p: return "p2p";
  }
  return "unknown";
}

Result<Operation> ParseOperation(std::string_view name, std::string_view field) {
  for (Operation op : {Operation::kCreateAccount, Operation::kTransfer, Operation::kPostPending,
                       Operation::kVoidPending, Operation::kReverse, Operation::kCreateMerchant,
                       Operation::kAuthorize, Operation::kIncrement, Operation::kCapture,
                       Operation::kVoidPayment, Operation::kRefund, Operation::kFund,
                       Operation::kPush, Operation::kP2p}) {
    if (name == OperationName(op)) return op;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not an operation (create_account, transfer, post, void, reverse, "
                       "create_merchant, authorize, increment, capture, void_payment, refund, fund, push, p2p)");
}

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kLibrary: return "library";
    case Channel::kCli: return "cli";
    case Channel::kServer: return "server";
    case Channel::kReplay: return "replay";
    case Channel::kMcp: return "mcp";
  }
  return "unknown";
}

Result<Channel> ParseChannel(std::string_view name, std::string_view field) {
  for (Channel c : {Channel::kLibrary, Channel::kCli, Channel::kServer, Channel::kReplay,
                    Channel::kMcp}) {
    if (name == ChannelName(c)) return c;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not a channel (library, cli, server, replay, mcp)");
}

Operation OperationOf(const Request& r) {
  switch (r.index()) {
    case 0: return Operation::kCreateAccount;
    case 1: return Operation::kTransfer;
    case 2: return Operation::kPostPending;
    case 3: return Operation::kVoidPending;
    case 4: return Operation::kReverse;
    case 5: return Operation::kCreateMerchant;
    case 6: return Operation::kAuthorize;
    case 7: return Operation::kIncrement;
    case 8: return Operation::kCapture;
    case 9: return Operation::kVoidPayment;
    case 10: return Operation::kRefund;
    case 11: return Operation::kFund;
    case 12: return Operation::kPush;
    default: return Operation::kP2p;
  }
}

namespace {

// A clock that reads the event time of the command being executed when it has one (replay).
class EventClock final : public Clock {
 public:
  explicit EventClock(const Clock& base) : base_(base) {}
  int64_t NowMs() const override { return event_ms_ != 0 ? event_ms_ : base_.NowMs(); }
  void Set(int64_t event_ms) { event_ms_ = event_ms; }

 private:
  const Clock& base_;
  int64_t event_ms_ = 0;
};

class EngineImpl final : public Engine {
 public:
  Result<void> Open(const EngineOptions& o) {
    options_ = o;
    if (o.clock == nullptr) {
      owned_clock_ = std::make_unique<SystemClock>();
      base_clock_ = owned_clock_.get();
    } else {
      base_clock_ = o.clock;
    }
    clock_ = std::make_unique<EventClock>(*base_clock_);
    if (o.idempotency_retention_ms <= 0) {
      return MakeError(ErrorCode::kInvalidArgument, "idempotency_retention: must be positive");
    }
    std::vector<guards::VelocityRule> rules;
    if (!o.velocity_config_path.empty()) {
      PAY_ASSIGN_OR_RETURN(rules, guards::LoadVelocityRules(o.velocity_config_path));
    }
    velocity_ = std::make_unique<guards::VelocityGuard>(std::move(rules));
    store::StoreOptions so;
    so.create_if_missing = o.create_if_missing;
    so.durability = o.durability == Durability::kFull ? store::Durability::kFull
                                                      : store::Durability::kNormal;
    PAY_ASSIGN_OR_RETURN(store_, store::OpenSqliteStore(o.db_path, so));
    ledger_ = std::make_unique<ledger::Ledger>(*store_, *clock_);
    if (o.authorization_validity_ms <= 0) {
      return MakeError(ErrorCode::kInvalidArgument, "authorization_validity: must be positive");
    }
    pull::PullOptions po;
    po.authorization_validity_ms = o.authorization_validity_ms;
    rail_ = std::make_unique<pull::PullRail>(*store_, *ledger_, *clock_, po);
    push_ = std::make_unique<push::PushRail>(*rail_, *store_, *ledger_, *clock_);
    PAY_TRY(RecoverInFlight());
    // Card payments a crash left waiting for the network are resolved before anything else:
    // they become unknown and their reversals go out now (or stay queued until the network
    // answers).
    if (o.exchange_grace_ms < 0) {
      return MakeError(ErrorCode::kInvalidArgument, "exchange_grace: must not be negative");
    }
    PAY_TRY(RecoverPayments(o.exchange_grace_ms));
    if (o.card_network != nullptr) PAY_TRY(DeliverAdvices(nullptr));
    return {};
  }

  Result<Outcome> Submit(const Command& command) override {
    std::span<const Command> one(&command, 1);
    auto results = SubmitBatch(one);
    return std::move(results.front());
  }

  std::vector<Result<Outcome>> SubmitBatch(std::span<const Command> commands) override {
    std::lock_guard lock(mu_);
    std::vector<Result<Outcome>> out;
    out.reserve(commands.size());
    auto fail_all = [&](const Error& e) {
      out.clear();
      for (size_t i = 0; i < commands.size(); ++i) out.push_back(e);
      return std::move(out);
    };
    if (commands.size() > limits::kBatchEntriesMax) {
      return fail_all(MakeError(ErrorCode::kLimitExceeded, "batch: more than " +
                                                               std::to_string(limits::kBatchEntriesMax) +
                                                               " commands"));
    }
    if (needs_recovery_) {
      if (auto r = RecoverPayments(0); !r) return fail_all(r.error());
    }
    clock_->Set(commands.empty() ? 0 : commands.front().event_time_ms);
    if (auto b = ledger_->Begin(); !b) return fail_all(b.error());
    rail_->BeginTransaction();
    failed_.reset();
    pending_.clear();
    in_doubt_.clear();
    advices_queued_ = false;
    // Authorizations past their validity release their holds before anything else runs.
    if (auto x = rail_->ExpireDue(kExpiriesPerBatch); !x) {
      Fail(x.error());
    } else if (*x > 0) {
      advices_queued_ = true;
    }
    for (size_t i = 0; i < commands.size() && !failed_; ++i) {
      const Command& c = commands[i];
      clock_->Set(c.event_time_ms);
      current_index_ = i;
      out.push_back(Execute(c));
    }
    clock_->Set(0);
    if (failed_) {
      Abort();
      return fail_all(*failed_);
    }
    if (auto f = velocity_->Flush(*store_, clock_->NowMs()); !f) {
      Abort();
      return fail_all(f.error());
    }
    if (auto c = Commit(); !c) {
      velocity_->Rollback();
      return fail_all(c.error());
    }
    velocity_->Commit();
    // The claims of online card operations are durable: now the network may see them.
    if (!pending_.empty()) ExchangePending(out);
    if (advices_queued_ || !in_doubt_.empty()) {
      // Advice delivery failures leave them queued; the answers already given stand.
      (void)DeliverAdvices(&out);
    }
    return out;
  }

  Result<ledger::Account> GetAccount(std::string_view id) override {
    std::lock_guard lock(mu_);
    return ledger_->GetAccount(id);
  }
  Result<ledger::Account> GetAccountAsOf(std::string_view id, ledger::AsOf as_of) override {
    std::lock_guard lock(mu_);
    return ledger_->GetAccountAsOf(id, as_of);
  }
  Result<std::vector<ledger::Account>> ListAccounts(std::string_view after, size_t limit) override {
    std::lock_guard lock(mu_);
    return ledger_->ListAccounts(after, limit);
  }
  Result<ledger::Entry> GetEntry(int64_t id) override {
    std::lock_guard lock(mu_);
    return ledger_->GetEntry(id);
  }
  Result<std::vector<ledger::StatementLine>> History(std::string_view id, size_t limit) override {
    std::lock_guard lock(mu_);
    return ledger_->History(id, limit);
  }
  Result<ledger::VerifyReport> Verify() override {
    std::lock_guard lock(mu_);
    return ledger_->Verify();
  }
  Result<size_t> ExpireHolds(size_t max_holds) override {
    std::lock_guard lock(mu_);
    return ledger_->ExpireDue(max_holds);
  }

  Result<size_t> PurgeIdempotencyKeys() override {
    std::lock_guard lock(mu_);
    size_t total = 0;
    for (;;) {
      PAY_TRY(ledger_->Begin());
      auto n = store_->PurgeIdempotency(clock_->NowMs(), limits::kExpirySweepPerTransactionMax);
      if (!n) {
        RollbackAll();
        return n.error();
      }
      PAY_TRY(Commit());
      total += *n;
      if (*n < limits::kExpirySweepPerTransactionMax) return total;
    }
  }

  Result<std::vector<VelocityWindowStatus>> VelocityStatus(std::string_view rule,
                                                           std::string_view key) override {
    std::lock_guard lock(mu_);
    return velocity_->Status(*store_, rule, key, clock_->NowMs());
  }

  Recovery recovery() const override { return recovery_; }

  Result<std::string> PaymentJson(std::string_view payment_id) override {
    std::lock_guard lock(mu_);
    PAY_ASSIGN_OR_RETURN(auto p, rail_->Find(payment_id));
    if (!p) {
      return MakeError(ErrorCode::kPaymentNotFound,
                       "payment_id: no payment '" + std::string(payment_id.substr(0, 64)) + "'");
    }
    return pull::PaymentJson(*p);
  }

  Result<std::vector<std::string>> ListPaymentJson(std::string_view merchant,
                                                   std::string_view after_id,
                                                   size_t limit) override {
    std::lock_guard lock(mu_);
    PAY_ASSIGN_OR_RETURN(auto list, rail_->List(merchant, after_id, std::min(limit, limits::kListRowsMax)));
    std::vector<std::string> out;
    out.reserve(list.size());
    for (const auto& p : list) out.push_back(pull::PaymentJson(p));
    return out;
  }

  Result<std::optional<std::string>> PaymentIdForKey(std::string_view merchant,
                                                     std::string_view key) override {
    std::lock_guard lock(mu_);
    for (Operation op : {Operation::kAuthorize, Operation::kPush, Operation::kP2p, Operation::kFund}) {
      PAY_ASSIGN_OR_RETURN(auto row, store_->FindIdempotency(merchant.empty() ? "default" : merchant,
                                                             static_cast<int32_t>(op), key));
      if (!row) continue;
      if (row->state == kInFlight) {
        std::string_view intent(row->body);
        if (intent.substr(0, kPaymentIntent.size()) == kPaymentIntent) {
          return std::optional<std::string>(std::string(intent.substr(kPaymentIntent.size())));
        }
        continue;
      }
      std::string id = JsonStringField(row->body, "payment_id");
      if (!id.empty()) return std::optional<std::string>(std::move(id));
    }
    return std::optional<std::string>();
  }

  Result<size_t> ExpirePayments(size_t max) override {
    std::lock_guard lock(mu_);
    size_t total = 0;
    while (total < max) {
      PAY_TRY(ledger_->Begin());
      rail_->BeginTransaction();
      auto n = rail_->ExpireDue(std::min(max - total, limits::kPaymentSweepPerTransactionMax));
      if (!n) {
        RollbackAll();
        return n.error();
      }
      PAY_TRY(Commit());
      total += *n;
      if (*n == 0) break;
    }
    if (total > 0) (void)DeliverAdvices(nullptr);
    return total;
  }

  Result<SettleReport> Settle() override {
    std::lock_guard lock(mu_);
    SettleReport report;
    for (;;) {
      PAY_TRY(ledger_->Begin());
      rail_->BeginTransaction();
      auto n = rail_->Settle(limits::kPaymentSweepPerTransactionMax, &report);
      if (!n) {
        RollbackAll();
        return n.error();
      }
      PAY_TRY(Commit());
      if (*n < limits::kPaymentSweepPerTransactionMax) return report;
    }
  }

  Result<size_t> ResolvePending() override {
    std::lock_guard lock(mu_);
    PAY_TRY(RecoverPayments(needs_recovery_ ? 0 : options_.exchange_grace_ms));
    return DeliverAdvices(nullptr);
  }

 private:
  // Runs one command inside the open transaction. An Error return means nothing was stored for
  // it; a store failure also sets failed_, which aborts the whole batch.
  Result<Outcome> Execute(const Command& c) {
    const Operation op = OperationOf(c.request);
    // The card state of the command at hand only (set by the validators below).
    card_ = {};
    card2_ = {};
    local_decline_.clear();
    // 1. Validate: the key, the scope, and the request's checks that need no database.
    PAY_TRY(guards::ValidateIdempotencyKey(c.idempotency_key));
    PAY_TRY(guards::ValidateScope(c));
    const std::string scope = guards::ScopeOf(c);
    // Before the key is looked at, so that an invalid request is reported as such even under a
    // key that was used before. (Post, void and reverse name an entry: the rail checks them.)
    if (const auto* a = std::get_if<CreateAccountRequest>(&c.request)) {
      PAY_TRY(ledger_->Validate(a->account));
    } else if (const auto* t = std::get_if<TransferRequest>(&c.request)) {
      // An empty ref is filled in with the derived one (valid by construction) in Run.
      PAY_TRY(ledger_->Validate(t->entry, /*ref_required=*/false));
    } else if (const auto* m = std::get_if<CreateMerchantRequest>(&c.request)) {
      PAY_TRY(ValidateMerchant(*m));
    } else if (const auto* a = std::get_if<AuthorizeRequest>(&c.request)) {
      PAY_TRY(ValidateAuthorize(c, *a));
    } else if (const auto* f = std::get_if<FundRequest>(&c.request)) {
      PAY_TRY(ValidateFund(c, *f));
    } else if (const auto* pr = std::get_if<PushRequest>(&c.request)) {
      PAY_TRY(ValidatePush(c, *pr));
    } else if (const auto* pp = std::get_if<P2pRequest>(&c.request)) {
      PAY_TRY(ValidateP2p(c, *pp));
    } else if (IsCardOperation(op)) {
      PAY_TRY(ValidatePaymentOperation(c));
    }
    if (!options_.guards_enabled) return Run(c, op, scope, nullptr);

    // 2. Idempotency: the stored outcome, a conflict, or a free key.
    const bool carded = op == Operation::kAuthorize || op == Operation::kFund ||
                        op == Operation::kPush || op == Operation::kP2p;
    const std::string fingerprint = guards::Fingerprint(
        c.request, carded ? std::string_view(card_.fingerprint) : std::string_view(),
        op == Operation::kP2p ? std::string_view(card2_.fingerprint) : std::string_view());
    auto existing = store_->FindIdempotency(scope, static_cast<int32_t>(op), c.idempotency_key);
    if (!existing) return Fail(existing.error());
    if (existing->has_value()) {
      const store::IdempotencyRow& rec = **existing;
      if (rec.state == kInFlight) {
        return MakeError(ErrorCode::kIdempotencyKeyInFlight,
                         "idempotency_key: '" + c.idempotency_key + "' is still being processed");
      }
      if (rec.fingerprint != fingerprint) {
        return MakeError(ErrorCode::kIdempotencyKeyReused,
                         "idempotency_key: '" + c.idempotency_key + "' was used for a different " +
                             std::string(OperationName(op)) + " request");
      }
      return FromRecord(rec, op);
    }
    // A transfer without an explicit ref is keyed in the journal itself: its ledger ref is
    // derived from the scope and key, and the entry's request digest is its fingerprint. When
    // it succeeds no separate record is written (declines still get one, found just above).
    const auto* transfer = std::get_if<TransferRequest>(&c.request);
    const bool journal_keyed = transfer != nullptr && transfer->entry.ref.empty();
    if (journal_keyed) {
      auto found = ledger_->LookupRef(transfer->entry, DerivedRef(scope, c.idempotency_key));
      if (!found) return Fail(found.error());
      if (found->entry) {
        if (!found->same_request) {
          return MakeError(ErrorCode::kIdempotencyKeyReused,
                           "idempotency_key: '" + c.idempotency_key +
                               "' was used for a different transfer request");
        }
        return JournalReplay(std::move(*found->entry));
      }
    }

    // 3. Velocity: check every rule; consume only once the command executed.
    if (velocity_->rule_count() == 0) return Run(c, op, scope, &fingerprint, journal_keyed);
    guards::VelocityEvent event = EventOf(c, scope);
    auto plan = velocity_->Check(*store_, event, clock_->NowMs());
    if (!plan) {
      if (plan.error().code == ErrorCode::kVelocityLimited) return plan.error();
      return Fail(plan.error());  // reading velocity state failed: the batch cannot go on
    }

    // 4-5. The rail and the ledger.
    auto outcome = Run(c, op, scope, &fingerprint, journal_keyed);
    if (!outcome) return outcome;
    velocity_->Consume(*plan, event, clock_->NowMs());
    return outcome;
  }

  // Executes the rail and, with guards on, stores the outcome under the key.
  Result<Outcome> Run(const Command& c, Operation op, const std::string& scope,
                      const std::string* fingerprint, bool journal_keyed = false) {
    Outcome out;
    out.operation = op;
    Result<ledger::Entry> entry = MakeError(ErrorCode::kInternal, "no entry");
    bool has_entry = false;
    switch (op) {
      case Operation::kCreateAccount: {
        auto a = ledger_->CreateAccount(std::get<CreateAccountRequest>(c.request).account);
        if (a) {
          out.body = AccountJson(*a);
        } else if (!Classify(a.error(), op, &out)) {
          return Passthrough(a.error());
        }
        break;
      }
      case Operation::kTransfer: {
        const ledger::EntrySpec& given = std::get<TransferRequest>(c.request).entry;
        if (given.ref.empty()) {
          ledger::EntrySpec spec = given;  // the copy only when a ref must be filled in
          spec.ref = DerivedRef(scope, c.idempotency_key);
          entry = ledger_->CreateEntry(spec);
        } else {
          entry = ledger_->CreateEntry(given);
        }
        has_entry = true;
        break;
      }
      case Operation::kPostPending: {
        const auto& r = std::get<PostRequest>(c.request);
        entry = ledger_->PostPending(r.entry_id, r.amount_minor);
        has_entry = true;
        break;
      }
      case Operation::kVoidPending:
        entry = ledger_->VoidPending(std::get<VoidRequest>(c.request).entry_id);
        has_entry = true;
        break;
      case Operation::kReverse: {
        const auto& r = std::get<ReverseRequest>(c.request);
        entry = ledger_->Reverse(r.entry_id,
                                 r.ref.empty() ? DerivedRef(scope, "reverse/" + c.idempotency_key)
                                               : r.ref,
                                 r.description);
        has_entry = true;
        break;
      }
      case Operation::kCreateMerchant: {
        auto m = rail_->CreateMerchant(std::get<CreateMerchantRequest>(c.request));
        if (m) {
          out.body = pull::MerchantJson(*m);
        } else if (!Classify(m.error(), op, &out)) {
          return Passthrough(m.error());
        }
        break;
      }
      case Operation::kAuthorize:
      case Operation::kIncrement:
      case Operation::kFund:
      case Operation::kPush:
      case Operation::kP2p: {
        pull::Claim claim{scope, static_cast<int32_t>(op), c.idempotency_key};
        Result<pull::Prepared> prepared = MakeError(ErrorCode::kInternal, "unreachable");
        std::optional<CardRequest> follow_up;
        const bool push = op == Operation::kFund || op == Operation::kPush || op == Operation::kP2p;
        if (op == Operation::kAuthorize) {
          prepared = rail_->Authorize(scope, std::get<AuthorizeRequest>(c.request), card_,
                                      local_decline_, claim);
        } else if (op == Operation::kIncrement) {
          prepared = rail_->Increment(scope, std::get<IncrementRequest>(c.request), claim);
        } else if (op == Operation::kFund) {
          const auto& r = std::get<FundRequest>(c.request);
          if (!r.card) {
            // A ledger top-up: no network, one entry.
            auto body = push_->FundFromBank(scope, r, DerivedRef(scope, "fund/" + c.idempotency_key));
            if (body) {
              out.body = std::move(*body);
            } else if (!Classify(body.error(), op, &out)) {
              return Passthrough(body.error());
            }
            break;
          }
          prepared = push_->FundFromCard(scope, r, card_, local_decline_, claim);
        } else if (op == Operation::kPush) {
          prepared = push_->Push(scope, std::get<PushRequest>(c.request), card_, claim);
        } else {
          const auto& r = std::get<P2pRequest>(c.request);
          prepared = push_->P2p(scope, r, card_, card2_, local_decline_, claim);
          // The OCT leaves only once the AFT is approved; the recipient's number lives in
          // memory until then (it is never stored).
          CardRequest oct;
          oct.type = CardMessageType::kDisbursement;
          oct.pan = r.recipient_card.pan;
          oct.amount_minor = r.amount_minor;
          oct.currency = r.currency;
          oct.merchant_id = scope;
          oct.purpose = "PP";
          oct.sender_name = r.sender_name;
          oct.recipient_name = r.recipient_name;
          follow_up = std::move(oct);
        }
        if (!prepared) {
          if (!Classify(prepared.error(), op, &out)) return Passthrough(prepared.error());
          break;
        }
        if (!prepared->needs_network) {
          SetPayment(&out, prepared->payment);
          break;
        }
        // Claim the key in flight, in this transaction, naming the payment; the exchange runs
        // after the commit and its answer completes the claim.
        if (fingerprint != nullptr) {
          store::IdempotencyRow rec;
          rec.scope = scope;
          rec.operation = static_cast<int32_t>(op);
          rec.key = c.idempotency_key;
          rec.fingerprint = *fingerprint;
          rec.state = kInFlight;
          rec.body = std::string(kPaymentIntent) + prepared->payment.id;
          rec.created_at_ms = clock_->NowMs();
          rec.expires_at_ms = rec.created_at_ms + options_.idempotency_retention_ms;
          if (auto p = store_->PutIdempotency(rec); !p) return Fail(p.error());
        }
        PendingExchange pe;
        pe.index = current_index_;
        pe.operation = op;
        pe.request = std::move(prepared->request);
        pe.payment_id = prepared->payment.id;
        pe.event_time_ms = c.event_time_ms;
        pe.guarded = fingerprint != nullptr;
        pe.claim = claim;
        pe.push = push;
        pe.follow_up = std::move(follow_up);
        pending_.push_back(std::move(pe));
        out.payment_id = prepared->payment.id;
        out.payment_status = "pending";
        return out;  // replaced by the answer once the exchange completes
      }
      case Operation::kCapture:
      case Operation::kVoidPayment:
      case Operation::kRefund: {
        Result<pull::Payment> p =
            op == Operation::kCapture ? rail_->Capture(scope, std::get<CaptureRequest>(c.request))
            : op == Operation::kVoidPayment
                ? rail_->Void(scope, std::get<VoidPaymentRequest>(c.request))
                : rail_->Refund(scope, std::get<RefundRequest>(c.request));
        if (p) {
          SetPayment(&out, *p);
          advices_queued_ = true;
        } else if (!Classify(p.error(), op, &out)) {
          return Passthrough(p.error());
        }
        break;
      }
    }
    if (has_entry) {
      if (entry) {
        out.entry_id = entry->seq;
        out.body = EntryJson(*entry);
      } else if (!Classify(entry.error(), op, &out)) {
        return Passthrough(entry.error());
      }
    }
    if (fingerprint == nullptr) return out;
    if (journal_keyed && !out.declined) return out;  // the entry itself is the record

    store::IdempotencyRow rec;
    rec.scope = scope;
    rec.operation = static_cast<int32_t>(op);
    rec.key = c.idempotency_key;
    rec.fingerprint = *fingerprint;
    rec.state = kComplete;
    rec.status = out.declined ? out.decline.number() : 0;
    rec.message = out.declined ? out.decline.message : std::string();
    rec.entry_seq = out.entry_id;
    rec.body = out.body;
    rec.created_at_ms = clock_->NowMs();
    rec.expires_at_ms = rec.created_at_ms + options_.idempotency_retention_ms;
    if (auto p = store_->PutIdempotency(rec); !p) return Fail(p.error());
    return out;
  }

  // A rail error is either a decline (stored, an Outcome) or a failure (not stored).
  bool Classify(const Error& e, Operation op, Outcome* out) {
    if (!IsDecline(e)) return false;
    out->declined = true;
    out->decline = e;
    out->body = DeclineJson(op, e);
    return true;
  }

  Error Passthrough(const Error& e) {
    if (IsStoreFailure(e)) return Fail(e);
    return e;
  }

  Error Fail(const Error& e) {
    if (!failed_) failed_ = e;
    return e;
  }

  void Abort() {
    RollbackAll();
    velocity_->Rollback();
  }

  void RollbackAll() {
    ledger_->Rollback();
    rail_->Rollback();
  }

  // Every write transaction of the engine ends here: the rail's counters, then the ledger's
  // commit (which commits the store transaction holding everything).
  Result<void> Commit() {
    if (auto f = rail_->Flush(); !f) {
      RollbackAll();
      return f.error();
    }
    return ledger_->Commit();
  }

  // The answer a journal-keyed transfer gave when it was created: the entry as it was then
  // (a hold still pending, nothing resolved or reversed yet), rendered as then.
  Outcome JournalReplay(ledger::Entry entry) {
    entry.state = entry.kind == ledger::EntryKind::kPending ? ledger::EntryState::kPending
                                                            : ledger::EntryState::kNone;
    entry.resolved_by_seq = 0;
    entry.replayed = false;
    Outcome out;
    out.operation = Operation::kTransfer;
    out.replayed = true;
    out.entry_id = entry.seq;
    out.body = EntryJson(entry);
    return out;
  }

  Outcome FromRecord(const store::IdempotencyRow& rec, Operation op) {
    Outcome out;
    out.operation = op;
    out.replayed = true;
    out.body = rec.body;
    out.entry_id = rec.entry_seq;
    if (rec.status != 0) {
      out.declined = true;
      out.decline = MakeError(static_cast<ErrorCode>(rec.status), rec.message);
    } else if (IsCardOperation(op)) {
      out.payment_id = JsonStringField(rec.body, "payment_id");
      out.payment_status = JsonStringField(rec.body, "status");
      out.response_code = JsonStringField(rec.body, "response_code");
    }
    return out;
  }

  guards::VelocityEvent EventOf(const Command& c, const std::string& scope) {
    guards::VelocityEvent e;
    e.operation = OperationOf(c.request);
    e.channel = c.channel;
    e.merchant = scope;
    e.credential = c.client.credential;
    e.ip = c.client.ip;
    if (const auto* t = std::get_if<TransferRequest>(&c.request)) {
      int64_t debits = 0;
      for (const auto& p : t->entry.postings) {
        if (p.side != ledger::Side::kDebit) continue;
        if (e.account.empty()) e.account = p.account;
        if (__builtin_add_overflow(debits, p.amount_minor, &debits)) debits = INT64_MAX;
      }
      e.amount_minor = debits;
      // The currency is the debited account's; unknown accounts leave it empty (no amount rule
      // applies, and the rail declines the command anyway).
      if (!e.account.empty() && velocity_->measures_amounts()) {
        auto a = ledger_->GetAccount(e.account);
        if (a) e.currency = std::string(a->currency->code);
      }
      e.distinct_value = e.account;
    } else if (const auto* a = std::get_if<AuthorizeRequest>(&c.request)) {
      e.card = card_.fingerprint;
      e.amount_minor = a->amount_minor;
      e.currency = a->currency;
      e.distinct_value = card_.fingerprint;
    } else if (const auto* f = std::get_if<FundRequest>(&c.request)) {
      e.amount_minor = f->amount_minor;
      e.currency = f->currency;
      if (f->card) e.card = card_.fingerprint;
    } else if (const auto* pr = std::get_if<PushRequest>(&c.request)) {
      e.recipient_card = card_.fingerprint;
      e.amount_minor = pr->amount_minor;
      e.currency = pr->currency;
      e.distinct_value = card_.fingerprint;
    } else if (const auto* pp = std::get_if<P2pRequest>(&c.request)) {
      e.card = card_.fingerprint;
      e.recipient_card = card2_.fingerprint;
      e.amount_minor = pp->amount_minor;
      e.currency = pp->currency;
      e.distinct_value = card2_.fingerprint;
    } else if (const auto* i = std::get_if<IncrementRequest>(&c.request)) {
      e.amount_minor = i->amount_minor;
    } else if (const auto* cap = std::get_if<CaptureRequest>(&c.request)) {
      e.amount_minor = cap->amount_minor.value_or(0);
    } else if (const auto* r = std::get_if<RefundRequest>(&c.request)) {
      e.amount_minor = r->amount_minor.value_or(0);
    }
    return e;
  }

  // Start-up: a record left in flight belongs to a command whose outcome was never stored. Its
  // effects either committed (then the ledger holds its entry, and the record is completed with
  // it) or they did not (then the key is released, and a retry executes the command once).
  Result<void> RecoverInFlight() {
    for (;;) {
      PAY_ASSIGN_OR_RETURN(auto rows, store_->InFlightIdempotency(256));
      if (rows.empty()) return {};
      PAY_TRY(ledger_->Begin());
      size_t skipped = 0;
      for (const store::IdempotencyRow& r : rows) {
        // Claims of online card operations wait on their payment: the rail resolves them.
        if (std::string_view(r.body).substr(0, kPaymentIntent.size()) == kPaymentIntent) {
          ++skipped;
          continue;
        }
        // The claim records the ledger reference the command writes (its intent) in `body`.
        auto found = r.body.empty() ? Result<std::optional<ledger::Entry>>(std::optional<ledger::Entry>())
                                    : ledger_->FindEntryByRef(r.body);
        Result<void> step;
        if (found && found->has_value()) {
          store::IdempotencyRow done = r;
          done.state = kComplete;
          done.entry_seq = (*found)->seq;
          done.body = EntryJson(**found);
          step = store_->PutIdempotency(done);
          ++recovery_.completed;
        } else {
          step = store_->DeleteIdempotency(r.scope, r.operation, r.key);
          ++recovery_.released;
        }
        if (!step) {
          RollbackAll();
          return step.error();
        }
      }
      PAY_TRY(Commit());
      if (skipped == rows.size()) return {};
    }
  }

  // ---- card rails -----------------------------------------------------------------------------

  static constexpr size_t kExpiriesPerBatch = 64;

  struct PendingExchange {
    size_t index = 0;
    Operation operation = Operation::kAuthorize;
    CardRequest request;
    std::string payment_id;
    int64_t event_time_ms = 0;
    bool guarded = false;
    pull::Claim claim;
    bool push = false;                      // the push rail completes it
    std::optional<CardRequest> follow_up;   // P2P: the OCT, sent once the AFT is approved
  };

  Result<void> ValidateMerchant(const CreateMerchantRequest& m) {
    if (m.id.empty() || m.id.size() > limits::kMerchantIdBytesMax ||
        !std::all_of(m.id.begin(), m.id.end(), [](char ch) { return ch > ' ' && ch < 127 && ch != '/'; })) {
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

  Result<void> ValidateAuthorize(const Command& c, const AuthorizeRequest& a) {
    if (c.merchant.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "merchant: required for card payments");
    }
    PAY_TRY(card::ValidatePanFormat(a.card.pan, "card"));
    PAY_ASSIGN_OR_RETURN(card::Expiry expiry, card::ParseExpiry(a.card.expiry, "expiry"));
    if (!a.card.cvv.empty() && (a.card.cvv.size() < 3 || a.card.cvv.size() > 4 ||
                                a.card.cvv.find_first_not_of("0123456789") != std::string::npos)) {
      return MakeError(ErrorCode::kInvalidArgument, "cvv: 3 or 4 digits");
    }
    if (a.amount_minor <= 0) {
      return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
    }
    PAY_ASSIGN_OR_RETURN(const Currency* currency, LookupCurrency(a.currency, "currency"));
    (void)currency;
    if (options_.card_network == nullptr) {
      return MakeError(ErrorCode::kNetworkUnavailable, "card network: none is configured");
    }
    PAY_ASSIGN_OR_RETURN(card_, card::ProtectNumber(a.card.pan, options_.card_fingerprint_key));
    local_decline_.clear();
    if (!card::LuhnValid(a.card.pan)) {
      local_decline_ = "14";
    } else if (card::Expired(expiry, clock_->NowMs())) {
      local_decline_ = "54";
    }
    return {};
  }

  // A card that is charged (authorization, AFT): its number, expiry and CVV; the fingerprint
  // into `ref`, and into local_decline_ what the network would not be asked about.
  Result<void> ValidateChargedCard(const CardInput& card, const std::string& prefix, card::CardRef* ref) {
    PAY_TRY(card::ValidatePanFormat(card.pan, prefix + "card"));
    PAY_ASSIGN_OR_RETURN(card::Expiry expiry, card::ParseExpiry(card.expiry, prefix + "expiry"));
    if (!card.cvv.empty() && (card.cvv.size() < 3 || card.cvv.size() > 4 ||
                              card.cvv.find_first_not_of("0123456789") != std::string::npos)) {
      return MakeError(ErrorCode::kInvalidArgument, prefix + "cvv: 3 or 4 digits");
    }
    PAY_ASSIGN_OR_RETURN(*ref, card::ProtectNumber(card.pan, options_.card_fingerprint_key));
    local_decline_.clear();
    if (!card::LuhnValid(card.pan)) {
      local_decline_ = "14";
    } else if (card::Expired(expiry, clock_->NowMs())) {
      local_decline_ = "54";
    }
    return {};
  }

  // A card that is credited (OCT): a valid number is enough; a wrong check digit is a typo the
  // sender must fix before any money is held.
  Result<void> ValidateCreditedCard(const CardInput& card, const std::string& field, card::CardRef* ref) {
    PAY_TRY(card::ValidatePan(card.pan, field));
    PAY_ASSIGN_OR_RETURN(*ref, card::ProtectNumber(card.pan, options_.card_fingerprint_key));
    return {};
  }

  Result<void> ValidateMoney(const Command& c, int64_t amount_minor, const std::string& currency) {
    if (c.merchant.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "merchant: required for card payments");
    }
    if (amount_minor <= 0) return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
    PAY_TRY(LookupCurrency(currency, "currency"));
    return {};
  }

  Result<void> NeedNetwork() {
    if (options_.card_network == nullptr) {
      return MakeError(ErrorCode::kNetworkUnavailable, "card network: none is configured");
    }
    return {};
  }

  static Result<void> ValidateName(const std::string& value, const char* field, bool required) {
    if ((required && value.empty()) || value.size() > limits::kPushNameBytesMax ||
        !std::all_of(value.begin(), value.end(), [](char ch) { return ch >= ' ' && ch < 127 && ch != '|'; })) {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(field) + ": " + (required ? "1" : "0") + "-" +
                           std::to_string(limits::kPushNameBytesMax) +
                           " printable ASCII characters without '|'");
    }
    return {};
  }

  Result<void> ValidateFund(const Command& c, const FundRequest& f) {
    PAY_TRY(ValidateMoney(c, f.amount_minor, f.currency));
    if (!f.card) return {};
    PAY_TRY(NeedNetwork());
    return ValidateChargedCard(*f.card, "", &card_);
  }

  Result<void> ValidatePush(const Command& c, const PushRequest& p) {
    PAY_TRY(ValidateMoney(c, p.amount_minor, p.currency));
    if (!push::ValidPurpose(p.purpose)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "purpose: '" + p.purpose.substr(0, 8) +
                           "' is not a business application identifier (AA, BB, BI, BP, CP, FD, "
                           "GD, GP, LO, MD, MP, OG, PD, PP, PS, TU, WT)");
    }
    PAY_TRY(ValidateName(p.recipient_name, "recipient_name", true));
    PAY_TRY(ValidateName(p.sender_name, "sender_name", false));
    PAY_TRY(ValidateName(p.sender_reference, "sender_reference", false));
    PAY_TRY(NeedNetwork());
    return ValidateCreditedCard(p.recipient_card, "card", &card_);
  }

  Result<void> ValidateP2p(const Command& c, const P2pRequest& p) {
    PAY_TRY(ValidateMoney(c, p.amount_minor, p.currency));
    PAY_TRY(ValidateName(p.sender_name, "sender_name", false));
    PAY_TRY(ValidateName(p.recipient_name, "recipient_name", false));
    PAY_TRY(NeedNetwork());
    PAY_TRY(ValidateCreditedCard(p.recipient_card, "to_card", &card2_));
    return ValidateChargedCard(p.sender_card, "from_", &card_);
  }

  Result<void> ValidatePaymentOperation(const Command& c) {
    auto check = [&](const std::string& id, std::optional<int64_t> amount) -> Result<void> {
      if (c.merchant.empty()) {
        return MakeError(ErrorCode::kInvalidArgument, "merchant: required for card payments");
      }
      if (id.empty() || id.size() > limits::kAccountIdBytesMax) {
        return MakeError(ErrorCode::kInvalidArgument, "payment_id: required (pay_...)");
      }
      if (amount && *amount <= 0) {
        return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
      }
      return {};
    };
    if (const auto* r = std::get_if<IncrementRequest>(&c.request)) {
      PAY_TRY(check(r->payment_id, r->amount_minor));
      if (options_.card_network == nullptr) {
        return MakeError(ErrorCode::kNetworkUnavailable, "card network: none is configured");
      }
      return {};
    }
    if (const auto* r = std::get_if<CaptureRequest>(&c.request)) return check(r->payment_id, r->amount_minor);
    if (const auto* r = std::get_if<VoidPaymentRequest>(&c.request)) return check(r->payment_id, std::nullopt);
    if (const auto* r = std::get_if<RefundRequest>(&c.request)) return check(r->payment_id, r->amount_minor);
    return {};
  }

  void SetPayment(Outcome* out, const pull::Payment& p) {
    out->body = pull::PaymentJson(p);
    out->payment_id = p.id;
    out->payment_status = std::string(pull::PaymentStatusName(p.status));
    out->response_code = p.response_code;
    out->entry_id = p.history.empty() ? 0 : p.history.back().entry_id;
  }

  // Phase two of a batch: the network's answers to its online card operations, applied in one
  // more transaction. If that transaction fails, the payments stay pending and the next batch
  // (or start-up) resolves them as unknown, with reversals.
  void ExchangePending(std::vector<Result<Outcome>>& out) {
    // Rounds: a P2P whose AFT is approved sends its OCT in the next round.
    std::vector<PendingExchange> round = std::move(pending_);
    pending_.clear();
    while (!round.empty()) {
      std::vector<CardRequest> requests;
      requests.reserve(round.size());
      for (const PendingExchange& p : round) requests.push_back(p.request);
      auto responses = options_.card_network->Exchange(requests);
      auto fail_round = [&](const Error& e) {
        needs_recovery_ = true;
        for (const PendingExchange& p : round) out[p.index] = e;
      };
      if (auto b = ledger_->Begin(); !b) return fail_round(b.error());
      rail_->BeginTransaction();
      std::vector<std::pair<size_t, Outcome>> answers;
      std::vector<PendingExchange> next;
      for (size_t i = 0; i < round.size(); ++i) {
        PendingExchange& pe = round[i];
        clock_->Set(pe.event_time_ms);
        Result<CardResponse> response =
            i < responses.size() ? responses[i]
                                 : Result<CardResponse>(MakeError(ErrorCode::kNetworkTimeout, "no response"));
        bool follow_up = false;
        auto payment = CompleteExchange(pe.push, pe.payment_id, pe.request.stan, response, &follow_up);
        Result<void> stored;
        Outcome o;
        o.operation = pe.operation;
        if (payment) {
          SetPayment(&o, *payment);
          if (follow_up && pe.follow_up) {
            PendingExchange nx = std::move(pe);
            nx.request = std::move(*nx.follow_up);
            nx.follow_up.reset();
            nx.request.stan = payment->stan;
            nx.request.rrn = payment->rrn;
            nx.request.transmitted_at_ms = clock_->NowMs();
            next.push_back(std::move(nx));
            continue;
          }
          if (payment->in_doubt()) {
            in_doubt_.push_back(pe.index);  // answered as it stands; the claim stays open
          } else if (pe.guarded) {
            stored = CompleteClaim(pe.claim, o.body, o.entry_id);
          }
        }
        if (!payment || !stored) {
          RollbackAll();
          clock_->Set(0);
          return fail_round(payment ? stored.error() : payment.error());
        }
        answers.emplace_back(pe.index, std::move(o));
      }
      clock_->Set(0);
      if (auto c = Commit(); !c) {
        for (const PendingExchange& p : next) out[p.index] = c.error();
        return fail_round(c.error());
      }
      for (auto& [index, o] : answers) out[index] = std::move(o);
      round = std::move(next);
    }
  }

  // The answer to one exchange, applied by the rail of the payment's kind.
  Result<pull::Payment> CompleteExchange(bool push, const std::string& payment_id,
                                         const std::string& stan,
                                         const Result<CardResponse>& response, bool* follow_up) {
    if (!push) return rail_->Complete(payment_id, stan, response);
    PAY_ASSIGN_OR_RETURN(push::Completion c, push_->Complete(payment_id, stan, response));
    *follow_up = c.send_follow_up;
    return std::move(c.payment);
  }

  // Completes an in-flight claim with the outcome it waited for.
  Result<void> CompleteClaim(const pull::Claim& claim, const std::string& body, int64_t entry_seq) {
    PAY_ASSIGN_OR_RETURN(auto row, store_->FindIdempotency(claim.scope, claim.operation, claim.key));
    if (!row || row->state != kInFlight) return {};
    store::IdempotencyRow done = *row;
    done.state = kComplete;
    done.status = 0;
    done.entry_seq = entry_seq;
    done.body = body;
    return store_->PutIdempotency(done);
  }

  // Delivers queued advices, oldest first and one per payment at a time, for up to
  // network_rounds_max rounds. Acknowledged reversals resolve payments in doubt and complete the
  // claims that waited on them (and, when `out` is given, the answers of this batch). Returns
  // how many advices remain queued (0 or more; an estimate of at least one when not empty).
  Result<size_t> DeliverAdvices(std::vector<Result<Outcome>>* out) {
    if (options_.card_network == nullptr) {
      PAY_ASSIGN_OR_RETURN(bool any, rail_->HasAdvices());
      return any ? 1 : 0;
    }
    for (int round = 0; round < options_.network_rounds_max; ++round) {
      PAY_ASSIGN_OR_RETURN(auto advices, rail_->NextAdvices(limits::kAdvicesPerRoundMax));
      if (advices.empty()) return 0;
      std::vector<CardRequest> requests;
      requests.reserve(advices.size());
      for (const auto& a : advices) requests.push_back(a.request);
      auto responses = options_.card_network->Exchange(requests);
      PAY_TRY(ledger_->Begin());
      rail_->BeginTransaction();
      for (size_t i = 0; i < advices.size(); ++i) {
        if (i >= responses.size() || !responses[i]) continue;  // stays queued
        auto resolved = advices[i].request.type == CardMessageType::kStatusInquiry
                            ? push_->Acknowledge(advices[i], *responses[i])
                            : rail_->Acknowledge(advices[i]);
        Result<void> step;
        if (resolved && *resolved && !(*resolved)->claim.empty()) {
          const pull::Payment& p = **resolved;
          Outcome o;
          o.operation = static_cast<Operation>(p.claim.operation);
          SetPayment(&o, p);
          step = CompleteClaim(p.claim, o.body, o.entry_id);
          if (step && out != nullptr) {
            for (size_t index : in_doubt_) {
              if (index < out->size() && (*out)[index] && (*out)[index]->payment_id == p.id) {
                (*out)[index] = o;
              }
            }
          }
        }
        if (!resolved || !step) {
          RollbackAll();
          return resolved ? step.error() : resolved.error();
        }
      }
      PAY_TRY(Commit());
    }
    PAY_ASSIGN_OR_RETURN(bool any, rail_->HasAdvices());
    return any ? 1 : 0;
  }

  // Payments left pending by a crash (open for at least `grace_ms`) or by this process's failed
  // second phase (grace 0) become unknown, reversal queued.
  Result<void> RecoverPayments(int64_t grace_ms) {
    PAY_ASSIGN_OR_RETURN(bool open, rail_->HasOpenExchanges());
    if (!open) {
      needs_recovery_ = false;
      return {};
    }
    PAY_TRY(ledger_->Begin());
    rail_->BeginTransaction();
    auto stale = rail_->StaleExchanges(grace_ms);
    if (!stale) {
      RollbackAll();
      return stale.error();
    }
    for (const auto& x : *stale) {
      bool follow_up = false;
      auto r = CompleteExchange(x.payment.kind != pull::PaymentKind::kPull, x.payment.id, x.stan,
                                MakeError(ErrorCode::kNetworkTimeout,
                                          "no answer recorded before a restart"),
                                &follow_up);
      if (!r) {
        RollbackAll();
        return r.error();
      }
    }
    PAY_TRY(Commit());
    recovery_.payments_in_doubt += stale->size();
    needs_recovery_ = false;
    return {};
  }

  EngineOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  const Clock* base_clock_ = nullptr;
  std::unique_ptr<EventClock> clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<guards::VelocityGuard> velocity_;
  std::mutex mu_;
  std::optional<Error> failed_;
  Recovery recovery_;
  std::unique_ptr<pull::PullRail> rail_;
  std::unique_ptr<push::PushRail> push_;
  // The batch in progress: online card operations waiting for the network, the answers given
  // while their payment was in doubt, whether advices were queued, and the command at hand
  // (its card, as the rails may keep it, and a local decline code).
  std::vector<PendingExchange> pending_;
  std::vector<size_t> in_doubt_;
  bool advices_queued_ = false;
  bool needs_recovery_ = false;
  size_t current_index_ = 0;
  card::CardRef card_;
  card::CardRef card2_;  // P2P: the recipient's card (card_ is the sender's)
  std::string local_decline_;
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  auto e = std::make_unique<EngineImpl>();
  PAY_TRY(e->Open(options));
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace pay
