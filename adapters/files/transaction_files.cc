#include "adapters/files/transaction_files.h"

#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <unordered_map>
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

std::string SummaryJson(const ReplaySummary& s) {
  JsonWriter w;
  w.BeginObject();
  w.Field("records", s.records).Field("applied", s.applied).Field("idempotent_replays", s.replayed);
  w.Field("declined", s.declined);
  w.Key("declined_by_code").BeginObject();
  for (const auto& [k, v] : s.declined_by_code) w.Field(k, v);
  w.EndObject();
  w.Key("velocity_refusals_by_rule").BeginObject();
  for (const auto& [k, v] : s.velocity_by_rule) w.Field(k, v);
  w.EndObject();
  w.Field("errors", s.errors);
  w.Key("errors_by_code").BeginObject();
  for (const auto& [k, v] : s.errors_by_code) w.Field(k, v);
  w.EndObject();
  if (!s.first_error.empty()) w.Field("first_error", s.first_error);
  w.Key("totals_minor").BeginObject();
  for (const auto& [cur, ops] : s.totals_minor) {
    w.Key(cur).BeginObject();
    for (const auto& [op, v] : ops) w.Field(op, v);
    w.EndObject();
  }
  w.EndObject();
  w.Field("settlements", s.settlements);
  w.Field("elapsed_ms", static_cast<int64_t>(s.elapsed_s * 1000));
  w.Field("records_per_second", static_cast<int64_t>(s.elapsed_s > 0 ? s.records / s.elapsed_s : 0));
  w.Key("ledger_verify").BeginObject();
  w.Field("ok", s.verify_ok).Field("problems", s.verify_problems).Field("audit_hash", s.audit_hash);
  w.EndObject();
  w.EndObject();
  return w.str();
}

