#pragma once
// Transaction files (docs/files.md): records of engine operations in JSON Lines or
// length-delimited binary Protobuf (proto/pay/v1/records.proto), read as a stream, translated
// into engine commands (adapters/requests, shared with paymentd) and replayed in batches with the
// records' event times as the engine clock; and written by the generator.
//
// Reading never holds more than one record (and one batch of commands) in memory. A bad record
// is reported with its line (JSONL) or record number (binary) and the field, and the rest of the
// file goes on; a binary stream whose framing breaks cannot be resynchronised, so reading stops
// there with an error.

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "pay/clock.h"
#include "pay/engine.h"
#include "pay/v1/records.pb.h"

namespace pay::files {

enum class Format { kJsonLines, kBinary };
// "jsonl" / "binary", or by extension: .jsonl/.json -> JSON Lines, .pb/.bin -> binary.
Result<Format> FormatFor(const std::string& path, const std::string& flag);

class RecordReader {
 public:
  static Result<std::unique_ptr<RecordReader>> Open(const std::string& path, Format format);
  ~RecordReader();
  // The next record: true with `*record` set, false at the end. An Error is a bad record
  // (message names the line or record number and the field); reading may continue unless
  // broken() says the stream cannot be resynchronised.
  Result<bool> Next(v1::Record* record);
  uint64_t record_number() const { return number_; }  // 1-based, of the last Next()
  // Where the last record is, for messages: "line N" (JSON Lines) or "record N" (binary).
  std::string where() const;
  uint64_t bytes_read() const;
  uint64_t bytes_total() const { return total_; }
  bool broken() const { return broken_; }

 private:
  RecordReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Format format_ = Format::kJsonLines;
  uint64_t number_ = 0;
  uint64_t total_ = 0;
  bool broken_ = false;
};

class RecordWriter {
 public:
  static Result<std::unique_ptr<RecordWriter>> Open(const std::string& path, Format format);
  ~RecordWriter();
  Result<void> Write(const v1::Record& record);
  Result<void> Close();

 private:
  RecordWriter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Format format_ = Format::kJsonLines;
};

struct ReplayOptions {
  std::string path;
  Format format = Format::kJsonLines;
  std::string results_path;  // empty: no results file
  bool derive_keys = false;  // a record without a key gets "<file sha256 prefix>:<record number>"
  size_t batch_records = 1000;
  // Called after every batch (its commit) with (bytes read, bytes total, records so far).
  std::function<void(uint64_t, uint64_t, uint64_t)> progress;
};

// The authorizations of a file, for the approval rate: approved / attempted.
struct AuthorizationCounts {
  int64_t attempted = 0;  // executed or refused (not idempotent replays, not bad records)
  int64_t approved = 0;   // in full or in part (response code 00 or 10)
  int64_t declined = 0;   // by the issuer: a response code
  int64_t refused = 0;    // before the network: by a velocity rule or by the books
  int64_t unknown = 0;    // no answer from the network: reversed
};

// Balances of the acquirer's own accounts of one currency (docs/ledger-accounts.md).
struct AcquirerBalances {
  int64_t settlement_minor = 0;  // acq/<CUR>/settlement: what the network paid at settlement
  int64_t fees_minor = 0;        // acq/<CUR>/fees: settlement fees earned
};

struct ReplaySummary {
  int64_t records = 0;
  int64_t applied = 0;
  int64_t replayed = 0;
  int64_t declined = 0;  // issuer declines + refusals by the books
  // Declines by the issuer (payments that reached the network): response code (DE 39) -> count.
  std::map<std::string, int64_t> issuer_declines_by_code;
  // Refusals by the books (the engine executed the record and said no: insufficient funds,
  // overdraft, a transition the payment does not allow): error name -> count.
  std::map<std::string, int64_t> book_refusals_by_code;
  std::map<std::string, int64_t> velocity_by_rule;
  AuthorizationCounts authorizations;
  // Follow-ups (capture, void, refund, increment) of payments that were never approved: declined
  // by the issuer, or refused by velocity or the books (then no payment exists: payment_not_found
  // in the results file). Counted here, not as declines or errors.
  int64_t followups_unapproved = 0;
  int64_t errors = 0;  // input errors: bad records and records the engine could not execute
  std::map<std::string, int64_t> errors_by_code;
  // Per currency, per operation: the amounts the applied (not replayed, not declined) records
  // asked for (a capture without an amount counts 0). The books' totals are in `books`.
  std::map<std::string, std::map<std::string, int64_t>> totals_minor;
  int64_t settlements = 0;       // settle records run
  int64_t settled_payments = 0;  // payments they settled
  // Per currency: the net settled and the fees of the file's settle records.
  std::map<std::string, std::pair<int64_t, int64_t>> settled_minor;
  // After the replay, the whole database: what the payment records add up to, and the
  // acquirer's settlement and fee accounts that must agree with them.
  PaymentTotals books;
  std::map<std::string, AcquirerBalances> acquirer;
  double elapsed_s = 0;
  bool verify_ok = false;
  int64_t verify_problems = 0;
  std::string audit_hash;
  std::string first_error;  // the first bad record's message, for the summary
};
// Adds up the payment records and the acquirer accounts of every currency (the `books` and
// `acquirer` of a summary), e.g. again after a settlement; `now_ms` is the engine clock's time
// (for the authorizations expiring within a day).
Result<void> ReadBooks(Engine& engine, int64_t now_ms, ReplaySummary* summary);
// The approval rate in basis points (approved * 10000 / attempted); 0 when nothing was attempted.
int64_t ApprovalRateBps(const AuthorizationCounts& a);
std::string SummaryJson(const ReplaySummary& summary);

// Replays a file through `engine`, setting `clock` (the engine's clock) to the records' event
// times. Deterministic: the same file into a fresh database gives the same results file and
// audit hash. A file replayed again moves no money (every record is an idempotent replay).
Result<ReplaySummary> Replay(Engine& engine, ManualClock& clock, const ReplayOptions& options);

struct GenerateOptions {
  int64_t records = 10'000;
  uint64_t seed = 1;
  int merchants = 5;
  int cards = 1'000;
  std::string start_time = "2026-11-28T00:00:00Z";
  int64_t duration_ms = 24LL * 3600 * 1000;  // the simulated day
};
// Writes a realistic mix (docs/files.md): merchants created and funded, authorizations mostly
// approved, captures minutes to hours later (some partial), voids, refunds, declines from the
// test cards, timeouts, bursts that hit the shipped velocity rules, pushes and P2P, settlement
// at the end of each day. Deterministic for a seed.
Result<int64_t> Generate(const std::string& path, Format format, const GenerateOptions& options);

}  // namespace pay::files
