// The engine through its public API on a real SQLite file and on PostgreSQL: DOMAIN.md's
// idempotency rules one by one, velocity limits, group commit, event time, concurrency and
// crash recovery. (VelocityLogTest counts SQLite rows: SQLite only.)

#include "pay/engine.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/limits.h"
#include "core/store.h"
#include "rails/guards/velocity.h"
#include "tests/support/commands.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay {
namespace {

using testing::Cmd;
using testing::Xfer;

constexpr int64_t kT0 = 1'790'000'000'000;

// Every test runs on a SQLite file and on PostgreSQL (PAY_TEST_POSTGRES; a fresh schema per
// test; skipped and said so without it), except the two that inject SQLite stores.
class EngineTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !pg_.available()) GTEST_SKIP() << testing::PgSchema::kSkipReason;
    Reopen();
  }
  bool Postgres() const { return std::string(GetParam()) == "Postgres"; }
  std::string Db() const { return Postgres() ? pg_.conninfo() : dir_.File("engine.db"); }

  void Reopen(const std::string& velocity_toml = "", int64_t retention_ms = 24LL * 3600 * 1000) {
    engine_.reset();
    EngineOptions o;
    o.db_path = Db();
    o.create_if_missing = true;
    o.clock = &clock_;
    o.idempotency_retention_ms = retention_ms;
    if (!velocity_toml.empty()) {
      o.velocity_config_path = dir_.File("velocity.toml");
      std::ofstream(o.velocity_config_path) << velocity_toml;
    }
    auto e = Engine::Open(o);
    ASSERT_TRUE(e) << e.error().message;
    engine_ = std::move(*e);
  }

  void Accounts() {
    for (auto [id, type, od] : {std::tuple{"bank", ledger::AccountType::kAsset, ledger::OverdraftMode::kUnlimited},
                                std::tuple{"alice", ledger::AccountType::kLiability, ledger::OverdraftMode::kNone},
                                std::tuple{"bob", ledger::AccountType::kLiability, ledger::OverdraftMode::kNone}}) {
      ledger::AccountSpec s{id, "USD", type, od};
      auto r = engine_->Submit(Cmd(std::string("acct-") + id, CreateAccountRequest{s}));
      ASSERT_TRUE(r && !r->declined) << (r ? r->body : r.error().message);
    }
  }

  int64_t Balance(const std::string& id) { return engine_->GetAccount(id)->balance_minor(); }
  int64_t Tip() {
    auto v = engine_->Verify();
    EXPECT_TRUE(v && v->ok());
    return v ? v->entries_checked : -1;
  }

  testing::TempDir dir_;
  testing::PgSchema pg_;
  ManualClock clock_{kT0};
  std::unique_ptr<Engine> engine_;
};

// Rule 1
// The store is injected: the engine writes through the one it is given.
TEST_P(EngineTest, WritesThroughAnInjectedStore) {
  if (Postgres()) GTEST_SKIP() << "injects SQLite stores";
  engine_.reset();
  store::StoreOptions so;
  so.create_if_missing = true;
  auto opened = store::OpenSqliteStore(dir_.File("injected.db"), so);
  ASSERT_TRUE(opened) << opened.error().message;
  std::shared_ptr<store::Store> s = std::move(*opened);
  EngineOptions o;
  o.store = s;
  o.db_path = dir_.File("not-opened.db");
  o.clock = &clock_;
  auto e = Engine::Open(o);
  ASSERT_TRUE(e) << e.error().message;
  engine_ = std::move(*e);
  Accounts();
  auto r = engine_->Submit(Cmd("t-1", Xfer("bank", "alice", 500)));
  ASSERT_TRUE(r && !r->declined);
  auto row = s->FindAccount("alice");
  ASSERT_TRUE(row && row->has_value());
  EXPECT_EQ((*row)->credits_posted_minor, 500);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("not-opened.db")));
}

