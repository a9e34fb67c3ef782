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
  for (const EntryRow& row : set.entries) {
    PAY_ASSIGN_OR_RETURN(bool inserted, InsertEntry(row));
    if (!inserted) return MakeError(ErrorCode::kInternal, "store: entry ref '" + row.ref + "' is taken");
  }
  for (const auto& [seq, row] : set.entry_states) PAY_TRY(PutEntryState(row));
  return {};
}

Result<std::vector<std::optional<IdempotencyRow>>> Store::FindIdempotencyMany(
    const std::vector<IdemKeyRef>& keys) {
  std::vector<std::optional<IdempotencyRow>> out;
  out.reserve(keys.size());
  for (const IdemKeyRef& k : keys) {
    PAY_ASSIGN_OR_RETURN(auto row, FindIdempotency(k.scope, k.operation, k.key));
    out.push_back(std::move(row));
  }
  return out;
}

// ---- transactions ---------------------------------------------------------------------------

BufferedStore::BufferedStore(std::shared_ptr<Store> inner, size_t hot_rows)
    : inner_(std::move(inner)),
      hot_records_(hot_rows),
      hot_keys_(hot_rows),
      hot_entries_(hot_rows),
      hot_states_(hot_rows) {}

void BufferedStore::ClearSet() {
  set_.clear();
  set_refs_.clear();
}

void BufferedStore::ClearMutableHotRows() {
  hot_records_.Clear();
  hot_keys_.Clear();
  hot_states_.Clear();
}

Result<bool> BufferedStore::BeginWrite() {
  ClearSet();
  applied_early_ = false;
  PAY_ASSIGN_OR_RETURN(bool changed, inner_->BeginWrite());
  if (!changed) return false;
  const Changes& ch = inner_->others_changes();
  if (!ch.known) {
    if (hot_records_.size() > 0 || hot_keys_.size() > 0 || hot_states_.size() > 0) {
      ClearMutableHotRows();
      ++stats_.invalidations;
    }
    return true;
  }
  // Only what the other writers changed leaves the hot tables.
  for (const auto& [kind, id] : ch.records) hot_records_.Erase(RecordKey(kind, id));
  for (const auto& [scope, op, key] : ch.idempotency) hot_keys_.Erase(IdemKey(scope, op, key));
  for (int64_t seq : ch.entry_states) hot_states_.Erase(std::to_string(seq));
  stats_.rows_evicted += static_cast<int64_t>(ch.records.size() + ch.idempotency.size() +
                                              ch.entry_states.size());
  return true;
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
    ClearMutableHotRows();
    ClearSet();
    return c;
  }
  Learn(set_);
  ClearSet();
  return {};
}

