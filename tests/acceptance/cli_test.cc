// Black-box tests of paymentctl: the real binary, a real database file, real exit codes.

#include <algorithm>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "tests/support/pg_schema.h"
#include "tests/support/temp_dir.h"

namespace {

struct CtlRun {
  int status = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class CliTest : public ::testing::Test {
 protected:
  // Runs paymentctl with `args` against this test's database; `now` fixes the engine clock.
  CtlRun Ctl(const std::vector<std::string>& args, const std::string& stdin_text = "",
          const std::string& now = "2026-11-28T12:00:00Z") {
    std::string cmd = "PAYMENTCTL_DB=" + Quote(db_.empty() ? dir_.File("cli.db") : db_) +
                      (now.empty() ? "" : " PAYMENTCTL_NOW=" + Quote(now)) + " " +
                      Quote(PAYMENTCTL_BIN);
    for (const auto& a : args) cmd += " " + Quote(a);
    std::string in_file = dir_.File("stdin"), err_file = dir_.File("stderr");
    std::ofstream(in_file) << stdin_text;
    cmd += " <" + Quote(in_file) + " 2>" + Quote(err_file);
    CtlRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::ifstream e(err_file);
    std::stringstream ss;
    ss << e.rdbuf();
    r.err = ss.str();
    return r;
  }

  CtlRun Ok(const std::vector<std::string>& args, const std::string& now = "2026-11-28T12:00:00Z") {
    CtlRun r = Ctl(args, "", now);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    return r;
  }

  void SetUpBooks() {
    Ok({"init"});
    Ok({"account", "create", "bank", "--currency", "USD", "--type", "asset"});
    Ok({"account", "create", "alice", "--currency", "USD", "--no-overdraft", "--meta", "tier=gold"});
  }

  pay::testing::TempDir dir_;
  std::string db_;  // the database; empty: cli.db in dir_
};

bool Has(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST_F(CliTest, InitThenShowsASmallLedger) {
  SetUpBooks();
  Ok({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "100.00", "--ref", "d1"});
  CtlRun show = Ok({"--json", "account", "show", "alice"});
  for (const char* field :
       {"\"id\":\"alice\"", "\"currency\":\"USD\"", "\"debits_posted_minor\":0",
        "\"credits_posted_minor\":10000", "\"debits_pending_minor\":0", "\"credits_pending_minor\":0",
        "\"balance_minor\":10000", "\"available_minor\":10000", "\"tier\":\"gold\""}) {
    EXPECT_TRUE(Has(show.out, field)) << field << " in " << show.out;
  }
  CtlRun text = Ok({"account", "show", "alice"});
  EXPECT_TRUE(Has(text.out, "balance    100.00"));
  CtlRun list = Ok({"account", "list", "--json"});  // --json after the subcommand works too
  EXPECT_TRUE(Has(list.out, "\"accounts\":["));
}

// --db takes a PostgreSQL connection string: the same commands on the PostgreSQL store, with the
// issuer simulator's file and the card key named (no <db>.issuer beside a connection string).
TEST_F(CliTest, APostgreSQLDatabaseServesTheSameCommands) {
  pay::testing::PgSchema pg;
  if (!pg.available()) GTEST_SKIP() << pay::testing::PgSchema::kSkipReason;
  db_ = pg.conninfo();
  const std::string key = dir_.File("card.key");
  std::ofstream(key) << "a card key of at least 16 bytes";
  Ok({"init"});
  Ok({"merchant", "create", "acme", "--currency", "USD"});
  const std::vector<std::string> auth = {"--merchant", "acme", "--json", "authorize", "--card",
                                         "4242424242424242", "--expiry", "12/30", "--amount",
                                         "25.00", "--currency", "USD", "--key", "order-1"};
  CtlRun missing = Ctl(auth);
  EXPECT_NE(missing.status, 0);
  EXPECT_TRUE(Has(missing.out + missing.err, "--issuer-db: required")) << missing.out << missing.err;
  std::vector<std::string> with = {"--issuer-db", dir_.File("issuer.db"), "--card-key-file", key};
  with.insert(with.end(), auth.begin(), auth.end());
  CtlRun a = Ok(with);
  EXPECT_TRUE(Has(a.out, "\"status\":\"authorized\"")) << a.out;
  CtlRun again = Ok(with);  // the same key: the stored answer, marked as a replay
  std::string expected = a.out;
  const std::string fresh = "\"replayed\":false";
  expected.replace(expected.find(fresh), fresh.size(), "\"replayed\":true");
  EXPECT_EQ(again.out, expected);
  CtlRun verify = Ok({"--json", "ledger", "verify"});
  EXPECT_TRUE(Has(verify.out, "\"ok\":true")) << verify.out;
}

// Two partitions named with --shard: merchants spread over them, payment ids naming theirs,
// reads and verify over both; misnamed partitions are refused, naming the option.
TEST_F(CliTest, PartitionsFromTheCommandLine) {
  const std::vector<std::string> shards = {"--shard", "0=" + dir_.File("p0.db"), "--shard",
                                           "1=" + dir_.File("p1.db")};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), shards.begin(), shards.end());
    return args;
  };
  CtlRun init = Ok(with({"init"}));
  EXPECT_TRUE(Has(init.out, "initialized partition 1: " + dir_.File("p1.db"))) << init.out;
  std::set<std::string> prefixes;
  for (std::string m : {"acme", "globex", "initech", "umbrella"}) {
    Ok(with({"merchant", "create", m, "--currency", "USD"}));
    CtlRun a = Ok(with({"--merchant", m, "--json", "authorize", "--card", "4242424242424242",
                        "--expiry", "12/30", "--amount", "10.00", "--currency", "USD", "--key", "k1"}));
    const size_t at = a.out.find("\"payment_id\":\"pay_");
    ASSERT_NE(at, std::string::npos) << a.out;
    prefixes.insert(a.out.substr(at + 14, 6));
  }
  EXPECT_EQ(prefixes, (std::set<std::string>{"pay_00", "pay_01"})) << "merchants in both partitions";
  CtlRun list = Ok(with({"payment", "list"}));
  EXPECT_TRUE(Has(list.out, "pay_00") && Has(list.out, "pay_01")) << list.out;
  CtlRun verify = Ok(with({"--json", "ledger", "verify"}));
  EXPECT_TRUE(Has(verify.out, "\"ok\":true")) << verify.out;

