#include "ledger/ledger.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/assert.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "core/limits.h"
#include "ledger/codec.h"

namespace pay::ledger {

struct Ledger::Draft {
  EntryKind kind = EntryKind::kPosted;
  std::string ref;
  std::string description;
  int64_t reverses_seq = 0;
  int64_t resolves_seq = 0;
  int64_t expires_at_ms = 0;
  std::vector<Leg> legs;  // account, side, phase, amount set; the rest is filled by Append
  std::string digest;
};

namespace {

std::string Field(std::string_view base, size_t i, std::string_view name) {
  return std::string(base) + "[" + std::to_string(i) + "]." + std::string(name);
}

int PhaseIndex(Phase p) { return static_cast<int>(p); }

struct Counters {
  int64_t dp = 0, cp = 0, dpend = 0, cpend = 0;
};

Counters CountersOf(const store::AccountRow& r) {
  return {r.debits_posted_minor, r.credits_posted_minor, r.debits_pending_minor,
          r.credits_pending_minor};
}

void SetCounters(store::AccountRow& r, const Counters& c) {
  r.debits_posted_minor = c.dp;
  r.credits_posted_minor = c.cp;
  r.debits_pending_minor = c.dpend;
  r.credits_pending_minor = c.cpend;
}

// Applies (sign = +1) or undoes (sign = -1) one leg on an account's counters. Fails on int64
// overflow or a counter going negative (which means corrupt input, never valid use).
bool ApplyLeg(Counters& a, const Leg& l, int sign) {
  int64_t* counter;
  int dir = sign;
  bool debit = l.side == Side::kDebit;
  switch (l.phase) {
    case Phase::kPosted: counter = debit ? &a.dp : &a.cp; break;
    case Phase::kPending: counter = debit ? &a.dpend : &a.cpend; break;
    case Phase::kRelease:
      counter = debit ? &a.dpend : &a.cpend;
      dir = -sign;
      break;
    default: return false;
  }
  int64_t next;
  if (dir > 0 ? __builtin_add_overflow(*counter, l.amount_minor, &next)
              : __builtin_sub_overflow(*counter, l.amount_minor, &next)) {
    return false;
  }
  if (next < 0) return false;
  *counter = next;
  int64_t sum;
  return !__builtin_add_overflow(a.dp, a.dpend, &sum) && !__builtin_add_overflow(a.cp, a.cpend, &sum);
}

bool ApplyLeg(store::AccountRow& r, const Leg& l, int sign) {
  Counters c = CountersOf(r);
  if (!ApplyLeg(c, l, sign)) return false;
  SetCounters(r, c);
  return true;
}

// Same derivation as Account::available_minor().
int64_t Available(const Counters& c, int32_t type) {
  return NormalSide(static_cast<AccountType>(type)) == Side::kDebit ? c.dp - (c.cp + c.cpend)
                                                                     : c.cp - (c.dp + c.dpend);
}
int64_t Available(const store::AccountRow& r) { return Available(CountersOf(r), r.type); }

Account AccountFromRow(const store::AccountRow& r, const Currency* currency, Metadata metadata) {
  Account a;
  a.id = r.id;
  a.currency = currency;
  a.type = static_cast<AccountType>(r.type);
  a.overdraft = static_cast<OverdraftMode>(r.overdraft_mode);
  a.overdraft_limit_minor = r.overdraft_limit_minor;
  a.metadata = std::move(metadata);
  a.created_at_ms = r.created_at_ms;
  a.debits_posted_minor = r.debits_posted_minor;
  a.credits_posted_minor = r.credits_posted_minor;
  a.debits_pending_minor = r.debits_pending_minor;
  a.credits_pending_minor = r.credits_pending_minor;
  a.last_seq = r.last_seq;
  return a;
}

// The overdraft floor of an account: the lowest available balance it may reach.
std::optional<int64_t> Floor(const store::AccountRow& r) {
  switch (static_cast<OverdraftMode>(r.overdraft_mode)) {
    case OverdraftMode::kNone: return 0;
    case OverdraftMode::kLimit: return -r.overdraft_limit_minor;
    default: return std::nullopt;
  }
}

bool IsResolution(EntryKind k) {
  return k == EntryKind::kPost || k == EntryKind::kVoid || k == EntryKind::kExpire;
}

}  // namespace

struct Ledger::Scratch {
  struct Net {
    std::string_view currency;
    std::array<int64_t, 3> by_phase{};
  };
  struct Touched {
    Cached* account;
    Counters next;
  };
  std::vector<Cached*> accts;
  std::vector<Net> nets;
  std::vector<Touched> next;
};

Ledger::Ledger(store::Store& store, const Clock& clock, size_t cached_accounts_max)
    : store_(store),
      cached_accounts_max_(cached_accounts_max),
      clock_(clock),
      scratch_(std::make_unique<Scratch>()) {}

Ledger::~Ledger() {
  if (in_txn_) Rollback();
}

bool Ledger::IsStoreError(const Error& e) const {
  return ErrorRetryAdvice(e.code) == RetryAdvice::kRetrySameKey ||
         ErrorRetryAdvice(e.code) == RetryAdvice::kContactOperator;
}

void Ledger::Poison(const Error& e) { poisoned_ = true; }

template <typename Fn>
auto Ledger::Write(Fn&& fn) -> decltype(fn()) {
  if (in_txn_) {
    if (poisoned_) {
      return MakeError(ErrorCode::kStoreIo, "store: the transaction failed earlier; roll it back");
    }
    return fn();
  }
  PAY_TRY(Begin());
  auto r = fn();
  if (poisoned_) {
    Rollback();
    if (r.has_value()) return MakeError(ErrorCode::kInternal, "store: poisoned without an error");
    return r;
  }
  // A business error leaves the transaction clean; commit what it holds (an expiry recorded on
  // the way, for instance).
  auto c = Commit();
  if (!c) return c.error();
  return r;
}

Result<void> Ledger::LoadTip() {
  PAY_ASSIGN_OR_RETURN(auto last, store_.LastEntry());
  if (last) {
    tip_seq_ = last->seq;
    tip_hash_ = last->hash;
    tip_created_at_ms_ = last->created_at_ms;
  } else {
    tip_seq_ = seq_base_;
    tip_hash_ = GenesisHash();
    tip_created_at_ms_ = 0;
  }
  tip_loaded_ = true;
  return {};
}

Result<void> Ledger::Begin() {
  if (in_txn_) return MakeError(ErrorCode::kInternal, "ledger: transaction already open");
  PAY_ASSIGN_OR_RETURN(bool changed, store_.BeginWrite());
  other_writer_committed_ = changed;
  in_txn_ = true;
  poisoned_ = false;
  txn_net_.clear();
  dirty_.clear();
  if (changed) ForgetOthersChanges(store_.others_changes());
  if (!tip_loaded_ || cache_.size() >= cached_accounts_max_) {
    cache_.clear();
    tip_loaded_ = false;
  }
  if (!tip_loaded_) {
    auto t = LoadTip();
    if (!t) {
      Rollback();
      return t;
    }
  }
  auto swept = ExpireDueLocked(limits::kExpirySweepPerTransactionMax);
  if (!swept || poisoned_) {
    Rollback();
    if (!swept) return swept.error();
    return MakeError(ErrorCode::kStoreIo, "store: expiry sweep failed");
  }
  swept_at_begin_ = *swept;
  return {};
}

// Another writer committed since this ledger's previous transaction: the accounts it changed
// (or, when the store cannot say, every account) and the tip are read again. A large cache is
// dropped whole rather than searched.
void Ledger::ForgetOthersChanges(const store::Changes& ch) {
  constexpr size_t kSearchedCacheMax = 4096;
  if (!ch.known || cache_.size() > kSearchedCacheMax) {
    cache_.clear();
    tip_loaded_ = false;
    return;
  }
  if (ch.entries) tip_loaded_ = false;
  if (ch.accounts.empty()) return;
  std::erase_if(cache_, [&](const auto& kv) { return ch.accounts.contains(kv.second.row.num); });
}

Result<void> Ledger::Commit() {
  if (!in_txn_) return MakeError(ErrorCode::kInternal, "ledger: no transaction to commit");
  if (poisoned_) {
    Rollback();
    return MakeError(ErrorCode::kStoreIo, "store: the transaction failed and was rolled back");
  }
  // Conservation, before anything is made durable.
  for (const auto& [currency, net] : txn_net_) {
    PAY_ASSERT(net[0] == 0 && net[1] == 0 && net[2] == 0, "transaction does not balance");
  }
  for (Cached* c : dirty_) {
    auto r = store_.UpdateAccountCounters(c->row);
    if (!r) {
      Rollback();
      return r;
    }
  }
  auto r = store_.Commit();
  if (!r) {
    Rollback();
    return r;
  }
  for (Cached* c : dirty_) c->dirty = false;
  dirty_.clear();
  in_txn_ = false;
  return {};
}

void Ledger::Rollback() {
  store_.Rollback();
  in_txn_ = false;
  poisoned_ = false;
  cache_.clear();
  dirty_.clear();
  txn_net_.clear();
  tip_loaded_ = false;
}

Result<Ledger::Cached*> Ledger::Load(std::string_view id) {
  auto it = cache_.find(id);
  if (it != cache_.end()) return &it->second;
  auto row = store_.FindAccount(id);
  if (!row) {
    Poison(row.error());
    return row.error();
  }
  if (!row->has_value()) {
    return MakeError(ErrorCode::kUnknownAccount, "no account '" + std::string(id) + "'");
  }
  const store::AccountRow& r = **row;
  int64_t sum;
  if (r.debits_posted_minor < 0 || r.credits_posted_minor < 0 || r.debits_pending_minor < 0 ||
      r.credits_pending_minor < 0 ||
      __builtin_add_overflow(r.debits_posted_minor, r.debits_pending_minor, &sum) ||
      __builtin_add_overflow(r.credits_posted_minor, r.credits_pending_minor, &sum)) {
    return MakeError(ErrorCode::kCorruptStore,
                     "store: counters of account '" + r.id + "' are out of range");
  }
  const Currency* currency = FindCurrency(r.currency);
  if (currency == nullptr) {
    return MakeError(ErrorCode::kCorruptStore, "store: account '" + r.id + "' has currency '" +
                                                   r.currency + "'");
  }
  std::string key = r.id;
  auto [it2, inserted] = cache_.emplace(std::move(key), Cached{std::move(**row), currency, false});
  return &it2->second;
}

Result<Account> Ledger::ToAccount(const store::AccountRow& row) {
  const Currency* currency = FindCurrency(row.currency);
  if (currency == nullptr) {
    return MakeError(ErrorCode::kCorruptStore, "store: account '" + row.id + "' has currency '" +
                                                   row.currency + "'");
  }
  PAY_ASSIGN_OR_RETURN(Metadata md, DecodeMetadata(row.metadata));
  return AccountFromRow(row, currency, std::move(md));
}

Result<void> Ledger::Validate(const AccountSpec& spec) const {
  PAY_TRY(ValidateAccountId(spec.id, "id"));
  PAY_TRY(LookupCurrency(spec.currency, "currency"));
  if (AccountTypeName(spec.type) == "unknown") {
    return MakeError(ErrorCode::kInvalidArgument, "type: unknown account type");
  }
  if (OverdraftModeName(spec.overdraft) == "unknown") {
    return MakeError(ErrorCode::kInvalidArgument, "overdraft: unknown overdraft mode");
  }
  if (spec.overdraft_limit_minor < 0) {
    return MakeError(ErrorCode::kInvalidAmount, "overdraft_limit: must not be negative");
  }
  if (spec.overdraft != OverdraftMode::kLimit && spec.overdraft_limit_minor != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "overdraft_limit: only accounts with a limited overdraft take a limit");
  }
  return ValidateMetadata(spec.metadata);
}

