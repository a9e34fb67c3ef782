#include "adapters/requests/requests.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>

#include "core/json_keys.h"
#include "core/json_writer.h"
#include "core/limits.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::requests {

namespace {

Error Bad(const std::string& where, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, where + ": " + what);
}

}  // namespace

// ---- messages -----------------------------------------------------------------------------------

Result<void> MessageFromJson(std::string_view json, google::protobuf::Message* message,
                             const std::string& where) {
  PAY_TRY(RefuseDuplicateJsonKeys(json, where));
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, opts);
  if (!status.ok()) return Bad(where, std::string(status.message()));
  return {};
}

Result<void> MessageFromBody(std::string_view content_type, const std::string& body,
                             google::protobuf::Message* message) {
  if (content_type.starts_with("application/x-protobuf")) {
    if (!message->ParseFromString(body)) {
      return Bad("body", "not a serialized " + message->GetTypeName());
    }
    return {};
  }
  // curl's -d sends JSON as application/x-www-form-urlencoded: a body that is a JSON object is
  // read as JSON; real form encoding is refused.
  const bool json_by_curl = content_type.starts_with("application/x-www-form-urlencoded") &&
                            !body.empty() && body.front() == '{';
  if (!content_type.empty() && !content_type.starts_with("application/json") && !json_by_curl) {
    return Bad("Content-Type", "'" + std::string(content_type.substr(0, 64)) +
                                   "' (application/json or application/x-protobuf)");
  }
  return MessageFromJson(body.empty() ? std::string_view("{}") : std::string_view(body), message,
                         "body");
}

// ---- records into commands ----------------------------------------------------------------------

Result<Translator::Translated> Translator::Translate(const v1::Record& r, const std::string& where,
                                                     Channel channel, bool require_event_time) {
  Translated t;
  Command& c = t.command;
  c.idempotency_key = r.idempotency_key();
  c.merchant = r.merchant();
  c.channel = channel;
  c.client.ip = r.client_ip();
  c.client.credential = r.credential();
  if (r.event_time().empty()) {
    if (require_event_time) return Bad(where, "event_time: required (RFC 3339)");
  } else {
    PAY_ASSIGN_OR_RETURN(c.event_time_ms, ParseRfc3339Ms(r.event_time(), where + ": event_time"));
  }
  switch (r.op_case()) {
    case v1::Record::kCreateAccount:
    case v1::Record::kCreateMerchant:
    case v1::Record::kFund:
    case v1::Record::kTransfer:
      PAY_TRY(TranslateBooks(r, where, t));
      break;
    case v1::Record::kAuthorize:
    case v1::Record::kIncrement:
    case v1::Record::kCapture:
    case v1::Record::kVoidPayment:
    case v1::Record::kRefund:
      PAY_TRY(TranslateCard(r, where, t));
      break;
    case v1::Record::kPush:
    case v1::Record::kP2P:
      PAY_TRY(TranslatePush(r, where, t));
      break;
    case v1::Record::kSettle:
      t.settle = true;
      break;
    case v1::Record::OP_NOT_SET:
      return Bad(where, "no operation (create_account, create_merchant, fund, transfer, authorize, "
                        "increment, capture, void_payment, refund, push, p2p, settle)");
  }
  return t;
}