// Reads go to the injected read connection (here, to show which one answers, a connection to
// another database that has no merchants and no accounts).
TEST_P(EngineTest, ReadsUseTheInjectedReadStore) {
  if (Postgres()) GTEST_SKIP() << "injects SQLite stores";
  engine_.reset();
  store::StoreOptions so;
  so.create_if_missing = true;
  auto main = store::OpenSqliteStore(dir_.File("main.db"), so);
  auto other = store::OpenSqliteStore(dir_.File("other.db"), so);
  ASSERT_TRUE(main && other);
  EngineOptions o;
  o.store = std::move(*main);
  o.read_store = std::move(*other);
  o.clock = &clock_;
  auto e = Engine::Open(o);
  ASSERT_TRUE(e) << e.error().message;
  engine_ = std::move(*e);
  auto m = engine_->Submit(Cmd("merchant/acme", CreateMerchantRequest{"acme", "USD", 0, 0}, "acme"));
  ASSERT_TRUE(m && !m->declined);
  auto merchants = engine_->ListMerchants("", 10);
  ASSERT_TRUE(merchants) << merchants.error().message;
  EXPECT_TRUE(merchants->items.empty());
  EXPECT_EQ(engine_->GetAccount("m/acme/pending").error().code, ErrorCode::kUnknownAccount);
}

TEST_P(EngineTest, KeysMustBePrintableAsciiUpTo255) {
  Accounts();
  for (const std::string& bad : {std::string(), std::string(256, 'k'), std::string("tab\tkey"),
                                 std::string("caf\xc3\xa9")}) {
    auto r = engine_->Submit(Cmd(bad, Xfer("bank", "alice", 5)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidIdempotencyKey);
  }
  EXPECT_TRUE(engine_->Submit(Cmd(std::string(255, 'k'), Xfer("bank", "alice", 5))));
  EXPECT_EQ(Balance("alice"), 5);
}

// Rule 2
TEST_P(EngineTest, KeysAreScopedByMerchantAndOperation) {
  Accounts();
  auto a = engine_->Submit(Cmd("k1", Xfer("bank", "alice", 5), "shop-a"));
  auto b = engine_->Submit(Cmd("k1", Xfer("bank", "alice", 5), "shop-b"));
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(b->replayed);
  EXPECT_NE(a->entry_id, b->entry_id);  // another merchant's key is another key
  auto v = engine_->Submit(Cmd("k1", VoidRequest{a->entry_id}, "shop-a"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->replayed);  // another operation: another key (the void is declined: not a hold)
  EXPECT_TRUE(v->declined);
  EXPECT_EQ(v->decline.code, ErrorCode::kNotPending);
  EXPECT_EQ(Balance("alice"), 10);
}

// Rule 3
TEST_P(EngineTest, SameKeySameRequestReplaysTheStoredBytes) {
  Accounts();
  auto first = engine_->Submit(Cmd("k", Xfer("bank", "alice", 700)));
  ASSERT_TRUE(first);
  clock_.AdvanceMs(60'000);
  auto again = engine_->Submit(Cmd("k", Xfer("bank", "alice", 700)));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(again->body, first->body);
  EXPECT_EQ(again->entry_id, first->entry_id);
  EXPECT_EQ(Balance("alice"), 700);
  Reopen();  // and after a restart
  auto later = engine_->Submit(Cmd("k", Xfer("bank", "alice", 700)));
  EXPECT_EQ(later->body, first->body);
  EXPECT_TRUE(later->replayed);
}

// Rule 4
TEST_P(EngineTest, SameKeyOtherRequestIsRefusedAndNotStored) {
  Accounts();
  ASSERT_TRUE(engine_->Submit(Cmd("k", Xfer("bank", "alice", 700))));
  auto other = engine_->Submit(Cmd("k", Xfer("bank", "alice", 701)));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kIdempotencyKeyReused);
  EXPECT_EQ(Balance("alice"), 700);
  // Field order of the request cannot change the fingerprint; metadata order neither.
  ledger::AccountSpec s1{"m", "USD"}, s2{"m", "USD"};
  s1.metadata = {{"a", "1"}, {"b", "2"}};
  s2.metadata = {{"b", "2"}, {"a", "1"}};
  ASSERT_TRUE(engine_->Submit(Cmd("acct-m", CreateAccountRequest{s1})));
  auto same = engine_->Submit(Cmd("acct-m", CreateAccountRequest{s2}));
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->replayed);
}

// Rule 5
TEST_P(EngineTest, KeyInFlightIsAConflict) {
  Accounts();
  auto s = store::OpenStore(Db(), {});
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->BeginWrite());
  store::IdempotencyRow claim;
  claim.scope = "shop";
  claim.operation = static_cast<int32_t>(Operation::kTransfer);
  claim.key = "busy";
  claim.fingerprint = std::string(32, 'f');
  claim.state = 1;
  claim.created_at_ms = kT0;
  ASSERT_TRUE((*s)->PutIdempotency(claim));
  ASSERT_TRUE((*s)->Commit());
  auto r = engine_->Submit(Cmd("busy", Xfer("bank", "alice", 5)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kIdempotencyKeyInFlight);
  EXPECT_EQ(Balance("alice"), 0);
}

// Rule 6
TEST_P(EngineTest, DeclinesAreStoredFailuresAreNot) {
  Accounts();
  auto decline = engine_->Submit(Cmd("pay-1", Xfer("alice", "bob", 500)));
  ASSERT_TRUE(decline);
  EXPECT_TRUE(decline->declined);
  EXPECT_EQ(decline->decline.code, ErrorCode::kOverdraft);
  EXPECT_NE(decline->body.find("\"code\":\"overdraft\""), std::string::npos);
  ASSERT_TRUE(engine_->Submit(Cmd("fund", Xfer("bank", "alice", 1000))));
  auto replay = engine_->Submit(Cmd("pay-1", Xfer("alice", "bob", 500)));
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->replayed);
  EXPECT_TRUE(replay->declined);  // the stored decline, even though it would pass now
  EXPECT_EQ(replay->body, decline->body);
  EXPECT_EQ(Balance("bob"), 0);

  // A validation failure is not stored: the client fixes the request and keeps its key.
  auto invalid = engine_->Submit(Cmd("pay-2", Xfer("alice", "bob", -5)));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidAmount);
  auto fixed = engine_->Submit(Cmd("pay-2", Xfer("alice", "bob", 5)));
  ASSERT_TRUE(fixed);
  EXPECT_FALSE(fixed->replayed);
  EXPECT_EQ(Balance("bob"), 5);
}

