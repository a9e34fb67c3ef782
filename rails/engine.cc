// The engine: validate -> idempotency -> velocity -> handler -> (network) -> commit.
// See include/pay/engine.h for the contract, docs/engine.md for the reasoning and
// docs/architecture.md for the path of one request. Products live in rails/handlers (one
// handler each); this file is the pipeline, the batch and the network phases.

#include "pay/engine.h"

#include <algorithm>
#include <mutex>

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "core/store.h"
#include "ledger/ledger.h"
#include "rails/guards/idempotency.h"
#include "rails/guards/velocity.h"
#include "rails/handlers/handler.h"
#include "rails/payments/book.h"
#include "rails/pull/pull_rail.h"
#include "rails/push/push_rail.h"

namespace pay {

namespace {

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

Outcome DeclineOutcome(Operation op, const Error& e) {
  Outcome out;
  out.operation = op;
  out.declined = true;
  out.decline = e;
  JsonWriter w;
  w.BeginObject().Key("declined").BeginObject();
  w.Field("operation", OperationName(op)).Field("code", e.name()).Field("number", e.number());
  w.Field("message", e.message);
  w.EndObject().EndObject();
  out.body = w.str();
  return out;
}

guards::KeyRef KeyOf(const payments::Claim& claim) {
  return {claim.scope, static_cast<Operation>(claim.operation), claim.key};
}

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

// An online exchange of the batch, waiting for the batch's commit.
struct Pending {
  size_t index = 0;  // of the command in the batch
  Operation operation = Operation::kAuthorize;
  handlers::Exchange exchange;
  int64_t event_time_ms = 0;
  bool guarded = false;  // its key was claimed in flight
  payments::Claim claim;
};

// The batch in progress: a local value of SubmitBatch, never an engine member.
struct Batch {
  explicit Batch(std::span<const Command> c) : commands(c) { out.reserve(c.size()); }
  std::span<const Command> commands;
  std::vector<Result<Outcome>> out;
  std::optional<Error> failed;    // a store failure: the whole batch is rolled back
  std::vector<Pending> pending;   // online exchanges, sent after the commit
  std::vector<size_t> in_doubt;   // answers given while their payment was in doubt
  bool advices_queued = false;

  Error Fail(const Error& e) {
    if (!failed) failed = e;
    return e;
  }
  std::vector<Result<Outcome>> FailAll(const Error& e) {
    out.assign(commands.size(), e);
    return std::move(out);
  }
};

class EngineImpl final : public Engine {
 public:
  Result<void> Open(const EngineOptions& o);

  Result<Outcome> Submit(const Command& command) override {
    std::span<const Command> one(&command, 1);
    auto results = SubmitBatch(one);
    return std::move(results.front());
  }

  std::vector<Result<Outcome>> SubmitBatch(std::span<const Command> commands) override;

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
  Result<std::vector<VelocityWindowStatus>> VelocityStatus(std::string_view rule,
                                                           std::string_view key) override {
    std::lock_guard lock(mu_);
    return velocity_->Status(*store_, rule, key, clock_->NowMs());
  }
  Recovery recovery() const override { return recovery_; }

  Result<size_t> PurgeIdempotencyKeys() override;
  Result<PaymentView> GetPayment(std::string_view payment_id) override;
  Result<Page<PaymentView>> ListPayments(std::string_view merchant, std::string_view after_id,
                                         size_t limit) override;
  Result<Page<Merchant>> ListMerchants(std::string_view after_id, size_t limit) override;
  Result<std::string> PaymentJson(std::string_view payment_id) override;
  Result<std::vector<std::string>> ListPaymentJson(std::string_view merchant,
                                                   std::string_view after_id,
                                                   size_t limit) override;
  Result<std::optional<std::string>> PaymentIdForKey(std::string_view merchant,
                                                     std::string_view key) override;
  Result<size_t> ExpirePayments(size_t max) override;
  Result<SettleReport> Settle() override;
  Result<size_t> ResolvePending() override {
    std::lock_guard lock(mu_);
    PAY_TRY(RecoverPayments(needs_recovery_ ? 0 : options_.exchange_grace_ms));
    return DeliverAdvices(nullptr);
  }
  Result<std::string> CreateApiKey(std::string_view merchant, bool admin) override;
  Result<std::optional<ApiKey>> Authenticate(std::string_view presented) override;