// Accounts, merchants, prefunding and ledger transfers.
Result<void> Translator::TranslateBooks(const v1::Record& r, const std::string& where, Translated& t) {
  Command& c = t.command;
  switch (r.op_case()) {
    case v1::Record::kCreateAccount: {
      const auto& a = r.create_account();
      ledger::AccountSpec spec;
      spec.id = a.id();
      spec.currency = a.currency();
      if (!a.type().empty()) {
        PAY_ASSIGN_OR_RETURN(spec.type, ledger::ParseAccountType(a.type(), where + ": create_account.type"));
      }
      if (a.no_overdraft()) spec.overdraft = ledger::OverdraftMode::kNone;
      c.request = CreateAccountRequest{spec};
      break;
    }
    case v1::Record::kCreateMerchant: {
      const auto& m = r.create_merchant();
      CreateMerchantRequest req{m.id(), m.currency(), m.fee_bps(), 0};
      if (!m.fee_fixed().empty()) {
        PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(m.currency(), where + ": create_merchant.currency"));
        PAY_ASSIGN_OR_RETURN(req.fee_fixed_minor, ParseDecimalMinor(m.fee_fixed(), cur->exponent, where + ": create_merchant.fee_fixed"));
      }
      if (c.merchant.empty()) c.merchant = m.id();
      merchant_currency_[m.id()] = m.currency();
      c.request = req;
      break;
    }
    case v1::Record::kFund: {
      const auto& f = r.fund();
      FundRequest req;
      req.currency = f.currency();
      PAY_ASSIGN_OR_RETURN(req.amount_minor, Amount(f.amount(), f.amount_minor(), f.currency(), where + ": fund"));
      if (f.has_card()) {
        req.card = CardInput{f.card().number(), f.card().expiry(), f.card().cvv()};
        t.creates_payment_key = c.idempotency_key;
      }
      t.currency = f.currency();
      t.amount_minor = req.amount_minor;
      c.request = std::move(req);
      break;
    }
    case v1::Record::kTransfer: {
      const auto& x = r.transfer();
      PAY_ASSIGN_OR_RETURN(std::string currency, AccountCurrency(x.debit(), where + ": transfer.debit"));
      PAY_ASSIGN_OR_RETURN(int64_t amount, Amount(x.amount(), x.amount_minor(), currency, where + ": transfer"));
      TransferRequest req;
      req.entry.description = x.description();
      req.entry.postings = {{x.debit(), ledger::Side::kDebit, amount},
                            {x.credit(), ledger::Side::kCredit, amount}};
      t.currency = currency;
      t.amount_minor = amount;
      c.request = std::move(req);
      break;
    }
    default:
      break;
  }
  return {};
}

// The description and metadata of a message that creates a payment.
template <class Message>
PaymentNotes NotesOf(const Message& m) {
  PaymentNotes n;
  n.description = m.description();
  for (const auto& [k, v] : m.metadata()) n.metadata.emplace_back(k, v);
  return n;
}

// Card pull payments: an authorization and the operations that follow it.
Result<void> Translator::TranslateCard(const v1::Record& r, const std::string& where, Translated& t) {
  Command& c = t.command;
  switch (r.op_case()) {
    case v1::Record::kAuthorize: {
      const auto& a = r.authorize();
      AuthorizeRequest req;
      req.card = CardInput{a.card().number(), a.card().expiry(), a.card().cvv()};
      req.currency = a.currency();
      req.notes = NotesOf(a);
      PAY_ASSIGN_OR_RETURN(req.amount_minor, Amount(a.amount(), a.amount_minor(), a.currency(), where + ": authorize"));
      t.currency = a.currency();
      t.amount_minor = req.amount_minor;
      t.creates_payment_key = c.idempotency_key;
      c.request = std::move(req);
      break;
    }
    case v1::Record::kIncrement: {
      const auto& i = r.increment();
      PAY_ASSIGN_OR_RETURN(auto target, Target(c.merchant, i.payment_key(), i.payment_id(), where + ": increment"));
      PAY_ASSIGN_OR_RETURN(int64_t amount, Amount(i.amount(), i.amount_minor(), target.currency, where + ": increment"));
      c.request = IncrementRequest{target.id, amount};
      t.amount_minor = amount;
      break;
    }
    case v1::Record::kCapture: {
      const auto& x = r.capture();
      PAY_ASSIGN_OR_RETURN(auto target, Target(c.merchant, x.payment_key(), x.payment_id(), where + ": capture"));
      PAY_ASSIGN_OR_RETURN(auto amount, OptionalAmount(x.amount(), x.amount_minor(), target.currency, where + ": capture"));
      c.request = CaptureRequest{target.id, amount, x.final()};
      t.amount_minor = amount.value_or(0);
      break;
    }
    case v1::Record::kVoidPayment: {
      const auto& v = r.void_payment();
      PAY_ASSIGN_OR_RETURN(auto target, Target(c.merchant, v.payment_key(), v.payment_id(), where + ": void_payment"));
      c.request = VoidPaymentRequest{target.id};
      break;
    }
    case v1::Record::kRefund: {
      const auto& x = r.refund();
      PAY_ASSIGN_OR_RETURN(auto target, Target(c.merchant, x.payment_key(), x.payment_id(), where + ": refund"));
      PAY_ASSIGN_OR_RETURN(auto amount, OptionalAmount(x.amount(), x.amount_minor(), target.currency, where + ": refund"));
      c.request = RefundRequest{target.id, amount};
      t.amount_minor = amount.value_or(0);
      break;
    }
    default:
      break;
  }
  return {};
}

