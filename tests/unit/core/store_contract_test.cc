// The Store interface's contract (core/store.h), run against every store: SQLite on a real
// file, and PostgreSQL on a real server (PAY_TEST_POSTGRES; a fresh schema per test). What the
// engine relies on: ids and order, conflicts, upserts, owners that never change, transactions
// that roll back whole, another writer's commits reported, and read snapshots.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/buffered_store.h"
#include "core/pg_connection.h"
#include "core/pg_schema.h"
#include "core/store.h"
#include "tests/bench/counting_store.h"
#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace pay::store {
namespace {

class StoreContractTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (Postgres() && !pg_.available()) GTEST_SKIP() << testing::PgSchema::kSkipReason;
    s_ = Open();
    ASSERT_TRUE(s_);
  }
  bool Postgres() const { return std::string(GetParam()) == "postgres"; }
  // Another connection to the same database.
  std::unique_ptr<Store> Open() {
    StoreOptions o;
    o.create_if_missing = true;
    auto s = Postgres() ? OpenPostgresStore(pg_.conninfo(), o) : OpenSqliteStore(dir_.File("s.db"), o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  // Runs `body` in a committed write transaction of `s`.
  template <class F>
  void Write(Store& s, F body) {
    ASSERT_TRUE(s.BeginWrite());
    body();
    ASSERT_TRUE(s.Commit());
  }

  testing::TempDir dir_;
  testing::PgSchema pg_;
  std::unique_ptr<Store> s_;
};

TEST_P(StoreContractTest, AccountsHaveStableNumbersUniqueIdsAndIdOrder) {
  AccountRow a{0, "m/acme/available", "USD", 1, 0, 0, std::string("k\0v", 3), 10};
  AccountRow b{0, "bank", "USD", 2, 1, 500, "", 11};
  Write(*s_, [&] {
    ASSERT_TRUE(s_->InsertAccount(&a));
    ASSERT_TRUE(s_->InsertAccount(&b));
    AccountRow again{0, "bank", "EUR", 1, 0, 0, "", 12};
    auto dup = s_->InsertAccount(&again);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code, ErrorCode::kAccountExists);
  });
  EXPECT_GT(a.num, 0);
  EXPECT_GT(b.num, a.num);
  a.debits_posted_minor = 700;
  a.last_seq = 3;
  Write(*s_, [&] { ASSERT_TRUE(s_->UpdateAccountCounters(a)); });
  auto found = s_->FindAccount("m/acme/available");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->num, a.num);
  EXPECT_EQ((*found)->metadata, std::string("k\0v", 3));
  EXPECT_EQ((*found)->debits_posted_minor, 700);
  EXPECT_EQ((*found)->last_seq, 3);
  auto by_num = s_->FindAccountByNum(b.num);
  ASSERT_TRUE(by_num && *by_num);
  EXPECT_EQ((*by_num)->overdraft_limit_minor, 500);
  EXPECT_FALSE(*s_->FindAccount("nobody"));
  auto list = s_->ListAccounts("", 10);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "bank");  // byte order
  EXPECT_EQ(s_->ListAccounts("bank", 10)->size(), 1u);
  EXPECT_EQ(s_->ListAccounts("", 1)->size(), 1u);
}

TEST_P(StoreContractTest, EntriesAreAppendedOnceByReference) {
  EntryRow e1{1, "order-1", 1, 100, "first", 0, 0, 0, std::string("\x01\x00\x02", 3), "d1", "h1"};
  EntryRow e2{2, "", 1, 101, "no ref", 0, 0, 500, "l2", "d2", "h2"};
  EntryRow e3{3, "", 2, 102, "no ref either", 2, 0, 0, "l3", "d3", "h3"};
  Write(*s_, [&] {
    EXPECT_TRUE(*s_->InsertEntry(e1));
    EXPECT_TRUE(*s_->InsertEntry(e2));
    EXPECT_TRUE(*s_->InsertEntry(e3));
    EntryRow same_ref = e1;
    same_ref.seq = 4;
    EXPECT_FALSE(*s_->InsertEntry(same_ref));  // written nothing
  });
  EXPECT_EQ((*s_->LastEntry())->seq, 3);
  auto by_ref = s_->FindEntryByRef("order-1");
  ASSERT_TRUE(by_ref && *by_ref);
  EXPECT_EQ((*by_ref)->legs, std::string("\x01\x00\x02", 3));
  EXPECT_EQ((*s_->FindEntry(2))->ref, "");
  EXPECT_EQ((*s_->FindEntry(3))->reverses_seq, 2);
  auto scan = s_->ScanEntries(1, 10);
  ASSERT_TRUE(scan);
  ASSERT_EQ(scan->size(), 2u);
  EXPECT_EQ((*scan)[0].seq, 2);
  EXPECT_EQ((*scan)[1].expires_at_ms, 0);
}

