#pragma once
// A ledger on a real SQLite file in a temporary directory, with a manual clock.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/store.h"
#include "ledger/ledger.h"
#include "tests/support/temp_dir.h"

namespace pay::ledger {

inline constexpr int64_t kT0 = 1'790'000'000'000;  // 2026-09-21, a fixed start time

class LedgerFixture : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(store::StoreOptions opts = {}) {
    ledger_.reset();
    store_.reset();
    opts.create_if_missing = true;
    auto s = store::OpenSqliteStore(path(), opts);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ledger_ = std::make_unique<Ledger>(*store_, clock_);
  }

  std::string path() const { return dir_.File("ledger.db"); }
  Ledger& L() { return *ledger_; }

  Account MakeAccount(const std::string& id, const std::string& currency = "USD",
                      AccountType type = AccountType::kLiability,
                      OverdraftMode od = OverdraftMode::kUnlimited, int64_t limit = 0) {
    AccountSpec s;
    s.id = id;
    s.currency = currency;
    s.type = type;
    s.overdraft = od;
    s.overdraft_limit_minor = limit;
    auto r = L().CreateAccount(s);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Account{};
  }

  static EntrySpec Transfer(const std::string& ref, const std::string& debit,
                            const std::string& credit, int64_t amount, bool pending = false) {
    EntrySpec s;
    s.ref = ref;
    s.postings = {{debit, Side::kDebit, amount}, {credit, Side::kCredit, amount}};
    s.pending = pending;
    return s;
  }

  Entry MustTransfer(const std::string& ref, const std::string& debit, const std::string& credit,
                     int64_t amount, bool pending = false) {
    auto r = L().CreateEntry(Transfer(ref, debit, credit, amount, pending));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Entry{};
  }

  Account Get(const std::string& id) {
    auto r = L().GetAccount(id);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Account{};
  }

  int64_t Tip() {
    auto last = store_->LastEntry();
    return last && *last ? (*last)->seq : 0;
  }

  void ExpectVerified() {
    auto v = L().Verify();
    ASSERT_TRUE(v) << v.error().message;
    for (const auto& p : v->problems) ADD_FAILURE() << p;
  }

  testing::TempDir dir_;
  ManualClock clock_{kT0};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Ledger> ledger_;
};

}  // namespace pay::ledger
