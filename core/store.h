#pragma once
// The narrow storage interface. Everything the engine persists goes through a Store; the SQLite
// store (sqlite_store.h) is the default, and a PostgreSQL store for several nodes will implement
// the same interface. Rows are plain data: the store does not interpret them beyond the columns
// it indexes, and it never decides anything about money.
//
// Threading: a Store object is used by one thread at a time. Writes happen inside
// BeginWrite()/Commit() (or Rollback()); reads may happen inside or outside a write transaction
// and see the transaction's own writes.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/limits.h"
#include "pay/result.h"

namespace pay::store {

struct AccountRow {
  int64_t num = 0;  // assigned by the store on insert; stable, never reused
  std::string id;
  std::string currency;
  int32_t type = 0;
  int32_t overdraft_mode = 0;
  int64_t overdraft_limit_minor = 0;
  std::string metadata;  // encoded key/value pairs (opaque to the store)
  int64_t created_at_ms = 0;
  int64_t debits_posted_minor = 0;
  int64_t credits_posted_minor = 0;
  int64_t debits_pending_minor = 0;
  int64_t credits_pending_minor = 0;
  int64_t last_seq = 0;  // newest entry that touched the account; 0 when none
};

struct EntryRow {
  int64_t seq = 0;  // assigned by the caller: last seq + 1, dense
  std::string ref;  // empty when the entry has no caller reference
  int32_t kind = 0;
  int64_t created_at_ms = 0;
  std::string description;
  int64_t reverses_seq = 0;
  int64_t resolves_seq = 0;
  int64_t expires_at_ms = 0;
  std::string legs;    // encoded postings (opaque to the store)
  std::string digest;  // SHA-256 of the request that created the entry
  std::string hash;    // audit chain: SHA-256(previous hash || canonical entry)
  // Not stored: the caller vouches that no entry holds `ref` (it derives refs from rows it
  // writes under the writer's lock). A store may then insert without looking first; the
  // unique index stays the backstop (a taken ref fails the write instead of being reported).
  bool ref_is_new = false;
};

// Mutable status of an entry that has a life after it is written (a hold, a reversed entry).
struct EntryStateRow {
  int64_t seq = 0;
  int32_t state = 0;
  int64_t expires_at_ms = 0;  // 0: never
  int64_t resolved_by_seq = 0;
};

// An idempotency record: one per (scope, operation, key). See rails/guards/idempotency.h.
struct IdempotencyRow {
  std::string scope;
  int32_t operation = 0;
  std::string key;
  std::string fingerprint;  // SHA-256 of the canonical request
  int32_t state = 0;        // 1: in flight (claimed, outcome not yet known), 2: complete
  int32_t status = 0;       // 0: succeeded; otherwise the ErrorCode number of the decline
  std::string message;      // the decline's message
  int64_t entry_seq = 0;    // the ledger entry the command wrote, 0 if none
  std::string body;         // the outcome, byte for byte as first answered
  int64_t created_at_ms = 0;
  int64_t expires_at_ms = 0;
};

// Persisted state of one velocity rule for one key (all its windows, encoded by the guard).
struct VelocityRow {
  std::string rule;
  std::string key;
  std::string state;
  int64_t updated_at_ms = 0;
};

// One committed transaction's velocity state changes, not yet folded into the velocity_state
// rows (the guard encodes the body; rails/guards/velocity.h). Appending one row per transaction
// writes a page or two at the table's end where a row per touched key rewrites a page per key.
struct VelocityLogRow {
  int64_t seq = 0;
  std::string body;
};

// A rail's record (a payment, a queued network advice, a counter): the store indexes the kind,
// id, owner (e.g. the merchant; empty: none), due time (0: none) and open time (work left open
// on the record since then, such as a network exchange; 0: none) and keeps the body opaque.
struct RecordRow {
  int32_t kind = 0;
  std::string id;
  std::string owner;
  int64_t due_ms = 0;
  std::string body;
  int64_t open_ms = 0;
};

// An idempotency record's key, as the Find calls take it.
struct IdemKeyRef {
  std::string scope;
  int32_t operation = 0;
  std::string key;
};

// The effects of one write transaction on the keyed tables, each row in its final form: a row
// written twice in the transaction appears once, a row written and deleted in it not at all
// (nullopt is a deletion of a row that existed before). Built by BufferedStore
// (core/buffered_store.h) and applied at commit in one pass: a SQLite store runs prepared
// statements in its transaction, a PostgreSQL store one pipelined round trip.
struct WriteSet {
  std::map<std::pair<int32_t, std::string>, std::optional<RecordRow>> records;
  std::map<std::tuple<std::string, int32_t, std::string>, std::optional<IdempotencyRow>> idempotency;
  std::map<std::pair<std::string, std::string>, VelocityRow> velocity;
  std::map<int64_t, EntryStateRow> entry_states;
  // Journal rows in seq order (inserted before the entry states, which name them). A row whose
  // ref is taken fails the Apply (kInternal): only rows with ref_is_new or no ref are buffered.
  std::vector<EntryRow> entries;

