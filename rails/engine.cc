// The engine: validate -> idempotency claim -> velocity check -> rail -> ledger -> commit.
// See include/pay/engine.h for the contract and docs/engine.md for the reasoning.

#include "pay/engine.h"

#include <algorithm>
#include <mutex>

#include "core/crypto.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "rails/guards/idempotency.h"
#include "rails/guards/velocity.h"

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
         e.code != ErrorCode::kUnknownAccount && e.code != ErrorCode::kEntryNotFound;
}

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
  }
  return "unknown";
}

Result<Operation> ParseOperation(std::string_view name, std::string_view field) {
  for (Operation op : {Operation::kCreateAccount, Operation::kTransfer, Operation::kPostPending,
                       Operation::kVoidPending, Operation::kReverse}) {
    if (name == OperationName(op)) return op;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not an operation (create_account, transfer, post, void, reverse)");
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
    default: return Operation::kReverse;
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
    return RecoverInFlight();
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
    clock_->Set(0);
    if (auto b = ledger_->Begin(); !b) return fail_all(b.error());
    failed_.reset();
    for (const Command& c : commands) {
      clock_->Set(c.event_time_ms);
      out.push_back(Execute(c));
      if (failed_) break;
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
    if (auto c = ledger_->Commit(); !c) {
      velocity_->Rollback();
      return fail_all(c.error());
    }
    velocity_->Commit();
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
        ledger_->Rollback();
        return n.error();
      }
      PAY_TRY(ledger_->Commit());
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

 private:
  // Runs one command inside the open transaction. An Error return means nothing was stored for
  // it; a store failure also sets failed_, which aborts the whole batch.
  Result<Outcome> Execute(const Command& c) {
    const Operation op = OperationOf(c.request);
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
    }
    if (!options_.guards_enabled) return Run(c, op, scope, nullptr);

    // 2. Idempotency: the stored outcome, a conflict, or a free key.
    const std::string fingerprint = guards::Fingerprint(c.request);
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
    RetryAdvice a = ErrorRetryAdvice(e.code);
    if (a == RetryAdvice::kRetrySameKey || a == RetryAdvice::kContactOperator) return Fail(e);
    return e;
  }

  Error Fail(const Error& e) {
    if (!failed_) failed_ = e;
    return e;
  }

  void Abort() {
    ledger_->Rollback();
    velocity_->Rollback();
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
      for (const store::IdempotencyRow& r : rows) {
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
          ledger_->Rollback();
          return step.error();
        }
      }
      PAY_TRY(ledger_->Commit());
    }
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
};

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  auto e = std::make_unique<EngineImpl>();
  PAY_TRY(e->Open(options));
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace pay
