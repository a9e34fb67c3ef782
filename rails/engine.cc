// The engine: validate -> idempotency -> velocity -> handler -> (network) -> commit.
// See include/pay/engine.h for the contract, docs/engine.md for the reasoning and
// docs/architecture.md for the path of one request. Products live in rails/handlers (one
// handler each); this file opens the engine and runs the batch through the pipeline; the
// network phases are in engine_network.cc, reads and sweeps in engine_reads.cc.

#include "pay/engine.h"

#include <algorithm>

#include "core/buffered_store.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "rails/engine_impl.h"

namespace pay::engine_internal {

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

}  // namespace

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
    read_store_ = o.read_store;
  } else {
    store::StoreOptions so;
    so.create_if_missing = o.create_if_missing;
    so.durability = o.durability == Durability::kFull ? store::Durability::kFull
                                                      : store::Durability::kNormal;
    so.max_pages = o.max_db_pages;
    PAY_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> opened, store::OpenStore(o.db_path, so));
    store_ = std::move(opened);
    // Where a statement costs a round trip, a transaction's rows go to the database as one
    // pipelined write set at commit, and rows of earlier ones answer reads from memory.
    if (store::IsPostgresUrl(o.db_path)) {
      store_ = std::make_shared<store::BufferedStore>(store_, limits::kBufferedHotRows);
    }
    // Payment reads get a connection of their own (they see what is committed and never wait
    // behind a batch or its network exchange).
    so.create_if_missing = false;
    so.page_cache_kib = limits::kReadPageCacheKib;
    PAY_ASSIGN_OR_RETURN(read_store_, store::OpenStore(o.db_path, so));
    if (!o.replica_db_path.empty()) {
      if (!store::IsPostgresUrl(o.replica_db_path)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "replica_db: a PostgreSQL connection string (a streaming replica of the database)");
      }
      PAY_ASSIGN_OR_RETURN(replica_store_, store::OpenStore(o.replica_db_path, so));
    }
  }
  ledger_ = std::make_unique<ledger::Ledger>(*store_, *clock_);
  ledger_->SetOwnedRefPrefix(std::string(payments::kRefPrefix));
  if (o.authorization_validity_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "authorization_validity: must be positive");
  }
  if (o.exchange_grace_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "exchange_grace: must not be negative");
  }
  keys_ = std::make_unique<guards::Keys>(*store_, o.idempotency_retention_ms);
  book_ = std::make_unique<payments::Book>(*store_, *ledger_, *clock_);
  if (o.event_retention_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "event_retention: must not be negative");
  }
  book_->events().SetRetention(o.event_retention_ms);
  if (read_store_ != nullptr) {  // reads only: nothing is written through these
    read_ledger_ = std::make_unique<ledger::Ledger>(*read_store_, *clock_);
    read_book_ = std::make_unique<payments::Book>(*read_store_, *read_ledger_, *clock_);
  }
  if (replica_store_ != nullptr) {
    replica_ledger_ = std::make_unique<ledger::Ledger>(*replica_store_, *clock_);
    replica_book_ = std::make_unique<payments::Book>(*replica_store_, *replica_ledger_, *clock_);
  }
  pull_ = std::make_unique<pull::PullRail>(*book_, pull::PullOptions{o.authorization_validity_ms});
  push_ = std::make_unique<push::PushRail>(*book_);
  services_.reset(new handlers::Services{*ledger_, *book_, *pull_, *push_, *velocity_, *clock_,
                                         options_});
  PAY_TRY(TakePlace());
  PAY_TRY(RecoverInFlight());
  // Card payments a crash left waiting for the network are resolved before anything else:
  // they become unknown and their reversals go out now (or stay queued until the network
  // answers).
  PAY_TRY(RecoverPayments());
  if (o.card_network != nullptr) PAY_TRY(DeliverAdvices(nullptr));
  if (o.background_advices && o.card_network != nullptr) {
    deliverer_ = std::thread([this] { DeliverInBackground(); });
  }
  return {};
}

