#pragma once
// Velocity rules: limits on how often and how much, checked before any money or network work.
// Rules come from a TOML file (docs/examples/velocity.toml documents every field). Each rule
// applies to some operations and channels, keys its counters on a combination of dimensions
// (merchant, card, recipient card, API credential, client IP, channel, account), measures a
// count, an amount sum in one currency, or a count of distinct values, and holds one or more
// windows (rails/guards/velocity_window.h). Mode enforce refuses; mode shadow records a hit and
// lets the command pass. Per-key overrides replace a rule's limits for chosen keys.
//
// Check every rule first, then consume: a refused command consumes nothing. State lives in
// memory for speed and in the store (same transaction as the command's effects) for restarts:
// a transaction appends its changed states to the velocity log (one row), and every
// kVelocityLogRowsMax transactions the log is folded into the per-key velocity_state rows. A
// per-account rule thus writes a page or two per transaction at the log's end instead of a
// random page per touched account. The log's states stay in memory until they are folded.
//
// Threading: used by the engine's writer, one thread at a time.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/store.h"
#include "pay/engine.h"
#include "rails/guards/velocity_window.h"

namespace pay::guards {

// What a rule can key on and measure, taken from one command.
struct VelocityEvent {
  Operation operation = Operation::kTransfer;
  Channel channel = Channel::kLibrary;
  std::string merchant;
  std::string credential;
  std::string ip;
  std::string account;         // the account debited (transfers)
  std::string card;            // card fingerprint (card rails)
  std::string recipient_card;  // recipient card fingerprint (push rails)
  int64_t amount_minor = 0;
  std::string currency;
  std::string distinct_value;  // what a distinct-count rule counts (e.g. the card)
};

enum class Measure : uint8_t { kCount = 1, kAmount = 2, kDistinct = 3 };
enum class Dimension : uint8_t {
  kMerchant = 1,
  kCard = 2,
  kRecipientCard = 3,
  kCredential = 4,
  kIp = 5,
  kChannel = 6,
  kAccount = 7,
};

struct VelocityRule {
  std::string name;
  std::vector<Operation> operations;  // empty: all
  std::vector<Channel> channels;      // empty: all
  std::vector<Dimension> key;         // at least one
  Measure measure = Measure::kCount;
  std::string currency;               // kAmount only
  Dimension distinct_of = Dimension::kCard;  // kDistinct only
  std::vector<WindowSpec> windows;    // at least one
  bool shadow = false;
  // key string -> limits replacing windows[i].limit, same order as windows
  std::unordered_map<std::string, std::vector<int64_t>> overrides;
};

// Parses and validates a rules file. Errors are kInvalidConfig naming the file, the rule and
// the field: "velocity.toml: rule 'card-hourly': windows[0].limit: must be >= 0".
Result<std::vector<VelocityRule>> ParseVelocityRules(std::string_view toml_text,
                                                     std::string_view file_name);
Result<std::vector<VelocityRule>> LoadVelocityRules(const std::string& path);

class VelocityGuard {
 public:
  explicit VelocityGuard(std::vector<VelocityRule> rules);
  ~VelocityGuard();

  struct Touch;  // one rule's state for one key, found by Check, updated by Consume
  struct Plan {
    std::vector<Touch*> touches;
  };

  // Checks every applicable rule at now_ms. A refusal by an enforcing rule is kVelocityLimited
  // (rule, response code 65 for counts and distinct counts, 61 for amounts, retry_after_ms);
  // shadow rules that would refuse are counted and pass. Nothing is consumed either way.
  Result<Plan> Check(store::Store& store, const VelocityEvent& event, int64_t now_ms);
  // Records the event in every rule the plan touched (after a successful Check).
  void Consume(const Plan& plan, const VelocityEvent& event, int64_t now_ms);

  // Transaction hooks. Begin, at the start of a write transaction, reloads the states when
  // another connection committed since this guard's last transaction (or on first use); Flush
  // writes changed states into the open store transaction; Commit forgets the undo log;
  // Rollback restores the states as they were at the last Commit.
  Result<void> Begin(store::Store& store, bool other_writer_committed);
  Result<void> Flush(store::Store& store, int64_t now_ms);
  void Commit();
  void Rollback();

  Result<std::vector<VelocityWindowStatus>> Status(store::Store& store, std::string_view rule,
                                                   std::string_view key, int64_t now_ms);

  size_t rule_count() const { return rules_.size(); }
  // Whether any rule measures an amount (the engine then looks up the command's currency).
  bool measures_amounts() const;
  int64_t shadow_hits() const { return shadow_hits_; }
  int64_t refusals() const { return refusals_; }

 private:
  Result<Touch*> Find(store::Store& store, size_t rule, const std::string& key);
  Touch* Cached(size_t rule, const std::string& key, bool* fresh);
  Result<void> Restore(Touch& t, std::string_view state) const;
  Result<void> Reload(store::Store& store);
  Result<void> ReloadEntry(store::VelocityRow row);

  std::vector<VelocityRule> rules_;
  std::unordered_map<std::string, std::unique_ptr<Touch>> states_;  // "rule\x1fkey"
  std::vector<Touch*> dirty_;
  // States newer in the log than in velocity_state (never evicted), and how many of them were
  // so at the last commit; logged states of rules not configured here, kept for the fold.
  std::vector<Touch*> unfolded_;
  size_t unfolded_committed_ = 0;
  std::map<std::pair<std::string, std::string>, store::VelocityRow> foreign_;
  size_t log_rows_ = 0;  // rows in the store's velocity log
  bool loaded_ = false;
  bool appended_ = false;  // this transaction appended a log row
  bool folding_ = false;   // this transaction folds the log
  int64_t shadow_hits_ = 0;
  int64_t refusals_ = 0;
};

// "merchant=acme;ip=10.0.0.1": the rule's key dimensions in rule order.
std::string VelocityKey(const VelocityRule& rule, const VelocityEvent& event);
std::string_view DimensionName(Dimension d);

}  // namespace pay::guards