Result<void> ValidateMetadata(const Metadata& metadata) {
  if (metadata.size() > limits::kMetadataPairsMax) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "metadata: more than " + std::to_string(limits::kMetadataPairsMax) + " pairs");
  }
  Metadata md = metadata;
  std::sort(md.begin(), md.end());
  for (size_t i = 0; i < md.size(); ++i) {
    const auto& [k, v] = md[i];
    if (k.empty() || k.size() > limits::kMetadataKeyBytesMax || !IsPrintableAscii(k)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "metadata: key '" + k.substr(0, 64) + "' must be 1-64 printable ASCII characters");
    }
    if (v.size() > limits::kMetadataValueBytesMax) {
      return MakeError(ErrorCode::kLimitExceeded, "metadata." + k + ": value longer than " +
                                                      std::to_string(limits::kMetadataValueBytesMax) +
                                                      " bytes");
    }
    if (i > 0 && md[i - 1].first == k) {
      return MakeError(ErrorCode::kInvalidArgument, "metadata: key '" + k + "' given twice");
    }
  }
  return {};
}

Result<Account> Ledger::CreateAccount(const AccountSpec& spec) {
  PAY_TRY(Validate(spec));
  const Currency* currency = FindCurrency(spec.currency);
  Metadata md = spec.metadata;
  std::sort(md.begin(), md.end());
  return Write([&]() -> Result<Account> {
    store::AccountRow row;
    row.id = spec.id;
    row.currency = std::string(currency->code);
    row.type = static_cast<int32_t>(spec.type);
    row.overdraft_mode = static_cast<int32_t>(spec.overdraft);
    row.overdraft_limit_minor = spec.overdraft_limit_minor;
    row.metadata = EncodeMetadata(md);
    row.created_at_ms = clock_.NowMs();
    auto existing = store_.FindAccount(spec.id);
    if (!existing) {
      Poison(existing.error());
      return existing.error();
    }
    if (existing->has_value()) {
      const store::AccountRow& e = **existing;
      const char* differs = e.currency != row.currency                   ? "currency"
                            : e.type != row.type                         ? "type"
                            : e.overdraft_mode != row.overdraft_mode     ? "overdraft"
                            : e.overdraft_limit_minor != row.overdraft_limit_minor ? "overdraft_limit"
                            : e.metadata != row.metadata                 ? "metadata"
                                                                         : nullptr;
      if (differs != nullptr) {
        return MakeError(ErrorCode::kAccountExists, std::string(differs) + ": account '" + spec.id +
                                                        "' exists with another " + differs);
      }
      PAY_ASSIGN_OR_RETURN(Account a, ToAccount(e));
      a.replayed = true;
      return a;
    }
    auto r = store_.InsertAccount(&row);
    if (!r) {
      if (IsStoreError(r.error())) Poison(r.error());
      return r.error();
    }
    return ToAccount(row);
  });
}

