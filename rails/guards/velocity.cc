#include "rails/guards/velocity.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#define TOML_HEADER_ONLY 0
#include <toml++/toml.h>

#include "core/encoding.h"
#include "core/ids.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::guards {

namespace {

constexpr Dimension kDimensions[] = {Dimension::kMerchant, Dimension::kCard,
                                     Dimension::kRecipientCard, Dimension::kCredential,
                                     Dimension::kIp, Dimension::kChannel, Dimension::kAccount};

Result<Dimension> ParseDimension(std::string_view s, const std::string& field) {
  for (Dimension d : kDimensions) {
    if (s == DimensionName(d)) return d;
  }
  return MakeError(ErrorCode::kInvalidConfig,
                   field + ": '" + std::string(s.substr(0, 32)) +
                       "' is not one of merchant, card, recipient_card, credential, ip, channel, "
                       "account");
}

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

// toml++ node helpers that name the field in every error.
class RuleReader {
 public:
  RuleReader(std::string file, std::string rule) : file_(std::move(file)), rule_(std::move(rule)) {}
  Error Err(const std::string& field, const std::string& why) const {
    return MakeError(ErrorCode::kInvalidConfig,
                     file_ + ": rule '" + rule_ + "': " + field + ": " + why);
  }
  Result<std::string> Str(const toml::table& t, const char* field, bool required,
                          const std::string& prefix = "") const {
    const toml::node* n = t.get(field);
    if (n == nullptr) {
      if (required) return Err(prefix + field, "is required");
      return std::string();
    }
    auto v = n->value<std::string>();
    if (!v) return Err(prefix + field, "must be a string");
    return *v;
  }
  Result<std::vector<std::string>> Strings(const toml::table& t, const char* field) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(field);
    if (n == nullptr) return out;
    const toml::array* a = n->as_array();
    if (a == nullptr) return Err(field, "must be an array of strings");
    for (size_t i = 0; i < a->size(); ++i) {
      auto v = (*a)[i].value<std::string>();
      if (!v) return Err(std::string(field) + "[" + std::to_string(i) + "]", "must be a string");
      out.push_back(*v);
    }
    return out;
  }
  Result<void> OnlyKnown(const toml::table& t, std::initializer_list<std::string_view> known,
                         const std::string& prefix = "") const {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (std::string_view name : known) ok = ok || k.str() == name;
      if (!ok) return Err(prefix + std::string(k.str()), "unknown field");
    }
    return {};
  }

 private:
  std::string file_;
  std::string rule_;
};

// A limit is an integer (counts; or minor units), or a decimal string in the rule's currency.
Result<int64_t> ReadLimit(const RuleReader& rr, const toml::node* n, const std::string& field,
                          Measure measure, const Currency* currency) {
  if (n == nullptr) return rr.Err(field, "is required");
  if (auto i = n->value<int64_t>()) {
    if (*i < 0) return rr.Err(field, "must be >= 0");
    return *i;
  }
  if (auto s = n->value<std::string>()) {
    if (measure != Measure::kAmount || currency == nullptr) {
      return rr.Err(field, "must be an integer");
    }
    auto v = ParseDecimalMinor(*s, currency->exponent, field);
    if (!v) return rr.Err(field, v.error().message.substr(v.error().message.find(": ") + 2));
    if (*v < 0) return rr.Err(field, "must be >= 0");
    return *v;
  }
  return rr.Err(field, "must be an integer or, for amounts, a decimal string such as \"500.00\"");
}

