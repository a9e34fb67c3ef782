#pragma once
// The double-entry ledger: every movement of funds in the engine is an entry here.
//
// Contract:
// - Entries are immutable and balanced per currency; accounts carry four counters (debits and
//   credits, posted and pending) that always equal the sum of their postings.
// - A failed operation writes nothing: every check runs in memory before the first row is
//   written. (One exception is documented on PostPending/VoidPending: resolving a hold that is
//   past its expiry records the expiry, then reports kHoldExpired.)
// - An entry reference is the ledger-level idempotency key: the same reference with the same
//   content returns the stored entry (replayed = true); with other content, kReferenceReused.
// - Writes happen in transactions. Begin()/Commit() groups many operations into one durable
//   commit (group commit); an operation called outside Begin() runs in a transaction of its own.
//   An operation that fails inside a transaction leaves the transaction usable; a store failure
//   (codes 3xxx/9xxx) poisons it, and Commit() then rolls back and reports the error.
//
// Threading: a Ledger is used by one thread at a time (the engine serialises writers). Several
// processes may open the same SQLite file; each write transaction notices the others' commits.

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/store.h"
#include "core/limits.h"
#include "pay/types.h"
#include "pay/clock.h"

namespace pay::ledger {

// At most kMetadataPairsMax pairs, keys of 1-64 printable ASCII characters given once, values
// of at most kMetadataValueBytesMax bytes (accounts, payments); an error naming the key.
Result<void> ValidateMetadata(const Metadata& metadata);

class Ledger {
 public:
  // `store` and `clock` must outlive the ledger. The account cache holds at most
  // `cached_accounts_max` accounts (dropped whole when it reaches that, between transactions).
  Ledger(store::Store& store, const Clock& clock,
         size_t cached_accounts_max = limits::kAccountCacheEntriesMax);
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Transactions. Begin() also releases holds whose expiry has passed (a bounded number per
  // transaction; ExpireDue() sweeps the rest).
  Result<void> Begin();
  Result<void> Commit();
  void Rollback();
  bool in_transaction() const { return in_txn_; }
  // Whether another connection committed between this ledger's previous transaction and the one
  // Begin() opened last (so that other caches built on the store are dropped too).
  bool other_writer_committed() const { return other_writer_committed_; }

  // The checks of CreateAccount and CreateEntry that need no database: shape, bounds, ids,
  // currencies, expiry (by the clock). The engine runs them before it claims a key.
  Result<void> Validate(const AccountSpec& spec) const;
  // ref_required = false: an empty ref passes (the caller fills it in before CreateEntry).
  Result<void> Validate(const EntrySpec& spec, bool ref_required = true) const;

  // Creates an account. The same id with the same attributes returns the existing account
  // (replayed = true); with other attributes, kAccountExists naming the first differing field.
  Result<Account> CreateAccount(const AccountSpec& spec);

  // Creates a posted entry, or a pending one (a hold) when spec.pending.
  Result<Entry> CreateEntry(const EntrySpec& spec);
  // Many entries in one transaction; each gets its own result, and a bad entry does not stop the
  // others. If the commit itself fails, every result is that error and nothing was written.
  std::vector<Result<Entry>> CreateEntries(std::span<const EntrySpec> specs);

  // Posts a hold: in full (amount empty), or in part for a hold of one debit and one credit; the
  // rest is released. `ref` is optional; with it the call is idempotent like CreateEntry.
  Result<Entry> PostPending(int64_t seq, std::optional<int64_t> amount_minor = std::nullopt,
                            std::string_view ref = {});
  // Releases a hold.
  Result<Entry> VoidPending(int64_t seq, std::string_view ref = {});
  // Records a compensating entry (sides swapped) for a posted entry, at most once.
  Result<Entry> Reverse(int64_t seq, std::string_view ref, std::string_view description = {});
  // Releases every hold whose expiry is at or before the clock, up to `max_holds`. Returns the
  // number released.
  Result<size_t> ExpireDue(size_t max_holds);

  Result<Account> GetAccount(std::string_view id);
  Result<Account> GetAccountAsOf(std::string_view id, AsOf as_of);
  Result<std::vector<Account>> ListAccounts(std::string_view after_id, size_t limit);
  Result<Entry> GetEntry(int64_t seq);
  Result<std::optional<Entry>> FindEntryByRef(std::string_view ref);
  // The entry recorded under `ref`, if any, and whether `spec` with that ref is the very request
  // that created it (same digest). Inside a transaction it sees the transaction's writes.
  struct RefLookup {
    std::optional<Entry> entry;
    bool same_request = false;
  };
  Result<RefLookup> LookupRef(const EntrySpec& spec, std::string_view ref);
  // The newest `limit` entries touching the account, oldest first, with running balances.
  Result<std::vector<StatementLine>> History(std::string_view id, size_t limit);

  // Recomputes every balance from the journal and checks conservation per currency (posted and
  // pending), overdraft limits, hold states and the hash chain. Reports every mismatch found.
  Result<VerifyReport> Verify();

  // Refs starting with `prefix` belong to a caller that derives each from rows it writes under
  // the writer's lock (the card rails: "pay/<payment id>/<step>"), so none can be taken: the
  // store may write such an entry without looking the ref up first (EntryRow::ref_is_new).
  // Requests that name refs themselves must be refused that prefix (handlers do).
  void SetOwnedRefPrefix(std::string prefix) { owned_ref_prefix_ = std::move(prefix); }
  // Entries are numbered from base + 1 (a partition's: core/limits.h); verify expects that.
  // Call before the first transaction.
  void SetSeqBase(int64_t base) { seq_base_ = base; }

 private:
  // An account as cached for the open transaction: its row (attributes and counters), its
  // currency, and whether the counters changed since the last commit.
  struct Cached {
    store::AccountRow row;
    const Currency* currency = nullptr;
    bool dirty = false;
  };
  struct Draft;
  struct Scratch;

  template <typename Fn>
  auto Write(Fn&& fn) -> decltype(fn());
  Result<void> LoadTip();
  void ForgetOthersChanges(const store::Changes& changes);
  Result<Cached*> Load(std::string_view id);
  Result<std::optional<Entry>> Append(Draft draft);
  Result<void> ResolveLegs(std::vector<Leg>& legs);
  Result<void> CheckBalanced() const;
  Result<void> NextCounters(const std::vector<Leg>& legs);
  void ApplyToCache(int64_t seq);
  Result<Entry> Replay(std::string_view ref, std::string_view digest, const Error* cause);
  Result<Entry> Resolve(int64_t seq, EntryKind kind, std::optional<int64_t> amount_minor,
                        std::string_view ref);
  Result<Entry> ToEntry(const store::EntryRow& row);
  Result<Account> ToAccount(const store::AccountRow& row);
  Result<size_t> ExpireDueLocked(size_t max_holds);
  Result<VerifyReport> VerifySnapshot();
  static std::string RequestDigest(const EntrySpec& spec, std::string_view ref);
  void Poison(const Error& e);
  bool IsStoreError(const Error& e) const;

  store::Store& store_;
  size_t cached_accounts_max_;
  std::string owned_ref_prefix_;
  int64_t seq_base_ = 0;
  const Clock& clock_;
  bool in_txn_ = false;
  bool other_writer_committed_ = false;
  bool poisoned_ = false;
  bool tip_loaded_ = false;
  size_t swept_at_begin_ = 0;  // holds the last Begin() released
  int64_t tip_seq_ = 0;
  int64_t tip_created_at_ms_ = 0;
  std::string tip_hash_;
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Values inline: one cache miss less per lookup; unordered_map never moves its nodes, so the
  // Cached* handed out stay valid until the cache is cleared.
  std::unordered_map<std::string, Cached, IdHash, std::equal_to<>> cache_;
  std::vector<Cached*> dirty_;
  std::unique_ptr<Scratch> scratch_;
  // Per-currency net of (debits - credits) of each phase written in this transaction; must be
  // zero at commit (conservation, asserted).
  // (Few currencies per transaction: a vector searched linearly; codes point into the static
  // ISO 4217 table.)
  std::vector<std::pair<std::string_view, std::array<int64_t, 3>>> txn_net_;
};

}  // namespace pay::ledger