// The database's place in a partitioned set: ids are numbered in the partition's own ranges,
// and the place recorded in the database (when it was made for a partitioned set) must be the
// one it is opened as, or merchants would be looked for in the wrong books.
Result<void> EngineImpl::TakePlace() {
  const uint32_t k = options_.partition, n = options_.partitions;
  if (n == 0 || n > limits::kPartitionsMax || k >= n) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "partition: " + std::to_string(k) + " of " + std::to_string(n) +
                         " (at most " + std::to_string(limits::kPartitionsMax) + " partitions)");
  }
  for (ledger::Ledger* l : {ledger_.get(), read_ledger_.get(), replica_ledger_.get()}) {
    if (l != nullptr) l->SetSeqBase(int64_t{k} * limits::kPartitionEntrySeqSpan);
  }
  book_->SetPartition(k, n);
  const std::string place = std::to_string(k) + "/" + std::to_string(n);
  PAY_ASSIGN_OR_RETURN(auto row, store_->FindRecord(store::kCounterRecord, "partition"));
  if (row) {
    if (row->body == place) return {};
    const std::string held = row->body;
    const size_t slash = held.find('/');
    return MakeError(ErrorCode::kInvalidConfig,
                     "db: holds partition " + held.substr(0, slash) + " of " +
                         held.substr(slash == std::string::npos ? held.size() : slash + 1) +
                         ", opened as partition " + std::to_string(k) + " of " + std::to_string(n) +
                         " (name every partition, in its place: --shard K=DB)");
  }
  if (n == 1) return {};
  PAY_ASSIGN_OR_RETURN(auto last, store_->LastEntry());
  if (last) {
    return MakeError(ErrorCode::kInvalidConfig,
                     "db: holds books made outside a partitioned set; it cannot become partition " +
                         std::to_string(k) + " of " + std::to_string(n) +
                         " (its merchants would be looked for in other partitions)");
  }
  store::RecordRow mark;
  mark.kind = store::kCounterRecord;
  mark.id = "partition";
  mark.body = place;
  return InTransaction([&]() -> Result<void> { return store_->PutRecord(mark); });
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard lock(wake_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (deliverer_.joinable()) deliverer_.join();
}

// ---- the batch ------------------------------------------------------------------------------

// The pipeline: claim (under the writer's lock), exchange (off it: while this batch's messages
// are on the network, the next batch claims), complete (under the lock again), then advices.
std::vector<Result<Outcome>> EngineImpl::SubmitBatch(std::span<const Command> commands) {
  Batch b(commands);
  if (commands.size() > limits::kBatchEntriesMax) {
    return b.FailAll(MakeError(ErrorCode::kLimitExceeded,
                               "batch: more than " + std::to_string(limits::kBatchEntriesMax) +
                                   " commands"));
  }
  if (auto c = ClaimPhase(b); !c) return b.FailAll(c.error());
  if (!b.pending.empty()) ExchangePending(b);
  if (b.advices_queued || !b.in_doubt.empty()) {
    // Advice delivery failures leave them queued; the answers already given stand.
    if (deliverer_.joinable()) {
      Wake();
    } else {
      (void)DeliverAdvices(&b);
    }
  }
  return std::move(b.out);
}