TEST_P(StoreContractTest, EntryStatesAreReplacedAndFoundDueInExpiryOrder) {
  Write(*s_, [&] {
    ASSERT_TRUE(s_->PutEntryState({1, 1, 300, 0}));
    ASSERT_TRUE(s_->PutEntryState({2, 1, 200, 0}));
    ASSERT_TRUE(s_->PutEntryState({3, 1, 0, 0}));
    ASSERT_TRUE(s_->PutEntryState({1, 1, 100, 0}));  // replaced
    ASSERT_TRUE(s_->PutEntryState({4, 2, 50, 9}));
  });
  auto due = s_->DueEntryStates(1, 250, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].seq, 1);
  EXPECT_EQ((*due)[1].seq, 2);
  EXPECT_EQ((*s_->FindEntryState(4))->resolved_by_seq, 9);
  EXPECT_FALSE(*s_->FindEntryState(5));
}

TEST_P(StoreContractTest, IdempotencyRecordsReplaceInFlightAndPurge) {
  IdempotencyRow k{"acme", 7, "order-1", "fp", 1, 0, "", 0, "", 10, 1000};
  Write(*s_, [&] {
    ASSERT_TRUE(s_->PutIdempotency(k));
    ASSERT_TRUE(s_->PutIdempotency({"acme", 7, "order-2", "fp", 1, 0, "", 0, "", 5, 1000}));
    ASSERT_TRUE(s_->PutIdempotency({"acme", 8, "order-1", "fp", 2, 0, "", 0, "x", 1, 50}));
  });
  auto in_flight = s_->InFlightIdempotency(10);
  ASSERT_TRUE(in_flight);
  ASSERT_EQ(in_flight->size(), 2u);
  EXPECT_EQ((*in_flight)[0].key, "order-2");  // oldest first
  k.state = 2;
  k.body = std::string("{\"a\":1}\0z", 9);
  k.entry_seq = 4;
  Write(*s_, [&] { ASSERT_TRUE(s_->PutIdempotency(k)); });
  auto row = s_->FindIdempotency("acme", 7, "order-1");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->state, 2);
  EXPECT_EQ((*row)->body, std::string("{\"a\":1}\0z", 9));
  EXPECT_EQ((*row)->entry_seq, 4);
  Write(*s_, [&] {
    EXPECT_EQ(*s_->PurgeIdempotency(100, 10), 1u);  // only complete and expired
    ASSERT_TRUE(s_->DeleteIdempotency("acme", 7, "order-2"));
  });
  EXPECT_FALSE(*s_->FindIdempotency("acme", 8, "order-1"));
  EXPECT_FALSE(*s_->FindIdempotency("acme", 7, "order-2"));
  EXPECT_TRUE(*s_->FindIdempotency("acme", 7, "order-1"));
}