// Push payments: disbursements and P2P.
Result<void> Translator::TranslatePush(const v1::Record& r, const std::string& where, Translated& t) {
  Command& c = t.command;
  switch (r.op_case()) {
    case v1::Record::kPush: {
      const auto& p = r.push();
      PushRequest req{{p.card().number(), p.card().expiry(), ""}, 0, p.currency(), p.purpose(),
                      p.sender_name(), p.sender_reference(), p.recipient_name(), NotesOf(p)};
      PAY_ASSIGN_OR_RETURN(req.amount_minor, Amount(p.amount(), p.amount_minor(), p.currency(), where + ": push"));
      t.currency = p.currency();
      t.amount_minor = req.amount_minor;
      t.creates_payment_key = c.idempotency_key;
      c.request = std::move(req);
      break;
    }
    case v1::Record::kP2P: {
      const auto& p = r.p2p();
      P2pRequest req{{p.from_card().number(), p.from_card().expiry(), p.from_card().cvv()},
                     {p.to_card().number(), "", ""}, 0, p.currency(), p.sender_name(), p.recipient_name(),
                     NotesOf(p)};
      PAY_ASSIGN_OR_RETURN(req.amount_minor, Amount(p.amount(), p.amount_minor(), p.currency(), where + ": p2p"));
      t.currency = p.currency();
      t.amount_minor = req.amount_minor;
      t.creates_payment_key = c.idempotency_key;
      c.request = std::move(req);
      break;
    }
    default:
      break;
  }
  return {};
}

void Translator::Remember(const std::string& merchant, const std::string& key,
                          const std::string& payment_id, const std::string& currency) {
  payments_.Put(merchant + '\n' + key, {payment_id, currency});
}

Result<Translator::PaymentTarget> Translator::Target(const std::string& merchant,
                                                     const std::string& key, const std::string& id,
                                                     const std::string& where) {
  if (key.empty() == id.empty()) return Bad(where, "payment_key or payment_id: give exactly one");
  PaymentTarget target{id, ""};
  if (!key.empty()) {
    if (const PaymentTarget* known = payments_.Find(merchant + '\n' + key)) return *known;
    PAY_ASSIGN_OR_RETURN(auto found, engine_.PaymentIdForKey(merchant, key));
    if (!found) {
      return MakeError(ErrorCode::kPaymentNotFound,
                       where + ": payment_key: no payment was created under '" + key + "'");
    }
    target.id = *found;
  }
  auto mc = merchant_currency_.find(merchant);
  if (mc != merchant_currency_.end()) {
    target.currency = mc->second;
    return target;
  }
  auto payment = engine_.GetPayment(target.id);
  if (!payment && payment.error().code == ErrorCode::kPaymentNotFound) {
    return MakeError(ErrorCode::kPaymentNotFound, where + ": payment_id: no payment '" + target.id + "'");
  }
  if (!payment) return payment.error();
  target.currency = payment->currency;
  return target;
}

Result<std::string> Translator::AccountCurrency(const std::string& id, const std::string& where) {
  if (const std::string* known = account_currency_.Find(id)) return *known;
  auto a = engine_.GetAccount(id);
  if (!a) return Bad(where, a.error().message);
  std::string code(a->currency->code);
  account_currency_.Put(id, code);
  return code;
}

