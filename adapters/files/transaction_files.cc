#include "adapters/files/transaction_files.h"

#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "adapters/requests/requests.h"
#include "core/crypto.h"
#include "core/json_fields.h"
#include "core/json_writer.h"
#include "core/limits.h"

namespace pay::files {

namespace {

Error Bad(const std::string& where, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, where + ": " + what);
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<Format> FormatFor(const std::string& path, const std::string& flag) {
  if (flag == "jsonl") return Format::kJsonLines;
  if (flag == "binary") return Format::kBinary;
  if (!flag.empty()) return Bad("--format", "'" + flag + "' is neither jsonl nor binary");
  if (EndsWith(path, ".jsonl") || EndsWith(path, ".json")) return Format::kJsonLines;
  if (EndsWith(path, ".pb") || EndsWith(path, ".bin")) return Format::kBinary;
  return Bad("--format", "cannot tell the format of '" + path +
                             "' from its extension (.jsonl, .pb); give --format jsonl|binary");
}

// ---- reading ------------------------------------------------------------------------------------

struct RecordReader::Impl {
  std::ifstream in;
  std::unique_ptr<google::protobuf::io::IstreamInputStream> stream;
  uint64_t line = 0;
  uint64_t bytes = 0;
  std::string text;
};

RecordReader::~RecordReader() = default;

Result<std::unique_ptr<RecordReader>> RecordReader::Open(const std::string& path, Format format) {
  std::unique_ptr<RecordReader> r(new RecordReader());
  r->impl_ = std::make_unique<Impl>();
  r->format_ = format;
  r->impl_->in.open(path, std::ios::binary);
  if (!r->impl_->in) return Bad("file", "cannot read '" + path + "'");
  r->impl_->in.seekg(0, std::ios::end);
  r->total_ = static_cast<uint64_t>(r->impl_->in.tellg());
  r->impl_->in.seekg(0);
  if (format == Format::kBinary) {
    r->impl_->stream = std::make_unique<google::protobuf::io::IstreamInputStream>(&r->impl_->in);
  }
  return r;
}

std::string RecordReader::where() const {
  return format_ == Format::kJsonLines ? "line " + std::to_string(impl_->line)
                                       : "record " + std::to_string(number_);
}

uint64_t RecordReader::bytes_read() const {
  return format_ == Format::kBinary ? static_cast<uint64_t>(impl_->stream->ByteCount())
                                    : impl_->bytes;
}

Result<bool> RecordReader::Next(v1::Record* record) {
  record->Clear();
  if (broken_) return false;
  if (format_ == Format::kBinary) {
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(record, impl_->stream.get(),
                                                                  &clean_eof)) {
      if (clean_eof) return false;
      ++number_;
      broken_ = true;  // the length prefix or the bytes are bad: no way to find the next record
      return Bad("record " + std::to_string(number_),
                 "not a length-delimited pay.v1.Record (truncated or corrupt); the rest of the "
                 "file cannot be read");
    }
    ++number_;
    return true;
  }
  for (;;) {
    std::string& line = impl_->text;
    if (!std::getline(impl_->in, line)) return false;
    ++impl_->line;
    impl_->bytes += line.size() + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines
    ++number_;
    if (line.size() > limits::kRecordBytesMax) {
      return Bad("line " + std::to_string(impl_->line),
                 "longer than " + std::to_string(limits::kRecordBytesMax) + " bytes");
    }
    PAY_TRY(requests::MessageFromJson(line, record, "line " + std::to_string(impl_->line)));
    return true;
  }
}

// ---- writing ------------------------------------------------------------------------------------

struct RecordWriter::Impl {
  std::ofstream out;
  std::string path;
};

RecordWriter::~RecordWriter() = default;

Result<std::unique_ptr<RecordWriter>> RecordWriter::Open(const std::string& path, Format format) {
  std::unique_ptr<RecordWriter> w(new RecordWriter());
  w->impl_ = std::make_unique<Impl>();
  w->impl_->path = path;
  w->impl_->out.open(path, std::ios::binary | std::ios::trunc);
  if (!w->impl_->out) return Bad("--out", "cannot write '" + path + "'");
  w->format_ = format;
  return w;
}

Result<void> RecordWriter::Write(const v1::Record& record) {
  if (format_ == Format::kBinary) {
    if (!google::protobuf::util::SerializeDelimitedToOstream(record, &impl_->out)) {
      return MakeError(ErrorCode::kStoreIo, "--out: write failed");
    }
    return {};
  }
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(record, &json, opts);
  if (!status.ok()) return MakeError(ErrorCode::kInternal, std::string(status.message()));
  impl_->out << json << '\n';
  if (!impl_->out) return MakeError(ErrorCode::kStoreIo, "--out: write failed");
  return {};
}

Result<void> RecordWriter::Close() {
  impl_->out.flush();
  if (!impl_->out) return MakeError(ErrorCode::kStoreIo, "--out: write failed");
  impl_->out.close();
  return {};
}

// ---- replay -------------------------------------------------------------------------------------

namespace {

// Keys of refused payments remembered for their follow-ups (beyond it they count as errors).
constexpr size_t kUnapprovedKeysMax = 1'000'000;

// The payment key a follow-up record names, or empty.
const std::string& PaymentKeyOf(const v1::Record& r) {
  static const std::string kNone;
  switch (r.op_case()) {
    case v1::Record::kIncrement: return r.increment().payment_key();
    case v1::Record::kCapture: return r.capture().payment_key();
    case v1::Record::kVoidPayment: return r.void_payment().payment_key();
    case v1::Record::kRefund: return r.refund().payment_key();
    default: return kNone;
  }
}

std::string FileDigestPrefix(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string all, chunk(1 << 16, '\0');
  Sha256Digest acc{};
  // Chained SHA-256 over 64 KiB chunks: streaming without keeping the file in memory.
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    acc = Sha256(DigestBytes(acc), std::string_view(chunk.data(), static_cast<size_t>(in.gcount())));
  }
  return ToHex(acc).substr(0, 16);
}

}  // namespace