TEST_P(StoreContractTest, VelocityStatesAndTheLog) {
  Write(*s_, [&] {
    ASSERT_TRUE(s_->PutVelocity({"r1", "card=b", "s1", 1}));
    ASSERT_TRUE(s_->PutVelocity({"r1", "card=a", "s2", 2}));
    ASSERT_TRUE(s_->PutVelocity({"r2", "ip=x", "s3", 3}));
    ASSERT_TRUE(s_->PutVelocity({"r1", "card=b", "s4", 4}));  // replaced
    ASSERT_TRUE(s_->AppendVelocityLog(std::string("b\0x", 3)));
    ASSERT_TRUE(s_->AppendVelocityLog("a"));
  });
  EXPECT_EQ((*s_->FindVelocity("r1", "card=b"))->state, "s4");
  auto r1 = s_->ListVelocity("r1", "", 10);
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->size(), 2u);
  EXPECT_EQ((*r1)[0].key, "card=a");
  EXPECT_EQ(s_->ListVelocity("", "", 10)->size(), 3u);
  auto log = s_->VelocityLog();
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].body, std::string("b\0x", 3));
  EXPECT_LT((*log)[0].seq, (*log)[1].seq);
  Write(*s_, [&] { ASSERT_TRUE(s_->ClearVelocityLog()); });
  EXPECT_TRUE(s_->VelocityLog()->empty());
}

TEST_P(StoreContractTest, RecordsKeepTheirOwnerAndListInIdOrder) {
  Write(*s_, [&] {
    ASSERT_TRUE(s_->PutRecord({10, "pay_2", "acme", 0, "v1", 0}));
    ASSERT_TRUE(s_->PutRecord({10, "pay_1", "beta", 500, "v1", 0}));
    ASSERT_TRUE(s_->PutRecord({10, "pay_3", "acme", 100, "v1", 7}));
    ASSERT_TRUE(s_->PutRecord({11, "x", "", 0, "other kind", 0}));
    ASSERT_TRUE(s_->PutRecord({10, "pay_2", "acme", 0, std::string("v\0two", 5), 9}));
    auto moved = s_->PutRecord({10, "pay_2", "beta", 0, "v3", 0});
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code, ErrorCode::kInternal);
  });
  auto r = s_->FindRecord(10, "pay_2");
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->owner, "acme");
  EXPECT_EQ((*r)->body, std::string("v\0two", 5));
  EXPECT_EQ((*r)->open_ms, 9);
  auto all = s_->ListRecords(10, "", "", 10);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "pay_1");
  EXPECT_EQ(s_->ListRecords(10, "acme", "", 10)->size(), 2u);
  EXPECT_EQ(s_->ListRecords(10, "acme", "pay_2", 10)->size(), 1u);
  auto due = s_->DueRecords(10, 1000, 10);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].id, "pay_3");
  auto open = s_->OpenRecords(10, "", 10);
  ASSERT_EQ(open->size(), 2u);
  EXPECT_EQ((*open)[0].id, "pay_2");
  Write(*s_, [&] { ASSERT_TRUE(s_->DeleteRecord(10, "pay_2")); });
  EXPECT_FALSE(*s_->FindRecord(10, "pay_2"));
}