TEST_P(EngineTest, InvalidRequestsAreReportedAsSuchEvenUnderAUsedKey) {
  Accounts();
  ASSERT_TRUE(engine_->Submit(Cmd("k", Xfer("bank", "alice", 5))));
  auto invalid = engine_->Submit(Cmd("k", Xfer("bank", "alice", 0)));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, ErrorCode::kInvalidAmount);  // validation comes before the key
  auto same = engine_->Submit(Cmd("k2", Xfer("alice", "alice", 5)));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, ErrorCode::kInvalidArgument);
  auto slash = engine_->Submit(Cmd("k3", Xfer("bank", "alice", 5), "shop/eu"));
  ASSERT_FALSE(slash);
  EXPECT_EQ(slash.error().message.rfind("merchant:", 0), 0u);
}

// The card rails' refs ("pay/...") are written without a look-up (no request can hold one):
// a request naming such a ref, or a merchant "pay" whose derived refs would start so, is refused.
TEST_P(EngineTest, TheCardRailsRefNamespaceIsRefusedToRequests) {
  Accounts();
  TransferRequest t = Xfer("bank", "alice", 5);
  t.entry.ref = "pay/pay_000000000001/0";
  auto named = engine_->Submit(Cmd("k1", t));
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(named.error().message.rfind("ref:", 0), 0u) << named.error().message;
  auto first = engine_->Submit(Cmd("k2", Xfer("bank", "alice", 5)));
  ASSERT_TRUE(first) << first.error().message;
  auto reversal = engine_->Submit(Cmd("k3", ReverseRequest{first->entry_id, "", "pay/x/1"}));
  ASSERT_FALSE(reversal);
  EXPECT_EQ(reversal.error().code, ErrorCode::kInvalidArgument);
  auto merchant = engine_->Submit(Cmd("k4", Xfer("bank", "alice", 5), "pay"));
  ASSERT_FALSE(merchant);
  EXPECT_EQ(merchant.error().message, "merchant: 'pay' is reserved");
  EXPECT_EQ(Balance("alice"), 5);
}

