#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>

#include "core/store.h"
#include "tests/support/temp_dir.h"

namespace pay::store {
namespace {

void RawExec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

std::unique_ptr<Store> MustOpen(const std::string& path, bool create = true) {
  StoreOptions o;
  o.create_if_missing = create;
  auto s = OpenSqliteStore(path, o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

TEST(SqliteStoreTest, RefusesAMissingFileUnlessAskedToCreate) {
  testing::TempDir dir;
  auto r = OpenSqliteStore(dir.File("none.db"), StoreOptions{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("paymentctl init"), std::string::npos);
  EXPECT_TRUE(MustOpen(dir.File("new.db")));
  EXPECT_TRUE(MustOpen(dir.File("new.db"), false));  // and reopens
}

TEST(SqliteStoreTest, RefusesForeignAndNewerDatabases) {
  testing::TempDir dir;
  RawExec(dir.File("other.db"), "CREATE TABLE t(x)");
  auto foreign = OpenSqliteStore(dir.File("other.db"), StoreOptions{});
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, ErrorCode::kCorruptStore);

  ASSERT_TRUE(MustOpen(dir.File("newer.db")));
  RawExec(dir.File("newer.db"), "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto newer = OpenSqliteStore(dir.File("newer.db"), StoreOptions{});
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code, ErrorCode::kCorruptStore);
  EXPECT_NE(newer.error().message.find("newer"), std::string::npos);

  std::ofstream(dir.File("junk.db")) << std::string(4096, 'x');
  EXPECT_FALSE(OpenSqliteStore(dir.File("junk.db"), StoreOptions{}));
}

std::string QueryText(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out = t ? reinterpret_cast<const char*>(t) : "";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// A version-3 database is migrated with its records intact: idempotency records from a table
// clustered on their key to a rowid table with a unique key index (version 4), and a payment's
// open-exchange marker row onto the payment's own row (version 5), and the velocity log added
// (version 6).
TEST(SqliteStoreTest, MigratesAVersion3Database) {
  testing::TempDir dir;
  const std::string path = dir.File("v3.db");
  {
    auto s = MustOpen(path);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->BeginWrite());
    ASSERT_TRUE(s->PutIdempotency({"acme", 7, "order-1", "fp", 2, 0, "", 3, "{\"a\":1}", 10, 20}));
    ASSERT_TRUE(s->Commit());
  }
  // Back to the version-3 shape, as an older paymentctl left it.
  RawExec(path,
          "CREATE TABLE old(scope TEXT NOT NULL, operation INTEGER NOT NULL, key TEXT NOT NULL, "
          "fingerprint BLOB NOT NULL, state INTEGER NOT NULL, status INTEGER NOT NULL, message TEXT "
          "NOT NULL, entry_seq INTEGER NOT NULL, body BLOB NOT NULL, created_at_ms INTEGER NOT NULL, "
          "expires_at_ms INTEGER NOT NULL, PRIMARY KEY(scope, operation, key)) WITHOUT ROWID;"
          "INSERT INTO old SELECT scope, operation, key, fingerprint, state, status, message, "
          "entry_seq, body, created_at_ms, expires_at_ms FROM idempotency;"
          "DROP TABLE idempotency; ALTER TABLE old RENAME TO idempotency;"
          "CREATE INDEX idempotency_in_flight ON idempotency(created_at_ms) WHERE state = 1;"
          "DROP INDEX records_open; ALTER TABLE records DROP COLUMN open_ms;"
          "INSERT INTO records VALUES(10, 'pay_1', 'acme', 0, x'00'), (10, 'pay_2', 'acme', 0, x'00'),"
          "  (15, 'pay_1', '', 0, '1234');"
          "DROP TABLE velocity_log;"
          "UPDATE meta SET value = '3' WHERE key = 'schema_version';");
  ASSERT_NE(QueryText(path, "SELECT sql FROM sqlite_master WHERE name = 'idempotency'")
                .find("WITHOUT ROWID"),
            std::string::npos);
  auto s = MustOpen(path, false);
  ASSERT_TRUE(s);
  EXPECT_EQ(QueryText(path, "SELECT value FROM meta WHERE key = 'schema_version'"), "6");
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM velocity_log"), "0");
  EXPECT_EQ(QueryText(path, "SELECT sql FROM sqlite_master WHERE name = 'idempotency'")
                .find("WITHOUT ROWID"),
            std::string::npos);
  auto row = s->FindIdempotency("acme", 7, "order-1");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->body, "{\"a\":1}");
  EXPECT_EQ((*row)->entry_seq, 3);
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->PutIdempotency({"acme", 7, "order-1", "fp", 2, 0, "", 4, "{}", 10, 20}));
  ASSERT_TRUE(s->Commit());  // the unique key still replaces, not duplicates
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM idempotency"), "1");
  auto open = s->OpenRecords(10, "", 10);
  ASSERT_TRUE(open) << open.error().message;
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].id, "pay_1");
  EXPECT_EQ((*open)[0].open_ms, 1234);
  EXPECT_EQ(QueryText(path, "SELECT count(*) FROM records WHERE kind = 15"), "0");
}