 private:
  Result<Outcome> Execute(Batch& b, size_t index);
  Result<Outcome> CheckGuards(Batch& b, size_t index, const handlers::Handler& h,
                              const handlers::CommandContext& x);
  Result<Outcome> Run(Batch& b, size_t index, const handlers::Handler& h,
                      const handlers::CommandContext& x);
  Result<Outcome> Await(Batch& b, size_t index, const handlers::CommandContext& x,
                        handlers::Step step);
  Error Passthrough(Batch& b, const Error& e) { return IsStoreFailure(e) ? b.Fail(e) : e; }

  void ExchangePending(Batch& b);
  bool CompleteRound(Batch& b, std::vector<Pending>& round,
                     const std::vector<Result<CardResponse>>& responses,
                     std::vector<Pending>* next);
  Result<payments::Payment> CompleteExchange(bool push, const std::string& payment_id,
                                             const std::string& stan,
                                             const Result<CardResponse>& response,
                                             bool* follow_up);
  Result<size_t> DeliverAdvices(Batch* b);
  Result<void> AcknowledgeAdvice(Batch* b, const payments::Advice& advice,
                                 const CardResponse& response);
  Result<void> RecoverInFlight();
  Result<void> RecoverPayments(int64_t grace_ms);

  // Every write transaction of the engine begins and ends here.
  Result<void> Begin() {
    PAY_TRY(ledger_->Begin());
    book_->BeginTransaction();
    return {};
  }
  Result<void> Commit() {
    if (auto f = book_->Flush(); !f) {
      RollbackAll();
      return f.error();
    }
    return ledger_->Commit();
  }
  void RollbackAll() {
    ledger_->Rollback();
    book_->Rollback();
  }
  // Runs `body` in one write transaction: committed when it succeeds, rolled back otherwise.
  template <class F>
  auto InTransaction(F&& body) -> decltype(body()) {
    PAY_TRY(Begin());
    auto r = body();
    if (!r) {
      RollbackAll();
      return r;
    }
    PAY_TRY(Commit());
    return r;
  }

  static constexpr size_t kExpiriesPerBatch = 64;

  EngineOptions options_;
  std::unique_ptr<Clock> owned_clock_;
  std::unique_ptr<EventClock> clock_;
  std::shared_ptr<store::Store> store_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::unique_ptr<guards::VelocityGuard> velocity_;
  std::unique_ptr<guards::Keys> keys_;
  std::unique_ptr<payments::Book> book_;
  std::unique_ptr<pull::PullRail> pull_;
  std::unique_ptr<push::PushRail> push_;
  std::unique_ptr<handlers::Services> services_;
  std::mutex mu_;  // one writer; reads take it too
  Recovery recovery_;
  bool needs_recovery_ = false;  // a second phase failed: its payments wait for RecoverPayments
};

// ---- opening --------------------------------------------------------------------------------

Result<void> EngineImpl::Open(const EngineOptions& o) {
  options_ = o;
  const Clock* base = o.clock;
  if (base == nullptr) {
    owned_clock_ = std::make_unique<SystemClock>();
    base = owned_clock_.get();
  }
  clock_ = std::make_unique<EventClock>(*base);
  if (o.idempotency_retention_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "idempotency_retention: must be positive");
  }
  std::vector<guards::VelocityRule> rules;
  if (!o.velocity_config_path.empty()) {
    PAY_ASSIGN_OR_RETURN(rules, guards::LoadVelocityRules(o.velocity_config_path));
  }
  velocity_ = std::make_unique<guards::VelocityGuard>(std::move(rules));
  if (o.store != nullptr) {
    store_ = o.store;
  } else {
    store::StoreOptions so;
    so.create_if_missing = o.create_if_missing;
    so.durability = o.durability == Durability::kFull ? store::Durability::kFull
                                                      : store::Durability::kNormal;
    PAY_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> opened, store::OpenSqliteStore(o.db_path, so));
    store_ = std::move(opened);
  }
  ledger_ = std::make_unique<ledger::Ledger>(*store_, *clock_);
  if (o.authorization_validity_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "authorization_validity: must be positive");
  }
  if (o.exchange_grace_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "exchange_grace: must not be negative");
  }
  keys_ = std::make_unique<guards::Keys>(*store_, o.idempotency_retention_ms);
  book_ = std::make_unique<payments::Book>(*store_, *ledger_, *clock_);
  pull_ = std::make_unique<pull::PullRail>(*book_, pull::PullOptions{o.authorization_validity_ms});
  push_ = std::make_unique<push::PushRail>(*book_);
  services_.reset(new handlers::Services{*ledger_, *book_, *pull_, *push_, *velocity_, *clock_,
                                         options_});
  PAY_TRY(RecoverInFlight());
  // Card payments a crash left waiting for the network are resolved before anything else:
  // they become unknown and their reversals go out now (or stay queued until the network
  // answers).
  PAY_TRY(RecoverPayments(o.exchange_grace_ms));
  if (o.card_network != nullptr) PAY_TRY(DeliverAdvices(nullptr));
  return {};
}

