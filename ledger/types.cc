#include "pay/types.h"

#include <string>

#include "core/crypto.h"

namespace pay::ledger {

Side NormalSide(AccountType type) {
  return (type == AccountType::kAsset || type == AccountType::kExpense) ? Side::kDebit
                                                                         : Side::kCredit;
}

std::string_view AccountTypeName(AccountType type) {
  switch (type) {
    case AccountType::kAsset: return "asset";
    case AccountType::kLiability: return "liability";
    case AccountType::kEquity: return "equity";
    case AccountType::kRevenue: return "revenue";
    case AccountType::kExpense: return "expense";
  }
  return "unknown";
}

Result<AccountType> ParseAccountType(std::string_view name, std::string_view field) {
  for (AccountType t : {AccountType::kAsset, AccountType::kLiability, AccountType::kEquity,
                        AccountType::kRevenue, AccountType::kExpense}) {
    if (name == AccountTypeName(t)) return t;
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not one of asset, liability, equity, revenue, expense");
}

std::string_view SideName(Side side) { return side == Side::kDebit ? "debit" : "credit"; }

Result<Side> ParseSide(std::string_view name, std::string_view field) {
  if (name == "debit") return Side::kDebit;
  if (name == "credit") return Side::kCredit;
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 32)) +
                       "' is not debit or credit");
}

std::string_view OverdraftModeName(OverdraftMode mode) {
  switch (mode) {
    case OverdraftMode::kUnlimited: return "unlimited";
    case OverdraftMode::kNone: return "none";
    case OverdraftMode::kLimit: return "limit";
  }
  return "unknown";
}

std::string_view EntryKindName(EntryKind kind) {
  switch (kind) {
    case EntryKind::kPosted: return "posted";
    case EntryKind::kPending: return "pending";
    case EntryKind::kPost: return "post";
    case EntryKind::kVoid: return "void";
    case EntryKind::kExpire: return "expire";
    case EntryKind::kReversal: return "reversal";
  }
  return "unknown";
}

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kPosted: return "posted";
    case Phase::kPending: return "pending";
    case Phase::kRelease: return "release";
  }
  return "unknown";
}

std::string_view EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kNone: return "none";
    case EntryState::kPending: return "pending";
    case EntryState::kPosted: return "posted";
    case EntryState::kVoided: return "voided";
    case EntryState::kExpired: return "expired";
    case EntryState::kReversed: return "reversed";
  }
  return "unknown";
}

std::string Entry::hash_hex() const { return ToHex(hash); }

int64_t Account::balance_minor() const {
  return normal_side() == Side::kDebit ? debits_posted_minor - credits_posted_minor
                                       : credits_posted_minor - debits_posted_minor;
}

int64_t Account::available_minor() const {
  // Written so that no intermediate leaves int64, given the counter invariant in types.h.
  return normal_side() == Side::kDebit
             ? debits_posted_minor - (credits_posted_minor + credits_pending_minor)
             : credits_posted_minor - (debits_posted_minor + debits_pending_minor);
}

}  // namespace pay::ledger