// Append, step 1: the accounts of the legs (into the scratch), and the net of each currency
// per phase.
Result<void> Ledger::ResolveLegs(std::vector<Leg>& legs) {
  // Scratch vectors keep their capacity between calls: no allocation on the hot path.
  using Net = Scratch::Net;
  std::vector<Cached*>& accts = scratch_->accts;
  accts.assign(legs.size(), nullptr);
  std::vector<Net>& nets = scratch_->nets;
  nets.clear();
  for (size_t i = 0; i < legs.size(); ++i) {
    auto c = Load(legs[i].account);
    if (!c) {
      Error e = c.error();
      e.message = Field("postings", i, "account") + ": " + e.message;
      return e;
    }
    accts[i] = *c;
    legs[i].account_num = (*c)->row.num;
    legs[i].currency = (*c)->row.currency;
    std::string_view cur = (*c)->currency->code;
    auto it = std::find_if(nets.begin(), nets.end(), [&](const Net& n) { return n.currency == cur; });
    if (it == nets.end()) it = nets.insert(nets.end(), Net{cur, {}});
    int64_t& net = it->by_phase[PhaseIndex(legs[i].phase)];
    int64_t signed_amount = legs[i].side == Side::kDebit ? legs[i].amount_minor : -legs[i].amount_minor;
    if (__builtin_add_overflow(net, signed_amount, &net)) {
      return MakeError(ErrorCode::kAmountOverflow,
                       Field("postings", i, "amount") + ": the entry total exceeds the int64 range");
    }
  }
  return {};
}

// Append, step 1 continued: each currency balances on its own, per phase.
Result<void> Ledger::CheckBalanced() const {
  using Net = Scratch::Net;
  const std::vector<Net>& nets = scratch_->nets;
  for (const Net& n : nets) {
    for (int p = 0; p < 3; ++p) {
      if (n.by_phase[p] != 0) {
        const Currency& cur = *FindCurrency(n.currency);
        int64_t off = n.by_phase[p];
        std::string what = std::string(n.currency) +
                           (off > 0 ? " debits exceed credits by " : " credits exceed debits by ") +
                           FormatMinor(off > 0 ? off : -off, cur.exponent);
        if (nets.size() > 1) {
          std::string list;
          for (const Net& m : nets) list += (list.empty() ? "" : ", ") + std::string(m.currency);
          return MakeError(ErrorCode::kCurrencyMismatch,
                           "postings: " + what + "; the accounts are in " + list +
                               " and each currency must balance on its own (use a clearing "
                               "account per currency for FX)");
        }
        return MakeError(ErrorCode::kUnbalancedEntry, "postings: " + what);
      }
    }
  }

  return {};
}

// Append, step 2: the new counters of every touched account; overflow and overdraft checks.
Result<void> Ledger::NextCounters(const std::vector<Leg>& legs) {
  using Touched = Scratch::Touched;
  const std::vector<Cached*>& accts = scratch_->accts;
  std::vector<Touched>& next = scratch_->next;
  next.clear();
  for (size_t i = 0; i < legs.size(); ++i) {
    auto it = std::find_if(next.begin(), next.end(), [&](const Touched& t) { return t.account == accts[i]; });
    if (it == next.end()) it = next.insert(next.end(), {accts[i], CountersOf(accts[i]->row)});
    if (!ApplyLeg(it->next, legs[i], +1)) {
      if (legs[i].phase == Phase::kRelease) {
        return MakeError(ErrorCode::kCorruptStore, "store: releasing more than is pending on '" +
                                                       legs[i].account + "'");
      }
      return MakeError(ErrorCode::kAmountOverflow,
                       Field("postings", i, "amount") + ": account '" + legs[i].account +
                           "' would exceed the int64 range of minor units");
    }
  }
  for (const Touched& t : next) {
    const store::AccountRow& row = t.account->row;
    std::optional<int64_t> floor = Floor(row);
    if (!floor) continue;
    int64_t before = Available(row), after = Available(t.next, row.type);
    if (after < before && after < *floor) {
      const Currency* cur = t.account->currency;
      return MakeError(ErrorCode::kOverdraft,
                       "postings: account '" + row.id + "' would have " +
                           FormatMinor(after, cur->exponent) + " " + std::string(cur->code) +
                           " available, below its floor of " + FormatMinor(*floor, cur->exponent));
    }
  }

  return {};
}

// Append, step 4: the new counters and nets into the cache (counters reach the store at commit).
void Ledger::ApplyToCache(int64_t seq) {
  using Net = Scratch::Net;
  using Touched = Scratch::Touched;
  const std::vector<Touched>& next = scratch_->next;
  const std::vector<Net>& nets = scratch_->nets;
  for (const Touched& t : next) {
    Cached* c = t.account;
    SetCounters(c->row, t.next);
    c->row.last_seq = seq;
    if (!c->dirty) {
      c->dirty = true;
      dirty_.push_back(c);
    }
  }
  for (const Net& n : nets) {
    auto it = std::find_if(txn_net_.begin(), txn_net_.end(),
                           [&](const auto& e) { return e.first == n.currency; });
    if (it == txn_net_.end()) it = txn_net_.insert(txn_net_.end(), {n.currency, {0, 0, 0}});
    for (int p = 0; p < 3; ++p) it->second[p] += n.by_phase[p];
  }
}

