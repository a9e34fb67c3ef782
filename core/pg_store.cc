// The PostgreSQL store: the Store interface over libpq, one statement per call (prepared,
// binary in and out). A write transaction takes a transaction-scoped advisory lock first, so
// writers on one database run one at a time as they do on SQLite: the ledger's dense entry
// sequence and audit chain stay exact with several nodes. A commit counter in `meta` tells a
// writer that another connection committed since its last transaction (BeginWrite's answer).

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/pg_connection.h"
#include "core/pg_schema.h"
#include "core/pg_write_set.h"
#include "core/store.h"

namespace pay::store {

namespace {

using pg::Params;
using pg::Rows;

constexpr const char* kUniqueViolation = "23505";

AccountRow ReadAccount(const Rows& r, int i) {
  AccountRow a;
  a.num = r.Int(i, 0);
  a.id = r.Text(i, 1);
  a.currency = r.Text(i, 2);
  a.type = static_cast<int32_t>(r.Int(i, 3));
  a.overdraft_mode = static_cast<int32_t>(r.Int(i, 4));
  a.overdraft_limit_minor = r.Int(i, 5);
  a.metadata = r.Text(i, 6);
  a.created_at_ms = r.Int(i, 7);
  a.debits_posted_minor = r.Int(i, 8);
  a.credits_posted_minor = r.Int(i, 9);
  a.debits_pending_minor = r.Int(i, 10);
  a.credits_pending_minor = r.Int(i, 11);
  a.last_seq = r.Int(i, 12);
  return a;
}

EntryRow ReadEntry(const Rows& r, int i) {
  EntryRow e;
  e.seq = r.Int(i, 0);
  e.ref = r.Null(i, 1) ? std::string() : r.Text(i, 1);
  e.kind = static_cast<int32_t>(r.Int(i, 2));
  e.created_at_ms = r.Int(i, 3);
  e.description = r.Text(i, 4);
  e.reverses_seq = r.Int(i, 5);
  e.resolves_seq = r.Int(i, 6);
  e.expires_at_ms = r.Int(i, 7);
  e.legs = r.Text(i, 8);
  e.digest = r.Text(i, 9);
  e.hash = r.Text(i, 10);
  return e;
}

EntryStateRow ReadState(const Rows& r, int i) {
  return {r.Int(i, 0), static_cast<int32_t>(r.Int(i, 1)), r.Int(i, 2), r.Int(i, 3)};
}

IdempotencyRow ReadIdempotency(const Rows& r, int i) {
  IdempotencyRow k;
  k.scope = r.Text(i, 0);
  k.operation = static_cast<int32_t>(r.Int(i, 1));
  k.key = r.Text(i, 2);
  k.fingerprint = r.Text(i, 3);
  k.state = static_cast<int32_t>(r.Int(i, 4));
  k.status = static_cast<int32_t>(r.Int(i, 5));
  k.message = r.Text(i, 6);
  k.entry_seq = r.Int(i, 7);
  k.body = r.Text(i, 8);
  k.created_at_ms = r.Int(i, 9);
  k.expires_at_ms = r.Int(i, 10);
  return k;
}

VelocityRow ReadVelocity(const Rows& r, int i) {
  return {r.Text(i, 0), r.Text(i, 1), r.Text(i, 2), r.Int(i, 3)};
}

RecordRow ReadRecord(const Rows& r, int i) {
  RecordRow x;
  x.kind = static_cast<int32_t>(r.Int(i, 0));
  x.id = r.Text(i, 1);
  x.owner = r.Text(i, 2);
  x.due_ms = r.Int(i, 3);
  x.body = r.Text(i, 4);
  x.open_ms = r.Int(i, 5);
  return x;
}

template <typename Row, typename ReadFn>
std::vector<Row> All(const Rows& r, ReadFn read) {
  std::vector<Row> out;
  out.reserve(static_cast<size_t>(r.count()));
  for (int i = 0; i < r.count(); ++i) out.push_back(read(r, i));
  return out;
}

template <typename Row, typename ReadFn>
std::optional<Row> First(const Rows& r, ReadFn read) {
  if (r.count() == 0) return std::nullopt;
  return read(r, 0);
}

class PgStore final : public Store {
 public:
  explicit PgStore(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  Result<void> Init(const StoreOptions& o) {
    if (o.max_pages > 0) {
      return MakeError(ErrorCode::kInvalidArgument, "max_db_pages: a SQLite quota; PostgreSQL has none");
    }
    options_ = o;
    PAY_TRY(Session());
    PAY_TRY(Migrate(o.create_if_missing));
    for (const pg::Statement& s : pg::kStatements) PAY_TRY(c_->Prepare(s.name, s.sql));
    return {};
  }

  // A lost connection (the server restarted, a replica went away and came back) is opened
  // again before the next transaction or position query; what was cached about other writers'
  // commits is then unknown.
  Result<void> Revive() {
    if (!c_->broken()) return {};
    PAY_TRY(c_->Reset());
    PAY_TRY(Session());
    for (const pg::Statement& s : pg::kStatements) PAY_TRY(c_->Prepare(s.name, s.sql));
    commits_seen_ = -1;
    return {};
  }

  // The connection for a statement: outside transactions a lost one is opened again first (a
  // failed attempt leaves it lost, and the statement then fails with its own error); inside
  // one never, since the transaction's earlier statements went with it.
  pg::Connection* C() {
    if (!in_write_ && !in_read_) (void)Revive();
    return c_.get();
  }

  Result<void> Session() {
    const StoreOptions& o = options_;
    return c_->Exec("SET lock_timeout = " + std::to_string(std::max<int64_t>(1, o.busy_timeout_ms)) +
                         "; SET synchronous_commit = " +
                         (o.durability == Durability::kFull ? "on" : "off"),
                     "session settings");
  }

  // One round trip: begin, take the writers' lock, read the commit counter.
  Result<bool> BeginWrite() override {
    if (in_write_ || in_read_) return MakeError(ErrorCode::kInternal, "store: a transaction is open");
    PAY_TRY(Revive());
    in_write_ = true;
    auto commits = c_->ExecText(std::string("BEGIN; SELECT pg_advisory_xact_lock(") + pg::kWritersLock +
                                    "); SELECT value FROM meta WHERE key = 'commits'",
                                "begin");
    if (!commits) {
      Rollback();
      return commits.error();
    }
    const int64_t now = std::strtoll(commits->c_str(), nullptr, 10);
    const bool changed = now != commits_seen_;
    mine_.Clear();
    others_.Clear();
    if (changed) {
      if (auto read = ReadChanges(commits_seen_, now); !read) {
        Rollback();
        return read.error();
      }
    }
    commits_seen_ = now;
    return changed;
  }
  const Changes& others_changes() const override { return others_; }

  // One round trip: count the commit and commit. Under the writers' lock nobody else counts, so
  // the counter is now the value read at BeginWrite plus one (our own commit, not another's).
  Result<void> Commit() override {
    if (!in_write_) return MakeError(ErrorCode::kInternal, "store: no write transaction");
    auto done = c_->Exec(CommitSql(), "commit");
    if (!done) {
      Rollback();
      return done.error();
    }
    ++commits_seen_;
    in_write_ = false;
    return {};
  }

  void Rollback() override {
    (void)c_->Exec("ROLLBACK", "rollback");
    in_write_ = false;
  }
  bool in_write() const override { return in_write_; }

  Result<uint64_t> WritePosition() override {
    PAY_TRY(Revive());
    PAY_ASSIGN_OR_RETURN(std::string lsn, c_->ExecText("SELECT pg_current_wal_lsn()::text", "WAL position"));
    return ParseLsn(lsn);
  }
  // Polls the replay position every millisecond until it passes `position` or the wait is over.
  Result<bool> CaughtUp(uint64_t position, int64_t wait_ms) override {
    PAY_TRY(Revive());
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    for (;;) {
      PAY_ASSIGN_OR_RETURN(
          std::string lsn,
          c_->ExecText("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text "
                       "ELSE '' END",
                       "replay position"));
      if (lsn.empty()) return true;  // not (or no longer) a standby: it has every commit
      if (ParseLsn(lsn) >= position) return true;
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // "16/B374D848": the high and low 32 bits in hex.
  static uint64_t ParseLsn(const std::string& text) {
    const size_t slash = text.find('/');
    if (slash == std::string::npos) return 0;
    const uint64_t hi = std::strtoull(text.substr(0, slash).c_str(), nullptr, 16);
    const uint64_t lo = std::strtoull(text.c_str() + slash + 1, nullptr, 16);
    return (hi << 32) | lo;
  }

  Result<void> BeginRead() override {
    if (in_write_ || in_read_) return MakeError(ErrorCode::kInternal, "store: a transaction is open");
    PAY_TRY(Revive());
    // The snapshot is taken by the transaction's first statement: take it now.
    PAY_TRY(c_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1", "begin read"));
    in_read_ = true;
    return {};
  }
  void EndRead() override {
    if (in_read_) (void)c_->Exec("COMMIT", "end read");
    in_read_ = false;
  }

  // A transaction's keyed rows in pipelined round trips (store::BufferedStore collects them),
  // one statement of arrays per table (core/pg_write_set.h).
  Result<void> Apply(const WriteSet& set) override {
    Track(set);
    const pg::WriteSetStatements st = pg::StatementsFor(set);
    auto done = c_->RunPipelined(st.statements, [&](size_t i, const Rows& rows) -> Result<void> {
      const int64_t expect = st.rows[i];
      if (expect < 0 || rows.affected() == expect) return {};
      const std::string_view name = st.statements[i].name;
      if (name == "put_records") {
        return MakeError(ErrorCode::kInternal, "store: a record exists with another owner (owners never change)");
      }
      return MakeError(ErrorCode::kInternal, "store: " + std::string(name) + " wrote " +
                                                 std::to_string(rows.affected()) + " of " +
                                                 std::to_string(expect) + " rows");
    });
    if (!done && !set.entries.empty() &&
        std::string_view(done.error().message).find("insert_entries") != std::string_view::npos) {
      return TakenRef(set.entries, done.error());
    }
    return done;
  }

 private:
  void Track(const WriteSet& set) {
    for (const auto& [key, row] : set.records) mine_.records.insert(key);
    for (const auto& [key, row] : set.idempotency) mine_.idempotency.insert(key);
    for (const auto& [seq, row] : set.entry_states) mine_.entry_states.insert(seq);
    if (!set.velocity.empty()) mine_.velocity = true;
    if (!set.entries.empty()) mine_.entries = true;
  }

  // A write set's entries were not all inserted: the refs another entry holds, named (this
  // costs round trips, on the failure path only; the transaction is failed anyway).
  Result<void> TakenRef(const std::vector<EntryRow>& entries, const Error& e) {
    for (const EntryRow& row : entries) {
      if (row.ref.empty()) continue;
      auto found = FindEntryByRef(row.ref);
      if (found && *found && (**found).seq != row.seq) {
        return MakeError(ErrorCode::kInternal, "store: entry ref '" + row.ref + "' is taken");
      }
    }
    return e;
  }

 public:
  // ---- accounts ----

  Result<void> InsertAccount(AccountRow* row) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("insert_account",
                                         Params()
                                             .Text(row->id)
                                             .Text(row->currency)
                                             .Int(row->type)
                                             .Int(row->overdraft_mode)
                                             .Int(row->overdraft_limit_minor)
                                             .Text(row->metadata)
                                             .Int(row->created_at_ms),
                                         "insert account"));
    if (r.count() == 0) return MakeError(ErrorCode::kAccountExists, "id: account '" + row->id + "' exists");
    row->num = r.Int(0, 0);
    mine_.accounts.insert(row->num);
    PAY_TRY(C()->Run("insert_balance",
                    Params().Int(row->num).Int(row->debits_posted_minor).Int(row->credits_posted_minor)
                        .Int(row->debits_pending_minor).Int(row->credits_pending_minor).Int(row->last_seq),
                    "insert balance"));
    return {};
  }
  Result<std::optional<AccountRow>> FindAccount(std::string_view id) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_account", Params().Text(id), "find account"));
    return First<AccountRow>(r, ReadAccount);
  }
  Result<std::optional<AccountRow>> FindAccountByNum(int64_t num) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_account_num", Params().Int(num), "find account"));
    return First<AccountRow>(r, ReadAccount);
  }
  Result<void> UpdateAccountCounters(const AccountRow& a) override {
    mine_.accounts.insert(a.num);
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("update_account",
                                         Params().Int(a.debits_posted_minor).Int(a.credits_posted_minor)
                                             .Int(a.debits_pending_minor).Int(a.credits_pending_minor)
                                             .Int(a.last_seq).Int(a.num),
                                         "update account"));
    if (r.affected() != 1) {
      return MakeError(ErrorCode::kCorruptStore, "store: account #" + std::to_string(a.num) + " vanished");
    }
    return {};
  }
  Result<std::vector<AccountRow>> ListAccounts(std::string_view after_id, size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("list_accounts", Params().Text(after_id).Int(Limit(limit)), "list accounts"));
    return All<AccountRow>(r, ReadAccount);
  }