TEST_P(EngineTest, UnknownAccountsAreNotStoredUnderTheKey) {
  Accounts();
  auto early = engine_->Submit(Cmd("k", Xfer("bank", "carol", 5)));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, ErrorCode::kUnknownAccount);
  ASSERT_TRUE(engine_->Submit(Cmd("acct-carol", CreateAccountRequest{{"carol", "USD"}})));
  auto later = engine_->Submit(Cmd("k", Xfer("bank", "carol", 5)));
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_FALSE(later->declined);
  EXPECT_EQ(Balance("carol"), 5);
}

TEST_P(EngineTest, AnExplicitRefRecordedUnderAnotherKeySaysSo) {
  Accounts();
  TransferRequest t = Xfer("bank", "alice", 5);
  t.entry.ref = "invoice-9";
  auto first = engine_->Submit(Cmd("k1", t));
  auto second = engine_->Submit(Cmd("k2", t));  // another key, the same ledger entry
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(second->replayed);
  EXPECT_EQ(second->entry_id, first->entry_id);
  EXPECT_NE(second->body.find("\"already_recorded\":true"), std::string::npos);
  EXPECT_EQ(first->body.find("already_recorded"), std::string::npos);
  EXPECT_EQ(Balance("alice"), 5);
}

// Rule 8
TEST_P(EngineTest, KeysLiveTheirRetentionThenPurge) {
  Reopen("", 3600'000);
  Accounts();
  TransferRequest with_ref = Xfer("bank", "alice", 5);
  with_ref.entry.ref = "invoice-1";
  ASSERT_TRUE(engine_->Submit(Cmd("old", with_ref)));
  ASSERT_TRUE(engine_->Submit(Cmd("journal", Xfer("bank", "alice", 7))));
  clock_.AdvanceMs(3599'999);
  EXPECT_EQ(*engine_->PurgeIdempotencyKeys(), 0u);
  EXPECT_TRUE(engine_->Submit(Cmd("old", with_ref))->replayed);
  clock_.AdvanceMs(1);
  EXPECT_EQ(*engine_->PurgeIdempotencyKeys(), 4u);  // three accounts and the transfer with a ref
  // After the purge the key is new again, but the ledger still holds the entry under its ref:
  // the same transfer moves nothing, and says so.
  auto again = engine_->Submit(Cmd("old", with_ref));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->replayed);
  EXPECT_NE(again->body.find("\"already_recorded\":true"), std::string::npos);
  // A transfer without a ref is keyed by its entry, which is never purged.
  auto journal = engine_->Submit(Cmd("journal", Xfer("bank", "alice", 7)));
  ASSERT_TRUE(journal);
  EXPECT_TRUE(journal->replayed);
  EXPECT_EQ(Balance("alice"), 12);
}

TEST_P(EngineTest, AHoldReplaysAsItWasAnsweredEvenAfterItWasPosted) {
  Accounts();
  TransferRequest hold = Xfer("bank", "alice", 50);
  hold.entry.pending = true;
  auto first = engine_->Submit(Cmd("h", hold));
  ASSERT_TRUE(first);
  EXPECT_NE(first->body.find("\"state\":\"pending\""), std::string::npos);
  ASSERT_TRUE(engine_->Submit(Cmd("p", PostRequest{first->entry_id, std::nullopt})));
  auto again = engine_->Submit(Cmd("h", hold));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->body, first->body);  // byte for byte, though the hold is now posted
  EXPECT_EQ(engine_->GetEntry(first->entry_id)->state, ledger::EntryState::kPosted);
  auto other = engine_->Submit(Cmd("h", Xfer("bank", "alice", 51)));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kIdempotencyKeyReused);
}

// Rule 9: reads take no key.
TEST_P(EngineTest, ReadsNeedNoKey) {
  Accounts();
  EXPECT_TRUE(engine_->GetAccount("alice"));
  EXPECT_TRUE(engine_->ListAccounts("", 10));
  EXPECT_TRUE(engine_->Verify());
}

TEST_P(EngineTest, ConcurrentSubmissionsOfOneKeyExecuteOnce) {
  Accounts();
  constexpr int kThreads = 8;
  std::vector<Result<Outcome>> results(kThreads, MakeError(ErrorCode::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = engine_->Submit(Cmd("same", Xfer("bank", "alice", 42))); });
  }
  for (auto& t : threads) t.join();
  int executed = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().message;
    executed += !r->replayed;
    EXPECT_EQ(r->body, results[0]->body);
  }
  EXPECT_EQ(executed, 1);
  EXPECT_EQ(Balance("alice"), 42);
}