Result<std::optional<Entry>> Ledger::Append(Draft d) {
  std::vector<Leg> legs = std::move(d.legs);
  PAY_TRY(ResolveLegs(legs));
  PAY_TRY(CheckBalanced());
  PAY_TRY(NextCounters(legs));
  const std::vector<Cached*>& accts = scratch_->accts;

  // 3. The row, chained to the tip (step 4, ApplyToCache, once it is in the journal).
  store::EntryRow row;
  row.seq = tip_seq_ + 1;
  row.ref = std::move(d.ref);
  row.kind = static_cast<int32_t>(d.kind);
  row.created_at_ms = std::max(clock_.NowMs(), tip_created_at_ms_);
  row.description = std::move(d.description);
  row.reverses_seq = d.reverses_seq;
  row.resolves_seq = d.resolves_seq;
  row.expires_at_ms = d.expires_at_ms;
  for (size_t i = 0; i < legs.size(); ++i) legs[i].prev_seq = accts[i]->row.last_seq;
  row.legs = EncodeLegs(legs);
  row.digest = std::move(d.digest);
  row.hash = ChainHash(tip_hash_, row);
  row.ref_is_new = !owned_ref_prefix_.empty() && row.ref.starts_with(owned_ref_prefix_);

  auto inserted = store_.InsertEntry(row);
  if (!inserted) {
    Poison(inserted.error());
    return inserted.error();
  }
  if (!*inserted) return std::optional<Entry>();  // the reference is taken

  ApplyToCache(row.seq);
  tip_seq_ = row.seq;
  tip_hash_ = row.hash;  // assigned into its existing buffer
  tip_created_at_ms_ = row.created_at_ms;

  Entry e;
  e.seq = row.seq;
  e.ref = std::move(row.ref);  // the row is done with
  e.kind = d.kind;
  e.created_at_ms = row.created_at_ms;
  e.description = std::move(row.description);
  e.reverses_seq = row.reverses_seq;
  e.resolves_seq = row.resolves_seq;
  e.expires_at_ms = row.expires_at_ms;
  e.legs = std::move(legs);
  e.hash = std::move(row.hash);
  return std::optional<Entry>(std::move(e));
}

Result<Entry> Ledger::Replay(std::string_view ref, std::string_view digest, const Error* cause) {
  auto row = store_.FindEntryByRef(ref);
  if (!row) {
    Poison(row.error());
    return row.error();
  }
  if (!row->has_value()) {
    if (cause) return *cause;
    return MakeError(ErrorCode::kInternal, "ref: taken but not found");
  }
  if ((*row)->digest != digest) {
    return MakeError(ErrorCode::kReferenceReused,
                     "ref: '" + std::string(ref) + "' was used for entry " +
                         std::to_string((*row)->seq) + " with other content");
  }
  PAY_ASSIGN_OR_RETURN(Entry e, ToEntry(**row));
  e.replayed = true;
  return e;
}

Result<void> Ledger::Validate(const EntrySpec& spec, bool ref_required) const {
  if (ref_required || !spec.ref.empty()) PAY_TRY(ValidateReference(spec.ref, "ref"));
  if (spec.description.size() > limits::kDescriptionBytesMax) {
    return MakeError(ErrorCode::kLimitExceeded, "description: longer than " +
                                                    std::to_string(limits::kDescriptionBytesMax) +
                                                    " bytes");
  }
  if (spec.postings.size() > limits::kPostingsPerEntryMax) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "postings: more than " + std::to_string(limits::kPostingsPerEntryMax));
  }
  bool has_debit = false, has_credit = false;
  for (size_t i = 0; i < spec.postings.size(); ++i) {
    const Posting& p = spec.postings[i];
    PAY_TRY(ValidateAccountId(p.account, Field("postings", i, "account")));
    if (p.side != Side::kDebit && p.side != Side::kCredit) {
      return MakeError(ErrorCode::kInvalidArgument, Field("postings", i, "side") + ": not debit or credit");
    }
    if (p.amount_minor <= 0) {
      return MakeError(ErrorCode::kInvalidAmount,
                       Field("postings", i, "amount") + ": must be positive, got " +
                           std::to_string(p.amount_minor) + " minor units");
    }
    (p.side == Side::kDebit ? has_debit : has_credit) = true;
  }
  if (!has_debit || !has_credit) {
    return MakeError(ErrorCode::kTooFewPostings,
                     "postings: an entry needs at least one debit and one credit");
  }
  if (std::all_of(spec.postings.begin(), spec.postings.end(),
                  [&](const Posting& p) { return p.account == spec.postings[0].account; })) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "postings: every posting names account '" + spec.postings[0].account +
                         "'; an entry moves money between accounts");
  }
  if (!spec.pending && (spec.expires_at_ms != 0 || spec.expires_in_ms != 0)) {
    return MakeError(ErrorCode::kInvalidArgument, "expires: only pending entries expire");
  }
  if (spec.expires_at_ms != 0 && spec.expires_in_ms != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "expires: give expires_at or expires_in, not both");
  }
  if (spec.expires_in_ms < 0 || spec.expires_in_ms > limits::kHoldExpiryMsMax) {
    return MakeError(ErrorCode::kInvalidTime, "expires_in: must be between 1 ms and 400 days");
  }
  int64_t now = clock_.NowMs();
  if (spec.expires_at_ms != 0 &&
      (spec.expires_at_ms <= now || spec.expires_at_ms - now > limits::kHoldExpiryMsMax)) {
    return MakeError(ErrorCode::kInvalidTime,
                     "expires_at: must be in the future and at most 400 days ahead");
  }

  return {};
}

Result<Entry> Ledger::CreateEntry(const EntrySpec& spec) {
  PAY_TRY(Validate(spec));
  std::string digest = RequestDigest(spec, spec.ref);

  return Write([&]() -> Result<Entry> {
    Draft d;
    d.kind = spec.pending ? EntryKind::kPending : EntryKind::kPosted;
    d.ref = spec.ref;
    d.description = spec.description;
    if (spec.pending) {
      d.expires_at_ms = spec.expires_at_ms != 0   ? spec.expires_at_ms
                        : spec.expires_in_ms != 0 ? clock_.NowMs() + spec.expires_in_ms
                                                  : 0;
    }
    d.digest = digest;
    d.legs.reserve(spec.postings.size());
    for (const Posting& p : spec.postings) {
      Leg l;
      l.account = p.account;
      l.side = p.side;
      l.phase = spec.pending ? Phase::kPending : Phase::kPosted;
      l.amount_minor = p.amount_minor;
      d.legs.push_back(std::move(l));
    }
    const int64_t expires_at_ms = d.expires_at_ms;
    auto r = Append(std::move(d));
    if (!r) {
      if (poisoned_) return r.error();
      return Replay(spec.ref, digest, &r.error());
    }
    if (!r->has_value()) return Replay(spec.ref, digest, nullptr);
    Entry e = std::move(**r);
    if (spec.pending) {
      auto s = store_.PutEntryState({e.seq, static_cast<int32_t>(EntryState::kPending),
                                     expires_at_ms, 0});
      if (!s) {
        Poison(s.error());
        return s.error();
      }
      e.state = EntryState::kPending;
    }
    return e;
  });
}

