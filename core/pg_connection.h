#pragma once
// A libpq connection for the PostgreSQL store: prepared statements with binary parameters and
// results, a result type that frees itself, and errors mapped to the engine's codes (a lock
// not had in time is kStoreBusy, a lost connection or a failed statement kStoreIo, a unique key
// kInternal unless the caller handles SQLSTATE 23505).

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
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

// A one-dimensional array parameter in PostgreSQL's binary array format, so that one statement
// writes many rows (INSERT ... SELECT * FROM unnest($1::bigint[], ...)). Elements are int8, or
// byte strings sent as the element type `oid` says (text or bytea); any may be null.
class Array {
 public:
  static constexpr uint32_t kInt8 = 20, kText = 25, kBytea = 17;
  explicit Array(uint32_t oid) : oid_(oid) {}
  Array& Int(int64_t v);
  Array& Text(std::string_view v);
  Array& Null();
  std::string Encode() const;

 private:
  uint32_t oid_;
  int32_t count_ = 0;
  bool has_null_ = false;
  std::string elements_;  // each: its length (int32; -1 for null), then its bytes
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

// A statement queued for a pipeline.
struct Queued {
  const char* name;
  Params params;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo);
  // Whether the connection was lost (the server went away, or cut it).
  bool broken() const { return PQstatus(c_) == CONNECTION_BAD; }
  // Connects again with the same parameters; prepared statements and session settings are
  // gone and must be made again.
  Result<void> Reset();
  ~Connection();

  // Prepares `sql` under `name` (once, at open).
  Result<void> Prepare(const std::string& name, const std::string& sql);
  // Runs a prepared statement, binary in and out. `what` names it in errors.
  Result<Rows> Run(const std::string& name, const Params& params, const char* what);
  // Runs one statement not prepared (binary in and out): what runs once, such as migrations.
  Result<Rows> Query(const std::string& sql, const Params& params, const char* what);
  // Runs prepared statements in pipeline mode: one round trip per kPipelineChunk of them
  // instead of one each. `check(i, rows)` may refuse the answer to the i-th (an upsert that
  // touched nothing); the first failure is returned, and the transaction is then aborted.
  template <class Check>
  Result<void> RunPipelined(const std::vector<Queued>& statements, Check check);
  // Runs SQL text (several statements allowed), its results unread: transactions, schema.
  Result<void> Exec(const std::string& sql, const char* what);
  // The same, one round trip for all of them; the first column of the last statement's first
  // row, as text ("" when it returned none).
  Result<std::string> ExecText(const std::string& sql, const char* what);
  // The SQLSTATE of the last failure ("" when none).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  explicit Connection(PGconn* c) : c_(c) {}
  Error Fail(PGresult* r, const char* what);
  // One pipeline round trip: sends, syncs, reads every answer.
  template <class Check>
  Result<void> Chunk(const std::vector<Queued>& statements, size_t from, size_t to, Check& check);

  PGconn* c_;
  std::string sqlstate_;
};

// Round trips to any server since the process started (every connection), for benchmarks.
inline std::atomic<int64_t> round_trips{0};

// Statements per pipeline round trip: the answers of a chunk must fit the socket buffers while
// nothing reads them (a blocking connection would otherwise stall both ends).
inline constexpr size_t kPipelineChunk = 512;

template <class Check>
Result<void> Connection::RunPipelined(const std::vector<Queued>& statements, Check check) {
  Result<void> out;
  for (size_t from = 0; from < statements.size() && out; from += kPipelineChunk) {
    out = Chunk(statements, from, std::min(statements.size(), from + kPipelineChunk), check);
  }
  return out;
}

template <class Check>
Result<void> Connection::Chunk(const std::vector<Queued>& statements, size_t from, size_t to,
                               Check& check) {
  if (PQenterPipelineMode(c_) != 1) return Fail(nullptr, "pipeline");
  size_t sent = from;
  for (; sent < to; ++sent) {
    const Params& p = statements[sent].params;
    const std::vector<const char*> values = p.Values();
    if (PQsendQueryPrepared(c_, statements[sent].name, p.size(), values.data(), p.Lengths().data(),
                            p.Formats().data(), /*binary=*/1) != 1) {
      break;
    }
  }
  Result<void> out;
  if (sent < to) out = Fail(nullptr, statements[sent].name);
  if (PQpipelineSync(c_) != 1 && out) out = Fail(nullptr, "pipeline sync");
  round_trips.fetch_add(1, std::memory_order_relaxed);
  for (size_t i = from; i < sent; ++i) {
    PGresult* r = PQgetResult(c_);
    const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
      if (out) {
        out = Fail(r, statements[i].name);
      } else if (r != nullptr) {
        PQclear(r);
      }
    } else {
      Rows rows(r);
      if (out) out = check(i, rows);
    }
    if (r != nullptr) {
      while (PGresult* extra = PQgetResult(c_)) PQclear(extra);  // the NULL after each answer
    }
  }
  while (PGresult* r = PQgetResult(c_)) {  // the sync's answer
    const bool synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (synced) break;
  }
  PQexitPipelineMode(c_);
  return out;
}

}  // namespace pay::store::pg