  CtlRun twice = Ctl({"--shard", "0=" + dir_.File("p0.db"), "--shard", "0=" + dir_.File("p1.db"), "init"});
  EXPECT_EQ(twice.status, 2);
  EXPECT_TRUE(Has(twice.err, "--shard: partition 0 given twice")) << twice.err;
  CtlRun swapped = Ctl({"--shard", "1=" + dir_.File("p0.db"), "--shard", "0=" + dir_.File("p1.db"),
                        "payment", "list"});
  EXPECT_NE(swapped.status, 0);
  EXPECT_TRUE(Has(swapped.err, "holds partition 1 of 2, opened as partition 0 of 2")) << swapped.err;
  CtlRun alone = Ctl({"--db", dir_.File("p1.db"), "payment", "list"});
  EXPECT_NE(alone.status, 0);
  EXPECT_TRUE(Has(alone.err, "--shard K=DB")) << alone.err;
}

TEST_F(CliTest, MissingDatabaseSaysRunInit) {
  CtlRun r = Ctl({"account", "list"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Has(r.err, "paymentctl init")) << r.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  SetUpBooks();
  EXPECT_EQ(Ctl({}).status, 2);
  EXPECT_EQ(Ctl({"bogus"}).status, 2);
  EXPECT_EQ(Ctl({"transfer", "--debit", "bank"}).status, 2);  // missing required options
  EXPECT_EQ(Ctl({"account", "create", "x", "--currency", "USD", "--type", "cash"}).status, 2);
  EXPECT_EQ(Ctl({"account", "create", "x", "--currency", "USD", "--no-overdraft",
                 "--overdraft-limit", "5"}).status, 2);
  EXPECT_EQ(Ctl({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "1",
                 "--ref", "r", "--expires-in", "1h"}).status, 2);  // --expires-in needs --pending
}

TEST_F(CliTest, HelpHasExamples) {
  CtlRun r = Ctl({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(Has(r.out, "Examples:"));
  EXPECT_TRUE(Has(r.out, "paymentctl transfer"));
  CtlRun sub = Ctl({"entry", "create", "--help"});
  EXPECT_EQ(sub.status, 0);
  EXPECT_TRUE(Has(sub.out, "\"postings\""));
}

TEST_F(CliTest, ErrorsAreJsonWithCodeAndNumber) {
  SetUpBooks();
  CtlRun bad = Ctl({"--json", "transfer", "--debit", "bank", "--credit", "alice", "--amount", "12.345",
                 "--ref", "r"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.out, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"invalid_amount\",\"number\":1002,")) << bad.out;
  EXPECT_TRUE(Has(bad.out, "\"param\":\"--amount\"")) << bad.out;
  EXPECT_TRUE(Has(bad.out, "--amount"));
  CtlRun od = Ctl({"--json", "transfer", "--debit", "alice", "--credit", "bank", "--amount", "1.00",
                "--ref", "r"});
  EXPECT_EQ(od.status, 1);
  EXPECT_TRUE(Has(od.out, "\"code\":\"overdraft\",\"number\":2004")) << od.out;
  CtlRun unknown = Ctl({"--json", "transfer", "--debit", "ghost", "--credit", "bank", "--amount", "1",
                     "--ref", "r"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_TRUE(Has(unknown.out, "\"code\":\"unknown_account\"")) << unknown.out;
  EXPECT_TRUE(Has(unknown.out, "--debit")) << unknown.out;
  EXPECT_TRUE(Has(unknown.out, "\"message\":\"--debit: no account 'ghost'\"")) << unknown.out;
  CtlRun usage = Ctl({"--json", "transfer", "--debit", "bank"});
  EXPECT_EQ(usage.status, 2);
  EXPECT_TRUE(Has(usage.out, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"invalid_argument\",\"number\":1001,")) << usage.out;
  EXPECT_FALSE(Has(usage.out, "\"param\"")) << usage.out;  // "usage: ..." names no field
  EXPECT_EQ(Ctl({"account", "show", "alice", "--as-of-entry", "-5"}).status, 2);
  CtlRun cur = Ctl({"account", "create", "x", "--currency", "XXX"});
  EXPECT_EQ(cur.status, 2);
  EXPECT_TRUE(Has(cur.err, "invalid_currency 1003"));
}

TEST_F(CliTest, SameRefReplaysOtherContentRefused) {
  SetUpBooks();
  Ok({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "5", "--ref", "r1"});
  CtlRun again = Ok({"--json", "transfer", "--debit", "bank", "--credit", "alice", "--amount", "5",
                  "--ref", "r1"});
  EXPECT_TRUE(Has(again.out, "\"replayed\":true"));
  CtlRun other = Ctl({"--json", "transfer", "--debit", "bank", "--credit", "alice", "--amount", "6",
                   "--ref", "r1"});
  EXPECT_EQ(other.status, 2);
  EXPECT_TRUE(Has(other.out, "idempotency_key_reused")) << other.out;
  // The same key from another merchant is another key.
  CtlRun scoped = Ctl({"--json", "--merchant", "other-shop", "transfer", "--debit", "bank",
                       "--credit", "alice", "--amount", "5", "--key", "r1", "--ref", "r1-other"});
  EXPECT_EQ(scoped.status, 0) << scoped.out << scoped.err;
  EXPECT_TRUE(Has(scoped.out, "{\"replayed\":false,"));
  EXPECT_TRUE(Has(Ok({"--json", "account", "show", "alice"}).out, "\"balance_minor\":1000"));
}

// DOMAIN.md's idempotency rules through the CLI (the engine tests cover each in depth).
TEST_F(CliTest, IdempotencyRulesHoldThroughTheCli) {
  SetUpBooks();
  auto xfer = [&](const std::string& key, const std::string& amount,
                  const std::string& from = "bank", const std::string& now = "2026-11-28T12:00:00Z") {
    return Ctl({"--json", "--idempotency-retention", "1h", "transfer", "--debit", from, "--credit",
                from == "bank" ? "alice" : "bank", "--amount", amount, "--key", key}, "", now);
  };
  // 1. keys are printable ASCII, 1-255 characters
  CtlRun bad = xfer(std::string(256, 'k'), "1");
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.out, "invalid_idempotency_key"));
  // 3. same key, same request: the stored answer, flagged
  CtlRun first = xfer("k1", "1");
  CtlRun again = xfer("k1", "1");
  EXPECT_TRUE(Has(first.out, "{\"replayed\":false,"));
  EXPECT_TRUE(Has(again.out, "{\"replayed\":true,"));
  EXPECT_EQ(first.out.substr(18), again.out.substr(17));  // same body bytes after the flag
  // 4. same key, other request
  CtlRun reused = xfer("k1", "2");
  EXPECT_EQ(reused.status, 2);
  EXPECT_TRUE(Has(reused.out, "idempotency_key_reused"));
  // 5. a key left in flight
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("cli.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO idempotency VALUES('default', 2, 'stuck', zeroblob(32), 1, 0, "
                             "'', 0, '', 0, 0)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  CtlRun stuck = xfer("stuck", "1");
  EXPECT_EQ(stuck.status, 0);
  // (opening the engine resolves what a crash left in flight first: the key was released)
  EXPECT_TRUE(Has(stuck.out, "{\"replayed\":false,")) << stuck.out;
  // 6. a decline is stored; a validation failure is not
  CtlRun declined = xfer("k2", "500.00", "alice");
  EXPECT_EQ(declined.status, 1);
  EXPECT_TRUE(Has(declined.out, "\"declined\":{\"operation\":\"transfer\",\"code\":\"overdraft\""));
  xfer("fund", "1000.00");
  CtlRun still = xfer("k2", "500.00", "alice");
  EXPECT_TRUE(Has(still.out, "{\"replayed\":true,\"declined\"")) << still.out;
  EXPECT_EQ(xfer("k3", "0.001").status, 2);
  EXPECT_EQ(xfer("k3", "0.01").status, 0);  // the same key, fixed request, executes
  // 8. keys live the retention, then purge removes them
  CtlRun early = Ctl({"--json", "--idempotency-retention", "1h", "idempotency", "purge"}, "",
                     "2026-11-28T12:59:59Z");
  EXPECT_TRUE(Has(early.out, "\"purged\":0"));
  CtlRun late = Ctl({"--json", "--idempotency-retention", "1h", "idempotency", "purge"}, "",
                    "2026-11-28T13:00:00Z");
  EXPECT_FALSE(Has(late.out, "\"purged\":0")) << late.out;
  // 9. reads take no key
  EXPECT_EQ(Ctl({"account", "show", "alice"}).status, 0);
}

TEST_F(CliTest, VelocityRulesFromAConfigFile) {
  SetUpBooks();
  std::ofstream(dir_.File("v.toml")) << R"toml(
[[rule]]
name = "two-per-minute"
operations = ["transfer"]
key = ["merchant"]
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1m"
  limit = 2
)toml";
  auto xfer = [&](const std::string& key) {
    return Ctl({"--json", "--config", dir_.File("v.toml"), "--merchant", "acme", "transfer",
                "--debit", "bank", "--credit", "alice", "--amount", "1", "--key", key});
  };
  EXPECT_EQ(xfer("a").status, 0);
  EXPECT_EQ(xfer("b").status, 0);
  CtlRun refused = xfer("c");
  EXPECT_EQ(refused.status, 1);
  EXPECT_TRUE(Has(refused.out, "\"code\":\"velocity_limited\",\"number\":3004,")) << refused.out;
  EXPECT_TRUE(Has(refused.out, "\"type\":\"card_error\"")) << refused.out;
  EXPECT_TRUE(Has(refused.out, "\"decline_code\":\"withdrawal_count_limit_exceeded\",\"decline_reason\":\"Exceeds the count limit of a velocity rule\",\"response_code\":\"65\",\"rule\":\"two-per-minute\",\"retry_after_ms\":60000")) << refused.out;
  EXPECT_EQ(xfer("a").status, 0);  // a replay passes and consumes nothing
  CtlRun status = Ctl({"--json", "--config", dir_.File("v.toml"), "velocity", "status", "--key",
                       "merchant=acme"});
  EXPECT_TRUE(Has(status.out, "\"used\":2,\"remaining\":0")) << status.out;
  CtlRun wrong = Ctl({"--config", dir_.File("v.toml"), "velocity", "status", "--key", "ip=1.2.3.4"});
  EXPECT_EQ(wrong.status, 2);
  std::ofstream(dir_.File("bad.toml")) << "[[rule]]\nname = \"x\"\nkey = [\"merchant\"]\nlimit = 5\n";
  CtlRun bad = Ctl({"--config", dir_.File("bad.toml"), "account", "list"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "rule 'x': limit: unknown field")) << bad.err;
}

TEST_F(CliTest, HoldPostVoidReverseAndHistory) {
  SetUpBooks();
  Ok({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "100", "--ref", "in"});
  CtlRun hold = Ok({"--json", "transfer", "--debit", "alice", "--credit", "bank", "--amount", "30",
                 "--ref", "h1", "--pending", "--expires-in", "7d"});
  EXPECT_TRUE(Has(hold.out, "\"state\":\"pending\""));
  EXPECT_TRUE(Has(hold.out, "\"expires_at\":\"2026-12-05T12:00:00.000Z\""));
  EXPECT_TRUE(Has(Ok({"--json", "account", "show", "alice"}).out, "\"available_minor\":7000"));
  CtlRun post = Ok({"--json", "entry", "post", "2", "--amount", "20.00"});
  EXPECT_TRUE(Has(post.out, "\"kind\":\"post\""));
  CtlRun twice = Ctl({"--json", "entry", "void", "2"});
  EXPECT_EQ(twice.status, 1);
  EXPECT_TRUE(Has(twice.out, "hold_already_resolved"));
  Ok({"transfer", "--debit", "alice", "--credit", "bank", "--amount", "10", "--ref", "h2", "--pending"});
  Ok({"entry", "void", "4"});
  // Reversing the deposit would overdraw alice (80.00 left of 100.00): refused, nothing written.
  CtlRun od = Ctl({"entry", "reverse", "1", "--ref", "undo-in"});
  EXPECT_EQ(od.status, 1);
  EXPECT_TRUE(Has(od.err, "overdraft"));
  Ok({"entry", "reverse", "3", "--ref", "undo-capture", "--description", "refund"}, "");
  CtlRun rev = Ctl({"entry", "reverse", "3", "--ref", "undo-capture-2"});
  EXPECT_EQ(rev.status, 1);
  EXPECT_TRUE(Has(rev.err, "already_reversed"));
  CtlRun hist = Ok({"--json", "account", "history", "alice"});
  EXPECT_TRUE(Has(hist.out, "\"entry\":1")) << hist.out;
  EXPECT_TRUE(Has(hist.out, "{\"entry\":6,")) << hist.out;
  EXPECT_TRUE(Has(hist.out, "\"kind\":\"reversal\",\"ref\":\"undo-capture\",\"description\":\"refund\",\"debit_minor\":0,\"credit_minor\":2000")) << hist.out;
  CtlRun asof = Ok({"--json", "account", "show", "alice", "--as-of-entry", "1"});
  EXPECT_TRUE(Has(asof.out, "\"balance_minor\":10000"));
  CtlRun zero = Ok({"--json", "account", "show", "alice", "--as-of", "2026-01-01T00:00:00Z"});
  EXPECT_TRUE(Has(zero.out, "\"balance_minor\":0"));
  EXPECT_EQ(Ctl({"account", "show", "alice", "--as-of", "noon"}).status, 2);
  CtlRun verify = Ok({"--json", "ledger", "verify"});
  EXPECT_TRUE(Has(verify.out, "\"ok\":true"));
}

TEST_F(CliTest, HoldsExpireByTheEngineClock) {
  SetUpBooks();
  Ok({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "100", "--ref", "in"});
  Ok({"transfer", "--debit", "alice", "--credit", "bank", "--amount", "30", "--ref", "h",
      "--pending", "--expires-in", "1h"});
  CtlRun early = Ok({"--json", "ledger", "expire"}, "2026-11-28T12:59:59Z");
  EXPECT_TRUE(Has(early.out, "\"expired\":0"));
  CtlRun due = Ok({"--json", "ledger", "expire"}, "2026-11-28T13:00:00Z");
  EXPECT_TRUE(Has(due.out, "\"expired\":1")) << due.out;
  CtlRun post = Ctl({"--json", "entry", "post", "2"}, "", "2026-11-28T13:00:01Z");
  EXPECT_EQ(post.status, 1);
  EXPECT_TRUE(Has(post.out, "hold_expired"));
  EXPECT_TRUE(Has(Ok({"--json", "account", "show", "alice"}).out, "\"available_minor\":10000"));
}

TEST_F(CliTest, EntryCreateReadsJson) {
  SetUpBooks();
  Ok({"account", "create", "fees", "--currency", "USD", "--type", "revenue"});
  std::string good = R"({"ref":"split-1","description":"order 7","postings":[
      {"account":"bank","side":"debit","amount":"10.00"},
      {"account":"alice","side":"credit","amount":"7.00"},
      {"account":"fees","side":"credit","amountMinor":300}]})";
  CtlRun r = Ctl({"--json", "entry", "create", "-"}, good);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(Has(r.out, "\"ref\":\"split-1\""));
  EXPECT_TRUE(Has(Ok({"--json", "account", "show", "fees"}).out, "\"balance_minor\":300"));

  std::string file = dir_.File("entry.json");
  std::ofstream(file) << R"({"ref":"split-2","postings":[{"account":"bank","side":"debit","amount":"1"},{"account":"alice","side":"credit","amount":"1"}]})";
  EXPECT_EQ(Ctl({"entry", "create", file}).status, 0);

  struct Bad {
    std::string json;
    std::string expect;
  };
  for (const Bad& b : std::vector<Bad>{
           {"{", "invalid JSON"},
           {"[]", "invalid JSON"},
           {R"({"ref":"x","postings":[],"colour":"red"})", "colour"},
           {R"({"ref":"x","postings":[{"account":"bank","side":"up","amount":"1"}]})", "postings[0].side"},
           {R"({"ref":"x","postings":[{"account":"bank","side":"debit"}]})", "postings[0].amount"},
           {R"({"ref":"x","postings":[{"account":"bank","side":"debit","amount":"1.001"}]})", "postings[0].amount"},
           {R"({"ref":"x","postings":[{"account":"nope","side":"debit","amount":"1"}]})", "postings[0].account"},
           {R"({"ref":"x","postings":[{"account":"bank","side":"debit","amount":"2"},{"account":"alice","side":"credit","amount":"1"}]})", "unbalanced_entry"},
           {R"({"postings":[{"account":"bank","side":"debit","amount":"1"},{"account":"alice","side":"credit","amount":"1"}]})", "ref"},
           {R"({"ref":"x","expiresIn":"soon","pending":true,"postings":[]})", "expires_in"},
       }) {
    CtlRun bad = Ctl({"--json", "entry", "create", "-"}, b.json);
    EXPECT_NE(bad.status, 0) << b.json;
    EXPECT_TRUE(Has(bad.out, "\"error\"") && Has(bad.out, b.expect)) << b.json << " -> " << bad.out;
  }
  EXPECT_EQ(Ctl({"entry", "create", dir_.File("missing.json")}).status, 2);
  CtlRun verify = Ok({"ledger", "verify"});
  EXPECT_TRUE(Has(verify.out, "ok: 2 entries"));
}

