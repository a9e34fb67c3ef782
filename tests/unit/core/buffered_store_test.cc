#include "core/buffered_store.h"

#include <gtest/gtest.h>

#include "tests/bench/counting_store.h"
#include "tests/support/temp_dir.h"

namespace pay::store {
namespace {

class BufferedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.create_if_missing = true;
    o.durability = Durability::kNormal;
    auto s = OpenSqliteStore(dir_.File("b.db"), o);
    ASSERT_TRUE(s) << s.error().message;
    counting_ = std::make_shared<bench::CountingStore>(std::move(*s));
    store_ = std::make_unique<BufferedStore>(counting_, 4);
  }
  int64_t Calls(const std::string& method) const {
    auto it = counting_->calls().find(method);
    return it == counting_->calls().end() ? 0 : it->second;
  }
  static RecordRow Rec(std::string id, std::string body, int64_t due = 0) {
    return RecordRow{10, std::move(id), "m", due, std::move(body)};
  }
  std::optional<RecordRow> Find(const std::string& id) {
    auto r = store_->FindRecord(10, id);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : std::nullopt;
  }

  testing::TempDir dir_;
  std::shared_ptr<bench::CountingStore> counting_;
  std::unique_ptr<BufferedStore> store_;
};

// Each row reaches the database once, in its final form; a row written and deleted in one
// transaction is never inserted; reads of the transaction's own writes stay in memory.
TEST_F(BufferedStoreTest, WritesEachRowOnceInItsFinalForm) {
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord(Rec("a", "first")));
  ASSERT_TRUE(store_->PutRecord(Rec("a", "final")));
  ASSERT_TRUE(store_->PutRecord(Rec("b", "gone")));
  ASSERT_TRUE(store_->DeleteRecord(10, "b"));
  EXPECT_EQ(Find("a")->body, "final");
  EXPECT_FALSE(Find("b"));
  IdempotencyRow k{"s", 1, "key-1", "fp", 1, 0, "", 0, "", 5, 0};
  ASSERT_TRUE(store_->PutIdempotency(k));
  k.state = 2;
  k.body = "{\"answer\":1}";
  ASSERT_TRUE(store_->PutIdempotency(k));
  auto found = store_->FindIdempotency("s", 1, "key-1");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->state, 2);
  EXPECT_EQ(Calls("PutRecord") + Calls("FindRecord") + Calls("FindIdempotency"), 0);
  ASSERT_TRUE(store_->Commit());
  EXPECT_EQ(Calls("PutRecord"), 1);
  EXPECT_EQ(Calls("PutIdempotency"), 1);
  EXPECT_EQ(counting_->work().commits, 1);
  EXPECT_EQ(store_->stats().rows_folded, 3);
  EXPECT_EQ(Find("a")->body, "final");  // outside a transaction: from the database
  EXPECT_FALSE(Find("b"));
}

TEST_F(BufferedStoreTest, ARolledBackTransactionLeavesNothing) {
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord(Rec("a", "kept")));
  ASSERT_TRUE(store_->Commit());
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord(Rec("a", "undone")));
  ASSERT_TRUE(store_->PutRecord(Rec("c", "undone")));
  EXPECT_EQ(Find("a")->body, "undone");
  store_->Rollback();
  ASSERT_TRUE(store_->BeginWrite());
  EXPECT_EQ(Find("a")->body, "kept");
  EXPECT_FALSE(Find("c"));
  store_->Rollback();
  EXPECT_FALSE(Find("c"));
}

// Range reads inside a transaction see its writes (the set is applied first), and a rollback
// after such an early apply undoes it too and forgets what was read meanwhile.
TEST_F(BufferedStoreTest, RangeReadsSeeTheTransactionsWrites) {
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord(Rec("due", "x", 100)));
  auto due = store_->DueRecords(10, 200, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(Find("due")->body, "x");
  store_->Rollback();
  ASSERT_TRUE(store_->BeginWrite());
  EXPECT_FALSE(Find("due"));
  EXPECT_TRUE(store_->DueRecords(10, 200, 10)->empty());
  store_->Rollback();
}

// Rows of committed transactions answer later transactions from memory, until another
// connection commits: then they are read again, never stale.
TEST_F(BufferedStoreTest, HotRowsServeUntilAnotherConnectionCommits) {
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutRecord(Rec("a", "v1")));
  ASSERT_TRUE(store_->Commit());
  ASSERT_TRUE(store_->BeginWrite());
  EXPECT_EQ(Find("a")->body, "v1");
  EXPECT_EQ(Calls("FindRecord"), 0);
  store_->Rollback();

  StoreOptions o;
  o.durability = Durability::kNormal;
  auto other = OpenSqliteStore(dir_.File("b.db"), o);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE((*other)->BeginWrite());
  ASSERT_TRUE((*other)->PutRecord(Rec("a", "v2")));
  ASSERT_TRUE((*other)->Commit());

  auto changed = store_->BeginWrite();
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(Find("a")->body, "v2");
  EXPECT_EQ(Calls("FindRecord"), 1);
  EXPECT_EQ(store_->stats().invalidations, 1);
  store_->Rollback();
}

