// Velocity rules files: TOML parsed into VelocityRule values, every error naming the file, the
// rule and the field (rails/guards/velocity.h).

#include <algorithm>
#include <fstream>
#include <sstream>

#define TOML_HEADER_ONLY 0
#include <toml++/toml.h>

#include "core/ids.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/money.h"
#include "rails/guards/velocity.h"

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

}  // namespace pay::guards
