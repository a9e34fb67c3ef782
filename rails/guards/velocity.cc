#include "rails/guards/velocity.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::guards {

namespace {


std::string_view DimensionValue(Dimension d, const VelocityEvent& e) {
  switch (d) {
    case Dimension::kMerchant: return e.merchant;
    case Dimension::kCard: return e.card;
    case Dimension::kRecipientCard: return e.recipient_card;
    case Dimension::kCredential: return e.credential;
    case Dimension::kIp: return e.ip;
    case Dimension::kChannel: return ChannelName(e.channel);
    case Dimension::kAccount: return e.account;
  }
  return {};
}

// FNV-1a: a stable 64-bit hash (persisted in distinct-count state, so it may never change).
uint64_t StableHash(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}


std::string EncodeStates(const std::vector<WindowState>& windows,
                         const std::vector<DistinctState>& distinct) {
  Writer w;
  w.U8(1);
  w.U32(static_cast<uint32_t>(windows.size()));
  for (const auto& s : windows) w.Str(EncodeState(s));
  w.U32(static_cast<uint32_t>(distinct.size()));
  for (const auto& s : distinct) w.Str(EncodeDistinctState(s));
  return w.Take();
}

}  // namespace


std::string VelocityKey(const VelocityRule& rule, const VelocityEvent& event) {
  std::string key;
  for (Dimension d : rule.key) {
    if (!key.empty()) key += ';';
    key += DimensionName(d);
    key += '=';
    key += DimensionValue(d, event);
  }
  return key;
}


struct VelocityGuard::Touch {
  size_t rule = 0;
  std::string key;
  std::vector<WindowState> windows;
  std::vector<DistinctState> distinct;
  int64_t updated_at_ms = 0;
  bool dirty = false;
  bool unfolded = false;  // newer in the velocity log than in its velocity_state row
  bool has_undo = false;
  std::vector<WindowState> undo_windows;
  std::vector<DistinctState> undo_distinct;
};

VelocityGuard::VelocityGuard(std::vector<VelocityRule> rules) : rules_(std::move(rules)) {}

bool VelocityGuard::measures_amounts() const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [](const VelocityRule& r) { return r.measure == Measure::kAmount; });
}
VelocityGuard::~VelocityGuard() = default;

// Sets t's windows from a stored state. A state of other windows than the rule has now (the rule
// was edited since) starts afresh; a state that does not decode is damage.
Result<void> VelocityGuard::Restore(Touch& t, std::string_view state) const {
  const VelocityRule& r = rules_[t.rule];
  bool distinct = r.measure == Measure::kDistinct;
  t.windows.clear();
  t.distinct.clear();
  Reader rd(state);
  uint8_t version;
  uint32_t n = 0, m = 0;
  std::string blob;
  bool ok = rd.U8(&version) && version == 1 && rd.U32(&n) && n <= 64;
  std::vector<WindowState> ws;
  std::vector<DistinctState> ds;
  for (uint32_t i = 0; ok && i < n; ++i) {
    ok = rd.Str(&blob, 1 << 20);
    auto s = ok ? DecodeState(blob) : Result<WindowState>(MakeError(ErrorCode::kCorruptStore, ""));
    ok = ok && s.has_value();
    if (ok) ws.push_back(*s);
  }
  ok = ok && rd.U32(&m) && m <= 64;
  for (uint32_t i = 0; ok && i < m; ++i) {
    ok = rd.Str(&blob, 1 << 20);
    auto s = ok ? DecodeDistinctState(blob) : Result<DistinctState>(MakeError(ErrorCode::kCorruptStore, ""));
    ok = ok && s.has_value();
    if (ok) ds.push_back(*s);
  }
  if (!ok) {
    return MakeError(ErrorCode::kCorruptStore,
                     "store: velocity state of rule '" + r.name + "' key '" + t.key + "' is damaged");
  }
  if ((!distinct && ws.size() == r.windows.size() && ds.empty()) ||
      (distinct && ds.size() == r.windows.size() && ws.empty())) {
    t.windows = std::move(ws);
    t.distinct = std::move(ds);
  } else if (distinct) {
    t.distinct.resize(r.windows.size());
  } else {
    t.windows.resize(r.windows.size());
  }
  return {};
}