TEST_P(EngineTest, BatchCommitsTogetherEachWithItsResult) {
  Accounts();
  std::vector<Command> batch = {Cmd("b1", Xfer("bank", "alice", 10)), Cmd("b2", Xfer("bank", "ghost", 10)),
                                Cmd("b3", Xfer("bank", "bob", 10)), Cmd("b1", Xfer("bank", "alice", 10)),
                                Cmd("b4", Xfer("bank", "bob", 0))};
  auto out = engine_->SubmitBatch(batch);
  ASSERT_EQ(out.size(), 5u);
  ASSERT_TRUE(out[0]);
  EXPECT_FALSE(out[0]->declined);
  ASSERT_FALSE(out[1]);  // an unknown account is like invalid input: not stored
  EXPECT_EQ(out[1].error().code, ErrorCode::kUnknownAccount);
  ASSERT_TRUE(out[2]);
  ASSERT_TRUE(out[3]);
  EXPECT_TRUE(out[3]->replayed);  // the same key earlier in the same batch
  ASSERT_FALSE(out[4]);           // invalid: not stored
  EXPECT_EQ(Balance("alice"), 10);
  EXPECT_EQ(Balance("bob"), 10);
}

TEST_P(EngineTest, EventTimeDrivesTheBooksForReplayedTraffic) {
  Accounts();
  Command c = Cmd("evt", Xfer("bank", "alice", 10));
  c.channel = Channel::kReplay;
  c.event_time_ms = kT0 + 86'400'000;
  auto r = engine_->Submit(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(engine_->GetEntry(r->entry_id)->created_at_ms, kT0 + 86'400'000);
}

TEST_P(EngineTest, StartUpResolvesRecordsLeftInFlight) {
  Accounts();
  auto done = engine_->Submit(Cmd("t1", Xfer("bank", "alice", 10)));
  ASSERT_TRUE(done);
  std::string ref = engine_->GetEntry(done->entry_id)->ref;
  engine_.reset();
  {
    // What a crash between a claim and its outcome leaves behind: one claim whose effects
    // committed, one whose effects did not.
    auto s = store::OpenStore(Db(), {});
    ASSERT_TRUE(s);
    ASSERT_TRUE((*s)->BeginWrite());
    ASSERT_TRUE((*s)->DeleteIdempotency("shop", static_cast<int32_t>(Operation::kTransfer), "t1"));
    for (auto [key, intent] : {std::pair{"t1", ref}, std::pair{"t2", std::string("shop/t2")}}) {
      store::IdempotencyRow claim;
      claim.scope = "shop";
      claim.operation = static_cast<int32_t>(Operation::kTransfer);
      claim.key = key;
      claim.fingerprint = std::string(32, 'f');
      claim.state = 1;
      claim.body = intent;
      claim.created_at_ms = kT0;
      ASSERT_TRUE((*s)->PutIdempotency(claim));
    }
    ASSERT_TRUE((*s)->Commit());
  }
  Reopen();
  EXPECT_EQ(engine_->recovery().completed, 1u);
  EXPECT_EQ(engine_->recovery().released, 1u);
  // t2 was released: a retry executes it once.
  auto t2 = engine_->Submit(Cmd("t2", Xfer("bank", "alice", 7)));
  ASSERT_TRUE(t2);
  EXPECT_FALSE(t2->replayed);
  EXPECT_EQ(Balance("alice"), 17);
}

constexpr const char* kRules = R"toml(
[[rule]]
name = "transfers-per-merchant"
operations = ["transfer"]
key = ["merchant"]
measure = "count"
  [[rule.window]]
  algorithm = "fixed_window"
  window = "1m"
  limit = 2
  [[rule.override]]
  key = "merchant=big"
  limits = [3]

[[rule]]
name = "amount-per-account"
operations = ["transfer"]
key = ["account"]
measure = "amount"
currency = "USD"
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = "100.00"

[[rule]]
name = "watch-ip"
key = ["ip"]
mode = "shadow"
  [[rule.window]]
  algorithm = "gcra"
  window = "1m"
  limit = 1
)toml";

