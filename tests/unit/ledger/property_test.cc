// Random operation sequences against a simple in-memory model of the ledger. After every step
// the stored counters must equal the model's, and every result must be the one the model
// predicts; `verify` runs periodically and at the end. The seed is printed; rerun one with
// PAY_SEED=N (and PAY_PROPERTY_STEPS=N for longer runs).

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>

#include "core/random.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace pay::ledger {
namespace {

struct MAccount {
  std::string id;
  AccountType type;
  OverdraftMode mode;
  int64_t limit;
  int64_t dp = 0, cp = 0, dpend = 0, cpend = 0;

  int64_t Available() const {
    return NormalSide(type) == Side::kDebit ? dp - (cp + cpend) : cp - (dp + dpend);
  }
  std::optional<int64_t> Floor() const {
    if (mode == OverdraftMode::kNone) return 0;
    if (mode == OverdraftMode::kLimit) return -limit;
    return std::nullopt;
  }
};

struct MLeg {
  int account;
  Side side;
  Phase phase;
  int64_t amount;
};

struct MEntry {
  EntryKind kind;
  std::vector<MLeg> legs;
  EntryState state = EntryState::kNone;
  int64_t expires_at = 0;
};

class Model {
 public:
  std::vector<MAccount> accounts;
  std::map<int64_t, MEntry> entries;
  std::map<std::string, std::string> refs;  // ref -> content
  int64_t next_seq = 1;

  static void Apply(MAccount& a, const MLeg& l) {
    int64_t* c = l.side == Side::kDebit ? (l.phase == Phase::kPosted ? &a.dp : &a.dpend)
                                        : (l.phase == Phase::kPosted ? &a.cp : &a.cpend);
    *c += l.phase == Phase::kRelease ? -l.amount : l.amount;
  }

  // Returns the error code the ledger must give, or nullopt and applies the entry.
  std::optional<ErrorCode> Append(EntryKind kind, const std::vector<MLeg>& legs, int64_t expires_at = 0) {
    std::vector<MAccount> next = accounts;
    for (const MLeg& l : legs) Apply(next[l.account], l);
    for (size_t i = 0; i < next.size(); ++i) {
      auto floor = next[i].Floor();
      if (floor && next[i].Available() < accounts[i].Available() && next[i].Available() < *floor) {
        return ErrorCode::kOverdraft;
      }
    }
    accounts = next;
    MEntry e{kind, legs};
    if (kind == EntryKind::kPending) {
      e.state = EntryState::kPending;
      e.expires_at = expires_at;
    }
    entries[next_seq++] = e;
    return std::nullopt;
  }

  std::optional<ErrorCode> Resolve(int64_t seq, EntryKind kind, std::optional<int64_t> amount) {
    auto it = entries.find(seq);
    if (it == entries.end()) return ErrorCode::kEntryNotFound;
    MEntry& h = it->second;
    if (h.kind != EntryKind::kPending) return ErrorCode::kNotPending;
    if (h.state == EntryState::kExpired) return ErrorCode::kHoldExpired;
    if (h.state != EntryState::kPending) return ErrorCode::kHoldAlreadyResolved;
    if (amount) {
      if (*amount <= 0) return ErrorCode::kInvalidAmount;
      if (*amount > h.legs[0].amount) return ErrorCode::kPostExceedsPending;
    }
    std::vector<MLeg> legs;
    for (const MLeg& l : h.legs) legs.push_back({l.account, l.side, Phase::kRelease, l.amount});
    if (kind == EntryKind::kPost) {
      for (const MLeg& l : h.legs) legs.push_back({l.account, l.side, Phase::kPosted, amount.value_or(l.amount)});
    }
    int64_t self = next_seq;
    auto err = Append(kind, legs);
    if (err) return err;
    entries[seq].state = kind == EntryKind::kPost   ? EntryState::kPosted
                         : kind == EntryKind::kVoid ? EntryState::kVoided
                                                    : EntryState::kExpired;
    (void)self;
    return std::nullopt;
  }

  void Sweep(int64_t now) {
    std::vector<std::pair<int64_t, int64_t>> due;  // (expires_at, seq)
    for (const auto& [seq, e] : entries) {
      if (e.state == EntryState::kPending && e.expires_at > 0 && e.expires_at <= now) {
        due.push_back({e.expires_at, seq});
      }
    }
    std::sort(due.begin(), due.end());
    for (const auto& [at, seq] : due) {
      auto err = Resolve(seq, EntryKind::kExpire, std::nullopt);
      ASSERT_FALSE(err.has_value());
    }
  }

