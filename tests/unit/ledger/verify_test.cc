// `verify` must catch what tampering or a bug would leave behind. Each test damages a real
// database file with the sqlite3 C API, the way an attacker or a faulty tool would.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/crypto.h"
#include "ledger/codec.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace pay::ledger {
namespace {

class VerifyTest : public LedgerFixture {
 protected:
  void SetUp() override {
    LedgerFixture::SetUp();
    MakeAccount("bank", "USD", AccountType::kAsset);
    MakeAccount("alice", "USD", AccountType::kLiability, OverdraftMode::kNone);
    MakeAccount("bob");
    MustTransfer("1", "bank", "alice", 1000);
    Entry h = MustTransfer("2", "alice", "bob", 300, true);
    ASSERT_TRUE(L().PostPending(h.seq, 200));
    MustTransfer("4", "alice", "bob", 50);
    ASSERT_TRUE(L().Reverse(4, "undo-4"));
    ExpectVerified();
  }

  void Tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    std::string all = "DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete; " + sql;
    int rc = sqlite3_exec(db, all.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
    Reopen();
  }

  VerifyReport MustFail() {
    auto v = L().Verify();
    EXPECT_TRUE(v) << v.error().message;
    EXPECT_FALSE(v->ok());
    EXPECT_EQ(v->problems_total, static_cast<int64_t>(v->problems.size()));
    return *v;
  }

  static bool Mentions(const VerifyReport& r, const std::string& what) {
    for (const auto& p : r.problems) {
      if (p.find(what) != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(VerifyTest, CleanLedgerPasses) {
  auto v = L().Verify();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->entries_checked, 5);
  EXPECT_EQ(v->accounts_checked, 3);
  EXPECT_EQ(v->head_hash_hex, L().GetEntry(5)->hash_hex());
}

TEST_F(VerifyTest, CatchesACorruptedBalance) {
  Tamper("UPDATE balances SET credits_posted_minor = credits_posted_minor + 1 WHERE num = (SELECT num FROM accounts WHERE id = 'alice')");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "account 'alice': credits_posted_minor is 1051, the journal says 1050"));
  EXPECT_TRUE(Mentions(r, "currency USD: posted debits and credits differ"));
}

TEST_F(VerifyTest, CatchesAnEditedEntry) {
  Tamper("UPDATE entries SET description = 'edited' WHERE seq = 2");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "entry 2: hash chain broken"));
}

TEST_F(VerifyTest, CatchesAReorderedOrRehashedChain) {
  // Replacing a stored hash breaks the link to the next entry.
  Tamper("UPDATE entries SET hash = zeroblob(32) WHERE seq = 3");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "entry 3: hash chain broken"));
  EXPECT_TRUE(Mentions(r, "entry 4: hash chain broken"));
}

TEST_F(VerifyTest, CatchesADeletedEntry) {
  Tamper("DELETE FROM entries WHERE seq = 4");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "sequence gap"));
  EXPECT_TRUE(Mentions(r, "entry 5: reverses entry 4, which is not an earlier posted entry"));
}

TEST_F(VerifyTest, CatchesDamagedPostingsAndReportsThemOnRead) {
  Tamper("UPDATE entries SET legs = X'01' WHERE seq = 1");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "entry 1: store: postings"));
  auto e = L().GetEntry(1);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::kCorruptStore);
}

TEST_F(VerifyTest, CatchesAHoldStateThatDisagreesWithTheJournal) {
  Tamper("UPDATE entry_states SET state = 1 WHERE seq = 2");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "hold 2"));
}

TEST_F(VerifyTest, CatchesAResolutionThatDoesNotMatchItsHold) {
  // Entry 3 posted 200 of hold 2 (300); make its release claim another amount. Re-hashing the
  // chain from there on would hide an edit from the hash check, not from this one.
  auto e3 = L().GetEntry(3);
  ASSERT_TRUE(e3);
  std::vector<Leg> legs = e3->legs;
  legs[0].amount_minor = 250;
  legs[1].amount_minor = 250;
  std::string blob = EncodeLegs(legs);
  Tamper("UPDATE entries SET legs = X'" + ToHex(blob) + "' WHERE seq = 3");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "entry 3: does not match the postings of hold 2"));
}

TEST_F(VerifyTest, CatchesTimeGoingBackwards) {
  Tamper("UPDATE entries SET created_at_ms = 0 WHERE seq = 3");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "entry 3: created_at goes back in time"));
}

TEST_F(VerifyTest, CatchesAnOverdraftBelowTheFloor) {
  // Both counters and the journal moved together would pass the sums; an account whose stored
  // counters breach its floor is reported on its own.
  Tamper("UPDATE accounts SET type = 2, overdraft_mode = 1 WHERE id = 'bank'");
  VerifyReport r = MustFail();
  EXPECT_TRUE(Mentions(r, "account 'bank': available"));
}

}  // namespace
}  // namespace pay::ledger