VelocityGuard::Touch* VelocityGuard::Cached(size_t rule, const std::string& key, bool* fresh) {
  std::string map_key = rules_[rule].name + '\x1f' + key;
  auto it = states_.find(map_key);
  *fresh = it == states_.end();
  if (!*fresh) return it->second.get();
  auto t = std::make_unique<Touch>();
  t->rule = rule;
  t->key = key;
  if (rules_[rule].measure == Measure::kDistinct) {
    t->distinct.resize(rules_[rule].windows.size());
  } else {
    t->windows.resize(rules_[rule].windows.size());
  }
  Touch* p = t.get();
  states_.emplace(std::move(map_key), std::move(t));
  return p;
}

// A state not in memory is read from its velocity_state row: the log's newer states are always
// in memory (Reload puts them there; they are not evicted before a fold).
Result<VelocityGuard::Touch*> VelocityGuard::Find(store::Store& store, size_t rule,
                                                  const std::string& key) {
  if (!loaded_) PAY_TRY(Reload(store));
  if (states_.size() >= limits::kVelocityCacheEntriesMax && dirty_.empty() && unfolded_.empty()) {
    states_.clear();
  }
  bool fresh = false;
  Touch* t = Cached(rule, key, &fresh);
  if (!fresh) return t;
  auto row = store.FindVelocity(rules_[rule].name, key);
  Result<void> restored = !row ? Result<void>(row.error())
                          : *row ? Restore(*t, (*row)->state)
                                 : Result<void>();
  if (!restored) {
    states_.erase(rules_[rule].name + '\x1f' + key);
    return restored.error();
  }
  return t;
}

Result<VelocityGuard::Plan> VelocityGuard::Check(store::Store& store, const VelocityEvent& e,
                                                 int64_t now_ms) {
  Plan plan;
  const VelocityRule* refused_by = nullptr;
  std::string refused_key;
  int64_t refused_limit = 0, refused_window_ms = 0, retry_after_ms = 0;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const VelocityRule& r = rules_[i];
    if (!r.operations.empty() &&
        std::find(r.operations.begin(), r.operations.end(), e.operation) == r.operations.end()) {
      continue;
    }
    if (!r.channels.empty() &&
        std::find(r.channels.begin(), r.channels.end(), e.channel) == r.channels.end()) {
      continue;
    }
    // A rule applies only when every key dimension is known for this command.
    bool known = true;
    for (Dimension d : r.key) known = known && !DimensionValue(d, e).empty();
    if (!known) continue;
    if (r.measure == Measure::kAmount && (e.currency != r.currency || e.amount_minor <= 0)) continue;
    if (r.measure == Measure::kDistinct && DimensionValue(r.distinct_of, e).empty()) continue;

    std::string key = VelocityKey(r, e);
    PAY_ASSIGN_OR_RETURN(Touch * t, Find(store, i, key));
    plan.touches.push_back(t);
    auto ov = r.overrides.find(key);
    bool refused = false;
    for (size_t w = 0; w < r.windows.size(); ++w) {
      WindowSpec spec = r.windows[w];
      if (ov != r.overrides.end()) spec.limit = ov->second[w];
      Decision d = r.measure == Measure::kDistinct
                       ? CheckDistinct(spec, t->distinct[w], now_ms,
                                       StableHash(DimensionValue(r.distinct_of, e)))
                       : pay::guards::Check(spec, t->windows[w], now_ms,
                                            r.measure == Measure::kAmount ? e.amount_minor : 1);
      if (d.allowed) continue;
      refused = true;
      if (!r.shadow && (refused_by == nullptr || d.retry_after_ms > retry_after_ms)) {
        refused_by = &r;
        refused_key = key;
        refused_limit = spec.limit;
        refused_window_ms = spec.window_ms;
        retry_after_ms = d.retry_after_ms;
      }
    }
    if (refused && r.shadow) ++shadow_hits_;
  }
  if (refused_by != nullptr) {
    ++refusals_;
    Error err = MakeError(
        ErrorCode::kVelocityLimited,
        "velocity: rule '" + refused_by->name + "' allows " + std::to_string(refused_limit) +
            (refused_by->measure == Measure::kAmount ? " minor units of " + refused_by->currency
             : refused_by->measure == Measure::kDistinct ? " distinct values"
                                                          : "") +
            " per " + std::to_string(refused_window_ms / 1000) + "s for " + refused_key +
            (retry_after_ms > 0 ? "; retry after " + std::to_string(retry_after_ms) + " ms"
                                : "; this request can never pass"));
    err.rule = refused_by->name;
    err.response_code = refused_by->measure == Measure::kAmount ? "61" : "65";
    err.retry_after_ms = retry_after_ms > 0 ? retry_after_ms : 0;
    return err;
  }
  return plan;
}