std::vector<Result<Entry>> Ledger::CreateEntries(std::span<const EntrySpec> specs) {
  std::vector<Result<Entry>> out;
  out.reserve(specs.size());
  auto fail_all = [&](const Error& e) {
    out.clear();
    for (size_t i = 0; i < specs.size(); ++i) out.push_back(e);
    return out;
  };
  if (specs.size() > limits::kBatchEntriesMax) {
    return fail_all(MakeError(ErrorCode::kLimitExceeded,
                              "batch: more than " + std::to_string(limits::kBatchEntriesMax) +
                                  " entries"));
  }
  bool own = !in_txn_;
  if (own) {
    auto b = Begin();
    if (!b) return fail_all(b.error());
  }
  for (const EntrySpec& s : specs) out.push_back(CreateEntry(s));
  if (own) {
    auto c = Commit();
    if (!c) return fail_all(c.error());
  }
  return out;
}

Result<Entry> Ledger::Resolve(int64_t seq, EntryKind kind, std::optional<int64_t> amount_minor,
                              std::string_view ref) {
  Writer w;
  w.Str("resolve/v1");
  w.U32(static_cast<uint32_t>(kind));
  w.I64(seq);
  w.I64(amount_minor.value_or(-1));
  w.Str(ref);
  std::string digest = DigestBytes(Sha256(w.bytes()));

  auto fail = [&](Error e) -> Result<Entry> {
    if (ref.empty() || poisoned_) return e;
    return Replay(ref, digest, &e);
  };

  auto found = store_.FindEntry(seq);
  if (!found) {
    Poison(found.error());
    return found.error();
  }
  if (!found->has_value()) {
    return fail(MakeError(ErrorCode::kEntryNotFound, "entry: no entry " + std::to_string(seq)));
  }
  const store::EntryRow& held = **found;
  if (static_cast<EntryKind>(held.kind) != EntryKind::kPending) {
    return fail(MakeError(ErrorCode::kNotPending,
                          "entry: entry " + std::to_string(seq) + " is not a pending entry"));
  }
  auto st = store_.FindEntryState(seq);
  if (!st) {
    Poison(st.error());
    return st.error();
  }
  if (!st->has_value()) {
    return MakeError(ErrorCode::kCorruptStore,
                     "store: pending entry " + std::to_string(seq) + " has no state");
  }
  store::EntryStateRow state = **st;
  auto current = static_cast<EntryState>(state.state);
  if (current == EntryState::kExpired) {
    return fail(MakeError(ErrorCode::kHoldExpired,
                          "entry: hold " + std::to_string(seq) + " expired (entry " +
                              std::to_string(state.resolved_by_seq) + ")"));
  }
  if (current != EntryState::kPending) {
    return fail(MakeError(ErrorCode::kHoldAlreadyResolved,
                          "entry: hold " + std::to_string(seq) + " was already " +
                              std::string(EntryStateName(current)) + " by entry " +
                              std::to_string(state.resolved_by_seq)));
  }
  bool due = state.expires_at_ms > 0 && clock_.NowMs() >= state.expires_at_ms;
  if (due && kind != EntryKind::kExpire) {
    // Record the expiry that the sweep has not reached yet, then refuse.
    auto expired = Resolve(seq, EntryKind::kExpire, std::nullopt, {});
    if (!expired) return expired.error();
    return fail(MakeError(ErrorCode::kHoldExpired,
                          "entry: hold " + std::to_string(seq) + " expired at its deadline"));
  }

  PAY_ASSIGN_OR_RETURN(std::vector<Leg> held_legs, DecodeLegs(held.legs));
  int64_t post_amount = 0;
  if (kind == EntryKind::kPost && amount_minor) {
    if (*amount_minor <= 0) {
      return MakeError(ErrorCode::kInvalidAmount, "amount: must be positive");
    }
    if (held_legs.size() != 2 || held_legs[0].amount_minor != held_legs[1].amount_minor) {
      return fail(MakeError(ErrorCode::kPostExceedsPending,
                            "amount: partial posting needs a hold of one debit and one credit"));
    }
    if (*amount_minor > held_legs[0].amount_minor) {
      const Currency* c = FindCurrency(held_legs[0].currency);
      int exp = c ? c->exponent : 2;
      return fail(MakeError(ErrorCode::kPostExceedsPending,
                            "amount: " + FormatMinor(*amount_minor, exp) + " exceeds the pending " +
                                FormatMinor(held_legs[0].amount_minor, exp)));
    }
    post_amount = *amount_minor;
  }

  Draft d;
  d.kind = kind;
  d.ref = std::string(ref);
  d.resolves_seq = seq;
  d.digest = digest;
  for (const Leg& h : held_legs) {
    Leg l;
    l.account = h.account;
    l.side = h.side;
    l.phase = Phase::kRelease;
    l.amount_minor = h.amount_minor;
    d.legs.push_back(l);
  }
  if (kind == EntryKind::kPost) {
    for (const Leg& h : held_legs) {
      Leg l;
      l.account = h.account;
      l.side = h.side;
      l.phase = Phase::kPosted;
      l.amount_minor = post_amount != 0 ? post_amount : h.amount_minor;
      d.legs.push_back(l);
    }
  }
  auto r = Append(std::move(d));
  if (!r) return fail(r.error());
  if (!r->has_value()) return Replay(ref, digest, nullptr);
  Entry e = std::move(**r);
  EntryState next = kind == EntryKind::kPost   ? EntryState::kPosted
                    : kind == EntryKind::kVoid ? EntryState::kVoided
                                               : EntryState::kExpired;
  auto s = store_.PutEntryState({seq, static_cast<int32_t>(next), state.expires_at_ms, e.seq});
  if (!s) {
    Poison(s.error());
    return s.error();
  }
  return e;
}

Result<Entry> Ledger::PostPending(int64_t seq, std::optional<int64_t> amount_minor,
                                  std::string_view ref) {
  if (!ref.empty()) PAY_TRY(ValidateReference(ref, "ref"));
  return Write([&] { return Resolve(seq, EntryKind::kPost, amount_minor, ref); });
}

Result<Entry> Ledger::VoidPending(int64_t seq, std::string_view ref) {
  if (!ref.empty()) PAY_TRY(ValidateReference(ref, "ref"));
  return Write([&] { return Resolve(seq, EntryKind::kVoid, std::nullopt, ref); });
}

Result<size_t> Ledger::ExpireDueLocked(size_t max_holds) {
  auto due = store_.DueEntryStates(static_cast<int32_t>(EntryState::kPending), clock_.NowMs(),
                                   max_holds);
  if (!due) {
    Poison(due.error());
    return due.error();
  }
  for (const store::EntryStateRow& s : *due) {
    auto r = Resolve(s.seq, EntryKind::kExpire, std::nullopt, {});
    if (!r) return r.error();
  }
  return due->size();
}

Result<size_t> Ledger::ExpireDue(size_t max_holds) {
  bool own_transaction = !in_txn_;
  return Write([&]() -> Result<size_t> {
    size_t total = own_transaction ? swept_at_begin_ : 0;
    while (total < max_holds) {
      PAY_ASSIGN_OR_RETURN(size_t n,
                           ExpireDueLocked(std::min(max_holds - total,
                                                    limits::kExpirySweepPerTransactionMax)));
      if (n == 0) break;
      total += n;
    }
    return total;
  });
}

