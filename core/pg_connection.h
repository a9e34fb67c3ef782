#pragma once
// A libpq connection for the PostgreSQL store: prepared statements with binary parameters and
// results, a result type that frees itself, and errors mapped to the engine's codes (a lock
// not had in time is kStoreBusy, a lost connection or a failed statement kStoreIo, a unique key
// kInternal unless the caller handles SQLSTATE 23505).

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pay/result.h"

namespace pay::store::pg {

// A statement's parameters, all sent in binary.
class Params {
 public:
  Params& Int(int64_t v);
  Params& Text(std::string_view v);  // text and bytea alike: the bytes as they are
  Params& Null();
  int size() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> Values() const;
  const std::vector<int>& Lengths() const { return lengths_; }
  const std::vector<int>& Formats() const { return formats_; }

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, PQclear) {}
  int count() const { return PQntuples(r_.get()); }
  int64_t Int(int row, int col) const;  // an int8 column
  std::string Text(int row, int col) const;
  bool Null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  int64_t affected() const;  // rows an INSERT/UPDATE/DELETE touched

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo);
  ~Connection();

  // Prepares `sql` under `name` (once, at open).
  Result<void> Prepare(const std::string& name, const std::string& sql);
  // Runs a prepared statement, binary in and out. `what` names it in errors.
  Result<Rows> Run(const std::string& name, const Params& params, const char* what);
  // Runs one statement not prepared (binary in and out): what runs once, such as migrations.
  Result<Rows> Query(const std::string& sql, const Params& params, const char* what);
  // Runs SQL text (several statements allowed), its results unread: transactions, schema.
  Result<void> Exec(const std::string& sql, const char* what);
  // The SQLSTATE of the last failure ("" when none).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  explicit Connection(PGconn* c) : c_(c) {}
  Error Fail(PGresult* r, const char* what);

  PGconn* c_;
  std::string sqlstate_;
};

}  // namespace pay::store::pg