// ---- the batch ------------------------------------------------------------------------------

std::vector<Result<Outcome>> EngineImpl::SubmitBatch(std::span<const Command> commands) {
  std::lock_guard lock(mu_);
  Batch b(commands);
  if (commands.size() > limits::kBatchEntriesMax) {
    return b.FailAll(MakeError(ErrorCode::kLimitExceeded,
                               "batch: more than " + std::to_string(limits::kBatchEntriesMax) +
                                   " commands"));
  }
  if (needs_recovery_) {
    if (auto r = RecoverPayments(0); !r) return b.FailAll(r.error());
  }
  clock_->Set(commands.empty() ? 0 : commands.front().event_time_ms);
  if (auto r = Begin(); !r) return b.FailAll(r.error());
  // Authorizations past their validity release their holds before anything else runs.
  if (auto x = pull_->ExpireDue(kExpiriesPerBatch); !x) {
    b.Fail(x.error());
  } else if (*x > 0) {
    b.advices_queued = true;
  }
  for (size_t i = 0; i < commands.size() && !b.failed; ++i) {
    clock_->Set(commands[i].event_time_ms);
    b.out.push_back(Execute(b, i));
  }
  clock_->Set(0);
  Result<void> done = b.failed ? Result<void>(*b.failed) : velocity_->Flush(*store_, clock_->NowMs());
  if (!done) {
    RollbackAll();
    velocity_->Rollback();
    return b.FailAll(done.error());
  }
  if (auto c = Commit(); !c) {
    velocity_->Rollback();
    return b.FailAll(c.error());
  }
  velocity_->Commit();
  // The claims of online card operations are durable: now the network may see them.
  if (!b.pending.empty()) ExchangePending(b);
  if (b.advices_queued || !b.in_doubt.empty()) {
    // Advice delivery failures leave them queued; the answers already given stand.
    (void)DeliverAdvices(&b);
  }
  return std::move(b.out);
}

// Runs one command inside the batch's transaction. An Error return means nothing was stored for
// it; a store failure also fails the batch, which rolls it back whole.
Result<Outcome> EngineImpl::Execute(Batch& b, size_t index) {
  const Command& c = b.commands[index];
  // 1. Validate: the key, the scope, and the request's checks that need no database.
  PAY_TRY(guards::ValidateIdempotencyKey(c.idempotency_key));
  PAY_TRY(guards::ValidateScope(c));
  const handlers::Handler& h = handlers::HandlerFor(c.request);
  handlers::CommandContext x;
  x.operation = h.operation();
  x.scope = guards::ScopeOf(c);
  PAY_TRY(h.Validate(*services_, c, x));
  if (!options_.guards_enabled) return Run(b, index, h, x);
  x.fingerprint = guards::Fingerprint(c.request, x.card.ref.fingerprint, x.second_card.fingerprint);
  return CheckGuards(b, index, h, x);
}