void BufferedStore::Rollback() {
  ClearSet();
  if (applied_early_) {  // rows read after an early apply may be of this rolled-back transaction
    ClearMutableHotRows();
    hot_entries_.Clear();
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
  ClearSet();
  return {};
}

void BufferedStore::Forget(const WriteSet& set) {
  for (const auto& [key, row] : set.records) hot_records_.Erase(RecordKey(key.first, key.second));
  for (const auto& [key, row] : set.idempotency) {
    hot_keys_.Erase(IdemKey(std::get<0>(key), std::get<1>(key), std::get<2>(key)));
  }
  for (const auto& [seq, row] : set.entry_states) hot_states_.Erase(std::to_string(seq));
}

void BufferedStore::Learn(WriteSet& set) {
  for (auto& [key, row] : set.records) {
    hot_records_.Put(RecordKey(key.first, key.second), std::move(row));
  }
  for (auto& [key, row] : set.idempotency) {
    hot_keys_.Put(IdemKey(std::get<0>(key), std::get<1>(key), std::get<2>(key)), std::move(row));
  }
  for (auto& [seq, row] : set.entry_states) hot_states_.Put(std::to_string(seq), std::move(row));
  for (EntryRow& row : set.entries) hot_entries_.Put(std::to_string(row.seq), std::move(row));
}

// ---- journal entries: buffered, kept hot once committed -------------------------------------

Result<bool> BufferedStore::InsertEntry(const EntryRow& row) {
  if (!in_write()) return inner_->InsertEntry(row);
  if (!row.ref.empty()) {
    if (set_refs_.contains(row.ref)) return false;
    if (!row.ref_is_new) {
      PAY_ASSIGN_OR_RETURN(auto taken, inner_->FindEntryByRef(row.ref));
      if (taken) return false;
    }
    set_refs_.emplace(row.ref, set_.entries.size());
  }
  set_.entries.push_back(row);
  return true;
}

Result<std::optional<EntryRow>> BufferedStore::FindEntry(int64_t seq) {
  if (!in_write()) return inner_->FindEntry(seq);
  if (!set_.entries.empty() && seq >= set_.entries.front().seq) {
    const size_t i = static_cast<size_t>(seq - set_.entries.front().seq);
    if (i < set_.entries.size() && set_.entries[i].seq == seq) {
      ++stats_.set_hits;
      return std::optional<EntryRow>(set_.entries[i]);
    }
  }
  const std::string k = std::to_string(seq);
  if (const auto* hot = hot_entries_.Find(k)) {
    ++stats_.hot_hits;
    return std::optional<EntryRow>(*hot);
  }
  PAY_ASSIGN_OR_RETURN(auto row, inner_->FindEntry(seq));
  if (row) hot_entries_.Put(k, *row);
  return row;
}

Result<std::optional<EntryRow>> BufferedStore::FindEntryByRef(std::string_view ref) {
  if (in_write()) {
    if (auto it = set_refs_.find(std::string(ref)); it != set_refs_.end()) {
      ++stats_.set_hits;
      return std::optional<EntryRow>(set_.entries[it->second]);
    }
  }
  return inner_->FindEntryByRef(ref);
}

Result<std::optional<EntryRow>> BufferedStore::LastEntry() {
  if (in_write() && !set_.entries.empty()) return std::optional<EntryRow>(set_.entries.back());
  return inner_->LastEntry();
}

Result<std::vector<EntryRow>> BufferedStore::ScanEntries(int64_t after_seq, size_t limit) {
  PAY_TRY(ApplyNow());
  return inner_->ScanEntries(after_seq, limit);
}

// ---- entry states and velocity: buffered, not kept hot (their owners cache them) ------------

Result<void> BufferedStore::PutEntryState(const EntryStateRow& row) {
  if (!in_write()) return inner_->PutEntryState(row);
  auto [it, fresh] = set_.entry_states.insert_or_assign(row.seq, row);
  if (!fresh) ++stats_.rows_folded;
  return {};
}

Result<std::optional<EntryStateRow>> BufferedStore::FindEntryState(int64_t seq) {
  if (!in_write()) return inner_->FindEntryState(seq);
  if (auto it = set_.entry_states.find(seq); it != set_.entry_states.end()) {
    ++stats_.set_hits;
    return std::optional<EntryStateRow>(it->second);
  }
  const std::string k = std::to_string(seq);
  if (const auto* hot = hot_states_.Find(k)) {
    ++stats_.hot_hits;
    return *hot;
  }
  PAY_ASSIGN_OR_RETURN(auto row, inner_->FindEntryState(seq));
  hot_states_.Put(k, row);
  return row;
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

Result<void> BufferedStore::Prefetch(const std::vector<IdemKeyRef>& keys) {
  if (!in_write()) return {};
  std::vector<IdemKeyRef> missing;
  for (const IdemKeyRef& k : keys) {
    if (set_.idempotency.contains({k.scope, k.operation, k.key})) continue;
    if (hot_keys_.Find(IdemKey(k.scope, k.operation, k.key)) != nullptr) continue;
    missing.push_back(k);
  }
  if (missing.empty()) return {};
  PAY_ASSIGN_OR_RETURN(auto rows, inner_->FindIdempotencyMany(missing));
  for (size_t i = 0; i < missing.size() && i < rows.size(); ++i) {
    hot_keys_.Put(IdemKey(missing[i].scope, missing[i].operation, missing[i].key), std::move(rows[i]));
  }
  return {};
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