  bool empty() const {
    return records.empty() && idempotency.empty() && velocity.empty() && entry_states.empty() &&
           entries.empty();
  }
  size_t size() const {
    return records.size() + idempotency.size() + velocity.size() + entry_states.size() +
           entries.size();
  }
  void clear() {
    records.clear();
    idempotency.clear();
    velocity.clear();
    entry_states.clear();
    entries.clear();
  }
};

// What other writers changed since a connection's previous write transaction, so that caches
// drop only those rows (Store::others_changes). A PostgreSQL store reads it with BEGIN from the
// change log every writer appends to with its commit (core/store_changes.cc encodes it).
struct Changes {
  bool known = false;  // false: anything may have changed (drop every cache)
  std::set<std::pair<int32_t, std::string>> records;
  std::set<std::tuple<std::string, int32_t, std::string>> idempotency;
  std::set<int64_t> entry_states;
  std::set<int64_t> accounts;  // by num: new accounts and changed counters
  bool entries = false;        // the journal grew (its tip moved)
  bool velocity = false;       // velocity states or the velocity log changed
  bool everything = false;     // rows changed that no list names (a purge): drop every cache

  void Add(const Changes& other);
  void Clear() { *this = Changes{}; }
};
// The change log's row body, and back (merged into `into`; false when malformed).
std::string EncodeChanges(const Changes& c);
bool DecodeChanges(std::string_view body, Changes* into);

enum class Durability { kFull, kNormal };

struct StoreOptions {
  Durability durability = Durability::kFull;
  bool create_if_missing = false;
  // How long a writer waits for another connection's write lock before kStoreBusy.
  int64_t busy_timeout_ms = limits::kStoreBusyTimeoutMsDefault;
  // Pages of WAL that trigger an automatic checkpoint.
  int64_t wal_autocheckpoint_pages = limits::kWalAutocheckpointPagesDefault;
  // The connection's page cache (bounded; least recently used pages make room).
  int64_t page_cache_kib = limits::kPageCacheKibDefault;
  // Fault injection and quotas: the database may not grow past this many pages (0: no limit);
  // a write that needs more fails with kStoreIo, as on a full disk.
  int64_t max_pages = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Starts a write transaction (taking the write lock at once). Returns true when another
  // connection committed changes since this object's previous transaction, so that callers
  // drop their caches.
  virtual Result<bool> BeginWrite() = 0;
  virtual Result<void> Commit() = 0;
  virtual void Rollback() = 0;
  virtual bool in_write() const = 0;
  // After BeginWrite reported that another connection committed: what it changed, when the
  // store keeps a change log (known); the default knows nothing (drop every cache).
  virtual const Changes& others_changes() const;
  // A read transaction: every read until EndRead() sees one snapshot (used by verify, which
  // reads in pages). Not inside a write transaction.
  virtual Result<void> BeginRead() = 0;
  virtual void EndRead() = 0;
  // Replication (PostgreSQL's WAL positions), for reads on a replica with read-your-writes.
  // On a primary: where its WAL is now (every commit acknowledged so far is at or before it);
  // 0 where there is no such thing (SQLite). Outside transactions.
  virtual Result<uint64_t> WritePosition() { return uint64_t{0}; }
  // On a replica: whether it has replayed up to `position`, waiting up to `wait_ms` for it
  // (a store that is no replica has everything: true). Outside transactions.
  virtual Result<bool> CaughtUp(uint64_t position, int64_t wait_ms) {
    (void)position;
    (void)wait_ms;
    return true;
  }

  virtual Result<void> InsertAccount(AccountRow* row) = 0;  // kAccountExists if the id is taken
  virtual Result<std::optional<AccountRow>> FindAccount(std::string_view id) = 0;
  virtual Result<std::optional<AccountRow>> FindAccountByNum(int64_t num) = 0;
  virtual Result<void> UpdateAccountCounters(const AccountRow& row) = 0;
  // Accounts with id > after_id in id order, at most `limit`.
  virtual Result<std::vector<AccountRow>> ListAccounts(std::string_view after_id, size_t limit) = 0;

  // Returns false (and writes nothing) when a row with the same non-empty ref exists.
  virtual Result<bool> InsertEntry(const EntryRow& row) = 0;
  virtual Result<std::optional<EntryRow>> FindEntry(int64_t seq) = 0;
  virtual Result<std::optional<EntryRow>> FindEntryByRef(std::string_view ref) = 0;
  virtual Result<std::optional<EntryRow>> LastEntry() = 0;
  // Entries with seq > after_seq in seq order, at most `limit`.
  virtual Result<std::vector<EntryRow>> ScanEntries(int64_t after_seq, size_t limit) = 0;