// 2-3. Idempotency (the stored outcome, a conflict, or a free key), then velocity (every rule
// checked; consumed only once the command executed).
Result<Outcome> EngineImpl::CheckGuards(Batch& b, size_t index, const handlers::Handler& h,
                                        const handlers::CommandContext& x) {
  const Command& c = b.commands[index];
  auto is_conflict = [](const Error& e) {
    return e.code == ErrorCode::kIdempotencyKeyInFlight || e.code == ErrorCode::kIdempotencyKeyReused;
  };
  auto stored = keys_->Replay({x.scope, x.operation, c.idempotency_key}, x.fingerprint);
  if (!stored) return is_conflict(stored.error()) ? stored.error() : b.Fail(stored.error());
  if (*stored) return std::move(**stored);
  auto journal = h.ReplayWithoutRecord(*services_, c, x);
  if (!journal) return is_conflict(journal.error()) ? journal.error() : b.Fail(journal.error());
  if (*journal) return std::move(**journal);

  if (velocity_->rule_count() == 0) return Run(b, index, h, x);
  guards::VelocityEvent event;
  event.operation = x.operation;
  event.channel = c.channel;
  event.merchant = x.scope;
  event.credential = c.client.credential;
  event.ip = c.client.ip;
  h.DescribeVelocity(*services_, c, x, event);
  auto plan = velocity_->Check(*store_, event, clock_->NowMs());
  if (!plan) {
    if (plan.error().code == ErrorCode::kVelocityLimited) return plan.error();
    return b.Fail(plan.error());  // reading velocity state failed: the batch cannot go on
  }
  auto outcome = Run(b, index, h, x);
  if (!outcome) return outcome;
  velocity_->Consume(*plan, event, clock_->NowMs());
  return outcome;
}

// 4. The handler, then (with guards on) the outcome stored under the key.
Result<Outcome> EngineImpl::Run(Batch& b, size_t index, const handlers::Handler& h,
                                const handlers::CommandContext& x) {
  const Command& c = b.commands[index];
  auto step = h.Execute(*services_, c, x);
  Outcome out;
  if (!step) {
    if (!IsDecline(step.error())) return Passthrough(b, step.error());
    out = DeclineOutcome(x.operation, step.error());
  } else {
    if (step->advices_queued) b.advices_queued = true;
    if (step->exchange) return Await(b, index, x, std::move(*step));
    out = std::move(step->outcome);
    out.operation = x.operation;
  }
  if (!options_.guards_enabled) return out;
  if (x.journal_keyed && !out.declined) return out;  // the entry itself is the record
  if (auto p = keys_->Complete({x.scope, x.operation, c.idempotency_key}, x.fingerprint, out,
                               clock_->NowMs());
      !p) {
    return b.Fail(p.error());
  }
  return out;
}

// An online operation: its key is claimed in flight, in this transaction, naming the payment;
// the exchange runs after the commit and its answer completes the claim.
Result<Outcome> EngineImpl::Await(Batch& b, size_t index, const handlers::CommandContext& x,
                                  handlers::Step step) {
  const Command& c = b.commands[index];
  const bool guarded = options_.guards_enabled;
  if (guarded) {
    auto claim = keys_->Claim({x.scope, x.operation, c.idempotency_key}, x.fingerprint,
                              guards::Intent::Payment(step.exchange->payment_id), clock_->NowMs());
    if (!claim) return b.Fail(claim.error());
  }
  Pending p;
  p.index = index;
  p.operation = x.operation;
  p.exchange = std::move(*step.exchange);
  p.event_time_ms = c.event_time_ms;
  p.guarded = guarded;
  p.claim = payments::Claim{x.scope, static_cast<int32_t>(x.operation), c.idempotency_key};
  b.pending.push_back(std::move(p));
  step.outcome.operation = x.operation;
  return std::move(step.outcome);
}

// ---- the network phases ---------------------------------------------------------------------

// Phase two of a batch: the network's answers to its online card operations, applied in one
// more transaction per round (a P2P whose AFT is approved sends its OCT in the next round). If a
// round's transaction fails, its payments stay pending and the next batch (or start-up) resolves
// them as unknown, with reversals.
void EngineImpl::ExchangePending(Batch& b) {
  std::vector<Pending> round = std::move(b.pending);
  b.pending.clear();
  while (!round.empty()) {
    std::vector<CardRequest> requests;
    requests.reserve(round.size());
    for (const Pending& p : round) requests.push_back(p.exchange.request);
    auto responses = options_.card_network->Exchange(requests);
    std::vector<Pending> next;
    if (!CompleteRound(b, round, responses, &next)) return;
    round = std::move(next);
  }
}

