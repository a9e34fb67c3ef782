#include "core/pg_connection.h"

#include <cstring>

namespace pay::store::pg {

namespace {

constexpr const char* kLockNotAvailable = "55P03";
constexpr const char* kDeadlock = "40P01";
constexpr const char* kSerialization = "40001";

uint64_t BigEndian(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

Params& Params::Int(int64_t v) {
  std::string b(8, '\0');
  const auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(u >> ((7 - i) * 8));
  values_.push_back(std::move(b));
  null_.push_back(false);
  lengths_.push_back(8);
  formats_.push_back(1);
  return *this;
}

namespace {
void PutInt32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (i * 8)));
}
}  // namespace

Array& Array::Int(int64_t v) {
  PutInt32(elements_, 8);
  const auto u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) elements_.push_back(static_cast<char>(u >> (i * 8)));
  ++count_;
  return *this;
}

Array& Array::Text(std::string_view v) {
  PutInt32(elements_, static_cast<uint32_t>(v.size()));
  elements_.append(v);
  ++count_;
  return *this;
}

Array& Array::Null() {
  PutInt32(elements_, 0xFFFFFFFFu);  // -1
  has_null_ = true;
  ++count_;
  return *this;
}

// ndim, has-null flag, element type, then (for one dimension) its size and lower bound (1).
std::string Array::Encode() const {
  std::string out;
  out.reserve(20 + elements_.size());
  PutInt32(out, count_ == 0 ? 0 : 1);
  PutInt32(out, has_null_ ? 1 : 0);
  PutInt32(out, oid_);
  if (count_ > 0) {
    PutInt32(out, static_cast<uint32_t>(count_));
    PutInt32(out, 1);
    out += elements_;
  }
  return out;
}

Params& Params::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  lengths_.push_back(static_cast<int>(v.size()));
  formats_.push_back(1);
  return *this;
}

Params& Params::Null() {
  values_.emplace_back();
  null_.push_back(true);
  lengths_.push_back(0);
  formats_.push_back(1);
  return *this;
}

std::vector<const char*> Params::Values() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out.push_back(null_[i] ? nullptr : values_[i].data());
  return out;
}

int64_t Rows::Int(int row, int col) const {
  if (PQgetisnull(r_.get(), row, col) || PQgetlength(r_.get(), row, col) != 8) return 0;
  return static_cast<int64_t>(BigEndian(PQgetvalue(r_.get(), row, col)));
}

std::string Rows::Text(int row, int col) const {
  return std::string(PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (c == nullptr || PQstatus(c) != CONNECTION_OK) {
    std::string why = c == nullptr ? "out of memory" : PQerrorMessage(c);
    if (c != nullptr) PQfinish(c);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return MakeError(ErrorCode::kStoreIo, "db: cannot connect to PostgreSQL: " + why);
  }
  return std::unique_ptr<Connection>(new Connection(c));
}

Connection::~Connection() { PQfinish(c_); }

Result<void> Connection::Reset() {
  PQreset(c_);
  if (PQstatus(c_) == CONNECTION_OK) return {};
  std::string why = PQerrorMessage(c_);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return MakeError(ErrorCode::kStoreIo, "db: cannot connect to PostgreSQL again: " + why);
}

Error Connection::Fail(PGresult* r, const char* what) {
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  sqlstate_ = state == nullptr ? "" : state;
  std::string message = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (r != nullptr) PQclear(r);
  const bool busy = sqlstate_ == kLockNotAvailable || sqlstate_ == kDeadlock || sqlstate_ == kSerialization;
  return MakeError(busy ? ErrorCode::kStoreBusy : ErrorCode::kStoreIo,
                   std::string("store: ") + what + ": " + message);
}

Result<void> Connection::Prepare(const std::string& name, const std::string& sql) {
  PGresult* r = PQprepare(c_, name.c_str(), sql.c_str(), 0, nullptr);
  if (r == nullptr || PQresultStatus(r) != PGRES_COMMAND_OK) return Fail(r, name.c_str());
  PQclear(r);
  return {};
}

Result<Rows> Connection::Run(const std::string& name, const Params& params, const char* what) {
  sqlstate_.clear();
  const std::vector<const char*> values = params.Values();
  round_trips.fetch_add(1, std::memory_order_relaxed);
  PGresult* r = PQexecPrepared(c_, name.c_str(), params.size(), values.data(),
                               params.Lengths().data(), params.Formats().data(), /*binary=*/1);
  const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Fail(r, what);
  return Rows(r);
}

Result<Rows> Connection::Query(const std::string& sql, const Params& params, const char* what) {
  sqlstate_.clear();
  const std::vector<const char*> values = params.Values();
  round_trips.fetch_add(1, std::memory_order_relaxed);
  PGresult* r = PQexecParams(c_, sql.c_str(), params.size(), nullptr, values.data(),
                             params.Lengths().data(), params.Formats().data(), /*binary=*/1);
  const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Fail(r, what);
  return Rows(r);
}

Result<std::string> Connection::ExecText(const std::string& sql, const char* what) {
  sqlstate_.clear();
  round_trips.fetch_add(1, std::memory_order_relaxed);
  PGresult* r = PQexec(c_, sql.c_str());
  const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Fail(r, what);
  std::string out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return out;
}

Result<void> Connection::Exec(const std::string& sql, const char* what) {
  sqlstate_.clear();
  round_trips.fetch_add(1, std::memory_order_relaxed);
  PGresult* r = PQexec(c_, sql.c_str());
  const ExecStatusType s = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return Fail(r, what);
  PQclear(r);
  return {};
}

}  // namespace pay::store::pg