  std::optional<ErrorCode> Reverse(int64_t seq) {
    auto it = entries.find(seq);
    if (it == entries.end()) return ErrorCode::kEntryNotFound;
    if (it->second.kind != EntryKind::kPosted && it->second.kind != EntryKind::kPost) {
      return ErrorCode::kNotReversible;
    }
    if (it->second.state == EntryState::kReversed) return ErrorCode::kAlreadyReversed;
    std::vector<MLeg> legs;
    for (const MLeg& l : it->second.legs) {
      if (l.phase != Phase::kPosted) continue;
      legs.push_back({l.account, l.side == Side::kDebit ? Side::kCredit : Side::kDebit, Phase::kPosted, l.amount});
    }
    auto err = Append(EntryKind::kReversal, legs);
    if (err) return err;
    entries[seq].state = EntryState::kReversed;
    return std::nullopt;
  }
};

uint64_t SeedFromEnv(uint64_t fallback) {
  const char* s = std::getenv("PAY_SEED");
  return s ? std::strtoull(s, nullptr, 10) : fallback;
}

int StepsFromEnv(int fallback) {
  const char* s = std::getenv("PAY_PROPERTY_STEPS");
  return s ? std::atoi(s) : fallback;
}

class LedgerPropertyTest : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    store::StoreOptions fast;
    fast.durability = store::Durability::kNormal;  // durability is not what this test checks
    Reopen(fast);
  }
};