Result<Entry> Ledger::Reverse(int64_t seq, std::string_view ref, std::string_view description) {
  PAY_TRY(ValidateReference(ref, "ref"));
  if (description.size() > limits::kDescriptionBytesMax) {
    return MakeError(ErrorCode::kLimitExceeded, "description: too long");
  }
  Writer w;
  w.Str("reverse/v1");
  w.I64(seq);
  w.Str(ref);
  w.Str(description);
  std::string digest = DigestBytes(Sha256(w.bytes()));

  return Write([&]() -> Result<Entry> {
    auto fail = [&](Error e) -> Result<Entry> {
      if (poisoned_) return e;
      return Replay(ref, digest, &e);
    };
    auto found = store_.FindEntry(seq);
    if (!found) {
      Poison(found.error());
      return found.error();
    }
    if (!found->has_value()) {
      return fail(MakeError(ErrorCode::kEntryNotFound, "entry: no entry " + std::to_string(seq)));
    }
    auto kind = static_cast<EntryKind>((*found)->kind);
    if (kind != EntryKind::kPosted && kind != EntryKind::kPost) {
      return fail(MakeError(ErrorCode::kNotReversible,
                            "entry: entry " + std::to_string(seq) + " is a " +
                                std::string(EntryKindName(kind)) +
                                " entry; only posted entries can be reversed"));
    }
    auto st = store_.FindEntryState(seq);
    if (!st) {
      Poison(st.error());
      return st.error();
    }
    if (st->has_value() && static_cast<EntryState>((*st)->state) == EntryState::kReversed) {
      return fail(MakeError(ErrorCode::kAlreadyReversed,
                            "entry: entry " + std::to_string(seq) + " was reversed by entry " +
                                std::to_string((*st)->resolved_by_seq)));
    }
    PAY_ASSIGN_OR_RETURN(std::vector<Leg> legs, DecodeLegs((*found)->legs));
    Draft d;
    d.kind = EntryKind::kReversal;
    d.ref = std::string(ref);
    d.description = description.empty() ? "reversal of entry " + std::to_string(seq)
                                         : std::string(description);
    d.reverses_seq = seq;
    d.digest = digest;
    for (const Leg& o : legs) {
      if (o.phase != Phase::kPosted) continue;
      Leg l;
      l.account = o.account;
      l.side = o.side == Side::kDebit ? Side::kCredit : Side::kDebit;
      l.phase = Phase::kPosted;
      l.amount_minor = o.amount_minor;
      d.legs.push_back(l);
    }
    auto r = Append(std::move(d));
    if (!r) return fail(r.error());
    if (!r->has_value()) return Replay(ref, digest, nullptr);
    Entry e = std::move(**r);
    auto s = store_.PutEntryState({seq, static_cast<int32_t>(EntryState::kReversed), 0, e.seq});
    if (!s) {
      Poison(s.error());
      return s.error();
    }
    return e;
  });
}

Result<Entry> Ledger::ToEntry(const store::EntryRow& row) {
  Entry e;
  e.seq = row.seq;
  e.ref = row.ref;
  e.kind = static_cast<EntryKind>(row.kind);
  if (EntryKindName(e.kind) == "unknown") {
    return MakeError(ErrorCode::kCorruptStore, "store: entry " + std::to_string(row.seq) + " has an unknown kind");
  }
  e.created_at_ms = row.created_at_ms;
  e.description = row.description;
  e.reverses_seq = row.reverses_seq;
  e.resolves_seq = row.resolves_seq;
  e.expires_at_ms = row.expires_at_ms;
  PAY_ASSIGN_OR_RETURN(e.legs, DecodeLegs(row.legs));
  e.hash = row.hash;
  PAY_ASSIGN_OR_RETURN(auto st, store_.FindEntryState(row.seq));
  if (st) {
    e.state = static_cast<EntryState>(st->state);
    e.resolved_by_seq = st->resolved_by_seq;
  }
  return e;
}

Result<Account> Ledger::GetAccount(std::string_view id) {
  PAY_TRY(ValidateAccountId(id, "account"));
  if (in_txn_) {
    auto c = Load(id);
    if (!c) return c.error();
    return ToAccount((*c)->row);
  }
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindAccount(id));
  if (!row) return MakeError(ErrorCode::kUnknownAccount, "account: no account '" + std::string(id) + "'");
  return ToAccount(*row);
}

Result<std::vector<Account>> Ledger::ListAccounts(std::string_view after_id, size_t limit) {
  PAY_ASSIGN_OR_RETURN(auto rows, store_.ListAccounts(after_id, std::min(limit, limits::kListRowsMax)));
  std::vector<Account> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    PAY_ASSIGN_OR_RETURN(Account a, ToAccount(r));
    out.push_back(std::move(a));
  }
  return out;
}

Result<Entry> Ledger::GetEntry(int64_t seq) {
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindEntry(seq));
  if (!row) return MakeError(ErrorCode::kEntryNotFound, "entry: no entry " + std::to_string(seq));
  return ToEntry(*row);
}

std::string Ledger::RequestDigest(const EntrySpec& spec, std::string_view ref) {
  thread_local Writer w;  // keeps its capacity across calls
  w.Clear();
  w.Str("entry/v1");
  EncodeEntrySpec(w, spec, ref);
  return DigestBytes(Sha256(w.bytes()));
}

Result<Ledger::RefLookup> Ledger::LookupRef(const EntrySpec& spec, std::string_view ref) {
  RefLookup out;
  auto row = store_.FindEntryByRef(ref);
  if (!row) {
    Poison(row.error());
    return row.error();
  }
  if (!row->has_value()) return out;
  out.same_request = (*row)->digest == RequestDigest(spec, ref);
  PAY_ASSIGN_OR_RETURN(Entry e, ToEntry(**row));
  out.entry = std::move(e);
  return out;
}

Result<std::optional<Entry>> Ledger::FindEntryByRef(std::string_view ref) {
  PAY_TRY(ValidateReference(ref, "ref"));
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindEntryByRef(ref));
  if (!row) return std::optional<Entry>();
  PAY_ASSIGN_OR_RETURN(Entry e, ToEntry(*row));
  return std::optional<Entry>(std::move(e));
}

// Walks an account's entries newest first (each entry names the account's previous one) and
// calls visit(entry, counters after the entry, counters before it) until visit returns false.
template <typename Visit>
static Result<store::AccountRow> WalkBack(store::Store& store, const store::AccountRow& start,
                                          Visit&& visit) {
  store::AccountRow cur = start;
  int64_t seq = start.last_seq;
  while (seq != 0) {
    PAY_ASSIGN_OR_RETURN(auto row, store.FindEntry(seq));
    if (!row) {
      return MakeError(ErrorCode::kCorruptStore, "store: account '" + start.id +
                                                     "' names missing entry " + std::to_string(seq));
    }
    PAY_ASSIGN_OR_RETURN(std::vector<Leg> legs, DecodeLegs(row->legs));
    store::AccountRow before = cur;
    int64_t prev = -1;
    for (const Leg& l : legs) {
      if (l.account_num != start.num) continue;
      if (!ApplyLeg(before, l, -1)) {
        return MakeError(ErrorCode::kCorruptStore,
                         "store: history of '" + start.id + "' does not add up at entry " +
                             std::to_string(seq));
      }
      prev = l.prev_seq;
    }
    if (prev < 0 || prev >= seq) {
      return MakeError(ErrorCode::kCorruptStore, "store: entry " + std::to_string(seq) +
                                                     " is not linked to account '" + start.id + "'");
    }
    before.last_seq = prev;
    if (!visit(*row, legs, cur, before)) return cur;
    cur = before;
    seq = prev;
  }
  return cur;
}

