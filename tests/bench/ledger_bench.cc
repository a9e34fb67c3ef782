// Ledger transfer throughput against raw SQLite doing the same row work, measured side by side
// in one run (the machine is shared and noisy: compare the ratio, not absolute figures).
//
// For each batch size the two contenders alternate, `--reps` times each; the table shows
// medians. The raw contender writes the same rows the ledger writes for a transfer: one journal
// row (same columns and byte sizes, including the unique reference) and two account-counter
// updates of a balances table shaped like the ledger's, with prepared statements, one transaction
// per batch, WAL, synchronous=FULL, the same page cache and WAL checkpoint threshold as the
// ledger's store.
//
// Usage: ledger_bench [--accounts N] [--reps N] [--transfers N] [--dir PATH] [--normal]
//                     [--only ledger|raw] [--batch N]

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/limits.h"
#include "core/random.h"
#include "core/store.h"
#include "ledger/ledger.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int accounts = 100'000;
  int reps = 5;
  int transfers = 100'000;  // per rep for batched runs; batch size 1 runs a tenth... see below
  std::string dir = "build/bench-data";
  bool normal = false;
  std::string only;  // "ledger" or "raw": profile one contender
  std::vector<int> batches = {1, 100, 1000, 10000};
};

void Die(const char* what, const std::string& msg) {
  std::fprintf(stderr, "ledger_bench: %s: %s\n", what, msg.c_str());
  std::exit(1);
}

std::string AccountId(int i) { return "acct-" + std::to_string(i); }

class LedgerContender {
 public:
  LedgerContender(const std::string& path, const Options& o) : rnd_(1) {
    std::filesystem::remove(path);
    pay::store::StoreOptions so;
    so.create_if_missing = true;
    so.durability = o.normal ? pay::store::Durability::kNormal : pay::store::Durability::kFull;
    auto s = pay::store::OpenSqliteStore(path, so);
    if (!s) Die("open", s.error().message);
    store_ = std::move(*s);
    ledger_ = std::make_unique<pay::ledger::Ledger>(*store_, clock_);
    if (!ledger_->Begin()) Die("begin", "");
    for (int i = 0; i < o.accounts; ++i) {
      auto r = ledger_->CreateAccount({AccountId(i), "USD"});
      if (!r) Die("account", r.error().message);
    }
    if (auto c = ledger_->Commit(); !c) Die("commit", c.error().message);
    accounts_ = o.accounts;
  }