TEST_F(LedgerPropertyTest, RandomOperationsMatchTheModel) {
  const uint64_t seed = SeedFromEnv(0x5eed0000 + static_cast<uint64_t>(kT0 % 1000));
  const int steps = StepsFromEnv(3000);
  std::cout << "[ property ] PAY_SEED=" << seed << " PAY_PROPERTY_STEPS=" << steps << "\n";
  SCOPED_TRACE("PAY_SEED=" + std::to_string(seed));
  Random rnd(seed);
  Model m;
  struct Def {
    const char* id;
    AccountType type;
    OverdraftMode mode;
    int64_t limit;
  };
  for (Def d : {Def{"bank", AccountType::kAsset, OverdraftMode::kUnlimited, 0},
                Def{"card", AccountType::kAsset, OverdraftMode::kUnlimited, 0},
                Def{"alice", AccountType::kLiability, OverdraftMode::kNone, 0},
                Def{"bob", AccountType::kLiability, OverdraftMode::kNone, 0},
                Def{"carol", AccountType::kLiability, OverdraftMode::kLimit, 500},
                Def{"fees", AccountType::kRevenue, OverdraftMode::kUnlimited, 0}}) {
    MakeAccount(d.id, "USD", d.type, d.mode, d.limit);
    m.accounts.push_back({d.id, d.type, d.mode, d.limit});
  }
  MakeAccount("euro", "EUR");
  const int n = static_cast<int>(m.accounts.size());
  std::vector<std::string> used_refs;
  int successes = 0, failures = 0;

  auto expect = [&](const auto& result, std::optional<ErrorCode> predicted, int step, const char* op) {
    if (predicted) {
      ASSERT_FALSE(result.has_value()) << "step " << step << " " << op << ": expected "
                                       << ErrorName(*predicted);
      ASSERT_EQ(result.error().code, *predicted) << "step " << step << " " << op << ": "
                                                 << result.error().message;
      ++failures;
    } else {
      ASSERT_TRUE(result.has_value()) << "step " << step << " " << op << ": "
                                      << result.error().message;
      ++successes;
    }
  };

  for (int step = 0; step < steps; ++step) {
    uint64_t op = rnd.Uniform(100);
    if (op < 45) {  // a transfer, posted or pending; sometimes reusing a reference
      int d = static_cast<int>(rnd.Uniform(n)), c = static_cast<int>(rnd.Uniform(n));
      int64_t amount = rnd.OneIn(40) ? -rnd.Range(0, 5) : rnd.Range(1, 400);
      bool pending = rnd.OneIn(3);
      int64_t expires_in = pending && rnd.OneIn(2) ? rnd.Range(1, 50) * 1000 : 0;
      bool reuse = !used_refs.empty() && rnd.OneIn(8);
      std::string ref = reuse ? used_refs[rnd.Uniform(used_refs.size())] : "t" + std::to_string(step);
      std::string content = std::to_string(d) + ">" + std::to_string(c) + ":" + std::to_string(amount) +
                            (pending ? "p" : "") + std::to_string(expires_in);
      EntrySpec s = Transfer(ref, m.accounts[d].id, m.accounts[c].id, amount, pending);
      s.expires_in_ms = expires_in;
      bool to_euro = rnd.OneIn(50);
      if (to_euro) {
        s.postings[1].account = "euro";
        content += "E";
      }
      std::optional<ErrorCode> predicted;
      bool replay = false;
      if (amount <= 0) {
        predicted = ErrorCode::kInvalidAmount;
      } else if (!to_euro && d == c) {
        predicted = ErrorCode::kInvalidArgument;  // an entry moves money between accounts
      } else {
        m.Sweep(clock_.NowMs());
        auto known = m.refs.find(ref);
        if (known != m.refs.end()) {
          if (known->second == content) replay = true;
          else predicted = ErrorCode::kReferenceReused;
        } else if (to_euro) {
          predicted = ErrorCode::kCurrencyMismatch;
        } else {
          Phase ph = pending ? Phase::kPending : Phase::kPosted;
          predicted = m.Append(pending ? EntryKind::kPending : EntryKind::kPosted,
                               {{d, Side::kDebit, ph, amount}, {c, Side::kCredit, ph, amount}},
                               expires_in ? clock_.NowMs() + expires_in : 0);
          if (!predicted) {
            m.refs[ref] = content;
            used_refs.push_back(ref);
          }
        }
      }
      auto r = L().CreateEntry(s);
      expect(r, predicted, step, "transfer");
      if (r) {
        ASSERT_EQ(r->replayed, replay) << "step " << step;
      }
    } else if (op < 63) {  // post a hold, in full or in part
      int64_t seq = rnd.Range(1, m.next_seq + 1);
      std::optional<int64_t> amount;
      if (rnd.OneIn(2)) amount = rnd.OneIn(20) ? 0 : rnd.Range(1, 450);
      m.Sweep(clock_.NowMs());
      auto predicted = m.Resolve(seq, EntryKind::kPost, amount);
      expect(L().PostPending(seq, amount), predicted, step, "post");
    } else if (op < 73) {  // void
      int64_t seq = rnd.Range(1, m.next_seq + 1);
      m.Sweep(clock_.NowMs());
      auto predicted = m.Resolve(seq, EntryKind::kVoid, std::nullopt);
      expect(L().VoidPending(seq), predicted, step, "void");
    } else if (op < 83) {  // reverse, with a fresh reference
      int64_t seq = rnd.Range(1, m.next_seq + 1);
      m.Sweep(clock_.NowMs());
      auto predicted = m.Reverse(seq);
      std::string ref = "rev" + std::to_string(step);
      if (!predicted) m.refs[ref] = "reverse";
      expect(L().Reverse(seq, ref), predicted, step, "reverse");
    } else if (op < 93) {  // time passes
      clock_.AdvanceMs(rnd.Range(1, 20) * 1000);
    } else if (op < 96) {  // explicit sweep
      m.Sweep(clock_.NowMs());
      ASSERT_TRUE(L().ExpireDue(1'000'000));
    } else {  // bad input that must change nothing
      auto r = L().CreateEntry(Transfer("bad" + std::to_string(step), m.accounts[0].id, "nobody", 5));
      m.Sweep(clock_.NowMs());
      expect(r, ErrorCode::kUnknownAccount, step, "unknown account");
    }
    for (const MAccount& a : m.accounts) {
      Account got = Get(a.id);
      ASSERT_EQ(got.debits_posted_minor, a.dp) << "step " << step << " " << a.id;
      ASSERT_EQ(got.credits_posted_minor, a.cp) << "step " << step << " " << a.id;
      ASSERT_EQ(got.debits_pending_minor, a.dpend) << "step " << step << " " << a.id;
      ASSERT_EQ(got.credits_pending_minor, a.cpend) << "step " << step << " " << a.id;
    }
    if (step % 250 == 0) {
      auto v = L().Verify();
      ASSERT_TRUE(v && v->ok()) << "verify failed at step " << step;
    }
  }
  ExpectVerified();
  EXPECT_EQ(Tip(), m.next_seq - 1);
  EXPECT_GT(successes, steps / 4);
  EXPECT_GT(failures, steps / 20);
  std::cout << "[ property ] " << successes << " succeeded, " << failures << " refused as predicted\n";
}

}  // namespace
}  // namespace pay::ledger