// A write set (what store::BufferedStore collects) is applied in one go: PostgreSQL sends it in
// pipelined round trips of 512 statements, so 1,200 rows cross a chunk boundary twice.
TEST_P(StoreContractTest, AWriteSetIsAppliedWhole) {
  Write(*s_, [&] {
    ASSERT_TRUE(s_->PutRecord({10, "old", "acme", 0, "v", 0}));
    ASSERT_TRUE(s_->PutIdempotency({"acme", 1, "old", "fp", 2, 0, "", 0, "b", 1, 2}));
  });
  WriteSet set;
  for (int i = 0; i < 1200; ++i) {
    const std::string id = "r" + std::to_string(1000 + i);
    set.records[{10, id}] = RecordRow{10, id, "acme", 0, "body " + id, i % 2};
  }
  set.records[{10, "old"}] = std::nullopt;
  set.idempotency[{"acme", 1, "old"}] = std::nullopt;
  set.idempotency[{"acme", 1, "new"}] = IdempotencyRow{"acme", 1, "new", "fp", 1, 0, "", 0, "", 5, 6};
  set.velocity[{"r", "k"}] = VelocityRow{"r", "k", "s", 7};
  set.entry_states[3] = EntryStateRow{3, 1, 99, 0};
  set.entries.push_back(EntryRow{1, "pay/a/0", 1, 100, "", 0, 0, 0, "l1", "d1", "h1", true});
  set.entries.push_back(EntryRow{2, "", 1, 101, "", 0, 0, 0, "l2", "d2", "h2"});
  Write(*s_, [&] { ASSERT_TRUE(s_->Apply(set)); });
  EXPECT_EQ((*s_->LastEntry())->seq, 2);
  EXPECT_EQ((*s_->FindEntryByRef("pay/a/0"))->hash, "h1");
  EXPECT_EQ(s_->ListRecords(10, "acme", "", 5000)->size(), 1200u);
  EXPECT_FALSE(*s_->FindRecord(10, "old"));
  EXPECT_EQ((*s_->FindRecord(10, "r2199"))->body, "body r2199");
  EXPECT_FALSE(*s_->FindIdempotency("acme", 1, "old"));
  EXPECT_EQ((*s_->FindIdempotency("acme", 1, "new"))->created_at_ms, 5);
  EXPECT_EQ((*s_->FindVelocity("r", "k"))->state, "s");
  EXPECT_EQ((*s_->FindEntryState(3))->expires_at_ms, 99);
  // A record moved to another owner is refused, and the transaction rolls back whole.
  WriteSet bad;
  bad.records[{10, "r1000"}] = RecordRow{10, "r1000", "beta", 0, "stolen", 0};
  bad.records[{10, "zz"}] = RecordRow{10, "zz", "beta", 0, "new", 0};
  ASSERT_TRUE(s_->BeginWrite());
  auto refused = s_->Apply(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInternal);
  s_->Rollback();
  EXPECT_EQ((*s_->FindRecord(10, "r1000"))->owner, "acme");
  EXPECT_FALSE(*s_->FindRecord(10, "zz"));
  // An entry whose ref is taken fails the set (the ref's owner vouched wrongly): nothing stays.
  WriteSet taken;
  taken.records[{10, "zz"}] = RecordRow{10, "zz", "acme", 0, "new", 0};
  taken.entries.push_back(EntryRow{3, "pay/a/0", 1, 102, "", 0, 0, 0, "l3", "d3", "h3", true});
  ASSERT_TRUE(s_->BeginWrite());
  auto conflict = s_->Apply(taken);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kInternal);
  EXPECT_NE(conflict.error().message.find("pay/a/0"), std::string::npos) << conflict.error().message;
  s_->Rollback();
  EXPECT_FALSE(*s_->FindRecord(10, "zz"));
  EXPECT_EQ((*s_->LastEntry())->seq, 2);
}