TEST_F(CliTest, VerifyFailsOnACorruptedBalance) {
  SetUpBooks();
  Ok({"transfer", "--debit", "bank", "--credit", "alice", "--amount", "100", "--ref", "in"});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.File("cli.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE balances SET credits_posted_minor = 1 WHERE num = "
                         "(SELECT num FROM accounts WHERE id = 'alice')",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  CtlRun v = Ctl({"ledger", "verify"});
  EXPECT_EQ(v.status, 1);
  EXPECT_TRUE(Has(v.out, "problem: account 'alice': credits_posted_minor is 1, the journal says 10000"));
  EXPECT_TRUE(Has(v.out, "FAILED"));
}

}  // namespace

// ---- card pull payments ------------------------------------------------------------------------

class CardCliTest : public CliTest {
 protected:
  void SetUp() override {
    Ok({"init"});
    Ok({"merchant", "create", "acme", "--currency", "USD", "--fee-bps", "250", "--fee-fixed", "0.30"});
  }
  CtlRun Authorize(const std::string& card, const std::string& amount, const std::string& key,
                   const std::string& expiry = "12/30") {
    return Ctl({"--json", "--merchant", "acme", "authorize", "--card", card, "--expiry", expiry,
                "--cvv", "123", "--amount", amount, "--currency", "USD", "--key", key});
  }
};