Result<Account> Ledger::GetAccountAsOf(std::string_view id, AsOf as_of) {
  PAY_TRY(ValidateAccountId(id, "account"));
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindAccount(id));
  if (!row) return MakeError(ErrorCode::kUnknownAccount, "account: no account '" + std::string(id) + "'");
  PAY_ASSIGN_OR_RETURN(
      store::AccountRow then,
      WalkBack(store_, *row, [&](const store::EntryRow& e, const std::vector<Leg>&,
                                 const store::AccountRow&, const store::AccountRow&) {
        return as_of.by == AsOf::By::kSeq ? e.seq > as_of.value : e.created_at_ms > as_of.value;
      }));
  return ToAccount(then);
}

Result<std::vector<StatementLine>> Ledger::History(std::string_view id, size_t limit) {
  PAY_TRY(ValidateAccountId(id, "account"));
  limit = std::min(limit, limits::kHistoryRowsMax);
  PAY_ASSIGN_OR_RETURN(auto row, store_.FindAccount(id));
  if (!row) return MakeError(ErrorCode::kUnknownAccount, "account: no account '" + std::string(id) + "'");
  std::vector<StatementLine> lines;
  auto walked = WalkBack(
      store_, *row,
      [&](const store::EntryRow& e, const std::vector<Leg>& legs, const store::AccountRow& after,
          const store::AccountRow& before) {
        if (lines.size() >= limit) return false;
        StatementLine s;
        s.seq = e.seq;
        s.created_at_ms = e.created_at_ms;
        s.kind = static_cast<EntryKind>(e.kind);
        s.ref = e.ref;
        s.description = e.description;
        for (const Leg& l : legs) {
          if (l.account_num != row->num) continue;
          if (l.phase == Phase::kPosted) {
            (l.side == Side::kDebit ? s.debit_minor : s.credit_minor) += l.amount_minor;
          }
        }
        s.pending_change_minor = (after.debits_pending_minor - after.credits_pending_minor) -
                                 (before.debits_pending_minor - before.credits_pending_minor);
        Account a = AccountFromRow(after, nullptr, {});
        s.balance_minor = a.balance_minor();
        s.available_minor = a.available_minor();
        lines.push_back(std::move(s));
        return true;
      });
  if (!walked) return walked.error();
  std::reverse(lines.begin(), lines.end());
  return lines;
}

Result<VerifyReport> Ledger::Verify() {
  if (in_txn_) return MakeError(ErrorCode::kInternal, "verify: not inside a write transaction");
  PAY_TRY(store_.BeginRead());
  auto r = VerifySnapshot();
  store_.EndRead();
  return r;
}

namespace {

// What verify recomputes from the journal, entry by entry, and the problems it finds there, in
// the entry states and in the stored accounts.
class JournalCheck {
 public:
  JournalCheck(VerifyReport& rep, int64_t seq_base)
      : rep_(rep), seq_base_(seq_base), expect_seq_(seq_base + 1) {}

  void Problem(std::string p) {
    ++rep_.problems_total;
    if (rep_.problems.size() < limits::kListRowsMax) rep_.problems.push_back(std::move(p));
  }

  // Sequence, hash chain, time, postings, and the entry's place among holds and reversals.
  void Entry(const store::EntryRow& e) {
    ++rep_.entries_checked;
    const std::string at = "entry " + std::to_string(e.seq) + ": ";
    if (e.seq != expect_seq_) Problem(at + "sequence gap (expected " + std::to_string(expect_seq_) + ")");
    expect_seq_ = e.seq + 1;
    if (ChainHash(prev_hash_, e) != e.hash) Problem(at + "hash chain broken (content or order changed)");
    if (e.created_at_ms < prev_created_at_ms_) Problem(at + "created_at goes back in time");
    prev_created_at_ms_ = e.created_at_ms;
    prev_hash_ = e.hash;
    auto legs = DecodeLegs(e.legs);
    if (!legs) {
      Problem(at + legs.error().message);
      return;
    }
    Postings(at, e, *legs);
    auto kind = static_cast<EntryKind>(e.kind);
    if (e.seq > seq_base_) {
      const size_t at = static_cast<size_t>(e.seq - seq_base_);
      if (at >= kinds_.size()) kinds_.resize(at + 1, 0);
      kinds_[at] = static_cast<uint8_t>(e.kind);
    }
    if (kind == EntryKind::kPending) {
      holds_[e.seq] = 0;
      open_legs_[e.seq] = *legs;
    }
    if (IsResolution(kind)) Resolution(at, e, kind, *legs);
    if (kind == EntryKind::kReversal) Reversal(at, e);
  }

  const std::string& head_hash() const { return prev_hash_; }

  // Hold and reversal states must agree with the journal.
  Result<void> States(store::Store& store) {
    for (const auto& [seq, by] : holds_) {
      PAY_ASSIGN_OR_RETURN(auto st, store.FindEntryState(seq));
      if (!st) {
        Problem("hold " + std::to_string(seq) + ": state missing");
      } else if ((by == 0) != (static_cast<EntryState>(st->state) == EntryState::kPending) ||
                 (by != 0 && st->resolved_by_seq != by)) {
        Problem("hold " + std::to_string(seq) + ": state " +
                std::string(EntryStateName(static_cast<EntryState>(st->state))) +
                " disagrees with the journal");
      }
    }
    for (const auto& [seq, by] : reversed_) {
      PAY_ASSIGN_OR_RETURN(auto st, store.FindEntryState(seq));
      if (!st || static_cast<EntryState>(st->state) != EntryState::kReversed || st->resolved_by_seq != by) {
        Problem("entry " + std::to_string(seq) + ": reversal state disagrees with the journal");
      }
    }
    return {};
  }

  // Stored counters against the journal; conservation per currency; overdraft floors.
  Result<void> Accounts(store::Store& store) {
    for (std::string after;;) {
      PAY_ASSIGN_OR_RETURN(auto rows, store.ListAccounts(after, limits::kVerifyPageRows));
      if (rows.empty()) break;
      for (const store::AccountRow& r : rows) {
        after = r.id;
        Account(r);
      }
    }
    for (const auto& [num, c] : accounts_) {
      if (!c.seen_in_table) Problem("journal names account #" + std::to_string(num) + " ('" + c.row.id + "') that does not exist");
    }
    for (const auto& [currency, t] : totals_) {
      if (t[0] != t[1]) Problem("currency " + currency + ": posted debits and credits differ");
      if (t[2] != t[3]) Problem("currency " + currency + ": pending debits and credits differ");
    }
    return {};
  }