  virtual Result<void> PutEntryState(const EntryStateRow& row) = 0;  // insert or replace
  virtual Result<std::optional<EntryStateRow>> FindEntryState(int64_t seq) = 0;
  // Rows with the given state and 0 < expires_at_ms <= now_ms, oldest expiry first.
  virtual Result<std::vector<EntryStateRow>> DueEntryStates(int32_t state, int64_t now_ms,
                                                            size_t limit) = 0;
  virtual Result<void> AppendVelocityLog(std::string_view body) = 0;
  virtual Result<std::vector<VelocityLogRow>> VelocityLog() = 0;  // every row, oldest first
  virtual Result<void> ClearVelocityLog() = 0;

  virtual Result<std::optional<IdempotencyRow>> FindIdempotency(std::string_view scope,
                                                                int32_t operation,
                                                                std::string_view key) = 0;
  // The records of `keys`, in order (nullopt: none): a batch's keys gathered into one call. The
  // default calls FindIdempotency per key; a store with a cost per call reads them at once.
  virtual Result<std::vector<std::optional<IdempotencyRow>>> FindIdempotencyMany(
      const std::vector<IdemKeyRef>& keys);
  virtual Result<void> PutIdempotency(const IdempotencyRow& row) = 0;  // insert or replace
  virtual Result<void> DeleteIdempotency(std::string_view scope, int32_t operation,
                                         std::string_view key) = 0;
  // Records left in flight (state 1), oldest first, at most `limit`.
  virtual Result<std::vector<IdempotencyRow>> InFlightIdempotency(size_t limit) = 0;
  // Deletes up to `limit` complete records whose expires_at_ms <= now_ms; returns how many.
  virtual Result<size_t> PurgeIdempotency(int64_t now_ms, size_t limit) = 0;

  virtual Result<std::optional<VelocityRow>> FindVelocity(std::string_view rule,
                                                          std::string_view key) = 0;
  virtual Result<void> PutVelocity(const VelocityRow& row) = 0;  // insert or replace
  // Rows of `rule` (all rules if empty) with key >= from_key in key order, at most `limit`.
  virtual Result<std::vector<VelocityRow>> ListVelocity(std::string_view rule,
                                                        std::string_view from_key,
                                                        size_t limit) = 0;

  // Insert or replace. A record's owner is fixed when it is created: replacing it under another
  // owner is refused (kInternal) and writes nothing.
  virtual Result<void> PutRecord(const RecordRow& row) = 0;
  virtual Result<std::optional<RecordRow>> FindRecord(int32_t kind, std::string_view id) = 0;
  virtual Result<void> DeleteRecord(int32_t kind, std::string_view id) = 0;
  // Records of `kind` (of `owner` only, when not empty) with id > after_id in id order.
  virtual Result<std::vector<RecordRow>> ListRecords(int32_t kind, std::string_view owner,
                                                     std::string_view after_id, size_t limit) = 0;
  // Records of `kind` with 0 < due_ms <= now_ms, earliest first.
  virtual Result<std::vector<RecordRow>> DueRecords(int32_t kind, int64_t now_ms,
                                                    size_t limit) = 0;
  // Records of `kind` with open_ms > 0 and id > after_id, in id order.
  virtual Result<std::vector<RecordRow>> OpenRecords(int32_t kind, std::string_view after_id,
                                                     size_t limit) = 0;

  // Applies a write set inside the open write transaction. The default runs the row
  // statements above one by one; a store with a cheaper batch path overrides it.
  virtual Result<void> Apply(const WriteSet& set);
  // Inside a write transaction: the idempotency records a batch is about to look up, so that a
  // store with a cost per call reads them in one go and its FindIdempotency calls that follow
  // cost nothing. The default does nothing (its reads are local calls).
  virtual Result<void> Prefetch(const std::vector<IdemKeyRef>& keys) {
    (void)keys;
    return {};
  }
};

// Opens (or with create_if_missing, creates) the SQLite database at `path`, applying the schema
// migrations. WAL journal; synchronous=FULL unless options say NORMAL.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, const StoreOptions& options);

// Opens the PostgreSQL database named by a libpq connection string (`postgresql://...` or
// `host=... dbname=...`), with create_if_missing creating the schema in an empty database
// (core/pg_store.cc). Writers take a transaction-scoped advisory lock: one at a time per
// database. No page quota (max_pages is refused).
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo, const StoreOptions& options);
// Whether `where` (a --db value) names a PostgreSQL database rather than a SQLite file.
bool IsPostgresUrl(std::string_view where);
// The store `where` names: a PostgreSQL connection string or a SQLite file.
Result<std::unique_ptr<Store>> OpenStore(const std::string& where, const StoreOptions& options);

}  // namespace pay::store