TEST_P(EngineTest, VelocityRefusesBeforeMoneyMovesAndConsumesNothing) {
  Reopen(kRules);
  Accounts();
  ASSERT_TRUE(engine_->Submit(Cmd("v1", Xfer("bank", "alice", 100))));
  ASSERT_TRUE(engine_->Submit(Cmd("v2", Xfer("bank", "alice", 100))));
  auto refused = engine_->Submit(Cmd("v3", Xfer("bank", "alice", 100)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kVelocityLimited);
  EXPECT_EQ(refused.error().rule, "transfers-per-merchant");
  EXPECT_EQ(refused.error().response_code, "65");
  EXPECT_EQ(refused.error().retry_after_ms, 60'000 - kT0 % 60'000);  // to the next minute
  EXPECT_EQ(Balance("alice"), 200);
  // A replay consumes nothing and still answers.
  EXPECT_TRUE(engine_->Submit(Cmd("v1", Xfer("bank", "alice", 100)))->replayed);
  auto status = engine_->VelocityStatus("transfers-per-merchant", "merchant=shop");
  ASSERT_TRUE(status);
  ASSERT_EQ(status->size(), 1u);
  EXPECT_EQ((*status)[0].used, 2);
  // The refusal was not stored: once the window passes, the same key executes.
  clock_.AdvanceMs(60'000);
  auto later = engine_->Submit(Cmd("v3", Xfer("bank", "alice", 100)));
  ASSERT_TRUE(later) << later.error().message;
  EXPECT_FALSE(later->replayed);
}

TEST_P(EngineTest, VelocityAmountRuleAnswers61AndOverridesApply) {
  Reopen(kRules);
  Accounts();
  ASSERT_TRUE(engine_->Submit(Cmd("a1", Xfer("bank", "alice", 9000), "big")));
  auto over = engine_->Submit(Cmd("a2", Xfer("bank", "alice", 1001), "big"));
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().rule, "amount-per-account");
  EXPECT_EQ(over.error().response_code, "61");
  ASSERT_TRUE(engine_->Submit(Cmd("a3", Xfer("bank", "alice", 1000), "big")));
  // merchant=big has an override of 3 per minute; the amount rule is now full, so use another
  // debit account to see the count override.
  ASSERT_TRUE(engine_->Submit(Cmd("a4", Xfer("alice", "bob", 1), "big")));
  auto fourth = engine_->Submit(Cmd("a5", Xfer("alice", "bob", 1), "big"));
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error().rule, "transfers-per-merchant");
}

TEST_P(EngineTest, VelocityStateSurvivesARestart) {
  Reopen(kRules);
  Accounts();
  ASSERT_TRUE(engine_->Submit(Cmd("r1", Xfer("bank", "alice", 1))));
  ASSERT_TRUE(engine_->Submit(Cmd("r2", Xfer("bank", "alice", 1))));
  Reopen(kRules);
  auto third = engine_->Submit(Cmd("r3", Xfer("bank", "alice", 1)));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::kVelocityLimited);
}