// Applies one round's answers; false when its transaction failed (every command of the round
// then answers with that error).
bool EngineImpl::CompleteRound(Batch& b, std::vector<Pending>& round,
                               const std::vector<Result<CardResponse>>& responses,
                               std::vector<Pending>* next) {
  auto fail_round = [&](const Error& e) {
    needs_recovery_ = true;
    for (const Pending& p : round) b.out[p.index] = e;
    clock_->Set(0);
    return false;
  };
  if (auto r = Begin(); !r) return fail_round(r.error());
  std::vector<std::pair<size_t, Outcome>> answers;
  for (size_t i = 0; i < round.size(); ++i) {
    Pending& pe = round[i];
    clock_->Set(pe.event_time_ms);
    Result<CardResponse> response =
        i < responses.size() ? responses[i]
                             : Result<CardResponse>(MakeError(ErrorCode::kNetworkTimeout, "no response"));
    bool follow_up = false;
    auto payment = CompleteExchange(pe.exchange.push, pe.exchange.payment_id,
                                    pe.exchange.request.stan, response, &follow_up);
    if (!payment) {
      RollbackAll();
      return fail_round(payment.error());
    }
    Outcome o = handlers::PaymentStep(*payment, pe.operation).outcome;
    if (follow_up && pe.exchange.follow_up) {
      Pending nx = std::move(pe);
      nx.exchange.request = std::move(*nx.exchange.follow_up);
      nx.exchange.follow_up.reset();
      nx.exchange.request.stan = payment->stan;
      nx.exchange.request.rrn = payment->rrn;
      nx.exchange.request.transmitted_at_ms = clock_->NowMs();
      next->push_back(std::move(nx));
      continue;
    }
    if (payment->in_doubt()) {
      b.in_doubt.push_back(pe.index);  // answered as it stands; the claim stays open
    } else if (pe.guarded) {
      if (auto s = keys_->CompleteClaim(KeyOf(pe.claim), o.body, o.entry_id); !s) {
        RollbackAll();
        return fail_round(s.error());
      }
    }
    answers.emplace_back(pe.index, std::move(o));
  }
  clock_->Set(0);
  if (auto c = Commit(); !c) {
    for (const Pending& p : *next) b.out[p.index] = c.error();
    return fail_round(c.error());
  }
  for (auto& [index, o] : answers) b.out[index] = std::move(o);
  return true;
}

// The answer to one exchange, applied by the rail of the payment's kind.
Result<payments::Payment> EngineImpl::CompleteExchange(bool push, const std::string& payment_id,
                                                       const std::string& stan,
                                                       const Result<CardResponse>& response,
                                                       bool* follow_up) {
  if (!push) return pull_->Complete(payment_id, stan, response);
  PAY_ASSIGN_OR_RETURN(push::Completion c, push_->Complete(payment_id, stan, response));
  *follow_up = c.send_follow_up;
  return std::move(c.payment);
}

// Delivers queued advices, oldest first and one per payment at a time, for up to
// network_rounds_max rounds. Acknowledged reversals resolve payments in doubt and complete the
// claims that waited on them (and, for a batch, the answers it gave). Returns how many advices
// remain queued (0, or 1 standing for "some").
Result<size_t> EngineImpl::DeliverAdvices(Batch* b) {
  if (options_.card_network != nullptr) {
    for (int round = 0; round < options_.network_rounds_max; ++round) {
      PAY_ASSIGN_OR_RETURN(auto advices, book_->NextAdvices(limits::kAdvicesPerRoundMax));
      if (advices.empty()) return 0;
      std::vector<CardRequest> requests;
      requests.reserve(advices.size());
      for (const auto& a : advices) requests.push_back(a.request);
      auto responses = options_.card_network->Exchange(requests);
      PAY_TRY(InTransaction([&]() -> Result<void> {
        for (size_t i = 0; i < advices.size(); ++i) {
          if (i >= responses.size() || !responses[i]) continue;  // stays queued
          PAY_TRY(AcknowledgeAdvice(b, advices[i], *responses[i]));
        }
        return {};
      }));
    }
  }
  PAY_ASSIGN_OR_RETURN(bool any, book_->HasAdvices());
  return any ? 1 : 0;
}

