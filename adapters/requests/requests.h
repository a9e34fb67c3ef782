#pragma once
// Translation between the channels that speak pay.v1 messages (proto/pay/v1/records.proto) and
// the engine: transaction files (adapters/files) and paymentd (adapters/server). One place
// decides how a message becomes a pay::Command, so that a record in a file and the same
// operation over HTTP are the same command, and how engine results are rendered for them.
//
// In: a message from JSON (the protobuf JSON mapping) or binary protobuf, then a v1::Record as a
// Command. Out: the error envelope and the JSON of reads (payment lists, account history).
// Channel specifics stay with the channels: file framing and replay batching in adapters/files,
// routes, statuses and headers in adapters/server.
//
// Threading: a Translator is used by one thread at a time; the free functions are thread-safe.

#include <google/protobuf/message.h>

#include <algorithm>
#include <cstdint>
#include <climits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/limits.h"
#include "core/lru_table.h"
#include "pay/engine.h"
#include "pay/v1/records.pb.h"

namespace pay::requests {

// ---- messages -----------------------------------------------------------------------------------

// Fills `message` from its protobuf JSON mapping; unknown fields and keys given twice are
// refused. An error
// (kInvalidArgument) reads "<where>: <what the parser said>".
Result<void> MessageFromJson(std::string_view json, google::protobuf::Message* message,
                             const std::string& where);
// Fills `message` from a request body by its content type: application/x-protobuf (binary),
// application/json or none (JSON; an empty body is {}), or a JSON object sent as
// application/x-www-form-urlencoded (what curl -d does). Anything else is refused.
Result<void> MessageFromBody(std::string_view content_type, const std::string& body,
                             google::protobuf::Message* message);

// ---- records into commands ----------------------------------------------------------------------

// Turns records into engine commands. Follow-up records (increment, capture, void, refund) name
// their payment by id or by the idempotency key of the record that created it; a key is
// resolved through a bounded cache of outcomes the caller Remember()s, then the engine's
// idempotency records (memory does not grow with a file). `engine` must outlive the translator.
class Translator {
 public:
  explicit Translator(Engine& engine) : engine_(engine) {}

  struct Translated {
    Command command;
    std::string currency;  // of the amount, for totals; may be empty
    int64_t amount_minor = 0;
    bool settle = false;              // a settle record: not a command
    std::string creates_payment_key;  // the key a follow-up may name (merchant-scoped)
  };

  // `where` prefixes error messages ("line 12", "body"). Without `require_event_time` a record
  // without an event time runs at the engine clock.
  Result<Translated> Translate(const v1::Record& record, const std::string& where, Channel channel,
                               bool require_event_time = true);
  // After a commit: what a creating record produced, for later follow-ups.
  void Remember(const std::string& merchant, const std::string& key, const std::string& payment_id,
                const std::string& currency);

 private:
  struct PaymentTarget {
    std::string id;
    std::string currency;
  };
  Result<void> TranslateBooks(const v1::Record& r, const std::string& where, Translated& t);
  Result<void> TranslateCard(const v1::Record& r, const std::string& where, Translated& t);
  Result<void> TranslatePush(const v1::Record& r, const std::string& where, Translated& t);
  Result<PaymentTarget> Target(const std::string& merchant, const std::string& key,
                               const std::string& id, const std::string& where);
  Result<std::string> AccountCurrency(const std::string& id, const std::string& where);
  static Result<int64_t> Amount(const std::string& decimal, int64_t minor,
                                const std::string& currency, const std::string& where);
  static Result<std::optional<int64_t>> OptionalAmount(const std::string& decimal, int64_t minor,
                                                       const std::string& currency,
                                                       const std::string& where);

