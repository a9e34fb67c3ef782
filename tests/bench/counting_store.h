#pragma once
// A store that counts the work done through it, for the benchmarks: every call of the Store
// interface is one statement of the SQLite store (and, for a PostgreSQL store, one round trip
// unless batched), so reads, writes and commits per operation are the cost the engine designs.
// Injected with EngineOptions::store; forwards everything to the store it wraps.

#include <cstdint>
#include <map>
#include <string>
#include <memory>

#include "core/store.h"

namespace pay::bench {

struct StoreWork {
  int64_t reads = 0;    // Find*, List*, Scan*, Due*, Last*
  int64_t writes = 0;   // Insert*, Update*, Put*, Delete*, Purge*
  int64_t commits = 0;  // durable commits (each one fsync at synchronous=FULL)
  StoreWork operator-(const StoreWork& o) const {
    return {reads - o.reads, writes - o.writes, commits - o.commits};
  }
};

class CountingStore final : public store::Store {
 public:
  explicit CountingStore(std::unique_ptr<store::Store> inner) : s_(std::move(inner)) {}
  const StoreWork& work() const { return w_; }
  // Calls per interface method since the start (e.g. for a breakdown with --calls).
  const std::map<std::string, int64_t>& calls() const { return calls_; }

  Result<bool> BeginWrite() override { return s_->BeginWrite(); }
  Result<void> Commit() override { ++w_.commits; return s_->Commit(); }
  void Rollback() override { s_->Rollback(); }
  bool in_write() const override { return s_->in_write(); }
  const store::Changes& others_changes() const override { return s_->others_changes(); }
  Result<void> BeginRead() override { return s_->BeginRead(); }
  void EndRead() override { s_->EndRead(); }

  Result<void> InsertAccount(store::AccountRow* row) override { Tally(__func__, &w_.writes); return s_->InsertAccount(row); }
  Result<std::optional<store::AccountRow>> FindAccount(std::string_view id) override { Tally(__func__, &w_.reads); return s_->FindAccount(id); }
  Result<std::optional<store::AccountRow>> FindAccountByNum(int64_t num) override { Tally(__func__, &w_.reads); return s_->FindAccountByNum(num); }
  Result<void> UpdateAccountCounters(const store::AccountRow& row) override { Tally(__func__, &w_.writes); return s_->UpdateAccountCounters(row); }
  Result<std::vector<store::AccountRow>> ListAccounts(std::string_view after, size_t limit) override { Tally(__func__, &w_.reads); return s_->ListAccounts(after, limit); }

  Result<bool> InsertEntry(const store::EntryRow& row) override { Tally(__func__, &w_.writes); return s_->InsertEntry(row); }
  Result<std::optional<store::EntryRow>> FindEntry(int64_t seq) override { Tally(__func__, &w_.reads); return s_->FindEntry(seq); }
  Result<std::optional<store::EntryRow>> FindEntryByRef(std::string_view ref) override { Tally(__func__, &w_.reads); return s_->FindEntryByRef(ref); }
  Result<std::optional<store::EntryRow>> LastEntry() override { Tally(__func__, &w_.reads); return s_->LastEntry(); }
  Result<std::vector<store::EntryRow>> ScanEntries(int64_t after, size_t limit) override { Tally(__func__, &w_.reads); return s_->ScanEntries(after, limit); }

  Result<void> PutEntryState(const store::EntryStateRow& row) override { Tally(__func__, &w_.writes); return s_->PutEntryState(row); }
  Result<std::optional<store::EntryStateRow>> FindEntryState(int64_t seq) override { Tally(__func__, &w_.reads); return s_->FindEntryState(seq); }
  Result<std::vector<store::EntryStateRow>> DueEntryStates(int32_t state, int64_t now, size_t limit) override { Tally(__func__, &w_.reads); return s_->DueEntryStates(state, now, limit); }

