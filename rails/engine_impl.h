#pragma once
// The engine's implementation, shared by its translation units: engine.cc (opening, the batch
// and its pipeline), engine_network.cc (the network phases, advices, recovery) and
// engine_reads.cc (reads and sweeps). Nothing outside rails/engine*.cc includes this.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/store.h"
#include "ledger/ledger.h"
#include "pay/engine.h"
#include "rails/guards/idempotency.h"
#include "rails/guards/velocity.h"
#include "rails/handlers/handler.h"
#include "rails/payments/book.h"
#include "rails/pull/pull_rail.h"
#include "rails/push/push_rail.h"

namespace pay::engine_internal {

// A clock that reads the event time of the command being executed when it has one (replay).
// Set under the writer's lock; atomic because the read connection's books read it too.
class EventClock final : public Clock {
 public:
  explicit EventClock(const Clock& base) : base_(base) {}
  int64_t NowMs() const override {
    const int64_t event = event_ms_.load(std::memory_order_relaxed);
    return event != 0 ? event : base_.NowMs();
  }
  void Set(int64_t event_ms) { event_ms_.store(event_ms, std::memory_order_relaxed); }

 private:
  const Clock& base_;
  std::atomic<int64_t> event_ms_{0};
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

// The engine over several partitions (EngineOptions::partition_db_paths; partitioned_engine.cc).
Result<std::unique_ptr<Engine>> OpenPartitioned(const EngineOptions& options);

class EngineImpl final : public Engine {
 public:
  Result<void> Open(const EngineOptions& o);
  ~EngineImpl() override;

  Result<Outcome> Submit(const Command& command) override {
    std::span<const Command> one(&command, 1);
    auto results = SubmitBatch(one);
    return std::move(results.front());
  }

  std::vector<Result<Outcome>> SubmitBatch(std::span<const Command> commands) override;