// A batch's idempotency records in one call, in the order asked, absent ones as nullopt (on
// PostgreSQL pipelined, across chunk boundaries).
TEST_P(StoreContractTest, IdempotencyRecordsAreFoundManyAtOnce) {
  std::vector<IdemKeyRef> keys;
  Write(*s_, [&] {
    for (int i = 0; i < 1100; ++i) {
      const std::string key = "k" + std::to_string(i);
      if (i % 3 == 0) ASSERT_TRUE(s_->PutIdempotency({"acme", 2, key, "fp", 2, 0, "", i, "b", 1, 2}));
      keys.push_back({"acme", 2, key});
    }
  });
  keys.push_back({"acme", 3, "k0"});  // another operation: another record
  auto found = s_->FindIdempotencyMany(keys);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), keys.size());
  for (int i = 0; i < 1100; ++i) {
    ASSERT_EQ((*found)[i].has_value(), i % 3 == 0) << i;
    if (i % 3 == 0) EXPECT_EQ((*found)[i]->entry_seq, i);
  }
  EXPECT_FALSE(found->back());
  auto none = s_->FindIdempotencyMany({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// A rolled-back transaction leaves nothing; another connection's commit is reported to the
// next write transaction (so that caches are dropped), one's own is not; a read transaction
// sees one snapshot.
TEST_P(StoreContractTest, TransactionsRollBackWholeAndReportOtherWriters) {
  ASSERT_TRUE(s_->BeginWrite());
  ASSERT_TRUE(s_->PutRecord({10, "gone", "acme", 0, "v", 0}));
  s_->Rollback();
  EXPECT_FALSE(*s_->FindRecord(10, "gone"));
  Write(*s_, [&] { ASSERT_TRUE(s_->PutRecord({10, "mine", "acme", 0, "v", 0})); });
  auto again = s_->BeginWrite();
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);  // only our own commit since
  ASSERT_TRUE(s_->Commit());
  auto other = Open();
  ASSERT_TRUE(other);
  Write(*other, [&] { ASSERT_TRUE(other->PutRecord({10, "theirs", "acme", 0, "v", 0})); });
  auto told = s_->BeginWrite();
  ASSERT_TRUE(told);
  EXPECT_TRUE(*told);
  s_->Rollback();
  ASSERT_TRUE(s_->BeginRead());
  Write(*other, [&] { ASSERT_TRUE(other->PutRecord({10, "later", "acme", 0, "v", 0})); });
  EXPECT_FALSE(*s_->FindRecord(10, "later"));  // the snapshot began before
  EXPECT_TRUE(*s_->FindRecord(10, "theirs"));
  s_->EndRead();
  EXPECT_TRUE(*s_->FindRecord(10, "later"));
}

// Another writer's commits are named to the next write transaction: on PostgreSQL from the
// change log (the rows, keys, states and accounts it wrote; whether the journal and velocity
// state moved), on SQLite as "unknown" (drop every cache). One's own commits are not reported.
TEST_P(StoreContractTest, AnotherWritersChangesAreNamed) {
  auto other = Open();
  ASSERT_TRUE(other);
  Write(*s_, [&] {});  // s_ has seen the database once
  AccountRow acct{0, "bank", "USD", 2, 1, 0, "", 11};
  Write(*other, [&] {
    ASSERT_TRUE(other->PutRecord({10, "a", "acme", 0, "v", 0}));
    ASSERT_TRUE(other->InsertAccount(&acct));
  });
  Write(*other, [&] {
    WriteSet set;
    set.idempotency[{"acme", 1, "k"}] = IdempotencyRow{"acme", 1, "k", "fp", 1, 0, "", 0, "", 5, 6};
    set.entry_states[7] = EntryStateRow{7, 1, 99, 0};
    set.entries.push_back(EntryRow{1, "", 1, 100, "", 0, 0, 0, "l", "d", "h"});
    ASSERT_TRUE(other->Apply(set));
  });
  auto changed = s_->BeginWrite();
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  const Changes& c = s_->others_changes();
  if (!Postgres()) {
    EXPECT_FALSE(c.known);
  } else {
    ASSERT_TRUE(c.known);
    EXPECT_EQ(c.records, (std::set<std::pair<int32_t, std::string>>{{10, "a"}}));
    EXPECT_EQ(c.accounts, std::set<int64_t>{acct.num});
    EXPECT_EQ(c.idempotency.size(), 1u);
    EXPECT_EQ(c.entry_states, std::set<int64_t>{7});
    EXPECT_TRUE(c.entries);
    EXPECT_FALSE(c.velocity);
  }
  ASSERT_TRUE(s_->PutVelocity({"r", "k", "s", 1}));
  ASSERT_TRUE(s_->Commit());
  auto mine = s_->BeginWrite();  // nobody else committed
  ASSERT_TRUE(mine);
  EXPECT_FALSE(*mine);
  s_->Rollback();
  auto seen = other->BeginWrite();
  ASSERT_TRUE(seen && *seen);
  if (Postgres()) {
    EXPECT_TRUE(other->others_changes().known);
    EXPECT_TRUE(other->others_changes().velocity);
    EXPECT_TRUE(other->others_changes().records.empty());
  }
  other->Rollback();
}

// Behind BufferedStore, another writer's commit evicts only the rows it names (PostgreSQL) or
// every hot row (SQLite, which keeps no change log).
TEST_P(StoreContractTest, HotRowsOtherWritersLeftAloneStayHot) {
  auto counting = std::make_shared<bench::CountingStore>(std::move(s_));
  BufferedStore buffered(counting, 64);
  auto other = Open();
  ASSERT_TRUE(other);
  Write(buffered, [&] {
    ASSERT_TRUE(buffered.PutRecord({10, "mine", "acme", 0, "v1", 0}));
    ASSERT_TRUE(buffered.PutRecord({10, "shared", "acme", 0, "v1", 0}));
  });
  Write(*other, [&] { ASSERT_TRUE(other->PutRecord({10, "shared", "acme", 0, "v2", 0})); });
  ASSERT_TRUE(buffered.BeginWrite());
  EXPECT_EQ((*buffered.FindRecord(10, "shared"))->body, "v2");  // never the stale one
  EXPECT_EQ((*buffered.FindRecord(10, "mine"))->body, "v1");
  const auto& calls = counting->calls();
  EXPECT_EQ(calls.at("FindRecord"), Postgres() ? 1 : 2);
  buffered.Rollback();
}

// A database of the first PostgreSQL schema (no change log) is brought to the current one when
// opened, and its writers then name their changes.
TEST(PgStoreTest, ASchemaVersion1DatabaseGetsTheChangeLog) {
  testing::PgSchema pg;
  if (!pg.available()) GTEST_SKIP() << testing::PgSchema::kSkipReason;
  {
    auto raw = pg::Connection::Open(pg.conninfo());
    ASSERT_TRUE(raw) << raw.error().message;
    ASSERT_TRUE((*raw)->Exec(pg::kSchemaV1, "version 1"));
  }
  StoreOptions o;
  auto a = OpenPostgresStore(pg.conninfo(), o);
  ASSERT_TRUE(a) << a.error().message;
  auto b = OpenPostgresStore(pg.conninfo(), o);
  ASSERT_TRUE(b) << b.error().message;
  auto raw = pg::Connection::Open(pg.conninfo());
  ASSERT_TRUE(raw);
  auto version = (*raw)->ExecText("SELECT value FROM meta WHERE key = 'schema_version'", "version");
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, std::to_string(pg::kSchemaVersion));
  ASSERT_TRUE((*b)->BeginWrite());
  ASSERT_TRUE((*b)->Commit());
  ASSERT_TRUE((*a)->BeginWrite());
  ASSERT_TRUE((*a)->PutRecord({10, "x", "", 0, "v", 0}));
  ASSERT_TRUE((*a)->Commit());
  auto changed = (*b)->BeginWrite();
  ASSERT_TRUE(changed && *changed);
  EXPECT_TRUE((*b)->others_changes().known);
  EXPECT_EQ((*b)->others_changes().records.size(), 1u);
  (*b)->Rollback();
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace pay::store

namespace pay::store {
namespace {

TEST(ChangesTest, EncodeDecodeRoundTripsAndMerges) {
  Changes c;
  c.records = {{10, "a"}, {12, std::string("b\0c", 3)}};
  c.idempotency = {{"acme", 1, "k1"}, {"beta", 2, ""}};
  c.entry_states = {3, -1};
  c.accounts = {1, 2, 99};
  c.entries = true;
  Changes out;
  out.accounts = {5};
  ASSERT_TRUE(DecodeChanges(EncodeChanges(c), &out));
  EXPECT_EQ(out.records, c.records);
  EXPECT_EQ(out.idempotency, c.idempotency);
  EXPECT_EQ(out.entry_states, c.entry_states);
  EXPECT_EQ(out.accounts, (std::set<int64_t>{1, 2, 5, 99}));  // merged into what was there
  EXPECT_TRUE(out.entries);
  EXPECT_FALSE(out.velocity);
  EXPECT_FALSE(out.everything);
}

TEST(ChangesTest, MalformedRowsAreRefused) {
  Changes c;
  c.records = {{10, "abc"}};
  c.velocity = true;
  const std::string good = EncodeChanges(c);
  Changes out;
  EXPECT_FALSE(DecodeChanges("", &out));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeChanges(good.substr(0, n), &out)) << "truncated at " << n;
  }
  EXPECT_FALSE(DecodeChanges(good + "x", &out));  // trailing bytes
  std::string version = good;
  version[0] = 2;
  EXPECT_FALSE(DecodeChanges(version, &out));
  std::string flags = good;
  flags[1] = 8;
  EXPECT_FALSE(DecodeChanges(flags, &out));
  std::string huge = good.substr(0, 2) + std::string("\xff\xff\xff\xff", 4);  // a count with no rows
  EXPECT_FALSE(DecodeChanges(huge, &out));
}

}  // namespace
}  // namespace pay::store