  Result<std::optional<store::IdempotencyRow>> FindIdempotency(std::string_view scope, int32_t op, std::string_view key) override { Tally(__func__, &w_.reads); return s_->FindIdempotency(scope, op, key); }
  Result<void> PutIdempotency(const store::IdempotencyRow& row) override { Tally(__func__, &w_.writes); return s_->PutIdempotency(row); }
  Result<void> DeleteIdempotency(std::string_view scope, int32_t op, std::string_view key) override { Tally(__func__, &w_.writes); return s_->DeleteIdempotency(scope, op, key); }
  Result<std::vector<store::IdempotencyRow>> InFlightIdempotency(size_t limit) override { Tally(__func__, &w_.reads); return s_->InFlightIdempotency(limit); }
  Result<size_t> PurgeIdempotency(int64_t now, size_t limit) override { Tally(__func__, &w_.writes); return s_->PurgeIdempotency(now, limit); }

  Result<std::optional<store::VelocityRow>> FindVelocity(std::string_view rule, std::string_view key) override { Tally(__func__, &w_.reads); return s_->FindVelocity(rule, key); }
  Result<void> PutVelocity(const store::VelocityRow& row) override { Tally(__func__, &w_.writes); return s_->PutVelocity(row); }
  Result<void> AppendVelocityLog(std::string_view body) override { Tally(__func__, &w_.writes); return s_->AppendVelocityLog(body); }
  Result<std::vector<store::VelocityLogRow>> VelocityLog() override { Tally(__func__, &w_.reads); return s_->VelocityLog(); }
  Result<void> ClearVelocityLog() override { Tally(__func__, &w_.writes); return s_->ClearVelocityLog(); }
  Result<std::vector<store::VelocityRow>> ListVelocity(std::string_view rule, std::string_view from, size_t limit) override { Tally(__func__, &w_.reads); return s_->ListVelocity(rule, from, limit); }

  Result<void> PutRecord(const store::RecordRow& row) override { Tally(__func__, &w_.writes); return s_->PutRecord(row); }
  Result<std::optional<store::RecordRow>> FindRecord(int32_t kind, std::string_view id) override { Tally(__func__, &w_.reads); return s_->FindRecord(kind, id); }
  Result<void> DeleteRecord(int32_t kind, std::string_view id) override { Tally(__func__, &w_.writes); return s_->DeleteRecord(kind, id); }
  Result<std::vector<store::RecordRow>> ListRecords(int32_t kind, std::string_view owner, std::string_view after, size_t limit) override { Tally(__func__, &w_.reads); return s_->ListRecords(kind, owner, after, limit); }
  Result<std::vector<store::RecordRow>> DueRecords(int32_t kind, int64_t now, size_t limit) override { Tally(__func__, &w_.reads); return s_->DueRecords(kind, now, limit); }
  Result<std::vector<store::RecordRow>> OpenRecords(int32_t kind, std::string_view after, size_t limit) override { Tally(__func__, &w_.reads); return s_->OpenRecords(kind, after, limit); }

  // A write set reaches the store in one call (a PostgreSQL store pipelines it: one round trip
  // per 512 rows), counted as "Apply"; its rows are counted as the writes they are, under the
  // methods that would write them one by one.
  Result<void> Apply(const store::WriteSet& set) override {
    ++calls_["Apply"];
    for (const auto& [key, row] : set.records) Tally(row ? "PutRecord" : "DeleteRecord", &w_.writes);
    for (const auto& [key, row] : set.idempotency) {
      Tally(row ? "PutIdempotency" : "DeleteIdempotency", &w_.writes);
    }
    for (size_t i = 0; i < set.velocity.size(); ++i) Tally("PutVelocity", &w_.writes);
    for (size_t i = 0; i < set.entry_states.size(); ++i) Tally("PutEntryState", &w_.writes);
    for (size_t i = 0; i < set.entries.size(); ++i) Tally("InsertEntry", &w_.writes);
    return s_->Apply(set);
  }
  Result<std::vector<std::optional<store::IdempotencyRow>>> FindIdempotencyMany(
      const std::vector<store::IdemKeyRef>& keys) override {
    Tally(__func__, &w_.reads);
    return s_->FindIdempotencyMany(keys);
  }

 private:
  void Tally(const char* method, int64_t* counter) {
    ++*counter;
    ++calls_[method];
  }

  std::unique_ptr<store::Store> s_;
  StoreWork w_;
  std::map<std::string, int64_t> calls_;
};

}  // namespace pay::bench