  Engine& engine_;
  // Bounded: the least recently used entry makes room (a miss asks the engine).
  LruTable<PaymentTarget> payments_{limits::kReplayCacheEntriesMax};
  LruTable<std::string> account_currency_{limits::kReplayCacheEntriesMax};
  std::unordered_map<std::string, std::string> merchant_currency_;  // one per merchant: small
};

// One record as a command, for a channel that gets one message at a time (paymentd). Without an
// event time the command runs at the engine clock. `settle` is not a command (kInvalidArgument).
Result<Command> CommandFromRecord(Engine& engine, const v1::Record& record, Channel channel);

// ---- results into answers -----------------------------------------------------------------------

// The one error shape of every channel (docs/api.md, "Errors"):
// {"error":{"type","code","number","message"[,"param"][,"decline_code","decline_reason",
//  "response_code"][,"rule"][,"retry_after_ms"][,"payment"]}}. `type` says what to do (ErrorType);
// `param` is the field the message names first, for input errors; the decline words come from
// the response code (DescribeResponseCode); `payment_json`, when given, is the payment a
// decline recorded.
std::string ErrorJson(const Error& error, std::string_view payment_json = {});
// invalid_request_error, authentication_error, permission_error, idempotency_error,
// rate_limit_error, card_error (declines and velocity refusals), ledger_error (refused by the
// state of the books), api_error (ours: transient or internal).
std::string_view ErrorType(ErrorCode code);
// A page of a list: {"object":"list","data":[<items>...],"has_more":bool[,"next_cursor":id]};
// next_cursor (given when has_more) is the `after` of the next page.
std::string ListJson(const std::vector<std::string>& items, bool has_more, std::string_view next_cursor);
// The sweeps' reports, as paymentctl --json and the admin routes give them:
// {"payments":N,"totals":[{"currency","net_minor","fee_minor"}...]} and
// {"expired":N,"advices_queued":bool}.
std::string SettleJson(const Engine::SettleReport& report);
std::string ResolveJson(size_t expired, size_t still_queued);
// Which payments a listing shows (paymentctl payment list, GET /v1/payments).
struct PaymentFilter {
  std::optional<PaymentKind> kind;
  std::optional<PaymentStatus> status;
  int64_t created_gte_ms = INT64_MIN;  // created at or after
  int64_t created_lt_ms = INT64_MAX;   // created before
  std::vector<std::pair<std::string, std::string>> metadata;  // every pair, exactly
  bool Matches(const PaymentView& p) const {
    if ((kind && p.kind != *kind) || (status && p.status != *status) || p.created_at_ms < created_gte_ms ||
        p.created_at_ms >= created_lt_ms) {
      return false;
    }
    for (const auto& want : metadata) {
      if (std::find(p.metadata.begin(), p.metadata.end(), want) == p.metadata.end()) return false;
    }
    return true;
  }
};
// A payment status by name ("authorized", ...), kInvalidArgument naming `field` otherwise.
Result<PaymentStatus> ParsePaymentStatus(std::string_view name, std::string_view field = "status");
// A time given as RFC 3339 or as unix seconds, in milliseconds.
Result<int64_t> ParseTimeMs(std::string_view text, std::string_view field);
// Payments in id order after `after_id` (of `merchant` when not empty) that match `filter`, at
// most `limit`. A filtered listing reads at most kFilterScanRowsMax payments per page: when it
// stops there, has_more is true and next_cursor continues the scan from where it stopped.
struct PaymentPage {
  std::vector<PaymentView> items;
  bool has_more = false;
  std::string next_cursor;
};
inline constexpr size_t kFilterScanRowsMax = 10'000;
Result<PaymentPage> ListPayments(Engine& engine, std::string_view merchant, std::string_view after_id,
                                 size_t limit, const PaymentFilter& filter);
// The page as a list envelope of payment JSON (ListJson).
std::string PaymentPageJson(const PaymentPage& page);
// {"account","lines":[{"entry","description","debit_minor","credit_minor","balance_minor",
// "available_minor"}...]}
std::string HistoryJson(const std::string& account, const std::vector<ledger::StatementLine>& lines);

}  // namespace pay::requests