 private:
  struct Recomputed {
    store::AccountRow row;
    bool seen_in_table = false;
  };
  __extension__ typedef __int128 Wide;

  // The entry's postings: each account's chain link and counters, and the balance per phase.
  void Postings(const std::string& at, const store::EntryRow& e, const std::vector<Leg>& legs) {
    std::map<std::pair<std::string, int>, int64_t> net;
    for (const Leg& l : legs) {
      auto& a = accounts_[l.account_num];
      if (a.row.num == 0) {
        a.row.num = l.account_num;
        a.row.id = l.account;
      }
      if (l.prev_seq != a.row.last_seq) {
        Problem(at + "account '" + l.account + "' links to entry " + std::to_string(l.prev_seq) +
                ", its previous entry is " + std::to_string(a.row.last_seq));
      }
      if (!ApplyLeg(a.row, l, +1)) Problem(at + "counters of '" + l.account + "' leave range");
      net[{l.currency, PhaseIndex(l.phase)}] += l.side == Side::kDebit ? l.amount_minor : -l.amount_minor;
    }
    for (const Leg& l : legs) accounts_[l.account_num].row.last_seq = e.seq;
    for (const auto& [k, v] : net) {
      if (v != 0) {
        Problem(at + "unbalanced " + std::string(PhaseName(static_cast<Phase>(k.second))) + " " +
                k.first + " postings (net " + std::to_string(v) + ")");
      }
    }
  }

  // A post or release of a hold: the hold exists, is open, and the release mirrors it (a post
  // may not exceed it).
  void Resolution(const std::string& at, const store::EntryRow& e, EntryKind kind,
                  const std::vector<Leg>& legs) {
    auto h = holds_.find(e.resolves_seq);
    if (h == holds_.end()) {
      Problem(at + "resolves " + std::to_string(e.resolves_seq) + ", which is not a hold");
      return;
    }
    if (h->second != 0) {
      Problem(at + "resolves hold " + std::to_string(e.resolves_seq) + " already resolved by " +
              std::to_string(h->second));
      return;
    }
    h->second = e.seq;
    std::vector<Leg>& held = open_legs_[e.resolves_seq];
    size_t released = 0;
    bool mirrors = true;
    for (const Leg& l : legs) {
      if (l.phase == Phase::kRelease) {
        mirrors = mirrors && released < held.size() && held[released].account_num == l.account_num &&
                  held[released].side == l.side && held[released].amount_minor == l.amount_minor;
        ++released;
      } else if (l.phase == Phase::kPosted) {
        bool within = false;
        for (const Leg& hl : held) {
          within = within || (hl.account_num == l.account_num && hl.side == l.side &&
                              l.amount_minor <= hl.amount_minor);
        }
        mirrors = mirrors && within && kind == EntryKind::kPost;
      } else {
        mirrors = false;
      }
    }
    if (!mirrors || released != held.size()) {
      Problem(at + "does not match the postings of hold " + std::to_string(e.resolves_seq));
    }
    open_legs_.erase(e.resolves_seq);
  }

  // A reversal reverses an earlier posted entry, once.
  void Reversal(const std::string& at, const store::EntryRow& e) {
    auto target = e.reverses_seq > seq_base_ &&
                          static_cast<size_t>(e.reverses_seq - seq_base_) < kinds_.size()
                      ? static_cast<EntryKind>(kinds_[e.reverses_seq - seq_base_])
                      : EntryKind{};
    if (target != EntryKind::kPosted && target != EntryKind::kPost) {
      Problem(at + "reverses entry " + std::to_string(e.reverses_seq) +
              ", which is not an earlier posted entry");
    }
    if (reversed_.count(e.reverses_seq)) {
      Problem(at + "reverses entry " + std::to_string(e.reverses_seq) + " a second time");
    }
    reversed_[e.reverses_seq] = e.seq;
  }

  // One stored account against what the journal says, into the currency totals.
  void Account(const store::AccountRow& r) {
    ++rep_.accounts_checked;
    const std::string at = "account '" + r.id + "': ";
    Recomputed& c = accounts_[r.num];
    c.seen_in_table = true;
    const store::AccountRow& x = c.row;
    auto check = [&](const char* name, int64_t stored, int64_t computed) {
      if (stored != computed) {
        Problem(at + name + " is " + std::to_string(stored) + ", the journal says " +
                std::to_string(computed));
      }
    };
    check("debits_posted_minor", r.debits_posted_minor, x.debits_posted_minor);
    check("credits_posted_minor", r.credits_posted_minor, x.credits_posted_minor);
    check("debits_pending_minor", r.debits_pending_minor, x.debits_pending_minor);
    check("credits_pending_minor", r.credits_pending_minor, x.credits_pending_minor);
    check("last_seq", r.last_seq, x.last_seq);
    auto& t = totals_[r.currency];
    t[0] += r.debits_posted_minor;
    t[1] += r.credits_posted_minor;
    t[2] += r.debits_pending_minor;
    t[3] += r.credits_pending_minor;
    std::optional<int64_t> floor = Floor(r);
    if (floor && Available(r) < *floor) {
      Problem(at + "available " + std::to_string(Available(r)) + " is below its floor " +
              std::to_string(*floor));
    }
  }

  VerifyReport& rep_;
  std::map<int64_t, Recomputed> accounts_;        // by account num
  std::map<int64_t, int64_t> holds_;              // pending entry -> resolving entry (0 if open)
  std::map<int64_t, std::vector<Leg>> open_legs_;  // postings of holds not yet resolved
  std::map<int64_t, int64_t> reversed_;           // reversed entry -> reversing entry
  std::vector<uint8_t> kinds_ = std::vector<uint8_t>(1, 0);  // kinds_[seq - base]: entry kinds
  std::map<std::string, std::array<Wide, 4>> totals_;        // per currency, from the accounts
  std::string prev_hash_ = GenesisHash();
  int64_t prev_created_at_ms_ = INT64_MIN;
  int64_t seq_base_;
  int64_t expect_seq_;
};

}  // namespace

Result<VerifyReport> Ledger::VerifySnapshot() {
  VerifyReport rep;
  JournalCheck check(rep, seq_base_);
  for (int64_t after = 0;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, store_.ScanEntries(after, limits::kVerifyPageRows));
    if (rows.empty()) break;
    for (const store::EntryRow& e : rows) {
      after = e.seq;
      check.Entry(e);
    }
  }
  rep.head_hash_hex = ToHex(check.head_hash());
  PAY_TRY(check.States(store_));
  PAY_TRY(check.Accounts(store_));
  return rep;
}

}  // namespace pay::ledger
