// Several writers on one database (two engines, as two paymentd nodes or a node and a CLI
// command would be), submitting at the same time: one key executes once, a hot account is not
// spent twice, and a velocity limit holds across them. On a SQLite file and on PostgreSQL
// (PAY_TEST_POSTGRES; a fresh schema; skipped and said so without it).

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "pay/engine.h"
#include "tests/support/pg_schema.h"
#include "tests/support/commands.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

using testing::Cmd;
using testing::Xfer;

constexpr int64_t kT0 = 1'790'000'000'000;

class MultiWriterTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !pg_.available()) GTEST_SKIP() << testing::PgSchema::kSkipReason;
  }
  bool Postgres() const { return std::string(GetParam()) == "Postgres"; }

  std::unique_ptr<Engine> Open(const std::string& velocity = "") {
    EngineOptions o;
    o.db_path = Postgres() ? pg_.conninfo() : dir_.File("books.db");
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    if (!velocity.empty()) {
      o.velocity_config_path = dir_.File("velocity.toml");
      std::ofstream(o.velocity_config_path) << velocity;
    }
    auto e = Engine::Open(o);
    EXPECT_TRUE(e) << (e ? "" : e.error().message);
    return e ? std::move(*e) : nullptr;
  }
  void Accounts(Engine& e, int64_t alice) {
    for (auto [id, type, od] : {std::tuple{"bank", ledger::AccountType::kAsset, ledger::OverdraftMode::kUnlimited},
                                std::tuple{"alice", ledger::AccountType::kLiability, ledger::OverdraftMode::kNone},
                                std::tuple{"bob", ledger::AccountType::kLiability, ledger::OverdraftMode::kNone}}) {
      auto r = e.Submit(Cmd(std::string("acct-") + id, CreateAccountRequest{{id, "USD", type, od}}));
      ASSERT_TRUE(r && !r->declined) << (r ? r->body : r.error().message);
    }
    if (alice > 0) {
      ASSERT_TRUE(e.Submit(Cmd("fund-alice", Xfer("bank", "alice", alice))));
    }
  }
  // Runs `per_writer(engine, writer_index)` on both engines at once.
  template <class F>
  static void Together(Engine& a, Engine& b, F per_writer) {
    std::thread t([&] { per_writer(a, 0); });
    per_writer(b, 1);
    t.join();
  }

  testing::TempDir dir_;
  testing::PgSchema pg_;
  ManualClock clock_{kT0};
};

// Both writers send every key at the same moment: each executes once; the other writer gets
// the stored outcome (a replay) or "in flight", never a second execution.
TEST_P(MultiWriterTest, OneKeySentToBothWritersExecutesOnce) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  Accounts(*a, 0);
  constexpr int kKeys = 40;
  std::atomic<int> executed{0}, replayed{0}, in_flight{0};
  Together(*a, *b, [&](Engine& e, int) {
    for (int i = 0; i < kKeys; ++i) {
      auto r = e.Submit(Cmd("k" + std::to_string(i), Xfer("bank", "bob", 1)));
      if (!r) {
        EXPECT_EQ(r.error().code, ErrorCode::kIdempotencyKeyInFlight) << r.error().message;
        ++in_flight;
      } else {
        ++(r->replayed ? replayed : executed);
      }
    }
  });
  EXPECT_EQ(executed.load(), kKeys);
  EXPECT_EQ(executed + replayed + in_flight, 2 * kKeys);
  EXPECT_EQ(a->GetAccount("bob")->balance_minor(), kKeys);
  EXPECT_EQ(b->GetAccount("bob")->balance_minor(), kKeys);
  auto v = b->Verify();
  ASSERT_TRUE(v && v->ok());
}

// A balance of 1,000 and no overdraft, spent 10 at a time from both writers: exactly 100
// transfers pass, the rest are declined, and the balance ends at zero.
TEST_P(MultiWriterTest, AHotAccountIsNotSpentTwice) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  Accounts(*a, 1000);
  std::atomic<int> passed{0}, declined{0};
  Together(*a, *b, [&](Engine& e, int w) {
    for (int i = 0; i < 70; ++i) {
      auto r = e.Submit(Cmd("spend-" + std::to_string(w) + "-" + std::to_string(i), Xfer("alice", "bob", 10)));
      ASSERT_TRUE(r) << r.error().message;
      ++(r->declined ? declined : passed);
    }
  });
  EXPECT_EQ(passed.load(), 100);
  EXPECT_EQ(declined.load(), 40);
  EXPECT_EQ(a->GetAccount("alice")->balance_minor(), 0);
  EXPECT_EQ(a->GetAccount("bob")->balance_minor(), 1000);
  auto v = a->Verify();
  ASSERT_TRUE(v && v->ok());
}

// A limit of 10 transfers per merchant per minute holds across both writers: each sees what
// the other consumed (the guard reloads when another connection committed).
TEST_P(MultiWriterTest, AVelocityLimitHoldsAcrossWriters) {
  const std::string rules = R"toml(
[[rule]]
name = "ten-per-minute"
operations = ["transfer"]
key = ["merchant"]
  [[rule.window]]
  algorithm = "fixed_window"
  window = "1m"
  limit = 10
)toml";
  auto a = Open(rules), b = Open(rules);
  ASSERT_TRUE(a && b);
  Accounts(*a, 0);
  std::atomic<int> passed{0}, limited{0};
  Together(*a, *b, [&](Engine& e, int w) {
    for (int i = 0; i < 10; ++i) {
      auto r = e.Submit(Cmd("v-" + std::to_string(w) + "-" + std::to_string(i), Xfer("bank", "bob", 1)));
      if (r) {
        ++passed;
      } else {
        EXPECT_EQ(r.error().code, ErrorCode::kVelocityLimited) << r.error().message;
        ++limited;
      }
    }
  });
  EXPECT_EQ(passed.load(), 10);
  EXPECT_EQ(limited.load(), 10);
  EXPECT_EQ(b->GetAccount("bob")->balance_minor(), 10);
}

INSTANTIATE_TEST_SUITE_P(Stores, MultiWriterTest, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace pay
