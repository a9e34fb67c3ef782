#include "rails/payments/events.h"

#include <charconv>
#include <cstdio>

#include "core/assert.h"
#include "core/encoding.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "core/time_format.h"
#include "pay/card_network.h"
#include "rails/payments/payment.h"

namespace pay::payments {

bool Approved(std::string_view code) { return code == "00" || code == "10"; }

namespace {

constexpr uint8_t kEventVersion = 1;
constexpr int64_t kEventIdPartitionSpan = 100'000'000'000'000;  // 14 digits of sequence
constexpr char kSequence[] = "event";

std::string Pad16(int64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016lld", static_cast<long long>(v));
  return buf;
}

std::string_view ObjectOf(PaymentKind kind) {
  switch (kind) {
    case PaymentKind::kPull: return "payment";
    case PaymentKind::kPush: return "payout";
    case PaymentKind::kFunding: return "funding";
    case PaymentKind::kP2p: return "p2p";
  }
  return "payment";
}

// A card payment's event type for one operation of its history.
std::string CardEventType(const PaymentOperation& op, PaymentStatus status_after) {
  if (op.op == "authorize") {
    if (Approved(op.response_code)) return "payment.authorized";
    return status_after == PaymentStatus::kUnknown ? "payment.in_doubt" : "payment.declined";
  }
  if (op.op == "increment") {
    return Approved(op.response_code) ? "payment.incremented" : "payment.increment_declined";
  }
  static constexpr std::pair<std::string_view, std::string_view> kPast[] = {
      {"capture", "captured"}, {"void", "voided"},   {"refund", "refunded"}, {"reversal", "reversed"},
      {"expire", "expired"},   {"settle", "settled"},
  };
  for (auto [verb, past] : kPast) {
    if (op.op == verb) return "payment." + std::string(past);
  }
  return "payment." + op.op;
}

// A push, funding or P2P payment's event type for a status it reached.
std::string PushEventType(const Payment& p) {
  std::string_view status = PaymentStatusName(p.status);
  if (p.status == PaymentStatus::kUnknown) status = "in_doubt";
  return std::string(ObjectOf(p.kind)) + "." + std::string(status);
}

EventView PaymentEvent(const Payment& p) {
  EventView e;
  e.merchant = p.merchant;
  e.object = std::string(ObjectOf(p.kind));
  e.object_id = p.id;
  e.status = std::string(PaymentStatusName(p.status));
  e.currency = p.currency;
  return e;
}

}  // namespace

void EventLog::BeginTransaction() {
  // Numbers handed out in a transaction that was neither flushed nor rolled back would be handed
  // out again: a bug in the caller.
  PAY_ASSERT(!dirty_, "events: numbers used in a transaction that was neither flushed nor rolled back");
  Forget();
}

void EventLog::Forget() {
  counters_.clear();
  dirty_ = false;
}

// The counter's next value; `it` is left on its entry.
Result<int64_t> EventLog::Next(const std::string& counter,
                               std::map<std::string, int64_t>::iterator* it) {
  auto found = counters_.find(counter);
  if (found == counters_.end()) {
    PAY_ASSIGN_OR_RETURN(auto row, store_.FindRecord(store::kCounterRecord, counter));
    int64_t value = 0;
    if (row && !row->body.empty()) {
      const char* end = row->body.data() + row->body.size();
      auto [ptr, ec] = std::from_chars(row->body.data(), end, value);
      if (ec != std::errc() || ptr != end) {
        return MakeError(ErrorCode::kCorruptStore, "store: counter '" + counter + "' is not a number");
      }
    }
    found = counters_.emplace(counter, value).first;
  }
  ++found->second;
  dirty_ = true;
  *it = found;
  return found->second;
}

Result<void> EventLog::Emit(EventView e) {
  std::map<std::string, int64_t>::iterator it;
  PAY_ASSIGN_OR_RETURN(int64_t seq, Next(kSequence, &it));
  if (seq >= kEventIdPartitionSpan) {
    return MakeError(ErrorCode::kInternal, "events: the event ids of this partition are used up");
  }
  PAY_ASSIGN_OR_RETURN(e.number, Next("event/" + e.merchant, &it));
  e.created_at_ms = clock_.NowMs();
  store::RecordRow row;
  row.kind = store::kEventRecord;
  row.id = Pad16(int64_t{partition_} * kEventIdPartitionSpan + seq);
  row.owner = e.merchant;
  row.due_ms = retention_ms_ > 0 ? e.created_at_ms + retention_ms_ : 0;
  row.body = EncodeEvent(e);
  return store_.PutRecord(row);
}

Result<void> EventLog::Flush() {
  if (!dirty_) return {};
  for (const auto& [name, value] : counters_) {
    store::RecordRow row;
    row.kind = store::kCounterRecord;
    row.id = name;
    row.body = std::to_string(value);
    PAY_TRY(store_.PutRecord(row));
  }
  dirty_ = false;
  return {};
}

Result<void> EventLog::PaymentChanged(const Payment& p) {
  if (p.kind == PaymentKind::kPull) {
    for (size_t i = p.saved_ops; i < p.history.size(); ++i) {
      const PaymentOperation& op = p.history[i];
      EventView e = PaymentEvent(p);
      e.type = CardEventType(op, p.status);
      e.amount_minor = op.amount_minor;
      e.response_code = op.response_code;
      PAY_TRY(Emit(std::move(e)));
    }
  } else if (!p.saved || p.status != p.saved_status) {
    EventView e = PaymentEvent(p);
    e.type = PushEventType(p);
    e.amount_minor = p.amount_minor;
    e.response_code = p.response_code;
    PAY_TRY(Emit(std::move(e)));
  }
  p.saved = true;
  p.saved_ops = p.history.size();
  p.saved_status = p.status;
  return {};
}

// ---- encoding -------------------------------------------------------------------------------

std::string EventRowId(std::string_view event_id) {
  if (event_id.starts_with("evt_")) event_id.remove_prefix(4);
  return std::string(event_id);
}

std::string EncodeEvent(const EventView& e) {
  Writer w;
  w.Reserve(64 + e.type.size() + e.object_id.size() + e.detail.size());
  w.U8(kEventVersion);
  w.I64(e.number);
  w.I64(e.created_at_ms);
  for (const std::string* s : {&e.type, &e.object, &e.object_id, &e.status, &e.currency,
                               &e.response_code, &e.detail}) {
    w.Str(*s);
  }
  w.I64(e.amount_minor);
  w.I64(e.count);
  w.I64(e.fee_minor);
  return w.Take();
}

Result<EventView> DecodeEvent(const store::RecordRow& row) {
  EventView e;
  e.id = "evt_" + row.id;
  e.merchant = row.owner;
  Reader r(row.body);
  uint8_t version = 0;
  bool ok = r.U8(&version) && version == kEventVersion && r.I64(&e.number) &&
            r.I64(&e.created_at_ms);
  for (std::string* s : {&e.type, &e.object, &e.object_id, &e.status, &e.currency,
                         &e.response_code, &e.detail}) {
    ok = ok && r.Str(s, limits::kDescriptionBytesMax);
  }
  ok = ok && r.I64(&e.amount_minor) && r.I64(&e.count) && r.I64(&e.fee_minor) && r.done();
  if (!ok) return MakeError(ErrorCode::kCorruptStore, "store: event " + row.id + " does not decode");
  return e;
}

}  // namespace pay::payments