// The velocity guard on a real store, transaction by transaction, as the engine drives it.
class VelocityLogTest : public ::testing::Test {
 protected:
  static constexpr const char* kCountRule = R"toml(
[[rule]]
name = "per-account"
operations = ["transfer"]
key = ["account"]
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = 1000
)toml";

  std::unique_ptr<store::Store> Open() {
    store::StoreOptions o;
    o.create_if_missing = true;
    auto s = store::OpenSqliteStore(dir_.File("v.db"), o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  static std::unique_ptr<guards::VelocityGuard> Guard() {
    auto rules = guards::ParseVelocityRules(kCountRule, "v.toml");
    EXPECT_TRUE(rules);
    return std::make_unique<guards::VelocityGuard>(*rules);
  }
  static guards::VelocityEvent Event(const std::string& account) {
    guards::VelocityEvent e;
    e.merchant = "shop";
    e.account = account;
    return e;
  }
  // One transaction consuming one event per account named; committed unless told otherwise.
  static Result<void> Txn(store::Store& s, guards::VelocityGuard& g,
                          const std::vector<std::string>& accounts, bool commit = true) {
    PAY_ASSIGN_OR_RETURN(bool other, s.BeginWrite());
    PAY_TRY(g.Begin(s, other));
    for (const std::string& a : accounts) {
      PAY_ASSIGN_OR_RETURN(auto plan, g.Check(s, Event(a), kT0));
      g.Consume(plan, Event(a), kT0);
    }
    PAY_TRY(g.Flush(s, kT0));
    if (!commit) {
      s.Rollback();
      g.Rollback();
      return {};
    }
    PAY_TRY(s.Commit());
    g.Commit();
    return {};
  }
  static int64_t Used(store::Store& s, guards::VelocityGuard& g, const std::string& account) {
    auto st = g.Status(s, "per-account", "account=" + account, kT0);
    EXPECT_TRUE(st) << (st ? "" : st.error().message);
    return st ? (*st)[0].used : -1;
  }
  int64_t Count(const char* table) {
    sqlite3* db = nullptr;
    sqlite3_open(dir_.File("v.db").c_str(), &db);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, (std::string("SELECT count(*) FROM ") + table).c_str(), -1, &st, nullptr);
    int64_t n = st != nullptr && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  testing::TempDir dir_;
};

// A transaction appends one log row, not a row per account; every kVelocityLogRowsMax
// transactions the log is folded into the per-key rows. A new guard (a restart) sees the same
// counts before and after the fold.
TEST_F(VelocityLogTest, StatesAreLoggedPerTransactionAndFoldedNowAndThen) {
  auto s = Open();
  auto g = Guard();
  const size_t folds_at = limits::kVelocityLogRowsMax;
  for (size_t i = 0; i + 1 < folds_at; ++i) {
    ASSERT_TRUE(Txn(*s, *g, {"a" + std::to_string(i % 5), "b" + std::to_string(i % 7)}));
  }
  EXPECT_EQ(Count("velocity_log"), static_cast<int64_t>(folds_at - 1));
  EXPECT_EQ(Count("velocity_state"), 0);
  EXPECT_EQ(Used(*Open(), *Guard(), "a0"), 13);  // i = 0, 5, ..., 60
  ASSERT_TRUE(Txn(*s, *g, {"a0"}));               // the fold
  EXPECT_EQ(Count("velocity_log"), 0);
  EXPECT_EQ(Count("velocity_state"), 12);
  ASSERT_TRUE(Txn(*s, *g, {"a0"}));
  EXPECT_EQ(Count("velocity_log"), 1);
  auto restarted = Guard();
  auto s2 = Open();
  EXPECT_EQ(Used(*s2, *restarted, "a0"), 15);
  EXPECT_EQ(Used(*s2, *restarted, "b6"), 9);  // i = 6, 13, ..., 62
  EXPECT_EQ(Used(*s2, *restarted, "zz"), 0);
}

// A transaction rolled back leaves neither its log row nor its states, whether it appended or
// folded.
TEST_F(VelocityLogTest, ARolledBackTransactionLeavesNoTrace) {
  auto s = Open();
  auto g = Guard();
  for (size_t i = 0; i + 1 < limits::kVelocityLogRowsMax; ++i) ASSERT_TRUE(Txn(*s, *g, {"a"}));
  ASSERT_TRUE(Txn(*s, *g, {"a", "b"}, /*commit=*/false));  // would have folded
  EXPECT_EQ(Used(*s, *g, "a"), 63);
  EXPECT_EQ(Used(*s, *g, "b"), 0);
  EXPECT_EQ(Count("velocity_log"), 63);
  ASSERT_TRUE(Txn(*s, *g, {"b"}));  // folds now
  EXPECT_EQ(Count("velocity_log"), 0);
  EXPECT_EQ(Used(*Open(), *Guard(), "a"), 63);
  EXPECT_EQ(Used(*Open(), *Guard(), "b"), 1);
}

// A log row that does not decode is damage, named, not a silent reset of the limits.
TEST_F(VelocityLogTest, ADamagedLogRowIsReported) {
  auto s = Open();
  ASSERT_TRUE(Txn(*s, *Guard(), {"a"}));
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->AppendVelocityLog(std::string("\x01\x00\x00", 3)));
  ASSERT_TRUE(s->Commit());
  auto g = Guard();
  ASSERT_TRUE(s->BeginWrite());
  auto begun = g->Begin(*s, false);
  s->Rollback();
  ASSERT_FALSE(begun);
  EXPECT_EQ(begun.error().code, ErrorCode::kCorruptStore);
  EXPECT_NE(begun.error().message.find("velocity log row 2"), std::string::npos) << begun.error().message;
}