Result<int64_t> Translator::Amount(const std::string& decimal, int64_t minor,
                                   const std::string& currency, const std::string& where) {
  if (decimal.empty() == (minor == 0)) return Bad(where, "amount: give exactly one of amount and amount_minor");
  if (!decimal.empty()) {
    PAY_ASSIGN_OR_RETURN(const Currency* cur, LookupCurrency(currency, where + ".currency"));
    return ParseDecimalMinor(decimal, cur->exponent, where + ".amount");
  }
  return minor;
}

Result<std::optional<int64_t>> Translator::OptionalAmount(const std::string& decimal, int64_t minor,
                                                          const std::string& currency,
                                                          const std::string& where) {
  if (decimal.empty() && minor == 0) return std::optional<int64_t>();
  PAY_ASSIGN_OR_RETURN(int64_t v, Amount(decimal, minor, currency, where));
  return std::optional<int64_t>(v);
}

Result<Command> CommandFromRecord(Engine& engine, const v1::Record& record, Channel channel) {
  Translator t(engine);
  PAY_ASSIGN_OR_RETURN(auto translated, t.Translate(record, "body", channel, /*require_event_time=*/false));
  if (translated.settle) return Bad("body", "settle is not a payment command");
  return std::move(translated.command);
}

// ---- results into answers -----------------------------------------------------------------------

std::string_view ErrorType(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated: return "authentication_error";
    case ErrorCode::kForbidden: return "permission_error";
    case ErrorCode::kRateLimited: return "rate_limit_error";
    case ErrorCode::kIdempotencyKeyReused:
    case ErrorCode::kIdempotencyKeyInFlight:
    case ErrorCode::kInvalidIdempotencyKey: return "idempotency_error";
    case ErrorCode::kCardDeclined:
    case ErrorCode::kVelocityLimited: return "card_error";
    case ErrorCode::kUnknownAccount:
    case ErrorCode::kEntryNotFound:
    case ErrorCode::kPaymentNotFound:
    case ErrorCode::kUnknownMerchant: return "invalid_request_error";
    default: break;
  }
  switch (ErrorRetryAdvice(code)) {
    case RetryAdvice::kFixInput: return "invalid_request_error";
    case RetryAdvice::kDoNotRetry: return "ledger_error";
    case RetryAdvice::kRetrySameKey:
    case RetryAdvice::kContactOperator: break;
  }
  return "api_error";
}

namespace {

// The field an input error's message names first ("amount: ..." -> "amount"), or empty.
std::string_view ParamOf(const Error& e) {
  const std::string_view type = ErrorType(e.code);
  if (type != "invalid_request_error" && type != "idempotency_error") return {};
  const std::string_view m(e.message);
  const size_t colon = m.find(": ");
  if (colon == std::string_view::npos || colon == 0) return {};
  const std::string_view name = m.substr(0, colon);
  for (std::string_view not_a_field : {"usage", "path", "method", "request", "db", "body"}) {
    if (name == not_a_field) return {};
  }
  const bool plain = name.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-[]") ==
                     std::string_view::npos;
  return plain ? name : std::string_view();
}

}  // namespace

std::string ErrorJson(const Error& e, std::string_view payment_json) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject();
  w.Field("type", ErrorType(e.code));
  w.Field("code", e.name()).Field("number", e.number()).Field("message", e.message);
  if (std::string_view param = ParamOf(e); !param.empty()) w.Field("param", param);
  if (!e.response_code.empty()) {
    const ResponseCodeMeaning meaning = DescribeResponseCode(e.response_code);
    w.Field("decline_code", meaning.decline_code).Field("decline_reason", meaning.reason);
    w.Field("response_code", e.response_code);
  }
  if (!e.rule.empty()) w.Field("rule", e.rule);
  if (e.retry_after_ms > 0) w.Field("retry_after_ms", e.retry_after_ms);
  if (!payment_json.empty()) w.Key("payment").Raw(payment_json);
  w.EndObject().EndObject();
  return w.str();
}

