#pragma once
// A store in front of another that makes a write transaction batch-shaped: the keyed rows it
// writes (rail records, idempotency records, velocity states, entry states) are collected in a
// WriteSet, each in its final form, and applied once at commit (Store::Apply); reads of rows the
// transaction wrote are answered from the set, never read back. Rows of committed transactions
// stay in bounded hot tables (least recently used evicted first) that answer reads inside later
// write transactions; they are dropped whenever BeginWrite reports that another connection
// committed (only the rows it changed, when the inner store keeps a change log), so they are
// never staler than the database. Reads outside a write transaction go
// to the inner store (nothing tells them whether another writer committed).
//
// Range reads (List*, Due*, InFlight*, Purge*, Scan*) inside a write transaction first apply what
// the set holds, so they see the transaction's writes. Journal entries are buffered too (in seq
// order, applied before the entry states); an entry whose ref the caller does not vouch for
// (EntryRow::ref_is_new) is looked up first, so that a taken ref is still reported as such.
// Committed entries stay hot (they never change); idempotency records a batch names can be read
// ahead in one call (Prefetch). Accounts pass through: the ledger writes each once per
// transaction.
//
// Threading: as any Store, one thread at a time.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/lru_table.h"
#include "core/store.h"

namespace pay::store {

class BufferedStore final : public Store {
 public:
  // `hot_rows`: rows kept per hot table (records, idempotency records); 0 keeps none.
  BufferedStore(std::shared_ptr<Store> inner, size_t hot_rows);

  // What the hot tables and the write sets did, for benchmarks and tests.
  struct Stats {
    int64_t hot_hits = 0;      // reads answered from a hot table (absent rows included)
    int64_t set_hits = 0;      // reads answered from the transaction's own writes
    int64_t rows_applied = 0;  // rows written by Apply
    int64_t rows_folded = 0;   // writes that replaced an earlier write of the same row
    int64_t invalidations = 0; // hot tables dropped because another connection committed
    int64_t rows_evicted = 0;  // hot rows dropped because another connection changed them
  };
  const Stats& stats() const { return stats_; }

  Result<bool> BeginWrite() override;
  Result<void> Commit() override;
  void Rollback() override;
  bool in_write() const override { return inner_->in_write(); }
  const Changes& others_changes() const override { return inner_->others_changes(); }
  Result<void> BeginRead() override { return inner_->BeginRead(); }
  void EndRead() override { inner_->EndRead(); }

  Result<void> InsertAccount(AccountRow* row) override { return inner_->InsertAccount(row); }
  Result<std::optional<AccountRow>> FindAccount(std::string_view id) override {
    return inner_->FindAccount(id);
  }
  Result<std::optional<AccountRow>> FindAccountByNum(int64_t num) override {
    return inner_->FindAccountByNum(num);
  }
  Result<void> UpdateAccountCounters(const AccountRow& row) override {
    return inner_->UpdateAccountCounters(row);
  }
  Result<std::vector<AccountRow>> ListAccounts(std::string_view after_id, size_t limit) override {
    return inner_->ListAccounts(after_id, limit);
  }

  Result<bool> InsertEntry(const EntryRow& row) override;
  Result<std::optional<EntryRow>> FindEntry(int64_t seq) override;
  Result<std::optional<EntryRow>> FindEntryByRef(std::string_view ref) override;
  Result<std::optional<EntryRow>> LastEntry() override;
  Result<std::vector<EntryRow>> ScanEntries(int64_t after_seq, size_t limit) override;

  Result<void> PutEntryState(const EntryStateRow& row) override;
  Result<std::optional<EntryStateRow>> FindEntryState(int64_t seq) override;
  Result<std::vector<EntryStateRow>> DueEntryStates(int32_t state, int64_t now_ms,
                                                    size_t limit) override;

  Result<std::optional<IdempotencyRow>> FindIdempotency(std::string_view scope, int32_t operation,
                                                        std::string_view key) override;
  Result<void> PutIdempotency(const IdempotencyRow& row) override;
  Result<void> DeleteIdempotency(std::string_view scope, int32_t operation,
                                 std::string_view key) override;
  Result<std::vector<IdempotencyRow>> InFlightIdempotency(size_t limit) override;
  Result<size_t> PurgeIdempotency(int64_t now_ms, size_t limit) override;
  // Reads the records of `keys` neither the set nor the hot table knows in one inner call
  // (FindIdempotencyMany), absent ones included, into the hot table.
  Result<void> Prefetch(const std::vector<IdemKeyRef>& keys) override;

  Result<std::optional<VelocityRow>> FindVelocity(std::string_view rule,
                                                  std::string_view key) override;
  Result<void> PutVelocity(const VelocityRow& row) override;
  Result<std::vector<VelocityRow>> ListVelocity(std::string_view rule, std::string_view from_key,
                                                size_t limit) override;
  // The velocity log is appended once per transaction: not buffered.
  Result<void> AppendVelocityLog(std::string_view body) override {
    return inner_->AppendVelocityLog(body);
  }
  Result<std::vector<VelocityLogRow>> VelocityLog() override { return inner_->VelocityLog(); }
  Result<void> ClearVelocityLog() override { return inner_->ClearVelocityLog(); }

  Result<void> PutRecord(const RecordRow& row) override;
  Result<std::optional<RecordRow>> FindRecord(int32_t kind, std::string_view id) override;
  Result<void> DeleteRecord(int32_t kind, std::string_view id) override;
  Result<std::vector<RecordRow>> ListRecords(int32_t kind, std::string_view owner,
                                             std::string_view after_id, size_t limit) override;
  Result<std::vector<RecordRow>> DueRecords(int32_t kind, int64_t now_ms, size_t limit) override;
  Result<std::vector<RecordRow>> OpenRecords(int32_t kind, std::string_view after_id,
                                             size_t limit) override;

 private:
  // Applies the set now (before a range read inside the transaction); the rows it held leave
  // the hot tables, which learn them again when read.
  Result<void> ApplyNow();
  void Forget(const WriteSet& set);
  void Learn(WriteSet& set);
  void ClearSet();
  void ClearMutableHotRows();  // every hot table but the entries' (entries never change)

  std::shared_ptr<Store> inner_;
  WriteSet set_;
  bool applied_early_ = false;  // ApplyNow ran in the open transaction
  pay::LruTable<std::optional<RecordRow>> hot_records_;
  pay::LruTable<std::optional<IdempotencyRow>> hot_keys_;
  pay::LruTable<EntryRow> hot_entries_;                   // by seq
  pay::LruTable<std::optional<EntryStateRow>> hot_states_;  // by seq
  std::unordered_map<std::string, size_t> set_refs_;      // ref -> index in set_.entries
  Stats stats_;
};

}  // namespace pay::store