  // Returns seconds taken for `n` transfers in batches of `batch`.
  double Run(int n, int batch) {
    std::vector<pay::ledger::EntrySpec> specs(batch);
    auto start = Clock::now();
    for (int done = 0; done < n; done += batch) {
      for (auto& s : specs) {
        int a = static_cast<int>(rnd_.Uniform(accounts_));
        int b = static_cast<int>(rnd_.Uniform(accounts_ - 1));
        if (b >= a) ++b;
        s.ref = "t-" + std::to_string(next_ref_++);
        s.postings = {{AccountId(a), pay::ledger::Side::kDebit, 1 + static_cast<int64_t>(rnd_.Uniform(10'000))},
                      {AccountId(b), pay::ledger::Side::kCredit, 0}};
        s.postings[1].amount_minor = s.postings[0].amount_minor;
      }
      auto results = ledger_->CreateEntries(specs);
      for (const auto& r : results) {
        if (!r) Die("transfer", r.error().message);
      }
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  bool Verify() {
    auto v = ledger_->Verify();
    return v && v->ok();
  }

 private:
  pay::ManualClock clock_{1'790'000'000'000};
  std::unique_ptr<pay::store::Store> store_;
  std::unique_ptr<pay::ledger::Ledger> ledger_;
  pay::Random rnd_;
  int accounts_ = 0;
  int64_t next_ref_ = 0;
};

class RawContender {
 public:
  RawContender(const std::string& path, const Options& o) : rnd_(1) {
    std::filesystem::remove(path);
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die("raw open", sqlite3_errmsg(db_));
    Exec("PRAGMA journal_mode=WAL");
    Exec(o.normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL");
    Exec("PRAGMA cache_size=-65536");
    // The same WAL checkpoint threshold as the ledger's store.
    Exec(("PRAGMA wal_autocheckpoint=" + std::to_string(pay::limits::kWalAutocheckpointPagesDefault)).c_str());
    if (const char* extra = std::getenv("RAW_PRAGMAS")) Exec(extra);
    Exec("CREATE TABLE balances(num INTEGER PRIMARY KEY, dp INTEGER, cp INTEGER, dpend INTEGER, "
         "cpend INTEGER, last_seq INTEGER)");
    Exec("CREATE TABLE journal(seq INTEGER PRIMARY KEY, ref TEXT UNIQUE, kind INTEGER, created_at "
         "INTEGER, description TEXT, reverses INTEGER, resolves INTEGER, expires INTEGER, legs "
         "BLOB, digest BLOB, hash BLOB)");
    Exec("BEGIN");
    sqlite3_stmt* ins = Prepare("INSERT INTO balances VALUES(NULL, 0, 0, 0, 0, 0)");
    for (int i = 0; i < o.accounts; ++i) {
      if (sqlite3_step(ins) != SQLITE_DONE) Die("raw account", sqlite3_errmsg(db_));
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    Exec("COMMIT");
    insert_ = Prepare("INSERT INTO journal VALUES(?, ?, 1, ?, '', 0, 0, 0, ?, ?, ?)");
    update_ = Prepare("UPDATE balances SET dp = dp + ?, cp = cp + ?, dpend = dpend, cpend = cpend, "
                      "last_seq = ? WHERE num = ?");
    accounts_ = o.accounts;
  }
  ~RawContender() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(update_);
    sqlite3_close(db_);
  }

  double Run(int n, int batch) {
    // Blob sizes match the ledger's: two encoded postings (~2 x 40 bytes), two SHA-256 digests.
    std::string legs(93, 'L'), digest(32, 'D'), hash(32, 'H');
    auto start = Clock::now();
    for (int done = 0; done < n; done += batch) {
      Exec("BEGIN IMMEDIATE");
      for (int i = 0; i < batch; ++i) {
        int a = static_cast<int>(rnd_.Uniform(accounts_));
        int b = static_cast<int>(rnd_.Uniform(accounts_ - 1));
        if (b >= a) ++b;
        int64_t amount = 1 + static_cast<int64_t>(rnd_.Uniform(10'000));
        std::string ref = "t-" + std::to_string(seq_);
        ++seq_;
        sqlite3_bind_int64(insert_, 1, seq_);
        sqlite3_bind_text(insert_, 2, ref.data(), static_cast<int>(ref.size()), SQLITE_STATIC);
        sqlite3_bind_int64(insert_, 3, 1'790'000'000'000);
        sqlite3_bind_blob(insert_, 4, legs.data(), static_cast<int>(legs.size()), SQLITE_STATIC);
        sqlite3_bind_blob(insert_, 5, digest.data(), 32, SQLITE_STATIC);
        sqlite3_bind_blob(insert_, 6, hash.data(), 32, SQLITE_STATIC);
        if (sqlite3_step(insert_) != SQLITE_DONE) Die("raw insert", sqlite3_errmsg(db_));
        sqlite3_reset(insert_);
        Update(a + 1, amount, 0);
        Update(b + 1, 0, amount);
      }
      Exec("COMMIT");
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

 private:
  void Update(int64_t num, int64_t dp, int64_t cp) {
    sqlite3_bind_int64(update_, 1, dp);
    sqlite3_bind_int64(update_, 2, cp);
    sqlite3_bind_int64(update_, 3, seq_);
    sqlite3_bind_int64(update_, 4, num);
    if (sqlite3_step(update_) != SQLITE_DONE) Die("raw update", sqlite3_errmsg(db_));
    sqlite3_reset(update_);
  }
  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) Die(sql, err ? err : "");
  }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) Die(sql, sqlite3_errmsg(db_));
    return st;
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  pay::Random rnd_;
  int accounts_ = 0;
  int64_t seq_ = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("usage", a + " needs a value");
      return argv[++i];
    };
    if (a == "--accounts") o.accounts = std::max(2, std::atoi(next().c_str()));
    else if (a == "--reps") o.reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--transfers") o.transfers = std::max(1000, std::atoi(next().c_str()));
    else if (a == "--dir") o.dir = next();
    else if (a == "--normal") o.normal = true;
    else if (a == "--only") o.only = next();
    else if (a == "--batch") o.batches = {std::max(1, std::atoi(next().c_str()))};
    else {
      std::fprintf(stderr,
                   "usage: ledger_bench [--accounts N] [--reps N] [--transfers N] [--dir PATH] "
                   "[--normal] [--only ledger|raw] [--batch N]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(o.dir);
  std::printf("ledger_bench: %d accounts, %d reps, synchronous=%s, medians\n", o.accounts, o.reps,
              o.normal ? "NORMAL" : "FULL");
  LedgerContender ledger(o.dir + "/ledger.db", o);
  RawContender raw(o.dir + "/raw.db", o);

  std::printf("\n| batch | transfers/rep | ledger transfers/s | raw SQLite transfers/s | ledger/raw |\n");
  std::printf("|------:|--------------:|-------------------:|-----------------------:|-----------:|\n");
  for (int batch : o.batches) {
    // Batch size 1 is one fsync per transfer; a smaller count keeps the run short.
    int n = batch == 1 ? std::max(200, o.transfers / 50) : std::max(batch, o.transfers / batch * batch);
    std::vector<double> lr, rr;
    for (int rep = 0; rep < o.reps; ++rep) {
      if (o.only != "raw") lr.push_back(n / ledger.Run(n, batch));
      if (std::getenv("BENCH_VERBOSE")) std::fprintf(stderr, "rep %d ledger %.0f\n", rep, lr.back());
      if (o.only != "ledger") rr.push_back(n / raw.Run(n, batch));
    }
    double l = lr.empty() ? 0 : Median(lr), r = rr.empty() ? 1 : Median(rr);
    std::printf("| %5d | %13d | %18.0f | %22.0f | %9.0f%% |\n", batch, n, l, r, 100.0 * l / r);
    std::fflush(stdout);
  }
  std::printf("\nledger verify after the run: %s\n", ledger.Verify() ? "ok" : "FAILED");
  return 0;
}