namespace {

// The --results file: one JSON line per record, in file order. Without a path it writes nothing.
class ResultsFile {
 public:
  Result<void> Open(const std::string& path) {
    if (path.empty()) return {};
    out_.open(path, std::ios::binary | std::ios::trunc);
    if (!out_) return Bad("--results", "cannot write '" + path + "'");
    return {};
  }

  // A record's line: `op` once it became a command, `out` when the engine answered it, `error`
  // when the engine refused it or the record was bad.
  void Line(uint64_t number, const std::string& key, const char* outcome, const Operation* op,
            const Outcome* out, const Error* error) {
    if (!out_.is_open()) return;
    JsonWriter w;
    w.BeginObject().Field("record", static_cast<int64_t>(number)).Field("key", key);
    w.Field("outcome", outcome);
    if (op != nullptr) w.Field("operation", OperationName(*op));
    if (out != nullptr && !out->payment_id.empty()) {
      w.Field("payment_id", out->payment_id).Field("status", out->payment_status);
      if (!out->response_code.empty()) w.Field("response_code", out->response_code);
    }
    if (out != nullptr && out->declined) {
      w.Key("error").BeginObject().Field("code", out->decline.name());
      w.Field("message", out->decline.message).EndObject();
    }
    if (error != nullptr) {
      w.Key("error").BeginObject().Field("code", error->name()).Field("message", error->message);
      if (!error->rule.empty()) w.Field("rule", error->rule);
      w.EndObject();
    }
    w.EndObject();
    out_ << w.str() << '\n';
  }

  // A settle record's line.
  void Settlement(uint64_t number, const std::string& key, size_t payments_settled) {
    if (!out_.is_open()) return;
    JsonWriter w;
    w.BeginObject().Field("record", static_cast<int64_t>(number)).Field("key", key);
    w.Field("outcome", payments_settled > 0 ? "applied" : "replayed").Field("operation", "settle");
    w.Field("payments_settled", static_cast<int64_t>(payments_settled)).EndObject();
    out_ << w.str() << '\n';
  }