Result<VelocityRule> ParseRule(const toml::table& t, size_t index, const std::string& file) {
  VelocityRule r;
  RuleReader pre(file, "#" + std::to_string(index + 1));
  PAY_ASSIGN_OR_RETURN(r.name, pre.Str(t, "name", true));
  if (r.name.empty() || r.name.size() > 64 || !IsPrintableAscii(r.name)) {
    return pre.Err("name", "must be 1-64 printable ASCII characters");
  }
  RuleReader rr(file, r.name);
  PAY_TRY(rr.OnlyKnown(t, {"name", "operations", "channels", "key", "measure", "currency",
                           "distinct", "mode", "window", "override"}));
  PAY_ASSIGN_OR_RETURN(auto ops, rr.Strings(t, "operations"));
  for (size_t i = 0; i < ops.size(); ++i) {
    auto op = ParseOperation(ops[i], "operations[" + std::to_string(i) + "]");
    if (!op) return rr.Err("operations[" + std::to_string(i) + "]", "unknown operation '" + ops[i] + "'");
    r.operations.push_back(*op);
  }
  PAY_ASSIGN_OR_RETURN(auto chans, rr.Strings(t, "channels"));
  for (size_t i = 0; i < chans.size(); ++i) {
    auto c = ParseChannel(chans[i]);
    if (!c) return rr.Err("channels[" + std::to_string(i) + "]", "unknown channel '" + chans[i] + "'");
    r.channels.push_back(*c);
  }
  PAY_ASSIGN_OR_RETURN(auto key, rr.Strings(t, "key"));
  if (key.empty()) return rr.Err("key", "is required: one or more of merchant, card, recipient_card, credential, ip, channel, account");
  for (size_t i = 0; i < key.size(); ++i) {
    std::string f = "key[" + std::to_string(i) + "]";
    auto d = ParseDimension(key[i], f);
    if (!d) return rr.Err(f, d.error().message.substr(f.size() + 2));
    if (std::find(r.key.begin(), r.key.end(), *d) != r.key.end()) return rr.Err(f, "given twice");
    r.key.push_back(*d);
  }
  PAY_ASSIGN_OR_RETURN(std::string measure, rr.Str(t, "measure", false));
  if (measure.empty() || measure == "count") {
    r.measure = Measure::kCount;
  } else if (measure == "amount") {
    r.measure = Measure::kAmount;
  } else if (measure == "distinct") {
    r.measure = Measure::kDistinct;
  } else {
    return rr.Err("measure", "'" + measure + "' is not count, amount or distinct");
  }
  PAY_ASSIGN_OR_RETURN(r.currency, rr.Str(t, "currency", r.measure == Measure::kAmount));
  const Currency* currency = nullptr;
  if (r.measure == Measure::kAmount) {
    currency = FindCurrency(r.currency);
    if (currency == nullptr) return rr.Err("currency", "'" + r.currency + "' is not an ISO 4217 code");
  } else if (!r.currency.empty()) {
    return rr.Err("currency", "only amount rules have a currency");
  }
  PAY_ASSIGN_OR_RETURN(std::string distinct, rr.Str(t, "distinct", r.measure == Measure::kDistinct));
  if (r.measure == Measure::kDistinct) {
    auto d = ParseDimension(distinct, "distinct");
    if (!d) return rr.Err("distinct", d.error().message.substr(10));
    r.distinct_of = *d;
  } else if (!distinct.empty()) {
    return rr.Err("distinct", "only distinct rules name what they count");
  }
  PAY_ASSIGN_OR_RETURN(std::string mode, rr.Str(t, "mode", false));
  if (mode.empty() || mode == "enforce") {
    r.shadow = false;
  } else if (mode == "shadow") {
    r.shadow = true;
  } else {
    return rr.Err("mode", "'" + mode + "' is not enforce or shadow");
  }

  const toml::array* windows = t.get("window") ? t.get("window")->as_array() : nullptr;
  if (windows == nullptr || windows->empty()) {
    return rr.Err("window", "at least one [[rule.window]] is required");
  }
  for (size_t i = 0; i < windows->size(); ++i) {
    std::string f = "window[" + std::to_string(i) + "].";
    const toml::table* w = (*windows)[i].as_table();
    if (w == nullptr) return rr.Err("window[" + std::to_string(i) + "]", "must be a table");
    PAY_TRY(rr.OnlyKnown(*w, {"algorithm", "window", "limit"}, f));
    PAY_ASSIGN_OR_RETURN(std::string algo, rr.Str(*w, "algorithm", true, f));
    auto a = ParseAlgorithm(algo, f + "algorithm");
    if (!a) return rr.Err(f + "algorithm", "'" + algo + "' is not fixed_window, sliding_log, sliding_window_counter, token_bucket, leaky_bucket or gcra");
    PAY_ASSIGN_OR_RETURN(std::string span, rr.Str(*w, "window", true, f));
    auto ms = ParseDurationMs(span, f + "window");
    if (!ms) return rr.Err(f + "window", "'" + span + "' is not a positive duration (90s, 15m, 24h, 7d)");
    PAY_ASSIGN_OR_RETURN(int64_t limit, ReadLimit(rr, w->get("limit"), f + "limit", r.measure, currency));
    WindowSpec spec{*a, *ms, limit};
    auto valid = r.measure == Measure::kDistinct ? ValidateDistinctWindow(spec, f)
                                                 : ValidateWindow(spec, f);
    if (!valid) return rr.Err(f.substr(0, f.size() - 1), valid.error().message);
    r.windows.push_back(spec);
  }
  if (const toml::node* ov = t.get("override")) {
    const toml::array* arr = ov->as_array();
    if (arr == nullptr) return rr.Err("override", "must be an array of tables ([[rule.override]])");
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string f = "override[" + std::to_string(i) + "].";
      const toml::table* o = (*arr)[i].as_table();
      if (o == nullptr) return rr.Err("override[" + std::to_string(i) + "]", "must be a table");
      PAY_TRY(rr.OnlyKnown(*o, {"key", "limits"}, f));
      PAY_ASSIGN_OR_RETURN(std::string k, rr.Str(*o, "key", true, f));
      const toml::array* lims = o->get("limits") ? o->get("limits")->as_array() : nullptr;
      if (lims == nullptr || lims->size() != r.windows.size()) {
        return rr.Err(f + "limits", "must list one limit per window (" + std::to_string(r.windows.size()) + ")");
      }
      std::vector<int64_t> values;
      for (size_t j = 0; j < lims->size(); ++j) {
        PAY_ASSIGN_OR_RETURN(int64_t v, ReadLimit(rr, lims->get(j), f + "limits[" + std::to_string(j) + "]",
                                                  r.measure, currency));
        values.push_back(v);
      }
      if (!r.overrides.emplace(k, std::move(values)).second) return rr.Err(f + "key", "'" + k + "' given twice");
    }
  }
  return r;
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

