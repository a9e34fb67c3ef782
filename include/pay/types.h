#pragma once
// Ledger vocabulary: accounts, postings, entries and their states. Plain data, part of the
// public API (the engine takes and returns these).

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pay/money.h"
#include "pay/result.h"

namespace pay::ledger {

enum class AccountType : int32_t { kAsset = 1, kLiability = 2, kEquity = 3, kRevenue = 4, kExpense = 5 };
enum class Side : uint8_t { kDebit = 1, kCredit = 2 };
enum class OverdraftMode : int32_t { kUnlimited = 0, kNone = 1, kLimit = 2 };

// Asset and expense accounts grow with debits; liability, equity and revenue with credits.
Side NormalSide(AccountType type);
std::string_view AccountTypeName(AccountType type);
Result<AccountType> ParseAccountType(std::string_view name, std::string_view field = "type");
std::string_view SideName(Side side);
Result<Side> ParseSide(std::string_view name, std::string_view field = "side");
std::string_view OverdraftModeName(OverdraftMode mode);

// Small key/value annotations, kept sorted by key.
using Metadata = std::vector<std::pair<std::string, std::string>>;

struct AccountSpec {
  std::string id;
  std::string currency;
  AccountType type = AccountType::kLiability;
  OverdraftMode overdraft = OverdraftMode::kUnlimited;
  int64_t overdraft_limit_minor = 0;  // only with kLimit: how far below zero available may go
  Metadata metadata;
};

struct Account {
  std::string id;
  const Currency* currency = nullptr;
  AccountType type = AccountType::kLiability;
  OverdraftMode overdraft = OverdraftMode::kUnlimited;
  int64_t overdraft_limit_minor = 0;
  Metadata metadata;
  int64_t created_at_ms = 0;
  // The four counters. Each is >= 0, and debits_posted + debits_pending and
  // credits_posted + credits_pending never exceed INT64_MAX, so the derived values below cannot
  // overflow.
  int64_t debits_posted_minor = 0;
  int64_t credits_posted_minor = 0;
  int64_t debits_pending_minor = 0;
  int64_t credits_pending_minor = 0;
  int64_t last_seq = 0;  // newest entry touching the account (0: none)
  bool replayed = false;  // CreateAccount found the same account already there

  Side normal_side() const { return NormalSide(type); }
  // Posted balance, positive on the normal side.
  int64_t balance_minor() const;
  // What can be spent: the posted balance less pending movements away from the normal side.
  int64_t available_minor() const;
};

// A posting requested by a caller.
struct Posting {
  std::string account;
  Side side = Side::kDebit;
  int64_t amount_minor = 0;
};

struct EntrySpec {
  std::string ref;  // required, unique per ledger; the ledger-level idempotency key
  std::string description;
  std::vector<Posting> postings;  // at least one debit and one credit; balanced per currency
  bool pending = false;           // a two-phase hold
  int64_t expires_at_ms = 0;      // pending only; 0: no expiry (absolute time)
  int64_t expires_in_ms = 0;      // pending only; alternative to expires_at_ms, from now
};

enum class EntryKind : int32_t {
  kPosted = 1,    // a normal entry
  kPending = 2,   // a hold
  kPost = 3,      // posts (part of) a hold; resolves_seq names it
  kVoid = 4,      // releases a hold; resolves_seq names it
  kExpire = 5,    // releases an expired hold; resolves_seq names it
  kReversal = 6,  // compensates a posted entry; reverses_seq names it
};
std::string_view EntryKindName(EntryKind kind);

// Which counters a leg moves: posted, pending, or a release of pending.
enum class Phase : uint8_t { kPosted = 0, kPending = 1, kRelease = 2 };
std::string_view PhaseName(Phase phase);

enum class EntryState : int32_t {
  kNone = 0,      // posted entries that were never reversed, and resolutions
  kPending = 1,   // a hold not yet resolved
  kPosted = 2,    // a hold that was posted
  kVoided = 3,
  kExpired = 4,
  kReversed = 5,  // a posted entry that was reversed
};
std::string_view EntryStateName(EntryState state);

struct Leg {
  int64_t account_num = 0;
  std::string account;
  std::string currency;
  Side side = Side::kDebit;
  Phase phase = Phase::kPosted;
  int64_t amount_minor = 0;
  int64_t prev_seq = 0;  // the account's previous entry: an account's history is a linked list
};

struct Entry {
  int64_t seq = 0;  // the entry id; dense, starting at 1
  std::string ref;
  EntryKind kind = EntryKind::kPosted;
  int64_t created_at_ms = 0;
  std::string description;
  int64_t reverses_seq = 0;
  int64_t resolves_seq = 0;
  int64_t expires_at_ms = 0;
  std::vector<Leg> legs;
  std::string hash;  // 32 raw bytes of the audit chain
  EntryState state = EntryState::kNone;
  int64_t resolved_by_seq = 0;  // the entry that posted, voided, expired or reversed this one
  bool replayed = false;        // the reference existed with the same content; nothing moved

  std::string hash_hex() const;
};

// As-of selector for balances: the state after entry `seq`, or after the last entry created at
// or before `time_ms`.
struct AsOf {
  enum class By { kSeq, kTime } by = By::kSeq;
  int64_t value = 0;
};

struct StatementLine {
  int64_t seq = 0;
  int64_t created_at_ms = 0;
  EntryKind kind = EntryKind::kPosted;
  std::string ref;
  std::string description;
  int64_t debit_minor = 0;          // posted movement on this account
  int64_t credit_minor = 0;
  int64_t pending_change_minor = 0;  // change of (debits_pending - credits_pending)
  int64_t balance_minor = 0;         // posted balance after the entry
  int64_t available_minor = 0;       // available after the entry
};

struct VerifyReport {
  int64_t entries_checked = 0;
  int64_t accounts_checked = 0;
  std::vector<std::string> problems;  // at most limits::kListRowsMax, see problems_total
  int64_t problems_total = 0;
  std::string head_hash_hex;
  bool ok() const { return problems_total == 0; }
};

}  // namespace pay::ledger
