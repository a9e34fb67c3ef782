// The books split by merchant over two databases (EngineOptions::partition_db_paths;
// docs/scale-out.md, "Partitions"): two SQLite files, or two PostgreSQL databases on one server
// (PAY_TEST_POSTGRES; skipped and said so without it). Commands reach their merchant's
// partition, every id names its partition, an entry never crosses partitions, the reports add
// up over both, and a database is never opened in another place than its own.

#include <gtest/gtest.h>

#include <set>

#include "adapters/network/issuer.h"
#include "adapters/network/simulated_network.h"
#include "core/limits.h"
#include "pay/engine.h"
#include "tests/support/commands.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

using testing::Cmd;
using testing::Xfer;

constexpr int64_t kT0 = 1'790'000'000'000;

class PartitionTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !db0_.available()) GTEST_SKIP() << testing::PgSchema::kSkipReason;
    network::IssuerOptions io;
    io.db_path = dir_.File("issuer.db");
    io.clock = &clock_;
    io.durable = false;
    auto issuer = network::Issuer::Open(io);
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    network_ = std::make_unique<network::SimulatedCardNetwork>(*issuer_, network::FaultConfig{}, 1000);
    // Two merchants in each partition.
    for (int i = 0; merchants_[0].size() < 2 || merchants_[1].size() < 2; ++i) {
      std::string m = "shop" + std::to_string(i);
      auto& in = merchants_[MerchantPartition(m, 2)];
      if (in.size() < 2) in.push_back(m);
    }
  }
  bool Postgres() const { return std::string(GetParam()) == "Postgres"; }
  std::string Db(int k) const {
    if (Postgres()) return (k == 0 ? db0_ : db1_).conninfo();
    return dir_.File("books" + std::to_string(k) + ".db");
  }
  EngineOptions Options(std::vector<std::string> dbs) const {
    EngineOptions o;
    o.partition_db_paths = std::move(dbs);
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    o.clock = &clock_;
    o.card_network = network_.get();
    o.card_fingerprint_key = "a test key of at least 16 bytes";
    return o;
  }
  std::unique_ptr<Engine> Open() {
    auto e = Engine::Open(Options({Db(0), Db(1)}));
    EXPECT_TRUE(e) << (e ? "" : e.error().message);
    return e ? std::move(*e) : nullptr;
  }
  static Outcome Do(Engine& e, const Command& c) {
    auto r = e.Submit(c);
    EXPECT_TRUE(r) << c.idempotency_key << ": " << (r ? "" : r.error().message);
    return r ? *r : Outcome{};
  }
  static AuthorizeRequest Auth(int64_t amount) {
    return AuthorizeRequest{{"4242424242424242", "12/30", "123"}, amount, "USD"};
  }
  // Creates the four merchants and authorizes then captures `per_merchant` payments of each,
  // all in one batch per step (so every batch spans both partitions).
  std::vector<std::string> Payments(Engine& e, int per_merchant) {
    std::vector<Command> batch;
    for (const auto& part : merchants_) {
      for (const auto& m : part) batch.push_back(Cmd("merchant/" + m, CreateMerchantRequest{m, "USD", 100, 30}, m));
    }
    for (auto& r : e.SubmitBatch(batch)) EXPECT_TRUE(r && !r->declined);
    batch.clear();
    for (int i = 0; i < per_merchant; ++i) {
      for (const auto& part : merchants_) {
        for (const auto& m : part) batch.push_back(Cmd("auth-" + std::to_string(i), Auth(1000 + i), m));
      }
    }
    std::vector<std::string> ids;
    for (auto& r : e.SubmitBatch(batch)) {
      EXPECT_TRUE(r && r->payment_status == "authorized") << (r ? r->body : r.error().message);
      if (r) ids.push_back(r->payment_id);
    }
    std::vector<Command> captures;
    for (size_t i = 0; i < ids.size(); ++i) {
      captures.push_back(Cmd("cap-" + ids[i], CaptureRequest{ids[i], std::nullopt, false}, batch[i].merchant));
    }
    for (auto& r : e.SubmitBatch(captures)) EXPECT_TRUE(r && r->payment_status == "captured");
    return ids;
  }

  testing::TempDir dir_;
  testing::PgDatabase db0_, db1_;
  ManualClock clock_{kT0};
  std::unique_ptr<network::Issuer> issuer_;
  std::unique_ptr<CardNetwork> network_;
  std::vector<std::string> merchants_[2];
};