Result<void> EngineImpl::AcknowledgeAdvice(Batch* b, const payments::Advice& advice,
                                           const CardResponse& response) {
  PAY_ASSIGN_OR_RETURN(auto resolved, advice.request.type == CardMessageType::kStatusInquiry
                                          ? push_->Acknowledge(advice, response)
                                          : pull_->Acknowledge(advice));
  if (!resolved || resolved->claim.empty()) return {};
  const payments::Payment& p = *resolved;
  Outcome o = handlers::PaymentStep(p, static_cast<Operation>(p.claim.operation)).outcome;
  PAY_TRY(keys_->CompleteClaim(KeyOf(p.claim), o.body, o.entry_id));
  if (b == nullptr) return {};
  for (size_t index : b->in_doubt) {
    if (index < b->out.size() && b->out[index] && b->out[index]->payment_id == p.id) {
      b->out[index] = o;
    }
  }
  return {};
}

// ---- recovery -------------------------------------------------------------------------------

// Start-up: a record left in flight belongs to a command whose outcome was never stored (see
// guards::Keys::Recover).
Result<void> EngineImpl::RecoverInFlight() {
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, keys_->InFlight(256));
    if (rows.empty()) return {};
    PAY_ASSIGN_OR_RETURN(auto r, InTransaction([&] { return keys_->Recover(*ledger_, rows); }));
    recovery_.completed += r.completed;
    recovery_.released += r.released;
    if (r.skipped == rows.size()) return {};
  }
}

// Payments left pending by a crash (open for at least `grace_ms`) or by this process's failed
// second phase (grace 0) become unknown, reversal queued.
Result<void> EngineImpl::RecoverPayments(int64_t grace_ms) {
  PAY_ASSIGN_OR_RETURN(bool open, book_->HasOpenExchanges());
  if (open) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&]() -> Result<size_t> {
      PAY_ASSIGN_OR_RETURN(auto stale, book_->StaleExchanges(grace_ms));
      for (const auto& x : stale) {
        bool follow_up = false;
        PAY_TRY(CompleteExchange(x.payment.kind != payments::PaymentKind::kPull, x.payment.id,
                                 x.stan,
                                 MakeError(ErrorCode::kNetworkTimeout,
                                           "no answer recorded before a restart"),
                                 &follow_up));
      }
      return stale.size();
    }));
    recovery_.payments_in_doubt += n;
  }
  needs_recovery_ = false;
  return {};
}

// ---- sweeps and reads -----------------------------------------------------------------------

Result<size_t> EngineImpl::PurgeIdempotencyKeys() {
  std::lock_guard lock(mu_);
  size_t total = 0;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] {
      return keys_->Purge(clock_->NowMs(), limits::kExpirySweepPerTransactionMax);
    }));
    total += n;
    if (n < limits::kExpirySweepPerTransactionMax) return total;
  }
}

Result<size_t> EngineImpl::ExpirePayments(size_t max) {
  std::lock_guard lock(mu_);
  size_t total = 0;
  while (total < max) {
    const size_t chunk = std::min(max - total, limits::kPaymentSweepPerTransactionMax);
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] { return pull_->ExpireDue(chunk); }));
    total += n;
    if (n == 0) break;
  }
  if (total > 0) (void)DeliverAdvices(nullptr);
  return total;
}

Result<Engine::SettleReport> EngineImpl::Settle() {
  std::lock_guard lock(mu_);
  SettleReport report;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&] {
      return pull_->Settle(limits::kPaymentSweepPerTransactionMax, &report);
    }));
    if (n < limits::kPaymentSweepPerTransactionMax) return report;
  }
}

Result<PaymentView> EngineImpl::GetPayment(std::string_view payment_id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(payments::Payment p, book_->Load("", payment_id));
  return payments::ToView(p);
}

Result<Page<PaymentView>> EngineImpl::ListPayments(std::string_view merchant,
                                                   std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto list, book_->List(merchant, after_id, limit));
  Page<PaymentView> page;
  page.items.reserve(list.size());
  for (const auto& p : list) page.items.push_back(payments::ToView(p));
  if (limit > 0 && list.size() == limit) page.next_after = list.back().id;
  return page;
}