  // ---- entries ----

  static Params EntryParams(const EntryRow& e) {
    Params p;
    p.Int(e.seq);
    if (e.ref.empty()) {
      p.Null();
    } else {
      p.Text(e.ref);
    }
    p.Int(e.kind).Int(e.created_at_ms).Text(e.description).Int(e.reverses_seq).Int(e.resolves_seq)
        .Int(e.expires_at_ms).Text(e.legs).Text(e.digest).Text(e.hash);
    return p;
  }
  Result<bool> InsertEntry(const EntryRow& e) override {
    mine_.entries = true;
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("insert_entry", EntryParams(e), "insert entry"));
    return r.affected() == 1;
  }
  Result<std::optional<EntryRow>> FindEntry(int64_t seq) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_entry", Params().Int(seq), "find entry"));
    return First<EntryRow>(r, ReadEntry);
  }
  Result<std::optional<EntryRow>> FindEntryByRef(std::string_view ref) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_entry_ref", Params().Text(ref), "find entry"));
    return First<EntryRow>(r, ReadEntry);
  }
  Result<std::optional<EntryRow>> LastEntry() override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("last_entry", Params(), "last entry"));
    return First<EntryRow>(r, ReadEntry);
  }
  Result<std::vector<EntryRow>> ScanEntries(int64_t after_seq, size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("scan_entries", Params().Int(after_seq).Int(Limit(limit)), "scan entries"));
    return All<EntryRow>(r, ReadEntry);
  }

  Result<void> PutEntryState(const EntryStateRow& s) override {
    mine_.entry_states.insert(s.seq);
    return Void(C()->Run("put_state", Params().Int(s.seq).Int(s.state).Int(s.expires_at_ms).Int(s.resolved_by_seq),
                        "put entry state"));
  }
  Result<std::optional<EntryStateRow>> FindEntryState(int64_t seq) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_state", Params().Int(seq), "find entry state"));
    return First<EntryStateRow>(r, ReadState);
  }
  Result<std::vector<EntryStateRow>> DueEntryStates(int32_t state, int64_t now_ms, size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("due_states", Params().Int(state).Int(now_ms).Int(Limit(limit)), "due entry states"));
    return All<EntryStateRow>(r, ReadState);
  }

  // ---- velocity ----

  Result<void> AppendVelocityLog(std::string_view body) override {
    mine_.velocity = true;
    return Void(C()->Run("append_velocity_log", Params().Text(body), "append velocity log"));
  }
  Result<std::vector<VelocityLogRow>> VelocityLog() override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("velocity_log", Params(), "velocity log"));
    return All<VelocityLogRow>(r, [](const Rows& x, int i) { return VelocityLogRow{x.Int(i, 0), x.Text(i, 1)}; });
  }
  Result<void> ClearVelocityLog() override {
    mine_.velocity = true;
    return Void(C()->Run("clear_velocity_log", Params(), "clear velocity log"));
  }
  Result<std::optional<VelocityRow>> FindVelocity(std::string_view rule, std::string_view key) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_velocity", Params().Text(rule).Text(key), "find velocity"));
    return First<VelocityRow>(r, ReadVelocity);
  }
  Result<void> PutVelocity(const VelocityRow& v) override {
    mine_.velocity = true;
    return Void(C()->Run("put_velocity", Params().Text(v.rule).Text(v.key).Text(v.state).Int(v.updated_at_ms),
                        "put velocity"));
  }
  Result<std::vector<VelocityRow>> ListVelocity(std::string_view rule, std::string_view from_key,
                                                size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("list_velocity", Params().Text(rule).Text(from_key).Int(Limit(limit)),
                                         "list velocity"));
    return All<VelocityRow>(r, ReadVelocity);
  }

  // ---- idempotency ----

  Result<std::optional<IdempotencyRow>> FindIdempotency(std::string_view scope, int32_t operation,
                                                        std::string_view key) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_idem", Params().Text(scope).Int(operation).Text(key), "find key"));
    return First<IdempotencyRow>(r, ReadIdempotency);
  }
  // One round trip per kPipelineChunk keys.
  Result<std::vector<std::optional<IdempotencyRow>>> FindIdempotencyMany(
      const std::vector<IdemKeyRef>& keys) override {
    std::vector<pg::Queued> q;
    q.reserve(keys.size());
    for (const IdemKeyRef& k : keys) {
      q.push_back({"find_idem", Params().Text(k.scope).Int(k.operation).Text(k.key)});
    }
    std::vector<std::optional<IdempotencyRow>> out(keys.size());
    PAY_TRY(c_->RunPipelined(q, [&](size_t i, const Rows& rows) -> Result<void> {
      if (rows.count() > 0) out[i] = ReadIdempotency(rows, 0);
      return {};
    }));
    return out;
  }
  Result<void> PutIdempotency(const IdempotencyRow& k) override {
    mine_.idempotency.emplace(k.scope, k.operation, k.key);
    return Void(C()->Run("put_idem",
                        Params().Text(k.scope).Int(k.operation).Text(k.key).Text(k.fingerprint).Int(k.state)
                            .Int(k.status).Text(k.message).Int(k.entry_seq).Text(k.body)
                            .Int(k.created_at_ms).Int(k.expires_at_ms),
                        "put key"));
  }
  Result<void> DeleteIdempotency(std::string_view scope, int32_t operation, std::string_view key) override {
    mine_.idempotency.emplace(std::string(scope), operation, std::string(key));
    return Void(C()->Run("delete_idem", Params().Text(scope).Int(operation).Text(key), "delete key"));
  }
  Result<std::vector<IdempotencyRow>> InFlightIdempotency(size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("in_flight_idem", Params().Int(Limit(limit)), "keys in flight"));
    return All<IdempotencyRow>(r, ReadIdempotency);
  }
  Result<size_t> PurgeIdempotency(int64_t now_ms, size_t limit) override {
    mine_.everything = true;  // which rows it deletes is the server's to know
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("purge_idem", Params().Int(now_ms).Int(Limit(limit)), "purge keys"));
    return static_cast<size_t>(r.affected());
  }

  // ---- records ----

  Result<void> PutRecord(const RecordRow& x) override {
    mine_.records.emplace(x.kind, x.id);
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("put_record",
                                         Params().Int(x.kind).Text(x.id).Text(x.owner).Int(x.due_ms)
                                             .Text(x.body).Int(x.open_ms),
                                         "put record"));
    if (r.affected() == 0) {
      return MakeError(ErrorCode::kInternal, "store: record " + std::to_string(x.kind) + "/" + x.id +
                                                 " exists with another owner (owners never change)");
    }
    return {};
  }
  Result<std::optional<RecordRow>> FindRecord(int32_t kind, std::string_view id) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("find_record", Params().Int(kind).Text(id), "find record"));
    return First<RecordRow>(r, ReadRecord);
  }
  Result<void> DeleteRecord(int32_t kind, std::string_view id) override {
    mine_.records.emplace(kind, std::string(id));
    return Void(C()->Run("delete_record", Params().Int(kind).Text(id), "delete record"));
  }
  Result<std::vector<RecordRow>> ListRecords(int32_t kind, std::string_view owner,
                                             std::string_view after_id, size_t limit) override {
    auto r = owner.empty()
                 ? C()->Run("list_records", Params().Int(kind).Text(after_id).Int(Limit(limit)), "list records")
                 : C()->Run("list_owner_records", Params().Int(kind).Text(owner).Text(after_id).Int(Limit(limit)),
                           "list records");
    if (!r) return r.error();
    return All<RecordRow>(*r, ReadRecord);
  }
  Result<std::vector<RecordRow>> DueRecords(int32_t kind, int64_t now_ms, size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("due_records", Params().Int(kind).Int(now_ms).Int(Limit(limit)), "due records"));
    return All<RecordRow>(r, ReadRecord);
  }
  Result<std::vector<RecordRow>> OpenRecords(int32_t kind, std::string_view after_id, size_t limit) override {
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("open_records", Params().Int(kind).Text(after_id).Int(Limit(limit)),
                                         "open records"));
    return All<RecordRow>(r, ReadRecord);
  }

 private:
  static int64_t Limit(size_t n) { return static_cast<int64_t>(std::min<size_t>(n, INT64_MAX)); }
  static Result<void> Void(const Result<Rows>& r) {
    if (!r) return r.error();
    return {};
  }

  // Creates the schema in an empty database (with create_if_missing), or checks its version.
  Result<void> Migrate(bool create) {
    PAY_TRY(c_->Exec(std::string("BEGIN; SELECT pg_advisory_xact_lock(") + pg::kWritersLock + ")", "migrate"));
    auto r = MigrateLocked(create);
    PAY_TRY(c_->Exec(r ? "COMMIT" : "ROLLBACK", "migrate"));
    return r;
  }
  Result<void> MigrateLocked(bool create) {
    PAY_ASSIGN_OR_RETURN(Rows exists, c_->Query("SELECT CASE WHEN to_regclass('meta') IS NULL THEN 0::int8 ELSE 1::int8 END",
                                                 Params(), "schema version"));
    int64_t version = 0;
    if (exists.Int(0, 0) != 0) {
      PAY_ASSIGN_OR_RETURN(Rows v, c_->Query("SELECT value::bigint FROM meta WHERE key = 'schema_version'",
                                             Params(), "schema version"));
      version = v.count() == 0 ? -1 : v.Int(0, 0);
      if (version < 1) return MakeError(ErrorCode::kCorruptStore, "db: not a paymentctl database");
    }
    if (version > pg::kSchemaVersion) {
      return MakeError(ErrorCode::kCorruptStore,
                       "db: schema version " + std::to_string(version) +
                           " was written by a newer paymentctl (this one knows " +
                           std::to_string(pg::kSchemaVersion) + ")");
    }
    if (version == 0) {
      if (!create) return MakeError(ErrorCode::kInvalidArgument, "db: the PostgreSQL database has no paymentctl schema (run `paymentctl init`)");
      PAY_TRY(c_->Exec(pg::kSchemaV1, "create schema"));
    }
    if (version < 2) PAY_TRY(c_->Exec(pg::kSchemaV2, "migrate to schema version 2"));
    return {};
  }

  // The other writers' commits after `seen` up to `now`, from the change log (one round trip).
  // Unknown (drop every cache) at the first transaction, when rows are missing (older than the
  // log keeps) or a row is damaged.
  Result<void> ReadChanges(int64_t seen, int64_t now) {
    if (seen < 0 || now < seen || now - seen > pg::kChangeLogRows) return {};
    PAY_ASSIGN_OR_RETURN(Rows r, C()->Run("read_changes", Params().Int(seen), "read the change log"));
    if (r.count() != now - seen) return {};
    others_.known = true;
    for (int i = 0; i < r.count(); ++i) {
      if (r.Int(i, 0) != seen + 1 + i || !DecodeChanges(r.Text(i, 1), &others_)) {
        others_.Clear();
        return {};
      }
    }
    if (others_.everything) others_.Clear();
    return {};
  }

  // Counts the commit, logs what it changed (for the other writers' caches), keeps the log
  // bounded now and then, and commits: one round trip. The body goes as hex (digits only).
  std::string CommitSql() const {
    const int64_t n = commits_seen_ + 1;
    static const char* kHex = "0123456789abcdef";
    std::string sql = "UPDATE meta SET value = '" + std::to_string(n) +
                      "' WHERE key = 'commits'; INSERT INTO changes VALUES(" + std::to_string(n) +
                      ", '\\x";
    for (unsigned char ch : EncodeChanges(mine_)) {
      sql.push_back(kHex[ch >> 4]);
      sql.push_back(kHex[ch & 15]);
    }
    sql += "'); ";
    if (n % 256 == 0) {
      sql += "DELETE FROM changes WHERE commit <= " + std::to_string(n - pg::kChangeLogRows) + "; ";
    }
    return sql + "COMMIT";
  }

  std::unique_ptr<pg::Connection> c_;
  bool in_write_ = false;
  bool in_read_ = false;
  int64_t commits_seen_ = -1;
  StoreOptions options_;
  Changes mine_;    // what the open write transaction changed
  Changes others_;  // what other writers changed before it began
};

}  // namespace

bool IsPostgresUrl(std::string_view where) {
  return where.starts_with("postgresql://") || where.starts_with("postgres://") ||
         where.starts_with("host=") || where.starts_with("dbname=");
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& where, const StoreOptions& options) {
  return IsPostgresUrl(where) ? OpenPostgresStore(where, options) : OpenSqliteStore(where, options);
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo, const StoreOptions& options) {
  PAY_ASSIGN_OR_RETURN(auto c, pg::Connection::Open(conninfo));
  auto store = std::make_unique<PgStore>(std::move(c));
  PAY_TRY(store->Init(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace pay::store
