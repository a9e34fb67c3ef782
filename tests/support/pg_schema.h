#pragma once
// A fresh PostgreSQL schema (or database: PgDatabase) for one test, on the server PAY_TEST_POSTGRES names (a libpq
// connection string: scripts/pg-test-server.sh prints one, .ci/run exports it). conninfo()
// connects with that schema first in the search path; the schema is dropped at scope exit.
// Without PAY_TEST_POSTGRES, available() is false and PostgreSQL cases skip, saying why.

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace pay::testing {

class PgSchema {
 public:
  // On the server `server` names (default: PAY_TEST_POSTGRES).
  explicit PgSchema(const char* server = std::getenv("PAY_TEST_POSTGRES")) {
    if (server == nullptr || *server == '\0') return;
    static std::atomic<int> counter{0};
    name_ = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    server_ = server;
    Run("DROP SCHEMA IF EXISTS " + name_ + " CASCADE; CREATE SCHEMA " + name_);
    conninfo_ = server_ + " options='-c search_path=" + name_ + "'";
  }
  ~PgSchema() {
    if (!name_.empty()) Run("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  bool available() const { return !conninfo_.empty(); }
  const std::string& conninfo() const { return conninfo_; }
  static constexpr const char* kSkipReason =
      "PAY_TEST_POSTGRES is not set (scripts/pg-test-server.sh start DIR prints a value; CI sets it)";

 private:
  void Run(const std::string& sql) {
    PGconn* c = PQconnectdb(server_.c_str());
    if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, ("SET client_min_messages = warning; " + sql).c_str()));
    PQfinish(c);
  }

  std::string server_, name_, conninfo_;
};

// A fresh PostgreSQL database for one test (partitions live in databases of their own), on
// the same server; dropped at scope exit.
class PgDatabase {
 public:
  explicit PgDatabase(const char* server = std::getenv("PAY_TEST_POSTGRES")) {
    if (server == nullptr || *server == '\0') return;
    static std::atomic<int> counter{0};
    name_ = "d" + std::to_string(getpid()) + "_" + std::to_string(counter++);
    server_ = server;
    Run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    Run("CREATE DATABASE " + name_);
    conninfo_ = server_ + " dbname=" + name_;
  }
  ~PgDatabase() {
    if (!name_.empty()) Run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  bool available() const { return !conninfo_.empty(); }
  const std::string& conninfo() const { return conninfo_; }

 private:
  void Run(const std::string& sql) {  // CREATE/DROP DATABASE: one statement, no transaction
    PGconn* c = PQconnectdb((server_ + " options='-c client_min_messages=warning'").c_str());
    if (PQstatus(c) == CONNECTION_OK) PQclear(PQexec(c, sql.c_str()));
    PQfinish(c);
  }

  std::string server_, name_, conninfo_;
};

}  // namespace pay::testing