std::string_view DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kMerchant: return "merchant";
    case Dimension::kCard: return "card";
    case Dimension::kRecipientCard: return "recipient_card";
    case Dimension::kCredential: return "credential";
    case Dimension::kIp: return "ip";
    case Dimension::kChannel: return "channel";
    case Dimension::kAccount: return "account";
  }
  return "unknown";
}

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

Result<std::vector<VelocityRule>> ParseVelocityRules(std::string_view text, std::string_view file) {
  std::string name(file);
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return MakeError(ErrorCode::kInvalidConfig, name + ":" + std::to_string(where.line) + ":" +
                                                    std::to_string(where.column) + ": " +
                                                    std::string(e.description()));
  }
  for (const auto& [k, v] : root) {
    if (k.str() != "rule") {
      return MakeError(ErrorCode::kInvalidConfig,
                       name + ": unknown top-level field '" + std::string(k.str()) + "' (rules are [[rule]] tables)");
    }
  }
  std::vector<VelocityRule> rules;
  const toml::array* arr = root.get("rule") ? root.get("rule")->as_array() : nullptr;
  if (root.get("rule") != nullptr && arr == nullptr) {
    return MakeError(ErrorCode::kInvalidConfig, name + ": 'rule' must be an array of tables ([[rule]])");
  }
  if (arr == nullptr) return rules;
  if (arr->size() > limits::kVelocityRulesMax) {
    return MakeError(ErrorCode::kInvalidConfig, name + ": more than " +
                                                    std::to_string(limits::kVelocityRulesMax) + " rules");
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    const toml::table* t = (*arr)[i].as_table();
    if (t == nullptr) {
      return MakeError(ErrorCode::kInvalidConfig, name + ": rule #" + std::to_string(i + 1) + " is not a table");
    }
    PAY_ASSIGN_OR_RETURN(VelocityRule r, ParseRule(*t, i, name));
    for (const VelocityRule& other : rules) {
      if (other.name == r.name) {
        return MakeError(ErrorCode::kInvalidConfig, name + ": rule '" + r.name + "': name: given twice");
      }
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

Result<std::vector<VelocityRule>> LoadVelocityRules(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInvalidConfig, path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > limits::kConfigBytesMax) {
    return MakeError(ErrorCode::kInvalidConfig, path + ": larger than 1 MiB");
  }
  return ParseVelocityRules(ss.str(), path);
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