TEST_F(CardCliTest, AuthorizeCaptureRefundSettleWithJson) {
  CtlRun a = Authorize("4242424242424242", "100.00", "order-1");
  ASSERT_EQ(a.status, 0) << a.out << a.err;
  EXPECT_TRUE(Has(a.out, "\"payment_id\":\"pay_000000000001\"")) << a.out;
  EXPECT_TRUE(Has(a.out, "\"status\":\"authorized\"")) << a.out;
  EXPECT_TRUE(Has(a.out, "\"response_code\":\"00\"")) << a.out;
  EXPECT_TRUE(Has(a.out, "\"authorized_minor\":10000")) << a.out;
  EXPECT_FALSE(Has(a.out, "4242424242424242")) << "the PAN must not be echoed or stored";
  CtlRun c = Ok({"--json", "--merchant", "acme", "capture", "pay_000000000001", "--amount", "30.00", "--key", "cap-1"});
  EXPECT_TRUE(Has(c.out, "\"status\":\"partially_captured\"")) << c.out;
  c = Ok({"--json", "--merchant", "acme", "capture", "pay_000000000001", "--amount", "50.00", "--final", "--key", "cap-2"});
  EXPECT_TRUE(Has(c.out, "\"status\":\"captured\"")) << c.out;
  EXPECT_TRUE(Has(c.out, "\"captured_minor\":8000")) << c.out;
  CtlRun r = Ok({"--json", "--merchant", "acme", "refund", "pay_000000000001", "--amount", "10.00", "--key", "ref-1"});
  EXPECT_TRUE(Has(r.out, "\"status\":\"partially_refunded\"")) << r.out;
  CtlRun again = Ok({"--json", "--merchant", "acme", "refund", "pay_000000000001", "--amount", "10.00", "--key", "ref-1"});
  EXPECT_TRUE(Has(again.out, "\"replayed\":true")) << again.out;
  CtlRun s = Ok({"--json", "settle"});
  EXPECT_TRUE(Has(s.out, "\"payments\":1")) << s.out;
  EXPECT_TRUE(Has(s.out, "\"net_minor\":7000")) << s.out;
  EXPECT_TRUE(Has(s.out, "\"fee_minor\":205")) << s.out;  // 2.5% of 70.00 + 0.30
  CtlRun show = Ok({"--json", "payment", "show", "pay_000000000001"});
  EXPECT_TRUE(Has(show.out, "\"status\":\"settled\"")) << show.out;
  CtlRun avail = Ok({"--json", "account", "show", "m/acme/available"});
  EXPECT_TRUE(Has(avail.out, "\"balance_minor\":6795")) << avail.out;
  CtlRun verify = Ok({"ledger", "verify"});
  EXPECT_TRUE(Has(verify.out, "ok")) << verify.out;
  CtlRun list = Ok({"--merchant", "acme", "payment", "list"});
  EXPECT_TRUE(Has(list.out, "pay_000000000001  acme  100.00 USD  settled")) << list.out;
}