void VelocityGuard::Consume(const Plan& plan, const VelocityEvent& e, int64_t now_ms) {
  for (Touch* t : plan.touches) {
    const VelocityRule& r = rules_[t->rule];
    if (!t->has_undo) {
      t->undo_windows = t->windows;
      t->undo_distinct = t->distinct;
      t->has_undo = true;
    }
    for (size_t w = 0; w < r.windows.size(); ++w) {
      WindowSpec spec = r.windows[w];
      if (auto ov = r.overrides.find(t->key); ov != r.overrides.end()) spec.limit = ov->second[w];
      if (r.measure == Measure::kDistinct) {
        ConsumeDistinct(spec, t->distinct[w], now_ms, StableHash(DimensionValue(r.distinct_of, e)));
      } else {
        pay::guards::Consume(spec, t->windows[w], now_ms,
                             r.measure == Measure::kAmount ? e.amount_minor : 1);
      }
    }
    if (!t->dirty) {
      t->dirty = true;
      dirty_.push_back(t);
    }
  }
}

Result<void> VelocityGuard::Begin(store::Store& store, bool other_writer_committed) {
  if (rules_.empty() || (loaded_ && !other_writer_committed)) return {};
  return Reload(store);
}

// Memory from the store: the folded states are read on demand (Find), the log's are read now.
// A log entry of a rule this guard does not have is kept as it is, for the next fold.
Result<void> VelocityGuard::Reload(store::Store& store) {
  states_.clear();
  unfolded_.clear();
  unfolded_committed_ = 0;
  foreign_.clear();
  loaded_ = false;
  PAY_ASSIGN_OR_RETURN(auto rows, store.VelocityLog());
  for (const store::VelocityLogRow& row : rows) {
    Reader rd(row.body);
    uint8_t version = 0;
    uint32_t n = 0;
    int64_t at_ms = 0;
    bool ok = rd.U8(&version) && version == 1 && rd.I64(&at_ms) && rd.U32(&n);
    for (uint32_t i = 0; ok && i < n; ++i) {
      store::VelocityRow v;
      v.updated_at_ms = at_ms;
      ok = rd.Str(&v.rule, 1 << 10) && rd.Str(&v.key, 1 << 12) && rd.Str(&v.state, 1 << 22);
      if (ok) PAY_TRY(ReloadEntry(std::move(v)));
    }
    if (!ok || !rd.done()) {
      return MakeError(ErrorCode::kCorruptStore,
                       "store: velocity log row " + std::to_string(row.seq) + " is damaged");
    }
  }
  log_rows_ = rows.size();
  unfolded_committed_ = unfolded_.size();
  loaded_ = true;
  return {};
}

Result<void> VelocityGuard::ReloadEntry(store::VelocityRow v) {
  auto rule = std::find_if(rules_.begin(), rules_.end(),
                           [&](const VelocityRule& r) { return r.name == v.rule; });
  if (rule == rules_.end()) {
    foreign_[{v.rule, v.key}] = std::move(v);
    return {};
  }
  bool fresh = false;
  Touch* t = Cached(static_cast<size_t>(rule - rules_.begin()), v.key, &fresh);
  PAY_TRY(Restore(*t, v.state));
  t->updated_at_ms = v.updated_at_ms;
  if (!t->unfolded) {
    t->unfolded = true;
    unfolded_.push_back(t);
  }
  return {};
}