  // Flushes; an error if any line failed to write.
  Result<void> Close() {
    if (!out_.is_open()) return {};
    out_.flush();
    if (!out_) return MakeError(ErrorCode::kStoreIo, "--results: write failed");
    return {};
  }

 private:
  std::ofstream out_;
};

// One run of Replay. Records are read one at a time into a batch of commands; a full batch (or
// a record that depends on one in it, or a settle record, or the end of the file) runs the batch
// as one engine call, i.e. one durable commit, after which every record of the batch gets its
// line in the results and its count in the summary, in file order. A bad record takes its place
// in the batch too, so that the results stay in file order.
class Replayer {
 public:
  Replayer(Engine& engine, ManualClock& clock, const ReplayOptions& o, RecordReader& reader,
           ResultsFile& results)
      : engine_(engine),
        clock_(clock),
        o_(o),
        reader_(reader),
        results_(results),
        translator_(engine),
        derived_prefix_(o.derive_keys ? FileDigestPrefix(o.path) : std::string()),
        batch_max_(std::max<size_t>(1, std::min(o.batch_records, limits::kBatchEntriesMax))) {}

  // Reads and runs the whole file. An Error here stops the replay (a store failure, an error the
  // operator must look at); bad records do not, they are counted and reported.
  Result<void> ReadAll();
  // Runs the last batch and verifies the books: the summary of the run.
  Result<ReplaySummary> Finish();

 private:
  // A record of the batch: its command, or the error reported in its place.
  struct Item {
    uint64_t number = 0;
    requests::Translator::Translated t;
    std::optional<Error> error;
    std::string key;
    std::string payment_key;           // the payment a follow-up names
    bool followup_unapproved = false;  // names a payment that was never approved
  };

  Result<void> Add(v1::Record& record, uint64_t number);
  bool EnsureKey(v1::Record& record, uint64_t number, const std::string& where);
  bool DependsOnBatch(const std::string& merchant, const std::string& payment_key) const;
  void NoteBatchCreates(const v1::Record& record, const std::string& payment_key,
                        const requests::Translator::Translated& t);
  void AddBad(uint64_t number, const std::string& key, Error error);
  Result<void> Settle(uint64_t number, const std::string& key, int64_t event_time_ms);

  Result<void> RunBatch();
  std::vector<Command> TakeCommands(std::vector<size_t>& command_of);
  Result<void> Report(const Item& it, const Command& c, const Result<Outcome>& r);
  Result<void> ReportRefusal(const Item& it, const Command& c, Operation op, const Error& e);
  void ReportOutcome(const Item& it, const Command& c, Operation op, const Outcome& out);
  void CountAuthorization(const Outcome& out, bool network_decline);
  void NoteUnapproved(const std::string& merchant, const std::string& payment_key);
  bool Unapproved(const std::string& merchant, const std::string& payment_key) const;
  void CountError(const Error& e);