TEST_F(CardCliTest, DeclinesAreResultsAndIllegalTransitionsAreRefusals) {
  CtlRun d = Authorize("4000000000000002", "10.00", "o1");
  EXPECT_EQ(d.status, 0) << d.err;  // a decline is a result
  EXPECT_TRUE(Has(d.out, "\"status\":\"declined\"")) << d.out;
  EXPECT_TRUE(Has(d.out, "\"response_code\":\"05\"")) << d.out;
  CtlRun luhn = Authorize("4242424242424241", "10.00", "o2");
  EXPECT_EQ(luhn.status, 0);
  EXPECT_TRUE(Has(luhn.out, "\"response_code\":\"14\"")) << luhn.out;
  CtlRun expired = Authorize("4242424242424242", "10.00", "o3", "01/25");
  EXPECT_TRUE(Has(expired.out, "\"response_code\":\"54\"")) << expired.out;
  CtlRun lost = Authorize("4000000000000259", "10.00", "o4");
  EXPECT_EQ(lost.status, 0);
  EXPECT_TRUE(Has(lost.out, "\"status\":\"reversed\"")) << lost.out;
  CtlRun cap = Ctl({"--merchant", "acme", "capture", "pay_000000000001", "--key", "c1"});
  EXPECT_EQ(cap.status, 1);
  EXPECT_TRUE(Has(cap.err, "illegal_transition")) << cap.err;
  EXPECT_TRUE(Has(cap.err, "declined")) << cap.err;
  // Text output of an approval names the card by BIN and last four only.
  CtlRun ok = Ctl({"--merchant", "acme", "authorize", "--card", "5555555555554444", "--expiry",
                   "12/30", "--amount", "5.00", "--currency", "USD", "--key", "o5"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_TRUE(Has(ok.out, "status      authorized")) << ok.out;
  EXPECT_TRUE(Has(ok.out, "555555...4444")) << ok.out;
  CtlRun v = Ok({"--merchant", "acme", "void", "pay_000000000005", "--key", "v5"});
  EXPECT_TRUE(Has(v.out, "voided")) << v.out;
}

TEST_F(CardCliTest, BadInputNamesTheOption) {
  CtlRun bad = Ctl({"--merchant", "acme", "authorize", "--card", "42424242", "--expiry", "12/30",
                    "--amount", "1.00", "--currency", "USD", "--key", "k"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "card: ")) << bad.err;
  bad = Ctl({"--merchant", "acme", "authorize", "--card", "4242424242424242", "--expiry", "13/30",
             "--amount", "1.00", "--currency", "USD", "--key", "k"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "expiry")) << bad.err;
  bad = Ctl({"--merchant", "acme", "authorize", "--card", "4242424242424242", "--expiry", "12/30",
             "--amount", "1.001", "--currency", "USD", "--key", "k"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "--amount")) << bad.err;
  bad = Ctl({"--merchant", "acme", "capture", "pay_000000000042", "--key", "k"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_TRUE(Has(bad.err, "payment_not_found")) << bad.err;
  bad = Ctl({"merchant", "create", "a/b", "--currency", "USD"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "merchant")) << bad.err;
  bad = Ctl({"--network-faults", "drop=5", "--merchant", "acme", "authorize", "--card",
             "4242424242424242", "--expiry", "12/30", "--amount", "1.00", "--currency", "USD", "--key", "k"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "faults")) << bad.err;
  CtlRun help = Ctl({"authorize", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(Has(help.out, "Examples:\n  paymentctl authorize")) << help.out;
}

TEST_F(CardCliTest, NoAnswerThenReversalWithFaultsAndPaymentResolve) {
  // Every response is lost: the authorization is unknown and its reversal stays queued.
  CtlRun u = Ctl({"--json", "--network-faults", "drop_response=100", "--merchant", "acme",
                  "authorize", "--card", "4242424242424242", "--expiry", "12/30", "--amount",
                  "10.00", "--currency", "USD", "--key", "o1"});
  EXPECT_EQ(u.status, 0) << u.err;
  EXPECT_TRUE(Has(u.out, "\"status\":\"unknown\"")) << u.out;
  CtlRun blocked = Ctl({"--network-faults", "drop_response=100", "--merchant", "acme", "capture",
                        "pay_000000000001", "--key", "c1"});
  EXPECT_EQ(blocked.status, 1);
  EXPECT_TRUE(Has(blocked.err, "payment_in_doubt")) << blocked.err;
  // A healthy network: start-up delivers the reversal first.
  CtlRun resolve = Ok({"payment", "resolve"});
  EXPECT_TRUE(Has(resolve.out, "no network advice is queued")) << resolve.out;
  CtlRun show = Ok({"--json", "payment", "show", "pay_000000000001"});
  EXPECT_TRUE(Has(show.out, "\"status\":\"reversed\"")) << show.out;
  CtlRun retry = Authorize("4242424242424242", "10.00", "o1");
  EXPECT_TRUE(Has(retry.out, "\"replayed\":true")) << retry.out;
  EXPECT_TRUE(Has(retry.out, "\"status\":\"reversed\"")) << retry.out;
}

TEST_F(CardCliTest, PushPaymentsFromTheCli) {
  CtlRun f = Ok({"--json", "fund", "acme", "--amount", "100.00", "--currency", "USD", "--key", "topup-1"});
  EXPECT_TRUE(Has(f.out, "\"disbursement_balance_minor\":10000")) << f.out;
  CtlRun p = Ok({"--json", "--merchant", "acme", "push", "--card", "4242424242424242", "--amount",
                 "25.00", "--currency", "USD", "--purpose", "FD", "--recipient-name", "Ada Lovelace",
                 "--key", "payout-1"});
  EXPECT_TRUE(Has(p.out, "\"status\":\"completed\"")) << p.out;
  EXPECT_TRUE(Has(p.out, "\"type\":\"push\"")) << p.out;
  EXPECT_FALSE(Has(p.out, "4242424242424242"));
  CtlRun declined = Ok({"--json", "--merchant", "acme", "push", "--card", "4000000000000127",
                        "--amount", "5.00", "--currency", "USD", "--purpose", "PP",
                        "--recipient-name", "Kim", "--key", "payout-2"});
  EXPECT_TRUE(Has(declined.out, "\"status\":\"declined\"")) << declined.out;
  EXPECT_TRUE(Has(declined.out, "\"response_code\":\"57\"")) << declined.out;
  CtlRun deferred = Ok({"--json", "--merchant", "acme", "push", "--card", "4000000000003220",
                        "--amount", "5.00", "--currency", "USD", "--purpose", "PP",
                        "--recipient-name", "Kim", "--key", "payout-3"});
  EXPECT_TRUE(Has(deferred.out, "\"status\":\"pending_credit\"")) << deferred.out;
  CtlRun too_much = Ctl({"--merchant", "acme", "push", "--card", "4242424242424242", "--amount",
                         "1000.00", "--currency", "USD", "--purpose", "FD", "--recipient-name", "Ada",
                         "--key", "payout-4"});
  EXPECT_EQ(too_much.status, 1);
  EXPECT_TRUE(Has(too_much.err, "overdraft")) << too_much.err;
  CtlRun bad = Ctl({"--merchant", "acme", "push", "--card", "4242424242424242", "--amount", "1.00",
                    "--currency", "USD", "--purpose", "ZZ", "--recipient-name", "Ada", "--key", "payout-5"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "purpose")) << bad.err;
  CtlRun p2p = Ok({"--json", "--merchant", "acme", "p2p", "--from-card", "5555555555554444",
                   "--from-expiry", "12/30", "--to-card", "4000000000000127", "--amount", "20.00",
                   "--currency", "USD", "--key", "p2p-1"});
  EXPECT_TRUE(Has(p2p.out, "\"status\":\"declined\"")) << p2p.out;
  EXPECT_TRUE(Has(p2p.out, "\"op\":\"funding_reversal\"")) << p2p.out;
  CtlRun aft = Ok({"--json", "fund", "acme", "--amount", "10.00", "--currency", "USD", "--key",
                   "topup-2", "--from-card", "5555555555554444", "--expiry", "12/30"});
  EXPECT_TRUE(Has(aft.out, "\"type\":\"funding\"")) << aft.out;
  EXPECT_TRUE(Has(aft.out, "\"status\":\"completed\"")) << aft.out;
  CtlRun bal = Ok({"--json", "account", "show", "m/acme/disbursement"});
  EXPECT_TRUE(Has(bal.out, "\"balance_minor\":8000")) << bal.out;  // 100 - 25 - 5 (deferred) + 10
  Ok({"ledger", "verify"});
}

// Events of both rails from the CLI, and webhook endpoints managed there.
TEST_F(CardCliTest, EventsAndWebhookEndpointsFromTheCli) {
  ASSERT_EQ(Authorize("4242424242424242", "10.00", "order-1").status, 0);
  ASSERT_EQ(Authorize("4000000000000002", "10.00", "order-2").status, 0);  // declined
  Ok({"fund", "acme", "--amount", "100.00", "--currency", "USD", "--key", "topup-1"});
  for (auto [card, key] : {std::pair{"4242424242424242", "payout-1"}, {"4000000000003220", "payout-2"}}) {
    Ok({"--merchant", "acme", "push", "--card", card, "--amount", "5.00", "--currency", "USD",
        "--purpose", "PP", "--recipient-name", "Kim", "--key", key});
  }
  CtlRun text = Ok({"--merchant", "acme", "events", "list"});
  for (const char* type : {"payment.authorized", "payment.declined", "payout.submitted",
                           "payout.completed", "payout.pending_credit"}) {
    EXPECT_TRUE(Has(text.out, type)) << type << "\n" << text.out;
  }
  EXPECT_TRUE(Has(text.out, "acme #1 ")) << text.out;
  CtlRun declined = Ok({"--json", "--merchant", "acme", "events", "list", "--type", "payment.declined"});
  EXPECT_TRUE(Has(declined.out, R"("decline_code":"do_not_honor")")) << declined.out;
  EXPECT_FALSE(Has(declined.out, "payment.authorized")) << declined.out;
  CtlRun tail = Ok({"--json", "--merchant", "acme", "events", "tail", "--type", "payout.*"});
  EXPECT_EQ(std::count(tail.out.begin(), tail.out.end(), '\n'), 4) << tail.out;  // JSON lines
  CtlRun bad = Ctl({"--merchant", "acme", "webhook", "create", "--url", "ftp://example.com"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(Has(bad.err, "url: must start with http:// or https://")) << bad.err;
  CtlRun made = Ok({"--json", "--merchant", "acme", "webhook", "create", "--url",
                    "https://example.com/hooks", "--events", "payment.*,payout.completed"});
  EXPECT_TRUE(Has(made.out, R"("secret":"whsec_)")) << made.out;
  EXPECT_TRUE(Has(made.out, R"("enabled_events":["payment.*","payout.completed"])")) << made.out;
  const std::string id = made.out.substr(made.out.find("we_"), 19);
  CtlRun list = Ok({"--merchant", "acme", "webhook", "list"});
  EXPECT_TRUE(Has(list.out, id + "  acme  https://example.com/hooks  enabled")) << list.out;
  EXPECT_FALSE(Has(list.out, "whsec_")) << "the secret is shown once";
  CtlRun off = Ok({"webhook", "disable", id});
  EXPECT_TRUE(Has(off.out, "disabled (disabled by an operator)")) << off.out;
  CtlRun again = Ok({"webhook", "redeliver", id, "--event", "evt_0000000000000001"});
  EXPECT_TRUE(Has(again.out, "queued evt_0000000000000001")) << again.out;
  CtlRun log = Ok({"webhook", "deliveries", id});
  EXPECT_TRUE(Has(log.out, "redelivery_queued")) << log.out;
  CtlRun missing = Ctl({"webhook", "redeliver", id, "--event", "evt_0000000000009999"});
  EXPECT_EQ(missing.status, 2);  // not found: fix the input
  EXPECT_TRUE(Has(missing.err, "event: no event")) << missing.err;
  Ok({"webhook", "delete", id});
  EXPECT_FALSE(Has(Ok({"webhook", "list"}).out, id));
}

// ---- conventions of the command line -----------------------------------------------------------

namespace {

TEST_F(CliTest, VersionPrintsTheProjectVersion) {
  CtlRun r = Ctl({"--version"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("paymentctl [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << r.out;
}

TEST_F(CliTest, UnknownCommandSaysWhichCommandsExist) {
  CtlRun r = Ctl({"bogus"});
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Has(r.err, "unknown command 'bogus'")) << r.err;
  for (const char* command : {"init", "account", "transfer", "merchant", "authorize", "fund",
                              "replay", "serve", "network-sim", "apikey"}) {
    EXPECT_TRUE(Has(r.err, std::string("\n  ") + command + " ")) << command << " in " << r.err;
  }
  CtlRun nested = Ctl({"account", "bogus"});
  EXPECT_EQ(nested.status, 2);
  EXPECT_TRUE(Has(nested.err, "paymentctl account: unknown command 'bogus'")) << nested.err;
  EXPECT_TRUE(Has(nested.err, "  history ")) << nested.err;
  CtlRun none = Ctl({"merchant"});
  EXPECT_EQ(none.status, 2);
  EXPECT_TRUE(Has(none.err, "a command is required")) << none.err;
  EXPECT_TRUE(Has(none.err, "  list ")) << none.err;
  CtlRun json = Ctl({"--json", "bogus"});
  EXPECT_EQ(json.status, 2);
  EXPECT_TRUE(Has(json.out, "\"code\":\"invalid_argument\"")) << json.out;
  EXPECT_TRUE(Has(json.out, "unknown command 'bogus'; commands: init, account,")) << json.out;
  // An unknown option is not an unknown command.
  CtlRun option = Ctl({"account", "list", "--bogus"});
  EXPECT_EQ(option.status, 2);
  EXPECT_FALSE(Has(option.err, "unknown command")) << option.err;
}

TEST_F(CliTest, SubcommandHelpShowsItsExamplesAndTheGlobalOptionsItUses) {
  CtlRun list = Ctl({"merchant", "list", "--help"});
  EXPECT_EQ(list.status, 0);
  EXPECT_TRUE(Has(list.out, "Examples:\n  paymentctl merchant list\n")) << list.out;
  EXPECT_TRUE(Has(list.out, "Global options it uses")) << list.out;
  EXPECT_TRUE(Has(list.out, "  --db ")) << list.out;
  EXPECT_TRUE(Has(list.out, "  --json ")) << list.out;
  CtlRun capture = Ctl({"capture", "--help"});
  EXPECT_EQ(capture.status, 0);
  EXPECT_TRUE(Has(capture.out, "Example: paymentctl capture pay_")) << capture.out;
  EXPECT_TRUE(Has(capture.out, "  --merchant ")) << capture.out;
  EXPECT_TRUE(Has(capture.out, "  --network ")) << capture.out;
  CtlRun fund = Ctl({"fund", "--help"});
  EXPECT_TRUE(Has(fund.out, "paymentctl fund --merchant acme")) << fund.out;
}

}  // namespace

TEST_F(CardCliTest, MerchantListInTextAndJson) {
  Ok({"merchant", "create", "beta", "--currency", "EUR"});
  CtlRun text = Ok({"merchant", "list"});
  EXPECT_EQ(text.out, "acme  USD  fee 250 bps + 0.30 USD\nbeta  EUR  fee 0 bps + 0.00 EUR\n");
  CtlRun json = Ok({"--json", "merchant", "list"});
  EXPECT_TRUE(Has(json.out, "{\"merchants\":[{\"merchant\":\"acme\",\"currency\":\"USD\","
                            "\"fee_bps\":250,\"fee_fixed_minor\":30,")) << json.out;
  EXPECT_TRUE(Has(json.out, "\"available\":\"m/acme/available\"")) << json.out;
  EXPECT_TRUE(Has(json.out, "\"created_at\":\"2026-11-28T12:00:00")) << json.out;
  EXPECT_TRUE(Has(json.out, "},{\"merchant\":\"beta\",\"currency\":\"EUR\"")) << json.out;
  CtlRun page = Ok({"merchant", "list", "--after", "acme", "--limit", "1"});
  EXPECT_EQ(page.out, "beta  EUR  fee 0 bps + 0.00 EUR\n");
  CtlRun past = Ok({"merchant", "list", "--after", "beta", "--json"});
  EXPECT_EQ(past.out, "{\"merchants\":[]}\n");
}

TEST_F(CardCliTest, MerchantOptionNamesTheMerchantOnCreateAndFund) {
  Ok({"merchant", "create", "--merchant", "beta", "--currency", "USD"});
  Ok({"--merchant", "gamma", "merchant", "create", "gamma", "--currency", "USD"});  // agreeing pair
  CtlRun list = Ok({"merchant", "list"});
  EXPECT_TRUE(Has(list.out, "beta  USD")) << list.out;
  EXPECT_TRUE(Has(list.out, "gamma  USD")) << list.out;
  CtlRun f = Ok({"--json", "fund", "--merchant", "beta", "--amount", "10.00", "--currency", "USD",
                 "--key", "t1"});
  EXPECT_TRUE(Has(f.out, "\"disbursement_balance_minor\":1000")) << f.out;
  Ok({"--merchant", "beta", "fund", "beta", "--amount", "5.00", "--currency", "USD", "--key", "t2"});
  CtlRun text = Ok({"fund", "--merchant", "acme", "--amount", "1.00", "--currency", "USD", "--key", "t3"});
  EXPECT_TRUE(Has(text.out, "funded acme with 1.00 USD")) << text.out;
  CtlRun bal = Ok({"--json", "account", "show", "m/beta/disbursement"});
  EXPECT_TRUE(Has(bal.out, "\"balance_minor\":1500")) << bal.out;
}

TEST_F(CardCliTest, ConflictingPositionalAndOptionMerchantRefused) {
  CtlRun fund = Ctl({"fund", "acme", "--merchant", "beta", "--amount", "10.00", "--currency", "USD",
                     "--key", "t1"});
  EXPECT_EQ(fund.status, 2);
  EXPECT_TRUE(Has(fund.err, "merchant: ")) << fund.err;
  EXPECT_TRUE(Has(fund.err, "'acme' (positional) and 'beta' (--merchant)")) << fund.err;
  CtlRun create = Ctl({"--json", "--merchant", "x", "merchant", "create", "y", "--currency", "USD"});
  EXPECT_EQ(create.status, 2);
  EXPECT_TRUE(Has(create.out, "\"code\":\"invalid_argument\"")) << create.out;
  EXPECT_TRUE(Has(create.out, "\"message\":\"merchant: ")) << create.out;
  CtlRun neither = Ctl({"fund", "--amount", "10.00", "--currency", "USD", "--key", "t2"});
  EXPECT_EQ(neither.status, 2);
  EXPECT_TRUE(Has(neither.err, "merchant: ")) << neither.err;
  CtlRun list = Ok({"merchant", "list"});
  EXPECT_EQ(list.out, "acme  USD  fee 250 bps + 0.30 USD\n");  // nothing created
  CtlRun bal = Ok({"--json", "account", "show", "m/acme/disbursement"});
  EXPECT_TRUE(Has(bal.out, "\"balance_minor\":0")) << bal.out;  // nothing moved
}
