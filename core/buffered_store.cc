#include "core/buffered_store.h"

namespace pay::store {

namespace {

std::string RecordKey(int32_t kind, std::string_view id) {
  std::string k = std::to_string(kind);
  k += '\x1f';
  k += id;
  return k;
}

std::string IdemKey(std::string_view scope, int32_t operation, std::string_view key) {
  std::string k(scope);
  k += '\x1f';
  k += std::to_string(operation);
  k += '\x1f';
  k += key;
  return k;
}

}  // namespace

// ---- Store::Apply: the row statements one by one ----------------------------------------------

Result<void> Store::Apply(const WriteSet& set) {
  for (const auto& [key, row] : set.records) {
    PAY_TRY(row ? PutRecord(*row) : DeleteRecord(key.first, key.second));
  }
  for (const auto& [key, row] : set.idempotency) {
    PAY_TRY(row ? PutIdempotency(*row)
                : DeleteIdempotency(std::get<0>(key), std::get<1>(key), std::get<2>(key)));
  }
  for (const auto& [key, row] : set.velocity) PAY_TRY(PutVelocity(row));
  for (const auto& [seq, row] : set.entry_states) PAY_TRY(PutEntryState(row));
  return {};
}

// ---- transactions ---------------------------------------------------------------------------

BufferedStore::BufferedStore(std::shared_ptr<Store> inner, size_t hot_rows)
    : inner_(std::move(inner)), hot_records_(hot_rows), hot_keys_(hot_rows) {}

Result<bool> BufferedStore::BeginWrite() {
  set_.clear();
  applied_early_ = false;
  PAY_ASSIGN_OR_RETURN(bool changed, inner_->BeginWrite());
  if (changed && (hot_records_.size() > 0 || hot_keys_.size() > 0)) {
    hot_records_.Clear();
    hot_keys_.Clear();
    ++stats_.invalidations;
  }
  return changed;
}

Result<void> BufferedStore::Commit() {
  if (!set_.empty()) {
    if (auto a = inner_->Apply(set_); !a) {
      Rollback();
      return a;
    }
    stats_.rows_applied += static_cast<int64_t>(set_.size());
  }
  if (auto c = inner_->Commit(); !c) {
    // The rows may or may not have reached the disk: read them again.
    hot_records_.Clear();
    hot_keys_.Clear();
    set_.clear();
    return c;
  }
  Learn(set_);
  set_.clear();
  return {};
}

void BufferedStore::Rollback() {
  set_.clear();
  if (applied_early_) {  // rows read after an early apply may be of this rolled-back transaction
    hot_records_.Clear();
    hot_keys_.Clear();
    applied_early_ = false;
  }
  inner_->Rollback();
}

Result<void> BufferedStore::ApplyNow() {
  if (set_.empty()) return {};
  applied_early_ = true;
  PAY_TRY(inner_->Apply(set_));
  stats_.rows_applied += static_cast<int64_t>(set_.size());
  Forget(set_);
  set_.clear();
  return {};
}

void BufferedStore::Forget(const WriteSet& set) {
  for (const auto& [key, row] : set.records) hot_records_.Erase(RecordKey(key.first, key.second));
  for (const auto& [key, row] : set.idempotency) {
    hot_keys_.Erase(IdemKey(std::get<0>(key), std::get<1>(key), std::get<2>(key)));
  }
}

void BufferedStore::Learn(WriteSet& set) {
  for (auto& [key, row] : set.records) {
    hot_records_.Put(RecordKey(key.first, key.second), std::move(row));
  }
  for (auto& [key, row] : set.idempotency) {
    hot_keys_.Put(IdemKey(std::get<0>(key), std::get<1>(key), std::get<2>(key)), std::move(row));
  }
}

// ---- entry states and velocity: buffered, not kept hot (their owners cache them) ------------

Result<void> BufferedStore::PutEntryState(const EntryStateRow& row) {
  if (!in_write()) return inner_->PutEntryState(row);
  auto [it, fresh] = set_.entry_states.insert_or_assign(row.seq, row);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::optional<EntryStateRow>> BufferedStore::FindEntryState(int64_t seq) {
  if (in_write()) {
    if (auto it = set_.entry_states.find(seq); it != set_.entry_states.end()) {
      ++stats_.set_hits;
      return std::optional<EntryStateRow>(it->second);
    }
  }
  return inner_->FindEntryState(seq);
}

Result<std::vector<EntryStateRow>> BufferedStore::DueEntryStates(int32_t state, int64_t now_ms,
                                                                 size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->DueEntryStates(state, now_ms, limit);
}

Result<std::optional<VelocityRow>> BufferedStore::FindVelocity(std::string_view rule,
                                                               std::string_view key) {
  if (in_write()) {
    auto it = set_.velocity.find({std::string(rule), std::string(key)});
    if (it != set_.velocity.end()) {
      ++stats_.set_hits;
      return std::optional<VelocityRow>(it->second);
    }
  }
  return inner_->FindVelocity(rule, key);
}

Result<void> BufferedStore::PutVelocity(const VelocityRow& row) {
  if (!in_write()) return inner_->PutVelocity(row);
  auto [it, fresh] = set_.velocity.insert_or_assign({row.rule, row.key}, row);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::vector<VelocityRow>> BufferedStore::ListVelocity(std::string_view rule,
                                                             std::string_view from_key,
                                                             size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->ListVelocity(rule, from_key, limit);
}

// ---- idempotency records: buffered and hot --------------------------------------------------

Result<std::optional<IdempotencyRow>> BufferedStore::FindIdempotency(std::string_view scope,
                                                                     int32_t operation,
                                                                     std::string_view key) {
  if (!in_write()) return inner_->FindIdempotency(scope, operation, key);
  auto it = set_.idempotency.find({std::string(scope), operation, std::string(key)});
  if (it != set_.idempotency.end()) {
    ++stats_.set_hits;
    return it->second;
  }
  const std::string k = IdemKey(scope, operation, key);
  if (const auto* hot = hot_keys_.Find(k)) {
    ++stats_.hot_hits;
    return *hot;
  }
  PAY_ASSIGN_OR_RETURN(auto row, inner_->FindIdempotency(scope, operation, key));
  hot_keys_.Put(k, row);
  return row;
}

Result<void> BufferedStore::PutIdempotency(const IdempotencyRow& row) {
  if (!in_write()) return inner_->PutIdempotency(row);
  auto [it, fresh] = set_.idempotency.insert_or_assign({row.scope, row.operation, row.key}, row);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<void> BufferedStore::DeleteIdempotency(std::string_view scope, int32_t operation,
                                              std::string_view key) {
  if (!in_write()) return inner_->DeleteIdempotency(scope, operation, key);
  auto [it, fresh] = set_.idempotency.insert_or_assign(
      {std::string(scope), operation, std::string(key)}, std::nullopt);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::vector<IdempotencyRow>> BufferedStore::InFlightIdempotency(size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->InFlightIdempotency(limit);
}

Result<size_t> BufferedStore::PurgeIdempotency(int64_t now_ms, size_t limit) {
  PAY_TRY(ApplyNow());
  hot_keys_.Clear();  // the purge deletes rows the hot table may hold
  return inner_->PurgeIdempotency(now_ms, limit);
}

// ---- rail records: buffered and hot ---------------------------------------------------------

Result<void> BufferedStore::PutRecord(const RecordRow& row) {
  if (!in_write()) return inner_->PutRecord(row);
  auto [it, fresh] = set_.records.insert_or_assign({row.kind, row.id}, row);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::optional<RecordRow>> BufferedStore::FindRecord(int32_t kind, std::string_view id) {
  if (!in_write()) return inner_->FindRecord(kind, id);
  auto it = set_.records.find({kind, std::string(id)});
  if (it != set_.records.end()) {
    ++stats_.set_hits;
    return it->second;
  }
  const std::string k = RecordKey(kind, id);
  if (const auto* hot = hot_records_.Find(k)) {
    ++stats_.hot_hits;
    return *hot;
  }
  PAY_ASSIGN_OR_RETURN(auto row, inner_->FindRecord(kind, id));
  hot_records_.Put(k, row);
  return row;
}

Result<void> BufferedStore::DeleteRecord(int32_t kind, std::string_view id) {
  if (!in_write()) return inner_->DeleteRecord(kind, id);
  auto [it, fresh] = set_.records.insert_or_assign({kind, std::string(id)}, std::nullopt);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::vector<RecordRow>> BufferedStore::ListRecords(int32_t kind, std::string_view owner,
                                                          std::string_view after_id,
                                                          size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->ListRecords(kind, owner, after_id, limit);
}

Result<std::vector<RecordRow>> BufferedStore::DueRecords(int32_t kind, int64_t now_ms,
                                                         size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->DueRecords(kind, now_ms, limit);
}

Result<std::vector<RecordRow>> BufferedStore::OpenRecords(int32_t kind, std::string_view after_id,
                                                          size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->OpenRecords(kind, after_id, limit);
}

}  // namespace pay::store