namespace pay {

using payments::Approved;

bool EventFilter::Matches(std::string_view t) const {
  if (type.empty()) return true;
  if (type.ends_with('*')) return t.starts_with(std::string_view(type).substr(0, type.size() - 1));
  return t == type;
}

std::string EventJson(const EventView& e) {
  JsonWriter w;
  w.BeginObject().Field("id", e.id).Field("object", "event").Field("number", e.number);
  w.Field("type", e.type).Field("merchant", e.merchant);
  w.Field("created", FormatRfc3339Ms(e.created_at_ms));
  w.Key("data").BeginObject().Key("object").BeginObject();
  w.Field("object", e.object);
  if (!e.object_id.empty()) {
    w.Field(e.object == "velocity_rule" ? "rule" : "payment_id", e.object_id);
  }
  if (!e.status.empty()) w.Field("status", e.status);
  w.Field("amount", e.amount_minor);
  if (!e.currency.empty()) w.Field("currency", e.currency);
  if (!e.response_code.empty()) {
    w.Field("response_code", e.response_code);
    if (!Approved(e.response_code)) {
      ResponseCodeMeaning m = DescribeResponseCode(e.response_code);
      w.Field("decline_code", m.decline_code).Field("reason", m.reason);
    }
  }
  if (e.object == "settlement") w.Field("payments", e.count).Field("fees", e.fee_minor);
  if (!e.detail.empty()) w.Field("message", e.detail);
  w.EndObject().EndObject().EndObject();
  return w.str();
}

}  // namespace pay