// One log row for the transaction's changed states; or, every kVelocityLogRowsMax transactions
// (or once the states waiting are many), the fold: every state the log holds written to its
// velocity_state row, and the log emptied, in this transaction.
Result<void> VelocityGuard::Flush(store::Store& store, int64_t now_ms) {
  if (dirty_.empty()) return {};
  Writer w;
  w.U8(1);
  w.I64(now_ms);
  w.U32(static_cast<uint32_t>(dirty_.size()));
  for (Touch* t : dirty_) {
    t->updated_at_ms = now_ms;
    w.Str(rules_[t->rule].name);
    w.Str(t->key);
    w.Str(EncodeStates(t->windows, t->distinct));
    if (!t->unfolded) {
      t->unfolded = true;
      unfolded_.push_back(t);
    }
  }
  if (log_rows_ + 1 < limits::kVelocityLogRowsMax &&
      unfolded_.size() < limits::kVelocityUnfoldedStatesMax) {
    appended_ = true;
    return store.AppendVelocityLog(w.bytes());
  }
  for (Touch* t : unfolded_) {
    PAY_TRY(store.PutVelocity({rules_[t->rule].name, t->key, EncodeStates(t->windows, t->distinct),
                               t->updated_at_ms}));
  }
  for (const auto& [key, row] : foreign_) PAY_TRY(store.PutVelocity(row));
  folding_ = true;
  return store.ClearVelocityLog();
}

void VelocityGuard::Commit() {
  for (Touch* t : dirty_) {
    t->dirty = false;
    t->has_undo = false;
    t->undo_windows.clear();
    t->undo_distinct.clear();
  }
  dirty_.clear();
  if (folding_) {
    for (Touch* t : unfolded_) t->unfolded = false;
    unfolded_.clear();
    foreign_.clear();
    log_rows_ = 0;
    if (states_.size() >= limits::kVelocityCacheEntriesMax) states_.clear();
  } else if (appended_) {
    ++log_rows_;
  }
  unfolded_committed_ = unfolded_.size();
  folding_ = appended_ = false;
}

void VelocityGuard::Rollback() {
  for (Touch* t : dirty_) {
    t->windows = std::move(t->undo_windows);
    t->distinct = std::move(t->undo_distinct);
    t->undo_windows.clear();
    t->undo_distinct.clear();
    t->dirty = false;
    t->has_undo = false;
  }
  dirty_.clear();
  for (size_t i = unfolded_committed_; i < unfolded_.size(); ++i) unfolded_[i]->unfolded = false;
  unfolded_.resize(unfolded_committed_);
  folding_ = appended_ = false;
}

Result<std::vector<VelocityWindowStatus>> VelocityGuard::Status(store::Store& store,
                                                                std::string_view rule,
                                                                std::string_view key,
                                                                int64_t now_ms) {
  std::vector<VelocityWindowStatus> out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const VelocityRule& r = rules_[i];
    if (!rule.empty() && r.name != rule) continue;
    // The key must name this rule's dimensions in order.
    size_t pos = 0;
    bool shape = true;
    for (Dimension d : r.key) {
      std::string prefix = std::string(pos ? ";" : "") + std::string(DimensionName(d)) + "=";
      if (key.compare(pos, prefix.size(), prefix) != 0) {
        shape = false;
        break;
      }
      pos = key.find(';', pos + prefix.size());
      if (pos == std::string_view::npos) pos = key.size();
    }
    if (!shape || pos != key.size()) continue;
    PAY_ASSIGN_OR_RETURN(Touch * t, Find(store, i, std::string(key)));
    auto ov = r.overrides.find(std::string(key));
    for (size_t w = 0; w < r.windows.size(); ++w) {
      WindowSpec spec = r.windows[w];
      if (ov != r.overrides.end()) spec.limit = ov->second[w];
      Decision d = r.measure == Measure::kDistinct
                       ? CheckDistinct(spec, t->distinct[w], now_ms, 0)
                       : pay::guards::Check(spec, t->windows[w], now_ms, 1);
      VelocityWindowStatus s;
      s.rule = r.name;
      s.key = std::string(key);
      s.algorithm = std::string(AlgorithmName(spec.algorithm));
      s.window_ms = spec.window_ms;
      s.limit = spec.limit;
      s.used = d.used;
      s.remaining = d.remaining;
      s.retry_after_ms = d.allowed ? 0 : d.retry_after_ms;
      s.shadow = r.shadow;
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--key: no rule" + (rule.empty() ? std::string() : " '" + std::string(rule) + "'") +
                         " is keyed like '" + std::string(key) +
                         "' (write the rule's key dimensions in order, e.g. merchant=acme;ip=10.0.0.1)");
  }
  return out;
}

}  // namespace pay::guards