Result<Page<Merchant>> EngineImpl::ListMerchants(std::string_view after_id, size_t limit) {
  limit = std::min(limit, limits::kListRowsMax);
  std::lock_guard lock(mu_);
  Page<Merchant> page;
  PAY_ASSIGN_OR_RETURN(page.items, book_->ListMerchants(after_id, limit));
  if (limit > 0 && page.items.size() == limit) page.next_after = page.items.back().id;
  return page;
}

Result<std::string> EngineImpl::PaymentJson(std::string_view payment_id) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(payments::Payment p, book_->Load("", payment_id));
  return payments::PaymentJson(p);
}

Result<std::vector<std::string>> EngineImpl::ListPaymentJson(std::string_view merchant,
                                                             std::string_view after_id,
                                                             size_t limit) {
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto list, book_->List(merchant, after_id, std::min(limit, limits::kListRowsMax)));
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& p : list) out.push_back(payments::PaymentJson(p));
  return out;
}

Result<std::optional<std::string>> EngineImpl::PaymentIdForKey(std::string_view merchant,
                                                               std::string_view key) {
  std::lock_guard lock(mu_);
  const std::string scope = merchant.empty() ? "default" : std::string(merchant);
  for (Operation op : {Operation::kAuthorize, Operation::kPush, Operation::kP2p, Operation::kFund}) {
    PAY_ASSIGN_OR_RETURN(auto id, keys_->PaymentOf({scope, op, std::string(key)}));
    if (id) return id;
  }
  return std::optional<std::string>();
}

// ---- API keys (paymentd) --------------------------------------------------------------------

Result<std::string> EngineImpl::CreateApiKey(std::string_view merchant, bool admin) {
  std::lock_guard lock(mu_);
  if (admin == !merchant.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "apikey: give a merchant or ask for an admin key, not both");
  }
  if (!admin) {
    PAY_ASSIGN_OR_RETURN(auto m, book_->FindMerchant(merchant));
    if (!m) {
      return MakeError(ErrorCode::kUnknownMerchant, "merchant: no merchant '" + std::string(merchant) + "'");
    }
  }
  PAY_ASSIGN_OR_RETURN(std::string id_bytes, RandomBytes(6));
  PAY_ASSIGN_OR_RETURN(std::string secret_bytes, RandomBytes(24));
  const std::string id = ToHex(id_bytes);
  const std::string secret = ToHex(secret_bytes);
  Writer w;
  w.U8(1);
  w.Str(DigestBytes(Sha256(secret)));
  w.Str(merchant);
  w.U8(admin ? 1 : 0);
  w.I64(clock_->NowMs());
  store::RecordRow row{store::kApiKeyRecord, id, std::string(merchant), 0, w.Take()};
  PAY_TRY(InTransaction([&] { return store_->PutRecord(row); }));
  return "pk_" + id + "_" + secret;
}

Result<std::optional<Engine::ApiKey>> EngineImpl::Authenticate(std::string_view presented) {
  // "pk_" + 12 hex (id) + "_" + 48 hex (secret)
  if (presented.size() != 3 + 12 + 1 + 48 || presented.substr(0, 3) != "pk_" || presented[15] != '_') {
    return std::optional<ApiKey>();
  }
  const std::string id(presented.substr(3, 12));
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(store::kApiKeyRecord, id));
  if (!row) return std::optional<ApiKey>();
  Reader r(row->body);
  uint8_t version = 0, admin = 0;
  std::string hash;
  ApiKey key;
  key.id = id;
  if (!r.U8(&version) || version != 1 || !r.Str(&hash, 64) || !r.Str(&key.merchant, 256) ||
      !r.U8(&admin) || !r.I64(&key.created_at_ms)) {
    return MakeError(ErrorCode::kCorruptStore, "store: undecodable api key record");
  }
  key.admin = admin != 0;
  if (!ConstantTimeEqual(hash, DigestBytes(Sha256(presented.substr(16))))) {
    return std::optional<ApiKey>();
  }
  return std::optional<ApiKey>(std::move(key));
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  auto e = std::make_unique<EngineImpl>();
  PAY_TRY(e->Open(options));
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace pay