// Phase one, in one transaction: every command validated, guarded and executed; the online
// ones claimed. Once it commits, the claims are durable and the network may see them.
Result<void> EngineImpl::ClaimPhase(Batch& b) {
  std::lock_guard lock(mu_);
  if (!orphaned_.empty()) PAY_TRY(RecoverPayments());
  clock_->Set(b.commands.empty() ? 0 : b.commands.front().event_time_ms);
  PAY_TRY(Begin());
  // Authorizations past their validity release their holds before anything else runs.
  if (auto x = pull_->ExpireDue(kExpiriesPerBatch); !x) {
    b.Fail(x.error());
  } else if (*x > 0) {
    b.advices_queued = true;
  }
  if (auto p = PrefetchKeys(b); !p) b.Fail(p.error());
  for (size_t i = 0; i < b.commands.size() && !b.failed; ++i) {
    clock_->Set(b.commands[i].event_time_ms);
    b.out.push_back(Execute(b, i));
  }
  clock_->Set(0);
  Result<void> done = b.failed ? Result<void>(*b.failed) : velocity_->Flush(*store_, clock_->NowMs());
  if (!done) {
    RollbackAll();
    velocity_->Rollback();
    return done.error();
  }
  if (auto c = Commit(); !c) {
    velocity_->Rollback();
    return c.error();
  }
  velocity_->Commit();
  for (const Pending& p : b.pending) exchanging_.insert(p.exchange.payment_id);
  return {};
}

// The batch's idempotency records, read in one call before its commands run (one round trip on
// PostgreSQL instead of one per command). Commands whose key or scope is invalid are left out:
// they are refused before they look theirs up.
Result<void> EngineImpl::PrefetchKeys(const Batch& b) {
  if (!options_.guards_enabled || b.commands.size() < 2) return {};
  std::vector<store::IdemKeyRef> keys;
  keys.reserve(b.commands.size());
  for (const Command& c : b.commands) {
    if (!guards::ValidateIdempotencyKey(c.idempotency_key) || !guards::ValidateScope(c)) continue;
    keys.push_back({guards::ScopeOf(c), static_cast<int32_t>(handlers::HandlerFor(c.request).operation()),
                    c.idempotency_key});
  }
  return store_->Prefetch(keys);
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
    if (plan.error().code == ErrorCode::kVelocityLimited) return VelocityHit(b, event, plan.error());
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

// A velocity refusal: nothing executed, but the refusal is an event of the merchant's (written
// with the batch).
Error EngineImpl::VelocityHit(Batch& b, const guards::VelocityEvent& event, const Error& e) {
  EventView hit;
  hit.type = "velocity.hit";
  hit.merchant = event.merchant;
  hit.object = "velocity_rule";
  hit.object_id = e.rule;
  hit.amount_minor = event.amount_minor;
  hit.currency = event.currency;
  hit.response_code = e.response_code;
  hit.detail = e.message;
  if (auto written = book_->events().Emit(std::move(hit)); !written) b.Fail(written.error());
  return e;
}

Error EngineImpl::Passthrough(Batch& b, const Error& e) {
  return IsStoreFailure(e) ? b.Fail(e) : e;
}

// An online operation: its key is claimed in flight, in this transaction, naming the payment;
// the exchange runs after the commit and its answer completes the claim.
Result<Outcome> EngineImpl::Await(Batch& b, size_t index, const handlers::CommandContext& x,
                                  handlers::Step step) {
  const Command& c = b.commands[index];
  const handlers::Exchange& ex = *step.exchange;
  auto carried = payments::CheckCarried(ex.request);
  if (carried && ex.follow_up) carried = payments::CheckCarried(*ex.follow_up);
  if (!carried) return b.Fail(carried.error());  // the batch rolls back whole
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

}  // namespace pay::engine_internal

namespace pay {

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  if (options.partition_db_paths.size() > 1) return engine_internal::OpenPartitioned(options);
  auto e = std::make_unique<engine_internal::EngineImpl>();
  if (options.partition_db_paths.size() == 1) {  // one partition: a database like any other
    EngineOptions one = options;
    one.db_path = options.partition_db_paths.front();
    one.partition_db_paths.clear();
    if (!options.partition_card_networks.empty()) one.card_network = options.partition_card_networks.front();
    one.partition_card_networks.clear();
    PAY_TRY(e->Open(one));
    return std::unique_ptr<Engine>(std::move(e));
  }
  PAY_TRY(e->Open(options));
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace pay