// The velocity log keeps its rows in append order until it is cleared, in the transaction.
TEST(SqliteStoreTest, VelocityLogAppendsInOrderAndClears) {
  testing::TempDir dir;
  auto s = MustOpen(dir.File("v.db"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->AppendVelocityLog(std::string("b\0x", 3)));
  ASSERT_TRUE(s->AppendVelocityLog("a"));
  ASSERT_TRUE(s->Commit());
  auto rows = s->VelocityLog();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].body, std::string("b\0x", 3));
  EXPECT_EQ((*rows)[1].body, "a");
  EXPECT_LT((*rows)[0].seq, (*rows)[1].seq);
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->ClearVelocityLog());
  s->Rollback();
  EXPECT_EQ(s->VelocityLog()->size(), 2u);
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->ClearVelocityLog());
  ASSERT_TRUE(s->Commit());
  EXPECT_TRUE(s->VelocityLog()->empty());
}

// A record is replaced whole, except its owner, which is fixed when it is created.
TEST(SqliteStoreTest, RecordsAreReplacedButKeepTheirOwner) {
  testing::TempDir dir;
  auto s = MustOpen(dir.File("r.db"));
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->PutRecord({10, "pay_1", "acme", 5, "v1", 0}));
  ASSERT_TRUE(s->PutRecord({10, "pay_1", "acme", 0, "v2", 7}));
  auto moved = s->PutRecord({10, "pay_1", "other", 0, "v3", 0});
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, ErrorCode::kInternal);
  ASSERT_TRUE(s->Commit());
  auto row = s->FindRecord(10, "pay_1");
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->owner, "acme");
  EXPECT_EQ((*row)->body, "v2");
  EXPECT_EQ((*row)->due_ms, 0);
  EXPECT_EQ((*row)->open_ms, 7);
  EXPECT_EQ(s->ListRecords(10, "acme", "", 10)->size(), 1u);
  EXPECT_TRUE(s->DueRecords(10, 100, 10)->empty());
  EXPECT_EQ(s->OpenRecords(10, "", 10)->size(), 1u);
}

EntryRow Row(int64_t seq, std::string ref) {
  EntryRow e;
  e.seq = seq;
  e.ref = std::move(ref);
  e.kind = 1;
  e.legs = "L";
  e.digest = "D";
  e.hash = "H";
  return e;
}

TEST(SqliteStoreTest, EntryRefsAreUniqueAndEntriesImmutable) {
  testing::TempDir dir;
  auto s = MustOpen(dir.File("s.db"));
  ASSERT_TRUE(s->BeginWrite());
  EXPECT_TRUE(*s->InsertEntry(Row(1, "a")));
  EXPECT_FALSE(*s->InsertEntry(Row(2, "a")));   // same ref: not written
  EXPECT_TRUE(*s->InsertEntry(Row(2, "")));     // no ref: never conflicts
  EXPECT_TRUE(*s->InsertEntry(Row(3, "")));
  ASSERT_TRUE(s->Commit());
  EXPECT_EQ((*s->LastEntry())->seq, 3);
  EXPECT_EQ((*s->FindEntryByRef("a"))->seq, 1);
  EXPECT_FALSE(s->FindEntryByRef("zz")->has_value());
  EXPECT_EQ(s->ScanEntries(1, 10)->size(), 2u);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.File("s.db").c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE entries SET description = 'x'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM entries", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, RollbackWritesNothing) {
  testing::TempDir dir;
  auto s = MustOpen(dir.File("s.db"));
  ASSERT_TRUE(s->BeginWrite());
  AccountRow a;
  a.id = "x";
  a.currency = "USD";
  ASSERT_TRUE(s->InsertAccount(&a));
  EXPECT_GT(a.num, 0);
  s->Rollback();
  EXPECT_FALSE(s->FindAccount("x")->has_value());
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->InsertAccount(&a));
  auto dup = s->InsertAccount(&a);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kAccountExists);
  ASSERT_TRUE(s->Commit());
}

TEST(SqliteStoreTest, BeginWriteReportsOtherWriters) {
  testing::TempDir dir;
  auto a = MustOpen(dir.File("s.db"));
  auto b = MustOpen(dir.File("s.db"), false);
  ASSERT_TRUE(a->BeginWrite());
  ASSERT_TRUE(a->Commit());
  auto quiet = a->BeginWrite();
  ASSERT_TRUE(quiet);
  EXPECT_FALSE(*quiet);
  a->Rollback();
  ASSERT_TRUE(b->BeginWrite());
  EXPECT_TRUE(*b->InsertEntry(Row(1, "r")));
  ASSERT_TRUE(b->Commit());
  auto changed = a->BeginWrite();
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  a->Rollback();
}

TEST(SqliteStoreTest, DueStatesInExpiryOrder) {
  testing::TempDir dir;
  auto s = MustOpen(dir.File("s.db"));
  ASSERT_TRUE(s->BeginWrite());
  ASSERT_TRUE(s->PutEntryState({1, 1, 300, 0}));
  ASSERT_TRUE(s->PutEntryState({2, 1, 100, 0}));
  ASSERT_TRUE(s->PutEntryState({3, 1, 0, 0}));    // never expires
  ASSERT_TRUE(s->PutEntryState({4, 2, 50, 9}));   // resolved
  ASSERT_TRUE(s->Commit());
  auto due = s->DueEntryStates(1, 300, 10);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].seq, 2);
  EXPECT_EQ((*due)[1].seq, 1);
  EXPECT_EQ(s->DueEntryStates(1, 299, 10)->size(), 1u);
}

}  // namespace
}  // namespace pay::store