  Result<ledger::Account> GetAccount(std::string_view id) override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.GetAccount(id); });
  }
  Result<ledger::Account> GetAccountAsOf(std::string_view id, ledger::AsOf as_of) override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.GetAccountAsOf(id, as_of); });
  }
  Result<std::vector<ledger::Account>> ListAccounts(std::string_view after, size_t limit) override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.ListAccounts(after, limit); });
  }
  Result<ledger::Entry> GetEntry(int64_t id) override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.GetEntry(id); });
  }
  Result<std::vector<ledger::StatementLine>> History(std::string_view id, size_t limit) override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.History(id, limit); });
  }
  // Verify takes its own snapshot (a read transaction) on whichever connection it runs.
  Result<ledger::VerifyReport> Verify() override {
    return WithLedgerReads([&](ledger::Ledger& l) { return l.Verify(); }, /*snapshot=*/false);
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
  Recovery recovery() const override {
    std::lock_guard lock(mu_);
    return recovery_;
  }

  Result<size_t> PurgeIdempotencyKeys() override;
  Result<PaymentView> GetPayment(std::string_view payment_id) override;
  Result<Page<PaymentView>> ListPayments(std::string_view merchant, std::string_view after_id,
                                         size_t limit) override;
  Result<Page<Merchant>> ListMerchants(std::string_view after_id, size_t limit) override;
  Result<Merchant> GetMerchant(std::string_view id) override;
  Result<std::optional<std::string>> PaymentIdForKey(std::string_view merchant,
                                                     std::string_view key) override;
  Result<size_t> ExpirePayments(size_t max) override;
  Result<Page<EventView>> ListEvents(std::string_view merchant, std::string_view after_id,
                                     const EventFilter& filter, size_t limit) override;
  Result<size_t> PurgeEvents() override;
  Result<SettleReport> Settle() override;
  ReadRouting read_routing() const override {
    return {reads_on_replica_.load(), reads_on_primary_.load()};
  }
  Result<size_t> ResolvePending() override {
    {
      std::lock_guard lock(mu_);
      PAY_TRY(RecoverPayments());
    }
    return DeliverAdvices(nullptr);
  }

 private:
  Result<Outcome> Execute(Batch& b, size_t index);
  Result<void> PrefetchKeys(const Batch& b);
  Result<Outcome> CheckGuards(Batch& b, size_t index, const handlers::Handler& h,
                              const handlers::CommandContext& x);
  Result<Outcome> Run(Batch& b, size_t index, const handlers::Handler& h,
                      const handlers::CommandContext& x);
  Result<Outcome> Await(Batch& b, size_t index, const handlers::CommandContext& x,
                        handlers::Step step);
  // A failure of the store fails the batch; any other error is the command's alone.
  Error Passthrough(Batch& b, const Error& e);
  Error VelocityHit(Batch& b, const guards::VelocityEvent& event, const Error& e);

  Result<void> ClaimPhase(Batch& b);
  void ExchangePending(Batch& b);
  std::vector<Result<CardResponse>> Exchange(std::span<const CardRequest> requests);
  bool CompleteRound(Batch& b, std::vector<Pending>& round,
                     const std::vector<Result<CardResponse>>& responses,
                     std::vector<Pending>* next);
  Result<payments::Payment> CompleteExchange(bool push, const std::string& payment_id,
                                             const std::string& stan,
                                             const Result<CardResponse>& response,
                                             bool* follow_up);
  // Takes the writer's lock itself: never called with it held.
  Result<size_t> DeliverAdvices(Batch* b);
  // The background deliverer (EngineOptions::background_advices): woken after each batch that
  // queued advices, and every advice_retry_ms.
  void Wake();
  void DeliverInBackground();
  Result<void> AcknowledgeAdvice(Batch* b, const payments::Advice& advice,
                                 const CardResponse& response);
  Result<void> TakePlace();
  Result<void> RecoverInFlight();
  Result<void> RecoverPayments();

  // Every write transaction of the engine begins and ends here.
  Result<void> Begin() {
    PAY_TRY(ledger_->Begin());
    book_->BeginTransaction();
    // The velocity state is read again when another writer may have moved it.
    const store::Changes& others = store_->others_changes();
    const bool velocity_moved =
        ledger_->other_writer_committed() && (!others.known || others.velocity);
    if (auto v = velocity_->Begin(*store_, velocity_moved); !v) {
      RollbackAll();
      return v.error();
    }
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

  // Runs a read of the books on the read connection when there is one (in one snapshot, unless
  // the read takes its own), else under the writer's lock. The read ledger is never written
  // through and reads its store directly (its account cache serves transactions only).
  template <class F>
  auto WithLedgerReads(F&& read, bool snapshot = true)
      -> decltype(read(std::declval<ledger::Ledger&>())) {
    if (read_ledger_ != nullptr) {
      std::lock_guard lock(read_mu_);
      const bool replica = OnReplica();
      store::Store& s = replica ? *replica_store_ : *read_store_;
      ledger::Ledger& l = replica ? *replica_ledger_ : *read_ledger_;
      if (!snapshot) return read(l);
      PAY_TRY(s.BeginRead());
      auto r = read(l);
      s.EndRead();
      return r;
    }
    std::lock_guard lock(mu_);
    return read(*ledger_);
  }
  // Runs a payment read on the read connection when there is one, else under the writer's lock.
  template <class F>
  auto WithPaymentReads(F&& read) -> decltype(read(std::declval<payments::Book&>())) {
    if (read_book_ != nullptr) {
      std::lock_guard lock(read_mu_);
      return read(OnReplica() ? *replica_book_ : *read_book_);
    }
    std::lock_guard lock(mu_);
    return read(*book_);
  }

  // Whether a read may run on the replica now (under read_mu_): it has replayed up to the
  // primary's WAL position of this moment within replica_wait_ms. Counted either way.
  bool OnReplica() {
    if (replica_store_ == nullptr) return false;
    auto position = read_store_->WritePosition();
    auto caught_up = position ? replica_store_->CaughtUp(*position, options_.replica_wait_ms)
                              : Result<bool>(false);
    const bool replica = caught_up && *caught_up;
    ++(replica ? reads_on_replica_ : reads_on_primary_);
    return replica;
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
  // Locks, taken in this order (a thread holding one never waits for an earlier one):
  // advice_mu_ (one advice deliverer), mu_ (the writer: every write transaction), net_mu_ (the
  // card network, one exchange at a time). No network exchange runs under mu_.
  std::mutex advice_mu_;
  mutable std::mutex mu_;
  std::mutex net_mu_;
  // The background deliverer and what wakes it (wake_mu_ is taken alone).
  std::thread deliverer_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool wake_pending_ = false;
  bool stopping_ = false;
  // Payments whose exchange a batch of this process has on the network (under mu_).
  std::unordered_set<std::string> exchanging_;
  // Reads of the books, payments and merchants: on a connection of their own when there is one
  // (EngineOptions::read_store, or opened with SQLite), else on the writer's, under mu_.
  std::shared_ptr<store::Store> read_store_;
  std::unique_ptr<ledger::Ledger> read_ledger_;
  std::unique_ptr<payments::Book> read_book_;
  // EngineOptions::replica_db_path: the same readers on the replica.
  std::shared_ptr<store::Store> replica_store_;
  std::unique_ptr<ledger::Ledger> replica_ledger_;
  std::unique_ptr<payments::Book> replica_book_;
  std::atomic<uint64_t> reads_on_replica_{0}, reads_on_primary_{0};
  std::mutex read_mu_;
  Recovery recovery_;
  // Payments whose second phase failed in this process: RecoverPayments gives them up at once
  // (under mu_). Another node's open exchanges wait for the grace.
  std::unordered_set<std::string> orphaned_;
};

// The key an online payment's claim names.
inline guards::KeyRef KeyOf(const payments::Claim& claim) {
  return {claim.scope, static_cast<Operation>(claim.operation), claim.key};
}

}  // namespace pay::engine_internal