Result<ReplaySummary> Replay(Engine& engine, ManualClock& clock, const ReplayOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  PAY_ASSIGN_OR_RETURN(auto reader, RecordReader::Open(o.path, o.format));
  std::ofstream results;
  if (!o.results_path.empty()) {
    results.open(o.results_path, std::ios::binary | std::ios::trunc);
    if (!results) return Bad("--results", "cannot write '" + o.results_path + "'");
  }
  const std::string derived_prefix = o.derive_keys ? FileDigestPrefix(o.path) : std::string();
  ReplaySummary sum;
  requests::Translator translator(engine);

  struct Item {
    uint64_t number = 0;
    requests::Translator::Translated t;
    std::optional<Error> error;  // a bad record: reported in its place in the results
    std::string key;
  };
  std::vector<Item> batch;
  std::unordered_map<std::string, size_t> batch_creates;  // merchant\nkey of creating records
  const size_t batch_max = std::max<size_t>(1, std::min(o.batch_records, limits::kBatchEntriesMax));

  auto line = [&](uint64_t number, const std::string& key, const char* outcome, Operation* op,
                  const Outcome* out, const Error* error) {
    if (!results.is_open()) return;
    JsonWriter w;
    w.BeginObject().Field("record", static_cast<int64_t>(number)).Field("key", key);
    w.Field("outcome", outcome);
    if (op != nullptr) w.Field("operation", OperationName(*op));
    if (out != nullptr && !out->payment_id.empty()) {
      w.Field("payment_id", out->payment_id).Field("status", out->payment_status);
      if (!out->response_code.empty()) w.Field("response_code", out->response_code);
    }
    if (out != nullptr && out->declined) {
      w.Key("error").BeginObject().Field("code", out->decline.name()).Field("message", out->decline.message).EndObject();
    }
    if (error != nullptr) {
      w.Key("error").BeginObject().Field("code", error->name()).Field("message", error->message);
      if (!error->rule.empty()) w.Field("rule", error->rule);
      w.EndObject();
    }
    w.EndObject();
    results << w.str() << '\n';
  };
  auto count_error = [&](const Error& e) {
    ++sum.errors;
    ++sum.errors_by_code[std::string(e.name())];
    if (sum.first_error.empty()) sum.first_error = e.message;
  };

  auto flush = [&]() -> Result<void> {
    if (batch.empty()) return {};
    std::vector<Command> commands;
    std::vector<size_t> command_of(batch.size(), SIZE_MAX);
    commands.reserve(batch.size());
    int64_t latest = clock.NowMs();
    for (size_t i = 0; i < batch.size(); ++i) {
      Item& it = batch[i];
      if (it.error) continue;
      latest = std::max(latest, it.t.command.event_time_ms);
      command_of[i] = commands.size();
      commands.push_back(std::move(it.t.command));
    }
    clock.SetMs(latest);
    auto outcomes = commands.empty() ? std::vector<Result<Outcome>>() : engine.SubmitBatch(commands);
    for (size_t i = 0; i < batch.size(); ++i) {
      const Item& it = batch[i];
      if (it.error) {
        count_error(*it.error);
        line(it.number, it.key, "error", nullptr, nullptr, &*it.error);
        continue;
      }
      const Command& c = commands[command_of[i]];
      Operation op = OperationOf(c.request);
      const auto& r = outcomes[command_of[i]];
      if (!r) {
        const Error& e = r.error();
        if (e.code == ErrorCode::kVelocityLimited) {
          ++sum.velocity_by_rule[e.rule];
          line(it.number, c.idempotency_key, "refused", &op, nullptr, &e);
        } else {
          count_error(e);
          line(it.number, c.idempotency_key, "error", &op, nullptr, &e);
        }
        if (ErrorRetryAdvice(e.code) == RetryAdvice::kContactOperator) return e;
        continue;
      }
      const Outcome& out = *r;
      if (!it.t.creates_payment_key.empty() && !out.payment_id.empty()) {
        translator.Remember(c.merchant, it.t.creates_payment_key, out.payment_id, it.t.currency);
      }
      const bool network_decline = out.payment_status == "declined" || out.payment_status == "funding_declined";
      const char* outcome = out.replayed ? "replayed"
                            : out.declined || network_decline ? "declined"
                                                              : "applied";
      if (out.replayed) {
        ++sum.replayed;
      } else if (out.declined) {
        ++sum.declined;
        ++sum.declined_by_code[std::string(out.decline.name())];
      } else if (network_decline) {
        ++sum.declined;
        ++sum.declined_by_code[out.response_code.empty() ? std::string("no_code") : out.response_code];
      } else {
        ++sum.applied;
        int64_t amount = it.t.amount_minor;
        if (op == Operation::kAuthorize) amount = JsonIntField(out.body, "authorized_minor");
        std::string cur = it.t.currency.empty() ? JsonStringField(out.body, "currency") : it.t.currency;
        if (amount > 0 && !cur.empty()) sum.totals_minor[cur][std::string(OperationName(op))] += amount;
      }
      line(it.number, c.idempotency_key, outcome, &op, &out, nullptr);
    }
    batch.clear();
    batch_creates.clear();
    if (o.progress) {
      o.progress(reader->bytes_read(), reader->bytes_total(), static_cast<uint64_t>(sum.records));
    }
    return {};
  };

  v1::Record record;
  for (;;) {
    auto next = reader->Next(&record);
    const uint64_t number = reader->record_number();
    if (next && !*next) break;
    ++sum.records;
    if (!next) {
      Item bad;
      bad.number = number;
      bad.error = next.error();
      batch.push_back(std::move(bad));
      if (reader->broken()) break;
      continue;
    }
    const std::string where = reader->where();
    if (record.idempotency_key().empty() && !record.has_settle()) {
      if (!o.derive_keys) {
        Item bad;
        bad.number = number;
        bad.error = Bad(where, "idempotency_key: required (or replay with --derive-keys)");
        batch.push_back(std::move(bad));
        continue;
      }
      record.set_idempotency_key(derived_prefix + ":" + std::to_string(number));
    }
    const std::string& named = PaymentKeyOf(record);
    if (!named.empty() && batch_creates.count(record.merchant() + '\n' + named)) {
      // The payment it names is created (or waits on the network) in this very batch: run the
      // batch first.
      PAY_TRY(flush());
    }
    auto translated = translator.Translate(record, where, Channel::kReplay);
    if (!translated && !batch.empty()) {
      // It may depend on an earlier record of the batch (an account it debits): run the batch,
      // then try once more.
      PAY_TRY(flush());
      translated = translator.Translate(record, where, Channel::kReplay);
    }
    if (!translated) {
      Item bad;
      bad.number = number;
      bad.key = record.idempotency_key();
      bad.error = translated.error();
      batch.push_back(std::move(bad));
      continue;
    }
    if (translated->settle) {
      PAY_TRY(flush());
      clock.SetMs(std::max(clock.NowMs(), translated->command.event_time_ms));
      auto s = engine.Settle();
      if (!s) return s.error();
      ++sum.settlements;
      // Settling moves each captured payment once; a settlement with nothing left to settle
      // (a file replayed again) moved nothing, like an idempotent replay.
      if (s->payments > 0) ++sum.applied; else ++sum.replayed;
      if (results.is_open()) {
        JsonWriter w;
        w.BeginObject().Field("record", static_cast<int64_t>(number)).Field("key", record.idempotency_key());
        w.Field("outcome", s->payments > 0 ? "applied" : "replayed").Field("operation", "settle");
        w.Field("payments_settled", static_cast<int64_t>(s->payments)).EndObject();
        results << w.str() << '\n';
      }
      continue;
    }
    if (!translated->creates_payment_key.empty()) {
      batch_creates[record.merchant() + '\n' + translated->creates_payment_key] = batch.size();
    }
    if (record.has_increment() && !named.empty()) {
      batch_creates[record.merchant() + '\n' + named] = batch.size();  // online until the batch ends
    }
    Item item;
    item.number = number;
    item.key = record.idempotency_key();
    item.t = std::move(*translated);
    batch.push_back(std::move(item));
    if (batch.size() >= batch_max) PAY_TRY(flush());
  }
  PAY_TRY(flush());
  if (o.progress) o.progress(reader->bytes_total(), reader->bytes_total(), static_cast<uint64_t>(sum.records));
  auto v = engine.Verify();
  if (!v) return v.error();
  sum.verify_ok = v->ok();
  sum.verify_problems = v->problems_total;
  sum.audit_hash = v->head_hash_hex;
  sum.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (results.is_open()) {
    results.flush();
    if (!results) return MakeError(ErrorCode::kStoreIo, "--results: write failed");
  }
  return sum;
}

}  // namespace pay::files