// A merchant's payments and entries are numbered in its partition's ranges and read back from
// there; the same key sent again is answered from the same partition.
TEST_P(PartitionTest, EveryIdNamesItsMerchantsPartition) {
  auto e = Open();
  ASSERT_TRUE(e);
  auto ids = Payments(*e, 3);
  ASSERT_EQ(ids.size(), 12u);
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& m = merchants_[(i % 4) / 2][i % 2];
    const uint32_t k = MerchantPartition(m, 2);
    EXPECT_EQ(ids[i].substr(0, 6), "pay_0" + std::to_string(k)) << ids[i];
    auto p = e->GetPayment(ids[i]);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->merchant, m);
    EXPECT_EQ(p->status, PaymentStatus::kCaptured);
    for (const auto& op : p->history) {
      if (op.entry_id == 0) continue;
      EXPECT_EQ((op.entry_id - 1) / limits::kPartitionEntrySeqSpan, k) << ids[i];
      EXPECT_TRUE(e->GetEntry(op.entry_id)) << op.entry_id;
    }
  }
  auto again = e->Submit(Cmd("auth-0", Auth(1000), merchants_[1][0]));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->payment_id.substr(0, 6), "pay_01");
  auto key = e->PaymentIdForKey(merchants_[1][0], "auth-0");
  ASSERT_TRUE(key && *key);
  EXPECT_EQ(**key, again->payment_id);
}

// Listing without a merchant walks both partitions in id order, page by page, each payment
// once; a merchant's listing stays in its partition.
TEST_P(PartitionTest, ListingsCoverBothPartitionsOnce) {
  auto e = Open();
  ASSERT_TRUE(e);
  auto ids = Payments(*e, 3);
  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = e->ListPayments("", after, 5);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& p : page->items) seen.push_back(p.id);
    if (page->next_after.empty()) break;
    after = page->next_after;
  }
  std::vector<std::string> want = ids;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(seen, want);
  auto mine = e->ListPayments(merchants_[0][1], "", 100);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->items.size(), 3u);
  auto merchants = e->ListMerchants("", 100);
  ASSERT_TRUE(merchants);
  EXPECT_EQ(merchants->items.size(), 4u);
}

// Two accounts of different partitions cannot meet in one entry: refused up front, naming both
// partitions, with nothing written; within one partition the transfer goes through.
TEST_P(PartitionTest, AnEntryNeverCrossesPartitions) {
  auto e = Open();
  ASSERT_TRUE(e);
  Payments(*e, 1);
  ASSERT_TRUE(e->Settle());
  const std::string a = "m/" + merchants_[0][0] + "/available", b = "m/" + merchants_[1][0] + "/available";
  auto across = e->Submit(Cmd("x1", Xfer(a, b, 100), ""));
  ASSERT_FALSE(across);
  EXPECT_EQ(across.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(across.error().message.find("never crosses partitions"), std::string::npos) << across.error().message;
  const std::string a2 = "m/" + merchants_[0][1] + "/available";
  auto within = e->Submit(Cmd("x2", Xfer(a, a2, 100), ""));
  ASSERT_TRUE(within && !within->declined) << (within ? within->body : within.error().message);
  EXPECT_EQ((within->entry_id - 1) / limits::kPartitionEntrySeqSpan, MerchantPartition(merchants_[0][0], 2));
  // The ledger's own accounts (no merchant) live in partition 0.
  for (std::string id : {"bank", "owed"}) {
    Do(*e, Cmd("acct-" + id, CreateAccountRequest{{id, "USD", ledger::AccountType::kAsset,
                                                   ledger::OverdraftMode::kUnlimited, 0, {}}}, ""));
  }
  Outcome own = Do(*e, Cmd("x3", Xfer("bank", "owed", 100), ""));
  EXPECT_GT(own.entry_id, 0);
  EXPECT_LT(own.entry_id, limits::kPartitionEntrySeqSpan);
  auto report = e->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems.front());
}