std::string ListJson(const std::vector<std::string>& items, bool has_more, std::string_view next_cursor) {
  JsonWriter w;
  w.BeginObject().Field("object", "list").Key("data").BeginArray();
  for (const auto& item : items) w.Raw(item);
  w.EndArray().Field("has_more", has_more);
  if (has_more) w.Field("next_cursor", next_cursor);
  w.EndObject();
  return w.str();
}

std::string SettleJson(const Engine::SettleReport& r) {
  JsonWriter w;
  w.BeginObject().Field("payments", static_cast<int64_t>(r.payments)).Key("totals").BeginArray();
  for (const auto& [cur, net, fee] : r.totals) {
    w.BeginObject().Field("currency", cur).Field("net_minor", net).Field("fee_minor", fee).EndObject();
  }
  w.EndArray().EndObject();
  return w.str();
}

std::string ResolveJson(size_t expired, size_t still_queued) {
  JsonWriter w;
  w.BeginObject().Field("expired", static_cast<int64_t>(expired));
  w.Field("advices_queued", still_queued > 0).EndObject();
  return w.str();
}

Result<PaymentStatus> ParsePaymentStatus(std::string_view name, std::string_view field) {
  std::string known;
  for (int s = 1; s <= static_cast<int>(PaymentStatus::kFundingDeclined); ++s) {
    const auto status = static_cast<PaymentStatus>(s);
    const std::string_view n = PaymentStatusName(status);
    if (n.empty() || n == "?") continue;
    if (n == name) return status;
    known += (known.empty() ? "" : ", ") + std::string(n);
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(field) + ": '" + std::string(name.substr(0, 40)) + "' is not a payment status (" + known + ")");
}

Result<int64_t> ParseTimeMs(std::string_view text, std::string_view field) {
  if (!text.empty() && text.size() <= 12 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    int64_t seconds = 0;
    std::from_chars(text.data(), text.data() + text.size(), seconds);
    return seconds * 1000;
  }
  return ParseRfc3339Ms(text, field);
}

Result<PaymentPage> ListPayments(Engine& engine, std::string_view merchant, std::string_view after_id,
                                 size_t limit, const PaymentFilter& filter) {
  PaymentPage out;
  std::string after(after_id);
  size_t scanned = 0;
  while (out.items.size() < limit && scanned < kFilterScanRowsMax) {
    const size_t want = std::min(std::max<size_t>(limit - out.items.size(), 100),
                                 kFilterScanRowsMax - scanned);
    PAY_ASSIGN_OR_RETURN(Page<PaymentView> page, engine.ListPayments(merchant, after, want));
    size_t consumed = 0;
    for (auto& p : page.items) {
      ++consumed;
      after = p.id;
      if (filter.Matches(p)) out.items.push_back(std::move(p));
      if (out.items.size() == limit) break;
    }
    scanned += consumed;
    if (page.items.size() < want && consumed == page.items.size()) return out;  // the end
  }
  // Stopped at the limit or the scan bound: there may be more (one more look says).
  PAY_ASSIGN_OR_RETURN(Page<PaymentView> next, engine.ListPayments(merchant, after, 1));
  out.has_more = !next.items.empty();
  if (out.has_more) out.next_cursor = after;
  return out;
}

std::string PaymentPageJson(const PaymentPage& page) {
  std::vector<std::string> items;
  items.reserve(page.items.size());
  for (const auto& p : page.items) items.push_back(PaymentJson(p));
  return ListJson(items, page.has_more, page.next_cursor);
}

std::string HistoryJson(const std::string& account, const std::vector<ledger::StatementLine>& lines) {
  JsonWriter w;
  w.BeginObject().Field("account", account).Key("lines").BeginArray();
  for (const auto& l : lines) {
    w.BeginObject().Field("entry", l.seq).Field("description", l.description);
    w.Field("debit_minor", l.debit_minor).Field("credit_minor", l.credit_minor);
    w.Field("balance_minor", l.balance_minor).Field("available_minor", l.available_minor).EndObject();
  }
  w.EndArray().EndObject();
  return w.str();
}

}  // namespace pay::requests