  Engine& engine_;
  ManualClock& clock_;
  const ReplayOptions& o_;
  RecordReader& reader_;
  ResultsFile& results_;
  requests::Translator translator_;
  const std::string derived_prefix_;  // of derived keys (--derive-keys), else empty
  const size_t batch_max_;
  ReplaySummary sum_;
  std::vector<Item> batch_;
  // "merchant\npayment key" of the payments that records of the batch create (or grow): a record
  // that names one must wait for the batch to run.
  std::unordered_map<std::string, size_t> batch_creates_;
  // "merchant\npayment key" of payments never approved (declined by the issuer, refused by
  // velocity or the books): a follow-up naming one is counted apart from declines and errors.
  std::unordered_set<std::string> unapproved_keys_;
};

// ---- reading a record into the batch

Result<void> Replayer::ReadAll() {
  v1::Record record;
  for (;;) {
    auto next = reader_.Next(&record);
    const uint64_t number = reader_.record_number();
    if (next && !*next) return {};
    ++sum_.records;
    if (!next) {
      AddBad(number, "", next.error());
      if (reader_.broken()) return {};  // the rest of the file cannot be read
      continue;
    }
    PAY_TRY(Add(record, number));
  }
}

// One record read: into the batch (after running the batch first if the record depends on it),
// or, for a settle record, run at once.
Result<void> Replayer::Add(v1::Record& record, uint64_t number) {
  const std::string where = reader_.where();
  if (!EnsureKey(record, number, where)) return {};
  const std::string& named = PaymentKeyOf(record);
  if (DependsOnBatch(record.merchant(), named)) {
    // The payment it names is created (or waits on the network) in this very batch: run the
    // batch first.
    PAY_TRY(RunBatch());
  }
  auto translated = translator_.Translate(record, where, Channel::kReplay);
  if (!translated && !batch_.empty()) {
    // It may depend on an earlier record of the batch (an account it debits): run the batch,
    // then try once more.
    PAY_TRY(RunBatch());
    translated = translator_.Translate(record, where, Channel::kReplay);
  }
  if (!translated) {
    AddBad(number, record.idempotency_key(), translated.error());
    batch_.back().followup_unapproved = translated.error().code == ErrorCode::kPaymentNotFound &&
                                        Unapproved(record.merchant(), named);
    return {};
  }
  if (translated->settle) {
    return Settle(number, record.idempotency_key(), translated->command.event_time_ms);
  }
  NoteBatchCreates(record, named, *translated);
  Item item;
  item.number = number;
  item.key = record.idempotency_key();
  item.payment_key = named;
  item.t = std::move(*translated);
  batch_.push_back(std::move(item));
  if (batch_.size() >= batch_max_) PAY_TRY(RunBatch());
  return {};
}

// A record without an idempotency key (settle records need none) gets the derived one with
// --derive-keys; without it the record is bad: false, and it is reported in its place.
bool Replayer::EnsureKey(v1::Record& record, uint64_t number, const std::string& where) {
  if (!record.idempotency_key().empty() || record.has_settle()) return true;
  if (!o_.derive_keys) {
    AddBad(number, "", Bad(where, "idempotency_key: required (or replay with --derive-keys)"));
    return false;
  }
  record.set_idempotency_key(derived_prefix_ + ":" + std::to_string(number));
  return true;
}

// The dependency rule: a record that names a payment created (or grown) by a record of the
// current batch cannot be translated until that batch has run.
bool Replayer::DependsOnBatch(const std::string& merchant, const std::string& payment_key) const {
  return !payment_key.empty() && batch_creates_.count(merchant + '\n' + payment_key) > 0;
}

// Notes the payments `record` (about to join the batch) creates, or grows: an increment keeps
// its payment online with the network until the batch ends.
void Replayer::NoteBatchCreates(const v1::Record& record, const std::string& payment_key,
                                const requests::Translator::Translated& t) {
  if (!t.creates_payment_key.empty()) {
    batch_creates_[record.merchant() + '\n' + t.creates_payment_key] = batch_.size();
  }
  if (record.has_increment() && !payment_key.empty()) {
    batch_creates_[record.merchant() + '\n' + payment_key] = batch_.size();
  }
}

void Replayer::AddBad(uint64_t number, const std::string& key, Error error) {
  Item bad;
  bad.number = number;
  bad.key = key;
  bad.error = std::move(error);
  batch_.push_back(std::move(bad));
}

// A settle record: the batch runs, then the engine settles at the record's time.
Result<void> Replayer::Settle(uint64_t number, const std::string& key, int64_t event_time_ms) {
  PAY_TRY(RunBatch());
  clock_.SetMs(std::max(clock_.NowMs(), event_time_ms));
  auto s = engine_.Settle();
  if (!s) return s.error();
  ++sum_.settlements;
  sum_.settled_payments += static_cast<int64_t>(s->payments);
  for (const auto& [cur, net, fee] : s->totals) {
    sum_.settled_minor[cur].first += net;
    sum_.settled_minor[cur].second += fee;
  }
  // Settling moves each captured payment once; a settlement with nothing left to settle (a file
  // replayed again) moved nothing, like an idempotent replay.
  if (s->payments > 0) {
    ++sum_.applied;
  } else {
    ++sum_.replayed;
  }
  results_.Settlement(number, key, s->payments);
  return {};
}

// ---- running the batch

// Submits the batch as one engine call (one commit) at the latest event time in it, then reports
// every record in file order and calls the progress callback.
Result<void> Replayer::RunBatch() {
  if (batch_.empty()) return {};
  std::vector<size_t> command_of;
  std::vector<Command> commands = TakeCommands(command_of);
  auto outcomes = commands.empty() ? std::vector<Result<Outcome>>() : engine_.SubmitBatch(commands);
  for (size_t i = 0; i < batch_.size(); ++i) {
    const Item& it = batch_[i];
    if (it.error) {
      if (it.followup_unapproved) {
        ++sum_.followups_unapproved;
      } else {
        CountError(*it.error);
      }
      results_.Line(it.number, it.key, "error", nullptr, nullptr, &*it.error);
      continue;
    }
    PAY_TRY(Report(it, commands[command_of[i]], outcomes[command_of[i]]));
  }
  batch_.clear();
  batch_creates_.clear();
  if (o_.progress) {
    o_.progress(reader_.bytes_read(), reader_.bytes_total(), static_cast<uint64_t>(sum_.records));
  }
  return {};
}

// Moves the batch's commands out (bad records have none; `command_of[i]` is the command of item
// i) and sets the clock to the latest event time among them (never back).
std::vector<Command> Replayer::TakeCommands(std::vector<size_t>& command_of) {
  std::vector<Command> commands;
  command_of.assign(batch_.size(), SIZE_MAX);
  commands.reserve(batch_.size());
  int64_t latest = clock_.NowMs();
  for (size_t i = 0; i < batch_.size(); ++i) {
    Item& it = batch_[i];
    if (it.error) continue;
    latest = std::max(latest, it.t.command.event_time_ms);
    command_of[i] = commands.size();
    commands.push_back(std::move(it.t.command));
  }
  clock_.SetMs(latest);
  return commands;
}

// The engine's answer to one record. An error the operator must look at stops the replay.
Result<void> Replayer::Report(const Item& it, const Command& c, const Result<Outcome>& r) {
  const Operation op = OperationOf(c.request);
  if (!r) return ReportRefusal(it, c, op, r.error());
  ReportOutcome(it, c, op, *r);
  return {};
}

Result<void> Replayer::ReportRefusal(const Item& it, const Command& c, Operation op,
                                     const Error& e) {
  if (e.code == ErrorCode::kVelocityLimited) {
    ++sum_.velocity_by_rule[e.rule];
    if (op == Operation::kAuthorize) {
      ++sum_.authorizations.attempted;
      ++sum_.authorizations.refused;
    }
    NoteUnapproved(c.merchant, it.t.creates_payment_key);
    results_.Line(it.number, c.idempotency_key, "refused", &op, nullptr, &e);
  } else {
    CountError(e);
    results_.Line(it.number, c.idempotency_key, "error", &op, nullptr, &e);
  }
  if (ErrorRetryAdvice(e.code) == RetryAdvice::kContactOperator) return e;
  return {};
}

// An answered record: replayed, declined (by the books or the network) or applied, with the
// amounts of applied ones in the totals. A created payment is remembered for its follow-ups.
void Replayer::ReportOutcome(const Item& it, const Command& c, Operation op, const Outcome& out) {
  if (!it.t.creates_payment_key.empty() && !out.payment_id.empty()) {
    translator_.Remember(c.merchant, it.t.creates_payment_key, out.payment_id, it.t.currency);
  }
  // A network decline is the payment this record created, declined by the issuer; a follow-up
  // (a void, say) of a payment declined earlier shows the same status but is not a decline.
  const bool creates = !it.t.creates_payment_key.empty();
  const bool network_decline =
      creates && (out.payment_status == "declined" || out.payment_status == "funding_declined");
  const char* outcome = out.replayed                      ? "replayed"
                        : out.declined || network_decline ? "declined"
                                                          : "applied";
  if (op == Operation::kAuthorize && !out.replayed) CountAuthorization(out, network_decline);
  if (out.replayed) {
    ++sum_.replayed;
  } else if (out.declined && !creates && Unapproved(c.merchant, it.payment_key)) {
    ++sum_.followups_unapproved;  // e.g. the void of a declined authorization
  } else if (out.declined) {
    ++sum_.declined;
    ++sum_.book_refusals_by_code[std::string(out.decline.name())];
    NoteUnapproved(c.merchant, it.t.creates_payment_key);
  } else if (network_decline) {
    NoteUnapproved(c.merchant, it.t.creates_payment_key);
    ++sum_.declined;
    ++sum_.issuer_declines_by_code[out.response_code.empty() ? std::string("no_code")
                                                             : out.response_code];
  } else {
    ++sum_.applied;
    if (creates && (out.payment_status == "unknown" || out.payment_status == "reversed")) {
      NoteUnapproved(c.merchant, it.t.creates_payment_key);  // no answer: reversed, never approved
    }
    int64_t amount = it.t.amount_minor;
    if (op == Operation::kAuthorize) amount = JsonIntField(out.body, "authorized_minor");
    std::string cur = it.t.currency.empty() ? JsonStringField(out.body, "currency") : it.t.currency;
    if (amount > 0 && !cur.empty())
      sum_.totals_minor[cur][std::string(OperationName(op))] += amount;
  }
  results_.Line(it.number, c.idempotency_key, outcome, &op, &out, nullptr);
}

void Replayer::CountAuthorization(const Outcome& out, bool network_decline) {
  AuthorizationCounts& a = sum_.authorizations;
  ++a.attempted;
  if (out.declined) {
    ++a.refused;
  } else if (network_decline) {
    ++a.declined;
  } else if (out.payment_status == "unknown" || out.payment_status == "reversed") {
    ++a.unknown;
  } else {
    ++a.approved;
  }
}

// A payment key whose creating record was not approved: its follow-ups cannot run (bounded).
void Replayer::NoteUnapproved(const std::string& merchant, const std::string& payment_key) {
  if (payment_key.empty() || unapproved_keys_.size() >= kUnapprovedKeysMax) return;
  unapproved_keys_.insert(merchant + '\n' + payment_key);
}

bool Replayer::Unapproved(const std::string& merchant, const std::string& payment_key) const {
  return !payment_key.empty() && unapproved_keys_.count(merchant + '\n' + payment_key) > 0;
}

void Replayer::CountError(const Error& e) {
  ++sum_.errors;
  ++sum_.errors_by_code[std::string(e.name())];
  if (sum_.first_error.empty()) sum_.first_error = e.message;
}

// ---- the end of the file

Result<ReplaySummary> Replayer::Finish() {
  PAY_TRY(RunBatch());
  if (o_.progress) {
    o_.progress(reader_.bytes_total(), reader_.bytes_total(), static_cast<uint64_t>(sum_.records));
  }
  auto v = engine_.Verify();
  if (!v) return v.error();
  sum_.verify_ok = v->ok();
  sum_.verify_problems = v->problems_total;
  sum_.audit_hash = v->head_hash_hex;
  PAY_TRY(ReadBooks(engine_, clock_.NowMs(), &sum_));
  return sum_;
}

}  // namespace

Result<ReplaySummary> Replay(Engine& engine, ManualClock& clock, const ReplayOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  PAY_ASSIGN_OR_RETURN(auto reader, RecordReader::Open(o.path, o.format));
  ResultsFile results;
  PAY_TRY(results.Open(o.results_path));
  Replayer replayer(engine, clock, o, *reader, results);
  PAY_TRY(replayer.ReadAll());
  PAY_ASSIGN_OR_RETURN(ReplaySummary sum, replayer.Finish());
  sum.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  PAY_TRY(results.Close());
  return sum;
}

}  // namespace pay::files