// The acquirer's accounts exist in both partitions: reads and reports add them up, and the
// sum is what the merchants' payments put there.
TEST_P(PartitionTest, ReportsAddUpOverBothPartitions) {
  auto e = Open();
  ASSERT_TRUE(e);
  auto ids = Payments(*e, 3);
  auto settled = e->Settle();
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_EQ(settled->payments, ids.size());
  ASSERT_EQ(settled->totals.size(), 1u);
  const auto& [currency, net, fees] = settled->totals.front();
  int64_t gross = 0;
  for (int i = 0; i < 3; ++i) gross += 4 * (1000 + i);
  EXPECT_EQ(currency, "USD");
  EXPECT_EQ(net, gross);  // captured less refunded; the merchants get it less the fees
  auto fee_account = e->GetAccount("acq/USD/fees");
  ASSERT_TRUE(fee_account) << fee_account.error().message;
  EXPECT_EQ(fee_account->balance_minor(), fees);
  int64_t available = 0;
  for (const auto& part : merchants_) {
    for (const auto& m : part) {
      auto a = e->GetAccount("m/" + m + "/available");
      ASSERT_TRUE(a);
      available += a->balance_minor();
    }
  }
  EXPECT_EQ(available, net - fees);
  auto accounts = e->ListAccounts("", 1000);
  ASSERT_TRUE(accounts);
  std::set<std::string> unique;
  for (const auto& a : *accounts) {
    EXPECT_TRUE(unique.insert(a.id).second) << a.id << " listed twice";
    if (a.id == "acq/USD/fees") {
      EXPECT_EQ(a.balance_minor(), fees);
    }
  }
  auto history = e->History("acq/USD/fees", 100);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), ids.size());
  auto report = e->Verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->ok());
  EXPECT_NE(report->head_hash_hex.find(','), std::string::npos) << "one head hash per partition";
}

// Each database keeps its place: alone, or in another order, it is refused before anything
// is read from it; a database with books made outside a partitioned set cannot join one.
TEST_P(PartitionTest, ADatabaseOpensOnlyInItsOwnPlace) {
  {
    auto e = Open();
    ASSERT_TRUE(e);
    Payments(*e, 1);
  }
  auto swapped = Engine::Open(Options({Db(1), Db(0)}));
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().code, ErrorCode::kInvalidConfig);
  EXPECT_NE(swapped.error().message.find("holds partition 1 of 2, opened as partition 0 of 2"),
            std::string::npos)
      << swapped.error().message;
  EngineOptions alone = Options({});
  alone.db_path = Db(1);
  auto single = Engine::Open(alone);
  ASSERT_FALSE(single);
  EXPECT_EQ(single.error().code, ErrorCode::kInvalidConfig);

  testing::TempDir other;
  testing::PgDatabase other_db;
  const std::string plain = Postgres() ? other_db.conninfo() : other.File("plain.db");
  {
    EngineOptions o = Options({});
    o.db_path = plain;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    Do(**e, Cmd("acct", CreateAccountRequest{{"cash", "USD", ledger::AccountType::kAsset,
                                               ledger::OverdraftMode::kUnlimited, 0, {}}}));
    Do(**e, Cmd("acct2", CreateAccountRequest{{"owed", "USD", ledger::AccountType::kLiability,
                                                ledger::OverdraftMode::kUnlimited, 0, {}}}));
    Do(**e, Cmd("t", Xfer("cash", "owed", 5)));
  }
  auto joined = Engine::Open(Options({plain, Db(1)}));
  ASSERT_FALSE(joined);
  EXPECT_NE(joined.error().message.find("made outside a partitioned set"), std::string::npos)
      << joined.error().message;
}

INSTANTIATE_TEST_SUITE_P(Stores, PartitionTest, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace pay