// Journal entries are buffered in seq order and answered from the set; a committed entry stays
// hot (entries never change). A ref the caller vouches for is not looked up; any other is, so a
// taken ref is still reported as taken and nothing is buffered for it.
TEST_F(BufferedStoreTest, EntriesAreBufferedAndARefNotVouchedForIsLookedUp) {
  EntryRow e1{1, "pay/p1/0", 1, 100, "", 0, 0, 0, "l1", "d1", "h1", true};
  EntryRow e2{2, "order-2", 1, 101, "", 0, 0, 0, "l2", "d2", "h2"};
  ASSERT_TRUE(store_->BeginWrite());
  EXPECT_TRUE(*store_->InsertEntry(e1));
  EXPECT_TRUE(*store_->InsertEntry(e2));
  EXPECT_EQ(Calls("FindEntryByRef"), 1);  // order-2's only
  EXPECT_EQ((*store_->LastEntry())->seq, 2);
  EXPECT_EQ((*store_->FindEntry(1))->ref, "pay/p1/0");
  EXPECT_EQ((*store_->FindEntryByRef("order-2"))->seq, 2);
  EntryRow again = e2;
  again.seq = 3;
  EXPECT_FALSE(*store_->InsertEntry(again));  // taken within the transaction
  EXPECT_EQ(Calls("InsertEntry") + Calls("FindEntry") + Calls("LastEntry"), 0);
  ASSERT_TRUE(store_->Commit());
  EXPECT_EQ(Calls("InsertEntry"), 2);
  EXPECT_EQ(Calls("Apply"), 1);

  ASSERT_TRUE(store_->BeginWrite());
  EXPECT_EQ((*store_->FindEntry(2))->hash, "h2");  // hot
  EXPECT_EQ(Calls("FindEntry"), 0);
  again.seq = 3;
  EXPECT_FALSE(*store_->InsertEntry(again));  // taken in the database: looked up, refused
  EXPECT_EQ(Calls("FindEntryByRef"), 2);
  ASSERT_TRUE(store_->Commit());
  EXPECT_EQ(Calls("InsertEntry"), 2);
  EXPECT_EQ((*store_->LastEntry())->seq, 2);
}

// A batch's idempotency records are read ahead in one call, absent ones included; the lookups
// that follow reach the database no more.
TEST_F(BufferedStoreTest, PrefetchReadsABatchsKeysInOneCall) {
  ASSERT_TRUE(store_->BeginWrite());
  ASSERT_TRUE(store_->PutIdempotency({"s", 1, "old", "fp", 2, 0, "", 7, "b", 1, 2}));
  ASSERT_TRUE(store_->Commit());
  auto big = std::make_unique<BufferedStore>(counting_, 64);  // no hot rows yet
  ASSERT_TRUE(big->BeginWrite());
  ASSERT_TRUE(big->Prefetch({{"s", 1, "old"}, {"s", 1, "new-1"}, {"s", 1, "new-2"}}));
  EXPECT_EQ(Calls("FindIdempotencyMany"), 1);
  EXPECT_EQ((*big->FindIdempotency("s", 1, "old"))->entry_seq, 7);
  EXPECT_FALSE(*big->FindIdempotency("s", 1, "new-1"));
  EXPECT_FALSE(*big->FindIdempotency("s", 1, "new-2"));
  EXPECT_EQ(Calls("FindIdempotency"), 0);
  ASSERT_TRUE(big->Prefetch({{"s", 1, "old"}, {"s", 1, "new-1"}}));  // known: no call
  EXPECT_EQ(Calls("FindIdempotencyMany"), 1);
  big->Rollback();
}

TEST(LruTableTest, EvictsTheLeastRecentlyUsed) {
  LruTable<int> t(2);
  t.Put("a", 1);
  t.Put("b", 2);
  ASSERT_NE(t.Find("a"), nullptr);  // a is now the most recent
  t.Put("c", 3);
  EXPECT_EQ(t.Find("b"), nullptr);
  ASSERT_NE(t.Find("a"), nullptr);
  EXPECT_EQ(*t.Find("c"), 3);
  EXPECT_EQ(t.size(), 2u);
  t.Put("a", 9);
  EXPECT_EQ(*t.Find("a"), 9);
  t.Erase("a");
  EXPECT_EQ(t.Find("a"), nullptr);
  LruTable<int> none(0);
  none.Put("x", 1);
  EXPECT_EQ(none.Find("x"), nullptr);
}

}  // namespace
}  // namespace pay::store