// Two writers on one file (two processes): each sees what the other consumed, so a limit holds
// across both, and a fold by one keeps the other's logged states.
TEST_F(VelocityLogTest, AnotherWritersConsumptionCounts) {
  auto s1 = Open();
  auto s2 = Open();
  auto g1 = Guard();
  auto g2 = Guard();
  ASSERT_TRUE(Txn(*s1, *g1, {"a"}));
  ASSERT_TRUE(Txn(*s2, *g2, {"a", "b"}));
  ASSERT_TRUE(Txn(*s1, *g1, {"a"}));
  for (size_t i = 0; i < limits::kVelocityLogRowsMax; ++i) ASSERT_TRUE(Txn(*s1, *g1, {"c"}));
  ASSERT_TRUE(Txn(*s2, *g2, {"b"}));
  EXPECT_EQ(Used(*Open(), *Guard(), "a"), 3);
  EXPECT_EQ(Used(*Open(), *Guard(), "b"), 2);
  EXPECT_EQ(Used(*Open(), *Guard(), "c"), static_cast<int64_t>(limits::kVelocityLogRowsMax));
}

TEST_P(EngineTest, ShadowRulesRecordAndPass) {
  Reopen(kRules);
  Accounts();
  for (int i = 0; i < 2; ++i) {
    Command c = Cmd("s" + std::to_string(i), Xfer("bank", "alice", 1));
    c.client.ip = "10.0.0.1";
    ASSERT_TRUE(engine_->Submit(c));  // the second breaks the shadow rule and still passes
  }
  auto status = engine_->VelocityStatus("watch-ip", "ip=10.0.0.1");
  ASSERT_TRUE(status);
  EXPECT_TRUE((*status)[0].shadow);
}

TEST_P(EngineTest, ShippedExampleRulesLoad) {
  auto rules = guards::LoadVelocityRules(std::string(PAY_SOURCE_DIR) + "/docs/examples/velocity.toml");
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ(rules->size(), 8u);
  EngineOptions o;
  o.db_path = Db();
  o.clock = &clock_;
  o.velocity_config_path = std::string(PAY_SOURCE_DIR) + "/docs/examples/velocity.toml";
  engine_.reset();
  auto e = Engine::Open(o);
  ASSERT_TRUE(e) << e.error().message;
}

TEST_P(EngineTest, BadVelocityConfigNamesFileRuleAndField) {
  struct Case {
    const char* toml;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\ncolour = 1\n[[rule.window]]\nalgorithm = \"gcra\"\nwindow = \"1m\"\nlimit = 1\n", "rule 'r': colour: unknown field"},
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\n[[rule.window]]\nalgorithm = \"gcra\"\nwindow = \"1m\"\nlimit = -1\n", "rule 'r': window[0].limit"},
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\n[[rule.window]]\nalgorithm = \"gcra\"\nwindow = \"0s\"\nlimit = 1\n", "rule 'r': window[0].window"},
           {"[[rule]]\nname = \"r\"\nkey = [\"planet\"]\n[[rule.window]]\nalgorithm = \"gcra\"\nwindow = \"1m\"\nlimit = 1\n", "rule 'r': key[0]"},
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\n", "rule 'r': window"},
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\n[[rule.window]]\nalgorithm = \"magic\"\nwindow = \"1m\"\nlimit = 1\n", "window[0].algorithm"},
           {"[[rule]]\nname = \"r\"\nkey = [\"merchant\"]\nmeasure = \"amount\"\n[[rule.window]]\nalgorithm = \"gcra\"\nwindow = \"1m\"\nlimit = 1\n", "rule 'r': currency"},
           {"[[rule]\n", "velocity.toml:1"},
       }) {
    std::ofstream(dir_.File("velocity.toml")) << c.toml;
    EngineOptions o;
    o.db_path = Db();
    o.clock = &clock_;
    o.velocity_config_path = dir_.File("velocity.toml");
    auto e = Engine::Open(o);
    ASSERT_FALSE(e) << c.toml;
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidConfig);
    EXPECT_NE(e.error().message.find(c.expect), std::string::npos) << e.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, EngineTest, ::testing::Values("Sqlite", "Postgres"),
                         [](const auto& i) { return std::string(i.param); });

}  // namespace
}  // namespace pay
